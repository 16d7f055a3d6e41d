"""Exact, mass-conserving regridding between regular grids (weights once, apply often).

:class:`ConservativeRegridder` holds the area-overlap weights between a source grid (a
population raster, an external inventory) and a target :class:`~cityflux.grid.Grid`:
``W[t, s]`` is the fraction of source cell s's area inside target cell t.

Two ways to get them:

* **Same CRS** - the overlap is separable, ``W = W_y ⊗ W_x``, with 1-D overlap matrices
  of the cell edges; fields are regridded as ``W_y @ values @ W_x.T`` and the full matrix
  is only formed if :attr:`~ConservativeRegridder.weights` is asked for.
* **Different CRSs** - every source cell's corners (and optionally ``edge_points`` extra
  points per edge) are projected into the target CRS and the resulting polygon is
  clipped against the target cells (Sutherland-Hodgman, :mod:`.kernels`); the fraction is
  clipped area / projected polygon area, exact for polygons with straight edges in the
  target plane.

Areas are measured where they are exact on the ellipsoid: in a projected target the plane
of the projection (its areal scale is constant to ~1e-10 over a source cell); in a lat/lon
grid the plane (longitude, F(latitude)), F being the area from the equator per radian of
longitude, a cylindrical equal-area map in which lat/lon cells stay axis-aligned boxes. So
for lat/lon grids the fractions are ellipsoidal area fractions, and ``Σ_s W[t, s] ×
source.cell_area[s]`` equals ``target.cell_area[t]`` where the source covers the target.

Mass that falls outside the target is lost; :meth:`~ConservativeRegridder.outside_fraction`
reports how much.
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyproj
import scipy.sparse as sp

from ..grid import Grid
from . import kernels


def equal_area_y(grid: Grid, latitude) -> np.ndarray:
    """Area between the equator and ``latitude`` per radian of longitude, m² (ellipsoid).

    F(φ) = (b²/2) [sin φ / (1 − e² sin² φ) + artanh(e sin φ) / e], the same formula as
    :attr:`Grid.cell_area`, so (λ, F(φ)) is an equal-area plane.
    """
    geod = grid.pyproj_crs.get_geod()
    e = np.sqrt(geod.es)
    sin_lat = np.sin(np.radians(np.asarray(latitude, float)))
    return 0.5 * geod.b ** 2 * (sin_lat / (1 - e ** 2 * sin_lat ** 2)
                                + np.arctanh(e * sin_lat) / e)


def area_plane_edges(grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Cell edges of ``grid`` in its area plane (see the module docstring), each ascending."""
    x_edges = grid.x_start + grid.x_step * np.arange(grid.nx + 1)
    y_edges = grid.y_start + grid.y_step * np.arange(grid.ny + 1)
    if grid.is_geographic:
        y_edges = equal_area_y(grid, y_edges)
    return x_edges, y_edges


def overlap_matrix_1d(source_edges: np.ndarray, target_edges: np.ndarray) -> sp.csr_matrix:
    """Fraction of each source interval inside each target interval, (n_target, n_source).

    Both edge arrays ascend. The break points of both sets cut the common range into
    pieces, each inside exactly one source and one target interval.
    """
    n_source, n_target = source_edges.size - 1, target_edges.size - 1
    lo = max(source_edges[0], target_edges[0])
    hi = min(source_edges[-1], target_edges[-1])
    if not lo < hi:
        return sp.csr_matrix((n_target, n_source))
    breaks = np.union1d(source_edges, target_edges)
    breaks = breaks[(breaks >= lo) & (breaks <= hi)]
    lengths = np.diff(breaks)
    mids = 0.5 * (breaks[:-1] + breaks[1:])
    keep = lengths > 0
    lengths, mids = lengths[keep], mids[keep]
    s = np.clip(np.searchsorted(source_edges, mids, side="right") - 1, 0, n_source - 1)
    t = np.clip(np.searchsorted(target_edges, mids, side="right") - 1, 0, n_target - 1)
    fraction = lengths / (source_edges[s + 1] - source_edges[s])
    return sp.csr_matrix((fraction, (t, s)), shape=(n_target, n_source))


@functools.lru_cache(maxsize=64)
def _transformer(source_crs: str, target_crs: str, slot: int = 0) -> pyproj.Transformer:
    """A cached transformer (x, y order); one per ``slot`` so threads never share one."""
    return pyproj.Transformer.from_crs(pyproj.CRS.from_user_input(source_crs),
                                       pyproj.CRS.from_user_input(target_crs), always_xy=True)


#: Below this many points a projection runs in the calling thread.
_THREADED_MIN_POINTS = 200_000


