"""The demo inverted with particle footprints (configs/demo-city-particles.yaml), and the
background modelled from the particles' exits × boundary conditions."""

from pathlib import Path

import numpy as np
import pandas as pd
import pyproj
import pytest
import xarray as xr

from cityflux.config import load_config
from cityflux.pipeline import run

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "demo-city-particles.yaml"
#: The config has 500 per receptor; 100 keep the suite short and pass the same checks.
N_PARTICLES = 100


@pytest.mark.slow
def test_particle_demo(tmp_path, assert_skill):
    """The whole config, as `cityflux run` runs it (fewer particles to keep the suite short)."""
    config = load_config(CONFIG, [f"output.dir={tmp_path / 'out'}", "output.cache_dir=null",
                                  "output.plots=false",
                                  f"transport.particles.n_particles={N_PARTICLES}"])
    diagnostics = run(config).diagnostics
    assert diagnostics["transport"]["model"] == "particles"
    assert_skill(diagnostics, "South-West")     # plant_west is missing from the prior
    first = diagnostics["first_pass_missing_sources"]["accepted"]
    assert first, "the missing 3 Mt/yr plant was not detected"
    to_km = pyproj.Transformer.from_crs("EPSG:4326", "+proj=tmerc +lat_0=31.5 +lon_0=117.0 "
                                        "+datum=WGS84 +units=m", always_xy=True)
    x, y = to_km.transform(first[0]["lon"], first[0]["lat"])
    assert np.hypot(x / 1000 + 10.0, y / 1000 + 3.0) < 3.0    # plant_west at (-10, -3) km


@pytest.mark.slow
def test_boundary_background_is_the_inflow(tmp_path):
    """Two days with observations.background: boundary: the modelled background of every
    tower hour is a mean of the synthetic world's inflow (background_truth.csv, uniform in
    space, held before the period) over the hours its particles left the domain, so it lies
    within the inflow's range over the day before; and a posterior is written."""
    config = load_config(CONFIG, [
        f"output.dir={tmp_path / 'out'}", "output.cache_dir=null", "output.plots=false",
        "period.end=2025-07-02T16:00:00", "transport.particles.n_particles=100",
        "missing_sources.search=false", "missing_sources.detect=false",
        "observations.background=boundary",
        "inputs.boundary_conditions=../data-samples/demo-city/boundary_conditions.nc"])
    summary = run(config)
    with xr.open_dataset(summary.output_dir / "observations.nc") as ds:
        times = pd.DatetimeIndex(ds["time"].values)
        background = ds["background"].values
    truth = pd.read_csv(REPO / "data-samples" / "demo-city" / "background_truth.csv",
                        parse_dates=["time"]).set_index("time")["background_ppm"]
    truth.index = truth.index.tz_localize(None)
    day_before = [truth[(truth.index > t - pd.Timedelta(hours=25)) & (truth.index <= t)]
                  for t in times]
    low = np.array([d.min() for d in day_before]) - 1e-3     # the file holds 3 decimals
    high = np.array([d.max() for d in day_before]) + 1e-3
    assert np.all((background >= low) & (background <= high))
    # most particles leave within hours: the background follows the inflow's drift
    at_hour = truth.reindex(times).to_numpy()
    assert np.corrcoef(background, at_hour)[0, 1] > 0.8
    assert (summary.output_dir / "posterior.nc").exists()
