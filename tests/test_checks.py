"""The grading toolkit: checks pass right answers, name the mistake in wrong
ones, forbid library solvers, and stop infinite loops."""

from __future__ import annotations

import nbformat
import numpy as np
import pytest
import scipy.sparse.linalg as spla

import krylov_ref
from krylov_ref.checks import (CountingOperator, NotAllowedError, TimeLimitExceeded,
                               WrongAnswer, call_student, expect_close, forbidden, time_limit)
from krylov_ref.checks.lesson01 import (check_exact_step, check_fit_power_law,
                                        check_quadratic, check_steepest_descent)


# ---------------------------------------------------------------- toolkit

def test_counting_operator_counts_and_refuses_to_become_an_array():
    A = CountingOperator(np.diag([1.0, 2.0]))
    np.testing.assert_allclose(A @ np.ones(2), [1.0, 2.0])
    A @ np.ones((2, 3))
    assert A.count == 4
    with pytest.raises(TypeError, match="use A @ v"):
        np.asarray(A)
    with pytest.raises(ValueError, match="length 2"):
        A @ np.ones(3)


def test_forbidden_blocks_module_attributes_and_imported_names_then_restores():
    from numpy.linalg import solve as imported_solve

    namespace = {"solve": imported_solve, "cg": spla.cg, "other": np.linalg.norm}
    with forbidden(namespaces=[namespace]):
        for call in (lambda: np.linalg.solve(np.eye(2), np.ones(2)),
                     lambda: namespace["solve"](np.eye(2), np.ones(2)),
                     lambda: spla.cg(np.eye(2), np.ones(2)),
                     lambda: namespace["cg"](np.eye(2), np.ones(2)),
                     lambda: krylov_ref.cg(np.eye(2), np.ones(2))):
            with pytest.raises(NotAllowedError, match="not allowed in this exercise"):
                call()
        assert namespace["other"] is np.linalg.norm
    assert np.linalg.solve is imported_solve and namespace["solve"] is imported_solve
    assert namespace["cg"] is spla.cg
    assert krylov_ref.cg(np.eye(2), np.ones(2)).converged


def test_time_limit_stops_an_infinite_loop():
    def spin():
        while True:
            pass

    with pytest.raises(TimeLimitExceeded, match="did not return within 0.2 s"):
        call_student(spin, seconds=0.2)


def test_time_limit_does_not_fire_after_the_block():
    import time

    with time_limit(0.2):
        pass
    time.sleep(0.3)  # an alarm left armed would raise here


def test_not_implemented_passes_through():
    def unanswered(A):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        call_student(unanswered, np.eye(2))


def test_expect_close_explains():
    with pytest.raises(WrongAnswer, match=r"x is off by 1 .*expected \[1.0, 2.0\], got \[1.0, 3.0\]. look"):
        expect_close([1.0, 3.0], [1.0, 2.0], "x", hint="look")
    with pytest.raises(WrongAnswer, match="shape"):
        expect_close([1.0], [1.0, 2.0], "x")
    with pytest.raises(WrongAnswer, match="NaN"):
        expect_close([np.nan, 1.0], [1.0, 2.0], "x")


# ---------------------------------------------------------------- lesson 01

def quadratic_ok(A, b, x):
    return 0.5 * x @ A @ x - b @ x, A @ x - b


@pytest.mark.parametrize("wrong, message", [
    (lambda A, b, x: (0.5 * x @ A @ x - b @ x, b - A @ x), "wrong sign"),
    (lambda A, b, x: (0.5 * x @ A @ x - b @ x, A @ x), "missing"),
    (lambda A, b, x: (x @ A @ x - b @ x, A @ x - b), "factor 1/2"),
    (lambda A, b, x: (0.5 * x @ A @ x + b @ x, A @ x - b), r"\+ b\^T x"),
    (lambda A, b, x: A @ x - b, "pair"),
])
def test_check_quadratic(wrong, message, capsys):
    check_quadratic(quadratic_ok)
    assert "\u2713 quadratic" in capsys.readouterr().out
    with pytest.raises(WrongAnswer, match=message):
        check_quadratic(wrong)


@pytest.mark.parametrize("wrong, message", [
    (lambda A, r, p: (r @ r) / (r @ A @ r), "only"),
    (lambda A, r, p: (p @ p) / (p @ A @ p), "uses p where"),
    (lambda A, r, p: -(r @ p) / (p @ A @ p), "wrong sign"),
    (lambda A, r, p: (p @ A @ p) / (r @ p), "upside down"),
])
def test_check_exact_step(wrong, message):
    check_exact_step(lambda A, r, p: (r @ p) / (p @ (A @ p)))
    with pytest.raises(WrongAnswer, match=message):
        check_exact_step(wrong)


def sd_reference(A, b, x0=None, *, rtol=1e-5, atol=0.0, maxiter=None):
    res = krylov_ref.steepest_descent(A, b, x0, rtol=rtol, atol=atol, maxiter=maxiter)
    return res.x, res.residual_norms


