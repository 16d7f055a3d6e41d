"""Read meteorology as fields: a CF NetCDF file (ERA5, WRF converted to CF, a column) → MetField.

:func:`read_met_field` turns a file into a :class:`cityflux.metfield.MetField` on a regular
grid in the domain's metric frame with winds on fixed heights above ground.

Finding variables
    By CF ``standard_name`` whatever they are called; a variable without a standard name (or
    with ``unknown``) is taken by name instead (:data:`QUANTITIES` lists both). When several
    share a name they are told apart by their dimensions: winds with a vertical dimension are
    the profile, winds without one are single levels (ERA5 ``u10``, WRF ``U10``) added to it at
    their height (a scalar ``height`` coordinate, else the number ending the name, else 10 m);
    ``geopotential`` with a vertical dimension is on the levels, without one at the surface.
    Grid-relative winds (``x_wind``, ``y_wind``, e.g. WRF's ``U``, ``V``) are accepted too.

Horizontal grid
    1-D ``latitude``/``longitude`` (ascending or descending, 0–360 or ±180, global or not);
    1-D projection x/y with a CF grid mapping; 2-D latitude/longitude (WRF ``XLAT``, ``XLONG``)
    with a grid mapping, whose projected coordinates must form a regular grid; projection x/y
    without a grid mapping are taken to be in the domain's metric frame already, winds along
    its axes (the fields of :mod:`cityflux.synthetic.winds`). A file with none of these is a column (nx = ny = 1, at the
    domain's centre). When the met grid is regular and axis-aligned in the metric frame
    (:attr:`cityflux.grid.Grid.metric_crs`), its own points are kept, cropped to the domain plus
    ``margin_m``. Otherwise (lat/lon met, or another projection) it is resampled by bilinear
    interpolation in the met grid's own coordinates onto a regular metric grid covering the
    domain plus ``margin_m`` at about the met resolution (the smaller of its two spacings in
    metres near the domain; ``spacing_m`` overrides); rows and columns of that grid falling
    outside the met grid are dropped, and the domain's cell centres must remain covered.

Winds
    ``u``, ``v`` of the MetField are components along the metric frame's x and y axes:
    eastward/northward winds are rotated by the angle between true north and the frame's y axis
    (the meridian convergence, a fraction of a degree to a few degrees), grid-relative winds by
    the difference of the two grids' convergences (nothing when the met grid is the frame).

Vertical
    Height levels (coordinate of length units: above ground; ``altitude``: above sea level,
    minus ``surface_altitude``), pressure levels (coordinate in pressure units) or model levels
    (any other vertical dimension). Heights of pressure levels come from ``geopotential`` or
    ``geopotential_height`` on the levels when present (geopotential / g0, minus the ground:
    ``surface_altitude``, ``surface_geopotential`` / g0, or the levels' altitude interpolated
    linearly in ln p to the surface pressure), otherwise from the hypsometric equation for dry
    air (:func:`pressure_level_heights`): integrated layer by layer with ``air_temperature`` on
    the levels when present, else with the near-surface temperature and the standard lapse
    rate 6.5 K km⁻¹. Model levels need a ``height`` variable (above ground) or a geopotential on
    the levels or on their interfaces (one more level, averaged to the mid-levels, the lowest
    interface being the ground; WRF's ``PH`` + ``PHB``). Geopotential height is used as
    geometric height (they differ by < 0.1 % in the boundary layer). The wind levels of every
    column (those above ground, plus single-level winds) are interpolated linearly in height
    onto fixed heights: the single levels' heights and the heights of the fixed levels, or, for
    pressure and model levels, each level's mean height above ground over the columns where it
    is above ground (levels under ground in more than half of the columns dropped, heights
    within 1 m of a kept one dropped); below the lowest and above the highest level of a column
    the wind is held. ``upward_air_velocity`` on the profile's levels
    (or its interfaces) is used for ``w``, else w = 0 (ERA5's ``w`` is a pressure tendency in
    Pa s⁻¹ and is not converted).

Surface fields, by standard name
    ``atmosphere_boundary_layer_thickness`` and ``air_temperature`` (near-surface, no vertical
    dimension) are required. Optional, with defaults: ``surface_air_pressure`` (101325 Pa);
    ``surface_roughness_length`` (``roughness_length_m``, 0.5 m); friction velocity
    ``magnitude_of_surface_friction_velocity_in_air``, else from the neutral log law at the
    lowest wind level, u* = κ |V(z₁)| / ln(max(z₁ / z₀, 2)) (no stability correction: it
    underestimates u* in convective and overestimates it in stable conditions by a few tens of
    percent); Obukhov length ``obukhov_length`` (m), else ``RMOL`` (WRF's 1/L), else from the
    sensible heat flux, L = −ρ c_p T u*³ / (κ g H) with ρ = p / (R_d T) (±inf when H = 0), else
    neutral (L = inf). The heat flux is ``surface_upward_sensible_heat_flux`` (W m⁻²) or
    ``surface_downward_sensible_heat_flux``; ECMWF's parameters (``sshf``, ``ishf``, ``msshf``
    or a ``GRIB_paramId`` of 146, 231, 33 or 235033) are positive downward whatever their
    standard name says (ERA5 files label ``sshf`` "surface_upward…") and are negated.

Units and time
    Units are parsed with :func:`cityflux.units.convert` (``m s**-1``, ``km h-1``, ``hPa``,
    ``millibars``…); units of another dimension are refused. A heat flux in energy per area
    (ERA5's ``J m**-2``) is an accumulation: over the time bounds when the time coordinate has
    them, else ERA5's hour ending at the time stamp; it is divided by the period. A variable
    whose ``cell_methods`` say ``time: mean`` (or ``sum``), or any variable on a time coordinate
    with bounds (unless ``time: point``), is a period value, valid at the middle of its period:
    the bounds, else for a mean the record step starting at the time stamp (cityflux's own
    convention), else for an accumulation the hour ending at it. The MetField's times are the
    (shifted) times of the eastward wind; other variables are interpolated linearly in time to
    them (held beyond their ends).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyproj
import xarray as xr

from .errors import InputError, brief
from .grid import WGS84, Grid
from .met import STANDARD_PRESSURE_PA
from .metfield import MetField
from .units import convert

log = logging.getLogger(__name__)

KARMAN = 0.4
#: Standard gravity, m s-2 (geopotential = g0 × geopotential height).
GRAVITY = 9.80665
#: Gas constant of dry air, J kg-1 K-1.
DRY_AIR_GAS_CONSTANT = 287.05
#: Heat capacity of air at constant pressure, J kg-1 K-1.
HEAT_CAPACITY = 1005.0
#: Standard-atmosphere lapse rate, K m-1.
LAPSE_RATE = 0.0065
DEFAULT_ROUGHNESS_LENGTH_M = 0.5
#: Height of a near-surface wind that states none, m (the WMO standard).
DEFAULT_WIND_HEIGHT_M = 10.0
DEFAULT_MARGIN_M = 50_000.0

_WRF_GEOPOTENTIAL = "PH+PHB"
_ECMWF_DOWNWARD_NAMES = {"sshf", "ishf", "msshf", "avg_ishf", "mean_surface_sensible_heat_flux"}
_ECMWF_DOWNWARD_IDS = {146, 231, 33, 235033}


@dataclass(frozen=True)
class Quantity:
    """How a quantity is found: standard names, names as a fallback, SI units, words."""

    standard_names: tuple[str, ...]
    names: tuple[str, ...]
    units: str
    description: str


QUANTITIES = {
    "u": Quantity(("eastward_wind",), ("u", "ua", "uas", "u10", "u100"), "m s-1", "eastward wind"),
    "v": Quantity(("northward_wind",), ("v", "va", "vas", "v10", "v100"), "m s-1",
                  "northward wind"),
    "x_wind": Quantity(("x_wind", "grid_eastward_wind"), (), "m s-1", "grid-relative x wind"),
    "y_wind": Quantity(("y_wind", "grid_northward_wind"), (), "m s-1", "grid-relative y wind"),
    "w": Quantity(("upward_air_velocity",), ("w", "W", "wa"), "m s-1", "upward wind"),
    "blh": Quantity(("atmosphere_boundary_layer_thickness",), ("blh", "PBLH", "pblh"), "m",
                    "boundary-layer height"),
    "air_temperature": Quantity(("air_temperature",), ("t2m", "T2", "tas", "ta", "t"), "K",
                                "air temperature"),
    "surface_pressure": Quantity(("surface_air_pressure",), ("sp", "PSFC", "ps"), "Pa",
                                 "surface pressure"),
    "ustar": Quantity(("magnitude_of_surface_friction_velocity_in_air",),
                      ("zust", "UST", "ustar"), "m s-1", "friction velocity"),
    "obukhov_length": Quantity(("obukhov_length",), ("obukhov_length",), "m", "Obukhov length"),
    "inverse_obukhov_length": Quantity((), ("RMOL", "rmol"), "m-1", "inverse Obukhov length"),
    "upward_heat_flux": Quantity(("surface_upward_sensible_heat_flux",),
                                 ("shf", "HFX", "hfss", "sshf", "ishf", "msshf"), "W m-2",
                                 "sensible heat flux"),
    "downward_heat_flux": Quantity(("surface_downward_sensible_heat_flux",), (), "W m-2",
                                   "downward sensible heat flux"),
    "roughness": Quantity(("surface_roughness_length",), ("fsr", "ZNT", "z0"), "m",
                          "roughness length"),
    "height": Quantity(("height",), ("height",), "m", "height above ground"),
    "geopotential": Quantity(("geopotential",), ("z",), "m2 s-2", "geopotential"),
    "geopotential_height": Quantity(("geopotential_height",), ("zg", "gh"), "m",
                                    "geopotential height"),
    "surface_altitude": Quantity(("surface_altitude",), ("HGT", "orog"), "m", "surface altitude"),
    "surface_geopotential": Quantity(("surface_geopotential",), (), "m2 s-2",
                                     "surface geopotential"),
}


def read_met_field(path, grid: Grid, *, margin_m: float = DEFAULT_MARGIN_M,
                   spacing_m: float | None = None,
                   roughness_length_m: float = DEFAULT_ROUGHNESS_LENGTH_M) -> MetField:
    """Meteorology of a CF NetCDF file as a :class:`MetField` on the domain's metric grid.

    Parameters
    ----------
    path : path-like
        The NetCDF file (see the module docstring for what it may hold).
    grid : Grid
        The domain; the field is in its metric frame and covers it plus ``margin_m``.
    margin_m : float, m
        How far beyond the domain's cells the field reaches (where the met grid allows).
    spacing_m : float or None, m
        Spacing of the resampled grid when the met grid must be resampled; default about the
        met grid's own.
    roughness_length_m : float, m
        Roughness length where the file gives none.

    Raises
    ------
    InputError
        One line naming the file and what was missing or wrong, and what was expected.
    """
    from .inventory.gridded import open_netcdf

    with open_netcdf(Path(path)) as ds:
        return met_field_from_dataset(ds, grid, str(path), margin_m=margin_m,
                                      spacing_m=spacing_m, roughness_length_m=roughness_length_m)


def met_field_from_dataset(ds: xr.Dataset, grid: Grid, where: str = "meteorology", *,
                           margin_m: float = DEFAULT_MARGIN_M, spacing_m: float | None = None,
                           roughness_length_m: float = DEFAULT_ROUGHNESS_LENGTH_M) -> MetField:
    """As :func:`read_met_field`, for an open dataset; ``where`` names it in error messages."""
    return _Reader(ds, grid, where, margin_m, spacing_m).read(roughness_length_m)


# ---------------------------------------------------------------------------- physics
def pressure_level_heights(pressure_pa, surface_pressure_pa, surface_temperature_k,
                           level_temperature_k=None) -> np.ndarray:
    """Heights above ground (m) of pressure levels by the hypsometric equation for dry air.

    With temperatures on the levels: z_k = (R_d / g) Σ T̄ Δ ln p, layer by layer upward from
    the surface (T̄ the mean of a layer's two bounding temperatures, the surface one being the
    near-surface temperature; exact for T linear in ln p). Without: the standard-atmosphere
    form with lapse rate Γ = 6.5 K km⁻¹, z = (T_s / Γ) (1 − (p / p_s)^(R_d Γ / g)).

    Parameters
    ----------
    pressure_pa : array_like, (L,), Pa
    surface_pressure_pa, surface_temperature_k : array_like, Pa, K
        Broadcastable to (..., 1, ...) with the level axis at position ``-3`` of the result,
        e.g. (nt, 1, ny, nx).
    level_temperature_k : array_like (nt, L, ny, nx), K, optional

    Returns
    -------
    ndarray, m, (nt, L, ny, nx): NaN for levels below the ground (p > p_s).
    """
    p = np.asarray(pressure_pa, float).reshape(-1, 1, 1)
    ps = np.asarray(surface_pressure_pa, float)
    ts = np.asarray(surface_temperature_k, float)
    if level_temperature_k is None:
        exponent = DRY_AIR_GAS_CONSTANT * LAPSE_RATE / GRAVITY
        z = ts / LAPSE_RATE * (1 - (p / ps) ** exponent)
        return np.where(p <= ps, z, np.nan)
    tl = np.asarray(level_temperature_k, float)
    shape = np.broadcast_shapes(tl.shape, ps.shape, ts.shape)
    z = np.full(shape, np.nan)
    below_p, below_t = np.broadcast_to(ps, shape)[:, 0], np.broadcast_to(ts, shape)[:, 0]
    height = np.zeros_like(below_p)
    for k in np.argsort(-p.ravel()):   # upward: decreasing pressure
        level_t = np.broadcast_to(tl, shape)[:, k]
        above = p.ravel()[k] <= below_p
        layer = DRY_AIR_GAS_CONSTANT / GRAVITY * 0.5 * (below_t + level_t) * \
            np.log(below_p / p.ravel()[k])
        height = np.where(above, height + layer, height)
        z[:, k] = np.where(above, height, np.nan)
        below_p = np.where(above, p.ravel()[k], below_p)
        below_t = np.where(above, level_t, below_t)
    return z


def north_angle(crs, lon, lat) -> np.ndarray:
    """Angle (radians, clockwise) from the y axis of ``crs`` to true north at (lon, lat)."""
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    crs = pyproj.CRS.from_user_input(crs)
    if crs.is_geographic:
        return np.zeros(np.broadcast_shapes(lon.shape, lat.shape))
    transform = pyproj.Transformer.from_crs(WGS84, crs, always_xy=True).transform
    step = 1e-4
    x0, y0 = transform(lon, np.clip(lat - step, -90, 90))
    x1, y1 = transform(lon, np.clip(lat + step, -90, 90))
    return np.arctan2(np.asarray(x1) - x0, np.asarray(y1) - y0)


def rotate_winds(u, v, angle):
    """Wind components along the axes of a frame in which true north lies ``angle`` (radians)
    clockwise from the y axis, from components towards true east (u) and north (v).

    (The inverse is ``rotate_winds(u, v, -angle)``.)
    """
    cos, sin = np.cos(angle), np.sin(angle)
    return u * cos + v * sin, -u * sin + v * cos


def _interpolate_columns(heights, values: list, targets) -> list:
    """Linear interpolation in height, column by column, onto fixed ``targets``.

    ``heights`` and every array of ``values`` are (nt, L, ny, nx); levels with a height that
    is not positive and finite, or a non-finite value, are skipped; outside a column's levels
    the nearest value is held. Returns arrays (nt, K, ny, nx), NaN where a column has no level.
    """
    h = np.moveaxis(heights, 1, -1)
    vals = [np.moveaxis(v, 1, -1) for v in values]
    valid = np.isfinite(h) & (h > 0)
    for v in vals:
        valid &= np.isfinite(v)
    order = np.argsort(np.where(valid, h, np.inf), axis=-1, kind="stable")
    h = np.take_along_axis(np.where(valid, h, np.inf), order, -1)
    vals = [np.take_along_axis(v, order, -1) for v in vals]
    n_valid = valid.sum(-1)[..., None]
    last = np.maximum(n_valid - 1, 0)
    out = [np.empty(h.shape[:-1] + (len(targets),)) for _ in vals]
    for k, target in enumerate(targets):
        below = (h < target).sum(-1)[..., None]
        lo = np.minimum(np.maximum(below - 1, 0), last)
        hi = np.minimum(below, last)
        h_lo, h_hi = np.take_along_axis(h, lo, -1), np.take_along_axis(h, hi, -1)
        with np.errstate(invalid="ignore", divide="ignore"):
            weight = np.where(hi > lo, (target - h_lo) / (h_hi - h_lo), 0.0)
        for result, v in zip(out, vals):
            v_lo, v_hi = np.take_along_axis(v, lo, -1), np.take_along_axis(v, hi, -1)
            value = v_lo + weight * (v_hi - v_lo)
            result[..., k] = np.where(n_valid > 0, value, np.nan)[..., 0]
    return [np.moveaxis(result, -1, 1) for result in out]


def _has_standard_name(var) -> bool:
    name = str(var.attrs.get("standard_name", "")).strip()
    return bool(name) and name != "unknown"


def _expected(key: str) -> str:
    q = QUANTITIES[key]
    parts = [f"standard_name {' or '.join(repr(s) for s in q.standard_names)}"] if \
        q.standard_names else []
    if q.names:
        parts.append(f"named {'/'.join(q.names)}")
    return f"{q.description} ({', or '.join(parts)})"


def _convertible(units, target) -> bool:
    try:
        convert(1.0, str(units), target)
    except InputError:
        return False
    return True


# ---------------------------------------------------------------------------- horizontal
@dataclass(frozen=True)
class _Horizontal:
    """Where the met grid's values go: a window of it, and weights onto the target grid."""

    y_dim: str | None
    x_dim: str | None
    window: dict            # dim -> original indices, in ascending coordinate order
    x: np.ndarray           # target axes in the metric frame, m
    y: np.ndarray
    weights: tuple | None   # (iy, ix, wy, wx), each (ny, nx); None: the window itself
    rotation_true: np.ndarray   # (ny, nx) rad, for eastward/northward winds
    rotation_grid: np.ndarray   # (ny, nx) rad, for grid-relative winds

    def resample(self, array: np.ndarray) -> np.ndarray:
        shape = (self.y.size, self.x.size)
        if array.shape[-2:] == (1, 1):
            return np.broadcast_to(array, array.shape[:-2] + shape)
        if self.weights is None:
            return array
        iy, ix, wy, wx = self.weights
        return ((1 - wy) * ((1 - wx) * array[..., iy, ix] + wx * array[..., iy, ix + 1]) +
                wy * ((1 - wx) * array[..., iy + 1, ix] + wx * array[..., iy + 1, ix + 1]))


