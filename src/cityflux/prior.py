"""The prior: state vector x_b from a gridded flux, and its error covariance B."""

from __future__ import annotations

import numpy as np

from .covariance import KroneckerCovariance, exponential_correlation
from .inventory.gridded import block_mean
from .state import StateLayout


def prior_state(layout: StateLayout, hourly_flux: np.ndarray) -> np.ndarray:
    """x_b: the prior flux averaged over each flux time step, flattened (µmol m⁻² s⁻¹)."""
    return block_mean(hourly_flux, layout.step_hours).ravel()


def prior_error_std(state: np.ndarray, relative: float, floor: float) -> np.ndarray:
    """σ = max(relative × |x_b|, floor) for every state element."""
    return np.maximum(relative * np.abs(state), floor)


def prior_covariance(layout: StateLayout, state: np.ndarray, settings) -> KroneckerCovariance:
    """B = D (C_time ⊗ C_y ⊗ C_x) D from a :class:`PriorErrorConfig`.

    Distances along y and x are measured in the grid's metric frame (km); on a lat/lon grid
    the mean cell size is used, a fair approximation over a city.
    """
    grid = layout.grid
    dx, dy = (np.mean(size) / 1000.0 for size in grid.metric_cell_size)
    x_km, y_km = np.arange(grid.nx) * dx, np.arange(grid.ny) * dy
    length = settings.correlation_length_km
    factors = [exponential_correlation(layout.step_centres_hours, settings.correlation_time_hours),
               exponential_correlation(y_km, length),
               exponential_correlation(x_km, length)]
    std = prior_error_std(state, settings.relative, settings.floor_umol_m2_s)
    return KroneckerCovariance(std, factors)
