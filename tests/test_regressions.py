"""Regression tests for defects found in krylov_ref, one block per defect.

1. GMRES threw away a cycle's progress at a zero pivot of its least-squares
   matrix.
2. The solvers could overflow silently (NaN or inf in x, in the residual
   history or in the status) on singular, inconsistent or indefinite input,
   and CG kept a stale search direction after replacing its residual.
3. Infinite tolerances were rejected, although SciPy accepts them.
4. ``best_polynomial_error`` lost minimality on a cluster plus an outlier.
5. No solver may modify the caller's ``x0``.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse.linalg as sla
from hypothesis import given, settings
from hypothesis import strategies as st

from krylov_ref import bicgstab, cg, cgls, gmres, minres, ridge_cg, steepest_descent
from krylov_ref.convergence import anorm_errors, best_polynomial_error, lanczos_cg_iterates


def residual(A, b, x):
    return float(np.linalg.norm(b - A @ x))


@contextmanager
def no_floating_point_warnings():
    """A context in which numpy's overflow or invalid-value warning fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        yield


# ------------------------------------------------- 1. GMRES at a zero pivot

SWAP = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
SWAP_B = np.array([1.0, 0.0, 1.0])


def test_gmres_zero_pivot_returns_the_least_squares_iterate_of_the_step_before():
    res = gmres(SWAP, SWAP_B)
    assert not res.converged and res.status.startswith("breakdown")
    x_scipy, _ = sla.gmres(SWAP, SWAP_B)
    np.testing.assert_allclose(res.x, [0.0, 1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(res.x, x_scipy, atol=1e-12)
    np.testing.assert_allclose(res.x, minres(SWAP, SWAP_B).x, atol=1e-12)
    # The history ends with the residual of the x returned, the best reached.
    assert res.residual_norms[-1] == pytest.approx(residual(SWAP, SWAP_B, res.x), rel=1e-12)
    assert res.residual_norms[-1] == pytest.approx(1.0, rel=1e-12)
    assert res.residual_norms[-1] == pytest.approx(res.residual_norms.min(), rel=1e-12)


def test_gmres_zero_pivot_with_a_singular_preconditioner_keeps_the_progress():
    A, b, x0 = np.diag([2.0, 3.0, 4.0]), np.array([0.0, 1.0, 1.0]), np.array([1.0, 0.0, 0.0])
    res = gmres(A, b, x0, M=np.diag([1.0, 1.0, 0.0]), rtol=1e-15)
    assert not res.converged and res.status.startswith("breakdown")
    assert residual(A, b, res.x) == pytest.approx(1.0, rel=1e-12)
    assert res.residual_norms[-1] == pytest.approx(residual(A, b, res.x), rel=1e-12)
    np.testing.assert_allclose(res.x, [0.0, 1.0 / 3.0, 0.0], atol=1e-12)  # SciPy's answer too


def test_gmres_zero_pivot_with_a_callback_hands_it_the_best_iterate():
    seen = []
    res = gmres(SWAP, SWAP_B, callback=lambda x: seen.append(residual(SWAP, SWAP_B, x)))
    assert len(seen) == res.iterations
    np.testing.assert_allclose(seen, res.residual_norms[1:], rtol=1e-12)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 8), rank=st.integers(1, 7), restart=st.integers(1, 10),
       seed=st.integers(0, 10**6))
def test_gmres_on_singular_systems_returns_the_residual_it_reports(n, rank, restart, seed):
    rng = np.random.default_rng(seed)
    rank = min(rank, n - 1)
    A = rng.standard_normal((n, rank)) @ rng.standard_normal((rank, n))
    if seed % 2:  # a singular matrix whose Krylov spaces close exactly
        A = np.diag(np.where(np.arange(n) < rank, rng.uniform(0.5, 2.0, n), 0.0))
    b = rng.standard_normal(n)
    res = gmres(A, b, rtol=1e-12, restart=restart, maxiter=20 * n)
    assert np.all(np.isfinite(res.x)) and np.all(np.isfinite(res.residual_norms))
    true = residual(A, b, res.x)
    assert res.residual_norms[-1] == pytest.approx(true, rel=1e-8, abs=1e-12 * np.linalg.norm(b))
    # GMRES never loses ground: the x returned is the best one reached.
    assert true <= res.residual_norms.min() * (1 + 1e-8) + 1e-12 * np.linalg.norm(b)


# ------------------------------------------------- 2. finite outputs


