"""Checks for lesson 09 (the capstone: Gaussian-process likelihoods by Krylov methods).

Each ``check_*`` runs a student's function on problems with known answers,
raises :class:`~krylov_ref.checks.WrongAnswer` naming the likely mistake, and
prints one line when all is well. Visible tests call them with their
defaults; hidden tests call them with other sizes, seeds and the edge cases
of the contract (one probe, ``k = 1``).

The estimators are random, but their randomness is fixed by the contract:
the probes are ``np.random.default_rng(seed).choice([-1.0, 1.0],
size=(num_probes, n))``, one per row. So the estimates are compared with
:mod:`krylov_ref.gp` number for number. The matrices reach the student's
function as LinearOperators that count their products: ``A @ v`` works (and
so do :func:`krylov_ref.lanczos` and :func:`krylov_ref.cg` on them), turning
them into arrays does not.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.linalg
from scipy.sparse.linalg import LinearOperator

from ..cg import cg as reference_cg
from ..gp import gp_nll_and_grad as reference_gp_nll_and_grad
from ..gp import hutchinson_trace as reference_hutchinson
from ..gp import hutchpp as reference_hutchpp
from ..gp import rademacher_probes, rbf_kernel
from ..gp import slq_logdet as reference_slq
from ..krylov import lanczos as reference_lanczos
from ..problems import random_spd
from . import (DIRECT, SOLVERS, CountingOperator, StudentCodeError, WrongAnswer, call_student,
               exercise, expect, mistake, passed)

__all__ = ["check_hutchinson_trace", "check_hutchpp", "check_slq_logdet", "check_gp_nll"]

#: The reference answers of this lesson's exercises: a student may not call them.
REFERENCES = (
    "krylov_ref.gp.hutchinson_trace", "krylov_ref.gp.hutchpp", "krylov_ref.gp.slq_quadratic_forms",
    "krylov_ref.gp.lanczos_quadrature", "krylov_ref.gp.gp_nll", "krylov_ref.gp_nll",
    "krylov_ref.gp.gp_nll_and_grad",
)
SLQ = ("krylov_ref.gp.slq_logdet", "krylov_ref.slq_logdet")
#: Exercises 1 and 2: no solvers, no dense factorisations, no reference estimators.
FORBID_ESTIMATORS = SOLVERS + DIRECT + REFERENCES + SLQ
#: Exercise 3 assembles the pieces: CG (krylov_ref.cg, SciPy's cg) and an SLQ
#: (the student's, or krylov_ref.slq_logdet) are allowed; dense solvers and the
#: reference likelihood are not.
FORBID_LIKELIHOOD = DIRECT + REFERENCES

PROBE_RECIPE = "np.random.default_rng(seed).choice([-1.0, 1.0], size=(num_probes, n))"


# --------------------------------------------------------------------------
# Helpers


def _counting(M):
    """``M`` as a LinearOperator that counts its products (and a handle on the count)."""
    counter = CountingOperator(M)

    def matmat(X):
        return counter @ np.asarray(X, dtype=float)

    op = LinearOperator(M.shape, matvec=counter.matvec, rmatvec=counter.matvec,
                        matmat=matmat, dtype=float)
    return op, counter


def _real_number(value, what, hint=""):
    """A finite real number (float, np.float64, ...), not an array, not None."""
    if value is None:
        raise WrongAnswer(f"{what} is None: does the function end with a `return` of its result?")
    if isinstance(value, np.ndarray):
        raise WrongAnswer(f"{what} should be a single number (a float), got an ndarray of shape "
                          f"{value.shape}. {hint}".strip())
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise WrongAnswer(f"{what} should be a float, got {type(value).__name__}. {hint}".strip())
    value = float(value)
    expect(np.isfinite(value), f"{what} is {value}: NaN or inf. {hint}".strip())
    return value


def _close(a, b, rtol):
    return bool(np.isclose(a, b, rtol=rtol, atol=0.0))


def _first_match(got, alternatives, rtol):
    """The message of the first of ``alternatives`` (value, code, message) whose
    value ``got`` is, and the codes of all those it is (mistakes that give the
    same value here, as several do with one probe and k = 1); or None."""
    found = [(code, message) for value, code, message in alternatives
             if np.all(np.isfinite(value)) and _close(got, value, rtol)]
    if not found:
        return None
    codes = [code for code, _ in found if code]
    return tuple(dict.fromkeys(codes)), found[0][1]


def _named(found):
    """The failure for a :func:`_first_match`: the mistakes it names."""
    codes, message = found
    return mistake(*codes[:1], message, *codes[1:]) if codes else WrongAnswer(message)


def _kernel_problem(n, seed, lengthscale=None, noise=None):
    """A GP covariance on scattered 1-D points: A = K + noise I, the
    derivatives of A with respect to log(lengthscale) and log(noise), and data y."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0.0, n / 8.0, n))
    lengthscale = float(rng.uniform(0.6, 1.5)) if lengthscale is None else lengthscale
    noise = float(rng.uniform(0.05, 0.3)) if noise is None else noise
    K = rbf_kernel(t, lengthscale=lengthscale)
    A = K + noise * np.eye(n)
    D2 = (t[:, None] - t[None, :]) ** 2
    dA = [K * D2 / lengthscale**2, noise * np.eye(n)]
    y = np.sin(t) + np.sqrt(noise) * rng.standard_normal(n)
    return A, dA, y


# --------------------------------------------------------------------------
# Exercise 1: Hutchinson's trace estimator


def _reference_hutchinson(A, num_probes, *, seed=0):
    return reference_hutchinson(A, num_probes, seed)


def _run_estimator(func, name, M, budget, hint, **kwargs):
    """(the student's estimate, the number of products with A it used)."""
    op, counter = _counting(M)
    value = call_student(func, op, budget, forbid=FORBID_ESTIMATORS, **kwargs)
    what = f"{name}(A, {budget}" + "".join(f", {k}={v}" for k, v in kwargs.items()) + ")"
    return _real_number(value, what, hint), counter.count


def _expect_unseeded_wrong(again, got, seed, drawn, code):
    """A wrong estimate that a second call with the same seed does not repeat
    comes from a generator without a seed."""
    expect(again == got, f"two calls with seed={seed} gave {got!r} and {again!r}, and neither "
           f"is the estimate for the contract's {drawn}: draw them from "
           "np.random.default_rng(seed), not from a generator without a seed.", code=code)


def _expect_seeded(run, reference, got, seed, draws, code):
    """The same seed gives the same estimate, ``seed + 1`` the contract's
    estimate for it, and no seed the one for seed 0. ``run(**kwargs)`` calls
    the student's estimator; ``reference(seed)`` is the right estimate."""
    again = run(seed=seed)
    expect(again == got, f"two calls with seed={seed} gave {got!r} and {again!r}: draw {draws} "
                         "from np.random.default_rng(seed), not from a generator without a seed.",
           code=f"{code}.unseeded")
    other, want_other = run(seed=seed + 1), reference(seed + 1)
    expect(_close(other, want_other, 1e-9),
           f"with seed={seed + 1} the estimate is {other:.10g}, expected {want_other:.10g}: is the "
           "seed passed to np.random.default_rng?", code=f"{code}.seed_ignored")
    expect(_close(run(), reference(0), 1e-9),
           "without a seed argument the estimate should be the one with seed=0 (the default).",
           code=f"{code}.default_seed")


def _expect_plain_matrix(func, name, M, budget, seed, want):
    """An ndarray A works as well as an operator, and is left as it was."""
    dense = M.copy()
    plain = call_student(func, dense, budget, seed=seed, forbid=FORBID_ESTIMATORS)
    expect(np.array_equal(dense, M), f"{name} changed the matrix A it was given: leave the "
                                     "caller's A as it is.")
    expect(_close(_real_number(plain, f"{name} with A an ndarray"), want, 1e-9),
           "with A given as an ndarray the estimate differs from the one with A as an operator: "
           "use A only through A @ v.")


