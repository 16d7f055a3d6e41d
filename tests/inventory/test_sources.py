"""Raw sources onto the domain grid: the right cells, the right numbers, mass conserved.

Every expectation is computed by hand from the inputs (rates, unit factors written out,
geodesic lengths, cell areas): 1 yr = 365.25 d (the UDUNITS year), M(CO2) = 44.0095 g/mol,
M(C) = 12.011 g/mol, a flux in µmol m-2 s-1 is kg s-1 / M(CO2) × 1e6 / cell area.
"""

import json

import numpy as np
import pyproj
import pytest
import shapely
import xarray as xr

from cityflux.config import (
    AreaSourcesInput,
    GriddedInput,
    InventoryConfig,
    LineSourcesInput,
    PointSourcesInput,
)
from cityflux.grid import Grid
from cityflux.inventory.areas import read_area_sources
from cityflux.inventory.builder import build_inventory
from cityflux.inventory.gridded import read_gridded_input
from cityflux.inventory.lines import read_line_sources
from cityflux.inventory.model import Inventory, ProfiledField, TabulatedField
from cityflux.inventory.points import read_point_sources
from cityflux.inventory.profiles import Profiles

YEAR_S = 365.25 * 86400.0
M_CO2 = 44.0095e-3
CO2_PER_C = 44.0095 / 12.011
GEOD = pyproj.Geod(ellps="WGS84")
TMERC = ("+proj=tmerc +lat_0=0 +lon_0=117 +k=1 +x_0=500000 +y_0=0 +ellps=WGS84 "
         "+units=m +no_defs")
TO_LONLAT = pyproj.Transformer.from_crs(TMERC, "EPSG:4326", always_xy=True)
TO_TMERC = pyproj.Transformer.from_crs("EPSG:4326", TMERC, always_xy=True)

#: 8 x 6 cells of 0.125 x 0.25 degrees (edges exact in binary)
GEOGRAPHIC = Grid("EPSG:4326", 116.0, 117.0, 0.125, 31.0, 32.5, 0.25)
#: 20 x 30 cells of 1 km around (117.0 E, 31.49 N); x = 500 000 is the meridian 117 E
PROJECTED = Grid(TMERC, 490000.0, 510000.0, 1000.0, 3470000.0, 3500000.0, 1000.0)


def kg_s_per_cell(field: np.ndarray, grid: Grid) -> np.ndarray:
    """An annual-mean flux field (µmol m-2 s-1) back to kg CO2 s-1 per cell."""
    return field * grid.cell_area * M_CO2 * 1e-6


def sector_field(fields, sector) -> np.ndarray:
    return sum(f.flux for f in fields if f.sector == sector)


def write_geojson(path, features):
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def feature(geometry_type, coordinates, **properties):
    return {"type": "Feature", "properties": properties,
            "geometry": {"type": geometry_type, "coordinates": coordinates}}


# ----------------------------------------------------------------------------- points

POINTS_HEADER = "name,lon,lat,stack_height_m,sector,emission,emission_units\n"


@pytest.mark.parametrize("grid, cell", [(GEOGRAPHIC, (2, 5)), (PROJECTED, (17, 6))],
                         ids=["latlon", "projected"])
