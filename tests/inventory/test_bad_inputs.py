"""Every inventory input file type, broken in every way we could think of, fails with one
line that names the file, where in it (line, feature, variable) and the column or property."""

import json

import numpy as np
import pytest
import xarray as xr

from cityflux.config import AreaSourcesInput, GriddedInput
from cityflux.errors import InputError
from cityflux.grid import Grid
from cityflux.inventory.areas import read_area_sources
from cityflux.inventory.builder import inventory_from_file
from cityflux.inventory.gridded import read_domain_flux, read_gridded_input
from cityflux.inventory.lines import read_line_sources
from cityflux.inventory.points import read_point_sources
from cityflux.inventory.profiles import read_profiles

GRID = Grid("EPSG:4326", 116.0, 117.0, 0.125, 31.0, 32.5, 0.25)
SOURCE = Grid("EPSG:4326", 116.0, 117.0, 0.25, 31.0, 32.5, 0.5)


def check_refused(call, path, fragments):
    with pytest.raises(InputError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message, message
    assert message.startswith(f"{path}:"), message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def random_bytes(path):
    path.write_bytes(bytes(np.random.default_rng(7).integers(0, 256, 500, dtype=np.uint8)))


# ----------------------------------------------------------------------------- points CSV

HEADER = "name,lon,lat,stack_height_m,sector,emission,emission_units"
GOOD = "a,116.5,31.5,100,energy,1,kt yr-1"


def points_csv(*rows, header=HEADER):
    """A comment on line 1, the header on line 2, the rows from line 3."""
    return "# test plants\n" + header + "\n" + "".join(row + "\n" for row in rows)


POINT_CASES = {
    "missing column": (points_csv("a,116.5,31.5,100,1,kt yr-1",
                                  header=HEADER.replace("sector,", "")),
                       ["header", "missing column(s) sector"]),
    "misspelt column": (points_csv(GOOD, header=HEADER.replace("stack_height_m",
                                                               "stack_heigth_m")),
                        ["header", "stack_height_m", "'stack_heigth_m'"]),
    "unknown units": (points_csv(GOOD, "b,116.5,31.5,100,energy,1,tonnes per year"),
                      ["line 4", "column emission_units", "'tonnes per year'"]),
    "mass without time": (points_csv("a,116.5,31.5,100,energy,1,kt"),
                          ["line 3", "column emission_units", "'kt'"]),
    "a speed": (points_csv("a,116.5,31.5,100,energy,1,m s-1"),
                ["line 3", "column emission_units", "'m s-1'"]),
    "empty units": (points_csv("a,116.5,31.5,100,energy,1,"),
                    ["line 3", "column emission_units", "empty"]),
    "negative stack height": (points_csv(GOOD, "b,116.5,31.5,-5,energy,1,kt yr-1"),
                              ["line 4", "column stack_height_m", "-5"]),
    "boolean stack height": (points_csv("a,116.5,31.5,True,energy,1,kt yr-1"),
                             ["line 3", "column stack_height_m", "'True'"]),
    "empty stack height": (points_csv("a,116.5,31.5,,energy,1,kt yr-1"),
                           ["line 3", "column stack_height_m", "empty"]),
    "outside the domain": (points_csv(GOOD, "b,118.5,31.5,100,energy,1,kt yr-1"),
                           ["line 4", "columns lon/lat", "'b'", "outside"]),
    "latitude out of range": (points_csv("a,116.5,95,100,energy,1,kt yr-1"),
                              ["line 3", "column lat", "95"]),
    "duplicate names": (points_csv(GOOD, GOOD.replace("116.5", "116.6")),
                        ["line 4", "column name", "'a'", "line 3"]),
    "empty name": (points_csv(",116.5,31.5,100,energy,1,kt yr-1"),
                   ["line 3", "column name", "empty"]),
    "empty sector": (points_csv("a,116.5,31.5,100, ,1,kt yr-1"),
                     ["line 3", "column sector", "empty"]),
    "non-numeric emission": (points_csv("a,116.5,31.5,100,energy,lots,kt yr-1"),
                             ["line 3", "column emission", "'lots'"]),
    "missing emission": (points_csv("a,116.5,31.5,100,energy,NaN,kt yr-1"),
                         ["line 3", "column emission", "'NaN'"]),
    "negative emission": (points_csv("a,116.5,31.5,100,energy,-1,kt yr-1"),
                          ["line 3", "column emission", "-1"]),
    "negative uncertainty": (points_csv(GOOD + ",-3", header=HEADER + ",uncertainty_percent"),
                             ["line 3", "column uncertainty_percent", "-3"]),
    "partial plume rise": (points_csv(GOOD + ",12,,", GOOD.replace("a,", "b,") + ",12,400,",
                                      header=HEADER + ",exit_velocity_m_s,exit_temperature_k,"
                                                      "stack_diameter_m"),
                           ["line 3", "column exit_temperature_k/stack_diameter_m",
                            "exit_velocity_m_s"]),
    "more fields than the header": (points_csv(GOOD, GOOD.replace("a,", "b,") + ",9"),
                                    ["line 4", "8 fields"]),
    "unclosed quote": (points_csv('"a,116.5,31.5,100,energy,1,kt yr-1'), ["line 3", "quote"]),
    "only a header": (points_csv(), ["no point sources"]),
    "semicolons": ("name;lon;lat\na;1;2\n", ["line 1", "commas"]),
    "empty file": ("", ["no header"]),
}


@pytest.mark.parametrize("content, fragments", POINT_CASES.values(), ids=POINT_CASES.keys())
def test_point_csv_refused(tmp_path, content, fragments):
    path = tmp_path / "plants.csv"
    path.write_text(content)
    check_refused(lambda: read_point_sources(path, GRID), path, fragments)


def test_point_csv_random_bytes(tmp_path):
    path = tmp_path / "plants.csv"
    random_bytes(path)
    check_refused(lambda: read_point_sources(path, GRID), path, ["cannot read CSV"])


def test_point_csv_missing_file(tmp_path):
    path = tmp_path / "nowhere.csv"
    check_refused(lambda: read_point_sources(path, GRID), path, ["cannot read CSV"])


def test_profile_csv_random_bytes(tmp_path):
    path = tmp_path / "profiles.csv"
    random_bytes(path)
    check_refused(lambda: read_profiles(path), path, ["cannot read CSV"])


# ----------------------------------------------------------------------------- GeoJSON


def collection(*features):
    return json.dumps({"type": "FeatureCollection", "features": list(features)})


def feature(geometry, **properties):
    return {"type": "Feature", "properties": properties, "geometry": geometry}


ROAD = {"type": "LineString", "coordinates": [[116.1, 31.1], [116.9, 31.9]]}
GOOD_ROAD = feature(ROAD, sector="roads", units="t km-1 yr-1", emission_per_km=10.0)

LINE_CASES = {
    "a point": (collection(GOOD_ROAD, feature({"type": "Point", "coordinates": [116.5, 31.5]},
                                              sector="roads")),
                ["feature 1", "is a Point", "LineString or MultiLineString"]),
    "a polygon": (collection(GOOD_ROAD, feature(
        {"type": "Polygon", "coordinates": [[[116.1, 31.1], [116.2, 31.1], [116.2, 31.2],
                                             [116.1, 31.1]]]}, sector="roads")),
                  ["feature 1", "is a Polygon"]),
    "no geometry": (collection(GOOD_ROAD, feature(None, sector="roads")),
                    ["feature 1", "no geometry"]),
    "one vertex": (collection(GOOD_ROAD, feature({"type": "LineString",
                                                  "coordinates": [[116.1, 31.1]]})),
                   ["feature 1", "LineString"]),
    "metres, not degrees": (collection(GOOD_ROAD, feature(
        {"type": "LineString", "coordinates": [[500000, 3480000], [501000, 3481000]]},
        sector="roads", units="kg s-1", emission=1.0)), ["feature 1", "vertex", "degrees"]),
    "missing sector": (collection(GOOD_ROAD, feature(ROAD, units="kg s-1", emission=1.0)),
                       ["feature 1", "property sector"]),
    "missing units": (collection(GOOD_ROAD, feature(ROAD, sector="roads", emission=1.0)),
                      ["feature 1", "property units"]),
    "both emissions": (collection(GOOD_ROAD, feature(ROAD, sector="roads", units="kg s-1",
                                                     emission=1.0, emission_per_km=2.0)),
                       ["feature 1", "properties emission/emission_per_km", "both"]),
    "no emission": (collection(GOOD_ROAD, feature(ROAD, sector="roads", units="kg s-1")),
                    ["feature 1", "properties emission/emission_per_km", "neither"]),
    "negative emission": (collection(GOOD_ROAD, feature(ROAD, sector="roads",
                                                        units="t km-1 yr-1",
                                                        emission_per_km=-3.0)),
                          ["feature 1", "property emission_per_km", "-3"]),
    "emission as text": (collection(GOOD_ROAD, feature(ROAD, sector="roads", units="t yr-1",
                                                       emission="12")),
                         ["feature 1", "property emission", "'12'"]),
    "total units per km": (collection(GOOD_ROAD, feature(ROAD, sector="roads", units="t yr-1",
                                                         emission_per_km=3.0)),
                           ["feature 1", "property units", "'t yr-1'", "per length"]),
    "unknown units": (collection(GOOD_ROAD, feature(ROAD, sector="roads",
                                                    units="bananas yr-1", emission=3.0,
                                                    name="Main St")),
                      ["feature 1 (Main St)", "property units", "'bananas yr-1'"]),
    "all outside the domain": (collection(feature(
        {"type": "LineString", "coordinates": [[100.0, 31.1], [100.5, 31.1]]},
        sector="roads", units="kg s-1", emission=1.0)), ["feature 0", "domain"]),
    "a list, not a collection": ("[1, 2, 3]", ["FeatureCollection", "JSON list"]),
    "no features": (collection(), ["FeatureCollection"]),
    "truncated": (collection(GOOD_ROAD)[:40], ["cannot read GeoJSON"]),
    "projected crs": (json.dumps({"type": "FeatureCollection", "features": [GOOD_ROAD],
                                  "crs": {"type": "name",
                                          "properties": {"name": "EPSG:32650"}}}),
                      ["crs", "EPSG:32650"]),
}


@pytest.mark.parametrize("content, fragments", LINE_CASES.values(), ids=LINE_CASES.keys())
def test_roads_geojson_refused(tmp_path, content, fragments):
    path = tmp_path / "roads.geojson"
    path.write_text(content)
    check_refused(lambda: read_line_sources(path, GRID), path, fragments)


SQUARE = {"type": "Polygon", "coordinates": [[[116.1, 31.1], [116.4, 31.1], [116.4, 31.4],
                                              [116.1, 31.4], [116.1, 31.1]]]}
GOOD_AREA = feature(SQUARE, sector="residential", units="kt yr-1", emission=5.0, name="north")

AREA_CASES = {
    "a line": (collection(GOOD_AREA, feature(ROAD, sector="residential")),
               ["feature 1", "is a LineString", "Polygon or MultiPolygon"]),
    "self-intersecting": (collection(GOOD_AREA, feature(
        {"type": "Polygon", "coordinates": [[[116.1, 31.1], [116.4, 31.4], [116.4, 31.1],
                                             [116.1, 31.4], [116.1, 31.1]]]},
        sector="residential", units="kt yr-1", emission=1.0)),
                          ["feature 1", "invalid geometry", "Self-intersection"]),
    "ring of three points": (collection(GOOD_AREA, feature(
        {"type": "Polygon", "coordinates": [[[116.1, 31.1], [116.4, 31.4], [116.1, 31.1]]]},
        sector="residential")), ["feature 1", "Polygon"]),
    "missing sector": (collection(GOOD_AREA, feature(SQUARE, units="kt yr-1", emission=1.0)),
                       ["feature 1", "property sector"]),
    "missing units": (collection(GOOD_AREA, feature(SQUARE, sector="residential",
                                                    emission=1.0)),
                      ["feature 1", "property units"]),
    "emission per km": (collection(GOOD_AREA, feature(SQUARE, sector="residential",
                                                      units="t km-1 yr-1",
                                                      emission_per_km=1.0)),
                        ["feature 1", "property emission_per_km"]),
    "no emission": (collection(GOOD_AREA, feature(SQUARE, sector="residential",
                                                  units="kt yr-1")),
                    ["feature 1", "property emission", "None"]),
    "negative emission": (collection(GOOD_AREA, feature(SQUARE, sector="residential",
                                                        units="kt yr-1", emission=-2.0)),
                          ["feature 1", "property emission", "-2"]),
    "a line rate": (collection(GOOD_AREA, feature(SQUARE, sector="residential",
                                                  units="t km-1 yr-1", emission=2.0)),
                    ["feature 1", "property units", "'t km-1 yr-1'"]),
    "duplicate names": (collection(GOOD_AREA, GOOD_AREA),
                        ["feature 1 (north)", "property name", "'north'", "feature 0"]),
    "name not a text": (collection(GOOD_AREA, feature(SQUARE, sector="residential",
                                                      units="kt yr-1", emission=2.0,
                                                      name=["n", 2])),
                        ["feature 1", "property name"]),
    "empty name": (collection(GOOD_AREA, feature(SQUARE, sector="residential",
                                                 units="kt yr-1", emission=2.0, name=" ")),
                   ["feature 1", "property name"]),
    "properties not an object": (collection(GOOD_AREA, {"type": "Feature", "properties": [1],
                                                        "geometry": SQUARE}),
                                 ["feature 1", "properties"]),
}


@pytest.mark.parametrize("content, fragments", AREA_CASES.values(), ids=AREA_CASES.keys())
def test_areas_geojson_refused(tmp_path, content, fragments):
    path = tmp_path / "areas.geojson"
    path.write_text(content)
    check_refused(lambda: read_area_sources(AreaSourcesInput(file=path), GRID), path,
                  fragments)


@pytest.mark.parametrize("reader", ["roads", "areas"])
def test_geojson_random_bytes(tmp_path, reader):
    path = tmp_path / f"{reader}.geojson"
    random_bytes(path)
    call = (lambda: read_line_sources(path, GRID)) if reader == "roads" else \
        (lambda: read_area_sources(AreaSourcesInput(file=path), GRID))
    check_refused(call, path, ["cannot read GeoJSON"])


# ----------------------------------------------------------------------------- NetCDF


def domain_flux(path, *, variable="flux", units="umol m-2 s-1", time=None, time_attrs=None,
                values=None, lon=None, bounds=None):
    n = 3 if time is None else len(time)
    time = np.arange(n) if time is None else time
    data = np.ones((n, *GRID.shape)) if values is None else values
    ds = xr.Dataset({variable: (("time", "lat", "lon"), data,
                                {} if units is None else {"units": units})},
                    coords={"time": ("time", time, time_attrs or {}), "lat": GRID.y,
                            "lon": GRID.x if lon is None else lon})
    if bounds is not None:
        ds["time_bnds"] = (("time", "nv"), bounds)
        ds["time"].attrs["bounds"] = "time_bnds"
    ds.to_netcdf(path)


HOURS = {"units": "hours since 2025-01-01 00:00"}

DOMAIN_CASES = {
    "missing variable": (dict(variable="co2", time_attrs=HOURS),
                         ["no variable 'flux'", "found: co2"]),
    "time without units": (dict(), ["flux: time", "not a CF date-time axis", "no units"]),
    "time in months": (dict(time_attrs={"units": "months since 2025-01-01"}),
                       ["time", "'months since 2025-01-01'"]),
    "360-day calendar": (dict(time_attrs={"units": "days since 2025-01-01",
                                          "calendar": "360_day"}),
                         ["flux: time", "calendar '360_day'"]),
    "year 3000": (dict(time_attrs={"units": "days since 3000-01-01"}),
                  ["flux: time", "years 1678 to 2261"]),
    "time not increasing": (dict(time=np.array([0, 2, 1]), time_attrs=HOURS),
                            ["flux", "time must increase", "time[2]"]),
    "empty time axis": (dict(time=np.array([], int), time_attrs=HOURS,
                             values=np.ones((0, *GRID.shape))), ["flux", "time axis is empty"]),
    "bounds of the wrong shape": (dict(time_attrs=HOURS, bounds=np.ones((3, 3))),
                                  ["flux", "time_bnds"]),
    "coordinates off the grid": (dict(time_attrs=HOURS, lon=GRID.x + 0.01),
                                 ["flux", "lon coordinates do not match"]),
    "irregular coordinates": (dict(time_attrs=HOURS, lon=GRID.x ** 1.0001),
                              ["flux", "lon coordinates"]),
    "units not a flux": (dict(time_attrs=HOURS, units="ppm"), ["flux", "'ppm'"]),
    "a rate, not a flux": (dict(time_attrs=HOURS, units="t yr-1"), ["flux", "'t yr-1'"]),
    "no units": (dict(time_attrs=HOURS, units=None), ["flux", "no units attribute"]),
    "text values": (dict(time_attrs=HOURS, values=np.full((3, *GRID.shape), "x")),
                    ["flux", "not numbers"]),
}


@pytest.mark.parametrize("arguments, fragments", DOMAIN_CASES.values(), ids=DOMAIN_CASES.keys())
def test_domain_flux_refused(tmp_path, arguments, fragments):
    path = tmp_path / "truth.nc"
    domain_flux(path, **arguments)
    check_refused(lambda: read_domain_flux(path, GRID), path, fragments)


def test_domain_flux_missing_time_bounds_variable_is_plain_starts(tmp_path):
    # a 'bounds' attribute naming an absent variable: stamps are interval starts
    path = tmp_path / "flux.nc"
    domain_flux(path, time_attrs={**HOURS, "bounds": "nowhere"})
    (field,) = read_domain_flux(path, GRID)
    assert field.ends[-1] == np.datetime64("2025-01-01T03:00")


@pytest.mark.parametrize("kind", ["random", "netcdf3 signature", "hdf5 signature", "truncated"])
def test_netcdf_random_bytes(tmp_path, kind):
    path = tmp_path / "flux.nc"
    noise = bytes(np.random.default_rng(3).integers(0, 256, 400, dtype=np.uint8))
    if kind == "truncated":
        domain_flux(tmp_path / "good.nc", time_attrs=HOURS)
        path.write_bytes((tmp_path / "good.nc").read_bytes()[:300])
    else:
        prefix = {"random": b"", "netcdf3 signature": b"CDF\x01",
                  "hdf5 signature": b"\x89HDF\r\n\x1a\n"}[kind]
        path.write_bytes(prefix + noise)
    fragment = "not a NetCDF file" if kind == "random" else "cannot open as NetCDF"
    for call in (lambda: read_domain_flux(path, GRID),
                 lambda: read_gridded_input(GriddedInput(file=path, variable="flux",
                                                         sector="x"), GRID),
                 lambda: inventory_from_file(path, GRID, 0.0)):
        check_refused(call, path, [fragment])


def external(path, *, units="t yr-1", lat=None, lon=None, dims=("lat", "lon"), attrs=None,
             extra_dims=(), variable="emission", values=None):
    shape = tuple(2 for _ in extra_dims) + SOURCE.shape
    data = np.ones(shape) if values is None else values
    coords = {dims[0]: SOURCE.y if lat is None else lat,
              dims[1]: SOURCE.x if lon is None else lon}
    ds = xr.Dataset({variable: ((*extra_dims, *dims), data,
                                {**({} if units is None else {"units": units}),
                                 **(attrs or {})})}, coords=coords)
    if "time" in extra_dims:
        ds = ds.assign_coords(time=("time", [0, 1], {"units": "furlongs"}))
    ds.to_netcdf(path)


EXTERNAL_CASES = {
    "missing variable": (dict(variable="co2"), ["no variable 'emission'", "found: co2"]),
    "irregular coordinates": (dict(lat=np.array([31.25, 31.75, 32.4])),
                              ["emission", "coordinate lat", "not regularly spaced"]),
    "text coordinates": (dict(lon=np.array(["a", "b", "c", "d"])),
                         ["emission", "coordinate lon", "numeric"]),
    "one column": (dict(lon=np.array([116.5]), values=np.ones((3, 1))),
                   ["emission", "coordinate lon", "two"]),
    "units neither flux nor rate": (dict(units="ppm"),
                                    ["emission", "'ppm'", "flux", "emission rate"]),
    "a line rate": (dict(units="t km-1 yr-1"), ["emission", "'t km-1 yr-1'"]),
    "unparsable units": (dict(units="t/yr/@"), ["emission", "'t/yr/@'"]),
    "no units": (dict(units=None), ["emission", "no units attribute"]),
    "unknown species": (dict(attrs={"species": "CH4"}), ["emission", "'CH4'"]),
    "projected without mapping": (dict(dims=("y", "x")), ["emission", "grid_mapping"]),
    "missing grid mapping": (dict(attrs={"grid_mapping": "crs"}),
                             ["emission", "grid_mapping 'crs'"]),
    "a sector dimension": (dict(extra_dims=("sector",)), ["emission", "sector dimension"]),
    "time not CF": (dict(extra_dims=("time",)), ["emission: time", "'furlongs'"]),
    "not overlapping": (dict(lon=SOURCE.x + 10.0), ["emission", "does not overlap"]),
    "text values": (dict(values=np.full(SOURCE.shape, "x")), ["emission", "not numbers"]),
}


@pytest.mark.parametrize("arguments, fragments", EXTERNAL_CASES.values(),
                         ids=EXTERNAL_CASES.keys())
def test_gridded_input_refused(tmp_path, arguments, fragments):
    path = tmp_path / "edgar.nc"
    external(path, **arguments)
    spec = GriddedInput(file=path, variable="emission", sector="industry")
    check_refused(lambda: read_gridded_input(spec, GRID), path, fragments)


PROXY_CASES = {
    "all zero": (dict(values=np.zeros(SOURCE.shape)), ["proxy", "zero"]),
    "all missing": (dict(values=np.full(SOURCE.shape, np.nan)), ["proxy", "zero"]),
    "negative": (dict(values=np.where(np.arange(SOURCE.size).reshape(SOURCE.shape) == 5,
                                      -1.0, 1.0)),
                 ["proxy", "1 negative value(s)", "lat=31.75", "lon=116.375"]),
    "missing variable": (dict(variable="population"), ["no variable 'proxy'"]),
    "with a time axis": (dict(extra_dims=("time",)), ["proxy", "time"]),
}


@pytest.mark.parametrize("arguments, fragments", PROXY_CASES.values(), ids=PROXY_CASES.keys())
def test_proxy_refused(tmp_path, arguments, fragments):
    areas = tmp_path / "areas.geojson"
    areas.write_text(collection(GOOD_AREA))
    path = tmp_path / "population.nc"
    external(path, **{"variable": "proxy", "units": None, **arguments})
    spec = AreaSourcesInput(file=areas, proxy=path, proxy_variable="proxy")
    check_refused(lambda: read_area_sources(spec, GRID), path, fragments)


def test_proxy_random_bytes(tmp_path):
    areas = tmp_path / "areas.geojson"
    areas.write_text(collection(GOOD_AREA))
    path = tmp_path / "population.nc"
    random_bytes(path)
    spec = AreaSourcesInput(file=areas, proxy=path, proxy_variable="proxy")
    check_refused(lambda: read_area_sources(spec, GRID), path, ["not a NetCDF file"])


# ----------------------------------------------------------------------------- prior.nc


def prior_like(path, drop=(), emission=None, dims=("time", "source")):
    times = np.datetime64("2025-01-01T00", "ns") + np.timedelta64(1, "h") * np.arange(2)
    values = np.ones((2, 1)) if emission is None else emission
    ds = xr.Dataset({
        "flux": (("sector", "time", "lat", "lon"), np.ones((1, 2, *GRID.shape)),
                 {"units": "umol m-2 s-1"}),
        "source_emission": (dims, values if dims[0] == "time" else values.T,
                            {"units": "kg s-1"}),
        "source_sector": ("source", ["energy"]),
        **{name: ("source", [1.0]) for name in (
            "source_lon", "source_lat", "stack_height", "source_uncertainty", "buoyancy_flux",
            "exit_velocity", "exit_temperature", "stack_diameter")}},
        coords={"sector": ["energy"], "source": ["plant"], "time": times, "lat": GRID.y,
                "lon": GRID.x})
    ds.drop_vars(list(drop)).to_netcdf(path)


PRIOR_CASES = {
    "no source sector": (dict(drop=["source_sector"]), ["source_sector", "missing"]),
    "no stack height": (dict(drop=["stack_height", "source_lat"]),
                        ["source_lat, stack_height", "missing"]),
    "emission dims swapped": (dict(dims=("source", "time")),
                              ["source_emission", "(time, source)"]),
    "negative emission": (dict(emission=-np.ones((2, 1))),
                          ["source_emission", "non-negative"]),
}


@pytest.mark.parametrize("arguments, fragments", PRIOR_CASES.values(), ids=PRIOR_CASES.keys())
def test_prior_file_refused(tmp_path, arguments, fragments):
    path = tmp_path / "prior.nc"
    prior_like(path, **arguments)
    check_refused(lambda: inventory_from_file(path, GRID, 0.0), path, fragments)


def test_prior_like_file_is_read_when_complete(tmp_path):
    """The fixture above is a valid prior.nc: the refusals come from what each case broke."""
    path = tmp_path / "prior.nc"
    prior_like(path)
    inventory = inventory_from_file(path, GRID, 0.0)
    assert inventory.sectors == ("energy",) and list(inventory.points.name) == ["plant"]


def test_random_bytes_cover_every_reader(tmp_path):
    """Not a crash for any reader given noise of any length (0 to 2 kB)."""
    rng = np.random.default_rng(11)
    readers = {
        ".csv": [lambda p: read_point_sources(p, GRID), read_profiles],
        ".geojson": [lambda p: read_line_sources(p, GRID),
                     lambda p: read_area_sources(AreaSourcesInput(file=p), GRID)],
        ".nc": [lambda p: read_domain_flux(p, GRID),
                lambda p: read_gridded_input(GriddedInput(file=p, variable="x", sector="x"),
                                             GRID)],
    }
    for size in (0, 1, 3, 64, 2048):
        for suffix, calls in readers.items():
            path = tmp_path / f"noise{size}{suffix}"
            path.write_bytes(bytes(rng.integers(0, 256, size, dtype=np.uint8)))
            for call in calls:
                check_refused(lambda call=call, path=path: call(path), path, [])
