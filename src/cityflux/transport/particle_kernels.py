"""Numba kernels of the backward Lagrangian particle model (STILT class).

Arrays in, arrays out, SI units, no I/O; compile flags from :mod:`cityflux.jit`. The driver
that packs a :class:`cityflux.metfield.MetField`, releases particles at receptors and returns
:class:`cityflux.transport.footprints.Footprints` is :mod:`cityflux.transport.particles`,
which also explains the physics in words.

Model (one particle, backward in time: age a, time t = t_release - a)
--------------------------------------------------------------------
Position (x, y, z), z above ground. Turbulent velocities are kept normalised by their
standard deviations, n_i = u'_i / sigma_i, and follow first-order autoregressive
(Langevin) processes. For n_w = w'/sigma_w Thomson's (1987) well-mixed model for Gaussian
inhomogeneous turbulence, dw' = -w'/T_L dt + 1/2 dsigma_w^2/dz (1 + w'^2/sigma_w^2) dt +
(2 sigma_w^2/T_L)^(1/2) dW, becomes by Ito's rule (the form FLEXPART uses, Stohl et al. 2005)

    dn_w = -n_w / T_Lw dt + dsigma_w/dz dt + (2 / T_Lw)^(1/2) dW,   dz = (sigma_w n_w - W) dt

with dsigma_w/dz = (dsigma_w^2/dz) / (2 sigma_w) the drift term. For Gaussian turbulence
without mean vertical velocity the backward model is the forward model with the mean wind
reversed (Thomson 1987; Flesch, Wilson & Yee 1995), which is what x, y and z do here:
dx = (sigma_u n_u - U) dt. Perfect reflection (z -> -z, n_w -> -n_w) at the ground and, for
particles that start a step inside the boundary layer, at its top h (z -> 2h - z).

Inner (vertical) steps, :func:`inner_steps`: the splitting A-B-O-B-A of Leimkuhler &
Matthews (2013): half a step of motion with sigma_w at the start, half a drift kick, the
exact Ornstein-Uhlenbeck update n_w <- a n_w + (1 - a^2)^(1/2) xi with a = exp(-dt/T_Lw) at
the midpoint, the second half kick, half a step of motion with sigma_w at the midpoint. It
is second order in the drift, and exact for any T_L(z) where sigma_w is uniform, which
first-order (Euler) updates are not: near the ground, where Hanna's sigma_w changes fastest,
they pile particles up by 10-30 % at the same step (measured while building this model).

Outer steps: the boundary layer is read at the start (:func:`step_begin`); the vertical
motion takes n equal inner steps; then the horizontal velocities take one exact
Ornstein-Uhlenbeck update and the position moves with the mean wind at the step's middle
time and mean height plus sigma (n + n')/2 (trapezoidal rule; :func:`step_end`).

Step lengths (:func:`step_lengths`): inner = 0.1 T_Lw, outer = 0.5 min(T_Lu, T_Lv), both at
mid-layer (h/2), within [1 s, 60 s]; 60 s above the layer, where turbulence is homogeneous.
They do not depend on the particle's height within the layer (see there why). Outer steps
are cut so that none crosses a whole hour of age (footprints are binned by whole hours
back) or the end of the run.

Turbulence inside the boundary layer: Hanna (1982) profiles, :func:`hanna_profile`. Above
it: constant free-tropospheric values from ``settings``.

Random numbers: counter-based. Every particle has a 64-bit key from (seed, receptor key,
particle index) and its draw number n gives ``mix64(key + (n + 1) * GOLDEN)``, the SplitMix64
output function (Steele, Lea & Flood 2014) over a Weyl sequence, split into two 32-bit
uniforms (k + 1/2) / 2**32 and turned into normals by inversion (Wichura 1988, AS 241): a
particle's numbers do not depend on which thread runs it or in which order. Draws 0 and 1
give the initial velocities, draw 2 the release jitter; from draw 3 on, each inner step
takes one draw and each outer step one more, in order.

Footprint (STILT, Lin et al. 2003; Fasoli et al. 2018): an outer step contributes
``m_air sum_k(dt_k s_k / rho_k) / h_eff`` to the cell under the step's midpoint and to hour
back floor(a_start / 3600), divided by the number of particles: m_air = 0.02897 kg mol-1,
h_eff = 0.5 h (the surface-influence layer h_s), s_k the fraction of inner step k below h_s
(linear in z between the step's ends and midpoint), rho_k = rho_s exp(-z_k / H_rho) the air
density at its middle height (H_rho = R_d T_s / g). Units: kg mol-1 s / (m kg m-3) =
m2 s mol-1 = (mol/mol) per (mol m-2 s-1) = ppm per (umol m-2 s-1). Hyper near field:
h_eff = min(h_s, z_r + sigma_z) with sigma_z^2 = 2 sigma_w^2 T_Lw [a - T_Lw (1 -
exp(-a / T_Lw))] the Taylor (1921) spread at age a with sigma_w and T_Lw of the layer at
mid-height where the particle is, z_r its release height (as STILT's ``hnf_plume``, which
takes the particle's local values; near the ground those are tiny - T_L -> 0 - and would
keep the correction alive for hours while the particles themselves mix through the layer
in minutes). Particles above h_s still do not count, so the correction is continuous
where the plume reaches h_s.

Contributions are summed in 64-bit fixed point (units of 2**-50) into one grid per chunk of
particles; integer sums do not depend on order, so footprints are bit-identical on any
number of threads. With h_eff >= ``S_MIN_HEFF`` (1 m) a cell-hour cannot exceed about
3600 m_air / (1 m x 0.5 kg m-3) ~ 210 < 2**13, far from overflow.

Speed (:func:`_run_chunk`): a thread follows two particles at a time and advances their
inner steps phase by phase in one loop, so that the core overlaps their chains of dependent
logarithms, exponentials and square roots; what depends only on the column (1/h, -L/h,
floors, the velocity memory of uniform turbulence) is worked out once per outer step
(:func:`column`); the pieces of a step are inlined into that loop (``inline_jit``). A
particle's arithmetic is the same wherever it runs, so its numbers are too.

Symbols and arrays
------------------
wind : ndarray (nt, ny, nx, nz, 3)
    u, v, w (m s-1) on the met grid; the three components of two neighbouring levels are
    adjacent in memory.
zlev : ndarray (nz,)
    Heights of the wind levels above ground, m, increasing. Winds are held below the lowest
    and above the highest level.
surf : ndarray (nt, ny, nx, N_SURF)
    ``SF_H`` boundary-layer height (m), ``SF_USTAR`` friction velocity (m s-1), ``SF_INV_L``
    inverse Obukhov length (m-1; interpolated instead of L, which passes through infinity),
    ``SF_RHO`` surface air density (kg m-3), ``SF_INV_HRHO`` inverse density scale height
    g / (R_d T_s) (m-1).
met_t : ndarray (nt,)
    Times of the met fields, s, increasing. Held before the first and after the last.
met_axes : ndarray (4,)
    x of the first met column, spacing along x, y of the first row, spacing along y, m.
    Held at the edge values outside the met grid. (The kernels take ``wind`` and ``surf``
    flat, see :func:`flat_met`.)
grid : ndarray (4,)
    Footprint grid: x of its west edge, cell width, y of its south edge, cell height, m;
    cell c = iy * nx + ix.
settings : ndarray (N_SETTINGS,)
    Numeric settings, indexed by the ``S_*`` constants.

References
----------
Fasoli, B., Lin, J. C., Bowling, D. R., Mitchell, L., Mendoza, D. (2018). Simulating
atmospheric tracer concentrations for spatially distributed receptors: updates to the
Stochastic Time-Inverted Lagrangian Transport model's R interface (STILT-R version 2).
Geosci. Model Dev. 11, 2813-2824.
Leimkuhler, B., Matthews, C. (2013). Rational construction of stochastic numerical methods
for molecular sampling. Appl. Math. Res. Express 2013, 34-56.
Wichura, M. J. (1988). Algorithm AS 241: the percentage points of the normal distribution.
Appl. Statist. 37, 477-484.
Flesch, T. K., Wilson, J. D., Yee, E. (1995). Backward-time Lagrangian stochastic dispersion
models and their application to estimate gaseous emissions. J. Appl. Meteorol. 34, 1320-1332.
Hanna, S. R. (1982). Applications in air pollution modeling. In Nieuwstadt & van Dop (eds.),
Atmospheric Turbulence and Air Pollution Modelling, Reidel, 275-310.
Lin, J. C., Gerbig, C., Wofsy, S. C., et al. (2003). A near-field tool for simulating the
upstream influence of atmospheric observations: the Stochastic Time-Inverted Lagrangian
Transport (STILT) model. J. Geophys. Res. 108(D16), 4493.
Steele, G. L., Lea, D., Flood, C. H. (2014). Fast splittable pseudorandom number generators.
OOPSLA 2014, 453-472.
Stohl, A., Forster, C., Frank, A., Seibert, P., Wotawa, G. (2005). Technical note: The
Lagrangian particle dispersion model FLEXPART version 6.2. Atmos. Chem. Phys. 5, 2461-2474.
Taylor, G. I. (1921). Diffusion by continuous movements. Proc. London Math. Soc. 20, 196-212.
Thomson, D. J. (1987). Criteria for the selection of stochastic models of particle
trajectories in turbulent flows. J. Fluid Mech. 180, 529-556.
"""

import math

import numpy as np
from numba import prange

from cityflux.jit import inline_jit, jit, parallel_jit
from cityflux.units import GAS_CONSTANT, MOLAR_MASS_AIR

#: Indices of the surface (2-D) fields in ``surf``.
SF_H, SF_USTAR, SF_INV_L, SF_RHO, SF_INV_HRHO = 0, 1, 2, 3, 4
N_SURF = 5

