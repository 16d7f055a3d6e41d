"""Gridded fluxes from NetCDF: files on the domain grid and external inventories.

Two readers, one set of rules:

- :func:`read_domain_flux` reads a flux file on the domain grid itself (a prior.nc
  written by ``cityflux prior``, a legacy ``flux(time, [sector,] y, x)`` file, a synthetic
  truth): one :class:`~cityflux.inventory.model.TabulatedField` per sector.
- :func:`read_gridded_input` reads an external inventory or flux on any regular grid (any
  CRS, any resolution) and regrids it to the domain by exact area overlap.

Time: a ``time`` axis whose variable names ``bounds`` (CF) gives each value's interval;
otherwise each time labels the start of an interval lasting until the next one (the last
as long as the one before; one hour for a single value). Units are parsed (a flux density
such as ``kg m-2 s-1``, or a rate per cell such as ``t yr-1``), with the ``species``
attribute telling kg of carbon from kg of CO2. Missing values (NaN) mean no flux there
(an ocean flux over land): they are set to zero and counted in a warning.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from pathlib import Path

import numpy as np
import pyproj
import xarray as xr

from ..errors import InputError, brief
from ..grid import Grid
from ..units import MOLAR_MASS_CO2, UnitKind, emission_rate_factor, flux_factor, unit_kind
from .model import ProfiledField, TabulatedField

log = logging.getLogger(__name__)

_LAT_NAMES = ("lat", "latitude")
_LON_NAMES = ("lon", "longitude")


_SIGNATURES = (b"CDF\x01", b"CDF\x02", b"CDF\x05", b"\x89HDF\r\n\x1a\n")
_TIME_EXAMPLE = "CF units such as 'hours since 2025-01-01 00:00' or 'days since 2025-01-01'"


def open_netcdf(path: Path) -> xr.Dataset:
    """Open a NetCDF file, turning any failure into one clear :class:`InputError`."""
    try:
        with warnings.catch_warnings():  # dates out of range: refused with a clear message
            warnings.simplefilter("ignore", xr.SerializationWarning)
            return xr.open_dataset(path)
    except Exception as exc:  # netCDF4 / h5py / xarray raise many types for bad files
        raise InputError(f"{path}: {_open_problem(path, exc)}") from None


def _open_problem(path: Path, exc: Exception) -> str:
    """Why ``path`` could not be opened, in words a user can act on."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except OSError as err:
        return f"cannot read: {brief(err)}"
    if not head.startswith(_SIGNATURES):
        return ("not a NetCDF file (it starts with neither the NetCDF-3 nor the "
                "NetCDF-4/HDF5 signature)")
    try:
        ds = xr.open_dataset(path, decode_times=False)
    except Exception:  # the file itself is damaged
        detail = brief(exc).replace(f": '{path}'", "").replace(f"'{path}'", "the file")
        return f"cannot open as NetCDF (damaged or truncated?): {detail}"
    with ds:
        for name, var in ds.variables.items():
            units = var.attrs.get("units")
            if not (isinstance(units, str) and " since " in units):
                continue
            try:
                xr.decode_cf(ds[[name]])
            except Exception:  # xarray and cftime raise several types
                calendar = var.attrs.get("calendar", "standard")
                return (f"{name}: cannot decode times with units {units!r} and calendar "
                        f"{calendar!r}; expected {_TIME_EXAMPLE} ('months' and 'years' are "
                        "not fixed lengths)")
    return f"cannot open as NetCDF: {brief(exc)}"


def numeric_values(var: xr.DataArray, where: str) -> np.ndarray:
    """The values of ``var`` as floats, or an :class:`InputError` for text or dates."""
    if var.dtype.kind not in "biuf":
        raise InputError(f"{where}: values of type {var.dtype} are not numbers; expected a "
                         "numeric variable")
    return np.asarray(var.values, dtype=float)


