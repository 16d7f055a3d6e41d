"""Tests of cityflux.plotting on small synthetic run outputs (offline, Agg only)."""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

pytest.importorskip("cartopy")
from matplotlib.image import imread  # noqa: E402
from shapely.geometry import MultiPolygon, Polygon, box  # noqa: E402

from cityflux import plotting  # noqa: E402

LAT0, LON0 = 40.0, 116.0
NY, NX, NT = 8, 10, 3
DX = 4000.0  # m
REGIONS = ["domain", "city", "district_1"]


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Fail loudly if anything (cartopy's Natural Earth downloader included) goes online."""
    import cartopy.io

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(cartopy.io, "urlopen", refuse, raising=False)
    monkeypatch.setattr(cartopy.io.Downloader, "acquire_resource", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def _times():
    return pd.date_range("2024-07-01 12:00", periods=NT, freq="1h").to_numpy()


def _fluxes(shape, rng):
    """Prior/posterior fluxes and sigmas with a city hot spot, shape (time, ny, nx)."""
    nt, ny, nx = shape
    jj, ii = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
    hot = 8.0 * np.exp(-(((jj - ny / 2) / 2.0) ** 2 + ((ii - nx / 2) / 2.5) ** 2))
    prior = np.broadcast_to(1.0 + hot, shape) * (1 + 0.1 * np.arange(nt))[:, None, None]
    post = prior * (1.0 + 0.3 * rng.standard_normal(shape))
    s_prior = 0.5 * prior + 0.2
    s_post = s_prior * rng.uniform(0.3, 0.95, shape)
    return prior, post, s_prior, s_post


def _totals(rng):
    p = np.array([5.0e4, 3.0e4, 8.0e3])
    q = p * np.array([1.1, 0.9, 1.2])
    hourly = p[:, None] / NT * np.ones(NT)
    return {
        "total_prior": (("region", "time"), hourly, {"units": "t h-1"}),
        "total_posterior": (("region", "time"), hourly * 1.05, {"units": "t h-1"}),
        "total_prior_uncertainty": (("region", "time"), 0.3 * hourly, {"units": "t h-1"}),
        "total_posterior_uncertainty": (("region", "time"), 0.1 * hourly,
                                        {"units": "t h-1"}),
        "period_total_prior": (("region",), p, {"units": "t"}),
        "period_total_posterior": (("region",), q, {"units": "t"}),
        "period_total_prior_uncertainty": (("region",), 0.3 * p, {"units": "t"}),
        "period_total_posterior_uncertainty": (("region",), 0.1 * p, {"units": "t"}),
    }


def _attrs():
    return {"time_coverage_start": "2024-07-01T12:00:00Z",
            "time_coverage_end": "2024-07-01T14:00:00Z"}


def make_projected_posterior(seed=0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    y = (np.arange(NY) - (NY - 1) / 2) * DX
    x = (np.arange(NX) - (NX - 1) / 2) * DX
    yy, xx = np.meshgrid(y, x, indexing="ij")
    lat = LAT0 + yy / 111_320.0
    lon = LON0 + xx / (111_320.0 * np.cos(np.deg2rad(lat)))
    prior, post, s_prior, s_post = _fluxes((NT, NY, NX), rng)
    u = {"units": "umol m-2 s-1"}
    dims = ("time", "y", "x")
    data = {
        "net_flux_prior": (dims, prior, u),
        "net_flux_posterior": (dims, post, u),
        "net_flux_prior_uncertainty": (dims, s_prior, u),
        "net_flux_posterior_uncertainty": (dims, s_post, u),
        **_totals(rng),
    }
    return xr.Dataset(
        data,
        coords={"time": _times(), "y": y, "x": x, "lat": (("y", "x"), lat),
                "lon": (("y", "x"), lon), "region": REGIONS},
        attrs=_attrs(),
    )


def make_geographic_posterior(seed=1) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    lat = LAT0 + (np.arange(NY) - (NY - 1) / 2) * 0.036
    lon = LON0 + (np.arange(NX) - (NX - 1) / 2) * 0.047
    prior, post, s_prior, s_post = _fluxes((NT, NY, NX), rng)
    u = {"units": "umol m-2 s-1"}
    dims = ("time", "lat", "lon")
    data = {
        "net_flux_prior": (dims, prior, u),
        "net_flux_posterior": (dims, post, u),
        "net_flux_prior_uncertainty": (dims, s_prior, u),
        "net_flux_posterior_uncertainty": (dims, s_post, u),
        **_totals(rng),
    }
    return xr.Dataset(data, coords={"time": _times(), "lat": lat, "lon": lon,
                                    "region": REGIONS}, attrs=_attrs())


def make_sites() -> pd.DataFrame:
    return pd.DataFrame({
        "site": ["TWA", "TWB", "BKG"],
        "name": ["Tower A", "Tower B", "Background"],
        "lat": [40.03, 39.97, 40.16],
        "lon": [115.98, 116.06, 115.85],
        "inlet_height_m": [100.0, 80.0, 50.0],
        "role": ["tower", "tower", "background"],
    })


def make_regions() -> dict:
    city = Polygon([(115.93, 39.95), (116.07, 39.94), (116.09, 40.05), (115.95, 40.07)])
    district = MultiPolygon([box(115.96, 39.97, 116.0, 40.01), box(116.02, 39.99,
                                                                      116.05, 40.02)])
    return {"domain": box(115.81, 39.86, 116.19, 40.14), "city": city,
            "district_1": district}


def make_observations(seed=2, per_site=14) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    sites, times = [], []
    hours = pd.date_range("2024-07-01 00:00", periods=per_site, freq="3h")
    for s in ["TWA", "TWB", "BKG"]:
        sites += [s] * per_site
        times += list(hours)
    n = len(sites)
    bg = 420.0 + 0.2 * rng.standard_normal(n)
    enh = np.where(np.array(sites) == "BKG", 0.3, 6.0) * rng.uniform(0.5, 1.5, n)
    obs = bg + enh + 0.5 * rng.standard_normal(n)
    used = (np.arange(n) % 4 != 0).astype("int8")
    return xr.Dataset(
        {
            "site": ("obs", np.array(sites, dtype=object)),
            "time": ("obs", pd.DatetimeIndex(times).to_numpy()),
            "observed": ("obs", obs, {"units": "ppm"}),
            "background": ("obs", bg, {"units": "ppm"}),
            "modelled_prior": ("obs", bg + 0.7 * enh, {"units": "ppm"}),
            "modelled_posterior": ("obs", bg + 0.95 * enh, {"units": "ppm"}),
            "obs_error_std": ("obs", np.full(n, 0.8), {"units": "ppm"}),
            "used_in_inversion": ("obs", used),
        }
    )


def assert_png(path: Path) -> None:
    assert path.is_file() and path.stat().st_size > 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = imread(path)
    assert img.ndim == 3 and img.shape[0] > 200 and img.shape[1] > 200
    rgb = np.round(img[..., :3] * 255).astype(np.uint32)
    colours = np.unique((rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2])
    assert colours.size > 10, f"{path.name} looks blank"


MAPS = ["map_prior.png", "map_posterior.png", "map_increment.png",
        "map_uncertainty_reduction.png"]


def test_flux_maps_projected(tmp_path):
    out = tmp_path / "figs" / "nested"
    paths = plotting.plot_flux_maps(make_projected_posterior(), make_sites(),
                                    make_regions(), out)
    assert [p.name for p in paths] == MAPS
    for p in paths:
        assert p.parent == out
        assert_png(p)


def test_flux_maps_geographic_grid_with_overlays(tmp_path):
    sites = make_sites()
    sites.loc[len(sites)] = ["FAR", "Far away", 41.5, 118.0, 10.0, "background"]
    paths = plotting.plot_flux_maps(make_geographic_posterior(), sites,
                                    make_regions(), str(tmp_path))
    assert [p.name for p in paths] == MAPS
    for p in paths:
        assert_png(p)


def test_flux_maps_without_uncertainty_or_overlays_warns_and_skips(tmp_path):
    ds = make_geographic_posterior().drop_vars(
        ["net_flux_prior_uncertainty", "net_flux_posterior_uncertainty"])
    with pytest.warns(UserWarning, match="uncertainty"):
        paths = plotting.plot_flux_maps(ds, None, None, tmp_path)
    assert [p.name for p in paths] == MAPS[:3]
    for p in paths:
        assert_png(p)


def test_flux_maps_missing_flux_is_input_error(tmp_path):
    from cityflux.errors import InputError

    ds = make_projected_posterior().drop_vars("net_flux_posterior")
    with pytest.raises(InputError, match="net_flux_posterior"):
        plotting.plot_flux_maps(ds, None, None, tmp_path)


def test_timeseries(tmp_path):
    paths = plotting.plot_timeseries(make_observations(), tmp_path)
    assert paths == [tmp_path / "timeseries.png"]
    assert_png(paths[0])


def test_timeseries_minimal_variables(tmp_path):
    ds = make_observations().drop_vars(["obs_error_std", "used_in_inversion"])
    ds["site"] = ds["site"].astype("S3")  # as read back from a char array
    assert_png(plotting.plot_timeseries(ds, tmp_path)[0])


def test_totals_with_truth(tmp_path):
    truth = {"domain": 5.2e4, "city": 2.9e4, "nowhere": 1.0}
    paths = plotting.plot_totals(make_projected_posterior(), tmp_path, truth=truth)
    assert paths == [tmp_path / "totals.png"]
    assert_png(paths[0])


def test_plot_all_after_netcdf_roundtrip(tmp_path):
    pytest.importorskip("netCDF4")
    post_file, obs_file = tmp_path / "posterior.nc", tmp_path / "observations.nc"
    make_projected_posterior().to_netcdf(post_file)
    make_observations().to_netcdf(obs_file)
    with xr.open_dataset(post_file) as post, xr.open_dataset(obs_file) as obs:
        paths = plotting.plot_all(post, obs, make_sites(), make_regions(),
                                  tmp_path / "figures", truth={"city": 3.1e4})
    assert [p.name for p in paths] == MAPS + ["timeseries.png", "totals.png"]
    for p in paths:
        assert_png(p)


def test_does_not_touch_pyplot(tmp_path):
    import sys

    before = "matplotlib.pyplot" in sys.modules
    plotting.plot_totals(make_projected_posterior(), tmp_path)
    if not before:
        assert "matplotlib.pyplot" not in sys.modules
