"""Checks for lesson 01 (quadratics and steepest descent).

Each ``check_*`` runs a student's function on problems with known answers,
raises :class:`~krylov_ref.checks.WrongAnswer` naming the likely mistake, and
prints one line when all is well. Visible tests call them with their
defaults; hidden tests call them with other sizes and seeds.
"""

from __future__ import annotations

import numpy as np

from .. import steepest_descent as reference_steepest_descent
from ..problems import random_spd
from . import (
    CountingOperator, WrongAnswer, call_student, exercise, expect, expect_close,
    integer_spd_problem, mistake, passed,
)

__all__ = ["check_quadratic", "check_exact_step", "check_steepest_descent",
           "check_fit_power_law"]


#: The sections of the lesson that explain each misconception (its headings, without the #s).
SECTION_1 = "1. $Ax = b$ is a minimisation problem"
EXERCISE_1 = "Exercise 1 — the quadratic and its gradient (2 points)"
EXERCISE_2 = "Exercise 2 — fit a power law (2 points)"
SECTION_4 = "4. Steepest descent"
EXERCISE_3 = "Exercise 3 — the exact line-search step (2 points)"
ALGORITHM = "The algorithm"
EXERCISE_4 = "Exercise 4 — steepest descent (4 points)"

#: The misconceptions the checks of this lesson name: code -> (description,
#: the heading of the section that explains it).
MISCONCEPTIONS = {
    # Exercise 1: quadratic
    "01.quadratic.gradient_sign":
        ("the gradient returned as b - A x (the residual), not A x - b", SECTION_1),
    "01.quadratic.gradient_no_b": ("the linear term's -b left out of the gradient", SECTION_1),
    "01.quadratic.gradient_no_half":
        ("the gradient taken as 2 A x - b: the 1/2 of f forgotten", SECTION_1),
    "01.quadratic.gradient_half":
        ("the gradient taken as 1/2 A x - b: the 1/2 of f kept after differentiating", SECTION_1),
    "01.quadratic.gradient_elementwise": (
        "A * x (entrywise, an n-by-n array) written for the product A x in the gradient", EXERCISE_1),
    "01.quadratic.value_no_half": ("f without the 1/2 on x^T A x", SECTION_1),
    "01.quadratic.value_plus_b": ("f with + b^T x instead of - b^T x", SECTION_1),
    "01.quadratic.value_half_on_both":
        ("f as 1/2 (x^T A x - b^T x): the 1/2 put on the linear term too", SECTION_1),
    "01.quadratic.value_elementwise": (
        "f computed with entrywise products: a vector, not the number x^T A x / 2 - b^T x", EXERCISE_1),
    "01.quadratic.order_swapped": ("the pair returned as (g, f) instead of (f, g)", EXERCISE_1),
    # Exercise 2: fit_power_law
    "01.fit_power_law.order_pc": ("the pair returned as (p, c) instead of (c, p)", EXERCISE_2),
    "01.fit_power_law.raw_line":
        ("the fitted line's (slope, intercept) returned as they are, for (c, p)", EXERCISE_2),
    "01.fit_power_law.polyfit_order": (
        "np.polyfit's coefficients read as (intercept, slope): they come highest degree "
        "first", EXERCISE_2),
    "01.fit_power_law.log_c": ("c returned as the intercept log c, not exponentiated", EXERCISE_2),
    "01.fit_power_law.mixed_bases": (
        "the line fitted with one base of logarithm and its intercept exponentiated in "
        "another (log10 and exp)", EXERCISE_2),
    "01.fit_power_law.axes_swapped":
        ("log n fitted against log t (the axes swapped): the slope is 1/p", EXERCISE_2),
    "01.fit_power_law.not_log_log":
        ("the line fitted on linear or semi-log axes instead of (log n, log t)", EXERCISE_2),
    "01.fit_power_law.no_intercept":
        ("the line in log-log forced through the origin (no intercept, c = 1)", EXERCISE_2),
    "01.fit_power_law.two_points": (
        "the exponent from two of the points (or the mean of successive slopes) instead "
        "of least squares on all", EXERCISE_2),
    "01.fit_power_law.c_refitted": (
        "c fitted separately as the mean of t / n^p instead of from the line's intercept", EXERCISE_2),
    # Exercise 3: exact_step
    "01.exact_step.residual_only":
        ("alpha = r^T r / r^T A r, the special case p = r, used for any direction p", EXERCISE_3),
    "01.exact_step.p_for_r":
        ("alpha = p^T p / p^T A p: p written where the residual r belongs", SECTION_4),
    "01.exact_step.denominator_r":
        ("alpha = r^T p / r^T A r: only the numerator generalised from p = r", SECTION_4),
    "01.exact_step.no_A":
        ("alpha = r^T p / p^T p: the A missing from the curvature p^T A p", SECTION_4),
    "01.exact_step.sign":
        ("alpha with the wrong sign (r taken as the gradient A x - b)", SECTION_4),
    "01.exact_step.upside_down":
        ("alpha = p^T A p / r^T p: numerator and denominator swapped", SECTION_4),
    "01.exact_step.factor_two": (
        "alpha off by a factor of 2 (the 1/2 of the parabola mishandled when setting "
        "phi'(alpha) = 0)", SECTION_4),
    "01.exact_step.abs_step":
        ("alpha forced positive (abs): an ascent direction needs a negative step", SECTION_4),
    "01.exact_step.elementwise": (
        "entrywise products (*) where the inner products r^T p, p^T A p belong: alpha a "
        "vector", EXERCISE_3),
    # Exercise 4: steepest_descent
    "01.steepest_descent.x_update_sign":
        ("x moved by - alpha r while r is updated by - alpha A r: x and r disagree", ALGORITHM),
    "01.steepest_descent.r_update_sign":
        ("r updated as r + alpha A r: the recorded residual is not b - A x", ALGORITHM),
    "01.steepest_descent.uphill":
        ("stepped along the gradient A x - b (uphill) instead of the residual b - A x", SECTION_4),
    "01.steepest_descent.alpha_upside_down":
        ("alpha = r^T A r / r^T r, the exact step upside down", SECTION_4),
    "01.steepest_descent.fixed_step": (
        "a fixed step size (a learning rate) instead of the exact line search along r_k", ALGORITHM),
    "01.steepest_descent.product_twice": (
        "A r formed twice per iteration (for alpha and for the update) instead of once, "
        "kept in q", ALGORITHM),
    "01.steepest_descent.recomputes_residual":
        ("r recomputed as b - A x every iteration: two products with A instead of one", ALGORITHM),
    "01.steepest_descent.norms_squared":
        ("residual_norms holds ||r||^2 (r^T r) instead of ||r||", EXERCISE_4),
    "01.steepest_descent.norms_without_initial":
        ("residual_norms without ||r_0||: the first entry is ||r_1||", EXERCISE_4),
    "01.steepest_descent.stop_not_on_residual": (
        "stopped on the size of the step (the change in x) instead of the residual norm", EXERCISE_4),
    "01.steepest_descent.tol_absolute":
        ("stopping test ||r|| <= rtol, absolute: ||b|| left out", EXERCISE_4),
    "01.steepest_descent.tol_min": (
        "min(rtol ||b||, atol) where the max belongs: with atol = 0 the tolerance is 0 "
        "and the loop does not stop", EXERCISE_4),
    "01.steepest_descent.tol_sum":
        ("stopping test rtol ||b|| + atol instead of max(rtol ||b||, atol)", EXERCISE_4),
    "01.steepest_descent.tol_relative_to_r0":
        ("stopping test relative to ||r_0|| = ||b - A x0|| instead of ||b||", EXERCISE_4),
    "01.steepest_descent.atol_ignored": ("atol left out of the stopping test", EXERCISE_4),
    "01.steepest_descent.maxiter_off_by_one":
        ("one iteration too many or too few for a given maxiter", EXERCISE_4),
    "01.steepest_descent.default_maxiter":
        ("maxiter=None not taken as 10 n iterations", EXERCISE_4),
    "01.steepest_descent.x0_ignored": ("x0 ignored: always started from zeros", EXERCISE_4),
    "01.steepest_descent.x0_in_place":
        ("the caller's x0 updated in place (x = x0, then x += ...)", EXERCISE_4),
    "01.steepest_descent.test_after_step":
        ("the stopping test after the step: a step taken even when r_0 = 0 (0/0)", EXERCISE_4),
    "01.steepest_descent.strict_inequality":
        ("||r|| < tol instead of <=: with b = 0 (tol = 0) a 0/0 step is taken", EXERCISE_4),
}


