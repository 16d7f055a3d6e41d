"""Footprints mapped over dask: the same on every scheduler, cached per receptor, resumable,
and robust to a damaged cache."""

import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from cityflux.cache import ArtifactCache, CacheFolderError
from cityflux.transport.base import Receptors
from cityflux.transport.footprints import Footprints
from cityflux.transport.parallel import (
    ENTRY_NAME,
    SchedulerError,
    map_receptors,
    receptor_keys,
    receptor_seeds,
    split_receptors,
)

N_CELLS = 50
KEY = ("fake transport", 1)


def fake_footprints(receptors: Receptors) -> Footprints:
    """A cheap deterministic footprint per receptor: 1-5 entries depending on the receptor
    only (module level so that it pickles to worker processes)."""
    rows, cells, hours_back, values = [], [], [], []
    for i in range(len(receptors)):
        k = int(receptors.hour[i]) % 5 + 1
        rng = np.random.default_rng(int(receptor_seeds(7, receptors.subset([i]))[0]))
        rows += [i] * k
        cells += list(rng.choice(N_CELLS, k, replace=False))
        hours_back += list(range(k))
        values += list(rng.uniform(0.0, 1.0, k) * receptors.height[i])
    return Footprints(np.asarray(receptors.hour, np.int64), np.array(rows, np.int64),
                      np.array(cells, np.int64), np.array(hours_back, np.int64),
                      np.array(values, float), N_CELLS)


class CountingFootprints:
    """``fake_footprints`` that records every receptor (by hour) it computes and raises
    once ``fail_after`` receptors have been computed."""

    def __init__(self, fail_after=None, delay=0.0):
        self.fail_after, self.delay = fail_after, delay
        self.hours = []
        self.lock = threading.Lock()

    def __call__(self, receptors):
        with self.lock:
            if self.fail_after is not None and len(self.hours) + len(receptors) > self.fail_after:
                raise RuntimeError("simulated crash")
            self.hours += [int(h) for h in receptors.hour]
        time.sleep(self.delay)
        return fake_footprints(receptors)


