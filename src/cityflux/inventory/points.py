"""Point sources (power plants, industrial stacks) from a CSV file.

Columns (one source per row; extra columns are kept but not used):

- ``name`` (unique), ``lon``, ``lat`` (degrees), ``stack_height_m``, ``sector``,
  ``emission`` with ``emission_units`` (an emission rate such as ``t yr-1``, ``kt yr-1``,
  ``Mt yr-1``, ``kg s-1``, ``t C yr-1``): the annual-mean rate;
- optional ``uncertainty_percent`` (1σ of the emission), ``buoyancy_flux_m4_s3`` or
  ``exit_velocity_m_s`` + ``exit_temperature_k`` + ``stack_diameter_m`` (plume rise),
  ``profile`` (the temporal profile's name; default: the sector).

Other columns are ignored. Every value is checked; an error names the file, line and column.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..obs.csvfile import read_table
from ..units import emission_rate_factor

REQUIRED = ("name", "lon", "lat", "stack_height_m", "sector", "emission", "emission_units")
OPTIONAL_NUMBERS = {  # column -> (attribute, lower bound, upper bound)
    "uncertainty_percent": ("uncertainty_fraction", 0.0, 1000.0),
    "buoyancy_flux_m4_s3": ("buoyancy_flux_m4_s3", 0.0, 1e5),
    "exit_velocity_m_s": ("exit_velocity_m_s", 0.0, 200.0),
    "exit_temperature_k": ("exit_temperature_k", 150.0, 2000.0),
    "stack_diameter_m": ("diameter_m", 0.0, 100.0),
}


@dataclass(frozen=True, eq=False)
class PointSources:
    """A table of point sources as arrays (one element per source).

    ``rate_kg_s`` is the annual-mean emission (kg CO2 s⁻¹); hourly rates follow the
    source's temporal ``profile``, unless ``hourly_times``/``hourly_rates`` tabulate them
    (a prior.nc read back, or monitoring data). Unknown plume-rise parameters are NaN.
    """

    name: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    stack_height_m: np.ndarray
    sector: np.ndarray
    rate_kg_s: np.ndarray
    uncertainty_fraction: np.ndarray
    buoyancy_flux_m4_s3: np.ndarray
    exit_velocity_m_s: np.ndarray
    exit_temperature_k: np.ndarray
    diameter_m: np.ndarray
    profile: np.ndarray
    prior_std_kg_s: np.ndarray | None = field(default=None)
    hourly_times: np.ndarray | None = field(default=None)
    hourly_rates: np.ndarray | None = field(default=None)

    def __post_init__(self):
        if self.prior_std_kg_s is None:  # an absolute prior σ (sources found by a search)
            object.__setattr__(self, "prior_std_kg_s", np.full(self.name.size, np.nan))

    def __len__(self) -> int:
        return int(self.name.size)

    @classmethod
    def empty(cls) -> "PointSources":
        return cls(**{f.name: np.array([], dtype=object if f.name in ("name", "sector", "profile")
                                       else float)
                      for f in fields(cls) if f.name not in ("hourly_times", "hourly_rates")})

    def subset(self, mask) -> "PointSources":
        mask = np.asarray(mask)
        values = {f.name: getattr(self, f.name)[mask] for f in fields(self)
                  if f.name not in ("hourly_times", "hourly_rates")}
        rates = None if self.hourly_rates is None else self.hourly_rates[:, mask]
        return PointSources(**values, hourly_times=self.hourly_times, hourly_rates=rates)

    @classmethod
    def concatenate(cls, parts: list["PointSources"], profiles=None,
                    utc_offset_hours: float = 0.0) -> "PointSources":
        """The sources of ``parts`` in order. When one part tabulates its hourly rates (a
        prior.nc read back), the others are tabulated on the same hours with
        ``profiles``."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        columns = {f.name: np.concatenate([getattr(p, f.name) for p in parts])
                   for f in fields(cls) if f.name not in ("hourly_times", "hourly_rates")}
        tabulated = [p for p in parts if p.hourly_rates is not None]
        if not tabulated:
            return cls(**columns)
        times = tabulated[0].hourly_times
        if any(not np.array_equal(p.hourly_times, times) for p in tabulated):
            raise ValueError("cannot concatenate point sources tabulated on different hours")
        rates = np.concatenate([p.hourly(times, profiles, utc_offset_hours) for p in parts],
                               axis=1)
        return cls(**columns, hourly_times=times, hourly_rates=rates)

    def hourly(self, times, profiles, utc_offset_hours: float, where: str = "point sources"):
        """Emission rates (kg s⁻¹) at hour starts ``times``: (n_times, n_sources)."""
        times = np.asarray(times, dtype="datetime64[ns]")
        if self.hourly_rates is not None:
            index = np.searchsorted(self.hourly_times, times)
            index = np.clip(index, 0, self.hourly_times.size - 1)
            missing = self.hourly_times[index] != times
            if missing.any():
                first = np.datetime_as_string(times[missing][0].astype("datetime64[m]"))
                raise InputError(f"{where}: no tabulated emission for {missing.sum()} hour(s), "
                                 f"the first starting {first} UTC; tabulated from "
                                 f"{np.datetime_as_string(self.hourly_times[0], unit='m')} to "
                                 f"{np.datetime_as_string(self.hourly_times[-1], unit='m')}")
            return self.hourly_rates[index]
        out = np.empty((times.size, len(self)))
        for name in np.unique(self.profile):
            columns = self.profile == name
            out[:, columns] = (profiles.factors(name, times, utc_offset_hours)[:, None]
                               * self.rate_kg_s[columns][None, :])
        return out


