"""Numba kernels of the inventory builder: polygon clipping and grid traversal.

Arrays in, arrays out; no xarray, no I/O. The compile flags come from :mod:`cityflux.jit`.
Coordinates are plain floats in whatever plane the caller chose (target-grid CRS shifted to
the grid origin, or cell units); the kernels only assume axis-aligned target cells.

Symbols
-------
u, v : position in cell units, u = (x - x_origin) / dx, v = (y - y_origin) / dy; cell
       (i, j) covers [i, i + 1) x [j, j + 1)
t : curve parameter of a segment, p(t) = p0 + t (p1 - p0), 0 <= t <= 1
xe, ye : cell edges of the target grid along x and y (ascending, not necessarily regular)
px, py : vertices of a (source-cell) polygon, in order, not closed (last != first)

References
----------
Sutherland, I. E. & Hodgman, G. W. (1974). Reentrant polygon clipping. Commun. ACM 17, 32-42.
Amanatides, J. & Woo, A. (1987). A fast voxel traversal algorithm for ray tracing.
Eurographics '87, 3-10.
Liang, Y.-D. & Barsky, B. A. (1984). A new concept and method for line clipping.
ACM Trans. Graph. 3, 1-22.
"""

import math

import numpy as np
from numba import prange

from cityflux.jit import jit, parallel_jit

# ----------------------------------------------------------------------------- polygons


@jit
def polygon_area(px, py, n):
    """Signed (shoelace) area of the first ``n`` vertices, positive if counter-clockwise.

    Computed relative to the first vertex so that large coordinates (false eastings and
    northings) do not cancel catastrophically.
    """
    if n < 3:
        return 0.0
    x0 = px[0]
    y0 = py[0]
    twice = 0.0
    for k in range(1, n - 1):
        twice += (px[k] - x0) * (py[k + 1] - y0) - (px[k + 1] - x0) * (py[k] - y0)
    return 0.5 * twice


@jit
def clip_half_plane(px, py, n, axis, bound, keep_above, qx, qy):
    """Sutherland-Hodgman step: clip polygon (px, py)[:n] to one axis-aligned half-plane.

    The half-plane is ``coord >= bound`` if ``keep_above`` else ``coord <= bound``, where
    coord is x for ``axis == 0`` and y for ``axis == 1``. Writes the result into (qx, qy)
    (capacity at least 2 n) and returns its vertex count. Crossing points are computed
    from the edge's inside end, so a vertex exactly on the bound is kept as it is.
    """
    m = 0
    if n == 0:
        return 0
    sx = px[n - 1]
    sy = py[n - 1]
    sc = sx if axis == 0 else sy
    s_in = sc >= bound if keep_above else sc <= bound
    for k in range(n):
        ex = px[k]
        ey = py[k]
        ec = ex if axis == 0 else ey
        e_in = ec >= bound if keep_above else ec <= bound
        if e_in != s_in:
            # the edge crosses the bound: add the crossing point
            f = (bound - sc) / (ec - sc)
            if axis == 0:
                qx[m] = bound
                qy[m] = sy + f * (ey - sy)
            else:
                qx[m] = sx + f * (ex - sx)
                qy[m] = bound
            m += 1
        if e_in:
            qx[m] = ex
            qy[m] = ey
            m += 1
        sx = ex
        sy = ey
        sc = ec
        s_in = e_in
    return m


@jit
def clip_box(px, py, n, x0, x1, y0, y1, ax, ay, bx, by):
    """Clip polygon (px, py)[:n] to the box [x0, x1] x [y0, y1].

    (ax, ay) and (bx, by) are scratch buffers of capacity >= 16 n + 64; the result is in
    (ax, ay) and its vertex count is returned.
    """
    m = clip_half_plane(px, py, n, 0, x0, True, bx, by)
    m = clip_half_plane(bx, by, m, 0, x1, False, ax, ay)
    m = clip_half_plane(ax, ay, m, 1, y0, True, bx, by)
    m = clip_half_plane(bx, by, m, 1, y1, False, ax, ay)
    return m


@jit
def _cell_range(edges, lo, hi):
    """First and last cell index of ``edges`` that the open interval (lo, hi) overlaps.

    Returns (first, last); first > last when there is no overlap.
    """
    n = edges.shape[0] - 1
    first = np.searchsorted(edges, lo, side="right") - 1
    last = np.searchsorted(edges, hi, side="left") - 1
    if first < 0:
        first = 0
    if last > n - 1:
        last = n - 1
    return first, last


