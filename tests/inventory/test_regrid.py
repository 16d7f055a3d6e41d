"""Conservative regridding: weights against shapely references, conservation, adjoint."""

import numpy as np
import pyproj
import pytest
import shapely

from cityflux.errors import InputError
from cityflux.grid import Grid
from cityflux.inventory import kernels
from cityflux.inventory.regrid import ConservativeRegridder, overlap_matrix_1d

TMERC = ("+proj=tmerc +lat_0=0 +lon_0=117 +k=1 +x_0=500000 +y_0=0 +ellps=WGS84 "
         "+units=m +no_defs")
UTM50 = "EPSG:32650"


def edges(grid):
    return (grid.x_start + grid.x_step * np.arange(grid.nx + 1),
            grid.y_start + grid.y_step * np.arange(grid.ny + 1))


def boxes_of(grid):
    """Shapely boxes of every cell, flat C order."""
    xe, ye = edges(grid)
    x0, y0 = np.meshgrid(xe[:-1], ye[:-1])
    x1, y1 = np.meshgrid(xe[1:], ye[1:])
    return shapely.box(x0.ravel(), y0.ravel(), x1.ravel(), y1.ravel())


def band_area(lat_deg):
    """Reference: ellipsoid area from the equator to lat per radian of longitude (WGS84)."""
    geod = pyproj.Geod(ellps="WGS84")
    e = np.sqrt(geod.es)
    s = np.sin(np.radians(lat_deg))
    return 0.5 * geod.b ** 2 * (s / (1 - e ** 2 * s ** 2) + np.arctanh(e * s) / e)


def reference_weights(source_polygons, target):
    """Dense (target.size, n_source) overlap fractions by exact shapely intersection."""
    target_boxes = boxes_of(target)
    dense = np.zeros((target.size, len(source_polygons)))
    for s, polygon in enumerate(source_polygons):
        full = polygon.area
        hit = np.flatnonzero(shapely.intersects(target_boxes, polygon))
        dense[hit, s] = shapely.area(shapely.intersection(target_boxes[hit], polygon)) / full
    return dense


def projected_source_polygons(source, target, edge_points=0, y_map=None):
    """Every source cell as a polygon of its projected (densified) boundary, C order."""
    to_target = pyproj.Transformer.from_crs(source.crs, target.crs, always_xy=True)
    xe, ye = edges(source)
    f = np.linspace(0.0, 1.0, edge_points + 2)[:-1]
    polygons = []
    for j in range(source.ny):
        for i in range(source.nx):
            x0, x1, y0, y1 = xe[i], xe[i + 1], ye[j], ye[j + 1]
            ring_x = np.concatenate([x0 + (x1 - x0) * f, np.full(f.size, x1),
                                     x1 - (x1 - x0) * f, np.full(f.size, x0)])
            ring_y = np.concatenate([np.full(f.size, y0), y0 + (y1 - y0) * f,
                                     np.full(f.size, y1), y1 - (y1 - y0) * f])
            px, py = to_target.transform(ring_x, ring_y)
            if y_map is not None:
                py = y_map(py)
            polygons.append(shapely.Polygon(np.column_stack([px, py])))
    return polygons


# ----------------------------------------------------------------------------- Grid.from_centres


def test_from_centres_ascending_and_descending():
    grid, ys, xs = Grid.from_centres("EPSG:4326", [116.05, 116.15, 116.25],
                                     [31.95, 31.85, 31.75, 31.65], "pop.nc: population")
    assert (grid.nx, grid.ny) == (3, 4)
    assert grid.x_start == pytest.approx(116.0) and grid.x_stop == pytest.approx(116.3)
    assert grid.y_start == pytest.approx(31.6) and grid.y_stop == pytest.approx(32.0)
    assert xs == slice(None) and ys == slice(None, None, -1)
    data = np.arange(12.0).reshape(4, 3)  # row 0 is the northernmost
    np.testing.assert_allclose(grid.y, np.array([31.95, 31.85, 31.75, 31.65])[ys])
    assert data[ys, xs][0, 0] == 9.0


@pytest.mark.parametrize("x, message", [
    ([0.0, 1.0, 2.5], "not regularly spaced"),
    ([5.0], "at least two"),
    ([], "at least two"),
    ([1.0, 1.0], "not regularly spaced"),
])
def test_from_centres_rejects_bad_axes(x, message):
    with pytest.raises(InputError, match=message) as info:
        Grid.from_centres(TMERC, x, [0.0, 100.0], "proxy.tif")
    assert "proxy.tif" in str(info.value)


