"""State blocks: layout, B as a block-diagonal operator, and exact aggregated uncertainties.

A small mixed state (a full gridded block, a masked gridded block, point sources, offsets)
is checked against dense matrices built here: B apply/solve, the posterior of region
totals with cross-block covariances, and the per-cell variance of the summed flux.
"""

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse

from cityflux.config import (GriddedBlockConfig, MaskConfig, OffsetBlockConfig,
                             PointBlockConfig, SectorKind)
from cityflux.grid import Grid
from cityflux.inventory.points import PointSources
from cityflux.regions import Regions
from cityflux.solvers import AnalyticalSolver, InversionProblem
from cityflux.covariance import DenseCovariance
from cityflux.state import GriddedBlock, OffsetBlock, PointSourceBlock, StateLayout
from cityflux.state.aggregation import totals_layout
from cityflux.state.prior import ErrorParameters, prior_covariance

N_HOURS = 12


def _points(n):
    nan = np.full(n, np.nan)
    return PointSources(name=np.array([f"p{i}" for i in range(n)], dtype=object),
                        lon=np.array([117.0, 117.01, 117.02][:n]),
                        lat=np.array([31.5, 31.505, 31.49][:n]),
                        stack_height_m=np.full(n, 100.0), sector=np.full(n, "energy", object),
                        rate_kg_s=np.array([30.0, 10.0, 5.0][:n]),
                        uncertainty_fraction=np.array([0.1, np.nan, 0.2][:n]),
                        buoyancy_flux_m4_s3=nan, exit_velocity_m_s=nan, exit_temperature_k=nan,
                        diameter_m=nan, profile=np.full(n, "energy", object))


@pytest.fixture
def mixed():
    crs = "+proj=tmerc +lat_0=31.5 +lon_0=117.0 +k=1 +x_0=0 +y_0=0 +datum=WGS84 +units=m"
    grid = Grid(crs, -2500, 2500, 1000, -2000, 2000, 1000)   # 4 rows × 5 columns
    rng = np.random.default_rng(3)
    fossil = GriddedBlock(name="fossil", kind=SectorKind.FOSSIL, sectors=("a",), grid=grid,
                          cells=np.arange(grid.size), n_steps=2, step_hours=6,
                          settings=GriddedBlockConfig(name="fossil", correlation_time_hours=6))
    masked = np.array([0, 3, 4, 7, 11, 12, 18])
    bio = GriddedBlock(name="bio", kind=SectorKind.BIOSPHERE, sectors=("b",), grid=grid,
                       cells=masked, n_steps=3, step_hours=4,
                       settings=GriddedBlockConfig(name="bio", mask=MaskConfig(land_only=True)))
    points = PointSourceBlock(sources=_points(3), settings=PointBlockConfig(
        correlation_time_hours=10.0), n_steps=2, step_hours=6)
    offsets = OffsetBlock(name="bg", groups=("T1", "T2"), settings=OffsetBlockConfig(
        name="bg", correlation_time_hours=12.0), n_steps=2, step_hours=6)
    layout = StateLayout(grid, np.datetime64("2025-07-01T00", "ns"), N_HOURS, 2,
                         (fossil, bio, points, offsets))
    x_b = np.concatenate([rng.uniform(1, 10, fossil.size), rng.uniform(-5, 5, bio.size),
                          rng.uniform(5, 30, points.size), np.zeros(offsets.size)])
    params = ErrorParameters({"fossil": 1.3, "bio": 0.8, "point_sources": 1.1, "bg": 0.7},
                             {"fossil": 1.5, "bio": 2.5}, {})
    return layout, x_b, prior_covariance(layout, x_b, params), rng


def test_layout_slices_cover_the_state(mixed):
    layout, x_b, B, _ = mixed
    sizes = [20 * 2, 7 * 3, 3 * 2, 2 * 2]
    assert layout.size == sum(sizes) == B.size == x_b.size
    edges = np.cumsum([0, *sizes])
    for block, a, b in zip(layout.blocks, edges[:-1], edges[1:]):
        assert layout.slice(block.name) == slice(a, b)
    parts = layout.split(x_b)
    assert np.array_equal(np.concatenate([parts[n] for n in layout.names]), x_b)


