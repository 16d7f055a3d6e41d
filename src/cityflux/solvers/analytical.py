"""Analytical Gaussian inversion in observation space.

With innovation covariance ``S = H B Hᵀ + R`` (m × m, small: m observations):

    x_a = x_b + B Hᵀ S⁻¹ (y − H x_b)
    diag(A) = diag(B) − rowsum(G ∘ G),      G = B Hᵀ L⁻ᵀ,  S = L Lᵀ
    W A Wᵀ = W B Wᵀ − (W B Hᵀ) S⁻¹ (W B Hᵀ)ᵀ

so neither B nor A is ever formed: B is applied to the m columns of Hᵀ and to the k rows
of the aggregation W (Yadav & Michalak 2013, Geosci. Model Dev. 6, 583–590, for the
Kronecker form). Cost: m + k applications of B and one m × m Cholesky factorisation;
memory: the n × m matrix B Hᵀ.

Diagnostics: χ² = dᵀ S⁻¹ d with d = y − H x_b (expected ≈ m), reduced χ² = χ²/m, and the
degrees of freedom for signal DOFS = tr(I − A B⁻¹) = tr(H B Hᵀ S⁻¹) = m − tr(R S⁻¹). The
posterior residual y − H x_a = R S⁻¹ d has covariance R S⁻¹ R, whose diagonal normalises
per-site residual statistics.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse

from .base import InversionProblem, InversionResult, Solver

#: Columns of Wᵀ to which B is applied at once (bounds memory at n × CHUNK).
CHUNK = 64


class AnalyticalSolver(Solver):
    """Exact posterior by observation-space linear algebra."""

    name = "analytical"

    def solve(self, problem: InversionProblem) -> InversionResult:
        B, R, H = problem.prior_covariance, problem.obs_covariance, problem.operator
        x_b, y = problem.prior_state, problem.observations
        m = problem.n_obs

        BHt = B.apply(H.adjoint(np.eye(m)))                  # n × m
        HBHt = H.forward(BHt)                                # m × m
        R_dense = R.apply(np.eye(m))
        S = 0.5 * (HBHt + HBHt.T) + R_dense
        cholesky = scipy.linalg.cho_factor(S, lower=True)
        innovation = y - H.forward(x_b)
        weights = scipy.linalg.cho_solve(cholesky, innovation)
        x_a = x_b + BHt @ weights

        G = scipy.linalg.solve_triangular(cholesky[0], BHt.T, lower=True).T   # B Hᵀ L⁻ᵀ
        posterior_var = B.diagonal() - np.einsum("ij,ij->i", G, G)
        posterior_std = np.sqrt(np.clip(posterior_var, 0.0, None))

        W = _aggregation_matrix(problem.aggregation, problem.n_state)
        prior_cov = _quadratic_form(W, B)
        WG = np.asarray(W @ G)                               # k × m
        posterior_cov = prior_cov - WG @ WG.T

        map_std = {}
        B_diagonal = B.diagonal()
        for name, T in problem.variance_maps.items():
            T = scipy.sparse.csr_matrix(T)
            prior = T.multiply(T) @ B_diagonal
            TG = np.asarray(T @ G)
            map_std[name] = (np.sqrt(prior), np.sqrt(np.clip(prior - np.einsum("ij,ij->i", TG, TG),
                                                             0.0, None)))

        chi2 = float(innovation @ weights)
        S_inv_R = scipy.linalg.cho_solve(cholesky, R_dense)
        dofs = float(m - np.trace(S_inv_R))
        residual_variance = np.einsum("ij,ji->i", R_dense, S_inv_R)
        diagnostics = {
            "n_obs": int(m),
            "n_state": int(problem.n_state),
            "chi2": chi2,
            "reduced_chi2": chi2 / m,
            "dofs": dofs,
        }
        return InversionResult(x_a, posterior_std, W @ x_b, W @ x_a,
                               0.5 * (prior_cov + prior_cov.T),
                               0.5 * (posterior_cov + posterior_cov.T),
                               np.diag(S).copy(), np.clip(residual_variance, 0.0, None),
                               map_std, diagnostics)


def _aggregation_matrix(aggregation, n_state: int) -> scipy.sparse.csr_matrix:
    if aggregation is None:
        return scipy.sparse.csr_matrix((0, n_state))
    return scipy.sparse.csr_matrix(aggregation, dtype=float)


def _quadratic_form(W: scipy.sparse.csr_matrix, B) -> np.ndarray:
    """W B Wᵀ, block by block for a block-diagonal B (no cross terms), applying each block
    only to the distinct non-zero rows of W restricted to it (the rows of a sum of groups
    repeat those of its parts), a few columns at a time."""
    k = W.shape[0]
    blocks = getattr(B, "blocks", None)
    if blocks is None:
        return _dense_quadratic_form(W, B)
    out = np.zeros((k, k))
    start = 0
    W = W.tocsc()
    for block in blocks:
        part = W[:, start:start + block.size].tocsr()
        start += block.size
        rows = np.flatnonzero(np.diff(part.indptr))
        if rows.size == 0:
            continue
        unique, inverse = _unique_rows(part[rows])
        small = _dense_quadratic_form(unique, block)
        expand = scipy.sparse.csr_matrix((np.ones(rows.size), (rows, inverse)),
                                         shape=(k, unique.shape[0]))
        out += np.asarray(expand @ (expand @ small).T)
    return out


def _unique_rows(rows: scipy.sparse.csr_matrix):
    """The distinct rows of a sparse matrix and, for each row, the index of its copy."""
    rows = rows.tocsr()
    rows.sort_indices()
    keys = [(tuple(rows.indices[a:b]), tuple(np.round(rows.data[a:b], 12)))
            for a, b in zip(rows.indptr[:-1], rows.indptr[1:])]
    first, inverse = {}, np.empty(len(keys), dtype=np.int64)
    for i, key in enumerate(keys):
        inverse[i] = first.setdefault(key, len(first))
    order = np.empty(len(first), dtype=np.int64)
    for i, j in enumerate(inverse):
        order[j] = i
    return rows[order], inverse


def _dense_quadratic_form(W, B) -> np.ndarray:
    """W B Wᵀ, applying B to a few columns of Wᵀ at a time."""
    W = scipy.sparse.csr_matrix(W)
    k = W.shape[0]
    out = np.empty((k, k))
    Wt = W.T.tocsc()
    for start in range(0, k, CHUNK):
        columns = Wt[:, start:start + CHUNK].toarray()
        out[:, start:start + CHUNK] = np.asarray(W @ B.apply(columns))
    return out
