"""The outputs of a run: arrays gathered from the inversion, then files. No science here."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from . import diagnostics as diag
from . import io, plotting, products
from .state.aggregation import (gridded_region_rates, point_membership, point_region_rates,
                                point_report_shape)
from .state.blocks import OffsetBlock, PointSourceBlock
from .units import MOLAR_MASS_CO2


def _std(cov) -> np.ndarray:
    return np.sqrt(np.clip(np.diag(cov), 0.0, None))


def report_means(hourly: np.ndarray, step_hours: int) -> np.ndarray:
    """Means over reporting steps of an hourly array (n_hours, ...)."""
    return hourly.reshape(-1, step_hours, *hourly.shape[1:]).mean(axis=1)


def prior_aggregate_covariance(inversion) -> np.ndarray:
    """W B Wᵀ of the inventory's prior: without the sources the search added, if any."""
    if inversion.inventory_prior is not None:
        return inversion.inventory_prior["aggregate_covariance"]
    return inversion.result.aggregate_prior_covariance


def region_totals(inversion) -> dict:
    """Rates (group, region, step), period totals (group, region) and covariances."""
    totals, result = inversion.totals, inversion.result
    k = totals.n_rows
    P = totals.period_matrix
    out = {}
    for stage, values, cov in (
            ("prior", result.aggregate_prior[:k], prior_aggregate_covariance(inversion)[:k, :k]),
            ("posterior", result.aggregate_posterior[:k],
             result.aggregate_posterior_covariance[:k, :k])):
        values = values + inversion.constant
        out[f"rate_{stage}"] = totals.reshape(values)
        out[f"rate_{stage}_std"] = totals.reshape(_std(cov))
        period_cov = P @ cov @ P.T
        n_groups, n_regions = len(totals.groups), len(totals.regions)
        out[f"period_{stage}"] = (P @ values).reshape(n_groups, n_regions)
        out[f"period_{stage}_std"] = _std(period_cov).reshape(n_groups, n_regions)
        out[f"period_{stage}_cov"] = np.stack([
            period_cov[g * n_regions:(g + 1) * n_regions, g * n_regions:(g + 1) * n_regions]
            for g in range(n_groups)])
    return out


def truth_totals(inputs, inversion) -> dict | None:
    """Period totals (t) of the true fluxes per group and region, for synthetic cases."""
    truth = inputs.truth
    if truth is None:
        return None
    layout, totals = inversion.layout, inversion.totals
    times = layout.hour_times()
    regions, grid = inputs.regions, inputs.grid
    truth_points = (point_region_rates(truth.point_hourly(times),
                                       point_membership(regions, grid, truth.points.lon,
                                                        truth.points.lat), layout.n_hours)
                    if len(truth.points) else 0.0)
    out = {}
    for group, names in zip(totals.groups, totals.group_blocks):
        sectors, points = set(), False
        for name in names:
            block = layout.block(name)
            if isinstance(block, PointSourceBlock):
                points = True
            else:
                sectors |= set(block.sectors)
        if group == "net":
            sectors, points = set(truth.sectors), True
        rates = gridded_region_rates(truth.gridded_hourly(sectors, times), regions, grid,
                                     layout.n_hours)
        if points:
            rates = rates + truth_points
        out[group] = dict(zip(regions.names, (rates[:, 0] * layout.n_hours).tolist()))
    return out


