"""Lesson 08's catalogue of misconceptions: a concrete wrong variant of the
solution for each code declared in krylov_ref/checks/lesson08.py
(``make misconceptions`` grades them)."""

from krylov_ref.grading.misconceptions import Variant

# The products of Exercise 1's solution.
_GRAM_V = "X.T @ (X @ v)"
_LAM_V = "+ lam * v"
# Exercise 2's solution.
_Q = "q = ridge_matvec(X, p, lam)"
_TOL2 = "tol = max(rtol * np.linalg.norm(b), atol)"
_NORMS0 = "residual_norms = [np.sqrt(gamma)]"
_NORMS_K = "residual_norms.append(np.sqrt(gamma))"
# Exercise 3's solution: s inside the loop (the x0 branch computes it too).
_S_LOOP = "s = X.T @ r - d2 * beta\n        gamma_new"
_TOL3 = "tol = max(rtol * np.linalg.norm(Xty), atol)"
# Exercise 4's solution.
_SOLVE = "ridge_cg(X, y, lam, x0=beta, rtol=rtol, atol=atol, maxiter=maxiter)"

_FLOAT_COUNTS = '''\
def regularization_path(X, y, lams, *, rtol=1e-5, atol=0.0, maxiter=None):
    coefs = np.zeros((len(lams), X.shape[1]))
    iterations = np.zeros(len(lams))
    beta = None
    for i, lam in enumerate(lams):
        beta, norms = ridge_cg(X, y, lam, x0=beta, rtol=rtol, atol=atol, maxiter=maxiter)
        coefs[i] = beta
        iterations[i] = len(norms) - 1
    return coefs, iterations
'''

_MAXITER_TOTAL = '''\
def regularization_path(X, y, lams, *, rtol=1e-5, atol=0.0, maxiter=None):
    budget = 10 * X.shape[1] if maxiter is None else maxiter
    coefs, iterations = [], []
    beta = None
    for lam in lams:
        beta, norms = ridge_cg(X, y, lam, x0=beta, rtol=rtol, atol=atol, maxiter=budget)
        coefs.append(beta)
        iterations.append(len(norms) - 1)
        budget -= len(norms) - 1
    return np.array(coefs), iterations
'''

# CG written out in the path, updating beta in place: every row is the same array.
_ROWS_ALIAS = '''\
def regularization_path(X, y, lams, *, rtol=1e-5, atol=0.0, maxiter=None):
    n_features = X.shape[1]
    maxiter = 10 * n_features if maxiter is None else maxiter
    b = X.T @ y
    tol = max(rtol * np.linalg.norm(b), atol)
    beta = np.zeros(n_features)
    coefs, iterations = [], []
    for lam in lams:
        s = b - ridge_matvec(X, beta, lam)
        d = s.copy()
        gamma = s @ s
        k = 0
        while k < maxiter and np.sqrt(gamma) > tol:
            q = ridge_matvec(X, d, lam)
            alpha = gamma / (d @ q)
            beta += alpha * d
            s -= alpha * q
            gamma, gamma_old = s @ s, gamma
            d = s + (gamma / gamma_old) * d
            k += 1
        coefs.append(beta)
        iterations.append(k)
    return np.array(coefs), iterations
'''

