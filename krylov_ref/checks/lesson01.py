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
    CountingOperator, WrongAnswer, call_student, expect, expect_close, passed,
)

__all__ = ["check_quadratic", "check_exact_step", "check_steepest_descent",
           "check_fit_power_law"]


def _unpack_pair(value, what, names):
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise WrongAnswer(f"{what} should return a pair {names}, got {type(value).__name__}"
                          + (f" of length {len(value)}" if hasattr(value, "__len__") else ""))
    return value


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
        f, g = _unpack_pair(call_student(quadratic, A, b, x.copy()), "quadratic", "(f, g)")
        f_got = np.asarray(f, dtype=float)
        expect(f_got.shape == (), f"f should be a number (a scalar), got shape {f_got.shape}")
        g_arr = np.asarray(g, dtype=float)
        if g_arr.shape == (n,):
            if np.allclose(g_arr, -g_want, rtol=1e-8):
                raise WrongAnswer("the gradient has the wrong sign: grad f(x) = A x - b. "
                                  "(b - A x is the residual, the *negative* gradient.)")
            if np.allclose(g_arr, A @ x, rtol=1e-8):
                raise WrongAnswer("the gradient is A x: the '- b' from the linear term is missing.")
            if np.allclose(g_arr, 2 * (A @ x) - b, rtol=1e-8):
                raise WrongAnswer("the gradient is 2 A x - b: the 1/2 in f cancels the 2 "
                                  "from differentiating x^T A x (for symmetric A).")
        expect_close(g, g_want, "the gradient g", hint="g should be A @ x - b.")
        if np.isclose(f_got, x @ A @ x - b @ x, rtol=1e-10):
            raise WrongAnswer("f is x^T A x - b^T x: the factor 1/2 on the quadratic term is missing.")
        if np.isclose(f_got, 0.5 * x @ A @ x + b @ x, rtol=1e-10):
            raise WrongAnswer("f has + b^T x: the linear term should be subtracted.")
        expect_close(f, f_want, "the value f", hint="f should be 0.5 * x @ A @ x - b @ x.")
    passed(f"quadratic: value and gradient correct on 3 problems of size {n}.")


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
        alpha = call_student(exact_step, A, r.copy(), p.copy())
        got = np.asarray(alpha, dtype=float)
        expect(got.shape == (), f"exact_step should return a number, got shape {got.shape}")
        if trial and np.isclose(got, (r @ r) / (r @ A @ r), rtol=1e-10):
            raise WrongAnswer("alpha = r^T r / r^T A r is the step along the residual only. "
                              "For a general direction p, set d/dalpha f(x + alpha p) = 0: "
                              "alpha = r^T p / p^T A p.")
        if np.isclose(got, (p @ p) / (p @ A @ p), rtol=1e-10) and not np.isclose(got, want):
            raise WrongAnswer("alpha = p^T p / p^T A p uses p where the residual r belongs: "
                              "alpha = r^T p / p^T A p.")
        if np.isclose(got, -want, rtol=1e-10):
            raise WrongAnswer("alpha has the wrong sign: with r = b - A x, alpha = + r^T p / p^T A p.")
        if np.isclose(got, 1 / want, rtol=1e-10) and not np.isclose(got, want):
            raise WrongAnswer("alpha is upside down: alpha = r^T p / p^T A p.")
        expect_close(got, want, "alpha", hint="alpha = r^T p / p^T A p minimises f(x + alpha p).")
    passed("exact_step: the exact line-search step is right, also for p != r.")


def _run_student_sd(steepest_descent, A, b, **kwargs):
    op = CountingOperator(A)
    out = call_student(steepest_descent, op, b.copy(), **kwargs)
    x, norms = _unpack_pair(out, "steepest_descent", "(x, residual_norms)")
    norms = np.asarray(norms, dtype=float)
    expect(norms.ndim == 1 and norms.size >= 1,
           "residual_norms should be a 1-D list of norms, the initial residual first")
    expect(np.all(np.isfinite(norms)), "residual_norms contains NaN or inf")
    return np.asarray(x, dtype=float), norms, op.count


