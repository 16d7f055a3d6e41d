"""Unit conversions, all in one place.

Inside cityflux fluxes are µmol m⁻² s⁻¹, mole fractions ppm (µmol mol⁻¹) in files and
footprints ppm per (µmol m⁻² s⁻¹). Emission rates of regions are reported in t h⁻¹ and
period totals in t, both of CO2 mass.

Unit strings from files are read in three steps, never by comparing strings:

1. a small tokenizer and parser for the UDUNITS/CF spellings (``kg m-2 s-1``, ``kg/m2/s``,
   ``kg m**-2 s**-1``, ``µmol m^-2 s^-1``, ``kg.m-2.s-1``, ``umol/(m2 s)``, ``1e-6 mol m-2 s-1``)
   that yields (name, exponent) pairs and a numeric factor;
2. species tokens (``C``, ``CO2``, alone or glued to a mass: ``tC``, ``MtCO2``) are taken out,
   and names are mapped to their UDUNITS meaning (``yr``, ``a``: Julian year; ``d``: day;
   ``h``, ``hr``: hour; ``kt``: kilotonne in emission contexts, refused elsewhere);
3. pint reads the remaining names and does the arithmetic and the dimension checks.
"""

from __future__ import annotations

import enum
import functools
import operator
import re
from dataclasses import dataclass

import numpy as np
import pint

from .errors import InputError

#: Molar mass of CO2 in kg mol⁻¹.
MOLAR_MASS_CO2 = 44.0095e-3
#: Molar mass of carbon in kg mol⁻¹.
MOLAR_MASS_C = 12.011e-3
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


class UnitKind(enum.Enum):
    """What an emission-like unit measures; the value describes it in words."""

    FLUX = "a flux (mass or amount per area per time)"
    RATE = "an emission rate (mass or amount per time)"
    LINE_RATE = "a line emission (mass or amount per length per time)"
    MASS = "a mass or amount"
    OTHER = "not an emission quantity"


# Dimensions of each kind apart from the [mass] or [substance] in the numerator.
_KIND_DIMENSIONS = {
    UnitKind.FLUX: {"[length]": -2, "[time]": -1},
    UnitKind.RATE: {"[time]": -1},
    UnitKind.LINE_RATE: {"[length]": -1, "[time]": -1},
    UnitKind.MASS: {},
}
# The same dimensions as pint unit expressions, for the conversions.
_KIND_SI = {UnitKind.FLUX: "/ meter ** 2 / second", UnitKind.RATE: "/ second",
            UnitKind.LINE_RATE: "/ meter / second", UnitKind.MASS: ""}
_EXPECTED = {
    UnitKind.FLUX: "a flux such as 'umol m-2 s-1' or 'kg m-2 s-1'",
    UnitKind.RATE: "an emission rate such as 't yr-1' or 'kg s-1'",
    UnitKind.LINE_RATE: "an emission per length such as 't km-1 yr-1' or 'kg m-1 s-1'",
}
_WHAT = {UnitKind.FLUX: "flux units", UnitKind.RATE: "emission rate units",
         UnitKind.LINE_RATE: "line emission units"}

_SPECIES = ("CO2", "C")  # "CO2" first, so that "tCO2" is t of CO2
# UDUNITS meanings, applied before pint reads a name (pint's "year" is the Julian year).
_ALIASES = {"yr": "year", "a": "year", "d": "day", "h": "hour", "hr": "hour", "%": "percent"}
_EMISSION_ALIASES = {"kt": "kilotonne"}
_AMBIGUOUS = {
    "kt": "'kt' is ambiguous: write 'knot' for a speed or 'kilotonne' for a mass",
    "ton": "'ton' is ambiguous: write 't' or 'tonne' for the metric tonne",
    "tons": "'tons' is ambiguous: write 't' or 'tonne' for the metric tonne",
}
_CHARACTERS = str.maketrans({"µ": "u", "μ": "u", "²": "2", "³": "3", "¹": "1", "⁻": "-",
                             "·": "*"})
_TOKEN = re.compile(r"""
      (?P<space>\s+)
    | (?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)
    | (?P<name>[A-Za-z_]*CO2(?![A-Za-z0-9_])|[A-Za-z_]+|%)(?P<glued>[+-]?\d+)?
    | (?:\*\*|\^)\s*(?:(?P<power>[+-]?\d+)|\(\s*(?P<bracketed>[+-]?\d+)\s*\))
    | (?P<op>[*./()])
""", re.VERBOSE)


