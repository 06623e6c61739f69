"""Checks of lesson 06: right answers pass (two different correct
implementations each, on the visible and the hidden parameters), each typical
wrong answer is rejected with a message naming the mistake, and library
shortcuts are refused."""

from __future__ import annotations


import numpy as np
import pytest
import scipy.linalg
import scipy.sparse.linalg as sla
from scipy.linalg import solve_triangular

import krylov_ref
from krylov_ref.checks import NotAllowedError, WrongAnswer, codes_of
from krylov_ref.checks.lesson06 import check_givens_rotation, check_givens_update, check_gmres

LESSON = "06_gmres"
# The parameters of the notebook's visible and hidden tests.
ROTATION_CASES = [{}, dict(seed=7, trials=40), dict(seed=123, trials=25)]
UPDATE_CASES = [{}, dict(n=30, k=12, seed=3), dict(n=6, k=5, seed=11)]
GMRES_CASES = [{}, dict(m=10, peclet=100.0, restart=5, seed=7),
               dict(m=6, peclet=10.0, restart=12, seed=2)]


# ---------------------------------------------------------------- givens_rotation

def rotation_student(a, b, mistake=None):
    if mistake == "sqrt":
        r = np.sqrt(np.float64(a) ** 2 + np.float64(b) ** 2)
    elif mistake == "python-sqrt":        # Python floats: 3e200 ** 2 raises OverflowError
        r = (a**2 + b**2) ** 0.5
    elif mistake == "python-zero-case":   # Python floats: 0.0 / 0.0 raises ZeroDivisionError
        r = float(np.hypot(a, b))
        return a / r, b / r
    else:
        r = np.hypot(a, b)
    if mistake == "no-zero-case":
        return a / r, b / r
    if mistake == "unsigned-for-a0" and a == 0:
        return 0.0, 1.0
    if r == 0.0:
        return 1.0, 0.0
    c, s = a / r, b / r
    if mistake == "swapped":
        return s, c
    if mistake == "sign":
        return c, -s
    if mistake == "lapack":        # r carries the sign of a, so c >= 0
        sign = 1.0 if a >= 0 else -1.0
        return sign * c, sign * s
    if mistake == "unnormalised":
        return a, b
    if mistake == "triple":
        return c, s, r
    if mistake == "identity-for-b0" and b == 0:
        return 1.0, 0.0
    return c, s


def rotation_by_angle(a, b):
    # Another correct answer: the angle, by arctan2.
    if a == 0 and b == 0:
        return 1.0, 0.0
    theta = np.arctan2(b, a)
    return float(np.cos(theta)), float(np.sin(theta))


@pytest.mark.parametrize("case", ROTATION_CASES)
def test_check_givens_rotation_accepts_correct_solutions(case, capsys):
    check_givens_rotation(rotation_student, **case)
    check_givens_rotation(rotation_by_angle, **case)
    assert "\u2713 givens_rotation" in capsys.readouterr().out


@pytest.mark.parametrize("mistake, message, code", [
    ("swapped", "swapped", "swapped"),
    ("sign", "wrong sign", "s_sign"),
    ("lapack", r"r = hypot\(a, b\) >= 0", "negative_r"),
    ("unnormalised", "not 1", "not_normalised"),
    ("sqrt", "hypot", "overflow"),
    ("python-sqrt", "overflows", "overflow"),
    ("no-zero-case", "a = b = 0", "zero_pair"),
    ("python-zero-case", "divides by r = 0", "zero_pair"),
    ("identity-for-b0", "a < 0", "b_zero_identity"),
    ("unsigned-for-a0", "s = sign", "a_zero_unsigned"),
    ("triple", r"3 values", "returns_r"),
])
def test_check_givens_rotation_names_the_mistake(mistake, message, code):
    with pytest.raises(WrongAnswer, match=message) as failure:
        with np.errstate(all="ignore"):
            check_givens_rotation(lambda a, b: rotation_student(a, b, mistake))
    assert codes_of(failure.value) == (f"06.givens_rotation.{code}",)