def test_points_split_by_stack_height_and_small_ones_gridded(tmp_path, grid, cell):
    j, i = cell
    if grid.is_geographic:
        lon, lat = grid.x[i] + 0.01, grid.y[j] - 0.02
        other_lon, other_lat = grid.x[0], grid.y[0]
    else:
        lon, lat = TO_LONLAT.transform(grid.x[i] + 210.0, grid.y[j] - 330.0)
        other_lon, other_lat = TO_LONLAT.transform(grid.x[0], grid.y[0])
    lon, lat, other_lon, other_lat = map(float, (lon, lat, other_lon, other_lat))
    path = tmp_path / "points.csv"
    path.write_text(
        "# plants of the test city\n" + POINTS_HEADER +
        f"plant,{other_lon!r},{other_lat!r},120,energy,1,Mt yr-1\n"
        f"works,{other_lon!r},{other_lat!r},50,industry,10,kg s-1\n"
        f"bakery,{lon!r},{lat!r},12,industry,36.525,kt yr-1\n"
        f"boiler,{lon!r},{lat!r},0,industry,100,t C yr-1\n"
        f"house,{other_lon!r},{other_lat!r},3,residential,2,t yr-1\n")
    spec = InventoryConfig(point_sources=PointSourcesInput(file=path, stack_min_height_m=50.0))
    inventory = build_inventory(spec, grid, 8.0)

    # stacks: at least 50 m high (50 m included), with their own rates
    assert list(inventory.points.name) == ["plant", "works"]
    np.testing.assert_allclose(inventory.points.rate_kg_s, [1e9 / YEAR_S, 10.0], rtol=1e-12)
    assert "energy" not in inventory.sectors  # the only energy source is a stack

    # small points: in their sector's field, in their cell
    bakery = 36.525e6 / YEAR_S
    boiler = 100e3 * CO2_PER_C / YEAR_S
    industry = sector_field(inventory.fields, "industry")
    expected = np.zeros(grid.shape)
    expected[j, i] = (bakery + boiler) / M_CO2 * 1e6 / grid.cell_area[j, i]
    np.testing.assert_allclose(industry, expected, rtol=1e-12, atol=0)
    residential = sector_field(inventory.fields, "residential")
    assert residential[0, 0] == pytest.approx(2e3 / YEAR_S / M_CO2 * 1e6 / grid.cell_area[0, 0],
                                              rel=1e-12)
    assert np.count_nonzero(residential) == 1
    # mass: the gridded small sources add up to their rates
    assert kg_s_per_cell(industry, grid).sum() == pytest.approx(bakery + boiler, rel=1e-12)


@pytest.mark.parametrize("units, kg_s", [
    ("kt yr-1", 1e6 / YEAR_S),                    # kilotonnes, not knots
    ("kt/yr", 1e6 / YEAR_S),
    ("Mt yr-1", 1e9 / YEAR_S),
    ("t yr-1", 1e3 / YEAR_S),
    ("t C yr-1", 1e3 * CO2_PER_C / YEAR_S),       # carbon mass -> CO2 mass
    ("tC/yr", 1e3 * CO2_PER_C / YEAR_S),
    ("kg s-1", 1.0),
    ("kg h-1", 1 / 3600.0),
    ("g CO2 s-1", 1e-3),
])
def test_point_emission_units(tmp_path, units, kg_s):
    path = tmp_path / "points.csv"
    path.write_text(POINTS_HEADER + f"p,116.5,31.5,80,energy,1,{units}\n")
    points = read_point_sources(path, GEOGRAPHIC)
    assert points.rate_kg_s[0] == pytest.approx(kg_s, rel=1e-12)


def test_point_optional_columns(tmp_path):
    path = tmp_path / "points.csv"
    path.write_text("name,lon,lat,stack_height_m,sector,emission,emission_units,"
                    "uncertainty_percent,exit_velocity_m_s,exit_temperature_k,"
                    "stack_diameter_m,profile,comment\n"
                    "a,116.5,31.5,80,energy,1,kt yr-1,20,15,400,5,flat,old plant\n"
                    "b,116.6,31.6,80,energy,1,kt yr-1,,,,,,\n")
    points = read_point_sources(path, GEOGRAPHIC)
    assert points.uncertainty_fraction[0] == pytest.approx(0.2)
    assert np.isnan(points.uncertainty_fraction[1])
    assert (points.exit_velocity_m_s[0], points.exit_temperature_k[0],
            points.diameter_m[0]) == (15.0, 400.0, 5.0)
    assert list(points.profile) == ["flat", "energy"]  # default: the sector


# ----------------------------------------------------------------------------- lines


def test_road_per_km_lands_on_its_path(tmp_path):
    """A road along the meridian 116.3 E (column 2) from 31.1 to 32.4 N, with a vertex on
    every cell edge it crosses, so that each cell holds one geodesic segment."""
    lats = [31.1, 31.25, 31.5, 31.75, 32.0, 32.25, 32.4]
    path = write_geojson(tmp_path / "roads.geojson", [
        feature("LineString", [[116.3, lat] for lat in lats], sector="road_transport",
                units="t km-1 yr-1", emission_per_km=100.0)])
    fields = read_line_sources(path, GEOGRAPHIC)
    assert [(f.sector, f.profile) for f in fields] == [("road_transport", "road_transport")]

    per_m = 100e3 / 1000.0 / YEAR_S  # kg s-1 m-1
    expected = np.zeros(GEOGRAPHIC.shape)
    for row, (south, north) in enumerate(zip(lats[:-1], lats[1:])):
        _, _, length = GEOD.inv(116.3, south, 116.3, north)
        expected[row, 2] = per_m * length
    amount = kg_s_per_cell(fields[0].flux, GEOGRAPHIC)
    np.testing.assert_allclose(amount, expected, rtol=1e-12, atol=1e-12 * expected.max())
    total_length = GEOD.line_length([116.3] * len(lats), lats)
    assert amount.sum() == pytest.approx(per_m * total_length, rel=1e-12)


