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
    integer_spd_problem, passed,
)

__all__ = ["check_quadratic", "check_exact_step", "check_steepest_descent",
           "check_fit_power_law"]


def _expect_unchanged(*triples):
    """Each (array passed, copy kept, name): the student's function must not
    modify its inputs in place."""
    for passed_in, kept, name in triples:
        expect(np.array_equal(passed_in, kept),
               f"your function changed the caller's `{name}` in place. Inputs must be left "
               f"unchanged (SciPy's solvers leave them so): work on a copy of `{name}` "
               "(an in-place update such as `+=` on the caller's array modifies it).")


def _unpack_pair(value, what, names):
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise WrongAnswer(f"{what} should return a pair {names}, got {type(value).__name__}"
                          + (f" of length {len(value)}" if hasattr(value, "__len__") else ""))
    return value


@exercise(1, "quadratic", reference=lambda A, b, x: (0.5 * x @ (A @ x) - b @ x, A @ x - b))
def check_quadratic(quadratic, n=5, seed=0):
    """Check ``quadratic(A, b, x) -> (f, g)``: value and gradient of
    ``f(x) = 1/2 x^T A x - b^T x``."""
    rng = np.random.default_rng(seed)
    for trial in range(3):
        A = random_spd(n, 10.0 + 10 * trial, seed=seed + trial).A
        b = rng.standard_normal(n)
        x = rng.standard_normal(n)
        f_want = 0.5 * x @ A @ x - b @ x
        g_want = A @ x - b
        A_in, b_in, x_in = A.copy(), b.copy(), x.copy()
        f, g = _unpack_pair(call_student(quadratic, A_in, b_in, x_in), "quadratic", "(f, g)")
        _expect_unchanged((A_in, A, "A"), (b_in, b, "b"), (x_in, x, "x"))
        f_got = np.asarray(f, dtype=float)
        expect(f_got.shape == (), f"f should be a number (a scalar), got shape {f_got.shape}")
        g_arr = np.asarray(g, dtype=float)
        if g_arr.shape == (n,):
            if np.allclose(g_arr, -g_want, rtol=1e-8):
                raise WrongAnswer("the gradient has the wrong sign: b - A x is the residual, the "
                                  "*negative* gradient (see section 1).")
            if np.allclose(g_arr, A @ x, rtol=1e-8):
                raise WrongAnswer("the gradient is A x: the contribution of the linear term "
                                  "-b^T x is missing (see section 1).")
            if np.allclose(g_arr, 2 * (A @ x) - b, rtol=1e-8):
                raise WrongAnswer("the gradient is 2 A x - b: the 1/2 in f cancels the 2 "
                                  "from differentiating x^T A x (for symmetric A).")
        expect_close(g, g_want, "the gradient g",
                     hint="Compare your g with the gradient formula of section 1.")
        if np.isclose(f_got, x @ A @ x - b @ x, rtol=1e-10):
            raise WrongAnswer("f is x^T A x - b^T x: the factor 1/2 on the quadratic term is missing.")
        if np.isclose(f_got, 0.5 * x @ A @ x + b @ x, rtol=1e-10):
            raise WrongAnswer("f has + b^T x: the linear term should be subtracted.")
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
        # A direction that is not the residual, so r^T r / r^T A r is wrong.
        p = rng.standard_normal(n) if trial else r.copy()
        want = (r @ p) / (p @ A @ p)
        A_in, r_in, p_in = A.copy(), r.copy(), p.copy()
        alpha = call_student(exact_step, A_in, r_in, p_in)
        _expect_unchanged((A_in, A, "A"), (r_in, r, "r"), (p_in, p, "p"))
        got = np.asarray(alpha, dtype=float)
        expect(got.shape == (), f"exact_step should return a number, got shape {got.shape}")
        if trial and np.isclose(got, (r @ r) / (r @ A @ r), rtol=1e-10):
            raise WrongAnswer("alpha = r^T r / r^T A r is the step along the residual only. "
                              "For a general direction p, minimise the parabola phi(alpha) = "
                              "f(x + alpha p) of section 4 (set phi'(alpha) = 0).")
        if np.isclose(got, (p @ p) / (p @ A @ p), rtol=1e-10) and not np.isclose(got, want):
            raise WrongAnswer("alpha = p^T p / p^T A p uses p where the residual r belongs "
                              "(see the formula for alpha_* in section 4).")
        if np.isclose(got, -want, rtol=1e-10):
            raise WrongAnswer("alpha has the wrong sign: r is b - A x, the negative gradient "
                              "(see the derivation of phi(alpha) in section 4).")
        if np.isclose(got, 1 / want, rtol=1e-10) and not np.isclose(got, want):
            raise WrongAnswer("alpha is upside down: numerator and denominator are swapped "
                              "(see the formula for alpha_* in section 4).")
        expect_close(got, want, "alpha",
                     hint="alpha should minimise f(x + alpha p): see the formula for alpha_* "
                          "derived in section 4.")
    passed("exact_step: the exact line-search step is right, also for p != r.")


