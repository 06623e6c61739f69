"""Lesson 05's catalogue of misconceptions: a concrete wrong variant of the
solution for each code declared in krylov_ref/checks/lesson05.py
(``make misconceptions`` grades them).

Each patch is what a student writes in place of a line of the solution; the
comments say which line, where it is not plain from the patch."""

from krylov_ref.grading.misconceptions import Variant

# The two applications of M in the solution of pcg (before the loop, in it).
_Z0 = "    z = r if M is None else M @ r\n    p = z.copy()"
_Z1 = "        z = r if M is None else M @ r\n        rz_new"
_TEST = "        if residual_norms[-1] <= tol:\n            break\n"
_APPEND = "        residual_norms.append(np.linalg.norm(r))\n"

PCG = [
    Variant("05.pcg.no_preconditioner", patch=((_Z0, "    z = r\n    p = z.copy()"),
                                               (_Z1, "        z = r\n        rz_new"))),
    Variant("05.pcg.alpha_from_r", patch=(("alpha = rz / (p @ q)", "alpha = (r @ r) / (p @ q)"),)),
    # The example: beta = r_new^T r_new / r^T r, directions still from z.
    Variant("05.pcg.beta_from_r", patch=(
        ("        r = r - alpha * q", "        r_old = r\n        r = r - alpha * q"),
        ("p = z + (rz_new / rz) * p", "p = z + ((r @ r) / (r_old @ r_old)) * p"))),
    Variant("05.pcg.inner_products_from_r", patch=(("    rz = r @ z", "    rz = r @ r"),
                                                   ("rz_new = r @ z", "rz_new = r @ r"))),
    # p_0 = z_0 as in the box, then p = r + beta p.
    Variant("05.pcg.p_from_r", patch=(("p = z + (rz_new / rz) * p", "p = r + (rz_new / rz) * p"),)),
    Variant("05.pcg.z_not_updated", patch=((_Z1, "        rz_new"),)),
    Variant("05.pcg.rz_not_updated", patch=(("        rz = rz_new\n", ""),)),
    Variant("05.pcg.beta_inverted", patch=(("(rz_new / rz)", "(rz / rz_new)"),)),
    Variant("05.pcg.residual_update_sign", patch=(("r = r - alpha * q", "r = r + alpha * q"),)),
    Variant("05.pcg.x_update_sign", patch=(("x = x + alpha * p", "x = x - alpha * p"),)),
    Variant("05.pcg.norm_of_z", patch=(
        ("residual_norms = [np.linalg.norm(r)]", "residual_norms = [np.linalg.norm(z)]"),
        ("residual_norms.append(np.linalg.norm(r))", "residual_norms.append(np.linalg.norm(z))"))),
    Variant("05.pcg.norm_rz", patch=(
        ("residual_norms = [np.linalg.norm(r)]", "residual_norms = [np.sqrt(rz)]"),
        ("residual_norms.append(np.linalg.norm(r))", "residual_norms.append(np.sqrt(rz))"))),
    # The loop tests its own variable, and the list gets the norms after each step only.
    Variant("05.pcg.no_initial_norm", patch=(
        ("residual_norms = [np.linalg.norm(r)]",
         "rnorm = np.linalg.norm(r)\n    residual_norms = []"),
        ("if residual_norms[-1] <= tol:", "if rnorm <= tol:"),
        ("residual_norms.append(np.linalg.norm(r))",
         "rnorm = np.linalg.norm(r)\n        residual_norms.append(rnorm)"))),
    Variant("05.pcg.modifies_x0", patch=(("np.array(x0, dtype=float)", "x0"),
                                         ("x = x + alpha * p", "x += alpha * p"))),
    Variant("05.pcg.ignores_x0", patch=(
        ("x = np.zeros(n) if x0 is None else np.array(x0, dtype=float)", "x = np.zeros(n)"),)),
    Variant("05.pcg.M_none_unhandled", patch=((_Z0, "    z = M @ r\n    p = z.copy()"),
                                              (_Z1, "        z = M @ r\n        rz_new"))),
    Variant("05.pcg.M_called", patch=(
        (_Z0, "    z = r if M is None else M(r)\n    p = z.copy()"),
        (_Z1, "        z = r if M is None else M(r)\n        rz_new"))),
    Variant("05.pcg.tol_absolute", patch=(
        ("tol = max(rtol * np.linalg.norm(b), atol)", "tol = max(rtol, atol)"),)),
    Variant("05.pcg.tol_relative_r0", patch=(
        ("    tol = max(rtol * np.linalg.norm(b), atol)\n    r = b - A @ x\n",
         "    r = b - A @ x\n    tol = max(rtol * np.linalg.norm(r), atol)\n"),)),
    Variant("05.pcg.tol_sum", patch=(
        ("tol = max(rtol * np.linalg.norm(b), atol)", "tol = rtol * np.linalg.norm(b) + atol"),)),
    Variant("05.pcg.strict_stop", patch=(("if residual_norms[-1] <= tol:",
                                          "if residual_norms[-1] < tol:"),)),
    # The test moved after the step: a do-while loop.
    Variant("05.pcg.test_after_step", patch=((_TEST, ""), (_APPEND, _APPEND + _TEST))),
    Variant("05.pcg.maxiter_default", patch=(("maxiter = 10 * n", "maxiter = n"),)),
    Variant("05.pcg.maxiter_off_by_one", patch=(("for _ in range(maxiter):",
                                                 "for _ in range(maxiter + 1):"),)),
    Variant("05.pcg.default_tolerances", patch=(("rtol=1e-5, atol=0.0, maxiter=None, M=None):",
                                                 "rtol=1e-8, atol=0.0, maxiter=None, M=None):"),)),
    Variant("05.pcg.recomputes_residual", patch=(("r = r - alpha * q", "r = b - A @ x"),)),
    Variant("05.pcg.extra_A_products", patch=(
        ("        q = A @ p\n        alpha = rz / (p @ q)", "        alpha = rz / (p @ (A @ p))"),
        ("r = r - alpha * q", "r = r - alpha * (A @ p)"))),
    Variant("05.pcg.extra_M_applications", patch=(
        ("rz_new = r @ z", "rz_new = r @ (r if M is None else M @ r)"),)),
]