@jit
def _cell_polygon(cx, cy, hx, hy, vx, vy, j, i, e, px, py):
    """Vertices (counter-clockwise in the source CRS) of source cell (j, i).

    cx, cy: corner lattice (nsy + 1, nsx + 1); hx, hy: ``e`` extra points on every
    horizontal edge (nsy + 1, nsx, e), ordered by increasing source x; vx, vy: ``e`` extra
    points on every vertical edge (nsy, nsx + 1, e), ordered by increasing source y.
    Returns the vertex count 4 (e + 1).
    """
    m = 0
    px[m] = cx[j, i]
    py[m] = cy[j, i]
    m += 1
    for k in range(e):  # bottom edge, west to east
        px[m] = hx[j, i, k]
        py[m] = hy[j, i, k]
        m += 1
    px[m] = cx[j, i + 1]
    py[m] = cy[j, i + 1]
    m += 1
    for k in range(e):  # east edge, south to north
        px[m] = vx[j, i + 1, k]
        py[m] = vy[j, i + 1, k]
        m += 1
    px[m] = cx[j + 1, i + 1]
    py[m] = cy[j + 1, i + 1]
    m += 1
    for k in range(e - 1, -1, -1):  # top edge, east to west
        px[m] = hx[j + 1, i, k]
        py[m] = hy[j + 1, i, k]
        m += 1
    px[m] = cx[j + 1, i]
    py[m] = cy[j + 1, i]
    m += 1
    for k in range(e - 1, -1, -1):  # west edge, north to south
        px[m] = vx[j, i, k]
        py[m] = vy[j, i, k]
        m += 1
    return m


@jit
def _polygon_window(px, py, n, xe, ye):
    """Bounding box of the polygon and the target cells it may overlap.

    Returns (ok, i0, i1, j0, j1, xmin, xmax, ymin, ymax); ``ok`` is False for a polygon
    with a non-finite vertex or one whose box misses the target grid.
    """
    xmin = px[0]
    xmax = px[0]
    ymin = py[0]
    ymax = py[0]
    finite = True
    for k in range(n):
        if not (math.isfinite(px[k]) and math.isfinite(py[k])):
            finite = False
        xmin = min(xmin, px[k])
        xmax = max(xmax, px[k])
        ymin = min(ymin, py[k])
        ymax = max(ymax, py[k])
    i0, i1 = _cell_range(xe, xmin, xmax)
    j0, j1 = _cell_range(ye, ymin, ymax)
    ok = finite and i0 <= i1 and j0 <= j1
    return ok, i0, i1, j0, j1, xmin, xmax, ymin, ymax


@parallel_jit
def overlap_counts(cx, cy, hx, hy, vx, vy, xe, ye):
    """Upper bound of the target cells each source cell overlaps (its bounding-box cells).

    Shapes as in :func:`overlap_weights`; returns int64 (nsy * nsx,).
    """
    nsy = cx.shape[0] - 1
    nsx = cx.shape[1] - 1
    e = hx.shape[2]
    nv = 4 * (e + 1)
    counts = np.zeros(nsy * nsx, np.int64)
    for j in prange(nsy):
        px = np.empty(nv)
        py = np.empty(nv)
        for i in range(nsx):
            n = _cell_polygon(cx, cy, hx, hy, vx, vy, j, i, e, px, py)
            ok, i0, i1, j0, j1, _, _, _, _ = _polygon_window(px, py, n, xe, ye)
            if ok:
                counts[j * nsx + i] = (i1 - i0 + 1) * (j1 - j0 + 1)
    return counts


