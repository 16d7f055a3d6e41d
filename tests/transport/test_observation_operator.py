"""Footprints, the observation operator H and the tower-minus-background model."""

import numpy as np
import pytest

from cityflux.config import GriddedBlockConfig, OffsetBlockConfig, PointBlockConfig, SectorKind
from cityflux.grid import Grid
from cityflux.inventory.points import PointSources
from cityflux.observation_model import HourlyPriors, Sensitivities, build_observation_model
from cityflux.state import GriddedBlock, OffsetBlock, PointSourceBlock, StateLayout
from cityflux.state.prior import prior_state
from cityflux.transport.footprints import (
    Footprints,
    SparseObservationOperator,
    observation_operator,
)


def _fp(obs_hour, triplets, n_cells):
    """Footprints from (row, cell, hours_back, value) tuples."""
    rows, cells, back, values = (np.array(c) for c in zip(*triplets))
    return Footprints(np.asarray(obs_hour, dtype=np.int64), rows.astype(np.int64),
                      cells.astype(np.int64), back.astype(np.int64), values.astype(float),
                      n_cells)


def _random_fp(rng, n_obs, n_cells, n_hours, max_back, nnz):
    return Footprints(rng.integers(0, n_hours, n_obs), rng.integers(0, n_obs, nnz),
                      rng.integers(0, n_cells, nnz), rng.integers(0, max_back + 1, nnz),
                      rng.uniform(0.0, 1.0, nnz), n_cells)


