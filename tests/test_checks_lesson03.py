"""Checks of lesson 03: right answers pass (two different correct
implementations each, on the visible and the hidden parameters), each typical
wrong answer is rejected with a message naming the mistake, and library
shortcuts are refused."""

from __future__ import annotations

import numpy as np
import pytest

import krylov_ref
from krylov_ref import conjugacy
from krylov_ref.checks import NotAllowedError, WrongAnswer, codes_of
from krylov_ref.checks.lesson03 import (MISCONCEPTIONS, check_cg, check_conjugate_directions,
                                        check_lanczos_from_cg)

# The parameters of the notebook's visible and hidden tests.
CD_CASES = [{}, dict(n=20, cond=30.0, seed=11), dict(n=9, cond=1000.0, seed=5)]
CG_CASES = [{}, dict(n=200, cond=100.0, seed=7), dict(n=144, cond=None, seed=3)]
T_CASES = [{}, dict(n=50, k=9, cond=1000.0, seed=8), dict(n=12, k=2, cond=10.0, seed=1)]


# Codes the tests below assert, collected to check that every catalogued
# misconception is named by a wrong implementation written here (independently
# of the catalogue's patches of the solution, which scripts/misconceptions.py grades).
ASSERTED = set()


def named(check, func, **case):
    """The codes the check's failure names, after checking that it fits on a screen."""
    with pytest.raises(WrongAnswer) as failure:
        check(func, **case)
    assert len(failure.value._render_traceback_()) <= 12, str(failure.value)
    return codes_of(failure.value)


def expect_named(code, check, func, match=None, **case):
    """``check`` rejects ``func`` naming exactly ``code`` (and the message matches ``match``)."""
    with pytest.raises(WrongAnswer, match=match) as failure:
        check(func, **case)
    assert len(failure.value._render_traceback_()) <= 12, str(failure.value)
    assert codes_of(failure.value) == (code,), str(failure.value)


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
        if mistake == "no-A":
            alpha = (r @ r) / (p @ p)
        if mistake == "products":       # A p_j again for every earlier direction
            for pj in P:
                A @ pj
        x = x + alpha * p
        if mistake != "no-r-update":
            r = r - alpha * q
        P.append(p)
        AP.append(q)
    if mistake == "extra":
        P.append(r - sum((AP[j] @ r) / (P[j] @ AP[j]) * P[j] for j in range(n)))
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


CD_MISTAKES = [
    ("gradient", "negative gradients", "gradient_not_residual"),
    ("none", "residual r_1 itself", "no_orthogonalisation"),
    ("euclid", "orthogonal in the ordinary inner product", "euclidean_projection"),
    ("plus", "must be subtracted", "projection_added"),
    ("normalise", "normalise", "normalised"),
    ("rows", "rows of P", "directions_as_rows"),
    # Only the last direction: right in exact arithmetic (it is CG), but in
    # floating point conjugacy to older directions is lost on these problems.
    ("last-only", "every", "last_direction_only"),
    ("no-A", "divides by p_k\\^T A p_k", "alpha_without_A"),
    ("no-r-update", "Is the residual updated", "residual_not_updated"),
    ("products", "one per step", "products_recomputed"),
    ("extra", "13 columns", "extra_direction"),
]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # 0/0 once r is not updated
@pytest.mark.parametrize("mistake, message, code", CD_MISTAKES)
def test_check_conjugate_directions_names_the_mistake(mistake, message, code):
    expect_named(f"03.conjugate_directions.{code}", check_conjugate_directions,
                 lambda A, b, x0=None: cd_student(A, b, x0, mistake=mistake), match=message)


ASSERTED |= {f"03.conjugate_directions.{code}" for _, _, code in CD_MISTAKES}


def test_check_conjugate_directions_catches_ignored_x0_and_forbidden_shortcuts():
    expect_named("03.conjugate_directions.x0_ignored", check_conjugate_directions,
                 lambda A, b, x0=None: cd_student(A, b), match="x0")
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
        elif mistake == "alpha-inverted":
            alpha = (p @ q) / rr
        elif variant == "hestenes-stiefel":
            alpha = (r @ p) / (p @ q)
        else:
            alpha = rr / (p @ q)
        x_new = x + alpha * p
        r_new = (b - A @ x_new if mistake == "recompute" else r + alpha * q if mistake == "r-plus"
                 else r - alpha * q)
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
        elif mistake == "old-r":
            p = r + beta * p
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


CG_MISTAKES = [
    ("pTp", r"p\^T p where p\^T A p belongs", "alpha_without_A"),
    ("alpha-inverted", "alpha_0 is upside down", "alpha_inverted"),
    ("inverted", "beta_0 is upside down", "beta_inverted"),
    ("cross", "about zero", "beta_orthogonal_product"),
    ("norms", "squared", "beta_unsquared"),
    ("r-plus", "moved the wrong way", "residual_update_sign"),
    ("no-p-update", r"p_1 is still p_0", "direction_not_updated"),
    ("steepest", r"steepest-descent step", "steepest_descent_direction"),
    ("old-r", r"old residual r_0", "direction_from_old_residual"),
    ("stop-on-change", "not on the change in x", "stop_on_step_size"),
    ("recompute", "products with A", "extra_products"),
]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # some wrong CGs overflow, as they should
@pytest.mark.parametrize("mistake, message, code", CG_MISTAKES)
def test_check_cg_names_the_mistake(mistake, message, code):
    expect_named(f"03.cg.{code}", check_cg, lambda *a, **k: cg_student(*a, **k, mistake=mistake),
                 match=message)


