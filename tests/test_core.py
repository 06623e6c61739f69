"""krylov_ref core: steepest descent, CG, Krylov processes, problems and
input handling, against NumPy and SciPy."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from hypothesis import given, settings
from hypothesis import strategies as st

from krylov_ref import arnoldi, cg, krylov_matrix, lanczos, steepest_descent, tridiagonal
from krylov_ref.problems import (poisson1d, poisson2d, quadratic2d, random_spd,
                                 spd_with_spectrum)


def scipy_cg_iterations(A, b, rtol):
    count = [0]
    x, info = spla.cg(A, b, rtol=rtol, atol=0.0, maxiter=10 * b.size,
                      callback=lambda xk: count.__setitem__(0, count[0] + 1))
    assert info == 0
    return count[0], x


# ---------------------------------------------------------------- problems

def test_problems_state_true_properties():
    for prob in [poisson1d(30), poisson2d(6), random_spd(25, 300.0, seed=4),
                 spd_with_spectrum(np.arange(1.0, 11.0)), quadratic2d(7.0)]:
        A = prob.A.toarray() if sp.issparse(prob.A) else prob.A
        np.testing.assert_allclose(A @ prob.x_true, prob.b, rtol=1e-12, atol=1e-12)
        assert np.allclose(A, A.T) == prob.symmetric
        lam = np.linalg.eigvalsh(A)
        assert (lam.min() > 0) == prob.spd
        np.testing.assert_allclose(lam.max() / lam.min(), prob.cond, rtol=1e-8)
        np.testing.assert_allclose(np.sort(prob.eigenvalues), lam, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("call, match", [
    (lambda: poisson1d(0), "n must be an integer"),
    (lambda: random_spd(5, 0.5), "cond must be"),
    (lambda: spd_with_spectrum([1.0, -2.0]), "positive"),
    (lambda: random_spd(5, 10.0, spacing="cubic"), "spacing"),
])
def test_problem_generators_reject_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---------------------------------------------------------------- CG

@pytest.mark.parametrize("m", [10, 32])
@pytest.mark.parametrize("rtol", [1e-5, 1e-10])
def test_cg_matches_scipy_on_poisson2d(m, rtol):
    prob = poisson2d(m, seed=m)
    res = cg(prob.A, prob.b, rtol=rtol)
    its, x_scipy = scipy_cg_iterations(prob.A, prob.b, rtol)
    assert res.converged and res.status == "converged"
    assert abs(res.iterations - its) <= 2, (res.iterations, its)
    assert np.linalg.norm(prob.b - prob.A @ res.x) <= rtol * np.linalg.norm(prob.b)
    assert res.residual_norms.shape == (res.iterations + 1,)
    assert res.alphas.shape == res.betas.shape == (res.iterations,)
    np.testing.assert_allclose(res.residual_norms[0], np.linalg.norm(prob.b))


def test_cg_solution_matches_numpy():
    prob = random_spd(60, 1e3, seed=9)
    res = cg(prob.A, prob.b, rtol=1e-12)
    np.testing.assert_allclose(res.x, np.linalg.solve(prob.A, prob.b), rtol=1e-7)


def test_cg_preconditioned_with_exact_inverse_takes_one_step():
    prob = random_spd(30, 1e4, seed=2)
    res = cg(prob.A, prob.b, M=np.linalg.inv(prob.A), rtol=1e-10)
    assert res.iterations == 1 and res.converged


def test_cg_reports_negative_curvature_instead_of_garbage():
    A = np.diag([1.0, 2.0, -3.0])
    res = cg(A, np.ones(3), rtol=1e-10)
    assert not res.converged
    assert "negative curvature" in res.status and "p^T A p" in res.status
    assert np.all(np.isfinite(res.x))


def test_cg_reports_indefinite_preconditioner():
    A = np.diag([1.0, 2.0, 3.0])
    res = cg(A, np.ones(3), M=np.diag([1.0, -1.0, 1.0]), rtol=1e-10)
    assert not res.converged and "preconditioner" in res.status


def test_cg_edge_cases():
    prob = poisson1d(20)
    zero = cg(prob.A, np.zeros(20), x0=np.ones(20))
    assert zero.converged and zero.iterations == 0 and not np.any(zero.x)
    exact = cg(prob.A, prob.b, x0=prob.x_true)
    assert exact.converged and exact.iterations == 0
    limited = cg(prob.A, prob.b, maxiter=3, rtol=1e-12)
    assert not limited.converged and limited.iterations == 3 and limited.status == "maxiter reached"
    none = cg(prob.A, prob.b, maxiter=0)
    assert none.iterations == 0 and not none.converged
    loose = cg(prob.A, prob.b, rtol=0.0, atol=0.5 * np.linalg.norm(prob.b))
    assert loose.converged and np.linalg.norm(prob.b - prob.A @ loose.x) <= 0.5 * np.linalg.norm(prob.b)


def test_cg_callback_sees_every_iterate():
    prob = poisson1d(15)
    seen = []
    res = cg(prob.A, prob.b, rtol=1e-10, callback=lambda x: seen.append(x.copy()))
    assert len(seen) == res.iterations
    np.testing.assert_allclose(seen[-1], res.x)


def test_cg_does_not_modify_inputs():
    prob = random_spd(10, 10.0, seed=0)
    A0, b0, x00 = prob.A.copy(), prob.b.copy(), np.ones(10)
    x0 = x00.copy()
    cg(prob.A, prob.b, x0=x0)
    assert np.array_equal(prob.A, A0) and np.array_equal(prob.b, b0) and np.array_equal(x0, x00)


@pytest.mark.parametrize("form", ["dense", "sparse", "linear_operator", "callable"])
def test_every_input_form_gives_the_same_answer(form):
    prob = poisson1d(25, seed=1)
    A = {"dense": prob.A.toarray(), "sparse": prob.A,
         "linear_operator": spla.aslinearoperator(prob.A),
         "callable": lambda v: prob.A @ v}[form]
    M_diag = 1 / prob.A.diagonal()
    M = {"dense": np.diag(M_diag), "sparse": sp.diags_array(M_diag),
         "linear_operator": spla.aslinearoperator(sp.diags_array(M_diag)),
         "callable": lambda v: M_diag * v}[form]
    ref = cg(prob.A, prob.b, rtol=1e-10)
    for kwargs in ({}, {"M": M}):
        res = cg(A, prob.b, rtol=1e-10, **kwargs)
        assert res.converged
        np.testing.assert_allclose(res.x, ref.x, rtol=1e-8)


@pytest.mark.parametrize("args, kwargs, match", [
    ((np.ones((3, 4)), np.ones(3)), {}, "square"),
    ((np.eye(3), np.ones(4)), {}, "b has length 4"),
    ((np.eye(3), np.ones(3)), {"x0": np.ones(2)}, "x0 has length 2"),
    ((np.array([[1.0, np.nan], [0.0, 1.0]]), np.ones(2)), {}, "A contains NaN"),
    ((np.eye(2), np.array([1.0, np.inf])), {}, "b contains NaN or inf"),
    ((np.eye(2), np.ones(2)), {"rtol": -1.0}, "rtol must be"),
    ((np.eye(2), np.ones(2)), {"maxiter": 2.5}, "maxiter must be"),
    ((np.eye(2), np.ones(2)), {"M": np.eye(3)}, "M has shape"),
    ((lambda v: np.full(2, np.nan), np.ones(2)), {}, "A @ v produced NaN"),
    ((lambda v: np.ones(3), np.ones(2)), {}, "returned shape"),
    (("not a matrix", np.ones(2)), {}, "A must be"),
])
@pytest.mark.parametrize("solver", [cg, steepest_descent])
def test_bad_input_raises_clear_value_error(solver, args, kwargs, match):
    if solver is steepest_descent and "M" in kwargs:
        kwargs = {}
        args, match = (np.eye(2), np.ones(3)), "b has length 3"
    with pytest.raises(ValueError, match=match):
        solver(*args, **kwargs)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(5, 40),
       log_cond=st.floats(0.5, 5.0))
def test_cg_anorm_error_never_increases(seed, n, log_cond):
    """CG minimises the A-norm error over growing subspaces, so it is monotone."""
    rng = np.random.default_rng(seed)
    lam = 10 ** rng.uniform(0, log_cond, n)
    prob = spd_with_spectrum(lam, seed=seed % 1000)
    errors = []
    record = lambda x: errors.append(np.sqrt((x - prob.x_true) @ prob.A @ (x - prob.x_true)))
    cg(prob.A, prob.b, rtol=1e-10, maxiter=n, callback=record)
    e0 = np.sqrt(prob.x_true @ prob.A @ prob.x_true)
    errors = np.array([e0] + errors)
    assert np.all(np.diff(errors) <= 1e-9 * e0), np.diff(errors).max()


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 6), n=st.integers(10, 60))
def test_k_distinct_eigenvalues_converge_in_k_steps(seed, k, n):
    rng = np.random.default_rng(seed)
    values = rng.uniform(1.0, 100.0, k)
    lam = values[rng.integers(0, k, n)]
    lam[:k] = values  # every value really occurs
    prob = spd_with_spectrum(lam, seed=seed % 1000)
    res = cg(prob.A, prob.b, rtol=1e-8)
    assert res.converged and res.iterations <= k + 1, (res.iterations, k)


# ---------------------------------------------------------------- steepest descent

def test_steepest_descent_solves_and_obeys_the_kantorovich_rate():
    prob = random_spd(30, 25.0, seed=3)
    errs = []
    res = steepest_descent(prob.A, prob.b, rtol=1e-8,
                           callback=lambda x: errs.append(np.sqrt((x - prob.x_true) @ prob.A @ (x - prob.x_true))))
    assert res.converged
    # ||e|| / ||x|| <= kappa ||r|| / ||b||
    assert np.linalg.norm(res.x - prob.x_true) <= prob.cond * 1e-8 * np.linalg.norm(prob.x_true)
    e0 = np.sqrt(prob.x_true @ prob.A @ prob.x_true)
    ratios = np.array(errs) / np.array([e0] + errs[:-1])
    assert ratios.max() <= (25 - 1) / (25 + 1) + 1e-12


def test_steepest_descent_stops_on_indefinite_matrix():
    res = steepest_descent(np.diag([1.0, -1.0]), np.array([1.0, 2.0]))
    assert not res.converged and "negative curvature" in res.status


# ---------------------------------------------------------------- Krylov processes

def test_krylov_matrix_columns_are_powers():
    prob = random_spd(8, 10.0, seed=1)
    K = krylov_matrix(prob.A, prob.b, 4)
    np.testing.assert_allclose(K[:, 3], np.linalg.matrix_power(prob.A, 3) @ prob.b)


@pytest.mark.parametrize("form", ["dense", "sparse", "callable"])
def test_arnoldi_relation_and_orthonormality(form):
    rng = np.random.default_rng(5)
    A_dense = rng.standard_normal((40, 40))
    A = {"dense": A_dense, "sparse": sp.csr_array(A_dense), "callable": lambda v: A_dense @ v}[form]
    Q, H = arnoldi(A, rng.standard_normal(40), 15)
    assert Q.shape == (40, 16) and H.shape == (16, 15)
    np.testing.assert_allclose(A_dense @ Q[:, :15], Q @ H, atol=1e-12)
    np.testing.assert_allclose(Q.T @ Q, np.eye(16), atol=1e-12)
    assert np.allclose(np.tril(H, -2), 0)


def test_lanczos_relation_and_agreement_with_arnoldi():
    prob = poisson2d(8)
    Q, alpha, beta = lanczos(prob.A, prob.b, 12)
    T = tridiagonal(alpha, beta[:-1])
    e_k = np.zeros(12)
    e_k[-1] = 1
    np.testing.assert_allclose(prob.A @ Q[:, :12], Q[:, :12] @ T + beta[-1] * np.outer(Q[:, 12], e_k),
                               atol=1e-12)
    _, H = arnoldi(prob.A, prob.b, 12)
    np.testing.assert_allclose(H[:12, :12], T, atol=1e-10)


def test_lanczos_reorthogonalisation_keeps_orthogonality():
    lam = np.concatenate([np.linspace(1e-3, 1e-2, 5), np.geomspace(1e-2, 1e3, 95)])
    prob = spd_with_spectrum(lam, seed=3)
    Q, *_ = lanczos(prob.A, prob.b, 80)
    Qr, *_ = lanczos(prob.A, prob.b, 80, reorthogonalize=True)
    loss = np.linalg.norm(np.eye(80) - Q[:, :80].T @ Q[:, :80])
    loss_r = np.linalg.norm(np.eye(80) - Qr[:, :80].T @ Qr[:, :80])
    assert loss > 1e-3 and loss_r < 1e-12, (loss, loss_r)


def test_lanczos_happy_breakdown_on_few_eigenvalues():
    prob = spd_with_spectrum([1.0, 2.0, 5.0] * 7, seed=1)
    Q, alpha, beta = lanczos(prob.A, prob.b, 10)
    assert alpha.shape == (3,) and beta[-1] == 0.0 and Q.shape == (21, 4)
    np.testing.assert_allclose(np.linalg.eigvalsh(tridiagonal(alpha, beta[:-1])), [1, 2, 5])


@pytest.mark.parametrize("call, match", [
    (lambda: lanczos(np.eye(3), np.zeros(3), 2), "zero vector"),
    (lambda: lanczos(np.eye(3), np.ones(3), 4), "exceeds the order"),
    (lambda: arnoldi(np.eye(3), np.ones(3), 0), "positive integer"),
    (lambda: krylov_matrix(np.eye(3), np.ones(2), 2), "b has length 2"),
    (lambda: tridiagonal([1.0, 2.0], [1.0, 2.0]), "len\\(beta\\)"),
])
def test_krylov_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
