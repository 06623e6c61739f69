"""Checks of lesson 03: right answers pass (two different correct
implementations each, on the visible and the hidden parameters), each typical
wrong answer is rejected with a message naming the mistake, and library
shortcuts are refused."""

from __future__ import annotations

import numpy as np
import pytest

import krylov_ref
from krylov_ref import conjugacy
from krylov_ref.checks import NotAllowedError, WrongAnswer
from krylov_ref.checks.lesson03 import (check_cg, check_conjugate_directions,
                                        check_lanczos_from_cg)

# The parameters of the notebook's visible and hidden tests.
CD_CASES = [{}, dict(n=20, cond=30.0, seed=11), dict(n=9, cond=1000.0, seed=5)]
CG_CASES = [{}, dict(n=200, cond=100.0, seed=7), dict(n=144, cond=None, seed=3)]
T_CASES = [{}, dict(n=50, k=9, cond=1000.0, seed=8), dict(n=12, k=2, cond=10.0, seed=1)]


# ---------------------------------------------------------------- conjugate directions

def cd_student(A, b, x0=None, *, classical=False, two_products=False, mistake=None):
    """Conjugate directions from the residuals; ``mistake`` names a wrong variant."""
    n = b.shape[0]
    x = np.zeros(n) if x0 is None else np.array(x0, dtype=float)
    r = b - A @ x
    if mistake == "gradient":
        r = -r
    P, AP = [], []
    for k in range(n):
        p = r.copy()
        if mistake == "last-only":
            earlier = range(max(0, k - 1), k)
        elif mistake == "none":
            earlier = range(0)
        else:
            earlier = range(k)
        if classical:
            Ar = A @ r if two_products else None  # p_j^T A r as (A r)^T p_j: a second product
            coeffs = [(Ar @ P[j] if two_products else AP[j] @ r) / (P[j] @ AP[j]) for j in earlier]
            for j, c in zip(earlier, coeffs):
                p -= c * P[j]
        else:
            for j in earlier:
                if mistake == "euclid":
                    c = (P[j] @ p) / (P[j] @ P[j])
                else:
                    c = (AP[j] @ p) / (P[j] @ AP[j])
                p = p + c * P[j] if mistake == "plus" else p - c * P[j]
        if mistake == "normalise":
            p = p / np.linalg.norm(p)
        q = A @ p
        alpha = (r @ r) / (p @ q) if classical else (r @ p) / (p @ q)
        x = x + alpha * p
        r = r - alpha * q
        P.append(p)
        AP.append(q)
    P = np.column_stack(P)
    if mistake == "rows":
        P = P.T
    return x, P


@pytest.mark.parametrize("case", CD_CASES)
def test_check_conjugate_directions_accepts_correct_solutions(case, capsys):
    check_conjugate_directions(cd_student, **case)
    check_conjugate_directions(lambda A, b, x0=None: cd_student(A, b, x0, classical=True), **case)
    check_conjugate_directions(
        lambda A, b, x0=None: cd_student(A, b, x0, classical=True, two_products=True), **case)
    check_conjugate_directions(conjugacy_reference_copy, **case)
    assert "\u2713 conjugate_directions" in capsys.readouterr().out


def conjugacy_reference_copy(A, b, x0=None):
    # Classical Gram-Schmidt written with matrix products; A p_j stored in AP.
    n = b.shape[0]
    x = np.zeros(n) if x0 is None else x0.copy()
    r = b - A @ x
    P, AP = np.zeros((n, n)), np.zeros((n, n))
    for k in range(n):
        p = r - P[:, :k] @ ((AP[:, :k].T @ r) / np.einsum("ij,ij->j", P[:, :k], AP[:, :k]))
        q = A @ p
        alpha = (r @ p) / (p @ q)
        x, r = x + alpha * p, r - alpha * q
        P[:, k], AP[:, k] = p, q
    return x, P


@pytest.mark.parametrize("mistake, message", [
    ("gradient", "negative gradients"),
    ("none", "residual r_1 itself"),
    ("euclid", "ordinary inner product change nothing"),
    ("plus", "must be subtracted"),
    ("normalise", "normalise"),
    ("rows", "rows of P"),
])
def test_check_conjugate_directions_names_the_mistake(mistake, message):
    with pytest.raises(WrongAnswer, match=message):
        check_conjugate_directions(lambda A, b, x0=None: cd_student(A, b, x0, mistake=mistake))


