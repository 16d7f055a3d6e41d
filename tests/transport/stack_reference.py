"""Slow, obvious numpy references for the stack kernels (tests only).

Written apart from ``cityflux.transport.stack_kernels``: ISC3 vol. II (EPA-454/B-95-003b)
sect. 1.1.3-1.1.5 typed again, the sigmas from ``plume_reference``, the image sum with a
fixed generous number of images, and the receptor x source x lag loop written out.
"""

import math

import numpy as np
from plume_reference import ref_sigma_y, ref_sigma_z

G = 9.80616  # ISC3
P_RURAL = {"A": 0.07, "B": 0.07, "C": 0.10, "D": 0.15, "E": 0.35, "F": 0.55}
P_URBAN = {"A": 0.15, "B": 0.15, "C": 0.20, "D": 0.25, "E": 0.30, "F": 0.30}
DTHETA_DZ = {"E": 0.020, "F": 0.035}
LETTERS = "ABCDEF"
M_CO2 = 44.0095e-3


def ref_stack_wind(u_ref, h_s, z_ref, cls, scheme, u_min):
    p = (P_RURAL if scheme == 0 else P_URBAN)[LETTERS[cls]]
    return max(u_ref * (max(h_s, z_ref) / z_ref) ** p, u_min)


def ref_rise(h_s, u_s, cls, t_a, fb_given, v_s, t_s, d):
    """(h', final rise, x_f, F_b) after ISC3 1.1.4, one branch per case, no shortcuts."""
    letter = LETTERS[cls]
    stable = letter in "EF"
    has_vd = not (np.isnan(v_s) or np.isnan(d))
    has_all = has_vd and not np.isnan(t_s)
    h_prime = h_s
    if has_vd and v_s < 1.5 * u_s:
        h_prime = max(h_s + 2 * d * (v_s / u_s - 1.5), 0.0)
    if not np.isnan(fb_given):
        fb = fb_given
    elif has_all:
        fb = G * v_s * d**2 * max(t_s - t_a, 0.0) / (4 * t_s)
    else:
        fb = 0.0
    s = G * DTHETA_DZ[letter] / t_a if stable else 0.0
    momentum = False
    if has_all:
        if stable:
            dt_c = 0.019582 * t_s * v_s * math.sqrt(s)
        elif fb < 55:
            dt_c = 0.0297 * t_s * v_s ** (1 / 3) / d ** (2 / 3)
        else:
            dt_c = 0.00575 * t_s * v_s ** (2 / 3) / d ** (1 / 3)
        momentum = (t_s - t_a) < dt_c
    if momentum:
        fm = v_s**2 * d**2 * t_a / (4 * t_s)
        rise = 3 * d * v_s / u_s
        if stable:
            rise = min(rise, 1.5 * (fm / (u_s * math.sqrt(s))) ** (1 / 3))
        return h_prime, rise, 0.0, fb
    if fb <= 0:
        return h_prime, 0.0, 0.0, fb
    if stable:
        return h_prime, 2.6 * (fb / (u_s * s)) ** (1 / 3), 2.0715 * u_s / math.sqrt(s), fb
    if fb < 55:
        return h_prime, 21.425 * fb**0.75 / u_s, 49 * fb**0.625, fb
    return h_prime, 38.71 * fb**0.6 / u_s, 119 * fb**0.4, fb


def ref_rise_at(x, fb, u_s, final, x_f):
    if x >= x_f:
        return final
    return min(1.6 * fb ** (1 / 3) * x ** (2 / 3) / u_s, final)


def ref_images(z, H, sz, h, n_images=25):
    n = np.arange(-n_images, n_images + 1)
    return float(np.sum(np.exp(-((z - H + 2 * n * h) ** 2) / (2 * sz**2)))
                 + np.sum(np.exp(-((z + H + 2 * n * h) ** 2) / (2 * sz**2))))


def ref_stack_plume(x, y, z, H, sy, sz, u, h_emit, h_obs, h_path):
    if x <= 0:
        return 0.0
    lid = max(h_emit, h_obs, h_path)
    lateral = math.exp(-(y**2) / (2 * sy**2))
    gauss = lambda d: math.exp(-(d**2) / (2 * sz**2))  # noqa: E731
    if H >= lid:  # aloft all the way
        if z < h_obs:
            return 0.0
        return lateral * (gauss(z - H) + gauss(z - 2 * h_obs + H)) / (2 * math.pi * u * sy * sz)
    if z >= lid:
        return 0.0
    mixed = lateral / (math.sqrt(2 * math.pi) * u * sy * lid)
    if H >= h_emit or sz > 1.6 * lid:
        return mixed
    return lateral * ref_images(z, H, sz, lid) / (2 * math.pi * u * sy * sz)


def ref_sensitivities(src, rec, met, scheme, u_min, z_ref, rise, n_lags, integrate):
    """src, rec, met: dicts of arrays; the stack_sensitivity_kernel arguments by name."""
    n, m = len(rec["x"]), len(src["x"])
    out = np.zeros((n, m, 1 if integrate else n_lags))
    for r in range(n):
        t = rec["hour"][r]
        n_air = met["n_air"][t]
        for k in range(n_lags):
            e = t - k
            if e < 0:
                continue
            path = max(met["blh"][e : t + 1])
            wind = np.array([met["u"][e], met["v"][e]])
            speed = np.linalg.norm(wind)
            if speed == 0:
                continue
            along = wind / speed
            across = np.array([-along[1], along[0]])
            cls = met["cls"][e]
            for s in range(m):
                d = np.array([rec["x"][r] - src["x"][s], rec["y"][r] - src["y"][s]])
                x, y = d @ along, d @ across
                if x <= 0:
                    continue
                u_s = ref_stack_wind(speed, src["h"][s], z_ref, cls, scheme, u_min)
                w = max(0.0, 1 - abs(x / u_s / 3600 - k))
                if w == 0:
                    continue
                sy, sz = ref_sigma_y(x, cls, scheme), ref_sigma_z(x, cls, scheme)
                H = src["h"][s]
                if rise:
                    h_prime, final, x_f, fb = ref_rise(src["h"][s], u_s, cls, met["t"][e], src["fb"][s],
                                                       src["vs"][s], src["ts"][s], src["d"][s])
                    dh = ref_rise_at(x, fb, u_s, final, x_f)
                    H = h_prime + dh
                    sy = math.sqrt(sy**2 + (dh / 3.5) ** 2)
                    sz = math.sqrt(sz**2 + (dh / 3.5) ** 2)
                g = ref_stack_plume(x, y, rec["z"][r], H, sy, sz, u_s, met["blh"][e], met["blh"][t], path)
                out[r, s, 0 if integrate else k] += w * g / M_CO2 / n_air * 1e6
    return out