class _Problem(Exception):
    """Why a unit string was not understood; turned into an InputError naming the input."""


@dataclass(frozen=True)
class _Parsed:
    unit: pint.Unit           # the unit without numeric factor and species
    scale: float              # numeric factor written in the string, e.g. 1e-6
    species: str | None       # "C", "CO2" or None
    kind: UnitKind
    mass: bool                # True for a mass, False for an amount (mol)


@functools.cache
def _registry() -> pint.UnitRegistry:
    return pint.UnitRegistry(cache_folder=None)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise _Problem(f"unexpected character {text[pos]!r} at position {pos}")
        pos = match.end()
        if match["name"]:
            tokens.append(("name", match["name"]))
            if match["glued"]:
                tokens.append(("power", match["glued"]))
        elif match["power"] or match["bracketed"]:
            tokens.append(("power", match["power"] or match["bracketed"]))
        elif match["number"] or match["op"]:
            tokens.append(("number", match["number"]) if match["number"] else ("op", match["op"]))
    return tokens


class _Parser:
    """Recursive descent over the tokens: product := factor (('/' | '*' | '.' | ' ') factor)*,
    factor := (name | number | '(' product ')') [power]. A chain of '/' divides by each
    factor (kg/m2/s); a product after a '/' (umol/m2 s) is refused as ambiguous."""

    def __init__(self, tokens):
        self.tokens, self.pos = tokens, 0

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else (None, "")

    def take(self):
        token = self.peek()
        self.pos += 1
        return token

    def parse(self) -> tuple[float, list[tuple[str, int]]]:
        if not self.tokens:
            raise _Problem("no unit given")
        result = self.product()
        if self.pos < len(self.tokens):
            raise _Problem("unbalanced parentheses")
        return result

    def product(self):
        scale, factors = self.factor()
        divided = False
        while self.peek()[0] is not None and self.peek() != ("op", ")"):
            sign = 1
            if self.peek() == ("op", "/"):
                self.take()
                sign, divided = -1, True
            elif divided:
                raise _Problem("ambiguous product after '/': write 'a/(b c)' or 'a b-1 c-1'")
            elif self.peek()[0] == "op" and self.peek()[1] in "*.":
                self.take()
            more_scale, more = self.factor()
            scale *= more_scale ** sign
            factors += [(name, exponent * sign) for name, exponent in more]
        return scale, factors

    def factor(self):
        kind, text = self.take()
        if kind == "number":
            scale, factors = float(text), []
        elif kind == "name":
            scale, factors = 1.0, [(text, 1)]
        elif (kind, text) == ("op", "("):
            scale, factors = self.product()
            if self.take() != ("op", ")"):
                raise _Problem("unbalanced parentheses")
        elif kind == "power":
            raise _Problem(f"exponent {text} without a unit before it")
        else:
            raise _Problem(f"unexpected {text!r}" if kind else "a unit is missing at the end")
        if self.peek()[0] == "power":
            power = int(self.take()[1])
            scale, factors = scale ** power, [(name, e * power) for name, e in factors]
        return scale, factors


def _pint_name(name: str, emission: bool) -> str:
    """The pint name of one unit token (``kt`` → ``kilometric_ton`` in emission contexts)."""
    if name in _AMBIGUOUS and not (emission and name in _EMISSION_ALIASES):
        raise _Problem(_AMBIGUOUS[name])
    name = _EMISSION_ALIASES.get(name, name) if emission else name
    try:
        return _registry().get_name(_ALIASES.get(name, name))
    except (pint.PintError, AttributeError, ValueError, KeyError, TypeError):
        raise _Problem(f"unknown unit {name!r}") from None


def _split_species(name: str, emission: bool) -> tuple[str, str | None]:
    """(pint name or '', species) of a token: 'C' → ('', 'C'), 'MtCO2' → ('megametric_ton',
    'CO2'), 'degC' → ('degree_Celsius', None)."""
    for species in _SPECIES:
        if not name.endswith(species):
            continue
        prefix = name[: -len(species)]
        if not prefix:
            return "", species
        try:
            unit = _pint_name(prefix, emission)
        except _Problem:
            continue
        if _registry().get_dimensionality(unit) in ({"[mass]": 1}, {"[substance]": 1}):
            return unit, species
    return _pint_name(name, emission), None


def _normal_species(species: str | None) -> str | None:
    if species is None or not str(species).strip():
        return None
    upper = str(species).strip().upper()
    if upper not in _SPECIES:
        raise _Problem(f"species {species!r} is neither 'C' nor 'CO2'")
    return upper


