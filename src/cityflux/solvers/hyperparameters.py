"""Error statistics estimated from the data: maximum likelihood of the innovations.

Under the inversion's own assumptions the innovations d = y − H x_b − offset are Gaussian,
``d ~ N(0, S(θ))`` with

    S(θ) = Σ_b α_b² H_b B_b H_bᵀ + Σ_g σ_g² M_g + σ_bg² T + diag(σ_meas²)

where α_b scales the prior σ of block b (for an offset block, α_b is its σ in ppm), σ_g is
the model-data mismatch of group g (see :mod:`cityflux.obs.errors`). Everything is m × m:
the block terms H_b B_b H_bᵀ are computed once, after which each evaluation of the
negative log-likelihood

    NLL(θ) = ½ log det S(θ) + ½ dᵀ S(θ)⁻¹ d   (+ const)

costs one Cholesky factorisation. θ is optimised in log space (L-BFGS-B) with the
analytic gradient ∂NLL/∂ log θ_k = θ_k² [tr(S⁻¹ C_k) − wᵀ C_k w], w = S⁻¹ d, where C_k is
the component θ_k² multiplies. Uncertainties come from the Fisher information
I_kl = 2 θ_k² θ_l² tr(S⁻¹ C_k S⁻¹ C_l) in log θ (so the 1σ interval is
θ exp(±σ_log θ)). A correlation length is estimated, when asked, by profiling the
likelihood over a grid of lengths (each needs the block's H B Hᵀ anew).

This is the approach of Michalak et al. (2004, J. Geophys. Res. 109, D14109), restricted
to variance and scale parameters and evaluated in observation space.

Scale factors of prior blocks are often weakly identified (afternoon data rarely separate a
fossil error from a biospheric one), and a flat likelihood can drive one of them to zero.
They therefore carry a weak log-normal hyperprior, log α_b ~ N(log α_b⁰, ln(3)²), centred
on the configured value (a factor of 3 at 1σ): the estimate is the posterior mode, which
equals the maximum-likelihood estimate whenever the data constrain the scale. Mismatch
σ's, which every observation informs, have none.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg
import scipy.optimize

log = logging.getLogger(__name__)

#: log θ may move at most this far from its starting value (a factor of e⁹ ≈ 8000).
LOG_RANGE = 9.0
#: Correlation lengths (km) over which the likelihood is profiled when a length is ``auto``.
LENGTHS_KM = np.geomspace(1.0, 50.0, 9)
#: Standard deviation of the hyperprior on log α of block scales (a factor of 3).
SCALE_HYPERPRIOR_LOG_STD = float(np.log(3.0))


@dataclass(frozen=True, eq=False)
class LikelihoodTerms:
    """The pieces of S(θ).

    Attributes
    ----------
    innovation : ndarray (m,)
    block_terms : dict of str to ndarray (m, m)
        H_b B_b H_bᵀ at unit scale (offset blocks at σ = 1 ppm).
    error_model : ObservationErrorModel
        R's structure for the same observations.
    """

    innovation: np.ndarray
    block_terms: dict
    error_model: object

    def components(self) -> dict:
        """Every matrix a parameter multiplies: ``("block", name)`` and ``("mismatch", g)``."""
        parts = {("block", name): term for name, term in self.block_terms.items()}
        for index, group in enumerate(self.error_model.groups):
            parts[("mismatch", group)] = self.error_model.mismatch_component(index)
        return parts

    def fixed_part(self) -> np.ndarray:
        model = self.error_model
        return model.background_ppm ** 2 * model.background_component() + \
            np.diag(model.measurement_var)


@dataclass
class Estimate:
    """Estimated parameters with their uncertainty.

    ``values[key]`` and ``log_std[key]`` for every free key (``("block", name)`` or
    ``("mismatch", group)``); ``std[key] = values × log_std`` (delta method).
    """

    values: dict
    log_std: dict
    negative_log_likelihood: float
    reduced_chi2: float
    n_obs: int
    converged: bool
    lengths: dict = field(default_factory=dict)        # block -> estimated length (km)
    length_interval: dict = field(default_factory=dict)  # block -> (low, high) km

    @property
    def std(self) -> dict:
        return {key: self.values[key] * self.log_std[key] for key in self.values}


class Likelihood:
    """NLL, gradient and Fisher information of log θ for a set of free components."""

    def __init__(self, terms: LikelihoodTerms, start: dict, free: list):
        self.d = terms.innovation
        components = terms.components()
        self.free = list(free)
        self.centre = np.log([start[key] for key in self.free]) if self.free else np.zeros(0)
        self.penalised = np.array([key[0] == "block" for key in self.free], dtype=bool)
        self.free_matrices = [components[key] for key in self.free]
        fixed = terms.fixed_part().copy()
        for key, matrix in components.items():
            if key not in self.free:
                fixed += start[key] ** 2 * matrix
        self.fixed = fixed

    def covariance(self, theta) -> np.ndarray:
        S = self.fixed.copy()
        for value, matrix in zip(theta, self.free_matrices):
            S += value ** 2 * matrix
        return S

    def evaluate(self, log_theta):
        """NLL and its gradient in log θ."""
        theta = np.exp(log_theta)
        S = self.covariance(theta)
        try:
            chol = scipy.linalg.cho_factor(S, lower=True)
        except np.linalg.LinAlgError:
            return np.inf, np.zeros_like(log_theta)
        w = scipy.linalg.cho_solve(chol, self.d)
        nll = float(np.sum(np.log(np.diag(chol[0]))) + 0.5 * self.d @ w)
        S_inv = scipy.linalg.cho_solve(chol, np.eye(S.shape[0]))
        grad = np.array([value ** 2 * (np.einsum("ij,ji->", S_inv, C) - w @ C @ w)
                         for value, C in zip(theta, self.free_matrices)])
        offset = (np.asarray(log_theta) - self.centre) * self.penalised
        nll += 0.5 * float(np.sum(offset ** 2)) / SCALE_HYPERPRIOR_LOG_STD ** 2
        grad = grad + offset / SCALE_HYPERPRIOR_LOG_STD ** 2
        return nll, grad

    def fisher(self, log_theta) -> np.ndarray:
        theta = np.exp(log_theta)
        S = self.covariance(theta)
        chol = scipy.linalg.cho_factor(S, lower=True)
        products = [scipy.linalg.cho_solve(chol, C) for C in self.free_matrices]  # S⁻¹ C_k
        k = len(products)
        info = np.empty((k, k))
        for a in range(k):
            for b in range(a, k):
                info[a, b] = info[b, a] = (2 * theta[a] ** 2 * theta[b] ** 2 *
                                           np.einsum("ij,ji->", products[a], products[b]))
        return info + np.diag(self.penalised / SCALE_HYPERPRIOR_LOG_STD ** 2)

    def chi2(self, theta) -> float:
        S = self.covariance(theta)
        return float(self.d @ scipy.linalg.solve(S, self.d, assume_a="pos"))


def maximise(terms: LikelihoodTerms, start: dict, free: list) -> Estimate:
    """Maximum-likelihood values of the ``free`` parameters, others held at ``start``."""
    m = terms.innovation.size
    likelihood = Likelihood(terms, start, free)
    if not free:
        theta = np.array([])
        nll, _ = likelihood.evaluate(theta)
        return Estimate({}, {}, nll, likelihood.chi2(theta) / m, m, True)
    x0 = np.log([start[key] for key in free])
    bounds = [(v - LOG_RANGE, v + LOG_RANGE) for v in x0]
    result = scipy.optimize.minimize(likelihood.evaluate, x0, jac=True, method="L-BFGS-B",
                                     bounds=bounds, options={"maxiter": 500})
    info = likelihood.fisher(result.x)
    try:
        covariance = np.linalg.inv(info)
        log_std = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    except np.linalg.LinAlgError:
        log_std = np.full(len(free), np.inf)
    theta = np.exp(result.x)
    at_bound = np.isclose(result.x, [b[0] for b in bounds]) | \
        np.isclose(result.x, [b[1] for b in bounds])
    if at_bound.any():
        log.warning("maximum likelihood: %s reached the edge of its range; the data do not "
                    "constrain it", ", ".join(str(free[i]) for i in np.flatnonzero(at_bound)))
    return Estimate(dict(zip(free, theta)), dict(zip(free, log_std)), float(result.fun),
                    likelihood.chi2(theta) / m, m, bool(result.success))


def profile_length(make_terms, lengths_km, start: dict, free: list, block: str) -> Estimate:
    """Estimate the correlation length of ``block`` by profiling the likelihood.

    ``make_terms(length_km)`` returns the :class:`LikelihoodTerms` with the block's
    H B Hᵀ at that length. The other free parameters are re-optimised at each length; the
    best length's estimate is returned with the lengths whose NLL lies within ½ of the
    minimum as its interval (≈ 68 % for one parameter).
    """
    fits = []
    for length in lengths_km:
        fits.append(maximise(make_terms(length), start, free))
        log.info("length %.3g km: NLL %.3f", length, fits[-1].negative_log_likelihood)
    nll = np.array([fit.negative_log_likelihood for fit in fits])
    best = int(np.argmin(nll))
    inside = np.flatnonzero(nll <= nll[best] + 0.5)
    if best in (0, len(lengths_km) - 1):
        log.warning("correlation length of %s: the likelihood is largest at the edge of the "
                    "lengths tried (%.3g km); the data may want a length outside %.3g–%.3g km",
                    block, lengths_km[best], lengths_km[0], lengths_km[-1])
    estimate = fits[best]
    estimate.lengths[block] = float(lengths_km[best])
    estimate.length_interval[block] = (float(lengths_km[inside.min()]),
                                       float(lengths_km[inside.max()]))
    return estimate


def block_terms(layout, operator, prior_state, parameters, lengths: dict | None = None) -> dict:
    """H_b B_b H_bᵀ of every block at unit scale (m × m each).

    ``lengths`` overrides the correlation length (km) of gridded blocks.
    """
    from ..state.prior import block_covariance

    unit = parameters.with_values(block_scale={name: 1.0 for name in parameters.block_scale},
                                  length_km=lengths or {})
    matrix = operator.matrix.tocsc()
    parts, out = layout.split(prior_state), {}
    for block in layout.blocks:
        H_b = matrix[:, layout.slice(block.name)]
        B_b = block_covariance(block, parts[block.name], unit)
        BHt = B_b.apply(H_b.T.toarray())
        term = np.asarray(H_b @ BHt)
        out[block.name] = 0.5 * (term + term.T)
    return out
