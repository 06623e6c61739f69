"""Lesson 06's catalogue of misconceptions: a concrete wrong variant of the
solution for each code declared in krylov_ref/checks/lesson06.py
(``make misconceptions`` grades them)."""

from krylov_ref.grading.misconceptions import Variant

# ------------------------------------------------------------ givens_rotation
# The solution's lines that the variants change.
R_HYPOT = "    r = np.hypot(a, b)\n"
ZERO_CASE = "    if r == 0.0:\n        return 1.0, 0.0\n"
RETURN = "    return a / r, b / r"

ROTATION = [
    Variant("06.givens_rotation.swapped", patch=((RETURN, "    return b / r, a / r"),)),
    Variant("06.givens_rotation.s_sign", patch=((RETURN, "    return a / r, -b / r"),)),
    # r with the sign of a (the convention of LAPACK's dlartg for |a| > |b|): c >= 0.
    Variant("06.givens_rotation.negative_r",
            patch=((R_HYPOT, "    r = np.copysign(np.hypot(a, b), a)\n"),)),
    Variant("06.givens_rotation.not_normalised", patch=((RETURN, "    return a, b"),)),
    # a**2 of a Python float 3e200 raises OverflowError; of 3e-200 it is 0.
    Variant("06.givens_rotation.overflow",
            patch=((R_HYPOT, "    r = np.sqrt(a**2 + b**2)\n"),)),
    Variant("06.givens_rotation.zero_pair", patch=((ZERO_CASE, ""),)),
    # The special case tested on b alone: (-2.5, 0) gets the identity.
    Variant("06.givens_rotation.b_zero_identity",
            patch=(("    if r == 0.0:\n", "    if b == 0.0:\n"),)),
    Variant("06.givens_rotation.a_zero_unsigned",
            patch=((ZERO_CASE, ZERO_CASE + "    if a == 0.0:\n        return 0.0, 1.0\n"),)),
    # LAPACK's dlartg returns (c, s, r).
    Variant("06.givens_rotation.returns_r", patch=((RETURN, "    return a / r, b / r, r"),)),
]

# ------------------------------------------------------------ givens_update
LOOP = "    for i in range(j):\n"
OLD = ("        r[i], r[i + 1] = cs[i] * r[i] + sn[i] * r[i + 1], "
       "-sn[i] * r[i] + cs[i] * r[i + 1]\n")
NEW_ROTATION = "    c, s = givens_rotation(r[j], r[j + 1])\n"
DIAGONAL = "    r[j] = c * r[j] + s * r[j + 1]\n"
G_UPDATE = "    g_new = np.append(g, -s * g[j])\n    g_new[j] = c * g[j]\n"
RETURN_UPDATE = "    return r[: j + 1], c, s, g_new"

UPDATE = [
    Variant("06.givens_update.no_old_rotations", patch=((LOOP + OLD, ""),)),
    Variant("06.givens_update.reverse_order",
            patch=((LOOP, "    for i in reversed(range(j)):\n"),)),
    Variant("06.givens_update.old_rotations_transposed",
            patch=((OLD, "        r[i], r[i + 1] = cs[i] * r[i] - sn[i] * r[i + 1], "
                         "sn[i] * r[i] + cs[i] * r[i + 1]\n"),)),
    # Two assignments where the hint asks for one tuple assignment: the second
    # line reads the r[i] the first has just overwritten.
    Variant("06.givens_update.old_rotations_overwrite",
            patch=((OLD, "        r[i] = cs[i] * r[i] + sn[i] * r[i + 1]\n"
                         "        r[i + 1] = -sn[i] * r[i] + cs[i] * r[i + 1]\n"),)),
    Variant("06.givens_update.last_old_rotation_missing",
            patch=((LOOP, "    for i in range(j - 1):\n"),)),
    Variant("06.givens_update.rotation_from_unrotated",
            patch=((NEW_ROTATION, "    c, s = givens_rotation(h[j], h[j + 1])\n"),)),
    Variant("06.givens_update.diagonal_not_rotated", patch=((DIAGONAL, ""),)),
    Variant("06.givens_update.r_too_long",
            patch=((RETURN_UPDATE, "    return r, c, s, g_new"),)),
    Variant("06.givens_update.g_next_sign",
            patch=(("np.append(g, -s * g[j])", "np.append(g, s * g[j])"),)),
    Variant("06.givens_update.g_j_not_rotated", patch=(("    g_new[j] = c * g[j]\n", ""),)),
    # g[j] overwritten first, then g[j + 1] computed from the new g[j].
    Variant("06.givens_update.g_overwrite",
            patch=((G_UPDATE, "    g_new = np.append(g, 0.0)\n    g_new[j] = c * g[j]\n"
                              "    g_new[j + 1] = -s * g_new[j]\n"),)),
    Variant("06.givens_update.g_not_extended",
            patch=((G_UPDATE, "    g_new = np.array(g, dtype=float)\n    g_new[j] = c * g[j]\n"),)),
    Variant("06.givens_update.h_modified",
            patch=(("    r = np.array(h, dtype=float)\n", "    r = h\n"),)),
    # The caller appends c and s itself; and cs may be an array, without .append.
    Variant("06.givens_update.cs_appended",
            patch=((NEW_ROTATION, NEW_ROTATION + "    cs.append(c)\n    sn.append(s)\n"),)),
]

