"""Meteorology as fields: what the transport models read, on a regular grid in metres.

A :class:`MetField` holds hourly (or finer) meteorology on a regular grid in the domain's
metric frame (metres east and north, the frame of :attr:`cityflux.grid.Grid.metric_crs`),
with 3-D winds on height levels above ground. A single column (one mast, one reanalysis
point) is a field with ``x.size == y.size == 1``: every model accepts it and takes it as
uniform in space.

Values are instantaneous at ``time`` (a reader that finds hour means assigns each to the
middle of its hour); models interpolate linearly in time, bilinearly in x and y and
linearly in z (winds held at the lowest level below it and at the highest above it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class MetField:
    """Meteorology on a regular grid (see the module docstring).

    Attributes
    ----------
    time : ndarray of datetime64[ns], (nt,)
        Validity times, strictly increasing.
    x, y : ndarray of float, (nx,), (ny,)
        Regular, increasing axes of the grid in the metric frame, m.
    z : ndarray of float, (nz,)
        Heights above ground of the wind levels, m, increasing (nz = 1: winds at z[0]).
    u, v, w : ndarray of float, (nt, nz, ny, nx)
        Eastward, northward and upward wind, m s⁻¹ (w zero where unknown).
    blh : ndarray (nt, ny, nx)
        Boundary-layer (mixed-layer) height above ground, m.
    ustar : ndarray (nt, ny, nx)
        Friction velocity, m s⁻¹.
    obukhov_length : ndarray (nt, ny, nx)
        Obukhov length, m (±inf for neutral).
    air_temperature : ndarray (nt, ny, nx)
        Near-surface air temperature, K.
    surface_pressure : ndarray (nt, ny, nx)
        Surface air pressure, Pa.
    roughness_length : ndarray (nt, ny, nx)
        Aerodynamic roughness length, m.
    """

    time: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    u: np.ndarray
    v: np.ndarray
    w: np.ndarray
    blh: np.ndarray
    ustar: np.ndarray
    obukhov_length: np.ndarray
    air_temperature: np.ndarray
    surface_pressure: np.ndarray
    roughness_length: np.ndarray

    @property
    def is_column(self) -> bool:
        return self.x.size == 1 and self.y.size == 1

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(nt, nz, ny, nx)."""
        return self.u.shape
