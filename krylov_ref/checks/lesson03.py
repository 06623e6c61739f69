"""Checks for lesson 03 (conjugate gradients derived from Lanczos).

Each ``check_*`` runs a student's function on problems with known answers,
raises :class:`~krylov_ref.checks.WrongAnswer` naming the likely mistake, and
prints one line when all is well. Visible tests call them with their
defaults; hidden tests call them with other sizes and seeds.
"""

from __future__ import annotations

import numpy as np

from .. import cg as reference_cg
from .. import lanczos as reference_lanczos
from .. import tridiagonal
from ..conjugacy import conjugate_directions as reference_conjugate_directions
from ..conjugacy import lanczos_from_cg as _reference_lanczos_from_cg
from ..problems import poisson2d, random_spd
from . import (
    DIRECT, SOLVERS, CountingOperator, StudentCodeError, WrongAnswer, call_student, exercise,
    expect, expect_close, mistake, passed,
)
from . import expect_tuple as _unpack
from . import integer_spd_problem

__all__ = ["check_conjugate_directions", "check_cg", "check_lanczos_from_cg"]

#: What would do an exercise's work for it.
CONJUGACY = ("krylov_ref.conjugacy.conjugate_directions",
             "krylov_ref.conjugacy.a_orthogonalize",
             "krylov_ref.conjugacy.lanczos_from_cg")
FORBID = SOLVERS + DIRECT + CONJUGACY

# The lesson's headings that explain each point (see MISCONCEPTIONS).
SECTION_CD = "2. Conjugate directions"
EXERCISE_CD = "Exercise 1 — conjugate directions from gradients (4 points)"
SECTION_ALGORITHM = "The algorithm"
EXERCISE_CG = "Exercise 2 — conjugate gradients (6 points)"
SECTION_T = "6. $T_k$ from CG's $\\alpha$'s and $\\beta$'s"
EXERCISE_T = "Exercise 3 — rebuild $T_k$ from CG (4 points)"

CD, CG, LT = "03.conjugate_directions.", "03.cg.", "03.lanczos_from_cg."

#: The named mistakes the checks recognise: code -> (description, section).
MISCONCEPTIONS = {
    # Exercise 1
    "03.conjugate_directions.gradient_not_residual": (
        "directions built from the gradients A x - b instead of the residuals b - A x", SECTION_CD),
    "03.conjugate_directions.normalised": (
        "the directions normalised, though the contract (and Gram-Schmidt's formula) keeps r_k's length",
        EXERCISE_CD),
    "03.conjugate_directions.no_orthogonalisation": (
        "p_k = r_k: the residuals used as directions without Gram-Schmidt (steepest descent)", SECTION_CD),
    "03.conjugate_directions.euclidean_projection": (
        "Gram-Schmidt in the ordinary inner product (p_j^T r / p_j^T p_j): orthogonal, not conjugate, "
        "directions", SECTION_CD),
    "03.conjugate_directions.projection_added": (
        "the Gram-Schmidt projections added instead of subtracted", SECTION_CD),
    "03.conjugate_directions.last_direction_only": (
        "the new residual conjugated against the last direction only, not every earlier one",
        EXERCISE_CD),
    "03.conjugate_directions.directions_as_rows": (
        "the directions returned as the rows of P instead of its columns", EXERCISE_CD),
    "03.conjugate_directions.extra_direction": (
        "n + 1 directions returned: the one built after the last step included", EXERCISE_CD),
    "03.conjugate_directions.alpha_without_A": (
        "the step alpha_k = r_k^T p_k / p_k^T p_k, without A in the denominator", SECTION_CD),
    "03.conjugate_directions.residual_not_updated": (
        "the residual never updated after a step (r_{k+1} = r_k - alpha_k A p_k left out)", SECTION_CD),
    "03.conjugate_directions.products_recomputed": (
        "A p_j recomputed for every earlier direction at every step instead of kept beside p_j",
        EXERCISE_CD),
    "03.conjugate_directions.x0_ignored": ("x0 ignored: always started from zero", EXERCISE_CD),
    "03.conjugate_directions.input_modified": (
        "the caller's x0 (or b) changed in place (an in-place update of an array not copied)",
        EXERCISE_CD),
    # Exercise 2
    "03.cg.alpha_without_A": ("alpha_k = r^T r / p^T p: the A of p^T A p left out", SECTION_ALGORITHM),
    "03.cg.alpha_inverted": ("alpha_k upside down: p^T A p / r^T r", SECTION_ALGORITHM),
    "03.cg.beta_inverted": ("beta_k upside down: r_k^T r_k / r_{k+1}^T r_{k+1}", SECTION_ALGORITHM),
    "03.cg.beta_orthogonal_product": (
        "beta_k = r_{k+1}^T r_k / r_k^T r_k, which is about 0 since consecutive residuals are "
        "orthogonal", SECTION_ALGORITHM),
    "03.cg.beta_unsquared": ("beta_k = ||r_{k+1}|| / ||r_k||: the norms not squared", SECTION_ALGORITHM),
    "03.cg.residual_update_sign": ("the residual updated as r + alpha A p instead of r - alpha A p",
                                   SECTION_ALGORITHM),
    "03.cg.x_update_sign": ("x updated as x - alpha p while r is updated as r - alpha A p",
                            SECTION_ALGORITHM),
    "03.cg.direction_not_updated": ("the direction never updated: p stays r_0", SECTION_ALGORITHM),
    "03.cg.steepest_descent_direction": (
        "the direction replaced by the new residual (p = r, steepest descent), the beta p term dropped",
        SECTION_ALGORITHM),
    "03.cg.direction_from_old_residual": (
        "the direction updated with the old residual, p_{k+1} = r_k + beta_k p_k", SECTION_ALGORITHM),
    "03.cg.extra_products": (
        "more than one product with A per iteration (b - A x recomputed, or A p computed twice)",
        EXERCISE_CG),
    "03.cg.stop_on_step_size": ("stopping on the change in x instead of the residual", EXERCISE_CG),
    "03.cg.absolute_tolerance": ("an absolute stopping test ||r_k|| <= rtol, without the factor ||b||",
                                 EXERCISE_CG),
    "03.cg.tolerance_relative_to_r0": (
        "the stopping test relative to ||r_0|| = ||b - A x0|| instead of ||b||", EXERCISE_CG),
    "03.cg.tolerance_sum": ("the tolerance rtol ||b|| + atol instead of max(rtol ||b||, atol)",
                            EXERCISE_CG),
    "03.cg.atol_ignored": ("atol ignored: the tolerance is rtol ||b|| only", EXERCISE_CG),
    "03.cg.strict_inequality": (
        "the stopping test ||r_k|| < tol instead of <=, so b = 0 (tol = 0) never stops", EXERCISE_CG),
    "03.cg.test_after_step": (
        "the stopping test at the bottom of the loop, so an exact x0 takes a 0/0 step", EXERCISE_CG),
    "03.cg.default_maxiter": ("the default maxiter=None not taken as 10 n", EXERCISE_CG),
    "03.cg.maxiter_off_by_one": ("maxiter + 1 (or - 1) iterations taken", EXERCISE_CG),
    "03.cg.maxiter_ignored": ("maxiter ignored: the loop runs until the stopping test holds",
                              EXERCISE_CG),
    "03.cg.x0_ignored": ("x0 ignored: always started from zero", EXERCISE_CG),
    "03.cg.input_modified": ("the caller's x0 (or b) changed in place", EXERCISE_CG),
    "03.cg.norms_without_r0": ("residual_norms without the initial ||r_0||", EXERCISE_CG),
    "03.cg.squared_norms": ("residual_norms holds r^T r, the squared norms", EXERCISE_CG),
    # Exercise 3
    "03.lanczos_from_cg.diagonal_missing_beta_term": (
        "the diagonal of T_k is 1/alpha_j only, without beta_{j-1}/alpha_{j-1}", SECTION_T),
    "03.lanczos_from_cg.diagonal_index_shift": (
        "the diagonal uses beta_j/alpha_j instead of the previous step's beta_{j-1}/alpha_{j-1}",
        EXERCISE_T),
    "03.lanczos_from_cg.sqrt_on_diagonal": (
        "the diagonal uses sqrt(beta_{j-1})/alpha_{j-1} instead of beta_{j-1}/alpha_{j-1}", SECTION_T),
    "03.lanczos_from_cg.step_lengths_not_inverted": (
        "alpha_j used where 1/alpha_j belongs (D = diag(alpha) instead of diag(1/alpha))", SECTION_T),
    "03.lanczos_from_cg.offdiagonal_no_sqrt": (
        "the off-diagonal beta_j/alpha_j instead of sqrt(beta_j)/alpha_j", SECTION_T),
    "03.lanczos_from_cg.offdiagonal_wrong_alpha": (
        "the off-diagonal divided by alpha_{j+1} instead of alpha_j", SECTION_T),
    "03.lanczos_from_cg.unnormalised_residuals": (
        "the coefficients of the unnormalised residuals' recurrence (1/alpha_j and beta_j/alpha_j): "
        "T not symmetric", SECTION_T),
    "03.lanczos_from_cg.not_symmetric": (
        "the off-diagonal's sign flipped on one side only: T not symmetric", EXERCISE_T),
    "03.lanczos_from_cg.wrong_size": ("T of size (k+1) x (k+1) or (k-1) x (k-1) instead of k x k",
                                      EXERCISE_T),
    "03.lanczos_from_cg.all_betas_used": (
        "all k betas used for the off-diagonal, which has k - 1 entries (beta_{k-1} is not used)",
        EXERCISE_T),
    "03.lanczos_from_cg.lists_not_converted": (
        "alphas and betas not converted to arrays: fails on the lists cg returns", EXERCISE_T),
    "03.lanczos_from_cg.input_modified": ("the caller's alphas or betas changed in place", EXERCISE_T),
}