def _coordinates(ds: xr.Dataset):
    """(kind, x name, y name): kind 'geographic' | 'projected' | 'curvilinear' | 'column'."""
    found = {}
    for name, var in ds.variables.items():
        standard = var.attrs.get("standard_name")
        units = str(var.attrs.get("units", "")).lower()
        if var.ndim == 1 and var.dims == (name,):
            axis = var.attrs.get("axis")
            if standard == "longitude" or (standard is None and (
                    name in ("lon", "longitude") or (axis == "X" and units.startswith("degree")))):
                found.setdefault("lon", name)
            elif standard == "latitude" or (standard is None and (
                    name in ("lat", "latitude") or (axis == "Y" and units.startswith("degree")))):
                found.setdefault("lat", name)
            elif standard == "projection_x_coordinate" or (standard is None and (
                    name == "x" or axis == "X")):
                found.setdefault("x", name)
            elif standard == "projection_y_coordinate" or (standard is None and (
                    name == "y" or axis == "Y")):
                found.setdefault("y", name)
        elif var.ndim in (2, 3):
            if standard == "longitude" or name in ("XLONG", "XLONG_M", "lon", "longitude"):
                found.setdefault("lon2d", name)
            elif standard == "latitude" or name in ("XLAT", "XLAT_M", "lat", "latitude"):
                found.setdefault("lat2d", name)
    if "x" in found and "y" in found:
        return "projected", found["x"], found["y"]
    if "lon" in found and "lat" in found:
        return "geographic", found["lon"], found["lat"]
    if "lon2d" in found and "lat2d" in found:
        return "curvilinear", found["lon2d"], found["lat2d"]
    return "column", None, None


