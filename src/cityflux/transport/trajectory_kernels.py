"""Numba kernels of the trajectory Gaussian plume: back trajectories with growing widths.

Arrays in, arrays out, SI units, no xarray, no I/O; compile flags from :mod:`cityflux.jit`.
The driver that packs a :class:`~cityflux.metfield.MetField`, checks inputs and returns
footprints is :mod:`cityflux.transport.trajectory_plume`, which explains the physics in
words. The meteorology is the particle model's packed layout
(:func:`cityflux.transport.particles.pack_met`) read with its interpolator
:func:`cityflux.transport.particle_kernels.met_at`; plume widths are the steady plume's
curves (:func:`cityflux.transport.kernels.sigma_y`, ``sigma_z``); the vertical rules
(reflection at the ground and the lid, a plume aloft, fumigation) are the stack plume's
(:func:`cityflux.transport.stack_kernels.stack_plume`); plume rise is Briggs' as there.

Legend (one receptor, backward time tau >= 0 before its release time t_r)
-------------------------------------------------------------------------
X(tau), Y(tau) : trajectory position (metric frame), m; X(0) = receptor
V : mean wind at the representative height z_rep, m s-1
z_rep = min(max(z_r, sqrt(2/pi) sigma_z), max(z_r, h / 2)) : height of the plume's
    centroid, m (the receptor height near the receptor, half the mixed layer once mixed)
u_eff = max(|V|, u_min) : speed at which the plume ages, m s-1
x_vy, x_vz : virtual distances, m: sigma_y = sy_c(x_vy), sigma_z = sz_c(x_vz) for the
    current class c; each grows by u_eff dtau per step; on a class change they are reset to
    the distances at which the new class's curves give the current sigmas
h : mixed-layer depth at the trajectory point, m; h_obs = h at tau = 0
lid(tau) = max of h along the trajectory over [0, tau], m
n_air : molar density of air at the trajectory point, mol m-3
s_path : distance the air travelled (no floor), m (for plume rise)
P_z : vertical density at the receptor height of what was released at H, m-1
f_c : fraction of the horizontal Gaussian (isotropic, sigma_y along and across the wind)
    inside cell c

Step rule (distances in u_eff dtau): ds = max(DS_MIN, min(near_step s_aged, sigma_step
sigma_y)) with s_aged the distance aged so far (no class resets);
dtau = min(ds / u_eff, max_dt, time to the next whole hour of tau, time left).
RK2 (midpoint) in time; the step's sample sits at its midpoint (tau, position, sigmas, met),
weight dtau, and is binned into hour back floor(tau_mid / 3600).

Samples array (n, N_T) columns: ``T_*`` constants. Settings array: ``S_*`` constants.
Buckets (a spatial index of cells or sources): ``bucket = (x0, y0, size, nbx, nby)``, item
lists ``start`` (nbx nby + 1) and ``items`` as compressed rows: bucket b = iy nbx + ix holds
``items[start[b]:start[b + 1]]``.

References
----------
Turner, D. B. (1970). Workbook of atmospheric dispersion estimates. U.S. EPA, AP-26 (virtual
distances for area and changing conditions).
Scire, J. S., Strimaitis, D. G., Yamartino, R. J. (2000). A user's guide for the CALPUFF
dispersion model (version 5). Earth Tech, sect. 2.4 (puff sampling; virtual distances after
a change of stability; sigma_x = sigma_y).
"""

import math

import numpy as np
from numba import prange

from cityflux.jit import jit, parallel_jit
from cityflux.transport.kernels import sigma_y, sigma_z
from cityflux.transport.particle_kernels import GRAVITY, M_AIR, R_DRY, flat_met, met_at
from cityflux.transport.stack_kernels import (
    BID_DIVISOR,
    buoyancy_induced_sigma,
    gradual_rise,
    stack_plume,
    stack_rise,
)

#: Columns of the samples array.
T_TAU, T_DTAU, T_X, T_Y, T_SY, T_SZ, T_H, T_LID, T_NAIR, T_PATH, T_ZREP, T_CLASS = range(12)
N_T = 12

