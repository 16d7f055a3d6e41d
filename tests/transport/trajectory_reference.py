"""Slow, obvious numpy references for the trajectory plume (tests only).

Written from the formulas in :mod:`cityflux.transport.trajectory_plume`'s docstring, not
from the kernels: widths from ``plume_reference`` (tables typed again), a brute-force image
sum, error functions from scipy over every cell (no window), a dense trapezoid rule in time,
and trajectories by classical Runge-Kutta with scipy interpolation.
"""

import math

import numpy as np
import scipy.interpolate
import scipy.special
from plume_reference import ref_image_sum, ref_sigma_y, ref_sigma_z

GAS_CONSTANT = 8.314462618


def ref_vertical(z, H, sz, h):
    """Reflected Gaussian between 0 and h (m-1), well mixed 1/h beyond sigma_z = 1.6 h."""
    if z >= h or H >= h:
        return 0.0
    if sz > 1.6 * h:
        return 1.0 / h
    return ref_image_sum(z, H, sz, h) / (math.sqrt(2 * math.pi) * sz)


def ref_straight_footprint(cells, receptor, wind, blh, pressure, temperature, cls, scheme,
                           release_height, hours_back, u_min=1.0, n_tau=40000):
    """Footprints (hours_back, n_cells) under a uniform, stationary column.

    The trajectory is the straight line X(tau) = X_r - V tau, the plume ages at
    u = max(|V|, u_min), sigma = curve(u tau) of one class, and
    foot[k, c] = integral over [k h, (k + 1) h] of f_c(X, sigma_y) P_z / n_air d tau
    (trapezoid rule on a grid dense near tau = 0).

    cells : dict with x, y (centres), hx, hy (half widths), factor (area / box area)
    receptor : (x, y, z)
    """
    x_r, y_r, z_r = receptor
    u, v = wind
    speed = max(math.hypot(u, v), u_min)
    n_air = pressure / (GAS_CONSTANT * temperature)
    foot = np.zeros((hours_back, cells["x"].size))
    for k in range(hours_back):
        start = k * 3600.0
        if k == 0:
            tau = np.concatenate([[0.0], np.geomspace(1e-3, 3600.0, n_tau)])
        else:
            tau = np.linspace(start, start + 3600.0, n_tau // 4)
        values = np.zeros((tau.size, cells["x"].size))
        for i, t in enumerate(tau):
            if t == 0.0:
                continue
            sy = ref_sigma_y(speed * t, cls, scheme)
            sz = ref_sigma_z(speed * t, cls, scheme)
            pz = ref_vertical(z_r, release_height, sz, blh)
            if pz == 0.0:
                continue
            x = x_r - u * t
            y = y_r - v * t
            s = math.sqrt(2.0) * sy
            fx = 0.5 * (scipy.special.erf((cells["x"] + cells["hx"] - x) / s)
                        - scipy.special.erf((cells["x"] - cells["hx"] - x) / s))
            fy = 0.5 * (scipy.special.erf((cells["y"] + cells["hy"] - y) / s)
                        - scipy.special.erf((cells["y"] - cells["hy"] - y) / s))
            values[i] = fx * fy * cells["factor"] * pz / n_air
        foot[k] = np.trapezoid(values, tau, axis=0) if hasattr(np, "trapezoid") else \
            np.trapz(values, tau, axis=0)
    return foot


class RefWind:
    """u, v of a MetField at one level: linear in time, bilinear in x, y, held outside."""

    def __init__(self, met, level=0):
        seconds = (met.time - met.time[0]) / np.timedelta64(1, "s")
        self.t0 = met.time[0]
        self.axes = (seconds, np.asarray(met.y, float), np.asarray(met.x, float))
        self.u = scipy.interpolate.RegularGridInterpolator(self.axes, met.u[:, level])
        self.v = scipy.interpolate.RegularGridInterpolator(self.axes, met.v[:, level])

    def __call__(self, t, x, y):
        point = [np.clip(t, self.axes[0][0], self.axes[0][-1]),
                 np.clip(y, self.axes[1][0], self.axes[1][-1]),
                 np.clip(x, self.axes[2][0], self.axes[2][-1])]
        return float(self.u(point)[0]), float(self.v(point)[0])


def ref_back_trajectory(wind: RefWind, x, y, release_time, taus, dt=10.0):
    """Positions at back times ``taus`` (s, increasing) by RK4 backward in time."""
    t_release = (np.datetime64(release_time, "ns") - wind.t0) / np.timedelta64(1, "s")
    out = np.empty((len(taus), 2))
    tau = 0.0
    pos = np.array([x, y], float)

    def velocity(tau, p):
        return -np.array(wind(t_release - tau, p[0], p[1]))

    for i, target in enumerate(taus):
        while tau < target - 1e-9:
            h = min(dt, target - tau)
            k1 = velocity(tau, pos)
            k2 = velocity(tau + h / 2, pos + h / 2 * k1)
            k3 = velocity(tau + h / 2, pos + h / 2 * k2)
            k4 = velocity(tau + h, pos + h * k3)
            pos = pos + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            tau += h
        out[i] = pos
    return out
