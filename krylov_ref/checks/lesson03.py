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
from ..problems import poisson2d, random_spd
from . import (
    DIRECT, SOLVERS, CountingOperator, WrongAnswer, call_student, expect, expect_close,
    passed,
)

__all__ = ["check_conjugate_directions", "check_cg", "check_lanczos_from_cg"]

#: What would do an exercise's work for it.
CONJUGACY = ("krylov_ref.conjugacy.conjugate_directions",
             "krylov_ref.conjugacy.a_orthogonalize",
             "krylov_ref.conjugacy.lanczos_from_cg")
FORBID = SOLVERS + DIRECT + CONJUGACY


def _unpack(value, what, names):
    k = len(names)
    if not isinstance(value, (tuple, list)) or len(value) != k:
        got = type(value).__name__
        if hasattr(value, "__len__") and not isinstance(value, np.ndarray):
            got += f" of length {len(value)}"
        raise WrongAnswer(f"{what} should return a tuple ({', '.join(names)}), got {got}")
    return value


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


def _run_cd(conjugate_directions, A, b, x0=None):
    op = CountingOperator(A)
    args = (op, b.copy()) if x0 is None else (op, b.copy(), x0.copy())
    x, P = _unpack(call_student(conjugate_directions, *args, forbid=FORBID),
                   "conjugate_directions", ("x", "P"))
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
                          "the directions; p_k = r_k - sum_j (p_j^T A r_k / p_j^T A p_j) p_j.")
    if np.allclose(p1, r1, rtol=1e-8):
        raise WrongAnswer("p_1 is the residual r_1 itself: subtract from r_k its A-projections "
                          "onto every earlier direction, p_k = r_k - sum_j (p_j^T A r_k / "
                          "p_j^T A p_j) p_j. (Projections in the ordinary inner product change "
                          "nothing here: r_1 is already orthogonal to p_0.)")
    if np.allclose(p1, r1 - (p0 @ r1) / (p0 @ p0) * p0, rtol=1e-8):
        raise WrongAnswer("p_1 is orthogonal to p_0 in the ordinary inner product; it must be "
                          "A-orthogonal: use the coefficients p_j^T A r_k / p_j^T A p_j.")
    if np.allclose(p1, r1 + (p0 @ A @ r1) / (p0 @ A @ p0) * p0, rtol=1e-8):
        raise WrongAnswer("p_1 = r_1 + (...) p_0: the Gram-Schmidt projection must be "
                          "subtracted, p_k = r_k - sum_j (p_j^T A r_k / p_j^T A p_j) p_j.")
    if np.allclose(p1, -right, rtol=1e-8):
        raise WrongAnswer("p_1 has the wrong sign: the directions are built from the residuals "
                          "r_k = b - A x_k (the negative gradients), p_0 = r_0.")
    raise WrongAnswer("p_1 (the second column of P) is wrong: with alpha_0 = r_0^T p_0 / "
                      "p_0^T A p_0, r_1 = r_0 - alpha_0 A p_0 and p_1 = r_1 - (p_0^T A r_1 / "
                      "p_0^T A p_0) p_0.")


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
                          "P[:, k] = p_k (np.column_stack, or P.T).")
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
               else "Check the Gram-Schmidt coefficient p_j^T A r_k / p_j^T A p_j and that "
                    "each step's residual is updated with the new direction."))
    col_err = np.linalg.norm(P - P_ref, axis=0) / np.linalg.norm(P_ref, axis=0)
    k = int(np.argmax(col_err))
    expect(col_err[k] <= 1e-6,
           f"direction p_{k} differs from the expected one (relative difference "
           f"{col_err[k]:.2g}) although the directions are conjugate: are they built from the "
           "residuals r_k = b - A x_k in order, with the exact step alpha_k = r_k^T p_k / "
           "p_k^T A p_k, and not normalised?")
    res = np.linalg.norm(b - A @ x) / np.linalg.norm(b)
    expect(res <= 1e-9,
           f"after n = {n} steps ||b - A x|| / ||b|| = {res:.2g}: conjugate directions reach "
           "the solution in n steps. Is x updated by alpha_k p_k at every step, with "
           "alpha_k = r_k^T p_k / p_k^T A p_k?")
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


