"""prior.nc: an inventory on the domain grid at hourly resolution, as CF-NetCDF.

Written by ``cityflux prior`` for the hours a run needs (the period and the transport's
hours back before it) and read back by a run given ``inputs.prior_flux``:

- ``flux(sector, time, <grid dims>)``: gridded flux of every sector, µmol m⁻² s⁻¹;
- ``source_emission(time, source)``: hourly emission of every stack source, kg CO2 s⁻¹,
  with the sources' names (``source``), position, stack height, sector, stated
  uncertainty and plume-rise parameters.

String labels (``sector``, ``source``) are written as character arrays, which CF allows
and xarray reads back as coordinates, so ``ds.sel(sector="energy")`` works.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..errors import InputError
from ..units import FLUX_UNITS
from .gridded import label_text, numeric_values, open_netcdf, time_intervals
from .points import PointSources

_SOURCE_VARIABLES = {  # attribute of PointSources -> (variable, units, long name)
    "lon": ("source_lon", "degrees_east", "longitude of point source"),
    "lat": ("source_lat", "degrees_north", "latitude of point source"),
    "stack_height_m": ("stack_height", "m", "stack height above ground"),
    "uncertainty_fraction": ("source_uncertainty", "1", "stated relative uncertainty (1 sigma) "
                             "of the emission"),
    "buoyancy_flux_m4_s3": ("buoyancy_flux", "m4 s-3", "plume buoyancy flux"),
    "exit_velocity_m_s": ("exit_velocity", "m s-1", "stack exit velocity"),
    "exit_temperature_k": ("exit_temperature", "K", "stack exit temperature"),
    "diameter_m": ("stack_diameter", "m", "stack inner diameter"),
}


def label_encoding(ds: xr.Dataset, names) -> xr.Dataset:
    """Write the string coordinates ``names`` as CF character arrays."""
    for name in names:
        if name in ds.variables:
            ds[name].encoding["dtype"] = "S1"
    return ds


def prior_dataset(inventory, times, attrs: dict) -> xr.Dataset:
    """The inventory at hour starts ``times`` as a CF dataset (see the module docstring)."""
    grid = inventory.grid
    times = np.asarray(times, dtype="datetime64[ns]")
    sectors = list(inventory.sectors)
    flux = np.stack([inventory.gridded_hourly([s], times) for s in sectors]) if sectors else \
        np.zeros((0, times.size, *grid.shape))
    points = inventory.points
    data = {
        "flux": (("sector", "time", *grid.dims), flux.astype(np.float32),
                 {"long_name": "CO2 surface flux of sector", "units": FLUX_UNITS,
                  "cell_methods": "time: mean", **grid.grid_mapping_attrs()}),
        "time_bnds": (("time", "nv"), np.stack([times, times + np.timedelta64(1, "h")], 1)),
        "source_emission": (("time", "source"), inventory.point_hourly(times),
                            {"long_name": "CO2 emission rate of point source", "units": "kg s-1",
                             "cell_methods": "time: mean"}),
        "source_sector": ("source", points.sector.astype(str),
                          {"long_name": "sector of point source"}),
        **{variable: ("source", np.asarray(getattr(points, attribute), float),
                      {"long_name": long_name, "units": units})
           for attribute, (variable, units, long_name) in _SOURCE_VARIABLES.items()},
        **grid.data_vars(),
    }
    coords = {
        **grid.coords(),
        "time": ("time", times, {"standard_name": "time", "long_name": "start of hour",
                                 "bounds": "time_bnds"}),
        "sector": ("sector", np.array(sectors, dtype=str), {"long_name": "emission sector"}),
        "source": ("source", points.name.astype(str), {"long_name": "point source name",
                                                       "cf_role": "timeseries_id"}),
    }
    ds = xr.Dataset(data, coords=coords, attrs=attrs)
    for name in ("time", "time_bnds"):
        ds[name].encoding.update({"units": "hours since 1970-01-01 00:00:00",
                                  "calendar": "standard", "dtype": "float64"})
    return label_encoding(ds, ("sector", "source", "source_sector"))


def read_prior_points(path, grid) -> PointSources:
    """The stack sources of a prior.nc with their tabulated hourly emissions (none for a
    plain flux file)."""
    with open_netcdf(path) as ds:
        if "source_emission" not in ds:
            return PointSources.empty()
        where = f"{path}: source_emission"
        if ds["source_emission"].dims != ("time", "source"):
            raise InputError(f"{where} has dims {ds['source_emission'].dims}; expected "
                             "(time, source)")
        needed = ["source", "source_sector", *(v for v, _, _ in _SOURCE_VARIABLES.values())]
        missing = [name for name in needed if name not in ds.variables]
        if missing:
            raise InputError(f"{path}: variable(s) {', '.join(missing)} missing; a prior.nc "
                             f"with source_emission also needs {', '.join(needed)}")
        for name in needed[1:]:
            if ds[name].dims != ("source",):
                raise InputError(f"{path}: {name} has dims {ds[name].dims}; expected (source,)")
        starts, _ = time_intervals(ds, where)
        values = {attribute: numeric_values(ds[variable], f"{path}: {variable}")
                  for attribute, (variable, _, _) in _SOURCE_VARIABLES.items()}
        names = np.array([label_text(n) for n in ds["source"].values], dtype=object)
        sectors = np.array([label_text(s) for s in ds["source_sector"].values], dtype=object)
        rates = numeric_values(ds["source_emission"], where)
    if not np.isfinite(rates).all() or (rates < 0).any():
        raise InputError(f"{where}: emissions must be finite and non-negative")
    if len(set(names)) != names.size or "" in set(names):
        raise InputError(f"{path}: source names must be unique and non-empty")
    return PointSources(name=names, sector=sectors, profile=sectors.copy(),
                        rate_kg_s=rates.mean(axis=0) if rates.size else np.zeros(names.size),
                        hourly_times=starts, hourly_rates=rates, **values)
