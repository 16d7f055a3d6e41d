"""Trajectory plume: kernels against numpy references, the steady plume as a limit, physics.

Each test states its tolerance and why; the references are in ``trajectory_reference.py``.
"""

import math

import numpy as np
import pytest
from plume_reference import ref_sigma_y, ref_sigma_z
from trajectory_reference import RefWind, ref_back_trajectory, ref_straight_footprint

from cityflux.config import TransportConfig
from cityflux.errors import InputError
from cityflux.grid import Grid
from cityflux.met import Meteorology
from cityflux.metfield import MetField
from cityflux.synthetic.met_fields import rotating_met_field, sea_breeze_met_field
from cityflux.synthetic.meteorology import synthetic_meteorology
from cityflux.transport import trajectory_kernels as tk
from cityflux.transport.base import Receptors
from cityflux.transport.plume import GaussianPlumeTransport
from cityflux.transport.stability import DispersionScheme, StabilityMethod
from cityflux.transport.stacks import StackSources
from cityflux.transport.trajectory_plume import TrajectoryPlumeTransport
from cityflux.units import MOLAR_MASS_CO2, air_molar_density

UTM = "EPSG:32650"
TMERC = "+proj=tmerc +lat_0=31.5 +lon_0=117.0 +k=1 +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs"
START = np.datetime64("2025-07-01T12", "ns")
DAY_BEFORE = START - np.timedelta64(24, "h")
D = 3


def column(n_hours=48, u=5.0, v=0.0, blh=1000.0, obukhov=np.inf, first=DAY_BEFORE,
           heights=(10.0, 100.0, 1000.0), temperature=290.0, pressure=100000.0):
    """A one-column MetField; u, v, blh and obukhov may be hourly arrays."""
    time = np.datetime64(first, "ns") + np.arange(n_hours) * np.timedelta64(1, "h")
    z = np.asarray(heights, float)
    shape4, shape3 = (n_hours, z.size, 1, 1), (n_hours, 1, 1)

    def hourly(value, shape):
        value = np.asarray(value, float)
        if value.ndim == 1:
            value = value.reshape((n_hours,) + (1,) * (len(shape) - 1))
        return np.broadcast_to(value, shape).copy()

    return MetField(time, np.zeros(1), np.zeros(1), z, hourly(u, shape4), hourly(v, shape4),
                    np.zeros(shape4), hourly(blh, shape3), np.full(shape3, 0.4),
                    hourly(obukhov, shape3), np.full(shape3, temperature),
                    np.full(shape3, pressure), np.full(shape3, 0.5))


def steady_meteorology(field: MetField) -> Meteorology:
    """The steady plume's column for a one-column MetField (winds of its lowest level)."""
    return Meteorology(field.time, {
        "eastward_wind": field.u[:, 0, 0, 0].copy(), "northward_wind": field.v[:, 0, 0, 0].copy(),
        "boundary_layer_height": field.blh[:, 0, 0].copy(),
        "air_temperature": field.air_temperature[:, 0, 0].copy(),
        "surface_pressure": field.surface_pressure[:, 0, 0].copy(),
        "obukhov_length": field.obukhov_length[:, 0, 0].copy()})


def receptor(x, y, z, hour):
    return Receptors(np.array(["R"]), np.array([float(x)]), np.array([float(y)]),
                     np.array([float(z)]), np.array([int(hour)]))


def per_hour(footprints, n):
    return np.bincount(footprints.hours_back, footprints.values, minlength=n)


def centroid(footprints, grid, k):
    xs, ys = (a.ravel() for a in grid.metric_xy)
    mask = footprints.hours_back == k
    weights = footprints.values[mask]
    cells = footprints.cells[mask]
    return np.array([np.average(xs[cells], weights=weights),
                     np.average(ys[cells], weights=weights)])


# --- kernels against references ----------------------------------------------------------


