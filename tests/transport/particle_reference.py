"""Slow, obvious references for the particle kernels (tests only).

Written from the formulas in the docstrings of :mod:`cityflux.transport.particle_kernels`,
not from its code: random numbers with Python integers and scipy's normal quantile,
interpolation with scipy's RegularGridInterpolator on the MetField's own (t, z, y, x)
layout, Hanna's profiles as the plain min of his three pieces, and one particle at a time in
plain Python loops with float footprint sums.
"""

import math

import numpy as np
from scipy.interpolate import RegularGridInterpolator
from scipy.special import ndtri

M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
KARMAN = 0.4
GRAVITY = 9.80665
R_DRY = 8.314462618 / 28.97e-3
M_AIR = 28.97e-3


# --- random numbers -------------------------------------------------------------------

def mix64(z):
    z &= M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def particle_key(seed, receptor_key, particle):
    k = mix64(seed + GOLDEN)
    k = mix64(k ^ receptor_key)
    return mix64(k + (particle + 1) * GOLDEN)


def draw(key, n):
    return mix64(key + (n + 1) * GOLDEN)


def uniforms(key, n):
    r = draw(key, n)
    return ((r >> 32) + 0.5) / 2.0 ** 32, ((r & 0xFFFFFFFF) + 0.5) / 2.0 ** 32


def normal(u):
    return float(ndtri(u))


def receptor_key(values):
    k = 0x243F6A8885A308D3
    for b in np.asarray(values, dtype=np.float64).view(np.uint64):
        k = (mix64(k ^ int(b)) + GOLDEN) & M64
    return mix64(k)


# --- meteorology ----------------------------------------------------------------------

class RefMet:
    """Multilinear interpolation of a MetField, clamped at its edges."""

    def __init__(self, met):
        self.t = (np.asarray(met.time) - np.asarray(met.time)[0]) / np.timedelta64(1, "s")
        self.x, self.y, self.z = (np.asarray(a, float) for a in (met.x, met.y, met.z))
        self.fields3 = {}
        temperature = np.asarray(met.air_temperature, float)
        self.fields2 = {
            "h": np.asarray(met.blh, float),
            "ustar": np.asarray(met.ustar, float),
            "inv_l": 1.0 / np.asarray(met.obukhov_length, float),
            "rho": np.asarray(met.surface_pressure, float) / (R_DRY * temperature),
            "inv_hrho": GRAVITY / (R_DRY * temperature),
        }
        for name in ("u", "v", "w"):
            self.fields3[name] = np.asarray(getattr(met, name), float)

    @staticmethod
    def _axes(*axes):
        # RegularGridInterpolator needs >= 2 points per axis: duplicate single points
        out = []
        for a in axes:
            out.append(np.array([a[0], a[0] + 1.0]) if a.size == 1 else a)
        return out

    @staticmethod
    def _values(v, axes):
        for i, a in enumerate(axes):
            if a.size == 1:
                v = np.concatenate([v, v], axis=i)
        return v

    def _interpolators(self):
        if not hasattr(self, "_f3"):
            axes3 = (self.t, self.z, self.y, self.x)
            axes2 = (self.t, self.y, self.x)
            self._f3 = {name: RegularGridInterpolator(self._axes(*axes3),
                                                      self._values(v, axes3))
                        for name, v in self.fields3.items()}
            self._f2 = {name: RegularGridInterpolator(self._axes(*axes2),
                                                      self._values(v, axes2))
                        for name, v in self.fields2.items()}
        return self._f3, self._f2

    def __call__(self, t, x, y, z):
        def clamp(value, axis):
            return min(max(value, axis[0]), axis[-1])
        point3 = [clamp(t, self.t), clamp(z, self.z), clamp(y, self.y), clamp(x, self.x)]
        point2 = [point3[0], point3[2], point3[3]]
        f3, f2 = self._interpolators()
        out = {name: float(f(point3)[0]) for name, f in f3.items()}
        out.update({name: float(f(point2)[0]) for name, f in f2.items()})
        return out


# --- turbulence -----------------------------------------------------------------------