#: Indices into ``settings``.
S_UMIN = 0         # floor on the ageing speed, m s-1
S_SCHEME = 1       # dispersion scheme code
S_NEAR_STEP = 2    # step as a fraction of the virtual distance (1 / (2 near_field_subcells))
S_SIGMA_STEP = 3   # step as a fraction of sigma_y (puffs overlap)
S_MAX_DT = 4       # longest step, s
S_WINDOW = 5       # Gaussians are evaluated within this many sigma of their centre
S_DURATION = 6     # length of the trajectories, s
N_SETTINGS = 7

#: Shortest step, m.
DS_MIN = 1.0
#: Bounds of the virtual-distance search, m.
X_MIN = 1e-3
X_MAX = 1e8
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_TWO_PI = 2.0 * math.pi

#: Columns of the stack-rise table (n_sources, n_hours, N_RISE).
R_BASE, R_FINAL, R_XF, R_FB, R_US = 0, 1, 2, 3, 4
N_RISE = 5


# --- small helpers -------------------------------------------------------------------


@jit
def curve(x, stability_class, scheme, vertical):
    """sigma_z (vertical) or sigma_y of the class's curve at distance x, m."""
    if vertical:
        return sigma_z(x, stability_class, scheme)
    return sigma_y(x, stability_class, scheme)


@jit
def virtual_distance(sigma, stability_class, scheme, vertical):
    """The distance x at which the class's curve gives ``sigma`` (bisection in ln x).

    Curves increase with x. Below the curve's value at X_MIN: X_MIN scaled linearly;
    above its largest value (ISC3 caps sigma_z of A-C at 5000 m): X_MAX (the caller keeps
    sigma from falling). Relative precision 1e-12 in x.
    """
    if sigma <= 0.0:
        return 0.0
    low = X_MIN
    f_low = curve(low, stability_class, scheme, vertical)
    if sigma <= f_low:
        return low * sigma / f_low
    high = 2.0 * low
    while curve(high, stability_class, scheme, vertical) < sigma:
        low = high
        high *= 2.0
        if high >= X_MAX:
            return X_MAX
    while high - low > 1e-12 * high:
        mid = math.sqrt(low * high)
        if mid <= low or mid >= high:
            break
        if curve(mid, stability_class, scheme, vertical) < sigma:
            low = mid
        else:
            high = mid
    return high


@jit
def representative_height(z_receptor, sz, h):
    """z_rep = min(max(z_r, sqrt(2/pi) sigma_z), max(z_r, h / 2)), m (see the legend)."""
    return min(max(z_receptor, _SQRT_2_OVER_PI * sz), max(z_receptor, 0.5 * h))


@jit
def nearest_time(met_t, t, k):
    """Index of the met time nearest to t (from a starting guess k)."""
    n = met_t.shape[0]
    if n == 1:
        return 0
    k = min(max(k, 0), n - 2)
    while k > 0 and t < met_t[k]:
        k -= 1
    while k < n - 2 and t >= met_t[k + 1]:
        k += 1
    if t - met_t[k] > met_t[k + 1] - t:
        return k + 1
    return k


@jit
def nearest_class(classes, met_t, met_axes, t, x, y, k):
    """Stability class of the met node nearest to (t, x, y), and the time index."""
    k = nearest_time(met_t, t, k)
    ny = classes.shape[1]
    nx = classes.shape[2]
    i = 0
    j = 0
    if nx > 1:
        i = min(max(math.floor((x - met_axes[0]) / met_axes[1] + 0.5), 0), nx - 1)
    if ny > 1:
        j = min(max(math.floor((y - met_axes[2]) / met_axes[3] + 0.5), 0), ny - 1)
    return classes[k, j, i], k


@jit
def vertical_density(z_receptor, release_height, sz, h_emit, h_obs, lid):
    """P_z, m-1: the stack plume's vertical rules with a unit lateral factor.

    :func:`~cityflux.transport.stack_kernels.stack_plume` at x = 1, y = 0 with
    sigma_y = 1 / sqrt(2 pi) and u = 1 is exactly its vertical term over sqrt(2 pi) sigma_z
    (or 1 / h_lid when well mixed or fumigated): reflected between the ground and the lid
    when released inside the layer; mixed over the lid once the layer has grown above a
    plume released above it; aloft (nothing below h_obs) otherwise.
    """
    return stack_plume(1.0, 0.0, z_receptor, release_height, _INV_SQRT_2PI, sz, 1.0, h_emit,
                       h_obs, lid)