def posterior_content(inputs, inversion) -> products.PosteriorContent:
    """The arrays of posterior.nc."""
    layout, result, priors = inversion.layout, inversion.result, inversion.priors
    grid, step = inputs.grid, layout.report_step_hours
    n_report = layout.n_report_steps
    x_b = layout.split(inversion.prior_state)
    x_a = layout.split(result.posterior_state)
    sd_b = layout.split(np.sqrt(inversion.problem.prior_covariance.diagonal()))
    sd_a = layout.split(result.posterior_std)
    report_start = np.arange(n_report) * step
    sector_fields = {key: [] for key in ("prior", "posterior", "prior_std", "posterior_std")}
    net_prior = np.zeros((n_report, grid.size))
    for block in layout.gridded:
        block_step = report_start // block.step_hours
        prior = report_means(priors.in_period(priors.gridded[block.name]), step)
        increment = np.zeros((n_report, grid.size))
        increment[:, block.cells] = (x_a[block.name] - x_b[block.name]).reshape(
            block.n_steps, -1)[block_step]
        for key, values in (("prior_std", sd_b[block.name]), ("posterior_std", sd_a[block.name])):
            field = np.zeros((n_report, grid.size))
            field[:, block.cells] = values.reshape(block.n_steps, -1)[block_step]
            sector_fields[key].append(field.reshape(n_report, *grid.shape))
        sector_fields["prior"].append(prior.reshape(n_report, *grid.shape))
        sector_fields["posterior"].append((prior + increment).reshape(n_report, *grid.shape))
        net_prior += prior
    if priors.fixed is not None:
        net_prior += report_means(priors.in_period(priors.fixed), step)
    content = dict(sources=None)
    points = layout.points
    if points is not None:
        from .inventory.rasterise import points_to_grid

        rates_prior = report_means(priors.in_period(priors.points), step)
        _, cell = points_to_grid(grid, points.sources.lon, points.sources.lat,
                                 np.ones(points.n_items))
        inside = cell >= 0
        per_cell = np.zeros((n_report, grid.size))
        factor = 1e6 / MOLAR_MASS_CO2 / grid.cell_area.ravel()[cell[inside]]
        np.add.at(per_cell, (slice(None), cell[inside]), rates_prior[:, inside] * factor)
        net_prior += per_cell
        block_step = report_start // points.step_hours

        def per_report(values):
            return values.reshape(points.n_steps, -1)[block_step]

        # within a block step the state keeps each stack's hourly shape (as H does)
        shape = point_report_shape(points, priors.in_period(priors.points), step)
        added = np.isfinite(np.asarray(points.sources.prior_std_kg_s, float))
        k = inversion.totals.n_rows
        prior_std = np.where(added, np.nan, per_report(sd_b[points.name]) * shape)
        content.update(
            sources=points.sources,
            source_rates={"prior": rates_prior,
                          "posterior": rates_prior + per_report(x_a[points.name]
                                                                - x_b[points.name]) * shape,
                          "prior_std": prior_std,
                          "posterior_std": per_report(sd_a[points.name]) * shape},
            source_period={  # Σ_steps x × step length: the state holds each step's mean
                "prior": result.aggregate_prior[k:],
                "posterior": result.aggregate_posterior[k:],
                "prior_std": np.where(added, np.nan,
                                      _std(prior_aggregate_covariance(inversion)[k:, k:])),
                "posterior_std": _std(result.aggregate_posterior_covariance[k:, k:])})
    T = inversion.problem.variance_maps["net_flux"]
    net_post = net_prior + (T @ (result.posterior_state - inversion.prior_state)).reshape(
        n_report, grid.size)
    net_std_prior, net_std_post = result.map_std["net_flux"]
    if inversion.inventory_prior is not None:
        net_std_prior = inversion.inventory_prior["net_flux_std"]
    labels, offsets = [], {key: [] for key in ("prior", "posterior", "prior_std",
                                               "posterior_std")}
    for block in layout.offsets:
        starts = layout.start + np.arange(block.n_steps) * np.timedelta64(block.step_hours, "h")
        for s, when in enumerate(starts):
            for group in block.groups:
                labels.append(f"{block.name}:{group}:{str(when)[:16]}")
        for key, source in (("prior", x_b), ("posterior", x_a), ("prior_std", sd_b),
                            ("posterior_std", sd_a)):
            offsets[key].extend(source[block.name].tolist())
    totals = region_totals(inversion)
    kinds = []
    for group, names in zip(inversion.totals.groups, inversion.totals.group_blocks):
        if group in ("net", "fossil_total"):
            kinds.append(group)
        else:
            kind = layout.block(names[0]).kind
            kinds.append(getattr(kind, "value", "other"))
    shape = (n_report, *grid.shape)
    return products.PosteriorContent(
        sectors=[b.name for b in layout.gridded],
        sector_fields={k: np.stack(v) if v else np.zeros((0, *shape))
                       for k, v in sector_fields.items()},
        net_fields={"prior": net_prior.reshape(shape), "posterior": net_post.reshape(shape),
                    "prior_std": net_std_prior.reshape(shape),
                    "posterior_std": net_std_post.reshape(shape)},
        groups=list(inversion.totals.groups), group_kinds=kinds,
        rates={"prior": totals["rate_prior"], "posterior": totals["rate_posterior"],
               "prior_std": totals["rate_prior_std"],
               "posterior_std": totals["rate_posterior_std"]},
        period={"prior": totals["period_prior"], "posterior": totals["period_posterior"],
                "prior_std": totals["period_prior_std"],
                "posterior_std": totals["period_posterior_std"]},
        period_covariance={"prior": totals["period_prior_cov"],
                           "posterior": totals["period_posterior_cov"]},
        offset_labels=labels, offsets={k: np.array(v) for k, v in offsets.items()},
        **content)


def _interval(value: float, log_std: float) -> list:
    """value × exp(∓σ_log), or [None, None] when the data do not constrain it."""
    if not np.isfinite(log_std) or log_std > 5:
        return [None, None]
    return [float(value * np.exp(-log_std)), float(value * np.exp(log_std))]


def _json_numbers(values) -> list:
    """Floats for JSON, None where not finite (JSON has no NaN)."""
    return [float(v) if np.isfinite(v) else None for v in np.asarray(values, float)]


