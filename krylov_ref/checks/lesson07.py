"""Checks for lesson 07 (Newton-CG: second-order optimisation without the Hessian).

Each ``check_*`` runs a student's function on problems with known answers,
raises :class:`~krylov_ref.checks.WrongAnswer` naming the likely mistake, and
prints one line when all is well. Visible tests call them with their
defaults; hidden tests call them with other sizes and seeds and the edge
cases of the contract.
"""

from __future__ import annotations


import numpy as np
from scipy.optimize import rosen, rosen_der, rosen_hess_prod

from ..models import LogisticRegression, TwoLayerMLP, logistic_data
from ..newton import hvp_fd as reference_hvp_fd
from ..newton import newton_cg as reference_newton_cg
from ..newton import steihaug_cg as reference_steihaug_cg
from ..newton import truncated_cg as reference_truncated_cg
from ..problems import random_spd
from . import (
    DIRECT, SOLVERS, CountingOperator, WrongAnswer, call_student, exercise, expect,
    expect_close, mistake, passed,
)
from . import expect_tuple as _unpack

__all__ = ["check_logistic_hvp", "check_hvp_fd", "check_truncated_cg", "check_newton_cg",
           "check_newton_cg_more", "check_steihaug_cg", "MISCONCEPTIONS"]

# --------------------------------------------------------------------------
# The named misconceptions (see krylov_ref.grading.misconceptions): the lesson
# section that explains each point is one of the lesson's headings.

SECTION_2_1 = "2.1 Analytically, for logistic regression"
EXERCISE_1 = "Exercise 1 — the logistic Hessian-vector product (4 points)"
SECTION_2_2 = "2.2 By central differences of the gradient"
EXERCISE_2 = "Exercise 2 — Hessian-vector products by central differences (4 points)"
SECTION_3_1 = "3.1 The inner solve"
EXERCISE_3 = "Exercise 3 — the truncated inner CG (6 points)"
SECTION_3_2 = "3.2 The outer iteration: forcing term and line search"
EXERCISE_4 = "Exercise 4 — Newton-CG (6 points)"
SECTION_TR = "3.3 Trust regions: Steihaug–Toint CG"
EXERCISE_5 = "Exercise 5 — Steihaug–Toint CG (6 points)"

MISCONCEPTIONS = {
    # Exercise 1: logistic_hvp
    "07.logistic_hvp.no_mean": ("the data term X^T D X v not divided by m: f is a mean over the samples", SECTION_2_1),
    "07.logistic_hvp.mean_over_n": ("the data term divided by n, the number of features, instead of m, the number of samples", SECTION_2_1),
    "07.logistic_hvp.no_lam": ("the regularisation term lam v left out", SECTION_2_1),
    "07.logistic_hvp.half_lam": ("lam v / 2: the 1/2 of lam/2 ||w||^2 kept in its Hessian", SECTION_2_1),
    "07.logistic_hvp.double_lam": ("2 lam v: the Hessian of lam/2 ||w||^2 taken as 2 lam I", SECTION_2_1),
    "07.logistic_hvp.lam_w": ("lam w, the gradient's term, added instead of the Hessian's lam v", SECTION_2_1),
    "07.logistic_hvp.d_sigma": ("D = sigma(z) instead of its derivative sigma(z) (1 - sigma(z))", SECTION_2_1),
    "07.logistic_hvp.d_quarter": ("D = 1/4, sigma' at z = 0 only, whatever w", SECTION_2_1),
    "07.logistic_hvp.d_missing": ("the curvature weights D left out: X^T X v / m + lam v", SECTION_2_1),
    "07.logistic_hvp.d_at_v": ("D evaluated at z = X v (the direction) instead of z = X w (the point)", EXERCISE_1),
    "07.logistic_hvp.sign": ("the product with the wrong sign (-H v)", SECTION_2_1),
    "07.logistic_hvp.forms_hessian": ("the n x n matrix X^T D X formed (n products with X) instead of three products", EXERCISE_1),
    "07.logistic_hvp.default_lam": ("a default lam other than 0 (no regularisation)", EXERCISE_1),
    "07.logistic_hvp.overflow": ("sigma computed as exp(z) / (1 + exp(z)), which overflows into NaN at large logits", EXERCISE_1),
    "07.logistic_hvp.in_place": ("w or v changed in place", EXERCISE_1),
    # Exercise 2: hvp_fd
    "07.hvp_fd.one_sided": ("a one-sided difference (grad at x and x + eps v), with error O(eps) instead of O(eps^2)", SECTION_2_2),
    "07.hvp_fd.no_half": ("divided by eps instead of 2 eps: twice H v", SECTION_2_2),
    "07.hvp_fd.sign": ("(grad(x - eps v) - grad(x + eps v)) / (2 eps): -H v", SECTION_2_2),
    "07.hvp_fd.not_along_v": ("the perturbation not along v (x + eps instead of x + eps v)", EXERCISE_2),
    "07.hvp_fd.step_unscaled": ("the default step eps_mach^(1/3) alone, not scaled by (1 + ||x||) / ||v||", SECTION_2_2),
    "07.hvp_fd.step_sqrt": ("the default step with sqrt(eps_mach), the step of one-sided differences, not the cube root", SECTION_2_2),
    "07.hvp_fd.step_no_one": ("the default step eps_mach^(1/3) ||x|| / ||v||: the 1 of (1 + ||x||) left out", EXERCISE_2),
    "07.hvp_fd.step_not_over_v": ("the default step not divided by ||v||, so eps v is not of length eps_mach^(1/3) (1 + ||x||)", EXERCISE_2),
    "07.hvp_fd.step_precedence": ("eps_mach ** 1/3 written for the cube root: Python reads (eps_mach ** 1) / 3", EXERCISE_2),
    "07.hvp_fd.step_unit_roundoff": ("the default step from the unit roundoff u = 2^-53 instead of eps_mach = np.finfo(float).eps = 2^-52", EXERCISE_2),
    "07.hvp_fd.ignores_eps": ("a given eps not used as it is (the default step used anyway, or the given one rescaled)", EXERCISE_2),
    "07.hvp_fd.v_zero_nan": ("v = 0 not handled first: the default step divides by ||v|| = 0 (NaN)", EXERCISE_2),
    "07.hvp_fd.v_zero_gradients": ("v = 0: zeros returned, but only after calling grad", EXERCISE_2),
    "07.hvp_fd.in_place": ("x or v changed in place (x += eps v)", EXERCISE_2),
    # Exercise 3: truncated_cg
    "07.truncated_cg.solves_plus_g": ("CG run on H d = +g (lesson 03's r = b - A x with b = g): d has the wrong sign", SECTION_3_1),
    "07.truncated_cg.p0_uphill": ("the first direction p = +g (lesson 03's p = r) although r = H d + g", SECTION_3_1),
    "07.truncated_cg.r_minus": ("the residual updated as r - alpha H p (lesson 03's sign) although r = H d + g", SECTION_3_1),
    "07.truncated_cg.direction_sign": ("the direction updated as p = r + beta p (lesson 03's sign) instead of -r + beta p", SECTION_3_1),
    "07.truncated_cg.alpha_pTp": ("alpha = r^T r / p^T p: the curvature p^T H p left out of the step", SECTION_3_1),
    "07.truncated_cg.beta_inverted": ("beta = r^T r / r_new^T r_new, upside down", SECTION_3_1),
    "07.truncated_cg.squared_norms": ("residual_norms holds r^T r, the squared norms", EXERCISE_3),
    "07.truncated_cg.flag_not_set": ("negative curvature not reported: no test p^T H p <= 0, or a stop without negative_curvature = True", SECTION_3_1),
    "07.truncated_cg.zero_at_first": ("negative curvature at the first step returns d = 0 instead of -g", SECTION_3_1),
    "07.truncated_cg.step_at_negative_curvature": ("on negative curvature the step along p still taken (d + alpha p)", SECTION_3_1),
    "07.truncated_cg.always_minus_g": ("negative curvature after some steps returns -g instead of the last iterate d", SECTION_3_1),
    "07.truncated_cg.returns_p": ("negative curvature returns the direction p instead of the last iterate d", EXERCISE_3),
    "07.truncated_cg.strict_curvature": ("the curvature test p^T H p < 0: zero curvature not treated as negative", EXERCISE_3),
    "07.truncated_cg.sum_tol": ("the stopping tolerance rtol ||g|| + atol instead of max(rtol ||g||, atol)", EXERCISE_3),
    "07.truncated_cg.ignores_atol": ("atol ignored: the test is rtol ||g|| alone", EXERCISE_3),
    "07.truncated_cg.test_after_step": ("the stopping test only after a step, so g = 0 costs a product (and reports negative curvature)", EXERCISE_3),
    "07.truncated_cg.strict_stop": ("the stopping test ||r|| < tol instead of <=: g = 0 with atol = 0 takes a step", EXERCISE_3),
    "07.truncated_cg.maxiter_default": ("maxiter=None taken as something other than n, the length of g", EXERCISE_3),
    "07.truncated_cg.maxiter_off_by_one": ("maxiter + 1 steps instead of maxiter", EXERCISE_3),
    "07.truncated_cg.extra_products": ("more than one product with H per step (H d + g recomputed, or H p computed twice)", EXERCISE_3),
    "07.truncated_cg.in_place": ("g changed in place (r = g without a copy, then r += ...)", EXERCISE_3),
    # Exercise 4: newton_cg
    "07.newton_cg.eta_constant": ("a constant forcing term (eta_0 kept, or truncated_cg's default rtol) instead of Eisenstat-Walker's", SECTION_3_2),
    "07.newton_cg.eta_unsquared": ("the forcing term from the ratio ||g_k|| / ||g_{k-1}|| unsquared", SECTION_3_2),
    "07.newton_cg.eta_no_safeguard": ("the forcing term without the safeguard 0.9 eta_{k-1}^2", SECTION_3_2),
    "07.newton_cg.eta_safeguard_always": ("the safeguard 0.9 eta_{k-1}^2 applied even when it is not above 0.1", SECTION_3_2),
    "07.newton_cg.eta_no_cap": ("the forcing term not capped at 0.9", SECTION_3_2),
    "07.newton_cg.floor_zero": ("the inner solve without the floor atol = gtol / 2", SECTION_3_2),
    "07.newton_cg.floor_gtol": ("the inner floor atol = gtol instead of gtol / 2", SECTION_3_2),
    "07.newton_cg.simple_decrease": ("the line search accepts any decrease f(x + t d) < f(x), without Armijo's c1 t g^T d", SECTION_3_2),
    "07.newton_cg.no_line_search": ("the full step t = 1 always taken, no backtracking", SECTION_3_2),
    "07.newton_cg.armijo_only": ("Armijo's test without f(x + t d) < f(x): a step too small to change f is accepted", SECTION_3_2),
    "07.newton_cg.c1_over_t": ("the sufficient decrease written c1 g^T d / t instead of c1 t g^T d", SECTION_3_2),
    "07.newton_cg.stale_f": ("f(x) not updated after a step: later line searches compare with an old value", SECTION_3_2),
    "07.newton_cg.no_stop": ("when no trial step passes, a step is taken anyway instead of stopping", SECTION_3_2),
    "07.newton_cg.refun": ("fun called again at the accepted point instead of keeping the trial value", EXERCISE_4),
    "07.newton_cg.fun_twice": ("fun called twice per trial step of the line search", EXERCISE_4),
    "07.newton_cg.extra_grad": ("more than one gradient per accepted point", EXERCISE_4),
    "07.newton_cg.test_after_step": ("the test ||g|| <= gtol only after a step: a start at a minimiser tries a step", EXERCISE_4),
    "07.newton_cg.strict_gtol": ("the stopping test ||g|| < gtol instead of <=: gtol = 0 at an exact minimiser tries a step", EXERCISE_4),
    "07.newton_cg.maxiter_off_by_one": ("maxiter + 1 Newton steps instead of maxiter", EXERCISE_4),
    "07.newton_cg.in_place": ("x0 changed in place", EXERCISE_4),
    # Exercise 5: steihaug_cg
    "07.steihaug_cg.negative_root": ("tau from the negative root of ||d + tau p|| = delta: the step goes backwards along p", SECTION_TR),
    "07.steihaug_cg.nc_stops_inside": ("on negative curvature the step stops inside (the last iterate, or -g), as truncated CG does, instead of following p to the boundary", SECTION_TR),
    "07.steihaug_cg.returns_p": ("the direction p returned on a boundary or negative-curvature exit instead of the point d + tau p", EXERCISE_5),
    "07.steihaug_cg.test_before_step": ("the radius tested on the current iterate before the step: the iterate that leaves the region is returned", EXERCISE_5),
    "07.steihaug_cg.scaled_back": ("the iterate that leaves the region scaled back to the sphere instead of cutting the segment from d along p", SECTION_TR),
    "07.steihaug_cg.tau_ignores_d": ("tau = delta / ||p|| (as if d = 0) instead of solving ||d + tau p|| = delta", SECTION_TR),
    "07.steihaug_cg.no_boundary_test": ("no test of the radius: the step leaves the trust region", SECTION_TR),
    "07.steihaug_cg.no_curvature_test": ("no test p^T H p <= 0: a negative alpha walks uphill", SECTION_TR),
    "07.steihaug_cg.strict_curvature": ("the curvature test p^T H p < 0: zero curvature not treated as negative", EXERCISE_5),
    "07.steihaug_cg.sum_tol": ("the interior tolerance rtol ||g|| + atol instead of max(rtol ||g||, atol)", EXERCISE_5),
    "07.steihaug_cg.ignores_atol": ("atol ignored: the interior test is rtol ||g|| alone", EXERCISE_5),
    "07.steihaug_cg.extra_products": ("more than one product with H per step", EXERCISE_5),
    "07.steihaug_cg.in_place": ("g changed in place (r = g without a copy, then r += ...)", EXERCISE_5),
}

