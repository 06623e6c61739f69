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
from . import (DIRECT, SOLVERS, StudentCodeError, WrongAnswer, call_student, exercise, expect,
               expect_close, mistake, passed)
from ._report import format_frames, student_frames, where

__all__ = ["DataOperator", "check_ridge_matvec", "check_ridge_cg", "check_cgls",
           "check_regularization_path", "MISCONCEPTIONS"]

# The lesson's headings that explain each misconception.
SECTION_1 = "1. Ridge regression is a linear system"
SECTION_EX1 = "Exercise 1 — the ridge product (2 points)"
SECTION_ALGORITHM = "The algorithm"
SECTION_EX2 = "Exercise 2 — ridge regression by CG (4 points)"
SECTION_3 = "3. Conditioning: $\\kappa(X^\\top X) = \\kappa(X)^2$"
SECTION_EX3 = "Exercise 3 — CGLS (4 points)"
SECTION_EX4 = "Exercise 4 — a warm-started regularisation path (4 points)"

MISCONCEPTIONS = {
    # Exercise 1: the product (X^T X + lam I) v
    "08.ridge_matvec.no_lam": ("lam v left out: X^T X v returned instead of (X^T X + lam I) v", SECTION_1),
    "08.ridge_matvec.minus_lam": ("lam v subtracted instead of added", SECTION_1),
    "08.ridge_matvec.lam_squared": ("lam^2 v instead of lam v", SECTION_1),
    "08.ridge_matvec.sqrt_lam": ("sqrt(lam) v instead of lam v (the sqrt(lam) of the stacked "
                                 "least-squares form taken for lam)", SECTION_1),
    "08.ridge_matvec.two_lam": ("2 lam v: the 2 of the gradient kept on the lam term only (the 1/2 "
                                "missing)", SECTION_1),
    "08.ridge_matvec.lam_scalar": ("lam added to every entry (X^T X v + lam) instead of lam times v",
                                   SECTION_1),
    "08.ridge_matvec.sign": ("the product negated: -(X^T X + lam I) v", SECTION_1),
    "08.ridge_matvec.forms_gram": ("X^T X formed: (X^T X) v, or X.T @ X @ v without parentheses, "
                                   "which multiplies X^T by X first", SECTION_1),
    "08.ridge_matvec.xxt": ("X (X^T v): X^T applied to v first, X X^T in place of X^T X", SECTION_1),
    "08.ridge_matvec.modifies_v": ("the caller's v modified in place", SECTION_EX1),
    # Exercise 2: CG on the normal equations
    "08.ridge_cg.no_lam": ("lam left out of the product in the loop: CG on X^T X beta = X^T y",
                           SECTION_ALGORITHM),
    "08.ridge_cg.sqrt_lam": ("sqrt(lam) (CGLS's damp) used where lam belongs", SECTION_ALGORITHM),
    "08.ridge_cg.forms_gram": ("X^T X formed as a p x p matrix instead of products with X and X^T",
                               SECTION_1),
    "08.ridge_cg.ls_residual": ("residual_norms (and the stopping test) on the least-squares residual "
                                "||y - X beta||, not on ||s||", SECTION_ALGORITHM),
    "08.ridge_cg.squared_norms": ("residual_norms holds s^T s, the squared norms", SECTION_ALGORITHM),
    "08.ridge_cg.residual_update_sign": ("the residual updated as s + alpha q instead of s - alpha q",
                                         SECTION_ALGORITHM),
    "08.ridge_cg.beta_update_sign": ("beta updated as beta - alpha p", SECTION_ALGORITHM),
    "08.ridge_cg.direction_ratio": ("the direction update's ratio upside down: s_k^T s_k / "
                                    "s_{k+1}^T s_{k+1}", SECTION_ALGORITHM),
    "08.ridge_cg.recomputed_residual": ("s recomputed from beta every iteration: an extra pair of "
                                        "products per iteration", SECTION_EX2),
    "08.ridge_cg.stop_absolute": ("stopping test absolute, ||s_k|| <= rtol, not relative to "
                                  "||X^T y||", SECTION_ALGORITHM),
    "08.ridge_cg.stop_relative_y": ("stopping test relative to ||y|| instead of ||X^T y||",
                                    SECTION_ALGORITHM),
    "08.ridge_cg.stop_sum": ("stopping tolerance rtol ||X^T y|| + atol instead of the larger of the "
                             "two", SECTION_ALGORITHM),
    "08.ridge_cg.strict_test": ("stopping test with < instead of <=: y = 0 iterates (0/0)", SECTION_EX2),
    "08.ridge_cg.test_after_step": ("stopping test after the step: an iteration taken from an x0 that "
                                    "already solves", SECTION_EX2),
    "08.ridge_cg.ignores_x0": ("x0 ignored: the solve starts from zero", SECTION_EX2),
    "08.ridge_cg.x0_residual": ("beta starts at x0 but the initial residual is that of beta = 0",
                                SECTION_EX2),
    "08.ridge_cg.modifies_x0": ("the caller's x0 updated in place", SECTION_EX2),
    "08.ridge_cg.default_maxiter": ("maxiter=None not taken as the contract's 10 p (p, say)", SECTION_EX2),
    "08.ridge_cg.maxiter_off_by_one": ("maxiter + 1 (or maxiter - 1) iterations taken", SECTION_EX2),
    # Exercise 3: CGLS
    "08.cgls.damp_not_squared": ("damp used where damp^2 belongs (lam = damp^2)", SECTION_3),
    "08.cgls.alpha_no_damp": ("alpha's denominator ||X p||^2 without damp^2 ||p||^2", SECTION_3),
    "08.cgls.s_no_damp": ("s = X^T r without the term - damp^2 beta", SECTION_3),
    "08.cgls.s_damp_sign": ("s = X^T r + damp^2 beta: the damping term's sign flipped", SECTION_3),
    "08.cgls.residual_update_sign": ("r updated as r + alpha X p instead of r - alpha X p", SECTION_3),
    "08.cgls.normal_equations": ("X^T applied to X p (CG on the normal equations) instead of to the "
                                 "updated residual r", SECTION_3),
    "08.cgls.recomputed_residual": ("r recomputed as y - X beta every iteration: an extra product "
                                    "with X per iteration", SECTION_EX3),
    "08.cgls.ls_residual": ("residual_norms (and the stopping test) on ||r|| = ||y - X beta|| instead "
                            "of ||s||", SECTION_EX3),
    "08.cgls.stop_relative_y": ("stopping test relative to ||y|| (= ||r_0||) instead of ||X^T y||",
                                SECTION_EX3),
    "08.cgls.stop_sum": ("stopping tolerance rtol ||X^T y|| + atol instead of the larger of the two",
                         SECTION_EX3),
    "08.cgls.x0_residual": ("with x0 given, r starts as y instead of y - X x0", SECTION_EX3),
    # Exercise 4: the warm-started path
    "08.regularization_path.cold_start": ("no warm start: each solve started afresh (from zero), "
                                          "not from the previous lam's solution", SECTION_EX4),
    "08.regularization_path.counts_entries": ("len(residual_norms) reported as the iterations: one "
                                              "too many per lam", SECTION_EX4),
    "08.regularization_path.float_counts": ("iterations as floats (a preallocated float array)",
                                            SECTION_EX4),
    "08.regularization_path.transposed": ("coefs transposed: one solution per column", SECTION_EX4),
    "08.regularization_path.sorted_lams": ("the lams solved in sorted order, not in the order given",
                                           SECTION_EX4),
    "08.regularization_path.drops_tolerances": ("rtol, atol or maxiter not passed on to each solve "
                                                "(the solver's defaults used)", SECTION_EX4),
    "08.regularization_path.maxiter_total": ("maxiter taken as a budget for the whole path, not per "
                                             "lam", SECTION_EX4),
    "08.regularization_path.damp_not_sqrt": ("cgls called with damp = lam instead of sqrt(lam)",
                                             SECTION_EX4),
    "08.regularization_path.rows_alias": ("every row of coefs the same array, updated in place by "
                                          "later solves", SECTION_EX4),
}


