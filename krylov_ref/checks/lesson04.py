"""Checks for lesson 04 (how fast CG converges, and when to stop).

Each ``check_*`` runs a student's function on cases with known answers
(computed with :mod:`krylov_ref.convergence` outside the student's call),
raises :class:`~krylov_ref.checks.WrongAnswer` naming the likely mistake, and
prints one line when all is well. Visible tests call them with their
defaults; hidden tests call them with other sizes and seeds.
"""

from __future__ import annotations

import numpy as np

from .. import cg as reference_cg
from ..convergence import anorm_error_estimate as reference_estimate
from ..convergence import chebyshev_bound as reference_bound
from ..convergence import iterations_needed as reference_iterations
from ..problems import random_spd
from . import (StudentCodeError, WrongAnswer, call_student, exercise, expect, expect_close,
               mistake, passed)

__all__ = ["check_chebyshev_bound", "check_iterations_needed", "check_anorm_error_estimate"]

#: The reference answers of this lesson's exercises: a student may not call them.
REFERENCES = (
    "krylov_ref.convergence.chebyshev_bound",
    "krylov_ref.convergence.iterations_needed",
    "krylov_ref.convergence.anorm_error_estimate",
)


# The lesson's headings that explain each point (see MISCONCEPTIONS).
SECTION_BOUND = "2. The Chebyshev bound"
EXERCISE_BOUND = "Exercise 1 — the Chebyshev bound (2 points)"
SECTION_ITERATIONS = "3. Iterations against $\\kappa$: $\\sqrt\\kappa$ against $\\kappa$"
EXERCISE_ITERATIONS = "Exercise 2 — iterations promised by the bound (2 points)"
SECTION_ESTIMATE = "The Hestenes–Stiefel estimate of the A-norm error"
EXERCISE_ESTIMATE = "Exercise 3 — the Hestenes–Stiefel estimate (4 points)"

CB, IN, EE = "04.chebyshev_bound.", "04.iterations_needed.", "04.anorm_error_estimate."

