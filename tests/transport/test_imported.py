"""Imported footprints: the real NAME file of Tacolneston and R-STILT / PYSTILT files.

Reference values are computed here straight from the raw files with numpy (Σ fp × flux), never
through the code under test.
"""

import dataclasses
import json
import warnings
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import xarray as xr

from cityflux.errors import InputError
from cityflux.grid import Grid
from cityflux.inventory.regrid import ConservativeRegridder
from cityflux.transport.base import Receptors
from cityflux.transport.footprints import observation_operator
from cityflux.transport.imported import (
    FootprintImportWarning,
    ImportedTransport,
    read_name_footprint,
    read_stilt_footprint,
)
from cityflux.transport.stacks import StackSources
from cityflux.units import MOLAR_MASS_CO2

DATA = Path(__file__).resolve().parents[2] / "data-samples" / "tacolneston-2014-07"
NAME_FILE = DATA / "TAC-100magl_UKV_co2_TEST_201407.nc"
FLUX_FILE = DATA / "co2-rtot-cardamom-2hr_TEST_2014.nc"
BOUNDARY_FILE = DATA / "co2_TEST_201407.nc"
START = np.datetime64("2014-07-01T00:00", "ns")


@pytest.fixture(scope="module")
def name():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FootprintImportWarning)
        return read_name_footprint(NAME_FILE)


@pytest.fixture(scope="module")
def raw():
    """fp (time, lat, lon) and the flux (µmol m-2 s-1) of each footprint time, from the files."""
    with xr.open_dataset(NAME_FILE) as ds:
        fp = ds["fp"].transpose("time", "lat", "lon").values.astype(float)
        times = ds["time"].values
    with xr.open_dataset(FLUX_FILE) as ds:
        flux = ds["flux"].transpose("time", "lat", "lon").values * 1e6  # mol -> µmol
        flux_times = ds["time"].values  # starts of 2-hour periods
    first = int(np.flatnonzero(flux_times == START)[0])
    return {"fp": fp, "times": times, "flux": flux[first:], "flux_times": flux_times[first:]}


def direct_ppm(fp, flux, times, flux_times):
    """Σ fp × flux with the flux of the period containing each footprint time."""
    k = np.searchsorted(flux_times, times, side="right") - 1
    return np.einsum("tij,tij->t", fp, flux[k])


def modelled(footprints, flux_steps, n_steps):
    """H x with the 2-hourly operator of cityflux."""
    operator = observation_operator(footprints, 2 * n_steps, 2)
    return operator.forward(flux_steps[:n_steps].reshape(n_steps, -1).ravel())


def receptors_for(imported, grid, site="TAC"):
    x, y = grid.to_metric(imported.lon, imported.lat)
    return Receptors(np.array([site] * len(imported)), np.asarray(x), np.asarray(y),
                     imported.height.copy(), imported.observation_hours(START))


# --------------------------------------------------------------------------- NAME
def test_real_name_file_loads(name, raw):
    assert len(name) == 73 and name.source == "NAME fp" and not name.time_resolved
    assert name.grid.shape == (12, 12) and name.grid.crs == "EPSG:4326"
    assert np.allclose(name.grid.x[[0, -1]], [-0.396, 3.476]) and np.allclose(
        name.grid.y[[0, -1]], [51.211, 53.785])
    assert set(name.site) == {"TAC"} and np.all(name.height == 100.0)
    assert np.allclose(name.lon, 1.1387, atol=1e-3) and np.allclose(name.lat, 52.5178, atol=1e-3)
    np.testing.assert_allclose(name.totals(), raw["fp"].sum(axis=(1, 2)), rtol=1e-12)
    # the known faults of fp_HiTRes are detected and reported
    report = name.hires_report
    assert report.units is None and report.empty_times == 36 and not report.passed
    assert report.negative_values > 0 and report.negative_slots == (26,)
    assert report.ratio_min < 0.7 and report.ratio_max > 1.7