def test_virtual_distance_inverts_every_curve():
    """x_v(sigma) is where the class's curve first reaches sigma: f(x_v) >= sigma >
    f(x_v (1 - 1e-10)), and f(x_v) = sigma to 1e-9 except at a jump of ISC3's
    Pasquill-Gifford sigma_z table (up by ~3e-5 for E at 4 km, F at 60 km; down by 2 %
    for A at 250 m, where x_v is the later distance that gives sigma again). The Briggs
    curves increase smoothly: x_v gives back x to 1e-9."""
    for scheme in (0, 1):
        for cls in range(6):
            for vertical in (False, True):
                for x in (3.0, 250.0, 4000.0, 60000.0):
                    sigma = tk.curve(x, cls, scheme, vertical)
                    back = tk.virtual_distance(sigma, cls, scheme, vertical)
                    assert tk.curve(back * (1 - 1e-10), cls, scheme, vertical) < sigma
                    assert sigma <= tk.curve(back, cls, scheme, vertical) <= sigma * (1 + 1e-4)
                    if scheme == 1:
                        assert back == pytest.approx(x, rel=1e-9)


def test_footprint_kernel_against_numpy_reference():
    """Uniform stationary column, one class: the kernel's footprints (steps, windows)
    against a dense trapezoid rule over every cell with scipy's erf (converged to 1e-6).
    Totals per hour back over the grid to 5e-4, and cells holding 99 % of the footprint,
    summed over hours back, to 2e-3: the kernel's quadrature converges to ~1e-4 (halving
    the steps changes the total by 3e-5) and its 4-sigma windows leave out ~1e-4 of the
    mass. Per cell and hour back to 4 %: where an hour boundary cuts a cell's passage, the
    midpoint rule with steps of sigma_y / 2 errs by O((ds / sigma)^2), measured up to 3 %
    of the smaller side (the part moves to the other hour back; halving the steps quarters
    it). Whole-path sums converge much faster, so the trajectory ends well beyond the
    grid (hour 3 back holds only Gaussian tails over the grid, which the windows cut)."""
    grid = Grid(UTM, 400000.0, 440000.0, 1000.0, 3500000.0, 3512000.0, 1000.0)
    met = column(u=4.0, v=1.0, blh=800.0, obukhov=-100.0)
    settings = TransportConfig(hours_back=4, dispersion=DispersionScheme.PASQUILL_GIFFORD)
    transport = TrajectoryPlumeTransport(settings, grid, met, START)
    rec = (438250.0, 3509400.0, 50.0)   # leaves the grid after 2.6 h, 5 sigma before the end
    ours = transport.surface_footprints(receptor(*rec, hour=3))
    xs, ys = (a.ravel() for a in grid.metric_xy)
    cells = {"x": xs, "y": ys, "hx": np.full(xs.size, 500.0), "hy": np.full(xs.size, 500.0),
             "factor": grid.cell_area.ravel() / 1e6}
    cls = int(transport._classes[0, 0, 0])
    assert cls == 2  # L = -100 m, z0 = 0.5 m: class C (Golder)
    expected = ref_straight_footprint(cells, rec, (4.0, 1.0), 800.0, 100000.0, 290.0, cls, 0,
                                      settings.source_height_m, hours_back=4)
    got = np.zeros_like(expected)
    np.add.at(got, (ours.hours_back, ours.cells), ours.values)
    # hour 3 back is only the tails of Gaussians beyond the grid, which the windows cut
    np.testing.assert_allclose(got.sum(axis=1)[:3], expected.sum(axis=1)[:3], rtol=5e-4)
    assert got.sum() == pytest.approx(expected.sum(), rel=5e-4)

    def biggest(values):
        order = np.argsort(values)[::-1]
        return order[: np.searchsorted(np.cumsum(values[order]), 0.99 * values.sum()) + 1]

    cells_99 = biggest(expected.sum(axis=0))
    np.testing.assert_allclose(got.sum(axis=0)[cells_99], expected.sum(axis=0)[cells_99],
                               rtol=2e-3)
    pairs_99 = biggest(expected.ravel())
    np.testing.assert_allclose(got.ravel()[pairs_99], expected.ravel()[pairs_99], rtol=0.04)


