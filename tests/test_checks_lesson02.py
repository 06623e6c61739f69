"""Lesson 02's checks: correct implementations pass (several valid variants,
including Gram-Schmidt with reorthogonalisation), each typical mistake is named
(classical Gram-Schmidt among them: the exercise asks for modified), and the
library shortcuts are refused."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import eigh_tridiagonal

import krylov_ref
from krylov_ref.checks import NotAllowedError, WrongAnswer, codes_of
from krylov_ref.checks.lesson02 import (MISCONCEPTIONS, check_arnoldi, check_krylov_matrix,
                                        check_lanczos, check_ritz_values)

# Every (n, k, seed) the notebook's visible and hidden tests use, plus a few more.
KRYLOV_CASES = [dict(), dict(n=23, k=9, seed=77), dict(n=6, k=6, seed=5), dict(n=15, k=1, seed=4)]
ARNOLDI_CASES = [dict(), dict(n=40, k=15, seed=404), dict(n=9, k=8, seed=31), dict(n=30, k=1, seed=8)]
LANCZOS_CASES = [dict(), dict(n=50, k=12, cond=100.0, seed=606), dict(n=7, k=3, cond=5.0, seed=17),
                 dict(n=20, k=1, seed=9)]
RITZ_CASES = [dict(), dict(n=60, k=14, seed=909), dict(n=10, k=2, seed=3), dict(n=10, k=1, seed=3)]


# ---------------------------------------------------------------- krylov_matrix

def krylov_loop(A, b, k):
    K = np.empty((b.shape[0], k))
    K[:, 0] = b
    for j in range(1, k):
        K[:, j] = A @ K[:, j - 1]
    return K


def krylov_stack(A, b, k):
    columns = [b]
    while len(columns) < k:
        columns.append(A @ columns[-1])
    return np.column_stack(columns)


@pytest.mark.parametrize("case", KRYLOV_CASES)
@pytest.mark.parametrize("right", [krylov_loop, krylov_stack])
def test_check_krylov_matrix_accepts_correct_answers(right, case, capsys):
    check_krylov_matrix(right, **case)
    assert "\u2713 krylov_matrix" in capsys.readouterr().out


def krylov_normalised(A, b, k):
    K = krylov_loop(A, b, k)
    return K / np.linalg.norm(K, axis=0)


def krylov_from_Ab(A, b, k):
    K = np.empty((b.shape[0], k))
    K[:, 0] = A @ b
    for j in range(1, k):
        K[:, j] = A @ K[:, j - 1]
    return K


def krylov_from_scratch(A, b, k):
    K = np.empty((b.shape[0], k))
    for j in range(k):
        v = b.copy()
        for _ in range(j):
            v = A @ v
        K[:, j] = v
    return K


def krylov_transposed_product(A, b, k):
    K = np.empty((b.shape[0], k))
    K[:, 0] = b
    for j in range(1, k):
        K[:, j] = K[:, j - 1] @ A
    return K


def krylov_extra_product(A, b, k):
    K, v = [], b
    for _ in range(k):
        K.append(v)
        v = A @ v
    return np.column_stack(K)


def raises_with_code(check, wrong, message, code, **case):
    """``check(wrong)`` fails with ``message`` and names ``code`` (a tuple: all of them)."""
    with pytest.raises(WrongAnswer, match=message) as info:
        check(wrong, **case)
    codes = code if isinstance(code, tuple) else (code,)
    assert codes_of(info.value) == codes
    assert set(codes) <= set(MISCONCEPTIONS)
    assert f"[{' or '.join(codes)}]" in str(info.value)


@pytest.mark.parametrize("wrong, message, code", [
    (krylov_normalised, "normalised", "normalised"),
    (lambda A, b, k: krylov_loop(A, b / np.linalg.norm(b), k), r"b / \|\|b\|\|", "normalised_start"),
    (krylov_from_Ab, r"should be b itself", "starts_at_Ab"),
    (lambda A, b, k: krylov_loop(A, b, k + 1), "columns, expected k", "extra_column"),
    (lambda A, b, k: krylov_loop(A, b, k - 1), "columns, expected k", "missing_column"),
    (lambda A, b, k: krylov_loop(A, b, k).T, "transpose", "transposed"),
    (krylov_from_scratch, "products", "recomputes_powers"),
    (krylov_extra_product, "one more than", "extra_product"),
    (lambda A, b, k: np.column_stack([b] + [A @ b] * (k - 1)), "not A times b", "not_accumulated"),
    (krylov_transposed_product, r"A\^T", "transpose_product"),
])
def test_check_krylov_matrix_names_the_mistake(wrong, message, code):
    raises_with_code(check_krylov_matrix, wrong, message, f"02.krylov_matrix.{code}")


def test_check_krylov_matrix_refuses_shortcuts():
    def uses_reference(A, b, k):
        return krylov_ref.krylov_matrix(A, b, k)

    def uses_matrix_power(A, b, k):
        return np.column_stack([np.linalg.matrix_power(A, j) @ b for j in range(k)])

    with pytest.raises(NotAllowedError, match="not allowed"):
        check_krylov_matrix(uses_reference)
    with pytest.raises(WrongAnswer, match="raised TypeError in .*use A @ v"):
        check_krylov_matrix(uses_matrix_power)


# ---------------------------------------------------------------- arnoldi

def arnoldi_mgs(A, v0, k):
    n = v0.shape[0]
    Q = np.zeros((n, k + 1))
    H = np.zeros((k + 1, k))
    Q[:, 0] = v0 / np.linalg.norm(v0)
    for j in range(k):
        w = A @ Q[:, j]
        for i in range(j + 1):
            H[i, j] = Q[:, i] @ w
            w = w - H[i, j] * Q[:, i]
        H[j + 1, j] = np.linalg.norm(w)
        Q[:, j + 1] = w / H[j + 1, j]
    return Q, H


def arnoldi_cgs(A, v0, k, passes=1):
    """Classical Gram-Schmidt, vectorised (``passes=2``: CGS2, "twice is enough")."""
    n = v0.shape[0]
    Q = np.zeros((n, k + 1))
    H = np.zeros((k + 1, k))
    Q[:, 0] = v0 / np.linalg.norm(v0)
    for j in range(k):
        w = A @ Q[:, j]
        for _ in range(passes):
            h = Q[:, : j + 1].T @ w
            w = w - Q[:, : j + 1] @ h
            H[: j + 1, j] += h
        H[j + 1, j] = np.linalg.norm(w)
        Q[:, j + 1] = w / H[j + 1, j]
    return Q, H


def arnoldi_lists(A, v0, k):
    """Lists of vectors, H filled at the end: another valid layout."""
    qs = [v0 / np.linalg.norm(v0)]
    cols = []
    for j in range(k):
        w = A @ qs[j]
        h = []
        for q in qs:
            h.append(q @ w)
            w = w - h[-1] * q
        h.append(np.linalg.norm(w))
        qs.append(w / h[-1])
        cols.append(h + [0.0] * (k - j - 1))
    return np.column_stack(qs), np.array(cols).T


def arnoldi_mgs_in_place(A, v0, k):
    """Modified Gram-Schmidt with in-place updates: the same algorithm, other rounding."""
    n = v0.shape[0]
    Q = np.zeros((n, k + 1))
    H = np.zeros((k + 1, k))
    Q[:, 0] = v0 / np.linalg.norm(v0)
    for j in range(k):
        w = A @ Q[:, j]
        for i in range(j + 1):
            H[i, j] = w @ Q[:, i]
            w -= H[i, j] * Q[:, i]
        H[j + 1, j] = np.linalg.norm(w)
        Q[:, j + 1] = w / H[j + 1, j]
    return Q, H


@pytest.mark.parametrize("case", ARNOLDI_CASES)
@pytest.mark.parametrize("right", [arnoldi_mgs, arnoldi_mgs_in_place,
                                   lambda A, v0, k: arnoldi_cgs(A, v0, k, 2), arnoldi_lists])
def test_check_arnoldi_accepts_correct_answers_including_reorthogonalisation(right, case, capsys):
    check_arnoldi(right, **case)
    assert "\u2713 arnoldi" in capsys.readouterr().out


def test_check_arnoldi_asks_for_modified_gram_schmidt():
    # Classical Gram-Schmidt agrees with MGS on the small cases but loses
    # orthogonality on the ill-conditioned one, and the message says why.
    raises_with_code(check_arnoldi, arnoldi_cgs,
                     r"ill-conditioned .* classical Gram-Schmidt .*\*updated\* w",
                     "02.arnoldi.classical_gram_schmidt")
    for case in ARNOLDI_CASES[1:]:
        with pytest.raises(WrongAnswer, match="modified Gram-Schmidt"):
            check_arnoldi(arnoldi_cgs, **case)


def test_check_arnoldi_and_lanczos_leave_v0_unchanged():
    def arnoldi_in_place(A, v0, k):
        v0 /= np.linalg.norm(v0)
        return arnoldi_mgs(A, v0, k)

    def lanczos_in_place(A, v0, k):
        v0 /= np.linalg.norm(v0)
        return lanczos_plain(A, v0, k)

    with pytest.raises(WrongAnswer, match="changed the caller's `v0`"):
        check_arnoldi(arnoldi_in_place)
    with pytest.raises(WrongAnswer, match="changed the caller's `v0`"):
        check_lanczos(lanczos_in_place)


def arnoldi_variant(A, v0, k, *, normalise=True, norm_before=False, keep_update=True,
                    swap=False, sign=1.0, normalise_v0=True, use_transpose=False, verify=False):
    n = v0.shape[0]
    Q = np.zeros((n, k + 1))
    H = np.zeros((k + 1, k))
    Q[:, 0] = v0 / np.linalg.norm(v0) if normalise_v0 else v0
    for j in range(k):
        w = Q[:, j] @ A if use_transpose else A @ Q[:, j]
        w0 = w.copy()
        for i in range(j + 1):
            h = Q[:, i] @ (w if keep_update else w0)
            if swap:
                H[j, i] = h
            else:
                H[i, j] = h
            if keep_update:
                w = w - h * Q[:, i]
            else:
                w = w0 - h * Q[:, i]  # the update is lost: only the last projection counts
        norm_w = np.linalg.norm(w)
        H[j + 1, j] = sign * (np.linalg.norm(w0) if norm_before else norm_w)
        Q[:, j + 1] = w / (sign * norm_w) if normalise else w
    if verify:
        A @ Q[:, :k]  # a check inside the function costs k more products
    return Q, H


@pytest.mark.parametrize("kwargs, message, code", [
    (dict(normalise=False), "not 1. Normalise", "not_normalised"),
    (dict(norm_before=True), r"\*before\* orthogonalisation", "norm_before_projection"),
    (dict(keep_update=False), r"orthogonal to q_j but not to q_0", "update_lost"),
    (dict(swap=True), "Hessenberg", "h_indices_swapped"),
    (dict(normalise_v0=False), "normalise it", "q0_not_normalised"),
    (dict(use_transpose=True), r"A\^T", "transpose_product"),
    (dict(verify=True), "products", "extra_products"),
])
def test_check_arnoldi_names_the_mistake(kwargs, message, code):
    raises_with_code(check_arnoldi, lambda A, v0, k: arnoldi_variant(A, v0, k, **kwargs),
                     message, f"02.arnoldi.{code}")


def test_check_arnoldi_explains_a_negative_subdiagonal_without_a_code():
    # Not a catalogued misconception (no student writes it), but still explained.
    with pytest.raises(WrongAnswer, match=r"> 0") as info:
        check_arnoldi(lambda A, v0, k: arnoldi_variant(A, v0, k, sign=-1.0))
    assert codes_of(info.value) == ()


def arnoldi_loop_mistake(A, v0, k, mistake):
    """Arnoldi written as a student would, with one mistake in the loop
    (another spelling than the catalogue's variants and the check's own)."""
    n = v0.shape[0]
    qs, H = [v0 / np.linalg.norm(v0)], np.zeros((k + 1, k))
    for j in range(k):
        w = A @ qs[j]
        if mistake == "norm_first":
            H[j + 1, j] = np.linalg.norm(w)
        for i in range(j if mistake == "short" else j + 1):
            H[i, j] = w @ qs[i]
            w = w + H[i, j] * qs[i] if mistake == "plus" else w - H[i, j] * qs[i]
        if mistake == "divide_first":
            qs.append(w / H[j + 1, j])
            H[j + 1, j] = np.linalg.norm(w)
            continue
        if mistake == "unit":
            qs.append(w / np.linalg.norm(w))
            H[j + 1, j] = np.linalg.norm(qs[-1])
            continue
        if mistake != "norm_first":
            H[j + 1, j] = np.linalg.norm(w)
        qs.append(w / H[j + 1, j])
    assert len(qs) == k + 1 and qs[0].shape == (n,)
    return np.column_stack(qs), H


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("mistake, message, code", [
    ("short", "inner loop stops one short", "inner_loop_short"),
    ("plus", "added to w instead of subtracted", "projection_sign"),
    ("norm_first", r"divided by \|\|A q_j\|\|", "norm_before_projection"),
    ("unit", "all 1", "norm_after_normalising"),
    ("divide_first", "NaN or inf from column 1", "divide_before_store"),
])
@pytest.mark.parametrize("case", ARNOLDI_CASES[:3])
def test_check_arnoldi_names_mistakes_in_the_loop(mistake, message, code, case):
    raises_with_code(check_arnoldi, lambda A, v0, k: arnoldi_loop_mistake(A, v0, k, mistake),
                     message, f"02.arnoldi.{code}", **case)


def arnoldi_short_loop(A, v0, k):
    """The arrays have the right shapes, the loop runs k - 1 times."""
    Q, H = np.zeros((v0.shape[0], k + 1)), np.zeros((k + 1, k))
    Q[:, :k], H[:k, :k - 1] = arnoldi_mgs(A, v0, k - 1)
    return Q, H


@pytest.mark.parametrize("wrong, message, code", [
    (lambda A, v0, k: (arnoldi_mgs(A, v0, k)[0][:, :k], arnoldi_mgs(A, v0, k)[1]),
     r"k \+ 1 = \d+ columns", "02.arnoldi.q_missing_last"),
    (lambda A, v0, k: (arnoldi_mgs(A, v0, k)[0], arnoldi_mgs(A, v0, k)[1][:k]),
     r"\(k \+ 1\) x k", "02.arnoldi.h_square"),
    (lambda A, v0, k: (arnoldi_mgs(A, v0, k)[0], arnoldi_mgs(A, v0, k)[1].T), "transpose",
     "02.arnoldi.h_transposed"),
    (lambda A, v0, k: (arnoldi_mgs(A, v0, k)[0].T, arnoldi_mgs(A, v0, k)[1]), "transpose",
     "02.arnoldi.q_transposed"),
    (arnoldi_short_loop, "products", "02.arnoldi.too_few_steps"),
])
def test_check_arnoldi_catches_shapes(wrong, message, code):
    raises_with_code(check_arnoldi, wrong, message, code)


def test_check_arnoldi_wrong_return_type_is_not_a_misconception():
    with pytest.raises(WrongAnswer, match="tuple") as info:
        check_arnoldi(lambda A, v0, k: arnoldi_mgs(A, v0, k)[0])
    assert codes_of(info.value) == ()


def test_check_arnoldi_refuses_qr_and_the_reference():
    def uses_qr(A, v0, k):
        K = np.column_stack([v0] + [np.zeros_like(v0)] * k)
        for j in range(1, k + 1):
            K[:, j] = A @ K[:, j - 1]
        Q, _ = np.linalg.qr(K)
        return Q, Q.T @ (A @ Q[:, :k])

    def uses_scipy_qr(A, v0, k):
        from scipy.linalg import qr
        return qr(np.eye(3))

    def uses_reference(A, v0, k):
        return krylov_ref.arnoldi(A, v0, k)

    def uses_module_reference(A, v0, k):
        return krylov_ref.krylov.arnoldi(A, v0, k)

    for cheat in (uses_qr, uses_scipy_qr, uses_reference, uses_module_reference):
        with pytest.raises(NotAllowedError, match="not allowed"):
            check_arnoldi(cheat)
    # and the functions are restored afterwards
    assert krylov_ref.arnoldi(np.eye(3) + np.diag([1.0, 2.0], 1), np.ones(3), 1)[0].shape == (3, 2)
    assert np.linalg.qr(np.eye(2))[0].shape == (2, 2)


# ---------------------------------------------------------------- lanczos

def lanczos_plain(A, v0, k):
    n = v0.shape[0]
    Q = np.zeros((n, k + 1))
    alpha, beta = np.zeros(k), np.zeros(k)
    Q[:, 0] = v0 / np.linalg.norm(v0)
    for j in range(k):
        w = A @ Q[:, j]
        alpha[j] = Q[:, j] @ w
        w = w - alpha[j] * Q[:, j]
        if j > 0:
            w = w - beta[j - 1] * Q[:, j - 1]
        beta[j] = np.linalg.norm(w)
        Q[:, j + 1] = w / beta[j]
    return Q, alpha, beta


def lanczos_paige(A, v0, k):
    """Paige's ordering: subtract beta_(j-1) q_(j-1) first, then alpha_j from the updated w;
    three vectors in flight, Q filled as we go."""
    n = v0.shape[0]
    Q = np.zeros((n, k + 1))
    alpha, beta = [], []
    q_prev, q = np.zeros(n), v0 / np.linalg.norm(v0)
    b_prev = 0.0
    Q[:, 0] = q
    for j in range(k):
        w = A @ q - b_prev * q_prev
        a = q @ w
        w -= a * q
        b = np.linalg.norm(w)
        alpha.append(a)
        beta.append(b)
        q_prev, q, b_prev = q, w / b, b
        Q[:, j + 1] = q
    return Q, np.array(alpha), np.array(beta)


def lanczos_reorthogonalised(A, v0, k):
    n = v0.shape[0]
    Q = np.zeros((n, k + 1))
    alpha, beta = np.zeros(k), np.zeros(k)
    Q[:, 0] = v0 / np.linalg.norm(v0)
    for j in range(k):
        w = A @ Q[:, j]
        alpha[j] = Q[:, j] @ w
        w = w - alpha[j] * Q[:, j] - (beta[j - 1] * Q[:, j - 1] if j > 0 else 0.0)
        w = w - Q[:, : j + 1] @ (Q[:, : j + 1].T @ w)
        beta[j] = np.linalg.norm(w)
        Q[:, j + 1] = w / beta[j]
    return Q, alpha, beta


@pytest.mark.parametrize("case", LANCZOS_CASES)
@pytest.mark.parametrize("right", [lanczos_plain, lanczos_paige, lanczos_reorthogonalised])
def test_check_lanczos_accepts_correct_answers(right, case, capsys):
    check_lanczos(right, **case)
    assert "\u2713 lanczos" in capsys.readouterr().out


def lanczos_variant(A, v0, k, *, three_term=True, sign=-1.0, normalise=True, beta_before=False,
                    shift_beta=False, normalise_v0=True):
    n = v0.shape[0]
    Q = np.zeros((n, k + 1))
    alpha, beta = np.zeros(k), np.zeros(k + 1)  # beta[j + 1] holds beta_j when shift_beta
    Q[:, 0] = v0 / np.linalg.norm(v0) if normalise_v0 else v0
    for j in range(k):
        w = A @ Q[:, j]
        norm_Aq = np.linalg.norm(w)
        alpha[j] = Q[:, j] @ w
        w = w - alpha[j] * Q[:, j]
        if j > 0 and three_term:
            previous = beta[j] if shift_beta else beta[j - 1]
            w = w + sign * previous * Q[:, j - 1]
        b = np.linalg.norm(w)
        beta[j + 1 if shift_beta else j] = norm_Aq if beta_before else b
        Q[:, j + 1] = w / b if normalise else w
    return Q, alpha, (beta if shift_beta else beta[:k])


NO_PREVIOUS_TERM = ("02.lanczos.no_previous_term", "02.lanczos.current_beta")


@pytest.mark.parametrize("kwargs, message, code", [
    (dict(three_term=False), r"needs the term in q_\(j-1\), subtracted", NO_PREVIOUS_TERM),
    (dict(sign=+1.0), r"is added to w.*needs the term in q_\(j-1\), subtracted",
     "02.lanczos.previous_term_sign"),
    (dict(normalise=False), "not 1. Normalise", "02.lanczos.not_normalised"),
    (dict(beta_before=True), r"beta_j is \|\|A q_j\|\|", "02.lanczos.norm_before_projection"),
    (dict(shift_beta=True), r"drop it", "02.lanczos.beta_shifted"),
])
def test_check_lanczos_names_the_mistake(kwargs, message, code):
    raises_with_code(check_lanczos, lambda A, v0, k: lanczos_variant(A, v0, k, **kwargs),
                     message, code)


def lanczos_paige_mistake(A, v0, k, mistake):
    """Paige's ordering (three vectors in flight) with one mistake: another
    spelling of the catalogued ones."""
    n = v0.shape[0]
    Q, alpha, beta = np.zeros((n, k + 1)), [], []
    q_prev, q, b_prev = np.zeros(n), v0 / np.linalg.norm(v0), 0.0
    Q[:, 0] = q
    for j in range(k):
        w = A @ q
        norm_Aq = np.linalg.norm(w)
        if mistake == "plus":
            w += b_prev * q_prev
        elif mistake == "current":
            w -= (beta[j] if len(beta) > j else 0.0) * q_prev
        else:
            w -= b_prev * q_prev
        a = q @ w
        w -= a * q
        b = norm_Aq if mistake == "norm_Aq" else np.linalg.norm(w)
        if mistake == "divide_first":
            q_next = w / b_prev if j == 0 else w / 0.0
        else:
            q_next = w / b
        alpha.append(a)
        beta.append(b)
        q_prev, q, b_prev = q, q_next, b
        Q[:, j + 1] = q
    return Q, np.array(alpha), np.array(beta)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("mistake, message, code", [
    ("plus", "is added to w", "02.lanczos.previous_term_sign"),
    ("current", r"taken with beta_j, still 0", NO_PREVIOUS_TERM),
    ("norm_Aq", r"before\* the two subtractions", "02.lanczos.norm_before_projection"),
    ("divide_first", "NaN or inf from column 1", "02.lanczos.divide_before_store"),
])
@pytest.mark.parametrize("case", LANCZOS_CASES[:3])
def test_check_lanczos_names_mistakes_in_the_recurrence(mistake, message, code, case):
    raises_with_code(check_lanczos, lambda A, v0, k: lanczos_paige_mistake(A, v0, k, mistake),
                     message, code, **case)


def test_check_lanczos_counts_products():
    def recomputes_Aq(A, v0, k):
        Q, alpha, beta = lanczos_plain(A, v0, k)
        for j in range(k):
            alpha[j] = Q[:, j] @ (A @ Q[:, j])
        return Q, alpha, beta

    def one_step_short(A, v0, k):
        Q, alpha, beta = np.zeros((v0.shape[0], k + 1)), np.zeros(k), np.zeros(k)
        Q[:, :k], alpha[:k - 1], beta[:k - 1] = lanczos_plain(A, v0, k - 1)
        return Q, alpha, beta

    raises_with_code(check_lanczos, recomputes_Aq, "one per step", "02.lanczos.extra_products")
    raises_with_code(check_lanczos, one_step_short, "loop run k times", "02.lanczos.too_few_steps")


def lanczos_as_T(A, v0, k):
    Q, alpha, beta = lanczos_plain(A, v0, k)
    return Q, krylov_ref.tridiagonal(alpha, beta[:-1])


@pytest.mark.parametrize("wrong, message, code", [
    (lambda A, v0, k: (lanczos_plain(A, v0, k)[0], lanczos_plain(A, v0, k)[1],
                       lanczos_plain(A, v0, k)[2][:-1]), r"k - 1 = \d+ entries", "02.lanczos.beta_short"),
    (lambda A, v0, k: (lanczos_plain(A, v0, k)[0][:, :k], *lanczos_plain(A, v0, k)[1:]),
     r"k \+ 1 = \d+ columns", "02.lanczos.q_missing_last"),
    (lanczos_as_T, "three things", "02.lanczos.returns_T"),
    (lambda A, v0, k: lanczos_variant(A, v0, k, normalise_v0=False), "normalise it",
     "02.lanczos.q0_not_normalised"),
])
def test_check_lanczos_catches_shapes(wrong, message, code):
    raises_with_code(check_lanczos, wrong, message, code)


def test_check_lanczos_one_step_too_many_is_explained():
    with pytest.raises(WrongAnswer, match=r"k \+ 1|products|entries"):
        check_lanczos(lambda A, v0, k: lanczos_plain(A, v0, k + 1))


def test_check_lanczos_refuses_qr_and_the_references():
    def uses_reference(A, v0, k):
        return krylov_ref.lanczos(A, v0, k)

    def uses_arnoldi(A, v0, k):
        Q, H = krylov_ref.krylov.arnoldi(A, v0, k)
        return Q, np.diag(H), np.diag(H, -1)

    def uses_qr(A, v0, k):
        return np.linalg.qr(np.eye(2))

    for cheat in (uses_reference, uses_arnoldi, uses_qr):
        with pytest.raises(NotAllowedError, match="not allowed"):
            check_lanczos(cheat)


def test_lanczos_cases_stay_orthogonal_enough_for_the_comparison():
    """The checks compare with krylov_ref entry by entry: the sizes they use must
    keep plain Lanczos orthogonal well below the tolerance."""
    from krylov_ref.problems import random_spd

    for case in LANCZOS_CASES[:3]:
        n, k, cond, seed = (case.get("n", 30), case.get("k", 8), case.get("cond", 50.0),
                            case.get("seed", 2))
        A = random_spd(n, cond, seed=seed).A
        v0 = np.random.default_rng(seed + 1000).standard_normal(n)
        Q, _, _ = krylov_ref.lanczos(A, v0, k)
        assert np.abs(Q.T @ Q - np.eye(k + 1)).max() < 1e-11


# ---------------------------------------------------------------- ritz_values

def ritz_dense(alpha, beta):
    T = np.diag(alpha) + np.diag(beta[:-1], 1) + np.diag(beta[:-1], -1)
    theta, S = np.linalg.eigh(T)
    return theta, beta[-1] * np.abs(S[-1, :])


def ritz_tridiagonal(alpha, beta):
    theta, S = eigh_tridiagonal(alpha, beta[:-1])
    return list(theta), [abs(beta[-1] * s) for s in S[-1, :]]


@pytest.mark.parametrize("case", RITZ_CASES)
@pytest.mark.parametrize("right", [ritz_dense, ritz_tridiagonal])
def test_check_ritz_values_accepts_correct_answers(right, case, capsys):
    check_ritz_values(right, **case)
    assert "\u2713 ritz_values" in capsys.readouterr().out


def _eig(alpha, beta):
    return np.linalg.eigh(np.diag(alpha) + np.diag(beta[:-1], 1) + np.diag(beta[:-1], -1))


def _shuffled(alpha, beta):
    """Right pairs, in an order that is not increasing."""
    theta, res = ritz_dense(alpha, beta)
    order = np.roll(np.arange(theta.size), 1)
    return theta[order], res[order]


def _scaled_eigh(T, beta):
    theta, S = np.linalg.eigh(T)
    return theta, beta[-1] * np.abs(S[-1, :])


@pytest.mark.parametrize("wrong, message, code", [
    (lambda a, b: (_eig(a, b)[0][::-1], (b[-1] * np.abs(_eig(a, b)[1][-1, :]))[::-1]), "increasing",
     "decreasing_order"),
    (_shuffled, "wrong order", "unsorted"),
    (lambda a, b: (_eig(a, b)[0], b[-1] * np.abs(_eig(a, b)[1][0, :])), "first component",
     "first_component"),
    (lambda a, b: (_eig(a, b)[0], np.abs(_eig(a, b)[1][-1, :])), "without the factor", "no_beta"),
    (lambda a, b: (_eig(a, b)[0], b[-2] * np.abs(_eig(a, b)[1][-1, :])), r"beta\[k-2\]",
     "beta_k_minus_2"),
    (lambda a, b: (_eig(a, b)[0], b[-1] * np.abs(_eig(a, b)[1][:, -1])), "last eigenvector",
     "last_column"),
    (lambda a, b: (_eig(a, b)[0], b[-1] * _eig(a, b)[1][-1, :]), "negative", "no_abs"),
    (lambda a, b: (_eig(a, b)[0], b[-1] ** 2 * _eig(a, b)[1][-1, :] ** 2), "squared", "squared"),
    (lambda a, b: np.linalg.eigh(np.diag(a) + np.diag(b, 1)[:-1, :-1] + np.diag(b, -1)[:-1, :-1]),
     "eigenvector matrix", "returns_eigenvectors"),
    (lambda a, b: _scaled_eigh(np.diag(a) + np.diag(b[:-1], 1), b), "one side only", "upper_only_T"),
    (lambda a, b: _scaled_eigh(np.diag(a) + np.diag(b[1:], 1) + np.diag(b[1:], -1), b), r"beta\[1:\]",
     "offdiagonal_shifted"),
])
def test_check_ritz_values_names_the_mistake(wrong, message, code):
    raises_with_code(check_ritz_values, wrong, message, f"02.ritz_values.{code}")


def test_check_ritz_values_lower_triangle_only_is_right():
    # np.linalg.eigh reads the lower triangle: T_k given by its lower half is correct.
    check_ritz_values(lambda a, b: _scaled_eigh(np.diag(a) + np.diag(b[:-1], -1), b))


def test_check_ritz_values_wrong_return_type_is_not_a_misconception():
    with pytest.raises(WrongAnswer, match="tuple") as info:
        check_ritz_values(lambda a, b: np.linalg.eigvalsh(np.diag(a) + np.diag(b[:-1], 1)
                                                          + np.diag(b[:-1], -1)))
    assert codes_of(info.value) == ()


def test_check_ritz_values_refuses_the_reference():
    import krylov_ref.ritz

    with pytest.raises(NotAllowedError, match="not allowed"):
        check_ritz_values(lambda a, b: krylov_ref.ritz.ritz_values(a, b))