def test_from_centres_tolerates_rounding():
    x = 500.0 + 1000.0 * np.arange(50)
    x[7] += 1e-4  # 1e-7 of the step
    grid, _, _ = Grid.from_centres(TMERC, x, x, "f")
    assert grid.nx == 50 and grid.x_step == pytest.approx(1000.0)


# ----------------------------------------------------------------------------- same CRS


def test_overlap_matrix_1d_against_brute_force():
    rng = np.random.default_rng(1)
    source = np.cumsum(rng.uniform(0.2, 1.5, 30))
    target = np.cumsum(rng.uniform(0.5, 3.0, 9)) + 2.0
    w = overlap_matrix_1d(source, target).toarray()
    for t in range(target.size - 1):
        for s in range(source.size - 1):
            overlap = max(0.0, min(source[s + 1], target[t + 1]) - max(source[s], target[t]))
            assert w[t, s] == pytest.approx(overlap / (source[s + 1] - source[s]), abs=1e-14)


def test_same_crs_weights_equal_box_intersections():
    source = Grid(TMERC, 500130.0, 501040.0, 130.0, -220.0, 430.0, 130.0)   # 7 x 5
    target = Grid(TMERC, 500000.0, 501200.0, 300.0, 0.0, 900.0, 300.0)     # 4 x 3
    regridder = ConservativeRegridder(source, target)
    assert regridder.separable
    reference = reference_weights(list(boxes_of(source)), target)
    np.testing.assert_allclose(regridder.weights.toarray(), reference, atol=1e-13)


def test_same_crs_geographic_weights_are_ellipsoidal_area_fractions():
    source = Grid("EPSG:4326", 116.0, 116.6, 0.1, 30.95, 31.55, 0.15)   # 6 x 4
    target = Grid("EPSG:4326", 116.05, 116.55, 0.25, 31.0, 31.5, 0.25)  # 2 x 2
    w = ConservativeRegridder(source, target).weights.toarray()
    sx, sy = edges(source)
    tx, ty = edges(target)
    for t in range(target.size):
        tj, ti = divmod(t, target.nx)
        for s in range(source.size):
            sj, si = divmod(s, source.nx)
            dlon = max(0.0, min(sx[si + 1], tx[ti + 1]) - max(sx[si], tx[ti]))
            top, bottom = min(sy[sj + 1], ty[tj + 1]), max(sy[sj], ty[tj])
            band = band_area(top) - band_area(bottom) if top > bottom else 0.0
            full = source.x_step * (band_area(sy[sj + 1]) - band_area(sy[sj]))
            assert w[t, s] == pytest.approx(dlon * band / full, abs=1e-12)
    # source cells x overlap fractions add up to the exact target cell areas
    covered = w @ source.cell_area.ravel()
    np.testing.assert_allclose(covered, target.cell_area.ravel(), rtol=1e-12)


def test_separable_apply_equals_full_weights_and_batches():
    source = Grid(TMERC, 499000.0, 503000.0, 250.0, -1000.0, 2000.0, 200.0)
    target = Grid(TMERC, 500000.0, 502000.0, 1000.0, 0.0, 3000.0, 600.0)
    regridder = ConservativeRegridder(source, target)
    values = np.random.default_rng(2).random((2, 3, *source.shape))
    out = regridder.regrid_amount(values)
    assert out.shape == (2, 3, *target.shape)
    for a in range(2):
        for b in range(3):
            np.testing.assert_allclose(out[a, b].ravel(),
                                       regridder.weights @ values[a, b].ravel(), rtol=1e-13)


# ----------------------------------------------------------------------------- general path


@pytest.mark.parametrize("edge_points", [0, 2])
def test_projected_weights_equal_shapely_reference(edge_points):
    # a lat/lon raster that sticks out of a projected target on two sides
    target = Grid(TMERC, 495000.0, 507000.0, 1000.0, 3482000.0, 3492000.0, 1000.0)
    lon0, lat0 = pyproj.Transformer.from_crs(TMERC, "EPSG:4326", always_xy=True).transform(
        494000.0, 3484500.0)
    source = Grid("EPSG:4326", lon0, lon0 + 0.0175 * 8, 0.0175, lat0, lat0 + 0.0125 * 7,
                  0.0125)
    regridder = ConservativeRegridder(source, target, edge_points=edge_points)
    assert not regridder.separable
    reference = reference_weights(
        projected_source_polygons(source, target, edge_points), target)
    np.testing.assert_allclose(regridder.weights.toarray(), reference, atol=1e-9)
    # the reference says some mass is lost, and the regridder reports the same share
    mass = np.random.default_rng(3).random(source.shape)
    lost = (mass.ravel() * (1 - reference.sum(axis=0))).sum() / mass.sum()
    assert 0.05 < lost < 0.9
    assert regridder.outside_fraction(mass) == pytest.approx(lost, abs=1e-12)
    assert regridder.regrid_amount(mass).sum() == pytest.approx(mass.sum() * (1 - lost),
                                                               rel=1e-12)