def _run_hutchinson(hutchinson_trace, M, num_probes, **kwargs):
    return _run_estimator(hutchinson_trace, "hutchinson_trace", M, num_probes,
                          "Return the mean of z_i^T A z_i over the probes.", **kwargs)


def _mean_form(Z, M):
    """The mean of z_i^T M z_i over the rows z_i of Z."""
    return float(np.mean(np.einsum("ij,jk,ik->i", Z, M, Z)))


def _diagnose_hutchinson(got, M, num_probes, seed, want):
    n = M.shape[0]
    Z = rademacher_probes(n, num_probes, seed)
    forms = np.einsum("ij,jk,ik->i", Z, M, Z)
    rng = lambda: np.random.default_rng(seed)
    columns = rng().choice([-1.0, 1.0], size=(n, num_probes)).T
    first = rng().choice([-1.0, 1.0], size=n)
    alternatives = [
        (forms.sum(), "09.hutchinson_trace.sum_not_mean",
         "you return the sum of z_i^T A z_i over the probes; the estimate is their mean "
         "(divide by num_probes)."),
        (want / n, "09.hutchinson_trace.divided_by_n",
         "the estimate is divided by n: E[z^T A z] = trace(A) already, for probes with "
         "entries +-1."),
        (forms.sum() / max(num_probes - 1, 1) if num_probes > 1 else np.nan,
         "09.hutchinson_trace.divided_by_p_minus_1",
         "you divide by num_probes - 1: the estimate is the plain mean of z_i^T A z_i."),
        (_mean_form(rademacher_probes(n, num_probes, 0), M) if seed != 0 else np.nan,
         "09.hutchinson_trace.seed_ignored",
         f"the estimate is the one for seed=0, not seed={seed}: pass the seed to "
         "np.random.default_rng."),
        (_mean_form(columns, M), "09.hutchinson_trace.probes_as_columns",
         "your probes are the columns of a (n, num_probes) draw; the contract draws "
         f"{PROBE_RECIPE} and uses its rows, in order."),
        (float(first @ M @ first), "09.hutchinson_trace.same_probe",
         "every probe is the same vector: create the generator once, before the loop, and draw "
         "all the probes from it."),
        (_mean_form(rng().standard_normal((num_probes, n)), M),
         "09.hutchinson_trace.gaussian_probes",
         "your probes are Gaussian (standard_normal); the contract asks for Rademacher probes, "
         f"entries +-1 with probability 1/2 each: {PROBE_RECIPE}."),
        (_mean_form(rng().integers(0, 2, size=(num_probes, n)).astype(float), M),
         "09.hutchinson_trace.zero_one_probes",
         "your probes have entries 0 and 1; a Rademacher probe has entries -1 and +1 "
         f"(E[z_i z_j] = delta_ij needs the -1): {PROBE_RECIPE}."),
        (float(np.mean(np.sum((Z @ M.T) ** 2, axis=1))), "09.hutchinson_trace.squared_norm",
         "you average ||A z_i||^2 = z_i^T A^T A z_i; the estimator averages the quadratic form "
         "z_i^T A z_i, that is z @ (A @ z)."),
    ]
    found = _first_match(got, alternatives, 1e-9)
    if found:
        raise _named(found)
    raise WrongAnswer(f"the estimate is {got:.10g}, expected {want:.10g} for these probes. Draw "
                      f"them as {PROBE_RECIPE} and average z_i^T (A @ z_i).")


@exercise(1, "hutchinson_trace", reference=_reference_hutchinson)
def check_hutchinson_trace(hutchinson_trace, n=40, num_probes=6, seed=0):
    """Check ``hutchinson_trace(A, num_probes, *, seed=0) -> float``: the mean
    of ``z_i^T A z_i`` over the contract's Rademacher probes, ``num_probes``
    products with ``A``; the default seed, reproducibility, one probe, a
    diagonal ``A`` (exact) and the caller's matrix left unchanged."""
    M = random_spd(n, 30.0, seed=seed + 900).A
    M = M - np.mean(np.diag(M)) * 0.5 * np.eye(n)     # symmetric, indefinite: any A works
    want = reference_hutchinson(M, num_probes, seed)

    got, products = _run_hutchinson(hutchinson_trace, M, num_probes, seed=seed)
    if not _close(got, want, 1e-9):
        _expect_unseeded_wrong(_run_hutchinson(hutchinson_trace, M, num_probes, seed=seed)[0],
                               got, seed, "probes", "09.hutchinson_trace.unseeded")
        _diagnose_hutchinson(got, M, num_probes, seed, want)
    expect(products == num_probes,
           f"hutchinson_trace used {products} products with A for {num_probes} probes: one per "
           "probe, A @ z_i, is all it needs.")

    # The same seed gives the same probes; another seed, others; the default is 0.
    _expect_seeded(lambda **kw: _run_hutchinson(hutchinson_trace, M, num_probes, **kw)[0],
                   lambda s: reference_hutchinson(M, num_probes, s), got, seed, "the probes",
                   "09.hutchinson_trace")

    # One probe: a single sample z^T A z.
    one, products1 = _run_hutchinson(hutchinson_trace, M, 1, seed=seed)
    z = rademacher_probes(n, 1, seed)[0]
    expect(_close(one, z @ M @ z, 1e-9),
           f"with num_probes=1 the estimate should be z^T A z for the one probe, {z @ M @ z:.10g}; "
           f"got {one:.10g}.")
    expect(products1 == 1, f"with one probe, use one product with A (yours used {products1}).")

    # A diagonal matrix: z_i^2 = 1, so every probe gives the trace exactly.
    d = np.linspace(-2.0, 5.0, n)
    diag, _ = _run_hutchinson(hutchinson_trace, np.diag(d), 1, seed=seed + 2)
    expect(_close(diag, d.sum(), 1e-12),
           f"for a diagonal A, z^T A z = sum_i A_ii z_i^2 = trace(A) exactly for a +-1 probe; got "
           f"{diag:.10g} instead of {d.sum():.10g}.")

    _expect_plain_matrix(hutchinson_trace, "hutchinson_trace", M, num_probes, seed, want)
    probes = "1 probe" if num_probes == 1 else f"{num_probes} probes"
    passed(f"hutchinson_trace: {got:.6g} with {probes} (trace(A) = {np.trace(M):.6g}), "
           f"{products} products; seeded, one probe and diagonal A right (n={n}).")


# --------------------------------------------------------------------------
# Exercise 2: Hutch++


def _reference_hutchpp(A, num_matvecs, *, seed=0):
    return reference_hutchpp(A, num_matvecs, seed)


HUTCHPP_RECIPE = ("rng = np.random.default_rng(seed), then S = rng.choice([-1.0, 1.0], "
                  "size=(n, k)) and G = rng.choice([-1.0, 1.0], size=(n, k)), in that order")


def _run_hutchpp(hutchpp, M, num_matvecs, **kwargs):
    return _run_estimator(hutchpp, "hutchpp", M, num_matvecs,
                          "Return trace(Q^T A Q) plus the mean over the probes.", **kwargs)


def _decaying_matrix(n, seed, rank=None):
    """Symmetric positive semidefinite, eigenvalues 10/i (i = 1..rank), random eigenvectors."""
    rank = n if rank is None else rank
    V, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, rank)))
    return (V * (10.0 / np.arange(1, rank + 1))) @ V.T


def _hutchpp_parts(M, S, G, orthonormal=True):
    """The two terms of Hutch++ from the sketch's random matrix S and the probes G."""
    Y = M @ S
    Q = np.linalg.qr(Y)[0] if orthonormal else Y
    Gp = G - Q @ (Q.T @ G)
    return float(np.sum(Q * (M @ Q))), Gp


