"""Stochastic Lanczos quadrature and the GP likelihood against Cholesky."""

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.linalg import LinearOperator, aslinearoperator

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


# --------------------------------------------------------------------------
# probes, Hutchinson, Gauss quadrature (lesson 09)

from krylov_ref import cg, lanczos  # noqa: E402
from krylov_ref.gp import (gp_nll_and_grad, hutchinson_trace, lanczos_quadrature,  # noqa: E402
                           pivoted_cholesky, pivoted_cholesky_preconditioner, rademacher_probes,
                           slq_quadratic_forms)


def test_rademacher_probes_are_the_documented_draw():
    Z = rademacher_probes(7, 4, seed=3)
    assert Z.shape == (4, 7) and set(np.unique(Z)) == {-1.0, 1.0}
    rng = np.random.default_rng(3)
    np.testing.assert_array_equal(Z, [rng.choice([-1.0, 1.0], size=7) for _ in range(4)])
    with pytest.raises(ValueError, match="num_probes must be a positive integer"):
        rademacher_probes(5, 0)


def test_hutchinson_is_the_mean_of_the_quadratic_forms_and_exact_on_diagonals():
    rng = np.random.default_rng(0)
    B = rng.standard_normal((30, 30))
    A = B + B.T
    Z = rademacher_probes(30, 9, seed=4)
    assert np.isclose(hutchinson_trace(A, 9, seed=4), np.mean([z @ A @ z for z in Z]), rtol=1e-13)
    assert hutchinson_trace(np.diag(np.arange(1.0, 6.0)), 1, seed=8) == 15.0
    assert isinstance(hutchinson_trace(A, 2), float)


def test_hutchinson_variance_is_twice_the_off_diagonal_frobenius_norm():
    # Var(z^T A z) = 2 sum_{i != j} A_ij^2 for Rademacher z and symmetric A.
    A = kernel_system(40, d=1, seed=3)
    Z = rademacher_probes(40, 4000, seed=1)
    samples = np.einsum("ij,jk,ik->i", Z, A, Z)
    predicted = 2 * (np.sum(A**2) - np.sum(np.diag(A) ** 2))
    assert abs(samples.var() / predicted - 1) < 0.1
    assert abs(samples.mean() - np.trace(A)) < 4 * np.sqrt(predicted / 4000)


def test_lanczos_quadrature_is_exact_with_n_nodes_and_takes_either_beta():
    A = kernel_system(12, d=1, seed=1)
    q = np.random.default_rng(2).standard_normal(12)
    q /= np.linalg.norm(q)
    _, alpha, beta = lanczos(A, q, 12, reorthogonalize=True)
    lam, V = np.linalg.eigh(A)
    exact = q @ (V * np.log(lam)) @ V.T @ q
    assert np.isclose(lanczos_quadrature(alpha, beta), exact, rtol=1e-10)
    assert lanczos_quadrature(alpha, beta[:-1]) == lanczos_quadrature(alpha, beta)
    assert np.isclose(lanczos_quadrature([2.0], [], f=np.sqrt), np.sqrt(2.0))
    with pytest.raises(ValueError, match="len\\(beta\\)"):
        lanczos_quadrature([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="not positive definite"):
        lanczos_quadrature([-1.0], [])


def test_slq_is_the_mean_of_its_samples_and_uses_a_given_lanczos():
    A = kernel_system(80, d=1, seed=2)
    samples = slq_quadratic_forms(A, 5, 12, seed=3)
    assert samples.shape == (5,)
    assert np.isclose(samples.mean(), slq_logdet(A, 5, 12, seed=3), rtol=1e-14)
    calls = []

    def my_lanczos(M, v0, k):
        calls.append((M, k))
        return lanczos(M, v0, k)

    assert np.isclose(slq_logdet(A, 3, 12, seed=3, lanczos=my_lanczos), samples[:3].mean(),
                      rtol=1e-12)
    assert len(calls) == 3 and all(M is A and k == 12 for M, k in calls)
    with pytest.raises(ValueError, match="lanczos must be a function"):
        slq_logdet(A, 2, 3, lanczos="mine")


def test_slq_is_exact_when_lanczos_stops_early():
    # Four distinct eigenvalues: Lanczos stops after 4 steps, the 4-point rule is exact.
    d = np.repeat([0.3, 1.0, 2.0, 9.0], 10)
    assert np.isclose(slq_logdet(np.diag(d), 2, 10, seed=1), np.sum(np.log(d)), rtol=1e-12)


# --------------------------------------------------------------------------
# gp_nll_and_grad


def log_problem(n=150, seed=0, lengthscale=0.8, noise=0.1):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0.0, 12.0, n))
    y = np.sin(t) + np.sqrt(noise) * rng.standard_normal(n)
    D2 = (t[:, None] - t[None, :]) ** 2

    def system(theta):
        ell, s2 = np.exp(theta)
        K = np.exp(-D2 / (2 * ell**2))
        return K + s2 * np.eye(n), [K * D2 / ell**2, s2 * np.eye(n)]

    return system, y, np.log([lengthscale, noise])


