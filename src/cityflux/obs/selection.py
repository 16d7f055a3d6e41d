"""From records to the observation vector: background, selection and error covariance R."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..covariance import DenseCovariance, DiagonalCovariance
from ..errors import InputError


def observation_table(records: pd.DataFrame, towers: pd.DataFrame, background_site: str,
                      period_start, period_end, utc_offset_hours: float,
                      local_hours, where: str) -> pd.DataFrame:
    """Tower observations of the period with their background and selection flag.

    Every tower hour with a valid record and a valid background value in the period
    becomes a row (so that modelled values can be shown for all of them); ``used`` marks
    the rows whose local hour is one of ``local_hours``: those enter the inversion.

    Returns columns ``site``, ``time``, ``observed``, ``background`` (ppm), ``used``.
    """
    start, end = np.datetime64(period_start, "ns"), np.datetime64(period_end, "ns")
    in_period = records[(records.time >= start) & (records.time < end)].dropna()
    background = in_period[in_period.site == background_site].set_index("time")["co2_ppm"]
    if background.empty:
        raise InputError(f"{where}: background site {background_site!r} has no valid record "
                         f"in the period {period_start} to {period_end}")
    table = in_period[in_period.site.isin(towers.site)].rename(columns={"co2_ppm": "observed"})
    table = table.assign(background=background.reindex(table.time).to_numpy())
    table = table.dropna(subset=["background"]).reset_index(drop=True)
    local_hour = ((table.time + pd.to_timedelta(utc_offset_hours, unit="h")).dt.hour)
    table["used"] = local_hour.isin(list(local_hours)).to_numpy()
    if not table["used"].any():
        raise InputError(f"{where}: no tower observation with a background value falls in "
                         f"the local hours {list(local_hours)} of the period")
    return table[["site", "time", "observed", "background", "used"]]


def observation_error_covariance(table: pd.DataFrame, measurement_ppm: float,
                                 mismatch_ppm: float, background_ppm: float,
                                 correlation_hours: float):
    """R for the rows of an observation table (ppm²).

    Three terms: the measurement error (white), the model-data mismatch (correlated in time
    within a site), and the background error (shared by every observation of the same hour,
    because every tower's difference uses the same background value, and correlated in
    time). The time correlation is ``exp(-|Δt| / correlation_hours)``; 0 keeps only
    same-hour correlation (of the background term).
    """
    if measurement_ppm ** 2 + mismatch_ppm ** 2 <= 0:
        raise InputError("observations: measurement_error_ppm and model_data_mismatch_ppm are "
                         "both zero; R must be positive definite")
    hours = (table.time.to_numpy() - table.time.to_numpy().min()) / np.timedelta64(1, "h")
    lag = np.abs(hours[:, None] - hours[None, :])
    in_time = np.exp(-lag / correlation_hours) if correlation_hours > 0 else (lag == 0) * 1.0
    same_site = table.site.to_numpy()[:, None] == table.site.to_numpy()[None, :]
    matrix = (mismatch_ppm ** 2 * in_time * same_site + background_ppm ** 2 * in_time
              + measurement_ppm ** 2 * np.eye(len(table)))
    if correlation_hours == 0 and background_ppm == 0:
        return DiagonalCovariance(np.diag(matrix).copy())
    return DenseCovariance(matrix)