def error_parameters_report(inversion) -> dict:
    """Every error parameter: its value in the run, and the maximum-likelihood estimate
    with its 1σ interval (whether or not it was applied)."""
    parameters, estimates = inversion.parameters, inversion.estimates
    applied, every = estimates["applied"], estimates["all_free"]
    report = {}
    for (kind, name), value in every.values.items():
        key = f"{'scale' if kind == 'block' else 'model_data_mismatch_ppm'}:{name}"
        used = (parameters.block_scale[name] if kind == "block" else
                parameters.mismatch_ppm[name])
        log_std = every.log_std[(kind, name)]
        report[key] = {
            "value_used": float(used),
            "estimated": (kind, name) in applied.values,
            "maximum_likelihood": float(value),
            "interval_68": _interval(value, log_std),
        }
        if kind == "block":
            block = inversion.layout.block(name)
            report[key]["meaning"] = ("prior σ of every offset, ppm" if isinstance(block, OffsetBlock)
                                      else "factor on every prior σ of the block")
    for name, fit in estimates.get("lengths", {}).items():
        report[f"correlation_length_km:{name}"] = {
            "value_used": float(parameters.length_km[name]), "estimated": True,
            "maximum_likelihood": fit.lengths[name],
            "interval_68": list(fit.length_interval[name])}
    return {"parameters": report,
            "reduced_chi2_with_values_used": float(applied.reduced_chi2),
            "reduced_chi2_all_estimated": float(every.reduced_chi2),
            "reduced_chi2_standard_error": float(np.sqrt(2.0 / applied.n_obs)),
            "converged": bool(applied.converged and every.converged)}


def search_report(inputs, inversion, limit: int = 20) -> dict | None:
    """The missing-source search: threshold, accepted sources and the best candidates."""
    found = inversion.search
    if found is None:
        return None
    from .pipeline import _metric_to_lonlat

    lon, lat = _metric_to_lonlat(inputs.grid, inversion.candidates[:, 0],
                                 inversion.candidates[:, 1])

    def describe(index, rate, rate_std, z, p_value):
        return {"lon": round(float(lon[index]), 5), "lat": round(float(lat[index]), 5),
                "rate_kg_s": float(rate), "rate_std_kg_s": float(rate_std),
                "rate_t_yr": float(rate) * 31557.6, "z": float(z), "p_value": float(p_value),
                "significant": bool(z > found.threshold)}

    order = np.argsort(-found.z)[:limit]
    return {
        "n_candidates": int(found.z.size),
        "release_height_m": inputs.config.missing_sources.release_height_m,
        "significance": inputs.config.missing_sources.significance,
        "z_threshold": float(found.threshold),
        "accepted": [describe(a["index"], a["rate"], a["rate_std"], a["z"], a["p_value"])
                     for a in found.accepted],
        "best_candidates": [describe(i, found.rate[i], found.rate_std[i], found.z[i],
                                     found.p_value[i]) for i in order],
    }


def point_source_report(content, truth_inventory, times) -> list:
    """Every point source's prior and posterior emission over the period (t), and the
    truth's for a synthetic case whose truth has a source of the same name."""
    if content.sources is None:
        return []
    truth = {}
    if truth_inventory is not None and len(truth_inventory.points):
        totals = truth_inventory.point_hourly(times).sum(axis=0) * 3.6   # kg s⁻¹ × 1 h → t
        truth = dict(zip(truth_inventory.points.name, totals))
    rows = []
    for i, name in enumerate(content.sources.name):
        row = {
            "name": str(name), "lon": float(content.sources.lon[i]),
            "lat": float(content.sources.lat[i]),
            "stack_height_m": float(content.sources.stack_height_m[i]),
            "sector": str(content.sources.sector[i]),
            "prior_t": float(content.source_period["prior"][i]),
            "prior_uncertainty_t": _json_numbers([content.source_period["prior_std"][i]])[0],
            "posterior_t": float(content.source_period["posterior"][i]),
            "posterior_uncertainty_t": float(content.source_period["posterior_std"][i]),
        }
        if str(name) in truth:
            row["truth_t"] = float(truth[str(name)])
        rows.append(row)
    return rows


