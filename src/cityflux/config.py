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


class SolverMethod(str, enum.Enum):
    """Inversion methods behind the common solver interface."""

    ANALYTICAL = "analytical"


def _key(help: str, default=dataclasses.MISSING, *, min=None, max=None, above=None,
         must_exist=False):
    """Declare a config key: its help text, default and checks (``above``: strictly greater)."""
    meta = {"help": help, "min": min, "max": max, "above": above, "must_exist": must_exist}
    if default is dataclasses.MISSING:
        return field(metadata=meta)
    if isinstance(default, list):
        return field(default_factory=lambda: tuple(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True, kw_only=True)
class AxisConfig:
    """A regular grid axis: cell edges from ``start`` to ``stop`` every ``step``."""

    start: float = _key("first cell edge, in grid CRS units (m, or degrees east/north)")
    stop: float = _key("last cell edge, in grid CRS units")
    step: float = _key("cell size, in grid CRS units", above=0.0)


@dataclass(frozen=True, kw_only=True)
class DomainConfig:
    """The inversion grid and its regions."""

    crs: str = _key("grid coordinate reference system: 'EPSG:4326' for a lat/lon grid, or a "
                    "projected CRS in metres (EPSG code or PROJ string)", "EPSG:4326")
    x: AxisConfig = _key("x axis (easting in m, or longitude in degrees)")
    y: AxisConfig = _key("y axis (northing in m, or latitude in degrees)")
    regions: Path = _key("GeoJSON file (lon/lat) with one feature of property type 'city' "
                         "and optional features of type 'district', each with a 'name'",
                         must_exist=True)
    utc_offset_hours: float = _key("local time minus UTC, in hours (for selecting local hours)",
                                   0.0, min=-12.0, max=14.0)


@dataclass(frozen=True, kw_only=True)
class PeriodConfig:
    """The inversion period and the time resolution of the fluxes solved for."""

    start: dt.datetime = _key("first hour of the period, UTC (ISO 8601)")
    end: dt.datetime = _key("end of the period (exclusive), UTC (ISO 8601)")
    flux_time_step_hours: int = _key("length of one flux time step of the state vector, in "
                                     "hours; must divide the period", 6, min=1, max=744)


@dataclass(frozen=True, kw_only=True)
class InputsConfig:
    """Input files."""

    prior_flux: Path = _key("prior flux NetCDF: variable 'flux' (time, y, x) or (time, lat, lon) "
                            "on the domain grid, hourly or coarser", must_exist=True)
    meteorology: Path = _key("hourly meteorology NetCDF with CF standard names "
                             "(see docs/formats.md)", must_exist=True)
    sites: Path = _key("CSV of sites: site,name,lat,lon,inlet_height_m,role", must_exist=True)
    observations: Path = _key("CSV of hourly mean observations: time,site,co2_ppm",
                              must_exist=True)
    truth_flux: typing.Optional[Path] = _key("optional 'true' flux NetCDF (synthetic cases "
                                             "only) used to score the posterior", None,
                                             must_exist=True)


@dataclass(frozen=True, kw_only=True)
class TransportConfig:
    """How footprints are computed."""

    model: TransportModel = _key("transport model", TransportModel.GAUSSIAN_PLUME)
    dispersion: DispersionScheme = _key("plume width formulas: 'briggs_urban' (urban terrain) "
                                        "or 'pasquill_gifford' (ISC3 open country)",
                                        DispersionScheme.BRIGGS_URBAN)
    stability: StabilityMethod = _key("how stability classes are found: from the Obukhov "
                                      "length or from wind speed and solar radiation",
                                      StabilityMethod.OBUKHOV_LENGTH)
    roughness_length_m: float = _key("surface roughness length, m (used with obukhov_length)",
                                     1.0, min=1e-4, max=5.0)
    hours_back: int = _key("how far back in time a footprint reaches, hours", 24, min=1,
                           max=240)
    min_wind_speed_m_s: float = _key("wind speed floor for the plume, m s-1", 1.0, min=0.1,
                                     max=10.0)
    source_height_m: float = _key("release height of gridded fluxes, m above ground", 10.0,
                                  min=0.0, max=500.0)
    near_field_subcells: int = _key("sub-cells per side used to integrate cells close to a "
                                    "receptor", 6, min=1, max=32)


@dataclass(frozen=True, kw_only=True)
class PriorErrorConfig:
    """Prior error covariance B = D (C_time ⊗ C_y ⊗ C_x) D."""

    relative: float = _key("prior error standard deviation as a fraction of |prior flux|",
                           0.5, min=0.0, max=10.0)
    floor_umol_m2_s: float = _key("minimum prior error standard deviation, umol m-2 s-1",
                                  0.5, min=1e-6)
    correlation_length_km: float = _key("e-folding length of the exponential spatial "
                                        "correlation, km (0 = uncorrelated)", 5.0, min=0.0,
                                        max=1000.0)
    correlation_time_hours: float = _key("e-folding time of the exponential temporal "
                                         "correlation, hours (0 = uncorrelated)", 24.0,
                                         min=0.0, max=8760.0)


@dataclass(frozen=True, kw_only=True)
class ObservationsConfig:
    """Which observations are used and their error statistics (R)."""

    local_hours: tuple[int, ...] = _key("local hours of day (0-23, hour starting) whose "
                                        "observations enter the inversion",
                                        [12, 13, 14, 15, 16])
    background_site: typing.Optional[str] = _key("site id of the background site; default: "
                                                 "the one site with role 'background'", None)
    measurement_error_ppm: float = _key("measurement error standard deviation, ppm", 0.2,
                                        min=0.0)
    model_data_mismatch_ppm: float = _key("model-data mismatch standard deviation, ppm", 2.0,
                                          min=0.0)
    background_error_ppm: float = _key("background error standard deviation, ppm", 0.5,
                                       min=0.0)
    error_correlation_hours: float = _key("e-folding time of the exponential correlation of "
                                          "errors of one site's consecutive observations, "
                                          "hours (0 = independent errors)", 0.0, min=0.0,
                                          max=720.0)


@dataclass(frozen=True, kw_only=True)
class SolverConfig:
    """The inversion method."""

    method: SolverMethod = _key("solver", SolverMethod.ANALYTICAL)


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
    seed: int = _key("seed of the random number generator", 0, min=0)
    domain: DomainConfig = _key("grid and regions")
    period: PeriodConfig = _key("period and flux time step")
    inputs: InputsConfig = _key("input files")
    transport: TransportConfig = _key("footprint model settings", None)
    prior_error: PriorErrorConfig = _key("prior error statistics", None)
    observations: ObservationsConfig = _key("observation selection and errors", None)
    solver: SolverConfig = _key("solver settings", None)
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
    text = path.read_text(encoding="utf-8")
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


def _apply_override(raw: dict, item: str, path: Path) -> None:
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected dotted.key=value")
    dotted, value_text = item.split("=", 1)
    keys = dotted.strip().split(".")
    node = raw
    for depth, key in enumerate(keys[:-1]):
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            where = ".".join(keys[: depth + 1])
            raise ConfigError(f"--set {dotted}: {where} is a value, not a section")
        node = child
    try:
        node[keys[-1]] = yaml.safe_load(value_text)
    except yaml.YAMLError:
        raise ConfigError(f"--set {dotted}: value {value_text!r} is not valid YAML") from None


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
            if dataclasses.is_dataclass(hints[name]) and f.default is None:
                values[name] = _build(hints[name], {}, dotted + ".", base, source)
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{source}: missing required key '{dotted}' ({f.metadata['help']})")
            continue
        values[name] = _convert(hints[name], raw[name], dotted, f.metadata, base, source)
    return cls(**values)


def _convert(hint, value, dotted: str, meta, base: Path, source: str):
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)][0]
        return None if value is None else _convert(inner, value, dotted, meta, base, source)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, dotted + ".", base, source)
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