#: The named mistakes the checks recognise: code -> (description, section).
MISCONCEPTIONS = {
    # Exercise 1
    CB + "kappa_not_sqrt": (
        "kappa where sqrt(kappa) belongs: 2 ((kappa - 1)/(kappa + 1))^k, steepest descent's rate",
        SECTION_BOUND),
    CB + "steepest_descent_bound": (
        "steepest descent's bound ((kappa - 1)/(kappa + 1))^k: no square root and no factor 2",
        SECTION_BOUND),
    CB + "missing_factor_2": ("the factor 2 of the bound left out", EXERCISE_BOUND),
    CB + "rate_inverted": ("the rate upside down: (sqrt(kappa) + 1)/(sqrt(kappa) - 1) > 1",
                           SECTION_BOUND),
    CB + "sqrt_misplaced": (
        "the square root over the whole ratio: sqrt((kappa - 1)/(kappa + 1))^k", SECTION_BOUND),
    CB + "exponent_2k": ("the exponent 2k instead of k", EXERCISE_BOUND),
    CB + "exact_chebyshev": (
        "the sharper 1/T_k((kappa + 1)/(kappa - 1)) returned instead of the asked-for 2 rho^k",
        EXERCISE_BOUND),
    CB + "capped_at_1": ("the bound capped at 1, so k = 0 (and small k) give 1 instead of 2 rho^k",
                         EXERCISE_BOUND),
    CB + "not_vectorised": (
        "math functions or a test on k: fails when k is a NumPy array", EXERCISE_BOUND),
    # Exercise 2
    IN + "rounded_down": ("the count rounded down (floor or int()) instead of up", EXERCISE_ITERATIONS),
    IN + "one_too_many": ("one iteration too many (ceil(...) + 1, or a loop that counts one more)",
                          EXERCISE_ITERATIONS),
    IN + "missing_factor_2": ("the factor 2 of the bound left out: rho^k <= rtol solved",
                              SECTION_ITERATIONS),
    IN + "factor_2_wrong_side": ("rho^k <= 2 rtol solved instead of rho^k <= rtol / 2",
                                 SECTION_ITERATIONS),
    IN + "kappa_not_sqrt": ("steepest descent's rate (kappa - 1)/(kappa + 1) used instead of CG's",
                            SECTION_ITERATIONS),
    IN + "steepest_descent_count": (
        "the count for steepest descent's bound ((kappa - 1)/(kappa + 1))^k <= rtol: no square "
        "root, no factor 2", SECTION_ITERATIONS),
    IN + "not_rounded": ("the real solution log(rtol/2)/log(rho) returned, not rounded to an integer",
                         EXERCISE_ITERATIONS),
    IN + "float_not_int": ("a float returned (np.ceil's float64, say) where an int is asked for",
                           EXERCISE_ITERATIONS),
    IN + "negative_for_large_rtol": (
        "a negative count for rtol > 2 (the logarithm formula without max(0, ...))",
        EXERCISE_ITERATIONS),
    IN + "strict_inequality": ("the inequality made strict: rtol = 2 exactly gives 1 instead of 0",
                               EXERCISE_ITERATIONS),
    IN + "zero_for_rtol_below_2": (
        "0 returned for some rtol < 2 (an early return at rtol >= 1, say), though the bound at "
        "k = 0 is 2", EXERCISE_ITERATIONS),
    # Exercise 3
    EE + "squares_returned": ("the squared estimates returned, without the square root",
                              EXERCISE_ESTIMATE),
    EE + "residual_index_shift": ("alpha_j paired with ||r_{j+1}|| instead of ||r_j||",
                                  EXERCISE_ESTIMATE),
    EE + "window_starts_late": ("each window starts at j = k + 1 instead of j = k", SECTION_ESTIMATE),
    EE + "window_too_long": ("windows of d + 1 terms", SECTION_ESTIMATE),
    EE + "window_too_short": ("windows of d - 1 terms", SECTION_ESTIMATE),
    EE + "alpha_missing": ("the step lengths alpha_j left out of the terms", SECTION_ESTIMATE),
    EE + "norms_unsquared": ("alpha_j ||r_j|| summed: the residual norms not squared",
                             SECTION_ESTIMATE),
    EE + "window_mean": ("the mean of each window (a moving average) instead of its sum",
                         SECTION_ESTIMATE),
    EE + "sum_to_end": ("each estimate sums to the end of the run instead of d terms",
                        SECTION_ESTIMATE),
    EE + "one_estimate_short": ("m - d estimates instead of m - d + 1 (off-by-one in the range)",
                                EXERCISE_ESTIMATE),
    EE + "incomplete_windows": ("m estimates returned: the last d - 1 from incomplete windows",
                                EXERCISE_ESTIMATE),
    EE + "cumsum_cancellation": (
        "window sums as differences of a forward cumulative sum, which cancel once the error is "
        "small", EXERCISE_ESTIMATE),
    EE + "m_from_residual_norms": (
        "the number of steps taken from len(residual_norms) - 1 instead of len(alphas)",
        EXERCISE_ESTIMATE),
    EE + "lists_not_converted": ("alphas or residual_norms not converted: fails on lists",
                                 EXERCISE_ESTIMATE),
    EE + "input_modified": ("the caller's alphas or residual_norms changed in place",
                            EXERCISE_ESTIMATE),
}


def _rate(kappa):
    s = np.sqrt(kappa)
    return (s - 1) / (s + 1)


def _same(got, want, rtol=1e-9):
    got = np.asarray(got, dtype=float)
    want = np.asarray(want, dtype=float)
    return got.shape == want.shape and bool(np.all(np.isfinite(got))) and bool(
        np.allclose(got, want, rtol=rtol, atol=0.0))


# --------------------------------------------------------------------------
# Exercise 1


def _number(value, what):
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise WrongAnswer(f"{what} should be a number, got {type(value).__name__}") from None
    expect(arr.shape == (), f"{what} should be a single number when k is a number, "
                            f"got an array of shape {arr.shape}")
    return float(arr)