def _cosine_matrix(M):
    """|M_ij| / sqrt(|M_ii M_jj|) with the diagonal set to 0."""
    d = np.sqrt(np.abs(np.diag(M)))
    d[d == 0] = 1.0
    C = np.abs(M) / np.outer(d, d)
    np.fill_diagonal(C, 0.0)
    return C


def _parallel(u, v, rtol=1e-8):
    """The factor c with u = c v, or None when u is not a multiple of v."""
    vv = v @ v
    if vv == 0:
        return None
    c = (u @ v) / vv
    return c if np.linalg.norm(u - c * v) <= rtol * max(np.linalg.norm(u), np.linalg.norm(v)) else None


# --------------------------------------------------------------------------
# Exercise 1: conjugate directions from successive gradients


def _expect_unchanged(passed_in, kept, name, code=None):
    expect(np.array_equal(passed_in, kept),
           f"your function changed the caller's `{name}` in place. Inputs must be left "
           f"unchanged (SciPy's solvers leave them so): work on a copy of `{name}` "
           "(an in-place update such as `+=` on the caller's array modifies it).", code)


def _run_cd(conjugate_directions, A, b, x0=None):
    op = CountingOperator(A)
    b_in = b.copy()
    x0_in = None if x0 is None else x0.copy()
    args = (op, b_in) if x0 is None else (op, b_in, x0_in)
    x, P = _unpack(call_student(conjugate_directions, *args, forbid=FORBID),
                   "conjugate_directions", ("x", "P"))
    _expect_unchanged(b_in, b, "b", CD + "input_modified")
    if x0 is not None:
        _expect_unchanged(x0_in, x0, "x0", CD + "input_modified")
    n = b.shape[0]
    x = np.asarray(x, dtype=float)
    P = np.asarray(P, dtype=float)
    expect(x.shape == (n,), f"x should have shape ({n},), got {x.shape}")
    if P.shape == (n, n + 1):
        raise mistake(CD + "extra_direction",
                      f"P has {n + 1} columns: return the n = {n} directions actually "
                      "used, p_0 .. p_{n-1} (not the one built after the last step).")
    expect(P.shape == (n, n), f"P should have shape ({n}, {n}), one direction per column; "
           f"got {P.shape}")
    if (P.shape[1] > 1 and np.all(np.isfinite(P[:, 0])) and np.any(P[:, 0] != 0)
            and np.all(P[:, 1] == 0)):
        raise mistake(CD + "residual_not_updated",
                      "p_1 is zero: after A-orthogonalisation against p_0 = r_0 nothing is left of "
                      "r_1, so r_1 is still a multiple of r_0. Is the residual updated after each "
                      "step, r_{k+1} = r_k - alpha_k A p_k (see the exercise text)?")
    expect(np.all(np.isfinite(P)) and np.all(np.isfinite(x)), "x or P contains NaN or inf")
    return x, P, op.count


