"""Lesson 03's catalogue of misconceptions: a concrete wrong variant of the
solution for each code declared in krylov_ref/checks/lesson03.py
(``make misconceptions`` grades them)."""

from krylov_ref.grading.misconceptions import Variant

# ---------------------------------------------------------------- Exercise 1

CD_EXTRA_DIRECTION = '''
def conjugate_directions(A, b, x0=None):
    n = b.shape[0]
    x = np.zeros(n) if x0 is None else np.array(x0, dtype=float)
    r = b - A @ x
    P, AP = [r.copy()], []
    for k in range(n):
        p = P[-1]
        Ap = A @ p
        AP.append(Ap)
        alpha = (r @ p) / (p @ Ap)
        x = x + alpha * p
        r = r - alpha * Ap
        p_next = r.copy()                   # the next direction, built at the end of the step
        for pj, Apj in zip(P, AP):
            p_next = p_next - (Apj @ p_next) / (pj @ Apj) * pj
        P.append(p_next)
    return x, np.column_stack(P)
'''

GRAM_SCHMIDT = "p = p - (Apj @ p) / (pj @ Apj) * pj"

CONJUGATE_DIRECTIONS = [
    Variant("03.conjugate_directions.gradient_not_residual",
            patch=(("r = b - A @ x", "r = A @ x - b"), ("r = r - alpha * Ap", "r = r + alpha * Ap"))),
    Variant("03.conjugate_directions.normalised",
            patch=(("        Ap = A @ p\n", "        p = p / np.linalg.norm(p)\n        Ap = A @ p\n"),)),
    Variant("03.conjugate_directions.no_orthogonalisation",
            patch=((f"        for pj, Apj in zip(P, AP):\n            {GRAM_SCHMIDT}\n", ""),)),
    Variant("03.conjugate_directions.euclidean_projection",
            patch=(("(Apj @ p) / (pj @ Apj)", "(pj @ p) / (pj @ pj)"),)),
    Variant("03.conjugate_directions.projection_added",
            patch=(("p = p - (Apj", "p = p + (Apj"),)),
    Variant("03.conjugate_directions.last_direction_only",
            patch=(("zip(P, AP)", "zip(P[-1:], AP[-1:])"),)),
    Variant("03.conjugate_directions.directions_as_rows",
            patch=(("np.column_stack(P)", "np.array(P)"),)),
    Variant("03.conjugate_directions.extra_direction", source=CD_EXTRA_DIRECTION),
    Variant("03.conjugate_directions.alpha_without_A",
            patch=(("alpha = (r @ p) / (p @ Ap)", "alpha = (r @ p) / (p @ p)"),)),
    Variant("03.conjugate_directions.residual_not_updated",
            patch=(("        r = r - alpha * Ap\n", ""),)),
    Variant("03.conjugate_directions.products_recomputed",
            patch=((GRAM_SCHMIDT, "p = p - ((A @ pj) @ p) / (pj @ (A @ pj)) * pj"),)),
    Variant("03.conjugate_directions.x0_ignored",
            patch=(("np.zeros(n) if x0 is None else np.array(x0, dtype=float)", "np.zeros(n)"),)),
    Variant("03.conjugate_directions.input_modified",
            patch=(("np.array(x0, dtype=float)", "x0"), ("x = x + alpha * p", "x += alpha * p"))),
]

# ---------------------------------------------------------------- Exercise 2

TEST_AT_TOP = "        if residual_norms[-1] <= tol:\n            break\n"
LAST_APPEND = "        betas.append(beta)\n"
TOL = "tol = max(rtol * np.linalg.norm(b), atol)"

