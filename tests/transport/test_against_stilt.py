"""The particle model against STILT itself.

The reference (``data/stilt_reference/<case>.npz``, 35 + 22 KB, made by
``scripts/make_stilt_reference.py`` in a scratch environment with PyPI's ``pystilt``
0.1.0a25, which runs STILT's HYSPLIT core ``hycs_std`` v5.1.0 offline) holds STILT's
footprints of a point receptor 50 m above ground under meteorology that is uniform in
space and steady in time, for six seeds of 1000 particles, in two cases:

* convective: u, v = 2, 1 m/s; mixed layer h = 1300 m; u* = 0.4 m/s; H = 250 W m-2
  (L = -23 m); 10 h back;
* stable: u, v = 2, 1 m/s; h = 385 m; u* = 0.2 m/s; H = -30 W m-2 (L = +24 m); 16 h back.

Here cityflux's model runs on a MetField holding the same meteorology (L from the heat
flux; where HYSPLIT resolves them, STILT's sigma_w and T_Lw profiles match cityflux's Hanna
profiles within 3 %, so both derive the same stability), with the same receptor, release
time, particle count and number of seeds. The tests check that totals, centroids and
patterns agree within the two models' seed-to-seed spread where the models are meant to
agree: once the boundary layer is mixed (from hour ``mixed_from``: 2 convective, 10 stable).

Measured (means of 6 seeds; cityflux / STILT; STILT's seed spread in brackets):

=========================================  ==================  ==================
                                           convective          stable
=========================================  ==================  ==================
total, mixed hours                         0.998 (0.7 %)       0.977 (1.7 %)
total, all hours                           0.964 (0.6 %)       0.944 (1.1 %)
first hour                                 0.83                0.95
hours 1 to 7                               0.91, then 0.98-1   0.88-0.96
centroid speed, mixed hours                1.000 / 1.005       1.001 / 1.000
centroid: cityflux's further upwind by     0.36 km             0.43 km
width along / across wind, mixed hours     1.000 / 1.009       0.993 / 1.018
overlap distance, mixed hours / noise      1.16                3.4 (xfail)
hyper near field, first hour (STILT-R /    x 1.58 / x 1.42     x 1.13 / x 1.54
cityflux's own)
=========================================  ==================  ==================

What was aligned, and why (each found by running STILT; the ``diag_*`` arrays of the
reference hold the runs):

* **Mixed-layer top.** HYSPLIT mixes particles up to the first of its internal levels
  (10, 75, 200, 385, 630, 935, 1300, 1725 m, ...) at or above PBLH, but its footprint
  counts particles below 0.5 PBLH. With PBLH = 1500 m, 12-14 % of STILT's particles sit
  between 1500 and 1725 m and its mixed-layer footprint is 10 % below cityflux's (with
  PBLH = 300 m in the stable case, 22-25 % sit above PBLH). Both cases put PBLH on an internal level,
  where 97-100 % of STILT's particles stay below it.
* **Wind below 10 m.** HYSPLIT takes the wind to zero linearly below its lowest level
  (u(z) = u_10 z / 10 m, measured without turbulence); cityflux holds the lowest level's
  wind. The MetField here has a level at 0 m with zero wind, which is the same profile.
* **Horizontal turbulence.** HYSPLIT's STILT mode moves particles horizontally with its own
  turbulence (0.80 m/s at every height in the convective case) and a Lagrangian time
  scale ``hscale`` of 3 h by default, meant for unresolved mesoscale motion: with it,
  STILT's particles spread 1.7 times (after 1 h) to 4 times (10 h) as far as cityflux's
  Hanna turbulence takes them (stable: 1.6 to 5 times). The reference sets hscale =
  411 s in the convective case, which gives STILT Hanna's horizontal diffusivity
  sigma_u^2 T_Lu = 0.15 h sigma_u (STILT's spread is then 13 % smaller at 1 h and 2 % at
  10 h), and 200 s (Hanna's T_Lu at mid-layer) in the stable case, where HYSPLIT's spread
  barely depends on it; there STILT's particles still spread 1.4 times as far along x
  (more time in the sheared lowest 10 m, and HYSPLIT's own stable turbulence), which the
  2-km grid hardly resolves across the wind.
* **Footprint density.** STILT divides ``foot`` by one air density (of its standard-lapse
  atmosphere, low in the layer); cityflux by the density at each particle of an
  isothermal atmosphere. cityflux's footprints are multiplied by the ratio (0.997 and
  0.991), so that what is compared is where the particles are.
* **Hyper near field.** Both footprints are compared without it: STILT-R's ``hnf_plume``
  grows the plume depth by a running sum of per-minute sigmas (with STILT-R's
  ``exp(-t/T_L) - 1`` under the square root), cityflux's is Taylor's sigma_z.

What still differs (not tested, or xfail):

* **Leaving the surface layer.** STILT's particles released at 50 m rise more slowly.
  HYSPLIT holds the turbulence of an internal level up to the next one, so from 10 to
  75 m it uses the 10-m values (convective sigma_w = 0.75 m/s, T_Lw = 2.9 s; stable
  0.25 m/s, 8.2 s): a diffusivity 7-27 (convective) and 2-4 (stable) times below Hanna's
  at 25-75 m. After 10 min STILT's particles are at 144 m on average, cityflux's at 313 m
  (convective); in the first hour 79 % of STILT's rows lie below h/2, 67 % of cityflux's.
  Hence STILT's higher first hours (table) and, because those particles also move more
  slowly in the lowest 10 m, its footprint's offset towards the receptor, built up in the
  first hour (convective) or five (stable) and constant afterwards. With a fine internal
  grid (``ZSG_LEVS.IN``, 10 m levels) STILT's sigma_w and T_Lw match Hanna's within 3 %
  (below 20 m: T_Lw 3.7 s against cityflux's 10-s floor) but its particles still rise
  more slowly (199 m after 10 min) and up to 23 % of them leave through the top of the
  convective layer, so that is no better reference. cityflux's near field does not move
  with its own step sizes or T_L floor (hourly totals within 3 % with a fifth of the
  inner step and T_Lw >= 1 s).
* **Stable mixed layer.** A uniform column release stays uniform in cityflux (its
  well-mixed tests) but in STILT drifts to 53 % below h/2 within 4 h in the stable case
  (51 % convective): with STILT's 51 % below h/2 in the mixed hours, its stable mixed
  footprint is 1.5-2 % high, within the seed spread of this comparison.
* **Stable pattern.** The 0.43-km offset moves 3.4 % of a one-cell-wide footprint between
  cells, against 1.0 % of noise: the overlap test fails (xfail), the shape tests pass.

Speed on this machine (Intel Xeon, one core): STILT 1000 particles x 24 h takes 38.2 s of
hycs_std CPU (43.9 s wall, 45.5 s with pystilt) writing the one-minute particle output
its footprints need, 21.8 s with hourly output (``speed_24h_*`` in the reference):
1.44 million particle-minutes, 38 000 (66 000) a second. cityflux takes 0.64 s (convective)
and 0.38 s (stable) for the same.
"""