def test_hires_is_refused_with_its_faults():
    with pytest.raises(InputError, match="fp_HiTRes fails its checks: no units attribute; "
                                         "all zero at 36 of 73 times.*negative"):
        read_name_footprint(NAME_FILE, use_hires=True)


def test_boundary_fraction_and_inferred_units_are_warned(name):
    with pytest.warns(FootprintImportWarning) as caught:
        imported = read_name_footprint(NAME_FILE, boundary=BOUNDARY_FILE)
    messages = [str(w.message) for w in caught]
    assert any("domain is cut" in m and "0.0303" in m for m in messages), messages
    assert any("no units attribute" in m and "taken as mol/mol" in m for m in messages)
    with xr.open_dataset(NAME_FILE) as ds, xr.open_dataset(BOUNDARY_FILE) as bc:
        direct = sum((ds[f"particle_locations_{e}"] * bc[f"vmr_{e}"]).sum(
            [d for d in ds[f"particle_locations_{e}"].dims if d != "time"]).values
            for e in "nesw") * 1e6
        fraction = sum(ds[f"particle_locations_{e}"].sum(
            [d for d in ds[f"particle_locations_{e}"].dims if d != "time"]).values
            for e in "nesw")
    np.testing.assert_allclose(imported.background_ppm, direct, rtol=1e-9)
    np.testing.assert_allclose(imported.boundary_fraction, fraction, rtol=1e-6)
    assert 10 < imported.background_ppm.min() and imported.background_ppm.max() < 25
    assert np.all(np.abs(imported.background_normalised_ppm - 396) < 3)
    share = {e: f.sum() / imported.boundary_fraction.sum()
             for e, f in imported.edge_fraction.items()}
    assert share["e"] < 0.01 and share["s"] < 0.001 and share["n"] + share["w"] > 0.99


def test_consistent_hires_is_used_when_asked(tmp_path):
    rng = np.random.default_rng(5)
    hires = rng.gamma(0.5, 0.1, size=(4, 5, 3, 4))  # lat, lon, time, H_back 0..3 hourly
    times = np.datetime64("2014-07-01T05:00", "ns") + np.arange(3) * np.timedelta64(1, "h")
    ds = xr.Dataset(
        {"fp": (("lat", "lon", "time"), hires.sum(axis=3), {"units": "(mol/mol)/(mol/m2/s)"}),
         "fp_HiTRes": (("lat", "lon", "time", "H_back"), hires,
                       {"units": "(mol/mol)/(mol/m2/s)"}),
         "release_lon": ("time", np.full(3, 1.0)), "release_lat": ("time", np.full(3, 52.0))},
        coords={"lat": 51.0 + 0.25 * np.arange(4), "lon": 0.5 + 0.25 * np.arange(5),
                "time": times, "H_back": np.arange(4)})
    path = tmp_path / "XYZ-50magl_TEST_co2_201407.nc"
    ds.to_netcdf(path)
    imported = read_name_footprint(path, use_hires=True)
    assert imported.source == "NAME fp_HiTRes" and imported.time_resolved
    assert imported.hires_report.passed and imported.boundary_fraction is None
    assert imported.site[0] == "XYZ" and imported.height[0] == 50.0
    fp = imported.to_footprints(np.datetime64("2014-07-01T00:00", "ns"))
    assert list(fp.obs_hour) == [5, 6, 7]
    per_slot = np.zeros((3, 4))
    np.add.at(per_slot, (fp.rows, fp.hours_back), fp.values)
    np.testing.assert_allclose(per_slot, hires.sum(axis=(0, 1)), rtol=1e-12)