def make_receptors(n=30):
    rng = np.random.default_rng(3)
    return Receptors(np.array(["tower-a", "tower-b", "bg"] * (n // 3 + 1))[:n],
                     rng.uniform(0.0, 5000.0, n), rng.uniform(0.0, 5000.0, n),
                     rng.choice([10.0, 50.0, 100.0], n), np.arange(n, dtype=np.int64))


def assert_same(result: Footprints, expected: Footprints):
    for name, array in expected.to_arrays().items():
        got = result.to_arrays()[name]
        assert got.dtype == array.dtype, name
        np.testing.assert_array_equal(got, array, err_msg=name)


def stored_hours(cache: ArtifactCache, receptors: Receptors) -> set:
    keys = receptor_keys(receptors, KEY)
    return {int(h) for h, key in zip(receptors.hour, keys)
            if cache.path(ENTRY_NAME, key).is_file()}


# --------------------------------------------------------------------------- schedulers


@pytest.mark.parametrize("scheduler, chunk", [(None, None), ("threads:3", 1), ("threads:2", 7),
                                              ("synchronous", 4)])
def test_threads_give_the_serial_footprints(tmp_path, scheduler, chunk):
    receptors = make_receptors()
    serial = fake_footprints(receptors)
    cache = ArtifactCache(tmp_path / "cache")
    assert_same(map_receptors(fake_footprints, receptors, KEY, cache, scheduler, chunk,
                              progress=scheduler is None), serial)
    assert len(list((tmp_path / "cache").glob(f"{ENTRY_NAME}-*.npz"))) == len(receptors)
    assert_same(map_receptors(fake_footprints, receptors, KEY, None, scheduler, chunk), serial)


def test_split_receptors_round_trips_and_keeps_empty_receptors():
    footprints = Footprints(np.array([4, 5, 6]), np.array([2, 0, 2, 0]), np.array([1, 2, 3, 4]),
                            np.array([0, 1, 2, 3]), np.array([1.0, 2.0, 3.0, 4.0]), 9)
    parts = split_receptors(footprints)
    assert [p.values.tolist() for p in parts] == [[2.0, 4.0], [], [1.0, 3.0]]
    assert all(p.n_obs == 1 and not p.rows.any() for p in parts)
    joined = Footprints.concatenate(parts)
    assert joined.rows.tolist() == [0, 0, 2, 2] and joined.cells.tolist() == [2, 4, 1, 3]
    np.testing.assert_array_equal(joined.time_integrated().toarray(),
                                  footprints.time_integrated().toarray())


def test_keys_follow_the_receptor_and_the_key_parts():
    receptors = make_receptors(6)
    keys = receptor_keys(receptors, KEY)
    assert len(set(keys)) == 6 and keys == receptor_keys(receptors, KEY)
    assert not set(keys) & set(receptor_keys(receptors, ("fake transport", 2)))
    moved = Receptors(receptors.site, receptors.x.copy(), receptors.y, receptors.height,
                      receptors.hour)
    moved.x[2] += 1e-9
    changed = [a != b for a, b in zip(keys, receptor_keys(moved, KEY))]
    assert changed == [False, False, True, False, False, False]


def test_receptor_seeds_do_not_depend_on_the_chunk():
    receptors = make_receptors(9)
    seeds = receptor_seeds(11, receptors)
    assert np.unique(seeds).size == 9
    np.testing.assert_array_equal(receptor_seeds(11, receptors.subset([4, 7])), seeds[[4, 7]])
    assert not set(receptor_seeds(12, receptors)) & set(seeds)


@pytest.mark.parametrize("scheduler", ["bogus", "local:0", "threads:x", 3])
def test_an_unknown_scheduler_is_one_clear_line(tmp_path, scheduler):
    with pytest.raises(SchedulerError) as error:
        map_receptors(fake_footprints, make_receptors(3), KEY, None, scheduler)
    assert "\n" not in str(error.value) and "expected" in str(error.value)


def test_a_bad_scheduler_or_chunk_fails_even_when_everything_is_cached(tmp_path):
    receptors = make_receptors(3)
    map_receptors(fake_footprints, receptors, KEY, ArtifactCache(tmp_path))
    with pytest.raises(SchedulerError):
        map_receptors(fake_footprints, receptors, KEY, ArtifactCache(tmp_path), "lcoal:2")
    with pytest.raises(ValueError, match="chunk"):
        map_receptors(fake_footprints, receptors, KEY, ArtifactCache(tmp_path), chunk=0)


def test_a_distributed_client_by_address_gives_the_serial_footprints(tmp_path):
    from distributed import LocalCluster

    receptors = make_receptors()
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                      dashboard_address="127.0.0.1:0") as cluster:
        result = map_receptors(fake_footprints, receptors, KEY, ArtifactCache(tmp_path),
                               cluster.scheduler_address, chunk=4)
    assert_same(result, fake_footprints(receptors))
    assert len(stored_hours(ArtifactCache(tmp_path), receptors)) == len(receptors)


@pytest.mark.slow
def test_a_local_cluster_of_processes_gives_the_serial_footprints(tmp_path):
    """'local:2': two worker processes; a fake model, the plume and the particle model."""
    import cloudpickle

    module = sys.modules[fake_footprints.__module__]
    cloudpickle.register_pickle_by_value(module)  # the test module is not importable there
    try:
        receptors = make_receptors()
        transport, plume_receptors = plume_case()
        serial_plume = transport.surface_footprints(plume_receptors)  # compiles the kernels
        particles = particle_case(transport)
        serial_particles = particles.surface_footprints(plume_receptors)
        from distributed import Client, LocalCluster

        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address="127.0.0.1:0") as cluster, Client(cluster) as client:
            pids = set(client.run(os.getpid).values())
            fake = map_receptors(fake_footprints, receptors, KEY, ArtifactCache(tmp_path / "a"),
                                 client, chunk=3)
            plume = map_receptors(transport.surface_footprints, plume_receptors,
                                  transport.cache_parts(), None, client, chunk=2)
            particle = map_receptors(particles.surface_footprints, plume_receptors,
                                     particles.cache_parts(), None, client, chunk=3)
        assert len(pids) == 2 and os.getpid() not in pids
        assert_same(fake, fake_footprints(receptors))
        assert_same(plume, serial_plume)
        assert_same(particle, serial_particles)
        # the scheduler text starts (and closes) a cluster of its own
        again = map_receptors(fake_footprints, receptors, KEY, None, "local:2")
        assert_same(again, fake_footprints(receptors))
    finally:
        cloudpickle.unregister_pickle_by_value(module)


