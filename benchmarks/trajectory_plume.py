"""Speed of the trajectory plume (Gaussian plumes along back trajectories).

Two cases, each run once to warm up (numba compile or cache load), then timed once:

1. the bundled demo (configs/demo-city.yaml with ``transport.plume_form: trajectory``, its
   one-column meteorology read as a MetField): surface footprints
   of every receptor, stack sensitivities of the inventory's point sources per hour back,
   and the missing-source search's candidate sensitivities (a source at every land cell,
   summed over hours back); the steady plume on the same receptors for comparison;
2. 1,000 receptors over a 60 x 60 km grid at 1 km under a 3-D sea-breeze field (24 h back):
   surface footprints and 3,600 candidate sources (``integrate=True``).

The last line is one JSON object for scripts.

    PYTHONPATH=src python benchmarks/trajectory_plume.py
"""

import json
import logging
import os
import time
from pathlib import Path

import numba
import numpy as np

from cityflux.config import PlumeForm, load_config
from cityflux.grid import Grid
from cityflux.pipeline import load_inputs
from cityflux.synthetic.met_fields import sea_breeze_met_field
from cityflux.synthetic.meteorology import synthetic_meteorology
from cityflux.transport.base import Receptors, make_transport
from cityflux.transport.plume import stack_sources
from cityflux.transport.stacks import StackSources
from cityflux.transport.trajectory_plume import TrajectoryPlumeTransport

DEMO = Path(__file__).resolve().parents[1] / "configs" / "demo-city.yaml"
TMERC = ("+proj=tmerc +lat_0=31.5 +lon_0=117.0 +k=1 +x_0=0 +y_0=0 +datum=WGS84 +units=m "
         "+no_defs")


def timed(function):
    """Warm up once (compile or cache load), then one timed call: (first s, warm s, result)."""
    start = time.perf_counter()
    function()
    first = time.perf_counter() - start
    start = time.perf_counter()
    result = function()
    return first, time.perf_counter() - start, result


def demo_case():
    config = load_config(DEMO, ["output.cache_dir=null",
                                f"transport.plume_form={PlumeForm.TRAJECTORY.value}"])
    inputs = load_inputs(config)
    transport, receptors, grid = inputs.transport, inputs.receptors, inputs.grid
    assert isinstance(transport, TrajectoryPlumeTransport)
    cells = np.arange(grid.size)
    if inputs.land_fraction is not None:
        cells = np.flatnonzero(inputs.land_fraction.ravel() > 0)
    x, y = (np.asarray(a, float).ravel()[cells] for a in grid.metric_xy)
    candidates = StackSources.candidates(x, y, config.missing_sources.release_height_m)
    stacks = stack_sources(inputs.inventory.points, grid)
    surface = timed(lambda: transport.surface_footprints(receptors))
    point = timed(lambda: transport.point_sensitivities(stacks, receptors))
    search = timed(lambda: transport.point_sensitivities(candidates, receptors, integrate=True))
    steady_config = load_config(DEMO, ["output.cache_dir=null",
                                       f"transport.plume_form={PlumeForm.STEADY.value}"])
    steady = make_transport(steady_config, grid)
    steady_surface = timed(lambda: steady.surface_footprints(receptors))
    steady_search = timed(lambda: steady.point_sensitivities(candidates, receptors,
                                                             integrate=True))
    return {"receptors": len(receptors), "stacks": stacks.size, "candidates": candidates.size,
            "cells": grid.size, "surface": surface, "stacks_per_hour": point,
            "candidates_integrated": search, "steady_surface": steady_surface,
            "steady_candidates": steady_search}


def field_case(n_receptors=1000):
    grid = Grid(TMERC, -30000.0, 30000.0, 1000.0, -30000.0, 30000.0, 1000.0)
    column = synthetic_meteorology("2025-07-01", 24 * 8, 117.0, 31.5, np.random.default_rng(1))
    met = sea_breeze_met_field(grid, column, np.random.default_rng(2))
    from cityflux.config import TransportConfig

    transport = TrajectoryPlumeTransport(TransportConfig(), grid, met,
                                         np.datetime64("2025-07-02T00", "ns"))
    rng = np.random.default_rng(0)
    receptors = Receptors(np.full(n_receptors, "R"), rng.uniform(-25000, 25000, n_receptors),
                          rng.uniform(-25000, 25000, n_receptors),
                          rng.uniform(20.0, 150.0, n_receptors),
                          rng.integers(0, 24 * 6, n_receptors))
    x, y = (a.ravel() for a in grid.metric_xy)
    candidates = StackSources.candidates(x, y, 10.0)
    surface = timed(lambda: transport.surface_footprints(receptors))
    search = timed(lambda: transport.point_sensitivities(candidates, receptors, integrate=True))
    return {"receptors": n_receptors, "candidates": candidates.size, "cells": grid.size,
            "surface": surface, "candidates_integrated": search}


def main():
    logging.disable(logging.WARNING)
    cores = os.cpu_count()
    print(f"os.cpu_count() = {cores}, numba threads = {numba.get_num_threads()}")
    demo = demo_case()
    field = field_case()
    print(f"demo city: {demo['receptors']} receptors, {demo['cells']} cells, "
          f"{demo['stacks']} stacks, {demo['candidates']} candidate sources, 24 h back")
    print(f"{'case':50s} {'first call s':>12s} {'warm s':>9s}")
    rows = [("demo: surface footprints (trajectory)", demo["surface"]),
            ("demo: stacks per hour back (trajectory)", demo["stacks_per_hour"]),
            ("demo: candidates, integrated (trajectory)", demo["candidates_integrated"]),
            ("demo: surface footprints (steady plume)", demo["steady_surface"]),
            ("demo: candidates, integrated (steady plume)", demo["steady_candidates"]),
            (f"sea breeze: {field['receptors']} receptors, surface", field["surface"]),
            (f"sea breeze: {field['receptors']} x {field['candidates']} candidates",
             field["candidates_integrated"])]
    for name, (first, warm, _) in rows:
        print(f"{name:50s} {first:12.3f} {warm:9.3f}")
    nnz = field["surface"][2].values.size
    print(f"sea breeze footprints: {nnz:,} non-zero cell-hours "
          f"({nnz / field['receptors']:.0f} per receptor)")
    print(json.dumps({
        "demo_receptors": demo["receptors"],
        "demo_surface_seconds": round(demo["surface"][1], 4),
        "demo_stacks_seconds": round(demo["stacks_per_hour"][1], 4),
        "demo_candidates_seconds": round(demo["candidates_integrated"][1], 4),
        "demo_candidates": demo["candidates"],
        "demo_steady_surface_seconds": round(demo["steady_surface"][1], 4),
        "demo_steady_candidates_seconds": round(demo["steady_candidates"][1], 4),
        "field_receptors": field["receptors"],
        "field_surface_seconds": round(field["surface"][1], 4),
        "field_candidates": field["candidates"],
        "field_candidates_seconds": round(field["candidates_integrated"][1], 4),
        "cores": cores,
        "numba_threads": numba.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
