"""Writing outputs safely: atomic files, a staged output directory, CF global attributes.

A run writes everything into a hidden staging folder beside the output directory and only
swaps it into place when every file has been written, so a failed run never leaves a
half-written set where a good one was.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import xarray as xr

from . import __version__

CONVENTIONS = "CF-1.8"
_UMASK = os.umask(0)
os.umask(_UMASK)


def global_attributes(title: str, config_text: str, extra: dict | None = None) -> dict:
    """CF global attributes shared by every cityflux NetCDF output."""
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    attrs = {
        "Conventions": CONVENTIONS,
        "title": title,
        "institution": "cityflux user",
        "source": f"cityflux {__version__}",
        "history": f"{now} created by cityflux {__version__}",
        "references": "https://doi.org/10.5194/gmd-6-583-2013 (aggregated uncertainties)",
        "configuration": config_text,
    }
    attrs.update(extra or {})
    return attrs


def write_netcdf(ds: xr.Dataset, path: Path, compress: bool = True) -> Path:
    """Write ``ds`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    encoding = {}
    if compress:
        for name, var in ds.data_vars.items():
            if var.dtype.kind == "f" and var.ndim >= 2:
                encoding[name] = {"zlib": True, "complevel": 4}
    # CF: coordinate and bounds variables must not have a _FillValue (xarray adds NaN).
    bounds = {var.attrs["bounds"] for var in ds.variables.values() if "bounds" in var.attrs}
    for name in set(ds.coords) | bounds:
        if name in ds.variables:
            kept = {k: v for k, v in ds[name].encoding.items()
                    if k in ("units", "calendar", "dtype")}
            encoding[name] = {**encoding.get(name, {}), **kept, "_FillValue": None}
    with temporary_beside(path) as tmp:
        ds.to_netcdf(tmp, encoding=encoding, format="NETCDF4")
    return path


def write_json(data: dict, path: Path) -> Path:
    """Write ``data`` as indented JSON atomically."""
    with temporary_beside(Path(path)) as tmp:
        tmp.write_text(json.dumps(data, indent=2, default=_json_default) + "\n",
                       encoding="utf-8")
    return Path(path)


@contextlib.contextmanager
def staged_directory(target: Path):
    """Yield a fresh folder; on success it replaces ``target`` whole, on error it vanishes."""
    target = Path(target).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    os.chmod(staging, 0o777 & ~_UMASK)  # mkdtemp makes 0700; results are for sharing
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.replace(target, old / target.name)
    os.replace(staging, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def temporary_beside(path: Path):
    """A temporary path in the folder of ``path``, renamed to ``path`` on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    tmp = Path(name)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file ordinary permissions
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (Path, dt.datetime, np.datetime64)):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