def test_exact_gradient_matches_finite_differences():
    system, y, theta = log_problem()
    A, dA = system(theta)
    nll, grad = gp_nll_and_grad(A, y, dA, method="cholesky")
    assert np.isclose(nll, gp_nll(A - np.exp(theta[1]) * np.eye(len(y)), y, np.exp(theta[1]),
                                  method="cholesky"), rtol=1e-12)
    h = 1e-5
    for j in range(2):
        e = np.zeros(2)
        e[j] = h
        plus = gp_nll_and_grad(*system(theta + e)[:1], y, [], method="cholesky")[0]
        minus = gp_nll_and_grad(*system(theta - e)[:1], y, [], method="cholesky")[0]
        assert np.isclose(grad[j], (plus - minus) / (2 * h), rtol=1e-6, atol=1e-6)


def test_krylov_gradient_converges_to_the_exact_one_with_more_probes():
    system, y, theta = log_problem(n=120, seed=3)
    A, dA = system(theta)
    nll, grad = gp_nll_and_grad(A, y, dA, method="cholesky")
    errors = []
    for p in (2, 200):
        est, g = gp_nll_and_grad(A, y, dA, num_probes=p, lanczos_steps=40, seed=1)
        errors.append(np.abs(g - grad).max())
    assert errors[1] < errors[0] / 3
    est, g = gp_nll_and_grad(A, y, dA, num_probes=200, lanczos_steps=40, seed=1)
    assert abs(est - nll) < 0.02 * abs(np.linalg.slogdet(A)[1])


def test_krylov_gradient_is_the_documented_estimate_with_its_products():
    system, y, theta = log_problem(n=60, seed=4)
    A, dA = system(theta)
    counts = [0, 0]

    def counted(j):
        def product(v):
            counts[j] += 1
            return dA[j] @ v
        return LinearOperator(A.shape, matvec=product, dtype=float)

    ops = [counted(0), counted(1)]
    nll, grad = gp_nll_and_grad(A, y, ops, num_probes=3, lanczos_steps=10, seed=5)
    assert counts == [4, 4]                     # dA alpha, then one per probe
    alpha = np.linalg.solve(A, y)
    Z = rademacher_probes(60, 3, seed=5)
    for j in range(2):
        trace = np.mean([np.linalg.solve(A, z) @ dA[j] @ z for z in Z])
        assert np.isclose(grad[j], -0.5 * alpha @ dA[j] @ alpha + 0.5 * trace, rtol=1e-6)
    expected = 0.5 * y @ alpha + 0.5 * slq_logdet(A, 3, 10, seed=5) + 30 * np.log(2 * np.pi)
    assert np.isclose(nll, expected, rtol=1e-9)