def _code(exercise_name, name):
    """The catalogue's code for mistake ``name`` in exercise ``exercise_name``,
    or None where the catalogue does not list it (the message then names no
    code)."""
    code = f"08.{exercise_name}.{name}"
    return code if code in MISCONCEPTIONS else None


def _fail(exercise_name, name, message):
    """The failure for mistake ``name``: named when catalogued for this exercise
    (``name`` empty: a failure that names no mistake)."""
    code = _code(exercise_name, name) if name else None
    return mistake(code, message) if code else WrongAnswer(message)

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


def _refusal(kind, message, **why):
    """A ``TypeError`` or ``ValueError`` from the data operator (what the
    student's traceback shows), marked with what caused it for the checks:
    ``why`` is ``gram=True`` (``X.T @ X``) or ``transposed``/``length`` (a
    product with a vector of the wrong length)."""
    exc = kind(message)
    exc.lesson08_refusal = why
    return exc


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
        if isinstance(v, DataOperator):
            raise _refusal(TypeError, "X.T @ X would form the p x p matrix X^T X, which this "
                                      "lesson never forms: apply X and X^T to vectors, one after "
                                      "the other.", gram=True)
        v = np.asarray(v, dtype=float)
        n, p = shared.X.shape
        length = n if transposed else p
        name = "X.T" if transposed else "X"
        along = (None if v.ndim == 0 else
                 v.shape[0] if (v.ndim == 1 or block_axis == 1) else v.shape[-1])
        if v.ndim == 0 or v.ndim > 2 or along != length:
            raise _refusal(ValueError, f"{name} @ v needs v of length {length}, got shape "
                                       f"{v.shape}", transposed=transposed, length=along)
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