def _diagnose_hutchpp(got, M, num_matvecs, seed, want):
    n = M.shape[0]
    k = num_matvecs // 3
    rng = np.random.default_rng(seed)
    S = rng.choice([-1.0, 1.0], size=(n, k))
    G = rng.choice([-1.0, 1.0], size=(n, k))
    top, Gp = _hutchpp_parts(M, S, G)
    deflated = float(np.sum(Gp * (M @ Gp)))           # k times the Hutchinson term

    def standard(S_, G_, orthonormal=True):
        t, P = _hutchpp_parts(M, S_, G_, orthonormal)
        return t + float(np.sum(P * (M @ P))) / k

    rng = np.random.default_rng(seed)
    S_rows = rng.choice([-1.0, 1.0], size=(k, n)).T
    G_rows = rng.choice([-1.0, 1.0], size=(k, n)).T
    rng = np.random.default_rng(seed)
    S_normal, G_normal = rng.standard_normal((n, k)), rng.standard_normal((n, k))
    Q_of_S = np.linalg.qr(S)[0]
    G_of_S = G - Q_of_S @ (Q_of_S.T @ G)
    top_S, Sp = _hutchpp_parts(M, S, S)
    alternatives = [
        (standard(S, G, orthonormal=False), "09.hutchpp.no_orthonormalisation",
         "Q should be an orthonormal basis of the range of A S (a QR factorisation); with "
         "A S itself, Q^T A Q and I - Q Q^T are not what the estimator needs."),
        (deflated / k, "09.hutchpp.sketch_trace_omitted",
         "the estimate leaves out trace(Q^T A Q): the probes only see the deflated part "
         "(I - Q Q^T) A (I - Q Q^T), so its trace must be added to the exact part."),
        (top + float(np.sum(G * (M @ G))) / k, "09.hutchpp.probes_not_projected",
         "the probes are not projected: Hutchinson's term should estimate the trace of "
         "(I - Q Q^T) A (I - Q Q^T), not of A, which counts the range of Q twice."),
        (top + float(np.sum(G * (M @ Gp))) / k, "09.hutchpp.one_sided_projection",
         "the probes are projected on one side only, G^T A (I - Q Q^T) G: project both sides, "
         "with the projected probes (I - Q Q^T) G on the left and on the right."),
        (top + deflated / num_matvecs, "09.hutchpp.divided_by_m",
         f"the probes' term is divided by num_matvecs = {num_matvecs}; it is the mean over the "
         f"k = num_matvecs / 3 = {k} probes."),
        (top + deflated, "09.hutchpp.sum_not_mean",
         f"the probes' term is their sum; it is the mean over the k = {k} probes."),
        (top_S + float(np.sum(Sp * (M @ Sp))) / k, "09.hutchpp.sketch_reused_as_probes",
         "the probes are the sketch's own random matrix S: they must be independent of Q, so "
         "draw G separately."),
        (float(np.sum(Q_of_S * (M @ Q_of_S))) + float(np.sum(G_of_S * (M @ G_of_S))) / k,
         "09.hutchpp.sketch_not_multiplied",
         "Q is a basis of the range of S, not of A S: the sketch needs the products A S to "
         "find the directions of the largest eigenvalues."),
        (standard(S_normal, G_normal), "09.hutchpp.gaussian",
         f"your random matrices are Gaussian (standard_normal); the contract asks for entries "
         f"+-1: {HUTCHPP_RECIPE}."),
        (standard(S_rows, G_rows), "09.hutchpp.draws_as_rows",
         f"your random matrices are drawn with shape (k, n) and transposed; the contract draws "
         f"them as (n, k): {HUTCHPP_RECIPE}."),
        (standard(G, S), "09.hutchpp.draw_order",
         f"S and G are drawn in the other order: {HUTCHPP_RECIPE}."),
        (reference_hutchpp(M, num_matvecs, 0) if seed != 0 else np.nan, "09.hutchpp.seed_ignored",
         f"the estimate is the one for seed=0, not seed={seed}: pass the seed to "
         "np.random.default_rng."),
    ]
    found = _first_match(got, alternatives, 1e-9)
    if found:
        raise _named(found)
    raise WrongAnswer(f"the estimate is {got:.10g}, expected {want:.10g} for these random "
                      f"matrices. Draw them as {HUTCHPP_RECIPE}, and follow the algorithm box.")


def _hutchpp_value_error(hutchpp, M, num_matvecs):
    """Whether the student's hutchpp raises ValueError for this num_matvecs
    (anything else it raises is reported)."""
    op, _ = _counting(M)
    try:
        call_student(hutchpp, op, num_matvecs, forbid=FORBID_ESTIMATORS)
    except StudentCodeError as exc:
        cause = exc.__cause__
        if isinstance(cause, ValueError):
            return True
        raise WrongAnswer(f"hutchpp(A, {num_matvecs}) should raise ValueError (num_matvecs must "
                          f"be a positive multiple of 3), but raised {type(cause).__name__}: "
                          f"{cause}") from exc
    return False


@exercise(2, "hutchpp", reference=_reference_hutchpp)
def check_hutchpp(hutchpp, n=60, num_matvecs=12, seed=0):
    """Check ``hutchpp(A, num_matvecs, *, seed=0) -> float``: Hutch++ with the
    contract's random matrices, exactly ``num_matvecs`` products with ``A``;
    reproducible, default seed 0, exact for ``rank(A) <= num_matvecs / 3``,
    ValueError for a budget that is not a positive multiple of 3, and the
    caller's matrix left unchanged."""
    k = num_matvecs // 3
    M = _decaying_matrix(n, seed + 900)
    want = reference_hutchpp(M, num_matvecs, seed)

    got, products = _run_hutchpp(hutchpp, M, num_matvecs, seed=seed)
    if products == 3 * num_matvecs and _close(got, reference_hutchpp(M, 3 * num_matvecs, seed),
                                              1e-9):
        raise mistake("09.hutchpp.budget_not_split",
                      f"hutchpp used {products} products for num_matvecs={num_matvecs}: the "
                      f"budget is split in three, k = num_matvecs / 3 = {k} columns for S and "
                      f"for G (k products for A S, k for A Q, k for the probes).")
    if not _close(got, want, 1e-9):
        _expect_unseeded_wrong(_run_hutchpp(hutchpp, M, num_matvecs, seed=seed)[0],
                               got, seed, "random matrices", "09.hutchpp.unseeded")
        _diagnose_hutchpp(got, M, num_matvecs, seed, want)
    expect(products == num_matvecs,
           f"hutchpp used {products} products with A for num_matvecs={num_matvecs}: exactly "
           f"num_matvecs, k = {k} each for A S, A Q and A (I - Q Q^T) G.")

    _expect_seeded(lambda **kw: _run_hutchpp(hutchpp, M, num_matvecs, **kw)[0],
                   lambda s: reference_hutchpp(M, num_matvecs, s), got, seed, "S and G",
                   "09.hutchpp")

    # rank(A) <= k: the range of A S is the range of A, and the estimate is exact.
    low = _decaying_matrix(n, seed + 901, rank=k)
    exact, _ = _run_hutchpp(hutchpp, low, num_matvecs, seed=seed + 2)
    expect(_close(exact, np.trace(low), 1e-9),
           f"for A of rank {k} = num_matvecs / 3 the estimate should be trace(A) = "
           f"{np.trace(low):.10g} exactly (Q spans the range of A); got {exact:.10g}.")

    # A budget that is not a positive multiple of 3.
    for bad in (num_matvecs + 1, 0):
        expect(_hutchpp_value_error(hutchpp, M, bad),
               f"hutchpp(A, {bad}) should raise ValueError: num_matvecs must be a positive "
               "multiple of 3 (a third each for the sketch, Q^T A Q and the probes).",
               code="09.hutchpp.budget_not_checked")

    _expect_plain_matrix(hutchpp, "hutchpp", M, num_matvecs, seed, want)
    passed(f"hutchpp: {got:.6g} with {num_matvecs} products (trace(A) = {np.trace(M):.6g}); "
           f"seeded, exact for rank(A) <= {k}, bad budgets refused (n={n}).")


# --------------------------------------------------------------------------
# Exercise 3: stochastic Lanczos quadrature


def _reference_slq(A, num_probes, k, *, seed=0, lanczos=None):
    return reference_slq(A, num_probes, k, seed, lanczos=lanczos)


