"""Checks of lesson 09: right answers pass (several correct implementations
each, on the visible and the hidden parameters), each typical wrong answer is
rejected with a message naming the mistake, and library shortcuts are refused."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse.linalg as spla

import krylov_ref
import krylov_ref.gp
from krylov_ref.checks import NotAllowedError, WrongAnswer, codes_of
from krylov_ref.checks.lesson09 import (MISCONCEPTIONS, check_gp_nll, check_hutchinson_trace,
                                        check_hutchpp, check_slq_logdet)

# The parameters of the notebook's visible and hidden tests.
H_CASES = [{}, dict(n=73, num_probes=1, seed=11), dict(n=25, num_probes=12, seed=2024)]
PP_CASES = [{}, dict(n=45, num_matvecs=3, seed=7), dict(n=80, num_matvecs=30, seed=2024)]
SLQ_CASES = [{}, dict(n=90, num_probes=1, k=1, seed=5), dict(n=45, num_probes=7, k=20, seed=3)]
NLL_CASES = [{}, dict(n=120, num_probes=2, k=25, seed=4), dict(n=64, num_probes=1, k=1, seed=9)]


def probes(n, num_probes, seed):
    return np.random.default_rng(seed).choice([-1.0, 1.0], size=(num_probes, n))


# ---------------------------------------------------------------- hutchinson_trace

def hutchinson_loop(A, num_probes, *, seed=0):
    n = A.shape[0]
    return float(np.mean([z @ (A @ z) for z in probes(n, num_probes, seed)]))


def hutchinson_block(A, num_probes, *, seed=0):
    # All probes in one block product; probes drawn as 2 * integers - 1 (the same stream).
    n = A.shape[0]
    Z = 2.0 * np.random.default_rng(seed).integers(0, 2, size=(num_probes, n)) - 1.0
    return np.einsum("ij,ji->", Z, A @ Z.T) / num_probes


def hutchinson_one_at_a_time(A, num_probes, *, seed=0):
    rng = np.random.default_rng(seed)
    total = 0.0
    for _ in range(num_probes):
        z = rng.choice([-1.0, 1.0], size=A.shape[0])
        total += z @ (A @ z)
    return total / num_probes


@pytest.mark.parametrize("case", H_CASES)
def test_check_hutchinson_trace_accepts_correct_solutions(case, capsys):
    for student in (hutchinson_loop, hutchinson_block, hutchinson_one_at_a_time):
        check_hutchinson_trace(student, **case)
    assert "\u2713 hutchinson_trace" in capsys.readouterr().out


def h_wrong(mistake):
    def hutchinson_trace(A, num_probes, *, seed=0):
        n = A.shape[0]
        if mistake == "columns":
            Z = np.random.default_rng(seed).choice([-1.0, 1.0], size=(n, num_probes)).T
        elif mistake == "same":
            Z = np.array([np.random.default_rng(seed).choice([-1.0, 1.0], size=n)
                          for _ in range(num_probes)])
        elif mistake == "gaussian":
            Z = np.random.default_rng(seed).standard_normal((num_probes, n))
        elif mistake == "zero-one":
            Z = np.random.default_rng(seed).integers(0, 2, size=(num_probes, n)).astype(float)
        elif mistake == "unseeded":
            Z = np.random.default_rng().choice([-1.0, 1.0], size=(num_probes, n))
        elif mistake == "seed ignored":
            Z = probes(n, num_probes, 0)
        else:
            Z = probes(n, num_probes, seed)
        forms = [z @ (A @ z) for z in Z]
        if mistake == "squared norm":
            forms = [np.linalg.norm(A @ z) ** 2 for z in Z]
        if mistake == "twice":
            forms = [z @ (A @ z) for z in Z]
        if mistake == "sum":
            return float(np.sum(forms))
        if mistake == "over n":
            return float(np.mean(forms)) / n
        if mistake == "p-1":
            return float(np.sum(forms)) / (num_probes - 1)
        if mistake == "array":
            return np.array([np.mean(forms)])
        if mistake == "none":
            return None
        return float(np.mean(forms))
    return hutchinson_trace


@pytest.mark.parametrize("mistake, message, code", [
    ("columns", "columns", "probes_as_columns"),
    ("same", "same vector", "same_probe"),
    ("gaussian", "Gaussian", "gaussian_probes"),
    ("zero-one", "entries 0 and 1", "zero_one_probes"),
    ("unseeded", "without a seed", "unseeded"),
    ("seed ignored", "seed=1", "seed_ignored"),
    ("squared norm", r"\|\|A z_i\|\|\^2", "squared_norm"),
    ("p-1", "num_probes - 1", "divided_by_p_minus_1"),
    ("twice", "products with A", None),
    ("sum", "sum", "sum_not_mean"),
    ("over n", "divided by n", "divided_by_n"),
    ("array", "single number", None),
    ("none", "None", None),
])
def test_check_hutchinson_trace_names_the_mistake(mistake, message, code):
    with pytest.raises(WrongAnswer, match=message) as failure:
        check_hutchinson_trace(h_wrong(mistake))
    assert codes_of(failure.value) == ((f"09.hutchinson_trace.{code}",) if code else ())


def test_check_hutchinson_trace_names_an_ignored_seed_in_the_hidden_tests():
    # There the first call has seed != 0: the estimate of seed 0 is recognised.
    with pytest.raises(WrongAnswer, match="seed=0") as failure:
        check_hutchinson_trace(h_wrong("seed ignored"), **H_CASES[1])
    assert codes_of(failure.value) == ("09.hutchinson_trace.seed_ignored",)


def test_check_hutchinson_trace_catches_defaults_inputs_and_shortcuts():
    def default_seed_1(A, num_probes, *, seed=1):
        return hutchinson_loop(A, num_probes, seed=seed)

    def changes_A(A, num_probes, *, seed=0):
        if isinstance(A, np.ndarray):
            A *= 1.0 + 1e-3
        return hutchinson_loop(A, num_probes, seed=seed)

    def reference(A, num_probes, *, seed=0):
        return krylov_ref.gp.hutchinson_trace(A, num_probes, seed)

    def dense(A, num_probes, *, seed=0):
        return float(np.trace(np.asarray(A)))

    with pytest.raises(WrongAnswer, match="seed=0") as failure:
        check_hutchinson_trace(default_seed_1)
    assert codes_of(failure.value) == ("09.hutchinson_trace.default_seed",)
    with pytest.raises(WrongAnswer, match="changed the matrix"):
        check_hutchinson_trace(changes_A)
    with pytest.raises(NotAllowedError):
        check_hutchinson_trace(reference)
    with pytest.raises(WrongAnswer):
        check_hutchinson_trace(dense)


# ---------------------------------------------------------------- hutchpp

def hutchpp_block(A, num_matvecs, *, seed=0):
    n = A.shape[0]
    k = num_matvecs // 3
    if k < 1 or 3 * k != num_matvecs:
        raise ValueError("num_matvecs must be a positive multiple of 3")
    rng = np.random.default_rng(seed)
    S = rng.choice([-1.0, 1.0], size=(n, k))
    G = rng.choice([-1.0, 1.0], size=(n, k))
    Q, _ = np.linalg.qr(A @ S)
    G = G - Q @ (Q.T @ G)
    return float(np.trace(Q.T @ (A @ Q)) + np.trace(G.T @ (A @ G)) / k)


def hutchpp_columns(A, num_matvecs, *, seed=0):
    # One product per column, modified Gram-Schmidt for Q, the projector applied to A G's
    # result on the left instead of to G twice: the same number up to rounding.
    if not isinstance(num_matvecs, int) or num_matvecs <= 0 or num_matvecs % 3:
        raise ValueError(f"bad num_matvecs {num_matvecs}")
    n, k = A.shape[0], num_matvecs // 3
    rng = np.random.default_rng(seed)
    S = rng.choice([-1.0, 1.0], size=(n, k))
    G = rng.choice([-1.0, 1.0], size=(n, k))
    Y = np.column_stack([A @ s for s in S.T])
    Q = np.zeros((n, k))
    for j in range(k):
        w = Y[:, j].copy()
        for i in range(j):
            w -= (Q[:, i] @ w) * Q[:, i]
        Q[:, j] = w / np.linalg.norm(w)
    AQ = np.column_stack([A @ q for q in Q.T])
    Gp = G - Q @ (Q.T @ G)
    AGp = np.column_stack([A @ g for g in Gp.T])
    AGp -= Q @ (Q.T @ AGp)
    return np.trace(Q.T @ AQ) + np.trace(G.T @ AGp) / k


def hutchpp_scipy_qr(A, num_matvecs, *, seed=0):
    k, rest = divmod(num_matvecs, 3)
    if rest or k < 1:
        raise ValueError("num_matvecs")
    rng = np.random.default_rng(seed)
    S, G = (rng.choice([-1.0, 1.0], size=(A.shape[0], k)) for _ in range(2))
    Q, _ = scipy.linalg.qr(A @ S, mode="economic")
    G -= Q @ (Q.T @ G)
    return np.einsum("ij,ij->", Q, A @ Q) + np.einsum("ij,ij->", G, A @ G) / k


@pytest.mark.parametrize("case", PP_CASES)
def test_check_hutchpp_accepts_correct_solutions(case, capsys):
    for student in (hutchpp_block, hutchpp_columns, hutchpp_scipy_qr):
        check_hutchpp(student, **case)
    assert "\u2713 hutchpp" in capsys.readouterr().out


def pp_wrong(mistake):
    def hutchpp(A, num_matvecs, *, seed=0):
        n = A.shape[0]
        k = num_matvecs // 3
        if mistake != "no check" and (k < 1 or 3 * k != num_matvecs):
            raise ValueError("num_matvecs must be a positive multiple of 3")
        if mistake == "no split":
            k = num_matvecs
        rng = np.random.default_rng(seed)
        S = rng.choice([-1.0, 1.0], size=(n, k))
        G = S.copy() if mistake == "reuse S" else rng.choice([-1.0, 1.0], size=(n, k))
        Y = A @ S
        Q = Y if mistake == "no qr" else np.linalg.qr(Y)[0]
        Gp = G if mistake == "not projected" else G - Q @ (Q.T @ G)
        left = G if mistake == "one side" else Gp
        first = 0.0 if mistake == "no first term" else np.sum(Q * (A @ Q))
        second = np.sum(left * (A @ Gp)) / (num_matvecs if mistake == "by m" else k)
        if mistake == "twice":
            second = np.sum(left * (A @ Gp)) / k
        if mistake == "none":
            return None
        return float(first + second)
    return hutchpp


@pytest.mark.parametrize("mistake, message, code", [
    ("no qr", "orthonormal basis", "no_orthonormalisation"),
    ("no first term", "leaves out trace", "sketch_trace_omitted"),
    ("not projected", "not projected", "probes_not_projected"),
    ("one side", "one side only", "one_sided_projection"),
    ("by m", "divided by num_matvecs", "divided_by_m"),
    ("reuse S", "independent of Q", "sketch_reused_as_probes"),
    ("no split", "36 products", "budget_not_split"),
    ("no check", "should raise ValueError", "budget_not_checked"),
    ("twice", "products with A", None),
    ("none", "None", None),
])
def test_check_hutchpp_names_the_mistake(mistake, message, code):
    with pytest.raises(WrongAnswer, match=message) as failure:
        check_hutchpp(pp_wrong(mistake))
    assert codes_of(failure.value) == ((f"09.hutchpp.{code}",) if code else ())


def test_check_hutchpp_catches_other_errors_and_shortcuts():
    def raises_type_error(A, num_matvecs, *, seed=0):
        if num_matvecs % 3:
            raise TypeError("not a multiple of 3")
        return hutchpp_block(A, num_matvecs, seed=seed)

    def reference(A, num_matvecs, *, seed=0):
        return krylov_ref.gp.hutchpp(A, num_matvecs, seed)

    def dense(A, num_matvecs, *, seed=0):
        return float(np.trace(np.asarray(A)))

    with pytest.raises(WrongAnswer, match=r"should raise ValueError \(.*\), but raised TypeError"):
        check_hutchpp(raises_type_error)
    with pytest.raises(NotAllowedError):
        check_hutchpp(reference)
    with pytest.raises(WrongAnswer):
        check_hutchpp(dense)


def test_hutchpp_catalogue_has_at_least_six_entries_each_with_its_section():
    codes = [code for code in MISCONCEPTIONS if code.startswith("09.hutchpp.")]
    assert len(codes) >= 6
    assert all(MISCONCEPTIONS[code][1] for code in codes)


# ---------------------------------------------------------------- slq_logdet

def slq_solution(A, num_probes, k, *, seed=0, lanczos=None):
    if lanczos is None:
        lanczos = krylov_ref.lanczos
    n = A.shape[0]
    estimates = []
    for z in probes(n, num_probes, seed):
        _, alpha, beta = lanczos(A, z, k)
        theta, U = scipy.linalg.eigh_tridiagonal(alpha, beta[:-1])
        estimates.append(n * np.sum(U[0] ** 2 * np.log(theta)))
    return float(np.mean(estimates))


def slq_dense_eigh(A, num_probes, k, *, seed=0, lanczos=None):
    # np.linalg.eigh on the dense T, probes drawn one at a time, a normalised start vector.
    run = lanczos if lanczos is not None else krylov_ref.lanczos
    rng = np.random.default_rng(seed)
    n = A.shape[0]
    total = 0.0
    for _ in range(num_probes):
        z = rng.choice([-1.0, 1.0], size=n)
        _, alpha, beta = run(A, z / np.sqrt(n), k)
        T = krylov_ref.tridiagonal(alpha, beta[: len(alpha) - 1])
        theta, U = np.linalg.eigh(T)
        total += (z @ z) * (U[0] ** 2 @ np.log(theta))
    return total / num_probes


def slq_reorthogonalised(A, num_probes, k, *, seed=0, lanczos=None):
    n = A.shape[0]
    out = []
    for z in probes(n, num_probes, seed):
        if lanczos is None:
            _, alpha, beta = krylov_ref.lanczos(A, z, k, reorthogonalize=True)
        else:
            _, alpha, beta = lanczos(A, z, k)
        theta, U = scipy.linalg.eigh_tridiagonal(alpha, beta[:-1])
        out.append(n * U[0] ** 2 @ np.log(theta))
    return np.mean(out)


@pytest.mark.parametrize("case", SLQ_CASES)
def test_check_slq_logdet_accepts_correct_solutions(case, capsys):
    for student in (slq_solution, slq_dense_eigh, slq_reorthogonalised):
        check_slq_logdet(student, **case)
    assert "\u2713 slq_logdet" in capsys.readouterr().out


def slq_wrong(mistake):
    def slq_logdet(A, num_probes, k, *, seed=0, lanczos=None):
        if lanczos is None or mistake == "ignores lanczos":
            lanczos = krylov_ref.lanczos
        n = A.shape[0]
        steps = k - 1 if mistake == "k-1" and k > 1 else k
        out = []
        Z = probes(n, num_probes, seed)
        if mistake == "gaussian":
            Z = np.random.default_rng(seed).standard_normal((num_probes, n))
        if mistake == "same":
            Z = [probes(n, 1, seed)[0] for _ in range(num_probes)]
        for z in Z:
            _, alpha, beta = lanczos(A, z, steps)
            if mistake == "k from the contract":
                T = np.zeros((k, k))
                T[np.arange(k), np.arange(k)] = alpha
                theta, U = np.linalg.eigh(T + np.diag(beta[: k - 1], 1) + np.diag(beta[: k - 1], -1))
            else:
                theta, U = scipy.linalg.eigh_tridiagonal(alpha, beta[:-1])
            w = {"last": U[-1] ** 2, "unsquared": np.abs(U[0]), "signed": U[0],
                 "first column": U[:, 0] ** 2}.get(mistake, U[0] ** 2)
            value = np.sum(w * np.log(theta))
            if mistake == "logdet T":
                value = np.sum(np.log(theta))
            out.append(value if mistake in ("no n", "logdet T") else
                       np.sqrt(n) * value if mistake == "sqrt n" else n * value)
        if mistake == "sum":
            return float(np.sum(out))
        return float(np.mean(out))
    return slq_logdet


@pytest.mark.parametrize("mistake, message, code", [
    ("no n", r"\|\|z\|\|\^2 = n", "no_n"),
    ("sqrt n", r"sqrt\(n\)", "norm_not_squared"),
    ("last", "LAST", "last_row"),
    ("first column", "first eigenvector", "first_column"),
    ("unsquared", "squared", "weights_unsquared"),
    ("signed", "squared", "weights_unsquared"),
    ("logdet T", "log det T_k", "logdet_of_T"),
    ("sum", "sum over the probes", "sum_not_mean"),
    ("gaussian", "Gaussian", "gaussian_probes"),
    ("same", "same vector", "same_probe"),
    ("ignores lanczos", "did not call the `lanczos`", "lanczos_ignored"),
    ("k-1", "products with A", "k_minus_one_steps"),
])
def test_check_slq_logdet_names_the_mistake(mistake, message, code):
    with pytest.raises(WrongAnswer, match=message) as failure:
        check_slq_logdet(slq_wrong(mistake))
    assert codes_of(failure.value) == (f"09.slq_logdet.{code}",)


def test_check_slq_logdet_names_both_mistakes_that_one_step_cannot_tell_apart():
    # With k = 1 (a hidden test), T_1 = [alpha_0] and its one weight is 1: log det T_1
    # and the quadrature without the factor n are the same number.
    with pytest.raises(WrongAnswer) as failure:
        check_slq_logdet(slq_wrong("logdet T"), **SLQ_CASES[1])
    assert set(codes_of(failure.value)) == {"09.slq_logdet.no_n", "09.slq_logdet.logdet_of_T"}


def test_check_slq_logdet_catches_early_stopping_defaults_and_shortcuts():
    def default_seed_1(A, num_probes, k, *, seed=1, lanczos=None):
        return slq_solution(A, num_probes, k, seed=seed, lanczos=lanczos)

    def reference(A, num_probes, k, *, seed=0, lanczos=None):
        return krylov_ref.slq_logdet(A, num_probes, k, seed)

    def probe_not_started_from(A, num_probes, k, *, seed=0, lanczos=None):
        # Starts from -z: the same quadrature (z^T f(A) z is even in z), not the contract.
        run = lanczos or krylov_ref.lanczos
        n = A.shape[0]
        out = []
        for z in probes(n, num_probes, seed):
            _, alpha, beta = run(A, -z, k)
            theta, U = scipy.linalg.eigh_tridiagonal(alpha, beta[:-1])
            out.append(n * U[0] ** 2 @ np.log(theta))
        return float(np.mean(out))

    # Building T_k x k from k, not from what Lanczos returned, breaks when it stops early.
    with pytest.raises(WrongAnswer):
        check_slq_logdet(slq_wrong("k from the contract"))
    def changes_A(A, num_probes, k, *, seed=0, lanczos=None):
        if isinstance(A, np.ndarray):
            A += 0.0 * A + 1e-6 * np.eye(A.shape[0])
        return slq_solution(A, num_probes, k, seed=seed, lanczos=lanczos)

    with pytest.raises(WrongAnswer, match="seed=0") as failure:
        check_slq_logdet(default_seed_1)
    assert codes_of(failure.value) == ("09.slq_logdet.default_seed",)
    with pytest.raises(WrongAnswer, match="changed the matrix A"):
        check_slq_logdet(changes_A)
    with pytest.raises(WrongAnswer, match="not started from probe"):
        check_slq_logdet(probe_not_started_from)
    with pytest.raises(NotAllowedError):
        check_slq_logdet(reference)


# ---------------------------------------------------------------- gp_nll

def nll_solution(A, y, dA, *, num_probes=10, k=30, seed=0, rtol=1e-8):
    n = y.shape[0]
    alpha = krylov_ref.cg(A, y, rtol=rtol).x
    logdet = slq_solution(A, num_probes, k, seed=seed)
    Z = probes(n, num_probes, seed)
    U = [krylov_ref.cg(A, z, rtol=rtol).x for z in Z]
    nll = 0.5 * y @ alpha + 0.5 * logdet + 0.5 * n * np.log(2 * np.pi)
    grad = np.array([-0.5 * alpha @ (D @ alpha) + 0.5 * np.mean([u @ (D @ z) for u, z in zip(U, Z)])
                     for D in dA])
    return nll, grad


def nll_scipy(A, y, dA, *, num_probes=10, k=30, seed=0, rtol=1e-8):
    # SciPy's CG, krylov_ref's SLQ, block products with dA.
    n = y.shape[0]
    alpha, _ = spla.cg(A, y, rtol=rtol, atol=0.0)
    logdet = krylov_ref.slq_logdet(A, num_probes, k, seed)
    Z = probes(n, num_probes, seed)
    U = np.column_stack([spla.cg(A, z, rtol=rtol, atol=0.0)[0] for z in Z])
    grad = np.empty(len(dA))
    for j, D in enumerate(dA):
        grad[j] = -0.5 * alpha @ (D @ alpha) + 0.5 * np.einsum("ij,ij->", U, D @ Z.T) / num_probes
    return 0.5 * (y @ alpha + logdet + n * np.log(2 * np.pi)), grad


def own_cg(A, b, rtol):
    x = np.zeros_like(b)
    r = b.copy()
    p = r.copy()
    rr = r @ r
    tol = rtol * np.linalg.norm(b)
    for _ in range(10 * b.size):
        if np.sqrt(rr) <= tol:
            break
        q = A @ p
        a = rr / (p @ q)
        x += a * p
        r -= a * q
        rr, rr_old = r @ r, rr
        p = r + (rr / rr_old) * p
    return x


def nll_own_cg(A, y, dA, *, num_probes=10, k=30, seed=0, rtol=1e-8):
    n = y.shape[0]
    alpha = own_cg(A, y, rtol)
    Z = probes(n, num_probes, seed)
    U = [own_cg(A, z, rtol) for z in Z]
    logdet = slq_dense_eigh(A, num_probes, k, seed=seed)
    traces = [np.mean([u @ (D @ z) for u, z in zip(U, Z)]) for D in dA]
    grad = np.array([-0.5 * alpha @ (D @ alpha) + 0.5 * t for D, t in zip(dA, traces)])
    return float(0.5 * y @ alpha + 0.5 * logdet + n / 2 * np.log(2 * np.pi)), grad


@pytest.mark.parametrize("case", NLL_CASES)
def test_check_gp_nll_accepts_correct_solutions(case, capsys):
    for student in (nll_solution, nll_scipy, nll_own_cg):
        check_gp_nll(student, **case)
    assert "\u2713 gp_nll" in capsys.readouterr().out


def nll_wrong(mistake):
    def gp_nll(A, y, dA, *, num_probes=10, k=30, seed=0, rtol=1e-8):
        n = y.shape[0]
        if mistake == "in place":
            y -= y.mean()                        # centring the data, in the caller's array
        alpha = krylov_ref.cg(A, y, rtol=rtol if mistake != "no rtol" else 1e-5).x
        if mistake == "slq default seed":
            logdet = slq_solution(A, num_probes, k)
        else:
            logdet = slq_solution(A, num_probes, k, seed=seed + (mistake == "other probes"))
        Z = probes(n, num_probes, seed + (mistake == "other trace probes"))
        if mistake == "gaussian trace probes":
            Z = np.random.default_rng(seed).standard_normal((num_probes, n))
        if mistake == "unseeded trace probes":
            Z = np.random.default_rng().choice([-1.0, 1.0], size=(num_probes, n))
        U = [krylov_ref.cg(A, z, rtol=rtol if mistake != "no probe rtol" else 1e-5).x for z in Z]
        fit, half_logdet = 0.5 * y @ alpha, 0.5 * logdet
        constant = 0.5 * n * np.log(2 * np.pi)
        nll = {"no constant": fit + half_logdet,
               "no half": 2 * fit + half_logdet + constant,
               "loglik": -(fit + half_logdet + constant),
               "logdet sign": fit - half_logdet + constant,
               "constant": fit + half_logdet + 2 * constant,
               "logdet half": fit + logdet + constant}.get(mistake, fit + half_logdet + constant)
        grad = []
        for D in dA:
            data = -0.5 * alpha @ (D * alpha if mistake == "star" else D @ alpha)
            if mistake == "extra dA product":
                D @ alpha
            if mistake == "solve per hyperparameter":
                trace = np.mean([krylov_ref.cg(A, D @ z, rtol=rtol).x @ z for z in Z])
            elif mistake == "no solve":
                trace = np.mean([z @ (D @ z) for z in Z])
            else:
                trace = np.mean([u @ (D @ z) for u, z in zip(U, Z)])
            grad.append({"grad sign": -data - 0.5 * trace,
                         "data sign": -data + 0.5 * trace,
                         "trace sign": data - 0.5 * trace,
                         "data half": 2 * data + 0.5 * trace,
                         "trace half": data + trace}.get(mistake, data + 0.5 * trace))
        if mistake == "list":
            return nll, grad
        if mistake == "loglik both":
            return -nll, -np.array(grad)
        if mistake == "dA changed":
            dA.pop()
        if mistake == "dA matrix changed" and isinstance(dA[0], np.ndarray):
            dA[0] *= 2.0
        return nll, np.array(grad)
    return gp_nll


@pytest.mark.parametrize("mistake, message, code", [
    ("no constant", r"n/2 log\(2 pi\) is missing", "no_constant"),
    ("constant", r"not n log\(2 pi\)", "constant_not_halved"),
    ("no half", "without its factor 1/2", "data_term_no_half"),
    ("logdet half", "log-determinant term lacks", "logdet_no_half"),
    ("loglik", "NEGATIVE", "log_likelihood"),
    ("loglik both", "NEGATIVE", "log_likelihood"),
    ("logdet sign", r"\+ sign", "logdet_sign"),
    ("other probes", "other probes", "slq_seed_not_passed"),
    ("slq default seed", "pass seed=seed", "slq_seed_not_passed"),
    ("other trace probes", "other probes", "trace_probes_seed"),
    ("unseeded trace probes", "different gradients", "trace_probes_seed"),
    ("gaussian trace probes", "Gaussian", "trace_gaussian_probes"),
    ("grad sign", "wrong sign", "grad_sign"),
    ("data sign", "data term of the gradient has the wrong sign", "grad_data_sign"),
    ("trace sign", "trace term of the gradient has the wrong sign", "grad_trace_sign"),
    ("data half", "data term of the gradient lacks", "grad_data_no_half"),
    ("trace half", "trace term of the gradient lacks", "grad_trace_no_half"),
    ("no solve", r"trace\(dA\)", "trace_without_solve"),
    ("solve per hyperparameter", "ONE per probe", "solve_per_hyperparameter"),
    ("no rtol", "pass rtol to every CG solve", "rtol_not_passed"),
    ("no probe rtol", "pass rtol to every CG solve", "rtol_not_passed"),
    ("extra dA product", r"products with dA\[0\]", None),
    ("list", "ndarray", None),
    ("in place", "changed the array y", None),
    ("dA changed", "changed the list dA", None),
    ("dA matrix changed", "changed a matrix of dA", None),
    # A LinearOperator's * is its product; an ndarray's is entrywise.
    ("star", "entrywise", "star_product"),
])
def test_check_gp_nll_names_the_mistake(mistake, message, code):
    with pytest.raises(WrongAnswer, match=message) as failure:
        check_gp_nll(nll_wrong(mistake))
    assert codes_of(failure.value) == ((f"09.gp_nll.{code}",) if code else ())


def test_check_gp_nll_catches_a_loose_cg_and_shortcuts():
    def reference(A, y, dA, *, num_probes=10, k=30, seed=0, rtol=1e-8):
        return krylov_ref.gp.gp_nll_and_grad(A, y, dA, num_probes=num_probes, lanczos_steps=k,
                                             seed=seed, rtol=rtol)

    def dense(A, y, dA, **kw):
        return 0.0, np.linalg.solve(np.eye(3), np.ones(3))

    with pytest.raises(NotAllowedError):
        check_gp_nll(reference)
    with pytest.raises(NotAllowedError):
        check_gp_nll(dense)
