"""Meteorology as fields: ERA5-like, WRF-like, column and synthetic files into MetFields."""

import numpy as np
import pyproj
import pytest

from cityflux.errors import InputError
from cityflux.grid import WGS84, Grid
from cityflux.met import read_meteorology
from cityflux.met_fields import (
    DRY_AIR_GAS_CONSTANT,
    GRAVITY,
    HEAT_CAPACITY,
    KARMAN,
    LAPSE_RATE,
    pressure_level_heights,
    read_met_field,
)
from cityflux.synthetic.met_fields import (
    ERA5_SHEAR,
    WRF_INTERFACES_M,
    WRF_SHEAR,
    era5_like_values,
    met_field_dataset,
    rotating_met_field,
    sea_breeze_met_field,
    sheared_met_field,
    uniform_met_field,
    wrf_like_crs,
    wrf_like_values,
    write_era5_like,
    write_met_field,
    write_wrf_like,
)
from cityflux.synthetic.meteorology import synthetic_meteorology

TMERC = "+proj=tmerc +lat_0=31.5 +lon_0=117.0 +k=1 +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs"
HOUR = np.timedelta64(1, "h")
HALF_HOUR = np.timedelta64(30, "m")


# ---------------------------------------------------------------------------- helpers
def _lonlat(field, grid):
    """Longitude and latitude of every point of a MetField, each (ny, nx)."""
    xx, yy = np.meshgrid(field.x, field.y)
    return pyproj.Transformer.from_crs(grid.metric_crs, WGS84, always_xy=True).transform(xx, yy)


def _north(crs, lon, lat):
    """Angle (rad, clockwise) from the y axis of ``crs`` to true north: 10 m along the
    meridian on the ellipsoid (independent of the reader's finite differences)."""
    lon2, lat2, _ = pyproj.Geod(ellps="WGS84").fwd(lon, lat, np.zeros_like(lon),
                                                    np.full_like(lon, 10.0))
    to = pyproj.Transformer.from_crs(WGS84, crs, always_xy=True).transform
    (x1, y1), (x2, y2) = to(lon, lat), to(lon2, lat2)
    return np.arctan2(np.asarray(x2) - x1, np.asarray(y2) - y1)


def _to_frame(u_east, v_north, angle):
    """East/north components → components along a frame where north is ``angle`` clockwise
    of the y axis (written out here rather than taken from the reader)."""
    return (u_east * np.cos(angle) + v_north * np.sin(angle),
            v_north * np.cos(angle) - u_east * np.sin(angle))


def _column(n_hours=30, seed=1):
    return synthetic_meteorology("2025-07-01", n_hours, 117.0, 31.5, np.random.default_rng(seed))


def _demo_grid():
    return Grid(TMERC, -10000, 10000, 1000, -10000, 10000, 1000)


def _obukhov(pressure, temperature, ustar, heat_flux):
    density = pressure / (DRY_AIR_GAS_CONSTANT * temperature)
    return -density * HEAT_CAPACITY * temperature * ustar ** 3 / (KARMAN * GRAVITY * heat_flux)


# ---------------------------------------------------------------------------- columns
def test_a_column_file_gives_a_one_by_one_field_equal_to_the_column(tmp_path):
    column = _column()
    path = tmp_path / "column.nc"
    column.to_netcdf(path)
    grid = _demo_grid()
    field = read_met_field(path, grid)

    assert field.is_column and field.shape == (30, 1, 1, 1)
    np.testing.assert_array_equal(field.time, column["time"].values)
    np.testing.assert_array_equal(field.z, [10.0])
    np.testing.assert_allclose([field.x[0], field.y[0]], [0.0, 0.0], atol=1e-6)
    for attribute, name in (("blh", "blh"), ("air_temperature", "t2m"),
                            ("surface_pressure", "sp"), ("obukhov_length", "obukhov_length")):
        np.testing.assert_array_equal(getattr(field, attribute)[:, 0, 0], column[name].values)
    np.testing.assert_array_equal(field.u[:, 0, 0, 0], column["u10"].values)
    np.testing.assert_array_equal(field.v[:, 0, 0, 0], column["v10"].values)
    np.testing.assert_array_equal(field.w, 0.0)
    # u* from the neutral log law at 10 m with the default roughness length 0.5 m
    speed = np.hypot(column["u10"].values.astype(float), column["v10"].values.astype(float))
    np.testing.assert_allclose(field.ustar[:, 0, 0], 0.4 * speed / np.log(10 / 0.5), rtol=1e-12)
    np.testing.assert_array_equal(field.roughness_length, 0.5)


