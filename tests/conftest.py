"""Shared fixtures: the demo inversion, run once per test session into a temporary folder."""

from pathlib import Path

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
