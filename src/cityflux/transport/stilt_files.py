"""Footprints written as R-STILT files, for STILT users and their tools.

One file per receptor, named as R-STILT names them, ``<YYYYmmddHHMM>_<lon>_<lat>_<zagl>_foot.nc``,
holding ``foot(time, lat, lon)`` (R's ``foot[lon, lat, time]`` as ncdump shows it) in
``ppm (umol-1 m2 s)`` with ``_FillValue`` −1, cell-centre ``lon``/``lat`` in degrees and
``time`` in ``seconds since 1970-01-01 00:00:00Z``. As in R-STILT, the layer of the
emissions between k and k + 1 hours before the receptor time is stamped at its start,
``r_run_time − (k + 1) h``, and a time-integrated footprint is one layer stamped at the
receptor time. The receptor is stored in R-STILT's own names, ``r_run_time`` (ISO 8601,
UTC), ``r_long``, ``r_lati``, ``r_zagl``, which :func:`cityflux.transport.imported.
read_stilt_footprint` reads back. A grid in projected coordinates is written on ``x``/``y``
with a CF grid mapping (R-STILT's projected output), which the reader also accepts.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import xarray as xr

from .. import __version__
from ..grid import Grid
from ..io import write_netcdf

#: Units string R-STILT writes on ``foot``.
STILT_FOOTPRINT_UNITS = "ppm (umol-1 m2 s)"
EPOCH_UNITS = "seconds since 1970-01-01 00:00:00Z"


def stilt_file_name(time, lon: float, lat: float, height: float) -> str:
    """R-STILT's file name of a receptor's footprint."""
    stamp = np.datetime64(time, "m").astype(dt.datetime).strftime("%Y%m%d%H%M")
    return f"{stamp}_{lon:.4f}_{lat:.4f}_{height:g}_foot.nc"


def stilt_dataset(foot: np.ndarray, grid: Grid, time, lon: float, lat: float, height: float,
                  time_integrated: bool = False, attrs: dict | None = None) -> xr.Dataset:
    """A receptor's footprint as an R-STILT dataset.

    Parameters
    ----------
    foot : ndarray (n_layers, ny, nx)
        ppm per (µmol m⁻² s⁻¹); layer k holds the emissions between k and k + 1 hours before
        ``time`` (or, ``time_integrated``, one layer with all of them).
    grid : Grid
        Its grid (lat/lon, or projected with a grid mapping).
    time : datetime64
        Receptor (release) time, UTC.
    lon, lat, height : float
        Receptor position (degrees) and height above ground (m).
    attrs : dict, optional
        More global attributes (e.g. the model settings).
    """
    foot = np.asarray(foot, float)
    if foot.ndim != 3 or foot.shape[1:] != grid.shape:
        raise ValueError(f"foot has shape {foot.shape}; expected (layers, {grid.ny}, {grid.nx})")
    if time_integrated and foot.shape[0] != 1:
        raise ValueError("a time-integrated footprint has one layer")
    run_time = np.datetime64(time, "s")
    seconds = run_time.astype(np.int64)
    stamps = (np.array([seconds]) if time_integrated
              else seconds - 3600 * (np.arange(foot.shape[0]) + 1))
    # R-STILT lists the layers oldest first
    order = np.argsort(stamps)
    y_name, x_name = grid.dims
    coords = {"time": ("time", stamps[order].astype(np.float64),
                       {"standard_name": "time", "long_name": "start of the emission hour",
                        "units": EPOCH_UNITS, "calendar": "standard", "timezone": "UTC"})}
    if grid.is_geographic:
        coords["lon"] = ("lon", grid.x, {"standard_name": "longitude", "units": "degrees_east",
                                         "long_name": "cell center longitude"})
        coords["lat"] = ("lat", grid.y, {"standard_name": "latitude", "units": "degrees_north",
                                         "long_name": "cell center latitude"})
        dims = ("time", "lat", "lon")
        extra = {}
    else:
        coords.update(grid.coords())
        dims = ("time", y_name, x_name)
        extra = {"grid_mapping": "crs"}
    foot_attrs = {"standard_name": "footprint", "long_name": "footprint",
                  "units": STILT_FOOTPRINT_UNITS, **extra}
    ds = xr.Dataset({"foot": (dims, foot[order], foot_attrs)}, coords=coords)
    if not grid.is_geographic:
        ds["crs"] = grid.data_vars()["crs"]
    ds["foot"].encoding["_FillValue"] = -1.0
    ds.attrs = {"title": "STILT Footprint Output", "conventions": "CF-1.4",
                **({"crs": "+proj=longlat +ellps=WGS84", "crs_format": "PROJ.4"}
                   if grid.is_geographic else
                   {"crs": grid.pyproj_crs.to_wkt(), "crs_format": "WKT"}),
                "documentation": "github.com/uataq/stilt (format); cityflux docs/transport.md",
                "r_run_time": str(run_time) + "Z", "r_long": float(lon), "r_lati": float(lat),
                "r_zagl": float(height), "source": f"cityflux {__version__} particle model",
                "time_integrated": int(time_integrated), **(attrs or {})}
    return ds


def write_stilt_footprint(folder, foot: np.ndarray, grid: Grid, time, lon: float, lat: float,
                          height: float, time_integrated: bool = False,
                          attrs: dict | None = None) -> Path:
    """Write :func:`stilt_dataset` into ``folder`` under R-STILT's file name (atomically)."""
    ds = stilt_dataset(foot, grid, time, lon, lat, height, time_integrated, attrs)
    return write_netcdf(ds, Path(folder) / stilt_file_name(time, lon, lat, height))