def _expect_unchanged(*triples, code=None):
    """Each (array passed, copy kept, name): the student's function must not
    modify its inputs in place."""
    for passed_in, kept, name in triples:
        expect(np.array_equal(passed_in, kept),
               f"your function changed the caller's `{name}` in place. Inputs must be left "
               f"unchanged (SciPy's solvers leave them so): work on a copy of `{name}` "
               "(an in-place update such as `+=` on the caller's array modifies it).", code=code)


def _unpack_pair(value, what, names):
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise WrongAnswer(f"{what} should return a pair {names}, got {type(value).__name__}"
                          + (f" of length {len(value)}" if hasattr(value, "__len__") else ""))
    return value


def _close(got, want, rtol=1e-8):
    """``got`` (anything the student returned) equals ``want`` to ``rtol``, shapes included."""
    try:
        got = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        return False
    want = np.asarray(want, dtype=float)
    return (got.shape == want.shape and bool(np.all(np.isfinite(got)))
            and np.allclose(got, want, rtol=rtol, atol=0.0))


@exercise(1, "quadratic", reference=lambda A, b, x: (0.5 * x @ (A @ x) - b @ x, A @ x - b))
def check_quadratic(quadratic, n=5, seed=0):
    """Check ``quadratic(A, b, x) -> (f, g)``: value and gradient of
    ``f(x) = 1/2 x^T A x - b^T x``."""
    rng = np.random.default_rng(seed)
    for trial in range(3):
        A = random_spd(n, 10.0 + 10 * trial, seed=seed + trial).A
        b = rng.standard_normal(n)
        x = rng.standard_normal(n)
        Ax = A @ x
        f_want = 0.5 * x @ Ax - b @ x
        g_want = Ax - b
        A_in, b_in, x_in = A.copy(), b.copy(), x.copy()
        f, g = _unpack_pair(call_student(quadratic, A_in, b_in, x_in), "quadratic", "(f, g)")
        _expect_unchanged((A_in, A, "A"), (b_in, b, "b"), (x_in, x, "x"))
        if _close(f, g_want) and _close(g, f_want):
            raise mistake("01.quadratic.order_swapped",
                          "you returned (g, f); the contract is the pair (f, g), the value first.")
        f_got = np.asarray(f, dtype=float)
        if f_got.shape == (n,) and (np.isclose(f_got.sum(), f_want, rtol=1e-8)
                                    or _close(f_got, 0.5 * x * Ax - b * x)):
            raise mistake("01.quadratic.value_elementwise",
                          "f is a vector whose entries sum to the right value: `*` multiplies "
                          "entry by entry, and f = 1/2 x^T A x - b^T x needs inner products "
                          "(see the hint of Exercise 1).")
        expect(f_got.shape == (), f"f should be a number (a scalar), got shape {f_got.shape}")
        g_arr = np.asarray(g, dtype=float)
        if g_arr.shape == (n, n) and _close(g_arr, A * x - b):
            raise mistake("01.quadratic.gradient_elementwise",
                          f"the gradient has shape ({n}, {n}): A * x multiplies entry by entry "
                          "(each row of A by x); the gradient needs the matrix-vector product "
                          "A x (see the hint of Exercise 1).")
        if g_arr.shape == (n,):
            if _close(g_arr, -g_want):
                raise mistake("01.quadratic.gradient_sign",
                              "the gradient has the wrong sign: b - A x is the residual, the "
                              "*negative* gradient (see section 1).")
            if _close(g_arr, Ax):
                raise mistake("01.quadratic.gradient_no_b",
                              "the gradient is A x: the contribution of the linear term "
                              "-b^T x is missing (see section 1).")
            if _close(g_arr, 2 * Ax - b):
                raise mistake("01.quadratic.gradient_no_half",
                              "the gradient is 2 A x - b: the 1/2 in f cancels the 2 "
                              "from differentiating x^T A x (for symmetric A).")
            if _close(g_arr, 0.5 * Ax - b):
                raise mistake("01.quadratic.gradient_half",
                              "the gradient is 1/2 A x - b: differentiating x^T A x gives 2 A x "
                              "(for symmetric A), which the 1/2 in f turns into A x (see section 1).")
        expect_close(g, g_want, "the gradient g",
                     hint="Compare your g with the gradient formula of section 1.")
        if np.isclose(f_got, x @ Ax - b @ x, rtol=1e-10):
            raise mistake("01.quadratic.value_no_half",
                          "f is x^T A x - b^T x: the factor 1/2 on the quadratic term is missing.")
        if np.isclose(f_got, 0.5 * x @ Ax + b @ x, rtol=1e-10):
            raise mistake("01.quadratic.value_plus_b",
                          "f has + b^T x: the linear term should be subtracted.")
        if np.isclose(f_got, 0.5 * (x @ Ax - b @ x), rtol=1e-10):
            raise mistake("01.quadratic.value_half_on_both",
                          "f is 1/2 (x^T A x - b^T x): the 1/2 belongs to the quadratic term "
                          "only (see the definition of f in section 1).")
        expect_close(f, f_want, "the value f",
                     hint="Compare your f with the definition of f in section 1 "
                          "(the factor 1/2, the sign of the linear term).")
    passed(f"quadratic: value and gradient correct on 3 problems of size {n}.")


