"""Meteorology: hourly, domain-representative values read by CF standard name.

The Gaussian plume needs, for every observation hour, the wind, the boundary-layer
height, a stability measure and the air density. They are read from a NetCDF file whose
variables carry CF ``standard_name`` attributes (the variable name is accepted instead when
the attribute is absent), so that ERA5 or WRF output converted with common tools fits.
Units are read with :func:`cityflux.units.convert`: any units of the right dimension are
accepted and converted (``m s**-1``, ``km h-1``, ``hPa``, ``km``). Variables on dimension
``time`` only are domain-representative (one tower or reanalysis column); fields in space are
read by :func:`cityflux.met_fields.read_met_field`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from .errors import InputError, brief
from .units import convert

#: name in cityflux -> (standard name or variable name, units, required)
MET_VARIABLES = {
    "eastward_wind": ("eastward_wind", "m s-1", True),
    "northward_wind": ("northward_wind", "m s-1", True),
    "boundary_layer_height": ("atmosphere_boundary_layer_thickness", "m", True),
    "air_temperature": ("air_temperature", "K", True),
    "surface_pressure": ("surface_air_pressure", "Pa", False),
    "obukhov_length": ("obukhov_length", "m", False),
    "cloud_fraction": ("cloud_area_fraction", "1", False),
}
STANDARD_PRESSURE_PA = 101325.0


@dataclass(frozen=True)
class Meteorology:
    """Hourly meteorology; every array has the length of ``time``."""

    time: np.ndarray
    values: dict

    def at(self, times: np.ndarray, where: str = "meteorology") -> dict:
        """Values at the given hours (datetime64), which must all be in the file."""
        index = np.searchsorted(self.time, times)
        index = np.clip(index, 0, self.time.size - 1)
        missing = self.time[index] != times
        if missing.any():
            first = np.asarray(times)[missing][0]
            raise InputError(f"{where}: no meteorology for {missing.sum()} observation "
                             f"hour(s), the first being {first}; the file must hold every "
                             "hour of the period")
        return {name: array[index] for name, array in self.values.items()}


def read_meteorology(path: Path) -> Meteorology:
    """Read hourly meteorology from a CF NetCDF file, checking units and values."""
    try:
        ds = xr.open_dataset(path)
    except Exception as exc:  # netCDF4 / xarray raise many types for bad files
        raise InputError(f"{path}: cannot open as NetCDF: {brief(exc)}") from None
    with ds:
        if "time" not in ds.coords:
            raise InputError(f"{path}: no 'time' coordinate")
        values = {}
        for name, (standard_name, units, required) in MET_VARIABLES.items():
            var = _find(ds, standard_name)
            if var is None:
                if required:
                    raise InputError(f"{path}: no variable with standard_name "
                                     f"{standard_name!r} (or named so)")
                continue
            if var.dims != ("time",):
                raise InputError(f"{path}: {var.name} has dims {var.dims}; expected ('time',) "
                                 "(domain-representative hourly values)")
            found = str(var.attrs.get("units", ""))
            try:  # any units of the right dimension, converted: 'm s**-1', 'km h-1', 'hPa'
                data = np.asarray(convert(np.asarray(var.values, dtype=float), found, units,
                                          f"{path}: {var.name}"), dtype=float)
            except InputError:
                raise InputError(f"{path}: {var.name} has units {found!r}; expected {units!r} "
                                 "or units convertible to it") from None
            if not np.isfinite(data).all():
                raise InputError(f"{path}: {var.name} has missing or non-finite values")
            values[name] = data
        time = np.asarray(ds["time"].values, dtype="datetime64[ns]")
    if np.any(np.diff(time) <= np.timedelta64(0)):
        raise InputError(f"{path}: time must increase strictly")
    if np.any(values["boundary_layer_height"] <= 0):
        raise InputError(f"{path}: boundary-layer height must be positive")
    if "cloud_fraction" in values and not np.all((values["cloud_fraction"] >= 0) &
                                                 (values["cloud_fraction"] <= 1)):
        raise InputError(f"{path}: cloud_area_fraction must lie in [0, 1]")
    values.setdefault("surface_pressure", np.full(time.size, STANDARD_PRESSURE_PA))
    return Meteorology(time, values)


def _find(ds: xr.Dataset, standard_name: str):
    for var in ds.data_vars.values():
        if var.attrs.get("standard_name") == standard_name:
            return var
    return ds.data_vars.get(standard_name)
