"""How the state vector maps to what the inversion observes.

The observed quantity is the difference between a tower's mole fraction and the
background site's at the same hour, ``y = c_tower − c_background`` (ppm). Both sites see
the domain's fluxes, so the operator is the difference of their footprints,
``H = H_tower − H_background``: an upwind site that catches some of the domain's own signal
(rural uptake, or the city when the wind turns) does not bias the result.

The state holds the mean flux of each flux time step; within a step the flux keeps the
hourly shape of the prior, ``f(hour) = x_step + (prior(hour) − prior_step_mean)``. The
within-step part is known, so it enters as an offset: ``y = H_step x + H_hour a`` with ``a``
the prior's hourly anomaly about its step means. Without it, afternoon observations that
see the hours of peak uptake or traffic would be compared with 6-hour means (aggregation
error).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .inventory.gridded import block_mean
from .state import StateLayout
from .transport.footprints import Footprints, SparseObservationOperator, observation_operator


@dataclass(frozen=True)
class ObservationModel:
    """``y = operator.forward(x) + offset`` for every row of the observation table."""

    operator: SparseObservationOperator
    offset: np.ndarray

    def subset(self, rows: np.ndarray) -> "ObservationModel":
        return ObservationModel(SparseObservationOperator(self.operator.matrix[rows]),
                                self.offset[rows])

    def simulate(self, state: np.ndarray) -> np.ndarray:
        """Modelled tower-minus-background difference (ppm) for a state vector."""
        return self.operator.forward(state) + self.offset


def difference_model(tower: Footprints, background: Footprints, background_row: np.ndarray,
                     layout: StateLayout, prior_hourly: np.ndarray) -> ObservationModel:
    """The observation model of tower-minus-background differences.

    Parameters
    ----------
    tower : Footprints
        One footprint per observation.
    background : Footprints
        Footprints of the background site, one per distinct hour.
    background_row : ndarray of int
        For each observation, its row in ``background``.
    layout : StateLayout
    prior_hourly : ndarray (n_hours, ny, nx)
        The prior flux at hourly resolution, µmol m⁻² s⁻¹.
    """

    def difference(step_hours: int) -> SparseObservationOperator:
        tower_op = observation_operator(tower, layout.n_hours, step_hours).matrix
        background_op = observation_operator(background, layout.n_hours, step_hours).matrix
        return SparseObservationOperator(tower_op - background_op[background_row])

    step_means = block_mean(prior_hourly, layout.step_hours)
    anomaly = prior_hourly - np.repeat(step_means, layout.step_hours, axis=0)
    offset = difference(1).forward(anomaly.ravel())
    return ObservationModel(difference(layout.step_hours), offset)
