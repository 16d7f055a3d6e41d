"""Puff transport: numba kernels against slow numpy references, and physics.

The references below are written from the formulas in the module docstrings, with scipy
for interpolation and error functions, no windows and brute-force image sums.
"""

import math

import numpy as np
import pytest
import scipy.interpolate
import scipy.special

from cityflux.grid import Grid
from cityflux.synthetic import puff_kernels as K
from cityflux.synthetic import puffs
from cityflux.synthetic.winds import wind_field_dataset
from cityflux.transport.footprints import observation_operator
from cityflux.units import MOLAR_MASS_CO2, air_molar_density

CRS = "EPSG:32650"  # UTM 50N: projected, metres; the metric frame is the projection


# --- numpy references -------------------------------------------------------------------


def ref_taylor(sigma, t_l, tau):
    return 2 * sigma ** 2 * t_l * (tau - t_l * (1 - np.exp(-tau / t_l))) if tau > 0 else 0.0


def ref_turbulence(ustar, inv_l, h, min_sigma_v, min_tl):
    wstar = ustar * (-h * inv_l / 0.4) ** (1 / 3) if inv_l < 0 else 0.0
    sigma_v = max(np.hypot(1.3 * ustar, 0.58 * wstar), min_sigma_v)
    sigma_w = max(np.hypot(1.3 * ustar, 0.6 * wstar), 1e-3)
    c = 0.10 - 0.05 * np.clip(h * inv_l, -1, 1)
    return sigma_v, max(c * h / sigma_v, min_tl), sigma_w, max(c * h / sigma_w, 1.0)


def ref_reflected(z, z0, sigma, h):
    if z < 0 or z > h:
        return 0.0
    n = np.arange(-60, 61)
    g = lambda d: np.exp(-d ** 2 / (2 * sigma ** 2)) / (np.sqrt(2 * np.pi) * sigma)  # noqa: E731
    return float(np.sum(g(z - z0 + 2 * n * h) + g(z + z0 + 2 * n * h)))


class RefMet:
    """Trilinear interpolation with scipy, clamped to the grid (the kernels' rule)."""

    def __init__(self, met, axes):
        nt, ny, nx = met.shape[1:]
        self.t = (np.arange(nt) + 0.5) * 3600.0
        self.y = axes[2] + axes[3] * np.arange(ny)
        self.x = axes[0] + axes[1] * np.arange(nx)
        self.interp = [scipy.interpolate.RegularGridInterpolator((self.t, self.y, self.x), m)
                       for m in met]

    def __call__(self, t, x, y):
        p = (np.clip(t, self.t[0], self.t[-1]), np.clip(y, self.y[0], self.y[-1]),
             np.clip(x, self.x[0], self.x[-1]))
        return np.array([float(f(p)) for f in self.interp])


def ref_trajectory(met, axes, x, y, t_r, n_steps, dt, settings):
    at = RefMet(met, axes)
    nodes = [(x, y, settings[K.S_SIGMA_H0] ** 2, settings[K.S_SIGMA_Z0] ** 2,
              at(t_r, x, y)[K.MET_H])]
    steps = []
    for j in range(n_steps):
        t, tau = t_r - j * dt, j * dt
        m0 = at(t, x, y)
        m = at(t - dt / 2, x - dt / 2 * m0[K.MET_U], y - dt / 2 * m0[K.MET_V])
        x, y = x - dt * m[K.MET_U], y - dt * m[K.MET_V]
        sv, tlv, sw, tlw = ref_turbulence(m[K.MET_USTAR], m[K.MET_INV_L], m[K.MET_H],
                                          settings[K.S_MIN_SIGMA_V], settings[K.S_MIN_TL])
        steps.append((sv, tlv, sw, tlw, m[K.MET_H], m[K.MET_NAIR]))
        _, _, sh2, sz2, hmax = nodes[-1]
        nodes.append((x, y,
                      sh2 + ref_taylor(sv, tlv, tau + dt) - ref_taylor(sv, tlv, tau),
                      sz2 + ref_taylor(sw, tlw, tau + dt) - ref_taylor(sw, tlw, tau),
                      max(hmax, m[K.MET_H], at(t - dt, x, y)[K.MET_H])))
    return np.array(nodes), np.array(steps)


