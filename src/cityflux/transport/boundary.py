"""Backgrounds from where the air came from: particle exits × a boundary-condition field.

A receptor's background is the mean, over its particles, of the CO2 mole fraction of a
boundary-condition (BC) file at the place, height and time each particle left the domain
(:class:`~cityflux.transport.particles.Exits`); a particle still inside after
``hours_back`` takes the value where it then is. The air reaching the tower is the mixture
of the air its particles came from, so this is the tower's mole fraction without the
domain's fluxes: the ``background`` that ``observations.background: boundary`` subtracts.

Two layouts of CF NetCDF BC file are read:

* **edge curtains**, as OpenGHG and the NAME inversions write them: ``vmr_n`` and
  ``vmr_s`` on (``height``, ``lon``[, ``time``]), ``vmr_e`` and ``vmr_w`` on (``height``,
  ``lat``[, ``time``]); ``lat``/``lon`` span the domain, whose edges are the curtains. A
  particle takes the curtain it is nearest to (the one it left through, for particles that
  left sideways);
* **a field** (e.g. CAMS or CarbonTracker cut to the region): one variable with
  ``standard_name`` ``mole_fraction_of_carbon_dioxide_in_air`` (or named ``co2``) on
  ([``time``,] [``height``,] ``lat``, ``lon``).

Heights are metres above ground (a ``height`` coordinate; without one the BC is taken as
the same at all heights). Values are interpolated linearly in height and time and taken
from the nearest point along the curtain or in the field (BC products are far coarser than
the distances between particles' exits). Times outside the file are clipped to its first or
last value, with a warning when more than one time step (31 days for a single time) away.
Units come from the ``units`` attribute (``mol mol-1``, ``1``, ``ppm``, ``umol mol-1`` …);
curtains without one are taken as mol mol⁻¹, OpenGHG's convention.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyproj

from ..errors import InputError
from ..units import convert

log = logging.getLogger(__name__)

CO2_STANDARD_NAME = "mole_fraction_of_carbon_dioxide_in_air"
CURTAINS = {"vmr_n": "lon", "vmr_e": "lat", "vmr_s": "lon", "vmr_w": "lat"}


@dataclass(frozen=True)
class BoundaryConditions:
    """CO2 mole fractions (ppm) on the domain's edges or in a field.

    ``parts`` maps a part name (a curtain's ``vmr_*`` or ``field``) to its values on
    (time, height, along) for curtains or (time, height, lat, lon) for a field; ``along``
    holds each curtain's coordinate (lon or lat), ``lat``/``lon`` the field's or the
    domain's axes. ``time`` is datetime64[ns] (one value: constant in time).
    """

    where: str
    time: np.ndarray
    height: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    parts: dict
    along: dict

    @property
    def is_field(self) -> bool:
        return "field" in self.parts

    def sample(self, lon, lat, height, time) -> np.ndarray:
        """The BC mole fraction (ppm) at points given by lon, lat (degrees), height above
        ground (m) and time (datetime64)."""
        lon, lat, height = (np.asarray(a, float) for a in (lon, lat, height))
        time = np.asarray(time, "datetime64[ns]")
        t0, t1, wt = _weights(self.time, time, self.where, "time")
        z0, z1, wz = _weights(self.height, height, self.where, "height")
        out = np.empty(lon.shape)
        if self.is_field:
            iy, ix = _nearest(self.lat, lat), _nearest(self.lon, lon)
            v = self.parts["field"]
            out[...] = _blend(v, t0, t1, wt, z0, z1, wz, iy, ix)
            return out
        curtain = self.nearest_curtain(lon, lat)
        for code, name in enumerate(CURTAINS):
            here = curtain == code
            if not here.any():
                continue
            position = (lon if CURTAINS[name] == "lon" else lat)[here]
            index = _nearest(self.along[name], position)
            out[here] = _blend(self.parts[name], t0[here], t1[here], wt[here], z0[here],
                               z1[here], wz[here], index)
        return out

    def nearest_curtain(self, lon, lat) -> np.ndarray:
        """Index into ``vmr_n, vmr_e, vmr_s, vmr_w`` of the edge nearest each point."""
        shrink = np.cos(np.radians(np.clip(lat, -89.0, 89.0)))
        distance = np.stack([self.lat.max() - lat, (self.lon.max() - lon) * shrink,
                             lat - self.lat.min(), (lon - self.lon.min()) * shrink])
        return np.argmin(np.abs(distance), axis=0)


def _nearest(axis: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of the nearest point of an increasing ``axis`` to each value."""
    values = np.asarray(values, float)
    upper = np.clip(np.searchsorted(axis, values), 1, max(axis.size - 1, 1))
    if axis.size == 1:
        return np.zeros(values.shape, np.int64)
    lower = upper - 1
    return np.where(values - axis[lower] <= axis[upper] - values, lower, upper)


def _weights(axis: np.ndarray, values: np.ndarray, where: str, name: str):
    """Bracketing indices and the weight of the upper one for linear interpolation,
    clipped to the axis."""
    if axis.size == 1:
        zeros = np.zeros(values.shape, np.int64)
        if name == "time" and values.size:
            gap = np.abs(values - axis[0]).max()
            if gap > np.timedelta64(31, "D"):
                log.warning("%s: particles' times are up to %s from the file's only time %s",
                            where, gap.astype("timedelta64[h]"), axis[0])
        return zeros, zeros, np.zeros(values.shape)
    if name == "time":   # as float nanoseconds
        a = axis.astype("datetime64[ns]").astype(np.int64).astype(float)
        v = values.astype("datetime64[ns]").astype(np.int64).astype(float)
    else:
        a, v = axis, values
    if name == "time" and v.size:
        step = float(np.max(np.diff(a)))
        if v.min() < a[0] - step or v.max() > a[-1] + step:
            log.warning("%s: particles' times reach beyond the file's times (%s to %s) by more "
                        "than a time step; the first or last values are used there", where,
                        axis[0], axis[-1])
    upper = np.clip(np.searchsorted(a, v), 1, a.size - 1)
    lower = upper - 1
    weight = np.clip((v - a[lower]) / (a[upper] - a[lower]), 0.0, 1.0)
    return lower, upper, weight


def _blend(values, t0, t1, wt, z0, z1, wz, *space) -> np.ndarray:
    """Bilinear in time and height of ``values[t, z, *space]``."""
    return ((1 - wt) * ((1 - wz) * values[(t0, z0, *space)] + wz * values[(t0, z1, *space)])
            + wt * ((1 - wz) * values[(t1, z0, *space)] + wz * values[(t1, z1, *space)]))


def read_boundary_conditions(path) -> BoundaryConditions:
    """A BC file (see the module docstring) in ppm.

    Raises
    ------
    InputError
        Naming the file and what is missing or wrong, and what was expected.
    """
    from ..inventory.gridded import open_netcdf

    where = str(path)
    with open_netcdf(Path(path)) as ds:
        if all(name in ds for name in CURTAINS):
            return _curtains(ds, where)
        field = [name for name, var in ds.data_vars.items()
                 if var.attrs.get("standard_name") == CO2_STANDARD_NAME]
        field = field or [name for name in ds.data_vars if name.lower() == "co2"]
        if len(field) != 1:
            raise InputError(
                f"{where}: no boundary conditions found: expected the curtains "
                f"{', '.join(CURTAINS)} (OpenGHG/NAME layout) or one variable with "
                f"standard_name {CO2_STANDARD_NAME!r} (a field on lat, lon)"
                + (f"; found several: {field}" if field else ""))
        return _field(ds, field[0], where)


def _axis(ds, name, where) -> np.ndarray:
    if name not in ds.coords and name not in ds.variables:
        raise InputError(f"{where}: coordinate {name!r} missing: expected {name} in degrees")
    values = np.asarray(ds[name].values, float).ravel()
    if not np.all(np.isfinite(values)) or (values.size > 1 and np.any(np.diff(values) <= 0)):
        raise InputError(f"{where}: coordinate {name!r} must be finite and increasing")
    return values


def _time(ds, where) -> np.ndarray:
    if "time" not in ds.variables:
        return np.array([np.datetime64("1970-01-01", "ns")])
    time = np.asarray(ds["time"].values).ravel()
    if not np.issubdtype(time.dtype, np.datetime64):
        raise InputError(f"{where}: time could not be decoded as dates: expected CF units "
                         "such as 'hours since 2024-01-01'")
    return time.astype("datetime64[ns]")


def _height(ds, where) -> np.ndarray:
    if "height" not in ds.variables:
        return np.array([0.0])
    units = ds["height"].attrs.get("units", "m")
    return convert(_axis(ds, "height", where), units, "m", f"{where}: height")


def _ppm(var, where, default_units=None) -> np.ndarray:
    units = var.attrs.get("units", default_units)
    if units is None:
        raise InputError(f"{where}: variable {var.name!r} has no units: expected e.g. "
                         "'mol mol-1' or 'ppm'")
    values = convert(np.asarray(var.values, float), str(units), "ppm", f"{where}: {var.name}")
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise InputError(f"{where}: variable {var.name!r} has missing, zero or negative values")
    return values


def _ordered(var, dims, where) -> np.ndarray:
    """The variable's values on (time, height, *dims), adding length-1 time and height."""
    extra = set(var.dims) - {"time", "height", *dims}
    if extra or not set(dims) <= set(var.dims):
        raise InputError(f"{where}: variable {var.name!r} has dimensions {var.dims}: expected "
                         f"{('time', 'height', *dims)} (time and height optional)")
    for name in ("time", "height"):
        if name not in var.dims:
            var = var.expand_dims(name)
    return var.transpose("time", "height", *dims)


def _curtains(ds, where) -> BoundaryConditions:
    lat, lon = _axis(ds, "lat", where), _axis(ds, "lon", where)
    parts, along = {}, {}
    for name, axis in CURTAINS.items():
        values = _ordered(ds[name], (axis,), where)
        parts[name] = _ppm(values, where, default_units="mol mol-1")
        along[name] = lon if axis == "lon" else lat
    return BoundaryConditions(where, _time(ds, where), _height(ds, where), lat, lon, parts,
                              along)


def _field(ds, name, where) -> BoundaryConditions:
    lat, lon = _axis(ds, "lat", where), _axis(ds, "lon", where)
    values = _ppm(_ordered(ds[name], ("lat", "lon"), where), where)
    return BoundaryConditions(where, _time(ds, where), _height(ds, where), lat, lon,
                              {"field": values}, {})


def exit_background(boundary: BoundaryConditions, exits, metric_crs, release_times) -> np.ndarray:
    """Each receptor's background (ppm): the mean BC value at its particles' exits.

    Parameters
    ----------
    boundary : BoundaryConditions
    exits : Exits
        (n_receptors, n_particles) arrays of positions in ``metric_crs``, heights above
        ground and hours before release.
    metric_crs : pyproj.CRS
        The frame of the exits' x, y.
    release_times : array of datetime64 (n_receptors,)
        When each receptor's particles were released.
    """
    to_lonlat = pyproj.Transformer.from_crs(metric_crs, "EPSG:4326", always_xy=True)
    lon, lat = to_lonlat.transform(np.asarray(exits.x, float), np.asarray(exits.y, float))
    seconds = np.round(np.asarray(exits.hours_back, float) * 3600.0).astype("timedelta64[s]")
    times = np.asarray(release_times, "datetime64[ns]")[:, None] - seconds
    values = boundary.sample(lon, lat, exits.height, times)
    return values.mean(axis=1)