#: Indices into ``settings``.
S_STEP_FRACTION = 0     # dt = f min(T_L)
S_DT_MIN = 1            # s
S_DT_MAX = 2            # s
S_CORIOLIS = 3          # Coriolis parameter f of Hanna's neutral profiles, s-1
S_FREE_SIGMA_UV = 4     # horizontal sigma above the boundary layer, m s-1
S_FREE_TL_UV = 5        # its Lagrangian time scale, s
S_FREE_SIGMA_W = 6      # vertical sigma above the boundary layer, m s-1
S_FREE_TL_W = 7         # s
S_MIN_SIGMA_UV = 8      # floors inside the boundary layer, m s-1
S_MIN_SIGMA_W = 9
S_MIN_TL_UV = 10        # floors of the Lagrangian time scales, s
S_MIN_TL_W = 11
S_MIN_H = 12            # boundary-layer heights below this are raised to it, m
S_MIN_USTAR = 13        # friction velocities below this are raised to it, m s-1
S_TURBULENCE = 14       # TURB_HANNA or TURB_HOMOGENEOUS
S_HOM_SIGMA_UV = 15     # homogeneous turbulence (tests): sigma_u = sigma_v, m s-1
S_HOM_SIGMA_W = 16      # m s-1
S_HOM_TL = 17           # one Lagrangian time scale for all three components, s
S_DRIFT = 18            # 1: Thomson's drift term; 0: left out (to show the test can fail)
S_VERTICAL_WIND = 19    # 1: advect with the mean vertical wind
S_TOP = 20              # particles above this height leave the domain through the top, m
S_HNF = 21              # 1: hyper-near-field correction
S_STOP_AT_EXIT = 22     # 1: a particle is no longer followed once it leaves the grid
S_MIN_HEFF = 23         # lower bound of the dilution depth h_eff, m
S_HORIZONTAL_FRACTION = 24  # outer step: this fraction of the horizontal T_L at mid-layer
N_SETTINGS = 25

TURB_HANNA = 0
TURB_HOMOGENEOUS = 1

#: Columns of the exit array.
EX_AGE, EX_X, EX_Y, EX_Z, EX_EDGE = 0, 1, 2, 3, 4
N_EXIT = 5
#: Edge codes (EX_EDGE); EDGE_NONE: still inside at the end of the run.
EDGE_NONE, EDGE_NORTH, EDGE_EAST, EDGE_SOUTH, EDGE_WEST, EDGE_TOP = 0, 1, 2, 3, 4, 5

#: Columns of the per-particle, per-hour statistics (for the age-dependent smoothing).
ST_FOOT, ST_FOOT_SPEED = 0, 1
N_STAT = 2

KARMAN = 0.4
GRAVITY = 9.80665
#: Specific gas constant of dry air, J kg-1 K-1.
R_DRY = GAS_CONSTANT / MOLAR_MASS_AIR
#: Molar mass of air in the STILT footprint formula, kg mol-1.
M_AIR = MOLAR_MASS_AIR
#: One unit of the fixed-point footprint sums.
FIXED_SCALE = float(2 ** 50)

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_MASK32 = np.uint64(0xFFFFFFFF)
_S27 = np.uint64(27)
_S30 = np.uint64(30)
_S31 = np.uint64(31)
_S32 = np.uint64(32)
_ONE = np.uint64(1)
_INV_2_32 = 1.0 / 4294967296.0

# Wichura (1988), Algorithm AS 241, PPND16 coefficients (lowest order first).
_AS241_A = np.array([3.3871328727963666080e0, 1.3314166789178437745e+2,
                     1.9715909503065514427e+3, 1.3731693765509461125e+4,
                     4.5921953931549871457e+4, 6.7265770927008700853e+4,
                     3.3430575583588128105e+4, 2.5090809287301226727e+3])
_AS241_B = np.array([1.0, 4.2313330701600911252e+1, 6.8718700749205790830e+2,
                     5.3941960214247511077e+3, 2.1213794301586595867e+4,
                     3.9307895800092710610e+4, 2.8729085735721942674e+4,
                     5.2264952788528545610e+3])
_AS241_C = np.array([1.42343711074968357734e0, 4.63033784615654529590e0,
                     5.76949722146069140550e0, 3.64784832476320460504e0,
                     1.27045825245236838258e0, 2.41780725177450611770e-1,
                     2.27238449892691845833e-2, 7.74545014278341407640e-4])
_AS241_D = np.array([1.0, 2.05319162663775882187e0, 1.67638483018380384940e0,
                     6.89767334985100004550e-1, 1.48103976427480074590e-1,
                     1.51986665636164571966e-2, 5.47593808499534494600e-4,
                     1.05075007164441684324e-9])
_AS241_E = np.array([6.65790464350110377720e0, 5.46378491116411436990e0,
                     1.78482653991729133580e0, 2.96560571828504891230e-1,
                     2.65321895265761230930e-2, 1.24266094738807843860e-3,
                     2.71155556874348757815e-5, 2.01033439929228813265e-7])
_AS241_F = np.array([1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1,
                     1.48753612908506148525e-2, 7.86869131145613259100e-4,
                     1.84631831751005468180e-5, 1.42151175831644588870e-7,
                     2.04426310338993978564e-15])

#: First draw number of the steps (draws 0-2 are used at the release).
FIRST_STEP_DRAW = 3

# Hanna's convective sigma_w pieces meet here (see hanna_profile).
_ZETA_SURFACE = 0.03
# Where 0.763 zeta^0.175 = 0.722 (1 - zeta)^0.207.
_ZETA_CROSS = 0.3992041488440575
# Hanna's convective sigma_w / w* and 0.15 (1 - exp(-5 zeta)) at zeta = 1/2.
_CONV_G_MID = 0.722 * 0.5 ** 0.207
_CONV_TLW_MID = 0.15 * (1.0 - math.exp(-2.5))
_SQRT_HALF = math.sqrt(0.5)
# ... and at zeta = 0.03 (the second piece, see _convective_sigma_w)
_CONV_G_SURFACE = 0.763 * 0.03 ** 0.175
_HALF_POW_08 = 0.5 ** 0.8


# --- arithmetic -----------------------------------------------------------------------


@jit
def fdiv(a, b):
    """a / b with IEEE semantics (inf or nan for b = 0, as numpy).

    The shared jit flags keep numba's Python error model, under which every ``/`` checks
    for a zero divisor and may raise; in the hot loop those checks stop LLVM from
    optimising the surrounding code (measured: the met interpolation runs 2x slower).
    Callers guarantee non-zero divisors (floors on sigma, T_L, h, u*).
    """
    return np.true_divide(a, b)


# --- random numbers -------------------------------------------------------------------


@jit
def mix64(z):
    """SplitMix64 output function: a bijective avalanche of a uint64."""
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@jit
def particle_key(seed, receptor_key, particle):
    """64-bit key of one particle's stream from (seed, receptor key, particle index)."""
    k = mix64(np.uint64(seed) + GOLDEN)
    k = mix64(k ^ np.uint64(receptor_key))
    return mix64(k + (np.uint64(particle) + _ONE) * GOLDEN)


@jit
def draw(key, n):
    """Draw number n (>= 0) of the stream ``key``: a uint64."""
    return mix64(np.uint64(key) + (np.uint64(n) + _ONE) * GOLDEN)


@jit
def uniform_pair(key, n):
    """Two uniforms in (0, 1) from the two 32-bit halves of draw n: (k + 1/2) / 2**32."""
    r = draw(key, n)
    u1 = (float(r >> _S32) + 0.5) * _INV_2_32
    u2 = (float(r & _MASK32) + 0.5) * _INV_2_32
    return u1, u2


@jit
def _poly(c, x):
    r = c[7]
    for i in range(6, -1, -1):
        r = r * x + c[i]
    return r


@jit
def std_normal(p):
    """The standard normal quantile of p in (0, 1): Wichura (1988) AS 241 (PPND16),
    relative error about 1e-16; no transcendental function for |p - 1/2| <= 0.425."""
    q = p - 0.5
    if abs(q) <= 0.425:
        r = 0.180625 - q * q
        return q * fdiv(_poly(_AS241_A, r), _poly(_AS241_B, r))
    r = p if q < 0.0 else 1.0 - p
    r = math.sqrt(-math.log(r))
    if r <= 5.0:
        r -= 1.6
        v = fdiv(_poly(_AS241_C, r), _poly(_AS241_D, r))
    else:
        r -= 5.0
        v = fdiv(_poly(_AS241_E, r), _poly(_AS241_F, r))
    return -v if q < 0.0 else v


@jit
def normals3(key, n):
    """Three independent N(0, 1) numbers from draws n (both halves) and n + 1 (upper half),
    by inversion of the uniforms."""
    u1, u2 = uniform_pair(key, n)
    u3, _ = uniform_pair(key, n + 1)
    return std_normal(u1), std_normal(u2), std_normal(u3)


@jit
def receptor_key(values):
    """A 64-bit key from the bit patterns of a receptor's defining values (float64)."""
    bits = values.view(np.uint64)
    k = np.uint64(0x243F6A8885A308D3)
    for i in range(bits.shape[0]):
        k = mix64(k ^ bits[i]) + GOLDEN
    return mix64(k)


# --- meteorology ----------------------------------------------------------------------


@jit
def _axis_weights(f, n):
    """Neighbours i0, i1 and weight of i1 for fractional index f on an axis of n points."""
    if n == 1:
        return 0, 0, 0.0
    if f <= 0.0:
        return 0, 1, 0.0
    if f >= n - 1.0:
        return n - 2, n - 1, 1.0
    i0 = int(f)
    return i0, i0 + 1, f - i0


@jit
def _cursor(axis, value, k):
    """Index k with axis[k] <= value < axis[k+1] (clipped to 0..n-2), from a starting
    guess k, and the weight of k+1 (clipped to [0, 1])."""
    n = axis.shape[0]
    if n == 1:
        return 0, 0.0
    if k > n - 2:
        k = n - 2
    if k < 0:
        k = 0
    while k > 0 and value < axis[k]:
        k -= 1
    while k < n - 2 and value >= axis[k + 1]:
        k += 1
    w = fdiv(value - axis[k], axis[k + 1] - axis[k])
    return k, min(max(w, 0.0), 1.0)