def test_a_preconditioner_changes_the_solves_not_the_answer():
    system, y, theta = log_problem(n=100, seed=5, noise=0.01)
    A, dA = system(theta)
    K = A - 0.01 * np.eye(100)
    M = pivoted_cholesky_preconditioner(K, 0.01, 15)
    plain = gp_nll_and_grad(A, y, dA, num_probes=3, lanczos_steps=20, rtol=1e-10)
    pre = gp_nll_and_grad(A, y, dA, num_probes=3, lanczos_steps=20, rtol=1e-10, M=M)
    assert np.isclose(plain[0], pre[0], rtol=1e-8)
    np.testing.assert_allclose(plain[1], pre[1], rtol=1e-5, atol=1e-6)


def test_gp_nll_and_grad_bad_input():
    system, y, theta = log_problem(n=20)
    A, dA = system(theta)
    with pytest.raises(ValueError, match="a list of matrices"):
        gp_nll_and_grad(A, y, dA[0])
    with pytest.raises(ValueError, match="method must be"):
        gp_nll_and_grad(A, y, dA, method="lu")
    with pytest.raises(ValueError, match="not positive definite"):
        gp_nll_and_grad(-A, y, dA, method="cholesky")
    with pytest.raises(ValueError, match="needs A as a matrix"):
        gp_nll_and_grad(aslinearoperator(A), y, dA, method="cholesky")
    with pytest.raises(ValueError, match="dA\\[1\\] has shape"):
        gp_nll_and_grad(A, y, [dA[0], np.eye(3)])


# --------------------------------------------------------------------------
# pivoted Cholesky and its preconditioner


def test_pivoted_cholesky_full_rank_is_a_cholesky_factor():
    A = kernel_system(25, d=2, seed=6)
    L, pivots = pivoted_cholesky(A, 25)
    np.testing.assert_allclose(L @ L.T, A, atol=1e-12)
    assert sorted(pivots.tolist()) == list(range(25))
    # The pivoted rows form a lower-triangular factor.
    assert np.allclose(np.triu(L[pivots], 1), 0.0)


def test_pivoted_cholesky_remainder_is_psd_and_shrinks():
    K = rbf_kernel(np.linspace(0.0, 10.0, 200), lengthscale=1.0)
    traces = []
    for r in (0, 5, 10, 20, 40):
        L, pivots = pivoted_cholesky(K, r)
        assert L.shape == (200, r) and len(set(pivots.tolist())) == r
        R = K - L @ L.T
        assert np.linalg.eigvalsh(R)[0] > -1e-10
        traces.append(np.trace(R))
    assert all(a > b for a, b in zip(traces, traces[1:]))
    assert traces[-1] < 1e-6 * traces[0]


def test_pivoted_cholesky_stops_early():
    K = rbf_kernel(np.linspace(0.0, 1.0, 100), lengthscale=1.0)
    L, _ = pivoted_cholesky(K, 50, rtol=1e-8)
    assert L.shape[1] < 15
    assert np.trace(K - L @ L.T) <= 1e-8 * np.trace(K)
    L0, _ = pivoted_cholesky(np.zeros((4, 4)), 3)
    assert L0.shape == (4, 0)


def test_pivoted_cholesky_bad_input():
    with pytest.raises(ValueError, match="rank must be an integer in \\[0, 3\\]"):
        pivoted_cholesky(np.eye(3), 4)
    with pytest.raises(ValueError, match="square"):
        pivoted_cholesky(np.ones((3, 2)), 1)
    with pytest.raises(ValueError, match="positive semidefinite"):
        pivoted_cholesky(-np.eye(3), 1)


