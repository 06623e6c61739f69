"""Checks for lesson 02 (Krylov subspaces, Arnoldi, Lanczos, Ritz values).

Each ``check_*`` runs a student's function on problems with known answers,
raises :class:`~krylov_ref.checks.WrongAnswer` naming the likely mistake, and
prints one line when all is well. Visible tests call them with their
defaults; hidden tests call them with other sizes and seeds.

The Krylov processes are compared with :mod:`krylov_ref.krylov` entry by
entry: with ``q_0 = v0 / ||v0||`` and positive subdiagonal entries
(``H[j+1, j] = ||w||``, ``beta[j] = ||w||``) the basis and the coefficients
are unique, so there is no sign to forgive. The sizes of those comparisons
are kept moderate (``k`` well below the point where Lanczos loses
orthogonality), where every correct variant agrees to about 1e-11. Arnoldi
is also run on one ill-conditioned matrix, where the modified Gram-Schmidt
the exercise asks for keeps ``||I - Q^T Q||`` near 1e-12 and classical
Gram-Schmidt loses it (about 1e-7); Gram-Schmidt with reorthogonalisation,
better than either, passes too.

A failure names the misconception it recognises (``MISCONCEPTIONS`` below,
with a wrong variant of the solution for each in
``tests/misconceptions/lesson02.py``). Most are recognised from the shape
of the answer; mistakes inside the Arnoldi and Lanczos loops, whose symptoms
overlap (a vector that is not orthogonal, or not of norm 1), are recognised
by running the process with that mistake on the same problem and comparing:
only when the answer differs from the reference and the mistaken process
differs from it too, so a right answer is never named.
"""

from __future__ import annotations

import numpy as np

from ..krylov import arnoldi as reference_arnoldi
from ..krylov import krylov_matrix as reference_krylov_matrix
from ..krylov import lanczos as reference_lanczos
from ..krylov import tridiagonal
from ..problems import random_spd
from ..ritz import ritz_values as reference_ritz_values
from . import (
    DIRECT, SOLVERS, CountingOperator, WrongAnswer, call_student, exercise, expect,
    expect_close, mistake, passed,
)

__all__ = ["check_krylov_matrix", "check_arnoldi", "check_lanczos", "check_ritz_values"]

#: The reference Krylov processes: not allowed inside the exercises.
PROCESSES = (
    "krylov_ref.krylov_matrix", "krylov_ref.arnoldi", "krylov_ref.lanczos",
    "krylov_ref.krylov.krylov_matrix", "krylov_ref.krylov.arnoldi",
    "krylov_ref.krylov.lanczos",
)
#: Library QR factorisations, which would orthogonalise the basis for the student.
QR = ("numpy.linalg.qr", "scipy.linalg.qr", "scipy.linalg.orth")

FORBID_PROCESSES = SOLVERS + DIRECT + QR + PROCESSES

# Tolerances. Orthonormality and the relations hold to ~1e-14 for every
# correct implementation on these sizes; a wrong one is off by O(1e-2) or more.
ORTH_TOL = 1e-8
RELATION_TOL = 1e-9
COMPARE_RTOL = 1e-7


# --------------------------------------------------------------------------
# The misconceptions these checks name: code -> (description, the heading of
# the lesson section that explains it). The test tree holds a wrong variant
# of the solution for each (tests/misconceptions/lesson02.py).

SECTION_1 = "1. Krylov subspaces, and why the solution lives in one"
EXERCISE_1 = "Exercise 1 — the power basis (2 points)"
SECTION_3 = "3. Arnoldi: an orthonormal basis, built with Gram–Schmidt"
EXERCISE_2 = "Exercise 2 — Arnoldi (4 points)"
SECTION_4 = "4. Symmetric $A$: Hessenberg becomes tridiagonal — Lanczos"
EXERCISE_3 = "Exercise 3 — Lanczos (4 points)"
SECTION_5 = "5. Ritz values: eigenvalues of $T_k$ approximate eigenvalues of $A$"
EXERCISE_4 = "Exercise 4 — Ritz values and their residuals (2 points)"

