"""Gridded flux files (prior inventories, biosphere, synthetic truths) on the domain grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from ..errors import InputError, brief
from ..grid import Grid
from ..units import flux_factor


def read_hourly_flux(path: Path, grid: Grid, start, n_hours: int,
                     variable: str = "flux") -> np.ndarray:
    """Flux of a gridded file at every hour of the period, µmol m⁻² s⁻¹.

    The file holds ``variable`` with dims (time, <grid dims>) and optionally ``sector``
    (summed). Each time value labels the start of an interval that lasts until the next
    one (the last lasts as long as the one before), so hourly, daily or monthly files all
    work. The file must cover every hour of the period.

    Returns
    -------
    ndarray, shape (n_hours, ny, nx)
    """
    try:
        ds = xr.open_dataset(path)
    except Exception as exc:
        raise InputError(f"{path}: cannot open as NetCDF: {brief(exc)}") from None
    with ds:
        if variable not in ds:
            raise InputError(f"{path}: no variable {variable!r} (found: {', '.join(ds.data_vars)})")
        flux = ds[variable]
        if "sector" in flux.dims:
            flux = flux.sum("sector", keep_attrs=True)
        expected = ("time", *grid.dims)
        if set(flux.dims) != set(expected):
            raise InputError(f"{path}: {variable} has dims {flux.dims}; expected {expected}")
        grid.check_matches(flux, f"{path}: {variable}")
        factor = flux_factor(flux.attrs.get("units", ""), f"{path}: {variable}")
        flux = flux.transpose(*expected)
        times = np.asarray(flux["time"].values, dtype="datetime64[ns]")
        data = np.asarray(flux.values, dtype=float) * factor
    if not np.isfinite(data).all():
        raise InputError(f"{path}: {variable} has missing or non-finite values")
    if np.any(np.diff(times) <= np.timedelta64(0)):
        raise InputError(f"{path}: time must increase strictly")
    hours = np.datetime64(start, "ns") + np.arange(n_hours) * np.timedelta64(1, "h")
    last_end = times[-1] + (times[-1] - times[-2] if times.size > 1 else np.timedelta64(1, "h"))
    if hours[0] < times[0] or hours[-1] >= last_end:
        raise InputError(f"{path}: {variable} covers {times[0]} to {last_end}; the period "
                         f"needs {hours[0]} to {hours[-1] + np.timedelta64(1, 'h')}")
    index = np.searchsorted(times, hours, side="right") - 1
    return data[index]


def block_mean(hourly: np.ndarray, block_hours: int) -> np.ndarray:
    """Mean over consecutive blocks of ``block_hours`` along the first axis."""
    n_hours = hourly.shape[0]
    if n_hours % block_hours:
        raise ValueError(f"{n_hours} hours do not divide into blocks of {block_hours}")
    return hourly.reshape(n_hours // block_hours, block_hours, *hourly.shape[1:]).mean(axis=1)