def _run_cg(cg, A, b, **kwargs):
    op = CountingOperator(A)
    out = call_student(cg, op, b.copy(), forbid=FORBID, **kwargs)
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
            "p^T p where p^T A p belongs. alpha_k = r_k^T r_k / p_k^T A p_k is the exact line "
            "search along p_k.")
    if np.isclose(alphas[0], 1 / alpha0, rtol=1e-8):
        raise WrongAnswer("alpha_0 is upside down: alpha_k = r_k^T r_k / p_k^T A p_k.")
    expect_close(alphas[0], alpha0, "alpha_0", rtol=1e-8,
                 hint="alpha_k = r_k^T r_k / p_k^T A p_k, with p_0 = r_0 = b when x0 = 0.")
    r1 = b - alpha0 * Ab
    nr0, nr1 = np.linalg.norm(b), np.linalg.norm(r1)
    expect_close(norms[1], nr1, "||r_1||", rtol=1e-8,
                 hint="update the residual with the step just taken: r <- r - alpha A p.")
    beta0 = nr1**2 / nr0**2
    if np.isclose(betas[0], nr0**2 / nr1**2, rtol=1e-8):
        raise WrongAnswer("beta_0 is upside down: beta_k = r_{k+1}^T r_{k+1} / r_k^T r_k "
                          "(new over old).")
    if abs(betas[0]) < 1e-6 * beta0:
        raise WrongAnswer(f"beta_0 = {betas[0]:.2g} is about zero: r_{{k+1}}^T r_k vanishes "
                          "because consecutive residuals are orthogonal. beta_k = "
                          "r_{k+1}^T r_{k+1} / r_k^T r_k.")
    if np.isclose(betas[0], nr1 / nr0, rtol=1e-8):
        raise WrongAnswer("beta_0 = ||r_1|| / ||r_0||: the norms must be squared, "
                          "beta_k = r_{k+1}^T r_{k+1} / r_k^T r_k.")
    expect_close(betas[0], beta0, "beta_0", rtol=1e-8,
                 hint="beta_k = r_{k+1}^T r_{k+1} / r_k^T r_k.")
    if norms.size > 2:
        p1 = r1 + beta0 * b
        Ap1 = A @ p1
        r2 = r1 - (nr1**2 / (p1 @ Ap1)) * Ap1
        if not np.isclose(norms[2], np.linalg.norm(r2), rtol=1e-8):
            raise WrongAnswer(
                f"alpha_0, beta_0 and ||r_1|| are right, but ||r_2|| = {norms[2]:.6g}, expected "
                f"{np.linalg.norm(r2):.6g}: is the direction updated with the new residual, "
                "p <- r + beta p, after beta is computed (and before the next product A p)?")


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
    maxiter = 10 * n
    ref = reference_cg(A, b, rtol=rtol, maxiter=maxiter)
    tol = rtol * np.linalg.norm(b)

    x, norms, alphas, betas, products = _run_cg(cg, A, b, rtol=rtol, maxiter=maxiter)
    expect(x.shape == (n,), f"x should have shape ({n},), got {x.shape}")
    expect_close(norms[0], np.linalg.norm(b), "residual_norms[0]", rtol=1e-10,
                 hint="it should be ||b - A x0|| with x0 = 0, i.e. ||b||.")
    expect(norms.size >= 2, f"no iteration was taken, but ||b|| = {norms[0]:.3g} > rtol ||b||.")
    _diagnose_first_steps(A, b, norms, alphas, betas)
    expect(np.all(np.isfinite(norms)), "residual_norms contains NaN or inf")
    iters = norms.size - 1
    res = np.linalg.norm(b - A @ x)
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
           "enough (q = A p, then alpha = r^T r / p^T q, r <- r - alpha q).")
    m = min(iters, ref.iterations)
    expect_close(norms[: m + 1], ref.residual_norms[: m + 1], "the residual norm history",
                 rtol=1e-6, hint="residual_norms should hold ||r_k|| for k = 0, 1, ...")
    expect_close(alphas[:m], ref.alphas[:m], "the alphas", rtol=1e-6,
                 hint="alpha_k = r_k^T r_k / p_k^T A p_k, one per iteration.")
    expect_close(betas[:m], ref.betas[:m], "the betas", rtol=1e-6,
                 hint="beta_k = r_{k+1}^T r_{k+1} / r_k^T r_k, one per iteration.")

    # A scaled copy of the problem: CG's iterates do not change when A is
    # multiplied by a constant and b with it. Stopping on ||x_{k+1} - x_k||
    # is not scale invariant; this catches it.
    scale = 1e3
    xs, norms_s, _, _, _ = _run_cg(cg, scale * A, scale * b, rtol=rtol, maxiter=maxiter)
    res_s = np.linalg.norm(scale * b - scale * (A @ xs))
    expect(res_s <= 1.01 * scale * tol and abs(norms_s.size - 1 - ref.iterations) <= 1,
           f"on 1000 A x = 1000 b CG should take the same {ref.iterations} iterations, but took "
           f"{norms_s.size - 1} with ||b - A x|| / ||b|| = {res_s / (scale * np.linalg.norm(b)):.2g}. "
           "Stop on the residual, ||r_k|| <= max(rtol * ||b||, atol), not on the change in x.")

    # maxiter is respected: exactly maxiter iterations when not converged.
    _, norms3, alphas3, _, _ = _run_cg(cg, A, b, rtol=rtol, maxiter=3)
    expect(norms3.size == 4 and alphas3.size == 3,
           f"with maxiter=3, residual_norms should have 4 entries (initial + 3), got {norms3.size}")
    # x0 is used.
    x0 = prob.x_true + 1e-3 * np.ones(n)
    x0_out, norms0, _, _, _ = _run_cg(cg, A, b, x0=x0.copy(), rtol=rtol, maxiter=maxiter)
    expect_close(norms0[0], np.linalg.norm(b - A @ x0), "residual_norms[0] with x0 given",
                 rtol=1e-8, hint="start from x0 when it is given: r_0 = b - A x0.")
    expect(np.linalg.norm(b - A @ x0_out) <= 1.01 * tol,
           "with x0 given, the returned x does not solve A x = b to rtol.")
    # atol is honoured: a loose absolute tolerance stops early.
    atol = 0.1 * np.linalg.norm(b)
    xa, normsa, _, _, _ = _run_cg(cg, A, b, rtol=0.0, atol=atol, maxiter=maxiter)
    expect(np.linalg.norm(b - A @ xa) <= 1.01 * atol and normsa.size - 1 < ref.iterations,
           "with rtol=0 and atol given, stop when ||r|| <= atol.")
    passed(f"cg: converged in {iters} iterations on {prob.name}, matching krylov_ref.cg "
           "(residuals, alphas, betas); one product per iteration; maxiter, x0 and atol respected.")


# --------------------------------------------------------------------------
# Exercise 3: T_k from CG's alphas and betas


def _check_T(lanczos_from_cg, alphas, betas):
    k = alphas.size
    T = call_student(lanczos_from_cg, alphas.copy(), betas.copy(),
                     forbid=FORBID + ("krylov_ref.lanczos", "krylov_ref.krylov.lanczos"))
    T = np.asarray(T, dtype=float)
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