def test_multilinestring_total_split_by_length(tmp_path):
    part_a = [[116.3, 31.1], [116.3, 31.2]]                  # in cell (0, 2)
    part_b = [[116.8, 31.6], [116.8, 31.9]]                  # cells (2, 6) and (3, 6)
    path = write_geojson(tmp_path / "roads.geojson", [
        feature("MultiLineString", [part_a, part_b], sector="roads", profile="traffic",
                units="t yr-1", emission=50.0),
        feature("LineString", [[116.1, 32.3], [116.2, 32.3]], sector="roads",
                units="kg s-1", emission=0.0)])
    fields = read_line_sources(path, GEOGRAPHIC)
    assert [(f.sector, f.profile) for f in fields] == [("roads", "traffic"), ("roads", "roads")]
    amount = kg_s_per_cell(fields[0].flux, GEOGRAPHIC)

    total = 50e3 / YEAR_S
    length_a = GEOD.line_length([116.3, 116.3], [31.1, 31.2])
    length_b = GEOD.line_length([116.8, 116.8], [31.6, 31.9])
    assert amount[0, 2] == pytest.approx(total * length_a / (length_a + length_b), rel=1e-12)
    assert amount[2:4, 6].sum() == pytest.approx(total * length_b / (length_a + length_b),
                                                 rel=1e-12)
    assert amount.sum() == pytest.approx(total, rel=1e-12)
    assert np.count_nonzero(amount) == 3
    assert not fields[1].flux.any()


def test_road_partly_outside_keeps_the_inside_share(tmp_path, caplog):
    # along the parallel 31.1 N from 115.5 E (outside) to 116.5 E: half the length inside
    path = write_geojson(tmp_path / "roads.geojson", [
        feature("LineString", [[115.5, 31.1], [116.0, 31.1], [116.5, 31.1]], sector="roads",
                units="kg s-1", emission=2.0)])
    with caplog.at_level("INFO", logger="cityflux.inventory.lines"):
        fields = read_line_sources(path, GEOGRAPHIC)
    inside = GEOD.line_length([116.0, 116.5], [31.1, 31.1])
    full = GEOD.line_length([115.5, 116.0, 116.5], [31.1] * 3)
    assert kg_s_per_cell(fields[0].flux, GEOGRAPHIC).sum() == pytest.approx(
        2.0 * inside / full, rel=1e-12)
    assert "outside the domain" in caplog.text


# ----------------------------------------------------------------------------- areas


def test_area_without_proxy_uniform_inside_polygon(tmp_path):
    # a district covering cells rows 1-2, columns 2-4 exactly
    ring = [[116.25, 31.25], [116.625, 31.25], [116.625, 31.75], [116.25, 31.75],
            [116.25, 31.25]]
    path = write_geojson(tmp_path / "areas.geojson", [
        feature("Polygon", [ring], sector="residential", units="kt yr-1", emission=12.0,
                name="old town")])
    fields = read_area_sources(AreaSourcesInput(file=path), GEOGRAPHIC)
    inside = np.zeros(GEOGRAPHIC.shape, bool)
    inside[1:3, 2:5] = True
    total = 12e6 / YEAR_S
    polygon_area = GEOGRAPHIC.cell_area[inside].sum()
    expected = np.where(inside, total / M_CO2 * 1e6 / polygon_area, 0.0)
    np.testing.assert_allclose(fields[0].flux, expected, rtol=1e-12, atol=0)
    assert kg_s_per_cell(fields[0].flux, GEOGRAPHIC).sum() == pytest.approx(total, rel=1e-12)


