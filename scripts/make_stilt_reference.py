"""Reference footprints from STILT itself (HYSPLIT-STILT run offline by PyPI's ``pystilt``)
for ``tests/transport/test_against_stilt.py``.

Run it in a scratch environment that has pystilt, never in cityflux's own::

    python3 -m venv /tmp/stiltenv
    /tmp/stiltenv/bin/pip install pystilt   # 0.1.0a25; bundles hycs_std (HYSPLIT v5.1.0,
                                            # STILT build, linux x64) and pulls in arlmet
    /tmp/stiltenv/bin/python scripts/make_stilt_reference.py            # ~15 min, one core
    /tmp/stiltenv/bin/python scripts/make_stilt_reference.py --diagnostics   # + ~5 min

pystilt is not a dependency of cityflux, and this script imports nothing from cityflux.

For each case of ``CASES`` (a convective and a stable boundary layer) it

1. writes ARL meteorology with arlmet, uniform in space and steady in time, so that a cityflux
   :class:`~cityflux.metfield.MetField` can hold the same: a 0.1-degree latitude/longitude
   grid around the receptor, 14 pressure levels of a dry (1 % relative humidity)
   standard-lapse atmosphere over 1013.25 hPa, the same wind (u, v) at every level and at
   10 m, no vertical wind, and surface fields PBLH, USTR, SHTF (upward positive),
   LHTF = 0, PRSS, T02M, SHGT = 0;
2. runs STILT backward from a point receptor 50 m above ground (``stilt.run_trajectories``:
   HYSPLIT ``ichem=8`` STILT mode, ``idsp=2`` STILT dispersion, ``kblt=5`` Hanna
   turbulence, ``kbls=1`` stability from the fluxes, ``kmixd=0`` mixed layer = PBLH,
   ``kmix0=150``, one-minute steps and output, 1000 particles), once per seed
   (``krand=2``: reproducible);
3. grids each run as STILT-R's ``calc_footprint`` does without its smoothing: ``foot``
   (ppm per umol m-2 s-1, per particle and one-minute row) summed per cell and divided by
   the particle count, by whole hour back (the row at age -k min belongs to hour
   (k - 1) // 60). Both ``foot_no_hnf_dilution`` and ``foot`` (with STILT-R's
   hyper-near-field plume dilution ``hnf_plume``) are kept;
4. saves ``tests/transport/data/stilt_reference/<case>.npz`` (small, compressed).

Choices that make both models see the same case (found by running STILT; see the test
module's docstring for the numbers):

* PBLH lies on one of HYSPLIT's internal levels (z_k = 30 k^2 - 25 k + 5 m: 10, 75, 200,
  385, 630, 935, 1300, 1725, ...): HYSPLIT mixes particles up to the first level at or
  above PBLH but its footprint counts them below 0.5 PBLH, so a PBLH of 1500 m puts 12 %
  of the particles above PBLH (mixed to 1725 m) and lowers the footprint by 11 %.
* The horizontal Lagrangian time scale ``hscale`` (HYSPLIT default 10800 s, meant for
  mesoscale variability) is chosen so that STILT's horizontal spread follows Hanna's
  boundary-layer turbulence as cityflux's does: HYSPLIT's horizontal turbulent velocity in
  the convective case is 0.80 m/s whatever the height (its one-minute displacements), so
  hscale = sigma_u^2 T_Lu (Hanna) / 0.80^2 = 0.15 h sigma_u / 0.65 = 411 s; in the stable
  case HYSPLIT's spread barely depends on hscale (45 s to 250 s: 3 %) and Hanna's T_Lu at
  mid-layer is used.
* Winds: HYSPLIT takes the wind to zero linearly below its lowest level (u(z) = u10 z / 10 m,
  measured without turbulence); the cityflux MetField of the test has a level at 0 m with
  zero wind to do the same.

Positions are metres east and north of the receptor on HYSPLIT's sphere (see
:func:`to_metres`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "tests" / "transport" / "data" / "stilt_reference"

#: HYSPLIT's earth radius, m.
EARTH_RADIUS = 6371.2e3
RECEPTOR = {"time": "2024-07-01 18:00", "longitude": -99.3, "latitude": 40.6, "altitude": 50.0}
#: Met grid: latitude/longitude, 0.1 degree, 4 x 4 degrees around the receptor.
MET_LON0, MET_LAT0, MET_D, MET_N = -101.3, 38.6, 0.1, 41
PRESSURE_LEVELS = np.array([1000, 975, 950, 925, 900, 850, 800, 750, 700, 600, 500, 400, 300,
                            200.0])
SURFACE_PRESSURE_HPA = 1013.25
RELATIVE_HUMIDITY = 1.0  # percent: dry air, so that HYSPLIT's density is p / (R_d T)
LAPSE_RATE = 0.0065
R_DRY = 287.05
GRAVITY = 9.80665
M_AIR = 0.02897  # kg/mol, STILT's footprint constant
SEEDS = (1, 2, 3, 4, 5, 6)
NUMPAR = 1000
#: HYSPLIT's default internal levels, m above ground.
HYSPLIT_LEVELS = 30.0 * np.arange(1, 12) ** 2 - 25.0 * np.arange(1, 12) + 5.0

CASES = {
    # daytime: H = 250 W m-2 under a 1300 m mixed layer (HYSPLIT level 7): L = -23 m,
    # w* = 2.1 m/s; Hanna sigma_u = u* (12 - 0.5 h/L)^(1/3) = 1.37 m/s
    "convective": {"u": 2.0, "v": 1.0, "pblh": 1300.0, "ustar": 0.4, "shtf": 250.0,
                   "t2": 293.0, "n_hours": 10, "mixed_from": 2, "hscale": 411.0},
    # night: H = -30 W m-2, u* = 0.2 m/s under a 385 m layer (HYSPLIT level 4): L = +24 m,
    # h/L = 16; mixing through the layer takes ~6 h (cityflux) to ~10 h (STILT)
    "stable": {"u": 2.0, "v": 1.0, "pblh": 385.0, "ustar": 0.2, "shtf": -30.0, "t2": 288.0,
               "n_hours": 16, "mixed_from": 10, "hscale": 200.0},
}
#: STILT settings common to all runs (pystilt's defaults otherwise).
STILT_SETTINGS = {"numpar": NUMPAR, "kmixd": 0, "kmix0": 150, "krand": 2}
#: Footprint grid, m east/north of the receptor: west edge, cell, cells, south edge, ...
GRID = (-150e3, 2000.0, 90, -80e3, 2000.0, 55)


# --- meteorology ------------------------------------------------------------------------


def write_met(case: dict, directory: Path) -> None:
    """Three daily ARL files (24 hourly fields each) of the case's steady, uniform met."""
    import arlmet
    import xarray as xr
    from arlmet.grid import Grid, Projection
    from arlmet.xarray._coords import grid_to_coord

    n = MET_N
    proj = Projection(pole_lat=MET_LAT0 + (n - 1) * MET_D,
                      pole_lon=MET_LON0 + 360 + (n - 1) * MET_D, tangent_lat=MET_D,
                      tangent_lon=MET_D, grid_size=0.0, orientation=0.0, cone_angle=0.0,
                      sync_x=1.0, sync_y=1.0, sync_lat=MET_LAT0, sync_lon=MET_LON0 + 360)
    grid = Grid(projection=proj, nx=n, ny=n)
    t2, ps = case["t2"], SURFACE_PRESSURE_HPA
    z = t2 / LAPSE_RATE * (1 - (PRESSURE_LEVELS / ps) ** (R_DRY * LAPSE_RATE / GRAVITY))
    temperature = t2 - LAPSE_RATE * z
    nl = PRESSURE_LEVELS.size
    nt = 24

    def sfc(value):
        return ("time", "lat", "lon"), np.full((nt, n, n), value, np.float32)

    def up(values):
        a = np.broadcast_to(np.asarray(values, np.float32)[None, :, None, None], (nt, nl, n, n))
        return ("time", "level", "lat", "lon"), a.copy()

    directory.mkdir(parents=True, exist_ok=True)
    for day in ("2024-06-30", "2024-07-01", "2024-07-02"):
        times = pd.date_range(f"{day} 00:00", periods=nt, freq="1h")
        ds = xr.Dataset(coords=grid.calculate_coords())
        ds = ds.assign_coords(time=times, level=("level", np.arange(1, nl + 1)))
        ds = ds.assign_coords(arl_grid=grid_to_coord(grid))
        ds = ds.assign_coords(pressure=("level", PRESSURE_LEVELS,
                                        {"surface": ps, "offset": 0.0}))
        ds.attrs["source"] = "TEST"
        ds.attrs["vertical_flag"] = 2
        ds["PRSS"] = sfc(ps)
        ds["T02M"] = sfc(t2)
        ds["U10M"] = sfc(case["u"])
        ds["V10M"] = sfc(case["v"])
        ds["SHGT"] = sfc(0.0)
        ds["PBLH"] = sfc(case["pblh"])
        ds["USTR"] = sfc(case["ustar"])
        ds["SHTF"] = sfc(case["shtf"])
        ds["LHTF"] = sfc(0.0)
        ds["HGTS"] = up(z)
        ds["TEMP"] = up(temperature)
        ds["UWND"] = up(np.full(nl, case["u"]))
        ds["VWND"] = up(np.full(nl, case["v"]))
        ds["WWND"] = up(np.zeros(nl))
        ds["RELH"] = up(np.full(nl, RELATIVE_HUMIDITY))
        arlmet.write_dataset(ds, directory / f"{day.replace('-', '')}_00")