def particle_case(plume):
    """The particle model on the plume case's grid, in a uniform field."""
    from cityflux.config import ParticlesConfig, TransportConfig, TransportModel
    from cityflux.synthetic.met_fields import uniform_met_field
    from cityflux.transport.particle_transport import ParticleTransport

    settings = TransportConfig(model=TransportModel.PARTICLES, hours_back=6,
                               particles=ParticlesConfig(n_particles=100))
    met = uniform_met_field(plume.grid, plume.start, 30, speed_m_s=4.0)
    return ParticleTransport(settings, plume.grid, met, plume.start, 7)


def plume_case():
    from cityflux.config import TransportConfig
    from cityflux.grid import Grid
    from cityflux.met import Meteorology
    from cityflux.transport.plume import GaussianPlumeTransport

    n_hours = 30
    hours = np.arange(n_hours)
    turn = np.deg2rad(15.0 * hours)
    values = {"eastward_wind": 4.0 * np.cos(turn), "northward_wind": 4.0 * np.sin(turn),
              "boundary_layer_height": np.full(n_hours, 800.0),
              "air_temperature": np.full(n_hours, 290.0),
              "surface_pressure": np.full(n_hours, 101325.0),
              "obukhov_length": np.where(hours % 2, -50.0, 200.0)}
    start = np.datetime64("2025-06-01T00", "ns")
    met = Meteorology(start + hours * np.timedelta64(1, "h"), values)
    grid = Grid("EPSG:32650", 400000.0, 406000.0, 1000.0, 3500000.0, 3506000.0, 1000.0)
    settings = TransportConfig(hours_back=6)
    transport = GaussianPlumeTransport(settings, grid, met, start)
    n = 10
    receptors = Receptors(np.array(["t"] * n), 403000.0 + 100.0 * (np.arange(n) % 3),
                          np.full(n, 3503000.0), np.full(n, 30.0),
                          np.arange(n, dtype=np.int64) + 6)
    return transport, receptors


def test_the_plume_transport_on_threads_gives_its_serial_footprints(tmp_path):
    transport, receptors = plume_case()
    serial = transport.surface_footprints(receptors)
    assert serial.values.size > 0
    result = map_receptors(transport.surface_footprints, receptors, transport.cache_parts(),
                           ArtifactCache(tmp_path), "threads:2", chunk=3)
    assert_same(result, serial)
    cached = map_receptors(transport.surface_footprints, receptors, transport.cache_parts(),
                           ArtifactCache(tmp_path), "threads:2")
    assert_same(cached, serial)


# --------------------------------------------------------------------------- resuming


def test_a_rerun_computes_nothing(tmp_path):
    receptors = make_receptors()
    first, second = CountingFootprints(), CountingFootprints()
    map_receptors(first, receptors, KEY, ArtifactCache(tmp_path), chunk=4)
    assert sorted(first.hours) == receptors.hour.tolist()
    result = map_receptors(second, receptors, KEY, ArtifactCache(tmp_path), "local:2", chunk=4)
    assert second.hours == []  # and no cluster was needed
    assert_same(result, fake_footprints(receptors))


def test_an_interrupted_run_computes_only_the_missing_receptors(tmp_path):
    receptors, k = make_receptors(), 7
    crashing = CountingFootprints(fail_after=k)
    with pytest.raises(RuntimeError, match="simulated crash"):
        map_receptors(crashing, receptors, KEY, ArtifactCache(tmp_path), "synchronous", chunk=1)
    assert len(crashing.hours) == k
    assert stored_hours(ArtifactCache(tmp_path), receptors) == set(crashing.hours)
    resumed = CountingFootprints()
    result = map_receptors(resumed, receptors, KEY, ArtifactCache(tmp_path), "threads:3",
                           chunk=2)
    assert len(resumed.hours) == len(receptors) - k
    assert sorted(resumed.hours + crashing.hours) == receptors.hour.tolist()
    assert_same(result, fake_footprints(receptors))