def _slq_call(slq_logdet, M, num_probes, k, **kwargs):
    op, counter = _counting(M)
    value = call_student(slq_logdet, op, num_probes, k, forbid=FORBID_ESTIMATORS, **kwargs)
    shown = ", ".join(f"{key}={val}" for key, val in kwargs.items() if key != "lanczos")
    what = f"slq_logdet(A, {num_probes}, {k}{', ' + shown if shown else ''})"
    return _real_number(value, what, "Return the mean over the probes (a float)."), counter.count


def _quadrature_variants(M, num_probes, k, seed):
    """Per-probe results of the likely mistakes, averaged like the right answer."""
    n = M.shape[0]
    variants = {"right": [], "no n": [], "sqrt n": [], "last": [], "first column": [],
                "unsquared": [], "signed": [], "signed eigh": [], "logdet T": [],
                "log of mean": []}
    for z in rademacher_probes(n, num_probes, seed):
        _, alpha, beta = reference_lanczos(M, z, k)
        T = np.diag(alpha) + np.diag(beta[:-1], 1) + np.diag(beta[:-1], -1)
        theta, U = np.linalg.eigh(T)
        log_theta = np.log(np.abs(theta))
        # The signs of eigenvectors are the eigensolver's choice: the signed
        # (unsquared) weights as the hint's eigh_tridiagonal and as eigh give them.
        _, U_tri = scipy.linalg.eigh_tridiagonal(alpha, beta[:-1])
        variants["right"].append(n * np.sum(U[0] ** 2 * log_theta))
        variants["no n"].append(np.sum(U[0] ** 2 * log_theta))
        variants["sqrt n"].append(np.sqrt(n) * np.sum(U[0] ** 2 * log_theta))
        variants["last"].append(n * np.sum(U[-1] ** 2 * log_theta))
        variants["first column"].append(n * np.sum(U[:, 0] ** 2 * log_theta))
        variants["unsquared"].append(n * np.sum(np.abs(U[0]) * log_theta))
        variants["signed"].append(n * np.sum(U_tri[0] * log_theta))
        variants["signed eigh"].append(n * np.sum(U[0] * log_theta))
        variants["logdet T"].append(np.sum(log_theta))
        variants["log of mean"].append(n * np.log(np.sum(U[0] ** 2 * theta)))
    return {key: float(np.mean(v)) for key, v in variants.items()}, variants["right"]


def _gaussian_slq(M, num_probes, k, seed):
    """SLQ with Gaussian probes (rows of rng.standard_normal), weighted by n and by
    ||z||^2."""
    n = M.shape[0]
    by_n, by_norm = [], []
    for z in np.random.default_rng(seed).standard_normal((num_probes, n)):
        _, alpha, beta = reference_lanczos(M, z, k)
        theta, U = scipy.linalg.eigh_tridiagonal(alpha, beta[:-1])
        quadrature = np.sum(U[0] ** 2 * np.log(np.abs(theta)))
        by_n.append(n * quadrature)
        by_norm.append((z @ z) * quadrature)
    return float(np.mean(by_n)), float(np.mean(by_norm))


def _diagnose_slq(got, M, num_probes, k, seed, want):
    v, per_probe = _quadrature_variants(M, num_probes, k, seed)
    unsquared = ("the weights tau_j should be squared: e_1^T f(T_k) e_1 = "
                 "sum_j tau_j^2 f(theta_j).")
    gaussian = ("your probes are Gaussian (standard_normal); the contract asks for Rademacher "
                f"probes, entries +-1: {PROBE_RECIPE} (then ||z||^2 = n).")
    by_n, by_norm = _gaussian_slq(M, num_probes, k, seed)
    alternatives = [
        (float(np.sum(per_probe)), "09.slq_logdet.sum_not_mean",
         "you return the sum over the probes; the estimate is the mean."),
        (v["no n"], "09.slq_logdet.no_n",
         "the factor ||z||^2 = n is missing: Lanczos starts from q_0 = z / ||z||, so "
         "z^T log(A) z = ||z||^2 e_1^T log(T_k) e_1."),
        (v["sqrt n"], "09.slq_logdet.norm_not_squared",
         "the factor is ||z|| = sqrt(n); it should be ||z||^2 = n: z = ||z|| q_0 enters "
         "z^T log(A) z twice."),
        (v["last"], "09.slq_logdet.last_row",
         "the weights are the squares of the LAST components of the eigenvectors of T_k; "
         "Gauss quadrature uses the first ones, tau_j = e_1^T u_j (row 0 of the "
         "eigenvector matrix)."),
        (v["first column"], "09.slq_logdet.first_column",
         "the weights are the squared entries of the first eigenvector u_1 (column 0 of the "
         "eigenvector matrix); Gauss quadrature uses the first entry of every eigenvector, "
         "tau_j = e_1^T u_j: row 0 of the matrix whose columns are the u_j."),
        (v["unsquared"], "09.slq_logdet.weights_unsquared", unsquared),
        (v["signed"], "09.slq_logdet.weights_unsquared", unsquared),
        (v["signed eigh"], "09.slq_logdet.weights_unsquared", unsquared),
        (v["logdet T"], "09.slq_logdet.logdet_of_T",
         "you average log det T_k = sum_j log theta_j; the quadrature is the weighted sum "
         "n sum_j tau_j^2 log theta_j."),
        (v["log of mean"], "09.slq_logdet.log_of_mean",
         "you take the log of the weighted mean of the Ritz values; the rule applies log to "
         "each node first: sum_j tau_j^2 log(theta_j)."),
        (float(per_probe[0]), "09.slq_logdet.same_probe",
         "every probe is the same vector: create the generator once, before the loop, and draw "
         "all the probes from it."),
        (by_n, "09.slq_logdet.gaussian_probes", gaussian),
        (by_norm, "09.slq_logdet.gaussian_probes", gaussian),
    ]
    found = _first_match(got, alternatives, 1e-8)
    if found:
        raise _named(found)
    raise WrongAnswer(f"the estimate is {got:.10g}, expected {want:.10g} for these probes and k = "
                      f"{k}. Draw the probes as {PROBE_RECIPE}, run k Lanczos steps from each, and "
                      "average n * sum_j tau_j^2 log(theta_j).")


def _spy(calls):
    def spied_lanczos(A, v0, k):
        calls.append((np.array(v0, dtype=float, copy=True), k))
        return reference_lanczos(A, v0, k)
    return spied_lanczos