def _diagnose_second_direction(A, r0, P):
    """Name the mistake in p_1 (the first Gram-Schmidt step)."""
    p1 = P[:, 1]
    Ar0 = A @ r0
    alpha0 = (r0 @ r0) / (r0 @ Ar0)
    r1 = r0 - alpha0 * Ar0
    p0 = r0
    right = r1 - (p0 @ A @ r1) / (p0 @ A @ p0) * p0
    if np.allclose(p1, right, rtol=1e-8, atol=1e-12 * np.linalg.norm(right)):
        return
    # The step alpha_0 = r_0^T p_0 / p_0^T p_0 = 1 (no A): r_1 = r_0 - A r_0.
    r1_no_A = r0 - Ar0
    if np.allclose(p1, r1_no_A - (p0 @ A @ r1_no_A) / (p0 @ Ar0) * p0, rtol=1e-8):
        raise mistake(CD + "alpha_without_A",
                      "p_1 is A-orthogonal to p_0 but has the wrong length: it was built from "
                      "the r_1 of the step alpha_0 = r_0^T p_0 / p_0^T p_0 = 1. The exact line "
                      "search divides by p_k^T A p_k (see the exercise text).")
    if _parallel(p1, right) is not None:
        # (Any step alpha_0 gives a p_1 in this direction: in span{r_0, A r_0}
        # only one direction is A-orthogonal to r_0.)
        raise WrongAnswer("p_1 points the right way but has the wrong length: do not normalise "
                          "the directions (the Gram-Schmidt formula of section 2 keeps r_k's "
                          "length), and check the step alpha_0 against the exercise text.")
    if np.allclose(p1, r1, rtol=1e-8):
        # r_1 is orthogonal to p_0, so Gram-Schmidt in the ordinary inner
        # product leaves it alone too: the later directions tell them apart.
        if np.max(_cosine_matrix(P.T @ P)) < 1e-6:
            raise mistake(CD + "euclidean_projection",
                          "the directions are orthogonal in the ordinary inner product "
                          "(p_i^T p_j = 0); they must be A-orthogonal (p_i^T A p_j = 0): the "
                          "Gram-Schmidt coefficients of section 2 use the A-inner product.")
        raise mistake(CD + "no_orthogonalisation",
                      "p_1 is the residual r_1 itself: subtract from r_k its A-projections "
                      "onto every earlier direction (the Gram-Schmidt formula of section 2).")
    if np.allclose(p1, r1 - (p0 @ r1) / (p0 @ p0) * p0, rtol=1e-8):
        raise mistake(CD + "euclidean_projection",
                      "p_1 is orthogonal to p_0 in the ordinary inner product; it must be "
                      "A-orthogonal: the Gram-Schmidt coefficients of section 2 use the "
                      "A-inner product.")
    if np.allclose(p1, r1 + (p0 @ A @ r1) / (p0 @ A @ p0) * p0, rtol=1e-8):
        raise mistake(CD + "projection_added",
                      "p_1 = r_1 + (...) p_0: the Gram-Schmidt projection must be "
                      "subtracted, not added (see the formula of section 2).")
    if np.allclose(p1, -right, rtol=1e-8):
        raise WrongAnswer("p_1 has the wrong sign: the directions are built from the residuals "
                          "r_k = b - A x_k (the negative gradients), p_0 = r_0.")
    raise WrongAnswer("p_1 (the second column of P) is wrong: check the first step (alpha_0, "
                      "then the update of x and r) and the Gram-Schmidt formula of section 2, "
                      "in the order the exercise lists them.")


@exercise(1, "conjugate_directions", reference=reference_conjugate_directions)
def check_conjugate_directions(conjugate_directions, n=12, cond=100.0, seed=3):
    """Check ``conjugate_directions(A, b, x0=None) -> (x, P)``: n steps along
    the residuals A-orthogonalised against every earlier direction."""
    prob = random_spd(n, cond, seed=seed)
    A, b = prob.A, prob.b
    x_ref, P_ref = reference_conjugate_directions(A, b)
    x, P, products = _run_cd(conjugate_directions, A, b)

    # The first direction is the first residual.
    if not np.allclose(P[:, 0], b, rtol=1e-10) and np.allclose(P[0, :], b, rtol=1e-10):
        raise mistake(CD + "directions_as_rows",
                      "the directions are the rows of P: return them as columns, "
                      "P[:, k] = p_k (the hint shows how to stack them).")
    if np.allclose(P[:, 0], -b, rtol=1e-10):
        raise mistake(CD + "gradient_not_residual",
                      "p_0 = -b: the directions are built from the residuals "
                      "r = b - A x (the negative gradients), so p_0 = r_0 = b when x0 = 0.")
    if _parallel(P[:, 0], b) is not None and not np.allclose(P[:, 0], b, rtol=1e-10):
        raise mistake(CD + "normalised",
                      "p_0 is a multiple of b but not b itself: do not normalise the "
                      "directions; p_0 = r_0 = b - A x0 (= b when x0 is None).")
    expect_close(P[:, 0], b, "the first direction p_0", rtol=1e-10,
                 hint="p_0 should be the first residual r_0 = b - A x0 (= b when x0 is None).")
    _diagnose_second_direction(A, b, P)

    # Conjugacy of all pairs.
    C = _cosine_matrix(P.T @ A @ P)
    i, j = np.unravel_index(np.argmax(C), C.shape)
    if C[i, j] > 1e-8:
        far = abs(i - j) >= 2
        head = (f"the directions are not A-orthogonal: p_{min(i, j)} and p_{max(i, j)} have "
                f"p_i^T A p_j / (||p_i||_A ||p_j||_A) = {C[i, j]:.2g} (should be ~1e-14). ")
        if far and np.max(C[np.abs(np.subtract.outer(np.arange(n), np.arange(n))) == 1]) < 1e-8:
            raise mistake(CD + "last_direction_only",
                          head + "Orthogonalise each new residual against *every* earlier "
                          "direction, not only the last one(s): in floating point the shortcut "
                          "loses conjugacy.")
        raise WrongAnswer(head + "Check the Gram-Schmidt coefficients against section 2 "
                          "(A-inner products) and that each step's residual is updated with the "
                          "new direction.")
    col_err = np.linalg.norm(P - P_ref, axis=0) / np.linalg.norm(P_ref, axis=0)
    k = int(np.argmax(col_err))
    expect(col_err[k] <= 1e-6,
           f"direction p_{k} differs from the expected one (relative difference "
           f"{col_err[k]:.2g}) although the directions are conjugate: are they built from the "
           "residuals r_k = b - A x_k in order, with the exact line-search step of the "
           "exercise text, and not normalised?")
    res = np.linalg.norm(b - A @ x) / np.linalg.norm(b)
    expect(res <= 1e-9,
           f"after n = {n} steps ||b - A x|| / ||b|| = {res:.2g}: conjugate directions reach "
           "the solution in n steps. Is x updated along p_k at every step, with the step "
           "alpha_k of the exercise text?")
    expect(products <= 2 * n + 2,
           f"used {products} products with A for n = {n} steps: one per step (A p_k, kept "
           "beside p_k for the later Gram-Schmidt coefficients) is enough, two at most.",
           CD + "products_recomputed")

    # x0 is used.
    # (not seed + 1: random_spd draws its x_true from that seed)
    x0 = np.random.default_rng(seed + 1000).standard_normal(n)
    x2, P2, _ = _run_cd(conjugate_directions, A, b, x0)
    if np.allclose(P2[:, 0], b, rtol=1e-10):
        raise mistake(CD + "x0_ignored",
                      "with x0 given, p_0 is b, the residual of x = 0: start from x0 when it is "
                      "given, p_0 = r_0 = b - A x0.")
    expect_close(P2[:, 0], b - A @ x0, "p_0 with x0 given", rtol=1e-10,
                 hint="start from x0 when it is given: p_0 = r_0 = b - A x0.")
    res2 = np.linalg.norm(b - A @ x2) / np.linalg.norm(b)
    expect(res2 <= 1e-9, f"with x0 given, ||b - A x|| / ||b|| = {res2:.2g} after n steps.")
    passed(f"conjugate_directions: P^T A P diagonal (largest cosine {C.max():.1e}) and "
           f"A x = b to {res:.1e} after n = {n} steps; x0 respected.")