from __future__ import annotations

import itertools
import json
import math
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from cityflux.metfield import MetField
from cityflux.transport import particle_kernels as pk
from cityflux.transport.particles import ParticleSettings, particle_footprints

REF = Path(__file__).parent / "data" / "stilt_reference"
CASES = ("convective", "stable")
#: cityflux's seeds; STILT's are in the reference (the same number).
SEEDS = tuple(range(6))
#: Two-sided false-alarm probability of each comparison of means: that of a 3-sigma test.
#: The standard errors come from 6 + 6 seeds, so the bound is Student's t quantile for
#: Welch's degrees of freedom (about 10: 4.0 standard errors) rather than 3.
P_FALSE_ALARM = 0.0027
HEAT_CAPACITY = 1005.0
KARMAN = 0.4
START = np.datetime64("2024-06-30T00:00", "ns")


class _Receptor:
    def __init__(self, hour, height):
        self.x = np.array([0.0])
        self.y = np.array([0.0])
        self.height = np.array([height])
        self.hour = np.array([hour])


@cache
def reference(case: str) -> dict:
    with np.load(REF / f"{case}.npz") as data:
        out = {key: data[key] for key in data.files}
    out["meta"] = json.loads(str(out["meta"]))
    return out


def met_field(meta: dict) -> MetField:
    """The reference's meteorology as a single-column MetField (uniform and steady).

    Winds at 10 m and above as in the ARL file, zero at 0 m (HYSPLIT's profile below its
    lowest level); L = -rho c_p T u*^3 / (kappa g H) with rho T = p / R_d.
    """
    time = START + np.arange(49) * np.timedelta64(1, "h")
    z = np.array([0.0, 10.0, 100.0, 1000.0, 5000.0])
    s4, s3 = (time.size, z.size, 1, 1), (time.size, 1, 1)
    u = np.full(s4, meta["u"])
    v = np.full(s4, meta["v"])
    u[:, 0] = v[:, 0] = 0.0
    pressure = 100.0 * meta["surface_pressure_hpa"]
    obukhov = -(pressure / pk.R_DRY) * HEAT_CAPACITY * meta["ustar"] ** 3 / (
        KARMAN * pk.GRAVITY * meta["shtf"])
    return MetField(time, np.array([0.0]), np.array([0.0]), z, u, v, np.zeros(s4),
                    np.full(s3, meta["pblh"]), np.full(s3, meta["ustar"]),
                    np.full(s3, obukhov), np.full(s3, meta["t2"]), np.full(s3, pressure),
                    np.full(s3, 0.2))