def _grid_mapping(ds: xr.Dataset, where: str):
    referenced = {str(var.attrs["grid_mapping"]).split(":")[0].strip()
                  for var in ds.variables.values() if "grid_mapping" in var.attrs}
    chosen = sorted(referenced & set(ds.variables)) or sorted(
        name for name, var in ds.variables.items() if "grid_mapping_name" in var.attrs)
    if not chosen:
        return None
    if len(chosen) > 1:
        raise InputError(f"{where}: several grid mappings ({', '.join(chosen)}); expected one")
    try:
        return pyproj.CRS.from_cf(dict(ds[chosen[0]].attrs))
    except Exception as exc:  # noqa: BLE001 (pyproj raises several types for bad mappings)
        raise InputError(f"{where}: cannot read grid mapping {chosen[0]!r}: {brief(exc)}") \
            from None


def _regular(values, name, where, tolerance):
    """Exactly regular, ascending axis (and the original order) from ``values``."""
    values = np.asarray(values, float)
    if values.size < 2 or not np.isfinite(values).all():
        raise InputError(f"{where}: {name} needs at least two finite values to fix the grid "
                         f"step; found {values.size}")
    order = np.argsort(values, kind="stable")
    ascending = values[order]
    step = (ascending[-1] - ascending[0]) / (ascending.size - 1)
    regular = ascending[0] + step * np.arange(ascending.size)
    deviation = np.abs(ascending - regular).max()
    if step <= 0 or deviation > tolerance(step):
        raise InputError(f"{where}: {name} is not a regular grid: mean step {step:g}, largest "
                         f"deviation {deviation:g}; expected regularly spaced cell centres")
    return regular, order