@exercise(3, "exact_step", reference=lambda A, r, p: (r @ p) / (p @ (A @ p)))
def check_exact_step(exact_step, n=6, seed=1):
    """Check ``exact_step(A, r, p) -> alpha`` minimising ``f(x + alpha p)``
    where ``r = b - A x``."""
    rng = np.random.default_rng(seed)
    for trial in range(3):
        A = random_spd(n, 50.0, seed=seed + trial).A
        r = rng.standard_normal(n)
        # A direction that is not the residual, so r^T r / r^T A r is wrong;
        # the last one an ascent direction (r^T p < 0), whose best step is negative.
        p = rng.standard_normal(n) if trial else r.copy()
        if trial == 2 and r @ p > 0:
            p = -p
        Ap = A @ p
        rAr = r @ A @ r
        want = (r @ p) / (p @ Ap)
        A_in, r_in, p_in = A.copy(), r.copy(), p.copy()
        alpha = call_student(exact_step, A_in, r_in, p_in)
        _expect_unchanged((A_in, A, "A"), (r_in, r, "r"), (p_in, p, "p"))
        got = np.asarray(alpha, dtype=float)
        if got.shape == (n,) and any(_close(got, form) for form in (
                (r * p) / (p * Ap), (r @ p) / (p * Ap), (r * p) / (p @ Ap))):
            raise mistake("01.exact_step.elementwise",
                          f"alpha is a vector of {n} numbers: `*` multiplies entry by entry, "
                          "where the formula for alpha_* (section 4) has the inner products "
                          "r^T p and p^T A p.")
        expect(got.shape == (), f"exact_step should return a number, got shape {got.shape}")
        right = np.isclose(got, want, rtol=1e-10)
        if trial and np.isclose(got, (r @ r) / rAr, rtol=1e-10):
            raise mistake("01.exact_step.residual_only",
                          "alpha = r^T r / r^T A r is the step along the residual only. "
                          "For a general direction p, minimise the parabola phi(alpha) = "
                          "f(x + alpha p) of section 4 (set phi'(alpha) = 0).")
        if trial and np.isclose(got, (r @ p) / rAr, rtol=1e-10):
            raise mistake("01.exact_step.denominator_r",
                          "alpha = r^T p / r^T A r: the numerator is right but the denominator "
                          "is the curvature along r, not along the direction p (see the "
                          "parabola phi(alpha) in section 4).")
        if np.isclose(got, (p @ p) / (p @ Ap), rtol=1e-10) and not right:
            raise mistake("01.exact_step.p_for_r",
                          "alpha = p^T p / p^T A p uses p where the residual r belongs "
                          "(see the formula for alpha_* in section 4).")
        if np.isclose(got, (r @ p) / (p @ p), rtol=1e-10) and not right:
            raise mistake("01.exact_step.no_A",
                          "alpha = r^T p / p^T p: the denominator is the curvature of f along "
                          "p, p^T A p; the matrix is missing (see the parabola phi(alpha) in "
                          "section 4).")
        if want < 0 and np.isclose(got, -want, rtol=1e-10):
            raise mistake("01.exact_step.abs_step",
                          "alpha is positive, but here r^T p < 0: p points uphill, and the "
                          "minimiser of phi(alpha) = f(x + alpha p) is a negative step. Do not "
                          "force the sign of alpha (see section 4).")
        if np.isclose(got, -want, rtol=1e-10):
            raise mistake("01.exact_step.sign",
                          "alpha has the wrong sign: r is b - A x, the negative gradient "
                          "(see the derivation of phi(alpha) in section 4).")
        if np.isclose(got, 1 / want, rtol=1e-10) and not right:
            raise mistake("01.exact_step.upside_down",
                          "alpha is upside down: numerator and denominator are swapped "
                          "(see the formula for alpha_* in section 4).")
        if np.isclose(got, 2 * want, rtol=1e-10) or np.isclose(got, 0.5 * want, rtol=1e-10):
            raise mistake("01.exact_step.factor_two",
                          f"alpha is {'twice' if np.isclose(got, 2 * want) else 'half'} the "
                          "minimising step: differentiate the parabola phi(alpha) of section 4 "
                          "again, minding the 1/2 in front of alpha^2 p^T A p.")
        expect_close(got, want, "alpha",
                     hint="alpha should minimise f(x + alpha p): see the formula for alpha_* "
                          "derived in section 4.")
    passed("exact_step: the exact line-search step is right, also for p != r and for an uphill p.")