def test_obukhov_length_from_the_heat_flux_when_not_given(tmp_path):
    column = _column().drop_vars("obukhov_length")
    column["ustar"] = ("time", np.full(30, 0.3), {
        "standard_name": "magnitude_of_surface_friction_velocity_in_air", "units": "m s-1"})
    path = tmp_path / "column.nc"
    column.to_netcdf(path)
    field = read_met_field(path, _demo_grid())
    expected = _obukhov(column["sp"].values.astype(float), column["t2m"].values.astype(float),
                        0.3, column["shf"].values.astype(float))
    np.testing.assert_allclose(field.obukhov_length[:, 0, 0], expected, rtol=1e-12)
    assert (np.sign(field.obukhov_length[:, 0, 0]) == -np.sign(column["shf"].values)).all()


def test_units_are_converted(tmp_path):
    column = _column()
    changed = column.copy()
    changed["u10"] = column["u10"] * 3.6
    changed["u10"].attrs = {**column["u10"].attrs, "units": "km h-1"}
    changed["v10"].attrs["units"] = "m s**-1"
    changed["blh"] = column["blh"].astype(float) / 1000
    changed["blh"].attrs = {**column["blh"].attrs, "units": "km"}
    changed["sp"] = column["sp"].astype(float) / 100
    changed["sp"].attrs = {**column["sp"].attrs, "units": "hPa"}
    changed["t2m"] = column["t2m"].astype(float) - 273.15
    changed["t2m"].attrs = {**column["t2m"].attrs, "units": "degC"}
    path = tmp_path / "column.nc"
    changed.to_netcdf(path)
    field = read_met_field(path, _demo_grid())
    np.testing.assert_allclose(field.u[:, 0, 0, 0], column["u10"].values, rtol=1e-6)
    np.testing.assert_array_equal(field.v[:, 0, 0, 0], column["v10"].values)
    np.testing.assert_allclose(field.blh[:, 0, 0], column["blh"].values, rtol=1e-6)
    np.testing.assert_allclose(field.surface_pressure[:, 0, 0], column["sp"].values, rtol=1e-6)
    np.testing.assert_allclose(field.air_temperature[:, 0, 0], column["t2m"].values, rtol=1e-6)

    # the one-column reader converts too
    met = read_meteorology(path)
    np.testing.assert_allclose(met.values["eastward_wind"], column["u10"].values, rtol=1e-6)
    np.testing.assert_allclose(met.values["boundary_layer_height"], column["blh"].values,
                               rtol=1e-6)


def test_units_of_the_wrong_dimension_are_refused_in_one_line(tmp_path):
    column = _column()
    column["blh"].attrs["units"] = "m s-1"
    path = tmp_path / "meteorology.nc"
    column.to_netcdf(path)
    for read in (lambda: read_met_field(path, _demo_grid()), lambda: read_meteorology(path)):
        with pytest.raises(InputError) as error:
            read()
        message = str(error.value)
        assert f"{path}: blh has units 'm s-1'; expected 'm'" in message
        assert len(message.splitlines()) == 1


