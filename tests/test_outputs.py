"""The run's output files: CF compliance, units, required content, atomic replacement, CLI.

Most tests read the session's demo run (``demo_run`` in conftest.py). The atomic-replacement
and CLI tests run the demo again, with plots and footprints switched off to stay quick.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import xarray as xr

REPO = Path(__file__).resolve().parents[1]
DEMO_CONFIG = REPO / "configs" / "demo-city.yaml"
DEMO_OBSERVATIONS = REPO / "data-samples" / "demo-city" / "observations.csv"
NETCDF_FILES = ("posterior.nc", "observations.nc", "footprints.nc")
CF_CHECKER = "cf:1.8"

# Loading every compliance-checker plugin warns that its ioos_sos checker is deprecated.
pytestmark = pytest.mark.filterwarnings(
    "ignore:The ioos_sos checker is deprecated:DeprecationWarning")

# Overrides that keep the extra runs quick and every file they write under tmp_path.
QUICK = ["output.plots=false", "output.footprints=false", "output.cache_dir=null"]


# --------------------------------------------------------------------------------------
# CF-1.8 compliance (compliance-checker), offline
# --------------------------------------------------------------------------------------

@pytest.fixture
def offline_checker(monkeypatch, tmp_path):
    """compliance-checker with every route to the network closed.

    The checker only downloads a standard-name table when a file's
    ``standard_name_vocabulary`` names a version other than the one it bundles; that download
    is made to fail (the checker then falls back to its bundled table) and its cache folder is
    moved under tmp_path. Any other socket connection raises.
    """
    from compliance_checker.cf import util as cf_util
    from compliance_checker.runner import CheckSuite

    def no_download(version, location=None):
        raise OSError(f"offline test: not downloading CF standard name table v{version}")

    def no_connect(self, *args, **kwargs):
        raise OSError("offline test: network access attempted by compliance-checker")

    monkeypatch.setattr(cf_util, "download_cf_standard_name_table", no_download)
    monkeypatch.setattr(cf_util, "create_cached_data_dir", lambda: str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.setattr(socket.socket, "connect", no_connect)
    CheckSuite.load_all_available_checkers()
    return CheckSuite()


def cf_check(suite, path: Path) -> dict:
    """Run the CF-1.8 checker on ``path``: failures by priority and checks that crashed."""
    ds = suite.load_dataset(str(path))
    try:
        results = suite.run_all(ds, [CF_CHECKER], skip_checks=[])
    finally:
        ds.close()
    assert CF_CHECKER in results, f"checker {CF_CHECKER} not available: {sorted(suite.checkers)}"
    groups, errors = results[CF_CHECKER]
    report = suite.dict_output(CF_CHECKER, groups, str(path), 1)
    failed = {}
    for level in ("high", "medium", "low"):
        failed[level] = [f"{r['name']}: {'; '.join(r['msgs'])}"
                         for r in report[f"{level}_priorities"] if r["value"][0] < r["value"][1]]
    # A check that raised did not run: its result is unknown, so it counts as a failure.
    failed["crashed"] = [f"{name} raised {exc!r}" for name, (exc, _) in errors.items()]
    return failed


def assert_cf_compliant(suite, path: Path) -> None:
    failed = cf_check(suite, path)
    problems = failed["high"] + [f"checker error: {c}" for c in failed["crashed"]]
    medium = "\n  ".join(failed["medium"]) or "none"
    assert not problems, (f"{path.name}: CF-1.8 high-priority failures:\n  " + "\n  ".join(problems)
                          + f"\nmedium-priority failures:\n  {medium}")
    if failed["medium"]:
        print(f"{path.name}: CF-1.8 medium-priority failures:\n  {medium}")


def test_posterior_is_cf_compliant(demo_run, offline_checker):
    assert_cf_compliant(offline_checker, demo_run.output_dir / "posterior.nc")


def test_observations_is_cf_compliant(demo_run, offline_checker):
    assert_cf_compliant(offline_checker, demo_run.output_dir / "observations.nc")


def test_footprints_is_cf_compliant(demo_run, offline_checker):
    assert_cf_compliant(offline_checker, demo_run.output_dir / "footprints.nc")


# --------------------------------------------------------------------------------------
# Units
# --------------------------------------------------------------------------------------

def raw_units(path: Path) -> dict:
    """``{variable: units}`` as stored in the file (no xarray decoding)."""
    with netCDF4.Dataset(path) as nc:
        return {name: var.getncattr("units") for name, var in nc.variables.items()
                if "units" in var.ncattrs()}


@pytest.mark.parametrize("filename", NETCDF_FILES)
def test_units_parse_with_cf_units(demo_run, filename):
    from cf_units import Unit

    units = raw_units(demo_run.output_dir / filename)
    assert units, f"{filename}: no variable has units"
    bad = {}
    for name, text in units.items():
        try:
            Unit(text)
        except ValueError as exc:
            bad[name] = f"{text!r}: {exc}"
    assert not bad, f"{filename}: units that cf_units cannot parse: {bad}"


def test_posterior_units_are_convertible(demo_run):
    from cf_units import Unit

    units = raw_units(demo_run.output_dir / "posterior.nc")
    expected = {"flux_": "mol m-2 s-1", "net_flux_": "mol m-2 s-1", "total_": "kg s-1",
                "period_total_": "kg", "source_rate_": "kg s-1", "source_total_": "kg"}
    checked = {prefix: [] for prefix in expected}
    for name, text in units.items():
        if name.endswith("_covariance"):
            assert Unit(text).is_convertible(Unit("kg2")), (name, text)
            continue
        for prefix, target in expected.items():
            if name.startswith(prefix):
                assert Unit(text).is_convertible(Unit(target)), (
                    f"posterior.nc: {name} has units {text!r}, not convertible to {target!r}")
                checked[prefix].append(name)
    for prefix in ("flux_", "net_flux_", "total_", "period_total_", "source_rate_",
                   "source_total_"):
        assert len(checked[prefix]) == 4, (prefix, checked[prefix])


def test_footprint_units(demo_run):
    from cf_units import Unit

    text = raw_units(demo_run.output_dir / "footprints.nc")["foot"]
    assert text == "ppm (umol-1 m2 s)"
    unit = Unit(text)  # ValueError here: cf_units cannot parse the footprint units
    # ppm per (µmol m-2 s-1), i.e. mol-1 m2 s with a factor of exactly 1.
    per_flux = Unit("ppm") / Unit("umol m-2 s-1")
    assert unit.is_convertible(per_flux)
    assert unit.convert(1.0, per_flux) == pytest.approx(1.0)
    assert unit.convert(1.0, Unit("mol-1 m2 s")) == pytest.approx(1.0)


# --------------------------------------------------------------------------------------
# posterior.nc content
# --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def posterior(demo_run):
    with xr.open_dataset(demo_run.output_dir / "posterior.nc") as ds:
        yield ds.load()


def test_posterior_variables(posterior):
    ds = posterior
    for name in ("flux_prior", "flux_posterior", "flux_prior_uncertainty",
                 "flux_posterior_uncertainty"):
        assert ds[name].dims == ("sector", "time", "y", "x"), (name, ds[name].dims)
    for name in ("net_flux_prior", "net_flux_posterior", "net_flux_prior_uncertainty",
                 "net_flux_posterior_uncertainty"):
        assert ds[name].dims == ("time", "y", "x"), (name, ds[name].dims)
    for name in ("total_prior", "total_posterior", "total_posterior_uncertainty",
                 "total_prior_uncertainty"):
        assert ds[name].dims == ("sector_group", "region", "time"), (name, ds[name].dims)
    for name in ("period_total_prior", "period_total_posterior",
                 "period_total_prior_uncertainty", "period_total_posterior_uncertainty"):
        assert ds[name].dims == ("sector_group", "region"), (name, ds[name].dims)
    assert ds["period_total_posterior_covariance"].dims == ("sector_group", "region", "region_b")
    assert list(map(str, ds["sector"].values)) == ["fossil", "biosphere"]
    groups = list(map(str, ds["sector_group"].values))
    assert groups == ["fossil", "biosphere", "point_sources", "fossil_total", "net"]
    assert "domain" in ds["region"].values and "city" in ds["region"].values
    assert ds.sizes["time"] == 28 and ds.sizes["y"] == 60 and ds.sizes["x"] == 60
    for name in ("source_lon", "source_lat", "stack_height", "source_total_prior",
                 "source_total_posterior", "source_total_posterior_uncertainty"):
        assert ds[name].dims == ("source",), name
    assert {"plant_east", "plant_north", "plant_outside"} <= set(map(str, ds["source"].values))


def test_prior_uncertainty_is_the_same_in_every_output(posterior, demo_run):
    """The prior σ reported is the inventory's (sources added by the search have no prior
    of their own), the same in posterior.nc and diagnostics.json."""
    d = demo_run.diagnostics
    for group, regions in d["period_totals"].items():
        for region, entry in regions.items():
            value = posterior["period_total_prior_uncertainty"].sel(sector_group=group,
                                                                    region=region)
            assert float(value) == pytest.approx(entry["prior_uncertainty"], rel=1e-9)
    for source in d["point_sources"]:
        if source["sector"] == "detected":
            assert source["prior_uncertainty_t"] is None


def test_region_coordinate_selects_by_name(posterior):
    city = posterior["period_total_posterior"].sel(region="city", sector_group="net")
    d = posterior["region"].values.tolist().index("city")
    assert float(city) == float(posterior["period_total_posterior"].values[-1, d])


def test_net_is_the_sum_of_the_blocks_and_covariances_add_up(posterior, demo_run):
    """Region totals per block sum to the net total; the covariance between regions lets a
    user sum regions exactly; the net σ includes cross-block covariances."""
    ds = posterior
    groups = list(map(str, ds["sector_group"].values))
    blocks = [g for g in groups if g not in ("net", "fossil_total")]
    total = ds["period_total_posterior"]
    np.testing.assert_allclose(sum(total.sel(sector_group=g).values for g in blocks),
                               total.sel(sector_group="net").values, rtol=1e-9)
    cov = ds["period_total_posterior_covariance"].sel(sector_group="net").values
    np.testing.assert_allclose(np.sqrt(np.diag(cov)),
                               ds["period_total_posterior_uncertainty"].sel(sector_group="net"),
                               rtol=1e-9)
    names = list(map(str, ds["region"].values))
    districts = [names.index(n) for n in names if n not in ("domain", "city")]
    summed_sigma = np.sqrt(cov[np.ix_(districts, districts)].sum())
    assert np.isfinite(summed_sigma) and summed_sigma > 0
    sigma_blocks = np.sqrt(sum(ds["period_total_posterior_uncertainty"].sel(sector_group=g).values ** 2
                               for g in blocks))
    net_sigma = ds["period_total_posterior_uncertainty"].sel(sector_group="net").values
    assert not np.allclose(net_sigma, sigma_blocks, rtol=1e-3)  # posterior blocks correlate


def test_posterior_global_attributes(posterior):
    attrs = posterior.attrs
    for key in ("Conventions", "title", "history", "source", "configuration", "solver"):
        assert attrs.get(key), f"global attribute {key!r} missing or empty"
    assert "CF-1.8" in attrs["Conventions"]
    assert "cityflux" in attrs["source"]
    assert "demo-city" in attrs["configuration"]
    assert attrs["solver"] == "analytical"


def test_posterior_values_finite_and_uncertainty_reduced(posterior):
    ds = posterior
    # a source the search added has no prior uncertainty of its own (missing values)
    added = np.char.startswith(ds["source"].values.astype(str), "detected_")
    for name, var in ds.data_vars.items():
        if var.dtype.kind != "f":
            continue
        values = var.values
        if name.startswith("source_") and name.endswith("prior_uncertainty"):
            assert np.isnan(values[..., added]).all(), name
            values = values[..., ~added]
        assert np.isfinite(values).all(), f"{name} has non-finite values"
    for kind in ("flux", "net_flux", "total", "period_total", "source_total"):
        prior = ds[f"{kind}_prior_uncertainty"].values
        post = ds[f"{kind}_posterior_uncertainty"].values
        if kind == "source_total":
            prior, post = prior[~added], post[~added]
        if kind in ("net_flux", "total", "period_total") and added.any():
            continue   # the inventory's prior vs a state that gained a source: see below
        assert (prior >= 0).all() and (post >= 0).all(), kind
        excess = post - prior
        assert (excess <= 1e-6).all(), (
            f"{kind}: posterior uncertainty exceeds prior by up to {excess.max():g}")


# --------------------------------------------------------------------------------------
# observations.nc and diagnostics.json
# --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def observations(demo_run):
    with xr.open_dataset(demo_run.output_dir / "observations.nc") as ds:
        yield ds.load()


def test_observations_content(observations, demo_run):
    ds = observations
    for name in ("site", "time", "observed", "background", "modelled_prior",
                 "modelled_posterior", "obs_error_std", "residual_prior", "residual_posterior",
                 "used_in_inversion"):
        assert name in ds.variables, name
        assert ds[name].dims == ("obs",), (name, ds[name].dims)
    assert np.issubdtype(ds["time"].dtype, np.datetime64)
    assert set(map(str, np.unique(ds["site"].values))) >= {"CTR", "NTH", "STH", "EST"}
    for which in ("prior", "posterior"):
        np.testing.assert_allclose(ds[f"residual_{which}"].values,
                                   ds["observed"].values - ds[f"modelled_{which}"].values,
                                   rtol=0, atol=1e-9, err_msg=f"residual_{which}")
    used = ds["used_in_inversion"].values
    assert set(np.unique(used)) <= {0, 1}
    assert int(used.sum()) == demo_run.diagnostics["n_obs"]
    assert (ds["obs_error_std"].values[used == 1] > 0).all()
    for name in ("observed", "background", "modelled_prior", "modelled_posterior"):
        assert np.isfinite(ds[name].values[used == 1]).all(), name


def test_diagnostics(demo_run):
    on_disk = json.loads((demo_run.output_dir / "diagnostics.json").read_text())
    d = demo_run.diagnostics
    for key in ("n_obs", "n_state", "chi2", "reduced_chi2", "dofs", "city_total_prior",
                "city_total_prior_uncertainty", "city_total_posterior",
                "city_total_posterior_uncertainty", "run_time_seconds"):
        assert key in on_disk, key
        assert key in d, key
    assert on_disk["n_obs"] == d["n_obs"] > 0
    assert on_disk["n_state"] == d["n_state"] > 0
    assert on_disk["chi2"] / on_disk["n_obs"] == pytest.approx(on_disk["reduced_chi2"])
    assert 0 < on_disk["dofs"] <= on_disk["n_obs"]
    assert on_disk["city_total_posterior_uncertainty"] <= on_disk["city_total_prior_uncertainty"]
    stages = on_disk["run_time_seconds"]
    assert isinstance(stages, dict)
    assert {"inputs", "set-up", "error estimation", "solve", "source search",
            "outputs"} <= set(stages), stages
    for key in ("blocks", "point_sources", "error_estimation", "missing_sources", "sites"):
        assert key in on_disk, key
    assert {p["name"] for p in on_disk["point_sources"]} >= {"plant_east", "plant_north"}
    parameters = on_disk["error_estimation"]["parameters"]
    assert {"scale:fossil", "scale:biosphere", "model_data_mismatch_ppm:CTR"} <= set(parameters)
    for entry in parameters.values():
        assert {"value_used", "estimated", "maximum_likelihood", "interval_68"} <= set(entry)
    assert all(isinstance(v, (int, float)) and v >= 0 for v in stages.values()), stages


def test_plots_exist(demo_run):
    plots = demo_run.output_dir / "plots"
    for name in ("map_prior.png", "map_posterior.png", "map_increment.png", "timeseries.png",
                 "totals.png"):
        path = plots / name
        assert path.is_file(), f"missing {path}"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"


# --------------------------------------------------------------------------------------
# The output directory is replaced only by a successful run
# --------------------------------------------------------------------------------------

def staging_leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if ".partial-" in p.name or ".old-" in p.name)


def test_output_directory_replaced_atomically(demo_run, tmp_path, monkeypatch):
    from cityflux import io
    from cityflux.config import load_config
    from cityflux.errors import InputError
    from cityflux.pipeline import run

    parent = tmp_path / "runs"
    out = parent / "demo"
    shutil.copytree(demo_run.output_dir, out)       # a previous output set ...
    (out / "sentinel.txt").write_text("from an earlier run\n")   # ... with a stray file

    # 1. A successful run replaces the folder as a whole.
    summary = run(load_config(DEMO_CONFIG, [f"output.dir={out}", *QUICK]))
    assert summary.output_dir.resolve() == out.resolve()
    assert not (out / "sentinel.txt").exists()
    assert not (out / "footprints.nc").exists() and not (out / "plots").exists(), \
        "files of the previous set survived: the folder was merged, not replaced"
    for name in ("posterior.nc", "observations.nc", "diagnostics.json"):
        assert (out / name).is_file(), name
    assert staging_leftovers(parent) == []
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    # 2. A run that fails after the config loaded (an unknown site in the observations).
    bad_csv = tmp_path / "observations-unknown-site.csv"
    shutil.copy(DEMO_OBSERVATIONS, bad_csv)
    with bad_csv.open("a") as f:
        f.write("2025-07-01T04:00:00Z,XXX,421.5\n")
    config = load_config(DEMO_CONFIG, [f"output.dir={out}", *QUICK,
                                       f"inputs.observations={bad_csv}"])
    with pytest.raises(InputError, match="XXX"):
        run(config)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before, "a failed run changed the previous outputs"
    assert staging_leftovers(parent) == []

    # 3. A run that fails while writing (posterior.nc already staged, diagnostics.json not).
    def broken_write_json(data, path):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(io, "write_json", broken_write_json)
    with pytest.raises(OSError, match="simulated"):
        run(load_config(DEMO_CONFIG, [f"output.dir={out}", *QUICK]))
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before, "a run that failed while writing changed the previous outputs"
    assert staging_leftovers(parent) == []
    assert sorted(p.name for p in parent.iterdir()) == ["demo"]


def test_output_directory_has_ordinary_permissions(demo_run):
    """The output folder honours the umask (a staging folder from mkdtemp would be 0700)."""
    umask = os.umask(0)
    os.umask(umask)
    mode = demo_run.output_dir.stat().st_mode & 0o777
    assert mode == 0o777 & ~umask, f"output folder mode {mode:o}, expected {0o777 & ~umask:o}"


# --------------------------------------------------------------------------------------
# The command line, end to end
# --------------------------------------------------------------------------------------

@pytest.mark.slow
def test_cli_run_end_to_end(tmp_path):
    out = tmp_path / "cli-output"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")])), "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, "-m", "cityflux.cli", "run", "configs/demo-city.yaml",
         "--set", f"output.dir={out}", "--set", "output.plots=false",
         "--set", "output.cache_dir=null"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, f"exit {result.returncode}\nstderr:\n{result.stderr}"
    assert "city" in result.stdout and "posterior" in result.stdout, result.stdout
    assert str(out) in result.stdout or str(out.resolve()) in result.stdout, result.stdout
    for name in ("posterior.nc", "observations.nc", "footprints.nc", "diagnostics.json"):
        assert (out / name).is_file(), name
    assert not (out / "plots").exists()