def hanna(z, h, ustar, inv_l, s):
    """(sigma_u, sigma_v, sigma_w, dsigma_w/dz, T_Lu, T_Lv, T_Lw) from the documented
    formulas; ``s`` is a dict of settings."""
    f = s["coriolis"]
    z = min(max(z, 0.0), h)
    zeta = z / h
    hl = h * inv_l
    if abs(hl) < 1.0:
        su = 2.0 * ustar * math.exp(-3.0 * f * z / ustar)
        sw = 1.3 * ustar * math.exp(-2.0 * f * z / ustar)
        sv = sw
        dsw = -2.0 * f / ustar * sw
        tu = tv = tw = 0.5 * z / sw / (1.0 + 15.0 * f * z / ustar)
    elif hl < 0.0:
        L = 1.0 / inv_l
        wstar = ustar * (-h / (KARMAN * L)) ** (1.0 / 3.0)
        su = sv = ustar * (12.0 - 0.5 * h / L) ** (1.0 / 3.0)
        tu = tv = 0.15 * h / su

        def g(zt):
            pieces = [0.96 * (3 * zt - L / h) ** (1 / 3)]
            if zt > 0:
                pieces.append(0.763 * zt ** 0.175)
            pieces.append(0.722 * max(1 - zt, 0.0) ** 0.207)
            return max(min(pieces), 0.37)

        def dg(zt):
            pieces = [(0.96 * (3 * zt - L / h) ** (1 / 3), 0.96 * (3 * zt - L / h) ** (-2 / 3))]
            if zt > 0:
                pieces.append((0.763 * zt ** 0.175, 0.763 * 0.175 * zt ** -0.825))
            if zt < 1:
                pieces.append((0.722 * (1 - zt) ** 0.207, -0.722 * 0.207 * (1 - zt) ** -0.793))
            else:
                pieces.append((0.0, 0.0))
            value, slope = min(pieces)
            return 0.0 if value < 0.37 else slope

        if zeta >= 0.03:
            gz, dgz = g(zeta), dg(zeta)
        else:
            s1 = 0.96 * (3 * zeta - L / h) ** (1 / 3)
            jump = 0.96 * (0.09 - L / h) ** (1 / 3) - g(0.03)
            gz = s1 - jump * zeta / 0.03
            dgz = 0.96 * (3 * zeta - L / h) ** (-2 / 3) - jump / 0.03
        sw = wstar * gz
        dsw = wstar * dgz / h
        if zeta >= 0.1:
            tw = 0.15 * h / sw * (1 - math.exp(-5 * zeta))
        elif z > -L:
            tw = 0.59 * z / sw
        else:
            tw = 0.1 * z / (sw * (0.55 + 0.38 * z / abs(L)))
    else:
        su = max(2.0 * ustar * (1 - zeta), s["min_sigma_uv"])
        sv = max(1.3 * ustar * (1 - zeta), s["min_sigma_uv"])
        sw = 1.3 * ustar * (1 - zeta)
        dsw = -1.3 * ustar / h
        if sw < s["min_sigma_w"]:
            sw, dsw = s["min_sigma_w"], 0.0
        tu = 0.15 * h / su * zeta ** 0.5
        tv = 0.07 * h / sv * zeta ** 0.5
        tw = 0.1 * h / sw * zeta ** 0.8
    su = max(su, s["min_sigma_uv"])
    sv = max(sv, s["min_sigma_uv"])
    if sw < s["min_sigma_w"]:
        sw, dsw = s["min_sigma_w"], 0.0
    return (su, sv, sw, dsw, max(tu, s["min_tl_uv"]), max(tv, s["min_tl_uv"]),
            max(tw, s["min_tl_w"]))


def turbulence(z, h, ustar, inv_l, inside, s):
    if s["turbulence"] == "homogeneous":
        t = s["homogeneous_tl"]
        return (s["homogeneous_sigma_uv"], s["homogeneous_sigma_uv"], s["homogeneous_sigma_w"],
                0.0, t, t, t)
    if inside:
        return hanna(z, h, ustar, inv_l, s)
    return (s["free_sigma_uv"], s["free_sigma_uv"], s["free_sigma_w"], 0.0, s["free_tl_uv"],
            s["free_tl_uv"], s["free_tl_w"])


