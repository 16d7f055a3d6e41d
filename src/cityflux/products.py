"""The run's output datasets, CF-1.8, built from plain arrays (no I/O here)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from .inventory.priorfile import label_encoding
from .state import StateLayout
from .units import FLUX_UNITS, FOOTPRINT_UNITS, MASS_UNITS, RATE_UNITS


def _time_coord(layout: StateLayout) -> dict:
    return {"time": ("time", layout.report_step_starts,
                     {"standard_name": "time", "long_name": "start of reporting time step",
                      "axis": "T", "bounds": "time_bnds"})}


def _time_bounds(layout: StateLayout) -> dict:
    starts = layout.report_step_starts
    return {"time_bnds": (("time", "nv"),
                          np.stack([starts, starts + np.timedelta64(layout.report_step_hours,
                                                                    "h")], axis=1))}


#: Long names of the totals of each kind of group.
GROUP_NAMES = {"fossil": "fossil CO2 emissions", "biosphere": "biospheric net CO2 flux",
               "other": "net CO2 flux", "net": "net CO2 flux (every sector, biosphere "
               "included)", "fossil_total": "fossil CO2 emissions (every fossil block)"}


@dataclass
class PosteriorContent:
    """Everything posterior.nc holds, as plain arrays (built by :mod:`cityflux.outputs`).

    Gridded fields are (n_report_steps, ny, nx) in µmol m⁻² s⁻¹; ``sector_*`` stack them
    over the gridded blocks. Region rates are (group, region, step) in t h⁻¹, period totals
    (group, region) in t, their covariances (group, region, region) in t². Point sources:
    rates (step, source) in kg s⁻¹, period totals (source,) in t. Offsets in ppm.
    """

    sectors: list
    sector_fields: dict          # prior, posterior, prior_std, posterior_std: (s, t, y, x)
    net_fields: dict             # prior, posterior, prior_std, posterior_std: (t, y, x)
    groups: list
    group_kinds: list
    rates: dict                  # prior, posterior, prior_std, posterior_std
    period: dict                 # prior, posterior, prior_std, posterior_std
    period_covariance: dict      # prior, posterior
    sources: object = None       # PointSources or None
    source_rates: dict = field(default_factory=dict)
    source_period: dict = field(default_factory=dict)
    offset_labels: list = field(default_factory=list)
    offsets: dict = field(default_factory=dict)


def posterior_dataset(layout: StateLayout, regions, content: PosteriorContent,
                      attrs: dict) -> xr.Dataset:
    """posterior.nc: flux fields per sector group and in all, point sources, offsets, and
    region totals with exact uncertainties and covariances."""
    grid = layout.grid
    dims = ("time", *grid.dims)
    mapping = grid.grid_mapping_attrs()

    def flux(values, long_name, dims=dims, comment=None):
        attrs = {"long_name": long_name, "units": FLUX_UNITS, "cell_methods": "time: mean",
                 **mapping, **({"comment": comment} if comment else {})}
        return (dims, np.asarray(values, np.float32), attrs)

    stacks = ("point sources are spread over the grid cell that holds them; region totals "
              "(period_total_*) count a point source in the region whose outline contains "
              "it, so summing this map with region_fraction differs where a stack's cell "
              "straddles a region boundary")

    def variable(dims, values, long_name, units):
        return (dims, np.asarray(values, float), {"long_name": long_name, "units": units})

    sector_dims = ("sector", *dims)
    data = {
        "flux_prior": flux(content.sector_fields["prior"], "prior CO2 surface flux of sector "
                           "group", sector_dims),
        "flux_posterior": flux(content.sector_fields["posterior"], "posterior CO2 surface flux "
                               "of sector group", sector_dims),
        "flux_prior_uncertainty": flux(content.sector_fields["prior_std"], "prior uncertainty "
                                       "(1 sigma) of sector group flux", sector_dims),
        "flux_posterior_uncertainty": flux(content.sector_fields["posterior_std"], "posterior "
                                           "uncertainty (1 sigma) of sector group flux",
                                           sector_dims),
        "net_flux_prior": flux(content.net_fields["prior"], "prior net CO2 flux (all sectors "
                               "and point sources, biosphere included)", comment=stacks),
        "net_flux_posterior": flux(content.net_fields["posterior"], "posterior net CO2 flux "
                                   "(all sectors and point sources, biosphere included)", comment=stacks),
        "net_flux_prior_uncertainty": flux(content.net_fields["prior_std"], "prior "
                                           "uncertainty (1 sigma) of net CO2 flux"),
        "net_flux_posterior_uncertainty": flux(content.net_fields["posterior_std"], "posterior "
                                               "uncertainty (1 sigma) of net CO2 flux, "
                                               "covariances between blocks included"),
        "region_fraction": (("region", *grid.dims), regions.fractions.astype(np.float32),
                            {"long_name": "fraction of grid cell inside region", "units": "1",
                             **mapping}),
        **grid.data_vars(),
        **_time_bounds(layout),
    }
    total_dims = ("sector_group", "region", "time")
    for stage in ("prior", "posterior"):
        data[f"total_{stage}"] = variable(total_dims, content.rates[stage],
                                          f"{stage} CO2 rate of region", RATE_UNITS)
        data[f"total_{stage}_uncertainty"] = variable(
            total_dims, content.rates[f"{stage}_std"],
            f"{stage} uncertainty (1 sigma) of region CO2 rate", RATE_UNITS)
        data[f"period_total_{stage}"] = variable(("sector_group", "region"),
                                                 content.period[stage],
                                                 f"{stage} CO2 of region over the period",
                                                 MASS_UNITS)
        data[f"period_total_{stage}_uncertainty"] = variable(
            ("sector_group", "region"), content.period[f"{stage}_std"],
            f"{stage} uncertainty (1 sigma) of region CO2 over the period", MASS_UNITS)
        data[f"period_total_{stage}_covariance"] = variable(
            ("sector_group", "region", "region_b"), content.period_covariance[stage],
            f"{stage} error covariance between the period totals of two regions (sum regions "
            "exactly with it)", "t2")
    coords = {
        **_time_coord(layout), **grid.coords(),
        "sector": ("sector", np.array(content.sectors, dtype=str),
                   {"long_name": "sector group (gridded state block)"}),
        "sector_group": ("sector_group", np.array(content.groups, dtype=str),
                         {"long_name": "group of state blocks whose totals are reported"}),
        "sector_group_long_name": ("sector_group", np.array(
            [GROUP_NAMES.get(k, k) for k in content.group_kinds], dtype=str),
            {"long_name": "what the group's totals are"}),
        "region": ("region", np.array(regions.names, dtype=str), {"long_name": "region name"}),
        "region_b": ("region_b", np.array(regions.names, dtype=str),
                     {"long_name": "region name (second index of a covariance)"}),
    }
    labels = ["sector", "sector_group", "sector_group_long_name", "region", "region_b"]
    if content.sources is not None and len(content.sources):
        sources = content.sources
        coords["source"] = ("source", sources.name.astype(str),
                            {"long_name": "point source name"})
        data.update({
            "source_lon": variable("source", sources.lon, "longitude of point source",
                                   "degrees_east"),
            "source_lat": variable("source", sources.lat, "latitude of point source",
                                   "degrees_north"),
            "stack_height": variable("source", sources.stack_height_m,
                                     "stack height above ground", "m"),
            "source_sector": ("source", sources.sector.astype(str),
                              {"long_name": "sector of point source"}),
        })
        for stage in ("prior", "posterior"):
            data[f"source_rate_{stage}"] = variable(("time", "source"),
                                                    content.source_rates[stage],
                                                    f"{stage} CO2 emission rate of point "
                                                    "source", "kg s-1")
            data[f"source_rate_{stage}_uncertainty"] = variable(
                ("time", "source"), content.source_rates[f"{stage}_std"],
                f"{stage} uncertainty (1 sigma) of point-source emission rate", "kg s-1")
            data[f"source_total_{stage}"] = variable("source", content.source_period[stage],
                                                     f"{stage} CO2 emitted by point source "
                                                     "over the period", MASS_UNITS)
            data[f"source_total_{stage}_uncertainty"] = variable(
                "source", content.source_period[f"{stage}_std"],
                f"{stage} uncertainty (1 sigma) of point-source emission over the period",
                MASS_UNITS)
        labels += ["source", "source_sector"]
    if content.offset_labels:
        coords["offset"] = ("offset", np.array(content.offset_labels, dtype=str),
                            {"long_name": "offset element: block, site group and start time"})
        for stage in ("prior", "posterior"):
            data[f"offset_{stage}"] = variable("offset", content.offsets[stage],
                                               f"{stage} offset of tower minus background",
                                               "ppm")
            data[f"offset_{stage}_uncertainty"] = variable(
                "offset", content.offsets[f"{stage}_std"],
                f"{stage} uncertainty (1 sigma) of offset", "ppm")
        labels.append("offset")
    ds = xr.Dataset(data, coords=coords, attrs=attrs)
    return label_encoding(_encode_times(ds), labels)


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