def test_check_givens_rotation_refuses_library_rotations():
    with pytest.raises(NotAllowedError):
        check_givens_rotation(lambda a, b: tuple(scipy.linalg.lapack.dlartg(a, b)[:2]))
    with pytest.raises(NotAllowedError):
        check_givens_rotation(lambda a, b: krylov_ref.givens.givens_rotation(a, b))


# ---------------------------------------------------------------- givens_update

def update_student(h, cs, sn, g, *, mistake=None, rotation=rotation_student):
    r = np.array(h, dtype=float) if mistake != "in-place" else h
    j = len(r) - 2
    order = range(j - 1, -1, -1) if mistake == "reversed" else range(j)
    if mistake == "one-short":
        order = range(j - 1)
    if mistake != "no-old":
        for i in order:
            s_i = -sn[i] if mistake == "transposed" else sn[i]
            if mistake == "overwrite":
                r[i] = cs[i] * r[i] + s_i * r[i + 1]
                r[i + 1] = -s_i * r[i] + cs[i] * r[i + 1]
            else:
                r[i], r[i + 1] = cs[i] * r[i] + s_i * r[i + 1], -s_i * r[i] + cs[i] * r[i + 1]
    a = h[j] if mistake == "unrotated" else r[j]
    c, s = rotation(a, r[j + 1])
    if mistake != "diagonal":
        r[j] = c * r[j] + s * r[j + 1]
    if mistake == "append-cs" and isinstance(cs, list):
        cs.append(c)
        sn.append(s)
    if mistake == "append-always":
        cs.append(c)
        sn.append(s)
    g_new = np.append(g, (s if mistake == "g-sign" else -s) * g[j])
    if mistake != "g-stale":
        g_new[j] = c * g[j]
    if mistake == "g-overwrite":
        g_new[j + 1] = -s * g_new[j]
    if mistake == "keep-zero":
        return r, c, s, g_new
    if mistake == "short-g":
        return r[: j + 1], c, s, g_new[:-1]
    return r[: j + 1], c, s, g_new


def update_by_matrices(h, cs, sn, g):
    # Another correct answer: build the rotations as (j+2) x (j+2) matrices.
    h = np.asarray(h, dtype=float)
    j = h.size - 2
    Q = np.eye(j + 2)
    for i in range(j):
        G = np.eye(j + 2)
        G[i:i + 2, i:i + 2] = [[cs[i], sn[i]], [-sn[i], cs[i]]]
        Q = G @ Q
    col = Q @ h
    rho = np.hypot(col[j], col[j + 1])
    c, s = (1.0, 0.0) if rho == 0 else (col[j] / rho, col[j + 1] / rho)
    col[j] = rho
    g_new = np.concatenate([np.asarray(g, dtype=float), [0.0]])
    g_new[j], g_new[j + 1] = c * g_new[j], -s * g_new[j]
    return col[: j + 1], c, s, g_new


@pytest.mark.parametrize("case", UPDATE_CASES)
def test_check_givens_update_accepts_correct_solutions(case, capsys):
    check_givens_update(update_student, **case)
    check_givens_update(update_by_matrices, **case)
    assert "\u2713 givens_update" in capsys.readouterr().out


@pytest.mark.parametrize("mistake, message, code", [
    ("no-old", "new column h", "no_old_rotations"),
    ("reversed", "reverse order", "reverse_order"),
    ("transposed", "wrong sign of s", "old_rotations_transposed"),
    ("overwrite", "old pair", "old_rotations_overwrite"),
    ("one-short", "is not applied", "last_old_rotation_missing"),
    ("unrotated", r"\*rotated\* entry j", "rotation_from_unrotated"),
    ("diagonal", "before the new rotation", "diagonal_not_rotated"),
    ("g-sign", r"g\[j \+ 1\] has the wrong sign", "g_next_sign"),
    ("g-stale", r"g\[j\] was not updated", "g_j_not_rotated"),
    ("g-overwrite", r"from the new g\[j\]", "g_overwrite"),
    ("keep-zero", "r has", "r_too_long"),
    ("short-g", "appends one", "g_not_extended"),
    ("in-place", "changed the caller's `h`", "h_modified"),
    ("append-cs", "changed the caller's `cs`", "cs_appended"),
    ("append-always", "appends to cs or sn", "cs_appended"),
])
def test_check_givens_update_names_the_mistake(mistake, message, code):
    with pytest.raises(WrongAnswer, match=message) as failure:
        check_givens_update(lambda h, cs, sn, g: update_student(h, cs, sn, g, mistake=mistake))
    assert codes_of(failure.value) == (f"06.givens_update.{code}",)