def test_area_spread_over_land_fraction(tmp_path):
    ring = [[116.25, 31.25], [116.5, 31.25], [116.5, 31.5], [116.25, 31.5], [116.25, 31.25]]
    path = write_geojson(tmp_path / "areas.geojson", [
        feature("Polygon", [ring], sector="residential", units="kg s-1", emission=3.0)])
    land = np.ones(GEOGRAPHIC.shape)
    land[1, 2], land[1, 3] = 0.5, 0.0  # the polygon's two cells
    fields = read_area_sources(AreaSourcesInput(file=path), GEOGRAPHIC, land_fraction=land)
    amount = kg_s_per_cell(fields[0].flux, GEOGRAPHIC)
    assert amount[1, 2] == pytest.approx(3.0, rel=1e-12)  # all of it on the land
    assert amount[1, 3] == 0.0
    assert np.count_nonzero(amount) == 1


def write_proxy(path, grid, values, name="population"):
    xr.Dataset({name: (("lat", "lon"), values, {"units": "1"})},
               coords={"lat": grid.y, "lon": grid.x}).to_netcdf(path)
    return path


def test_area_with_latlon_proxy_on_projected_domain(tmp_path):
    """Proxy cells of 1/32 degree; the polygon is 4 x 3 of them. Inside it the proxy is 1
    in the south-west cell (west of 117 E) and 3 in the north-east cell (east of 117 E),
    zero elsewhere; outside it the proxy is large (and partly missing) and must not draw
    any emission."""
    proxy_grid = Grid("EPSG:4326", 116.75, 117.25, 1 / 32, 31.25, 31.75, 1 / 32)
    rng = np.random.default_rng(5)
    proxy = rng.uniform(10.0, 20.0, proxy_grid.shape)
    proxy[0, 0] = np.nan
    proxy[6:9, 6:10] = 0.0
    proxy[6, 6], proxy[8, 9] = 1.0, 3.0
    west, east = proxy_grid.x_bounds[6, 0], proxy_grid.x_bounds[9, 1]
    south, north = proxy_grid.y_bounds[6, 0], proxy_grid.y_bounds[8, 1]
    assert (west, east, south, north) == (116.9375, 117.0625, 31.4375, 31.53125)
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    path = write_geojson(tmp_path / "areas.geojson", [
        feature("Polygon", [ring], sector="residential", units="t yr-1", emission=4000.0)])
    spec = AreaSourcesInput(file=path, proxy=write_proxy(tmp_path / "pop.nc", proxy_grid,
                                                         proxy),
                            proxy_variable="population")
    fields = read_area_sources(spec, PROJECTED)
    amount = kg_s_per_cell(fields[0].flux, PROJECTED)
    total = 4000e3 / YEAR_S

    assert amount.sum() == pytest.approx(total, rel=1e-10)
    west_of_117 = PROJECTED.x < 500000.0  # the central meridian of the projection
    assert amount[:, west_of_117].sum() == pytest.approx(total / 4, rel=1e-10)
    assert amount[:, ~west_of_117].sum() == pytest.approx(3 * total / 4, rel=1e-10)

    # no emission in cells that do not touch the two weighted proxy cells
    def projected_box(row, col):
        corners = [(proxy_grid.x_bounds[col, a], proxy_grid.y_bounds[row, b])
                   for a, b in ((0, 0), (1, 0), (1, 1), (0, 1))]
        return shapely.Polygon([TO_TMERC.transform(*c) for c in corners])

    weighted = shapely.union(projected_box(6, 6), projected_box(8, 9))
    xx, yy = np.meshgrid(PROJECTED.x, PROJECTED.y)
    cells = shapely.box(xx - 500, yy - 500, xx + 500, yy + 500)
    away = ~shapely.intersects(cells, weighted)
    assert away.sum() > 0.9 * away.size
    assert np.all(amount[away] == 0.0)


# ----------------------------------------------------------------------------- gridded


def write_gridded(path, grid, values, units, name="emission", species=None, times=None):
    attrs = {"units": units, **({"species": species} if species else {})}
    dims = ("lat", "lon") if times is None else ("time", "lat", "lon")
    coords = {"lat": grid.y, "lon": grid.x}
    if times is not None:
        coords["time"] = times
    xr.Dataset({name: (dims, values, attrs)}, coords=coords).to_netcdf(path)
    return path


