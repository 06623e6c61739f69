"""Checks for lesson 08 (ridge regression without forming X^T X).

Each ``check_*`` runs a student's function on problems with known answers,
raises :class:`~krylov_ref.checks.WrongAnswer` naming the likely mistake, and
prints one line when all is well. Visible tests call them with their
defaults; hidden tests call them with other sizes and seeds, sparse ``X``,
``p > n`` and the edge cases of the contracts.

The data matrix reaches the student's function as a :class:`DataOperator`:
``X @ v``, ``X.T @ u`` and ``u @ X`` work and are counted (products with
``X`` and with ``X^T`` separately); turning it into an array does not, so
``X^T X`` cannot be formed except one counted column at a time.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..regression import regularization_path as reference_path
from ..ridge import cgls as reference_cgls
from ..ridge import ridge_cg as reference_ridge_cg
from . import (DIRECT, SOLVERS, WrongAnswer, call_student, exercise, expect, expect_close,
               passed)

__all__ = ["DataOperator", "check_ridge_matvec", "check_ridge_cg", "check_cgls",
           "check_regularization_path"]

#: What would do the exercises' work for them: the library's ridge solvers,
#: factorisations of a formed X^T X, and the reference's own pieces.
FORBID = SOLVERS + DIRECT + (
    "numpy.linalg.cholesky", "scipy.linalg.cholesky", "scipy.linalg.cho_factor",
    "numpy.linalg.qr", "scipy.linalg.qr", "numpy.linalg.svd", "scipy.linalg.svd",
    "numpy.linalg.eigh", "scipy.linalg.eigh",
    "krylov_ref.regression.ridge_matvec", "krylov_ref.regression.regularization_path",
    "sklearn.linear_model.Ridge", "sklearn.linear_model.RidgeCV",
    "sklearn.linear_model.ridge_regression", "sklearn.linear_model._ridge.ridge_regression",
)


# --------------------------------------------------------------------------
# The data matrix as an operator that counts


class _Shared:
    """What a DataOperator and its transpose share: the matrix and the counts."""

    def __init__(self, X, record):
        self.X = X
        self.products = [0, 0]            # [with X, with X^T]
        self.record = record
        self.transposed_inputs = []       # vectors u of the products X^T u, when recorded


class DataOperator:
    """A data matrix ``X`` (n x p, dense or sparse) that supports only products.

    ``X @ v`` (v of length p), ``X.T @ u`` and ``u @ X`` (u of length n) and
    ``X.shape`` work; a block of k columns counts k products. Products with
    ``X`` and with ``X^T`` are counted separately (``count_X``,
    ``count_XT``). ``np.asarray(X)``, ``X.toarray()`` and indexing raise
    ``TypeError``: ``X^T X`` cannot be formed without paying p products.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix, shape (n, p)
    record : bool
        Keep a copy of every vector ``u`` multiplied by ``X^T`` (to see what
        a method applies ``X^T`` to).

    Examples
    --------
    >>> import numpy as np
    >>> X = DataOperator(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    >>> (X.T @ (X @ np.ones(2))).tolist()
    [79.0, 100.0]
    >>> X.count_X, X.count_XT, X.shape, X.T.shape
    (1, 1, (3, 2), (2, 3))
    """

    __array_ufunc__ = None  # keep NumPy from turning X into an array behind our back

    def __init__(self, X, record=False, *, _shared=None, _transposed=False):
        if _shared is None:
            X = sp.csr_array(X, dtype=float) if sp.issparse(X) else np.array(X, dtype=float)
            _shared = _Shared(X, record)
        self.__shared = _shared
        self.__transposed = _transposed
        n, p = _shared.X.shape
        self.shape = (p, n) if _transposed else (n, p)
        self.ndim = 2
        self.dtype = np.dtype(float)

    # Read-only: the counts are the grader's, not the function's, to change.
    @property
    def count_X(self):
        return self.__shared.products[0]

    @property
    def count_XT(self):
        return self.__shared.products[1]

    @property
    def count(self):
        return sum(self.__shared.products)

    @property
    def transposed_inputs(self):
        return list(self.__shared.transposed_inputs)

    @property
    def T(self):
        return DataOperator(None, _shared=self.__shared, _transposed=not self.__transposed)

    def _apply(self, v, transposed, block_axis):
        shared = self.__shared
        v = np.asarray(v, dtype=float)
        n, p = shared.X.shape
        length = n if transposed else p
        name = "X.T" if transposed else "X"
        along = v.shape[0] if (v.ndim == 1 or block_axis == 1) else v.shape[-1]
        if v.ndim == 0 or v.ndim > 2 or along != length:
            raise ValueError(f"{name} @ v needs v of length {length}, got shape {v.shape}")
        shared.products[1 if transposed else 0] += 1 if v.ndim == 1 else v.shape[block_axis]
        if transposed and shared.record and v.ndim == 1:
            shared.transposed_inputs.append(v.copy())
        A = shared.X.T if transposed else shared.X
        if v.ndim == 2 and block_axis == 0:       # rows of u @ X: (X^T u^T)^T
            return np.asarray(A @ v.T).T
        return A @ v

    def __matmul__(self, v):
        return self._apply(v, self.__transposed, block_axis=1)

    def __rmatmul__(self, u):
        # u @ X = (X^T u^T)^T: a product with the transpose of this operator.
        return self._apply(u, not self.__transposed, block_axis=0)

    def dot(self, v):
        return self.__matmul__(v)

    matvec = dot

    def rmatvec(self, u):
        return self._apply(u, not self.__transposed, block_axis=1)

    def _refuse(self, *args, **kwargs):
        raise TypeError(
            "In this exercise X is an operator: use X @ v and X.T @ u. Turning it into an "
            "array (np.asarray, X.toarray(), indexing, np.dot(X, v)) is not allowed, and "
            "X^T X is never formed."
        )

    __array__ = _refuse
    toarray = todense = __getitem__ = __iter__ = _refuse

    def __repr__(self):
        return f"DataOperator(shape={self.shape}, count_X={self.count_X}, count_XT={self.count_XT})"


# --------------------------------------------------------------------------
# Helpers


def _data(m, p, seed, sparse=False, decay=None, huge=False):
    """A data matrix (full rank, no empty column) and targets; with ``decay``,
    the columns are scaled from 1 down to ``decay`` (a wider spectrum, where
    CG needs more iterations and warm starts matter).

    ``huge`` scales y so that ``||X^T y|| = 1e150``. With rtol = atol = 0
    (to test the default maxiter) CG's updated residual keeps shrinking
    after convergence and underflows to exactly 0, which meets the test
    ``0 <= 0``, after about 10 p iterations from ``||X^T y||`` near 1; from
    1e150 it takes more than 15 p.
    """
    rng = np.random.default_rng(seed)
    if sparse:
        X = sp.random_array((m, p), density=0.25, format="csr", rng=rng)
        # a unit entry in every column keeps X^T X free of zero rows
        rows = np.arange(p) % m
        X = sp.csr_array(X + sp.csr_array((np.ones(p), (rows, np.arange(p))), shape=(m, p)))
    else:
        X = rng.standard_normal((m, p))
    if decay is not None:
        scale = np.geomspace(1.0, decay, p)
        X = sp.csr_array(X @ sp.diags_array(scale)) if sparse else X * scale
    y = rng.standard_normal(m)
    if huge:
        y *= 1e150 / np.linalg.norm(_dense(X).T @ y)
    return X, y


def _dense(X):
    return X.toarray() if sp.issparse(X) else np.asarray(X, dtype=float)


def _normal(X, lam):
    Xd = _dense(X)
    return Xd.T @ Xd + lam * np.eye(Xd.shape[1])


def _solution(X, y, lam):
    Xd = _dense(X)
    return np.linalg.lstsq(np.vstack([Xd, np.sqrt(lam) * np.eye(Xd.shape[1])]),
                           np.concatenate([y, np.zeros(Xd.shape[1])]), rcond=None)[0]


def _normal_residual(X, y, lam, beta):
    Xd = _dense(X)
    return float(np.linalg.norm(Xd.T @ y - Xd.T @ (Xd @ beta) - lam * beta))


def _expect_unchanged(*triples):
    for given, kept, name in triples:
        expect(np.array_equal(np.asarray(given), np.asarray(kept)),
               f"your function changed the caller's `{name}` in place. Inputs must be left "
               f"unchanged: work on a copy of `{name}` (an in-place update such as `+=` on the "
               "caller's array modifies it).")


def _vector(value, n, what):
    if value is None:
        raise WrongAnswer(f"{what} is None: does the function end with a `return` of its result?")
    if sp.issparse(value):
        raise WrongAnswer(f"{what} should be a 1-D ndarray, got a sparse matrix")
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise WrongAnswer(f"{what} should be an array of numbers, got {type(value).__name__}") from None
    if arr.shape != (n,) and arr.size == n and arr.ndim == 2:
        raise WrongAnswer(f"{what} should be a 1-D array of shape ({n},), got shape {arr.shape} "
                          "(a column or a row matrix): return a flat vector.")
    expect(arr.shape == (n,), f"{what} should have shape ({n},), got {arr.shape}")
    return arr


def _pair(value, what, names):
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        got = type(value).__name__
        if hasattr(value, "__len__") and not isinstance(value, np.ndarray):
            got += f" of length {len(value)}"
        raise WrongAnswer(f"{what} should return a tuple {names}, got {got}")
    return value


def _close(a, b, rtol):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and np.linalg.norm(a - b) <= rtol * max(np.linalg.norm(b), 1e-300)


# --------------------------------------------------------------------------
# Exercise 1: the product (X^T X + lam I) v


def _reference_ridge_matvec(X, v, lam):
    return X.T @ (X @ np.asarray(v, dtype=float)) + lam * np.asarray(v, dtype=float)


def _diagnose_matvec(got, X, v, lam):
    Xd = _dense(X)
    G = Xd.T @ (Xd @ v)
    if _close(got, G + lam * v, 1e-10):
        return
    wrong = [(-G - lam * v, "the product has the wrong sign: (X^T X + lam I) v, not its negative.")]
    if lam != 0:
        wrong += [
            (G, "the term lam v is missing: the product is X^T (X v) + lam v."),
            (G - lam * v, "lam v should be added, not subtracted: (X^T X + lam I) v."),
            (G + lam ** 2 * v, "the regularisation term is lam^2 v: it should be lam v "
                               "(lam multiplies the identity)."),
            (G + np.sqrt(lam) * v, "the regularisation term is sqrt(lam) v: it should be lam v "
                                   "(sqrt(lam) is the damping of the least-squares form)."),
            (G + 2 * lam * v, "the regularisation term is 2 lam v: it should be lam v."),
            (G + lam, "lam is added to every entry: the term is lam v, lam times the vector."),
        ]
    for value, message in wrong:
        if _close(got, value, 1e-10):
            raise WrongAnswer(message)


def _call_matvec(ridge_matvec, X, v, lam, operator=True):
    p = X.shape[1]
    op = DataOperator(X) if operator else X.copy()
    v_in = v.copy()
    got = call_student(ridge_matvec, op, v_in, lam, forbid=FORBID)
    _expect_unchanged((v_in, v, "v"))
    if not operator:
        _expect_unchanged((_dense(op), _dense(X), "X"))
        return _vector(got, p, "the product"), None
    return _vector(got, p, "the product (X^T X + lam I) v"), op


@exercise(1, "ridge_matvec", reference=_reference_ridge_matvec)
def check_ridge_matvec(ridge_matvec, m=30, p=12, lam=0.7, seed=0, sparse=False):
    """Check ``ridge_matvec(X, v, lam) -> (X^T X + lam I) v`` with one product
    with ``X`` and one with ``X^T``; ``lam = 0`` and ``v = 0`` included."""
    rng = np.random.default_rng(seed + 1000)
    X, _ = _data(m, p, seed, sparse)
    for trial, lam_t in enumerate((lam, 3.0 * lam + 0.25, 0.0)):
        v = rng.standard_normal(p) * (1.0 + trial)
        got, op = _call_matvec(ridge_matvec, X, v, lam_t)
        expect(np.all(np.isfinite(got)), "the product contains NaN or inf")
        _diagnose_matvec(got, X, v, lam_t)
        expect_close(got, _normal(X, lam_t) @ v, f"(X^T X + lam I) v for lam = {lam_t:g}",
                     rtol=1e-10, atol=1e-12, hint="the product is X^T (X v) + lam v.")
        expect(op.count_X == 1 and op.count_XT == 1,
               f"used {op.count_X} product(s) with X and {op.count_XT} with X^T: one of each is "
               "enough, X^T applied to X v (never form X^T X, a p x p matrix).")
    got, _ = _call_matvec(ridge_matvec, X, np.zeros(p), lam)
    expect(np.array_equal(got, np.zeros(p)), "(X^T X + lam I) 0 should be the zero vector.")
    # The plain matrix works too (an ndarray, or a scipy.sparse matrix).
    v = rng.standard_normal(p)
    got, _ = _call_matvec(ridge_matvec, X, v, lam, operator=False)
    expect_close(got, _normal(X, lam) @ v,
                 f"the product with X given as a {'sparse matrix' if sparse else 'NumPy array'}",
                 rtol=1e-10, atol=1e-12,
                 hint="use X only through products with X and with its transpose, which "
                      "work for arrays, sparse matrices and operators alike.")
    kind = "sparse" if sparse else "dense"
    passed(f"ridge_matvec: (X^T X + lam I) v right on {kind} {m} x {p} data, lam = 0 included, "
           "with one product with X and one with X^T.")


# --------------------------------------------------------------------------
# Exercises 2 and 3: CG on the normal equations, and CGLS


class _Method:
    """What differs between the two solvers' contracts."""

    def __init__(self, name, param_name):
        self.name, self.param_name = name, param_name

    def lam(self, param):
        return param if self.param_name == "lam" else param ** 2

    def param(self, lam):
        return lam if self.param_name == "lam" else np.sqrt(lam)

    def reference(self, X, y, param, **kwargs):
        solver = reference_ridge_cg if self.param_name == "lam" else reference_cgls
        return solver(X, y, param, **kwargs)


RIDGE = _Method("ridge_cg", "lam")
CGLS = _Method("cgls", "damp")


def _run(func, method, X, y, *args, x0=None, record=False, operator=True, finite=True, **kwargs):
    """Call a solver with X as a counting operator; check what it returns and
    that the caller's arrays are unchanged."""
    p = X.shape[1]
    op = DataOperator(X, record=record) if operator else X.copy()
    y_in = y.copy()
    X_kept = None if operator else op.copy()
    if x0 is not None:
        x0_in = x0.copy()
        kwargs["x0"] = x0_in
    out = call_student(func, op, y_in, *args, forbid=FORBID, **kwargs)
    _expect_unchanged((y_in, y, "y"))
    if x0 is not None:
        _expect_unchanged((x0_in, x0, "x0"))
    if X_kept is not None:
        _expect_unchanged((_dense(op), _dense(X_kept), "X"))
    beta, norms = _pair(out, method.name, "(beta, residual_norms)")
    beta = _vector(beta, p, "beta")
    try:
        norms = np.asarray(norms, dtype=float)
    except (TypeError, ValueError):
        raise WrongAnswer("residual_norms should be a list of numbers") from None
    expect(norms.ndim == 1 and norms.size >= 1,
           "residual_norms should be a 1-D list of norms, the initial residual first")
    if finite:
        expect(np.all(np.isfinite(norms)) and np.all(np.isfinite(beta)),
               "beta or residual_norms contains NaN or inf")
    return beta, norms, op


def _first_step_norm(X, y, lam_step, lam_residual=None):
    """||s_1|| after one CG step from zero, the step computed with ``lam_step``
    and the residual with ``lam_residual`` (both lam when right)."""
    lam_residual = lam_step if lam_residual is None else lam_residual
    Xd = _dense(X)
    s0 = Xd.T @ y
    Xs = Xd @ s0
    alpha = (s0 @ s0) / (Xs @ Xs + lam_step * (s0 @ s0))
    beta1 = alpha * s0
    return float(np.linalg.norm(Xd.T @ (y - Xd @ beta1) - lam_residual * beta1))


def _diagnose_first_step(method, norms, X, y, lam):
    """The first recorded step tells most mistakes apart."""
    right = _first_step_norm(X, y, lam)
    if np.isclose(norms[1], right, rtol=1e-7):
        return
    param = method.param(lam)
    name = method.param_name
    candidates = []
    if lam != 0:
        candidates += [
            (_first_step_norm(X, y, 0.0, lam), "alpha leaves out the regularisation: its "
             f"denominator is ||X p||^2 + lam ||p||^2 = p^T (X^T X + lam I) p "
             "(see the algorithm box)."),
            (_first_step_norm(X, y, lam, 0.0), "the residual leaves out the term -lam beta: "
             "s = X^T (y - X beta) - lam beta"
             + (" with lam = damp^2 (see the algorithm box)." if name == "damp" else ".")),
            (_first_step_norm(X, y, 0.0), f"the regularisation is missing: with {name} = "
             f"{param:g} the system is (X^T X + lam I) beta = X^T y"
             + (" with lam = damp^2." if name == "damp" else ".")),
        ]
        if name == "damp":
            candidates.append((_first_step_norm(X, y, param), "damp is used where damp^2 "
                               "belongs: the ridge parameter is lam = damp^2 (as in SciPy's "
                               "lsqr), in alpha's denominator and in s = X^T r - damp^2 beta."))
        else:
            candidates += [
                (_first_step_norm(X, y, lam ** 2), "lam^2 is used where lam belongs: the "
                 "matrix is X^T X + lam I."),
                (_first_step_norm(X, y, np.sqrt(lam)), "sqrt(lam) is used where lam belongs: "
                 "the matrix is X^T X + lam I."),
            ]
    for value, message in candidates:
        if np.isclose(norms[1], value, rtol=1e-7) and not np.isclose(value, right, rtol=1e-7):
            raise WrongAnswer(message)
    raise WrongAnswer(
        f"residual_norms[1] = {norms[1]:.6g}, expected {right:.6g} after the first step from "
        "beta = 0: check alpha (the step along p), the update of beta and of the residual, "
        "and that residual_norms holds ||s_k||, the norm of the normal-equations residual "
        "(see the algorithm box).")


def _stopping_diagnosis(method, X, y, param, rtol, budget, iters):
    """A message when the iteration count is that of a wrong stopping test."""
    Xd = _dense(X)
    alternatives = [
        (rtol * np.linalg.norm(y), "relative to ||y||: the contract's test is relative to "
         "||X^T y||, the right-hand side of the normal equations, "
         "||s_k|| <= max(rtol ||X^T y||, atol)."),
        (rtol, "absolute (||s_k|| <= rtol): the contract's test is relative, "
         "||s_k|| <= max(rtol ||X^T y||, atol)."),
    ]
    right = method.reference(X, y, param, rtol=rtol, maxiter=budget).iterations
    for atol, message in alternatives:
        its = method.reference(Xd, y, param, rtol=0.0, atol=float(atol), maxiter=budget).iterations
        if iters == its and abs(its - right) > 1:
            return "Your stopping test looks " + message
    return None


def _expect_larger_tolerance(func, method, X, y, param, ref, budget):
    """With rtol ||X^T y|| = atol = level, the test ||s_k|| <= max(...) stops at
    the first norm <= level; a test on the sum (2 level) stops earlier. The
    level is placed, from the reference history, so that one norm lies between
    the two and every earlier norm above both."""
    h = np.asarray(ref.residual_norms, dtype=float)
    steps = range(2, min(h.size, 9))
    if not steps:
        return
    drop = {k: h[:k].min() / h[k] for k in steps}
    k = max(steps, key=drop.get)
    if drop[k] <= 1.1:
        return
    level = (1.0 + min(drop[k], 1.9)) / 4.0 * h[k]      # h[k] lies in (level, 2 level)
    b_norm = np.linalg.norm(_dense(X).T @ y)
    _, norms_t, _ = _run(func, method, X, y, param, rtol=level / b_norm, atol=level,
                         maxiter=budget)
    last = norms_t[-1]
    if level * (1 + 1e-9) < last <= 2 * level * (1 + 1e-9):
        raise WrongAnswer(
            f"with rtol ||X^T y|| = atol = {level:.3g}, your function stopped at ||s|| = "
            f"{last:.3g}, below their sum but above the larger of the two. The test is "
            "||s_k|| <= max(rtol ||X^T y||, atol), not rtol ||X^T y|| + atol.")
    expect(last <= level * (1 + 1e-9),
           f"with rtol ||X^T y|| = atol = {level:.3g}, your function stopped at ||s|| = "
           f"{last:.3g}: stop when ||s_k|| <= max(rtol ||X^T y||, atol).")


def _expect_products(op, iters, x0_given=False):
    """One product with X and one with X^T per iteration, plus X^T y, the
    residual at x0 when given, and a check of the true residual at the end."""
    extra = 1 + (1 if x0_given else 0)
    expect(iters <= op.count_X <= iters + extra and iters <= op.count_XT <= iters + extra + 2,
           f"used {op.count_X} products with X and {op.count_XT} with X^T for {iters} "
           "iterations: one of each per iteration is enough (plus X^T y at the start"
           + (", and one pair for the residual at x0" if x0_given else "") + "). Update the "
           "residual with the product you already have instead of recomputing it, and never "
           "form X^T X.")


def _check_solver(func, method, m, p, param, seed, sparse):
    n_features = p
    X, y = _data(m, p, seed, sparse)
    lam = method.lam(param)
    name = method.name
    rtol = 1e-8
    budget = 10 * p
    Xty = _dense(X).T @ y
    tol = rtol * np.linalg.norm(Xty)
    ref = method.reference(X, y, param, rtol=rtol, maxiter=budget)

    beta, norms, op = _run(func, method, X, y, param, rtol=rtol, maxiter=budget,
                           record=method is CGLS, finite=False)
    if norms.size and np.isclose(norms[0], np.linalg.norm(y), rtol=1e-8) \
            and not np.isclose(np.linalg.norm(y), np.linalg.norm(Xty), rtol=1e-3):
        raise WrongAnswer("residual_norms[0] is ||y||, the least-squares residual y - X beta at "
                          "beta = 0. The contract records the normal-equations residual "
                          "s = X^T y - (X^T X + lam I) beta, whose norm at beta = 0 is ||X^T y||.")
    expect_close(norms[0], np.linalg.norm(Xty), "residual_norms[0]", rtol=1e-8,
                 hint="it should be ||X^T y - (X^T X + lam I) beta_0|| with beta_0 = 0, "
                      "i.e. ||X^T y||.")
    expect(norms.size >= 2, f"no iteration was taken, but ||X^T y|| = {norms[0]:.3g} is above "
                            "rtol ||X^T y||.")
    _diagnose_first_step(method, norms, X, y, lam)
    expect(np.all(np.isfinite(norms)) and np.all(np.isfinite(beta)),
           "beta or residual_norms contains NaN or inf")
    iters = norms.size - 1
    res = _normal_residual(X, y, lam, beta)
    if res > 1.01 * tol and norms[-1] <= 1.01 * tol:
        raise WrongAnswer(
            f"beta and the updated residual no longer agree: your last recorded norm is "
            f"{norms[-1]:.3g} (converged), but for the beta you return ||X^T y - (X^T X + lam I) "
            f"beta|| = {res:.3g}. beta must move by the same step alpha p that the update of "
            "the residual assumes (see the algorithm box).")
    if iters != ref.iterations:
        message = _stopping_diagnosis(method, X, y, param, rtol, budget, iters)
        if message:
            raise WrongAnswer(f"took {iters} iterations; {name} takes {ref.iterations}. {message}")
    expect(res <= 1.01 * tol,
           f"not converged: ||X^T y - (X^T X + lam I) beta|| = {res:.3g} but rtol ||X^T y|| = "
           f"{tol:.3g} after {iters} iterations. Stop when ||s_k|| <= max(rtol ||X^T y||, atol) "
           "(not on the change in beta, nor on ||y - X beta||, which does not go to zero).")
    expect_close(norms[-1], res, "the last residual norm", rtol=1e-4,
                 hint="residual_norms[-1] should be ||X^T y - (X^T X + lam I) beta|| for the "
                      "beta you return.")
    expect(abs(iters - ref.iterations) <= 1,
           f"took {iters} iterations; {name} takes {ref.iterations}. Test the stopping "
           "criterion before each iteration: ||s_k|| <= max(rtol ||X^T y||, atol).")
    _expect_products(op, iters)
    # Two correct methods' histories part by rounding as they go: the first
    # steps are compared closely, the whole history loosely.
    k = min(iters, ref.iterations)
    head = min(k, 8)
    for upto, close in ((head, 1e-6), (k, 1e-2)):
        expect_close(norms[: upto + 1], ref.residual_norms[: upto + 1],
                     "the residual norm history", rtol=close, atol=close * 1e-4 * norms[0],
                     hint="residual_norms should hold ||s_k|| for k = 0, 1, ..., one per "
                          "iteration (see the algorithm box).")
    if method is CGLS:
        _check_cgls_uses_the_residual(op, X, y, param)

    # The same problem scaled: X by 10, y by 1000, lam by 100 (damp by 10). The
    # iterations do not change, and a stopping test that is absolute, or
    # relative to ||y||, notices.
    scaled = (X * 10.0, 1000.0 * y, method.param(100.0 * lam))
    _, norms_s, _ = _run(func, method, *scaled, rtol=rtol, maxiter=budget)
    its_s = norms_s.size - 1
    if abs(its_s - ref.iterations) > 1:
        message = _stopping_diagnosis(method, *scaled, rtol, budget, its_s) or (
            "Stop when ||s_k|| <= max(rtol ||X^T y||, atol).")
        raise WrongAnswer(f"on the same problem with X times 10, y times 1000 and lam times 100 "
                          f"{name} should take the same {ref.iterations} iterations, but took "
                          f"{its_s}. {message}")

    # maxiter: exactly maxiter iterations when not converged; None means 10 p.
    _, norms3, _ = _run(func, method, X, y, param, rtol=rtol, maxiter=3)
    expect(norms3.size == 4, f"with maxiter=3, residual_norms should have 4 entries (initial + "
                             f"3), got {norms3.size}")
    Xs, ys = _data(15, 6, seed + 7, huge=True)
    _, norms_d, _ = _run(func, method, Xs, ys, param, rtol=0.0, atol=0.0)
    expect(norms_d.size - 1 == 60,
           "with the default maxiter=None and rtol = atol = 0 (a test CG never meets), the "
           "contract's default maxiter = 10 p = 60 iterations should be taken for p = 6 "
           f"features; yours took {norms_d.size - 1}. See the exercise text.")

    # x0 near the solution is used, and left unchanged (checked by _run).
    exact = _solution(X, y, lam)
    x0 = exact + 1e-3 * np.ones(n_features)
    beta0, norms0, op0 = _run(func, method, X, y, param, x0=x0, rtol=rtol, maxiter=budget)
    expect_close(norms0[0], _normal_residual(X, y, lam, x0), "residual_norms[0] with x0 given",
                 rtol=1e-7, hint="start from x0 when it is given: s_0 = X^T (y - X x0) - lam x0.")
    expect(_normal_residual(X, y, lam, beta0) <= 1.01 * tol,
           "with x0 given, the returned beta does not solve the normal equations to rtol.")
    expect(norms0.size < norms.size, "starting next to the solution should take fewer "
                                     "iterations than starting from zero: is x0 used?")
    _expect_products(op0, norms0.size - 1, x0_given=True)
    # x0 equal to the solution: the stopping test holds at once.
    beta_e, norms_e, _ = _run(func, method, X, y, param, x0=exact, rtol=rtol, maxiter=budget)
    expect(norms_e.size == 1 and np.allclose(beta_e, exact, rtol=1e-12, atol=1e-14),
           f"with x0 equal to the solution, the stopping test holds before any step: the answer "
           f"is x0 itself with one entry in residual_norms; yours took {norms_e.size - 1} "
           "iteration(s). Test the stopping criterion at the top of the loop.")
    # y = 0 (and no x0): beta = 0 with residual_norms = [0.0], no 0/0.
    beta_z, norms_z, _ = _run(func, method, X, np.zeros(m), param, rtol=rtol, maxiter=budget,
                              finite=False)
    finite = np.all(np.isfinite(norms_z)) and np.all(np.isfinite(beta_z))
    expect(norms_z.size == 1 and norms_z[0] == 0.0 and finite and not np.any(beta_z),
           "with y = 0 (and x0 = None), X^T y = 0: beta = 0 is the solution and the stopping "
           "test 0 <= max(rtol * 0, atol) holds before any step, so return zeros with "
           f"residual_norms = [0.0]; yours took {norms_z.size - 1} iteration(s)"
           + ("" if finite else " and produced NaN (a step 0/0)")
           + ". Keep equality in the test: ||s_k|| <= max(rtol ||X^T y||, atol).")
    # The defaults rtol=1e-5, atol=0.0 and maxiter=None.
    beta_d, norms_d2, _ = _run(func, method, X, y, param)
    ref_d = method.reference(X, y, param)
    expect(_normal_residual(X, y, lam, beta_d) <= 1.01e-5 * np.linalg.norm(Xty)
           and abs(norms_d2.size - 1 - ref_d.iterations) <= 1,
           f"with the default tolerances {name} took {norms_d2.size - 1} iterations, expected "
           f"{ref_d.iterations} (to ||s_k|| <= 1e-5 ||X^T y||): are the defaults rtol=1e-5 and "
           "atol=0.0?")
    # atol: a loose absolute tolerance stops early.
    atol = 0.1 * np.linalg.norm(Xty)
    beta_a, norms_a, _ = _run(func, method, X, y, param, rtol=0.0, atol=atol, maxiter=budget)
    expect(_normal_residual(X, y, lam, beta_a) <= 1.01 * atol and norms_a.size - 1 < iters,
           "with rtol=0 and atol given, stop when ||s_k|| <= atol.")
    # rtol and atol together: the test takes the larger of the two, not their sum.
    _expect_larger_tolerance(func, method, X, y, param, ref, budget)
    # The plain matrix (an ndarray or a scipy.sparse matrix) gives the same answer.
    beta_p, _, _ = _run(func, method, X, y, param, rtol=rtol, maxiter=budget, operator=False)
    expect(_close(beta_p, beta, 1e-8),
           f"with X given as a {'sparse matrix' if sparse else 'NumPy array'} instead of an "
           "operator, beta differs: use X only through products with X and with its "
           "transpose.")
    return X, y, iters, ref


def _check_cgls_uses_the_residual(op, X, y, damp):
    """CGLS applies X^T to the least-squares residual r_k = y - X beta_k
    (updated, not recomputed); CG on the normal equations applies it to X p_k."""
    seen = []
    reference_cgls(X, y, damp, rtol=0.0, maxiter=3, callback=lambda b: seen.append(b.copy()))
    Xd = _dense(X)
    inputs = op.transposed_inputs
    for k, beta_k in enumerate(seen[:2], start=1):
        r_k = y - Xd @ beta_k
        found = any(u.shape == r_k.shape and np.linalg.norm(u - r_k) <= 1e-6 * np.linalg.norm(r_k)
                    for u in inputs)
        expect(found,
               f"X^T is never applied to the least-squares residual r_{k} = y - X beta_{k}. "
               "CGLS keeps r = y - X beta, updated as r <- r - alpha X p, and computes "
               "s = X^T r - damp^2 beta from it; applying X^T to X p is CG on the normal "
               "equations (Exercise 2), which rounds through X^T X (see the algorithm box).")


def _reference_ridge_cg(X, y, lam, *, x0=None, rtol=1e-5, atol=0.0, maxiter=None):
    res = reference_ridge_cg(X, y, lam, x0=x0, rtol=rtol, atol=atol, maxiter=maxiter)
    return res.x, list(res.residual_norms)


def _reference_cgls(X, y, damp=0.0, *, x0=None, rtol=1e-5, atol=0.0, maxiter=None):
    res = reference_cgls(X, y, damp, x0=x0, rtol=rtol, atol=atol, maxiter=maxiter)
    return res.x, list(res.residual_norms)


@exercise(2, "ridge_cg", reference=_reference_ridge_cg)
def check_ridge_cg(ridge_cg, m=60, p=25, lam=0.5, seed=1, sparse=False):
    """Check ``ridge_cg(X, y, lam, *, x0=None, rtol=1e-5, atol=0.0, maxiter=None)
    -> (beta, residual_norms)`` against :func:`krylov_ref.ridge.ridge_cg`: the
    history, the stopping test on the normal-equations residual, two products
    per iteration, and the defaults and edge cases (``maxiter=None``, ``x0``
    exact, ``y = 0``, ``atol``, the caller's arrays unchanged)."""
    _, _, iters, _ = _check_solver(ridge_cg, RIDGE, m, p, lam, seed, sparse)
    kind = "sparse" if sparse else "dense"
    passed(f"ridge_cg: converged in {iters} iterations on {kind} {m} x {p} data with lam = "
           f"{lam:g}, matching krylov_ref (residual history, two products per iteration); "
           "maxiter (given and default), x0 (left unchanged, and exact), y = 0 and atol right.")


@exercise(3, "cgls", reference=_reference_cgls)
def check_cgls(cgls, m=50, p=20, damp=0.7, seed=2, sparse=False):
    """Check ``cgls(X, y, damp=0.0, *, x0=None, rtol=1e-5, atol=0.0, maxiter=None)
    -> (beta, residual_norms)`` against :func:`krylov_ref.ridge.cgls`, that
    ``X^T`` is applied to the updated least-squares residual, and the default
    ``damp = 0``."""
    X, y, iters, _ = _check_solver(cgls, CGLS, m, p, damp, seed, sparse)
    # The default damp = 0: least squares (the minimum-norm solution when p > n).
    rtol = 1e-8
    beta0, _, _ = _run(cgls, CGLS, X, y, rtol=rtol, maxiter=10 * p)
    tol = rtol * np.linalg.norm(_dense(X).T @ y)
    expect(_normal_residual(X, y, 0.0, beta0) <= 1.01 * tol,
           "with the default damp (0), beta should solve the least-squares normal equations "
           "X^T X beta = X^T y to rtol: is the default damp=0.0?")
    kind = "sparse" if sparse else "dense"
    passed(f"cgls: converged in {iters} iterations on {kind} {m} x {p} data with damp = "
           f"{damp:g}, matching krylov_ref; X^T applied to the updated residual r = y - X beta; "
           "default damp, maxiter, x0 (left unchanged, and exact), y = 0 and atol right.")


# --------------------------------------------------------------------------
# Exercise 4: a warm-started regularisation path


def _reference_regularization_path(X, y, lams, *, rtol=1e-5, atol=0.0, maxiter=None):
    res = reference_path(X, y, lams, rtol=rtol, atol=atol, maxiter=maxiter)
    return res.coefs, [int(k) for k in res.iterations]


def _run_path(func, X, y, lams, *, as_list=False, **kwargs):
    op = DataOperator(X)
    lams = np.asarray(lams, dtype=float)
    given = [float(v) for v in lams] if as_list else lams.copy()
    kept = list(given) if as_list else given.copy()
    y_in = y.copy()
    out = call_student(func, op, y_in, given, forbid=FORBID, **kwargs)
    _expect_unchanged((y_in, y, "y"), (np.asarray(given), np.asarray(kept), "lams"))
    if as_list:
        expect(given == kept, "your function changed the caller's list `lams`: leave it as it is.")
    coefs, iterations = _pair(out, "regularization_path", "(coefs, iterations)")
    if coefs is None:
        raise WrongAnswer("coefs is None: does the function end with a `return` of its result?")
    try:
        coefs = np.asarray(coefs, dtype=float)
    except (TypeError, ValueError):
        raise WrongAnswer("coefs should be an array of shape (len(lams), p), one solution "
                          "per row") from None
    k, p = lams.size, X.shape[1]
    if coefs.shape == (p, k) and k != p:
        raise WrongAnswer(f"coefs has shape {coefs.shape}: the solutions should be its rows, "
                          f"shape (len(lams), p) = ({k}, {p}).")
    expect(coefs.shape == (k, p), f"coefs should have shape (len(lams), p) = ({k}, {p}), got "
                                  f"{coefs.shape}")
    expect(np.all(np.isfinite(coefs)), "coefs contains NaN or inf")
    expect(isinstance(iterations, (list, tuple, np.ndarray)) and len(iterations) == k,
           f"iterations should be a list with one count per lam ({k}), got "
           f"{type(iterations).__name__}"
           + (f" of length {len(iterations)}" if hasattr(iterations, "__len__") else ""))
    for value in iterations:
        expect(isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)),
               f"iterations should hold integers (counts of iterations), got "
               f"{type(value).__name__} {value!r}: convert with int(...).")
    return coefs, [int(v) for v in iterations], op