@pytest.mark.parametrize("case", UPDATE_CASES[1:])
@pytest.mark.parametrize("mistake, code", [("no-old", "no_old_rotations"),
                                           ("one-short", "last_old_rotation_missing"),
                                           ("overwrite", "old_rotations_overwrite")])
def test_check_givens_update_tells_the_rotation_mistakes_apart_in_the_hidden_tests(
        case, mistake, code):
    # At j = 1 "no earlier rotation" and "all but the last" give the same column;
    # the check looks at step 2 to tell them apart.
    with pytest.raises(WrongAnswer) as failure:
        check_givens_update(lambda h, cs, sn, g: update_student(h, cs, sn, g, mistake=mistake),
                            **case)
    assert codes_of(failure.value) == (f"06.givens_update.{code}",)


def test_check_givens_update_catches_a_wrong_rotation_convention():
    def lapack_sign(a, b):
        c, s = rotation_student(a, b)
        return (-c, -s) if a < 0 else (c, s)
    with pytest.raises(WrongAnswer, match="new rotation"):
        check_givens_update(lambda h, cs, sn, g: update_student(h, cs, sn, g, rotation=lapack_sign))


def test_check_givens_update_refuses_qr_and_the_reference():
    def by_qr(h, cs, sn, g):
        np.linalg.qr(np.eye(2))
        return update_student(h, cs, sn, g)
    with pytest.raises(NotAllowedError):
        check_givens_update(by_qr)
    with pytest.raises(NotAllowedError):
        check_givens_update(lambda h, cs, sn, g: krylov_ref.givens.givens_update(h, cs, sn, g))


# ---------------------------------------------------------------- gmres

