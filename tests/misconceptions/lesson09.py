"""Lesson 09's catalogue of misconceptions: a concrete wrong variant of the
solution for each code declared in krylov_ref/checks/lesson09.py
(``make misconceptions`` grades them)."""

from krylov_ref.grading.misconceptions import Variant

# ------------------------------------------------------------ hutchinson_trace
# The solution's lines that the variants change.
PROBES = ".choice([-1.0, 1.0], size=(num_probes, n))"
MEAN = "    return float(np.mean([z @ (A @ z) for z in Z]))"

HUTCHINSON = [
    Variant("09.hutchinson_trace.gaussian_probes",
            patch=((PROBES, ".standard_normal((num_probes, n))"),)),
    # rng.integers(0, 2) draws the same stream as choice([-1, 1]): 0 where -1 is drawn.
    Variant("09.hutchinson_trace.zero_one_probes",
            patch=((PROBES, ".integers(0, 2, size=(num_probes, n)).astype(float)"),)),
    Variant("09.hutchinson_trace.probes_as_columns",
            patch=((PROBES, ".choice([-1.0, 1.0], size=(n, num_probes)).T"),)),
    # A generator created in the loop: every probe is the first one.
    Variant("09.hutchinson_trace.same_probe",
            patch=(("    Z = np.random.default_rng(seed)" + PROBES,
                    "    Z = [np.random.default_rng(seed).choice([-1.0, 1.0], size=n)\n"
                    "         for _ in range(num_probes)]"),)),
    Variant("09.hutchinson_trace.unseeded",
            patch=(("np.random.default_rng(seed)", "np.random.default_rng()"),)),
    Variant("09.hutchinson_trace.seed_ignored",
            patch=(("np.random.default_rng(seed)", "np.random.default_rng(0)"),)),
    Variant("09.hutchinson_trace.default_seed",
            patch=(("*, seed=0):", "*, seed=None):"),)),
    Variant("09.hutchinson_trace.sum_not_mean", patch=(("float(np.mean(", "float(np.sum("),)),
    Variant("09.hutchinson_trace.divided_by_n", patch=((MEAN, MEAN + " / n"),)),
    Variant("09.hutchinson_trace.divided_by_p_minus_1",
            patch=((MEAN, "    return float(np.sum([z @ (A @ z) for z in Z]) / (num_probes - 1))"),)),
    # ||A z||^2 = z^T A^2 z taken for z^T A z.
    Variant("09.hutchinson_trace.squared_norm",
            patch=(("z @ (A @ z)", "np.linalg.norm(A @ z) ** 2"),)),
]

# ------------------------------------------------------------ hutchpp
DRAW_S = "S = rng.choice([-1.0, 1.0], size=(n, k))"
DRAW_G = "G = rng.choice([-1.0, 1.0], size=(n, k))"
PROBES_TERM = "np.sum(G * (A @ G)) / k)"

