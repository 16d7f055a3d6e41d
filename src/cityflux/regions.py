"""Regions of the domain (the city and its districts) as fractional cell masks.

Regions are read from GeoJSON in longitude/latitude: either one file with exactly one
feature of property ``type: city`` and any number of ``type: district``, each with a unique
``name``; or a city-boundary file (the union of its features) and a districts file (one
feature per district with a ``name``), as cities usually have them. The mask of a region
holds, for every cell, the fraction of the cell's area that lies inside the region
(computed in the grid's own coordinates), so region totals conserve mass at the boundary.
The region ``domain`` (every cell, fraction 1) always comes first, then ``city``, then the
districts in file order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely

from .errors import InputError
from .geojson import read_features, text_property
from .grid import Grid

log = logging.getLogger(__name__)

POLYGONS = ("Polygon", "MultiPolygon")
#: Below this fraction of its area inside the grid, a region is reported as cut off.
COVERED = 0.99


@dataclass(frozen=True)
class Regions:
    """Named regions and their cell fractions.

    Attributes
    ----------
    names : tuple of str
        ``("domain", "city", <districts>...)``.
    fractions : ndarray, shape (n_regions, ny, nx)
        Fraction of each cell inside each region, 0..1.
    geometries : dict of str to shapely geometry
        Outlines in longitude/latitude (not for ``domain``).
    """

    names: tuple[str, ...]
    fractions: np.ndarray
    geometries: dict

    def __len__(self) -> int:
        return len(self.names)


@dataclass(frozen=True)
class _Outline:
    name: str
    geometry: object
    where: str  # file (and feature) for error messages


def read_regions(path: Path, grid: Grid) -> Regions:
    """Read a GeoJSON file of city and district outlines and rasterise it on ``grid``.

    Exactly one feature has property ``type: city``; others have ``type: district``.
    """
    city, districts = None, []
    for feature in read_features(path, POLYGONS):
        kind = feature.properties.get("type")
        if kind not in ("city", "district"):
            raise InputError(f"{feature.where(path)} has type {kind!r}; expected 'city' or "
                             "'district' in its properties (or give domain.city_boundary and "
                             "domain.districts as separate files)")
        outline = _Outline(text_property(feature, "name", path), feature.geometry,
                           feature.where(path))
        if kind == "city":
            if city is not None:
                raise InputError(f"{feature.where(path)}: more than one feature of type 'city' "
                                 f"(the first is {city.where.rsplit(': ', 1)[-1]}); give the "
                                 "city as one (Multi)Polygon")
            city = outline
        else:
            districts.append(outline)
    if city is None:
        raise InputError(f"{path}: no feature of type 'city'")
    return _rasterise(_Outline("city", city.geometry, city.where), districts, grid)


def read_city_and_districts(city_path: Path, districts_path: Path | None, grid: Grid) -> Regions:
    """Regions from a city-boundary file (the union of its features is the city) and an
    optional districts file (one feature per district, each with a ``name`` property)."""
    city = shapely.union_all([f.geometry for f in read_features(city_path, POLYGONS)])
    districts = []
    if districts_path is not None:
        for feature in read_features(districts_path, POLYGONS):
            if feature.properties.get("type") == "city":
                raise InputError(f"{feature.where(districts_path)} has type 'city'; a districts "
                                 "file holds only districts (a file with city and district "
                                 "features goes in domain.regions)")
            districts.append(_Outline(text_property(feature, "name", districts_path),
                                      feature.geometry, feature.where(districts_path)))
    return _rasterise(_Outline("city", city, str(city_path)), districts, grid)


def _rasterise(city: _Outline, districts: list[_Outline], grid: Grid) -> Regions:
    first = {}
    for district in districts:
        if district.name in ("domain", "city"):
            raise InputError(f"{district.where}: a district may not be called "
                             f"{district.name!r}; the names 'domain' and 'city' are reserved")
        if district.name in first:
            raise InputError(f"{district.where}: district name {district.name!r} is already "
                             f"used by {first[district.name]}; district names must be unique")
        first[district.name] = district.where.rsplit(": ", 1)[-1]
    fractions = [np.ones(grid.shape)]
    for region in (city, *districts):
        in_grid_crs = _to_grid_crs(region.geometry, grid)
        fraction = _fractions(in_grid_crs, grid)
        if fraction.sum() == 0:
            raise InputError(f"{region.where}: region {region.name!r} does not overlap the "
                             "domain grid")
        covered = fraction.sum() * grid.x_step * grid.y_step / in_grid_crs.area
        if not covered >= COVERED:
            log.warning("%s: %.0f %% of region %r lies outside the domain grid; its totals "
                        "cover only the part inside", region.where, 100 * (1 - covered),
                        region.name)
        fractions.append(fraction)
    geometries = {"city": city.geometry, **{d.name: d.geometry for d in districts}}
    return Regions(("domain", *geometries), np.stack(fractions), geometries)


def read_land_fraction(path: Path, grid: Grid) -> np.ndarray:
    """Fraction of every cell covered by the land polygons of a GeoJSON file."""
    land = shapely.union_all([f.geometry for f in read_features(path, POLYGONS)])
    fraction = cell_fractions(land, grid)
    if fraction.sum() == 0:
        raise InputError(f"{path}: the land polygons do not overlap the domain grid")
    return fraction


def cell_fractions(geometry_lonlat, grid: Grid) -> np.ndarray:
    """Fraction (0..1) of each grid cell's area inside a lon/lat polygon."""
    return _fractions(_to_grid_crs(geometry_lonlat, grid), grid)


def _to_grid_crs(geometry_lonlat, grid: Grid):
    return shapely.transform(
        geometry_lonlat, lambda lonlat: np.column_stack(grid.to_grid_crs(*lonlat.T)))


def _fractions(geometry, grid: Grid) -> np.ndarray:
    """Fraction of each cell inside a polygon given in the grid's CRS."""
    xb, yb = grid.x_bounds, grid.y_bounds
    x0, y0 = np.meshgrid(xb[:, 0], yb[:, 0])
    x1, y1 = np.meshgrid(xb[:, 1], yb[:, 1])
    boxes = shapely.box(x0.ravel(), y0.ravel(), x1.ravel(), y1.ravel())
    shapely.prepare(geometry)
    fractions = np.zeros(boxes.size)
    touching = shapely.intersects(geometry, boxes)
    inside = shapely.contains_properly(geometry, boxes)
    fractions[inside] = 1.0
    edge = touching & ~inside
    fractions[edge] = (shapely.area(shapely.intersection(boxes[edge], geometry)) /
                       shapely.area(boxes[edge]))
    return fractions.reshape(grid.shape)
