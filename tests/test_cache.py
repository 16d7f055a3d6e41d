"""The artefact cache: keys follow the inputs, entries round-trip, damage is recomputed."""

import dataclasses

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
