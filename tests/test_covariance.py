"""Covariance operators (cityflux.covariance) against dense matrices built in the test."""

import numpy as np
import pytest

from cityflux.covariance import (
    DENSE_LIMIT,
    DenseCovariance,
    DiagonalCovariance,
    KroneckerCovariance,
    exponential_correlation,
)

RTOL = 1e-12
SHAPE = (3, 4, 5)


def _correlation(coordinates, length):
    """exp(-|ci - cj| / L), written out element by element (independent of the source)."""
    n = len(coordinates)
    out = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            out[i, j] = np.exp(-abs(coordinates[i] - coordinates[j]) / length)
    return out


@pytest.fixture
def kron_case():
    rng = np.random.default_rng(1)
    coords = [np.sort(rng.uniform(0, 10, size)) for size in SHAPE]
    lengths = [2.0, 3.5, 1.2]
    factors = [exponential_correlation(c, length) for c, length in zip(coords, lengths)]
    std = rng.uniform(0.5, 3.0, int(np.prod(SHAPE)))
    correlation = np.kron(np.kron(_correlation(coords[0], lengths[0]),
                                  _correlation(coords[1], lengths[1])),
                          _correlation(coords[2], lengths[2]))
    dense = np.diag(std) @ correlation @ np.diag(std)
    return KroneckerCovariance(std, factors), dense, rng


def _close(actual, expected, rtol=RTOL):
    scale = np.max(np.abs(expected))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


def test_exponential_correlation_values():
    c = np.array([0.0, 1.0, 3.0])
    np.testing.assert_allclose(exponential_correlation(c, 2.0), _correlation(c, 2.0), rtol=1e-15)
    np.testing.assert_allclose(exponential_correlation(c, 2.0)[0, 2], np.exp(-1.5), rtol=1e-15)


def test_exponential_correlation_zero_length_is_identity():
    c = np.array([0.0, 0.5, 0.5 + 1e-9, 7.0])
    np.testing.assert_array_equal(exponential_correlation(c, 0), np.eye(4))
    np.testing.assert_array_equal(exponential_correlation(c, 0.0), np.eye(4))


def test_kronecker_dense_matches_independent_kron(kron_case):
    B, dense, _ = kron_case
    assert B.size == 60 and B.shape == SHAPE
    _close(B.dense(), dense)


@pytest.mark.parametrize("k", [None, 1, 7])
def test_kronecker_apply_matches_dense(kron_case, k):
    B, dense, rng = kron_case
    v = rng.normal(size=60 if k is None else (60, k))
    out = B.apply(v)
    assert out.shape == v.shape
    _close(out, dense @ v)


@pytest.mark.parametrize("k", [None, 6])
def test_kronecker_solve_matches_dense(kron_case, k):
    B, dense, rng = kron_case
    v = rng.normal(size=60 if k is None else (60, k))
    out = B.solve(v)
    assert out.shape == v.shape
    # the dense inverse is less accurate than the factored solve: compare B x with v
    _close(dense @ out, v, rtol=1e-10)
    np.testing.assert_allclose(out, np.linalg.solve(dense, v), rtol=1e-8,
                               atol=1e-8 * np.abs(out).max())


@pytest.mark.parametrize("k", [None, 4])
def test_kronecker_solve_inverts_apply(kron_case, k):
    B, _, rng = kron_case
    v = rng.normal(size=60 if k is None else (60, k))
    _close(B.solve(B.apply(v)), v, rtol=1e-10)
    _close(B.apply(B.solve(v)), v, rtol=1e-10)


def test_kronecker_sqrt_apply_is_square_root(kron_case):
    B, dense, rng = kron_case
    S = B.sqrt_apply(np.eye(60))
    _close(S @ S.T, dense)
    # single vectors agree with the matrix form
    v = rng.normal(size=60)
    _close(B.sqrt_apply(v), S @ v)
    # Cholesky-type square root: lower triangular (Kronecker of lower triangles)
    assert np.allclose(np.triu(S, 1), 0.0)


def test_kronecker_diagonal(kron_case):
    B, dense, _ = kron_case
    _close(B.diagonal(), np.diag(dense))


def test_kronecker_diagonal_with_non_unit_factor_diagonal():
    # factors that are covariances rather than correlations: diagonal must include them
    a = np.array([[4.0, 1.0], [1.0, 2.0]])
    b = np.array([[3.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 5.0]])
    std = np.arange(1.0, 7.0)
    B = KroneckerCovariance(std, [a, b])
    dense = np.diag(std) @ np.kron(a, b) @ np.diag(std)
    _close(B.diagonal(), np.diag(dense))
    _close(B.apply(np.eye(6)), dense)


def test_kronecker_identity_factors_are_diagonal():
    std = np.linspace(1, 2, 12)
    B = KroneckerCovariance(std, [np.eye(3), np.eye(4)])
    _close(B.dense(), np.diag(std ** 2))


def test_kronecker_rejects_inconsistent_inputs():
    with pytest.raises(ValueError, match="factors give"):
        KroneckerCovariance(np.ones(11), [np.eye(3), np.eye(4)])
    with pytest.raises(ValueError, match="positive"):
        KroneckerCovariance(np.r_[np.ones(11), 0.0], [np.eye(3), np.eye(4)])


@pytest.fixture
def diag_case():
    rng = np.random.default_rng(2)
    variances = rng.uniform(0.1, 5.0, 9)
    return DiagonalCovariance(variances), np.diag(variances), rng


@pytest.fixture
def dense_case():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(9, 9))
    matrix = a @ a.T + 9 * np.eye(9)
    return DenseCovariance(matrix), matrix, rng


@pytest.mark.parametrize("case", ["diag_case", "dense_case"])
@pytest.mark.parametrize("k", [None, 3])
def test_simple_covariances_match_dense(request, case, k):
    C, dense, rng = request.getfixturevalue(case)
    v = rng.normal(size=9 if k is None else (9, k))
    assert C.size == 9
    _close(C.dense(), dense)
    _close(C.diagonal(), np.diag(dense))
    _close(C.apply(v), dense @ v)
    _close(dense @ C.solve(v), v, rtol=1e-10)
    _close(C.solve(C.apply(v)), v, rtol=1e-10)
    S = C.sqrt_apply(np.eye(9))
    _close(S @ S.T, dense)
    _close(C.sqrt_apply(v), S @ v)


def test_diagonal_returns_copies(diag_case):
    C, dense, _ = diag_case
    C.diagonal()[:] = -1
    C.dense()[:] = -1
    _close(C.diagonal(), np.diag(dense))


def test_diagonal_covariance_rejects_bad_variances():
    for bad in ([1.0, 0.0], [1.0, -2.0], [1.0, np.nan], [1.0, np.inf]):
        with pytest.raises(ValueError):
            DiagonalCovariance(bad)


def test_dense_covariance_rejects_indefinite_matrix():
    with pytest.raises(np.linalg.LinAlgError):
        DenseCovariance(np.array([[1.0, 2.0], [2.0, 1.0]]))


def test_dense_limit_refusal():
    assert DENSE_LIMIT == 5000
    # 20 × 20 × 13 = 5200 elements: too big to form
    factors = [np.eye(20), np.eye(20), np.eye(13)]
    B = KroneckerCovariance(np.ones(5200), factors)
    with pytest.raises(MemoryError, match="5200"):
        B.dense()
    with pytest.raises(MemoryError):
        DiagonalCovariance(np.ones(DENSE_LIMIT + 1)).dense()
    # operators still work without forming the matrix
    v = np.arange(5200.0)
    np.testing.assert_array_equal(B.apply(v), v)
