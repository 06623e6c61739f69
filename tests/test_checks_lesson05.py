"""Checks of lesson 05: right answers pass (at least two correct
implementations each, on the visible and the hidden parameters), each typical
wrong answer is rejected with a message naming the mistake, and library
shortcuts and explicit inverses are refused."""

from __future__ import annotations


import numpy as np
import pytest
import scipy.linalg as sl
import scipy.sparse as sp
import scipy.sparse.linalg as sla

import krylov_ref
from krylov_ref import precond
from krylov_ref.checks import NotAllowedError, WrongAnswer, codes_of, use_own
from krylov_ref.checks.lesson05 import (KERSHAW, MIC_NEGATIVE_PIVOT, MIC_ZERO_PIVOT,
                                        MISCONCEPTIONS, ZERO_PIVOT, check_ichol0,
                                        check_jacobi_preconditioner, check_mic0, check_pcg,
                                        check_ssor_preconditioner)
from krylov_ref.problems import poisson2d

LESSON = "05_preconditioning"
# The parameters of the notebook's visible and hidden tests.
PCG_CASES = [{}, dict(m=14, contrast=1e3, seed=5), dict(m=7, contrast=1e6, seed=2)]
JACOBI_CASES = [{}, dict(m=5, contrast=1e2, seed=3), dict(m=11, contrast=1e6, seed=9)]
SSOR_CASES = [{}, dict(m=9, omega=0.8, seed=4), dict(m=4, omega=1.9, seed=1)]
IC_CASES = [{}, dict(m=9, seed=3), dict(m=3, seed=8)]
MIC_CASES = [{}, dict(m=9, seed=3), dict(m=3, seed=8)]


# ---------------------------------------------------------------- pcg

def pcg_student(A, b, x0=None, *, rtol=1e-5, atol=0.0, maxiter=None, M=None, mistake=None,
                variant="standard"):
    n = b.shape[0]
    if mistake == "mutate x0" and x0 is not None:
        x = x0
    else:
        x = np.zeros(n) if x0 is None or mistake == "ignore x0" else np.array(x0, dtype=float)
    if maxiter is None:
        maxiter = n if mistake == "maxiter n" else 10 * n
    tol = max(rtol * np.linalg.norm(b), atol)
    if mistake == "sum tol":
        tol = rtol * np.linalg.norm(b) + atol
    elif mistake == "absolute tol":
        tol = max(rtol, atol)
    elif mistake == "r0 tol":
        tol = max(rtol * np.linalg.norm(b - A @ x), atol)

    def apply(r):
        if (M is None and mistake != "M None") or mistake == "no M":
            return r.copy()
        return M(r) if mistake == "call M" else M @ r

    r = b - A @ x
    z = apply(r)
    p = r.copy() if mistake == "p from r" else z.copy()
    rz = r @ r if mistake == "rr throughout" else r @ z

    def norm(r, z):
        if mistake == "norm z":
            return np.linalg.norm(z)
        if mistake == "norm rz":
            return np.sqrt(r @ z)
        return np.linalg.norm(r)

    norms = [norm(r, z)]

    def converged():
        return (norms[-1] < tol) if mistake == "strict" else (norms[-1] <= tol)

    for _ in range(maxiter + 1 if mistake == "maxiter + 1" else maxiter):
        if mistake != "test after" and converged():
            break
        q = A @ p
        alpha = (r @ r) / (p @ q) if mistake == "alpha rr" else rz / (p @ q)
        if mistake == "A p twice":
            alpha = rz / (p @ (A @ p))
        if mistake == "x sign":
            x -= alpha * p
        else:
            x += alpha * p                  # in place: the "mutate x0" mistake relies on it
        if mistake == "recompute r":
            r = b - A @ x
        elif mistake == "r sign":
            r = r + alpha * q
        else:
            r = r - alpha * q
        z_old = z
        if mistake != "z once":
            z = apply(r)
        if mistake == "M twice":
            z = apply(r)
        rz_new = r @ r if mistake == "rr throughout" else r @ z
        if mistake == "beta rr":
            beta = (r @ r) / (norms[-1] ** 2)
        elif mistake == "beta inverted":
            beta = rz / rz_new
        elif variant == "polak-ribiere":
            beta = (r @ (z - z_old)) / rz  # equal to r_new^T z_new / r^T z in exact arithmetic
        else:
            beta = rz_new / rz
        if mistake != "rz stale":
            rz = rz_new
        p = (r if mistake in ("p from r", "p update from r") else z) + beta * p
        norms.append(norm(r, z))
        if mistake == "test after" and converged():
            break
    return x, norms[1:] if mistake == "no r0" else norms


def pcg_inplace(A, b, x0=None, *, rtol=1e-5, atol=0.0, maxiter=None, M=None):
    """Another correct PCG: numpy arrays for the history, in-place updates."""
    n = b.size
    x = np.zeros(n) if x0 is None else x0.astype(float, copy=True)
    r = b - A @ x
    z = r if M is None else M @ r
    p = np.array(z)
    rz = float(r @ z)
    tol = max(rtol * np.linalg.norm(b), atol)
    norms = np.empty((10 * n if maxiter is None else maxiter) + 1)
    norms[0] = np.linalg.norm(r)
    k = 0
    while norms[k] > tol and k < norms.size - 1:
        q = A @ p
        alpha = rz / float(p @ q)
        x += alpha * p
        r -= alpha * q
        z = r if M is None else M @ r
        rz, rz_old = float(r @ z), rz
        p *= rz / rz_old
        p += z
        k += 1
        norms[k] = np.linalg.norm(r)
    return x, norms[: k + 1]