# --------------------------------------------------------------------------
# Exercise 2: CG


def _run_cg(cg, A, b, x0=None, finite=True, **kwargs):
    op = CountingOperator(A)
    b_in = b.copy()
    if x0 is None:
        out = call_student(cg, op, b_in, forbid=FORBID, **kwargs)
    else:
        x0_in = x0.copy()
        out = call_student(cg, op, b_in, x0_in, forbid=FORBID, **kwargs)
        _expect_unchanged(x0_in, x0, "x0", CG + "input_modified")
    _expect_unchanged(b_in, b, "b", CG + "input_modified")
    x, norms, alphas, betas = _unpack(out, "cg", ("x", "residual_norms", "alphas", "betas"))
    x = np.asarray(x, dtype=float)
    arrays = []
    for name, value in (("residual_norms", norms), ("alphas", alphas), ("betas", betas)):
        try:
            arr = np.asarray(value, dtype=float).reshape(-1)
        except (TypeError, ValueError):
            raise WrongAnswer(f"{name} should be a list of numbers") from None
        arrays.append(arr)
    norms, alphas, betas = arrays
    expect(norms.size >= 1, "residual_norms should start with ||r_0||", CG + "norms_without_r0")
    if norms.size == alphas.size == betas.size:
        raise mistake(CG + "norms_without_r0",
                      f"residual_norms has {norms.size} entries, as many as alphas and betas: it "
                      "should start with the initial ||r_0|| = ||b - A x0||, then one entry per "
                      "iteration (see the exercise text).")
    if finite:
        expect(np.all(np.isfinite(norms)), "residual_norms contains NaN or inf")
    its = norms.size - 1
    expect(alphas.size == its and betas.size == its,
           f"residual_norms has {norms.size} entries (so {its} iterations, the initial residual "
           f"first) but there are {alphas.size} alphas and {betas.size} betas: append one alpha, "
           "one beta and one norm per iteration.")
    return x, norms, alphas, betas, op.count


def _diagnose_first_steps(A, b, norms, alphas, betas):
    """Name the mistake in alpha_0, ||r_1||, beta_0, ||r_2|| (x0 = 0)."""
    Ab = A @ b
    alpha0 = (b @ b) / (b @ Ab)
    if np.isclose(alphas[0], 1.0, rtol=1e-10) and not np.isclose(alpha0, 1.0, rtol=1e-3):
        raise mistake(CG + "alpha_without_A",
                      f"alpha_0 = 1 = r_0^T r_0 / p_0^T p_0 (expected {alpha0:.6g}): the step uses "
                      "p^T p where p^T A p belongs. alpha_k is the exact line search along p_k "
                      "(step 7 and the algorithm box).")
    if np.isclose(alphas[0], 1 / alpha0, rtol=1e-8):
        raise mistake(CG + "alpha_inverted",
                      "alpha_0 is upside down: numerator and denominator are swapped "
                      "(see alpha_k in the algorithm box).")
    expect_close(alphas[0], alpha0, "alpha_0", rtol=1e-8,
                 hint="compare with alpha_k in the algorithm box (p_0 = r_0 = b when x0 = 0).")
    r1 = b - alpha0 * Ab
    nr0, nr1 = np.linalg.norm(b), np.linalg.norm(r1)
    if (not np.isclose(norms[1], nr1, rtol=1e-8)
            and np.isclose(norms[1], np.linalg.norm(b + alpha0 * Ab), rtol=1e-8)):
        raise mistake(CG + "residual_update_sign",
                      f"||r_1|| = {norms[1]:.6g}, expected {nr1:.6g}: the residual moved the wrong "
                      "way. r = b - A x, so the step x + alpha p changes it by -alpha A p "
                      "(see the algorithm box).")
    expect_close(norms[1], nr1, "||r_1||", rtol=1e-8,
                 hint="update the residual with the step just taken (see the algorithm box).")
    beta0 = nr1**2 / nr0**2
    if np.isclose(betas[0], nr0**2 / nr1**2, rtol=1e-8):
        raise mistake(CG + "beta_inverted",
                      "beta_0 is upside down: the new residual belongs in the numerator "
                      "(see beta_k in the algorithm box).")
    if abs(betas[0]) < 1e-6 * beta0:
        raise mistake(CG + "beta_orthogonal_product",
                      f"beta_0 = {betas[0]:.2g} is about zero: r_{{k+1}}^T r_k vanishes "
                      "because consecutive residuals are orthogonal. See beta_k in the "
                      "algorithm box (step 7 derives it).")
    if np.isclose(betas[0], nr1 / nr0, rtol=1e-8):
        raise mistake(CG + "beta_unsquared",
                      "beta_0 = ||r_1|| / ||r_0||: the norms must be squared "
                      "(see beta_k in the algorithm box).")
    expect_close(betas[0], beta0, "beta_0", rtol=1e-8,
                 hint="compare with beta_k in the algorithm box.")
    if norms.size > 2:
        def second_residual(p1):
            Ap1 = A @ p1
            return np.linalg.norm(r1 - (nr1**2 / (p1 @ Ap1)) * Ap1)

        nr2 = second_residual(r1 + beta0 * b)
        if not np.isclose(norms[2], nr2, rtol=1e-8):
            head = (f"alpha_0, beta_0 and ||r_1|| are right, but ||r_2|| = {norms[2]:.6g}, "
                    f"expected {nr2:.6g}: ")
            # What p_1 was, if ||r_2|| shows it.
            for p1, code, why in (
                    (r1, "steepest_descent_direction",
                     "p_1 is the new residual r_1 alone, a steepest-descent step: the direction "
                     "is r_{k+1} + beta_k p_k"),
                    (b, "direction_not_updated",
                     "p_1 is still p_0 = r_0: the direction is never updated"),
                    ((1 + beta0) * b, "direction_from_old_residual",
                     "p_1 was built from the old residual r_0: the direction is "
                     "r_{k+1} + beta_k p_k, with the residual just updated")):
                if np.isclose(norms[2], second_residual(p1), rtol=1e-8):
                    raise mistake(CG + code, head + why + " (the last line of the algorithm box).")
            raise WrongAnswer(
                head + "is the direction updated with the new residual after beta is computed, "
                "and before the next product with A (the last line of the algorithm box)?")