def test_missing_variables_are_named_in_one_line(tmp_path):
    path = tmp_path / "met.nc"
    _column().drop_vars(["blh", "t2m"]).to_netcdf(path)
    with pytest.raises(InputError) as error:
        read_met_field(path, _demo_grid())
    message = str(error.value)
    assert len(message.splitlines()) == 1
    assert message.startswith(f"{path}: missing meteorology")
    assert "'atmosphere_boundary_layer_thickness'" in message
    assert "'air_temperature'" in message
    assert "'eastward_wind'" not in message


def test_hour_means_move_to_the_middle_of_their_hour(tmp_path):
    column = _column()
    for var in column.data_vars.values():
        var.attrs["cell_methods"] = "time: mean"
    path = tmp_path / "means.nc"
    column.to_netcdf(path)
    field = read_met_field(path, _demo_grid())
    np.testing.assert_array_equal(field.time, column["time"].values + HALF_HOUR)
    np.testing.assert_array_equal(field.blh[:, 0, 0], column["blh"].values)

    # Time bounds say the same without cell_methods.
    bounded = _column()
    times = bounded["time"].values
    bounded["time"].attrs["bounds"] = "time_bnds"
    bounded["time"].encoding["units"] = "hours since 2025-07-01"
    bounded["time_bnds"] = (("time", "nv"), np.stack([times, times + HOUR], axis=1))
    bounded.to_netcdf(path)
    field = read_met_field(path, _demo_grid())
    np.testing.assert_array_equal(field.time, times + HALF_HOUR)

    # Only the boundary layer is an hour mean: interpolated to the winds' times.
    mixed = _column()
    mixed["blh"].attrs["cell_methods"] = "time: mean"
    mixed.to_netcdf(path)
    field = read_met_field(path, _demo_grid())
    blh = mixed["blh"].values.astype(float)
    np.testing.assert_array_equal(field.time, mixed["time"].values)
    np.testing.assert_allclose(field.blh[1:, 0, 0], 0.5 * (blh[:-1] + blh[1:]), rtol=1e-12)
    assert field.blh[0, 0, 0] == blh[0]


# ---------------------------------------------------------------------------- vertical
def test_pressure_level_heights_follow_the_hypsometric_equation():
    pressure = np.array([1020.0, 1000.0, 925.0, 850.0, 700.0]) * 100
    surface_pressure = np.array([101000.0, 99000.0]).reshape(1, 1, 1, 2)
    surface_t = np.array([290.0, 280.0]).reshape(1, 1, 1, 2)

    # isothermal: z = (R_d T / g) ln(p_s / p), exactly, with temperatures on the levels
    levels_t = np.broadcast_to(surface_t, (1, 5, 1, 2))
    z = pressure_level_heights(pressure, surface_pressure, surface_t, levels_t)
    expected = 287.05 * surface_t / 9.80665 * np.log(surface_pressure / pressure[:, None, None])
    expected = np.where(pressure[:, None, None] <= surface_pressure, expected, np.nan)
    np.testing.assert_allclose(z, expected, rtol=1e-12)
    assert np.isnan(z[0, 0]).all() and np.isnan(z[0, 1, 0, 1])   # under ground

    # standard lapse rate from the surface temperature
    z = pressure_level_heights(pressure, surface_pressure, surface_t)
    exponent = 287.05 * 0.0065 / 9.80665
    expected = surface_t / 0.0065 * (1 - (pressure[:, None, None] / surface_pressure) ** exponent)
    np.testing.assert_allclose(z[0, 2:], expected[0, 2:], rtol=1e-12)
    # ... which the layer-by-layer integration reproduces for a lapse-rate profile
    profile_t = surface_t - 0.0065 * np.nan_to_num(z)
    layered = pressure_level_heights(pressure, surface_pressure, surface_t, profile_t)
    np.testing.assert_allclose(layered[0, 2:], z[0, 2:], rtol=2e-3)


