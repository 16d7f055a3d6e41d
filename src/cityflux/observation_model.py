"""How the state vector maps to what the inversion observes: ``y = H x + offset``.

The observed quantity is the difference between a tower's mole fraction and the background
site's at the same hour, ``y = c_tower − c_background`` (ppm). Both sites see the domain's
emissions, so every column of H is the difference of the two sites' sensitivities: an
upwind site that catches some of the domain's own signal does not bias the result.

H is assembled block by block from whichever transport serves the block:

- gridded blocks from surface footprints: the footprint of each (cell, hour back) lands in
  the column of the cell (if it is in the block's mask) and of the flux time step in which
  it was emitted;
- the point-source block from the stack plumes: the sensitivity of each hour back lands in
  the source's column of the step of emission, weighted by the source's hourly shape
  within the step (rate of the hour / mean rate of the step);
- offset blocks: 1 in the column of the observation's site group and time step.

What the state does not hold is known from the prior and enters as an offset: the hourly
shape of a gridded flux within its step, cells outside a block's mask, sectors in no
block, and every emission in the ``hours_back`` hours before the period (their footprints
reach into the period's first observations). The offset is computed so that
``H x_b + offset`` equals the sensitivity applied to the full hourly prior exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse

from .state.blocks import GriddedBlock, OffsetBlock, PointSourceBlock
from .transport.footprints import Footprints, SparseObservationOperator


@dataclass(frozen=True, eq=False)
class HourlyPriors:
    """The prior at hourly resolution over hours ``-spinup .. n_hours - 1``.

    Attributes
    ----------
    spinup : int
        Hours before the period start (the transport's hours back).
    gridded : dict of str to ndarray (spinup + n_hours, n_cells)
        Flux of each gridded block's sectors, µmol m⁻² s⁻¹.
    fixed : ndarray (spinup + n_hours, n_cells) or None
        Flux of the sectors in no block.
    points : ndarray (spinup + n_hours, n_sources) or None
        Emission rate of every stack source, kg s⁻¹.
    """

    spinup: int
    gridded: dict
    fixed: np.ndarray | None = None
    points: np.ndarray | None = None

    def in_period(self, hourly: np.ndarray) -> np.ndarray:
        return hourly[self.spinup:]


@dataclass(frozen=True, eq=False)
class Sensitivities:
    """Transport results for the towers' observations and the background site's hours.

    ``background_row[i]`` is the row of observation i's background hour in the background
    arrays. ``points_*`` are (n, n_sources, hours_back + 1), ppm per (kg s⁻¹), or None.
    """

    tower: Footprints
    background: Footprints
    background_row: np.ndarray
    points_tower: np.ndarray | None = None
    points_background: np.ndarray | None = None

    def subset(self, rows) -> "Sensitivities":
        """The sensitivities of the observations ``rows`` (the background part is shared)."""
        mask = np.zeros(self.tower.n_obs, bool)
        mask[rows] = True
        return Sensitivities(self.tower.subset(mask), self.background,
                             self.background_row[mask],
                             None if self.points_tower is None else self.points_tower[mask],
                             self.points_background)


@dataclass(frozen=True, eq=False)
class ObservationModel:
    """``y = operator.forward(x) + offset`` for every row of the observation table."""

    operator: SparseObservationOperator
    offset: np.ndarray

    def subset(self, rows) -> "ObservationModel":
        return ObservationModel(SparseObservationOperator(self.operator.matrix[rows]),
                                self.offset[rows])

    def simulate(self, state: np.ndarray) -> np.ndarray:
        """Modelled tower-minus-background difference (ppm) for a state vector."""
        return self.operator.forward(state) + self.offset


def gridded_columns(footprints: Footprints, block: GriddedBlock, n_hours: int) -> scipy.sparse.csr_matrix:
    """The footprints' part of H for one gridded block: (n_obs, block.size)."""
    position = np.full(block.grid.size, -1, np.int64)
    position[block.cells] = np.arange(block.n_items)
    emission_hour = footprints.obs_hour[footprints.rows] - footprints.hours_back
    item = position[footprints.cells]
    keep = (emission_hour >= 0) & (emission_hour < n_hours) & (item >= 0)
    columns = (emission_hour[keep] // block.step_hours) * block.n_items + item[keep]
    return scipy.sparse.csr_matrix((footprints.values[keep], (footprints.rows[keep], columns)),
                                   shape=(footprints.n_obs, block.size))  # duplicates summed


def hourly_prediction(footprints: Footprints, hourly: np.ndarray, spinup: int) -> np.ndarray:
    """Σ footprint × hourly flux per observation; ``hourly`` covers hours −spinup onwards."""
    emission_hour = footprints.obs_hour[footprints.rows] - footprints.hours_back + spinup
    keep = (emission_hour >= 0) & (emission_hour < len(hourly))
    contributions = footprints.values[keep] * hourly[emission_hour[keep], footprints.cells[keep]]
    return np.bincount(footprints.rows[keep], contributions, minlength=footprints.n_obs)


def point_columns(sensitivity: np.ndarray, obs_hour: np.ndarray, block: PointSourceBlock,
                  rates: np.ndarray, spinup: int, n_hours: int) -> np.ndarray:
    """The stack plumes' part of H: (n_obs, block.size), dense (few sources)."""
    n_obs, n_sources, n_lags = sensitivity.shape
    in_period = rates[spinup:]
    step_means = block.step_means(in_period)                           # (n_steps, n_sources)
    step_of_hour = np.arange(n_hours) // block.step_hours
    means = step_means[step_of_hour]
    shape = np.where(means > 0, in_period / np.where(means > 0, means, 1.0), 1.0)
    columns = np.zeros((n_obs, block.n_steps, n_sources))
    for lag in range(n_lags):
        hour = obs_hour - lag
        ok = (hour >= 0) & (hour < n_hours)
        weights = sensitivity[ok, :, lag] * shape[hour[ok]]
        np.add.at(columns, (np.flatnonzero(ok), step_of_hour[hour[ok]]), weights)
    return columns.reshape(n_obs, block.size)


def point_prediction(sensitivity: np.ndarray, obs_hour: np.ndarray, rates: np.ndarray,
                     spinup: int) -> np.ndarray:
    """Σ sensitivity × hourly rate per observation; ``rates`` cover hours −spinup onwards."""
    total = np.zeros(sensitivity.shape[0])
    for lag in range(sensitivity.shape[2]):
        hour = obs_hour - lag + spinup
        ok = (hour >= 0) & (hour < len(rates))
        total[ok] += np.einsum("os,os->o", sensitivity[ok, :, lag], rates[hour[ok]])
    return total


def offset_columns(block: OffsetBlock, sites, obs_hour) -> scipy.sparse.csr_matrix:
    """The offset block's part of H: 1 in the column of each observation's group and step."""
    group = block.group_of(sites)
    rows = np.flatnonzero(group >= 0)
    columns = (np.asarray(obs_hour)[rows] // block.step_hours) * block.n_items + group[rows]
    return scipy.sparse.csr_matrix((np.ones(rows.size), (rows, columns)),
                                   shape=(len(sites), block.size))


def build_observation_model(layout, sites, sensitivities: Sensitivities,
                            priors: HourlyPriors, prior_state) -> ObservationModel:
    """The observation model of every tower observation (see the module docstring).

    Parameters
    ----------
    layout : StateLayout
    sites : array of str
        The tower of every observation.
    sensitivities : Sensitivities
    priors : HourlyPriors
    prior_state : ndarray
        x_b (:func:`cityflux.state.prior.prior_state`).
    """
    s, n_hours, spinup = sensitivities, layout.n_hours, priors.spinup
    tower_hour = s.tower.obs_hour
    background_hour = s.background.obs_hour

    def difference(tower_values, background_values):
        return tower_values - background_values[s.background_row]

    columns, full = [], np.zeros(s.tower.n_obs)
    for block in layout.blocks:
        if isinstance(block, GriddedBlock):
            part = (gridded_columns(s.tower, block, n_hours)
                    - gridded_columns(s.background, block, n_hours)[s.background_row])
            hourly = priors.gridded[block.name]
            full += difference(hourly_prediction(s.tower, hourly, spinup),
                               hourly_prediction(s.background, hourly, spinup))
        elif isinstance(block, PointSourceBlock):
            part = scipy.sparse.csr_matrix(difference(
                point_columns(s.points_tower, tower_hour, block, priors.points, spinup, n_hours),
                point_columns(s.points_background, background_hour, block, priors.points,
                              spinup, n_hours)))
            full += difference(point_prediction(s.points_tower, tower_hour, priors.points, spinup),
                               point_prediction(s.points_background, background_hour,
                                                priors.points, spinup))
        else:
            part = offset_columns(block, sites, tower_hour)
        columns.append(part)
    if priors.fixed is not None:
        full += difference(hourly_prediction(s.tower, priors.fixed, spinup),
                           hourly_prediction(s.background, priors.fixed, spinup))
    operator = SparseObservationOperator(scipy.sparse.hstack(columns).tocsr())
    return ObservationModel(operator, full - operator.forward(prior_state))
