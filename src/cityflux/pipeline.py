"""One run: configuration in, output directory out. Orchestration only, no science."""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import diagnostics as diag
from . import io, plotting, products
from .cache import ArtifactCache, cache_key
from .config import RunConfig
from .grid import Grid
from .inventory.gridded import block_mean, read_hourly_flux
from .met import Meteorology, read_meteorology
from .obs.records import read_records
from .obs.selection import observation_error_covariance, observation_table
from .obs.sites import background_site, read_sites, tower_sites
from .prior import prior_covariance, prior_state
from .regions import Regions, read_regions
from .solvers import InversionProblem, make_solver
from .state import StateLayout, period_sum_matrix, region_totals_operator
from .observation_model import difference_model
from .transport import kernels
from .transport.footprints import Footprints
from .transport.plume import plume_footprints, stability_classes

log = logging.getLogger(__name__)


@dataclass
class RunInputs:
    """Everything a run reads, validated."""

    config: RunConfig
    grid: Grid
    layout: StateLayout
    regions: Regions
    met: Meteorology
    sites: pd.DataFrame
    table: pd.DataFrame
    prior_hourly: np.ndarray
    truth_hourly: np.ndarray | None


@dataclass
class RunSummary:
    """What a finished run reports."""

    output_dir: Path
    diagnostics: dict
    files: list = field(default_factory=list)


