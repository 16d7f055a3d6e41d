"""Gaussian plumes that follow the wind: the time-stepping form of the plume operator.

The steady plume (:mod:`cityflux.transport.plume`) links every cell to a receptor with one
straight plume under the observation hour's meteorology. Here the plume follows the air
along its back trajectory through the hourly 3-D fields of a
:class:`~cityflux.metfield.MetField` (kernels in
:mod:`cityflux.transport.trajectory_kernels`):

* **Trajectory.** From every receptor, released at the middle of its observation hour (the
  centre of an hourly mean, as the steady plume's hour and the particle model's release),
  the air is followed backward for ``hours_back`` hours with the mean wind of the
  MetField (:func:`cityflux.transport.particle_kernels.met_at`: linear in time, bilinear in
  x and y, linear in z; a column is uniform in space), midpoint rule (RK2) in time. The
  wind is taken at the height of the plume's centroid,
  z_rep = min(max(z_r, √(2/π) σ_z), max(z_r, h/2)): at the inlet height near the
  receptor, where the plume is thin and the footprint largest; half the mixed layer once
  the plume fills it, where the mean of the layer's air is. (The wind at the release height
  of surface fluxes, ~10 m, would move the far field too slowly; a mixed-layer mean would
  move the near field too fast.)
* **Steps.** Each step ages the plume by ds = max(1 m, min(x / (2 n), σ_y / 2)) of
  distance (n = ``near_field_subcells``, x the distance aged so far), at most 300 s and
  cut at whole hours back. The first metres are therefore sampled geometrically (8 % steps
  with n = 6), which resolves the near field: each step is one Gaussian sample whose
  horizontal part is integrated exactly over every cell by error functions, and samples
  half a width apart add up to the continuous plume (the along-path sum of Gaussians
  converges exponentially in width / spacing). No sub-cells are needed.
* **Widths.** The steady plume's class-based curves (``dispersion``: Briggs urban or
  Pasquill-Gifford), the class from the Obukhov length and the MetField's roughness at the
  met node nearest the trajectory point and time
  (:func:`~cityflux.transport.stability.stability_from_obukhov`). Widths grow with the
  distance the plume ages, u_eff dt with u_eff = max(|V|, ``min_wind_speed_m_s``) (the
  floor stands for low-wind meandering), by virtual distances: when the class changes, the
  distances at which the new class's curves give the current σ_y and σ_z are found and
  aged from there, so σ stays continuous and grows at the new class's rate. The horizontal
  Gaussian is isotropic (σ along the wind = σ_y, as in CALPUFF).
* **Vertical.** The stack plume's rules (:func:`~cityflux.transport.stack_kernels.stack_plume`)
  with the lid = the highest mixed layer met along the trajectory between emission and
  observation: reflected between the ground and the lid (well mixed, 1/lid, once
  σ_z > 1.6 lid) when released inside the layer; mixed down over the layer once it has grown
  above a plume released above it (fumigation); aloft (nothing at a receptor in the layer)
  while no layer on the way reached it. A receptor above the lid sees nothing.
* **Surface fluxes.** foot(c, k) = Σ dt f_c P_z / n_air over the samples with
  ⌊τ / 3600⌋ = k, released at ``source_height_m``; f_c the fraction of the sample's
  Gaussian in cell c (its box in the metric frame; the cell's area over the box's
  corrects for the map's scale), n_air the molar density of air at the sample:
  ppm per (µmol m⁻² s⁻¹).
* **Stacks.** The same along the same trajectory: the 2-D Gaussian density at the source
  (widened by buoyancy-induced dispersion) times P_z at the effective height of the
  emission hour, h' + Δh(distance travelled): stack-tip downwash and Briggs rise
  (:func:`~cityflux.transport.stack_kernels.stack_rise`) with the MetField's wind at the
  stack top, class and temperature at the source in the middle of that hour. × 1e6 / M_CO2:
  ppm per (kg CO2 s⁻¹).

Gaussians are evaluated within ``WINDOW_SIGMAS`` σ of the trajectory only, through spatial
indices of the cells and sources, so thousands of candidate sources cost little.
"""

