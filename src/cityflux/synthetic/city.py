"""Synthetic cities built from sources, with observations from a different transport.

A :class:`CitySpec` describes a city the way an inventory compiler and a monitoring team
would meet it: stack point sources (with exit data for plume rise), roads, district
totals spread by a population proxy, industrial areas, small point sources, a gridded
biosphere, towers and a background site. :func:`generate` writes two sets of source files
from it, ``prior/`` (the inventory, wrong the way inventories are) and ``truth/`` (what is
really emitted), plus the one-column meteorology a met mast measures, the regions and the
hourly observations; with ``field_file_km`` also a coarsened copy of the 3-D meteorology
(``meteorology_field.nc``) and the background as boundary curtains
(``boundary_conditions.nc``).

The observations are simulated from the truth through an hourly wind field that varies in
space and time (a mesoscale-perturbed field, or a sea breeze,
:mod:`cityflux.synthetic.winds`; no vertical shear) with a transport that differs in
*structure* from the inversion's steady Gaussian plume under one met column
(``truth_transport``):

- ``puffs``: backward Gaussian puffs (:mod:`cityflux.synthetic.puffs`) along curved
  trajectories, with Taylor spreading from turbulence statistics instead of
  Pasquill–Gifford / Briggs curves; elevated stacks released at their final Briggs rise
  under the field's meteorology at the stack (the inversion uses gradual rise under the
  mast's meteorology);
- ``particles``: the backward Lagrangian particle model
  (:class:`~cityflux.transport.particle_transport.ParticleTransport`, ``truth_particles``
  per receptor, seeded by ``spec.seed``) on the field as 3-D meteorology, stacks by the
  particles' residence about their hourly effective heights;

and in both:

- the hourly truth (diurnal and weekly profiles, an hourly biosphere), a background that
  drifts smoothly and sees the domain's own signal, model-data noise correlated over a
  few hours at every site, white measurement noise and gaps.

Everything random comes from ``spec.seed``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyproj
import shapely
import xarray as xr

from ..config import AreaSourcesInput, GriddedInput, InventoryConfig, LineSourcesInput, \
    PointSourcesInput
from ..grid import WGS84, Grid
from ..inventory.builder import build_inventory
from ..io import write_json, write_netcdf
from ..transport import stack_kernels
from ..transport.footprints import observation_operator
from ..transport.stability import solar_elevation_deg, stability_from_obukhov
from .meteorology import _smooth_noise, synthetic_meteorology
from .puffs import PuffSettings, point_source_enhancement, point_source_sensitivities, \
    surface_footprints
from .met_fields import met_field_from_wind_field, write_met_field
from .winds import column_at, perturbed_field, sea_breeze_field, wind_axes


#: Wind levels of the synthetic world's 3-D fields: it has no shear, so two suffice.
NO_SHEAR_LEVELS = (10.0, 5000.0)


@dataclass(frozen=True)
class Plant:
    """A stack point source (positions in km from the domain centre)."""

    name: str
    x_km: float
    y_km: float
    truth_t_yr: float
    prior_t_yr: float | None          # None: missing from the prior inventory
    stack_m: float
    exit_velocity_m_s: float
    exit_temperature_k: float
    diameter_m: float
    uncertainty_percent: float = 10.0
    sector: str = "energy"


@dataclass(frozen=True)
class Patch:
    """A Gaussian blob (km) with a weight."""

    x_km: float
    y_km: float
    width_km: float
    weight: float = 1.0


@dataclass(frozen=True)
class Area:
    """A square area source (km): an industrial zone."""

    name: str
    x_km: float
    y_km: float
    side_km: float
    truth_t_yr: float
    prior_t_yr: float | None          # None: missing from the prior
    sector: str = "industry"


@dataclass(frozen=True)
class Site:
    site: str
    name: str
    x_km: float
    y_km: float
    inlet_m: float
    role: str


@dataclass(frozen=True)
class CitySpec:
    """Everything a synthetic city is made of (lengths in km from the domain centre)."""

    name: str
    half_width_km: float = 30.0
    cell_km: float = 1.0
    days: int = 7
    start: str = "2025-06-30T16:00"          # period start, UTC (local midnight at UTC+8)
    spinup_hours: int = 24
    utc_offset_hours: float = 8.0
    lon0: float = 117.0
    lat0: float = 31.5
    seed: int = 20250701
    city_radius_km: float = 12.0
    city_centre_km: tuple = (0.0, 0.0)
    plants: tuple = ()
    small_sources: int = 30                   # small boilers (low stacks, gridded)
    population: tuple = ()                    # Patch
    residential_t_yr: tuple = (6.0e6, 5.4e6)  # truth, prior (district totals)
    proxy_shift_km: tuple = (2.0, 1.0)        # the prior's population proxy is misplaced
    roads_t_yr: tuple = (4.0e6, 2.8e6)        # truth, prior
    areas: tuple = ()                         # Area
    forests: tuple = ()                       # Patch: extra uptake
    gpp_max: tuple = (18.0, 17.0)             # truth, prior, umol m-2 s-1 at full cover
    respiration: tuple = (4.0, 4.2)           # truth, prior, at 298 K
    coast: tuple | None = None                # (x_km, y_km, sea_direction_deg)
    islands: tuple = ()                       # (x_km, y_km, radius_km)
    sites: tuple = ()
    mast_km: tuple = (0.0, 0.0)               # where the inversion's met column is measured
    prevailing_from_deg: float = 250.0
    mean_speed_m_s: float = 4.0
    wind_perturbation_m_s: float = 1.0
    sea_breeze_m_s: float = 5.0
    districts_as_separate_file: bool = False
    mismatch_ppm: float = 1.0
    mismatch_hours: float = 3.0
    measurement_ppm: float = 0.2
    truth_transport: str = "puffs"            # or "particles": how observations are simulated
    truth_particles: int = 1000               # particles per receptor with "particles"
    field_file_km: float | None = None        # also write the 3-D field at this spacing

    @property
    def crs(self) -> str:
        return (f"+proj=tmerc +lat_0={self.lat0} +lon_0={self.lon0} +k=1 +x_0=0 +y_0=0 "
                "+datum=WGS84 +units=m +no_defs")

    @property
    def n_hours(self) -> int:
        return 24 * self.days

    def grid(self) -> Grid:
        edge, step = self.half_width_km * 1000.0, self.cell_km * 1000.0
        return Grid(self.crs, -edge, edge, step, -edge, edge, step)


# ----------------------------------------------------------------------------- geometry


class _Geometry:
    """Shapes of the city in km and their lon/lat versions."""

    def __init__(self, spec: CitySpec):
        self.spec = spec
        self.to_geo = pyproj.Transformer.from_crs(spec.crs, WGS84, always_xy=True)
        self.to_grid = pyproj.Transformer.from_crs(WGS84, spec.crs, always_xy=True)
        angle = np.linspace(0, 2 * np.pi, 73)[:-1]
        r = spec.city_radius_km * (1 + 0.12 * np.sin(3 * angle + 0.5) + 0.07 * np.cos(5 * angle))
        cx, cy = spec.city_centre_km
        city = shapely.Polygon(np.column_stack([cx + r * np.cos(angle), cy + r * np.sin(angle)]))
        edge = spec.half_width_km
        self.domain = shapely.box(-edge, -edge, edge, edge)
        self.land = self._land()
        self.city = city.intersection(self.land)
        big = 10 * edge
        quadrants = {"North-East": (cx, cy, big, big), "North-West": (-big, cy, cx, big),
                     "South-West": (-big, -big, cx, cy), "South-East": (cx, -big, big, cy)}
        self.districts = {name: self.city.intersection(shapely.box(*box))
                          for name, box in quadrants.items()}

    def _land(self):
        spec = self.spec
        if spec.coast is None:
            return self.domain
        x0, y0, sea_deg = spec.coast
        ex, ey = np.sin(np.radians(sea_deg)), np.cos(np.radians(sea_deg))  # towards the sea
        big = 10 * spec.half_width_km
        # Half-plane on the land side of a gently wavy coastline.
        t = np.linspace(-big, big, 201)
        wiggle = 1.2 * np.sin(t / 4.0)
        coast = np.column_stack([x0 + t * ey + wiggle * ex, y0 - t * ex + wiggle * ey])
        inland = coast - big * np.array([ex, ey])
        land = shapely.Polygon(np.vstack([coast, inland[::-1]]))
        for x, y, radius in spec.islands:
            land = land.union(shapely.Point(x, y).buffer(radius, 32))
        return land.intersection(self.domain)

    def lonlat(self, geometry):
        """A km geometry in lon/lat."""
        return shapely.transform(geometry, lambda xy: np.column_stack(
            self.to_geo.transform(xy[:, 0] * 1000.0, xy[:, 1] * 1000.0)))

    def point_lonlat(self, x_km, y_km):
        lon, lat = self.to_geo.transform(np.asarray(x_km) * 1000.0, np.asarray(y_km) * 1000.0)
        return np.round(lon, 6), np.round(lat, 6)


def _feature(geometry, properties) -> dict:
    return {"type": "Feature", "properties": properties,
            "geometry": json.loads(shapely.to_geojson(shapely.set_precision(geometry, 1e-6)))}


def _collection(features) -> dict:
    return {"type": "FeatureCollection", "features": features}


# ----------------------------------------------------------------------------- sources


def _population(spec: CitySpec, x_km, y_km, shift=(0.0, 0.0)):
    return sum(p.weight * np.exp(-((x_km - p.x_km - shift[0]) ** 2 + (y_km - p.y_km - shift[1]) ** 2)
                                 / (2 * p.width_km ** 2)) for p in spec.population)


def _proxy_dataset(spec: CitySpec, geo: _Geometry, shift) -> xr.Dataset:
    """A population proxy on a 0.005° lon/lat raster covering the domain."""
    corners = geo.lonlat(geo.domain).bounds
    lon = np.arange(np.floor(corners[0] / 0.005) * 0.005, corners[2] + 0.005, 0.005) + 0.0025
    lat = np.arange(np.floor(corners[1] / 0.005) * 0.005, corners[3] + 0.005, 0.005) + 0.0025
    lon2, lat2 = np.meshgrid(lon, lat)
    x, y = geo.to_grid.transform(lon2, lat2)
    values = _population(spec, x / 1000.0, y / 1000.0, shift)
    inside_land = shapely.contains_xy(geo.land, x / 1000.0, y / 1000.0)
    values = np.where(inside_land, values, 0.0) * 1000.0
    return xr.Dataset({"proxy": (("lat", "lon"), values.astype(np.float32),
                                 {"long_name": "population (synthetic proxy)", "units": "1"})},
                      coords={"lat": ("lat", lat, {"standard_name": "latitude",
                                                   "units": "degrees_north"}),
                              "lon": ("lon", lon, {"standard_name": "longitude",
                                                   "units": "degrees_east"})},
                      attrs={"Conventions": "CF-1.8", "title": "synthetic population proxy"})


def _roads(spec: CitySpec, geo: _Geometry, total_t_yr: float) -> dict:
    """A ring road and three radial highways, busier in town, as GeoJSON lines."""
    cx, cy = spec.city_centre_km
    radius = spec.city_radius_km
    angle = np.linspace(0, 2 * np.pi, 49)
    ring_r = 0.66 * radius * (1 + 0.12 * np.sin(3 * angle + 0.5))
    ring = shapely.LineString(np.column_stack([cx + ring_r * np.cos(angle),
                                               cy + ring_r * np.sin(angle)]))
    end = spec.half_width_km
    highways = [shapely.LineString([(-end, -0.3 * end), (end, 0.3 * end)]),
                shapely.LineString([(-0.2 * end, end), (0.25 * end, -end)]),
                shapely.LineString([(cx, cy), (end, -end)])]
    town = shapely.Point(cx, cy).buffer(radius)
    pieces = [("ring", ring, 3.0)]
    for i, road in enumerate(highways):
        pieces.append((f"highway {i + 1} (urban)", road.intersection(town), 2.0))
        pieces.append((f"highway {i + 1} (rural)", road.difference(town), 1.0))
    pieces = [(name, g.intersection(geo.land), w) for name, g, w in pieces]
    pieces = [(name, g, w) for name, g, w in pieces if not g.is_empty and g.length > 0]
    weighted_km = sum(g.length * w for _, g, w in pieces)
    features = []
    for name, geometry, weight in pieces:
        per_km = total_t_yr * weight / weighted_km
        features.append(_feature(geo.lonlat(geometry), {
            "name": name, "sector": "road_transport", "emission_per_km": round(per_km, 3),
            "units": "t km-1 yr-1"}))
    return _collection(features)


def _areas(spec: CitySpec, geo: _Geometry, truth: bool) -> dict:
    """District residential totals (spread by the proxy) and industrial areas."""
    residential = spec.residential_t_yr[0 if truth else 1]
    # District totals follow the true population (the statistics are right in shape, the
    # prior's level is off); the rest of the domain gets its share too.
    xs = np.arange(-spec.half_width_km, spec.half_width_km, 0.25) + 0.125
    xx, yy = np.meshgrid(xs, xs)
    weight = _population(spec, xx, yy) * shapely.contains_xy(geo.land, xx, yy)
    parts = dict(geo.districts)
    parts["rest of domain"] = geo.land.difference(geo.city)
    shares = {name: float(weight[shapely.contains_xy(g, xx, yy)].sum()) for name, g in parts.items()}
    total_weight = sum(shares.values())
    features = []
    for name, geometry in parts.items():
        if geometry.is_empty or shares[name] == 0:
            continue
        features.append(_feature(geo.lonlat(geometry), {
            "name": f"residential {name}", "sector": "residential",
            "emission": round(residential * shares[name] / total_weight / 1000.0, 3),
            "units": "kt yr-1"}))
    for area in spec.areas:
        rate = area.truth_t_yr if truth else area.prior_t_yr
        if rate is None:
            continue
        half = area.side_km / 2
        box = shapely.box(area.x_km - half, area.y_km - half, area.x_km + half, area.y_km + half)
        features.append(_feature(geo.lonlat(box), {"name": area.name, "sector": area.sector,
                                                   "emission": rate, "units": "t yr-1"}))
    return _collection(features)


def _points_table(spec: CitySpec, geo: _Geometry, truth: bool, rng) -> pd.DataFrame:
    rows = []
    for plant in spec.plants:
        rate = plant.truth_t_yr if truth else plant.prior_t_yr
        if rate is None:
            continue
        lon, lat = geo.point_lonlat(plant.x_km, plant.y_km)
        rows.append({"name": plant.name, "lon": lon, "lat": lat, "stack_height_m": plant.stack_m,
                     "sector": plant.sector, "emission": round(rate / 1e6, 4),
                     "emission_units": "Mt yr-1",
                     "uncertainty_percent": plant.uncertainty_percent,
                     "exit_velocity_m_s": plant.exit_velocity_m_s,
                     "exit_temperature_k": plant.exit_temperature_k,
                     "stack_diameter_m": plant.diameter_m})
    boiler_rng = np.random.default_rng(spec.seed + 1)   # same boilers in truth and prior
    cx, cy = spec.city_centre_km
    for i in range(spec.small_sources):
        while True:
            x, y = boiler_rng.normal(cx, spec.city_radius_km / 2, 2)
            if geo.city.contains(shapely.Point(x, y)):
                break
        rate = boiler_rng.uniform(2.0, 10.0)
        if not truth:
            rate *= rng.uniform(0.8, 1.2)
        lon, lat = geo.point_lonlat(x, y)
        rows.append({"name": f"boiler {i + 1:02d}", "lon": lon, "lat": lat, "stack_height_m": 15.0,
                     "sector": "commercial", "emission": round(rate, 3), "emission_units": "kt yr-1",
                     "uncertainty_percent": 30.0})
    return pd.DataFrame(rows)


def _biosphere(spec: CitySpec, geo: _Geometry, met: xr.Dataset, truth: bool) -> xr.Dataset:
    """An hourly VPRM-like net ecosystem exchange on a 0.03° lon/lat grid (mol m-2 s-1)."""
    corners = geo.lonlat(geo.domain).bounds
    step = 0.03
    lon = np.arange(np.floor(corners[0] / step) * step, corners[2] + step, step) + step / 2
    lat = np.arange(np.floor(corners[1] / step) * step, corners[3] + step, step) + step / 2
    lon2, lat2 = np.meshgrid(lon, lat)
    x, y = (a / 1000.0 for a in geo.to_grid.transform(lon2, lat2))
    population = _population(spec, x, y)
    urban = np.clip(1.5 * population / max(population.max(), 1e-9), 0.0, 0.95)
    vegetation = (1.0 - urban) * shapely.contains_xy(geo.land, x, y)
    for forest in spec.forests:
        vegetation = vegetation + forest.weight * np.exp(
            -((x - forest.x_km) ** 2 + (y - forest.y_km) ** 2) / (2 * forest.width_km ** 2))
    time = met["time"].values
    elevation = solar_elevation_deg(time + np.timedelta64(30, "m"), spec.lat0, spec.lon0)
    light = np.clip(np.sin(np.radians(elevation)), 0, None) * (1 - 0.5 * met["tcc"].values)
    response = light / (1 + light / 0.6) * (1 + 1 / 0.6)
    k = 0 if truth else 1
    respiration = spec.respiration[k] * np.exp(0.069 * (met["t2m"].values - 298.0))
    nee = vegetation[None] * (respiration - spec.gpp_max[k] * response)[:, None, None] * 1e-6
    return xr.Dataset(
        {"nee": (("time", "lat", "lon"), nee.astype(np.float32),
                 {"long_name": "net ecosystem exchange (synthetic, VPRM-like)",
                  "units": "mol m-2 s-1"})},
        coords={"time": ("time", time, {"standard_name": "time"}),
                "lat": ("lat", lat, {"standard_name": "latitude", "units": "degrees_north"}),
                "lon": ("lon", lon, {"standard_name": "longitude", "units": "degrees_east"})},
        attrs={"Conventions": "CF-1.8", "title": f"synthetic biosphere ({'truth' if truth else 'prior'})"})


PROFILES_CSV = """# Sector temporal profiles of the synthetic city (local time; normalised by cityflux)
sector,cycle,index,factor
""" + "".join(f"road_transport,hour,{h},{v}\n" for h, v in enumerate(
    [0.3, 0.2, 0.2, 0.2, 0.3, 0.6, 1.2, 1.8, 1.9, 1.4, 1.1, 1.1, 1.1, 1.1, 1.2, 1.4, 1.7, 1.9,
     1.7, 1.2, 0.9, 0.7, 0.5, 0.4])) + "".join(f"residential,hour,{h},{v}\n" for h, v in enumerate(
    [0.6, 0.55, 0.5, 0.5, 0.55, 0.7, 1.0, 1.3, 1.3, 1.25, 1.2, 1.2, 1.2, 1.2, 1.2, 1.2, 1.25,
     1.3, 1.35, 1.3, 1.1, 0.9, 0.75, 0.65])) + "".join(f"{s},weekday,{d},{v}\n" for s in (
    "road_transport", "residential") for d, v in enumerate([1.04, 1.04, 1.04, 1.04, 1.04, 0.92,
                                                            0.88]))


def _write_sources(spec, geo, folder: Path, met, truth: bool, rng) -> InventoryConfig:
    folder.mkdir(parents=True, exist_ok=True)
    _points_table(spec, geo, truth, rng).to_csv(folder / "point_sources.csv", index=False)
    write_json(_roads(spec, geo, spec.roads_t_yr[0 if truth else 1]), folder / "roads.geojson")
    write_json(_areas(spec, geo, truth), folder / "areas.geojson")
    shift = (0.0, 0.0) if truth else spec.proxy_shift_km
    write_netcdf(_proxy_dataset(spec, geo, shift), folder / "population.nc")
    write_netcdf(_biosphere(spec, geo, met, truth), folder / "biosphere.nc")
    profiles = folder.parent / "profiles.csv"
    return InventoryConfig(
        point_sources=PointSourcesInput(file=folder / "point_sources.csv",
                                        stack_min_height_m=30.0),
        line_sources=(LineSourcesInput(file=folder / "roads.geojson"),),
        area_sources=(AreaSourcesInput(file=folder / "areas.geojson",
                                       proxy=folder / "population.nc", proxy_variable="proxy"),),
        gridded=(GriddedInput(file=folder / "biosphere.nc", variable="nee", sector="biosphere"),),
        profiles=profiles)


# ----------------------------------------------------------------------------- transport


def _effective_heights(points, field, grid, n_hours) -> np.ndarray:
    """Stack height plus Briggs final rise of every stack in every hour (the truth's rise:
    final, under the field's meteorology at the stack)."""
    x, y = grid.to_metric(points.lon, points.lat)
    heights = np.empty((len(points), n_hours))
    for i in range(len(points)):
        column = column_at(field, float(x[i]), float(y[i]))
        speed = np.hypot(column["u10"].values, column["v10"].values).astype(float)
        classes = stability_from_obukhov(column["obukhov_length"].values.astype(float), 1.0)
        temperature = column["t2m"].values.astype(float)
        for hour in range(n_hours):
            wind = stack_kernels.stack_wind_speed(speed[hour], points.stack_height_m[i], 10.0,
                                                  int(classes[hour]), 1, 1.0)
            base, rise, _, _ = stack_kernels.stack_rise(
                points.stack_height_m[i], wind, int(classes[hour]), temperature[hour],
                points.buoyancy_flux_m4_s3[i], points.exit_velocity_m_s[i],
                points.exit_temperature_k[i], points.diameter_m[i])
            heights[i, hour] = base + rise
    return heights


def _regions_files(spec, geo, out_dir: Path) -> dict:
    if not spec.districts_as_separate_file:
        features = [_feature(geo.lonlat(geo.city), {"type": "city", "name": spec.name})]
        features += [_feature(geo.lonlat(g), {"type": "district", "name": name})
                     for name, g in geo.districts.items() if not g.is_empty]
        write_json(_collection(features), out_dir / "city.geojson")
        return {"regions": out_dir / "city.geojson"}
    write_json(_collection([_feature(geo.lonlat(geo.city), {"NAME_EN": spec.name})]),
               out_dir / "city_boundary.geojson")
    write_json(_collection([_feature(geo.lonlat(g), {"name": name, "population_rank": i})
                            for i, (name, g) in enumerate(geo.districts.items())
                            if not g.is_empty]), out_dir / "districts.geojson")
    return {"city_boundary": out_dir / "city_boundary.geojson",
            "districts": out_dir / "districts.geojson"}


def generate(spec: CitySpec, out_dir: Path, noise: bool = True) -> dict:
    """Write the city's inputs, its sources (prior and truth) and its observations.

    Returns the paths written, by name.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(spec.seed)
    grid = spec.grid()
    geo = _Geometry(spec)
    start = np.datetime64(spec.start, "ns") - np.timedelta64(spec.spinup_hours, "h")
    n_total = spec.spinup_hours + spec.n_hours
    lon0, lat0 = grid.centre_lonlat
    column = synthetic_meteorology(start, n_total, lon0, lat0, rng, spec.prevailing_from_deg,
                                   spec.mean_speed_m_s)
    x_axis, y_axis = wind_axes(grid)
    if spec.coast is None:
        field_ = perturbed_field(column, x_axis, y_axis, rng,
                                 amplitude_m_s=spec.wind_perturbation_m_s)
    else:
        x0, y0, sea = spec.coast
        field_ = sea_breeze_field(column, x_axis, y_axis, (x0 * 1000.0, y0 * 1000.0, sea), rng,
                                  latitude_deg=spec.lat0, sea_breeze_m_s=spec.sea_breeze_m_s)
    mast = column_at(field_, spec.mast_km[0] * 1000.0, spec.mast_km[1] * 1000.0)
    mast["tcc"] = column["tcc"]

    paths = _regions_files(spec, geo, out_dir)
    if spec.coast is not None:
        write_json(_collection([_feature(geo.lonlat(geo.land), {"name": "land"})]),
                   out_dir / "land.geojson")
        paths["land"] = out_dir / "land.geojson"
    (out_dir / "profiles.csv").write_text(PROFILES_CSV, encoding="utf-8")
    truth_spec = _write_sources(spec, geo, out_dir / "truth", column, True, rng)
    _write_sources(spec, geo, out_dir / "prior", column, False, rng)

    # Sites.
    lon, lat = geo.point_lonlat([s.x_km for s in spec.sites], [s.y_km for s in spec.sites])
    sites = pd.DataFrame({"site": [s.site for s in spec.sites], "name": [s.name for s in spec.sites],
                          "lat": lat, "lon": lon, "inlet_height_m": [s.inlet_m for s in spec.sites],
                          "role": [s.role for s in spec.sites]})
    sites.to_csv(out_dir / "sites.csv", index=False)

    # The truth, simulated with puffs through the wind field.
    land = None
    if spec.coast is not None:
        from ..regions import read_land_fraction
        land = read_land_fraction(out_dir / "land.geojson", grid)
    truth = build_inventory(truth_spec, grid, spec.utc_offset_hours, land, "synthetic truth")
    times = start + np.arange(n_total) * np.timedelta64(1, "h")
    n_sites = len(sites)
    obs_hour = np.tile(np.arange(spec.spinup_hours, n_total), n_sites)
    site_index = np.repeat(np.arange(n_sites), spec.n_hours)
    rx, ry = grid.to_metric(sites.lon.to_numpy(), sites.lat.to_numpy())
    receptors = (rx[site_index], ry[site_index], sites.inlet_height_m.to_numpy()[site_index],
                 obs_hour)
    hourly = truth.gridded_hourly(truth.sectors, times)
    rates = truth.point_hourly(times).T if len(truth.points) else None
    if spec.truth_transport == "particles":
        enhancement = _particle_truth(spec, grid, field_, start, truth, receptors, hourly,
                                      rates)
    elif spec.truth_transport == "puffs":
        settings = PuffSettings(hours_back=spec.spinup_hours)
        footprints = surface_footprints(field_, grid, *receptors, settings)
        enhancement = observation_operator(footprints, n_total, 1).forward(hourly.ravel())
        if rates is not None:
            px, py = grid.to_metric(truth.points.lon, truth.points.lat)
            heights = _effective_heights(truth.points, field_, grid, n_total)
            sensitivity = point_source_sensitivities(field_, *receptors, px, py, heights,
                                                     settings)
            enhancement += point_source_enhancement(sensitivity, rates)
    else:
        raise ValueError(f"truth_transport must be 'puffs' or 'particles', not "
                         f"{spec.truth_transport!r}")

    period_times = times[spec.spinup_hours:]
    background = 420.0 + 1.5 * _smooth_noise(rng, spec.n_hours, 48.0)
    model_error = np.concatenate([_smooth_noise(rng, spec.n_hours, spec.mismatch_hours)
                                  for _ in range(n_sites)])
    errors = spec.mismatch_ppm * model_error + rng.normal(0.0, spec.measurement_ppm,
                                                          n_sites * spec.n_hours)
    observed = np.tile(background, n_sites) + enhancement + (errors if noise else 0.0)
    if noise:
        observed[rng.random(observed.size) < 0.03] = np.nan          # random gaps
        hour = obs_hour - spec.spinup_hours
        outage = (site_index == min(2, n_sites - 1)) & (hour >= 50) & (hour < 62)
        observed[outage] = np.nan                                     # a 12-hour outage
    records = pd.DataFrame({
        "time": pd.DatetimeIndex(period_times[obs_hour - spec.spinup_hours]).strftime(
            "%Y-%m-%dT%H:%M:%SZ"),
        "site": sites.site.to_numpy()[site_index], "co2_ppm": np.round(observed, 3)})
    with open(out_dir / "observations.csv", "w", encoding="utf-8") as handle:
        handle.write(f"# synthetic hourly means (UTC hour starts), cityflux {spec.name}\n")
        records.to_csv(handle, index=False, na_rep="")
    write_netcdf(_mast_dataset(mast), out_dir / "meteorology.nc", compress=False)
    if spec.field_file_km is not None:
        write_met_field(out_dir / "meteorology_field.nc",
                        _coarsened(met_field_from_wind_field(field_, NO_SHEAR_LEVELS), grid,
                                   spec.field_file_km * 1000.0), grid)
        paths["meteorology_field"] = out_dir / "meteorology_field.nc"
        write_netcdf(_boundary_curtains(grid, times, np.concatenate(
            [np.full(spec.spinup_hours, background[0]), background])),
            out_dir / "boundary_conditions.nc")
        paths["boundary_conditions"] = out_dir / "boundary_conditions.nc"
    (out_dir / "background_truth.csv").write_text(
        "time,background_ppm\n" + "".join(
            f"{pd.Timestamp(t):%Y-%m-%dT%H:%M:%SZ},{b:.3f}\n"
            for t, b in zip(period_times, background)), encoding="utf-8")
    paths.update({name: out_dir / file for name, file in (
        ("sites", "sites.csv"), ("observations", "observations.csv"),
        ("meteorology", "meteorology.nc"), ("profiles", "profiles.csv"),
        ("prior", "prior"), ("truth", "truth"), ("background_truth", "background_truth.csv"))})
    return paths


def _particle_truth(spec: CitySpec, grid: Grid, field_: xr.Dataset, start, truth, receptors,
                    hourly: np.ndarray, rates) -> np.ndarray:
    """Enhancements (ppm) from the backward particle model in the 3-D field (no shear), with
    ``spec.truth_particles`` particles per receptor: surface fluxes from the footprints,
    stacks from the particles' residence about their hourly effective heights."""
    from ..config import ParticlesConfig, TransportConfig, TransportModel
    from ..transport.base import Receptors
    from ..transport.particle_transport import ParticleTransport
    from ..transport.plume import stack_sources

    settings = TransportConfig(model=TransportModel.PARTICLES, hours_back=spec.spinup_hours,
                               particles=ParticlesConfig(n_particles=spec.truth_particles))
    model = ParticleTransport(settings, grid, met_field_from_wind_field(field_, NO_SHEAR_LEVELS),
                              start, spec.seed, "synthetic wind field")
    x, y, height, hour = receptors
    rec = Receptors(np.full(hour.size, "r"), np.asarray(x, float), np.asarray(y, float),
                    np.asarray(height, float), np.asarray(hour, np.int64))
    n_total = hourly.shape[0]
    footprints = model.surface_footprints(rec)
    enhancement = observation_operator(footprints, n_total, 1).forward(hourly.ravel())
    if rates is not None:
        sensitivity = model.point_sensitivities(stack_sources(truth.points, grid), rec)
        emission_hour = rec.hour[:, None] - np.arange(sensitivity.shape[2])[None, :]
        inside = (emission_hour >= 0) & (emission_hour < n_total)
        emitted = rates[:, np.clip(emission_hour, 0, n_total - 1)]       # (source, obs, k)
        enhancement += np.einsum("osk,sok->o", sensitivity,
                                 np.where(inside[None], emitted, 0.0))
    return enhancement


def _boundary_curtains(grid: Grid, hour_starts, background_ppm) -> xr.Dataset:
    """The background as OpenGHG/NAME edge curtains: the same on every edge and at every
    height (the synthetic world's inflow; before the period, its first value), hourly means
    stamped at mid-hour."""
    lon, lat = grid.lonlat
    lon_axis = np.linspace(float(lon.min()), float(lon.max()), 4)
    lat_axis = np.linspace(float(lat.min()), float(lat.max()), 4)
    mol = np.asarray(background_ppm, float) * 1e-6
    attrs = {"units": "mol mol-1", "long_name": "CO2 mole fraction at the domain edge"}

    def curtain(along):
        return (("time", "height", along), np.broadcast_to(mol[:, None, None],
                                                           (mol.size, 2, 4)).copy(), attrs)

    return xr.Dataset(
        {"vmr_n": curtain("lon"), "vmr_e": curtain("lat"), "vmr_s": curtain("lon"),
         "vmr_w": curtain("lat")},
        coords={"time": np.asarray(hour_starts, "datetime64[ns]") + np.timedelta64(30, "m"),
                "height": ("height", [0.0, 10000.0], {"units": "m", "positive": "up"}),
                "lat": ("lat", lat_axis, {"units": "degrees_north"}),
                "lon": ("lon", lon_axis, {"units": "degrees_east"})},
        attrs={"title": "synthetic boundary conditions (the background of the synthetic city)",
               "Conventions": "CF-1.8"})


def _coarsened(field, grid: Grid, spacing_m: float):
    """The MetField on every n-th node, n = spacing / the field's own, keeping the nodes
    nearest the domain centre and those within one new spacing of the domain: a coarser,
    reanalysis-like field that still covers it."""
    from ..metfield import MetField

    step = max(1, int(round(spacing_m / float(field.x[1] - field.x[0]))))
    cx, cy = (float(np.mean(a)) for a in grid.metric_xy)

    def kept(axis, centre, low, high):
        offset = int(np.argmin(np.abs(axis - centre))) % step
        index = np.arange(offset, axis.size, step)
        return index[(axis[index] >= low - spacing_m) & (axis[index] <= high + spacing_m)]

    x, y = grid.metric_xy
    ix = kept(field.x, cx, float(np.min(x)), float(np.max(x)))
    iy = kept(field.y, cy, float(np.min(y)), float(np.max(y)))

    def surface(a):
        return a[:, iy][:, :, ix]

    def levels(a):
        return a[..., iy, :][..., ix]

    return MetField(field.time, field.x[ix], field.y[iy], field.z, levels(field.u),
                    levels(field.v), levels(field.w), surface(field.blh), surface(field.ustar),
                    surface(field.obukhov_length), surface(field.air_temperature),
                    surface(field.surface_pressure), surface(field.roughness_length))


def _mast_dataset(mast: xr.Dataset) -> xr.Dataset:
    """The mast's column with the CF names the meteorology reader finds. The synthetic
    world has no vertical wind shear: the mast measures the wind that carries the puffs."""
    names = {"u10": ("eastward_wind", "m s-1"), "v10": ("northward_wind", "m s-1"),
             "blh": ("atmosphere_boundary_layer_thickness", "m"),
             "t2m": ("air_temperature", "K"), "sp": ("surface_air_pressure", "Pa"),
             "obukhov_length": (None, "m"), "tcc": ("cloud_area_fraction", "1"),
             "shf": ("surface_upward_sensible_heat_flux", "W m-2")}
    data = {}
    for name, (standard, units) in names.items():
        if name in mast:
            attrs = {"units": units, "long_name": mast[name].attrs.get("long_name", name)}
            if standard:
                attrs["standard_name"] = standard
            data[name] = ("time", mast[name].values.astype(np.float32), attrs)
    ds = xr.Dataset(data, coords={"time": ("time", mast["time"].values,
                                           {"standard_name": "time",
                                            "long_name": "start of hour (hourly means)"})},
                    attrs={"Conventions": "CF-1.8",
                           "title": "synthetic hourly meteorology at the city's met mast",
                           "source": "cityflux.synthetic.city"})
    for name in ds.data_vars:
        ds[name].encoding.update({"zlib": True})
    return ds


def command_line(spec: CitySpec, argv=None) -> None:
    """``python -m cityflux.synthetic.<city> OUT_DIR``: write a city's files into OUT_DIR."""
    import argparse

    parser = argparse.ArgumentParser(description=f"Generate the cityflux {spec.name} inputs.")
    parser.add_argument("out_dir", type=Path, help="folder to write into")
    args = parser.parse_args(argv)
    paths = generate(spec, args.out_dir)
    print(json.dumps({k: str(v) for k, v in paths.items()}, indent=2))


def with_changes(spec: CitySpec, **changes) -> CitySpec:
    """A copy of ``spec`` with some fields changed (e.g. a smaller twin for tests)."""
    return replace(spec, **changes)


__all__ = ["Area", "CitySpec", "Patch", "Plant", "Site", "command_line", "generate",
           "with_changes"]
