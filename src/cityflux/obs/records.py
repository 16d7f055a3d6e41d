"""Hourly mean observation records (the input CSV ``time,site,co2_ppm``).

An optional column ``co2_ppm_uncertainty`` gives each hourly mean's own measurement
uncertainty (1σ, ppm); where given it replaces ``observations.measurement_error_ppm``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from .csvfile import read_table

log = logging.getLogger(__name__)

RECORD_COLUMNS = ("time", "site", "co2_ppm")
UNCERTAINTY_COLUMN = "co2_ppm_uncertainty"
#: Plausible CO2 mole fractions (ppm); values outside are most likely in other units.
CO2_RANGE_PPM = (100.0, 2000.0)
#: Largest accepted stated uncertainty (ppm).
MAX_UNCERTAINTY_PPM = 100.0


def read_records(path: Path, known_sites) -> pd.DataFrame:
    """Read hourly means; times are UTC hour starts, values ppm; empty values are missing.

    Returns a frame with columns ``time`` (datetime64), ``site``, ``co2_ppm`` (float, NaN
    where missing) and ``uncertainty_ppm`` (NaN where not given), sorted by site and time.
    Rows without a value (empty or ``NaN``) are kept (as NaN) and counted in a warning.

    Raises
    ------
    InputError
        One line naming the file, line and column at fault and what was expected.
    """
    records, line = read_table(path, dtype={"site": str, "time": str})
    missing = [c for c in RECORD_COLUMNS if c not in records.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {missing}; expected {list(RECORD_COLUMNS)}")
    if records.empty:
        raise InputError(f"{path}: no records")

    written = records.copy()  # the values as written, for messages

    def fail(bad, column: str, problem: str):
        row = int(np.flatnonzero(np.asarray(bad))[0])
        value = written[column].iloc[row]
        if pd.isna(value):
            shown = "(empty)"
        elif isinstance(value, (int, float, np.number)):
            shown = f"{value:g}"  # a column pandas read as numbers
        else:
            shown = repr(str(value))
        raise InputError(f"{path}: line {line[row]}: {column} {shown} {problem}")

    if records["site"].isna().any():
        row = int(np.flatnonzero(records["site"].isna().to_numpy())[0])
        raise InputError(f"{path}: line {line[row]}: site is empty; every record needs a "
                         "site id")
    unknown = ~records["site"].isin(set(known_sites))
    if unknown.any():
        names = sorted(set(records["site"][unknown]))
        shown = names[:5] + (["..."] if len(names) > 5 else [])
        first = int(np.flatnonzero(unknown.to_numpy())[0])
        raise InputError(f"{path}: site(s) {shown} are not in the sites file ({int(unknown.sum())} "
                         f"record(s), the first on line {line[first]})")

    times = pd.to_datetime(records["time"], errors="coerce", utc=True, format="ISO8601")
    if times.isna().any():
        fail(times.isna(), "time", "is not an ISO 8601 date and time such as "
                                   "2025-07-01T13:00Z")
    records["time"] = times.dt.tz_localize(None).astype("datetime64[ns]")
    if (records["time"] != records["time"].dt.floor("h")).any():
        fail(records["time"] != records["time"].dt.floor("h"), "time",
             "is not a whole hour; expected the start hour of each hourly mean")
    duplicated = records.duplicated(["site", "time"])
    if duplicated.any():
        row = int(np.flatnonzero(duplicated.to_numpy())[0])
        same = (records["site"] == records["site"].iloc[row]) & \
            (records["time"] == records["time"].iloc[row])
        earlier = int(np.flatnonzero(same.to_numpy())[0])
        raise InputError(f"{path}: line {line[row]}: a second record for site "
                         f"{records['site'].iloc[row]} at {records['time'].iloc[row]} (the "
                         f"first is on line {line[earlier]})")

    values = pd.to_numeric(records["co2_ppm"], errors="coerce").astype(float)
    bad = values.isna() & records["co2_ppm"].notna()
    if bad.any():
        fail(bad, "co2_ppm", "is not a number")
    low, high = CO2_RANGE_PPM
    outside = values.notna() & ~values.between(low, high)
    if outside.any():
        fail(outside, "co2_ppm", f"is outside {low:g}-{high:g} ppm; expected CO2 mole "
                                 "fractions in ppm")
    records["co2_ppm"] = values

    records["uncertainty_ppm"] = np.nan
    if UNCERTAINTY_COLUMN in records.columns:
        sigma = pd.to_numeric(records[UNCERTAINTY_COLUMN], errors="coerce").astype(float)
        given = records[UNCERTAINTY_COLUMN].notna()
        bad = given & ~((sigma > 0) & (sigma <= MAX_UNCERTAINTY_PPM))
        if bad.any():
            fail(bad, UNCERTAINTY_COLUMN, f"is not a positive number of ppm (up to "
                                          f"{MAX_UNCERTAINTY_PPM:g})")
        records["uncertainty_ppm"] = sigma

    no_value = records["co2_ppm"].isna()
    if no_value.any():
        log.warning("%s: %d of %d rows have no co2_ppm value (empty or NaN) and are not "
                    "used", path, int(no_value.sum()), len(records))
    return records.sort_values(["site", "time"]).reset_index(drop=True)[
        [*RECORD_COLUMNS, "uncertainty_ppm"]]
