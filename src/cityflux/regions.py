"""Regions of the domain (the city and its districts) as fractional cell masks.

Regions are read from a GeoJSON file in longitude/latitude: exactly one feature with
property ``type: city`` and any number with ``type: district``, each with a unique
``name``. The mask of a region holds, for every cell, the fraction of the cell's area that
lies inside the region (computed in the grid's own coordinates), so region totals conserve
mass at the boundary. The region ``domain`` (every cell, fraction 1) always comes first,
then ``city``, then the districts in file order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import shape

from .errors import InputError, brief
from .grid import Grid


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


def read_regions(path: Path, grid: Grid) -> Regions:
    """Read a GeoJSON file of city and district outlines and rasterise it on ``grid``."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read GeoJSON: {brief(exc)}") from None
    features = document.get("features") if isinstance(document, dict) else None
    if not isinstance(features, list) or not features:
        raise InputError(f"{path}: expected a GeoJSON FeatureCollection with features")

    city, districts = None, []
    for i, feature in enumerate(features):
        props = feature.get("properties") or {}
        kind, name = props.get("type"), props.get("name")
        if kind not in ("city", "district"):
            raise InputError(f"{path}: feature {i} has type {kind!r}; expected 'city' or "
                             "'district' in its properties")
        if not isinstance(name, str) or not name:
            raise InputError(f"{path}: feature {i} has no 'name' property")
        try:
            geometry = shape(feature["geometry"])
        except Exception as exc:  # shapely raises several types for bad geometry
            raise InputError(f"{path}: feature {i} ({name}) has an invalid geometry: "
                             f"{brief(exc)}") from None
        if geometry.geom_type not in ("Polygon", "MultiPolygon") or not geometry.is_valid:
            raise InputError(f"{path}: feature {i} ({name}) must be a valid Polygon or "
                             f"MultiPolygon, got {geometry.geom_type}")
        if kind == "city":
            if city is not None:
                raise InputError(f"{path}: more than one feature of type 'city'")
            city = geometry
        else:
            districts.append((name, geometry))
    if city is None:
        raise InputError(f"{path}: no feature of type 'city'")
    names = [name for name, _ in districts]
    if len(set(names)) != len(names) or {"domain", "city"} & set(names):
        raise InputError(f"{path}: district names must be unique and not 'domain' or 'city'")

    geometries = {"city": city, **dict(districts)}
    fractions = [np.ones(grid.shape)]
    for name, geometry in geometries.items():
        fraction = cell_fractions(geometry, grid)
        if fraction.sum() == 0:
            raise InputError(f"{path}: region {name!r} does not overlap the domain grid")
        fractions.append(fraction)
    return Regions(("domain", *geometries), np.stack(fractions), geometries)


def cell_fractions(geometry_lonlat, grid: Grid) -> np.ndarray:
    """Fraction (0..1) of each grid cell's area inside a lon/lat polygon."""
    geometry = shapely.transform(
        geometry_lonlat, lambda lonlat: np.column_stack(grid.to_grid_crs(*lonlat.T)))
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
