"""prior.nc written and read back; flux files on the domain grid and their time axis."""

import json

import netCDF4
import numpy as np
import pytest
import xarray as xr

from cityflux.config import (
    GriddedInput,
    InventoryConfig,
    LineSourcesInput,
    PointSourcesInput,
)
from cityflux.errors import InputError
from cityflux.grid import Grid
from cityflux.inventory.builder import build_inventory, inventory_from_file
from cityflux.inventory.gridded import read_domain_flux
from cityflux.inventory.priorfile import prior_dataset
from cityflux.io import global_attributes, write_netcdf

TMERC = ("+proj=tmerc +lat_0=0 +lon_0=117 +k=1 +x_0=500000 +y_0=0 +ellps=WGS84 "
         "+units=m +no_defs")
GEOGRAPHIC = Grid("EPSG:4326", 116.75, 117.25, 0.0625, 31.25, 31.75, 0.0625)
PROJECTED = Grid(TMERC, 490000.0, 510000.0, 2000.0, 3470000.0, 3500000.0, 2000.0)
HOUR = np.timedelta64(1, "h")


def hours(start, n):
    return np.datetime64(start, "ns") + HOUR * np.arange(n)


def source_inventory(tmp_path, grid):
    """Stacks and small points, a road, a static and an hourly gridded input."""
    points = tmp_path / "points.csv"
    points.write_text(
        "name,lon,lat,stack_height_m,sector,emission,emission_units,uncertainty_percent,"
        "exit_velocity_m_s,exit_temperature_k,stack_diameter_m\n"
        "plant,117.0,31.5,150,energy,2,Mt yr-1,10,20,420,6\n"
        "works,116.95,31.45,60,industry,40,kt yr-1,,,,\n"
        "bakery,117.02,31.52,8,industry,300,t yr-1,,,,\n")
    roads = tmp_path / "roads.geojson"
    roads.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"sector": "roads", "units": "t km-1 yr-1",
                                           "emission_per_km": 800.0},
         "geometry": {"type": "LineString", "coordinates": [[116.9, 31.4], [117.1, 31.6]]}}]}))
    source = Grid("EPSG:4326", 116.75, 117.25, 0.125, 31.25, 31.75, 0.125)
    static = tmp_path / "static.nc"
    xr.Dataset({"emission": (("lat", "lon"), np.full(source.shape, 50.0), {"units": "t yr-1"})},
               coords={"lat": source.y, "lon": source.x}).to_netcdf(static)
    hourly = tmp_path / "bio.nc"
    times = hours("2025-03-01T00", 72)
    nee = np.sin(np.arange(72) / 24 * 2 * np.pi)[:, None, None] * np.ones(source.shape) * 1e-7
    xr.Dataset({"nee": (("time", "lat", "lon"), nee, {"units": "kg m-2 s-1"})},
               coords={"time": times, "lat": source.y, "lon": source.x}).to_netcdf(hourly)
    spec = InventoryConfig(
        point_sources=PointSourcesInput(file=points, stack_min_height_m=50.0),
        line_sources=(LineSourcesInput(file=roads),),
        gridded=(GriddedInput(file=static, variable="emission", sector="residential"),
                 GriddedInput(file=hourly, variable="nee", sector="biosphere")))
    return build_inventory(spec, grid, 8.0)


