"""Backward Gaussian-puff footprints: the "true" transport of synthetic cities.

The inversion's transport is a steady straight Gaussian plume under one met column; this
module simulates observations with a transport of a different *structure*, so that
synthetic experiments are not an inverse crime.

From every receptor (x, y, height z) a back-trajectory is released at the observation
time and integrated backwards through a wind field of :mod:`cityflux.synthetic.winds`
(bilinear in space, linear in time between mid-hours, held at the edge values outside the
wind grid) with a fixed step and the midpoint rule. At every back time τ the receptor's
influence is a Gaussian puff about the trajectory position:

* horizontal spread from Taylor (1921), σ_h² = σ_0² + 2 σ_v² T_L [τ − T_L (1 − e^(−τ/T_L))],
  accumulated step by step with the local σ_v and T_L (exact in homogeneous turbulence);
  σ_v and T_L are bulk mixed-layer values after Hanna (1982) from u*, w* and h
  (:func:`cityflux.synthetic.puff_kernels.mixed_layer_turbulence`), with floors standing
  for low-wind meandering;
* vertical: a Gaussian about the release height with σ_z from σ_w and T_Lw in the same
  way, reflected at the ground and at the top of the layer, which tends to the well-mixed
  1/h. The lid is the highest boundary-layer top met along the trajectory between emission
  and observation, h_max: what was emitted into yesterday's deep layer stays diluted over
  it in the residual layer after the collapse at sunset, and what was emitted into the
  shallow morning layer is diluted over the layer it has grown into. A receptor above
  h_max sees no surface flux.

Surface fluxes: foot(c, k) = Σ_{τ: ⌊τ/3600⌋ = k} Δτ × q_c(τ) × P_z(z; surface release) / n_air
in ppm per (µmol m⁻² s⁻¹) (numerically m² s mol⁻¹, the STILT convention), q_c the fraction
of the horizontal Gaussian inside cell c (error functions in x times y in the grid's
metric frame, so that the near field stays finite and the mass is right), n_air the molar
density of air along the trajectory (:func:`cityflux.units.air_molar_density`, at the
surface). The puff is evaluated only within ``window_sigmas`` σ_h of its centre, and each
step is subdivided so that the puff moves at most half its width (or half a cell) between
samples, with ``first_step_samples`` samples in the first step where σ_z grows past the
inlet height.

Elevated point sources: the puff of hour e is released at that hour's effective height H
(plume rise computed by the caller). Inside the layer at its place and time it is the
reflected Gaussian above; above the layer it stays aloft (no signal at a receptor in the
layer) until the layer along the trajectory grows above H, and is then mixed over it
(1/h_max). Sensitivities are in ppm per (kg CO2 s⁻¹): the kernel sum Σ Δτ P_h P_z / n_air is
mole fraction per (mol s⁻¹); × 1e6 / MOLAR_MASS_CO2 gives ppm per (kg CO2 s⁻¹).

Times: the field's first hour starts at t = 0 and its values are valid at mid-hour; an
observation of hour ``obs_hour`` is released at t = obs_hour + ``release_offset_hours``
(default mid-hour, the centre of an hourly mean). Contributions are binned by whole hours
back, k = ⌊τ / 3600⌋, and attributed to emission hour obs_hour − k, as the plume does.

This is deliberately neither Pasquill-Gifford/Briggs curves nor a straight line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import xarray as xr

from ..errors import InputError
from ..transport.footprints import Footprints
from ..units import MOLAR_MASS_CO2, air_molar_density, convert
from . import puff_kernels as kernels

log = logging.getLogger(__name__)

#: Field variable -> (standard name or variable name, units) read by the puff model.
_FIELD_INPUTS = {
    "u": ("eastward_wind", "m s-1"),
    "v": ("northward_wind", "m s-1"),
    "blh": ("atmosphere_boundary_layer_thickness", "m"),
    "ustar": ("magnitude_of_surface_friction_velocity_in_air", "m s-1"),
    "obukhov_length": ("obukhov_length", "m"),
    "t": ("air_temperature", "K"),
    "sp": ("surface_air_pressure", "Pa"),
}

#: Units of point-source sensitivities.
POINT_SENSITIVITY_UNITS = "ppm (kg s-1)-1"

#: Dense footprint buffer per chunk of receptors, number of float64 values.
_BUFFER_VALUES = 4_000_000


@dataclass(frozen=True)
class PuffSettings:
    """Numerical and physical settings of the puff transport.

    Attributes
    ----------
    hours_back : int
        Length of the back-trajectories, h.
    step_s : float
        Integration step, s; a whole number of seconds that divides 3600.
    release_offset_hours : float
        Release time within the observation hour, h (0.5: mid-hour).
    initial_sigma_h_m, initial_sigma_z_m : float
        Puff size at the release, m.
    min_sigma_v_m_s : float
        Floor on σ_v (low-wind meandering), m s-1.
    min_lagrangian_time_s : float
        Floor on T_Lv, s.
    window_sigmas : float
        Puffs are evaluated within this many σ_h of their centre.
    first_step_samples, max_step_samples : int
        Samples in the first step, and at most in any step.
    """

    hours_back: int = 24
    step_s: float = 300.0
    release_offset_hours: float = 0.5
    initial_sigma_h_m: float = 50.0
    initial_sigma_z_m: float = 5.0
    min_sigma_v_m_s: float = 0.3
    min_lagrangian_time_s: float = 300.0
    window_sigmas: float = 4.0
    first_step_samples: int = 32
    max_step_samples: int = 64

    def __post_init__(self):
        if self.hours_back < 1:
            raise ValueError(f"hours_back must be >= 1, got {self.hours_back}")
        if not (self.step_s > 0 and float(self.step_s).is_integer() and
                3600 % int(self.step_s) == 0):
            raise ValueError(f"step_s must be a whole number of seconds that divides 3600 s, "
                             f"got {self.step_s}")
        if self.initial_sigma_h_m <= 0 or self.initial_sigma_z_m <= 0:
            raise ValueError("initial puff sizes must be > 0 m")
        if self.window_sigmas < 2:
            raise ValueError(f"window_sigmas must be >= 2, got {self.window_sigmas}")
        if self.first_step_samples < 1 or self.max_step_samples < self.first_step_samples:
            raise ValueError("need 1 <= first_step_samples <= max_step_samples")

    @property
    def n_steps(self) -> int:
        return int(round(self.hours_back * 3600.0 / self.step_s))

    def kernel_array(self) -> np.ndarray:
        settings = np.empty(kernels.N_SETTINGS)
        settings[kernels.S_SIGMA_H0] = self.initial_sigma_h_m
        settings[kernels.S_SIGMA_Z0] = self.initial_sigma_z_m
        settings[kernels.S_MIN_SIGMA_V] = self.min_sigma_v_m_s
        settings[kernels.S_MIN_TL] = self.min_lagrangian_time_s
        settings[kernels.S_WINDOW] = self.window_sigmas
        settings[kernels.S_FIRST_SUB] = self.first_step_samples
        settings[kernels.S_MAX_SUB] = self.max_step_samples
        return settings


@dataclass(frozen=True)
class MetArrays:
    """A wind field as kernel arrays (see :mod:`cityflux.synthetic.puff_kernels`)."""

    met: np.ndarray     # (N_MET, nt, ny, nx)
    axes: np.ndarray    # x0, dx, y0, dy
    time: np.ndarray    # datetime64 hour starts


def met_arrays(field: xr.Dataset, where: str = "wind field") -> MetArrays:
    """The kernel arrays of a wind field, read by standard name with units checked."""
    for dim in ("time", "y", "x"):
        if dim not in field.dims:
            raise InputError(f"{where}: dimension {dim!r} missing; expected (time, y, x), "
                             f"found {tuple(field.dims)}")
    values = {}
    for name, (standard_name, units) in _FIELD_INPUTS.items():
        var = next((v for v in field.data_vars.values()
                    if v.attrs.get("standard_name") == standard_name), None)
        if var is None:
            var = field.data_vars.get(standard_name, field.data_vars.get(name))
        if var is None:
            raise InputError(f"{where}: no variable with standard_name {standard_name!r} "
                             f"(or named {name!r})")
        if "units" not in var.attrs:
            raise InputError(f"{where}: {var.name} has no units attribute; expected {units!r}")
        data = var.transpose("time", "y", "x").values
        data = np.asarray(convert(data, var.attrs["units"], units, f"{where}: {var.name}"),
                          dtype=float)
        if not np.isfinite(data).all():
            raise InputError(f"{where}: {var.name} has missing or non-finite values")
        values[name] = data
    axes = []
    for dim in ("x", "y"):
        centres = np.asarray(field[dim].values, float)
        step = np.diff(centres)
        if centres.size < 2 or (step <= 0).any() or np.ptp(step) > 1e-6 * step.mean():
            raise InputError(f"{where}: {dim} must hold at least two ascending, regularly "
                             "spaced cell centres in metres")
        axes += [centres[0], step.mean()]
    time = np.asarray(field["time"].values)
    if time.size > 1 and not (np.diff(time) == np.timedelta64(1, "h")).all():
        raise InputError(f"{where}: time must be consecutive hours")
    if (values["blh"] <= 0).any() or (values["ustar"] <= 0).any():
        raise InputError(f"{where}: boundary-layer height and friction velocity must be > 0")
    met = np.empty((kernels.N_MET, *values["u"].shape))
    met[kernels.MET_U] = values["u"]
    met[kernels.MET_V] = values["v"]
    met[kernels.MET_H] = values["blh"]
    met[kernels.MET_USTAR] = values["ustar"]
    with np.errstate(divide="ignore"):
        met[kernels.MET_INV_L] = 1.0 / values["obukhov_length"]
    met[kernels.MET_NAIR] = air_molar_density(values["sp"], values["t"])
    return MetArrays(met, np.asarray(axes), field["time"].values)


def _receptors(receptor_x, receptor_y, receptor_z, obs_hour, settings: PuffSettings,
               n_hours: int):
    x, y, z = (np.ascontiguousarray(np.atleast_1d(a), dtype=float)
               for a in (receptor_x, receptor_y, receptor_z))
    hours = np.atleast_1d(np.asarray(obs_hour))
    if not np.issubdtype(hours.dtype, np.integer):
        raise ValueError(f"obs_hour must be integers (hours from the field's first hour), "
                         f"got dtype {hours.dtype}")
    hours = np.ascontiguousarray(hours, dtype=np.int64)
    if not (x.shape == y.shape == z.shape == hours.shape) or x.ndim != 1:
        raise ValueError("receptor_x, receptor_y, receptor_z and obs_hour must be 1-D "
                         "arrays of one length")
    if (z < 0).any():
        raise ValueError("receptor heights must be >= 0 m above ground")
    if hours.size and (hours.min() < 0 or hours.max() >= n_hours):
        raise ValueError(f"obs_hour must lie in 0..{n_hours - 1} (the wind field's hours); "
                         f"got {hours.min()}..{hours.max()}")
    release = (hours + settings.release_offset_hours) * 3600.0
    return x, y, z, hours, release


def back_trajectory(field: xr.Dataset, x: float, y: float, obs_hour: int,
                    settings: PuffSettings = PuffSettings()) -> xr.Dataset:
    """The back-trajectory of one receptor and its puff spreads at every step boundary.

    Returns
    -------
    xarray.Dataset
        On dim ``time`` (the time of each node): ``back_time`` (s), ``x``, ``y`` (m),
        ``sigma_h``, ``sigma_z`` (m), ``boundary_layer_height_max`` (m), and on the
        steps (``step`` dim) ``sigma_v`` (m s-1), ``lagrangian_time`` (s), ``sigma_w``,
        ``vertical_lagrangian_time``.
    """
    arrays = met_arrays(field)
    rx, ry, _, _, release = _receptors(x, y, 0.0, np.int64(obs_hour), settings,
                                          arrays.time.size)
    n = settings.n_steps
    nodes = np.empty((n + 1, kernels.N_NODE))
    steps = np.empty((n, kernels.N_STEP))
    kernels.back_trajectory(arrays.met, arrays.axes, rx[0], ry[0], release[0], n,
                            float(settings.step_s), settings.kernel_array(), nodes, steps)
    back_time = np.arange(n + 1) * settings.step_s
    time = (arrays.time[0] + (release[0] - back_time) * np.timedelta64(1, "s")
            ).astype("datetime64[ns]")

    def node(column, units, long_name, sqrt=False):
        values = np.sqrt(nodes[:, column]) if sqrt else nodes[:, column]
        return ("time", values, {"units": units, "long_name": long_name})

    def step(column, units, long_name):
        return ("step", steps[:, column], {"units": units, "long_name": long_name})

    return xr.Dataset(
        {"x": node(kernels.N_X, "m", "trajectory easting"),
         "y": node(kernels.N_Y, "m", "trajectory northing"),
         "sigma_h": node(kernels.N_SH2, "m", "horizontal puff spread", sqrt=True),
         "sigma_z": node(kernels.N_SZ2, "m", "vertical puff spread", sqrt=True),
         "boundary_layer_height_max": node(kernels.N_HMAX, "m",
                                           "highest boundary-layer top since the release"),
         "sigma_v": step(kernels.P_SV, "m s-1", "horizontal velocity standard deviation"),
         "lagrangian_time": step(kernels.P_TLV, "s", "horizontal Lagrangian time scale"),
         "sigma_w": step(kernels.P_SW, "m s-1", "vertical velocity standard deviation"),
         "vertical_lagrangian_time": step(kernels.P_TLW, "s",
                                          "vertical Lagrangian time scale")},
        coords={"time": ("time", time, {"standard_name": "time"}),
                "back_time": ("time", back_time, {"units": "s",
                                                  "long_name": "time before the release"})},
        attrs={"title": "puff back-trajectory", "source": "cityflux.synthetic.puffs"})


def _chunk_size(hours_back: int, n_cells: int) -> int:
    return int(max(1, min(512, _BUFFER_VALUES // (hours_back * n_cells))))


def surface_footprints(field: xr.Dataset, grid, receptor_x, receptor_y, receptor_z, obs_hour,
                       settings: PuffSettings = PuffSettings()) -> Footprints:
    """Surface-flux footprints of observations under the puff transport.

    Parameters
    ----------
    field : xarray.Dataset
        Wind field (:mod:`cityflux.synthetic.winds`) in the grid's metric frame.
    grid : cityflux.grid.Grid
        A projected grid (its CRS is the metric frame).
    receptor_x, receptor_y : array_like (n_obs,), m
        Receptor positions in the grid's metric frame.
    receptor_z : array_like (n_obs,), m
        Inlet heights above ground.
    obs_hour : array_like of int (n_obs,)
        Observation hours counted from the field's first hour.
    settings : PuffSettings

    Returns
    -------
    Footprints
        In ppm per (µmol m⁻² s⁻¹); ``observation_operator(footprints, n_hours, 1)`` gives
        the hourly operator.
    """
    if grid.is_geographic:
        raise InputError("puff footprints need a projected grid (metres); got a lat/lon "
                         f"grid in {grid.crs!r}")
    arrays = met_arrays(field)
    x, y, z, hours, release = _receptors(receptor_x, receptor_y, receptor_z, obs_hour,
                                          settings, arrays.time.size)
    cell_edges = np.array([grid.x_start, grid.x_step, grid.y_start, grid.y_step], float)
    kernel_settings = settings.kernel_array()
    chunk = _chunk_size(settings.hours_back, grid.size)
    parts = []
    whole_buffer = np.zeros((min(chunk, x.size), settings.hours_back, grid.size))
    for start in range(0, x.size, chunk):
        part = slice(start, min(start + chunk, x.size))
        buffer = whole_buffer[: part.stop - part.start]  # all zero: from_dense clears it
        kernels.surface_footprints(arrays.met, arrays.axes, cell_edges, grid.nx, grid.ny,
                                   x[part], y[part], z[part], release[part], settings.n_steps,
                                   float(settings.step_s), settings.hours_back,
                                   kernel_settings, buffer)
        parts.append(Footprints.from_dense(hours[part], buffer))
    if not parts:
        raise InputError("no receptors to compute footprints for")
    footprints = Footprints.concatenate(parts)
    log.info("puff footprints: %d observations, %d non-zero cell-hours", x.size,
             footprints.values.size)
    return footprints


def point_source_sensitivities(field: xr.Dataset, receptor_x, receptor_y, receptor_z, obs_hour,
                               source_x, source_y, release_height,
                               settings: PuffSettings = PuffSettings()) -> xr.DataArray:
    """Sensitivity of observations to elevated point sources, per hour back.

    Parameters
    ----------
    field : xarray.Dataset
        Wind field in the grid's metric frame.
    receptor_x, receptor_y, receptor_z, obs_hour : array_like (n_obs,)
        As for :func:`surface_footprints`.
    source_x, source_y : array_like (n_sources,), m
        Source positions in the metric frame.
    release_height : array_like (n_sources, n_hours), m
        Effective release height (stack plus plume rise) of every source in every hour
        counted from the field's first hour; emissions outside these hours are left out.

    Returns
    -------
    xarray.DataArray (obs, source, hours_back)
        ppm per (kg CO2 s⁻¹) emitted in hour obs_hour − hours_back: the enhancement is
        Σ_s,k S[obs, s, k] × Q_s(obs_hour − k) for emission rates Q in kg CO2 s⁻¹
        (see :func:`point_source_enhancement`).
    """
    arrays = met_arrays(field)
    x, y, z, hours, release = _receptors(receptor_x, receptor_y, receptor_z, obs_hour,
                                          settings, arrays.time.size)
    sx = np.ascontiguousarray(np.atleast_1d(source_x), dtype=float)
    sy = np.ascontiguousarray(np.atleast_1d(source_y), dtype=float)
    heights = np.ascontiguousarray(np.atleast_2d(release_height), dtype=float)
    if sx.shape != sy.shape or heights.shape[0] != sx.size:
        raise ValueError("source_x, source_y must have one length n_sources and "
                         f"release_height shape (n_sources, n_hours); got {sx.shape}, "
                         f"{sy.shape}, {heights.shape}")
    if (heights < 0).any() or not np.isfinite(heights).all():
        raise ValueError("release heights must be finite and >= 0 m")
    out = np.zeros((x.size, sx.size, settings.hours_back))
    kernels.point_source_sensitivities(arrays.met, arrays.axes, x, y, z, release, hours, sx, sy,
                                       heights, settings.n_steps, float(settings.step_s),
                                       settings.hours_back, settings.kernel_array(), out)
    out *= 1e6 / MOLAR_MASS_CO2
    return xr.DataArray(
        out, dims=("obs", "source", "hours_back"),
        coords={"obs_hour": ("obs", hours), "hours_back": np.arange(settings.hours_back)},
        name="point_source_sensitivity",
        attrs={"units": POINT_SENSITIVITY_UNITS,
               "long_name": "mole fraction enhancement per CO2 emission rate of each point "
                            "source, by whole hours between emission and observation"})


def point_source_enhancement(sensitivity: xr.DataArray, emission_rate) -> np.ndarray:
    """Enhancement (ppm) of every observation from point sources.

    Parameters
    ----------
    sensitivity : xarray.DataArray (obs, source, hours_back)
        From :func:`point_source_sensitivities`.
    emission_rate : array_like (n_sources, n_hours), kg CO2 s-1
        Hourly emission rate of each source, hours counted from the field's first hour.
    """
    rate = np.atleast_2d(np.asarray(emission_rate, float))
    values = sensitivity.values
    obs_hour = sensitivity["obs_hour"].values
    emission_hour = obs_hour[:, None] - np.arange(values.shape[2])[None, :]
    inside = (emission_hour >= 0) & (emission_hour < rate.shape[1])
    emitted = rate[:, np.clip(emission_hour, 0, rate.shape[1] - 1)]   # (source, obs, k)
    emitted = np.where(inside[None], emitted, 0.0)
    return np.einsum("osk,sok->o", values, emitted)