def density_ratio(ref: dict) -> float:
    """cityflux footprint x this = the footprint with STILT's density: (1 / rho_STILT) /
    mean over [0, h/2] of cityflux's 1/rho (isothermal at T_2m, see particle_kernels)."""
    meta = ref["meta"]
    temperature = meta["t2"]
    rho_s = 100.0 * meta["surface_pressure_hpa"] / (pk.R_DRY * temperature)
    scale = pk.R_DRY * temperature / pk.GRAVITY
    h_s = 0.5 * meta["pblh"]
    mean_inverse = scale * math.expm1(h_s / scale) / (rho_s * h_s)
    return 1.0 / (float(np.median(ref["density"])) * mean_inverse)


@cache
def cityflux(case: str) -> dict:
    """cityflux's footprints of the reference's receptor, one row per seed."""
    ref = reference(case)
    meta = ref["meta"]
    x0, dx, nx, y0, dy, ny = ref["grid"]
    grid = (x0, dx, int(nx), y0, dy, int(ny))
    n_hours = meta["n_hours"]
    hour = int((np.datetime64(meta["receptor"]["time"].replace(" ", "T"), "ns") - START)
               / np.timedelta64(1, "h"))
    settings = ParticleSettings(release_offset_hours=0.0, hyper_near_field=False)
    met = met_field(meta)
    ratio = density_ratio(ref)
    feet = []
    for seed in SEEDS:
        fp, _ = particle_footprints(met, grid, _Receptor(hour, meta["receptor"]["altitude"]),
                                    START, n_particles=meta["numpar"], hours_back=n_hours,
                                    seed=seed, settings=settings)
        dense = np.zeros((n_hours, grid[5] * grid[2]))
        np.add.at(dense, (fp.hours_back, fp.cells), fp.values)
        feet.append(ratio * dense.reshape(n_hours, grid[5], grid[2]))
    feet = np.array(feet)
    mixed = meta["mixed_from"]
    return {"hourly": feet.sum(axis=(2, 3)), "field": feet.sum(axis=1),
            "field_mixed": feet[:, mixed:].sum(axis=1),
            "hourly_centroid": np.array([[centroid(f, ref["grid"]) for f in s] for s in feet])}