@pytest.mark.parametrize("grid", [GEOGRAPHIC, PROJECTED], ids=["latlon", "projected"])
def test_prior_file_round_trip(tmp_path, grid):
    inventory = source_inventory(tmp_path, grid)
    assert set(inventory.sectors) == {"industry", "roads", "residential", "biosphere"}
    times = hours("2025-03-01T10", 36)  # across local and UTC midnights
    ds = prior_dataset(inventory, times, global_attributes("prior", "inventory: {}"))
    path = write_netcdf(ds, tmp_path / "prior.nc")

    back = inventory_from_file(path, grid, 8.0)
    assert back.sectors == inventory.sectors
    for sector in inventory.sectors:
        original = inventory.gridded_hourly([sector], times)
        assert np.abs(original).max() > 0
        # stored as float32: equal to its rounding
        np.testing.assert_allclose(back.gridded_hourly([sector], times), original, rtol=1e-6,
                                   atol=1e-6 * np.abs(original).max(), err_msg=sector)
    assert list(back.points.name) == ["plant", "works"]
    np.testing.assert_array_equal(back.point_hourly(times), inventory.point_hourly(times))
    for attribute in ("lon", "lat", "stack_height_m", "uncertainty_fraction",
                      "exit_velocity_m_s", "exit_temperature_k", "diameter_m"):
        np.testing.assert_array_equal(getattr(back.points, attribute),
                                      getattr(inventory.points, attribute), err_msg=attribute)
    assert list(back.points.sector) == ["energy", "industry"]

    with xr.open_dataset(path) as stored:
        assert all(isinstance(s, str) for s in stored["sector"].values)
        assert all(isinstance(s, str) for s in stored["source"].values)
        roads = stored.sel(sector="roads")["flux"]
        assert roads.dims == ("time", *grid.dims) and float(roads.sum()) > 0
        plant = stored.sel(source="plant")["source_emission"].values
        np.testing.assert_array_equal(plant, inventory.point_hourly(times)[:, 0])
        assert stored["source_sector"].sel(source="works").item() == "industry"
        np.testing.assert_array_equal(stored["time_bnds"].values[:, 1], times + HOUR)
        assert stored["flux"].attrs["units"] == "umol m-2 s-1"
    with netCDF4.Dataset(path) as raw:  # labels as CF character arrays, for older tools too
        assert raw["sector"].dtype == np.dtype("S1") and raw["source"].dtype == np.dtype("S1")

    # hours the file does not hold are refused, naming the file and the sector
    later = hours("2025-03-02T21", 2)  # the file holds 10:00 on 1 March to 22:00 on 2 March
    with pytest.raises(InputError) as info:
        back.gridded_hourly(["roads"], later)
    message = str(info.value)
    assert "\n" not in message and "prior.nc" in message and "'roads'" in message
    assert "the first starting 2025-03-02T22:00 UTC" in message and "1 needed hour" in message
    with pytest.raises(InputError, match="prior.nc.*no tabulated emission"):
        back.point_hourly(later)


# ----------------------------------------------------------------------------- time


def monthly_file(path, with_bounds: bool, values=(1.0, 2.0, 3.0), units="umol m-2 s-1"):
    """A monthly flux stamped mid-month (Jan 16 12:00, Feb 15 00:00, Mar 16 12:00)."""
    grid = GEOGRAPHIC
    stamps = np.array(["2025-01-16T12", "2025-02-15T00", "2025-03-16T12"],
                      dtype="datetime64[ns]")
    data = np.asarray(values, float)[:, None, None] * np.ones(grid.shape)
    ds = xr.Dataset({"flux": (("time", "lat", "lon"), data, {"units": units})},
                    coords={"time": stamps, "lat": grid.y, "lon": grid.x})
    encoding = {"time": {"units": "hours since 2025-01-01 00:00:00"}}
    if with_bounds:
        starts = np.array(["2025-01-01", "2025-02-01", "2025-03-01", "2025-04-01"],
                          dtype="datetime64[ns]")
        ds["time_bnds"] = (("time", "nv"), np.stack([starts[:-1], starts[1:]], axis=1))
        ds["time"].attrs["bounds"] = "time_bnds"
        encoding["time_bnds"] = {"units": "hours since 2025-01-01 00:00:00"}
    ds.to_netcdf(path, encoding=encoding)
    return path


@pytest.mark.parametrize("with_bounds, expected", [
    (True, {"2025-01-31T23": 1.0, "2025-02-01T00": 2.0, "2025-02-10T00": 2.0,
            "2025-03-01T00": 3.0, "2025-03-31T23": 3.0, "2025-01-01T00": 1.0}),
    # without bounds each stamp starts an interval: Feb 10 is still January's value
    (False, {"2025-01-31T23": 1.0, "2025-02-10T00": 1.0, "2025-02-15T00": 2.0,
             "2025-03-16T12": 3.0, "2025-04-14T23": 3.0}),
])
def test_domain_flux_time_bounds(tmp_path, with_bounds, expected):
    path = monthly_file(tmp_path / "monthly.nc", with_bounds)
    (field,) = read_domain_flux(path, GEOGRAPHIC)
    assert field.sector == "total"
    times = np.array(list(expected), dtype="datetime64[ns]")
    values = field.hourly(times, None, 8.0, str(path))
    np.testing.assert_array_equal(values[:, 0, 0], list(expected.values()))
    assert (values == values[:, :1, :1]).all()


