"""Lesson 04 checks: right answers pass (two different correct implementations
each), typical wrong answers are rejected with a message naming the mistake,
and the reference functions cannot be called in their place."""

from __future__ import annotations

import math

import numpy as np
import pytest

from krylov_ref.checks import NotAllowedError, WrongAnswer, codes_of
from krylov_ref.checks.lesson04 import (MISCONCEPTIONS, check_anorm_error_estimate,
                                        check_chebyshev_bound, check_iterations_needed)

# Codes the tests below assert, collected to check that every catalogued
# misconception is named by a wrong implementation written here (independently
# of the catalogue's patches of the solution, which scripts/misconceptions.py grades).
ASSERTED = set()


def expect_named(codes, check, func, match):
    """``check`` rejects ``func`` with a message matching ``match`` that names
    exactly ``codes`` (a code, a tuple of codes, or None for none), in at most 12 lines."""
    with pytest.raises(WrongAnswer, match=match) as failure:
        check(func)
    assert len(failure.value._render_traceback_()) <= 12, str(failure.value)
    codes = (codes,) if isinstance(codes, str) else tuple(codes or ())
    assert codes_of(failure.value) == codes, str(failure.value)


# ---------------------------------------------------------------- chebyshev_bound

def bound_numpy(kappa, k):
    s = np.sqrt(kappa)
    return 2 * ((s - 1) / (s + 1)) ** k


def bound_exp_log(kappa, k):
    # A different but valid ordering: exp(k log rate), vectorised by np.asarray.
    rate = (math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)
    out = 2 * np.exp(np.asarray(k) * np.log(rate))
    return float(out) if np.ndim(out) == 0 else out


@pytest.mark.parametrize("right", [bound_numpy, bound_exp_log])
def test_check_chebyshev_bound_accepts_correct_answers(right, capsys):
    check_chebyshev_bound(right)
    check_chebyshev_bound(right, seed=11)
    assert "\u2713 chebyshev_bound" in capsys.readouterr().out


def _sd(kappa, k):
    return 2 * ((kappa - 1) / (kappa + 1)) ** k


BOUND_MISTAKES = [
    (_sd, "kappa where sqrt\\(kappa\\) belongs", "kappa_not_sqrt"),
    (lambda kappa, k: ((kappa - 1) / (kappa + 1)) ** k, "factor 2 is missing", "steepest_descent_bound"),
    (lambda kappa, k: bound_numpy(kappa, k) / 2, "factor 2 is missing", "missing_factor_2"),
    (lambda kappa, k: 2 * ((np.sqrt(kappa) + 1) / (np.sqrt(kappa) - 1)) ** k, "upside down",
     "rate_inverted"),
    (lambda kappa, k: 2 * np.power(np.sqrt((kappa - 1) / (kappa + 1)), k), "covers the whole ratio",
     "sqrt_misplaced"),
    (lambda kappa, k: 1 / np.cosh(k * np.arccosh((kappa + 1) / (kappa - 1))), "exact Chebyshev min-max",
     "exact_chebyshev"),
    (lambda kappa, k: bound_numpy(kappa, 2 * k), "not 2k", "exponent_2k"),
    (lambda kappa, k: np.clip(bound_numpy(kappa, k), 0.0, 1.0), "capped at 1", "capped_at_1"),
    (lambda kappa, k: 1.0 if np.all(k == 0) else bound_numpy(kappa, k), "should be 2", "capped_at_1"),
    (lambda kappa, k: 2 * ((math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)) ** k if k > 0 else 2.0,
     "failed when k is an array", "not_vectorised"),
    (lambda kappa, k: [bound_numpy(kappa, int(np.ravel(k)[0]))] * np.size(k)
     if np.ndim(k) else bound_numpy(kappa, k), "array of k", None),
    (lambda kappa, k: bound_numpy(kappa, k).sum() if np.ndim(k) else bound_numpy(kappa, k),
     "same shape", None),
]


@pytest.mark.parametrize("wrong, message, code", BOUND_MISTAKES)
def test_check_chebyshev_bound_names_the_mistake(wrong, message, code):
    expect_named(code and f"04.chebyshev_bound.{code}", check_chebyshev_bound, wrong, message)


ASSERTED |= {f"04.chebyshev_bound.{code}" for _, _, code in BOUND_MISTAKES if code}


