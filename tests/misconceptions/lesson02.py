"""Lesson 02's catalogue of misconceptions: a concrete wrong variant of the
solution for each code declared in krylov_ref/checks/lesson02.py
(``make misconceptions`` grades them).

Every variant here fails the visible test: the visible checks run the
student's function on a fixed problem where each mistake shows (the Arnoldi
check includes the ill-conditioned case that tells classical from modified
Gram-Schmidt, and the Ritz check includes k = 1)."""

from krylov_ref.grading.misconceptions import Variant

# ------------------------------------------------------------------ krylov_matrix
_KRYLOV_RECOMPUTES = '''
def krylov_matrix(A, b, k):
    n = b.shape[0]
    K = np.empty((n, k))
    for j in range(k):
        v = b.copy()
        for _ in range(j):
            v = A @ v
        K[:, j] = v
    return K
'''

_KRYLOV_EXTRA_PRODUCT = '''
def krylov_matrix(A, b, k):
    n = b.shape[0]
    K = np.empty((n, k))
    v = b.copy()
    for j in range(k):
        K[:, j] = v
        v = A @ v
    return K
'''

_KRYLOV_ROWS = '''
def krylov_matrix(A, b, k):
    rows = [b]
    for j in range(1, k):
        rows.append(A @ rows[-1])
    return np.array(rows)
'''

KRYLOV_MATRIX = [
    Variant("02.krylov_matrix.transposed", source=_KRYLOV_ROWS),
    Variant("02.krylov_matrix.extra_column",
            patch=(("np.empty((n, k))", "np.empty((n, k + 1))"),
                   ("range(1, k)", "range(1, k + 1)"))),
    Variant("02.krylov_matrix.missing_column",
            patch=(("np.empty((n, k))", "np.empty((n, k - 1))"),
                   ("range(1, k)", "range(1, k - 1)"))),
    Variant("02.krylov_matrix.starts_at_Ab", patch=(("K[:, 0] = b", "K[:, 0] = A @ b"),)),
    Variant("02.krylov_matrix.normalised",
            patch=(("return K", "return K / np.linalg.norm(K, axis=0)"),)),
    Variant("02.krylov_matrix.normalised_start",
            patch=(("K[:, 0] = b", "K[:, 0] = b / np.linalg.norm(b)"),)),
    Variant("02.krylov_matrix.transpose_product",
            patch=(("A @ K[:, j - 1]", "K[:, j - 1] @ A"),)),
    Variant("02.krylov_matrix.not_accumulated", patch=(("A @ K[:, j - 1]", "A @ b"),)),
    Variant("02.krylov_matrix.recomputes_powers", source=_KRYLOV_RECOMPUTES),
    Variant("02.krylov_matrix.extra_product", source=_KRYLOV_EXTRA_PRODUCT),
]