#: What would do an exercise's work for it.
NEWTON = ("krylov_ref.hvp_fd", "krylov_ref.newton.hvp_fd",
          "krylov_ref.newton.truncated_cg", "krylov_ref.newton.forcing_term",
          "krylov_ref.newton.steihaug_cg", "krylov_ref.newton.trust_region_newton_cg",
          "krylov_ref.LogisticRegression", "krylov_ref.models.LogisticRegression",
          "scipy.optimize.approx_fprime", "scipy.optimize.check_grad")
FORBID = SOLVERS + DIRECT + NEWTON

#: Machine epsilon 2^-52 (np.finfo(float).eps), which the default step of
#: ``hvp_fd`` uses; the unit roundoff is half of it, 2^-53.
_EPS_MACH = np.finfo(float).eps


def _designed(condition, what):
    # The test problems are built to show one behaviour each; a problem that
    # does not is the grader's bug, not the student's.
    if not condition:
        raise RuntimeError(f"lesson 07's test problem is not as designed: {what}")


def _vector(value, n, what):
    if value is None:
        raise WrongAnswer(f"{what} is None: does the function end with a `return` of its result?")
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise WrongAnswer(f"{what} should be an array of numbers, got {type(value).__name__}") from None
    expect(arr.shape == (n,), f"{what} should have shape ({n},), got {arr.shape}")
    expect(np.all(np.isfinite(arr)), f"{what} contains NaN or inf")
    return arr


def _close(a, b, rtol):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and np.linalg.norm(a - b) <= rtol * max(np.linalg.norm(b), 1e-300)


# --------------------------------------------------------------------------
# Exercise 1: the logistic Hessian-vector product


class DataOperator:
    """A data matrix ``X`` (m x n) that supports only products, and counts them.

    ``X @ v``, ``X.T @ u`` and ``u @ X`` work (a block of k columns counts k
    products); ``X.shape`` is there; turning ``X`` into an array is not
    allowed, so the n x n matrix ``X^T D X`` cannot be formed cheaply.
    """

    __array_ufunc__ = None

    def __init__(self, X, _counter=None, _transposed=False):
        self._X = np.asarray(X, dtype=float)
        self._counter = [0] if _counter is None else _counter
        self._transposed = _transposed
        self.shape = self._X.shape[::-1] if _transposed else self._X.shape
        self.ndim = 2
        self.dtype = np.dtype(float)

    @property
    def count(self):
        return self._counter[0]

    @property
    def T(self):
        return DataOperator(self._X, self._counter, not self._transposed)

    def _matrix(self):
        return self._X.T if self._transposed else self._X

    def __matmul__(self, v):
        v = np.asarray(v, dtype=float)
        if v.ndim == 0 or v.shape[0] != self.shape[1]:
            name = "X.T" if self._transposed else "X"
            raise ValueError(f"{name} @ v needs v of length {self.shape[1]}, got shape {v.shape}")
        self._counter[0] += 1 if v.ndim == 1 else v.shape[1]
        return self._matrix() @ v

    def __rmatmul__(self, u):
        u = np.asarray(u, dtype=float)
        self._counter[0] += 1 if u.ndim == 1 else u.shape[0]
        return u @ self._matrix()

    def __array__(self, dtype=None, copy=None):
        raise TypeError("In this exercise X is an operator: use X @ v and X.T @ u. Turning it "
                        "into an array (np.asarray, X.toarray(), np.dot(X, v)) is not allowed.")

    def __repr__(self):
        return f"DataOperator(shape={self.shape}, count={self.count})"


def _reference_logistic_hvp(X, w, v, lam=0.0):
    X = np.asarray(X, dtype=float) if not hasattr(X, "tocsr") else X
    return LogisticRegression(X, np.zeros(X.shape[0]), lam=lam).hessp(w, v)


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _diagnose_logistic(got, X, w, v, lam):
    m, n = X.shape
    s = _sigmoid(X @ w)
    Xv = X @ v
    data = X.T @ (s * (1 - s) * Xv)
    right = data / m + lam * v
    if _close(got, right, 1e-8):
        return
    s2 = _sigmoid(Xv)
    wrong = [
        (data + lam * v, "no_mean", "the data term is not averaged: f is the mean over the m "
         "samples, so H v = X^T (D (X v)) / m + lam v."),
        (data / n + lam * v, "mean_over_n", "the data term is divided by n, the number of "
         "features: f is the mean over the m samples (the rows of X), so divide by m."),
        (data / m, "no_lam", "the regularisation term lam v is missing: "
         "H v = X^T (D (X v)) / m + lam v."),
        (data / m + 0.5 * lam * v, "half_lam", "the regularisation term should be "
         "lam v (the Hessian of lam/2 ||w||^2 is lam I), not lam v / 2."),
        (data / m + 2 * lam * v, "double_lam", "the regularisation term should be "
         "lam v (the Hessian of lam/2 ||w||^2 is lam I), not 2 lam v."),
        (data / m + lam * w, "lam_w", "the regularisation term is lam w, the gradient's: "
         "differentiate once more, the Hessian of lam/2 ||w||^2 is lam I, so H v has lam v."),
        (X.T @ (s * Xv) / m + lam * v, "d_sigma", "the weights D are sigma(z), but the "
         "derivative of sigma is sigma(z) (1 - sigma(z)): D_ii = sigma(z_i) (1 - sigma(z_i))."),
        (X.T @ (0.25 * Xv) / m + lam * v, "d_quarter", "the weights D are 1/4, which is "
         "sigma'(0) only: evaluate D_ii = sigma(z_i) (1 - sigma(z_i)) at z = X w."),
        (X.T @ Xv / m + lam * v, "d_missing", "the weights D are missing: H v = X^T (D (X v)) "
         "/ m + lam v with D_ii = sigma(z_i) (1 - sigma(z_i)) and z = X w."),
        (-right, "sign", "the product has the wrong sign: the logistic loss is convex, so "
         "v^T H v > 0."),
        (X.T @ (s2 * (1 - s2) * Xv) / m + lam * v, "d_at_v", "D is evaluated at z = X v: the "
         "curvature weights belong to the point w, z = X w; v is only the direction."),
    ]
    for value, code, message in wrong:
        if _close(got, value, 1e-8):
            raise mistake(f"07.logistic_hvp.{code}", message)


@exercise(1, "logistic_hvp", reference=_reference_logistic_hvp)
def check_logistic_hvp(logistic_hvp, m=80, n=6, lam=0.1, seed=0):
    """Check ``logistic_hvp(X, w, v, lam=0.0) -> H(w) v`` for the averaged,
    L2-regularised logistic loss, with ``X`` an operator that counts products."""
    X, _, _ = logistic_data(m, n, seed=seed, signal=3.0)
    rng = np.random.default_rng(seed + 100)
    model = LogisticRegression(X, np.zeros(m), lam=lam)
    for trial in range(3):
        w = rng.standard_normal(n) * (1.0 + trial)      # away from w = 0, where D = 1/4
        v = rng.standard_normal(n)
        op = DataOperator(X)
        w_in, v_in = w.copy(), v.copy()
        got = call_student(logistic_hvp, op, w_in, v_in, lam=lam, forbid=FORBID)
        got = _vector(got, n, "H v")
        expect(np.array_equal(w_in, w) and np.array_equal(v_in, v),
               "your function changed w or v in place: work on new arrays.",
               code="07.logistic_hvp.in_place")
        _diagnose_logistic(got, X, w, v, lam)
        expect_close(got, model.hessp(w, v), "H v", rtol=1e-8, atol=1e-12,
                     hint="H v = X^T (D (X v)) / m + lam v, D_ii = sigma(z_i)(1 - sigma(z_i)), "
                          "z = X w.")
        expect(op.count <= 3,
               f"used {op.count} products with X (or X^T): three are enough, X w, X v and "
               "X^T u. Never form the n x n Hessian X^T D X: that is what Newton-CG avoids.",
               code="07.logistic_hvp.forms_hessian" if op.count >= n else None)
    # the default lam = 0
    w = rng.standard_normal(n)
    v = rng.standard_normal(n)
    got = _vector(call_student(logistic_hvp, DataOperator(X), w.copy(), v.copy(), forbid=FORBID),
                  n, "H v with the default lam")
    want = LogisticRegression(X, np.zeros(m)).hessp(w, v)
    code = None
    if not _close(got, want, 1e-8):
        # the data term right, plus some multiple of v: a default lam other than 0
        extra = got - want
        c = (extra @ v) / (v @ v)
        code = "07.logistic_hvp.default_lam" if _close(extra, c * v, 1e-6) else None
    expect_close(got, want, "H v with the default lam", rtol=1e-8, atol=1e-12,
                 hint="the default is lam = 0: no regularisation term.", code=code)
    # v = 0 gives 0; large logits do not overflow into NaN
    got = _vector(call_student(logistic_hvp, DataOperator(X), w.copy(), np.zeros(n), lam=lam,
                               forbid=FORBID), n, "H v for v = 0")
    expect(np.allclose(got, 0.0, atol=1e-300), "H 0 should be the zero vector.")
    w_big = 50.0 * np.sign(rng.standard_normal(n)) / np.sqrt(n) * 10
    got = call_student(logistic_hvp, DataOperator(X), w_big.copy(), v.copy(), lam=lam,
                       forbid=FORBID)
    try:
        finite = np.all(np.isfinite(np.asarray(got, dtype=float)))
    except (TypeError, ValueError):
        finite = True                       # _vector says what is wrong
    if not finite:
        raise mistake("07.logistic_hvp.overflow",
                      "H v at large weights (large logits) contains NaN or inf: "
                      "sigma(z) (1 - sigma(z)) must not overflow for large |z| (exp(z) is inf "
                      "beyond z ~ 709, and inf / inf is NaN); scipy.special.expit computes "
                      "sigma safely.")
    got = _vector(got, n, "H v at large weights")
    expect_close(got, model.hessp(w_big, v), "H v at large weights (logits of size ~100)",
                 rtol=1e-7, atol=1e-12,
                 hint="sigma(z)(1 - sigma(z)) must not overflow or cancel for large |z|: "
                      "scipy.special.expit computes sigma safely.")
    passed(f"logistic_hvp: H v = X^T D X v / m + lam v on {m} x {n} data with at most 3 "
           "products with X; default lam, v = 0 and large logits right.")