# ------------------------------------------------------------ gmres
TOL = "    tol = max(rtol * np.linalg.norm(b), atol)\n"
TEST = "            if residual_norms[-1] <= tol or h[k] <= 1e-12 * np.linalg.norm(h):\n"
OUTER = "    while beta > tol and iterations < maxiter:\n"
INNER = "        while k < m and iterations < maxiter:\n"
REPLACE = "        residual_norms[-1] = beta\n"
X_START = "    x = np.zeros(n) if x0 is None else np.array(x0, dtype=float)\n"
X_UPDATE = "        x = x + y @ np.array(Q[:k])\n"
NEW_R = "        r = b - A @ x\n        beta = np.linalg.norm(r)\n"

GMRES = [
    Variant("06.gmres.no_breakdown_test",
            patch=((TEST, "            if residual_norms[-1] <= tol:\n"),)),
    Variant("06.gmres.divides_at_breakdown",
            patch=((TEST + "                break\n            Q.append(w / h[k])\n",
                    "            Q.append(w / h[k])\n" + TEST + "                break\n"),)),
    Variant("06.gmres.breakdown_test_absolute",
            patch=((TEST, "            if residual_norms[-1] <= tol or h[k] <= 1e-12:\n"),)),
    Variant("06.gmres.tol_sum", patch=((TOL, "    tol = rtol * np.linalg.norm(b) + atol\n"),)),
    Variant("06.gmres.tol_from_r0",
            patch=((TOL, ""), ("    residual_norms = [beta]\n",
                               "    residual_norms = [beta]\n    tol = max(rtol * beta, atol)\n"))),
    Variant("06.gmres.tol_absolute", patch=((TOL, "    tol = max(rtol, atol)\n"),)),
    Variant("06.gmres.strict_stop_test",
            patch=((OUTER, "    while beta >= tol and iterations < maxiter:\n"),
                   (TEST, TEST.replace("<= tol", "< tol")))),
    Variant("06.gmres.no_initial_test",
            patch=((OUTER, "    while iterations < maxiter:\n"),
                   (REPLACE, REPLACE + "        if beta <= tol:\n            break\n"))),
    Variant("06.gmres.maxiter_cycles",
            patch=((OUTER, "    cycles = 0\n    while beta > tol and cycles < maxiter:\n"
                           "        cycles += 1\n"),
                   (INNER, "        while k < m:\n"))),
    # The count tested by the outer loop only: the last cycle runs to its end.
    Variant("06.gmres.maxiter_between_cycles", patch=((INNER, "        while k < m:\n"),)),
    Variant("06.gmres.maxiter_off_by_one",
            patch=((OUTER, OUTER.replace("iterations < maxiter", "iterations <= maxiter")),
                   (INNER, INNER.replace("iterations < maxiter", "iterations <= maxiter")))),
    Variant("06.gmres.default_maxiter",
            patch=(("    maxiter = 10 * n if maxiter is None else maxiter\n",
                    "    maxiter = n if maxiter is None else maxiter\n"),)),
    Variant("06.gmres.no_restart", patch=(("    m = min(restart, n)\n", "    m = n\n"),)),
    Variant("06.gmres.x_not_accumulated",
            patch=((X_START, X_START + "    x_start = x.copy()\n"),
                   (X_UPDATE, "        x = x_start + y @ np.array(Q[:k])\n"))),
    # The new cycle starts from r_0's direction: r is not recomputed.
    Variant("06.gmres.restart_from_r0",
            patch=((NEW_R, "        beta = np.linalg.norm(b - A @ x)\n"),)),
    Variant("06.gmres.estimate_signed",
            patch=(("residual_norms.append(abs(g[k]))", "residual_norms.append(g[k])"),)),
    Variant("06.gmres.true_residual_appended",
            patch=((REPLACE, "        residual_norms.append(beta)\n"),)),
    Variant("06.gmres.true_residual_not_recorded", patch=((REPLACE, ""),)),
    # b - A x formed again at the start of every cycle (it is known from the end of the last).
    Variant("06.gmres.extra_products",
            patch=(("        Q = [r / beta]\n", "        r = b - A @ x\n        Q = [r / beta]\n"),)),
    Variant("06.gmres.x0_ignored", patch=((X_START, "    x = np.zeros(n)\n"),)),
    Variant("06.gmres.x0_modified",
            patch=((X_START, "    x = np.zeros(n) if x0 is None else x0\n"),
                   (X_UPDATE, "        x += y @ np.array(Q[:k])\n"))),
    Variant("06.gmres.b_zero",
            patch=(("    if not np.any(b):\n        return np.zeros(n), [0.0]\n", ""),)),
]

VARIANTS = ROTATION + UPDATE + GMRES
