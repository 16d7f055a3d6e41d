"""On-disk cache of expensive artefacts (footprints), keyed by what they depend on.

A key is the SHA-256 of every input that determines the artefact: arrays by dtype, shape
and bytes; numbers, text, enums and dataclasses by their canonical repr. Entries are .npz
files written atomically, so an interrupted run never leaves a corrupt entry and a rerun
with the same inputs loads instead of recomputing.

Faults, and what the cache does about them:

- an entry that cannot be read (empty, truncated, not an npz, arrays missing): a warning,
  and it counts as absent, so the artefact is recomputed and the entry rewritten;
- a folder (or anything but a file) where an entry should be: a warning, the artefact is
  recomputed and not stored (the folder is not ours to delete);
- an entry that cannot be written (disk full, no permission): a warning, the run goes on
  with the computed artefact;
- a file where the cache folder should be, or a folder that cannot be created: a one-line
  :class:`CacheFolderError` when the cache is opened, before any work;
- temporary files left by a killed run: removed when the cache is opened (rule in
  :func:`cityflux.io.remove_stale_temporaries`).

After :data:`MAX_WARNINGS` warnings a cache reports further faults at debug level only.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from . import __version__
from .errors import ConfigError, brief
from .io import remove_stale_temporaries, temporary_beside

log = logging.getLogger(__name__)

#: Warnings one cache gives before reporting further faults at debug level.
MAX_WARNINGS = 10


class CacheFolderError(ConfigError):
    """The cache folder is a file, or cannot be created."""


def cache_key(*parts) -> str:
    """A hex digest of ``parts`` (arrays, numbers, strings, enums, dataclasses, sequences)."""
    digest = hashlib.sha256(__version__.encode())
    for part in parts:
        _update(digest, part)
    return digest.hexdigest()


def _update(digest, part) -> None:
    if isinstance(part, np.ndarray):
        array = np.ascontiguousarray(part)
        digest.update(f"array:{array.dtype.str}:{array.shape}".encode())
        digest.update(array.tobytes())
    elif dataclasses.is_dataclass(part) and not isinstance(part, type):
        digest.update(type(part).__name__.encode())
        for field in dataclasses.fields(part):
            digest.update(field.name.encode())
            _update(digest, getattr(part, field.name))
    elif isinstance(part, (list, tuple)):
        digest.update(f"seq:{len(part)}".encode())
        for item in part:
            _update(digest, item)
    elif isinstance(part, dict):
        for key in sorted(part):
            digest.update(str(key).encode())
            _update(digest, part[key])
    elif isinstance(part, enum.Enum):
        digest.update(f"enum:{part.value}".encode())
    else:
        digest.update(f"{type(part).__name__}:{part!r}".encode())


class ArtifactCache:
    """A folder of cached arrays; ``folder=None`` disables caching.

    Opening a cache creates its folder and removes the stale temporaries of interrupted
    runs in it; a file in the way raises :class:`CacheFolderError` (one line).
    """

    def __init__(self, folder: Path | None):
        self.folder = None if folder is None else Path(folder)
        self._warnings = 0
        if self.folder is not None:
            self._open()

    def _open(self) -> None:
        folder = self.folder
        if folder.exists() and not folder.is_dir():
            raise CacheFolderError(f"cache folder {folder} is a file; expected a folder "
                                   "(choose another output.cache_dir, or null for no cache)")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheFolderError(f"cannot create the cache folder {folder}: {brief(exc)} "
                                   "(choose another output.cache_dir, or null for no "
                                   "cache)") from None
        remove_stale_temporaries(folder)

    def path(self, name: str, key: str) -> Path | None:
        """Where the entry ``name`` with ``key`` is stored (None when caching is off)."""
        return None if self.folder is None else self.folder / f"{name}-{key[:32]}.npz"

    def load(self, name: str, key: str, required=()) -> dict[str, np.ndarray] | None:
        """The stored arrays of ``name`` with ``key``, or None when absent or unreadable.

        ``required`` names arrays an entry must hold to count as readable.
        """
        path = self.path(name, key)
        if path is None or not os.path.lexists(path):
            return None
        if not path.is_file():
            self._warn("cache: %s is not a file; ignoring it and computing the artefact "
                       "again (remove it to let the cache store the entry)", path)
            return None
        try:
            with np.load(path) as stored:
                arrays = {k: stored[k] for k in stored.files}
            missing = sorted(set(required) - set(arrays))
            if missing:
                raise ValueError(f"no array {', '.join(missing)}")
        except Exception as exc:  # noqa: BLE001 (EOFError, BadZipFile, zlib.error...)
            self._warn("cache: ignoring unreadable entry %s (%s: %s); computing it again",
                       path, type(exc).__name__, brief(exc))
            return None
        log.debug("cache: loaded %s", path.name)
        return arrays

    def store(self, name: str, key: str, arrays: dict[str, np.ndarray]) -> bool:
        """Store ``arrays`` as the entry ``name`` with ``key`` atomically; False when the
        entry could not be written (a warning says why; the caller keeps its arrays)."""
        path = self.path(name, key)
        if path is None:
            return False
        if os.path.lexists(path) and not path.is_file():
            self._warn("cache: cannot store %s: something other than a file is in the "
                       "way; the run goes on without caching it", path)
            return False
        try:
            with temporary_beside(path) as tmp, open(tmp, "wb") as handle:
                np.savez(handle, **arrays)
        except OSError as exc:
            self._warn("cache: cannot store %s (%s); the run goes on without caching it",
                       path, brief(exc))
            return False
        log.debug("cache: stored %s", path.name)
        return True

    def load_or_compute(self, name: str, key: str, compute: Callable[[], dict[str, np.ndarray]],
                        required=()) -> dict[str, np.ndarray]:
        """The cached arrays of ``name`` with ``key``, computing and storing them if absent
        (or unreadable, or without one of the ``required`` arrays)."""
        arrays = self.load(name, key, required)
        if arrays is not None:
            log.info("cache: loaded %s", self.path(name, key).name)
            return arrays
        arrays = compute()
        if self.store(name, key, arrays):
            log.info("cache: stored %s", self.path(name, key).name)
        return arrays

    def _warn(self, message: str, *args) -> None:
        self._warnings += 1
        if self._warnings <= MAX_WARNINGS:
            log.warning(message, *args)
            if self._warnings == MAX_WARNINGS:
                log.warning("cache: further cache faults in %s are logged at debug level",
                            self.folder)
        else:
            log.debug(message, *args)