def test_projected_source_onto_lat_lon_target_in_equal_area_plane():
    target = Grid("EPSG:4326", 116.9, 117.1, 0.05, 31.4, 31.6, 0.04)
    source = Grid(TMERC, 489000.0, 509700.0, 2300.0, 3475000.0, 3504700.0, 2700.0)
    regridder = ConservativeRegridder(source, target)
    polygons = projected_source_polygons(source, target, y_map=band_area)
    # the target cells in the equal-area plane (longitude, F(latitude))
    tx, ty = edges(target)
    ref = np.zeros((target.size, source.size))
    for tj in range(target.ny):
        boxes = shapely.box(tx[:-1], band_area(ty[tj]), tx[1:], band_area(ty[tj + 1]))
        for s, polygon in enumerate(polygons):
            ref[tj * target.nx: (tj + 1) * target.nx, s] = (
                shapely.area(shapely.intersection(boxes, polygon)) / polygon.area)
    np.testing.assert_allclose(regridder.weights.toarray(), ref, atol=1e-9)


def test_clip_box_kernel_against_shapely():
    rng = np.random.default_rng(4)
    cap = 16 * 12 + 64
    ax, ay, bx, by = (np.empty(cap) for _ in range(4))
    tested = 0
    for trial in range(200):
        n = 3 + trial % 10
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        radius = rng.uniform(0.3, 1.0, n)  # star-shaped, often concave
        px = 0.5 + radius * np.cos(angles) + rng.normal(0, 0.3)
        py = 0.5 + radius * np.sin(angles) + rng.normal(0, 0.3)
        if trial % 2:
            px, py = px[::-1].copy(), py[::-1].copy()  # clockwise
        polygon = shapely.Polygon(np.column_stack([px, py]))
        if not polygon.is_valid:  # nearly equal angles: not a simple polygon
            continue
        tested += 1
        x0, y0 = rng.uniform(-0.5, 0.8, 2)
        x1, y1 = x0 + rng.uniform(0.1, 1.2), y0 + rng.uniform(0.1, 1.2)
        m = kernels.clip_box(px, py, n, x0, x1, y0, y1, ax, ay, bx, by)
        clipped = abs(kernels.polygon_area(ax, ay, m))
        assert abs(kernels.polygon_area(px, py, n)) == pytest.approx(polygon.area, rel=1e-12)
        expected = polygon.intersection(shapely.box(x0, y0, x1, y1)).area
        assert clipped == pytest.approx(expected, abs=1e-12)
    assert tested > 150


def test_polygon_area_has_no_cancellation_at_large_offsets():
    x = np.array([0.0, 100.0, 100.0, 0.0]) + 5.0e6
    y = np.array([0.0, 0.0, 100.0, 100.0]) + 3.0e6
    assert kernels.polygon_area(x, y, 4) == 10000.0


# ----------------------------------------------------------------------------- conservation


@pytest.mark.parametrize("kind", ["same-crs", "projected"])
def test_totals_conserved_for_fields_inside(kind):
    target = Grid(TMERC, 480000.0, 520000.0, 1000.0, 3465000.0, 3505000.0, 1000.0)
    if kind == "same-crs":
        source = Grid(TMERC, 490050.0, 509950.0, 100.0, 3470030.0, 3499930.0, 100.0)
    else:
        source = Grid("EPSG:4326", 116.9, 117.1, 0.002, 31.35, 31.6, 0.0025)
    regridder = ConservativeRegridder(source, target)
    values = np.random.default_rng(5).lognormal(size=source.shape)
    assert regridder.regrid_amount(values).sum() == pytest.approx(values.sum(), rel=1e-12)
    assert regridder.outside_fraction(values) == pytest.approx(0.0, abs=1e-13)
    inside = np.asarray(regridder.weights.sum(axis=0)).ravel()
    np.testing.assert_allclose(inside, 1.0, atol=1e-12)


