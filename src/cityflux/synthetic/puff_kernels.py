"""Numba kernels of the puff transport: back-trajectories and Gaussian puffs.

Arrays in, arrays out, SI units, no xarray; compile flags from :mod:`cityflux.jit`. The
driver with the physics explained in words is :mod:`cityflux.synthetic.puffs`.

Symbols
-------
met : ndarray (N_MET, nt, ny, nx)
    Hourly fields on a regular wind grid, valid at mid-hour (hour i at t = (i + 0.5) h):
    ``met[MET_U]``, ``met[MET_V]`` wind towards east and north (m s-1), ``met[MET_H]``
    boundary-layer height h (m), ``met[MET_USTAR]`` friction velocity u* (m s-1),
    ``met[MET_INV_L]`` inverse Obukhov length 1/L (m-1; interpolated instead of L, which
    changes sign through infinity), ``met[MET_NAIR]`` molar density of air n_air (mol m-3).
axes : ndarray (4,)
    x0, dx, y0, dy: first cell centre and spacing of the wind grid along x and y, m.
    Outside the wind grid and the field's hours, values are held at the nearest edge.
t : float
    Time, s since the start of the field's first hour.
tau : float
    Back time, s before the release at the receptor.
X, Y : float
    Trajectory (puff centre) position, m.
sigma_v, sigma_w : float
    Horizontal and vertical velocity standard deviations, m s-1.
T_Lv, T_Lw : float
    Their Lagrangian time scales, s.
sigma_h, sigma_z : float
    Horizontal and vertical puff spreads, m.
h_max : float
    Highest boundary-layer top met along the trajectory between the emission time and the
    receptor time, m: the ceiling that dilutes what was emitted (residual layers keep the
    mixing ratio they had when the day's mixed layer collapsed).
settings : ndarray (N_SETTINGS,)
    Numeric settings; the ``S_*`` constants index it.

References
----------
Hanna, S. R. (1982). Applications in air pollution modeling. In Nieuwstadt & van Dop
(eds.), Atmospheric Turbulence and Air Pollution Modelling, Reidel, 275-310.
Taylor, G. I. (1921). Diffusion by continuous movements. Proc. London Math. Soc. 20, 196-212.
"""

import math

import numpy as np
from numba import prange

from cityflux.jit import jit, parallel_jit

#: Indices of the variables in ``met``.
MET_U, MET_V, MET_H, MET_USTAR, MET_INV_L, MET_NAIR = 0, 1, 2, 3, 4, 5
N_MET = 6

#: Indices into ``settings``.
S_SIGMA_H0 = 0       # initial horizontal puff spread, m
S_SIGMA_Z0 = 1       # initial vertical puff spread, m
S_MIN_SIGMA_V = 2    # floor on sigma_v (low-wind meandering), m s-1
S_MIN_TL = 3         # floor on T_Lv, s
S_WINDOW = 4         # puffs are evaluated within this many sigma_h of their centre
S_FIRST_SUB = 5      # samples in the first step (the near field), >= 1
S_MAX_SUB = 6        # most samples in any step
N_SETTINGS = 7

#: Columns of the trajectory node array (one row per step boundary, n_steps + 1 rows).
N_X, N_Y, N_SH2, N_SZ2, N_HMAX = 0, 1, 2, 3, 4
N_NODE = 5
#: Columns of the step array (values at the step midpoint, n_steps rows).
P_SV, P_TLV, P_SW, P_TLW, P_H, P_NAIR = 0, 1, 2, 3, 4, 5
N_STEP = 6

KARMAN = 0.4
#: Vertical turbulence above the boundary layer (a decoupled, stably stratified layer).
FREE_SIGMA_W = 0.1
FREE_TL = 100.0

_SQRT_2PI = math.sqrt(2.0 * math.pi)
_SQRT2 = math.sqrt(2.0)