class StageTimer:
    """Wall-clock seconds per named stage."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, stage: str):
        start = time.perf_counter()
        log.info("stage %s ...", stage)
        yield
        self.seconds[stage] = round(time.perf_counter() - start, 3)
        log.info("stage %s done in %.2f s", stage, self.seconds[stage])


def load_inputs(config: RunConfig) -> RunInputs:
    """Read and cross-check every input of a run (what ``cityflux validate`` does)."""
    grid = Grid.from_config(config.domain)
    layout = StateLayout.from_period(grid, config.period)
    inputs = config.inputs
    regions = read_regions(config.domain.regions, grid)
    met = read_meteorology(inputs.meteorology)
    sites = read_sites(inputs.sites)
    records = read_records(inputs.observations, sites.site)
    background = background_site(sites, config.observations.background_site, str(inputs.sites))
    table = observation_table(records, tower_sites(sites), background, config.period.start,
                              config.period.end, config.domain.utc_offset_hours,
                              config.observations.local_hours, str(inputs.observations))
    met.at(table.time.to_numpy(), str(inputs.meteorology))
    prior_hourly = read_hourly_flux(inputs.prior_flux, grid, config.period.start, layout.n_hours)
    truth_hourly = (None if inputs.truth_flux is None else
                    read_hourly_flux(inputs.truth_flux, grid, config.period.start, layout.n_hours))
    return RunInputs(config, grid, layout, regions, met, sites, table, prior_hourly, truth_hourly)


def observation_footprints(inputs: RunInputs, progress: bool = False,
                           cache: ArtifactCache | None = None):
    """Footprints of every tower observation and of the background site at those hours.

    Returns ``(tower, background, background_row)``: ``background`` has one footprint per
    distinct observation hour and ``background_row`` maps each observation to its row.
    Footprints are loaded from ``cache`` when everything they depend on is unchanged.
    """
    config, table, grid = inputs.config, inputs.table, inputs.grid
    background = background_site(inputs.sites, config.observations.background_site,
                                 str(config.inputs.sites))
    hours, background_row = np.unique(table.time.to_numpy(), return_inverse=True)
    receptors = pd.DataFrame({"site": np.concatenate([table.site.to_numpy(),
                                                      np.full(hours.size, background)]),
                              "time": np.concatenate([table.time.to_numpy(), hours])})
    times = receptors.time.to_numpy()
    met = inputs.met.at(times, str(config.inputs.meteorology))
    stability = stability_classes(met, times, config.transport, grid.centre_lonlat,
                                  str(config.inputs.meteorology))
    site_info = inputs.sites.set_index("site").loc[receptors.site]
    rx, ry = grid.to_metric(site_info.lon.to_numpy(), site_info.lat.to_numpy())
    obs_hour = ((times - inputs.layout.start) // np.timedelta64(1, "h")).astype(np.int64)
    heights = site_info.inlet_height_m.to_numpy()
    key = cache_key(grid, rx, ry, heights, obs_hour, met, stability, config.transport,
                    Path(kernels.__file__).read_bytes())
    cache = cache or ArtifactCache(None)
    footprints = Footprints.from_arrays(cache.load_or_compute("footprints", key, lambda: (
        plume_footprints(grid, rx, ry, heights, obs_hour, met, stability, config.transport,
                         progress=progress).to_arrays())))
    is_tower = np.arange(len(receptors)) < len(table)
    return footprints.subset(is_tower), footprints.subset(~is_tower), background_row


def run(config: RunConfig, progress: bool = False) -> RunSummary:
    """Run the inversion a configuration describes and write its outputs."""
    timer = StageTimer()
    with timer("inputs"):
        inputs = load_inputs(config)
    layout, table = inputs.layout, inputs.table
    with timer("footprints"):
        footprints, background_fp, background_row = observation_footprints(
            inputs, progress, ArtifactCache(config.output.cache_dir))
    with timer("operator"):
        model_all = difference_model(footprints, background_fp, background_row, layout,
                                     inputs.prior_hourly)
        used = table.used.to_numpy()
        model = model_all.subset(np.flatnonzero(used))
    with timer("prior"):
        x_b = prior_state(layout, inputs.prior_hourly)
        B = prior_covariance(layout, x_b, config.prior_error)
        errors = config.observations

        def error_covariance(rows):
            return observation_error_covariance(
                rows, errors.measurement_error_ppm, errors.model_data_mismatch_ppm,
                errors.background_error_ppm, errors.error_correlation_hours)

        R = error_covariance(table[used])
        obs_std = np.sqrt(error_covariance(table).diagonal())
        W = region_totals_operator(layout, inputs.regions)
    with timer("solve"):
        difference = (table.observed - table.background).to_numpy() - model_all.offset
        problem = InversionProblem(x_b, B, model.operator, difference[used], R, W)
        result = make_solver(config.solver.method).solve(problem)
    with timer("outputs"):
        summary = _write_outputs(inputs, footprints, model_all, problem, result, obs_std, timer)
    return summary


def _region_totals(inputs: RunInputs, result) -> dict:
    n_regions, n_steps = len(inputs.regions), inputs.layout.n_steps
    P = period_sum_matrix(inputs.layout, n_regions)

    def std(cov):
        return np.sqrt(np.clip(np.diag(cov), 0, None))

    return {
        "prior": result.aggregate_prior.reshape(n_regions, n_steps),
        "posterior": result.aggregate_posterior.reshape(n_regions, n_steps),
        "prior_std": std(result.aggregate_prior_covariance).reshape(n_regions, n_steps),
        "posterior_std": std(result.aggregate_posterior_covariance).reshape(n_regions, n_steps),
        "period_prior": P @ result.aggregate_prior,
        "period_posterior": P @ result.aggregate_posterior,
        "period_prior_std": std(P @ result.aggregate_prior_covariance @ P.T),
        "period_posterior_std": std(P @ result.aggregate_posterior_covariance @ P.T),
    }


def _truth_totals(inputs: RunInputs, problem) -> dict | None:
    """Period totals (t) of the true flux per region, for synthetic cases with a truth."""
    if inputs.truth_hourly is None:
        return None
    truth_state = block_mean(inputs.truth_hourly, inputs.layout.step_hours).ravel()
    P = period_sum_matrix(inputs.layout, len(inputs.regions))
    return dict(zip(inputs.regions.names, (P @ (problem.aggregation @ truth_state)).tolist()))


def _run_diagnostics(inputs: RunInputs, result, totals: dict, truth: dict | None,
                     residual_prior, residual_posterior, obs_std) -> dict:
    """The content of diagnostics.json (without run times)."""
    names = list(inputs.regions.names)
    period_totals = {}
    for i, name in enumerate(names):
        period_totals[name] = {
            "prior": float(totals["period_prior"][i]),
            "prior_uncertainty": float(totals["period_prior_std"][i]),
            "posterior": float(totals["period_posterior"][i]),
            "posterior_uncertainty": float(totals["period_posterior_std"][i])}
        if truth is not None:
            period_totals[name]["truth"] = truth[name]
    config = inputs.config
    diagnostics = {
        **result.diagnostics,
        "solver": config.solver.method.value,
        "period": {"start": config.period.start.isoformat(), "end": config.period.end.isoformat()},
        "units": {"period_totals": "t CO2", "rates": "t h-1"},
        "city_total_prior": period_totals["city"]["prior"],
        "city_total_prior_uncertainty": period_totals["city"]["prior_uncertainty"],
        "city_total_posterior": period_totals["city"]["posterior"],
        "city_total_posterior_uncertainty": period_totals["city"]["posterior_uncertainty"],
        "uncertainty_reduction": dict(zip(names, diag.uncertainty_reduction(
            totals["period_prior_std"], totals["period_posterior_std"]).round(4).tolist())),
        "period_totals": period_totals,
        "sites": diag.site_statistics(inputs.table, residual_prior, residual_posterior, obs_std),
    }
    if truth is not None:
        diagnostics["truth_period_totals"] = truth
    return diagnostics


def _write_outputs(inputs, footprints, model_all, problem, result, obs_std, timer):
    started = time.perf_counter()
    config, layout, table = inputs.config, inputs.layout, inputs.table
    totals = _region_totals(inputs, result)
    truth = _truth_totals(inputs, problem)
    modelled_prior = table.background.to_numpy() + model_all.simulate(problem.prior_state)
    modelled_post = table.background.to_numpy() + model_all.simulate(result.posterior_state)
    observed = table.observed.to_numpy()
    diagnostics = _run_diagnostics(inputs, result, totals, truth, observed - modelled_prior,
                                   observed - modelled_post, obs_std)

    period = {"time_coverage_start": config.period.start.isoformat(),
              "time_coverage_end": config.period.end.isoformat()}
    attrs = io.global_attributes(f"cityflux posterior CO2 fluxes: {config.name}",
                                 config.source_text,
                                 {**period, "solver": config.solver.method.value})
    posterior_ds = products.posterior_dataset(
        layout, inputs.regions, problem.prior_state, result.posterior_state,
        problem.prior_covariance.diagonal() ** 0.5, result.posterior_std, totals, attrs)
    obs_attrs = io.global_attributes(f"cityflux observations and modelled values: {config.name}",
                                     config.source_text, period)
    obs_ds = products.observations_dataset(table, modelled_prior, modelled_post, obs_std,
                                           inputs.sites, obs_attrs)

    target = config.output.dir
    with io.staged_directory(target) as staging:
        io.write_netcdf(posterior_ds, staging / "posterior.nc")
        io.write_netcdf(obs_ds, staging / "observations.nc")
        if config.output.footprints:
            io.write_netcdf(products.footprints_dataset(layout, table, footprints.time_integrated(),
                                                        obs_attrs), staging / "footprints.nc")
        if config.output.plots:
            plotting.plot_all(posterior_ds, obs_ds, inputs.sites, inputs.regions.geometries,
                              staging / "plots", truth=truth)
        diagnostics["run_time_seconds"] = {
            **timer.seconds, "outputs": round(time.perf_counter() - started, 3)}
        io.write_json(diagnostics, staging / "diagnostics.json")
    files = sorted(p.relative_to(target) for p in Path(target).rglob("*") if p.is_file())
    return RunSummary(Path(target), diagnostics, files)
