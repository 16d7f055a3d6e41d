"""Points, lines and polygons onto a grid: against brute-force and shapely references."""

import logging

import numpy as np
import pyproj
import pytest
import shapely

from cityflux.grid import Grid
from cityflux.inventory import kernels
from cityflux.inventory.rasterise import (
    lines_to_grid,
    points_to_grid,
    polygon_cell_fractions,
    polygons_to_grid,
)
from cityflux.inventory.regrid import ConservativeRegridder
from cityflux.regions import cell_fractions

TMERC = ("+proj=tmerc +lat_0=0 +lon_0=117 +k=1 +x_0=500000 +y_0=0 +ellps=WGS84 "
         "+units=m +no_defs")
GEOD = pyproj.Geod(ellps="WGS84")
TO_LONLAT = pyproj.Transformer.from_crs(TMERC, "EPSG:4326", always_xy=True)
TO_TMERC = pyproj.Transformer.from_crs("EPSG:4326", TMERC, always_xy=True)

#: 20 x 16 cells of 1 km around (117.0 E, 31.5 N)
PROJECTED = Grid(TMERC, 490000.0, 510000.0, 1000.0, 3477000.0, 3493000.0, 1000.0)
#: 8 x 6 cells of 0.125 x 0.25 degrees (binary fractions: edges are exact in floats)
GEOGRAPHIC = Grid("EPSG:4326", 116.0, 117.0, 0.125, 31.0, 32.5, 0.25)


def lonlat_of(x, y):
    return np.column_stack(TO_LONLAT.transform(np.asarray(x, float), np.asarray(y, float)))


def edges(grid):
    return (grid.x_start + grid.x_step * np.arange(grid.nx + 1),
            grid.y_start + grid.y_step * np.arange(grid.ny + 1))


# ----------------------------------------------------------------------------- points


def reference_points(grid, lon, lat, values):
    """Brute force: test every point against every half-open cell."""
    x, y = (lon, lat) if grid.is_geographic else TO_TMERC.transform(lon, lat)
    xe, ye = edges(grid)
    in_x = (x[:, None] >= xe[None, :-1]) & (x[:, None] < xe[None, 1:])
    in_y = (y[:, None] >= ye[None, :-1]) & (y[:, None] < ye[None, 1:])
    cell = np.full(lon.size, -1)
    amount = np.zeros(grid.shape)
    for p in range(lon.size):
        hits = [(j, i) for j in np.flatnonzero(in_y[p]) for i in np.flatnonzero(in_x[p])]
        assert len(hits) <= 1
        if hits:
            j, i = hits[0]
            cell[p] = j * grid.nx + i
            amount[j, i] += values[p]
    return amount, cell


def test_points_on_edges_and_corners_go_to_exactly_one_cell():
    grid = GEOGRAPHIC
    xe, ye = edges(grid)
    lon = np.array([xe[3], xe[3], xe[0], xe[-1], 116.3, 116.3, xe[2], 116.5, np.nan, 120.0])
    lat = np.array([31.6, ye[2], ye[0], 31.6, ye[-1], ye[1], ye[4], 30.0, 31.5, 31.5])
    values = np.arange(1.0, lon.size + 1)
    amount, cell = points_to_grid(grid, lon, lat, values)
    expected = [2 * 8 + 3,  # west edge of column 3 -> column 3
                2 * 8 + 3,  # corner -> the cell to its north-east
                0,  # south-west corner of the domain
                -1,  # on the east boundary: outside
                -1,  # on the north boundary: outside
                1 * 8 + 2,  # on a row edge -> the row above
                4 * 8 + 2,
                -1, -1, -1]  # south of the grid, NaN, far east
    np.testing.assert_array_equal(cell, expected)
    reference_amount, reference_cell = reference_points(grid, lon, lat, values)
    np.testing.assert_array_equal(cell, reference_cell)
    np.testing.assert_array_equal(amount, reference_amount)
    assert amount.sum() == values[np.array(expected) >= 0].sum()


def test_points_on_projected_grid_match_brute_force():
    rng = np.random.default_rng(0)
    lonlat = lonlat_of(rng.uniform(488000, 512000, 3000), rng.uniform(3475000, 3495000, 3000))
    values = rng.random(3000)
    amount, cell = points_to_grid(PROJECTED, lonlat[:, 0], lonlat[:, 1], values)
    reference_amount, reference_cell = reference_points(PROJECTED, lonlat[:, 0], lonlat[:, 1],
                                                        values)
    np.testing.assert_array_equal(cell, reference_cell)
    np.testing.assert_allclose(amount, reference_amount, rtol=1e-13)
    assert 0 < (cell == -1).sum() < 3000  # some are outside and do not count
    assert amount.sum() == pytest.approx(values[cell >= 0].sum(), rel=1e-13)


