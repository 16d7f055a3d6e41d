"""The backward particle model behind the common :class:`~cityflux.transport.base.Transport`
interface (``transport.model: particles``).

The particles move in the grid's metric frame (:attr:`cityflux.grid.Grid.metric_crs`),
where the :class:`~cityflux.metfield.MetField` is. A projected inversion grid *is* that
frame, so particles are binned straight into its cells. A lat/lon grid is not regular in
metres: particles are then binned on a regular work grid in the metric frame, half as
coarse as the finest inversion cell, and the footprints are moved to the inversion grid by
exact area overlap as amounts per cell (:meth:`ImportedFootprints.regridded
<cityflux.transport.imported.ImportedFootprints.regridded>` explains why amounts).

Each receptor's particles draw their random numbers from streams keyed by the config seed
and the receptor itself (position, heights, observation time), so a receptor's footprint
does not depend on which other receptors are computed with it, in which order, or on how
many threads or processes: what :func:`~cityflux.transport.parallel.map_receptors` needs
to cache and distribute receptors.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import scipy.sparse as sp

from ..errors import InputError
from ..grid import Grid
from .base import Receptors, Transport, code_fingerprint, settings_key
from .footprints import Footprints
from .particles import ParticleSettings, particle_footprints

log = logging.getLogger(__name__)


def particle_settings(settings) -> ParticleSettings:
    """The :class:`ParticleSettings` of a config's ``transport.particles`` section."""
    p = settings.particles
    return ParticleSettings(step_fraction=p.step_fraction, max_step_s=p.max_step_s,
                            hyper_near_field=p.hyper_near_field, smooth_factor=p.smooth_factor)


def work_grid(grid: Grid) -> Grid:
    """The regular grid in the metric frame the particles are binned on: ``grid`` itself when
    it is projected, else a grid covering it at half its finest cell size."""
    if not grid.is_geographic:
        return grid
    x, y = grid.metric_xy
    dx, dy = grid.metric_cell_size
    step = 0.5 * float(min(dx.min(), dy.min()))
    corners_x = np.concatenate([x.ravel() - dx.ravel() / 2, x.ravel() + dx.ravel() / 2])
    corners_y = np.concatenate([y.ravel() - dy.ravel() / 2, y.ravel() + dy.ravel() / 2])
    west, east = np.floor(corners_x.min() / step) * step, np.ceil(corners_x.max() / step) * step
    south, north = (np.floor(corners_y.min() / step) * step,
                    np.ceil(corners_y.max() / step) * step)
    return Grid(grid.metric_crs.to_wkt(), float(west), float(east), step, float(south),
                float(north), step)