def _expect_unchanged(*triples, exercise_name=""):
    """Each (array passed, copy kept, name) unchanged; a change names the
    exercise's misconception ``modifies_<name>`` where it is catalogued."""
    for given, kept, name in triples:
        expect(np.array_equal(np.asarray(given), np.asarray(kept)),
               f"your function changed the caller's `{name}` in place. Inputs must be left "
               f"unchanged: work on a copy of `{name}` (an in-place update such as `+=` on the "
               "caller's array modifies it).", code=_code(exercise_name, f"modifies_{name}"))


def _call(func, exercise_name, *args, **kwargs):
    """``call_student`` with the lesson's forbidden functions; an error that the
    data operator raised because ``X^T X`` was being formed, or because ``X^T``
    met a vector of length p, becomes the exercise's named mistake."""
    try:
        return call_student(func, *args, forbid=FORBID, **kwargs)
    except StudentCodeError as exc:
        cause = exc.__cause__
        why = getattr(cause, "lesson08_refusal", {})
        frames = student_frames(cause.__traceback__) if cause is not None else []
        at = f" (in {where(frames)})" if frames else ""
        if why.get("gram"):
            name, text = "forms_gram", (
                f"X^T X is being formed{at}: X^T times X is the p x p matrix this lesson never "
                "forms, and X^T X v without parentheses is evaluated from the left, as (X^T X) v. "
                "Apply X to the vector first, then X^T to the result.")
        elif why.get("transposed") and why.get("length") == args[0].shape[1]:
            name, text = "xxt", (
                f"X^T is applied to a vector of length p = {args[0].shape[1]}{at}: X (X^T v) is "
                "X X^T v, an n x n product. The product is X^T (X v): X first, then X^T.")
        else:
            raise
        code = _code(exercise_name, name)
        if code is None:
            raise
        report = mistake(code, text)
        report.detail_lines = tuple(format_frames(frames, limit=1))   # the line that did it
        raise report from exc


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


# Wrong products (X^T X v stands for G): what each gives, and whether it differs
# from the right one when lam = 0.
_MATVEC_MISTAKES = [
    ("sign", lambda G, v, lam: -G - lam * v, True,
     "the product has the wrong sign: (X^T X + lam I) v, not its negative."),
    ("no_lam", lambda G, v, lam: G, False,
     "the term lam v is missing: the product is X^T (X v) + lam v."),
    ("minus_lam", lambda G, v, lam: G - lam * v, False,
     "lam v should be added, not subtracted: (X^T X + lam I) v."),
    ("lam_squared", lambda G, v, lam: G + lam ** 2 * v, False,
     "the regularisation term is lam^2 v: it should be lam v (lam multiplies the identity)."),
    ("sqrt_lam", lambda G, v, lam: G + np.sqrt(lam) * v, False,
     "the regularisation term is sqrt(lam) v: it should be lam v (sqrt(lam) is the damping of "
     "the least-squares form)."),
    ("two_lam", lambda G, v, lam: G + 2 * lam * v, False,
     "the regularisation term is 2 lam v: it should be lam v. The gradient of ||y - X beta||^2 "
     "+ lam ||beta||^2 has a factor 2 on both terms, and the normal equations drop it from both "
     "(section 1)."),
    ("lam_scalar", lambda G, v, lam: G + lam, False,
     "lam is added to every entry: the term is lam v, lam times the vector."),
]


def _diagnose_matvec(trials, X):
    """Name the mistake that explains the products of all ``trials``
    (got, v, lam): one lam alone may not tell them apart (at lam = 2,
    lam^2 v = 2 lam v)."""
    Xd = _dense(X)
    rows = [(got, Xd.T @ (Xd @ v), v, lam) for got, v, lam in trials]
    if all(_close(got, G + lam * v, 1e-10) for got, G, v, lam in rows):
        return
    for name, value, with_zero, message in _MATVEC_MISTAKES:
        relevant = [row for row in rows if with_zero or row[3] != 0]
        if relevant and all(_close(got, value(G, v, lam), 1e-10) for got, G, v, lam in relevant):
            raise _fail("ridge_matvec", name, message)