# --------------------------------------------------------------------------- Σ fp × flux
def test_modelled_mole_fraction_native_grid(name, raw):
    expected = direct_ppm(raw["fp"], raw["flux"], raw["times"], raw["flux_times"])
    n_steps = 37  # 74 hours cover the 73 footprint hours
    np.testing.assert_allclose(modelled(name.to_footprints(START), raw["flux"], n_steps),
                               expected, rtol=1e-6)
    # the same through the Transport interface, receptors matched by site and hour
    transport = ImportedTransport(name, name.grid, START)
    receptors = receptors_for(name, name.grid, site="tac")
    np.testing.assert_allclose(modelled(transport.surface_footprints(receptors), raw["flux"],
                                        n_steps), expected, rtol=1e-6)
    assert 1 < expected.min() and expected.max() < 30  # ppm of respiration


def nested_grid(grid, factor):
    """A grid whose cells are factor × factor source cells (factor > 1) or 1/n of one."""
    return Grid(grid.crs, grid.x_start, grid.x_stop, grid.x_step * factor,
                grid.y_start, grid.y_stop, grid.y_step * factor)


def test_modelled_mole_fraction_on_a_coarser_inversion_grid(name, raw):
    coarse = nested_grid(name.grid, 2)  # 6 × 6 cells of 2 × 2 footprint cells
    flux_coarse = ConservativeRegridder(name.grid, coarse).regrid_density(raw["flux"])
    got = modelled(name.to_footprints(START, coarse), flux_coarse, 37)
    # numpy: footprints add up over the block, the flux is its area-weighted mean
    area = name.grid.cell_area
    fp_block = raw["fp"].reshape(-1, 6, 2, 6, 2).sum(axis=(2, 4))
    flux_block = ((raw["flux"] * area).reshape(-1, 6, 2, 6, 2).sum(axis=(2, 4))
                  / area.reshape(6, 2, 6, 2).sum(axis=(1, 3)))
    expected = direct_ppm(fp_block, flux_block, raw["times"], raw["flux_times"])
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_modelled_mole_fraction_on_a_finer_inversion_grid_is_unchanged(name, raw):
    fine = nested_grid(name.grid, 1 / 3)  # every footprint cell cut into 3 × 3
    flux_fine = ConservativeRegridder(name.grid, fine).regrid_density(raw["flux"])
    got = modelled(name.to_footprints(START, fine), flux_fine, 37)
    expected = direct_ppm(raw["fp"], raw["flux"], raw["times"], raw["flux_times"])
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_uniform_flux_is_conserved_on_a_projected_grid(name, raw):
    # British National Grid, 20 km cells, covering the whole footprint domain
    grid = Grid("EPSG:27700", 480_000, 800_000, 20_000, 120_000, 480_000, 20_000)
    regridder = ConservativeRegridder(name.grid, grid)
    assert np.allclose(regridder.inside_fraction, 1.0)  # the target covers every cell
    regridded = name.regridded(grid)
    np.testing.assert_allclose(regridded.totals(), name.totals(), rtol=1e-9)
    # a flux uniform on the inversion grid: Σ F_t φ = φ Σ fp
    footprints = regridded.to_footprints(START)
    got = footprints.time_integrated() @ np.full(grid.size, 2.5)
    np.testing.assert_allclose(got, 2.5 * raw["fp"].sum(axis=(1, 2)), rtol=1e-6)
    # the same uniform flux regridded from the footprint grid stays 2.5 inside the domain
    # (to 1 %: the overlap fractions are plane-area fractions in the projection, whose
    # areal scale varies by ~1e-3 across a 25 km × 26 km footprint cell; checked against
    # shapely intersections of densified cells, which agree to 3e-5)
    flux = regridder.regrid_density(np.full(name.grid.shape, 2.5))
    full = regridder.regrid_amount(name.grid.cell_area) > 0.99 * grid.cell_area
    assert full.sum() > 150
    np.testing.assert_allclose(flux[full], 2.5, rtol=1e-2)
    # a real flux is smoothed by the coarser grid but stays close
    real = regridder.regrid_density(raw["flux"])
    native = direct_ppm(raw["fp"], raw["flux"], raw["times"], raw["flux_times"])
    assert np.abs(modelled(footprints, real, 37) / native - 1).mean() < 0.2