class _RecordingOperator(CountingOperator):
    """A :class:`CountingOperator` that also counts products with the same
    vector as the product before (A r formed twice in one iteration)."""

    def __init__(self, A):
        super().__init__(A)
        self.repeats = 0
        self._last = None

    def _note(self, v):
        v = np.array(v, dtype=float)
        if self._last is not None and v.shape == self._last.shape and np.array_equal(v, self._last):
            self.repeats += 1
        self._last = v

    def _product(self, v):
        self._note(v)
        return super()._product(v)

    def __rmatmul__(self, v):
        self._note(v)
        return super().__rmatmul__(v)


def _run_student_sd(steepest_descent, A, b, x0=None, finite=True, op=None, **kwargs):
    op = CountingOperator(A) if op is None else op
    b_in = b.copy()
    if x0 is None:
        out = call_student(steepest_descent, op, b_in, **kwargs)
    else:
        x0_in = x0.copy()
        out = call_student(steepest_descent, op, b_in, x0_in, **kwargs)
        _expect_unchanged((x0_in, x0, "x0"), code="01.steepest_descent.x0_in_place")
    _expect_unchanged((b_in, b, "b"))
    x, norms = _unpack_pair(out, "steepest_descent", "(x, residual_norms)")
    norms = np.asarray(norms, dtype=float)
    expect(norms.ndim == 1 and norms.size >= 1,
           "residual_norms should be a 1-D list of norms, the initial residual first")
    if finite:
        expect(np.all(np.isfinite(norms)), "residual_norms contains NaN or inf")
    return np.asarray(x, dtype=float), norms, op.count


def _reference_steepest_descent(A, b, x0=None, *, rtol=1e-5, atol=0.0, maxiter=None):
    res = reference_steepest_descent(A, b, x0, rtol=rtol, atol=atol, maxiter=maxiter)
    return res.x, list(res.residual_norms)


def _check_zero_residual_start(steepest_descent, A, b, x0, n, case):
    """Both edge cases start with r_0 = 0 exactly: nothing to do, no division."""
    x, norms, _ = _run_student_sd(steepest_descent, A, b, x0=x0, finite=False,
                                  rtol=1e-6, maxiter=50)
    start = "x0 equal to the solution" if x0 is not None else "b = 0"
    ok = norms.size == 1 and norms[0] == 0.0 and x.shape == (n,) and np.all(np.isfinite(x))
    nan = " and produced NaN (a step 0/0)" if (not np.all(np.isfinite(norms))
                                              or not np.all(np.isfinite(x))) else ""
    told = (f"with {case}, r_0 = b - A x0 is exactly 0, so the stopping test holds before any "
            f"step and the answer is x0 itself with residual_norms = [0.0]; yours took "
            f"{norms.size - 1} iteration(s){nan}. ")
    if not ok and norms.size > 1 and x0 is not None:
        raise mistake("01.steepest_descent.test_after_step",
                      told + "Test the stopping criterion at the top of the loop, before the "
                             "step, so that a start that is good enough takes no step.")
    if not ok and norms.size > 1:
        raise mistake("01.steepest_descent.strict_inequality",
                      told + "Here the tolerance max(rtol ||b||, atol) is 0 as well: the test "
                             "||r|| <= tol must keep its equality.")
    expect(ok, told + "Test the stopping criterion at the top of the loop, before the step, "
                      "and keep equality: ||r|| <= max(rtol ||b||, atol).")
    want = np.zeros(n) if x0 is None else x0
    expect(np.array_equal(x, want), f"with {start}, x should be returned as it started.")