def test_check_conjugate_directions_wants_every_earlier_direction():
    # Only the last direction: right in exact arithmetic (it is CG), but in
    # floating point conjugacy to older directions is lost on these problems.
    with pytest.raises(WrongAnswer, match="every"):
        check_conjugate_directions(lambda A, b, x0=None: cd_student(A, b, x0, mistake="last-only"))


def test_check_conjugate_directions_catches_ignored_x0_and_forbidden_shortcuts():
    with pytest.raises(WrongAnswer, match="x0"):
        check_conjugate_directions(lambda A, b, x0=None: cd_student(A, b))
    with pytest.raises(NotAllowedError):
        check_conjugate_directions(lambda A, b, x0=None: conjugacy.conjugate_directions(A, b, x0))
    with pytest.raises((NotAllowedError, TypeError)):
        check_conjugate_directions(lambda A, b, x0=None: (np.linalg.solve(A, b), np.eye(b.size)))
    with pytest.raises(WrongAnswer, match="tuple"):
        check_conjugate_directions(lambda A, b, x0=None: cd_student(A, b, x0)[0])


# ---------------------------------------------------------------- cg

def cg_student(A, b, x0=None, *, rtol=1e-5, atol=0.0, maxiter=None, variant="standard",
               mistake=None):
    n = b.shape[0]
    x = np.zeros(n) if x0 is None else np.array(x0, dtype=float)
    maxiter = 10 * n if maxiter is None else maxiter
    tol = max(rtol * np.linalg.norm(b), atol)
    r = b - A @ x
    p = r.copy()
    rr = r @ r
    norms, alphas, betas = [np.sqrt(rr)], [], []
    for _ in range(maxiter):
        if mistake != "stop-on-change" and norms[-1] <= tol:
            break
        q = A @ p
        if mistake == "pTp":
            alpha = rr / (p @ p)
        elif variant == "hestenes-stiefel":
            alpha = (r @ p) / (p @ q)
        else:
            alpha = rr / (p @ q)
        x_new = x + alpha * p
        r_new = b - A @ x_new if mistake == "recompute" else r - alpha * q
        rr_new = r_new @ r_new
        if mistake == "inverted":
            beta = rr / rr_new
        elif mistake == "cross":
            beta = (r_new @ r) / rr
        elif mistake == "norms":
            beta = np.sqrt(rr_new / rr)
        elif variant == "hestenes-stiefel":
            beta = -(r_new @ q) / (p @ q)
        else:
            beta = rr_new / rr
        if mistake == "no-p-update":
            pass
        elif mistake == "steepest":
            p = r_new.copy()
        else:
            p = r_new + beta * p
        alphas.append(alpha)
        betas.append(beta)
        norms.append(np.sqrt(rr_new))
        done = mistake == "stop-on-change" and np.linalg.norm(x_new - x) <= tol
        x, r, rr = x_new, r_new, rr_new
        if done:
            break
    return x, norms, alphas, betas


@pytest.mark.parametrize("case", CG_CASES)
def test_check_cg_accepts_correct_solutions(case, capsys):
    check_cg(cg_student, **case)
    check_cg(lambda *a, **k: cg_student(*a, **k, variant="hestenes-stiefel"), **case)

    def via_reference_loop(A, b, x0=None, *, rtol=1e-5, atol=0.0, maxiter=None):
        # krylov_ref.cg's own loop (with its final true-residual check), re-typed
        # here because the library function itself is forbidden in the exercise.
        n = b.shape[0]
        x = np.zeros(n) if x0 is None else np.array(x0, dtype=float)
        maxiter = 10 * n if maxiter is None else maxiter
        tol = max(rtol * np.linalg.norm(b), atol)
        r = b - A @ x
        p, rz = r.copy(), r @ r
        norms, al, be = [np.linalg.norm(r)], [], []
        for _ in range(maxiter):
            if norms[-1] <= tol:
                break
            q = A @ p
            alpha = rz / (p @ q)
            x += alpha * p
            r -= alpha * q
            rz_new = r @ r
            p *= rz_new / rz
            p += r
            al.append(alpha)
            be.append(rz_new / rz)
            rz = rz_new
            norms.append(np.linalg.norm(r))
        np.linalg.norm(b - A @ x)  # the optional final check costs one more product
        return x, norms, al, be

    check_cg(via_reference_loop, **case)
    assert "\u2713 cg" in capsys.readouterr().out


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # some wrong CGs overflow, as they should
@pytest.mark.parametrize("mistake, message", [
    ("pTp", r"p\^T p where p\^T A p belongs"),
    ("inverted", "upside down"),
    ("cross", "about zero"),
    ("norms", "squared"),
    ("no-p-update", r"direction updated with the new residual"),
    ("steepest", r"direction updated with the new residual"),
    ("stop-on-change", "not on the change in x"),
    ("recompute", "products with A"),
])
def test_check_cg_names_the_mistake(mistake, message):
    with pytest.raises(WrongAnswer, match=message):
        check_cg(lambda *a, **k: cg_student(*a, **k, mistake=mistake))