# ----------------------------------------------------------------------------- lines


def reference_lines(grid, lines, values, per_length):
    """Shapely: each segment's geodesic length shared by its planar length in each box."""
    xe, ye = edges(grid)
    x0, y0 = np.meshgrid(xe[:-1], ye[:-1])
    boxes = shapely.box(x0.ravel(), y0.ravel(), x0.ravel() + grid.x_step,
                        y0.ravel() + grid.y_step)
    amount = np.zeros(grid.size)
    for line, value in zip(lines, values):
        line = np.asarray(line, float)
        _, _, lengths = GEOD.inv(line[:-1, 0], line[:-1, 1], line[1:, 0], line[1:, 1])
        per_metre = value if per_length else value / lengths.sum()
        xy = line if grid.is_geographic else np.column_stack(TO_TMERC.transform(*line.T))
        for k, length in enumerate(np.atleast_1d(lengths)):
            segment = shapely.LineString(xy[k: k + 2])
            share = shapely.length(shapely.intersection(boxes, segment)) / segment.length
            amount += per_metre * length * share
    return amount.reshape(grid.shape)


def geodesic_lengths(lines):
    return np.array([GEOD.inv(v[:-1, 0], v[:-1, 1], v[1:, 0], v[1:, 1])[2].sum()
                     for v in lines])


def test_east_west_line_across_three_and_a_half_cells():
    # in the grid plane from x = 250 m into cell 1 to 750 m into cell 4, at mid-row height
    line = lonlat_of(PROJECTED.x_start + np.array([1250.0, 4750.0]),
                     PROJECTED.y_start + np.array([5500.0, 5500.0]))
    _, _, length = GEOD.inv(*line[0], *line[1])
    assert length == pytest.approx(3500.0, rel=1e-3)  # sanity: tmerc scale is ~1 here
    amount = lines_to_grid(PROJECTED, [line], [2.0], per_length=True)
    expected = np.zeros(PROJECTED.shape)
    expected[5, 1:5] = 2.0 * length * np.array([0.75, 1.0, 1.0, 0.75]) / 3.5
    np.testing.assert_allclose(amount, expected, rtol=1e-12, atol=1e-12)


def test_diagonal_through_cell_corners():
    # the diagonal of cells (2, 1), (3, 2), (4, 3) of the lat/lon grid, corner to corner
    xe, ye = edges(GEOGRAPHIC)
    line = np.array([[xe[1], ye[2]], [xe[4], ye[5]]])
    amount = lines_to_grid(GEOGRAPHIC, [line], [9.0], per_length=False)
    expected = np.zeros(GEOGRAPHIC.shape)
    expected[2, 1] = expected[3, 2] = expected[4, 3] = 3.0
    np.testing.assert_allclose(amount, expected, rtol=1e-13)
    assert np.count_nonzero(amount) == 3  # no sliver in the cells that only touch a corner
    reference = reference_lines(GEOGRAPHIC, [line], [9.0], per_length=False)
    np.testing.assert_allclose(amount, reference, rtol=1e-12, atol=1e-12)


def test_lines_against_shapely_reference_with_dropped_parts():
    rng = np.random.default_rng(1)
    lines = [lonlat_of(rng.uniform(485000, 515000, k), rng.uniform(3472000, 3498000, k))
             for k in (2, 3, 5, 8, 2)]
    lines.append(lonlat_of([491500.0, 491500.0, 495000.0], [3480000.0, 3486000.0, 3486000.0]))
    values = rng.uniform(0.5, 2.0, len(lines))
    for per_length in (True, False):
        amount, dropped = lines_to_grid(PROJECTED, lines, values, per_length,
                                        return_dropped=True)
        reference = reference_lines(PROJECTED, lines, values, per_length)
        np.testing.assert_allclose(amount, reference, rtol=1e-10, atol=1e-10 * amount.max())
        totals = values * geodesic_lengths(lines) if per_length else values
        assert amount.sum() + dropped.sum() == pytest.approx(totals.sum(), rel=1e-13)
        assert (dropped > 0).sum() >= 2 and dropped.min() >= -1e-12


def test_per_length_and_total_modes_agree_and_conserve():
    lines = [lonlat_of([492300.0, 497100.0, 499900.0, 506400.0],
                       [3479100.0, 3488800.0, 3480000.0, 3491000.0]),
             lonlat_of([500000.0, 500000.0], [3478000.0, 3492000.0])]  # along a column edge
    lengths = geodesic_lengths(lines)
    totals = np.array([7.0, 3.0])
    by_total = lines_to_grid(PROJECTED, lines, totals, per_length=False)
    by_length = lines_to_grid(PROJECTED, lines, totals / lengths, per_length=True)
    np.testing.assert_allclose(by_total, by_length, rtol=1e-13, atol=1e-15)
    assert by_total.sum() == pytest.approx(10.0, rel=1e-14)
    # the line on the edge x = 500 km is counted once, in one of the columns beside it
    # (which one depends on the last bit of the projection round trip)
    edge_only = lines_to_grid(PROJECTED, lines[1:], [3.0], per_length=False)
    columns = edge_only[:, 9] + edge_only[:, 10]
    assert (columns > 1e-9).sum() == 14 and edge_only.sum() == pytest.approx(3.0, rel=1e-14)
    np.testing.assert_allclose(columns[1:15], 3.0 / 14, rtol=1e-9)