def to_metres(lon, lat):
    """Metres east and north of the receptor on HYSPLIT's sphere.

    y = R (lat - lat_r), x = R cos((lat + lat_r) / 2) (lon - lon_r): HYSPLIT advects on the
    sphere with the east and north winds (dlon/dt = u / (R cos lat), dlat/dt = v / R), so a
    uniform wind is a rhumb line, which this maps onto the straight line (u t, v t) of a flat
    metric frame to second order in the latitude change (checked without turbulence: within
    0.01 % after 5 h). An azimuthal projection would turn it by half the meridian
    convergence (0.3 degrees after 80 km).
    """
    lon = np.radians(np.asarray(lon, float) - RECEPTOR["longitude"])
    lat = np.radians(np.asarray(lat, float))
    lat_r = np.radians(RECEPTOR["latitude"])
    return EARTH_RADIUS * np.cos(0.5 * (lat + lat_r)) * lon, EARTH_RADIUS * (lat - lat_r)


# --- running STILT ----------------------------------------------------------------------


def fine_levels() -> np.ndarray:
    """Internal levels (m above ground) for ``ZSG_LEVS.IN`` (diagnostics only): 10 m apart
    up to 500 m, 25 m to 2500 m, then widening to the top."""
    return np.concatenate([np.arange(10.0, 500.0, 10.0), np.arange(500.0, 2500.0, 25.0),
                           np.arange(2500.0, 5000.0, 250.0), np.arange(5000.0, 20001.0, 1000.0)])