# --------------------------------------------------------------------------
# Exercise 2: Hessian-vector products by central differences


class _RecordingGradient:
    """A gradient that records where it is evaluated."""

    def __init__(self, grad):
        self.grad, self.points = grad, []

    def __call__(self, x):
        x = np.array(x, dtype=float, copy=True)
        self.points.append(x)
        return self.grad(x)


def _default_eps(x, v):
    return _EPS_MACH ** (1 / 3) * (1.0 + np.linalg.norm(x)) / np.linalg.norm(v)


def _run_fd(hvp_fd, grad, x, v, **kwargs):
    rec = _RecordingGradient(grad)
    x_in, v_in = x.copy(), v.copy()
    got = call_student(hvp_fd, rec, x_in, v_in, forbid=FORBID, **kwargs)
    expect(np.array_equal(x_in, x) and np.array_equal(v_in, v),
           "your function changed x or v in place: work on new arrays.",
           code="07.hvp_fd.in_place")
    if not np.any(v) and rec.points and not all(np.all(np.isfinite(p)) for p in rec.points):
        raise mistake("07.hvp_fd.v_zero_nan",
                      "for v = 0 grad was called at a point with NaN: the default step divides "
                      "by ||v|| = 0. Handle v = 0 first: return zeros without calling grad.")
    return _vector(got, x.shape[0], "the product H v"), rec.points


def _check_points(points, x, v, eps, default):
    n_calls = len(points)
    if n_calls == 3 or (n_calls == 2 and any(np.array_equal(p, x) for p in points)):
        raise mistake("07.hvp_fd.one_sided",
                      "grad is evaluated at x itself: that is a one-sided difference, with error "
                      "O(eps). Central differences use grad(x + eps v) and grad(x - eps v) only.")
    expect(n_calls == 2, f"grad was called {n_calls} times: central differences need exactly "
           "two gradients, at x + eps v and at x - eps v.")
    steps = sorted((p - x for p in points), key=lambda s: s @ v)
    lo, hi = steps
    # x + eps v - x is exact only up to the rounding of x + eps v
    slack = 1e-9 * np.linalg.norm(hi) + 10 * _EPS_MACH * (1 + np.linalg.norm(x))
    expect(np.linalg.norm(hi + lo) <= slack and hi @ v > 0,
           "the two gradients should be taken at x + eps v and x - eps v, symmetric about x.")
    par = (hi @ v) / (v @ v)
    expect(np.linalg.norm(hi - par * v) <= slack,
           "the perturbation should be along v: grad(x + eps v), not along another direction.",
           code="07.hvp_fd.not_along_v")
    if default:
        want = eps
        if np.isclose(par, want, rtol=1e-6, atol=0):
            return
        x_norm, v_norm, third = np.linalg.norm(x), np.linalg.norm(v), _EPS_MACH ** (1 / 3)
        wrong = [
            (third, "step_unscaled",
             "the default step is eps_mach^(1/3) whatever v and x: scale it so that the "
             "perturbation eps v has length eps_mach^(1/3) (1 + ||x||), i.e. eps = "
             "eps_mach^(1/3) (1 + ||x||) / ||v||."),
            (np.sqrt(_EPS_MACH) * (1 + x_norm) / v_norm, "step_sqrt",
             "the default step uses sqrt(eps_mach), the right step for one-sided "
             "differences; central differences balance at the cube root: eps = "
             "eps_mach^(1/3) (1 + ||x||) / ||v||."),
            (third * x_norm / v_norm, "step_no_one",
             "the default step is eps_mach^(1/3) ||x|| / ||v||: the scale is 1 + ||x||, whose "
             "1 keeps the step away from zero when x is small (at x = 0 yours is 0)."),
            (third * (1 + x_norm), "step_not_over_v",
             "the default step is not divided by ||v||: the perturbation eps v should have "
             "length eps_mach^(1/3) (1 + ||x||), so eps = eps_mach^(1/3) (1 + ||x||) / ||v||."),
            (_EPS_MACH / 3 * (1 + x_norm) / v_norm, "step_precedence",
             "the default step is about eps_mach / 3, not the cube root eps_mach^(1/3): in "
             "Python, eps ** 1/3 means (eps ** 1) / 3; write eps ** (1 / 3) or np.cbrt(eps)."),
            ((_EPS_MACH / 2) ** (1 / 3) * (1 + x_norm) / v_norm, "step_unit_roundoff",
             "the default step uses the unit roundoff u = 2^-53; the exercise asks for the "
             "machine epsilon eps_mach = np.finfo(float).eps = 2^-52, as "
             "eps_mach^(1/3) (1 + ||x||) / ||v||."),
        ]
        for value, code, message in wrong:
            # a step near the rounding of x is only known to within that rounding
            if abs(par - value) <= 1e-6 * value + slack / v_norm:
                raise mistake(f"07.hvp_fd.{code}", message)
        raise WrongAnswer(f"the default step is eps = {par:.3g}, expected {want:.3g} for this x "
                          "and v: eps = eps_mach^(1/3) (1 + ||x||) / ||v|| with eps_mach = "
                          "np.finfo(float).eps.")
    else:
        expect(np.isclose(par, eps, rtol=1e-9, atol=0),
               f"with eps={eps:g} given, the gradients should be taken at x +- eps v; your step "
               f"was {par:.3g}.", code="07.hvp_fd.ignores_eps")