@pytest.mark.parametrize("case", PCG_CASES)
def test_check_pcg_accepts_correct_solutions(case, capsys):
    check_pcg(pcg_student, **case)
    check_pcg(lambda A, b, x0=None, **kw: pcg_student(A, b, x0, variant="polak-ribiere", **kw),
              **case)
    check_pcg(pcg_inplace, **case)
    assert "\u2713 pcg" in capsys.readouterr().out


PCG_MISTAKES = [  # (the student's mistake, what the message says, its code)
    ("no M", "preconditioner is not used", "no_preconditioner"),
    ("alpha rr", "alpha uses r\\^T r", "alpha_from_r"),
    ("beta rr", "beta uses r\\^T r", "beta_from_r"),
    ("rr throughout", "alpha and beta both use r\\^T r", "inner_products_from_r"),
    ("p from r", "directions are built from r", "p_from_r"),
    ("p update from r", "directions are updated from r", "p_from_r"),
    ("z once", "computed once", "z_not_updated"),
    ("rz stale", "keeps its first value", "rz_not_updated"),
    ("beta inverted", "old r\\^T z over the new one", "beta_inverted"),
    ("r sign", "residual is updated with the wrong sign", "residual_update_sign"),
    ("x sign", "x is minus the PCG iterate", "x_update_sign"),
    ("norm z", "\\|\\|M r_0\\|\\|", "norm_of_z"),
    ("norm rz", "sqrt\\(r_0\\^T M r_0\\)", "norm_rz"),
    ("no r0", "residual_norms\\[0\\] is \\|\\|r_1\\|\\|", "no_initial_norm"),
    ("mutate x0", "changed the caller's x0", "modifies_x0"),
    ("ignore x0", "start from \\(a copy of\\) x0", "ignores_x0"),
    ("M None", "with M=None .* raises", "M_none_unhandled"),
    ("call M", "apply the preconditioner as M @ r", "M_called"),
    ("absolute tol", "leaves out \\|\\|b\\|\\|", "tol_absolute"),
    ("r0 tol", "relative to \\|\\|r_0\\|\\|", "tol_relative_r0"),
    ("sum tol", "the larger of the two, not their sum", "tol_sum"),
    ("strict", "use <= in the stopping test", "strict_stop"),
    ("test after", "Test before each iteration", "test_after_step"),
    ("maxiter n", "maxiter defaults to 10 n", "maxiter_default"),
    ("maxiter + 1", "should have 4 entries", "maxiter_off_by_one"),
    ("recompute r", "instead of recomputing b - A x", "recomputes_residual"),
    ("A p twice", "computing A @ p twice", "extra_A_products"),
    ("M twice", "applied M", "extra_M_applications"),
]


@pytest.mark.parametrize("mistake, message, code", PCG_MISTAKES)
def test_check_pcg_names_the_mistake(mistake, message, code):
    with pytest.raises(WrongAnswer, match=message) as failed:
        check_pcg(lambda A, b, x0=None, **kw: pcg_student(A, b, x0, mistake=mistake, **kw))
    assert codes_of(failed.value) == (f"05.pcg.{code}",)


def test_check_pcg_refuses_shortcuts_and_bad_outputs():
    def with_scipy(A, b, x0=None, **kw):
        x, _ = sla.cg(A, b)
        return x, [0.0]

    def with_krylov_ref(A, b, x0=None, **kw):
        res = krylov_ref.cg(A, b, x0, **kw)
        return res.x, res.residual_norms

    for cheat in (with_scipy, with_krylov_ref):
        with pytest.raises(NotAllowedError):
            check_pcg(cheat)
    with pytest.raises(WrongAnswer, match="tuple"):
        check_pcg(lambda A, b, x0=None, **kw: pcg_student(A, b, x0, **kw)[0])
    with pytest.raises(WrongAnswer, match="is None"):
        check_pcg(lambda A, b, x0=None, **kw: (None, [1.0]))
    with pytest.raises(WrongAnswer, match="calling `<lambda>` failed"):
        check_pcg(lambda A, b, x0=None, *, rtol=1e-5: pcg_student(A, b, x0, rtol=rtol))


@pytest.mark.parametrize("defaults", [dict(rtol=1e-6), dict(atol=1e-10), dict(rtol=1e-4)])
def test_check_pcg_wants_the_documented_defaults(defaults):
    def other_defaults(A, b, x0=None, *, rtol=None, atol=None, maxiter=None, M=None):
        kw = dict(rtol=1e-5 if rtol is None else rtol, atol=0.0 if atol is None else atol)
        for key, value in defaults.items():
            if (rtol if key == "rtol" else atol) is None:
                kw[key] = value
        return pcg_student(A, b, x0, maxiter=maxiter, M=M, **kw)

    with pytest.raises(WrongAnswer, match="the defaults are rtol=1e-5, atol=0.0") as failed:
        check_pcg(other_defaults)
    assert codes_of(failed.value) == ("05.pcg.default_tolerances",)