@pytest.mark.parametrize("target", [GEOGRAPHIC, PROJECTED], ids=["latlon", "projected"])
@pytest.mark.parametrize("units", ["kg m-2 s-1", "t yr-1"])
def test_gridded_input_conserves_mass(tmp_path, target, units):
    """A coarser lat/lon inventory; the source cells carrying emission lie wholly inside
    the domain, so the domain total is the file's total."""
    if target.is_geographic:  # 4 x 3 cells covering the domain exactly
        source = Grid("EPSG:4326", 116.0, 117.0, 0.25, 31.0, 32.5, 0.5)
        inside = np.ones(source.shape, bool)
    else:  # cells of 0.05 degree; rows 2-5, columns 2-5 (116.9-117.1 E, 31.4-31.6 N) inside
        source = Grid("EPSG:4326", 116.8, 117.2, 0.05, 31.3, 31.7, 0.05)
        inside = np.zeros(source.shape, bool)
        inside[2:6, 2:6] = True
    rng = np.random.default_rng(1)
    values = np.where(inside, rng.uniform(0.5, 2.0, source.shape), 0.0)
    if units == "kg m-2 s-1":
        values = values * 1e-8
        total_kg_s = (values * source.cell_area).sum()
    else:
        values = values * 1e4
        total_kg_s = values.sum() * 1e3 / YEAR_S
    path = write_gridded(tmp_path / "inventory.nc", source, values, units)
    fields = read_gridded_input(GriddedInput(file=path, variable="emission",
                                             sector="industry"), target)
    assert len(fields) == 1 and isinstance(fields[0], ProfiledField)
    assert (fields[0].sector, fields[0].profile) == ("industry", "industry")
    assert kg_s_per_cell(fields[0].flux, target).sum() == pytest.approx(total_kg_s, rel=1e-10)
    assert (fields[0].flux >= 0).all()


def test_gridded_input_with_time_and_carbon_species(tmp_path):
    source = Grid("EPSG:4326", 116.0, 117.0, 0.25, 31.0, 32.5, 0.5)
    times = np.array(["2025-01-01T00", "2025-01-01T06"], dtype="datetime64[ns]")
    values = np.stack([np.full(source.shape, 1e-9), np.full(source.shape, 3e-9)])
    path = write_gridded(tmp_path / "flux.nc", source, values, "kg m-2 s-1", species="C",
                         times=times)
    fields = read_gridded_input(GriddedInput(file=path, variable="emission", sector="bio"),
                                GEOGRAPHIC)
    assert isinstance(fields[0], TabulatedField)
    np.testing.assert_array_equal(fields[0].starts, times)
    np.testing.assert_array_equal(fields[0].ends, times + np.timedelta64(6, "h"))
    # a uniform flux stays uniform: 1e-9 kg C m-2 s-1 = 1e-9 × 44.0095/12.011 / M(CO2) mol
    expected = 1e-9 * CO2_PER_C / M_CO2 * 1e6
    np.testing.assert_allclose(fields[0].flux[0], expected, rtol=1e-12)
    np.testing.assert_allclose(fields[0].flux[1], 3 * expected, rtol=1e-12)


@pytest.mark.parametrize("domain", [
    Grid("EPSG:4326", -74.5, -73.5, 0.125, 40.5, 41.0, 0.125),   # New York, lon < 0
    Grid("EPSG:4326", -0.5, 0.375, 0.125, 51.25, 51.75, 0.125),   # London, across 0 E
], ids=["west", "across-greenwich"])
def test_gridded_input_in_0_360_longitudes(tmp_path, domain):
    source = Grid("EPSG:4326", 0.0, 360.0, 1.0, 30.0, 60.0, 1.0)
    values = np.tile(np.arange(360.0), (source.ny, 1))  # value = west edge of the cell, E
    path = write_gridded(tmp_path / "global.nc", source, values * 1e-9, "kg m-2 s-1")
    fields = read_gridded_input(GriddedInput(file=path, variable="emission", sector="x"),
                                domain)
    west_edge = np.floor(domain.x) % 360.0  # the 1-degree cell each domain cell lies in
    expected = west_edge * 1e-9 / M_CO2 * 1e6
    np.testing.assert_allclose(fields[0].flux, np.broadcast_to(expected, domain.shape),
                               rtol=1e-12)