CG = [
    Variant("03.cg.alpha_without_A", patch=(("alpha = rr / (p @ q)", "alpha = rr / (p @ p)"),)),
    Variant("03.cg.alpha_inverted", patch=(("alpha = rr / (p @ q)", "alpha = (p @ q) / rr"),)),
    Variant("03.cg.beta_inverted", patch=(("beta = rr_new / rr", "beta = rr / rr_new"),)),
    Variant("03.cg.beta_orthogonal_product",
            patch=(("        r = r - alpha * q\n", "        r_old = r\n        r = r - alpha * q\n"),
                   ("beta = rr_new / rr", "beta = (r @ r_old) / rr"))),
    Variant("03.cg.beta_unsquared", patch=(("beta = rr_new / rr", "beta = np.sqrt(rr_new / rr)"),)),
    Variant("03.cg.residual_update_sign", patch=(("r = r - alpha * q", "r = r + alpha * q"),)),
    Variant("03.cg.x_update_sign", patch=(("x = x + alpha * p", "x = x - alpha * p"),)),
    Variant("03.cg.direction_not_updated", patch=(("        p = r + beta * p\n", ""),)),
    Variant("03.cg.steepest_descent_direction", patch=(("p = r + beta * p", "p = r.copy()"),)),
    Variant("03.cg.direction_from_old_residual",
            patch=(("r = r - alpha * q\n        rr_new = r @ r",
                    "r_new = r - alpha * q\n        rr_new = r_new @ r_new"),
                   ("        p = r + beta * p\n", "        p = r + beta * p\n        r = r_new\n"))),
    Variant("03.cg.extra_products", patch=(("r = r - alpha * q", "r = b - A @ x"),)),
    Variant("03.cg.stop_on_step_size",
            patch=((TEST_AT_TOP, ""),
                   ("        x = x + alpha * p\n", "        step = alpha * p\n        x = x + step\n"),
                   (LAST_APPEND, LAST_APPEND + "        if np.linalg.norm(step) <= tol:\n            break\n"))),
    Variant("03.cg.absolute_tolerance", patch=((TOL, "tol = max(rtol, atol)"),)),
    Variant("03.cg.tolerance_relative_to_r0",
            patch=((f"{TOL}\n    r = b - A @ x\n",
                    "r = b - A @ x\n    tol = max(rtol * np.linalg.norm(r), atol)\n"),)),
    Variant("03.cg.tolerance_sum", patch=((TOL, "tol = rtol * np.linalg.norm(b) + atol"),)),
    Variant("03.cg.atol_ignored", patch=((TOL, "tol = rtol * np.linalg.norm(b)"),)),
    Variant("03.cg.strict_inequality",
            patch=(("if residual_norms[-1] <= tol:", "if residual_norms[-1] < tol:"),)),
    Variant("03.cg.test_after_step",
            patch=((TEST_AT_TOP, ""),
                   (LAST_APPEND, LAST_APPEND + TEST_AT_TOP))),
    Variant("03.cg.default_maxiter",
            patch=(("maxiter = 10 * n if maxiter is None", "maxiter = n if maxiter is None"),)),
    Variant("03.cg.maxiter_off_by_one", patch=(("range(maxiter)", "range(maxiter + 1)"),)),
    Variant("03.cg.maxiter_ignored",
            patch=(("for _ in range(maxiter):", "while True:"),)),
    Variant("03.cg.x0_ignored",
            patch=(("np.zeros(n) if x0 is None else np.array(x0, dtype=float)", "np.zeros(n)"),)),
    Variant("03.cg.input_modified",
            patch=(("np.array(x0, dtype=float)", "x0"), ("x = x + alpha * p", "x += alpha * p"))),
    Variant("03.cg.norms_without_r0",
            patch=(("[np.sqrt(rr)], [], []", "[], [], []"),
                   ("if residual_norms[-1] <= tol:", "if np.sqrt(rr) <= tol:"))),
    Variant("03.cg.squared_norms",
            patch=(("[np.sqrt(rr)], [], []", "[rr], [], []"),
                   ("residual_norms.append(np.sqrt(rr))", "residual_norms.append(rr)"))),
]

# ---------------------------------------------------------------- Exercise 3

T_ONE_BASED = '''
def lanczos_from_cg(alphas, betas):
    k = len(alphas)
    T = np.zeros((k + 1, k + 1))           # rows and columns 1..k, as in T_k's textbook numbering
    for j in range(1, k + 1):
        T[j, j] = 1 / alphas[j - 1]
        if j > 1:
            T[j, j] += betas[j - 2] / alphas[j - 2]
            T[j, j - 1] = T[j - 1, j] = np.sqrt(betas[j - 2]) / alphas[j - 2]
    return T
'''

DIAGONAL = "diagonal[1:] += betas[: k - 1] / alphas[: k - 1]"
OFF = "np.sqrt(betas[: k - 1]) / alphas[: k - 1]"
RETURN_T = "return tridiagonal(diagonal, off_diagonal)"

LANCZOS_FROM_CG = [
    Variant("03.lanczos_from_cg.diagonal_missing_beta_term", patch=((f"    {DIAGONAL}\n", ""),)),
    Variant("03.lanczos_from_cg.diagonal_index_shift",
            patch=((DIAGONAL, "diagonal += betas / alphas"),)),
    Variant("03.lanczos_from_cg.sqrt_on_diagonal",
            patch=((DIAGONAL, "diagonal[1:] += np.sqrt(betas[: k - 1]) / alphas[: k - 1]"),)),
    Variant("03.lanczos_from_cg.step_lengths_not_inverted",
            patch=(("diagonal = 1 / alphas", "diagonal = alphas.copy()"),
                   (DIAGONAL, "diagonal[1:] += betas[: k - 1] * alphas[: k - 1]"),
                   (OFF, "np.sqrt(betas[: k - 1]) * alphas[: k - 1]"))),
    Variant("03.lanczos_from_cg.offdiagonal_no_sqrt",
            patch=((OFF, "betas[: k - 1] / alphas[: k - 1]"),)),
    Variant("03.lanczos_from_cg.offdiagonal_wrong_alpha",
            patch=((OFF, "np.sqrt(betas[: k - 1]) / alphas[1:]"),)),
    Variant("03.lanczos_from_cg.unnormalised_residuals",
            patch=((RETURN_T, "return (np.diag(diagonal) - np.diag(1 / alphas[: k - 1], -1)\n"
                              "            - np.diag(betas[: k - 1] / alphas[: k - 1], 1))"),)),
    Variant("03.lanczos_from_cg.not_symmetric",
            patch=((RETURN_T, "return (np.diag(diagonal) + np.diag(off_diagonal, 1)\n"
                              "            - np.diag(off_diagonal, -1))"),)),
    Variant("03.lanczos_from_cg.wrong_size", source=T_ONE_BASED),
    Variant("03.lanczos_from_cg.all_betas_used", patch=((OFF, "np.sqrt(betas) / alphas"),)),
    Variant("03.lanczos_from_cg.lists_not_converted",
            patch=(("    alphas = np.asarray(alphas, dtype=float)\n    betas = np.asarray(betas, dtype=float)\n",
                    ""),)),
    Variant("03.lanczos_from_cg.input_modified",
            patch=((f"off_diagonal = {OFF}",
                    "off_diagonal = betas[: k - 1]             # a view of the caller's betas\n"
                    "    off_diagonal /= alphas[: k - 1] ** 2\n"
                    "    off_diagonal **= 0.5"),)),
]

VARIANTS = CONJUGATE_DIRECTIONS + CG + LANCZOS_FROM_CG