MISCONCEPTIONS = {
    # Exercise 1: krylov_matrix
    "02.krylov_matrix.transposed": ("K returned as k x n: the vectors A^j b as rows", EXERCISE_1),
    "02.krylov_matrix.extra_column": ("k + 1 columns, b up to A^k b (the loop runs once too often)", EXERCISE_1),
    "02.krylov_matrix.missing_column": ("k - 1 columns: the last power A^(k-1) b left out", EXERCISE_1),
    "02.krylov_matrix.starts_at_Ab": ("the first column is A b instead of b (powers 1..k instead of 0..k-1)", EXERCISE_1),
    "02.krylov_matrix.normalised": ("each column normalised, where the raw powers A^j b are asked for", EXERCISE_1),
    "02.krylov_matrix.normalised_start": ("started from b / ||b|| instead of b, scaling every column", EXERCISE_1),
    "02.krylov_matrix.transpose_product": ("v @ A written for A v: powers of A^T", EXERCISE_1),
    "02.krylov_matrix.not_accumulated": ("every column after the first is A b: A applied to b, not to the previous column", SECTION_1),
    "02.krylov_matrix.recomputes_powers": ("A^j b recomputed from b for each column: k(k-1)/2 products instead of k - 1", EXERCISE_1),
    "02.krylov_matrix.extra_product": ("one product too many: A^k b computed after the last column and thrown away", EXERCISE_1),
    # Exercise 2: arnoldi
    "02.arnoldi.q_missing_last": ("Q returned with k columns: q_k, made by the last step, left out", EXERCISE_2),
    "02.arnoldi.q_transposed": ("Q returned transposed: the basis vectors as rows", EXERCISE_2),
    "02.arnoldi.h_square": ("H returned k x k: the last row, H[k, k-1] = ||w||, left out", EXERCISE_2),
    "02.arnoldi.h_transposed": ("H returned transposed, k x (k + 1)", EXERCISE_2),
    "02.arnoldi.q0_not_normalised": ("q_0 = v0 instead of v0 / ||v0||", SECTION_3),
    "02.arnoldi.modifies_v0": ("v0 normalised in place: the caller's vector changed", EXERCISE_2),
    "02.arnoldi.not_normalised": ("the new vector w stored in Q without dividing by its norm", SECTION_3),
    "02.arnoldi.classical_gram_schmidt": ("classical Gram-Schmidt (every h_ij from the original A q_j) where modified is asked for", SECTION_3),
    "02.arnoldi.update_lost": ("each projection subtracted from A q_j afresh: only the last one removed from w", SECTION_3),
    "02.arnoldi.inner_loop_short": ("the inner loop runs over i < j: w never orthogonalised against q_j", SECTION_3),
    "02.arnoldi.projection_sign": ("the projections h_ij q_i added to w instead of subtracted", SECTION_3),
    "02.arnoldi.h_indices_swapped": ("h_ij stored in H[j, i]: H lower instead of upper Hessenberg", SECTION_3),
    "02.arnoldi.norm_before_projection": ("H[j+1, j] = ||A q_j||, the norm before orthogonalisation, not ||w|| after it", SECTION_3),
    "02.arnoldi.norm_after_normalising": ("H[j+1, j] taken as the norm of q_(j+1) after normalising (always 1)", SECTION_3),
    "02.arnoldi.divide_before_store": ("w divided by H[j+1, j] before the norm is stored in it (division by 0)", EXERCISE_2),
    "02.arnoldi.transpose_product": ("v @ A written for A v: Arnoldi run on A^T", EXERCISE_2),
    "02.arnoldi.extra_products": ("more than one product with A per step (A q_j recomputed, or H formed as Q^T A Q)", EXERCISE_2),
    "02.arnoldi.too_few_steps": ("the outer loop runs k - 1 times instead of k", SECTION_3),
    # Exercise 3: lanczos
    "02.lanczos.returns_T": ("(Q, T) returned instead of (Q, alpha, beta)", EXERCISE_3),
    "02.lanczos.q_missing_last": ("Q returned with k columns: q_k left out", EXERCISE_3),
    "02.lanczos.beta_short": ("beta returned with k - 1 entries (the off-diagonal of T_k only): beta_(k-1) dropped", EXERCISE_3),
    "02.lanczos.beta_shifted": ("beta_j stored at index j + 1, after a beta_(-1) = 0 in front", EXERCISE_3),
    "02.lanczos.q0_not_normalised": ("q_0 = v0 instead of v0 / ||v0||", SECTION_4),
    "02.lanczos.modifies_v0": ("v0 normalised in place: the caller's vector changed", EXERCISE_3),
    "02.lanczos.not_normalised": ("the new vector w stored in Q without dividing by beta_j", SECTION_4),
    "02.lanczos.no_previous_term": ("the term -beta_(j-1) q_(j-1) of the three-term recurrence left out", SECTION_4),
    "02.lanczos.current_beta": ("the term in q_(j-1) taken with beta_j (still 0) instead of beta_(j-1)", SECTION_4),
    "02.lanczos.previous_term_sign": ("beta_(j-1) q_(j-1) added to w instead of subtracted", SECTION_4),
    "02.lanczos.norm_before_projection": ("beta_j = ||A q_j||, the norm before the subtractions, not ||w|| after them", SECTION_4),
    "02.lanczos.divide_before_store": ("w divided by beta[j] before the norm is stored in it (division by 0)", SECTION_4),
    "02.lanczos.extra_products": ("two products with A per step: A q_j recomputed for alpha_j", EXERCISE_3),
    "02.lanczos.too_few_steps": ("the loop runs k - 1 times instead of k", SECTION_4),
    # Exercise 4: ritz_values
    "02.ritz_values.decreasing_order": ("Ritz values returned in decreasing order", EXERCISE_4),
    "02.ritz_values.unsorted": ("Ritz values unsorted (np.linalg.eig, which does not sort)", EXERCISE_4),
    "02.ritz_values.first_component": ("residuals from the first component s_i[0] instead of the last s_i[k-1]", SECTION_5),
    "02.ritz_values.last_column": ("the last column of the eigenvector matrix (one eigenvector) instead of its last row", EXERCISE_4),
    "02.ritz_values.no_abs": ("residuals beta s_i[k-1] without the absolute value: some negative", SECTION_5),
    "02.ritz_values.no_beta": ("residuals |s_i[k-1]| without the factor beta_(k-1)", SECTION_5),
    "02.ritz_values.beta_k_minus_2": ("residuals scaled by beta[k-2], the last entry of T_k, instead of beta[k-1]", SECTION_5),
    "02.ritz_values.squared": ("residuals squared: (beta_(k-1) s_i[k-1])^2", SECTION_5),
    "02.ritz_values.offdiagonal_shifted": ("T_k built with beta[1:] as off-diagonal instead of beta[:k-1]", EXERCISE_4),
    "02.ritz_values.upper_only_T": ("T_k built with the off-diagonal above the diagonal only; eigh reads the lower triangle", EXERCISE_4),
    "02.ritz_values.returns_eigenvectors": ("the eigenvector matrix of T_k returned as the residuals", EXERCISE_4),
}


def _nonsymmetric(n, seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, n)) / np.sqrt(n)  # spectral radius about 1
    v = rng.standard_normal(n)
    return A, v


def _as_array(value, what):
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise WrongAnswer(f"{what} should be an array of numbers, got {type(value).__name__}") from None
    return arr


def _unpack(value, count, what, names):
    if not isinstance(value, (tuple, list)) or len(value) != count:
        got = type(value).__name__
        if hasattr(value, "__len__") and isinstance(value, (tuple, list)):
            got += f" of length {len(value)}"
        raise WrongAnswer(f"{what} should return a tuple {names}, got {got}")
    return value


def _expect_finite(arr, what):
    expect(np.all(np.isfinite(arr)),
           f"{what} contains NaN or inf. Is a division by a zero norm happening "
           "(for instance normalising before the vector is filled in)?")


def _not_normalised(Q, j, stored, code, message):
    """The failure for column ``j`` of ``Q`` with a norm other than 1: the
    misconception ``code`` (w stored without the division) when that norm is
    the one stored for the step, ``stored[j - 1]``; unnamed otherwise."""
    norm = np.linalg.norm(Q[:, j])
    if j >= 1 and np.isfinite(stored[j - 1]) and np.isclose(norm, stored[j - 1], rtol=1e-8):
        return mistake(code, message)
    return WrongAnswer(message)


def _expect_finite_basis(Q, hint, stored, code):
    """NaN or inf in Q usually come from vectors that were never normalised and
    grew without bound: say so when a finite column already has the wrong norm
    (misconception ``code`` when that norm is the stored one, see
    :func:`_not_normalised`)."""
    if np.all(np.isfinite(Q)):
        return
    norms = np.linalg.norm(Q, axis=0)
    for j, norm in enumerate(norms):
        if not np.isfinite(norm):
            break
        if abs(norm - 1) > ORTH_TOL:
            raise _not_normalised(Q, j, stored, code, f"Q contains NaN or inf, and already "
                                  f"column {j} has norm {norm:.6g}, not 1. {hint}")
    _expect_finite(Q, "Q")