def _diagnose_first_step(steepest_descent, A, b, norms):
    """From x0 = 0 the first step is fixed: r_0 = b, alpha_0 = b^T b / b^T A b.
    Name a wrong one by the residual norm it leaves."""
    if norms.size < 2 or not np.isfinite(norms[1]):
        return
    q = A @ b
    alpha = (b @ b) / (b @ q)
    if np.isclose(norms[1], np.linalg.norm(b - alpha * q), rtol=1e-6):
        return
    if np.isclose(norms[1], np.linalg.norm(b + alpha * q), rtol=1e-6):
        # Uphill (x and r consistent, both along the gradient), or only r's update flipped.
        x1, norms1, _ = _run_student_sd(steepest_descent, A, b, finite=False, rtol=0.0,
                                        maxiter=1)
        if (norms1.size == 2 and x1.shape == b.shape
                and np.isclose(np.linalg.norm(b - A @ x1), norms1[1], rtol=1e-6)):
            raise mistake("01.steepest_descent.uphill",
                          f"the first step increased the residual norm, from {norms[0]:.3g} "
                          f"to {norms[1]:.3g}: it went uphill, along the gradient A x - b. "
                          "Steepest descent steps along r = b - A x, the negative gradient "
                          "(section 4).")
        raise mistake("01.steepest_descent.r_update_sign",
                      f"after the first step you record ||r_1|| = {norms[1]:.3g}, but "
                      f"||b - A x_1|| for your x_1 is different: the residual update has the "
                      "wrong sign. Moving x by alpha r changes b - A x by -alpha A r (see the "
                      "algorithm box).")
    if np.isclose(norms[1], np.linalg.norm(b - q / alpha), rtol=1e-6):
        raise mistake("01.steepest_descent.alpha_upside_down",
                      f"the first step takes ||r|| from {norms[0]:.3g} to {norms[1]:.3g}: "
                      "that is the step r^T A r / r^T r, the exact step upside down (see "
                      "alpha_* in section 4).")
    # One step size for every iteration, r_k = (I - a A)^k b: a from ||r_1||, confirmed on r_2, r_3.
    if norms.size >= 4 and np.all(np.isfinite(norms[:4])):
        for a in np.roots([q @ q, -2 * (b @ q), b @ b - norms[1] ** 2]):
            if abs(a.imag) > 1e-8 * abs(a) or a.real == 0:
                continue
            r, follows = b.copy(), True
            for k in (1, 2, 3):
                r = r - a.real * (A @ r)
                follows = follows and bool(np.isclose(np.linalg.norm(r), norms[k], rtol=1e-6))
            if follows:
                raise mistake("01.steepest_descent.fixed_step",
                              f"your residual norms are those of the same step alpha = "
                              f"{a.real:.3g} at every iteration: steepest descent with exact "
                              "line search computes alpha_k anew at each iteration, the "
                              "minimiser along r_k (see the algorithm box).")


