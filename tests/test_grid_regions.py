"""The inversion grid (cityflux.grid) and regions rasterised on it (cityflux.regions)."""

import json

import numpy as np
import pyproj
import pytest
import shapely
import xarray as xr
from shapely.geometry import Polygon, box, mapping

from cityflux.errors import ConfigError, InputError
from cityflux.grid import Grid
from cityflux.regions import cell_fractions, read_regions

DEMO_CRS = "+proj=tmerc +lat_0=31.5 +lon_0=117.0 +k=1 +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs"
GEOD = pyproj.Geod(ellps="WGS84")


def _geodesic_area(lon, lat):
    area, _ = GEOD.polygon_area_perimeter(lon, lat)
    return abs(area)


def _densified_ring(x0, y0, x1, y1, n=200):
    """Closed ring around a rectangle with n points per side (counter-clockwise)."""
    t = np.linspace(0, 1, n, endpoint=False)
    xs = np.concatenate([x0 + (x1 - x0) * t, np.full(n, x1), x1 - (x1 - x0) * t, np.full(n, x0)])
    ys = np.concatenate([np.full(n, y0), y0 + (y1 - y0) * t, np.full(n, y1), y1 - (y1 - y0) * t])
    return xs, ys


@pytest.fixture(scope="module")
def projected():
    return Grid(DEMO_CRS, -30000.0, 30000.0, 1000.0, -20000.0, 25000.0, 1500.0)


@pytest.fixture(scope="module")
def geographic():
    return Grid("EPSG:4326", 116.0, 118.0, 0.25, 31.0, 32.0, 0.5)


# --------------------------------------------------------------------------- grid geometry


def test_projected_shape_centres_bounds(projected):
    g = projected
    assert (g.nx, g.ny, g.shape, g.size) == (60, 30, (30, 60), 1800)
    assert g.dims == ("y", "x") and not g.is_geographic
    assert g.x[0] == -29500.0 and g.x[-1] == 29500.0
    assert g.y[0] == -19250.0 and g.y[-1] == 24250.0
    np.testing.assert_allclose(np.diff(g.x), 1000.0)
    np.testing.assert_array_equal(g.x_bounds[0], [-30000.0, -29000.0])
    np.testing.assert_array_equal(g.y_bounds[-1], [23500.0, 25000.0])
    np.testing.assert_array_equal(g.x_bounds[1:, 0], g.x_bounds[:-1, 1])


def test_geographic_shape_centres_bounds(geographic):
    g = geographic
    assert (g.nx, g.ny, g.shape) == (8, 2, (2, 8))
    assert g.dims == ("lat", "lon") and g.is_geographic
    np.testing.assert_allclose(g.x, 116.125 + 0.25 * np.arange(8))
    np.testing.assert_allclose(g.y, [31.25, 31.75])
    np.testing.assert_allclose(g.y_bounds, [[31.0, 31.5], [31.5, 32.0]])
    lon, lat = g.lonlat
    assert lon.shape == lat.shape == (2, 8)
    np.testing.assert_array_equal(lon[1], g.x)
    np.testing.assert_array_equal(lat[:, 3], g.y)


def test_projected_cell_areas_sum_to_geodesic_domain_area(projected):
    g = projected
    xs, ys = _densified_ring(g.x_start, g.y_start, g.x_stop, g.y_stop)
    lon, lat = pyproj.Transformer.from_crs(g.pyproj_crs, "EPSG:4326",
                                           always_xy=True).transform(xs, ys)
    assert g.cell_area.shape == g.shape
    assert g.cell_area.sum() == pytest.approx(_geodesic_area(lon, lat), rel=1e-4)


def test_projected_cell_area_away_from_central_meridian():
    # UTM zone 50 (central meridian 117 E), cells ~300 km west of it: scale factor ≈ 1.0008,
    # so the true area differs from the map area by ≈ 0.16 %
    g = Grid("EPSG:32650", 190000.0, 194000.0, 2000.0, 3480000.0, 3482000.0, 2000.0)
    to_geo = pyproj.Transformer.from_crs(g.pyproj_crs, "EPSG:4326", always_xy=True)
    for row in range(g.ny):
        for col in range(g.nx):
            (x0, x1), (y0, y1) = g.x_bounds[col], g.y_bounds[row]
            lon, lat = to_geo.transform(*_densified_ring(x0, y0, x1, y1, 50))
            assert g.cell_area[row, col] == pytest.approx(_geodesic_area(lon, lat), rel=1e-5)
    assert abs(g.cell_area[0, 0] / 4e6 - 1) > 1e-3  # the scale factor matters here