def _rosen_like(n, seed):
    """Rosenbrock's function (a quartic: third derivatives matter) at a random point."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.5, 1.5, n), rng.standard_normal(n)


def _rosen_hv(x, v):
    return rosen_hess_prod(x, v)


@exercise(2, "hvp_fd", reference=reference_hvp_fd)
def check_hvp_fd(hvp_fd, n=6, seed=1, v_scale=1.0):
    """Check ``hvp_fd(grad, x, v, eps=None) -> H v`` by central differences
    of the gradient, two gradient evaluations, default step
    ``eps_mach^(1/3) (1 + ||x||) / ||v||``, ``eps_mach = np.finfo(float).eps``."""
    x, v = _rosen_like(n, seed)
    v = v_scale * v
    exact = _rosen_hv(x, v)
    got, points = _run_fd(hvp_fd, rosen_der, x, v)
    _check_points(points, x, v, _default_eps(x, v), default=True)
    ratio = (got @ exact) / (exact @ exact)
    if np.isclose(ratio, 2.0, rtol=1e-4):
        raise mistake("07.hvp_fd.no_half",
                      "H v is twice what it should be: the central difference divides by the "
                      "distance between the two points, 2 eps.")
    if np.isclose(ratio, -1.0, rtol=1e-4):
        raise mistake("07.hvp_fd.sign",
                      "H v has the wrong sign: (grad(x + eps v) - grad(x - eps v)) / (2 eps).")
    err = np.linalg.norm(got - exact) / np.linalg.norm(exact)
    expect(err <= 1e-8, f"relative error {err:.2g} against the exact H v (expected below 1e-10 "
           "with the default step): (grad(x + eps v) - grad(x - eps v)) / (2 eps).")
    # a step given by the caller is used as it is
    eps = 1e-3 / np.linalg.norm(v)
    got2, points2 = _run_fd(hvp_fd, rosen_der, x, v, eps=eps)
    _check_points(points2, x, v, eps, default=False)
    want2 = (rosen_der(x + eps * v) - rosen_der(x - eps * v)) / (2 * eps)
    expect_close(got2, want2, f"H v with eps={eps:.3g}", rtol=1e-9, atol=1e-12 * np.abs(want2).max(),
                 hint="use the step the caller gives.")
    # at x = 0 the perturbation has length eps_mach^(1/3) (the 1 in 1 + ||x||)
    got3, points3 = _run_fd(hvp_fd, rosen_der, np.zeros(n), v)
    _check_points(points3, np.zeros(n), v, _default_eps(np.zeros(n), v), default=True)
    expect_close(got3, _rosen_hv(np.zeros(n), v), "H v at x = 0", rtol=1e-8,
                 atol=1e-10 * np.linalg.norm(v))
    # v = 0: H 0 = 0, and no gradient is needed (nor a division by ||v|| = 0)
    got4, points4 = _run_fd(hvp_fd, rosen_der, x, np.zeros(n))
    expect(np.all(got4 == 0), "H v should be exactly zero for v = 0.")
    expect(len(points4) == 0, f"for v = 0 the answer is 0 without any gradient; grad was called "
           f"{len(points4)} times (and the default step divides by ||v|| = 0).",
           code="07.hvp_fd.v_zero_gradients")
    passed(f"hvp_fd: central differences with 2 gradients, default step eps_mach^(1/3)(1+||x||)/||v||, "
           f"relative error {err:.1e} on Rosenbrock (n = {n}); eps, x = 0 and v = 0 right.")


# --------------------------------------------------------------------------
# Exercise 3: the truncated inner CG


def _reference_truncated_cg(H, g, *, rtol=0.5, atol=0.0, maxiter=None):
    d, norms, negative = reference_truncated_cg(H, g, rtol=rtol, atol=atol, maxiter=maxiter)
    return d, list(norms), bool(negative)


def _tcg_box(H, g, rtol=0.5, atol=0.0, maxiter=None, wrong=None):
    """The box of section 3.1 -- with ``wrong``, the box with that mistake of
    :data:`_TCG_STEP_MISTAKES`, to name it: (d, residual_norms, negative)."""
    n = g.size
    maxiter = n if maxiter is None else maxiter
    d = np.zeros(n)
    r = np.array(g, dtype=float)
    p = r.copy() if wrong == "p0_uphill" else -r
    rr = r @ r
    history = [np.sqrt(rr)]
    tol = max(rtol * history[0], atol)
    with np.errstate(all="ignore"):
        for j in range(maxiter):
            if not history[-1] > tol:             # NaN stops too
                break
            q = H @ p
            curvature = p @ q
            if curvature <= 0:
                return (-g if j == 0 else d), history, True
            alpha = rr / (p @ p if wrong == "alpha_pTp" else curvature)
            d = d + alpha * p
            r = r - alpha * q if wrong == "r_minus" else r + alpha * q
            rr_new = r @ r
            history.append(np.sqrt(rr_new))
            beta = rr / rr_new if wrong == "beta_inverted" else rr_new / rr
            p = (r if wrong == "direction_sign" else -r) + beta * p
            rr = rr_new
    return d, history, False


#: Mistakes in the steps of the box that show in the residual norms, and what to say.
_TCG_STEP_MISTAKES = {
    "p0_uphill": "The first direction is p = +g: with r = H d + g (the gradient of the model) "
                 "CG starts downhill, p = -r = -g.",
    "r_minus": "The residual is updated as r - alpha H p: with r = H d + g the update is "
               "r + alpha H p (lesson 03's sign flips).",
    "direction_sign": "The direction is updated as p = r + beta p: with r = H d + g the new "
                      "direction is p = -r + beta p (lesson 03's sign flips).",
    "alpha_pTp": "alpha = r^T r / p^T p: the step divides by the curvature, alpha = r^T r / p^T H p.",
    "beta_inverted": "beta is upside down: beta = r_new^T r_new / r^T r.",
}


def _run_tcg(truncated_cg, H, g, **kwargs):
    op = CountingOperator(H)
    g_in = g.copy()
    out = call_student(truncated_cg, op, g_in, forbid=FORBID, **kwargs)
    d, norms, negative = _unpack(out, "truncated_cg", ("d", "residual_norms", "negative_curvature"))
    expect(np.array_equal(g_in, g), "your function changed g in place: work on new arrays "
           "(r = g.copy()).", code="07.truncated_cg.in_place")
    n = g.shape[0]
    d = _vector(d, n, "d")
    try:
        norms = np.asarray(norms, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise WrongAnswer("residual_norms should be a list of numbers") from None
    expect(norms.size >= 1, "residual_norms should start with ||g|| (the residual of d = 0)")
    expect(isinstance(negative, (bool, np.bool_)),
           f"negative_curvature should be True or False, got {type(negative).__name__}")
    return d, norms, bool(negative), op.count


def _same_start(norms, other, j):
    """Whether ``norms`` agrees with ``other`` on its first entries, up to entry ``j`` at least."""
    other = np.asarray(other, dtype=float)
    k = min(norms.size, other.size, 10)
    return k > j and np.allclose(norms[:k], other[:k], rtol=1e-6, atol=1e-13 * abs(other[0]))


def _compare_tcg(got, ref, what, H=None, g=None, params=None):
    d, norms, negative, products = got
    d_ref, norms_ref, neg_ref = ref
    norms_ref = np.asarray(norms_ref)
    if (not np.isclose(norms[0], norms_ref[0], rtol=1e-10)
            and np.isclose(norms[0], norms_ref[0] ** 2, rtol=1e-10)):
        raise mistake("07.truncated_cg.squared_norms",
                      f"residual_norms[0] is ||g||^2 = {norms[0]:.6g} ({what}): residual_norms "
                      "should list the norms ||r|| = sqrt(r^T r), not r^T r.")
    expect_close(norms[0], norms_ref[0], f"residual_norms[0] ({what})", rtol=1e-10,
                 hint="the first entry is ||H 0 + g|| = ||g||.")
    expect(negative == neg_ref,
           f"negative_curvature is {negative} ({what}), expected {neg_ref}: stop, and say so, "
           "when p^T H p <= 0 (zero included).",
           code="07.truncated_cg.flag_not_set" if neg_ref else None)
    k = min(norms.size, norms_ref.size, 10)
    # the first steps entry by entry (later ones drift apart by rounding, which CG on an
    # ill-conditioned H amplifies: compare the final residual and the step count instead)
    bad = [j for j in range(k) if not np.isclose(norms[j], norms_ref[j], rtol=1e-6,
                                                 atol=1e-13 * norms_ref[0])]
    if bad:
        j = bad[0]
        where = (f"the residual norm after step {j} is {norms[j]:.6g}, expected "
                 f"{norms_ref[j]:.6g} ({what}); the steps before it are right.")
        if H is not None and params is not None:
            for code, message in _TCG_STEP_MISTAKES.items():
                if _same_start(norms, _tcg_box(H, g, wrong=code, **params)[1], j):
                    raise mistake(f"07.truncated_cg.{code}", f"{where} {message}")
        raise WrongAnswer(
            f"{where} Check alpha = r^T r / p^T H p, the updates "
            "d += alpha p and r += alpha H p (r = H d + g), and p = -r + beta p with "
            "beta = r_new^T r_new / r^T r.")
    slack = 0 if norms_ref.size <= 10 else max(1, (norms_ref.size - 1) // 10)
    if abs(norms.size - norms_ref.size) > slack:
        more = norms.size > norms_ref.size
        raise WrongAnswer(
            f"took {norms.size - 1} CG steps ({what}), expected {norms_ref.size - 1}: "
            + ("stop as soon as ||r|| <= max(rtol ||g||, atol), testing before each product."
               if more else
               "do not stop before ||r|| <= max(rtol ||g||, atol) (or maxiter, or negative "
               "curvature); residual_norms gets one entry per completed step."))
    if H is not None and not (negative and norms.size == 1):
        # the d returned is the last iterate, whose residual is the last entry (on negative
        # curvature at the first step d = -g instead, which the caller checks)
        res = np.linalg.norm(H @ d + g)
        if not np.isclose(res, norms[-1], rtol=1e-3, atol=1e-10 * norms[0]):
            if negative:
                raise WrongAnswer(
                    f"on negative curvature after {norms.size - 1} steps ({what}) the d returned "
                    f"has ||H d + g|| = {res:.4g}, but the last entry of residual_norms is "
                    f"{norms[-1]:.4g}: return the last iterate d, the one that residual belongs "
                    "to (not the direction p, nor d + alpha p).")
            if np.isclose(np.linalg.norm(H @ d - g), norms[-1], rtol=1e-3, atol=1e-10 * norms[0]):
                raise mistake("07.truncated_cg.solves_plus_g",
                              f"d solves H d = +g ({what}): Newton's step solves H d = -g. With "
                              "r = H d + g, start from r = g, p = -r, and update r += alpha H p.")
            raise WrongAnswer(
                f"the last residual norm is {norms[-1]:.4g} but ||H d + g|| = {res:.4g} for the d "
                f"returned ({what}): are d and r updated with the same alpha and p?")
    if norms_ref.size <= 10 and norms.size == norms_ref.size:
        expect_close(d, d_ref, f"d ({what})", rtol=1e-6,
                     atol=1e-12 * max(1.0, np.abs(d_ref).max()),
                     hint="on negative curvature return the last iterate d (not d + alpha p), or "
                          "-g if it happens at the very first step.")
    products_ref = norms_ref.size - 1 + int(neg_ref)
    expect(products <= products_ref,
           f"used {products} products with H for {norms.size - 1} steps ({what}); one per step "
           f"({products_ref} here) is enough: keep q = H p for both p^T H p and the update of r.",
           code="07.truncated_cg.extra_products")


def _box_at_negative_curvature(H, g, rtol):
    """The box's last iterate d and direction p when p^T H p <= 0 stops it."""
    d, r = np.zeros_like(g), g.copy()
    p, rr = -r, r @ r
    for _ in range(g.size):
        if np.sqrt(rr) <= rtol * np.linalg.norm(g):
            break
        q = H @ p
        if p @ q <= 0:
            return d, p
        alpha = rr / (p @ q)
        d, r = d + alpha * p, r + alpha * q
        rr, rr_old = r @ r, rr
        p = -r + rr / rr_old * p
    return None, None


def _parallel(a, b):
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return na > 0 and nb > 0 and abs(a @ b) >= (1 - 1e-6) * na * nb


def _two_tolerances(norms):
    """An index j at which CG's residual first drops below 4/3 of tau = norms[j] / 1.5,
    with every earlier residual above 1.4 norms[j]: with rtol ||g|| = atol = tau, the sum
    rtol ||g|| + atol = 2 tau would stop CG at step j, the max(rtol ||g||, atol) = tau later."""
    for j in range(1, len(norms)):
        if norms[j] <= 0.5 * norms[0] and min(norms[:j]) > 1.4 * norms[j]:
            return j
    return None


