"""The grading toolkit: checks pass right answers, name the mistake in wrong
ones, forbid library solvers, and stop infinite loops."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse.linalg as spla

import krylov_ref
from krylov_ref.checks import (CountingOperator, NotAllowedError, NotAnswered, TimeLimitExceeded,
                               WrongAnswer, call_student, codes_of, expect_close, forbidden,
                               time_limit)
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


# Each wrong answer, the words its message must contain, and the misconception
# it must name (None: a failure the catalogue does not name).
@pytest.mark.parametrize("wrong, message, code", [
    (lambda A, b, x: (0.5 * x @ A @ x - b @ x, b - A @ x), "wrong sign", "gradient_sign"),
    (lambda A, b, x: (0.5 * x @ A @ x - b @ x, A @ x), "missing", "gradient_no_b"),
    (lambda A, b, x: (0.5 * x @ A @ x - b @ x, 2 * A @ x - b), "cancels the 2", "gradient_no_half"),
    (lambda A, b, x: (0.5 * x @ A @ x - b @ x, A @ x / 2 - b), "1/2 A x - b", "gradient_half"),
    (lambda A, b, x: (0.5 * x @ A @ x - b @ x, A * x - b), "entry by entry", "gradient_elementwise"),
    (lambda A, b, x: (x @ A @ x - b @ x, A @ x - b), "factor 1/2", "value_no_half"),
    (lambda A, b, x: (0.5 * x @ A @ x + b @ x, A @ x - b), r"\+ b\^T x", "value_plus_b"),
    (lambda A, b, x: ((x @ A @ x - b @ x) / 2, A @ x - b), "quadratic term only", "value_half_on_both"),
    (lambda A, b, x: (x * (A @ x) / 2 - b * x, A @ x - b), "inner products", "value_elementwise"),
    (lambda A, b, x: (A @ x - b, 0.5 * x @ A @ x - b @ x), r"\(g, f\)", "order_swapped"),
    (lambda A, b, x: A @ x - b, "pair", None),
    (lambda A, b, x: (0.5 * x @ A @ x - b @ x, A @ x - 2 * b), "gradient g is off", None),
])
def test_check_quadratic(wrong, message, code, capsys):
    check_quadratic(quadratic_ok)
    assert "\u2713 quadratic" in capsys.readouterr().out
    with pytest.raises(WrongAnswer, match=message) as info:
        check_quadratic(wrong)
    assert codes_of(info.value) == ((f"01.quadratic.{code}",) if code else ())


@pytest.mark.parametrize("wrong, message, code", [
    (lambda A, r, p: (r @ r) / (r @ A @ r), "only", "residual_only"),
    (lambda A, r, p: (p @ p) / (p @ A @ p), "uses p where", "p_for_r"),
    (lambda A, r, p: (r @ p) / (r @ A @ r), "curvature along r", "denominator_r"),
    (lambda A, r, p: (r @ p) / (p @ p), "matrix is missing", "no_A"),
    (lambda A, r, p: -(r @ p) / (p @ A @ p), "wrong sign", "sign"),
    (lambda A, r, p: (p @ A @ p) / (r @ p), "upside down", "upside_down"),
    (lambda A, r, p: 2 * (r @ p) / (p @ A @ p), "twice", "factor_two"),
    (lambda A, r, p: (r @ p) / (2 * (p @ A @ p)), "half", "factor_two"),
    (lambda A, r, p: abs((r @ p) / (p @ A @ p)), "negative step", "abs_step"),
    (lambda A, r, p: (r @ p) / (p * (A @ p)), "vector of 6 numbers", "elementwise"),
    (lambda A, r, p: 3 * (r @ p) / (p @ A @ p), "alpha is off", None),
])
def test_check_exact_step(wrong, message, code):
    check_exact_step(lambda A, r, p: (r @ p) / (p @ (A @ p)))
    with pytest.raises(WrongAnswer, match=message) as info:
        check_exact_step(wrong)
    assert codes_of(info.value) == ((f"01.exact_step.{code}",) if code else ())


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


@pytest.mark.parametrize("kwargs, message, code", [
    ({"recompute": True}, "products with A", "recomputes_residual"),
    ({"fixed_step": 0.01}, "same step alpha = 0.01 at every iteration", "fixed_step"),
    ({"stop_on_change": True}, "not on the size of the step", "stop_not_on_residual"),
])
def test_check_steepest_descent_names_the_mistake(kwargs, message, code):
    with pytest.raises(WrongAnswer, match=message) as info:
        check_steepest_descent(lambda *a, **k: sd_student(*a, **k, **kwargs))
    assert codes_of(info.value) == (f"01.steepest_descent.{code}",)


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


def _line(u, v):
    """(slope, intercept) of the least-squares line through (u, v)."""
    return tuple(np.polyfit(u, v, 1))


@pytest.mark.parametrize("wrong, message, code", [
    (lambda n, t: _line(np.log(n), np.log(t)), r"fitted line's \(slope, intercept\)", "raw_line"),
    (lambda n, t: (_line(np.log(n), np.log(t))[0], np.exp(_line(np.log(n), np.log(t))[1])),
     r"\(p, c\)", "order_pc"),
    (lambda n, t: (np.exp(_line(np.log(n), np.log(t))[0]), _line(np.log(n), np.log(t))[1]),
     "wrong order", "polyfit_order"),
    (lambda n, t: (_line(np.log(n), np.log(t))[1], _line(np.log(n), np.log(t))[0]), "logarithm",
     "log_c"),
    (lambda n, t: (_line(np.log10(n), np.log10(t))[1], _line(np.log10(n), np.log10(t))[0]),
     "logarithm", "log_c"),
    (lambda n, t: (10 ** _line(np.log(n), np.log(t))[1], _line(np.log(n), np.log(t))[0]),
     "same base", "mixed_bases"),
    (lambda n, t: (np.exp(_line(np.log(t), np.log(n))[1]), _line(np.log(t), np.log(n))[0]),
     "log n against log t", "axes_swapped"),
    (lambda n, t: (np.exp(_line(n, np.log(t))[1]), _line(n, np.log(t))[0]), "both axes",
     "not_log_log"),
    (lambda n, t: (1.0, np.log(n) @ np.log(t) / (np.log(n) @ np.log(n))), "origin",
     "no_intercept"),
    (lambda n, t: (t[0] / n[0] ** (np.log(t[-1] / t[0]) / np.log(n[-1] / n[0])),
                   np.log(t[-1] / t[0]) / np.log(n[-1] / n[0])), "least squares", "two_points"),
    (lambda n, t: (t[1] / n[1] ** (np.log(t[2] / t[1]) / np.log(n[2] / n[1])),
                   np.log(t[2] / t[1]) / np.log(n[2] / n[1])), "two of the points", "two_points"),
    (lambda n, t: (np.mean(t / n ** _line(np.log(n), np.log(t))[0]),
                   _line(np.log(n), np.log(t))[0]), "mean of t / n", "c_refitted"),
    (lambda n, t: (1.0, 2.0), "exponent p is off", None),
])
def test_check_fit_power_law(wrong, message, code):
    def right(n, t):
        p, log_c = np.polyfit(np.log(n), np.log(t), 1)
        return np.exp(log_c), p

    check_fit_power_law(right)
    with pytest.raises(WrongAnswer, match=message) as info:
        check_fit_power_law(wrong)
    assert codes_of(info.value) == ((f"01.fit_power_law.{code}",) if code else ())


# ---------------------------------------------------------------- lesson 01: defaults and edge cases

def sd_variant(A, b, x0=None, *, rtol=1e-5, atol=0.0, maxiter=None, default=None,
               test_at_bottom=False, strict=False, x_minus=False, in_place=False, from_r0=False,
               sum_tol=False, uphill=False, r_plus=False, absolute=False, min_tol=False):
    """Steepest descent with one deliberate departure from the contract."""
    n = b.shape[0]
    if x0 is None:
        x = np.zeros(n)
    else:
        x = x0 if in_place else np.array(x0, dtype=float)
    if maxiter is None:
        maxiter = 10 * n if default is None else default(n)
    r = b - A @ x
    # from_r0: the stopping test relative to ||r0|| instead of ||b|| (the same when x0 = 0).
    scale = 1.0 if absolute else np.linalg.norm(r if from_r0 else b)   # absolute: ||r|| <= rtol
    tol = rtol * scale + atol if sum_tol else max(rtol * scale, atol)   # sum_tol: not the max
    tol = min(rtol * scale, atol) if min_tol else tol
    g = -r  # uphill: steps along the gradient A x - b
    norms = [np.linalg.norm(r)]
    for _ in range(maxiter):
        if not test_at_bottom and (norms[-1] < tol if strict else norms[-1] <= tol):
            break
        if uphill:
            Ag = A @ g
            alpha = (g @ g) / (g @ Ag)
            x = x + alpha * g
            g = g + alpha * Ag
            norms.append(np.linalg.norm(g))
            continue
        q = A @ r
        alpha = (r @ r) / (r @ q)
        if x_minus:
            x -= alpha * r
        elif in_place:
            x += alpha * r
        else:
            x = x + alpha * r
        r = r + alpha * q if r_plus else r - alpha * q   # r_plus: the update's sign flipped
        norms.append(np.linalg.norm(r))
        if test_at_bottom and norms[-1] <= tol:
            break
    return x, norms


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # 0/0 in the wrong variants
@pytest.mark.parametrize("kwargs, message, code", [
    (dict(default=lambda n: 0), r"default maxiter=None.* 10 n = 80 iterations.* took 0\.",
     "default_maxiter"),
    (dict(default=lambda n: 9 * n), r"default maxiter=None.* took 72\.", "default_maxiter"),
    (dict(default=lambda n: None), r"raised TypeError", None),
    (dict(test_at_bottom=True), r"x0 equal to the solution.*NaN.*top of the loop",
     "test_after_step"),
    (dict(strict=True), r"b = 0 .*keep its equality", "strict_inequality"),
    (dict(x_minus=True), r"x and the updated residual r no longer agree", "x_update_sign"),
    (dict(in_place=True), r"changed the caller's `x0` in place", "x0_in_place"),
    (dict(from_r0=True), r"relative to \|\|b\|\|, not to the initial residual", "tol_relative_to_r0"),
    (dict(sum_tol=True), r"the larger of the two, not their sum", "tol_sum"),
    # Told apart by the first step: both raise ||r_1|| alike, only one keeps x and r consistent.
    (dict(uphill=True), r"went uphill, along the gradient", "uphill"),
    (dict(r_plus=True), r"residual update has the wrong sign", "r_update_sign"),
    (dict(absolute=True), r"an absolute test", "tol_absolute"),
    (dict(min_tol=True), r"the loop went on to iteration", "tol_min"),
])
def test_check_steepest_descent_covers_defaults_and_edge_cases(kwargs, message, code):
    sd_variant(np.eye(2), np.ones(2))  # the variants run
    with pytest.raises(WrongAnswer, match=message) as info:
        check_steepest_descent(lambda *a, **k: sd_variant(*a, **k, **kwargs))
    assert codes_of(info.value) == ((f"01.steepest_descent.{code}",) if code else ())


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


def test_forbidden_does_not_import_a_package_yet_blocks_it_if_the_student_does():
    """scikit-learn takes most of a second to import: forbidden() leaves it
    unimported, and replaces its names as its modules load during the call,
    then gives every module the originals back."""
    import subprocess
    import sys

    code = """
import sys, numpy as np
from krylov_ref.checks import forbidden, NotAllowedError
names = ["sklearn.linear_model.Ridge", "sklearn.linear_model.ridge_regression",
         "sklearn.linear_model._ridge.ridge_regression"]
with forbidden(names):
    print("imported by forbidden:", "sklearn" in sys.modules)
    from sklearn.linear_model import ridge_regression
    import sklearn.linear_model._ridge as r
    for f in (ridge_regression, r.ridge_regression):
        try:
            f(np.eye(2), np.ones(2), 1.0)
            print("ran")
        except NotAllowedError:
            print("blocked")
from sklearn.linear_model import ridge_regression
import sklearn.linear_model._ridge as r
print("after:", ridge_regression(np.eye(2), np.ones(2), 1.0), r.ridge_regression(np.eye(2), np.ones(2), 1.0))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split("\n")[:3] == ["imported by forbidden: False", "blocked", "blocked"], out.stdout
    assert "after: [0.5 0.5] [0.5 0.5]" in out.stdout, out.stdout
