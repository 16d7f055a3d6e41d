"""Numba kernels: steady Gaussian plume and gridded plume footprints.

Everything here is numpy-in, numpy-out, in SI units; no xarray, no I/O. The compile
flags come from :mod:`cityflux.jit`.

Symbols
-------
x : downwind distance from source to receptor, m (along the mean wind)
y : crosswind distance, m (perpendicular to the mean wind, horizontal)
z : receptor height above ground, m
H : effective source height above ground, m
h : boundary-layer (mixed-layer) height, m
U : transport wind speed, m s-1
sigma_y, sigma_z : horizontal and vertical plume spreads, m
G : plume kernel, concentration per unit emission rate, s m-3 (c = Q G)
n_air : molar density of air, mol m-3

Stability classes are the integers 0..5 for Pasquill A..F. Dispersion schemes are
:data:`PASQUILL_GIFFORD` (ISC3 rural curves) and :data:`BRIGGS_URBAN` (Briggs' fit to the
McElroy-Pooler St Louis data).

References
----------
U.S. EPA (1995). User's guide for the Industrial Source Complex (ISC3) dispersion
models, vol. II: description of model algorithms. EPA-454/B-95-003b, sect. 1.1.5.
Briggs, G. A. (1973). Diffusion estimation for small emissions. ATDL contribution
no. 79, NOAA Atmospheric Turbulence and Diffusion Laboratory, Oak Ridge.
Turner, D. B. (1970). Workbook of atmospheric dispersion estimates. U.S. EPA, AP-26.
"""

import math

import numpy as np
from numba import prange

from cityflux.jit import jit, parallel_jit

#: Dispersion scheme code: ISC3 rural Pasquill-Gifford curves.
PASQUILL_GIFFORD = 0
#: Dispersion scheme code: Briggs (1973) urban curves (McElroy-Pooler).
BRIGGS_URBAN = 1

#: Number of Pasquill stability classes (A..F = 0..5).
N_CLASSES = 6

#: The plume is taken as vertically well mixed once sigma_z exceeds this multiple of h.
WELL_MIXED_RATIO = 1.6

#: Image-source shells are added until one contributes less than this fraction of the sum.
IMAGE_RTOL = 1e-16
#: Hard cap on the image-source shells (reached only if the tolerance test never is).
IMAGE_MAX_SHELLS = 12

#: ``out_travel`` value for a receptor-cell pair whose footprint is zero.
NO_TRAVEL = -1.0

_SQRT_2PI = math.sqrt(2.0 * math.pi)

# ISC3 rural sigma_y: theta = 0.017453293 (c - d ln x_km), one row (c, d) per class.
_SY_CD = np.array(
    [
        [24.1670, 2.5334],
        [18.3330, 1.8096],
        [12.5000, 1.0857],
        [8.3330, 0.72382],
        [6.2500, 0.54287],
        [4.1667, 0.36191],
    ]
)