def _dense_reference(layout, x_b):
    """B built element by element from the block definitions (independent of covariance.py)."""
    grid = layout.grid
    parts = layout.split(x_b)
    blocks = []
    fossil, bio, points, offsets = layout.blocks
    ys, xs = np.divmod(np.arange(grid.size), grid.nx)
    for block, scale, length in ((fossil, 1.3, 1.5), (bio, 0.8, 2.5)):
        steps = np.repeat(np.arange(block.n_steps), block.n_items)
        cells = np.tile(block.cells, block.n_steps)
        t = (steps + 0.5) * block.step_hours
        dt = np.abs(t[:, None] - t[None, :]) / block.settings.correlation_time_hours
        dy = np.abs(ys[cells][:, None] - ys[cells][None, :]) * 1.0 / length
        dx = np.abs(xs[cells][:, None] - xs[cells][None, :]) * 1.0 / length
        std = scale * np.maximum(block.settings.relative_error * np.abs(parts[block.name]),
                                 block.settings.floor_umol_m2_s)
        blocks.append(std[:, None] * np.exp(-dt - dy - dx) * std[None, :])
    steps = np.repeat(np.arange(2), 3)
    source = np.tile(np.arange(3), 2)
    relative = np.array([0.1, 0.3, 0.2])[source]
    std = 1.1 * np.maximum(relative * np.abs(parts["point_sources"]), 0.1)
    t = (steps + 0.5) * 6
    corr = np.exp(-np.abs(t[:, None] - t[None, :]) / 10.0) * (source[:, None] == source[None, :])
    blocks.append(std[:, None] * corr * std[None, :])
    steps = np.repeat(np.arange(2), 2)
    group = np.tile(np.arange(2), 2)
    t = (steps + 0.5) * 6
    corr = np.exp(-np.abs(t[:, None] - t[None, :]) / 12.0) * (group[:, None] == group[None, :])
    blocks.append(0.7 ** 2 * corr)
    return scipy.linalg.block_diag(*blocks)


