"""Throughput of the gridded plume footprint kernel.

Prints receptor x cell footprint evaluations per second for the first call (compile,
or load from numba's on-disk cache if an earlier run left one) and for a warm call.

    PYTHONPATH=src python benchmarks/bench_plume.py [n_receptors] [n_cells_per_side]
"""

import os
import sys
import time

import numba
import numpy as np

from cityflux.transport.kernels import PASQUILL_GIFFORD, plume_footprints


def make_case(n_receptors, n_side, cell_size=1000.0, seed=0):
    """A square grid of n_side^2 cells and receptor-hours with random met."""
    rng = np.random.default_rng(seed)
    centres = (np.arange(n_side) + 0.5) * cell_size
    cx, cy = np.meshgrid(centres, centres, indexing="ij")
    n_cells = n_side * n_side
    cells = (
        cx.ravel(),
        cy.ravel(),
        np.full(n_cells, cell_size**2),
        np.full(n_cells, cell_size / 2),
        np.full(n_cells, cell_size / 2),
        rng.choice([0.0, 10.0, 50.0], n_cells),
    )
    extent = n_side * cell_size
    receptors = (
        rng.uniform(0.2, 0.8, n_receptors) * extent,
        rng.uniform(0.2, 0.8, n_receptors) * extent,
        rng.uniform(2.0, 100.0, n_receptors),
        rng.normal(0.0, 4.0, n_receptors),
        rng.normal(0.0, 4.0, n_receptors),
        rng.uniform(200.0, 1500.0, n_receptors),
        rng.integers(0, 6, n_receptors).astype(np.int64),
        rng.uniform(38.0, 43.0, n_receptors),
    )
    return cells, receptors


def run(cells, receptors):
    n_rec, n_cells = receptors[0].shape[0], cells[0].shape[0]
    foot = np.empty((n_rec, n_cells))
    travel = np.empty((n_rec, n_cells))
    start = time.perf_counter()
    plume_footprints(*cells, *receptors, PASQUILL_GIFFORD, 0.5, 86400.0, 1.5, 5, foot, travel)
    return time.perf_counter() - start, foot


def main():
    n_receptors = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    n_side = int(sys.argv[2]) if len(sys.argv) > 2 else 60
    cells, receptors = make_case(n_receptors, n_side)
    pairs = n_receptors * n_side * n_side
    print(f"os.cpu_count() = {os.cpu_count()}, numba threads = {numba.get_num_threads()}")
    print(f"{n_receptors} receptors x {n_side * n_side} cells = {pairs:,} pairs")
    first, foot = run(cells, receptors)
    print(f"first call (compile or cache load): {first:8.3f} s  {pairs / first:12.4g} pairs/s")
    warm = min(run(cells, receptors)[0] for _ in range(3))
    print(f"warm call (best of 3):              {warm:8.3f} s  {pairs / warm:12.4g} pairs/s")
    print(f"non-zero footprints: {np.count_nonzero(foot) / pairs:.1%}")


if __name__ == "__main__":
    main()
