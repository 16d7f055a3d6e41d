"""Synthetic hourly 2-D wind fields that drive the "true" (puff) transport of test cities.

A field is a CF :class:`xarray.Dataset` on dims (time, y, x): ``x``, ``y`` are cell centres
in metres in the inversion grid's metric frame on a regular (usually coarser) wind grid
that covers the domain plus a margin (:func:`wind_axes`), ``time`` the start of each hour
(values are hourly means, valid at mid-hour). Variables and standard names:

====================  ==============================================  ======
``u``, ``v``          eastward_wind, northward_wind (mixed-layer       m s-1
                      transport wind)
``blh``               atmosphere_boundary_layer_thickness             m
``t``                 air_temperature                                 K
``sp``                surface_air_pressure                            Pa
``obukhov_length``    (no standard name)                              m
``ustar``             magnitude_of_surface_friction_velocity_in_air   m s-1
``shf``               surface_upward_sensible_heat_flux               W m-2
``tcc``               cloud_area_fraction                             1
====================  ==============================================  ======

The column's 10-m wind (``u10``, ``v10``) is taken as the mixed-layer transport wind, as
the inversion's plume takes it, so that :func:`column_at` hands back a column in the
format of :func:`cityflux.synthetic.meteorology.synthetic_meteorology`.

Friction velocity. The column's u* is recovered from its Obukhov length and heat flux,
u*³ = −κ g L H / (ρ c_p T) (the inverse of the relation that made L); where that is not
possible the relation of :mod:`cityflux.synthetic.meteorology`, u* = 0.08 |V| + 0.05, is
used. Locally u* scales with that relation's value at the local wind speed, and the
Obukhov length with u*³ (the heat flux is kept uniform).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .meteorology import AIR_DENSITY, GRAVITY, HEAT_CAPACITY, KARMAN

#: Angular velocity of the Earth, rad s-1.
EARTH_ROTATION = 7.2921e-5

#: Variable name -> (standard name or None, units, long name) of a wind field.
FIELD_VARIABLES = {
    "u": ("eastward_wind", "m s-1", "eastward wind in the mixed layer"),
    "v": ("northward_wind", "m s-1", "northward wind in the mixed layer"),
    "blh": ("atmosphere_boundary_layer_thickness", "m", "boundary-layer height"),
    "t": ("air_temperature", "K", "air temperature near the surface"),
    "sp": ("surface_air_pressure", "Pa", "surface air pressure"),
    "obukhov_length": (None, "m", "Obukhov length"),
    "ustar": ("magnitude_of_surface_friction_velocity_in_air", "m s-1", "friction velocity"),
    "shf": ("surface_upward_sensible_heat_flux", "W m-2", "surface upward sensible heat flux"),
    "tcc": ("cloud_area_fraction", "1", "total cloud cover"),
}

#: Column variable (synthetic_meteorology name) -> field variable.
COLUMN_NAMES = {"u10": "u", "v10": "v", "blh": "blh", "t2m": "t", "sp": "sp",
                "obukhov_length": "obukhov_length", "tcc": "tcc", "shf": "shf"}


# ---------------------------------------------------------------------------- helpers
def _find(ds: xr.Dataset, standard_name: str | None, name: str):
    """The variable with this standard name, else the one so named, else None."""
    if standard_name:
        for var in ds.data_vars.values():
            if var.attrs.get("standard_name") == standard_name:
                return var
    return ds[name] if name in ds.data_vars else None


def _column_values(column: xr.Dataset) -> dict[str, np.ndarray]:
    """Hourly column values (float64, by field variable name) from a one-column dataset."""
    if "time" not in column.dims:
        raise ValueError("column: expected a dataset on dimension 'time' (hourly values), "
                         f"found dims {tuple(column.dims)}")
    values = {}
    for column_name, field_name in COLUMN_NAMES.items():
        standard_name = FIELD_VARIABLES[field_name][0]
        var = _find(column, standard_name, column_name)
        if var is None:
            continue
        if var.dims != ("time",):
            raise ValueError(f"column: {var.name} has dims {var.dims}; expected ('time',)")
        values[field_name] = np.asarray(var.values, dtype=float)
    missing = [n for n in ("u", "v", "blh", "t", "sp", "obukhov_length") if n not in values]
    if missing:
        raise ValueError(f"column: no variable for {missing} (expected the variables of "
                         "cityflux.synthetic.meteorology.synthetic_meteorology)")
    var = _find(column, FIELD_VARIABLES["ustar"][0], "ustar")
    values["ustar"] = _column_friction_velocity(values, None if var is None else
                                                np.asarray(var.values, float))
    return values


def _speed_ustar(speed):
    """u* (m s-1) of the synthetic meteorology at a wind speed (m s-1)."""
    return 0.08 * speed + 0.05


def _column_friction_velocity(values: dict, given) -> np.ndarray:
    if given is not None:
        return given
    fallback = _speed_ustar(np.hypot(values["u"], values["v"]))
    if "shf" not in values:
        return fallback
    with np.errstate(invalid="ignore", divide="ignore"):
        cube = (-values["obukhov_length"] * KARMAN * GRAVITY * values["shf"] /
                (AIR_DENSITY * HEAT_CAPACITY * values["t"]))
    ustar = np.cbrt(np.where(cube > 0, cube, np.nan))
    return np.where(np.isfinite(ustar) & (ustar > 0), ustar, fallback)


def _rescale_stability(ustar_ref, obukhov_ref, speed_ref, speed):
    """u* and L at a new wind speed: u* ∝ 0.08 |V| + 0.05, L ∝ u*³ (same heat flux)."""
    ratio = _speed_ustar(speed) / _speed_ustar(speed_ref)
    return ustar_ref * ratio, obukhov_ref * ratio ** 3


def wind_field_dataset(time, x, y, u, v, blh, air_temperature, surface_pressure,
                       obukhov_length, friction_velocity, shf=None, tcc=None,
                       title: str = "synthetic wind field", source: str = "") -> xr.Dataset:
    """Assemble a wind field from arrays broadcastable to (time, y, x).

    Parameters
    ----------
    time : array of datetime64 (nt,)
        Start of each hour.
    x, y : ndarray (nx,), (ny,), m
        Regularly spaced, ascending cell centres in the grid's metric frame.
    u, v : array_like, m s-1
        Mixed-layer wind towards east and north.
    blh : array_like, m
    air_temperature : array_like, K
    surface_pressure : array_like, Pa
    obukhov_length : array_like, m
    friction_velocity : array_like, m s-1
    shf : array_like, W m-2, optional
    tcc : array_like, 1, optional
    title, source : str
        Global attributes.

    Returns
    -------
    xarray.Dataset
        Float32 variables on (time, y, x) with CF attributes (see the module docstring).
    """
    time = np.asarray(time, dtype="datetime64[ns]")
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    for name, axis in (("x", x), ("y", y)):
        steps = np.diff(axis)
        if axis.ndim != 1 or axis.size < 2 or (steps <= 0).any() or \
                np.ptp(steps) > 1e-6 * steps.mean():
            raise ValueError(f"{name}: expected at least two ascending, regularly spaced "
                             "cell centres in metres")
    shape = (time.size, y.size, x.size)
    data = {"u": u, "v": v, "blh": blh, "t": air_temperature, "sp": surface_pressure,
            "obukhov_length": obukhov_length, "ustar": friction_velocity, "shf": shf,
            "tcc": tcc}
    variables = {}
    for name, values in data.items():
        if values is None:
            continue
        standard_name, units, long_name = FIELD_VARIABLES[name]
        attrs = {"units": units, "long_name": long_name}
        if standard_name:
            attrs["standard_name"] = standard_name
        array = np.broadcast_to(np.asarray(values, dtype=float), shape).astype(np.float32)
        variables[name] = (("time", "y", "x"), array, attrs)
    return xr.Dataset(
        variables,
        coords={
            "time": ("time", time, {"standard_name": "time",
                                    "long_name": "start of hour (values are hourly means)"}),
            "y": ("y", y, {"standard_name": "projection_y_coordinate", "units": "m",
                           "long_name": "northing in the grid's metric frame", "axis": "Y"}),
            "x": ("x", x, {"standard_name": "projection_x_coordinate", "units": "m",
                           "long_name": "easting in the grid's metric frame", "axis": "X"}),
        },
        attrs={"Conventions": "CF-1.8", "title": title,
               "source": source or "cityflux.synthetic.winds"},
    )


def wind_axes(grid, spacing_m: float = 2000.0, margin_m: float = 50000.0):
    """Cell centres (x, y), m, of a wind grid covering ``grid`` plus a margin.

    Back-trajectories that leave the wind grid see its edge values; the margin should
    cover where air that reaches the domain within the footprint's hours comes from
    often enough to matter (50 km: about 3.5 h at 4 m s-1).
    """
    xs, ys = grid.metric_xy
    dx, dy = grid.metric_cell_size
    axes = []
    for centres, widths in ((xs, dx), (ys, dy)):
        low = float((centres - widths / 2).min()) - margin_m
        high = float((centres + widths / 2).max()) + margin_m
        n = int(np.ceil((high - low) / spacing_m - 1e-9)) + 1  # centres span [low, high]
        mid = 0.5 * (low + high)
        axes.append(mid + spacing_m * (np.arange(n) - (n - 1) / 2))
    return axes[0], axes[1]


# ---------------------------------------------------------------------------- perturbed
def _random_modes(rng, n_modes: int, length_scale_m: float, time_scale_hours: float):
    """Wave vectors (rad m-1), frequencies (rad h-1) and phases of random Fourier modes.

    Wavelengths are 2 × length scale × U(0.75, 1.5) (an eddy of the length scale's
    diameter), directions uniform, frequencies ±U(0.5, 1.5) / time scale.
    """
    direction = rng.uniform(0.0, 2 * np.pi, n_modes)
    wavenumber = 2 * np.pi / (2.0 * length_scale_m * rng.uniform(0.75, 1.5, n_modes))
    omega = rng.choice([-1.0, 1.0], n_modes) * rng.uniform(0.5, 1.5, n_modes) / time_scale_hours
    phase = rng.uniform(0.0, 2 * np.pi, n_modes)
    return wavenumber * np.cos(direction), wavenumber * np.sin(direction), omega, phase


def _phase(mode, xx, yy, t_hours, shift_x, shift_y):
    """Phase θ(t, y, x) = k·(r − shift(t)) + ω t + φ of one mode, shape (nt, ny, nx)."""
    kx, ky, omega, phase = mode
    return (kx * (xx[None] - shift_x[:, None, None]) + ky * (yy[None] - shift_y[:, None, None])
            + (omega * t_hours + phase)[:, None, None])


def perturbed_field(column: xr.Dataset, x, y, rng: np.random.Generator,
                    amplitude_m_s: float = 1.0, length_scale_km: float = 40.0,
                    time_scale_hours: float = 6.0, blh_variation: float = 0.1,
                    n_modes: int = 8) -> xr.Dataset:
    """The column's meteorology with a smooth mesoscale perturbation in space and time.

    The wind is the column wind plus the rotational flow of a stream function
    ψ = Σ_m A_m cos θ_m, θ_m = k_m·(r − r_adv(t)) + ω_m t + φ_m (``n_modes`` random modes,
    see :func:`_random_modes`): u' = −∂ψ/∂y, v' = ∂ψ/∂x, divergence-free. The pattern is
    carried by the column wind (r_adv = ∫ V dt) and evolves with the time scale in the
    frame moving with it. All modes have the same velocity amplitude A_m |k_m|. The
    domain mean of the perturbation (over the wind grid) is removed every hour, so the
    grid-mean wind is exactly the column's; then the perturbation is scaled so that its
    RMS magnitude over the grid and the period is ``amplitude_m_s``. The boundary-layer
    height is h_col × clip(1 + blh_variation η, 0.5, 1.5), η an independent set of modes
    with unit variance. u* and L follow the local speed (module docstring); temperature,
    pressure, heat flux and cloud are uniform.

    Parameters
    ----------
    column : xarray.Dataset
        Hourly one-column meteorology (as from ``synthetic_meteorology``).
    x, y : ndarray, m
        Cell centres of the wind grid (see :func:`wind_axes`).
    rng : numpy.random.Generator
    amplitude_m_s : float
        RMS magnitude of the wind perturbation, m s-1.
    length_scale_km : float
        Eddy size (half the typical wavelength), km.
    time_scale_hours : float
        Time over which the pattern changes in the frame moving with the wind, h.
    blh_variation : float
        Relative standard deviation of the boundary-layer height.
    n_modes : int

    Returns
    -------
    xarray.Dataset
        The field (see the module docstring).
    """
    values = _column_values(column)
    time = column["time"].values
    nt = time.size
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    xx, yy = np.meshgrid(x, y)
    t_hours = np.arange(nt) + 0.5  # values are hourly means: mid-hour
    # Position of the advected pattern at mid-hour i: i full hours plus half of hour i.
    shift_x = (np.cumsum(values["u"]) - 0.5 * values["u"]) * 3600.0
    shift_y = (np.cumsum(values["v"]) - 0.5 * values["v"]) * 3600.0
    length_scale_m = 1000.0 * length_scale_km

    shape = (nt, y.size, x.size)
    du, dv, eta = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    for mode in zip(*_random_modes(rng, n_modes, length_scale_m, time_scale_hours)):
        kx, ky = mode[0], mode[1]
        amplitude = amplitude_m_s * np.sqrt(2.0 / n_modes) / np.hypot(kx, ky)
        sine = np.sin(_phase(mode, xx, yy, t_hours, shift_x, shift_y))
        du += amplitude * ky * sine       # u' = -dψ/dy
        dv -= amplitude * kx * sine       # v' = dψ/dx
    du -= du.mean(axis=(1, 2), keepdims=True)
    dv -= dv.mean(axis=(1, 2), keepdims=True)
    rms = np.sqrt(np.mean(du ** 2 + dv ** 2))
    if rms > 0:
        du *= amplitude_m_s / rms
        dv *= amplitude_m_s / rms
    u = values["u"][:, None, None] + du
    v = values["v"][:, None, None] + dv

    for mode in zip(*_random_modes(rng, n_modes, length_scale_m, time_scale_hours)):
        eta += np.sqrt(2.0 / n_modes) * np.cos(_phase(mode, xx, yy, t_hours, shift_x, shift_y))
    blh = values["blh"][:, None, None] * np.clip(1 + blh_variation * eta, 0.5, 1.5)

    speed_col = np.hypot(values["u"], values["v"])[:, None, None]
    ustar, obukhov = _rescale_stability(values["ustar"][:, None, None],
                                        values["obukhov_length"][:, None, None],
                                        speed_col, np.hypot(u, v))
    return wind_field_dataset(
        time, x, y, u, v, blh, values["t"][:, None, None], values["sp"][:, None, None],
        obukhov, ustar, _broadcast(values.get("shf")), _broadcast(values.get("tcc")),
        title="synthetic mesoscale-perturbed wind field",
        source=(f"cityflux.synthetic.winds.perturbed_field(amplitude_m_s={amplitude_m_s}, "
                f"length_scale_km={length_scale_km}, time_scale_hours={time_scale_hours}, "
                f"blh_variation={blh_variation}, n_modes={n_modes})"))


def _broadcast(series):
    return None if series is None else series[:, None, None]


# ---------------------------------------------------------------------------- sea breeze
#: Sensible heat flux (W m-2) at which the daytime forcing reaches the sea-breeze speed.
SHF_DAY_REFERENCE = 250.0
#: Negative heat flux (W m-2) at which the night forcing reaches the land-breeze speed.
SHF_NIGHT_REFERENCE = 20.0


def breeze_series(shf, latitude_deg: float, sea_breeze_m_s: float, land_breeze_m_s: float,
                  friction_hours: float, onshore_unit: complex) -> np.ndarray:
    """Hourly (mid-hour) breeze vector at the coast, complex east + i north, m s-1.

    Haurwitz (1947)-type linear model: dB/dt = F(t) ê − (1/τ + i f) B, with ê the onshore
    unit vector, τ the friction time, f = 2 Ω sin(latitude) (the −i f B term is the
    Coriolis force, which turns the breeze clockwise in the northern hemisphere through
    the afternoon and evening), and the forcing
    F = a(t) √(1 + (f τ)²) / τ, a = sea_breeze × clip(H / 250 W m-2, 0, 1.2) by day
    (H > 0) and −land_breeze × clip(−H / 20 W m-2, 0, 1) by night, so that a steady
    forcing a gives a breeze of speed |a|. H is taken constant over each hour; the
    equation is solved exactly hour by hour from B = 0 before the first hour.
    """
    shf = np.asarray(shf, float)
    f = 2 * EARTH_ROTATION * np.sin(np.radians(latitude_deg))
    tau = friction_hours * 3600.0
    strength = np.where(shf > 0, sea_breeze_m_s * np.clip(shf / SHF_DAY_REFERENCE, 0, 1.2),
                        -land_breeze_m_s * np.clip(-shf / SHF_NIGHT_REFERENCE, 0, 1))
    rate = 1.0 / tau + 1j * f
    forcing = strength * np.sqrt(1 + (f * tau) ** 2) / tau * onshore_unit
    out = np.empty(shf.size, dtype=complex)
    state = 0j
    for i, forced in enumerate(forcing):
        steady = forced / rate
        out[i] = steady + (state - steady) * np.exp(-rate * 1800.0)
        state = steady + (state - steady) * np.exp(-rate * 3600.0)
    return out


def sea_breeze_field(column: xr.Dataset, x, y, coast: tuple[float, float, float],
                     rng: np.random.Generator, latitude_deg: float = 31.5,
                     sea_breeze_m_s: float = 5.0, land_breeze_m_s: float = 1.5,
                     inland_scale_km: float = 25.0, offshore_scale_km: float = 15.0,
                     friction_hours: float = 3.0, marine_blh_m: float = 300.0,
                     internal_layer_km: float = 20.0, sea_cooling_k: float = 3.0,
                     perturbation_m_s: float = 0.5) -> xr.Dataset:
    """A coastal city's wind field: synoptic column wind + sea/land breeze + marine layer.

    Geometry: the coast is the straight line through (x0, y0) across the direction
    ``sea_direction_deg`` (clockwise from north) in which the sea lies; the distance
    inland is d = −(r − r0)·ŝ with ŝ = (sin θ, cos θ) (negative over the sea).

    Wind: V = V_pert + S(d) B(t), where V_pert is the column wind with a mesoscale
    perturbation (:func:`perturbed_field` with ``perturbation_m_s``, 0 for none), B the
    breeze at the coast from :func:`breeze_series` driven by the column's sensible heat
    flux (onshore and growing with the sun by day with a lag of about τ, turning
    clockwise with Coriolis, a weaker offshore land breeze by night), and
    S(d) = exp(−d / inland_scale) inland, exp(d / offshore_scale) over the sea.

    Boundary layer (by day, weight w = clip(H / 100 W m-2, 0, 1)): a marine layer of
    ``marine_blh_m`` over the sea and a thermal internal boundary layer inland,
    h_m(d) = marine + (h_col − marine) √(d / internal_layer) up to ``internal_layer_km``;
    h = h_col − w max(h_col − h_m(d), 0). By night h = h_col. Air over the sea is cooler
    by day: T = T_col − sea_cooling w (1 over the sea, exp(−d / 5 km) inland). u* and L
    follow the local speed (module docstring).

    Parameters
    ----------
    column : xarray.Dataset
        Hourly one-column meteorology with a sensible heat flux (``shf``).
    x, y : ndarray, m
        Wind-grid cell centres.
    coast : (float, float, float)
        x0 (m), y0 (m), sea_direction_deg.
    rng : numpy.random.Generator
        For the mesoscale perturbation.
    latitude_deg : float
        For the Coriolis parameter.
    sea_breeze_m_s, land_breeze_m_s : float
        Steady breeze speeds at the coast for full daytime / night-time forcing, m s-1.
    inland_scale_km, offshore_scale_km : float
        e-folding distances of the breeze inland and out to sea, km.
    friction_hours : float
        Friction (damping) time τ, h.
    marine_blh_m : float
        Daytime boundary-layer height over the sea, m.
    internal_layer_km : float
        Distance inland over which the daytime layer regains the column's height, km.
    sea_cooling_k : float
        Daytime cooling of the air over the sea, K.
    perturbation_m_s : float
        Amplitude of the mesoscale perturbation (see :func:`perturbed_field`), m s-1.
    """
    values = _column_values(column)
    if "shf" not in values:
        raise ValueError("column: the sea breeze is driven by the sensible heat flux; no "
                         "variable with standard_name 'surface_upward_sensible_heat_flux' "
                         "(or named 'shf')")
    base = perturbed_field(column, x, y, rng, amplitude_m_s=perturbation_m_s,
                           blh_variation=0.05 if perturbation_m_s > 0 else 0.0)
    x0, y0, sea_direction_deg = coast
    theta = np.radians(sea_direction_deg)
    xx, yy = np.meshgrid(np.asarray(x, float), np.asarray(y, float))
    inland = -((xx - x0) * np.sin(theta) + (yy - y0) * np.cos(theta))
    shape = np.where(inland >= 0, np.exp(-inland / (1000.0 * inland_scale_km)),
                     np.exp(inland / (1000.0 * offshore_scale_km)))
    onshore = complex(-np.sin(theta), -np.cos(theta))
    breeze = breeze_series(values["shf"], latitude_deg, sea_breeze_m_s, land_breeze_m_s,
                           friction_hours, onshore)
    u0 = base["u"].values.astype(float)
    v0 = base["v"].values.astype(float)
    u = u0 + shape[None] * breeze.real[:, None, None]
    v = v0 + shape[None] * breeze.imag[:, None, None]

    day = np.clip(values["shf"] / 100.0, 0.0, 1.0)[:, None, None]
    h_col = base["blh"].values.astype(float)
    marine = np.minimum(marine_blh_m, h_col)
    recovery = np.sqrt(np.clip(inland / (1000.0 * internal_layer_km), 0.0, 1.0))[None]
    h_marine = marine + (h_col - marine) * recovery
    blh = h_col - day * np.maximum(h_col - h_marine, 0.0)
    sea_weight = np.where(inland <= 0, 1.0, np.exp(-np.clip(inland, 0, None) / 5000.0))[None]
    temperature = values["t"][:, None, None] - sea_cooling_k * day * sea_weight

    ustar, obukhov = _rescale_stability(base["ustar"].values.astype(float),
                                        base["obukhov_length"].values.astype(float),
                                        np.hypot(u0, v0), np.hypot(u, v))
    return wind_field_dataset(
        column["time"].values, x, y, u, v, blh, temperature, values["sp"][:, None, None],
        obukhov, ustar, _broadcast(values["shf"]), _broadcast(values.get("tcc")),
        title="synthetic coastal wind field with sea and land breezes",
        source=(f"cityflux.synthetic.winds.sea_breeze_field(coast={tuple(coast)}, "
                f"latitude_deg={latitude_deg}, sea_breeze_m_s={sea_breeze_m_s}, "
                f"land_breeze_m_s={land_breeze_m_s}, inland_scale_km={inland_scale_km}, "
                f"offshore_scale_km={offshore_scale_km}, friction_hours={friction_hours}, "
                f"marine_blh_m={marine_blh_m}, internal_layer_km={internal_layer_km}, "
                f"sea_cooling_k={sea_cooling_k}, perturbation_m_s={perturbation_m_s})"))


# ---------------------------------------------------------------------------- column
def column_at(field: xr.Dataset, x: float, y: float) -> xr.Dataset:
    """The hourly column a met mast at (x, y) would measure, in the column format.

    Bilinear interpolation between wind-grid cell centres (exact at a centre); the Obukhov
    length is interpolated as 1/L. Variables are named as in
    :func:`cityflux.synthetic.meteorology.synthetic_meteorology` (u10, v10, blh, t2m, sp,
    obukhov_length, and shf, tcc where the field has them); u10/v10 carry the field's
    mixed-layer transport wind, which is what the inversion's plume uses.
    """
    x = float(x)
    y = float(y)
    xs, ys = field["x"].values, field["y"].values
    if not (xs[0] <= x <= xs[-1] and ys[0] <= y <= ys[-1]):
        raise ValueError(f"column_at: point ({x:g}, {y:g}) m lies outside the wind grid "
                         f"(x {xs[0]:g}..{xs[-1]:g}, y {ys[0]:g}..{ys[-1]:g} m)")
    ix = int(np.clip(np.searchsorted(xs, x) - 1, 0, xs.size - 2))
    iy = int(np.clip(np.searchsorted(ys, y) - 1, 0, ys.size - 2))
    wx = (x - xs[ix]) / (xs[ix + 1] - xs[ix])
    wy = (y - ys[iy]) / (ys[iy + 1] - ys[iy])

    def bilinear(array):
        a = np.asarray(array, float)
        return ((1 - wy) * ((1 - wx) * a[:, iy, ix] + wx * a[:, iy, ix + 1]) +
                wy * ((1 - wx) * a[:, iy + 1, ix] + wx * a[:, iy + 1, ix + 1]))

    out = {}
    for column_name, field_name in COLUMN_NAMES.items():
        standard_name, units, _ = FIELD_VARIABLES[field_name]
        var = _find(field, standard_name, field_name)
        if var is None:
            continue
        if field_name == "obukhov_length":
            values = 1.0 / bilinear(1.0 / var.values.astype(float))
        else:
            values = bilinear(var.values)
        attrs = {k: v for k, v in var.attrs.items() if k in ("units", "standard_name")}
        attrs["long_name"] = var.attrs.get("long_name", field_name) + " at the mast"
        out[column_name] = ("time", values.astype(np.float32), attrs)
    return xr.Dataset(
        out, coords={"time": field["time"].copy()},
        attrs={"Conventions": "CF-1.8",
               "title": f"one-column meteorology at x={x:g} m, y={y:g} m",
               "source": f"cityflux.synthetic.winds.column_at of: {field.attrs.get('title', '')}",
               "mast_x_m": x, "mast_y_m": y})
