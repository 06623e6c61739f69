"""Checks of lesson 07: right answers pass (two different correct
implementations each, on the visible and the hidden parameters), each typical
wrong answer is rejected with a message naming the mistake, and library
shortcuts are refused."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import rosen, rosen_der, rosen_hess_prod
from scipy.sparse.linalg import LinearOperator
from scipy.special import expit

import krylov_ref
from krylov_ref.checks import NotAllowedError, WrongAnswer, codes_of
from krylov_ref.checks import lesson07
from krylov_ref.checks.lesson07 import (check_hvp_fd, check_logistic_hvp, check_newton_cg,
                                        check_newton_cg_more, check_truncated_cg)
from krylov_ref.problems import random_spd

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
    ("no-atol", "atol is ignored"),
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


# ---------------------------------------------------------------- named misconceptions
# scripts/misconceptions.py grades a variant of the solution for every code of
# MISCONCEPTIONS; these tests name the same mistakes made by the independent
# implementations above (another way to write each), so that the checks recognise a
# mistake, not one way of writing it.

def named(check, func, **case):
    """The codes the check's failure names, after checking that it fits on a screen."""
    with pytest.raises(WrongAnswer) as failure:
        check(func, **case)
    assert len(failure.value._render_traceback_()) <= 12, str(failure.value)
    return codes_of(failure.value)


@pytest.mark.parametrize("mistake, code", [
    ("no-mean", "no_mean"), ("no-lam", "no_lam"), ("half-lam", "half_lam"), ("sigma", "d_sigma"),
    ("quarter", "d_quarter"), ("at-v", "d_at_v"), ("in-place", "in_place"),
])
def test_check_logistic_hvp_names_the_code(mistake, code):
    func = lambda X, w, v, lam=0.0: logistic_student(X, w, v, lam, mistake=mistake)  # noqa: E731
    assert named(check_logistic_hvp, func) == (f"07.logistic_hvp.{code}",)


def test_check_logistic_hvp_names_forming_the_hessian_and_the_overflow():
    assert named(check_logistic_hvp, logistic_forms_hessian) == ("07.logistic_hvp.forms_hessian",)

    def overflowing(X, w, v, lam=0.0):
        e = np.exp(X @ w)                   # inf for large logits: inf / inf = NaN
        D = e / (1 + e) ** 2
        return X.T @ (D * (X @ v)) / X.shape[0] + lam * v
    assert named(check_logistic_hvp, overflowing) == ("07.logistic_hvp.overflow",)


@pytest.mark.parametrize("mistake, code", [
    ("forward", "one_sided"), ("one-eps", "no_half"), ("sign", "sign"),
    ("unscaled", "step_unscaled"), ("sqrt", "step_sqrt"), ("no-one", "step_no_one"),
    ("ignore-eps", "ignores_eps"), ("no-zero", "v_zero_nan"), ("in-place", "in_place"),
])
def test_check_hvp_fd_names_the_code(mistake, code):
    func = lambda grad, x, v, eps=None: fd_student(grad, x, v, eps, mistake=mistake)  # noqa: E731
    assert named(check_hvp_fd, func) == (f"07.hvp_fd.{code}",)


@pytest.mark.parametrize("mistake, code", [
    ("plus-g", "p0_uphill"), ("strict", "strict_curvature"), ("zero-first", "zero_at_first"),
    ("always-minus-g", "always_minus_g"), ("step-anyway", "step_at_negative_curvature"),
    ("alpha-pTp", "alpha_pTp"), ("r-minus", "r_minus"), ("beta-inverted", "beta_inverted"),
    ("test-after", "test_after_step"), ("no-atol", "ignores_atol"), ("sum-tol", "sum_tol"),
    ("return-p", "returns_p"), ("maxiter-10n", "maxiter_default"), ("in-place", "in_place"),
])
def test_check_truncated_cg_names_the_code(mistake, code):
    func = lambda H, g, **kw: tcg_student(H, g, mistake=mistake, **kw)  # noqa: E731
    assert named(check_truncated_cg, func) == (f"07.truncated_cg.{code}",)


def test_check_truncated_cg_tells_a_strict_stopping_test_from_a_test_after_the_step():
    # both take a step for g = 0; with atol > 0 only the test after the step still does
    def strict(H, g, *, rtol=0.5, atol=0.0, maxiter=None):
        d, r, norms = np.zeros(g.size), np.array(g, dtype=float), [np.linalg.norm(g)]
        tol, p = max(rtol * norms[0], atol), -np.array(g, dtype=float)
        for j in range(g.size if maxiter is None else maxiter):
            if not norms[-1] < tol:
                q = H @ p
                if p @ q <= 0:
                    return (-g if j == 0 else d), norms, True
                alpha = norms[-1] ** 2 / (p @ q)
                d, r = d + alpha * p, r + alpha * q
                norms.append(np.linalg.norm(r))
                p = -r + (norms[-1] / norms[-2]) ** 2 * p
        return d, norms, False
    assert named(check_truncated_cg, strict) == ("07.truncated_cg.strict_stop",)


