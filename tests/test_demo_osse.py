"""Observing-system simulation experiments: does the inversion find the truth, honestly?

1. The bundled demo city and the coastal test city (data-samples/, made by
   cityflux.synthetic): observations simulated from known sources with a transport that
   differs in structure from the inversion's (the demo: backward particles through a 3-D
   wind field that varies in space; the coastal city: puffs along curved trajectories
   through a sea breeze, Taylor spreading, final plume rise; the inversion has one mast's
   column and steady plumes). Every region must end closer to the truth than the prior or
   within 2σ of it; the district of the plant missing from the inventory within 2σ; χ²/m
   within 3 standard errors of 1 after the errors are estimated. The demo's plume
   inversion misses the last check (see test_demo_missing_plant_district_within_2_sigma);
   its particle inversion (configs/demo-city-particles.yaml) passes them all.
2. A twin whose statistics are exactly those the inversion assumes (truth drawn from the
   prior distribution of every block, noise drawn from R): the stated posterior
   uncertainty must be calibrated, i.e. the truth falls in the 1σ interval about 68 % of
   the time.
"""

from pathlib import Path

import numpy as np
import pytest

from cityflux import pipeline
from cityflux.cache import ArtifactCache
from cityflux.config import load_config
from cityflux.solvers import AnalyticalSolver, InversionProblem
from cityflux.state.aggregation import totals_layout
from cityflux.state.prior import prior_covariance

REPO = Path(__file__).resolve().parents[1]


def test_demo_every_region_improves_or_is_within_2_sigma(demo_run, assert_skill):
    assert_skill(demo_run.diagnostics)


@pytest.mark.xfail(strict=True, reason=(
    "known transport error: against particle observations the steady plume finds the "
    "missing 180 m buoyant plant as a 50 m source without plume rise, 3.5 km downwind, at "
    "4.1 instead of 3.0 Mt/yr; South-West ends 3.1 sigma high (156 +- 19 kt vs 97 kt). "
    "The particle inversion of the same data passes (test_particle_demo). See "
    "docs/transport.md."))
def test_demo_missing_plant_district_within_2_sigma(demo_run):
    south_west = demo_run.diagnostics["period_totals"]["net"]["South-West"]
    assert abs(south_west["posterior"] - south_west["truth"]) < \
        2 * south_west["posterior_uncertainty"]


def test_demo_detects_the_missing_plant(demo_run):
    d = demo_run.diagnostics
    first = d["first_pass_missing_sources"]
    assert first["accepted"], "the missing 3 Mt/yr plant was not detected"
    import pyproj
    to_km = pyproj.Transformer.from_crs("EPSG:4326", "+proj=tmerc +lat_0=31.5 +lon_0=117.0 "
                                        "+datum=WGS84 +units=m", always_xy=True)
    x, y = to_km.transform(first["accepted"][0]["lon"], first["accepted"][0]["lat"])
    # plant_west is at (-10, -3) km; along the wind the towers place it less well than across
    assert np.hypot(x / 1000 + 10.0, y / 1000 + 3.0) < 6.0


def test_demo_fit_statistics_are_sane(demo_run):
    d = demo_run.diagnostics
    assert 0 < d["dofs"] < d["n_obs"]
    for site, stats in d["sites"].items():
        assert stats["rmse_posterior_ppm"] <= stats["rmse_prior_ppm"] + 1e-9, site
        # normalised by the right variances, both are about 1 (not < 1 by construction)
        assert 0.4 < stats["reduced_chi2_innovation"] < 2.5, site
        assert 0.4 < stats["reduced_chi2_posterior"] < 2.5, site


@pytest.fixture(scope="module")
def coastal_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("coastal") / "output"
    config = load_config(REPO / "configs" / "coastal-city.yaml",
                         [f"output.dir={out}", "output.cache_dir=null", "output.plots=false"])
    return pipeline.run(config)


@pytest.mark.slow
def test_coastal_city_every_region_improves_or_is_within_2_sigma(coastal_run, assert_skill):
    assert_skill(coastal_run.diagnostics, "North-West")   # the refinery is missing