def test_check_pcg_names_no_mistake_it_cannot_tell():
    """Failures that look like a named mistake but are not one get no code."""
    def divides_by_norm_b(A, b, x0=None, *, rtol=1e-5, atol=0.0, maxiter=None, M=None):
        # A relative test ||r|| / ||b|| <= ...: 0 / 0 with b = 0, but right for every b != 0.
        n = b.shape[0]
        x = np.zeros(n) if x0 is None else np.array(x0, dtype=float)
        r = b - A @ x
        z = r if M is None else M @ r
        p, rz, norms = z.copy(), r @ z, [np.linalg.norm(r)]
        for _ in range(10 * n if maxiter is None else maxiter):
            if norms[-1] / np.linalg.norm(b) <= max(rtol, atol / np.linalg.norm(b)):
                break
            q = A @ p
            alpha = rz / (p @ q)
            x, r = x + alpha * p, r - alpha * q
            z = r if M is None else M @ r
            rz, rz_old = r @ z, rz
            p = z + (rz / rz_old) * p
            norms.append(np.linalg.norm(r))
        return x, norms

    with pytest.raises(WrongAnswer, match="without dividing by") as failed, \
            np.errstate(invalid="ignore", divide="ignore"):
        check_pcg(divides_by_norm_b)
    assert codes_of(failed.value) == ()


def test_check_pcg_catches_stopping_early_and_a_wrong_last_norm():
    def stops_early(A, b, x0=None, *, rtol=1e-5, **kw):
        return pcg_student(A, b, x0, rtol=10 * rtol, **kw)

    with pytest.raises(WrongAnswer, match="not converged"):
        check_pcg(stops_early)

    def loses_last(A, b, x0=None, **kw):
        x, norms = pcg_student(A, b, x0, **kw)
        return x, norms[:-1] if len(norms) > 2 else norms

    with pytest.raises(WrongAnswer, match="iterations|last residual"):
        check_pcg(loses_last)


# ---------------------------------------------------------------- jacobi

def jacobi_student(A, mistake=None):
    A_s = sp.csr_array(A)
    d = A_s.diagonal()
    if mistake == "dense only":
        d = np.diag(A)                      # fails for a sparse A
    elif mistake == "sparse only":
        d = A.tocsr().diagonal()            # fails for a dense A
    if mistake == "mutate":
        if sp.issparse(A):
            A.setdiag(1.0)
        else:
            np.fill_diagonal(A, 1.0)
    if mistake != "no check" and np.any(d == 0):
        where = np.flatnonzero(d == 0) + (1 if mistake == "one-based" else 0)
        raise ValueError("zero on the diagonal" + ("" if mistake == "no index" else f" at {where}"))
    if mistake == "times":
        return sp.diags_array(d)
    if mistake == "sqrt":
        return sp.diags_array(1 / np.sqrt(d))
    if mistake == "row sums":
        return sp.diags_array(1 / np.abs(A_s).sum(axis=1))
    if mistake == "dense":
        return np.diag(1 / d)
    if mistake == "vector":
        return 1 / d
    if mistake == "in place":
        def divide(r):
            r /= d
            return r
        return sla.LinearOperator(A.shape, matvec=divide, dtype=float)
    return sp.diags_array(1 / d)


def jacobi_operator(A):
    d = np.asarray(A.diagonal(), dtype=float) if sp.issparse(A) else np.diag(A).astype(float)
    if np.any(d == 0):
        raise ValueError(f"Jacobi needs a nonzero diagonal: A[{np.argmin(np.abs(d))}, ...] = 0")
    return sla.LinearOperator(A.shape, matvec=lambda r: np.ravel(r) / d, dtype=float)


def jacobi_old_sparse(A):
    """Correct, with the old sparse matrix classes (a dia_matrix)."""
    d = sp.csr_matrix(A).diagonal()
    if (d == 0).any():
        raise ValueError(f"zero diagonal in rows {list(np.nonzero(d == 0)[0])}")
    return sp.diags(1.0 / d)   # M @ r of a 1-D r is 1-D even for the old classes


@pytest.mark.parametrize("case", JACOBI_CASES)
def test_check_jacobi_accepts_correct_solutions(case, capsys):
    check_jacobi_preconditioner(jacobi_student, **case)
    check_jacobi_preconditioner(jacobi_operator, **case)
    check_jacobi_preconditioner(jacobi_old_sparse, **case)
    assert "\u2713 jacobi_preconditioner" in capsys.readouterr().out


JACOBI_MISTAKES = [  # (the student's mistake, what the message says, its code)
    ("times", "multiplies r by the diagonal", "multiplies_by_diagonal"),
    ("sqrt", "sqrt\\(diag\\(A\\)\\)", "sqrt_diagonal"),
    ("row sums", "row sums", "row_sums"),
    ("dense", "dense .* matrix", "dense_matrix"),
    ("vector", "single number", "returns_vector"),
    ("no check", "should raise ValueError", "no_zero_check"),
    ("no index", "say which diagonal entry is zero", "zero_index_not_named"),
    ("one-based", "indices start at 0", "index_one_based"),
    ("in place", "changed r in place", "modifies_r"),
    ("dense only", "when A is a scipy.sparse matrix, and works for the same A made dense",
     "dense_only"),
    ("sparse only", "when A is a dense array, and works for the same A made sparse",
     "sparse_only"),
    ("mutate", "changed the matrix A", None),
]


