"""The backward particle model: kernels against slow references, and physics.

Statistical tests use fixed seeds (deterministic) with tolerances of several standard
errors; each physics test also shows that the property it checks can fail.
"""

import dataclasses
import math

import numba
import numpy as np
import particle_reference as ref
import pytest
from scipy import stats

from cityflux.metfield import MetField
from cityflux.transport import particle_kernels as pk
from cityflux.transport.footprints import observation_operator
from cityflux.transport.particles import (
    EDGE_NAMES,
    ParticleSettings,
    Turbulence,
    pack_met,
    particle_footprints,
    particle_trajectories,
    receptor_footprint,
)

T0 = np.datetime64("2024-07-01T00:00", "ns")


def column_met(nt=49, u=5.0, v=0.0, h=1000.0, ustar=0.4, obukhov=-50.0, temperature=293.0,
               pressure=101325.0):
    """A single column (uniform in space), constant in time."""
    time = T0 + np.arange(nt) * np.timedelta64(1, "h")
    z = np.array([10.0, 100.0, 1000.0, 3000.0])
    s4, s3 = (nt, z.size, 1, 1), (nt, 1, 1)
    return MetField(time, np.array([0.0]), np.array([0.0]), z, np.full(s4, u), np.full(s4, v),
                    np.zeros(s4), np.full(s3, h), np.full(s3, ustar), np.full(s3, obukhov),
                    np.full(s3, temperature), np.full(s3, pressure), np.full(s3, 0.5))


def small_met(seed=0):
    """A small 3-D field with everything varying, for the comparisons with the reference."""
    rng = np.random.default_rng(seed)
    nt, nz, ny, nx = 5, 3, 4, 5
    time = T0 + np.arange(nt) * np.timedelta64(1, "h")
    x = -2000.0 + 1000.0 * np.arange(nx)
    y = -1500.0 + 1000.0 * np.arange(ny)
    z = np.array([10.0, 200.0, 1500.0])
    s4, s3 = (nt, nz, ny, nx), (nt, ny, nx)
    u = 2.0 + rng.normal(0, 1.0, s4)
    v = 1.0 + rng.normal(0, 1.0, s4)
    w = rng.normal(0, 0.01, s4)
    blh = rng.uniform(300, 900, s3)
    ustar = rng.uniform(0.15, 0.5, s3)
    obukhov = rng.choice([-30.0, -200.0, 2000.0, 60.0, 300.0], s3)
    return MetField(time, x, y, z, u, v, w, blh, ustar, obukhov,
                    rng.uniform(280, 300, s3), rng.uniform(95000, 102000, s3),
                    np.full(s3, 0.3))


def settings_dict(settings: ParticleSettings) -> dict:
    out = dataclasses.asdict(settings)
    out["turbulence"] = settings.turbulence.value
    return out


# --- random numbers -------------------------------------------------------------------


@pytest.mark.parametrize("seed, rkey, particle", [(0, 0, 0), (1, 2 ** 63 + 5, 17),
                                                  (123456789, 987654321, 999)])
def test_random_stream_matches_integer_reference(seed, rkey, particle):
    key = np.uint64(pk.particle_key(seed, np.uint64(rkey), particle))
    assert int(key) == ref.particle_key(seed, rkey, particle)
    for n in (0, 1, 2, 3, 1000, 2 ** 31 + 7):
        assert int(pk.draw(key, n)) == ref.draw(int(key), n)
        assert pk.uniform_pair(key, n) == ref.uniforms(int(key), n)


def test_receptor_key_matches_reference():
    values = np.array([1.5, -2e4, 3.25, np.pi, 10.0, 10.0, 1.7e9])
    assert int(pk.receptor_key(values)) == ref.receptor_key(values)
    values[3] += 1e-12
    assert int(pk.receptor_key(values)) != ref.receptor_key(values[:-1])


def test_normal_quantile_matches_scipy():
    p = np.concatenate([np.linspace(1e-9, 1 - 1e-9, 20001), [2.0 ** -33, 1e-300, 0.075,
                                                              0.0749, 0.925, 1 - 2.0 ** -33]])
    got = np.array([pk.std_normal(q) for q in p])
    want = np.array([ref.normal(q) for q in p])
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-14)