def _parse(units: str, species: str | None, emission: bool) -> _Parsed:
    if not isinstance(units, str) or not isinstance(species, (str, type(None))):
        raise _Problem(f"units and species must be strings, not {type(units).__name__} "
                       f"and {type(species).__name__}")
    return _parse_cached(units, species, emission)


@functools.lru_cache(maxsize=512)
def _parse_cached(units: str, species: str | None, emission: bool) -> _Parsed:
    scale, factors = _Parser(_tokenize(units.translate(_CHARACTERS).strip())).parse()
    if not (np.isfinite(scale) and scale > 0):
        raise _Problem(f"the numeric factor {scale!r} is not a positive number")
    exponents, found = {}, set()
    for token, exponent in factors:
        name, token_species = _split_species(token, emission)
        if token_species:
            if exponent != 1:
                raise _Problem(f"species {token_species!r} can only multiply a mass")
            found.add(token_species)
        if name:
            exponents[name] = exponents.get(name, 0) + exponent
    if len(found) > 1:
        raise _Problem("it names both C and CO2")
    in_text, given = (found.pop() if found else None), _normal_species(species)
    if in_text and given and in_text != given:
        raise _Problem(f"its species {in_text!r} conflicts with species={species!r}")
    registry = _registry()
    unit = functools.reduce(operator.mul, (registry.Unit(name) ** exponent
                                           for name, exponent in sorted(exponents.items())
                                           if exponent), registry.Unit(""))
    dimensions = dict(unit.dimensionality)
    for kind, rest in _KIND_DIMENSIONS.items():
        for base in ("[mass]", "[substance]"):
            if dimensions == {base: 1, **rest}:
                return _Parsed(unit, scale, in_text or given, kind, base == "[mass]")
    return _Parsed(unit, scale, in_text or given, UnitKind.OTHER, False)


def _describe(parsed: _Parsed) -> str:
    if parsed.kind is not UnitKind.OTHER:
        return f"it is {parsed.kind.value}"
    dimensions = str(parsed.unit.dimensionality)
    return "it is dimensionless" if dimensions == "dimensionless" else f"it is {dimensions}"


def _emission_factor(units, where, species, kind: UnitKind, mol_out: bool) -> float:
    """Factor to CO2 per SI `kind` dimensions: µmol (mol_out) or kg of CO2."""
    try:
        parsed = _parse(units, species, True)
        if parsed.kind is not kind:
            raise _Problem(_describe(parsed))
    except _Problem as problem:
        raise InputError(f"{where}: {_WHAT[kind]} {units!r} not understood: {problem}; "
                         f"expected {_EXPECTED[kind]}") from None
    base = "kilogram" if parsed.mass else ("micromole" if mol_out else "mole")
    quantity = _registry().Quantity(parsed.scale, parsed.unit)
    value = float(quantity.to(f"{base} {_KIND_SI[kind]}").magnitude)
    if not parsed.mass:
        return value if mol_out else value * MOLAR_MASS_CO2
    if parsed.species == "C":
        value *= MOLAR_MASS_CO2 / MOLAR_MASS_C
    return value / MOLAR_MASS_CO2 * 1e6 if mol_out else value


def flux_factor(units: str, where: str = "input", species: str | None = None) -> float:
    """Factor that converts a surface flux in ``units`` to µmol CO2 m⁻² s⁻¹.

    Parameters
    ----------
    units : str
        Any mass or amount per area per time, in UDUNITS/CF spelling: ``umol m-2 s-1``,
        ``kg m**-2 s**-1``, ``g C m-2 d-1``, ``tC/km2/yr``, ``µmol/m2/s`` …
    where : str
        Names the input (file and variable) in error messages.
    species : {"C", "CO2"} or None
        Whose mass the flux counts, when ``units`` does not say (e.g. a ``species`` attribute).
        Mass of carbon is scaled by 44.0095/12.011; amounts (mol) are the same for C and CO2.

    Returns
    -------
    float, µmol m⁻² s⁻¹ per (1 ``units``)

    Raises
    ------
    InputError
        If ``units`` is not a flux or ``species`` conflicts with the units.
    """
    return _emission_factor(units, where, species, UnitKind.FLUX, mol_out=True)