# ---------------------------------------------------------------------------- ERA5-like
@pytest.mark.parametrize("heights", ["hypsometric", "geopotential", "geopotential_only"])
@pytest.mark.parametrize("domain_crs", ["EPSG:4326", "EPSG:32632"])
def test_era5_like_file(tmp_path, heights, domain_crs):
    """Pressure-level heights from sp and t2m (hypsometric), from z and the surface z, or from z
    alone (the ground where z, linear in ln p, meets the surface pressure)."""
    path = tmp_path / "era5.nc"
    dataset = write_era5_like(path, geopotential=heights != "hypsometric")
    if heights == "geopotential_only":
        dataset = dataset.drop_vars("z_surface")
        path = tmp_path / "era5-no-surface-z.nc"
        dataset.to_netcdf(path)
    if domain_crs == "EPSG:4326":
        grid = Grid(domain_crs, 10.8, 11.2, 0.02, 45.8, 46.2, 0.02)
    else:
        x0, y0 = pyproj.Transformer.from_crs(WGS84, domain_crs, always_xy=True).transform(11, 46)
        grid = Grid(domain_crs, x0 - 15000, x0 + 15000, 1000, y0 - 15000, y0 + 15000, 1000)
    field = read_met_field(path, grid, margin_m=30000)

    np.testing.assert_array_equal(field.time, dataset["valid_time"].values)
    assert field.x.size > 3 and field.y.size > 3 and not field.is_column
    assert np.ptp(np.diff(field.x)) < 1e-6 and np.ptp(np.diff(field.y)) < 1e-6
    spacing = field.x[1] - field.x[0]
    assert 15000 < spacing < 25000   # about ERA5's 0.25°, at 46° N
    lon, lat = _lonlat(field, grid)
    hours = ((field.time - field.time[0]) / HOUR)[:, None, None]
    truth = era5_like_values(lon, lat, hours, 10.0, 45.0)

    # 2-D fields are affine in lon/lat: bilinear interpolation between points is exact
    for attribute, name in (("blh", "blh"), ("air_temperature", "t2m"),
                            ("surface_pressure", "sp"), ("ustar", "zust"),
                            ("roughness_length", "fsr")):
        np.testing.assert_allclose(getattr(field, attribute),
                                   np.broadcast_to(truth[name], field.blh.shape), rtol=2e-6,
                                   err_msg=attribute)

    # winds: u = u0 + 0.004 z at the heights of the hypsometric equation (or the
    # geopotential), 10 m from u10; turned from true east/north to the frame's axes
    assert field.z[0] == 10.0 and (np.diff(field.z) > 0).all()
    sp, t2m = dataset["sp"].values.astype(float), dataset["t2m"].values.astype(float)
    levels = dataset["pressure_level"].values[:, None, None, None] * 100
    hypsometric = t2m / LAPSE_RATE * (1 - (levels / sp) ** (287.05 * 0.0065 / 9.80665))
    assert hypsometric[hypsometric > 0].min() < field.z[1] < field.z[-1] < hypsometric.max()
    z = field.z[None, :-1, None, None]   # the top level is held in columns where it is lower
    east = truth["u0"][:, None] + ERA5_SHEAR[0] * z
    north = truth["v0"][:, None] + ERA5_SHEAR[1] * z
    u, v = _to_frame(east, north, _north(grid.metric_crs, lon, lat))
    np.testing.assert_allclose(field.u[:, :-1], u, atol=2e-3)
    np.testing.assert_allclose(field.v[:, :-1], v, atol=2e-3)
    np.testing.assert_array_equal(field.w, 0.0)   # ERA5's w is omega (Pa s**-1): not used

    # sshf: J m**-2 over the hour ending at the stamp, positive downward → W m-2 upward at
    # mid-hour, interpolated to the winds' hours (held after the last)
    flux = truth["upward_heat_flux"]
    heat_flux = 0.5 * (flux(hours - 0.5) + flux(hours + 0.5))
    heat_flux[-1] = flux(hours[-1] - 0.5)
    expected = _obukhov(field.surface_pressure, field.air_temperature, field.ustar, heat_flux)
    np.testing.assert_allclose(field.obukhov_length, expected, rtol=1e-4)