def test_preconditioner_applies_the_inverse_and_knows_its_logdet():
    K = rbf_kernel(np.linspace(0.0, 10.0, 120), lengthscale=0.7)
    for r in (0, 8):
        M = pivoted_cholesky_preconditioner(K, 0.05, r)
        L, _ = pivoted_cholesky(K, r)
        P = L @ L.T + 0.05 * np.eye(120)
        v = np.random.default_rng(r).standard_normal(120)
        np.testing.assert_allclose(M @ v, np.linalg.solve(P, v), rtol=1e-9, atol=1e-12)
        assert M.rank == r
        assert np.isclose(M.logdet, np.linalg.slogdet(P)[1], rtol=1e-10)
    with pytest.raises(ValueError, match="noise must be a finite number > 0"):
        pivoted_cholesky_preconditioner(K, 0.0, 3)


def test_preconditioning_cuts_cg_iterations_on_a_kernel_matrix():
    K = rbf_kernel(np.linspace(0.0, 30.0, 400), lengthscale=1.0)
    A = K + 1e-3 * np.eye(400)
    b = np.random.default_rng(0).standard_normal(400)
    iterations = [cg(A, b, rtol=1e-8, M=pivoted_cholesky_preconditioner(K, 1e-3, r)).iterations
                  for r in (0, 30, 60)]
    assert iterations[0] > 2 * iterations[1] > 2 * iterations[2]


# --------------------------------------------------------------------------
# the facts lesson 09's demonstrations rest on


def _log_on_bernstein_ellipse(lam_min, lam_max, rho):
    """max |log| on the Bernstein ellipse E_rho of [lam_min, lam_max]."""
    phi = np.linspace(0.0, 2 * np.pi, 4001)
    x = (rho * np.exp(1j * phi) + np.exp(-1j * phi) / rho) / 2
    return np.abs(np.log((lam_max + lam_min) / 2 + (lam_max - lam_min) / 2 * x)).max()


def test_lanczos_quadrature_error_is_within_the_bernstein_ellipse_bound():
    # |q^T log(A) q - e_1^T log(T_k) e_1| <= c(rho) rho^(-2k), c(rho) = 4 rho M_rho / (rho - 1),
    # for every 1 < rho < rho_0 = (sqrt(kappa) + 1) / (sqrt(kappa) - 1), where E_rho_0 meets 0.
    A = kernel_system(150, d=1, noise=0.5, seed=2)
    lam, V = np.linalg.eigh(A)
    kappa = lam[-1] / lam[0]
    rho_0 = (np.sqrt(kappa) + 1) / (np.sqrt(kappa) - 1)
    left_end = (lam[-1] + lam[0]) / 2 - (lam[-1] - lam[0]) / 2 * (rho_0 + 1 / rho_0) / 2
    assert abs(left_end) < 1e-12 * lam[-1]                 # log's singularity is on E_rho_0
    rhos = 1 + (rho_0 - 1) * np.linspace(0.02, 0.995, 100)
    c = np.array([4 * r * _log_on_bernstein_ellipse(lam[0], lam[-1], r) / (r - 1) for r in rhos])
    logA = (V * np.log(lam)) @ V.T
    for z in rademacher_probes(150, 3, seed=4):
        q = z / np.linalg.norm(z)
        _, alpha, beta = lanczos(A, q, 25)
        for k in range(1, 26):
            error = abs(lanczos_quadrature(alpha[:k], beta[:k]) - q @ logA @ q)
            assert error <= np.min(c * rhos ** (-2.0 * k)), k


