"""Time the analytical solver and the Kronecker prior covariance at demo-city size.

    python benchmarks/bench_solver.py

Prints seconds for: B applied to m columns, and a full analytical solve of the demo
problem (n = 100,800 state elements) with its footprints, observation model and R.
"""

import os
import time
from pathlib import Path

import numpy as np

from cityflux import pipeline
from cityflux.config import load_config
from cityflux.observation_model import difference_model
from cityflux.obs.selection import observation_error_covariance
from cityflux.prior import prior_covariance, prior_state
from cityflux.solvers import AnalyticalSolver, InversionProblem
from cityflux.state import region_totals_operator

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "demo-city.yaml"


def main() -> None:
    config = load_config(CONFIG)
    inputs = pipeline.load_inputs(config)
    start = time.perf_counter()
    tower, background, row = pipeline.observation_footprints(inputs)
    footprint_seconds = time.perf_counter() - start
    used = np.flatnonzero(inputs.table.used.to_numpy())
    model = difference_model(tower, background, row, inputs.layout,
                             inputs.prior_hourly).subset(used)
    x_b = prior_state(inputs.layout, inputs.prior_hourly)
    B = prior_covariance(inputs.layout, x_b, config.prior_error)
    obs = config.observations
    R = observation_error_covariance(inputs.table.iloc[used], obs.measurement_error_ppm,
                                     obs.model_data_mismatch_ppm, obs.background_error_ppm,
                                     obs.error_correlation_hours)
    W = region_totals_operator(inputs.layout, inputs.regions)
    y = np.zeros(used.size)
    columns = np.random.default_rng(0).standard_normal((B.size, used.size))

    start = time.perf_counter()
    B.apply(columns)
    apply_seconds = time.perf_counter() - start
    start = time.perf_counter()
    AnalyticalSolver().solve(InversionProblem(x_b, B, model.operator, y, R, W))
    solve_seconds = time.perf_counter() - start

    print(f"cores: {os.cpu_count()}")
    print(f"demo size: n_state = {B.size}, n_obs = {used.size}, "
          f"footprint receptors = {tower.n_obs + background.n_obs}")
    print(f"footprints (incl. numba load/compile): {footprint_seconds:.2f} s")
    print(f"Kronecker B applied to {used.size} columns: {apply_seconds:.2f} s")
    print(f"analytical solve (posterior mean, per-cell std, {W.shape[0]} aggregates): "
          f"{solve_seconds:.2f} s")


if __name__ == "__main__":
    main()