def _horizontal(ds, grid: Grid, where, margin_m, spacing_m) -> _Horizontal:
    kind, x_name, y_name = _coordinates(ds)
    metric = grid.metric_crs
    to_lonlat = pyproj.Transformer.from_crs(metric, WGS84, always_xy=True).transform
    xs_dom, ys_dom = grid.metric_xy
    if kind == "column":
        x, y = np.array([float(np.mean(xs_dom))]), np.array([float(np.mean(ys_dom))])
        zero = np.zeros((1, 1))
        return _Horizontal(None, None, {}, x, y, None, zero, zero)

    def float_tolerance(var):
        eps = np.finfo(var.dtype).eps if np.issubdtype(var.dtype, np.floating) else 0.0
        return lambda step: max(1e-6 * step, 8 * eps * float(np.abs(var.values).max()))

    if kind == "curvilinear":
        met_crs = _grid_mapping(ds, where)
        if met_crs is None:
            raise InputError(f"{where}: 2-D latitude/longitude ({y_name}, {x_name}) need a grid "
                             "mapping variable (grid_mapping_name, e.g. lambert_conformal_conic) "
                             "giving the projection of the grid")
        lon2d, lat2d = ds[x_name], ds[y_name]
        while lon2d.ndim > 2:
            lon2d, lat2d = lon2d.isel({lon2d.dims[0]: 0}), lat2d.isel({lat2d.dims[0]: 0})
        y_dim, x_dim = lon2d.dims
        px, py = pyproj.Transformer.from_crs(WGS84, met_crs, always_xy=True).transform(
            np.asarray(lon2d.values, float), np.asarray(lat2d.transpose(*lon2d.dims).values,
                                                        float))
        xs, ys = px.mean(axis=0), py.mean(axis=1)
        loose = (lambda step: 1e-2 * step)  # float32 lat/lon: ~0.5 m
        for name, values, axis in (("x", px, xs[None, :]), ("y", py, ys[:, None])):
            step = abs(axis.ravel()[-1] - axis.ravel()[0]) / max(axis.size - 1, 1)
            if np.abs(values - axis).max() > loose(step):
                raise InputError(f"{where}: {y_name}/{x_name} projected with the grid mapping "
                                 "do not form a regular, axis-aligned grid; expected the 2-D "
                                 "latitude/longitude of a regular projected grid")
        (xs, x_order), (ys, y_order) = (_regular(xs, "x", where, loose),
                                        _regular(ys, "y", where, loose))
    else:
        x_var, y_var = ds[x_name], ds[y_name]
        x_dim, y_dim = x_name, y_name
        scale = 1.0
        if kind == "projected":
            met_crs = _grid_mapping(ds, where)
            units = x_var.attrs.get("units")
            scale = 1.0 if units is None else convert(1.0, str(units), "m", f"{where}: {x_name}")
        else:
            met_crs = WGS84
        x_values = np.asarray(x_var.values, float) * scale
        y_values = np.asarray(y_var.values, float) * scale
        if kind == "geographic":
            step = abs(x_values[-1] - x_values[0]) / max(x_values.size - 1, 1)
            if abs(step * x_values.size - 360) < 1e-3 * step:   # global: wrap near the domain
                centre = grid.centre_lonlat[0]
                x_values = centre - 180 + np.mod(x_values - (centre - 180), 360)
        (xs, x_order), (ys, y_order) = (_regular(x_values, x_name, where, float_tolerance(x_var)),
                                        _regular(y_values, y_name, where, float_tolerance(y_var)))

    if met_crs is None:   # projected x/y without a mapping: the domain's metric frame
        to_met = to_metric = (lambda a, b: (np.asarray(a, float), np.asarray(b, float)))
    elif met_crs.is_geographic:
        def to_met(a, b):
            lon, lat = to_lonlat(a, b)
            mid = 0.5 * (xs[0] + xs[-1])
            return lon + 360 * np.round((mid - lon) / 360), lat
        to_metric = pyproj.Transformer.from_crs(WGS84, metric, always_xy=True).transform
    else:
        to_met = pyproj.Transformer.from_crs(metric, met_crs, always_xy=True).transform
        to_metric = pyproj.Transformer.from_crs(met_crs, metric, always_xy=True).transform

    # The target box: the domain's cells plus the margin, in the metric frame.
    widths = grid.metric_cell_size
    box = [(float((c - w / 2).min()) - margin_m, float((c + w / 2).max()) + margin_m)
           for c, w in ((xs_dom, widths[0]), (ys_dom, widths[1]))]
    inner = [(float(xs_dom.min()), float(xs_dom.max())), (float(ys_dom.min()), float(ys_dom.max()))]
    edge = np.linspace(0, 1, 41)
    bx = np.concatenate([box[0][0] + edge * (box[0][1] - box[0][0]), np.full(41, box[0][1]),
                         box[0][1] - edge * (box[0][1] - box[0][0]), np.full(41, box[0][0])])
    by = np.concatenate([np.full(41, box[1][0]), box[1][0] + edge * (box[1][1] - box[1][0]),
                         np.full(41, box[1][1]), box[1][1] - edge * (box[1][1] - box[1][0])])
    mx, my = to_met(bx, by)
    window = []
    for axis, values in ((xs, mx), (ys, my)):
        step = axis[1] - axis[0]
        low = int(np.clip(np.floor((np.nanmin(values) - axis[0]) / step) - 1, 0, axis.size - 1))
        high = int(np.clip(np.ceil((np.nanmax(values) - axis[0]) / step) + 1, 0, axis.size - 1))
        if high - low < 1:
            low, high = (low - 1, high) if high == axis.size - 1 else (low, high + 1)
        window.append(np.arange(low, high + 1))
    wx, wy = window
    xs_w, ys_w = xs[wx], ys[wy]
    index = {x_dim: x_order[wx], y_dim: y_order[wy]}
    mesh_x, mesh_y = to_metric(*np.meshgrid(xs_w, ys_w))
    mesh_x, mesh_y = np.asarray(mesh_x, float), np.asarray(mesh_y, float)

    def covered(x, y):
        return (x[0] <= inner[0][0] + 1e-6 and x[-1] >= inner[0][1] - 1e-6 and
                y[0] <= inner[1][0] + 1e-6 and y[-1] >= inner[1][1] - 1e-6)

    def refuse():
        raise InputError(
            f"{where}: the meteorology does not cover the domain: in the domain's metric frame "
            f"the part of its grid nearest the domain spans x {mesh_x.min() / 1e3:.1f} to "
            f"{mesh_x.max() / 1e3:.1f} km, y {mesh_y.min() / 1e3:.1f} to "
            f"{mesh_y.max() / 1e3:.1f} km, and the domain's cell centres span x "
            f"{inner[0][0] / 1e3:.1f} to {inner[0][1] / 1e3:.1f} km, y {inner[1][0] / 1e3:.1f} "
            f"to {inner[1][1] / 1e3:.1f} km")

    step_x, step_y = mesh_x[0, 1] - mesh_x[0, 0], mesh_y[1, 0] - mesh_y[0, 0]
    tolerance = 1e-6 * max(abs(step_x), abs(step_y)) + 1e-3
    if (step_x > 0 and step_y > 0 and np.abs(mesh_x - mesh_x[:1]).max() <= tolerance and
            np.abs(mesh_y - mesh_y[:, :1]).max() <= tolerance and
            np.abs(np.diff(mesh_x[0]) - step_x).max() <= tolerance and
            np.abs(np.diff(mesh_y[:, 0]) - step_y).max() <= tolerance):
        x = mesh_x[0, 0] + step_x * np.arange(mesh_x.shape[1])
        y = mesh_y[0, 0] + step_y * np.arange(mesh_y.shape[0])
        if not covered(x, y):
            refuse()
        lon, lat = to_lonlat(*np.meshgrid(x, y))
        zero = np.zeros((y.size, x.size))
        true_north = zero if met_crs is None else north_angle(metric, lon, lat)
        return _Horizontal(y_dim, x_dim, index, x, y, None, true_north, zero)

    # Resample onto a regular metric grid at about the met resolution.
    if spacing_m is None:
        spacing_m = float(min(np.median(np.hypot(np.diff(mesh_x, axis=1), np.diff(mesh_y, axis=1))),
                              np.median(np.hypot(np.diff(mesh_x, axis=0),
                                                 np.diff(mesh_y, axis=0)))))
    axes = []
    for low, high in box:
        n = int(np.ceil((high - low) / spacing_m - 1e-9)) + 1
        axes.append(0.5 * (low + high) + spacing_m * (np.arange(n) - (n - 1) / 2))
    x, y = axes
    tx, ty = to_met(*np.meshgrid(x, y))
    fx = (np.asarray(tx) - xs_w[0]) / (xs_w[1] - xs_w[0])
    fy = (np.asarray(ty) - ys_w[0]) / (ys_w[1] - ys_w[0])
    eps = 1e-9
    inside = ((fx >= -eps) & (fx <= xs_w.size - 1 + eps) & (fy >= -eps) &
              (fy <= ys_w.size - 1 + eps))
    rows, cols = [0, y.size], [0, x.size]
    while True:
        sub = inside[rows[0]:rows[1], cols[0]:cols[1]]
        if sub.size == 0:
            refuse()
        if sub.all():
            break
        losses = [1 - sub[0].mean(), 1 - sub[-1].mean(), 1 - sub[:, 0].mean(),
                  1 - sub[:, -1].mean()]
        worst = int(np.argmax(losses))
        if worst < 2:
            rows[worst] += 1 if worst == 0 else -1
        else:
            cols[worst - 2] += 1 if worst == 2 else -1
    x, y = x[cols[0]:cols[1]], y[rows[0]:rows[1]]
    fx, fy = fx[rows[0]:rows[1], cols[0]:cols[1]], fy[rows[0]:rows[1], cols[0]:cols[1]]
    if not covered(x, y):
        refuse()
    ix = np.clip(np.floor(fx).astype(int), 0, xs_w.size - 2)
    iy = np.clip(np.floor(fy).astype(int), 0, ys_w.size - 2)
    weights = (iy, ix, np.clip(fy - iy, 0, 1), np.clip(fx - ix, 0, 1))
    lon, lat = to_lonlat(*np.meshgrid(x, y))
    alpha = north_angle(metric, lon, lat)
    beta = alpha if met_crs is None else north_angle(met_crs, lon, lat)
    return _Horizontal(y_dim, x_dim, index, x, y, weights, alpha, alpha - beta)