@exercise(1, "chebyshev_bound", reference=reference_bound)
def check_chebyshev_bound(chebyshev_bound, seed=0):
    """Check ``chebyshev_bound(kappa, k) -> 2 ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))**k``,
    for a number ``k`` and for an array of ``k``."""
    rng = np.random.default_rng(seed)
    kappas = [float(rng.uniform(3.0, 30.0)), float(10 ** rng.uniform(2.0, 3.0)),
              float(10 ** rng.uniform(4.0, 6.0))]
    for kappa in kappas:
        k = int(rng.integers(3, 12))
        got = _number(call_student(chebyshev_bound, kappa, k, forbid=REFERENCES),
                      f"chebyshev_bound({kappa:.4g}, {k})")
        want = reference_bound(kappa, k)
        if np.isclose(got, want, rtol=1e-9):
            continue
        sd = (kappa - 1) / (kappa + 1)
        wrong = [
            (2 * sd ** k, "kappa_not_sqrt",
             "you used kappa where sqrt(kappa) belongs: (kappa - 1)/(kappa + 1) is "
             "steepest descent's rate; CG's has the square root (section 2)."),
            (sd ** k, "steepest_descent_bound",
             "you used kappa where sqrt(kappa) belongs (that is steepest descent's rate), "
             "and the factor 2 is missing."),
            (want / 2, "missing_factor_2", "the factor 2 is missing (see the formula in the exercise text)."),
            (2 / _rate(kappa) ** k, "rate_inverted",
             "the rate is upside down: (sqrt(kappa) - 1)/(sqrt(kappa) + 1) is "
             "less than 1, so the bound decreases with k."),
            (2 * np.sqrt(sd) ** k, "sqrt_misplaced",
             "the square root covers the whole ratio, sqrt((kappa - 1)/(kappa + 1)); it belongs "
             "on kappa alone: (sqrt(kappa) - 1)/(sqrt(kappa) + 1) (section 2)."),
            (1 / np.cosh(k * np.arccosh((kappa + 1) / (kappa - 1))), "exact_chebyshev",
             "you returned the exact Chebyshev min-max 1/T_k((kappa + 1)/(kappa - 1)). It is a "
             "sharper bound, but the exercise asks for the simpler one of the boxed formula "
             "(its right-hand side)."),
            (2 * _rate(kappa) ** (2 * k), "exponent_2k", "the exponent should be k, not 2k."),
            (min(want, 1.0), "capped_at_1",
             "the bound is capped at 1. Return the formula as it is, even where it exceeds 1 "
             "(it says nothing there, but that is the bound the exercise asks for)."),
        ]
        for value, code, message in wrong:
            if np.isclose(got, value, rtol=1e-9):
                raise mistake(CB + code, f"chebyshev_bound({kappa:.4g}, {k}) = {got:.6g}, expected "
                              f"{want:.6g}: " + message)
        expect_close(got, want, f"chebyshev_bound({kappa:.4g}, {k})", rtol=1e-9,
                     hint="compare with the formula in the exercise text.")

    kappa = kappas[0]
    got0 = _number(call_student(chebyshev_bound, kappa, 0, forbid=REFERENCES),
                   f"chebyshev_bound({kappa:.4g}, 0)")
    expect(np.isclose(got0, 2.0, rtol=1e-12),
           f"chebyshev_bound(kappa, 0) should be 2 (the formula with k = 0), got {got0:.6g}. "
           "The bound is only informative for k large enough to bring it below 1"
           + (", but it is not capped at 1." if got0 == 1.0 else "."),
           CB + "capped_at_1" if got0 == 1.0 else None)

    ks = np.arange(0, 40, 3)
    try:
        got = call_student(chebyshev_bound, kappa, ks.copy(), forbid=REFERENCES)
    except StudentCodeError as exc:  # the student's code failed on an array: say so plainly
        cause = exc.__cause__
        report = mistake(
            CB + "not_vectorised",
            f"chebyshev_bound(kappa, k) failed when k is an array ({type(cause).__name__}: "
            f"{cause}). The contract asks for k given as a number or as a NumPy array: NumPy "
            "arithmetic works for both, while the math module's functions or a test such as "
            "`if k ...` do not.")
        report.detail_lines = exc.detail_lines
        raise report from exc
    got = np.asarray(got, dtype=float)
    expect(got.shape == ks.shape,
           f"with an array k of shape {ks.shape}, chebyshev_bound should return an array of the "
           f"same shape (one bound per k), got shape {got.shape}.")
    expect_close(got, reference_bound(kappa, ks), "chebyshev_bound for an array of k", rtol=1e-9,
                 hint="each entry should be the bound for the corresponding k.")
    passed(f"chebyshev_bound: correct for kappa = {', '.join(f'{x:.3g}' for x in kappas)}, "
           "at k = 0 and for an array of k.")