def write_outputs(inputs, inversion, timer, first_pass=None):
    """Write posterior.nc, observations.nc, footprints.nc, diagnostics.json and plots."""
    from .pipeline import RunSummary

    started = time.perf_counter()
    config, layout, table = inputs.config, inversion.layout, inputs.table
    content = posterior_content(inputs, inversion)
    truth = truth_totals(inputs, inversion)
    result = inversion.result
    background = table.background.to_numpy()
    modelled_prior = background + inversion.model.simulate(inversion.prior_state)
    modelled_post = background + inversion.model.simulate(result.posterior_state)
    observed = table.observed.to_numpy()
    obs_std = np.full(len(table), np.nan)
    innovation_std = np.full(len(table), np.nan)
    residual_std = np.full(len(table), np.nan)
    obs_std[inversion.used] = np.sqrt(inversion.errors.diagonal(inversion.parameters.mismatch_ppm))
    innovation_std[inversion.used] = np.sqrt(result.innovation_variance)
    residual_std[inversion.used] = np.sqrt(result.residual_variance)

    diagnostics = run_diagnostics(inputs, inversion, content, truth,
                                  observed - modelled_prior, observed - modelled_post,
                                  innovation_std, residual_std)
    if first_pass is not None:
        diagnostics["first_pass_missing_sources"] = search_report(inputs, first_pass)
    period = {"time_coverage_start": config.period.start.isoformat(),
              "time_coverage_end": config.period.end.isoformat()}
    attrs = io.global_attributes(f"cityflux posterior CO2 fluxes: {config.name}",
                                 config.source_text,
                                 {**period, "solver": config.solver.method.value})
    posterior_ds = products.posterior_dataset(layout, inputs.regions, content, attrs)
    obs_attrs = io.global_attributes(f"cityflux observations and modelled values: {config.name}",
                                     config.source_text, period)
    obs_ds = products.observations_dataset(table, modelled_prior, modelled_post, obs_std,
                                           inputs.sites, obs_attrs)
    target = config.output.dir
    with io.staged_directory(target) as staging:
        io.write_netcdf(posterior_ds, staging / "posterior.nc")
        io.write_netcdf(obs_ds, staging / "observations.nc")
        if config.output.footprints:
            io.write_netcdf(products.footprints_dataset(
                layout, table, inversion.sensitivities.tower.time_integrated(), obs_attrs),
                staging / "footprints.nc")
        if config.output.plots:
            plotting.plot_all(posterior_ds, obs_ds, inputs.sites, inputs.regions.geometries,
                              staging / "plots", truth=None if truth is None else truth["net"])
        diagnostics["run_time_seconds"] = {
            **timer.seconds, "outputs": round(time.perf_counter() - started, 3)}
        io.write_json(diagnostics, staging / "diagnostics.json")
    files = sorted(p.relative_to(target) for p in Path(target).rglob("*") if p.is_file())
    return RunSummary(Path(target), diagnostics, files)


def run_diagnostics(inputs, inversion, content, truth, residual_prior, residual_posterior,
                    innovation_std, residual_std) -> dict:
    """The content of diagnostics.json (without run times)."""
    config, layout, result = inputs.config, inversion.layout, inversion.result
    regions = list(inputs.regions.names)
    prior_std = content.period["prior_std"]
    totals = {}
    for g, group in enumerate(content.groups):
        totals[group] = {}
        for r, region in enumerate(regions):
            entry = {"prior": float(content.period["prior"][g, r]),
                     "prior_uncertainty": float(prior_std[g, r]),
                     "posterior": float(content.period["posterior"][g, r]),
                     "posterior_uncertainty": float(content.period["posterior_std"][g, r])}
            if truth is not None:
                entry["truth"] = truth[group][region]
            totals[group][region] = entry
    net = totals["net"]
    diagnostics = {
        **result.diagnostics,
        "solver": config.solver.method.value,
        "transport": {"model": config.transport.model.value,
                      "background": config.observations.background.value},
        "period": {"start": config.period.start.isoformat(), "end": config.period.end.isoformat()},
        "units": {"period_totals": "t CO2", "rates": "t h-1", "point_sources": "t CO2"},
        "blocks": {block.name: {"type": type(block).__name__, "elements": int(block.size),
                                "units": block.units,
                                "time_step_hours": int(block.step_hours)}
                   for block in layout.blocks},
        "city_total_prior": net["city"]["prior"],
        "city_total_prior_uncertainty": net["city"]["prior_uncertainty"],
        "city_total_posterior": net["city"]["posterior"],
        "city_total_posterior_uncertainty": net["city"]["posterior_uncertainty"],
        "uncertainty_reduction": {
            group: dict(zip(regions, _json_numbers(diag.uncertainty_reduction(
                prior_std[g], content.period["posterior_std"][g]).round(4))))
            for g, group in enumerate(content.groups)},
        "period_totals": totals,
        "point_sources": point_source_report(content, inputs.truth, layout.hour_times()),
        "error_estimation": error_parameters_report(inversion),
        "sites": diag.site_statistics(inputs.table, residual_prior, residual_posterior,
                                      innovation_std, residual_std),
    }
    search = search_report(inputs, inversion)
    if search is not None:
        diagnostics["missing_sources"] = search
    if truth is not None:
        diagnostics["truth_period_totals"] = truth
    return diagnostics
