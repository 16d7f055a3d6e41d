"""Loading, overriding and validating run configurations (cityflux.config)."""

import datetime as dt
from pathlib import Path

import pytest
import yaml

from cityflux.config import (
    Auto,
    RunConfig,
    SolverMethod,
    TransportModel,
    load_config,
)
from cityflux.errors import ConfigError
from cityflux.transport.stability import DispersionScheme, StabilityMethod

REPO = Path(__file__).resolve().parents[1]
DEMO_CONFIG = REPO / "configs" / "demo-city.yaml"
DEMO_DATA = REPO / "data-samples" / "demo-city"


PATH_KEYS = {"regions", "city_boundary", "districts", "land", "grid_file", "file", "proxy",
             "profiles", "meteorology", "sites", "observations", "prior_flux", "truth_flux"}


def _absolute(node, base):
    """Every input path of a raw config made absolute (so the config can move)."""
    if isinstance(node, dict):
        return {k: (str((base / v).resolve()) if k in PATH_KEYS and isinstance(v, str)
                    else _absolute(v, base)) for k, v in node.items()}
    if isinstance(node, list):
        return [_absolute(v, base) for v in node]
    return node


def _raw_demo(tmp_path):
    """The demo config as a dict, with absolute input paths and output in tmp_path."""
    raw = _absolute(yaml.safe_load(DEMO_CONFIG.read_text()), DEMO_CONFIG.parent)
    raw["output"]["dir"] = str(tmp_path / "out")
    return raw


@pytest.fixture
def pinned(tmp_path):
    """A copy of the demo config with the domain and period pinned to known values."""
    raw = _raw_demo(tmp_path)
    raw["domain"]["x"] = {"start": -30000, "stop": 30000, "step": 1000}
    raw["domain"]["y"] = {"start": -30000, "stop": 30000, "step": 1000}
    raw["period"] = {"start": "2025-06-30T16:00:00", "end": "2025-07-07T16:00:00",
                     "flux_time_step_hours": 6}
    return _write(tmp_path, raw, "pinned.yaml")


