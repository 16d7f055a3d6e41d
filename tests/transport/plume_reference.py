"""Slow, obvious pure-numpy reference for the plume kernels (tests only).

Written independently of ``cityflux.transport.kernels``: the tables are typed again
from EPA-454/B-95-003b, the image sum uses a fixed, generous number of images, and the
footprint is a plain double loop.
"""

import math

import numpy as np

# ISC3 rural sigma_y (c, d) per class letter.
SY_CD = {
    "A": (24.1670, 2.5334),
    "B": (18.3330, 1.8096),
    "C": (12.5000, 1.0857),
    "D": (8.3330, 0.72382),
    "E": (6.2500, 0.54287),
    "F": (4.1667, 0.36191),
}

# ISC3 rural sigma_z: (upper x_km bound, a, b), the last one applies beyond.
SZ_TABLE = {
    "A": [
        (0.10, 122.800, 0.94470),
        (0.15, 158.080, 1.05420),
        (0.20, 170.220, 1.09320),
        (0.25, 179.520, 1.12620),
        (0.30, 217.410, 1.26440),
        (0.40, 258.890, 1.40940),
        (0.50, 346.750, 1.72830),
        (math.inf, 453.850, 2.11660),
    ],
    "B": [(0.20, 90.673, 0.93198), (0.40, 98.483, 0.98332), (math.inf, 109.300, 1.09710)],
    "C": [(math.inf, 61.141, 0.91465)],
    "D": [
        (0.30, 34.459, 0.86974),
        (1.0, 32.093, 0.81066),
        (3.0, 32.093, 0.64403),
        (10.0, 33.504, 0.60486),
        (30.0, 36.650, 0.56589),
        (math.inf, 44.053, 0.51179),
    ],
    "E": [
        (0.10, 24.260, 0.83660),
        (0.30, 23.331, 0.81956),
        (1.0, 21.628, 0.75660),
        (2.0, 21.628, 0.63077),
        (4.0, 22.534, 0.57154),
        (10.0, 24.703, 0.50527),
        (20.0, 26.970, 0.46713),
        (40.0, 35.420, 0.37615),
        (math.inf, 47.618, 0.29592),
    ],
    "F": [
        (0.20, 15.209, 0.81558),
        (0.70, 14.457, 0.78407),
        (1.0, 13.953, 0.68465),
        (2.0, 13.953, 0.63227),
        (3.0, 14.823, 0.54503),
        (7.0, 16.187, 0.46490),
        (15.0, 17.836, 0.41507),
        (30.0, 22.651, 0.32681),
        (60.0, 27.074, 0.27436),
        (math.inf, 34.219, 0.21716),
    ],
}
SZ_CAP = {"A": 5000.0, "B": 5000.0, "C": 5000.0}

LETTERS = "ABCDEF"


def ref_sigma_y(x, cls, scheme):
    letter = LETTERS[cls]
    if scheme == 0:
        c, d = SY_CD[letter]
        x_km = x / 1000.0
        return 465.11628 * x_km * np.tan(0.017453293 * (c - d * np.log(x_km)))
    coef = {"A": 0.32, "B": 0.32, "C": 0.22, "D": 0.16, "E": 0.11, "F": 0.11}[letter]
    return coef * x / np.sqrt(1.0 + 0.0004 * x)


def ref_sigma_z(x, cls, scheme):
    letter = LETTERS[cls]
    if scheme == 0:
        x_km = x / 1000.0
        for upper, a, b in SZ_TABLE[letter]:
            if x_km <= upper:
                return min(a * x_km**b, SZ_CAP.get(letter, math.inf))
    if letter in "AB":
        return 0.24 * x * np.sqrt(1.0 + 0.001 * x)
    if letter == "C":
        return 0.20 * x
    if letter == "D":
        return 0.14 * x / np.sqrt(1.0 + 0.0003 * x)
    return 0.08 * x / np.sqrt(1.0 + 0.0015 * x)


def ref_image_sum(z, H, sz, h, n_images=25):
    n = np.arange(-n_images, n_images + 1)
    return float(
        np.sum(np.exp(-((z - H + 2 * n * h) ** 2) / (2 * sz**2)))
        + np.sum(np.exp(-((z + H + 2 * n * h) ** 2) / (2 * sz**2)))
    )


def ref_plume(x, y, z, H, U, h, cls, scheme):
    if x <= 0 or H >= h or z >= h:
        return 0.0
    sy = ref_sigma_y(x, cls, scheme)
    sz = ref_sigma_z(x, cls, scheme)
    lateral = np.exp(-(y**2) / (2 * sy**2))
    if sz > 1.6 * h:
        return lateral / (np.sqrt(2 * np.pi) * U * sy * h)
    return lateral * ref_image_sum(z, H, sz, h) / (2 * np.pi * U * sy * sz)


def ref_footprints(cells, receptors, scheme, min_wind_speed, max_travel_time_s, near_factor, n_sub_near):
    """cells / receptors: dicts of 1-D arrays with the kernel's argument names."""
    n_rec = len(receptors["x"])
    n_cells = len(cells["x"])
    foot = np.zeros((n_rec, n_cells))
    travel = np.full((n_rec, n_cells), -1.0)
    for r in range(n_rec):
        u, v = receptors["u"][r], receptors["v"][r]
        speed = np.hypot(u, v)
        if speed == 0:
            continue
        U = max(speed, min_wind_speed)
        wind_dir = np.array([u, v]) / speed
        cross_dir = np.array([-v, u]) / speed
        rec = np.array([receptors["x"][r], receptors["y"][r]])
        for c in range(n_cells):
            centre = np.array([cells["x"][c], cells["y"][c]])
            t = np.dot(rec - centre, wind_dir) / U
            if t > max_travel_time_s:
                continue
            hx, hy = cells["half_dx"][c], cells["half_dy"][c]
            if np.linalg.norm(rec - centre) < near_factor * max(2 * hx, 2 * hy):
                n = n_sub_near
                offs_x = -hx + (np.arange(n) + 0.5) * (2 * hx / n)
                offs_y = -hy + (np.arange(n) + 0.5) * (2 * hy / n)
                points = [centre + np.array([ox, oy]) for ox in offs_x for oy in offs_y]
            else:
                n = 1
                points = [centre]
            total = 0.0
            for p in points:
                d = rec - p
                total += ref_plume(
                    np.dot(d, wind_dir),
                    np.dot(d, cross_dir),
                    receptors["z"][r],
                    cells["height"][c],
                    U,
                    receptors["blh"][r],
                    receptors["cls"][r],
                    scheme,
                )
            foot[r, c] = total * cells["area"][c] / n**2 / receptors["n_air"][r]
            if foot[r, c] > 0:
                travel[r, c] = max(t, 0.0)
    return foot, travel