# --------------------------------------------------------------------------- STILT
STILT_GRID = {"lon": -112.3 + 0.1 * np.arange(6), "lat": 40.45 + 0.1 * np.arange(5)}
RECEPTOR = np.datetime64("2015-06-18T22:00", "ns")


def stilt_values(seed=1, hours=24):
    rng = np.random.default_rng(seed)
    foot = rng.gamma(0.5, 1e-3, size=(hours, 5, 6))
    foot[rng.random(foot.shape) < 0.3] = 0.0
    return foot


def write_rstilt(path, foot, times, units="ppm (umol-1 m2 s)", order=("time", "lat", "lon"),
                 attrs=None, global_attrs=None):
    """A footprint file as R-STILT's write_footprint.r makes it (ncdf4)."""
    with netCDF4.Dataset(path, "w", format="NETCDF4") as nc:
        sizes = {"lon": 6, "lat": 5, "time": len(times)}
        for dim in ("lon", "lat", "time"):
            nc.createDimension(dim, sizes[dim])
        lon = nc.createVariable("lon", "f8", ("lon",))
        lon[:] = STILT_GRID["lon"]
        lon.units, lon.standard_name = "degrees_east", "longitude"
        lat = nc.createVariable("lat", "f8", ("lat",))
        lat[:] = STILT_GRID["lat"]
        lat.units, lat.standard_name = "degrees_north", "latitude"
        time = nc.createVariable("time", "f8", ("time",))
        time[:] = (np.asarray(times, "datetime64[s]").astype(np.int64)).astype(float)
        time.units, time.calendar = "seconds since 1970-01-01 00:00:00Z", "standard"
        time.standard_name, time.long_name = "time", "utc time"
        var = nc.createVariable("foot", "f4", order, fill_value=-1.0)
        axes = {"time": 0, "lat": 1, "lon": 2}
        var[:] = np.transpose(foot, [axes[d] for d in order])
        if units is not None:
            var.units = units
        var.standard_name, var.long_name = "footprint", "stilt surface influence footprint"
        for key, value in (attrs or {}).items():
            var.setncattr(key, value)
        nc.crs, nc.crs_format, nc.title = "+proj=longlat", "PROJ.4", "STILT Footprint"
        for key, value in (global_attrs or {}).items():
            nc.setncattr(key, value)


def layer_times(receptor, hours=24):
    return receptor + np.arange(-hours, 0) * np.timedelta64(1, "h")


def test_rstilt_file_round_trips(tmp_path):
    foot = stilt_values()
    path = tmp_path / "201506182200_-111.980323_40.782561_5_foot.nc"
    write_rstilt(path, foot, layer_times(RECEPTOR))
    imported = read_stilt_footprint(path)
    assert imported.source == "R-STILT" and imported.time_resolved
    assert imported.time[0] == RECEPTOR and imported.site[0] == "-111.98_40.7826_5"
    assert (imported.lon[0], imported.lat[0], imported.height[0]) == (-111.980323, 40.782561, 5)
    np.testing.assert_allclose(imported.grid.x, STILT_GRID["lon"])
    np.testing.assert_allclose(imported.grid.y, STILT_GRID["lat"])
    start = np.datetime64("2015-06-17T12:00", "ns")
    fp = imported.to_footprints(start)
    dense = np.zeros((25, 5 * 6))
    np.add.at(dense, (fp.hours_back, fp.cells), fp.values)
    # layer stamped r - k hours holds the hour k back: hours_back k, the same numbers
    np.testing.assert_allclose(dense[1:][::-1].reshape(foot.shape), foot.astype(np.float32),
                               rtol=0)
    assert dense[0].sum() == 0 and fp.obs_hour[0] == 34
    # Σ foot × flux against numpy, with an hourly flux
    flux = np.random.default_rng(2).normal(3, 1, size=(35, 5, 6))
    expected = np.einsum("kij,kij->", foot.astype(np.float32), flux[10:34])
    got = observation_operator(fp, 35, 1).forward(flux.reshape(35, -1).ravel())
    np.testing.assert_allclose(got, [expected], rtol=1e-6)


