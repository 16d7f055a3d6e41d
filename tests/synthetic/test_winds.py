"""Synthetic wind fields: the perturbed field, the sea breeze and the mast column."""

import numpy as np
import pytest

from cityflux.grid import Grid
from cityflux.synthetic import winds

AXIS = np.arange(-60000.0, 60001.0, 2000.0)  # 61 wind-grid centres, m


@pytest.fixture(scope="module")
def perturbed(column):
    return winds.perturbed_field(column, AXIS, AXIS, np.random.default_rng(11),
                                 amplitude_m_s=1.5)


def test_perturbed_field_keeps_the_column_wind_as_domain_mean(column, perturbed):
    for name, column_name in (("u", "u10"), ("v", "v10")):
        np.testing.assert_allclose(perturbed[name].mean(("y", "x")).values,
                                   column[column_name].values, atol=2e-5)
    du = perturbed["u"].values - column["u10"].values[:, None, None]
    dv = perturbed["v"].values - column["v10"].values[:, None, None]
    assert np.sqrt(np.mean(du ** 2 + dv ** 2)) == pytest.approx(1.5, rel=1e-4)
    # Winds really differ across the domain, hour by hour.
    assert (np.hypot(du, dv).std(axis=(1, 2)) > 0.2).all()


def test_perturbation_is_smooth_and_divergence_free(column, perturbed):
    u = perturbed["u"].values.astype(float)
    v = perturbed["v"].values.astype(float)
    dx = AXIS[1] - AXIS[0]
    divergence = np.gradient(u, dx, axis=2) + np.gradient(v, dx, axis=1)
    vorticity = np.gradient(v, dx, axis=2) - np.gradient(u, dx, axis=1)
    assert np.sqrt(np.mean(divergence ** 2)) < 0.02 * np.sqrt(np.mean(vorticity ** 2))
    # Smooth in time (the pattern drifts with the wind and evolves over ~6 h): consecutive
    # hours are well correlated, a day apart hardly.
    du = u - column["u10"].values[:, None, None]

    def lag_correlation(lag):
        return np.corrcoef(du[lag:].ravel(), du[:-lag].ravel())[0, 1]

    assert lag_correlation(1) > 0.5
    assert abs(lag_correlation(24)) < 0.3


def test_perturbed_boundary_layer_and_stability(column, perturbed):
    ratio = perturbed["blh"].values / column["blh"].values[:, None, None]
    assert 0.5 <= ratio.min() and ratio.max() <= 1.5 and ratio.std() > 0.03
    assert perturbed["blh"].attrs["standard_name"] == "atmosphere_boundary_layer_thickness"
    assert (perturbed["ustar"].values > 0).all()
    # Obukhov length keeps the column's sign (the heat flux is uniform).
    sign = np.sign(column["obukhov_length"].values)[:, None, None]
    assert (np.sign(perturbed["obukhov_length"].values) == sign).all()


def test_perturbed_field_is_reproducible(column):
    a = winds.perturbed_field(column, AXIS, AXIS, np.random.default_rng(5))
    b = winds.perturbed_field(column, AXIS, AXIS, np.random.default_rng(5))
    c = winds.perturbed_field(column, AXIS, AXIS, np.random.default_rng(6))
    assert a.identical(b) and not a["u"].equals(c["u"])


def test_column_friction_velocity_inverts_the_obukhov_length(column, perturbed):
    # Where the wind equals the column's, u* is the column's: L = -rho cp T u*^3 / (k g H).
    speed = np.hypot(column["u10"].values, column["v10"].values)
    ustar = winds._column_friction_velocity(winds._column_values(column), None)
    np.testing.assert_allclose(ustar, 0.08 * speed + 0.05, rtol=1e-4)


def test_column_at_grid_point_is_exact_and_bilinear_between(perturbed, column):
    mast = winds.column_at(perturbed, AXIS[7], AXIS[40])
    for name, field_name in winds.COLUMN_NAMES.items():
        np.testing.assert_array_equal(mast[name].values,
                                      perturbed[field_name].values[:, 40, 7])
        assert mast[name].attrs["units"] == column[name].attrs["units"]
    assert set(mast.data_vars) == set(column.data_vars)
    middle = winds.column_at(perturbed, 0.5 * (AXIS[7] + AXIS[8]), 0.5 * (AXIS[40] + AXIS[41]))
    corners = perturbed["u"].values[:, 40:42, 7:9].astype(float).mean(axis=(1, 2))
    np.testing.assert_allclose(middle["u10"].values, corners, rtol=1e-6)
    with pytest.raises(ValueError, match="outside the wind grid"):
        winds.column_at(perturbed, AXIS[-1] + 1.0, 0.0)


