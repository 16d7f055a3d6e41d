"""The command line: one clear error line and an exit code for every user error."""

import dataclasses
import os
import shutil
import subprocess
import sys
import typing
from pathlib import Path

import pytest
import xarray as xr

from cityflux.cli import build_parser, main
from cityflux.config import RunConfig, config_reference
from cityflux.errors import CityfluxError, ConfigError, InputError

REPO = Path(__file__).resolve().parents[1]
DEMO_CONFIG = REPO / "configs" / "demo-city.yaml"
DEMO_DATA = REPO / "data-samples" / "demo-city"
PREFIX = "cityflux: error: "


@pytest.fixture
def demo_copy(tmp_path):
    """A private copy of the demo config and data: (config path, data folder)."""
    root = tmp_path / "case"
    data = root / "data-samples" / "demo-city"
    shutil.copytree(DEMO_DATA, data)
    (root / "configs").mkdir()
    config = root / "configs" / "demo-city.yaml"
    shutil.copy(DEMO_CONFIG, config)
    return config, data


def _cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- corruptions


def _edit_lines(path, edit):
    text = path.read_text()
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    edit(lines, header)
    path.write_text("\n".join(lines) + "\n")


def obs_unknown_site(data):
    def edit(lines, header):
        first = lines[header + 1].split(",")
        lines.append(",".join([first[0], "XXX", "420.0"]))
    _edit_lines(data / "observations.csv", edit)


def obs_not_a_number(data):
    def edit(lines, header):
        fields = lines[header + 1].split(",")
        fields[-1] = "four-twenty"
        lines[header + 1] = ",".join(fields)
    _edit_lines(data / "observations.csv", edit)


def obs_missing_column(data):
    def edit(lines, header):
        lines[header] = lines[header].replace("co2_ppm", "co2")
    _edit_lines(data / "observations.csv", edit)


def obs_ragged_row(data):
    def edit(lines, header):
        lines[header + 2] += ",extra"
    _edit_lines(data / "observations.csv", edit)


def sites_bad_role(data):
    def edit(lines, header):
        for i, line in enumerate(lines):
            if line.endswith(",background"):
                lines[i] = line[: -len("background")] + "upwind"
    _edit_lines(data / "sites.csv", edit)


def _rewrite_netcdf(path, change):
    ds = xr.load_dataset(path)
    change(ds)
    path.unlink()
    ds.to_netcdf(path)


def met_wrong_units(data):
    def change(ds):
        name = next(n for n, v in ds.data_vars.items()
                    if v.attrs.get("standard_name") == "atmosphere_boundary_layer_thickness")
        ds[name].attrs["units"] = "m s-1"  # a speed: 'km' would be converted
    _rewrite_netcdf(data / "meteorology.nc", change)


def met_not_netcdf(data):
    (data / "meteorology.nc").write_text("this is not a NetCDF file\n")


def regions_no_city(data):
    path = data / "city.geojson"
    path.write_text(path.read_text().replace('"type": "city"', '"type": "town"'))


def config_random_bytes(data):
    (data.parent.parent / "configs" / "demo-city.yaml").write_bytes(bytes(range(256)))


def biosphere_bad_units(data):
    def change(ds):
        ds["nee"].attrs["units"] = "ppm"
    _rewrite_netcdf(data / "prior" / "biosphere.nc", change)


def biosphere_irregular_grid(data):
    def change(ds):
        lon = ds.lon.values.copy()
        lon[3] += 0.004
        ds.coords["lon"] = lon
    _rewrite_netcdf(data / "prior" / "biosphere.nc", change)


def _edit_csv_cell(path, column, row, value):
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    fields = lines[row].split(",")
    fields[header.index(column)] = value
    lines[row] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")


def points_knots(data):
    _edit_csv_cell(data / "prior" / "point_sources.csv", "emission_units", 1, "kt h")


def points_negative_stack(data):
    _edit_csv_cell(data / "prior" / "point_sources.csv", "stack_height_m", 2, "-20")


def points_outside_domain(data):
    _edit_csv_cell(data / "prior" / "point_sources.csv", "lon", 1, "118.5")