def test_pcg_relative_anorm_error_stays_below_the_preconditioned_chebyshev_bound():
    # ||x_k - x_*||_A / ||x_*||_A <= 2 ((sqrt(k_M) - 1) / (sqrt(k_M) + 1))^k, k_M = kappa(M^{-1} A),
    # with M = L L^T + noise I and M= given v -> M^{-1} v (lesson 05's convention).
    t = np.linspace(0.0, 30.0, 300)
    K = rbf_kernel(t, lengthscale=1.0)
    A = K + 0.04 * np.eye(300)
    b = np.random.default_rng(1).standard_normal(300)
    x_star = np.linalg.solve(A, b)
    for r in (0, 15, 30):
        iterates = [np.zeros(300)]
        cg(A, b, rtol=1e-8, M=pivoted_cholesky_preconditioner(K, 0.04, r),
           callback=lambda x: iterates.append(x.copy()))
        L, _ = pivoted_cholesky(K, r)
        mu = scipy.linalg.eigh(A, L @ L.T + 0.04 * np.eye(300), eigvals_only=True)
        rate = (np.sqrt(mu[-1] / mu[0]) - 1) / (np.sqrt(mu[-1] / mu[0]) + 1)
        E = np.array(iterates) - x_star
        errors = np.sqrt(np.einsum("ij,jk,ik->i", E, A, E) / (x_star @ A @ x_star))
        assert np.all(errors <= 2 * rate ** np.arange(errors.size) * (1 + 1e-10)), r


def test_preconditioned_logdet_splits_exactly_and_its_probes_vary_less():
    # log det A = log det M + tr log(M^{-1/2} A M^{-1/2}); with a good M the Rademacher variance
    # 2 sum_{i != j} (log A_hat)_ij^2 is far below that of log A.
    t = np.linspace(0.0, 30.0, 300)
    K = rbf_kernel(t, lengthscale=1.0)
    A = K + 0.04 * np.eye(300)

    def offdiagonal_variance(B):
        return 2 * (np.sum(B**2) - np.sum(np.diag(B) ** 2))

    lam, V = np.linalg.eigh(A)
    plain = offdiagonal_variance((V * np.log(lam)) @ V.T)
    for r, factor in ((0, 1.0), (40, 0.05)):
        M = pivoted_cholesky_preconditioner(K, 0.04, r)
        L, _ = pivoted_cholesky(K, r)
        U, s, _ = np.linalg.svd(L, full_matrices=False)
        S = np.eye(300) / 0.2 + (U * (1 / np.sqrt(0.04 + s**2) - 1 / 0.2)) @ U.T   # M^{-1/2}
        np.testing.assert_allclose(S @ S @ (L @ L.T + 0.04 * np.eye(300)), np.eye(300), atol=1e-9)
        mu, W = np.linalg.eigh(S @ A @ S)
        assert np.isclose(M.logdet + np.sum(np.log(mu)), np.sum(np.log(lam)), rtol=1e-10)
        assert offdiagonal_variance((W * np.log(mu)) @ W.T) <= factor * plain * (1 + 1e-9), r
    # SLQ on M^{-1/2} A M^{-1/2} (S of the last pass, rank 40) plus log det M estimates log det A
    assert r == 40
    A_hat = LinearOperator((300, 300), matvec=lambda v: S @ (A @ (S @ v)), dtype=float)
    estimate = M.logdet + np.mean(slq_quadratic_forms(A_hat, 10, 20, seed=0))
    assert abs(estimate - np.sum(np.log(lam))) < 3 * np.sqrt(0.05 * plain / 10)


# --------------------------------------------------------------------------
# hutchpp (Hutch++, Meyer, Musco, Musco and Woodruff 2021, Algorithm 1)

from krylov_ref.gp import hutchpp  # noqa: E402


def decaying_psd(n, seed, rank=None, power=1.0):
    rank = n if rank is None else rank
    V, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, rank)))
    return (V * np.arange(1, rank + 1) ** -power) @ V.T


def hutchpp_by_projector(A, m, seed):
    # The same draws, an independent computation: SciPy's economic QR and the explicit
    # projector P = Q Q^T, trace(Q^T A Q) + trace(G^T (I - P) A (I - P) G) / k.
    n, k = A.shape[0], m // 3
    rng = np.random.default_rng(seed)
    S = rng.choice([-1.0, 1.0], size=(n, k))
    G = rng.choice([-1.0, 1.0], size=(n, k))
    Q, _ = scipy.linalg.qr(A @ S, mode="economic")
    I_P = np.eye(n) - Q @ Q.T
    return np.trace(Q.T @ A @ Q) + np.trace(G.T @ I_P @ A @ I_P @ G) / k