from __future__ import annotations

import logging

import numpy as np

from ..errors import InputError
from ..units import MOLAR_MASS_CO2
from . import trajectory_kernels as tk
from .base import Receptors, Transport, code_fingerprint, settings_key
from .footprints import Footprints
from .particles import pack_met
from .stability import StabilityMethod, stability_from_obukhov
from .stacks import StackSources

log = logging.getLogger(__name__)

__all__ = ["MAX_STEP_S", "RELEASE_OFFSET_HOURS", "WINDOW_SIGMAS", "TrajectoryPlumeTransport"]

#: Release time within the observation hour, h.
RELEASE_OFFSET_HOURS = 0.5
#: Gaussians are evaluated within this many σ of the trajectory (2-D mass left out ~1e-4).
WINDOW_SIGMAS = 4.0
#: Longest trajectory step, s.
MAX_STEP_S = 300.0
#: Step as a fraction of σ_y: successive samples overlap.
SIGMA_STEP = 0.5
#: Dense footprint buffer per chunk of receptors, float64 values.
BUFFER_VALUES = 4_000_000
#: Receptors per chunk of point sensitivities (one progress-bar step).
POINT_CHUNK = 64


def _progress(chunks, show: bool, what: str):
    if not show:
        return chunks
    from tqdm import tqdm

    return tqdm(chunks, desc=what, unit="chunk", leave=False)


