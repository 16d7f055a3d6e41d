"""Search for point sources missing from the prior: a likelihood-ratio test per location.

After the inversion the innovations are ``d ~ N(0, S)``, S = H B Hᵀ + R. One more point
source of constant rate q at candidate location j adds ``q h_j`` to the observations (h_j
its plume column, ppm per kg s⁻¹). With S = L Lᵀ, u_j = L⁻¹ h_j and w = L⁻¹ d, the
maximum-likelihood rate and its standard error are

    q̂_j = u_jᵀ w / u_jᵀ u_j,      σ_j = 1 / ‖u_j‖,

and the log-likelihood gain is ½ z_j² with z_j = q̂_j / σ_j: an exact rank-one update of the
observation-space solve, for every candidate at the cost of one triangular solve with N
right-hand sides (no re-inversion per candidate). An emission is positive, so the test is
one-sided (z_j > 0).

Many correlated candidates are tested at once, so the threshold is the (1 − α) quantile
of max_j z_j under the null hypothesis (nothing missing): simulated by drawing w ~ N(0, I)
(random numbers from the run's seed). A candidate is significant when z_j exceeds it; its
family-wise p-value is the fraction of simulated maxima at least as large.

Sources are accepted greedily: the best significant candidate enters S as a source of
prior σ² (S ← S + σ² h hᵀ), the statistics are recomputed, candidates within the exclusion
distance of an accepted one are skipped, until none is significant or the limit is met.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

#: Prior σ of an accepted source (zero prior mean), as a multiple of its estimated rate:
#: wide enough that the data, not the prior, set its posterior.
ACCEPTED_PRIOR_STD_FACTOR = 2.0


@dataclass
class SearchResult:
    """Outcome of a search.

    Attributes
    ----------
    rate, rate_std, z : ndarray (N,)
        q̂ (kg s⁻¹), σ_q and z of every candidate in the first pass (nothing added).
    threshold : float
        z above which a candidate is significant (family-wise level ``significance``).
    p_value : ndarray (N,)
        Family-wise p-value of every candidate (first pass).
    accepted : list of dict
        Sources accepted greedily: candidate index, rate, rate_std, z, p_value.
    """

    rate: np.ndarray
    rate_std: np.ndarray
    z: np.ndarray
    threshold: float
    p_value: np.ndarray
    accepted: list


def candidate_statistics(cholesky_lower: np.ndarray, innovation: np.ndarray,
                         columns: np.ndarray):
    """q̂, σ_q and z for every column of ``columns`` (m × N) given S = L Lᵀ."""
    U = scipy.linalg.solve_triangular(cholesky_lower, columns, lower=True)
    w = scipy.linalg.solve_triangular(cholesky_lower, innovation, lower=True)
    norm2 = np.einsum("ij,ij->j", U, U)
    ok = norm2 > 0
    safe = np.where(ok, norm2, 1.0)
    rate = np.where(ok, (U.T @ w) / safe, 0.0)
    std = np.where(ok, 1.0 / np.sqrt(safe), np.inf)
    z = np.where(ok, rate / std, 0.0)
    return rate, std, z, U


def null_maxima(U: np.ndarray, simulations: int, rng: np.random.Generator) -> np.ndarray:
    """max_j z_j for ``simulations`` draws of w ~ N(0, I) (the null hypothesis)."""
    norms = np.sqrt(np.einsum("ij,ij->j", U, U))
    ok = norms > 0
    unit = U[:, ok] / norms[ok]
    maxima = np.empty(simulations)
    for start in range(0, simulations, 256):
        draws = rng.standard_normal((U.shape[0], min(256, simulations - start)))
        maxima[start:start + draws.shape[1]] = (unit.T @ draws).max(axis=0)
    return maxima


def search(S: np.ndarray, innovation: np.ndarray, columns: np.ndarray, positions: np.ndarray,
           significance: float, simulations: int, rng: np.random.Generator,
           max_sources: int, exclusion_m: float) -> SearchResult:
    """Rank candidates and accept the significant ones greedily (see the module docstring).

    Parameters
    ----------
    S : ndarray (m, m)
        Innovation covariance of the inversion.
    innovation : ndarray (m,)
    columns : ndarray (m, N)
        Plume column of every candidate, ppm per (kg s⁻¹).
    positions : ndarray (N, 2)
        Candidate positions, m (for the exclusion distance).
    """
    L = np.linalg.cholesky(S)
    rate, std, z, U = candidate_statistics(L, innovation, columns)
    maxima = null_maxima(U, simulations, rng)
    threshold = float(np.quantile(maxima, 1.0 - significance))

    ordered = np.sort(maxima)

    def p_values(values):
        """Fraction of simulated maxima at least as large as each value."""
        return (ordered.size - np.searchsorted(ordered, values, side="left")) / ordered.size

    first = SearchResult(rate, std, z, threshold, p_values(z), [])
    excluded = np.zeros(columns.shape[1], bool)
    current_S, current = S.copy(), (rate, std, z)
    while len(first.accepted) < max_sources:
        candidate_z = np.where(excluded, -np.inf, current[2])
        best = int(np.argmax(candidate_z))
        if not candidate_z[best] > threshold:
            break
        best_rate, best_std = float(current[0][best]), float(current[1][best])
        first.accepted.append({"index": best, "rate": best_rate, "rate_std": best_std,
                               "z": float(candidate_z[best]),
                               "p_value": float(p_values(np.array([candidate_z[best]]))[0])})
        prior_std = ACCEPTED_PRIOR_STD_FACTOR * abs(best_rate)
        h = columns[:, best]
        current_S = current_S + prior_std ** 2 * np.outer(h, h)
        distance = np.hypot(*(positions - positions[best]).T)
        excluded |= distance <= exclusion_m
        rate_k, std_k, z_k, _ = candidate_statistics(np.linalg.cholesky(current_S), innovation,
                                                     columns)
        current = (rate_k, std_k, z_k)
    return first