def test_widths_stay_continuous_through_a_class_change():
    """Neutral (D) for the first back hours, stable (F) before: at the change sigma is
    continuous and then grows along F's curve from the distance where F gives it (the
    virtual distance), checked against plume_reference's typed-again curves."""
    obukhov = np.full(48, 10.0)           # F
    obukhov[24 - 1:] = np.inf             # D from one hour before START on
    met = column(obukhov=obukhov, u=4.0)
    grid = Grid(UTM, 0.0, 4000.0, 1000.0, 0.0, 4000.0, 1000.0)
    transport = TrajectoryPlumeTransport(TransportConfig(hours_back=4), grid, met, START)
    traj = transport.back_trajectory(2000.0, 2000.0, 50.0, hour=0)
    cls = traj["stability_class"]
    assert cls[0] == D and cls[-1] == 5
    change = int(np.argmax(cls != D))
    before, after = change - 1, change
    # sigma just before the change, from D's curve at the distance aged (4 m/s x tau)
    assert traj["sigma_y"][before] == pytest.approx(ref_sigma_y(4.0 * traj["tau"][before], D, 1),
                                                    rel=1e-9)
    # after: F's curve at x_F(sigma_change) + 4 m/s x (tau - tau_change)
    tau_change = traj["tau"][after] - traj["dtau"][after] / 2
    sigma_change = ref_sigma_y(4.0 * tau_change, D, 1)
    grid_x = np.geomspace(1.0, 1e6, 200001)
    x_f = np.interp(sigma_change, ref_sigma_y(grid_x, 5, 1), grid_x)
    for i in (after, after + 5, len(cls) - 1):
        expected = ref_sigma_y(x_f + 4.0 * (traj["tau"][i] - tau_change), 5, 1)
        assert traj["sigma_y"][i] == pytest.approx(expected, rel=1e-4)
    sz_f = np.interp(ref_sigma_z(4.0 * tau_change, D, 1),
                     [ref_sigma_z(x, 5, 1) for x in grid_x[::100]], grid_x[::100])
    expected_z = ref_sigma_z(sz_f + 4.0 * (traj["tau"][-1] - tau_change), 5, 1)
    assert traj["sigma_z"][-1] == pytest.approx(expected_z, rel=1e-3)
    # continuity: the jump across the change is no more than one step's growth
    jump = traj["sigma_y"][after] - traj["sigma_y"][before]
    assert 0 < jump < 0.5 * (traj["dtau"][before] + traj["dtau"][after]) * 4.0 * 0.16


def test_wind_height_goes_from_the_inlet_to_half_the_mixed_layer():
    """z_rep starts at the inlet height and ends at h/2 once sigma_z is large."""
    met = column(blh=1200.0, n_hours=48)
    grid = Grid(UTM, 0.0, 4000.0, 1000.0, 0.0, 4000.0, 1000.0)
    traj = TrajectoryPlumeTransport(TransportConfig(hours_back=6), grid, met,
                                    START).back_trajectory(2000.0, 2000.0, 80.0, hour=0)
    assert traj["z_rep"][0] == 80.0 and traj["z_rep"][-1] == 600.0
    assert np.all(np.diff(traj["z_rep"]) >= -1e-9)   # h interpolated: h / 2 to rounding


def test_a_lat_lon_grid_gives_the_footprint_of_a_projected_one():
    """Cells of a lat/lon grid are boxes about their centres in the metric frame (found
    through the spatial index, not by row and column): per hour back, over the hours the
    plume stays inside both grids, the totals match those on a transverse Mercator grid
    to 1e-4 (measured 1e-5; both integrate the whole Gaussian over cells that tile the
    plane, up to the lat/lon boxes' small gaps and overlaps); 5e-4 two hours back, whose
    Gaussians reach the lat/lon grid's west edge, 1.5 km inside the other's (1.1e-4)."""
    met = column(u=4.0, v=1.0)
    geo = Grid("EPSG:4326", 116.7, 117.3, 0.01, 31.3, 31.7, 0.01)
    projected = Grid(TMERC, -30000.0, 30000.0, 1000.0, -20000.0, 20000.0, 1000.0)
    totals = []
    for grid in (geo, projected):
        x, y = grid.to_metric(117.2, 31.5)
        transport = TrajectoryPlumeTransport(TransportConfig(hours_back=6), grid, met, START)
        totals.append(per_hour(transport.surface_footprints(receptor(x, y, 50.0, hour=3)), 7))
    assert totals[0][0] > 0.1
    np.testing.assert_allclose(totals[0][:2], totals[1][:2], rtol=1e-4)
    assert totals[0][2] == pytest.approx(totals[1][2], rel=5e-4)