@jit
def met_at(met, axes, t, x, y, out):
    """Trilinear interpolation of every ``met`` variable at (t, x, y) into ``out`` (N_MET,).

    Bilinear in space between cell centres, linear in time between mid-hours; held
    constant beyond the first and last centre and hour.
    """
    nt = met.shape[1]
    ny = met.shape[2]
    nx = met.shape[3]
    fx = (x - axes[0]) / axes[1]
    fy = (y - axes[2]) / axes[3]
    ft = t / 3600.0 - 0.5
    fx = min(max(fx, 0.0), nx - 1.0)
    fy = min(max(fy, 0.0), ny - 1.0)
    ft = min(max(ft, 0.0), nt - 1.0)
    i0 = min(int(fx), max(nx - 2, 0))
    j0 = min(int(fy), max(ny - 2, 0))
    k0 = min(int(ft), max(nt - 2, 0))
    wx = fx - i0
    wy = fy - j0
    wt = ft - k0
    i1 = min(i0 + 1, nx - 1)
    j1 = min(j0 + 1, ny - 1)
    k1 = min(k0 + 1, nt - 1)
    for v in range(met.shape[0]):
        a = ((1.0 - wx) * met[v, k0, j0, i0] + wx * met[v, k0, j0, i1]) * (1.0 - wy) + \
            ((1.0 - wx) * met[v, k0, j1, i0] + wx * met[v, k0, j1, i1]) * wy
        b = ((1.0 - wx) * met[v, k1, j0, i0] + wx * met[v, k1, j0, i1]) * (1.0 - wy) + \
            ((1.0 - wx) * met[v, k1, j1, i0] + wx * met[v, k1, j1, i1]) * wy
        out[v] = (1.0 - wt) * a + wt * b


@jit
def taylor_variance(sigma, t_l, tau):
    """Taylor (1921) spread: 2 sigma^2 T_L [tau - T_L (1 - exp(-tau / T_L))], m2."""
    if tau <= 0.0:
        return 0.0
    x = tau / t_l
    if x < 0.05:  # x - (1 - exp(-x)) = x^2/2 - x^3/6 + ... without the cancellation
        g = 0.0
        term = 1.0
        for n in range(2, 12):
            term = -term * x / n if n > 2 else x * x / 2.0
            g += term
    else:
        g = x + math.expm1(-x)
    return 2.0 * sigma * sigma * t_l * t_l * g


@jit
def mixed_layer_turbulence(ustar, inv_l, h, min_sigma_v, min_tl):
    """Bulk mixed-layer turbulence after Hanna (1982): (sigma_v, T_Lv, sigma_w, T_Lw).

    w* = u* (-h / (kappa L))^(1/3) when L < 0 (else 0);
    sigma_v^2 = (1.3 u*)^2 + (0.58 w*)^2, sigma_w^2 = (1.3 u*)^2 + (0.6 w*)^2 (Hanna's
    neutral 1.3 u* and his convective mid-layer limits: u* (12 + 0.5 h/|L|)^(1/3) ->
    0.58 w* and 0.722 w* (1 - z/h)^0.207 ~ 0.6 w* at z = h/2);
    T_L = c h / sigma with c = 0.10 - 0.05 clip(h/L, -1, 1): 0.15 h / sigma in
    convective layers (Hanna), 0.05 h / sigma in stable ones (Hanna's 0.07 (z/h)^0.5 at
    z = h/2). sigma_v >= min_sigma_v, T_Lv >= min_tl, T_Lw >= 1 s.
    """
    wstar = 0.0
    if inv_l < 0.0:
        wstar = ustar * (-h * inv_l / KARMAN) ** (1.0 / 3.0)
    mech = 1.3 * ustar
    sigma_v = max(math.sqrt(mech * mech + (0.58 * wstar) ** 2), min_sigma_v)
    sigma_w = max(math.sqrt(mech * mech + (0.6 * wstar) ** 2), 1e-3)
    c = 0.10 - 0.05 * min(max(h * inv_l, -1.0), 1.0)
    tl_v = max(c * h / sigma_v, min_tl)
    tl_w = max(c * h / sigma_w, 1.0)
    return sigma_v, tl_v, sigma_w, tl_w


