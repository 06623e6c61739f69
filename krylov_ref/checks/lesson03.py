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
    DIRECT, SOLVERS, CountingOperator, WrongAnswer, call_student, exercise, expect,
    expect_close, passed,
)
from . import expect_tuple as _unpack
from . import integer_spd_problem

__all__ = ["check_conjugate_directions", "check_cg", "check_lanczos_from_cg"]

#: What would do an exercise's work for it.
CONJUGACY = ("krylov_ref.conjugacy.conjugate_directions",
             "krylov_ref.conjugacy.a_orthogonalize",
             "krylov_ref.conjugacy.lanczos_from_cg")
FORBID = SOLVERS + DIRECT + CONJUGACY


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


def _expect_unchanged(passed_in, kept, name):
    expect(np.array_equal(passed_in, kept),
           f"your function changed the caller's `{name}` in place. Inputs must be left "
           f"unchanged (SciPy's solvers leave them so): work on a copy of `{name}` "
           "(an in-place update such as `+=` on the caller's array modifies it).")


def _run_cd(conjugate_directions, A, b, x0=None):
    op = CountingOperator(A)
    b_in = b.copy()
    x0_in = None if x0 is None else x0.copy()
    args = (op, b_in) if x0 is None else (op, b_in, x0_in)
    x, P = _unpack(call_student(conjugate_directions, *args, forbid=FORBID),
                   "conjugate_directions", ("x", "P"))
    _expect_unchanged(b_in, b, "b")
    if x0 is not None:
        _expect_unchanged(x0_in, x0, "x0")
    n = b.shape[0]
    x = np.asarray(x, dtype=float)
    P = np.asarray(P, dtype=float)
    expect(x.shape == (n,), f"x should have shape ({n},), got {x.shape}")
    if P.shape == (n, n + 1):
        raise WrongAnswer(f"P has {n + 1} columns: return the n = {n} directions actually "
                          "used, p_0 .. p_{n-1} (not the one built after the last step).")
    expect(P.shape == (n, n), f"P should have shape ({n}, {n}), one direction per column; "
           f"got {P.shape}")
    expect(np.all(np.isfinite(P)) and np.all(np.isfinite(x)), "x or P contains NaN or inf")
    return x, P, op.count