def _indefinite(n, seed, n_negative):
    """A symmetric matrix with ``n_negative`` negative eigenvalues."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    lam = np.geomspace(1.0, 50.0, n)
    lam[:n_negative] *= -1
    return (Q * lam) @ Q.T, Q, lam


@exercise(3, "truncated_cg", reference=_reference_truncated_cg)
def check_truncated_cg(truncated_cg, n=40, cond=200.0, seed=3):
    """Check ``truncated_cg(H, g, *, rtol=0.5, atol=0.0, maxiter=None) ->
    (d, residual_norms, negative_curvature)`` against
    :func:`krylov_ref.newton.truncated_cg`."""
    prob = random_spd(n, cond, seed=seed)
    H, g = prob.A, prob.b
    rng = np.random.default_rng(seed + 7)

    # SPD, a forcing term: stops at ||r|| <= rtol ||g||
    for rtol in (0.5, 1e-3):
        ref = _reference_truncated_cg(H, g, rtol=rtol)
        got = _run_tcg(truncated_cg, H, g, rtol=rtol)
        d = got[0]
        if np.allclose(d, -np.asarray(ref[0]), rtol=1e-6) and rtol < 0.5:
            raise mistake("07.truncated_cg.solves_plus_g",
                          "d solves H d = +g: Newton's step solves H d = -g (start with "
                          "r = g, p = -r).")
        _compare_tcg(got, ref, f"SPD H, rtol={rtol:g}", H, g, dict(rtol=rtol))
        res = np.linalg.norm(H @ d + g)
        expect(res <= rtol * np.linalg.norm(g) * (1 + 1e-8),
               f"||H d + g|| = {res:.3g} > rtol ||g|| = {rtol * np.linalg.norm(g):.3g} "
               f"(rtol={rtol:g}).")
    # the default rtol = 0.5
    _compare_tcg(_run_tcg(truncated_cg, H, g), _reference_truncated_cg(H, g),
                 "the default rtol = 0.5", H, g, {})
    # atol: stop when ||r|| <= atol, even if rtol asks for more
    atol = 0.05 * np.linalg.norm(g)
    got = _run_tcg(truncated_cg, H, g, rtol=1e-12, atol=atol)
    ref = _reference_truncated_cg(H, g, rtol=1e-12, atol=atol)
    if got[1].size != len(ref[1]) and got[1].size == len(_reference_truncated_cg(H, g, rtol=1e-12)[1]):
        raise mistake("07.truncated_cg.ignores_atol",
                      f"with rtol=1e-12 and atol = {atol:.3g} CG ran on to ||r|| = "
                      f"{got[1][-1]:.3g}: atol is ignored. Stop as soon as ||r|| <= "
                      "max(rtol ||g||, atol).")
    _compare_tcg(got, ref, "rtol=1e-12 and atol given", H, g, dict(rtol=1e-12, atol=atol))
    # rtol and atol both active: the test is the larger of the two, not their sum
    full = _reference_truncated_cg(H, g, rtol=0.0)[1]
    j = _two_tolerances(full)
    _designed(j is not None, "a step where the sum and the max of two tolerances differ")
    tau, g_norm = full[j] / 1.5, np.linalg.norm(g)
    ref = _reference_truncated_cg(H, g, rtol=tau / g_norm, atol=tau)
    ref_sum = _reference_truncated_cg(H, g, rtol=2 * tau / g_norm)
    _designed(len(ref_sum[1]) < len(ref[1]), "the sum of the tolerances stops CG earlier")
    got = _run_tcg(truncated_cg, H, g, rtol=tau / g_norm, atol=tau)
    if got[1].size == len(ref_sum[1]) and not got[2]:
        raise mistake(
            "07.truncated_cg.sum_tol",
            f"with rtol ||g|| = atol = {tau:.3g} CG stopped after {got[1].size - 1} step(s), at "
            f"||r|| = {got[1][-1]:.3g} > {tau:.3g}: the test is ||r|| <= max(rtol ||g||, atol), "
            "the larger of the two tolerances, not their sum rtol ||g|| + atol.")
    _compare_tcg(got, ref, f"rtol ||g|| = atol = {tau:.3g}", H, g,
                 dict(rtol=tau / g_norm, atol=tau))
    # maxiter counts products; its default is n
    got = _run_tcg(truncated_cg, H, g, rtol=0.0, maxiter=3)
    expect(got[1].size == 4 and got[3] <= 3,
           f"with maxiter=3, residual_norms should have 4 entries (||g|| and 3 steps) and H be "
           f"used 3 times; got {got[1].size} entries and {got[3]} products.",
           code="07.truncated_cg.maxiter_off_by_one" if got[1].size == 5 else None)
    _compare_tcg(got, _reference_truncated_cg(H, g, rtol=0.0, maxiter=3), "maxiter=3", H, g,
                 dict(rtol=0.0, maxiter=3))
    got = _run_tcg(truncated_cg, H, g, rtol=0.0)
    expect(got[1].size - 1 == n,
           f"with rtol=0 and the default maxiter, CG should run n = {n} steps (maxiter=None means "
           f"n); it ran {got[1].size - 1}.", code="07.truncated_cg.maxiter_default")

    # negative curvature at the first step: d = -g
    Hi, Q, lam = _indefinite(n, seed, 3)
    g1 = Q[:, 0] + 0.1 * Q[:, 1:] @ rng.standard_normal(n - 1) / np.sqrt(n)
    _designed(g1 @ Hi @ g1 < 0, "g1 has negative curvature")
    got = _run_tcg(truncated_cg, Hi, g1, rtol=1e-8)
    d, norms, negative, products = got
    expect(negative, "the first direction p = -g has p^T H p < 0, but negative_curvature is "
           "False: test p^T H p <= 0 before taking the step.", code="07.truncated_cg.flag_not_set")
    if np.allclose(d, 0.0):
        raise mistake("07.truncated_cg.zero_at_first",
                      "on negative curvature at the first step d = 0 is returned; return the "
                      "steepest-descent direction -g instead (it decreases f).")
    if _parallel(d, g1) and not np.allclose(d, -g1, rtol=1e-12):
        raise mistake("07.truncated_cg.step_at_negative_curvature",
                      "on negative curvature at the first step d is a multiple of g other than "
                      "-g: the step along p is still taken. When p^T H p <= 0, stop before the "
                      "step: return -g at the first step, the last iterate d later.")
    expect_close(d, -g1, "d when the first direction has negative curvature", rtol=1e-12,
                 hint="return -g, the steepest-descent direction, when p^T H p <= 0 at the "
                      "first step (there is no earlier iterate).")
    expect(norms.size == 1 and products == 1,
           f"on negative curvature at the first step, residual_norms should be [||g||] after one "
           f"product; got {norms.size} entries and {products} products.")
    # negative curvature later: the last iterate
    g2 = Q[:, 0] * 0.05 + Q[:, 3:] @ rng.standard_normal(n - 3)
    ref = _reference_truncated_cg(Hi, g2, rtol=1e-10)
    _designed(ref[2] and len(ref[1]) > 2, "negative curvature after some steps")
    got = _run_tcg(truncated_cg, Hi, g2, rtol=1e-10)
    if got[2] and np.allclose(got[0], -g2):
        raise mistake("07.truncated_cg.always_minus_g",
                      "on negative curvature after some steps -g is returned: -g is only for "
                      "the first step; later, return the last CG iterate d.")
    d_box, p_box = _box_at_negative_curvature(Hi, g2, rtol=1e-10)
    _designed(p_box is not None, "the box meets negative curvature")
    if got[2] and _parallel(got[0], p_box) and not _parallel(d_box, p_box):
        raise mistake(
            "07.truncated_cg.returns_p",
            f"on negative curvature after {got[1].size - 1} steps the direction p is returned: "
            "p is the search direction that revealed p^T H p <= 0, not an iterate; return the "
            "last iterate d, built by the steps before.")
    _compare_tcg(got, ref, "negative curvature after some steps", Hi, g2, dict(rtol=1e-10))
    expect(g2 @ got[0] < 0, "d is not a descent direction (g^T d >= 0).")
    # zero curvature counts as negative
    lam0 = np.linspace(1.0, 10.0, 5)
    lam0[0] = 0.0
    H0 = np.diag(lam0)
    g0 = np.zeros(5)
    g0[0] = 2.0
    zero_message = ("p^T H p = 0 (a flat direction) should stop CG like negative curvature, "
                    "returning -g at the first step: test p^T H p <= 0, not < 0.")
    try:
        got = _run_tcg(truncated_cg, H0, g0, rtol=1e-8)
    except WrongAnswer as exc:
        if "NaN" in str(exc):        # alpha = r^T r / 0
            raise mistake("07.truncated_cg.strict_curvature", zero_message) from None
        raise
    expect(got[2] and np.allclose(got[0], -g0), zero_message,
           code="07.truncated_cg.strict_curvature")
    # g = 0: nothing to do, and no product
    got = _run_tcg(truncated_cg, H, np.zeros(n))
    code = None
    if got[3] > 0:
        # a product for g = 0: the stopping test comes after the step, or it is strict
        # (0 < 0 is false); with atol > 0 only the first still takes a step
        code = "07.truncated_cg.test_after_step"
        try:
            if _run_tcg(truncated_cg, H, np.zeros(n), atol=1.0)[3] == 0:
                code = "07.truncated_cg.strict_stop"
        except WrongAnswer:
            pass
    hint = {"07.truncated_cg.strict_stop": " The test is ||r|| <= max(rtol ||g||, atol), which "
                                           "0 <= 0 passes: keep the equality.",
            "07.truncated_cg.test_after_step": " Test ||r|| <= max(rtol ||g||, atol) before each "
                                               "product: for g = 0 it holds at once."}.get(code, "")
    expect(np.all(got[0] == 0) and got[1].size == 1 and got[1][0] == 0 and not got[2],
           "for g = 0 return d = 0, residual_norms = [0.0] and negative_curvature = False." + hint,
           code=code)
    expect(got[3] == 0, f"for g = 0 no product with H is needed; used {got[3]}. Test the "
           "stopping rule before the first product.", code=code)
    passed(f"truncated_cg: residual histories match on SPD H (n = {n}); rtol, atol and maxiter "
           "respected; negative and zero curvature handled; g = 0 costs nothing.")


# --------------------------------------------------------------------------
# Exercise 4: Newton-CG


class _Counter:
    """Counts calls; for hessp, a product with v = 0 (what scipy's
    LinearOperator makes to find its dtype when none is given) is free."""

    def __init__(self, func, free_zero=False):
        self.func, self.count, self.free_zero = func, 0, free_zero

    def __call__(self, *args):
        if not (self.free_zero and not np.any(np.asarray(args[-1]))):
            self.count += 1
        return self.func(*args)


def _reference_newton_cg(fun, grad, x0, *, hessp, gtol=1e-6, maxiter=100):
    res = reference_newton_cg(fun, grad, x0, hessp=hessp, gtol=gtol, maxiter=maxiter)
    return res.x, list(res.grad_norms)


def _run_newton(newton_cg, fun, grad, hessp, x0, **kwargs):
    f, g, h = _Counter(fun), _Counter(grad), _Counter(hessp, free_zero=True)
    x_in = x0.copy()
    out = call_student(newton_cg, f, g, x_in, hessp=h, forbid=FORBID, **kwargs)
    x, norms = _unpack(out, "newton_cg", ("x", "grad_norms"))
    expect(np.array_equal(x_in, x0), "your function changed x0 in place: start from a copy, "
           "x = np.array(x0, dtype=float).", code="07.newton_cg.in_place")
    x = _vector(x, x0.shape[0], "x")
    try:
        norms = np.asarray(norms, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise WrongAnswer("grad_norms should be a list of numbers") from None
    expect(norms.size >= 1, "grad_norms should start with ||grad f(x0)||")
    return x, norms, f.count, g.count, h.count


def _newton_box(fun, grad, hessp, x0, *, gtol=1e-6, maxiter=100, wrong=None):
    """The box of section 3.2 with the mistake ``wrong`` (one of
    :data:`_NEWTON_MISTAKES`, or ``"eta_constant_0.5"``), to name it: the same
    (x, grad_norms, calls of fun, of grad, of hessp) as :func:`_run_newton`."""
    f_c, g_c, h_c = _Counter(fun), _Counter(grad), _Counter(hessp, free_zero=True)
    x = np.array(x0, dtype=float)
    f, g = f_c(x), np.asarray(g_c(x), dtype=float)
    history = [np.linalg.norm(g)]
    eta = 0.9

    class H:
        def __matmul__(self, v):
            return np.asarray(h_c(x, v), dtype=float)

    with np.errstate(all="ignore"):
        for k in range(maxiter):
            if history[-1] <= gtol:
                break
            if k > 0 and not str(wrong).startswith("eta_constant"):
                ratio = history[-1] / history[-2]
                new = 0.9 * (ratio if wrong == "eta_unsquared" else ratio ** 2)
                if wrong == "eta_safeguard_always" or (wrong != "eta_no_safeguard"
                                                       and 0.9 * eta ** 2 > 0.1):
                    new = max(new, 0.9 * eta ** 2)
                eta = new if wrong == "eta_no_cap" else min(new, 0.9)
            rtol = 0.5 if wrong == "eta_constant_0.5" else eta
            atol = {"floor_zero": 0.0, "floor_gtol": gtol}.get(wrong, gtol / 2)
            d = _tcg_box(H(), g, rtol=rtol, atol=atol)[0]
            slope = g @ d
            t = 1.0
            if wrong == "no_line_search":
                f_new = f_c(x + d)
            else:
                for _ in range(60):
                    f_new = f_c(x + t * d)
                    if wrong == "fun_twice":
                        f_c(x + t * d)
                    decrease = f_new < f
                    armijo = f_new <= f + 1e-4 * (1 / t if wrong == "c1_over_t" else t) * slope
                    if {"simple_decrease": decrease, "armijo_only": armijo}.get(
                            wrong, decrease and armijo):
                        break
                    t /= 2
                else:
                    if wrong != "no_stop":
                        break
            x = x + t * d
            if wrong != "stale_f":
                f = f_new
            if wrong == "refun":
                f = f_c(x)
            g = np.asarray(g_c(x), dtype=float)
            history.append(np.linalg.norm(g))
    return x, np.asarray(history), f_c.count, g_c.count, h_c.count


#: Mistakes of the outer iteration that show in the gradient history or in the
#: calls, and what to say about each.
_NEWTON_MISTAKES = {
    "eta_constant": "The forcing term stays constant; it should be eta_0 = 0.9, then eta_k from "
                    "the formula of 3.2 at every step, passed to truncated_cg as rtol.",
    "eta_unsquared": "eta_k uses the ratio ||g_k|| / ||g_{k-1}|| unsquared: the formula squares "
                     "it, 0.9 (||g_k|| / ||g_{k-1}||)^2.",
    "eta_no_safeguard": "The forcing term lacks its safeguard: when 0.9 eta_{k-1}^2 > 0.1, eta_k "
                        "is at least 0.9 eta_{k-1}^2.",
    "eta_safeguard_always": "The safeguard 0.9 eta_{k-1}^2 applies only when it exceeds 0.1; "
                            "below that, eta_k = 0.9 (||g_k|| / ||g_{k-1}||)^2 alone.",
    "eta_no_cap": "The forcing term is not capped: eta_k = min(0.9, ...), which matters when the "
                  "gradient grows.",
    "floor_zero": "The inner solve has no floor: call truncated_cg with atol = gtol / 2.",
    "floor_gtol": "The inner floor is atol = gtol; the algorithm box has atol = gtol / 2, which "
                  "leaves the other half of gtol for the error of the quadratic model.",
    "simple_decrease": "The line search accepts any decrease: Armijo's test also asks "
                       "f(x + t d) <= f(x) + c1 t g^T d with c1 = 1e-4.",
    "no_line_search": "The full step t = 1 is always taken: backtrack, t = 1, 1/2, 1/4, ..., until "
                      "f(x + t d) < f(x) and f(x + t d) <= f(x) + c1 t g^T d.",
    "armijo_only": "Armijo's test alone accepts a step too small to change f (once c1 t g^T d is "
                   "below the rounding of f): also ask f(x + t d) < f(x).",
    "c1_over_t": "The sufficient decrease is c1 t g^T d, which shrinks with t, not c1 g^T d / t.",
    "stale_f": "f(x) is not updated after a step: the next line search must compare with f at "
               "the new point (the value of the accepted trial step).",
    "no_stop": "When none of the 60 trial steps passes, stop and return the current x; do not "
               "step anyway.",
    "refun": "fun is called again at the accepted point: keep the value of the accepted trial "
             "step as the new f(x).",
    "fun_twice": "fun is called twice per trial step: evaluate f(x + t d) once and test that "
                 "value.",
}
# A constant forcing term is eta_0 = 0.9 kept, or truncated_cg's default rtol = 0.5.
_NEWTON_WRONG = [(w, "eta_constant") for w in ("eta_constant_0.9", "eta_constant_0.5")] + [
    (w, w) for w in _NEWTON_MISTAKES if w != "eta_constant"]


def _newton_probes():
    """Problems on which the mistakes of :data:`_NEWTON_MISTAKES` that agree on
    one problem differ: log cosh, where the line search backtracks, and
    Rosenbrock's function, whose gradient grows at times."""
    f, g, hv, z0 = _logcosh_problem()
    return [(f, g, hv, z0, dict(gtol=1e-8)),
            (rosen, rosen_der, rosen_hess_prod, np.array([-1.2, 1.0]), dict(maxiter=12)),
            (f, g, hv, np.array([1.631722, 0.0]), dict(gtol=1e-8))]