def _write_zsg_levels(workdir: Path, levels: np.ndarray, top: float = 25000.0) -> None:
    """HYSPLIT's optional internal-level file (its ``read_zsg``: "nlvl ksfc zmdl", header
    lines up to ENDHEADER, then one height in m AGL per line)."""
    lines = [f"{levels.size} 1 {top:.1f}", "internal levels for a cityflux comparison",
             "ENDHEADER"] + [f"{z:.1f}" for z in levels]
    (workdir / "ZSG_LEVS.IN").write_text("\n".join(lines) + "\n")


def run_stilt(met_dir: Path, n_hours: int, seed: int, levels: np.ndarray | None = None,
              receptor=None, **extra):
    """Run STILT for the receptor.

    Returns the particle table (pandas), the wall time of the whole call (s), and the wall
    and CPU time of ``hycs_std`` alone (s; the child process, including its writing of the
    particle file). ``levels`` replaces HYSPLIT's internal levels (``ZSG_LEVS.IN``);
    ``receptor`` (a pystilt receptor) the point receptor ``RECEPTOR``; ``extra`` are
    HYSPLIT settings on top of ``STILT_SETTINGS``.
    """
    import stilt
    import stilt.transport.hysplit.model as hmodel

    rec = stilt.PointReceptor(**RECEPTOR) if receptor is None else receptor
    met = {"directory": str(met_dir), "file_format": "%Y%m%d_%H", "file_tres": "24h"}
    work = Path(tempfile.mkdtemp(prefix="stiltrun"))
    timing = {}
    write_inputs, run_hycs_std = hmodel.write_inputs, hmodel.run_hycs_std

    def write_inputs_with_levels(workdir, *args, **kwargs):
        write_inputs(workdir, *args, **kwargs)
        if levels is not None:
            _write_zsg_levels(Path(workdir), levels)

    def timed_run(*args, **kwargs):
        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        run_hycs_std(*args, **kwargs)
        timing["wall"] = time.perf_counter() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        timing["cpu"] = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)

    hmodel.write_inputs, hmodel.run_hycs_std = write_inputs_with_levels, timed_run
    try:
        t = time.perf_counter()
        p = stilt.run_trajectories(rec, met, n_hours=-n_hours, seed=seed, workdir=work / "w",
                                   **{**STILT_SETTINGS, **extra})
        wall = time.perf_counter() - t
    finally:
        hmodel.write_inputs, hmodel.run_hycs_std = write_inputs, run_hycs_std
        shutil.rmtree(work, ignore_errors=True)
    return p, wall, timing