def _worst_pair(G):
    """Largest off-identity entry of a Gram matrix and where it is."""
    E = np.abs(G - np.eye(G.shape[0]))
    i, j = np.unravel_index(np.argmax(E), E.shape)
    return E[i, j], min(i, j), max(i, j)


def _first_bad_pair(G, tol):
    """The first (in the order the vectors were made) pair i < j with |q_i . q_j| > tol."""
    E = np.abs(np.triu(G, 1))
    for j in range(E.shape[1]):
        bad = np.flatnonzero(E[:j, j] > tol)
        if bad.size:
            return int(bad[0]), j
    return None


def _expect_count(products, k, what):
    """Exactly ``k`` products for ``k`` steps; more or fewer are misconceptions
    ``02.<what>.extra_products`` and ``02.<what>.too_few_steps``."""
    if products > k:
        raise mistake(f"02.{what}.extra_products",
                      f"{what} used {products} products with A for k = {k} steps; one per "
                      "step is enough (the first line of the loop in the algorithm box): reuse "
                      "w = A q_j, and do not form A Q (or check your result with A) inside the "
                      "function.")
    if products < k:
        raise mistake(f"02.{what}.too_few_steps",
                      f"{what} used {products} products with A for k = {k} steps: each step "
                      "needs exactly one (the first line of the loop in the algorithm box). "
                      "Does the loop run k times, j = 0, ..., k - 1?")


# --------------------------------------------------------------------------
# Exercise 1: the power basis


@exercise(1, "krylov_matrix", reference=reference_krylov_matrix)
def check_krylov_matrix(krylov_matrix, n=8, k=5, seed=0):
    """Check ``krylov_matrix(A, b, k) -> K`` with ``K[:, j] = A^j b``, ``(n, k)``,
    using ``k - 1`` products with ``A``."""
    A, b = _nonsymmetric(n, seed)
    want = reference_krylov_matrix(A, b, k)
    scale = np.linalg.norm(want, axis=0)

    op = CountingOperator(A)
    K = _as_array(call_student(krylov_matrix, op, b.copy(), k, forbid=PROCESSES),
                  "krylov_matrix(A, b, k)")
    if K.shape == (k, n) and k != n:
        raise mistake("02.krylov_matrix.transposed",
                      f"K has shape {K.shape}, the transpose of ({n}, {k}): the vectors "
                      "b, A b, ... are the columns of K, K[:, j] = A^j b.")
    if K.ndim == 2 and K.shape[0] == n and K.shape[1] in (k - 1, k + 1):
        code = "extra_column" if K.shape[1] == k + 1 else "missing_column"
        raise mistake(f"02.krylov_matrix.{code}",
                      f"K has {K.shape[1]} columns, expected k = {k}: the columns are "
                      f"b, A b, ..., A^(k-1) b (K[:, 0] = b, the last one A^{k - 1} b).")
    expect(K.shape == (n, k), f"K should have shape (n, k) = ({n}, {k}), got {K.shape}")
    _expect_finite(K, "K")
    close = dict(rtol=1e-8, atol=1e-12)
    if k > 1 and np.allclose(K[:, 0], A @ b, rtol=1e-10, atol=1e-14):
        raise mistake("02.krylov_matrix.starts_at_Ab",
                      "K[:, 0] is A b: the first column should be b itself (A^0 b), "
                      "so that K = [b, A b, ..., A^(k-1) b].")
    if np.allclose(K, want / scale, **close) and not np.allclose(scale, 1.0):
        raise mistake("02.krylov_matrix.normalised",
                      "the columns of K are normalised: the contract asks for the raw "
                      "powers A^j b (krylov_ref.krylov_matrix does not normalise either).")
    norm_b = np.linalg.norm(b)
    if np.allclose(K, want / norm_b, **close) and not np.isclose(norm_b, 1.0):
        raise mistake("02.krylov_matrix.normalised_start",
                      "K starts from b / ||b||: every column is A^j b divided by ||b||. The "
                      "contract asks for b itself in column 0, not normalised (normalising "
                      "is Arnoldi's business, not the power basis's).")
    if k > 1 and np.allclose(K, reference_krylov_matrix(A.T, b, k), **close):
        raise mistake("02.krylov_matrix.transpose_product",
                      "K holds powers of A^T: v @ A computes A^T v. Write A @ v.")
    if k > 2 and np.allclose(K[:, 0], b, **close) \
            and np.allclose(K[:, 1:], np.outer(A @ b, np.ones(k - 1)), **close):
        raise mistake("02.krylov_matrix.not_accumulated",
                      "every column after the first is A b: column j is A^j b, A times the "
                      "previous column (A^(j-1) b), not A times b (section 1).")
    expect_close(K / scale, want / scale, "K (each column divided by ||A^j b||)",
                 rtol=1e-10, atol=1e-12,
                 hint="column j should be A^j b, computed from column j - 1 "
                      "(see the contract).")
    if op.count == k:
        raise mistake("02.krylov_matrix.extra_product",
                      f"krylov_matrix used {op.count} products with A for k = {k} columns, one "
                      f"more than the k - 1 = {k - 1} needed (typically A^k b, computed after "
                      "the last column and never used). Column 0 is b, with no product.")
    if op.count == k * (k - 1) // 2 and k > 2:
        raise mistake("02.krylov_matrix.recomputes_powers",
                      f"krylov_matrix used {op.count} products with A for k = {k} columns, "
                      f"where k - 1 = {k - 1} are enough: column j is computed by applying A "
                      "j times from b. Compute each column from the previous one.")
    expect(op.count == k - 1,
           f"krylov_matrix used {op.count} products with A for k = {k} columns; k - 1 = {k - 1} "
           "are enough: compute each column from the previous one, with one product each.")
    # k = 1: just b, no product.
    op1 = CountingOperator(A)
    K1 = _as_array(call_student(krylov_matrix, op1, b.copy(), 1, forbid=PROCESSES),
                   "krylov_matrix(A, b, 1)")
    expect(K1.shape == (n, 1), f"with k = 1, K should have shape ({n}, 1), got {K1.shape}")
    expect_close(K1[:, 0], b, "K[:, 0] with k = 1", rtol=1e-14, atol=0,
                 hint="with k = 1, K is the single column b.")
    expect(op1.count == 0, f"with k = 1 no product with A is needed, yours used {op1.count}.")
    passed(f"krylov_matrix: K = [b, A b, ..., A^{k - 1} b] with {k - 1} products "
           f"(n={n}, k={k}), and k = 1 gives [b].")


# --------------------------------------------------------------------------
# Exercise 2: Arnoldi