# --- 1. the steady plume as the limit of uniform, stationary meteorology -------------------


@pytest.mark.parametrize("scheme, obukhov", [("briggs_urban", np.inf),
                                             ("pasquill_gifford", -100.0),
                                             ("briggs_urban", 50.0)])
def test_uniform_stationary_wind_gives_the_steady_plume(scheme, obukhov):
    """Same wind, layer and class every hour: the trajectory plume is the steady plume.

    Tolerances, measured 0.05-0.3 %: totals per hour back within 1 % (hours 0 and 1, the
    second reaching 36 km upwind; the grid ends at 50 km), centroids within one cell
    (measured < 0.05 cell), pattern correlation > 0.99 (measured 0.993-0.998). What
    remains is the steady plume's own discretisation (32 x 32 sub-cells near the
    receptor, cell centres beyond) and our isotropic puffs' along-wind spread. The
    receptor sits on a cell edge along the wind, so whole cells fall into one hour back
    in both, and a quarter cell off a centre across it, where sampling a narrow plume at
    cell centres (the steady plume beyond 3 cells) errs least; centred, that sampling
    errs by up to +-25 % at 3-10 km. A wrong speed, density, width curve or hour binning
    moves these figures by several per cent.
    """
    grid = Grid(UTM, 400000.0, 460000.0, 1000.0, 3480000.0, 3520000.0, 1000.0)
    met = column(obukhov=obukhov)
    settings = TransportConfig(hours_back=12, near_field_subcells=32,
                               dispersion=DispersionScheme(scheme))
    rec = receptor(450000.0, 3500250.0, 60.0, hour=5)
    ours = TrajectoryPlumeTransport(settings, grid, met, START).surface_footprints(rec)
    steady = GaussianPlumeTransport(settings, grid, steady_meteorology(met),
                                    START).surface_footprints(rec)
    a, b = per_hour(ours, 13), per_hour(steady, 13)
    np.testing.assert_allclose(a[:2], b[:2], rtol=0.01)
    assert a.sum() == pytest.approx(b.sum(), rel=0.01)
    for k in range(3):
        assert np.hypot(*(centroid(ours, grid, k) - centroid(steady, grid, k))) < 1000.0
    pattern = np.corrcoef(ours.time_integrated().toarray()[0],
                          steady.time_integrated().toarray()[0])[0, 1]
    assert pattern > 0.99


# --- 2. a turning wind --------------------------------------------------------------------


def test_footprint_follows_a_turning_wind():
    """The wind turns 15 degrees an hour. The centroid of each hour back, 1 to 4 hours
    back, lies in the direction of the back trajectory's mean position over that hour
    (numpy RK4 reference) within 1.5 degrees (measured < 0.6: the centroid weights the
    hour's arc of 15 degrees by the samples' vertical factors, the mean uniformly). The
    steady plume's stays on the observation hour's upwind line, which the trajectory
    leaves at about half the turn rate: it misses by 4, 12, 19 and 26 degrees; more than
    15 from 3 hours back on is asserted."""
    grid = Grid(UTM, -50000.0, 50000.0, 2000.0, -50000.0, 50000.0, 2000.0)
    met = rotating_met_field(grid, START - np.timedelta64(24, "h"), n_hours=48, speed_m_s=3.0,
                             turn_deg_per_hour=15.0)
    settings = TransportConfig(hours_back=5)
    hour = 2
    rec = receptor(0.0, 0.0, 50.0, hour)
    ours = TrajectoryPlumeTransport(settings, grid, met, START).surface_footprints(rec)
    column_met = MetField(met.time, np.zeros(1), np.zeros(1), met.z, met.u[:, :, :1, :1],
                          met.v[:, :, :1, :1], met.w[:, :, :1, :1], met.blh[:, :1, :1],
                          met.ustar[:, :1, :1], met.obukhov_length[:, :1, :1],
                          met.air_temperature[:, :1, :1], met.surface_pressure[:, :1, :1],
                          met.roughness_length[:, :1, :1])
    steady = GaussianPlumeTransport(settings, grid, steady_meteorology(column_met),
                                    START).surface_footprints(rec)
    release = START + np.timedelta64(hour * 60 + 30, "m")
    wind = RefWind(met)

    def bearing(p):
        return math.degrees(math.atan2(p[0], p[1]))

    for k in range(1, 5):
        taus = np.linspace(k * 3600.0, (k + 1) * 3600.0, 61)
        path = ref_back_trajectory(wind, 0.0, 0.0, release, taus).mean(axis=0)
        ours_error = (bearing(centroid(ours, grid, k)) - bearing(path) + 180) % 360 - 180
        steady_error = (bearing(centroid(steady, grid, k)) - bearing(path) + 180) % 360 - 180
        assert abs(ours_error) < 1.5, (k, ours_error)
        if k >= 3:
            assert abs(steady_error) > 15.0, (k, steady_error)


