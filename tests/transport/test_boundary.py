"""Backgrounds from particle exits × boundary conditions (curtains and fields)."""

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from cityflux.config import ParticlesConfig, TransportConfig, TransportModel, load_config
from cityflux.errors import ConfigError, InputError
from cityflux.grid import Grid
from cityflux.synthetic.met_fields import uniform_met_field
from cityflux.transport.base import Receptors
from cityflux.transport.boundary import exit_background, read_boundary_conditions
from cityflux.transport.particle_transport import ParticleTransport
from cityflux.transport.particles import Exits

REPO = Path(__file__).resolve().parents[2]
TACOLNESTON_BC = REPO / "data-samples" / "tacolneston-2014-07" / "co2_TEST_201407.nc"
START = np.datetime64("2025-07-01T00", "ns")


def test_the_real_openghg_curtains_load_and_sample_their_nearest_edge():
    bc = read_boundary_conditions(TACOLNESTON_BC)
    with xr.open_dataset(TACOLNESTON_BC) as ds:
        north = ds.vmr_n.values * 1e6       # (height, lon), mol/mol without units
        west = ds.vmr_w.values * 1e6        # (height, lat)
        lat, lon, height = ds.lat.values, ds.lon.values, ds.height.values
    when = np.datetime64("2014-07-10T12", "ns")
    # just inside the north edge, over the 4th longitude, at the 3rd height
    value = bc.sample([lon[3]], [lat[-1] - 0.01], [height[2]], [when])
    assert value[0] == pytest.approx(north[2, 3], rel=1e-6)
    # near the west edge at the 5th latitude, half-way between the first two heights
    value = bc.sample([lon[0] + 0.01], [lat[4]], [0.5 * (height[0] + height[1])], [when])
    assert value[0] == pytest.approx(0.5 * (west[0, 4] + west[1, 4]), rel=1e-6)
    assert 380.0 < value[0] < 410.0     # ppm, not mol/mol


def _field_file(path, units="mol mol-1"):
    time = np.array(["2025-07-01T00", "2025-07-01T06"], "datetime64[ns]")
    height = np.array([0.0, 1000.0])
    lat, lon = np.array([30.0, 31.0, 32.0]), np.array([116.0, 117.0, 118.0, 119.0])
    t, z, y, x = np.meshgrid(np.arange(2), height, np.arange(3), np.arange(4), indexing="ij")
    ppm = 400.0 + 6.0 * t + 0.01 * z + 0.1 * y + 0.01 * x
    scale = 1e-6 if units == "mol mol-1" else 1.0
    xr.Dataset({"co2": (("time", "height", "lat", "lon"), ppm * scale,
                        {"standard_name": "mole_fraction_of_carbon_dioxide_in_air",
                         "units": units})},
               coords={"time": time, "height": ("height", height, {"units": "m"}),
                       "lat": lat, "lon": lon}).to_netcdf(path)
    return path


def test_a_field_is_interpolated_in_time_and_height_and_nearest_in_space(tmp_path):
    bc = read_boundary_conditions(_field_file(tmp_path / "bc.nc"))
    # 03 UTC (half-way), 250 m, nearest point lat 31 (y=1), lon 118 (x=2)
    value = bc.sample([117.9], [31.2], [250.0], [np.datetime64("2025-07-01T03")])
    assert value[0] == pytest.approx(400.0 + 3.0 + 2.5 + 0.1 + 0.02)
    # clipped beyond the axes: above the top height, after the last time
    value = bc.sample([116.0], [30.0], [5000.0], [np.datetime64("2025-07-01T07")])
    assert value[0] == pytest.approx(400.0 + 6.0 + 10.0)
    same = read_boundary_conditions(_field_file(tmp_path / "ppm.nc", "ppm"))
    assert same.sample([117.0], [31.0], [10.0], [np.datetime64("2025-07-01T01")])[0] == \
        pytest.approx(bc.sample([117.0], [31.0], [10.0], [np.datetime64("2025-07-01T01")])[0])


