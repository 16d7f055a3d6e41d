"""Footprints from a backward Lagrangian particle model (STILT class), on a MetField.

From every receptor ``n_particles`` particles are released at the observation time and
followed backward in time through the meteorology of a :class:`~cityflux.metfield.MetField`
(the kernels are in :mod:`cityflux.transport.particle_kernels`, which gives every formula
and reference):

* **Release.** A point receptor releases all particles at its inlet height. A path receptor
  (open-path laser: ``x2``, ``y2`` given) spreads them uniformly along the segment from
  (x, y) to (x2, y2), stratified so that particle p starts at the fraction (p + U)/n. A
  column receptor (``height_top`` given) spreads them uniformly in height from ``height``
  to ``height_top``. Release time: the observation hour plus ``release_offset_hours``
  (default mid-hour, the centre of an hourly mean).
* **Motion.** Mean wind interpolated from the MetField (linear in time, bilinear in x and
  y, linear in z; a single column is uniform in space) plus a turbulent velocity from a
  Langevin equation (a first-order autoregressive process) with Hanna (1982) profiles of
  sigma_u, sigma_v, sigma_w and the Lagrangian time scales in convective, neutral and
  stable boundary layers, and Thomson's (1987) drift for the inhomogeneous vertical
  turbulence. Perfect reflection at the ground and at the boundary-layer top; constant
  weak turbulence above the boundary layer (sigma_u = sigma_v = 0.5 m/s with T_L = 200 s,
  a horizontal diffusivity of 50 m2/s as FLEXPART's ``d_trop``; sigma_w = 0.1 m/s with
  T_L = 100 s, 1 m2/s).
* **Steps.** Two nested steps per particle: outer steps (mean wind, horizontal
  turbulence, footprint) of 0.5 min(T_Lu, T_Lv) and inner vertical steps of 0.1 T_Lw,
  both at mid-layer and within 1-60 s (60 s above the layer), cut at every whole hour of
  age. Steps depend on the column the particle is in, not on its height within it: steps
  that shrink towards the ground, as T_L does, pile particles up there (tested: 10-40 %
  excess in the lowest tens of metres), whatever the scheme. The vertical scheme is a
  second-order splitting (A-B-O-B-A) with the exact Ornstein-Uhlenbeck velocity update;
  a first-order (Euler) update at the same step leaves 10-30 % too many particles near
  the ground of a convective layer.
* **Random numbers.** A counter-based stream per particle from (seed, receptor, particle):
  the same seed gives bit-identical footprints on any number of threads. The receptor part
  is a hash of the receptor's position, heights and observation time (not of its row
  number), so a receptor's particles do not change when receptors are split into batches
  or reordered, which caching and distributed runs rely on.
* **Footprints** (STILT, guide §5): m_air Δt s / (h_s ρ) per particle and step, h_s half the
  mixed-layer depth, s the fraction of the step below h_s, ρ the air density at the
  particle; summed over particles / n_particles, binned by whole hour back and grid cell;
  ppm per (µmol m⁻² s⁻¹); ρ to within 1e-4 (1/ρ from a cubic in z/H_ρ). Hyper near
  field: where the plume depth z_release + σ_z(age) is below h_s it replaces h_s (as
  STILT's ``hnf_plume``), σ_z from Taylor's formula with σ_w and T_Lw of the layer at
  mid-height (STILT takes the particle's local values, which near the ground - T_L -> 0 -
  keep the correction alive for hours after the particles themselves are mixed); off for
  column receptors, which average over the column anyway. Optional smoothing
  (``smooth_factor`` > 0): hour back k is smoothed with a Gaussian of width
  smooth_factor × ū_k × (k + ½) h, ū_k the footprint-weighted mean wind speed of that
  hour's contributions (the hour's mean age stands for each particle's age).
* **Exits.** Each particle's first exit from the grid's box (the grid's x and y extent, up to
  ``top_height_m``): age, position and edge, for a background model. A particle leaving the
  grid is no longer followed (``stop_at_exit``); one still inside after ``hours_back``
  reports its last position with edge ``"none"``.

The grid is given as ``(x0, dx, nx, y0, dy, ny)`` in the MetField's metric frame: x0, y0 the
west and south edges of the first cell (as :attr:`cityflux.grid.Grid.x_start`), cell
``iy * nx + ix``.
"""

from __future__ import annotations

import enum
import logging
import math
from dataclasses import dataclass, fields

import numba
import numpy as np

from . import particle_kernels as pk
from .footprints import Footprints

log = logging.getLogger(__name__)