@jit
def flat_met(wind, surf):
    """Flat views of ``wind`` and ``surf`` (C-contiguous) and dims (nt, ny, nx, nz)."""
    if wind.shape[4] != 3 or surf.shape[3] != N_SURF or wind.shape[0] != surf.shape[0] \
            or wind.shape[1] != surf.shape[1] or wind.shape[2] != surf.shape[2]:
        raise ValueError("wind must be (nt, ny, nx, nz, 3) and surf (nt, ny, nx, N_SURF)")
    dims = (wind.shape[0], wind.shape[1], wind.shape[2], wind.shape[3])
    return wind.reshape(wind.size), surf.reshape(surf.size), dims


@jit
def _time_weights(met_t, dims, t, kt):
    """Time neighbours kt (from a starting guess), kt1 and the weight wt of kt1."""
    kt, wt = _cursor(met_t, t, kt)
    return kt, min(kt + 1, dims[0] - 1), wt


@jit
def _horizontal_weights(met_t, met_axes, dims, t, x, y, kt):
    """Time and horizontal neighbours and weights: kt, kt1, wt, i0, i1, wx, j0, j1, wy."""
    _, ny, nx, _ = dims
    kt, kt1, wt = _time_weights(met_t, dims, t, kt)
    i0, i1, wx = _axis_weights(fdiv(x - met_axes[0], met_axes[1]), nx)
    j0, j1, wy = _axis_weights(fdiv(y - met_axes[2], met_axes[3]), ny)
    return kt, kt1, wt, i0, i1, wx, j0, j1, wy


@inline_jit
def _surface_weighted(sf, dims, kt, kt1, wt, i0, i1, wx, j0, j1, wy):
    """The 2-D fields from their neighbours and weights: h, ustar, inv_l, rho_s, inv_hrho."""
    _, ny, nx, _ = dims
    h = 0.0
    us = 0.0
    il = 0.0
    rho = 0.0
    ihr = 0.0
    plane = ny * nx
    for a in range(2):
        slab = (kt if a == 0 else kt1) * plane
        fa = (1.0 - wt) if a == 0 else wt
        for b in range(2):
            row = slab + (j0 if b == 0 else j1) * nx
            fb = fa * ((1.0 - wy) if b == 0 else wy)
            for c in range(2):
                f = fb * ((1.0 - wx) if c == 0 else wx)
                so = (row + (i0 if c == 0 else i1)) * N_SURF
                h += f * sf[so + SF_H]
                us += f * sf[so + SF_USTAR]
                il += f * sf[so + SF_INV_L]
                rho += f * sf[so + SF_RHO]
                ihr += f * sf[so + SF_INV_HRHO]
    return h, us, il, rho, ihr


@inline_jit
def _wind_weighted(wf, zlev, dims, kt, kt1, wt, i0, i1, wx, j0, j1, wy, z, kz):
    """The wind at height z from its time and horizontal neighbours and weights (linear in
    z, held below the lowest and above the highest level): u, v, w, kz."""
    _, ny, nx, nz = dims
    kz, wz = _cursor(zlev, z, kz)
    dz = 3 if nz > 1 else 0
    u = 0.0
    v = 0.0
    w = 0.0
    plane = ny * nx
    for a in range(2):
        slab = (kt if a == 0 else kt1) * plane
        fa = (1.0 - wt) if a == 0 else wt
        for b in range(2):
            row = slab + (j0 if b == 0 else j1) * nx
            fb = fa * ((1.0 - wy) if b == 0 else wy)
            for c in range(2):
                f = fb * ((1.0 - wx) if c == 0 else wx)
                o = ((row + (i0 if c == 0 else i1)) * nz + kz) * 3
                f1 = f * wz
                f0 = f - f1
                u += f0 * wf[o] + f1 * wf[o + dz]
                v += f0 * wf[o + 1] + f1 * wf[o + dz + 1]
                w += f0 * wf[o + 2] + f1 * wf[o + dz + 2]
    return u, v, w, kz


@jit
def surface_at(sf, met_t, met_axes, dims, t, x, y, kt):
    """The 2-D fields at (t, x, y), bilinear in x and y and linear in t.

    Returns
    -------
    h, ustar, inv_l, rho_s, inv_hrho, kt
    """
    kt, kt1, wt, i0, i1, wx, j0, j1, wy = _horizontal_weights(met_t, met_axes, dims, t, x, y,
                                                              kt)
    h, us, il, rho, ihr = _surface_weighted(sf, dims, kt, kt1, wt, i0, i1, wx, j0, j1, wy)
    return h, us, il, rho, ihr, kt


@jit
def wind_at(wf, zlev, met_t, met_axes, dims, t, x, y, z, kt, kz):
    """The wind at (t, x, y, z): linear in time, bilinear in x and y, linear in z (held
    below the lowest and above the highest level).

    Returns
    -------
    u, v, w, kt, kz
    """
    kt, kt1, wt, i0, i1, wx, j0, j1, wy = _horizontal_weights(met_t, met_axes, dims, t, x, y,
                                                              kt)
    u, v, w, kz = _wind_weighted(wf, zlev, dims, kt, kt1, wt, i0, i1, wx, j0, j1, wy, z, kz)
    return u, v, w, kt, kz


@jit
def met_at(wf, sf, zlev, met_t, met_axes, dims, t, x, y, z, kt, kz):
    """Mean wind and surface fields at (t, x, y, z): :func:`wind_at` and :func:`surface_at`.

    ``wf`` and ``sf`` are the flat (C-order) ``wind`` and ``surf`` arrays, ``dims`` =
    (nt, ny, nx, nz). ``kt`` and ``kz`` are starting guesses of the time and level indices
    (particles move little between steps); the updated ones are returned.

    Returns
    -------
    u, v, w, h, ustar, inv_l, rho_s, inv_hrho, kt, kz
    """
    u, v, w, _, kz = wind_at(wf, zlev, met_t, met_axes, dims, t, x, y, z, kt, kz)
    h, us, il, rho, ihr, kt = surface_at(sf, met_t, met_axes, dims, t, x, y, kt)
    return u, v, w, h, us, il, rho, ihr, kt, kz


# --- turbulence -----------------------------------------------------------------------


@jit
def _convective_sigma_w(zeta, a):
    """Hanna's convective sigma_w / w* and its derivative d/dzeta for zeta >= 0.03.

    g = min(0.96 (3 zeta + a)^(1/3), 0.763 zeta^0.175, 0.722 (1 - zeta)^0.207), at least
    0.37; a = -L/h > 0. (Hanna: the first below zeta = 0.03, the min of the first two up
    to 0.4, the third up to 0.96 and 0.37 above; the min of all three differs from that
    by less than 0.001 w* and is continuous.) For zeta >= 0.03 the first always exceeds
    the second (0.96 (3 zeta)^(1/3) > 0.763 zeta^0.175 for zeta > 0.0233), and the second
    and third cross at zeta = 0.39920, so one power suffices.
    """
    if zeta < _ZETA_CROSS:
        s = 0.763 * math.exp(0.175 * math.log(zeta))
        d = 0.175 * fdiv(s, zeta)
    else:
        one_minus = 1.0 - zeta
        if one_minus <= 0.0:
            return 0.37, 0.0
        s = 0.722 * math.exp(0.207 * math.log(one_minus))
        d = -0.207 * fdiv(s, one_minus)
    if s < 0.37:
        return 0.37, 0.0
    return s, d


@jit
def convective_scales(h, ustar, inv_l):
    """w* = u* (-h/(kappa L))^(1/3) and Hanna's sigma_u = sigma_v = u* (12 - 0.5 h/L)^(1/3)
    (zero for h/L > -1, where they are not used)."""
    hl = h * inv_l
    if hl > -1.0:
        return 0.0, 0.0
    return ustar * (-hl / KARMAN) ** (1.0 / 3.0), ustar * (12.0 - 0.5 * hl) ** (1.0 / 3.0)


@jit
def hanna_profile(z, h, ustar, inv_l, wstar, su_conv, settings):
    """Turbulence inside the boundary layer after Hanna (1982).

    Regimes by h/L: neutral for |h/L| < 1, convective for h/L <= -1, stable for h/L >= 1
    (as FLEXPART). zeta = z/h, f the Coriolis parameter, w* and the convective sigma_u
    from :func:`convective_scales`.

    Neutral: sigma_u = 2.0 u* exp(-3 f z/u*), sigma_v = sigma_w = 1.3 u* exp(-2 f z/u*),
    T_L = 0.5 z / sigma_w / (1 + 15 f z/u*) for all three.

    Convective: sigma_u = sigma_v = u* (12 - 0.5 h/L)^(1/3), T_Lu = T_Lv = 0.15 h/sigma_u;
    sigma_w / w* = 0.96 (3 zeta - L/h)^(1/3) below zeta = 0.03, above it
    max(0.37, min(0.96 (3 zeta - L/h)^(1/3), 0.763 zeta^0.175, 0.722 (1 - zeta)^0.207)).
    Hanna's profile jumps down at zeta = 0.03, which would break the well-mixed condition
    (a step in sigma_w is an infinite drift), so below 0.03 a linear ramp
    -J zeta / 0.03 (J the jump) joins the surface value continuously to the one above.
    T_Lw = 0.15 h/sigma_w (1 - exp(-5 zeta)) for zeta >= 0.1; below, 0.59 z/sigma_w where
    z > -L and 0.1 z / (sigma_w (0.55 + 0.38 z/|L|)) where z <= -L.

    Stable: sigma_u = 2 u* (1 - zeta), sigma_v = sigma_w = 1.3 u* (1 - zeta),
    T_Lu = 0.15 h/sigma_u zeta^0.5, T_Lv = 0.07 h/sigma_v zeta^0.5,
    T_Lw = 0.1 h/sigma_w zeta^0.8 (sigma after its floor).

    Floors: sigma_u, sigma_v >= S_MIN_SIGMA_UV; sigma_w >= S_MIN_SIGMA_W (its derivative
    is zero where the floor holds); T_L >= S_MIN_TL_UV, S_MIN_TL_W. Hanna's T_L tends to
    zero at the ground; the floors keep the velocity memory of the lowest metres finite,
    as FLEXPART's additive 10 s and 30 s do.

    Returns
    -------
    sigma_u, sigma_v, sigma_w : float, m s-1
    dsigma_w_dz : float, s-1
    tl_u, tl_v, tl_w : float, s
    """
    sw, dsw, itw = hanna_vertical(z, h, ustar, inv_l, wstar, True, settings)
    su, sv, tu, tv = hanna_horizontal(z, h, ustar, inv_l, su_conv, settings)
    return su, sv, sw, dsw, tu, tv, fdiv(1.0, itw)