# ---------------------------------------------------------------------------- reading
@dataclass
class _Wind:
    """One pair of wind components: a profile (vertical dim) or a single level."""

    u: xr.DataArray
    v: xr.DataArray
    grid_relative: bool
    vertical_dim: str | None
    height: float | None    # single levels: m above ground


class _Reader:
    def __init__(self, ds, grid, where, margin_m, spacing_m):
        self.ds, self.where = ds, where
        self.time_coords = {}
        for name, var in ds.variables.items():
            if var.ndim == 1 and np.issubdtype(var.dtype, np.datetime64):
                if var.dims[0] in self.time_coords and var.dims[0] != name:
                    continue
                bounds = var.attrs.get("bounds")
                bounds = (np.asarray(ds[bounds].values, "datetime64[ns]")
                          if bounds in ds.variables else None)
                self.time_coords[var.dims[0]] = (np.asarray(var.values, "datetime64[ns]"),
                                                 bounds)
        self.found = {key: self._candidates(q) for key, q in QUANTITIES.items()}
        self.grid, self.margin_m, self.spacing_m = grid, margin_m, spacing_m
        self.time = None
        kind, x_name, y_name = _coordinates(ds)
        self.y_dim, self.x_dim = (None, None) if kind == "column" else (
            ds[x_name].dims[-2:] if kind == "curvilinear" else (y_name, x_name))
        self.h = None

    # ---------------------------------------------------------------- finding
    def _candidates(self, q: Quantity) -> list:
        ds = self.ds
        variables = [ds[name] for name, var in ds.variables.items() if var.dims != (name,)]
        out = [var for var in variables if var.attrs.get("standard_name") in q.standard_names]
        out += [ds[name] for name in q.names if name in ds.variables and
                ds[name].dims != (name,) and not _has_standard_name(ds[name])]
        if "geopotential" in q.standard_names and {"PH", "PHB"} <= set(ds.variables):
            # WRF: perturbation + base-state geopotential, added by load() (lazily windowed)
            out.append(ds["PH"].rename(_WRF_GEOPOTENTIAL))
        unique = {}
        for var in out:
            unique.setdefault(var.name, var)
        return list(unique.values())

    def extra_dims(self, var) -> list:
        plain = set(self.time_coords) | {self.x_dim, self.y_dim}
        return [d for d in var.dims if d not in plain and var.sizes[d] > 1]

    def vertical_dim(self, var):
        extra = self.extra_dims(var)
        if len(extra) > 1:
            raise InputError(f"{self.where}: {var.name} has dims {var.dims}; expected time, at "
                             "most one vertical dimension and the horizontal dimensions")
        return extra[0] if extra else None

    def pick(self, key, vertical=False, levels=None):
        """The first variable for ``key`` without a vertical dim (``vertical=False``) or on
        ``levels`` = (dim, size) (or one more level: interfaces)."""
        for var in self.found[key]:
            dim = self.vertical_dim(var)
            if not vertical and dim is None:
                return var
            if vertical and dim is not None and (levels is None or dim == levels[0] or
                                                 var.sizes[dim] == levels[1] + 1):
                return var
        return None

    # ---------------------------------------------------------------- loading
    def times_of(self, var, tdim, accumulated):
        """Validity times of a variable's records and the length of their periods, s."""
        t, bounds = self.time_coords[tdim]
        methods = str(var.attrs.get("cell_methods", ""))
        if re.search(r"\btime\s*:\s*point", methods):
            return t, None
        mean = bool(re.search(r"\btime\s*:\s*(mean|sum)", methods)) or accumulated
        if bounds is not None:
            width = bounds[:, 1] - bounds[:, 0]
            return bounds[:, 0] + width // 2, width / np.timedelta64(1, "s")
        if accumulated:
            return t - np.timedelta64(30, "m"), 3600.0
        if mean:
            step = np.median(np.diff(t)) if t.size > 1 else np.timedelta64(1, "h")
            return t + step // 2, step / np.timedelta64(1, "s")
        return t, None

    def load(self, var, units, vertical_dim=None, accumulation=None) -> np.ndarray:
        """Values in ``units`` at the MetField's times: (nt, L or 1, ny_w or 1, nx_w or 1)."""
        tdims = [d for d in var.dims if d in self.time_coords]
        tdim = tdims[0] if tdims else None
        for dim in var.dims:
            if dim not in (tdim, vertical_dim, self.x_dim, self.y_dim) and var.sizes[dim] != 1:
                raise InputError(f"{self.where}: {var.name} has dimension {dim!r} of size "
                                 f"{var.sizes[dim]}; expected time, the vertical and the "
                                 "horizontal dimensions only")
        slots = (tdim, vertical_dim, self.y_dim, self.x_dim)
        data = self.window_values(var, slots)
        if var.name == _WRF_GEOPOTENTIAL:
            data = data + self.window_values(self.ds["PHB"], slots)
        found = var.attrs.get("units")
        accumulated = accumulation is not None and found is not None and \
            _convertible(found, accumulation)
        target = accumulation if accumulated else units
        try:
            if found is None:
                raise InputError("no units")
            data = convert(data, str(found), target, f"{self.where}: {var.name}")
        except InputError:
            shown = "no units attribute" if found is None else f"units {found!r}"
            raise InputError(f"{self.where}: {var.name} has {shown}; expected {units!r} or "
                             "units convertible to it") from None
        if tdim is None:
            return data
        times, period = self.times_of(var, tdim, accumulated)
        if accumulated:
            data = data / np.reshape(period, (-1, 1, 1, 1))
        if self.time is None:
            self.time = times
        return self.to_time(data, times)

    def window_values(self, var, slots) -> np.ndarray:
        """The window of a variable as floats, dims ordered as ``slots`` (size 1 if absent)."""
        var = var.isel({dim: 0 for dim in var.dims if dim not in slots})
        var = var.isel({d: i for d, i in self.h.window.items() if d in var.dims})
        order = [d for d in slots if d is not None and d in var.dims]
        data = np.asarray(var.transpose(*order).values, dtype=float)
        return data.reshape([var.sizes[d] if d is not None and d in var.dims else 1
                             for d in slots])

    def to_time(self, data, times):
        if times.size == self.time.size and (times == self.time).all():
            return data
        if times.size == 1:
            return np.repeat(data, self.time.size, axis=0)
        source = (times - times[0]) / np.timedelta64(1, "s")
        target = (self.time - times[0]) / np.timedelta64(1, "s")
        lo = np.clip(np.searchsorted(source, target, side="right") - 1, 0, source.size - 2)
        weight = np.clip((target - source[lo]) / (source[lo + 1] - source[lo]), 0, 1)
        weight = weight.reshape(-1, 1, 1, 1)
        return data[lo] * (1 - weight) + data[lo + 1] * weight

    def surface(self, key, units=None, accumulation=None):
        var = self.pick(key)
        return None if var is None else self.load(var, units or QUANTITIES[key].units,
                                                  accumulation=accumulation)

    # ---------------------------------------------------------------- winds
    def winds(self) -> list:
        pairs = []
        for grid_relative, (ku, kv) in ((False, ("u", "v")), (True, ("x_wind", "y_wind"))):
            singles = {}
            for var in self.found[kv]:
                if self.vertical_dim(var) is None:
                    singles.setdefault(self.single_height(var), var)
            for u in self.found[ku]:
                dim = self.vertical_dim(u)
                if dim is None:
                    v = singles.get(self.single_height(u))
                    if v is not None:
                        pairs.append(_Wind(u, v, grid_relative, None, self.single_height(u)))
                    continue
                v = next((v for v in self.found[kv] if self.vertical_dim(v) == dim), None)
                if v is not None:
                    pairs.append(_Wind(u, v, grid_relative, dim, None))
        profiles = [p for p in pairs if p.vertical_dim is not None]
        singles = {}
        for pair in pairs:
            if pair.vertical_dim is None:
                singles.setdefault(round(pair.height, 3), pair)
        return profiles[:1] + list(singles.values())

    def single_height(self, var) -> float:
        for name, coord in var.coords.items():
            if coord.ndim == 0 and (coord.attrs.get("standard_name") == "height" or
                                    name == "height"):
                return float(convert(float(coord.values), str(coord.attrs.get("units", "m")),
                                     "m", f"{self.where}: {name}"))
        match = re.search(r"(\d+)m?$", str(var.name))
        return float(match.group(1)) if match else DEFAULT_WIND_HEIGHT_M

    # ---------------------------------------------------------------- heights
    def ground_altitude(self):
        altitude = self.surface("surface_altitude")
        if altitude is not None:
            return altitude
        for key in ("surface_geopotential", "geopotential"):
            geopotential = self.surface(key, "m2 s-2")
            if geopotential is not None:
                return geopotential / GRAVITY
        return None

    def level_altitude(self, dim, size):
        """(altitude on the levels, ground from their interfaces or None), m, or None."""
        for key, units, scale in (("geopotential_height", "m", 1.0),
                                  ("geopotential", "m2 s-2", 1 / GRAVITY)):
            var = self.pick(key, vertical=True, levels=(dim, size))
            if var is None:
                continue
            vdim = self.vertical_dim(var)
            altitude = self.load(var, units, vdim) * scale
            if vdim == dim and altitude.shape[1] == size:
                return altitude, None
            mid = 0.5 * (altitude[:, 1:] + altitude[:, :-1])
            upward = np.nanmean(altitude[:, 0]) < np.nanmean(altitude[:, -1])
            return mid, altitude[:, :1] if upward else altitude[:, -1:]
        return None

    def profile_heights(self, dim, size) -> np.ndarray:
        """Heights above ground of the levels of ``dim``, m, broadcastable to (nt, L, y, x)."""
        where = self.where
        coord = self.ds.variables.get(dim)
        units = None if coord is None else coord.attrs.get("units")
        standard = None if coord is None else coord.attrs.get("standard_name")
        if coord is not None and coord.dims == (dim,) and units is not None and (
                standard == "air_pressure" or _convertible(units, "Pa")):
            pressure = convert(np.asarray(coord.values, float), str(units), "Pa",
                               f"{where}: {dim}")
            levels = self.level_altitude(dim, size)
            surface_pressure = self.surface("surface_pressure")
            if levels is not None:
                ground = self.ground_altitude()
                if ground is None:
                    if surface_pressure is None:
                        raise InputError(
                            f"{where}: geopotential on pressure levels ({dim}) needs the "
                            "ground: expected a variable with standard_name 'surface_altitude', "
                            "'surface_geopotential' or 'surface_air_pressure'")
                    ground = _altitude_at_pressure(levels[0], pressure, surface_pressure)
                return levels[0] - ground
            if surface_pressure is None:
                raise InputError(
                    f"{where}: winds on pressure levels ({dim}) need their heights: expected "
                    f"'geopotential' or 'geopotential_height' on {dim}, or "
                    "'surface_air_pressure' (with 'air_temperature') for the hypsometric "
                    "equation")
            level_t = self.pick("air_temperature", vertical=True, levels=(dim, size))
            level_t = None if level_t is None or self.vertical_dim(level_t) != dim else \
                self.load(level_t, "K", dim)
            return pressure_level_heights(pressure, surface_pressure,
                                          self.surface("air_temperature"), level_t)
        if coord is not None and coord.dims == (dim,) and units is not None and \
                _convertible(units, "m"):
            height = convert(np.asarray(coord.values, float), str(units), "m", f"{where}: {dim}")
            height = height.reshape(1, -1, 1, 1)
            if standard != "altitude":
                return height
            ground = self.ground_altitude()
            if ground is None:
                raise InputError(f"{where}: winds on altitude levels ({dim}) need the ground: "
                                 "expected 'surface_altitude' or 'surface_geopotential'")
            return height - ground
        given = self.pick("height", vertical=True, levels=(dim, size))
        if given is not None and self.vertical_dim(given) == dim:
            return self.load(given, "m", dim)
        levels = self.level_altitude(dim, size)
        ground = None if levels is None else (levels[1] if levels[1] is not None
                                              else self.ground_altitude())
        if ground is None:
            raise InputError(
                f"{where}: winds on model levels ({dim}) need their heights: expected a "
                f"variable on {dim} with standard_name 'height' (above ground), or "
                "'geopotential' / 'geopotential_height' on the levels or their interfaces "
                "(WRF's PH + PHB) with 'surface_altitude' or 'surface_geopotential'")
        return levels[0] - ground

    # ---------------------------------------------------------------- assembly
    def missing(self) -> list:
        missing = []
        if not (self.found["u"] or self.found["x_wind"]):
            missing.append(_expected("u") + " or grid-relative 'x_wind'")
        if not (self.found["v"] or self.found["y_wind"]):
            missing.append(_expected("v") + " or grid-relative 'y_wind'")
        for key in ("blh", "air_temperature"):
            if self.pick_safe(key) is None:
                missing.append(_expected(key) if key == "blh" else
                               _expected(key) + " near the surface, without a vertical "
                                                "dimension")
        return missing

    def pick_safe(self, key):
        return next((v for v in self.found[key] if len(self.extra_dims(v)) == 0), None)

    def read(self, roughness_length_m) -> MetField:
        where = self.where
        missing = self.missing()
        found = ", ".join(name for name, var in self.ds.data_vars.items()) or "none"
        if missing:
            raise InputError(f"{where}: missing meteorology: no {'; no '.join(missing)}; found "
                             f"variables: {found}")
        winds = self.winds()
        if not winds:
            raise InputError(f"{where}: no pair of wind components: expected eastward_wind and "
                             "northward_wind (or x_wind and y_wind) on the same levels")
        if not any(d in self.time_coords for d in winds[0].u.dims):
            raise InputError(f"{where}: {winds[0].u.name} has no time dimension; expected a "
                             "time coordinate (datetime) among its dims")
        self.h = _horizontal(self.ds, self.grid, where, self.margin_m, self.spacing_m)

        heights, us, vs, fixed, varying = [], [], [], [], []
        w_source = None
        for wind in winds:
            dim = wind.vertical_dim
            u = self.load(wind.u, "m s-1", dim)
            v = self.load(wind.v, "m s-1", dim)
            if dim is None:
                height = np.full((1, 1, 1, 1), wind.height)
                fixed.append(wind.height)
            else:
                height = self.profile_heights(dim, wind.u.sizes[dim])
                if height.shape[0] == 1 and height.shape[2:] == (1, 1):
                    fixed.extend(height.ravel().tolist())
                else:
                    above = np.isfinite(height) & (height > 0)
                    counts = above.sum(axis=(0, 2, 3))
                    means = np.where(above, height, 0).sum(axis=(0, 2, 3)) / np.maximum(counts, 1)
                    share = counts / (height.size / height.shape[1])
                    varying.extend(m for m, s in zip(means, share) if s >= 0.5)
                w_var = self.pick("w", vertical=True, levels=(dim, wind.u.sizes[dim]))
                if w_var is not None:
                    w_dim = self.vertical_dim(w_var)
                    w = self.load(w_var, "m s-1", w_dim)
                    if w_dim != dim:
                        w = 0.5 * (w[:, 1:] + w[:, :-1])
                    w_source = (height, w)
            u, v = self.h.resample(u), self.h.resample(v)
            angle = self.h.rotation_grid if wind.grid_relative else self.h.rotation_true
            u, v = rotate_winds(u, v, angle)
            us.append(u)
            vs.append(v)
            heights.append(np.broadcast_to(self.h.resample(height), u.shape))
        targets = _target_heights(fixed, varying)
        if targets.size == 0:
            raise InputError(f"{where}: no wind level lies above the ground")
        u, v = _interpolate_columns(np.concatenate(heights, axis=1),
                                    [np.concatenate(us, axis=1), np.concatenate(vs, axis=1)],
                                    targets)
        nt, ny, nx = u.shape[0], self.h.y.size, self.h.x.size
        if w_source is not None:
            w_height = np.broadcast_to(self.h.resample(w_source[0]),
                                       (nt, w_source[1].shape[1], ny, nx))
            (w,) = _interpolate_columns(w_height, [self.h.resample(w_source[1])], targets)
        else:
            w = np.zeros_like(u)

        def field(key, default=None, units=None):
            values = self.surface(key, units)
            if values is None:
                return None if default is None else np.full((nt, ny, nx), float(default))
            return np.broadcast_to(self.h.resample(values), (nt, 1, ny, nx))[:, 0].copy()

        blh = field("blh")
        temperature = field("air_temperature")
        pressure = field("surface_pressure", STANDARD_PRESSURE_PA)
        roughness = field("roughness", roughness_length_m)
        ustar = field("ustar")
        if ustar is None:
            ratio = np.maximum(targets[0] / roughness, 2.0)
            ustar = KARMAN * np.hypot(u[:, 0], v[:, 0]) / np.log(ratio)
        obukhov = self.obukhov(field, ustar, temperature, pressure, (nt, ny, nx))
        for name, values in (("eastward wind", u), ("northward wind", v), ("upward wind", w),
                             ("boundary-layer height", blh), ("air temperature", temperature),
                             ("surface pressure", pressure), ("roughness length", roughness),
                             ("friction velocity", ustar)):
            if not np.isfinite(values).all():
                raise InputError(f"{where}: the {name} has missing or non-finite values over the "
                                 "domain and its margin")
        if np.isnan(obukhov).any() or (obukhov == 0).any():
            raise InputError(f"{where}: the Obukhov length has missing or zero values over the "
                             "domain; expected non-zero lengths (±inf for neutral)")
        for name, values in (("boundary-layer height", blh), ("air temperature", temperature),
                             ("surface pressure", pressure), ("roughness length", roughness)):
            if (values <= 0).any():
                raise InputError(f"{where}: the {name} must be positive; found {values.min():g}")
        if (ustar < 0).any():
            raise InputError(f"{where}: the friction velocity must not be negative")
        if self.time.size > 1 and (np.diff(self.time) <= np.timedelta64(0)).any():
            raise InputError(f"{where}: time must increase strictly")
        return MetField(self.time.copy(), self.h.x, self.h.y, targets, u, v, w, blh, ustar,
                        obukhov, temperature, pressure, roughness)

    def obukhov(self, field, ustar, temperature, pressure, shape):
        obukhov = field("obukhov_length")
        if obukhov is not None:
            return obukhov
        inverse = field("inverse_obukhov_length")
        if inverse is not None:
            with np.errstate(divide="ignore"):
                return np.where(inverse == 0, np.inf, 1.0 / np.where(inverse == 0, 1, inverse))
        heat_flux = None
        upward = self.pick("upward_heat_flux")
        downward = self.pick("downward_heat_flux")
        var, sign = (upward, 1.0) if upward is not None else (downward, -1.0)
        if var is not None:
            grib = (str(var.attrs.get("GRIB_shortName", "")), var.attrs.get("GRIB_paramId"))
            if var.name in _ECMWF_DOWNWARD_NAMES or grib[0] in _ECMWF_DOWNWARD_NAMES or \
                    (grib[1] is not None and int(grib[1]) in _ECMWF_DOWNWARD_IDS):
                sign = -1.0
            values = self.load(var, "W m-2", accumulation="J m-2")
            heat_flux = sign * np.broadcast_to(self.h.resample(values), (shape[0], 1) +
                                               shape[1:])[:, 0]
        if heat_flux is None:
            return np.full(shape, np.inf)
        density = pressure / (DRY_AIR_GAS_CONSTANT * temperature)
        with np.errstate(divide="ignore", invalid="ignore"):
            obukhov = -density * HEAT_CAPACITY * temperature * ustar ** 3 / (
                KARMAN * GRAVITY * heat_flux)
        return np.where(heat_flux == 0, np.inf, obukhov)


