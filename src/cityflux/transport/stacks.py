"""Point sources with stacks in the observation operator: the numpy driver.

Validates its inputs and calls :func:`cityflux.transport.stack_kernels.stack_sensitivity_kernel`,
which holds the physics (Briggs plume rise after ISC3, the stack plume under an evolving
mixed layer, emission-hour lags). Pure numpy: no xarray, no files.

Sensitivities are in ppm per (kg CO2 s-1): an hourly-mean mole-fraction enhancement
c_ppm = sum over sources and lags of sensitivity x Q (kg s-1), from
c = Q / M_CO2 x G / n_air x 1e6 with G the plume kernel (s m-3).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..units import air_molar_density
from . import stack_kernels

log = logging.getLogger(__name__)

#: Receptors computed per kernel call (one progress-bar step).
CHUNK = 256

#: Hourly meteorology the stack plume needs (names as in ``cityflux.met.MET_VARIABLES``).
STACK_MET_VARIABLES = ("eastward_wind", "northward_wind", "boundary_layer_height", "air_temperature",
                       "surface_pressure")


class StackInputError(InputError, ValueError):
    """Invalid input to the stack-plume operator (an :class:`InputError` and a ValueError)."""


def _float_vector(name: str, values, size: int | None = None) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise StackInputError(f"{name} must be 1-D, got shape {array.shape}")
    if size is not None and array.size != size:
        raise StackInputError(f"{name} has length {array.size}; expected {size}")
    return array


def _finite(name: str, array: np.ndarray) -> None:
    if not np.isfinite(array).all():
        raise StackInputError(f"{name} has {np.count_nonzero(~np.isfinite(array))} NaN or infinite "
                              "value(s); expected finite numbers")


@dataclass(frozen=True, eq=False)
class StackSources:
    """Point sources with stacks, in the grid's metric frame.

    Parameters
    ----------
    x_m, y_m : ndarray (m,)
        Stack positions, m.
    stack_height_m : ndarray (m,)
        Physical stack (release) height above ground, m (>= 0).
    buoyancy_flux_m4_s3 : ndarray (m,), optional
        Buoyancy flux F_b, m4 s-3 (>= 0); NaN where unknown. Given, it wins over one
        computed from the exit parameters.
    exit_velocity_m_s, exit_temperature_k, diameter_m : ndarray (m,), optional
        Exit velocity v_s (>= 0), exit temperature T_s (> 0) and inside top diameter d
        (> 0); NaN where unknown. With all three F_b is computed with the hour's air
        temperature and momentum rise is considered; with v_s and d, stack-tip downwash.
        With none (and no F_b), the plume does not rise.

    Missing optional arrays mean "unknown" for every source. Arrays are stored
    read-only.
    """

    x_m: np.ndarray
    y_m: np.ndarray
    stack_height_m: np.ndarray
    buoyancy_flux_m4_s3: np.ndarray | None = None
    exit_velocity_m_s: np.ndarray | None = None
    exit_temperature_k: np.ndarray | None = None
    diameter_m: np.ndarray | None = None

    def __post_init__(self):
        x = _float_vector("StackSources.x_m", self.x_m)
        size = x.size
        fields = {"x_m": x,
                  "y_m": _float_vector("StackSources.y_m", self.y_m, size),
                  "stack_height_m": _float_vector("StackSources.stack_height_m", self.stack_height_m, size)}
        for name in ("x_m", "y_m", "stack_height_m"):
            _finite(f"StackSources.{name}", fields[name])
        if (fields["stack_height_m"] < 0).any():
            raise StackInputError("StackSources.stack_height_m must be >= 0 m (height above ground)")
        limits = {"buoyancy_flux_m4_s3": (0.0, True), "exit_velocity_m_s": (0.0, True),
                  "exit_temperature_k": (0.0, False), "diameter_m": (0.0, False)}
        for name, (low, inclusive) in limits.items():
            value = getattr(self, name)
            array = (np.full(size, np.nan) if value is None
                     else _float_vector(f"StackSources.{name}", value, size))
            if np.isinf(array).any():
                raise StackInputError(f"StackSources.{name} has infinite values; use NaN for unknown")
            known = array[~np.isnan(array)]
            bad = (known < low) if inclusive else (known <= low)
            if bad.any():
                relation = ">=" if inclusive else ">"
                raise StackInputError(f"StackSources.{name} must be {relation} {low:g} where known "
                                      f"(NaN = unknown); got {known[bad][0]:g}")
            fields[name] = array
        for name, array in fields.items():
            array = array.copy()
            array.flags.writeable = False
            object.__setattr__(self, name, array)

    @property
    def size(self) -> int:
        """Number of sources."""
        return self.x_m.size

    @classmethod
    def candidates(cls, x_m, y_m, release_height_m: float) -> "StackSources":
        """Candidate sources at the given positions, all released at one height with no rise."""
        x = _float_vector("candidate x_m", x_m)
        return cls(x, y_m, np.full(x.size, float(release_height_m)))


def _progress(chunks, show: bool):
    if not show:
        return chunks
    from tqdm import tqdm

    return tqdm(chunks, desc="stack sensitivities", unit="chunk", leave=False)


def _hourly_met(met: dict, stability) -> tuple[dict, np.ndarray]:
    missing = [name for name in STACK_MET_VARIABLES if name not in met]
    if missing:
        raise StackInputError(f"met is missing {', '.join(missing)}; expected hourly 1-D arrays "
                              f"{', '.join(STACK_MET_VARIABLES)}")
    arrays = {name: np.ascontiguousarray(_float_vector(f"met[{name!r}]", met[name]))
              for name in STACK_MET_VARIABLES}
    lengths = {name: array.size for name, array in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise StackInputError(f"met arrays must all have one value per hour; got lengths {lengths}")
    n_hours = lengths[STACK_MET_VARIABLES[0]]
    if n_hours == 0:
        raise StackInputError("met has no hours")
    for name, array in arrays.items():
        _finite(f"met[{name!r}]", array)
    for name in ("boundary_layer_height", "air_temperature", "surface_pressure"):
        if (arrays[name] <= 0).any():
            raise StackInputError(f"met[{name!r}] must be > 0 (SI units: m, K, Pa)")
    classes = np.asarray(stability)
    if classes.shape != (n_hours,):
        raise StackInputError(f"stability has shape {classes.shape}; expected ({n_hours},), one "
                              "class per met hour")
    if not np.issubdtype(classes.dtype, np.integer):
        raise StackInputError(f"stability must hold integer classes 0..5 (A..F), got dtype {classes.dtype}")
    if ((classes < 0) | (classes > 5)).any():
        raise StackInputError("stability classes must lie in 0..5 (Pasquill A..F)")
    return arrays, np.ascontiguousarray(classes, dtype=np.int64)


def stack_sensitivities(sources: StackSources, receptor_x, receptor_y, receptor_z, obs_hour, met: dict,
                        stability, settings, hours_back: int, integrate_lags: bool = False,
                        progress: bool = False, *, plume_rise: bool = True,
                        reference_height_m: float = 10.0) -> np.ndarray:
    """Sensitivity of hourly-mean receptors to point sources, ppm per (kg CO2 s-1).

    For each receptor (observed in hour t) and lag k = 0..hours_back, the value links the
    emission rate of hour t - k to the hour-t mean mole fraction (see
    :func:`~cityflux.transport.stack_kernels.stack_sensitivity_kernel` for the transport
    and :func:`~cityflux.transport.stack_kernels.stack_plume` for the vertical rules).

    Parameters
    ----------
    sources : StackSources
    receptor_x, receptor_y : array_like (n,)
        Receptor positions in the grid's metric frame, m.
    receptor_z : array_like (n,)
        Inlet height above ground, m (>= 0).
    obs_hour : array_like of int (n,)
        Hour index of each observation into the ``met`` arrays.
    met : dict of ndarray (n_hours,)
        Hourly ``eastward_wind``, ``northward_wind`` (m s-1, at ``reference_height_m``),
        ``boundary_layer_height`` (m), ``air_temperature`` (K), ``surface_pressure`` (Pa),
        indexed by hour from a common origin. Lags reaching before hour 0 give 0.
    stability : array_like of int (n_hours,)
        Pasquill class (0..5 = A..F) of each met hour.
    settings : object
        With ``dispersion`` (a DispersionScheme, ``.code``) and ``min_wind_speed_m_s``
        (floor on the stack-top wind), like ``TransportConfig``.
    hours_back : int
        Largest lag K, hours (>= 0).
    integrate_lags : bool
        Return the sum over lags, shape (n, m), instead of (n, m, K + 1).
    progress : bool
        Show a progress bar.
    plume_rise : bool, keyword
        Apply stack-tip downwash, Briggs rise and buoyancy-induced dispersion (default).
        False: every plume stays at its stack height.
    reference_height_m : float, keyword
        Height of the met winds, m (> 0).

    Returns
    -------
    ndarray of float64
        (n, m, hours_back + 1), or (n, m) with ``integrate_lags``; ppm per (kg s-1).

    Raises
    ------
    StackInputError
        (a ValueError) for inconsistent shapes, non-finite values, classes out of range,
        observation hours outside the met arrays or invalid settings.
    """
    if not isinstance(sources, StackSources):
        raise StackInputError(f"sources must be a StackSources, got {type(sources).__name__}")
    rec_x = _float_vector("receptor_x", receptor_x)
    n_rec = rec_x.size
    rec_y = _float_vector("receptor_y", receptor_y, n_rec)
    rec_z = _float_vector("receptor_z", receptor_z, n_rec)
    for name, array in (("receptor_x", rec_x), ("receptor_y", rec_y), ("receptor_z", rec_z)):
        _finite(name, array)
    if (rec_z < 0).any():
        raise StackInputError("receptor_z must be >= 0 m above ground")
    hours = np.asarray(obs_hour)
    if hours.shape != (n_rec,):
        raise StackInputError(f"obs_hour has shape {hours.shape}; expected ({n_rec},), one per receptor")
    if n_rec and not np.issubdtype(hours.dtype, np.integer):
        raise StackInputError(f"obs_hour must hold integer hour indices, got dtype {hours.dtype}")
    arrays, classes = _hourly_met(met, stability)
    n_hours = classes.size
    if n_rec and (hours.min() < 0 or hours.max() >= n_hours):
        raise StackInputError(f"obs_hour must lie in 0..{n_hours - 1} (the met hours); got "
                              f"{hours.min()}..{hours.max()}")
    if isinstance(hours_back, bool) or not isinstance(hours_back, (int, np.integer)) or hours_back < 0:
        raise StackInputError(f"hours_back must be an integer >= 0, got {hours_back!r}")
    try:
        scheme = int(settings.dispersion.code)
        min_wind = float(settings.min_wind_speed_m_s)
    except AttributeError as exc:
        raise StackInputError("settings needs 'dispersion' (a DispersionScheme) and "
                              f"'min_wind_speed_m_s', like TransportConfig ({exc})") from None
    if not min_wind > 0:
        raise StackInputError(f"settings.min_wind_speed_m_s must be > 0 m/s, got {min_wind}")
    reference = float(reference_height_m)
    if not (np.isfinite(reference) and reference > 0):
        raise StackInputError(f"reference_height_m must be finite and > 0 m, got {reference_height_m!r}")

    n_lags = int(hours_back) + 1
    out = np.empty((n_rec, sources.size, 1 if integrate_lags else n_lags))
    density = np.ascontiguousarray(air_molar_density(arrays["surface_pressure"], arrays["air_temperature"]),
                                   dtype=np.float64)
    source_args = [np.ascontiguousarray(a) for a in (
        sources.x_m, sources.y_m, sources.stack_height_m, sources.buoyancy_flux_m4_s3,
        sources.exit_velocity_m_s, sources.exit_temperature_k, sources.diameter_m)]
    hours = np.ascontiguousarray(hours, dtype=np.int64)
    for start in _progress(range(0, n_rec, CHUNK), progress):
        chunk = slice(start, min(start + CHUNK, n_rec))
        stack_kernels.stack_sensitivity_kernel(
            *source_args,
            np.ascontiguousarray(rec_x[chunk]), np.ascontiguousarray(rec_y[chunk]),
            np.ascontiguousarray(rec_z[chunk]), np.ascontiguousarray(hours[chunk]),
            arrays["eastward_wind"], arrays["northward_wind"], arrays["boundary_layer_height"],
            arrays["air_temperature"], classes, density,
            scheme, min_wind, reference, bool(plume_rise), n_lags, bool(integrate_lags), out[chunk])
    log.info("stack sensitivities: %d receptors x %d sources x %d lags", n_rec, sources.size, n_lags)
    return out.reshape(n_rec, sources.size) if integrate_lags else out
