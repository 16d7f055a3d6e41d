"""The layout of the state vector: its blocks in order and where each one lives."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..grid import Grid
from .blocks import GriddedBlock, OffsetBlock, PointSourceBlock


@dataclass(frozen=True, eq=False)
class StateLayout:
    """Blocks of the state vector, concatenated in order.

    Attributes
    ----------
    grid : Grid
    start : numpy.datetime64
        Start of the period (UTC); every block's time steps count from here.
    n_hours : int
        Length of the period.
    report_step_hours : int
        Step of reported region totals and gridded output fields.
    blocks : tuple
        GriddedBlock, PointSourceBlock and OffsetBlock objects with unique names.
    """

    grid: Grid
    start: np.datetime64
    n_hours: int
    report_step_hours: int
    blocks: tuple

    def __post_init__(self):
        names = [block.name for block in self.blocks]
        if len(set(names)) != len(names):
            raise ValueError(f"state block names must be unique, got {names}")
        if not self.blocks:
            raise ValueError("the state needs at least one block")
        for block in self.blocks:
            if block.n_steps * block.step_hours != self.n_hours:
                raise ValueError(f"block {block.name}: {block.n_steps} steps of "
                                 f"{block.step_hours} h do not cover {self.n_hours} h")
            if block.size == 0:
                raise ValueError(f"block {block.name} has no elements")

    @functools.cached_property
    def _edges(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum([block.size for block in self.blocks])])

    @property
    def size(self) -> int:
        return int(self._edges[-1])

    @property
    def names(self) -> list[str]:
        return [block.name for block in self.blocks]

    def index(self, name: str) -> int:
        return self.names.index(name)

    def block(self, name: str):
        return self.blocks[self.index(name)]

    def slice(self, name: str) -> slice:
        i = self.index(name)
        return slice(int(self._edges[i]), int(self._edges[i + 1]))

    def split(self, vector) -> dict[str, np.ndarray]:
        """The parts of a state vector (or of the rows of a matrix), by block name."""
        vector = np.asarray(vector)
        return {block.name: vector[self.slice(block.name)] for block in self.blocks}

    def of_type(self, kind) -> list:
        return [block for block in self.blocks if isinstance(block, kind)]

    @property
    def gridded(self) -> list[GriddedBlock]:
        return self.of_type(GriddedBlock)

    @property
    def points(self) -> PointSourceBlock | None:
        found = self.of_type(PointSourceBlock)
        return found[0] if found else None

    @property
    def offsets(self) -> list[OffsetBlock]:
        return self.of_type(OffsetBlock)

    @property
    def n_report_steps(self) -> int:
        return self.n_hours // self.report_step_hours

    @property
    def report_step_starts(self) -> np.ndarray:
        return self.start + np.arange(self.n_report_steps) * np.timedelta64(
            self.report_step_hours, "h")

    def hour_times(self, first: int = 0, count: int | None = None) -> np.ndarray:
        """Start times of hours ``first, first + 1, ...`` counted from the period start
        (negative hours lie before it)."""
        count = self.n_hours - first if count is None else count
        return self.start + (first + np.arange(count)) * np.timedelta64(1, "h")
