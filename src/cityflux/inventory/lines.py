"""Line sources (roads) from GeoJSON, rasterised by exact length per cell.

Each LineString or MultiLineString feature has properties ``sector``, ``units`` and either
``emission_per_km`` (units of an emission per length, e.g. ``t km-1 yr-1``) or
``emission`` (the line's total rate, e.g. ``t yr-1``, spread along it by length), and
optionally ``profile`` (temporal profile name; default: the sector). Values are
annual means.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..geojson import number_property, read_features, text_property
from ..grid import WGS84
from ..units import MOLAR_MASS_CO2, emission_rate_factor, line_emission_factor
from .model import ProfiledField
from .rasterise import lines_to_grid

log = logging.getLogger(__name__)
_GEOD = WGS84.get_geod()


def read_line_sources(path: Path, grid) -> list[ProfiledField]:
    """One annual-mean flux field per (sector, profile) of the lines in ``path``.

    The parts of lines outside the domain are dropped (logged); a file none of whose
    emitting lines reaches the domain is refused, as that is a coordinate mistake.
    """
    features = read_features(path, ("LineString", "MultiLineString"))
    groups = defaultdict(lambda: {"lines": [], "values": [], "per_length": [], "feature": []})
    for feature in features:
        sector = text_property(feature, "sector", path)
        profile = text_property(feature, "profile", path, default=sector)
        units = text_property(feature, "units", path)
        where = f"{feature.where(path)}, property units"
        has_per_km = "emission_per_km" in feature.properties
        if has_per_km == ("emission" in feature.properties):
            raise InputError(f"{feature.where(path)}, properties emission/emission_per_km: "
                             f"{'both' if has_per_km else 'neither'} given; expected exactly "
                             "one (emission_per_km: per length; emission: the line's total)")
        if has_per_km:
            value = number_property(feature, "emission_per_km", path, 0.0) * \
                line_emission_factor(units, where)
        else:
            value = number_property(feature, "emission", path, 0.0) * \
                emission_rate_factor(units, where)
        parts = [np.asarray(part.coords)[:, :2] for part in
                 getattr(feature.geometry, "geoms", [feature.geometry])]
        shares = np.ones(len(parts))
        if not has_per_km and len(parts) > 1:  # a total shared by the parts by length
            lengths = np.array([_GEOD.line_length(part[:, 0], part[:, 1]) for part in parts])
            shares = lengths / lengths.sum() if lengths.sum() > 0 else shares / len(parts)
        group = groups[(sector, profile)]
        for part, share in zip(parts, shares):
            group["lines"].append(part)
            group["values"].append(value * share)
            group["per_length"].append(has_per_km)
            group["feature"].append(feature.index)
    fields = []
    full, dropped = np.zeros(len(features)), np.zeros(len(features))  # per feature, kg s-1
    for (sector, profile), group in groups.items():
        per_length = np.array(group["per_length"])
        feature_of = np.array(group["feature"])
        kg_s = np.zeros(grid.shape)
        for mode in (True, False):
            chosen = np.flatnonzero(per_length == mode)
            if chosen.size:
                lines = [group["lines"][i] for i in chosen]
                values = np.array(group["values"])[chosen]
                amount, lost = lines_to_grid(grid, lines, values, per_length=mode,
                                             return_dropped=True)
                kg_s += amount
                if mode:  # the full emission of a line given per length
                    values = values * np.array([_GEOD.line_length(line[:, 0], line[:, 1])
                                                for line in lines])
                np.add.at(full, feature_of[chosen], values)
                np.add.at(dropped, feature_of[chosen], lost)
        fields.append(ProfiledField(sector, kg_s / MOLAR_MASS_CO2 * 1e6 / grid.cell_area,
                                    profile))
    report_outside(path, full, dropped, "lines")
    return fields


def report_outside(path, full: np.ndarray, dropped: np.ndarray, what: str) -> None:
    """Log the emission dropped outside the domain; refuse a file that misses it entirely.

    ``full`` and ``dropped`` are per feature (kg s-1).
    """
    emitting = full > 0
    if not emitting.any():
        return
    share = np.where(emitting, dropped / np.where(emitting, full, 1.0), 0.0)
    outside = emitting & (share > 1 - 1e-9)
    if outside[emitting].all():
        raise InputError(f"{path}: feature {int(np.flatnonzero(emitting)[0])}: no emitting "
                         f"feature ({int(emitting.sum())} {what}) reaches the domain grid; "
                         "expected longitude/latitude coordinates inside the domain")
    if outside.any():
        log.warning("%s: feature %d (and %d more) lies entirely outside the domain grid: its "
                    "emission is dropped", path, int(np.flatnonzero(outside)[0]),
                    int(outside.sum()) - 1)
    lost = dropped[emitting].sum() / full[emitting].sum()
    if lost > 1e-9:
        log.info("%s: %.3g %% of the emission of the %s lies outside the domain grid and is "
                 "dropped", path, 100 * lost, what)