def test_era5_like_global_file_across_the_greenwich_meridian(tmp_path):
    """Longitudes 0–359 and a domain on both sides of 0°: the grid is wrapped, not split."""
    path = tmp_path / "era5.nc"
    write_era5_like(path, west=0.0, east=359.0, step_deg=1.0, south=44.0, north=48.0,
                    n_hours=2, levels_hpa=(900.0, 850.0))
    grid = Grid("EPSG:4326", -0.3, 0.3, 0.02, 45.8, 46.2, 0.02)
    field = read_met_field(path, grid, margin_m=60000)
    lon, lat = _lonlat(field, grid)
    assert lon.min() < -0.5 and lon.max() > 0.5
    east = (lon > 0) & (lon < 1)   # between 0° and 1°, where the test's truth is affine
    assert east.any()
    hours = ((field.time - field.time[0]) / HOUR)[:, None, None]
    truth = era5_like_values(lon, lat, hours, 0.0, 44.0)
    np.testing.assert_allclose(field.blh[:, east], truth["blh"][:, east], rtol=2e-6)


# ---------------------------------------------------------------------------- WRF-like
def _wrf_grid(half_width_m=15000.0, step=1000.0):
    crs = wrf_like_crs()
    cx, cy = pyproj.Transformer.from_crs(WGS84, crs, always_xy=True).transform(11.0, 46.0)
    grid = Grid(crs.to_wkt(), cx - half_width_m, cx + half_width_m, step, cy - half_width_m,
                cy + half_width_m, step)
    return grid, (cx, cy)


@pytest.mark.parametrize("projection_coordinates", [True, False])
def test_wrf_like_file_on_its_own_projection_is_exact_at_grid_points(tmp_path,
                                                                     projection_coordinates):
    path = tmp_path / "wrfout.nc"
    dataset = write_wrf_like(path, projection_coordinates=projection_coordinates)
    grid, centre = _wrf_grid()
    field = read_met_field(path, grid, margin_m=10000)

    n = 40, 36
    x = centre[0] + 3000.0 * (np.arange(n[0]) - (n[0] - 1) / 2)
    y = centre[1] + 3000.0 * (np.arange(n[1]) - (n[1] - 1) / 2)
    ix = np.round((field.x - x[0]) / 3000.0).astype(int)
    iy = np.round((field.y - y[0]) / 3000.0).astype(int)
    np.testing.assert_allclose(field.x, x[ix], atol=1.0)   # the file's own points
    np.testing.assert_allclose(field.y, y[iy], atol=1.0)
    assert field.x[0] < grid.x[0] and field.x[-1] > grid.x[-1]
    assert field.x.size < n[0]   # cropped to the domain and its margin

    def at_points(name):
        return dataset[name].values.astype(float)[:, iy][:, :, ix]

    for attribute, name in (("blh", "PBLH"), ("ustar", "UST"), ("air_temperature", "T2"),
                            ("surface_pressure", "PSFC"), ("roughness_length", "ZNT")):
        np.testing.assert_array_equal(getattr(field, attribute), at_points(name))
    expected = _obukhov(field.surface_pressure, field.air_temperature, field.ustar,
                        at_points("HFX"))
    np.testing.assert_allclose(field.obukhov_length, expected, rtol=1e-12)

    # heights from PH + PHB: mid-levels of the interfaces above the lowest one; winds linear
    # in height, grid-relative = along the frame's axes (the same projection)
    hours = np.arange(field.time.size, dtype=float)[:, None, None]
    xx, yy = np.meshgrid(x[ix], y[iy])
    truth = wrf_like_values(xx, yy, hours, centre)
    mass = 0.5 * (np.add(WRF_INTERFACES_M[1:], WRF_INTERFACES_M[:-1]))
    np.testing.assert_allclose(field.z[1:], mass * truth["stretch"].mean(), rtol=1e-5)
    z = field.z[None, :-1, None, None]
    np.testing.assert_allclose(field.u[:, :-1], truth["u0"][:, None] + WRF_SHEAR[0] * z,
                               atol=1e-4)
    np.testing.assert_allclose(field.v[:, :-1], truth["v0"][:, None] + WRF_SHEAR[1] * z,
                               atol=1e-4)
    # W on the interfaces, averaged to the mid-levels; below the lowest one (10 m) held
    lowest = mass[0] * truth["stretch"][:, None]
    w_expected = truth["w0"][:, None] * np.maximum(z, lowest) / 1000.0
    np.testing.assert_allclose(field.w[:, :-1], w_expected, atol=1e-6)


