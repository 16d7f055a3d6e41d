"""Linear aggregates of the state: emission rates of regions per group of blocks and step.

A *group* is a set of blocks whose fluxes are summed: each emitting block alone (a gridded
sector group such as ``fossil`` or ``biosphere``, or ``point_sources``), ``fossil_total``
(every fossil block, when there are several) and ``net`` (every block: the net CO2 flux,
biosphere included). Rates are in t CO2 h⁻¹ for every reporting step
(``period.flux_time_step_hours``); period totals in t.

Rows of the aggregation matrix W are ordered group-major, then region, then step:
``row = (group × n_regions + region) × n_steps + step``. What the state does not hold (the
prior outside a block's mask, its hourly shape within a step, sectors in no block) enters
the totals as a constant, computed from the hourly prior so that ``W x_b + constant``
equals the totals of the prior itself.

Two more linear maps of the state live here: the net flux of every cell and reporting
step (gridded blocks plus stacks as fluxes over their cells; its posterior variance per
cell is exact) and each stack's emission over the period.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse
import shapely

from ..config import SectorKind
from ..inventory.rasterise import points_to_grid
from ..covariance import aggregate_covariance
from ..units import MOLAR_MASS_CO2, flux_to_rate_t_per_h
from .blocks import GriddedBlock, PointSourceBlock

#: kg s⁻¹ → t h⁻¹
KG_S_TO_T_H = 3.6


@dataclass(frozen=True, eq=False)
class TotalsLayout:
    """The aggregation W and the meaning of its rows."""

    groups: tuple          # group names
    group_blocks: tuple    # for each group, the names of its blocks
    regions: tuple         # region names
    n_steps: int
    step_hours: int
    matrix: scipy.sparse.csr_matrix

    @property
    def n_rows(self) -> int:
        return self.matrix.shape[0]

    def reshape(self, rows) -> np.ndarray:
        """Row values as (group, region, step)."""
        return np.asarray(rows).reshape(len(self.groups), len(self.regions), self.n_steps)

    @property
    def period_matrix(self) -> np.ndarray:
        """P: per-step rates (t h⁻¹, all rows) → period totals (t) of every (group, region)."""
        n = len(self.groups) * len(self.regions)
        return np.kron(np.eye(n), np.full((1, self.n_steps), float(self.step_hours)))


def emission_groups(layout) -> list[tuple[str, list[str]]]:
    """(group name, block names) of every reported group, in order."""
    emitting = [b for b in layout.blocks if isinstance(b, (GriddedBlock, PointSourceBlock))]
    groups = [(block.name, [block.name]) for block in emitting]
    fossil = [b.name for b in emitting if b.kind == SectorKind.FOSSIL]
    if len(fossil) > 1:
        groups.append(("fossil_total", fossil))
    groups.append(("net", [b.name for b in emitting]))
    return groups


def point_membership(regions, grid, lon, lat) -> np.ndarray:
    """(n_regions, n_points): 1 where a point source lies in a region, else 0.

    ``domain`` holds every point inside the grid; other regions test the point against
    their outline.
    """
    x, y = grid.to_grid_crs(np.asarray(lon, float), np.asarray(lat, float))
    inside = ((x >= grid.x_start) & (x < grid.x_stop) & (y >= grid.y_start) & (y < grid.y_stop))
    rows = []
    for name in regions.names:
        if name == "domain":
            rows.append(inside.astype(float))
        else:
            rows.append(shapely.contains_xy(regions.geometries[name], lon, lat).astype(float))
    return np.array(rows).reshape(len(regions.names), len(np.atleast_1d(lon)))


def point_report_shape(block, rates, report_step_hours: int) -> np.ndarray:
    """(n_report_steps, n_sources): a stack's mean rate in each reporting step over the mean
    of the block step that holds it — the hourly shape H gives the state within a step
    (``rates``: hourly rates over the period; 1 where a step's mean is zero)."""
    n_hours, n_sources = rates.shape
    report = rates.reshape(n_hours // report_step_hours, report_step_hours, n_sources).mean(1)
    step = (np.arange(report.shape[0]) * report_step_hours) // block.step_hours
    means = block.step_means(rates)[step]
    return np.where(means > 0, report / np.where(means > 0, means, 1.0), 1.0)


def _block_rate_matrix(block, layout, regions, membership, shape) -> scipy.sparse.csr_matrix:
    """(n_regions × n_report_steps, block.size): block state → region rates (t h⁻¹)."""
    n_regions, n_report = len(regions.names), layout.n_report_steps
    report_to_block = (np.arange(n_report) * layout.report_step_hours) // block.step_hours
    if isinstance(block, GriddedBlock):
        per_cell = flux_to_rate_t_per_h(1.0, regions.fractions.reshape(n_regions, -1)
                                        * layout.grid.cell_area.ravel())
        weights = per_cell[:, block.cells]                      # (n_regions, n_items)
        shape = np.ones((n_report, block.n_items))
    else:
        weights = KG_S_TO_T_H * membership                      # (n_regions, n_sources)
    rows, cols, values = [], [], []
    for region in range(n_regions):
        items = np.flatnonzero(weights[region])
        for step in range(n_report):
            rows.append(np.full(items.size, region * n_report + step))
            cols.append(report_to_block[step] * block.n_items + items)
            values.append(weights[region, items] * shape[step, items])
    return scipy.sparse.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_regions * n_report, block.size))