def _run_student_sd(steepest_descent, A, b, x0=None, finite=True, **kwargs):
    op = CountingOperator(A)
    b_in = b.copy()
    if x0 is None:
        out = call_student(steepest_descent, op, b_in, **kwargs)
    else:
        x0_in = x0.copy()
        out = call_student(steepest_descent, op, b_in, x0_in, **kwargs)
        _expect_unchanged((x0_in, x0, "x0"))
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
    expect(norms.size == 1 and norms[0] == 0.0 and x.shape == (n,) and np.all(np.isfinite(x)),
           f"with {case}, r_0 = b - A x0 is exactly 0, so the stopping test holds before any "
           f"step and the answer is x0 itself with residual_norms = [0.0]; yours took "
           f"{norms.size - 1} iteration(s)"
           + (" and produced NaN (a step 0/0)" if not np.all(np.isfinite(norms)) or
              not np.all(np.isfinite(x)) else "")
           + ". Test the stopping criterion at the top of the loop, before the step, "
             "and keep equality: ||r|| <= max(rtol ||b||, atol).")
    want = np.zeros(n) if x0 is None else x0
    expect(np.array_equal(x, want), f"with {start}, x should be returned as it started.")


@exercise(4, "steepest_descent", reference=_reference_steepest_descent)
def check_steepest_descent(steepest_descent, n=40, cond=30.0, seed=2):
    """Check ``steepest_descent(A, b, x0=None, *, rtol, atol, maxiter)``
    ``-> (x, residual_norms)`` against :func:`krylov_ref.steepest_descent`,
    and the contract's defaults and edge cases: ``maxiter=None`` (10 n
    iterations), ``x0`` equal to the solution, ``b = 0``, the caller's
    ``x0`` left unchanged."""
    prob = random_spd(n, cond, seed=seed)
    A, b = prob.A, prob.b
    rtol = 1e-6
    maxiter = 20 * int(cond * np.log(1 / rtol)) + 10  # generous: about 40 times the need
    ref = reference_steepest_descent(A, b, rtol=rtol, maxiter=maxiter)

    x, norms, products = _run_student_sd(steepest_descent, A, b, rtol=rtol, maxiter=maxiter)
    expect(x.shape == (n,), f"x should have shape ({n},), got {x.shape}")
    res = np.linalg.norm(b - A @ x)
    tol = rtol * np.linalg.norm(b)
    expect_close(norms[0], np.linalg.norm(b), "residual_norms[0]",
                 rtol=1e-8, hint="it should be ||b - A x0|| with x0 = 0, i.e. ||b||.")
    if res > 1.01 * tol and norms[-1] <= 1.01 * tol:
        raise WrongAnswer(
            f"x and the updated residual r no longer agree: your last recorded ||r|| is "
            f"{norms[-1]:.3g} (converged), but ||b - A x|| for the x you return is {res:.3g}. "
            "The update of x must take the same step, with the same sign, as the update of r "
            "assumes (see the algorithm box).")
    expect(res <= 1.01 * tol,
           f"not converged: ||b - A x|| = {res:.3g} but rtol * ||b|| = {tol:.3g}. "
           "Stop when ||r|| <= max(rtol * ||b||, atol), not on the change in x.")
    expect_close(norms[-1], res, "the last residual norm", rtol=1e-3,
                 hint="the recorded norm should be ||b - A x|| for the x you return.")
    iters = norms.size - 1
    expect(abs(iters - ref.iterations) <= 1,
           f"took {iters} iterations; exact-line-search steepest descent takes "
           f"{ref.iterations}. Check the step alpha (the exact line search along r, "
           "section 4) and the stopping test.")
    expect(products <= iters + 3,
           f"used {products} products with A for {iters} iterations: one per iteration "
           "is enough if the residual is updated instead of recomputed as b - A x "
           "(see the algorithm box).")
    ref_norms = ref.residual_norms[: min(norms.size, ref.residual_norms.size)]
    expect_close(norms[: ref_norms.size], ref_norms, "the residual norm history", rtol=1e-5,
                 hint="residual_norms should hold ||r_k|| for k = 0, 1, ..., one per iteration.")

    # maxiter is respected: exactly maxiter iterations when not converged.
    x3, norms3, _ = _run_student_sd(steepest_descent, A, b, rtol=rtol, maxiter=3)
    expect(norms3.size == 4,
           f"with maxiter=3, residual_norms should have 4 entries (initial + 3), got {norms3.size}")
    # The default maxiter=None is 10 n: a small problem that cannot converge in 10 n.
    m = 8
    hard = random_spd(m, 1e4, seed=seed + 1)
    _, norms_d, _ = _run_student_sd(steepest_descent, hard.A, hard.b, rtol=1e-12)
    expect(norms_d.size - 1 == 10 * m,
           f"with the default maxiter=None, on a problem of size n = {m} that needs far more "
           f"than 10 n iterations, the contract's default maxiter = 10 n = {10 * m} iterations "
           f"should be taken; yours took {norms_d.size - 1}. See the exercise text.")
    # x0 is used, and the caller's x0 is left unchanged (checked by _run_student_sd).
    x0 = prob.x_true + 1e-3 * np.ones(n)
    _, norms0, _ = _run_student_sd(steepest_descent, A, b, x0=x0, rtol=rtol, maxiter=maxiter)
    expect_close(norms0[0], np.linalg.norm(b - A @ x0), "residual_norms[0] with x0 given",
                 rtol=1e-8, hint="start from x0 when it is given: r0 = b - A x0.")
    expect(np.linalg.norm(b - A @ _run_student_sd(steepest_descent, A, b, x0=x0, rtol=rtol,
                                                  maxiter=maxiter)[0]) <= 1.01 * tol,
           "with x0 given, the returned x does not solve A x = b to rtol.")
    # Edge cases with r_0 = 0 exactly: x0 the exact solution, and b = 0.
    Ai, bi, xi = integer_spd_problem(6, seed)
    _check_zero_residual_start(steepest_descent, Ai, bi, xi, 6, "x0 equal to the solution")
    _check_zero_residual_start(steepest_descent, Ai, np.zeros(6), None, 6,
                               "b = 0 (and x0 = None)")
    # atol is honoured: a loose absolute tolerance stops early.
    atol = 0.5 * np.linalg.norm(b)
    xa, normsa, _ = _run_student_sd(steepest_descent, A, b, rtol=0.0, atol=atol,
                                    maxiter=maxiter)
    expect(np.linalg.norm(b - A @ xa) <= atol and normsa.size - 1 <= ref.iterations,
           "with rtol=0 and atol given, stop when ||r|| <= atol.")
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
    c, p = _unpack_pair(call_student(fit_power_law, n.copy(), t.copy()), "fit_power_law", "(c, p)")
    if np.isclose(float(c), p_true, rtol=1e-6) and np.isclose(float(p), c_true, rtol=1e-6):
        raise WrongAnswer("you returned (p, c); the contract is (c, p).")
    if np.isclose(float(c), p_true, rtol=1e-6) and np.isclose(float(p), np.log(c_true), rtol=1e-6):
        raise WrongAnswer("you returned the fitted line's (slope, intercept) as they are: the "
                          "contract is (c, p), and the intercept is log c, not c.")
    if np.isclose(float(c), np.log(c_true), rtol=1e-6) or np.isclose(float(c), np.log10(c_true), rtol=1e-6):
        raise WrongAnswer("c is the logarithm of the constant: the intercept of the line in "
                          "(log n, log t) is log c, and the contract asks for c itself.")
    expect_close(p, p_true, "the exponent p", rtol=1e-6,
                 hint="fit a straight line to (log n, log t): its slope is p.")
    expect_close(c, c_true, "the constant c", rtol=1e-6,
                 hint="the intercept of the line is log c.")
    # With noise the answer must be the least-squares fit in log-log.
    t_noisy = t * np.exp(0.1 * rng.standard_normal(n.size))
    slope, intercept = np.polyfit(np.log(n), np.log(t_noisy), 1)
    n_in, t_in = n.copy(), t_noisy.copy()
    c2, p2 = _unpack_pair(call_student(fit_power_law, n_in, t_in), "fit_power_law", "(c, p)")
    _expect_unchanged((n_in, n, "n"), (t_in, t_noisy, "t"))
    expect_close(p2, slope, "the exponent p on noisy data", rtol=1e-6,
                 hint="fit the line by least squares on all the points, not through "
                      "two of them (see the exercise text).")
    expect_close(c2, np.exp(intercept), "the constant c on noisy data", rtol=1e-6,
                 hint="c is the exponential of the fitted line's intercept.")
    passed(f"fit_power_law: recovered p = {p_true:.3f} exactly and the least-squares fit on noisy data.")
