"""Run configuration: one YAML file parsed once into frozen dataclasses.

Every key is declared below with its type, default, allowed range and a help text; the
loader walks the YAML against these declarations, so an unknown key, a wrong type, a value
out of range or a missing input file is reported with its dotted key (and, for a typo, the
key that was probably meant). Relative paths are resolved against the config file's folder.
The same declarations generate ``docs/configuration.md`` (``cityflux config-doc``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import enum
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import ConfigError, brief
from .transport.stability import DispersionScheme, StabilityMethod


class TransportModel(str, enum.Enum):
    """Transport models that can produce footprints."""

    GAUSSIAN_PLUME = "gaussian_plume"
    PARTICLES = "particles"
    IMPORTED = "imported"


class PlumeForm(str, enum.Enum):
    """How the Gaussian plume links emissions to a receptor."""

    TRAJECTORY = "trajectory"   # puffs along back trajectories through the hourly fields
    STEADY = "steady"           # one straight steady plume under the observation hour's met


class FootprintFormat(str, enum.Enum):
    """Layouts of imported footprint files."""

    STILT = "stilt"             # R-STILT / PYSTILT foot(time, lat, lon), one file per receptor
    NAME = "name"               # NAME / OpenGHG fp(lat, lon, time), one file per site


class SolverMethod(str, enum.Enum):
    """Inversion methods behind the common solver interface."""

    ANALYTICAL = "analytical"


class Auto(str, enum.Enum):
    """The value ``auto``: estimate this parameter from the data (maximum likelihood)."""

    AUTO = "auto"


class SectorKind(str, enum.Enum):
    """What a group of sectors is, for naming totals: fossil emissions, biospheric flux."""

    FOSSIL = "fossil"
    BIOSPHERE = "biosphere"
    OTHER = "other"


class PointResolution(str, enum.Enum):
    """Time resolution of point-source state elements."""

    FLUX_STEP = "flux_step"
    PERIOD = "period"


class OffsetSites(str, enum.Enum):
    """Which observations share one offset element."""

    EACH_SITE = "each_site"
    ALL_SITES = "all_sites"


class BackgroundSource(str, enum.Enum):
    """Where the observations' background comes from."""

    SITE = "site"            # the background site's observation at the same hour
    BOUNDARY = "boundary"    # particle exits x inputs.boundary_conditions


class MismatchGroups(str, enum.Enum):
    """How the model-data mismatch is grouped when it is estimated (``auto``)."""

    SITE = "site"
    SITE_DAY_NIGHT = "site_day_night"
    ALL = "all"