#: Kinds of vertical turbulence of a column: uniform (homogeneous mode, or above the
#: boundary layer) or one of Hanna's regimes (:func:`hanna_profile`).
V_UNIFORM, V_NEUTRAL, V_CONVECTIVE, V_STABLE = 0.0, 1.0, 2.0, 3.0

#: What the vertical turbulence of a column needs, worked out once per outer step
#: (:func:`column`): a tuple of floats indexed by these. The kind (``V_*``), h, 1/h, u*,
#: 1/u*, 1/L, w*, -L/h, the jump of Hanna's convective sigma_w at zeta = 0.03 (see
#: :func:`hanna_profile`), the floors of sigma_w and of 1/T_Lw, f and the drift switch;
#: then what an outer step adds (:func:`step_begin`): the mean vertical wind, the inner
#: step and its half, sigma_w, exp(-dt/T_Lw) and (1 - exp(-2 dt/T_Lw))^(1/2) of uniform
#: turbulence, h/2, 1/rho_s, 1/H_rho, Hanna's convective sigma_u, 1.0 inside the layer (else
#: 0.0), and sigma_w and T_Lw at mid-layer.
(C_KIND, C_H, C_INV_H, C_USTAR, C_INV_USTAR, C_INV_L, C_WSTAR, C_A, C_JUMP, C_MIN_SW,
 C_ITW_MAX, C_CORIOLIS, C_DRIFT, C_W, C_DDT, C_HALF, C_SW_U, C_AW_U, C_BW_U, C_H_S,
 C_INV_RHO_S, C_INV_HRHO, C_SU_CONV, C_INSIDE, C_SW_MID, C_TW_MID) = range(26)
N_COLUMN = 26
#: A placeholder column (the slot of a chunk before its first outer step).
_NO_COLUMN = (0.0,) * N_COLUMN


@jit
def column(kind, h, ustar, inv_l, wstar, settings, w, ddt, sw_u, aw_u, bw_u, rho_s, inv_hrho,
           su_conv, inside, sw_mid, tw_mid):
    """The column constants (``C_*``) of vertical turbulence of kind ``kind``."""
    hl = h * inv_l
    a = fdiv(-1.0, hl)  # -L/h
    jump = 0.0
    if kind == V_CONVECTIVE:
        jump = 0.96 * (3.0 * _ZETA_SURFACE + a) ** (1.0 / 3.0) - _CONV_G_SURFACE
    return (kind, h, fdiv(1.0, h), ustar, fdiv(1.0, ustar), inv_l, wstar, a, jump,
            settings[S_MIN_SIGMA_W], fdiv(1.0, settings[S_MIN_TL_W]), settings[S_CORIOLIS],
            settings[S_DRIFT], w, ddt, 0.5 * ddt, sw_u, aw_u, bw_u, 0.5 * h,
            fdiv(1.0, rho_s), inv_hrho, su_conv, 1.0 if inside else 0.0, sw_mid, tw_mid)


@inline_jit
def profile_w(col, z, with_tl):
    """sigma_w (m s-1), dsigma_w/dz (s-1) and, if ``with_tl``, 1/T_Lw (s-1; else 0) of
    :func:`hanna_profile` at height z of a column (:func:`column`) of one of Hanna's kinds.

    The inverse time scale is what the velocity update needs (exp(-dt/T_Lw)); written as
    sigma_w times a factor of the height alone, its divisions run in parallel with
    sigma_w's logarithm and exponential instead of after them.
    """
    kind = col[C_KIND]
    h = col[C_H]
    inv_h = col[C_INV_H]
    min_sw = col[C_MIN_SW]
    zc = min(max(z, 0.0), h)
    zeta = zc * inv_h
    itw = 0.0
    if kind == V_NEUTRAL:
        ustar = col[C_USTAR]
        f = col[C_CORIOLIS]
        fz = f * zc * col[C_INV_USTAR]
        sw = 1.3 * ustar * math.exp(-2.0 * fz)
        dsw = -2.0 * f * fdiv(sw, ustar)
        if with_tl:  # T_L = 0.5 z / (sigma_w (1 + 15 f z/u*))
            itw = sw * fdiv(2.0 * (1.0 + 15.0 * fz), zc)
    elif kind == V_CONVECTIVE:
        a = col[C_A]
        wstar = col[C_WSTAR]
        if zeta >= _ZETA_SURFACE:
            g, dg = _convective_sigma_w(zeta, a)
        else:
            jump = col[C_JUMP]
            b = 3.0 * zeta + a
            s1 = 0.96 * b ** (1.0 / 3.0)
            g = s1 - jump * zeta * (1.0 / _ZETA_SURFACE)
            dg = s1 * fdiv(1.0, b) - jump * (1.0 / _ZETA_SURFACE)
        sw = wstar * g
        dsw = wstar * dg * inv_h
        if with_tl:
            if zeta >= 0.1:    # T_L = 0.15 h / sigma_w (1 - exp(-5 zeta))
                itw = sw * fdiv(1.0, 0.15 * h * (1.0 - math.exp(-5.0 * zeta)))
            elif zc * col[C_INV_L] < -1.0:  # z > -L: T_L = 0.59 z / sigma_w
                itw = sw * fdiv(1.0, 0.59 * zc)
            else:              # T_L = 0.1 z / (sigma_w (0.55 + 0.38 z/|L|))
                itw = sw * fdiv(0.55 - 0.38 * zc * col[C_INV_L], 0.1 * zc)
    else:
        ustar = col[C_USTAR]
        sw = 1.3 * ustar * (1.0 - zeta)
        dsw = -1.3 * ustar * inv_h
        if sw < min_sw:
            sw = min_sw
            dsw = 0.0
        if with_tl:  # T_L = 0.1 h zeta^0.8 / sigma_w
            itw = sw * (10.0 * inv_h) * math.exp(-0.8 * math.log(zeta)) if zeta > 0.0 \
                else math.inf
    if sw < min_sw:
        sw = min_sw
        dsw = 0.0
    if with_tl:
        itw = min(itw, col[C_ITW_MAX])
    return sw, dsw, itw


@jit
def hanna_kind(h, inv_l):
    """The regime of Hanna's profiles by h/L (:func:`hanna_profile`)."""
    hl = h * inv_l
    if abs(hl) < 1.0:
        return V_NEUTRAL
    return V_CONVECTIVE if hl < 0.0 else V_STABLE


@jit
def hanna_vertical(z, h, ustar, inv_l, wstar, with_tl, settings):
    """sigma_w (m s-1), dsigma_w/dz (s-1) and, if ``with_tl``, 1/T_Lw (s-1; else 0) of
    :func:`hanna_profile` (:func:`profile_w` of the column)."""
    col = column(hanna_kind(h, inv_l), h, ustar, inv_l, wstar, settings, 0.0, 0.0, 0.0, 0.0,
                 0.0, 1.0, 0.0, 0.0, True, 0.0, 0.0)
    return profile_w(col, z, with_tl)


@jit
def hanna_horizontal(z, h, ustar, inv_l, su_conv, settings):
    """sigma_u, sigma_v (m s-1), T_Lu, T_Lv (s) of :func:`hanna_profile`."""
    min_suv = settings[S_MIN_SIGMA_UV]
    zc = min(max(z, 0.0), h)
    zeta = zc * fdiv(1.0, h)
    hl = h * inv_l
    if abs(hl) < 1.0:
        f = settings[S_CORIOLIS]
        fz = f * zc * fdiv(1.0, ustar)
        su = 2.0 * ustar * math.exp(-3.0 * fz)
        sv = 1.3 * ustar * math.exp(-2.0 * fz)
        tu = fdiv(0.5 * zc, sv * (1.0 + 15.0 * fz))
        tv = tu
    elif hl < 0.0:
        su = su_conv
        sv = su
        tu = fdiv(0.15 * h, su)
        tv = tu
    else:
        one_minus = 1.0 - zeta
        su = max(2.0 * ustar * one_minus, min_suv)
        sv = max(1.3 * ustar * one_minus, min_suv)
        sq = math.sqrt(zeta)
        tu = fdiv(0.15 * h * sq, su)
        tv = fdiv(0.07 * h * sq, sv)
    su = max(su, min_suv)
    sv = max(sv, min_suv)
    tu = max(tu, settings[S_MIN_TL_UV])
    tv = max(tv, settings[S_MIN_TL_UV])
    return su, sv, tu, tv


@jit
def hanna_turbulence(z, h, ustar, inv_l, settings):
    """:func:`hanna_profile` with its column scales computed here (for tests and callers
    outside the step)."""
    wstar, su_conv = convective_scales(h, ustar, inv_l)
    return hanna_profile(z, h, ustar, inv_l, wstar, su_conv, settings)


@jit
def horizontal_turbulence(z, h, ustar, inv_l, su_conv, inside, settings):
    """sigma_u, sigma_v (m s-1), T_Lu, T_Lv (s) at height z: the ``S_HOM_*`` values in
    homogeneous mode, otherwise Hanna (1982) inside the boundary layer (``inside``) and the
    free-tropospheric values above it."""
    if settings[S_TURBULENCE] == TURB_HOMOGENEOUS:
        t = settings[S_HOM_TL]
        return settings[S_HOM_SIGMA_UV], settings[S_HOM_SIGMA_UV], t, t
    if inside:
        return hanna_horizontal(z, h, ustar, inv_l, su_conv, settings)
    return (settings[S_FREE_SIGMA_UV], settings[S_FREE_SIGMA_UV], settings[S_FREE_TL_UV],
            settings[S_FREE_TL_UV])