@jit
def box_fraction(cx, cy, hx, hy, x, y, sigma):
    """Fraction of an isotropic 2-D Gaussian (x, y, sigma) inside the box cx +- hx, cy +- hy."""
    scale = _INV_SQRT2 / sigma
    fx = 0.5 * (math.erf((cx + hx - x) * scale) - math.erf((cx - hx - x) * scale))
    if fx == 0.0:
        return 0.0
    fy = 0.5 * (math.erf((cy + hy - y) * scale) - math.erf((cy - hy - y) * scale))
    return fx * fy


@jit
def bucket_range(bucket, low, high, axis):
    """Bucket indices (i0, i1) along ``axis`` (0: x, 1: y) overlapping [low, high]."""
    origin = bucket[axis]
    size = bucket[2]
    n = int(bucket[3 + axis])
    i0 = math.floor((low - origin) / size)
    i1 = math.floor((high - origin) / size)
    return max(i0, 0), min(i1, n - 1)


# --- the trajectory ---------------------------------------------------------------------


@jit
def trajectory(wf, sf, zlev, met_t, met_axes, dims, classes, settings, x_r, y_r, z_r, t_r):
    """Back trajectory of one receptor with its plume widths, one sample per step.

    Parameters
    ----------
    wf, sf, zlev, met_t, met_axes, dims
        Packed meteorology, flat (:func:`~cityflux.transport.particle_kernels.flat_met`).
    classes : ndarray of int64 (nt, ny, nx)
        Pasquill class (0..5) of every met node.
    settings : ndarray (N_SETTINGS,)
    x_r, y_r, z_r : float
        Receptor position (m) and height above ground (m).
    t_r : float
        Release time on the met time axis, s.

    Returns
    -------
    samples : ndarray (n, N_T)
        One row per step, values at its midpoint (see the ``T_*`` columns).
    h_obs : float
        Mixed-layer depth at the receptor at the release, m.
    """
    u_min = settings[S_UMIN]
    scheme = int(settings[S_SCHEME])
    near_step = settings[S_NEAR_STEP]
    sigma_step = settings[S_SIGMA_STEP]
    max_dt = settings[S_MAX_DT]
    duration = settings[S_DURATION]
    capacity = 512
    out = np.empty((capacity, N_T))
    n = 0
    kt = 0
    kz = 0
    kc = 0
    x = x_r
    y = y_r
    u1, v1, _, h1, _, _, _, _, kt, kz = met_at(wf, sf, zlev, met_t, met_axes, dims, t_r, x, y,
                                              z_r, kt, kz)
    h_obs = h1
    lid = h1
    cls, kc = nearest_class(classes, met_t, met_axes, t_r, x, y, kc)
    xvy = 0.0
    xvz = 0.0
    sy_floor = 0.0
    sz_floor = 0.0
    sy = 0.0
    sz = 0.0
    aged = 0.0     # distance aged at u_eff (the virtual distance without class resets)
    path = 0.0
    tau = 0.0
    while tau < duration:
        speed1 = math.hypot(u1, v1)
        ueff1 = max(speed1, u_min)
        ds = max(DS_MIN, min(near_step * aged, sigma_step * sy))
        dtau = min(ds / ueff1, max_dt, duration - tau)
        next_hour = (math.floor(tau / 3600.0) + 1.0) * 3600.0
        dtau = min(dtau, next_hour - tau)
        if dtau <= 1e-9:  # rounding at an hour boundary
            tau = next_hour
            continue
        t = t_r - tau
        xm = x - 0.5 * dtau * u1
        ym = y - 0.5 * dtau * v1
        z_mid = representative_height(z_r, sz, h1)
        u2, v2, _, h2, _, _, rho2, _, kt, kz = met_at(wf, sf, zlev, met_t, met_axes, dims,
                                                      t - 0.5 * dtau, xm, ym, z_mid, kt, kz)
        x_new = x - dtau * u2
        y_new = y - dtau * v2
        speed2 = math.hypot(u2, v2)
        advance = max(speed2, u_min) * dtau
        c2, kc = nearest_class(classes, met_t, met_axes, t - 0.5 * dtau, xm, ym, kc)
        if c2 != cls:
            cls = c2
            xvy = virtual_distance(sy, cls, scheme, False)
            xvz = virtual_distance(sz, cls, scheme, True)
            sy_floor = sy
            sz_floor = sz
        lid = max(lid, h2)
        if n == capacity:
            grown = np.empty((2 * capacity, N_T))
            grown[:n] = out[:n]
            out = grown
            capacity *= 2
        row = out[n]
        row[T_TAU] = tau + 0.5 * dtau
        row[T_DTAU] = dtau
        row[T_X] = 0.5 * (x + x_new)
        row[T_Y] = 0.5 * (y + y_new)
        row[T_SY] = max(sigma_y(xvy + 0.5 * advance, cls, scheme), sy_floor)
        row[T_SZ] = max(sigma_z(xvz + 0.5 * advance, cls, scheme), sz_floor)
        row[T_H] = h2
        row[T_LID] = lid
        row[T_NAIR] = rho2 / M_AIR
        row[T_PATH] = path + 0.5 * speed2 * dtau
        row[T_ZREP] = z_mid
        row[T_CLASS] = cls
        n += 1
        xvy += advance
        xvz += advance
        aged += advance
        path += speed2 * dtau
        sy = max(sigma_y(xvy, cls, scheme), sy_floor)
        sz = max(sigma_z(xvz, cls, scheme), sz_floor)
        x = x_new
        y = y_new
        tau += dtau
        if tau < duration:
            z_node = representative_height(z_r, sz, h2)
            u1, v1, _, h1, _, _, _, _, kt, kz = met_at(wf, sf, zlev, met_t, met_axes, dims,
                                                      t_r - tau, x, y, z_node, kt, kz)
            lid = max(lid, h1)
    return out[:n], h_obs