def test_partly_outside_source_loses_exactly_the_outside_share():
    target = Grid(TMERC, 0.0, 1000.0, 250.0, 0.0, 1000.0, 250.0)
    source = Grid(TMERC, -150.0, 1050.0, 100.0, 30.0, 1230.0, 100.0)  # 12 x 12
    regridder = ConservativeRegridder(source, target)
    values = np.random.default_rng(6).random(source.shape)
    xe, ye = edges(source)
    inside_x = np.clip(np.minimum(xe[1:], 1000.0) - np.maximum(xe[:-1], 0.0), 0, None) / 100.0
    inside_y = np.clip(np.minimum(ye[1:], 1000.0) - np.maximum(ye[:-1], 0.0), 0, None) / 100.0
    kept = (values * np.outer(inside_y, inside_x)).sum()
    assert regridder.regrid_amount(values).sum() == pytest.approx(kept, rel=1e-13)
    assert regridder.outside_fraction(values) == pytest.approx(1 - kept / values.sum(),
                                                               rel=1e-12)


@pytest.mark.parametrize("source, target", [
    # fine -> coarse and coarse -> fine, same CRS
    (Grid(TMERC, 490000.0, 500000.0, 100.0, 3480000.0, 3490000.0, 125.0),
     Grid(TMERC, 490000.0, 500000.0, 1000.0, 3480000.0, 3490000.0, 2500.0)),
    (Grid(TMERC, 490000.0, 500000.0, 2500.0, 3480000.0, 3490000.0, 2000.0),
     Grid(TMERC, 490000.0, 500000.0, 250.0, 3480000.0, 3490000.0, 400.0)),
    # lat/lon fine -> projected coarse, projected coarse -> lat/lon fine
    (Grid("EPSG:4326", 116.95, 117.05, 0.002, 31.45, 31.55, 0.002),
     Grid(UTM50, 492000.0, 507000.0, 3000.0, 3476000.0, 3494000.0, 3000.0)),
    (Grid(UTM50, 492000.0, 508000.0, 4000.0, 3472000.0, 3500000.0, 4000.0),
     Grid("EPSG:4326", 116.9, 117.1, 0.01, 31.3, 31.7, 0.01)),
])
def test_density_conserved_and_uniform_stays_uniform(source, target):
    regridder = ConservativeRegridder(source, target)
    density = np.random.default_rng(7).lognormal(size=source.shape)
    out = regridder.regrid_density(density)
    assert (out * target.cell_area).sum() == pytest.approx(
        (density * source.cell_area).sum(), rel=1e-12)
    amounts = np.random.default_rng(8).random(source.shape)
    assert regridder.regrid_amount(amounts).sum() == pytest.approx(amounts.sum(), rel=1e-12)
    uniform = regridder.regrid_density(np.full(source.shape, 2.5))
    covered = np.asarray(regridder.weights.sum(axis=1)).ravel().reshape(target.shape)
    # target cells fully covered by the source keep the density (up to the projection's
    # areal-scale variation and straight-edge approximation between different CRSs)
    full = (regridder.weights @ source.cell_area.ravel()).reshape(target.shape) >= (
        0.999999 * target.cell_area)
    assert full.sum() >= 4 and covered.max() > 0
    tolerance = 1e-12 if source.is_geographic and target.is_geographic else 2e-6
    np.testing.assert_allclose(uniform[full], 2.5, rtol=tolerance)


@pytest.mark.parametrize("source_crs", ["same", "lonlat"])
def test_adjoint(source_crs):
    target = Grid(UTM50, 490000.0, 514000.0, 3000.0, 3466000.0, 3506000.0, 4000.0)
    if source_crs == "same":
        source = Grid(UTM50, 489500.0, 515500.0, 500.0, 3465000.0, 3507000.0, 1000.0)
    else:
        source = Grid("EPSG:4326", 116.9, 117.2, 0.01, 31.3, 31.7, 0.01)
    regridder = ConservativeRegridder(source, target)
    rng = np.random.default_rng(9)
    x = rng.normal(size=(2, *source.shape))
    y = rng.normal(size=(2, *target.shape))
    lhs = (regridder.regrid_amount(x) * y).sum()
    rhs = (x * regridder.adjoint_amount(y)).sum()
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_bad_shape_and_edge_points_are_rejected():
    grid = Grid(TMERC, 0.0, 1000.0, 250.0, 0.0, 1000.0, 250.0)
    regridder = ConservativeRegridder(grid, grid)
    np.testing.assert_allclose(regridder.regrid_amount(np.eye(4)), np.eye(4), atol=1e-15)
    with pytest.raises(ValueError, match="grid shape"):
        regridder.regrid_amount(np.ones((3, 4)))
    with pytest.raises(ValueError, match="edge_points"):
        ConservativeRegridder(grid, grid, edge_points=-1)