def _same_run(got, sim, history):
    x, norms, nf, ng, nh = got
    norms_sim = sim[1]
    atol = 1e-3 * abs(norms_sim[-1])
    if history is None:
        return (norms.size == norms_sim.size and nf == sim[2] and nh == sim[4]
                and np.allclose(norms, norms_sim, rtol=1e-5, atol=atol))
    k = min(norms.size, norms_sim.size, history)
    return np.allclose(norms[:k], norms_sim[:k], rtol=1e-5, atol=atol)


def _newton_mistakes(got, problem, history, newton_cg):
    """The codes of the mistakes whose run matches ``got`` on ``problem`` (and,
    if several do, on the probes too)."""
    fun, grad, hessp, x0, kwargs = problem

    def matching(candidates, got, fun, grad, hessp, x0, kwargs, history):
        return [(w, code) for w, code in candidates
                if _same_run(got, _newton_box(fun, grad, hessp, x0, wrong=w, **kwargs), history)]

    found = matching(_NEWTON_WRONG, got, fun, grad, hessp, x0, kwargs, history)
    for pf, pg, ph, pz, pkw in (_newton_probes() if len(found) > 1 and newton_cg else ()):
        try:
            probe = _run_newton(newton_cg, pf, pg, ph, pz, **pkw)
        except WrongAnswer:
            continue
        narrowed = matching(found, probe, pf, pg, ph, pz, pkw, None)
        if narrowed:
            found = narrowed
        if len({code for _, code in found}) <= 1:
            break
    codes = []
    for _, code in found:
        if code not in codes:
            codes.append(code)
    return codes


def _named(message, codes, advice=""):
    """A failure naming ``codes`` (most likely first) if there are any, else
    one that gives the general ``advice``."""
    if not codes:
        return WrongAnswer(f"{message} {advice}".strip())
    said = " ".join(_NEWTON_MISTAKES[c] for c in codes[:2])
    return mistake(f"07.newton_cg.{codes[0]}", f"{message} {said}",
                   *(f"07.newton_cg.{c}" for c in codes[1:2]))


def _compare_newton(got, ref, what, history=None, problem=None, newton_cg=None):
    failure = _newton_failure(got, ref, what, history)
    if failure is None:
        return
    message, advice, code = failure
    if code:
        raise mistake(code, f"{message} {advice}".strip())
    raise _named(message, _newton_mistakes(got, problem, history, newton_cg)
                 if problem is not None else [], advice)


def _newton_failure(got, ref, what, history):
    """(message, code or None) of the first way ``got`` differs from ``ref``, or None."""
    x, norms, nf, ng, nh = got
    norms_ref = np.asarray(ref.grad_norms)
    expect_close(norms[0], norms_ref[0], f"grad_norms[0] ({what})", rtol=1e-10,
                 hint="the first entry is ||grad f(x0)||.")
    k = min(norms.size, norms_ref.size, history or norms_ref.size)
    bad = [j for j in range(k) if not np.isclose(norms[j], norms_ref[j], rtol=1e-5,
                                                 atol=1e-3 * ref.grad_norms[-1])]
    if bad:
        j = bad[0]
        t = ref.steps[j - 1]
        return (f"||grad f|| after Newton step {j} is {norms[j]:.6g}, expected "
                f"{norms_ref[j]:.6g} ({what}; the steps before it are right, and the line "
                f"search took t = {t:g} there).",
                "Check the forcing term eta_k of the algorithm box, the inner solve "
                "truncated_cg(H, g, rtol=eta_k, atol=gtol / 2) and the backtracking "
                "t = 1, 1/2, 1/4, ... until f(x + t d) <= f(x) + c1 t g^T d.", None)
    if history is None and norms.size != norms_ref.size:
        return (f"took {norms.size - 1} Newton steps ({what}), expected {norms_ref.size - 1}.",
                "Stop as soon as ||grad f(x)|| <= gtol (test before each step), or after "
                "maxiter steps; grad_norms gets one entry per accepted point.", None)
    if history is None and not np.allclose(x, ref.x, rtol=1e-6, atol=1e-8):
        expect_close(x, ref.x, f"x ({what})", rtol=1e-6, atol=1e-8,
                     hint="return the last accepted point.")
    if ng != norms.size:
        return (f"grad was called {ng} times for {norms.size} points:",
                "one gradient per accepted point is enough (the line search needs only f; "
                "keep g for the next step).",
                "07.newton_cg.extra_grad" if ng > norms.size else None)
    if history is None:
        if nf != ref.nfev:
            return (f"fun was called {nf} times ({what}), expected {ref.nfev}: exactly once at "
                    "x0 and once per trial step f(x + t d) of the line search.",
                    "No other call: the value at the accepted step is the next f(x).", None)
        if nh > ref.nhev:
            return (f"hessp was called {nh} times ({what}), expected {ref.nhev}.",
                    "One product per inner CG step, and the inner solve stops at "
                    "max(eta_k ||g||, gtol / 2).", None)
        if nh < ref.nhev:
            return (f"hessp was called {nh} times ({what}), expected {ref.nhev}, yet the "
                    "gradients match.", "Is each Newton step's inner solve "
                    "truncated_cg(H, g, rtol=eta_k, atol=gtol/2)?", None)
    return None


def _logistic_model(m, n, seed, lam):
    X, y, _ = logistic_data(m, n, seed=seed, cond=10.0, signal=4.0)
    return LogisticRegression(X, y, lam=lam)


def _logcosh_problem():
    """f(x) = log cosh x1 + x2^2 / 2, from a point where the full Newton step in
    x1 lands just short of -x1: f decreases, but by far less than c1 t g^T d."""
    def f(z):
        return float(np.logaddexp(z[0], -z[0]) - np.log(2.0) + 0.5 * z[1] ** 2)

    def g(z):
        return np.array([np.tanh(z[0]), z[1]])

    def hv(z, v):
        return np.array([v[0] / np.cosh(z[0]) ** 2, v[1]])
    return f, g, hv, np.array([1.08865, 0.0])


def _quartic_problem(n, seed):
    """f = 1/2 x^T A x - b^T x + 1/4 sum x_i^4 with A's eigenvalues spread from 1 to
    1000: each inner CG step shrinks the residual only a little, so the number
    of products is sensitive to the forcing term."""
    prob = random_spd(n, 1000.0, seed=seed, spacing="linear")
    A, b = prob.A, 3.0 * prob.b / np.linalg.norm(prob.b) * np.sqrt(n)

    def f(x):
        return float(0.5 * x @ (A @ x) - b @ x + 0.25 * np.sum(x ** 4))

    def g(x):
        return A @ x - b + x ** 3

    def hv(x, v):
        return A @ v + 3 * x ** 2 * v
    return f, g, hv


def _double_well():
    """f = x^4/4 - x^2/2 + y^2/2: minima at (+-1, 0), a saddle at 0."""
    def f(z):
        return float(z[0] ** 4 / 4 - z[0] ** 2 / 2 + z[1] ** 2 / 2)

    def g(z):
        return np.array([z[0] ** 3 - z[0], z[1]])

    def hv(z, v):
        return np.array([(3 * z[0] ** 2 - 1) * v[0], v[1]])
    return f, g, hv


def _newton_case(newton_cg, fun, grad, hessp, x0, what, history=None, **kwargs):
    """Run the student's newton_cg on one problem and compare it with krylov_ref's."""
    ref = reference_newton_cg(fun, grad, x0, hessp=hessp, **kwargs)
    got = _run_newton(newton_cg, fun, grad, hessp, x0, **kwargs)
    _compare_newton(got, ref, what, history, (fun, grad, hessp, x0, kwargs), newton_cg)
    return got, ref


