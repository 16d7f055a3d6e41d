"""Input handling found lacking by a review and a fuzzing run: regions (GeoJSON), sites and
records (CSV), the selection of observations, the CF grid file and the config keys that
lead to them.

Every user error must be ONE line of :class:`InputError` (or :class:`ConfigError`) that names
the file (and the feature, line or variable) and says what was expected, never a traceback
from numpy, pandas, json or shapely. The fuzz tests mutate good files with a seeded
generator and accept exactly two outcomes: a result, or such an error.
"""

import json
import logging

import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
import xarray as xr
import yaml
from shapely.geometry import Polygon, box, mapping

from cityflux.config import load_config
from cityflux.errors import ConfigError, InputError
from cityflux.grid import Grid, read_grid_file
from cityflux.obs.records import read_records
from cityflux.obs.selection import observation_table
from cityflux.obs.sites import background_site, read_sites, tower_sites
from cityflux.regions import (
    cell_fractions,
    read_city_and_districts,
    read_land_fraction,
    read_regions,
)


def _one_line_error(call, path, *fragments, kind=InputError) -> str:
    """Run ``call``; it must raise ``kind`` with one line naming ``path`` and every fragment."""
    with pytest.raises(kind) as info:
        call()
    message = str(info.value)
    assert "\n" not in message, message
    assert str(path) in message, message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