ASSERTED |= {f"03.cg.{code}" for _, _, code in CG_MISTAKES}


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

    expect_named("03.cg.x0_ignored", check_cg, ignores_x0, match="x0")
    expect_named("03.cg.maxiter_ignored", check_cg, ignores_maxiter, match="maxiter")
    expect_named("03.cg.atol_ignored", check_cg, ignores_atol, match="atol")
    with pytest.raises(NotAllowedError):
        check_cg(uses_reference)
    with pytest.raises(WrongAnswer, match="tuple"):
        check_cg(three_values)


ASSERTED |= {"03.cg.x0_ignored", "03.cg.maxiter_ignored", "03.cg.atol_ignored"}


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


def T_with_diagonal(a, b, extra):
    """T_loop's off-diagonal with the diagonal 1/alpha_j + extra[j]."""
    T = T_loop(a, b)
    return T - np.diag(np.diag(T)) + np.diag(1 / np.asarray(a) + extra)


def T_steps_not_inverted(alphas, betas):
    # L D L^T with D = diag(alpha), the step lengths themselves.
    k = len(alphas)
    L = np.eye(k) - np.diag(np.sqrt(np.asarray(betas[: k - 1])), -1)
    return L @ np.diag(alphas) @ L.T


def T_in_place(alphas, betas):
    a = np.asarray(alphas, dtype=float)
    a **= -1                                     # the caller's alphas, when given an array
    return T_loop(1 / a, betas)


def T_all_betas(alphas, betas):
    a, b = np.asarray(alphas, dtype=float), np.asarray(betas, dtype=float)
    return krylov_ref.tridiagonal(T_loop(a, b).diagonal(), np.sqrt(b) / a)


T_MISTAKES = [
    (lambda a, b: T_with_diagonal(a, b, 0.0), r"1/alpha_k only", "diagonal_missing_beta_term"),
    (lambda a, b: T_with_diagonal(a, b, np.asarray(b) / np.asarray(a)), "uses beta_k/alpha_k",
     "diagonal_index_shift"),
    (lambda a, b: T_with_diagonal(a, b, np.concatenate([[0.0], np.sqrt(b[: len(a) - 1]) / a[:-1]])),
     "square root belongs to the off-diagonal", "sqrt_on_diagonal"),
    (T_steps_not_inverted, "alpha_k \\+ beta_\\{k-1\\} alpha_\\{k-1\\}", "step_lengths_not_inverted"),
    (lambda a, b: with_off_diagonal(T_loop(a, b), b[: len(a) - 1] / a[:-1]), "square root",
     "offdiagonal_no_sqrt"),
    (lambda a, b: with_off_diagonal(T_loop(a, b), np.sqrt(b[: len(a) - 1]) / a[1:]), "wrong alpha",
     "offdiagonal_wrong_alpha"),
    (T_unnormalised, "unnormalised residuals", "unnormalised_residuals"),
    (lambda a, b: np.triu(T_loop(a, b)) - np.tril(T_loop(a, b), -1), "one side only", "not_symmetric"),
    (lambda a, b: T_loop(np.append(a, 1.0), np.append(b, 1.0)), "shape", "wrong_size"),
    (T_all_betas, "last beta is not used", "all_betas_used"),
    (T_in_place, "changed the caller's `alphas`", "input_modified"),
    (lambda a, b: T_loop(a, b) + 1e-3, "tridiagonal", None),
]


@pytest.mark.parametrize("wrong, message, code", T_MISTAKES)
def test_check_lanczos_from_cg_names_the_mistake(wrong, message, code):
    with pytest.raises(WrongAnswer, match=message) as failure:
        check_lanczos_from_cg(wrong)
    assert len(failure.value._render_traceback_()) <= 12, str(failure.value)
    assert codes_of(failure.value) == ((f"03.lanczos_from_cg.{code}",) if code else ())


ASSERTED |= {f"03.lanczos_from_cg.{code}" for _, _, code in T_MISTAKES if code}


def test_check_lanczos_from_cg_forbids_the_reference():
    with pytest.raises(NotAllowedError):
        check_lanczos_from_cg(lambda a, b: conjugacy.lanczos_from_cg(a, b))


# ---------------------------------------------------------------- cg: defaults and edge cases