def test_transposed_pystilt_and_half_hour_receptors(tmp_path):
    foot = stilt_values(3)
    receptor = RECEPTOR + np.timedelta64(30, "m")
    receptor_json = json.dumps({"kind": "point", "time": "2015-06-18T22:30:00",
                                "longitude": -112.0, "latitude": 40.7, "altitude": 30.0})
    path = tmp_path / "any-name.nc"
    write_rstilt(path, foot, layer_times(receptor), units="ppm m2 s umol-1",
                 order=("lon", "lat", "time"), attrs={"stilt_receptor": receptor_json})
    imported = read_stilt_footprint(path, site="TWR")
    assert imported.source == "PYSTILT" and imported.site[0] == "TWR"
    assert imported.time[0] == receptor and imported.height[0] == 30.0
    fp = imported.to_footprints(RECEPTOR - np.timedelta64(22, "h"))
    # each layer [r - k h, r - k h + 1 h) is shared half-half between two flux hours
    assert fp.obs_hour[0] == 22 and fp.hours_back.min() == 0 and fp.hours_back.max() == 24
    stored = foot.astype(np.float32).astype(float)
    np.testing.assert_allclose(fp.values.sum(), stored.sum(), rtol=1e-12)
    per_hour = np.bincount(fp.hours_back, fp.values)
    layer = stored.sum(axis=(1, 2))[::-1]  # the layers of hours back 1..24 in order
    np.testing.assert_allclose(per_hour[0], layer[0] / 2, rtol=1e-12)
    np.testing.assert_allclose(per_hour[24], layer[-1] / 2, rtol=1e-12)


def test_missing_units_warn_with_the_assumed_unit_and_receptor_from_attributes(tmp_path):
    path = tmp_path / "foot.nc"
    write_rstilt(path, stilt_values(), layer_times(RECEPTOR), units=None,
                 global_attrs={"r_run_time": "2015-06-18T22:00:00Z", "r_lati": 40.7,
                               "r_long": -112.0, "r_zagl": 50.0})
    with pytest.warns(FootprintImportWarning, match=r"no units attribute; taken as "
                                                    r"'ppm \(umol-1 m2 s\)'"):
        imported = read_stilt_footprint(path)
    assert imported.time[0] == RECEPTOR and imported.height[0] == 50.0


def test_unknown_receptor_and_bad_units_are_clear_errors(tmp_path):
    path = tmp_path / "foot.nc"
    write_rstilt(path, stilt_values(), layer_times(RECEPTOR))
    with pytest.raises(InputError, match="receptor time, lon, lat, height unknown"):
        read_stilt_footprint(path)
    write_rstilt(path, stilt_values(), layer_times(RECEPTOR), units="umol m-2 s-1")
    with pytest.raises(InputError, match="cannot be converted"):
        read_stilt_footprint(path, time=RECEPTOR, lon=-112.0, lat=40.7, height=10.0)


# --------------------------------------------------------------------------- transport
@pytest.fixture
def stilt_transport(tmp_path):
    paths = []
    for k, hour in enumerate((20, 21, 22)):
        receptor = RECEPTOR + np.timedelta64(hour - 22, "h")
        stamp = str(receptor.astype("datetime64[m]")).replace("-", "").replace("T", "") \
            .replace(":", "")
        paths.append(tmp_path / f"{stamp}_-112_40.7_10_foot.nc")
        write_rstilt(paths[-1], stilt_values(10 + k), layer_times(receptor))
    imported = read_stilt_footprint(paths, site="TWR")
    return imported, ImportedTransport(imported, imported.grid,
                                       np.datetime64("2015-06-18T00:00", "ns"))