@pytest.mark.parametrize("mistake, message, code", JACOBI_MISTAKES)
def test_check_jacobi_names_the_mistake(mistake, message, code):
    with pytest.raises(WrongAnswer, match=message) as failed:
        check_jacobi_preconditioner(lambda A: jacobi_student(A, mistake))
    assert codes_of(failed.value) == ((f"05.jacobi_preconditioner.{code}",) if code else ())


def test_check_jacobi_wants_vectors_back_and_refuses_the_library():
    class Column:
        def __init__(self, d):
            self.d = d

        def __matmul__(self, r):
            return (r / self.d)[:, None]

    with pytest.raises(WrongAnswer, match="1-D array"):
        check_jacobi_preconditioner(lambda A: Column(sp.csr_array(A).diagonal()))
    with pytest.raises(NotAllowedError):
        check_jacobi_preconditioner(lambda A: precond.jacobi(A))
    with pytest.raises(WrongAnswer, match="returned None"):
        check_jacobi_preconditioner(lambda A: None)


# ---------------------------------------------------------------- ssor

def ssor_student(A, omega=1.0, mistake=None):
    if mistake == "endpoints" and not 0 <= omega <= 2:
        raise ValueError("omega must be in [0, 2]")
    if mistake not in ("no check", "endpoints") and not 0 < omega < 2:
        raise ValueError("omega must be in (0, 2)")
    if mistake == "sparse only":
        A = A.tocsr()                       # fails for a dense A
    elif mistake == "dense only":
        np.diag(A)                          # fails for a sparse A
    A = sp.csr_array(A)
    d = A.diagonal()
    D = sp.diags_array(d)
    w = 1.0 if mistake in ("omega ignored", "plain omega") else omega
    k = 0 if mistake == "diagonal twice" else 1
    lower = sp.csr_array(D + w * sp.tril(A, k=-k))
    upper = sp.csr_array(D + w * sp.triu(A, k=k))
    if mistake == "mixed form":
        lower = sp.csr_array(D / omega + sp.tril(A, k=-1))
        upper = sp.csr_array(D / omega + sp.triu(A, k=1))
    elif mistake == "upper from lower":
        upper = sp.csr_array(lower.T)
    c = 1.0 if mistake in ("no factor", "omega ignored") else omega * (2 - omega)
    if mistake == "applies M":
        return sla.LinearOperator(A.shape, matvec=lambda r: lower @ ((upper @ r) / d) / c,
                                  dtype=float)
    if mistake == "explicit":
        inverse = c * spsolve_both(upper, lower, d, np.eye(A.shape[0]))
        return sla.LinearOperator(A.shape, matvec=lambda r: inverse @ r, dtype=float)
    if mistake == "dense":
        return c * spsolve_both(upper, lower, d, np.eye(A.shape[0]))
    if mistake == "np.inv":
        inverse = np.linalg.inv((lower @ sp.diags_array(1 / d) @ upper).toarray() / c)
        return sla.LinearOperator(A.shape, matvec=lambda r: inverse @ r, dtype=float)

    def apply(r):
        if mistake == "spsolve":
            return c * sla.spsolve(sp.csc_array(lower @ sp.diags_array(1 / d) @ upper), r)
        if mistake == "forward only":
            return c * sla.spsolve_triangular(lower, r, lower=True)
        if mistake == "swapped":
            y = sla.spsolve_triangular(upper, r, lower=False)
            return c * sla.spsolve_triangular(lower, d * y, lower=True)
        y = sla.spsolve_triangular(lower, r, lower=True)
        if mistake == "no D":
            pass
        elif mistake == "D inverse":
            y = y / d
        elif mistake == "three solves":
            y = sla.spsolve_triangular(sp.csr_array(sp.diags_array(1 / d)), y, lower=True)
        else:
            y = d * y
        return c * sla.spsolve_triangular(upper, y, lower=False)

    return sla.LinearOperator(A.shape, matvec=apply, dtype=float)


def spsolve_both(upper, lower, d, R):
    Y = sla.spsolve_triangular(lower, R, lower=True)
    return sla.spsolve_triangular(upper, d[:, None] * Y, lower=False)


def ssor_dense(A, omega=1.0):
    """Another correct SSOR: dense triangles and scipy.linalg.solve_triangular."""
    if not (0.0 < omega < 2.0):
        raise ValueError(f"omega = {omega} is not in (0, 2)")
    A = A.toarray() if sp.issparse(A) else np.array(A, dtype=float)
    d = np.diag(A)
    lower = np.diag(d) + omega * np.tril(A, -1)
    upper = np.diag(d) + omega * np.triu(A, 1)

    class SSOR:
        shape = A.shape

        def __matmul__(self, r):
            y = sl.solve_triangular(lower, r, lower=True)
            return omega * (2 - omega) * sl.solve_triangular(upper, d * y, lower=False)

    return SSOR()


def ssor_closure(A, omega=1.0):
    """Correct, with the solver bound to a local name captured by the matvec."""
    if omega <= 0 or omega >= 2:
        raise ValueError("bad omega")
    solve = sla.spsolve_triangular
    A = sp.csr_array(A)
    d = A.diagonal()
    lower = sp.csr_array(sp.tril(A, -1) * omega + sp.diags_array(d))
    upper = sp.csr_array(sp.triu(A, 1) * omega + sp.diags_array(d))
    return sla.LinearOperator(A.shape, dtype=float, matvec=lambda r: omega * (2 - omega) * solve(
        upper, d * solve(lower, np.ravel(r), lower=True), lower=False))