HUTCHPP = [
    Variant("09.hutchpp.no_orthonormalisation",
            patch=(("Q, _ = np.linalg.qr(A @ S)", "Q = A @ S"),)),
    Variant("09.hutchpp.sketch_trace_omitted",
            patch=(("float(np.sum(Q * (A @ Q)) + ", "float("),)),
    Variant("09.hutchpp.probes_not_projected", patch=(("    G = G - Q @ (Q.T @ G)\n", ""),)),
    # G^T A (I - QQ^T) G: the projected probes on the right only.
    Variant("09.hutchpp.one_sided_projection",
            patch=(("    G = G - Q @ (Q.T @ G)\n", "    G0 = G\n    G = G - Q @ (Q.T @ G)\n"),
                   (PROBES_TERM, "np.sum(G0 * (A @ G)) / k)"))),
    Variant("09.hutchpp.divided_by_m",
            patch=((PROBES_TERM, "np.sum(G * (A @ G)) / num_matvecs)"),)),
    Variant("09.hutchpp.sum_not_mean", patch=((PROBES_TERM, "np.sum(G * (A @ G)))"),)),
    Variant("09.hutchpp.sketch_reused_as_probes",
            patch=(("    " + DRAW_G + "\n", "    G = S.copy()\n"),)),
    Variant("09.hutchpp.sketch_not_multiplied",
            patch=(("np.linalg.qr(A @ S)", "np.linalg.qr(S)"),)),
    Variant("09.hutchpp.budget_not_split",
            patch=(("    k = num_matvecs // 3\n    if k < 1 or 3 * k != num_matvecs:",
                    "    k = num_matvecs\n    if k < 1 or k % 3 != 0:"),)),
    Variant("09.hutchpp.gaussian",
            patch=((DRAW_S, "S = rng.standard_normal((n, k))"),
                   (DRAW_G, "G = rng.standard_normal((n, k))"))),
    Variant("09.hutchpp.draws_as_rows",
            patch=((DRAW_S, "S = rng.choice([-1.0, 1.0], size=(k, n)).T"),
                   (DRAW_G, "G = rng.choice([-1.0, 1.0], size=(k, n)).T"))),
    Variant("09.hutchpp.draw_order",
            patch=(("    " + DRAW_S + "\n    " + DRAW_G + "\n",
                    "    " + DRAW_G + "\n    " + DRAW_S + "\n"),)),
    Variant("09.hutchpp.unseeded",
            patch=(("np.random.default_rng(seed)", "np.random.default_rng()"),)),
    Variant("09.hutchpp.seed_ignored",
            patch=(("np.random.default_rng(seed)", "np.random.default_rng(0)"),)),
    Variant("09.hutchpp.default_seed", patch=(("*, seed=0):", "*, seed=None):"),)),
    Variant("09.hutchpp.budget_not_checked",
            patch=(("    if k < 1 or 3 * k != num_matvecs:\n"
                    "        raise ValueError(\n"
                    "            f\"num_matvecs must be a positive multiple of 3, got {num_matvecs}\")\n",
                    ""),)),
]

# ------------------------------------------------------------ slq_logdet
GAMMA = "        estimates.append(n * np.sum(U[0] ** 2 * np.log(theta)))\n"

SLQ = [
    Variant("09.slq_logdet.first_column", patch=(("U[0] ** 2", "U[:, 0] ** 2"),)),
    Variant("09.slq_logdet.last_row", patch=(("U[0] ** 2", "U[-1] ** 2"),)),
    Variant("09.slq_logdet.weights_unsquared", patch=(("U[0] ** 2", "U[0]"),)),
    Variant("09.slq_logdet.no_n", patch=(("estimates.append(n * ", "estimates.append("),)),
    Variant("09.slq_logdet.norm_not_squared",
            patch=(("estimates.append(n * ", "estimates.append(np.sqrt(n) * "),)),
    Variant("09.slq_logdet.sum_not_mean",
            patch=(("return float(np.mean(estimates))", "return float(np.sum(estimates))"),)),
    Variant("09.slq_logdet.logdet_of_T",
            patch=((GAMMA, "        estimates.append(np.sum(np.log(theta)))\n"),)),
    Variant("09.slq_logdet.log_of_mean",
            patch=((GAMMA, "        estimates.append(n * np.log(np.sum(U[0] ** 2 * theta)))\n"),)),
    Variant("09.slq_logdet.k_minus_one_steps",
            patch=(("lanczos(A, z, k)", "lanczos(A, z, k - 1)"),)),
    Variant("09.slq_logdet.lanczos_ignored",
            patch=(("    if lanczos is None:\n        lanczos = krylov_ref.lanczos\n",
                    "    lanczos = krylov_ref.lanczos\n"),)),
    Variant("09.slq_logdet.gaussian_probes",
            patch=((".choice([-1.0, 1.0], size=(num_probes, n))",
                    ".standard_normal((num_probes, n))"),)),
    Variant("09.slq_logdet.same_probe",
            patch=(("    Z = np.random.default_rng(seed).choice([-1.0, 1.0], size=(num_probes, n))\n",
                    "    Z = [np.random.default_rng(seed).choice([-1.0, 1.0], size=n)\n"
                    "         for _ in range(num_probes)]\n"),)),
    Variant("09.slq_logdet.default_seed", patch=(("*, seed=0,", "*, seed=None,"),)),
]

