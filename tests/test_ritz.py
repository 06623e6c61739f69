"""krylov_ref.ritz: Ritz values of a Lanczos run and their residual norms."""

from __future__ import annotations

import numpy as np
import pytest

import krylov_ref
from krylov_ref.problems import random_spd, spd_with_spectrum
from krylov_ref.ritz import ritz_values


def test_ritz_values_are_the_eigenvalues_of_T_in_increasing_order():
    A = random_spd(40, 50.0, seed=1).A
    _, alpha, beta = krylov_ref.lanczos(A, np.ones(40), 10)
    theta, residuals = ritz_values(alpha, beta)
    T = krylov_ref.tridiagonal(alpha, beta[:-1])
    np.testing.assert_allclose(theta, np.linalg.eigvalsh(T), rtol=1e-12)
    assert np.all(np.diff(theta) > 0)
    assert residuals.shape == (10,) and np.all(residuals >= 0)


def test_residuals_are_the_true_residual_norms_of_the_ritz_pairs():
    A = random_spd(60, 100.0, seed=2).A
    v0 = np.random.default_rng(0).standard_normal(60)
    k = 15
    Q, alpha, beta = krylov_ref.lanczos(A, v0, k)
    theta, residuals = ritz_values(alpha, beta)
    _, S = np.linalg.eigh(krylov_ref.tridiagonal(alpha, beta[:-1]))
    Y = Q[:, :k] @ S
    true = np.linalg.norm(A @ Y - Y * theta, axis=0)
    np.testing.assert_allclose(residuals, true, rtol=1e-6, atol=1e-12)


def test_full_run_recovers_the_spectrum_with_zero_residuals():
    lam = np.array([1.0, 2.0, 5.0, 7.0, 11.0])
    A = spd_with_spectrum(lam, seed=3).A
    _, alpha, beta = krylov_ref.lanczos(A, np.ones(5), 5, reorthogonalize=True)
    theta, residuals = ritz_values(alpha, beta)
    np.testing.assert_allclose(theta, lam, rtol=1e-10)
    assert residuals.max() < 1e-10


def test_one_step_is_the_rayleigh_quotient():
    A = random_spd(10, 10.0, seed=4).A
    v0 = np.arange(1.0, 11.0)
    _, alpha, beta = krylov_ref.lanczos(A, v0, 1)
    theta, residuals = ritz_values(alpha, beta)
    q = v0 / np.linalg.norm(v0)
    np.testing.assert_allclose(theta, [q @ A @ q], rtol=1e-12)
    np.testing.assert_allclose(residuals, [np.linalg.norm(A @ q - theta[0] * q)], rtol=1e-10)


@pytest.mark.parametrize("alpha, beta, message", [
    ([1.0, 2.0], [1.0], "same length"),
    ([[1.0]], [[1.0]], "1-D"),
    ([], [], "k >= 1"),
    ([1.0, np.nan], [1.0, 1.0], "finite"),
])
def test_bad_input_raises(alpha, beta, message):
    with pytest.raises(ValueError, match=message):
        ritz_values(alpha, beta)
