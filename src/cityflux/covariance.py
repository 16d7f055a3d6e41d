"""Error covariances as operators: apply, solve and square-root apply, never dense at scale.

The prior error covariance is ``B = D (C_1 ⊗ C_2 ⊗ ... ⊗ C_k) D`` with ``D`` the diagonal
of standard deviations and ``C_i`` small correlation matrices, one per axis of the state
(time, y, x; later sector). The state vector is the C-order flattening of an array of shape
``(n_1, ..., n_k)``, so the last axis varies fastest. Applying ``B`` to a block of vectors
costs ``n × Σ n_i`` per vector instead of ``n²``; its Cholesky factor is the Kronecker
product of the factors' Cholesky factors.

Correlations are exponential, ``exp(-|d| / L)``; the spatial part is separable,
``exp(-|dx| / L) exp(-|dy| / L)``, which keeps it a Kronecker product on a regular grid.

A state made of blocks (gridded sector groups, point sources, offsets) has a block-diagonal
B (:class:`BlockDiagonalCovariance`). A gridded block restricted to a mask of cells is the
sub-matrix ``P B Pᵀ`` of a Kronecker covariance (:class:`SubsetCovariance`); its square root
``P S`` is rectangular (it maps a full-grid white vector to the masked cells), which is all
that sampling and control-variable transforms need.

Every covariance has ``size``, ``sqrt_size`` (columns of its square root), ``diagonal()``,
``apply(v)``, ``solve(v)``, ``sqrt_apply(w)`` (w of length ``sqrt_size``), ``scaled(f)``
(the covariance f² C) and, for small sizes, ``dense()``.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg

#: Above this many elements a covariance refuses to form itself densely.
DENSE_LIMIT = 5000
#: Columns to which a covariance is applied at once in aggregate_covariance.
CHUNK = 64


def exponential_correlation(coordinates, length) -> np.ndarray:
    """Correlation matrix ``exp(-|c_i - c_j| / length)`` of 1-D coordinates.

    ``length`` = 0 gives the identity (no correlation).
    """
    coordinates = np.asarray(coordinates, dtype=float)
    if length == 0:
        return np.eye(coordinates.size)
    return np.exp(-np.abs(coordinates[:, None] - coordinates[None, :]) / length)


class DiagonalCovariance:
    """A diagonal covariance, e.g. the observation error R."""

    def __init__(self, variances):
        self.variances = np.asarray(variances, dtype=float)
        if np.any(self.variances <= 0) or not np.isfinite(self.variances).all():
            raise ValueError("a diagonal covariance needs finite, positive variances")

    @property
    def size(self) -> int:
        return self.variances.size

    def diagonal(self) -> np.ndarray:
        return self.variances.copy()

    def apply(self, vectors):
        return _scale_rows(vectors, self.variances)

    def solve(self, vectors):
        return _scale_rows(vectors, 1.0 / self.variances)

    def sqrt_apply(self, vectors):
        return _scale_rows(vectors, np.sqrt(self.variances))

    @property
    def sqrt_size(self) -> int:
        return self.size

    def scaled(self, factor: float) -> "DiagonalCovariance":
        return DiagonalCovariance(self.variances * factor ** 2)

    def dense(self) -> np.ndarray:
        _check_dense(self.size)
        return np.diag(self.variances)


class KroneckerCovariance:
    """``B = D (C_1 ⊗ ... ⊗ C_k) D`` with ``D = diag(std)``.

    Parameters
    ----------
    std : ndarray, shape (n,)
        Standard deviations, n = Π n_i.
    factors : sequence of ndarray
        Correlation matrices C_i of shape (n_i, n_i), symmetric positive definite.
    """

    def __init__(self, std, factors):
        self.std = np.asarray(std, dtype=float).ravel()
        self.factors = [np.asarray(c, dtype=float) for c in factors]
        self.shape = tuple(c.shape[0] for c in self.factors)
        if int(np.prod(self.shape)) != self.std.size:
            raise ValueError(f"std has {self.std.size} elements; factors give {self.shape}")
        if np.any(self.std <= 0):
            raise ValueError("prior error standard deviations must be positive")
        self._cholesky = [np.linalg.cholesky(c) for c in self.factors]

    @property
    def size(self) -> int:
        return self.std.size

    @property
    def sqrt_size(self) -> int:
        return self.std.size

    def scaled(self, factor: float) -> "KroneckerCovariance":
        return KroneckerCovariance(self.std * abs(factor), self.factors)

    def diagonal(self) -> np.ndarray:
        """Variances: std² times the product of the factors' diagonals."""
        diagonal = np.ones(())
        for factor in self.factors:
            diagonal = np.multiply.outer(diagonal, np.diag(factor))
        return self.std ** 2 * diagonal.ravel()

    def apply(self, vectors):
        """``B v`` for v of shape (n,) or (n, k)."""
        return _scale_rows(self._kron(self.factors, _scale_rows(vectors, self.std)), self.std)

    def sqrt_apply(self, vectors):
        """``D (L_1 ⊗ ... ⊗ L_k) v``: a square root S with S Sᵀ = B."""
        return _scale_rows(self._kron(self._cholesky, vectors), self.std)

    def solve(self, vectors):
        """``B⁻¹ v``."""
        inverse = [scipy.linalg.cho_solve((chol, True), np.eye(chol.shape[0]))
                   for chol in self._cholesky]
        return _scale_rows(self._kron(inverse, _scale_rows(vectors, 1.0 / self.std)),
                           1.0 / self.std)

    def dense(self) -> np.ndarray:
        """The full matrix; only for small problems and tests."""
        _check_dense(self.size)
        correlation = self.factors[0]
        for factor in self.factors[1:]:
            correlation = np.kron(correlation, factor)
        return self.std[:, None] * correlation * self.std[None, :]

    def _kron(self, matrices, vectors):
        vectors = np.asarray(vectors, dtype=float)
        single = vectors.ndim == 1
        block = vectors.reshape(*self.shape, -1)
        for axis, matrix in enumerate(matrices):
            block = np.moveaxis(np.tensordot(matrix, block, axes=(1, axis)), 0, axis)
        out = block.reshape(self.size, -1)
        return out[:, 0] if single else out


