"""Lesson 07's catalogue of misconceptions: a concrete wrong variant of the
solution for each code declared in krylov_ref/checks/lesson07.py
(``make misconceptions`` grades them)."""

from krylov_ref.grading.misconceptions import Variant

_HVP = "return X.T @ (s * (1.0 - s) * (X @ v)) / m + lam * v"
_WEIGHTS = "(s * (1.0 - s) * (X @ v))"

LOGISTIC_HVP = [
    Variant("07.logistic_hvp.no_mean", patch=(("/ m + lam * v", "+ lam * v"),)),
    Variant("07.logistic_hvp.mean_over_n", patch=(("m = X.shape[0]", "m = X.shape[1]"),)),
    Variant("07.logistic_hvp.no_lam", patch=((" + lam * v", ""),)),
    Variant("07.logistic_hvp.half_lam", patch=(("+ lam * v", "+ lam * v / 2"),)),
    Variant("07.logistic_hvp.double_lam", patch=(("+ lam * v", "+ 2 * lam * v"),)),
    Variant("07.logistic_hvp.lam_w", patch=(("+ lam * v", "+ lam * w"),)),
    Variant("07.logistic_hvp.d_sigma", patch=((_WEIGHTS, "(s * (X @ v))"),)),
    Variant("07.logistic_hvp.d_quarter", patch=((_WEIGHTS, "(0.25 * (X @ v))"),)),
    Variant("07.logistic_hvp.d_missing", patch=((_WEIGHTS, "(X @ v)"),)),
    Variant("07.logistic_hvp.d_at_v", patch=(("s = expit(X @ w)", "s = expit(X @ v)"),)),
    Variant("07.logistic_hvp.sign", patch=((_HVP, "return -(X.T @ (s * (1.0 - s) * (X @ v)) / m + lam * v)"),)),
    Variant("07.logistic_hvp.forms_hessian", source='''
def logistic_hvp(X, w, v, lam=0.0):
    m, n = X.shape
    s = expit(X @ w)
    Xd = X @ np.eye(n)                       # the data matrix, column by column
    H = Xd.T @ (Xd * (s * (1.0 - s))[:, None]) / m + lam * np.eye(n)
    return H @ v
'''),
    Variant("07.logistic_hvp.default_lam", patch=(("lam=0.0):", "lam=0.1):"),)),
    Variant("07.logistic_hvp.overflow", patch=(("s = expit(X @ w)",
                                                "e = np.exp(X @ w)\n    s = e / (1.0 + e)"),)),
    Variant("07.logistic_hvp.in_place", patch=((_HVP, "Hv = X.T @ (s * (1.0 - s) * (X @ v)) / m\n"
                                                      "    v *= lam\n    return Hv + v"),)),
]

_FD = "return (grad(x + eps * v) - grad(x - eps * v)) / (2 * eps)"
_STEP = "eps = np.finfo(float).eps ** (1 / 3) * (1.0 + np.linalg.norm(x)) / v_norm"
_ZERO = """    if v_norm == 0:
        return np.zeros(np.shape(x))
"""

HVP_FD = [
    Variant("07.hvp_fd.one_sided", patch=((_FD, "return (grad(x + eps * v) - grad(x)) / eps"),)),
    Variant("07.hvp_fd.no_half", patch=(("/ (2 * eps)", "/ eps"),)),
    Variant("07.hvp_fd.sign", patch=((_FD, "return (grad(x - eps * v) - grad(x + eps * v)) / (2 * eps)"),)),
    Variant("07.hvp_fd.not_along_v", patch=((_FD, "return (grad(x + eps) - grad(x - eps)) / (2 * eps)"),)),
    Variant("07.hvp_fd.step_unscaled", patch=((_STEP, "eps = np.finfo(float).eps ** (1 / 3)"),)),
    Variant("07.hvp_fd.step_sqrt", patch=(("np.finfo(float).eps ** (1 / 3)", "np.sqrt(np.finfo(float).eps)"),)),
    Variant("07.hvp_fd.step_no_one", patch=(("(1.0 + np.linalg.norm(x))", "np.linalg.norm(x)"),)),
    Variant("07.hvp_fd.step_not_over_v", patch=(("(1.0 + np.linalg.norm(x)) / v_norm", "(1.0 + np.linalg.norm(x))"),)),
    Variant("07.hvp_fd.step_precedence", patch=(("np.finfo(float).eps ** (1 / 3)", "np.finfo(float).eps ** 1 / 3"),)),
    Variant("07.hvp_fd.step_unit_roundoff", patch=(("np.finfo(float).eps ** (1 / 3)", "(2.0 ** -53) ** (1 / 3)"),)),
    Variant("07.hvp_fd.ignores_eps", patch=(("if eps is None:\n        " + _STEP, _STEP),)),
    Variant("07.hvp_fd.v_zero_nan", patch=((_ZERO, ""),)),
    Variant("07.hvp_fd.v_zero_gradients", patch=((_ZERO, ""), ("/ v_norm", "/ v_norm if v_norm > 0 else 1.0"))),
    Variant("07.hvp_fd.in_place", patch=((_FD, """x += eps * v
    g_plus = grad(x)
    x -= 2 * eps * v
    return (g_plus - grad(x)) / (2 * eps)"""),)),
]

