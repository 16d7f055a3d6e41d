"""Monitoring sites: towers that observe the city and background sites."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from .csvfile import read_table

SITE_COLUMNS = ("site", "lat", "lon", "inlet_height_m", "role")
#: tower: observes the city (enters the inversion); background: a candidate background
#: site (observations.background_site picks one when there are several); other: kept in
#: the outputs, not used (a flux tower, an instrument being compared).
ROLES = ("tower", "background", "other")
#: Allowed range of every numeric column (inclusive).
RANGES = {"lat": (-90.0, 90.0), "lon": (-180.0, 360.0), "inlet_height_m": (0.0, 1000.0)}


def read_sites(path: Path) -> pd.DataFrame:
    """Read the sites CSV and validate it.

    Required columns: site, lat, lon, inlet_height_m, role; ``name`` is optional (the
    site id is used) and any other column is kept.

    Raises
    ------
    InputError
        One line naming the file, line and column at fault and what was expected.
    """
    sites, line = read_table(path, dtype={"site": str, "name": str, "role": str})
    missing = [c for c in SITE_COLUMNS if c not in sites.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {missing}; expected {list(SITE_COLUMNS)}")
    if sites.empty:
        raise InputError(f"{path}: no sites")

    def first(bad) -> int:
        return int(np.flatnonzero(np.asarray(bad))[0])

    if sites["site"].isna().any():
        raise InputError(f"{path}: line {line[first(sites['site'].isna())]}, column site: "
                         "empty; every site needs an id")
    duplicated = sites["site"].duplicated()
    if duplicated.any():
        row = first(duplicated)
        earlier = first(sites["site"] == sites["site"].iloc[row])
        raise InputError(f"{path}: line {line[row]}, column site: duplicate site id "
                         f"{sites['site'].iloc[row]!r} (also on line {line[earlier]})")
    if "name" not in sites.columns:
        sites["name"] = sites["site"]
    sites["name"] = sites["name"].fillna(sites["site"])
    for column, (low, high) in RANGES.items():
        text = sites[column]
        values = pd.to_numeric(text, errors="coerce").astype(float)
        bad = ~np.isfinite(values)
        if bad.any():
            row = first(bad)
            shown = ("is empty" if pd.isna(text.iloc[row]) else
                     f"{str(text.iloc[row])!r} is not a number")
            raise InputError(f"{path}: line {line[row]}: {column} {shown}; expected a number "
                             f"between {low:g} and {high:g}")
        outside = (values < low) | (values > high)
        if outside.any():
            row = first(outside)
            raise InputError(f"{path}: line {line[row]}: {column} {values.iloc[row]:g} is out "
                             f"of range; expected between {low:g} and {high:g}")
        sites[column] = values
    bad_role = ~sites["role"].isin(ROLES)
    if bad_role.any():
        row = first(bad_role)
        role = sites["role"].iloc[row]
        shown = "no role" if pd.isna(role) else f"role {role!r}"
        raise InputError(f"{path}: line {line[row]}: site {sites['site'].iloc[row]!r} has "
                         f"{shown}; expected one of {ROLES}")
    if not (sites.role == "tower").any():
        raise InputError(f"{path}: no site with role 'tower'")
    return sites.reset_index(drop=True)


def background_site(sites: pd.DataFrame, requested: str | None, where: str) -> str:
    """The id of the background site: ``requested`` or the only site of role background."""
    candidates = sites.site[sites.role == "background"].tolist()
    listed = ", ".join(candidates) or "none"
    if requested is not None:
        if requested not in set(sites.site):
            raise InputError(f"{where}: observations.background_site {requested!r} is not in "
                             f"the sites file (sites: {', '.join(sites.site)})")
        role = sites.role[sites.site == requested].iloc[0]
        if role != "background":
            raise InputError(f"{where}: observations.background_site {requested!r} has role "
                             f"{role!r}; it must be a site of role 'background' (those: "
                             f"{listed})")
        return requested
    if not candidates:
        raise InputError(f"{where}: no site has role 'background'; the sites file needs one "
                         "(its records are the background subtracted from the towers')")
    if len(candidates) > 1:
        raise InputError(f"{where}: found {len(candidates)} sites of role 'background' "
                         f"({listed}); set observations.background_site to choose one")
    return candidates[0]


def tower_sites(sites: pd.DataFrame) -> pd.DataFrame:
    return sites[sites.role == "tower"].reset_index(drop=True)