def test_cg_on_a_singular_inconsistent_system_is_a_named_breakdown():
    A, b = np.diag([2.0, 1.0, 0.0]), np.array([1.0, 0.5, 1.0])
    with no_floating_point_warnings():
        res = cg(A, b, rtol=1e-8, maxiter=30)
    assert not res.converged and res.status.startswith("breakdown")
    assert "singular" in res.status
    assert np.all(np.isfinite(res.x)) and np.all(np.isfinite(res.residual_norms))
    assert res.residual_norms[-1] == pytest.approx(residual(A, b, res.x), rel=1e-8)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cg_below_attainable_accuracy_restarts_instead_of_blowing_up(seed):
    # rtol = 1e-15 cannot be met: each time the updated residual claims it,
    # the true one denies it. CG must then restart from the true residual,
    # not combine it with a search direction scaled for the updated one.
    rng = np.random.default_rng(seed)
    Q = np.linalg.qr(rng.standard_normal((4, 4)))[0]
    A = (Q * np.array([1e-3, 1.0, 3.0, 10.0])) @ Q.T
    b = rng.standard_normal(4)
    with no_floating_point_warnings():
        res = cg(A, b, rtol=1e-15, maxiter=200)
    assert res.status == "maxiter reached"
    assert np.all(np.isfinite(res.residual_norms)) and np.all(np.isfinite(res.x))
    assert res.residual_norms.max() <= 10 * res.residual_norms[0]
    assert residual(A, b, res.x) <= 1e-10 * np.linalg.norm(b)


def test_steepest_descent_on_an_indefinite_matrix_stops_finite():
    # r^T A r stays positive here while x runs off to infinity.
    rng = np.random.default_rng(14)
    Q = np.linalg.qr(rng.standard_normal((6, 6)))[0]
    A = (Q * np.array([-3.0, -1.0, 0.5, 2.0, 4.0, 8.0])) @ Q.T
    b = rng.standard_normal(6)
    with no_floating_point_warnings():
        res = steepest_descent(A, b, rtol=1e-12, maxiter=3000)
    assert not res.converged and res.status.startswith(("breakdown", "negative curvature"))
    assert np.all(np.isfinite(res.x)) and np.all(np.isfinite(res.residual_norms))


def test_bicgstab_on_a_singular_system_stops_finite():
    A = np.diag([0.0, 0.0, 0.0, 4.188, 8.199, 6.302, 9.595, 3.757])
    b = np.array([1.15, -2.365, 1.229, 0.34, 0.424, 0.371, 0.383, 0.319])
    with no_floating_point_warnings():
        res = bicgstab(A, b, rtol=1e-14, maxiter=300)
    assert not res.converged and res.status.startswith("breakdown")
    assert np.all(np.isfinite(res.x)) and np.all(np.isfinite(res.residual_norms))
    assert np.linalg.norm(res.x) < 1e6


def _hard_matrix(kind, n, rng):
    Q = np.linalg.qr(rng.standard_normal((n, n)))[0]
    positive = rng.uniform(0.1, 10.0, n)
    zeros = np.arange(n) < rng.integers(1, n)
    if kind == "diagonal, singular":
        return np.diag(np.where(zeros, 0.0, positive))
    if kind == "symmetric, singular":
        return (Q * np.where(zeros, 0.0, positive)) @ Q.T
    if kind == "symmetric, indefinite":
        return (Q * (positive * rng.choice([-1.0, 1.0], n))) @ Q.T
    if kind == "non-symmetric, singular":
        k = int(rng.integers(1, n))
        return rng.standard_normal((n, k)) @ rng.standard_normal((k, n))
    return rng.standard_normal((n, n))  # "non-symmetric"


KINDS = ["diagonal, singular", "symmetric, singular", "symmetric, indefinite",
         "non-symmetric, singular", "non-symmetric"]