@pytest.mark.parametrize("mistake, code", [
    ("constant-eta", "eta_constant"), ("no-safeguard", "eta_no_safeguard"),
    ("no-floor", "floor_zero"), ("simple-decrease", "simple_decrease"),
    ("no-line-search", "no_line_search"), ("extra-grad", "extra_grad"),
    ("no-strict-decrease", "armijo_only"), ("c1-over-t", "c1_over_t"),
    ("maxiter+1", "maxiter_off_by_one"), ("refun", "refun"), ("fun-twice", "fun_twice"),
    ("in-place", "in_place"),
])
def test_check_newton_cg_names_the_code(mistake, code):
    func = lambda *a, **kw: newton_student(*a, mistake=mistake, **kw)  # noqa: E731
    assert named(check_newton_cg, func) == (f"07.newton_cg.{code}",)


def test_check_newton_cg_more_names_the_missing_cap():
    func = lambda *a, **kw: newton_student(*a, mistake="no-cap", **kw)  # noqa: E731
    assert named(check_newton_cg_more, func, **NEWTON_MORE_CASES[1]) == ("07.newton_cg.eta_no_cap",)


def test_two_mistakes_at_once_are_not_given_the_name_of_one():
    # a forcing term without its safeguard and an inner solve without its floor: neither
    # named mistake alone explains the run
    def two(fun, grad, x0, *, hessp, gtol=1e-6, maxiter=100):
        x = np.array(x0, dtype=float)
        f, g = fun(x), grad(x)
        norms = [np.linalg.norm(g)]
        for k in range(maxiter):
            if norms[-1] <= gtol:
                break
            eta = 0.9 if k == 0 else min(0.9 * (norms[-1] / norms[-2]) ** 2, 0.9)
            H = LinearOperator((x.size, x.size), matvec=lambda v: hessp(x, v), dtype=float)
            d, _, _ = tcg_student(H, g, rtol=eta, atol=0.0)
            t = 1.0
            for _ in range(60):
                f_new = fun(x + t * d)
                if f_new < f and f_new <= f + 1e-4 * t * (g @ d):
                    break
                t /= 2
            else:
                break
            x, f = x + t * d, f_new
            g = grad(x)
            norms.append(np.linalg.norm(g))
        return x, norms
    assert named(check_newton_cg, two) == ()


def test_the_boxes_that_name_mistakes_are_the_reference_without_a_mistake():
    """The checks name a mistake by running the algorithm box with it; without
    one, the box must be krylov_ref's to the last call, or a right answer's
    neighbour could be named as a mistake."""
    for case in TCG_CASES:
        prob = random_spd(case.get("n", 40), case.get("cond", 200.0), seed=case.get("seed", 3))
        for rtol in (0.5, 1e-3, 0.0):
            d, norms, negative = lesson07._tcg_box(prob.A, prob.b, rtol=rtol)
            ref = krylov_ref.newton.truncated_cg(prob.A, prob.b, rtol=rtol)
            assert np.allclose(norms, ref.residual_norms, rtol=1e-10) and not negative
            assert np.allclose(d, ref.d, rtol=1e-8, atol=1e-12 * np.abs(ref.d).max())
    f, g, hv, z0 = lesson07._logcosh_problem()
    model = lesson07._logistic_model(300, 12, 4, 1e-3)
    problems = [(model.loss, model.gradient, model.hessp, np.zeros(12), dict(gtol=1e-8)),
                (*lesson07._quartic_problem(36, 4), np.zeros(36), dict(gtol=1e-8)),
                (*lesson07._quartic_problem(36, 5), np.zeros(36), dict(gtol=1e-8)),
                (f, g, hv, z0, dict(gtol=1e-8)),
                (*lesson07._double_well(), np.array([0.1, 0.0]), dict(gtol=1e-8)),
                (rosen, rosen_der, rosen_hess_prod, np.array([-1.2, 1.0]), dict(maxiter=4))]
    for fun, grad, hessp, x0, kwargs in problems:
        ref = krylov_ref.newton_cg(fun, grad, x0, hessp=hessp, **kwargs)
        x, norms, nf, ng, nh = lesson07._newton_box(fun, grad, hessp, x0, **kwargs)
        assert np.allclose(norms, ref.grad_norms, rtol=1e-8, atol=1e-14)
        assert (nf, ng, nh) == (ref.nfev, ref.ngev, ref.nhev)



# ---------------------------------------------------------------- steihaug_cg

from krylov_ref.checks.lesson07 import check_steihaug_cg  # noqa: E402

STEIHAUG_CASES = [{}, dict(n=50, cond=1000.0, seed=21), dict(n=10, cond=10.0, seed=4)]