def totals_layout(layout, regions, point_rates=None) -> TotalsLayout:
    """W for every group, region and reporting step (see the module docstring).

    ``point_rates`` are the stacks' hourly prior rates over the period (n_hours,
    n_sources), which shape a step's rate within it; without them it is flat.
    """
    membership = shape = None
    if layout.points is not None:
        sources = layout.points.sources
        membership = point_membership(regions, layout.grid, sources.lon, sources.lat)
        shape = _point_shape(layout, point_rates)
    per_block = {}
    for block in layout.blocks:
        if isinstance(block, (GriddedBlock, PointSourceBlock)):
            per_block[block.name] = _block_rate_matrix(block, layout, regions, membership,
                                                       shape)
    groups = emission_groups(layout)
    rows = []
    for _, names in groups:
        parts = []
        for block in layout.blocks:
            if block.name in names:
                parts.append(per_block[block.name])
            else:
                parts.append(scipy.sparse.csr_matrix((len(regions.names) * layout.n_report_steps,
                                                      block.size)))
        rows.append(scipy.sparse.hstack(parts))
    matrix = scipy.sparse.vstack(rows).tocsr()
    return TotalsLayout(tuple(g for g, _ in groups), tuple(tuple(b) for _, b in groups),
                        tuple(regions.names), layout.n_report_steps, layout.report_step_hours,
                        matrix)


def gridded_region_rates(hourly, regions, grid, step_hours: int) -> np.ndarray:
    """Region rates (t h⁻¹) of an hourly flux (n_hours, ny, nx) in µmol m⁻² s⁻¹, averaged
    over steps of ``step_hours``: (n_regions, n_steps)."""
    hourly = np.asarray(hourly, dtype=float).reshape(len(hourly), -1)
    per_cell = flux_to_rate_t_per_h(1.0, regions.fractions.reshape(len(regions.names), -1)
                                    * grid.cell_area.ravel())
    rates = hourly @ per_cell.T                                  # (n_hours, n_regions)
    return rates.reshape(-1, step_hours, rates.shape[1]).mean(axis=1).T


def point_region_rates(hourly_rates, membership, step_hours: int) -> np.ndarray:
    """Region rates (t h⁻¹) of point sources with hourly rates (n_hours, n_sources) in
    kg s⁻¹: (n_regions, n_steps)."""
    rates = KG_S_TO_T_H * np.asarray(hourly_rates, float) @ membership.T
    return rates.reshape(-1, step_hours, rates.shape[1]).mean(axis=1).T


def _point_shape(layout, point_rates) -> np.ndarray:
    points = layout.points
    if point_rates is None:
        return np.ones((layout.n_report_steps, points.n_items))
    return point_report_shape(points, np.asarray(point_rates, float), layout.report_step_hours)