@pytest.mark.slow
def test_coastal_city_background_and_masks(coastal_run):
    d = coastal_run.diagnostics
    # the sea holds no state element of the land-only blocks
    assert d["blocks"]["fossil"]["elements"] < 50 * 50 * 20
    names = [p["name"] for p in d["point_sources"]]
    assert "harbour" in names and "outer_plant" in names and "refinery" not in names


# --------------------------------------------------------------------------- twin


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    """A 20 km city of sources: its observation model, prior blocks and errors."""
    from cityflux.synthetic.city import generate, with_changes
    from cityflux.synthetic.demo_city import DEMO_CITY

    folder = tmp_path_factory.mktemp("twin")
    spec = with_changes(DEMO_CITY, half_width_km=10.0, days=2, city_radius_km=4.0, seed=7,
                        plants=DEMO_CITY.plants[:2], small_sources=5,
                        truth_transport="puffs", field_file_km=None)   # y drawn below
    generate(spec, folder / "data")
    text = (REPO / "configs" / "demo-city.yaml").read_text()
    text = text.replace("../data-samples/demo-city", str(folder / "data"))
    for axis in ("x", "y"):
        text = text.replace(f"{axis}: {{start: -30000, stop: 30000, step: 1000}}",
                            f"{axis}: {{start: -10000, stop: 10000, step: 1000}}")
    text = text.replace("end: 2025-07-07T16:00:00", "end: 2025-07-02T16:00:00")
    text = text.replace("error_scale: auto", "error_scale: 1.0")
    text = text.replace("model_data_mismatch_ppm: auto", "model_data_mismatch_ppm: 1.0")
    (folder / "twin.yaml").write_text(text)
    config = load_config(folder / "twin.yaml", ["output.cache_dir=null",
                                                f"output.dir={folder / 'out'}"])
    inputs = pipeline.load_inputs(config)
    inversion = pipeline.set_up(inputs, inputs.inventory, ArtifactCache(None))
    pipeline.estimate_errors(config, inversion)
    layout = inversion.layout
    B = prior_covariance(layout, inversion.prior_state, inversion.parameters)
    R = inversion.errors.covariance(inversion.parameters.mismatch_ppm)
    totals = totals_layout(layout, inputs.regions)
    net = totals.groups.index("net")
    rows = np.arange(totals.n_rows).reshape(len(totals.groups), len(totals.regions), -1)
    city = list(totals.regions).index("city")
    return {"H": inversion.model.subset(inversion.used).operator, "x_b": inversion.prior_state,
            "B": B, "R": R, "W": totals.matrix[rows[net, city]],
            "step_hours": layout.report_step_hours}


def _city_z_scores(twin, seeds):
    """(truth − posterior) / posterior σ of the city's net total for truths drawn from
    N(x_b, B) (every block: fossil, biosphere, point sources)."""
    H, x_b, B, R, W = (twin[k] for k in ("H", "x_b", "B", "R", "W"))
    weights = np.full(W.shape[0], float(twin["step_hours"]))
    z = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        truth = x_b + B.sqrt_apply(rng.standard_normal(B.sqrt_size))
        y = H.forward(truth) + R.sqrt_apply(rng.standard_normal(R.size))
        result = AnalyticalSolver().solve(InversionProblem(x_b, B, H, y, R, W))
        total = weights @ result.aggregate_posterior
        sigma = np.sqrt(weights @ result.aggregate_posterior_covariance @ weights)
        z.append((weights @ (W @ truth) - total) / sigma)
    return np.array(z)


def test_twin_truth_inside_posterior_1sigma_about_68_percent(twin):
    z = _city_z_scores(twin, range(20))
    inside = int(np.sum(np.abs(z) <= 1.0))
    assert 10 <= inside <= 17, f"{inside}/20 inside 1 sigma; z = {np.round(z, 2)}"


@pytest.mark.slow
def test_twin_posterior_z_scores_have_unit_spread(twin):
    """A sharper version over 300 draws: std of z within ±15 % of 1 (SE ≈ 4 %)."""
    z = _city_z_scores(twin, range(100, 400))
    assert abs(np.mean(z)) < 0.2
    assert 0.85 < np.std(z) < 1.15
