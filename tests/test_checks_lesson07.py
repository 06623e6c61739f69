"""Checks of lesson 07: right answers pass (two different correct
implementations each, on the visible and the hidden parameters), each typical
wrong answer is rejected with a message naming the mistake, and library
shortcuts are refused."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse.linalg import LinearOperator
from scipy.special import expit

import krylov_ref
from krylov_ref.checks import NotAllowedError, WrongAnswer
from krylov_ref.checks.lesson07 import (check_hvp_fd, check_logistic_hvp, check_newton_cg,
                                        check_newton_cg_more, check_truncated_cg)

# The parameters of the notebook's visible and hidden tests.
LOGISTIC_CASES = [{}, dict(m=150, n=9, lam=0.02, seed=11), dict(m=30, n=2, lam=1.0, seed=5)]
FD_CASES = [{}, dict(n=11, seed=21, v_scale=1000.0), dict(n=3, seed=8, v_scale=0.001)]
TCG_CASES = [{}, dict(n=60, cond=1000.0, seed=13), dict(n=8, cond=10.0, seed=2)]
NEWTON_CASES = [{}, dict(m=500, n=25, lam=1e-4, seed=17)]
NEWTON_MORE_CASES = [{}, dict(m=120, hidden=8, seed=3, rosen_n=6)]


# ---------------------------------------------------------------- logistic_hvp

def logistic_student(X, w, v, lam=0.0, *, mistake=None, stacked=False):
    m = X.shape[0]
    if stacked:  # one block product for X w and X v (counts two)
        Z = X @ np.column_stack([w, v])
        z, Xv = Z[:, 0], Z[:, 1]
    else:
        z, Xv = X @ w, X @ v
    s = 1.0 / (1.0 + np.exp(-np.clip(z, -500, 500))) if stacked else expit(z)
    D = s * (1 - s)
    if mistake == "no-mean":
        return X.T @ (D * Xv) + lam * v
    if mistake == "no-lam":
        return X.T @ (D * Xv) / m
    if mistake == "half-lam":
        return X.T @ (D * Xv) / m + 0.5 * lam * v
    if mistake == "sigma":
        return X.T @ (s * Xv) / m + lam * v
    if mistake == "quarter":
        return X.T @ (0.25 * Xv) / m + lam * v
    if mistake == "at-v":
        s2 = expit(Xv)
        return X.T @ (s2 * (1 - s2) * Xv) / m + lam * v
    if mistake == "in-place":
        w[0] = w[0] + 1e-3
        return X.T @ (D * Xv) / m + lam * v
    return X.T @ (D * Xv) / m + lam * v


def logistic_forms_hessian(X, w, v, lam=0.0):
    m, n = X.shape
    s = expit(X @ w)
    Xd = X @ np.eye(n)                     # the whole matrix, n products
    H = Xd.T @ (Xd * (s * (1 - s))[:, None]) / m + lam * np.eye(n)
    return H @ v


@pytest.mark.parametrize("case", LOGISTIC_CASES)
def test_check_logistic_hvp_accepts_correct_solutions(case, capsys):
    check_logistic_hvp(logistic_student, **case)
    check_logistic_hvp(lambda X, w, v, lam=0.0: logistic_student(X, w, v, lam, stacked=True), **case)
    assert "\u2713 logistic_hvp" in capsys.readouterr().out


@pytest.mark.parametrize("mistake, message", [
    ("no-mean", "not averaged"),
    ("no-lam", "lam v is missing"),
    ("half-lam", "not lam v / 2"),
    ("sigma", r"sigma\(z\) \(1 - sigma\(z\)\)"),
    ("quarter", "1/4"),
    ("at-v", "z = X v"),
    ("in-place", "in place"),
])
def test_check_logistic_hvp_names_the_mistake(mistake, message):
    with pytest.raises(WrongAnswer, match=message):
        check_logistic_hvp(lambda X, w, v, lam=0.0: logistic_student(X, w, v, lam, mistake=mistake))


def test_check_logistic_hvp_catches_the_default_forming_h_and_overflow():
    with pytest.raises(WrongAnswer, match="default is lam = 0"):
        check_logistic_hvp(lambda X, w, v, lam=0.1: logistic_student(X, w, v, lam))
    with pytest.raises(WrongAnswer, match="products with X"):
        check_logistic_hvp(logistic_forms_hessian)

    def overflowing(X, w, v, lam=0.0):
        z = X @ w
        e = np.exp(z)                       # inf for large z: inf / inf = NaN
        D = e / (1 + e) ** 2
        return X.T @ (D * (X @ v)) / X.shape[0] + lam * v
    with pytest.raises(WrongAnswer, match="NaN|large"):
        check_logistic_hvp(overflowing)
    with pytest.raises(WrongAnswer, match="shape"):
        check_logistic_hvp(lambda X, w, v, lam=0.0: logistic_student(X, w, v, lam)[:-1])


def test_check_logistic_hvp_refuses_the_library():
    def library(X, w, v, lam=0.0):
        return krylov_ref.LogisticRegression(np.eye(2), np.zeros(2)).hessp(w, v)
    with pytest.raises(NotAllowedError):
        check_logistic_hvp(library)


# ---------------------------------------------------------------- hvp_fd

def fd_student(grad, x, v, eps=None, *, mistake=None, cbrt=False):
    nv = np.linalg.norm(v)
    if mistake != "no-zero" and nv == 0:
        return np.zeros_like(x, dtype=float)
    u = np.finfo(float).eps
    if eps is None or mistake == "ignore-eps":
        third = np.cbrt(u) if cbrt else u ** (1 / 3)
        if mistake == "unscaled":
            eps = third
        elif mistake == "sqrt":
            eps = np.sqrt(u) * (1 + np.linalg.norm(x)) / nv
        elif mistake == "no-one":
            eps = third * np.linalg.norm(x) / nv if np.linalg.norm(x) else third / nv
        else:
            eps = third * (1 + np.linalg.norm(x)) / nv
    if mistake == "forward":
        return (grad(x + eps * v) - grad(x)) / eps
    if mistake == "one-eps":
        return (grad(x + eps * v) - grad(x - eps * v)) / eps
    if mistake == "sign":
        return (grad(x - eps * v) - grad(x + eps * v)) / (2 * eps)
    if mistake == "in-place":
        x += eps * v
        gp = grad(x)
        x -= 2 * eps * v
        gm = grad(x)
        return (gp - gm) / (2 * eps)
    return (grad(x + eps * v) - grad(x - eps * v)) / (2 * eps)


@pytest.mark.parametrize("case", FD_CASES)
def test_check_hvp_fd_accepts_correct_solutions(case, capsys):
    check_hvp_fd(fd_student, **case)
    check_hvp_fd(lambda grad, x, v, eps=None: fd_student(grad, x, v, eps, cbrt=True), **case)
    assert "\u2713 hvp_fd" in capsys.readouterr().out


@pytest.mark.parametrize("mistake, message", [
    ("forward", "one-sided"),
    ("one-eps", "2 eps"),
    ("sign", "wrong sign"),
    ("unscaled", r"eps_mach\^\(1/3\) whatever v"),
    ("sqrt", "sqrt"),
    ("no-one", "default step"),
    ("ignore-eps", "eps=.* given"),
    ("no-zero", "v = 0|NaN"),
    ("in-place", "in place"),
])
def test_check_hvp_fd_names_the_mistake(mistake, message):
    with pytest.raises(WrongAnswer, match=message):
        check_hvp_fd(lambda grad, x, v, eps=None: fd_student(grad, x, v, eps, mistake=mistake))


def test_check_hvp_fd_catches_extra_gradients_and_the_library():
    def three_calls(grad, x, v, eps=None):
        grad(x + 1.0)
        return fd_student(grad, x, v, eps)
    with pytest.raises(WrongAnswer, match="3 times|one-sided"):
        check_hvp_fd(three_calls)

    def zero_calls_grad(grad, x, v, eps=None):
        if not np.any(v):
            grad(x)
            return np.zeros_like(x)
        return fd_student(grad, x, v, eps)
    with pytest.raises(WrongAnswer, match="without any gradient"):
        check_hvp_fd(zero_calls_grad)
    with pytest.raises(NotAllowedError):
        check_hvp_fd(lambda grad, x, v, eps=None: krylov_ref.hvp_fd(grad, x, v, eps))


# ---------------------------------------------------------------- truncated_cg

def tcg_student(H, g, *, rtol=0.5, atol=0.0, maxiter=None, mistake=None, variant="standard"):
    n = g.shape[0]
    maxiter = n if (maxiter is None and mistake != "maxiter-10n") else (10 * n if maxiter is None else maxiter)
    d = np.zeros(n)
    r = g.copy() if mistake != "in-place" else g
    p = -r if mistake != "plus-g" else r.copy()
    rr = r @ r
    norms = [np.sqrt(rr)]
    tol = max(rtol * norms[0], atol) if mistake != "no-atol" else rtol * norms[0]
    if mistake == "sum-tol":
        tol = rtol * norms[0] + atol
    for j in range(maxiter):
        if mistake != "test-after" and norms[-1] <= tol:
            break
        q = H @ p
        curvature = p @ q
        if (curvature < 0 if mistake == "strict" else curvature <= 0):
            if mistake == "zero-first":
                return d, norms, True
            if mistake == "always-minus-g":
                return -g, norms, True
            if mistake == "step-anyway":
                return d + (rr / abs(curvature)) * p, norms, True
            if mistake == "return-p" and j > 0:
                return p, norms, True
            return (-g if j == 0 else d), norms, True
        alpha = (-(r @ p) if variant == "hs" else rr) / curvature
        if mistake == "alpha-pTp":
            alpha = rr / (p @ p)
        d = d + alpha * p
        if mistake == "r-minus":
            r = r - alpha * q
        elif mistake == "in-place":
            r += alpha * q
        else:
            r = r + alpha * q
        rr_new = r @ r
        norms.append(np.sqrt(rr_new))
        if mistake == "test-after" and norms[-1] <= tol:
            break
        beta = rr_new / rr if mistake != "beta-inverted" else rr / rr_new
        p = -r + beta * p
        rr = rr_new
    return d, norms, False if mistake != "int-flag" else 0


def tcg_inplace(H, g, *, rtol=0.5, atol=0.0, maxiter=None):
    """A correct variant: in-place updates, norms by np.linalg.norm, a while loop."""
    n = len(g)
    maxiter = n if maxiter is None else maxiter
    d, r = np.zeros(n), np.array(g, dtype=float)
    p = -r
    norms = [np.linalg.norm(r)]
    tol = max(rtol * norms[0], atol)
    steps = 0
    while norms[-1] > tol and steps < maxiter:
        q = H @ p
        steps += 1
        pq = float(p @ q)
        if pq <= 0.0:
            return (-np.array(g, dtype=float) if steps == 1 else d), norms, True
        alpha = norms[-1] ** 2 / pq
        d += alpha * p
        r += alpha * q
        norms.append(np.linalg.norm(r))
        p *= (norms[-1] / norms[-2]) ** 2
        p -= r
    return d, norms, False


@pytest.mark.parametrize("case", TCG_CASES)
def test_check_truncated_cg_accepts_correct_solutions(case, capsys):
    check_truncated_cg(tcg_student, **case)
    check_truncated_cg(tcg_inplace, **case)
    assert "\u2713 truncated_cg" in capsys.readouterr().out


@pytest.mark.parametrize("mistake, message", [
    ("plus-g", r"H d = \+g|residual norm after step"),
    ("strict", r"p\^T H p <= 0, not < 0"),
    ("zero-first", "steepest-descent direction -g"),
    ("always-minus-g", "-g is only"),
    ("step-anyway", r"return -g|last iterate"),
    ("alpha-pTp", "residual norm after step"),
    ("r-minus", "residual norm after step"),
    ("beta-inverted", "residual norm after step"),
    ("test-after", "g = 0|CG steps"),
    ("no-atol", "CG steps"),
    ("sum-tol", r"max\(rtol \|\|g\|\|, atol\), the larger of the two tolerances, not their sum"),
    ("return-p", r"the direction p is returned: .* return the last iterate d"),
    ("maxiter-10n", "default maxiter"),
    ("in-place", "in place"),
    ("int-flag", "True or False"),
])
def test_check_truncated_cg_names_the_mistake(mistake, message):
    with pytest.raises(WrongAnswer, match=message):
        check_truncated_cg(lambda H, g, **kw: tcg_student(H, g, mistake=mistake, **kw))


def test_check_truncated_cg_counts_products_and_refuses_the_library():
    def two_products(H, g, **kw):
        d, norms, neg = tcg_student(H, g, **kw)
        for _ in range(len(norms)):
            H @ g
        return d, norms, neg
    with pytest.raises(WrongAnswer, match="products with H"):
        check_truncated_cg(two_products)
    with pytest.raises(NotAllowedError):
        check_truncated_cg(lambda H, g, **kw: krylov_ref.newton.truncated_cg(H, g, **kw))
    with pytest.raises(WrongAnswer, match="tuple"):
        check_truncated_cg(lambda H, g, **kw: tcg_student(H, g, **kw)[0])


# ---------------------------------------------------------------- newton_cg

def newton_student(fun, grad, x0, *, hessp, gtol=1e-6, maxiter=100, mistake=None,
                   operator="linear"):
    x = np.array(x0, dtype=float) if mistake != "in-place" else x0
    n = x.shape[0]
    f, g = fun(x), grad(x)
    norms = [np.linalg.norm(g)]
    eta = 0.9
    for k in range(maxiter + (1 if mistake == "maxiter+1" else 0)):
        if norms[-1] <= gtol:
            break
        if mistake == "constant-eta":
            eta = 0.5
        elif k > 0:
            new = 0.9 * (norms[-1] / norms[-2]) ** 2
            if mistake != "no-safeguard" and 0.9 * eta ** 2 > 0.1:
                new = max(new, 0.9 * eta ** 2)
            eta = new if mistake == "no-cap" else min(new, 0.9)
        if operator == "linear":
            H = LinearOperator((n, n), matvec=lambda v: hessp(x, v))   # no dtype: one H 0
        else:
            class H:
                shape = (n, n)

                def __matmul__(self, v, x=x):
                    return hessp(x, v)
            H = H()
        atol = 0.0 if mistake == "no-floor" else gtol / 2
        d, _, _ = tcg_student(H, g, rtol=eta, atol=atol)
        slope = g @ d
        if slope >= 0:
            d, slope = -g, -(g @ g)
        t = 1.0
        if mistake != "no-line-search":
            for _ in range(60):
                f_new = fun(x + t * d)
                if mistake == "simple-decrease":
                    if f_new < f:
                        break
                elif mistake == "no-strict-decrease":
                    if f_new <= f + 1e-4 * t * slope:
                        break
                elif mistake == "c1-over-t":
                    if f_new < f and f_new <= f + 1e-4 / t * slope:
                        break
                elif mistake == "fun-twice":       # the trial value computed twice
                    if fun(x + t * d) < f and f_new <= f + 1e-4 * t * slope:
                        break
                elif f_new < f and f_new <= f + 1e-4 * t * slope:
                    break
                t /= 2
            else:
                break
        else:
            f_new = fun(x + d)
        if mistake == "in-place":
            x += t * d
            f = f_new
        else:
            x, f = x + t * d, f_new
        if mistake == "refun":                 # f at the new point again: one call too many
            f = fun(x)
        g = grad(x)
        if mistake == "extra-grad":
            grad(x)
        norms.append(np.linalg.norm(g))
    return x, norms


@pytest.mark.parametrize("case", NEWTON_CASES)
def test_check_newton_cg_accepts_correct_solutions(case, capsys):
    check_newton_cg(newton_student, **case)
    check_newton_cg(lambda *a, **kw: newton_student(*a, operator="class", **kw), **case)
    assert "\u2713 newton_cg" in capsys.readouterr().out


@pytest.mark.parametrize("case", NEWTON_MORE_CASES)
def test_check_newton_cg_more_accepts_correct_solutions(case, capsys):
    check_newton_cg_more(newton_student, **case)
    check_newton_cg_more(lambda *a, **kw: newton_student(*a, operator="class", **kw), **case)
    assert "\u2713 newton_cg" in capsys.readouterr().out


@pytest.mark.parametrize("mistake, message", [
    ("constant-eta", "forcing term|hessp was called"),
    ("no-safeguard", "forcing term|hessp was called"),
    ("no-floor", "hessp was called|after Newton step"),
    ("simple-decrease", "c1 t g\\^T d"),
    ("no-line-search", "line search|c1 t"),
    ("extra-grad", "one gradient per accepted point"),
    ("no-strict-decrease", "no step length passes"),
    ("c1-over-t", "just passes"),
    ("maxiter+1", "maxiter=4"),
    ("refun", r"fun was called \d+ times .*exactly once at x0 and once per trial step"),
    ("fun-twice", r"fun was called \d+ times .*exactly once at x0 and once per trial step"),
    ("in-place", "in place"),
])
def test_check_newton_cg_names_the_mistake(mistake, message):
    with pytest.raises(WrongAnswer, match=message):
        check_newton_cg(lambda *a, **kw: newton_student(*a, mistake=mistake, **kw))


def test_check_newton_cg_more_catches_the_missing_cap():
    # eta > 0.9 only when the gradient grows: on the network and on Rosenbrock
    with pytest.raises(WrongAnswer, match="Newton step|hessp was called"):
        check_newton_cg_more(lambda *a, **kw: newton_student(*a, mistake="no-cap", **kw),
                             **NEWTON_MORE_CASES[1])


def test_check_newton_cg_reports_an_unanswered_inner_solve_and_refuses_the_library():
    def uses_unanswered(fun, grad, x0, *, hessp, gtol=1e-6, maxiter=100):
        return truncated_cg(None, None)

    def truncated_cg(H, g, **kw):
        raise NotImplementedError()
    with pytest.raises(WrongAnswer):
        check_newton_cg(uses_unanswered)

    def library(fun, grad, x0, *, hessp, gtol=1e-6, maxiter=100):
        res = krylov_ref.newton_cg(fun, grad, x0, hessp=hessp, gtol=gtol, maxiter=maxiter)
        return res.x, list(res.grad_norms)
    with pytest.raises(NotAllowedError):
        check_newton_cg(library)

    def scipy_minimize(fun, grad, x0, *, hessp, gtol=1e-6, maxiter=100):
        from scipy.optimize import minimize
        r = minimize(fun, x0, jac=grad, hessp=hessp, method="Newton-CG")
        return r.x, [np.linalg.norm(grad(r.x))]
    with pytest.raises(NotAllowedError):
        check_newton_cg(scipy_minimize)


# ---------------------------------------------------------------- the notebook's own solutions

def solution_functions():
    """The answer cells of solutions/07_newton_cg, run in the names the set-up cell imports."""
    from course import answer_code
    namespace = {"np": np, "expit": expit, "LinearOperator": LinearOperator}
    for source in answer_code("07_newton_cg").values():
        exec(compile(source, "<solution>", "exec"), namespace)
    return namespace


def test_the_notebook_solutions_pass_the_checks_that_catch_the_new_mistakes(capsys):
    # the later-negative-curvature, two-tolerance and fun-count checks accept the solution
    ns = solution_functions()
    for case in TCG_CASES:
        check_truncated_cg(ns["truncated_cg"], **case)
    for case in NEWTON_CASES:
        check_newton_cg(ns["newton_cg"], **case)
    out = capsys.readouterr().out
    assert out.count("\u2713 truncated_cg") == len(TCG_CASES)
    assert out.count("\u2713 newton_cg") == len(NEWTON_CASES)


@pytest.mark.parametrize("case", TCG_CASES)
def test_returning_p_at_a_later_negative_curvature_fails_on_every_case(case):
    with pytest.raises(WrongAnswer, match="return the last iterate d"):
        check_truncated_cg(lambda H, g, **kw: tcg_student(H, g, mistake="return-p", **kw), **case)


@pytest.mark.parametrize("case", TCG_CASES)
def test_summing_the_tolerances_fails_on_every_case(case):
    with pytest.raises(WrongAnswer, match="not their sum"):
        check_truncated_cg(lambda H, g, **kw: tcg_student(H, g, mistake="sum-tol", **kw), **case)