def _bucket_index(x: np.ndarray, y: np.ndarray, size: float):
    """A spatial index of points: (bucket, start, items), see the kernels' legend."""
    size = float(size)
    if x.size == 0:
        return np.array([0.0, 0.0, size, 1.0, 1.0]), np.zeros(2, np.int64), np.zeros(0, np.int64)
    x0, y0 = float(x.min()), float(y.min())
    nbx = int((x.max() - x0) // size) + 1
    nby = int((y.max() - y0) // size) + 1
    ix = np.minimum(((x - x0) // size).astype(np.int64), nbx - 1)
    iy = np.minimum(((y - y0) // size).astype(np.int64), nby - 1)
    which = iy * nbx + ix
    order = np.argsort(which, kind="stable")
    start = np.zeros(nbx * nby + 1, np.int64)
    np.add.at(start, which + 1, 1)
    return (np.array([x0, y0, size, float(nbx), float(nby)]), np.cumsum(start),
            order.astype(np.int64))


def stability_classes(met, settings, where: str = "meteorology") -> np.ndarray:
    """Pasquill class (0..5 = A..F) of every MetField node and time, (nt, ny, nx), from the
    Obukhov length and the roughness (``settings.roughness_length_m`` where the field has
    none)."""
    roughness = np.asarray(met.roughness_length, float)
    roughness = np.where(np.isfinite(roughness) & (roughness > 0), roughness,
                         float(settings.roughness_length_m))
    try:
        classes = stability_from_obukhov(met.obukhov_length, roughness)
    except ValueError as exc:
        raise InputError(f"{where}: {exc}") from None
    return np.ascontiguousarray(classes, np.int64)


def rise_table(packed, classes: np.ndarray, settings, sources: StackSources,
               first_hour_s: float, n_hours: int) -> np.ndarray:
    """Release height and Briggs rise of every stack in every emission hour.

    Returns
    -------
    ndarray (n_sources, n_hours, N_RISE)
        Row e is the hour starting ``first_hour_s + 3600 e`` (met time axis, s); columns
        as in :data:`~cityflux.transport.trajectory_kernels.R_BASE` ... ``R_US``: the
        effective height of a fully risen plume is ``R_BASE + R_FINAL``.
    """
    src = [np.ascontiguousarray(a, float) for a in (
        sources.x_m, sources.y_m, sources.stack_height_m, sources.buoyancy_flux_m4_s3,
        sources.exit_velocity_m_s, sources.exit_temperature_k, sources.diameter_m)]
    rise = np.empty((sources.size, int(n_hours), tk.N_RISE))
    tk.rise_table(packed.wind, packed.zlev, packed.surf, packed.met_t, packed.met_axes, classes,
                  int(settings.dispersion.code), float(settings.min_wind_speed_m_s), *src,
                  float(first_hour_s), bool(settings.plume_rise), rise)
    return rise


class TrajectoryPlumeTransport(Transport):
    """Gaussian plumes along back trajectories through a MetField (module docstring).

    Parameters
    ----------
    settings : TransportConfig
        Uses ``dispersion``, ``stability`` (must be ``obukhov_length``),
        ``roughness_length_m`` (where the MetField's roughness is missing), ``hours_back``,
        ``min_wind_speed_m_s``, ``source_height_m``, ``plume_rise`` and
        ``near_field_subcells``.
    grid : Grid
    met : MetField
    start : numpy.datetime64
        Hour 0 of the receptors' ``hour``.
    where : str
        Names the meteorology in error messages.
    """

    def __init__(self, settings, grid, met, start, where: str = "meteorology"):
        if StabilityMethod(settings.stability) != StabilityMethod.OBUKHOV_LENGTH:
            raise InputError(
                f"{where}: transport.stability is '{StabilityMethod(settings.stability).value}' "
                "but meteorological fields (a MetField) carry no cloud cover; set "
                "transport.stability: obukhov_length (the fields give the Obukhov length), or "
                "use transport.plume_form: steady with a one-column file that has "
                "cloud_area_fraction")
        self.settings, self.grid, self.met, self.where = settings, grid, met, where
        self.start = np.datetime64(start, "ns")
        self.hours_back = int(settings.hours_back)
        try:
            self._packed = pack_met(met)
        except ValueError as exc:
            raise InputError(f"{where}: {exc}") from None
        self._classes = stability_classes(met, settings, where)
        self._settings = np.empty(tk.N_SETTINGS)
        self._settings[tk.S_UMIN] = settings.min_wind_speed_m_s
        self._settings[tk.S_SCHEME] = settings.dispersion.code
        self._settings[tk.S_NEAR_STEP] = 1.0 / (2.0 * settings.near_field_subcells)
        self._settings[tk.S_SIGMA_STEP] = SIGMA_STEP
        self._settings[tk.S_MAX_DT] = MAX_STEP_S
        self._settings[tk.S_WINDOW] = WINDOW_SIGMAS
        self._settings[tk.S_DURATION] = self.hours_back * 3600.0
        self._cells = None

    # ------------------------------------------------------------------ inputs
    def _met_args(self):
        p = self._packed
        return (p.wind, p.zlev, p.surf, p.met_t, p.met_axes, self._classes, self._settings)

    def _cell_arrays(self):
        """Cell centres, half widths, area factors and their spatial index (computed once)."""
        if self._cells is None:
            x, y = (np.ascontiguousarray(np.asarray(a, float).ravel())
                    for a in self.grid.metric_xy)
            width, height = (np.asarray(a, float).ravel() for a in self.grid.metric_cell_size)
            factor = np.asarray(self.grid.cell_area, float).ravel() / (width * height)
            bucket = _bucket_index(x, y, float(np.median(np.minimum(width, height))))
            self._cells = (x, y, np.ascontiguousarray(width / 2), np.ascontiguousarray(height / 2),
                           np.ascontiguousarray(factor), *bucket)
        return self._cells

    def _release_times(self, hours) -> np.ndarray:
        """Release times of receptors observed in ``hours``, s on the met time axis."""
        t0 = float(self._packed.seconds(self.start))
        return t0 + (np.asarray(hours, float) + RELEASE_OFFSET_HOURS) * 3600.0

    def _check_hours(self, hours, what: str) -> None:
        """Raise an InputError unless the MetField covers every trajectory of ``hours``:
        from hours_back before the release to the observation hour (the last half hour
        may hold the observation hour's field)."""
        hours = np.asarray(hours, np.int64)
        if hours.size == 0:
            return
        met_t = self._packed.met_t
        release = self._release_times(hours)
        needed_first = release - self.hours_back * 3600.0
        needed_last = release - RELEASE_OFFSET_HOURS * 3600.0
        bad = (needed_first < met_t[0] - 1e-6) | (needed_last > met_t[-1] + 1e-6)
        if bad.any():
            i = int(np.argmax(bad))
            to_time = self._packed.time0 + (np.array([needed_first[i], needed_last[i]]) * 1e9
                                            ).astype("timedelta64[ns]")
            hour = int(hours[i])
            raise InputError(
                f"{self.where}: {what} of hour {hour} ({self.start + np.timedelta64(hour, 'h')}) "
                f"needs meteorology from {to_time[0]} to {to_time[1]} (its air "
                f"{self.hours_back} h back), but the MetField covers {self.met.time[0]} to "
                f"{self.met.time[-1]}; extend the meteorology or shorten transport.hours_back")

    def _receptor_arrays(self, receptors: Receptors):
        x, y, z = (np.ascontiguousarray(np.asarray(a, float)) for a in
                   (receptors.x, receptors.y, receptors.height))
        for name, a in (("x", x), ("y", y), ("height", z)):
            if not np.isfinite(a).all():
                raise InputError(f"receptor {name} must be finite")
        if (z < 0).any():
            raise InputError("receptor heights must be >= 0 m above ground")
        return x, y, z, np.ascontiguousarray(self._release_times(receptors.hour))

    # ------------------------------------------------------------------ transport
    def check_coverage(self, last_hour: int) -> None:
        self._check_hours([0, int(last_hour)], "the receptors")

    def surface_footprints(self, receptors: Receptors, progress: bool = False) -> Footprints:
        hours = np.asarray(receptors.hour, np.int64)
        self._check_hours(hours, "the receptor")
        x, y, z, release = self._receptor_arrays(receptors)
        cell_x, cell_y, cell_hx, cell_hy, factor, bucket, start, items = self._cell_arrays()
        n_back = self.hours_back + 1
        n_cells = self.grid.size
        n_rec = hours.size
        chunk = int(max(1, min(256, BUFFER_VALUES // (n_back * n_cells))))
        buffer = np.zeros((min(chunk, max(n_rec, 1)), n_back, n_cells))
        parts = []
        empty = np.empty(0, np.int64)
        for first in _progress(range(0, n_rec, chunk), progress, "footprints"):
            part = slice(first, min(first + chunk, n_rec))
            view = buffer[: part.stop - part.start]  # all zero: from_dense clears it
            tk.surface_kernel(*self._met_args(), cell_x, cell_y, cell_hx, cell_hy, factor,
                              bucket, start, items, float(self.settings.source_height_m),
                              x[part], y[part], z[part], release[part], view)
            parts.append(Footprints.from_dense(hours[part], view))
        if not parts:
            return Footprints(hours, empty, empty, empty, np.empty(0), n_cells)
        footprints = Footprints.concatenate(parts)
        log.info("trajectory-plume footprints: %d receptors, %d non-zero cell-hours", n_rec,
                 footprints.values.size)
        return footprints

    def point_sensitivities(self, sources: StackSources, receptors: Receptors,
                            integrate: bool = False, progress: bool = False) -> np.ndarray:
        if not isinstance(sources, StackSources):
            raise InputError(f"sources must be a StackSources, got {type(sources).__name__}")
        hours = np.asarray(receptors.hour, np.int64)
        self._check_hours(hours, "the receptor")
        x, y, z, release = self._receptor_arrays(receptors)
        n_rec, n_src = hours.size, sources.size
        out = np.zeros((n_rec, n_src, 1 if integrate else self.hours_back + 1))
        if n_rec == 0 or n_src == 0:
            return out[:, :, 0] if integrate else out
        first_hour = int(hours.min()) - self.hours_back - 1
        n_hours = int(hours.max()) - first_hour + 1
        first_hour_s = float(self._packed.seconds(self.start)) + first_hour * 3600.0
        src = [np.ascontiguousarray(a, float) for a in (
            sources.x_m, sources.y_m, sources.stack_height_m, sources.buoyancy_flux_m4_s3,
            sources.exit_velocity_m_s, sources.exit_temperature_k, sources.diameter_m)]
        with_rise = bool(self.settings.plume_rise)
        rise = rise_table(self._packed, self._classes, self.settings, sources, first_hour_s,
                          n_hours)
        max_rise = float(rise[:, :, tk.R_FINAL].max())
        spacing = self._source_bucket_size(src[0], src[1])
        bucket, start, items = _bucket_index(src[0], src[1], spacing)
        for first in _progress(range(0, n_rec, POINT_CHUNK), progress, "stack sensitivities"):
            part = slice(first, min(first + POINT_CHUNK, n_rec))
            tk.point_kernel(*self._met_args(), src[0], src[1], rise, with_rise, max_rise, bucket,
                            start, items, first_hour_s, x[part], y[part], z[part],
                            release[part], bool(integrate), out[part])
        out *= 1e6 / MOLAR_MASS_CO2
        log.info("trajectory-plume stack sensitivities: %d receptors x %d sources", n_rec, n_src)
        return out[:, :, 0] if integrate else out

    def _source_bucket_size(self, x: np.ndarray, y: np.ndarray) -> float:
        """About one source per bucket where they are dense, never below 100 m."""
        cells = np.asarray(self.grid.metric_cell_size[0], float)
        extent = max(float(np.ptp(x)), float(np.ptp(y)), 1.0)
        return max(100.0, min(float(np.median(cells)), extent / np.sqrt(max(x.size, 1))))

    def cache_parts(self) -> tuple:
        return (code_fingerprint(), settings_key(self.settings), self.grid, self.start, self.met)

    # ------------------------------------------------------------------ diagnostics
    def back_trajectory(self, x: float, y: float, height: float, hour: int) -> dict:
        """The samples of one receptor's back trajectory (for plots and tests).

        Returns
        -------
        dict of ndarray
            ``tau`` (s before the release, step midpoints), ``dtau`` (s), ``x``, ``y`` (m),
            ``sigma_y``, ``sigma_z`` (m), ``blh`` (m, at the sample), ``lid`` (m),
            ``n_air`` (mol m-3), ``path`` (m travelled), ``z_rep`` (m, height of the wind)
            and ``stability_class`` (0..5 = A..F).
        """
        self._check_hours([int(hour)], "the receptor")
        release = self._release_times([int(hour)])
        args = [np.array([float(v)]) for v in (x, y, height)]
        size = 4096
        while True:
            counts = np.zeros(1, np.int64)
            out = np.empty((1, size, tk.N_T))
            tk.trajectory_kernel(*self._met_args(), *args, release, counts, out)
            if counts[0] >= 0:
                break
            size = int(-counts[0])
        samples = out[0, : counts[0]]
        names = {"tau": tk.T_TAU, "dtau": tk.T_DTAU, "x": tk.T_X, "y": tk.T_Y,
                 "sigma_y": tk.T_SY, "sigma_z": tk.T_SZ, "blh": tk.T_H, "lid": tk.T_LID,
                 "n_air": tk.T_NAIR, "path": tk.T_PATH, "z_rep": tk.T_ZREP}
        result = {name: samples[:, column].copy() for name, column in names.items()}
        result["stability_class"] = samples[:, tk.T_CLASS].astype(np.int64)
        return result
