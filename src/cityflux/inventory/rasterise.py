"""Points, lines and polygons (in longitude/latitude) onto a :class:`~cityflux.grid.Grid`.

Every function returns an amount per cell (the unit of the input amounts, e.g. kg s-1 per
cell) and conserves mass: what lies inside the grid is placed exactly once, what lies
outside is dropped and can be reported (``return_dropped=True``).

Cells are half-open, [west edge, east edge) x [south edge, north edge) in the grid's CRS:
a point on an interior edge belongs to the cell east (north) of it, and a point on the
east or north boundary of the domain is outside.
"""

from __future__ import annotations

import logging

import numpy as np
import shapely

from ..grid import WGS84, Grid
from . import kernels
from .regrid import ConservativeRegridder, transform_points

log = logging.getLogger(__name__)

_WGS84_GEOD = WGS84.get_geod()


def _to_grid_plane(grid: Grid, lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Grid-CRS coordinates of lon/lat points (a cached transformer, unlike Grid.to_grid_crs)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    if grid.is_geographic:
        return lon, lat
    return transform_points("EPSG:4326", grid.crs, lon, lat)


def _edges(grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    return (grid.x_start + grid.x_step * np.arange(grid.nx + 1),
            grid.y_start + grid.y_step * np.arange(grid.ny + 1))


def _cell_units(grid: Grid, x, y) -> tuple[np.ndarray, np.ndarray]:
    """Grid-CRS coordinates in cell units (cell (i, j) covers [i, i+1) x [j, j+1))."""
    return (x - grid.x_start) / grid.x_step, (y - grid.y_start) / grid.y_step


# ----------------------------------------------------------------------------- points


def points_to_grid(grid: Grid, lon, lat, values) -> tuple[np.ndarray, np.ndarray]:
    """Sum point amounts per grid cell.

    Parameters
    ----------
    grid : Grid
    lon, lat : array_like, shape (n,), degrees
    values : array_like, shape (n,)
        Amount of each point (any unit, e.g. kg s-1).

    Returns
    -------
    amount : ndarray, shape (ny, nx)
        Sum of the values of the points in each cell.
    cell : ndarray of int64, shape (n,)
        Flat (C order) cell index of each point, -1 outside the grid (or non-finite).
    """
    lon, lat, values = (np.asarray(a, dtype=float).ravel() for a in (lon, lat, values))
    if not lon.shape == lat.shape == values.shape:
        raise ValueError(f"lon, lat and values must have the same length, got {lon.size}, "
                         f"{lat.size} and {values.size}")
    x, y = _to_grid_plane(grid, lon, lat)
    x_edges, y_edges = _edges(grid)
    # half-open cells: searchsorted on the same edges every other function uses
    i = np.searchsorted(x_edges, x, side="right") - 1
    j = np.searchsorted(y_edges, y, side="right") - 1
    inside = (i >= 0) & (i < grid.nx) & (j >= 0) & (j < grid.ny)  # NaN sorts past the end
    cell = np.where(inside, j * grid.nx + i, -1)
    amount = np.bincount(cell[inside], weights=values[inside], minlength=grid.size)
    return amount.astype(float, copy=False).reshape(grid.shape), cell


# ----------------------------------------------------------------------------- lines


def _line_segments(lines) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All vertices stacked, the line of each vertex and a mask of segment starts."""
    arrays = []
    for index, line in enumerate(lines):
        vertices = np.asarray(line, dtype=float)
        if vertices.ndim != 2 or vertices.shape[1] != 2 or vertices.shape[0] < 1:
            raise ValueError(f"line {index}: expected a (k, 2) array of lon/lat vertices with "
                             f"k >= 1, got shape {vertices.shape}")
        if not np.isfinite(vertices).all():
            raise ValueError(f"line {index}: vertices must be finite")
        arrays.append(vertices)
    if not arrays:
        return np.empty((0, 2)), np.empty(0, np.int64), np.empty(0, bool)
    vertices = np.concatenate(arrays)
    line_of = np.repeat(np.arange(len(arrays)), [a.shape[0] for a in arrays])
    starts = np.zeros(vertices.shape[0], bool)
    starts[:-1] = line_of[:-1] == line_of[1:]
    return vertices, line_of, starts


def lines_to_grid(grid: Grid, lines, values, per_length: bool, *,
                  return_dropped: bool = False):
    """Spread amounts along polylines onto the grid, by geodesic length.

    Parameters
    ----------
    grid : Grid
    lines : sequence of array_like, each (k_i, 2)
        Polyline vertices, longitude and latitude in degrees.
    values : array_like, shape (n_lines,)
        Amount per metre of line (``per_length=True``, e.g. kg s-1 m-1) or total amount
        of each line (``per_length=False``, e.g. kg s-1), spread in proportion to length.
    per_length : bool
        Meaning of ``values``, see above.
    return_dropped : bool
        Also return the amount of each line that falls outside the grid.

    Returns
    -------
    amount : ndarray, shape (ny, nx)
        Amount per cell (e.g. kg s-1 per cell).
    dropped : ndarray, shape (n_lines,)
        Only with ``return_dropped``: the amount of each line outside the grid.

    Notes
    -----
    Every segment is split exactly where it crosses cell edges in the grid's CRS (straight
    in that plane). Its length is the geodesic distance between its end points on the
    WGS84 ellipsoid, shared among its pieces in proportion to their length in the grid
    plane. A line of zero length with ``per_length=False`` is treated as a point at its
    first vertex.
    """
    values = np.asarray(values, dtype=float).ravel()
    if values.size != len(lines):
        raise ValueError(f"values has {values.size} entries for {len(lines)} lines")
    vertices, line_of, starts = _line_segments(lines)
    seg_line = line_of[starts]
    lon0, lat0 = vertices[:-1][starts[:-1]].T
    lon1, lat1 = vertices[1:][starts[:-1]].T
    _, _, length = _WGS84_GEOD.inv(lon0, lat0, lon1, lat1)
    length = np.asarray(length, dtype=float)
    line_length = np.bincount(seg_line, weights=length, minlength=values.size)
    if per_length:
        seg_amount = values[seg_line] * length
        full = values * line_length
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            seg_amount = np.where(line_length[seg_line] > 0,
                                  values[seg_line] * length / line_length[seg_line], 0.0)
        full = values.copy()

    x, y = _to_grid_plane(grid, vertices[:, 0], vertices[:, 1])
    u, v = _cell_units(grid, x, y)
    flat, inside = kernels.segments_to_grid(u[:-1][starts[:-1]], v[:-1][starts[:-1]],
                                            u[1:][starts[:-1]], v[1:][starts[:-1]],
                                            seg_amount, grid.nx, grid.ny)
    amount = flat.reshape(grid.shape)
    placed = np.bincount(seg_line, weights=seg_amount * inside, minlength=values.size)

    if not per_length:  # zero-length lines are points
        point_lines = np.flatnonzero(line_length == 0)
        if point_lines.size:
            first = np.searchsorted(line_of, point_lines)
            point_amount, cell = points_to_grid(grid, vertices[first, 0], vertices[first, 1],
                                                values[point_lines])
            amount = amount + point_amount
            placed[point_lines] = np.where(cell >= 0, values[point_lines], 0.0)
    if return_dropped:
        return amount, full - placed
    return amount


# ----------------------------------------------------------------------------- polygons


def _to_grid_geometry(geometry_lonlat, grid: Grid):
    """A lon/lat geometry in the grid's CRS (vertices projected, edges kept straight)."""
    if grid.is_geographic:
        return geometry_lonlat
    return shapely.transform(
        geometry_lonlat,
        lambda lonlat: np.column_stack(_to_grid_plane(grid, lonlat[:, 0], lonlat[:, 1])))


def polygon_cell_fractions(geometry_lonlat, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Fraction of each grid cell's area inside a lon/lat (Multi)Polygon, sparse.

    The same numbers as :func:`cityflux.regions.cell_fractions` (areas in the grid plane,
    the polygon's edges straight between its projected vertices), computed only where
    needed: cells crossed by the polygon's boundary (found by a grid traversal of its
    rings) are intersected exactly; every other cell of the polygon's bounding box lies
    wholly inside or outside, decided by one point-in-polygon test per run of such cells
    along a row.

    Returns
    -------
    cells : ndarray of int64
        Flat (C order) indices of the cells with a non-zero fraction.
    fractions : ndarray
        Their fractions, 0 < f <= 1.
    """
    return _plane_fractions(_to_grid_geometry(geometry_lonlat, grid), grid)


def _plane_fractions(geometry, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """:func:`polygon_cell_fractions` of a geometry already in the grid's CRS."""
    empty = np.empty(0, np.int64), np.empty(0)
    if geometry.is_empty:
        return empty
    x_edges, y_edges = _edges(grid)
    xmin, ymin, xmax, ymax = shapely.bounds(geometry)
    i0 = max(int(np.searchsorted(x_edges, xmin, side="right")) - 1, 0)
    i1 = min(int(np.searchsorted(x_edges, xmax, side="left")) - 1, grid.nx - 1)
    j0 = max(int(np.searchsorted(y_edges, ymin, side="right")) - 1, 0)
    j1 = min(int(np.searchsorted(y_edges, ymax, side="left")) - 1, grid.ny - 1)
    if i0 > i1 or j0 > j1:
        return empty
    nx, ny = i1 - i0 + 1, j1 - j0 + 1

    # boundary cells: traverse every ring segment in cell units of the window
    rings = shapely.get_rings(shapely.get_parts(geometry))
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    same_ring = ring_of[:-1] == ring_of[1:]
    u = (coords[:, 0] - x_edges[i0]) / grid.x_step
    v = (coords[:, 1] - y_edges[j0]) / grid.y_step
    mark = kernels.mark_segment_cells(u[:-1][same_ring], v[:-1][same_ring],
                                      u[1:][same_ring], v[1:][same_ring], nx, ny)
    fraction = np.zeros((ny, nx))

    # cells off the boundary: one containment test per run of them along a row
    label, rep_row, rep_col = kernels.unmarked_runs(mark)
    if rep_row.size:
        shapely.prepare(geometry)
        centre_x = x_edges[i0 + rep_col] + 0.5 * grid.x_step
        centre_y = y_edges[j0 + rep_row] + 0.5 * grid.y_step
        run_inside = shapely.contains_xy(geometry, centre_x, centre_y)
        unmarked = label >= 0
        fraction[unmarked] = run_inside[label[unmarked]]

    rows, cols = np.nonzero(mark)
    if rows.size:
        boxes = shapely.box(x_edges[i0 + cols], y_edges[j0 + rows],
                            x_edges[i0 + cols + 1], y_edges[j0 + rows + 1])
        fraction[rows, cols] = (shapely.area(shapely.intersection(boxes, geometry))
                                / shapely.area(boxes))

    rows, cols = np.nonzero(fraction)
    return (j0 + rows) * grid.nx + (i0 + cols), fraction[rows, cols]


def _spread_uniform(grid: Grid, geometry_lonlat, total: float, out: np.ndarray) -> float:
    """Add a polygon's total to ``out`` (flat) by cell area inside it; return the amount placed.

    The share of the polygon outside the grid (by area in the grid plane) is not placed.
    """
    geometry = _to_grid_geometry(geometry_lonlat, grid)
    cells, fractions = _plane_fractions(geometry, grid)
    if cells.size == 0:
        return 0.0
    xmin, ymin, xmax, ymax = shapely.bounds(geometry)
    if (xmin >= grid.x_start and xmax <= grid.x_stop and ymin >= grid.y_start
            and ymax <= grid.y_stop):
        inside_share = 1.0
    else:
        inside_share = min(fractions.sum() * grid.x_step * grid.y_step
                           / shapely.area(geometry), 1.0)
    weights = fractions * grid.cell_area.ravel()[cells]
    placed = total * inside_share
    np.add.at(out, cells, placed * weights / weights.sum())
    return placed


def polygons_to_grid(grid: Grid, polygons, totals, proxy=None, proxy_grid: Grid | None = None,
                     *, return_dropped: bool = False):
    """Distribute polygon totals onto the grid, uniformly by area or by a proxy.

    Parameters
    ----------
    grid : Grid
    polygons : sequence of shapely Polygon or MultiPolygon
        Outlines in longitude/latitude (degrees).
    totals : array_like, shape (n_polygons,)
        Amount of each polygon (e.g. kg s-1).
    proxy : array_like, shape proxy_grid.shape, optional
        Non-negative weights (e.g. population per cell) on ``proxy_grid``.
    proxy_grid : Grid, optional
        Grid of ``proxy``, any CRS and resolution; required with ``proxy``.
    return_dropped : bool
        Also return the amount of each polygon that was not placed on the grid.

    Returns
    -------
    amount : ndarray, shape (ny, nx)
        Amount per cell.
    dropped : ndarray, shape (n_polygons,)
        Only with ``return_dropped``.

    Notes
    -----
    Without a proxy, polygon i's total is spread in proportion to cell area × fraction of
    the cell inside the polygon; the share of the polygon outside the grid is dropped.
    With a proxy, the total goes to the proxy cells in proportion to proxy value ×
    fraction of the proxy cell inside the polygon (all of it to the part of the polygon
    the proxy grid covers), and then onto the grid with a
    :class:`~.regrid.ConservativeRegridder` (what lies outside the grid is dropped).
    Where a polygon's proxy sum is zero, it falls back to the uniform spreading and logs a
    warning naming the polygon.
    """
    totals = np.asarray(totals, dtype=float).ravel()
    if totals.size != len(polygons):
        raise ValueError(f"totals has {totals.size} entries for {len(polygons)} polygons")
    if (proxy is None) != (proxy_grid is None):
        raise ValueError("proxy and proxy_grid go together: give both or neither")
    direct = np.zeros(grid.size)
    placed = np.zeros(totals.size)
    if proxy is not None:
        proxy = np.asarray(proxy, dtype=float)
        if proxy.shape != proxy_grid.shape:
            raise ValueError(f"proxy has shape {proxy.shape}, proxy_grid {proxy_grid.shape}")
        if not np.isfinite(proxy).all() or (proxy < 0).any():
            raise ValueError("proxy weights must be finite and non-negative")
        proxy_flat = proxy.ravel()
        on_proxy = np.zeros(proxy_grid.size)
        proxy_of = [None] * totals.size  # per polygon: (proxy cells, amounts)
    for index, (geometry, total) in enumerate(zip(polygons, totals)):
        if proxy is not None:
            cells, fractions = polygon_cell_fractions(geometry, proxy_grid)
            weights = proxy_flat[cells] * fractions
            weight_sum = weights.sum()
            if weight_sum > 0:
                amounts = total * weights / weight_sum
                np.add.at(on_proxy, cells, amounts)
                proxy_of[index] = (cells, amounts)
                continue
            log.warning("polygon %d: proxy is zero everywhere inside it; spreading its total "
                        "uniformly by area", index)
        placed[index] = _spread_uniform(grid, geometry, total, direct)
    amount = direct.reshape(grid.shape)
    if proxy is not None:
        regridder = ConservativeRegridder(proxy_grid, grid)
        amount = amount + regridder.regrid_amount(on_proxy.reshape(proxy_grid.shape))
        if return_dropped:
            inside = regridder.inside_fraction.ravel()
            for index, entry in enumerate(proxy_of):
                if entry is not None:
                    cells, amounts = entry
                    placed[index] = (amounts * inside[cells]).sum()
    if return_dropped:
        return amount, totals - placed
    return amount