def test_transport_matches_receptors_and_refuses_missing_ones(stilt_transport):
    imported, transport = stilt_transport
    grid = imported.grid
    x, y = grid.to_metric([-112.0] * 2, [40.7] * 2)
    receptors = Receptors(np.array(["TWR", "TWR"]), np.asarray(x), np.asarray(y),
                          np.array([10.0, 10.0]), np.array([22, 20]))
    fp = transport.surface_footprints(receptors)
    np.testing.assert_allclose(np.bincount(fp.rows, fp.values), imported.totals()[[2, 0]],
                               rtol=1e-12)
    assert transport.hours_back == 24
    with pytest.raises(InputError, match="no imported footprint for 1 of 2 receptors "
                                         r"\(TWR hour 23\)"):
        transport.surface_footprints(Receptors(receptors.site, receptors.x, receptors.y,
                                               receptors.height, np.array([22, 23])))
    far = Receptors(receptors.site, receptors.x + 5e3, receptors.y, receptors.height,
                    receptors.hour)
    with pytest.warns(FootprintImportWarning, match="up to 5 km"):
        transport.surface_footprints(far)


def test_stacks_raise_or_are_approximated_by_their_cell(stilt_transport):
    imported, transport = stilt_transport
    grid = imported.grid
    x, y = grid.to_metric([-112.0], [40.7])
    receptors = Receptors(np.array(["TWR"]), np.asarray(x), np.asarray(y), np.array([10.0]),
                          np.array([22]))
    sx, sy = grid.to_metric([grid.x[2]], [grid.y[3]])  # a stack in the centre of cell (3, 2)
    stack = StackSources(np.asarray(sx), np.asarray(sy), np.array([80.0]))
    with pytest.raises(InputError, match="carry no stack plumes"):
        transport.point_sensitivities(stack, receptors)
    surface = ImportedTransport(imported, grid, transport.start, stacks_as_surface=True)
    sens = surface.point_sensitivities(stack, receptors)
    assert sens.shape == (1, 1, 25)
    fp = surface.surface_footprints(receptors)
    cell = 3 * grid.nx + 2
    expected = np.bincount(fp.hours_back[fp.cells == cell], fp.values[fp.cells == cell],
                           minlength=25) * 1e6 / (MOLAR_MASS_CO2 * grid.cell_area[3, 2])
    np.testing.assert_allclose(sens[0, 0], expected, rtol=1e-12)
    np.testing.assert_allclose(surface.point_sensitivities(stack, receptors, integrate=True),
                               sens.sum(axis=2))


def test_cache_parts_follow_the_footprints(stilt_transport):
    imported, transport = stilt_transport
    again = ImportedTransport(imported, imported.grid, transport.start)
    assert transport.cache_parts() == again.cache_parts()
    changed = ImportedTransport(dataclasses.replace(imported, values=imported.values * 2),
                                imported.grid, transport.start)
    assert changed.cache_parts() != transport.cache_parts()


def test_a_boundary_file_gives_the_transport_each_receptors_background(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FootprintImportWarning)
        imported = read_name_footprint(NAME_FILE, boundary=BOUNDARY_FILE)
    rows = np.array([5, 0, 17])
    receptors = receptors_for(imported, imported.grid).subset(rows)
    footprints = ImportedTransport(imported, imported.grid, START).surface_footprints(receptors)
    np.testing.assert_allclose(footprints.background, imported.background_normalised_ppm[rows])
    assert np.all((footprints.background > 390) & (footprints.background < 400))
    without = ImportedTransport(name, name.grid, START)
    assert without.surface_footprints(receptors).background is None
    # the background is part of the cache key: another boundary file, other entries
    assert ImportedTransport(imported, imported.grid, START).cache_parts() != \
        without.cache_parts()