def _check_first_vector(q0, v0, name, code):
    v0_unit = v0 / np.linalg.norm(v0)
    if np.allclose(q0, v0_unit, rtol=1e-10, atol=1e-12):
        return
    if np.allclose(q0, v0, rtol=1e-10, atol=1e-12):
        raise mistake(code, f"{name}[:, 0] is v0 itself: the first basis vector is "
                            "q_0 = v0 / ||v0||, normalise it.")
    if np.allclose(q0, -v0_unit, rtol=1e-10, atol=1e-12):
        raise WrongAnswer(f"{name}[:, 0] is -v0 / ||v0||: the contract fixes q_0 = +v0 / ||v0||.")
    raise WrongAnswer(f"{name}[:, 0] should be q_0 = v0 / ||v0||.")


def _check_unit_columns(Q, what, hint, stored, code):
    norms = np.linalg.norm(Q, axis=0)
    bad = np.flatnonzero(np.abs(norms - 1) > ORTH_TOL)
    if bad.size:
        j = int(bad[0])
        raise _not_normalised(Q, j, stored, code,
                              f"column {j} of {what} has norm {norms[j]:.6g}, not 1. {hint}")


def _expect_norm_after_subtraction(A, Q, first, correct, code, message):
    """The first step's stored norm (``H[1, 0]`` or ``beta[0]``) is ||A q_0||,
    the norm before the subtraction, instead of ``correct``, although the
    subtraction was made (q_1 is orthogonal to q_0): misconception ``code``,
    whatever the function did next."""
    q0, q1 = Q[:, 0], Q[:, 1]
    if not (np.all(np.isfinite(Q[:, :2])) and np.isfinite(first)):
        return
    if np.isclose(first, np.linalg.norm(A @ q0), rtol=1e-8) \
            and not np.isclose(first, correct, rtol=1e-8) \
            and abs(q0 @ q1) <= ORTH_TOL * np.linalg.norm(q0) * np.linalg.norm(q1):
        raise mistake(code, message)


#: Orthogonality that modified Gram-Schmidt keeps on the ill-conditioned case
#: below (measured: 2e-12 to 4e-12 over seeds; classical Gram-Schmidt: 3e-8
#: to 2e-7; with reorthogonalisation: 6e-16).
MGS_TOL = 1e-9


def _ill_conditioned(n=40, seed=0):
    """A non-symmetric matrix with singular values from 1 to 1e6, and a start."""
    rng = np.random.default_rng(seed)
    U = np.linalg.qr(rng.standard_normal((n, n)))[0]
    W = np.linalg.qr(rng.standard_normal((n, n)))[0]
    return (U * np.geomspace(1.0, 1e6, n)) @ W.T, rng.standard_normal(n)


def _check_modified_gram_schmidt(arnoldi, n=40, k=30):
    A, v0 = _ill_conditioned(n)
    op = CountingOperator(A)
    Q, H = _unpack(call_student(arnoldi, op, v0.copy(), k, forbid=FORBID_PROCESSES),
                   2, "arnoldi", "(Q, H)")
    Q, H = _as_array(Q, "Q"), _as_array(H, "H")
    expect(Q.shape == (n, k + 1) and H.shape == (k + 1, k) and np.all(np.isfinite(Q))
           and np.all(np.isfinite(H)),
           f"on a {n} x {n} matrix with k = {k}, Q and H should have shapes ({n}, {k + 1}) "
           f"and ({k + 1}, {k}) and be finite; got {Q.shape} and {H.shape}.")
    loss = np.linalg.norm(np.eye(k + 1) - Q.T @ Q, 2)
    expect(loss <= MGS_TOL,
           f"on an ill-conditioned matrix (n = {n}, k = {k}, singular values from 1 to 1e6) "
           f"your Q has ||I - Q^T Q|| = {loss:.1e}, where modified Gram-Schmidt keeps it below "
           f"{MGS_TOL:.0e}. That is what classical Gram-Schmidt does: every h_ij is computed "
           "from the original A q_j. The exercise asks for modified Gram-Schmidt, projecting "
           "the *updated* w (the inner loop of the algorithm box of section 3).",
           code="02.arnoldi.classical_gram_schmidt")
    relation = np.linalg.norm(A @ Q[:, :k] - Q @ H, 2) / np.linalg.norm(A, 2)
    expect(relation <= RELATION_TOL,
           f"on an ill-conditioned matrix (n = {n}, k = {k}), A Q[:, :k] differs from Q H by "
           f"{relation:.1e} (relative).")


def _same(got, want):
    """Whether the arrays ``got`` equal ``want`` (shapes, values to 1e-6, and
    NaN or inf in the same places)."""
    for g, w in zip(got, want):
        if g.shape != w.shape:
            return False
        finite = w[np.isfinite(w)]
        scale = np.abs(finite).max() if finite.size else 1.0
        if not np.allclose(g, w, rtol=1e-6, atol=1e-9 * scale, equal_nan=True):
            return False
    return True


def _name_simulated(got, reference, simulate, catalogue):
    """Raise the misconception of ``catalogue`` (``(variant, codes, message)``
    triples) whose wrong algorithm, ``simulate(variant)``, gives ``got``.
    Variants that give the right answer on this problem are skipped, and a
    ``got`` equal to ``reference`` is never named. ``codes`` is the code, or
    the codes of mistakes that give the same result, named together."""
    if _same(got, reference):
        return
    for variant, codes, message in catalogue:
        wrong = simulate(variant)
        if not _same(wrong, reference) and _same(got, wrong):
            raise mistake(codes[0], message, *codes[1:])


def _arnoldi_with(A, v0, k, variant):
    """Arnoldi as it runs with one catalogued mistake (``variant``)."""
    n = v0.shape[0]
    Q = np.zeros((n, k + 1))
    H = np.zeros((k + 1, k))
    Q[:, 0] = v0 / np.linalg.norm(v0)
    with np.errstate(all="ignore"):
        for j in range(k):
            Aq = A @ Q[:, j]
            w = Aq.copy()
            if variant == "norm_before_projection":
                H[j + 1, j] = np.linalg.norm(w)
            for i in range(j if variant == "inner_loop_short" else j + 1):
                H[i, j] = Q[:, i] @ (Aq if variant == "update_lost" else w)
                if variant == "update_lost":
                    w = Aq - H[i, j] * Q[:, i]
                elif variant == "projection_sign":
                    w = w + H[i, j] * Q[:, i]
                else:
                    w = w - H[i, j] * Q[:, i]
            if variant == "divide_before_store":
                Q[:, j + 1] = w / H[j + 1, j]
                H[j + 1, j] = np.linalg.norm(w)
            elif variant == "norm_after_normalising":
                Q[:, j + 1] = w / np.linalg.norm(w)
                H[j + 1, j] = np.linalg.norm(Q[:, j + 1])
            else:
                if variant != "norm_before_projection":
                    H[j + 1, j] = np.linalg.norm(w)
                Q[:, j + 1] = w / H[j + 1, j]
    return Q, H