@exercise(4, "newton_cg", reference=_reference_newton_cg)
def check_newton_cg(newton_cg, m=300, n=12, lam=1e-3, seed=4):
    """Check ``newton_cg(fun, grad, x0, *, hessp, gtol=1e-6, maxiter=100) ->
    (x, grad_norms)`` against :func:`krylov_ref.newton_cg`: the same
    gradient history, one gradient per point, the same number of products."""
    model = _logistic_model(m, n, seed, lam)
    x0 = np.zeros(n)
    for gtol in (1e-8, 1e-4):
        _newton_case(newton_cg, model.loss, model.gradient, model.hessp, x0,
                     f"logistic regression, gtol={gtol:g}", gtol=gtol)
    # the default gtol = 1e-6
    ref = reference_newton_cg(model.loss, model.gradient, x0, hessp=model.hessp)
    got = _run_newton(newton_cg, model.loss, model.gradient, model.hessp, x0)
    expect(got[1][-1] <= 1e-6, f"with the default gtol the final ||grad f|| is {got[1][-1]:.3g}: "
           "the default is gtol = 1e-6.")
    _compare_newton(got, ref, "the default gtol", None,
                    (model.loss, model.gradient, model.hessp, x0, {}), newton_cg)
    # the forcing term, where inner CG is slow and every eta_k shows in the products
    f, g, hv = _quartic_problem(3 * n, seed)
    _newton_case(newton_cg, f, g, hv, np.zeros(3 * n),
                 f"a quartic with an ill-conditioned quadratic part (n = {3 * n})", gtol=1e-8)
    # ... and one on which eta_k falls below 1/3, where the safeguard 0.9 eta_{k-1}^2 is off
    f, g, hv = _quartic_problem(36, 5)
    _newton_case(newton_cg, f, g, hv, np.zeros(36),
                 "a second quartic (n = 36), where eta_k falls below 1/3", gtol=1e-8)
    # the line search: a full step that decreases f, but too little
    f, g, hv, z0 = _logcosh_problem()
    ref = reference_newton_cg(f, g, z0, hessp=hv, gtol=1e-8)
    _designed(ref.steps[0] < 1, "the first step is shortened")
    got = _run_newton(newton_cg, f, g, hv, z0, gtol=1e-8)
    problem = (f, g, hv, z0, dict(gtol=1e-8))
    if got[1].size > 1 and not np.isclose(got[1][1], ref.grad_norms[1], rtol=1e-5, atol=0):
        message = ("on f = log cosh x1 + x2^2/2 from (1.08865, 0) the first step should be "
                   "halved: the full Newton step decreases f, but by less than c1 t g^T d "
                   "(Armijo's sufficient decrease, c1 = 1e-4).")
        raise _named(message, _newton_mistakes(got, problem, None, newton_cg),
                     "Accept t only if f(x + t d) <= f(x) + c1 t g^T d.")
    _compare_newton(got, ref, "log cosh, where the line search must backtrack", None, problem,
                    newton_cg)
    # ... and where t = 1/2 passes Armijo's test with c1 t g^T d, but would not with c1 g^T d / t
    z1 = np.array([1.631722, 0.0])
    _, ref = _newton_case(newton_cg, f, g, hv, z1,
                          "log cosh from (1.631722, 0), where t = 1/2 just passes", gtol=1e-8)
    _designed(ref.steps[0] == 0.5, "the first step is halved once")
    # a wrong gradient: no t passes; 60 halvings (fun at t = 1, ..., 2^-59), then stop
    def wrong_sign(z):
        return -g(z)
    got = _run_newton(newton_cg, f, wrong_sign, hv, z1, gtol=1e-8)
    problem = (f, wrong_sign, hv, z1, dict(gtol=1e-8))
    if not (got[1].size == 1 and np.array_equal(got[0], z1)):
        raise _named(
            f"with a gradient of the wrong sign no step length passes Armijo's test: newton_cg "
            f"should stop at x0 with grad_norms = [||g0||]; it returned {got[1].size} entries.",
            _newton_mistakes(got, problem, None, newton_cg),
            "After 60 halvings without success, stop (return the current x).")
    if got[2] != 61:
        raise _named(
            f"with no acceptable step fun was called {got[2]} times, expected 61: exactly once "
            "at x0 and once per trial step of the line search, here the 60 trial steps "
            "t = 1, 1/2, ..., 2^-59, no more, no fewer.",
            _newton_mistakes(got, problem, None, newton_cg))
    # negative curvature: from the double well's saddle region, -g at the first step
    f, g, hv = _double_well()
    z0 = np.array([0.1, 0.0])
    ref = reference_newton_cg(f, g, z0, hessp=hv, gtol=1e-8)
    got = _run_newton(newton_cg, f, g, hv, z0, gtol=1e-8)
    problem = (f, g, hv, z0, dict(gtol=1e-8))
    if not np.allclose(got[0], [1.0, 0.0], atol=1e-6):
        where = (f"on the double well from (0.1, 0), where H has negative curvature along -g, "
                 f"Newton-CG should walk downhill to the minimum (1, 0); it returned "
                 f"{np.round(got[0], 4).tolist()}.")
        raise _named(where, _newton_mistakes(got, problem, None, newton_cg),
                     "Pure Newton would jump to the saddle at 0: does truncated_cg's d = -g "
                     "reach the line search?")
    _compare_newton(got, ref, "the double well", None, problem, newton_cg)
    # x0 already optimal: no step, no product, fun once
    got = _run_newton(newton_cg, f, g, hv, np.array([1.0, 0.0]), gtol=1e-8)
    ok = (got[1].size == 1 and got[4] == 0 and got[2] == 1
          and np.array_equal(got[0], [1.0, 0.0]))
    expect(ok, "starting at the minimiser (grad f(x0) = 0) should return x0 with grad_norms = "
           f"[0.0], no product and one call of fun; got {got[1].size} entries, {got[4]} "
           f"products and {got[2]} calls of fun. Test ||g|| <= gtol before each step.",
           code="07.newton_cg.test_after_step" if got[1].size == 1 and got[2] > 1 else None)
    # gtol = 0 at an exact minimiser (grad f = 0): the test is ||g|| <= gtol
    got = _run_newton(newton_cg, f, g, hv, np.array([1.0, 0.0]), gtol=0.0)
    expect(got[1].size == 1 and got[2] == 1, f"with gtol = 0 at a point where grad f = 0 "
           f"exactly, ||g|| <= gtol holds: no step should be tried, so fun is called exactly "
           f"once, at x0; got {got[1].size} entries and {got[2]} calls of fun.",
           code="07.newton_cg.strict_gtol" if got[1].size == 1 and got[2] > 1 else None)
    # maxiter: exactly that many steps
    got = _run_newton(newton_cg, rosen, rosen_der, rosen_hess_prod, np.array([-1.2, 1.0]),
                      maxiter=4)
    expect(got[1].size == 5, f"with maxiter=4, grad_norms should have 5 entries (x0 and 4 "
           f"steps), got {got[1].size}.",
           code="07.newton_cg.maxiter_off_by_one" if got[1].size == 6 else None)
    ref = reference_newton_cg(rosen, rosen_der, np.array([-1.2, 1.0]), hessp=rosen_hess_prod,
                              maxiter=4)
    _compare_newton(got, ref, "Rosenbrock, maxiter=4", None,
                    (rosen, rosen_der, rosen_hess_prod, np.array([-1.2, 1.0]), dict(maxiter=4)),
                    newton_cg)
    passed(f"newton_cg: same gradient history and products as krylov_ref on logistic regression "
           f"(n = {n}); one gradient per point; backtracking, negative curvature, x0 optimal and "
           "maxiter right.")


@exercise(4, "newton_cg", reference=_reference_newton_cg)
def check_newton_cg_more(newton_cg, m=80, hidden=6, seed=0, rosen_n=None):
    """More of ``newton_cg``: a non-convex network (the exact Hessian,
    indefinite) compared step by step; the default ``maxiter = 100`` on a
    problem that needs more; Rosenbrock in ``rosen_n`` dimensions."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, (m, 2))
    T = np.sin(X[:, 0]) * np.cos(X[:, 1])
    net = TwoLayerMLP(X, T, hidden=hidden, lam=1e-4)
    theta0 = net.init_params(seed)
    got, _ = _newton_case(newton_cg, net.loss, net.gradient, net.hessp, theta0,
                          f"a {hidden}-unit network, 15 steps", history=8, gtol=1e-6, maxiter=15)
    expect(got[1].size == 16, f"with maxiter=15, grad_norms should have 16 entries, got "
           f"{got[1].size}.",
           code="07.newton_cg.maxiter_off_by_one" if got[1].size == 17 else None)
    # the default maxiter = 100: Gauss-Newton on this fit converges slowly
    ref = reference_newton_cg(net.loss, net.gradient, theta0, hessp=net.gauss_newton_p,
                              gtol=1e-12)
    got = _run_newton(newton_cg, net.loss, net.gradient, net.gauss_newton_p, theta0, gtol=1e-12)
    if ref.iterations == 100:
        expect(got[1].size == 101, f"with the default maxiter = 100 and an unreachable gtol, "
               f"grad_norms should have 101 entries, got {got[1].size}.")
    if rosen_n is not None:
        z0 = np.random.default_rng(seed + 1).uniform(-1, 1, rosen_n)
        got, _ = _newton_case(newton_cg, rosen, rosen_der, rosen_hess_prod, z0,
                              f"Rosenbrock in {rosen_n} dimensions", history=10, gtol=1e-7,
                              maxiter=300)
        expect(got[1][-1] <= 1e-7 and np.allclose(got[0], 1.0, atol=1e-5),
               f"on Rosenbrock in {rosen_n} dimensions newton_cg did not reach the minimiser "
               f"(1, ..., 1): final ||grad f|| = {got[1][-1]:.3g}.")
    passed(f"newton_cg: the {hidden}-unit network (indefinite H) and the default maxiter right"
           + (f"; Rosenbrock in {rosen_n} dimensions solved." if rosen_n else "."))


# --------------------------------------------------------------------------
# Exercise 5: Steihaug-Toint CG

_INFOS = ("converged", "boundary", "negative curvature", "maxiter")


def _reference_steihaug_cg(H, g, delta, *, rtol=0.5, atol=0.0, maxiter=None):
    step = reference_steihaug_cg(H, g, delta, rtol=rtol, atol=atol, maxiter=maxiter)
    return step.d, step.info


def _root(d, p, delta, negative=False):
    """A root of ||d + tau p|| = delta: the one >= 0, or with ``negative`` the other."""
    pp, dp = p @ p, d @ p
    s = np.sqrt(max(dp**2 + pp * (delta**2 - d @ d), 0.0))
    return (-dp - s) / pp if negative else (-dp + s) / pp


def _steihaug_box(H, g, delta, rtol=0.5, atol=0.0, maxiter=None, wrong=None):
    """The box of the trust-region section -- with ``wrong``, the box with that mistake of
    :data:`_STEIHAUG_MISTAKES`, to name it: (d, info, products)."""
    n = g.size
    maxiter = n if maxiter is None else maxiter
    d = np.zeros(n)
    r = np.array(g, dtype=float)
    rr = r @ r
    g_norm = np.sqrt(rr)
    tol = (rtol * g_norm + atol if wrong == "sum_tol" else
           rtol * g_norm if wrong == "ignores_atol" else max(rtol * g_norm, atol))
    if g_norm <= tol:
        return d, "converged", 0

    def to_boundary(d, p, d_next):
        if wrong == "negative_root":
            return d + _root(d, p, delta, negative=True) * p
        if wrong == "returns_p":
            return p
        if wrong == "scaled_back":
            return d_next * (delta / np.linalg.norm(d_next))
        if wrong == "tau_ignores_d":
            return d + delta / np.linalg.norm(p) * p
        return d + _root(d, p, delta) * p

    p = -r
    with np.errstate(all="ignore"):
        for j in range(maxiter):
            if wrong == "test_before_step" and np.linalg.norm(d) >= delta:
                return d, "boundary", j
            q = H @ p
            curvature = p @ q
            if wrong != "no_curvature_test" and (curvature < 0 if wrong == "strict_curvature"
                                                 else curvature <= 0):
                if wrong == "nc_stops_inside":
                    return (-g if j == 0 else d), "negative curvature", j + 1
                d_far = d + 2 * delta * p / np.linalg.norm(p)   # any point beyond the boundary
                return to_boundary(d, p, d_far), "negative curvature", j + 1
            alpha = rr / curvature
            d_next = d + alpha * p
            if wrong not in ("no_boundary_test", "test_before_step") and \
                    not np.linalg.norm(d_next) < delta:
                return to_boundary(d, p, d_next), "boundary", j + 1
            d = d_next
            r = r + alpha * q
            rr_new = r @ r
            if not np.sqrt(rr_new) > tol:
                return d, "converged", j + 1
            p = -r + (rr_new / rr) * p
            rr = rr_new
    return d, "maxiter", maxiter


#: Mistakes of Exercise 5 that the box reproduces, and what to say.
_STEIHAUG_MISTAKES = {
    "negative_root": "d is the other crossing of the sphere: tau should be the root >= 0 of "
                     "||d + tau p|| = delta, which moves forward along p.",
    "nc_stops_inside": "on negative curvature the step stops inside the region (the last "
                       "iterate, or -g at the first step, as truncated CG does): the model "
                       "decreases without bound along p, so follow p to the boundary, "
                       "d + tau p with ||d + tau p|| = delta.",
    "returns_p": "the direction p is returned where the step should stop on the boundary: "
                 "return the point d + tau p, not p.",
    "test_before_step": "the iterate that leaves the trust region is returned (||d|| > delta): "
                        "test the next iterate d + alpha p before taking it, and stop where the "
                        "segment from d to it crosses the boundary.",
    "scaled_back": "the iterate d + alpha p that leaves the region is scaled back onto the "
                   "sphere: the step should stop where the CG path crosses the boundary, "
                   "d + tau p with tau >= 0 and ||d + tau p|| = delta, which is another point.",
    "tau_ignores_d": "tau is computed as delta / ||p||, as if d were 0: ||d + tau p|| is then "
                     "not delta. Solve ||d + tau p||^2 = delta^2, a quadratic in tau.",
    "no_boundary_test": "the step leaves the trust region (||d|| > delta): test every new "
                        "iterate d + alpha p against the radius.",
    "no_curvature_test": "negative curvature p^T H p <= 0 is not detected (alpha < 0 walks "
                         "uphill): test it before the step, and then follow p to the boundary.",
    "sum_tol": "the interior test uses rtol ||g|| + atol: it is ||r|| <= max(rtol ||g||, "
               "atol), the larger of the two tolerances, not their sum.",
    "ignores_atol": "atol is ignored: the interior test is ||r|| <= max(rtol ||g||, atol).",
    "strict_curvature": "zero curvature p^T H p = 0 is not treated as negative: the test is "
                        "p^T H p <= 0.",
}


def _run_steihaug(steihaug_cg, H, g, delta, **kwargs):
    op = CountingOperator(H)
    g_in = g.copy()
    out = call_student(steihaug_cg, op, g_in, delta, forbid=FORBID, **kwargs)
    d, info = _unpack(out, "steihaug_cg", ("d", "info"))
    expect(np.array_equal(g_in, g), "your function changed g in place: work on new arrays "
           "(r = g.copy()).", code="07.steihaug_cg.in_place")
    d = _vector(d, g.shape[0], "d")
    expect(isinstance(info, str) and info in _INFOS,
           f"info should be one of {', '.join(repr(s) for s in _INFOS)}; got {info!r}.")
    return d, info, op.count


def _steihaug_case(steihaug_cg, H, g, delta, what, **kwargs):
    """Run one case; a wrong answer is named when one of the boxes' mistakes explains it."""
    got = _run_steihaug(steihaug_cg, H, g, delta, **kwargs)
    d, info, products = got
    ref = reference_steihaug_cg(H, g, delta, **kwargs)
    scale = max(np.linalg.norm(ref.d), 1e-300)
    if info == ref.info and np.linalg.norm(d - ref.d) <= 1e-6 * scale:
        expect(products <= ref.products,
               f"used {products} products with H ({what}); one per CG step ({ref.products} "
               "here) is enough: keep q = H p for both p^T H p and the update of r.",
               code="07.steihaug_cg.extra_products")
        return got, ref
    matches = []
    for code in _STEIHAUG_MISTAKES:
        box_d, box_info, _ = _steihaug_box(H, g, delta, wrong=code, **kwargs)
        if (box_info == info and np.all(np.isfinite(box_d))
                and np.linalg.norm(d - box_d) <= 1e-6 * max(np.linalg.norm(box_d), 1e-300)):
            matches.append(code)
    if matches:
        raise mistake(f"07.steihaug_cg.{matches[0]}",
                      f"{what}: {_STEIHAUG_MISTAKES[matches[0]]}",
                      *(f"07.steihaug_cg.{c}" for c in matches[1:]))
    d_norm = np.linalg.norm(d)
    if info != ref.info:
        raise WrongAnswer(f"info is {info!r} ({what}), expected {ref.info!r}; ||d|| = "
                          f"{d_norm:.6g}, delta = {delta:.6g}.")
    if info in ("boundary", "negative curvature") and not np.isclose(d_norm, delta, rtol=1e-8):
        raise WrongAnswer(f"on a {info!r} exit ({what}) ||d|| = {d_norm:.6g}, but the step "
                          f"should end on the boundary, ||d|| = delta = {delta:.6g}.")
    expect_close(d, ref.d, f"d ({what})", rtol=1e-6, atol=1e-12 * scale,
                 hint="check alpha, the updates of d, r and p, and where the step stops.")
    return got, ref