def _key(help: str, default=dataclasses.MISSING, *, min=None, max=None, above=None,
         must_exist=False, glob=False):
    """Declare a config key: its help text, default and checks (``above``: strictly greater;
    ``glob``: a list of paths whose items may be glob patterns, each matching a file)."""
    meta = {"help": help, "min": min, "max": max, "above": above, "must_exist": must_exist,
            "glob": glob}
    if isinstance(default, type) and dataclasses.is_dataclass(default):
        # a section whose keys all take their defaults when it is left out
        return field(default_factory=default, metadata={**meta, "section": True})
    if default is dataclasses.MISSING:
        return field(metadata=meta)
    if isinstance(default, list):
        return field(default_factory=lambda: tuple(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True, kw_only=True)
class AxisConfig:
    """A regular grid axis: cell edges from ``start`` to ``stop`` every ``step``."""

    start: float = _key("first cell edge, in grid CRS units (m, or degrees east/north)",
                        min=-2.1e7, max=2.1e7)
    stop: float = _key("last cell edge, in grid CRS units", min=-2.1e7, max=2.1e7)
    step: float = _key("cell size, in grid CRS units", above=0.0, max=1e6)


@dataclass(frozen=True, kw_only=True)
class DomainConfig:
    """The inversion grid and its regions."""

    crs: typing.Optional[str] = _key("grid coordinate reference system: 'EPSG:4326' for a "
                                     "lat/lon grid, or a projected CRS in metres (EPSG code or "
                                     "PROJ string); null: EPSG:4326 (with grid_file: the "
                                     "file's grid mapping)", None)
    x: typing.Optional[AxisConfig] = _key("x axis (easting in m, or longitude in degrees); "
                                          "or give grid_file", None)
    y: typing.Optional[AxisConfig] = _key("y axis (northing in m, or latitude in degrees); "
                                          "or give grid_file", None)
    grid_file: typing.Optional[Path] = _key("CF NetCDF file defining the grid (cell centres, "
                                            "optional bounds, cell_area and grid mapping), "
                                            "instead of crs/x/y", None, must_exist=True)
    regions: typing.Optional[Path] = _key("GeoJSON file (lon/lat) with one feature of "
                                          "property type 'city' and optional features of type "
                                          "'district', each with a 'name'; or give "
                                          "city_boundary (and districts)", None,
                                          must_exist=True)
    city_boundary: typing.Optional[Path] = _key("GeoJSON file (lon/lat) whose features form "
                                                "the city boundary (instead of regions)", None,
                                                must_exist=True)
    districts: typing.Optional[Path] = _key("GeoJSON file (lon/lat) of districts, one feature "
                                            "each with a 'name' property (with city_boundary)",
                                            None, must_exist=True)
    land: typing.Optional[Path] = _key("GeoJSON file (lon/lat) of land polygons, for masks "
                                       "that exclude the sea (default: all cells are land)",
                                       None, must_exist=True)
    utc_offset_hours: float = _key("local time minus UTC, in hours (selects local hours and "
                                   "places sector time profiles; required because a wrong "
                                   "value silently changes which hours are inverted)",
                                   min=-12.0, max=14.0)


@dataclass(frozen=True, kw_only=True)
class PeriodConfig:
    """The inversion period and the time resolution of the fluxes solved for."""

    start: dt.datetime = _key("first hour of the period, UTC (ISO 8601)")
    end: dt.datetime = _key("end of the period (exclusive), UTC (ISO 8601)")
    flux_time_step_hours: int = _key("length of one flux time step, in hours: the default "
                                     "step of the state blocks and the step of reported "
                                     "totals; must divide the period", 6, min=1, max=8784)


@dataclass(frozen=True, kw_only=True)
class InputsConfig:
    """Input files."""

    prior_flux: typing.Optional[Path] = _key("prior file instead of an inventory section: a "
                                             "prior.nc written by 'cityflux prior', or a NetCDF "
                                             "with variable 'flux' (time, [sector,] y, x) on the "
                                             "domain grid", None, must_exist=True)
    meteorology: typing.Optional[Path] = _key(
        "meteorology NetCDF with CF standard names: one column (time only) or fields on a "
        "lat/lon or projected grid (see docs/formats.md); not needed with imported "
        "footprints", None, must_exist=True)
    sites: Path = _key("CSV of sites: site,lat,lon,inlet_height_m,role (name optional)",
                       must_exist=True)
    observations: Path = _key("CSV of hourly mean observations: time,site,co2_ppm (optional "
                              "co2_ppm_uncertainty)", must_exist=True)
    truth_flux: typing.Optional[Path] = _key("optional 'true' flux (synthetic cases only, to "
                                             "score the posterior): a prior.nc or flux NetCDF; "
                                             "or give a truth section", None, must_exist=True)
    boundary_conditions: typing.Optional[Path] = _key(
        "CO2 boundary conditions for observations.background: boundary: edge curtains "
        "vmr_n/e/s/w (OpenGHG/NAME) or a CO2 field on lat, lon (see docs/formats.md)", None,
        must_exist=True)


@dataclass(frozen=True, kw_only=True)
class PointSourcesInput:
    """A CSV of point sources (see docs/formats.md)."""

    file: Path = _key("CSV: name,lon,lat,stack_height_m,sector,emission,emission_units and "
                      "optional uncertainty_percent, buoyancy_flux_m4_s3, exit_velocity_m_s, "
                      "exit_temperature_k, stack_diameter_m, profile", must_exist=True)
    stack_min_height_m: float = _key("sources with a lower stack are added to their sector's "
                                     "gridded flux instead of being stacks with their own "
                                     "plume and state elements", 0.0, min=0.0, max=1000.0)


@dataclass(frozen=True, kw_only=True)
class LineSourcesInput:
    """A GeoJSON of line sources such as roads (see docs/formats.md)."""

    file: Path = _key("GeoJSON (lon/lat) of LineString features with properties sector and "
                      "emission_per_km or emission, and units", must_exist=True)


@dataclass(frozen=True, kw_only=True)
class AreaSourcesInput:
    """A GeoJSON of area sources whose totals are spread by a proxy (see docs/formats.md)."""

    file: Path = _key("GeoJSON (lon/lat) of Polygon features with properties sector, "
                      "emission and units", must_exist=True)
    proxy: typing.Optional[Path] = _key("NetCDF raster of non-negative weights (e.g. "
                                        "population) spreading each total; null: uniformly "
                                        "over the polygon's land", None, must_exist=True)
    proxy_variable: str = _key("variable of the proxy file", "proxy")


@dataclass(frozen=True, kw_only=True)
class GriddedInput:
    """An external gridded inventory or flux (NetCDF), regridded by exact area overlap."""

    file: Path = _key("NetCDF with a flux density (e.g. kg m-2 s-1) or a per-cell rate "
                      "(e.g. t yr-1) on any regular grid, with a 'time' axis or static",
                      must_exist=True)
    variable: str = _key("variable name", "flux")
    sector: str = _key("sector name of this flux")


@dataclass(frozen=True, kw_only=True)
class InventoryConfig:
    """A prior (or truth) built from sources: what 'cityflux prior' writes to prior.nc."""

    point_sources: typing.Optional[PointSourcesInput] = _key("point sources", None)
    line_sources: tuple[LineSourcesInput, ...] = _key("line-source files", [])
    area_sources: tuple[AreaSourcesInput, ...] = _key("area-source files", [])
    gridded: tuple[GriddedInput, ...] = _key("gridded inventories and fluxes", [])
    profiles: typing.Optional[Path] = _key("CSV of sector temporal profiles (sector,cycle,"
                                           "index,factor); null: built-in defaults", None,
                                           must_exist=True)


@dataclass(frozen=True, kw_only=True)
class ParticlesConfig:
    """The backward Lagrangian particle model (``transport.model: particles``)."""

    n_particles: int = _key("particles released per receptor", 500, min=10, max=100000)
    step_fraction: float = _key("time step as a fraction of the Lagrangian time scale at the "
                                "particle", 0.1, above=0.0, max=1.0)
    max_step_s: float = _key("longest time step, s", 60.0, min=1.0, max=600.0)
    hyper_near_field: bool = _key("STILT's near-field correction of the dilution depth", True)
    smooth_factor: float = _key("Gaussian smoothing of each hour back, as a fraction of the "
                                "distance the air travelled (0: off)", 0.0, min=0.0, max=10.0)
    stack_layer_m: float = _key("depth of the layer about a stack's effective height in which "
                                "particles take up its emission, m", 50.0, min=5.0, max=1000.0)


@dataclass(frozen=True, kw_only=True)
class FootprintFilesConfig:
    """Footprints made elsewhere (``transport.model: imported``), see docs/transport.md."""

    format: FootprintFormat = _key("stilt: R-STILT / PYSTILT foot files, one per receptor; "
                                   "name: NAME / OpenGHG fp files, one per site")
    files: tuple[Path, ...] = _key("the files: paths or glob patterns (e.g. "
                                   "'footprints/*_foot.nc'), relative to the config file",
                                   glob=True)
    site: typing.Optional[str] = _key("site id the files belong to; null: from each file (a "
                                      "NAME file's site attribute, or the STILT receptor "
                                      "matched to the nearest site)", None)
    use_hires: bool = _key("NAME: use fp_HiTRes (hourly emission times) when the file has "
                           "it", True)


@dataclass(frozen=True, kw_only=True)
class TransportConfig:
    """How footprints are computed."""

    model: TransportModel = _key("transport model: gaussian_plume, particles (backward "
                                 "Lagrangian) or imported (footprint files)",
                                 TransportModel.GAUSSIAN_PLUME)
    plume_form: PlumeForm = _key("gaussian_plume: 'trajectory' (puffs carried along back "
                                 "trajectories through the hourly fields) or 'steady' (one "
                                 "straight plume under the observation hour's meteorology; "
                                 "needs a one-column meteorology file)", PlumeForm.STEADY)
    dispersion: DispersionScheme = _key("plume width formulas: 'briggs_urban' (urban terrain) "
                                        "or 'pasquill_gifford' (ISC3 open country)",
                                        DispersionScheme.BRIGGS_URBAN)
    stability: StabilityMethod = _key("how stability classes are found: from the Obukhov "
                                      "length or from wind speed and solar radiation",
                                      StabilityMethod.OBUKHOV_LENGTH)
    roughness_length_m: float = _key("surface roughness length, m (used with obukhov_length, "
                                     "and where the meteorology gives none)", 1.0, min=1e-4,
                                     max=5.0)
    hours_back: int = _key("how far back in time a footprint reaches, hours", 24, min=1,
                           max=240)
    min_wind_speed_m_s: float = _key("wind speed floor for the plume, m s-1", 1.0, min=0.1,
                                     max=10.0)
    source_height_m: float = _key("release height of gridded fluxes, m above ground", 10.0,
                                  min=0.0, max=500.0)
    plume_rise: bool = _key("Briggs plume rise for stack sources with buoyancy or exit "
                            "data", True)
    near_field_subcells: int = _key("sub-cells per side used to integrate cells close to a "
                                    "receptor", 6, min=1, max=32)
    particles: ParticlesConfig = _key("particle model settings", ParticlesConfig)
    footprint_files: tuple[FootprintFilesConfig, ...] = _key("imported footprint files", [])
    stacks_as_surface: bool = _key("imported: model stack sources as surface sources in their "
                                   "cell (imported footprints carry no stack plumes)", False)
    scheduler: typing.Optional[str] = _key("where receptors are computed: null or 'threads' "
                                           "(this process), 'threads:N', 'synchronous', "
                                           "'local:N' (a dask LocalCluster of N processes) or "
                                           "a dask scheduler address 'tcp://host:port'", None)


@dataclass(frozen=True, kw_only=True)
class MaskConfig:
    """Where a gridded block's flux may differ from the prior (all conditions must hold)."""

    land_only: bool = _key("only land cells (domain.land)", False)
    emitting_only: bool = _key("only cells where the block's prior is non-zero", False)
    region: typing.Optional[str] = _key("only cells overlapping this region (e.g. city)", None)


@dataclass(frozen=True, kw_only=True)
class GriddedBlockConfig:
    """A gridded flux block: one group of sectors, B = D (C_time ⊗ C_y ⊗ C_x) D on its mask."""

    name: str = _key("block name (e.g. fossil, biosphere)")
    kind: SectorKind = _key("fossil | biosphere | other: how its totals are named",
                            SectorKind.OTHER)
    sectors: tuple[str, ...] = _key("inventory sectors in this block; empty: every sector no "
                                    "other block claims", [])
    mask: MaskConfig = _key("where the block can change the prior", MaskConfig)
    flux_time_step_hours: typing.Optional[int] = _key("flux time step of this block, hours "
                                                      "(a multiple of period."
                                                      "flux_time_step_hours); null: the "
                                                      "period's", None, min=1, max=8784)
    relative_error: float = _key("prior error standard deviation as a fraction of |prior "
                                 "flux|", 0.5, min=0.0, max=10.0)
    floor_umol_m2_s: float = _key("minimum prior error standard deviation, umol m-2 s-1",
                                  0.5, min=1e-6, max=1e4)
    error_scale: typing.Union[float, Auto] = _key("factor on every σ of the block; auto: "
                                                  "estimated from the data", 1.0, min=1e-3,
                                                  max=1e3)
    correlation_length_km: typing.Union[float, Auto] = _key(
        "e-folding length of the exponential spatial correlation, km (0 = uncorrelated; "
        "auto: estimated from the data)", 5.0, min=0.0, max=1000.0)
    correlation_time_hours: float = _key("e-folding time of the exponential temporal "
                                         "correlation, hours (0 = uncorrelated)", 24.0,
                                         min=0.0, max=8784.0)


@dataclass(frozen=True, kw_only=True)
class PointBlockConfig:
    """The point-source block: every stack source's emission rate (kg s-1)."""

    resolution: PointResolution = _key("flux_step: one element per source and time step; "
                                       "period: one per source (its time profile kept)",
                                       PointResolution.FLUX_STEP)
    flux_time_step_hours: typing.Optional[int] = _key("time step with resolution flux_step "
                                                      "(a multiple of period."
                                                      "flux_time_step_hours); null: the "
                                                      "period's", None, min=1, max=8784)
    relative_error: float = _key("prior error σ as a fraction of the emission, for sources "
                                 "without a stated uncertainty", 0.3, min=0.0, max=10.0)
    use_stated_uncertainty: bool = _key("use each source's uncertainty_percent when given",
                                        True)
    floor_kg_s: float = _key("minimum prior error σ, kg s-1", 0.1, min=1e-6, max=1e5)
    error_scale: typing.Union[float, Auto] = _key("factor on every σ of the block; auto: "
                                                  "estimated from the data", 1.0, min=1e-3,
                                                  max=1e3)
    correlation_time_hours: float = _key("e-folding time of the temporal correlation of a "
                                         "source's errors, hours", 168.0, min=0.0, max=8784.0)


@dataclass(frozen=True, kw_only=True)
class OffsetBlockConfig:
    """An offset block: a bias (ppm) of the tower-minus-background differences."""

    name: str = _key("block name (e.g. background)")
    sites: OffsetSites = _key("each_site: one offset per tower; all_sites: one shared",
                              OffsetSites.EACH_SITE)
    time_step_hours: int = _key("hours per offset element (must divide the period)", 24,
                                min=1, max=8784)
    error_ppm: typing.Union[float, Auto] = _key("prior σ of each offset, ppm (auto: "
                                                "estimated)", 1.0, min=1e-3, max=100.0)
    correlation_time_hours: float = _key("e-folding time of the correlation between "
                                         "consecutive offsets, hours", 0.0, min=0.0,
                                         max=8784.0)


@dataclass(frozen=True, kw_only=True)
class StateConfig:
    """The state vector: named blocks, each with its prior error covariance."""

    gridded: tuple[GriddedBlockConfig, ...] = _key("gridded flux blocks; empty: one block "
                                                   "'flux' with every sector and default "
                                                   "errors", [])
    point_sources: PointBlockConfig = _key("the point-source block (used when the prior has "
                                           "stack sources)", PointBlockConfig)
    offsets: tuple[OffsetBlockConfig, ...] = _key("offset blocks", [])


@dataclass(frozen=True, kw_only=True)
class ObservationsConfig:
    """Which observations are used and their error statistics (R)."""

    local_hours: tuple[int, ...] = _key("local hours of day (0-23, hour starting) whose "
                                        "observations enter the inversion",
                                        [12, 13, 14, 15, 16])
    background: BackgroundSource = _key(
        "the background subtracted from the towers: site (the background site's observation "
        "at the same hour; the model subtracts its footprint too) or boundary (each "
        "observation's particles' exits x inputs.boundary_conditions; particles or imported "
        "NAME footprints)",
        BackgroundSource.SITE)
    background_site: typing.Optional[str] = _key("site id of the background site; default: "
                                                 "the one site with role 'background'", None)
    measurement_error_ppm: float = _key("measurement error standard deviation, ppm (rows "
                                        "with a co2_ppm_uncertainty value use it instead); "
                                        "never zero: it keeps R positive definite", 0.2,
                                        above=0.0, max=100.0)
    model_data_mismatch_ppm: typing.Union[float, Auto] = _key(
        "model-data mismatch standard deviation, ppm; auto: estimated per group from the data",
        2.0, min=0.0, max=100.0)
    mismatch_groups: MismatchGroups = _key("groups with their own estimated mismatch: site, "
                                           "site_day_night or all", MismatchGroups.SITE)
    background_error_ppm: float = _key("background error standard deviation, ppm", 0.5,
                                       min=0.0, max=100.0)
    error_correlation_hours: float = _key("e-folding time of the exponential correlation of "
                                          "errors of one site's consecutive observations, "
                                          "hours (0 = independent errors)", 0.0, min=0.0,
                                          max=720.0)


@dataclass(frozen=True, kw_only=True)
class SolverConfig:
    """The inversion method."""

    method: SolverMethod = _key("solver", SolverMethod.ANALYTICAL)


@dataclass(frozen=True, kw_only=True)
class MissingSourcesConfig:
    """Search for point sources missing from the prior (likelihood-ratio test per cell)."""

    search: bool = _key("rank every candidate cell by the likelihood gain of one more "
                        "point source there", True)
    detect: bool = _key("add the significant candidates to the state as point sources and "
                        "redo the inversion", False)
    release_height_m: float = _key("release height of a candidate source, m", 50.0, min=0.0,
                                   max=1000.0)
    land_only: bool = _key("candidates on land cells only", True)
    significance: float = _key("family-wise false-alarm probability of the test over all "
                               "candidates", 0.01, above=0.0, max=0.5)
    simulations: int = _key("Monte Carlo draws of the innovations under the null hypothesis "
                            "that calibrate the threshold (random numbers from seed)", 2000,
                            min=100, max=100000)
    max_new_sources: int = _key("most sources added with detect", 3, min=1, max=50)
    exclusion_km: float = _key("candidates closer than this to an accepted one are skipped",
                               3.0, min=0.0, max=100.0)


@dataclass(frozen=True, kw_only=True)
class OutputConfig:
    """Where and what to write."""

    dir: Path = _key("output directory (replaced as a whole when the run succeeds)")
    plots: bool = _key("write figures into <dir>/plots", True)
    footprints: bool = _key("write footprints.nc (footprint of every observation)", True)
    cache_dir: typing.Optional[Path] = _key("folder for cached footprints, keyed by everything "
                                            "they depend on (null: no cache)", None)


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """A whole run."""

    name: str = _key("short name of the run, used in titles")
    seed: int = _key("seed of the random number generator (Monte Carlo thresholds, "
                     "sampling)", 0, min=0, max=2**63 - 1)
    domain: DomainConfig = _key("grid and regions")
    period: PeriodConfig = _key("period and flux time step")
    inputs: InputsConfig = _key("input files")
    inventory: typing.Optional[InventoryConfig] = _key("the prior built from sources (or "
                                                       "give inputs.prior_flux)", None)
    truth: typing.Optional[InventoryConfig] = _key("the true sources of a synthetic case "
                                                   "(scoring only; or inputs.truth_flux)",
                                                   None)
    transport: TransportConfig = _key("footprint model settings", TransportConfig)
    state: StateConfig = _key("state blocks and prior errors", StateConfig)
    observations: ObservationsConfig = _key("observation selection and errors",
                                            ObservationsConfig)
    solver: SolverConfig = _key("solver settings", SolverConfig)
    missing_sources: MissingSourcesConfig = _key("missing-source search", MissingSourcesConfig)
    output: OutputConfig = _key("outputs")
    # Not keys: filled by the loader.
    source_path: Path = field(default=Path("."), metadata={"internal": True})
    source_text: str = field(default="", metadata={"internal": True})


# --------------------------------------------------------------------------- loading


def load_config(path: str | Path, overrides: typing.Sequence[str] = ()) -> RunConfig:
    """Read, override and validate a run configuration.

    Parameters
    ----------
    path : str or Path
        The YAML file.
    overrides : sequence of str
        ``dotted.key=value`` strings applied on top of the file (values parsed as YAML).

    Raises
    ------
    ConfigError
        With the file and dotted key at fault.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} not found")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a UTF-8 text file (byte {exc.start}: "
                          f"{exc.reason}); expected a YAML configuration") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {brief(exc)}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or brief(exc)
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level")
    for item in overrides:
        _apply_override(raw, item, path)
    if overrides:
        text += "\n# --set overrides:\n" + "".join(f"#   {o}\n" for o in overrides)
    config = _build(RunConfig, raw, "", path.parent.resolve(), str(path))
    config = dataclasses.replace(config, source_path=path.resolve(), source_text=text)
    _check_consistency(config, str(path))
    return config


_INDEXED = re.compile(r"^(?P<name>[^\[\]]+)\[(?P<index>\d+)\]$")


def _apply_override(raw: dict, item: str, path: Path) -> None:
    """Apply ``dotted.key=value``; a key may index a list of sections: ``state.gridded[0].x``."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected dotted.key=value")
    dotted, value_text = item.split("=", 1)
    keys = dotted.strip().split(".")
    try:
        value = yaml.safe_load(value_text)
    except yaml.YAMLError:
        raise ConfigError(f"--set {dotted}: value {value_text!r} is not valid YAML") from None
    node = raw
    for depth, key in enumerate(keys):
        last = depth == len(keys) - 1
        where = ".".join(keys[: depth + 1])
        match = _INDEXED.match(key)
        if match:
            items = node.get(match["name"]) if isinstance(node, dict) else None
            index = int(match["index"])
            if not isinstance(items, list) or index >= len(items):
                count = len(items) if isinstance(items, list) else 0
                raise ConfigError(f"--set {dotted}: {where} does not exist (the config lists "
                                  f"{count} item(s) under {match['name']!r})")
            if last:
                items[index] = value
                return
            node = items[index]
        elif last:
            node[key] = value
            return
        else:
            node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {dotted}: {where} is a value, not a section")