_BOX3 = "the algorithm box of section 3"
_ARNOLDI_SIMULATED = (
    ("update_lost", ("02.arnoldi.update_lost",),
     "q_(j+1) is orthogonal to q_j but not to q_0, ..., q_(j-1): only the last projection "
     "is removed from A q_j, each subtraction starting again from A q_j. Subtract every "
     f"projection from the *updated* w, w <- w - h_ij q_i ({_BOX3})."),
    ("inner_loop_short", ("02.arnoldi.inner_loop_short",),
     "q_(j+1) is not orthogonal to q_j, and the diagonal of H is zero: the inner loop stops "
     f"one short. It runs over i = 0, ..., j, q_j included ({_BOX3})."),
    ("projection_sign", ("02.arnoldi.projection_sign",),
     "the projections are added to w instead of subtracted, so the columns of Q are not "
     f"orthogonal: w <- w - h_ij q_i ({_BOX3})."),
    ("norm_before_projection", ("02.arnoldi.norm_before_projection",),
     "the columns of Q are not unit vectors: w is divided by ||A q_j||, its norm *before* the "
     "projections are subtracted. Take H[j+1, j] = ||w|| after the inner loop, then divide "
     f"by it ({_BOX3})."),
    ("norm_after_normalising", ("02.arnoldi.norm_after_normalising",),
     "Q is right but the subdiagonal entries H[j+1, j] are all 1: they hold the norm of "
     "q_(j+1) after normalising. H[j+1, j] = ||w|| is the number w is divided by "
     f"({_BOX3})."),
    ("divide_before_store", ("02.arnoldi.divide_before_store",),
     "Q contains NaN or inf from column 1 on: w is divided by H[j+1, j] before H[j+1, j] = "
     "||w|| is stored, while it is still 0. Store the norm, then divide (see the hint of "
     "Exercise 2)."),
)


@exercise(2, "arnoldi", reference=reference_arnoldi)
def check_arnoldi(arnoldi, n=12, k=6, seed=1):
    """Check ``arnoldi(A, v0, k) -> (Q, H)``: ``Q`` ``(n, k+1)`` orthonormal with
    ``Q[:, 0] = v0/||v0||``, ``H`` ``(k+1, k)`` upper Hessenberg with positive
    subdiagonal, ``A Q[:, :k] = Q H``, exactly ``k`` products; compared with
    :func:`krylov_ref.arnoldi`."""
    if not 1 <= k < n:
        raise ValueError(f"check_arnoldi needs 1 <= k < n, got n={n}, k={k}")
    A, v0 = _nonsymmetric(n, seed)
    Q_ref, H_ref = reference_arnoldi(A, v0, k)
    if Q_ref.shape != (n, k + 1):  # a breakdown would make the test unfair
        raise ValueError("choose another seed: the reference broke down")

    op = CountingOperator(A)
    v_in = v0.copy()
    out = call_student(arnoldi, op, v_in, k, forbid=FORBID_PROCESSES)
    expect(np.array_equal(v_in, v0), "your function changed the caller's `v0` in place: leave "
           "it unchanged (normalise a copy).", code="02.arnoldi.modifies_v0")
    Q, H = _unpack(out, 2, "arnoldi", "(Q, H)")
    Q, H = _as_array(Q, "Q"), _as_array(H, "H")

    # Shapes: the usual off-by-one.
    if Q.shape == (n, k):
        raise mistake("02.arnoldi.q_missing_last",
                      f"Q has shape {Q.shape}; it should have k + 1 = {k + 1} columns "
                      "q_0, ..., q_k: step j produces q_{j+1}, so k steps give k + 1 vectors.")
    if Q.shape == (k + 1, n) and k + 1 != n:
        raise mistake("02.arnoldi.q_transposed",
                      f"Q has shape {Q.shape}, the transpose of ({n}, {k + 1}): "
                      "the basis vectors are the columns of Q.")
    expect(Q.shape == (n, k + 1), f"Q should have shape (n, k + 1) = ({n}, {k + 1}), got {Q.shape}")
    if H.shape == (k, k):
        raise mistake("02.arnoldi.h_square",
                      f"H has shape {H.shape}; it should be (k + 1) x k = ({k + 1}, {k}): "
                      "its last row holds H[k, k-1] = ||w|| from the last step, "
                      "so that A Q[:, :k] = Q H with all k + 1 columns of Q.")
    if H.shape == (k, k + 1):
        raise mistake("02.arnoldi.h_transposed",
                      f"H has shape {H.shape}, the transpose of ({k + 1}, {k}): "
                      "column j of H holds the coefficients of A q_j.")
    expect(H.shape == (k + 1, k), f"H should have shape (k + 1, k) = ({k + 1}, {k}), got {H.shape}")
    _name_simulated((Q, H), (Q_ref, H_ref), lambda variant: _arnoldi_with(A, v0, k, variant),
                    _ARNOLDI_SIMULATED)
    normalise = ("Normalise the new vector by its norm after the projections are "
                 "subtracted (the last two lines of the algorithm box).")
    _expect_norm_after_subtraction(
        A, Q, H[1, 0], H_ref[1, 0], "02.arnoldi.norm_before_projection",
        "H[j+1, j] is ||A q_j||, the norm of w *before* orthogonalisation: store the norm of w "
        "after subtracting the projections (the same number you divide by).")
    sub = np.diag(H, -1)
    _expect_finite_basis(Q, normalise, sub, "02.arnoldi.not_normalised")
    _expect_finite(H, "H")
    _expect_count(op.count, k, "arnoldi")

    _check_first_vector(Q[:, 0], v0, "Q", "02.arnoldi.q0_not_normalised")
    _check_unit_columns(Q, "Q", normalise, sub, "02.arnoldi.not_normalised")
    below = np.abs(np.tril(H, -2))
    if below.max() > 1e-12 * np.abs(H).max():
        i, j = np.unravel_index(np.argmax(below), below.shape)
        raise mistake("02.arnoldi.h_indices_swapped",
                      f"H is not upper Hessenberg: H[{i}, {j}] = {H[i, j]:.3g}, but in "
                      "column j only rows 0, ..., j + 1 are used. Did you swap the row and "
                      "column indices of H? h_ij, the coefficient of q_i in A q_j, is H[i, j].")
    if np.any(sub <= 0):
        j = int(np.flatnonzero(sub <= 0)[0])
        raise WrongAnswer(f"H[{j + 1}, {j}] = {sub[j]:.3g}: the subdiagonal entries are "
                          "H[j+1, j] = ||w|| > 0 (this fixes the signs of the q_j).")
    G = Q.T @ Q
    worst, _, _ = _worst_pair(G)
    if worst > ORTH_TOL:
        a, c = _first_bad_pair(G, ORTH_TOL)
        raise WrongAnswer(f"the columns of Q are not orthogonal: q_{a} . q_{c} = {G[a, c]:.3g}. "
                          "Subtract from w its projection on every earlier q_i (i = 0..j) before "
                          "normalising, each time from the updated w (the inner loop of the "
                          "algorithm box).")
    residual = np.abs(A @ Q[:, :k] - Q @ H).max() / np.abs(A).max()
    if residual > RELATION_TOL:
        if np.allclose(A.T @ Q[:, :k], Q @ H, rtol=1e-8, atol=1e-10):
            raise mistake("02.arnoldi.transpose_product",
                          "your Q and H satisfy A^T Q = Q H: v @ A computes A^T v. Write A @ v.")
        col = int(np.argmax(np.abs(A @ Q[:, :k] - Q @ H).max(axis=0)))
        raise WrongAnswer(f"A Q[:, :k] differs from Q H by {residual:.2g} (relative), first in "
                          f"column {col}. Column j of H holds the coefficients of A q_j in "
                          "q_0, ..., q_(j+1), as the algorithm box computes them.")
    hint = ("Q and H satisfy the relations but differ from krylov_ref.arnoldi: check that "
            "q_0 = v0 / ||v0|| and H[j+1, j] = ||w|| > 0, which make the result unique.")
    expect_close(Q, Q_ref, "Q", rtol=COMPARE_RTOL, atol=COMPARE_RTOL, hint=hint)
    expect_close(H, H_ref, "H", rtol=COMPARE_RTOL, atol=COMPARE_RTOL * np.abs(H_ref).max(), hint=hint)
    _check_modified_gram_schmidt(arnoldi)
    passed(f"arnoldi: A Q_k = Q_(k+1) H_k to {residual:.0e}, Q orthonormal to {worst:.0e}, "
           f"H upper Hessenberg, {k} products; matches krylov_ref.arnoldi (n={n}, k={k}); "
           "orthogonality kept on an ill-conditioned matrix (modified Gram-Schmidt).")