__all__ = ["Turbulence", "ParticleSettings", "PackedMet", "Exits", "EDGE_NAMES", "Bands",
           "pack_met", "particle_footprints", "particle_band_footprints", "receptor_footprint",
           "particle_trajectories"]

#: Names of the exit edge codes in :attr:`Exits.edge`.
EDGE_NAMES = ("none", "north", "east", "south", "west", "top")


class Turbulence(str, enum.Enum):
    """Which turbulence the particles feel."""

    HANNA = "hanna"              # Hanna (1982) in the boundary layer, constant above
    HOMOGENEOUS = "homogeneous"  # the same sigma and T_L everywhere, no boundary-layer top


@dataclass(frozen=True)
class ParticleSettings:
    """Settings of the particle model (SI units; defaults in brackets).

    Attributes
    ----------
    step_fraction : float
        Inner (vertical) step as a fraction of the vertical Lagrangian time scale at
        mid-layer [0.1].
    horizontal_step_fraction : float
        Outer step (mean wind, horizontal turbulence, footprint) as a fraction of the
        horizontal Lagrangian time scale at mid-layer [0.5].
    min_step_s, max_step_s : float
        Bounds of the step, s [1, 60].
    release_offset_hours : float
        Release time within the observation hour, h [0.5].
    coriolis : float
        Coriolis parameter in Hanna's neutral profiles, s-1 [1e-4].
    free_sigma_uv, free_tl_uv, free_sigma_w, free_tl_w : float
        Turbulence above the boundary layer, m s-1 and s [0.5, 200, 0.1, 100].
    min_sigma_uv, min_sigma_w : float
        Floors of sigma inside the boundary layer, m s-1 [0.1, 0.02].
    min_tl_uv, min_tl_w : float
        Floors of the Lagrangian time scales, s [10, 10].
    min_blh : float
        Boundary-layer heights are raised to at least this, m [10].
    min_ustar : float
        Friction velocities are raised to at least this, m s-1 [0.01].
    turbulence : Turbulence
        [HANNA]; HOMOGENEOUS uses ``homogeneous_sigma_uv``, ``homogeneous_sigma_w`` and
        ``homogeneous_tl`` everywhere (for tests against Taylor's theory).
    thomson_drift : bool
        Thomson's well-mixed drift term [True]; False only to show what it does.
    vertical_wind : bool
        Advect with the mean vertical wind of the MetField [True].
    top_height_m : float
        Particles above this height leave through the top of the domain, m [10000].
    hyper_near_field : bool
        STILT's near-field plume-depth correction [True].
    stop_at_exit : bool
        Stop following a particle once it leaves the grid [True].
    min_dilution_depth : float
        Lower bound of the depth a step's footprint divides by, m [1].
    smooth_factor : float
        Age-dependent Gaussian smoothing of the footprint, dimensionless [0: off].
    strict_met_time : bool
        Refuse receptors whose 24 h (hours_back) lie outside the MetField's times [True];
        False holds the first or last field.
    """

    step_fraction: float = 0.1
    horizontal_step_fraction: float = 0.5
    min_step_s: float = 1.0
    max_step_s: float = 60.0
    release_offset_hours: float = 0.5
    coriolis: float = 1e-4
    free_sigma_uv: float = 0.5
    free_tl_uv: float = 200.0
    free_sigma_w: float = 0.1
    free_tl_w: float = 100.0
    min_sigma_uv: float = 0.1
    min_sigma_w: float = 0.02
    min_tl_uv: float = 10.0
    min_tl_w: float = 10.0
    min_blh: float = 10.0
    min_ustar: float = 0.01
    turbulence: Turbulence = Turbulence.HANNA
    homogeneous_sigma_uv: float = 1.0
    homogeneous_sigma_w: float = 0.5
    homogeneous_tl: float = 100.0
    thomson_drift: bool = True
    vertical_wind: bool = True
    top_height_m: float = 10000.0
    hyper_near_field: bool = True
    stop_at_exit: bool = True
    min_dilution_depth: float = 1.0
    smooth_factor: float = 0.0
    strict_met_time: bool = True

    def __post_init__(self):
        positive = ("step_fraction", "horizontal_step_fraction", "min_step_s", "max_step_s",
                    "free_sigma_uv", "free_tl_uv", "free_sigma_w", "free_tl_w", "min_sigma_uv",
                    "min_sigma_w", "min_tl_uv", "min_tl_w", "min_blh", "min_ustar",
                    "homogeneous_sigma_uv", "homogeneous_sigma_w", "homogeneous_tl",
                    "top_height_m", "min_dilution_depth")
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "turbulence":
                try:
                    object.__setattr__(self, f.name, Turbulence(value))
                except ValueError:
                    raise ValueError(f"ParticleSettings.turbulence must be one of "
                                     f"{[t.value for t in Turbulence]}, got {value!r}") from None
            elif f.type in ("bool", bool):
                if not isinstance(value, (bool, np.bool_)):
                    raise ValueError(f"ParticleSettings.{f.name} must be True or False, "
                                     f"got {value!r}")
            else:
                if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                        or not math.isfinite(value):
                    raise ValueError(f"ParticleSettings.{f.name} must be a finite number, "
                                     f"got {value!r}")
                if f.name in positive and value <= 0:
                    raise ValueError(f"ParticleSettings.{f.name} must be > 0, got {value!r}")
        for name in ("step_fraction", "horizontal_step_fraction"):
            if getattr(self, name) > 1.0:
                raise ValueError(f"ParticleSettings.{name} must be <= 1 (a fraction of the "
                                 f"Lagrangian time scale), got {getattr(self, name)}")
        if self.min_step_s > self.max_step_s:
            raise ValueError(f"ParticleSettings: min_step_s ({self.min_step_s}) exceeds "
                             f"max_step_s ({self.max_step_s})")
        if not 0.0 <= self.release_offset_hours <= 1.0:
            raise ValueError("ParticleSettings.release_offset_hours must lie in [0, 1], got "
                             f"{self.release_offset_hours}")
        if self.coriolis < 0 or self.smooth_factor < 0:
            raise ValueError("ParticleSettings: coriolis and smooth_factor must be >= 0")

    def to_array(self) -> np.ndarray:
        """The numeric settings as the kernels' ``settings`` array."""
        s = np.zeros(pk.N_SETTINGS)
        s[pk.S_STEP_FRACTION] = self.step_fraction
        s[pk.S_DT_MIN] = self.min_step_s
        s[pk.S_DT_MAX] = self.max_step_s
        s[pk.S_CORIOLIS] = self.coriolis
        s[pk.S_FREE_SIGMA_UV] = self.free_sigma_uv
        s[pk.S_FREE_TL_UV] = self.free_tl_uv
        s[pk.S_FREE_SIGMA_W] = self.free_sigma_w
        s[pk.S_FREE_TL_W] = self.free_tl_w
        s[pk.S_MIN_SIGMA_UV] = self.min_sigma_uv
        s[pk.S_MIN_SIGMA_W] = self.min_sigma_w
        s[pk.S_MIN_TL_UV] = self.min_tl_uv
        s[pk.S_MIN_TL_W] = self.min_tl_w
        s[pk.S_MIN_H] = self.min_blh
        s[pk.S_MIN_USTAR] = self.min_ustar
        s[pk.S_TURBULENCE] = (pk.TURB_HOMOGENEOUS if self.turbulence is Turbulence.HOMOGENEOUS
                              else pk.TURB_HANNA)
        s[pk.S_HOM_SIGMA_UV] = self.homogeneous_sigma_uv
        s[pk.S_HOM_SIGMA_W] = self.homogeneous_sigma_w
        s[pk.S_HOM_TL] = self.homogeneous_tl
        s[pk.S_DRIFT] = float(self.thomson_drift)
        s[pk.S_VERTICAL_WIND] = float(self.vertical_wind)
        s[pk.S_TOP] = self.top_height_m
        s[pk.S_HNF] = float(self.hyper_near_field)
        s[pk.S_STOP_AT_EXIT] = float(self.stop_at_exit)
        s[pk.S_MIN_HEFF] = self.min_dilution_depth
        s[pk.S_HORIZONTAL_FRACTION] = self.horizontal_step_fraction
        return s