def test_wind_axes_cover_the_domain_with_a_margin():
    grid = Grid("EPSG:32650", 300000.0, 360000.0, 1000.0, 3.4e6, 3.46e6, 1000.0)
    x, y = winds.wind_axes(grid, spacing_m=3000.0, margin_m=20000.0)
    assert x[0] <= 280000.0 and x[-1] >= 380000.0 and y[0] <= 3.38e6 and y[-1] >= 3.48e6
    np.testing.assert_allclose(np.diff(x), 3000.0)


# --- sea breeze ---------------------------------------------------------------------------

COAST = (0.0, 0.0, 90.0)  # the sea lies to the east of x = 0: onshore is westward


@pytest.fixture(scope="module")
def breeze(column):
    field = winds.sea_breeze_field(column, AXIS, AXIS, COAST, np.random.default_rng(1),
                                   perturbation_m_s=0.0)
    onshore = -(field["u"].values - column["u10"].values[:, None, None])  # westward part
    alongshore = field["v"].values - column["v10"].values[:, None, None]
    return field, onshore, alongshore


def _column_index(x):
    return int(np.argmin(np.abs(AXIS - x)))


def test_sea_breeze_onshore_by_day_offshore_by_night(column, breeze):
    field, onshore, _ = breeze
    shf = column["shf"].values
    near = _column_index(-2000.0)           # 2 km inland
    afternoon = np.flatnonzero((shf > 100) & (np.roll(shf, 3) > 100))
    # Night hours that follow at least six hours of cooling.
    night = np.flatnonzero(np.all([np.roll(shf, k) < 0 for k in range(6)], axis=0))
    night = night[night >= 6]
    assert afternoon.size > 5 and night.size > 5
    assert onshore[afternoon, 30, near].min() > 1.5
    assert onshore[night, 30, near].max() < -0.5
    # The land breeze is weaker than the sea breeze.
    assert onshore[night, 30, near].min() > -0.5 * onshore[afternoon, 30, near].max()


def test_sea_breeze_decays_inland(breeze):
    _, onshore, alongshore = breeze
    strength = np.hypot(onshore, alongshore).max(axis=0)[30]
    coast, inland = strength[_column_index(-2000.0)], strength[_column_index(-50000.0)]
    assert inland < 0.2 * coast
    assert np.all(np.diff(strength[: _column_index(0.0) + 1]) >= -1e-6)  # grows towards the sea


def test_sea_breeze_turns_clockwise_with_coriolis():
    """Constant forcing: the steady breeze is turned clockwise by atan(f tau) (N hemisphere)."""
    shf = np.full(200, 250.0)
    onshore_unit = complex(-1.0, 0.0)
    b = winds.breeze_series(shf, 31.5, 5.0, 1.5, 3.0, onshore_unit)
    f = 2 * winds.EARTH_ROTATION * np.sin(np.radians(31.5))
    assert abs(b[-1]) == pytest.approx(5.0, rel=1e-6)
    turn = np.degrees(np.angle(b[-1] / onshore_unit))
    assert turn == pytest.approx(-np.degrees(np.arctan(f * 3 * 3600.0)), abs=1e-6)
    south = winds.breeze_series(shf, -31.5, 5.0, 1.5, 3.0, onshore_unit)
    assert np.degrees(np.angle(south[-1] / onshore_unit)) == pytest.approx(-turn, abs=1e-6)


def test_marine_layer_is_shallow_by_day_near_the_sea(column, breeze):
    field, _, _ = breeze
    shf = column["shf"].values
    day = np.flatnonzero(shf > 150)
    blh = field["blh"].values
    sea, coast_land, inland = (_column_index(x) for x in (20000.0, -4000.0, -40000.0))
    assert np.allclose(blh[day, 30, sea], np.minimum(300.0, column["blh"].values[day]), rtol=1e-5)
    assert (blh[day, 30, sea] < blh[day, 30, coast_land]).all()
    assert (blh[day, 30, coast_land] < blh[day, 30, inland]).all()
    np.testing.assert_allclose(blh[day, 30, inland], column["blh"].values[day], rtol=1e-5)
    night = np.flatnonzero(shf < 0)
    np.testing.assert_allclose(blh[night, 30, sea], column["blh"].values[night], rtol=1e-5)
    assert field["t"].values[day, 30, sea].mean() < column["t2m"].values[day].mean() - 1.0


def test_sea_breeze_needs_the_heat_flux(column):
    with pytest.raises(ValueError, match="sensible heat flux"):
        winds.sea_breeze_field(column.drop_vars("shf"), AXIS, AXIS, COAST,
                               np.random.default_rng(0))