_ZERO_CHECK = ('    if zeros.size:\n        raise ValueError(\n            f"A[i, i] = 0 for i in '
               '{zeros.tolist()}: Jacobi divides by the diagonal")\n')

JACOBI = [
    Variant("05.jacobi_preconditioner.multiplies_by_diagonal",
            patch=(("sp.diags_array(1.0 / d)", "sp.diags_array(d)"),)),
    Variant("05.jacobi_preconditioner.sqrt_diagonal",
            patch=(("sp.diags_array(1.0 / d)", "sp.diags_array(1.0 / np.sqrt(d))"),)),
    Variant("05.jacobi_preconditioner.row_sums",
            patch=(("sp.diags_array(1.0 / d)",
                    "sp.diags_array(1.0 / np.ravel(abs(A).sum(axis=1)))"),)),
    Variant("05.jacobi_preconditioner.dense_matrix",
            patch=(("sp.diags_array(1.0 / d)", "np.diag(1.0 / d)"),)),
    Variant("05.jacobi_preconditioner.returns_vector",
            patch=(("return sp.diags_array(1.0 / d)", "return 1.0 / d"),)),
    Variant("05.jacobi_preconditioner.no_zero_check", patch=((_ZERO_CHECK, ""),)),
    Variant("05.jacobi_preconditioner.zero_index_not_named",
            patch=(('f"A[i, i] = 0 for i in {zeros.tolist()}: Jacobi divides by the diagonal"',
                    '"a diagonal entry is 0: Jacobi divides by the diagonal"'),)),
    Variant("05.jacobi_preconditioner.index_one_based",
            patch=(("{zeros.tolist()}", "{(zeros + 1).tolist()}"),)),
    # A LinearOperator whose matvec divides the vector it is given in place.
    Variant("05.jacobi_preconditioner.modifies_r",
            patch=(("    return sp.diags_array(1.0 / d)",
                    "    def apply(r):\n        r /= d\n        return r\n\n"
                    "    return LinearOperator(A.shape, matvec=apply, dtype=float)"),)),
    Variant("05.jacobi_preconditioner.dense_only", patch=(("d = A.diagonal()", "d = np.diag(A)"),)),
    Variant("05.jacobi_preconditioner.sparse_only",
            patch=(("d = A.diagonal()", "d = A.tocsr().diagonal()"),)),
]

_LOWER = "D + omega * sp.tril(A, k=-1)"
_UPPER = "D + omega * sp.triu(A, k=1)"
_SWEEPS = ("        y = spsolve_triangular(lower, r, lower=True)\n"
           "        return scale * spsolve_triangular(upper, d * y, lower=False)")
