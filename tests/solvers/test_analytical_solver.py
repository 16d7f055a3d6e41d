"""AnalyticalSolver against dense textbook formulas on a small random problem."""

import numpy as np
import pytest
import scipy.sparse

from cityflux.config import SolverMethod
from cityflux.covariance import (
    DenseCovariance,
    DiagonalCovariance,
    KroneckerCovariance,
    exponential_correlation,
)
from cityflux.solvers import AnalyticalSolver, InversionProblem, InversionResult, make_solver
from cityflux.transport.footprints import SparseObservationOperator

SHAPE = (3, 4, 5)
N = 60
M = 15
K = 4
TOL = 1e-8


def _expcorr(c, length):
    return np.exp(-np.abs(np.subtract.outer(c, c)) / length)


def _make_prior(rng):
    coords = [np.sort(rng.uniform(0, 10, s)) for s in SHAPE]
    lengths = (4.0, 2.0, 3.0)
    std = rng.uniform(0.5, 2.0, N)
    B = KroneckerCovariance(std, [exponential_correlation(c, ell)
                                  for c, ell in zip(coords, lengths)])
    corr = np.kron(np.kron(_expcorr(coords[0], lengths[0]), _expcorr(coords[1], lengths[1])),
                   _expcorr(coords[2], lengths[2]))
    B_dense = std[:, None] * corr * std[None, :]
    return B, B_dense


def _make_operator(rng):
    H = scipy.sparse.random(M, N, density=0.25, random_state=np.random.RandomState(7),
                            data_rvs=lambda k: rng.uniform(0.1, 1.0, k)).toarray()
    H[np.arange(M), rng.integers(0, N, M)] += 0.5  # no empty row
    return SparseObservationOperator(scipy.sparse.csr_matrix(H)), H


def _make_R(kind, rng):
    if kind == "diagonal":
        variances = rng.uniform(0.2, 1.0, M)
        return DiagonalCovariance(variances), np.diag(variances)
    times = np.sort(rng.uniform(0, 20, M))
    matrix = 0.3 * np.eye(M) + 0.5 * _expcorr(times, 3.0)
    return DenseCovariance(matrix), matrix


def _close(actual, expected, tol=TOL):
    expected = np.asarray(expected)
    scale = max(np.max(np.abs(expected)), 1e-300) if expected.size else 1.0
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol * scale)


@pytest.fixture(params=["diagonal", "dense"])
def case(request):
    rng = np.random.default_rng(11)
    B, B_dense = _make_prior(rng)
    H, H_dense = _make_operator(rng)
    R, R_dense = _make_R(request.param, rng)
    x_b = rng.normal(3.0, 1.0, N)
    y = H_dense @ x_b + rng.normal(0, 2.0, M)
    W = rng.normal(size=(K, N)) * (rng.random((K, N)) < 0.5)
    problem = InversionProblem(x_b, B, H, y, R, scipy.sparse.csr_matrix(W))
    result = AnalyticalSolver().solve(problem)
    return dict(problem=problem, result=result, B=B_dense, H=H_dense, R=R_dense, x_b=x_b, y=y,
                W=W)


def _textbook(c):
    B, H, R, x_b, y = c["B"], c["H"], c["R"], c["x_b"], c["y"]
    S = H @ B @ H.T + R
    d = y - H @ x_b
    gain = B @ H.T @ np.linalg.inv(S)
    x_a = x_b + gain @ d
    A = B - gain @ H @ B
    return S, d, x_a, A


def test_posterior_mean(case):
    _, _, x_a, _ = _textbook(case)
    assert isinstance(case["result"], InversionResult)
    _close(case["result"].posterior_state, x_a)
    # the observations did move the state (the test is not trivially passing)
    assert np.max(np.abs(x_a - case["x_b"])) > 0.1


def test_posterior_mean_information_form(case):
    B, H, R = case["B"], case["H"], case["R"]
    Rinv = np.linalg.inv(R)
    A_info = np.linalg.inv(H.T @ Rinv @ H + np.linalg.inv(B))
    x_a = case["x_b"] + A_info @ H.T @ Rinv @ (case["y"] - H @ case["x_b"])
    _close(case["result"].posterior_state, x_a, tol=1e-7)
    _close(case["result"].posterior_std, np.sqrt(np.diag(A_info)), tol=1e-7)


def test_posterior_std(case):
    _, _, _, A = _textbook(case)
    std = case["result"].posterior_std
    _close(std, np.sqrt(np.diag(A)))
    assert np.all(std <= np.sqrt(np.diag(case["B"])) + 1e-12)
    assert np.any(std < 0.9 * np.sqrt(np.diag(case["B"])))


def test_aggregates(case):
    _, _, x_a, A = _textbook(case)
    W, B, res = case["W"], case["B"], case["result"]
    _close(res.aggregate_prior, W @ case["x_b"])
    _close(res.aggregate_posterior, W @ x_a)
    _close(res.aggregate_prior_covariance, W @ B @ W.T)
    _close(res.aggregate_posterior_covariance, W @ A @ W.T)
    assert res.aggregate_prior_covariance.shape == (K, K)
    np.testing.assert_array_equal(res.aggregate_posterior_covariance,
                                  res.aggregate_posterior_covariance.T)


