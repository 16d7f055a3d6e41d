"""The one interface every inversion method implements.

A solver takes an :class:`InversionProblem` (prior state and its covariance, the
observation operator, observations and their covariance, the linear aggregates whose
posterior covariance is wanted and the linear maps whose posterior variance is wanted) and
returns an :class:`InversionResult`. Methods differ in how they get there
(observation-space algebra, conjugate gradients with Lanczos, an ensemble), not in what
they are given or what they return, so runs can swap them by a config key and be compared.
The state may be any combination of blocks: solvers see only vectors and operators.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class InversionProblem:
    """A linear Gaussian inverse problem ``y = H x + e``.

    Attributes
    ----------
    prior_state : ndarray (n,)
        x_b (each block in its own units).
    prior_covariance : covariance operator
        B, with ``apply``, ``solve``, ``sqrt_apply``, ``diagonal``.
    operator : observation operator
        H, with ``forward`` (n → m) and ``adjoint`` (m → n).
    observations : ndarray (m,)
        y, ppm (differences to background, minus the known offset).
    obs_covariance : covariance operator
        R.
    aggregation : sparse or dense matrix (k, n), optional
        W: rows are linear aggregates (region totals per group and time step) whose
        posterior covariance is computed exactly.
    variance_maps : dict of str to sparse matrix (r, n), optional
        Linear maps T whose posterior variances diag(T A Tᵀ) are wanted (e.g. the sum of
        every block's flux in a cell). Each row may pick at most one element of each block,
        so that diag(T B Tᵀ) = (T∘T) diag(B) for the block-diagonal B.
    """

    prior_state: np.ndarray
    prior_covariance: object
    operator: object
    observations: np.ndarray
    obs_covariance: object
    aggregation: object = None
    variance_maps: dict = field(default_factory=dict)

    @property
    def n_state(self) -> int:
        return self.prior_state.size

    @property
    def n_obs(self) -> int:
        return self.observations.size


@dataclass
class InversionResult:
    """What every solver returns.

    Attributes
    ----------
    posterior_state, posterior_std : ndarray (n,)
        x_a and the square root of diag(A).
    aggregate_prior, aggregate_posterior : ndarray (k,)
        W x_b and W x_a.
    aggregate_prior_covariance, aggregate_posterior_covariance : ndarray (k, k)
        W B Wᵀ and W A Wᵀ.
    innovation_variance : ndarray (m,)
        diag(S), S = H B Hᵀ + R: the variance of y − H x_b.
    residual_variance : ndarray (m,)
        diag(R S⁻¹ R): the variance of the posterior residual y − H x_a.
    map_std : dict of str to (ndarray, ndarray)
        Prior and posterior standard deviations of every variance map.
    diagnostics : dict
        n_obs, n_state, chi2, reduced_chi2, dofs and any method-specific figures.
    """

    posterior_state: np.ndarray
    posterior_std: np.ndarray
    aggregate_prior: np.ndarray
    aggregate_posterior: np.ndarray
    aggregate_prior_covariance: np.ndarray
    aggregate_posterior_covariance: np.ndarray
    innovation_variance: np.ndarray
    residual_variance: np.ndarray
    map_std: dict = field(default_factory=dict)
    diagnostics: dict = field(default_factory=dict)


class Solver(abc.ABC):
    """Base class of inversion methods."""

    name: str = "abstract"

    @abc.abstractmethod
    def solve(self, problem: InversionProblem) -> InversionResult:
        """Posterior mean, uncertainties, aggregates and diagnostics of ``problem``."""