def centroid(field: np.ndarray, grid) -> np.ndarray:
    """Footprint-weighted mean (x, y) of a (ny, nx) field, m."""
    x0, dx, nx, y0, dy, ny = grid
    xc = x0 + (np.arange(int(nx)) + 0.5) * dx
    yc = y0 + (np.arange(int(ny)) + 0.5) * dy
    return np.array([(field.sum(axis=0) * xc).sum(), (field.sum(axis=1) * yc).sum()]) \
        / field.sum()


def agree(a, b, p=P_FALSE_ALARM):
    """(|mean a - mean b|, the largest distance Welch's t-test accepts at level p): the
    allowed distance is the combined standard error of the two means times Student's t
    quantile for Welch-Satterthwaite degrees of freedom."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    dof = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1))
    return abs(a.mean() - b.mean()), stats.t.ppf(1 - p / 2, dof) * math.sqrt(va + vb)


def overlap_distance(f, g) -> float:
    """Half the L1 distance of two fields normalised to unit sum: 0 same pattern, 1 disjoint."""
    return 0.5 * float(np.abs(f / f.sum() - g / g.sum()).sum())


def split_noise(fields) -> float:
    """Mean overlap distance between the means of the two halves of ``fields``, over all
    splits: the pattern noise of a mean of half the runs."""
    n = len(fields)
    distances = []
    for half in itertools.combinations(range(n), n // 2):
        if 0 not in half:
            continue  # each split once
        rest = [i for i in range(n) if i not in half]
        distances.append(overlap_distance(fields[list(half)].mean(0), fields[rest].mean(0)))
    return float(np.mean(distances))


# --- the reference itself -------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_reference_is_the_aligned_case(case):
    """STILT's particles stay below PBLH (PBLH on an internal level), its footprint
    density is cityflux's within 1 %, and its runs are independent (seeds differ)."""
    ref = reference(case)
    mixed = ref["meta"]["mixed_from"]
    assert ref["frac_above_h"][:, mixed:].mean() < 0.03
    assert abs(density_ratio(ref) - 1.0) < 0.01
    assert len(set(np.round(ref["hourly"].sum(axis=1), 8))) == len(ref["seeds"])


# --- agreement ------------------------------------------------------------------------


def hourly_velocity(hourly_centroid, first: int) -> np.ndarray:
    """(n_seeds, 2) least-squares speed (m/h) of the hourly centroids from hour ``first`` on."""
    hours = np.arange(first, hourly_centroid.shape[1])
    c = hourly_centroid[:, first:]
    h = hours - hours.mean()
    return np.einsum("k,skd->sd", h, c - c.mean(axis=1, keepdims=True)) / (h @ h)


def widths(fields, meta) -> np.ndarray:
    """(n_seeds, 2) standard deviation (m) of each field along and across the wind."""
    x0, dx, nx, y0, dy, ny = reference(meta["case"])["grid"]
    x, y = np.meshgrid(x0 + (np.arange(int(nx)) + 0.5) * dx, y0 + (np.arange(int(ny)) + 0.5) * dy)
    speed = math.hypot(meta["u"], meta["v"])
    along = (x * meta["u"] + y * meta["v"]) / speed
    across = (y * meta["u"] - x * meta["v"]) / speed
    out = []
    for f in fields:
        w = f / f.sum()
        out.append([math.sqrt((w * (a - (w * a).sum()) ** 2).sum()) for a in (along, across)])
    return np.array(out)