@pytest.mark.parametrize("with_bounds, outside", [
    (True, "2024-12-31T23"), (True, "2025-04-01T00"),
    # without bounds the last interval (from 16 March 12:00) lasts as long as the one
    # before it (29.5 days), to 15 April 00:00
    (False, "2025-01-16T11"), (False, "2025-04-15T00"),
])
def test_domain_flux_refuses_hours_outside(tmp_path, with_bounds, outside):
    path = monthly_file(tmp_path / "monthly.nc", with_bounds)
    (field,) = read_domain_flux(path, GEOGRAPHIC)
    times = np.array(["2025-02-01T00", outside], dtype="datetime64[ns]")
    with pytest.raises(InputError) as info:
        field.hourly(times, None, 8.0, str(path))
    message = str(info.value)
    assert "\n" not in message and "monthly.nc" in message and "'total'" in message
    assert f"the first starting {outside}:00 UTC" in message


def test_domain_flux_units_and_missing_values(tmp_path, caplog):
    path = monthly_file(tmp_path / "nan.nc", True, values=(1e-8, np.nan, 2e-8),
                        units="kg m-2 s-1")
    with caplog.at_level("WARNING", logger="cityflux.inventory.gridded"):
        (field,) = read_domain_flux(path, GEOGRAPHIC)
    assert "nan.nc" in caplog.text and f"{GEOGRAPHIC.size} of {3 * GEOGRAPHIC.size}" in \
        caplog.text
    per_kg = 1 / 44.0095e-3 * 1e6  # µmol m-2 s-1 per kg m-2 s-1
    np.testing.assert_allclose(field.flux[:, 0, 0], [1e-8 * per_kg, 0.0, 2e-8 * per_kg],
                               rtol=1e-12)


def test_hour_takes_the_interval_holding_its_middle(tmp_path):
    """Hourly means stamped and bounded at half past: 01:00-02:00 UTC has its middle in
    the interval [01:30, 02:30), not in [00:30, 01:30) where it starts."""
    grid = GEOGRAPHIC
    stamps = hours("2025-01-01T00", 3) + np.timedelta64(30, "m")
    ds = xr.Dataset({"flux": (("time", "lat", "lon"),
                              np.arange(1.0, 4.0)[:, None, None] * np.ones(grid.shape),
                              {"units": "umol m-2 s-1"})},
                    coords={"time": stamps, "lat": grid.y, "lon": grid.x})
    ds.to_netcdf(tmp_path / "half.nc", encoding={"time": {"units": "minutes since 2025-01-01"}})
    (field,) = read_domain_flux(tmp_path / "half.nc", grid)
    np.testing.assert_array_equal(field.hourly(hours("2025-01-01T01", 2), None, 0.0,
                                               "half")[:, 0, 0], [2.0, 3.0])


def test_domain_flux_with_gap_between_bounds(tmp_path):
    grid = GEOGRAPHIC
    ds = xr.Dataset({"flux": (("time", "lat", "lon"), np.ones((2, *grid.shape)),
                              {"units": "umol m-2 s-1"})},
                    coords={"time": hours("2025-01-01T00", 2) + 6 * HOUR,
                            "lat": grid.y, "lon": grid.x})
    bounds = np.array([["2025-01-01T00", "2025-01-01T06"], ["2025-01-01T12", "2025-01-01T18"]],
                      dtype="datetime64[ns]")
    ds["time_bnds"] = (("time", "nv"), bounds)
    ds["time"].attrs["bounds"] = "time_bnds"
    units = {"units": "hours since 2025-01-01 00:00:00"}
    ds.to_netcdf(tmp_path / "gap.nc", encoding={"time": units, "time_bnds": units})
    (field,) = read_domain_flux(tmp_path / "gap.nc", grid)
    assert field.hourly(hours("2025-01-01T05", 1), None, 0.0, "gap")[0, 0, 0] == 1.0
    with pytest.raises(InputError, match="1 needed hour"):
        field.hourly(hours("2025-01-01T05", 2), None, 0.0, "gap")  # 06:00 lies in the gap