def _reference_cg(A, b, x0=None, *, rtol=1e-5, atol=0.0, maxiter=None):
    res = reference_cg(A, b, x0, rtol=rtol, atol=atol, maxiter=maxiter)
    return res.x, list(res.residual_norms), list(res.alphas), list(res.betas)


@exercise(2, "cg", reference=_reference_cg)
def check_cg(cg, n=150, cond=50.0, seed=2):
    """Check ``cg(A, b, x0=None, *, rtol, atol, maxiter) -> (x, residual_norms,
    alphas, betas)`` against :func:`krylov_ref.cg`.

    The problem is ``random_spd(n, cond, seed, spacing="linear")``, or the
    2-D Poisson matrix of order ``n`` when ``n`` is a perfect square and
    ``cond`` is None.
    """
    if cond is None:
        m = int(round(np.sqrt(n)))
        if m * m != n:
            raise ValueError("with cond=None, n must be a perfect square (2-D Poisson)")
        prob = poisson2d(m, seed=seed)
    else:
        prob = random_spd(n, cond, seed=seed, spacing="linear")
    A, b = prob.A, prob.b
    rtol = 1e-8
    budget = 10 * n  # the contract's default, passed explicitly
    iterates = [np.zeros(n)]
    ref = reference_cg(A, b, rtol=rtol, maxiter=budget, callback=lambda x: iterates.append(x.copy()))
    tol = rtol * np.linalg.norm(b)
    # The iteration after which ||x_k - x_{k-1}|| <= tol first: where a CG
    # that stops on the change in x stops.
    steps = np.linalg.norm(np.diff(np.array(iterates), axis=0), axis=1)
    stops_on_step = 1 + int(np.argmax(steps <= tol)) if np.any(steps <= tol) else None

    def absolute(A_, b_):
        # The count of a CG whose stopping test forgot the factor ||b||.
        return reference_cg(A_, b_, rtol=0.0, atol=rtol, maxiter=budget).iterations

    x, norms, alphas, betas, products = _run_cg(cg, A, b, finite=False, rtol=rtol,
                                                maxiter=budget)
    expect(x.shape == (n,), f"x should have shape ({n},), got {x.shape}")
    if np.isclose(norms[0], np.linalg.norm(b) ** 2, rtol=1e-10):
        raise mistake(CG + "squared_norms",
                      f"residual_norms[0] = {norms[0]:.6g} is ||b||^2 = r_0^T r_0: residual_norms "
                      "should hold the norms ||r_k|| themselves, not their squares (and the "
                      "stopping test compares ||r_k|| with the tolerance).")
    expect_close(norms[0], np.linalg.norm(b), "residual_norms[0]", rtol=1e-10,
                 hint="it should be ||b - A x0|| with x0 = 0, i.e. ||b||.")
    expect(norms.size >= 2, f"no iteration was taken, but ||b|| = {norms[0]:.3g} > rtol ||b||.")
    _diagnose_first_steps(A, b, norms, alphas, betas)
    expect(np.all(np.isfinite(norms)), "residual_norms contains NaN or inf")
    iters = norms.size - 1
    res = np.linalg.norm(b - A @ x)
    absolute_message = (
        "Your stopping test looks absolute (||r_k|| <= rtol): the contract's test is "
        "relative to ||b||, ||r_k|| <= max(rtol ||b||, atol) (see the exercise text).")
    if res > 1.01 * tol and norms[-1] <= 1.01 * tol:
        disagree = (f"x and the updated residual r no longer agree: your last recorded ||r|| is "
                    f"{norms[-1]:.3g} (converged), but ||b - A x|| for the x you return is "
                    f"{res:.3g}. ")
        if np.linalg.norm(b + A @ x) <= 1e-6 * np.linalg.norm(b):
            raise mistake(CG + "x_update_sign",
                          disagree + "Your x is minus the solution: x moves by -alpha_k p_k while "
                          "r assumes +alpha_k p_k (see the algorithm box).")
        raise WrongAnswer(disagree + "x must move by the same step alpha_k p_k that the update "
                          "of r assumes (see the algorithm box).")
    if iters != ref.iterations and iters == absolute(A, b) and abs(np.linalg.norm(b) - 1) > 0.1:
        raise mistake(CG + "absolute_tolerance",
                      f"took {iters} iterations; CG takes {ref.iterations}. " + absolute_message)
    if res > 1.01 * tol and stops_on_step is not None and abs(iters - stops_on_step) <= 1:
        raise mistake(CG + "stop_on_step_size",
                      f"stopped after {iters} iterations, when the step ||x_k - x_(k-1)|| fell "
                      f"below rtol * ||b|| = {tol:.3g}, but ||b - A x|| = {res:.3g} is still "
                      "larger. Stop on the residual, ||r_k|| <= max(rtol * ||b||, atol), not on "
                      "the change in x (see the exercise text).")
    expect(res <= 1.01 * tol,
           f"not converged: ||b - A x|| = {res:.3g} but rtol * ||b|| = {tol:.3g} after {iters} "
           "iterations. Stop when ||r_k|| <= max(rtol * ||b||, atol) (not on the change in x), "
           "and check that maxiter is 10 n by default.")
    expect_close(norms[-1], res, "the last residual norm", rtol=1e-4,
                 hint="residual_norms[-1] should be ||b - A x|| for the x you return: is x "
                      "updated with the same alpha and p as r?")
    expect(abs(iters - ref.iterations) <= 1,
           f"took {iters} iterations; CG takes {ref.iterations}. Stop as soon as "
           "||r_k|| <= max(rtol * ||b||, atol), testing before each iteration.")
    expect(products <= iters + 2,
           f"used {products} products with A for {iters} iterations: one per iteration is "
           "enough: the one product of the algorithm box serves both alpha and the update "
           "of r.", CG + "extra_products")
    m = min(iters, ref.iterations)
    expect_close(norms[: m + 1], ref.residual_norms[: m + 1], "the residual norm history",
                 rtol=1e-6, hint="residual_norms should hold ||r_k|| for k = 0, 1, ...")
    expect_close(alphas[:m], ref.alphas[:m], "the alphas", rtol=1e-6,
                 hint="one alpha per iteration, as in the algorithm box.")
    expect_close(betas[:m], ref.betas[:m], "the betas", rtol=1e-6,
                 hint="one beta per iteration, as in the algorithm box.")

    # A scaled copy of the problem: CG's iterates do not change when A is
    # multiplied by a constant and b with it. Stopping on ||x_{k+1} - x_k||,
    # or on an absolute ||r_k||, is not scale invariant; this catches both.
    scale = 1e3
    xs, norms_s, _, _, _ = _run_cg(cg, scale * A, scale * b, rtol=rtol, maxiter=budget)
    res_s = np.linalg.norm(scale * b - scale * (A @ xs))
    its_s = norms_s.size - 1
    if abs(its_s - ref.iterations) > 1 and its_s == absolute(scale * A, scale * b):
        raise mistake(CG + "absolute_tolerance",
                      f"on 1000 A x = 1000 b CG should take the same {ref.iterations} "
                      f"iterations as on A x = b, but took {its_s}. " + absolute_message)
    expect(res_s <= 1.01 * scale * tol and abs(its_s - ref.iterations) <= 1,
           f"on 1000 A x = 1000 b CG should take the same {ref.iterations} iterations, but took "
           f"{its_s} with ||b - A x|| / ||b|| = {res_s / (scale * np.linalg.norm(b)):.2g}. "
           "Stop on the residual, ||r_k|| <= max(rtol * ||b||, atol), not on the change in x.",
           CG + "stop_on_step_size")

    # maxiter is respected: exactly maxiter iterations when not converged.
    _, norms3, alphas3, _, _ = _run_cg(cg, A, b, rtol=rtol, maxiter=3)
    if not (norms3.size == 4 and alphas3.size == 3):
        got3 = f"with maxiter=3, residual_norms should have 4 entries (initial + 3), got {norms3.size}"
        if norms3.size in (3, 5):
            raise mistake(CG + "maxiter_off_by_one",
                          got3 + f": {norms3.size - 1} iterations. maxiter is the number of "
                          "iterations taken when the test is never met (check the loop's range).")
        if abs(norms3.size - 1 - ref.iterations) <= 1:
            raise mistake(CG + "maxiter_ignored",
                          got3 + ": yours ran on until the stopping test held. Stop after "
                          "maxiter iterations (see the exercise text).")
        raise WrongAnswer(got3)
    # The default maxiter=None is 10 n: with rtol = atol = 0 CG never stops early.
    hard = random_spd(8, 1e4, seed=3)
    _, norms_d, _, _, _ = _run_cg(cg, hard.A, hard.b, rtol=0.0, atol=0.0)
    expect(norms_d.size - 1 == 80,
           "with the default maxiter=None and rtol = atol = 0 (a test CG can never meet), "
           "the contract's default maxiter = 10 n = 80 iterations should be taken on a "
           f"problem of size n = 8; yours took {norms_d.size - 1}. See the exercise text.",
           CG + "default_maxiter")
    # x0 is used, and left unchanged (checked by _run_cg).
    x0 = prob.x_true + 1e-3 * np.ones(n)
    x0_out, norms0, _, _, _ = _run_cg(cg, A, b, x0=x0, rtol=rtol, maxiter=budget)
    if np.isclose(norms0[0], np.linalg.norm(b), rtol=1e-8):
        raise mistake(CG + "x0_ignored",
                      f"with x0 given, residual_norms[0] = {norms0[0]:.6g} = ||b||, the residual "
                      "of x = 0: start from x0 when it is given, r_0 = b - A x0.")
    expect_close(norms0[0], np.linalg.norm(b - A @ x0), "residual_norms[0] with x0 given",
                 rtol=1e-8, hint="start from x0 when it is given: r_0 = b - A x0.")
    expect(np.linalg.norm(b - A @ x0_out) <= 1.01 * tol,
           "with x0 given, the returned x does not solve A x = b to rtol.")
    # The stopping test is relative to ||b||, whatever x0 is: from an x0 near
    # the solution a test relative to ||r_0|| runs on; from one far away it
    # stops short.
    relative_to_r0 = ("with x0 given, stop when ||r_k|| <= max(rtol * ||b||, atol): the test is "
                      "relative to ||b||, not to the initial residual ||r_0|| = ||b - A x0||.")
    ref0 = reference_cg(A, b, x0, rtol=rtol, maxiter=budget)
    expect(norms0.size - 1 <= ref0.iterations + 1,
           f"took {norms0.size - 1} iterations from an x0 near the solution, where "
           f"||r_k|| <= rtol * ||b|| after {ref0.iterations}: {relative_to_r0}",
           CG + "tolerance_relative_to_r0")
    far = np.full(n, 10.0 * np.linalg.norm(prob.x_true))
    x_far, _, _, _, _ = _run_cg(cg, A, b, x0=far, rtol=rtol, maxiter=budget)
    expect(np.linalg.norm(b - A @ x_far) <= 1.01 * tol,
           f"from an x0 far from the solution, ||b - A x|| = {np.linalg.norm(b - A @ x_far):.3g} "
           f"> rtol * ||b|| = {tol:.3g}: {relative_to_r0}", CG + "tolerance_relative_to_r0")
    # rtol and atol both given and equal: the test is the larger, not the sum.
    both = dict(rtol=1e-6, atol=1e-6 * np.linalg.norm(b))
    ref_both = reference_cg(A, b, maxiter=budget, **both)
    xb, normsb, _, _, _ = _run_cg(cg, A, b, maxiter=budget, **both)
    expect(np.linalg.norm(b - A @ xb) <= 1.01 * both["atol"]
           and abs(normsb.size - 1 - ref_both.iterations) <= 1,
           f"with rtol = 1e-6 and atol = 1e-6 ||b|| both given, stop when ||r_k|| <= "
           f"max(rtol * ||b||, atol) = {both['atol']:.3g}: yours stopped after "
           f"{normsb.size - 1} iterations (the test needs {ref_both.iterations}) with "
           f"||b - A x|| = {np.linalg.norm(b - A @ xb):.3g}. The tolerance is the larger of "
           "the two, not their sum.", CG + "tolerance_sum")
    # Edge cases with r_0 = 0 exactly: x0 the exact solution, and b = 0.
    Ai, bi, xi = integer_spd_problem(7, seed)
    for b_case, x0_case, case in ((bi, xi, "x0 equal to the solution"),
                                  (np.zeros(7), None, "b = 0 (and x0 = None)")):
        xz, norms_z, alphas_z, _, _ = _run_cg(cg, Ai, b_case, x0=x0_case, finite=False,
                                              rtol=rtol, maxiter=50)
        finite = np.all(np.isfinite(norms_z)) and np.all(np.isfinite(xz))
        # With x0 exact, tol = rtol ||b|| > 0 = ||r_0||: only a test after the step
        # misses it. With b = 0, tol = 0 = ||r_0||: a strict < misses it too.
        code = CG + ("test_after_step" if x0_case is not None else "strict_inequality")
        expect(norms_z.size == 1 and norms_z[0] == 0.0 and alphas_z.size == 0 and finite,
               f"with {case}, r_0 = b - A x0 is exactly 0, so the stopping test holds before "
               f"any step and the answer is x0 itself with residual_norms = [0.0] and no "
               f"alphas or betas; yours took {norms_z.size - 1} iteration(s)"
               + ("" if finite else " and produced NaN (a step 0/0)")
               + (". Test the stopping criterion at the top of the loop, before the step, and "
                  "keep equality: ||r_k|| <= max(rtol ||b||, atol) (here both sides are 0)."
                  if x0_case is None else
                  ". Test the stopping criterion at the top of the loop, before the step."),
               code if norms_z.size > 1 else None)
        want = np.zeros(7) if x0_case is None else x0_case
        expect(xz.shape == (7,) and np.array_equal(xz, want),
               f"with {case}, x should be returned as it started.")
    # atol is honoured: a loose absolute tolerance stops early.
    atol = 0.1 * np.linalg.norm(b)
    xa, normsa, _, _, _ = _run_cg(cg, A, b, rtol=0.0, atol=atol, maxiter=budget)
    expect(np.linalg.norm(b - A @ xa) <= 1.01 * atol and normsa.size - 1 < ref.iterations,
           "with rtol=0 and atol given, stop when ||r|| <= atol.",
           CG + "atol_ignored" if normsa.size - 1 >= ref.iterations else None)
    passed(f"cg: converged in {iters} iterations on {prob.name}, matching krylov_ref.cg "
           "(residuals, alphas, betas); one product per iteration; maxiter (given and "
           "default), x0 (left unchanged), atol, b = 0 and an exact x0 respected.")


