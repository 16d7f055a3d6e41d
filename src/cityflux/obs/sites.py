"""Monitoring sites: towers that observe the city and background sites."""

from __future__ import annotations

from pathlib import Path


import pandas as pd

from ..errors import InputError
from .csvfile import read_table

SITE_COLUMNS = ("site", "name", "lat", "lon", "inlet_height_m", "role")
ROLES = ("tower", "background")


def read_sites(path: Path) -> pd.DataFrame:
    """Read the sites CSV (site,name,lat,lon,inlet_height_m,role) and validate it."""
    sites, line = read_table(path, dtype={"site": str, "name": str, "role": str})
    missing = [c for c in SITE_COLUMNS if c not in sites.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {missing}; expected {list(SITE_COLUMNS)}")
    if sites.empty:
        raise InputError(f"{path}: no sites")
    for column in ("lat", "lon", "inlet_height_m"):
        values = pd.to_numeric(sites[column], errors="coerce")
        if values.isna().any():
            row = int(values.isna().to_numpy().nonzero()[0][0])
            raise InputError(f"{path}: line {line[row]}: {column} "
                             f"{str(sites[column].iloc[row])!r} is not a number")
        sites[column] = values.astype(float)
    if sites["site"].duplicated().any():
        raise InputError(f"{path}: duplicate site ids {sorted(sites.site[sites.site.duplicated()])}")
    bad_role = ~sites["role"].isin(ROLES)
    if bad_role.any():
        raise InputError(f"{path}: site {sites.site[bad_role].iloc[0]!r} has role "
                         f"{sites.role[bad_role].iloc[0]!r}; expected one of {ROLES}")
    if not (sites.lat.between(-90, 90).all() and sites.lon.between(-180, 360).all()):
        raise InputError(f"{path}: lat must be in [-90, 90] and lon in [-180, 360]")
    if (sites.inlet_height_m < 0).any():
        raise InputError(f"{path}: inlet_height_m must be >= 0")
    if not (sites.role == "tower").any():
        raise InputError(f"{path}: no site with role 'tower'")
    return sites.reset_index(drop=True)


def background_site(sites: pd.DataFrame, requested: str | None, where: str) -> str:
    """The id of the background site: ``requested`` or the only site of role background."""
    if requested is not None:
        if requested not in set(sites.site):
            raise InputError(f"{where}: observations.background_site {requested!r} is not in "
                             f"the sites file (sites: {', '.join(sites.site)})")
        return requested
    candidates = sites.site[sites.role == "background"].tolist()
    if len(candidates) != 1:
        raise InputError(f"{where}: found {len(candidates)} sites of role 'background'; "
                         "set observations.background_site to choose one")
    return candidates[0]


def tower_sites(sites: pd.DataFrame) -> pd.DataFrame:
    return sites[sites.role == "tower"].reset_index(drop=True)