# ------------------------------------------------------------------ arnoldi
ARNOLDI = [
    Variant("02.arnoldi.q_missing_last", patch=(("return Q, H", "return Q[:, :k], H"),)),
    Variant("02.arnoldi.h_square", patch=(("return Q, H", "return Q, H[:k, :k]"),)),
    Variant("02.arnoldi.q_transposed", patch=(("return Q, H", "return Q.T, H"),)),
    Variant("02.arnoldi.h_transposed", patch=(("return Q, H", "return Q, H.T"),)),
    Variant("02.arnoldi.q0_not_normalised",
            patch=(("Q[:, 0] = v0 / np.linalg.norm(v0)", "Q[:, 0] = v0"),)),
    Variant("02.arnoldi.modifies_v0",
            patch=(("Q[:, 0] = v0 / np.linalg.norm(v0)",
                    "v0 /= np.linalg.norm(v0)\n    Q[:, 0] = v0"),)),
    Variant("02.arnoldi.not_normalised",
            patch=(("Q[:, j + 1] = w / H[j + 1, j]", "Q[:, j + 1] = w"),)),
    Variant("02.arnoldi.classical_gram_schmidt",
            patch=(("w = A @ Q[:, j]", "Aq = A @ Q[:, j]\n        w = Aq.copy()"),
                   ("H[i, j] = Q[:, i] @ w", "H[i, j] = Q[:, i] @ Aq"))),
    Variant("02.arnoldi.update_lost",
            patch=(("w = w - H[i, j] * Q[:, i]", "v = w - H[i, j] * Q[:, i]"),
                   ("H[j + 1, j] = np.linalg.norm(w)\n        Q[:, j + 1] = w / H[j + 1, j]",
                    "H[j + 1, j] = np.linalg.norm(v)\n        Q[:, j + 1] = v / H[j + 1, j]"))),
    Variant("02.arnoldi.inner_loop_short", patch=(("for i in range(j + 1):", "for i in range(j):"),)),
    Variant("02.arnoldi.projection_sign",
            patch=(("w = w - H[i, j] * Q[:, i]", "w = w + H[i, j] * Q[:, i]"),)),
    Variant("02.arnoldi.h_indices_swapped",
            patch=(("H[i, j] = Q[:, i] @ w\n            w = w - H[i, j] * Q[:, i]",
                    "H[j, i] = Q[:, i] @ w\n            w = w - H[j, i] * Q[:, i]"),)),
    Variant("02.arnoldi.norm_before_projection",
            patch=(("w = A @ Q[:, j]", "w = A @ Q[:, j]\n        H[j + 1, j] = np.linalg.norm(w)"),
                   ("H[j + 1, j] = np.linalg.norm(w)\n        Q", "Q"))),
    Variant("02.arnoldi.norm_after_normalising",
            patch=(("H[j + 1, j] = np.linalg.norm(w)\n        Q[:, j + 1] = w / H[j + 1, j]",
                    "Q[:, j + 1] = w / np.linalg.norm(w)\n        H[j + 1, j] = np.linalg.norm(Q[:, j + 1])"),)),
    Variant("02.arnoldi.divide_before_store",
            patch=(("H[j + 1, j] = np.linalg.norm(w)\n        Q[:, j + 1] = w / H[j + 1, j]",
                    "Q[:, j + 1] = w / H[j + 1, j]\n        H[j + 1, j] = np.linalg.norm(w)"),)),
    Variant("02.arnoldi.transpose_product", patch=(("A @ Q[:, j]", "Q[:, j] @ A"),)),
    Variant("02.arnoldi.extra_products",
            patch=(("return Q, H", "H = Q.T @ (A @ Q[:, :k])\n    return Q, H"),)),
    Variant("02.arnoldi.too_few_steps", patch=(("for j in range(k):", "for j in range(k - 1):"),)),
]