def test_geographic_cell_area_equator():
    g = Grid("EPSG:4326", 0.0, 1.0, 1.0, -0.5, 0.5, 1.0)
    assert g.cell_area.shape == (1, 1)
    # 1° × 1° at the equator: ≈ 111.32 km × 110.57 km ≈ 12,308 km²
    assert g.cell_area[0, 0] / 1e6 == pytest.approx(12308.0, rel=5e-3)


def test_geographic_cell_area_shrinks_with_latitude_as_on_the_ellipsoid():
    g = Grid("EPSG:4326", 0.0, 2.0, 1.0, 0.0, 60.0, 1.0)
    area = g.cell_area
    np.testing.assert_array_equal(area[:, 0], area[:, 1])
    ratio = area[59, 0] / area[0, 0]
    # area ∝ M N cos φ with radii of curvature M N ∝ (1 − e² sin² φ)⁻²
    e2 = g.pyproj_crs.get_geod().es

    def scale(lat):
        return np.cos(np.radians(lat)) / (1 - e2 * np.sin(np.radians(lat)) ** 2) ** 2

    assert ratio == pytest.approx(scale(59.5) / scale(0.5), rel=1e-4)


def _ellipsoid_cell_area(lon0, lon1, lat0, lat1):
    xs, ys = _densified_ring(lon0, lat0, lon1, lat1, 400)
    return _geodesic_area(xs, ys)


@pytest.mark.parametrize("lat0", [-0.5, 31.0])
def test_geographic_cell_area_on_the_ellipsoid(lat0):
    g = Grid("EPSG:4326", 0.0, 1.0, 1.0, lat0, lat0 + 1.0, 1.0)
    assert g.cell_area[0, 0] == pytest.approx(_ellipsoid_cell_area(0, 1, lat0, lat0 + 1),
                                              rel=1e-4)


def test_geographic_whole_globe_area():
    # the band areas add up to the area of the whole ellipsoid
    g = Grid("EPSG:4326", -180.0, 180.0, 10.0, -90.0, 90.0, 10.0)
    geod = g.pyproj_crs.get_geod()
    b = geod.b
    e = np.sqrt(geod.es)
    total = 2 * np.pi * geod.a ** 2 * (1 + (1 - e ** 2) / e * np.arctanh(e))
    assert b > 0
    assert g.cell_area.sum() == pytest.approx(total, rel=1e-9)


def test_lonlat_round_trip_projected(projected):
    g = projected
    lon, lat = g.lonlat
    assert lon.shape == g.shape
    x, y = g.to_grid_crs(lon, lat)
    xx, yy = np.meshgrid(g.x, g.y)
    np.testing.assert_allclose(x, xx, atol=1e-6)
    np.testing.assert_allclose(y, yy, atol=1e-6)


def test_projected_origin_maps_to_projection_centre():
    g = Grid(DEMO_CRS, -500.0, 500.0, 1000.0, -500.0, 500.0, 1000.0)
    lon, lat = g.lonlat
    assert lon[0, 0] == pytest.approx(117.0, abs=1e-9)
    assert lat[0, 0] == pytest.approx(31.5, abs=1e-9)
    assert g.centre_lonlat == pytest.approx((117.0, 31.5), abs=1e-9)


def test_lonlat_round_trip_geographic(geographic):
    g = geographic
    lon, lat = g.lonlat
    x, y = g.to_grid_crs(lon, lat)
    np.testing.assert_array_equal(x, lon)
    np.testing.assert_array_equal(y, lat)


def test_metric_xy_projected_is_the_projection(projected):
    g = projected
    mx, my = g.metric_xy
    np.testing.assert_array_equal(mx[0], g.x)
    np.testing.assert_array_equal(my[:, 0], g.y)
    # and points given in lon/lat land where the projection puts them
    lon, lat = g.lonlat
    px, py = g.to_metric(lon[5, 7], lat[5, 7])
    assert (px, py) == pytest.approx((g.x[7], g.y[5]), abs=1e-6)
    dx, dy = g.metric_cell_size
    np.testing.assert_array_equal(dx, 1000.0)
    np.testing.assert_array_equal(dy, 1500.0)


