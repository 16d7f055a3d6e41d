"""Numba kernels for point sources with stacks: Briggs plume rise and the stack plume.

Arrays in, arrays out, SI units, no I/O; compile flags from :mod:`cityflux.jit`. The
plume widths come from :func:`cityflux.transport.kernels.sigma_y` / ``sigma_z``.

Symbols
-------
x, y, z : downwind, crosswind distance and receptor height above ground, m
h_s : physical stack height, m;  h' : stack height after stack-tip downwash, m
d : inside stack-top diameter, m;  v_s : exit velocity, m s-1
T_s, T_a : stack-gas exit and ambient air temperature, K;  dT = T_s - T_a
u_ref : wind speed at the reference (anemometer) height z_ref, m s-1
u_s : wind speed at stack top, m s-1 (the plume's transport speed)
F_b : buoyancy flux, m4 s-3;  F_m : momentum flux, m4 s-2
s : stability parameter g (dtheta/dz) / T_a, s-2 (stable classes E, F)
dh : plume rise, m;  x_f : distance to final rise, m;  H = h' + dh(x) : plume height, m
h_emit, h_obs : mixed-layer depth at the emission hour and at the observation hour, m
h_path : deepest mixed layer between emission and observation, m
h_lid = max(h_emit, h_obs, h_path) : the lid of the layer the plume is mixed into, m
G : plume kernel, concentration per unit emission rate, s m-3 (c = Q G)

Stability classes are ints 0..5 (Pasquill A..F); dispersion schemes are
:data:`~cityflux.transport.kernels.PASQUILL_GIFFORD` (0, ISC3 rural) and
:data:`~cityflux.transport.kernels.BRIGGS_URBAN` (1, urban).

References
----------
U.S. EPA (1995). User's guide for the Industrial Source Complex (ISC3) dispersion
models, vol. II: description of model algorithms. EPA-454/B-95-003b. Sect. 1.1.3 (wind
profile, eq. 1-6), 1.1.4 (plume rise, eqs. 1-7 to 1-22), 1.1.5 (dispersion parameters;
buoyancy-induced dispersion after Pasquill 1976), 1.1.6 (vertical term, 1.6 h rule).
Briggs, G. A. (1969). Plume Rise. USAEC Critical Review Series, TID-25075 (eq. 4.28,
stable momentum rise).
Briggs, G. A. (1972). Discussion on chimney plumes in neutral and stable surroundings.
Atmos. Environ. 6, 507-510 (the 2/3 law of gradual rise).
Briggs, G. A. (1975). Plume rise predictions. In: Lectures on Air Pollution and
Environmental Impact Analyses, AMS, Boston, 59-111 (final rise, eqs. 48 and 59).
Pasquill, F. (1976). Atmospheric dispersion parameters in Gaussian plume modeling,
part II. EPA-600/4-76-030b (buoyancy-induced dispersion, dh / 3.5).
"""

import math

import numpy as np
from numba import prange

from cityflux.jit import jit, parallel_jit
from cityflux.transport.kernels import (
    BRIGGS_URBAN,
    N_CLASSES,
    PASQUILL_GIFFORD,
    WELL_MIXED_RATIO,
    _vertical_image_sum,
    sigma_y,
    sigma_z,
)
from cityflux.units import MOLAR_MASS_CO2

#: Acceleration due to gravity used by ISC3 (vol. II, list of symbols), m s-2.
GRAVITY = 9.80616

#: ISC3 wind-profile exponents p (vol. II sect. 1.1.3): row 0 rural (goes with
#: PASQUILL_GIFFORD), row 1 urban (goes with BRIGGS_URBAN); columns classes A..F.
WIND_PROFILE_EXPONENTS = np.array(
    [
        [0.07, 0.07, 0.10, 0.15, 0.35, 0.55],
        [0.15, 0.15, 0.20, 0.25, 0.30, 0.30],
    ]
)

#: Potential-temperature gradient of the stable classes (ISC3 sect. 1.1.4.6), K m-1;
#: zero for A..D, where it is not used.
POTENTIAL_TEMPERATURE_GRADIENT = np.array([0.0, 0.0, 0.0, 0.0, 0.020, 0.035])