def _fields(cls) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(cls) if not f.metadata.get("internal")]


def _build(cls, raw, prefix: str, base: Path, source: str):
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: {prefix.rstrip('.') or 'top level'} must be a section "
                          f"of keys, got {raw!r}")
    known = {f.name: f for f in _fields(cls)}
    for key in raw:
        if key not in known:
            guess = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            hint = f"; did you mean '{prefix}{guess[0]}'?" if guess else ""
            raise ConfigError(f"{source}: unknown key '{prefix}{key}'{hint} "
                              f"(allowed here: {', '.join(known)})")
    hints = typing.get_type_hints(cls)
    values = {}
    for name, f in known.items():
        dotted = prefix + name
        if name not in raw:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{source}: missing required key '{dotted}' ({f.metadata['help']})")
            continue
        values[name] = _convert(hints[name], raw[name], dotted, f.metadata, base, source)
    return cls(**values)


def _convert(hint, value, dotted: str, meta, base: Path, source: str):
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        members = typing.get_args(hint)
        if value is None:
            if type(None) in members:
                return None
            raise ConfigError(f"{source}: '{dotted}' must have a value, got null")
        choices = [a for a in members if a is not type(None)]
        for member in choices:  # a word such as 'auto' beside a number
            if isinstance(member, type) and issubclass(member, enum.Enum) and \
                    value in {m.value for m in member}:
                return member(value)
        plain = [a for a in choices if not (isinstance(a, type) and issubclass(a, enum.Enum))]
        try:
            return _convert(plain[0], value, dotted, meta, base, source)
        except ConfigError:
            if len(plain) == len(choices):
                raise
            words = " or ".join(repr(m.value) for a in choices if a not in plain for m in a)
            kind = {float: "number", int: "integer"}.get(plain[0], _type_text(plain[0]))
            raise ConfigError(f"{source}: '{dotted}' must be a {kind} "
                              f"{_limits_text(meta).strip()} or {words}, got {value!r}") from None
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, dotted + ".", base, source)
    if meta.get("glob"):
        return _expand_paths(value, dotted, base, source)
    if origin is tuple:
        item_type = typing.get_args(hint)[0]
        if not isinstance(value, list):
            raise ConfigError(f"{source}: '{dotted}' must be a list, got {value!r}")
        return tuple(_convert(item_type, v, f"{dotted}[{i}]", meta, base, source)
                     for i, v in enumerate(value))
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(value)
        except ValueError:
            allowed = ", ".join(repr(m.value) for m in hint)
            guess = difflib.get_close_matches(str(value), [m.value for m in hint], n=1)
            hint_text = f"; did you mean {guess[0]!r}?" if guess else ""
            raise ConfigError(f"{source}: '{dotted}' = {value!r} is not allowed; "
                              f"expected one of {allowed}{hint_text}") from None
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: '{dotted}' must be true or false, got {value!r}")
        return value
    if hint is float and isinstance(value, str) and _EXPONENT_NUMBER.fullmatch(value.strip()):
        value = float(value)  # YAML 1.1 reads 1e-6 (no dot) as text
    if hint in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                hint is int and not isinstance(value, int)):
            raise ConfigError(f"{source}: '{dotted}' must be a{'n integer' if hint is int else ' number'}"
                              f", got {value!r}")
        value = hint(value)
        if value != value:  # NaN
            raise ConfigError(f"{source}: '{dotted}' must be a number, got NaN")
        low, high, above = meta.get("min"), meta.get("max"), meta.get("above")
        if (low is not None and value < low) or (high is not None and value > high):
            raise ConfigError(f"{source}: '{dotted}' = {value} is out of range; expected "
                              f"{_range_text(low, high)}")
        if above is not None and value <= above:
            raise ConfigError(f"{source}: '{dotted}' = {value} is out of range; expected "
                              f"> {above}")
        return value
    if hint is str:
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{source}: '{dotted}' must be a non-empty text, got {value!r}")
        return value
    if hint is dt.datetime:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            value = dt.datetime(value.year, value.month, value.day)
        elif isinstance(value, str):
            try:
                value = dt.datetime.fromisoformat(value)
            except ValueError:
                raise ConfigError(f"{source}: '{dotted}' = {value!r} is not an ISO 8601 date "
                                  "and time such as 2025-07-01T00:00") from None
        if not isinstance(value, dt.datetime):
            raise ConfigError(f"{source}: '{dotted}' must be a date and time, got {value!r}")
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value
    if hint is Path:
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{source}: '{dotted}' must be a path, got {value!r}")
        resolved = (base / value).resolve()
        if meta.get("must_exist") and not resolved.is_file():
            raise ConfigError(f"{source}: '{dotted}': file {resolved} not found")
        return resolved
    raise TypeError(f"no converter for {hint!r} at {dotted}")  # a bug in the schema


