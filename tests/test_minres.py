"""MINRES against SciPy and on the indefinite problems it exists for."""

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as sla
from hypothesis import given, settings
from hypothesis import strategies as st

from krylov_ref import cg, lanczos, minres, tridiagonal
from krylov_ref.minres import MINRESResult
from krylov_ref.precond import jacobi
from krylov_ref.problems import poisson2d, symmetric_indefinite


def scipy_residual_history(A, b, steps, M=None):
    """||b - A x_k|| for SciPy's MINRES iterates, k = 1..steps."""
    history = []
    sla.minres(A, b, rtol=1e-15, maxiter=steps, M=M,
               callback=lambda xk: history.append(np.linalg.norm(b - A @ xk)))
    return np.array(history)


def positive_diagonal(n, seed):
    return sp.diags_array(np.random.default_rng(seed).uniform(0.5, 2.0, n))


@pytest.mark.parametrize("use_M", [False, True])
def test_minres_iterates_match_scipy(use_M):
    p = symmetric_indefinite(400, cond=10.0, negative=0.4, seed=2)
    M = positive_diagonal(p.n, 7) if use_M else None
    res = minres(p.A, p.b, rtol=1e-8, M=M)
    assert res.converged and res.status == "converged"
    # Same algorithm, same iterates: residual norms agree step by step while
    # rounding has not yet separated the two runs.
    scipy_norms = scipy_residual_history(p.A, p.b, 40, M=M)
    np.testing.assert_allclose(res.residual_norms[1:41], scipy_norms, rtol=1e-7)
    # Iterations to our tolerance: where SciPy's iterates first meet it.
    scipy_all = scipy_residual_history(p.A, p.b, res.iterations + 10, M=M)
    tol = 1e-8 * np.linalg.norm(p.b)
    scipy_iterations = int(np.argmax(scipy_all <= tol)) + 1
    assert scipy_all.min() <= tol
    assert abs(res.iterations - scipy_iterations) <= 2, (res.iterations, scipy_iterations)
    np.testing.assert_allclose(res.x, p.x_true, rtol=1e-5, atol=1e-5)


def test_minres_solves_indefinite_systems_where_cg_fails():
    p = symmetric_indefinite(300, cond=10.0, negative=0.5, seed=5)
    cg_res = cg(p.A, p.b, rtol=1e-8)
    assert not cg_res.converged and "negative curvature" in cg_res.status
    res = minres(p.A, p.b, rtol=1e-8)
    assert res.converged
    assert np.linalg.norm(p.b - p.A @ res.x) <= 1e-8 * np.linalg.norm(p.b)


def test_residual_norms_are_true_residuals_and_do_not_increase():
    p = symmetric_indefinite(200, cond=30.0, negative=0.3, seed=1)
    for M in (None, positive_diagonal(p.n, 3)):
        true = []
        res = minres(p.A, p.b, rtol=1e-10, M=M,
                     callback=lambda x, true=true: true.append(np.linalg.norm(p.b - p.A @ x)))
        assert len(true) == res.iterations == len(res.residual_norms) - 1
        np.testing.assert_allclose(res.residual_norms[1:], true, rtol=1e-6,
                                   atol=1e-13 * np.linalg.norm(p.b))
        if M is None:  # MINRES minimises the 2-norm only without M
            assert np.all(np.diff(res.residual_norms) <= 1e-12 * res.residual_norms[0])


def test_lanczos_coefficients_are_those_of_lanczos():
    p = symmetric_indefinite(60, cond=5.0, negative=0.5, seed=3)
    res = minres(p.A, p.b, rtol=1e-12, maxiter=8)
    assert isinstance(res, MINRESResult)
    _, alpha, beta = lanczos(p.A, p.b, 8)
    np.testing.assert_allclose(res.alphas, alpha, atol=1e-12)
    np.testing.assert_allclose(res.betas, beta, rtol=1e-10)
    T = tridiagonal(res.alphas, res.betas[:-1])
    assert T.shape == (8, 8)


def test_minres_on_spd_is_close_to_cg():
    p = poisson2d(20)
    res, cg_res = minres(p.A, p.b, rtol=1e-8), cg(p.A, p.b, rtol=1e-8)
    assert res.converged and cg_res.converged
    assert abs(res.iterations - cg_res.iterations) <= 0.1 * cg_res.iterations + 2


def test_preconditioning_helps():
    p = symmetric_indefinite(300, cond=10.0, negative=0.5, seed=8)
    # Bad scaling that a diagonal preconditioner undoes.
    S = positive_diagonal(p.n, 4) @ positive_diagonal(p.n, 4)
    A, b = S @ p.A @ S, S @ p.b
    plain = minres(A, b, rtol=1e-8)
    pre = minres(A, b, rtol=1e-8, M=sp.diags_array(1.0 / S.diagonal() ** 2))
    assert pre.converged and pre.iterations < 0.5 * plain.iterations
    np.testing.assert_allclose(pre.x, np.linalg.solve(S.toarray(), p.x_true), rtol=1e-5)


def test_indefinite_preconditioner_is_a_reported_breakdown():
    p = poisson2d(5)
    res = minres(p.A, p.b, M=-np.eye(p.n))
    assert not res.converged
    assert "M is not positive definite" in res.status
    np.testing.assert_array_equal(res.x, 0.0)


def test_singular_inconsistent_system_is_a_reported_breakdown():
    A = np.diag([1.0, -1.0, 0.0])
    res = minres(A, np.ones(3))
    assert not res.converged and res.status.startswith("breakdown: gamma")
    assert np.all(np.isfinite(res.x))
    np.testing.assert_allclose(res.x[:2], [1.0, -1.0])  # the least-squares part


def test_jacobi_preconditioner_object_is_accepted():
    p = poisson2d(10)
    res = minres(p.A, p.b, rtol=1e-8, M=jacobi(p.A))
    assert res.converged
    np.testing.assert_allclose(res.x, p.x_true, rtol=1e-6, atol=1e-6)


@settings(max_examples=20, deadline=None)
@given(lam=st.lists(st.floats(0.1, 10.0), min_size=2, max_size=15),
       signs=st.lists(st.booleans(), min_size=15, max_size=15),
       seed=st.integers(0, 10**6))
def test_minres_solves_small_indefinite_systems(lam, signs, seed):
    eigenvalues = np.array([v if s else -v for v, s in zip(lam, signs)])
    rng = np.random.default_rng(seed)
    n = eigenvalues.size
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = (Q * eigenvalues) @ Q.T
    A = (A + A.T) / 2
    b = rng.standard_normal(n)
    res = minres(A, b, rtol=1e-9, maxiter=20 * n)
    assert res.converged, res.status
    assert np.linalg.norm(b - A @ res.x) <= 1e-9 * np.linalg.norm(b)


def test_symmetric_indefinite_problem_has_the_stated_spectrum():
    p = symmetric_indefinite(37, cond=8.0, negative=0.25, seed=4, block=5)
    lam = np.linalg.eigvalsh(p.A.toarray())
    np.testing.assert_allclose(lam, p.eigenvalues, atol=1e-12)
    assert (lam < 0).sum() == 9 and p.symmetric and not p.spd
    assert np.abs(lam).max() / np.abs(lam).min() == pytest.approx(8.0)
    assert max(np.diff(p.A.indptr)) <= 5
    with pytest.raises(ValueError, match="at least one of each sign"):
        symmetric_indefinite(10, negative=0.0)
    with pytest.raises(ValueError, match="cond must be a finite number >= 1"):
        symmetric_indefinite(10, cond=0.5)
