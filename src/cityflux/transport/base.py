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
import dataclasses
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

    def check_coverage(self, last_hour: int) -> None:
        """Raise an InputError naming what is missing when the inputs cannot serve
        receptors up to hour ``last_hour`` (from the period start) with the emissions of the
        ``hours_back`` hours before the period; by default there is nothing to check."""


def settings_key(settings):
    """The transport settings without those that change where results are computed but not
    what they are (the scheduler), for cache keys."""
    return dataclasses.replace(settings, scheduler=None)


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


def make_transport(config, grid, sites=None) -> Transport:
    """The transport model ``config.transport.model`` names, with the inputs it reads.

    Parameters
    ----------
    config : RunConfig
    grid : Grid
    sites : DataFrame, optional
        The sites table (site, lon, lat): imported STILT files without a site name are
        matched to the nearest site.
    """
    from ..config import PlumeForm, TransportModel

    settings = config.transport
    start = np.datetime64(config.period.start, "ns")
    path = config.inputs.meteorology
    if settings.model == TransportModel.IMPORTED:
        from .imported import transport_from_files

        return transport_from_files(settings, grid, start, sites,
                                    config.inputs.boundary_conditions)
    if settings.model == TransportModel.GAUSSIAN_PLUME and \
            settings.plume_form == PlumeForm.STEADY:
        from ..errors import InputError
        from ..met import read_meteorology
        from .plume import GaussianPlumeTransport

        try:
            met = read_meteorology(path)
        except InputError as exc:
            if "expected ('time',)" not in str(exc):
                raise
            raise InputError(f"{exc}; the steady plume reads one column: set "
                             "transport.plume_form: trajectory (or transport.model: "
                             "particles) to use meteorological fields") from None
        return GaussianPlumeTransport(settings, grid, met, start, str(path))
    from ..met_fields import read_met_field

    met = read_met_field(path, grid, roughness_length_m=settings.roughness_length_m)
    if settings.model == TransportModel.PARTICLES:
        from .particle_transport import ParticleTransport

        boundary = config.inputs.boundary_conditions
        if boundary is not None:
            from .boundary import read_boundary_conditions

            boundary = read_boundary_conditions(boundary)
        return ParticleTransport(settings, grid, met, start, config.seed, str(path),
                                 boundary=boundary)
    from .trajectory_plume import TrajectoryPlumeTransport

    return TrajectoryPlumeTransport(settings, grid, met, start, str(path))