def points_duplicate_name(data):
    _edit_csv_cell(data / "prior" / "point_sources.csv", "name", 2, "plant_east")


def roads_random_bytes(data):
    (data / "prior" / "roads.geojson").write_bytes(bytes(range(256)) * 4)


def areas_no_sector(data):
    path = data / "prior" / "areas.geojson"
    path.write_text(path.read_text().replace('"sector": "residential"', '"sektor": "residential"', 1))


INPUT_CASES = {
    "obs_unknown_site": (obs_unknown_site, "observations.csv: site(s) ['XXX'] are not in the "
                                           "sites file"),
    "obs_not_a_number": (obs_not_a_number, "co2_ppm 'four-twenty' is not a number"),
    "obs_missing_column": (obs_missing_column, "observations.csv: missing column(s) "
                                               "['co2_ppm']; expected ['time', 'site', "
                                               "'co2_ppm']"),
    "obs_ragged_row": (obs_ragged_row, "observations.csv: cannot read CSV"),
    "sites_bad_role": (sites_bad_role, "has role 'upwind'; expected one of ('tower', "
                                       "'background', 'other')"),
    "met_wrong_units": (met_wrong_units, "meteorology.nc: blh has units 'm s-1'; expected 'm'"),
    "met_not_netcdf": (met_not_netcdf, "meteorology.nc: cannot open as NetCDF"),
    "biosphere_bad_units": (biosphere_bad_units, "biosphere.nc: nee: units 'ppm'"),
    "biosphere_irregular_grid": (biosphere_irregular_grid, "biosphere.nc: nee: coordinate lon "
                                                           "is not regularly spaced"),
    "points_knots": (points_knots, "point_sources.csv: line 2, column emission_units"),
    "points_negative_stack": (points_negative_stack, "point_sources.csv: line 3, column "
                                                     "stack_height_m: -20 is out of range"),
    "points_outside_domain": (points_outside_domain, "point_sources.csv: line 2, columns "
                                                     "lon/lat: source 'plant_east'"),
    "points_duplicate_name": (points_duplicate_name, "point_sources.csv: line 3, column name: "
                                                     "'plant_east' is already used on line 2"),
    "roads_random_bytes": (roads_random_bytes, "roads.geojson: cannot read GeoJSON"),
    "areas_no_sector": (areas_no_sector, "areas.geojson: feature 0"),
    "regions_no_city": (regions_no_city, "has type 'town'; expected 'city' or 'district'"),
}

CONFIG_CASES = {
    "misspelt_key": (["transport.hours_bak=12"],
                     "unknown key 'transport.hours_bak'; did you mean 'transport.hours_back'?"),
    "unknown_section": (["plotting.dpi=300"], "unknown key 'plotting'"),
    "wrong_type": (["transport.hours_back=abc"],
                   "'transport.hours_back' must be an integer, got 'abc'"),
    "out_of_range": (["state.point_sources.relative_error=-0.5"],
                     "'state.point_sources.relative_error' = -0.5 is out of range; expected "
                     "between 0.0 and 10.0"),
    "huge_floor": (["state.point_sources.floor_kg_s=1e300"],
                   "'state.point_sources.floor_kg_s' = 1e+300 is out of range"),
    "step_larger_than_domain": (["domain.x.step=90000"],
                                "'domain.x.step' (90000.0) is larger than the domain (60000.0)"),
    "utc_offset_missing": (["domain.utc_offset_hours=null"],
                           "'domain.utc_offset_hours' must be a number, got None"),
    "block_step": (["state.point_sources.flux_time_step_hours=4"],
                   "'state.point_sources.flux_time_step_hours' (4) must be a multiple of"),
    "bad_enum": (["transport.dispersion=briggs_urbn"], "did you mean 'briggs_urban'?"),
    "missing_file": (["inputs.sites=no_such_sites.csv"],
                     f"'inputs.sites': file {DEMO_CONFIG.parent / 'no_such_sites.csv'} not "
                     "found"),
    "period_order": (["period.end=2020-01-01T00:00:00"], "'period.end' (2020-01-01 00:00:00) "
                                                         "must be after 'period.start'"),
    "flux_step": (["period.flux_time_step_hours=5"],
                  "'period.flux_time_step_hours' (5) must divide the period"),
    "axis_step": (["domain.x.step=7777"], "'domain.x.step' (7777.0) must divide stop - start"),
    "set_syntax": (["transport.hours_back"],
                   "--set 'transport.hours_back': expected dotted.key=value"),
    "set_yaml": (["name={oops"], "--set name: value '{oops' is not valid YAML"),
    "local_hours": (["observations.local_hours=[12, 24]"],
                    "'observations.local_hours[1]' = 24 is out of range; expected between 0 "
                    "and 23"),
    "bad_crs": (["domain.crs=EPSG:999999"], "domain.crs 'EPSG:999999' is not a valid CRS"),
}