def test_metric_xy_geographic_distances(geographic):
    g = geographic
    mx, my = g.metric_xy
    lon, lat = g.lonlat
    lon0, lat0 = g.centre_lonlat
    assert (lon0, lat0) == pytest.approx((117.0, 31.5))
    # azimuthal equidistant: exact distance from the centre
    _, _, dist = GEOD.inv(np.full(lon.shape, lon0), np.full(lat.shape, lat0), lon, lat)
    np.testing.assert_allclose(np.hypot(mx, my), dist, rtol=1e-9)
    # east of the centre is +x, north is +y
    assert mx[0, -1] > 0 > mx[0, 0]
    assert my[1, 0] > 0 > my[0, 0]
    # distances between any two cells within 1 % of the geodesic
    i, j = (0, 0), (1, 7)
    _, _, d = GEOD.inv(lon[i], lat[i], lon[j], lat[j])
    assert np.hypot(mx[i] - mx[j], my[i] - my[j]) == pytest.approx(d, rel=1e-2)
    # metric cell sizes: 0.25° of longitude and 0.5° of latitude at ~31.5 N
    dx, dy = g.metric_cell_size
    assert dx[0, 0] == pytest.approx(0.25 * 111320 * np.cos(np.radians(31.25)), rel=5e-3)
    assert dy[0, 0] == pytest.approx(0.5 * 110900, rel=5e-3)


@pytest.mark.parametrize("crs, message", [
    ("EPSG:999999", "not a valid CRS"),
    ("EPSG:2263", "must be in metres"),  # NY State Plane, US survey feet
])
def test_grid_validate_crs_errors(crs, message):
    domain_grid = Grid(crs, 0.0, 10.0, 1.0, 0.0, 10.0, 1.0)
    with pytest.raises(ConfigError, match=message):
        domain_grid.validate()


def test_grid_validate_geographic_ranges():
    with pytest.raises(ConfigError, match="latitudes in"):
        Grid("EPSG:4326", 0.0, 10.0, 1.0, 80.0, 100.0, 1.0).validate()
    Grid("EPSG:4326", 0.0, 10.0, 1.0, 80.0, 90.0, 1.0).validate()


def test_check_matches(projected):
    g = projected
    good = xr.DataArray(np.zeros(g.shape), dims=("y", "x"), coords={"y": g.y, "x": g.x})
    g.check_matches(good, "f")
    shifted = good.assign_coords(x=g.x + 500.0)
    with pytest.raises(InputError, match="f: x coordinates do not match the domain grid"):
        g.check_matches(shifted, "f")
    wrong_dims = xr.DataArray(np.zeros(g.shape), dims=("lat", "lon"))
    with pytest.raises(InputError, match="dimension 'y' missing"):
        g.check_matches(wrong_dims, "f")


# --------------------------------------------------------------------------- cell fractions


@pytest.fixture(scope="module")
def small_geo():
    return Grid("EPSG:4326", 10.0, 15.0, 1.0, 40.0, 44.0, 1.0)  # 4 rows × 5 columns


def test_cell_fractions_block_of_cells(small_geo):
    fractions = cell_fractions(box(11.0, 41.0, 14.0, 43.0), small_geo)
    expected = np.zeros((4, 5))
    expected[1:3, 1:4] = 1.0
    np.testing.assert_allclose(fractions, expected, atol=1e-12)


def test_cell_fractions_block_of_cells_projected(projected):
    g = projected
    to_geo = pyproj.Transformer.from_crs(g.pyproj_crs, "EPSG:4326", always_xy=True)
    # 3 columns (x 2000..5000) × 2 rows (y 1000..4000 = rows 14, 15)
    xs, ys = _densified_ring(2000.0, 1000.0, 5000.0, 4000.0, 4)
    lon, lat = to_geo.transform(xs, ys)
    fractions = cell_fractions(Polygon(zip(lon, lat)), g)
    expected = np.zeros(g.shape)
    expected[14:16, 32:35] = 1.0
    np.testing.assert_allclose(fractions, expected, atol=1e-6)


def test_cell_fractions_half_cells(small_geo):
    half = cell_fractions(box(10.0, 40.0, 10.5, 41.0), small_geo)
    assert half[0, 0] == pytest.approx(0.5, abs=1e-12)
    assert half.sum() == pytest.approx(0.5, abs=1e-12)
    triangle = cell_fractions(Polygon([(12.0, 42.0), (13.0, 42.0), (13.0, 43.0)]), small_geo)
    assert triangle[2, 2] == pytest.approx(0.5, abs=1e-12)
    assert triangle.sum() == pytest.approx(0.5, abs=1e-12)
    # a polygon straddling four cells, a quarter of each cell inside
    quarter = cell_fractions(box(11.5, 41.5, 12.5, 42.5), small_geo)
    np.testing.assert_allclose(quarter[1:3, 1:3], 0.25, atol=1e-12)
    assert quarter.sum() == pytest.approx(1.0)


