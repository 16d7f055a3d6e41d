"""The observation error covariance R (cityflux.obs.errors) against an element-by-element
reference:

    R[i, j] = σ_g² ρ(t_i − t_j) [same site and same mismatch group g]
            + σ_bg² ρ(t_i − t_j)                       (every pair)
            + σ_meas,i² [i = j]                         (the row's uncertainty, else the default)

with ρ(Δt) = exp(−|Δt| / τ), or [Δt = 0] when τ = 0.
"""

import numpy as np
import pandas as pd
import pytest

from cityflux.config import MismatchGroups
from cityflux.covariance import DenseCovariance, DiagonalCovariance
from cityflux.errors import InputError
from cityflux.obs.errors import ObservationErrorModel, error_model, mismatch_group_labels

START = pd.Timestamp("2025-07-01T00:00")


@pytest.fixture
def table():
    """Three towers; A and B share some hours; C has a stated uncertainty on two rows."""
    hours = [0, 1, 2, 5, 0, 1, 3, 1, 2, 9, 12]
    sites = ["A", "A", "A", "A", "B", "B", "B", "C", "C", "C", "A"]
    sigma = [np.nan] * 7 + [0.4, np.nan, 0.05, np.nan]
    return pd.DataFrame({"site": sites, "time": START + pd.to_timedelta(hours, unit="h"),
                         "uncertainty_ppm": sigma})


@pytest.fixture
def is_day(table):
    return table.time.dt.hour.between(1, 9).to_numpy()


def _reference(table, labels, mismatch, measurement_ppm, tau, background_ppm):
    hours = ((table.time - table.time.min()) / pd.Timedelta(hours=1)).to_numpy()
    sites = table.site.to_numpy()
    sigma = table.uncertainty_ppm.to_numpy() if "uncertainty_ppm" in table else \
        np.full(len(table), np.nan)
    m = len(table)
    R = np.zeros((m, m))
    for i in range(m):
        for j in range(m):
            lag = abs(hours[i] - hours[j])
            rho = np.exp(-lag / tau) if tau > 0 else float(lag == 0)
            value = background_ppm ** 2 * rho
            if sites[i] == sites[j] and labels[i] == labels[j]:
                value += mismatch[labels[i]] ** 2 * rho
            if i == j:
                value += (sigma[i] if np.isfinite(sigma[i]) else measurement_ppm) ** 2
            R[i, j] = value
    return R


def test_mismatch_group_labels(table, is_day):
    sites = table.site.to_numpy()
    assert list(mismatch_group_labels(sites, is_day, MismatchGroups.ALL)) == ["all"] * 11
    assert list(mismatch_group_labels(sites, is_day, MismatchGroups.SITE)) == list(sites)
    labels = mismatch_group_labels(sites, is_day, MismatchGroups.SITE_DAY_NIGHT)
    assert list(labels[:5]) == ["A/night", "A/day", "A/day", "A/day", "B/night"]
    assert labels[-1] == "A/night"  # 12 h is night in this fixture


def test_error_model_fields(table, is_day):
    labels = mismatch_group_labels(table.site, is_day, MismatchGroups.SITE_DAY_NIGHT)
    model = error_model(table, labels, 0.2, 3.0, 0.5)
    assert model.size == 11
    assert model.groups == tuple(dict.fromkeys(labels))  # first appearance order
    assert [model.groups[g] for g in model.group_index] == list(labels)
    np.testing.assert_array_equal(model.hours, [0, 1, 2, 5, 0, 1, 3, 1, 2, 9, 12])
    expected_var = np.full(11, 0.04)
    expected_var[[7, 9]] = [0.16, 0.0025]  # the stated uncertainties replace the default
    np.testing.assert_allclose(model.measurement_var, expected_var, rtol=1e-15)


CASES = [  # measurement, correlation hours, background
    (0.2, 0.0, 0.0),
    (0.2, 0.0, 0.7),
    (0.3, 4.0, 0.0),
    (0.3, 4.0, 0.7),
    (0.0, 2.0, 1.1),
]