def test_normals_are_standard_and_independent():
    key = pk.particle_key(7, np.uint64(11), 3)
    draws = np.array([pk.normals3(key, 2 * i) for i in range(30000)]).ravel()
    assert abs(draws.mean()) < 4 / math.sqrt(draws.size)
    assert abs(draws.var() - 1) < 4 * math.sqrt(2 / draws.size)
    assert stats.kstest(draws, "norm").pvalue > 0.01
    assert abs(np.corrcoef(draws[:-1], draws[1:])[0, 1]) < 4 / math.sqrt(draws.size)


# --- meteorology and turbulence -------------------------------------------------------


@pytest.mark.parametrize("met", [small_met(), column_met(nt=3)], ids=["3d", "column"])
def test_met_interpolation_matches_reference(met):
    packed = pack_met(met)
    wf, sf, dims = pk.flat_met(packed.wind, packed.surf)
    rmet = ref.RefMet(met)
    rng = np.random.default_rng(3)
    kt = kz = 0
    for _ in range(300):
        t = rng.uniform(-1800, packed.met_t[-1] + 1800)
        x, y = rng.uniform(-4000, 4000, 2)
        z = rng.uniform(-5, 3500)
        got = pk.met_at(wf, sf, packed.zlev, packed.met_t, packed.met_axes, dims, t, x, y,
                        z, kt, kz)
        kt, kz = got[8], got[9]
        want = rmet(t, x, y, z)
        np.testing.assert_allclose(got[:8], [want[k] for k in ("u", "v", "w", "h", "ustar",
                                                                 "inv_l", "rho", "inv_hrho")],
                                   rtol=1e-12, atol=1e-12)


REGIMES = [(1000.0, 0.4, -50.0), (1000.0, 0.4, -10.0), (1500.0, 0.3, -700.0),
           (800.0, 0.4, 1e9), (800.0, 0.4, -1e9), (200.0, 0.2, 50.0), (100.0, 0.05, 10.0),
           (400.0, 0.3, 500.0)]
HEIGHTS = np.array([0.0, 1e-3, 0.5, 0.01, 0.029, 0.0301, 0.05, 0.0999, 0.1001, 0.2, 0.3992,
                    0.4, 0.5, 0.9, 0.959, 0.961, 0.999, 1.0])


@pytest.mark.parametrize("h, ustar, obukhov", REGIMES)
def test_hanna_profiles_match_reference(h, ustar, obukhov):
    settings = ParticleSettings()
    s, sd = settings.to_array(), settings_dict(settings)
    for zeta in HEIGHTS:
        got = pk.hanna_turbulence(zeta * h, h, ustar, 1.0 / obukhov, s)
        want = ref.hanna(zeta * h, h, ustar, 1.0 / obukhov, sd)
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-15)


@pytest.mark.parametrize("h, ustar, obukhov", REGIMES)
def test_drift_term_is_the_derivative_of_sigma_w(h, ustar, obukhov):
    """The drift must be d(sigma_w)/dz of the very profile used, or the layer unmixes."""
    s = ParticleSettings().to_array()
    il = 1.0 / obukhov
    for zeta in np.linspace(0.005, 0.995, 199):
        z, dz = zeta * h, 1e-4 * h
        lo, hi = (pk.hanna_turbulence(z + d, h, ustar, il, s)[2] for d in (-dz, dz))
        slope = pk.hanna_turbulence(z, h, ustar, il, s)[3]
        fd = (hi - lo) / (2 * dz)
        if abs(hi - lo) > 0 and (abs(fd - slope) > 1e-3 * abs(fd) + 1e-9):
            # only at a kink of the profile (piece boundaries or the sigma_w floor)
            left = (pk.hanna_turbulence(z, h, ustar, il, s)[2] - lo) / dz
            right = (hi - pk.hanna_turbulence(z, h, ustar, il, s)[2]) / dz
            assert min(abs(slope - left), abs(slope - right)) < 1e-2 * abs(slope) + 1e-7, zeta
        # continuity: no jump in sigma_w anywhere (a jump is an infinite drift): the change
        # over 2 dz is what the slopes around allow
        slopes = [abs(pk.hanna_turbulence(z + d, h, ustar, il, s)[3]) for d in (-dz, 0, dz)]
        assert abs(hi - lo) <= 2 * dz * max(slopes) * 1.01 + 1e-12, zeta
    # Hanna's own profile jumps at zeta = 0.03; ours does not
    for zeta in (0.03, 0.0, 1.0):
        below = pk.hanna_turbulence(zeta * h - 1e-7, h, ustar, il, s)[2]
        above = pk.hanna_turbulence(zeta * h + 1e-7, h, ustar, il, s)[2]
        assert abs(above - below) < 1e-6


