"""The state vector: flux per cell and flux time step, and the aggregates built on it.

The state is the mean flux (µmol m⁻² s⁻¹) of every grid cell in every flux time step,
flattened time-major with the grid C-ordered: ``index = step × n_cells + row × nx + col``.
This order matches the Kronecker covariance ``C_time ⊗ C_y ⊗ C_x``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse

from .grid import Grid
from .regions import Regions
from .units import flux_to_rate_t_per_h


@dataclass(frozen=True)
class StateLayout:
    """Shape and time axis of the state vector."""

    grid: Grid
    start: np.datetime64
    n_steps: int
    step_hours: int

    @classmethod
    def from_period(cls, grid: Grid, period) -> "StateLayout":
        hours = int((period.end - period.start).total_seconds() // 3600)
        return cls(grid, np.datetime64(period.start, "ns"),
                   hours // period.flux_time_step_hours, period.flux_time_step_hours)

    @property
    def n_hours(self) -> int:
        return self.n_steps * self.step_hours

    @property
    def size(self) -> int:
        return self.n_steps * self.grid.size

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.n_steps, *self.grid.shape)

    @property
    def step_starts(self) -> np.ndarray:
        return self.start + np.arange(self.n_steps) * np.timedelta64(self.step_hours, "h")

    @property
    def step_centres_hours(self) -> np.ndarray:
        return (np.arange(self.n_steps) + 0.5) * self.step_hours

    def field(self, vector: np.ndarray) -> np.ndarray:
        """A state vector as an array (n_steps, ny, nx)."""
        return np.asarray(vector).reshape(self.shape)


def region_totals_operator(layout: StateLayout, regions: Regions) -> scipy.sparse.csr_matrix:
    """W: state (µmol m⁻² s⁻¹) → emission rate (t h⁻¹) of each region in each time step.

    Rows are region-major: ``row = region × n_steps + step``.
    """
    weights = flux_to_rate_t_per_h(1.0, regions.fractions * layout.grid.cell_area)
    weights = weights.reshape(len(regions), -1)
    blocks = []
    for region_weights in weights:
        nonzero = np.flatnonzero(region_weights)
        rows = np.repeat(np.arange(layout.n_steps), nonzero.size)
        cols = (np.arange(layout.n_steps)[:, None] * layout.grid.size + nonzero).ravel()
        values = np.tile(region_weights[nonzero], layout.n_steps)
        blocks.append(scipy.sparse.csr_matrix((values, (rows, cols)),
                                              shape=(layout.n_steps, layout.size)))
    return scipy.sparse.vstack(blocks).tocsr()


def period_sum_matrix(layout: StateLayout, n_regions: int) -> np.ndarray:
    """P: per-step rates (t h⁻¹, region-major) → period totals (t) of each region."""
    return np.kron(np.eye(n_regions), np.full((1, layout.n_steps), float(layout.step_hours)))