@exercise(4, "steepest_descent", reference=_reference_steepest_descent)
def check_steepest_descent(steepest_descent, n=40, cond=30.0, seed=2):
    """Check ``steepest_descent(A, b, x0=None, *, rtol, atol, maxiter)``
    ``-> (x, residual_norms)`` against :func:`krylov_ref.steepest_descent`,
    and the contract's defaults and edge cases: ``maxiter=None`` (10 n
    iterations), ``x0`` equal to the solution, ``b = 0``, the caller's
    ``x0`` left unchanged."""
    prob = random_spd(n, cond, seed=seed)
    A, b = prob.A, prob.b
    norm_b = np.linalg.norm(b)
    rtol = 1e-6
    maxiter = 20 * int(cond * np.log(1 / rtol)) + 10  # generous: about 40 times the need
    ref = reference_steepest_descent(A, b, rtol=rtol, maxiter=maxiter)

    op = _RecordingOperator(A)
    x, norms, products = _run_student_sd(steepest_descent, A, b, finite=False, op=op,
                                         rtol=rtol, maxiter=maxiter)
    expect(x.shape == (n,), f"x should have shape ({n},), got {x.shape}")
    tol = rtol * norm_b
    if not np.isclose(norms[0], norm_b, rtol=1e-8):
        if np.isclose(norms[0], norm_b ** 2, rtol=1e-8):
            raise mistake("01.steepest_descent.norms_squared",
                          f"residual_norms[0] is {norms[0]:.6g}, which is ||b||^2: record the "
                          "norm ||r_k||, not r_k^T r_k.")
        if ref.residual_norms.size > 1 and np.isclose(norms[0], ref.residual_norms[1], rtol=1e-6):
            raise mistake("01.steepest_descent.norms_without_initial",
                          "residual_norms starts with the residual after the first step: the "
                          "initial residual ||r_0|| = ||b - A x0|| (here ||b||) comes first, "
                          "then one entry per iteration.")
    expect_close(norms[0], norm_b, "residual_norms[0]",
                 rtol=1e-8, hint="it should be ||b - A x0|| with x0 = 0, i.e. ||b||.")
    _diagnose_first_step(steepest_descent, A, b, norms)
    expect(np.all(np.isfinite(norms)), "residual_norms contains NaN or inf")
    res = np.linalg.norm(b - A @ x)
    iters = norms.size - 1
    if res > 1.01 * tol and norms[-1] <= 1.01 * tol:
        expect(not _close(-x, ref.x, rtol=1e-6),
               f"x and the updated residual r no longer agree: your last recorded ||r|| is "
               f"{norms[-1]:.3g} (converged), but ||b - A x|| for the x you return is "
               f"{res:.3g}: x moved the opposite way to the step the update of r assumes "
               "(see the algorithm box).", code="01.steepest_descent.x_update_sign")
        raise WrongAnswer(
            f"x and the updated residual r no longer agree: your last recorded ||r|| is "
            f"{norms[-1]:.3g} (converged), but ||b - A x|| for the x you return is {res:.3g}. "
            "The update of x must take the same step, with the same sign, as the update of r "
            "assumes (see the algorithm box).")
    expect(not (res > 1.01 * tol and iters < maxiter
                and np.isclose(norms[-1], res, rtol=1e-3)),
           f"stopped after {iters} iterations with ||b - A x|| = {res:.3g} > rtol * ||b|| = "
           f"{tol:.3g}, before maxiter: the loop must stop when ||r|| <= max(rtol * ||b||, "
           "atol), not on the size of the step or the change in x.",
           code="01.steepest_descent.stop_not_on_residual")
    expect(res <= 1.01 * tol,
           f"not converged: ||b - A x|| = {res:.3g} but rtol * ||b|| = {tol:.3g}. "
           "Stop when ||r|| <= max(rtol * ||b||, atol), not on the change in x.")
    if abs(iters - ref.iterations) > 1:
        absolute = reference_steepest_descent(A, b, rtol=0.0, atol=rtol, maxiter=maxiter)
        expect(abs(iters - absolute.iterations) > 1,
               f"took {iters} iterations where the test ||r|| <= rtol * ||b|| holds after "
               f"{ref.iterations}: yours stops at ||r|| <= rtol = {rtol:g}, an absolute test. "
               "rtol is relative to ||b|| (see the exercise text).",
               code="01.steepest_descent.tol_absolute")
        below = np.flatnonzero(norms[:-1] <= tol)
        expect(not (below.size and (iters == maxiter or norms[-1] == 0.0)),
               f"||r|| fell below rtol * ||b|| = {tol:.3g} at iteration {below[0] if below.size else 0}, "
               f"but the loop went on to iteration {iters}. With atol = 0 the tolerance "
               "max(rtol * ||b||, atol) is rtol * ||b||, not 0.",
               code="01.steepest_descent.tol_min")
    expect_close(norms[-1], res, "the last residual norm", rtol=1e-3,
                 hint="the recorded norm should be ||b - A x|| for the x you return.")
    expect(abs(iters - ref.iterations) <= 1,
           f"took {iters} iterations; exact-line-search steepest descent takes "
           f"{ref.iterations}. Check the step alpha (the exact line search along r, "
           "section 4) and the stopping test.")
    if products > iters + 3:
        extra = (f"used {products} products with A for {iters} iterations: one per "
                 "iteration is enough")
        expect(op.repeats < iters // 2,
               f"{extra}. Yours forms A r twice in an iteration (for alpha and for the "
               "update): compute q = A r once and use it in both (see the algorithm box).",
               code="01.steepest_descent.product_twice")
        expect(products < 2 * iters,
               f"{extra} if the residual is updated, r - alpha A r, instead of recomputed as "
               "b - A x (see the algorithm box).", code="01.steepest_descent.recomputes_residual")
        raise WrongAnswer(f"{extra} (see the algorithm box).")
    ref_norms = ref.residual_norms[: min(norms.size, ref.residual_norms.size)]
    expect_close(norms[: ref_norms.size], ref_norms, "the residual norm history", rtol=1e-5,
                 hint="residual_norms should hold ||r_k|| for k = 0, 1, ..., one per iteration.")

    # maxiter is respected: exactly maxiter iterations when not converged.
    x3, norms3, _ = _run_student_sd(steepest_descent, A, b, rtol=rtol, maxiter=3)
    expect(norms3.size == 4,
           f"with maxiter=3, residual_norms should have 4 entries (initial + 3), got {norms3.size}",
           code="01.steepest_descent.maxiter_off_by_one" if norms3.size in (3, 5) else None)
    # The default maxiter=None is 10 n: a small problem that cannot converge in 10 n.
    m = 8
    hard = random_spd(m, 1e4, seed=seed + 1)
    _, norms_d, _ = _run_student_sd(steepest_descent, hard.A, hard.b, rtol=1e-12)
    expect(norms_d.size - 1 == 10 * m,
           f"with the default maxiter=None, on a problem of size n = {m} that needs far more "
           f"than 10 n iterations, the contract's default maxiter = 10 n = {10 * m} iterations "
           f"should be taken; yours took {norms_d.size - 1}. See the exercise text.",
           code="01.steepest_descent.default_maxiter")
    # x0 is used, and the caller's x0 is left unchanged (checked by _run_student_sd).
    x0 = prob.x_true + 1e-3 * np.ones(n)
    _, norms0, _ = _run_student_sd(steepest_descent, A, b, x0=x0, rtol=rtol, maxiter=maxiter)
    r0_norm = np.linalg.norm(b - A @ x0)
    expect(not (np.isclose(norms0[0], norm_b, rtol=1e-8) and not np.isclose(r0_norm, norm_b)),
           f"with x0 given, residual_norms[0] is ||b||, the residual of x = 0, not ||b - A x0|| "
           f"= {r0_norm:.3g}: start from x0 when it is given.", code="01.steepest_descent.x0_ignored")
    expect_close(norms0[0], r0_norm, "residual_norms[0] with x0 given",
                 rtol=1e-8, hint="start from x0 when it is given: r0 = b - A x0.")
    expect(np.linalg.norm(b - A @ _run_student_sd(steepest_descent, A, b, x0=x0, rtol=rtol,
                                                  maxiter=maxiter)[0]) <= 1.01 * tol,
           "with x0 given, the returned x does not solve A x = b to rtol.")
    # The stopping test is relative to ||b||, whatever x0 is. From an x0 close
    # to the solution (||r0|| << ||b||) a test relative to ||r0|| runs on past
    # rtol * ||b||; from one far away (||r0|| >> ||b||) it stops short of it.
    relative_to_r0 = ("with x0 given, stop when ||r|| <= max(rtol * ||b||, atol): the test is "
                      "relative to ||b||, not to the initial residual ||r0|| = ||b - A x0||.")
    ref0 = reference_steepest_descent(A, b, x0, rtol=rtol, maxiter=maxiter)
    expect(norms0.size - 1 <= ref0.iterations + 1,
           f"took {norms0.size - 1} iterations from an x0 near the solution, where "
           f"||r|| <= rtol * ||b|| after {ref0.iterations}: {relative_to_r0}",
           code="01.steepest_descent.tol_relative_to_r0")
    far = np.full(n, 10.0 * np.linalg.norm(prob.x_true))
    x_far, norms_far, _ = _run_student_sd(steepest_descent, A, b, x0=far, rtol=rtol,
                                          maxiter=maxiter)
    expect(np.linalg.norm(b - A @ x_far) <= 1.01 * tol,
           f"from an x0 far from the solution, ||b - A x|| = {np.linalg.norm(b - A @ x_far):.3g} "
           f"> rtol * ||b|| = {tol:.3g}: {relative_to_r0}",
           code="01.steepest_descent.tol_relative_to_r0")
    # Edge cases with r_0 = 0 exactly: x0 the exact solution, and b = 0.
    Ai, bi, xi = integer_spd_problem(6, seed)
    _check_zero_residual_start(steepest_descent, Ai, bi, xi, 6, "x0 equal to the solution")
    _check_zero_residual_start(steepest_descent, Ai, np.zeros(6), None, 6,
                               "b = 0 (and x0 = None)")
    # atol is honoured: a loose absolute tolerance stops early.
    atol = 0.5 * norm_b
    xa, normsa, _ = _run_student_sd(steepest_descent, A, b, rtol=0.0, atol=atol,
                                    maxiter=maxiter)
    expect(np.linalg.norm(b - A @ xa) <= atol and normsa.size - 1 <= ref.iterations,
           "with rtol=0 and atol given, stop when ||r|| <= atol"
           + (f": yours went on for {normsa.size - 1} iterations, past the first ||r|| <= atol "
              "(is atol in your stopping test?)." if normsa.size - 1 > ref.iterations else "."),
           code="01.steepest_descent.atol_ignored" if normsa.size - 1 > ref.iterations else None)
    # Both given and equal: the test is the larger of the two, not their sum.
    both = dict(rtol=1e-4, atol=1e-4 * norm_b)
    ref_both = reference_steepest_descent(A, b, maxiter=maxiter, **both)
    xb, normsb, _ = _run_student_sd(steepest_descent, A, b, maxiter=maxiter, **both)
    res_b = np.linalg.norm(b - A @ xb)
    expect(res_b <= 1.01 * both["atol"] and abs(normsb.size - 1 - ref_both.iterations) <= 1,
           f"with rtol = 1e-4 and atol = 1e-4 ||b|| both given, stop when ||r|| <= "
           f"max(rtol * ||b||, atol) = {both['atol']:.3g}: yours stopped after "
           f"{normsb.size - 1} iterations (the test needs {ref_both.iterations}) with "
           f"||b - A x|| = {res_b:.3g}. The tolerance is the larger of the two, not their sum.",
           code="01.steepest_descent.tol_sum" if (res_b <= 2.02 * both["atol"]
                                                  and normsb.size - 1 < ref_both.iterations)
           else None)
    passed(f"steepest_descent: converged in {iters} iterations on n={n}, cond={cond:g}, "
           "matching the reference; maxiter (given and default), x0 (left unchanged), "
           "atol, b = 0 and an exact x0 respected.")