def emission_rate_factor(units: str, where: str = "input", species: str | None = None) -> float:
    """Factor that converts the emission rate of a source in ``units`` to kg CO2 s⁻¹.

    Parameters
    ----------
    units : str
        A mass or amount per time: ``t yr-1``, ``kt yr-1`` (kilotonnes), ``MtC/yr``,
        ``tCO2 yr-1``, ``kg h-1``, ``mol s-1`` …
    where : str
        Names the input in error messages.
    species : {"C", "CO2"} or None
        Whose mass the rate counts, when ``units`` does not say.

    Returns
    -------
    float, kg CO2 s⁻¹ per (1 ``units``)

    Raises
    ------
    InputError
        If ``units`` is not an emission rate or ``species`` conflicts with the units.
    """
    return _emission_factor(units, where, species, UnitKind.RATE, mol_out=False)


def line_emission_factor(units: str, where: str = "input", species: str | None = None) -> float:
    """Factor that converts an emission per length (roads) in ``units`` to kg CO2 s⁻¹ m⁻¹.

    Parameters
    ----------
    units : str
        A mass or amount per length per time: ``t km-1 yr-1``, ``kg m-1 s-1``, ``g km-1 h-1`` …
    where : str
        Names the input in error messages.
    species : {"C", "CO2"} or None
        Whose mass the emission counts, when ``units`` does not say.

    Returns
    -------
    float, kg CO2 s⁻¹ m⁻¹ per (1 ``units``)

    Raises
    ------
    InputError
        If ``units`` is not an emission per length or ``species`` conflicts with the units.
    """
    return _emission_factor(units, where, species, UnitKind.LINE_RATE, mol_out=False)


def unit_kind(units: str, where: str = "input") -> UnitKind:
    """What an emission-like unit measures: a flux density, a rate, a line rate or a mass.

    Tells a per-cell total (``t yr-1``) from a flux density (``kg m-2 s-1``). ``kt`` is read
    as kilotonne; species tokens are ignored.

    Parameters
    ----------
    units : str
        The unit string, in UDUNITS/CF spelling.
    where : str
        Names the input in error messages.

    Returns
    -------
    UnitKind
        ``OTHER`` for a valid unit of any other dimension (``ppm``, ``m s-1``).

    Raises
    ------
    InputError
        If ``units`` cannot be parsed.
    """
    try:
        return _parse(units, None, True).kind
    except _Problem as problem:
        raise InputError(f"{where}: units {units!r} not understood: {problem}") from None


def _general(units: str, where: str, role: str, target: str) -> _Parsed:
    try:
        parsed = _parse(units, None, False)
        if parsed.species:
            raise _Problem(f"a species ({parsed.species!r}) has no meaning here "
                           "(for degrees Celsius write 'degC')")
    except _Problem as problem:
        raise InputError(f"{where}: {role} {units!r} not understood: {problem}; "
                         f"expected units convertible to {target!r}") from None
    return parsed


def convert(values, units: str, target: str, where: str = "input"):
    """Convert values of a physical quantity from ``units`` to ``target``.

    Both units are in UDUNITS/CF spelling (``m s**-1``, ``km h-1``, ``knot``, ``hPa``,
    ``degC``, ``K`` …). Temperatures are converted affinely (0 degC = 273.15 K). A bare ``kt``
    is refused as ambiguous (knot or kilotonne).

    Parameters
    ----------
    values : float or array_like, in ``units``
        The values to convert.
    units : str
        Units of ``values``, e.g. from a NetCDF ``units`` attribute.
    target : str
        Units wanted.
    where : str
        Names the input (file and variable) in error messages.

    Returns
    -------
    float or numpy.ndarray, in ``target``
        A float for a scalar input, otherwise an array of the same shape.

    Raises
    ------
    InputError
        If a unit is unknown or the two do not measure the same quantity.
    """
    source = _general(units, where, "units", target)
    wanted = _general(target, where, "target units", target)
    found_dims, wanted_dims = source.unit.dimensionality, wanted.unit.dimensionality
    if found_dims != wanted_dims:
        raise InputError(f"{where}: units {units!r} ({found_dims}) cannot be converted to "
                         f"{target!r} ({wanted_dims})")
    array = np.asarray(values, dtype=float) * source.scale
    try:
        result = _registry().Quantity(array, source.unit).to(wanted.unit).magnitude / wanted.scale
    except pint.PintError:  # e.g. an offset unit inside a product: 'degC s-1'
        raise InputError(f"{where}: units {units!r} cannot be converted to {target!r}: "
                         "a temperature offset (degC) can only stand alone") from None
    return float(result) if np.ndim(values) == 0 else np.asarray(result)


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