# --- 3. a plume above the mixed layer -------------------------------------------------------


def test_stack_above_a_shallow_layer_stays_aloft_until_the_layer_grows():
    """A 120 m stack with F_b = 2000 m4 s-3 rises to ~366 m in the stable night (class F,
    u = 2 m/s: 2.6 (F_b / (u s))^(1/3) = 246 m) above a 200 m layer: no ground-level
    signal, exactly, at a receptor 30 km downwind while the layer stays below it (receptors
    of 01:00-04:00 whose 6 hours back are all night). From 05:00 the layer grows to
    1500 m: at 06:30 the receptor sees the night's emissions (made ~4 h earlier, aloft),
    mixed down. Without plume rise the plume stays at 120 m, inside the night layer, and
    is seen at night."""
    hours = np.arange(48)
    clock = (hours + 12) % 24                       # the first met hour is 12:00
    blh = np.where((clock >= 6) & (clock < 18), 1500.0, 200.0)
    obukhov = np.where(blh > 1000.0, -50.0, 10.0)
    met = column(blh=blh, obukhov=obukhov, u=2.0)
    grid = Grid(UTM, 0.0, 40000.0, 1000.0, 0.0, 10000.0, 1000.0)
    stack = StackSources(np.array([5000.0]), np.array([5000.0]), np.array([120.0]),
                         buoyancy_flux_m4_s3=np.array([2000.0]))
    settings = TransportConfig(hours_back=6)
    transport = TrajectoryPlumeTransport(settings, grid, met, START)   # START is 12:00
    night = Receptors(np.full(4, "R"), np.full(4, 35000.0), np.full(4, 5000.0),
                      np.full(4, 50.0), np.arange(13, 17))             # 01:00 to 04:00
    assert np.all(transport.point_sensitivities(stack, night) == 0.0)
    seen = transport.point_sensitivities(stack, receptor(35000.0, 5000.0, 50.0, hour=18))[0, 0]
    assert seen.sum() > 0
    assert seen[2:].sum() > 0.9 * seen.sum()        # emitted before 04:30, at night
    no_rise = TrajectoryPlumeTransport(TransportConfig(hours_back=6, plume_rise=False), grid,
                                       met, START)
    assert no_rise.point_sensitivities(stack, night).sum() > 0


def test_yesterdays_deep_layer_dilutes_what_was_emitted_the_night_before():
    """The lid is the deepest layer on the way, not the layer at either end: a receptor at
    02:00 sees the surface flux of the previous night (21-25 hours back, emitted into a
    200 m layer) diluted over the 1500 m layer of the day in between, which left it in
    the residual layer: 3600 F / (1500 m n_air) per hour back, to 1 % (measured ~1e-4;
    with the 200 m layer of both nights it would be 7.5 times more)."""
    hours = np.arange(60)
    clock = (hours + 12) % 24                       # the first met hour is 12:00
    blh = np.where((clock >= 6) & (clock < 18), 1500.0, 200.0)
    met = column(n_hours=60, blh=blh, obukhov=np.where(blh > 1000.0, -50.0, 10.0), u=1.0)
    grid = Grid(TMERC, -5000.0, 105000.0, 2000.0, -30000.0, 30000.0, 2000.0)
    transport = TrajectoryPlumeTransport(TransportConfig(hours_back=26), grid, met, START)
    ours = transport.surface_footprints(receptor(104000.0, 0.0, 50.0, hour=14))  # 02:00
    n_air = float(air_molar_density(100000.0, 290.0))
    np.testing.assert_allclose(per_hour(ours, 27)[21:26], 3600.0 / (1500.0 * n_air), rtol=0.01)


