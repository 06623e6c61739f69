"""ridge_cg and cgls against direct solves and SciPy's LSQR, dense and sparse."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.linalg import lsqr

from krylov_ref.ridge import cgls, ridge_cg


def data(m, n, seed, sparse=False):
    rng = np.random.default_rng(seed)
    if sparse:
        X = sp.random_array((m, n), density=0.2, format="csr", rng=rng)
        X = sp.csr_array(X + sp.eye_array(m, n))  # no empty columns
    else:
        X = rng.standard_normal((m, n))
    return X, rng.standard_normal(m)


def normal_equations_solution(X, y, lam):
    Xd = X.toarray() if sp.issparse(X) else X
    return np.linalg.solve(Xd.T @ Xd + lam * np.eye(Xd.shape[1]), Xd.T @ y)


def lsqr_solution(X, y, damp):
    return lsqr(X, y, damp=damp, atol=1e-14, btol=1e-14, iter_lim=10_000)[0]


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("lam", [0.0, 0.1, 10.0])
def test_ridge_cg_matches_normal_equations_and_lsqr(sparse, lam):
    X, y = data(80, 30, seed=1, sparse=sparse)
    res = ridge_cg(X, y, lam, rtol=1e-12)
    assert res.converged
    np.testing.assert_allclose(res.x, normal_equations_solution(X, y, lam), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(res.x, lsqr_solution(X, y, np.sqrt(lam)), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("damp", [0.0, 0.5, 3.0])
def test_cgls_matches_lsqr(sparse, damp):
    X, y = data(60, 25, seed=2, sparse=sparse)
    res = cgls(X, y, damp, rtol=1e-12)
    assert res.converged
    np.testing.assert_allclose(res.x, lsqr_solution(X, y, damp), rtol=1e-7, atol=1e-9)


def test_underdetermined_lam0_gives_minimum_norm_solution():
    # More features than samples: X^T X is singular, but from x0 = 0 both
    # iterations stay in range(X^T) and reach the pseudo-inverse solution.
    X, y = data(10, 30, seed=3)
    expected = np.linalg.pinv(X) @ y
    np.testing.assert_allclose(ridge_cg(X, y, 0.0, rtol=1e-12).x, expected, atol=1e-8)
    np.testing.assert_allclose(cgls(X, y, 0.0, rtol=1e-12).x, expected, atol=1e-8)


def test_stopping_test_is_on_the_normal_equations_residual():
    X, y = data(100, 20, seed=4)
    lam, rtol = 0.3, 1e-4
    Xty = X.T @ y
    for res in (ridge_cg(X, y, lam, rtol=rtol), cgls(X, y, np.sqrt(lam), rtol=rtol)):
        true = np.linalg.norm(Xty - X.T @ (X @ res.x) - lam * res.x)
        assert res.converged
        assert true <= rtol * np.linalg.norm(Xty)
        assert np.isclose(res.residual_norms[-1], true, rtol=1e-6)
        # the loose rtol stopped CG before n = 20 steps would have solved exactly
        assert res.iterations < 15


def test_cgls_and_ridge_cg_have_the_same_iterates_in_exact_arithmetic():
    X, y = data(50, 12, seed=5)
    seen = {"ridge": [], "cgls": []}
    ridge_cg(X, y, 0.25, rtol=1e-10, callback=lambda b: seen["ridge"].append(b.copy()))
    cgls(X, y, 0.5, rtol=1e-10, callback=lambda b: seen["cgls"].append(b.copy()))
    # early iterates, before rounding separates the two
    np.testing.assert_allclose(seen["ridge"][:5], seen["cgls"][:5], rtol=1e-8, atol=1e-12)


def test_counts_pairs_of_products():
    X, y = data(40, 10, seed=6)
    res = cgls(X, y, 0.1, rtol=1e-10)
    # one pair per iteration plus one to confirm the true residual at the end
    assert res.matvecs == res.iterations + 1
    res = ridge_cg(X, y, 0.01, rtol=1e-10)
    assert res.matvecs == res.iterations + 1


def test_never_forms_XtX():
    # X^T X would be 10^5 x 10^5 (80 GB dense): only products with X are affordable.
    rng = np.random.default_rng(7)
    X = sp.random_array((200, 100_000), density=1e-3, format="csr", rng=rng)
    y = rng.standard_normal(200)
    for res in (ridge_cg(X, y, 1.0, rtol=1e-8), cgls(X, y, 1.0, rtol=1e-8)):
        assert res.converged
        # ridge solution lies in range(X^T): beta = X^T (X X^T + lam I)^{-1} y
        alpha = np.linalg.solve((X @ X.T).toarray() + np.eye(200), y)
        np.testing.assert_allclose(res.x, X.T @ alpha, atol=1e-6)


def test_warm_start_saves_iterations():
    X, y = data(200, 60, seed=8)
    cold = ridge_cg(X, y, 1.0, rtol=1e-8)
    neighbour = ridge_cg(X, y, 1.1, rtol=1e-10).x
    warm = ridge_cg(X, y, 1.0, x0=neighbour, rtol=1e-8)
    assert warm.converged and warm.iterations < cold.iterations
    warm = cgls(X, y, 1.0, x0=neighbour, rtol=1e-8)
    assert warm.converged and warm.iterations < cold.iterations


def test_exact_start_needs_no_iteration():
    X, y = data(30, 5, seed=9)
    beta = normal_equations_solution(X, y, 0.5)
    assert cgls(X, y, np.sqrt(0.5), x0=beta, rtol=1e-8).iterations == 0
    assert ridge_cg(X, y, 0.5, x0=beta, rtol=1e-8).iterations == 0


def test_zero_right_hand_side():
    X = np.array([[1.0, 1.0], [1.0, -1.0]])
    y = np.array([1.0, -1.0]) * 0
    for res in (ridge_cg(X, y, 1.0), cgls(X, y, 1.0)):
        assert res.converged and not np.any(res.x)


def test_maxiter_reached_reports_not_converged():
    X, y = data(100, 50, seed=10)
    res = cgls(X, y, 0.0, rtol=1e-14, maxiter=3)
    assert not res.converged and res.status == "maxiter reached" and res.iterations == 3


@settings(max_examples=15, deadline=None)
@given(m=st.integers(1, 30), n=st.integers(1, 15), lam=st.floats(1e-3, 1e2),
       seed=st.integers(0, 2**16), sparse=st.booleans())
def test_random_problems(m, n, lam, seed, sparse):
    X, y = data(m, n, seed, sparse=sparse)
    expected = normal_equations_solution(X, y, lam)
    scale = 1 + np.linalg.norm(expected)
    for res in (ridge_cg(X, y, lam, rtol=1e-12), cgls(X, y, np.sqrt(lam), rtol=1e-12)):
        assert res.converged
        assert np.linalg.norm(res.x - expected) <= 1e-7 * scale


@pytest.mark.parametrize("solver", [ridge_cg, cgls])
@pytest.mark.parametrize("X, y, param, match", [
    (np.ones((4, 3)), np.ones(5), 1.0, "4 rows .* y has length 5"),
    (np.ones(4), np.ones(4), 1.0, "X must be a 2-D matrix"),
    (np.array([[1.0, np.nan], [0.0, 1.0]]), np.ones(2), 1.0, "X contains NaN or inf"),
    (np.eye(2), np.array([1.0, np.inf]), 1.0, "y contains NaN or inf"),
    (np.eye(2), np.ones(2), -1.0, "must be a finite number >= 0"),
    (np.eye(2), np.ones(2), np.nan, "must be a finite number >= 0"),
    (np.eye(2) * 1j, np.ones(2), 1.0, "X must be real"),
    (np.eye(2), 3.0, 1.0, "y must be a vector"),
])
def test_bad_input_raises(solver, X, y, param, match):
    with pytest.raises(ValueError, match=match):
        solver(X, y, param)


@pytest.mark.parametrize("solver", [ridge_cg, cgls])
def test_bad_x0_and_tolerances_raise(solver):
    with pytest.raises(ValueError, match="x0 has length 3, expected 2"):
        solver(np.eye(2), np.ones(2), 1.0, x0=np.ones(3))
    with pytest.raises(ValueError, match="rtol must be"):
        solver(np.eye(2), np.ones(2), 1.0, rtol=-1.0)
    with pytest.raises(ValueError, match="maxiter must be"):
        solver(np.eye(2), np.ones(2), 1.0, maxiter=2.5)


def test_negative_lam_message_names_the_parameter():
    with pytest.raises(ValueError, match="lam must be"):
        ridge_cg(np.eye(2), np.ones(2), -0.1)
    with pytest.raises(ValueError, match="damp must be"):
        cgls(np.eye(2), np.ones(2), -0.1)