# --------------------------------------------------------------------------
# Exercise 2


def _cases_away_from_ties(rng, count):
    """(kappa, rtol) pairs whose exact answer is not within rounding of a tie."""
    cases = []
    ranges = [(3.0, 30.0), (1e2, 1e3), (1e3, 1e5), (1e5, 1e7)]
    while len(cases) < count:
        lo, hi = ranges[len(cases) % len(ranges)]
        kappa = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        rtol = float(10 ** rng.uniform(-12, -2))
        x = np.log(rtol / 2) / np.log(_rate(kappa))
        if abs(x - round(x)) > 1e-3:
            cases.append((kappa, rtol))
    return cases


def _as_count(value, what):
    try:
        x = float(np.asarray(value, dtype=float))
    except (TypeError, ValueError):
        raise WrongAnswer(f"{what} should be an integer, got {type(value).__name__}") from None
    expect(np.isfinite(x) and x == np.round(x),
           f"{what} = {x!r} is not a whole number: return an integer number of iterations "
           "(rounded up, see the hint).", IN + "not_rounded" if np.isfinite(x) else None)
    expect(isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)),
           f"{what} returned {x:g} as {type(value).__name__}; the contract asks for an int "
           "(a count of iterations): convert the result to a Python int.",
           IN + "float_not_int" if isinstance(value, (float, np.floating)) else None)
    return int(round(x))