@dataclass(frozen=True, eq=False)
class PackedMet:
    """A MetField in the kernels' layout (see :mod:`~cityflux.transport.particle_kernels`).

    ``time0`` is the datetime64 of ``met_t = 0``; ``has_vertical_wind`` is False when the
    upward wind is zero everywhere (its interpolation is then skipped).
    """

    wind: np.ndarray
    zlev: np.ndarray
    surf: np.ndarray
    met_t: np.ndarray
    met_axes: np.ndarray
    time0: np.datetime64
    has_vertical_wind: bool = True

    def seconds(self, times) -> np.ndarray:
        """Times (datetime64) on the met time axis, s."""
        return (np.asarray(times, "datetime64[ns]") - self.time0) / np.timedelta64(1, "s")


@dataclass(frozen=True, eq=False)
class Exits:
    """Where and when each particle left the footprint grid's box.

    All arrays have shape (n_receptors, n_particles).

    Attributes
    ----------
    hours_back : ndarray of float
        Time of the exit before the release, h (``hours_back`` of the run if still inside).
    x, y : ndarray of float
        Position of the exit (or the last position), m, metric frame.
    height : ndarray of float
        Height above ground there, m.
    edge : ndarray of int8
        Index into :data:`EDGE_NAMES`: 0 none (still inside), 1 north, 2 east, 3 south,
        4 west, 5 top.
    """

    hours_back: np.ndarray
    x: np.ndarray
    y: np.ndarray
    height: np.ndarray
    edge: np.ndarray

    @property
    def exited(self) -> np.ndarray:
        return self.edge != 0

    def edge_name(self, code: int) -> str:
        return EDGE_NAMES[int(code)]