def test_check_chebyshev_bound_forbids_the_reference():
    def cheat(kappa, k):
        from krylov_ref.convergence import chebyshev_bound
        return chebyshev_bound(kappa, k)

    with pytest.raises(NotAllowedError, match="not allowed"):
        check_chebyshev_bound(cheat)


# ---------------------------------------------------------------- iterations_needed

def needed_formula(kappa, rtol):
    if rtol >= 2:
        return 0
    rho = (np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)
    return int(np.ceil(np.log(rtol / 2) / np.log(rho)))


def needed_loop(kappa, rtol):
    rho = (np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)
    k = 0
    while 2 * rho ** k > rtol:
        k += 1
    return k


@pytest.mark.parametrize("right", [needed_formula, needed_loop])
def test_check_iterations_needed_accepts_correct_answers(right, capsys):
    check_iterations_needed(right)
    check_iterations_needed(right, seed=7)
    assert "\u2713 iterations_needed" in capsys.readouterr().out


def _rho(kappa):
    return (np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)


def _sd_rate(kappa):
    return (kappa - 1) / (kappa + 1)


def needed_loop_strict(kappa, rtol):
    rho, k = _rho(kappa), 0
    while 2 * rho ** k >= rtol:
        k += 1
    return k


NEEDED_MISTAKES = [
    (lambda kappa, rtol: int(np.floor(np.log(rtol / 2) / np.log(_rho(kappa)))), "rounded down",
     "rounded_down"),
    (lambda kappa, rtol: int(np.log(rtol / 2) / np.log(_rho(kappa))), "rounded down", "rounded_down"),
    (lambda kappa, rtol: needed_formula(kappa, rtol) + 1, "not the smallest", "one_too_many"),
    (lambda kappa, rtol: int(np.ceil(np.log(rtol) / np.log(_rho(kappa)))), "factor 2",
     "missing_factor_2"),
    (lambda kappa, rtol: int(np.floor(np.log(rtol) / np.log(_rho(kappa)))), "factor 2.*rounded down",
     ("missing_factor_2", "rounded_down")),
    (lambda kappa, rtol: math.ceil(math.log(2 * rtol) / math.log(_rho(kappa))), "wrong side",
     "factor_2_wrong_side"),
    (lambda kappa, rtol: int(np.ceil(np.log(rtol / 2) / np.log(_sd_rate(kappa)))),
     "steepest descent", "kappa_not_sqrt"),
    (lambda kappa, rtol: int(np.ceil(np.log(rtol) / np.log(_sd_rate(kappa)))),
     "steepest descent.*factor 2", "steepest_descent_count"),
    (lambda kappa, rtol: int(np.ceil(np.log(rtol / 2) / np.log(_rho(kappa)))), "rtol >= 2",
     "negative_for_large_rtol"),
    (needed_loop_strict, "allows equality", "strict_inequality"),
    (lambda kappa, rtol: 0 if rtol > 1 else needed_loop(kappa, rtol), "rtol just below 2",
     "zero_for_rtol_below_2"),
    (lambda kappa, rtol: np.log(rtol / 2) / np.log(_rho(kappa)), "not a whole number", "not_rounded"),
    (lambda kappa, rtol: 10, "iterations_needed", None),
]


@pytest.mark.parametrize("wrong, message, codes", NEEDED_MISTAKES)
def test_check_iterations_needed_names_the_mistake(wrong, message, codes):
    codes = (codes,) if isinstance(codes, str) else codes or ()
    expect_named(tuple(f"04.iterations_needed.{c}" for c in codes), check_iterations_needed, wrong,
                 message)


ASSERTED |= {f"04.iterations_needed.{c}" for _, _, codes in NEEDED_MISTAKES
             for c in ((codes,) if isinstance(codes, str) else codes or ())}


def test_check_iterations_needed_forbids_the_reference():
    import krylov_ref.convergence as conv

    with pytest.raises(NotAllowedError):
        check_iterations_needed(lambda kappa, rtol: conv.iterations_needed(kappa, rtol))


# ---------------------------------------------------------------- anorm_error_estimate

def estimate_loop(alphas, residual_norms, d):
    alphas = np.asarray(alphas, dtype=float)
    m = alphas.size
    terms = alphas * np.asarray(residual_norms, dtype=float)[:m] ** 2
    return np.sqrt(np.array([terms[k:k + d].sum() for k in range(m - d + 1)]))


