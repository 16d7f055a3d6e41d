"""Area sources: polygon totals (e.g. a district's residential emissions) spread on the grid.

Each Polygon or MultiPolygon feature has properties ``sector``, ``emission`` and ``units``
(the polygon's annual-mean total rate, e.g. ``kt yr-1``), and optionally ``name`` (unique)
and ``profile`` (temporal profile name; default: the sector). Totals are spread by a proxy
raster (e.g. population, any regular grid and CRS) in proportion to proxy × overlap, or,
without a proxy, uniformly over the polygon's land area.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from ..errors import InputError
from ..geojson import number_property, read_features, text_property
from ..units import MOLAR_MASS_CO2, emission_rate_factor
from .gridded import variable_of, numeric_values, open_netcdf, source_grid
from .lines import report_outside
from .model import ProfiledField
from .rasterise import polygons_to_grid


def read_proxy(path, variable: str):
    """A proxy raster: (values (ny, nx) ≥ 0 in ascending grid order, its Grid).

    Missing values (NaN, e.g. no population over water) count as zero.
    """
    with open_netcdf(path) as ds:
        where = f"{path}: {variable}"
        var = variable_of(ds, variable, path)
        if "time" in var.dims or "sector" in var.dims:
            raise InputError(f"{where} has dims {var.dims}; expected a 2-D raster without "
                             "time or sector")
        grid, y_slice, x_slice, dims = source_grid(ds, var, where)
        values = numeric_values(var.transpose(*dims), where)[y_slice, x_slice]
    values = np.where(np.isfinite(values), values, 0.0)
    negative = values < 0
    if negative.any():
        row, col = np.argwhere(negative)[0]
        raise InputError(f"{where}: {int(negative.sum())} negative value(s), the first "
                         f"{values[row, col]:g} at {dims[0]}={grid.y[row]:g}, "
                         f"{dims[1]}={grid.x[col]:g}; expected non-negative weights")
    if values.sum() == 0:
        raise InputError(f"{where}: the proxy is zero (or missing) everywhere; expected "
                         "positive weights where emissions are")
    return values, grid


def read_area_sources(spec, grid, land_fraction=None) -> list[ProfiledField]:
    """One annual-mean flux field per (sector, profile) of the polygons of ``spec.file``.

    The parts of polygons outside the domain are dropped (logged); a file none of whose
    emitting polygons reaches the domain is refused.
    """
    path = spec.file
    features = read_features(path, ("Polygon", "MultiPolygon"))
    names = {}
    groups = defaultdict(lambda: {"polygons": [], "totals": [], "feature": []})
    for feature in features:
        sector = text_property(feature, "sector", path)
        profile = text_property(feature, "profile", path, default=sector)
        units = text_property(feature, "units", path)
        if "emission_per_km" in feature.properties:
            raise InputError(f"{feature.where(path)}, property emission_per_km: not used for "
                             "areas; expected emission, the polygon's total")
        total = number_property(feature, "emission", path, 0.0) * emission_rate_factor(
            units, f"{feature.where(path)}, property units")
        if "name" in feature.properties:
            name = text_property(feature, "name", path)
            if name in names:
                raise InputError(f"{feature.where(path)}, property name: {name!r} is already "
                                 f"used by feature {names[name]}; names must be unique")
            names[name] = feature.index
        group = groups[(sector, profile)]
        group["polygons"].append(feature.geometry)
        group["totals"].append(total)
        group["feature"].append(feature.index)
    if spec.proxy is not None:
        proxy, proxy_grid = read_proxy(spec.proxy, spec.proxy_variable)
    elif land_fraction is not None:
        proxy, proxy_grid = land_fraction * grid.cell_area, grid
    else:
        proxy, proxy_grid = None, None
    fields = []
    full, dropped = np.zeros(len(features)), np.zeros(len(features))  # per feature, kg s-1
    for (sector, profile), group in groups.items():
        totals = np.array(group["totals"])
        kg_s, lost = polygons_to_grid(grid, group["polygons"], totals, proxy, proxy_grid,
                                      return_dropped=True)
        np.add.at(full, group["feature"], totals)
        np.add.at(dropped, group["feature"], lost)
        fields.append(ProfiledField(sector, kg_s / MOLAR_MASS_CO2 * 1e6 / grid.cell_area,
                                    profile))
    report_outside(path, full, dropped, "polygons")
    return fields