def _scale_rows(vectors, scale):
    vectors = np.asarray(vectors, dtype=float)
    return vectors * (scale if vectors.ndim == 1 else scale[:, None])


def _check_dense(size: int) -> None:
    if size > DENSE_LIMIT:
        raise MemoryError(f"refusing to form a dense {size}×{size} covariance "
                          f"(limit {DENSE_LIMIT}); use apply/solve instead")


class DenseCovariance:
    """A covariance held as a matrix: for observation errors (m up to ~10⁴)."""

    def __init__(self, matrix):
        self.matrix = np.asarray(matrix, dtype=float)
        self._cholesky = np.linalg.cholesky(self.matrix)

    @property
    def size(self) -> int:
        return self.matrix.shape[0]

    @property
    def sqrt_size(self) -> int:
        return self.size

    def scaled(self, factor: float) -> "DenseCovariance":
        return DenseCovariance(self.matrix * factor ** 2)

    def diagonal(self) -> np.ndarray:
        return np.diag(self.matrix).copy()

    def apply(self, vectors):
        return self.matrix @ np.asarray(vectors, dtype=float)

    def solve(self, vectors):
        return scipy.linalg.cho_solve((self._cholesky, True), np.asarray(vectors, dtype=float))

    def sqrt_apply(self, vectors):
        return self._cholesky @ np.asarray(vectors, dtype=float)

    def dense(self) -> np.ndarray:
        return self.matrix.copy()



class SubsetCovariance:
    """``P C Pᵀ``: the covariance ``C`` restricted to the elements ``index`` (a mask).

    ``apply`` scatters into the parent's space, applies ``C`` and gathers. ``sqrt_apply``
    maps a vector of the parent's ``sqrt_size`` (a white vector on the full grid) to the
    subset: ``P S w`` with ``S Sᵀ = C``. ``solve`` factorises the dense sub-matrix for small
    subsets and uses conjugate gradients beyond :data:`DENSE_LIMIT` elements.
    """

    def __init__(self, parent, index):
        self.parent = parent
        self.index = np.asarray(index, dtype=np.int64)
        if self.index.ndim != 1 or self.index.size == 0:
            raise ValueError("a subset covariance needs a non-empty 1-D index")
        if np.any(np.diff(self.index) <= 0) or self.index[0] < 0 or self.index[-1] >= parent.size:
            raise ValueError("subset index must be strictly increasing and inside the parent")
        self._cholesky = None

    @property
    def size(self) -> int:
        return self.index.size

    @property
    def sqrt_size(self) -> int:
        return self.parent.sqrt_size

    def scaled(self, factor: float) -> "SubsetCovariance":
        return SubsetCovariance(self.parent.scaled(factor), self.index)

    def diagonal(self) -> np.ndarray:
        return self.parent.diagonal()[self.index]

    def apply(self, vectors):
        vectors = np.asarray(vectors, dtype=float)
        full = np.zeros((self.parent.size, *vectors.shape[1:]))
        full[self.index] = vectors
        return self.parent.apply(full)[self.index]

    def sqrt_apply(self, vectors):
        return self.parent.sqrt_apply(vectors)[self.index]

    def solve(self, vectors):
        vectors = np.asarray(vectors, dtype=float)
        if self.size <= DENSE_LIMIT:
            if self._cholesky is None:
                self._cholesky = scipy.linalg.cho_factor(self.dense(), lower=True)
            return scipy.linalg.cho_solve(self._cholesky, vectors)
        operator = scipy.sparse.linalg.LinearOperator((self.size, self.size), matvec=self.apply,
                                                      dtype=float)
        columns = vectors.reshape(self.size, -1)
        out = np.empty_like(columns)
        for j in range(columns.shape[1]):
            out[:, j], info = scipy.sparse.linalg.cg(operator, columns[:, j], rtol=1e-10,
                                                     maxiter=10 * self.size)
            if info:
                raise RuntimeError(f"subset covariance solve did not converge ({info})")
        return out.reshape(vectors.shape)

    def dense(self) -> np.ndarray:
        _check_dense(self.size)
        return self.apply(np.eye(self.size))


