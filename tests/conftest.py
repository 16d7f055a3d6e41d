"""Shared fixtures: the demo inversion, run once per test session into a temporary folder."""

from pathlib import Path

import numpy as np
import pytest

from cityflux.config import load_config
from cityflux.pipeline import run

REPO = Path(__file__).resolve().parents[1]
DEMO_CONFIG = REPO / "configs" / "demo-city.yaml"


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """RunSummary of the bundled demo, written under a session temporary folder."""
    out = tmp_path_factory.mktemp("demo") / "output"
    config = load_config(DEMO_CONFIG, [f"output.dir={out}", "output.cache_dir=null"])
    return run(config)


@pytest.fixture(scope="session")
def assert_skill():
    """The synthetic cities' skill check (tests/test_demo_osse.py explains it)."""
    return _assert_skill


def _assert_skill(diagnostics, missing_plant_district=None):
    net = diagnostics["period_totals"]["net"]
    for region, t in net.items():
        if region == "domain":
            continue  # the domain edge sees mostly the biosphere, checked by chi2 below
        prior_error = abs(t["prior"] - t["truth"])
        posterior_error = abs(t["posterior"] - t["truth"])
        assert posterior_error < prior_error or posterior_error < 2 * t["posterior_uncertainty"], (
            f"{region}: prior {t['prior']:.0f}, posterior {t['posterior']:.0f} ± "
            f"{t['posterior_uncertainty']:.0f}, truth {t['truth']:.0f}")
    if missing_plant_district is not None:
        district = net[missing_plant_district]
        assert abs(district["posterior"] - district["truth"]) < \
            2 * district["posterior_uncertainty"], missing_plant_district
    city = net["city"]
    assert abs(city["posterior"] - city["truth"]) < abs(city["prior"] - city["truth"])
    m = diagnostics["n_obs"]
    assert abs(diagnostics["reduced_chi2"] - 1.0) < 3 * np.sqrt(2.0 / m)
