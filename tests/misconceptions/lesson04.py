"""Lesson 04's catalogue of misconceptions: a concrete wrong variant of the
solution for each code declared in krylov_ref/checks/lesson04.py
(``make misconceptions`` grades them)."""

from krylov_ref.grading.misconceptions import Variant

# ---------------------------------------------------------------- Exercise 1

BOUND = "return 2 * ((s - 1) / (s + 1)) ** k"

BOUND_WITH_MATH = '''
import math


def chebyshev_bound(kappa, k):
    rate = (math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)
    return 2 * math.exp(k * math.log(rate))
'''

CHEBYSHEV_BOUND = [
    Variant("04.chebyshev_bound.kappa_not_sqrt", patch=(("s = np.sqrt(kappa)", "s = kappa"),)),
    Variant("04.chebyshev_bound.steepest_descent_bound",
            patch=(("s = np.sqrt(kappa)", "s = kappa"), ("return 2 * ", "return "))),
    Variant("04.chebyshev_bound.missing_factor_2", patch=(("return 2 * ", "return "),)),
    Variant("04.chebyshev_bound.rate_inverted",
            patch=(("(s - 1) / (s + 1)", "(s + 1) / (s - 1)"),)),
    Variant("04.chebyshev_bound.sqrt_misplaced",
            source="def chebyshev_bound(kappa, k):\n"
                   "    return 2 * np.sqrt((kappa - 1) / (kappa + 1)) ** k\n"),
    Variant("04.chebyshev_bound.exponent_2k", patch=(("** k", "** (2 * k)"),)),
    Variant("04.chebyshev_bound.exact_chebyshev",
            source="def chebyshev_bound(kappa, k):\n"
                   "    return 1 / np.cosh(k * np.arccosh((kappa + 1) / (kappa - 1)))\n"),
    Variant("04.chebyshev_bound.capped_at_1",
            patch=((BOUND, "return np.minimum(2 * ((s - 1) / (s + 1)) ** k, 1.0)"),)),
    Variant("04.chebyshev_bound.not_vectorised", source=BOUND_WITH_MATH),
]

# ---------------------------------------------------------------- Exercise 2

RHO = "rho = (np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)"
LOOP = "while 2 * rho ** k > rtol"


def by_formula(body, rho=RHO):
    """An answer by the logarithm formula: ``body`` computes the return value from rho.
    (Steepest descent's rate needs formulas: a loop would take ~kappa steps.)"""
    return (f"def iterations_needed(kappa, rtol):\n"
            f"    {rho}\n"
            f"    return {body}\n")


SD_RHO = "rho = (kappa - 1) / (kappa + 1)"


GUARDED = "0 if rtol >= 2 else "
LOG_RATIO = "np.log(rtol / 2) / np.log(rho)"

ITERATIONS_NEEDED = [
    Variant("04.iterations_needed.rounded_down", source=by_formula(f"max(0, int({LOG_RATIO}))")),
    Variant("04.iterations_needed.one_too_many",
            source=by_formula(f"{GUARDED}int(np.ceil({LOG_RATIO})) + 1")),
    Variant("04.iterations_needed.missing_factor_2", patch=((LOOP, "while rho ** k > rtol"),)),
    Variant("04.iterations_needed.factor_2_wrong_side",
            patch=((LOOP, "while rho ** k > 2 * rtol"),)),
    Variant("04.iterations_needed.kappa_not_sqrt",
            source=by_formula(f"{GUARDED}int(np.ceil({LOG_RATIO}))", rho=SD_RHO)),
    Variant("04.iterations_needed.steepest_descent_count",
            source=by_formula(f"{GUARDED}int(np.ceil(np.log(rtol) / np.log(rho)))", rho=SD_RHO)),
    Variant("04.iterations_needed.not_rounded", source=by_formula(f"max(0.0, {LOG_RATIO})")),
    Variant("04.iterations_needed.float_not_int",
            source=by_formula(f"max(0.0, np.ceil({LOG_RATIO}))")),
    Variant("04.iterations_needed.negative_for_large_rtol",
            source=by_formula(f"int(np.ceil({LOG_RATIO}))")),
    Variant("04.iterations_needed.strict_inequality",
            patch=((LOOP, "while 2 * rho ** k >= rtol"),)),
    Variant("04.iterations_needed.zero_for_rtol_below_2",
            patch=(("    k = 0\n", "    if rtol >= 1:              # a tolerance of 100 % needs no step\n"
                                  "        return 0\n    k = 0\n"),)),
]