def _dense_reference(fp, n_hours, step_hours):
    """H built entry by entry from the definition."""
    n_steps = n_hours // step_hours
    H = np.zeros((fp.n_obs, n_steps * fp.n_cells))
    for r, c, b, v in zip(fp.rows, fp.cells, fp.hours_back, fp.values):
        hour = fp.obs_hour[r] - b
        if 0 <= hour < n_hours:
            H[r, (hour // step_hours) * fp.n_cells + c] += v
    return H


def test_hand_built_operator_places_values():
    # 3 observations at hours 5, 10, 2; 4 cells; 12 hours in 4 steps of 3 h
    fp = _fp([5, 10, 2], [
        (0, 1, 0, 1.0),   # emitted hour 5 -> step 1 -> column 1*4+1 = 5
        (0, 3, 4, 2.0),   # hour 1 -> step 0 -> column 3
        (1, 2, 1, 3.0),   # hour 9 -> step 3 -> column 14
        (1, 2, 2, 4.0),   # hour 8 -> step 2 -> column 10
        (1, 0, 11, 9.0),  # hour -1 -> before the period: dropped
        (2, 0, 2, 5.0),   # hour 0 -> step 0 -> column 0
        (2, 0, 1, 6.0),   # hour 1 -> step 0, same column: summed with the above
        (2, 3, 3, 7.0),   # hour -1 -> dropped
    ], n_cells=4)
    H = observation_operator(fp, n_hours=12, step_hours=3)
    assert isinstance(H, SparseObservationOperator)
    assert H.shape == (3, 16)
    expected = np.zeros((3, 16))
    expected[0, 5] = 1.0
    expected[0, 3] = 2.0
    expected[1, 14] = 3.0
    expected[1, 10] = 4.0
    expected[2, 0] = 11.0
    np.testing.assert_array_equal(H.matrix.toarray(), expected)


def test_hourly_operator_columns():
    fp = _fp([5, 3], [(0, 2, 1, 1.5), (1, 0, 3, 2.5), (1, 1, 0, 0.5)], n_cells=3)
    H = observation_operator(fp, n_hours=6, step_hours=1).matrix.toarray()
    expected = np.zeros((2, 18))
    expected[0, 4 * 3 + 2] = 1.5
    expected[1, 0 * 3 + 0] = 2.5
    expected[1, 3 * 3 + 1] = 0.5
    np.testing.assert_array_equal(H, expected)


def test_exact_duplicates_are_summed():
    fp = _fp([4, 4], [(0, 1, 2, 0.25), (0, 1, 2, 0.5), (1, 1, 2, 1.0)], n_cells=2)
    H = observation_operator(fp, n_hours=8, step_hours=2).matrix.toarray()
    assert H[0, 1 * 2 + 1] == 0.75
    assert H[1, 1 * 2 + 1] == 1.0
    assert np.count_nonzero(H) == 2


def test_random_operator_matches_reference():
    rng = np.random.default_rng(0)
    fp = _random_fp(rng, n_obs=20, n_cells=12, n_hours=24, max_back=10, nnz=600)
    for step in (1, 3, 6, 24):
        H = observation_operator(fp, 24, step).matrix.toarray()
        np.testing.assert_allclose(H, _dense_reference(fp, 24, step), rtol=1e-14, atol=1e-15)
    # some contributions fell before the period
    emitted = fp.obs_hour[fp.rows] - fp.hours_back
    assert (emitted < 0).any()
    assert observation_operator(fp, 24, 1).matrix.sum() == pytest.approx(
        fp.values[emitted >= 0].sum(), rel=1e-12)


def _dot_test(op, rng, k=None):
    n_obs, n_state = op.shape
    x = rng.normal(size=n_state if k is None else (n_state, k))
    y = rng.normal(size=n_obs if k is None else (n_obs, k))
    lhs = np.sum(op.forward(x) * y)
    rhs = np.sum(x * op.adjoint(y))
    assert abs(lhs - rhs) <= 1e-10 * max(abs(lhs), abs(rhs))
    assert abs(lhs) > 1e-6


@pytest.mark.parametrize("step", [1, 4, 8])
def test_adjoint_dot_product(step):
    rng = np.random.default_rng(step)
    fp = _random_fp(rng, n_obs=30, n_cells=25, n_hours=48, max_back=24, nnz=2000)
    op = observation_operator(fp, 48, step)
    for _ in range(3):
        _dot_test(op, rng)
    _dot_test(op, rng, k=5)
    # and the adjoint is the transpose
    np.testing.assert_array_equal(op.adjoint(np.eye(30)), op.matrix.T.toarray())


def test_footprints_subset_and_concatenate_round_trip():
    rng = np.random.default_rng(4)
    fp = _random_fp(rng, n_obs=10, n_cells=6, n_hours=30, max_back=5, nnz=80)
    mask = np.zeros(10, bool)
    mask[[0, 3, 4, 8]] = True
    a, b = fp.subset(mask), fp.subset(~mask)
    assert a.n_obs == 4 and b.n_obs == 6
    np.testing.assert_array_equal(a.obs_hour, fp.obs_hour[mask])
    # the subset's integrated footprints are the selected rows of the original
    dense = fp.time_integrated().toarray()
    np.testing.assert_allclose(a.time_integrated().toarray(), dense[mask], rtol=1e-15)
    np.testing.assert_allclose(b.time_integrated().toarray(), dense[~mask], rtol=1e-15)
    # subsets keep hours back: their operators are the selected rows of the full one
    full = observation_operator(fp, 30, 3).matrix.toarray()
    np.testing.assert_allclose(observation_operator(a, 30, 3).matrix.toarray(), full[mask])
    # concatenating the parts gives the original observations in the new order
    joined = Footprints.concatenate([a, b])
    order = np.r_[np.flatnonzero(mask), np.flatnonzero(~mask)]
    assert joined.n_obs == 10 and joined.n_cells == 6
    np.testing.assert_array_equal(joined.obs_hour, fp.obs_hour[order])
    np.testing.assert_allclose(observation_operator(joined, 30, 3).matrix.toarray(), full[order])
    # and concatenating three parts with a round trip of subset
    parts = [fp.subset(np.arange(10) < 3), fp.subset((np.arange(10) >= 3) & (np.arange(10) < 7)),
             fp.subset(np.arange(10) >= 7)]
    again = Footprints.concatenate(parts)
    np.testing.assert_array_equal(again.obs_hour, fp.obs_hour)
    np.testing.assert_allclose(observation_operator(again, 30, 1).matrix.toarray(),
                               observation_operator(fp, 30, 1).matrix.toarray())


def test_time_integrated_sums_over_hours_back():
    fp = _fp([10, 10], [(0, 1, 0, 1.0), (0, 1, 3, 2.0), (0, 2, 1, 0.5), (1, 0, 20, 4.0)],
             n_cells=3)
    integrated = fp.time_integrated().toarray()
    np.testing.assert_array_equal(integrated, [[0.0, 3.0, 0.5], [4.0, 0.0, 0.0]])
    # not truncated at the period start (unlike H)
    assert observation_operator(fp, 12, 1).matrix.toarray()[1].sum() == 0.0


# --------------------------------------------------------------------------- block model


@pytest.fixture
def model_case():
    """Towers and a background site over a masked gridded block, stacks and an offset
    block, with an hourly prior that covers 8 hours before the period."""
    rng = np.random.default_rng(9)
    grid = Grid("EPSG:32650", 400000.0, 404000.0, 1000.0, 3480000.0, 3483000.0, 1000.0)
    n_hours, spinup, n_cells = 24, 8, grid.size
    cells = np.array([0, 2, 3, 5, 6, 7, 10, 11])           # the block's mask
    block = GriddedBlock(name="fossil", kind=SectorKind.FOSSIL, sectors=("a",), grid=grid,
                         cells=cells, n_steps=4, step_hours=6,
                         settings=GriddedBlockConfig(name="fossil"))
    sources = PointSources(
        name=np.array(["s1", "s2"], dtype=object), lon=np.zeros(2), lat=np.zeros(2),
        stack_height_m=np.full(2, 100.0), sector=np.full(2, "energy", dtype=object),
        rate_kg_s=np.array([20.0, 5.0]), uncertainty_fraction=np.full(2, np.nan),
        buoyancy_flux_m4_s3=np.full(2, np.nan), exit_velocity_m_s=np.full(2, np.nan),
        exit_temperature_k=np.full(2, np.nan), diameter_m=np.full(2, np.nan),
        profile=np.full(2, "energy", dtype=object))
    points = PointSourceBlock(sources=sources, settings=PointBlockConfig(), n_steps=2,
                              step_hours=12)
    offsets = OffsetBlock(name="bias", groups=("T1", "T2"), n_steps=2, step_hours=12,
                          settings=OffsetBlockConfig(name="bias"))
    layout = StateLayout(grid, np.datetime64("2025-07-01T00", "ns"), n_hours, 6,
                         (block, points, offsets))
    max_back = 8
    tower = _random_fp(rng, n_obs=9, n_cells=n_cells, n_hours=n_hours, max_back=max_back, nnz=300)
    background = _random_fp(rng, n_obs=4, n_cells=n_cells, n_hours=n_hours, max_back=max_back,
                            nnz=120)
    row = rng.integers(0, 4, 9)
    sensitivity = Sensitivities(tower, background, row,
                                rng.uniform(0, 1e-2, (9, 2, max_back + 1)),
                                rng.uniform(0, 1e-2, (4, 2, max_back + 1)))
    priors = HourlyPriors(spinup, {"fossil": rng.normal(3.0, 4.0, (spinup + n_hours, n_cells))},
                          fixed=rng.normal(0.0, 1.0, (spinup + n_hours, n_cells)),
                          points=rng.uniform(1.0, 30.0, (spinup + n_hours, 2)))
    sites = rng.choice(["T1", "T2"], 9)
    x_b = prior_state(layout, priors)
    model = build_observation_model(layout, sites, sensitivity, priors, x_b)
    return rng, layout, sensitivity, priors, sites, x_b, model


def _full_prediction(sensitivity, priors):
    """Σ over every emission hour (the spin-up included) of footprint × hourly prior."""
    def surface(fp):
        total = np.zeros(fp.n_obs)
        hourly = priors.gridded["fossil"] + priors.fixed
        for r, c, b, v in zip(fp.rows, fp.cells, fp.hours_back, fp.values):
            total[r] += v * hourly[fp.obs_hour[r] - b + priors.spinup, c]
        return total

    def stacks(values, obs_hour):
        total = np.zeros(values.shape[0])
        for i in range(values.shape[0]):
            for k in range(values.shape[2]):
                total[i] += values[i, :, k] @ priors.points[obs_hour[i] - k + priors.spinup]
        return total

    tower = surface(sensitivity.tower) + stacks(sensitivity.points_tower,
                                                sensitivity.tower.obs_hour)
    background = surface(sensitivity.background) + stacks(sensitivity.points_background,
                                                           sensitivity.background.obs_hour)
    return tower - background[sensitivity.background_row]


def test_prior_state_reproduces_the_full_hourly_prior(model_case):
    """H x_b + offset equals the sensitivities applied to the hourly prior, including the
    hours before the period (their emissions reach the first observations), the cells
    outside the mask, the sectors in no block and the point sources' hourly shape."""
    rng, layout, sensitivity, priors, sites, x_b, model = model_case
    expected = _full_prediction(sensitivity, priors)
    np.testing.assert_allclose(model.simulate(x_b), expected, rtol=1e-10,
                               atol=1e-10 * np.abs(expected).max())
    spinup_only = HourlyPriors(priors.spinup,
                               {"fossil": np.where(np.arange(len(priors.points))[:, None]
                                                   < priors.spinup, priors.gridded["fossil"], 0.0)},
                               points=np.zeros_like(priors.points))
    before = _full_prediction(sensitivity, HourlyPriors(
        priors.spinup, spinup_only.gridded, np.zeros_like(priors.fixed), spinup_only.points))
    assert np.abs(before).max() > 1e-3   # the hours before the period matter in this case


def test_block_operator_is_tower_minus_background(model_case):
    rng, layout, sensitivity, priors, sites, x_b, model = model_case
    H = model.operator.matrix.toarray()
    block = layout.block("fossil")
    dense_tower = _dense_reference(sensitivity.tower, layout.n_hours, 6)
    dense_background = _dense_reference(sensitivity.background, layout.n_hours, 6)
    full = (dense_tower - dense_background[sensitivity.background_row]).reshape(9, 4, -1)
    np.testing.assert_allclose(H[:, layout.slice("fossil")],
                               full[:, :, block.cells].reshape(9, -1), rtol=1e-14, atol=1e-15)
    offsets = H[:, layout.slice("bias")]
    assert np.all(offsets.sum(axis=1) == 1.0)
    hours = sensitivity.tower.obs_hour
    for i in range(9):
        column = (hours[i] // 12) * 2 + (0 if sites[i] == "T1" else 1)
        assert offsets[i, column] == 1.0
    for _ in range(3):
        _dot_test(model.operator, rng)


def test_point_columns_follow_the_hourly_shape(model_case):
    """A point column is Σ_lags sensitivity × rate(hour) / mean rate of the hour's step."""
    rng, layout, sensitivity, priors, sites, x_b, model = model_case
    H = model.operator.matrix.toarray()[:, layout.slice("point_sources")]
    rates = priors.points[priors.spinup:]
    means = rates.reshape(2, 12, 2).mean(axis=1)
    expected = np.zeros((9, 2, 2))
    for values, hours, sign, rows in (
            (sensitivity.points_tower, sensitivity.tower.obs_hour, 1.0, np.arange(9)),
            (sensitivity.points_background, sensitivity.background.obs_hour, -1.0,
             sensitivity.background_row)):
        for i, r in enumerate(rows):
            for k in range(values.shape[2]):
                hour = hours[r] - k
                if 0 <= hour < 24:
                    expected[i, hour // 12] += sign * values[r, :, k] * rates[hour] / means[hour // 12]
    np.testing.assert_allclose(H, expected.reshape(9, 4), rtol=1e-12, atol=1e-15)


def test_observation_model_subset(model_case):
    rng, layout, sensitivity, priors, sites, x_b, model = model_case
    rows = np.array([1, 4, 7])
    part = model.subset(rows)
    x = rng.normal(size=layout.size)
    np.testing.assert_allclose(part.simulate(x), model.simulate(x)[rows], rtol=1e-14)
    np.testing.assert_array_equal(part.offset, model.offset[rows])


def test_footprints_from_a_dense_buffer_keep_every_non_zero_and_clear_it():
    rng = np.random.default_rng(0)
    dense = rng.random((3, 4, 5)) * (rng.random((3, 4, 5)) > 0.6)
    buffer = dense.copy()
    fp = Footprints.from_dense([7, 8, 9], buffer)
    rows, back, cells = np.nonzero(dense)
    np.testing.assert_array_equal(fp.rows, rows)
    np.testing.assert_array_equal(fp.hours_back, back)
    np.testing.assert_array_equal(fp.cells, cells)
    np.testing.assert_array_equal(fp.values, dense[rows, back, cells])
    assert fp.n_cells == 5 and list(fp.obs_hour) == [7, 8, 9]
    assert not buffer.any()