@pytest.mark.parametrize("case", SSOR_CASES)
def test_check_ssor_accepts_correct_solutions(case, capsys):
    check_ssor_preconditioner(ssor_student, **case)
    check_ssor_preconditioner(ssor_dense, **case)
    check_ssor_preconditioner(ssor_closure, **case)
    assert "\u2713 ssor_preconditioner" in capsys.readouterr().out


SSOR_MISTAKES = [  # (the student's mistake, what the message says, its code)
    ("no factor", "omega \\(2 - omega\\) is missing", "missing_factor"),
    ("no D", "diagonal scaling between the two sweeps is missing", "missing_D"),
    ("D inverse", "not by D\\^\\{-1\\}", "D_inverse"),
    ("swapped", "wrong order", "sweeps_swapped"),
    ("omega ignored", "omega is ignored", "omega_ignored"),
    ("plain omega", "omega multiplies the off-diagonal parts", "omega_not_in_triangles"),
    ("mixed form", "omega\\^2 times too large", "omega_form_mixed"),
    ("diagonal twice", "the diagonal twice", "diagonal_counted_twice"),
    ("upper from lower", "transpose of the forward one", "upper_from_lower"),
    ("forward only", "one triangular solve", "single_sweep"),
    ("applies M", "multiplies r by M_SSOR", "applies_M"),
    ("explicit", "no triangular solve", "explicit_inverse"),
    ("dense", "explicit inverse", "returns_matrix"),
    ("no check", "should raise ValueError", "omega_not_checked"),
    ("endpoints", "the interval is open", "omega_endpoints_allowed"),
    ("sparse only", "when A is a dense array", "sparse_only"),
    ("dense only", "when A is a scipy.sparse matrix", "dense_only"),
    ("three solves", "exactly two", None),
]


@pytest.mark.parametrize("mistake, message, code", SSOR_MISTAKES)
def test_check_ssor_names_the_mistake(mistake, message, code):
    with pytest.raises(WrongAnswer, match=message) as failed:
        check_ssor_preconditioner(lambda A, omega=1.0: ssor_student(A, omega, mistake))
    assert codes_of(failed.value) == ((f"05.ssor_preconditioner.{code}",) if code else ())


def test_check_ssor_names_a_missing_upper_bound_on_omega_for_what_it_is():
    def lower_bound_only(A, omega=1.0):
        if omega <= 0:
            raise ValueError(f"omega = {omega} <= 0")
        return ssor_student(A, omega, "no check")

    # Not the closed interval [0, 2] (omega_endpoints_allowed): 2.5 is accepted too.
    with pytest.raises(WrongAnswer, match="omega = 2 is outside") as failed:
        check_ssor_preconditioner(lower_bound_only)
    assert codes_of(failed.value) == ()


def test_check_ssor_wants_the_default_omega_of_one():
    with pytest.raises(WrongAnswer, match="the default is omega=1.0") as failed:
        check_ssor_preconditioner(lambda A, omega=1.5: ssor_student(A, omega))
    assert codes_of(failed.value) == ("05.ssor_preconditioner.default_omega",)


@pytest.mark.parametrize("mistake", ["np.inv", "spsolve"])
def test_check_ssor_refuses_explicit_inverses_and_direct_solves(mistake):
    with pytest.raises(NotAllowedError) as refused:
        check_ssor_preconditioner(lambda A, omega=1.0: ssor_student(A, omega, mistake))
    # The refusal says what the exercise is made of, and does not forbid the
    # triangular solves it asks for (the generic advice, "only products A @ v",
    # would).
    message = str(refused.value)
    assert "triangular solves" in message and "allowed" in message
    assert "A @ v" not in message
    with pytest.raises(NotAllowedError):
        check_ssor_preconditioner(lambda A, omega=1.0: precond.ssor(A, omega))


def test_each_exercise_refuses_in_its_own_words():
    def pcg_with_scipy(A, b, x0=None, **kw):
        return sla.cg(A, b)[0], [0.0]

    def jacobi_with_inverse(A):
        return np.linalg.inv(np.diag(sp.csr_array(A).diagonal()))

    def ichol0_with_cholesky(A):
        return np.linalg.cholesky(A.toarray())

    for check, cheat, words in [
            (check_pcg, pcg_with_scipy, "applications M @ r"),
            (check_jacobi_preconditioner, jacobi_with_inverse, "diagonal of A"),
            (check_ichol0, ichol0_with_cholesky, "IC(0) formulas"),
            (check_mic0, ichol0_with_cholesky, "MIC(0) formulas")]:
        with pytest.raises(NotAllowedError, match="is not allowed in this exercise") as refused:
            check(cheat)
        assert words in str(refused.value)


def test_check_ssor_sees_a_block_solve_at_application_time():
    def blocky(A, omega=1.0):
        A = sp.csr_array(A)
        d = A.diagonal()
        lower = sp.csr_array(sp.diags_array(d) + omega * sp.tril(A, -1))
        upper = sp.csr_array(sp.diags_array(d) + omega * sp.triu(A, 1))
        n = A.shape[0]
        return sla.LinearOperator(A.shape, dtype=float, matvec=lambda r: omega * (2 - omega) * (
            spsolve_both(upper, lower, d, np.eye(n)) @ r))

    with pytest.raises(WrongAnswer, match="right-hand side of shape"):
        check_ssor_preconditioner(blocky)