def test_wrf_like_file_resampled_onto_a_lat_lon_domain(tmp_path):
    path = tmp_path / "wrfout.nc"
    write_wrf_like(path)
    _, centre = _wrf_grid()
    grid = Grid("EPSG:4326", 10.8, 11.2, 0.01, 45.85, 46.15, 0.01)
    field = read_met_field(path, grid, margin_m=10000)
    assert 2500 < field.x[1] - field.x[0] < 3500   # about the WRF resolution

    lon, lat = _lonlat(field, grid)
    crs = wrf_like_crs()
    px, py = pyproj.Transformer.from_crs(WGS84, crs, always_xy=True).transform(lon, lat)
    hours = np.arange(field.time.size, dtype=float)[:, None, None]
    truth = wrf_like_values(px, py, hours, centre)
    for attribute, name in (("blh", "PBLH"), ("air_temperature", "T2"), ("ustar", "UST")):
        np.testing.assert_allclose(getattr(field, attribute), truth[name], rtol=2e-6)

    # grid-relative winds → true east/north → the frame's axes
    z = field.z[None, :-1, None, None]
    grid_u = truth["u0"][:, None] + WRF_SHEAR[0] * z
    grid_v = truth["v0"][:, None] + WRF_SHEAR[1] * z
    east, north = _to_frame(grid_u, grid_v, -_north(crs, lon, lat))
    u, v = _to_frame(east, north, _north(grid.metric_crs, lon, lat))
    np.testing.assert_allclose(field.u[:, :-1], u, atol=2e-4)
    np.testing.assert_allclose(field.v[:, :-1], v, atol=2e-4)
    np.testing.assert_allclose(np.hypot(field.u, field.v)[:, :-1], np.hypot(grid_u, grid_v),
                               atol=2e-4)
    # the Lambert grid's north is ~2° off true north here: the rotation is not negligible
    assert np.abs(field.u[:, :-1] - grid_u).max() > 0.05


def test_a_domain_outside_the_meteorology_is_refused(tmp_path):
    path = tmp_path / "era5.nc"
    write_era5_like(path, n_hours=2)
    with pytest.raises(InputError, match="does not cover the domain") as error:
        read_met_field(path, Grid("EPSG:4326", 20.0, 20.4, 0.02, 46.0, 46.2, 0.02))
    assert len(str(error.value).splitlines()) == 1


# ---------------------------------------------------------------------------- synthetic
def _sea_breeze(grid, **kwargs):
    column = synthetic_meteorology("2025-07-01", 24, 117.0, 31.5, np.random.default_rng(3))
    return sea_breeze_met_field(grid, column, np.random.default_rng(4), **kwargs)