def test_zero_length_line_is_a_point():
    point = lonlat_of([495500.0, 495500.0], [3480500.0, 3480500.0])
    amount, dropped = lines_to_grid(PROJECTED, [point, point[:1]], [4.0, 1.0],
                                    per_length=False, return_dropped=True)
    assert amount[3, 5] == pytest.approx(5.0) and amount.sum() == pytest.approx(5.0)
    np.testing.assert_allclose(dropped, 0.0, atol=1e-15)


def test_walk_segment_against_shapely():
    rng = np.random.default_rng(2)
    nx, ny = 7, 5
    cells = np.empty(nx + ny + 8, np.int64)
    pieces = np.empty(nx + ny + 8)
    x0, y0 = np.meshgrid(np.arange(nx), np.arange(ny))
    boxes = shapely.box(x0.ravel(), y0.ravel(), x0.ravel() + 1, y0.ravel() + 1)
    for trial in range(300):
        u0, u1 = rng.uniform(-2, nx + 2, 2)
        v0, v1 = rng.uniform(-2, ny + 2, 2)
        if trial % 3 == 0:  # end points on grid lines
            u0, v1 = np.round(u0), np.round(v1)
        n = kernels.walk_segment(u0, v0, u1, v1, nx, ny, cells, pieces)
        got = np.zeros(nx * ny)
        np.add.at(got, cells[:n], pieces[:n])
        segment = shapely.LineString([(u0, v0), (u1, v1)])
        expected = shapely.length(shapely.intersection(boxes, segment)) / segment.length
        np.testing.assert_allclose(got, expected, atol=1e-12)


# ----------------------------------------------------------------------------- polygons


def district(cx, cy, radius, n=40, seed=0):
    """A wiggly lon/lat polygon around a grid-plane centre."""
    rng = np.random.default_rng(seed)
    angle = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = radius * rng.uniform(0.6, 1.0, n)
    return shapely.Polygon(lonlat_of(cx + r * np.cos(angle), cy + r * np.sin(angle)))


def test_polygon_fractions_equal_cell_fractions():
    ring = district(497000.0, 3484000.0, 5000.0, seed=3)
    hole = district(497000.0, 3484000.0, 1500.0, seed=4)
    holed = shapely.Polygon(ring.exterior.coords, [hole.exterior.coords])
    aligned = shapely.Polygon(lonlat_of([495000.0, 499000.0, 499000.0, 495000.0],
                                        [3480000.0, 3480000.0, 3482000.0, 3482000.0]))
    multi = shapely.MultiPolygon([district(505000.0, 3490000.0, 4000.0, seed=5),
                                  district(492000.0, 3479000.0, 2500.0, seed=6)])
    edge_box = shapely.box(116.25, 31.25, 116.75, 31.75)  # edges on grid lines
    for grid, polygon in [(PROJECTED, holed), (PROJECTED, aligned), (PROJECTED, multi),
                          (GEOGRAPHIC, edge_box), (GEOGRAPHIC, shapely.box(115, 31.3, 116.4, 33))]:
        cells, fractions = polygon_cell_fractions(polygon, grid)
        got = np.zeros(grid.size)
        got[cells] = fractions
        np.testing.assert_allclose(got, cell_fractions(polygon, grid).ravel(), atol=1e-12)
        assert (fractions > 0).all()


def test_uniform_polygon_totals_conserved_and_outside_share_dropped():
    inside = district(500000.0, 3485000.0, 4000.0, seed=7)
    straddling = shapely.Polygon(lonlat_of([506000.0, 514000.0, 514000.0, 506000.0],
                                           [3481000.0, 3481000.0, 3485000.0, 3485000.0]))
    amount, dropped = polygons_to_grid(PROJECTED, [inside, straddling], [5.0, 8.0],
                                       return_dropped=True)
    assert amount.sum() == pytest.approx(5.0 + 4.0, rel=1e-12)  # half of the box is out
    np.testing.assert_allclose(dropped, [0.0, 4.0], atol=1e-9)
    # spread by area: amount per cell = total × fraction × cell_area / Σ(fraction × area)
    alone = polygons_to_grid(PROJECTED, [inside], [5.0])
    weights = cell_fractions(inside, PROJECTED) * PROJECTED.cell_area
    np.testing.assert_allclose(alone, 5.0 * weights / weights.sum(), rtol=1e-12, atol=1e-15)
    assert alone.sum() == pytest.approx(5.0, rel=1e-14)