def test_check_ssor_leaves_scipy_as_it_found_it():
    before = (sla.spsolve_triangular, sl.solve_triangular, sla.spsolve, np.linalg.inv)
    check_ssor_preconditioner(ssor_student)
    with pytest.raises(WrongAnswer):
        check_ssor_preconditioner(lambda A, omega=1.0: ssor_student(A, omega, "swapped"))
    assert (sla.spsolve_triangular, sl.solve_triangular, sla.spsolve, np.linalg.inv) == before


# ---------------------------------------------------------------- ichol0

def ichol0_student(A, mistake=None):
    if mistake == "mutate":
        A.data[:] *= 1.0 + 1e-3
    L = np.tril(sp.csr_array(A).toarray())
    n = L.shape[0]
    pattern = L != 0
    if mistake in ("complete", "drop after"):
        pattern = np.tril(np.ones((n, n), dtype=bool))
    for k in range(n):
        if mistake != "no check" and L[k, k] <= 0:
            raise ValueError(f"pivot {L[k, k]} <= 0 at column {k}")
        rows = k + 1 + np.flatnonzero(pattern[k + 1:, k])
        if mistake == "divide before sqrt":
            L[rows, k] /= L[k, k]
        if mistake != "sqrt never":
            L[k, k] = np.sqrt(L[k, k])
        if mistake != "divide before sqrt":
            L[rows, k] /= L[k, k]
        for j in rows if mistake != "no updates" else ():
            if mistake == "diagonal only":
                L[j, j] -= L[j, k] ** 2
                continue
            i = rows[rows >= j]
            if mistake != "fill":
                i = i[pattern[i, j]]
            L[i, j] -= L[i, k] * L[j, k]
    if mistake == "drop after":
        L[np.tril(sp.csr_array(A).toarray()) == 0] = 0.0
    if mistake == "upper":
        return sp.csr_array(L.T)
    if mistake == "unit":
        return sp.csr_array(L / np.diag(L))
    if mistake == "no sqrt":
        L[np.diag_indices(n)] **= 2
    if mistake == "product":
        return sp.csr_array(L @ L.T)
    return sp.csr_array(L)


def ichol0_left_looking(A):
    """Another correct IC(0): column by column from the left, on a dense copy."""
    A = sp.csc_array(A)
    n = A.shape[0]
    pattern = np.tril(A.toarray()) != 0
    L = np.zeros((n, n))
    a = A.toarray()
    for j in range(n):
        pivot = a[j, j] - L[j, :j] @ L[j, :j]
        if not pivot > 0:
            raise ValueError(f"IC(0) breaks down at column {j}")
        L[j, j] = np.sqrt(pivot)
        below = j + 1 + np.flatnonzero(pattern[j + 1:, j])
        L[below, j] = (a[below, j] - L[below, :j] @ L[j, :j]) / L[j, j]
    return L  # dense is accepted


@pytest.mark.parametrize("case", IC_CASES)
def test_check_ichol0_accepts_correct_solutions(case, capsys):
    check_ichol0(ichol0_student, **case)
    check_ichol0(ichol0_left_looking, **case)
    assert "\u2713 ichol0" in capsys.readouterr().out


IC_MISTAKES = [  # (the student's mistake, what the message says, its code)
    ("complete", "complete Cholesky factor, with fill-in", "complete_cholesky"),
    ("drop after", "cut off afterwards", "fill_dropped_afterwards"),
    ("fill", "allows no fill-in", "fill_in"),
    ("diagonal only", "only the pivots L_jj receive the updates", "diagonal_updates_only"),
    ("no updates", "never subtracted", "no_updates"),
    ("upper", "upper triangular factor", "upper_factor"),
    ("product", "returned the product M = L L\\^T", "returns_product"),
    ("unit", "unit diagonal", "unit_diagonal"),
    ("no sqrt", "square root", "no_sqrt"),
    ("sqrt never", "square root", "no_sqrt"),
    ("divide before sqrt", "divided by the pivot before its square root", "divide_before_sqrt"),
    ("no check", "IC\\(0\\) breaks down .* returned a factor", "no_breakdown_check"),
    ("mutate", "changed the matrix A", None),
]


@pytest.mark.parametrize("mistake, message, code", IC_MISTAKES)
def test_check_ichol0_names_the_mistake(mistake, message, code):
    with pytest.raises(WrongAnswer, match=message) as failed, np.errstate(invalid="ignore"):
        check_ichol0(lambda A: ichol0_student(A, mistake))
    assert codes_of(failed.value) == ((f"05.ichol0.{code}",) if code else ())


def test_check_ichol0_refuses_cholesky_and_the_reference():
    def with_numpy(A):
        L = np.linalg.cholesky(A.toarray())
        return sp.csr_array(np.where(A.toarray() != 0, L, 0.0))

    with pytest.raises(NotAllowedError):
        check_ichol0(with_numpy)
    with pytest.raises(NotAllowedError):
        check_ichol0(lambda A: precond.ichol0(A).L)
    with pytest.raises(WrongAnswer, match="factor L alone"):
        check_ichol0(lambda A: (ichol0_student(A), None))