@exercise(2, "iterations_needed", reference=reference_iterations)
def check_iterations_needed(iterations_needed, seed=1):
    """Check ``iterations_needed(kappa, rtol)``: the smallest integer ``k >= 0`` with
    ``2 ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))**k <= rtol``."""
    rng = np.random.default_rng(seed)
    cases = _cases_away_from_ties(rng, 4)
    results = []
    for kappa, rtol in cases:
        what = f"iterations_needed({kappa:.4g}, {rtol:.3g})"
        got = _as_count(call_student(iterations_needed, kappa, rtol, forbid=REFERENCES), what)
        results.append((kappa, rtol, got, reference_iterations(kappa, rtol)))
    wrong = [row for row in results if row[2] != row[3]]
    if wrong:
        kappa, rtol, got, want = wrong[0]
        head = (f"iterations_needed({kappa:.4g}, {rtol:.3g}) returned {got}, expected {want}: ")

        def log_ratio(r, rate):
            return np.log(r) / np.log(rate)

        # Each typical mistake as a formula; one that explains every case is named
        # (with both codes where two mistakes are combined).
        mistakes = [
            (lambda kp, rt: int(np.floor(log_ratio(rt / 2, _rate(kp)))), ("rounded_down",),
             f"the bound at k = {got} is {reference_bound(kappa, got):.3g} > rtol. You rounded down "
             "(floor, or int() of a positive number): the smallest integer k above a number "
             "needs rounding up (see the hint)."),
            (lambda kp, rt: reference_iterations(kp, rt) + 1, ("one_too_many",),
             f"the bound at k = {want} is already {reference_bound(kappa, want):.3g} <= rtol, so k is "
             "not the smallest: an off-by-one (ceil(...) + 1, or a loop that counts one step too many)."),
            (lambda kp, rt: int(np.ceil(log_ratio(rt, _rate(kp)))), ("missing_factor_2",),
             "the factor 2 of the bound is missing: the inequality to solve is the one in the "
             "exercise text, with its factor 2."),
            (lambda kp, rt: int(np.ceil(log_ratio(2 * rt, _rate(kp)))), ("factor_2_wrong_side",),
             "the factor 2 went to the wrong side: 2 rho^k <= rtol means rho^k <= rtol / 2, "
             "not rho^k <= 2 rtol (see section 3)."),
            (lambda kp, rt: int(np.floor(log_ratio(rt, _rate(kp)))), ("missing_factor_2", "rounded_down"),
             "the factor 2 of the bound is missing (see the inequality in the exercise text), "
             "and the count is rounded down instead of up."),
            (lambda kp, rt: int(np.ceil(log_ratio(rt / 2, (kp - 1) / (kp + 1)))), ("kappa_not_sqrt",),
             "that is the count for steepest descent's rate (kappa - 1)/(kappa + 1); CG's rate has "
             "the square root (section 2)."),
            (lambda kp, rt: int(np.ceil(log_ratio(rt, (kp - 1) / (kp + 1)))), ("steepest_descent_count",),
             "that is the count for steepest descent's rate (kappa - 1)/(kappa + 1); CG's rate has "
             "the square root (section 2), and the bound has a factor 2."),
        ]
        for formula, codes, message in mistakes:
            if all(row[2] == formula(row[0], row[1]) for row in results):
                raise mistake(IN + codes[0], head + message, *(IN + c for c in codes[1:]))
        if got > want:
            raise WrongAnswer(head + f"the bound is already <= rtol at k = {want}: return the smallest such k.")
        raise WrongAnswer(head + f"the bound at k = {got} is {reference_bound(kappa, got):.3g} > rtol = "
                          f"{rtol:.3g}. k must satisfy the inequality of the exercise text, with "
                          "CG's rate of section 2.")
    # rtol >= 2: the bound at k = 0 is 2, so 0 iterations (also at rtol = 2 exactly,
    # where the bound equals rtol); and just below 2, one or two iterations.
    for kappa, rtol in ((50.0, 2.0), (50.0, 2.5), (50.0, 2.9), (50.0, 3.0), (1e4, 2.05),
                        (1e4, 2.5), (1e4, 1e6)):
        got = _as_count(call_student(iterations_needed, kappa, rtol, forbid=REFERENCES),
                        f"iterations_needed({kappa:g}, {rtol:g})")
        if got == 1 and rtol == 2.0:
            raise mistake(IN + "strict_inequality",
                          f"iterations_needed({kappa:g}, 2) returned 1: at k = 0 the bound is 2, "
                          "equal to rtol, and the inequality 2 rho^k <= rtol allows equality, so "
                          "the answer is 0 (see the exercise text).")
        expect(got == 0, f"iterations_needed({kappa:g}, {rtol:g}) returned {got}: when rtol >= 2 the "
                         "bound at k = 0 (which is 2) is already <= rtol, so the answer is 0. (Is a "
                         "negative count coming out of the logarithm formula, or does the test "
                         "for rtol >= 2 use another threshold? Never return less than 0.)",
               IN + "negative_for_large_rtol" if got < 0 else None)
    for rtol in (1.9, 1.2, 1.0, 0.5):
        want = reference_iterations(50.0, rtol)
        got = _as_count(call_student(iterations_needed, 50.0, rtol, forbid=REFERENCES),
                        f"iterations_needed(50, {rtol:g})")
        expect(got == want, f"iterations_needed(50, {rtol:g}) returned {got}, expected {want}: "
                            "for rtol just below 2 a few iterations are needed (check the "
                            "threshold of any early return, and rounding up).",
               IN + "zero_for_rtol_below_2" if got == 0 else None)
    passed(f"iterations_needed: the smallest sufficient k on {len(cases)} cases "
           f"(kappa up to {max(c[0] for c in cases):.2g}), 0 when rtol >= 2, and rtol near 2.")


# --------------------------------------------------------------------------
# Exercise 3


def _windows(terms, d):
    """Direct window sums of length d (any length of terms >= d)."""
    if d < 1 or terms.size < d:
        return np.empty(0)
    return np.lib.stride_tricks.sliding_window_view(terms, d).sum(axis=1)


def _reference_run(n, cond, seed):
    prob = random_spd(n, cond, seed=seed)
    iterates = [np.zeros(n)]
    res = reference_cg(prob.A, prob.b, rtol=1e-10, maxiter=10 * n,
                       callback=lambda x: iterates.append(x.copy()))
    E = np.array(iterates) - prob.x_true
    errors = np.sqrt(np.einsum("ij,jk,ik->i", E, prob.A, E))
    return res.alphas, res.residual_norms, errors