@jit
def reflected_gaussian(z, z0, sigma, ceiling):
    """Density (m-1) at z of a Gaussian about z0 reflected at 0 and at ``ceiling``.

    Images for sigma < ceiling / 2: sum_n g(z - z0 + 2nh) + g(z + z0 + 2nh), |n| <= 3
    (omitted images are below exp(-98) of the sum); the equal cosine series
    (1/h) [1 + 2 sum_m exp(-(m pi sigma / h)^2 / 2) cos(m pi z / h) cos(m pi z0 / h)]
    otherwise, which tends to the well-mixed 1/h. Zero for z outside [0, ceiling].
    """
    h = ceiling
    if z < 0.0 or z > h or h <= 0.0:
        return 0.0
    if sigma < 0.5 * h:
        inv2s2 = 0.5 / (sigma * sigma)
        total = 0.0
        for n in range(-3, 4):
            a = z - z0 + 2.0 * n * h
            b = z + z0 + 2.0 * n * h
            total += math.exp(-a * a * inv2s2) + math.exp(-b * b * inv2s2)
        return total / (_SQRT_2PI * sigma)
    total = 1.0
    m = 1
    while m < 50:
        damp = math.exp(-0.5 * (m * math.pi * sigma / h) ** 2)
        if damp < 1e-17:
            break
        total += 2.0 * damp * math.cos(m * math.pi * z / h) * math.cos(m * math.pi * z0 / h)
        m += 1
    return total / h


@jit
def back_trajectory(met, axes, x_r, y_r, t_r, n_steps, dt, settings, nodes, steps):
    """Integrate one back-trajectory with fixed steps, accumulating the puff spreads.

    Step j goes from tau_j = j dt to tau_j + dt (time t_r - tau) by the midpoint rule:
    V1 = V(X_j, t_j); X_m = X_j - V1 dt/2; X_{j+1} = X_j - V(X_m, t_j - dt/2) dt.
    Turbulence is taken at the step midpoint; the variances grow by Taylor's formula over
    the step, sigma^2(tau_j + s) = sigma^2(tau_j) + F(tau_j + s) - F(tau_j) with
    F = :func:`taylor_variance`, which is Taylor's result exactly in homogeneous
    stationary turbulence.

    Parameters
    ----------
    met, axes : see the module legend
    x_r, y_r : float
        Release point, m.
    t_r : float
        Release time, s since the start of the field's first hour.
    n_steps : int
    dt : float
        Step, s.
    settings : ndarray (N_SETTINGS,)
    nodes : ndarray (n_steps + 1, N_NODE)
        Receives X, Y, sigma_h^2, sigma_z^2 and h_max at every step boundary.
    steps : ndarray (n_steps, N_STEP)
        Receives sigma_v, T_Lv, sigma_w, T_Lw, h and n_air at every step midpoint.
    """
    m0 = np.empty(N_MET)  # at the current node
    m = np.empty(N_MET)   # at the step midpoint
    x = x_r
    y = y_r
    met_at(met, axes, t_r, x, y, m0)
    nodes[0, N_X] = x
    nodes[0, N_Y] = y
    nodes[0, N_SH2] = settings[S_SIGMA_H0] ** 2
    nodes[0, N_SZ2] = settings[S_SIGMA_Z0] ** 2
    nodes[0, N_HMAX] = m0[MET_H]
    for j in range(n_steps):
        t = t_r - j * dt
        tau0 = j * dt
        xm = x - 0.5 * dt * m0[MET_U]
        ym = y - 0.5 * dt * m0[MET_V]
        met_at(met, axes, t - 0.5 * dt, xm, ym, m)
        x = x - dt * m[MET_U]
        y = y - dt * m[MET_V]
        sv, tlv, sw, tlw = mixed_layer_turbulence(m[MET_USTAR], m[MET_INV_L], m[MET_H],
                                                  settings[S_MIN_SIGMA_V], settings[S_MIN_TL])
        steps[j, P_SV] = sv
        steps[j, P_TLV] = tlv
        steps[j, P_SW] = sw
        steps[j, P_TLW] = tlw
        steps[j, P_H] = m[MET_H]
        steps[j, P_NAIR] = m[MET_NAIR]
        met_at(met, axes, t - dt, x, y, m0)
        nodes[j + 1, N_X] = x
        nodes[j + 1, N_Y] = y
        nodes[j + 1, N_SH2] = nodes[j, N_SH2] + taylor_variance(sv, tlv, tau0 + dt) - \
            taylor_variance(sv, tlv, tau0)
        nodes[j + 1, N_SZ2] = nodes[j, N_SZ2] + taylor_variance(sw, tlw, tau0 + dt) - \
            taylor_variance(sw, tlw, tau0)
        nodes[j + 1, N_HMAX] = max(nodes[j, N_HMAX], m[MET_H], m0[MET_H])