def ichol0_refusing(A, refuse):
    """IC(0) that raises only for the pivots ``refuse(pivot)`` picks out."""
    L = np.tril(sp.csr_array(A).toarray())
    pattern = L != 0
    for k in range(L.shape[0]):
        if refuse(L[k, k]):
            raise ValueError(f"pivot {L[k, k]} at column {k}")
        L[k, k] = np.sqrt(L[k, k])
        rows = k + 1 + np.flatnonzero(pattern[k + 1:, k])
        L[rows, k] /= L[k, k]
        for j in rows:
            i = rows[rows >= j]
            i = i[pattern[i, j]]
            L[i, j] -= L[i, k] * L[j, k]
    return sp.csr_array(L)


def test_check_ichol0_wants_zero_and_negative_pivots_refused():
    # Refuses a zero pivot but takes the square root of a negative one.
    with pytest.raises(WrongAnswer, match="Kershaw") as failed, np.errstate(invalid="ignore"):
        check_ichol0(lambda A: ichol0_refusing(A, lambda pivot: pivot == 0))
    assert codes_of(failed.value) == ("05.ichol0.negative_pivot_allowed",)
    # Refuses a negative pivot, but not a zero one (`<` where `<=` is needed).
    with pytest.raises(WrongAnswer, match="zero included") as failed:
        check_ichol0(lambda A: ichol0_refusing(A, lambda pivot: pivot < 0))
    assert codes_of(failed.value) == ("05.ichol0.zero_pivot_allowed",)
    check_ichol0(lambda A: ichol0_refusing(A, lambda pivot: pivot <= 0))


@pytest.mark.parametrize("A, pivot", [(KERSHAW, "-5"), (ZERO_PIVOT, "0")])
def test_the_breakdown_examples_are_spd_and_break_ic0(A, pivot):
    # SPD, as the exercise's contract requires of A ...
    np.testing.assert_array_equal(A, A.T)
    assert np.linalg.eigvalsh(A).min() > 0.1
    # ... and yet IC(0) meets a pivot that is not positive, in its last column.
    with pytest.raises(ValueError, match=f"pivot {pivot} at column 3 is not positive"):
        precond.ichol0(A)


# ---------------------------------------------------------------- mic0

def mic0_student(A, mistake=None, refuse=lambda pivot: pivot <= 0):
    """A student's MIC(0) (right-looking, on a dense copy), with one mistake."""
    L = np.tril(sp.csr_array(A).toarray())
    n = L.shape[0]
    pattern = L != 0
    if mistake == "complete":
        pattern = np.tril(np.ones((n, n), dtype=bool))
    lost = np.zeros(n)
    for k in range(n):
        if mistake != "no check" and refuse(L[k, k]):
            raise ValueError(f"pivot {L[k, k]} at column {k}")
        L[k, k] = np.sqrt(L[k, k])
        rows = k + 1 + np.flatnonzero(pattern[k + 1:, k])
        L[rows, k] /= L[k, k]
        for j in rows:
            for i in rows[rows >= j]:
                update = L[i, k] * L[j, k]
                if pattern[i, j]:
                    L[i, j] -= update
                    continue
                if mistake == "drop":
                    continue
                if mistake == "after":
                    lost[i] += update
                    lost[j] += update
                    continue
                weight = {"sign": -1.0, "twice": 2.0}.get(mistake, 1.0)
                if mistake != "column":
                    L[i, i] -= weight * update
                if mistake != "row":
                    L[j, j] -= weight * update
    if mistake == "after":
        L[np.diag_indices(n)] = np.sqrt(np.diag(L) ** 2 - lost)
    if mistake == "upper":
        return sp.csr_array(L.T)
    return sp.csr_array(L)


def mic0_left_looking(A):
    """Another correct MIC(0): column by column from the left, on a dense copy,
    the dropped fill of each pair of rows collected as it arises."""
    a = sp.csr_array(A).toarray()
    n = a.shape[0]
    pattern = a != 0
    L = np.zeros((n, n))
    for j in range(n):
        # Fill that columns k < j drop in row j: (L L^T)_ji off the pattern, i != j.
        S = L[:, :j] @ L[j, :j]
        dropped = np.sum(S[~pattern[:, j]])
        pivot = a[j, j] - L[j, :j] @ L[j, :j] - dropped
        if not pivot > 0:
            raise ValueError(f"MIC(0) breaks down at column {j}")
        L[j, j] = np.sqrt(pivot)
        below = j + 1 + np.flatnonzero(pattern[j + 1:, j])
        L[below, j] = (a[below, j] - L[below, :j] @ L[j, :j]) / L[j, j]
    return L  # dense is accepted


@pytest.mark.parametrize("case", MIC_CASES)
def test_check_mic0_accepts_correct_solutions(case, capsys):
    check_mic0(mic0_student, **case)
    check_mic0(mic0_left_looking, **case)
    assert "\u2713 mic0" in capsys.readouterr().out


MIC_MISTAKES = [  # (the student's mistake, what the message says, its code)
    ("drop", "this is the IC\\(0\\) factor", "fill_dropped"),
    ("row", "pivot of row i only", "compensate_row_only"),
    ("column", "pivot of column j only", "compensate_column_only"),
    ("sign", "added to the pivots", "compensation_sign"),
    ("twice", "twice the fill", "compensation_doubled"),
    ("after", "after the factorisation", "compensated_afterwards"),
    ("complete", "complete Cholesky factor", "complete_cholesky"),
    ("no check", "MIC\\(0\\) breaks down .* returned a factor", "no_breakdown_check"),
    ("upper", "upper triangular factor", None),
]