# ISC3 rural sigma_z = a x_km^b on the first interval with x_km <= upper bound.
# Rows are classes, columns intervals; unused columns are padded with inf bounds.
_INF = np.inf
_SZ_XMAX = np.array(
    [
        [0.10, 0.15, 0.20, 0.25, 0.30, 0.40, 0.50, _INF, _INF, _INF],
        [0.20, 0.40, _INF, _INF, _INF, _INF, _INF, _INF, _INF, _INF],
        [_INF, _INF, _INF, _INF, _INF, _INF, _INF, _INF, _INF, _INF],
        [0.30, 1.0, 3.0, 10.0, 30.0, _INF, _INF, _INF, _INF, _INF],
        [0.10, 0.30, 1.0, 2.0, 4.0, 10.0, 20.0, 40.0, _INF, _INF],
        [0.20, 0.70, 1.0, 2.0, 3.0, 7.0, 15.0, 30.0, 60.0, _INF],
    ]
)
_SZ_A = np.array(
    [
        [122.800, 158.080, 170.220, 179.520, 217.410, 258.890, 346.750, 453.850, 0, 0],
        [90.673, 98.483, 109.300, 0, 0, 0, 0, 0, 0, 0],
        [61.141, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        [34.459, 32.093, 32.093, 33.504, 36.650, 44.053, 0, 0, 0, 0],
        [24.260, 23.331, 21.628, 21.628, 22.534, 24.703, 26.970, 35.420, 47.618, 0],
        [15.209, 14.457, 13.953, 13.953, 14.823, 16.187, 17.836, 22.651, 27.074, 34.219],
    ],
    dtype=np.float64,
)
_SZ_B = np.array(
    [
        [0.94470, 1.05420, 1.09320, 1.12620, 1.26440, 1.40940, 1.72830, 2.11660, 0, 0],
        [0.93198, 0.98332, 1.09710, 0, 0, 0, 0, 0, 0, 0],
        [0.91465, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        [0.86974, 0.81066, 0.64403, 0.60486, 0.56589, 0.51179, 0, 0, 0, 0],
        [0.83660, 0.81956, 0.75660, 0.63077, 0.57154, 0.50527, 0.46713, 0.37615, 0.29592, 0],
        [0.81558, 0.78407, 0.68465, 0.63227, 0.54503, 0.46490, 0.41507, 0.32681, 0.27436, 0.21716],
    ],
    dtype=np.float64,
)
# ISC3 caps sigma_z at 5000 m for the unstable and slightly unstable classes A, B, C.
_SZ_CAP = np.array([5000.0, 5000.0, 5000.0, _INF, _INF, _INF])

# Briggs urban coefficients per class: sigma_y = ay x / sqrt(1 + 0.0004 x).
_BRIGGS_AY = np.array([0.32, 0.32, 0.22, 0.16, 0.11, 0.11])


@jit
def sigma_y(x_m, stability_class, scheme):
    """Horizontal plume spread sigma_y.

    Parameters
    ----------
    x_m : float
        Downwind distance, m; must be > 0.
    stability_class : int
        Pasquill class, 0..5 for A..F.
    scheme : int
        :data:`PASQUILL_GIFFORD` or :data:`BRIGGS_URBAN`.

    Returns
    -------
    float
        sigma_y in m; NaN for an unknown class or scheme.
    """
    if stability_class < 0 or stability_class >= N_CLASSES:
        return np.nan
    if scheme == PASQUILL_GIFFORD:
        x_km = x_m / 1000.0
        theta = 0.017453293 * (_SY_CD[stability_class, 0] - _SY_CD[stability_class, 1] * math.log(x_km))
        return 465.11628 * x_km * math.tan(theta)
    if scheme == BRIGGS_URBAN:
        return _BRIGGS_AY[stability_class] * x_m / math.sqrt(1.0 + 0.0004 * x_m)
    return np.nan


@jit
def sigma_z(x_m, stability_class, scheme):
    """Vertical plume spread sigma_z.

    Parameters
    ----------
    x_m : float
        Downwind distance, m; must be > 0.
    stability_class : int
        Pasquill class, 0..5 for A..F.
    scheme : int
        :data:`PASQUILL_GIFFORD` or :data:`BRIGGS_URBAN`.

    Returns
    -------
    float
        sigma_z in m (ISC3: capped at 5000 m for classes A-C); NaN for an unknown class
        or scheme.
    """
    if stability_class < 0 or stability_class >= N_CLASSES:
        return np.nan
    if scheme == PASQUILL_GIFFORD:
        x_km = x_m / 1000.0
        k = 0
        while x_km > _SZ_XMAX[stability_class, k]:
            k += 1
        sz = _SZ_A[stability_class, k] * x_km ** _SZ_B[stability_class, k]
        return min(sz, _SZ_CAP[stability_class])
    if scheme == BRIGGS_URBAN:
        if stability_class <= 1:
            return 0.24 * x_m * math.sqrt(1.0 + 0.001 * x_m)
        if stability_class == 2:
            return 0.20 * x_m
        if stability_class == 3:
            return 0.14 * x_m / math.sqrt(1.0 + 0.0003 * x_m)
        return 0.08 * x_m / math.sqrt(1.0 + 0.0015 * x_m)
    return np.nan


@jit
def _vertical_image_sum(z, src_h, sz, blh):
    """Vertical term V: source, ground reflection and images at the lid h (dimensionless).

    Shells n = +-1, +-2, ... of images are added until a shell adds less than
    :data:`IMAGE_RTOL` of the running sum. For 0 <= z, H < h the shells decrease
    monotonically, and the tail behind a negligible shell is smaller still (Gaussian
    decay). The kernel only uses this sum while sigma_z <= 1.6 h, where shell |n| is at
    most 4 exp(-(2|n|-2)^2 / 5.12), below 1e-16 of the n = 0 terms by |n| = 8; the cap
    :data:`IMAGE_MAX_SHELLS` = 12 is therefore never binding. Small sigma_z (the usual
    case near a receptor) stops after the first shell.
    """
    inv2s2 = 0.5 / (sz * sz)
    d_minus = z - src_h
    d_plus = z + src_h
    total = math.exp(-d_minus * d_minus * inv2s2) + math.exp(-d_plus * d_plus * inv2s2)
    for n in range(1, IMAGE_MAX_SHELLS + 1):
        s = 2.0 * n * blh
        shell = (
            math.exp(-(d_minus + s) ** 2 * inv2s2)
            + math.exp(-(d_plus + s) ** 2 * inv2s2)
            + math.exp(-(d_minus - s) ** 2 * inv2s2)
            + math.exp(-(d_plus - s) ** 2 * inv2s2)
        )
        total += shell
        if shell <= IMAGE_RTOL * total:
            break
    return total


@jit
def plume_kernel(
    downwind_m,
    crosswind_m,
    receptor_height_m,
    source_height_m,
    wind_speed,
    blh_m,
    stability_class,
    scheme,
):
    """Steady Gaussian plume: concentration per unit emission rate.

    G = exp(-y^2 / 2 sigma_y^2) / (2 pi U sigma_y sigma_z) * V with
    V = sum_{n=-N..N} [exp(-(z - H + 2nh)^2 / 2 sigma_z^2) + exp(-(z + H + 2nh)^2 / 2 sigma_z^2)]
    (ground reflection plus images at the boundary-layer top). Once sigma_z > 1.6 h the
    plume is well mixed: G = exp(-y^2 / 2 sigma_y^2) / (sqrt(2 pi) U sigma_y h). At the
    switch the image sum equals sqrt(2 pi) sigma_z / h to about 1e-5 relative (Poisson
    summation: the first correction is 2 exp(-pi^2 sigma_z^2 / 2h^2) ~ 7e-6), so the
    two branches join continuously.

    Parameters
    ----------
    downwind_m : float
        Downwind distance x from source to receptor, m.
    crosswind_m : float
        Crosswind distance y, m.
    receptor_height_m : float
        Receptor height z above ground, m (>= 0).
    source_height_m : float
        Effective source height H above ground, m (>= 0).
    wind_speed : float
        Transport speed U, m s-1 (> 0; the caller applies any minimum).
    blh_m : float
        Boundary-layer height h, m.
    stability_class : int
        Pasquill class, 0..5 for A..F.
    scheme : int
        :data:`PASQUILL_GIFFORD` or :data:`BRIGGS_URBAN`.

    Returns
    -------
    float
        G in s m-3 (c = Q G for an emission rate Q in any amount per second). Zero when
        x <= 0 (receptor not downwind) and when H >= h or z >= h: a source above the
        mixed layer is taken as decoupled from it (its plume does not reach the surface
        layer within a day), and a receptor above it does not see surface sources. NaN for
        an unknown class or scheme.
    """
    if downwind_m <= 0.0 or source_height_m >= blh_m or receptor_height_m >= blh_m:
        return 0.0
    sy = sigma_y(downwind_m, stability_class, scheme)
    lateral = math.exp(-0.5 * (crosswind_m / sy) ** 2)
    if lateral == 0.0:
        return 0.0
    sz = sigma_z(downwind_m, stability_class, scheme)
    if sz > WELL_MIXED_RATIO * blh_m:
        return lateral / (_SQRT_2PI * wind_speed * sy * blh_m)
    vertical = _vertical_image_sum(receptor_height_m, source_height_m, sz, blh_m)
    return lateral * vertical / (2.0 * math.pi * wind_speed * sy * sz)


@parallel_jit
def plume_footprints(
    cell_x,
    cell_y,
    cell_area,
    cell_half_dx,
    cell_half_dy,
    source_height,
    rec_x,
    rec_y,
    rec_z,
    wind_u,
    wind_v,
    blh,
    stability_class,
    air_molar_density,
    scheme,
    min_wind_speed,
    max_travel_time_s,
    near_factor,
    n_sub_near,
    out_foot,
    out_travel,
):
    """Plume footprints of gridded area sources at receptor-hours (parallel over receptors).

    For each receptor r and cell c, foot[r, c] = sum over sub-points p of
    (area_c / n_sub^2) G(p -> r) / n_air[r]. The vector from a sub-point to the receptor
    is rotated into the wind frame: its component along the wind (which blows from
    source to receptor) is the downwind distance, the perpendicular one the crosswind
    distance. Cells whose centre lies closer to the receptor than
    ``near_factor * max(2 half_dx, 2 half_dy)`` are sampled at ``n_sub_near`` x
    ``n_sub_near`` regular midpoints; other cells at their centre only.

    Parameters
    ----------
    cell_x, cell_y : ndarray of float64, shape (n_cells,)
        Cell-centre coordinates in a local projected frame, m.
    cell_area : ndarray of float64, shape (n_cells,)
        Cell areas, m2.
    cell_half_dx, cell_half_dy : ndarray of float64, shape (n_cells,)
        Cell half widths along x and y, m.
    source_height : ndarray of float64, shape (n_cells,)
        Effective emission height above ground, m.
    rec_x, rec_y, rec_z : ndarray of float64, shape (n_receptors,)
        Receptor position (same frame, m) and height above ground, m; one entry per
        receptor-hour.
    wind_u, wind_v : ndarray of float64, shape (n_receptors,)
        Wind towards +x (east) and +y (north) at the receptor-hour, m s-1.
    blh : ndarray of float64, shape (n_receptors,)
        Boundary-layer height, m.
    stability_class : ndarray of int64, shape (n_receptors,)
        Pasquill class, 0..5 for A..F.
    air_molar_density : ndarray of float64, shape (n_receptors,)
        Molar density of air, mol m-3.
    scheme : int
        :data:`PASQUILL_GIFFORD` or :data:`BRIGGS_URBAN`.
    min_wind_speed : float
        Floor on the transport speed, m s-1 (> 0): U = max(|(u, v)|, min_wind_speed).
    max_travel_time_s : float
        Cells whose centre is more than this travel time (x / U) upwind get 0, s.
    near_factor : float
        Near-field radius in cell sizes (0 disables sub-sampling).
    n_sub_near : int
        Sub-points per side in the near field (>= 1).
    out_foot : ndarray of float64, shape (n_receptors, n_cells)
        Receives footprints in ppm per (umol m-2 s-1), numerically m2 s mol-1.
    out_travel : ndarray of float64, shape (n_receptors, n_cells)
        Receives travel times from the cell centre, s: max(x_centre, 0) / U where the
        footprint is non-zero (0 when the receptor sits in or beside the cell with the
        centre not upwind), and :data:`NO_TRAVEL` (-1) where it is zero.

    Notes
    -----
    Every element of both outputs is written, so they may come from ``np.empty``. An
    exactly calm hour (u = v = 0) has no transport direction: its row is zero, with
    :data:`NO_TRAVEL`. Raises ValueError for inconsistent shapes or invalid settings.
    """
    n_cells = cell_x.shape[0]
    n_rec = rec_x.shape[0]
    if (
        cell_y.shape[0] != n_cells
        or cell_area.shape[0] != n_cells
        or cell_half_dx.shape[0] != n_cells
        or cell_half_dy.shape[0] != n_cells
        or source_height.shape[0] != n_cells
    ):
        raise ValueError("plume_footprints: cell arrays must all have length n_cells")
    if (
        rec_y.shape[0] != n_rec
        or rec_z.shape[0] != n_rec
        or wind_u.shape[0] != n_rec
        or wind_v.shape[0] != n_rec
        or blh.shape[0] != n_rec
        or stability_class.shape[0] != n_rec
        or air_molar_density.shape[0] != n_rec
    ):
        raise ValueError("plume_footprints: receptor and met arrays must all have length n_receptors")
    if out_foot.shape[0] != n_rec or out_foot.shape[1] != n_cells:
        raise ValueError("plume_footprints: out_foot must have shape (n_receptors, n_cells)")
    if out_travel.shape[0] != n_rec or out_travel.shape[1] != n_cells:
        raise ValueError("plume_footprints: out_travel must have shape (n_receptors, n_cells)")
    if scheme != PASQUILL_GIFFORD and scheme != BRIGGS_URBAN:
        raise ValueError("plume_footprints: scheme must be 0 (Pasquill-Gifford) or 1 (Briggs urban)")
    if not min_wind_speed > 0.0:
        raise ValueError("plume_footprints: min_wind_speed must be > 0 m/s")
    if n_sub_near < 1:
        raise ValueError("plume_footprints: n_sub_near must be >= 1")
    for r in range(n_rec):
        if stability_class[r] < 0 or stability_class[r] >= N_CLASSES:
            raise ValueError("plume_footprints: stability_class must be in 0..5 (A..F)")

    for r in prange(n_rec):
        speed = math.hypot(wind_u[r], wind_v[r])
        if speed == 0.0:
            for c in range(n_cells):
                out_foot[r, c] = 0.0
                out_travel[r, c] = NO_TRAVEL
            continue
        u_eff = max(speed, min_wind_speed)
        ex = wind_u[r] / speed
        ey = wind_v[r] / speed
        rx = rec_x[r]
        ry = rec_y[r]
        rz = rec_z[r]
        h = blh[r]
        cls = stability_class[r]
        scale = 1.0 / air_molar_density[r]
        for c in range(n_cells):
            dx = rx - cell_x[c]
            dy = ry - cell_y[c]
            down_c = dx * ex + dy * ey
            travel = down_c / u_eff
            foot = 0.0
            if travel <= max_travel_time_s:
                hdx = cell_half_dx[c]
                hdy = cell_half_dy[c]
                near = math.hypot(dx, dy) < near_factor * 2.0 * max(hdx, hdy)
                n_sub = n_sub_near if near else 1
                if n_sub == 1:
                    cross_c = -dx * ey + dy * ex
                    acc = plume_kernel(down_c, cross_c, rz, source_height[c], u_eff, h, cls, scheme)
                else:
                    acc = 0.0
                    step_x = 2.0 * hdx / n_sub
                    step_y = 2.0 * hdy / n_sub
                    for i in range(n_sub):
                        px = cell_x[c] - hdx + (i + 0.5) * step_x
                        for j in range(n_sub):
                            py = cell_y[c] - hdy + (j + 0.5) * step_y
                            sdx = rx - px
                            sdy = ry - py
                            acc += plume_kernel(
                                sdx * ex + sdy * ey,
                                -sdx * ey + sdy * ex,
                                rz,
                                source_height[c],
                                u_eff,
                                h,
                                cls,
                                scheme,
                            )
                foot = acc * cell_area[c] / (n_sub * n_sub) * scale
            out_foot[r, c] = foot
            out_travel[r, c] = max(travel, 0.0) if foot > 0.0 else NO_TRAVEL