def steihaug_student(H, g, delta, *, rtol=0.5, atol=0.0, maxiter=None, mistake=None):
    """Another way to write it: the residual norm kept, the stable root, a while loop."""
    n = len(g)
    maxiter = n if maxiter is None else maxiter
    d, r = np.zeros(n), g.astype(float).copy()
    tol = rtol * np.linalg.norm(g) + atol if mistake == "sum-tol" else max(rtol * np.linalg.norm(g), atol)

    def to_boundary(d, p):
        pp, dp, gap = p @ p, d @ p, delta**2 - d @ d
        s = np.sqrt(dp**2 + pp * gap)
        if mistake == "negative-root":
            return d + (-dp - s) / pp * p
        if mistake == "from-zero":
            return d + delta / np.sqrt(pp) * p
        tau = gap / (dp + s) if dp > 0 else (s - dp) / pp
        return d + tau * p

    if np.linalg.norm(r) <= tol:
        return d, "converged"
    p = -r
    k = 0
    while k < maxiter:
        Hp = H @ p
        k += 1
        pHp = p @ Hp
        if pHp <= 0:
            if mistake == "stop-inside":
                return (d if k > 1 else -g), "negative curvature"
            return to_boundary(d, p), "negative curvature"
        alpha = (r @ r) / pHp
        if mistake != "no-boundary" and np.linalg.norm(d + alpha * p) >= delta:
            if mistake == "scale":
                d_out = d + alpha * p
                return delta * d_out / np.linalg.norm(d_out), "boundary"
            return to_boundary(d, p), "boundary"
        d = d + alpha * p
        r_new = r + alpha * Hp
        if np.linalg.norm(r_new) <= tol:
            return d, "converged"
        p = -r_new + (r_new @ r_new) / (r @ r) * p
        r = r_new
    return d, "maxiter"


@pytest.mark.parametrize("case", STEIHAUG_CASES)
def test_check_steihaug_cg_accepts_correct_solutions(case, capsys):
    check_steihaug_cg(steihaug_student, **case)
    check_steihaug_cg(solution_functions()["steihaug_cg"], **case)
    assert capsys.readouterr().out.count("\u2713 steihaug_cg") == 2


@pytest.mark.parametrize("mistake, code", [
    ("negative-root", "07.steihaug_cg.negative_root"),
    ("from-zero", "07.steihaug_cg.tau_ignores_d"),
    ("stop-inside", "07.steihaug_cg.nc_stops_inside"),
    ("no-boundary", "07.steihaug_cg.no_boundary_test"),
    ("scale", "07.steihaug_cg.scaled_back"),
    ("sum-tol", "07.steihaug_cg.sum_tol"),
])
def test_check_steihaug_cg_names_the_code(mistake, code):
    def wrong(H, g, delta, **kw):
        return steihaug_student(H, g, delta, mistake=mistake, **kw)
    for case in STEIHAUG_CASES:
        assert named(check_steihaug_cg, wrong, **case) == (code,)


def test_check_steihaug_cg_counts_products_and_refuses_the_library():
    def two_products(H, g, delta, **kw):
        out = steihaug_student(H, g, delta, **kw)
        for _ in range(len(g)):
            H @ g
        return out
    with pytest.raises(WrongAnswer, match="products with H"):
        check_steihaug_cg(two_products)
    with pytest.raises(NotAllowedError):
        check_steihaug_cg(lambda H, g, delta, **kw: krylov_ref.newton.steihaug_cg(H, g, delta, **kw))
    with pytest.raises(WrongAnswer, match="tuple"):
        check_steihaug_cg(lambda H, g, delta, **kw: steihaug_student(H, g, delta, **kw)[0])
    with pytest.raises(WrongAnswer, match="info should be one of"):
        check_steihaug_cg(lambda H, g, delta, **kw: (steihaug_student(H, g, delta, **kw)[0], "done"))


def test_the_steihaug_box_is_the_reference_without_a_mistake():
    for case in STEIHAUG_CASES:
        prob = random_spd(case.get("n", 30), case.get("cond", 100.0), seed=case.get("seed", 5))
        Hi, _, _ = lesson07._indefinite(case.get("n", 30), case.get("seed", 5), 3)
        g_i = np.random.default_rng(1).standard_normal(prob.b.size)
        for H, g in ((prob.A, prob.b), (Hi, g_i)):
            for delta in (1e-3, 0.1, 1.0, 10.0, 1e4):
                for kw in (dict(), dict(rtol=1e-10), dict(rtol=0.0, maxiter=3), dict(rtol=0.1, atol=1.0)):
                    d, info, products = lesson07._steihaug_box(H, g, delta, **kw)
                    ref = krylov_ref.newton.steihaug_cg(H, g, delta, **kw)
                    assert (info, products) == (ref.info, ref.products)
                    assert np.allclose(d, ref.d, rtol=1e-8, atol=1e-12 * max(1.0, np.abs(ref.d).max()))