def _every_solver(n):
    M_spd = np.diag(np.linspace(0.5, 2.0, n))
    M_singular = np.diag((np.arange(n) % 2).astype(float))
    return {
        "steepest_descent": lambda A, b, **kw: steepest_descent(A, b, **kw),
        "cg": lambda A, b, **kw: cg(A, b, **kw),
        "cg with M": lambda A, b, **kw: cg(A, b, M=M_spd, **kw),
        "cg with singular M": lambda A, b, **kw: cg(A, b, M=M_singular, **kw),
        "gmres": lambda A, b, **kw: gmres(A, b, restart=5, **kw),
        "gmres with M": lambda A, b, **kw: gmres(A, b, M=M_spd, restart=5, **kw),
        "gmres with singular M": lambda A, b, **kw: gmres(A, b, M=M_singular, restart=5, **kw),
        "minres": lambda A, b, **kw: minres(A, b, **kw),
        "minres with M": lambda A, b, **kw: minres(A, b, M=M_spd, **kw),
        "minres with singular M": lambda A, b, **kw: minres(A, b, M=M_singular, **kw),
        "bicgstab": lambda A, b, **kw: bicgstab(A, b, **kw),
        "bicgstab with M": lambda A, b, **kw: bicgstab(A, b, M=M_spd, **kw),
        "bicgstab with singular M": lambda A, b, **kw: bicgstab(A, b, M=M_singular, **kw),
        "ridge_cg": lambda A, b, **kw: ridge_cg(A, b, 0.0, **kw),
        "cgls": lambda A, b, **kw: cgls(A, b, **kw),
    }


STATUS_PREFIXES = ("converged", "maxiter reached", "breakdown", "negative curvature")


@settings(max_examples=150, deadline=None)
@given(kind=st.sampled_from(KINDS), n=st.integers(2, 8), seed=st.integers(0, 2**32 - 1),
       rtol=st.sampled_from([1e-14, 1e-8]), maxiter=st.integers(1, 300))
def test_every_solver_returns_finite_values_on_hard_inputs(kind, n, seed, rtol, maxiter):
    rng = np.random.default_rng(seed)
    A = _hard_matrix(kind, n, rng)
    b = rng.standard_normal(n)
    for name, solve in _every_solver(n).items():
        with no_floating_point_warnings():
            res = solve(A, b, rtol=rtol, maxiter=maxiter)
        assert np.all(np.isfinite(res.x)), (name, res.status)
        assert np.all(np.isfinite(res.residual_norms)), (name, res.status)
        assert res.status.startswith(STATUS_PREFIXES), (name, res.status)
        assert "nan" not in res.status and "inf" not in res.status, (name, res.status)
        assert len(res.residual_norms) == res.iterations + 1, name


# ------------------------------------------------- 3. infinite tolerances

SPD = np.array([[4.0, 1.0], [1.0, 3.0]])
SPD_B = np.array([1.0, 2.0])
SPD_X0 = np.array([0.3, -0.2])
OURS_AND_SCIPY = {"cg": (cg, sla.cg), "gmres": (gmres, sla.gmres),
                  "bicgstab": (bicgstab, sla.bicgstab), "minres": (minres, None),
                  "steepest_descent": (steepest_descent, None)}


@pytest.mark.parametrize("name", list(OURS_AND_SCIPY))
@pytest.mark.parametrize("tolerances", [dict(rtol=np.inf), dict(atol=np.inf),
                                        dict(rtol=np.inf, atol=np.inf)], ids=str)
@pytest.mark.parametrize("x0", [None, SPD_X0], ids=["x0=None", "x0 given"])
def test_infinite_tolerances_stop_at_once_like_scipy(name, tolerances, x0):
    ours, theirs = OURS_AND_SCIPY[name]
    res = ours(SPD, SPD_B, x0, **tolerances)
    assert res.converged and res.status == "converged" and res.iterations == 0
    expected = np.zeros(2) if x0 is None else x0
    np.testing.assert_array_equal(res.x, expected)
    assert res.residual_norms[0] == pytest.approx(residual(SPD, SPD_B, expected))
    if theirs is not None:
        x_scipy, info = theirs(SPD, SPD_B, x0=x0, **tolerances)
        assert info == 0
        np.testing.assert_array_equal(res.x, x_scipy)


@pytest.mark.parametrize("solve", [lambda **kw: ridge_cg(SPD, SPD_B, 0.1, **kw),
                                   lambda **kw: cgls(SPD, SPD_B, 0.1, **kw)],
                         ids=["ridge_cg", "cgls"])
def test_infinite_tolerances_are_accepted_by_the_ridge_solvers(solve):
    for tolerances in (dict(rtol=np.inf), dict(atol=np.inf)):
        res = solve(**tolerances)
        assert res.converged and res.iterations == 0


def test_infinite_rtol_with_zero_right_hand_side_is_still_converged():
    # inf * ||b|| with ||b|| = 0 must not turn into NaN.
    res = steepest_descent(SPD, np.zeros(2), rtol=np.inf)
    assert res.converged and res.iterations == 0
    np.testing.assert_array_equal(res.x, 0.0)