def test_exit_background_averages_the_particles_exits():
    grid = Grid("EPSG:32650", 400000.0, 420000.0, 1000.0, 3300000.0, 3320000.0, 1000.0)
    bc = read_boundary_conditions(TACOLNESTON_BC)
    # two receptors × two particles, all exiting at the same place: the mean is that value
    exits = Exits(np.full((2, 2), 3.0), np.full((2, 2), 410000.0), np.full((2, 2), 3310000.0),
                  np.array([[500.0, 1500.0], [500.0, 500.0]]), np.ones((2, 2), np.int8))
    values = exit_background(bc, exits, grid.metric_crs,
                             np.array(["2014-07-02T12", "2014-07-02T13"], "datetime64[ns]"))
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(grid.metric_crs, "EPSG:4326",
                                    always_xy=True).transform(410000.0, 3310000.0)
    one = bc.sample([lon, lon], [lat, lat], [500.0, 1500.0], np.full(2, np.datetime64(
        "2014-07-02T09", "ns")))
    assert values == pytest.approx([one.mean(), one[0]])


def _curtains(path, grid, west=400.0, north=410.0, east=420.0, south=430.0):
    lon, lat = grid.lonlat
    lat_axis = np.linspace(lat.min() - 0.05, lat.max() + 0.05, 5)
    lon_axis = np.linspace(lon.min() - 0.05, lon.max() + 0.05, 6)
    height = np.array([0.0, 3000.0])

    def curtain(value, along):
        return ("height", along), np.full((2, 5 if along == "lat" else 6), value * 1e-6)

    xr.Dataset({"vmr_n": curtain(north, "lon"), "vmr_e": curtain(east, "lat"),
                "vmr_s": curtain(south, "lon"), "vmr_w": curtain(west, "lat")},
               coords={"height": height, "lat": lat_axis, "lon": lon_axis,
                       "time": np.datetime64("2025-07-01", "ns")}).to_netcdf(path)
    return path


@pytest.mark.parametrize("direction, expected", [(270.0, 400.0), (0.0, 410.0)])
def test_particles_take_the_background_of_the_edge_the_wind_comes_from(tmp_path, direction,
                                                                       expected):
    grid = Grid("+proj=tmerc +lat_0=31.5 +lon_0=117 +datum=WGS84 +units=m +no_defs",
                -15000.0, 15000.0, 1000.0, -15000.0, 15000.0, 1000.0)
    bc = read_boundary_conditions(_curtains(tmp_path / "bc.nc", grid))
    met = uniform_met_field(grid, START, 20, speed_m_s=5.0, direction_deg=direction)
    settings = TransportConfig(model=TransportModel.PARTICLES, hours_back=4,
                               particles=ParticlesConfig(n_particles=200))
    model = ParticleTransport(settings, grid, met, START, 1, boundary=bc)
    receptors = Receptors(np.array(["A", "B"]), np.array([0.0, 3000.0]),
                          np.array([0.0, -2000.0]), np.array([30.0, 100.0]),
                          np.array([6, 9], np.int64))
    footprints = model.surface_footprints(receptors)
    # 5 m/s for 4 h is 72 km: every particle has left, through the upwind edge
    np.testing.assert_allclose(footprints.background, expected, atol=1e-9)
    assert ParticleTransport(settings, grid, met, START, 1).surface_footprints(
        receptors).background is None


def test_bad_boundary_files_fail_in_one_line_naming_the_file(tmp_path):
    path = tmp_path / "empty.nc"
    xr.Dataset({"t": ("x", np.arange(3.0))}).to_netcdf(path)
    with pytest.raises(InputError, match=r"empty\.nc: no boundary conditions found.*vmr_n"):
        read_boundary_conditions(path)
    path = _field_file(tmp_path / "no-units.nc")
    with xr.open_dataset(path) as ds:
        bad = ds.load()
    del bad["co2"].attrs["units"]
    bad.to_netcdf(tmp_path / "no-units2.nc")
    with pytest.raises(InputError, match="no-units2.nc: variable 'co2' has no units"):
        read_boundary_conditions(tmp_path / "no-units2.nc")


def test_the_config_asks_for_particles_and_a_file_with_a_boundary_background(tmp_path):
    config = REPO / "configs" / "demo-city.yaml"
    with pytest.raises(ConfigError, match="needs 'transport.model: particles'"):
        load_config(config, ["observations.background=boundary"])
    with pytest.raises(ConfigError, match="needs 'inputs.boundary_conditions'"):
        load_config(config, ["observations.background=boundary", "transport.model=particles"])
    with pytest.raises(ConfigError, match="only read with 'observations.background: boundary'"):
        load_config(config, [f"inputs.boundary_conditions={TACOLNESTON_BC}"])