def _mutations(data: bytes, seed: int, count: int, alphabet: bytes):
    """``count`` copies of ``data`` with 1-3 random byte replacements, deletions or insertions."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        mutated = bytearray(data)
        for _ in range(int(rng.integers(1, 4))):
            position = int(rng.integers(len(mutated)))
            kind = int(rng.integers(3))
            if kind == 0:
                mutated[position] = int(rng.integers(256))
            elif kind == 1:
                del mutated[position]
            else:
                mutated.insert(position, alphabet[int(rng.integers(len(alphabet)))])
        yield bytes(mutated)


def _result_or_one_line_error(call, path) -> bool:
    """True if ``call`` returned, False if it raised one InputError line naming ``path``;
    any other exception fails the test."""
    try:
        call()
    except InputError as exc:
        message = str(exc)
        assert "\n" not in message and str(path) in message, message
        return False
    return True


# =========================================================================== regions

GEO = Grid("EPSG:4326", 10.0, 15.0, 1.0, 40.0, 44.0, 1.0)  # 4 rows x 5 columns
PROJECTED = Grid("+proj=tmerc +lat_0=42 +lon_0=12.5 +k=1 +x_0=0 +y_0=0 +datum=WGS84 "
                 "+units=m +no_defs", -200000.0, 200000.0, 10000.0, -160000.0, 160000.0,
                 10000.0)
CITY_WEST = box(11.0, 41.0, 12.5, 43.0)
CITY_EAST = box(12.5, 41.0, 14.0, 43.0)
CITY = shapely.union_all([CITY_WEST, CITY_EAST])  # the same vertices in both readers
NORTH = Polygon([(11.2, 42.0), (13.8, 42.0), (13.1, 42.9), (11.6, 42.7)])
SOUTH = box(11.3, 41.2, 13.7, 42.0)


def _feature(geometry, **properties) -> dict:
    return {"type": "Feature", "properties": properties,
            "geometry": None if geometry is None else mapping(geometry)}


def _write_json(path, features, **members):
    path.write_text(json.dumps({"type": "FeatureCollection", **members,
                                "features": features}))
    return path


def _combined(tmp_path):
    return _write_json(tmp_path / "regions.geojson", [
        _feature(NORTH, type="district", name="North"),
        _feature(CITY, type="city", name="Town"),
        _feature(SOUTH, type="district", name="South")])


def _separate(tmp_path, districts=((NORTH, "North"), (SOUTH, "South"))):
    city = _write_json(tmp_path / "city.geojson", [
        _feature(CITY_WEST, name="west bank"), _feature(CITY_EAST)])
    districts_path = _write_json(tmp_path / "districts.geojson",
                                 [_feature(g, name=n) for g, n in districts])
    return city, districts_path


@pytest.mark.parametrize("grid", [GEO, PROJECTED], ids=["lonlat", "projected"])
def test_both_region_readers_give_the_same_fractions(tmp_path, grid):
    one = read_regions(_combined(tmp_path), grid)
    two = read_city_and_districts(*_separate(tmp_path), grid)
    assert one.names == two.names == ("domain", "city", "North", "South")
    np.testing.assert_allclose(two.fractions, one.fractions, rtol=0, atol=1e-12)
    assert shapely.equals(two.geometries["city"], CITY)
    for index, outline in ((1, CITY), (2, NORTH), (3, SOUTH)):
        np.testing.assert_allclose(one.fractions[index], cell_fractions(outline, grid),
                                   atol=1e-12)
    assert ((one.fractions >= 0) & (one.fractions <= 1 + 1e-12)).all()
    # the districts tile part of the city: never more than the city in any cell
    assert (one.fractions[2] + one.fractions[3] <= one.fractions[1] + 1e-12).all()
    assert one.fractions[1].sum() > one.fractions[2].sum() > 0


def test_city_only_without_districts(tmp_path):
    city, _ = _separate(tmp_path)
    regions = read_city_and_districts(city, None, GEO)
    assert regions.names == ("domain", "city")
    # 11..14 by 41..43 on 1-degree cells: 3 x 2 full cells
    assert regions.fractions[1].sum() == pytest.approx(6.0)


def test_district_names_must_be_unique(tmp_path):
    city, districts = _separate(tmp_path, ((NORTH, "North"), (SOUTH, "North")))
    _one_line_error(lambda: read_city_and_districts(city, districts, GEO), districts,
                    "feature 1 (North): district name 'North' is already used by feature 0 "
                    "(North)")


@pytest.mark.parametrize("name", ["domain", "city"])
def test_district_names_domain_and_city_are_reserved(tmp_path, name):
    city, districts = _separate(tmp_path, ((NORTH, name),))
    _one_line_error(lambda: read_city_and_districts(city, districts, GEO), districts,
                    f"feature 0 ({name}): a district may not be called {name!r}")


def test_district_outside_the_grid_is_refused(tmp_path):
    city, districts = _separate(tmp_path, ((NORTH, "North"), (box(50, 0, 51, 1), "Far")))
    _one_line_error(lambda: read_city_and_districts(city, districts, GEO), districts,
                    "feature 1 (Far): region 'Far' does not overlap the domain grid")
    _one_line_error(lambda: read_city_and_districts(city, districts, PROJECTED), districts,
                    "feature 1 (Far)")


def test_city_outside_the_grid_names_the_city_file(tmp_path):
    _, districts = _separate(tmp_path)
    city = _write_json(tmp_path / "far_city.geojson", [_feature(box(50, 0, 51, 1))])
    message = _one_line_error(lambda: read_city_and_districts(city, districts, GEO), city,
                              "region 'city' does not overlap the domain grid")
    assert str(districts) not in message


def test_region_partly_outside_the_grid_is_reported(tmp_path, caplog):
    edge = box(14.5, 41.0, 15.5, 42.0)  # half of it east of the grid's 15 degrees
    city, districts = _separate(tmp_path, ((NORTH, "North"), (edge, "Edge")))
    with caplog.at_level(logging.WARNING, logger="cityflux.regions"):
        regions = read_city_and_districts(city, districts, GEO)
    assert regions.fractions[3].sum() == pytest.approx(0.5)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "feature 1 (Edge): 50 % of region 'Edge' lies outside the domain grid" in warnings[0]


def test_districts_file_must_not_hold_the_city(tmp_path):
    city, _ = _separate(tmp_path)
    districts = _combined(tmp_path)  # the combined file given as the districts file
    _one_line_error(lambda: read_city_and_districts(city, districts, GEO), districts,
                    "feature 1 (Town) has type 'city'; a districts file holds only districts")


def test_two_city_features_are_refused_naming_both(tmp_path):
    path = _write_json(tmp_path / "regions.geojson", [
        _feature(CITY_WEST, type="city", name="A"), _feature(NORTH, type="district", name="N"),
        _feature(CITY_EAST, type="city", name="B")])
    _one_line_error(lambda: read_regions(path, GEO), path,
                    "feature 2 (B): more than one feature of type 'city' (the first is "
                    "feature 0 (A))")


def test_read_land_fraction(tmp_path):
    land = _write_json(tmp_path / "land.geojson", [
        _feature(box(10.0, 40.0, 12.5, 44.0)),  # the west: whole columns 0, 1 and half of 2
        {"type": "Feature", "properties": None,
         "geometry": mapping(Polygon([(14.0, 40.0), (15.0, 40.0), (15.0, 41.0)]))}])
    fraction = read_land_fraction(land, GEO)
    expected = np.zeros(GEO.shape)
    expected[:, :2] = 1.0
    expected[:, 2] = 0.5
    expected[0, 4] = 0.5  # the triangle: half of the south-east cell
    np.testing.assert_allclose(fraction, expected, atol=1e-12)
    far = _write_json(tmp_path / "far.geojson", [_feature(box(50, 0, 51, 1))])
    _one_line_error(lambda: read_land_fraction(far, GEO), far,
                    "the land polygons do not overlap the domain grid")


def test_accepted_geojson_variants(tmp_path):
    """A byte-order mark, a declared CRS84, 3-D coordinates and null properties are fine."""
    ring3d = [[x, y, 0.0] for x, y in CITY.exterior.coords]
    document = {"type": "FeatureCollection",
                "crs": {"type": "name",
                        "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
                "features": [{"type": "Feature", "properties": None,
                              "geometry": {"type": "Polygon", "coordinates": [ring3d]}}]}
    path = tmp_path / "city.geojson"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(document).encode())
    regions = read_city_and_districts(path, None, GEO)
    assert regions.fractions[1].sum() == pytest.approx(6.0)
    assert read_land_fraction(path, GEO).sum() == pytest.approx(6.0)


GOOD = _feature(CITY, type="city", name="Town")
BAD_PROPS = {"type": "district", "name": "Bad"}
BOW_TIE = {"type": "Polygon", "coordinates": [[[11, 41], [13, 43], [13, 41], [11, 43],
                                               [11, 41]]]}
IN_METRES = {"type": "Polygon", "coordinates": [[[500000, 4600000], [510000, 4600000],
                                                 [510000, 4610000], [500000, 4600000]]]}


def _bad_feature(geometry, properties=BAD_PROPS):
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def _document(*features, **members) -> bytes:
    return json.dumps({"type": "FeatureCollection", **members,
                       "features": [GOOD, *features]}).encode()


BAD_GEOJSON = {
    "random_bytes": (np.random.default_rng(7).bytes(300), "cannot read GeoJSON"),
    "truncated": (_document(GOOD)[:97], "cannot read GeoJSON"),
    "empty_file": (b"", "cannot read GeoJSON"),
    "deeply_nested": (b"[" * 50000 + b"]" * 50000, "cannot read GeoJSON"),
    "not_a_collection": (json.dumps(GOOD).encode(),
                         ("expected a GeoJSON FeatureCollection with features, found 'Feature' "
                          "without features")),
    "no_features": (b'{"type": "FeatureCollection", "features": []}',
                    "expected a GeoJSON FeatureCollection with features"),
    "point": (_document(_bad_feature({"type": "Point", "coordinates": [12, 42]})),
              "feature 1 (Bad) is a Point; expected Polygon or MultiPolygon"),
    "self_intersecting": (_document(_bad_feature(BOW_TIE)),
                          "feature 1 (Bad) has an invalid geometry (Self-intersection[12 42])"),
    "metres": (_document(_bad_feature(IN_METRES)),
               ("feature 1 (Bad): vertex (500000, 4.6e+06) is not a longitude and latitude in "
                "degrees")),
    "lat_lon_swapped": (_document(_bad_feature({"type": "Polygon", "coordinates": [[
        [31.0, 117.0], [31.5, 117.0], [31.5, 117.5], [31.0, 117.0]]]})),
        "feature 1 (Bad): vertex (31, 117) is not a longitude and latitude"),
    "null_geometry": (_document(_bad_feature(None)),
                      ("feature 1 (Bad) has no geometry (null); expected a Polygon or "
                       "MultiPolygon")),
    "geometry_without_type": (_document(_bad_feature({"coordinates": [[[11, 41]]]})),
                              "feature 1 (Bad): geometry must be a GeoJSON geometry object"),
    "geometry_without_coordinates": (_document(_bad_feature({"type": "Polygon"})),
                                     ("feature 1 (Bad): geometry must be a GeoJSON geometry "
                                      "object with 'type' and 'coordinates', got {'type': "
                                      "'Polygon'}")),
    "malformed_coordinates": (_document(_bad_feature({"type": "Polygon",
                                                      "coordinates": [[11, 41]]})),
                              "feature 1 (Bad) has malformed Polygon coordinates"),
    "nan_coordinate": ((b'{"type": "FeatureCollection", "features": [{"type": "Feature", '
                       b'"properties": {"type": "city", "name": "Town"}, "geometry": '
                       b'{"type": "Polygon", "coordinates": [[[11, 41], [NaN, 41], [14, 43], '
                       b'[11, 41]]]}}]}'),
                       "feature 0 (Town): vertex (nan, 41) is not a longitude and latitude"),
    "properties_list": (_document(_bad_feature(mapping(NORTH), ["type", "district"])),
                        "feature 1: properties must be a JSON object, got list"),
    "properties_empty_list": (_document(_bad_feature(mapping(NORTH), [])),
                              "feature 1: properties must be a JSON object, got list"),
    "properties_text": (_document(_bad_feature(mapping(NORTH), "district")),
                        "feature 1: properties must be a JSON object, got str"),
    "feature_not_object": (_document(["Feature"]), "feature 1 is not a JSON object"),
    "projected_crs_declared": (_document(crs={"type": "name", "properties": {
        "name": "urn:ogc:def:crs:EPSG::32633"}}),
        ("declares crs 'urn:ogc:def:crs:EPSG::32633'; expected coordinates in "
         "longitude/latitude")),
}


@pytest.fixture
def region_readers(tmp_path):
    """Every reader of a polygon file, each taking the path of the file under test."""
    city, _ = _separate(tmp_path)
    return {
        "regions": lambda path: read_regions(path, GEO),
        "city_boundary": lambda path: read_city_and_districts(path, None, GEO),
        "districts": lambda path: read_city_and_districts(city, path, GEO),
        "land": lambda path: read_land_fraction(path, GEO),
    }


@pytest.mark.parametrize("case", sorted(BAD_GEOJSON))
def test_bad_geojson_is_one_line_naming_file_and_feature(tmp_path, region_readers, case):
    content, fragment = BAD_GEOJSON[case]
    path = tmp_path / f"{case}.geojson"
    path.write_bytes(content)
    for reader in region_readers.values():
        _one_line_error(lambda read=reader: read(path), path, fragment)


def test_missing_geojson_file(tmp_path, region_readers):
    path = tmp_path / "missing.geojson"
    for reader in region_readers.values():
        _one_line_error(lambda read=reader: read(path), path, "cannot read GeoJSON")


def test_fuzzed_geojson_gives_regions_or_one_line_error(tmp_path, region_readers):
    good = _combined(tmp_path).read_bytes()
    path = tmp_path / "fuzzed.geojson"
    outcomes = []
    for data in _mutations(good, seed=1, count=150, alphabet=b'{}[],:"0123456789-.eE nulNa'):
        path.write_bytes(data)
        outcomes.append(_result_or_one_line_error(lambda: region_readers["regions"](path),
                                                  path))
        _result_or_one_line_error(lambda: region_readers["land"](path), path)
    assert 0 < sum(outcomes) < len(outcomes)  # the fuzzing reached both outcomes


def test_truncated_geojson_at_every_length(tmp_path, region_readers):
    good = _combined(tmp_path).read_bytes().rstrip()
    path = tmp_path / "cut.geojson"
    for length in range(0, len(good), 7):
        path.write_bytes(good[:length])
        _one_line_error(lambda: region_readers["regions"](path), path, "cannot read GeoJSON")


# =========================================================================== sites


def _csv(tmp_path, text, name="sites.csv"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


SITES = ("site,lat,lon,inlet_height_m,role,operator\n"
         "T1,42.1,12.3,60,tower,ICOS\n"
         "T2,42.2,12.6,100,tower,\n"
         "K1,41.5,11.0,30,background,NOAA\n"
         "K2,43.0,14.5,30,background,NOAA\n"
         "F1,42.0,12.5,40,other,uni\n")


def test_sites_name_optional_and_extra_columns_kept(tmp_path):
    sites = read_sites(_csv(tmp_path, SITES))
    assert list(sites.site) == ["T1", "T2", "K1", "K2", "F1"]
    assert list(sites.name) == list(sites.site)  # no name column: the site id
    assert "operator" in sites.columns
    assert sites.operator.iloc[0] == "ICOS" and pd.isna(sites.operator.iloc[1])
    assert sites.lat.dtype == float and sites.inlet_height_m.iloc[1] == 100.0
    with_names = "site,name,lat,lon,inlet_height_m,role\nT1,Tall tower,42,12,60,tower\n" \
                 "T2,,42,12,60,tower\n"
    named = read_sites(_csv(tmp_path, with_names, "named.csv"))
    assert list(named.name) == ["Tall tower", "T2"]  # an empty name falls back to the id


def test_site_roles_and_background_choice(tmp_path):
    path = _csv(tmp_path, SITES)
    sites = read_sites(path)  # two background sites are accepted
    assert list(tower_sites(sites).site) == ["T1", "T2"]
    assert background_site(sites, "K2", "run.yaml") == "K2"
    _one_line_error(lambda: background_site(sites, "T1", "run.yaml"), "run.yaml",
                    "observations.background_site 'T1' has role 'tower'; it must be a site of "
                    "role 'background' (those: K1, K2)")
    _one_line_error(lambda: background_site(sites, "F1", "run.yaml"), "run.yaml",
                    "'F1' has role 'other'")
    _one_line_error(lambda: background_site(sites, None, "run.yaml"), "run.yaml",
                    "found 2 sites of role 'background' (K1, K2); set "
                    "observations.background_site to choose one")
    _one_line_error(lambda: background_site(sites, "Z9", "run.yaml"), "run.yaml",
                    "'Z9' is not in the sites file (sites: T1, T2, K1, K2, F1)")
    one = sites[sites.site != "K2"]
    assert background_site(one, None, "run.yaml") == "K1"
    none = sites[sites.role != "background"]
    _one_line_error(lambda: background_site(none, None, "run.yaml"), "run.yaml",
                    "no site has role 'background'")


def test_site_ids_are_kept_as_written(tmp_path):
    text = ("\ufeff# written by a spreadsheet\n"
            "site , lat, lon, inlet_height_m, role\n"
            "NA, 42.1, 12.3, 60, tower\n"
            "007, 42.2, 12.6, 100, background \n"
            "# a comment between rows\n"
            "Tower #2,42.0,12.0,10,tower\n")
    sites = read_sites(_csv(tmp_path, text))
    assert list(sites.site) == ["NA", "007", "Tower #2"]
    assert list(sites.role) == ["tower", "background", "tower"]
    assert background_site(sites, "007", "run.yaml") == "007"


HEADER = "site,lat,lon,inlet_height_m,role\n"
BAD_SITES = {
    "random_bytes": (np.random.default_rng(3).bytes(300), "cannot read CSV"),
    "empty_file": (b"", "no header line"),
    "header_only": (HEADER, "no sites"),
    "missing_columns": ("site,lat\nT1,42\n", ("missing column(s) ['lon', 'inlet_height_m', "
                                            "'role']")),
    "text_lat": (HEADER + "T1,42,12,60,tower\nT2,north,12,60,tower\n",
                 "line 3: lat 'north' is not a number"),
    "empty_lon": (HEADER + "T1,42,,60,tower\n", "line 2: lon is empty"),
    "lat_out_of_range": (HEADER + "T1,95,12,60,tower\n",
                         "line 2: lat 95 is out of range; expected between -90 and 90"),
    "infinite_height": (HEADER + "T1,42,12,inf,tower\n", "line 2: inlet_height_m 'inf'"),
    "duplicate_ids": (HEADER + "T1,42,12,60,tower\nK,41,11,30,background\nT1,42,12,9,tower\n",
                      "line 4, column site: duplicate site id 'T1' (also on line 2)"),
    "unknown_role": (HEADER + "T1,42,12,60,tower\nK,41,11,30,upwind\n",
                     ("line 3: site 'K' has role 'upwind'; expected one of ('tower', "
                      "'background', 'other')")),
    "empty_role": (HEADER + "T1,42,12,60,\n", "line 2: site 'T1' has no role"),
    "empty_id": (HEADER + "T1,42,12,60,tower\n,41,11,30,background\n",
                 "line 3, column site: empty"),
    "no_tower": (HEADER + "K,41,11,30,background\n", "no site with role 'tower'"),
    "too_many_fields": (HEADER + "T1,42,12,60,tower,extra\n",
                        "cannot read CSV: line 2 has 6 fields, the header 5"),
    "open_quote": (HEADER + '"T1,42,12,60,tower\n', "cannot read CSV: line 2"),
    "repeated_column": ("site,lat,lat,lon,inlet_height_m,role\nT1,42,42,12,60,tower\n",
                        "line 1: column 'lat' appears twice in the header"),
    "semicolons": ("site;lat;lon;inlet_height_m;role\nT1;42;12;60;tower\n",
                   "expected fields separated by commas"),
    "not_utf8": ("site,lat,lon,inlet_height_m,role\nT\xe9,42,12,60,tower\n".encode("latin-1"),
                 "cannot read CSV"),
}


@pytest.mark.parametrize("case", sorted(BAD_SITES))
def test_bad_sites_file_is_one_line_error(tmp_path, case):
    content, fragment = BAD_SITES[case]
    path = _csv(tmp_path, content)
    _one_line_error(lambda: read_sites(path), path, fragment)


def test_fuzzed_sites_give_a_table_or_one_line_error(tmp_path):
    path = tmp_path / "fuzzed.csv"
    outcomes = []
    for data in _mutations(SITES.encode(), seed=2, count=200, alphabet=b',"#\n 0123456789.-ae'):
        path.write_bytes(data)
        outcomes.append(_result_or_one_line_error(lambda: read_sites(path), path))
    assert 0 < sum(outcomes) < len(outcomes)


# =========================================================================== records

RECORDS = ("time,site,co2_ppm,co2_ppm_uncertainty\n"
           "2025-07-01T01:00Z,T1,421.0,\n"
           "2025-07-01T00:00Z,T1,420.0,0.3\n"
           "2025-07-01T00:00Z,K1,410.0,NaN\n"
           "2025-07-01T01:00Z,K1,NaN,\n"
           "2025-07-01T02:00Z,T1,,0.5\n")


def test_uncertainty_column_is_returned_as_uncertainty_ppm(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="cityflux.obs.records"):
        records = read_records(_csv(tmp_path, RECORDS, "obs.csv"), ["T1", "K1"])
    assert list(records.columns) == ["time", "site", "co2_ppm", "uncertainty_ppm"]
    # sorted by site then time; the uncertainty stays with its row
    assert list(records.site) == ["K1", "K1", "T1", "T1", "T1"]
    assert list(records.time.dt.hour) == [0, 1, 0, 1, 2]
    np.testing.assert_array_equal(records.co2_ppm, [410.0, np.nan, 420.0, 421.0, np.nan])
    np.testing.assert_array_equal(records.uncertainty_ppm, [np.nan, np.nan, 0.3, np.nan, 0.5])
    # rows without a value are kept (NaN) and counted in one warning
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "2 of 5 rows have no co2_ppm value" in warnings[0]


def test_records_without_uncertainty_column_and_without_gaps(tmp_path, caplog):
    text = ("time,site,co2_ppm\n2025-07-01T00:00Z,T1,420\n2025-07-01 01:00:00+00:00,T1,421\n"
            "2025-07-01T11:00+09:00,T1,422\n2025-07-01T03:00,T1,423\n")
    with caplog.at_level(logging.WARNING, logger="cityflux.obs.records"):
        records = read_records(_csv(tmp_path, text, "obs.csv"), ["T1"])
    assert records.uncertainty_ppm.isna().all() and len(records) == 4
    # several ISO 8601 spellings in one file; offsets converted to UTC, none means UTC
    assert list(records.time.dt.hour) == [0, 1, 2, 3]
    np.testing.assert_array_equal(records.co2_ppm, [420.0, 421.0, 422.0, 423.0])
    assert not caplog.records  # nothing missing, nothing to report


@pytest.mark.parametrize("value, shown", [("-0.1", "-0.1"), ("0", "0"), ("abc", "'abc'"),
                                          ("150", "150"), ("inf", "inf"), ("-", "'-'")])
def test_bad_uncertainty_is_refused_naming_line_and_column(tmp_path, value, shown):
    text = ("time,site,co2_ppm,co2_ppm_uncertainty\n2025-07-01T00:00Z,T1,420,0.2\n"
            f"2025-07-01T01:00Z,T1,421,{value}\n")
    path = _csv(tmp_path, text, "obs.csv")
    _one_line_error(lambda: read_records(path, ["T1"]), path,
                    f"line 3: co2_ppm_uncertainty {shown} is not a positive number of ppm")


RHEADER = "time,site,co2_ppm\n"
BAD_RECORDS = {
    "random_bytes": (np.random.default_rng(5).bytes(300), "cannot read CSV"),
    "header_only": (RHEADER, "no records"),
    "missing_column": ("time,site,ppm\n2025-07-01T00:00Z,T1,420\n",
                       "missing column(s) ['co2_ppm']"),
    "empty_site": (RHEADER + "2025-07-01T00:00Z,T1,420\n2025-07-01T00:00Z,,420\n",
                   "line 3: site is empty"),
    "unknown_site": (RHEADER + "2025-07-01T00:00Z,T1,420\n2025-07-01T00:00Z,NA,420\n",
                     ("site(s) ['NA'] are not in the sites file (1 record(s), the first on "
                      "line 3)")),
    "bad_time": (RHEADER + "01/07/2025 00:00,T1,420\n",
                 "line 2: time '01/07/2025 00:00' is not an ISO 8601 date and time"),
    "number_as_time": (RHEADER + "5,T1,420\n", "line 2: time '5' is not an ISO 8601"),
    "empty_time": (RHEADER + ",T1,420\n", "line 2: time (empty) is not an ISO 8601"),
    "half_hour": (RHEADER + "2025-07-01T00:00Z,T1,420\n2025-07-01T00:30Z,T1,420\n",
                  "line 3: time '2025-07-01T00:30Z' is not a whole hour"),
    "duplicate": (RHEADER + "2025-07-01T00:00Z,T1,420\n2025-07-01T01:00Z,T1,420\n"
                  "2025-07-01T09:00+08:00,T1,421\n",
                  ("line 4: a second record for site T1 at 2025-07-01 01:00:00 (the first is "
                   "on line 3)")),
    "text_value": (RHEADER + "2025-07-01T00:00Z,T1,four-twenty\n",
                   "line 2: co2_ppm 'four-twenty' is not a number"),
    "ppb": (RHEADER + "2025-07-01T00:00Z,T1,420\n2025-07-01T01:00Z,T1,420000\n",
            "line 3: co2_ppm 420000 is outside 100-2000 ppm"),
    "infinite": (RHEADER + "2025-07-01T00:00Z,T1,inf\n", "line 2: co2_ppm inf is outside"),
    "too_many_fields": (RHEADER + "2025-07-01T00:00Z,T1,420,0.2\n",
                        "cannot read CSV: line 2 has 4 fields, the header 3"),
}


@pytest.mark.parametrize("case", sorted(BAD_RECORDS))
def test_bad_records_file_is_one_line_error(tmp_path, case):
    content, fragment = BAD_RECORDS[case]
    path = _csv(tmp_path, content, "obs.csv")
    _one_line_error(lambda: read_records(path, ["T1", "K1"]), path, fragment)


def test_fuzzed_records_give_a_table_or_one_line_error(tmp_path):
    path = tmp_path / "fuzzed.csv"
    outcomes = []
    for data in _mutations(RECORDS.encode(), seed=4, count=200,
                           alphabet=b',"#\n 0123456789.-:TZNa'):
        path.write_bytes(data)
        outcomes.append(_result_or_one_line_error(lambda: read_records(path, ["T1", "K1"]),
                                                  path))
    assert 0 < sum(outcomes) < len(outcomes)


# =========================================================================== selection

START = pd.Timestamp("2025-07-01T00:00")


def _records_frame():
    """T1, T2 and background K over hours 0-5 (and one hour outside the period)."""
    rows = []
    for site in ("T1", "T2", "K"):
        for hour in range(-1, 6):
            value = 400.0 + hour
            if (site, hour) in {("T1", 1), ("T2", 2), ("K", 3), ("T1", -1)}:
                value = np.nan  # no value; T1 at -1 is outside the period
            if (site, hour) == ("K", 4):
                continue  # no background row at all
            sigma = 0.1 * (hour + 1) if site == "T1" else np.nan
            rows.append((START + pd.Timedelta(hours=hour), site, value, sigma))
    return pd.DataFrame(rows, columns=["time", "site", "co2_ppm", "uncertainty_ppm"])


def test_observation_table_reports_left_out_hours_and_keeps_uncertainty(caplog):
    towers = pd.DataFrame({"site": ["T1", "T2"]})
    with caplog.at_level(logging.WARNING, logger="cityflux.obs.selection"):
        table = observation_table(_records_frame(), towers, "K", START,
                                  START + pd.Timedelta(hours=6), 0.0, range(24), "obs.csv")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    # no value: T1@1, T2@2; no background: both towers at 3 (NaN) and 4 (absent)
    assert warnings[0].startswith("obs.csv: 2 tower hour(s) of the period have no value")
    assert "and 4 have no valid background value" in warnings[0]
    kept = sorted(zip(table.site, table.time.dt.hour))
    assert kept == [("T1", 0), ("T1", 2), ("T1", 5), ("T2", 0), ("T2", 1), ("T2", 5)]
    expected_sigma = np.where(table.site == "T1", 0.1 * (table.time.dt.hour + 1), np.nan)
    np.testing.assert_allclose(table.uncertainty_ppm, expected_sigma, rtol=1e-12)
    np.testing.assert_allclose(table.observed - table.background, 0.0)


def test_observation_table_complete_records_log_nothing(caplog):
    records = _records_frame().dropna(subset=["co2_ppm"])  # rows without value removed
    records = records[~records.time.dt.hour.isin([3, 4])]  # and the hours without background
    towers = pd.DataFrame({"site": ["T1", "T2"]})
    with caplog.at_level(logging.WARNING, logger="cityflux.obs.selection"):
        table = observation_table(records.drop(columns="uncertainty_ppm"), towers, "K", START,
                                  START + pd.Timedelta(hours=6), 0.0, [0, 5], "obs.csv")
    assert not caplog.records
    assert table.uncertainty_ppm.isna().all()  # no uncertainty column: NaN, not an error
    assert len(table) == 6 and table.used.sum() == 4


def test_uncertainty_travels_from_csv_to_table(tmp_path):
    sites = read_sites(_csv(tmp_path, SITES))
    records = read_records(_csv(tmp_path, RECORDS, "obs.csv"), sites.site)
    table = observation_table(records, tower_sites(sites), "K1", START,
                              START + pd.Timedelta(hours=3), 0.0, [0], "obs.csv")
    assert list(zip(table.site, table.time.dt.hour)) == [("T1", 0)]
    assert table.uncertainty_ppm.iloc[0] == 0.3 and bool(table.used.iloc[0])


# =========================================================================== grid file

UTM = Grid("EPSG:32650", 400000.0, 430000.0, 1000.0, 3480000.0, 3500000.0, 2000.0)
TMERC = Grid("+proj=tmerc +lat_0=31.5 +lon_0=117.0 +k=1 +x_0=0 +y_0=0 +datum=WGS84 +units=m "
             "+no_defs", -6000.0, 6000.0, 1000.0, -4000.0, 4000.0, 500.0)
LONLAT = Grid("EPSG:4326", 116.0, 118.0, 0.25, 31.0, 33.0, 0.5)


def _projected_dataset(grid: Grid) -> xr.Dataset:
    """A CF grid file of a projected grid, as a regridding tool would write it."""
    return xr.Dataset(
        {"x_bnds": (("x", "nv"), grid.x_bounds), "y_bnds": (("y", "nv"), grid.y_bounds),
         "crs": ((), np.int32(0), pyproj.CRS(grid.crs).to_cf()),
         "cell_area": (("y", "x"), grid.cell_area,
                       {"standard_name": "cell_area", "units": "m2", "grid_mapping": "crs"})},
        coords={"x": ("x", grid.x, {"standard_name": "projection_x_coordinate", "units": "m",
                                    "bounds": "x_bnds"}),
                "y": ("y", grid.y, {"standard_name": "projection_y_coordinate", "units": "m",
                                    "bounds": "y_bnds"})})


def _lonlat_dataset(grid: Grid) -> xr.Dataset:
    """A lat/lon grid file with latitude descending (north first), as many models write."""
    return xr.Dataset(
        {"lat_bnds": (("lat", "nv"), grid.y_bounds[::-1, ::-1]),
         "lon_bnds": (("lon", "nv"), grid.x_bounds),
         "cell_area": (("lat", "lon"), grid.cell_area[::-1], {"standard_name": "cell_area",
                                                              "units": "m2"})},
        coords={"lat": ("lat", grid.y[::-1], {"standard_name": "latitude",
                                              "units": "degrees_north", "bounds": "lat_bnds"}),
                "lon": ("lon", grid.x, {"standard_name": "longitude", "units": "degrees_east",
                                        "bounds": "lon_bnds"})})


def _write_nc(tmp_path, ds, name="grid.nc"):
    path = tmp_path / name
    ds.to_netcdf(path)
    return path


def _assert_same_grid(found: Grid, expected: Grid, tolerance: float = 1e-9):
    assert pyproj.CRS(found.crs) == pyproj.CRS(expected.crs)
    assert found.shape == expected.shape
    for axis in "xy":
        step = getattr(expected, f"{axis}_step")
        for part in ("start", "stop", "step"):
            name = f"{axis}_{part}"
            assert abs(getattr(found, name) - getattr(expected, name)) <= tolerance * step, name


@pytest.mark.parametrize("grid", [UTM, TMERC], ids=["epsg", "proj_string"])
def test_grid_file_projected(tmp_path, caplog, grid):
    path = _write_nc(tmp_path, _projected_dataset(grid))
    with caplog.at_level(logging.WARNING, logger="cityflux.grid"):
        found = read_grid_file(path)
    _assert_same_grid(found, grid)
    assert not caplog.records  # the file's areas are cityflux's areas
    if grid is UTM:
        assert found.crs == "EPSG:32650"  # a readable CRS where the mapping is an EPSG one


def test_grid_file_lonlat_descending(tmp_path, caplog):
    path = _write_nc(tmp_path, _lonlat_dataset(LONLAT))
    with caplog.at_level(logging.WARNING, logger="cityflux.grid"):
        found = read_grid_file(path)
    _assert_same_grid(found, LONLAT)
    assert found.crs == "EPSG:4326"
    assert not caplog.records


def test_grid_file_variants_give_the_same_grid(tmp_path):
    # projected, northing descending
    ds = _projected_dataset(UTM).isel(y=slice(None, None, -1))
    _assert_same_grid(read_grid_file(_write_nc(tmp_path, ds, "flipped.nc")), UTM)
    # coordinates in km (bounds inherit the units)
    ds = _projected_dataset(UTM)
    ds = ds.assign_coords(x=ds.x / 1000, y=ds.y / 1000)
    ds["x_bnds"], ds["y_bnds"] = ds.x_bnds / 1000, ds.y_bnds / 1000
    for axis in "xy":
        ds[axis].attrs.update(standard_name=f"projection_{axis}_coordinate", units="km",
                              bounds=f"{axis}_bnds")
    _assert_same_grid(read_grid_file(_write_nc(tmp_path, ds, "km.nc")), UTM)
    # lat/lon named as usual, without standard names or bounds
    ds = xr.Dataset(coords={"lat": ("lat", LONLAT.y, {"units": "degrees_north"}),
                            "lon": ("lon", LONLAT.x)})
    _assert_same_grid(read_grid_file(_write_nc(tmp_path, ds, "plain.nc")), LONLAT)


def test_grid_file_float32_coordinates(tmp_path):
    """Coordinates stored as float32 are regular only to float32 rounding (~0.25 m at
    3.5e6 m); they are accepted and snapped to the regular grid."""
    fine = Grid("EPSG:4326", 116.0, 117.0, 0.01, 31.0, 32.0, 0.01)
    for grid, name in ((UTM, "utm32.nc"), (fine, "fine32.nc")):
        ds = (_projected_dataset(grid) if grid is UTM else _lonlat_dataset(grid))
        ds = ds.drop_vars("cell_area")
        for axis in ("x", "y", "lat", "lon"):
            if axis in ds.coords:
                ds[axis].encoding["dtype"] = "float32"
        for bounds in ("x_bnds", "y_bnds", "lat_bnds", "lon_bnds"):
            if bounds in ds:
                ds[bounds].encoding["dtype"] = "float32"
        path = _write_nc(tmp_path, ds, name)
        _assert_same_grid(read_grid_file(path), grid, tolerance=1e-3)


BAD_GRID_FILES = {
    "shifted_bounds": (lambda ds: ds.assign(x_bnds=ds.x_bnds + 500.0),
                       ("x_bnds[0] = [400500, 401500] is not the cell of width 1000 around "
                        "x[0] = 400500 (30 of 30 cells inconsistent)")),
    "narrow_bounds": (lambda ds: ds.assign(y_bnds=(("y", "nv"), ds.y.values[:, None]
                                                   + np.array([-900.0, 900.0]))),
                      "y_bnds[0] = [3.4801e+06, 3.4819e+06] is not the cell of width 2000"),
    "bounds_shape": (lambda ds: ds.assign(x_bnds=("x", ds.x.values)),
                     "x_bnds has shape (30,); expected (30, 2)"),
    "irregular": (lambda ds: ds.assign_coords(x=ds.x + np.where(np.arange(30) == 7, 10.0, 0)),
                  "x cell centres are not regularly spaced: mean step 1000, largest deviation"),
    "no_grid_mapping": (lambda ds: ds.drop_vars("crs"),
                        "projected coordinates x/y need a grid mapping"),
    "bad_grid_mapping": (lambda ds: ds.assign(crs=((), 0, {"grid_mapping_name": "nonsense"})),
                         "cannot read grid mapping 'crs': Unsupported grid mapping name"),
    "geographic_mapping": (lambda ds: ds.assign(crs=((), 0, pyproj.CRS(4326).to_cf())),
                           ("grid mapping 'crs' is geographic but x/y are projection "
                            "coordinates")),
    "two_mappings": (lambda ds: ds.assign(
        crs2=((), 0, pyproj.CRS(32651).to_cf()),  # and nothing says which one applies
        cell_area=(("y", "x"), ds.cell_area.values, {"standard_name": "cell_area"})),
        "several grid mappings (crs, crs2); expected one"),
    "projected_in_degrees": (lambda ds: ds.assign_coords(
        x=ds.x.assign_attrs(units="degrees_east")), "x: units 'degrees_east' not understood"),
    "one_column": (lambda ds: ds.isel(x=[0]), "x needs at least two cell centres"),
    "text_coordinates": (lambda ds: ds.assign_coords(
        x=("x", np.array([f"c{i}" for i in range(30)]),
           {"standard_name": "projection_x_coordinate"})), "x is not numeric"),
    "area_dims": (lambda ds: ds.assign(cell_area=("x", ds.x.values * 0 + 1e6,
                                                  {"standard_name": "cell_area"})),
                  "cell_area has dimensions ('x',); expected (y, x)"),
    "no_coordinates": (lambda ds: xr.Dataset({"flux": (("a", "b"), np.zeros((2, 2)))}),
                       "no 1-D cell-centre coordinates found"),
    "mixed_axes": (lambda ds: ds.rename({"y": "lat"}).assign_coords(
        lat=("lat", np.linspace(31.0, 31.9, 10), {"standard_name": "latitude"})),
        "x and lat mix longitude/latitude with projection coordinates"),
}


@pytest.mark.parametrize("case", sorted(BAD_GRID_FILES))
def test_bad_grid_file_is_one_line_error(tmp_path, case):
    change, fragment = BAD_GRID_FILES[case]
    path = _write_nc(tmp_path, change(_projected_dataset(UTM)))
    _one_line_error(lambda: read_grid_file(path), path, fragment)


def test_bad_lonlat_units(tmp_path):
    ds = _lonlat_dataset(LONLAT)
    ds["lon"].attrs["units"] = "radians"
    path = _write_nc(tmp_path, ds)
    _one_line_error(lambda: read_grid_file(path), path,
                    "lon has units 'radians'; expected degrees")


def test_grid_file_cell_area_off_by_five_percent_is_a_warning(tmp_path, caplog):
    ds = _projected_dataset(UTM)
    ds["cell_area"] = ds.cell_area * 1.05
    path = _write_nc(tmp_path, ds)
    with caplog.at_level(logging.WARNING, logger="cityflux.grid"):
        _assert_same_grid(read_grid_file(path), UTM)
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(messages) == 1
    assert messages[0].startswith(f"{path}: cell_area differs from the ellipsoidal cell "
                                  "areas by up to 5 %")


def test_grid_file_cell_area_compared_cell_by_cell(tmp_path, caplog):
    """Areas listed south-first in a north-first file are wrong cell by cell (1.6 % over two
    degrees of latitude), although they are the same set of numbers."""
    ds = _lonlat_dataset(LONLAT)
    ds["cell_area"] = (("lat", "lon"), LONLAT.cell_area, {"standard_name": "cell_area"})
    with caplog.at_level(logging.WARNING, logger="cityflux.grid"):
        read_grid_file(_write_nc(tmp_path, ds))
    assert len(caplog.records) == 1 and "cell_area differs" in caplog.records[0].getMessage()
    # areas in km2 are converted, and match
    ds = _lonlat_dataset(LONLAT)
    ds["cell_area"] = ds.cell_area.assign_attrs(units="km2") / 1e6
    ds["cell_area"].attrs.update(standard_name="cell_area", units="km2")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="cityflux.grid"):
        read_grid_file(_write_nc(tmp_path, ds, "km2.nc"))
    assert not caplog.records


def test_grid_file_not_netcdf_or_truncated(tmp_path):
    path = tmp_path / "random.nc"
    path.write_bytes(np.random.default_rng(9).bytes(2000))
    _one_line_error(lambda: read_grid_file(path), path, "not a NetCDF file")
    _one_line_error(lambda: read_grid_file(tmp_path / "missing.nc"), tmp_path / "missing.nc")
    good = _write_nc(tmp_path, _projected_dataset(UTM)).read_bytes()
    cut = tmp_path / "cut.nc"
    for length in range(0, len(good), max(1, len(good) // 25)):
        cut.write_bytes(good[:length])
        _one_line_error(lambda: read_grid_file(cut), cut)


# =========================================================================== config


def _config(tmp_path, domain: dict, observations: dict | None = None):
    """A run config in tmp_path/run with placeholder input files (config checks only)."""
    folder = tmp_path / "run"
    folder.mkdir(exist_ok=True)
    for name in ("met.nc", "sites.csv", "obs.csv", "prior.nc", "grid.nc", "city.geojson",
                 "districts.geojson", "regions.geojson"):
        (folder / name).touch()
    raw = {"name": "t",
           "domain": {"utc_offset_hours": 8, **domain},
           "period": {"start": "2025-07-01T00:00", "end": "2025-07-02T00:00"},
           "inputs": {"prior_flux": "prior.nc", "meteorology": "met.nc", "sites": "sites.csv",
                      "observations": "obs.csv"},
           "output": {"dir": "out"}}
    if observations:
        raw["observations"] = observations
    path = folder / "run.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


AXES = {"crs": "EPSG:32650", "x": {"start": 0, "stop": 10000, "step": 1000},
        "y": {"start": 0, "stop": 10000, "step": 1000}}


def test_config_city_boundary_and_districts(tmp_path):
    path = _config(tmp_path, {**AXES, "city_boundary": "city.geojson",
                              "districts": "districts.geojson"})
    domain = load_config(path).domain
    assert domain.city_boundary == path.parent / "city.geojson"
    assert domain.districts == path.parent / "districts.geojson"
    assert domain.regions is None


@pytest.mark.parametrize("domain, fragment", [
    ({"regions": "regions.geojson", "city_boundary": "city.geojson"},
     "give the regions either as 'domain.regions'"),
    ({}, "give the regions either as 'domain.regions'"),
    ({"regions": "regions.geojson", "districts": "districts.geojson"},
     "'domain.districts' needs 'domain.city_boundary'"),
    ({"city_boundary": "missing.geojson"}, "'domain.city_boundary': file"),
])
def test_config_region_keys(tmp_path, domain, fragment):
    path = _config(tmp_path, {**AXES, **domain})
    _one_line_error(lambda: load_config(path), path, fragment, kind=ConfigError)


def test_config_grid_file_or_axes(tmp_path):
    path = _config(tmp_path, {"grid_file": "grid.nc", "regions": "regions.geojson"})
    assert load_config(path).domain.grid_file == path.parent / "grid.nc"
    path = _config(tmp_path, {**AXES, "grid_file": "grid.nc", "regions": "regions.geojson"})
    _one_line_error(lambda: load_config(path), path, "either with 'domain.x' and 'domain.y' "
                    "or with 'domain.grid_file'", kind=ConfigError)
    path = _config(tmp_path, {"x": AXES["x"], "regions": "regions.geojson"})
    _one_line_error(lambda: load_config(path), path, "'domain.grid_file'", kind=ConfigError)


def test_config_background_site_must_be_text(tmp_path):
    path = _config(tmp_path, {**AXES, "regions": "regions.geojson"},
                   observations={"background_site": 7})
    _one_line_error(lambda: load_config(path), path,
                    "'observations.background_site' must be a non-empty text, got 7",
                    kind=ConfigError)
    path = _config(tmp_path, {**AXES, "regions": "regions.geojson"},
                   observations={"background_site": "007"})
    assert load_config(path).observations.background_site == "007"


def test_config_crs_with_grid_file_is_refused(tmp_path):
    path = _config(tmp_path, {"crs": "EPSG:32650", "grid_file": "grid.nc",
                              "regions": "regions.geojson"})
    _one_line_error(lambda: load_config(path), path, "domain.crs", kind=ConfigError)