def _reference_fit_power_law(n, t):
    p, log_c = np.polyfit(np.log(n), np.log(t), 1)
    return float(np.exp(log_c)), float(p)


@exercise(2, "fit_power_law", reference=_reference_fit_power_law)
def check_fit_power_law(fit_power_law, seed=3):
    """Check ``fit_power_law(n, t) -> (c, p)`` with ``t ~ c * n**p`` fitted by
    least squares on ``log t = log c + p log n``."""
    rng = np.random.default_rng(seed)
    n = np.array([100, 200, 400, 800, 1600, 3200], dtype=float)
    c_true, p_true = 10 ** rng.uniform(-9, -7), rng.uniform(1.5, 3.0)
    t = c_true * n ** p_true
    log_n, log_t = np.log(n), np.log(t)
    c, p = _unpack_pair(call_student(fit_power_law, n.copy(), t.copy()), "fit_power_law", "(c, p)")
    c, p = float(np.asarray(c, dtype=float)), float(np.asarray(p, dtype=float))

    def near(got, want):
        return bool(np.isclose(got, want, rtol=1e-6, atol=0.0))

    if near(c, p_true) and near(p, c_true):
        raise mistake("01.fit_power_law.order_pc", "you returned (p, c); the contract is (c, p).")
    if near(c, p_true) and near(p, np.log(c_true)):
        raise mistake("01.fit_power_law.raw_line",
                      "you returned the fitted line's (slope, intercept) as they are: the "
                      "contract is (c, p), and the intercept is log c, not c.")
    if near(c, np.exp(p_true)) and near(p, np.log(c_true)):
        raise mistake("01.fit_power_law.polyfit_order",
                      "your p is log c and your c is e^p: the line's coefficients were read "
                      "in the wrong order. A degree-1 fit lists the slope first, then the "
                      "intercept (see the hint of Exercise 2).")
    if near(c, np.log(c_true)) or near(c, np.log10(c_true)):
        raise mistake("01.fit_power_law.log_c",
                      "c is the logarithm of the constant: the intercept of the line in "
                      "(log n, log t) is log c, and the contract asks for c itself.")
    if c > 0 and (near(np.log(c), np.log10(c_true)) or near(np.log10(c), np.log(c_true))):
        raise mistake("01.fit_power_law.mixed_bases",
                      "c is off although p is right: the intercept was exponentiated in a "
                      "different base from the logarithms of the fit (log10 with e^, or ln "
                      "with 10^). Use the same base both ways.")
    if near(p, 1 / p_true):
        raise mistake("01.fit_power_law.axes_swapped",
                      f"p is {p:.4g} = 1 / {p_true:.4g}: you fitted log n against log t. The "
                      "data are t as a function of n: log n on the horizontal axis.")
    if any(near(p, np.polyfit(u, v, 1)[0]) for u, v in ((n, t), (log_n, t), (n, log_t))):
        raise mistake("01.fit_power_law.not_log_log",
                      "the line was not fitted to (log n, log t): a power law t = c n^p is a "
                      "straight line only when both axes are logarithmic.")
    if near(p, (log_n @ log_t) / (log_n @ log_n)):
        raise mistake("01.fit_power_law.no_intercept",
                      "your line goes through the origin of the (log n, log t) plane: fit "
                      "the intercept log c too, log t = log c + p log n.")
    expect_close(p, p_true, "the exponent p", rtol=1e-6,
                 hint="fit a straight line to (log n, log t): its slope is p.")
    expect_close(c, c_true, "the constant c", rtol=1e-6,
                 hint="the intercept of the line is log c.")
    # With noise the answer must be the least-squares fit in log-log.
    t_noisy = t * np.exp(0.1 * rng.standard_normal(n.size))
    slope, intercept = np.polyfit(log_n, np.log(t_noisy), 1)
    n_in, t_in = n.copy(), t_noisy.copy()
    c2, p2 = _unpack_pair(call_student(fit_power_law, n_in, t_in), "fit_power_law", "(c, p)")
    _expect_unchanged((n_in, n, "n"), (t_in, t_noisy, "t"))
    p2 = float(np.asarray(p2, dtype=float))
    pairs = [np.log(t_noisy[j] / t_noisy[i]) / np.log(n[j] / n[i])
             for i in range(n.size) for j in range(i + 1, n.size)]
    if not near(p2, slope) and any(near(p2, s) for s in pairs):
        raise mistake("01.fit_power_law.two_points",
                      "on noisy data your p is the slope through two of the points: fit the "
                      "line by least squares on all the points (see the exercise text).")
    expect_close(p2, slope, "the exponent p on noisy data", rtol=1e-6,
                 hint="fit the line by least squares on all the points, not through "
                      "two of them (see the exercise text).")
    expect(not near(float(np.asarray(c2, dtype=float)), np.mean(t_noisy / n ** slope))
           or near(np.mean(t_noisy / n ** slope), np.exp(intercept)),
           "on noisy data p is right but c is the mean of t / n^p: c comes from the same "
           "least-squares line as p, as the exponential of its intercept.",
           code="01.fit_power_law.c_refitted")
    expect_close(c2, np.exp(intercept), "the constant c on noisy data", rtol=1e-6,
                 hint="c is the exponential of the fitted line's intercept.")
    passed(f"fit_power_law: recovered p = {p_true:.3f} exactly and the least-squares fit on noisy data.")