#: Buoyancy flux separating the two Briggs unstable/neutral regimes, m4 s-3.
FB_REGIME = 55.0

#: Buoyancy-induced dispersion divisor (ISC3 sect. 1.1.5, after Pasquill 1976).
BID_DIVISOR = 3.5

#: First stable class (E); classes below it are unstable or neutral.
_STABLE = 4

_SQRT_2PI = math.sqrt(2.0 * math.pi)
_PPM_PER_MOL_PER_KG = 1e6 / MOLAR_MASS_CO2


# --- wind at stack top ----------------------------------------------------------------


@jit
def wind_profile_exponent(stability_class, scheme):
    """ISC3 power-law exponent p (vol. II sect. 1.1.3): rural for
    :data:`PASQUILL_GIFFORD`, urban for :data:`BRIGGS_URBAN`; NaN when invalid."""
    if stability_class < 0 or stability_class >= N_CLASSES:
        return np.nan
    if scheme != PASQUILL_GIFFORD and scheme != BRIGGS_URBAN:
        return np.nan
    return WIND_PROFILE_EXPONENTS[scheme, stability_class]


@jit
def stack_wind_speed(reference_speed, release_height_m, reference_height_m, stability_class, scheme,
                     min_speed):
    """Wind speed at stack top, u_s = u_ref (h_s / z_ref)^p, floored at ``min_speed``.

    ISC3 vol. II eq. (1-6) with the exponents of :func:`wind_profile_exponent`. Below
    the reference height the reference speed is used unchanged (h_s is replaced by
    max(h_s, z_ref)): extrapolating the power law down to the ground would send u_s to
    zero for a surface release and leave only the floor.

    Parameters
    ----------
    reference_speed : float
        Wind speed at the reference height, m s-1 (>= 0).
    release_height_m : float
        Physical stack (release) height h_s, m.
    reference_height_m : float
        Reference (anemometer) height z_ref, m (> 0).
    stability_class, scheme : int
        Pasquill class 0..5; dispersion scheme code.
    min_speed : float
        Floor on u_s, m s-1 (ISC3 uses 1.0).

    Returns
    -------
    float
        u_s, m s-1; NaN for an invalid class or scheme.
    """
    p = wind_profile_exponent(stability_class, scheme)
    height = max(release_height_m, reference_height_m)
    return max(reference_speed * (height / reference_height_m) ** p, min_speed)


# --- Briggs plume rise (ISC3 vol. II sect. 1.1.4) ---------------------------------------


@jit
def buoyancy_flux(exit_velocity, diameter, exit_temperature, air_temperature):
    """F_b = g v_s d^2 (T_s - T_a) / (4 T_s), m4 s-3; 0 when T_s <= T_a.

    ISC3 vol. II eq. (1-8), g = 9.80616 m s-2.
    """
    delta_t = exit_temperature - air_temperature
    if delta_t <= 0.0:
        return 0.0
    return GRAVITY * exit_velocity * diameter * diameter * delta_t / (4.0 * exit_temperature)


@jit
def momentum_flux(exit_velocity, diameter, exit_temperature, air_temperature):
    """F_m = v_s^2 d^2 T_a / (4 T_s), m4 s-2 (ISC3 vol. II eq. 1-9)."""
    return exit_velocity * exit_velocity * diameter * diameter * air_temperature / (4.0 * exit_temperature)


@jit
def stack_tip_downwash(stack_height_m, exit_velocity, diameter, stack_wind):
    """Release height after stack-tip downwash, h' (ISC3 vol. II eq. 1-7, Briggs 1974).

    h' = h_s + 2 d (v_s / u_s - 1.5) when v_s < 1.5 u_s, else h_s. When v_s or d is
    unknown (NaN) there is no downwash: h' = h_s. h' is kept >= 0 (a stack lower than
    3 d with no exit velocity would otherwise fall below ground).
    """
    if math.isnan(exit_velocity) or math.isnan(diameter):
        return stack_height_m
    if exit_velocity < 1.5 * stack_wind:
        return max(stack_height_m + 2.0 * diameter * (exit_velocity / stack_wind - 1.5), 0.0)
    return stack_height_m


