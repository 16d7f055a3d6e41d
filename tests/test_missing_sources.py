"""The missing-source search end to end, on a small synthetic city with a ring of towers.

Observations are simulated with the puff transport through a perturbed wind field (not the
plume that inverts them). With a 2 Mt/yr stack removed from the inventory, the search must
find it at (or next to) its cell; with no point source missing, and only the diffuse errors
of the inventory (roads, residential totals, a shifted population proxy), it must report
nothing. The Monte Carlo threshold follows the config's seed. The same city also checks
a state without any gridded block (stacks and offsets only).
"""

from pathlib import Path

import numpy as np
import pyproj
import pytest

from cityflux import pipeline
from cityflux.cache import ArtifactCache
from cityflux.config import load_config
from cityflux.synthetic.city import Patch, Plant, Site, generate, with_changes
from cityflux.synthetic.demo_city import DEMO_CITY

REPO = Path(__file__).resolve().parents[1]
PLANT_KM = (1.0, -1.0)


def _ring_city(missing: bool):
    towers = tuple(Site(f"T{i}", f"tower {i}", 4.5 * np.cos(a), 4.5 * np.sin(a), 60.0, "tower")
                   for i, a in enumerate(np.linspace(0, 2 * np.pi, 9)[:-1]))
    plants = (Plant("hidden", *PLANT_KM, 2.0e6, None, 80.0, 12.0, 400.0, 3.0),) if missing else ()
    return with_changes(
        DEMO_CITY, name="Ring City", half_width_km=12.0, days=4, city_radius_km=5.0, seed=11,
        plants=plants, population=(Patch(0.0, 0.0, 3.0, 1.0),), areas=(), small_sources=5,
        residential_t_yr=(2.0e6, 1.8e6), roads_t_yr=(1.0e6, 0.8e6),
        sites=towers + (Site("BKG", "background", -11.0, -2.0, 60.0, "background"),),
        mast_km=(0.0, 0.0), truth_transport="puffs", field_file_km=None)


def _config(folder: Path):
    text = (REPO / "configs" / "demo-city.yaml").read_text()
    text = text.replace("../data-samples/demo-city", str(folder))
    text = text.replace("start: -30000, stop: 30000", "start: -12000, stop: 12000")
    text = text.replace("end: 2025-07-07T16:00:00", "end: 2025-07-04T16:00:00")
    text = text.replace("road_transport, industry]", "road_transport]")  # no industrial zone
    (folder / "run.yaml").write_text(text)
    return load_config(folder / "run.yaml", [f"output.dir={folder / 'out'}", "output.plots=false",
                                             "output.footprints=false", "output.cache_dir=null"])


@pytest.fixture(scope="module", params=[True, False], ids=["plant-missing", "nothing-missing"])
def ring_run(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("ring")
    generate(_ring_city(request.param), folder)
    config = _config(folder)
    return request.param, config, pipeline.run(config)


def _km(entry):
    to_metric = pyproj.Transformer.from_crs("EPSG:4326", DEMO_CITY.crs, always_xy=True)
    x, y = to_metric.transform(entry["lon"], entry["lat"])
    return x / 1000.0, y / 1000.0


@pytest.mark.slow
def test_search_finds_a_missing_plant_next_to_its_cell_and_nothing_otherwise(ring_run):
    missing, _, summary = ring_run
    d = summary.diagnostics
    if missing:
        accepted = d["first_pass_missing_sources"]["accepted"]
        assert len(accepted) == 1, accepted
        x, y = _km(accepted[0])
        # the plant sits on a cell corner: its four cells have centres within 0.71 km; one
        # cell further along the wind is "next to" it
        assert np.hypot(x - PLANT_KM[0], y - PLANT_KM[1]) < 1.6, (x, y)
        assert accepted[0]["z"] > d["first_pass_missing_sources"]["z_threshold"]
        names = [p["name"] for p in d["point_sources"]]
        assert names == ["detected_1"]
    else:
        assert "first_pass_missing_sources" not in d
        search = d["missing_sources"]
        assert search["accepted"] == []
        assert search["best_candidates"][0]["z"] < search["z_threshold"]


@pytest.mark.slow
def test_threshold_follows_the_seed(ring_run):
    missing, config, _ = ring_run
    if missing:
        pytest.skip("one case is enough")
    inputs = pipeline.load_inputs(config)
    inversion = pipeline.set_up(inputs, inputs.inventory, ArtifactCache(None))
    pipeline.estimate_errors(config, inversion)
    pipeline.solve(config, inputs, inversion)
    thresholds = []
    for seed in (1, 1, 2):
        pipeline.search_missing_sources(config, inputs, inversion, ArtifactCache(None),
                                        np.random.default_rng(seed))
        thresholds.append(inversion.search.threshold)
    assert thresholds[0] == thresholds[1]
    assert thresholds[0] != thresholds[2]
    assert abs(thresholds[0] - thresholds[2]) < 0.2   # 2000 draws: a stable quantile


@pytest.mark.slow
def test_a_state_of_stacks_and_offsets_only(tmp_path):
    """No gridded block at all (every source a stack) plus a shared daily offset: every
    stage, output and diagnostic works on that combination of blocks."""
    import xarray as xr

    generate(_ring_city(False), tmp_path)
    config = _config(tmp_path)
    config = load_config(config.source_path, [
        f"output.dir={tmp_path / 'out'}", "output.plots=false", "output.cache_dir=null",
        "inventory.line_sources=[]", "inventory.area_sources=[]", "inventory.gridded=[]",
        "inventory.point_sources.stack_min_height_m=0", "state.gridded=[]",
        "state.offsets=[{name: bias, sites: all_sites, time_step_hours: 24, error_ppm: 1.0}]",
        "missing_sources.detect=false"])
    summary = pipeline.run(config)
    d = summary.diagnostics
    assert set(d["blocks"]) == {"point_sources", "bias"}
    assert d["blocks"]["bias"]["elements"] == 4            # one offset per day
    assert len(d["point_sources"]) == 5                     # the boilers, now stacks
    assert abs(d["reduced_chi2"] - 1) < 3 * np.sqrt(2 / d["n_obs"])
    with xr.open_dataset(summary.output_dir / "posterior.nc") as ds:
        assert ds.sizes["sector"] == 0 and ds.sizes["source"] == 5 and ds.sizes["offset"] == 4
        assert list(map(str, ds["sector_group"].values)) == ["point_sources", "net"]
        net = ds["net_flux_posterior_uncertainty"].values
        assert np.isfinite(net).all() and net.max() > 0      # the stacks' cells only
        assert (ds["offset_posterior_uncertainty"] < ds["offset_prior_uncertainty"]).all()