def test_check_cg_catches_ignored_options_and_shortcuts():
    def ignores_x0(A, b, x0=None, **kw):
        return cg_student(A, b, None, **kw)

    def ignores_maxiter(A, b, x0=None, *, maxiter=None, **kw):
        return cg_student(A, b, x0, **kw)

    def ignores_atol(A, b, x0=None, *, atol=0.0, **kw):
        return cg_student(A, b, x0, **kw)

    def uses_reference(A, b, x0=None, **kw):
        res = krylov_ref.cg(A, b, x0, **kw)
        return res.x, res.residual_norms, res.alphas, res.betas

    def three_values(A, b, x0=None, **kw):
        return cg_student(A, b, x0, **kw)[:3]

    with pytest.raises(WrongAnswer, match="x0"):
        check_cg(ignores_x0)
    with pytest.raises(WrongAnswer, match="maxiter"):
        check_cg(ignores_maxiter)
    with pytest.raises(WrongAnswer, match="atol"):
        check_cg(ignores_atol)
    with pytest.raises(NotAllowedError):
        check_cg(uses_reference)
    with pytest.raises(WrongAnswer, match="tuple"):
        check_cg(three_values)


# ---------------------------------------------------------------- lanczos_from_cg

def T_loop(alphas, betas):
    k = len(alphas)
    T = np.zeros((k, k))
    for j in range(k):
        T[j, j] = 1 / alphas[j] + (betas[j - 1] / alphas[j - 1] if j else 0.0)
        if j + 1 < k:
            T[j, j + 1] = T[j + 1, j] = np.sqrt(betas[j]) / alphas[j]
    return T


def T_ldl(alphas, betas):
    # T = L D L^T with D = diag(1/alpha), L unit lower bidiagonal, subdiagonal -sqrt(beta)
    # (the other sign convention, q_{k+1} = r_k / ||r_k||).
    k = len(alphas)
    L = np.eye(k) - np.diag(np.sqrt(np.asarray(betas[: k - 1])), -1)
    return L @ np.diag(1 / np.asarray(alphas)) @ L.T


def T_unnormalised(alphas, betas):
    k = len(alphas)
    T = T_loop(alphas, betas)
    for j in range(k - 1):
        T[j + 1, j] = -1 / alphas[j]
        T[j, j + 1] = -betas[j] / alphas[j]
    return T


def with_off_diagonal(T, off):
    return np.diag(np.diag(T)) + np.diag(off, 1) + np.diag(off, -1)


@pytest.mark.parametrize("case", T_CASES)
def test_check_lanczos_from_cg_accepts_both_sign_conventions(case, capsys):
    check_lanczos_from_cg(T_loop, **case)
    check_lanczos_from_cg(T_ldl, **case)
    assert "\u2713 lanczos_from_cg" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, message", [
    (lambda a, b: np.diag(1 / np.asarray(a)) + (T_loop(a, b) - np.diag(np.diag(T_loop(a, b)))),
     r"1/alpha_k only"),
    (lambda a, b: T_loop(a, b) + np.diag(np.asarray(b) / np.asarray(a))
     - np.diag(np.concatenate([[0.0], np.asarray(b[: len(a) - 1]) / np.asarray(a[:-1])])),
     "uses beta_k/alpha_k"),
    (lambda a, b: with_off_diagonal(T_loop(a, b), b[: len(a) - 1] / a[:-1]), "square root"),
    (lambda a, b: with_off_diagonal(T_loop(a, b), np.sqrt(b[: len(a) - 1]) / a[1:]), "wrong alpha"),
    (T_unnormalised, "unnormalised residuals"),
    (lambda a, b: T_loop(np.append(a, 1.0), np.append(b, 1.0)), "shape"),
    (lambda a, b: T_loop(a, b) + 1e-3, "tridiagonal"),
])
def test_check_lanczos_from_cg_names_the_mistake(wrong, message):
    with pytest.raises(WrongAnswer, match=message):
        check_lanczos_from_cg(wrong)


def test_check_lanczos_from_cg_forbids_the_reference():
    with pytest.raises(NotAllowedError):
        check_lanczos_from_cg(lambda a, b: conjugacy.lanczos_from_cg(a, b))


# ---------------------------------------------------------------- cg: defaults and edge cases