def _range_text(low, high) -> str:
    if low is not None and high is not None:
        return f"between {low} and {high}"
    return f">= {low}" if low is not None else f"<= {high}"


def _check_consistency(config: RunConfig, source: str) -> None:
    """Checks that involve more than one key."""
    for name in ("x", "y"):
        axis = getattr(config.domain, name)
        if axis.stop <= axis.start:
            raise ConfigError(f"{source}: 'domain.{name}.stop' ({axis.stop}) must be greater "
                              f"than 'domain.{name}.start' ({axis.start})")
        cells = (axis.stop - axis.start) / axis.step
        if abs(cells - round(cells)) > 1e-6:
            raise ConfigError(f"{source}: 'domain.{name}.step' ({axis.step}) must divide "
                              f"stop - start ({axis.stop - axis.start}) into whole cells")
    period = config.period
    hours = (period.end - period.start).total_seconds() / 3600.0
    if hours <= 0:
        raise ConfigError(f"{source}: 'period.end' ({period.end}) must be after "
                          f"'period.start' ({period.start})")
    if hours != int(hours) or int(hours) % period.flux_time_step_hours:
        raise ConfigError(f"{source}: 'period.flux_time_step_hours' "
                          f"({period.flux_time_step_hours}) must divide the period "
                          f"({hours:g} hours) into whole steps")
    for i, hour in enumerate(config.observations.local_hours):
        if not 0 <= hour <= 23:
            raise ConfigError(f"{source}: 'observations.local_hours[{i}]' = {hour} is out of "
                              "range; expected between 0 and 23")


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
            if dataclasses.is_dataclass(hint):
                sections.append((prefix + f.name, hint, f))
                continue
            rows.append(f"| `{prefix}{f.name}` | {_type_text(hint)} | {_default_text(f)} | "
                        f"{f.metadata['help']}{_limits_text(f.metadata)} |")
        if rows:
            lines.extend(["| key | type | default | meaning |", "| --- | --- | --- | --- |",
                          *rows, ""])
        for dotted, hint, f in sections:
            optional = " (optional section)" if f.default is None else ""
            lines.extend([f"## `{dotted}`{optional}", "", (hint.__doc__ or "").strip(), ""])
            walk(hint, dotted + ".")

    walk(RunConfig, "")
    return "\n".join(lines).rstrip() + "\n"


def _type_text(hint) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)][0]
        return _type_text(inner) + " or null"
    if origin is tuple:
        return f"list of {_type_text(typing.get_args(hint)[0])}"
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return " \\| ".join(f"`{m.value}`" for m in hint)
    return {dt.datetime: "datetime", Path: "path"}.get(hint, getattr(hint, "__name__", str(hint)))


def _default_text(f: dataclasses.Field) -> str:
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
