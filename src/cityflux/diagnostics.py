"""Diagnostics of an inversion beyond those every solver returns (χ², DOFS)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def uncertainty_reduction(prior_std, posterior_std):
    """1 − σ_posterior / σ_prior (0: nothing learnt, 1: perfectly known)."""
    prior_std = np.asarray(prior_std, float)
    return np.where(prior_std > 0, 1.0 - np.asarray(posterior_std) / prior_std, 0.0)


def site_statistics(table: pd.DataFrame, residual_prior, residual_posterior,
                    obs_error_std) -> dict:
    """Per-site figures over the observations used in the inversion.

    ``reduced_chi2_posterior`` is the mean of (posterior residual / σ_R)²; values far above
    1 flag a site whose error is underestimated or whose transport is poor.
    """
    frame = pd.DataFrame({"site": table.site.to_numpy(), "used": table.used.to_numpy(),
                          "prior": residual_prior, "posterior": residual_posterior,
                          "sigma": obs_error_std})
    stats = {}
    for site, group in frame[frame.used].groupby("site"):
        stats[site] = {
            "n_used": int(len(group)),
            "rmse_prior_ppm": float(np.sqrt(np.mean(group.prior ** 2))),
            "rmse_posterior_ppm": float(np.sqrt(np.mean(group.posterior ** 2))),
            "bias_posterior_ppm": float(group.posterior.mean()),
            "reduced_chi2_posterior": float(np.mean((group.posterior / group.sigma) ** 2)),
        }
    return stats