# --- inputs ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Bands:
    """Height bands of listed grid cells whose particle residence is also counted: the
    footprints of elevated sources (stacks) released through a band.

    Attributes
    ----------
    slot_of_cell : ndarray of int64 (ny * nx,)
        Slot of each cell of the footprint grid, -1 for cells not listed.
    low, high : ndarray (n_bands,)
        Bottom and top of each band, m above ground (bands may overlap).
    """

    slot_of_cell: np.ndarray
    low: np.ndarray
    high: np.ndarray

    @property
    def n_slots(self) -> int:
        return int(self.slot_of_cell.max()) + 1 if self.slot_of_cell.size else 0

    @classmethod
    def of(cls, cells, n_cells: int, low, high) -> "Bands":
        """Bands for the cells ``cells`` (slot i is ``cells[i]``, which must differ)."""
        cells = np.asarray(cells, np.int64)
        if np.unique(cells).size != cells.size or (cells.size and (
                cells.min() < 0 or cells.max() >= n_cells)):
            raise ValueError("Bands.of: cells must be distinct indices of the footprint grid")
        slot = np.full(int(n_cells), -1, np.int64)
        slot[cells] = np.arange(cells.size)
        low, high = (np.ascontiguousarray(a, dtype=float) for a in (low, high))
        if low.shape != high.shape or low.ndim != 1 or np.any(~(high > low)) or np.any(low < 0):
            raise ValueError("Bands.of: low and high must be 1-D, low >= 0 and high > low")
        return cls(slot, low, high)


def _regular_axis(values, name: str) -> tuple[float, float]:
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values)):
        raise ValueError(f"MetField.{name} must be a non-empty 1-D array of finite metres")
    if values.size == 1:
        return float(values[0]), 1.0
    step = np.diff(values)
    if np.any(step <= 0) or np.ptp(step) > 1e-6 * abs(step[0]) + 1e-9:
        raise ValueError(f"MetField.{name} must be regular and increasing, got spacings "
                         f"{step.min():g}..{step.max():g} m")
    return float(values[0]), float(step[0])