def _spd_path(H, g):
    """The norms of the CG iterates d_1, d_2, ... from d = 0 (no trust region)."""
    d, r = np.zeros_like(g), g.copy()
    p, rr, norms = -r, r @ r, []
    for _ in range(g.size):
        q = H @ p
        alpha = rr / (p @ q)
        d, r = d + alpha * p, r + alpha * q
        norms.append(np.linalg.norm(d))
        rr, rr_old = r @ r, rr
        p = -r + rr / rr_old * p
    return norms


@exercise(5, "steihaug_cg", reference=_reference_steihaug_cg)
def check_steihaug_cg(steihaug_cg, n=30, cond=100.0, seed=5):
    """Check ``steihaug_cg(H, g, delta, *, rtol=0.5, atol=0.0, maxiter=None) -> (d, info)``
    against :func:`krylov_ref.newton.steihaug_cg`: the interior, the boundary at the first
    step and later, negative curvature at the first step and later, zero curvature, the
    tolerances, maxiter and g = 0."""
    prob = random_spd(n, cond, seed=seed)
    H, g = prob.A, prob.b
    rng = np.random.default_rng(seed + 11)
    path = _spd_path(H, g)
    newton = np.linalg.norm(np.linalg.solve(H, g))

    # one product per step (a small, well-conditioned H: the steps are those of the reference)
    small = random_spd(8, 10.0, seed=seed + 1)
    _steihaug_case(steihaug_cg, small.A, small.b, 1e3, "SPD H of order 8, a large radius, "
                   "rtol=1e-6", rtol=1e-6)
    # the interior: the Newton step fits, CG converges on the residual test
    got, ref = _steihaug_case(steihaug_cg, H, g, 2 * newton, "SPD H, a large radius, rtol=1e-4",
                              rtol=1e-4)
    _designed(ref.info == "converged", "an interior solution")
    # the boundary at the first step: d = -delta g / ||g||
    _steihaug_case(steihaug_cg, H, g, 0.5 * path[0], "SPD H, the first step leaves the region, "
                   "rtol=1e-10", rtol=1e-10)
    # the boundary later: between the 3rd and 4th iterates
    delta = 0.5 * (path[2] + path[3])
    _designed(path[2] < delta < path[3], "the 4th step crosses the boundary")
    got, ref = _steihaug_case(steihaug_cg, H, g, delta, "SPD H, the 4th step leaves the region",
                              rtol=1e-10)
    _designed(ref.info == "boundary" and ref.products == 4, "a boundary exit at step 4")
    expect(np.isclose(np.linalg.norm(got[0]), delta, rtol=1e-8),
           "on the boundary ||d|| should be delta.")

    # an indefinite H (3 negative eigenvalues): negative curvature after some steps, inside a
    # large region (first, so that stopping inside is not mistaken for returning p), then at
    # the first step
    Hi, Q, lam = _indefinite(n, seed, 3)
    g1 = Q[:, 0] + 0.1 * Q[:, 1:] @ rng.standard_normal(n - 1) / np.sqrt(n)
    g2 = Q[:, 0] * 0.05 + Q[:, 3:] @ rng.standard_normal(n - 3)
    inner = reference_truncated_cg(Hi, g2, rtol=1e-10)
    delta = 3 * max(np.linalg.norm(inner.d), np.linalg.norm(g2))
    ref = reference_steihaug_cg(Hi, g2, delta, rtol=1e-10)
    _designed(ref.info == "negative curvature" and ref.products > 2,
              "negative curvature after some steps")
    # Nocedal & Wright allow the root that lowers the model more: here it is tau >= 0
    d_neg = _steihaug_box(Hi, g2, delta, rtol=1e-10, wrong="negative_root")[0]
    _designed(g2 @ ref.d + ref.d @ Hi @ ref.d / 2 < g2 @ d_neg + d_neg @ Hi @ d_neg / 2,
              "tau >= 0 lowers the model more than the other root")
    _steihaug_case(steihaug_cg, Hi, g2, delta, "negative curvature after some steps",
                   rtol=1e-10)
    # negative curvature at the first step: to the boundary along -g
    _designed(g1 @ Hi @ g1 < 0, "g1 has negative curvature")
    _steihaug_case(steihaug_cg, Hi, g1, 2.0, "negative curvature at the first step, delta = 2")
    # zero curvature counts as negative
    lam0 = np.linspace(1.0, 10.0, 5)
    lam0[0] = 0.0
    g0 = np.zeros(5)
    g0[0] = 2.0
    zero = ("p^T H p = 0 (a flat direction) should stop CG like negative curvature, "
            "info 'negative curvature': test p^T H p <= 0, not < 0.")
    try:
        got, _ = _steihaug_case(steihaug_cg, np.diag(lam0), g0, 1.5, "zero curvature")
    except WrongAnswer as exc:
        if "NaN" in str(exc) or "'boundary'" in str(exc):   # alpha = r^T r / 0
            raise mistake("07.steihaug_cg.strict_curvature", zero) from None
        raise

    # exact arithmetic: H = 2 I, g = (6, 8, 0, ...), the first iterate is (-3, -4, 0, ...)
    H2, g6 = 2.0 * np.eye(4), np.array([6.0, 8.0, 0.0, 0.0])
    got, _ = _steihaug_case(steihaug_cg, H2, g6, 5.0, "H = 2I, the first iterate lands exactly "
                            "on the boundary ||d|| = delta = 5")
    expect(got[1] == "boundary", "an iterate with ||d + alpha p|| = delta exactly is a boundary "
           "exit: the test is ||d + alpha p|| >= delta.")
    got, _ = _steihaug_case(steihaug_cg, H2, g6, 10.0, "H = 2I, rtol=0: the residual is exactly "
                            "0 after one step", rtol=0.0)
    expect(got[1] == "converged" and got[2] == 1, "with rtol=0 a residual exactly 0 meets "
           "||r|| <= max(rtol ||g||, atol) (0 <= 0): stop with 'converged'.")

    # the tolerances, with a radius no iterate reaches
    big = 10 * newton
    full = reference_truncated_cg(H, g, rtol=0.0).residual_norms
    j = _two_tolerances(full)
    _designed(j is not None, "a step where the sum and the max of two tolerances differ")
    tau, g_norm = full[j] / 1.5, np.linalg.norm(g)
    _steihaug_case(steihaug_cg, H, g, big, f"rtol ||g|| = atol = {tau:.3g}",
                   rtol=tau / g_norm, atol=tau)
    _steihaug_case(steihaug_cg, H, g, big, "rtol=1e-12 and atol = ||g|| / 20",
                   rtol=1e-12, atol=0.05 * g_norm)
    # maxiter counts products; its default is n
    got, _ = _steihaug_case(steihaug_cg, H, g, big, "rtol=0, maxiter=3", rtol=0.0, maxiter=3)
    expect(got[1] == "maxiter" and got[2] <= 3,
           f"with maxiter=3 and rtol=0, info should be 'maxiter' after 3 products; got "
           f"{got[1]!r} after {got[2]}.")
    got = _run_steihaug(steihaug_cg, H, g, big, rtol=0.0)
    ref = reference_steihaug_cg(H, g, big, rtol=0.0)
    expect(got[2] == ref.products,
           f"with rtol=0 and the default maxiter (n = {n}), CG should use {ref.products} "
           f"products; it used {got[2]}.")
    # g = 0: nothing to do, and no product
    got = _run_steihaug(steihaug_cg, H, np.zeros(n), 1.0)
    expect(np.all(got[0] == 0) and got[1] == "converged" and got[2] == 0,
           "for g = 0 return d = 0 and info 'converged', without a product (test "
           f"||r|| <= max(rtol ||g||, atol) first); got info {got[1]!r} after {got[2]} products.")
    passed(f"steihaug_cg: interior, boundary (step 1 and 4), negative curvature (step 1 and "
           f"later), zero curvature, tolerances, maxiter and g = 0 right (n = {n}).")
