"""Subset and block-diagonal covariances, and ``scaled`` of every covariance class
(cityflux.covariance), against dense matrices formed in the test.

References are built independently of the operators: the Kronecker product with np.kron,
the subset with an explicit selection matrix P, the block diagonal with
scipy.linalg.block_diag.
"""

import numpy as np
import pytest
import scipy.linalg

from cityflux import covariance
from cityflux.covariance import (
    BlockDiagonalCovariance,
    DenseCovariance,
    DiagonalCovariance,
    KroneckerCovariance,
    SubsetCovariance,
)

TOL = 1e-10


def _close(actual, expected, tol=TOL):
    """Agreement to ``tol`` relative to the size of the expected values."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    scale = np.abs(expected).max()
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol * scale)


def _exp_correlation(coordinates, length):
    """exp(-|ci - cj| / L), element by element."""
    n = len(coordinates)
    return np.array([[np.exp(-abs(coordinates[i] - coordinates[j]) / length)
                      for j in range(n)] for i in range(n)])


def _kronecker(rng, shape, lengths):
    coordinates = [np.sort(rng.uniform(0, 10, n)) for n in shape]
    factors = [_exp_correlation(c, length) for c, length in zip(coordinates, lengths)]
    std = rng.uniform(0.5, 2.5, int(np.prod(shape)))
    correlation = factors[0]
    for factor in factors[1:]:
        correlation = np.kron(correlation, factor)
    return KroneckerCovariance(std, factors), std[:, None] * correlation * std[None, :]


@pytest.fixture
def subset_case():
    """A Kronecker covariance on a 3 x 4 x 5 state and the subset of a random mask."""
    rng = np.random.default_rng(11)
    parent, parent_dense = _kronecker(rng, (3, 4, 5), (2.0, 3.0, 1.5))
    mask = rng.random(parent.size) < 0.45
    mask[[0, -1]] = True
    index = np.flatnonzero(mask)
    selection = np.eye(parent.size)[index]  # P
    return SubsetCovariance(parent, index), parent, selection, parent_dense, rng


# --------------------------------------------------------------------------- subset


@pytest.mark.parametrize("columns", [None, 3])
def test_subset_apply_solve_diagonal_dense(subset_case, columns):
    subset, _, P, C, rng = subset_case
    reference = P @ C @ P.T
    assert subset.size == P.shape[0]
    vectors = rng.normal(size=subset.size if columns is None else (subset.size, columns))
    _close(subset.dense(), reference)
    _close(subset.diagonal(), np.diag(reference))
    _close(subset.apply(vectors), reference @ vectors)
    _close(subset.solve(vectors), np.linalg.solve(reference, vectors))
    _close(subset.solve(subset.apply(vectors)), vectors)


def test_subset_sqrt_apply_of_a_full_size_white_vector(subset_case):
    subset, parent, P, C, _ = subset_case
    assert subset.sqrt_size == parent.sqrt_size == parent.size  # white noise on the full grid
    S = subset.sqrt_apply(np.eye(subset.sqrt_size))  # (subset, full)
    assert S.shape == (subset.size, parent.size)
    _close(S @ S.T, P @ C @ P.T)
    # it is P times the parent's square root, column by column and for one vector
    _close(S, P @ parent.sqrt_apply(np.eye(parent.size)))
    w = np.random.default_rng(3).normal(size=parent.size)
    _close(subset.sqrt_apply(w), S @ w)


def test_subset_solve_by_conjugate_gradients(subset_case, monkeypatch):
    """Beyond DENSE_LIMIT elements the solve is iterative; same answer."""
    subset, _, P, C, rng = subset_case
    reference = P @ C @ P.T
    vectors = rng.normal(size=(subset.size, 2))
    expected = np.linalg.solve(reference, vectors)
    monkeypatch.setattr(covariance, "DENSE_LIMIT", 5)
    fresh = SubsetCovariance(subset.parent, subset.index)
    _close(fresh.solve(vectors), expected, tol=1e-7)
    _close(fresh.solve(vectors[:, 0]), expected[:, 0], tol=1e-7)
    assert fresh._cholesky is None  # no dense factor was formed


def test_subset_index_is_checked(subset_case):
    _, parent, _, _, _ = subset_case
    for index in ([], [3, 1], [0, 0, 2], [-1, 2], [0, parent.size]):
        with pytest.raises(ValueError):
            SubsetCovariance(parent, index)


# --------------------------------------------------------------------------- block diagonal


@pytest.fixture
def block_case():
    rng = np.random.default_rng(5)
    kron, kron_dense = _kronecker(rng, (2, 3, 4), (4.0, 1.0, 2.5))
    parent, parent_dense = _kronecker(rng, (4, 5), (1.5, 3.0))
    index = np.flatnonzero(rng.random(parent.size) < 0.5)
    subset = SubsetCovariance(parent, index)
    subset_dense = parent_dense[np.ix_(index, index)]
    diagonal = DiagonalCovariance(rng.uniform(0.1, 4.0, 7))
    blocks = [kron, subset, diagonal]
    dense = scipy.linalg.block_diag(kron_dense, subset_dense, np.diag(diagonal.variances))
    return BlockDiagonalCovariance(blocks), blocks, dense, rng


@pytest.mark.parametrize("columns", [None, 4])
def test_block_diagonal_apply_solve_diagonal(block_case, columns):
    B, _, dense, rng = block_case
    assert B.size == dense.shape[0] == 24 + B.blocks[1].size + 7
    vectors = rng.normal(size=B.size if columns is None else (B.size, columns))
    _close(B.dense(), dense)
    _close(B.diagonal(), np.diag(dense))
    _close(B.apply(vectors), dense @ vectors)
    _close(B.solve(vectors), np.linalg.solve(dense, vectors))
    _close(B.apply(B.solve(vectors)), vectors)
    x, y = rng.normal(size=(2, B.size))
    assert np.dot(B.apply(x), y) == pytest.approx(np.dot(x, B.apply(y)), rel=TOL)


def test_block_diagonal_sqrt_apply(block_case):
    B, blocks, dense, rng = block_case
    # the subset block's square root takes a white vector of its parent's full size
    assert B.sqrt_size == 24 + 20 + 7
    S = B.sqrt_apply(np.eye(B.sqrt_size))
    assert S.shape == (B.size, B.sqrt_size)
    _close(S @ S.T, dense)
    blockwise = scipy.linalg.block_diag(*[b.sqrt_apply(np.eye(b.sqrt_size)) for b in blocks])
    _close(S, blockwise)
    w = rng.normal(size=B.sqrt_size)
    _close(B.sqrt_apply(w), S @ w)


def test_block_diagonal_needs_a_block():
    with pytest.raises(ValueError):
        BlockDiagonalCovariance([])


# --------------------------------------------------------------------------- scaled


def _every_class():
    rng = np.random.default_rng(8)
    kron, _ = _kronecker(rng, (3, 4), (2.0, 1.0))
    a = rng.normal(size=(6, 6))
    subset = SubsetCovariance(kron, [0, 2, 3, 7, 11])
    block = BlockDiagonalCovariance([kron, subset, DiagonalCovariance([1.0, 2.0])])
    return {"diagonal": DiagonalCovariance(rng.uniform(0.5, 2.0, 5)),
            "kronecker": kron,
            "dense": DenseCovariance(a @ a.T + 6 * np.eye(6)),
            "subset": subset,
            "block_diagonal": block}


@pytest.mark.parametrize("name", sorted(_every_class()))
@pytest.mark.parametrize("factor", [0.5, 3.0])
def test_scaled_is_factor_squared_times_the_covariance(name, factor):
    C = _every_class()[name]
    before = C.dense()
    scaled = C.scaled(factor)
    assert type(scaled) is type(C) and scaled.size == C.size
    assert scaled.sqrt_size == C.sqrt_size
    rng = np.random.default_rng(2)
    v = rng.normal(size=(C.size, 2))
    _close(scaled.dense(), factor ** 2 * before)
    _close(scaled.diagonal(), factor ** 2 * np.diag(before))
    _close(scaled.apply(v), factor ** 2 * (before @ v))
    _close(scaled.solve(v), np.linalg.solve(before, v) / factor ** 2)
    S = scaled.sqrt_apply(np.eye(scaled.sqrt_size))
    _close(S @ S.T, factor ** 2 * before)
    _close(C.dense(), before)  # the original is unchanged


@pytest.mark.parametrize("name", sorted(_every_class()))
def test_square_root_of_every_class(name):
    C = _every_class()[name]
    S = C.sqrt_apply(np.eye(C.sqrt_size))
    _close(S @ S.T, C.dense())
