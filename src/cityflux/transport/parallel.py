"""Footprints of many receptors mapped over dask, cached per receptor and resumable.

:func:`map_receptors` splits the receptors into chunks, computes the chunks whose receptors
are not in the cache on a dask scheduler, and stores each receptor's footprints in the
cache as soon as its chunk returns. A rerun loads everything and computes nothing; a run
that was killed or failed halfway computes only the receptors it had not stored.

Schedulers (the ``scheduler`` argument, or the config's / ``--scheduler``'s text):

=====================  ===============================================================
``None``, ``threads``  dask's threaded scheduler in this process, one thread per core
``threads:N``          the same with N threads
``synchronous``        one receptor chunk after the other in this thread (debugging)
``local:N``            a ``dask.distributed`` ``LocalCluster`` of N worker processes
                       (one thread each), started for the call and closed after it;
                       ``local`` alone: one process per core
``tcp://host:port``    the ``dask.distributed`` scheduler at that address (any
                       ``<protocol>://`` address); its workers need cityflux installed
a ``Client``           an open ``dask.distributed.Client``, used as it is
=====================  ===============================================================

Whatever the scheduler, the footprints are gathered in receptor order and are identical,
provided ``compute`` is deterministic *per receptor*: a receptor's footprints must not
depend on which other receptors share its chunk, on the order chunks run in, or on the
process or thread that runs them. A stochastic model must therefore draw each receptor's
random numbers from a stream of its own, derived from the config seed and the receptor
(:func:`receptor_seeds`), never from one generator advanced from receptor to receptor.

Cache keys: ``key_parts`` (everything but the receptor: met file content, settings, seed,
code fingerprint) is hashed once; each receptor's key adds its position, inlet height, hour
and index in the receptor stream. With the index, an entry serves only the same receptor
at the same place in the same stream: receptors added or removed before it are recomputed
after the change. The hour counts from the period start, which ``key_parts`` must
therefore hold too (``Transport.cache_parts()`` does).

Results travel back to this process, which alone writes the cache (atomically, one entry
per receptor, as each chunk returns): workers need no access to the cache folder, and a
kill loses at most the chunks in flight. ``compute`` is sent to every worker once; for a
distributed scheduler it must pickle, and the module that defines it must be importable
on the workers (or registered with ``cloudpickle.register_pickle_by_value``).

Numba kernels: each of the W threads of the threaded scheduler runs its kernels on
``numba threads / W`` threads (no oversubscription); numba's ``workqueue`` threading
layer cannot be entered from several threads at once, so with it receptors are computed
on one thread (install ``tbb``, or use ``local:N``). Each worker of ``local:N`` uses
``cores / N`` numba threads.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import uuid
from collections.abc import Callable

import numpy as np

from ..cache import ArtifactCache, cache_key
from ..errors import ConfigError, brief
from .base import Receptors
from .footprints import Footprints

log = logging.getLogger(__name__)

#: Cache entry name of one receptor's footprints.
ENTRY_NAME = "footprint"
#: Largest chunk of receptors per task when the chunk size is automatic.
MAX_CHUNK = 64
#: Chunks per worker aimed at when the chunk size is automatic (load balance).
CHUNKS_PER_WORKER = 4


class SchedulerError(ConfigError):
    """The scheduler text is not understood, or its cluster cannot be reached."""


def map_receptors(compute: Callable[[Receptors], Footprints], receptors: Receptors,
                  key_parts: tuple, cache: ArtifactCache | None, scheduler=None,
                  chunk: int | None = None, progress: bool = False) -> Footprints:
    """Footprints of every receptor, from the cache or computed over dask.

    Parameters
    ----------
    compute : callable
        ``compute(receptor_subset) -> Footprints`` with one observation per receptor of the
        subset, in its order: e.g. a transport's ``surface_footprints``. Deterministic per
        receptor (module docstring); picklable for a distributed scheduler.
    receptors : Receptors
    key_parts : tuple
        Everything the footprints depend on besides the receptor (met file content,
        transport settings, period start, seed, code fingerprint: e.g.
        ``transport.cache_parts()``), hashed once; each receptor's key adds its position,
        height, hour and index.
    cache : ArtifactCache or None
        Where each receptor's footprints are stored; None or a disabled cache: no caching.
    scheduler : None, str or dask.distributed.Client
        Where the chunks are computed (module docstring).
    chunk : int, optional
        Receptors per task; default: enough chunks to keep every worker busy, at most
        :data:`MAX_CHUNK` receptors each.
    progress : bool
        Show a progress bar over receptors.

    Returns
    -------
    Footprints
        One observation per receptor, in receptor order.
    """
    n = len(receptors)
    if chunk is not None and chunk < 1:
        raise ValueError(f"chunk must be at least 1 receptor, not {chunk}")
    executor = _Executor(scheduler)    # checks the text now; starts nothing yet
    if n == 0:
        return compute(receptors)
    cache = cache if cache is not None else ArtifactCache(None)
    keys = receptor_keys(receptors, key_parts)
    parts: list[Footprints | None] = [None] * n
    for i, key in enumerate(keys):
        stored = cache.load(ENTRY_NAME, key, required=_ARRAYS)
        if stored is not None:
            parts[i] = Footprints.from_arrays(stored)
    missing = np.flatnonzero([p is None for p in parts])
    log.info("footprints: %d receptor(s), %d from the cache, %d to compute", n,
             n - missing.size, missing.size)
    if missing.size == 0:
        return Footprints.concatenate(parts)

    def done(rows: np.ndarray, results: list[dict]) -> None:
        for row, arrays in zip(rows, results):
            parts[row] = Footprints.from_arrays(arrays)
            cache.store(ENTRY_NAME, keys[row], arrays)
        bar.update(len(rows))

    bar = _progress_bar(n, n - missing.size, progress)
    try:
        with executor:
            size = chunk or _auto_chunk(missing.size, executor.workers)
            chunks = [missing[i:i + size] for i in range(0, missing.size, size)]
            executor.run(compute, receptors, chunks, done)
    finally:
        bar.close()
    return Footprints.concatenate(parts)


def check_scheduler(scheduler, where: str = "scheduler") -> None:
    """Refuse a scheduler text that is not understood (nothing is started)."""
    try:
        _Executor(scheduler)
    except SchedulerError as exc:
        raise SchedulerError(f"{where}: {exc}") from None


def receptor_keys(receptors: Receptors, key_parts: tuple) -> list[str]:
    """The cache key of each receptor: ``key_parts`` (hashed once) with the receptor's
    position, inlet height, hour and index in the stream."""
    base = cache_key("receptor-footprints", *key_parts)
    return [cache_key(base, i, float(x), float(y), float(h), int(hour))
            for i, (x, y, h, hour) in enumerate(zip(receptors.x, receptors.y,
                                                    receptors.height, receptors.hour))]


def receptor_seeds(seed: int, receptors: Receptors) -> np.ndarray:
    """A 64-bit seed per receptor, from the config ``seed`` and what the receptor's cache key
    holds of it (position, inlet height, hour): the same whatever chunk, order, thread or
    process computes the receptor. Use it as ``np.random.default_rng(receptor_seed)`` or
    as the base of a kernel's per-particle streams.

    Returns
    -------
    ndarray of uint64 (n_receptors,)
    """
    seeds = np.empty(len(receptors), np.uint64)
    for i in range(len(receptors)):
        text = (f"{int(seed)}|{float(receptors.x[i])!r}|{float(receptors.y[i])!r}|"
                f"{float(receptors.height[i])!r}|{int(receptors.hour[i])}")
        seeds[i] = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return seeds


# --------------------------------------------------------------------------- tasks

_ARRAYS = ("obs_hour", "rows", "cells", "hours_back", "values", "n_cells")


def _compute_chunk(compute, subset: Receptors, numba_threads: int | None) -> list[dict]:
    """Run ``compute`` on ``subset`` and split its footprints per receptor (as arrays)."""
    if numba_threads:
        import numba

        previous = numba.get_num_threads()
        numba.set_num_threads(max(1, min(numba_threads, numba.config.NUMBA_NUM_THREADS)))
        try:
            footprints = compute(subset)
        finally:
            numba.set_num_threads(previous)
    else:
        footprints = compute(subset)
    if footprints.n_obs != len(subset):
        raise ValueError(f"the footprint function returned {footprints.n_obs} observations "
                         f"for {len(subset)} receptors; expected one per receptor")
    return [part.to_arrays() for part in split_receptors(footprints)]


def split_receptors(footprints: Footprints) -> list[Footprints]:
    """One :class:`Footprints` per observation, keeping the order of its entries
    (``Footprints.concatenate`` of the result gives back ``footprints``)."""
    order = np.argsort(footprints.rows, kind="stable")
    bounds = np.searchsorted(footprints.rows[order], np.arange(footprints.n_obs + 1))
    parts = []
    for i in range(footprints.n_obs):
        take = order[bounds[i]:bounds[i + 1]]
        parts.append(Footprints(footprints.obs_hour[i:i + 1],
                                np.zeros(take.size, footprints.rows.dtype),
                                footprints.cells[take], footprints.hours_back[take],
                                footprints.values[take], footprints.n_cells,
                                None if footprints.background is None
                                else footprints.background[i:i + 1]))
    return parts


def _auto_chunk(n_missing: int, workers: int) -> int:
    return max(1, min(MAX_CHUNK, math.ceil(n_missing / (CHUNKS_PER_WORKER * workers))))


def _thread_safe_count(threads: int) -> int:
    """``threads``, or 1 when numba's threading layer cannot be entered from several
    threads at once (``workqueue``)."""
    if threads <= 1:
        return threads
    import numba

    numba.get_num_threads()         # starts numba's thread pool, choosing its layer
    if numba.threading_layer() == "workqueue":
        log.warning("footprints: numba's 'workqueue' threading layer cannot run kernels "
                    "from several threads; computing receptors on one thread (install "
                    "tbb, or use the scheduler 'local:N')")
        return 1
    return threads


def _progress_bar(total: int, initial: int, show: bool):
    from tqdm import tqdm  # plain tqdm: the terminal one, no notebook widget needed

    return tqdm(total=total, initial=initial, desc="footprints", unit="receptor",
                disable=not show, leave=False)


# --------------------------------------------------------------------------- schedulers


class _Executor:
    """Runs chunk tasks on the scheduler a ``scheduler`` argument names (module docstring);
    ``run`` calls ``done(rows, results)`` in this thread as each chunk finishes, and stops
    at the first failing chunk after handing over every chunk that had finished."""

    def __init__(self, scheduler):
        self.scheduler = scheduler
        self.client = self.cluster = None
        self.address = self.cluster_workers = None
        self.threads = None
        self.synchronous = False
        self.numba_threads = None
        self.workers = 1
        self._own_client = False
        self._parse(scheduler)

    def _parse(self, scheduler) -> None:
        cores = os.cpu_count() or 1
        if scheduler is None or scheduler == "threads":
            self.threads = cores
        elif isinstance(scheduler, str) and scheduler == "synchronous":
            self.synchronous = True
        elif isinstance(scheduler, str) and scheduler.startswith(("threads:", "local:")):
            kind, _, count = scheduler.partition(":")
            if not count.isdigit() or int(count) < 1:
                raise SchedulerError(f"scheduler {scheduler!r}: expected '{kind}:N' with N a "
                                     "whole number of at least 1")
            if kind == "threads":
                self.threads = int(count)
            else:
                self.cluster_workers = int(count)
        elif scheduler == "local":
            self.cluster_workers = cores
        elif isinstance(scheduler, str) and "://" in scheduler:
            self.address = scheduler
        elif isinstance(scheduler, str):
            raise SchedulerError(f"scheduler {scheduler!r} not understood; expected "
                                 "'threads', 'threads:N', 'synchronous', 'local:N' or a "
                                 "dask scheduler address such as 'tcp://host:8786'")
        elif hasattr(scheduler, "submit") and hasattr(scheduler, "scheduler_info"):
            self.client = scheduler
        else:
            raise SchedulerError(f"scheduler {scheduler!r}: expected a text or a "
                                 "dask.distributed Client")

    def __enter__(self):
        if self.synchronous:
            return self
        if self.threads is not None:
            import numba

            self.threads = self.workers = _thread_safe_count(self.threads)
            self.numba_threads = max(1, numba.config.NUMBA_NUM_THREADS // self.threads)
            return self
        from distributed import Client, LocalCluster

        if self.cluster_workers is not None:
            self.cluster = LocalCluster(n_workers=self.cluster_workers, threads_per_worker=1,
                                        processes=True, dashboard_address="127.0.0.1:0",
                                        silence_logs=logging.ERROR)
            self.client = Client(self.cluster)
            self._own_client = True
            self.numba_threads = max(1, (os.cpu_count() or 1) // self.cluster_workers)
        elif self.client is None:
            try:
                self.client = Client(self.address, timeout="20s")
            except (OSError, TimeoutError) as exc:
                raise SchedulerError(f"cannot reach the dask scheduler at {self.address}: "
                                     f"{brief(exc)}") from None
            self._own_client = True
        self.workers = max(1, sum(w.get("nthreads", 1) for w in
                                  self.client.scheduler_info()["workers"].values()))
        log.info("footprints: dask.distributed scheduler %s, %d worker thread(s)",
                 self.client.scheduler.address, self.workers)
        return self

    def __exit__(self, *exc) -> None:
        if self._own_client:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def run(self, compute, receptors: Receptors, chunks: list[np.ndarray], done) -> None:
        if self.client is not None:
            self._run_distributed(compute, receptors, chunks, done)
        else:
            self._run_local(compute, receptors, chunks, done)

    def _run_local(self, compute, receptors, chunks, done) -> None:
        import dask
        from dask.callbacks import Callback

        tag = uuid.uuid4().hex[:12]
        names = {f"cityflux-receptors-{tag}-{c}": rows for c, rows in enumerate(chunks)}
        tasks = [dask.delayed(_compute_chunk, pure=False)(
                     compute, receptors.subset(rows), self.numba_threads, dask_key_name=name)
                 for name, rows in names.items()]

        class _Collect(Callback):
            def _posttask(self, key, result, dsk, state, worker_id):
                if key in names:
                    done(names[key], result)

        options = ({"scheduler": "synchronous"} if self.synchronous
                   else {"scheduler": "threads", "num_workers": self.threads})
        with _Collect():
            dask.compute(*tasks, optimize_graph=False, **options)

    def _run_distributed(self, compute, receptors, chunks, done) -> None:
        from distributed import as_completed

        remote = self.client.scatter(compute, broadcast=True, hash=False)
        futures = [self.client.submit(_compute_chunk, remote, receptors.subset(rows),
                                      self.numba_threads, pure=False) for rows in chunks]
        rows_of = {future.key: rows for future, rows in zip(futures, chunks)}
        handed = set()

        def hand_over(future) -> None:
            done(rows_of[future.key], future.result())
            handed.add(future.key)
            future.release()

        try:
            for future in as_completed(futures):
                if future.status == "error":
                    self.client.cancel([f for f in futures if f.status == "pending"])
                    for other in futures:      # keep what had finished before failing
                        if other.status == "finished" and other.key not in handed:
                            hand_over(other)
                    future.result()            # raises the task's exception
                hand_over(future)
        finally:
            self.client.cancel([f for f in futures if f.status == "pending"])
