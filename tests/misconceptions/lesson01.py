"""Lesson 01's catalogue of misconceptions: a concrete wrong variant of the
solution for each code declared in krylov_ref/checks/lesson01.py
(``make misconceptions`` grades them)."""

from krylov_ref.grading.misconceptions import Variant

# Exercise 4's solution, written with the loop test at the bottom of the loop
# (the test-after-step mistake), and with residual_norms filled only inside it.
_SD_HEAD = '''def steepest_descent(A, b, x0=None, *, rtol=1e-5, atol=0.0, maxiter=None):
    n = b.shape[0]
    x = np.zeros(n) if x0 is None else np.array(x0, dtype=float)
    maxiter = 10 * n if maxiter is None else maxiter
    tol = max(rtol * np.linalg.norm(b), atol)
    r = b - A @ x
'''

VARIANTS = [
    # ------------------------------------------------------------ Exercise 1: quadratic
    Variant("01.quadratic.gradient_sign", patch=((", Ax - b", ", b - Ax"),)),
    Variant("01.quadratic.gradient_no_b", patch=((", Ax - b", ", Ax"),)),
    Variant("01.quadratic.gradient_no_half", patch=((", Ax - b", ", 2 * Ax - b"),)),
    Variant("01.quadratic.gradient_half", patch=((", Ax - b", ", 0.5 * Ax - b"),)),
    Variant("01.quadratic.gradient_elementwise", patch=((", Ax - b", ", A * x - b"),)),
    Variant("01.quadratic.value_no_half", patch=(("0.5 * x @ Ax", "x @ Ax"),)),
    Variant("01.quadratic.value_plus_b", patch=(("- b @ x", "+ b @ x"),)),
    Variant("01.quadratic.value_half_on_both",
            patch=(("0.5 * x @ Ax - b @ x", "0.5 * (x @ Ax - b @ x)"),)),
    Variant("01.quadratic.value_elementwise",
            patch=(("0.5 * x @ Ax - b @ x", "0.5 * x * Ax - b * x"),)),
    Variant("01.quadratic.order_swapped",
            patch=(("return 0.5 * x @ Ax - b @ x, Ax - b", "return Ax - b, 0.5 * x @ Ax - b @ x"),)),

    # ------------------------------------------------------------ Exercise 2: fit_power_law
    Variant("01.fit_power_law.order_pc", patch=(("return np.exp(log_c), p", "return p, np.exp(log_c)"),)),
    Variant("01.fit_power_law.raw_line", patch=(("return np.exp(log_c), p", "return p, log_c"),)),
    Variant("01.fit_power_law.polyfit_order", patch=(("p, log_c = np.polyfit", "log_c, p = np.polyfit"),)),
    Variant("01.fit_power_law.log_c", patch=(("return np.exp(log_c), p", "return log_c, p"),)),
    Variant("01.fit_power_law.mixed_bases",
            patch=(("np.polyfit(np.log(n), np.log(t), 1)", "np.polyfit(np.log10(n), np.log10(t), 1)"),)),
    Variant("01.fit_power_law.axes_swapped",
            patch=(("np.polyfit(np.log(n), np.log(t), 1)", "np.polyfit(np.log(t), np.log(n), 1)"),)),
    Variant("01.fit_power_law.not_log_log",
            patch=(("np.polyfit(np.log(n), np.log(t), 1)", "np.polyfit(np.log(n), t, 1)"),)),
    Variant("01.fit_power_law.not_log_log",
            patch=(("np.polyfit(np.log(n), np.log(t), 1)", "np.polyfit(n, t, 1)"),)),
    Variant("01.fit_power_law.no_intercept", source='''def fit_power_law(n, t):
    u, v = np.log(n), np.log(t)
    return 1.0, (u @ v) / (u @ u)
'''),
    Variant("01.fit_power_law.two_points", source='''def fit_power_law(n, t):
    p = np.log(t[-1] / t[0]) / np.log(n[-1] / n[0])
    return t[0] / n[0] ** p, p
'''),
    Variant("01.fit_power_law.c_refitted", source='''def fit_power_law(n, t):
    p = np.polyfit(np.log(n), np.log(t), 1)[0]
    return np.mean(t / n ** p), p
'''),

    # ------------------------------------------------------------ Exercise 3: exact_step
    Variant("01.exact_step.residual_only", patch=(("(r @ p) / (p @ (A @ p))", "(r @ r) / (r @ (A @ r))"),)),
    Variant("01.exact_step.p_for_r", patch=(("(r @ p) / (p @ (A @ p))", "(p @ p) / (p @ (A @ p))"),)),
    Variant("01.exact_step.denominator_r", patch=(("(r @ p) / (p @ (A @ p))", "(r @ p) / (r @ (A @ r))"),)),
    Variant("01.exact_step.no_A", patch=(("(r @ p) / (p @ (A @ p))", "(r @ p) / (p @ p)"),)),
    Variant("01.exact_step.sign", patch=(("return (r @ p)", "return -(r @ p)"),)),
    Variant("01.exact_step.upside_down", patch=(("(r @ p) / (p @ (A @ p))", "(p @ (A @ p)) / (r @ p)"),)),
    Variant("01.exact_step.factor_two", patch=(("return (r @ p)", "return 2 * (r @ p)"),)),
    Variant("01.exact_step.factor_two", patch=(("return (r @ p)", "return 0.5 * (r @ p)"),)),
    Variant("01.exact_step.abs_step", patch=(("return (r @ p) / (p @ (A @ p))", "return abs(r @ p) / (p @ (A @ p))"),)),
    Variant("01.exact_step.elementwise", patch=(("(r @ p) / (p @ (A @ p))", "(r * p) / (p * (A @ p))"),)),

    # ------------------------------------------------------------ Exercise 4: steepest_descent
    Variant("01.steepest_descent.x_update_sign", patch=(("x = x + alpha * r", "x = x - alpha * r"),)),
    Variant("01.steepest_descent.r_update_sign", patch=(("r = r - alpha * q", "r = r + alpha * q"),)),
    # r taken as the gradient A x - b and stepped along: consistent, but uphill.
    Variant("01.steepest_descent.uphill", patch=(("r = b - A @ x", "r = A @ x - b"),
                                                  ("r = r - alpha * q", "r = r + alpha * q"))),
    Variant("01.steepest_descent.alpha_upside_down",
            patch=(("alpha = (r @ r) / (r @ q)", "alpha = (r @ q) / (r @ r)"),)),
    Variant("01.steepest_descent.fixed_step",
            patch=(("alpha = (r @ r) / (r @ q)", "alpha = 0.05"),)),
    Variant("01.steepest_descent.recomputes_residual", patch=(("r = r - alpha * q", "r = b - A @ x"),)),
    Variant("01.steepest_descent.product_twice",
            patch=(("alpha = (r @ r) / (r @ q)", "alpha = (r @ r) / (r @ (A @ r))"),
                   ("r = r - alpha * q", "r = r - alpha * (A @ r)"))),
    Variant("01.steepest_descent.norms_squared",
            patch=(("residual_norms = [np.linalg.norm(r)]", "residual_norms = [r @ r]"),
                   ("residual_norms.append(np.linalg.norm(r))", "residual_norms.append(r @ r)"))),
    Variant("01.steepest_descent.norms_without_initial", source=_SD_HEAD + '''    residual_norms = []
    k = 0
    while np.linalg.norm(r) > tol and k < maxiter:
        q = A @ r
        alpha = (r @ r) / (r @ q)
        x = x + alpha * r
        r = r - alpha * q
        residual_norms.append(np.linalg.norm(r))
        k += 1
    return x, residual_norms
'''),
    # The change in x, ||x_{k+1} - x_k|| = alpha ||r_k||, compared with the tolerance.
    Variant("01.steepest_descent.stop_not_on_residual",
            patch=(("residual_norms.append(np.linalg.norm(r))",
                    "residual_norms.append(np.linalg.norm(r))\n"
                    "        if alpha * residual_norms[-2] <= tol:\n"
                    "            break"),)),
    Variant("01.steepest_descent.tol_absolute",
            patch=(("tol = max(rtol * np.linalg.norm(b), atol)", "tol = max(rtol, atol)"),)),
    Variant("01.steepest_descent.tol_min",
            patch=(("tol = max(rtol * np.linalg.norm(b), atol)", "tol = min(rtol * np.linalg.norm(b), atol)"),)),
    Variant("01.steepest_descent.tol_sum",
            patch=(("tol = max(rtol * np.linalg.norm(b), atol)", "tol = rtol * np.linalg.norm(b) + atol"),)),
    Variant("01.steepest_descent.tol_relative_to_r0",
            patch=(("tol = max(rtol * np.linalg.norm(b), atol)\n    r = b - A @ x",
                    "r = b - A @ x\n    tol = max(rtol * np.linalg.norm(r), atol)"),)),
    Variant("01.steepest_descent.atol_ignored",
            patch=(("tol = max(rtol * np.linalg.norm(b), atol)", "tol = rtol * np.linalg.norm(b)"),)),
    Variant("01.steepest_descent.maxiter_off_by_one",
            patch=(("for _ in range(maxiter):", "for _ in range(maxiter + 1):"),)),
    Variant("01.steepest_descent.maxiter_off_by_one",
            patch=(("for _ in range(maxiter):", "for _ in range(maxiter - 1):"),)),
    Variant("01.steepest_descent.default_maxiter",
            patch=(("maxiter = 10 * n if maxiter is None", "maxiter = 1000 if maxiter is None"),)),
    Variant("01.steepest_descent.x0_ignored",
            patch=(("x = np.zeros(n) if x0 is None else np.array(x0, dtype=float)", "x = np.zeros(n)"),)),
    Variant("01.steepest_descent.x0_in_place",
            patch=(("np.array(x0, dtype=float)", "x0"), ("x = x + alpha * r", "x += alpha * r"))),
    Variant("01.steepest_descent.test_after_step", source=_SD_HEAD + '''    residual_norms = [np.linalg.norm(r)]
    for _ in range(maxiter):
        q = A @ r
        alpha = (r @ r) / (r @ q)
        x = x + alpha * r
        r = r - alpha * q
        residual_norms.append(np.linalg.norm(r))
        if residual_norms[-1] <= tol:
            break
    return x, residual_norms
'''),
    Variant("01.steepest_descent.strict_inequality",
            patch=(("if residual_norms[-1] <= tol:", "if residual_norms[-1] < tol:"),)),
]
