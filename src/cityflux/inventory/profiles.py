"""Sector temporal profiles: hour of day × day of week × month, in local time.

A profile turns an annual-mean emission into hourly emissions: ``rate(t) = annual × f(t)``
with ``f = hour[h] × weekday[d] × month[m]`` evaluated at the *local* time of ``t`` and
normalised so that its mean over every hour of the local calendar year is exactly 1. The
hourly emissions of a year therefore integrate to the annual total whatever the factors
and whichever weekday the year starts on.

Built-in hour-of-day and day-of-week factors are TNO's GNFR profiles (Denier van der Gon
et al. 2011, TNO report for EU FP7 MACC D_D-EMIS_1.3, as mapped to GNFR sectors in 2018).
Built-in month factors are flat: seasonality depends on hemisphere and climate (heating,
cooling), so it must come from the user's profile file. A sector without a built-in or
user profile is constant in time.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..obs.csvfile import read_table

log = logging.getLogger(__name__)

CYCLE_LENGTHS = {"hour": 24, "weekday": 7, "month": 12}
PROFILE_COLUMNS = ("sector", "cycle", "index", "factor")

_TNO_HOUR = {
    "public_power": [0.79, 0.72, 0.72, 0.71, 0.74, 0.8, 0.92, 1.08, 1.19, 1.22, 1.21, 1.21,
                     1.17, 1.15, 1.14, 1.13, 1.1, 1.07, 1.04, 1.02, 1.02, 1.01, 0.96, 0.88],
    "industry": [0.75, 0.75, 0.78, 0.82, 0.88, 0.95, 1.02, 1.09, 1.16, 1.22, 1.28, 1.3,
                 1.22, 1.24, 1.25, 1.16, 1.08, 1.01, 0.95, 0.9, 0.85, 0.81, 0.78, 0.75],
    "other_stationary": [0.38, 0.36, 0.36, 0.36, 0.37, 0.5, 1.19, 1.53, 1.57, 1.56, 1.35,
                         1.16, 1.07, 1.06, 1, 0.98, 0.99, 1.12, 1.41, 1.52, 1.39, 1.35, 1,
                         0.42],
    "solvents": [0.5, 0.35, 0.2, 0.1, 0.1, 0.2, 0.75, 1.25, 1.4, 1.5, 1.5, 1.5, 1.5, 1.5,
                 1.5, 1.5, 1.5, 1.4, 1.25, 1.1, 1, 0.9, 0.8, 0.7],
    "road_transport": [0.19, 0.09, 0.06, 0.05, 0.09, 0.22, 0.86, 1.84, 1.86, 1.41, 1.24,
                       1.2, 1.32, 1.44, 1.45, 1.59, 2.03, 2.08, 1.51, 1.06, 0.74, 0.62,
                       0.61, 0.44],
}
_TNO_WEEKDAY = {  # Monday first
    "public_power": [1.06, 1.06, 1.06, 1.06, 1.06, 0.85, 0.85],
    "industry": [1.08, 1.08, 1.08, 1.08, 1.08, 0.8, 0.8],
    "other_stationary": [1.08, 1.08, 1.08, 1.08, 1.08, 0.8, 0.8],
    "solvents": [1.2, 1.2, 1.2, 1.2, 1.2, 0.5, 0.5],
    "road_transport": [1.02, 1.06, 1.08, 1.1, 1.14, 0.81, 0.79],
}
#: Sector names with built-in profiles, and the TNO GNFR profile each one uses.
BUILTIN_SECTORS = {
    "energy": "public_power", "public_power": "public_power",
    "industry": "industry",
    "residential": "other_stationary", "commercial": "other_stationary",
    "other_stationary": "other_stationary",
    "solvents": "solvents",
    "road_transport": "road_transport", "roads": "road_transport", "traffic": "road_transport",
}


class Profiles:
    """Temporal profiles by name (usually a sector name).

    Parameters
    ----------
    tables : dict of str to dict
        ``{name: {"hour": 24 factors, "weekday": 7 (Monday first), "month": 12}}``; a
        missing cycle is flat.
    """

    def __init__(self, tables: dict | None = None):
        self.tables = {name: {cycle: np.asarray(values, float) for cycle, values in t.items()}
                       for name, t in (tables or {}).items()}

    @classmethod
    def builtin(cls) -> "Profiles":
        return cls({sector: {"hour": _TNO_HOUR[gnfr], "weekday": _TNO_WEEKDAY[gnfr]}
                    for sector, gnfr in BUILTIN_SECTORS.items()})

    def with_overrides(self, other: "Profiles") -> "Profiles":
        """These profiles with every name of ``other`` replaced by ``other``'s."""
        return Profiles({**self.tables, **other.tables})

    def knows(self, name: str) -> bool:
        return name in self.tables

    def factors(self, name: str, times_utc, utc_offset_hours: float) -> np.ndarray:
        """Factors (mean 1 over each local year) at hour starts ``times_utc``.

        The factor of an hour is taken at its middle (start + 30 min), in local time.
        """
        times = np.asarray(times_utc, dtype="datetime64[ns]")
        if name not in self.tables:
            return np.ones(times.shape)
        local = _local(times, utc_offset_hours)
        raw = self._raw(name, local)
        years = local.astype("datetime64[Y]").astype(int) + 1970
        norm = np.array([self._annual_mean(name, int(y)) for y in np.unique(years)])
        return raw / norm[np.searchsorted(np.unique(years), years)]

    def _raw(self, name: str, local: np.ndarray) -> np.ndarray:
        table = self.tables[name]
        index = pd.DatetimeIndex(local)
        out = np.ones(local.shape)
        if "hour" in table:
            out = out * table["hour"][index.hour.to_numpy()]
        if "weekday" in table:
            out = out * table["weekday"][index.day_of_week.to_numpy()]
        if "month" in table:
            out = out * table["month"][index.month.to_numpy() - 1]
        return out

    @functools.lru_cache(maxsize=256)
    def _annual_mean(self, name: str, year: int) -> float:
        """Mean raw factor over the hour middles of one local calendar year."""
        start = np.datetime64(f"{year}-01-01T00:30", "ns")
        end = np.datetime64(f"{year + 1}-01-01T00:30", "ns")
        hours = np.arange(start, end, np.timedelta64(1, "h"))
        return float(self._raw(name, hours).mean())


