"""Footprints and the observation operator H built from them.

A footprint maps the flux of every grid cell in every hour before an observation to the
mole fraction enhancement it causes: ``Δc = Σ foot × flux`` with foot in ppm per
(µmol m⁻² s⁻¹), the STILT convention. Footprints are stored sparsely as triplets
(observation, cell, hours back) with values; the operator H over a state vector of
``n_steps`` flux time steps × ``n_cells`` cells (time-major, cells C-ordered) sums them
into the time step in which each contribution was emitted. Contributions emitted before
the period starts fall outside the state and are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse

from .footprint_kernels import compact


@dataclass(frozen=True)
class Footprints:
    """Sparse footprints of ``n_obs`` observations on a grid of ``n_cells`` cells.

    Attributes
    ----------
    obs_hour : ndarray of int (n_obs,)
        Hour of each observation, counted from the start of the period.
    rows, cells, hours_back : ndarray of int (nnz,)
        Observation, cell and whole hours between emission and observation.
    values : ndarray of float (nnz,)
        ppm per (µmol m⁻² s⁻¹).
    n_cells : int
    background : ndarray of float (n_obs,) or None
        Each observation's modelled background, ppm, when the transport gives one
        (:mod:`cityflux.transport.boundary`).
    """

    obs_hour: np.ndarray
    rows: np.ndarray
    cells: np.ndarray
    hours_back: np.ndarray
    values: np.ndarray
    n_cells: int
    background: np.ndarray | None = None

    @property
    def n_obs(self) -> int:
        return self.obs_hour.size

    def time_integrated(self) -> scipy.sparse.csr_matrix:
        """Footprints summed over hours back, (n_obs, n_cells)."""
        return scipy.sparse.csr_matrix((self.values, (self.rows, self.cells)),
                                       shape=(self.n_obs, self.n_cells))

    def subset(self, mask: np.ndarray) -> "Footprints":
        """The footprints of the observations where ``mask`` is true, renumbered."""
        mask = np.asarray(mask, bool)
        new_index = np.cumsum(mask) - 1
        keep = mask[self.rows]
        return Footprints(self.obs_hour[mask], new_index[self.rows[keep]], self.cells[keep],
                          self.hours_back[keep], self.values[keep], self.n_cells,
                          None if self.background is None else self.background[mask])

    @classmethod
    def from_dense(cls, obs_hour, buffer: np.ndarray) -> "Footprints":
        """The non-zero entries of a dense (n_obs, n_back, n_cells) buffer, hour back k at
        index k; the buffer is left all zero for reuse."""
        empty = np.empty(0, np.int64)
        nnz = int(compact(buffer, empty, empty, empty, np.empty(0)).sum())
        rows, back, cells = (np.empty(nnz, np.int64) for _ in range(3))
        values = np.empty(nnz)
        compact(buffer, rows, back, cells, values)
        return cls(np.asarray(obs_hour, np.int64), rows, cells, back, values, buffer.shape[2])

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The footprints as plain arrays (for caching)."""
        arrays = {"obs_hour": self.obs_hour, "rows": self.rows, "cells": self.cells,
                  "hours_back": self.hours_back, "values": self.values,
                  "n_cells": np.array(self.n_cells)}
        if self.background is not None:
            arrays["background"] = self.background
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> "Footprints":
        return cls(arrays["obs_hour"], arrays["rows"], arrays["cells"], arrays["hours_back"],
                   arrays["values"], int(arrays["n_cells"]), arrays.get("background"))

    @classmethod
    def concatenate(cls, parts: list["Footprints"]) -> "Footprints":
        offsets = np.cumsum([0] + [p.n_obs for p in parts[:-1]])
        return cls(np.concatenate([p.obs_hour for p in parts]),
                   np.concatenate([p.rows + o for p, o in zip(parts, offsets)]),
                   np.concatenate([p.cells for p in parts]),
                   np.concatenate([p.hours_back for p in parts]),
                   np.concatenate([p.values for p in parts]), parts[0].n_cells,
                   None if any(p.background is None for p in parts)
                   else np.concatenate([p.background for p in parts]))


class SparseObservationOperator:
    """A linear observation operator held as a sparse matrix (m × n)."""

    def __init__(self, matrix):
        self.matrix = scipy.sparse.csr_matrix(matrix)
        self._transpose = self.matrix.T.tocsr()

    @property
    def shape(self) -> tuple[int, int]:
        return self.matrix.shape

    def forward(self, state):
        """``H x`` for x of shape (n,) or (n, k)."""
        return self.matrix @ np.asarray(state, dtype=float)

    def adjoint(self, values):
        """``Hᵀ y`` for y of shape (m,) or (m, k)."""
        return self._transpose @ np.asarray(values, dtype=float)


def observation_operator(footprints: Footprints, n_hours: int,
                         step_hours: int) -> SparseObservationOperator:
    """H over a state of ``n_hours // step_hours`` flux time steps × cells.

    ``step_hours`` = 1 gives the hourly operator (used to simulate observations from an
    hourly flux).
    """
    n_steps = n_hours // step_hours
    emission_hour = footprints.obs_hour[footprints.rows] - footprints.hours_back
    inside = (emission_hour >= 0) & (emission_hour < n_hours)
    columns = (emission_hour[inside] // step_hours) * footprints.n_cells + footprints.cells[inside]
    matrix = scipy.sparse.coo_matrix(
        (footprints.values[inside], (footprints.rows[inside], columns)),
        shape=(footprints.n_obs, n_steps * footprints.n_cells))
    return SparseObservationOperator(matrix.tocsr())  # duplicates are summed