def gmres_student(A, b, x0=None, *, rtol=1e-5, atol=0.0, restart=20, maxiter=None,
                  mistake=None, gram_schmidt="modified"):
    n = len(b)
    if not np.any(b) and mistake != "b-zero":
        return np.zeros(n), [0.0]
    x = np.zeros(n) if x0 is None else (x0 if mistake == "x0-in-place" else np.array(x0, dtype=float))
    if mistake == "ignore-x0":
        x = np.zeros(n)
    maxiter = (n if mistake == "default-maxiter-n" else 10 * n) if maxiter is None else maxiter
    if mistake == "maxiter-plus-one":
        maxiter += 1
    tol = max(rtol * np.linalg.norm(b), atol)
    if mistake == "sum-tol":
        tol = rtol * np.linalg.norm(b) + atol
    if mistake == "absolute-tol":
        tol = max(rtol, atol)
    passes = (lambda v: v < tol) if mistake == "strict" else (lambda v: v <= tol)
    m = min(restart, n) if mistake != "no-restart" else n
    if mistake == "default-restart":
        m = min(10, n) if restart == 20 else min(restart, n)
    r = b - A @ x
    beta = np.linalg.norm(r)
    if mistake == "relative-to-r0":
        tol = max(rtol * beta, atol)
    norms = [beta]
    iterations = cycles = 0
    first = x.copy()
    while ((not passes(beta) or (mistake == "no-first-test" and cycles == 0))
           and (iterations < maxiter or mistake == "maxiter-cycles")):
        cycles += 1
        if mistake == "maxiter-cycles" and cycles > maxiter:
            break
        Q = [r / beta]
        R = np.zeros((m, m))
        cs, sn, g = [], [], np.array([beta])
        k = 0
        while k < m and (iterations < maxiter
                         or mistake in ("maxiter-cycles", "maxiter-between-cycles")):
            w = A @ Q[k]
            h = np.zeros(k + 2)
            if gram_schmidt == "classical":
                h[: k + 1] = np.array(Q) @ w
                w = w - h[: k + 1] @ np.array(Q)
                correction = np.array(Q) @ w
                w = w - correction @ np.array(Q)
                h[: k + 1] += correction
            else:
                for i in range(k + 1):
                    h[i] = Q[i] @ w
                    w = w - h[i] * Q[i]
            h[k + 1] = np.linalg.norm(w)
            rotated = h.copy()
            for i in range(k):
                rotated[i], rotated[i + 1] = (cs[i] * rotated[i] + sn[i] * rotated[i + 1],
                                              -sn[i] * rotated[i] + cs[i] * rotated[i + 1])
            c, s = rotation_student(rotated[k], rotated[k + 1])
            R[: k, k] = rotated[:k]
            R[k, k] = c * rotated[k] + s * rotated[k + 1]
            cs.append(c)
            sn.append(s)
            g = np.append(g, -s * g[k])
            g[k] = c * g[k]
            k += 1
            iterations += 1
            norms.append(g[k] if mistake == "signed-estimate" else abs(g[k]))
            if mistake == "true-every-step":
                y = solve_triangular(R[:k, :k], g[:k])
                np.linalg.norm(b - A @ (x + y @ np.array(Q[:k])))
            bound = 1e-12 if mistake == "absolute-breakdown" else 1e-12 * np.linalg.norm(h)
            happy = h[k] <= bound and mistake != "no-happy-test"
            if mistake == "divide-first":
                Q.append(w / h[k])
            if passes(norms[-1]) or happy:
                break
            if mistake != "divide-first":
                Q.append(w / h[k])
        y = solve_triangular(R[:k, :k], g[:k])
        if mistake == "x0-in-place":
            x += y @ np.array(Q[:k])
        else:
            x = (first if mistake == "forget-x" else x) + y @ np.array(Q[:k])
        if mistake != "restart-from-r0":
            r = b - A @ x
        beta = np.linalg.norm(r) if mistake != "restart-from-r0" else np.linalg.norm(b - A @ x)
        if mistake == "append-true":
            norms.append(beta)
        elif mistake != "no-replace":
            norms[-1] = beta
    return x, norms


def gmres_with_own_update(A, b, x0=None, *, rtol=1e-5, atol=0.0, restart=20, maxiter=None):
    """Another correct answer: classical Gram-Schmidt twice, rotations as arrays,
    the back substitution written out, one counter for everything."""
    n = len(b)
    if not np.any(b):
        return np.zeros(n), [0.0]
    x = np.zeros(n) if x0 is None else np.array(x0, dtype=float)
    maxiter = 10 * n if maxiter is None else maxiter
    tol = max(rtol * np.linalg.norm(b), atol)
    m = min(restart, n)
    r = b - A @ x
    norms = [np.linalg.norm(r)]
    total = 0
    while norms[-1] > tol and total < maxiter:
        V = np.zeros((m + 1, n))
        V[0] = r / norms[-1]
        R = np.zeros((m, m))
        cs, sn = np.zeros(m), np.zeros(m)
        g = np.zeros(m + 1)
        g[0] = norms[-1]
        steps = 0
        for k in range(min(m, maxiter - total)):
            w = A @ V[k]
            h = V[: k + 1] @ w
            w -= h @ V[: k + 1]
            extra = V[: k + 1] @ w
            w -= extra @ V[: k + 1]
            col = np.append(h + extra, np.linalg.norm(w))
            scale = np.linalg.norm(col)
            for i in range(k):
                col[i], col[i + 1] = cs[i] * col[i] + sn[i] * col[i + 1], -sn[i] * col[i] + cs[i] * col[i + 1]
            rho = np.hypot(col[k], col[k + 1])
            cs[k], sn[k] = (col[k] / rho, col[k + 1] / rho) if rho else (1.0, 0.0)
            R[: k + 1, k] = np.append(col[:k], rho)
            g[k + 1], g[k] = -sn[k] * g[k], cs[k] * g[k]
            steps, total = k + 1, total + 1
            norms.append(abs(g[k + 1]))
            if norms[-1] <= tol or col[k + 1] <= 1e-12 * scale:
                break
            V[k + 1] = w / col[k + 1]
        y = np.zeros(steps)
        for i in range(steps - 1, -1, -1):
            y[i] = (g[i] - R[i, i + 1:steps] @ y[i + 1:]) / R[i, i]
        x += y @ V[:steps]
        r = b - A @ x
        norms[-1] = np.linalg.norm(r)
    return x, norms