def _local(times_utc: np.ndarray, utc_offset_hours: float) -> np.ndarray:
    offset = np.timedelta64(int(round(utc_offset_hours * 3600)), "s")
    return times_utc + np.timedelta64(30, "m") + offset


def read_profiles(path: Path) -> Profiles:
    """Read a profile CSV: ``sector,cycle,index,factor`` (cycle hour 0-23, weekday 0-6
    with 0 = Monday, month 1-12). Every cycle given must be complete; cycles not given
    are flat. Factors need not be normalised (cityflux normalises per year).

    Raises
    ------
    InputError
        One line naming the file, the line and the column at fault.
    """
    table, line = read_table(path, dtype={c: str for c in PROFILE_COLUMNS})
    missing = [c for c in PROFILE_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"{path}: header: missing column(s) {', '.join(missing)}; expected "
                         f"{', '.join(PROFILE_COLUMNS)}")
    if table.empty:
        raise InputError(f"{path}: no profile factors (only a header line)")
    tables: dict = {}
    given_on: dict = {}  # (sector, cycle) -> file line of every index given
    for row in range(len(table)):
        where = f"{path}: line {line[row]}"
        for column in PROFILE_COLUMNS:
            if not isinstance(table[column].iloc[row], str):  # read as text: NaN when empty
                raise InputError(f"{where}, column {column}: empty")
        sector, cycle = table["sector"].iloc[row], table["cycle"].iloc[row]
        if cycle not in CYCLE_LENGTHS:
            raise InputError(f"{where}, column cycle: {cycle!r} is not one of "
                             f"{', '.join(CYCLE_LENGTHS)}")
        index = _number(table["index"].iloc[row], f"{where}, column index")
        factor = _number(table["factor"].iloc[row], f"{where}, column factor")
        first = 1 if cycle == "month" else 0
        if index != int(index) or not first <= index < first + CYCLE_LENGTHS[cycle]:
            raise InputError(f"{where}, column index: {index:g} is not a valid {cycle} "
                             f"(an integer from {first} to {first + CYCLE_LENGTHS[cycle] - 1})")
        if factor < 0:
            raise InputError(f"{where}, column factor: {factor:g} is negative; expected a "
                             "factor >= 0")
        values = tables.setdefault(sector, {}).setdefault(
            cycle, np.full(CYCLE_LENGTHS[cycle], np.nan))
        lines = given_on.setdefault((sector, cycle), {})
        if int(index) in lines:
            raise InputError(f"{where}, column index: {cycle} {int(index)} of sector {sector!r} "
                             f"is given twice (first on line {lines[int(index)]})")
        lines[int(index)] = int(line[row])
        values[int(index) - first] = factor
    for (sector, cycle), lines in given_on.items():
        values = tables[sector][cycle]
        first = 1 if cycle == "month" else 0
        span = f"lines {min(lines.values())}-{max(lines.values())}"
        if np.isnan(values).any():
            absent = np.flatnonzero(np.isnan(values)) + first
            listed = ", ".join(str(i) for i in absent[:6]) + (", …" if absent.size > 6 else "")
            raise InputError(f"{path}: {span}, column index: sector {sector!r} gives "
                             f"{np.isfinite(values).sum()} of {values.size} {cycle} factors; "
                             f"missing {cycle} {listed} (a cycle given must be complete)")
        if values.sum() == 0:
            raise InputError(f"{path}: {span}, column factor: all {cycle} factors of sector "
                             f"{sector!r} are zero")
    return Profiles(tables)


def _number(value, where: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{where}: {value!r} is not a number") from None
    if not np.isfinite(number):
        raise InputError(f"{where}: {value!r} is not a finite number")
    return number