def _call_matvec(ridge_matvec, X, v, lam, operator=True):
    p = X.shape[1]
    op = DataOperator(X) if operator else X.copy()
    v_in = v.copy()
    got = _call(ridge_matvec, "ridge_matvec", op, v_in, lam)
    _expect_unchanged((v_in, v, "v"), exercise_name="ridge_matvec")
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
    # Two lams that no mistake below confuses (lam^2 = 2 lam at 2, sqrt(lam) = 2 lam at 1/4,
    # lam^2 = sqrt(lam) at 1: never both lam and 3 lam + 0.3), and lam = 0.
    trials = []
    for trial, lam_t in enumerate((lam, 3.0 * lam + 0.3, 0.0)):
        v = rng.standard_normal(p) * (1.0 + trial)
        got, op = _call_matvec(ridge_matvec, X, v, lam_t)
        expect(np.all(np.isfinite(got)), "the product contains NaN or inf")
        trials.append((got, v, lam_t, op))
    _diagnose_matvec([(got, v, lam_t) for got, v, lam_t, _ in trials], X)
    for got, v, lam_t, op in trials:
        expect_close(got, _normal(X, lam_t) @ v, f"(X^T X + lam I) v for lam = {lam_t:g}",
                     rtol=1e-10, atol=1e-12, hint="the product is X^T (X v) + lam v.")
        expect(op.count_X == 1 and op.count_XT == 1,
               f"used {op.count_X} product(s) with X and {op.count_XT} with X^T: one of each is "
               "enough, X^T applied to X v (never form X^T X, a p x p matrix).",
               code=_code("ridge_matvec", "forms_gram") if op.count_X >= p else None)
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
    out = _call(func, method.name, op, y_in, *args, **kwargs)
    _expect_unchanged((y_in, y, "y"))
    if x0 is not None:
        _expect_unchanged((x0_in, x0, "x0"), exercise_name=method.name)
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


def _history(X, y, lam, steps, *, form="ridge", lam_alpha=None, lam_s=None, sign=-1.0,
             inverted=False):
    """||s_0||, ..., ||s_steps|| of CG from beta = 0 on the ridge problem, or of
    a wrong variant of it: ``lam_alpha`` and ``lam_s`` are the lam used in alpha
    and in the residual, ``sign`` the sign of the residual's update (of s in
    ``form="ridge"``, of r = y - X beta in ``form="cgls"``), ``inverted`` the
    direction update's ratio upside down."""
    Xd = _dense(X)
    lam_alpha = lam if lam_alpha is None else lam_alpha
    lam_s = lam if lam_s is None else lam_s
    beta = np.zeros(Xd.shape[1])
    r = np.array(y, dtype=float)
    s = Xd.T @ r
    p = s.copy()
    gamma = s @ s
    norms = [np.sqrt(gamma)]
    for _ in range(steps):
        q = Xd @ p
        delta = q @ q + lam_alpha * (p @ p)
        if gamma == 0 or delta == 0:
            break
        alpha = gamma / delta
        beta = beta + alpha * p
        if form == "ridge":
            s = s + sign * alpha * (Xd.T @ q + lam_s * p)
        else:
            r = r + sign * alpha * q
            s = Xd.T @ r - lam_s * beta
        gamma_new = s @ s
        norms.append(np.sqrt(gamma_new))
        if gamma_new == 0:
            break
        p = s + (gamma / gamma_new if inverted else gamma_new / gamma) * p
        gamma = gamma_new
    # A breakdown ends the history early: no student's step can match what is missing.
    return np.array(norms + [np.nan] * (steps + 1 - len(norms)))


def _diagnose_first_step(method, norms, X, y, lam):
    """The first recorded step tells most mistakes apart."""
    right = _first_step_norm(X, y, lam)
    if np.isclose(norms[1], right, rtol=1e-7):
        return
    param = method.param(lam)
    name = method.param_name
    form = "cgls" if method is CGLS else "ridge"
    candidates = [
        (_history(X, y, lam, 1, form=form, sign=1.0)[1], "residual_update_sign",
         "the residual is updated with the wrong sign: beta moves by +alpha p, so "
         + ("r = y - X beta moves by -alpha X p (see the CGLS box)." if form == "cgls"
            else "s = X^T y - (X^T X + lam I) beta moves by -alpha q (see the algorithm box).")),
    ]
    if lam != 0:
        candidates += [
            (_first_step_norm(X, y, 0.0, lam), "alpha_no_damp", "alpha leaves out the "
             "regularisation: its denominator is ||X p||^2 + lam ||p||^2 = p^T (X^T X + lam I) p "
             "(see the algorithm box)."),
            (_first_step_norm(X, y, lam, 0.0), "s_no_damp", "the residual leaves out the term "
             "-lam beta: s = X^T (y - X beta) - lam beta"
             + (" with lam = damp^2 (see the algorithm box)." if name == "damp" else ".")),
            (_first_step_norm(X, y, 0.0), "no_lam", f"the regularisation is missing: with {name} = "
             f"{param:g} the system is (X^T X + lam I) beta = X^T y"
             + (" with lam = damp^2." if name == "damp" else ".")),
        ]
        if name == "damp":
            candidates += [
                (_first_step_norm(X, y, param), "damp_not_squared", "damp is used where damp^2 "
                 "belongs: the ridge parameter is lam = damp^2 (as in SciPy's lsqr), in alpha's "
                 "denominator and in s = X^T r - damp^2 beta."),
                (_history(X, y, lam, 1, form=form, lam_s=-lam)[1], "s_damp_sign", "the damping "
                 "term enters s with the wrong sign: s = X^T r - damp^2 beta, the negative "
                 "gradient of (1/2) (||X beta - y||^2 + damp^2 ||beta||^2)."),
            ]
        else:
            candidates += [
                (_first_step_norm(X, y, lam ** 2), "lam_squared", "lam^2 is used where lam "
                 "belongs: the matrix is X^T X + lam I."),
                (_first_step_norm(X, y, np.sqrt(lam)), "sqrt_lam", "sqrt(lam) is used where lam "
                 "belongs: the matrix is X^T X + lam I (sqrt(lam) is CGLS's damp)."),
            ]
    for value, mistake_name, message in candidates:
        if np.isclose(norms[1], value, rtol=1e-7) and not np.isclose(value, right, rtol=1e-7):
            raise _fail(method.name, mistake_name, message)
    raise WrongAnswer(
        f"residual_norms[1] = {norms[1]:.6g}, expected {right:.6g} after the first step from "
        "beta = 0: check alpha (the step along p), the update of beta and of the residual, "
        "and that residual_norms holds ||s_k||, the norm of the normal-equations residual "
        "(see the algorithm box).")