_NEGATIVE = "return (-g if j == 0 else d), residual_norms, True"
_TEST = """        if residual_norms[-1] <= tol:
            break
"""
_APPEND = "residual_norms.append(np.sqrt(rr_new))\n"

TRUNCATED_CG = [
    Variant("07.truncated_cg.solves_plus_g", patch=(("p = -r\n", "p = r.copy()\n"),
                                                    ("r = r + alpha * q", "r = r - alpha * q"))),
    Variant("07.truncated_cg.p0_uphill", patch=(("p = -r\n", "p = r.copy()\n"),)),
    Variant("07.truncated_cg.r_minus", patch=(("r = r + alpha * q", "r = r - alpha * q"),)),
    Variant("07.truncated_cg.direction_sign", patch=(("p = -r + (rr_new / rr) * p", "p = r + (rr_new / rr) * p"),)),
    Variant("07.truncated_cg.alpha_pTp", patch=(("alpha = rr / curvature", "alpha = rr / (p @ p)"),)),
    Variant("07.truncated_cg.beta_inverted", patch=(("(rr_new / rr)", "(rr / rr_new)"),)),
    Variant("07.truncated_cg.squared_norms", patch=(("residual_norms = [g_norm]", "residual_norms = [rr]"),
                                                    (_APPEND, "residual_norms.append(rr_new)\n"))),
    Variant("07.truncated_cg.flag_not_set", patch=((_NEGATIVE, "break"),)),
    Variant("07.truncated_cg.zero_at_first", patch=(("(-g if j == 0 else d)", "d"),)),
    Variant("07.truncated_cg.step_at_negative_curvature",
            patch=((_NEGATIVE, "return d + rr / abs(curvature) * p, residual_norms, True"),)),
    Variant("07.truncated_cg.always_minus_g", patch=(("(-g if j == 0 else d)", "-g"),)),
    Variant("07.truncated_cg.returns_p", patch=(("(-g if j == 0 else d)", "(-g if j == 0 else p)"),)),
    Variant("07.truncated_cg.strict_curvature", patch=(("if curvature <= 0:", "if curvature < 0:"),)),
    Variant("07.truncated_cg.sum_tol", patch=(("tol = max(rtol * g_norm, atol)", "tol = rtol * g_norm + atol"),)),
    Variant("07.truncated_cg.ignores_atol", patch=(("tol = max(rtol * g_norm, atol)", "tol = rtol * g_norm"),)),
    Variant("07.truncated_cg.test_after_step", patch=((_TEST, ""), (_APPEND, _APPEND + _TEST))),
    Variant("07.truncated_cg.strict_stop", patch=(("if residual_norms[-1] <= tol:", "if residual_norms[-1] < tol:"),)),
    Variant("07.truncated_cg.maxiter_default", patch=(("maxiter = g.size if", "maxiter = 10 * g.size if"),)),
    Variant("07.truncated_cg.maxiter_off_by_one", patch=(("for j in range(maxiter):", "for j in range(maxiter + 1):"),)),
    Variant("07.truncated_cg.extra_products", patch=(("r = r + alpha * q", "r = H @ d + g"),)),
    Variant("07.truncated_cg.in_place", patch=(("r = np.array(g, dtype=float)", "r = g"),
                                               ("r = r + alpha * q", "r += alpha * q"))),
]

_SAFEGUARD = """            if 0.9 * eta**2 > 0.1:
                new_eta = max(new_eta, 0.9 * eta**2)
"""
_SEARCH = """        for _ in range(60):
            f_new = fun(x + t * d)
            if f_new < f and f_new <= f + 1e-4 * t * slope:
                break
            t /= 2
        else:
            break
"""
_STOP = """        if grad_norms[-1] <= gtol:
            break
"""
_NORMS = "grad_norms.append(np.linalg.norm(g))\n"
_ACCEPT = "x, f = x + t * d, f_new"