# --------------------------------------------------------------------------
# Exercise 3: Lanczos


def _lanczos_with(A, v0, k, variant):
    """Lanczos as it runs with one catalogued mistake (``variant``)."""
    n = v0.shape[0]
    Q = np.zeros((n, k + 1))
    alpha, beta = np.zeros(k), np.zeros(k)
    Q[:, 0] = v0 / np.linalg.norm(v0)
    with np.errstate(all="ignore"):
        for j in range(k):
            w = A @ Q[:, j]
            norm_Aq = np.linalg.norm(w)
            alpha[j] = Q[:, j] @ w
            w = w - alpha[j] * Q[:, j]
            if j > 0 and variant == "previous_term_sign":
                w = w + beta[j - 1] * Q[:, j - 1]
            elif j > 0 and variant != "no_previous_term":
                w = w - beta[j - 1] * Q[:, j - 1]
            if variant == "divide_before_store":
                Q[:, j + 1] = w / beta[j]
                beta[j] = np.linalg.norm(w)
            elif variant == "beta_is_norm_Aq":
                beta[j] = norm_Aq
                Q[:, j + 1] = w / np.linalg.norm(w)
            elif variant == "divided_by_norm_Aq":
                beta[j] = norm_Aq
                Q[:, j + 1] = w / beta[j]
            else:
                beta[j] = np.linalg.norm(w)
                Q[:, j + 1] = w / beta[j]
    return Q, alpha, beta


_BOX4 = "the algorithm box of section 4"
_NORM_BEFORE = ("beta_j is ||A q_j||, the norm of w *before* the two subtractions: "
                "beta_j = ||w|| is taken after them, and it is the number w is divided by "
                f"({_BOX4}).")
_LANCZOS_SIMULATED = (
    ("no_previous_term", ("02.lanczos.no_previous_term", "02.lanczos.current_beta"),
     "q_(j+1) is not orthogonal to q_(j-1): w is missing the term -beta_(j-1) q_(j-1) "
     "(or it is taken with beta_j, still 0 at that point). The three-term recurrence "
     "needs the term in q_(j-1), subtracted, with beta_(j-1) from the previous step "
     f"({_BOX4})."),
    ("previous_term_sign", ("02.lanczos.previous_term_sign",),
     "q_(j+1) is not orthogonal to q_(j-1): the term beta_(j-1) q_(j-1) is added to w. "
     f"The three-term recurrence needs the term in q_(j-1), subtracted ({_BOX4})."),
    ("beta_is_norm_Aq", ("02.lanczos.norm_before_projection",), _NORM_BEFORE),
    ("divided_by_norm_Aq", ("02.lanczos.norm_before_projection",), _NORM_BEFORE),
    ("divide_before_store", ("02.lanczos.divide_before_store",),
     "Q contains NaN or inf from column 1 on: w is divided by beta[j] before beta[j] = ||w|| "
     "is stored, while it is still 0. Store the norm, then divide."),
)


