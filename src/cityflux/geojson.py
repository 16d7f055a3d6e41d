"""Reading GeoJSON feature collections (lon/lat) with errors that name the feature at fault."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import shape

from .errors import InputError, brief


@dataclass(frozen=True)
class Feature:
    """One feature: its position in the file, its properties and its shapely geometry."""

    index: int
    properties: dict
    geometry: object

    def where(self, path) -> str:
        return _where(path, self.index, self.properties)


def _where(path, index: int, properties: dict) -> str:
    name = properties.get("name")
    label = f" ({name})" if isinstance(name, str) and name else ""
    return f"{path}: feature {index}{label}"


def read_features(path: Path, allowed_types: tuple[str, ...]) -> list[Feature]:
    """The features of a GeoJSON FeatureCollection, each with a valid geometry of one of
    ``allowed_types`` (e.g. ``("Polygon", "MultiPolygon")``) in longitude/latitude degrees.

    Raises
    ------
    InputError
        One line naming the file (and the feature's index and name) and what was expected.
    """
    expected = " or ".join(allowed_types)
    try:
        # utf-8-sig: files saved by some Windows tools start with a byte-order mark
        document = json.loads(Path(path).read_bytes().decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InputError(f"{path}: cannot read GeoJSON: {brief(exc)}") from None
    features = document.get("features") if isinstance(document, dict) else None
    if not isinstance(features, list) or not features:
        found = (f"{_short(document.get('type'))} without features"
                 if isinstance(document, dict) else f"a JSON {type(document).__name__}")
        raise InputError(f"{path}: expected a GeoJSON FeatureCollection with features, "
                         f"found {found}")
    _check_declared_crs(path, document.get("crs"))
    out = []
    for i, feature in enumerate(features):
        if not isinstance(feature, dict):
            raise InputError(f"{path}: feature {i} is not a JSON object")
        properties = feature.get("properties")
        if properties is None:
            properties = {}
        if not isinstance(properties, dict):
            raise InputError(f"{path}: feature {i}: properties must be a JSON object, got "
                             f"{type(properties).__name__} {_short(properties)}")
        where = _where(path, i, properties)
        geometry = _geometry(feature.get("geometry"), where, expected)
        if geometry.geom_type not in allowed_types:
            raise InputError(f"{where} is a {geometry.geom_type}; expected {expected}")
        coords = shapely.get_coordinates(geometry)
        degrees = (np.isfinite(coords).all(axis=1) & (np.abs(coords[:, 1]) <= 90) &
                   (coords[:, 0] >= -180) & (coords[:, 0] <= 360))
        if not degrees.all():
            lon, lat = coords[np.flatnonzero(~degrees)[0]]
            raise InputError(f"{where}: vertex ({lon:g}, {lat:g}) is not a longitude and "
                             "latitude in degrees; GeoJSON coordinates are lon, lat (WGS84), "
                             "not projected metres")
        if geometry.is_empty or not geometry.is_valid:
            reason = "empty" if geometry.is_empty else shapely.is_valid_reason(geometry)
            raise InputError(f"{where} has an invalid geometry ({reason}); expected a valid "
                             f"{expected} (rings closed, not self-intersecting)")
        out.append(Feature(i, properties, geometry))
    return out


def _geometry(value, where: str, expected: str):
    if value is None:
        raise InputError(f"{where} has no geometry (null); expected a {expected}")
    if not (isinstance(value, dict) and isinstance(value.get("type"), str) and
            ("coordinates" in value or "geometries" in value)):
        raise InputError(f"{where}: geometry must be a GeoJSON geometry object with 'type' "
                         f"and 'coordinates', got {_short(value)}")
    try:
        with warnings.catch_warnings():  # NaN coordinates: reported below, not as a warning
            warnings.simplefilter("ignore", RuntimeWarning)
            return shape(value)
    except Exception as exc:  # shapely raises several types for malformed coordinates
        raise InputError(f"{where} has malformed {value['type']} coordinates ({brief(exc)}); "
                         f"expected a {expected}") from None


def _check_declared_crs(path, crs) -> None:
    """Refuse the (pre-2016 GeoJSON) ``crs`` member unless it names lon/lat WGS84."""
    if crs is None:
        return
    properties = crs.get("properties") if isinstance(crs, dict) else None
    name = properties.get("name") if isinstance(properties, dict) else None
    if isinstance(name, str) and ("CRS84" in name or name.rstrip().endswith("4326")):
        return
    raise InputError(f"{path}: declares crs {_short(name or crs)}; expected coordinates in "
                     "longitude/latitude (WGS84, CRS84)")


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shape_coordinates(geometry) -> np.ndarray:
    """All vertices of a geometry as an (n, 2) array."""
    return shapely.get_coordinates(geometry)


def text_property(feature: Feature, key: str, path, default=None) -> str:
    value = feature.properties.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{feature.where(path)}, property {key}: expected a non-empty text, "
                         f"got {value!r}")
    return value.strip()


def number_property(feature: Feature, key: str, path, low: float = -np.inf,
                    high: float = np.inf) -> float:
    value = feature.properties.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise InputError(f"{feature.where(path)}, property {key}: expected a number, "
                         f"got {value!r}")
    if not low <= value <= high:
        raise InputError(f"{feature.where(path)}, property {key}: {value:g} is out of range; "
                         f"expected between {low:g} and {high:g}")
    return float(value)
