"""krylov_ref.regression: the ridge product, warm-started paths, the
generators and the X^T X non-zero count, against direct computations."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from krylov_ref.regression import (PathResult, bag_of_words, gram_nnz, regularization_path,
                                   ridge_matvec, synthetic_regression)


@pytest.fixture(autouse=True)
def one_blas_thread():
    with threadpool_limits(1):
        yield


def ridge_solution(X, y, lam):
    Xd = X.toarray() if sp.issparse(X) else X
    return np.linalg.solve(Xd.T @ Xd + lam * np.eye(Xd.shape[1]), Xd.T @ y)


# ---------------------------------------------------------------- ridge_matvec

@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("lam", [0.0, 0.3, 5.0])
def test_ridge_matvec_is_the_normal_equations_product(sparse, lam):
    rng = np.random.default_rng(0)
    X = sp.random_array((30, 50), density=0.2, format="csr", rng=rng) if sparse \
        else rng.standard_normal((30, 50))
    Xd = X.toarray() if sparse else X
    v = rng.standard_normal(50)
    kept = v.copy()
    got = ridge_matvec(X, v, lam)
    np.testing.assert_allclose(got, (Xd.T @ Xd + lam * np.eye(50)) @ v, rtol=1e-12, atol=1e-12)
    assert got.shape == (50,) and isinstance(got, np.ndarray)
    assert np.array_equal(v, kept)


@pytest.mark.parametrize("X, v, lam, match", [
    (np.ones((3, 2)), np.ones(3), 1.0, "v has length 3, expected 2"),
    (np.ones((3, 2)), np.ones((2, 1)), 1.0, "v must be a 1-D vector"),
    (np.ones((3, 2)), np.ones(2), -1.0, "lam must be a finite number >= 0"),
    (np.ones((3, 2)), np.ones(2), np.inf, "lam must be a finite number >= 0"),
    (np.array([[1.0, np.nan]]), np.ones(2), 1.0, "X contains NaN or inf"),
    (np.ones(3), np.ones(3), 1.0, "X must be a 2-D matrix"),
    (np.ones((2, 2)) * 1j, np.ones(2), 1.0, "X must be real"),
    (np.ones((2, 2)), np.array([1.0, np.inf]), 1.0, "v contains NaN or inf"),
])
def test_ridge_matvec_rejects_bad_input(X, v, lam, match):
    with pytest.raises(ValueError, match=match):
        ridge_matvec(X, v, lam)


# ---------------------------------------------------------------- regularization_path

@pytest.mark.parametrize("method", ["cg", "cgls"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_path_rows_solve_their_ridge_problems_in_the_order_given(method, sparse):
    rng = np.random.default_rng(1)
    X = sp.csr_array(sp.random_array((60, 25), density=0.3, rng=rng) + sp.eye_array(60, 25)) \
        if sparse else rng.standard_normal((60, 25))
    y = rng.standard_normal(60)
    lams = np.array([0.1, 10.0, 1.0, 0.0])           # not sorted, and lam = 0 (full rank) included
    res = regularization_path(X, y, lams, rtol=1e-10, method=method)
    assert isinstance(res, PathResult) and res.coefs.shape == (4, 25)
    for lam, beta in zip(lams, res.coefs):
        np.testing.assert_allclose(beta, ridge_solution(X, y, lam), rtol=1e-7, atol=1e-9)
    assert res.iterations.dtype.kind == "i" and res.converged.all()
    assert isinstance(res.total_iterations, int) and res.total_iterations == res.iterations.sum()
    np.testing.assert_array_equal(res.lams, lams)


def test_warm_starts_save_iterations_on_a_fine_path():
    X, y, _ = synthetic_regression(200, 250, noise=0.5, seed=5)   # p > n
    lams = np.linalg.norm(X, 2) ** 2 * np.geomspace(1.0, 1e-6, 40)
    warm = regularization_path(X, y, lams, rtol=1e-4)
    cold = regularization_path(X, y, lams, rtol=1e-4, warm_start=False)
    assert warm.converged.all() and cold.converged.all()
    assert warm.total_iterations < 0.6 * cold.total_iterations
    assert warm.iterations[0] == cold.iterations[0]          # the first starts from zero either way
    # a cold path is a sequence of independent solves
    assert cold.iterations[5] == regularization_path(X, y, lams[5:6], rtol=1e-4).iterations[0]


def test_a_repeated_lam_needs_no_iteration_and_y_zero_gives_zeros():
    X, y, _ = synthetic_regression(80, 20, seed=2)
    res = regularization_path(X, y, [0.5, 0.5], rtol=1e-8)
    assert res.iterations[1] <= 1
    zero = regularization_path(X, np.zeros(80), [1.0, 0.1], rtol=1e-8)
    assert not np.any(zero.coefs) and zero.total_iterations == 0
    single = regularization_path(X, y, 0.5, rtol=1e-8)              # a scalar: one lam
    assert single.coefs.shape == (1, 20)


def test_path_counts_products_and_respects_maxiter():
    X, y, _ = synthetic_regression(50, 10, cond=1e3, seed=3)
    res = regularization_path(X, y, [1e-2, 1e-4], rtol=1e-14, maxiter=4)
    np.testing.assert_array_equal(res.iterations, [4, 4])
    assert not res.converged.any()
    assert res.matvecs >= res.total_iterations


@pytest.mark.parametrize("lams, kwargs, match", [
    ([], {}, "non-empty"),
    ([[1.0, 2.0]], {}, "non-empty 1-D"),
    ([1.0, -1.0], {}, "finite number >= 0"),
    ([1.0, np.nan], {}, "finite number >= 0"),
    (["a"], {}, "real numbers"),
    ([1.0], {"method": "lsqr"}, "method must be"),
])
def test_path_rejects_bad_input(lams, kwargs, match):
    with pytest.raises(ValueError, match=match):
        regularization_path(np.eye(3), np.ones(3), lams, **kwargs)


# ---------------------------------------------------------------- synthetic_regression

def test_synthetic_regression_has_the_stated_properties():
    X, y, beta = synthetic_regression(60, 15, cond=1e4, noise=0.0, seed=4)
    s = np.linalg.svd(X, compute_uv=False)
    np.testing.assert_allclose(s[0] / s[-1], 1e4, rtol=1e-8)
    np.testing.assert_allclose(s, np.geomspace(1.0, 1e-4, 15), rtol=1e-8)
    np.testing.assert_allclose(X @ beta, y, atol=1e-12)
    X2, y2, _ = synthetic_regression(60, 15, cond=1e4, noise=0.0, seed=4)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    Xg, yg, bg = synthetic_regression(2000, 50, noise=0.3, seed=1)
    assert Xg.shape == (2000, 50) and yg.shape == (2000,) and bg.shape == (50,)
    np.testing.assert_allclose(np.mean(np.sum(Xg ** 2, axis=1)), 1.0, rtol=0.05)   # unit rows
    np.testing.assert_allclose(np.std(yg - Xg @ bg), 0.3, rtol=0.1)


@pytest.mark.parametrize("args, kwargs, match", [
    ((10, 20), {"cond": 10.0}, "n_samples >= n_features"),
    ((10, 5), {"cond": 0.5}, "cond must be"),
    ((10, 5), {"cond": np.inf}, "cond must be"),
    ((0, 5), {}, "n_samples must be an integer >= 1"),
    ((10, 2.5), {}, "n_features must be an integer >= 1"),
    ((10, 5), {"noise": -1.0}, "noise must be"),
])
def test_synthetic_regression_rejects_bad_input(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        synthetic_regression(*args, **kwargs)


# ---------------------------------------------------------------- bag_of_words

def test_bag_of_words_counts_follow_zipf_and_are_seeded():
    X = bag_of_words(2000, 5000, mean_length=80, exponent=1.1, seed=3)
    assert sp.issparse(X) and X.shape == (2000, 5000) and X.format == "csr"
    assert np.all(X.data >= 1) and np.all(X.data == np.round(X.data))   # counts
    lengths = np.asarray(X.sum(axis=1)).ravel()
    assert lengths.min() >= 1
    np.testing.assert_allclose(lengths.mean(), 80, rtol=0.02)
    totals = np.asarray(X.sum(axis=0)).ravel()
    # frequency of rank r against Zipf's r^-1.1, on the head (thousands of counts each,
    # so a relative spread of 2% at most)
    ranks = np.arange(1, 5001)
    expected = totals.sum() * ranks ** -1.1 / np.sum(ranks ** -1.1)
    np.testing.assert_allclose(totals[:10], expected[:10], rtol=0.08)
    slope = np.polyfit(np.log(ranks[:300]), np.log(totals[:300]), 1)[0]
    assert -1.2 < slope < -1.0
    again = bag_of_words(2000, 5000, mean_length=80, exponent=1.1, seed=3)
    assert (X != again).nnz == 0
    assert (X != bag_of_words(2000, 5000, mean_length=80, exponent=1.1, seed=4)).nnz > 0


@pytest.mark.parametrize("kwargs, match", [
    ({"n_docs": 0, "n_words": 5}, "n_docs must be"),
    ({"n_docs": 5, "n_words": 1.5}, "n_words must be"),
    ({"n_docs": 5, "n_words": 5, "mean_length": 0}, "mean_length must be"),
    ({"n_docs": 5, "n_words": 5, "exponent": -1.0}, "exponent must be"),
])
def test_bag_of_words_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        bag_of_words(**kwargs)


# ---------------------------------------------------------------- gram_nnz

@pytest.mark.parametrize("chunk", [1, 7, 2048])
def test_gram_nnz_counts_exactly(chunk):
    X = bag_of_words(300, 800, mean_length=20, seed=1)
    want = int((X.T @ X).count_nonzero())
    got = gram_nnz(X, chunk=chunk)
    assert got == want and isinstance(got, int)
    dense = X.toarray()
    dense[dense > 0] *= -1.0      # signs do not matter: the pattern is counted
    assert gram_nnz(dense) == want
    assert gram_nnz(X, sample=800) == want          # a "sample" of every row is exact


def test_gram_nnz_estimate_is_close_and_cheap_to_get():
    X = bag_of_words(1500, 6000, mean_length=60, seed=2)
    exact = gram_nnz(X)
    for seed in range(3):
        estimate = gram_nnz(X, sample=300, seed=seed)
        assert isinstance(estimate, float)
        assert abs(estimate / exact - 1) < 0.05
    assert gram_nnz(X, sample=300, seed=1) == gram_nnz(X, sample=300, seed=1)


def test_gram_nnz_rejects_bad_input():
    with pytest.raises(ValueError, match="sample must be an integer >= 1"):
        gram_nnz(np.eye(3), sample=0)
    with pytest.raises(ValueError, match="chunk must be"):
        gram_nnz(np.eye(3), chunk=0)
    with pytest.raises(ValueError, match="X contains NaN"):
        gram_nnz(np.array([[np.nan, 1.0]]))
