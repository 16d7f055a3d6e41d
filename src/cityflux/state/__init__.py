"""The state vector as a list of named blocks (see :mod:`cityflux.state.blocks`)."""

from .blocks import GriddedBlock, OffsetBlock, PointSourceBlock
from .layout import StateLayout

__all__ = ["GriddedBlock", "OffsetBlock", "PointSourceBlock", "StateLayout"]