def _expand_paths(value, dotted: str, base: Path, source: str) -> tuple[Path, ...]:
    """A path, a glob pattern or a list of them, as the sorted files they name."""
    items = value if isinstance(value, list) else [value]
    paths = []
    for i, item in enumerate(items):
        where = f"{dotted}[{i}]" if isinstance(value, list) else dotted
        if not isinstance(item, str) or not item.strip():
            raise ConfigError(f"{source}: '{where}' must be a path or a glob pattern, "
                              f"got {item!r}")
        pattern = Path(item)
        root = Path(pattern.anchor) if pattern.is_absolute() else base
        relative = str(pattern.relative_to(pattern.anchor)) if pattern.is_absolute() else item
        matches = sorted(p.resolve() for p in root.glob(relative) if p.is_file()) \
            if any(c in item for c in "*?[") else [(base / item).resolve()]
        if not matches or not matches[0].is_file():
            raise ConfigError(f"{source}: '{where}': no file matches {(root / relative)}")
        paths.extend(matches)
    return tuple(dict.fromkeys(paths))


_EXPONENT_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+")


def _range_text(low, high) -> str:
    if low is not None and high is not None:
        return f"between {low} and {high}"
    return f">= {low}" if low is not None else f"<= {high}"


def _check_consistency(config: RunConfig, source: str) -> None:
    """Checks that involve more than one key."""
    _check_domain(config.domain, source)
    _check_period_and_blocks(config, source)
    if (config.inventory is None) == (config.inputs.prior_flux is None):
        raise ConfigError(f"{source}: give exactly one prior: an 'inventory' section (sources) "
                          "or 'inputs.prior_flux' (a prior.nc or flux file)")
    if config.truth is not None and config.inputs.truth_flux is not None:
        raise ConfigError(f"{source}: give the truth either as a 'truth' section or as "
                          "'inputs.truth_flux', not both")
    _check_transport(config, source)
    for i, hour in enumerate(config.observations.local_hours):
        if not 0 <= hour <= 23:
            raise ConfigError(f"{source}: 'observations.local_hours[{i}]' = {hour} is out of "
                              "range; expected between 0 and 23")


