"""The run's output datasets, CF-1.8, built from plain arrays (no I/O here)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from .state import StateLayout
from .units import FLUX_UNITS, FOOTPRINT_UNITS, MASS_UNITS, RATE_UNITS


def _time_coord(layout: StateLayout) -> dict:
    return {"time": ("time", layout.step_starts,
                     {"standard_name": "time", "long_name": "start of flux time step",
                      "axis": "T", "bounds": "time_bnds"})}


def _time_bounds(layout: StateLayout) -> dict:
    starts = layout.step_starts
    return {"time_bnds": (("time", "nv"),
                          np.stack([starts, starts + np.timedelta64(layout.step_hours, "h")],
                                   axis=1))}


def posterior_dataset(layout: StateLayout, regions, prior, posterior, prior_std, posterior_std,
                      totals: dict, attrs: dict) -> xr.Dataset:
    """posterior.nc: flux fields, their 1σ uncertainties and region totals.

    Parameters
    ----------
    prior, posterior, prior_std, posterior_std : ndarray (n_state,)
        µmol m⁻² s⁻¹.
    totals : dict
        ``{prior, posterior, prior_std, posterior_std}`` each (n_regions, n_steps) in t h⁻¹,
        and ``{period_prior, period_posterior, period_prior_std, period_posterior_std}``
        each (n_regions,) in t.
    """
    grid = layout.grid
    dims = ("time", *grid.dims)
    mapping = grid.grid_mapping_attrs()

    def flux(values, long_name, extra=None):
        attrs = {"long_name": long_name, "units": FLUX_UNITS, "cell_methods": "time: mean",
                 **mapping, **(extra or {})}
        return (dims, layout.field(values).astype(np.float32), attrs)

    def total(values, long_name, units, region_dims=("region", "time")):
        return (region_dims, np.asarray(values), {"long_name": long_name, "units": units})

    # CF coordinate variables must be numeric, so the names are a label variable along
    # `region` (select with ds.set_xindex("region_name").sel(region_name="city")).
    coords = {**_time_coord(layout), **grid.coords(),
              "region_name": ("region", np.array(regions.names, dtype=object),
                              {"long_name": "region name"})}
    data = {
        "flux_prior": flux(prior, "prior CO2 surface flux"),
        "flux_posterior": flux(posterior, "posterior CO2 surface flux"),
        "flux_prior_uncertainty": flux(prior_std, "prior CO2 surface flux uncertainty (1 sigma)"),
        "flux_posterior_uncertainty": flux(posterior_std,
                                           "posterior CO2 surface flux uncertainty (1 sigma)"),
        "total_prior": total(totals["prior"], "prior CO2 emission rate of region", RATE_UNITS),
        "total_posterior": total(totals["posterior"], "posterior CO2 emission rate of region",
                                 RATE_UNITS),
        "total_prior_uncertainty": total(totals["prior_std"], "prior uncertainty (1 sigma) of "
                                         "region CO2 emission rate", RATE_UNITS),
        "total_posterior_uncertainty": total(totals["posterior_std"], "posterior uncertainty "
                                             "(1 sigma) of region CO2 emission rate", RATE_UNITS),
        "period_total_prior": total(totals["period_prior"], "prior CO2 emitted by region over "
                                    "the period", MASS_UNITS, ("region",)),
        "period_total_posterior": total(totals["period_posterior"], "posterior CO2 emitted by "
                                        "region over the period", MASS_UNITS, ("region",)),
        "period_total_prior_uncertainty": total(totals["period_prior_std"], "prior uncertainty "
                                                "(1 sigma) of CO2 emitted over the period",
                                                MASS_UNITS, ("region",)),
        "period_total_posterior_uncertainty": total(totals["period_posterior_std"],
                                                    "posterior uncertainty (1 sigma) of CO2 "
                                                    "emitted over the period", MASS_UNITS,
                                                    ("region",)),
        "region_fraction": (("region", *grid.dims), regions.fractions.astype(np.float32),
                            {"long_name": "fraction of grid cell inside region", "units": "1",
                             **mapping}),
        **grid.data_vars(),
        **_time_bounds(layout),
    }
    ds = xr.Dataset(data, coords=coords, attrs=attrs)
    return _encode_times(ds)


def observations_dataset(table: pd.DataFrame, modelled_prior, modelled_posterior,
                         obs_error_std, sites: pd.DataFrame, attrs: dict) -> xr.Dataset:
    """observations.nc: every tower observation with modelled values and residuals (ppm)."""
    site_info = sites.set_index("site").loc[table.site]

    def ppm(values, long_name):
        return ("obs", np.asarray(values, float), {"long_name": long_name, "units": "ppm"})

    observed = table.observed.to_numpy()
    data = {
        "observed": ppm(observed, "observed CO2 mole fraction in air"),
        "background": ppm(table.background, "background CO2 mole fraction"),
        "modelled_prior": ppm(modelled_prior, "modelled CO2 mole fraction, prior fluxes"),
        "modelled_posterior": ppm(modelled_posterior, "modelled CO2 mole fraction, posterior fluxes"),
        "obs_error_std": ppm(obs_error_std, "observation error standard deviation (R)"),
        "residual_prior": ppm(observed - modelled_prior, "observed minus modelled (prior)"),
        "residual_posterior": ppm(observed - modelled_posterior,
                                  "observed minus modelled (posterior)"),
        "used_in_inversion": ("obs", table.used.to_numpy().astype(np.int8),
                              {"long_name": "observation entered the inversion",
                               "flag_values": np.array([0, 1], np.int8),
                               "flag_meanings": "not_used used"}),
    }
    coords = {
        "time": ("obs", table.time.to_numpy(), {"standard_name": "time",
                                                "long_name": "start of hourly mean"}),
        "site": ("obs", table.site.to_numpy().astype(object), {"long_name": "site id",
                                                               "cf_role": "timeseries_id"}),
        "lat": ("obs", site_info.lat.to_numpy(), {"standard_name": "latitude",
                                                  "units": "degrees_north"}),
        "lon": ("obs", site_info.lon.to_numpy(), {"standard_name": "longitude",
                                                  "units": "degrees_east"}),
        "inlet_height": ("obs", site_info.inlet_height_m.to_numpy(),
                         {"standard_name": "height", "long_name": "inlet height above ground",
                          "units": "m", "positive": "up"}),
    }
    ds = xr.Dataset(data, coords=coords, attrs=attrs)
    return _encode_times(ds)


def footprints_dataset(layout: StateLayout, table: pd.DataFrame, time_integrated,
                       attrs: dict) -> xr.Dataset:
    """footprints.nc: the time-integrated footprint of every observation."""
    grid = layout.grid
    foot = np.asarray(time_integrated.toarray(), dtype=np.float32).reshape(-1, *grid.shape)
    ds = xr.Dataset(
        {"foot": (("obs", *grid.dims), foot,
                  {"long_name": "footprint of the observation, summed over hours back",
                   "units": FOOTPRINT_UNITS, **grid.grid_mapping_attrs()}),
         **grid.data_vars()},
        coords={**grid.coords(),
                "time": ("obs", table.time.to_numpy(), {"standard_name": "time"}),
                "site": ("obs", table.site.to_numpy().astype(object), {"long_name": "site id"})},
        attrs=attrs)
    return _encode_times(ds)


def _encode_times(ds: xr.Dataset) -> xr.Dataset:
    for name in ("time", "time_bnds"):
        if name in ds.variables:
            ds[name].encoding.update({"units": "hours since 1970-01-01 00:00:00",
                                      "calendar": "standard", "dtype": "float64"})
    return ds