@pytest.mark.parametrize("n, m, seed", [(30, 3, 0), (50, 12, 4), (80, 30, 9), (20, 60, 1)])
def test_hutchpp_is_algorithm_1_of_the_paper(n, m, seed):
    A = decaying_psd(n, seed + 100)
    assert hutchpp(A, m, seed) == pytest.approx(hutchpp_by_projector(A, m, seed), rel=1e-11)
    assert hutchpp(A, m) == hutchpp(A, m, 0)                 # default seed 0
    assert isinstance(hutchpp(A, m, seed), float)


@pytest.mark.parametrize("rank", [1, 4, 10])
def test_hutchpp_is_exact_when_rank_is_at_most_a_third_of_the_budget(rank):
    A = decaying_psd(60, rank, rank=rank)
    for m in (3 * rank, 3 * rank + 6):
        for seed in range(3):
            assert hutchpp(A, m, seed) == pytest.approx(np.trace(A), rel=1e-10)
    # one sketch vector fewer than the rank: no longer exact
    if rank > 1:
        assert abs(hutchpp(A, 3 * (rank - 1), 0) - np.trace(A)) > 1e-6 * np.trace(A)
    # also for a nonsymmetric matrix of low rank
    rng = np.random.default_rng(rank)
    B = rng.standard_normal((40, rank)) @ rng.standard_normal((rank, 40))
    assert hutchpp(B, 3 * rank, 5) == pytest.approx(np.trace(B), rel=1e-9, abs=1e-9)


def test_hutchpp_is_unbiased_and_beats_hutchinson_on_a_decaying_spectrum():
    A = decaying_psd(60, 7)
    exact = np.trace(A)
    seeds = 600
    pp = np.array([hutchpp(A, 12, s) for s in range(seeds)])
    hu = np.array([hutchinson_trace(A, 12, s) for s in range(seeds)])
    # the mean over the seeds is within 4 standard errors of the trace
    assert abs(pp.mean() - exact) < 4 * pp.std(ddof=1) / np.sqrt(seeds)
    # the same budget, a smaller error
    assert np.sqrt(np.mean((pp - exact) ** 2)) < 0.8 * np.sqrt(np.mean((hu - exact) ** 2))


def test_hutchpp_uses_exactly_num_matvecs_products():
    A = decaying_psd(40, 3)
    count = [0]

    def matvec(v):
        count[0] += 1
        return A @ np.ravel(v)

    op = LinearOperator((40, 40), matvec=matvec, dtype=float)
    for m in (3, 12, 30):
        count[0] = 0
        assert hutchpp(op, m, 2) == pytest.approx(hutchpp(A, m, 2), rel=1e-12)
        assert count[0] == m
    assert hutchpp(sp.csr_array(A), 12, 2) == pytest.approx(hutchpp(A, 12, 2), rel=1e-12)
    assert hutchpp(aslinearoperator(A), 12, 2) == pytest.approx(hutchpp(A, 12, 2), rel=1e-12)


def test_hutchpp_with_the_whole_space_is_exact():
    A = decaying_psd(15, 2)
    assert hutchpp(A, 45, 0) == pytest.approx(np.trace(A), rel=1e-12)   # k = n


@pytest.mark.parametrize("m", [0, 1, 2, 4, -3, 3.0, True, 48, "9"])
def test_hutchpp_bad_budget(m):
    with pytest.raises(ValueError, match="num_matvecs"):
        hutchpp(decaying_psd(15, 0), m)


def test_hutchpp_bad_matrix():
    with pytest.raises(ValueError):
        hutchpp(np.ones((4, 5)), 3)
    with pytest.raises(ValueError):
        hutchpp([[1.0, 0.0], [0.0, 1.0]], 3)
