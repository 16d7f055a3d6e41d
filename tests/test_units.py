"""Unit conversions (cityflux.units), checked against hand-computed values."""

import numpy as np
import pytest

from cityflux.errors import InputError
from cityflux.units import (
    air_molar_density,
    flux_factor,
    flux_to_rate_t_per_h,
    rate_t_per_yr_to_umol_per_s,
)

M_CO2 = 0.0440095  # kg/mol
YEAR = 365.25 * 86400.0


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


@pytest.mark.parametrize("units, canonical", [
    ("µmol/m2/s", "umol m-2 s-1"),       # micro sign U+00B5
    ("μmol/m2/s", "umol m-2 s-1"),       # Greek mu U+03BC
    ("µmol m-2 s-1", "umol m-2 s-1"),
    ("  umol   m-2  s-1 ", "umol m-2 s-1"),
    ("umol/m2/s", "umol m-2 s-1"),
    ("mol/m2/s", "mol m-2 s-1"),
    ("kg/m2/s", "kg m-2 s-1"),
    ("g/m2/s", "g m-2 s-1"),
    ("kg/m2/yr", "kg m-2 yr-1"),
    ("kg/m2/a", "kg m-2 yr-1"),
    ("kg m-2/yr", "kg m-2 yr-1"),
])
def test_flux_factor_spelling_variants(units, canonical):
    assert flux_factor(units) == flux_factor(canonical)


@pytest.mark.parametrize("units", ["", "ppm", "kg m-2 h-1", "umol m-2", "tC/km2/yr",
                                   "umol m-2 s-1 extra"])
def test_flux_factor_unknown_units(units):
    with pytest.raises(InputError) as info:
        flux_factor(units, "prior.nc: flux")
    message = str(info.value)
    assert message.startswith("prior.nc: flux: flux units")
    assert repr(units) in message
    assert "umol m-2 s-1" in message and "kg m-2 s-1" in message


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
