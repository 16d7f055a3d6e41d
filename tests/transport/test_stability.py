"""Stability classification: Golder's Obukhov-length curves, the Pasquill-Turner table, sun."""

import numpy as np
import pytest

from cityflux.transport.kernels import BRIGGS_URBAN, PASQUILL_GIFFORD
from cityflux.transport.stability import (
    DispersionScheme,
    StabilityMethod,
    solar_elevation_deg,
    stability_from_obukhov,
    stability_from_wind_and_radiation,
)

A, B, C, D, E, F = range(6)


def test_enums():
    assert DispersionScheme("pasquill_gifford").code == PASQUILL_GIFFORD
    assert DispersionScheme("briggs_urban").code == BRIGGS_URBAN
    assert DispersionScheme.BRIGGS_URBAN == "briggs_urban"
    assert StabilityMethod("obukhov_length") is StabilityMethod.OBUKHOV_LENGTH
    assert StabilityMethod.WIND_AND_RADIATION == "wind_and_radiation"


# --- Obukhov length -------------------------------------------------------------------


@pytest.mark.parametrize(
    "length, z0, expected",
    [
        (-5.0, 1.0, A),  # 1/L = -0.2, beyond L_A = -11.4 m
        (-25.0, 1.0, B),  # L_B = -26 m at z0 = 1
        (-50.0, 0.1, C),  # 1/L = -0.02; L_C = -61.6 m, L_B = -17.6 m at z0 = 0.1
        (1e12, 0.5, D),
        (-1e12, 0.5, D),
        (np.inf, 0.5, D),
        (-np.inf, 0.5, D),
        (100.0, 0.1, E),  # 1/L = 0.01, nearer 1/L_E = 0.0162 than 0
        (10.0, 0.1, F),  # 1/L = 0.1, beyond 1/L_F = 0.0569
    ],
)
def test_known_classes_from_obukhov_length(length, z0, expected):
    assert stability_from_obukhov(length, z0) == expected


def test_obukhov_boundaries_lie_midway_in_inverse_length():
    z0 = 0.3
    inv_e = 1.0 / (123.0 * z0**0.30)
    inv_f = 1.0 / (26.0 * z0**0.17)
    mid = 0.5 * (inv_e + inv_f)
    assert stability_from_obukhov(1.0 / (mid * 0.999), z0) == E
    assert stability_from_obukhov(1.0 / (mid * 1.001), z0) == F


@pytest.mark.parametrize("z0", [0.01, 0.1, 1.0, 2.0])
def test_obukhov_classes_are_monotone_in_inverse_length(z0):
    inv_length = np.linspace(-0.5, 0.5, 2001)
    inv_length = inv_length[inv_length != 0.0]
    classes = stability_from_obukhov(1.0 / inv_length, z0)
    assert classes.dtype == np.int64
    assert np.all(np.diff(classes) >= 0)
    assert set(classes) == set(range(6))


def test_obukhov_broadcasts():
    lengths = np.array([[-5.0, np.inf], [10.0, -1e9]])
    classes = stability_from_obukhov(lengths, np.array([1.0, 0.1]))
    np.testing.assert_array_equal(classes, [[A, D], [F, D]])


def test_obukhov_validation():
    with pytest.raises(ValueError, match="NaN"):
        stability_from_obukhov(np.array([10.0, np.nan]), 0.1)
    with pytest.raises(ValueError, match="non-zero"):
        stability_from_obukhov(0.0, 0.1)
    with pytest.raises(ValueError, match="roughness_length_m"):
        stability_from_obukhov(10.0, 0.0)


# --- solar elevation ------------------------------------------------------------------


def _day_minutes(day):
    return np.datetime64(day) + np.arange(0, 24 * 60, 1).astype("timedelta64[m]")


def test_solar_noon_at_equator_on_equinox_is_overhead():
    elevation = solar_elevation_deg(_day_minutes("2024-03-20"), 0.0, 0.0)
    assert elevation.max() == pytest.approx(90.0, abs=1.0)
    # solar noon at Greenwich is within ~15 min of 12 UTC (equation of time -7.5 min)
    noon = _day_minutes("2024-03-20")[elevation.argmax()]
    assert abs((noon - np.datetime64("2024-03-20T12:00")) / np.timedelta64(1, "m")) < 15


