"""The particle model behind the Transport interface: grids, reproducibility, the factory,
and `cityflux footprint` (R-STILT files)."""

from pathlib import Path

import numpy as np
import pytest

from cityflux.cache import ArtifactCache
from cityflux.config import ParticlesConfig, TransportConfig, TransportModel, load_config
from cityflux.errors import InputError
from cityflux.grid import Grid
from cityflux.synthetic.met_fields import rotating_met_field, uniform_met_field, write_met_field
from cityflux.transport.base import Receptors
from cityflux.transport.parallel import map_receptors
from cityflux.transport.particle_transport import ParticleTransport, work_grid

REPO = Path(__file__).resolve().parents[2]
START = np.datetime64("2025-07-01T00", "ns")
SETTINGS = TransportConfig(model=TransportModel.PARTICLES, hours_back=6,
                           particles=ParticlesConfig(n_particles=200))


def projected_grid():
    return Grid("+proj=tmerc +lat_0=31.5 +lon_0=117 +datum=WGS84 +units=m +no_defs",
                -15000.0, 15000.0, 1000.0, -15000.0, 15000.0, 1000.0)


def receptors(n=6):
    hours = 6 + np.arange(n, dtype=np.int64)
    return Receptors(np.array(["A", "B"] * (n // 2)), np.tile([2000.0, -3000.0], n // 2),
                     np.tile([1000.0, 500.0], n // 2), np.full(n, 30.0), hours)


def transport(grid, met=None, seed=3):
    met = met if met is not None else uniform_met_field(grid, START, 20, speed_m_s=4.0)
    return ParticleTransport(SETTINGS, grid, met, START, seed)


def centroid(footprints, grid):
    x, y = (np.asarray(a, float).ravel() for a in grid.metric_xy)
    w = footprints.values
    return np.array([np.sum(w * x[footprints.cells]), np.sum(w * y[footprints.cells])]) / w.sum()


def test_footprints_do_not_depend_on_batches_threads_or_order(tmp_path):
    model = transport(projected_grid())
    rec = receptors()
    serial = model.surface_footprints(rec)
    assert serial.values.size > 0
    threaded = map_receptors(model.surface_footprints, rec, model.cache_parts(),
                             ArtifactCache(tmp_path), "threads:2", chunk=2)
    for a, b in ((serial, threaded),):
        np.testing.assert_array_equal(a.rows, b.rows)
        np.testing.assert_array_equal(a.cells, b.cells)
        np.testing.assert_array_equal(a.values, b.values)
    # the last receptor alone, computed first: its particles are its own
    alone = model.surface_footprints(rec.subset(np.arange(len(rec)) == len(rec) - 1))
    last = serial.subset(np.arange(len(rec)) == len(rec) - 1)
    np.testing.assert_array_equal(alone.values, last.values)
    # another seed gives other particles
    other = transport(projected_grid(), seed=4).surface_footprints(rec)
    assert other.values.size != serial.values.size or not np.array_equal(other.values,
                                                                          serial.values)


def test_a_lat_lon_grid_gets_the_work_grid_footprint_moved_by_area():
    projected = projected_grid()
    lon, lat = projected.centre_lonlat
    geographic = Grid("EPSG:4326", lon - 0.15, lon + 0.15, 0.01, lat - 0.12, lat + 0.12, 0.01)
    work = work_grid(geographic)
    assert work is not geographic and not work.is_geographic
    assert work.x_step <= 0.5 * float(np.min(geographic.metric_cell_size[1])) + 1e-6
    met = uniform_met_field(geographic, START, 20, speed_m_s=4.0, direction_deg=225.0)
    model = transport(geographic, met)
    rec = receptors(2)
    on_grid = model.surface_footprints(rec)
    from cityflux.transport.particles import particle_footprints

    raw, _ = particle_footprints(met, model.axes, rec, START, 200, 6, 3,
                                 model.particle_settings)
    inside = model._to_grid.sum(axis=1).A.ravel()          # fraction of each work cell inside
    expected = np.bincount(raw.rows, raw.values * inside[raw.cells], minlength=2)
    got = np.bincount(on_grid.rows, on_grid.values, minlength=2)
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    # and in the same place: centroids agree within a work cell
    for r in range(2):
        a = centroid(on_grid.subset(np.arange(2) == r), geographic)
        b = centroid(raw.subset(np.arange(2) == r), work)
        assert np.hypot(*(a - b)) < work.x_step


def test_the_footprint_follows_a_turning_wind():
    grid = Grid("+proj=tmerc +lat_0=31.5 +lon_0=117 +datum=WGS84 +units=m +no_defs",
                -40000.0, 40000.0, 1000.0, -40000.0, 40000.0, 1000.0)
    met = rotating_met_field(grid, START, 20, speed_m_s=4.0)
    model = ParticleTransport(TransportConfig(model=TransportModel.PARTICLES, hours_back=4,
                                              particles=ParticlesConfig(n_particles=400)),
                              grid, met, START, 1)
    rec = Receptors(np.array(["A"]), np.array([0.0]), np.array([0.0]), np.array([30.0]),
                    np.array([10], np.int64))
    fp = model.surface_footprints(rec)
    x, y = (np.asarray(a, float).ravel() for a in grid.metric_xy)
    directions = []
    for k in range(4):
        w = np.where(fp.hours_back == k, fp.values, 0.0)
        directions.append(np.degrees(np.arctan2(np.sum(w * y[fp.cells]),
                                                np.sum(w * x[fp.cells]))))
    # where the air came from turns with the wind, hour by hour
    turns = np.diff(np.unwrap(np.radians(directions)))
    assert np.all(np.abs(turns) > np.radians(5.0)), np.degrees(turns)


def test_the_config_selects_the_particle_model_and_checks_the_meteorology(tmp_path):
    from cityflux.pipeline import read_domain
    from cityflux.transport.base import make_transport

    config = load_config(REPO / "configs" / "demo-city.yaml", ["transport.model=particles"])
    grid = read_domain(config)[0]
    model = make_transport(config, grid)
    assert isinstance(model, ParticleTransport)
    assert model.seed == config.seed
    model.check_coverage(10)
    with pytest.raises(InputError, match="the particles need"):
        model.check_coverage(10_000)
    short = write_met_field(tmp_path / "short.nc", uniform_met_field(grid, config.period.start,
                                                                     12), grid)
    config = load_config(REPO / "configs" / "demo-city.yaml",
                         ["transport.model=particles", f"inputs.meteorology={short}"])
    with pytest.raises(InputError, match="hours back before it"):
        make_transport(config, grid).check_coverage(5)


# --------------------------------------------------------------------------- cityflux footprint


def _met_file(tmp_path, grid):
    return write_met_field(tmp_path / "met.nc", uniform_met_field(grid, START, 30,
                                                                  speed_m_s=4.0), grid)


def test_cityflux_footprint_writes_stilt_files_that_import_back(tmp_path):
    from cityflux.cli import main
    from cityflux.transport.imported import read_stilt_footprint

    grid = Grid("EPSG:4326", 116.8, 117.2, 0.01, 31.35, 31.65, 0.01)
    met = _met_file(tmp_path, grid)
    table = tmp_path / "receptors.csv"
    table.write_text("# two receptors\ntime,lat,lon,height,kind,lat2,lon2,height_top\n"
                     "2025-07-01T12:30Z,31.5,117.0,30,point,,,\n"
                     "2025-07-01T13:00Z,31.52,117.02,5,path,31.52,117.06,\n", encoding="utf-8")
    out = tmp_path / "foot"
    code = main(["footprint", "--met", str(met), "--grid", "116.8,117.2,31.35,31.65,0.01",
                 "--receptors", str(table), "--particles", "100", "--hours-back", "4",
                 "--out", str(out), "--no-progress"])
    assert code == 0
    files = sorted(out.glob("*_foot.nc"))
    assert [f.name for f in files] == ["202507011230_117.0000_31.5000_30_foot.nc",
                                       "202507011300_117.0200_31.5200_5_foot.nc"]
    fp = read_stilt_footprint(files)
    assert fp.time_resolved and fp.grid.shape == grid.shape
    np.testing.assert_allclose(fp.lon, [117.0, 117.02])
    np.testing.assert_allclose(fp.height, [30.0, 5.0])
    assert np.all(fp.totals() > 0)
    # layer k is the hour k..k+1 before the release, stamped at its start
    first = fp.rows == 0
    ages = (fp.time[0] - fp.emission_start[first]) / np.timedelta64(1, "h")
    assert set(np.round(ages, 6)) <= {1.0, 2.0, 3.0, 4.0}
    # what the CLI wrote is what the model gives for that receptor
    model = ParticleTransport(TransportConfig(model=TransportModel.PARTICLES, hours_back=4,
                                              particles=ParticlesConfig(n_particles=100)),
                              grid, uniform_met_field(grid, START, 30, speed_m_s=4.0),
                              START, 0)
    x, y = grid.to_metric(117.0, 31.5)
    direct = model.surface_footprints(Receptors(np.array(["r"]), np.atleast_1d(x),
                                                np.atleast_1d(y), np.array([30.0]),
                                                np.array([12], np.int64)))
    np.testing.assert_allclose(fp.totals()[0], direct.values.sum(), rtol=1e-4)


@pytest.mark.parametrize("arguments, message", [
    (["--receptor", "2025-07-01T12:00Z,31.5,117.0"], "expected TIME,LAT,LON,HEIGHT"),
    (["--receptor", "yesterday,31.5,117.0,30"], "is not an ISO 8601 date"),
    (["--receptor", "2025-07-01T12:00Z,95,117.0,30"], "lat '95' is not a number between"),
    (["--receptor", "2025-07-01T12:00Z,31.5,117.0,30", "--grid", "116.8,117.2"],
     "expected XMN,XMX,YMN,YMX,XRES"),
    ([], "give the receptors either as --receptors CSV or as --receptor"),
])
def test_cityflux_footprint_refuses_bad_input_in_one_line(tmp_path, capsys, arguments,
                                                          message):
    from cityflux.cli import main

    grid = Grid("EPSG:4326", 116.8, 117.2, 0.01, 31.35, 31.65, 0.01)
    met = _met_file(tmp_path, grid)
    argv = ["footprint", "--met", str(met), "--out", str(tmp_path / "o")]
    if "--grid" not in arguments:
        argv += ["--grid", "116.8,117.2,31.35,31.65,0.01"]
    assert main(argv + arguments) != 0
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error and error.count("\n") == 1


# --------------------------------------------------------------------------- stacks


def _column(blh, obukhov, u=5.0):
    """A column MetField (uniform in space) with hourly boundary layers."""
    from cityflux.metfield import MetField

    blh, obukhov = np.asarray(blh, float), np.asarray(obukhov, float)
    nt = blh.size
    time = START + np.arange(nt) * np.timedelta64(1, "h")
    z = np.array([10.0, 100.0, 1000.0, 3000.0])
    s4, s3 = (nt, z.size, 1, 1), (nt, 1, 1)
    return MetField(time, np.array([0.0]), np.array([0.0]), z, np.full(s4, u), np.zeros(s4),
                    np.zeros(s4), blh.reshape(s3), np.full(s3, 0.4), obukhov.reshape(s3),
                    np.full(s3, 293.0), np.full(s3, 101325.0), np.full(s3, 0.5))


def _strip_grid():
    return Grid("+proj=tmerc +lat_0=31.5 +lon_0=117 +datum=WGS84 +units=m +no_defs",
                -40000.0, 10000.0, 2000.0, -10000.0, 10000.0, 2000.0)


def test_a_ground_level_stack_in_a_mixed_layer_sees_its_cells_footprint():
    """Far downwind in a well-mixed layer a stack at the ground and the surface flux of its
    cell reach the receptor alike: both counts estimate 1 / h (particles in [0, 50 m]
    weighted by 1/50 m, and below h/2 weighted by 2/h). 4000 particles: about 5 % of them
    pass through the lowest 50 m of the source cell, so each estimate has a standard error
    of about 5 %: 15 % is three of them."""
    from cityflux.transport.stacks import StackSources
    from cityflux.units import MOLAR_MASS_CO2

    grid = _strip_grid()
    met = _column(np.full(30, 1000.0), np.full(30, -50.0))
    model = ParticleTransport(TransportConfig(model=TransportModel.PARTICLES, hours_back=6,
                                              particles=ParticlesConfig(n_particles=4000)),
                              grid, met, START, 1)
    rec = Receptors(np.array(["A"] * 3), np.zeros(3), np.zeros(3), np.full(3, 30.0),
                    np.array([10, 11, 12], np.int64))
    x, y = np.array([-21000.0, -31000.0]), np.array([1000.0, -1000.0])
    stack = model.point_sensitivities(StackSources.candidates(x, y, 0.0), rec, integrate=True)
    cells = ((y - grid.y_start) // 2000).astype(int) * grid.nx + \
        ((x - grid.x_start) // 2000).astype(int)
    fp = model.surface_footprints(rec)
    for s in range(2):
        surface = np.bincount(fp.rows, np.where(fp.cells == cells[s], fp.values, 0.0),
                              minlength=3) * 1e6 / (MOLAR_MASS_CO2 * 2000.0 * 2000.0)
        assert surface.min() > 0
        np.testing.assert_allclose(stack[:, s].sum(), surface.sum(), rtol=0.15)
    # hours back: the air from 20 km upwind is 4000 s old at 5 m/s: mostly in hour back 1
    resolved = model.point_sensitivities(StackSources.candidates(x[:1], y[:1], 0.0), rec)
    assert resolved.shape == (3, 1, 7)
    by_hour = resolved[:, 0].sum(axis=0)
    assert by_hour.argmax() == 1 and by_hour[3:].sum() < 0.05 * by_hour.sum()
    np.testing.assert_allclose(by_hour.sum(), stack[:, 0].sum())


def test_a_stack_above_the_night_layer_stays_aloft_until_the_day():
    """A 300 m release: nothing at a 30 m inlet while the layer is 100 m deep; once the day's
    layer grows over what was emitted into the night, it mixes down (fumigation)."""
    from cityflux.transport.stacks import StackSources

    night, day = 12, 18
    blh = np.r_[np.full(night, 100.0), np.full(day, 1200.0)]
    obukhov = np.r_[np.full(night, 30.0), np.full(day, -40.0)]
    grid = _strip_grid()
    model = ParticleTransport(TransportConfig(model=TransportModel.PARTICLES, hours_back=6,
                                              plume_rise=False,
                                              particles=ParticlesConfig(n_particles=2000)),
                              grid, _column(blh, obukhov, u=1.0), START, 2)
    # 16 km upwind at 1 m/s: the air passing the stack is 4-5 h old at 15:30, from the night
    stack = StackSources.candidates(np.array([-16000.0]), np.array([0.0]), 300.0)
    rec = Receptors(np.array(["A", "A"]), np.zeros(2), np.zeros(2), np.full(2, 30.0),
                    np.array([10, 15], np.int64))
    values = model.point_sensitivities(stack, rec)
    assert values[0].sum() == 0.0          # night: the plume is above the 100 m layer
    assert values[1].sum() > 0.0           # day: mixed down
    # a good part of it was emitted into the night (hours back >= 15 - 11 = 4), held aloft
    assert values[1, 0, 4:].sum() > 0.2 * values[1].sum()