def cg_variant(A, b, x0=None, *, rtol=1e-5, atol=0.0, maxiter=None, default=None,
               test_at_bottom=False, strict=False, absolute=False, x_minus=False, in_place=False,
               from_r0=False, sum_tol=False, extra_iteration=False, no_r0=False, squared=False):
    """CG with one deliberate departure from the contract."""
    n = b.shape[0]
    if x0 is None:
        x = np.zeros(n)
    else:
        x = x0 if in_place else np.array(x0, dtype=float)
    if maxiter is None:
        maxiter = 10 * n if default is None else default(n)
    r = b - A @ x
    scale = np.linalg.norm(r) if from_r0 else np.linalg.norm(b)   # from_r0: relative to ||r_0||
    tol = (max(rtol, atol) if absolute else rtol * scale + atol if sum_tol
           else max(rtol * scale, atol))
    p = r.copy()
    rr = r @ r
    norms, alphas, betas = [np.sqrt(rr)], [], []
    for _ in range(maxiter + 1 if extra_iteration else maxiter):
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
    if squared:
        norms = [v ** 2 for v in norms]
    return x, norms[1:] if no_r0 else norms, alphas, betas


@pytest.mark.parametrize("case", CG_CASES)
def test_check_cg_accepts_the_contract_variant(case, capsys):
    check_cg(cg_variant, **case)
    assert "\u2713 cg" in capsys.readouterr().out


CG_CONTRACT_MISTAKES = [
    (dict(default=lambda n: 0), r"default maxiter=None.* took 0\.", "default_maxiter"),
    (dict(default=lambda n: 9 * n), r"default maxiter=None.* 10 n = 80 iterations.* took 72\.",
     "default_maxiter"),
    (dict(default=lambda n: 11 * n), r"default maxiter=None.* took 88\.", "default_maxiter"),
    (dict(default=lambda n: None), r"raised TypeError", None),
    (dict(test_at_bottom=True), r"x0 equal to the solution.*NaN.*top of the loop", "test_after_step"),
    (dict(strict=True), r"b = 0 .*keep equality", "strict_inequality"),
    (dict(absolute=True), r"absolute", "absolute_tolerance"),
    (dict(from_r0=True), r"relative to \|\|b\|\|, not to the initial residual",
     "tolerance_relative_to_r0"),
    (dict(sum_tol=True), r"the larger of the two, not their sum", "tolerance_sum"),
    (dict(x_minus=True), r"x and the updated residual r no longer agree", "x_update_sign"),
    (dict(in_place=True), r"changed the caller's `x0` in place", "input_modified"),
    (dict(extra_iteration=True), r"maxiter=3.* 4 iterations", "maxiter_off_by_one"),
    (dict(no_r0=True), r"should start with the initial \|\|r_0\|\|", "norms_without_r0"),
    (dict(squared=True), r"not their squares", "squared_norms"),
]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # 0/0 in the wrong variants
@pytest.mark.parametrize("kwargs, message, code", CG_CONTRACT_MISTAKES)
def test_check_cg_covers_defaults_and_edge_cases(kwargs, message, code):
    with pytest.raises(WrongAnswer, match=message) as failure:
        check_cg(lambda *a, **k: cg_variant(*a, **k, **kwargs))
    assert len(failure.value._render_traceback_()) <= 12, str(failure.value)
    assert codes_of(failure.value) == ((f"03.cg.{code}",) if code else ()), str(failure.value)


ASSERTED |= {f"03.cg.{code}" for _, _, code in CG_CONTRACT_MISTAKES if code}


def test_check_cg_says_absolute_on_every_graded_problem():
    for case in CG_CASES:
        with pytest.raises(WrongAnswer, match=r"Your stopping test looks absolute"):
            check_cg(lambda *a, **k: cg_variant(*a, **k, absolute=True), **case)


def test_check_conjugate_directions_refuses_an_in_place_x0():
    def in_place(A, b, x0=None):
        if x0 is not None:
            x0 += 0.0 * x0 + 1e-3
        return cd_student(A, b, x0)

    expect_named("03.conjugate_directions.input_modified", check_conjugate_directions, in_place,
                 match="changed the caller's `x0`")


ASSERTED |= {"03.conjugate_directions.x0_ignored", "03.conjugate_directions.input_modified"}


def test_check_lanczos_from_cg_takes_lists_as_cg_returns_them():
    def arrays_only(alphas, betas):
        # no conversion: 1 / alphas fails on a list
        k = alphas.size
        return T_loop(alphas, betas) if k else None

    expect_named("03.lanczos_from_cg.lists_not_converted", check_lanczos_from_cg, arrays_only,
                 match=r"as Python lists.*AttributeError")


ASSERTED |= {"03.lanczos_from_cg.lists_not_converted"}


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


# ---------------------------------------------------------------- the catalogue

def test_every_catalogued_misconception_is_named_by_a_test_here():
    """Each code of MISCONCEPTIONS is asserted above for a wrong implementation
    written here: the checks recognise the mistake, not only the catalogue's
    patch of the solution."""
    assert ASSERTED == set(MISCONCEPTIONS)
    for code, (description, section) in MISCONCEPTIONS.items():
        assert code.startswith("03.") and description and "\n" not in description and section, code
