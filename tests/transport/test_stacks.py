"""Stack plumes: Briggs rise by hand, the vertical rules, lags, and the driver."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
from plume_reference import ref_sigma_y, ref_sigma_z
from stack_reference import ref_rise, ref_sensitivities, ref_stack_plume

from cityflux.transport import stack_kernels as sk
from cityflux.transport.kernels import BRIGGS_URBAN, PASQUILL_GIFFORD
from cityflux.transport.stability import DispersionScheme
from cityflux.transport.stacks import StackInputError, StackSources, stack_sensitivities

trapezoid = getattr(np, "trapezoid", None) or np.trapz

A, B, C, D, E, F = range(6)
URBAN = SimpleNamespace(dispersion=DispersionScheme.BRIGGS_URBAN, min_wind_speed_m_s=1.0)


# --- plume rise against hand-computed Briggs values (ISC3 vol. II 1.1.4) --------------


def test_buoyant_rise_neutral_urban_by_hand():
    """200 m stack, d = 6 m, v_s = 20 m/s, T_s = 420 K, T_a = 290 K, u_10 = 5 m/s, D urban."""
    # u_s = 5 (200/10)^0.25 = 5 * 2.1147425 = 10.573713 m/s
    u_s = sk.stack_wind_speed(5.0, 200.0, 10.0, D, BRIGGS_URBAN, 1.0)
    assert u_s == pytest.approx(10.573713, rel=1e-7)
    # F_b = 9.80616 * 20 * 6^2 * 130 / (4 * 420) = 9.80616 * 55.714286 = 546.3432 m4/s3
    assert sk.buoyancy_flux(20.0, 6.0, 420.0, 290.0) == pytest.approx(546.3432, rel=1e-12)
    # F_m = 20^2 * 6^2 * 290 / (4 * 420) = 2485.714 m4/s2
    assert sk.momentum_flux(20.0, 6.0, 420.0, 290.0) == pytest.approx(2485.7143, rel=1e-7)
    # F_b >= 55: (dT)_c = 0.00575 * 420 * 20^(2/3) / 6^(1/3) = 2.415 * 7.368063 / 1.817121 = 9.7923 K < 130 K
    dtc = sk.crossover_temperature_difference(546.3432, 20.0, 6.0, 420.0, D, 290.0)
    assert dtc == pytest.approx(9.79235, rel=1e-5)
    # v_s = 20 >= 1.5 u_s = 15.86: no stack-tip downwash
    # dh = 38.71 * 546.3432^0.6 / u_s = 38.71 * 43.901497 / 10.573713 = 160.7219 m
    # x_f = 119 * 546.3432^0.4 = 119 * 12.444751 = 1480.925 m
    base, rise, x_f, fb = sk.stack_rise(200.0, u_s, D, 290.0, np.nan, 20.0, 420.0, 6.0)
    assert base == 200.0
    assert fb == pytest.approx(546.3432, rel=1e-12)
    assert rise == pytest.approx(160.7219, rel=1e-6)
    assert x_f == pytest.approx(1480.925, rel=1e-6)


def test_stable_buoyant_rise_by_hand():
    """Same stack in class F (urban), T_a = 280 K, u_10 = 2 m/s."""
    # u_s = 2 * 20^0.30 = 4.912912 m/s; F_b = 9.80616 * 20 * 36 * 140 / 1680 = 588.3696
    u_s = sk.stack_wind_speed(2.0, 200.0, 10.0, F, BRIGGS_URBAN, 1.0)
    assert u_s == pytest.approx(4.912912, rel=1e-6)
    # s = 9.80616 * 0.035 / 280 = 1.225770e-3 s-2
    assert sk.stability_parameter(F, 280.0) == pytest.approx(1.22577e-3, rel=1e-12)
    assert sk.stability_parameter(E, 280.0) == pytest.approx(9.80616 * 0.020 / 280, rel=1e-12)
    assert sk.stability_parameter(D, 280.0) == 0.0
    # (dT)_c = 0.019582 * 420 * 20 * sqrt(s) = 5.7589 K < 140 K: buoyant
    # dh = 2.6 (588.3696 / (4.912912 * 1.22577e-3))^(1/3) = 119.7496 m
    # x_f = 2.0715 * 4.912912 / sqrt(1.22577e-3) = 290.683 m
    base, rise, x_f, _ = sk.stack_rise(200.0, u_s, F, 280.0, np.nan, 20.0, 420.0, 6.0)
    assert sk.crossover_temperature_difference(588.3696, 20.0, 6.0, 420.0, F, 280.0) == pytest.approx(
        5.75892, rel=1e-5)
    assert (base, rise, x_f) == pytest.approx((200.0, 119.7496, 290.6829), rel=1e-6)
    # the 2/3 law meets the stable final rise at x_f (x_f in metres, not km)
    at_xf = 1.60 * 588.3696 ** (1 / 3) * x_f ** (2 / 3) / u_s
    assert at_xf == pytest.approx(rise, rel=1e-4)


def test_momentum_dominated_rise_by_hand():
    # Neutral: 30 m stack, d = 1 m, v_s = 25 m/s, T_s = 300 K, T_a = 295 K, u_10 = 4 m/s (D urban)
    # u_s = 4 * 3^0.25 = 5.264296; F_b = 9.80616 * 25 * 5 / 1200 = 1.021475 (< 55)
    # (dT)_c = 0.0297 * 300 * 25^(1/3) / 1^(2/3) = 26.053 K > dT = 5 K: momentum dominated
    # momentum rise 3 * 1 * 25 / u_s = 14.2469 m > buoyant 21.425 * 1.021475^0.75 / u_s = 4.1352 m
    u_s = sk.stack_wind_speed(4.0, 30.0, 10.0, D, BRIGGS_URBAN, 1.0)
    assert u_s == pytest.approx(5.264296, rel=1e-6)
    base, rise, x_f, fb = sk.stack_rise(30.0, u_s, D, 295.0, np.nan, 25.0, 300.0, 1.0)
    assert fb == pytest.approx(1.021475, rel=1e-6)
    assert (base, rise, x_f) == pytest.approx((30.0, 14.246919, 0.0), rel=1e-6)
    assert sk.gradual_rise(10.0, fb, u_s, rise, x_f) == rise  # no gradual rise for momentum
    # Stable: same stack, T_s = 297 K, class E rural, u_10 = 3 m/s
    # u_s = 3 * 3^0.35 = 4.406702; s = 9.80616 * 0.020 / 295 = 6.648244e-4
    # (dT)_c = 0.019582 * 297 * 25 * sqrt(s) = 3.7489 K > 2 K: momentum dominated
    # F_m = 25^2 * 1 * 295 / (4 * 297) = 155.19781
    # stable 1.5 (F_m / (u_s sqrt(s)))^(1/3) = 16.64297 m < 3 d v_s / u_s = 17.01953 m: ISC3 takes the lower
    u_s = sk.stack_wind_speed(3.0, 30.0, 10.0, E, PASQUILL_GIFFORD, 1.0)
    assert u_s == pytest.approx(4.406702, rel=1e-6)
    _, rise, x_f, _ = sk.stack_rise(30.0, u_s, E, 295.0, np.nan, 25.0, 297.0, 1.0)
    assert (rise, x_f) == pytest.approx((16.64297, 0.0), rel=1e-6)
    # a cold plume (T_s <= T_a) has no buoyancy and rises by momentum only
    assert sk.buoyancy_flux(25.0, 1.0, 290.0, 295.0) == 0.0
    u_s = sk.stack_wind_speed(4.0, 30.0, 10.0, D, BRIGGS_URBAN, 1.0)
    _, rise, _, fb = sk.stack_rise(30.0, u_s, D, 295.0, np.nan, 25.0, 290.0, 1.0)
    assert fb == 0.0 and rise == pytest.approx(75.0 / u_s, rel=1e-14)


def test_stack_tip_downwash_by_hand():
    # v_s = 3 < 1.5 u_s = 7.5: h' = 50 + 2 * 2 * (3/5 - 1.5) = 46.4 m
    assert sk.stack_tip_downwash(50.0, 3.0, 2.0, 5.0) == pytest.approx(46.4, rel=1e-14)
    assert sk.stack_tip_downwash(50.0, 7.5, 2.0, 5.0) == 50.0  # v_s = 1.5 u_s: none
    assert sk.stack_tip_downwash(50.0, np.nan, 2.0, 5.0) == 50.0  # unknown v_s: none
    assert sk.stack_tip_downwash(50.0, 3.0, np.nan, 5.0) == 50.0
    assert sk.stack_tip_downwash(4.0, 0.0, 2.0, 5.0) == 0.0  # never below ground
    # the rise is added to h': buoyant 60 m stack with a weak exit velocity
    u_s = 6.0
    base, rise, _, fb = sk.stack_rise(60.0, u_s, C, 290.0, np.nan, 4.0, 450.0, 2.0)
    assert base == pytest.approx(60.0 + 4.0 * (4.0 / 6.0 - 1.5), rel=1e-14)
    assert rise == pytest.approx(21.425 * fb**0.75 / u_s, rel=1e-14)  # F_b = 13.94 < 55


def test_gradual_rise_capped_at_final():
    fb, u_s = 546.3432, 10.573713
    _, final, x_f, _ = sk.stack_rise(200.0, u_s, D, 290.0, fb, np.nan, np.nan, np.nan)
    # below x_f: 1.60 F_b^(1/3) x^(2/3) / u_s; e.g. x = 500 m: 1.6 * 8.175014 * 62.99605 / u_s = 77.9281 m
    assert sk.gradual_rise(500.0, fb, u_s, final, x_f) == pytest.approx(77.9281, rel=1e-5)
    xs = np.linspace(1.0, 3 * x_f, 400)
    rises = np.array([sk.gradual_rise(x, fb, u_s, final, x_f) for x in xs])
    assert np.all(rises <= final) and np.all(np.diff(rises) >= 0)
    assert np.all(rises[xs >= x_f] == final)
    # continuous at x_f: 38.71 is 1.6 * 119^(2/3) = 38.706 rounded, so the cap trims only that
    just_below = 1.60 * fb ** (1 / 3) * (x_f * (1 - 1e-12)) ** (2 / 3) / u_s
    assert just_below == pytest.approx(final, rel=2e-4)
    assert sk.gradual_rise(x_f * (1 - 1e-12), fb, u_s, final, x_f) == min(just_below, final)
    # no rise for a source with neither F_b nor stack parameters
    assert sk.stack_rise(80.0, 5.0, D, 290.0, np.nan, np.nan, np.nan, np.nan) == (80.0, 0.0, 0.0, 0.0)
    # F_b given wins over the exit parameters
    given = sk.stack_rise(200.0, u_s, D, 290.0, 100.0, 20.0, 420.0, 6.0)
    assert given[3] == 100.0


def test_buoyancy_induced_dispersion_by_hand():
    # sigma = 30 m, dh = 70 m: sqrt(900 + 20^2) = 36.0555 m
    assert sk.buoyancy_induced_sigma(30.0, 70.0) == pytest.approx(math.sqrt(1300.0), rel=1e-15)
    assert sk.buoyancy_induced_sigma(30.0, 0.0) == 30.0


def test_wind_profile_exponents_and_floor():
    # rural exponents go with Pasquill-Gifford, urban with Briggs urban (ISC3 1.1.3)
    rural = [sk.wind_profile_exponent(c, PASQUILL_GIFFORD) for c in range(6)]
    urban = [sk.wind_profile_exponent(c, BRIGGS_URBAN) for c in range(6)]
    assert rural == [0.07, 0.07, 0.10, 0.15, 0.35, 0.55]
    assert urban == [0.15, 0.15, 0.20, 0.25, 0.30, 0.30]
    assert math.isnan(sk.wind_profile_exponent(6, 0)) and math.isnan(sk.wind_profile_exponent(2, 3))
    # F rural at 100 m: 2 * 10^0.55 = 7.0963 m/s; floor applies to a weak wind
    assert sk.stack_wind_speed(2.0, 100.0, 10.0, F, PASQUILL_GIFFORD, 1.0) == pytest.approx(7.09626, rel=1e-5)
    assert sk.stack_wind_speed(0.2, 100.0, 10.0, D, PASQUILL_GIFFORD, 1.0) == 1.0
    # below the reference height the reference wind is used
    assert sk.stack_wind_speed(3.0, 2.0, 10.0, F, PASQUILL_GIFFORD, 1.0) == 3.0


# --- the stack plume kernel -----------------------------------------------------------


def test_stack_plume_inside_mixed_layer_equals_gaussian_with_reflections():
    x, u, sy, sz = 2000.0, 6.0, 150.0, 120.0
    for y, z, H, h_emit, h_obs, h_path in [
        (0.0, 2.0, 80.0, 400.0, 400.0, 400.0),
        (90.0, 150.0, 250.0, 300.0, 500.0, 600.0),  # lid at 600 m
        (-40.0, 10.0, 60.0, 800.0, 250.0, 800.0),  # layer collapsed since emission: lid 800 m
        (0.0, 350.0, 60.0, 800.0, 250.0, 800.0),  # receptor in the residual layer
    ]:
        lid = max(h_emit, h_obs, h_path)
        n = np.arange(-30, 31)
        images = np.sum(np.exp(-((z - H + 2 * n * lid) ** 2) / (2 * sz**2))
                        + np.exp(-((z + H + 2 * n * lid) ** 2) / (2 * sz**2)))
        want = math.exp(-(y**2) / (2 * sy**2)) * images / (2 * math.pi * u * sy * sz)
        got = sk.stack_plume(x, y, z, H, sy, sz, u, h_emit, h_obs, h_path)
        assert got == pytest.approx(want, rel=1e-12)
        assert got == pytest.approx(ref_stack_plume(x, y, z, H, sy, sz, u, h_emit, h_obs, h_path), rel=1e-12)


def test_stack_plume_aloft_free_gaussian_and_zero_below():
    x, u, sy, sz, H, h_obs = 3000.0, 8.0, 200.0, 60.0, 400.0, 300.0
    for z in [300.0, 350.0, 420.0, 600.0]:
        direct = math.exp(-((z - H) ** 2) / (2 * sz**2))
        image = math.exp(-((z - (2 * h_obs - H)) ** 2) / (2 * sz**2))
        want = (direct + image) / (2 * math.pi * u * sy * sz)
        assert sk.stack_plume(x, 0.0, z, H, sy, sz, u, 250.0, h_obs, h_obs) == pytest.approx(want, rel=1e-12)
    for z in [0.0, 100.0, 299.9]:
        assert sk.stack_plume(x, 0.0, z, H, sy, sz, u, 250.0, h_obs, h_obs) == 0.0
    # emitted inside, receptor above every layer met: zero
    assert sk.stack_plume(x, 0.0, 700.0, 100.0, sy, sz, u, 500.0, 300.0, 600.0) == 0.0
    # upwind or beside: zero
    assert sk.stack_plume(0.0, 0.0, 10.0, 100.0, sy, sz, u, 500.0, 500.0, 500.0) == 0.0
    assert sk.stack_plume(-5.0, 0.0, 10.0, 100.0, sy, sz, u, 500.0, 500.0, 500.0) == 0.0


def test_stack_plume_matches_reference_in_every_regime():
    rng = np.random.default_rng(5)
    n = 3000
    x = rng.uniform(-500.0, 30e3, n)
    y = rng.normal(0.0, 400.0, n)
    h_emit = rng.uniform(100.0, 1500.0, n)
    h_obs = rng.uniform(100.0, 1500.0, n)
    h_path = np.maximum(np.maximum(h_emit, h_obs), rng.uniform(100.0, 2000.0, n))
    H = rng.uniform(0.0, 1800.0, n)
    z = rng.uniform(0.0, 1.0, n) * rng.choice([100.0, 2000.0], n)
    sy = rng.uniform(10.0, 2000.0, n)
    sz = rng.uniform(5.0, 3000.0, n)
    u = rng.uniform(1.0, 15.0, n)
    args = list(zip(x, y, z, H, sy, sz, u, h_emit, h_obs, h_path))
    got = np.array([sk.stack_plume(*a) for a in args])
    want = np.array([ref_stack_plume(*a) for a in args])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    lid = h_path
    pos = want > 0
    assert (pos & (H >= lid)).sum() > 50  # aloft
    assert (pos & (H < lid) & (H >= h_emit)).sum() > 50  # fumigated
    assert (pos & (H < h_emit) & (sz <= 1.6 * lid)).sum() > 50  # image sum
    assert (pos & (H < h_emit) & (sz > 1.6 * lid)).sum() > 50  # well mixed
    assert (pos & (z >= h_obs) & (z < lid) & (H < lid)).sum() > 10  # residual layer


@pytest.mark.parametrize("h_obs, h_path, H, h_emit", [
    (300.0, 700.0, 50.0, 700.0),  # emitted inside a deep layer that has collapsed
    (700.0, 700.0, 400.0, 200.0),  # emitted aloft, fumigated
])
def test_well_mixed_far_field_integrates_to_one_over_u_h(h_obs, h_path, H, h_emit):
    """Mass: int G dy = 1 / (u h_lid) at any z below the lid when sigma_z >> h."""
    x, u, sy, sz = 40e3, 5.0, 1500.0, 2000.0  # sigma_z > 1.6 h_lid
    lid = max(h_obs, h_path, h_emit)
    y = np.linspace(-12 * sy, 12 * sy, 2001)
    for z in [2.0, 0.5 * lid, 0.99 * lid]:
        g = np.array([sk.stack_plume(x, yi, z, H, sy, sz, u, h_emit, h_obs, h_path) for yi in y])
        assert trapezoid(g, y) == pytest.approx(1.0 / (u * lid), rel=1e-10)


@pytest.mark.parametrize("case", ["inside", "aloft"])
def test_flux_through_a_downwind_plane_is_conserved(case):
    """int int u G dy dz = 1 over the layer holding the plume: nothing leaks."""
    x, u, sy, sz = 3000.0, 4.0, 250.0, 180.0
    if case == "inside":  # images at the lid, sigma_z / h_lid = 0.36
        H, h_emit, h_obs, h_path, z_lo, z_hi = 120.0, 500.0, 300.0, 500.0, 0.0, 500.0
    else:  # aloft, reflected at h_obs from above
        H, h_emit, h_obs, h_path, z_lo, z_hi = 700.0, 400.0, 600.0, 650.0, 600.0, 600.0 + 12 * sz
    n_z = 400
    z = z_lo + (np.arange(n_z) + 0.5) * (z_hi - z_lo) / n_z
    y = np.linspace(-10 * sy, 10 * sy, 401)
    g = np.array([[sk.stack_plume(x, yi, zi, H, sy, sz, u, h_emit, h_obs, h_path) for yi in y] for zi in z])
    flux = u * np.sum(trapezoid(g, y, axis=1)) * (z_hi - z_lo) / n_z
    assert flux == pytest.approx(1.0, abs=1e-6)


# --- the parallel kernel, through the driver ----------------------------------------------


def _met(n_hours, u=5.0, v=0.0, blh=800.0, t_air=290.0, p=101325.0):
    full = lambda value: np.broadcast_to(np.asarray(value, float), (n_hours,)).copy()  # noqa: E731
    return dict(eastward_wind=full(u), northward_wind=full(v), boundary_layer_height=full(blh),
                air_temperature=full(t_air), surface_pressure=full(p))


def _random_case(seed):
    rng = np.random.default_rng(seed)
    n_hours, n_rec, n_src = 20, 9, 7
    nan = np.nan
    sources = StackSources(
        x_m=rng.uniform(-3000.0, 3000.0, n_src),
        y_m=rng.uniform(-3000.0, 3000.0, n_src),
        stack_height_m=np.array([200.0, 60.0, 30.0, 120.0, 5.0, 250.0, 80.0]),
        buoyancy_flux_m4_s3=np.array([nan, nan, nan, 300.0, nan, 40.0, nan]),
        exit_velocity_m_s=np.array([20.0, 4.0, 25.0, nan, nan, 15.0, 3.0]),
        exit_temperature_k=np.array([420.0, 450.0, 297.0, nan, nan, 400.0, nan]),
        diameter_m=np.array([6.0, 2.0, 1.0, nan, nan, 4.0, 1.5]),
    )
    angle = rng.uniform(0.0, 2 * np.pi)  # mostly steady direction, so plumes hit receptors
    speed = rng.uniform(0.5, 9.0, n_hours)
    turn = angle + rng.normal(0.0, 0.25, n_hours)
    met = _met(n_hours, speed * np.cos(turn), speed * np.sin(turn),
               rng.choice([150.0, 300.0, 600.0, 1200.0], n_hours), rng.uniform(265.0, 305.0, n_hours),
               rng.uniform(95e3, 102e3, n_hours))
    met["eastward_wind"][7] = met["northward_wind"][7] = 0.0  # a calm hour
    stability = rng.integers(0, 6, n_hours)
    dist = rng.uniform(500.0, 40e3, n_rec)
    rec_x = dist * np.cos(angle) + rng.normal(0.0, 800.0, n_rec)
    rec_y = dist * np.sin(angle) + rng.normal(0.0, 800.0, n_rec)
    rec_x[0], rec_y[0] = -20e3 * np.cos(angle), -20e3 * np.sin(angle)  # upwind of everything
    rec_z = np.array([3.0, 10.0, 50.0, 300.0, 2.0, 30.0, 700.0, 5.0, 100.0])
    obs_hour = np.array([19, 15, 12, 19, 3, 10, 18, 1, 16])
    return sources, rec_x, rec_y, rec_z, obs_hour, met, stability


def _reference(sources, rec_x, rec_y, rec_z, obs_hour, met, stability, scheme, n_lags, integrate,
               rise=True, u_min=1.0, z_ref=10.0):
    src = dict(x=sources.x_m, y=sources.y_m, h=sources.stack_height_m, fb=sources.buoyancy_flux_m4_s3,
               vs=sources.exit_velocity_m_s, ts=sources.exit_temperature_k, d=sources.diameter_m)
    rec = dict(x=rec_x, y=rec_y, z=rec_z, hour=obs_hour)
    n_air = met["surface_pressure"] / (8.314462618 * met["air_temperature"])
    hourly = dict(u=met["eastward_wind"], v=met["northward_wind"], blh=met["boundary_layer_height"],
                  t=met["air_temperature"], cls=stability, n_air=n_air)
    return ref_sensitivities(src, rec, hourly, scheme, u_min, z_ref, rise, n_lags, integrate)


@pytest.mark.parametrize("scheme", [DispersionScheme.PASQUILL_GIFFORD, DispersionScheme.BRIGGS_URBAN])
def test_sensitivities_match_slow_reference(scheme):
    case = _random_case(3)
    settings = SimpleNamespace(dispersion=scheme, min_wind_speed_m_s=1.0)
    got = stack_sensitivities(*case, settings, hours_back=6)
    want = _reference(*case, scheme.code, 7, False)
    assert got.shape == (9, 7, 7)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    # the case exercises several lags, the upwind receptor, the aloft receptor and rise
    assert (got > 0).sum() > 40
    assert (got.sum(axis=(0, 1)) > 0).sum() >= 3
    assert np.all(got[0] == 0)
    no_rise = stack_sensitivities(*case, settings, hours_back=6, plume_rise=False)
    np.testing.assert_allclose(no_rise, _reference(*case, scheme.code, 7, False, rise=False), rtol=1e-12, atol=0)
    assert not np.allclose(no_rise, got)
    summed = stack_sensitivities(*case, settings, hours_back=6, integrate_lags=True)
    assert summed.shape == (9, 7)
    np.testing.assert_allclose(summed, got.sum(axis=2), rtol=1e-12, atol=0)


def test_lag_weights_sum_to_one_in_a_steady_wind():
    """tau = 2.3 h: lags 2 and 3 get 0.7 and 0.3 of the steady plume, nothing else."""
    source = StackSources.candidates([0.0], [0.0], 40.0)
    u_s = sk.stack_wind_speed(4.0, 40.0, 10.0, D, BRIGGS_URBAN, 1.0)
    x = 2.3 * 3600.0 * u_s
    n_hours = 30
    met = _met(n_hours, u=4.0, blh=900.0, t_air=285.0, p=100e3)
    sens = stack_sensitivities(source, [x], [150.0], [5.0], [25], met, np.full(n_hours, D), URBAN, 8)
    steady = sk.stack_plume(x, 150.0, 5.0, 40.0, ref_sigma_y(x, D, 1), ref_sigma_z(x, D, 1), u_s, 900.0, 900.0,
                            900.0)
    to_ppm = 1e6 / (44.0095e-3 * 100e3 / (8.314462618 * 285.0))
    weights = sens[0, 0] / (steady * to_ppm)
    np.testing.assert_allclose(weights, [0, 0, 0.7, 0.3, 0, 0, 0, 0, 0], rtol=1e-9, atol=1e-12)
    assert weights.sum() == pytest.approx(1.0, rel=1e-12)
    # lags reaching before the met origin are zero: observed in hour 2, only lag 2 is left
    early = stack_sensitivities(source, [x], [150.0], [5.0], [2], met, np.full(n_hours, D), URBAN, 8)
    np.testing.assert_allclose(early[0, 0], sens[0, 0] * (np.arange(9) == 2), rtol=1e-12, atol=0)


def test_receptor_upwind_gets_zero():
    source = StackSources(np.array([1000.0]), np.array([0.0]), np.array([100.0]),
                          exit_velocity_m_s=[15.0], exit_temperature_k=[400.0], diameter_m=[3.0])
    met = _met(12, u=-6.0, v=0.0)  # wind towards -x: the receptor at x = 5 km is upwind
    sens = stack_sensitivities(source, [5000.0], [0.0], [10.0], [11], met, np.full(12, C), URBAN, 10)
    assert np.all(sens == 0)
    met["eastward_wind"][:] = 6.0  # turned round: downwind now
    assert stack_sensitivities(source, [5000.0], [0.0], [10.0], [11], met, np.full(12, C), URBAN, 10).sum() > 0


def test_plume_aloft_gives_no_ground_signal_until_the_layer_grows_over_it():
    """A 300 m release above a 200 m layer: zero at the ground for every lag; once the
    layer has grown to 500 m the plume is fumigated, well mixed over the layer."""
    source = StackSources.candidates([0.0], [0.0], 300.0)
    n_hours = 16
    blh = np.where(np.arange(n_hours) < 10, 200.0, 500.0)
    met = _met(n_hours, u=3.0, blh=blh, t_air=288.0)
    stability = np.full(n_hours, E)
    x = 40e3
    sens = stack_sensitivities(source, [x] * 4, [0.0] * 4, [3.0, 3.0, 400.0, 3.0], [6, 9, 9, 10], met,
                               stability, URBAN, 8)
    u_s = sk.stack_wind_speed(3.0, 300.0, 10.0, E, BRIGGS_URBAN, 1.0)  # 3 * 30^0.3 = 8.325 m/s
    tau_h = x / u_s / 3600.0  # 1.335 h: lags 1 and 2
    assert 1.0 < tau_h < 2.0
    assert np.all(sens[0] == 0) and np.all(sens[1] == 0)  # ground, layer below the plume
    assert sens[2].sum() > 0  # a receptor at 400 m, above the layer, sees the plume aloft
    # hour 10: the emissions of hours 8 and 9 (lags 2, 1) were released above a 200 m
    # layer; the layer is now 500 m deep: fumigated, c = w / (sqrt(2 pi) u_s sigma_y h_obs)
    sy = ref_sigma_y(x, E, 1)
    to_ppm = 1e6 / (44.0095e-3 * 101325.0 / (8.314462618 * 288.0))
    mixed = 1.0 / (math.sqrt(2 * math.pi) * u_s * sy * 500.0) * to_ppm
    weights = np.array([0.0, 1.0 - abs(tau_h - 1), 1.0 - abs(tau_h - 2), 0, 0, 0, 0, 0, 0])
    np.testing.assert_allclose(sens[3, 0], weights * mixed, rtol=1e-12, atol=0)
    assert sens[3, 0].sum() > 0


def test_ppm_conversion_by_hand():
    """One value: 10 m candidate, receptor 1 km downwind at ground level, class D urban.

    u_s = u_10 = 4 m/s; tau = 250 s, so lag 0 carries w = 1 - 250/3600 = 0.930556.
    sigma_y = 0.16 * 1000 / sqrt(1.4) = 135.2247 m, sigma_z = 0.14 * 1000 / sqrt(1.3) = 122.7881 m.
    G = 2 exp(-10^2 / (2 sigma_z^2)) / (2 pi 4 sigma_y sigma_z) = 4.776805e-6 s m-3 (the lid
    at 10 km adds nothing). n_air = 101325 / (8.314462618 * 290) = 42.02275 mol m-3.
    ppm per (kg/s) = G / 0.0440095 kg/mol / n_air * 1e6 = 2.582895; times w = 2.403555.
    """
    met = _met(3, u=0.0, v=4.0, blh=10e3, t_air=290.0)  # wind towards +y this time
    sens = stack_sensitivities(StackSources.candidates([0.0], [0.0], 10.0), [0.0], [1000.0], [0.0], [2], met,
                               np.full(3, D), URBAN, 2)
    assert sens[0, 0, 0] == pytest.approx(2.582895 * 0.9305556, rel=1e-6)
    assert sens[0, 0, 1] == pytest.approx(2.582895 * 250.0 / 3600.0, rel=1e-6)


def test_candidates_are_stacks_without_rise():
    case = list(_random_case(8))
    sources = case[0]
    case[0] = StackSources.candidates(sources.x_m, sources.y_m, 60.0)
    assert np.isnan(case[0].exit_velocity_m_s).all() and case[0].size == 7
    with_rise = stack_sensitivities(*case, URBAN, hours_back=4)
    case_flat = list(case)
    case_flat[0] = StackSources(sources.x_m, sources.y_m, np.full(7, 60.0), exit_velocity_m_s=np.full(7, 30.0),
                                exit_temperature_k=np.full(7, 500.0), diameter_m=np.full(7, 5.0))
    no_rise = stack_sensitivities(*case_flat, URBAN, hours_back=4, plume_rise=False)
    np.testing.assert_array_equal(with_rise, no_rise)
    assert with_rise.sum() > 0


# --- input validation -----------------------------------------------------------------


def test_stack_sources_validate_their_inputs():
    with pytest.raises(ValueError, match="stack_height_m must be >= 0"):
        StackSources([0.0], [0.0], [-1.0])
    with pytest.raises(ValueError, match="y_m has length 1; expected 2"):
        StackSources([0.0, 1.0], [0.0], [10.0, 10.0])
    with pytest.raises(ValueError, match="x_m has 1 NaN"):
        StackSources([np.nan], [0.0], [10.0])
    with pytest.raises(ValueError, match="diameter_m must be > 0"):
        StackSources([0.0], [0.0], [10.0], diameter_m=[0.0])
    with pytest.raises(ValueError, match="exit_temperature_k has infinite"):
        StackSources([0.0], [0.0], [10.0], exit_temperature_k=[np.inf])
    sources = StackSources([0.0], [0.0], [10.0], buoyancy_flux_m4_s3=[np.nan])
    with pytest.raises(ValueError):
        sources.x_m[0] = 5.0  # stored read-only


def test_driver_validates_its_inputs():
    sources = StackSources.candidates([0.0], [0.0], 20.0)
    met = _met(5)
    stab = np.full(5, D)
    good = dict(sources=sources, receptor_x=[100.0], receptor_y=[0.0], receptor_z=[2.0], obs_hour=[4], met=met,
                stability=stab, settings=URBAN, hours_back=3)

    def call(**changes):
        return stack_sensitivities(**{**good, **changes})

    assert call().shape == (1, 1, 4)
    for changes, message in [
        (dict(receptor_y=[0.0, 1.0]), "receptor_y has length 2; expected 1"),
        (dict(receptor_z=[-1.0]), "receptor_z must be >= 0"),
        (dict(receptor_x=[np.nan]), "receptor_x has 1 NaN"),
        (dict(obs_hour=[5]), r"obs_hour must lie in 0..4"),
        (dict(obs_hour=[1.0]), "integer hour"),
        (dict(stability=np.full(5, 6)), "0..5"),
        (dict(stability=np.full(4, 3)), r"expected \(5,\)"),
        (dict(met={k: v for k, v in met.items() if k != "air_temperature"}), "missing air_temperature"),
        (dict(met={**met, "boundary_layer_height": np.zeros(5)}), "must be > 0"),
        (dict(met={**met, "eastward_wind": np.ones(4)}), "one value per hour.*.eastward_wind.: 4"),
        (dict(hours_back=-1), "hours_back"),
        (dict(settings=SimpleNamespace(min_wind_speed_m_s=1.0)), "dispersion"),
        (dict(settings=SimpleNamespace(dispersion=DispersionScheme.BRIGGS_URBAN, min_wind_speed_m_s=0.0)),
         "min_wind_speed_m_s must be > 0"),
        (dict(sources="stack"), "StackSources"),
    ]:
        with pytest.raises(ValueError, match=message):
            call(**changes)
    with pytest.raises(StackInputError, match="reference_height_m"):
        call(reference_height_m=0.0)


def test_rise_reference_agrees_with_kernel_on_random_stacks():
    """The building blocks against stack_reference.ref_rise over all classes and flags."""
    rng = np.random.default_rng(11)
    for _ in range(400):
        cls = int(rng.integers(0, 6))
        t_a = rng.uniform(260.0, 310.0)
        known = rng.random(4) < 0.7
        fb = rng.uniform(0.0, 800.0) if known[0] and rng.random() < 0.4 else np.nan
        v_s = rng.uniform(0.0, 30.0) if known[1] else np.nan
        t_s = t_a + rng.uniform(-10.0, 200.0) if known[2] else np.nan
        d = rng.uniform(0.3, 8.0) if known[3] else np.nan
        h_s = rng.uniform(0.0, 300.0)
        u_s = rng.uniform(1.0, 15.0)
        got = sk.stack_rise(h_s, u_s, cls, t_a, fb, v_s, t_s, d)
        want = ref_rise(h_s, u_s, cls, t_a, fb, v_s, t_s, d)
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=0)