@exercise(3, "lanczos", reference=reference_lanczos)
def check_lanczos(lanczos, n=30, k=8, cond=50.0, seed=2):
    """Check ``lanczos(A, v0, k) -> (Q, alpha, beta)`` for symmetric ``A``:
    shapes ``(n, k+1)``, ``(k,)``, ``(k,)``; ``Q[:, 0] = v0/||v0||``; ``beta > 0``;
    ``A Q[:, :k] = Q[:, :k] T_k + beta[k-1] q_k e_k^T``; exactly ``k``
    products; compared with :func:`krylov_ref.lanczos`."""
    if not 1 <= k < n:
        raise ValueError(f"check_lanczos needs 1 <= k < n, got n={n}, k={k}")
    A = random_spd(n, cond, seed=seed).A
    v0 = np.random.default_rng(seed + 1000).standard_normal(n)
    Q_ref, alpha_ref, beta_ref = reference_lanczos(A, v0, k)
    if Q_ref.shape != (n, k + 1):
        raise ValueError("choose another seed: the reference broke down")

    op = CountingOperator(A)
    v_in = v0.copy()
    out = call_student(lanczos, op, v_in, k, forbid=FORBID_PROCESSES)
    expect(np.array_equal(v_in, v0), "your function changed the caller's `v0` in place: leave "
           "it unchanged (normalise a copy).", code="02.lanczos.modifies_v0")
    if isinstance(out, (tuple, list)) and len(out) == 2:
        raise mistake("02.lanczos.returns_T",
                      "lanczos should return three things, (Q, alpha, beta): the vectors, "
                      "the diagonal and the off-diagonal of T, not (Q, T).")
    Q, alpha, beta = _unpack(out, 3, "lanczos", "(Q, alpha, beta)")
    Q, alpha, beta = _as_array(Q, "Q"), _as_array(alpha, "alpha"), _as_array(beta, "beta")

    if Q.shape == (n, k):
        raise mistake("02.lanczos.q_missing_last",
                      f"Q has shape {Q.shape}; it should have k + 1 = {k + 1} columns "
                      "q_0, ..., q_k: the last step produces q_k, which the relation "
                      "A Q_k = Q_k T_k + beta[k-1] q_k e_k^T needs.")
    if Q.shape == (k + 1, n) and k + 1 != n:
        raise WrongAnswer(f"Q has shape {Q.shape}, the transpose of ({n}, {k + 1}): "
                          "the Lanczos vectors are the columns of Q.")
    expect(Q.shape == (n, k + 1), f"Q should have shape (n, k + 1) = ({n}, {k + 1}), got {Q.shape}")
    if alpha.shape == (k + 1,):
        raise WrongAnswer(f"alpha has {k + 1} entries; it should have k = {k}: "
                          "alpha_0, ..., alpha_(k-1), one per step.")
    expect(alpha.shape == (k,), f"alpha should have shape ({k},), got {alpha.shape}")
    if beta.shape == (k - 1,):
        raise mistake("02.lanczos.beta_short",
                      f"beta has k - 1 = {k - 1} entries (the off-diagonal of T_k); the "
                      f"contract asks for k = {k}: beta[k-1] = ||w|| from the last step is kept "
                      "too, because it couples q_k in A Q_k = Q_k T_k + beta[k-1] q_k e_k^T.")
    if beta.shape == (k + 1,):
        raise mistake("02.lanczos.beta_shifted",
                      f"beta has {k + 1} entries; the contract asks for k = {k}, "
                      "beta[j] = ||w|| of step j. If you stored beta_(-1) = 0 in front, drop it.")
    expect(beta.shape == (k,), f"beta should have shape ({k},), got {beta.shape}")
    _name_simulated((Q, alpha, beta), (Q_ref, alpha_ref, beta_ref),
                    lambda variant: _lanczos_with(A, v0, k, variant), _LANCZOS_SIMULATED)
    normalise = ("Normalise the new vector by its norm after both subtractions "
                 "(the last two lines of the algorithm box).")
    _expect_norm_after_subtraction(A, Q, beta[0], beta_ref[0], "02.lanczos.norm_before_projection",
                                   _NORM_BEFORE)
    _expect_finite_basis(Q, normalise, beta, "02.lanczos.not_normalised")
    _expect_finite(alpha, "alpha")
    _expect_finite(beta, "beta")
    _expect_count(op.count, k, "lanczos")

    _check_first_vector(Q[:, 0], v0, "Q", "02.lanczos.q0_not_normalised")
    _check_unit_columns(Q, "Q", normalise, beta, "02.lanczos.not_normalised")
    if np.any(beta <= 0):
        j = int(np.flatnonzero(beta <= 0)[0])
        raise WrongAnswer(f"beta[{j}] = {beta[j]:.3g}: the contract takes beta[j] = ||w|| > 0.")
    G = Q.T @ Q
    if k >= 2:
        two_back = np.abs(np.diag(G, 2))
        if two_back.max() > ORTH_TOL:
            j = int(np.flatnonzero(two_back > ORTH_TOL)[0])
            raise WrongAnswer(f"q_{j + 2} is not orthogonal to q_{j}: q_{j + 2} . q_{j} = "
                              f"{G[j + 2, j]:.3g}. The three-term recurrence needs the term in "
                              "q_(j-1), subtracted, with beta_(j-1) from the previous step (the "
                              "number q_j was divided by): see the algorithm box of section 4.")
    one_back = np.abs(np.diag(G, 1))
    if one_back.max() > ORTH_TOL:
        j = int(np.flatnonzero(one_back > ORTH_TOL)[0])
        raise WrongAnswer(f"q_{j + 1} is not orthogonal to q_{j}: q_{j + 1} . q_{j} = {G[j + 1, j]:.3g}. "
                          "Check alpha_j and its subtraction from w against the algorithm box.")
    worst, _, _ = _worst_pair(G)
    if worst > ORTH_TOL:
        a, c = _first_bad_pair(G, ORTH_TOL)
        raise WrongAnswer(f"q_{a} . q_{c} = {G[a, c]:.3g}: the Lanczos vectors should be orthonormal "
                          f"to rounding for k = {k}. Check the recurrence against the algorithm box.")
    T = tridiagonal(alpha, beta[:-1])
    e = np.zeros(k)
    e[-1] = 1.0
    R = A @ Q[:, :k] - Q[:, :k] @ T - beta[-1] * np.outer(Q[:, k], e)
    residual = np.abs(R).max() / np.abs(A).max()
    if residual > RELATION_TOL:
        if np.allclose(alpha, np.diag(Q[:, :k].T @ A @ Q[:, :k]), rtol=1e-8) and k >= 2:
            hint = ("alpha is right; beta[j] should be ||w|| of step j, stored at index j "
                    "(beta[0] couples q_0 and q_1).")
        else:
            hint = "alpha[j] should be the alpha_j of the algorithm box, stored at index j."
        raise WrongAnswer(f"A Q[:, :k] - Q[:, :k] T_k - beta[k-1] q_k e_k^T is {residual:.2g} "
                          f"(relative), not rounding level. {hint}")
    hint = ("Q, alpha, beta satisfy the relations but differ from krylov_ref.lanczos: check "
            "that q_0 = v0 / ||v0|| and beta[j] = ||w|| > 0, which make the result unique.")
    expect_close(alpha, alpha_ref, "alpha", rtol=COMPARE_RTOL, atol=COMPARE_RTOL * cond, hint=hint)
    expect_close(beta, beta_ref, "beta", rtol=COMPARE_RTOL, atol=COMPARE_RTOL * cond, hint=hint)
    expect_close(Q, Q_ref, "Q", rtol=COMPARE_RTOL, atol=COMPARE_RTOL, hint=hint)
    passed(f"lanczos: A Q_k = Q_k T_k + beta_(k-1) q_k e_k^T to {residual:.0e}, Q orthonormal "
           f"to {worst:.0e}, {k} products; matches krylov_ref.lanczos (n={n}, k={k}).")


# --------------------------------------------------------------------------
# Exercise 4: Ritz values