def step_lengths(h, ustar, inv_l, inside, s):
    """(outer, inner, sigma_w, T_Lw): 0.5 min(T_Lu, T_Lv) and 0.1 T_Lw at h/2 within the
    bounds, and sigma_w, T_Lw there."""
    lo, hi = s["min_step_s"], s["max_step_s"]
    if s["turbulence"] == "homogeneous":
        dt = min(max(s["step_fraction"] * s["homogeneous_tl"], lo), hi)
        return dt, dt, s["homogeneous_sigma_w"], s["homogeneous_tl"]
    if not inside:
        return hi, hi, s["free_sigma_w"], s["free_tl_w"]
    _, _, sw, _, tu, tv, tw = hanna(0.5 * h, h, ustar, inv_l, s)
    outer = min(max(s["horizontal_step_fraction"] * min(tu, tv), lo), hi)
    return outer, min(max(s["step_fraction"] * tw, lo), outer), sw, tw


def taylor_sigma(sigma, tl, age):
    if age <= 0:
        return 0.0
    return math.sqrt(2 * sigma ** 2 * tl * (age - tl * (1 - math.exp(-age / tl))))


def below(z0, z1, level):
    lo, hi = min(z0, z1), max(z0, z1)
    if hi <= level:
        return 1.0
    if lo >= level:
        return 0.0
    return (level - lo) / (hi - lo)


def reflect(z, nw, h, top):
    if z < 0:
        z, nw = -z, -nw
    if top and z > h:
        z, nw = 2 * h - z, -nw
        if z < 0:
            z = min(-z, h)
    return z, nw


# --- particles ------------------------------------------------------------------------