@parallel_jit
def overlap_weights(cx, cy, hx, hy, vx, vy, xe, ye, offsets, target, weight):
    """Area fractions of every source polygon inside every target cell.

    Parameters
    ----------
    cx, cy : (nsy + 1, nsx + 1) float64
        Source cell corners in the target plane.
    hx, hy : (nsy + 1, nsx, e) float64
        Extra points on the source cells' horizontal edges (e may be 0).
    vx, vy : (nsy, nsx + 1, e) float64
        Extra points on the source cells' vertical edges.
    xe, ye : (ntx + 1,), (nty + 1,) float64
        Target cell edges, ascending.
    offsets : (nsy * nsx + 1,) int64
        Start of each source cell's slots in ``target``/``weight`` (cumulated
        :func:`overlap_counts`).
    target, weight : (offsets[-1],) int64, float64
        Output: flat target index (ty * ntx + tx) and fraction of the source polygon's area
        in that target cell; unused slots get target -1 and weight 0.

    A source polygon whose bounding box lies inside one target cell gets weight exactly 1
    there; otherwise it is clipped into target columns, then each column piece into rows.
    Fractions are clipped area / full area, both signed, so a projection that reverses
    orientation is harmless.
    """
    nsy = cx.shape[0] - 1
    nsx = cx.shape[1] - 1
    ntx = xe.shape[0] - 1
    e = hx.shape[2]
    nv = 4 * (e + 1)
    cap = 16 * nv + 64
    for j in prange(nsy):
        px = np.empty(nv)
        py = np.empty(nv)
        sx = np.empty(cap)  # column strip
        sy = np.empty(cap)
        ax = np.empty(cap)
        ay = np.empty(cap)
        bx = np.empty(cap)
        by = np.empty(cap)
        for i in range(nsx):
            s = j * nsx + i
            slot = offsets[s]
            end = offsets[s + 1]
            for k in range(slot, end):
                target[k] = -1
                weight[k] = 0.0
            if end == slot:
                continue
            n = _cell_polygon(cx, cy, hx, hy, vx, vy, j, i, e, px, py)
            ok, i0, i1, j0, j1, xmin, xmax, ymin, ymax = _polygon_window(px, py, n, xe, ye)
            full = polygon_area(px, py, n)
            if not ok or full == 0.0:
                continue
            if (i0 == i1 and j0 == j1 and xmin >= xe[i0] and xmax <= xe[i0 + 1]
                    and ymin >= ye[j0] and ymax <= ye[j0 + 1]):
                target[slot] = j0 * ntx + i0
                weight[slot] = 1.0
                continue
            for ti in range(i0, i1 + 1):
                m = clip_half_plane(px, py, n, 0, xe[ti], True, bx, by)
                m = clip_half_plane(bx, by, m, 0, xe[ti + 1], False, sx, sy)
                if m < 3:
                    slot += j1 - j0 + 1
                    continue
                for tj in range(j0, j1 + 1):
                    q = clip_half_plane(sx, sy, m, 1, ye[tj], True, bx, by)
                    q = clip_half_plane(bx, by, q, 1, ye[tj + 1], False, ax, ay)
                    target[slot] = tj * ntx + ti
                    weight[slot] = polygon_area(ax, ay, q) / full
                    slot += 1


# ----------------------------------------------------------------------------- segments


@jit
def clip_segment_to_box(u0, v0, u1, v1, nx, ny):
    """Liang-Barsky: parameter range [t_in, t_out] of the segment inside [0, nx] x [0, ny].

    Returns (t_in, t_out); t_in >= t_out when the segment misses the box (or only
    touches it at a point).
    """
    t_in = 0.0
    t_out = 1.0
    du = u1 - u0
    dv = v1 - v0
    for p, q in ((-du, u0), (du, nx - u0), (-dv, v0), (dv, ny - v0)):
        if p == 0.0:
            if q < 0.0:
                return 1.0, 0.0
        else:
            r = q / p
            if p < 0.0:
                if r > t_in:
                    t_in = r
            else:
                if r < t_out:
                    t_out = r
    return t_in, t_out


@jit
def _first_crossing(a0, da, a_start):
    """Next integer grid line crossed from a_start moving with slope da: (line, t, step)."""
    if da > 0.0:
        k = math.floor(a_start) + 1.0
        return k, (k - a0) / da, 1.0
    if da < 0.0:
        k = math.ceil(a_start) - 1.0
        return k, (k - a0) / da, -1.0
    return 0.0, math.inf, 0.0