def _diagnose_history(method, norms, X, y, lam):
    """After a right first step, the next ones show a wrong direction update."""
    steps = min(norms.size - 1, 3)
    if steps < 2:
        return
    form = "cgls" if method is CGLS else "ridge"
    right = _history(X, y, lam, steps, form=form)
    if not np.all(np.isfinite(right)) or np.allclose(norms[:steps + 1], right, rtol=1e-6):
        return
    inverted = _history(X, y, lam, steps, form=form, inverted=True)
    if np.allclose(norms[:steps + 1], inverted, rtol=1e-6):
        raise _fail(method.name, "direction_ratio",
                    "the first step is right, the second is not: the new direction is "
                    "p_{k+1} = s_{k+1} + (s_{k+1}^T s_{k+1} / s_k^T s_k) p_k, the new residual's "
                    "squared norm over the old one's; yours has the ratio upside down.")


def _stopping_diagnosis(method, X, y, param, rtol, budget, iters):
    """(mistake name, message) when the iteration count is that of a wrong
    stopping test, else None."""
    Xd = _dense(X)
    alternatives = [
        (rtol * np.linalg.norm(y), "stop_relative_y", "relative to ||y||: the contract's test is "
         "relative to ||X^T y||, the right-hand side of the normal equations, "
         "||s_k|| <= max(rtol ||X^T y||, atol)."),
        (rtol, "stop_absolute", "absolute (||s_k|| <= rtol): the contract's test is relative, "
         "||s_k|| <= max(rtol ||X^T y||, atol)."),
    ]
    right = method.reference(X, y, param, rtol=rtol, maxiter=budget).iterations
    for atol, name, message in alternatives:
        its = method.reference(Xd, y, param, rtol=0.0, atol=float(atol), maxiter=budget).iterations
        if iters == its and abs(its - right) > 1:
            return name, "Your stopping test looks " + message
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
        raise _fail(
            method.name, "stop_sum",
            f"with rtol ||X^T y|| = atol = {level:.3g}, your function stopped at ||s|| = "
            f"{last:.3g}, below their sum but above the larger of the two. The test is "
            "||s_k|| <= max(rtol ||X^T y||, atol), not rtol ||X^T y|| + atol.")
    expect(last <= level * (1 + 1e-9),
           f"with rtol ||X^T y|| = atol = {level:.3g}, your function stopped at ||s|| = "
           f"{last:.3g}: stop when ||s_k|| <= max(rtol ||X^T y||, atol).")


def _expect_products(method, op, iters, x0_given=False):
    """One product with X and one with X^T per iteration, plus X^T y, the
    residual at x0 when given, and a check of the true residual at the end.
    About two products with X per iteration is a residual recomputed from beta."""
    extra = 1 + (1 if x0_given else 0)
    twice = iters >= 3 and 2 * iters - 1 <= op.count_X <= 2 * iters + extra + 1
    expect(iters <= op.count_X <= iters + extra and iters <= op.count_XT <= iters + extra + 2,
           f"used {op.count_X} products with X and {op.count_XT} with X^T for {iters} "
           "iterations: one of each per iteration is enough (plus X^T y at the start"
           + (", and one pair for the residual at x0" if x0_given else "") + "). Update the "
           "residual with the product you already have instead of recomputing it, and never "
           "form X^T X.", code=_code(method.name, "recomputed_residual") if twice else None)