class ParticleTransport(Transport):
    """Footprints from backward particles (:mod:`cityflux.transport.particles`).

    Parameters
    ----------
    settings : TransportConfig
    grid : Grid
        The inversion grid.
    met : MetField
        Meteorology in ``grid.metric_crs``.
    start : datetime64
        Hour 0 of the receptors.
    seed : int
        The config seed.
    where : str
        Names the meteorology in error messages.
    release_offset_hours : float
        When in its hour a receptor's particles are released (0.5: mid-hour, the centre of
        an hourly mean).
    boundary : BoundaryConditions or None
        With boundary conditions, every footprint carries its receptor's background, the
        mean of the boundary values at its particles' exits
        (:func:`~cityflux.transport.boundary.exit_background`).
    """

    def __init__(self, settings, grid: Grid, met, start, seed: int = 0,
                 where: str = "meteorology", release_offset_hours: float = 0.5,
                 boundary=None):
        self.settings, self.grid, self.met, self.where = settings, grid, met, where
        self.boundary = boundary
        self.start = np.datetime64(start, "ns")
        self.seed = int(seed)
        self.hours_back = int(settings.hours_back)
        self.particle_settings = replace(particle_settings(settings),
                                         release_offset_hours=float(release_offset_hours))
        self.work = work_grid(grid)
        self.axes = (self.work.x_start, self.work.x_step, self.work.nx, self.work.y_start,
                     self.work.y_step, self.work.ny)
        self._to_grid = None
        if self.work is not grid:
            from ..inventory.regrid import ConservativeRegridder

            self._to_grid = ConservativeRegridder(self.work, grid).weights.T.tocsr()

    def _run(self, receptors: Receptors, progress: bool):
        try:
            return particle_footprints(self.met, self.axes, receptors, self.start,
                                       n_particles=self.settings.particles.n_particles,
                                       hours_back=self.hours_back, seed=self.seed,
                                       settings=self.particle_settings, progress=progress)
        except ValueError as exc:
            raise InputError(f"{self.where}: particle model: {exc}") from None

    def surface_footprints(self, receptors: Receptors, progress: bool = False) -> Footprints:
        footprints, exits = self._run(receptors, progress)
        if self.boundary is not None:
            from .boundary import exit_background

            released = (self.start + np.asarray(receptors.hour, np.int64) * np.timedelta64(1, "h")
                        + np.timedelta64(int(self.particle_settings.release_offset_hours
                                             * 3600), "s"))
            footprints = replace(footprints, background=exit_background(
                self.boundary, exits, self.grid.metric_crs, released))
        return self._on_grid(footprints)

    def _on_grid(self, footprints: Footprints) -> Footprints:
        """Footprints on the work grid moved to the inversion grid (amounts per cell)."""
        if self._to_grid is None:
            return footprints
        n_back = self.hours_back + 1
        key = footprints.rows * n_back + footprints.hours_back
        unique, row = np.unique(key, return_inverse=True)
        matrix = sp.csr_matrix((footprints.values, (row.ravel(), footprints.cells)),
                               shape=(unique.size, self.work.size))
        moved = sp.coo_matrix(matrix @ self._to_grid)
        moved.eliminate_zeros()
        return Footprints(footprints.obs_hour, unique[moved.row] // n_back,
                          moved.col.astype(np.int64), unique[moved.row] % n_back,
                          moved.data, self.grid.size, footprints.background)

    def point_sensitivities(self, sources, receptors: Receptors, integrate: bool = False,
                            progress: bool = False) -> np.ndarray:
        """Stack sensitivities, ppm per (kg CO2 s⁻¹), from the particles' residence about
        each stack's effective height.

        A stack emitting Q in the hour e is taken as a source spread over its work-grid cell
        (area A) and through the band ``transport.particles.stack_layer_m`` deep centred on
        its effective height in that hour (stack height + Briggs rise with the meteorology
        at the stack, as the trajectory plume computes it): its sensitivity is the band
        footprint of that cell × 1e6 / (M_CO2 A). The particles are those of
        :meth:`surface_footprints` (the same random streams).
        """
        from ..units import MOLAR_MASS_CO2
        from . import trajectory_kernels as tk
        from .particles import Bands, pack_met, particle_band_footprints
        from .trajectory_plume import rise_table, stability_classes

        hours = np.asarray(receptors.hour, np.int64)
        n_rec, n_src = hours.size, sources.size
        out = np.zeros((n_rec, n_src, 1 if integrate else self.hours_back + 1))
        if n_rec == 0 or n_src == 0:
            return out[:, :, 0] if integrate else out
        packed = pack_met(self.met)
        first_hour = int(hours.min()) - self.hours_back
        n_hours = int(hours.max()) - first_hour + 1
        first_hour_s = float(packed.seconds(self.start)) + first_hour * 3600.0
        rise = rise_table(packed, stability_classes(self.met, self.settings, self.where),
                          self.settings, sources, first_hour_s, n_hours)
        height = rise[:, :, tk.R_BASE] + rise[:, :, tk.R_FINAL]          # (n_src, n_hours)
        depth = float(self.settings.particles.stack_layer_m)
        resolution = depth / 5.0   # heights are grouped to a fifth of the band depth
        centres, band_of = np.unique(np.round(height / resolution) * resolution,
                                     return_inverse=True)
        band_of = band_of.reshape(height.shape)
        low = np.maximum(centres - depth / 2.0, 0.0)
        work = self.work
        ix = np.floor((np.asarray(sources.x_m, float) - work.x_start) / work.x_step)
        iy = np.floor((np.asarray(sources.y_m, float) - work.y_start) / work.y_step)
        inside = (ix >= 0) & (ix < work.nx) & (iy >= 0) & (iy < work.ny)
        if not inside.all():
            log.warning("%d stack(s) outside the domain get no signal from the particles",
                        int((~inside).sum()))
        cell = np.where(inside, iy * work.nx + ix, -1).astype(np.int64)
        cells, slot = np.unique(cell[inside], return_inverse=True)
        bands = Bands.of(cells, work.size, low, low + depth)
        factor = 1e6 / (MOLAR_MASS_CO2 * work.x_step * work.y_step)
        sources_in = np.flatnonzero(inside)
        chunk = max(1, int(2e7 // max(1, self.hours_back * centres.size * cells.size)))
        for first in range(0, n_rec, chunk):
            part = np.arange(first, min(first + chunk, n_rec))
            subset = receptors.subset(part)
            try:
                feet = particle_band_footprints(
                    self.met, self.axes, subset, self.start, bands,
                    n_particles=self.settings.particles.n_particles,
                    hours_back=self.hours_back, seed=self.seed,
                    settings=self.particle_settings, progress=progress)
            except ValueError as exc:
                raise InputError(f"{self.where}: particle model: {exc}") from None
            for k in range(self.hours_back):
                emission = hours[part] - k - first_hour                    # (n_part,)
                band = band_of[sources_in][:, emission]                   # (n_in, n_part)
                values = feet[np.arange(part.size)[None, :], k, band,
                              slot[:, None]].T * factor                   # (n_part, n_in)
                if integrate:
                    out[part[:, None], sources_in[None, :], 0] += values
                else:
                    out[part[:, None], sources_in[None, :], k] = values
        log.info("particle stack sensitivities: %d receptors x %d sources", n_rec, n_src)
        return out[:, :, 0] if integrate else out

    def check_coverage(self, last_hour: int) -> None:
        offset = np.timedelta64(int(self.particle_settings.release_offset_hours * 3600), "s")
        first = self.start + offset - np.timedelta64(self.hours_back, "h")
        last = self.start + offset + np.timedelta64(int(last_hour), "h")
        if self.met.time.size > 1 and (first < self.met.time[0] or last > self.met.time[-1]):
            raise InputError(f"{self.where}: the meteorology covers {self.met.time[0]} to "
                             f"{self.met.time[-1]}; the particles need {first} to {last} (the "
                             f"period and the {self.hours_back} hours back before it)")

    def cache_parts(self) -> tuple:
        met = self.met
        return (code_fingerprint(), settings_key(self.settings), self.particle_settings,
                self.seed, self.grid,
                self.start, met.time, met.x, met.y, met.z, met.u, met.v, met.w, met.blh,
                met.ustar, met.obukhov_length, met.air_temperature, met.surface_pressure,
                met.roughness_length, self._boundary_key())

    def _boundary_key(self) -> tuple:
        b = self.boundary
        if b is None:
            return ()
        return (b.time, b.height, b.lat, b.lon, *sorted(b.parts.items()))