def test_midsummer_noon_at_greenwich():
    lat = 51.4769
    elevation = solar_elevation_deg(_day_minutes("2023-06-21"), lat, 0.0)
    assert elevation.max() == pytest.approx(90.0 - lat + 23.44, abs=0.5)


def test_night_is_negative_and_longitude_shifts_noon():
    assert solar_elevation_deg(np.datetime64("2024-03-20T00:00"), 0.0, 0.0) < -80.0
    assert solar_elevation_deg(np.datetime64("2024-01-15T02:00"), 48.85, 2.35) < 0.0
    # at 90 E local solar noon is near 06 UTC
    assert solar_elevation_deg(np.datetime64("2024-03-20T06:00"), 0.0, 90.0) > 85.0


def test_solar_elevation_rejects_non_datetimes():
    with pytest.raises(ValueError, match="datetime64"):
        solar_elevation_deg(np.array([1.0, 2.0]), 0.0, 0.0)


# --- Pasquill-Turner table ------------------------------------------------------------

WINDS = [1.0, 2.5, 4.0, 5.5, 8.0]  # one per wind row: <2, 2-3, 3-5, 5-6, >=6 m/s


@pytest.mark.parametrize(
    "elevation, expected",
    [
        (70.0, [A, B, B, C, C]),  # strong: A, A-B, B, C, C
        (45.0, [B, B, C, D, D]),  # moderate: A-B, B, B-C, C-D, D
        (25.0, [B, C, C, D, D]),  # slight: B, C, C, D, D
        (5.0, [B, C, C, D, D]),  # low sun: slight
    ],
)
def test_day_table(elevation, expected):
    got = stability_from_wind_and_radiation(np.array(WINDS), elevation, 0.2)
    np.testing.assert_array_equal(got, expected)


def test_cloud_reduces_insolation_one_step():
    winds = np.array(WINDS)
    np.testing.assert_array_equal(
        stability_from_wind_and_radiation(winds, 70.0, 0.8),
        stability_from_wind_and_radiation(winds, 45.0, 0.0),
    )
    np.testing.assert_array_equal(
        stability_from_wind_and_radiation(winds, 45.0, 0.8),
        stability_from_wind_and_radiation(winds, 25.0, 0.0),
    )
    np.testing.assert_array_equal(
        stability_from_wind_and_radiation(winds, 25.0, 1.0),
        stability_from_wind_and_radiation(winds, 25.0, 0.0),
    )


@pytest.mark.parametrize(
    "cloud, expected",
    [
        (0.5, [E, E, D, D, D]),  # overcast >= 0.5: E, E, D, D
        (0.2, [F, F, E, D, D]),  # clear < 0.5: F, F, E, D
    ],
)
def test_night_table(cloud, expected):
    got = stability_from_wind_and_radiation(np.array(WINDS), -10.0, cloud)
    np.testing.assert_array_equal(got, expected)


def test_wind_row_edges():
    winds = np.array([1.999, 2.0, 3.0, 5.0, 6.0])
    np.testing.assert_array_equal(stability_from_wind_and_radiation(winds, 25.0, 0.0), [B, C, C, D, D])
    np.testing.assert_array_equal(stability_from_wind_and_radiation(winds, 0.0, 0.0), [F, F, E, D, D])


def test_wind_and_radiation_validation():
    with pytest.raises(ValueError, match=r"cloud_fraction must be a fraction in \[0, 1\]"):
        stability_from_wind_and_radiation(3.0, 20.0, 5.0)  # oktas
    with pytest.raises(ValueError, match="cloud_fraction"):
        stability_from_wind_and_radiation(3.0, 20.0, np.nan)
    with pytest.raises(ValueError, match=">= 0 m/s"):
        stability_from_wind_and_radiation(-1.0, 20.0, 0.1)
    with pytest.raises(ValueError, match="solar_elevation_deg"):
        stability_from_wind_and_radiation(3.0, 120.0, 0.1)