def check_steepest_descent(steepest_descent, n=40, cond=30.0, seed=2):
    """Check ``steepest_descent(A, b, x0=None, *, rtol, atol, maxiter)``
    ``-> (x, residual_norms)`` against :func:`krylov_ref.steepest_descent`."""
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
    expect(res <= 1.01 * tol,
           f"not converged: ||b - A x|| = {res:.3g} but rtol * ||b|| = {tol:.3g}. "
           "Stop when ||r|| <= max(rtol * ||b||, atol), not on the change in x.")
    expect_close(norms[-1], res, "the last residual norm", rtol=1e-3,
                 hint="the recorded norm should be ||b - A x|| for the x you return.")
    iters = norms.size - 1
    expect(abs(iters - ref.iterations) <= 1,
           f"took {iters} iterations; exact-line-search steepest descent takes "
           f"{ref.iterations}. Check the step alpha = r^T r / r^T A r and the stopping test.")
    expect(products <= iters + 3,
           f"used {products} products with A for {iters} iterations: one per iteration "
           "is enough if you update r -= alpha * (A r) instead of recomputing b - A x.")
    ref_norms = ref.residual_norms[: min(norms.size, ref.residual_norms.size)]
    expect_close(norms[: ref_norms.size], ref_norms, "the residual norm history", rtol=1e-5,
                 hint="residual_norms should hold ||r_k|| for k = 0, 1, ..., one per iteration.")

    # maxiter is respected: exactly maxiter iterations when not converged.
    x3, norms3, _ = _run_student_sd(steepest_descent, A, b, rtol=rtol, maxiter=3)
    expect(norms3.size == 4,
           f"with maxiter=3, residual_norms should have 4 entries (initial + 3), got {norms3.size}")
    # x0 is used.
    x0 = prob.x_true + 1e-3 * np.ones(n)
    _, norms0, _ = _run_student_sd(steepest_descent, A, b, x0=x0.copy(), rtol=rtol,
                                   maxiter=maxiter)
    expect_close(norms0[0], np.linalg.norm(b - A @ x0), "residual_norms[0] with x0 given",
                 rtol=1e-8, hint="start from x0 when it is given: r0 = b - A x0.")
    # atol is honoured: a loose absolute tolerance stops early.
    atol = 0.5 * np.linalg.norm(b)
    xa, normsa, _ = _run_student_sd(steepest_descent, A, b, rtol=0.0, atol=atol,
                                    maxiter=maxiter)
    expect(np.linalg.norm(b - A @ xa) <= atol and normsa.size - 1 <= ref.iterations,
           "with rtol=0 and atol given, stop when ||r|| <= atol.")
    passed(f"steepest_descent: converged in {iters} iterations on n={n}, cond={cond:g}, "
           "matching the reference; maxiter, x0 and atol respected.")


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
        raise WrongAnswer("you returned np.polyfit's [slope, intercept] as it is: "
                          "return c = exp(intercept) first, then p = slope.")
    if np.isclose(float(c), np.log(c_true), rtol=1e-6) or np.isclose(float(c), np.log10(c_true), rtol=1e-6):
        raise WrongAnswer("c is the logarithm of the constant: return c = exp(intercept) "
                          "(or 10**intercept if you fitted log10).")
    expect_close(p, p_true, "the exponent p", rtol=1e-6,
                 hint="fit a straight line to (log n, log t): its slope is p.")
    expect_close(c, c_true, "the constant c", rtol=1e-6,
                 hint="the intercept of the line is log c.")
    # With noise the answer must be the least-squares fit in log-log.
    t_noisy = t * np.exp(0.1 * rng.standard_normal(n.size))
    slope, intercept = np.polyfit(np.log(n), np.log(t_noisy), 1)
    c2, p2 = call_student(fit_power_law, n.copy(), t_noisy.copy())
    expect_close(p2, slope, "the exponent p on noisy data", rtol=1e-6,
                 hint="use least squares on all points (np.polyfit(log n, log t, 1)), "
                      "not the first and last point only.")
    expect_close(c2, np.exp(intercept), "the constant c on noisy data", rtol=1e-6)
    passed(f"fit_power_law: recovered p = {p_true:.3f} exactly and the least-squares fit on noisy data.")
