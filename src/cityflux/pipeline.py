"""One run: configuration in, output directory out. Orchestration only, no science.

Stages: read and cross-check the inputs; build the prior (inventory), the state blocks and
the observation model from the transport's sensitivities; estimate the error statistics
the config leaves to the data; solve; search for missing point sources (and, if asked, add
the significant ones and solve again); write the outputs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse

from .cache import ArtifactCache, cache_key
from .config import Auto, BackgroundSource, MismatchGroups, RunConfig
from .errors import ConfigError, InputError
from .grid import Grid, read_grid_file
from .inventory.builder import build_inventory, inventory_from_file
from .inventory.model import Inventory
from .inventory.points import PointSources
from .obs.errors import ObservationErrorModel, error_model, mismatch_group_labels
from .obs.records import read_records
from .obs.selection import observation_table
from .obs.sites import background_site, read_sites, tower_sites
from .observation_model import ObservationModel, Sensitivities, build_observation_model
from .regions import Regions, read_city_and_districts, read_land_fraction, read_regions
from .solvers import InversionProblem, make_solver
from .solvers import hyperparameters as ml
from .solvers.sources_search import ACCEPTED_PRIOR_STD_FACTOR, SearchResult, search
from .state.aggregation import (TotalsLayout, inventory_prior, prior_constant,
                                source_totals_matrix, total_flux_map, totals_layout)
from .state.build import block_sectors, build_layout, hourly_priors
from .state.layout import StateLayout
from .state.prior import ErrorParameters, initial_error_parameters, prior_covariance, prior_state
from .transport.base import Receptors, Transport, make_transport
from .transport.footprints import Footprints
from .transport.parallel import map_receptors
from .transport.plume import stack_sources
from .transport.stacks import StackSources
from .transport.stability import solar_elevation_deg

log = logging.getLogger(__name__)


@dataclass
class RunInputs:
    """Everything a run reads, validated."""

    config: RunConfig
    grid: Grid
    regions: Regions
    land_fraction: np.ndarray | None
    sites: pd.DataFrame
    background: str | None        # the background site; None: modelled from boundary values
    table: pd.DataFrame
    inventory: Inventory
    truth: Inventory | None
    transport: Transport
    receptors: Receptors          # towers' observations, then the background site's hours
    background_row: np.ndarray    # each observation's row among the background hours

    def split(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-receptor ``values`` as (towers' rows, background hours' rows). A modelled
        background (boundary) has no receptors: one row of zeros stands for it, as it does
        not see the domain's fluxes."""
        n = len(self.table)
        if self.background is not None:
            return values[:n], values[n:]
        return values[:n], np.zeros((1,) + values.shape[1:])

    @property
    def n_hours(self) -> int:
        period = self.config.period
        return int((period.end - period.start).total_seconds() // 3600)


@dataclass
class Inversion:
    """One inversion set-up (for one inventory) and, once solved, its result."""

    inventory: Inventory
    layout: StateLayout
    priors: object
    prior_state: np.ndarray
    model: ObservationModel           # every tower observation
    used: np.ndarray                  # rows of the observations that enter the inversion
    errors: ObservationErrorModel     # of the used rows
    innovation: np.ndarray            # y − H x_b − offset of the used rows
    sensitivities: Sensitivities
    parameters: ErrorParameters | None = None
    estimates: dict = field(default_factory=dict)
    problem: InversionProblem | None = None
    result: object = None
    totals: TotalsLayout | None = None
    constant: np.ndarray | None = None
    innovation_covariance: np.ndarray | None = None   # S = H B Hᵀ + R, final parameters
    inventory_prior: dict | None = None   # prior σ without the sources the search added
    search: SearchResult | None = None
    candidates: np.ndarray | None = None   # (N, 2) metric positions of the searched cells


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
        self.seconds[stage] = round(self.seconds.get(stage, 0.0) + time.perf_counter() - start, 3)
        log.info("stage %s done in %.2f s", stage, time.perf_counter() - start)


# --------------------------------------------------------------------------- inputs


def read_domain(config: RunConfig) -> tuple[Grid, Regions, np.ndarray | None]:
    """The grid, the regions and the land fraction (None: all land)."""
    domain = config.domain
    grid = Grid.from_config(domain) if domain.grid_file is None else read_grid_file(domain.grid_file)
    if domain.regions is not None:
        regions = read_regions(domain.regions, grid)
    else:
        regions = read_city_and_districts(domain.city_boundary, domain.districts, grid)
    land = None if domain.land is None else read_land_fraction(domain.land, grid)
    return grid, regions, land


def read_inventory(spec, path, config, grid, land) -> Inventory | None:
    """An inventory from a config section (``spec``) or a prior.nc-like file (``path``)."""
    if spec is not None:
        return build_inventory(spec, grid, config.domain.utc_offset_hours, land)
    if path is not None:
        return inventory_from_file(path, grid, config.domain.utc_offset_hours)
    return None


def load_inputs(config: RunConfig) -> RunInputs:
    """Read and cross-check every input of a run (what ``cityflux validate`` does)."""
    grid, regions, land = read_domain(config)
    inputs = config.inputs
    sites = read_sites(inputs.sites)
    records = read_records(inputs.observations, sites.site)
    modelled = config.observations.background == BackgroundSource.BOUNDARY
    background = None if modelled else background_site(sites, config.observations.background_site,
                                                       str(inputs.sites))
    table = observation_table(records, tower_sites(sites), background, config.period.start,
                              config.period.end, config.domain.utc_offset_hours,
                              config.observations.local_hours, str(inputs.observations))
    inventory = read_inventory(config.inventory, inputs.prior_flux, config, grid, land)
    truth = read_inventory(config.truth, inputs.truth_flux, config, grid, land)
    start = np.datetime64(config.period.start, "ns")
    transport = make_transport(config, grid, sites)
    hours, background_row = np.unique(table.time.to_numpy(), return_inverse=True)
    if modelled:
        hours, background_row = hours[:0], np.zeros(len(table), np.int64)
    receptor_sites = np.concatenate([table.site.to_numpy(), np.full(hours.size, background)])
    site_info = sites.set_index("site").loc[receptor_sites]
    x, y = grid.to_metric(site_info.lon.to_numpy(), site_info.lat.to_numpy())
    receptor_times = np.concatenate([table.time.to_numpy(), hours])
    receptors = Receptors(receptor_sites.astype(str), np.asarray(x, float), np.asarray(y, float),
                          site_info.inlet_height_m.to_numpy(float),
                          ((receptor_times - start) // np.timedelta64(1, "h")).astype(np.int64))
    transport.check_coverage(int(receptors.hour.max()))
    return RunInputs(config, grid, regions, land, sites, background, table, inventory,
                     truth, transport, receptors, background_row)


# --------------------------------------------------------------------------- set-up


def sensitivities(inputs: RunInputs, points: PointSources, cache: ArtifactCache,
                  progress: bool = False) -> Sensitivities:
    """Surface footprints and stack sensitivities of every receptor (cached)."""
    transport, receptors = inputs.transport, inputs.receptors
    base = (transport.cache_parts(), receptors.x, receptors.y, receptors.height, receptors.hour)
    surface = map_receptors(transport.surface_footprints, receptors, transport.cache_parts(),
                            cache, inputs.config.transport.scheduler, progress=progress)
    is_tower = np.arange(len(receptors)) < len(inputs.table)
    stacks = stack_sources(points, inputs.grid) if len(points) else None
    point_tower = point_background = None
    if stacks is not None:
        values = cache.load_or_compute(
            "stacks", cache_key("stacks", *base, *_stack_key(stacks)),
            lambda: {"values": transport.point_sensitivities(stacks, receptors,
                                                             progress=progress)})["values"]
        point_tower, point_background = inputs.split(values)
    background = surface.subset(~is_tower)
    if inputs.background is None:
        background = Footprints(np.zeros(1, np.int64), *(np.zeros(0, np.int64),) * 3,
                                np.zeros(0), surface.n_cells)
    return Sensitivities(surface.subset(is_tower), background, inputs.background_row,
                         point_tower, point_background)


def _stack_key(stacks: StackSources) -> tuple:
    return (stacks.x_m, stacks.y_m, stacks.stack_height_m, stacks.buoyancy_flux_m4_s3,
            stacks.exit_velocity_m_s, stacks.exit_temperature_k, stacks.diameter_m)


def mismatch_labels(inputs: RunInputs, rows) -> np.ndarray:
    """The model-data mismatch group of the observations ``rows``."""
    observations = inputs.config.observations
    grouping = (observations.mismatch_groups
                if isinstance(observations.model_data_mismatch_ppm, Auto) else MismatchGroups.ALL)
    table = inputs.table.iloc[rows]
    sites = inputs.sites.set_index("site").loc[table.site]
    elevation = solar_elevation_deg(table.time.to_numpy() + np.timedelta64(30, "m"),
                                    sites.lat.to_numpy(), sites.lon.to_numpy())
    return mismatch_group_labels(table.site.to_numpy(), elevation > 0, grouping)


def plan_state(inputs: RunInputs, inventory: Inventory):
    """The hourly priors and the state layout of ``inventory`` (no transport needed: what
    ``cityflux validate`` checks of the state section)."""
    config = inputs.config
    sectors = block_sectors(config, inventory)
    priors = hourly_priors(config, inventory, sectors, inputs.n_hours)
    layout = build_layout(config, inputs.grid, inventory, priors, inputs.regions,
                          inputs.land_fraction, tower_sites(inputs.sites).site.tolist())
    return priors, layout


def check_output_dir(config: RunConfig) -> None:
    """A run replaces ``output.dir`` whole: refuse a path that holds anything but an earlier
    cityflux output (a data or config folder would be lost)."""
    path = Path(config.output.dir)
    if not path.exists():
        return
    where = f"{config.source_path}: 'output.dir'"
    if not path.is_dir():
        raise ConfigError(f"{where}: {path} is a file; expected a folder for the outputs")
    contents = [p.name for p in path.iterdir()]
    if contents and "diagnostics.json" not in contents:
        raise ConfigError(f"{where}: {path} holds other files ({', '.join(sorted(contents)[:3])}"
                          f"{', ...' if len(contents) > 3 else ''}) and is not an earlier "
                          "cityflux output; a run replaces its folder whole, so choose an "
                          "empty or new folder")


def set_up(inputs: RunInputs, inventory: Inventory, cache: ArtifactCache,
           progress: bool = False) -> Inversion:
    """State layout, prior and observation model for ``inventory``."""
    config = inputs.config
    priors, layout = plan_state(inputs, inventory)
    x_b = prior_state(layout, priors)
    sens = sensitivities(inputs, inventory.points, cache, progress)
    if inputs.background is None:   # modelled: the observation table gets it now
        if sens.tower.background is None:
            raise InputError("observations.background: boundary: the transport gave no "
                             "background values")
        inputs.table["background"] = sens.tower.background
    model = build_observation_model(layout, inputs.table.site.to_numpy(), sens, priors, x_b)
    used = np.flatnonzero(inputs.table.used.to_numpy())
    observations = config.observations
    errors = error_model(inputs.table.iloc[used], mismatch_labels(inputs, used),
                         observations.measurement_error_ppm,
                         observations.error_correlation_hours,
                         observations.background_error_ppm)
    table = inputs.table.iloc[used]
    innovation = ((table.observed - table.background).to_numpy() - model.offset[used]
                  - model.operator.matrix[used] @ x_b)
    return Inversion(inventory, layout, priors, x_b, model, used, errors, innovation, sens)


# --------------------------------------------------------------------------- errors


def free_parameters(config: RunConfig, inversion: Inversion) -> list:
    """The likelihood keys of every parameter the config sets to ``auto``."""
    free = []
    for block in inversion.layout.blocks:
        setting = getattr(block.settings, "error_scale", None)
        if setting is None:
            setting = block.settings.error_ppm
        if isinstance(setting, Auto):
            free.append(("block", block.name))
    if isinstance(config.observations.model_data_mismatch_ppm, Auto):
        free += [("mismatch", group) for group in inversion.errors.groups]
    return free


def estimate_errors(config: RunConfig, inversion: Inversion) -> None:
    """Fill ``inversion.parameters`` (config values, with ``auto`` ones estimated) and
    ``inversion.estimates`` (what maximum likelihood says, applied or not)."""
    layout = inversion.layout
    parameters = initial_error_parameters(layout, config.observations, inversion.errors.groups)
    H = inversion.model.subset(inversion.used).operator

    def start_values(params):
        values = {("block", k): v for k, v in params.block_scale.items()}
        values.update({("mismatch", k): v for k, v in params.mismatch_ppm.items()})
        return values

    def terms(lengths=None):
        return ml.LikelihoodTerms(inversion.innovation,
                                  ml.block_terms(layout, H, inversion.prior_state, parameters,
                                                 lengths),
                                  inversion.errors)

    free = free_parameters(config, inversion)
    auto_lengths = [b.name for b in layout.gridded
                    if isinstance(b.settings.correlation_length_km, Auto)]
    base_terms = terms()
    start = start_values(parameters)
    if auto_lengths:
        for name in auto_lengths:
            fit = ml.profile_length(lambda length: terms({name: length}), ml.LENGTHS_KM, start,
                                    free, name)
            parameters = parameters.with_values(length_km={name: fit.lengths[name]})
            inversion.estimates.setdefault("lengths", {})[name] = fit
        base_terms = terms()
    applied = ml.maximise(base_terms, start, free)
    scale = {key[1]: v for key, v in applied.values.items() if key[0] == "block"}
    mismatch = {key[1]: v for key, v in applied.values.items() if key[0] == "mismatch"}
    parameters = parameters.with_values(block_scale=scale, mismatch_ppm=mismatch)
    inversion.parameters = parameters
    inversion.innovation_covariance = ml.Likelihood(base_terms, start_values(parameters),
                                                    []).covariance([])
    inversion.estimates["applied"] = applied
    everything = [("block", b.name) for b in layout.blocks] + \
        [("mismatch", g) for g in inversion.errors.groups]
    inversion.estimates["all_free"] = ml.maximise(base_terms, start_values(parameters),
                                                  everything)


# --------------------------------------------------------------------------- solve


def solve(config: RunConfig, inputs: RunInputs, inversion: Inversion) -> None:
    """Solve the inversion under its error parameters; fill problem, result and totals."""
    layout, parameters, priors = inversion.layout, inversion.parameters, inversion.priors
    B = prior_covariance(layout, inversion.prior_state, parameters)
    R = inversion.errors.covariance(parameters.mismatch_ppm)
    point_rates = None if layout.points is None else priors.in_period(priors.points)
    totals = totals_layout(layout, inputs.regions, point_rates)
    W = scipy.sparse.vstack([totals.matrix, source_totals_matrix(layout)]).tocsr()
    T = total_flux_map(layout, point_rates)
    H = inversion.model.subset(inversion.used).operator
    problem = InversionProblem(inversion.prior_state, B, H, inversion.innovation + H.forward(
        inversion.prior_state), R, W, {"net_flux": T})
    inversion.problem = problem
    inversion.result = make_solver(config.solver.method).solve(problem)
    inversion.totals = totals
    inversion.constant = prior_constant(totals, layout, priors, inputs.regions, inputs.grid)
    inversion.inventory_prior = inventory_prior(layout, B, W, T)


# --------------------------------------------------------------------------- search


def search_missing_sources(config: RunConfig, inputs: RunInputs, inversion: Inversion,
                           cache: ArtifactCache, rng: np.random.Generator,
                           progress: bool = False) -> None:
    """Rank every candidate cell by the likelihood gain of one more point source there."""
    settings, grid = config.missing_sources, inputs.grid
    cells = np.arange(grid.size)
    if settings.land_only and inputs.land_fraction is not None:
        cells = np.flatnonzero(inputs.land_fraction.ravel() > 0)
    x, y = (np.asarray(a, float).ravel()[cells] for a in grid.metric_xy)
    candidates = StackSources.candidates(x, y, settings.release_height_m)
    transport, receptors = inputs.transport, inputs.receptors
    key = cache_key("candidates", transport.cache_parts(), receptors.x, receptors.y,
                    receptors.height, receptors.hour, x, y, settings.release_height_m)
    columns = cache.load_or_compute("candidates", key, lambda: {
        "values": transport.point_sensitivities(candidates, receptors, integrate=True,
                                                progress=progress)})["values"]
    tower, background = inputs.split(columns)
    difference = tower - background[inputs.background_row]
    difference = difference[inversion.used]
    inversion.search = search(inversion.innovation_covariance, inversion.innovation, difference, np.column_stack([x, y]),
                              settings.significance, settings.simulations, rng,
                              settings.max_new_sources, settings.exclusion_km * 1000.0)
    inversion.candidates = np.column_stack([x, y])


def with_detected_sources(inputs: RunInputs, inversion: Inversion) -> Inventory:
    """The inventory with the accepted candidates added as point sources of zero prior
    emission and a wide prior σ."""
    grid, points = inputs.grid, inversion.inventory.points
    accepted = inversion.search.accepted
    xy = inversion.candidates[[a["index"] for a in accepted]]
    lon, lat = _metric_to_lonlat(grid, xy[:, 0], xy[:, 1])
    n = len(accepted)
    height = inputs.config.missing_sources.release_height_m
    std = np.array([ACCEPTED_PRIOR_STD_FACTOR * abs(a["rate"]) for a in accepted])
    new = PointSources(
        name=np.array([f"detected_{i + 1}" for i in range(n)], dtype=object),
        lon=lon, lat=lat, stack_height_m=np.full(n, height),
        sector=np.full(n, "detected", dtype=object), rate_kg_s=np.zeros(n),
        uncertainty_fraction=np.full(n, np.nan), buoyancy_flux_m4_s3=np.full(n, np.nan),
        exit_velocity_m_s=np.full(n, np.nan), exit_temperature_k=np.full(n, np.nan),
        diameter_m=np.full(n, np.nan), profile=np.full(n, "detected", dtype=object),
        prior_std_kg_s=std)
    inventory = inversion.inventory
    return dataclasses.replace(inventory, points=PointSources.concatenate(
        [points, new], inventory.profiles, inventory.utc_offset_hours))


def _metric_to_lonlat(grid: Grid, x, y):
    import pyproj

    from .grid import WGS84

    to_geo = pyproj.Transformer.from_crs(grid.metric_crs, WGS84, always_xy=True)
    return to_geo.transform(np.asarray(x, float), np.asarray(y, float))


# --------------------------------------------------------------------------- run


def invert(config: RunConfig, inputs: RunInputs, inventory: Inventory, cache: ArtifactCache,
           rng: np.random.Generator, timer: StageTimer, progress: bool = False) -> Inversion:
    """Set up, estimate errors, solve and search, for one inventory."""
    with timer("set-up"):
        inversion = set_up(inputs, inventory, cache, progress)
    with timer("error estimation"):
        estimate_errors(config, inversion)
    with timer("solve"):
        solve(config, inputs, inversion)
    if config.missing_sources.search:
        with timer("source search"):
            search_missing_sources(config, inputs, inversion, cache, rng, progress)
    return inversion


def run(config: RunConfig, progress: bool = False) -> RunSummary:
    """Run the inversion a configuration describes and write its outputs."""
    from .outputs import write_outputs

    timer = StageTimer()
    with timer("inputs"):
        inputs = load_inputs(config)
        check_output_dir(config)
        plan_state(inputs, inputs.inventory)   # the state section's errors before any work
    cache = ArtifactCache(config.output.cache_dir)
    rng = np.random.default_rng(config.seed)
    inversion = invert(config, inputs, inputs.inventory, cache, rng, timer, progress)
    first = None
    if config.missing_sources.detect and inversion.search is not None and inversion.search.accepted:
        log.info("adding %d detected source(s) and inverting again",
                 len(inversion.search.accepted))
        first = inversion
        inversion = invert(config, inputs, with_detected_sources(inputs, inversion), cache, rng,
                           timer, progress)
    return write_outputs(inputs, inversion, timer, first_pass=first)