def _diagnose_x0(method, norms0, beta0, X, y, lam, x0, tol):
    """With x0 given, an initial residual that is not the one at x0: x0 not
    used at all, or beta started at x0 with the residual of beta = 0."""
    right = _normal_residual(X, y, lam, x0)
    if norms0.size == 0 or np.isclose(norms0[0], right, rtol=1e-7):
        return
    Xty = _dense(X).T @ y
    from_zero = np.isclose(norms0[0], np.linalg.norm(Xty), rtol=1e-7)
    r_from_y = np.isclose(norms0[0], np.linalg.norm(Xty - lam * x0), rtol=1e-7)
    if from_zero and _normal_residual(X, y, lam, beta0) <= 1.01 * tol:
        raise _fail(method.name, "ignores_x0",
                    "with x0 given, residual_norms[0] is ||X^T y||, the residual at zero, and "
                    "the solve takes as long as from zero: x0 is not used. Start from x0 when "
                    "it is given.")
    if from_zero or r_from_y:
        what = ("s_0 = X^T y, the residual at beta = 0" if from_zero else
                "r_0 = y, the least-squares residual at beta = 0")
        raise _fail(method.name, "x0_residual",
                    f"with x0 given, beta starts at x0 but the initial residual is {what}: "
                    + ("r_0 = y - X x0 and s_0 = X^T r_0 - damp^2 x0." if method is CGLS
                       else "s_0 = X^T (y - X x0) - lam x0."))


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
        raise _fail(name, "ls_residual",
                    "residual_norms[0] is ||y||, the least-squares residual y - X beta at "
                    "beta = 0. The contract records the normal-equations residual "
                    "s = X^T y - (X^T X + lam I) beta, whose norm at beta = 0 is ||X^T y||; "
                    "||y - X beta|| does not go to zero, so it is no stopping test either.")
    if norms.size and np.isclose(norms[0], np.linalg.norm(Xty) ** 2, rtol=1e-8) \
            and not np.isclose(np.linalg.norm(Xty), 1.0, rtol=1e-3):
        raise _fail(name, "squared_norms",
                    "residual_norms[0] is ||X^T y||^2, the squared norm s_0^T s_0: "
                    "residual_norms (and the stopping test) use the norms ||s_k||, the square "
                    "roots.")
    expect_close(norms[0], np.linalg.norm(Xty), "residual_norms[0]", rtol=1e-8,
                 hint="it should be ||X^T y - (X^T X + lam I) beta_0|| with beta_0 = 0, "
                      "i.e. ||X^T y||.")
    expect(norms.size >= 2, f"no iteration was taken, but ||X^T y|| = {norms[0]:.3g} is above "
                            "rtol ||X^T y||.")
    _diagnose_first_step(method, norms, X, y, lam)
    _diagnose_history(method, norms, X, y, lam)
    expect(np.all(np.isfinite(norms)) and np.all(np.isfinite(beta)),
           "beta or residual_norms contains NaN or inf")
    iters = norms.size - 1
    res = _normal_residual(X, y, lam, beta)
    if res > 1.01 * tol and norms[-1] <= 1.01 * tol:
        solution = _solution(X, y, lam)
        negated = np.linalg.norm(beta + solution) <= 1e-3 * np.linalg.norm(solution)
        raise _fail(name, "beta_update_sign" if negated else "",
                    f"beta and the updated residual no longer agree: your last recorded norm is "
                    f"{norms[-1]:.3g} (converged), but for the beta you return ||X^T y - "
                    f"(X^T X + lam I) beta|| = {res:.3g}. beta must move by the same step alpha p "
                    "that the update of the residual assumes (see the algorithm box)"
                    + ("; yours is minus the solution: beta moves by +alpha p." if negated
                       else "."))
    if iters != ref.iterations:
        found = _stopping_diagnosis(method, X, y, param, rtol, budget, iters)
        if found:
            raise _fail(name, found[0],
                        f"took {iters} iterations; {name} takes {ref.iterations}. {found[1]}")
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
    _expect_products(method, op, iters)
    # Two correct methods' histories part by rounding as they go: the first
    # steps are compared closely, the whole history loosely.
    # CGLS's own point (X^T applied to r, not to X p) is checked once the first
    # steps agree, before rounding has parted the two methods' histories.
    k = min(iters, ref.iterations)
    head = min(k, 8)
    for upto, close in ((head, 1e-6), (k, 1e-2)):
        expect_close(norms[: upto + 1], ref.residual_norms[: upto + 1],
                     "the residual norm history", rtol=close, atol=close * 1e-4 * norms[0],
                     hint="residual_norms should hold ||s_k|| for k = 0, 1, ..., one per "
                          "iteration (see the algorithm box).")
        if method is CGLS and upto == head:
            _check_cgls_uses_the_residual(op, X, y, param)

    # The same problem scaled: X by 10, y by 1000, lam by 100 (damp by 10). The
    # iterations do not change, and a stopping test that is absolute, or
    # relative to ||y||, notices.
    scaled = (X * 10.0, 1000.0 * y, method.param(100.0 * lam))
    _, norms_s, _ = _run(func, method, *scaled, rtol=rtol, maxiter=budget)
    its_s = norms_s.size - 1
    if abs(its_s - ref.iterations) > 1:
        found = _stopping_diagnosis(method, *scaled, rtol, budget, its_s) or (
            "", "Stop when ||s_k|| <= max(rtol ||X^T y||, atol).")
        raise _fail(name, found[0],
                    f"on the same problem with X times 10, y times 1000 and lam times 100 "
                    f"{name} should take the same {ref.iterations} iterations, but took "
                    f"{its_s}. {found[1]}")

    # y plus a component that X^T maps to zero (possible when n > p): the same
    # normal equations, so the same iterations; a test relative to ||y|| notices.
    if m > p:
        Q = np.linalg.qr(_dense(X))[0]
        w = np.random.default_rng(seed + 11).standard_normal(m)
        w -= Q @ (Q.T @ w)
        y_w = y + 100.0 * np.linalg.norm(y) / np.linalg.norm(w) * w
        _, norms_w, _ = _run(func, method, X, y_w, param, rtol=rtol, maxiter=budget)
        its_w = norms_w.size - 1
        if abs(its_w - ref.iterations) > 1:
            found = _stopping_diagnosis(method, X, y_w, param, rtol, budget, its_w) or (
                "", "Stop when ||s_k|| <= max(rtol ||X^T y||, atol).")
            raise _fail(name, found[0],
                        f"y plus a vector that X^T maps to zero gives the same normal equations, "
                        f"and {name} should take the same {ref.iterations} iterations; yours took "
                        f"{its_w}. {found[1]}")

    # maxiter: exactly maxiter iterations when not converged; None means 10 p.
    _, norms3, _ = _run(func, method, X, y, param, rtol=rtol, maxiter=3)
    expect(norms3.size == 4, f"with maxiter=3, residual_norms should have 4 entries (initial + "
                             f"3), got {norms3.size}",
           code=_code(name, "maxiter_off_by_one") if abs(norms3.size - 4) == 1 else None)
    Xs, ys = _data(15, 6, seed + 7, huge=True)
    _, norms_d, _ = _run(func, method, Xs, ys, param, rtol=0.0, atol=0.0)
    expect(norms_d.size - 1 == 60,
           "with the default maxiter=None and rtol = atol = 0 (a test CG never meets), the "
           "contract's default maxiter = 10 p = 60 iterations should be taken for p = 6 "
           f"features; yours took {norms_d.size - 1}. See the exercise text.",
           code=_code(name, "default_maxiter"))

    # x0 near the solution is used, and left unchanged (checked by _run).
    exact = _solution(X, y, lam)
    x0 = exact + 1e-3 * np.ones(n_features)
    beta0, norms0, op0 = _run(func, method, X, y, param, x0=x0, rtol=rtol, maxiter=budget)
    _diagnose_x0(method, norms0, beta0, X, y, lam, x0, tol)
    expect_close(norms0[0], _normal_residual(X, y, lam, x0), "residual_norms[0] with x0 given",
                 rtol=1e-7, hint="start from x0 when it is given: s_0 = X^T (y - X x0) - lam x0.")
    expect(_normal_residual(X, y, lam, beta0) <= 1.01 * tol,
           "with x0 given, the returned beta does not solve the normal equations to rtol.")
    expect(norms0.size < norms.size, "starting next to the solution should take fewer "
                                     "iterations than starting from zero: is x0 used?")
    _expect_products(method, op0, norms0.size - 1, x0_given=True)
    # x0 equal to the solution: the stopping test holds at once.
    beta_e, norms_e, _ = _run(func, method, X, y, param, x0=exact, rtol=rtol, maxiter=budget)
    expect(norms_e.size == 1 and np.allclose(beta_e, exact, rtol=1e-12, atol=1e-14),
           f"with x0 equal to the solution, the stopping test holds before any step: the answer "
           f"is x0 itself with one entry in residual_norms; yours took {norms_e.size - 1} "
           "iteration(s). Test the stopping criterion at the top of the loop.",
           code=_code(name, "test_after_step") if norms_e.size == 2 else None)
    # y = 0 (and no x0): beta = 0 with residual_norms = [0.0], no 0/0.
    beta_z, norms_z, _ = _run(func, method, X, np.zeros(m), param, rtol=rtol, maxiter=budget,
                              finite=False)
    finite = np.all(np.isfinite(norms_z)) and np.all(np.isfinite(beta_z))
    expect(norms_z.size == 1 and norms_z[0] == 0.0 and finite and not np.any(beta_z),
           "with y = 0 (and x0 = None), X^T y = 0: beta = 0 is the solution and the stopping "
           "test 0 <= max(rtol * 0, atol) holds before any step, so return zeros with "
           f"residual_norms = [0.0]; yours took {norms_z.size - 1} iteration(s)"
           + ("" if finite else " and produced NaN (a step 0/0)")
           + ". Keep equality in the test: ||s_k|| <= max(rtol ||X^T y||, atol).",
           code=_code(name, "strict_test") if norms_z.size > 1 and norms_z[0] == 0.0 else None)
    # The defaults rtol=1e-5, atol=0.0 and maxiter=None.
    beta_d, norms_d2, _ = _run(func, method, X, y, param)
    ref_d = method.reference(X, y, param)
    its_d = norms_d2.size - 1
    if abs(its_d - ref_d.iterations) > 1:
        found = _stopping_diagnosis(method, X, y, param, 1e-5, budget, its_d)
        if found:
            raise _fail(name, found[0], f"with the default tolerances {name} took {its_d} "
                                        f"iterations; it takes {ref_d.iterations}. {found[1]}")
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
               "equations (Exercise 2), which rounds through X^T X (see the algorithm box).",
               code=_code("cgls", "normal_equations"))


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
    out = _call(func, "regularization_path", op, y_in, given, **kwargs)
    _expect_unchanged((y_in, y, "y"), (np.asarray(given), np.asarray(kept), "lams"),
                      exercise_name="regularization_path")
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
        raise _fail("regularization_path", "transposed",
                    f"coefs has shape {coefs.shape}: the solutions should be its rows, "
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
               f"{type(value).__name__} {value!r}: convert with int(...).",
               code=_code("regularization_path", "float_counts")
               if isinstance(value, (float, np.floating)) else None)
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
    if k >= 2 and all(np.array_equal(coefs[0], row) for row in coefs[1:]):
        raise _fail("regularization_path", "rows_alias",
                    f"all {k} rows of coefs are the same vector, though the lams differ: each "
                    "row holds the same array, which later solves went on updating in place. "
                    "Store a copy of each solution (or give each solve a new array).")

    def solves(i, lam):
        return _normal_residual(X, y, lam, coefs[i]) <= 1.01 * tol

    if not all(solves(i, lam) for i, lam in enumerate(lams)):
        for idx, how in ((np.argsort(lams, kind="stable"), "increasing"),
                         (np.argsort(-lams, kind="stable"), "decreasing")):
            if all(solves(i, lams[j]) for i, j in enumerate(idx)):
                raise _fail("regularization_path", "sorted_lams",
                            f"the rows of coefs follow the lams sorted in {how} order, not the "
                            "order given: row i belongs to lams[i]. Solve the lams in the order "
                            "given, each warm-started from the one before it.")
    for i, lam in enumerate(lams):
        if not solves(i, lam):
            if lam not in (0.0, 1.0) and solves(i, lam ** 2):
                raise _fail("regularization_path", "damp_not_sqrt",
                            f"row {i} of coefs solves the ridge problem for lams[{i}]^2 = "
                            f"{lam ** 2:.4g}, not for lams[{i}] = {lam:.4g}: cgls's damp is "
                            "sqrt(lam), since its ridge parameter is damp^2.")
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
           "the iterations each solve took (len(residual_norms) - 1).",
           code=_code("regularization_path", "counts_entries")
           if total - k <= op.count_X < total and min(its) >= 1 else None)
    expect(op.count_X <= total + 2 * k and op.count_XT <= total + 3 * k,
           f"{op.count_X} products with X and {op.count_XT} with X^T for {total} iterations in "
           f"all: one of each per iteration is enough, plus a few per lam to start.")
    if any(abs(a - b) > 1 for a, b in zip(cold.iterations, warm.iterations)) and \
            all(abs(a - b) <= 1 for a, b in zip(its, cold.iterations)):
        raise _fail(
            "regularization_path", "cold_start",
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
            raise _fail("regularization_path", "sorted_lams",
                        "the counts are those of a path solved in sorted order: solve the "
                        "lams in the order given, each from the solution of the one before it.")
    if any(abs(a - b) > 1 for a, b in zip(its, warm.iterations)):
        loose = reference_path(X, y, lams)           # the solver's default rtol = 1e-5
        if all(abs(a - b) <= 1 for a, b in zip(its, loose.iterations)):
            raise _fail("regularization_path", "drops_tolerances",
                        f"the counts ({total} in all) are those of a path solved to the default "
                        f"rtol = 1e-5, not to the rtol = {rtol:g} given: pass rtol, atol and "
                        "maxiter on to each solve.")
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
    named = ("drops_tolerances" if its_m2 == [50, 50] else
             "maxiter_total" if its_m2[:1] == [7] and sum(its_m2) == 7 else "")
    expect(its_m2 == [7, 7], f"with maxiter=7 (per lam) and rtol = atol = 0, each solve takes "
                             f"7 iterations; yours reported {its_m2}"
                             + {"drops_tolerances": ", the default 10 p = 50: pass maxiter on to "
                                                   "each solve.",
                                "maxiter_total": ": maxiter is the budget of each solve, not of "
                                                 "the whole path."}.get(named, "."),
           code=_code("regularization_path", named) if named else None)
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