def cg_variant(A, b, x0=None, *, rtol=1e-5, atol=0.0, maxiter=None, default=None,
               test_at_bottom=False, strict=False, absolute=False, x_minus=False, in_place=False):
    """CG with one deliberate departure from the contract."""
    n = b.shape[0]
    if x0 is None:
        x = np.zeros(n)
    else:
        x = x0 if in_place else np.array(x0, dtype=float)
    if maxiter is None:
        maxiter = 10 * n if default is None else default(n)
    tol = max(rtol, atol) if absolute else max(rtol * np.linalg.norm(b), atol)
    r = b - A @ x
    p = r.copy()
    rr = r @ r
    norms, alphas, betas = [np.sqrt(rr)], [], []
    for _ in range(maxiter):
        if not test_at_bottom and (norms[-1] < tol if strict else norms[-1] <= tol):
            break
        q = A @ p
        alpha = rr / (p @ q)
        if x_minus:
            x -= alpha * p
        elif in_place:
            x += alpha * p
        else:
            x = x + alpha * p
        r = r - alpha * q
        rr_new = r @ r
        beta = rr_new / rr
        p = r + beta * p
        rr = rr_new
        norms.append(np.sqrt(rr))
        alphas.append(alpha)
        betas.append(beta)
        if test_at_bottom and norms[-1] <= tol:
            break
    return x, norms, alphas, betas


@pytest.mark.parametrize("case", CG_CASES)
def test_check_cg_accepts_the_contract_variant(case, capsys):
    check_cg(cg_variant, **case)
    assert "\u2713 cg" in capsys.readouterr().out


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # 0/0 in the wrong variants
@pytest.mark.parametrize("kwargs, message", [
    (dict(default=lambda n: 0), r"no iteration was taken|default maxiter=None.* took 0\."),
    (dict(default=lambda n: 9 * n), r"default maxiter=None.* 10 n = 80 iterations.* took 72\."),
    (dict(default=lambda n: 11 * n), r"default maxiter=None.* took 88\."),
    (dict(default=lambda n: None), r"raised TypeError"),
    (dict(test_at_bottom=True), r"x0 equal to the solution.*NaN.*top of the loop"),
    (dict(strict=True), r"b = 0 .*keep equality"),
    (dict(absolute=True), r"absolute"),
    (dict(x_minus=True), r"x and the updated residual r no longer agree"),
    (dict(in_place=True), r"changed the caller's `x0` in place"),
])
def test_check_cg_covers_defaults_and_edge_cases(kwargs, message):
    with pytest.raises(WrongAnswer, match=message):
        check_cg(lambda *a, **k: cg_variant(*a, **k, **kwargs))


def test_check_cg_says_absolute_on_every_graded_problem():
    for case in CG_CASES:
        with pytest.raises(WrongAnswer, match=r"Your stopping test looks absolute"):
            check_cg(lambda *a, **k: cg_variant(*a, **k, absolute=True), **case)


def test_check_conjugate_directions_refuses_an_in_place_x0():
    def in_place(A, b, x0=None):
        if x0 is not None:
            x0 += 0.0 * x0 + 1e-3
        return cd_student(A, b, x0)

    with pytest.raises(WrongAnswer, match="changed the caller's `x0`"):
        check_conjugate_directions(in_place)


def test_check_lanczos_from_cg_takes_lists_as_cg_returns_them():
    def arrays_only(alphas, betas):
        # no conversion: 1 / alphas fails on a list
        k = alphas.size
        return T_loop(alphas, betas) if k else None

    with pytest.raises(WrongAnswer, match=r"raised AttributeError"):
        check_lanczos_from_cg(arrays_only)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("check, wrong", [
    (check_cg, lambda *a, **k: cg_student(*a, **k, mistake="inverted")),
    (check_cg, lambda *a, **k: cg_student(*a, **k, mistake="norms")),
    (check_cg, lambda *a, **k: cg_student(*a, **k, mistake="no-p-update")),
    (check_cg, lambda *a, **k: cg_student(*a, **k, mistake="recompute")),
    (check_conjugate_directions, lambda A, b, x0=None: cd_student(A, b, x0, mistake="none")),
    (check_conjugate_directions, lambda A, b, x0=None: cd_student(A, b, x0, mistake="euclid")),
])
def test_lesson03_messages_contain_no_code(check, wrong):
    with pytest.raises(WrongAnswer) as info:
        check(wrong)
    message = str(info.value)
    for code in (" @ ", "np.", "<- r", "alpha = r", "beta_k = r", "p_k = r_k -"):
        assert code not in message, message