def test_proxy_on_another_crs_conserves_and_matches_reference():
    proxy_grid = Grid("EPSG:4326", 116.9, 117.1, 0.005, 31.4, 31.56, 0.004)
    proxy = np.random.default_rng(8).gamma(0.5, size=proxy_grid.shape)
    polygons = [district(497000.0, 3484000.0, 4000.0, seed=9),
                district(503000.0, 3488000.0, 3000.0, seed=10)]
    totals = np.array([3.0, 11.0])
    amount = polygons_to_grid(PROJECTED, polygons, totals, proxy, proxy_grid)
    assert amount.sum() == pytest.approx(totals.sum(), rel=1e-12)
    # reference: proxy x cell_fractions on the proxy grid, normalised, regridded
    on_proxy = np.zeros(proxy_grid.shape)
    for polygon, total in zip(polygons, totals):
        weights = proxy * cell_fractions(polygon, proxy_grid)
        on_proxy += total * weights / weights.sum()
    reference = ConservativeRegridder(proxy_grid, PROJECTED).regrid_amount(on_proxy)
    np.testing.assert_allclose(amount, reference, rtol=1e-10, atol=1e-14)
    # the proxy shapes the result: it differs from the uniform spreading
    uniform = polygons_to_grid(PROJECTED, polygons, totals)
    assert np.abs(amount - uniform).max() > 0.01 * amount.max()


def test_same_crs_proxy_each_total_conserved():
    proxy_grid = Grid(TMERC, 490000.0, 510000.0, 100.0, 3477000.0, 3493000.0, 100.0)
    proxy = np.random.default_rng(11).random(proxy_grid.shape)
    polygons = [district(495000.0, 3483000.0, 3000.0, seed=12),
                district(503000.0, 3487000.0, 4000.0, seed=13)]
    for index, total in enumerate([2.0, 5.0]):
        amount, dropped = polygons_to_grid(PROJECTED, polygons[index:index + 1], [total],
                                           proxy, proxy_grid, return_dropped=True)
        assert amount.sum() == pytest.approx(total, rel=1e-12)
        assert dropped[0] == pytest.approx(0.0, abs=1e-12)


def test_zero_proxy_falls_back_to_uniform_with_a_warning(caplog):
    proxy_grid = Grid(TMERC, 490000.0, 510000.0, 500.0, 3477000.0, 3493000.0, 500.0)
    proxy = np.ones(proxy_grid.shape)
    proxy[:, :20] = 0.0  # nobody lives west of x = 500 km
    west = district(495000.0, 3484000.0, 3000.0, seed=14)
    east = district(505000.0, 3484000.0, 3000.0, seed=15)
    with caplog.at_level(logging.WARNING, logger="cityflux.inventory.rasterise"):
        amount = polygons_to_grid(PROJECTED, [east, west], [1.0, 2.0], proxy, proxy_grid)
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(messages) == 1 and "polygon 1" in messages[0]
    uniform_west = polygons_to_grid(PROJECTED, [west], [2.0])
    west_cells = uniform_west > 0
    np.testing.assert_allclose(amount[:, :9], uniform_west[:, :9], rtol=1e-12, atol=1e-15)
    assert amount.sum() == pytest.approx(3.0, rel=1e-12) and west_cells.any()


def test_unmarked_runs_against_python_reference():
    rng = np.random.default_rng(16)
    mark = rng.random((9, 13)) < 0.3
    label, rep_row, rep_col = kernels.unmarked_runs(mark)
    expected = np.full(mark.shape, -1)
    runs = []
    for j in range(mark.shape[0]):
        for i in range(mark.shape[1]):
            if mark[j, i]:
                continue
            if i == 0 or mark[j, i - 1]:
                runs.append((j, i))
            expected[j, i] = len(runs) - 1
    np.testing.assert_array_equal(label, expected)
    assert list(zip(rep_row, rep_col)) == runs


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="line 0"):
        lines_to_grid(PROJECTED, [np.zeros((3, 3))], [1.0], per_length=True)
    with pytest.raises(ValueError, match="values has 2"):
        lines_to_grid(PROJECTED, [np.zeros((2, 2))], [1.0, 2.0], per_length=True)
    with pytest.raises(ValueError, match="non-negative"):
        polygons_to_grid(PROJECTED, [shapely.box(117, 31.5, 117.01, 31.51)], [1.0],
                         -np.ones(PROJECTED.shape), PROJECTED)
    with pytest.raises(ValueError, match="go together"):
        polygons_to_grid(PROJECTED, [], [], proxy=np.ones(PROJECTED.shape))