_APPLY = "    def apply(r):\n" + _SWEEPS + "\n"
_INVERSE = ("    Y = spsolve_triangular(lower, np.eye(A.shape[0]), lower=True)\n"
            "    inverse = scale * spsolve_triangular(upper, d[:, None] * Y, lower=False)\n")
_OMEGA_CHECK = ('    if not 0 < omega < 2:\n        raise ValueError(\n'
                '            f"omega must be in (0, 2), got {omega}")\n')

SSOR = [
    Variant("05.ssor_preconditioner.missing_factor",
            patch=(("scale = omega * (2 - omega)", "scale = 1.0"),)),
    Variant("05.ssor_preconditioner.missing_D", patch=(("d * y", "y"),)),
    Variant("05.ssor_preconditioner.D_inverse", patch=(("d * y", "y / d"),)),
    Variant("05.ssor_preconditioner.sweeps_swapped",
            patch=((_SWEEPS,
                    "        y = spsolve_triangular(upper, r, lower=False)\n"
                    "        return scale * spsolve_triangular(lower, d * y, lower=True)"),)),
    Variant("05.ssor_preconditioner.omega_ignored",
            patch=((_LOWER, "D + sp.tril(A, k=-1)"), (_UPPER, "D + sp.triu(A, k=1)"),
                   ("scale = omega * (2 - omega)", "scale = 1.0"))),
    Variant("05.ssor_preconditioner.omega_not_in_triangles",
            patch=((_LOWER, "D + sp.tril(A, k=-1)"), (_UPPER, "D + sp.triu(A, k=1)"))),
    Variant("05.ssor_preconditioner.omega_form_mixed",
            patch=((_LOWER, "D / omega + sp.tril(A, k=-1)"),
                   (_UPPER, "D / omega + sp.triu(A, k=1)"))),
    Variant("05.ssor_preconditioner.diagonal_counted_twice",
            patch=(("sp.tril(A, k=-1)", "sp.tril(A)"), ("sp.triu(A, k=1)", "sp.triu(A)"))),
    Variant("05.ssor_preconditioner.upper_from_lower",
            patch=((f"upper = sp.csr_array({_UPPER})", "upper = sp.csr_array(lower.T)"),)),
    Variant("05.ssor_preconditioner.single_sweep",
            patch=((_SWEEPS, "        return scale * spsolve_triangular(lower, r, lower=True)"),)),
    # M_SSOR r = (D + omega L) D^{-1} (D + omega U) r / (omega (2 - omega)): products, no solves.
    Variant("05.ssor_preconditioner.applies_M",
            patch=((_SWEEPS, "        return (lower @ ((upper @ r) / d)) / scale"),)),
    Variant("05.ssor_preconditioner.explicit_inverse",
            patch=((_APPLY, _INVERSE + "\n    def apply(r):\n        return inverse @ r\n"),)),
    Variant("05.ssor_preconditioner.returns_matrix",
            patch=((_APPLY, _INVERSE),
                   ("return LinearOperator(A.shape, matvec=apply, dtype=float)",
                    "return inverse"))),
    Variant("05.ssor_preconditioner.omega_not_checked", patch=((_OMEGA_CHECK, ""),)),
    Variant("05.ssor_preconditioner.omega_endpoints_allowed",
            patch=(("if not 0 < omega < 2:", "if not 0 <= omega <= 2:"),)),
    Variant("05.ssor_preconditioner.default_omega", patch=(("omega=1.0):", "omega=1.5):"),)),
    Variant("05.ssor_preconditioner.sparse_only",
            patch=(("    d = A.diagonal()", "    A = A.tocsr()\n    d = A.diagonal()"),)),
    Variant("05.ssor_preconditioner.dense_only", patch=(("d = A.diagonal()", "d = np.diag(A)"),)),
]

_UPDATE = ("            i = rows[rows >= j]\n            i = i[pattern[i, j]]\n"
           "            L[i, j] -= L[i, k] * L[j, k]\n")
_SQRT = "        L[k, k] = np.sqrt(L[k, k])\n"
_DIVIDE = ("        rows = k + 1 + np.flatnonzero(pattern[k + 1:, k])\n"
           "        L[rows, k] /= L[k, k]\n")
_PIVOT_CHECK = ('        if L[k, k] <= 0:\n            raise ValueError(\n'
                '                f"IC(0) breaks down: pivot {L[k, k]:.3g} at column {k}")\n')
_FULL = "np.tril(np.ones((n, n), dtype=bool))"