def test_diagnostics(case):
    S, d, _, A = _textbook(case)
    diag = case["result"].diagnostics
    chi2 = d @ np.linalg.solve(S, d)
    dofs = np.trace(np.eye(N) - A @ np.linalg.inv(case["B"]))
    assert diag["n_obs"] == M and diag["n_state"] == N
    assert diag["chi2"] == pytest.approx(chi2, rel=TOL)
    assert diag["reduced_chi2"] == pytest.approx(chi2 / M, rel=TOL)
    assert diag["dofs"] == pytest.approx(dofs, rel=1e-7)
    assert 0 < diag["dofs"] < M


def test_dense_prior_covariance_gives_same_answer(case):
    """Swapping the Kronecker B for the same matrix held densely changes nothing."""
    p = case["problem"]
    dense_problem = InversionProblem(p.prior_state, DenseCovariance(case["B"]), p.operator,
                                     p.observations, p.obs_covariance, p.aggregation)
    other = AnalyticalSolver().solve(dense_problem)
    _close(other.posterior_state, case["result"].posterior_state, tol=1e-10)
    _close(other.posterior_std, case["result"].posterior_std, tol=1e-10)


def test_dense_aggregation_matrix_accepted(case):
    p = case["problem"]
    dense_w = InversionProblem(p.prior_state, p.prior_covariance, p.operator, p.observations,
                               p.obs_covariance, case["W"])
    other = AnalyticalSolver().solve(dense_w)
    _close(other.aggregate_posterior_covariance, case["result"].aggregate_posterior_covariance,
           tol=1e-12)


def test_without_aggregation(case):
    p = case["problem"]
    result = AnalyticalSolver().solve(InversionProblem(
        p.prior_state, p.prior_covariance, p.operator, p.observations, p.obs_covariance))
    _close(result.posterior_state, case["result"].posterior_state, tol=1e-12)
    assert result.aggregate_prior.shape == (0,)
    assert result.aggregate_posterior_covariance.shape == (0, 0)


def test_huge_obs_error_gives_prior():
    rng = np.random.default_rng(5)
    B, B_dense = _make_prior(rng)
    H, _ = _make_operator(rng)
    x_b = rng.normal(size=N)
    y = rng.normal(100.0, 10.0, M)  # far from H x_b
    R = DiagonalCovariance(np.full(M, 1e14))
    res = AnalyticalSolver().solve(InversionProblem(x_b, B, H, y, R, np.eye(N)))
    np.testing.assert_allclose(res.posterior_state, x_b, atol=1e-8)
    np.testing.assert_allclose(res.posterior_std, np.sqrt(np.diag(B_dense)), rtol=1e-8)
    np.testing.assert_allclose(res.aggregate_posterior_covariance, B_dense, atol=1e-8)
    assert res.diagnostics["dofs"] == pytest.approx(0.0, abs=1e-8)


def test_precise_observation_of_one_element_pins_it():
    rng = np.random.default_rng(6)
    B, B_dense = _make_prior(rng)
    x_b = rng.normal(size=N)
    j = 37
    H = SparseObservationOperator(scipy.sparse.csr_matrix(([1.0], ([0], [j])), shape=(1, N)))
    value = x_b[j] + 5.0
    res = AnalyticalSolver().solve(InversionProblem(
        x_b, B, H, np.array([value]), DiagonalCovariance([1e-12])))
    assert res.posterior_state[j] == pytest.approx(value, abs=1e-6)
    assert res.posterior_std[j] == pytest.approx(0.0, abs=1e-5)
    # correlated neighbours move in the direction of the innovation, by B_ij / B_jj
    expected = x_b + B_dense[:, j] / B_dense[j, j] * 5.0
    np.testing.assert_allclose(res.posterior_state, expected, atol=1e-6)
    assert res.diagnostics["dofs"] == pytest.approx(1.0, abs=1e-6)


def test_make_solver():
    assert isinstance(make_solver("analytical"), AnalyticalSolver)
    assert isinstance(make_solver(SolverMethod.ANALYTICAL), AnalyticalSolver)
    assert make_solver("analytical").name == "analytical"
    with pytest.raises(KeyError):
        make_solver("ensemble_kalman")


def test_innovation_and_residual_variances(case):
    """diag(S) is the variance of y − H x_b and diag(R S⁻¹ R) that of y − H x_a: checked
    against the dense formulas and against Monte Carlo draws from the model's own
    statistics (so per-site χ² normalised by them is about 1, not below 1)."""
    result = case["result"]
    B_dense, H_dense, R_dense, x_b = case["B"], case["H"], case["R"], case["x_b"]
    rng = np.random.default_rng(5)
    S = H_dense @ B_dense @ H_dense.T + R_dense
    _close(result.innovation_variance, np.diag(S))
    _close(result.residual_variance, np.diag(R_dense @ np.linalg.solve(S, R_dense)))
    draws = 4000
    truth = x_b[:, None] + np.linalg.cholesky(B_dense) @ rng.standard_normal((N, draws))
    noise = np.linalg.cholesky(R_dense) @ rng.standard_normal((M, draws))
    ys = H_dense @ truth + noise
    gain = B_dense @ H_dense.T @ np.linalg.inv(S)
    residuals = ys - H_dense @ (x_b[:, None] + gain @ (ys - H_dense @ x_b[:, None]))
    ratio = residuals.var(axis=1) / result.residual_variance
    assert np.all(np.abs(ratio - 1) < 0.12), ratio          # SE of a variance ≈ 2.2 %
    assert np.all(result.residual_variance < R_dense.diagonal())
