"""State blocks: what one part of the state vector means, its prior and its B.

A city's unknowns are not one gridded field. The state is a list of named blocks:

- :class:`GriddedBlock`: the mean flux (µmol m⁻² s⁻¹) of one group of inventory sectors
  (e.g. ``fossil``, ``biosphere``) in every cell of its mask and every flux time step;
  ``B = D (C_time ⊗ C_y ⊗ C_x) D`` restricted to the mask.
- :class:`PointSourceBlock`: the mean emission rate (kg CO2 s⁻¹) of every stack source in
  every flux time step (or over the whole period); ``B = D (C_time ⊗ I) D``.
- :class:`OffsetBlock`: a bias (ppm) of the tower-minus-background differences of each
  tower (or of all towers) per time step; ``B = σ² (C_time ⊗ I)``.

Within a block, elements are ordered time-major: ``index = step × n_items + item`` where
items are the masked cells, the sources or the offset groups. Time steps start at the
period start; a block's step must divide the period.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import GriddedBlockConfig, OffsetBlockConfig, PointBlockConfig, SectorKind
from ..covariance import KroneckerCovariance, SubsetCovariance, exponential_correlation
from ..grid import Grid
from ..units import FLUX_UNITS

#: Units of point-source state elements (emission rate of CO2).
RATE_UNITS_SI = "kg s-1"


@dataclass(frozen=True, eq=False, kw_only=True)
class _TimeSteps:
    """Shared time axis of a block: ``n_steps`` steps of ``step_hours`` from the start."""

    n_steps: int
    step_hours: int

    @property
    def step_centres_hours(self) -> np.ndarray:
        return (np.arange(self.n_steps) + 0.5) * self.step_hours

    def step_means(self, hourly: np.ndarray) -> np.ndarray:
        """Means over the steps of an hourly array (n_steps × step_hours, ...)."""
        hourly = np.asarray(hourly, dtype=float)
        return hourly.reshape(self.n_steps, self.step_hours, *hourly.shape[1:]).mean(axis=1)

    def time_correlation(self, hours: float) -> np.ndarray:
        return exponential_correlation(self.step_centres_hours, hours)


@dataclass(frozen=True, eq=False, kw_only=True)
class GriddedBlock(_TimeSteps):
    """Mean flux of a group of sectors in every masked cell and flux time step.

    Attributes
    ----------
    name : str
    kind : SectorKind
    sectors : tuple of str
        The inventory sectors whose flux this block holds.
    grid : Grid
    cells : ndarray of int
        Flat (C-order) indices of the cells in the state, ascending.
    settings : GriddedBlockConfig
    """

    name: str
    kind: SectorKind
    sectors: tuple
    grid: Grid
    cells: np.ndarray
    settings: GriddedBlockConfig

    units = FLUX_UNITS

    @property
    def n_items(self) -> int:
        return int(self.cells.size)

    @property
    def size(self) -> int:
        return self.n_steps * self.n_items

    def prior_state(self, hourly: np.ndarray) -> np.ndarray:
        """x_b: step means of the block's hourly prior (n_hours, ny, nx) on the mask."""
        means = self.step_means(np.asarray(hourly).reshape(len(hourly), -1))
        return means[:, self.cells].ravel()

    def to_fields(self, vector, outside) -> np.ndarray:
        """Block values as (n_steps, ny, nx); cells outside the mask take ``outside``
        (an array of that shape, or a number)."""
        fields = np.broadcast_to(np.asarray(outside, dtype=float),
                                 (self.n_steps, self.grid.size)).copy()
        fields[:, self.cells] = np.asarray(vector, dtype=float).reshape(self.n_steps, -1)
        return fields.reshape(self.n_steps, *self.grid.shape)

    def prior_std(self, prior_state, scale: float = 1.0) -> np.ndarray:
        """σ = scale × max(relative × |x_b|, floor) per element."""
        settings = self.settings
        return scale * np.maximum(settings.relative_error * np.abs(prior_state),
                                  settings.floor_umol_m2_s)

    def covariance(self, prior_state, scale: float = 1.0, length_km: float = 5.0):
        """B of the block: ``D (C_time ⊗ C_y ⊗ C_x) D`` on the mask.

        Distances along y and x are measured in the grid's metric frame; on a lat/lon grid
        the mean cell size is used, a fair approximation over a city.
        """
        grid = self.grid
        dx, dy = (np.mean(size) / 1000.0 for size in grid.metric_cell_size)
        factors = [self.time_correlation(self.settings.correlation_time_hours),
                   exponential_correlation(np.arange(grid.ny) * dy, length_km),
                   exponential_correlation(np.arange(grid.nx) * dx, length_km)]
        std = self.prior_std(prior_state, scale)
        if self.n_items == grid.size:
            return KroneckerCovariance(std, factors)
        full_std = np.ones((self.n_steps, grid.size))
        full_std[:, self.cells] = std.reshape(self.n_steps, -1)
        index = (np.arange(self.n_steps)[:, None] * grid.size + self.cells).ravel()
        return SubsetCovariance(KroneckerCovariance(full_std.ravel(), factors), index)