def _check_transport(config: RunConfig, source: str) -> None:
    transport = config.transport
    imported = transport.model == TransportModel.IMPORTED
    if config.inputs.meteorology is None and not imported:
        raise ConfigError(f"{source}: missing 'inputs.meteorology': the "
                          f"{transport.model.value} transport needs a meteorology file")
    if imported and not transport.footprint_files:
        raise ConfigError(f"{source}: 'transport.model' is 'imported' but "
                          "'transport.footprint_files' lists no files")
    if transport.footprint_files and not imported:
        raise ConfigError(f"{source}: 'transport.footprint_files' is only read with "
                          f"'transport.model: imported' (the model is "
                          f"'{transport.model.value}')")
    boundary = config.observations.background == BackgroundSource.BOUNDARY
    names = [f.format == FootprintFormat.NAME for f in transport.footprint_files]
    if boundary and not (transport.model == TransportModel.PARTICLES or
                         (imported and names and all(names))):
        raise ConfigError(f"{source}: 'observations.background: boundary' needs "
                          "'transport.model: particles' or imported NAME footprints (the "
                          f"model is '{transport.model.value}'): the background comes from "
                          "where the particles left the domain")
    if boundary and config.inputs.boundary_conditions is None:
        raise ConfigError(f"{source}: 'observations.background: boundary' needs "
                          "'inputs.boundary_conditions' (a boundary-condition NetCDF)")
    if config.inputs.boundary_conditions is not None and not boundary:
        raise ConfigError(f"{source}: 'inputs.boundary_conditions' is only read with "
                          "'observations.background: boundary'")
    if transport.scheduler is not None:
        from .transport.parallel import check_scheduler

        check_scheduler(transport.scheduler, f"{source}: 'transport.scheduler'")


