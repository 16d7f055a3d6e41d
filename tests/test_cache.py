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


# --------------------------------------------------------------------------- faults


import logging
import os
import subprocess
import sys
import time

import pytest

from cityflux.cache import MAX_WARNINGS, CacheFolderError
from cityflux.io import STALE_AFTER_SECONDS, remove_stale_temporaries, staged_directory


def _entry(folder, key):
    return folder / f"fp-{key[:32]}.npz"


def _warnings(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("damage", ["empty", "truncated", "foreign"])
def test_an_unreadable_entry_counts_as_missing_with_a_warning(tmp_path, caplog, damage):
    cache = ArtifactCache(tmp_path)
    key = "c" * 64
    cache.load_or_compute("fp", key, lambda: {"x": np.arange(1000.0), "y": np.ones(7)})
    path = _entry(tmp_path, key)
    if damage == "empty":
        path.write_bytes(b"")                                     # EOFError before
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # BadZipFile before
    else:
        np.savez(path, z=np.zeros(2))                              # a readable npz, wrong arrays
    with caplog.at_level(logging.WARNING, logger="cityflux"):
        assert cache.load("fp", key, required=("x", "y")) is None
        result = cache.load_or_compute("fp", key, lambda: {"x": np.arange(3.0), "y": np.ones(1)},
                                       required=("x", "y"))
    np.testing.assert_array_equal(result["x"], np.arange(3.0))
    np.testing.assert_array_equal(cache.load("fp", key, required=("x",))["x"], np.arange(3.0))
    messages = _warnings(caplog)
    assert messages and all("unreadable" in m and str(path) in m and "\n" not in m
                            for m in messages)


def test_a_folder_where_an_entry_should_be_warns_and_is_left_alone(tmp_path, caplog):
    cache = ArtifactCache(tmp_path)
    key = "d" * 64
    _entry(tmp_path, key).mkdir()
    (_entry(tmp_path, key) / "mine.txt").write_text("keep me")
    calls = []
    with caplog.at_level(logging.WARNING, logger="cityflux"):
        for _ in range(2):
            result = cache.load_or_compute("fp", key,
                                           lambda: calls.append(1) or {"x": np.arange(2)})
    np.testing.assert_array_equal(result["x"], np.arange(2))
    assert len(calls) == 2
    assert (_entry(tmp_path, key) / "mine.txt").read_text() == "keep me"
    messages = _warnings(caplog)
    assert len(messages) == 4 and all("not a file" in m or "in the way" in m for m in messages)
    assert not list(tmp_path.glob(".*"))  # no temporary left behind


@pytest.mark.parametrize("where", ["folder", "parent"])
def test_a_file_where_the_cache_folder_should_be_is_one_clear_line(tmp_path, where):
    blocker = tmp_path / "cache"
    blocker.write_text("data")
    folder = blocker if where == "folder" else blocker / "sub"
    with pytest.raises(CacheFolderError) as error:
        ArtifactCache(folder)
    message = str(error.value)
    assert "\n" not in message and str(folder) in message and "cache_dir" in message
    assert blocker.read_text() == "data"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_an_entry_that_cannot_be_written_warns_and_the_run_goes_on(tmp_path, caplog):
    cache = ArtifactCache(tmp_path / "cache")
    os.chmod(tmp_path / "cache", 0o500)
    try:
        with caplog.at_level(logging.WARNING, logger="cityflux"):
            result = cache.load_or_compute("fp", "e" * 64, lambda: {"x": np.arange(2)})
    finally:
        os.chmod(tmp_path / "cache", 0o700)
    np.testing.assert_array_equal(result["x"], np.arange(2))
    assert any("cannot store" in m for m in _warnings(caplog))


def test_fault_warnings_are_capped(tmp_path, caplog):
    cache = ArtifactCache(tmp_path)
    for i in range(MAX_WARNINGS + 5):
        _entry(tmp_path, f"{i:064d}").write_bytes(b"")
    with caplog.at_level(logging.WARNING, logger="cityflux"):
        for i in range(MAX_WARNINGS + 5):
            assert cache.load("fp", f"{i:064d}") is None
    assert len(_warnings(caplog)) == MAX_WARNINGS + 1  # and one saying the rest go to debug


# --------------------------------------------------------------------------- stale temporaries

KILLED_WRITE = """
import os, signal, sys
from pathlib import Path
from cityflux.io import staged_directory, temporary_beside
target = Path(sys.argv[2])
if sys.argv[1] == "file":
    with temporary_beside(target) as tmp:
        tmp.write_bytes(b"half an npz")
        os.kill(os.getpid(), signal.SIGKILL)
else:
    with staged_directory(target) as staging:
        (staging / "posterior.nc").write_bytes(b"half a file")
        os.kill(os.getpid(), signal.SIGKILL)
"""


def _killed_write(kind, target):
    """Run a process that is killed while writing ``target``: what it leaves behind."""
    before = set(target.parent.iterdir()) if target.parent.exists() else set()
    result = subprocess.run([sys.executable, "-c", KILLED_WRITE, kind, str(target)],
                            check=False)
    assert result.returncode == -9
    return sorted(set(target.parent.iterdir()) - before)


def _dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _age(path, seconds):
    stamp = time.time() - seconds
    os.utime(path, (stamp, stamp))


def test_opening_the_cache_removes_the_temporaries_of_killed_runs(tmp_path, caplog):
    folder = tmp_path / "cache"
    ArtifactCache(folder).load_or_compute("fp", "a" * 64, lambda: {"x": np.arange(2)})
    left = _killed_write("file", _entry(folder, "b" * 64))
    assert len(left) == 1 and left[0].name.startswith(".fp-bbbb") and left[0].suffix == ".tmp"
    owner = left[0].name.split(".pid")[1].split("@")[0]  # the killed process's PID
    assert owner.isdigit() and int(owner) != os.getpid()

    host = "elsewhere"
    hour = STALE_AFTER_SECONDS
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        me = f"pid{os.getpid()}@{_this_host()}"
        cases = {  # name -> removed?
            f".fp-{'c' * 32}.npz.pid{_dead_pid()}@{_this_host()}.abcd_123.tmp": True,
            f".fp-{'d' * 32}.npz.{me}.abcd_123.tmp": False,                 # our own
            f".fp-{'e' * 32}.npz.pid{live.pid}@{_this_host()}.abcd_123.tmp": False,  # alive
            f".fp-{'f' * 32}.npz.pid{live.pid}@{_this_host()}.zyxw_987.tmp": True,   # reused
            f".fp-{'g' * 32}.npz.pid12@{host}.abcd_123.tmp": False,          # another host
            f".fp-{'h' * 32}.npz.pid12@{host}.zyxw_987.tmp": True,           # ... long idle
            f".fp-{'i' * 32}.npz.abcd_123.tmp": False,                        # no owner, fresh
            f".fp-{'j' * 32}.npz.zyxw_987.tmp": True,                         # no owner, old
            ".notes.txt": False, "user.tmp": False, ".hidden.tmp": False,    # not ours
        }
        for name in cases:
            (folder / name).write_text("x")
        for name in cases:
            if "zyxw_987" in name:
                _age(folder / name, 2 * hour if "pid" not in name or host in name else 60)
        with caplog.at_level(logging.INFO, logger="cityflux"):
            ArtifactCache(folder)
        for name, removed in cases.items():
            assert (folder / name).exists() != removed, name
        assert not left[0].exists()
        assert ArtifactCache(folder).load("fp", "a" * 64)["x"].tolist() == [0, 1]
        lines = [r.getMessage() for r in caplog.records if "stale" in r.getMessage()]
        assert len(lines) == 1 and "removed 5 stale temporaries" in lines[0]
    finally:
        live.kill()
        live.wait()


def _this_host():
    from cityflux.io import _host

    return _host()


def test_a_new_output_removes_the_staging_folders_of_killed_runs(tmp_path, caplog):
    target = tmp_path / "out"
    with staged_directory(target) as staging:
        (staging / "posterior.nc").write_text("good")
    left = _killed_write("folder", target)
    assert len(left) == 1 and left[0].name.startswith(".out.partial-pid")
    other = tmp_path / f".other.partial-pid{_dead_pid()}@{_this_host()}.abcd_123"
    other.mkdir()                                   # another target's: not this write's
    legacy = tmp_path / ".out.partial-abcd_123"    # from a version without owners, old
    (legacy / "plots").mkdir(parents=True)
    _age(legacy / "plots", 2 * STALE_AFTER_SECONDS)
    _age(legacy, 2 * STALE_AFTER_SECONDS)
    busy = tmp_path / ".out.partial-zyxw_987"      # no owner, but written to a minute ago
    (busy / "plots").mkdir(parents=True)
    _age(busy, 2 * STALE_AFTER_SECONDS)
    _age(busy / "plots", 60)
    with caplog.at_level(logging.INFO, logger="cityflux"), staged_directory(target) as staging:
        (staging / "posterior.nc").write_text("better")
    assert (target / "posterior.nc").read_text() == "better"
    assert not left[0].exists() and not legacy.exists()
    assert other.exists() and busy.exists()
    assert any("removed 2 stale temporaries" in r.getMessage() for r in caplog.records)


def test_the_previous_output_of_an_interrupted_swap_is_kept(tmp_path, caplog):
    old = tmp_path / f".out.old-pid{_dead_pid()}@{_this_host()}.abcd_123"
    (old / "out").mkdir(parents=True)               # killed between the two renames
    with caplog.at_level(logging.WARNING, logger="cityflux"):
        assert remove_stale_temporaries(tmp_path, "out") == []
    assert old.exists() and any("move it back" in m for m in _warnings(caplog))
    (tmp_path / "out").mkdir()                       # a newer output is in place
    assert remove_stale_temporaries(tmp_path, "out") == [old]
