"""Unit conversions (cityflux.units), checked against hand-computed values."""

import numpy as np
import pytest

from cityflux.errors import InputError
from cityflux.units import (
    SECONDS_PER_YEAR,
    UnitKind,
    air_molar_density,
    convert,
    emission_rate_factor,
    flux_factor,
    flux_to_rate_t_per_h,
    line_emission_factor,
    rate_t_per_yr_to_umol_per_s,
    unit_kind,
)

M_CO2 = 0.0440095  # kg/mol
M_C = 0.012011  # kg/mol
C_TO_CO2 = 44.0095 / 12.011
YEAR = 365.25 * 86400.0
DAY = 86400.0
HOUR = 3600.0

FLUX_EXPECTED = "expected a flux such as 'umol m-2 s-1' or 'kg m-2 s-1'"


# --- flux_factor -------------------------------------------------------------------------

@pytest.mark.parametrize("units, factor", [
    ("umol m-2 s-1", 1.0),
    ("mol m-2 s-1", 1e6),
    ("kg m-2 s-1", 1e6 / M_CO2),
    ("g m-2 s-1", 1e3 / M_CO2),
    ("kg m-2 yr-1", 1e6 / M_CO2 / YEAR),
])
def test_flux_factor_canonical(units, factor):
    assert flux_factor(units) == pytest.approx(factor, rel=1e-12)


def test_flux_factor_hand_values():
    # 1 kg CO2 m-2 s-1 = 1 / 0.0440095 mol = 22.7224 mol = 2.27224e7 umol
    assert flux_factor("kg m-2 s-1") == pytest.approx(2.272236e7, rel=1e-6)
    # 1 kg m-2 yr-1 = 2.27224e7 / 31,557,600 s ≈ 0.720028 umol m-2 s-1
    assert flux_factor("kg m-2 yr-1") == pytest.approx(0.720028, rel=1e-6)


@pytest.mark.parametrize("units, factor", [
    # 1 kg m-2 h-1 = 1/0.0440095 mol / 3600 s = 6311.77 umol m-2 s-1
    ("kg m-2 h-1", 1e6 / M_CO2 / HOUR),
    ("g m-2 h-1", 1e3 / M_CO2 / HOUR),
    # 1 t km-2 yr-1 = 1000 kg / 1e6 m2 / yr
    ("t km-2 yr-1", 1e3 / 1e6 * 1e6 / M_CO2 / YEAR),
    # 1 g C m-2 d-1 = 1/12.011 mol of C = as many mol of CO2, per 86400 s
    ("g C m-2 d-1", 1 / 12.011 / DAY * 1e6),
    ("gC m-2 d-1", 1 / 12.011 / DAY * 1e6),
    ("kgC m-2 s-1", 1e3 / 12.011 * 1e6),
    ("kg CO2 m-2 s-1", 1e6 / M_CO2),
    ("kgCO2 m-2 s-1", 1e6 / M_CO2),
    # 1 tC/km2/yr = 1e6 g C / 1e6 m2 / yr = 1/12.011 mol m-2 yr-1
    ("tC/km2/yr", 1 / 12.011 / YEAR * 1e6),
    ("mol C m-2 s-1", 1e6),
    ("nmol m-2 s-1", 1e-3),
    ("1e-6 mol m-2 s-1", 1.0),
])
def test_flux_factor_other_units(units, factor):
    assert flux_factor(units) == pytest.approx(factor, rel=1e-12)


@pytest.mark.parametrize("units, canonical", [
    ("µmol/m2/s", "umol m-2 s-1"),       # micro sign U+00B5
    ("μmol/m2/s", "umol m-2 s-1"),       # Greek mu U+03BC
    ("µmol m-2 s-1", "umol m-2 s-1"),
    ("  umol   m-2  s-1 ", "umol m-2 s-1"),
    ("umol/m2/s", "umol m-2 s-1"),
    ("umol/(m2 s)", "umol m-2 s-1"),
    ("umol m-2 s-1", "umol m^-2 s^-1"),
    ("mol/m2/s", "mol m-2 s-1"),
    ("mol m^-2 s^-1", "mol m-2 s-1"),
    ("kg/m2/s", "kg m-2 s-1"),
    ("kg m**-2 s**-1", "kg m-2 s-1"),     # ERA5
    ("kg.m-2.s-1", "kg m-2 s-1"),
    ("kg*m-2*s-1", "kg m-2 s-1"),
    ("kg m⁻² s⁻¹", "kg m-2 s-1"),
    ("s-1 m-2 kg", "kg m-2 s-1"),
    ("g/m2/s", "g m-2 s-1"),
    ("kg/m2/yr", "kg m-2 yr-1"),
    ("kg/m2/a", "kg m-2 yr-1"),
    ("kg m-2 year-1", "kg m-2 yr-1"),
    ("kg m-2/yr", "kg m-2 yr-1"),
    ("g C m-2 d-1", "gC/m2/d"),
    ("g C m-2 d-1", "g C m-2 day-1"),
    ("kg m-2 h-1", "kg m-2 hr-1"),
])
def test_flux_factor_spelling_variants(units, canonical):
    assert flux_factor(units) == flux_factor(canonical)