def time_intervals(ds: xr.Dataset, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (datetime64[ns]) of the interval of every ``time`` value."""
    if "time" not in ds.variables:
        raise InputError(f"{where}: no time coordinate variable; expected a variable 'time' "
                         f"with {_TIME_EXAMPLE}")
    times = _datetimes(ds["time"], f"{where}: time")
    if times.size == 0:
        raise InputError(f"{where}: the time axis is empty; expected at least one time")
    if np.any(np.diff(times) <= np.timedelta64(0)):
        i = int(np.flatnonzero(np.diff(times) <= np.timedelta64(0))[0]) + 1
        raise InputError(f"{where}: time must increase strictly; time[{i}] = "
                         f"{np.datetime_as_string(times[i], unit='s')} follows "
                         f"{np.datetime_as_string(times[i - 1], unit='s')}")
    bounds_name = ds["time"].attrs.get("bounds")
    if bounds_name and bounds_name in ds.variables:
        bounds = _datetimes(ds[bounds_name], f"{where}: {bounds_name}")
        if bounds.shape != (times.size, 2) or np.any(bounds[:, 1] <= bounds[:, 0]):
            raise InputError(f"{where}: {bounds_name} must have shape (time, 2) = "
                             f"({times.size}, 2) with each interval's end after its start; "
                             f"found shape {bounds.shape}")
        if np.any(bounds[1:, 0] < bounds[:-1, 1]):
            raise InputError(f"{where}: the intervals of {bounds_name} overlap or are not in "
                             "time order")
        return bounds[:, 0], bounds[:, 1]
    step = (np.diff(times)[-1] if times.size > 1 else np.timedelta64(1, "h"))
    return times, np.append(times[1:], times[-1] + step)


def _datetimes(var: xr.DataArray, where: str) -> np.ndarray:
    """The decoded date-times of a time (or time bounds) variable, datetime64[ns]."""
    values = np.asarray(var.values)
    if values.dtype.kind == "O" and values.size and hasattr(values.flat[0], "calendar"):
        calendar = values.flat[0].calendar  # xarray gave cftime dates
        if calendar in ("standard", "gregorian", "proleptic_gregorian"):
            raise InputError(f"{where}: dates from {values.min()} to {values.max()} lie "
                             "outside the years 1678 to 2261 that cityflux handles")
        raise InputError(f"{where}: calendar {calendar!r} is not supported; expected the "
                         "standard (Gregorian) calendar")
    if not np.issubdtype(values.dtype, np.datetime64):
        units = var.attrs.get("units")
        found = f"units {units!r}" if units is not None else "no units"
        raise InputError(f"{where}: not a CF date-time axis ({found}); expected "
                         f"{_TIME_EXAMPLE}")
    if np.isnat(values).any():
        raise InputError(f"{where}: {int(np.isnat(values).sum())} missing time value(s)")
    if values.size and (values.min() < np.datetime64("1678-01-01") or
                        values.max() >= np.datetime64("2262-01-01")):
        raise InputError(f"{where}: dates from {values.min()} to {values.max()} lie outside "
                         "the years 1678 to 2261 that cityflux handles")
    return values.astype("datetime64[ns]")


def _finite(values: np.ndarray, where: str) -> np.ndarray:
    bad = ~np.isfinite(values)
    if bad.any():
        log.warning("%s: %d of %d values are missing or not finite; taken as zero flux",
                    where, int(bad.sum()), values.size)
        values = np.where(bad, 0.0, values)
    return values


def label_text(value) -> str:
    """A label (sector, source name) read from NetCDF as text, bytes decoded."""
    if isinstance(value, (bytes, np.bytes_)):
        return value.decode("utf-8", errors="replace").strip()
    return str(value).strip()


def variable_of(ds: xr.Dataset, name: str, path) -> xr.DataArray:
    """The variable ``name`` of an open file, or an error listing the file's variables."""
    if name not in ds:
        raise InputError(f"{path}: no variable {name!r} (found: "
                         f"{', '.join(map(str, ds.data_vars)) or 'none'})")
    return ds[name]


def read_domain_flux(path: Path, grid: Grid, variable: str = "flux") -> list[TabulatedField]:
    """Flux fields of a NetCDF file on the domain grid, one per sector.

    ``variable`` has dims (time, [sector,] <grid dims>); the sector names are the values
    of the ``sector`` coordinate (or ``total`` without a sector dimension).
    """
    with open_netcdf(path) as ds:
        where = f"{path}: {variable}"
        flux = variable_of(ds, variable, path)
        expected = {"time", *grid.dims} | ({"sector"} if "sector" in flux.dims else set())
        if set(flux.dims) != expected:
            raise InputError(f"{where} has dims {flux.dims}; expected (time, [sector,] "
                             f"{', '.join(grid.dims)}) on the domain grid")
        grid.check_matches(flux, where)
        if "units" not in flux.attrs:
            raise InputError(f"{where}: no units attribute; expected a flux such as "
                             "'umol m-2 s-1' or 'kg m-2 s-1'")
        factor = flux_factor(str(flux.attrs["units"]), where, flux.attrs.get("species"))
        starts, ends = time_intervals(ds, where)
        if "sector" in flux.dims:
            sectors = [label_text(s) for s in flux["sector"].values]
            data = numeric_values(flux.transpose("sector", "time", *grid.dims), where)
        else:
            sectors = ["total"]
            data = numeric_values(flux.transpose("time", *grid.dims), where)[None]
        data = _finite(data * factor, where)
    if len(set(sectors)) != len(sectors) or "" in sectors:
        raise InputError(f"{where}: sector names {sectors} are not unique and non-empty")
    return [TabulatedField(sector, starts, ends, values) for sector, values in zip(sectors, data)]


def source_grid(ds: xr.Dataset, var: xr.DataArray, where: str) -> tuple[Grid, slice, slice, tuple]:
    """The regular grid of a 2-D (or more) variable, its axis orientation and its dims.

    The CRS comes from the variable's CF ``grid_mapping``; without one, axes named
    lat/latitude and lon/longitude (or with those standard names) mean EPSG:4326.
    Coordinates must be regular to 1e-6 of the step, or to the rounding of their stored
    type (float32 coordinates carry ~1e-7 relative).
    """
    dims = [d for d in var.dims if d not in ("time", "sector")]
    if len(dims) != 2:
        raise InputError(f"{where} has dims {var.dims}; expected two spatial dimensions "
                         "(y, x) or (lat, lon), optionally with time")
    row, col = dims

    def standard(dim):
        return ds[dim].attrs.get("standard_name", "") if dim in ds.variables else ""

    mapping = var.attrs.get("grid_mapping")
    if mapping:
        mapping = str(mapping).split(":")[0].strip()  # also the form "crs: x y"
        if mapping not in ds.variables:
            raise InputError(f"{where}: grid_mapping {mapping!r} is not a variable of the file")
        try:
            crs = pyproj.CRS.from_cf(ds[mapping].attrs).to_wkt()
        except Exception as exc:  # pyproj raises several types for bad CF mappings
            raise InputError(f"{where}: cannot read grid mapping {mapping!r}: {brief(exc)}") from None
    elif (row in _LAT_NAMES or standard(row) == "latitude") and \
            (col in _LON_NAMES or standard(col) == "longitude"):
        crs = "EPSG:4326"
    else:
        raise InputError(f"{where}: dims ({row}, {col}) are neither lat/lon nor linked to a "
                         "CF grid_mapping variable giving their projection")
    centres = [_axis_centres(ds, dim, where) for dim in (col, row)]
    grid, y_slice, x_slice = Grid.from_centres(crs, *centres, where)
    return grid, y_slice, x_slice, (row, col)


def _axis_centres(ds: xr.Dataset, dim: str, where: str) -> np.ndarray:
    """The cell centres along ``dim``, checked regular and made exactly so."""
    if dim not in ds.variables:
        raise InputError(f"{where}: no coordinate variable for dimension {dim!r}")
    var = ds[dim]
    if var.ndim != 1 or var.dtype.kind not in "iuf":
        raise InputError(f"{where}: coordinate {dim} is not a 1-D numeric axis (found "
                         f"{var.ndim}-D {var.dtype}); expected cell-centre coordinates")
    values = np.asarray(var.values, dtype=float)
    if var.dtype.kind == "f" and var.dtype.itemsize < 8:
        # the shortest decimals that round-trip (116.05 for float32 116.05000305)
        values = np.asarray(var.values).astype(str).astype(float)
    if values.size < 2 or not np.isfinite(values).all():
        raise InputError(f"{where}: coordinate {dim} needs at least two finite cell centres "
                         f"to fix the grid step; found {values.size} value(s)")
    step = (values[-1] - values[0]) / (values.size - 1)
    regular = values[0] + step * np.arange(values.size)
    deviation = np.abs(values - regular)
    rounding = np.finfo(var.dtype).eps if var.dtype.kind == "f" else 0.0  # of stored values
    allowed = max(1e-6 * abs(step), 4 * rounding * np.abs(values).max())
    if step == 0 or deviation.max() > allowed:
        i = int(np.argmax(deviation))
        raise InputError(f"{where}: coordinate {dim} is not regularly spaced (mean step "
                         f"{step:g}, {dim}[{i}] = {values[i]:g} is {deviation[i]:g} off); "
                         "expected a regular grid")
    return regular


def align_longitudes(source: Grid, values: np.ndarray, grid: Grid) -> tuple[Grid, np.ndarray]:
    """A lat/lon ``source`` grid (and its values (..., ny, nx)) in the longitude convention
    of a lat/lon domain ``grid``: 0..360 and -180..180 data both fit any domain.

    A global source is rolled so that it starts at or west of the domain; any other source
    is shifted by ±360° when that makes it overlap the domain more. Projected domains need
    nothing: the projection wraps longitudes itself.
    """
    if not (source.is_geographic and grid.is_geographic) or (
            source.x_start <= grid.x_start and grid.x_stop <= source.x_stop):
        return source, values
    if abs(source.nx * source.x_step - 360.0) <= 1e-6 * source.x_step:
        shift = int(np.floor((grid.x_start - source.x_start) / source.x_step + 1e-9))
        if shift == 0:
            return source, values
        start = source.x_start + shift * source.x_step
        return (dataclasses.replace(source, x_start=start, x_stop=start + 360.0),
                np.roll(values, -(shift % source.nx), axis=-1))

    def overlap(offset):
        return (min(grid.x_stop, source.x_stop + offset)
                - max(grid.x_start, source.x_start + offset))

    offset = max((0.0, -360.0, 360.0), key=overlap)  # ties keep 0
    if offset == 0.0 or overlap(offset) <= overlap(0.0):
        return source, values
    return (dataclasses.replace(source, x_start=source.x_start + offset,
                                x_stop=source.x_stop + offset), values)


def read_gridded_input(spec, grid: Grid):
    """The components of one external gridded input (a config ``GriddedInput``).

    Returns a list with one :class:`ProfiledField` (a static file: it follows the profile
    named like its sector) or one :class:`TabulatedField` (a file with a time axis).
    """
    from .regrid import ConservativeRegridder

    path = spec.file
    where = f"{path}: {spec.variable}"
    with open_netcdf(path) as ds:
        var = variable_of(ds, spec.variable, path)
        if "sector" in var.dims:
            raise InputError(f"{where}: has a sector dimension; give one variable per sector "
                             "(or select with a separate file)")
        source, y_slice, x_slice, (row, col) = source_grid(ds, var, where)
        if "units" not in var.attrs:
            raise InputError(f"{where}: no units attribute; expected a flux (e.g. "
                             "'kg m-2 s-1') or an emission rate per cell (e.g. 't yr-1')")
        units, species = str(var.attrs["units"]), var.attrs.get("species")
        kind = unit_kind(units, where)
        if kind not in (UnitKind.FLUX, UnitKind.RATE):
            raise InputError(f"{where}: units {units!r} are {kind.value}; expected a flux "
                             "(e.g. 'kg m-2 s-1') or an emission rate per cell (e.g. 't yr-1')")
        factor = (flux_factor if kind is UnitKind.FLUX else emission_rate_factor)(
            units, where, species)
        has_time = "time" in var.dims
        values = numeric_values(var.transpose(*(("time",) if has_time else ()), row, col),
                                where)[..., y_slice, x_slice]
        starts, ends = time_intervals(ds, where) if has_time else (None, None)
    values = _finite(values, where)
    source, values = align_longitudes(source, values, grid)
    regridder = ConservativeRegridder(source, grid)
    if not regridder.inside_fraction.any():
        raise InputError(f"{where}: the file's grid ({_extent(source)}) does not overlap the "
                         f"domain ({_extent(grid)})")
    if kind is UnitKind.FLUX:  # µmol m-2 s-1, conserving Σ flux × area
        flux = regridder.regrid_density(values * factor)
    else:  # kg s-1 per cell
        flux = regridder.regrid_amount(values * factor) / MOLAR_MASS_CO2 * 1e6 / grid.cell_area
    if has_time:
        return [TabulatedField(spec.sector, starts, ends, flux)]
    return [ProfiledField(spec.sector, flux, spec.sector)]


def _extent(grid: Grid) -> str:
    if grid.is_geographic:
        return (f"lon {grid.x_start:g} to {grid.x_stop:g}, lat {grid.y_start:g} to "
                f"{grid.y_stop:g}")
    lon, lat = grid.lonlat
    return (f"around lon {lon.min():.4g} to {lon.max():.4g}, lat {lat.min():.4g} to "
            f"{lat.max():.4g}")