def test_gridded_input_float32_coordinates(tmp_path):
    """Coordinates stored as float32 (common in inventories) are read as the decimals they
    stand for (116.05, not 116.05000305), so the grid matches the domain's edges."""
    source = Grid("EPSG:4326", 116.0, 117.0, 0.1, 31.0, 32.5, 0.1)
    values = np.full(source.shape, 10.0)
    xr.Dataset({"emission": (("lat", "lon"), values, {"units": "t yr-1"})},
               coords={"lat": source.y.astype(np.float32),
                       "lon": source.x.astype(np.float32)}).to_netcdf(tmp_path / "f32.nc")
    fields = read_gridded_input(GriddedInput(file=tmp_path / "f32.nc", variable="emission",
                                             sector="x"), GEOGRAPHIC)
    assert kg_s_per_cell(fields[0].flux, GEOGRAPHIC).sum() == pytest.approx(
        values.sum() * 1e3 / YEAR_S, rel=1e-12)


def test_gridded_input_missing_values_are_zero_with_warning(tmp_path, caplog):
    source = Grid("EPSG:4326", 116.0, 117.0, 0.25, 31.0, 32.5, 0.5)
    values = np.full(source.shape, 8.0)
    values[0, 0] = np.nan
    path = write_gridded(tmp_path / "nan.nc", source, values, "t yr-1")
    with caplog.at_level("WARNING", logger="cityflux.inventory.gridded"):
        fields = read_gridded_input(GriddedInput(file=path, variable="emission",
                                                 sector="x"), GEOGRAPHIC)
    assert "nan.nc" in caplog.text and "1 of 12 values" in caplog.text
    assert kg_s_per_cell(fields[0].flux, GEOGRAPHIC).sum() == pytest.approx(
        11 * 8e3 / YEAR_S, rel=1e-12)
    assert not fields[0].flux[:2, :2].any()  # the cell of the missing value
    assert fields[0].flux[:2, 2:].all()


# ----------------------------------------------------------------------------- builder


def test_build_inventory_from_all_source_types(tmp_path, caplog):
    points = tmp_path / "points.csv"
    points.write_text(POINTS_HEADER + "plant,116.5,31.5,150,energy,1,Mt yr-1\n"
                      "shop,116.7,31.9,5,commercial,10,t yr-1\n")
    roads = write_geojson(tmp_path / "roads.geojson", [
        feature("LineString", [[116.3, 31.1], [116.3, 31.2]], sector="roads",
                units="kg s-1", emission=1.0)])
    areas = write_geojson(tmp_path / "areas.geojson", [
        feature("Polygon", [[[116.0, 31.0], [116.125, 31.0], [116.125, 31.25], [116.0, 31.25],
                             [116.0, 31.0]]], sector="residential", units="kg s-1",
                emission=2.0)])
    source = Grid("EPSG:4326", 116.0, 117.0, 0.25, 31.0, 32.5, 0.5)
    gridded = write_gridded(tmp_path / "inv.nc", source, np.full(source.shape, 0.25),
                            "kg s-1")
    profiles = tmp_path / "profiles.csv"
    profiles.write_text("sector,cycle,index,factor\n" +
                        "".join(f"rodas,hour,{h},1\n" for h in range(24)))
    spec = InventoryConfig(
        point_sources=PointSourcesInput(file=points, stack_min_height_m=10.0),
        line_sources=(LineSourcesInput(file=roads),),
        area_sources=(AreaSourcesInput(file=areas),),
        gridded=(GriddedInput(file=gridded, variable="emission", sector="industry"),),
        profiles=profiles)
    with caplog.at_level("WARNING", logger="cityflux.inventory.builder"):
        inventory = build_inventory(spec, GEOGRAPHIC, 8.0)
    assert "'rodas'" in caplog.text  # a profile that no source uses: probably misspelt
    assert set(inventory.sectors) == {"commercial", "roads", "residential", "industry"}
    assert list(inventory.points.name) == ["plant"]
    totals = {s: kg_s_per_cell(sector_field(inventory.fields, s), GEOGRAPHIC).sum()
              for s in inventory.sectors}
    assert totals == pytest.approx({"commercial": 1e4 / YEAR_S, "roads": 1.0,
                                    "residential": 2.0, "industry": 12 * 0.25}, rel=1e-12)


def test_sector_given_as_a_string_is_not_a_substring_match():
    ones = np.ones(GEOGRAPHIC.shape)
    inventory = Inventory(GEOGRAPHIC, 0.0, Profiles(), (ProfiledField("road", ones, "road"),
                                                        ProfiledField("roads", 2 * ones, "x")))
    times = np.array(["2025-06-01T00"], dtype="datetime64[ns]")
    assert (inventory.gridded_hourly("roads", times) == 2.0).all()
    assert (inventory.gridded_hourly(["road", "roads"], times) == 3.0).all()