@jit
def walk_segment(u0, v0, u1, v1, nx, ny, cells, pieces):
    """Cells crossed by one segment (cell units) and the parametric share of each piece.

    Amanatides-Woo traversal of the part of the segment inside [0, nx] x [0, ny]: the
    crossing parameters with the grid lines u = k and v = k are generated in order (each
    computed directly as (k - u0) / du, so no error accumulates), and every piece between
    consecutive crossings is assigned to the cell holding its midpoint. A segment through
    a cell corner crosses both lines at the same parameter and gives no zero-length piece.

    Writes flat cell indices (j * nx + i) into ``cells`` and parameter lengths dt into
    ``pieces`` (both of capacity >= nx + ny + 8); returns the number of pieces. The dt sum
    to t_out - t_in, the inside share of the segment. A segment with a non-finite end
    point gives no pieces.
    """
    if not (math.isfinite(u0) and math.isfinite(v0) and math.isfinite(u1)
            and math.isfinite(v1)):
        return 0
    t_in, t_out = clip_segment_to_box(u0, v0, u1, v1, nx, ny)
    if not t_in < t_out:
        return 0
    du = u1 - u0
    dv = v1 - v0
    ku, tu, su = _first_crossing(u0, du, u0 + t_in * du)
    kv, tv, sv = _first_crossing(v0, dv, v0 + t_in * dv)
    t = t_in
    n = 0
    capacity = cells.shape[0]
    while t < t_out:
        t_next = min(tu, tv, t_out)
        if t_next > t and n < capacity:
            tm = 0.5 * (t + t_next)
            i = int(math.floor(u0 + tm * du))
            jj = int(math.floor(v0 + tm * dv))
            i = min(max(i, 0), nx - 1)
            jj = min(max(jj, 0), ny - 1)
            cells[n] = jj * nx + i
            pieces[n] = t_next - t
            n += 1
        if tu <= t_next:
            ku += su
            tu = (ku - u0) / du
        if tv <= t_next:
            kv += sv
            tv = (kv - v0) / dv
        t = t_next
    return n


@jit
def segments_to_grid(u0, v0, u1, v1, amount, nx, ny):
    """Spread each segment's amount over the cells it crosses, by parametric length.

    Parameters
    ----------
    u0, v0, u1, v1 : (n_seg,) float64
        Segment end points in cell units.
    amount : (n_seg,) float64
        Amount carried by each whole segment.
    nx, ny : int
        Grid size.

    Returns
    -------
    grid : (ny * nx,) float64
        Amount per cell (flat, C order).
    inside : (n_seg,) float64
        Share of each segment inside the grid (0..1).
    """
    grid = np.zeros(ny * nx)
    inside = np.zeros(u0.shape[0])
    cells = np.empty(nx + ny + 8, np.int64)
    pieces = np.empty(nx + ny + 8)
    for s in range(u0.shape[0]):
        n = walk_segment(u0[s], v0[s], u1[s], v1[s], nx, ny, cells, pieces)
        total = 0.0
        for k in range(n):
            grid[cells[k]] += amount[s] * pieces[k]
            total += pieces[k]
        inside[s] = total
    return grid, inside


@jit
def mark_segment_cells(u0, v0, u1, v1, nx, ny):
    """Boolean (ny, nx) mask of the cells whose interior any segment passes through.

    A segment lying exactly on a grid line marks one of the two cells beside it.
    """
    mark = np.zeros((ny, nx), np.bool_)
    cells = np.empty(nx + ny + 8, np.int64)
    pieces = np.empty(nx + ny + 8)
    for s in range(u0.shape[0]):
        n = walk_segment(u0[s], v0[s], u1[s], v1[s], nx, ny, cells, pieces)
        for k in range(n):
            c = cells[k]
            mark[c // nx, c % nx] = True
    return mark


@jit
def unmarked_runs(mark):
    """Label the runs of consecutive unmarked cells along each row.

    Returns (label, rep_row, rep_col): ``label`` (ny, nx) is the run number of each
    unmarked cell and -1 for marked ones; run r starts at cell (rep_row[r], rep_col[r]).
    Every cell of a run lies on the same side of the boundary that produced ``mark``.
    """
    ny, nx = mark.shape
    label = np.full((ny, nx), -1, np.int64)
    rep_row = np.empty(ny * nx, np.int64)
    rep_col = np.empty(ny * nx, np.int64)
    r = -1
    for j in range(ny):
        previous_marked = True
        for i in range(nx):
            if mark[j, i]:
                previous_marked = True
                continue
            if previous_marked:
                r += 1
                rep_row[r] = j
                rep_col[r] = i
                previous_marked = False
            label[j, i] = r
    return label, rep_row[: r + 1], rep_col[: r + 1]
