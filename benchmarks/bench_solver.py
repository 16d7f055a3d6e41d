"""Time the stages of a demo inversion: set-up, error estimation, solve, source search.

    python benchmarks/bench_solver.py

Prints seconds for each stage of one pass over the demo city (state of gridded fossil and
biosphere blocks and the point-source block; footprints from the cache after a first,
timed computation), and for the missing-source search over every land cell. Its last line
is one JSON object.
"""

import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from cityflux import pipeline
from cityflux.cache import ArtifactCache
from cityflux.config import load_config

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "demo-city.yaml"


def timed(function, *args):
    start = time.perf_counter()
    value = function(*args)
    return value, time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        config = load_config(CONFIG, [f"output.dir={folder}/out",
                                      f"output.cache_dir={folder}/cache"])
        inputs = pipeline.load_inputs(config)
        cache = ArtifactCache(config.output.cache_dir)
        _, first_setup = timed(pipeline.set_up, inputs, inputs.inventory, cache)
        inversion, setup = timed(pipeline.set_up, inputs, inputs.inventory, cache)
        _, errors = timed(pipeline.estimate_errors, config, inversion)
        _, solve = timed(pipeline.solve, config, inputs, inversion)
        rng = np.random.default_rng(config.seed)
        _, search_first = timed(pipeline.search_missing_sources, config, inputs, inversion,
                                ArtifactCache(None), rng)
        _, search = timed(pipeline.search_missing_sources, config, inputs, inversion, cache, rng)
    figures = {
        "cores": os.cpu_count(),
        "n_state": int(inversion.layout.size),
        "n_obs": int(inversion.innovation.size),
        "setup_with_transport_seconds": round(first_setup, 3),
        "setup_cached_seconds": round(setup, 3),
        "error_estimation_seconds": round(errors, 3),
        "solve_seconds": round(solve, 3),
        "source_search_seconds": round(search_first, 3),
        "source_search_candidates": int(inversion.search.z.size),
        "source_search_cached_columns_seconds": round(search, 3),
    }
    print(f"cores: {figures['cores']}")
    print(f"demo size: n_state = {figures['n_state']:,}, n_obs = {figures['n_obs']}")
    print(f"set-up (transport for every receptor, stacks, H): {first_setup:.2f} s "
          f"(from the cache: {setup:.2f} s)")
    print(f"error estimation (H B Hᵀ per block, maximum likelihood twice): {errors:.2f} s")
    print(f"analytical solve (mean, per-cell σ, region totals, net-flux σ): {solve:.2f} s")
    print(f"missing-source search over {figures['source_search_candidates']:,} cells "
          f"(plume columns + {config.missing_sources.simulations} null draws): "
          f"{search_first:.2f} s (columns cached: {search:.2f} s)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