@jit
def step_lengths(h, ustar, inv_l, wstar, su_conv, inside, settings):
    """The outer (horizontal) step and the inner (vertical) step, s, and sigma_w (m s-1)
    and T_Lw (s) at mid-layer (for the near-field plume depth).

    Inside the boundary layer the inner step is f x T_Lw of Hanna's profiles at mid-layer
    (z = h/2), the outer step ``S_HORIZONTAL_FRACTION`` x min(T_Lu, T_Lv) there, both
    within [S_DT_MIN, S_DT_MAX] (the inner one at most the outer one). Neither depends on
    the particle's height within the layer: a step that shrinks towards the ground (as T_L
    does) makes particles pile up there (the scheme's invariant density becomes ~1/dt),
    while a step that is the same at all heights keeps a well-mixed layer well mixed for
    any T_L(z). Above the layer the turbulence is homogeneous and both are S_DT_MAX: the
    exact Ornstein-Uhlenbeck update keeps any step exact in the velocities (the
    trapezoidal displacement overestimates the diffusivity by 3 % at dt = 0.6 T_L).
    Homogeneous mode (tests): both f x S_HOM_TL.
    """
    dt_min = settings[S_DT_MIN]
    dt_max = settings[S_DT_MAX]
    if settings[S_TURBULENCE] == TURB_HOMOGENEOUS:
        dt = min(max(settings[S_STEP_FRACTION] * settings[S_HOM_TL], dt_min), dt_max)
        return dt, dt, settings[S_HOM_SIGMA_W], settings[S_HOM_TL]
    if not inside:
        return dt_max, dt_max, settings[S_FREE_SIGMA_W], settings[S_FREE_TL_W]
    f = settings[S_CORIOLIS]
    hl = h * inv_l
    zc = 0.5 * h
    if abs(hl) < 1.0:
        fz = f * zc * fdiv(1.0, ustar)
        sw = 1.3 * ustar * math.exp(-2.0 * fz)
        tl = fdiv(0.5 * zc, sw * (1.0 + 15.0 * fz))
        th = max(tl, settings[S_MIN_TL_UV])
        tw = max(tl, settings[S_MIN_TL_W])
    elif hl < 0.0:
        # Hanna's sigma_w at h/2 is its mid-layer piece 0.722 w* 0.5^0.207
        sw = wstar * _CONV_G_MID
        tw = max(fdiv(_CONV_TLW_MID * h, sw), settings[S_MIN_TL_W])
        th = max(fdiv(0.15 * h, su_conv), settings[S_MIN_TL_UV])
    else:
        min_suv = settings[S_MIN_SIGMA_UV]
        su = max(ustar, min_suv)           # 2 u* (1 - 1/2)
        sv = max(0.65 * ustar, min_suv)    # 1.3 u* (1 - 1/2)
        sw = max(0.65 * ustar, settings[S_MIN_SIGMA_W])
        tu = max(fdiv(0.15 * h * _SQRT_HALF, su), settings[S_MIN_TL_UV])
        tv = max(fdiv(0.07 * h * _SQRT_HALF, sv), settings[S_MIN_TL_UV])
        th = min(tu, tv)
        tw = max(fdiv(0.1 * h * _HALF_POW_08, sw), settings[S_MIN_TL_W])
    outer = min(max(settings[S_HORIZONTAL_FRACTION] * th, dt_min), dt_max)
    inner = min(max(settings[S_STEP_FRACTION] * tw, dt_min), outer)
    return outer, inner, max(sw, settings[S_MIN_SIGMA_W]), tw


@jit
def taylor_sigma(sigma, t_l, age):
    """Taylor (1921) spread sqrt(2 sigma^2 T_L [age - T_L (1 - exp(-age/T_L))]), m."""
    if age <= 0.0:
        return 0.0
    r = fdiv(age, t_l)
    if r < 1e-3:  # r - (1 - exp(-r)) = r^2/2 - r^3/6 + ..., without the cancellation
        g = r * r * (0.5 - r / 6.0)
    else:
        g = r + math.expm1(-r)
    return sigma * t_l * math.sqrt(2.0 * g)


# --- one outer step -------------------------------------------------------------------
#
# An outer step of a particle is :func:`step_begin` (the column at the particle, the step
# lengths), its inner steps (:func:`inner_steps`, or two particles' at once in
# :func:`inner_steps_pair`) and :func:`step_end` (the horizontal motion). These pieces are
# inlined into the one loop that calls them (:func:`_run_chunk`); together they do exactly
# the arithmetic of the model in the module docstring, in its order, so a particle's
# numbers do not depend on how its steps are scheduled.


@jit
def fraction_below(z0, z1, level):
    """Fraction of the straight path z0 -> z1 below ``level``."""
    lo = min(z0, z1)
    hi = max(z0, z1)
    if hi <= level:
        return 1.0
    if lo >= level:
        return 0.0
    return fdiv(level - lo, hi - lo)


#: 1/n for the small counts of inner steps per outer step: the correctly rounded quotients
#: (so the same numbers as dividing), without a division's latency.
_INVERSES = 1.0 / np.arange(1, 129, dtype=np.float64)


@jit
def _inverse(n):
    """1.0 / n for an integer n >= 1, from a table where it can."""
    return _INVERSES[n - 1] if n <= _INVERSES.shape[0] else 1.0 / n


@jit
def _normal_central(p):
    """:func:`std_normal` for |p - 1/2| <= 0.425 (85 % of the draws), small enough to be
    inlined where it is called; the tails call std_normal."""
    q = p - 0.5
    r = 0.180625 - q * q
    return q * fdiv(_poly(_AS241_A, r), _poly(_AS241_B, r))


@inline_jit
def step_begin(x, y, z, t, dt_cap, kt, kz, wf, sf, zlev, met_t, met_axes, dims, settings):
    """The start of an outer step: the boundary layer and the mean vertical wind at the
    particle, the step lengths (at most ``dt_cap``) and the column constants.

    Returns
    -------
    col : tuple of float
        The column constants (:func:`column`, ``C_*``).
    n_inner : int
    dt : float
        The outer step, s.
    kt, kz : int
    i0, i1, wx, j0, j1, wy
        The horizontal neighbours and weights of the particle's position.
    """
    _, ny, nx, _ = dims
    kt, kt1, wt = _time_weights(met_t, dims, t, kt)
    i0, i1, wx = _axis_weights(fdiv(x - met_axes[0], met_axes[1]), nx)
    j0, j1, wy = _axis_weights(fdiv(y - met_axes[2], met_axes[3]), ny)
    h, ustar, inv_l, rho_s, inv_hrho = _surface_weighted(sf, dims, kt, kt1, wt, i0, i1, wx,
                                                         j0, j1, wy)
    w = 0.0
    if settings[S_VERTICAL_WIND] != 0.0:
        _, _, w, kz = _wind_weighted(wf, zlev, dims, kt, kt1, wt, i0, i1, wx, j0, j1, wy, z,
                                     kz)
    h = max(h, settings[S_MIN_H])
    ustar = max(ustar, settings[S_MIN_USTAR])
    inside = z <= h
    homogeneous = settings[S_TURBULENCE] == TURB_HOMOGENEOUS
    wstar = 0.0
    su_conv = 0.0
    if inside and not homogeneous:  # (their cube roots are not needed elsewhere)
        wstar, su_conv = convective_scales(h, ustar, inv_l)
    outer, inner, sw_mid, tw_mid = step_lengths(h, ustar, inv_l, wstar, su_conv, inside,
                                                settings)
    dt = min(outer, dt_cap)
    n_inner = max(int(math.ceil(fdiv(dt, inner) - 1e-9)), 1)
    ddt = dt * _inverse(n_inner)
    sw_u = 0.0
    aw_u = 0.0
    bw_u = 0.0
    if homogeneous or not inside:
        # uniform turbulence: the same velocity memory at every inner step
        kind = V_UNIFORM
        if homogeneous:
            sw_u = settings[S_HOM_SIGMA_W]
            itw_u = fdiv(1.0, settings[S_HOM_TL])
        else:
            sw_u = settings[S_FREE_SIGMA_W]
            itw_u = fdiv(1.0, settings[S_FREE_TL_W])
        aw_u = math.exp(-ddt * itw_u)
        bw_u = math.sqrt(1.0 - aw_u * aw_u)
    else:
        kind = hanna_kind(h, inv_l)
    col = column(kind, h, ustar, inv_l, wstar, settings, w, ddt, sw_u, aw_u, bw_u, rho_s,
                 inv_hrho, su_conv, inside, sw_mid, tw_mid)
    return col, n_inner, dt, kt, kz, i0, i1, wx, j0, j1, wy


# Inner steps (module docstring), in phases that :func:`inner_steps_pair` interleaves.


@inline_jit
def _step_normal(key, draw_n):
    """The N(0, 1) number of an inner step: the upper half of draw ``draw_n``."""
    p, _ = uniform_pair(key, draw_n)
    return _normal_central(p) if abs(p - 0.5) <= 0.425 else std_normal(p)


@inline_jit
def _sigma_w_start(col, z):
    """sigma_w at the start of an inner step, at height z."""
    if col[C_KIND] == V_UNIFORM:
        return col[C_SW_U]
    sw, _, _ = profile_w(col, z, False)
    return sw


@inline_jit
def _sigma_w_mid(col, z):
    """sigma_w, dsigma_w/dz and 1/T_Lw at the midpoint z of an inner step."""
    if col[C_KIND] == V_UNIFORM:
        return col[C_SW_U], 0.0, 0.0
    return profile_w(col, z, True)


@inline_jit
def _memory(col, itw):
    """The velocity memory exp(-dt/T_Lw) of an inner step and (1 - exp(-2 dt/T_Lw))^(1/2)."""
    if col[C_KIND] == V_UNIFORM:
        return col[C_AW_U], col[C_BW_U]
    aw = math.exp(-col[C_DDT] * itw)
    return aw, math.sqrt(1.0 - aw * aw)


