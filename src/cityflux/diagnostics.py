"""Diagnostics of an inversion beyond those every solver returns (χ², DOFS)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def uncertainty_reduction(prior_std, posterior_std):
    """1 − σ_posterior / σ_prior (0: nothing learnt, 1: perfectly known).

    NaN where the prior σ is zero (nothing to reduce: a region without any state element,
    or one whose only elements were added by the missing-source search); negative where
    the posterior is less certain than the inventory claimed (the search added a source).
    """
    prior_std = np.asarray(prior_std, float)
    safe = np.where(prior_std > 0, prior_std, 1.0)
    return np.where(prior_std > 0, 1.0 - np.asarray(posterior_std) / safe, np.nan)


def site_statistics(table: pd.DataFrame, residual_prior, residual_posterior,
                    innovation_std, residual_std) -> dict:
    """Per-site figures over the observations used in the inversion.

    ``reduced_chi2_innovation`` is the mean of (y − H x_b)² / diag(S), S = H B Hᵀ + R: about 1
    when the site's errors are described well, far above 1 for a site whose error is
    underestimated or whose transport is poor. ``reduced_chi2_posterior`` normalises the
    posterior residual by its own standard deviation, √diag(R S⁻¹ R), so it is about 1 too
    (not below 1, as residual/σ_R would be).
    """
    frame = pd.DataFrame({"site": table.site.to_numpy(), "used": table.used.to_numpy(),
                          "prior": residual_prior, "posterior": residual_posterior,
                          "innovation_std": innovation_std, "residual_std": residual_std})
    stats = {}
    for site, group in frame[frame.used].groupby("site"):
        stats[site] = {
            "n_used": int(len(group)),
            "rmse_prior_ppm": float(np.sqrt(np.mean(group.prior ** 2))),
            "rmse_posterior_ppm": float(np.sqrt(np.mean(group.posterior ** 2))),
            "bias_posterior_ppm": float(group.posterior.mean()),
            "reduced_chi2_innovation": float(np.mean((group.prior / group.innovation_std) ** 2)),
            "reduced_chi2_posterior": float(np.mean((group.posterior / group.residual_std) ** 2)),
        }
    return stats