@pytest.mark.parametrize("units", ["", "ppm", "umol m-2", "umol m-2 s-1 extra", "kg m-2",
                                   "t yr-1", "m s-1", "furlongs m-2 s-1", "\x00\xff",
                                   "umol/m2 s", "kg/", "(kg m-2 s-1", "kg m-2 s-1)", "**2",
                                   "0 kg m-2 s-1", "kg C CO2 m-2 s-1", "kg C-1 m-2 s-1"])
def test_flux_factor_refused(units):
    with pytest.raises(InputError) as info:
        flux_factor(units, "prior.nc: flux")
    message = str(info.value)
    assert message.startswith("prior.nc: flux: flux units")
    assert repr(units) in message
    assert FLUX_EXPECTED in message
    assert "\n" not in message


def test_flux_factor_species_argument():
    carbon = flux_factor("g m-2 d-1", species="C")
    assert carbon == pytest.approx(1 / 12.011 / DAY * 1e6, rel=1e-12)
    assert carbon == flux_factor("g C m-2 d-1")
    assert flux_factor("g C m-2 d-1", species="C") == carbon
    assert flux_factor("g m-2 d-1", species="CO2") == flux_factor("g m-2 d-1")
    # amounts are the same for carbon and CO2
    assert flux_factor("umol m-2 s-1", species="C") == 1.0
    with pytest.raises(InputError, match=r"^prior.nc: flux: flux units 'g C m-2 d-1' .*"
                                         r"conflicts with species='CO2'"):
        flux_factor("g C m-2 d-1", "prior.nc: flux", species="CO2")


# --- emission_rate_factor ---------------------------------------------------------------

@pytest.mark.parametrize("units, factor", [
    ("t yr-1", 1e3 / YEAR),
    # 1 kt yr-1 = 1e6 kg / 31,557,600 s: kilotonnes, not knots
    ("kt yr-1", 1e6 / YEAR),
    # 1 Mt yr-1 = 1e9 kg / 31,557,600 s = 31.6881 kg s-1
    ("Mt yr-1", 1e9 / YEAR),
    ("Gg yr-1", 1e6 / YEAR),
    ("kg s-1", 1.0),
    ("kg h-1", 1 / HOUR),
    ("g s-1", 1e-3),
    ("mol s-1", M_CO2),
    ("t d-1", 1e3 / DAY),
    ("t C yr-1", 1e3 / YEAR * C_TO_CO2),
    ("MtC/yr", 1e9 / YEAR * C_TO_CO2),
    ("tCO2 yr-1", 1e3 / YEAR),
    ("GgC yr-1", 1e6 / YEAR * C_TO_CO2),
    ("ktCO2/yr", 1e6 / YEAR),
])
def test_emission_rate_factor(units, factor):
    assert emission_rate_factor(units) == pytest.approx(factor, rel=1e-12)


def test_emission_rate_hand_values():
    assert emission_rate_factor("Mt yr-1") == pytest.approx(31.6881, rel=1e-5)
    assert emission_rate_factor("t C yr-1") / emission_rate_factor("t CO2 yr-1") == \
        pytest.approx(44.0095 / 12.011, rel=1e-12)
    # the Julian year of SECONDS_PER_YEAR
    assert emission_rate_factor("kg yr-1") == pytest.approx(1 / SECONDS_PER_YEAR, rel=1e-15)
    assert emission_rate_factor("kg a-1") == emission_rate_factor("kg yr-1")


@pytest.mark.parametrize("units, same", [
    ("t/yr", "t yr-1"), ("t/a", "t yr-1"), ("tonne yr-1", "t yr-1"), ("t year-1", "t yr-1"),
    ("t C yr-1", "tC/yr"), ("t C yr-1", "tC yr-1"), ("kg/h", "kg h-1"), ("kg/hr", "kg h-1"),
    ("kt yr-1", "kt/yr"), ("Mt yr-1", "Mt/a"), ("t CO2 yr-1", "tCO2/yr"),
])
def test_emission_rate_spelling_variants(units, same):
    assert emission_rate_factor(units) == emission_rate_factor(same)


