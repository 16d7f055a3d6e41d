"""``cityflux footprint``: particle footprints of receptors written as R-STILT files.

A drop-in for a STILT user's footprint step, with no inversion config: receptors from a
CSV or the command line, a meteorology file (any the met reader takes, see
docs/formats.md), a footprint grid given as STILT gives it (``xmn, xmx, ymn, ymx, xres,
yres``, degrees by default), and the particle model's settings. Each receptor's footprint
is written under R-STILT's file name (:mod:`cityflux.transport.stilt_files`).

Receptor table (CSV, ``#`` comment lines allowed)::

    time,lat,lon,height[,kind,lat2,lon2,height_top]

``time`` ISO 8601 UTC (any minute: the particles are released at that time); ``height`` m
above ground; ``kind`` ``point`` (default), ``path`` (released uniformly along the segment
to ``lat2``/``lon2``, e.g. an open-path laser) or ``column`` (released uniformly from
``height`` to ``height_top``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .grid import Grid
from .obs.csvfile import read_table

log = logging.getLogger(__name__)

RECEPTOR_COLUMNS = ("time", "lat", "lon", "height")
KINDS = ("point", "path", "column")


@dataclass(frozen=True)
class ReceptorTable:
    """Receptors in absolute time, degrees and metres above ground (NaN where unused)."""

    time: np.ndarray          # datetime64[ns]
    lat: np.ndarray
    lon: np.ndarray
    height: np.ndarray
    kind: np.ndarray          # str
    lat2: np.ndarray
    lon2: np.ndarray
    height_top: np.ndarray

    def __len__(self) -> int:
        return int(self.time.size)


def parse_receptor(text: str) -> dict:
    """A receptor given on the command line as ``TIME,LAT,LON,HEIGHT``."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 4:
        raise InputError(f"--receptor {text!r}: expected TIME,LAT,LON,HEIGHT, e.g. "
                         "2024-07-01T14:00Z,40.766,-111.848,30")
    return dict(zip(RECEPTOR_COLUMNS, parts))


def receptor_table(rows: pd.DataFrame, where: str, line=None) -> ReceptorTable:
    """Check and convert receptor rows (columns as in the module docstring)."""
    line = np.arange(2, len(rows) + 2) if line is None else np.asarray(line)
    missing = [c for c in RECEPTOR_COLUMNS if c not in rows.columns]
    if missing:
        raise InputError(f"{where}: missing column(s) {missing}; expected "
                         f"{list(RECEPTOR_COLUMNS)} and optionally kind, lat2, lon2, "
                         "height_top")
    if rows.empty:
        raise InputError(f"{where}: no receptors")

    def fail(bad, column, problem):
        row = int(np.flatnonzero(np.asarray(bad))[0])
        raise InputError(f"{where}: line {line[row]}: {column} {rows[column].iloc[row]!r} "
                         f"{problem}")

    times = pd.to_datetime(rows["time"].astype(str), errors="coerce", utc=True,
                           format="ISO8601")
    if times.isna().any():
        fail(times.isna(), "time", "is not an ISO 8601 date and time such as "
                                   "2024-07-01T14:00Z")

    def number(column, low, high, required=True):
        if column not in rows.columns:
            return np.full(len(rows), np.nan)
        values = pd.to_numeric(rows[column], errors="coerce").astype(float).to_numpy()
        given = rows[column].notna().to_numpy()
        if required and not given.all():
            fail(~given, column, "is empty")
        bad = given & ~((values >= low) & (values <= high))
        if bad.any():
            fail(bad, column, f"is not a number between {low:g} and {high:g}")
        return values

    lat, lon = number("lat", -90, 90), number("lon", -180, 360)
    height = number("height", 0, 20000)
    lat2, lon2 = number("lat2", -90, 90, False), number("lon2", -180, 360, False)
    top = number("height_top", 0, 100000, False)
    kind = (rows["kind"].fillna("point").astype(str).str.strip().str.lower().to_numpy()
            if "kind" in rows.columns else np.full(len(rows), "point"))
    unknown = ~np.isin(kind, KINDS)
    if unknown.any():
        fail(unknown, "kind", f"is not one of {', '.join(KINDS)}")
    path, column = kind == "path", kind == "column"
    if (path & (np.isnan(lat2) | np.isnan(lon2))).any():
        fail(path & (np.isnan(lat2) | np.isnan(lon2)), "kind", "needs lat2 and lon2 (the "
                                                               "other end of the path)")
    if (column & ~(top > height)).any():
        fail(column & ~(top > height), "kind", "needs height_top above height")
    return ReceptorTable(times.dt.tz_localize(None).to_numpy("datetime64[ns]"), lat, lon,
                         height, kind.astype(str), np.where(path, lat2, np.nan),
                         np.where(path, lon2, np.nan), np.where(column, top, np.nan))


