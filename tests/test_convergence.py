"""krylov_ref.convergence: the Chebyshev bound, the polynomial
characterisation of CG, test spectra, T_k from CG, CG from Lanczos, and the
Hestenes--Stiefel error estimate, against direct computations."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from krylov_ref import cg
from krylov_ref.convergence import (anorm_error_estimate, anorm_errors, best_polynomial_error,
                                    chebyshev_bound, chebyshev_spectrum,
                                    iterations_needed, lanczos_cg_iterates, strakos_spectrum)
from krylov_ref.problems import random_spd, spd_with_spectrum


def cg_run(A, b, maxiter):
    """CG from x0 = 0 with every iterate kept (x_0 first)."""
    X = [np.zeros_like(b)]
    res = cg(A, b, rtol=0.0, maxiter=maxiter, callback=lambda x: X.append(x.copy()))
    return res, np.array(X)


# ---------------------------------------------------------------- chebyshev_bound

def test_chebyshev_bound_formula_scalar_and_vector():
    kappa = 50.0
    rate = (np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)
    got = chebyshev_bound(kappa, 7)
    assert isinstance(got, float)
    assert np.isclose(got, 2 * rate ** 7, rtol=1e-14)
    k = np.arange(12).reshape(3, 4)
    np.testing.assert_allclose(chebyshev_bound(kappa, k), 2 * rate ** k, rtol=1e-14)
    assert chebyshev_bound(kappa, k).shape == (3, 4)
    assert chebyshev_bound(1.0, 0) == 2.0 and chebyshev_bound(1.0, 3) == 0.0


def test_chebyshev_bound_is_above_the_exact_chebyshev_minmax():
    # min over p(0) = 1 of max over [1, kappa] of |p| is 1 / T_k((kappa + 1) / (kappa - 1)).
    for kappa in [2.0, 10.0, 1e3]:
        for k in range(1, 30):
            exact = 1 / np.cosh(k * np.arccosh((kappa + 1) / (kappa - 1)))
            assert exact <= chebyshev_bound(kappa, k) <= 2 * exact * (1 + 1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cg_anorm_errors_obey_the_bound(seed):
    prob = random_spd(60, 10.0 ** (1 + seed), seed=seed, spacing="linear")
    res, X = cg_run(prob.A, prob.b, 40)
    err = anorm_errors(prob.A, X, prob.x_true)
    k = np.arange(err.size)
    assert np.all(err / err[0] <= chebyshev_bound(prob.cond, k) + 1e-12)


@pytest.mark.parametrize("args, match", [
    ((0.5, 3), "kappa must be >= 1"),
    ((np.inf, 3), "kappa must be finite"),
    (("ten", 3), "kappa must be a real number"),
    ((10.0, -1), "k must be finite and >= 0"),
    ((10.0, [1, np.nan]), "k must be finite"),
])
def test_chebyshev_bound_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        chebyshev_bound(*args)


# ---------------------------------------------------------------- iterations_needed

@settings(max_examples=200, deadline=None)
@given(st.floats(1.0, 1e8), st.floats(1e-14, 1.99))
def test_iterations_needed_is_the_smallest_sufficient_k(kappa, rtol):
    k = iterations_needed(kappa, rtol)
    assert isinstance(k, int)
    assert chebyshev_bound(kappa, k) <= rtol
    assert k == 0 or chebyshev_bound(kappa, k - 1) > rtol


def test_iterations_needed_edge_cases_and_growth():
    assert iterations_needed(100.0, 2.0) == 0 and iterations_needed(100.0, 5.0) == 0
    assert iterations_needed(1.0, 1e-10) == 1
    # About sqrt(kappa)/2 log(2/rtol) for large kappa.
    k = iterations_needed(1e8, 1e-6)
    assert abs(k - 0.5 * 1e4 * np.log(2e6)) < 2


@pytest.mark.parametrize("args, match", [
    ((0.9, 1e-6), "kappa must be >= 1"),
    ((10.0, 0.0), "rtol must be > 0"),
    ((10.0, -1e-3), "rtol must be > 0"),
    ((10.0, np.nan), "rtol must be finite"),
])
def test_iterations_needed_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        iterations_needed(*args)


# ---------------------------------------------------------------- best polynomial

@pytest.mark.parametrize("seed", [3, 4])
def test_cg_error_is_the_best_polynomial_error(seed):
    rng = np.random.default_rng(seed)
    lam = np.sort(rng.uniform(1.0, 100.0, 12))
    prob = spd_with_spectrum(lam, seed=seed)
    res, X = cg_run(prob.A, prob.b, 12)
    err = anorm_errors(prob.A, X, prob.x_true)
    V = np.linalg.eigh(prob.A)[1]
    c = V.T @ (X[0] - prob.x_true)
    best = np.array([best_polynomial_error(lam, c, k) for k in range(err.size)])
    big = err > 1e-9 * err[0]
    np.testing.assert_allclose(err[big], best[big], rtol=1e-6)
    assert np.all(np.diff(best) <= 1e-12 * best[0])


def test_best_polynomial_error_vanishes_at_the_number_of_distinct_eigenvalues():
    lam = np.repeat([1.0, 3.0, 10.0], 4)
    c = np.random.default_rng(0).standard_normal(lam.size)
    assert best_polynomial_error(lam, c, 2) > 1e-3
    assert best_polynomial_error(lam, c, 3) < 1e-12 * best_polynomial_error(lam, c, 0)
    # A multiple of the identity: one step.
    assert best_polynomial_error(np.full(5, 2.0), np.ones(5), 1) < 1e-14


@pytest.mark.parametrize("args, match", [
    (([1.0, -1.0], [1.0, 1.0], 1), "positive"),
    (([1.0, 2.0], [1.0], 1), "coefficients has shape"),
    (([1.0, 2.0], [1.0, 1.0], -1), "k must be an integer >= 0"),
    (([1.0, 2.0], [1.0, 1.0], 1.5), "k must be an integer"),
    (([], [], 1), "must not be empty"),
])
def test_best_polynomial_error_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        best_polynomial_error(*args)


# ---------------------------------------------------------------- spectra

def test_spectra():
    lam = chebyshev_spectrum(40, 2.0, 500.0)
    assert lam[0] == 2.0 and lam[-1] == 500.0 and np.all(np.diff(lam) > 0)
    # Dense at both ends: the end gaps are the smallest.
    gaps = np.diff(lam)
    assert gaps[0] < gaps[20] and gaps[-1] < gaps[20]
    lam = strakos_spectrum(48, 0.1, 1000.0, 0.8)
    i = np.arange(1, 49)
    np.testing.assert_allclose(lam, 0.1 + (i - 1) / 47 * (1000.0 - 0.1) * 0.8 ** (48 - i))
    assert np.all(np.diff(lam) > 0) and np.isclose(lam[-1] / lam[0], 1e4)


@pytest.mark.parametrize("call, match", [
    (lambda: chebyshev_spectrum(1, 1.0, 2.0), "n must be an integer >= 2"),
    (lambda: chebyshev_spectrum(5, 0.0, 2.0), "lam_min must be > 0"),
    (lambda: chebyshev_spectrum(5, 3.0, 2.0), "lam_min < lam_max"),
    (lambda: strakos_spectrum(5, 1.0, 2.0, 1.5), r"rho must be in \(0, 1\]"),
    (lambda: strakos_spectrum(5, 1.0, 2.0, 0.0), "rho must be > 0"),
    (lambda: strakos_spectrum(5.0, 1.0, 2.0, 0.5), "n must be an integer"),
])
def test_spectra_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---------------------------------------------------------------- T_k and CG from Lanczos

def test_lanczos_cg_iterates_agree_with_cg_and_terminate():
    prob = random_spd(30, 50.0, seed=6)
    _, X_cg = cg_run(prob.A, prob.b, 10)
    X = lanczos_cg_iterates(prob.A, prob.b, 10)
    assert X.shape == (11, 30)
    np.testing.assert_allclose(X, X_cg, rtol=1e-8, atol=1e-10)
    # Three distinct eigenvalues: the Krylov space is invariant after 3 steps.
    A = np.diag(np.repeat([1.0, 2.0, 5.0], 3))
    X = lanczos_cg_iterates(A, np.ones(9), 9)
    assert X.shape[0] == 4
    np.testing.assert_allclose(A @ X[-1], np.ones(9), rtol=1e-12)
    with pytest.raises(ValueError, match="exceeds the order"):
        lanczos_cg_iterates(A, np.ones(9), 10)
    with pytest.raises(ValueError, match="b has length"):
        lanczos_cg_iterates(A, np.ones(8), 3)


def test_anorm_errors():
    prob = random_spd(10, 20.0, seed=2)
    X = np.random.default_rng(0).standard_normal((4, 10))
    want = [np.sqrt((x - prob.x_true) @ prob.A @ (x - prob.x_true)) for x in X]
    np.testing.assert_allclose(anorm_errors(prob.A, X, prob.x_true), want, rtol=1e-12)
    np.testing.assert_allclose(anorm_errors(lambda v: prob.A @ v, X, prob.x_true), want, rtol=1e-12)
    with pytest.raises(ValueError, match=r"iterates must have shape \(m, 10\)"):
        anorm_errors(prob.A, X[:, :5], prob.x_true)


# ---------------------------------------------------------------- Hestenes--Stiefel

def test_anorm_error_estimate_is_the_error_difference_and_a_lower_bound():
    prob = random_spd(80, 1e3, seed=3)
    res, X = cg_run(prob.A, prob.b, 60)
    err = anorm_errors(prob.A, X, prob.x_true)
    m = res.alphas.size
    for d in [1, 5, 20]:
        est = anorm_error_estimate(res.alphas, res.residual_norms, d)
        assert est.shape == (m - d + 1,)
        # est_k^2 = ||e_k||^2 - ||e_{k+d}||^2, to rounding
        np.testing.assert_allclose(est ** 2, err[: m - d + 1] ** 2 - err[d:] ** 2,
                                   rtol=1e-6, atol=1e-12 * err[0] ** 2)
        assert np.all(est <= err[: m - d + 1] * (1 + 1e-8))
    # Only the first m residual norms are used.
    np.testing.assert_array_equal(anorm_error_estimate(res.alphas, res.residual_norms[:m], 5),
                                  anorm_error_estimate(res.alphas, res.residual_norms, 5))


def test_anorm_error_estimate_is_exact_at_termination_and_accurate_late():
    lam = np.array([1.0, 2.0, 3.0, 5.0, 8.0])
    A, b = np.diag(lam), np.ones(5)
    res = cg(A, b, rtol=0.0, maxiter=5)
    est = anorm_error_estimate(res.alphas, res.residual_norms, 5)
    assert est.shape == (1,) and np.isclose(est[0], np.sqrt(b @ (b / lam)), rtol=1e-12)
    # Late windows are summed directly: no cancellation against early terms.
    alphas = np.ones(40)
    norms = 10.0 ** -np.arange(41.0)
    est = anorm_error_estimate(alphas, norms, 2)
    np.testing.assert_allclose(est, np.sqrt(norms[:39] ** 2 + norms[1:40] ** 2), rtol=1e-14)


@pytest.mark.parametrize("args, match", [
    (([1.0, 1.0], [1.0, 1.0], 0), "d must be an integer >= 1"),
    (([1.0, 1.0], [1.0, 1.0], 3), "d = 3 exceeds len"),
    (([1.0, 1.0], [1.0], 1), "residual_norms has 1 entries"),
    (([1.0, -1.0], [1.0, 1.0], 1), "alphas must be positive"),
    (([1.0, 1.0], [1.0, -1.0], 1), "non-negative"),
    (([1.0, np.inf], [1.0, 1.0], 1), "alphas contains NaN or inf"),
    (([[1.0]], [1.0], 1), "alphas must be a 1-D array"),
    (([1.0, 1.0], [1.0, 1.0], 1.0), "d must be an integer"),
])
def test_anorm_error_estimate_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        anorm_error_estimate(*args)