def pack_met(met) -> PackedMet:
    """Check a :class:`~cityflux.metfield.MetField` and lay it out for the kernels.

    Raises
    ------
    ValueError
        If a shape, axis or value is inconsistent (the message names it).
    """
    for name in ("time", "x", "y", "z", "u", "v", "w", "blh", "ustar", "obukhov_length",
                 "air_temperature", "surface_pressure"):
        if not hasattr(met, name):
            raise ValueError(f"met must be a cityflux.metfield.MetField; it has no {name!r}")
    time = np.asarray(met.time)
    if time.ndim != 1 or time.size == 0 or not np.issubdtype(time.dtype, np.datetime64):
        raise ValueError("MetField.time must be a non-empty 1-D datetime64 array")
    time = time.astype("datetime64[ns]")
    if time.size > 1 and np.any(np.diff(time) <= np.timedelta64(0, "ns")):
        raise ValueError("MetField.time must be strictly increasing")
    x0, dx = _regular_axis(met.x, "x")
    y0, dy = _regular_axis(met.y, "y")
    z = np.asarray(met.z, dtype=float)
    if z.ndim != 1 or z.size == 0 or not np.all(np.isfinite(z)) or np.any(np.diff(z) <= 0):
        raise ValueError("MetField.z must be a non-empty, strictly increasing 1-D array of "
                         "heights above ground, m")
    shape4 = (time.size, z.size, np.size(met.y), np.size(met.x))
    shape3 = (time.size, np.size(met.y), np.size(met.x))
    arrays = {}
    for name in ("u", "v", "w"):
        a = np.asarray(getattr(met, name), dtype=float)
        if a.shape != shape4:
            raise ValueError(f"MetField.{name} must have shape (time, z, y, x) = {shape4}, "
                             f"got {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"MetField.{name} has non-finite values")
        arrays[name] = a
    for name in ("blh", "ustar", "obukhov_length", "air_temperature", "surface_pressure"):
        a = np.asarray(getattr(met, name), dtype=float)
        if a.shape != shape3:
            raise ValueError(f"MetField.{name} must have shape (time, y, x) = {shape3}, "
                             f"got {a.shape}")
        arrays[name] = a
    for name in ("blh", "ustar", "air_temperature", "surface_pressure"):
        a = arrays[name]
        if not np.all(np.isfinite(a)) or np.any(a < 0) or (name != "ustar" and np.any(a == 0)):
            raise ValueError(f"MetField.{name} must be finite and positive")
    obukhov = arrays["obukhov_length"]
    if np.any(np.isnan(obukhov)) or np.any(obukhov == 0):
        raise ValueError("MetField.obukhov_length must be non-zero and not NaN (±inf: neutral)")
    wind = np.ascontiguousarray(np.stack([arrays["u"], arrays["v"], arrays["w"]], axis=-1)
                                .transpose(0, 2, 3, 1, 4))
    temperature = arrays["air_temperature"]
    surf = np.empty(shape3 + (pk.N_SURF,))
    surf[..., pk.SF_H] = arrays["blh"]
    surf[..., pk.SF_USTAR] = arrays["ustar"]
    surf[..., pk.SF_INV_L] = 1.0 / obukhov
    surf[..., pk.SF_RHO] = arrays["surface_pressure"] / (pk.R_DRY * temperature)
    surf[..., pk.SF_INV_HRHO] = pk.GRAVITY / (pk.R_DRY * temperature)
    met_t = (time - time[0]) / np.timedelta64(1, "s")
    return PackedMet(wind, np.ascontiguousarray(z), np.ascontiguousarray(surf),
                     np.ascontiguousarray(met_t, dtype=float), np.array([x0, dx, y0, dy]),
                     time[0], bool(np.any(arrays["w"] != 0)))


def _grid(grid_axes) -> tuple[np.ndarray, int, int]:
    try:
        x0, dx, nx, y0, dy, ny = grid_axes
    except (TypeError, ValueError):
        raise ValueError("grid_axes must be (x0, dx, nx, y0, dy, ny): west edge, cell width "
                         "and cell count along x, then the same along y") from None
    for name, n in (("nx", nx), ("ny", ny)):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"grid_axes: {name} must be a positive integer, got {n!r}")
    values = np.array([x0, dx, y0, dy], dtype=float)
    if not np.all(np.isfinite(values)) or dx <= 0 or dy <= 0:
        raise ValueError(f"grid_axes: x0, y0 must be finite and dx, dy > 0, got "
                         f"x0={x0}, dx={dx}, y0={y0}, dy={dy}")
    return values, int(nx), int(ny)


def _receptor_array(receptors, name, n, default=None):
    value = getattr(receptors, name, None)
    if value is None:
        return default
    a = np.atleast_1d(np.asarray(value, dtype=float))
    if a.shape != (n,):
        raise ValueError(f"receptors.{name} must have one value per receptor ({n}), "
                         f"got shape {a.shape}")
    return a


def _releases(receptors, grid, nx, ny) -> tuple[np.ndarray, np.ndarray]:
    """(n, 6) release boxes (x1, y1, x2, y2, z1, z2) and the int64 observation hours."""
    for name in ("x", "y", "height", "hour"):
        if getattr(receptors, name, None) is None:
            raise ValueError(f"receptors must have x, y, height and hour; {name!r} is missing")
    hour = np.atleast_1d(np.asarray(receptors.hour))
    if hour.ndim != 1 or not np.issubdtype(hour.dtype, np.integer):
        raise ValueError(f"receptors.hour must be a 1-D array of integer hours from the start, "
                         f"got dtype {hour.dtype}")
    n = hour.size
    x = _receptor_array(receptors, "x", n)
    y = _receptor_array(receptors, "y", n)
    z = _receptor_array(receptors, "height", n)
    x2 = _receptor_array(receptors, "x2", n, np.full(n, np.nan))
    y2 = _receptor_array(receptors, "y2", n, np.full(n, np.nan))
    z2 = _receptor_array(receptors, "height_top", n, np.full(n, np.nan))
    for name, a in (("x", x), ("y", y), ("height", z)):
        if not np.all(np.isfinite(a)):
            raise ValueError(f"receptors.{name} must be finite")
    if np.any(z < 0):
        raise ValueError(f"receptors.height must be >= 0 m above ground, got {z.min():g}")
    if np.any(np.isnan(x2) != np.isnan(y2)):
        raise ValueError("receptors.x2 and y2 must both be given (path receptor) or both NaN "
                         "(point receptor)")
    point = np.isnan(x2)
    x2 = np.where(point, x, x2)
    y2 = np.where(point, y, y2)
    z2 = np.where(np.isnan(z2), z, z2)
    if not (np.all(np.isfinite(x2)) and np.all(np.isfinite(y2)) and np.all(np.isfinite(z2))):
        raise ValueError("receptors.x2, y2 and height_top must be finite or NaN")
    if np.any(z2 < z):
        raise ValueError("receptors.height_top must be >= height (a column from height to "
                         "height_top)")
    west, east = grid[0], grid[0] + nx * grid[1]
    south, north = grid[2], grid[2] + ny * grid[3]
    for name, a, lo, hi in (("x", x, west, east), ("x2", x2, west, east),
                            ("y", y, south, north), ("y2", y2, south, north)):
        outside = (a < lo) | (a >= hi)
        if np.any(outside):
            i = int(np.argmax(outside))
            raise ValueError(f"receptor {i}: {name} = {a[i]:g} m lies outside the footprint "
                             f"grid ({lo:g} to {hi:g} m)")
    return np.stack([x, y, x2, y2, z, z2], axis=1), hour.astype(np.int64)


