"""The artefact cache: keys follow the inputs, entries round-trip, damage is recomputed."""

import dataclasses
from pathlib import Path

import numpy as np

from cityflux.cache import ArtifactCache, cache_key
from cityflux.config import TransportConfig
from cityflux.transport.footprints import Footprints


def test_key_changes_with_every_input():
    base = (np.arange(5.0), {"u": np.ones(3)}, TransportConfig(), "text", 3)
    key = cache_key(*base)
    assert key == cache_key(np.arange(5.0), {"u": np.ones(3)}, TransportConfig(), "text", 3)
    variants = [
        (np.arange(5.0) + 1e-12, *base[1:]),
        (np.arange(5, dtype=np.float32), *base[1:]),
        (base[0], {"u": np.ones(3) * 2}, *base[2:]),
        (*base[:2], dataclasses.replace(TransportConfig(), hours_back=12), *base[3:]),
        (*base[:3], "other", 3),
        (*base[:4], 4),
    ]
    assert len({cache_key(*v) for v in variants} | {key}) == len(variants) + 1


def test_load_or_compute_stores_once_and_round_trips(tmp_path):
    footprints = Footprints(np.array([3, 5]), np.array([0, 1, 1]), np.array([2, 0, 7]),
                            np.array([0, 1, 2]), np.array([0.5, 1.5, 2.5]), 9)
    calls = []

    def compute():
        calls.append(1)
        return footprints.to_arrays()

    cache = ArtifactCache(tmp_path / "cache")
    first = Footprints.from_arrays(cache.load_or_compute("fp", "k" * 64, compute))
    second = Footprints.from_arrays(cache.load_or_compute("fp", "k" * 64, compute))
    assert len(calls) == 1
    for result in (first, second):
        for name, array in footprints.to_arrays().items():
            np.testing.assert_array_equal(result.to_arrays()[name], array)


def test_damaged_entry_is_recomputed_and_disabled_cache_always_computes(tmp_path):
    cache = ArtifactCache(tmp_path)
    (tmp_path / f"fp-{'a' * 32}.npz").write_bytes(b"not an npz file")
    result = cache.load_or_compute("fp", "a" * 64, lambda: {"x": np.arange(3)})
    np.testing.assert_array_equal(result["x"], np.arange(3))
    with np.load(tmp_path / f"fp-{'a' * 32}.npz") as stored:
        np.testing.assert_array_equal(stored["x"], np.arange(3))

    calls = []
    disabled = ArtifactCache(None)
    for _ in range(2):
        disabled.load_or_compute("fp", "b" * 64, lambda: calls.append(1) or {"x": np.zeros(1)})
    assert len(calls) == 2
    assert not any(tmp_path.glob("fp-b*"))


def test_code_fingerprint_follows_every_transport_module(tmp_path):
    """Cached footprints expire when any transport module (not only kernels.py), or the
    met reader and units they read inputs with, changes."""
    import shutil

    from cityflux.transport import base

    source = Path(base.__file__).parent
    package = tmp_path / "cityflux" / "transport"
    shutil.copytree(source, package, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("met.py", "units.py"):
        shutil.copy(source.parent / name, package.parent / name)
    first = base.code_fingerprint(package)
    assert first == base.code_fingerprint(package)
    for path in (package / "plume.py", package / "stacks.py", package.parent / "met.py"):
        original = path.read_text()
        path.write_text(original + "\n# a change\n")
        assert base.code_fingerprint(package) != first, path.name
        path.write_text(original)
    assert base.code_fingerprint(package) == first


def test_transport_model_selects_the_operator():
    import numpy as np

    from cityflux.config import TransportModel
    from cityflux.grid import Grid
    from cityflux.met import Meteorology
    from cityflux.transport.base import make_transport
    from cityflux.transport.plume import GaussianPlumeTransport

    settings = TransportConfig()
    assert settings.model is TransportModel.GAUSSIAN_PLUME
    grid = Grid("EPSG:32650", 0.0, 2000.0, 1000.0, 0.0, 2000.0, 1000.0)
    met = Meteorology(np.array(["2025-01-01T00"], dtype="datetime64[ns]"), {})
    transport = make_transport(settings, grid, met, np.datetime64("2025-01-01T00"))
    assert isinstance(transport, GaussianPlumeTransport)
    assert transport.hours_back == settings.hours_back