def _diagnose_second_direction(A, r0, p1):
    """Name the mistake in p_1 (the first Gram-Schmidt step)."""
    alpha0 = (r0 @ r0) / (r0 @ A @ r0)
    r1 = r0 - alpha0 * (A @ r0)
    p0 = r0
    right = r1 - (p0 @ A @ r1) / (p0 @ A @ p0) * p0
    if np.allclose(p1, right, rtol=1e-8, atol=1e-12 * np.linalg.norm(right)):
        return
    if _parallel(p1, right) is not None:
        raise WrongAnswer("p_1 points the right way but has the wrong length: do not normalise "
                          "the directions (the Gram-Schmidt formula of section 2 keeps r_k's "
                          "length).")
    if np.allclose(p1, r1, rtol=1e-8):
        raise WrongAnswer("p_1 is the residual r_1 itself: subtract from r_k its A-projections "
                          "onto every earlier direction (the Gram-Schmidt formula of section 2). "
                          "(Projections in the ordinary inner product change nothing here: r_1 "
                          "is already orthogonal to p_0.)")
    if np.allclose(p1, r1 - (p0 @ r1) / (p0 @ p0) * p0, rtol=1e-8):
        raise WrongAnswer("p_1 is orthogonal to p_0 in the ordinary inner product; it must be "
                          "A-orthogonal: the Gram-Schmidt coefficients of section 2 use the "
                          "A-inner product.")
    if np.allclose(p1, r1 + (p0 @ A @ r1) / (p0 @ A @ p0) * p0, rtol=1e-8):
        raise WrongAnswer("p_1 = r_1 + (...) p_0: the Gram-Schmidt projection must be "
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
        raise WrongAnswer("the directions are the rows of P: return them as columns, "
                          "P[:, k] = p_k (the hint shows how to stack them).")
    if np.allclose(P[:, 0], -b, rtol=1e-10):
        raise WrongAnswer("p_0 = -b: the directions are built from the residuals "
                          "r = b - A x (the negative gradients), so p_0 = r_0 = b when x0 = 0.")
    if _parallel(P[:, 0], b) is not None and not np.allclose(P[:, 0], b, rtol=1e-10):
        raise WrongAnswer("p_0 is a multiple of b but not b itself: do not normalise the "
                          "directions; p_0 = r_0 = b - A x0 (= b when x0 is None).")
    expect_close(P[:, 0], b, "the first direction p_0", rtol=1e-10,
                 hint="p_0 should be the first residual r_0 = b - A x0 (= b when x0 is None).")
    _diagnose_second_direction(A, b, P[:, 1])

    # Conjugacy of all pairs.
    C = _cosine_matrix(P.T @ A @ P)
    i, j = np.unravel_index(np.argmax(C), C.shape)
    if C[i, j] > 1e-8:
        far = abs(i - j) >= 2
        raise WrongAnswer(
            f"the directions are not A-orthogonal: p_{min(i, j)} and p_{max(i, j)} have "
            f"p_i^T A p_j / (||p_i||_A ||p_j||_A) = {C[i, j]:.2g} (should be ~1e-14). "
            + ("Orthogonalise each new residual against *every* earlier direction, not only "
               "the last one(s): in floating point the shortcut loses conjugacy."
               if far and np.max(C[np.abs(np.subtract.outer(np.arange(n), np.arange(n))) == 1]) < 1e-8
               else "Check the Gram-Schmidt coefficients against section 2 (A-inner products) "
                    "and that each step's residual is updated with the new direction."))
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
           "beside p_k for the later Gram-Schmidt coefficients) is enough, two at most.")

    # x0 is used.
    # (not seed + 1: random_spd draws its x_true from that seed)
    x0 = np.random.default_rng(seed + 1000).standard_normal(n)
    x2, P2, _ = _run_cd(conjugate_directions, A, b, x0)
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
        _expect_unchanged(x0_in, x0, "x0")
    _expect_unchanged(b_in, b, "b")
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
    expect(norms.size >= 1, "residual_norms should start with ||r_0||")
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
        raise WrongAnswer(
            f"alpha_0 = 1 = r_0^T r_0 / p_0^T p_0 (expected {alpha0:.6g}): the step uses "
            "p^T p where p^T A p belongs. alpha_k is the exact line search along p_k "
            "(step 7 and the algorithm box).")
    if np.isclose(alphas[0], 1 / alpha0, rtol=1e-8):
        raise WrongAnswer("alpha_0 is upside down: numerator and denominator are swapped "
                          "(see alpha_k in the algorithm box).")
    expect_close(alphas[0], alpha0, "alpha_0", rtol=1e-8,
                 hint="compare with alpha_k in the algorithm box (p_0 = r_0 = b when x0 = 0).")
    r1 = b - alpha0 * Ab
    nr0, nr1 = np.linalg.norm(b), np.linalg.norm(r1)
    expect_close(norms[1], nr1, "||r_1||", rtol=1e-8,
                 hint="update the residual with the step just taken (see the algorithm box).")
    beta0 = nr1**2 / nr0**2
    if np.isclose(betas[0], nr0**2 / nr1**2, rtol=1e-8):
        raise WrongAnswer("beta_0 is upside down: the new residual belongs in the numerator "
                          "(see beta_k in the algorithm box).")
    if abs(betas[0]) < 1e-6 * beta0:
        raise WrongAnswer(f"beta_0 = {betas[0]:.2g} is about zero: r_{{k+1}}^T r_k vanishes "
                          "because consecutive residuals are orthogonal. See beta_k in the "
                          "algorithm box (step 7 derives it).")
    if np.isclose(betas[0], nr1 / nr0, rtol=1e-8):
        raise WrongAnswer("beta_0 = ||r_1|| / ||r_0||: the norms must be squared "
                          "(see beta_k in the algorithm box).")
    expect_close(betas[0], beta0, "beta_0", rtol=1e-8,
                 hint="compare with beta_k in the algorithm box.")
    if norms.size > 2:
        p1 = r1 + beta0 * b
        Ap1 = A @ p1
        r2 = r1 - (nr1**2 / (p1 @ Ap1)) * Ap1
        if not np.isclose(norms[2], np.linalg.norm(r2), rtol=1e-8):
            raise WrongAnswer(
                f"alpha_0, beta_0 and ||r_1|| are right, but ||r_2|| = {norms[2]:.6g}, expected "
                f"{np.linalg.norm(r2):.6g}: is the direction updated with the new residual "
                "after beta is computed, and before the next product with A (the last line of "
                "the algorithm box)?")


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
    ref = reference_cg(A, b, rtol=rtol, maxiter=budget)
    tol = rtol * np.linalg.norm(b)

    def absolute(A_, b_):
        # The count of a CG whose stopping test forgot the factor ||b||.
        return reference_cg(A_, b_, rtol=0.0, atol=rtol, maxiter=budget).iterations

    x, norms, alphas, betas, products = _run_cg(cg, A, b, finite=False, rtol=rtol,
                                                maxiter=budget)
    expect(x.shape == (n,), f"x should have shape ({n},), got {x.shape}")
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
        raise WrongAnswer(
            f"x and the updated residual r no longer agree: your last recorded ||r|| is "
            f"{norms[-1]:.3g} (converged), but ||b - A x|| for the x you return is {res:.3g}. "
            "x must move by the same step alpha_k p_k that the update of r assumes "
            "(see the algorithm box).")
    if iters != ref.iterations and iters == absolute(A, b) and abs(np.linalg.norm(b) - 1) > 0.1:
        raise WrongAnswer(f"took {iters} iterations; CG takes {ref.iterations}. "
                          + absolute_message)
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
           "of r.")
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
        raise WrongAnswer(f"on 1000 A x = 1000 b CG should take the same {ref.iterations} "
                          f"iterations as on A x = b, but took {its_s}. " + absolute_message)
    expect(res_s <= 1.01 * scale * tol and abs(its_s - ref.iterations) <= 1,
           f"on 1000 A x = 1000 b CG should take the same {ref.iterations} iterations, but took "
           f"{its_s} with ||b - A x|| / ||b|| = {res_s / (scale * np.linalg.norm(b)):.2g}. "
           "Stop on the residual, ||r_k|| <= max(rtol * ||b||, atol), not on the change in x.")

    # maxiter is respected: exactly maxiter iterations when not converged.
    _, norms3, alphas3, _, _ = _run_cg(cg, A, b, rtol=rtol, maxiter=3)
    expect(norms3.size == 4 and alphas3.size == 3,
           f"with maxiter=3, residual_norms should have 4 entries (initial + 3), got {norms3.size}")
    # The default maxiter=None is 10 n: with rtol = atol = 0 CG never stops early.
    hard = random_spd(8, 1e4, seed=3)
    _, norms_d, _, _, _ = _run_cg(cg, hard.A, hard.b, rtol=0.0, atol=0.0)
    expect(norms_d.size - 1 == 80,
           "with the default maxiter=None and rtol = atol = 0 (a test CG can never meet), "
           "the contract's default maxiter = 10 n = 80 iterations should be taken on a "
           f"problem of size n = 8; yours took {norms_d.size - 1}. See the exercise text.")
    # x0 is used, and left unchanged (checked by _run_cg).
    x0 = prob.x_true + 1e-3 * np.ones(n)
    x0_out, norms0, _, _, _ = _run_cg(cg, A, b, x0=x0, rtol=rtol, maxiter=budget)
    expect_close(norms0[0], np.linalg.norm(b - A @ x0), "residual_norms[0] with x0 given",
                 rtol=1e-8, hint="start from x0 when it is given: r_0 = b - A x0.")
    expect(np.linalg.norm(b - A @ x0_out) <= 1.01 * tol,
           "with x0 given, the returned x does not solve A x = b to rtol.")
    # Edge cases with r_0 = 0 exactly: x0 the exact solution, and b = 0.
    Ai, bi, xi = integer_spd_problem(7, seed)
    for b_case, x0_case, case in ((bi, xi, "x0 equal to the solution"),
                                  (np.zeros(7), None, "b = 0 (and x0 = None)")):
        xz, norms_z, alphas_z, _, _ = _run_cg(cg, Ai, b_case, x0=x0_case, finite=False,
                                              rtol=rtol, maxiter=50)
        finite = np.all(np.isfinite(norms_z)) and np.all(np.isfinite(xz))
        expect(norms_z.size == 1 and norms_z[0] == 0.0 and alphas_z.size == 0 and finite,
               f"with {case}, r_0 = b - A x0 is exactly 0, so the stopping test holds before "
               f"any step and the answer is x0 itself with residual_norms = [0.0] and no "
               f"alphas or betas; yours took {norms_z.size - 1} iteration(s)"
               + ("" if finite else " and produced NaN (a step 0/0)")
               + ". Test the stopping criterion at the top of the loop, before the step, and "
                 "keep equality: ||r_k|| <= max(rtol ||b||, atol).")
        want = np.zeros(7) if x0_case is None else x0_case
        expect(xz.shape == (7,) and np.array_equal(xz, want),
               f"with {case}, x should be returned as it started.")
    # atol is honoured: a loose absolute tolerance stops early.
    atol = 0.1 * np.linalg.norm(b)
    xa, normsa, _, _, _ = _run_cg(cg, A, b, rtol=0.0, atol=atol, maxiter=budget)
    expect(np.linalg.norm(b - A @ xa) <= 1.01 * atol and normsa.size - 1 < ref.iterations,
           "with rtol=0 and atol given, stop when ||r|| <= atol.")
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
    T = call_student(lanczos_from_cg, *given,
                     forbid=FORBID + ("krylov_ref.lanczos", "krylov_ref.krylov.lanczos"))
    for passed_in, original, name in zip(given, kept, ("alphas", "betas")):
        _expect_unchanged(np.asarray(passed_in, dtype=float), np.asarray(original, dtype=float),
                          name)
    T = np.asarray(T, dtype=float)
    if as_lists:
        expect(T.shape == (k, k), f"with alphas and betas given as Python lists (as the cg of "
               f"Exercise 2 returns them), T should still have shape ({k}, {k}), got {T.shape}")
    if T.shape in ((k + 1, k + 1), (k - 1, k - 1)) and k > 1:
        raise WrongAnswer(f"T has shape {T.shape}, expected ({k}, {k}): k CG steps give the "
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
        hint = ""
        if np.allclose(np.abs(lower), 1 / a[:-1], rtol=1e-8) or np.allclose(np.abs(upper), bt / a[:-1], rtol=1e-8):
            hint = (" It looks like the three-term relation of the unnormalised residuals "
                    "(1/alpha_k on one side, beta_k/alpha_k on the other): normalise, "
                    "q_{k+1} = (-1)^k r_k / ||r_k||, which makes both sqrt(beta_k)/alpha_k.")
        raise WrongAnswer("T should be symmetric (T = Q^T A Q), but T[k+1, k] != T[k, k+1]." + hint)
    d = np.diag(T)
    if k > 1 and np.allclose(d, 1 / a, rtol=1e-10):
        raise WrongAnswer("the diagonal is 1/alpha_k only: add beta_{k-1}/alpha_{k-1} for every "
                          "row after the first (A r_k involves r_{k-1}, r_k and r_{k+1}).")
    if k > 1 and np.allclose(d, 1 / a + betas[:k] / a, rtol=1e-10):
        raise WrongAnswer("the diagonal uses beta_k/alpha_k: it should be 1/alpha_k + "
                          "beta_{k-1}/alpha_{k-1} (the previous step's beta and alpha; nothing "
                          "added in the first row).")
    expect_close(d, diag_want, "the diagonal of T", rtol=1e-10,
                 hint="T[k, k] = 1/alpha_k + beta_{k-1}/alpha_{k-1} (just 1/alpha_0 for k = 0).")
    if k > 1:
        off = np.abs(upper)
        if np.allclose(off, bt / a[:-1], rtol=1e-10):
            raise WrongAnswer("the off-diagonal is beta_k/alpha_k: take the square root of "
                              "beta, sqrt(beta_k)/alpha_k (from ||r_{k+1}|| / ||r_k|| = sqrt(beta_k)).")
        if np.allclose(off, np.sqrt(bt) / a[1:], rtol=1e-10):
            raise WrongAnswer("the off-diagonal divides by the wrong alpha: T[k, k+1] = "
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