def ref_samples(nodes, steps, j, dt, resolution, settings):
    """(weight, tau, x, y, sigma_h, sigma_z, h_max, h, n_air) of every sample in step j."""
    dist = np.hypot(*(nodes[j + 1, :2] - nodes[j, :2]))
    n = math.ceil(2 * dist / max(np.sqrt(nodes[j, 2]), resolution))
    if j == 0:
        n = max(n, int(settings[K.S_FIRST_SUB]))
    n = min(max(n, 1), int(settings[K.S_MAX_SUB]))
    sv, tlv, sw, tlw, h, n_air = steps[j]
    for k in range(n):
        frac = (k + 0.5) / n
        tau = (j + frac) * dt
        x, y = nodes[j, :2] + frac * (nodes[j + 1, :2] - nodes[j, :2])
        sh2 = nodes[j, 2] + ref_taylor(sv, tlv, tau) - ref_taylor(sv, tlv, j * dt)
        sz2 = nodes[j, 3] + ref_taylor(sw, tlw, tau) - ref_taylor(sw, tlw, j * dt)
        yield dt / n, tau, x, y, np.sqrt(sh2), np.sqrt(sz2), max(nodes[j, 4], h), h, n_air


def ref_surface(met, axes, edges, nx, ny, rx, ry, rz, rt, n_steps, dt, hours_back, settings):
    xe = edges[0] + edges[1] * np.arange(nx + 1)
    ye = edges[2] + edges[3] * np.arange(ny + 1)
    out = np.zeros((rx.size, hours_back, nx * ny))
    for r in range(rx.size):
        nodes, steps = ref_trajectory(met, axes, rx[r], ry[r], rt[r], n_steps, dt, settings)
        for j in range(n_steps):
            for w, tau, x, y, sh, sz, hmax, _, n_air in ref_samples(
                    nodes, steps, j, dt, 0.5 * min(edges[1], edges[3]), settings):
                qx = np.diff(scipy.special.erf((xe - x) / (np.sqrt(2) * sh))) / 2
                qy = np.diff(scipy.special.erf((ye - y) / (np.sqrt(2) * sh))) / 2
                pz = ref_reflected(rz[r], 0.0, sz, hmax)
                out[r, int(tau // 3600)] += w * pz / n_air * np.outer(qy, qx).ravel()
    return out


def ref_point(met, axes, rx, ry, rz, rt, obs_hour, sx, sy, heights, n_steps, dt, hours_back,
              settings):
    out = np.zeros((rx.size, sx.size, hours_back))
    for r in range(rx.size):
        nodes, steps = ref_trajectory(met, axes, rx[r], ry[r], rt[r], n_steps, dt, settings)
        h_receptor = nodes[0, 4]
        for j in range(n_steps):
            hour = obs_hour[r] - int(j * dt // 3600)
            if not 0 <= hour < heights.shape[1]:
                continue
            for w, tau, x, y, sh, sz, hmax, h, n_air in ref_samples(nodes, steps, j, dt, 0.0,
                                                                    settings):
                for s in range(sx.size):
                    H = heights[s, hour]
                    if H <= h:
                        pz = ref_reflected(rz[r], H, sz, hmax)
                    elif hmax > H:
                        pz = 1 / hmax if rz[r] <= hmax else 0.0
                    elif rz[r] > h_receptor:
                        s2 = (settings[K.S_SIGMA_Z0] ** 2 +
                              ref_taylor(K.FREE_SIGMA_W, K.FREE_TL, tau))
                        pz = np.exp(-(rz[r] - H) ** 2 / (2 * s2)) / np.sqrt(2 * np.pi * s2)
                    else:
                        pz = 0.0
                    d2 = (sx[s] - x) ** 2 + (sy[s] - y) ** 2
                    ph = np.exp(-d2 / (2 * sh ** 2)) / (2 * np.pi * sh ** 2)
                    out[r, s, int(tau // 3600)] += w * ph * pz / n_air
    return out


# --- a tiny, varied case ------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny():
    """Winds varying in space and time, a growing boundary layer, 4 receptors."""
    rng = np.random.default_rng(3)
    nt, ny, nx = 5, 5, 6
    x = np.linspace(-6000.0, 6000.0, nx)
    y = np.linspace(-5000.0, 5000.0, ny)
    time = np.datetime64("2025-01-01T00") + np.arange(nt) * np.timedelta64(1, "h")
    u = 1.5 + rng.normal(0, 0.8, (nt, ny, nx))
    v = 0.5 + rng.normal(0, 0.8, (nt, ny, nx))
    blh = np.linspace(150, 900, nt)[:, None, None] * (1 + 0.2 * rng.random((nt, ny, nx)))
    obukhov = rng.choice([-30.0, -300.0, 80.0, 1e4], (nt, ny, nx))
    ustar = 0.15 + 0.3 * rng.random((nt, ny, nx))
    field = wind_field_dataset(time, x, y, u, v, blh, 285 + rng.random((nt, ny, nx)),
                               1e5 + 500 * rng.random((nt, ny, nx)), obukhov, ustar)
    arrays = puffs.met_arrays(field)
    settings = puffs.PuffSettings(hours_back=2, step_s=600.0, first_step_samples=12,
                                  max_step_samples=16, window_sigmas=1e3)
    # The last receptor stands above the morning layer (tests puffs aloft reaching it).
    receptors = dict(x=np.array([0.0, 1500.0, -2500.0, -1000.0]),
                     y=np.array([0.0, -800.0, 1200.0, -1500.0]),
                     z=np.array([30.0, 120.0, 5.0, 700.0]), hour=np.array([2, 3, 4, 1]))
    return field, arrays, settings, receptors


def test_reflected_gaussian_matches_brute_force_images():
    for z, z0, sigma, h in [(30, 0, 10, 500), (100, 250, 120, 300), (0, 0, 200, 400),
                            (390, 10, 260, 400), (50, 80, 2000, 600), (10, 0, 0.5, 100),
                            (700, 0, 50, 600)]:
        assert K.reflected_gaussian(z, z0, sigma, h) == pytest.approx(
            ref_reflected(z, z0, sigma, h), rel=1e-12, abs=1e-300)


def test_turbulence_and_taylor_match_reference():
    for ustar, inv_l, h in [(0.3, -1 / 20, 1500), (0.4, 1e-6, 800), (0.2, 1 / 50, 200),
                            (0.05, 1 / 10, 60), (0.5, -1 / 500, 1000)]:
        np.testing.assert_allclose(K.mixed_layer_turbulence(ustar, inv_l, h, 0.3, 300.0),
                                   ref_turbulence(ustar, inv_l, h, 0.3, 300.0), rtol=1e-12)
    for tau in (0.0, 200.0, 300.0, 1e5):
        assert K.taylor_variance(1.1, 250.0, tau) == pytest.approx(ref_taylor(1.1, 250.0, tau),
                                                                   rel=1e-12, abs=0)
    for tau in (1e-3, 1.0, 12.0):  # short times, where the formula cancels: its series
        x = tau / 250.0
        series = 2 * 1.1 ** 2 * 250.0 ** 2 * sum((-x) ** n / math.factorial(n)
                                                  for n in range(2, 14))
        assert K.taylor_variance(1.1, 250.0, tau) == pytest.approx(series, rel=1e-9)


def test_trajectory_matches_reference(tiny):
    _, arrays, settings, rec = tiny
    n, dt = settings.n_steps, settings.step_s
    nodes = np.empty((n + 1, K.N_NODE))
    steps = np.empty((n, K.N_STEP))
    for t_r in (2.5 * 3600, 4.9 * 3600, 0.2 * 3600):  # inside, near the end, before the start
        K.back_trajectory(arrays.met, arrays.axes, 7000.0, -200.0, t_r, n, dt,
                          settings.kernel_array(), nodes, steps)
        want_nodes, want_steps = ref_trajectory(arrays.met, arrays.axes, 7000.0, -200.0, t_r,
                                                n, dt, settings.kernel_array())
        np.testing.assert_allclose(nodes, want_nodes, rtol=1e-10)
        np.testing.assert_allclose(steps, want_steps, rtol=1e-10)


def test_surface_footprints_match_reference(tiny):
    field, arrays, settings, rec = tiny
    grid = Grid(CRS, -4000.0, 4000.0, 1000.0, -3000.0, 3500.0, 500.0)
    fp = puffs.surface_footprints(field, grid, rec["x"], rec["y"], rec["z"], rec["hour"], settings)
    release = (rec["hour"] + settings.release_offset_hours) * 3600.0
    want = ref_surface(arrays.met, arrays.axes, np.array([-4000.0, 1000.0, -3000.0, 500.0]),
                       grid.nx, grid.ny, rec["x"], rec["y"], rec["z"], release,
                       settings.n_steps, settings.step_s, settings.hours_back,
                       settings.kernel_array())
    got = np.zeros_like(want)
    got[fp.rows, fp.hours_back, fp.cells] = fp.values
    assert want.max() > 0
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12 * want.max())
    # The default window (4 sigma) loses only the Gaussian's tails.
    windowed = puffs.surface_footprints(field, grid, rec["x"], rec["y"], rec["z"], rec["hour"],
                                        puffs.PuffSettings(hours_back=2, step_s=600.0,
                                                           first_step_samples=12,
                                                           max_step_samples=16))
    np.testing.assert_allclose(windowed.time_integrated().sum(axis=1).A.ravel(),
                               want.sum(axis=(1, 2)), rtol=1e-3)


def test_point_sources_match_reference(tiny):
    field, arrays, settings, rec = tiny
    sx = np.array([-3000.0, -1000.0, 500.0, -6000.0])
    sy = np.array([-1500.0, 0.0, -1000.0, -3000.0])
    heights = np.array([[750.0, 100.0, 400.0, 300.0, 900.0],
                        [50.0, 50.0, 50.0, 50.0, 50.0],
                        [600.0, 600.0, 250.0, 1200.0, 30.0],
                        [200.0, 300.0, 400.0, 500.0, 600.0]])
    got = puffs.point_source_sensitivities(field, rec["x"], rec["y"], rec["z"], rec["hour"],
                                           sx, sy, heights, settings)
    release = (rec["hour"] + settings.release_offset_hours) * 3600.0
    want = ref_point(arrays.met, arrays.axes, rec["x"], rec["y"], rec["z"], release, rec["hour"],
                     sx, sy, heights, settings.n_steps, settings.step_s, settings.hours_back,
                     settings.kernel_array()) * 1e6 / MOLAR_MASS_CO2
    assert got.attrs["units"] == puffs.POINT_SENSITIVITY_UNITS
    assert want.max() > 0 and (want == 0).any()
    np.testing.assert_allclose(got.values, want, rtol=1e-9, atol=1e-12 * want.max())


def test_chunking_does_not_change_footprints(tiny, monkeypatch):
    field, _, settings, rec = tiny
    grid = Grid(CRS, -4000.0, 4000.0, 1000.0, -3000.0, 3500.0, 500.0)
    whole = puffs.surface_footprints(field, grid, rec["x"], rec["y"], rec["z"], rec["hour"],
                                     settings)
    monkeypatch.setattr(puffs, "_BUFFER_VALUES", 1)  # one receptor per chunk
    pieces = puffs.surface_footprints(field, grid, rec["x"], rec["y"], rec["z"], rec["hour"],
                                      settings)
    np.testing.assert_array_equal(observation_operator(whole, 5, 1).matrix.toarray(),
                                  observation_operator(pieces, 5, 1).matrix.toarray())


# --- physics ------------------------------------------------------------------------------


def test_uniform_wind_trajectory_is_straight_and_footprint_centroid_upwind(uniform_field):
    speed, hours = 1.5, 8
    field = uniform_field(u=speed, v=0.0)
    trajectory = puffs.back_trajectory(field, 0.0, 0.0, 20, puffs.PuffSettings(hours_back=hours))
    np.testing.assert_allclose(trajectory["x"].values, -speed * trajectory["back_time"].values,
                               rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(trajectory["y"].values, 0.0, atol=1e-9)

    grid = Grid(CRS, -60000.0, 5000.0, 1000.0, -20000.0, 20000.0, 1000.0)
    fp = puffs.surface_footprints(field, grid, [0.0], [0.0], [500.0], np.array([20]),
                                  puffs.PuffSettings(hours_back=hours))
    cell_x = np.tile(grid.x, grid.ny)
    for k in range(1, hours):
        mine = fp.hours_back == k
        centroid = np.sum(fp.values[mine] * cell_x[fp.cells[mine]]) / fp.values[mine].sum()
        assert centroid == pytest.approx(-(k + 0.5) * 3600 * speed, rel=0.02)


def test_mass_consistency_box_model(uniform_field):
    """Uniform flux, well-mixed layer, uniform wind: Δc = F τ / (h n_air)."""
    h, hours, flux = 1000.0, 24, 2.5  # m, h, µmol m-2 s-1
    field = uniform_field(u=1.0, blh=h, obukhov=-50.0, ustar=0.4)
    grid = Grid(CRS, -110000.0, 10000.0, 2000.0, -30000.0, 30000.0, 2000.0)
    fp = puffs.surface_footprints(field, grid, [0.0], [0.0], [0.5 * h], np.array([hours]),
                                  puffs.PuffSettings(hours_back=hours))
    n_air = air_molar_density(1.0e5, 290.0)
    per_hour = np.bincount(fp.hours_back, fp.values, minlength=hours)
    # Well mixed after the first hour: every hour's footprint is 3600 s / (h n_air).
    np.testing.assert_allclose(per_hour[1:], 3600.0 / (h * n_air), rtol=1e-3)
    enhancement = observation_operator(fp, hours + 1, 1).forward(
        np.full((hours + 1) * grid.size, flux))[0]
    assert enhancement == pytest.approx(flux * hours * 3600.0 / (h * n_air), rel=0.01)


def test_taylor_spread(uniform_field):
    ustar, obukhov, h = 0.35, -40.0, 1200.0
    field = uniform_field(blh=h, obukhov=obukhov, ustar=ustar)
    settings = puffs.PuffSettings(hours_back=6)
    trajectory = puffs.back_trajectory(field, 0.0, 0.0, 10, settings)
    sigma_v, t_l, sigma_w, t_lw = ref_turbulence(ustar, 1 / obukhov, h, settings.min_sigma_v_m_s,
                                                 settings.min_lagrangian_time_s)
    assert trajectory["sigma_v"].values == pytest.approx(sigma_v, rel=1e-6)
    assert trajectory["lagrangian_time"].values == pytest.approx(t_l, rel=1e-6)
    tau = trajectory["back_time"].values
    want = np.sqrt(settings.initial_sigma_h_m ** 2 +
                   2 * sigma_v ** 2 * t_l * (tau - t_l * (1 - np.exp(-tau / t_l))))
    np.testing.assert_allclose(trajectory["sigma_h"].values, want, rtol=1e-6)
    # The two regimes of Taylor's result: ballistic, then diffusive.
    assert want[1] ** 2 - want[0] ** 2 == pytest.approx((sigma_v * tau[1]) ** 2, rel=0.5)
    slope = np.diff(want[-2:] ** 2) / np.diff(tau[-2:])
    assert slope[0] == pytest.approx(2 * sigma_v ** 2 * t_l, rel=0.01)


def test_rotating_wind_bends_the_trajectory():
    omega = 2 * np.pi / 86400.0  # solid-body rotation, one turn a day (counter-clockwise)
    axis = np.linspace(-1.0e5, 1.0e5, 41)
    xx, yy = np.meshgrid(axis, axis)
    time = np.datetime64("2025-01-01") + np.arange(12) * np.timedelta64(1, "h")
    field = wind_field_dataset(time, axis, axis, (-omega * yy)[None], (omega * xx)[None],
                               800.0, 290.0, 1e5, -100.0, 0.3)
    hours, radius = 6, 30000.0
    trajectory = puffs.back_trajectory(field, radius, 0.0, 10,
                                       puffs.PuffSettings(hours_back=hours))
    end = np.array([trajectory["x"].values[-1], trajectory["y"].values[-1]])
    angle = np.degrees(np.arctan2(end[1], end[0]))
    assert angle == pytest.approx(-360.0 * hours / 24, abs=0.2)   # -90°: a quarter turn back
    assert np.hypot(*end) == pytest.approx(radius, rel=2e-3)
    straight = np.array([radius, -omega * radius * hours * 3600.0])
    bend = np.degrees(np.arctan2(straight[1], straight[0] - radius) -
                      np.arctan2(end[1], end[0] - radius))
    assert bend == pytest.approx(45.0, abs=0.3)  # the quarter circle's chord vs the tangent


def test_elevated_source_is_silent_until_the_layer_grows_over_it(uniform_field):
    """Stack plume at 500 m over a 200 m night layer; the layer grows to 1200 m at hour 12."""
    n_hours = 30
    blh = np.where(np.arange(n_hours) < 12, 200.0, 1200.0)
    obukhov = np.where(np.arange(n_hours) < 12, 50.0, -50.0)
    field = uniform_field(n_hours=n_hours, u=2.0, blh=blh, obukhov=obukhov, ustar=0.3)
    settings = puffs.PuffSettings(hours_back=12)
    source_x = np.full(2, -4 * 3600 * 2.0)  # both 4 h of travel upwind
    source_y = np.zeros(2)
    heights = np.vstack([np.full(n_hours, 500.0), np.full(n_hours, 100.0)])
    receptors_hour = np.array([8, 11, 16])
    s = puffs.point_source_sensitivities(field, np.zeros(3), np.zeros(3), np.full(3, 50.0),
                                         receptors_hour, source_x, source_y, heights, settings)
    aloft, inside = s.values[:, 0], s.values[:, 1]
    assert inside[0].sum() > 0 and inside[1].sum() > 0      # the low stack is seen at night
    assert aloft[0].sum() == 0 and aloft[1].sum() == 0      # the high one is not ...
    assert aloft[2].sum() > 0                               # ... until the layer grows over it
    # After fumigation it is mixed over the grown layer: 1/h_max, like the low stack then.
    np.testing.assert_allclose(aloft[2].sum(), inside[2].sum(), rtol=0.05)


def test_point_source_at_the_surface_matches_the_cell_footprint(uniform_field):
    """Units: a surface point source = its flux spread over its cell, in the far field."""
    field = uniform_field(u=2.0, blh=800.0)
    grid = Grid(CRS, -40000.0, 2000.0, 1000.0, -10000.0, 10000.0, 1000.0)
    settings = puffs.PuffSettings(hours_back=5)
    cell = np.ravel_multi_index((10, 15), grid.shape)   # centre (-24.5 km, 0.5 km)
    fp = puffs.surface_footprints(field, grid, [0.0], [500.0], [100.0], np.array([20]), settings)
    foot = np.bincount(fp.hours_back[fp.cells == cell], fp.values[fp.cells == cell],
                       minlength=5)
    point = puffs.point_source_sensitivities(field, [0.0], [500.0], [100.0], np.array([20]),
                                             [grid.x[15]], [grid.y[10]], np.zeros((1, 30)),
                                             settings).values[0, 0]
    # ppm per (kg/s) = ppm per (µmol m-2 s-1) × 1e6 / (M_CO2 × area)
    expected = foot * 1e6 / (MOLAR_MASS_CO2 * grid.cell_area.ravel()[cell])
    assert foot[3] > 0.1 * foot.max()
    np.testing.assert_allclose(point.sum(), expected.sum(), rtol=0.02)


def test_residual_layer_keeps_yesterdays_dilution(uniform_field):
    """After the layer collapses, surface flux emitted into the deep layer stays diluted."""
    n_hours = 30
    blh = np.where(np.arange(n_hours) < 10, 1500.0, 200.0)
    field = uniform_field(n_hours=n_hours, u=1.0, blh=blh, obukhov=-50.0, ustar=0.4)
    grid = Grid(CRS, -100000.0, 5000.0, 5000.0, -40000.0, 40000.0, 5000.0)
    fp = puffs.surface_footprints(field, grid, [0.0], [0.0], [50.0], np.array([16]),
                                  puffs.PuffSettings(hours_back=14))
    per_hour = np.bincount(fp.hours_back, fp.values, minlength=14)
    n_air = air_molar_density(1.0e5, 290.0)
    np.testing.assert_allclose(per_hour[2:6], 3600.0 / (200.0 * n_air), rtol=0.02)   # tonight
    np.testing.assert_allclose(per_hour[8:12], 3600.0 / (1500.0 * n_air), rtol=0.02)  # yesterday


def test_settings_are_checked():
    with pytest.raises(ValueError, match="divides 3600"):
        puffs.PuffSettings(step_s=420.0)
    with pytest.raises(ValueError, match="hours_back"):
        puffs.PuffSettings(hours_back=0)