def _check_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


# --- footprints -----------------------------------------------------------------------


def receptor_footprint(packed: PackedMet, grid: np.ndarray, nx: int, ny: int,
                       release: np.ndarray, t_release: float, rkey, seed: int,
                       n_particles: int, hours_back: int, settings: ParticleSettings,
                       acc: np.ndarray | None = None, bands: Bands | None = None):
    """The dense footprint of one receptor (the driver's inner loop, for benchmarks).

    Returns
    -------
    foot : ndarray (hours_back, ny * nx)
        ppm per (µmol m⁻² s⁻¹), after the optional smoothing.
    exits : ndarray (n_particles, N_EXIT)
    n_steps : ndarray of int64 (n_particles, 2)
        Outer (horizontal) and inner (vertical) steps of each particle.
    band_foot : ndarray (hours_back, n_bands, n_slots) or None
        With ``bands``: the footprint of fluxes released through each height band of each
        listed cell (:class:`Bands`), ppm per (µmol m⁻² s⁻¹); not smoothed.
    """
    n_chunks = max(1, min(numba.get_num_threads(), n_particles))
    shape = (n_chunks, hours_back, nx * ny)
    if acc is None or acc.shape != shape:
        acc = np.zeros(shape, np.int64)
    else:
        acc.fill(0)
    stats = np.empty((n_particles, hours_back, pk.N_STAT))
    exits = np.empty((n_particles, pk.N_EXIT))
    n_steps = np.empty((n_particles, 2), np.int64)
    s = settings.to_array()
    if not packed.has_vertical_wind:
        s[pk.S_VERTICAL_WIND] = 0.0  # all zero: skip its interpolation
    if release[5] > release[4]:
        s[pk.S_HNF] = 0.0  # a column averages over its depth: no near-field plume depth
    if bands is None:
        slot, lo, hi = np.zeros(0, np.int64), np.zeros(0), np.zeros(0)
        band_acc = np.zeros((n_chunks, hours_back, 0, 0), np.int64)
    else:
        slot, lo, hi = bands.slot_of_cell, bands.low, bands.high
        band_acc = np.zeros((n_chunks, hours_back, lo.size, bands.n_slots), np.int64)
    pk.footprint_kernel(packed.wind, packed.zlev, packed.surf, packed.met_t, packed.met_axes,
                        s, grid, nx, ny, np.ascontiguousarray(release, dtype=float),
                        float(t_release), np.uint64(rkey), np.uint64(seed), n_particles,
                        hours_back, acc, stats, exits, n_steps, slot, lo, hi, band_acc)
    band_foot = (band_acc.sum(axis=0).astype(float) / pk.FIXED_SCALE
                 if bands is not None else None)
    foot = acc.sum(axis=0).astype(float) / pk.FIXED_SCALE
    if settings.smooth_factor > 0:
        weight = stats[:, :, pk.ST_FOOT].sum(axis=0)
        speed = np.divide(stats[:, :, pk.ST_FOOT_SPEED].sum(axis=0), weight,
                          out=np.zeros(hours_back), where=weight > 0)
        ages = (np.arange(hours_back) + 0.5) * 3600.0
        sigmas = settings.smooth_factor * speed * ages
        smoothed = np.empty((ny, nx))
        for k in range(hours_back):
            if sigmas[k] > 0:
                pk.smooth_field(foot[k].reshape(ny, nx), sigmas[k], grid[1], grid[3], smoothed)
                foot[k] = smoothed.ravel()
    return foot, exits, n_steps, band_foot