def _diagnose_estimate(got, alphas, norms, d):
    """Compare ``got`` with the typical wrong formulas on the entries they share."""
    m = alphas.size
    r = norms[:m]
    want = reference_estimate(alphas, norms, d)
    candidates = [
        (want ** 2, "squares_returned",
         "these are the squares of the estimates: est[k] estimates ||e_k||_A "
         "itself (see the contract)."),
        (np.sqrt(_windows(alphas * norms[1:m + 1] ** 2, d)), "residual_index_shift",
         "alpha_j is paired with ||r_{j+1}||; it belongs with ||r_j||, the residual at the start "
         "of step j (residual_norms[j], with residual_norms[0] = ||r_0||)."),
        (np.sqrt(_windows(alphas[1:] * r[1:] ** 2, d)), "window_starts_late",
         "the window starts one step late: est[k] sums j = k, ..., k + d - 1, starting at j = k."),
        (np.sqrt(_windows(alphas * r ** 2, d + 1)), "window_too_long",
         "each window has d + 1 terms: est[k] sums the d terms j = k, ..., k + d - 1."),
        (np.sqrt(_windows(alphas * r ** 2, d - 1)), "window_too_short",
         "each window has d - 1 terms: est[k] sums the d terms j = k, ..., k + d - 1."),
        (np.sqrt(_windows(r ** 2, d)), "alpha_missing",
         "the step lengths alpha_j are missing: the terms are alpha_j ||r_j||^2."),
        (np.sqrt(_windows(alphas * r, d)), "norms_unsquared",
         "the residual norms should be squared: the terms are alpha_j ||r_j||^2."),
        (want / np.sqrt(d), "window_mean",
         "these are the estimates divided by sqrt(d): each window's terms are averaged. "
         "est[k]^2 is their sum (the telescoping sum of the section above)."),
        (np.sqrt(np.cumsum((alphas * r ** 2)[::-1])[::-1][: m - d + 1]), "sum_to_end",
         "each estimate sums everything from j = k to the end; it should stop after d terms "
         "(j = k, ..., k + d - 1)."),
    ]
    if d > 1:
        for value, code, message in candidates:
            L = min(got.size, value.size)
            if L and not _same(got[:L], want[:L]) and _same(got[:L], value[:L]):
                raise mistake(EE + code, f"with d = {d}: {message}")
    L = min(got.size, want.size)
    if L and np.all(np.isfinite(got[:L])):
        good = np.isclose(got[:L], want[:L], rtol=1e-9, atol=0.0)
        large = want[:L] > 1e-3 * want[0]
        if not good.all() and good[large].all():
            raise mistake(
                EE + "cumsum_cancellation",
                f"with d = {d}: the early estimates are right but the late ones, where the error is "
                "tiny, are not. Differences of cumulative sums (np.cumsum) cancel catastrophically "
                "there: sum each window of d terms directly.")