def _check_domain(domain: DomainConfig, source: str) -> None:
    axes = domain.x is not None and domain.y is not None
    if axes == (domain.grid_file is not None) or (domain.x is None) != (domain.y is None):
        raise ConfigError(f"{source}: define the grid either with 'domain.x' and 'domain.y' "
                          "or with 'domain.grid_file'")
    if domain.grid_file is not None and domain.crs is not None:
        raise ConfigError(f"{source}: 'domain.crs' cannot be combined with 'domain.grid_file': "
                          "the grid file's grid mapping gives the CRS")
    for name in ("x", "y") if axes else ():
        axis = getattr(domain, name)
        if axis.stop <= axis.start:
            raise ConfigError(f"{source}: 'domain.{name}.stop' ({axis.stop}) must be greater "
                              f"than 'domain.{name}.start' ({axis.start})")
        cells = (axis.stop - axis.start) / axis.step
        if cells < 1 - 1e-9:
            raise ConfigError(f"{source}: 'domain.{name}.step' ({axis.step}) is larger than the "
                              f"domain ({axis.stop - axis.start}); the grid would have no cells")
        if abs(cells - round(cells)) > 1e-6:
            raise ConfigError(f"{source}: 'domain.{name}.step' ({axis.step}) must divide "
                              f"stop - start ({axis.stop - axis.start}) into whole cells")
        if cells > 5000:
            raise ConfigError(f"{source}: 'domain.{name}' has {cells:.0f} cells; at most 5000 "
                              "per axis are supported")
    if (domain.regions is None) == (domain.city_boundary is None):
        raise ConfigError(f"{source}: give the regions either as 'domain.regions' (one file "
                          "with city and district features) or as 'domain.city_boundary' "
                          "(and optionally 'domain.districts')")
    if domain.districts is not None and domain.city_boundary is None:
        raise ConfigError(f"{source}: 'domain.districts' needs 'domain.city_boundary'")