@jit
def n_samples(nodes, j, resolution, settings):
    """Samples in step j: enough that the puff moves at most half its width between them.

    n = ceil(2 |X_{j+1} - X_j| / max(sigma_h(tau_j), resolution)), at least
    ``settings[S_FIRST_SUB]`` in the first step, within [1, ``settings[S_MAX_SUB]``].
    """
    dist = math.hypot(nodes[j + 1, N_X] - nodes[j, N_X], nodes[j + 1, N_Y] - nodes[j, N_Y])
    width = max(math.sqrt(nodes[j, N_SH2]), resolution)
    n = int(math.ceil(2.0 * dist / width))
    if j == 0:
        n = max(n, int(settings[S_FIRST_SUB]))
    return min(max(n, 1), int(settings[S_MAX_SUB]))


@jit
def sample(nodes, steps, j, k, n_sub, dt):
    """Sample k of n_sub in step j (midpoints): (tau, X, Y, sigma_h, sigma_z, h_max)."""
    frac = (k + 0.5) / n_sub
    tau0 = j * dt
    tau = tau0 + frac * dt
    x = nodes[j, N_X] + frac * (nodes[j + 1, N_X] - nodes[j, N_X])
    y = nodes[j, N_Y] + frac * (nodes[j + 1, N_Y] - nodes[j, N_Y])
    sh2 = nodes[j, N_SH2] + taylor_variance(steps[j, P_SV], steps[j, P_TLV], tau) - \
        taylor_variance(steps[j, P_SV], steps[j, P_TLV], tau0)
    sz2 = nodes[j, N_SZ2] + taylor_variance(steps[j, P_SW], steps[j, P_TLW], tau) - \
        taylor_variance(steps[j, P_SW], steps[j, P_TLW], tau0)
    h_max = max(nodes[j, N_HMAX], steps[j, P_H])
    return tau, x, y, math.sqrt(sh2), math.sqrt(sz2), h_max


@jit
def cell_fractions(centre, sigma, edge0, step, n, half_window, out):
    """Fractions of a 1-D Gaussian (centre, sigma) in cells [edge0 + i step, + step].

    Only cells overlapping [centre - half_window, centre + half_window] are computed;
    returns their index range (i0, i1), empty when i0 > i1. out[i0:i1 + 1] receives
    (erf((e_{i+1} - c) / (sqrt 2 sigma)) - erf((e_i - c) / (sqrt 2 sigma))) / 2.
    """
    lo = (centre - half_window - edge0) / step
    hi = (centre + half_window - edge0) / step
    if hi < 0.0 or lo >= n:
        return 0, -1
    i0 = int(math.floor(max(lo, 0.0)))
    i1 = int(math.floor(min(hi, n - 0.5)))
    scale = 1.0 / (_SQRT2 * sigma)
    upper = math.erf((edge0 + i0 * step - centre) * scale)
    for i in range(i0, i1 + 1):
        lower = upper
        upper = math.erf((edge0 + (i + 1) * step - centre) * scale)
        out[i] = 0.5 * (upper - lower)
    return i0, i1