def test_kt_is_kilotonne_in_emission_contexts():
    assert emission_rate_factor("kt yr-1") == pytest.approx(
        emission_rate_factor("kilotonne yr-1"), rel=1e-15)
    assert emission_rate_factor("kt yr-1") == pytest.approx(1000 * emission_rate_factor("t yr-1"),
                                                            rel=1e-12)
    assert flux_factor("kt km-2 yr-1") == pytest.approx(1e6 / 1e6 * 1e6 / M_CO2 / YEAR, rel=1e-12)
    assert line_emission_factor("kt km-1 yr-1") == pytest.approx(1e6 / 1e3 / YEAR, rel=1e-12)
    assert unit_kind("kt") is UnitKind.MASS


def test_emission_rate_species_argument():
    assert emission_rate_factor("t yr-1", species="C") == emission_rate_factor("t C yr-1")
    assert emission_rate_factor("t yr-1", species="CO2") == emission_rate_factor("t yr-1")
    assert emission_rate_factor("tC yr-1", species="C") == emission_rate_factor("t C yr-1")
    assert emission_rate_factor("mol s-1", species="C") == pytest.approx(M_CO2, rel=1e-15)
    for units, species in [("tC yr-1", "CO2"), ("t CO2 yr-1", "C")]:
        with pytest.raises(InputError) as info:
            emission_rate_factor(units, "sources.csv: rate", species=species)
        message = str(info.value)
        assert message.startswith("sources.csv: rate: ")
        assert repr(units) in message and "conflicts" in message
    with pytest.raises(InputError, match="'CH4' is neither 'C' nor 'CO2'"):
        emission_rate_factor("t yr-1", "sources.csv: rate", species="CH4")


@pytest.mark.parametrize("units", ["kg m-2", "m s-1", "kg m-2 s-1", "t", "ppm", "", "t/yr/",
                                   "ton yr-1", "furlongs", "blorps yr-1", "\x00\xff"])
def test_emission_rate_refused(units):
    with pytest.raises(InputError) as info:
        emission_rate_factor(units, "sources.csv: rate")
    message = str(info.value)
    assert message.startswith("sources.csv: rate: emission rate units")
    assert repr(units) in message
    assert "expected an emission rate such as 't yr-1' or 'kg s-1'" in message


def test_unknown_token_is_named():
    with pytest.raises(InputError, match="unknown unit 'blorps'"):
        emission_rate_factor("blorps yr-1")


# --- line_emission_factor ---------------------------------------------------------------

@pytest.mark.parametrize("units, factor", [
    ("t km-1 yr-1", 1e3 / 1e3 / YEAR),
    ("t/km/yr", 1e3 / 1e3 / YEAR),
    ("kg m-1 s-1", 1.0),
    ("g km-1 h-1", 1e-3 / 1e3 / HOUR),
    ("t C km-1 yr-1", 1e3 / 1e3 / YEAR * C_TO_CO2),
    ("mol m-1 s-1", M_CO2),
])
def test_line_emission_factor(units, factor):
    assert line_emission_factor(units) == pytest.approx(factor, rel=1e-12)


@pytest.mark.parametrize("units", ["t yr-1", "kg m-2 s-1", "m", ""])
def test_line_emission_refused(units):
    with pytest.raises(InputError) as info:
        line_emission_factor(units, "roads.gpkg: emission")
    message = str(info.value)
    assert message.startswith("roads.gpkg: emission: ") and repr(units) in message
    assert "'t km-1 yr-1'" in message


# --- unit_kind -------------------------------------------------------------------------

@pytest.mark.parametrize("units, kind", [
    ("kg m-2 s-1", UnitKind.FLUX), ("umol m-2 s-1", UnitKind.FLUX),
    ("tC/km2/yr", UnitKind.FLUX),
    ("t yr-1", UnitKind.RATE), ("mol s-1", UnitKind.RATE), ("kt yr-1", UnitKind.RATE),
    ("t km-1 yr-1", UnitKind.LINE_RATE), ("kg m-1 s-1", UnitKind.LINE_RATE),
    ("t", UnitKind.MASS), ("Mt CO2", UnitKind.MASS), ("mol", UnitKind.MASS),
    ("ppm", UnitKind.OTHER), ("m s-1", UnitKind.OTHER), ("kg m-2", UnitKind.OTHER),
    ("ppm (umol-1 m2 s)", UnitKind.OTHER),
])
def test_unit_kind(units, kind):
    assert unit_kind(units) is kind


@pytest.mark.parametrize("units", ["", "blorps", "\x00\xff", "kg//s"])
def test_unit_kind_refused(units):
    with pytest.raises(InputError) as info:
        unit_kind(units, "inventory.nc: emission")
    message = str(info.value)
    assert message.startswith("inventory.nc: emission: ") and repr(units) in message


# --- convert ---------------------------------------------------------------------------