def _check_period_and_blocks(config: RunConfig, source: str) -> None:
    period = config.period
    hours = (period.end - period.start).total_seconds() / 3600.0
    if hours <= 0:
        raise ConfigError(f"{source}: 'period.end' ({period.end}) must be after "
                          f"'period.start' ({period.start})")
    if hours != int(hours) or int(hours) % period.flux_time_step_hours:
        raise ConfigError(f"{source}: 'period.flux_time_step_hours' "
                          f"({period.flux_time_step_hours}) must divide the period "
                          f"({hours:g} hours) into whole steps")
    if hours > 8784:
        raise ConfigError(f"{source}: the period lasts {hours:g} hours; at most one year "
                          "(8784 hours) per run is supported")
    state = config.state
    steps = [(f"state.gridded[{i}].flux_time_step_hours", block.flux_time_step_hours)
             for i, block in enumerate(state.gridded)]
    steps.append(("state.point_sources.flux_time_step_hours",
                  state.point_sources.flux_time_step_hours))
    for dotted, step in steps:
        if step is not None and (step % period.flux_time_step_hours or int(hours) % step):
            raise ConfigError(f"{source}: '{dotted}' ({step}) must be a multiple of "
                              f"'period.flux_time_step_hours' ({period.flux_time_step_hours}) "
                              f"and divide the period ({hours:g} hours)")
    for i, block in enumerate(state.offsets):
        if int(hours) % block.time_step_hours:
            raise ConfigError(f"{source}: 'state.offsets[{i}].time_step_hours' "
                              f"({block.time_step_hours}) must divide the period "
                              f"({hours:g} hours)")
    names = [b.name for b in state.gridded] + [b.name for b in state.offsets]
    reserved = {"point_sources", "net", "fossil_total"}
    for name in names:
        if names.count(name) > 1 or name in reserved:
            raise ConfigError(f"{source}: state block name {name!r} is used twice or reserved "
                              f"(reserved: {', '.join(sorted(reserved))})")


