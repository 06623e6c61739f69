"""krylov_ref.conjugacy: Gram-Schmidt in the A-inner product, conjugate
directions from gradients, and T_k rebuilt from CG's alphas and betas."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from krylov_ref import cg, lanczos, tridiagonal
from krylov_ref.conjugacy import a_orthogonalize, conjugate_directions, lanczos_from_cg
from krylov_ref.problems import poisson1d, random_spd, spd_with_spectrum


def off_diagonal_cosines(M):
    d = np.sqrt(np.diag(M))
    C = np.abs(M) / np.outer(d, d)
    np.fill_diagonal(C, 0.0)
    return C.max()


# ---------------------------------------------------------------- a_orthogonalize

@pytest.mark.parametrize("n, m, cond", [(6, 6, 10.0), (30, 8, 1e3), (15, 15, 1e4)])
def test_a_orthogonalize_gives_conjugate_columns_spanning_the_same_nested_spaces(n, m, cond):
    A = random_spd(n, cond, seed=n).A
    V = np.random.default_rng(m).standard_normal((n, m))
    P = a_orthogonalize(A, V)
    assert off_diagonal_cosines(P.T @ A @ P) < 1e-12
    # P = V U with U unit upper triangular: span(P[:, :j]) = span(V[:, :j]).
    U = np.linalg.lstsq(V, P, rcond=None)[0]
    np.testing.assert_allclose(np.tril(U, -1), 0.0, atol=1e-8)
    np.testing.assert_allclose(np.diag(U), 1.0, rtol=1e-8)


def test_a_orthogonalize_of_the_identity_is_gram_schmidt_of_the_unit_vectors():
    A = np.array([[2.0, 1.0], [1.0, 2.0]])
    np.testing.assert_allclose(a_orthogonalize(A, np.eye(2)), [[1.0, -0.5], [0.0, 1.0]])
    # With A = I it is ordinary (unnormalised) Gram-Schmidt.
    V = np.random.default_rng(0).standard_normal((5, 3))
    P = a_orthogonalize(np.eye(5), V)
    Q = np.linalg.qr(V)[0]
    np.testing.assert_allclose(np.abs(P / np.linalg.norm(P, axis=0)), np.abs(Q), atol=1e-12)


@pytest.mark.parametrize("A, V, match", [
    (np.eye(3), np.ones((3, 2)), "linearly dependent"),
    (np.diag([1.0, -1.0]), np.array([[0.0], [1.0]]), "not positive definite"),
    (np.eye(3), np.ones(3), "matrix"),
    (np.eye(2), np.ones((3, 1)), "b has length|order"),
])
def test_a_orthogonalize_rejects_bad_input(A, V, match):
    with pytest.raises(ValueError, match=match):
        a_orthogonalize(A, V)


# ---------------------------------------------------------------- conjugate_directions

@pytest.mark.parametrize("n, cond, seed", [(5, 10.0, 0), (12, 100.0, 5), (25, 1e4, 2)])
def test_conjugate_directions_solves_in_n_steps_with_conjugate_directions(n, cond, seed):
    prob = random_spd(n, cond, seed=seed)
    x, P = conjugate_directions(prob.A, prob.b)
    np.testing.assert_allclose(x, np.linalg.solve(prob.A, prob.b), rtol=1e-9 * cond)
    assert P.shape == (n, n)
    np.testing.assert_allclose(P[:, 0], prob.b)
    assert off_diagonal_cosines(P.T @ prob.A @ P) < 1e-12


def test_conjugate_directions_are_cg_directions_and_the_old_coefficients_vanish():
    prob = random_spd(10, 20.0, seed=3)
    A, b = prob.A, prob.b
    _, P = conjugate_directions(A, b)
    res = cg(A, b, rtol=0.0, maxiter=6)
    # CG's directions from its residuals and betas: p_{k+1} = r_{k+1} + beta_k p_k.
    r, p = b.copy(), b.copy()
    for k in range(6):
        np.testing.assert_allclose(P[:, k], p, rtol=1e-9, atol=1e-12 * np.linalg.norm(b))
        r = r - res.alphas[k] * (A @ p)
        p = r + res.betas[k] * p


def test_conjugate_directions_takes_x0_and_any_operator():
    prob = poisson1d(8)
    x0 = np.linspace(-1.0, 1.0, 8)
    dense = prob.A.toarray()
    x_a, P_a = conjugate_directions(prob.A, prob.b, x0)
    x_b, P_b = conjugate_directions(lambda v: dense @ v, prob.b, x0)
    np.testing.assert_allclose(P_a[:, 0], prob.b - dense @ x0)
    np.testing.assert_allclose(x_a, prob.x_true, rtol=1e-10)
    np.testing.assert_allclose(x_b, x_a, rtol=1e-12)
    np.testing.assert_allclose(P_b, P_a, rtol=1e-12, atol=1e-14)
    assert sp.issparse(prob.A)


def test_conjugate_directions_stops_when_the_residual_vanishes():
    # b is an eigenvector: one step solves the system exactly.
    A = np.diag([1.0, 2.0, 4.0])
    x, P = conjugate_directions(A, np.array([0.0, 2.0, 0.0]))
    np.testing.assert_array_equal(x, [0.0, 1.0, 0.0])
    assert P.shape == (3, 1)


def test_conjugate_directions_rejects_bad_input():
    with pytest.raises(ValueError, match="positive definite"):
        conjugate_directions(np.diag([1.0, -1.0]), np.ones(2))
    with pytest.raises(ValueError, match="vector"):
        conjugate_directions(np.eye(2), 1.0)
    with pytest.raises(ValueError, match="length"):
        conjugate_directions(np.eye(2), np.ones(2), np.ones(3))


# ---------------------------------------------------------------- lanczos_from_cg

@pytest.mark.parametrize("prob, k", [
    (random_spd(40, 100.0, seed=1), 8),
    (poisson1d(30), 5),
    (spd_with_spectrum(np.linspace(1.0, 3.0, 20), seed=4), 1),
])
def test_lanczos_from_cg_is_the_lanczos_matrix(prob, k):
    res = cg(prob.A, prob.b, rtol=0.0, maxiter=k)
    T = lanczos_from_cg(res.alphas, res.betas)
    _, gamma, delta = lanczos(prob.A, prob.b, k)
    np.testing.assert_allclose(T, tridiagonal(gamma, delta[:-1]), rtol=1e-9,
                               atol=1e-12 * np.abs(T).max())
    # betas of length k - 1 are enough
    np.testing.assert_allclose(lanczos_from_cg(res.alphas, res.betas[: k - 1]), T)


def test_lanczos_from_cg_is_ldl_with_d_one_over_alpha_and_l_sqrt_beta():
    rng = np.random.default_rng(7)
    alphas, betas = rng.uniform(0.1, 2.0, 6), rng.uniform(0.0, 1.0, 6)
    L = np.eye(6) + np.diag(np.sqrt(betas[:5]), -1)
    np.testing.assert_allclose(lanczos_from_cg(alphas, betas), L @ np.diag(1 / alphas) @ L.T)


def test_lanczos_from_cg_with_x0_is_lanczos_from_the_initial_residual():
    prob = random_spd(30, 50.0, seed=9)
    x0 = np.random.default_rng(0).standard_normal(30)
    res = cg(prob.A, prob.b, x0, rtol=0.0, maxiter=6)
    _, gamma, delta = lanczos(prob.A, prob.b - prob.A @ x0, 6)
    np.testing.assert_allclose(lanczos_from_cg(res.alphas, res.betas),
                               tridiagonal(gamma, delta[:-1]), rtol=1e-8)


@pytest.mark.parametrize("alphas, betas, match", [
    ([], [], "non-empty"),
    ([1.0, 2.0, 3.0], [0.5], "at least k - 1"),
    ([1.0, -2.0], [0.5], "alphas > 0"),
    ([1.0, 2.0], [-0.5], "betas >= 0"),
    ([1.0, np.nan], [0.5], "finite"),
])
def test_lanczos_from_cg_rejects_bad_input(alphas, betas, match):
    with pytest.raises(ValueError, match=match):
        lanczos_from_cg(alphas, betas)