VARIANTS = [
    # Exercise 1: ridge_matvec
    Variant("08.ridge_matvec.no_lam", patch=((f" {_LAM_V}", ""),)),
    Variant("08.ridge_matvec.minus_lam", patch=((_LAM_V, "- lam * v"),)),
    Variant("08.ridge_matvec.lam_squared", patch=((_LAM_V, "+ lam ** 2 * v"),)),
    Variant("08.ridge_matvec.sqrt_lam", patch=((_LAM_V, "+ np.sqrt(lam) * v"),)),
    Variant("08.ridge_matvec.two_lam", patch=((_LAM_V, "+ 2 * lam * v"),)),
    Variant("08.ridge_matvec.lam_scalar", patch=((_LAM_V, "+ lam"),)),
    Variant("08.ridge_matvec.sign", patch=((f"return {_GRAM_V} {_LAM_V}",
                                            f"return -({_GRAM_V} {_LAM_V})"),)),
    Variant("08.ridge_matvec.forms_gram", patch=((_GRAM_V, "X.T @ X @ v"),)),
    Variant("08.ridge_matvec.xxt", patch=((_GRAM_V, "X @ (X.T @ v)"),)),
    Variant("08.ridge_matvec.modifies_v", patch=((f"return {_GRAM_V} {_LAM_V}",
                                                  "Xv = X @ v\n    v *= lam\n"
                                                  "    return X.T @ Xv + v"),)),
    # Exercise 2: ridge_cg
    Variant("08.ridge_cg.no_lam", patch=((_Q, "q = X.T @ (X @ p)"),)),
    Variant("08.ridge_cg.sqrt_lam", patch=((_Q, "q = ridge_matvec(X, p, np.sqrt(lam))"),)),
    Variant("08.ridge_cg.forms_gram", patch=(
        ("    b = X.T @ y\n", "    A = X.T @ X + lam * np.eye(n_features)\n    b = X.T @ y\n"),
        (_Q, "q = A @ p"))),
    Variant("08.ridge_cg.ls_residual", patch=(
        (_NORMS0, "residual_norms = [np.linalg.norm(y - X @ beta)]"),
        (_NORMS_K, "residual_norms.append(np.linalg.norm(y - X @ beta))"))),
    Variant("08.ridge_cg.squared_norms", patch=((_NORMS0, "residual_norms = [gamma]"),
                                                (_NORMS_K, "residual_norms.append(gamma)"))),
    Variant("08.ridge_cg.residual_update_sign", patch=(("s = s - alpha * q", "s = s + alpha * q"),)),
    Variant("08.ridge_cg.beta_update_sign", patch=(("beta = beta + alpha * p",
                                                    "beta = beta - alpha * p"),)),
    Variant("08.ridge_cg.direction_ratio", patch=(("(gamma_new / gamma)", "(gamma / gamma_new)"),)),
    Variant("08.ridge_cg.recomputed_residual", patch=(("s = s - alpha * q",
                                                       "s = b - ridge_matvec(X, beta, lam)"),)),
    Variant("08.ridge_cg.stop_absolute", patch=((_TOL2, "tol = max(rtol, atol)"),)),
    Variant("08.ridge_cg.stop_relative_y", patch=((_TOL2, "tol = max(rtol * np.linalg.norm(y), atol)"),)),
    Variant("08.ridge_cg.stop_sum", patch=((_TOL2, "tol = rtol * np.linalg.norm(b) + atol"),)),
    Variant("08.ridge_cg.strict_test", patch=(("if residual_norms[-1] <= tol:",
                                               "if residual_norms[-1] < tol:"),)),
    Variant("08.ridge_cg.test_after_step", patch=(
        ("        if residual_norms[-1] <= tol:\n            break\n        q", "        q"),
        (f"        {_NORMS_K}\n",
         f"        {_NORMS_K}\n        if residual_norms[-1] <= tol:\n            break\n"))),
    Variant("08.ridge_cg.ignores_x0", patch=((
        "beta = np.array(x0, dtype=float)\n        s = b - ridge_matvec(X, beta, lam)",
        "beta = np.zeros(n_features)\n        s = b.copy()"),)),
    Variant("08.ridge_cg.x0_residual", patch=(("s = b - ridge_matvec(X, beta, lam)", "s = b.copy()"),)),
    Variant("08.ridge_cg.modifies_x0", patch=(("beta = np.array(x0, dtype=float)", "beta = x0"),
                                              ("beta = beta + alpha * p", "beta += alpha * p"))),
    Variant("08.ridge_cg.default_maxiter", patch=(("maxiter = 10 * n_features if",
                                                   "maxiter = n_features if"),)),
    Variant("08.ridge_cg.maxiter_off_by_one", patch=(("for _ in range(maxiter):",
                                                      "for _ in range(maxiter + 1):"),)),
    # Exercise 3: cgls
    Variant("08.cgls.damp_not_squared", patch=(("d2 = damp ** 2", "d2 = damp"),)),
    Variant("08.cgls.alpha_no_damp", patch=(("alpha = gamma / (q @ q + d2 * (p @ p))",
                                             "alpha = gamma / (q @ q)"),)),
    Variant("08.cgls.s_no_damp", patch=((_S_LOOP, "s = X.T @ r\n        gamma_new"),)),
    Variant("08.cgls.s_damp_sign", patch=((_S_LOOP, "s = X.T @ r + d2 * beta\n        gamma_new"),)),
    Variant("08.cgls.residual_update_sign", patch=(("r = r - alpha * q", "r = r + alpha * q"),)),
    Variant("08.cgls.normal_equations", patch=((_S_LOOP, "s = s - alpha * (X.T @ q + d2 * p)"
                                                          "\n        gamma_new"),)),
    Variant("08.cgls.recomputed_residual", patch=(("r = r - alpha * q", "r = y - X @ beta"),)),
    Variant("08.cgls.ls_residual", patch=((_NORMS0, "residual_norms = [np.linalg.norm(r)]"),
                                          (_NORMS_K, "residual_norms.append(np.linalg.norm(r))"))),
    Variant("08.cgls.stop_relative_y", patch=((_TOL3, "tol = max(rtol * np.linalg.norm(y), atol)"),)),
    Variant("08.cgls.stop_sum", patch=((_TOL3, "tol = rtol * np.linalg.norm(Xty) + atol"),)),
    Variant("08.cgls.x0_residual", patch=(("r = y - X @ beta", "r = np.array(y, dtype=float)"),)),
    # Exercise 4: regularization_path
    Variant("08.regularization_path.cold_start", patch=(("x0=beta", "x0=None"),)),
    Variant("08.regularization_path.counts_entries", patch=(("len(norms) - 1", "len(norms)"),)),
    Variant("08.regularization_path.float_counts", source=_FLOAT_COUNTS),
    Variant("08.regularization_path.transposed", patch=(("return np.array(coefs), iterations",
                                                         "return np.array(coefs).T, iterations"),)),
    Variant("08.regularization_path.sorted_lams", patch=(("for lam in lams:",
                                                          "for lam in sorted(lams):"),)),
    Variant("08.regularization_path.sorted_lams", test="hidden",
            why_hidden="the visible test gives the lams in decreasing order, which sorting them "
                       "in decreasing order leaves as they are; the hidden test gives them "
                       "increasing",
            patch=(("for lam in lams:", "for lam in sorted(lams, reverse=True):"),)),
    Variant("08.regularization_path.drops_tolerances", patch=((_SOLVE,
                                                               "ridge_cg(X, y, lam, x0=beta)"),)),
    Variant("08.regularization_path.maxiter_total", source=_MAXITER_TOTAL),
    Variant("08.regularization_path.damp_not_sqrt", patch=((_SOLVE, _SOLVE.replace(
        "ridge_cg(X, y, lam,", "cgls(X, y, lam,")),)),
    Variant("08.regularization_path.rows_alias", source=_ROWS_ALIAS),
]