def test_cell_fractions_conserve_area(projected):
    g = projected
    angle = np.linspace(0, 2 * np.pi, 240, endpoint=False)
    lon = 117.02 + 0.12 * np.cos(angle) * (1 + 0.3 * np.sin(3 * angle))
    lat = 31.52 + 0.09 * np.sin(angle)
    polygon = Polygon(zip(lon, lat))
    assert polygon.is_valid
    fractions = cell_fractions(polygon, g)
    assert fractions.min() >= 0 and fractions.max() <= 1 + 1e-12
    assert 0 < np.count_nonzero((fractions > 0) & (fractions < 1))
    assert (fractions * g.cell_area).sum() == pytest.approx(_geodesic_area(lon, lat), rel=1e-4)


def test_cell_fractions_outside_grid_is_zero(small_geo):
    assert cell_fractions(box(50.0, 0.0, 51.0, 1.0), small_geo).sum() == 0.0


# --------------------------------------------------------------------------- read_regions


def _feature(kind, name, geometry):
    props = {}
    if kind is not None:
        props["type"] = kind
    if name is not None:
        props["name"] = name
    return {"type": "Feature", "properties": props, "geometry": mapping(geometry)}


def _write(tmp_path, features, name="regions.geojson"):
    path = tmp_path / name
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


CITY = box(11.0, 41.0, 14.0, 43.0)


def test_read_regions_good(tmp_path, small_geo):
    path = _write(tmp_path, [
        _feature("district", "West", box(11.0, 41.0, 12.5, 43.0)),
        _feature("city", "Town", CITY),
        _feature("district", "East", box(12.5, 41.0, 14.0, 43.0)),
    ])
    regions = read_regions(path, small_geo)
    assert regions.names == ("domain", "city", "West", "East")
    assert len(regions) == 4
    assert regions.fractions.shape == (4, 4, 5)
    np.testing.assert_array_equal(regions.fractions[0], 1.0)
    np.testing.assert_allclose(regions.fractions[2] + regions.fractions[3],
                               regions.fractions[1], atol=1e-12)
    assert regions.fractions[2][1, 2] == pytest.approx(0.5)
    assert set(regions.geometries) == {"city", "West", "East"}
    assert shapely.equals(regions.geometries["city"], CITY)


@pytest.mark.parametrize("features, message", [
    ([_feature("district", "A", box(11, 41, 12, 42))], "no feature of type 'city'"),
    ([_feature("city", "A", CITY), _feature("city", "B", CITY)],
     "more than one feature of type 'city'"),
    ([_feature("city", "A", CITY), _feature("borough", "B", CITY)],
     "feature 1 \\(B\\) has type 'borough'; expected 'city' or 'district'"),
    ([_feature(None, "A", CITY)], "feature 0 \\(A\\) has type None"),
    ([_feature("city", "A", CITY), _feature("district", "D", box(11, 41, 12, 42)),
      _feature("district", "D", box(12, 41, 13, 42))],
     "feature 2 \\(D\\): district name 'D' is already used by feature 1 \\(D\\)"),
    ([_feature("city", "A", CITY), _feature("district", "city", box(11, 41, 12, 42))],
     "feature 1 \\(city\\): a district may not be called 'city'"),
    ([_feature("city", "A", CITY), _feature("district", "Far", box(50, 0, 51, 1))],
     "region 'Far' does not overlap the domain grid"),
    ([_feature("city", "A", box(50, 0, 51, 1))], "region 'city' does not overlap"),
    ([_feature("city", None, CITY)], "feature 0, property name: expected a non-empty text"),
    ([_feature("city", "A", shapely.LineString([(11, 41), (12, 42)]))],
     "feature 0 \\(A\\) is a LineString; expected Polygon or MultiPolygon"),
    ([_feature("city", "A", Polygon([(11, 41), (13, 43), (13, 41), (11, 43)]))],
     "feature 0 \\(A\\) has an invalid geometry \\(Self-intersection"),
    ([], "expected a GeoJSON FeatureCollection with features"),
])
def test_read_regions_errors(tmp_path, small_geo, features, message):
    path = _write(tmp_path, features)
    with pytest.raises(InputError, match=message) as info:
        read_regions(path, small_geo)
    assert str(path) in str(info.value)


def test_read_regions_unreadable(tmp_path, small_geo):
    path = tmp_path / "broken.geojson"
    path.write_text("{not json")
    with pytest.raises(InputError, match="cannot read GeoJSON"):
        read_regions(path, small_geo)
    with pytest.raises(InputError, match="cannot read GeoJSON"):
        read_regions(tmp_path / "missing.geojson", small_geo)