@jit
def stability_parameter(stability_class, air_temperature):
    """s = g (dtheta/dz) / T_a, s-2, with dtheta/dz = 0.020 (E), 0.035 (F) K m-1.

    ISC3 vol. II eq. (1-17); 0 for the unstable and neutral classes A..D.
    """
    return GRAVITY * POTENTIAL_TEMPERATURE_GRADIENT[stability_class] / air_temperature


@jit
def crossover_temperature_difference(buoyancy, exit_velocity, diameter, exit_temperature, stability_class,
                                     air_temperature):
    """Temperature difference (dT)_c above which buoyancy dominates the rise, K.

    Unstable/neutral (A..D), ISC3 vol. II eqs. (1-10), (1-11):
    (dT)_c = 0.0297 T_s v_s^(1/3) / d^(2/3) for F_b < 55, and
    (dT)_c = 0.00575 T_s v_s^(2/3) / d^(1/3) for F_b >= 55: the dT at which the
    buoyant final rise (1-14)/(1-15) equals the momentum rise 3 d v_s / u_s (1-16).
    Stable (E, F), eq. (1-18): (dT)_c = 0.019582 T_s v_s sqrt(s), where the stable
    buoyant rise (1-20) meets the stable momentum rise (1-21). (Equating those two
    rises exactly gives T_a in place of T_s; ISC3 writes T_s, and so do we.)
    """
    if stability_class >= _STABLE:
        s = stability_parameter(stability_class, air_temperature)
        return 0.019582 * exit_temperature * exit_velocity * math.sqrt(s)
    if buoyancy < FB_REGIME:
        return 0.0297 * exit_temperature * exit_velocity ** (1.0 / 3.0) / diameter ** (2.0 / 3.0)
    return 0.00575 * exit_temperature * exit_velocity ** (2.0 / 3.0) / diameter ** (1.0 / 3.0)


@jit
def final_rise(buoyancy, momentum, exit_velocity, diameter, stack_wind, stability_class, air_temperature,
               momentum_dominated):
    """Final plume rise dh and distance to final rise x_f (ISC3 vol. II 1.1.4.4-1.1.4.9).

    Buoyancy dominated:
      A..D: dh = 21.425 F_b^(3/4) / u_s, x_f = 49 F_b^(5/8) (F_b < 55);
            dh = 38.71 F_b^(3/5) / u_s, x_f = 119 F_b^(2/5) (F_b >= 55)
            (eqs. 1-12 to 1-15; Briggs 1975 eqs. 6, 7 with x_f = 3.5 x*).
      E, F: dh = 2.6 (F_b / (u_s s))^(1/3), x_f = 2.0715 u_s / sqrt(s)
            (eqs. 1-19, 1-20; Briggs 1975 eqs. 48, 59). x_f is in metres: the 2/3-law
            rise 1.60 F_b^(1/3) x^(2/3) / u_s reaches 2.6 (F_b/(u_s s))^(1/3) exactly at
            x = 2.0715 u_s s^(-1/2), as it reaches the A..D final rises at 49 F_b^(5/8)
            and 119 F_b^(2/5).
    Momentum dominated (x_f = 0: final rise at every distance, as in ISC3):
      A..D: dh = 3 d v_s / u_s (eq. 1-16);
      E, F: dh = min(1.5 (F_m / (u_s sqrt(s)))^(1/3), 3 d v_s / u_s) (eq. 1-21,
            Briggs 1969 eq. 4.28; ISC3 keeps the lower of the two).

    Returns
    -------
    (float, float)
        dh (m) and x_f (m).
    """
    if momentum_dominated:
        rise = 3.0 * diameter * exit_velocity / stack_wind
        if stability_class >= _STABLE:
            s = stability_parameter(stability_class, air_temperature)
            rise = min(1.5 * (momentum / (stack_wind * math.sqrt(s))) ** (1.0 / 3.0), rise)
        return rise, 0.0
    if buoyancy <= 0.0:
        return 0.0, 0.0
    if stability_class >= _STABLE:
        s = stability_parameter(stability_class, air_temperature)
        return 2.6 * (buoyancy / (stack_wind * s)) ** (1.0 / 3.0), 2.0715 * stack_wind / math.sqrt(s)
    if buoyancy < FB_REGIME:
        return 21.425 * buoyancy ** 0.75 / stack_wind, 49.0 * buoyancy ** 0.625
    return 38.71 * buoyancy ** 0.6 / stack_wind, 119.0 * buoyancy ** 0.4