# --- 4. mass consistency --------------------------------------------------------------------


def test_uniform_flux_under_a_well_mixed_layer_gives_the_box_model():
    """A uniform flux F under a steady 1000 m layer, wind 5 m/s over 150 km: every hour of
    well-mixed fetch (sigma_z > 1.6 h from 42 km; hours 3..6 back, 54-126 km, stay 8 sigma
    from the grid's end) adds
    F L / (u h n_air) with L = u x 1 h, to 0.1 % (measured ~1e-4: the 4-sigma windows
    leave out 1.3e-4 of the mass). The grid is a transverse Mercator centred on it (scale
    1 + 7e-5 at its ends): the metric frame is taken as true distance, so a grid whose map
    scale is k (UTM far from its meridian: k - 1 up to 2.5e-3) gives 1 / k^2 of this, as
    the steady plume does. Nearer, the receptor at 50 m sees the flux before it
    is mixed: the whole fetch gives more than the box model, by the near-field excess
    (measured 11 %)."""
    grid = Grid(TMERC, -75000.0, 75000.0, 1000.0, -20500.0, 20500.0, 1000.0)
    met = column(u=5.0, blh=1000.0, temperature=290.0, pressure=100000.0)
    transport = TrajectoryPlumeTransport(TransportConfig(hours_back=10), grid, met, START)
    flux = 2.0  # umol m-2 s-1
    ours = transport.surface_footprints(receptor(74999.0, 0.0, 50.0, hour=3))
    enhancement = per_hour(ours, 11) * flux
    n_air = float(air_molar_density(100000.0, 290.0))
    box_per_hour = flux * 1e-6 * (5.0 * 3600.0) / (5.0 * 1000.0 * n_air) * 1e6   # ppm
    np.testing.assert_allclose(enhancement[3:7], box_per_hour, rtol=1e-3)
    fetch_hours = 150000.0 / 5.0 / 3600.0
    assert enhancement.sum() > box_per_hour * fetch_hours


# --- 5. a ground-level point source is a surface cell -----------------------------------------


def test_ground_point_source_equals_its_cells_footprint():
    """Point source at a cell centre released where the surface flux is (0 m): its
    sensitivity equals the cell's footprint x 1e6 / (M_CO2 x area), hour by hour, to 0.6 %:
    the cell is 100 m wide and sigma_y ~ 320-460 m 3-5 km upwind, so averaging the
    crosswind Gaussian over the cell changes it by about (d / sigma)^2 / 24 = 0.4 % at
    3 km, 0.2 % at 5 km (measured 0.39 %, 0.19 %); along the wind the time integral
    averages both alike."""
    grid = Grid(UTM, 0.0, 8000.0, 100.0, 0.0, 4000.0, 100.0)
    met = column(u=1.25, v=0.125)     # 3 and 5 km upwind: 0.7 and 1.1 hours back
    settings = TransportConfig(hours_back=3, source_height_m=0.0)
    transport = TrajectoryPlumeTransport(settings, grid, met, START)
    rec = receptor(7800.0, 2000.0, 30.0, hour=2)
    footprint = transport.surface_footprints(rec)
    xs, ys = (a.ravel() for a in grid.metric_xy)
    chosen = [int(np.argmin(np.hypot(xs - x, ys - y))) for x, y in
              ((2850.0, 1550.0), (4850.0, 1750.0), (2850.0, 1250.0))]
    sources = StackSources(xs[chosen], ys[chosen], np.zeros(3))
    point = transport.point_sensitivities(sources, rec)[0]
    for i, c in enumerate(chosen):
        per_cell = np.bincount(footprint.hours_back[footprint.cells == c],
                               footprint.values[footprint.cells == c], minlength=4)
        expected = per_cell * 1e6 / (MOLAR_MASS_CO2 * grid.cell_area.ravel()[c])
        assert expected.sum() > 0
        np.testing.assert_allclose(point[i], expected, rtol=6e-3,
                                   atol=1e-3 * expected.max())
    integrated = transport.point_sensitivities(sources, rec, integrate=True)
    np.testing.assert_allclose(integrated[0], point.sum(axis=1), rtol=1e-12)


