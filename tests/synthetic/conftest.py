"""Fixtures for the synthetic wind fields and the puff transport."""

import numpy as np
import pytest

from cityflux.synthetic.meteorology import synthetic_meteorology
from cityflux.synthetic.winds import wind_field_dataset

START = np.datetime64("2025-06-30T16:00")  # local midnight at UTC+8


@pytest.fixture(scope="session")
def column():
    """Three days of the synthetic one-column meteorology of the demo city."""
    return synthetic_meteorology(START, 72, 117.0, 31.5, np.random.default_rng(7))


@pytest.fixture
def uniform_field():
    """Factory: a field uniform in space (values may vary in time), on a coarse grid."""

    def make(n_hours=30, u=2.0, v=0.0, blh=1000.0, obukhov=-50.0, ustar=0.4,
             temperature=290.0, pressure=1.0e5, x=None, y=None):
        time = START + np.arange(n_hours) * np.timedelta64(1, "h")
        x = np.array([-3.0e5, 0.0, 3.0e5]) if x is None else x
        y = np.array([-3.0e5, 0.0, 3.0e5]) if y is None else y
        column = lambda a: np.asarray(a, float).reshape(-1, 1, 1) if np.ndim(a) else a  # noqa: E731
        return wind_field_dataset(time, x, y, column(u), column(v), column(blh),
                                  column(temperature), column(pressure), column(obukhov),
                                  column(ustar))

    return make