@inline_jit
def _half_move(col, z, nw, sw):
    """Half an inner step of motion, z + (sigma_w n_w - W) dt/2, with the perfect
    reflections at the ground and, for particles of the layer, at its top h."""
    z = z + (sw * nw - col[C_W]) * col[C_HALF]
    if z < 0.0:
        z = -z
        nw = -nw
    h = col[C_H]
    if col[C_KIND] != V_UNIFORM and z > h:
        z = 2.0 * h - z
        nw = -nw
        if z < 0.0:  # a step longer than the layer is deep: keep it inside
            z = min(-z, h)
    return z, nw


@inline_jit
def _velocity_update(col, nw, dsw, aw, bw, xi):
    """The two half drift kicks around the exact Ornstein-Uhlenbeck update of n_w."""
    kick = dsw * col[C_HALF] if col[C_DRIFT] != 0.0 else 0.0
    return aw * (nw + kick) + bw * xi + kick


@inline_jit
def _step_sums(col, z0, zm, z1, q, z_sum):
    """``q`` plus dt s / rho of an inner step (module docstring), ``z_sum`` plus
    z0 + 2 z_mid + z1."""
    h_s = col[C_H_S]
    s = 0.5 * (fraction_below(z0, zm, h_s) + fraction_below(zm, z1, h_s))
    if s > 0.0:
        # 1/rho = exp(z/H_rho)/rho_s; z/H_rho < 0.2 in a mixed layer: the cubic Taylor
        # polynomial is within 1e-4 of the exponential
        e = zm * col[C_INV_HRHO]
        q += col[C_DDT] * s * col[C_INV_RHO_S] * (1.0 + e * (1.0 + e * (0.5 + e * (1.0 / 6.0))))
    return q, z_sum + (z0 + 2.0 * zm + z1)


@jit
def inner_steps(col, n_inner, z, nw, key, draw_n, q, z_sum):
    """``n_inner`` inner steps of one particle in the column ``col`` (module docstring).

    Returns
    -------
    z, nw : float
        At the end.
    draw_n : int
        The next unused draw.
    q, z_sum : float
        ``q`` plus the sum over the steps of dt s / rho (module docstring), ``z_sum`` plus
        that of z0 + 2 z_mid + z1.
    """
    for _ in range(n_inner):
        xi = _step_normal(key, draw_n)
        draw_n += 1
        sw = _sigma_w_start(col, z)
        zm, nw = _half_move(col, z, nw, sw)
        sw, dsw, itw = _sigma_w_mid(col, zm)
        aw, bw = _memory(col, itw)
        nw = _velocity_update(col, nw, dsw, aw, bw, xi)
        z1, nw = _half_move(col, zm, nw, sw)
        q, z_sum = _step_sums(col, z, zm, z1, q, z_sum)
        z = z1
    return z, nw, draw_n, q, z_sum


@inline_jit
def inner_steps_pair(n, col_a, z_a, nw_a, key_a, draw_a, q_a, zs_a, col_b, z_b, nw_b, key_b,
                     draw_b, q_b, zs_b):
    """``n`` :func:`inner_steps` of each of two particles, a and b, at once.

    An inner step is a chain of dependent operations (sigma_w at two heights, each with a
    logarithm and an exponential, the exponential of the velocity memory, a square root):
    one particle alone keeps the core waiting on their latencies. Here the two particles'
    steps advance phase by phase, so that the core has the other particle's independent
    work at hand (1.6x as many steps per second). Each particle's numbers are those of
    :func:`inner_steps`.
    """
    for _ in range(n):
        xi_a = _step_normal(key_a, draw_a)
        xi_b = _step_normal(key_b, draw_b)
        draw_a += 1
        draw_b += 1
        sw_a = _sigma_w_start(col_a, z_a)
        sw_b = _sigma_w_start(col_b, z_b)
        zm_a, nw_a = _half_move(col_a, z_a, nw_a, sw_a)
        zm_b, nw_b = _half_move(col_b, z_b, nw_b, sw_b)
        sw_a, dsw_a, itw_a = _sigma_w_mid(col_a, zm_a)
        sw_b, dsw_b, itw_b = _sigma_w_mid(col_b, zm_b)
        aw_a, bw_a = _memory(col_a, itw_a)
        aw_b, bw_b = _memory(col_b, itw_b)
        nw_a = _velocity_update(col_a, nw_a, dsw_a, aw_a, bw_a, xi_a)
        nw_b = _velocity_update(col_b, nw_b, dsw_b, aw_b, bw_b, xi_b)
        z1_a, nw_a = _half_move(col_a, zm_a, nw_a, sw_a)
        z1_b, nw_b = _half_move(col_b, zm_b, nw_b, sw_b)
        q_a, zs_a = _step_sums(col_a, z_a, zm_a, z1_a, q_a, zs_a)
        q_b, zs_b = _step_sums(col_b, z_b, zm_b, z1_b, q_b, zs_b)
        z_a = z1_a
        z_b = z1_b
    return z_a, nw_a, draw_a, q_a, zs_a, z_b, nw_b, draw_b, q_b, zs_b


@inline_jit
def step_end(col, x, y, z, nu, nv, t, dt, n_inner, z_sum, kt, kz, i0, i1, wx, j0, j1, wy,
             key, draw_n, wf, zlev, met_t, dims, settings):
    """The end of an outer step: the mean wind at the step's middle time and mean height,
    the horizontal turbulence at the particle's height z at the end, one exact
    Ornstein-Uhlenbeck update of n_u and n_v and the trapezoidal displacement.

    Returns
    -------
    x, y, nu, nv : float
        At the end of the step.
    u, v : float
        The mean wind, m s-1.
    z_mean : float
        The mean height over the step, m.
    kt, kz, draw_n : int
    """
    z_mean = z_sum * (0.25 * _inverse(n_inner))
    kt, kt1, wt = _time_weights(met_t, dims, t - 0.5 * dt, kt)
    u, v, _, kz = _wind_weighted(wf, zlev, dims, kt, kt1, wt, i0, i1, wx, j0, j1, wy, z_mean,
                                 kz)
    su, sv, tu, tv = horizontal_turbulence(z, col[C_H], col[C_USTAR], col[C_INV_L],
                                           col[C_SU_CONV], col[C_INSIDE] != 0.0, settings)
    u1, u2 = uniform_pair(key, draw_n)
    au = math.exp(-fdiv(dt, tu))
    bu = math.sqrt(1.0 - au * au)
    if tv == tu:
        av = au
        bv = bu
    else:
        av = math.exp(-fdiv(dt, tv))
        bv = math.sqrt(1.0 - av * av)
    xu = _normal_central(u1) if abs(u1 - 0.5) <= 0.425 else std_normal(u1)
    xv = _normal_central(u2) if abs(u2 - 0.5) <= 0.425 else std_normal(u2)
    nu1 = au * nu + bu * xu
    nv1 = av * nv + bv * xv
    x1 = x + (0.5 * su * (nu + nu1) - u) * dt
    y1 = y + (0.5 * sv * (nv + nv1) - v) * dt
    return x1, y1, nu1, nv1, u, v, z_mean, kt, kz, draw_n + 1


@jit
def footprint_weight(q, h, sigma_w, tl_w, age_mid, z_release, settings):
    """m_air q / h_eff, ppm per (umol m-2 s-1), of one step with q = sum dt s / rho
    (module docstring); h_eff = h/2, or the near-field plume depth when smaller."""
    if q == 0.0:
        return 0.0
    h_eff = 0.5 * h
    if settings[S_HNF] != 0.0 and z_release < h_eff:
        # sigma_z^2 >= 2 sigma_w^2 T_L (age - T_L): skip the exact form once that is enough
        reach = h_eff - z_release
        if 2.0 * sigma_w * sigma_w * tl_w * (age_mid - tl_w) < reach * reach:
            h_eff = min(h_eff, z_release + taylor_sigma(sigma_w, tl_w, age_mid))
    h_eff = max(h_eff, settings[S_MIN_HEFF])
    return M_AIR * fdiv(q, h_eff)


@jit
def grid_exit(x0, y0, z0, x1, y1, z1, grid, nx, ny, top):
    """Where the step (x0, y0, z0) -> (x1, y1, z1) first leaves the grid's box.

    Returns (fraction of the step, edge code); (2.0, EDGE_NONE) if it stays inside.
    """
    best = 2.0
    edge = EDGE_NONE
    west = grid[0]
    east = grid[0] + nx * grid[1]
    south = grid[2]
    north = grid[2] + ny * grid[3]
    if x1 < west:
        f = (west - x0) / (x1 - x0)
        if f < best:
            best, edge = f, EDGE_WEST
    elif x1 > east:
        f = (east - x0) / (x1 - x0)
        if f < best:
            best, edge = f, EDGE_EAST
    if y1 < south:
        f = (south - y0) / (y1 - y0)
        if f < best:
            best, edge = f, EDGE_SOUTH
    elif y1 > north:
        f = (north - y0) / (y1 - y0)
        if f < best:
            best, edge = f, EDGE_NORTH
    if z1 > top:
        f = (top - z0) / (z1 - z0) if z1 != z0 else 0.0
        if f < best:
            best, edge = f, EDGE_TOP
    return min(max(best, 0.0), 2.0), edge


@jit
def release_point(release, key, particle, n_particles):
    """Release position of a particle: along the segment (x1, y1)-(x2, y2) at the
    stratified fraction (p + U) / n, at a height uniform in [z1, z2] (draw 2).

    ``release`` = (x1, y1, x2, y2, z1, z2); a point receptor has x2 = x1, y2 = y1, z2 = z1.
    """
    ua, ub = uniform_pair(key, 2)
    q = (particle + ua) / n_particles
    x = release[0] + q * (release[2] - release[0])
    y = release[1] + q * (release[3] - release[1])
    z = release[4] + ub * (release[5] - release[4])
    return x, y, z


