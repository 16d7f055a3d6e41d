"""Writing outputs safely: atomic files, a staged output directory, CF global attributes.

A run writes everything into a hidden staging folder beside the output directory and only
swaps it into place when every file has been written, so a failed run never leaves a
half-written set where a good one was.

Temporaries left by a killed run
--------------------------------
A temporary file is named ``.<target>.pid<PID>@<host>.<random>.tmp`` and a staging folder
``.<target>.partial-pid<PID>@<host>.<random>``: they carry the process that owns them.
:func:`remove_stale_temporaries` (called by :func:`staged_directory` for its target and by
the artefact cache for its folder) removes those of ours that are stale:

- owned by a process of this host that no longer runs (or whose PID now belongs to a
  process started after the temporary was last written): removed at once;
- owned by another host (a shared file system), or named without an owner (written by
  cityflux 0.1.0 and earlier): removed when nothing in them changed for
  :data:`STALE_AFTER_SECONDS` (an hour: no temporary of ours is written for that long).

Only names of our own pattern are touched, and a live owner's temporaries never are.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import re
import shutil
import socket
import tempfile
import time
from pathlib import Path

import numpy as np
import xarray as xr

from . import __version__

CONVENTIONS = "CF-1.8"
_UMASK = os.umask(0)
os.umask(_UMASK)

log = logging.getLogger(__name__)

#: Temporaries of another host, or without an owner in their name, are stale after this
#: long without a change, s.
STALE_AFTER_SECONDS = 3600.0

_RANDOM = r"[a-z0-9_]{8}"              # the random part tempfile puts in a name
_OWNER = r"pid(?P<pid>\d+)@(?P<host>[A-Za-z0-9-]+)"
_TEMP_FILE = re.compile(rf"^\.(?P<target>.+?)\.(?:{_OWNER}\.)?{_RANDOM}\.tmp$")
_STAGING = re.compile(rf"^\.(?P<target>.+?)\.(?P<kind>partial|old)-(?:{_OWNER}\.)?{_RANDOM}$")


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
    remove_stale_temporaries(target.parent, target.name)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-{_owner()}.",
                                    dir=target.parent))
    os.chmod(staging, 0o777 & ~_UMASK)  # mkdtemp makes 0700; results are for sharing
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-{_owner()}.",
                                    dir=target.parent))
        os.replace(target, old / target.name)
    os.replace(staging, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def temporary_beside(path: Path):
    """A temporary path in the folder of ``path``, renamed to ``path`` on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.{_owner()}.", suffix=".tmp",
                                    dir=path.parent)
    os.close(handle)
    tmp = Path(name)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file ordinary permissions
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def remove_stale_temporaries(folder: Path, target: str | None = None,
                             stale_after_seconds: float = STALE_AFTER_SECONDS) -> list[Path]:
    """Remove the stale temporary files and staging folders of ours in ``folder``.

    Parameters
    ----------
    folder : Path
    target : str, optional
        Only the temporaries of this file or folder name; default: every one of ours.
    stale_after_seconds : float, s
        Age after which a temporary whose owner cannot be checked is stale (module
        docstring).

    Returns
    -------
    list of Path
        What was removed (also reported in one log line).
    """
    folder = Path(folder)
    try:
        entries = list(os.scandir(folder))
    except OSError:             # no folder (yet), or not ours to read: nothing to clean
        return []
    now = time.time()
    removed = []
    for entry in entries:
        if not entry.name.startswith("."):
            continue
        match = _TEMP_FILE.match(entry.name) or _STAGING.match(entry.name)
        if match is None or (target is not None and match["target"] != target):
            continue
        path = Path(entry.path)
        if not _is_stale(path, match["pid"], match["host"], now, stale_after_seconds):
            continue
        kind = match.groupdict().get("kind")
        if kind == "old" and not (folder / match["target"]).exists():
            log.warning("%s holds the previous %s (a run was killed while replacing it); "
                        "move it back to restore it", path, match["target"])
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError as exc:
            log.warning("cannot remove the stale temporary %s: %s", path, exc)
            continue
        removed.append(path)
    if removed:
        names = ", ".join(p.name for p in removed[:3]) + (", ..." if len(removed) > 3 else "")
        log.info("removed %d stale temporar%s left by interrupted runs in %s: %s",
                 len(removed), "y" if len(removed) == 1 else "ies", folder, names)
    return removed


def _owner() -> str:
    """``pid<PID>@<host>``: the owner tag put in the names of our temporaries."""
    return f"pid{os.getpid()}@{_host()}"


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:48] or "unknown"


def _is_stale(path: Path, pid: str | None, host: str | None, now: float,
              stale_after_seconds: float) -> bool:
    try:
        changed = _last_change(path)
    except OSError:             # vanished meanwhile (its owner finished)
        return False
    if pid is not None and host == _host():
        pid = int(pid)
        if pid == os.getpid():
            return False
        started = _process_start(pid)
        return started is None or started > changed + 1.0   # gone, or the PID was reused
    return now - changed > stale_after_seconds


def _last_change(path: Path) -> float:
    """The latest modification time of ``path`` and, for a folder, of everything in it."""
    latest = path.lstat().st_mtime
    if path.is_dir() and not path.is_symlink():
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                with contextlib.suppress(OSError):
                    latest = max(latest, os.lstat(os.path.join(root, name)).st_mtime)
    return latest


def _process_start(pid: int) -> float | None:
    """When process ``pid`` of this host started (epoch s), or None if there is none."""
    try:
        import psutil
    except ImportError:         # psutil comes with dask.distributed; without it: alive?
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return float("-inf")
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return process.create_time()
    except psutil.NoSuchProcess:
        return None
    except psutil.Error:        # exists but not ours to inspect: alive
        return float("-inf")


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (Path, dt.datetime, np.datetime64)):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