def run_particle(met: RefMet, s, key, x, y, z, t_release, end, targets=None, grid=None,
                 z_release=None):
    """Follow one particle; returns (deposits, exit, positions, n_outer).

    deposits: list of (hour back, x_mid, y_mid, footprint per particle);
    exit: (age, x, y, z, edge) of the first exit from ``grid`` = (x0, dx, nx, y0, dy, ny)
    (None without a grid); positions: (x, y, z) at each target age (trajectory mode).
    """
    nu, nv, nw = (normal(u) for u in (*uniforms(key, 0), uniforms(key, 1)[0]))
    nd = 3
    age = 0.0
    deposits, positions, exit_ = [], [], None
    stops = sorted(set(([] if targets is None else list(targets)) + [end]))
    n_outer = 0
    for target in stops:
        while target - age > 1e-6:
            hb = int(age // 3600.0)
            cap = min((hb + 1) * 3600.0, target) - age
            t = t_release - age
            m = met(t, x, y, z)
            h = max(m["h"], s["min_blh"])
            ustar = max(m["ustar"], s["min_ustar"])
            inv_l = m["inv_l"]
            inside = z <= h
            top = inside and s["turbulence"] != "homogeneous"
            outer, inner, sw_mid, tw_mid = step_lengths(h, ustar, inv_l, inside, s)
            dt = min(outer, cap)
            n_inner = max(math.ceil(dt / inner - 1e-9), 1)
            ddt = dt / n_inner
            w = m["w"] if s["vertical_wind"] else 0.0
            q, z_sum, z0 = 0.0, 0.0, z
            for _ in range(n_inner):
                xi = normal(uniforms(key, nd)[0])
                nd += 1
                sw0 = turbulence(z0, h, ustar, inv_l, inside, s)[2]
                zm, nw = reflect(z0 + (sw0 * nw - w) * ddt / 2, nw, h, top)
                _, _, sw, dsw, _, _, tw = turbulence(zm, h, ustar, inv_l, inside, s)
                kick = dsw * ddt / 2 if s["thomson_drift"] else 0.0
                a = math.exp(-ddt / tw)
                nw = a * (nw + kick) + math.sqrt(1 - a * a) * xi + kick
                z1, nw = reflect(zm + (sw * nw - w) * ddt / 2, nw, h, top)
                frac = 0.5 * (below(z0, zm, h / 2) + below(zm, z1, h / 2))
                if frac > 0:
                    e = zm * m["inv_hrho"]
                    q += ddt * frac / m["rho"] * (1 + e + e * e / 2 + e ** 3 / 6)
                z_sum += (z0 + 2 * zm + z1) / 4
                z0 = z1
            mw = met(t - dt / 2, x, y, z_sum / n_inner)
            su, sv, _, _, tu, tv, _ = turbulence(z0, h, ustar, inv_l, inside, s)
            u1, u2 = uniforms(key, nd)
            nd += 1
            au, av = math.exp(-dt / tu), math.exp(-dt / tv)
            nu1 = au * nu + math.sqrt(1 - au * au) * normal(u1)
            nv1 = av * nv + math.sqrt(1 - av * av) * normal(u2)
            x1 = x + (su * (nu + nu1) / 2 - mw["u"]) * dt
            y1 = y + (sv * (nv + nv1) / 2 - mw["v"]) * dt
            nu, nv = nu1, nv1
            n_outer += 1
            if q > 0 and z_release is not None:
                h_eff = h / 2
                if s["hyper_near_field"]:
                    h_eff = min(h_eff, z_release + taylor_sigma(sw_mid, tw_mid, age + dt / 2))
                h_eff = max(h_eff, s["min_dilution_depth"])
                deposits.append((hb, (x + x1) / 2, (y + y1) / 2, M_AIR * q / h_eff))
            if grid is not None and exit_ is None:
                exit_ = _exit(x, y, z, x1, y1, z0, grid, s["top_height_m"], age, dt)
            x, y, z = x1, y1, z0
            age += dt
            if (hb + 1) * 3600.0 - age < 1e-6:
                age = (hb + 1) * 3600.0
            if exit_ is not None and s["stop_at_exit"]:
                break
        if exit_ is not None and s["stop_at_exit"]:
            break
        positions.append((x, y, z))
    if grid is not None and exit_ is None:
        exit_ = (age, x, y, z, 0)
    return deposits, exit_, positions, n_outer


def _exit(x, y, z, x1, y1, z1, grid, top, age, dt):
    x0, dx, nx, y0, dy, ny = grid
    candidates = []
    for value, lo, hi, start, low_edge, high_edge in (
            (x1, x0, x0 + nx * dx, x, 4, 2), (y1, y0, y0 + ny * dy, y, 3, 1)):
        if value < lo:
            candidates.append(((lo - start) / (value - start), low_edge))
        elif value > hi:
            candidates.append(((hi - start) / (value - start), high_edge))
    if z1 > top:
        candidates.append(((top - z) / (z1 - z), 5))
    if not candidates:
        return None
    f, edge = min(candidates)
    return (age + f * dt, x + f * (x1 - x), y + f * (y1 - y), z + f * (z1 - z), edge)


def footprint(met, s, grid, release, t_release, rkey, seed, n_particles, hours_back):
    """Dense footprint (hours_back, ny * nx) and exits (n, 5) of one receptor."""
    x0, dx, nx, y0, dy, ny = grid
    foot = np.zeros((hours_back, ny * nx))
    exits = np.zeros((n_particles, 5))
    hnf = s["hyper_near_field"] and release[5] <= release[4]
    s = dict(s, hyper_near_field=hnf)
    for p in range(n_particles):
        key = particle_key(seed, rkey, p)
        ua, ub = uniforms(key, 2)
        q = (p + ua) / n_particles
        x = release[0] + q * (release[2] - release[0])
        y = release[1] + q * (release[3] - release[1])
        z = release[4] + ub * (release[5] - release[4])
        deposits, exit_, _, _ = run_particle(met, s, key, x, y, z, t_release,
                                             hours_back * 3600.0, grid=grid, z_release=z)
        for hb, xm, ym, value in deposits:
            ix, iy = math.floor((xm - x0) / dx), math.floor((ym - y0) / dy)
            if 0 <= ix < nx and 0 <= iy < ny:
                foot[hb, iy * nx + ix] += value / n_particles
        exits[p] = exit_
    return foot, exits


def gaussian_smooth(field, sigma, dx, dy):
    """Separable Gaussian smoothing by a plain double loop over cells."""
    from scipy.special import erf

    ny, nx = field.shape
    out = np.zeros_like(field)

    def weight(m, step):
        c = 1.0 / (math.sqrt(2.0) * sigma)
        return 0.5 * (erf((m + 0.5) * step * c) - erf((m - 0.5) * step * c))

    mx, my = math.ceil(4 * sigma / dx), math.ceil(4 * sigma / dy)
    for j in range(ny):
        for i in range(nx):
            for jj in range(max(0, j - my), min(ny, j + my + 1)):
                for ii in range(max(0, i - mx), min(nx, i + mx + 1)):
                    out[jj, ii] += field[j, i] * weight(ii - i, dx) * weight(jj - j, dy)
    return out
