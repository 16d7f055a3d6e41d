"""The observation error covariance R, as a sum of named components.

    R = Σ_g σ_g² M_g  +  σ_bg² T  +  diag(σ_meas²)

- model-data mismatch (transport and representation error) of each mismatch group g (all
  towers, one tower, or one tower by day or by night): ``M_g[i, j] = ρ(t_i − t_j)`` for
  two observations of the same site in group g, else 0;
- background error, shared by every tower at the same hour (they all subtract the same
  background value) and correlated in time: ``T[i, j] = ρ(t_i − t_j)``;
- measurement error, white, per observation (the observations' own uncertainty column
  where given, else ``observations.measurement_error_ppm``).

``ρ(Δt) = exp(−|Δt| / τ)`` with τ = ``observations.error_correlation_hours`` (τ = 0: only
the same hour is correlated). Keeping the components apart lets the maximum-likelihood
estimation of the σ's (:mod:`cityflux.solvers.hyperparameters`) rebuild R cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..covariance import DenseCovariance, DiagonalCovariance
from ..errors import InputError


@dataclass(frozen=True, eq=False)
class ObservationErrorModel:
    """R of a set of observations, up to the σ's of its components.

    Attributes
    ----------
    groups : tuple of str
        Mismatch group names.
    group_index : ndarray of int (m,)
        Each observation's group.
    site : ndarray of str (m,)
    hours : ndarray of float (m,)
        Observation times in hours (any origin).
    correlation_hours : float
    measurement_var : ndarray (m,)
        Measurement error variance of every observation, ppm².
    background_ppm : float
    """

    groups: tuple
    group_index: np.ndarray
    site: np.ndarray
    hours: np.ndarray
    correlation_hours: float
    measurement_var: np.ndarray
    background_ppm: float

    @property
    def size(self) -> int:
        return int(self.hours.size)

    def subset(self, rows) -> "ObservationErrorModel":
        return ObservationErrorModel(self.groups, self.group_index[rows], self.site[rows],
                                     self.hours[rows], self.correlation_hours,
                                     self.measurement_var[rows], self.background_ppm)

    def time_correlation(self) -> np.ndarray:
        lag = np.abs(self.hours[:, None] - self.hours[None, :])
        if self.correlation_hours > 0:
            return np.exp(-lag / self.correlation_hours)
        return (lag == 0) * 1.0

    def mismatch_component(self, group: int) -> np.ndarray:
        """M_g (see the module docstring)."""
        inside = self.group_index == group
        same = (self.site[:, None] == self.site[None, :]) & inside[:, None] & inside[None, :]
        return self.time_correlation() * same

    def background_component(self) -> np.ndarray:
        return self.time_correlation()

    def matrix(self, mismatch_ppm: dict) -> np.ndarray:
        """R as a dense (m, m) matrix for the given mismatch σ of every group."""
        correlation = self.time_correlation()
        same_site = self.site[:, None] == self.site[None, :]
        group_var = np.array([mismatch_ppm[g] ** 2 for g in self.groups])[self.group_index]
        same_group = self.group_index[:, None] == self.group_index[None, :]
        mismatch = np.sqrt(group_var[:, None] * group_var[None, :]) * same_site * same_group
        return ((mismatch + self.background_ppm ** 2) * correlation
                + np.diag(self.measurement_var))

    def diagonal(self, mismatch_ppm: dict) -> np.ndarray:
        group_var = np.array([mismatch_ppm[g] ** 2 for g in self.groups])[self.group_index]
        return group_var + self.background_ppm ** 2 + self.measurement_var

    def covariance(self, mismatch_ppm: dict):
        """R as a covariance operator (diagonal when nothing is correlated)."""
        diagonal = self.diagonal(mismatch_ppm)
        if np.any(diagonal <= 0):
            raise InputError("observations: the measurement error and model-data mismatch are "
                             "both zero; R must be positive definite (set "
                             "observations.measurement_error_ppm or model_data_mismatch_ppm "
                             "above zero)")
        if self.correlation_hours == 0 and self.background_ppm == 0:
            return DiagonalCovariance(diagonal)
        try:
            return DenseCovariance(self.matrix(mismatch_ppm))
        except np.linalg.LinAlgError:
            raise InputError("observations: R is singular (towers observed at the same hour "
                             "share the background error and nothing else separates them); "
                             "set observations.measurement_error_ppm or "
                             "model_data_mismatch_ppm above zero") from None


def mismatch_group_labels(sites, is_day, grouping) -> np.ndarray:
    """The mismatch group of every observation: ``all``, its site, or ``site/day|night``."""
    from ..config import MismatchGroups

    sites = np.asarray(sites).astype(str)
    if grouping == MismatchGroups.ALL:
        return np.full(sites.size, "all", dtype=object)
    if grouping == MismatchGroups.SITE:
        return sites.astype(object)
    return np.char.add(np.char.add(sites, "/"), np.where(is_day, "day", "night")).astype(object)


def error_model(table, labels, measurement_ppm: float, correlation_hours: float,
                background_ppm: float) -> ObservationErrorModel:
    """The error model of an observation table (``site``, ``time``, optional
    ``uncertainty_ppm``) with mismatch group ``labels``."""
    groups = tuple(dict.fromkeys(labels))
    index = np.array([groups.index(label) for label in labels], dtype=np.int64)
    times = table.time.to_numpy()
    hours = ((times - times.min()) / np.timedelta64(1, "h")).astype(float) if len(times) else \
        np.zeros(0)
    measurement = np.full(len(table), float(measurement_ppm))
    if "uncertainty_ppm" in table:
        given = table["uncertainty_ppm"].to_numpy(dtype=float)
        measurement = np.where(np.isfinite(given), given, measurement)
    return ObservationErrorModel(groups, index, table.site.to_numpy().astype(str), hours,
                                 float(correlation_hours), measurement ** 2,
                                 float(background_ppm))