def _path_lams(X, n_lams, order):
    # From the largest eigenvalue of X^T X down by four decades: the iterations
    # grow along the path, and neighbouring solutions are close.
    top = np.linalg.norm(_dense(X), 2) ** 2
    lams = top * np.geomspace(1.0, 1e-4, n_lams)
    return lams[::-1].copy() if order == "ascending" else lams


@exercise(4, "regularization_path", reference=_reference_regularization_path)
def check_regularization_path(regularization_path, m=60, p=20, n_lams=10, seed=3, sparse=False,
                              order="descending", with_zero=False):
    """Check ``regularization_path(X, y, lams, *, rtol=1e-5, atol=0.0, maxiter=None)
    -> (coefs, iterations)``: every row solves its ridge problem, the lams in
    the order given, each solve warm-started from the previous solution (the
    iteration counts of krylov_ref's warm-started path, well below the cold
    ones), the counts honest (products with X and X^T), ints; defaults,
    ``y = 0``, a repeated lam and one lam."""
    X, y = _data(m, p, seed, sparse, decay=0.1)
    lams = _path_lams(X, n_lams, order)
    if with_zero:
        lams = np.append(lams, 0.0)
    k = lams.size
    rtol = 1e-4
    warm = reference_path(X, y, lams, rtol=rtol)
    cold = reference_path(X, y, lams, rtol=rtol, warm_start=False)
    coefs, its, op = _run_path(regularization_path, X, y, lams, rtol=rtol)
    Xty = np.linalg.norm(_dense(X).T @ y)
    tol = rtol * Xty
    for i, lam in enumerate(lams):
        if _normal_residual(X, y, lam, coefs[i]) > 1.01 * tol:
            for j, other_lam in enumerate(lams):
                if j != i and _normal_residual(X, y, other_lam, coefs[i]) <= 1.01 * tol:
                    raise WrongAnswer(f"row {i} of coefs solves the ridge problem for lams[{j}] = "
                                      f"{other_lam:.4g}, not for lams[{i}] = {lam:.4g}: row i "
                                      "belongs to lams[i], in the order given.")
            raise WrongAnswer(f"row {i} of coefs does not solve (X^T X + lam I) beta = X^T y for "
                              f"lam = lams[{i}] = {lam:.4g} to rtol: ||s|| = "
                              f"{_normal_residual(X, y, lam, coefs[i]):.3g} > rtol ||X^T y|| = "
                              f"{tol:.3g}.")
    total = sum(its)
    expect(op.count_X >= total and op.count_XT >= total,
           f"your iteration counts add up to {total}, but only {op.count_X} products with X "
           f"and {op.count_XT} with X^T were made: each CG iteration needs one of each. Report "
           "the iterations each solve took (len(residual_norms) - 1).")
    expect(op.count_X <= total + 2 * k and op.count_XT <= total + 3 * k,
           f"{op.count_X} products with X and {op.count_XT} with X^T for {total} iterations in "
           f"all: one of each per iteration is enough, plus a few per lam to start.")
    if any(abs(a - b) > 1 for a, b in zip(cold.iterations, warm.iterations)) and \
            all(abs(a - b) <= 1 for a, b in zip(its, cold.iterations)):
        raise WrongAnswer(
            f"the iterations ({total} in all) are those of solves that do not start from the "
            f"previous lam's solution (from zero they take {cold.total_iterations}): warm-start "
            f"each solve from the solution for the lam just before it (x0), which takes about "
            f"{warm.total_iterations}.")
    for idx in (np.argsort(lams, kind="stable"), np.argsort(-lams, kind="stable")):
        if np.array_equal(idx, np.arange(k)):
            continue                              # that sorted order is the given order
        mapped = np.empty(k, dtype=int)
        mapped[idx] = reference_path(X, y, lams[idx], rtol=rtol).iterations
        if any(abs(a - b) > 1 for a, b in zip(mapped, warm.iterations)) and \
                all(abs(a - b) <= 1 for a, b in zip(its, mapped)):
            raise WrongAnswer("the counts are those of a path solved in sorted order: solve the "
                              "lams in the order given, each from the solution of the one "
                              "before it.")
    for i, (got, want) in enumerate(zip(its, warm.iterations)):
        start = f"warm-started from the solution for lams[{i - 1}]" if i else "from zero"
        expect(abs(got - want) <= 1,
               f"lams[{i}] = {lams[i]:.4g} took {got} iterations; {start} it takes {want}. "
               "Start each solve from the previous solution (x0), the first from zero, and "
               "stop as in Exercise 2.")
    expect(total < cold.total_iterations,
           f"{total} iterations in all, not fewer than the {cold.total_iterations} of cold starts: "
           "warm-start each solve from the previous solution.")

    # The defaults (rtol=1e-5, atol=0, maxiter=None) and lams given as a list.
    coefs_d, its_d, _ = _run_path(regularization_path, X, y, lams, as_list=True)
    default = reference_path(X, y, lams)
    for i, lam in enumerate(lams):
        expect(_normal_residual(X, y, lam, coefs_d[i]) <= 1.01e-5 * Xty,
               f"with the default rtol (1e-5), row {i} of coefs does not solve its problem to "
               "rtol.")
    expect(all(abs(a - b) <= 1 for a, b in zip(its_d, default.iterations)),
           f"with the default tolerances the counts are {its_d}, expected about "
           f"{default.iterations.tolist()}: are the defaults rtol=1e-5, atol=0.0?")
    # maxiter=None means 10 p for each lam: with rtol = atol = 0 every solve takes all of them.
    Xs, ys = _data(12, 5, seed + 5, huge=True)
    _, its_m, _ = _run_path(regularization_path, Xs, ys, [0.5], rtol=0.0, atol=0.0)
    expect(its_m == [50], f"with maxiter=None and rtol = atol = 0, a solve takes the default "
                          f"10 p = 50 iterations for p = 5; yours reported {its_m}.")
    _, its_m2, _ = _run_path(regularization_path, Xs, ys, [0.5, 0.2], rtol=0.0, atol=0.0,
                             maxiter=7)
    expect(its_m2 == [7, 7], f"with maxiter=7 (per lam) and rtol = atol = 0, each solve takes "
                             f"7 iterations; yours reported {its_m2}.")
    # A repeated lam: the second solve starts at the solution and has (almost) nothing to do.
    lam_r = float(lams[k // 2])
    coefs_r, its_r, _ = _run_path(regularization_path, X, y, [lam_r, lam_r], rtol=rtol)
    expect(its_r[1] <= 1,
           f"with lams = [{lam_r:.4g}, {lam_r:.4g}] the second solve starts from the first's "
           f"solution and should take no iteration (at most one); it took {its_r[1]}. Is each "
           "solve warm-started from the previous solution?")
    # y = 0: zero solutions and no iterations.
    coefs_z, its_z, _ = _run_path(regularization_path, X, np.zeros(m), lams[:3], rtol=rtol)
    expect(not np.any(coefs_z) and its_z == [0, 0, 0],
           f"with y = 0 every solution is beta = 0 and takes no iteration; got counts {its_z}"
           + ("" if not np.any(coefs_z) else " and non-zero coefs") + ".")
    kind = "sparse" if sparse else "dense"
    passed(f"regularization_path: {k} lams ({order}{', ending at 0' if with_zero else ''}) on "
           f"{kind} {m} x {p} data in {total} warm-started iterations (cold starts: "
           f"{cold.total_iterations}); defaults, maxiter, a repeated lam and y = 0 right.")