def read_point_sources(path: Path, grid=None) -> PointSources:
    """Read and validate a point-source CSV (see the module docstring).

    With ``grid``, every source must lie inside it.
    """
    # every column as text: numbers are parsed here (so 'True' or '0x10' are refused)
    table, line = read_table(path, dtype={c: str for c in (*REQUIRED, *OPTIONAL_NUMBERS,
                                                           "profile")})
    _check_columns(path, table.columns)
    if table.empty:
        raise InputError(f"{path}: no point sources (only a header line)")

    def text(column):
        values = table[column]
        blank = values.isna().to_numpy()
        if blank.any():
            row = int(np.flatnonzero(blank)[0])
            raise InputError(f"{path}: line {line[row]}, column {column}: empty; expected a "
                             "text")
        return values.to_numpy(dtype=object)

    def number(column, low, high, required=True):
        values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=float)
        given = table[column].notna().to_numpy()
        if required and not given.all():
            row = int(np.flatnonzero(~given)[0])
            raise InputError(f"{path}: line {line[row]}, column {column}: empty; expected a "
                             "number")
        bad = given & ~np.isfinite(values)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(f"{path}: line {line[row]}, column {column}: "
                             f"{table[column].iloc[row]!r} is not a finite number")
        out_of_range = np.isfinite(values) & ((values < low) | (values > high))
        if out_of_range.any():
            row = int(np.flatnonzero(out_of_range)[0])
            raise InputError(f"{path}: line {line[row]}, column {column}: {values[row]:g} is "
                             f"out of range; expected between {low:g} and {high:g}")
        return values

    names = text("name")
    duplicated = pd.Series(names).duplicated().to_numpy()
    if duplicated.any():
        row = int(np.flatnonzero(duplicated)[0])
        first = int(np.flatnonzero(names == names[row])[0])
        raise InputError(f"{path}: line {line[row]}, column name: {names[row]!r} is already "
                         f"used on line {line[first]}; names must be unique")
    lon = number("lon", -180.0, 360.0)
    lat = number("lat", -90.0, 90.0)
    if grid is not None:
        x, y = grid.to_grid_crs(lon, lat)
        outside = ~((x >= grid.x_start) & (x < grid.x_stop) &
                    (y >= grid.y_start) & (y < grid.y_stop))
        if outside.any():
            row = int(np.flatnonzero(outside)[0])
            raise InputError(f"{path}: line {line[row]}, columns lon/lat: source "
                             f"{names[row]!r} at ({lon[row]:g}, {lat[row]:g}) lies outside the "
                             f"domain grid ({int(outside.sum())} source(s) outside)")
    height = number("stack_height_m", 0.0, 1000.0)
    sector = text("sector")
    emission = number("emission", 0.0, np.inf)
    units = text("emission_units")
    factors = np.empty(len(table))
    for row, unit in enumerate(units):
        factors[row] = emission_rate_factor(unit, f"{path}: line {line[row]}, column "
                                                  "emission_units")
    optional = {}
    for column, (attribute, low, high) in OPTIONAL_NUMBERS.items():
        optional[attribute] = (number(column, low, high, required=False)
                               if column in table.columns else np.full(len(table), np.nan))
    optional["uncertainty_fraction"] = optional["uncertainty_fraction"] / 100.0
    profile = sector.copy()
    if "profile" in table.columns:
        given = table["profile"].notna().to_numpy()
        profile[given] = table["profile"][given].to_numpy(dtype=object)
    _check_plume_rise(path, line, table, optional)
    return PointSources(name=names, lon=lon, lat=lat, stack_height_m=height, sector=sector,
                        rate_kg_s=emission * factors, profile=profile, **optional)


def _check_columns(path, columns) -> None:
    """Refuse a header without the required columns, suggesting close spellings."""
    columns = [str(c) for c in columns]
    missing = [c for c in REQUIRED if c not in columns]
    if not missing:
        return
    unknown = [c for c in columns if c not in (*REQUIRED, *OPTIONAL_NUMBERS, "profile")]
    hints = []
    for column in missing:
        guess = difflib.get_close_matches(column, unknown, n=1, cutoff=0.6)
        if guess:
            hints.append(f"{guess[0]!r} for {column!r}")
    hint = f" (found {', '.join(hints)}: misspelt?)" if hints else ""
    raise InputError(f"{path}: header: missing column(s) {', '.join(missing)}{hint}; expected "
                     f"{', '.join(REQUIRED)} and optionally {', '.join(OPTIONAL_NUMBERS)}, "
                     "profile")


def _check_plume_rise(path, line, table, values) -> None:
    """Exit velocity, temperature and diameter come together or not at all."""
    trio = {"exit_velocity_m_s": "exit_velocity_m_s", "exit_temperature_k": "exit_temperature_k",
            "diameter_m": "stack_diameter_m"}  # attribute -> column
    given = np.array([np.isfinite(values[name]) for name in trio])
    partial = given.any(axis=0) & ~given.all(axis=0)
    if partial.any():
        row = int(np.flatnonzero(partial)[0])
        columns = list(trio.values())
        empty = [c for c, g in zip(columns, given[:, row]) if not g]
        present = [c for c, g in zip(columns, given[:, row]) if g]
        raise InputError(f"{path}: line {line[row]}, column {'/'.join(empty)}: empty while "
                         f"{' and '.join(present)} {'is' if len(present) == 1 else 'are'} "
                         "given; give exit_velocity_m_s, exit_temperature_k and "
                         "stack_diameter_m together (or buoyancy_flux_m4_s3 alone)")