def _target_heights(fixed, varying) -> np.ndarray:
    """Fixed heights first, then mean level heights more than 1 m from any kept one."""
    kept = sorted({float(h) for h in fixed if h > 0})
    for height in sorted(float(h) for h in varying if np.isfinite(h) and h > 0):
        if all(abs(height - other) > 1.0 for other in kept):
            kept.append(height)
    return np.array(sorted(kept))


def _altitude_at_pressure(altitude, pressure, surface_pressure):
    """Altitude at the surface pressure, linear in ln p between (or beyond) the two levels
    around it. ``altitude`` (nt, L, ny, nx), ``pressure`` (L,), ``surface_pressure``
    (nt, 1, ny, nx)."""
    order = np.argsort(-pressure)
    p, alt = pressure[order], altitude[:, order]
    count = (p[None, :, None, None] >= surface_pressure).sum(axis=1, keepdims=True)
    lo = np.clip(count - 1, 0, p.size - 2)
    log_p = np.log(p)
    a_lo, a_hi = np.take_along_axis(alt, lo, 1), np.take_along_axis(alt, lo + 1, 1)
    weight = (np.log(surface_pressure) - log_p[lo]) / (log_p[lo + 1] - log_p[lo])
    return a_lo + weight * (a_hi - a_lo)