@pytest.mark.parametrize("case", CASES)
def test_totals_agree_once_the_layer_is_mixed(case):
    """The footprint total of the hours from ``mixed_from`` on (the layer mixed: the box-
    model regime, 8 h convective, 6 h stable) agrees within the seeds' spread."""
    ref, ours = reference(case), cityflux(case)
    mixed = ref["meta"]["mixed_from"]
    a, b = ours["hourly"][:, mixed:].sum(1), ref["hourly"][:, mixed:].sum(1)
    diff, allowed = agree(a, b)
    assert diff <= allowed, (case, a, b)


@pytest.mark.parametrize("case", CASES)
def test_centroids_move_alike_once_the_layer_is_mixed(case):
    """The hourly footprint centroids move upwind at the same speed in the mixed hours
    (each seed's least-squares speed, in x and y). Their offset, which STILT builds up
    before the layer is mixed, is the module docstring's."""
    ref, ours = reference(case), cityflux(case)
    mixed = ref["meta"]["mixed_from"]
    a = hourly_velocity(ours["hourly_centroid"], mixed)
    b = hourly_velocity(ref["hourly_centroid"], mixed)
    for axis in range(2):
        diff, allowed = agree(a[:, axis], b[:, axis])
        assert diff <= allowed, (case, axis, a[:, axis], b[:, axis])
    # and both move at the layer's mean wind, u (1 - 5 m / h) with the linear profile below
    # 10 m (0.4 % and 1.3 % below u; measured 0.2-0.7 % and 1.2-1.4 %): within 2 % of u
    wind = -3600.0 * np.array([ref["meta"]["u"], ref["meta"]["v"]])
    assert np.all(np.abs(a.mean(0) / wind - 1) < 0.02) and np.all(np.abs(b.mean(0) / wind - 1) < 0.02)


@pytest.mark.parametrize("case", CASES)
def test_footprints_have_the_same_shape_once_the_layer_is_mixed(case):
    """The mixed hours' footprint is as long (along the wind) and as wide (across it) in
    both models, within the seeds' spread."""
    ref, ours = reference(case), cityflux(case)
    a, b = widths(ours["field_mixed"], ref["meta"]), widths(ref["field_mixed"], ref["meta"])
    for axis in range(2):
        diff, allowed = agree(a[:, axis], b[:, axis])
        assert diff <= allowed, (case, ("along", "across")[axis], a[:, axis], b[:, axis])


#: Bound of the overlap distance of the two models' mean fields in units of its noise. Under
#: the null (two sets of 6 cityflux seeds, 60 draws from 36 seeds) the ratio is 1.01 +- 0.08
#: (convective) and 1.02 +- 0.22 (stable), at most 1.29 and 1.59; 2.0 is 4 standard
#: deviations above its mean in either case, and a systematic difference of 1.7 x the noise
#: fails.
PATTERN_BOUND = 2.0


@pytest.mark.parametrize("case", [
    "convective",
    pytest.param("stable", marks=pytest.mark.xfail(strict=True, reason=(
        "STILT's footprint lags cityflux's by 0.43 km along the wind (built up in the first "
        "hours, see the module docstring); the plume is one 2-km cell wide, so the shift "
        "moves 3.4 % of it between cells against 1.0 % of noise. Its length and width "
        "agree (test_footprints_have_the_same_shape_once_the_layer_is_mixed)."))),
])
def test_patterns_agree_once_the_layer_is_mixed(case):
    """The mixed hours' footprint fields overlap as well as each model's own seeds do.

    The overlap distance of the six-seed means (0: the same pattern) is compared with what
    noise alone gives it: if the distance between the means of two halves of one model's
    seeds is d (means of three runs), two models' six-seed means differ by
    sqrt(d_STILT^2 + d_cityflux^2) / 2."""
    ref, ours = reference(case), cityflux(case)
    d = overlap_distance(ours["field_mixed"].mean(0), ref["field_mixed"].mean(0))
    noise = 0.5 * math.hypot(split_noise(ref["field_mixed"]), split_noise(ours["field_mixed"]))
    assert d <= PATTERN_BOUND * noise, (case, d, noise)