# --------------------------------------------------------------------------
# Exercise 3: T_k from CG's alphas and betas


def _check_T(lanczos_from_cg, alphas, betas, as_lists=False):
    k = alphas.size
    given = (list(map(float, alphas)), list(map(float, betas))) if as_lists \
        else (alphas.copy(), betas.copy())
    kept = (list(given[0]), list(given[1])) if as_lists else (alphas.copy(), betas.copy())
    try:
        T = call_student(lanczos_from_cg, *given,
                         forbid=FORBID + ("krylov_ref.lanczos", "krylov_ref.krylov.lanczos"))
    except StudentCodeError as exc:
        cause = exc.__cause__
        if as_lists:  # the same values as arrays passed
            report = mistake(LT + "lists_not_converted",
                             f"lanczos_from_cg failed on alphas and betas given as Python lists, "
                             f"as your cg returns them ({type(cause).__name__}: {cause}). Convert "
                             "them to arrays first (see the hint).")
        elif isinstance(cause, ValueError) and "len(beta) = len(alpha) - 1" in str(cause):
            report = mistake(LT + "all_betas_used",
                             f"tridiagonal() refused your off-diagonal ({cause}): T_k has k - 1 "
                             "off-diagonal entries, from beta_0 .. beta_{k-2}; the last beta is "
                             "not used (see the exercise text).")
        else:
            raise
        report.detail_lines = exc.detail_lines
        raise report from exc
    for passed_in, original, name in zip(given, kept, ("alphas", "betas")):
        _expect_unchanged(np.asarray(passed_in, dtype=float), np.asarray(original, dtype=float),
                          name, LT + "input_modified")
    T = np.asarray(T, dtype=float)
    if as_lists:
        expect(T.shape == (k, k), f"with alphas and betas given as Python lists (as the cg of "
               f"Exercise 2 returns them), T should still have shape ({k}, {k}), got {T.shape}")
    if T.shape in ((k + 1, k + 1), (k - 1, k - 1)) and k > 1:
        raise mistake(LT + "wrong_size",
                      f"T has shape {T.shape}, expected ({k}, {k}): k CG steps give the "
                      "k x k matrix T_k, one row per alpha.")
    expect(T.shape == (k, k), f"T should have shape ({k}, {k}), got {T.shape}")
    expect(np.all(np.isfinite(T)), "T contains NaN or inf")
    a, bt = alphas, betas[: k - 1]
    diag_want = 1 / a + np.concatenate([[0.0], bt / a[:-1]])
    off_want = np.sqrt(bt) / a[:-1]
    band = np.abs(np.subtract.outer(np.arange(k), np.arange(k))) <= 1
    expect(np.allclose(T[~band], 0.0, atol=1e-12 * np.abs(T).max()),
           "T should be tridiagonal: zero outside the diagonal and the first off-diagonals.")
    lower, upper = np.diag(T, -1), np.diag(T, 1)
    if k > 1 and not np.allclose(lower, upper, rtol=1e-10, atol=0):
        asymmetric = "T should be symmetric (T = Q^T A Q), but T[k+1, k] != T[k, k+1]."
        if np.allclose(np.abs(lower), 1 / a[:-1], rtol=1e-8) or np.allclose(np.abs(upper), bt / a[:-1], rtol=1e-8):
            raise mistake(LT + "unnormalised_residuals",
                          asymmetric + " It looks like the three-term relation of the "
                          "unnormalised residuals (1/alpha_k on one side, beta_k/alpha_k on the "
                          "other): normalise, q_{k+1} = (-1)^k r_k / ||r_k||, which makes both "
                          "sqrt(beta_k)/alpha_k.")
        if np.allclose(lower, -upper, rtol=1e-10, atol=0):
            raise mistake(LT + "not_symmetric",
                          asymmetric + " Yours has T[k+1, k] = -T[k, k+1]: the sign convention "
                          "is applied to one side only. Either sign is accepted, but the same on "
                          "both sides.")
        raise WrongAnswer(asymmetric)
    d = np.diag(T)
    if k > 1 and np.allclose(d, 1 / a, rtol=1e-10):
        raise mistake(LT + "diagonal_missing_beta_term",
                      "the diagonal is 1/alpha_k only: add beta_{k-1}/alpha_{k-1} for every "
                      "row after the first (A r_k involves r_{k-1}, r_k and r_{k+1}).")
    if k > 1 and np.allclose(d, 1 / a + betas[:k] / a, rtol=1e-10):
        raise mistake(LT + "diagonal_index_shift",
                      "the diagonal uses beta_k/alpha_k: it should be 1/alpha_k + "
                      "beta_{k-1}/alpha_{k-1} (the previous step's beta and alpha; nothing "
                      "added in the first row).")
    if k > 1 and np.allclose(d, 1 / a + np.concatenate([[0.0], np.sqrt(bt) / a[:-1]]),
                             rtol=1e-10):
        raise mistake(LT + "sqrt_on_diagonal",
                      "the diagonal adds sqrt(beta_{k-1})/alpha_{k-1}: the square root belongs "
                      "to the off-diagonal only; the diagonal is 1/alpha_k + "
                      "beta_{k-1}/alpha_{k-1} (section 6).")
    if k > 1 and np.allclose(d, a + np.concatenate([[0.0], bt * a[:-1]]), rtol=1e-10):
        raise mistake(LT + "step_lengths_not_inverted",
                      "the diagonal is alpha_k + beta_{k-1} alpha_{k-1}: the step lengths appear "
                      "inverted in T_k, 1/alpha_k + beta_{k-1}/alpha_{k-1} (in T_k = L D L^T, "
                      "D = diag(1/alpha_j); section 6).")
    expect_close(d, diag_want, "the diagonal of T", rtol=1e-10,
                 hint="T[k, k] = 1/alpha_k + beta_{k-1}/alpha_{k-1} (just 1/alpha_0 for k = 0).")
    if k > 1:
        off = np.abs(upper)
        if np.allclose(off, bt / a[:-1], rtol=1e-10):
            raise mistake(LT + "offdiagonal_no_sqrt",
                          "the off-diagonal is beta_k/alpha_k: take the square root of beta, "
                          "sqrt(beta_k)/alpha_k (from ||r_{k+1}|| / ||r_k|| = sqrt(beta_k)).")
        if np.allclose(off, np.sqrt(bt) / a[1:], rtol=1e-10):
            raise mistake(LT + "offdiagonal_wrong_alpha",
                          "the off-diagonal divides by the wrong alpha: T[k, k+1] = "
                          "sqrt(beta_k)/alpha_k.")
        expect_close(off, off_want, "|off-diagonal| of T", rtol=1e-10,
                     hint="T[k, k+1] = T[k+1, k] = sqrt(beta_k)/alpha_k (either sign is fine).")
    return T