# --- footprints and statistics ------------------------------------------------------------


def hour_back(p: pd.DataFrame) -> np.ndarray:
    return ((np.abs(p["age"].to_numpy()) - 1) // 60).astype(int)


def grid_footprint(p: pd.DataFrame, n_hours: int, column: str) -> np.ndarray:
    """(n_hours, ny, nx) footprint: sum of ``column`` per cell and hour back / numpar."""
    x0, dx, nx, y0, dy, ny = GRID
    x, y = to_metres(p["lon"].to_numpy(), p["lat"].to_numpy())
    ix = np.floor((x - x0) / dx).astype(int)
    iy = np.floor((y - y0) / dy).astype(int)
    hb = hour_back(p)
    foot = p[column].to_numpy()
    inside = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny) & (hb < n_hours)
    lost = foot[~inside].sum() / foot.sum()
    if lost > 1e-4:
        print(f"  {lost:.1e} of the footprint falls outside the grid")
    out = np.zeros((n_hours, ny, nx))
    np.add.at(out, (hb[inside], iy[inside], ix[inside]), foot[inside])
    return out / NUMPAR


def centroid(field: np.ndarray) -> np.ndarray:
    """Footprint-weighted mean (x, y) of a (..., ny, nx) field, m."""
    x0, dx, nx, y0, dy, ny = GRID
    xc = x0 + (np.arange(nx) + 0.5) * dx
    yc = y0 + (np.arange(ny) + 0.5) * dy
    f = field.reshape(-1, ny, nx).sum(axis=0)
    return np.array([(f.sum(axis=0) * xc).sum(), (f.sum(axis=1) * yc).sum()]) / f.sum()


def particle_stats(p: pd.DataFrame, n_hours: int, pblh: float) -> dict:
    """Per hour back: fraction of particle rows below h/2 and above h, mean height, and
    the particles' spread in x and y at the end of the hour (m)."""
    hb = hour_back(p)
    z = p["zagl"].to_numpy()
    age = np.abs(p["age"].to_numpy())
    x, y = to_metres(p["lon"].to_numpy(), p["lat"].to_numpy())
    out = {"frac_below_hs": [], "frac_above_h": [], "mean_height": [], "spread_x": [],
           "spread_y": []}
    for k in range(n_hours):
        s = hb == k
        out["frac_below_hs"].append(np.mean(z[s] < 0.5 * pblh))
        out["frac_above_h"].append(np.mean(z[s] > pblh))
        out["mean_height"].append(z[s].mean())
        e = age == 60 * (k + 1)
        out["spread_x"].append(x[e].std())
        out["spread_y"].append(y[e].std())
    return {k: np.array(v) for k, v in out.items()}


