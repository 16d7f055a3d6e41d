"""Synthetic 3-D meteorology for tests and the demo: MetFields and CF NetCDF files.

Generators, each a :class:`cityflux.metfield.MetField` on a regular grid in the domain's
metric frame (:func:`cityflux.synthetic.winds.wind_axes`: the domain plus a margin) with a
few height levels and a diurnal boundary layer (:func:`diurnal_cycle`):

* :func:`uniform_met_field`: the same wind everywhere, at every height and hour;
* :func:`sheared_met_field`: speed growing with height as a power law, direction veering;
* :func:`rotating_met_field`: the direction turning steadily in time;
* :func:`sea_breeze_met_field`: :func:`cityflux.synthetic.winds.sea_breeze_field` with a
  logarithmic profile below a reference height.

Where the generators derive them, u* follows the neutral log law at the lowest level and
L = −ρ c_p T u*³ / (κ g H) from the diurnal heat flux H.

Writers: :func:`met_field_dataset` / :func:`write_met_field` (a MetField as CF on height
levels, with the domain's metric frame as grid mapping and winds towards true east and north),
:func:`era5_like_dataset` (latitude/longitude with descending latitudes, pressure levels in
hPa, ``m s**-1``, ``u10``/``v10``, ``blh``, ``sp``, ``t2m``, ``zust``, ``fsr``, and ``sshf``
as ERA5 has it: accumulated over the hour ending at the time stamp in J m⁻², positive
downward, though labelled ``surface_upward_sensible_heat_flux``) and
:func:`wrf_like_dataset` (a Lambert conformal grid, ``XLAT``/``XLONG``, heights from
``PH`` + ``PHB`` on the staggered levels, grid-relative ``U``, ``V`` at the mass points as CF
``x_wind``/``y_wind``: WRF output converted to CF in a simplified way). Their ``*_values``
functions give the fields they were built from, affine in the horizontal coordinates, so that
tests can check a reader after bilinear interpolation exactly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyproj
import xarray as xr

from ..grid import WGS84, Grid
from ..io import write_netcdf
from ..met_fields import (
    DRY_AIR_GAS_CONSTANT,
    GRAVITY,
    HEAT_CAPACITY,
    KARMAN,
    LAPSE_RATE,
    north_angle,
    rotate_winds,
)
from ..metfield import MetField
from .winds import sea_breeze_field, wind_axes

DEFAULT_HEIGHTS_M = (10.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0)
ROUGHNESS_LENGTH_M = 0.5
SURFACE_PRESSURE_PA = 100800.0


def _hours(start, n_hours: int) -> np.ndarray:
    return np.datetime64(start, "ns") + np.arange(n_hours) * np.timedelta64(1, "h")


def diurnal_cycle(time, lon_deg: float) -> dict:
    """Boundary-layer height (m), heat flux (W m-2) and temperature (K) through the day.

    With s = max(0, sin(π (h − 6) / 12)), h the local solar hour (UTC + lon / 15):
    blh = 300 + 1200 s, H = 250 s by day and −20 at night, T = 290 + 6 s.
    """
    hours = (np.asarray(time, "datetime64[ns]") - np.datetime64("1970-01-01", "ns")) / \
        np.timedelta64(1, "h")
    local = np.mod(hours + lon_deg / 15.0, 24.0)
    sun = np.clip(np.sin(np.pi * (local - 6.0) / 12.0), 0.0, None)
    return {"blh": 300.0 + 1200.0 * sun,
            "heat_flux": np.where(sun > 0, 250.0 * sun, -20.0),
            "air_temperature": 290.0 + 6.0 * sun}


def _from_direction(speed, direction_deg):
    """(u, v) of a wind of ``speed`` blowing from ``direction_deg`` (clockwise from north)."""
    radians = np.radians(direction_deg)
    return -speed * np.sin(radians), -speed * np.cos(radians)


def _assemble(grid: Grid, time, x, y, z, u, v, roughness_length_m: float) -> MetField:
    """A MetField from winds broadcastable to (nt, nz, ny, nx) and the diurnal cycle."""
    shape = (time.size, z.size, y.size, x.size)
    u = np.broadcast_to(np.asarray(u, float), shape).copy()
    v = np.broadcast_to(np.asarray(v, float), shape).copy()
    surface = (time.size, y.size, x.size)
    cycle = diurnal_cycle(time, grid.centre_lonlat[0])
    blh, heat_flux, temperature = (np.broadcast_to(cycle[k][:, None, None], surface).copy()
                                   for k in ("blh", "heat_flux", "air_temperature"))
    pressure = np.full(surface, SURFACE_PRESSURE_PA)
    roughness = np.full(surface, roughness_length_m)
    ustar = KARMAN * np.hypot(u[:, 0], v[:, 0]) / np.log(z[0] / roughness_length_m)
    density = pressure / (DRY_AIR_GAS_CONSTANT * temperature)
    obukhov = -density * HEAT_CAPACITY * temperature * ustar ** 3 / (KARMAN * GRAVITY * heat_flux)
    return MetField(time, np.asarray(x, float), np.asarray(y, float), z, u, v, np.zeros(shape),
                    blh, ustar, obukhov, temperature, pressure, roughness)


def uniform_met_field(grid: Grid, start, n_hours: int = 24, speed_m_s: float = 5.0,
                      direction_deg: float = 270.0, heights_m=DEFAULT_HEIGHTS_M,
                      spacing_m: float = 2000.0, margin_m: float = 10000.0,
                      roughness_length_m: float = ROUGHNESS_LENGTH_M) -> MetField:
    """The same wind everywhere, at every height and hour.

    Parameters
    ----------
    grid : Grid
        The domain; the field covers it plus ``margin_m`` (m) at ``spacing_m`` (m).
    start : datetime-like
        First hour (UTC); values are instantaneous on the hours.
    n_hours : int
    speed_m_s : float, m s-1
    direction_deg : float, degrees
        Where the wind blows from, clockwise from north (270: a westerly).
    heights_m : sequence of float, m
        Wind levels above ground, increasing.
    roughness_length_m : float, m
    """
    x, y = wind_axes(grid, spacing_m, margin_m)
    u, v = _from_direction(speed_m_s, direction_deg)
    return _assemble(grid, _hours(start, n_hours), x, y, np.asarray(heights_m, float), u, v,
                     roughness_length_m)


def sheared_met_field(grid: Grid, start, n_hours: int = 24, speed_10m_m_s: float = 3.0,
                      shear_exponent: float = 0.25, direction_deg: float = 270.0,
                      veer_deg_per_km: float = 30.0, heights_m=DEFAULT_HEIGHTS_M,
                      spacing_m: float = 2000.0, margin_m: float = 10000.0,
                      roughness_length_m: float = ROUGHNESS_LENGTH_M) -> MetField:
    """Speed (z / 10 m)^shear_exponent × ``speed_10m_m_s``; the direction veers (turns
    clockwise) by ``veer_deg_per_km`` per km of height from ``direction_deg`` at the ground.
    Other parameters as :func:`uniform_met_field`."""
    x, y = wind_axes(grid, spacing_m, margin_m)
    z = np.asarray(heights_m, float)
    speed = speed_10m_m_s * (z / 10.0) ** shear_exponent
    u, v = _from_direction(speed, direction_deg + veer_deg_per_km * z / 1000.0)
    return _assemble(grid, _hours(start, n_hours), x, y, z, u[None, :, None, None],
                     v[None, :, None, None], roughness_length_m)


def rotating_met_field(grid: Grid, start, n_hours: int = 24, speed_m_s: float = 5.0,
                       direction_deg: float = 270.0, turn_deg_per_hour: float = 15.0,
                       heights_m=DEFAULT_HEIGHTS_M, spacing_m: float = 2000.0,
                       margin_m: float = 10000.0,
                       roughness_length_m: float = ROUGHNESS_LENGTH_M) -> MetField:
    """A uniform wind whose direction turns clockwise by ``turn_deg_per_hour`` every hour
    (from ``direction_deg`` at the first hour). Other parameters as
    :func:`uniform_met_field`."""
    x, y = wind_axes(grid, spacing_m, margin_m)
    time = _hours(start, n_hours)
    u, v = _from_direction(speed_m_s, direction_deg + turn_deg_per_hour * np.arange(n_hours))
    return _assemble(grid, time, x, y, np.asarray(heights_m, float), u[:, None, None, None],
                     v[:, None, None, None], roughness_length_m)


def sea_breeze_met_field(grid: Grid, column: xr.Dataset, rng: np.random.Generator,
                         coast=None, heights_m=DEFAULT_HEIGHTS_M, spacing_m: float = 2000.0,
                         margin_m: float = 10000.0, reference_height_m: float = 200.0,
                         roughness_length_m: float = ROUGHNESS_LENGTH_M, **breeze) -> MetField:
    """A coastal city: :func:`cityflux.synthetic.winds.sea_breeze_field` in 3-D.

    The 2-D field's wind is the wind at ``reference_height_m`` and above; below, it follows
    the log law, V(z) = V ln(z / z₀) / ln(z_ref / z₀). The 2-D field's hourly means are
    placed at mid-hour. Boundary-layer height, temperature, pressure, u* and L are the 2-D
    field's.

    Parameters
    ----------
    grid : Grid
    column : xarray.Dataset
        Hourly column meteorology with a heat flux, as from
        :func:`cityflux.synthetic.meteorology.synthetic_meteorology`.
    rng : numpy.random.Generator
    coast : (float, float, float) or None
        (x0 m, y0 m, sea direction in degrees) in the metric frame; default a coast 15 km
        east of the domain's centre with the sea to the east.
    breeze
        Further keyword arguments of ``sea_breeze_field``.
    """
    x, y = wind_axes(grid, spacing_m, margin_m)
    if coast is None:
        xs, ys = grid.metric_xy
        coast = (float(xs.mean()) + 15000.0, float(ys.mean()), 90.0)
    flat = sea_breeze_field(column, x, y, coast, rng, latitude_deg=grid.centre_lonlat[1],
                            **breeze)
    return met_field_from_wind_field(flat, heights_m, reference_height_m, roughness_length_m)


def met_field_from_wind_field(flat: xr.Dataset, heights_m=DEFAULT_HEIGHTS_M,
                              reference_height_m: float | None = None,
                              roughness_length_m: float = ROUGHNESS_LENGTH_M) -> MetField:
    """A 2-D wind field of :mod:`cityflux.synthetic.winds` as a MetField on height levels.

    The field's hourly means are placed at mid-hour. With ``reference_height_m`` the field's
    wind is the wind at that height and above, and follows the log law below it,
    V(z) = V ln(z / z₀) / ln(z_ref / z₀); without it the wind is the same at every height
    (a world without shear). Boundary-layer height, temperature, pressure, u* and L are the
    field's.
    """
    z = np.asarray(heights_m, float)
    if reference_height_m is None:
        profile = np.ones(z.size)
    else:
        profile = np.clip(np.log(z / roughness_length_m) /
                          np.log(reference_height_m / roughness_length_m), 0.0, 1.0)
    profile = profile[None, :, None, None]
    u = flat["u"].values.astype(float)[:, None] * profile
    v = flat["v"].values.astype(float)[:, None] * profile
    time = flat["time"].values.astype("datetime64[ns]") + np.timedelta64(30, "m")
    surface = u[:, 0].shape

    def values(name):
        return np.broadcast_to(flat[name].values.astype(float), surface).copy()

    return MetField(time, np.asarray(flat["x"].values, float), np.asarray(flat["y"].values, float),
                    z, u, v, np.zeros(u.shape), values("blh"), values("ustar"),
                    values("obukhov_length"), values("t"), values("sp"),
                    np.full(surface, roughness_length_m))


# ---------------------------------------------------------------------------- writers
def _grid_mapping(crs: pyproj.CRS) -> dict:
    attrs = crs.to_cf()
    attrs["crs_wkt"] = crs.to_wkt()
    return attrs


def _var(dims, values, standard_name, units, long_name, dtype, **extra):
    attrs = {"units": units, "long_name": long_name, **extra}
    if standard_name:
        attrs["standard_name"] = standard_name
    return (dims, np.asarray(values).astype(dtype), attrs)


def met_field_dataset(field: MetField, grid: Grid, dtype=np.float32,
                      title: str = "synthetic meteorology") -> xr.Dataset:
    """A MetField as a CF dataset on (time, height, y, x) in the domain's metric frame.

    The grid mapping is the frame's CRS; ``u``, ``v`` are turned from the frame's axes to true
    east and north (``eastward_wind``, ``northward_wind``), which
    :func:`cityflux.met_fields.read_met_field` turns back.
    """
    crs = grid.metric_crs
    xx, yy = np.meshgrid(field.x, field.y)
    lon, lat = pyproj.Transformer.from_crs(crs, WGS84, always_xy=True).transform(xx, yy)
    eastward, northward = rotate_winds(field.u, field.v, -north_angle(crs, lon, lat))
    dims3, dims2 = ("time", "height", "y", "x"), ("time", "y", "x")
    mapping = {"grid_mapping": "crs"}
    data = {
        "u": _var(dims3, eastward, "eastward_wind", "m s-1", "eastward wind", dtype, **mapping),
        "v": _var(dims3, northward, "northward_wind", "m s-1", "northward wind", dtype,
                  **mapping),
        "w": _var(dims3, field.w, "upward_air_velocity", "m s-1", "upward wind", dtype,
                  **mapping),
        "blh": _var(dims2, field.blh, "atmosphere_boundary_layer_thickness", "m",
                    "boundary-layer height", dtype, **mapping),
        "ustar": _var(dims2, field.ustar, "magnitude_of_surface_friction_velocity_in_air",
                      "m s-1", "friction velocity", dtype, **mapping),
        "obukhov_length": _var(dims2, field.obukhov_length, None, "m", "Obukhov length",
                               dtype, **mapping),
        "t": _var(dims2, field.air_temperature, "air_temperature", "K",
                  "air temperature near the surface", dtype, **mapping),
        "sp": _var(dims2, field.surface_pressure, "surface_air_pressure", "Pa",
                   "surface air pressure", dtype, **mapping),
        "z0": _var(dims2, field.roughness_length, "surface_roughness_length", "m",
                   "roughness length", dtype, **mapping),
        "crs": ((), np.int32(0), _grid_mapping(crs)),
    }
    coords = {
        "time": ("time", field.time, {"standard_name": "time", "long_name": "time"}),
        "height": ("height", field.z, {"standard_name": "height", "units": "m",
                                       "positive": "up", "axis": "Z",
                                       "long_name": "height above ground"}),
        "y": ("y", field.y, {"standard_name": "projection_y_coordinate", "units": "m",
                             "axis": "Y"}),
        "x": ("x", field.x, {"standard_name": "projection_x_coordinate", "units": "m",
                             "axis": "X"}),
        "lat": (("y", "x"), lat, {"standard_name": "latitude", "units": "degrees_north"}),
        "lon": (("y", "x"), lon, {"standard_name": "longitude", "units": "degrees_east"}),
    }
    return xr.Dataset(data, coords=coords, attrs={
        "Conventions": "CF-1.8", "title": title,
        "source": "cityflux.synthetic.met_fields.met_field_dataset"})


def write_met_field(path, field: MetField, grid: Grid, dtype=np.float32,
                    title: str = "synthetic meteorology") -> Path:
    """Write :func:`met_field_dataset` to ``path`` (atomically)."""
    return write_netcdf(met_field_dataset(field, grid, dtype, title), path)


# ---------------------------------------------------------------------------- ERA5-like
ERA5_LEVELS_HPA = (1000.0, 975.0, 950.0, 925.0, 900.0, 875.0, 850.0, 825.0, 800.0, 775.0,
                   750.0, 700.0)
#: Wind shear of the ERA5-like winds, (du/dz, dv/dz) in s-1.
ERA5_SHEAR = (0.004, 0.002)


def era5_like_values(lon, lat, hours, west: float, south: float) -> dict:
    """Fields of :func:`era5_like_dataset` at (lon, lat) and ``hours`` since its start.

    All are affine in lon and lat. Winds are u = u0 + 0.004 z, v = v0 + 0.002 z (z above
    ground); ``upward_heat_flux`` (W m-2, positive upward) is a function to evaluate at any
    hour (ERA5's accumulations are of its values at mid-hour)."""
    d, e = np.asarray(lon, float) - west, np.asarray(lat, float) - south
    h = np.asarray(hours, float)
    day = np.sin(2 * np.pi * (h - 6.0) / 24.0)
    return {
        "sp": 98000.0 + 400.0 * d - 600.0 * e + 100.0 * np.sin(2 * np.pi * h / 24.0),
        "t2m": 293.0 + 0.3 * d - 0.6 * e + 4.0 * day,
        "blh": 700.0 + 60.0 * d + 40.0 * e + 300.0 * day,
        "zust": 0.35 + 0.02 * d - 0.01 * e + 0.05 * day,
        "fsr": 0.3 + 0.05 * d + 0.02 * e + 0.0 * h,
        "surface_altitude": 150.0 + 50.0 * d + 30.0 * e + 0.0 * h,
        "u0": 3.0 + 0.5 * d - 0.3 * e + 0.2 * h,
        "v0": -1.0 + 0.2 * d + 0.4 * e - 0.1 * h,
        "upward_heat_flux": lambda hour: 40.0 + 10.0 * d - 5.0 * e + 150.0 * np.sin(
            2 * np.pi * (np.asarray(hour, float) - 6.0) / 24.0),
    }


def era5_like_dataset(start="2024-07-01T00:00", n_hours: int = 6, west: float = 10.0,
                      east: float = 12.0, south: float = 45.0, north: float = 47.0,
                      step_deg: float = 0.25, levels_hpa=ERA5_LEVELS_HPA,
                      geopotential: bool = False) -> xr.Dataset:
    """An ERA5-like file (the new CDS NetCDF layout): ``valid_time``, ``pressure_level`` (hPa),
    ``latitude`` (descending), ``longitude``; pressure-level ``u``, ``v`` (and ``w``, omega in
    Pa s**-1), single-level ``u10``, ``v10``, ``blh``, ``sp``, ``t2m``, ``zust``, ``fsr``,
    ``sshf`` (J m**-2 over the hour ending at the stamp, positive downward). Level heights
    follow the standard-atmosphere hypsometric form from ``sp`` and ``t2m``; with
    ``geopotential``, ``z`` on the levels and a surface geopotential ``z_surface`` (both
    standard_name ``geopotential``) are written too. Values: :func:`era5_like_values`."""
    time = _hours(start, n_hours)
    hours = np.arange(n_hours, dtype=float)[:, None, None]
    lon = np.arange(west, east + step_deg / 2, step_deg)
    lat = np.arange(north, south - step_deg / 2, -step_deg)
    values = era5_like_values(lon[None, None, :], lat[None, :, None], hours, west, south)
    pressure = np.asarray(levels_hpa, float) * 100.0
    exponent = DRY_AIR_GAS_CONSTANT * LAPSE_RATE / GRAVITY
    sp, t2m = values["sp"][:, None], values["t2m"][:, None]
    height = t2m / LAPSE_RATE * (1 - (pressure[None, :, None, None] / sp) ** exponent)
    u = values["u0"][:, None] + ERA5_SHEAR[0] * height
    v = values["v0"][:, None] + ERA5_SHEAR[1] * height
    dims3 = ("valid_time", "pressure_level", "latitude", "longitude")
    dims2 = ("valid_time", "latitude", "longitude")
    heat_flux = values["upward_heat_flux"](hours - 0.5)
    f4 = np.float32
    data = {
        "u": _var(dims3, u, "eastward_wind", "m s**-1", "U component of wind", f4),
        "v": _var(dims3, v, "northward_wind", "m s**-1", "V component of wind", f4),
        "w": _var(dims3, np.full(u.shape, -0.1), "lagrangian_tendency_of_air_pressure",
                  "Pa s**-1", "Vertical velocity", f4),
        "u10": _var(dims2, values["u0"] + ERA5_SHEAR[0] * 10.0, "eastward_wind", "m s**-1",
                    "10 metre U wind component", f4),
        "v10": _var(dims2, values["v0"] + ERA5_SHEAR[1] * 10.0, "northward_wind", "m s**-1",
                    "10 metre V wind component", f4),
        "blh": _var(dims2, values["blh"], None, "m", "Boundary layer height", f4),
        "sp": _var(dims2, values["sp"], "surface_air_pressure", "Pa", "Surface pressure", f4),
        "t2m": _var(dims2, values["t2m"], None, "K", "2 metre temperature", f4),
        "zust": _var(dims2, values["zust"], None, "m s**-1", "Friction velocity", f4),
        "fsr": _var(dims2, np.broadcast_to(values["fsr"], heat_flux.shape), None, "m",
                    "Forecast surface roughness", f4),
        "sshf": _var(dims2, -heat_flux * 3600.0, "surface_upward_sensible_heat_flux",
                     "J m**-2", "Surface sensible heat flux", f4),
    }
    if geopotential:
        altitude = np.broadcast_to(values["surface_altitude"], sp[:, 0].shape)
        data["z"] = _var(dims3, GRAVITY * (altitude[:, None] + height), "geopotential",
                         "m**2 s**-2", "Geopotential", f4)
        data["z_surface"] = _var(dims2, GRAVITY * altitude, "geopotential", "m**2 s**-2",
                                 "Geopotential at the surface", f4)
    coords = {
        "valid_time": ("valid_time", time, {"standard_name": "time", "long_name": "time"}),
        "pressure_level": ("pressure_level", np.asarray(levels_hpa, float),
                           {"standard_name": "air_pressure", "units": "hPa",
                            "long_name": "pressure", "positive": "down"}),
        "latitude": ("latitude", lat, {"standard_name": "latitude", "units": "degrees_north"}),
        "longitude": ("longitude", lon, {"standard_name": "longitude",
                                         "units": "degrees_east"}),
    }
    return xr.Dataset(data, coords=coords, attrs={
        "Conventions": "CF-1.7", "institution": "synthetic, laid out as ERA5 from the CDS",
        "source": "cityflux.synthetic.met_fields.era5_like_dataset"})


def write_era5_like(path, **kwargs) -> xr.Dataset:
    """Write :func:`era5_like_dataset` (``kwargs``) to ``path``; returns the dataset."""
    dataset = era5_like_dataset(**kwargs)
    write_netcdf(dataset, path)
    return dataset


# ---------------------------------------------------------------------------- WRF-like
#: Heights above ground of the staggered (interface) levels of the WRF-like file, m.
WRF_INTERFACES_M = (0.0, 40.0, 100.0, 200.0, 350.0, 550.0, 800.0, 1100.0, 1500.0, 2000.0)
WRF_SHEAR = (0.003, -0.0015)


def wrf_like_crs(centre_lon: float = 11.0, centre_lat: float = 46.0) -> pyproj.CRS:
    """The Lambert conformal projection of :func:`wrf_like_dataset` (WRF's sphere of radius
    6370 km; central meridian 3° west of the centre, so that grid north is not true north)."""
    return pyproj.CRS.from_proj4(
        f"+proj=lcc +lat_1=30 +lat_2=60 +lat_0={centre_lat} +lon_0={centre_lon - 3.0} "
        "+x_0=0 +y_0=0 +R=6370000 +units=m +no_defs")


def wrf_like_values(x, y, hours, centre) -> dict:
    """Fields of :func:`wrf_like_dataset` at projected (x, y), m, and ``hours``; affine in x
    and y. Winds (grid-relative) are u = u0 + 0.003 z, v = v0 − 0.0015 z; w = w0 z / 1 km;
    ``stretch`` multiplies the interface heights (a time-varying PH)."""
    dx, dy = (np.asarray(x, float) - centre[0]) / 1e3, (np.asarray(y, float) - centre[1]) / 1e3
    h = np.asarray(hours, float)
    day = np.sin(2 * np.pi * (h - 6.0) / 24.0)
    return {
        "HGT": 300.0 + 4.0 * dx - 2.0 * dy + 0.0 * h,
        "PBLH": 900.0 + 5.0 * dx + 3.0 * dy + 300.0 * day,
        "UST": 0.4 + 0.002 * dx - 0.001 * dy + 0.1 * day,
        "HFX": 50.0 + 1.0 * dx + 0.5 * dy + 120.0 * day,
        "T2": 291.0 + 0.02 * dx - 0.03 * dy + 3.0 * day,
        "PSFC": 97000.0 + 20.0 * dx - 10.0 * dy + 0.0 * h,
        "ZNT": 0.4 + 0.005 * dx + 0.002 * dy + 0.0 * h,
        "u0": 2.0 + 0.05 * dx - 0.02 * dy + 0.1 * h,
        "v0": 1.0 - 0.03 * dx + 0.04 * dy - 0.2 * h,
        "w0": 0.02 + 0.001 * dx + 0.0 * h,
        "stretch": 1.0 + 0.02 * np.sin(2 * np.pi * h / 24.0) + 0.0 * dx,
    }


def wrf_like_dataset(start="2024-07-01T00:00", n_hours: int = 4, centre_lon: float = 11.0,
                     centre_lat: float = 46.0, nx: int = 40, ny: int = 36,
                     dx_m: float = 3000.0, projection_coordinates: bool = True) -> xr.Dataset:
    """A WRF-like file converted to CF in a simplified way.

    Dims ``Time`` (coordinate ``XTIME``), ``bottom_top``, ``bottom_top_stag``, and
    ``south_north``/``west_east`` (``y``/``x`` with 1-D projection coordinates when
    ``projection_coordinates``); ``XLAT``/``XLONG`` (float32, 2-D) and a
    ``Lambert_Conformal`` grid mapping (:func:`wrf_like_crs`). ``U``, ``V`` (mass points,
    grid-relative, CF ``x_wind``/``y_wind``), ``U10``, ``V10``, ``W`` and ``PH``, ``PHB`` on
    the interfaces (:data:`WRF_INTERFACES_M` × stretch above ``HGT``), and ``PBLH``, ``UST``,
    ``HFX`` (positive upward), ``T2``, ``PSFC``, ``ZNT``, ``HGT`` with units but, as in WRF,
    no standard names. Values: :func:`wrf_like_values`."""
    crs = wrf_like_crs(centre_lon, centre_lat)
    centre = pyproj.Transformer.from_crs(WGS84, crs, always_xy=True).transform(centre_lon,
                                                                               centre_lat)
    x = centre[0] + dx_m * (np.arange(nx) - (nx - 1) / 2)
    y = centre[1] + dx_m * (np.arange(ny) - (ny - 1) / 2)
    xx, yy = np.meshgrid(x, y)
    lon, lat = pyproj.Transformer.from_crs(crs, WGS84, always_xy=True).transform(xx, yy)
    hours = np.arange(n_hours, dtype=float)[:, None, None]
    values = wrf_like_values(xx[None], yy[None], hours, centre)
    interfaces = np.asarray(WRF_INTERFACES_M)[None, :, None, None] * values["stretch"][:, None]
    mass = 0.5 * (interfaces[:, 1:] + interfaces[:, :-1])
    ground = values["HGT"][:, None]
    row, col = ("y", "x") if projection_coordinates else ("south_north", "west_east")
    dims3, dims3s = ("Time", "bottom_top", row, col), ("Time", "bottom_top_stag", row, col)
    dims2 = ("Time", row, col)
    f4 = np.float32
    extra = {"grid_mapping": "Lambert_Conformal", "coordinates": "XLONG XLAT"}
    base = GRAVITY * (ground + np.asarray(WRF_INTERFACES_M)[None, :, None, None])
    data = {
        "U": _var(dims3, values["u0"][:, None] + WRF_SHEAR[0] * mass, "x_wind", "m s-1",
                  "x-wind component at mass points", f4, **extra),
        "V": _var(dims3, values["v0"][:, None] + WRF_SHEAR[1] * mass, "y_wind", "m s-1",
                  "y-wind component at mass points", f4, **extra),
        "U10": _var(dims2, values["u0"] + WRF_SHEAR[0] * 10.0, "x_wind", "m s-1",
                    "U at 10 M", f4, **extra),
        "V10": _var(dims2, values["v0"] + WRF_SHEAR[1] * 10.0, "y_wind", "m s-1",
                    "V at 10 M", f4, **extra),
        "W": _var(dims3s, values["w0"][:, None] * interfaces / 1000.0, "upward_air_velocity",
                  "m s-1", "z-wind component", f4, **extra),
        "PHB": _var(dims3s, base, None, "m2 s-2", "base-state geopotential", f4, **extra),
        "PH": _var(dims3s, GRAVITY * (ground + interfaces) - base, None, "m2 s-2",
                   "perturbation geopotential", f4, **extra),
        "Lambert_Conformal": ((), np.int32(0), _grid_mapping(crs)),
    }
    for name, units, long_name in (("HGT", "m", "Terrain Height"),
                                   ("PBLH", "m", "PBL HEIGHT"),
                                   ("UST", "m s-1", "U* IN SIMILARITY THEORY"),
                                   ("HFX", "W m-2", "UPWARD HEAT FLUX AT THE SURFACE"),
                                   ("T2", "K", "TEMP at 2 M"), ("PSFC", "Pa", "SFC PRESSURE"),
                                   ("ZNT", "m", "TIME-VARYING ROUGHNESS LENGTH")):
        data[name] = _var(dims2, np.broadcast_to(values[name], (n_hours, ny, nx)), None, units,
                          long_name, f4, **extra)
    coords = {
        "XTIME": ("Time", _hours(start, n_hours), {"standard_name": "time"}),
        "XLAT": ((row, col), lat.astype(f4), {"standard_name": "latitude",
                                              "units": "degree_north"}),
        "XLONG": ((row, col), lon.astype(f4), {"standard_name": "longitude",
                                               "units": "degree_east"}),
    }
    if projection_coordinates:
        coords["x"] = ("x", x, {"standard_name": "projection_x_coordinate", "units": "m"})
        coords["y"] = ("y", y, {"standard_name": "projection_y_coordinate", "units": "m"})
    return xr.Dataset(data, coords=coords, attrs={
        "Conventions": "CF-1.8", "title": "WRF-like output, simplified CF",
        "source": "cityflux.synthetic.met_fields.wrf_like_dataset", "DX": dx_m, "DY": dx_m,
        "MAP_PROJ": 1, "TRUELAT1": 30.0, "TRUELAT2": 60.0, "STAND_LON": centre_lon - 3.0})


def write_wrf_like(path, **kwargs) -> xr.Dataset:
    """Write :func:`wrf_like_dataset` (``kwargs``) to ``path``; returns the dataset."""
    dataset = wrf_like_dataset(**kwargs)
    write_netcdf(dataset, path)
    return dataset