def _config_case_argv(name, tmp_path):
    overrides, _ = CONFIG_CASES[name]
    argv = [DEMO_CONFIG, "--set", f"output.dir={tmp_path / 'out'}"]
    for item in overrides:
        argv += ["--set", item]
    return argv


def _invalid_yaml(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\ndomain: {x: [1, 2\nperiod: 3\n")
    return path


def _check_error_output(code, out, err, expected_code, fragment):
    assert code == expected_code
    assert out == ""
    assert err.startswith(PREFIX)
    assert fragment in err
    assert "Traceback" not in err


@pytest.mark.parametrize("name", sorted(CONFIG_CASES))
@pytest.mark.parametrize("command", ["validate", "run"])
def test_config_errors(capsys, tmp_path, name, command):
    code, out, err = _cli(capsys, command, *_config_case_argv(name, tmp_path))
    _check_error_output(code, out, err, 2, CONFIG_CASES[name][1])
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_background_site_not_in_sites_file(capsys, tmp_path):
    # a config value that contradicts an input file is reported as an input error
    code, out, err = _cli(capsys, "validate", DEMO_CONFIG,
                          "--set", "observations.background_site=NOPE")
    _check_error_output(code, out, err, 3, "sites.csv: observations.background_site 'NOPE' is "
                                           "not in the sites file (sites: ")
    assert len(err.splitlines()) == 1


def test_config_file_missing(capsys, tmp_path):
    code, out, err = _cli(capsys, "validate", tmp_path / "nope.yaml")
    _check_error_output(code, out, err, 2, f"config file {tmp_path / 'nope.yaml'} not found")
    assert len(err.splitlines()) == 1


def test_invalid_yaml_exit_code(capsys, tmp_path):
    code, out, err = _cli(capsys, "validate", _invalid_yaml(tmp_path))
    _check_error_output(code, out, err, 2, "broken.yaml: not valid YAML")


def test_invalid_yaml_is_one_line(capsys, tmp_path):
    code, out, err = _cli(capsys, "validate", _invalid_yaml(tmp_path))
    assert code == 2
    assert len(err.splitlines()) == 1


def test_zero_step_is_a_config_error(capsys, tmp_path):
    code, out, err = _cli(capsys, "validate", DEMO_CONFIG, "--set", "domain.x.step=0")
    _check_error_output(code, out, err, 2, "domain.x.step")


@pytest.mark.parametrize("name", sorted(INPUT_CASES))
def test_input_errors(capsys, demo_copy, name):
    config, data = demo_copy
    corrupt, fragment = INPUT_CASES[name]
    corrupt(data)
    code, out, err = _cli(capsys, "validate", config)
    _check_error_output(code, out, err, 3, fragment)
    assert str(data) in err  # names the file at fault


@pytest.mark.parametrize("name", [
    n for n in sorted(INPUT_CASES)])
def test_input_errors_are_one_line(capsys, demo_copy, name):
    config, data = demo_copy
    INPUT_CASES[name][0](data)
    code, _, err = _cli(capsys, "validate", config)
    assert code == 3
    assert len(err.splitlines()) == 1


def test_config_of_random_bytes_is_one_line(capsys, demo_copy):
    config, data = demo_copy
    config_random_bytes(data)
    code, out, err = _cli(capsys, "validate", config)
    _check_error_output(code, out, err, 2, "not a UTF-8 text file")
    assert len(err.splitlines()) == 1


def test_background_site_must_have_the_background_role(capsys):
    code, out, err = _cli(capsys, "validate", DEMO_CONFIG,
                          "--set", "observations.background_site=CTR")
    _check_error_output(code, out, err, 3, "observations.background_site 'CTR' has role "
                                           "'tower'; it must be a site of role 'background'")


def test_input_error_messages_from_the_readers(demo_copy):
    """The same corruptions raise InputError from load_inputs (not only through the CLI)."""
    from cityflux.config import load_config
    from cityflux.pipeline import load_inputs

    config, data = demo_copy
    met_wrong_units(data)
    with pytest.raises(InputError, match="blh has units 'm s-1'; expected 'm'"):
        load_inputs(load_config(config))


def test_unchanged_copy_validates(capsys, demo_copy):
    config, _ = demo_copy
    code, out, err = _cli(capsys, "validate", config)
    assert code == 0, err
    assert "OK" in out


# --------------------------------------------------------------------------- outputs untouched


@pytest.fixture
def existing_output(tmp_path):
    out = tmp_path / "existing-output"
    out.mkdir()
    (out / "sentinel.txt").write_text("results of an earlier run\n")
    return out


def _assert_untouched(out):
    assert sorted(p.name for p in out.iterdir()) == ["sentinel.txt"]
    assert (out / "sentinel.txt").read_text() == "results of an earlier run\n"
    leftovers = [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")]
    assert leftovers == []


def test_run_with_bad_config_leaves_output_untouched(capsys, existing_output):
    code, out, err = _cli(capsys, "run", DEMO_CONFIG, "--no-progress",
                          "--set", f"output.dir={existing_output}",
                          "--set", "transport.dispersion=briggs_urbn")
    _check_error_output(code, out, err, 2, "did you mean 'briggs_urban'?")
    _assert_untouched(existing_output)


def test_run_with_bad_input_leaves_output_untouched(capsys, demo_copy, existing_output):
    config, data = demo_copy
    obs_not_a_number(data)
    code, out, err = _cli(capsys, "run", config, "--no-progress",
                          "--set", f"output.dir={existing_output}")
    _check_error_output(code, out, err, 3, "is not a number")
    _assert_untouched(existing_output)


# --------------------------------------------------------------------------- --debug


def test_debug_reraises_config_error(capsys):
    with pytest.raises(ConfigError, match="did you mean 'transport.hours_back'"):
        main(["--debug", "validate", str(DEMO_CONFIG), "--set", "transport.hours_bak=1"])


def test_debug_also_accepted_after_the_command(capsys):
    with pytest.raises(ConfigError, match="did you mean 'transport.hours_back'"):
        main(["validate", str(DEMO_CONFIG), "--set", "transport.hours_bak=1", "--debug"])
    # and without it, after or before, the error stays one line
    assert main(["-v", "validate", str(DEMO_CONFIG), "--set", "transport.hours_bak=1"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_debug_reraises_input_error(demo_copy):
    config, data = demo_copy
    sites_bad_role(data)
    with pytest.raises(InputError, match="upwind"):
        main(["--debug", "validate", str(config)])


def test_exit_codes_of_error_classes():
    assert CityfluxError.exit_code == 1
    assert ConfigError.exit_code == 2 and issubclass(ConfigError, CityfluxError)
    assert InputError.exit_code == 3 and issubclass(InputError, CityfluxError)


# --------------------------------------------------------------------------- subprocess


def test_real_subprocess_reports_one_line(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO / "src")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    proc = subprocess.run(
        [sys.executable, "-m", "cityflux.cli", "validate", str(DEMO_CONFIG),
         "--set", "transport.hours_bak=12"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(PREFIX)
    assert "did you mean 'transport.hours_back'?" in lines[0]
    assert "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- good paths


def test_validate_bundled_config(capsys, tmp_path):
    out_dir = tmp_path / "never-written"
    code, out, err = _cli(capsys, "validate", DEMO_CONFIG, "--set", f"output.dir={out_dir}")
    assert code == 0, err
    assert "OK" in out
    assert out.startswith(f"{DEMO_CONFIG}: OK")
    assert "regions: domain, city" in out
    assert err == ""
    assert not out_dir.exists()


def _dotted_keys(cls, prefix=""):
    """Every config key, walked from the dataclasses independently of config_reference."""
    hints = typing.get_type_hints(cls)
    keys = []
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal"):
            continue
        hint = hints[f.name]
        inner = [a for a in typing.get_args(hint) if a not in (type(None), Ellipsis)]
        if dataclasses.is_dataclass(hint):
            keys += _dotted_keys(hint, f"{prefix}{f.name}.")
        elif len(inner) == 1 and dataclasses.is_dataclass(inner[0]):
            suffix = "[]." if typing.get_origin(hint) is tuple else "."
            keys += _dotted_keys(inner[0], f"{prefix}{f.name}{suffix}")
        else:
            keys.append(prefix + f.name)
    return keys


def test_config_doc_lists_every_key(capsys):
    code, out, err = _cli(capsys, "config-doc")
    assert code == 0 and err == ""
    keys = _dotted_keys(RunConfig)
    assert len(keys) > 35
    for key in ("transport.hours_back", "domain.x.step", "observations.local_hours",
                "inputs.truth_flux", "output.dir", "name", "state.gridded[].error_scale",
                "inventory.point_sources.file", "missing_sources.detect"):
        assert key in keys
    missing = [k for k in keys if f"`{k}`" not in out]
    assert missing == []
    assert "source_path" not in out and "source_text" not in out
    assert out == config_reference()
    assert out.startswith("# Configuration reference")


def test_docs_configuration_md_is_current():
    path = REPO / "docs" / "configuration.md"
    if not path.exists():
        pytest.skip("docs/configuration.md not generated yet")
    assert path.read_text(encoding="utf-8") == config_reference()


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["validate", "--help"]])
def test_help(capsys, argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "--set" in out
    assert out.startswith("usage: cityflux")


def test_no_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert "usage: cityflux" in capsys.readouterr().err


def test_parser_set_accumulates():
    args = build_parser().parse_args(["run", "c.yaml", "--set", "a=1", "--set", "b.c=2"])
    assert args.overrides == ["a=1", "b.c=2"] and args.command == "run"
    assert build_parser().parse_args(["validate", "c.yaml"]).overrides == []


def test_output_dir_that_is_not_a_cityflux_output_is_refused(capsys, tmp_path):
    """A run replaces output.dir whole; a folder of other files (data, configs) must not be
    wiped, whatever the config says."""
    precious = tmp_path / "data"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work\n")
    for command in ("validate", "run"):
        code, out, err = _cli(capsys, command, DEMO_CONFIG, "--set", f"output.dir={precious}")
        _check_error_output(code, out, err, 2, "is not an earlier cityflux output")
    assert (precious / "thesis.tex").read_text() == "years of work\n"
    afile = tmp_path / "a-file"
    afile.write_text("x")
    code, out, err = _cli(capsys, "validate", DEMO_CONFIG, "--set", f"output.dir={afile}")
    _check_error_output(code, out, err, 2, "is a file; expected a folder")


def test_prior_out_must_be_a_file(capsys, tmp_path):
    code, out, err = _cli(capsys, "prior", DEMO_CONFIG, "--out", tmp_path)
    _check_error_output(code, out, err, 2, "is a folder; give the path of the NetCDF file")


def test_validate_checks_the_state_section(capsys):
    code, out, err = _cli(capsys, "validate", DEMO_CONFIG,
                          "--set", "state.gridded[0].sectors=[residential, roads]")
    _check_error_output(code, out, err, 2, "sector 'roads' is not in the prior")
    code, out, err = _cli(capsys, "validate", DEMO_CONFIG, "--set", "state.gridded=[]")
    assert code == 0 and "state blocks: flux (100,800), point_sources (3)" in out