# ------------------------------------------------------------------ lanczos
LANCZOS = [
    Variant("02.lanczos.returns_T",
            patch=(("return Q, alpha, beta",
                    "return Q, krylov_ref.tridiagonal(alpha, beta[:-1])"),)),
    Variant("02.lanczos.q_missing_last",
            patch=(("return Q, alpha, beta", "return Q[:, :k], alpha, beta"),)),
    Variant("02.lanczos.beta_short",
            patch=(("return Q, alpha, beta", "return Q, alpha, beta[:-1]"),)),
    Variant("02.lanczos.beta_shifted",
            patch=(("beta = np.zeros(k)", "beta = np.zeros(k + 1)"),
                   ("w - beta[j - 1] * Q", "w - beta[j] * Q"),
                   ("beta[j] = np.linalg.norm(w)\n        Q[:, j + 1] = w / beta[j]",
                    "beta[j + 1] = np.linalg.norm(w)\n        Q[:, j + 1] = w / beta[j + 1]"))),
    Variant("02.lanczos.q0_not_normalised",
            patch=(("Q[:, 0] = v0 / np.linalg.norm(v0)", "Q[:, 0] = v0"),)),
    Variant("02.lanczos.modifies_v0",
            patch=(("Q[:, 0] = v0 / np.linalg.norm(v0)",
                    "v0 /= np.linalg.norm(v0)\n    Q[:, 0] = v0"),)),
    Variant("02.lanczos.not_normalised", patch=(("Q[:, j + 1] = w / beta[j]", "Q[:, j + 1] = w"),)),
    Variant("02.lanczos.no_previous_term",
            patch=(("w = w - beta[j - 1] * Q[:, j - 1]", "pass"),),
            also=("02.lanczos.current_beta",)),
    Variant("02.lanczos.current_beta",
            patch=(("w = w - beta[j - 1] * Q[:, j - 1]", "w = w - beta[j] * Q[:, j - 1]"),),
            also=("02.lanczos.no_previous_term",)),
    Variant("02.lanczos.previous_term_sign",
            patch=(("w = w - beta[j - 1] * Q[:, j - 1]", "w = w + beta[j - 1] * Q[:, j - 1]"),)),
    Variant("02.lanczos.norm_before_projection",
            patch=(("w = A @ Q[:, j]", "w = A @ Q[:, j]\n        norm_Aq = np.linalg.norm(w)"),
                   ("beta[j] = np.linalg.norm(w)\n        Q[:, j + 1] = w / beta[j]",
                    "beta[j] = norm_Aq\n        Q[:, j + 1] = w / np.linalg.norm(w)"))),
    Variant("02.lanczos.divide_before_store",
            patch=(("beta[j] = np.linalg.norm(w)\n        Q[:, j + 1] = w / beta[j]",
                    "Q[:, j + 1] = w / beta[j]\n        beta[j] = np.linalg.norm(w)"),)),
    Variant("02.lanczos.extra_products",
            patch=(("alpha[j] = Q[:, j] @ w", "alpha[j] = Q[:, j] @ (A @ Q[:, j])"),)),
    Variant("02.lanczos.too_few_steps", patch=(("for j in range(k):", "for j in range(k - 1):"),)),
]

# ------------------------------------------------------------------ ritz_values
_RITZ_RESIDUALS = "return theta, np.abs(beta[-1]) * np.abs(S[-1, :])"

RITZ_VALUES = [
    Variant("02.ritz_values.decreasing_order",
            patch=((_RITZ_RESIDUALS,
                    "return theta[::-1], (np.abs(beta[-1]) * np.abs(S[-1, :]))[::-1]"),)),
    Variant("02.ritz_values.unsorted",
            patch=(("theta, S = np.linalg.eigh(T)", "theta, S = np.linalg.eig(T)"),)),
    Variant("02.ritz_values.first_component", patch=(("S[-1, :]", "S[0, :]"),)),
    Variant("02.ritz_values.last_column", patch=(("S[-1, :]", "S[:, -1]"),)),
    Variant("02.ritz_values.no_abs",
            patch=(("np.abs(beta[-1]) * np.abs(S[-1, :])", "beta[-1] * S[-1, :]"),)),
    Variant("02.ritz_values.no_beta", patch=(("np.abs(beta[-1]) * np.abs", "np.abs"),)),
    Variant("02.ritz_values.beta_k_minus_2", patch=(("np.abs(beta[-1])", "np.abs(beta[-2])"),)),
    Variant("02.ritz_values.squared",
            patch=(("np.abs(beta[-1]) * np.abs(S[-1, :])", "(beta[-1] * S[-1, :]) ** 2"),)),
    Variant("02.ritz_values.offdiagonal_shifted",
            patch=(("krylov_ref.tridiagonal(alpha, beta[:-1])",
                    "krylov_ref.tridiagonal(alpha, beta[1:])"),)),
    Variant("02.ritz_values.upper_only_T",
            patch=(("krylov_ref.tridiagonal(alpha, beta[:-1])",
                    "np.diag(alpha) + np.diag(beta[:-1], 1)"),)),
    Variant("02.ritz_values.returns_eigenvectors", patch=((_RITZ_RESIDUALS, "return theta, S"),)),
]

VARIANTS = KRYLOV_MATRIX + ARNOLDI + LANCZOS + RITZ_VALUES