@pytest.mark.parametrize("case", GMRES_CASES)
def test_check_gmres_accepts_correct_solutions(case, capsys):
    check_gmres(gmres_student, **case)
    check_gmres(lambda *a, **k: gmres_student(*a, **k, gram_schmidt="classical"), **case)
    check_gmres(gmres_with_own_update, **case)
    assert "\u2713 gmres" in capsys.readouterr().out


GMRES_MISTAKES = [
    ("no-restart", "does not restart", "no_restart"),
    ("forget-x", "added to x0, not to the current x", "x_not_accumulated"),
    ("restart-from-r0", "starts from the old residual", "restart_from_r0"),
    ("maxiter-cycles", "in cycles", "maxiter_cycles"),
    ("maxiter-between-cycles", "between cycles", "maxiter_between_cycles"),
    ("maxiter-plus-one", "off by one", "maxiter_off_by_one"),
    ("default-maxiter-n", "the default is 10 n", "default_maxiter"),
    ("append-true", "replaces", "true_residual_appended"),
    ("no-replace", "true residual", "true_residual_not_recorded"),
    ("signed-estimate", r"\|g_\{k\+1\}\|", "estimate_signed"),
    ("ignore-x0", "starts from x = 0", "x0_ignored"),
    ("x0-in-place", "changed the caller's `x0`", "x0_modified"),
    ("relative-to-r0", "not to the initial residual", "tol_from_r0"),
    ("absolute-tol", "an absolute test", "tol_absolute"),
    ("strict", "with equality", "strict_stop_test"),
    ("divide-first", "divided by zero", "divides_at_breakdown"),
    ("b-zero", "b = 0", "b_zero"),
    ("no-first-test", "x0 equal to the solution", "no_initial_test"),
    ("true-every-step", "products with A", "extra_products"),
    ("no-happy-test", "a happy breakdown, but your gmres went on", "no_breakdown_test"),
    ("absolute-breakdown", "absolute 1e-12", "breakdown_test_absolute"),
    ("sum-tol", "the larger of the two, not their sum", "tol_sum"),
    # Not catalogued: a wrong default restart shows as a history that no named
    # mistake explains.
    ("default-restart", "default", None),
]


@pytest.mark.parametrize("mistake, message, code", GMRES_MISTAKES)
def test_check_gmres_names_the_mistake(mistake, message, code):
    # (No np.errstate here: the check reads the warnings of a division by zero.)
    with pytest.raises(WrongAnswer, match=message) as failure:
        check_gmres(lambda *a, **k: gmres_student(*a, **k, mistake=mistake))
    assert codes_of(failure.value) == ((f"06.gmres.{code}",) if code else ())


@pytest.mark.parametrize("case", GMRES_CASES[1:])
@pytest.mark.parametrize("mistake, code", [(m, c) for m, _, c in GMRES_MISTAKES if c])
def test_check_gmres_names_the_mistake_in_the_hidden_tests_too(case, mistake, code):
    with pytest.raises(WrongAnswer) as failure:
        check_gmres(lambda *a, **k: gmres_student(*a, **k, mistake=mistake), **case)
    assert codes_of(failure.value) == (f"06.gmres.{code}",)


@pytest.mark.parametrize("kwargs", [dict(rtol=1e-8, restart=10), dict(rtol=1e-14, restart=10,
                                                                     maxiter=25),
                                    dict(restart=1, rtol=1e-6), dict(rtol=0.0, atol=1.0)])