def sd_student(A, b, x0=None, *, rtol=1e-5, atol=0.0, maxiter=None, fixed_step=None,
               recompute=False, stop_on_change=False):
    n = b.shape[0]
    x = np.zeros(n) if x0 is None else np.array(x0, dtype=float)
    maxiter = 10 * n if maxiter is None else maxiter
    tol = max(rtol * np.linalg.norm(b), atol)
    r = b - A @ x
    norms = [np.linalg.norm(r)]
    for _ in range(maxiter):
        if norms[-1] <= tol:
            break
        q = A @ r
        alpha = fixed_step if fixed_step else (r @ r) / (r @ q)
        x_new = x + alpha * r
        r = b - A @ x_new if recompute else r - alpha * q
        norms.append(np.linalg.norm(r))
        if stop_on_change and np.linalg.norm(x_new - x) <= tol:
            x = x_new
            break
        x = x_new
    return x, norms


def test_check_steepest_descent_accepts_correct_solutions(capsys):
    check_steepest_descent(sd_student)
    check_steepest_descent(sd_student, n=30, cond=60.0, seed=11)
    assert "\u2713 steepest_descent" in capsys.readouterr().out


@pytest.mark.parametrize("kwargs, message", [
    ({"recompute": True}, "products with A"),
    ({"fixed_step": 0.01}, "iterations|converged"),
    ({"stop_on_change": True}, "not converged|iterations"),
])
def test_check_steepest_descent_names_the_mistake(kwargs, message):
    with pytest.raises(WrongAnswer, match=message):
        check_steepest_descent(lambda *a, **k: sd_student(*a, **k, **kwargs))


def test_check_steepest_descent_catches_ignored_options():
    def ignores_x0(A, b, x0=None, **kw):
        return sd_student(A, b, None, **kw)

    def ignores_maxiter(A, b, x0=None, *, maxiter=None, **kw):
        return sd_student(A, b, x0, **kw)

    with pytest.raises(WrongAnswer, match="x0"):
        check_steepest_descent(ignores_x0)
    with pytest.raises(WrongAnswer, match="maxiter"):
        check_steepest_descent(ignores_maxiter)


def test_check_steepest_descent_forbids_solvers_and_stops_loops(monkeypatch):
    def uses_solve(A, b, x0=None, **kw):
        return np.linalg.solve(A, b), [1.0]

    def uses_reference(A, b, x0=None, **kw):
        res = krylov_ref.steepest_descent(A, b, x0, **kw)
        return res.x, res.residual_norms

    def never_stops(A, b, x0=None, **kw):
        while True:
            A @ b

    # np.linalg.solve is refused, and so is turning the operator into an array
    with pytest.raises((NotAllowedError, TypeError), match="not allowed|use A @ v"):
        check_steepest_descent(uses_solve)
    with pytest.raises(NotAllowedError, match="steepest_descent"):
        check_steepest_descent(uses_reference)
    monkeypatch.setenv("KRYLOV_REF_TIME_LIMIT", "0.5")
    with pytest.raises(TimeLimitExceeded):
        check_steepest_descent(never_stops)


@pytest.mark.parametrize("wrong, message", [
    (lambda n, t: tuple(np.polyfit(np.log(n), np.log(t), 1)), "polyfit's"),
    (lambda n, t: (np.polyfit(np.log(n), np.log(t), 1)[0],
                   np.exp(np.polyfit(np.log(n), np.log(t), 1)[1])), r"\(p, c\)"),
    (lambda n, t: (np.polyfit(np.log(n), np.log(t), 1)[1], np.polyfit(np.log(n), np.log(t), 1)[0]),
     "logarithm"),
    (lambda n, t: (t[0] / n[0] ** (np.log(t[-1] / t[0]) / np.log(n[-1] / n[0])),
                   np.log(t[-1] / t[0]) / np.log(n[-1] / n[0])), "least squares"),
])
def test_check_fit_power_law(wrong, message):
    def right(n, t):
        p, log_c = np.polyfit(np.log(n), np.log(t), 1)
        return np.exp(log_c), p

    check_fit_power_law(right)
    with pytest.raises(WrongAnswer, match=message):
        check_fit_power_law(wrong)


# ---------------------------------------------------------------- feedback

def test_feedback_preprocessor_redacts_tracebacks_of_hidden_test_cells():
    from krylov_ref.feedback import RedactHiddenTracebacks

    error = nbformat.v4.new_output("error", ename="WrongAnswer", evalue="alpha is upside down",
                                   traceback=["check_exact_step(exact_step, n=17, seed=404)", "..."])
    hidden = nbformat.v4.new_code_cell("### BEGIN HIDDEN TESTS\nsecret()\n### END HIDDEN TESTS",
                                       outputs=[error])
    visible = nbformat.v4.new_code_cell("check_exact_step(exact_step)",
                                        outputs=[nbformat.v4.new_output("error", ename="E", evalue="v",
                                                                        traceback=["visible line"])])
    nb = nbformat.v4.new_notebook(cells=[visible, hidden])
    nb, _ = RedactHiddenTracebacks().preprocess(nb, {})
    assert nb.cells[1].outputs[0].traceback[0] == "WrongAnswer: alpha is upside down"
    assert not any("seed=404" in line for line in nb.cells[1].outputs[0].traceback)
    assert nb.cells[0].outputs[0].traceback == ["visible line"]