class BlockDiagonalCovariance:
    """``diag(C_1, ..., C_k)``: the covariance of a state made of independent blocks."""

    def __init__(self, blocks):
        self.blocks = list(blocks)
        if not self.blocks:
            raise ValueError("a block-diagonal covariance needs at least one block")
        sizes = [block.size for block in self.blocks]
        self._edges = np.concatenate([[0], np.cumsum(sizes)])
        self._sqrt_edges = np.concatenate([[0], np.cumsum([b.sqrt_size for b in self.blocks])])

    @property
    def size(self) -> int:
        return int(self._edges[-1])

    @property
    def sqrt_size(self) -> int:
        return int(self._sqrt_edges[-1])

    def scaled(self, factor: float) -> "BlockDiagonalCovariance":
        return BlockDiagonalCovariance([block.scaled(factor) for block in self.blocks])

    def diagonal(self) -> np.ndarray:
        return np.concatenate([block.diagonal() for block in self.blocks])

    def _map(self, method: str, vectors, edges_in):
        vectors = np.asarray(vectors, dtype=float)
        parts = [getattr(block, method)(vectors[a:b])
                 for block, a, b in zip(self.blocks, edges_in[:-1], edges_in[1:])]
        return np.concatenate(parts, axis=0)

    def apply(self, vectors):
        return self._map("apply", vectors, self._edges)

    def solve(self, vectors):
        return self._map("solve", vectors, self._edges)

    def sqrt_apply(self, vectors):
        return self._map("sqrt_apply", vectors, self._sqrt_edges)

    def dense(self) -> np.ndarray:
        _check_dense(self.size)
        return scipy.linalg.block_diag(*[block.dense() for block in self.blocks])


def aggregate_covariance(W, B) -> np.ndarray:
    """W B Wᵀ for a (k × n) aggregation W, never forming B.

    Block by block for a block-diagonal B (no cross terms), applying each block only to
    the distinct non-zero rows of W restricted to it (the rows of a sum of groups repeat
    those of its parts), a few columns at a time.
    """
    W = scipy.sparse.csr_matrix(W, dtype=float)
    k = W.shape[0]
    blocks = getattr(B, "blocks", None)
    if blocks is None:
        return _dense_quadratic_form(W, B)
    out = np.zeros((k, k))
    start = 0
    W = W.tocsc()
    for block in blocks:
        part = W[:, start:start + block.size].tocsr()
        start += block.size
        rows = np.flatnonzero(np.diff(part.indptr))
        if rows.size == 0:
            continue
        unique, inverse = _unique_rows(part[rows])
        small = _dense_quadratic_form(unique, block)
        expand = scipy.sparse.csr_matrix((np.ones(rows.size), (rows, inverse)),
                                         shape=(k, unique.shape[0]))
        out += np.asarray(expand @ (expand @ small).T)
    return out


def _unique_rows(rows: scipy.sparse.csr_matrix):
    """The distinct rows of a sparse matrix and, for each row, the index of its copy."""
    rows = rows.tocsr()
    rows.sort_indices()
    keys = [(tuple(rows.indices[a:b]), tuple(np.round(rows.data[a:b], 12)))
            for a, b in zip(rows.indptr[:-1], rows.indptr[1:])]
    first, inverse = {}, np.empty(len(keys), dtype=np.int64)
    for i, key in enumerate(keys):
        inverse[i] = first.setdefault(key, len(first))
    order = np.empty(len(first), dtype=np.int64)
    for i, j in enumerate(inverse):
        order[j] = i
    return rows[order], inverse


def _dense_quadratic_form(W, B) -> np.ndarray:
    """W B Wᵀ, applying B to a few columns of Wᵀ at a time."""
    W = scipy.sparse.csr_matrix(W)
    k = W.shape[0]
    out = np.empty((k, k))
    Wt = W.T.tocsc()
    for start in range(0, k, CHUNK):
        columns = Wt[:, start:start + CHUNK].toarray()
        out[:, start:start + CHUNK] = np.asarray(W @ B.apply(columns))
    return out