@dataclass(frozen=True, eq=False, kw_only=True)
class PointSourceBlock(_TimeSteps):
    """Mean emission rate (kg CO2 s⁻¹) of every stack source in every time step.

    Attributes
    ----------
    sources : PointSources
        The stack sources, in state order.
    settings : PointBlockConfig
    """

    sources: object
    settings: PointBlockConfig
    name: str = "point_sources"

    units = RATE_UNITS_SI
    kind = SectorKind.FOSSIL

    @property
    def n_items(self) -> int:
        return len(self.sources)

    @property
    def size(self) -> int:
        return self.n_steps * self.n_items

    def prior_state(self, hourly_rates: np.ndarray) -> np.ndarray:
        """x_b: step means of the hourly rates (n_hours, n_sources), kg s⁻¹."""
        return self.step_means(hourly_rates).ravel()

    def relative_error(self) -> np.ndarray:
        """Prior σ as a fraction of each source's emission."""
        settings = self.settings
        stated = np.asarray(self.sources.uncertainty_fraction, dtype=float)
        default = np.full(self.n_items, settings.relative_error)
        if settings.use_stated_uncertainty:
            return np.where(np.isfinite(stated), stated, default)
        return default

    def prior_std(self, prior_state, scale: float = 1.0) -> np.ndarray:
        """σ = scale × max(relative × |x_b|, floor), or the source's own absolute σ (a
        source added by the missing-source search)."""
        relative = np.tile(self.relative_error(), self.n_steps)
        std = np.maximum(relative * np.abs(prior_state), self.settings.floor_kg_s)
        absolute = np.tile(np.asarray(self.sources.prior_std_kg_s, float), self.n_steps)
        return scale * np.where(np.isfinite(absolute), absolute, std)

    def covariance(self, prior_state, scale: float = 1.0):
        factors = [self.time_correlation(self.settings.correlation_time_hours),
                   np.eye(self.n_items)]
        return KroneckerCovariance(self.prior_std(prior_state, scale), factors)


@dataclass(frozen=True, eq=False, kw_only=True)
class OffsetBlock(_TimeSteps):
    """A bias (ppm) of the modelled tower-minus-background difference.

    Attributes
    ----------
    name : str
    groups : tuple of str
        Tower site ids with their own offset, or ``("all",)`` for one shared offset.
    settings : OffsetBlockConfig
    """

    name: str
    groups: tuple
    settings: OffsetBlockConfig

    units = "ppm"
    kind = None

    @property
    def n_items(self) -> int:
        return len(self.groups)

    @property
    def size(self) -> int:
        return self.n_steps * self.n_items

    def prior_state(self) -> np.ndarray:
        return np.zeros(self.size)

    def group_of(self, sites) -> np.ndarray:
        """Index of each observation's offset group."""
        if self.groups == ("all",):
            return np.zeros(len(sites), dtype=np.int64)
        lookup = {site: i for i, site in enumerate(self.groups)}
        return np.array([lookup.get(site, -1) for site in sites], dtype=np.int64)

    def covariance(self, error_ppm: float):
        factors = [self.time_correlation(self.settings.correlation_time_hours),
                   np.eye(self.n_items)]
        return KroneckerCovariance(np.full(self.size, float(error_ppm)), factors)
