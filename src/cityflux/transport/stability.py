"""Pasquill stability classes from met data, and the dispersion-scheme names.

Plain numpy (no numba): these run once per receptor-hour, not per receptor-cell pair.
Classes are the integers 0..5 for Pasquill A..F, as the kernels in
:mod:`cityflux.transport.kernels` expect.

References
----------
Golder, D. (1972). Relations among stability parameters in the surface layer.
Boundary-Layer Meteorology 3, 47-58.
Pasquill, F. (1974). Atmospheric Diffusion, 2nd ed. Ellis Horwood (Golder's curves).
Turner, D. B. (1964). A diffusion model for an urban area. J. Appl. Meteorol. 3, 83-91.
Turner, D. B. (1970). Workbook of atmospheric dispersion estimates. U.S. EPA, AP-26.
NOAA Global Monitoring Laboratory, General solar position calculations (after
Spencer, J. W. (1971). Fourier series representation of the position of the sun.
Search 2(5), 172).
"""

import enum

import numpy as np

from cityflux.transport.kernels import BRIGGS_URBAN, PASQUILL_GIFFORD

__all__ = [
    "DispersionScheme",
    "StabilityMethod",
    "stability_from_obukhov",
    "solar_elevation_deg",
    "stability_from_wind_and_radiation",
]


class DispersionScheme(str, enum.Enum):
    """Which sigma_y / sigma_z curves the plume uses."""

    PASQUILL_GIFFORD = "pasquill_gifford"
    BRIGGS_URBAN = "briggs_urban"

    @property
    def code(self) -> int:
        """The integer the numba kernels take for this scheme."""
        return {"pasquill_gifford": PASQUILL_GIFFORD, "briggs_urban": BRIGGS_URBAN}[self.value]


class StabilityMethod(str, enum.Enum):
    """How stability classes are derived from the met data."""

    OBUKHOV_LENGTH = "obukhov_length"
    WIND_AND_RADIATION = "wind_and_radiation"


def stability_from_obukhov(obukhov_length_m, roughness_length_m) -> np.ndarray:
    """Pasquill class from the Obukhov length, after Golder (1972).

    Each class has a representative 1/L on Golder's curves as given by Pasquill (1974):
    L_A = -11.4 z0^0.10, L_B = -26.0 z0^0.17, L_C = -123 z0^0.30, 1/L_D = 0,
    L_E = 123 z0^0.30, L_F = 26.0 z0^0.17 (L, z0 in m). The observed 1/L gets the class
    whose representative 1/L is nearest, i.e. the class boundaries lie midway in 1/L.

    Parameters
    ----------
    obukhov_length_m : array_like of float
        Obukhov length L, m; non-zero, not NaN; +-inf means neutral.
    roughness_length_m : array_like of float
        Aerodynamic roughness length z0, m; finite and > 0. Broadcast against L.

    Returns
    -------
    ndarray of int64
        Classes 0..5 (A..F), of the broadcast shape.

    Raises
    ------
    ValueError
        If L is NaN or zero, or z0 is not finite and positive.
    """
    length = np.asarray(obukhov_length_m, dtype=np.float64)
    z0 = np.asarray(roughness_length_m, dtype=np.float64)
    if np.isnan(length).any():
        raise ValueError("obukhov_length_m contains NaN; expected a finite or +-inf length in m")
    if (length == 0.0).any():
        raise ValueError("obukhov_length_m contains 0; expected a non-zero length in m (inf = neutral)")
    if not (np.isfinite(z0).all() and (z0 > 0.0).all()):
        raise ValueError("roughness_length_m must be finite and > 0 m")
    inv_length = 1.0 / length  # +-inf -> +-0: neutral
    z0, inv_length = np.broadcast_arrays(z0, inv_length)
    representative = np.stack(
        [
            -1.0 / (11.4 * z0**0.10),
            -1.0 / (26.0 * z0**0.17),
            -1.0 / (123.0 * z0**0.30),
            np.zeros_like(z0),
            1.0 / (123.0 * z0**0.30),
            1.0 / (26.0 * z0**0.17),
        ],
        axis=-1,
    )
    return np.argmin(np.abs(representative - inv_length[..., None]), axis=-1).astype(np.int64)