@jit
def gradual_rise(downwind_m, buoyancy, stack_wind, final, x_final):
    """Rise at distance x: 1.60 F_b^(1/3) x^(2/3) / u_s for x < x_f, capped at the final
    rise; the final rise from x_f on (ISC3 vol. II eq. 1-22, Briggs 1972)."""
    if downwind_m >= x_final:
        return final
    if downwind_m <= 0.0:
        return 0.0
    return min(1.60 * buoyancy ** (1.0 / 3.0) * downwind_m ** (2.0 / 3.0) / stack_wind, final)


@jit
def stack_rise(stack_height_m, stack_wind, stability_class, air_temperature, buoyancy_given, exit_velocity,
               exit_temperature, diameter):
    """Downwash-corrected release height and Briggs final rise of one stack in one hour.

    Which inputs are used:

    * F_b = ``buoyancy_given`` if finite, else eq. (1-8) from v_s, T_s, d if all three
      are finite, else 0 (no buoyant rise);
    * stack-tip downwash (1-7) needs v_s and d;
    * the momentum-versus-buoyancy decision needs v_s, d and T_s: ISC3's crossover
      test, momentum dominated when T_s - T_a < (dT)_c (see
      :func:`crossover_temperature_difference`). Without them the rise is buoyant.

    Returns
    -------
    (float, float, float, float)
        h' (m), final rise dh (m), x_f (m; 0 when momentum dominated) and the F_b
        used (m4 s-3), for :func:`gradual_rise`.
    """
    base = stack_tip_downwash(stack_height_m, exit_velocity, diameter, stack_wind)
    known = not (math.isnan(exit_velocity) or math.isnan(diameter) or math.isnan(exit_temperature))
    if not math.isnan(buoyancy_given):
        fb = buoyancy_given
    elif known:
        fb = buoyancy_flux(exit_velocity, diameter, exit_temperature, air_temperature)
    else:
        fb = 0.0
    momentum_dominated = False
    fm = 0.0
    if known:
        fm = momentum_flux(exit_velocity, diameter, exit_temperature, air_temperature)
        crossover = crossover_temperature_difference(fb, exit_velocity, diameter, exit_temperature,
                                                     stability_class, air_temperature)
        momentum_dominated = exit_temperature - air_temperature < crossover
    rise, x_final = final_rise(fb, fm, exit_velocity, diameter, stack_wind, stability_class, air_temperature,
                               momentum_dominated)
    return base, rise, x_final, fb


@jit
def buoyancy_induced_sigma(sigma, rise):
    """sigma_e = sqrt(sigma^2 + (dh / 3.5)^2), m (ISC3 vol. II sect. 1.1.5, Pasquill
    1976), with dh the rise reached at the receptor's distance."""
    extra = rise / BID_DIVISOR
    return math.sqrt(sigma * sigma + extra * extra)


# --- the stack plume -----------------------------------------------------------------