# --------------------------------------------------------------------------- documentation


def config_reference() -> str:
    """Markdown reference of every key, generated from the declarations above."""
    lines = ["# Configuration reference", "",
             "Generated from `src/cityflux/config.py` by `cityflux config-doc` (`make docs`);",
             "do not edit by hand. A run is one YAML file; relative paths are resolved",
             "against the folder of that file. Keys are given in dotted form; `--set",
             "dotted.key=value` on the command line overrides any of them.", ""]

    def walk(cls, prefix: str):
        hints = typing.get_type_hints(cls)
        rows, sections = [], []
        for f in _fields(cls):
            hint = hints[f.name]
            section = _section_type(hint)
            if section is not None:
                suffix = "[]" if typing.get_origin(hint) is tuple else ""
                sections.append((prefix + f.name + suffix, section, f))
                continue
            rows.append(f"| `{prefix}{f.name}` | {_type_text(hint)} | {_default_text(f)} | "
                        f"{f.metadata['help']}{_limits_text(f.metadata)} |")
        if rows:
            lines.extend(["| key | type | default | meaning |", "| --- | --- | --- | --- |",
                          *rows, ""])
        for dotted, hint, f in sections:
            optional = (" (list of sections)" if dotted.endswith("[]") else
                        " (optional section)" if (f.default is None or f.metadata.get("section"))
                        else "")
            lines.extend([f"## `{dotted}`{optional}", "", (hint.__doc__ or "").strip(), ""])
            walk(hint, dotted + ".")

    walk(RunConfig, "")
    return "\n".join(lines).rstrip() + "\n"


def _section_type(hint):
    """The dataclass of a section key (plain, optional or a list of sections), else None."""
    if dataclasses.is_dataclass(hint):
        return hint
    args = [a for a in typing.get_args(hint) if a is not type(None) and a is not Ellipsis]
    if len(args) == 1 and dataclasses.is_dataclass(args[0]):
        return args[0]
    return None


def _type_text(hint) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        members = typing.get_args(hint)
        text = " or ".join(_type_text(a) for a in members if a is not type(None))
        return text + (" or null" if type(None) in members else "")
    if dataclasses.is_dataclass(hint):
        return f"section ({hint.__name__})"
    if origin is tuple:
        return f"list of {_type_text(typing.get_args(hint)[0])}"
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return " \\| ".join(f"`{m.value}`" for m in hint)
    return {dt.datetime: "datetime", Path: "path"}.get(hint, getattr(hint, "__name__", str(hint)))


def _default_text(f: dataclasses.Field) -> str:
    if f.metadata.get("section"):
        return "defaults"
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = list(f.default_factory())
    else:
        return "required"
    if isinstance(value, enum.Enum):
        value = value.value
    return "null" if value is None else f"`{value}`"


def _limits_text(meta) -> str:
    low, high, above = meta.get("min"), meta.get("max"), meta.get("above")
    if above is not None:
        return f" (> {above})"
    if low is None and high is None:
        return ""
    return f" ({_range_text(low, high)})"