def _one_ritz_case(ritz_values, alpha, beta):
    k = alpha.size
    theta_ref, res_ref = reference_ritz_values(alpha, beta)
    out = call_student(ritz_values, alpha.copy(), beta.copy(), forbid=("krylov_ref.ritz.ritz_values",))
    theta, res = _unpack(out, 2, "ritz_values", "(theta, residuals)")
    theta, res = _as_array(theta, "theta"), _as_array(res, "residuals")
    expect(theta.shape == (k,), f"theta should have shape ({k},), got {theta.shape}")
    if res.shape == (k, k):
        raise mistake("02.ritz_values.returns_eigenvectors",
                      f"residuals has shape {res.shape}: it looks like the eigenvector matrix "
                      f"of T_k. The contract asks for k = {k} numbers, residuals[i] = "
                      "beta[k-1] |s_i[k-1]| (item 3 of section 5).")
    expect(res.shape == (k,), f"residuals should have shape ({k},), got {res.shape}")
    _expect_finite(theta, "theta")
    _expect_finite(res, "residuals")
    if k > 1 and np.allclose(theta, theta_ref[::-1], rtol=1e-10):
        raise mistake("02.ritz_values.decreasing_order",
                      "theta is in decreasing order: return the Ritz values in increasing "
                      "order (as np.linalg.eigh does).")
    if k > 1 and np.allclose(np.sort(theta), theta_ref, rtol=1e-10, atol=1e-12) \
            and not np.allclose(theta, theta_ref, rtol=1e-10, atol=1e-12):
        raise mistake("02.ritz_values.unsorted",
                      "theta holds the right values in the wrong order: sort them increasingly "
                      "(and keep each residual with its Ritz value). np.linalg.eig does not "
                      "sort; np.linalg.eigh, for symmetric matrices, does.")
    scale = np.abs(theta_ref).max()
    if k > 1:
        close = dict(rtol=1e-9, atol=1e-12 * scale)
        if np.allclose(theta, np.sort(alpha), **close) and not np.allclose(theta, theta_ref, **close):
            raise mistake("02.ritz_values.upper_only_T",
                          "theta holds the diagonal entries alpha, sorted: the eigenvalue solver "
                          "saw a diagonal matrix. Is T_k built with the off-diagonal on one side "
                          "only? np.linalg.eigh reads the lower triangle; T_k is symmetric, with "
                          "beta[:k-1] above and below the diagonal.")
        shifted = np.linalg.eigvalsh(tridiagonal(alpha, beta[1:]))
        if np.allclose(theta, shifted, **close) and not np.allclose(theta, theta_ref, **close):
            raise mistake("02.ritz_values.offdiagonal_shifted",
                          "theta are the eigenvalues of a tridiagonal matrix with off-diagonal "
                          "beta[1:]: the off-diagonal of T_k is beta[:k-1] = beta_0, ..., "
                          "beta_(k-2); beta[k-1] couples q_k and is not part of T_k.")
    expect_close(theta, theta_ref, "theta", rtol=1e-9, atol=1e-12 * scale,
                 hint="theta are the eigenvalues of T_k, the tridiagonal matrix with diagonal "
                      "alpha and off-diagonal beta[:k-1] (not beta: beta[k-1] is not part of T_k).")
    atol = 1e-10 * beta[-1]
    if np.allclose(res, res_ref ** 2, rtol=1e-6, atol=atol ** 2) \
            and not np.allclose(res, res_ref, rtol=1e-6, atol=atol):
        raise mistake("02.ritz_values.squared",
                      "the residuals are squared, (beta_(k-1) s_i[k-1])^2: the residual norm "
                      "is beta_(k-1) |s_i[k-1]| (item 3 of section 5).")
    if k > 1:
        _, S = np.linalg.eigh(tridiagonal(alpha, beta[:-1]))
        if np.allclose(res, beta[-1] * np.abs(S[0, :]), rtol=1e-6, atol=atol) \
                and not np.allclose(res, res_ref, rtol=1e-6, atol=atol):
            raise mistake("02.ritz_values.first_component",
                          "the residuals use the first component s_i[0] of each eigenvector; "
                          "the formula needs the last one, s_i[k-1] (the last row of the "
                          "eigenvector matrix).")
        if np.allclose(np.abs(res), res_ref, rtol=1e-6, atol=atol) and np.any(res < 0):
            raise mistake("02.ritz_values.no_abs",
                          "some residuals are negative: a norm is |beta_(k-1)| |s_i[k-1]|, "
                          "take the absolute value (eigenvectors have arbitrary signs).")
        if np.allclose(res, np.abs(S[-1, :]), rtol=1e-6, atol=1e-10) and not np.isclose(beta[-1], 1.0):
            raise mistake("02.ritz_values.no_beta",
                          "the residuals are |s_i[k-1]| without the factor beta_(k-1) = beta[k-1].")
        if np.allclose(res, beta[-2] * np.abs(S[-1, :]), rtol=1e-6, atol=atol) \
                and not np.isclose(beta[-2], beta[-1], rtol=1e-6):
            raise mistake("02.ritz_values.beta_k_minus_2",
                          "the residuals use beta[k-2], the last off-diagonal entry of T_k; "
                          "the factor is beta[k-1], the entry that couples q_k.")
        if np.allclose(res, np.abs(S[:, -1]) * beta[-1], rtol=1e-6, atol=atol) \
                and not np.allclose(res, res_ref, rtol=1e-6, atol=atol):
            raise mistake("02.ritz_values.last_column",
                          "the residuals use the last eigenvector (a column of the eigenvector "
                          "matrix); they need the last component of every eigenvector (the "
                          "last row of that matrix; see the hint).")
    expect_close(res, res_ref, "residuals", rtol=1e-6, atol=1e-10 * beta[-1],
                 hint="compare with the contract: residuals[i] uses the last component of "
                      "the unit eigenvector of T_k for theta[i], and beta[k-1].")
    return theta, res


@exercise(4, "ritz_values", reference=reference_ritz_values)
def check_ritz_values(ritz_values, n=30, k=8, seed=3):
    """Check ``ritz_values(alpha, beta) -> (theta, residuals)`` on the output of
    :func:`krylov_ref.lanczos`, against :func:`krylov_ref.ritz.ritz_values`;
    ``k = 1`` is checked as well when ``k > 1``."""
    prob = random_spd(n, 100.0, seed=seed)
    v0 = np.random.default_rng(seed + 2000).standard_normal(n)
    _, alpha, beta = reference_lanczos(prob.A, v0, k)
    if alpha.size != k:
        raise ValueError("choose another seed: the reference broke down")
    _one_ritz_case(ritz_values, alpha, beta)
    if k > 1:
        _one_ritz_case(ritz_values, alpha[:1], beta[:1])
    passed(f"ritz_values: Ritz values and residuals beta_(k-1)|s_i[k-1]| correct for k = {k}"
           + (" and k = 1." if k > 1 else "."))