NEWTON_CG = [
    Variant("07.newton_cg.eta_constant", patch=(("rtol=eta, atol", "atol"),)),
    Variant("07.newton_cg.eta_unsquared", patch=(("(grad_norms[-1] / grad_norms[-2]) ** 2",
                                                  "(grad_norms[-1] / grad_norms[-2])"),)),
    Variant("07.newton_cg.eta_no_safeguard", patch=((_SAFEGUARD, ""),)),
    Variant("07.newton_cg.eta_safeguard_always",
            patch=((_SAFEGUARD, "            new_eta = max(new_eta, 0.9 * eta**2)\n"),)),
    Variant("07.newton_cg.eta_no_cap", patch=(("eta = min(new_eta, 0.9)", "eta = new_eta"),)),
    Variant("07.newton_cg.floor_zero", patch=(("rtol=eta, atol=gtol / 2", "rtol=eta"),)),
    Variant("07.newton_cg.floor_gtol", patch=(("atol=gtol / 2", "atol=gtol"),)),
    Variant("07.newton_cg.simple_decrease", patch=(("if f_new < f and f_new <= f + 1e-4 * t * slope:",
                                                    "if f_new < f:"),)),
    Variant("07.newton_cg.no_line_search", patch=((_SEARCH, "        f_new = fun(x + t * d)\n"),)),
    Variant("07.newton_cg.armijo_only", patch=(("if f_new < f and f_new <= f", "if f_new <= f"),)),
    Variant("07.newton_cg.c1_over_t", patch=(("1e-4 * t * slope", "1e-4 / t * slope"),)),
    Variant("07.newton_cg.stale_f", patch=((_ACCEPT, "x = x + t * d"),)),
    Variant("07.newton_cg.no_stop", patch=(("        else:\n            break\n", ""),)),
    Variant("07.newton_cg.refun", patch=((_ACCEPT, "x = x + t * d\n        f = fun(x)"),)),
    Variant("07.newton_cg.fun_twice", patch=(("if f_new < f and", "if fun(x + t * d) < f and"),)),
    Variant("07.newton_cg.extra_grad", patch=((_NORMS, "grad_norms.append(np.linalg.norm(grad(x)))\n"),)),
    Variant("07.newton_cg.test_after_step", patch=((_STOP, ""), (_NORMS, _NORMS + _STOP))),
    Variant("07.newton_cg.strict_gtol", patch=(("if grad_norms[-1] <= gtol:", "if grad_norms[-1] < gtol:"),)),
    Variant("07.newton_cg.maxiter_off_by_one", patch=(("for k in range(maxiter):", "for k in range(maxiter + 1):"),)),
    Variant("07.newton_cg.in_place", patch=(("x = np.array(x0, dtype=float)", "x = x0"),
                                            (_ACCEPT, "x += t * d\n        f = f_new"))),
]


_TAU = "return (-b + np.sqrt(b * b - 4 * a * c)) / (2 * a)"
_NC = 'return d + tau_to_boundary(d, p) * p, "negative curvature"'
_BD = 'return d + tau_to_boundary(d, p) * p, "boundary"'
_BOUNDARY_TEST = '''        if np.linalg.norm(d_next) >= delta:
            return d + tau_to_boundary(d, p) * p, "boundary"
'''
_CURVATURE_TEST = '''        if curvature <= 0:
            return d + tau_to_boundary(d, p) * p, "negative curvature"
'''
_TOL = "tol = max(rtol * np.sqrt(rr), atol)"

STEIHAUG_CG = [
    Variant("07.steihaug_cg.negative_root", patch=((_TAU, "return (-b - np.sqrt(b * b - 4 * a * c)) / (2 * a)"),)),
    Variant("07.steihaug_cg.nc_stops_inside", patch=((_NC, 'return (-g if j == 0 else d), "negative curvature"'),)),
    Variant("07.steihaug_cg.returns_p", patch=((_NC, 'return p, "negative curvature"'), (_BD, 'return p, "boundary"'))),
    Variant("07.steihaug_cg.test_before_step", patch=((_BOUNDARY_TEST, ""), (
        "        q = H @ p\n",
        '        if np.linalg.norm(d) >= delta:\n            return d, "boundary"\n        q = H @ p\n'))),
    Variant("07.steihaug_cg.scaled_back", patch=((_BD, 'return d_next * delta / np.linalg.norm(d_next), "boundary"'),)),
    Variant("07.steihaug_cg.tau_ignores_d", patch=((_TAU, "return delta / np.sqrt(a)"),)),
    Variant("07.steihaug_cg.no_boundary_test", patch=((_BOUNDARY_TEST, ""),)),
    Variant("07.steihaug_cg.no_curvature_test", patch=((_CURVATURE_TEST, ""),)),
    Variant("07.steihaug_cg.strict_curvature", patch=(("if curvature <= 0:", "if curvature < 0:"),)),
    Variant("07.steihaug_cg.sum_tol", patch=((_TOL, "tol = rtol * np.sqrt(rr) + atol"),)),
    Variant("07.steihaug_cg.ignores_atol", patch=((_TOL, "tol = rtol * np.sqrt(rr)"),)),
    Variant("07.steihaug_cg.extra_products", patch=(("r = r + alpha * q", "r = H @ d + g"),)),
    Variant("07.steihaug_cg.in_place", patch=(("r = np.array(g, dtype=float)", "r = g"),
                                              ("r = r + alpha * q", "r += alpha * q"))),
]

VARIANTS = LOGISTIC_HVP + HVP_FD + TRUNCATED_CG + NEWTON_CG + STEIHAUG_CG