@exercise(3, "slq_logdet", reference=_reference_slq)
def check_slq_logdet(slq_logdet, n=60, num_probes=4, k=10, seed=0):
    """Check ``slq_logdet(A, num_probes, k, *, seed=0, lanczos=None) -> float``
    against :func:`krylov_ref.gp.slq_logdet` with the same probes: on a GP
    kernel matrix and a random SPD matrix, ``num_probes * k`` products, the
    ``lanczos`` it is given called once per probe, the default seed and
    Lanczos, reproducibility, ``k = 1``, one probe, a diagonal ``A`` with
    fewer distinct eigenvalues than ``k`` (exact), ``A`` left unchanged."""
    if not 1 <= k <= n // 2:
        raise ValueError(f"check_slq_logdet needs 1 <= k <= n/2, got n={n}, k={k}")
    kernel, _, _ = _kernel_problem(n, seed)
    spd = random_spd(n, 200.0, seed=seed + 300).A
    for M, name in ((kernel, "a GP kernel matrix K + noise I"), (spd, "a random SPD matrix")):
        want = reference_slq(M, num_probes, k, seed)
        got, products = _slq_call(slq_logdet, M, num_probes, k, seed=seed)
        # k Lanczos steps per probe, one product each; fewer only if Lanczos stops early
        # (a reorthogonalised Lanczos may find an invariant subspace a little sooner).
        expect(products <= num_probes * k,
               f"on {name}, slq_logdet used {products} products with A for {num_probes} probes "
               f"and k = {k}: k Lanczos steps per probe, one product each, make {num_probes * k}.")
        expect(k == 1 or products != num_probes * (k - 1),
               f"on {name}, slq_logdet used {products} products with A for {num_probes} probes: "
               f"k - 1 Lanczos steps per probe. Run k = {k} steps (T_k is k x k).",
               code="09.slq_logdet.k_minus_one_steps")
        if not _close(got, want, 1e-8):
            _diagnose_slq(got, M, num_probes, k, seed, want)

    M = kernel
    want = reference_slq(M, num_probes, k, seed)
    # The Lanczos it is given is the one it uses: once per probe, with k and the probe.
    calls = []
    spied, _ = _slq_call(slq_logdet, M, num_probes, k, seed=seed, lanczos=_spy(calls))
    expect(len(calls) > 0, "slq_logdet did not call the `lanczos` function passed to it: use the "
                           "`lanczos` argument when it is given (krylov_ref.lanczos only when it "
                           "is None).", code="09.slq_logdet.lanczos_ignored")
    expect(len(calls) == num_probes,
           f"slq_logdet called the `lanczos` it was given {len(calls)} times for {num_probes} "
           "probes: once per probe.")
    for i, (z, (v0, steps)) in enumerate(zip(rademacher_probes(n, num_probes, seed), calls)):
        expect(steps == k, f"probe {i}: lanczos was called with k = {steps}, expected k = {k}.")
        expect(v0.shape == z.shape and abs(v0 @ z) / (np.linalg.norm(v0) * np.sqrt(n)) > 1 - 1e-12
               and v0 @ z > 0,
               f"probe {i}: lanczos was not started from probe z_{i} (row {i} of {PROBE_RECIPE}).")
    expect(_close(spied, want, 1e-8),
           "with the `lanczos` argument given, the estimate differs from the right one: use "
           "the alpha and beta it returns.")

    # Defaults: seed 0; lanczos None means krylov_ref.lanczos.
    default, _ = _slq_call(slq_logdet, M, num_probes, k)
    expect(_close(default, reference_slq(M, num_probes, k, 0), 1e-8),
           "without a seed argument the estimate should be the one with seed=0 (the default).",
           code="09.slq_logdet.default_seed")
    again, _ = _slq_call(slq_logdet, M, num_probes, k, seed=seed)
    expect(again == _slq_call(slq_logdet, M, num_probes, k, seed=seed)[0],
           "two calls with the same seed gave different estimates: draw the probes from "
           "np.random.default_rng(seed).")
    other, _ = _slq_call(slq_logdet, M, num_probes, k, seed=seed + 1)
    expect(_close(other, reference_slq(M, num_probes, k, seed + 1), 1e-8),
           f"with seed={seed + 1} the estimate is not the one for those probes: is the seed "
           "passed to np.random.default_rng?")

    # k = 1: T_1 = [alpha_0] = [z^T A z / n], so the estimate is n log(z^T A z / n).
    one, products1 = _slq_call(slq_logdet, M, 1, 1, seed=seed)
    z = rademacher_probes(n, 1, seed)[0]
    want1 = n * np.log(z @ M @ z / n)
    expect(_close(one, want1, 1e-9),
           f"with one probe and k = 1 the estimate should be n log(z^T A z / n) = {want1:.8g} "
           f"(T_1 is the 1 x 1 matrix [z^T A z / n]); got {one:.8g}.")
    expect(products1 == 1, f"with one probe and k = 1, one product is enough (yours used {products1}).")

    # A diagonal matrix with m < k distinct eigenvalues: Lanczos stops after m steps
    # and the m-point Gauss rule is exact, for every probe.
    m = max(1, min(k - 1, 4))
    d = np.repeat(np.geomspace(0.5, 20.0, m), -(-n // m))[:n]
    diag, _ = _slq_call(slq_logdet, np.diag(d), 1, k, seed=seed + 2)
    exact = float(np.sum(np.log(d)))
    expect(_close(diag, exact, 1e-9),
           f"for a diagonal A with {m} distinct eigenvalues and k = {k}, SLQ is exact: "
           f"log det A = {exact:.10g}, got {diag:.10g}. Lanczos stops after {m} steps there (it "
           "returns alpha and beta shorter than k): build T from the alpha and beta you get.")

    # A plain matrix works too, and is left as it was.
    dense = M.copy()
    plain = call_student(slq_logdet, dense, num_probes, k, seed=seed, forbid=FORBID_ESTIMATORS)
    expect(np.array_equal(dense, M), "slq_logdet changed the matrix A it was given: leave the "
                                     "caller's A as it is.")
    expect(_close(_real_number(plain, "slq_logdet with A an ndarray"), want, 1e-8),
           "with A given as an ndarray the estimate differs from the one with A as an operator: "
           "use A only through A @ v (and the Lanczos process).")
    exact_M = float(np.linalg.slogdet(M)[1])
    probes = "1 probe" if num_probes == 1 else f"{num_probes} probes"
    passed(f"slq_logdet: {want:.6g} with {probes} and k={k} (log det A = {exact_M:.6g}), "
           f"{num_probes * k} products; the given lanczos used; seeded; k=1, one probe and diagonal "
           f"A exact (n={n}).")


# --------------------------------------------------------------------------
# Exercise 4: the likelihood and its gradient


def _reference_gp_nll(A, y, dA, *, num_probes=10, k=30, seed=0, rtol=1e-8):
    return reference_gp_nll_and_grad(A, y, dA, num_probes=num_probes, lanczos_steps=k,
                                     seed=seed, rtol=rtol)


def _gp_call(gp_nll, A, y, dA, **kwargs):
    op, counter = _counting(A)
    derivatives = [_counting(D) for D in dA]
    ops = [d[0] for d in derivatives]
    given = list(ops)
    y_given = y.copy()
    out = call_student(gp_nll, op, y_given, given, forbid=FORBID_LIKELIHOOD, **kwargs)
    expect(np.array_equal(y_given, y), "gp_nll changed the array y it was given (an in-place "
                                       "update?): leave the caller's y as it is.")
    expect(len(given) == len(ops) and all(a is b for a, b in zip(given, ops)),
           "gp_nll changed the list dA it was given: leave the caller's list as it is.")
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise WrongAnswer(f"gp_nll should return a pair (nll, grad), got {type(out).__name__}"
                          + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else ""))
    nll = _real_number(out[0], "nll (the first value returned)")
    grad = out[1]
    expect(isinstance(grad, np.ndarray),
           f"grad should be an ndarray (np.array of the partial derivatives), got {type(grad).__name__}")
    expect(grad.shape == (len(dA),),
           f"grad should have shape ({len(dA)},), one entry per matrix in dA, got {grad.shape}")
    expect(np.all(np.isfinite(grad)), "grad contains NaN or inf")
    return nll, grad.astype(float), counter.count, [d[1].count for d in derivatives]


def _scale_of_terms(A, y, dA, num_probes, seed):
    """Size of the two terms of each derivative, to judge the gradient's error against."""
    alpha = np.linalg.solve(A, y)
    Z = rademacher_probes(y.shape[0], num_probes, seed)
    U = np.linalg.solve(A, Z.T).T
    return np.array([abs(alpha @ D @ alpha) + np.mean(np.abs(np.einsum("ij,jk,ik->i", U, D, Z)))
                     for D in dA])


def _diagnose_nll(got, A, y, num_probes, k, seed, want):
    n = y.shape[0]
    fit = float(y @ np.linalg.solve(A, y))
    logdet = reference_slq(A, num_probes, k, seed)
    constant = 0.5 * n * np.log(2 * np.pi)
    other_probes = ("log det A was estimated with other probes than those of the contract: "
                    "pass seed=seed to slq_logdet (its default is seed=0).")
    alternatives = [
        (want - constant, "09.gp_nll.no_constant", "the constant n/2 log(2 pi) is missing."),
        (want - constant + n * np.log(2 * np.pi), "09.gp_nll.constant_not_halved",
         "the constant should be n/2 log(2 pi), not n log(2 pi)."),
        (fit + 0.5 * logdet + constant, "09.gp_nll.data_term_no_half",
         "the data term is y^T A^{-1} y without its factor 1/2."),
        (0.5 * fit + logdet + constant, "09.gp_nll.logdet_no_half",
         "the log-determinant term lacks its factor 1/2."),
        (-0.5 * fit - 0.5 * logdet - constant, "09.gp_nll.log_likelihood",
         "you return the log-likelihood; the contract asks for the NEGATIVE log-likelihood."),
        (0.5 * fit - 0.5 * logdet + constant, "09.gp_nll.logdet_sign",
         "the log-determinant enters with a + sign: "
         "nll = 1/2 y^T A^{-1} y + 1/2 log det A + n/2 log(2 pi)."),
        (0.5 * fit + 0.5 * reference_slq(A, num_probes, k, 0) + constant if seed != 0 else np.nan,
         "09.gp_nll.slq_seed_not_passed", other_probes),
        (0.5 * fit + 0.5 * reference_slq(A, num_probes, k, seed + 1) + constant,
         "09.gp_nll.slq_seed_not_passed", other_probes),
    ]
    found = _first_match(got, alternatives, 1e-6)
    if found:
        raise _named(found)
    raise WrongAnswer(f"nll is {got:.10g}, expected {want:.10g}: nll = 1/2 y^T alpha + "
                      "1/2 slq_logdet(A, num_probes, k, seed=seed) + n/2 log(2 pi), with alpha the "
                      "CG solution of A alpha = y.")


def _diagnose_grad(grad, A, y, dA, num_probes, seed, want, tol):
    alpha = np.linalg.solve(A, y)
    n = y.shape[0]
    Z = rademacher_probes(n, num_probes, seed)
    U = np.linalg.solve(A, Z.T).T
    fit = np.array([alpha @ D @ alpha for D in dA])
    trace = np.array([np.mean(np.einsum("ij,jk,ik->i", U, D, Z)) for D in dA])
    no_solve = np.array([np.mean(np.einsum("ij,jk,ik->i", Z, D, Z)) for D in dA])
    def trace_with(Z_other):
        U_other = np.linalg.solve(A, Z_other.T).T
        return np.array([np.mean(np.einsum("ij,jk,ik->i", U_other, D, Z_other)) for D in dA])

    other_probes = ("the trace was estimated with other probes than those of the contract: "
                    "draw them from np.random.default_rng(seed), the same probes as for log det A.")
    alternatives = [
        (0.5 * fit - 0.5 * trace, "09.gp_nll.grad_sign",
         "grad has the wrong sign: d nll/d theta = -1/2 alpha^T dA alpha + 1/2 trace(A^{-1} dA)."),
        (0.5 * fit + 0.5 * trace, "09.gp_nll.grad_data_sign",
         "the data term of the gradient has the wrong sign: it is -1/2 alpha^T dA alpha "
         "(d A^{-1} = -A^{-1} dA A^{-1})."),
        (-0.5 * fit - 0.5 * trace, "09.gp_nll.grad_trace_sign",
         "the trace term of the gradient has the wrong sign: it is +1/2 trace(A^{-1} dA)."),
        (-fit + 0.5 * trace, "09.gp_nll.grad_data_no_half",
         "the data term of the gradient lacks its factor 1/2."),
        (-0.5 * fit + trace, "09.gp_nll.grad_trace_no_half",
         "the trace term of the gradient lacks its factor 1/2."),
        (-0.5 * fit + 0.5 * no_solve, "09.gp_nll.trace_without_solve",
         "the trace term estimates trace(dA), not trace(A^{-1} dA): solve A u_i = z_i by CG and "
         "average u_i^T (dA z_i)."),
        (-0.5 * fit + 0.5 * trace_with(np.random.default_rng(seed).standard_normal((num_probes, n))),
         "09.gp_nll.trace_gaussian_probes",
         "the trace term uses Gaussian probes (standard_normal); the contract's probes are the "
         f"Rademacher ones of Exercises 1 and 3, {PROBE_RECIPE}."),
        (-0.5 * fit + 0.5 * trace_with(rademacher_probes(n, num_probes, seed + 1)),
         "09.gp_nll.trace_probes_seed", other_probes),
    ]
    if seed != 0:
        alternatives.append((-0.5 * fit + 0.5 * trace_with(rademacher_probes(n, num_probes, 0)),
                             "09.gp_nll.trace_probes_seed", other_probes))
    found = [(code, message) for value, code, message in alternatives
             if np.all(np.abs(grad - value) <= tol)]
    if found:
        codes = tuple(dict.fromkeys(code for code, _ in found))
        raise mistake(codes[0], found[0][1], *codes[1:])
    j = int(np.argmax(np.abs(grad - want) / tol))
    raise WrongAnswer(f"grad[{j}] is {grad[j]:.8g}, expected {want[j]:.8g}: d nll / d theta_j = "
                      "-1/2 alpha^T (dA_j alpha) + 1/2 mean_i u_i^T (dA_j z_i), with A u_i = z_i "
                      "solved by CG for the contract's probes z_i.")


#: The tolerance of krylov_ref.cg and SciPy's cg when rtol is not given.
DEFAULT_CG_RTOL = 1e-5


def _gp_with_tolerances(A, y, dA, num_probes, k, seed, rtol_y, rtol_z):
    """(nll, grad) with the solve for y to ``rtol_y`` and those of the probes to ``rtol_z``."""
    n = y.shape[0]
    alpha = reference_cg(A, y, rtol=rtol_y).x
    Z = rademacher_probes(n, num_probes, seed)
    U = [reference_cg(A, z, rtol=rtol_z).x for z in Z]
    nll = (0.5 * y @ alpha + 0.5 * reference_slq(A, num_probes, k, seed)
           + 0.5 * n * np.log(2 * np.pi))
    grad = np.array([-0.5 * alpha @ (D @ alpha) + 0.5 * np.mean([u @ (D @ z) for u, z in zip(U, Z)])
                     for D in dA])
    return float(nll), grad


def _check_gp_case(gp_nll, A, y, dA, *, what, **kwargs):
    """One call against the reference; returns the student's (nll, grad, products)."""
    num_probes, k = kwargs.get("num_probes", 10), kwargs.get("k", 30)
    seed, rtol = kwargs.get("seed", 0), kwargs.get("rtol", 1e-8)
    ref_op, ref_counter = _counting(A)
    want_nll, want_grad = _reference_gp_nll(ref_op, y, dA, num_probes=num_probes, k=k, seed=seed,
                                            rtol=rtol)
    ref_products = ref_counter.count
    nll, grad, products, dproducts = _gp_call(gp_nll, A, y, dA, **kwargs)
    # Solves to rtol = 1e-8 that stop at another iterate (another CG) would leave
    # differences far below these; a wrong formula is off by far more.
    tol = 1e-6 * _scale_of_terms(A, y, dA, num_probes, seed) + 1e-9
    same = lambda value, gradient: (_close(nll, value, 1e-7)
                                    and bool(np.all(np.abs(grad - gradient) <= tol)))
    ok = same(want_nll, want_grad)
    if not ok and rtol >= 1e-3:
        # A loose tolerance: every CG that stops when ||r|| <= rtol ||b|| stops at the
        # same iterate; one that solves more accurately is far from it.
        message = (f"{what}: nll or grad differ from those with CG stopped as soon as "
                   "||b - A x|| <= rtol ||b||: pass rtol to every CG solve (for y and for each "
                   "probe).")
        for rtol_y, rtol_z in ((DEFAULT_CG_RTOL, rtol), (rtol, DEFAULT_CG_RTOL),
                               (DEFAULT_CG_RTOL, DEFAULT_CG_RTOL)):
            if same(*_gp_with_tolerances(A, y, dA, num_probes, k, seed, rtol_y, rtol_z)):
                raise mistake("09.gp_nll.rtol_not_passed", message)
        raise WrongAnswer(message)
    if not _close(nll, want_nll, 1e-7):
        _diagnose_nll(nll, A, y, num_probes, k, seed, want_nll)
    if not np.all(np.abs(grad - want_grad) <= tol):
        _, again, _, _ = _gp_call(gp_nll, A, y, dA, **kwargs)
        expect(np.array_equal(again, grad),
               f"{what}: two calls with the same arguments gave different gradients: draw the "
               "probes of the trace from np.random.default_rng(seed), the same probes as for "
               "log det A.", code="09.gp_nll.trace_probes_seed")
        _diagnose_grad(grad, A, y, dA, num_probes, seed, want_grad, tol)
    for j, count in enumerate(dproducts):
        expect(count == num_probes + 1,
               f"{what}: gp_nll used {count} products with dA[{j}] for {num_probes} probes: "
               "one for dA alpha and one per probe for dA z_i make num_probes + 1.")
    # The reference's count: num_probes * k for SLQ, CG's products for the solves of y
    # and of every probe. A few more are fine (another CG's start or final check).
    slack = 2 * (num_probes + 1) + 2
    expect(products <= ref_products + slack,
           f"{what}: gp_nll used {products} products with A where about {ref_products} suffice: "
           "one CG solve for y and ONE per probe, shared by every hyperparameter (solve A u_i = z_i, "
           "then use u_i^T (dA_j z_i) for each j), plus the k Lanczos steps per probe.",
           code="09.gp_nll.solve_per_hyperparameter")
    return nll, grad


@exercise(4, "gp_nll", reference=_reference_gp_nll)
def check_gp_nll(gp_nll, n=80, num_probes=4, k=15, seed=0):
    """Check ``gp_nll(A, y, dA, *, num_probes=10, k=30, seed=0, rtol=1e-8) ->
    (nll, grad)`` against :func:`krylov_ref.gp.gp_nll_and_grad` (same probes):
    a GP problem with two hyperparameters and with one, the products with
    ``A`` and with each ``dA_j``, the defaults, one probe with ``k = 1``, a
    diagonal problem (exact), and the caller's ``y`` and ``dA`` unchanged."""
    A, dA, y = _kernel_problem(n, seed)
    nll, grad = _check_gp_case(gp_nll, A, y, dA, what="two hyperparameters",
                               num_probes=num_probes, k=k, seed=seed)
    # One hyperparameter (the noise level), another seed, a tighter rtol.
    _check_gp_case(gp_nll, A, y, dA[1:], what="one hyperparameter", num_probes=num_probes, k=k,
                   seed=seed + 1, rtol=1e-10)
    # A loose rtol: the solves stop early, and rtol shows in the result.
    _check_gp_case(gp_nll, A, y, dA, what="rtol=1e-2", num_probes=num_probes, k=k, seed=seed,
                   rtol=1e-2)
    # The defaults: num_probes=10, k=30, seed=0, rtol=1e-8.
    A2, dA2, y2 = _kernel_problem(50, seed + 7)
    _check_gp_case(gp_nll, A2, y2, dA2, what="the default arguments")
    # One probe and one Lanczos step.
    _check_gp_case(gp_nll, A2, y2, dA2, what="num_probes=1, k=1", num_probes=1, k=1, seed=seed)

    # Plain arrays work too (products with `@`), and are left as they were.
    A3, dA3, y3 = _kernel_problem(40, seed + 11)
    copies = [D.copy() for D in dA3]
    given = list(dA3)
    out = call_student(gp_nll, A3, y3, given, num_probes=2, k=10, seed=seed,
                       forbid=FORBID_LIKELIHOOD)
    expect(all(np.array_equal(D, C) for D, C in zip(dA3, copies)),
           "gp_nll changed a matrix of dA it was given: leave the caller's matrices as they are.")
    want3 = _reference_gp_nll(A3, y3, dA3, num_probes=2, k=10, seed=seed)
    as_ndarrays = ("with A and dA given as ndarrays the result differs from the one with "
                   "operators: use them only through products `@` (for an ndarray, `*` is the "
                   "entrywise product).")
    # The right form with operators and another with ndarrays: an entrywise product.
    expect(isinstance(out, (tuple, list)) and len(out) == 2 and np.ndim(out[0]) == 0
           and np.shape(out[1]) == (2,), as_ndarrays, code="09.gp_nll.star_product")
    expect(_close(_real_number(out[0], "nll"), want3[0], 1e-7)
           and np.allclose(np.asarray(out[1], dtype=float), want3[1], rtol=1e-5, atol=1e-8),
           as_ndarrays)

    # A diagonal problem with 3 distinct variances: SLQ (k >= 3) and Hutchinson are
    # exact there, so the answer is the closed form.
    m = 30
    a = np.repeat([0.5, 1.0, 4.0], m // 3)
    d = np.repeat([1.0, -0.5, 2.0], m // 3) * a      # dA/dtheta of a = a(theta)
    yd = np.random.default_rng(seed + 3).standard_normal(m)
    out = _gp_call(gp_nll, np.diag(a), yd, [np.diag(d)], num_probes=2, k=5, seed=seed)
    exact_nll = 0.5 * np.sum(yd**2 / a) + 0.5 * np.sum(np.log(a)) + 0.5 * m * np.log(2 * np.pi)
    exact_grad = -0.5 * np.sum(yd**2 * d / a**2) + 0.5 * np.sum(d / a)
    expect(_close(out[0], exact_nll, 1e-8),
           f"on a diagonal A with 3 distinct eigenvalues (k = 5) the estimates are exact: nll "
           f"should be {exact_nll:.10g}, got {out[0]:.10g}.")
    expect(abs(out[1][0] - exact_grad) <= 1e-7 * (1 + abs(exact_grad)),
           f"on a diagonal A and dA the trace estimate is exact: grad should be "
           f"[{exact_grad:.10g}], got [{out[1][0]:.10g}].")
    passed(f"gp_nll: nll = {nll:.6g} and grad = {np.round(grad, 4).tolist()} match the estimates "
           f"for {'1 probe' if num_probes == 1 else f'{num_probes} probes'}, k={k} (n={n}); products with A and dA as promised; defaults, "
           "one probe, diagonal case and inputs right.")


# --------------------------------------------------------------------------
# The misconceptions these checks name: code -> (description, the heading of
# the section that explains it).

SECTION_LIKELIHOOD = "1. The likelihood and its three ingredients"
SECTION_HUTCHINSON = "3. Traces from products: Hutchinson's estimator"
SECTION_EXERCISE_1 = "Exercise 1 — Hutchinson's trace estimator (4 points)"
SECTION_HUTCHPP = "Hutch++: the largest eigenvalues exactly, the rest by Hutchinson"
SECTION_EXERCISE_HUTCHPP = "Exercise 2 — Hutch++ (4 points)"
SECTION_QUADRATURE = ("4. $\\log\\det A = \\operatorname{tr}(\\log A)$, and Gauss quadrature "
                      "from Lanczos")
SECTION_EXERCISE_2 = "Exercise 3 — stochastic Lanczos quadrature (6 points)"
SECTION_GRADIENT = "6. The gradient: one CG solve per probe"
SECTION_EXERCISE_3 = "Exercise 4 — the NLL and its gradient (6 points)"

MISCONCEPTIONS = {
    # Exercise 1: hutchinson_trace
    "09.hutchinson_trace.gaussian_probes": ("Gaussian probes (standard_normal) where Rademacher "
                                            "(+-1) probes are asked", SECTION_EXERCISE_1),
    "09.hutchinson_trace.zero_one_probes": ("probes with entries 0 and 1 instead of -1 and +1",
                                            SECTION_HUTCHINSON),
    "09.hutchinson_trace.probes_as_columns": ("the probes drawn as the columns of an (n, p) "
                                              "array, not the rows of a (p, n) one",
                                              SECTION_EXERCISE_1),
    "09.hutchinson_trace.same_probe": ("the generator re-created for every probe: all probes "
                                       "the same", SECTION_EXERCISE_1),
    "09.hutchinson_trace.unseeded": ("the probes drawn from a generator without the seed",
                                     SECTION_EXERCISE_1),
    "09.hutchinson_trace.seed_ignored": ("the seed argument not used (a fixed seed instead)",
                                         SECTION_EXERCISE_1),
    "09.hutchinson_trace.default_seed": ("a default seed other than 0", SECTION_EXERCISE_1),
    "09.hutchinson_trace.sum_not_mean": ("the sum of z^T A z over the probes, not the mean",
                                         SECTION_HUTCHINSON),
    "09.hutchinson_trace.divided_by_n": ("the estimate divided by n", SECTION_HUTCHINSON),
    "09.hutchinson_trace.divided_by_p_minus_1": ("the sum divided by num_probes - 1, as for a "
                                                 "sample variance", SECTION_HUTCHINSON),
    "09.hutchinson_trace.squared_norm": ("||A z||^2 = z^T A^2 z averaged instead of z^T A z",
                                         SECTION_HUTCHINSON),
    # Exercise 2: hutchpp
    "09.hutchpp.no_orthonormalisation": ("Q = A S used as it is, not an orthonormal basis of its "
                                         "range", SECTION_HUTCHPP),
    "09.hutchpp.sketch_trace_omitted": ("trace(Q^T A Q) left out: only the probes' term "
                                        "returned", SECTION_HUTCHPP),
    "09.hutchpp.probes_not_projected": ("Hutchinson on A instead of on (I - QQ^T) A (I - QQ^T): "
                                        "the range of Q counted twice", SECTION_HUTCHPP),
    "09.hutchpp.one_sided_projection": ("the probes projected on one side only, "
                                        "G^T A (I - QQ^T) G", SECTION_HUTCHPP),
    "09.hutchpp.divided_by_m": ("the probes' term divided by m = num_matvecs instead of by the "
                                "k = m/3 probes", SECTION_HUTCHPP),
    "09.hutchpp.sum_not_mean": ("the probes' term summed, not averaged", SECTION_HUTCHPP),
    "09.hutchpp.sketch_reused_as_probes": ("the sketch's random matrix S reused as the probes G "
                                           "(not independent of Q)", SECTION_HUTCHPP),
    "09.hutchpp.sketch_not_multiplied": ("Q from the range of S instead of A S (no product in "
                                         "the sketch)", SECTION_HUTCHPP),
    "09.hutchpp.budget_not_split": ("k = num_matvecs columns for S and G: 3 num_matvecs products "
                                    "instead of num_matvecs", SECTION_EXERCISE_HUTCHPP),
    "09.hutchpp.gaussian": ("Gaussian S and G where entries +-1 are asked",
                            SECTION_EXERCISE_HUTCHPP),
    "09.hutchpp.draws_as_rows": ("S and G drawn with shape (k, n) and transposed",
                                 SECTION_EXERCISE_HUTCHPP),
    "09.hutchpp.draw_order": ("G drawn before S", SECTION_EXERCISE_HUTCHPP),
    "09.hutchpp.unseeded": ("S and G drawn from a generator without the seed",
                            SECTION_EXERCISE_HUTCHPP),
    "09.hutchpp.seed_ignored": ("the seed argument not used (a fixed seed instead)",
                                SECTION_EXERCISE_HUTCHPP),
    "09.hutchpp.default_seed": ("a default seed other than 0", SECTION_EXERCISE_HUTCHPP),
    "09.hutchpp.budget_not_checked": ("no ValueError for a num_matvecs that is not a positive "
                                      "multiple of 3", SECTION_EXERCISE_HUTCHPP),
    # Exercise 3: slq_logdet
    "09.slq_logdet.first_column": ("the weights from the first column (first eigenvector) of "
                                   "the eigenvector matrix instead of its first row",
                                   SECTION_QUADRATURE),
    "09.slq_logdet.last_row": ("the weights from the last row of the eigenvector matrix instead "
                               "of the first", SECTION_QUADRATURE),
    "09.slq_logdet.weights_unsquared": ("tau_j not squared: weights e_1^T u_j instead of "
                                        "(e_1^T u_j)^2", SECTION_QUADRATURE),
    "09.slq_logdet.no_n": ("the factor ||z||^2 = n left out", SECTION_QUADRATURE),
    "09.slq_logdet.norm_not_squared": ("the factor ||z|| = sqrt(n) instead of ||z||^2 = n",
                                       SECTION_QUADRATURE),
    "09.slq_logdet.sum_not_mean": ("the sum over the probes, not the mean", SECTION_QUADRATURE),
    "09.slq_logdet.logdet_of_T": ("log det T_k = sum_j log theta_j averaged, without the "
                                  "quadrature weights", SECTION_QUADRATURE),
    "09.slq_logdet.log_of_mean": ("log of sum_j tau_j^2 theta_j instead of sum_j tau_j^2 "
                                  "log theta_j", SECTION_QUADRATURE),
    "09.slq_logdet.k_minus_one_steps": ("k - 1 Lanczos steps per probe instead of k",
                                        SECTION_EXERCISE_2),
    "09.slq_logdet.lanczos_ignored": ("the lanczos argument ignored (krylov_ref.lanczos always "
                                      "used)", SECTION_EXERCISE_2),
    "09.slq_logdet.gaussian_probes": ("Gaussian probes where Rademacher (+-1) probes are asked",
                                      SECTION_EXERCISE_2),
    "09.slq_logdet.same_probe": ("the generator re-created for every probe: all probes the "
                                 "same", SECTION_EXERCISE_2),
    "09.slq_logdet.default_seed": ("a default seed other than 0", SECTION_EXERCISE_2),
    # Exercise 4: gp_nll
    "09.gp_nll.no_constant": ("the constant n/2 log(2 pi) left out of the NLL",
                              SECTION_LIKELIHOOD),
    "09.gp_nll.constant_not_halved": ("the constant n log(2 pi) instead of n/2 log(2 pi)",
                                      SECTION_LIKELIHOOD),
    "09.gp_nll.data_term_no_half": ("y^T A^{-1} y without its 1/2", SECTION_LIKELIHOOD),
    "09.gp_nll.logdet_no_half": ("log det A without its 1/2", SECTION_LIKELIHOOD),
    "09.gp_nll.logdet_sign": ("log det A subtracted instead of added", SECTION_LIKELIHOOD),
    "09.gp_nll.log_likelihood": ("the log-likelihood (and its gradient) returned instead of "
                                 "the negative log-likelihood", SECTION_LIKELIHOOD),
    "09.gp_nll.slq_seed_not_passed": ("log det A estimated with other probes: the seed not "
                                      "passed to slq_logdet", SECTION_EXERCISE_3),
    "09.gp_nll.grad_sign": ("the whole gradient with the wrong sign", SECTION_LIKELIHOOD),
    "09.gp_nll.grad_data_sign": ("+1/2 alpha^T dA alpha: the sign of d A^{-1} = "
                                 "-A^{-1} dA A^{-1} lost", SECTION_LIKELIHOOD),
    "09.gp_nll.grad_trace_sign": ("-1/2 trace(A^{-1} dA) instead of +1/2", SECTION_LIKELIHOOD),
    "09.gp_nll.grad_data_no_half": ("alpha^T dA alpha without its 1/2", SECTION_LIKELIHOOD),
    "09.gp_nll.grad_trace_no_half": ("trace(A^{-1} dA) without its 1/2", SECTION_LIKELIHOOD),
    "09.gp_nll.trace_without_solve": ("trace(dA) estimated (z^T dA z) instead of "
                                      "trace(A^{-1} dA): no solve with the probes",
                                      SECTION_GRADIENT),
    "09.gp_nll.trace_gaussian_probes": ("Gaussian probes for the trace term where the "
                                        "contract's Rademacher probes are asked",
                                        SECTION_EXERCISE_3),
    "09.gp_nll.trace_probes_seed": ("the trace term's probes not drawn with the seed (other "
                                    "probes than for log det A)", SECTION_GRADIENT),
    "09.gp_nll.solve_per_hyperparameter": ("a CG solve per probe and per hyperparameter instead "
                                           "of one per probe shared by all", SECTION_GRADIENT),
    "09.gp_nll.rtol_not_passed": ("rtol not passed to a CG solve (its default 1e-5 used)",
                                  SECTION_EXERCISE_3),
    "09.gp_nll.star_product": ("D * v (entrywise for an ndarray) where the product D @ v is "
                               "meant", SECTION_EXERCISE_3),
}
