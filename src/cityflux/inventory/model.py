"""An emission inventory on the domain grid: gridded sectors and stack point sources.

An :class:`Inventory` is what a prior (or a synthetic truth) is made of, wherever it came
from (raw sources via :mod:`cityflux.inventory.builder`, or a prior.nc read back):

- gridded sectors, each a sum of components that are either an annual-mean flux field
  times the sector's temporal profile (:class:`ProfiledField`: points below the stack
  threshold, roads, areas, static gridded inventories) or a flux tabulated on time
  intervals (:class:`TabulatedField`: an hourly biosphere, a monthly inventory);
- stack point sources (:class:`~cityflux.inventory.points.PointSources`), which are never
  also in the gridded sectors.

Fluxes are µmol m⁻² s⁻¹ of CO2; point-source rates kg CO2 s⁻¹.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..grid import Grid
from .points import PointSources
from .profiles import Profiles


@dataclass(frozen=True, eq=False)
class ProfiledField:
    """An annual-mean flux field (ny, nx) following the temporal profile ``profile``."""

    sector: str
    flux: np.ndarray
    profile: str

    def hourly(self, times, profiles: Profiles, utc_offset_hours: float, where: str):
        factors = profiles.factors(self.profile, times, utc_offset_hours)
        return factors[:, None, None] * self.flux[None]


@dataclass(frozen=True, eq=False)
class TabulatedField:
    """A flux tabulated on intervals ``[starts[i], ends[i])``: values (n, ny, nx)."""

    sector: str
    starts: np.ndarray
    ends: np.ndarray
    flux: np.ndarray

    def hourly(self, times, profiles, utc_offset_hours, where: str):
        """Each hour takes the interval that contains its middle."""
        middles = np.asarray(times, dtype="datetime64[ns]") + np.timedelta64(30, "m")
        index = np.searchsorted(self.starts, middles, side="right") - 1
        inside = (index >= 0) & (middles < self.ends[np.clip(index, 0, None)])
        if not inside.all():
            first = np.asarray(times, dtype="datetime64[ns]")[~inside][0]
            raise InputError(f"{where}: sector {self.sector!r} has no flux for "
                             f"{int((~inside).sum())} needed hour(s), the first starting "
                             f"{_minutes(first)} UTC; the file covers {_minutes(self.starts[0])} "
                             f"to {_minutes(self.ends[-1])}"
                             f"{' with gaps' if np.any(self.starts[1:] > self.ends[:-1]) else ''}"
                             " and must cover the period and the transport's hours back "
                             "before it")
        return self.flux[index]


def _minutes(time) -> str:
    return np.datetime_as_string(np.datetime64(time, "m"), unit="m")


@dataclass(frozen=True, eq=False)
class Inventory:
    """Gridded sectors and stack point sources on ``grid`` (see the module docstring)."""

    grid: Grid
    utc_offset_hours: float
    profiles: Profiles
    fields: tuple = ()
    points: PointSources = field(default_factory=PointSources.empty)
    source: str = "inventory"

    @property
    def sectors(self) -> tuple[str, ...]:
        """Gridded sector names, in first-seen order."""
        return tuple(dict.fromkeys(component.sector for component in self.fields))

    def gridded_hourly(self, sectors, times) -> np.ndarray:
        """Sum of the gridded flux of ``sectors`` at hour starts ``times``: (n, ny, nx)."""
        times = np.asarray(times, dtype="datetime64[ns]")
        sectors = {sectors} if isinstance(sectors, str) else set(sectors)  # never substrings
        total = np.zeros((times.size, *self.grid.shape))
        for component in self.fields:
            if component.sector in sectors:
                total += component.hourly(times, self.profiles, self.utc_offset_hours,
                                          self.source)
        return total

    def point_hourly(self, times) -> np.ndarray:
        """Stack emission rates (kg s⁻¹) at hour starts ``times``: (n, n_sources)."""
        return self.points.hourly(times, self.profiles, self.utc_offset_hours, self.source)