def estimate_convolve(alphas, residual_norms, d):
    m = len(alphas)
    terms = np.asarray(alphas) * np.asarray(residual_norms[:m]) ** 2
    return np.sqrt(np.convolve(terms, np.ones(d), mode="valid"))


def estimate_reverse_tail_sums(alphas, residual_norms, d):
    # Tail sums S_k = sum_{j >= k}: est^2 = S_k - S_{k+d}. The subtracted tail is
    # the smaller part, so this is accurate too (unlike forward cumulative sums).
    m = len(alphas)
    terms = np.asarray(alphas) * np.asarray(residual_norms[:m]) ** 2
    tails = np.append(np.cumsum(terms[::-1])[::-1], 0.0)
    return np.sqrt(tails[: m - d + 1] - tails[d:])


@pytest.mark.parametrize("right", [estimate_loop, estimate_convolve, estimate_reverse_tail_sums])
def test_check_anorm_error_estimate_accepts_correct_answers(right, capsys):
    check_anorm_error_estimate(right)
    check_anorm_error_estimate(right, n=40, cond=50.0, seed=5, d=10)
    assert "\u2713 anorm_error_estimate" in capsys.readouterr().out


def _terms(alphas, norms, m=None):
    m = len(alphas) if m is None else m
    return np.asarray(alphas) * np.asarray(norms[:m]) ** 2


def _incomplete_windows(alphas, norms, d):
    terms = _terms(alphas, norms)
    return np.sqrt(np.array([terms[k:k + d].sum() for k in range(len(terms))]))


def _m_from_norms(alphas, norms, d):
    m = len(norms) - 1                      # as if residual_norms always had m + 1 entries
    terms = np.asarray(alphas[:m]) * np.asarray(norms[:m]) ** 2
    return np.sqrt(np.convolve(terms, np.ones(d), mode="valid"))


ESTIMATE_MISTAKES = [
    (lambda a, r, d: estimate_loop(a, r, d) ** 2, "squares", "squares_returned"),
    (lambda a, r, d: estimate_loop(a, r[1:], d), r"r_\{j\+1\}", "residual_index_shift"),
    (lambda a, r, d: np.sqrt(np.convolve(_terms(a, r)[1:], np.ones(d), mode="valid")), "one step late",
     "window_starts_late"),
    (lambda a, r, d: np.sqrt(np.convolve(_terms(a, r), np.ones(d + 1), mode="valid")), "d \\+ 1 terms",
     "window_too_long"),
    (lambda a, r, d: np.sqrt(np.convolve(_terms(a, r), np.ones(max(d - 1, 1)), mode="valid")),
     "d - 1 terms", "window_too_short"),
    (lambda a, r, d: np.sqrt(np.convolve(np.asarray(r[:len(a)]) ** 2, np.ones(d), mode="valid")),
     "alpha_j are missing", "alpha_missing"),
    (lambda a, r, d: np.sqrt(np.convolve(np.asarray(a) * r[:len(a)], np.ones(d), mode="valid")),
     "should be squared", "norms_unsquared"),
    (lambda a, r, d: np.sqrt(np.convolve(_terms(a, r), np.ones(d) / d, mode="valid")), "averaged",
     "window_mean"),
    (lambda a, r, d: np.sqrt(np.cumsum(_terms(a, r)[::-1])[::-1][: len(a) - d + 1]), "to the end",
     "sum_to_end"),
    (lambda a, r, d: estimate_loop(a, r, d)[:-1], "off-by-one in the range", "one_estimate_short"),
    (_incomplete_windows, "sum fewer than d terms", "incomplete_windows"),
    (lambda a, r, d: _forward_cumsum(a, r, d), "cancel", "cumsum_cancellation"),
    (_m_from_norms, "the number of steps m is len\\(alphas\\)", "m_from_residual_norms"),
    (lambda a, r, d: estimate_loop(a, r, d)[0], "1-D array", None),
]


@pytest.mark.parametrize("wrong, message, code", ESTIMATE_MISTAKES)
def test_check_anorm_error_estimate_names_the_mistake(wrong, message, code):
    expect_named(code and f"04.anorm_error_estimate.{code}", check_anorm_error_estimate, wrong, message)


