"""Synthetic hourly meteorology with realistic diurnal cycles, for demos and OSSEs.

Wind direction wanders around a prevailing direction with a day-long memory; wind speed
has a synoptic part and an afternoon maximum; the boundary layer grows from a shallow
nocturnal layer after sunrise to a daily maximum in mid-afternoon and collapses at sunset;
the sensible heat flux follows the sun (reduced by cloud) and is slightly negative at night,
and the Obukhov length follows from it, L = −ρ c_p T u*³ / (κ g H).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..transport.stability import solar_elevation_deg

KARMAN = 0.4
GRAVITY = 9.81
AIR_DENSITY = 1.15      # kg m-3
HEAT_CAPACITY = 1005.0  # J kg-1 K-1


def _smooth_noise(rng, n: int, timescale_hours: float) -> np.ndarray:
    """Unit-variance AR(1) series with the given e-folding time."""
    phi = np.exp(-1.0 / timescale_hours)
    out = np.empty(n)
    out[0] = rng.standard_normal()
    for i in range(1, n):
        out[i] = phi * out[i - 1] + np.sqrt(1 - phi ** 2) * rng.standard_normal()
    return out


def synthetic_meteorology(start, n_hours: int, lon: float, lat: float,
                          rng: np.random.Generator, prevailing_from_deg: float = 250.0,
                          mean_speed: float = 4.0) -> xr.Dataset:
    """Hourly domain-representative meteorology as a CF dataset (see :mod:`cityflux.met`).

    Parameters
    ----------
    start : datetime-like
        First hour (UTC).
    n_hours : int
    lon, lat : float
        Where the sun is computed, degrees.
    rng : numpy.random.Generator
    prevailing_from_deg : float
        Prevailing direction the wind blows from, degrees clockwise from north.
    mean_speed : float
        Mean 10-m wind speed, m s-1.
    """
    time = np.datetime64(start, "ns") + np.arange(n_hours) * np.timedelta64(1, "h")
    # Met values describe the hour starting at `time`: take the sun at mid-hour.
    elevation = solar_elevation_deg(time + np.timedelta64(30, "m"), lat, lon)
    sun = np.clip(np.sin(np.radians(elevation)), 0, None)

    direction = prevailing_from_deg + 35.0 * _smooth_noise(rng, n_hours, 24.0)
    speed = mean_speed * (1 + 0.3 * _smooth_noise(rng, n_hours, 36.0)) + 1.2 * (sun - 0.3)
    speed = np.clip(speed, 1.0, None)
    u = -speed * np.sin(np.radians(direction))
    v = -speed * np.cos(np.radians(direction))

    cloud = np.clip(0.35 + 0.3 * _smooth_noise(rng, n_hours, 12.0), 0.0, 1.0)
    heat_flux = np.where(sun > 0, 320.0 * sun * (1 - 0.6 * cloud), -25.0 * (1 - 0.5 * cloud))
    heat_flux = np.where(np.abs(heat_flux) < 5.0, np.sign(heat_flux + 1e-9) * 5.0, heat_flux)
    friction_velocity = 0.08 * speed + 0.05
    temperature = 295.0 + 6.0 * sun + 1.5 * _smooth_noise(rng, n_hours, 48.0)
    obukhov = (-AIR_DENSITY * HEAT_CAPACITY * temperature * friction_velocity ** 3 /
               (KARMAN * GRAVITY * heat_flux))

    # Boundary layer: grows with the accumulated daytime heating, collapses after sunset.
    day_max = 1100.0 + 500.0 * rng.random(n_hours // 24 + 2)
    night = 180.0 + 60.0 * _smooth_noise(rng, n_hours, 12.0).clip(-2, 2)
    blh = np.empty(n_hours)
    accumulated = 0.0
    for i in range(n_hours):
        accumulated = accumulated + sun[i] if sun[i] > 0 else 0.0
        growth = np.clip(accumulated / 6.0, 0.0, 1.0)  # ~6 sun-weighted hours to full depth
        blh[i] = night[i] + growth * (day_max[i // 24] - night[i]) if sun[i] > 0 else night[i]
    pressure = 100800.0 + 300.0 * _smooth_noise(rng, n_hours, 72.0)

    def var(values, standard_name, units, long_name):
        attrs = {"units": units, "long_name": long_name}
        if standard_name:
            attrs["standard_name"] = standard_name
        return ("time", np.asarray(values, dtype=np.float32), attrs)

    return xr.Dataset(
        {
            "u10": var(u, "eastward_wind", "m s-1", "eastward wind at 10 m"),
            "v10": var(v, "northward_wind", "m s-1", "northward wind at 10 m"),
            "blh": var(blh, "atmosphere_boundary_layer_thickness", "m",
                       "boundary-layer height"),
            "t2m": var(temperature, "air_temperature", "K", "air temperature at 2 m"),
            "sp": var(pressure, "surface_air_pressure", "Pa", "surface air pressure"),
            "obukhov_length": var(obukhov, None, "m", "Obukhov length"),
            "tcc": var(cloud, "cloud_area_fraction", "1", "total cloud cover"),
            "shf": var(heat_flux, "surface_upward_sensible_heat_flux", "W m-2",
                       "surface upward sensible heat flux"),
        },
        coords={"time": ("time", time, {"standard_name": "time", "long_name":
                                        "start of hour (values are hourly means)"})},
        attrs={"Conventions": "CF-1.8", "title": "synthetic hourly meteorology",
               "source": "cityflux.synthetic.meteorology"},
    )