def read_receptors(path: Path) -> ReceptorTable:
    """The receptor CSV (see the module docstring)."""
    rows, line = read_table(path, dtype={"time": str, "kind": str})
    return receptor_table(rows, str(path), line)


def footprint_grid(text: str, crs: str = "EPSG:4326") -> Grid:
    """A grid from STILT's ``xmn,xmx,ymn,ymx,xres[,yres]`` (CRS units: degrees for lat/lon)."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) not in (5, 6):
        raise InputError(f"--grid {text!r}: expected XMN,XMX,YMN,YMX,XRES[,YRES] (STILT's "
                         "xmn, xmx, ymn, ymx, xres, yres), e.g. -112.3,-111.5,40.4,41.0,0.01")
    xmn, xmx, ymn, ymx, xres = values[:5]
    yres = values[5] if len(values) == 6 else xres
    grid = Grid(crs, xmn, xmx, xres, ymn, ymx, yres)
    try:
        grid.validate()
    except (ValueError, InputError) as exc:
        raise InputError(f"--grid {text!r}: {exc}") from None
    return grid


class _Releases:
    """Receptors as the particle model takes them (metric frame, hours from ``start``)."""

    def __init__(self, table: ReceptorTable, grid: Grid, rows: np.ndarray, start):
        self.x, self.y = (np.asarray(a, float) for a in
                          grid.to_metric(table.lon[rows], table.lat[rows]))
        x2, y2 = grid.to_metric(np.nan_to_num(table.lon2[rows], nan=table.lon[rows]),
                                np.nan_to_num(table.lat2[rows], nan=table.lat[rows]))
        path = table.kind[rows] == "path"
        self.x2 = np.where(path, x2, np.nan)
        self.y2 = np.where(path, y2, np.nan)
        self.height = table.height[rows]
        self.height_top = table.height_top[rows]
        self.hour = ((table.time[rows] - start) // np.timedelta64(1, "h")).astype(np.int64)


def compute_and_write(table: ReceptorTable, met, grid: Grid, out_dir: Path, settings,
                      seed: int = 0, time_integrate: bool = False,
                      progress: bool = False) -> list[Path]:
    """Footprint of every receptor from the particle model, written as R-STILT files.

    ``settings`` is a :class:`~cityflux.config.TransportConfig` (hours back and the
    particles section). Receptors are released at their own time: those at the same minute
    of the hour are computed together (the release time within the hour is one setting of
    the model).
    """
    from .transport.particle_transport import ParticleTransport
    from .transport.stilt_files import stilt_file_name, write_stilt_footprint

    names = [stilt_file_name(t, lon, lat, h) for t, lon, lat, h in
             zip(table.time, table.lon, table.lat, table.height)]
    repeated = {n for n in names if names.count(n) > 1}
    if repeated:
        raise InputError(f"two receptors would write the same file {sorted(repeated)[0]}; "
                         "give each receptor its own time, position or height")
    start = table.time.min().astype("datetime64[h]").astype("datetime64[ns]")
    offset_s = ((table.time - start) % np.timedelta64(1, "h")) / np.timedelta64(1, "s")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [None] * len(table)
    hours_back = int(settings.hours_back)
    attrs = {"n_particles": int(settings.particles.n_particles), "hours_back": hours_back,
             "seed": int(seed)}
    for offset in np.unique(offset_s):
        rows = np.flatnonzero(offset_s == offset)
        transport = ParticleTransport(settings, grid, met, start, seed, "meteorology",
                                      release_offset_hours=float(offset) / 3600.0)
        footprints = transport.surface_footprints(_Releases(table, grid, rows, start),
                                                  progress)
        for i, row in enumerate(rows):
            mine = footprints.rows == i
            foot = np.zeros((hours_back, grid.size))
            np.add.at(foot, (footprints.hours_back[mine], footprints.cells[mine]),
                      footprints.values[mine])
            foot = foot.reshape(hours_back, grid.ny, grid.nx)
            if time_integrate:
                foot = foot.sum(axis=0, keepdims=True)
            written[row] = write_stilt_footprint(
                out_dir, foot, grid, table.time[row], float(table.lon[row]),
                float(table.lat[row]), float(table.height[row]), time_integrate,
                {**attrs, "receptor_kind": str(table.kind[row])})
    return written