# ---------------------------------------------------------------- Exercise 3

TERMS = "terms = alphas * np.asarray(residual_norms, dtype=float)[:m] ** 2"
WINDOW = "terms[k:k + d].sum()"
RETURN_EST = "return np.sqrt(np.array([terms[k:k + d].sum() for k in range(m - d + 1)]))"

FORWARD_CUMSUM = '''
def anorm_error_estimate(alphas, residual_norms, d):
    alphas = np.asarray(alphas, dtype=float)
    m = alphas.size
    terms = alphas * np.asarray(residual_norms, dtype=float)[:m] ** 2
    c = np.concatenate([[0.0], np.cumsum(terms)])
    return np.sqrt(np.abs(c[d:] - c[:-d]))
'''

M_FROM_NORMS = '''
def anorm_error_estimate(alphas, residual_norms, d):
    alphas = np.asarray(alphas, dtype=float)
    norms = np.asarray(residual_norms, dtype=float)
    m = norms.size - 1              # CG's history: one more norm than steps
    terms = alphas[:m] * norms[:m] ** 2
    return np.sqrt(np.array([terms[k:k + d].sum() for k in range(m - d + 1)]))
'''

ANORM_ERROR_ESTIMATE = [
    Variant("04.anorm_error_estimate.squares_returned",
            patch=((RETURN_EST, "return np.array([terms[k:k + d].sum() for k in range(m - d + 1)])"),)),
    Variant("04.anorm_error_estimate.residual_index_shift", patch=(("[:m] ** 2", "[1:m + 1] ** 2"),)),
    Variant("04.anorm_error_estimate.window_starts_late",
            patch=((WINDOW, "terms[k + 1:k + d + 1].sum()"),)),
    Variant("04.anorm_error_estimate.window_too_long", patch=((WINDOW, "terms[k:k + d + 1].sum()"),)),
    Variant("04.anorm_error_estimate.window_too_short", patch=((WINDOW, "terms[k:k + d - 1].sum()"),)),
    Variant("04.anorm_error_estimate.alpha_missing",
            patch=(("terms = alphas * np.asarray", "terms = np.asarray"),)),
    Variant("04.anorm_error_estimate.norms_unsquared", patch=(("[:m] ** 2", "[:m]"),)),
    Variant("04.anorm_error_estimate.window_mean", patch=((WINDOW, "terms[k:k + d].mean()"),)),
    Variant("04.anorm_error_estimate.sum_to_end", patch=((WINDOW, "terms[k:].sum()"),)),
    Variant("04.anorm_error_estimate.one_estimate_short", patch=(("range(m - d + 1)", "range(m - d)"),)),
    Variant("04.anorm_error_estimate.incomplete_windows", patch=(("range(m - d + 1)", "range(m)"),)),
    Variant("04.anorm_error_estimate.cumsum_cancellation", source=FORWARD_CUMSUM),
    Variant("04.anorm_error_estimate.m_from_residual_norms", source=M_FROM_NORMS),
    Variant("04.anorm_error_estimate.lists_not_converted",
            patch=(("np.asarray(residual_norms, dtype=float)[:m] ** 2", "residual_norms[:m] ** 2"),)),
    Variant("04.anorm_error_estimate.input_modified",
            patch=((TERMS, "terms = alphas                  # the caller's array, if it was one\n"
                           "    terms *= np.asarray(residual_norms, dtype=float)[:m] ** 2"),)),
]

VARIANTS = CHEBYSHEV_BOUND + ITERATIONS_NEEDED + ANORM_ERROR_ESTIMATE