@exercise(3, "anorm_error_estimate", reference=reference_estimate)
def check_anorm_error_estimate(anorm_error_estimate, n=60, cond=1e3, seed=2, d=5):
    """Check ``anorm_error_estimate(alphas, residual_norms, d)``:
    ``est[k] = sqrt(sum_{j=k}^{k+d-1} alpha_j ||r_j||^2)``, ``k = 0..len(alphas) - d``."""
    alphas, norms, errors = _reference_run(n, cond, seed)
    m = alphas.size
    for delay in (d, 1, m):
        a_in, r_in = alphas.copy(), norms.copy()
        got = call_student(anorm_error_estimate, a_in, r_in, delay, forbid=REFERENCES)
        expect(np.array_equal(a_in, alphas) and np.array_equal(r_in, norms),
               "your function changed the caller's alphas or residual_norms in place: leave "
               "the inputs unchanged (work on copies).", EE + "input_modified")
        try:
            got = np.asarray(got, dtype=float)
        except (TypeError, ValueError):
            raise WrongAnswer("anorm_error_estimate should return a 1-D array of numbers, "
                              f"got {type(got).__name__}") from None
        expect(got.ndim == 1, f"anorm_error_estimate should return a 1-D array, got shape {got.shape}")
        want = reference_estimate(alphas, norms, delay)
        _diagnose_estimate(got, alphas, norms, delay)
        if got.size == m and delay > 1 and _same(got[:want.size], want):
            raise mistake(
                EE + "incomplete_windows",
                f"with len(alphas) = {m} and d = {delay} you returned {m} estimates; the last "
                f"{delay - 1} sum fewer than d terms. There are len(alphas) - d + 1 = {want.size}: "
                "est[k] needs the d terms j = k, ..., k + d - 1, so k stops at len(alphas) - d.")
        if got.size == want.size - 1:
            raise mistake(
                EE + "one_estimate_short",
                f"with len(alphas) = {m} and d = {delay} you returned {got.size} estimates; there are "
                f"{want.size}: k runs from 0 to len(alphas) - d inclusive, so the last window "
                "ends exactly at the last alpha (an off-by-one in the range).")
        expect(got.size == want.size,
               f"with len(alphas) = {m} and d = {delay}, expected len(alphas) - d + 1 = {want.size} "
               f"estimates, got {got.size}. (residual_norms has {norms.size} entries: only the first "
               "len(alphas) are used.)")
        expect_close(got, want, f"the estimates with d = {delay}", rtol=1e-9,
                     hint="compare with the formula for est[k] in the exercise text.")
    # Lists (the cg of lesson 03 returns lists), and the caller's arrays left unchanged.
    a_list, r_list = [float(a) for a in alphas], [float(r) for r in norms]
    try:
        got = call_student(anorm_error_estimate, a_list, r_list, d, forbid=REFERENCES)
    except StudentCodeError as exc:  # arrays worked: the lists are the trouble
        cause = exc.__cause__
        report = mistake(
            EE + "lists_not_converted",
            f"anorm_error_estimate failed on alphas and residual_norms given as Python lists, as "
            f"the cg of lesson 03 returns them ({type(cause).__name__}: {cause}). Convert them "
            "with np.asarray first.")
        report.detail_lines = exc.detail_lines
        raise report from exc
    expect(a_list == [float(a) for a in alphas] and r_list == [float(r) for r in norms],
           "your function changed the caller's alphas or residual_norms: leave the inputs "
           "unchanged.", EE + "input_modified")
    expect_close(np.asarray(got, dtype=float).reshape(-1) if got is not None else got,
                 reference_estimate(alphas, norms, d),
                 "the estimates when alphas and residual_norms are Python lists", rtol=1e-9,
                 hint="the contract allows lists as well as arrays: convert them first.")
    # The same answer when residual_norms has exactly len(alphas) entries.
    try:
        got = call_student(anorm_error_estimate, alphas.copy(), norms[:m].copy(), d, forbid=REFERENCES)
    except StudentCodeError as exc:
        if not isinstance(exc.__cause__, IndexError):
            raise
        report = mistake(
            EE + "m_from_residual_norms",
            "anorm_error_estimate failed when residual_norms has exactly len(alphas) entries "
            f"(IndexError: {exc.__cause__}). Only ||r_0||, ..., ||r_(m-1)|| are needed: do not "
            "read residual_norms[len(alphas)].")
        report.detail_lines = exc.detail_lines
        raise report from exc
    want = reference_estimate(alphas, norms, d)
    got_m = np.asarray(got, dtype=float).reshape(-1) if got is not None else got
    if got_m is not None and got_m.size == want.size - 1 and _same(got_m, want[:-1]):
        raise mistake(EE + "m_from_residual_norms",
                      f"with residual_norms of exactly len(alphas) = {m} entries you returned "
                      f"{got_m.size} estimates, one short: the number of steps m is len(alphas); "
                      "residual_norms may have m or more entries (only the first m are used).")
    expect_close(got, reference_estimate(alphas, norms, d),
                 "the estimates when residual_norms has exactly len(alphas) entries", rtol=1e-9,
                 hint="only the first len(alphas) residual norms are used; do not rely on an "
                      "extra last entry.")
    est = reference_estimate(alphas, norms, d)
    ratio = est / errors[: est.size]
    passed(f"anorm_error_estimate: right for d = {d}, 1 and {m} on a CG run of {m} steps (n = {n}); "
           f"a lower bound on the true A-norm errors (est/true between {ratio.min():.2f} and "
           f"{ratio.max():.4f}).")