@jit
def stack_plume(downwind_m, crosswind_m, receptor_height_m, plume_height_m, sig_y, sig_z, wind_speed,
                h_emit, h_obs, h_path_max):
    """Gaussian plume of an elevated source under an evolving mixed layer, s m-3.

    With h_lid = max(h_emit, h_obs, h_path_max) and the crosswind factor
    L = exp(-y^2 / 2 sigma_y^2):

    1. Emitted inside the mixed layer (H < h_emit), receptor below h_lid: ground
       reflection and image sources at h_lid,
       G = L V / (2 pi u sigma_y sigma_z),
       V = sum_n [exp(-(z - H + 2 n h_lid)^2 / 2 sigma_z^2) + exp(-(z + H + 2 n h_lid)^2 / 2 sigma_z^2)],
       and the well-mixed form G = L / (sqrt(2 pi) u sigma_y h_lid) once
       sigma_z > 1.6 h_lid (continuous with V to ~1e-5, as in
       :func:`~cityflux.transport.kernels.plume_kernel`). The lid is the deepest layer
       met between emission and observation: material mixed through a deep layer stays
       spread over it when the layer collapses (the residual layer keeps the
       concentration it had; a shallower new layer does not concentrate it). So a
       receptor above today's mixed-layer top but inside the residual layer
       (h_obs <= z < h_lid) sees the same concentration as one below it.
    2. Emitted above the mixed layer (H >= h_emit) and the layer has since grown over
       the plume (h_lid > H, i.e. h_obs > H or an intermediate hour deeper than H):
       fumigated, well mixed through the layer, G = L / (sqrt(2 pi) u sigma_y h_lid)
       for z < h_lid. With a layer that keeps growing, h_lid = h_obs.
    3. Plume above every mixed layer on its way (H >= h_lid): trapped aloft, G = 0 for
       z < h_obs (no ground-level signal until the layer grows over it); for
       z >= h_obs a free Gaussian about H reflected at the layer top from above,
       G = L [exp(-(z - H)^2 / 2 sigma_z^2) + exp(-(z - (2 h_obs - H))^2 / 2 sigma_z^2)]
           / (2 pi u sigma_y sigma_z).
    4. Receptor above the mixed material (z >= h_lid) in cases 1 and 2: G = 0.

    In all cases G = 0 when x <= 0 (receptor not downwind).

    Parameters
    ----------
    downwind_m, crosswind_m : float
        Downwind and crosswind distance from the stack, m.
    receptor_height_m : float
        Receptor height z above ground, m (>= 0).
    plume_height_m : float
        Plume height H = h' + dh(x) at the receptor's distance, m (>= 0).
    sig_y, sig_z : float
        Plume spreads at x (including buoyancy-induced dispersion), m (> 0).
    wind_speed : float
        Transport speed u (stack-top speed), m s-1 (> 0).
    h_emit, h_obs, h_path_max : float
        Mixed-layer depth at the emission hour, at the observation hour, and the largest
        over the hours from emission to observation, m (> 0).

    Returns
    -------
    float
        G in s m-3.
    """
    if downwind_m <= 0.0:
        return 0.0
    lateral = math.exp(-0.5 * (crosswind_m / sig_y) ** 2)
    if lateral == 0.0:
        return 0.0
    h_lid = max(h_emit, max(h_obs, h_path_max))
    z = receptor_height_m
    if plume_height_m >= h_lid:  # case 3: aloft
        if z < h_obs:
            return 0.0
        inv2s2 = 0.5 / (sig_z * sig_z)
        above = z - plume_height_m
        image = z - (2.0 * h_obs - plume_height_m)
        vertical = math.exp(-above * above * inv2s2) + math.exp(-image * image * inv2s2)
        return lateral * vertical / (2.0 * math.pi * wind_speed * sig_y * sig_z)
    if z >= h_lid:  # case 4
        return 0.0
    well_mixed = lateral / (_SQRT_2PI * wind_speed * sig_y * h_lid)
    if plume_height_m >= h_emit:  # case 2: fumigated
        return well_mixed
    if sig_z > WELL_MIXED_RATIO * h_lid:  # case 1, far field
        return well_mixed
    vertical = _vertical_image_sum(z, plume_height_m, sig_z, h_lid)
    return lateral * vertical / (2.0 * math.pi * wind_speed * sig_y * sig_z)


# --- sensitivities of receptors to stacks, over emission lags ---------------------------