def transform_points(source_crs: str, target_crs: str, x, y) -> tuple[np.ndarray, np.ndarray]:
    """Project points between CRSs (x, y order), in parallel chunks for large arrays.

    PROJ releases the GIL, so separate transformers in a few threads scale with the cores.
    """
    x = np.ascontiguousarray(x, dtype=float)
    y = np.ascontiguousarray(y, dtype=float)
    shape = x.shape
    x, y = x.ravel(), y.ravel()
    n_threads = min(os.cpu_count() or 1, 8, max(1, x.size // _THREADED_MIN_POINTS))
    if n_threads == 1:
        px, py = _transformer(source_crs, target_crs).transform(x, y)
        return np.asarray(px).reshape(shape), np.asarray(py).reshape(shape)
    cuts = np.linspace(0, x.size, n_threads + 1).astype(int)
    px, py = np.empty_like(x), np.empty_like(y)

    def run(k):
        piece = slice(cuts[k], cuts[k + 1])
        px[piece], py[piece] = _transformer(source_crs, target_crs, k).transform(x[piece],
                                                                                 y[piece])

    with ThreadPoolExecutor(n_threads) as pool:
        list(pool.map(run, range(n_threads)))
    return px.reshape(shape), py.reshape(shape)


def same_crs(a: Grid, b: Grid) -> bool:
    """True when two grids share their CRS (axis order ignored: grids are always x, y)."""
    return a.pyproj_crs.equals(b.pyproj_crs, ignore_axis_order=True)


class ConservativeRegridder:
    """Exact area-overlap regridding from ``source`` to ``target``.

    Parameters
    ----------
    source, target : Grid
        The grids; any CRSs.
    edge_points : int
        Extra points projected along every source-cell edge (different CRSs only); 0 means
        straight quadrilaterals between the projected corners.

    Attributes
    ----------
    separable : bool
        True when the grids share their CRS (the fast Kronecker path).
    inside_fraction : ndarray, shape source.shape
        Fraction of each source cell's area inside the target grid (the column sums of
        :attr:`weights`).

    Notes
    -----
    ``regrid_amount`` conserves Σ values exactly (to rounding) for source cells inside the
    target; ``regrid_density`` conserves Σ density × cell_area. Both accept any leading
    dimensions: values of shape (..., source.ny, source.nx). ``adjoint_amount`` applies
    the transpose. Longitudes are not wrapped: a lat/lon grid in 0..360 and one in
    -180..180 only overlap where their numbers do.
    """

    def __init__(self, source: Grid, target: Grid, edge_points: int = 0):
        if int(edge_points) != edge_points or edge_points < 0:
            raise ValueError(f"edge_points must be a non-negative integer, got {edge_points!r}")
        self.source = source
        self.target = target
        self.edge_points = int(edge_points)
        self.separable = same_crs(source, target)
        if self.separable:
            sx, sy = area_plane_edges(source)
            tx, ty = area_plane_edges(target)
            self._wx = overlap_matrix_1d(sx, tx)
            self._wy = overlap_matrix_1d(sy, ty)
            self.inside_fraction = np.outer(np.asarray(self._wy.sum(axis=0)).ravel(),
                                            np.asarray(self._wx.sum(axis=0)).ravel())
            self._matrix = None
        else:
            self._matrix = self._projected_weights()
            self.inside_fraction = np.asarray(self._matrix.sum(axis=0)).reshape(source.shape)

    # ------------------------------------------------------------------ weights
    def _projected_weights(self) -> sp.csc_matrix:
        source, target = self.source, self.target
        e = self.edge_points
        x_edges = source.x_start + source.x_step * np.arange(source.nx + 1)
        y_edges = source.y_start + source.y_step * np.arange(source.ny + 1)
        fractions = np.arange(1, e + 1) / (e + 1)
        x_inner = (x_edges[:-1, None] + source.x_step * fractions).ravel()
        y_inner = (y_edges[:-1, None] + source.y_step * fractions).ravel()
        tx, ty = area_plane_edges(target)

        def project(x, y, shape):
            px, py = transform_points(source.crs, target.crs, *np.meshgrid(x, y))
            if target.is_geographic:
                py = equal_area_y(target, py)
            # shift to the target origin so the kernels work with small numbers
            return ((np.asarray(px) - tx[0]).reshape(shape),
                    (np.asarray(py) - ty[0]).reshape(shape))

        nsy, nsx = source.shape
        cx, cy = project(x_edges, y_edges, (nsy + 1, nsx + 1))
        if e:
            hx, hy = project(x_inner, y_edges, (nsy + 1, nsx, e))
            vx, vy = project(x_edges, y_inner, (nsy, e, nsx + 1))
            vx, vy = (np.ascontiguousarray(a.transpose(0, 2, 1)) for a in (vx, vy))
        else:
            hx = hy = np.empty((nsy + 1, nsx, 0))
            vx = vy = np.empty((nsy, nsx + 1, 0))
        xe, ye = tx - tx[0], ty - ty[0]
        counts = kernels.overlap_counts(cx, cy, hx, hy, vx, vy, xe, ye)
        offsets = np.zeros(counts.size + 1, np.int64)
        np.cumsum(counts, out=offsets[1:])
        target_index = np.empty(offsets[-1], np.int64)
        weight = np.empty(offsets[-1])
        kernels.overlap_weights(cx, cy, hx, hy, vx, vy, xe, ye, offsets, target_index, weight)
        # drop empty slots and re-cut the column pointers (slots are grouped by source)
        keep = weight != 0.0
        source_index = np.repeat(np.arange(source.size), counts)[keep]
        indptr = np.zeros(source.size + 1, np.int64)
        np.cumsum(np.bincount(source_index, minlength=source.size), out=indptr[1:])
        return sp.csc_matrix((weight[keep], target_index[keep], indptr),
                             shape=(target.size, source.size))

    @functools.cached_property
    def weights(self) -> sp.csr_matrix:
        """Overlap fractions, (target.size, source.size), rows and columns in C order."""
        if self.separable:
            return sp.kron(self._wy, self._wx, format="csr")
        return self._matrix.tocsr()

    def outside_fraction(self, source_mass) -> float:
        """Share of the total of ``source_mass`` (amount per source cell) lost outside."""
        mass = np.asarray(source_mass, float)
        total = mass.sum()
        if total == 0:
            return 0.0
        inside = (mass * self.inside_fraction).sum()
        return float((total - inside) / total)

    # ------------------------------------------------------------------ apply
    def _check(self, values, grid: Grid, where: str) -> np.ndarray:
        values = np.asarray(values, float)
        if values.shape[-2:] != grid.shape:
            raise ValueError(f"{where}: values of shape {values.shape} must end with the "
                             f"{'source' if grid is self.source else 'target'} grid shape "
                             f"{grid.shape}")
        return values

    def regrid_amount(self, values) -> np.ndarray:
        """Amounts per source cell (..., ny, nx) -> amounts per target cell."""
        values = self._check(values, self.source, "regrid_amount")
        lead = values.shape[:-2]
        if self.separable:
            out = _apply_separable(self._wy, self._wx, values.reshape(-1, *self.source.shape))
        else:
            flat = values.reshape(-1, self.source.size)
            out = (self._matrix @ flat.T).T
        return out.reshape(*lead, *self.target.shape)

    def adjoint_amount(self, values) -> np.ndarray:
        """The transpose of :meth:`regrid_amount`: (..., target.ny, target.nx) -> source."""
        values = self._check(values, self.target, "adjoint_amount")
        lead = values.shape[:-2]
        if self.separable:
            out = _apply_separable(self._wy.T.tocsr(), self._wx.T.tocsr(),
                                   values.reshape(-1, *self.target.shape))
        else:
            flat = values.reshape(-1, self.target.size)
            out = (self._matrix.T @ flat.T).T
        return out.reshape(*lead, *self.source.shape)

    def regrid_density(self, values) -> np.ndarray:
        """Values per unit area (..., ny, nx) -> per unit area on the target.

        Conserves Σ density × cell_area; a uniform density stays uniform where the source
        covers the target (exactly for lat/lon or same-CRS grids, to the projection's
        areal-scale variation otherwise).
        """
        values = self._check(values, self.source, "regrid_density")
        return self.regrid_amount(values * self.source.cell_area) / self.target.cell_area


def _apply_separable(wy: sp.csr_matrix, wx: sp.csr_matrix, values: np.ndarray) -> np.ndarray:
    """``wy @ v @ wx.T`` for every v in values (n, ny_in, nx_in) -> (n, ny_out, nx_out)."""
    n, ny_in, nx_in = values.shape
    along_x = (wx @ values.reshape(n * ny_in, nx_in).T).T           # (n * ny_in, nx_out)
    nx_out = along_x.shape[1]
    along_x = along_x.reshape(n, ny_in, nx_out).transpose(1, 0, 2).reshape(ny_in, n * nx_out)
    along_y = wy @ along_x                                          # (ny_out, n * nx_out)
    return np.ascontiguousarray(along_y.reshape(-1, n, nx_out).transpose(1, 0, 2))