def footprint_density(p: pd.DataFrame, pblh: float) -> float:
    """The air density STILT's ``foot`` divides by: m_air 60 s samt / (0.5 PBLH foot)."""
    s = p["samt"].to_numpy() > 0.5
    return float(np.median(M_AIR * 60.0 * p["samt"].to_numpy()[s]
                           / (0.5 * pblh * p["foot_no_hnf_dilution"].to_numpy()[s])))


def horizontal_sigma(p: pd.DataFrame) -> float:
    """Standard deviation of the particles' one-minute mean horizontal velocity, m/s
    (mean of the x and y components; close to HYSPLIT's sigma_u when T_L >> 1 min)."""
    q = p.sort_values(["particle", "age"], ascending=[True, False])
    x, y = to_metres(q["lon"].to_numpy(), q["lat"].to_numpy())
    same = q["particle"].to_numpy()[1:] == q["particle"].to_numpy()[:-1]
    ux, uy = np.diff(x)[same] / 60.0, np.diff(y)[same] / 60.0
    return float(0.5 * (ux.std() + uy.std()))


# --- cases ------------------------------------------------------------------------------


def make_case(name: str, case: dict, diagnostics: bool) -> dict:
    met_dir = Path(tempfile.mkdtemp(prefix=f"stiltmet_{name}_"))
    n_hours, mixed = case["n_hours"], case["mixed_from"]
    settings = {"hscale": case["hscale"]}
    runs = []
    try:
        write_met(case, met_dir)
        for seed in SEEDS:
            p, wall, timing = run_stilt(met_dir, n_hours, seed, **settings)
            feet = grid_footprint(p, n_hours, "foot_no_hnf_dilution")
            feet_hnf = grid_footprint(p, n_hours, "foot")
            runs.append({
                "hourly": feet.sum(axis=(1, 2)),
                "hourly_hnf": feet_hnf.sum(axis=(1, 2)),
                "hourly_centroid": np.array([centroid(f) for f in feet]),
                "field": feet.sum(axis=0),
                "field_mixed": feet[mixed:].sum(axis=0),
                "wall": wall, "hycs_wall": timing["wall"], "hycs_cpu": timing["cpu"],
                "rows": len(p), "density": footprint_density(p, case["pblh"]),
                "sigma_h": horizontal_sigma(p),
                **particle_stats(p, n_hours, case["pblh"]),
            })
            print(f"{name} seed {seed}: total {feet.sum():.4f}, mixed hours "
                  f"{feet[mixed:].sum():.4f}, hycs_std {timing['wall']:.1f} s wall "
                  f"{timing['cpu']:.1f} s cpu")
        extra = run_diagnostics(name, case, met_dir) if diagnostics else {}
    finally:
        shutil.rmtree(met_dir, ignore_errors=True)

    def stack(key, dtype=np.float64):
        return np.array([r[key] for r in runs], dtype)

    out = {key: stack(key) for key in ("hourly", "hourly_hnf", "hourly_centroid", "wall",
                                       "hycs_wall", "hycs_cpu", "rows", "density", "sigma_h",
                                       "frac_below_hs", "frac_above_h", "mean_height",
                                       "spread_x", "spread_y")}
    out["field"] = stack("field", np.float32)              # (seed, ny, nx), no HNF
    out["field_mixed"] = stack("field_mixed", np.float32)  # hours >= mixed_from
    out["seeds"] = np.array(SEEDS)
    out["grid"] = np.array(GRID, float)
    out.update(extra)
    out["meta"] = np.array(json.dumps({
        "case": name, **case, "surface_pressure_hpa": SURFACE_PRESSURE_HPA,
        "lapse_rate": LAPSE_RATE, "relative_humidity_percent": RELATIVE_HUMIDITY,
        "receptor": RECEPTOR, "numpar": NUMPAR, "stilt_settings": {**STILT_SETTINGS, **settings},
        "pystilt": _version("pystilt"), "arlmet": _version("arlmet"),
        "hysplit": "v5.1.0 (hycs_std bundled with pystilt)", "earth_radius_m": EARTH_RADIUS,
        "cpu": _cpu(), "footprint_units": "ppm per (umol m-2 s-1); grid and centroids in m",
        "hour_binning": "row at age -k min -> hour (k - 1) // 60",
    }))
    return out


