"""`cityflux prior`: the demo's inventory written as prior.nc, and a run that reads it."""

from pathlib import Path

import numpy as np
import xarray as xr

from cityflux import pipeline
from cityflux.cache import ArtifactCache
from cityflux.cli import main
from cityflux.config import load_config

REPO = Path(__file__).resolve().parents[1]
DEMO_CONFIG = REPO / "configs" / "demo-city.yaml"


def test_prior_command_writes_a_prior_a_run_can_use(tmp_path, capsys):
    out = tmp_path / "prior.nc"
    assert main(["prior", str(DEMO_CONFIG), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"prior written to {out}" in printed and "stack source(s)" in printed
    with xr.open_dataset(out) as ds:
        # the period (7 days) and the 24 hours back before it, hourly
        assert ds.sizes["time"] == 7 * 24 + 24
        assert str(ds["time"].values[0])[:16] == "2025-06-29T16:00"
        assert set(map(str, ds["sector"].values)) == {"residential", "road_transport",
                                                     "industry", "commercial", "biosphere"}
        assert set(map(str, ds["source"].values)) == {"plant_east", "plant_north",
                                                     "plant_outside"}
        assert ds["flux"].attrs["units"] == "umol m-2 s-1"
        assert ds["source_emission"].attrs["units"] == "kg s-1"
        roads = ds["flux"].sel(sector="road_transport")
        assert float(roads.max()) > 0 and float(roads.min()) >= 0

    # the same run set up from the file and from the sources: the same prior state
    base = [f"output.dir={tmp_path / 'run'}", "output.cache_dir=null"]
    from_sources = load_config(DEMO_CONFIG, base)
    from_file = load_config(DEMO_CONFIG, base + ["inventory=null", f"inputs.prior_flux={out}"])
    states = []
    for config in (from_sources, from_file):
        inputs = pipeline.load_inputs(config)
        inversion = pipeline.set_up(inputs, inputs.inventory, ArtifactCache(None))
        states.append(inversion.prior_state)
        assert inversion.layout.names == ["fossil", "biosphere", "point_sources"]
    np.testing.assert_allclose(states[1], states[0], rtol=2e-6, atol=1e-6)  # float32 fluxes


def test_prior_command_needs_an_inventory(tmp_path, capsys):
    code = main(["prior", str(DEMO_CONFIG), "--out", str(tmp_path / "p.nc"), "--set",
                 "inventory=null", "--set", "inputs.prior_flux=../data-samples/demo-city/"
                 "prior/biosphere.nc"])
    assert code == 2
    assert "'cityflux prior' needs an 'inventory' section" in capsys.readouterr().err


def test_sources_found_by_the_search_join_tabulated_stacks(tmp_path):
    """A prior read back from prior.nc tabulates its stacks' hourly rates; the sources the
    search adds (profiled, zero rate) must join them (a run with inputs.prior_flux and
    missing_sources.detect)."""
    from cityflux.grid import Grid
    from cityflux.inventory.builder import inventory_from_file
    from cityflux.inventory.points import PointSources

    out = tmp_path / "prior.nc"
    assert main(["prior", str(DEMO_CONFIG), "--out", str(out)]) == 0
    config = load_config(DEMO_CONFIG)
    grid = Grid.from_config(config.domain)
    inventory = inventory_from_file(out, grid, config.domain.utc_offset_hours)
    stacks = inventory.points
    assert stacks.hourly_rates is not None
    nan = np.full(1, np.nan)
    found = PointSources(name=np.array(["detected_1"], dtype=object), lon=np.array([117.0]),
                         lat=np.array([31.5]), stack_height_m=np.array([50.0]),
                         sector=np.array(["detected"], dtype=object), rate_kg_s=np.zeros(1),
                         uncertainty_fraction=nan, buoyancy_flux_m4_s3=nan,
                         exit_velocity_m_s=nan, exit_temperature_k=nan, diameter_m=nan,
                         profile=np.array(["detected"], dtype=object),
                         prior_std_kg_s=np.array([20.0]))
    merged = PointSources.concatenate([stacks, found], inventory.profiles,
                                      inventory.utc_offset_hours)
    assert list(merged.name) == [*stacks.name, "detected_1"]
    times = stacks.hourly_times
    rates = merged.hourly(times, inventory.profiles, inventory.utc_offset_hours)
    np.testing.assert_array_equal(rates[:, :-1], stacks.hourly_rates)
    assert np.all(rates[:, -1] == 0.0)
    assert np.isnan(merged.prior_std_kg_s[:-1]).all() and merged.prior_std_kg_s[-1] == 20.0