@parallel_jit
def trajectory_kernel(wind, zlev, surf, met_t, met_axes, classes, settings, rec_x, rec_y,
                      rec_z, rec_t, counts, out):
    """Back trajectories of several receptors (parallel): ``counts[r]`` samples of receptor
    r into ``out[r, :counts[r]]``; a receptor with more samples than ``out.shape[1]`` gets
    ``counts[r] = -n`` (call again with a larger ``out``)."""
    wf, sf, dims = flat_met(wind, surf)
    for r in prange(rec_x.shape[0]):
        samples, _ = trajectory(wf, sf, zlev, met_t, met_axes, dims, classes, settings,
                                rec_x[r], rec_y[r], rec_z[r], rec_t[r])
        n = samples.shape[0]
        if n > out.shape[1]:
            counts[r] = -n
            continue
        counts[r] = n
        out[r, :n] = samples


# --- surface footprints -----------------------------------------------------------------


@parallel_jit
def surface_kernel(wind, zlev, surf, met_t, met_axes, classes, settings, cell_x, cell_y,
                   cell_hx, cell_hy, cell_factor, bucket, bucket_start, bucket_items,
                   release_height, rec_x, rec_y, rec_z, rec_t, out):
    """Footprints of surface cells (parallel over receptors), added into ``out``.

    out[r, k, c] += dtau P_z f_c factor_c / n_air over the samples with floor(tau / 3600)
    = k: ppm per (umol m-2 s-1), numerically m2 s mol-1. f_c is the fraction of the
    sample's horizontal Gaussian in the cell's box (cell_x +- cell_hx, cell_y +- cell_hy),
    by error functions; factor_c = cell area / box area. Only
    cells whose box meets the square of half side S_WINDOW sigma_y about the sample count.

    Parameters
    ----------
    cell_x, cell_y, cell_hx, cell_hy, cell_factor : ndarray (n_cells,)
        Cell centres and half widths in the metric frame (m) and area factors.
    bucket, bucket_start, bucket_items
        Spatial index of the cell centres (see the module legend).
    release_height : float
        Release height of surface fluxes, m.
    rec_x, rec_y, rec_z, rec_t : ndarray (n_rec,)
        Receptor positions (m), heights (m) and release times (s, met time axis).
    out : ndarray (n_rec, n_back, n_cells)
        Zeroed by the caller; hours back beyond n_back - 1 are dropped.
    """
    wf, sf, dims = flat_met(wind, surf)
    n_rec = rec_x.shape[0]
    n_back = out.shape[1]
    window = settings[S_WINDOW]
    half_max = 0.0
    for c in range(cell_x.shape[0]):
        half_max = max(half_max, max(cell_hx[c], cell_hy[c]))
    for r in prange(n_rec):
        samples, h_obs = trajectory(wf, sf, zlev, met_t, met_axes, dims, classes, settings,
                                    rec_x[r], rec_y[r], rec_z[r], rec_t[r])
        for i in range(samples.shape[0]):
            row = samples[i]
            k = int(row[T_TAU] // 3600.0)
            if k >= n_back:
                break
            sy = row[T_SY]
            pz = vertical_density(rec_z[r], release_height, row[T_SZ], row[T_H], h_obs,
                                  row[T_LID])
            if pz == 0.0:
                continue
            weight = row[T_DTAU] * pz / row[T_NAIR]
            x = row[T_X]
            y = row[T_Y]
            reach = window * sy
            ix0, ix1 = bucket_range(bucket, x - reach - half_max, x + reach + half_max, 0)
            iy0, iy1 = bucket_range(bucket, y - reach - half_max, y + reach + half_max, 1)
            nbx = int(bucket[3])
            for iy in range(iy0, iy1 + 1):
                for ix in range(ix0, ix1 + 1):
                    b = iy * nbx + ix
                    for j in range(bucket_start[b], bucket_start[b + 1]):
                        c = bucket_items[j]
                        hx = cell_hx[c]
                        hy = cell_hy[c]
                        dx = cell_x[c] - x
                        dy = cell_y[c] - y
                        if abs(dx) > reach + hx or abs(dy) > reach + hy:
                            continue
                        frac = box_fraction(cell_x[c], cell_y[c], hx, hy, x, y, sy)
                        if frac > 0.0:
                            out[r, k, c] += weight * frac * cell_factor[c]


# --- point sources ----------------------------------------------------------------------


@parallel_jit
def rise_table(wind, zlev, surf, met_t, met_axes, classes, scheme, min_wind_speed, src_x,
               src_y, stack_height, buoyancy_given, exit_velocity, exit_temperature, diameter,
               first_hour_s, with_rise, out):
    """Release height and Briggs rise of every source in every emission hour (parallel).

    Hour e (starting ``first_hour_s + 3600 e`` on the met time axis) uses the meteorology
    at the source at its middle: the wind at the stack top (floored at
    ``min_wind_speed``), the class of the nearest met node and the air temperature
    T = g / (R_d inv_hrho); :func:`~cityflux.transport.stack_kernels.stack_rise` gives
    h', the final rise, x_f and F_b. Without ``with_rise``: h' = stack height, no rise.

    out : ndarray (n_src, n_hours, N_RISE)
        Receives (h', final rise, x_f, F_b, stack-top speed) per source and hour.
    """
    wf, sf, dims = flat_met(wind, surf)
    n_hours = out.shape[1]
    for s in prange(src_x.shape[0]):
        kt = 0
        kz = 0
        kc = 0
        for e in range(n_hours):
            row = out[s, e]
            t = first_hour_s + (e + 0.5) * 3600.0
            u, v, _, _, _, _, _, inv_hrho, kt, kz = met_at(wf, sf, zlev, met_t, met_axes, dims,
                                                           t, src_x[s], src_y[s],
                                                           stack_height[s], kt, kz)
            speed = max(math.hypot(u, v), min_wind_speed)
            row[R_US] = speed
            if not with_rise:
                row[R_BASE] = stack_height[s]
                row[R_FINAL] = 0.0
                row[R_XF] = 0.0
                row[R_FB] = 0.0
                continue
            cls, kc = nearest_class(classes, met_t, met_axes, t, src_x[s], src_y[s], kc)
            air_temperature = GRAVITY / (R_DRY * inv_hrho)
            base, final, x_final, fb = stack_rise(stack_height[s], speed, cls, air_temperature,
                                                  buoyancy_given[s], exit_velocity[s],
                                                  exit_temperature[s], diameter[s])
            row[R_BASE] = base
            row[R_FINAL] = final
            row[R_XF] = x_final
            row[R_FB] = fb



@parallel_jit
def point_kernel(wind, zlev, surf, met_t, met_axes, classes, settings, src_x, src_y, rise,
                 with_rise, max_rise, bucket, bucket_start, bucket_items, first_hour_s,
                 rec_x, rec_y, rec_z, rec_t, integrate, out):
    """Sensitivities of receptors to point sources (parallel over receptors), into ``out``.

    out[r, s, k] += dtau P_h P_z / n_air over the samples with floor(tau / 3600) = k
    (all into slot 0 with ``integrate``): mole fraction per (mol s-1). P_h is the 2-D
    Gaussian density (m-2) at the source about the sample with
    sigma_e = sqrt(sigma^2 + (dh / 3.5)^2) (buoyancy-induced dispersion); P_z from
    :func:`vertical_density` at the effective height H = h' + dh(s_path) of the emission
    hour (``rise`` table: downwash-corrected height h', final rise, x_f, F_b and stack-top
    speed of every source in every hour; dh from
    :func:`~cityflux.transport.stack_kernels.gradual_rise` at the distance the air
    travelled), released into the layer h at the sample. Only sources within
    S_WINDOW sqrt(sigma_y^2 + (max_rise / 3.5)^2) of the sample (square) count.

    Parameters
    ----------
    src_x, src_y : ndarray (n_src,)
        Source positions, m.
    rise : ndarray (n_src, n_hours, N_RISE)
        Row e is the emission hour starting ``first_hour_s + 3600 e`` (met time axis, s).
        Emission hours outside the table contribute nothing.
    with_rise : bool
        False: H = R_BASE, no rise and no buoyancy-induced dispersion.
    max_rise : float
        Largest final rise in the table, m (for the window).
    bucket, bucket_start, bucket_items
        Spatial index of the sources.
    rec_x, rec_y, rec_z, rec_t
        As for :func:`surface_kernel`.
    integrate : bool
    out : ndarray (n_rec, n_src, n_back) or (n_rec, n_src, 1) with ``integrate``
        Zeroed by the caller.
    """
    wf, sf, dims = flat_met(wind, surf)
    n_rec = rec_x.shape[0]
    n_hours = rise.shape[1]
    n_back = out.shape[2]
    window = settings[S_WINDOW]
    extra = max_rise / BID_DIVISOR if with_rise else 0.0
    nbx = int(bucket[3])
    for r in prange(n_rec):
        samples, h_obs = trajectory(wf, sf, zlev, met_t, met_axes, dims, classes, settings,
                                    rec_x[r], rec_y[r], rec_z[r], rec_t[r])
        for i in range(samples.shape[0]):
            row = samples[i]
            k = int(row[T_TAU] // 3600.0)
            if not integrate and k >= n_back:
                break
            slot = 0 if integrate else k
            hour = math.floor((rec_t[r] - row[T_TAU] - first_hour_s) / 3600.0)
            if hour < 0 or hour >= n_hours:
                continue
            sy = row[T_SY]
            sz = row[T_SZ]
            x = row[T_X]
            y = row[T_Y]
            reach = window * math.sqrt(sy * sy + extra * extra)
            scale = row[T_DTAU] / row[T_NAIR]
            ix0, ix1 = bucket_range(bucket, x - reach, x + reach, 0)
            iy0, iy1 = bucket_range(bucket, y - reach, y + reach, 1)
            last_height = -1.0
            last_pz = 0.0
            for iy in range(iy0, iy1 + 1):
                for ix in range(ix0, ix1 + 1):
                    b = iy * nbx + ix
                    for j in range(bucket_start[b], bucket_start[b + 1]):
                        s = bucket_items[j]
                        dx = src_x[s] - x
                        dy = src_y[s] - y
                        if abs(dx) > reach or abs(dy) > reach:
                            continue
                        height = rise[s, hour, R_BASE]
                        sye = sy
                        sze = sz
                        if with_rise and rise[s, hour, R_FINAL] > 0.0:
                            dh = gradual_rise(row[T_PATH], rise[s, hour, R_FB],
                                              rise[s, hour, R_US], rise[s, hour, R_FINAL],
                                              rise[s, hour, R_XF])
                            height += dh
                            if dh > 0.0:
                                sye = buoyancy_induced_sigma(sy, dh)
                                sze = buoyancy_induced_sigma(sz, dh)
                            pz = vertical_density(rec_z[r], height, sze, row[T_H], h_obs,
                                                  row[T_LID])
                        elif height == last_height:
                            pz = last_pz
                        else:
                            pz = vertical_density(rec_z[r], height, sz, row[T_H], h_obs,
                                                  row[T_LID])
                            last_height = height
                            last_pz = pz
                        if pz == 0.0:
                            continue
                        s2 = sye * sye
                        ph = math.exp(-0.5 * (dx * dx + dy * dy) / s2) / (_TWO_PI * s2)
                        out[r, s, slot] += scale * ph * pz
