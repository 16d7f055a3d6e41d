"""From records to the observation vector: background and selection."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ..errors import InputError

log = logging.getLogger(__name__)


def observation_table(records: pd.DataFrame, towers: pd.DataFrame, background_site: str | None,
                      period_start, period_end, utc_offset_hours: float,
                      local_hours, where: str) -> pd.DataFrame:
    """Tower observations of the period with their background and selection flag.

    Every tower hour with a valid record and a valid background value in the period
    becomes a row (so that modelled values can be shown for all of them); ``used`` marks
    the rows whose local hour is one of ``local_hours``: those enter the inversion.

    Returns columns ``site``, ``time``, ``observed``, ``background`` (ppm),
    ``uncertainty_ppm`` (the tower's stated uncertainty, NaN if none), ``used``. Without a
    ``background_site`` the background is modelled later and left NaN here. How many
    tower hours of the period are left out, and why, is logged as a warning.
    """
    if "uncertainty_ppm" not in records:
        records = records.assign(uncertainty_ppm=np.nan)
    start, end = np.datetime64(period_start, "ns"), np.datetime64(period_end, "ns")
    in_period = records[(records.time >= start) & (records.time < end)]
    valid = in_period.dropna(subset=["co2_ppm"])
    background = valid[valid.site == background_site].set_index("time")["co2_ppm"]
    if background.empty and background_site is not None:
        raise InputError(f"{where}: background site {background_site!r} has no valid record "
                         f"in the period {period_start} to {period_end}")
    towers_in_period = in_period[in_period.site.isin(towers.site)]
    table = valid[valid.site.isin(towers.site)].rename(columns={"co2_ppm": "observed"})
    table = table.assign(background=background.reindex(table.time).to_numpy())
    no_background = table.background.isna() & (background_site is not None)
    no_value = int(towers_in_period.co2_ppm.isna().sum())
    if no_value or no_background.any():
        log.warning("%s: %d tower hour(s) of the period have no value (empty or NaN) and %d "
                    "have no valid background value at the same hour; they are left out",
                    where, no_value, int(no_background.sum()))
    table = table[~no_background].reset_index(drop=True)
    local_hour = ((table.time + pd.to_timedelta(utc_offset_hours, unit="h")).dt.hour)
    table["used"] = local_hour.isin(list(local_hours)).to_numpy()
    if not table["used"].any():
        raise InputError(f"{where}: no tower observation with a background value falls in "
                         f"the local hours {list(local_hours)} of the period")
    return table[["site", "time", "observed", "background", "uncertainty_ppm", "used"]]