GENERATORS = {
    "uniform": lambda grid: uniform_met_field(grid, "2025-07-01", 24),
    "sheared": lambda grid: sheared_met_field(grid, "2025-07-01", 24),
    "rotating": lambda grid: rotating_met_field(grid, "2025-07-01", 24),
    "sea_breeze": _sea_breeze,
}


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_synthetic_fields_written_and_read_back(tmp_path, name):
    grid = _demo_grid()
    field = GENERATORS[name](grid)
    _, nz, ny, nx = field.shape
    assert nz >= 5 and nx > 10 and ny > 10
    assert np.ptp(field.blh) > 500   # a diurnal boundary layer
    path = tmp_path / f"{name}.nc"
    write_met_field(path, field, grid, dtype=np.float64)
    back = read_met_field(path, grid, margin_m=10000)
    for attribute in ("time", "x", "y", "z"):
        np.testing.assert_array_equal(getattr(back, attribute), getattr(field, attribute))
    for attribute in ("u", "v", "w", "blh", "ustar", "obukhov_length", "air_temperature",
                      "surface_pressure", "roughness_length"):
        np.testing.assert_allclose(getattr(back, attribute), getattr(field, attribute),
                                   rtol=1e-9, atol=1e-9, err_msg=attribute)


def test_synthetic_fields_have_their_shapes():
    grid = _demo_grid()
    uniform = uniform_met_field(grid, "2025-07-01", 6, speed_m_s=5.0, direction_deg=270.0)
    np.testing.assert_allclose(uniform.u, 5.0)
    np.testing.assert_allclose(uniform.v, 0.0, atol=1e-12)

    sheared = sheared_met_field(grid, "2025-07-01", 6, veer_deg_per_km=30.0)
    speed = np.hypot(sheared.u, sheared.v)[0, :, 0, 0]
    assert (np.diff(speed) > 0).all()
    direction = np.degrees(np.arctan2(-sheared.u, -sheared.v))[0, :, 0, 0]   # blowing from
    np.testing.assert_allclose(np.mod(direction - 270.0, 360), 30.0 * sheared.z / 1000, atol=1e-9)

    rotating = rotating_met_field(grid, "2025-07-01", 6, turn_deg_per_hour=15.0)
    direction = np.degrees(np.arctan2(-rotating.u, -rotating.v))[:, 0, 0, 0]
    np.testing.assert_allclose(np.mod(direction - 270.0, 360), 15.0 * np.arange(6), atol=1e-9)

    breeze = _sea_breeze(grid)
    assert np.ptp(breeze.u[:, -1], axis=(1, 2)).max() > 0.5   # varies in space
    ratio = breeze.u[:, 0] / breeze.u[:, -1]
    np.testing.assert_allclose(ratio, np.log(10 / 0.5) / np.log(200 / 0.5), rtol=1e-9)


def test_model_levels_with_given_heights_and_an_inverse_obukhov_length(tmp_path):
    """Model levels (a dimension without units) placed by a 'height' variable; WRF's RMOL."""
    grid = _demo_grid()
    field = sheared_met_field(grid, "2025-07-01", 4)
    dataset = met_field_dataset(field, grid, dtype=np.float64)
    dataset = dataset.rename({"height": "level"}).assign_coords(
        level=("level", np.arange(field.z.size), {"long_name": "model level number"}))
    dataset["z_agl"] = (("time", "level", "y", "x"),
                        np.broadcast_to(field.z[None, :, None, None], field.u.shape),
                        {"standard_name": "height", "units": "m"})
    dataset["RMOL"] = (("time", "y", "x"), 1 / field.obukhov_length, {"units": "m-1"})
    dataset = dataset.drop_vars("obukhov_length")
    path = tmp_path / "model-levels.nc"
    dataset.to_netcdf(path)
    back = read_met_field(path, grid, margin_m=10000)
    np.testing.assert_array_equal(back.z, field.z)
    np.testing.assert_allclose(back.u, field.u, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(back.obukhov_length, field.obukhov_length, rtol=1e-9)

    del dataset["z_agl"]
    dataset.to_netcdf(tmp_path / "no-heights.nc")
    with pytest.raises(InputError, match="winds on model levels .level. need their heights"):
        read_met_field(tmp_path / "no-heights.nc", grid)