@parallel_jit
def stack_sensitivity_kernel(
    source_x,
    source_y,
    stack_height,
    buoyancy_given,
    exit_velocity,
    exit_temperature,
    diameter,
    receptor_x,
    receptor_y,
    receptor_z,
    receptor_hour,
    wind_u,
    wind_v,
    blh,
    air_temperature,
    stability_class,
    air_molar_density,
    scheme,
    min_wind_speed,
    reference_height,
    with_rise,
    n_lags,
    integrate_lags,
    out,
):
    """Sensitivity of hourly-mean receptors to stack emissions, ppm per (kg s-1).

    For receptor r observed in hour t and lag k = 0..n_lags-1, the emission of hour
    e = t - k (spread evenly over [e, e+1)) is carried in a straight line by the wind of
    hour e at the stack-top speed u_s (:func:`stack_wind_speed`, power law from the
    reference-height wind, floored at ``min_wind_speed``): x along that wind, y across
    it, travel time tau = x / u_s. It reaches the receptor during [e + tau, e + 1 + tau)
    and so makes up the fraction w = max(0, 1 - |tau / 3600 - k|) of the hour-t mean
    (sum over k of w is 1 for tau <= n_lags - 1 hours). The plume of hour e uses that
    hour's class, air temperature (plume rise) and h_emit = blh[e]; h_obs = blh[t],
    h_path_max = max(blh[e..t]); G from :func:`stack_plume` with
    H = h' + dh(x) (:func:`stack_rise`, :func:`gradual_rise`) and buoyancy-induced
    sigmas. The value is w G 1e6 / (M_CO2 n_air[t]).

    Parameters
    ----------
    source_x, source_y : ndarray of float64, shape (m,)
        Stack positions in the metric frame, m.
    stack_height : ndarray of float64, shape (m,)
        Physical stack (release) height, m.
    buoyancy_given, exit_velocity, exit_temperature, diameter : ndarray of float64, shape (m,)
        F_b (m4 s-3), v_s (m s-1), T_s (K), d (m); NaN where unknown (see
        :func:`stack_rise`).
    receptor_x, receptor_y, receptor_z : ndarray of float64, shape (n,)
        Receptor position (m) and height above ground (m).
    receptor_hour : ndarray of int64, shape (n,)
        Hour index t of each observation into the hourly arrays (0 <= t < n_hours).
    wind_u, wind_v : ndarray of float64, shape (n_hours,)
        Reference-height wind towards +x (east) and +y (north), m s-1.
    blh : ndarray of float64, shape (n_hours,)
        Mixed-layer depth, m (> 0).
    air_temperature : ndarray of float64, shape (n_hours,)
        Ambient air temperature T_a, K.
    stability_class : ndarray of int64, shape (n_hours,)
        Pasquill class 0..5.
    air_molar_density : ndarray of float64, shape (n_hours,)
        Molar density of air, mol m-3.
    scheme : int
        Dispersion scheme code.
    min_wind_speed : float
        Floor on the stack-top speed, m s-1 (> 0).
    reference_height : float
        Height of the wind in ``wind_u``/``wind_v``, m (> 0).
    with_rise : bool
        False: H = h_s (no downwash, no rise, no buoyancy-induced dispersion).
    n_lags : int
        K + 1 (>= 1): lags 0..K hours.
    integrate_lags : bool
        Sum the lags into one slot.
    out : ndarray of float64, shape (n, m, n_lags) or (n, m, 1) when integrating
        Receives the sensitivities; every element is written. Emission hours before
        hour 0 and calm hours (u = v = 0, no direction) contribute nothing.
    """
    n_src = source_x.shape[0]
    n_rec = receptor_x.shape[0]
    n_hours = wind_u.shape[0]
    if (
        source_y.shape[0] != n_src
        or stack_height.shape[0] != n_src
        or buoyancy_given.shape[0] != n_src
        or exit_velocity.shape[0] != n_src
        or exit_temperature.shape[0] != n_src
        or diameter.shape[0] != n_src
    ):
        raise ValueError("stack_sensitivity_kernel: source arrays must all have length n_sources")
    if receptor_y.shape[0] != n_rec or receptor_z.shape[0] != n_rec or receptor_hour.shape[0] != n_rec:
        raise ValueError("stack_sensitivity_kernel: receptor arrays must all have length n_receptors")
    if (
        wind_v.shape[0] != n_hours
        or blh.shape[0] != n_hours
        or air_temperature.shape[0] != n_hours
        or stability_class.shape[0] != n_hours
        or air_molar_density.shape[0] != n_hours
    ):
        raise ValueError("stack_sensitivity_kernel: hourly arrays must all have length n_hours")
    if n_lags < 1:
        raise ValueError("stack_sensitivity_kernel: n_lags must be >= 1")
    n_slots = 1 if integrate_lags else n_lags
    if out.shape[0] != n_rec or out.shape[1] != n_src or out.shape[2] != n_slots:
        raise ValueError("stack_sensitivity_kernel: out must have shape (n_receptors, n_sources, "
                         "n_lags), or (n_receptors, n_sources, 1) with integrate_lags")
    if scheme != PASQUILL_GIFFORD and scheme != BRIGGS_URBAN:
        raise ValueError("stack_sensitivity_kernel: scheme must be 0 (Pasquill-Gifford) or 1 (Briggs urban)")
    if not min_wind_speed > 0.0:
        raise ValueError("stack_sensitivity_kernel: min_wind_speed must be > 0 m/s")
    if not reference_height > 0.0:
        raise ValueError("stack_sensitivity_kernel: reference_height must be > 0 m")
    for i in range(n_hours):
        if stability_class[i] < 0 or stability_class[i] >= N_CLASSES:
            raise ValueError("stack_sensitivity_kernel: stability_class must be in 0..5 (A..F)")
    for r in range(n_rec):
        if receptor_hour[r] < 0 or receptor_hour[r] >= n_hours:
            raise ValueError("stack_sensitivity_kernel: receptor_hour must lie in 0..n_hours-1")

    for r in prange(n_rec):
        for s in range(n_src):
            for slot in range(n_slots):
                out[r, s, slot] = 0.0
        t = receptor_hour[r]
        rx = receptor_x[r]
        ry = receptor_y[r]
        rz = receptor_z[r]
        h_obs = blh[t]
        to_ppm = _PPM_PER_MOL_PER_KG / air_molar_density[t]
        h_path = 0.0
        for k in range(n_lags):
            e = t - k
            if e < 0:
                break
            h_path = max(h_path, blh[e])
            speed = math.hypot(wind_u[e], wind_v[e])
            if speed == 0.0:
                continue
            ex = wind_u[e] / speed
            ey = wind_v[e] / speed
            cls = stability_class[e]
            t_air = air_temperature[e]
            h_emit = blh[e]
            slot = 0 if integrate_lags else k
            for s in range(n_src):
                dx = rx - source_x[s]
                dy = ry - source_y[s]
                down = dx * ex + dy * ey
                if down <= 0.0:
                    continue
                u_s = stack_wind_speed(speed, stack_height[s], reference_height, cls, scheme, min_wind_speed)
                weight = 1.0 - abs(down / u_s / 3600.0 - k)
                if weight <= 0.0:
                    continue
                cross = -dx * ey + dy * ex
                sy = sigma_y(down, cls, scheme)
                sz = sigma_z(down, cls, scheme)
                height = stack_height[s]
                if with_rise:
                    base, rise, x_final, fb = stack_rise(stack_height[s], u_s, cls, t_air, buoyancy_given[s],
                                                         exit_velocity[s], exit_temperature[s], diameter[s])
                    rise_x = gradual_rise(down, fb, u_s, rise, x_final)
                    height = base + rise_x
                    if rise_x > 0.0:
                        sy = buoyancy_induced_sigma(sy, rise_x)
                        sz = buoyancy_induced_sigma(sz, rise_x)
                g = stack_plume(down, cross, rz, height, sy, sz, u_s, h_emit, h_obs, h_path)
                out[r, s, slot] += weight * g * to_ppm