@pytest.mark.parametrize("solve", [cg, gmres, minres, bicgstab, steepest_descent,
                                   lambda A, b, **kw: ridge_cg(A, b, 0.1, **kw),
                                   lambda A, b, **kw: cgls(A, b, 0.1, **kw)])
@pytest.mark.parametrize("tolerances, message", [
    (dict(rtol=np.nan), "rtol must be a number >= 0 .*got nan"),
    (dict(atol=np.nan), "atol must be a number >= 0 .*got nan"),
    (dict(rtol=-1.0), "rtol must be a number >= 0 .*got -1.0"),
    (dict(atol=-np.inf), "atol must be a number >= 0 .*got -inf"),
    (dict(rtol="small"), "rtol must be a number >= 0 .*got 'small'"),
])
def test_nan_and_negative_tolerances_raise_a_clear_error(solve, tolerances, message):
    with pytest.raises(ValueError, match=message):
        solve(SPD, SPD_B, **tolerances)


# ------------------------------------------------- 4. the best polynomial


def exact_best_polynomial_errors(lam, c, k):
    """``min ||p(A) e_0||_A`` for degrees 0..k in exact rational arithmetic.

    The distance from the constant 1 to ``span{lambda, ..., lambda^k}`` in
    the discrete inner product ``<f, g> = sum_i lambda_i c_i^2 f(lambda_i)
    g(lambda_i)``, with ``lambda pi_j`` as orthogonal basis, ``pi_j`` the
    monic orthogonal polynomials of the weights ``lambda_i^3 c_i^2``
    (Stieltjes). Independent of the method under test, and exact: fast when
    the data are dyadic rationals with small denominators.
    """
    L = [Fraction(x) for x in lam]
    W = [l * Fraction(ci) ** 2 for l, ci in zip(L, c)]
    mu = [w * l * l for w, l in zip(W, L)]
    square = sum(W)
    out = [square]
    prev, cur, norm_prev = [Fraction(0)] * len(L), [Fraction(1)] * len(L), None
    for _ in range(k):
        norm = sum(m * p * p for m, p in zip(mu, cur))
        if norm == 0:  # the spectrum is exhausted: the minimum is 0
            out.append(Fraction(0))
            square = Fraction(0)
            continue
        projection = sum(w * l * p for w, l, p in zip(W, L, cur))
        square -= projection * projection / norm
        out.append(square)
        a = sum(m * l * p * p for m, l, p in zip(mu, L, cur)) / norm
        b = norm / norm_prev if norm_prev else Fraction(0)
        prev, cur, norm_prev = cur, [(l - a) * p - b * q for l, p, q in zip(L, cur, prev)], norm
    return np.sqrt(np.array([float(s) for s in out]))


def test_best_polynomial_error_is_the_minimum_on_a_cluster_with_an_outlier():
    # 80 eigenvalues in [1, 5] (dyadic, so the reference is exact and fast)
    # and one at 800, with dyadic components of e_0.
    rng = np.random.default_rng(11)
    cluster = 1.0 + np.sort(rng.choice(257, size=80, replace=False)) / 64.0
    lam = np.append(cluster, 800.0)
    c = rng.integers(-8, 9, lam.size) / 4.0
    c[c == 0] = 0.25
    exact = exact_best_polynomial_errors(lam, c, 30)
    ours = np.array([best_polynomial_error(lam, c, k) for k in range(31)])
    assert exact[30] < 1e-13 * exact[0]  # far below where the old method stalled
    np.testing.assert_allclose(ours, exact, rtol=1e-12)


def test_best_polynomial_error_is_exact_cg_on_the_lesson_sized_outlier_example():
    lam = np.append(np.linspace(1.0, 5.0, 80), 800.0)
    c = np.ones(lam.size)
    A, x_star = np.diag(lam), -c  # x0 = 0, so e_0 = -x_* = c
    err = anorm_errors(A, lanczos_cg_iterates(A, A @ x_star, 30), x_star)
    ours = np.array([best_polynomial_error(lam, c, k) for k in range(31)])
    assert ours[30] < 1e-11  # exactly 6.84e-12
    # Exact CG's errors lose digits to the cancellation in x_k - x_*.
    big = err > 1e-10 * err[0]
    np.testing.assert_allclose(ours[big], err[big], rtol=1e-6)
    np.testing.assert_allclose(ours, err, rtol=1e-2)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 12), seed=st.integers(0, 10**6))
