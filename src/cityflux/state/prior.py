"""The prior state x_b, its error covariance B, and the error parameters they depend on."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..config import Auto
from ..covariance import BlockDiagonalCovariance
from .blocks import GriddedBlock, OffsetBlock, PointSourceBlock

#: Starting values of parameters set to ``auto`` (before they are estimated).
AUTO_START = {"error_scale": 1.0, "correlation_length_km": 5.0, "error_ppm": 1.0,
              "model_data_mismatch_ppm": 2.0}


def _value(setting, key: str) -> float:
    return AUTO_START[key] if isinstance(setting, Auto) else float(setting)


@dataclass(frozen=True)
class ErrorParameters:
    """The numbers that scale B and R.

    Attributes
    ----------
    block_scale : dict of str to float
        Factor on every σ of a gridded or point block; the σ (ppm) of an offset block.
    length_km : dict of str to float
        Correlation length of each gridded block.
    mismatch_ppm : dict of str to float
        Model-data mismatch σ of each mismatch group (``all``, a site, or ``site/day``,
        ``site/night``).
    """

    block_scale: dict = field(default_factory=dict)
    length_km: dict = field(default_factory=dict)
    mismatch_ppm: dict = field(default_factory=dict)

    def with_values(self, **changes) -> "ErrorParameters":
        merged = {key: {**getattr(self, key), **value} for key, value in changes.items()}
        return replace(self, **merged)


def initial_error_parameters(layout, observations, mismatch_groups) -> ErrorParameters:
    """Parameters from the config, with ``auto`` ones at their starting values."""
    scale, length = {}, {}
    for block in layout.blocks:
        if isinstance(block, GriddedBlock):
            scale[block.name] = _value(block.settings.error_scale, "error_scale")
            length[block.name] = _value(block.settings.correlation_length_km,
                                        "correlation_length_km")
        elif isinstance(block, PointSourceBlock):
            scale[block.name] = _value(block.settings.error_scale, "error_scale")
        else:
            scale[block.name] = _value(block.settings.error_ppm, "error_ppm")
    mismatch = _value(observations.model_data_mismatch_ppm, "model_data_mismatch_ppm")
    return ErrorParameters(scale, length, {group: mismatch for group in mismatch_groups})


def prior_state(layout, priors) -> np.ndarray:
    """x_b: every block's prior, concatenated in layout order."""
    parts = []
    for block in layout.blocks:
        if isinstance(block, GriddedBlock):
            parts.append(block.prior_state(priors.in_period(priors.gridded[block.name])))
        elif isinstance(block, PointSourceBlock):
            parts.append(block.prior_state(priors.in_period(priors.points)))
        else:
            parts.append(block.prior_state())
    return np.concatenate(parts)


def block_covariance(block, prior_part, parameters: ErrorParameters):
    """B of one block under the given error parameters."""
    scale = parameters.block_scale[block.name]
    if isinstance(block, GriddedBlock):
        return block.covariance(prior_part, scale, parameters.length_km[block.name])
    if isinstance(block, PointSourceBlock):
        return block.covariance(prior_part, scale)
    if isinstance(block, OffsetBlock):
        return block.covariance(scale)
    raise TypeError(f"unknown block type {type(block).__name__}")


def prior_covariance(layout, x_b, parameters: ErrorParameters) -> BlockDiagonalCovariance:
    """B = diag(B_block, ...) in layout order."""
    parts = layout.split(x_b)
    return BlockDiagonalCovariance([block_covariance(block, parts[block.name], parameters)
                                    for block in layout.blocks])
