"""Unit conversions, all in one place.

Inside cityflux fluxes are µmol m⁻² s⁻¹, mole fractions ppm (µmol mol⁻¹) in files and
footprints ppm per (µmol m⁻² s⁻¹). Emission rates of regions are reported in t h⁻¹ and
period totals in t, both of CO2 mass.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError

#: Molar mass of CO2 in kg mol⁻¹.
MOLAR_MASS_CO2 = 44.0095e-3
#: Molar mass of dry air in kg mol⁻¹.
MOLAR_MASS_AIR = 28.97e-3
#: Universal gas constant in J mol⁻¹ K⁻¹.
GAS_CONSTANT = 8.314462618
SECONDS_PER_HOUR = 3600.0
SECONDS_PER_YEAR = 365.25 * 86400.0

FLUX_UNITS = "umol m-2 s-1"
FOOTPRINT_UNITS = "ppm (umol-1 m2 s)"
RATE_UNITS = "t h-1"
MASS_UNITS = "t"

# Factors that turn a flux in the named unit into µmol m⁻² s⁻¹ of CO2. Spellings are
# normalised by `_normalise` before lookup, so "µmol/m2/s" and "umol m-2 s-1" agree.
_FLUX_FACTORS = {
    "umol m-2 s-1": 1.0,
    "mol m-2 s-1": 1e6,
    "kg m-2 s-1": 1e6 / MOLAR_MASS_CO2,
    "g m-2 s-1": 1e3 / MOLAR_MASS_CO2,
    "kg m-2 yr-1": 1e6 / MOLAR_MASS_CO2 / SECONDS_PER_YEAR,
}


def _normalise(units: str) -> str:
    text = units.strip().replace("µ", "u").replace("μ", "u")
    for old, new in (("/m2", " m-2"), ("/s", " s-1"), ("/yr", " yr-1"), ("/a", " yr-1")):
        text = text.replace(old, new)
    return " ".join(text.split())


def flux_factor(units: str, where: str = "input") -> float:
    """Factor that converts a CO2 flux in ``units`` to µmol m⁻² s⁻¹.

    Raises :class:`InputError` naming ``where`` if the unit is not known.
    """
    key = _normalise(units)
    if key not in _FLUX_FACTORS:
        allowed = ", ".join(sorted(_FLUX_FACTORS))
        raise InputError(f"{where}: flux units {units!r} not understood; expected one of: {allowed}")
    return _FLUX_FACTORS[key]


def flux_to_rate_t_per_h(flux_umol_m2_s, area_m2):
    """Emission rate in t h⁻¹ of CO2 of a flux (µmol m⁻² s⁻¹) over an area (m²)."""
    kg_per_s = np.asarray(flux_umol_m2_s) * np.asarray(area_m2) * 1e-6 * MOLAR_MASS_CO2
    return kg_per_s * SECONDS_PER_HOUR / 1000.0


def rate_t_per_yr_to_umol_per_s(rate_t_yr):
    """A point-source emission rate in t yr⁻¹ of CO2 as µmol s⁻¹."""
    return np.asarray(rate_t_yr) * 1000.0 / SECONDS_PER_YEAR / MOLAR_MASS_CO2 * 1e6


def air_molar_density(pressure_pa, temperature_k):
    """Molar density of air (mol m⁻³) from the ideal gas law."""
    return np.asarray(pressure_pa) / (GAS_CONSTANT * np.asarray(temperature_k))