def test_convert_speeds():
    assert convert(1.0, "m s**-1", "m s-1") == 1.0
    assert convert(36.0, "km h-1", "m s-1") == pytest.approx(10.0, rel=1e-12)
    assert convert(36.0, "km/h", "m/s") == pytest.approx(10.0, rel=1e-12)
    # 1 knot = 1852 m / 3600 s
    np.testing.assert_allclose(convert(np.array([1.0, 10.0]), "knot", "m s-1"),
                               np.array([1.0, 10.0]) * 1852 / 3600, rtol=1e-12)


def test_convert_pressure_and_length():
    assert convert(1013.25, "hPa", "Pa") == pytest.approx(101325.0, rel=1e-12)
    assert convert(101325.0, "Pa", "hPa") == pytest.approx(1013.25, rel=1e-12)
    assert convert(1.5, "km", "m") == pytest.approx(1500.0, rel=1e-12)


def test_convert_temperature_is_affine():
    assert convert(20.0, "degC", "K") == pytest.approx(293.15, rel=1e-12)
    assert convert(0.0, "celsius", "K") == pytest.approx(273.15, rel=1e-12)
    assert convert(300.0, "K", "degC") == pytest.approx(26.85, rel=1e-12)
    temps = convert(np.array([[-10.0, 0.0], [10.0, 25.0]]), "degC", "K")
    np.testing.assert_allclose(temps, np.array([[263.15, 273.15], [283.15, 298.15]]),
                               rtol=1e-12)


def test_convert_keeps_scalars_and_shapes():
    assert isinstance(convert(1, "km", "m"), float)
    assert convert([1.0, 2.0], "km", "m").shape == (2,)


@pytest.mark.parametrize("units, target, text", [
    ("kt", "m s-1", "'knot'"),                 # ambiguous: knot or kilotonne
    ("m s-1", "K", "'K'"),                     # dimensions differ
    ("ppm", "m s-1", "'m s-1'"),
    ("C", "K", "degC"),                        # 'C' is not Celsius
    ("blorps", "m", "unknown unit 'blorps'"),
    ("", "m s-1", "'m s-1'"),
    ("\x00\xff", "K", "'K'"),
    ("degC s-1", "K s-1", "'K s-1'"),
])
def test_convert_refused(units, target, text):
    with pytest.raises(InputError) as info:
        convert(1.0, units, target, where="met.nc: wind")
    message = str(info.value)
    assert message.startswith("met.nc: wind: units")
    assert repr(units) in message and text in message


def test_convert_bad_target():
    with pytest.raises(InputError, match=r"^met.nc: wind: target units 'blorps'"):
        convert(1.0, "m", "blorps", where="met.nc: wind")


# --- fixed helpers ---------------------------------------------------------------------

def test_flux_to_rate_hand_example():
    # 2 umol m-2 s-1 over 3 km² = 6e6 umol/s = 6 mol/s = 0.264057 kg/s = 950.605 kg/h
    assert flux_to_rate_t_per_h(2.0, 3e6) == pytest.approx(6 * M_CO2 * 3600 / 1000, rel=1e-12)
    assert flux_to_rate_t_per_h(2.0, 3e6) == pytest.approx(0.950605, rel=1e-6)


def test_flux_to_rate_broadcasts():
    flux = np.array([[1.0], [2.0]])
    area = np.array([1e6, 2e6, 4e6])
    rate = flux_to_rate_t_per_h(flux, area)
    assert rate.shape == (2, 3)
    np.testing.assert_allclose(rate, flux * area * 1e-6 * M_CO2 * 3.6, rtol=1e-12)
    assert flux_to_rate_t_per_h(-1.0, 1e6) < 0


def test_rate_per_year_to_umol_per_s():
    # 1 Mt/yr = 1e9 kg / 31,557,600 s = 31.688 kg/s = 720.03 mol/s
    assert rate_t_per_yr_to_umol_per_s(1e6) == pytest.approx(720.03e6, rel=1e-4)
    assert rate_t_per_yr_to_umol_per_s(1e6) == pytest.approx(1e9 / YEAR / M_CO2 * 1e6, rel=1e-12)


def test_rate_round_trip():
    rates = np.array([0.5, 1e3, 2.5e6])
    umol_s = rate_t_per_yr_to_umol_per_s(rates)
    # back by hand: umol/s → t/h with flux_to_rate (flux × area = umol/s, area 1 m²) → t/yr
    t_per_yr = flux_to_rate_t_per_h(umol_s, 1.0) * YEAR / 3600.0
    np.testing.assert_allclose(t_per_yr, rates, rtol=1e-12)


def test_air_molar_density():
    assert air_molar_density(101325.0, 288.15) == pytest.approx(42.29, abs=0.01)
    assert air_molar_density(101325.0, 288.15) == pytest.approx(101325 / (8.314462618 * 288.15),
                                                                rel=1e-12)
    dens = air_molar_density(np.array([100000.0, 50000.0]), np.array([300.0, 300.0]))
    assert dens[0] == pytest.approx(2 * dens[1])