def test_an_interrupted_threaded_run_keeps_every_finished_chunk(tmp_path):
    receptors = make_receptors()
    crashing = CountingFootprints(fail_after=12, delay=0.01)
    with pytest.raises(RuntimeError, match="simulated crash"):
        map_receptors(crashing, receptors, KEY, ArtifactCache(tmp_path), "threads:3", chunk=2)
    stored = stored_hours(ArtifactCache(tmp_path), receptors)
    assert stored <= set(crashing.hours) and len(stored) >= 2
    resumed = CountingFootprints()
    result = map_receptors(resumed, receptors, KEY, ArtifactCache(tmp_path), "threads:3")
    assert sorted(resumed.hours) == sorted(set(receptors.hour.tolist()) - stored)
    assert_same(result, fake_footprints(receptors))


KILLED_RUN = """
import sys, time
sys.path.insert(0, {tests!r})
import numpy as np
from cityflux.cache import ArtifactCache
from cityflux.transport.parallel import map_receptors
from test_parallel import KEY, fake_footprints, make_receptors

def slow(receptors):
    time.sleep(0.05)
    return fake_footprints(receptors)

map_receptors(slow, make_receptors(), KEY, ArtifactCache({cache!r}), "threads:2", chunk=1)
"""


def test_a_killed_run_resumes_where_it_stopped(tmp_path):
    cache_dir = tmp_path / "cache"
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(KILLED_RUN.format(tests=str(Path(__file__).parent),
                                                        cache=str(cache_dir))))
    process = subprocess.Popen([sys.executable, str(script)])
    deadline = time.monotonic() + 60
    while len(list(cache_dir.glob(f"{ENTRY_NAME}-*.npz"))) < 5:
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    receptors = make_receptors()
    stored = stored_hours(ArtifactCache(cache_dir), receptors)
    assert 5 <= len(stored) < len(receptors)
    resumed = CountingFootprints()
    result = map_receptors(resumed, receptors, KEY, ArtifactCache(cache_dir))
    assert sorted(resumed.hours) == sorted(set(receptors.hour.tolist()) - stored)
    assert_same(result, fake_footprints(receptors))
    assert not list(cache_dir.glob(".*"))  # no temporary of the killed run is left


# --------------------------------------------------------------------------- cache faults


def _damage_entries(cache_dir, receptors, how):
    keys = receptor_keys(receptors, KEY)
    damaged = [2, 5, 11]
    for i in damaged:
        path = cache_dir / f"{ENTRY_NAME}-{keys[i][:32]}.npz"
        if how == "empty":
            path.write_bytes(b"")
        elif how == "truncated":
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        elif how == "foreign":
            np.savez(path, something=np.arange(3))
        elif how == "folder":
            path.unlink()
            path.mkdir()
            (path / "inside").write_text("not ours")
    return [int(receptors.hour[i]) for i in damaged]


@pytest.mark.parametrize("how", ["empty", "truncated", "foreign", "folder"])
def test_a_damaged_entry_is_recomputed_with_a_warning(tmp_path, caplog, how):
    receptors = make_receptors()
    map_receptors(fake_footprints, receptors, KEY, ArtifactCache(tmp_path))
    damaged = _damage_entries(tmp_path, receptors, how)
    counting = CountingFootprints()
    with caplog.at_level(logging.WARNING, logger="cityflux"):
        result = map_receptors(counting, receptors, KEY, ArtifactCache(tmp_path))
    assert sorted(counting.hours) == damaged
    assert_same(result, fake_footprints(receptors))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == (6 if how == "folder" else 3)  # a folder: on load and on store
    assert all("\n" not in w and "cache" in w for w in warnings)
    again = CountingFootprints()
    map_receptors(again, receptors, KEY, ArtifactCache(tmp_path))
    assert sorted(again.hours) == (damaged if how == "folder" else [])  # rewritten, or not
    if how == "folder":
        assert len(list(tmp_path.glob(f"{ENTRY_NAME}-*/inside"))) == 3  # left alone


def test_a_file_where_the_cache_folder_should_be_is_one_clear_line(tmp_path):
    blocker = tmp_path / "cache"
    blocker.write_text("a file")
    with pytest.raises(CacheFolderError) as error:
        map_receptors(fake_footprints, make_receptors(3), KEY, ArtifactCache(blocker))
    # raised when the cache is opened, before any footprint is computed
    assert "\n" not in str(error.value) and "is a file" in str(error.value)
    assert blocker.read_text() == "a file"