@jit
def initial_velocities(key):
    """Normalised turbulent velocities at the release, N(0, 1) (draws 0 and 1)."""
    return normals3(key, 0)


# --- kernels --------------------------------------------------------------------------


# Per-slot state of :func:`_run_chunk` (a chunk follows two particles at a time, one in
# each slot): at the start of the current outer step (x, y, z, nu, nv, age, kt, kz, outer
# steps so far, ...) and during its inner steps (z, nw, next draw, the footprint and
# mean-height sums, inner steps left), in a float and an int array.
(F_X, F_Y, F_Z, F_NU, F_NV, F_AGE, F_ZREL, F_DT, F_WX, F_WY, F_ZC, F_NW, F_Q,
 F_ZSUM) = range(14)
N_FSLOT = 14
(I_P, I_KT, I_KZ, I_K, I_ND, I_EXITED, I_ALIVE, I_NIN, I_HB, I_I0, I_I1, I_J0, I_J1,
 I_LEFT, I_TARGET) = range(15)
N_ISLOT = 15


@jit
def _release_into(s, p, footprint, seed, rkey, release, n_particles, x0, y0, z0, targets,
                  out, hours_back, fst, ist, keys, exits, stats, n_steps):
    """Put particle p, at its release, into slot s (with its rows of ``exits`` and
    ``stats`` reset, or its positions at target ages of 0 written); ``ist[s, I_ALIVE]``
    tells whether it is still to be followed."""
    key = particle_key(seed, rkey, p)
    if footprint:
        x, y, z = release_point(release, key, p, n_particles)
        exits[p, EX_EDGE] = EDGE_NONE
        for hb in range(hours_back):
            stats[p, hb, ST_FOOT] = 0.0
            stats[p, hb, ST_FOOT_SPEED] = 0.0
    else:
        x = x0[p]
        y = y0[p]
        z = z0[p]
    nu, nv, nw = initial_velocities(key)
    keys[s] = key
    fst[s, F_X] = x
    fst[s, F_Y] = y
    fst[s, F_Z] = z
    fst[s, F_NU] = nu
    fst[s, F_NV] = nv
    fst[s, F_NW] = nw
    fst[s, F_AGE] = 0.0
    fst[s, F_ZREL] = z
    ist[s, I_P] = p
    ist[s, I_KT] = 0
    ist[s, I_KZ] = 0
    ist[s, I_K] = 0
    ist[s, I_ND] = FIRST_STEP_DRAW
    ist[s, I_EXITED] = 0
    ist[s, I_NIN] = 0  # no outer step begun yet
    ist[s, I_LEFT] = 0
    t = 0
    while not footprint and t < targets.shape[0] and not targets[t] > 1e-6:
        out[p, t, 0] = x
        out[p, t, 1] = y
        out[p, t, 2] = z
        t += 1
    ist[s, I_TARGET] = t
    ist[s, I_ALIVE] = 1
    if not footprint and t == targets.shape[0]:
        n_steps[p, 0] = 0
        n_steps[p, 1] = 0
        ist[s, I_ALIVE] = 0


@jit
def _run_chunk(c, n_chunks, wf, sf, dims, zlev, met_t, met_axes, settings,
               t_release, rkey, seed, n_particles, release, x0, y0, z0, targets, out, grid,
               nx, ny, hours_back, acc, stats, exits, n_steps, band_slot, band_lo, band_hi,
               band_acc, fst, ist, keys):
    """Chunk c of :func:`footprint_kernel` or, if ``acc`` has no rows, of
    :func:`trajectory_kernel`: particles c, c + n_chunks, ..., two at a time in the slots
    of ``fst``, ``ist`` and ``keys`` (scratch arrays (2, N_FSLOT), (2, N_ISLOT), (2,)).

    Each slot runs its particle's outer steps on its own; whenever a slot has no inner
    steps left it ends its outer step (footprint and exit, or positions at the target
    ages; the next particle when done) and begins the next one, and the inner steps left
    in both slots run paired (:func:`inner_steps_pair`) as far as they go together (a
    particle left alone at the end of the chunk runs them alone, :func:`inner_steps`).
    Without footprints, ``targets`` are the ages at which ``out`` receives the positions;
    with them, ``targets`` is unused and the particles are followed for ``hours_back``.
    """
    footprint = acc.shape[0] > 0
    n_bands = band_lo.shape[0]
    with_bands = footprint and band_slot.shape[0] > 0 and n_bands > 0
    end = hours_back * 3600.0
    top = settings[S_TOP]
    stop = settings[S_STOP_AT_EXIT] != 0.0
    inv_n = 1.0 / n_particles
    n_targets = targets.shape[0]
    n_mine = (n_particles - c + n_chunks - 1) // n_chunks
    j = 0  # the chunk's next particle is c + j n_chunks
    for s in range(2):
        ist[s, I_ALIVE] = 0
        while ist[s, I_ALIVE] == 0 and j < n_mine:
            _release_into(s, c + j * n_chunks, footprint, seed, rkey, release, n_particles,
                          x0, y0, z0, targets, out, hours_back, fst, ist, keys, exits, stats,
                          n_steps)
            j += 1
    col_a = _NO_COLUMN
    col_b = _NO_COLUMN
    while ist[0, I_ALIVE] + ist[1, I_ALIVE] > 0:
        # the end of the outer steps of the slots with no inner steps left: footprint and
        # exit, or positions; the next particle into the slot of one that is done
        for s in range(2):
            if ist[s, I_ALIVE] == 0 or ist[s, I_LEFT] > 0 or ist[s, I_NIN] == 0:
                continue
            col = col_a if s == 0 else col_b
            x = fst[s, F_X]
            y = fst[s, F_Y]
            z = fst[s, F_Z]
            z1 = fst[s, F_ZC]
            age = fst[s, F_AGE]
            dt = fst[s, F_DT]
            hb = ist[s, I_HB]
            p = ist[s, I_P]
            x1, y1, nu, nv, u, v, z_mean, kt, kz, nd = step_end(
                col, x, y, z1, fst[s, F_NU], fst[s, F_NV], t_release - age, dt,
                ist[s, I_NIN], fst[s, F_ZSUM], ist[s, I_KT], ist[s, I_KZ], ist[s, I_I0],
                ist[s, I_I1], fst[s, F_WX], ist[s, I_J0], ist[s, I_J1], fst[s, F_WY],
                keys[s], ist[s, I_ND], wf, zlev, met_t, dims, settings)
            k = ist[s, I_K] + 1
            exited = ist[s, I_EXITED] != 0
            if footprint:
                weight = footprint_weight(fst[s, F_Q], col[C_H], col[C_SW_MID],
                                          col[C_TW_MID], age + 0.5 * dt, fst[s, F_ZREL],
                                          settings)
                if weight > 0.0 or with_bands:
                    fx = fdiv(0.5 * (x + x1) - grid[0], grid[1])
                    fy = fdiv(0.5 * (y + y1) - grid[2], grid[3])
                    if fx >= 0.0 and fy >= 0.0 and fx < nx and fy < ny:
                        cell = int(fy) * nx + int(fx)
                        if weight > 0.0:
                            value = weight * inv_n
                            acc[c, hb, cell] += np.int64(value * FIXED_SCALE + 0.5)
                            stats[p, hb, ST_FOOT] += value
                            stats[p, hb, ST_FOOT_SPEED] += value * math.sqrt(u * u
                                                                             + v * v)
                        if with_bands and band_slot[cell] >= 0:
                            slot = band_slot[cell]
                            inv_rho = col[C_INV_RHO_S] * math.exp(z_mean
                                                                  * col[C_INV_HRHO])
                            for b in range(n_bands):
                                if band_lo[b] <= z_mean < band_hi[b]:
                                    value = M_AIR * dt * inv_rho * inv_n / (
                                        band_hi[b] - band_lo[b])
                                    band_acc[c, hb, b, slot] += np.int64(
                                        value * FIXED_SCALE + 0.5)
                if not exited:
                    f, edge = grid_exit(x, y, z, x1, y1, z1, grid, nx, ny, top)
                    if edge != EDGE_NONE:
                        exited = True
                        exits[p, EX_AGE] = age + f * dt
                        exits[p, EX_X] = x + f * (x1 - x)
                        exits[p, EX_Y] = y + f * (y1 - y)
                        exits[p, EX_Z] = z + f * (z1 - z)
                        exits[p, EX_EDGE] = edge
            age += dt
            if (hb + 1) * 3600.0 - age < 1e-6:
                age = (hb + 1) * 3600.0
            if footprint:
                done = (exited and stop) or not age < end or int(age / 3600.0) >= hours_back
                if done and not exited:
                    exits[p, EX_AGE] = age
                    exits[p, EX_X] = x1
                    exits[p, EX_Y] = y1
                    exits[p, EX_Z] = z1
            else:
                t = ist[s, I_TARGET]
                while t < n_targets and not targets[t] - age > 1e-6:
                    out[p, t, 0] = x1
                    out[p, t, 1] = y1
                    out[p, t, 2] = z1
                    t += 1
                ist[s, I_TARGET] = t
                done = t == n_targets
            if done:
                # its step counts; the chunk's next particle into the slot
                n_steps[p, 0] = k
                n_steps[p, 1] = nd - FIRST_STEP_DRAW - k
                ist[s, I_ALIVE] = 0
                while ist[s, I_ALIVE] == 0 and j < n_mine:
                    _release_into(s, c + j * n_chunks, footprint, seed, rkey, release,
                                  n_particles, x0, y0, z0, targets, out, hours_back, fst,
                                  ist, keys, exits, stats, n_steps)
                    j += 1
            else:
                fst[s, F_X] = x1
                fst[s, F_Y] = y1
                fst[s, F_Z] = z1
                fst[s, F_NU] = nu
                fst[s, F_NV] = nv
                fst[s, F_AGE] = age
                ist[s, I_KT] = kt
                ist[s, I_KZ] = kz
                ist[s, I_K] = k
                ist[s, I_ND] = nd
                ist[s, I_EXITED] = 1 if exited else 0
        # ... and the start of their next ones (ends and starts apart, so that the two
        # slots' independent work is close together)
        for s in range(2):
            if ist[s, I_ALIVE] == 0 or ist[s, I_LEFT] > 0:
                continue
            # cut at the next whole hour of age (and the next target age)
            age = fst[s, F_AGE]
            hb = int(age / 3600.0)
            if footprint:
                cap = (hb + 1) * 3600.0 - age
            else:
                cap = min((hb + 1) * 3600.0, targets[ist[s, I_TARGET]]) - age
            col, n_inner, dt, kt, kz, i0, i1, wx, j0, j1, wy = step_begin(
                fst[s, F_X], fst[s, F_Y], fst[s, F_Z], t_release - age, cap, ist[s, I_KT],
                ist[s, I_KZ], wf, sf, zlev, met_t, met_axes, dims, settings)
            if s == 0:
                col_a = col
            else:
                col_b = col
            fst[s, F_DT] = dt
            fst[s, F_WX] = wx
            fst[s, F_WY] = wy
            fst[s, F_ZC] = fst[s, F_Z]
            fst[s, F_Q] = 0.0
            fst[s, F_ZSUM] = 0.0
            ist[s, I_NIN] = n_inner
            ist[s, I_LEFT] = n_inner
            ist[s, I_KT] = kt
            ist[s, I_KZ] = kz
            ist[s, I_HB] = hb
            ist[s, I_I0] = i0
            ist[s, I_I1] = i1
            ist[s, I_J0] = j0
            ist[s, I_J1] = j1
        # inner steps: paired as far as both slots go
        if ist[0, I_ALIVE] != 0 and ist[1, I_ALIVE] != 0:
            n = min(ist[0, I_LEFT], ist[1, I_LEFT])
            (fst[0, F_ZC], fst[0, F_NW], ist[0, I_ND], fst[0, F_Q], fst[0, F_ZSUM],
             fst[1, F_ZC], fst[1, F_NW], ist[1, I_ND], fst[1, F_Q],
             fst[1, F_ZSUM]) = inner_steps_pair(
                n, col_a, fst[0, F_ZC], fst[0, F_NW], keys[0], ist[0, I_ND], fst[0, F_Q],
                fst[0, F_ZSUM], col_b, fst[1, F_ZC], fst[1, F_NW], keys[1], ist[1, I_ND],
                fst[1, F_Q], fst[1, F_ZSUM])
            ist[0, I_LEFT] -= n
            ist[1, I_LEFT] -= n
        else:
            for s in range(2):
                if ist[s, I_ALIVE] != 0:
                    col = col_a if s == 0 else col_b
                    (fst[s, F_ZC], fst[s, F_NW], ist[s, I_ND], fst[s, F_Q],
                     fst[s, F_ZSUM]) = inner_steps(col, ist[s, I_LEFT], fst[s, F_ZC],
                                                   fst[s, F_NW], keys[s], ist[s, I_ND],
                                                   fst[s, F_Q], fst[s, F_ZSUM])
                    ist[s, I_LEFT] = 0


