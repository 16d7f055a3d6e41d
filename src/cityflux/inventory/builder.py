"""Build an :class:`~cityflux.inventory.model.Inventory` from the sources a config lists."""

from __future__ import annotations

import logging

from ..units import MOLAR_MASS_CO2
from .areas import read_area_sources
from .gridded import read_domain_flux, read_gridded_input
from .lines import read_line_sources
from .model import Inventory, ProfiledField
from .points import PointSources, read_point_sources
from .profiles import Profiles, read_profiles
from .rasterise import points_to_grid

log = logging.getLogger(__name__)


def build_inventory(spec, grid, utc_offset_hours: float, land_fraction=None,
                    source: str = "inventory") -> Inventory:
    """The inventory of a config ``InventoryConfig`` section on ``grid``.

    Point sources with a stack at least ``stack_min_height_m`` high stay point sources
    (their own plume and state elements); lower ones are added to their sector's gridded
    flux. ``land_fraction`` (ny, nx) spreads area sources without a proxy over land.
    """
    profiles = Profiles.builtin()
    user_profiles = Profiles()
    if spec.profiles is not None:
        user_profiles = read_profiles(spec.profiles)
        profiles = profiles.with_overrides(user_profiles)
    fields, points = [], PointSources.empty()
    if spec.point_sources is not None:
        everything = read_point_sources(spec.point_sources.file, grid)
        is_stack = everything.stack_height_m >= spec.point_sources.stack_min_height_m
        points = everything.subset(is_stack)
        fields += gridded_points(everything.subset(~is_stack), grid)
        log.info("%s: %d stack sources, %d small point sources gridded", source,
                 len(points), int((~is_stack).sum()))
    for lines in spec.line_sources:
        fields += read_line_sources(lines.file, grid)
    for areas in spec.area_sources:
        fields += read_area_sources(areas, grid, land_fraction)
    for gridded in spec.gridded:
        fields += read_gridded_input(gridded, grid)
    inventory = Inventory(grid, utc_offset_hours, profiles, tuple(fields), points, source)
    used = {f.profile for f in fields if isinstance(f, ProfiledField)} | set(points.profile)
    unknown = sorted(used - set(profiles.tables))
    if unknown:
        log.info("%s: no temporal profile for %s: constant in time", source, ", ".join(unknown))
    unused = sorted(set(user_profiles.tables) - used)
    if unused:  # most likely a misspelt sector or profile name
        log.warning("%s: profile(s) %s of %s are used by no source (sectors and profiles in "
                    "use: %s)", source, ", ".join(map(repr, unused)), spec.profiles,
                    ", ".join(sorted(used)) or "none")
    return inventory


def gridded_points(points: PointSources, grid) -> list[ProfiledField]:
    """Small point sources as annual-mean flux fields, one per (sector, profile)."""
    fields = []
    keys = sorted(set(zip(points.sector, points.profile)))
    for sector, profile in keys:
        chosen = (points.sector == sector) & (points.profile == profile)
        kg_s, _ = points_to_grid(grid, points.lon[chosen], points.lat[chosen],
                                 points.rate_kg_s[chosen])
        fields.append(ProfiledField(sector, kg_s / MOLAR_MASS_CO2 * 1e6 / grid.cell_area,
                                    profile))
    return fields


def inventory_from_file(path, grid, utc_offset_hours: float) -> Inventory:
    """The inventory stored in a prior.nc (or a plain flux file on the domain grid)."""
    from .priorfile import read_prior_points

    fields = read_domain_flux(path, grid)
    points = read_prior_points(path, grid)
    return Inventory(grid, utc_offset_hours, Profiles(), tuple(fields), points, str(path))
