"""Gaussian-plume footprints of observations: xarray-free driver around the kernels.

For each observation (site, hour) a steady plume under that hour's meteorology links every
grid cell to the receptor; the contribution of a cell is attributed to the hour in which it
was emitted, ``travel time = downwind distance / wind speed`` before the observation.
Winds are taken as eastward/northward in the grid's metric frame (the meridian
convergence of a city-sized projected grid, well under a degree, is neglected).
"""

from __future__ import annotations

import logging

import numpy as np

from ..errors import InputError
from ..units import air_molar_density
from . import kernels
from .base import Receptors, Transport, code_fingerprint, settings_key
from .footprints import Footprints
from .stacks import StackSources, stack_sensitivities
from .stability import (StabilityMethod, solar_elevation_deg, stability_from_obukhov,
                        stability_from_wind_and_radiation)

log = logging.getLogger(__name__)

#: Cells closer than this many cell widths to a receptor are integrated on sub-cells.
NEAR_FIELD_FACTOR = 3.0
#: Receptors computed per kernel call (one progress-bar step).
CHUNK = 64
#: Height of the winds in the meteorology, m (CF eastward_wind at 10 m, as ERA5's u10).
WIND_REFERENCE_HEIGHT_M = 10.0


def _progress(chunks, show: bool):
    """Chunks, with a terminal progress bar when ``show``."""
    if not show:
        return chunks
    from tqdm import tqdm  # plain tqdm: the terminal one, no notebook widget needed

    return tqdm(chunks, desc="footprints", unit="chunk", leave=False)


def stability_classes(met: dict, times: np.ndarray, settings, lonlat: tuple[float, float],
                      where: str = "meteorology") -> np.ndarray:
    """Pasquill class (0..5 = A..F) of each observation hour."""
    if settings.stability == StabilityMethod.OBUKHOV_LENGTH:
        if "obukhov_length" not in met:
            raise InputError(f"{where}: transport.stability is 'obukhov_length' but the file "
                             "has no obukhov_length variable")
        return stability_from_obukhov(met["obukhov_length"], settings.roughness_length_m)
    if "cloud_fraction" not in met:
        raise InputError(f"{where}: transport.stability is 'wind_and_radiation' but the file "
                         "has no cloud_area_fraction variable")
    speed = np.hypot(met["eastward_wind"], met["northward_wind"])
    elevation = solar_elevation_deg(times, lonlat[1], lonlat[0])
    return stability_from_wind_and_radiation(speed, elevation, met["cloud_fraction"])