def total_flux_map(layout, point_rates=None) -> scipy.sparse.csr_matrix:
    """T: state → net flux (µmol m⁻² s⁻¹) of every cell and reporting step, the gridded
    blocks plus the point sources as fluxes over the cells that hold them (shaped within
    a step by ``point_rates``, as in :func:`totals_layout`)."""
    grid, n_report = layout.grid, layout.n_report_steps
    parts = []
    report_start = np.arange(n_report) * layout.report_step_hours
    for block in layout.blocks:
        step = report_start // block.step_hours
        if isinstance(block, GriddedBlock):
            rows = (np.arange(n_report)[:, None] * grid.size + block.cells[None, :]).ravel()
            cols = (step[:, None] * block.n_items + np.arange(block.n_items)[None, :]).ravel()
            values = np.ones(rows.size)
        elif isinstance(block, PointSourceBlock):
            _, cell = points_to_grid(grid, block.sources.lon, block.sources.lat,
                                     np.ones(block.n_items))
            inside = np.flatnonzero(cell >= 0)
            factor = 1e6 / MOLAR_MASS_CO2 / grid.cell_area.ravel()[cell[inside]]
            rows = (np.arange(n_report)[:, None] * grid.size + cell[inside][None, :]).ravel()
            cols = (step[:, None] * block.n_items + inside[None, :]).ravel()
            values = (factor[None, :] * _point_shape(layout, point_rates)[:, inside]).ravel()
        else:
            parts.append(scipy.sparse.csr_matrix((n_report * grid.size, block.size)))
            continue
        parts.append(scipy.sparse.csr_matrix((values, (rows, cols)),
                                             shape=(n_report * grid.size, block.size)))
    return scipy.sparse.hstack(parts).tocsr()


def source_totals_matrix(layout) -> scipy.sparse.csr_matrix:
    """Rows: each point source's emission over the period (t) from the point block."""
    points = layout.points
    if points is None:
        return scipy.sparse.csr_matrix((0, layout.size))
    n = points.n_items
    cols = layout.slice(points.name).start + np.arange(points.size)
    rows = np.tile(np.arange(n), points.n_steps)
    values = np.full(points.size, 3.6 * points.step_hours)  # kg s⁻¹ over a step → t
    return scipy.sparse.csr_matrix((values, (rows, cols)), shape=(n, layout.size))


def prior_constant(totals: TotalsLayout, layout, priors, regions, grid) -> np.ndarray:
    """What the state does not hold, per row of W: the full prior's rates minus W x_b.

    The full prior holds every block's hourly prior (and, in ``net``, the sectors in no
    block), so that ``W x + constant`` are the region totals of a state ``x``.
    """
    from .prior import prior_state

    step = layout.report_step_hours
    membership = None
    if layout.points is not None:
        sources = layout.points.sources
        membership = point_membership(regions, grid, sources.lon, sources.lat)
    full = []
    for group, names in zip(totals.groups, totals.group_blocks):
        rates = np.zeros((len(regions.names), layout.n_report_steps))
        for name in names:
            if layout.points is not None and name == layout.points.name:
                rates += point_region_rates(priors.in_period(priors.points), membership, step)
            else:
                rates += gridded_region_rates(priors.in_period(priors.gridded[name]), regions,
                                              grid, step)
        if group == "net" and priors.fixed is not None:
            rates += gridded_region_rates(priors.in_period(priors.fixed), regions, grid, step)
        full.append(rates.ravel())
    return np.concatenate(full) - totals.matrix @ prior_state(layout, priors)


def inventory_prior(layout, B, W, T) -> dict | None:
    """The prior uncertainty of the inventory itself when the search added sources.

    A source found by the search enters the state with a zero prior and a wide σ derived
    from the data; the prior σ of totals and maps reported to users leaves those elements
    out (their rows of W and T are zeroed), so that prior and posterior compare the
    inventory with what the data say. None when no source was added.
    """
    points = layout.points
    if points is None:
        return None
    added = np.isfinite(np.asarray(points.sources.prior_std_kg_s, float))
    if not added.any():
        return None
    keep = np.ones(layout.size)
    start = layout.slice(points.name).start
    steps = np.arange(points.n_steps)[:, None] * points.n_items
    keep[start + (steps + np.flatnonzero(added)[None, :]).ravel()] = 0.0
    keep = scipy.sparse.diags(keep)
    W_kept, T_kept = (scipy.sparse.csr_matrix(W) @ keep), (scipy.sparse.csr_matrix(T) @ keep)
    return {"aggregate_covariance": aggregate_covariance(W_kept, B),
            "net_flux_std": np.sqrt(T_kept.multiply(T_kept) @ B.diagonal()),
            "added": added}
