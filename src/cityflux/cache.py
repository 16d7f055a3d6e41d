"""On-disk cache of expensive artefacts (footprints), keyed by what they depend on.

A key is the SHA-256 of every input that determines the artefact: arrays by dtype, shape
and bytes; numbers, text, enums and dataclasses by their canonical repr. Entries are .npz
files written atomically, so an interrupted run never leaves a corrupt entry and a rerun
with the same inputs loads instead of recomputing.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import logging
from pathlib import Path
from typing import Callable

import numpy as np

from . import __version__
from .io import temporary_beside

log = logging.getLogger(__name__)


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
    """A folder of cached arrays; ``folder=None`` disables caching."""

    def __init__(self, folder: Path | None):
        self.folder = None if folder is None else Path(folder)

    def load_or_compute(self, name: str, key: str,
                        compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """The cached arrays of ``name`` with ``key``, computing and storing them if absent."""
        if self.folder is None:
            return compute()
        path = self.folder / f"{name}-{key[:32]}.npz"
        if path.is_file():
            try:
                with np.load(path) as stored:
                    log.info("cache: loaded %s", path.name)
                    return {k: stored[k] for k in stored.files}
            except (OSError, ValueError) as exc:  # a damaged entry is recomputed
                log.warning("cache: ignoring unreadable %s (%s)", path, exc)
        arrays = compute()
        self.folder.mkdir(parents=True, exist_ok=True)
        with temporary_beside(path) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, **arrays)
        log.info("cache: stored %s", path.name)
        return arrays