def test_block_covariance_matches_dense_reference(mixed):
    layout, x_b, B, rng = mixed
    dense = _dense_reference(layout, x_b)
    np.testing.assert_allclose(B.dense(), dense, rtol=1e-12, atol=1e-12 * np.abs(dense).max())
    v = rng.standard_normal((B.size, 3))
    np.testing.assert_allclose(B.apply(v), dense @ v, rtol=1e-10, atol=1e-10 * np.abs(dense @ v).max())
    np.testing.assert_allclose(B.solve(v), np.linalg.solve(dense, v), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(B.diagonal(), np.diag(dense), rtol=1e-12)
    w = np.eye(B.sqrt_size)
    root = B.sqrt_apply(w)
    np.testing.assert_allclose(root @ root.T, dense, rtol=1e-9, atol=1e-10 * np.abs(dense).max())


def test_aggregated_uncertainty_with_cross_block_terms_is_exact(mixed):
    layout, x_b, B, rng = mixed
    grid = layout.grid
    fractions = np.stack([np.ones(grid.shape),
                          (rng.random(grid.shape) > 0.4).astype(float) * rng.random(grid.shape)])
    import shapely
    big = shapely.box(116, 31, 118, 32)
    regions = Regions(("domain", "city"), fractions, {"city": big})
    totals = totals_layout(layout, regions, rng.uniform(1.0, 3.0, (layout.n_hours, 3)))
    m = 15
    H = scipy.sparse.csr_matrix(rng.standard_normal((m, layout.size)) *
                                (rng.random((m, layout.size)) < 0.5))
    R = DenseCovariance(np.diag(rng.uniform(0.5, 2.0, m)))
    y = rng.standard_normal(m)
    from cityflux.transport.footprints import SparseObservationOperator
    problem = InversionProblem(x_b, B, SparseObservationOperator(H), y, R, totals.matrix)
    result = AnalyticalSolver().solve(problem)
    Bd, Hd, Rd, W = B.dense(), H.toarray(), R.dense(), totals.matrix.toarray()
    A = Bd - Bd @ Hd.T @ np.linalg.solve(Hd @ Bd @ Hd.T + Rd, Hd @ Bd)
    expected = W @ A @ W.T
    scale = np.abs(expected).max()
    np.testing.assert_allclose(result.aggregate_posterior_covariance, expected, rtol=1e-8,
                               atol=1e-8 * scale)
    np.testing.assert_allclose(result.aggregate_prior_covariance, W @ Bd @ W.T, rtol=1e-8,
                               atol=1e-8 * scale)
    # The net group is the sum of the blocks' groups: its variance holds the cross terms.
    net = totals.reshape(np.arange(totals.n_rows))[totals.groups.index("net")]
    parts = [totals.reshape(np.arange(totals.n_rows))[totals.groups.index(n)]
             for n in ("fossil", "bio", "point_sources")]
    cross = W[parts[0].ravel()] @ A @ W[parts[2].ravel()].T
    assert np.abs(cross).max() > 1e-6 * scale   # blocks are correlated a posteriori
    np.testing.assert_allclose(W[net.ravel()], sum(W[p.ravel()] for p in parts), atol=1e-12)


def test_variance_map_of_summed_flux_is_exact(mixed):
    layout, x_b, B, rng = mixed
    from cityflux.state.aggregation import total_flux_map
    T = total_flux_map(layout)
    m = 12
    H = scipy.sparse.csr_matrix(rng.standard_normal((m, layout.size)))
    R = DenseCovariance(np.eye(m))
    from cityflux.transport.footprints import SparseObservationOperator
    problem = InversionProblem(x_b, B, SparseObservationOperator(H), rng.standard_normal(m), R,
                               None, {"net": T})
    result = AnalyticalSolver().solve(problem)
    Bd, Hd, Td = B.dense(), H.toarray(), T.toarray()
    A = Bd - Bd @ Hd.T @ np.linalg.solve(Hd @ Bd @ Hd.T + np.eye(m), Hd @ Bd)
    prior_std, post_std = result.map_std["net"]
    np.testing.assert_allclose(prior_std ** 2, np.diag(Td @ Bd @ Td.T), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(post_std ** 2, np.diag(Td @ A @ Td.T), rtol=1e-8, atol=1e-10)


def test_point_rates_per_report_step_follow_the_hourly_shape(mixed):
    """With a point block coarser than the reporting step, W spreads each stack's step
    mean over the reporting steps by the stack's own hourly shape, as H does: W x_b then
    equals the report-step means of the hourly prior exactly (no constant is needed), and
    the period totals are unchanged."""
    from cityflux.state.aggregation import point_membership, point_region_rates

    layout, x_b, B, rng = mixed
    points = layout.points
    hourly = rng.uniform(5.0, 40.0, (layout.n_hours, points.n_items))   # kg s-1
    x = x_b.copy()
    x[layout.slice(points.name)] = points.prior_state(hourly)
    grid = layout.grid
    regions = Regions(("domain",), np.ones((1, *grid.shape)), {})
    flat = totals_layout(layout, regions)
    shaped = totals_layout(layout, regions, hourly)
    group = shaped.groups.index("point_sources")
    rows = shaped.reshape(np.arange(shaped.n_rows))[group].ravel()
    expected = point_region_rates(hourly, point_membership(regions, grid, points.sources.lon,
                                                           points.sources.lat),
                                  layout.report_step_hours).ravel()
    np.testing.assert_allclose(shaped.matrix[rows] @ x, expected, rtol=1e-12)
    assert not np.allclose(flat.matrix[rows] @ x, expected, rtol=1e-3)   # flat would not
    P = shaped.period_matrix
    np.testing.assert_allclose(P @ (shaped.matrix @ x), P @ (flat.matrix @ x), rtol=1e-12)