def _progress(iterable, enabled: bool, total: int):
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc="particle footprints", unit="receptor")


def particle_footprints(met, grid_axes, receptors, start, n_particles: int = 500,
                        hours_back: int = 24, seed: int = 0,
                        settings: ParticleSettings | None = None,
                        progress: bool = False) -> tuple[Footprints, Exits]:
    """Footprints of receptors from backward particles (see the module docstring).

    Parameters
    ----------
    met : cityflux.metfield.MetField
        Meteorology on a regular grid in the metric frame.
    grid_axes : tuple (x0, dx, nx, y0, dy, ny)
        Footprint grid: west edge (m), cell width (m), cells along x, then along y.
    receptors : Receptors-like
        ``x``, ``y`` (m, metric frame), ``height`` (m above ground), ``hour`` (int, hours
        from ``start``); optional ``x2``, ``y2`` (m; NaN for point receptors) for path
        receptors and ``height_top`` (m; NaN for none) for column receptors.
    start : numpy.datetime64
        Time of hour 0.
    n_particles : int
        Particles per receptor.
    hours_back : int
        How long particles are followed, h.
    seed : int
        Seed (>= 0) of the particles' random streams.
    settings : ParticleSettings, optional
    progress : bool
        Show a progress bar over receptors.

    Returns
    -------
    footprints : Footprints
        ppm per (µmol m⁻² s⁻¹), rows in the order of the receptors.
    exits : Exits
        Shape (n_receptors, n_particles).

    Raises
    ------
    ValueError
        If an input is inconsistent; the message names it and what was expected.
    """
    footprints, exits, _ = _run(met, grid_axes, receptors, start, n_particles, hours_back,
                                seed, settings, progress, None)
    return footprints, exits


def particle_band_footprints(met, grid_axes, receptors, start, bands: Bands,
                             n_particles: int = 500, hours_back: int = 24, seed: int = 0,
                             settings: ParticleSettings | None = None,
                             progress: bool = False) -> np.ndarray:
    """Footprints of fluxes released through height bands of listed cells: what elevated
    sources (stacks) need. The particles are those of :func:`particle_footprints` with the
    same arguments (the same random streams), so both can be computed separately.

    Returns
    -------
    ndarray (n_receptors, hours_back, n_bands, n_slots)
        ppm per (µmol m⁻² s⁻¹) of a flux spread uniformly through band b over the cell of
        slot i (:class:`Bands`): the particles' residence there, m_air Δt / (ρ Δz) per
        particle step whose mean height lies in the band, divided by ``n_particles``.
    """
    return _run(met, grid_axes, receptors, start, n_particles, hours_back, seed, settings,
                progress, bands)[2]