@parallel_jit
def surface_footprints(met, axes, cell_edges, nx, ny, rec_x, rec_y, rec_z, rec_t, n_steps, dt,
                       hours_back, settings, out):
    """Surface-flux footprints of receptors on a regular metric grid (parallel over receptors).

    out[r, k, c] += w dt/n_sub * (fraction of the puff's horizontal Gaussian in cell c)
    * P_z(z_r; release at the surface, sigma_z, ceiling h_max) / n_air for every sample
    of every step, k = floor(tau / 3600): ppm per (umol m-2 s-1), numerically m2 s mol-1.

    Parameters
    ----------
    met, axes : see the module legend
    cell_edges : ndarray (4,)
        x of the first cell's west edge, cell width along x, y of the first cell's south
        edge, cell width along y, m. Cell c = iy * nx + ix.
    nx, ny : int
    rec_x, rec_y, rec_z, rec_t : ndarray (n_rec,)
        Receptor position (m), height above ground (m) and release time (s since the
        start of the field's first hour).
    n_steps : int
    dt : float
        Step, s; must divide 3600.
    hours_back : int
    settings : ndarray (N_SETTINGS,)
    out : ndarray (n_rec, hours_back, nx * ny)
        Zeroed by the caller; receives the footprints.
    """
    n_rec = rec_x.shape[0]
    if out.shape[0] != n_rec or out.shape[1] != hours_back or out.shape[2] != nx * ny:
        raise ValueError("surface_footprints: out must have shape (n_rec, hours_back, nx * ny)")
    resolution = 0.5 * min(cell_edges[1], cell_edges[3])
    window = settings[S_WINDOW]
    for r in prange(n_rec):
        nodes = np.empty((n_steps + 1, N_NODE))
        steps = np.empty((n_steps, N_STEP))
        fx = np.empty(nx)
        fy = np.empty(ny)
        back_trajectory(met, axes, rec_x[r], rec_y[r], rec_t[r], n_steps, dt, settings,
                        nodes, steps)
        for j in range(n_steps):
            k_back = int((j * dt) // 3600.0)
            if k_back >= hours_back:
                break
            n_sub = n_samples(nodes, j, resolution, settings)
            weight = dt / n_sub / steps[j, P_NAIR]
            for k in range(n_sub):
                tau, x, y, sh, sz, h_max = sample(nodes, steps, j, k, n_sub, dt)
                ix0, ix1 = cell_fractions(x, sh, cell_edges[0], cell_edges[1], nx,
                                          window * sh, fx)
                if ix0 > ix1:
                    continue
                iy0, iy1 = cell_fractions(y, sh, cell_edges[2], cell_edges[3], ny,
                                          window * sh, fy)
                if iy0 > iy1:
                    continue
                pz = reflected_gaussian(rec_z[r], 0.0, sz, h_max)
                if pz == 0.0:
                    continue
                amp = weight * pz
                for iy in range(iy0, iy1 + 1):
                    a = amp * fy[iy]
                    base = iy * nx
                    for ix in range(ix0, ix1 + 1):
                        out[r, k_back, base + ix] += a * fx[ix]


@jit
def point_vertical(z_r, h_receptor, source_h, h_here, sz, h_max, tau, settings):
    """Vertical density (m-1) at the receptor of a puff released at height source_h.

    Released inside the layer (source_h <= h_here, the layer at the puff's place and
    emission time): reflected Gaussian about source_h under the ceiling h_max. Released
    above it: aloft until the layer along the trajectory grows above it (h_max >
    source_h), then mixed over the layer, 1/h_max (fumigation); while aloft it reaches
    only a receptor that is itself above the layer at its own time (z_r > h_receptor),
    as a free Gaussian about source_h with the weak turbulence FREE_SIGMA_W, FREE_TL.
    """
    if source_h <= h_here:
        return reflected_gaussian(z_r, source_h, sz, h_max)
    if h_max > source_h:
        return 1.0 / h_max if z_r <= h_max else 0.0
    if z_r <= h_receptor:
        return 0.0
    s2 = settings[S_SIGMA_Z0] ** 2 + taylor_variance(FREE_SIGMA_W, FREE_TL, tau)
    d = z_r - source_h
    return math.exp(-0.5 * d * d / s2) / (_SQRT_2PI * math.sqrt(s2))


@parallel_jit
def point_source_sensitivities(met, axes, rec_x, rec_y, rec_z, rec_t, obs_hour, src_x, src_y,
                               release_height, n_steps, dt, hours_back, settings, out):
    """Sensitivity of receptors to point sources per hour back (parallel over receptors).

    out[r, s, k] = sum over samples with floor(tau / 3600) = k of
    dt/n_sub * P_h(source - X(tau); sigma_h) * P_z / n_air  (s m-3 per mol m-3 = s mol-1),
    the mole fraction (mol/mol) per (mol s-1) emitted in hour obs_hour[r] - k; P_h is the
    2-D Gaussian density at the source (m-2) and P_z from :func:`point_vertical` with the
    release height of that emission hour. The caller scales to ppm per (kg CO2 s-1).

    Parameters
    ----------
    met, axes : see the module legend
    rec_x, rec_y, rec_z, rec_t : ndarray (n_rec,)
        As for :func:`surface_footprints`.
    obs_hour : ndarray of int64 (n_rec,)
        Observation hour of each receptor (indexes the release heights).
    src_x, src_y : ndarray (n_src,)
        Source positions, m.
    release_height : ndarray (n_src, n_hours)
        Effective release height of every source in every hour, m. Emission hours outside
        0..n_hours-1 contribute nothing.
    n_steps, dt, hours_back, settings
        As for :func:`surface_footprints`.
    out : ndarray (n_rec, n_src, hours_back)
        Zeroed by the caller.
    """
    n_rec = rec_x.shape[0]
    n_src = src_x.shape[0]
    n_hours = release_height.shape[1]
    if out.shape[0] != n_rec or out.shape[1] != n_src or out.shape[2] != hours_back:
        raise ValueError("point_source_sensitivities: out must be (n_rec, n_src, hours_back)")
    if release_height.shape[0] != n_src:
        raise ValueError("point_source_sensitivities: release_height must be (n_src, n_hours)")
    window = settings[S_WINDOW]
    for r in prange(n_rec):
        nodes = np.empty((n_steps + 1, N_NODE))
        steps = np.empty((n_steps, N_STEP))
        back_trajectory(met, axes, rec_x[r], rec_y[r], rec_t[r], n_steps, dt, settings,
                        nodes, steps)
        h_receptor = nodes[0, N_HMAX]
        for j in range(n_steps):
            k_back = int((j * dt) // 3600.0)
            if k_back >= hours_back:
                break
            hour = obs_hour[r] - k_back
            if hour < 0 or hour >= n_hours:
                continue
            n_sub = n_samples(nodes, j, 0.0, settings)
            weight = dt / n_sub / steps[j, P_NAIR]
            for k in range(n_sub):
                tau, x, y, sh, sz, h_max = sample(nodes, steps, j, k, n_sub, dt)
                reach = window * sh
                for s in range(n_src):
                    dx = src_x[s] - x
                    dy = src_y[s] - y
                    if abs(dx) > reach or abs(dy) > reach:
                        continue
                    pz = point_vertical(rec_z[r], h_receptor, release_height[s, hour],
                                        steps[j, P_H], sz, h_max, tau, settings)
                    if pz == 0.0:
                        continue
                    s2 = sh * sh
                    ph = math.exp(-0.5 * (dx * dx + dy * dy) / s2) / (2.0 * math.pi * s2)
                    out[r, s, k_back] += weight * ph * pz