@parallel_jit
def footprint_kernel(wind, zlev, surf, met_t, met_axes, settings, grid, nx, ny,
                     release, t_release, rkey, seed, n_particles, hours_back,
                     acc, stats, exits, n_steps, band_slot, band_lo, band_hi, band_acc):
    """Footprint of one receptor from ``n_particles`` backward particles.

    Parallel over chunks of particles: chunk c follows particles c, c + n_chunks, ... and
    sums into ``acc[c]`` in fixed point, so the total ``acc.sum(0)`` is the same for any
    number of chunks or threads. A chunk follows two particles at a time, their inner
    steps in one loop (:func:`_run_chunk`); each particle's numbers are the same whichever
    particle it is paired with, so are the footprints.

    Parameters
    ----------
    wind, zlev, surf, met_t, met_axes, settings, grid : see the module legend
    nx, ny : int
        Cells of the footprint grid.
    release : ndarray (6,)
        x1, y1, x2, y2, z1, z2 of the receptor (see :func:`release_point`), m.
    t_release : float
        Release time on the met time axis, s.
    rkey : uint64
        Receptor key (:func:`receptor_key`); ``seed`` the run's seed (>= 0).
    n_particles, hours_back : int
    acc : ndarray of int64 (n_chunks, hours_back, ny * nx)
        Zeroed by the caller; receives sum over particles of round(2**50 foot / n).
    stats : ndarray (n_particles, hours_back, N_STAT)
        Receives per particle and hour back the sum of its (float) contributions and of
        contribution x mean wind speed.
    exits : ndarray (n_particles, N_EXIT)
        Receives age (s), x, y, z and edge of the first exit from the grid box (x, y within
        the grid, z below ``S_TOP``), or the last position and EDGE_NONE.
    n_steps : ndarray of int64 (n_particles, 2)
        Receives the number of outer and inner steps of each particle.
    band_slot : ndarray of int64 (ny * nx,) or (0,)
        Elevated sources: the slot of each cell in ``band_acc`` (-1: none); empty: none.
    band_lo, band_hi : ndarray (n_bands,)
        Height bands, m above ground (may overlap).
    band_acc : ndarray of int64 (n_chunks, hours_back, n_bands, n_slots)
        Zeroed by the caller; receives, like ``acc``, the residence of the particles in each
        listed cell and band: m_air dt / (rho (hi - lo)) per outer step whose mean height
        is in [lo, hi), in the cell under the step's midpoint: the footprint of a flux
        released uniformly through the band (ppm per umol m-2 s-1).
    """
    n_chunks = acc.shape[0]
    wf, sf, dims = flat_met(wind, surf)
    none = np.empty(0)
    no_out = np.empty((0, 0, 3))
    for chunk in prange(n_chunks):
        fst = np.empty((2, N_FSLOT))
        ist = np.empty((2, N_ISLOT), np.int64)
        keys = np.empty(2, np.uint64)
        _run_chunk(np.int64(chunk), n_chunks, wf, sf, dims, zlev, met_t, met_axes, settings,
                   t_release, rkey, seed, n_particles, release, none, none, none, none,
                   no_out, grid, nx, ny, hours_back, acc, stats, exits, n_steps, band_slot,
                   band_lo, band_hi, band_acc, fst, ist, keys)


#: Chunks of particles of :func:`trajectory_kernel` (at most; they are shared out among
#: the threads).
TRAJECTORY_CHUNKS = 64


@parallel_jit
def trajectory_kernel(wind, zlev, surf, met_t, met_axes, settings, x0, y0, z0, t_release,
                      rkey, seed, ages, out, n_steps):
    """Positions of free particles (no grid, no exits) at given ages.

    Particle p starts at (x0[p], y0[p], z0[p]) at ``t_release`` with the stream
    ``particle_key(seed, rkey, p)``; steps are cut to land on every age in ``ages``
    (increasing, s) and on whole hours, as in :func:`footprint_kernel` (whose chunks of
    particles, two at a time, it shares: :func:`_run_chunk`).

    out : ndarray (n_particles, n_ages, 3)
        Receives x, y, z at each age.
    n_steps : ndarray of int64 (n_particles, 2)
        Receives the number of outer and inner steps of each particle.
    """
    n_particles = x0.shape[0]
    n_chunks = min(n_particles, TRAJECTORY_CHUNKS)
    zero = np.int64(0)  # no grid, no hours back (int64, not a literal: one _run_chunk)
    wf, sf, dims = flat_met(wind, surf)
    release = np.empty(6)
    grid = np.empty(4)
    acc = np.empty((0, 0, 0), np.int64)
    stats = np.empty((0, 0, N_STAT))
    exits = np.empty((0, N_EXIT))
    band_slot = np.empty(0, np.int64)
    bands = np.empty(0)
    band_acc = np.empty((0, 0, 0, 0), np.int64)
    for chunk in prange(n_chunks):
        fst = np.empty((2, N_FSLOT))
        ist = np.empty((2, N_ISLOT), np.int64)
        keys = np.empty(2, np.uint64)
        _run_chunk(np.int64(chunk), n_chunks, wf, sf, dims, zlev, met_t, met_axes, settings,
                   t_release, rkey, seed, n_particles, release, x0, y0, z0, ages, out, grid,
                   zero, zero, zero, acc, stats, exits, n_steps, band_slot, bands, bands,
                   band_acc, fst, ist, keys)


@jit
def _gaussian_weights(sigma, step):
    """Cell weights of a 1-D Gaussian of width sigma on cells of width step, centred on
    cell 0: w[m + M] for |m| <= M = ceil(4 sigma / step); erf differences, sum ~ 1."""
    m_max = int(math.ceil(4.0 * sigma / step))
    weights = np.empty(2 * m_max + 1)
    scale = 1.0 / (math.sqrt(2.0) * sigma)
    for m in range(-m_max, m_max + 1):
        weights[m + m_max] = 0.5 * (math.erf((m + 0.5) * step * scale) -
                                    math.erf((m - 0.5) * step * scale))
    return weights, m_max


@jit
def smooth_field(field, sigma, dx, dy, out):
    """Separable Gaussian smoothing of a (ny, nx) field with width sigma (m) into ``out``.

    Cell weights are erf differences truncated at 4 sigma; what would fall outside the grid
    is lost (it is sensitivity to fluxes outside the domain). sigma <= 0: a copy.
    """
    ny, nx = field.shape
    if sigma <= 0.0:
        out[:, :] = field
        return
    wx, mx = _gaussian_weights(sigma, dx)
    wy, my = _gaussian_weights(sigma, dy)
    tmp = np.zeros((ny, nx))
    for j in range(ny):
        for i in range(nx):
            value = field[j, i]
            if value == 0.0:
                continue
            for m in range(max(-mx, -i), min(mx, nx - 1 - i) + 1):
                tmp[j, i + m] += value * wx[m + mx]
    out[:, :] = 0.0
    for j in range(ny):
        for m in range(max(-my, -j), min(my, ny - 1 - j) + 1):
            wj = wy[m + my]
            for i in range(nx):
                out[j + m, i] += tmp[j, i] * wj