def plume_footprints(grid, receptor_x, receptor_y, receptor_z, obs_hour, met: dict,
                     stability: np.ndarray, settings, source_height=None,
                     progress: bool = False) -> Footprints:
    """Footprints of observations at receptors (metric-frame m) under hourly met.

    Parameters
    ----------
    grid : Grid
    receptor_x, receptor_y, receptor_z : ndarray (m,)
        Receptor position in the grid's metric frame and inlet height above ground, m.
    obs_hour : ndarray of int (m,)
        Observation hour counted from the period start.
    met : dict of ndarray (m,)
        Meteorology at each observation hour (see :mod:`cityflux.met`).
    stability : ndarray of int (m,)
        Pasquill class of each observation hour.
    settings : TransportConfig
    source_height : ndarray (ny, nx), optional
        Release height of each cell, m; default ``settings.source_height_m`` everywhere.
    progress : bool
        Show a progress bar.
    """
    cell_x, cell_y = (a.ravel() for a in grid.metric_xy)
    half_dx, half_dy = (a.ravel() / 2 for a in grid.metric_cell_size)
    area = grid.cell_area.ravel()
    heights = (np.full(grid.size, settings.source_height_m) if source_height is None
               else np.asarray(source_height, float).ravel())
    density = air_molar_density(met["surface_pressure"], met["air_temperature"])

    parts = []
    n_obs = len(obs_hour)
    for start in _progress(range(0, n_obs, CHUNK), progress):
        chunk = slice(start, min(start + CHUNK, n_obs))
        size = chunk.stop - chunk.start
        foot = np.empty((size, grid.size))
        travel = np.empty((size, grid.size))
        kernels.plume_footprints(
            cell_x, cell_y, area, half_dx, half_dy, heights,
            np.ascontiguousarray(receptor_x[chunk], float),
            np.ascontiguousarray(receptor_y[chunk], float),
            np.ascontiguousarray(receptor_z[chunk], float),
            np.ascontiguousarray(met["eastward_wind"][chunk], float),
            np.ascontiguousarray(met["northward_wind"][chunk], float),
            np.ascontiguousarray(met["boundary_layer_height"][chunk], float),
            np.ascontiguousarray(stability[chunk], np.int64),
            np.ascontiguousarray(density[chunk], float),
            settings.dispersion.code, settings.min_wind_speed_m_s,
            settings.hours_back * 3600.0, NEAR_FIELD_FACTOR, settings.near_field_subcells,
            foot, travel)
        rows, cells = np.nonzero(foot)
        parts.append(Footprints(np.asarray(obs_hour[chunk], np.int64), rows, cells,
                                (travel[rows, cells] // 3600.0).astype(np.int64),
                                foot[rows, cells], grid.size))
    if not parts:
        raise InputError("no observations to compute footprints for")
    footprints = Footprints.concatenate(parts)
    log.info("footprints: %d observations, %d non-zero cell-hours", n_obs, footprints.values.size)
    return footprints


class GaussianPlumeTransport(Transport):
    """Steady Gaussian plumes under hourly, domain-representative meteorology.

    Surface fluxes: for each observation hour a steady plume under that hour's meteorology
    links every cell to the receptor (:func:`plume_footprints`). Stack sources: the plume
    of each emission hour under that hour's meteorology, with plume rise, reaching the
    receptor after its travel time (:mod:`cityflux.transport.stacks`).
    """

    def __init__(self, settings, grid, met, start, where: str = "meteorology"):
        self.settings, self.grid, self.met, self.where = settings, grid, met, where
        self.start = np.datetime64(start, "ns")
        self.hours_back = int(settings.hours_back)

    def _times(self, hours) -> np.ndarray:
        return self.start + np.asarray(hours, np.int64) * np.timedelta64(1, "h")

    def surface_footprints(self, receptors: Receptors, progress: bool = False) -> Footprints:
        times = self._times(receptors.hour)
        met = self.met.at(times, self.where)
        stability = stability_classes(met, times, self.settings, self.grid.centre_lonlat,
                                      self.where)
        return plume_footprints(self.grid, receptors.x, receptors.y, receptors.height,
                                receptors.hour, met, stability, self.settings,
                                progress=progress)

    def point_sensitivities(self, sources: StackSources, receptors: Receptors,
                            integrate: bool = False, progress: bool = False) -> np.ndarray:
        first = -self.hours_back
        hours = np.arange(first, int(receptors.hour.max()) + 1)
        times = self._times(hours)
        met = self.met.at(times, f"{self.where} (stack plumes need the {self.hours_back} "
                                 "hours before the period too)")
        stability = stability_classes(met, times, self.settings, self.grid.centre_lonlat,
                                      self.where)
        return stack_sensitivities(sources, receptors.x, receptors.y, receptors.height,
                                   receptors.hour - first, met, stability, self.settings,
                                   self.hours_back, integrate_lags=integrate, progress=progress,
                                   plume_rise=self.settings.plume_rise,
                                   reference_height_m=WIND_REFERENCE_HEIGHT_M)

    def check_coverage(self, last_hour: int) -> None:
        self.met.at(self._times(np.arange(-self.hours_back, last_hour + 1)),
                    f"{self.where} (the period and the {self.hours_back} hours back before it)")

    def cache_parts(self) -> tuple:
        return (code_fingerprint(), settings_key(self.settings), self.grid, self.start, self.met.time,
                self.met.values)


def stack_sources(points, grid) -> StackSources:
    """The stack sources of a :class:`~cityflux.inventory.points.PointSources` table in the
    grid's metric frame."""
    x, y = grid.to_metric(points.lon, points.lat)
    return StackSources(np.asarray(x, float), np.asarray(y, float), points.stack_height_m,
                        buoyancy_flux_m4_s3=points.buoyancy_flux_m4_s3,
                        exit_velocity_m_s=points.exit_velocity_m_s,
                        exit_temperature_k=points.exit_temperature_k,
                        diameter_m=points.diameter_m)