@pytest.mark.parametrize("grouping", list(MismatchGroups))
@pytest.mark.parametrize("measurement, tau, background", CASES)
def test_r_equals_the_element_by_element_reference(table, is_day, grouping, measurement, tau,
                                                   background):
    labels = mismatch_group_labels(table.site, is_day, grouping)
    model = error_model(table, labels, measurement, tau, background)
    mismatch = {g: 0.5 + 0.7 * k for k, g in enumerate(model.groups)}
    expected = _reference(table, labels, mismatch, measurement, tau, background)
    R = model.covariance(mismatch)
    if tau == 0 and background == 0:
        assert isinstance(R, DiagonalCovariance)
    else:
        assert isinstance(R, DenseCovariance)
    np.testing.assert_allclose(R.dense(), expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(model.matrix(mismatch), expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(model.diagonal(mismatch), np.diag(expected), rtol=1e-12)
    np.linalg.cholesky(expected)  # a valid covariance


def test_r_structure_of_the_reference(table, is_day):
    """What the formula means, checked on entries of the reference itself."""
    labels = mismatch_group_labels(table.site, is_day, MismatchGroups.SITE)
    R = error_model(table, labels, 0.2, 0.0, 0.5).covariance({"A": 1.0, "B": 2.0, "C": 3.0})
    M = R.dense()
    assert M[0, 4] == pytest.approx(0.25)  # A and B at hour 0: only the shared background
    assert M[1, 7] == pytest.approx(0.25)  # A, C at hour 1
    assert M[0, 1] == 0.0  # same site, different hours, τ = 0: uncorrelated
    assert M[7, 7] == pytest.approx(9.0 + 0.25 + 0.16)  # C's own uncertainty 0.4


@pytest.mark.parametrize("measurement, tau, background", CASES)
def test_components_sum_to_r(table, is_day, measurement, tau, background):
    labels = mismatch_group_labels(table.site, is_day, MismatchGroups.SITE_DAY_NIGHT)
    model = error_model(table, labels, measurement, tau, background)
    mismatch = {g: 0.3 + 0.4 * k for k, g in enumerate(model.groups)}
    total = sum(mismatch[g] ** 2 * model.mismatch_component(k)
                for k, g in enumerate(model.groups))
    total = total + background ** 2 * model.background_component() + \
        np.diag(model.measurement_var)
    np.testing.assert_allclose(total, model.covariance(mismatch).dense(), rtol=1e-12,
                               atol=1e-15)
    sites, index = table.site.to_numpy(), model.group_index
    for k in range(len(model.groups)):
        M = model.mismatch_component(k)
        inside = index == k
        allowed = (sites[:, None] == sites[None, :]) & inside[:, None] & inside[None, :]
        assert not M[~allowed].any()  # only same-site pairs of group k
        np.testing.assert_array_equal(np.diag(M)[inside], 1.0)


@pytest.mark.parametrize("rows", [np.array([0, 2, 4, 7, 9, 10]),
                                  np.arange(11) % 3 != 1])
def test_subset_keeps_the_structure(table, is_day, rows):
    labels = mismatch_group_labels(table.site, is_day, MismatchGroups.SITE_DAY_NIGHT)
    model = error_model(table, labels, 0.2, 4.0, 0.6)
    mismatch = {g: 1.0 + k for k, g in enumerate(model.groups)}
    sub = model.subset(rows)
    assert isinstance(sub, ObservationErrorModel)
    assert sub.groups == model.groups
    positions = np.arange(11)[rows]
    full = model.matrix(mismatch)
    np.testing.assert_allclose(sub.matrix(mismatch), full[np.ix_(positions, positions)],
                               rtol=1e-13)
    np.testing.assert_allclose(sub.covariance(mismatch).dense(),
                               full[np.ix_(positions, positions)], rtol=1e-13)
    for k in range(len(model.groups)):
        np.testing.assert_array_equal(sub.mismatch_component(k),
                                      model.mismatch_component(k)[np.ix_(positions, positions)])
    # the same as the error model of the sub-table
    direct = error_model(table.iloc[positions], labels[positions], 0.2, 4.0, 0.6)
    np.testing.assert_allclose(direct.matrix(mismatch), sub.matrix(mismatch), rtol=1e-13)


def test_zero_errors_are_refused(table, is_day):
    labels = mismatch_group_labels(table.site, is_day, MismatchGroups.ALL)
    no_stated = table.assign(uncertainty_ppm=np.nan)
    model = error_model(no_stated, labels, 0.0, 0.0, 0.0)
    with pytest.raises(InputError) as info:
        model.covariance({"all": 0.0})
    message = str(info.value)
    assert "\n" not in message and "both zero" in message
    # a stated uncertainty on every row is a measurement error: R is fine
    stated = table.assign(uncertainty_ppm=0.1)
    R = error_model(stated, labels, 0.0, 0.0, 0.0).covariance({"all": 0.0})
    np.testing.assert_allclose(R.diagonal(), 0.01)
    # the mismatch alone is fine too
    R = error_model(no_stated, labels, 0.0, 0.0, 0.0).covariance({"all": 0.5})
    np.testing.assert_allclose(R.diagonal(), 0.25)


def test_background_error_alone_is_refused(table, is_day):
    labels = mismatch_group_labels(table.site, is_day, MismatchGroups.ALL)
    model = error_model(table.assign(uncertainty_ppm=np.nan), labels, 0.0, 0.0, 0.5)
    with pytest.raises(InputError):
        model.covariance({"all": 0.0})


def test_empty_table():
    empty = pd.DataFrame({"site": [], "time": pd.to_datetime([])})
    model = error_model(empty, np.array([], dtype=object), 0.2, 1.0, 0.5)
    assert model.size == 0 and model.groups == ()