@pytest.mark.parametrize("h, ustar, obukhov", REGIMES)
def test_step_lengths_match_reference(h, ustar, obukhov):
    settings = ParticleSettings()
    s, sd = settings.to_array(), settings_dict(settings)
    il = 1.0 / obukhov
    wstar, su_conv = pk.convective_scales(h, ustar, il)
    for inside in (True, False):
        got = pk.step_lengths(h, ustar, il, wstar, su_conv, inside, s)
        want = ref.step_lengths(h, ustar, il, inside, sd)
        np.testing.assert_allclose(got, want, rtol=1e-12)


# --- whole kernels against the reference ----------------------------------------------


def _settings_for_reference(**kw):
    settings = ParticleSettings(strict_met_time=False, top_height_m=1200.0, **kw)
    return settings, settings_dict(settings)


@pytest.mark.parametrize("release", [
    (0.0, 0.0, 0.0, 0.0, 20.0, 20.0),            # point receptor
    (-800.0, -300.0, 600.0, 500.0, 5.0, 5.0),    # path
    (200.0, 100.0, 200.0, 100.0, 0.0, 900.0),    # column
], ids=["point", "path", "column"])
def test_footprint_kernel_matches_reference(release):
    met = small_met(1)
    settings, sd = _settings_for_reference()
    packed = pack_met(met)
    grid_axes = (-2500.0, 700.0, 7, -2000.0, 800.0, 5)
    grid = np.array([grid_axes[0], grid_axes[1], grid_axes[3], grid_axes[4]])
    release = np.array(release)
    t_release, rkey, seed, n, hours = 3.6 * 3600.0, 12345, 3, 6, 2
    foot, exits, n_steps, _ = receptor_footprint(packed, grid, 7, 5, release, t_release, rkey,
                                              seed, n, hours, settings)
    want_foot, want_exits = ref.footprint(ref.RefMet(met), sd, grid_axes, release, t_release,
                                          rkey, seed, n, hours)
    assert foot.sum() > 0
    np.testing.assert_allclose(foot, want_foot, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(exits, want_exits, rtol=1e-8, atol=1e-6)
    assert np.all(n_steps[:, 1] >= n_steps[:, 0])


@pytest.mark.parametrize("turbulence", list(Turbulence))
def test_trajectory_kernel_matches_reference(turbulence):
    met = small_met(2)
    settings, sd = _settings_for_reference(turbulence=turbulence, thomson_drift=True)
    x0, y0, z0 = np.array([0.0, 500.0, -900.0]), np.array([0.0, -200.0, 700.0]), \
        np.array([5.0, 300.0, 2500.0])
    ages = np.array([30.0, 600.0, 3600.0, 5000.0])
    got = particle_trajectories(met, x0, y0, z0, T0 + np.timedelta64(4, "h"), ages, seed=5,
                                settings=settings, stream=77)
    rmet = ref.RefMet(met)
    for p in range(3):
        key = ref.particle_key(5, 77, p)
        _, _, positions, _ = ref.run_particle(rmet, sd, key, x0[p], y0[p], z0[p], 4 * 3600.0,
                                              ages[-1], targets=ages)
        np.testing.assert_allclose(got[p], positions, rtol=1e-8, atol=1e-6)


def test_smoothing_matches_reference_and_keeps_mass_inside():
    rng = np.random.default_rng(4)
    field = np.zeros((9, 11))
    field[3:6, 4:8] = rng.uniform(0, 1, (3, 4))
    out = np.empty_like(field)
    pk.smooth_field(field, 900.0, 1000.0, 800.0, out)
    np.testing.assert_allclose(out, ref.gaussian_smooth(field, 900.0, 1000.0, 800.0),
                               rtol=1e-12, atol=1e-15)
    assert np.count_nonzero(out) > np.count_nonzero(field)
    big = np.zeros((25, 25))
    big[11:14, 10:15] = 1.0
    out = np.empty_like(big)
    pk.smooth_field(big, 900.0, 1000.0, 800.0, out)
    assert abs(out.sum() - big.sum()) < 1e-4 * big.sum()  # erf weights truncated at 4 sigma


# --- physics --------------------------------------------------------------------------


def test_homogeneous_turbulence_follows_taylor():
    """sigma^2 = 2 sigma_u^2 T_L [t - T_L (1 - exp(-t / T_L))] (Taylor 1921)."""
    sigma, tl, n = 1.2, 100.0, 20000
    settings = ParticleSettings(turbulence=Turbulence.HOMOGENEOUS, homogeneous_sigma_uv=sigma,
                                homogeneous_sigma_w=0.3, homogeneous_tl=tl,
                                strict_met_time=False)
    met = column_met(nt=2, u=0.0, v=0.0)
    ages = np.array([30.0, 100.0, 300.0, 1000.0, 3000.0, 7200.0])
    pos = particle_trajectories(met, np.zeros(n), np.zeros(n), np.full(n, 5e4),
                                T0 + np.timedelta64(1, "h"), ages, seed=1, settings=settings)
    taylor = 2 * sigma ** 2 * tl * (ages - tl * (1 - np.exp(-ages / tl)))
    spread = 0.5 * (pos[:, :, 0].var(axis=0) + pos[:, :, 1].var(axis=0))
    np.testing.assert_allclose(spread, taylor, rtol=0.03)
    # ... which neither the ballistic nor the diffusive limit would pass at t ~ T_L
    assert abs(spread[2] / (sigma * ages[2]) ** 2 - 1) > 0.2
    assert abs(spread[2] / (2 * sigma ** 2 * tl * ages[2]) - 1) > 0.2


WELL_MIXED_CASES = {
    "convective": dict(h=1000.0, ustar=0.4, obukhov=-50.0),
    "strongly convective": dict(h=1500.0, ustar=0.3, obukhov=-10.0),
    "stable": dict(h=200.0, ustar=0.2, obukhov=50.0),
}


def _well_mixed_pvalue(case, drift, n=20000, hours=3.0):
    met = column_met(nt=2, u=0.0, **case)
    h = case["h"]
    z0 = (np.arange(n) + 0.5) / n * h
    settings = ParticleSettings(thomson_drift=drift, strict_met_time=False)
    pos = particle_trajectories(met, np.zeros(n), np.zeros(n), z0, T0 + np.timedelta64(1, "h"),
                                [hours * 3600.0], seed=2, settings=settings)
    z = pos[:, 0, 2]
    assert z.min() >= 0 and z.max() <= h
    counts = np.histogram(z, bins=20, range=(0, h))[0]
    return stats.chisquare(counts).pvalue, counts


@pytest.mark.parametrize("case", list(WELL_MIXED_CASES))
def test_well_mixed_layer_stays_well_mixed(case):
    """A uniform distribution in [0, h] stays uniform after many T_L (chi-square, 20 bins,
    20,000 particles: a 3 % bias in one bin is detected)."""
    p_with, counts = _well_mixed_pvalue(WELL_MIXED_CASES[case], drift=True)
    assert p_with > 0.01, counts
    p_without, counts = _well_mixed_pvalue(WELL_MIXED_CASES[case], drift=False)
    assert p_without < 1e-6, counts


class _Receptors:
    """Receptors with the optional path and column attributes."""

    def __init__(self, x, y, height, hour, x2=None, y2=None, height_top=None):
        self.x, self.y, self.height, self.hour = (np.atleast_1d(np.asarray(a)) for a in
                                                  (x, y, height, hour))
        self.x2 = None if x2 is None else np.atleast_1d(np.asarray(x2, float))
        self.y2 = None if y2 is None else np.atleast_1d(np.asarray(y2, float))
        self.height_top = None if height_top is None else np.atleast_1d(
            np.asarray(height_top, float))


def _run(met, receptors, n=2000, hours_back=6, settings=None, seed=0,
         grid=(-160e3, 2000.0, 170, -160e3, 2000.0, 170)):
    return particle_footprints(met, grid, receptors, T0, n_particles=n,
                               hours_back=hours_back, seed=seed, settings=settings)


def _hourly(fp, hours_back):
    return np.array([fp.values[fp.hours_back == k].sum() for k in range(hours_back)])


def _expected_hourly(h, temperature=293.0, pressure=101325.0):
    """3600 s x m_air / (h h_s) x integral over [0, h_s] of dz / rho(z), rho = rho_s
    exp(-z/H): particles well mixed over [0, h] spend half their time below h_s = h/2."""
    rho_s = pressure / (pk.R_DRY * temperature)
    scale = pk.R_DRY * temperature / pk.GRAVITY
    h_s = h / 2
    integral = scale * math.expm1(h_s / scale) / rho_s
    return 3600.0 * pk.M_AIR / (h * h_s) * integral


@pytest.mark.parametrize("obukhov", [-50.0, 1e9])
def test_mass_consistency_with_box_model(obukhov):
    """A uniform flux under a well-mixed layer in a uniform wind gives the box-model
    enhancement F T / (n_air h) (STILT's h_s = h/2 with the density of the lower half)."""
    h, hours = 1000.0, 6
    met = column_met(h=h, obukhov=obukhov)
    column = _Receptors(0.0, 0.0, 0.0, 30, height_top=h)
    fp, _ = _run(met, column, hours_back=hours)
    expected = _expected_hourly(h)
    hourly = _hourly(fp, hours)
    np.testing.assert_allclose(hourly, expected, rtol=0.04)
    assert abs(hourly.sum() / (hours * expected) - 1) < 0.02
    # the box model with the layer-mean density differs only by the density profile (~3 %)
    n_air = 101325.0 / (8.314462618 * 293.0)
    box = 3600.0 / (n_air * h)
    assert abs(hourly.sum() / (hours * box) - 1) < 0.05
    # through the observation operator: a uniform flux of 1 umol m-2 s-1 for 40 hours
    H = observation_operator(fp, 40, 1)
    assert abs(H.forward(np.ones(40 * fp.n_cells))[0] - hourly.sum()) < 1e-12
    if obukhov > 0:
        return  # neutral mixing through 1 km takes h^2 / K ~ 6 h: not yet mixed from a point
    # a point receptor near the ground: the same after the first hours (hour 0: near field)
    point = _Receptors(0.0, 0.0, 10.0, 30)
    fp, _ = _run(met, point, hours_back=hours, settings=ParticleSettings(
        hyper_near_field=False))
    hourly = _hourly(fp, hours)
    np.testing.assert_allclose(hourly[2:], expected, rtol=0.05)
    assert hourly[0] > 1.2 * expected  # not yet mixed: a test that could fail


@pytest.mark.parametrize("u, v", [(5.0, 0.0), (-3.0, 4.0)])
def test_footprint_centroid_moves_upwind_at_wind_speed(u, v):
    met = column_met(u=u, v=v)
    fp, _ = _run(met, _Receptors(0.0, 0.0, 0.0, 30, height_top=1000.0), hours_back=6)
    xc = (np.arange(170) + 0.5) * 2000.0 - 160e3
    for k in range(6):
        sel = fp.hours_back == k
        iy, ix = np.divmod(fp.cells[sel], 170)
        w = fp.values[sel]
        centroid = np.array([np.sum(w * xc[ix]), np.sum(w * xc[iy])]) / w.sum()
        expected = -(k + 0.5) * 3600.0 * np.array([u, v])
        assert np.linalg.norm(centroid - expected) < 0.02 * np.linalg.norm(expected), k


def test_same_seed_gives_identical_footprints_on_one_and_two_threads():
    met = small_met(3)
    rec = _Receptors([0.0, 500.0], [0.0, -300.0], [10.0, 50.0], [3, 4])
    settings = ParticleSettings(strict_met_time=False)
    grid = (-3000.0, 500.0, 12, -2500.0, 500.0, 10)
    threads = numba.get_num_threads()
    try:
        results = []
        for n_threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(n_threads)
            results.append(particle_footprints(met, grid, rec, T0, n_particles=301,
                                               hours_back=3, seed=9, settings=settings))
    finally:
        numba.set_num_threads(threads)
    (a, ea), (b, eb) = results
    for name in ("rows", "cells", "hours_back", "values"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    for name in ("hours_back", "x", "y", "height", "edge"):
        np.testing.assert_array_equal(getattr(ea, name), getattr(eb, name))
    c, _ = particle_footprints(met, grid, rec, T0, n_particles=301, hours_back=3, seed=10,
                               settings=settings)
    assert not np.array_equal(a.values[:50], c.values[:50])


def test_receptor_streams_do_not_depend_on_batching():
    met = small_met(3)
    settings = ParticleSettings(strict_met_time=False)
    grid = (-3000.0, 500.0, 12, -2500.0, 500.0, 10)
    both = _Receptors([0.0, 500.0], [0.0, -300.0], [10.0, 50.0], [3, 4])
    second = _Receptors([500.0], [-300.0], [50.0], [4])
    a, _ = particle_footprints(met, grid, both, T0, n_particles=50, hours_back=2, seed=1,
                               settings=settings)
    b, _ = particle_footprints(met, grid, second, T0, n_particles=50, hours_back=2, seed=1,
                               settings=settings)
    np.testing.assert_array_equal(a.values[a.rows == 1], b.values)


def _crosswind_profile(fp, k0=1):
    sel = fp.hours_back >= k0
    iy = fp.cells[sel] // 170
    return np.bincount(iy, weights=fp.values[sel], minlength=170)


def test_path_receptor_is_the_mean_of_points_along_it():
    met = column_met(u=5.0)
    y_ends = (-6000.0, 6000.0)
    path, _ = _run(met, _Receptors(0.0, y_ends[0], 10.0, 30, x2=0.0, y2=y_ends[1]), n=3000)
    n_points = 12
    ys = y_ends[0] + (np.arange(n_points) + 0.5) / n_points * (y_ends[1] - y_ends[0])
    points, _ = _run(met, _Receptors(np.zeros(n_points), ys, np.full(n_points, 10.0),
                                     np.full(n_points, 30)), n=500)
    mean_points = _crosswind_profile(points) / n_points
    got = _crosswind_profile(path)
    assert abs(got.sum() / mean_points.sum() - 1) < 0.03
    assert np.abs(got - mean_points).sum() / mean_points.sum() < 0.12
    single, _ = _run(met, _Receptors(0.0, 0.0, 10.0, 30), n=3000)
    single = _crosswind_profile(single)
    assert np.abs(single - mean_points).sum() / mean_points.sum() > 0.3


def test_hyper_near_field_raises_only_the_first_hours():
    met = column_met(obukhov=-50.0)
    rec = _Receptors(0.0, 0.0, 5.0, 30)
    on, _ = _run(met, rec, n=500, hours_back=4)
    off, _ = _run(met, rec, n=500, hours_back=4,
                  settings=ParticleSettings(hyper_near_field=False))
    h_on, h_off = _hourly(on, 4), _hourly(off, 4)
    assert h_on[0] > 1.1 * h_off[0]
    np.testing.assert_array_equal(h_on[1:], h_off[1:])
    column = _Receptors(0.0, 0.0, 0.0, 30, height_top=1000.0)
    a, _ = _run(met, column, n=200, hours_back=2)
    b, _ = _run(met, column, n=200, hours_back=2,
                settings=ParticleSettings(hyper_near_field=False))
    np.testing.assert_array_equal(a.values, b.values)


def test_particles_exit_upwind_through_the_right_edge():
    met = column_met(u=5.0, v=0.0)
    grid = (-20e3, 1000.0, 40, -20e3, 1000.0, 40)
    _, exits = _run(met, _Receptors(0.0, 0.0, 10.0, 30), n=500, hours_back=3, grid=grid)
    west = exits.edge == EDGE_NAMES.index("west")
    assert west.mean() > 0.95
    np.testing.assert_allclose(exits.x[west], -20e3)
    assert abs(np.median(exits.hours_back[west]) - 20e3 / 5.0 / 3600.0) < 0.03
    assert np.all(exits.height[west] >= 0)
    # a wind towards the south brings air from the north: particles leave northwards
    met = column_met(u=0.0, v=-5.0)
    _, exits = _run(met, _Receptors(0.0, 0.0, 10.0, 30), n=200, hours_back=3, grid=grid)
    assert (exits.edge == EDGE_NAMES.index("north")).mean() > 0.95
    # a particle that never leaves reports its last position and edge "none"
    met = column_met(u=0.0, v=0.0)
    _, exits = _run(met, _Receptors(0.0, 0.0, 10.0, 30), n=50, hours_back=1, grid=grid)
    assert np.all(exits.edge == 0) and np.all(exits.hours_back == 1.0)


def test_smoothing_spreads_the_footprint_and_keeps_its_total():
    met = column_met(u=5.0)
    rec = _Receptors(0.0, 0.0, 0.0, 30, height_top=1000.0)
    plain, _ = _run(met, rec, n=300, hours_back=4)
    smooth, _ = _run(met, rec, n=300, hours_back=4,
                     settings=ParticleSettings(smooth_factor=0.1))
    # (the Gaussian weights are cut at 4 sigma: 6e-5 of the mass)
    assert abs(smooth.values.sum() / plain.values.sum() - 1) < 1e-4
    assert smooth.values.size > 2 * plain.values.size


# --- inputs ---------------------------------------------------------------------------


@pytest.mark.parametrize("change, message", [
    (dict(grid_axes=(0.0, -1.0, 5, 0.0, 1.0, 5)), "dx, dy > 0"),
    (dict(grid_axes=(0.0, 1.0, 5.5, 0.0, 1.0, 5)), "nx must be a positive integer"),
    (dict(grid_axes=(0.0, 1.0, 5)), r"\(x0, dx, nx, y0, dy, ny\)"),
    (dict(receptors=_Receptors(1e6, 0.0, 10.0, 30)), "outside the footprint grid"),
    (dict(receptors=_Receptors(0.0, 0.0, -1.0, 30)), "height must be >= 0"),
    (dict(receptors=_Receptors(0.0, 0.0, 10.0, 30.5)), "integer hours"),
    (dict(receptors=_Receptors(0.0, 0.0, 10.0, 30, x2=1.0)), "x2 and y2 must both"),
    (dict(receptors=_Receptors(0.0, 0.0, 10.0, 30, height_top=5.0)), "height_top"),
    (dict(receptors=_Receptors(0.0, 0.0, 10.0, 2)), "needs meteorology from 24 h"),
    (dict(n_particles=0), "n_particles must be an integer >= 1"),
    (dict(hours_back=0), "hours_back must be an integer >= 1"),
    (dict(seed=-1), "seed must be an integer >= 0"),
    (dict(start="yesterday"), "start must be a numpy.datetime64"),
    (dict(settings={"step_fraction": 0.1}), "settings must be a ParticleSettings"),
])
def test_inputs_are_checked_with_clear_messages(change, message):
    kwargs = dict(met=column_met(), grid_axes=(-1e4, 1000.0, 20, -1e4, 1000.0, 20),
                  receptors=_Receptors(0.0, 0.0, 10.0, 30), start=T0, n_particles=10,
                  hours_back=24, seed=0, settings=None)
    kwargs.update(change)
    with pytest.raises(ValueError, match=message):
        particle_footprints(**kwargs)


def test_met_field_problems_are_named():
    met = column_met()
    bad = dataclasses.replace(met, blh=np.zeros_like(met.blh))
    with pytest.raises(ValueError, match="blh must be finite and positive"):
        pack_met(bad)
    bad = dataclasses.replace(met, u=met.u[:, :2])
    with pytest.raises(ValueError, match=r"MetField.u must have shape"):
        pack_met(bad)


@pytest.mark.parametrize("kw, message", [
    (dict(step_fraction=2.0), "step_fraction must be <= 1"),
    (dict(max_step_s=0.5), "min_step_s .* exceeds max_step_s"),
    (dict(turbulence="karman"), "turbulence must be one of"),
    (dict(hyper_near_field=1), "must be True or False"),
    (dict(min_blh=float("nan")), "finite number"),
])
def test_settings_are_checked(kw, message):
    with pytest.raises(ValueError, match=message):
        ParticleSettings(**kw)