@pytest.mark.parametrize("mistake, message, code", MIC_MISTAKES)
def test_check_mic0_names_the_mistake(mistake, message, code):
    with pytest.raises(WrongAnswer, match=message) as failed, \
            np.errstate(invalid="ignore", divide="ignore"):
        check_mic0(lambda A: mic0_student(A, mistake))
    assert codes_of(failed.value) == ((f"05.mic0.{code}",) if code else ())


def test_check_mic0_names_a_breakdown_that_mic0_does_not_have():
    # Twice the compensation drives a pivot of poisson2d(6) below zero: the
    # student's own ValueError is then the symptom, named.
    with pytest.raises(WrongAnswer, match="raised ValueError .* has positive pivots") as failed:
        check_mic0(lambda A: mic0_student(A, "twice"), m=6)
    assert codes_of(failed.value) == ("05.mic0.compensation_doubled",)


def test_check_mic0_wants_zero_and_negative_pivots_refused():
    with pytest.raises(WrongAnswer, match="-1") as failed, np.errstate(invalid="ignore"):
        check_mic0(lambda A: mic0_student(A, refuse=lambda pivot: pivot == 0))
    assert codes_of(failed.value) == ("05.mic0.negative_pivot_allowed",)
    with pytest.raises(WrongAnswer, match="zero included") as failed:
        check_mic0(lambda A: mic0_student(A, refuse=lambda pivot: pivot < 0))
    assert codes_of(failed.value) == ("05.mic0.zero_pivot_allowed",)


def test_check_mic0_refuses_the_library_and_other_outputs():
    with pytest.raises(NotAllowedError):
        check_mic0(lambda A: precond.mic0(A).L)
    with pytest.raises(NotAllowedError):
        check_mic0(lambda A: precond.ichol0(A).L)
    with pytest.raises(WrongAnswer, match="factor L alone"):
        check_mic0(lambda A: (mic0_student(A), None))
    with pytest.raises(WrongAnswer, match="mic0 changed the matrix A"):
        check_mic0(mic0_in_place)


def mic0_in_place(A):
    A.data[:] *= 1.001          # scales the caller's matrix
    return mic0_student(A)


@pytest.mark.parametrize("A, pivot", [(MIC_ZERO_PIVOT, 0.0), (MIC_NEGATIVE_PIVOT, -1.0)])
def test_the_mic0_breakdown_examples_are_spd_m_matrices_that_ic0_factors(A, pivot):
    np.testing.assert_array_equal(A, A.T)
    assert np.linalg.eigvalsh(A).min() > 1.0
    assert np.all(A[~np.eye(4, dtype=bool)] <= 0)
    assert precond.ichol0(A).L.diagonal().min() > 1.0
    with pytest.raises(ValueError, match=f"pivot {pivot:g} at column 3"):
        precond.mic0(A)
    with pytest.raises(ValueError, match="breaks down at column 3"):
        mic0_left_looking(A)


# ---------------------------------------------------------------- the catalogue

def test_every_catalogued_misconception_is_named_by_a_test_here():
    """Each code of MISCONCEPTIONS is the one a test above asserts for a wrong
    implementation of its own (not the catalogue's patches of the solution, which
    ``scripts/misconceptions.py`` grades): the checks name every entry."""
    asserted = {f"05.{exercise}.{code}" for exercise, table in [
        ("pcg", PCG_MISTAKES), ("jacobi_preconditioner", JACOBI_MISTAKES),
        ("ssor_preconditioner", SSOR_MISTAKES), ("ichol0", IC_MISTAKES),
        ("mic0", MIC_MISTAKES)]
        for _, _, code in table if code}
    # Asserted in their own tests above.
    asserted |= {"05.pcg.default_tolerances", "05.ssor_preconditioner.default_omega",
                 "05.ichol0.zero_pivot_allowed", "05.ichol0.negative_pivot_allowed",
                 "05.mic0.zero_pivot_allowed", "05.mic0.negative_pivot_allowed"}
    assert asserted == set(MISCONCEPTIONS)
    for code, (description, section) in MISCONCEPTIONS.items():
        assert description and "\n" not in description and section, code


# ---------------------------------------------------------------- use_own

def test_use_own_falls_back_to_the_references(capsys):
    p = poisson2d(8)
    pcg = use_own(None, name="pcg")
    x, norms = pcg(p.A, p.b, rtol=1e-10, M=use_own(None, name="jacobi_preconditioner")(p.A))
    assert np.linalg.norm(p.A @ x - p.b) <= 1e-9 * np.linalg.norm(p.b) and norms[0] > 0
    M = use_own(None, name="ssor_preconditioner")(p.A, 1.2)
    np.testing.assert_allclose(M @ p.b, precond.ssor(p.A, 1.2) @ p.b)
    L = use_own(None, name="ichol0")(p.A)
    np.testing.assert_allclose(L.toarray(), precond.ichol0(p.A).L.toarray())
    L = use_own(None, name="mic0")(p.A)
    np.testing.assert_allclose(L.toarray(), precond.mic0(p.A).L.toarray())
    assert capsys.readouterr().out.count("using krylov_ref's") == 5
