"""Hourly mean observation records (the input CSV ``time,site,co2_ppm``)."""

from __future__ import annotations

from pathlib import Path


import pandas as pd

from ..errors import InputError
from .csvfile import read_table

RECORD_COLUMNS = ("time", "site", "co2_ppm")


def read_records(path: Path, known_sites) -> pd.DataFrame:
    """Read hourly means; times are UTC hour starts, values ppm; empty values are missing.

    Returns a frame with columns ``time`` (datetime64), ``site`` and ``co2_ppm`` (float,
    NaN where missing), sorted by site and time.
    """
    records, line = read_table(path, dtype={"site": str})
    missing = [c for c in RECORD_COLUMNS if c not in records.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {missing}; expected {list(RECORD_COLUMNS)}")
    times = pd.to_datetime(records["time"], errors="coerce", utc=True)
    if times.isna().any():
        row = int(times.isna().to_numpy().nonzero()[0][0])
        raise InputError(f"{path}: line {line[row]}: time {str(records['time'].iloc[row])!r} "
                         "is not an ISO 8601 date and time")
    records["time"] = times.dt.tz_localize(None).astype("datetime64[ns]")
    values = pd.to_numeric(records["co2_ppm"], errors="coerce")
    bad = values.isna() & records["co2_ppm"].notna()
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise InputError(f"{path}: line {line[row]}: co2_ppm "
                         f"{str(records['co2_ppm'].iloc[row])!r} is not a number")
    records["co2_ppm"] = values.astype(float)
    finite = records["co2_ppm"].dropna()
    if ((finite < 100) | (finite > 2000)).any():
        value = finite[(finite < 100) | (finite > 2000)].iloc[0]
        raise InputError(f"{path}: co2_ppm value {value} is outside 100-2000 ppm; "
                         "expected mole fractions in ppm")
    unknown = sorted(set(records["site"]) - set(known_sites))
    if unknown:
        raise InputError(f"{path}: site(s) {unknown} are not in the sites file")
    if records.duplicated(["site", "time"]).any():
        first = records[records.duplicated(["site", "time"])].iloc[0]
        raise InputError(f"{path}: duplicate record for site {first.site} at {first.time}")
    if (records["time"] != records["time"].dt.floor("h")).any():
        raise InputError(f"{path}: times must be whole hours (hour starts of hourly means)")
    return records.sort_values(["site", "time"]).reset_index(drop=True)[list(RECORD_COLUMNS)]