ICHOL0 = [
    Variant("05.ichol0.complete_cholesky", patch=(("pattern = L != 0", f"pattern = {_FULL}"),)),
    Variant("05.ichol0.fill_dropped_afterwards",
            patch=(("    pattern = L != 0\n", f"    keep = L != 0\n    pattern = {_FULL}\n"),
                   ("return sp.csr_array(L)", "return sp.csr_array(np.where(keep, L, 0.0))"))),
    Variant("05.ichol0.fill_in", patch=(("            i = i[pattern[i, j]]\n", ""),)),
    Variant("05.ichol0.diagonal_updates_only",
            patch=((_UPDATE, "            L[j, j] -= L[j, k] ** 2\n"),)),
    Variant("05.ichol0.no_updates", patch=(("        for j in rows:\n" + _UPDATE, ""),)),
    Variant("05.ichol0.no_sqrt", patch=((_SQRT, ""),)),
    Variant("05.ichol0.divide_before_sqrt", patch=((_SQRT + _DIVIDE, _DIVIDE + _SQRT),)),
    Variant("05.ichol0.unit_diagonal",
            patch=(("return sp.csr_array(L)", "return sp.csr_array(L / np.diag(L))"),)),
    Variant("05.ichol0.upper_factor",
            patch=(("return sp.csr_array(L)", "return sp.csr_array(L.T)"),)),
    Variant("05.ichol0.returns_product",
            patch=(("return sp.csr_array(L)", "return sp.csr_array(L @ L.T)"),)),
    Variant("05.ichol0.no_breakdown_check", patch=((_PIVOT_CHECK, ""),)),
    Variant("05.ichol0.zero_pivot_allowed", patch=(("if L[k, k] <= 0:", "if L[k, k] < 0:"),)),
    Variant("05.ichol0.negative_pivot_allowed", patch=(("if L[k, k] <= 0:", "if L[k, k] == 0:"),)),
]

# The two lines of mic0's solution that move a dropped product to the pivots.
_ROW = "            L[fill, fill] -= dropped        # (i, j) dropped: row i's pivot\n"
_COL = "            L[j, j] -= dropped.sum()        # and its mirror image (j, i): row j's\n"
_MIC_PIVOT_CHECK = ('        if L[k, k] <= 0:\n            raise ValueError(\n'
                    '                f"MIC(0) breaks down: pivot {L[k, k]:.3g} at column {k}")\n')

MIC0 = [
    Variant("05.mic0.fill_dropped", patch=((_ROW + _COL, ""),)),
    Variant("05.mic0.compensate_row_only", patch=((_COL, ""),)),
    Variant("05.mic0.compensate_column_only", patch=((_ROW, ""),)),
    Variant("05.mic0.compensation_sign",
            patch=(("L[fill, fill] -= dropped", "L[fill, fill] += dropped"),
                   ("L[j, j] -= dropped.sum()", "L[j, j] += dropped.sum()"))),
    # Every dropped pair counted for both of its positions (i, j) and (j, i), in both rows.
    Variant("05.mic0.compensation_doubled",
            patch=(("L[fill, fill] -= dropped ", "L[fill, fill] -= 2 * dropped "),
                   ("L[j, j] -= dropped.sum()", "L[j, j] -= 2 * dropped.sum()"))),
    # The dropped fill collected, then taken off the diagonal of the finished L.
    Variant("05.mic0.compensated_afterwards",
            patch=(("    pattern = L != 0\n", "    pattern = L != 0\n    lost = np.zeros(n)\n"),
                   ("L[fill, fill] -= dropped", "lost[fill] += dropped"),
                   ("L[j, j] -= dropped.sum()", "lost[j] += dropped.sum()"),
                   ("    return sp.csr_array(L)",
                    "    L[np.diag_indices(n)] = np.sqrt(np.diag(L) ** 2 - lost)\n"
                    "    return sp.csr_array(L)"))),
    Variant("05.mic0.complete_cholesky", patch=(("pattern = L != 0", f"pattern = {_FULL}"),)),
    Variant("05.mic0.no_breakdown_check", patch=((_MIC_PIVOT_CHECK, ""),)),
    Variant("05.mic0.zero_pivot_allowed", patch=(("if L[k, k] <= 0:", "if L[k, k] < 0:"),)),
    Variant("05.mic0.negative_pivot_allowed", patch=(("if L[k, k] <= 0:", "if L[k, k] == 0:"),)),
]

VARIANTS = PCG + JACOBI + SSOR + ICHOL0 + MIC0
