"""One interface for every transport model, and the registry that picks one by config.

A transport links what is emitted to what a receptor measures:

- ``surface_footprints(receptors)``: sparse footprints of gridded surface fluxes, ppm per
  (µmol m⁻² s⁻¹), binned by cell and whole hours back (:class:`Footprints`);
- ``point_sensitivities(sources, receptors)``: the sensitivity of each receptor to each
  stack source per hour back, ppm per (kg CO2 s⁻¹), shape (n_receptors, n_sources,
  hours_back + 1), or summed over hours back for constant candidate sources.

The pipeline asks :func:`make_transport` for the model named by ``transport.model`` and never
calls a model's kernels itself. Every model also gives ``cache_parts()``: everything its
results depend on, for the footprint cache key.
"""

from __future__ import annotations

import abc
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True, eq=False)
class Receptors:
    """Where and when the transport is asked for sensitivities.

    Attributes
    ----------
    site : ndarray of str
    x, y : ndarray of float
        Position in the grid's metric frame, m.
    height : ndarray of float
        Inlet height above ground, m.
    hour : ndarray of int
        Observation hour counted from the period start.
    """

    site: np.ndarray
    x: np.ndarray
    y: np.ndarray
    height: np.ndarray
    hour: np.ndarray

    def __len__(self) -> int:
        return int(self.hour.size)

    def subset(self, rows) -> "Receptors":
        return Receptors(self.site[rows], self.x[rows], self.y[rows], self.height[rows],
                         self.hour[rows])


class Transport(abc.ABC):
    """Base class of transport models (see the module docstring)."""

    hours_back: int

    @abc.abstractmethod
    def surface_footprints(self, receptors: Receptors, progress: bool = False):
        """Footprints of gridded surface fluxes for every receptor."""

    @abc.abstractmethod
    def point_sensitivities(self, sources, receptors: Receptors, integrate: bool = False,
                            progress: bool = False) -> np.ndarray:
        """Sensitivities to stack sources (see the module docstring)."""

    @abc.abstractmethod
    def cache_parts(self) -> tuple:
        """Everything the results depend on besides the receptors and sources."""


def code_fingerprint(package: Path | None = None) -> str:
    """SHA-256 of the source of every module of the transport package (and the met and
    units modules it reads its inputs with), so cached footprints expire when code changes."""
    package = package or Path(__file__).parent
    digest = hashlib.sha256()
    files = sorted(package.glob("*.py")) + [package.parent / "met.py", package.parent / "units.py"]
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def make_transport(settings, grid, met, start, where: str = "meteorology") -> Transport:
    """The transport model ``settings.model`` names (a :class:`TransportConfig`)."""
    from ..config import TransportModel
    from .plume import GaussianPlumeTransport

    models = {TransportModel.GAUSSIAN_PLUME: GaussianPlumeTransport}
    return models[settings.model](settings, grid, met, start, where)
