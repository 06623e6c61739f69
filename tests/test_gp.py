"""Stochastic Lanczos quadrature and the GP likelihood against Cholesky."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.linalg import aslinearoperator

from krylov_ref.gp import gp_nll, rbf_kernel, slq_logdet


def kernel_system(n, d=2, noise=0.1, seed=0):
    X = np.random.default_rng(seed).uniform(0.0, 10.0, size=(n, d))
    return rbf_kernel(X, lengthscale=1.0) + noise * np.eye(n)


def cholesky_logdet(A):
    return 2.0 * np.sum(np.log(np.diag(np.linalg.cholesky(A))))


# --------------------------------------------------------------------------
# rbf_kernel


def test_rbf_kernel_entries_and_properties():
    X = np.random.default_rng(1).standard_normal((30, 3))
    K = rbf_kernel(X, lengthscale=0.7, variance=2.5)
    i, j = 4, 17
    assert np.isclose(K[i, j], 2.5 * np.exp(-np.sum((X[i] - X[j]) ** 2) / (2 * 0.7 ** 2)))
    np.testing.assert_array_equal(K, K.T)
    np.testing.assert_array_equal(np.diag(K), 2.5)
    assert np.linalg.eigvalsh(K)[0] > -1e-10
    cross = rbf_kernel(X[:5], X[5:12], lengthscale=0.7, variance=2.5)
    np.testing.assert_allclose(cross, K[:5, 5:12], rtol=1e-12)


def test_rbf_kernel_bad_input():
    with pytest.raises(ValueError, match="lengthscale must be a finite number > 0"):
        rbf_kernel(np.ones(3), lengthscale=0.0)
    with pytest.raises(ValueError, match="X1 has 2 dimensions but X2 has 3"):
        rbf_kernel(np.ones((4, 2)), np.ones((4, 3)))
    with pytest.raises(ValueError, match="X1 contains NaN"):
        rbf_kernel(np.array([0.0, np.nan]))


# --------------------------------------------------------------------------
# slq_logdet


def test_slq_within_one_percent_of_cholesky_on_rbf_kernel_n2000():
    A = kernel_system(2000, d=2, noise=0.1, seed=0)
    exact = cholesky_logdet(A)
    estimate = slq_logdet(A, num_probes=30, lanczos_steps=30, seed=0)
    assert abs(estimate - exact) / abs(exact) < 0.01


def test_slq_is_exact_for_a_diagonal_matrix_with_n_steps():
    # For diagonal A, z^T log(A) z = sum log a_i for every +-1 probe, and n
    # Gauss nodes integrate exactly: only rounding remains.
    a = np.linspace(0.5, 20.0, 12)
    est = slq_logdet(np.diag(a), num_probes=3, lanczos_steps=12, seed=5, reorthogonalize=True)
    assert np.isclose(est, np.sum(np.log(a)), rtol=1e-10)


def test_slq_quadrature_error_falls_with_lanczos_steps():
    A = kernel_system(300, d=2, noise=0.05, seed=2)
    exact = cholesky_logdet(A)
    errors = [abs(slq_logdet(A, 10, k, seed=3) - exact) for k in (2, 5, 40)]
    assert errors[0] > errors[1] > errors[2]


def test_slq_is_seeded():
    A = kernel_system(200, seed=4)
    assert slq_logdet(A, 5, 10, seed=7) == slq_logdet(A, 5, 10, seed=7)
    assert slq_logdet(A, 5, 10, seed=7) != slq_logdet(A, 5, 10, seed=8)


def test_slq_accepts_sparse_and_linear_operators():
    A = kernel_system(150, seed=5)
    dense = slq_logdet(A, 4, 20, seed=1)
    assert np.isclose(slq_logdet(sp.csr_array(A), 4, 20, seed=1), dense, rtol=1e-12)
    assert np.isclose(slq_logdet(aslinearoperator(A), 4, 20, seed=1), dense, rtol=1e-12)


@settings(max_examples=10, deadline=None)
@given(n=st.integers(5, 40), seed=st.integers(0, 2**16))
def test_slq_with_full_lanczos_is_the_hutchinson_estimate(n, seed):
    # With k = n the quadrature is exact, so SLQ equals Hutchinson's
    # mean of z^T log(A) z with the same probes.
    rng = np.random.default_rng(seed)
    B = rng.standard_normal((n, n))
    A = B @ B.T / n + np.eye(n)
    lam, V = np.linalg.eigh(A)
    logA = (V * np.log(lam)) @ V.T
    probes = np.random.default_rng(seed).choice([-1.0, 1.0], size=(3, n))
    hutchinson = np.mean([z @ logA @ z for z in probes])
    est = slq_logdet(A, num_probes=3, lanczos_steps=n, seed=seed, reorthogonalize=True)
    assert np.isclose(est, hutchinson, rtol=1e-8, atol=1e-8)


def test_slq_bad_input():
    with pytest.raises(ValueError, match="not positive definite"):
        slq_logdet(np.diag([1.0, -2.0, 3.0]), 2, 3)
    with pytest.raises(ValueError, match="A must be symmetric"):
        slq_logdet(np.array([[2.0, 1.0], [0.0, 2.0]]), 2, 2)
    with pytest.raises(ValueError, match="num_probes must be a positive integer"):
        slq_logdet(np.eye(3), 0, 2)
    with pytest.raises(ValueError, match="lanczos_steps must be a positive integer"):
        slq_logdet(np.eye(3), 2, 1.5)
    with pytest.raises(ValueError, match="A must be a square matrix"):
        slq_logdet(np.ones((3, 2)), 2, 2)
    with pytest.raises(ValueError, match="A contains NaN"):
        slq_logdet(np.full((2, 2), np.nan), 2, 2)


# --------------------------------------------------------------------------
# gp_nll


def gp_problem(n=400, seed=6):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0.0, 10.0, n))
    y = np.sin(x) + 0.1 * rng.standard_normal(n)
    return rbf_kernel(x, lengthscale=1.0), y


def test_gp_nll_cholesky_is_the_formula():
    K, y = gp_problem(n=100)
    A = K + 0.01 * np.eye(100)
    expected = (0.5 * y @ np.linalg.solve(A, y) + 0.5 * np.linalg.slogdet(A)[1]
                + 50 * np.log(2 * np.pi))
    assert np.isclose(gp_nll(K, y, 0.01, method="cholesky"), expected, rtol=1e-10)


def test_gp_nll_krylov_agrees_with_cholesky():
    # The NLL is a difference of large terms; measure the error against the
    # log-determinant term, which is where SLQ's error lives.
    K, y = gp_problem()
    for noise in (0.01, 0.1):
        exact = gp_nll(K, y, noise, method="cholesky")
        approx = gp_nll(K, y, noise, num_probes=20, lanczos_steps=30, seed=0)
        logdet_term = 0.5 * abs(cholesky_logdet(K + noise * np.eye(len(y))))
        assert abs(approx - exact) < 0.01 * logdet_term


def test_gp_nll_prefers_the_right_noise_level():
    # The data were made with noise variance 0.01: the likelihood should say so.
    K, y = gp_problem()
    nll = {s2: gp_nll(K, y, s2, seed=0) for s2 in (1e-3, 1e-2, 1.0)}
    assert nll[1e-2] < nll[1e-3] and nll[1e-2] < nll[1.0]


def test_gp_nll_bad_input():
    K, y = gp_problem(n=20)
    with pytest.raises(ValueError, match="noise must be a finite variance >= 0"):
        gp_nll(K, y, -0.1)
    with pytest.raises(ValueError, match="method must be 'krylov' or 'cholesky'"):
        gp_nll(K, y, 0.1, method="lu")
    with pytest.raises(ValueError, match="K has shape .* but b has length 19"):
        gp_nll(K, y[:-1], 0.1)
    with pytest.raises(ValueError, match="not positive definite"):
        gp_nll(-K, y, 0.0, method="cholesky")
    with pytest.raises(ValueError, match="y contains NaN"):
        gp_nll(K, np.full(20, np.nan), 0.1)