ASSERTED |= {f"04.anorm_error_estimate.{code}" for _, _, code in ESTIMATE_MISTAKES if code}


def _forward_cumsum(alphas, norms, d):
    c = np.concatenate([[0.0], np.cumsum(_terms(alphas, norms))])
    return np.sqrt(np.abs(c[d:] - c[:-d]))


def test_check_anorm_error_estimate_needs_only_len_alphas_residual_norms():
    def uses_extra_entry(alphas, residual_norms, d):
        # Reads the (m+1)-th residual norm, which the contract does not promise.
        norms = np.asarray(residual_norms)
        m = len(alphas)
        last = norms[m]
        return estimate_loop(alphas, norms, d) * (1 + 0 * last)

    expect_named("04.anorm_error_estimate.m_from_residual_norms", check_anorm_error_estimate,
                 uses_extra_entry, "exactly len\\(alphas\\) entries")


def test_check_anorm_error_estimate_forbids_the_reference():
    def cheat(alphas, residual_norms, d):
        from krylov_ref import convergence
        return convergence.anorm_error_estimate(alphas, residual_norms, d)

    with pytest.raises(NotAllowedError):
        check_anorm_error_estimate(cheat)


# ---------------------------------------------------------------- contract details

def needed_float(kappa, rtol):
    return float(needed_loop(kappa, rtol))


def needed_early_return_at_3(kappa, rtol):
    if rtol >= 3:
        return 0
    rho = (np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)
    return int(np.ceil(np.log(rtol / 2) / np.log(rho)))


def needed_numpy_int(kappa, rtol):
    return np.int64(needed_loop(kappa, rtol))


@pytest.mark.parametrize("wrong, message, code", [
    (needed_float, r"returned \d+ as float; the contract asks for an int", "float_not_int"),
    (lambda kappa, rtol: np.float64(needed_loop(kappa, rtol)), r"as float64; the contract asks for an int",
     "float_not_int"),
    (needed_early_return_at_3, r"iterations_needed\(50, 2.9\) returned -1: when rtol >= 2",
     "negative_for_large_rtol"),
    (lambda kappa, rtol: needed_loop(kappa, rtol) if rtol < 2 else 1, r"allows equality",
     "strict_inequality"),
    (lambda kappa, rtol: needed_loop(kappa, rtol) if rtol <= 2 else 1, r"rtol >= 2 the bound at k = 0",
     None),
])
def test_check_iterations_needed_checks_the_type_and_rtol_near_2(wrong, message, code):
    expect_named(code and f"04.iterations_needed.{code}", check_iterations_needed, wrong, message)


ASSERTED |= {"04.iterations_needed.float_not_int"}


def test_check_iterations_needed_accepts_numpy_integers(capsys):
    check_iterations_needed(needed_numpy_int)
    assert "\u2713 iterations_needed" in capsys.readouterr().out


def test_check_anorm_error_estimate_takes_lists_and_leaves_inputs_alone():
    def arrays_only(alphas, residual_norms, d):
        m = alphas.size          # fails on a list
        return estimate_loop(alphas[:m], residual_norms, d)

    def squares_in_place(alphas, residual_norms, d):
        r = np.asarray(residual_norms, dtype=float)
        r **= 2                  # on an array argument this changes the caller's array
        a = np.asarray(alphas, dtype=float)
        terms = a * r[: a.size]
        return np.sqrt(np.array([terms[k:k + d].sum() for k in range(a.size - d + 1)]))

    expect_named("04.anorm_error_estimate.lists_not_converted", check_anorm_error_estimate,
                 arrays_only, "as Python lists.*AttributeError")
    expect_named("04.anorm_error_estimate.input_modified", check_anorm_error_estimate,
                 squares_in_place, "changed the caller's alphas or residual_norms")


ASSERTED |= {"04.anorm_error_estimate.lists_not_converted", "04.anorm_error_estimate.input_modified"}


# ---------------------------------------------------------------- the catalogue

def test_every_catalogued_misconception_is_named_by_a_test_here():
    """Each code of MISCONCEPTIONS is asserted above for a wrong implementation
    written here: the checks recognise the mistake, not only the catalogue's
    patch of the solution."""
    assert ASSERTED == set(MISCONCEPTIONS)
    for code, (description, section) in MISCONCEPTIONS.items():
        assert code.startswith("04.") and description and "\n" not in description and section, code