def test_the_history_of_no_mistake_is_the_reference_history(kwargs):
    # The named histories are the box with one departure each: without one, the
    # reference's history (to the tolerance of the comparisons).
    from krylov_ref.checks.lesson06 import _gmres_variant, _same_history
    from krylov_ref.problems import convection_diffusion2d

    prob = convection_diffusion2d(8, peclet=50.0, seed=0)
    for x0 in (None, np.random.default_rng(1).standard_normal(prob.n)):
        ref = krylov_ref.gmres(prob.A, prob.b, x0, **kwargs)
        history = _gmres_variant(prob.A, prob.b, x0, **kwargs)
        assert _same_history(np.asarray(ref.residual_norms), history)


def test_check_gmres_refuses_library_solvers():
    def via_scipy(A, b, x0=None, *, rtol=1e-5, atol=0.0, restart=20, maxiter=None):
        x, _ = sla.gmres(A, b, x0, rtol=rtol, atol=atol, restart=restart)
        return x, [np.linalg.norm(b)]

    def via_lstsq(A, b, x0=None, **kwargs):
        np.linalg.lstsq(np.eye(2), np.ones(2), rcond=None)
        return gmres_student(A, b, x0, **kwargs)

    def via_reference(A, b, x0=None, **kwargs):
        res = krylov_ref.gmres(A, b, x0, **kwargs)
        return res.x, list(res.residual_norms)

    for cheat in (via_scipy, via_lstsq, via_reference):
        with pytest.raises(NotAllowedError):
            check_gmres(cheat)


@pytest.mark.parametrize("case", GMRES_CASES)
def test_check_gmres_fails_a_gmres_without_the_happy_breakdown_test(case):
    # The tolerance test alone ends every exact breakdown (h = 0 gives s = 0 and
    # the estimate 0); the visible and the hidden tests both need the test of h.
    with pytest.raises(WrongAnswer, match=r"h_\{\d,\d\} = 9.1e-13 <= 1e-12 \|\|h\|\|, a happy "
                                          r"breakdown, but your gmres went on"):
        check_gmres(lambda *a, **k: gmres_student(*a, **k, mistake="no-happy-test"), **case)


def test_the_near_breakdown_case_is_what_it_claims():
    from krylov_ref.checks.lesson06 import LEAK, _near_invariant

    for d in (4, 5, 6):
        A, b = _near_invariant(d)
        assert np.linalg.cond(A) < 3
        # K_d(A, b) = span(e_0, ..., e_{d-1}), and A e_{d-1} leaves it by LEAK only.
        Q = np.eye(d + 1)[:, :d]
        for k in range(d):
            np.testing.assert_array_equal(np.linalg.matrix_power(A, k) @ b, Q[:, k])
        h = Q.T @ (A @ Q[:, -1])
        w = A @ Q[:, -1] - Q @ h
        assert np.linalg.norm(w) == LEAK <= 1e-12 * np.linalg.norm(np.append(h, LEAK))
        res = krylov_ref.gmres(A, b, rtol=1e-14, restart=20)
        assert res.converged and res.cycles == 2 and res.iterations == 2 * d + 1
        assert res.residual_norms[d] > 1e-14      # the tolerance test does not end the cycle


def test_each_exercise_refuses_in_its_own_words():
    import scipy.linalg.lapack as lapack

    def rotation_by_lapack(a, b):
        c, s, _ = lapack.dlartg(a, b)
        return c, s

    def update_by_qr(h, cs, sn, g):
        np.linalg.qr(np.eye(2))

    def gmres_by_scipy(A, b, x0=None, **kwargs):
        return sla.gmres(A, b)[0], [0.0]

    for check, cheat, words in [(check_givens_rotation, rotation_by_lapack, "np.hypot"),
                                (check_givens_update, update_by_qr, "your givens_rotation"),
                                (check_gmres, gmres_by_scipy, "solve_triangular is allowed")]:
        with pytest.raises(NotAllowedError, match="is not allowed in this exercise") as refused:
            check(cheat)
        assert words in str(refused.value) and "A @ v and vector" not in str(refused.value)


def test_check_gmres_wants_a_pair():
    with pytest.raises(WrongAnswer, match="tuple"):
        check_gmres(lambda *a, **k: gmres_student(*a, **k)[0])