def _run(met, grid_axes, receptors, start, n_particles, hours_back, seed, settings, progress,
         bands):
    settings = ParticleSettings() if settings is None else settings
    if not isinstance(settings, ParticleSettings):
        raise ValueError(f"settings must be a ParticleSettings, got {type(settings).__name__}")
    n_particles = _check_int(n_particles, "n_particles", 1)
    hours_back = _check_int(hours_back, "hours_back", 1)
    seed = _check_int(seed, "seed", 0)
    if seed >= 2 ** 63:
        raise ValueError(f"seed must be below 2**63, got {seed}")
    try:
        start = np.datetime64(start, "ns")
    except (TypeError, ValueError):
        raise ValueError(f"start must be a numpy.datetime64 (the time of hour 0), "
                         f"got {start!r}") from None
    if np.isnat(start):
        raise ValueError("start must be a valid time, got NaT")
    packed = pack_met(met)
    grid, nx, ny = _grid(grid_axes)
    releases, hours = _releases(receptors, grid, nx, ny)
    n_rec = hours.size
    t0 = float(packed.seconds(start))
    t_release = t0 + (hours + settings.release_offset_hours) * 3600.0
    if settings.strict_met_time and packed.met_t.size > 1:
        first, last = packed.met_t[0], packed.met_t[-1]
        bad = (t_release - hours_back * 3600.0 < first - 1e-6) | (t_release > last + 1e-6)
        if np.any(bad):
            i = int(np.argmax(bad))
            when = start + np.timedelta64(int(round((t_release[i] - t0) * 1e9)), "ns")
            raise ValueError(
                f"receptor {i} (released at {when}) needs meteorology from {hours_back} h "
                f"before its release, but the MetField covers {met.time[0]} to "
                f"{met.time[-1]}; extend the MetField or set "
                "ParticleSettings(strict_met_time=False) to hold the first/last field")
    obs_seconds = (start + hours.astype("timedelta64[h]")).astype("datetime64[s]").astype(
        np.int64).astype(float)

    rows, cells, backs, values = [], [], [], []
    shape = (n_rec, n_particles)
    ex = {name: np.empty(shape) for name in ("age", "x", "y", "z")}
    edges = np.empty(shape, np.int8)
    acc = None
    if bands is not None:
        if bands.slot_of_cell.size != nx * ny:
            raise ValueError(f"bands list {bands.slot_of_cell.size} cells; the footprint grid "
                             f"has {nx * ny}")
        band_feet = np.zeros((n_rec, hours_back, bands.low.size, bands.n_slots))
    for r in _progress(range(n_rec), progress, n_rec):
        rkey = pk.receptor_key(np.concatenate([releases[r], [obs_seconds[r]]]))
        foot, exits, _, band_foot = receptor_footprint(packed, grid, nx, ny, releases[r],
                                                       t_release[r], rkey, seed, n_particles,
                                                       hours_back, settings, acc, bands)
        if bands is not None:
            band_feet[r] = band_foot
        back, cell = np.nonzero(foot)
        rows.append(np.full(back.size, r, np.int64))
        backs.append(back.astype(np.int64))
        cells.append(cell.astype(np.int64))
        values.append(foot[back, cell])
        ex["age"][r] = exits[:, pk.EX_AGE] / 3600.0
        ex["x"][r] = exits[:, pk.EX_X]
        ex["y"][r] = exits[:, pk.EX_Y]
        ex["z"][r] = exits[:, pk.EX_Z]
        edges[r] = exits[:, pk.EX_EDGE].astype(np.int8)

    def join(parts, dtype):
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)

    footprints = Footprints(hours, join(rows, np.int64), join(cells, np.int64),
                            join(backs, np.int64), join(values, float), nx * ny)
    log.info("particle footprints: %d receptors x %d particles, %d non-zero cell-hours",
             n_rec, n_particles, footprints.values.size)
    exits = Exits(ex["age"], ex["x"], ex["y"], ex["z"], edges)
    return footprints, exits, (band_feet if bands is not None else None)


def particle_trajectories(met, x, y, height, release_time, ages_s, seed: int = 0,
                          settings: ParticleSettings | None = None,
                          stream: int = 0) -> np.ndarray:
    """Positions of backward particles at given ages (no grid, no exits).

    Parameters
    ----------
    met : MetField
    x, y, height : array_like (n,)
        Start position of every particle, m.
    release_time : numpy.datetime64
        Time at which all particles start.
    ages_s : array_like (n_ages,)
        Increasing ages (time before the release), s, > 0.
    seed, stream : int
        Seed and a stream number (used as the receptor key) of the random numbers.
    settings : ParticleSettings, optional

    Returns
    -------
    ndarray (n, n_ages, 3)
        x, y and height of every particle at every age, m.
    """
    settings = ParticleSettings() if settings is None else settings
    seed = _check_int(seed, "seed", 0)
    stream = _check_int(stream, "stream", 0)
    packed = pack_met(met)
    x0, y0, z0 = (np.ascontiguousarray(np.atleast_1d(np.asarray(a, dtype=float)))
                  for a in (x, y, height))
    if not (x0.shape == y0.shape == z0.shape) or x0.ndim != 1:
        raise ValueError("x, y and height must be 1-D arrays of the same length")
    if not (np.all(np.isfinite(x0)) and np.all(np.isfinite(y0)) and np.all(np.isfinite(z0))
            and np.all(z0 >= 0)):
        raise ValueError("x, y must be finite and height finite and >= 0")
    ages = np.ascontiguousarray(np.atleast_1d(np.asarray(ages_s, dtype=float)))
    if ages.ndim != 1 or ages.size == 0 or np.any(ages <= 0) or np.any(np.diff(ages) <= 0) \
            or not np.all(np.isfinite(ages)):
        raise ValueError("ages_s must be positive, finite and increasing")
    t_release = float(packed.seconds(np.datetime64(release_time, "ns")))
    out = np.empty((x0.size, ages.size, 3))
    n_steps = np.empty((x0.size, 2), np.int64)
    pk.trajectory_kernel(packed.wind, packed.zlev, packed.surf, packed.met_t, packed.met_axes,
                         settings.to_array(), x0, y0, z0, t_release, np.uint64(stream),
                         np.uint64(seed), ages, out, n_steps)
    return out