@exercise(3, "lanczos_from_cg", reference=_reference_lanczos_from_cg)
def check_lanczos_from_cg(lanczos_from_cg, n=30, k=6, cond=100.0, seed=4):
    """Check ``lanczos_from_cg(alphas, betas) -> T`` (k x k) against the Lanczos
    matrix of :func:`krylov_ref.lanczos` on the same ``A`` and ``b``."""
    prob = random_spd(n, cond, seed=seed)
    A, b = prob.A, prob.b
    res = reference_cg(A, b, rtol=0.0, maxiter=k)
    alphas, betas = res.alphas, res.betas
    T = _check_T(lanczos_from_cg, alphas, betas)
    # The smallest case: one step gives the 1 x 1 matrix [1/alpha_0].
    T1 = _check_T(lanczos_from_cg, alphas[:1], betas[:1])
    expect_close(T1, [[1 / alphas[0]]], "T for one CG step", rtol=1e-10)
    # Lists, as the cg of Exercise 2 returns them.
    _check_T(lanczos_from_cg, alphas, betas, as_lists=True)
    # Against Lanczos on the same A and b (either sign convention).
    _, gamma, delta = reference_lanczos(A, b, k)
    T_lanczos = tridiagonal(gamma, delta[:-1])
    expect_close(np.diag(T), gamma, "diag(T) against Lanczos", rtol=1e-7)
    expect_close(np.abs(np.diag(T, 1)), np.abs(delta[:-1]), "|off-diagonal| against Lanczos",
                 rtol=1e-7)
    ritz, ritz_want = np.linalg.eigvalsh(T), np.linalg.eigvalsh(T_lanczos)
    expect_close(ritz, ritz_want, "the eigenvalues (Ritz values) of T", rtol=1e-8)
    passed(f"lanczos_from_cg: T_{k} from CG's alphas and betas equals Lanczos's T_{k} "
           f"(Ritz values from {ritz[0]:.4g} to {ritz[-1]:.4g}).")
