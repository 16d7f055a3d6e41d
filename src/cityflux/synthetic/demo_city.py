"""The demo city: a synthetic but realistic inversion case, generated reproducibly.

A city of about 12 km radius in a 60 km × 60 km domain at 1 km, one week of hourly
meteorology, five towers and an upwind background site. The *true* flux has two power
plants (emitting from 150 m stacks), a road network with rush-hour traffic, residential and
commercial areas spread by a population proxy, an industrial zone, and a VPRM-like
biosphere. The *prior* differs from the truth the way inventories do: one power plant is
30 % too high, the other 33 % too low, a new industrial park is missing, traffic is 30 % too low, the population proxy is
shifted by 2 km, and the biosphere's uptake and respiration are off.

Observations are simulated from the hourly truth with a *different* transport from the one
the inversion uses (no inverse crime): every hour the wind speed is off by 10 % and the
boundary layer by 15 % (the same at all sites), the wind direction at each site differs by
a random 8° (independently per site and hour), the plants emit at stack height, and the
flux varies hourly rather than following the prior's shape. Then a smooth background,
0.2 ppm white measurement noise and 1 ppm model error autocorrelated over 3 h are added to
every site (the background site included), and a few records are dropped.

A wind-direction error shared by all sites is a transport error correlated across sites,
which the site-independent R of the inversion does not describe; with a shared 4° error,
2 of 8 realisations of this case moved the city total away from the truth (docs/design.md).

Regenerate with ``python -m cityflux.synthetic.demo_city data-samples/demo-city``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
import xarray as xr

from ..config import TransportConfig
from ..grid import Grid
from ..io import write_json, write_netcdf
from ..transport.footprints import observation_operator
from ..transport.plume import plume_footprints, stability_classes
from ..transport.stability import solar_elevation_deg
from ..units import FLUX_UNITS, rate_t_per_yr_to_umol_per_s
from .meteorology import _smooth_noise, synthetic_meteorology


@dataclass(frozen=True)
class DemoCitySpec:
    """Size and place of a synthetic city. Lengths of features scale with ``city_radius_km``."""

    half_width_km: float = 30.0
    cell_km: float = 1.0
    days: int = 7
    start: str = "2025-06-30T16:00"      # local midnight at UTC+8
    utc_offset_hours: float = 8.0
    lon0: float = 117.0
    lat0: float = 31.5
    city_radius_km: float = 12.0
    seed: int = 20250701

    @property
    def crs(self) -> str:
        return (f"+proj=tmerc +lat_0={self.lat0} +lon_0={self.lon0} +k=1 +x_0=0 +y_0=0 "
                "+datum=WGS84 +units=m +no_defs")

    @property
    def n_hours(self) -> int:
        return 24 * self.days

    def grid(self) -> Grid:
        edge = self.half_width_km * 1000.0
        step = self.cell_km * 1000.0
        return Grid(self.crs, -edge, edge, step, -edge, edge, step)


# Feature positions in km for a city of radius 12 km (scaled for other sizes).
POWER_PLANTS = [  # name, x, y, truth t/yr, prior t/yr (0 = missing), stack m
    ("plant_east", 8.0, -6.0, 2.5e6, 3.25e6, 150.0),
    ("plant_north", -6.0, 9.0, 1.2e6, 0.8e6, 150.0),
]
POPULATION_CENTRES = [(0.0, 0.0, 5.0, 1.0), (-8.0, -4.0, 3.0, 0.45), (6.0, 7.0, 3.0, 0.4)]
INDUSTRY = (12.0, -10.0, 2.0)
NEW_INDUSTRIAL_PARK = (-9.0, 3.0, 2.5)  # x, y, width km: in the truth, missing from the prior
SITES = [  # id, name, x km, y km, inlet m, role
    ("CTR", "City centre", 1.0, 1.0, 60.0, "tower"),
    ("NTH", "North suburb", 3.0, 10.0, 100.0, "tower"),
    ("STH", "South suburb", -2.0, -11.0, 50.0, "tower"),
    ("EST", "East", 15.0, -2.0, 80.0, "tower"),
    ("DWN", "Downwind rural", 22.0, 6.0, 100.0, "tower"),
    ("BKG", "Background (upwind)", -27.0, -5.0, 100.0, "background"),
]
TRUTH = {"plant": "truth", "population": 6.0e6, "roads": 4.0e6, "industry": 2.0e6, "park": 0.6e6,
         "shift_km": (0.0, 0.0), "gpp_max": 18.0, "resp_ref": 4.0}
PRIOR = {"plant": "prior", "population": 5.4e6, "roads": 2.8e6, "industry": 2.6e6, "park": 0.0,
         "shift_km": (2.0, 1.0), "gpp_max": 17.0, "resp_ref": 4.2}

#: Wind-direction error of the "true" transport, degrees, independent for each site and hour.
WIND_DIRECTION_ERROR_DEG = 3.0

HOURLY_PROFILES = {  # local hour 0..23, normalised to mean 1 below
    "traffic": [0.3, 0.2, 0.2, 0.2, 0.3, 0.6, 1.2, 1.8, 1.9, 1.4, 1.1, 1.1,
                1.1, 1.1, 1.2, 1.4, 1.7, 1.9, 1.7, 1.2, 0.9, 0.7, 0.5, 0.4],
    "population": [0.6, 0.55, 0.5, 0.5, 0.55, 0.7, 1.0, 1.3, 1.3, 1.25, 1.2, 1.2,
                   1.2, 1.2, 1.2, 1.2, 1.25, 1.3, 1.35, 1.3, 1.1, 0.9, 0.75, 0.65],
    "flat": [1.0] * 24,
}
WEEKDAY_FACTORS = [1.04, 1.04, 1.04, 1.04, 1.04, 0.92, 0.88]  # Monday first


def _city_outline(radius_km: float) -> np.ndarray:
    """An irregular city outline (km), star-convex around the centre."""
    angle = np.linspace(0, 2 * np.pi, 73)[:-1]
    r = radius_km * (1 + 0.12 * np.sin(3 * angle + 0.5) + 0.07 * np.cos(5 * angle))
    return np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1)


def _regions_geojson(spec: DemoCitySpec, grid: Grid) -> dict:
    import pyproj

    to_geo = pyproj.Transformer.from_crs(grid.pyproj_crs, "EPSG:4326", always_xy=True)
    outline = shapely.Polygon(_city_outline(spec.city_radius_km) * 1000.0)
    big = 10 * spec.city_radius_km * 1000.0
    quadrants = {"North-East": (0, 0, big, big), "North-West": (-big, 0, 0, big),
                 "South-West": (-big, -big, 0, 0), "South-East": (0, -big, big, 0)}

    def feature(geometry, kind, name):
        lon, lat = to_geo.transform(*np.asarray(geometry.exterior.coords).T)
        ring = [[round(a, 6), round(b, 6)] for a, b in zip(lon, lat)]
        return {"type": "Feature", "properties": {"type": kind, "name": name},
                "geometry": {"type": "Polygon", "coordinates": [ring]}}

    features = [feature(outline, "city", "Demo City")]
    for name, box in quadrants.items():
        features.append(feature(outline.intersection(shapely.box(*box)), "district", name))
    return {"type": "FeatureCollection", "features": features}


def _scaled(spec: DemoCitySpec, value_km: float) -> float:
    return value_km * spec.city_radius_km / 12.0


def _spatial_patterns(spec: DemoCitySpec, grid: Grid, params: dict) -> dict:
    """Annual-mean flux (µmol m⁻² s⁻¹) of each anthropogenic sector, and the urban fraction."""
    xk, yk = (a / 1000.0 for a in grid.metric_xy)
    area = grid.cell_area
    dx, dy = params["shift_km"]

    def spread(shape, total_t_yr):
        weights = shape * area
        return rate_t_per_yr_to_umol_per_s(total_t_yr) * shape / weights.sum()

    population = sum(w * np.exp(-((xk - _scaled(spec, cx) - dx) ** 2 +
                                  (yk - _scaled(spec, cy) - dy) ** 2) /
                                (2 * _scaled(spec, s) ** 2))
                     for cx, cy, s, w in POPULATION_CENTRES)
    ix, iy, s = (_scaled(spec, v) for v in INDUSTRY)
    industry = np.exp(-((xk - ix) ** 2 + (yk - iy) ** 2) / (2 * s ** 2))
    kx, ky, ks = (_scaled(spec, v) for v in NEW_INDUSTRIAL_PARK)
    park = np.exp(-((xk - kx) ** 2 + (yk - ky) ** 2) / (2 * ks ** 2))

    # Roads: a ring and three radial highways, rasterised as road length per cell.
    ring = _city_outline(_scaled(spec, 8.0))
    ring = np.vstack([ring, ring[:1]])
    ends = _scaled(spec, spec.half_width_km * 12.0 / spec.city_radius_km)
    highways = [np.array([[-ends, -0.3 * ends], [ends, 0.3 * ends]]),
                np.array([[-0.2 * ends, ends], [0.25 * ends, -ends]]),
                np.array([[0.0, 0.0], [ends, -ends]])]
    length = np.zeros(grid.shape)
    x_edges = grid.x_bounds[:, 0].tolist() + [grid.x_bounds[-1, 1]]
    y_edges = grid.y_bounds[:, 0].tolist() + [grid.y_bounds[-1, 1]]
    for line in [ring, *highways]:
        for (x0, y0), (x1, y1) in zip(line[:-1], line[1:]):
            n = max(int(np.hypot(x1 - x0, y1 - y0) / 0.05), 1)
            t = (np.arange(n) + 0.5) / n
            px, py = (x0 + t * (x1 - x0)) * 1000, (y0 + t * (y1 - y0)) * 1000
            hist, _, _ = np.histogram2d(py, px, bins=[y_edges, x_edges])
            length += hist * np.hypot(x1 - x0, y1 - y0) / n
    roads = length * (0.3 + population / population.max())  # busier roads in town

    urban = np.clip(1.5 * population / population.max(), 0.0, 0.95)
    plants = np.zeros(grid.shape)
    stack = np.full(grid.shape, 10.0)
    for _, px, py, truth_rate, prior_rate, height in POWER_PLANTS:
        rate = truth_rate if params["plant"] == "truth" else prior_rate
        col = int(np.argmin(np.abs(grid.x / 1000 - _scaled(spec, px))))
        row = int(np.argmin(np.abs(grid.y / 1000 - _scaled(spec, py))))
        plants[row, col] += rate_t_per_yr_to_umol_per_s(rate) / area[row, col]
        stack[row, col] = height
    return {"population": spread(population, params["population"]),
            "roads": spread(roads, params["roads"]),
            "industry": (spread(industry, params["industry"]) +
                         spread(park, params["park"])),
            "plants": plants, "urban": urban, "stack_height": stack}


def hourly_flux(spec: DemoCitySpec, grid: Grid, met: xr.Dataset, params: dict) -> np.ndarray:
    """Hourly total CO2 flux (n_hours, ny, nx), µmol m⁻² s⁻¹."""
    patterns = _spatial_patterns(spec, grid, params)
    time = met["time"].values
    local = pd.DatetimeIndex(time) + pd.Timedelta(hours=spec.utc_offset_hours)
    hour, weekday = local.hour.to_numpy(), local.day_of_week.to_numpy()
    weekly = np.asarray(WEEKDAY_FACTORS) / np.mean(WEEKDAY_FACTORS)
    profile = {k: np.asarray(v) / np.mean(v) for k, v in HOURLY_PROFILES.items()}

    anthropogenic = (patterns["roads"][None] * (profile["traffic"][hour] * weekly[weekday])[:, None, None]
                     + patterns["population"][None] * (profile["population"][hour] * weekly[weekday])[:, None, None]
                     + (patterns["industry"] + patterns["plants"])[None])

    # VPRM-like biosphere: GPP ∝ light (sun and cloud), respiration ∝ exp(0.069 (T - 298 K)).
    elevation = solar_elevation_deg(time + np.timedelta64(30, "m"), spec.lat0, spec.lon0)
    light = np.clip(np.sin(np.radians(elevation)), 0, None) * (1 - 0.5 * met["tcc"].values)
    light_response = light / (1 + light / 0.6) * (1 + 1 / 0.6)  # 1 in full sun
    vegetation = 1.0 - patterns["urban"]
    respiration = params["resp_ref"] * np.exp(0.069 * (met["t2m"].values - 298.0))
    nee = vegetation[None] * (respiration - params["gpp_max"] * light_response)[:, None, None]
    return anthropogenic + nee


def _flux_dataset(grid: Grid, time, flux: np.ndarray, title: str) -> xr.Dataset:
    ds = xr.Dataset(
        {"flux": (("time", *grid.dims), flux.astype(np.float32),
                  {"long_name": "total CO2 surface flux (anthropogenic + biosphere)",
                   "units": FLUX_UNITS, **grid.grid_mapping_attrs()}),
         **grid.data_vars()},
        coords={**grid.coords(), "time": ("time", time, {"standard_name": "time",
                                                         "long_name": "start of hour"})},
        attrs={"Conventions": "CF-1.8", "title": title,
               "source": "cityflux.synthetic.demo_city (synthetic)"})
    ds["flux"].encoding.update({"zlib": True, "complevel": 6, "least_significant_digit": 3})
    return ds


def generate(out_dir: Path, spec: DemoCitySpec = DemoCitySpec(), progress: bool = False,
             noise: bool = True) -> dict:
    """Write the demo city's input files (and its truth) into ``out_dir``.

    ``noise=False`` leaves out the measurement and model errors and the data gaps (the
    transport of the truth is still perturbed): for studying transport error alone.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(spec.seed)
    grid = spec.grid()
    lon0, lat0 = grid.centre_lonlat
    met = synthetic_meteorology(np.datetime64(spec.start), spec.n_hours, lon0, lat0, rng)
    time = met["time"].values

    truth = hourly_flux(spec, grid, met, TRUTH)
    prior = hourly_flux(spec, grid, met, PRIOR)
    stack_height = _spatial_patterns(spec, grid, TRUTH)["stack_height"]

    # Sites.
    to_geo = __import__("pyproj").Transformer.from_crs(grid.pyproj_crs, "EPSG:4326",
                                                       always_xy=True)
    site_rows = []
    for site, name, x, y, inlet, role in SITES:
        lon, lat = to_geo.transform(_scaled(spec, x) * 1000, _scaled(spec, y) * 1000)
        site_rows.append({"site": site, "name": name, "lat": round(lat, 5), "lon": round(lon, 5),
                          "inlet_height_m": inlet, "role": role})
    sites = pd.DataFrame(site_rows)

    # "True" transport: perturbed winds and boundary layers, stack heights, hourly truth.
    n_sites, n_hours = len(sites), spec.n_hours
    # Shared by all sites: wind speed and boundary-layer errors of the domain met.
    speed_factor = np.tile(np.exp(rng.normal(0.0, 0.10, n_hours)), n_sites)
    blh_factor = np.tile(np.exp(rng.normal(0.0, 0.15, n_hours)), n_sites)
    # Local to each site and hour: the wind direction there differs from the domain's.
    rotation = np.radians(rng.normal(0.0, WIND_DIRECTION_ERROR_DEG, n_sites * n_hours))
    u, v = (np.tile(met[name].values.astype(float), n_sites) for name in ("u10", "v10"))
    met_rows = {
        "eastward_wind": speed_factor * (u * np.cos(rotation) + v * np.sin(rotation)),
        "northward_wind": speed_factor * (-u * np.sin(rotation) + v * np.cos(rotation)),
        "boundary_layer_height": np.tile(met["blh"].values, n_sites) * blh_factor,
        "air_temperature": np.tile(met["t2m"].values.astype(float), n_sites),
        "surface_pressure": np.tile(met["sp"].values.astype(float), n_sites),
        "obukhov_length": np.tile(met["obukhov_length"].values.astype(float), n_sites),
    }
    settings = TransportConfig()
    obs_hour = np.tile(np.arange(n_hours), n_sites)
    site_index = np.repeat(np.arange(n_sites), n_hours)
    stability = stability_classes(met_rows, time[obs_hour], settings, (lon0, lat0))
    rx, ry = grid.to_metric(sites.lon.to_numpy(), sites.lat.to_numpy())
    footprints = plume_footprints(grid, rx[site_index], ry[site_index],
                                  sites.inlet_height_m.to_numpy()[site_index], obs_hour,
                                  met_rows, stability, settings,
                                  source_height=stack_height, progress=progress)
    enhancement = observation_operator(footprints, n_hours, 1).forward(truth.ravel())

    background = 420.0 + 1.5 * _smooth_noise(rng, n_hours, 48.0)
    model_error = np.concatenate([_smooth_noise(rng, n_hours, 3.0) for _ in range(n_sites)])
    errors = 1.0 * model_error + rng.normal(0.0, 0.2, n_sites * n_hours)
    observed = np.tile(background, n_sites) + enhancement + (errors if noise else 0.0)
    if noise:
        observed[rng.random(observed.size) < 0.03] = np.nan      # random gaps
        outage = (site_index == 2) & (obs_hour >= 50) & (obs_hour < 62)
        observed[outage] = np.nan                                 # a 12-hour outage
    records = pd.DataFrame({
        "time": pd.DatetimeIndex(time[obs_hour]).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "site": sites.site.to_numpy()[site_index], "co2_ppm": np.round(observed, 3)})

    paths = {
        "regions": out_dir / "city.geojson",
        "sites": out_dir / "sites.csv",
        "observations": out_dir / "observations.csv",
        "meteorology": out_dir / "meteorology.nc",
        "prior_flux": out_dir / "prior_flux.nc",
        "truth_flux": out_dir / "truth_flux.nc",
    }
    write_json(_regions_geojson(spec, grid), paths["regions"])
    sites.to_csv(paths["sites"], index=False)
    with open(paths["observations"], "w", encoding="utf-8") as handle:
        handle.write("# synthetic hourly means (UTC hour starts), cityflux demo city\n")
        records.to_csv(handle, index=False, na_rep="")
    for name in ("u10", "v10", "blh", "t2m", "sp", "obukhov_length", "tcc", "shf"):
        met[name].encoding.update({"zlib": True})
    write_netcdf(met, paths["meteorology"], compress=False)
    write_netcdf(_flux_dataset(grid, time, prior, "demo city prior CO2 flux"),
                 paths["prior_flux"], compress=False)
    write_netcdf(_flux_dataset(grid, time, truth, "demo city TRUE CO2 flux (synthetic)"),
                 paths["truth_flux"], compress=False)
    (out_dir / "background_truth.csv").write_text(
        "time,background_ppm\n" + "".join(
            f"{pd.Timestamp(t):%Y-%m-%dT%H:%M:%SZ},{b:.3f}\n" for t, b in zip(time, background)))
    paths["background_truth"] = out_dir / "background_truth.csv"
    return paths


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Generate the cityflux demo city inputs.")
    parser.add_argument("out_dir", type=Path, help="folder to write into")
    args = parser.parse_args(argv)
    paths = generate(args.out_dir, progress=True)
    print(json.dumps({k: str(v) for k, v in paths.items()}, indent=2))


if __name__ == "__main__":
    main()