# ------------------------------------------------------------ gp_nll
NLL = "    nll = 0.5 * y @ alpha + 0.5 * logdet + 0.5 * n * np.log(2 * np.pi)\n"
TRACE = "+ 0.5 * np.mean([u @ (D @ z) for u, z in zip(U, Z)])"

GP_NLL = [
    Variant("09.gp_nll.no_constant", patch=((" + 0.5 * n * np.log(2 * np.pi)", ""),)),
    Variant("09.gp_nll.constant_not_halved",
            patch=(("0.5 * n * np.log(2 * np.pi)", "n * np.log(2 * np.pi)"),)),
    Variant("09.gp_nll.data_term_no_half", patch=(("0.5 * y @ alpha", "y @ alpha"),)),
    Variant("09.gp_nll.logdet_no_half", patch=(("+ 0.5 * logdet", "+ logdet"),)),
    Variant("09.gp_nll.logdet_sign", patch=(("+ 0.5 * logdet", "- 0.5 * logdet"),)),
    Variant("09.gp_nll.log_likelihood",
            patch=(("    return float(nll), grad", "    return -float(nll), -grad"),)),
    Variant("09.gp_nll.slq_seed_not_passed",
            patch=(("slq_logdet(A, num_probes, k, seed=seed)", "slq_logdet(A, num_probes, k)"),)),
    Variant("09.gp_nll.grad_sign", patch=(("    grad = np.array(", "    grad = -np.array("),)),
    Variant("09.gp_nll.grad_data_sign",
            patch=(("-0.5 * alpha @ (D @ alpha)", "0.5 * alpha @ (D @ alpha)"),)),
    Variant("09.gp_nll.grad_trace_sign", patch=((TRACE, "-" + TRACE[1:]),)),
    Variant("09.gp_nll.grad_data_no_half",
            patch=(("-0.5 * alpha @ (D @ alpha)", "-alpha @ (D @ alpha)"),)),
    Variant("09.gp_nll.grad_trace_no_half",
            patch=((TRACE, TRACE.replace("0.5 * np.mean", "np.mean")),)),
    Variant("09.gp_nll.trace_without_solve",
            patch=(("u @ (D @ z) for u, z", "z @ (D @ z) for u, z"),)),
    Variant("09.gp_nll.trace_gaussian_probes",
            patch=(("    Z = np.random.default_rng(seed).choice([-1.0, 1.0], size=(num_probes, n))",
                    "    Z = np.random.default_rng(seed).standard_normal((num_probes, n))"),)),
    Variant("09.gp_nll.trace_probes_seed",
            patch=(("    Z = np.random.default_rng(seed)", "    Z = np.random.default_rng()"),)),
    # One solve per probe and per hyperparameter: A u = dA_j z_i inside the loop over dA.
    Variant("09.gp_nll.solve_per_hyperparameter",
            patch=(("np.mean([u @ (D @ z) for u, z in zip(U, Z)])",
                    "np.mean([krylov_ref.cg(A, D @ z, rtol=rtol).x @ z for z in Z])"),)),
    Variant("09.gp_nll.rtol_not_passed",
            patch=(("U = [krylov_ref.cg(A, z, rtol=rtol).x", "U = [krylov_ref.cg(A, z).x"),)),
    # For an ndarray D, D * alpha is the entrywise product (a matrix).
    Variant("09.gp_nll.star_product",
            patch=(("alpha @ (D @ alpha)", "alpha @ (D * alpha)"),)),
]

VARIANTS = HUTCHINSON + HUTCHPP + SLQ + GP_NLL