def solar_elevation_deg(times_utc, lat_deg, lon_deg) -> np.ndarray:
    """Solar elevation angle from the NOAA / Spencer (1971) series, to about 0.5 degree.

    Parameters
    ----------
    times_utc : array_like of datetime64
        Times in UTC (naive datetime64 values are read as UTC).
    lat_deg, lon_deg : array_like of float
        Latitude (north positive) and longitude (east positive), degrees. Broadcast
        against ``times_utc``.

    Returns
    -------
    ndarray of float64
        Elevation of the sun's centre above the horizon, degrees (no refraction);
        negative at night.
    """
    times = np.asarray(times_utc)
    if not np.issubdtype(times.dtype, np.datetime64):
        raise ValueError(f"times_utc must be datetime64 values, got dtype {times.dtype}")
    times = times.astype("datetime64[s]")
    year_start = times.astype("datetime64[Y]").astype("datetime64[s]")
    next_year = (times.astype("datetime64[Y]") + 1).astype("datetime64[s]")
    days_in_year = (next_year - year_start) / np.timedelta64(1, "D")
    day_start = times.astype("datetime64[D]").astype("datetime64[s]")
    day_of_year = (day_start - year_start) / np.timedelta64(1, "D") + 1.0
    hour = (times - day_start) / np.timedelta64(1, "h")

    gamma = 2.0 * np.pi / days_in_year * (day_of_year - 1.0 + (hour - 12.0) / 24.0)
    eqtime_min = 229.18 * (
        0.000075
        + 0.001868 * np.cos(gamma)
        - 0.032077 * np.sin(gamma)
        - 0.014615 * np.cos(2 * gamma)
        - 0.040849 * np.sin(2 * gamma)
    )
    decl = (
        0.006918
        - 0.399912 * np.cos(gamma)
        + 0.070257 * np.sin(gamma)
        - 0.006758 * np.cos(2 * gamma)
        + 0.000907 * np.sin(2 * gamma)
        - 0.002697 * np.cos(3 * gamma)
        + 0.00148 * np.sin(3 * gamma)
    )
    lat = np.radians(np.asarray(lat_deg, dtype=np.float64))
    lon = np.asarray(lon_deg, dtype=np.float64)
    true_solar_min = hour * 60.0 + eqtime_min + 4.0 * lon
    hour_angle = np.radians(true_solar_min / 4.0 - 180.0)
    cos_zenith = np.sin(lat) * np.sin(decl) + np.cos(lat) * np.cos(decl) * np.cos(hour_angle)
    return 90.0 - np.degrees(np.arccos(np.clip(cos_zenith, -1.0, 1.0)))


# Day table, rows: wind < 2, 2-3, 3-5, 5-6, >= 6 m/s; columns: strong, moderate, slight
# insolation. Split classes (A-B, B-C, C-D) take the more stable member.
_DAY = np.array(
    [
        [0, 1, 1],  # A, A-B -> B, B
        [1, 1, 2],  # A-B -> B, B, C
        [1, 2, 2],  # B, B-C -> C, C
        [2, 3, 3],  # C, C-D -> D, D
        [2, 3, 3],  # C, D, D
    ],
    dtype=np.int64,
)
# Night table, same wind rows; columns: cloud >= 0.5, cloud < 0.5.
_NIGHT = np.array(
    [
        [4, 5],  # E, F
        [4, 5],  # E, F
        [3, 4],  # D, E
        [3, 3],  # D, D
        [3, 3],  # D, D
    ],
    dtype=np.int64,
)
_WIND_EDGES = np.array([2.0, 3.0, 5.0, 6.0])


def stability_from_wind_and_radiation(wind_speed_10m, solar_elevation_deg, cloud_fraction) -> np.ndarray:
    """Pasquill class from the Pasquill-Turner table (Turner 1970, table 1).

    Day (solar elevation > 0): insolation is strong above 60 degrees, moderate in
    (35, 60], slight at 35 degrees and below (including the low sun under 15 degrees).
    With cloud_fraction > 0.5 the insolation drops one step (strong -> moderate,
    moderate -> slight, slight stays slight), a simplification of Turner's (1964)
    net-radiation index. Wind rows are < 2, [2, 3), [3, 5), [5, 6), >= 6 m/s; the split
    classes A-B, B-C, C-D take the more stable member (B, C, D), which errs towards
    the smaller spread.

    Night (elevation <= 0): cloud_fraction >= 0.5 gives E, E, D, D and cloud_fraction
    < 0.5 gives F, F, E, D for winds < 2, [2, 3), [3, 5), >= 5 m/s.

    Parameters
    ----------
    wind_speed_10m : array_like of float
        Wind speed at 10 m, m s-1; finite and >= 0.
    solar_elevation_deg : array_like of float
        Solar elevation, degrees; finite, in [-90, 90].
    cloud_fraction : array_like of float
        Total cloud cover as a fraction, in [0, 1].

    Returns
    -------
    ndarray of int64
        Classes 0..5 (A..F), of the broadcast shape of the inputs.

    Raises
    ------
    ValueError
        If an input is NaN or out of its range.
    """
    wind = np.asarray(wind_speed_10m, dtype=np.float64)
    elevation = np.asarray(solar_elevation_deg, dtype=np.float64)
    cloud = np.asarray(cloud_fraction, dtype=np.float64)
    if not (np.isfinite(wind).all() and (wind >= 0.0).all()):
        raise ValueError("wind_speed_10m must be finite and >= 0 m/s")
    if not (np.isfinite(elevation).all() and (np.abs(elevation) <= 90.0).all()):
        raise ValueError("solar_elevation_deg must be finite and within [-90, 90] degrees")
    if not ((cloud >= 0.0).all() and (cloud <= 1.0).all()):
        raise ValueError("cloud_fraction must be a fraction in [0, 1] (not NaN, not oktas or percent)")
    wind, elevation, cloud = np.broadcast_arrays(wind, elevation, cloud)

    wind_row = np.searchsorted(_WIND_EDGES, wind, side="right")
    # 0 strong, 1 moderate, 2 slight
    insolation = np.where(elevation > 60.0, 0, np.where(elevation > 35.0, 1, 2))
    insolation = np.minimum(insolation + (cloud > 0.5), 2)
    day = _DAY[wind_row, insolation]
    night = _NIGHT[wind_row, (cloud < 0.5).astype(np.int64)]
    return np.where(elevation > 0.0, day, night).astype(np.int64)
