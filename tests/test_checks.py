"""The grading toolkit: checks pass right answers, name the mistake in wrong
ones, forbid library solvers, and stop infinite loops."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse.linalg as spla

import krylov_ref
from krylov_ref.checks import (CountingOperator, NotAllowedError, NotAnswered, TimeLimitExceeded,
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


def test_not_implemented_reads_as_not_answered():
    def unanswered(A):
        raise NotImplementedError()

    with pytest.raises(NotAnswered, match="not answered yet: replace `raise NotImplementedError"):
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
    (lambda n, t: tuple(np.polyfit(np.log(n), np.log(t), 1)), r"fitted line's \(slope, intercept\)"),
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


# ---------------------------------------------------------------- lesson 01: defaults and edge cases

def sd_variant(A, b, x0=None, *, rtol=1e-5, atol=0.0, maxiter=None, default=None,
               test_at_bottom=False, strict=False, x_minus=False, in_place=False):
    """Steepest descent with one deliberate departure from the contract."""
    n = b.shape[0]
    if x0 is None:
        x = np.zeros(n)
    else:
        x = x0 if in_place else np.array(x0, dtype=float)
    if maxiter is None:
        maxiter = 10 * n if default is None else default(n)
    tol = max(rtol * np.linalg.norm(b), atol)
    r = b - A @ x
    norms = [np.linalg.norm(r)]
    for _ in range(maxiter):
        if not test_at_bottom and (norms[-1] < tol if strict else norms[-1] <= tol):
            break
        q = A @ r
        alpha = (r @ r) / (r @ q)
        if x_minus:
            x -= alpha * r
        elif in_place:
            x += alpha * r
        else:
            x = x + alpha * r
        r = r - alpha * q
        norms.append(np.linalg.norm(r))
        if test_at_bottom and norms[-1] <= tol:
            break
    return x, norms


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # 0/0 in the wrong variants
@pytest.mark.parametrize("kwargs, message", [
    (dict(default=lambda n: 0), r"default maxiter=None.* 10 n = 80 iterations.* took 0\."),
    (dict(default=lambda n: 9 * n), r"default maxiter=None.* took 72\."),
    (dict(default=lambda n: None), r"raised TypeError"),
    (dict(test_at_bottom=True), r"x0 equal to the solution.*NaN.*top of the loop"),
    (dict(strict=True), r"b = 0 .*keep equality"),
    (dict(x_minus=True), r"x and the updated residual r no longer agree"),
    (dict(in_place=True), r"changed the caller's `x0` in place"),
])
def test_check_steepest_descent_covers_defaults_and_edge_cases(kwargs, message):
    sd_variant(np.eye(2), np.ones(2))  # the variants run
    with pytest.raises(WrongAnswer, match=message):
        check_steepest_descent(lambda *a, **k: sd_variant(*a, **k, **kwargs))


def test_check_steepest_descent_accepts_the_contract_variant(capsys):
    check_steepest_descent(sd_variant)
    check_steepest_descent(sd_variant, n=73, cond=12.0, seed=3141)
    check_steepest_descent(sd_variant, n=25, cond=80.0, seed=2718)
    assert capsys.readouterr().out.count("\u2713 steepest_descent") == 3


@pytest.mark.parametrize("check, wrong", [
    (check_quadratic, lambda A, b, x: (x @ A @ x - b @ x, A @ x)),
    (check_quadratic, lambda A, b, x: (0.5 * x @ A @ x, A @ x - b)),
    (check_quadratic, lambda A, b, x: (0.5 * x @ A @ x - b @ x, A @ x - 2 * b)),
    (check_exact_step, lambda A, r, p: (r @ p) / (p @ p)),
    (check_exact_step, lambda A, r, p: 2 * (r @ p) / (p @ A @ p)),
    (check_fit_power_law, lambda n, t: (1.0, 2.0)),
    (check_steepest_descent, lambda A, b, x0=None, **k: sd_variant(A, b, x0, x_minus=True, **k)),
])
def test_lesson01_messages_point_to_the_text_and_contain_no_code(check, wrong):
    with pytest.raises(WrongAnswer) as info:
        check(wrong)
    message = str(info.value)
    for code in (" @ ", "np.", "0.5 *", "polyfit"):
        assert code not in message, message


def test_check_quadratic_and_exact_step_refuse_in_place_changes():
    def quadratic_in_place(A, b, x):
        b *= 1.0
        x += 0.0
        A[0, 0] += 1.0
        return 0.5 * x @ A @ x - b @ x, A @ x - b

    with pytest.raises(WrongAnswer, match="changed the caller's `A`"):
        check_quadratic(quadratic_in_place)


def test_forbidden_imports_everything_before_patching_anything(tmp_path, monkeypatch):
    """A module first imported while forbidden() resolves its names must not
    keep a stub of an earlier name for good."""
    import importlib
    import sys

    (tmp_path / "late_module.py").write_text(
        "import scipy.sparse.linalg\nsolver = scipy.sparse.linalg.cg\ndef f():\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("late_module", None)
    with forbidden(["scipy.sparse.linalg.cg", "late_module.f"]):
        pass
    late = importlib.import_module("late_module")
    assert late.solver is spla.cg