def _write(tmp_path, raw, name="run.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _error(path, overrides=()):
    with pytest.raises(ConfigError) as info:
        load_config(path, list(overrides))
    return str(info.value)


# --------------------------------------------------------------------------- good configs


def test_bundled_config_loads():
    # the demo's values may be retuned: compare with the file itself, not with constants
    raw = yaml.safe_load(DEMO_CONFIG.read_text())
    config = load_config(DEMO_CONFIG)
    assert isinstance(config, RunConfig)
    assert config.name == raw["name"] == "demo-city"
    assert config.seed == raw["seed"]
    assert config.domain.crs == raw["domain"]["crs"]
    for axis in ("x", "y"):
        got = getattr(config.domain, axis)
        assert (got.start, got.stop, got.step) == tuple(
            float(raw["domain"][axis][k]) for k in ("start", "stop", "step"))
        assert isinstance(got.step, float)
    assert config.domain.utc_offset_hours == float(raw["domain"]["utc_offset_hours"])
    assert isinstance(config.period.start, dt.datetime)
    assert config.period.start == raw["period"]["start"]
    assert config.period.end == raw["period"]["end"]
    assert config.period.flux_time_step_hours == raw["period"]["flux_time_step_hours"]
    assert config.transport.model is TransportModel(raw["transport"]["model"])
    assert config.transport.dispersion is DispersionScheme(raw["transport"]["dispersion"])
    assert config.transport.stability is StabilityMethod(raw["transport"]["stability"])
    assert config.transport.hours_back == raw["transport"]["hours_back"]
    for i, block in enumerate(raw["state"]["gridded"]):
        got = config.state.gridded[i]
        assert got.name == block["name"] and got.sectors == tuple(block["sectors"])
        for key in ("relative_error", "floor_umol_m2_s", "correlation_length_km",
                    "correlation_time_hours"):
            assert getattr(got, key) == block[key]
            assert isinstance(getattr(got, key), float)
        assert got.error_scale is Auto.AUTO
    assert config.observations.model_data_mismatch_ppm is Auto.AUTO
    assert config.inventory.point_sources.file == (DEMO_DATA / "prior" /
                                                   "point_sources.csv").resolve()
    assert config.observations.local_hours == tuple(raw["observations"]["local_hours"])
    assert config.solver.method is SolverMethod(raw["solver"]["method"])
    assert config.output.plots is raw["output"]["plots"]
    # keys absent from the file take their defaults
    if "near_field_subcells" not in raw["transport"]:
        assert config.transport.near_field_subcells == 6
    assert config.source_path == DEMO_CONFIG.resolve()
    assert config.source_text == DEMO_CONFIG.read_text(encoding="utf-8")


def test_paths_resolved_relative_to_config_file(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # the working directory must not matter
    config = load_config(DEMO_CONFIG)
    assert config.domain.regions == (DEMO_DATA / "city.geojson").resolve()
    assert config.inventory.line_sources[0].file == (DEMO_DATA / "prior" / "roads.geojson").resolve()
    assert config.inputs.observations == (DEMO_DATA / "observations.csv").resolve()
    assert config.truth.area_sources[0].proxy == (DEMO_DATA / "truth" / "population.nc").resolve()
    assert config.output.dir == (REPO / "output" / "demo-city").resolve()
    assert config.domain.regions.is_absolute()


def test_paths_follow_a_copied_config(tmp_path):
    import shutil

    shutil.copytree(DEMO_DATA, tmp_path / "data-samples" / "demo-city")
    (tmp_path / "configs").mkdir()
    copy = tmp_path / "configs" / "demo-city.yaml"
    shutil.copy(DEMO_CONFIG, copy)
    config = load_config(copy)
    assert config.inputs.sites == (tmp_path / "data-samples" / "demo-city" / "sites.csv")
    assert config.output.dir == tmp_path / "output" / "demo-city"


def test_relative_config_path(monkeypatch, tmp_path):
    (tmp_path / "cfg").mkdir()
    raw = _raw_demo(tmp_path)
    raw["output"]["dir"] = "../results"
    _write(tmp_path / "cfg", raw)
    monkeypatch.chdir(tmp_path / "cfg")
    config = load_config("run.yaml")
    assert config.output.dir == tmp_path / "results"
    assert config.source_path == tmp_path / "cfg" / "run.yaml"


def test_overrides_apply_and_are_recorded(tmp_path):
    overrides = ["transport.hours_back=12", "observations.local_hours=[10, 11]",
                 f"output.dir={tmp_path / 'o'}", "observations.background_site=BKG",
                 "state.point_sources.relative_error=0.8", "output.plots=false"]
    config = load_config(DEMO_CONFIG, overrides)
    assert config.transport.hours_back == 12
    assert config.observations.local_hours == (10, 11)
    assert config.output.dir == tmp_path / "o"
    assert config.observations.background_site == "BKG"
    assert config.state.point_sources.relative_error == 0.8
    assert config.output.plots is False
    original = DEMO_CONFIG.read_text(encoding="utf-8")
    assert config.source_text.startswith(original)
    tail = config.source_text[len(original):]
    assert tail == "\n# --set overrides:\n" + "".join(f"#   {o}\n" for o in overrides)
    # the override text is still valid YAML and means the same as the file
    assert yaml.safe_load(config.source_text) == yaml.safe_load(original)


def test_override_relative_path_is_relative_to_config():
    config = load_config(DEMO_CONFIG, ["output.dir=elsewhere/out"])
    assert config.output.dir == (DEMO_CONFIG.parent / "elsewhere" / "out").resolve()


def test_override_creates_missing_section(tmp_path):
    raw = _raw_demo(tmp_path)
    del raw["transport"], raw["solver"]
    path = _write(tmp_path, raw)
    config = load_config(path, ["transport.hours_back=48"])
    assert config.transport.hours_back == 48
    assert config.transport.dispersion is DispersionScheme.BRIGGS_URBAN
    assert config.solver.method is SolverMethod.ANALYTICAL


def test_minimal_config_gets_defaults(tmp_path):
    raw = _raw_demo(tmp_path)
    minimal = {"name": "m", "domain": raw["domain"], "period": {
        "start": "2025-07-01T00:00", "end": "2025-07-02T00:00"},
        "inputs": {k: raw["inputs"][k] for k in ("meteorology", "sites", "observations")},
        "inventory": {"point_sources": raw["inventory"]["point_sources"]},
        "output": {"dir": "out"}}
    config = load_config(_write(tmp_path, minimal))
    assert config.seed == 0
    assert config.domain.utc_offset_hours == raw["domain"]["utc_offset_hours"]
    assert config.period.flux_time_step_hours == 6
    assert config.inputs.truth_flux is None
    assert config.transport.hours_back == 24 and config.transport.source_height_m == 10.0
    assert config.state.gridded == () and config.state.offsets == ()
    assert config.state.point_sources.relative_error == 0.3
    assert config.observations.model_data_mismatch_ppm == 2.0
    assert config.missing_sources.search is True and config.missing_sources.detect is False
    assert config.observations.local_hours == (12, 13, 14, 15, 16)
    assert config.observations.error_correlation_hours == 0.0
    assert config.output.dir == tmp_path / "out"
    assert config.output.footprints is True


def test_timezone_aware_times_become_utc(pinned):
    config = load_config(pinned, ["period.start=2025-07-01T00:00:00+08:00",
                                       "period.end='2025-07-08T00:00+08:00'"])
    assert config.period.start == dt.datetime(2025, 6, 30, 16)
    assert config.period.end == dt.datetime(2025, 7, 7, 16)
    assert config.period.start.tzinfo is None


def test_config_is_frozen():
    config = load_config(DEMO_CONFIG)
    with pytest.raises(AttributeError):
        config.transport.hours_back = 3


# --------------------------------------------------------------------------- bad configs


def test_misspelt_key_override():
    message = _error(DEMO_CONFIG, ["transport.hours_bak=12"])
    assert "unknown key 'transport.hours_bak'" in message
    assert "did you mean 'transport.hours_back'?" in message
    assert "allowed here: model, plume_form, dispersion, stability" in message
    assert message.startswith(str(DEMO_CONFIG))


def test_misspelt_key_in_file(tmp_path):
    raw = _raw_demo(tmp_path)
    block = raw["state"]["gridded"][0]
    block["corelation_length_km"] = block.pop("correlation_length_km")
    path = _write(tmp_path, raw)
    message = _error(path)
    assert message.startswith(f"{path}: unknown key 'state.gridded[0].corelation_length_km'")
    assert "did you mean 'state.gridded[0].correlation_length_km'?" in message


def test_misspelt_section(tmp_path):
    raw = _raw_demo(tmp_path)
    raw["obsevations"] = raw.pop("observations")
    message = _error(_write(tmp_path, raw))
    assert "unknown key 'obsevations'; did you mean 'observations'?" in message


def test_unknown_top_level_section(tmp_path):
    raw = _raw_demo(tmp_path)
    raw["plotting"] = {"dpi": 300}
    message = _error(_write(tmp_path, raw))
    assert "unknown key 'plotting'" in message
    assert "did you mean" not in message
    assert ("allowed here: name, seed, domain, period, inputs, inventory, truth, transport, "
            "state, observations, solver, missing_sources, output") in message


@pytest.mark.parametrize("override, expected", [
    ("state.point_sources.relative_error=high",
     "'state.point_sources.relative_error' must be a number, got 'high'"),
    ("observations.model_data_mismatch_ppm=automatic",
     "'observations.model_data_mismatch_ppm' must be a number (between 0.0 and 100.0) or "
     "'auto', got 'automatic'"),
    ("transport.hours_back=12.5", "'transport.hours_back' must be an integer, got 12.5"),
    ("transport.hours_back='12'", "'transport.hours_back' must be an integer, got '12'"),
    ("seed=true", "'seed' must be an integer, got True"),
    ("output.plots=1", "'output.plots' must be true or false, got 1"),
    ("name=''", "'name' must be a non-empty text, got ''"),
    ("name=42", "'name' must be a non-empty text, got 42"),
    ("inputs.sites=7", "'inputs.sites' must be a path, got 7"),
    ("transport=5", "transport must be a section of keys, got 5"),
    ("observations.local_hours=12", "'observations.local_hours' must be a list, got 12"),
    ("observations.local_hours=[12, noon]",
     "'observations.local_hours[1]' must be an integer, got 'noon'"),
    ("period.start=yesterday", "'period.start' = 'yesterday' is not an ISO 8601 date"),
    ("period.start=5", "'period.start' must be a date and time, got 5"),
    ("missing_sources.release_height_m=.nan",
     "'missing_sources.release_height_m' must be a number, got NaN"),
])
def test_wrong_types(override, expected):
    message = _error(DEMO_CONFIG, [override])
    assert expected in message
    assert message.startswith(f"{DEMO_CONFIG}: ")


@pytest.mark.parametrize("override, expected", [
    ("state.point_sources.relative_error=-0.5",
     "'state.point_sources.relative_error' = -0.5 is out of range; expected between 0.0 and "
     "10.0"),
    ("state.point_sources.floor_kg_s=1e300",
     "'state.point_sources.floor_kg_s' = 1e+300 is out of range; expected between 1e-06 and "
     "100000.0"),
    ("transport.hours_back=0", "'transport.hours_back' = 0 is out of range; expected between "
                               "1 and 240"),
    ("domain.utc_offset_hours=15", "'domain.utc_offset_hours' = 15.0 is out of range; "
                                   "expected between -12.0 and 14.0"),
    ("observations.measurement_error_ppm=-1",
     "'observations.measurement_error_ppm' = -1.0 is out of range; expected > 0.0"),
    ("seed=-3", "'seed' = -3 is out of range; expected between 0 and"),
    ("domain.x.step=-1000", "'domain.x.step' = -1000.0 is out of range; expected > 0.0"),
])
def test_out_of_range(override, expected):
    assert expected in _error(DEMO_CONFIG, [override])


@pytest.mark.parametrize("override, expected", [
    ("transport.dispersion=briggs_urbn",
     "'transport.dispersion' = 'briggs_urbn' is not allowed; expected one of "
     "'pasquill_gifford', 'briggs_urban'; did you mean 'briggs_urban'?"),
    ("transport.stability=obukov_length", "did you mean 'obukhov_length'?"),
    ("solver.method=analytic", "expected one of 'analytical'; did you mean 'analytical'?"),
])
def test_bad_enum_values(override, expected):
    assert expected in _error(DEMO_CONFIG, [override])


def test_bad_enum_without_close_match():
    message = _error(DEMO_CONFIG, ["transport.model=lagrangian"])
    assert "'transport.model' = 'lagrangian' is not allowed; expected one of " \
           "'gaussian_plume'" in message
    assert "did you mean" not in message


@pytest.mark.parametrize("path_to_delete, expected", [
    (("name",), "missing required key 'name' (short name of the run, used in titles)"),
    (("domain", "x", "step"), "missing required key 'domain.x.step' (cell size"),
    (("inputs", "sites"), "missing required key 'inputs.sites'"),
    (("output",), "missing required key 'output'"),
    (("period", "end"), "missing required key 'period.end'"),
    (("domain", "utc_offset_hours"), "missing required key 'domain.utc_offset_hours' (local "
                                     "time minus UTC"),
])
def test_missing_required_key(tmp_path, path_to_delete, expected):
    raw = _raw_demo(tmp_path)
    node = raw
    for key in path_to_delete[:-1]:
        node = node[key]
    del node[path_to_delete[-1]]
    assert expected in _error(_write(tmp_path, raw))


def test_missing_input_file():
    message = _error(DEMO_CONFIG, ["inputs.meteorology=no_such_met.nc"])
    missing = (DEMO_CONFIG.parent / "no_such_met.nc").resolve()
    assert f"'inputs.meteorology': file {missing} not found" in message


def test_missing_optional_input_file():
    message = _error(DEMO_CONFIG, ["inputs.truth_flux=truth_missing.nc"])
    assert "'inputs.truth_flux': file" in message and "truth_missing.nc" in message
    # null disables it
    assert load_config(DEMO_CONFIG, ["inputs.truth_flux=null"]).inputs.truth_flux is None


def test_missing_regions_file():
    assert "'domain.regions': file" in _error(DEMO_CONFIG, ["domain.regions=nowhere.geojson"])


def test_period_end_before_start(pinned):
    message = _error(pinned, ["period.end=2025-06-30T10:00:00"])
    assert ("'period.end' (2025-06-30 10:00:00) must be after 'period.start' "
            "(2025-06-30 16:00:00)") in message
    assert "must be after" in _error(pinned, ["period.end=2025-06-30T16:00:00"])


def test_flux_step_must_divide_period(pinned):
    message = _error(pinned, ["period.flux_time_step_hours=5"])
    assert ("'period.flux_time_step_hours' (5) must divide the period (168 hours) into whole "
            "steps") in message
    message = _error(pinned, ["period.end=2025-07-07T16:30:00"])
    assert "must divide the period (168.5 hours)" in message
    load_config(pinned, ["period.flux_time_step_hours=24"])


def test_axis_step_must_divide_extent(pinned):
    message = _error(pinned, ["domain.x.step=7000"])
    assert ("'domain.x.step' (7000.0) must divide stop - start (60000.0) into whole cells"
            in message)
    assert "'domain.y.step' (700.0)" in _error(pinned, ["domain.y.step=700"])
    load_config(pinned, ["domain.x.step=1500"])


def test_axis_stop_after_start(pinned):
    message = _error(pinned, ["domain.y.stop=-40000"])
    assert "'domain.y.stop' (-40000.0) must be greater than 'domain.y.start' (-30000.0)" in message


def test_zero_axis_step_is_a_config_error():
    message = _error(DEMO_CONFIG, ["domain.x.step=0"])
    assert "domain.x.step" in message


@pytest.mark.parametrize("override, expected", [
    ("transport.hours_back", "--set 'transport.hours_back': expected dotted.key=value"),
    ("name=[unclosed", "--set name: value '[unclosed' is not valid YAML"),
    ("name.first=x", "--set name.first: name is a value, not a section"),
    ("domain.x.step.size=3", "--set domain.x.step.size: domain.x.step is a value, not a "
                             "section"),
])
def test_bad_set_syntax(override, expected):
    assert expected in _error(DEMO_CONFIG, [override])


def test_invalid_yaml(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\ndomain: {x: [1, 2\nperiod: 3\n")
    message = _error(path)
    assert message.startswith(f"{path}: not valid YAML")


@pytest.mark.parametrize("text", ["- a\n- b\n", "just text\n", ""])
def test_top_level_not_a_mapping(tmp_path, text):
    path = tmp_path / "list.yaml"
    path.write_text(text)
    assert "expected a mapping of keys at the top level" in _error(path)


def test_config_file_not_found(tmp_path):
    assert _error(tmp_path / "nope.yaml") == f"config file {tmp_path / 'nope.yaml'} not found"


@pytest.mark.parametrize("hours, index, value", [("[12, 24]", 1, 24), ("[-1, 12]", 0, -1),
                                                 ("[12, 13, 99]", 2, 99)])
def test_local_hours_out_of_range(hours, index, value):
    message = _error(DEMO_CONFIG, [f"observations.local_hours={hours}"])
    assert (f"'observations.local_hours[{index}]' = {value} is out of range; expected between "
            "0 and 23") in message


def test_local_hours_boundaries_accepted():
    config = load_config(DEMO_CONFIG, ["observations.local_hours=[0, 23]"])
    assert config.observations.local_hours == (0, 23)


def test_override_indexes_a_list_of_sections():
    config = load_config(DEMO_CONFIG, ["state.gridded[1].correlation_length_km=25",
                                       "state.gridded[0].error_scale=1.5"])
    assert config.state.gridded[1].correlation_length_km == 25.0
    assert config.state.gridded[0].error_scale == 1.5
    assert config.state.gridded[0].correlation_length_km == 5.0   # the rest untouched
    message = _error(DEMO_CONFIG, ["state.gridded[7].floor_umol_m2_s=1"])
    assert "state.gridded[7] does not exist (the config lists 2 item(s) under 'gridded')" \
        in message


def test_exponent_numbers_without_a_dot_are_numbers():
    """YAML 1.1 reads 1e-3 as text; a float key takes it as the number it means."""
    config = load_config(DEMO_CONFIG, ["state.point_sources.floor_kg_s=1e-3"])
    assert config.state.point_sources.floor_kg_s == 1e-3
