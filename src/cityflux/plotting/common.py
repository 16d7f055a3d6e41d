"""Shared helpers of the plotting modules: figures, units text, coordinates."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib import patheffects
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..errors import InputError

DPI = 120

FLUX_VARS = ("net_flux_prior", "net_flux_posterior")
SIGMA_VARS = ("net_flux_prior_uncertainty", "net_flux_posterior_uncertainty")
PRIOR_COLOR = "tab:blue"
POSTERIOR_COLOR = "tab:red"
HALO = [patheffects.withStroke(linewidth=2.5, foreground="white")]
SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


# --------------------------------------------------------------------------- helpers


def new_figure(figsize: tuple[float, float]) -> Figure:
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig


def save(fig: Figure, out_dir: Path, name: str) -> Path:
    path = out_dir / name
    fig.savefig(path, dpi=DPI, bbox_inches="tight", facecolor="white")
    return path


def ensure_dir(out_dir: str | Path) -> Path:
    path = Path(out_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


def pretty_units(units: str | None) -> str:
    """``"umol m-2 s-1"`` -> ``"µmol m⁻² s⁻¹"``; unknown strings pass through."""
    if not units:
        return ""
    text = re.sub(r"\bumol\b", "µmol", str(units))
    return re.sub(
        r"(?<=[A-Za-z])(-?\d+)\b", lambda m: m.group(1).translate(SUPERSCRIPT), text
    )


def as_str(values: Any) -> list[str]:
    out = []
    for v in np.asarray(values).ravel():
        out.append(v.decode() if isinstance(v, bytes) else str(v))
    return out


def require(ds: xr.Dataset, names: tuple[str, ...], what: str) -> None:
    missing = [n for n in names if n not in ds.variables]
    if missing:
        raise InputError(
            f"{what} dataset lacks variable(s) {', '.join(missing)}; "
            f"it has {', '.join(sorted(map(str, ds.data_vars)))}"
        )


def fmt_time(value: Any) -> str:
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        return str(value)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.strftime("%Y-%m-%d %H:%M")


def period(ds: xr.Dataset) -> str:
    """Human-readable period of a dataset, from its attributes or its time axis."""
    start = ds.attrs.get("time_coverage_start")
    end = ds.attrs.get("time_coverage_end")
    if (start is None or end is None) and "time" in ds.variables and ds["time"].size:
        times = pd.to_datetime(np.asarray(ds["time"].values).ravel())
        start = times.min() if start is None else start
        end = times.max() if end is None else end
    if start is None and end is None:
        return ""
    return f"{fmt_time(start)} – {fmt_time(end)} UTC"


def lonlat_2d(ds: xr.Dataset) -> tuple[xr.DataArray, xr.DataArray]:
    """2-D ``lat``/``lon`` (same dims) for projected (y, x) or geographic grids."""
    if "lat" not in ds.variables or "lon" not in ds.variables:
        raise InputError("posterior dataset has no 'lat'/'lon' coordinates to map")
    lat, lon = ds["lat"], ds["lon"]
    if lat.ndim == 1 and lon.ndim == 1:
        lat, lon = xr.broadcast(lat, lon)
    if lat.ndim != 2 or lat.dims != lon.dims:
        raise InputError(
            f"posterior 'lat'{lat.dims} and 'lon'{lon.dims} are not a 1-D or 2-D grid"
        )
    return lat, lon


def field(da: xr.DataArray, dims: tuple[str, ...]) -> np.ndarray:
    """Mean over time (if present), as a masked 2-D array ordered like ``dims``."""
    if "time" in da.dims:
        da = da.mean("time")
    da = da.transpose(*dims)
    return np.ma.masked_invalid(np.asarray(da.values, dtype=float))


def finite(*arrays: np.ndarray) -> np.ndarray:
    vals = np.concatenate([np.ma.filled(np.ma.asarray(a, dtype=float), np.nan).ravel()
                           for a in arrays])
    return vals[np.isfinite(vals)]


def extend(vals: np.ndarray, vmin: float, vmax: float) -> str:
    if vals.size == 0:
        return "neither"
    lo, hi = vals.min() < vmin, vals.max() > vmax
    return {(True, True): "both", (True, False): "min", (False, True): "max"}.get(
        (lo, hi), "neither"
    )


def to_geometry(geom: Any):
    from shapely.geometry import shape
    from shapely.geometry.base import BaseGeometry

    if isinstance(geom, BaseGeometry):
        return geom
    if isinstance(geom, Mapping) or hasattr(geom, "__geo_interface__"):
        return shape(geom)
    raise TypeError(f"region geometry of type {type(geom).__name__} is not shapely")


# --------------------------------------------------------------------------- maps