def test_best_polynomial_error_matches_the_exact_minimum_on_random_dyadic_data(n, seed):
    rng = np.random.default_rng(seed)
    lam = rng.integers(1, 2**10, n) / 2.0**rng.integers(0, 6)
    c = rng.integers(-16, 17, n) / 8.0
    exact = exact_best_polynomial_errors(lam, c, n + 1)
    ours = np.array([best_polynomial_error(lam, c, k) for k in range(n + 2)])
    scale = max(exact[0], 1e-300)
    np.testing.assert_allclose(ours, exact, rtol=1e-11, atol=1e-12 * scale)


# ------------------------------------------------- 5. x0 is left alone


def _spd_system(n=6, seed=0):
    rng = np.random.default_rng(seed)
    B = rng.standard_normal((n, n))
    return B, B @ B.T + n * np.eye(n), rng.standard_normal(n)


_X, _S, _B = _spd_system()
_N = _B.size
EVERY_SOLVER_CALL = {
    "steepest_descent": lambda x0, **kw: steepest_descent(_S, _B, x0, **kw),
    "cg": lambda x0, **kw: cg(_S, _B, x0, **kw),
    "cg with M": lambda x0, **kw: cg(_S, _B, x0, M=np.eye(_N) / 2, **kw),
    "gmres": lambda x0, **kw: gmres(_S, _B, x0, restart=2, **kw),
    "gmres with M": lambda x0, **kw: gmres(_S, _B, x0, M=np.eye(_N) / 2, **kw),
    "minres": lambda x0, **kw: minres(_S, _B, x0, **kw),
    "minres with M": lambda x0, **kw: minres(_S, _B, x0, M=np.eye(_N) / 2, **kw),
    "bicgstab": lambda x0, **kw: bicgstab(_S, _B, x0, **kw),
    "bicgstab with M": lambda x0, **kw: bicgstab(_S, _B, x0, M=np.eye(_N) / 2, **kw),
    "ridge_cg": lambda x0, **kw: ridge_cg(_X, _B, 0.1, x0=x0, **kw),
    "cgls": lambda x0, **kw: cgls(_X, _B, 0.1, x0=x0, **kw),
}


@pytest.mark.parametrize("name", list(EVERY_SOLVER_CALL))
@pytest.mark.parametrize("start", ["random", "column", "exact", "maxiter=0"])
def test_no_solver_modifies_x0(name, start):
    rng = np.random.default_rng(3)
    x0 = rng.standard_normal((_N, 1)) if start == "column" else rng.standard_normal(_N)
    if start == "exact":
        x0 = (np.linalg.solve(_X.T @ _X + 0.1 * np.eye(_N), _X.T @ _B)
              if name in ("ridge_cg", "cgls") else np.linalg.solve(_S, _B))
    kept = x0.copy()
    res = EVERY_SOLVER_CALL[name](x0, **({"maxiter": 0} if start == "maxiter=0" else {}))
    np.testing.assert_array_equal(x0, kept)
    assert not np.shares_memory(res.x, x0)
    res.x[:] = 123.0  # and the result is no window onto x0 either
    np.testing.assert_array_equal(x0, kept)


def test_pcg_whose_residual_underflows_is_not_called_an_indefinite_preconditioner():
    # With rtol = atol = 0 the updated residual keeps shrinking until r^T M r
    # underflows to 0; that is not a preconditioner that fails to be SPD.
    from krylov_ref.precond import jacobi
    from krylov_ref.problems import variable_diffusion2d

    prob = variable_diffusion2d(4, 1e4)
    res = cg(prob.A, prob.b, rtol=0.0, M=jacobi(prob.A))
    assert "underflowed" in res.status and "not positive definite" not in res.status
    assert np.all(np.isfinite(res.x)) and np.all(np.isfinite(res.residual_norms))
    # An indefinite M is still named as such.
    bad = cg(np.eye(3), np.ones(3), M=-np.eye(3))
    assert "not positive definite" in bad.status


def test_solvers_accept_any_square_operator_with_a_shape_and_matmul():
    from krylov_ref.checks import CountingOperator

    A = np.diag([1.0, 2.0, 4.0])
    op = CountingOperator(A)
    res = cg(op, np.ones(3), rtol=1e-12)
    assert res.converged and np.allclose(res.x, [1.0, 0.5, 0.25]) and op.count >= 3
    with pytest.raises(ValueError, match="square"):
        cg(CountingOperator(np.ones((3, 2))), np.ones(3))