# --- 6. a spatially varying wind --------------------------------------------------------------


def test_trajectory_bends_with_a_sea_breeze():
    """The kernel's back trajectory through a sea-breeze field (winds the same at every
    height, so the representative height does not matter) against RK4 with 10 s steps
    and scipy interpolation: within 20 m over 18 h and 190 km (RK2 with <= 300 s steps in
    a field varying over ~15 km and hours; measured 3 m). The breeze bends it by many km
    off the straight line of the release wind."""
    grid = Grid(UTM, -20000.0, 20000.0, 1000.0, -20000.0, 20000.0, 1000.0)
    column_ds = synthetic_meteorology("2025-07-01", 48, 117.0, 31.5, np.random.default_rng(3))
    met = sea_breeze_met_field(grid, column_ds, np.random.default_rng(4), reference_height_m=10.0,
                               coast=(10000.0, 0.0, 90.0))
    assert np.allclose(met.u[:, 0], met.u[:, -1]) and np.ptp(met.u[:, 0]) > 3.0
    start = np.datetime64("2025-07-01T00", "ns")
    hour = 40
    transport = TrajectoryPlumeTransport(TransportConfig(hours_back=18), grid, met, start)
    traj = transport.back_trajectory(0.0, 0.0, 60.0, hour)
    release = start + np.timedelta64(hour * 60 + 30, "m")
    expected = ref_back_trajectory(RefWind(met), 0.0, 0.0, release, traj["tau"])
    error = np.hypot(traj["x"] - expected[:, 0], traj["y"] - expected[:, 1])
    assert error.max() < 20.0
    u0, v0 = RefWind(met)((release - met.time[0]) / np.timedelta64(1, "s"), 0.0, 0.0)
    straight = np.hypot(traj["x"] + u0 * traj["tau"], traj["y"] + v0 * traj["tau"])
    assert straight.max() > 10000.0


# --- 7. bad inputs ---------------------------------------------------------------------------


def test_receptors_outside_the_met_times_are_refused():
    met = column(n_hours=12, first=START)
    grid = Grid(UTM, 0.0, 4000.0, 1000.0, 0.0, 4000.0, 1000.0)
    transport = TrajectoryPlumeTransport(TransportConfig(hours_back=6), grid, met, START,
                                         where="met.nc")
    with pytest.raises(InputError, match="needs meteorology from") as error:
        transport.surface_footprints(receptor(2000.0, 2000.0, 50.0, hour=3))
    message = str(error.value)
    assert "met.nc" in message and str(met.time[0]) in message and str(met.time[-1]) in message
    with pytest.raises(InputError, match="needs meteorology from"):
        transport.point_sensitivities(StackSources(np.zeros(1), np.zeros(1), np.zeros(1)),
                                      receptor(2000.0, 2000.0, 50.0, hour=12))
    with pytest.raises(InputError, match="covers"):
        transport.check_coverage(20)
    ok = TrajectoryPlumeTransport(TransportConfig(hours_back=6), grid, met,
                                  START + np.timedelta64(6, "h"))
    ok.check_coverage(5)   # trajectories from 06:30 back to 00:30, last hour 11:00: covered
    assert ok.surface_footprints(receptor(2000.0, 2000.0, 50.0, hour=5)).values.sum() > 0


def test_wind_and_radiation_stability_is_refused_with_the_fix():
    settings = TransportConfig(stability=StabilityMethod.WIND_AND_RADIATION)
    grid = Grid(UTM, 0.0, 4000.0, 1000.0, 0.0, 4000.0, 1000.0)
    with pytest.raises(InputError, match="no cloud cover.*obukhov_length"):
        TrajectoryPlumeTransport(settings, grid, column(), START)