def run_diagnostics(name: str, case: dict, met_dir: Path) -> dict:
    """Extra runs (seed 1) behind the statements of the test module's docstring."""
    n_hours = case["n_hours"]
    out = {}
    # STILT's defaults (hscale 10800 s): the horizontal spread cityflux does not have
    p, _, _ = run_stilt(met_dir, n_hours, SEEDS[0])
    s = particle_stats(p, n_hours, case["pblh"])
    out["diag_default_hscale_spread_x"] = s["spread_x"]
    out["diag_default_hscale_spread_y"] = s["spread_y"]
    out["diag_default_hscale_sigma_h"] = np.float64(horizontal_sigma(p))
    # a column release, uniform through the layer: does STILT keep it well mixed?
    import stilt

    column = stilt.ColumnReceptor(time=RECEPTOR["time"], longitude=RECEPTOR["longitude"],
                                  latitude=RECEPTOR["latitude"], bottom=0.5,
                                  top=case["pblh"] - 0.5)
    p, _, _ = run_stilt(met_dir, 4, SEEDS[0], receptor=column, numpar=2000, hnf_plume=False,
                        hscale=case["hscale"])
    edges = np.linspace(0.0, case["pblh"], 11)
    hb = hour_back(p)
    out["diag_column_histogram"] = np.array([
        np.histogram(p["zagl"].to_numpy()[hb == k], edges)[0] / np.sum(hb == k) * 10
        for k in range(4)])
    out["diag_column_frac_below_hs"] = np.array([
        np.mean(p["zagl"].to_numpy()[hb == k] < 0.5 * case["pblh"]) for k in range(4)])
    # a fine internal grid (ZSG_LEVS.IN): Hanna's profiles are resolved, the layer top leaks
    p, _, _ = run_stilt(met_dir, 4, SEEDS[0], levels=fine_levels(), hscale=case["hscale"])
    s = particle_stats(p, 4, case["pblh"])
    out["diag_fine_levels_hourly"] = grid_footprint(p, 4, "foot_no_hnf_dilution").sum(axis=(1, 2))
    out["diag_fine_levels_frac_above_h"] = s["frac_above_h"]
    out["diag_fine_levels_mean_height"] = s["mean_height"]
    # PBLH between internal levels: HYSPLIT mixes to the next level
    off = {"convective": 1500.0, "stable": 300.0}[name]
    off_dir = met_dir.parent / (met_dir.name + "_off")
    try:
        write_met({**case, "pblh": off}, off_dir)
        p, _, _ = run_stilt(off_dir, n_hours, SEEDS[0], hscale=case["hscale"])
    finally:
        shutil.rmtree(off_dir, ignore_errors=True)
    s = particle_stats(p, n_hours, off)
    out["diag_off_level_pblh"] = np.float64(off)
    out["diag_off_level_frac_above_h"] = s["frac_above_h"]
    out["diag_off_level_frac_below_hs"] = s["frac_below_hs"]
    out["diag_off_level_max_height"] = np.float64(np.percentile(p["zagl"], 99.9))
    out["diag_off_level_hourly"] = grid_footprint(p, n_hours,
                                                  "foot_no_hnf_dilution").sum(axis=(1, 2))
    if name == "convective":
        # speed: 1000 particles x 24 h, with STILT's one-minute output and with hourly output
        for label, kw in (("minute_output", {}), ("hourly_output", {"outdt": 60})):
            _, wall, timing = run_stilt(met_dir, 24, SEEDS[0], hscale=case["hscale"], **kw)
            out[f"speed_24h_{label}"] = np.array([wall, timing["wall"], timing["cpu"]])
            print(f"{name}: 24 h x {NUMPAR} particles ({label}): hycs_std "
                  f"{timing['wall']:.1f} s wall, {timing['cpu']:.1f} s cpu")
    return out


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", nargs="*", default=list(CASES))
    parser.add_argument("--diagnostics", action="store_true",
                        help="also the extra runs behind the test module's docstring")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.cases:
        data = make_case(name, CASES[name], args.diagnostics)
        path = args.out / f"{name}.npz"
        np.savez_compressed(path, **data)
        print(f"wrote {path} ({os.path.getsize(path) / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
