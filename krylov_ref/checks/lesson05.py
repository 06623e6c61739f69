"""Checks for lesson 05 (preconditioning).

Each ``check_*`` runs a student's function on problems with known answers,
raises :class:`~krylov_ref.checks.WrongAnswer` naming the likely mistake, and
prints one line when all is well. Visible tests call them with their
defaults; hidden tests call them with other sizes, seeds and parameters.

Conventions of the lesson: the preconditioner is a matrix ``M`` close to
``A``; what is *passed* as ``M=`` (to ``pcg``, to ``krylov_ref.cg``, to
SciPy) is the operator that applies ``M^{-1}``, as ``M @ r``.
"""

from __future__ import annotations

import contextlib
import functools
import types

import numpy as np
import scipy.sparse as sp

from .. import cg as reference_cg
from .. import precond
from ..problems import jump_diffusion2d, poisson1d, poisson2d, random_spd
from . import (
    _AFTER_CALL, DIRECT, SOLVERS, CountingOperator, NotAllowedError, StudentCodeError,
    WrongAnswer, call_student, exercise, expect, expect_close, forbidden, mistake, passed,
    replaced, time_limit,
)
from . import expect_tuple as _unpack
from ._report import _is_library_file, format_frames, student_frames, where

__all__ = ["check_pcg", "check_jacobi_preconditioner", "check_ssor_preconditioner",
           "check_ichol0", "check_mic0"]

#: What would build a preconditioner for the student.
PRECONDITIONERS = ("krylov_ref.precond.jacobi", "krylov_ref.precond.ssor",
                   "krylov_ref.precond.ichol0", "krylov_ref.precond.mic0",
                   "krylov_ref.precond.amg")
#: Explicit inverses and factorisations: never needed to apply SSOR or IC(0).
INVERSES = ("numpy.linalg.inv", "numpy.linalg.pinv", "scipy.linalg.inv", "scipy.linalg.pinv",
            "scipy.sparse.linalg.inv", "scipy.sparse.linalg.spsolve",
            "scipy.sparse.linalg.splu", "scipy.sparse.linalg.spilu",
            "scipy.sparse.linalg.factorized", "scipy.sparse.linalg.expm_multiply",
            "scipy.linalg.lu", "scipy.linalg.lu_factor", "scipy.linalg.solve_banded")
#: Complete factorisations, which IC(0) must not call.
FACTORISATIONS = ("numpy.linalg.cholesky", "scipy.linalg.cholesky", "scipy.linalg.cho_factor",
                  "scipy.linalg.cholesky_banded", "scipy.linalg.ldl", "scipy.linalg.qr",
                  "numpy.linalg.qr", "numpy.linalg.eig", "numpy.linalg.eigh",
                  "scipy.linalg.eigh")
FORBID = SOLVERS + DIRECT + PRECONDITIONERS + INVERSES
FORBID_IC = FORBID + FACTORISATIONS
#: The triangular solvers an SSOR application is made of (counted while it runs).
TRIANGULAR = ("scipy.sparse.linalg.spsolve_triangular", "scipy.linalg.solve_triangular")

# --------------------------------------------------------------------------
# The catalogue of named misconceptions (krylov_ref.grading.misconceptions):
# code -> (one line for the instructor, the lesson's heading that explains it).

SECTION_PCG = "2.1 CG in the $M$-inner product"
SECTION_MONITOR = "2.3 Which residual is monitored, and why"
EXERCISE_1 = "Exercise 1 — preconditioned CG (6 points)"
SECTION_JACOBI = r"3. Jacobi: $M = \operatorname{diag}(A)$"
EXERCISE_2 = "Exercise 2 — the Jacobi preconditioner (2 points)"
SECTION_SSOR = "4. SSOR and symmetric Gauss–Seidel"
EXERCISE_3 = "Exercise 3 — the SSOR preconditioner (4 points)"
SECTION_IC = "5. Incomplete Cholesky, IC(0)"
EXERCISE_4 = "Exercise 4 — IC(0) (4 points)"
SECTION_MIC = "5.1 Modified incomplete Cholesky, MIC(0)"
EXERCISE_5 = "Exercise 5 — MIC(0) (4 points)"

MISCONCEPTIONS = {
    # Exercise 1: pcg
    "05.pcg.no_preconditioner":
        ("M is never applied (z = r): plain CG is run whatever M is", SECTION_PCG),
    "05.pcg.alpha_from_r": ("alpha from r^T r instead of r^T z", SECTION_PCG),
    "05.pcg.beta_from_r": ("beta from r^T r (new over old) instead of r^T z", SECTION_PCG),
    "05.pcg.inner_products_from_r":
        ("both alpha and beta from r^T r, only the directions built from z", SECTION_PCG),
    "05.pcg.p_from_r":
        ("the direction updated as p = r + beta p instead of z + beta p", SECTION_PCG),
    "05.pcg.z_not_updated":
        ("z = M r computed once before the loop, never for the new residual", SECTION_PCG),
    "05.pcg.rz_not_updated":
        ("r^T z not carried to the next iteration: alpha and beta keep using r_0^T z_0",
         SECTION_PCG),
    "05.pcg.beta_inverted": ("beta as old over new, r_k^T z_k / r_{k+1}^T z_{k+1}", SECTION_PCG),
    "05.pcg.residual_update_sign":
        ("the residual updated as r + alpha A p instead of r - alpha A p", SECTION_PCG),
    "05.pcg.x_update_sign":
        ("x updated as x - alpha p while r is updated right: x and r disagree", SECTION_PCG),
    "05.pcg.norm_of_z":
        ("records and stops on ||z|| = ||M^-1 r||, the preconditioned residual", SECTION_MONITOR),
    "05.pcg.norm_rz":
        ("records and stops on sqrt(r^T z), the residual of the split system", SECTION_MONITOR),
    "05.pcg.no_initial_norm":
        ("residual_norms leaves out ||r_0||: it starts with ||r_1||", EXERCISE_1),
    "05.pcg.modifies_x0": ("updates the caller's x0 in place (x = x0, then x += ...)", EXERCISE_1),
    "05.pcg.ignores_x0": ("starts from zero even when x0 is given", EXERCISE_1),
    "05.pcg.M_none_unhandled":
        ("fails for M=None (the default) instead of running plain CG, z = r", EXERCISE_1),
    "05.pcg.M_called": ("applies the preconditioner as M(r) instead of M @ r", EXERCISE_1),
    "05.pcg.tol_absolute":
        ("stops on ||r|| <= max(rtol, atol): rtol not multiplied by ||b||", EXERCISE_1),
    "05.pcg.tol_relative_r0":
        ("tolerance relative to ||r_0|| = ||b - A x0|| instead of ||b||", EXERCISE_1),
    "05.pcg.tol_sum": ("tolerance rtol ||b|| + atol instead of max(rtol ||b||, atol)", EXERCISE_1),
    "05.pcg.strict_stop":
        ("stops on ||r|| < tol instead of <=: b = 0 iterates and divides 0 by 0", EXERCISE_1),
    "05.pcg.test_after_step":
        ("the stopping test after the step instead of before it: x0 = x* still steps", EXERCISE_1),
    "05.pcg.maxiter_default": ("maxiter=None taken as n iterations instead of 10 n", EXERCISE_1),
    "05.pcg.maxiter_off_by_one":
        ("one iteration too many or too few when maxiter is reached", EXERCISE_1),
    "05.pcg.default_tolerances": ("defaults other than rtol=1e-5, atol=0.0", EXERCISE_1),
    "05.pcg.recomputes_residual":
        ("r recomputed as b - A x every iteration: two products with A per step", EXERCISE_1),
    "05.pcg.extra_A_products":
        ("A @ p computed twice per iteration instead of kept in q", EXERCISE_1),
    "05.pcg.extra_M_applications": ("M @ r applied more than once per iteration", EXERCISE_1),
    # Exercise 2: jacobi_preconditioner
    "05.jacobi_preconditioner.multiplies_by_diagonal":
        ("M @ r = D r: the preconditioner M = D applied instead of its inverse", SECTION_JACOBI),
    "05.jacobi_preconditioner.sqrt_diagonal":
        ("M @ r = r / sqrt(diag(A)), half of the symmetric scaling", SECTION_JACOBI),
    "05.jacobi_preconditioner.row_sums":
        ("divides by the row sums of |A| instead of the diagonal", SECTION_JACOBI),
    "05.jacobi_preconditioner.dense_matrix":
        ("returns a dense n x n diagonal matrix (n^2 numbers for n)", EXERCISE_2),
    "05.jacobi_preconditioner.returns_vector":
        ("returns the 1-D array 1/d, for which @ is a dot product", EXERCISE_2),
    "05.jacobi_preconditioner.no_zero_check":
        ("no ValueError for a zero diagonal entry: M holds inf", EXERCISE_2),
    "05.jacobi_preconditioner.zero_index_not_named":
        ("the ValueError does not say which diagonal entry is 0", EXERCISE_2),
    "05.jacobi_preconditioner.index_one_based":
        ("the ValueError names the zero entry by a 1-based index", EXERCISE_2),
    "05.jacobi_preconditioner.modifies_r":
        ("M @ r divides r in place: PCG's residual is overwritten by z", EXERCISE_2),
    "05.jacobi_preconditioner.dense_only":
        ("works for a dense A only (np.diag(A)), not a scipy.sparse A", EXERCISE_2),
    "05.jacobi_preconditioner.sparse_only":
        ("works for a scipy.sparse A only (A.tocsr()), not a dense A", EXERCISE_2),
    # Exercise 3: ssor_preconditioner
    "05.ssor_preconditioner.missing_factor":
        ("the factor omega (2 - omega) left out", SECTION_SSOR),
    "05.ssor_preconditioner.missing_D":
        ("no scaling by D between the two triangular solves", SECTION_SSOR),
    "05.ssor_preconditioner.D_inverse":
        ("divides by D between the sweeps instead of multiplying", SECTION_SSOR),
    "05.ssor_preconditioner.sweeps_swapped":
        ("the backward (D + omega U) solve first, the forward one second", SECTION_SSOR),
    "05.ssor_preconditioner.omega_ignored":
        ("omega ignored altogether: symmetric Gauss-Seidel for every omega", SECTION_SSOR),
    "05.ssor_preconditioner.omega_not_in_triangles":
        ("triangles D + L and D + U, omega only in the factor omega (2 - omega)", SECTION_SSOR),
    "05.ssor_preconditioner.omega_form_mixed":
        ("triangles D/omega + L, D/omega + U (the other textbook form) with omega (2 - omega)",
         SECTION_SSOR),
    "05.ssor_preconditioner.diagonal_counted_twice":
        ("triangles from tril(A) and triu(A) with the diagonal, so D + omega L counts D twice",
         SECTION_SSOR),
    "05.ssor_preconditioner.upper_from_lower":
        ("the backward triangle taken as the transpose of the forward one (U = L^T assumed)",
         EXERCISE_3),
    "05.ssor_preconditioner.single_sweep":
        ("one triangular solve only: an SOR (Gauss-Seidel) sweep, not SSOR", SECTION_SSOR),
    "05.ssor_preconditioner.applies_M":
        ("M @ r multiplies by M_SSOR instead of solving with it", SECTION_SSOR),
    "05.ssor_preconditioner.explicit_inverse":
        ("an inverse computed beforehand and multiplied at each application", SECTION_SSOR),
    "05.ssor_preconditioner.returns_matrix":
        ("returns the explicit inverse as a matrix, not an operator", SECTION_SSOR),
    "05.ssor_preconditioner.omega_not_checked":
        ("no ValueError for omega outside (0, 2)", SECTION_SSOR),
    "05.ssor_preconditioner.omega_endpoints_allowed":
        ("accepts omega = 0 or 2 (tests 0 <= omega <= 2): the interval is open", SECTION_SSOR),
    "05.ssor_preconditioner.default_omega":
        ("a default omega other than 1 (symmetric Gauss-Seidel)", EXERCISE_3),
    "05.ssor_preconditioner.sparse_only":
        ("works for a scipy.sparse A only (A.tocsr()), not a dense A", EXERCISE_3),
    "05.ssor_preconditioner.dense_only":
        ("works for a dense A only (np.diag(A)), not a scipy.sparse A", EXERCISE_3),
    # Exercise 4: ichol0
    "05.ichol0.complete_cholesky": ("the complete Cholesky factor, fill-in included", SECTION_IC),
    "05.ichol0.fill_dropped_afterwards":
        ("complete Cholesky with the fill cut off at the end, not during", SECTION_IC),
    "05.ichol0.fill_in": ("updates made outside the pattern of A: L has fill-in", SECTION_IC),
    "05.ichol0.diagonal_updates_only":
        ("only the pivots updated, not the entries below the diagonal", SECTION_IC),
    "05.ichol0.no_updates":
        ("no Schur-complement updates at all: L_ij = a_ij / sqrt(a_jj)", SECTION_IC),
    "05.ichol0.no_sqrt": ("the pivots not square-rooted (L_jj = pivot)", SECTION_IC),
    "05.ichol0.divide_before_sqrt":
        ("the column divided by the pivot before its square root is taken", SECTION_IC),
    "05.ichol0.unit_diagonal": ("returns the unit lower triangular L of L D L^T", SECTION_IC),
    "05.ichol0.upper_factor": ("returns the upper factor L^T instead of L", EXERCISE_4),
    "05.ichol0.returns_product": ("returns M = L L^T instead of the factor L", EXERCISE_4),
    "05.ichol0.no_breakdown_check":
        ("no ValueError when a pivot is not positive: sqrt of 0 or of a negative", SECTION_IC),
    "05.ichol0.zero_pivot_allowed":
        ("refuses negative pivots but accepts a zero one (< 0 instead of <= 0)", SECTION_IC),
    "05.ichol0.negative_pivot_allowed":
        ("refuses a zero pivot only: a negative one gives NaN", SECTION_IC),
    # Exercise 5: mic0
    "05.mic0.fill_dropped":
        ("the dropped fill thrown away, as in IC(0): no compensation on the diagonal",
         SECTION_MIC),
    "05.mic0.compensate_row_only":
        ("a dropped L_ik L_jk subtracted from the pivot of row i only, not also from row j's "
         "(its mirror image (j, i) forgotten)", SECTION_MIC),
    "05.mic0.compensate_column_only":
        ("a dropped L_ik L_jk subtracted from the pivot of column j only, not also from row i's",
         SECTION_MIC),
    "05.mic0.compensation_sign":
        ("the dropped fill added to the pivots instead of subtracted", SECTION_MIC),
    "05.mic0.compensation_doubled":
        ("each dropped product subtracted twice from each pivot (the pair (i, j), (j, i) "
         "counted for both rows)", SECTION_MIC),
    "05.mic0.compensated_afterwards":
        ("the dropped fill collected and taken off the diagonal of L after the factorisation, "
         "so the later columns never see it", SECTION_MIC),
    "05.mic0.complete_cholesky":
        ("no entry dropped at all: the complete Cholesky factor, fill-in included", SECTION_MIC),
    "05.mic0.no_breakdown_check":
        ("no ValueError when a pivot is not positive: sqrt of 0 or of a negative", EXERCISE_5),
    "05.mic0.zero_pivot_allowed":
        ("refuses negative pivots but accepts a zero one (< 0 instead of <= 0)", EXERCISE_5),
    "05.mic0.negative_pivot_allowed":
        ("refuses a zero pivot only: a negative one gives NaN", EXERCISE_5),
}

#: What each exercise is made of: the advice of its refusal when the student
#: calls a function the exercise does not allow. It replaces the generic advice
#: of :func:`~krylov_ref.checks.forbidden`, which speaks of products A @ v only
#: and would seem to forbid the triangular solves that SSOR is made of.
ADVICE = {
    "pcg": "write PCG yourself, from products A @ p, applications M @ r and vector "
           "operations.",
    "jacobi_preconditioner": "build M yourself from the diagonal of A (A.diagonal()), "
                             "as a sparse diagonal matrix or a LinearOperator.",
    "ssor_preconditioner": "apply M yourself, by the two triangular solves of the "
                           "exercise (spsolve_triangular or solve_triangular, which are "
                           "allowed) and a scaling by D.",
    "ichol0": "compute L yourself, by the IC(0) formulas, with loops and vector operations.",
    "mic0": "compute L yourself, by the MIC(0) formulas, with loops and vector operations.",
}
_GENERIC_ADVICE = "write the method yourself, using only products A @ v and vector operations."


def _advised(exc, name):
    """The refusal ``exc`` (a :class:`NotAllowedError`) with the advice of
    exercise ``name`` in place of the generic one; other reports unchanged."""
    if not isinstance(exc, NotAllowedError) or _GENERIC_ADVICE not in str(exc):
        return exc
    report = NotAllowedError(str(exc).replace(_GENERIC_ADVICE, ADVICE[name]))
    report.detail_lines = getattr(exc, "detail_lines", ())
    return report


def _call(func, *args, name, forbid=FORBID_IC, **kwargs):
    """:func:`~krylov_ref.checks.call_student` for exercise ``name``: a refusal
    gives that exercise's advice."""
    try:
        return call_student(func, *args, forbid=forbid, **kwargs)
    except NotAllowedError as exc:
        report = _advised(exc, name)
        if report is exc:
            raise
        raise report from exc


def _code(name, what):
    """The code ``05.<name>.<what>`` if the catalogue declares it, else None
    (the helpers below serve several exercises, not all of which list every
    mistake)."""
    code = f"05.{name}.{what}"
    return code if code in MISCONCEPTIONS else None


def _dense(M):
    return M.toarray() if sp.issparse(M) else np.asarray(M, dtype=float)


# --------------------------------------------------------------------------
# Applying a student's preconditioner: the same guards as call_student, and
# the triangular solves counted.


def _functions_reachable(obj, depth=3):
    """Python functions that applying ``obj`` may run: methods, closures and
    callables held as attributes, a few levels deep (a LinearOperator keeps
    its matvec as an attribute; a matvec keeps its helpers in closure cells)."""
    found, seen, stack = [], set(), [(obj, 0)]
    while stack:
        item, level = stack.pop()
        if id(item) in seen or level > depth:
            continue
        seen.add(id(item))
        if isinstance(item, types.MethodType):
            stack.append((item.__func__, level))
        elif isinstance(item, types.FunctionType):
            if not _is_library_file(item.__code__.co_filename):   # the student's own code
                found.append(item)
            for cell in item.__closure__ or ():
                try:
                    stack.append((cell.cell_contents, level + 1))
                except ValueError:  # an empty cell
                    continue
        elif isinstance(item, functools.partial):
            stack.append((item.func, level + 1))
        elif not isinstance(item, (type, types.ModuleType, np.ndarray)) and hasattr(item, "__dict__"):
            for value in vars(item).values():
                if callable(value):
                    stack.append((value, level + 1))
            for value in vars(type(item)).values():
                if isinstance(value, types.FunctionType):
                    stack.append((value, level + 1))
    return found


def _counting_triangular_solves(namespaces, functions, calls):
    """Replace the triangular solvers, wherever the student's code can reach
    them, by wrappers that record the shape of each right-hand side."""
    def wrap(original, dotted):
        def counted(a, b, *args, **kwargs):
            calls.append((dotted, np.shape(b)))
            return original(a, b, *args, **kwargs)
        counted.__name__ = original.__name__
        return counted

    return replaced(TRIANGULAR, wrap, namespaces, functions)


def _apply(M, v, owner, name, calls=None):
    """``M @ v`` for the student's ``M`` (built by their function ``owner``),
    with the library shortcuts forbidden, a time limit, their own frames in
    any error, and (if ``calls`` is a list) the triangular solves recorded."""
    namespaces = [owner.__globals__] if hasattr(owner, "__globals__") else []
    functions = [owner, *_functions_reachable(M)]
    counting = (_counting_triangular_solves(namespaces, functions, calls)
                if calls is not None else contextlib.nullcontext())
    v_kept = np.array(v, dtype=float)
    try:
        with time_limit(None, what=f"M @ r for the M of {name}()"), \
                forbidden(FORBID_IC, namespaces, functions), counting:
            out = M @ v
    except WrongAnswer as exc:  # not allowed, or out of time
        frames = student_frames(exc.__traceback__)
        message = str(_advised(exc, name))
        report = type(exc)(f"{message} (in {where(frames)})" if frames else message)
        report.detail_lines = tuple(format_frames(frames, limit=1))
        raise report from exc
    except Exception as exc:
        frames = student_frames(exc.__traceback__)
        if not frames:
            raise WrongAnswer(
                f"M @ r failed for the M returned by {name}() ({type(exc).__name__}: {exc}): "
                "return something for which M @ r works on a 1-D array r (a scipy.sparse "
                "matrix, or a scipy.sparse.linalg.LinearOperator).") from exc
        report = StudentCodeError(f"M @ r, with the M of your `{name}`, raised "
                                  f"{type(exc).__name__} in {where(frames)}: {exc}")
        report.detail_lines = ("Your code, innermost call last:", *format_frames(frames))
        raise report from exc
    if _AFTER_CALL[0] is not None:   # as after every call of the student's code
        _AFTER_CALL[0]()
    expect(np.array_equal(v, v_kept),
           "M @ r changed r in place (an update such as r /= ... on the array passed in): "
           "PCG still needs its residual r after computing z = M @ r. Return a new array.",
           code=_code(name, "modifies_r"))
    if out is None:
        raise WrongAnswer(f"M @ r returned None for the M of {name}(): the function that "
                          "applies M must return the result.")
    try:
        arr = np.asarray(out, dtype=float)
    except (TypeError, ValueError):
        raise WrongAnswer(f"M @ r should be an array of numbers, got {type(out).__name__}") from None
    n = v.shape[0]
    if arr.shape in ((n, 1), (1, n)) and n > 1:
        raise WrongAnswer(f"M @ r has shape {arr.shape} for r of shape ({n},): return a 1-D "
                          "array (np.matrix and the old sparse matrices turn vectors into "
                          "2-D matrices; use sp.diags_array / sp.csr_array, or np.ravel).")
    expect(arr.shape != (),
           "M @ r is a single number: M is a 1-D array, so @ is a dot product. Return an "
           "operator that applies the whole matrix, e.g. sp.diags_array(...) or a LinearOperator.",
           code=_code(name, "returns_vector"))
    expect(arr.shape == (n,), f"M @ r should have shape ({n},), got {arr.shape}")
    expect(np.all(np.isfinite(arr)), "M @ r contains NaN or inf")
    return arr


def _value_error_message(func, *args, what, name, **kwargs):
    """The message of the ValueError the student's function (for exercise
    ``name``) raises here, None if it raises nothing; a report if it raises
    something else."""
    try:
        _call(func, *args, name=name, **kwargs)
    except StudentCodeError as exc:
        cause = exc.__cause__
        if isinstance(cause, ValueError):
            return str(cause)
        raise WrongAnswer(f"{what} should raise ValueError, but raised "
                          f"{type(cause).__name__}: {cause}") from exc
    return None


def _raises_value_error(func, *args, what, name, **kwargs):
    return _value_error_message(func, *args, what=what, name=name, **kwargs) is not None


# --------------------------------------------------------------------------
# Exercise 1: preconditioned conjugate gradients


def _reference_pcg(A, b, x0=None, *, rtol=1e-5, atol=0.0, maxiter=None, M=None):
    res = reference_cg(A, b, x0, rtol=rtol, atol=atol, maxiter=maxiter, M=M)
    return res.x, list(res.residual_norms)


def _pcg_variant(A, b, Minv, steps, variant, x0=None):
    """The first residual norms of PCG, or of one named mistake in it."""
    apply = (lambda r: r) if variant == "no M" or Minv is None else (lambda r: Minv @ r)
    x = np.zeros_like(b) if x0 is None else np.array(x0, dtype=float)
    r = b - A @ x
    z = apply(r)
    p = r.copy() if variant == "p from r" else z.copy()
    rz, rr = r @ z, r @ r
    history = [np.linalg.norm(r)]
    for _ in range(steps):
        q = A @ p
        alpha = (rr if variant in ("alpha r^T r", "r^T r throughout") else rz) / (p @ q)
        x = x + alpha * p
        r = r + alpha * q if variant == "r sign" else r - alpha * q
        if variant != "z once":
            z = apply(r)
        rz_new, rr_new = r @ z, r @ r
        if variant in ("beta r^T r", "r^T r throughout"):
            beta = rr_new / rr
        elif variant == "beta inverted":
            beta = rz / rz_new
        else:
            beta = rz_new / rz
        p = (r if variant in ("p from r", "p update from r") else z) + beta * p
        if variant != "rz stale":
            rz = rz_new
        rr = rr_new
        history.append(np.linalg.norm(r))
    return np.array(history)


#: variant of _pcg_variant -> (code, message)
_PCG_MISTAKES = {
    "no M": ("05.pcg.no_preconditioner",
             "the preconditioner is not used: these are the residuals of plain CG. Apply it "
             "to every new residual, z = M @ r, and build the directions from z."),
    "alpha r^T r": ("05.pcg.alpha_from_r",
                    "alpha uses r^T r: with a preconditioner the step is alpha = r^T z / "
                    "p^T A p, with z = M @ r (the M-inner product of the derivation)."),
    "beta r^T r": ("05.pcg.beta_from_r",
                   "beta uses r^T r: with a preconditioner it is beta = r_new^T z_new / "
                   "r^T z, new over old, with z = M @ r."),
    "r^T r throughout": ("05.pcg.inner_products_from_r",
                         "alpha and beta both use r^T r: with a preconditioner every inner "
                         "product of CG becomes one in the M-inner product, r^T z (section 2.1)."),
    "p from r": ("05.pcg.p_from_r",
                 "the directions are built from r: with a preconditioner p_0 = z_0 and "
                 "p = z + beta p, with z = M @ r."),
    "p update from r": ("05.pcg.p_from_r",
                        "the directions are updated from r (p = r + beta p): with a "
                        "preconditioner p = z + beta p, with z = M @ r."),
    "z once": ("05.pcg.z_not_updated",
               "z = M @ r is computed once, before the loop: apply M to every new residual."),
    "rz stale": ("05.pcg.rz_not_updated",
                 "r^T z keeps its first value: after computing beta = r_new^T z_new / r^T z, "
                 "the new r^T z must replace the old one for the next alpha and beta."),
    "beta inverted": ("05.pcg.beta_inverted",
                      "beta is the old r^T z over the new one: it is beta = r_new^T z_new / "
                      "r^T z, new over old."),
    "r sign": ("05.pcg.residual_update_sign",
               "the residual is updated with the wrong sign: x moves by + alpha p, so "
               "r = b - A x changes by - alpha A p."),
}


def _history(A, b, Minv, x0, limit, floor):
    """||r_k|| of PCG from x0 until it is below ``floor`` or ``limit`` steps."""
    x = np.zeros_like(b) if x0 is None else np.array(x0, dtype=float)
    r = b - A @ x
    z = r if Minv is None else Minv @ r
    p, rz = z.copy(), r @ z
    history = [np.linalg.norm(r)]
    while history[-1] > floor and len(history) <= limit and rz > 0:
        q = A @ p
        alpha = rz / (p @ q)
        r = r - alpha * q
        z = r if Minv is None else Minv @ r
        rz, rz_old = r @ z, rz
        p = z + (rz / rz_old) * p
        history.append(np.linalg.norm(r))
    return np.array(history)


#: A stopping test other than ||r_k|| <= max(rtol ||b||, atol): code, its
#: tolerance from (||b||, ||r_0||, rtol, atol), and what is wrong with it.
_STOPPING_MISTAKES = (
    ("05.pcg.tol_absolute", lambda nb, r0, rtol, atol: max(rtol, atol),
     "the tolerance leaves out ||b||; the test is ||r_k|| <= max(rtol * ||b||, atol), rtol "
     "relative to the norm of b."),
    ("05.pcg.tol_relative_r0", lambda nb, r0, rtol, atol: max(rtol * r0, atol),
     "the tolerance is relative to ||r_0|| = ||b - A x0|| instead of ||b|| (the two differ when "
     "x0 is given); the test is ||r_k|| <= max(rtol * ||b||, atol)."),
    ("05.pcg.tol_sum", lambda nb, r0, rtol, atol: rtol * nb + atol,
     "the tolerance is rtol * ||b|| + atol; the test is ||r_k|| <= max(rtol * ||b||, atol), the "
     "larger of the two, not their sum."),
)


def _diagnose_stopping(its, A, b, Minv, x0, rtol, atol, maxiter, what):
    """Name the stopping test that stops after ``its`` iterations, when it is
    one of the usual wrong ones (and the right one stops elsewhere)."""
    nb = np.linalg.norm(b)
    limit = 10 * b.shape[0] if maxiter is None else maxiter
    r0 = np.linalg.norm(b - A @ (np.zeros_like(b) if x0 is None else x0))
    rules = [(code, rule(nb, r0, rtol, atol), message)
             for code, rule, message in _STOPPING_MISTAKES]
    right = max(rtol * nb, atol)
    h = _history(A, b, Minv, x0, limit, min([right] + [T for _, T, _ in rules]))

    def stop(T):
        below = np.flatnonzero(h <= T)
        return int(below[0]) if below.size else min(limit, h.size - 1)

    k_right = stop(right)
    for code, T, message in rules:
        k = stop(T)
        if abs(k - k_right) >= 2 and abs(its - k) <= 1:
            raise mistake(code, f"{what}: took {its} iterations; PCG takes {k_right}: {message}")


def _run_pcg(pcg, A, b, *, M=None, x0=None, record=False, on_norms=None, **kwargs):
    """Call the student's pcg with counting operators; check the output's form.

    ``on_norms(norms)``, if given, diagnoses the residual norms before a report
    that they contain NaN or inf (they often start right and then blow up)."""
    n = b.shape[0]
    op = _RecordingOperator(A) if record else CountingOperator(A)
    m_op = CountingOperator(M) if M is not None else None
    b_arg = b.copy()
    x0_arg = None if x0 is None else x0.copy()
    args = (op, b_arg) if x0 is None else (op, b_arg, x0_arg)
    extra = dict(kwargs)
    if m_op is not None:
        extra["M"] = m_op
    try:
        out = _call(pcg, *args, name="pcg", forbid=SOLVERS + DIRECT, **extra)
    except StudentCodeError as exc:
        cause = exc.__cause__
        if isinstance(cause, TypeError) and "not callable" in str(cause):
            report = mistake("05.pcg.M_called",
                             "apply the preconditioner as M @ r, as the contract says: "
                             "M is an operator, not a function (M(r) fails).")
        elif M is None and _works_with_identity(pcg, A, b, x0, kwargs):
            report = mistake("05.pcg.M_none_unhandled",
                             f"with M=None (no preconditioner, the default) your pcg raises "
                             f"{type(cause).__name__}, and with M given it runs: when M is None "
                             "there is nothing to apply, z = r (plain CG).")
        else:
            raise
        report.detail_lines = exc.detail_lines
        raise report from exc
    x, norms = _unpack(out, "pcg", ("x", "residual_norms"))
    expect(x is not None, "x is None: does pcg end with `return x, residual_norms`?")
    x = np.asarray(x, dtype=float)
    expect(x.shape == (n,), f"x should have shape ({n},), got {x.shape}")
    try:
        norms = np.asarray(norms, dtype=float)
    except (TypeError, ValueError):
        raise WrongAnswer("residual_norms should be a list of numbers") from None
    expect(norms.ndim == 1 and norms.size >= 1,
           "residual_norms should be a 1-D list of norms, ||r_0|| first")
    finite = np.isfinite(norms)
    if on_norms is not None and not finite.all() and finite[:2].all():
        on_norms(norms[:int(np.argmin(finite))])
    expect(finite.all() and np.all(np.isfinite(x)), "x or residual_norms contains NaN or inf")
    expect(np.array_equal(b_arg, b), "pcg changed the caller's b: work on your own vectors.")
    if x0 is not None:
        expect(np.array_equal(x0_arg, x0),
               "pcg changed the caller's x0 (an in-place update such as x += ... on the array "
               "passed in): start from a copy, x = np.array(x0, dtype=float).",
               code="05.pcg.modifies_x0")
    if record:
        return x, norms, op.count, (m_op.count if m_op is not None else 0), op.inputs
    return x, norms, op.count, (m_op.count if m_op is not None else 0)


def _works_with_identity(pcg, A, b, x0, kwargs):
    """Whether the student's pcg returns (without raising) when given M = I."""
    args = (CountingOperator(A), b.copy()) + (() if x0 is None else (x0.copy(),))
    try:
        _call(pcg, *args, name="pcg", forbid=SOLVERS + DIRECT,
              M=CountingOperator(sp.identity(b.shape[0], format="csr")), **kwargs)
    except WrongAnswer:
        return False
    return True


class _RecordingOperator(CountingOperator):
    """A :class:`CountingOperator` that also keeps the vectors it was applied to."""

    def __init__(self, A):
        super().__init__(A)
        self.inputs = []

    def _product(self, v):
        out = super()._product(v)
        self.inputs.append(np.array(v, dtype=float))
        return out


def _diagnose_start(A, b, Minv, norms):
    r0 = np.linalg.norm(b)
    if np.isclose(norms[0], r0, rtol=1e-10):
        return
    z0 = Minv @ b
    if np.isclose(norms[0], np.linalg.norm(z0), rtol=1e-8):
        raise mistake("05.pcg.norm_of_z",
                      "residual_norms[0] is ||M r_0||, the norm of the preconditioned "
                      "residual z: record (and stop on) the unpreconditioned ||r_k|| = "
                      "||b - A x_k||, which is what rtol and atol are about.")
    if np.isclose(norms[0], np.sqrt(b @ z0), rtol=1e-8):
        raise mistake("05.pcg.norm_rz",
                      "residual_norms[0] is sqrt(r_0^T M r_0) (the residual of the split "
                      "system, which PCG gets for free): record (and stop on) the "
                      "unpreconditioned ||r_k|| = ||b - A x_k||.")
    first = _pcg_variant(A, b, Minv, 1, "right")
    if norms.size >= 1 and np.isclose(norms[0], first[1], rtol=1e-8):
        raise mistake("05.pcg.no_initial_norm",
                      "residual_norms[0] is ||r_1||, the norm after the first iteration: the "
                      "list starts with ||r_0|| = ||b - A x0|| (one entry more than iterations).")
    expect_close(norms[0], r0, "residual_norms[0]", rtol=1e-10,
                 hint="it should be ||b - A x0|| with x0 = 0, i.e. ||b||.")


def _diagnose_steps(A, b, Minv, norms):
    want = _pcg_variant(A, b, Minv, min(3, norms.size - 1), "right")
    k = want.size
    if np.allclose(norms[:k], want, rtol=1e-8):
        return
    for variant, (code, message) in _PCG_MISTAKES.items():
        with np.errstate(all="ignore"):
            wrong = _pcg_variant(A, b, Minv, k - 1, variant)
        if np.allclose(norms[:k], wrong, rtol=1e-8):
            raise mistake(code, message)
    bad = int(np.argmax(~np.isclose(norms[:k], want, rtol=1e-8)))
    raise WrongAnswer(
        f"||r_{bad}|| = {norms[bad]:.6g}, expected {want[bad]:.6g}. Follow the algorithm box: "
        "z = M @ r, alpha = r^T z / p^T A p, x += alpha p, r -= alpha A p, then z = M @ r, "
        "beta = r_new^T z_new / r^T z, p = z + beta p.")


def _compare_history(norms, ref, what, stopping=None):
    """``stopping``: (A, b, Minv, x0, rtol, atol, maxiter) of the run, to name
    a wrong stopping test when the number of iterations is off."""
    its, ref_its = norms.size - 1, ref.iterations
    if abs(its - ref_its) > 1 and stopping is not None:
        _diagnose_stopping(its, *stopping, what)
    expect(abs(its - ref_its) <= 1,
           f"{what}: took {its} iterations; PCG takes {ref_its}. Stop as soon as "
           "||r_k|| <= max(rtol * ||b||, atol), on the unpreconditioned residual, testing "
           "before each iteration.")
    k = min(norms.size, ref.residual_norms.size)
    want = ref.residual_norms[:k]
    close = np.abs(norms[:k] - want) <= 1e-6 * want + 1e-12 * want[0]
    if not np.all(close):
        j = int(np.argmax(~close))
        raise WrongAnswer(f"{what}: ||r_{j}|| = {norms[j]:.6g}, expected {want[j]:.6g}; the "
                          "first steps are right, so look at what changes later: is z = M @ r "
                          "recomputed from the new residual, and r^T z carried to the next "
                          "iteration?")


def _repeated_products(inputs):
    """How many products with A repeat the product just before (the same vector)."""
    return sum(1 for u, v in zip(inputs, inputs[1:]) if u.shape == v.shape and np.array_equal(u, v))


def _pcg_case(pcg, A, b, Minv, rtol, maxiter, label):
    """One full solve, compared with krylov_ref.cg step by step."""
    def diagnose(norms):
        _diagnose_start(A, b, Minv, norms)
        _diagnose_steps(A, b, Minv, norms)

    x, norms, products, applications, inputs = _run_pcg(pcg, A, b, M=Minv, rtol=rtol,
                                                         maxiter=maxiter, record=True,
                                                         on_norms=diagnose)
    _diagnose_start(A, b, Minv, norms)
    expect(norms.size >= 2, f"no iteration was taken, but ||b|| = {norms[0]:.3g} > rtol ||b||.")
    _diagnose_steps(A, b, Minv, norms)
    ref = reference_cg(A, b, rtol=rtol, maxiter=maxiter, M=Minv)
    tol = rtol * np.linalg.norm(b)
    res = np.linalg.norm(b - A @ x)
    its = norms.size - 1
    stopping = (A, b, Minv, None, rtol, 0.0, maxiter)
    if res > 1.01 * tol:
        x_ref = reference_cg(A, b, rtol=0.0, maxiter=its, M=Minv).x
        if np.linalg.norm(x + x_ref) <= 1e-6 * np.linalg.norm(x_ref):
            raise mistake("05.pcg.x_update_sign",
                          f"{label}, x is minus the PCG iterate: the residuals are right (so r is "
                          "updated right) but x moves by - alpha p; r = b - A x decreases by "
                          "alpha A p when x increases by alpha p.")
        if abs(its - ref.iterations) > 1:
            _diagnose_stopping(its, *stopping, label)
    expect(res <= 1.01 * tol,
           f"{label}: not converged: ||b - A x|| = {res:.3g} but rtol * ||b|| = {tol:.3g} "
           f"after {its} iterations. Is x updated with the same alpha and p as r?")
    _compare_history(norms, ref, label, stopping)
    expect(np.isclose(norms[-1], res, rtol=1e-3, atol=1e-3 * tol),
           f"{label}: the last residual norm {norms[-1]:.4g} is not ||b - A x|| = {res:.4g} "
           "for the x you return: record ||r|| after updating x and r with the same alpha.")
    if products > its + 2:
        if _repeated_products(inputs) >= its - 1:
            raise mistake("05.pcg.extra_A_products",
                          f"{label}: used {products} products with A for {its} iterations, "
                          "computing A @ p twice in each: compute q = A @ p once per iteration "
                          "and use it in alpha and in the update of r.")
        raise mistake("05.pcg.recomputes_residual",
                      f"{label}: used {products} products with A for {its} iterations: one per "
                      "iteration (A @ p) is enough; update r -= alpha * (A p) instead of "
                      "recomputing b - A x.")
    expect(applications <= its + 2,
           f"{label}: applied M {applications} times for {its} iterations: once per iteration "
           "is enough (z = M @ r for the new residual, kept for the next iteration).",
           code="05.pcg.extra_M_applications")
    expect(applications >= its,
           f"{label}: applied M only {applications} times in {its} iterations: each new "
           "residual needs its z = M @ r.")
    return x, norms, ref


def _fails_at_zero_tolerance(pcg, A, b, x_true, Minv):
    """Whether pcg fails (or iterates) from x0 = the exact solution with
    rtol = atol = 0, where ||r_0|| = 0 <= 0 should stop it at once."""
    try:
        _, norms, _, _ = _run_pcg(pcg, A, b, M=Minv, x0=x_true, rtol=0.0, atol=0.0)
    except WrongAnswer:
        return True
    return norms.size > 1


def _both_tolerances(history, gap):
    """A tolerance T to give as rtol ||b|| = atol = T: stopping on
    ||r_k|| <= max(rtol ||b||, atol) = T takes at least ``gap`` more iterations
    than stopping on their sum 2 T would, and no ||r_k|| is within 3% of T or
    of 2 T. Returns (T, iterations), or None."""
    h = np.asarray(history, dtype=float)
    start = int(np.argmax(h <= 1e-3 * h[0])) or 1      # a tolerance of the usual size first
    for j in [*range(start, h.size), *range(1, start)]:
        T = 0.9 * h[j]
        below_max, below_sum = np.flatnonzero(h <= T), np.flatnonzero(h <= 2 * T)
        if below_max.size == 0:
            continue
        k = int(below_max[0])
        near = (np.abs(h[:k + 1] / T - 1) < 0.03) | (np.abs(h[:k + 1] / (2 * T) - 1) < 0.03)
        if k - int(below_sum[0]) >= gap and not near.any():
            return T, k
    return None


@exercise(1, "pcg", reference=_reference_pcg)
def check_pcg(pcg, m=10, contrast=1e4, seed=0):
    """Check ``pcg(A, b, x0=None, *, rtol=1e-5, atol=0.0, maxiter=None, M=None)
    -> (x, residual_norms)`` against :func:`krylov_ref.cg`, with ``M`` applied
    as ``M @ r`` and products with ``A`` and ``M`` counted.

    The problem is ``jump_diffusion2d(m, contrast, blocks=2, seed)`` (n = m^2)
    with Jacobi and IC(0) preconditioners; then the contract's defaults and
    edge cases: ``M=None`` (on ``poisson2d(m)``), ``maxiter=None`` (10 n),
    ``maxiter`` reached,
    ``x0`` given (and left unchanged), ``x0`` the solution, ``atol``, ``b = 0``.
    """
    prob = jump_diffusion2d(m, contrast=contrast, blocks=2, seed=seed)
    A, b, n = prob.A, prob.b, prob.n
    rtol, maxiter = 1e-8, 10 * n
    jacobi = sp.diags_array(1.0 / A.diagonal(), format="csr")
    x, norms, ref = _pcg_case(pcg, A, b, jacobi, rtol, maxiter, "with Jacobi")
    ic0 = precond.ichol0(A)
    ic0_matrix = np.column_stack([ic0 @ e for e in np.eye(n)])
    _, norms_ic, _ = _pcg_case(pcg, A, b, ic0_matrix, rtol, maxiter, "with IC(0)")

    # maxiter: exactly maxiter iterations when not converged, and the iterate after them.
    x3, norms3, _, _ = _run_pcg(pcg, A, b, M=jacobi, rtol=rtol, maxiter=3)
    expect(norms3.size == 4,
           f"with maxiter=3, residual_norms should have 4 entries (initial + 3), got "
           f"{norms3.size}: take exactly maxiter iterations when the tolerance is not met.",
           code="05.pcg.maxiter_off_by_one" if norms3.size in (3, 5) else None)
    ref3 = reference_cg(A, b, rtol=rtol, maxiter=3, M=jacobi)
    expect_close(x3, ref3.x, "x after maxiter=3 iterations", rtol=1e-8,
                 hint="return the last iterate when maxiter is reached.")

    # x0 given: r_0 = b - A x0, and the caller's x0 is left alone (checked in _run_pcg).
    # Far from the solution, ||b - A x0|| is many times ||b||: a tolerance relative
    # to ||r_0|| instead of ||b|| stops iterations too early.
    x0 = 1e3 * np.linalg.norm(prob.x_true) * np.random.default_rng(seed + 100).standard_normal(n)
    x_0, norms0, _, _ = _run_pcg(pcg, A, b, M=jacobi, x0=x0, rtol=rtol, maxiter=maxiter)
    if np.isclose(norms0[0], np.linalg.norm(b), rtol=1e-8):
        raise mistake("05.pcg.ignores_x0",
                      "with x0 given, residual_norms[0] is ||b||, as if x0 were 0: start from "
                      "(a copy of) x0 when it is given, r_0 = b - A x0.")
    expect_close(norms0[0], np.linalg.norm(b - A @ x0), "residual_norms[0] with x0 given",
                 rtol=1e-8, hint="Start from x0 when it is given: r_0 = b - A x0.")
    ref0 = reference_cg(A, b, x0, rtol=rtol, maxiter=maxiter, M=jacobi)
    converged0 = np.linalg.norm(b - A @ x_0) <= 1.01 * rtol * np.linalg.norm(b)
    if not converged0 or abs(norms0.size - 1 - ref0.iterations) > 1:
        _diagnose_stopping(norms0.size - 1, A, b, jacobi, x0, rtol, 0.0, maxiter, "with x0 given")
    expect(converged0, "with x0 given, the returned x does not solve A x = b to rtol.")
    _compare_history(norms0, ref0, "with x0 given")
    # x0 already the solution: no iteration at all.
    before = ("with x0 = the solution, ||r_0|| <= rtol ||b|| already: residual_norms should be "
              "[||r_0||] (no iteration)")
    try:
        x_s, norms_s, products_s, _ = _run_pcg(pcg, A, b, M=jacobi, x0=prob.x_true, rtol=rtol,
                                               maxiter=maxiter)
    except WrongAnswer as exc:
        if isinstance(exc, StudentCodeError) or "NaN" in str(exc):
            report = mistake("05.pcg.test_after_step",
                             f"{before}, but {exc}: the loop took a step from r_0 = 0 (0 / 0). "
                             "Test before each iteration.")
            report.detail_lines = exc.detail_lines
            raise report from exc
        raise
    expect(norms_s.size == 1,
           f"{before}, got {norms_s.size} entries. Test before each iteration.",
           code="05.pcg.test_after_step")
    expect_close(x_s, prob.x_true, "x when x0 is the solution", rtol=1e-12)

    # atol: with rtol = 0 a loose absolute tolerance stops early.
    atol = 1e-3 * np.linalg.norm(b)
    x_a, norms_a, _, _ = _run_pcg(pcg, A, b, M=jacobi, rtol=0.0, atol=atol, maxiter=maxiter)
    ref_a = reference_cg(A, b, rtol=0.0, atol=atol, maxiter=maxiter, M=jacobi)
    expect(np.linalg.norm(b - A @ x_a) <= 1.01 * atol and abs(norms_a.size - 1 - ref_a.iterations) <= 1,
           f"with rtol=0 and atol = {atol:.3g}, stop as soon as ||r|| <= atol: PCG takes "
           f"{ref_a.iterations} iterations, yours {norms_a.size - 1}. The test is "
           "||r_k|| <= max(rtol * ||b||, atol).")

    # rtol and atol both given: the test is ||r|| <= max(rtol ||b||, atol), the
    # larger of the two (here equal), not their sum.
    history = reference_cg(A, b, rtol=1e-12, maxiter=maxiter, M=jacobi).residual_norms
    both = _both_tolerances(history, gap=2)
    if both is None:
        raise ValueError("no tolerance separates max(rtol ||b||, atol) from the sum here")
    T, k_both = both
    _, norms_b, _, _ = _run_pcg(pcg, A, b, M=jacobi, rtol=T / np.linalg.norm(b), atol=T,
                                maxiter=maxiter)
    expect(abs(norms_b.size - 1 - k_both) <= 1,
           f"with rtol = {T / np.linalg.norm(b):.3g} and atol = {T:.3g} both given (rtol ||b|| = "
           f"atol), PCG takes {k_both} iterations, yours {norms_b.size - 1}. The test is "
           "||r_k|| <= max(rtol * ||b||, atol), the larger of the two, not their sum.",
           code="05.pcg.tol_sum" if norms_b.size - 1 < k_both else None)

    # M=None (the default): plain CG (on Poisson: without M the jumps would make
    # the count depend on rounding, CG needing more than n steps).
    pois = poisson2d(m, seed=seed)
    _, norms_plain, _, _ = _run_pcg(pcg, pois.A, pois.b, rtol=rtol, maxiter=maxiter)
    ref_plain = reference_cg(pois.A, pois.b, rtol=rtol, maxiter=maxiter)
    _compare_history(norms_plain, ref_plain, "without M (M=None, plain CG)")

    # The defaults rtol=1e-5 and atol=0: on b and on 1e-12 b (where any atol > 0
    # would stop at once) the same iterations as krylov_ref.cg with its defaults.
    ref_default = reference_cg(A, b, M=jacobi)
    for factor in (1.0, 1e-12):
        _, norms_d, _, _ = _run_pcg(pcg, A, factor * b, M=jacobi)
        expect(abs(norms_d.size - 1 - ref_default.iterations) <= 1,
               f"with rtol, atol and maxiter not given{' and b scaled by 1e-12' if factor < 1 else ''}"
               f", PCG takes {ref_default.iterations} iterations, yours {norms_d.size - 1}: the "
               "defaults are rtol=1e-5, atol=0.0, maxiter=None (10 n).",
               code="05.pcg.default_tolerances")

    # maxiter=None: 10 n iterations when the tolerance cannot be met (rtol = 0).
    small = random_spd(6, 100.0, seed=seed)
    _, norms_max, _, _ = _run_pcg(pcg, small.A, small.b, rtol=0.0)
    expect(norms_max.size - 1 == 60,
           f"with maxiter=None and a tolerance that is never met (rtol=0), n = 6 should give "
           f"10 n = 60 iterations; got {norms_max.size - 1}. maxiter defaults to 10 n.",
           code="05.pcg.maxiter_default")

    # b = 0: x = 0 is the solution, found without iterating.
    try:
        x_z, norms_z, _, _ = _run_pcg(pcg, A, np.zeros(n), M=jacobi, rtol=rtol, maxiter=maxiter)
    except WrongAnswer as exc:
        if isinstance(exc, StudentCodeError) or "NaN" in str(exc):
            text = (f"with b = 0 (so x = 0 and residual_norms = [0.0] at once), {exc}. With "
                    "b = 0, max(rtol ||b||, atol) is 0 and ||r_0|| = 0")
            # ||r_0|| = 0 = tol with b != 0 too (x0 the solution, rtol = atol = 0): a
            # strict test (<) fails there as well, a test that divides by ||b|| does not.
            report = (mistake("05.pcg.strict_stop", f"{text}: use <= in the stopping test, or "
                                                    "the loop divides 0 by 0.")
                      if _fails_at_zero_tolerance(pcg, A, b, prob.x_true, jacobi) else
                      WrongAnswer(f"{text}, which the stopping test must accept (0 <= 0), "
                                  "without dividing by ||b||."))
            report.detail_lines = exc.detail_lines
            raise report from exc
        raise
    expect(norms_z.size == 1 and norms_z[0] == 0.0 and not np.any(x_z),
           f"with b = 0, x = 0 solves A x = b: return x = 0 and residual_norms = [0.0]; got "
           f"{norms_z.size} norms and ||x|| = {np.linalg.norm(x_z):.3g}. With b = 0, "
           "max(rtol ||b||, atol) is 0: use <= in the stopping test.",
           code="05.pcg.strict_stop" if norms_z.size > 1 else None)
    passed(f"pcg: matches krylov_ref.cg step by step on {prob.name} with Jacobi "
           f"({norms.size - 1} iterations) and IC(0) ({norms_ic.size - 1}); one product with A "
           "and one application of M per iteration; M=None, maxiter, x0, atol and b = 0 right.")


# --------------------------------------------------------------------------
# Exercise 2: Jacobi


def _reference_jacobi(A):
    return precond.jacobi(A)


def _build(func, A, name, **kwargs):
    """Call the student's builder on a copy of A; check A is left unchanged and
    that the result is an operator, not an explicit dense matrix."""
    A_arg = A.copy()
    try:
        M = _call(func, A_arg, name=name, **kwargs)
    except StudentCodeError as exc:
        _diagnose_one_format(func, A, name, exc, **kwargs)
        raise
    same = (A_arg != A).nnz == 0 if sp.issparse(A) else np.array_equal(A_arg, A)
    expect(same, f"{name} changed the matrix A it was given: work on a copy.")
    expect(M is not None, f"{name} returned None: does it end with `return M`?")
    return M


def _diagnose_one_format(func, A, name, exc, **kwargs):
    """``func`` raised ``exc`` for ``A``: if it works for the same matrix in the
    other format (dense for sparse, sparse for dense), say so."""
    sparse = sp.issparse(A)
    other = _dense(A) if sparse else sp.csr_array(A)
    try:
        _call(func, other, name=name, **kwargs)
    except WrongAnswer:
        return
    given, works = ("a scipy.sparse matrix", "dense") if sparse else ("a dense array", "sparse")
    code = _code(name, "dense_only" if sparse else "sparse_only")
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    text = (f"{name} raises {type(cause).__name__} ({cause}) when A is {given}, and works for "
            f"the same A made {works}: A may be dense or scipy.sparse, any format")
    report = (mistake(code, f"{text} (A.diagonal(), sp.tril and sp.triu work for all of them).")
              if code else WrongAnswer(f"{text}."))
    report.detail_lines = exc.detail_lines
    raise report from exc


@exercise(2, "jacobi_preconditioner", reference=_reference_jacobi)
def check_jacobi_preconditioner(jacobi_preconditioner, m=8, contrast=1e4, seed=0):
    """Check ``jacobi_preconditioner(A) -> M`` with ``M @ r = r / diag(A)``,
    for sparse and dense ``A`` (on ``jump_diffusion2d(m, contrast)``), a 1 x 1
    matrix, and a zero on the diagonal (ValueError)."""
    prob = jump_diffusion2d(m, contrast=contrast, blocks=2, seed=seed)
    A, n = prob.A, prob.n
    d = A.diagonal()
    rng = np.random.default_rng(seed)
    name = "jacobi_preconditioner"
    for form, label in ((sp.csr_array, "a CSR array"), (sp.csc_matrix, "a CSC matrix"),
                        (lambda B: B.toarray(), "a dense array")):
        A_in = form(A)
        M = _build(jacobi_preconditioner, A_in, name)
        if isinstance(M, np.ndarray) and M.ndim == 2:
            raise mistake("05.jacobi_preconditioner.dense_matrix",
                          f"for A given as {label}, M is a dense {M.shape[0]} x {M.shape[1]} "
                          "matrix: n^2 numbers to store n. Return a sparse diagonal matrix "
                          "(sp.diags_array) or a LinearOperator.")
        v = rng.standard_normal(n)
        z = _apply(M, v.copy(), jacobi_preconditioner, name)
        want = v / d
        if np.allclose(z, v * d, rtol=1e-10):
            raise mistake("05.jacobi_preconditioner.multiplies_by_diagonal",
                          "M @ r multiplies r by the diagonal of A: the preconditioner is "
                          "D = diag(A), close to A, and the operator you return applies "
                          "its inverse, so M @ r = r / diag(A).")
        if np.allclose(z, v / np.sqrt(d), rtol=1e-10):
            raise mistake("05.jacobi_preconditioner.sqrt_diagonal",
                          "M @ r divides by sqrt(diag(A)): that is half of the symmetric "
                          "split D^{-1/2} A D^{-1/2}. The preconditioner applies D^{-1}: "
                          "M @ r = r / diag(A).")
        if np.allclose(z, v / np.abs(_dense(A_in)).sum(axis=1), rtol=1e-10):
            raise mistake("05.jacobi_preconditioner.row_sums",
                          "M @ r divides by the row sums of |A|: Jacobi uses the diagonal "
                          "entries A[i, i] only.")
        expect_close(z, want, f"M @ r for A given as {label}", rtol=1e-12,
                     hint="M @ r should be r / diag(A), entry by entry.")
    # The smallest case.
    M1 = _build(jacobi_preconditioner, np.array([[4.0]]), name)
    z1 = _apply(M1, np.array([3.0]), jacobi_preconditioner, name)
    expect_close(z1, [0.75], "M @ r for A = [[4]] and r = [3]", rtol=1e-12)
    # A zero on the diagonal: no Jacobi preconditioner exists.
    Z = A.toarray()
    z = n // 2 + 1
    Z[z, z] = 0.0
    message = _value_error_message(jacobi_preconditioner, sp.csr_array(Z), name=name,
                                   what=f"a zero diagonal entry A[{z}, {z}]")
    expect(message is not None,
           f"with a zero on the diagonal (A[{z}, {z}] = 0), jacobi_preconditioner should raise "
           "ValueError saying so, not return an M with inf in it.",
           code="05.jacobi_preconditioner.no_zero_check")
    if str(z) not in message and str(z + 1) in message:
        raise mistake("05.jacobi_preconditioner.index_one_based",
                      f"the ValueError names entry {z + 1}, but the zero is A[{z}, {z}]: "
                      f"indices start at 0 in Python; its message is {message!r}.")
    expect(str(z) in message,
           f"the ValueError should say which diagonal entry is zero (A[{z}, {z}] here); "
           f"its message is {message!r}.",
           code="05.jacobi_preconditioner.zero_index_not_named")
    passed(f"jacobi_preconditioner: M @ r = r / diag(A) for sparse and dense A on {prob.name} "
           f"(diagonal from {d.min():.3g} to {d.max():.3g}), for a 1 x 1 matrix, and a zero "
           "diagonal raises ValueError.")


# --------------------------------------------------------------------------
# Exercise 3: SSOR


def _reference_ssor(A, omega=1.0):
    return precond.ssor(A, omega)


def _ssor_variants(A, omega, v):
    """M_SSOR^{-1} v, and the typical mistakes in it (dense, for small A):
    name -> (what the mistake gives, code, message)."""
    A = _dense(A)
    D = np.diag(np.diag(A))
    L, U = np.tril(A, -1), np.triu(A, 1)
    lower, upper = D + omega * L, D + omega * U
    c = omega * (2 - omega)
    solve = np.linalg.solve
    right = c * solve(upper, D @ solve(lower, v))
    variants = {
        "no factor": (solve(upper, D @ solve(lower, v)), "05.ssor_preconditioner.missing_factor",
                      "the factor omega (2 - omega) is missing: M_SSOR^{-1} r = omega (2 - omega) "
                      "(D + omega U)^{-1} D (D + omega L)^{-1} r."),
        "no D": (c * solve(upper, solve(lower, v)), "05.ssor_preconditioner.missing_D",
                 "the diagonal scaling between the two sweeps is missing: after the forward "
                 "solve y = (D + omega L)^{-1} r, multiply by D before the backward solve."),
        "D inverse": (c * solve(upper, solve(D, solve(lower, v))),
                      "05.ssor_preconditioner.D_inverse",
                      "between the two sweeps, multiply by D (not by D^{-1}): M_SSOR = "
                      "(D + omega L) D^{-1} (D + omega U) / (omega (2 - omega)), whose inverse "
                      "has D in the middle."),
        "swapped": (c * solve(lower, D @ solve(upper, v)), "05.ssor_preconditioner.sweeps_swapped",
                    "the sweeps are in the wrong order: first the forward solve with D + omega L "
                    "(lower triangle), then the backward solve with D + omega U."),
        "omega ignored": (solve(D + U, D @ solve(D + L, v)), "05.ssor_preconditioner.omega_ignored",
                          "omega is ignored: the triangles are D + omega L and D + omega U, and "
                          "the factor omega (2 - omega) multiplies the result."),
        "plain omega": (c * solve(D + U, D @ solve(D + L, v)),
                        "05.ssor_preconditioner.omega_not_in_triangles",
                        "the triangles should be D + omega L and D + omega U (omega multiplies "
                        "the off-diagonal parts)."),
        "mixed form": (c * solve(D / omega + U, D @ solve(D / omega + L, v)),
                       "05.ssor_preconditioner.omega_form_mixed",
                       "M @ r is omega^2 times too large: the triangles D/omega + L and "
                       "D/omega + U belong with the factor omega / (2 - omega); with omega "
                       "(2 - omega) the triangles are D + omega L and D + omega U (section 4)."),
        "diagonal twice": (c * solve(upper + omega * D, D @ solve(lower + omega * D, v)),
                           "05.ssor_preconditioner.diagonal_counted_twice",
                           "the triangles hold the diagonal twice: L and U are the *strictly* "
                           "lower and upper triangles of A (sp.tril(A, k=-1), sp.triu(A, k=1)), "
                           "so that D + omega L has the diagonal D."),
        "upper from lower": (c * solve(lower.T, D @ solve(lower, v)),
                             "05.ssor_preconditioner.upper_from_lower",
                             "the backward triangle is the transpose of the forward one, which "
                             "is D + omega U only for symmetric A: build D + omega U from the "
                             "upper triangle of A itself."),
    }
    return right, variants


def _ssor_matrix(A, omega):
    """M_SSOR itself (dense)."""
    A = _dense(A)
    D = np.diag(np.diag(A))
    return (D + omega * np.tril(A, -1)) @ np.diag(1 / np.diag(A)) @ (D + omega * np.triu(A, 1)) \
        / (omega * (2 - omega))


def _close(z, want):
    return np.allclose(z, want, rtol=1e-9, atol=1e-12 * np.abs(want).max())


def _check_ssor_on(ssor_preconditioner, A, omega, rng, label, pass_omega=True):
    name = "ssor_preconditioner"
    n = A.shape[0]
    kwargs = {"omega": omega} if pass_omega else {}
    M = _build(ssor_preconditioner, A, name, **kwargs)
    if isinstance(M, np.ndarray) or sp.issparse(M):
        kind = "dense array" if isinstance(M, np.ndarray) else "sparse matrix"
        raise mistake("05.ssor_preconditioner.returns_matrix",
                      f"ssor_preconditioner returned a {kind} of shape {np.shape(M)}: an "
                      "explicit inverse. The inverse of a triangular matrix is dense (n^2 "
                      "numbers); return a LinearOperator whose matvec makes two triangular "
                      "solves instead.")
    for trial in range(2):
        v = rng.standard_normal(n)
        calls = []
        z = _apply(M, v.copy(), ssor_preconditioner, name, calls)
        blocks = [shape for _, shape in calls if len(shape) == 2 and shape[1] > 1]
        if blocks:
            raise mistake("05.ssor_preconditioner.explicit_inverse",
                          f"a triangular solve with a right-hand side of shape {blocks[0]}: "
                          "solving for many columns at once builds an explicit inverse. "
                          "Solve for the one vector r, once with each triangle.")
        if not calls:
            if _close(z, _ssor_matrix(A, omega) @ v):
                raise mistake("05.ssor_preconditioner.applies_M",
                              "M @ r multiplies r by M_SSOR: the preconditioner M_SSOR is close "
                              "to A, and the operator you return applies its inverse, by two "
                              "triangular solves (the lesson's convention for M=).")
            raise mistake("05.ssor_preconditioner.explicit_inverse",
                          "M @ r made no triangular solve (with spsolve_triangular or "
                          "solve_triangular, called while M @ r runs): an inverse computed "
                          "beforehand is an explicit inverse. Make the two triangular solves "
                          "inside the function that applies M.")
        if len(calls) == 1:
            raise mistake("05.ssor_preconditioner.single_sweep",
                          "M @ r made one triangular solve: that is a single Gauss-Seidel "
                          "(SOR) sweep, which is not symmetric. SSOR is a forward solve with "
                          "D + omega L, a scaling by D, then a backward solve with D + omega U.")
        right, variants = _ssor_variants(A, omega, v)
        if not _close(z, right):
            if not pass_omega:
                raise mistake("05.ssor_preconditioner.default_omega",
                              "with omega not given, M @ r is not SSOR with omega = 1 (which it "
                              "is when omega=1.0 is passed): the default is omega=1.0, "
                              "symmetric Gauss-Seidel.")
            for wrong, code, message in variants.values():
                if _close(z, wrong):
                    raise mistake(code, f"with omega = {omega:g}: {message}")
            expect_close(z, right, f"M @ r ({label}, omega = {omega:g})", rtol=1e-9,
                         hint="M @ r = omega (2 - omega) (D + omega U)^{-1} D (D + omega L)^{-1} r.")
        expect(len(calls) == 2,
               f"M @ r made {len(calls)} triangular solves: SSOR needs exactly two, one forward "
               "with D + omega L and one backward with D + omega U.")
    return M


@exercise(3, "ssor_preconditioner", reference=_reference_ssor)
def check_ssor_preconditioner(ssor_preconditioner, m=6, omega=1.5, seed=0):
    """Check ``ssor_preconditioner(A, omega=1.0) -> M`` with
    ``M @ r = omega (2 - omega) (D + omega U)^{-1} D (D + omega L)^{-1} r``,
    applied by exactly two triangular solves (no explicit inverse), for
    sparse and dense ``A``, the default ``omega``, and ``omega`` outside
    ``(0, 2)`` (ValueError)."""
    rng = np.random.default_rng(seed)
    prob = jump_diffusion2d(m, contrast=1e2, blocks=2, seed=seed)
    A = prob.A
    _check_ssor_on(ssor_preconditioner, A, omega, rng, f"{prob.name}, CSR")
    _check_ssor_on(ssor_preconditioner, sp.csc_matrix(A), omega, rng, "a CSC matrix")
    # A non-symmetric dense matrix: L and U are different, so mixing them up shows.
    B = rng.standard_normal((7, 7)) + 8 * np.eye(7)
    _check_ssor_on(ssor_preconditioner, B, omega, rng, "a dense non-symmetric 7 x 7 matrix")
    # The default omega is 1: symmetric Gauss-Seidel.
    _check_ssor_on(ssor_preconditioner, A, 1.0, rng, "omega not given", pass_omega=False)
    refused = {bad: _raises_value_error(ssor_preconditioner, A.copy(), omega=bad,
                                        what=f"omega = {bad:g}", name="ssor_preconditioner")
               for bad in (0.0, 2.0, -0.5, 2.5)}
    expect(any(refused.values()),
           "omega = 0, 2, -0.5 and 2.5 are outside (0, 2), where SSOR is not positive definite: "
           "ssor_preconditioner should raise ValueError for them.",
           code="05.ssor_preconditioner.omega_not_checked")
    # Refusing omega outside [0, 2] but not 0 or 2: a closed interval where (0, 2) is open.
    closed = refused[-0.5] and refused[2.5]
    for bad, raised in refused.items():
        expect(raised,
               f"omega = {bad:g} is outside (0, 2), where SSOR is not positive definite: "
               "ssor_preconditioner should raise ValueError"
               + (" (the interval is open: 0 and 2 are excluded)." if closed else "."),
               code="05.ssor_preconditioner.omega_endpoints_allowed" if closed else None)
    passed(f"ssor_preconditioner: M @ r right for omega = {omega:g} and the default 1 on "
           f"{prob.name} (CSR and CSC) and a dense matrix, by two triangular solves per "
           "application; omega outside (0, 2) raises ValueError.")


# --------------------------------------------------------------------------
# Exercise 4: IC(0)


def _reference_ichol0(A):
    return precond.ichol0(A).L


#: Kershaw's matrix (J. Comput. Phys. 26, 1978; MATLAB's gallery("kershaw")):
#: SPD, eigenvalues 3 -+ 2 sqrt(2), yet IC(0)'s last pivot is -5.
KERSHAW = np.array([[3.0, -2.0, 0.0, 2.0], [-2.0, 3.0, -2.0, 0.0],
                    [0.0, -2.0, 3.0, -2.0], [2.0, 0.0, -2.0, 3.0]])
#: SPD (eigenvalues about 3.6, 5.0, 33.7 and 50.7), with Kershaw's pattern, yet
#: IC(0)'s last pivot is exactly 0: its factor on the pattern is
#: L = [[4], [3, 4], [0, 4, 4], [2, 0, -4, 0]], integers throughout, so the zero
#: is exact in floating point (20 - 2^2 - 4^2).
ZERO_PIVOT = np.array([[16.0, 12.0, 0.0, 8.0], [12.0, 25.0, 16.0, 0.0],
                       [0.0, 16.0, 32.0, -16.0], [8.0, 0.0, -16.0, 20.0]])


def _sparse_spd(n, seed):
    """A random sparse SPD matrix with an irregular pattern (diagonally dominant)."""
    rng = np.random.default_rng(seed)
    B = sp.random_array((n, n), density=4.0 / n, rng=rng, data_sampler=rng.standard_normal)
    B = sp.triu(B, 1)
    B = B + B.T
    return sp.csr_array(B + sp.diags_array(np.abs(B).sum(axis=1) + 1.0))


def _run_ichol0(ichol0, A, name="ichol0"):
    n = A.shape[0]
    A_arg = A.copy()
    L = _call(ichol0, A_arg, name=name)
    same = (A_arg != A).nnz == 0 if sp.issparse(A) else np.array_equal(A_arg, A)
    expect(same, f"{name} changed the matrix A it was given: factor a copy.")
    expect(L is not None, f"{name} returned None: does it end with `return L`?")
    if isinstance(L, (tuple, list)):
        raise WrongAnswer(f"{name} should return the factor L alone, got a {type(L).__name__}")
    try:
        L = _dense(L)
    except (TypeError, ValueError):
        raise WrongAnswer(f"{name} should return a matrix, got {type(L).__name__}") from None
    expect(L.shape == (n, n), f"L should have shape ({n}, {n}), got {L.shape}")
    expect(np.all(np.isfinite(L)), "L contains NaN or inf")
    return L


def _factor_problems(m, seed):
    """The three matrices both factorisation exercises are checked on, with labels."""
    # Without explicitly stored zeros (poisson2d stores some for m <= 5), so
    # that "A_ij != 0" and "(i, j) is stored" are the same pattern.
    poisson = sp.csr_array(poisson2d(m).A)
    poisson.eliminate_zeros()
    return [(poisson, f"poisson2d({m})"),
            (_sparse_spd(m * m, seed), "a random sparse SPD matrix"),
            (sp.csc_matrix(jump_diffusion2d(m, 1e2, 2, seed).A), "jump_diffusion2d, CSC")]


def _check_without_fill(func, check_factor, name, method, m):
    """With no fill to drop (a tridiagonal and a 1 x 1 matrix) the incomplete
    factor is the exact Cholesky factor."""
    T = poisson1d(m + 3).A
    L = check_factor(func, T, "a tridiagonal matrix")
    expect_close(L, np.linalg.cholesky(T.toarray()), "L for a tridiagonal A", rtol=1e-10,
                 hint=f"a tridiagonal matrix has no fill: {method} is its Cholesky factor.")
    L1 = _run_ichol0(func, sp.csr_array(np.array([[9.0]])), name=name)
    expect_close(L1, [[3.0]], "L for A = [[9]]", rtol=1e-12)


def _expect_lower_triangular(L, tiny):
    upper = np.abs(np.triu(L, 1)) > tiny
    if upper.any():
        i, j = np.argwhere(upper)[0]
        raise WrongAnswer(f"L[{i}, {j}] = {L[i, j]:.3g} is above the diagonal: L must be lower "
                          "triangular.")


def _named_variant(L, A_dense, make_variant, mistakes, tiny, label):
    """Raise the named mistake whose factor ``L`` is, if it is one of them."""
    for variant, (code, message) in mistakes.items():
        wrong = make_variant(A_dense, variant)
        if np.all(np.isfinite(wrong)) and np.allclose(L, wrong, rtol=1e-10, atol=tiny):
            raise mistake(code, f"{label}: {message}")


def _first_wrong_entry(L, want, tiny, label):
    """Where ``L`` first differs from ``want``, column by column, as a sentence."""
    bad = np.abs(L - want) > 1e-10 * np.abs(want) + tiny
    j = int(np.argwhere(bad)[:, 1].min())
    i = int(np.argwhere(bad[:, j])[0, 0])
    where_ = "the diagonal" if i == j else "below the diagonal"
    return (f"{label}: L[{i}, {j}] = {L[i, j]:.6g}, expected {want[i, j]:.6g} (the first wrong "
            f"entry is in column {j}, {where_}).")


def _ic0_variant(A, variant):
    """IC(0) of the dense SPD ``A`` with one named mistake (right-looking)."""
    L = np.tril(A).astype(float)
    n = L.shape[0]
    pattern = L != 0
    with np.errstate(all="ignore"):
        for k in range(n):
            rows = k + 1 + np.flatnonzero(pattern[k + 1:, k])
            if variant == "divide before sqrt":
                L[rows, k] /= L[k, k]
                L[k, k] = np.sqrt(L[k, k])
            else:
                if variant != "no sqrt":
                    L[k, k] = np.sqrt(L[k, k])
                L[rows, k] /= L[k, k]
            if variant == "no updates":
                continue
            for j in rows:
                if variant == "diagonal only":
                    L[j, j] -= L[j, k] ** 2
                    continue
                i = rows[rows >= j]
                i = i[pattern[i, j]]
                L[i, j] -= L[i, k] * L[j, k]
    return L


#: variant of _ic0_variant -> (code, message)
_IC0_MISTAKES = {
    "no updates": ("05.ichol0.no_updates",
                   "L_ij = a_ij / sqrt(a_jj): the earlier columns' contributions are never "
                   "subtracted. After column k is done, L_ij -= L_ik L_jk for the pairs i >= j > k "
                   "of its pattern (only where A_ij != 0)."),
    "diagonal only": ("05.ichol0.diagonal_updates_only",
                      "only the pivots L_jj receive the updates -L_jk^2: the entries below the "
                      "diagonal need theirs too, L_ij -= L_ik L_jk for i > j wherever A_ij != 0."),
    "no sqrt": ("05.ichol0.no_sqrt",
                "the diagonal of L holds the pivots themselves: take their square root, "
                "L_jj = sqrt(a_jj - sum_k L_jk^2), and divide the column by it."),
    "divide before sqrt": ("05.ichol0.divide_before_sqrt",
                           "the entries below the diagonal are divided by the pivot before its "
                           "square root is taken: L_ij = (a_ij - sum_k L_ik L_jk) / L_jj with "
                           "L_jj the square root."),
}


def _check_factor(ichol0, A, label):
    A_dense = _dense(A)
    L = _run_ichol0(ichol0, A)
    want = _reference_ichol0(A).toarray()
    scale = np.abs(want).max()
    tiny = 1e-12 * scale
    if np.allclose(L, want, rtol=1e-10, atol=tiny):
        return L
    if np.allclose(L.T, want, rtol=1e-10, atol=tiny):
        raise mistake("05.ichol0.upper_factor",
                      "you returned the upper triangular factor L^T: return the lower "
                      "triangular L with A ~ L L^T.")
    if np.allclose(L, want @ want.T, rtol=1e-10, atol=tiny):
        raise mistake("05.ichol0.returns_product",
                      "you returned the product M = L L^T: return the factor L itself (lower "
                      "triangular), from which M^{-1} is applied by two triangular solves.")
    _expect_lower_triangular(L, tiny)
    pattern = np.tril(A_dense) != 0
    fill = (np.abs(L) > tiny) & ~pattern
    chol = np.linalg.cholesky(A_dense)
    if np.allclose(L, chol, rtol=1e-8, atol=tiny):
        raise mistake("05.ichol0.complete_cholesky",
                      f"this is the complete Cholesky factor, with fill-in ({int(fill.sum())} "
                      "entries where A has zeros): IC(0) keeps only the pattern of A and "
                      "drops every update that would land outside it.")
    if np.allclose(L, np.where(pattern, chol, 0.0), rtol=1e-8, atol=tiny):
        raise mistake("05.ichol0.fill_dropped_afterwards",
                      "L is the complete Cholesky factor with the fill-in cut off "
                      "afterwards: IC(0) drops the fill *during* the factorisation, so the "
                      "later columns never see it (update L_ij only where A_ij != 0).")
    if fill.any():
        i, j = np.argwhere(fill)[0]
        raise mistake("05.ichol0.fill_in",
                      f"L[{i}, {j}] = {L[i, j]:.3g} but A[{i}, {j}] = 0: IC(0) allows no "
                      "fill-in; apply an update L_ik L_jk to (i, j) only if A_ij != 0.")
    d = np.diag(L)
    if np.allclose(d, 1.0) and not np.allclose(np.diag(want), 1.0):
        raise mistake("05.ichol0.unit_diagonal",
                      "L has a unit diagonal (the L of L D L^T): here L L^T ~ A, with "
                      "L_jj = sqrt(a_jj - sum_k L_jk^2).")
    if np.allclose(d, np.diag(want) ** 2, rtol=1e-10) and not np.allclose(d, np.diag(want)):
        raise mistake("05.ichol0.no_sqrt",
                      "the diagonal of L holds the pivots themselves: take their square "
                      "root, L_jj = sqrt(a_jj - sum_k L_jk^2).")
    _named_variant(L, A_dense, _ic0_variant, _IC0_MISTAKES, tiny, label)
    raise WrongAnswer(
        _first_wrong_entry(L, want, tiny, label) + " L_jj = sqrt(a_jj - sum_k L_jk^2) and L_ij = "
        "(a_ij - sum_k L_ik L_jk) / L_jj, the sums over the earlier columns k, and only for "
        "(i, j) where A_ij != 0.")


@exercise(4, "ichol0", reference=_reference_ichol0)
def check_ichol0(ichol0, m=6, seed=0):
    """Check ``ichol0(A) -> L`` (lower triangular, the pattern of ``tril(A)``,
    ``(L L^T)_ij = A_ij`` there) entry by entry against
    :func:`krylov_ref.precond.ichol0`, on ``poisson2d(m)``, a random sparse
    pattern and ``jump_diffusion2d``; a tridiagonal and a 1 x 1 matrix (IC(0)
    is then exact Cholesky); and two SPD matrices on which IC(0) breaks down,
    one with a zero pivot and one with a negative pivot (ValueError)."""
    for A, label in _factor_problems(m, seed):
        L = _check_factor(ichol0, A, label)
        A_dense = _dense(A)
        on = A_dense != 0
        expect(np.allclose((L @ L.T)[on], A_dense[on], rtol=1e-10,
                           atol=1e-12 * np.abs(A_dense).max()),
               "(L L^T)_ij should equal A_ij wherever A_ij != 0.")
    _check_without_fill(ichol0, _check_factor, "ichol0", "IC(0)", m)
    # IC(0) can break down on an SPD matrix: here the last pivot is exactly 0 ...
    zero = _raises_value_error(ichol0, sp.csr_array(ZERO_PIVOT), name="ichol0",
                               what="IC(0) of an SPD matrix with a zero pivot")
    # ... and Kershaw's matrix is SPD, yet IC(0) meets a negative pivot.
    negative = _raises_value_error(ichol0, sp.csr_array(KERSHAW), name="ichol0",
                                   what="IC(0) of Kershaw's matrix")
    expect(zero or negative,
           "on two SPD matrices where IC(0) breaks down (one with a zero pivot, Kershaw's with a "
           "negative one) ichol0 returned a factor: raise ValueError when a pivot "
           "a_jj - sum_k L_jk^2 is not positive, instead of taking its square root.",
           code="05.ichol0.no_breakdown_check")
    expect(zero,
           f"for the SPD matrix A = {ZERO_PIVOT.astype(int).tolist()} IC(0)'s last pivot is "
           "20 - 2^2 - 4^2 = 0: ichol0 should raise ValueError for a pivot that is not "
           "positive (zero included), not return L_jj = 0.",
           code="05.ichol0.zero_pivot_allowed")
    expect(negative,
           "Kershaw's matrix (in the lesson) makes IC(0) meet a negative pivot in its last "
           "column: ichol0 should raise ValueError, not return NaN (sqrt of a negative number).",
           code="05.ichol0.negative_pivot_allowed")
    passed(f"ichol0: L equals IC(0) entry by entry on poisson2d({m}), a random sparse pattern "
           "and a jump-coefficient matrix, with no fill-in; exact on a tridiagonal and a 1 x 1 "
           "matrix; a zero and a negative pivot (SPD matrices both) raise ValueError.")


# --------------------------------------------------------------------------
# Exercise 5: MIC(0)


def _reference_mic0(A):
    return precond.mic0(A).L


#: SPD M-matrices with Kershaw's pattern on which MIC(0) breaks down (IC(0)
#: does not: its last pivots are 4 and 5). Their MIC(0) factors are integers,
#: L = [[4], [-2, 4], [0, -1, 4], [f, 0, -1, .]] with f = -2 and f = -3, so the
#: last pivots are exact: 9 - 2^2 - 1^2 - 4 = 0 and 15 - 3^2 - 1^2 - 6 = -1,
#: the last term the fill L_30 L_10 dropped at (3, 1). Their row sums A e
#: have a negative entry (the last), which the compensation cannot afford.
MIC_ZERO_PIVOT = np.array([[16.0, -8.0, 0.0, -8.0], [-8.0, 24.0, -4.0, 0.0],
                           [0.0, -4.0, 17.0, -4.0], [-8.0, 0.0, -4.0, 9.0]])
MIC_NEGATIVE_PIVOT = np.array([[16.0, -8.0, 0.0, -12.0], [-8.0, 26.0, -4.0, 0.0],
                               [0.0, -4.0, 17.0, -4.0], [-12.0, 0.0, -4.0, 15.0]])


def _mic0_variant(A, variant):
    """MIC(0) of the dense symmetric ``A`` with one named mistake in the
    compensation (right-looking; NaN where a pivot is not positive)."""
    L = np.tril(A).astype(float)
    n = L.shape[0]
    pattern = L != 0
    lost = np.zeros(n)
    weight = {"sign": -1.0, "doubled": 2.0}.get(variant, 1.0)
    with np.errstate(all="ignore"):
        for k in range(n):
            L[k, k] = np.sqrt(L[k, k])
            rows = k + 1 + np.flatnonzero(pattern[k + 1:, k])
            L[rows, k] /= L[k, k]
            for j in rows:
                i = rows[rows >= j]
                product = L[i, k] * L[j, k]
                held = pattern[i, j]
                L[i[held], j] -= product[held]
                out, moved = i[~held], weight * product[~held]
                if variant == "afterwards":
                    lost[out] += moved
                    lost[j] += moved.sum()
                    continue
                if variant != "column only":
                    L[out, out] -= moved
                if variant != "row only":
                    L[j, j] -= moved.sum()
        if variant == "afterwards":
            L[np.diag_indices(n)] = np.sqrt(np.diag(L) ** 2 - lost)
    return L


#: variant of _mic0_variant -> (code, message)
_MIC0_MISTAKES = {
    "row only": ("05.mic0.compensate_row_only",
                 "a dropped product L_ik L_jk is taken off the pivot of row i only. The fill "
                 "dropped at (i, j) has a mirror image at (j, i), dropped too: subtract it from "
                 "the pivots of both rows, i and j, so that every row sum is kept."),
    "column only": ("05.mic0.compensate_column_only",
                    "a dropped product L_ik L_jk is taken off the pivot of column j only. The "
                    "fill dropped at (i, j) belongs to row i, and its mirror image (j, i) to row "
                    "j: subtract it from the pivots of both, so that every row sum is kept."),
    "sign": ("05.mic0.compensation_sign",
             "the dropped fill is added to the pivots: it must be subtracted, as the update "
             "L_ij -= L_ik L_jk would have been, only on the diagonal (L_ii -= L_ik L_jk and "
             "L_jj -= L_ik L_jk)."),
    "doubled": ("05.mic0.compensation_doubled",
                "each pivot loses twice the fill dropped next to it: the pair (i, j), (j, i) is "
                "one dropped product L_ik L_jk for row i and one for row j, not two for each."),
    "afterwards": ("05.mic0.compensated_afterwards",
                   "the dropped fill is taken off the diagonal of L after the factorisation: "
                   "the later columns were computed with the pivots before the compensation. "
                   "Subtract each dropped product from the pivots L_ii and L_jj as soon as it "
                   "is dropped, before those columns are factored."),
}


def _check_mic0_factor(mic0, A, label):
    A_dense = _dense(A)
    n = A_dense.shape[0]
    try:
        L = _run_ichol0(mic0, A, name="mic0")
    except StudentCodeError as exc:
        # A breakdown where MIC(0) has none: a compensation that takes too much.
        if not isinstance(exc.__cause__, ValueError):
            raise
        for variant, (code, message) in _MIC0_MISTAKES.items():
            if not np.all(np.isfinite(_mic0_variant(A_dense, variant))):
                report = mistake(code, f"{label}: your mic0 raised ValueError ({exc.__cause__}), "
                                       f"but MIC(0) of this matrix has positive pivots: {message}")
                report.detail_lines = getattr(exc, "detail_lines", ())
                raise report from exc
        raise
    want = _reference_mic0(A).toarray()
    scale = np.abs(want).max()
    tiny = 1e-12 * scale
    if np.allclose(L, want, rtol=1e-10, atol=tiny):
        return L
    if np.allclose(L.T, want, rtol=1e-10, atol=tiny):
        raise WrongAnswer("you returned the upper triangular factor L^T: return the lower "
                          "triangular L with A ~ L L^T.")
    _expect_lower_triangular(L, tiny)
    pattern = np.tril(A_dense) != 0
    fill = (np.abs(L) > tiny) & ~pattern
    if fill.any():
        if np.allclose(L, np.linalg.cholesky(A_dense), rtol=1e-8, atol=tiny):
            raise mistake("05.mic0.complete_cholesky",
                          f"this is the complete Cholesky factor, with fill-in ({int(fill.sum())} "
                          "entries where A has zeros): MIC(0) keeps the pattern of A, and "
                          "moves the fill it drops onto the diagonal.")
        i, j = np.argwhere(fill)[0]
        raise WrongAnswer(f"L[{i}, {j}] = {L[i, j]:.3g} but A[{i}, {j}] = 0: MIC(0) allows no "
                          "fill-in; an update L_ik L_jk that would land on (i, j) goes to the "
                          "pivots of rows i and j instead.")
    if np.allclose(L, _reference_ichol0(A).toarray(), rtol=1e-10, atol=tiny):
        raise mistake("05.mic0.fill_dropped",
                      f"{label}: this is the IC(0) factor: the fill is dropped, not "
                      "compensated. MIC(0) subtracts each update L_ik L_jk that lands outside "
                      "the pattern from the pivots of rows i and j, so that L L^T e = A e.")
    _named_variant(L, A_dense, _mic0_variant, _MIC0_MISTAKES, tiny, label)
    e = np.ones(n)
    rows = np.abs(L @ (L.T @ e) - A_dense @ e) > 1e-10 * np.abs(A_dense).sum(axis=1)
    sums = (f" The row sums of L L^T differ from those of A first in row "
            f"{int(np.flatnonzero(rows)[0])}." if rows.any() else "")
    raise WrongAnswer(
        _first_wrong_entry(L, want, tiny, label) + f"{sums} MIC(0) is IC(0) with each update "
        "L_ik L_jk that lands outside the pattern subtracted from the pivots of rows i and j.")


@exercise(5, "mic0", reference=_reference_mic0)
def check_mic0(mic0, m=6, seed=0):
    """Check ``mic0(A) -> L`` (lower triangular, the pattern of ``tril(A)``,
    ``(L L^T)_ij = A_ij`` on its off-diagonal pattern and ``L L^T e = A e``)
    entry by entry against :func:`krylov_ref.precond.mic0`, on
    ``poisson2d(m)``, a random sparse pattern and ``jump_diffusion2d``; a
    tridiagonal and a 1 x 1 matrix (MIC(0) is then exact Cholesky); and two
    SPD M-matrices on which MIC(0) breaks down, one with a zero pivot and one
    with a negative pivot (ValueError)."""
    for A, label in _factor_problems(m, seed):
        L = _check_mic0_factor(mic0, A, label)
        A_dense = _dense(A)
        e = np.ones(A_dense.shape[0])
        expect(np.allclose(L @ (L.T @ e), A_dense @ e, rtol=1e-10,
                           atol=1e-12 * np.abs(A_dense).max()),
               f"{label}: L L^T e should equal A e (the row sums of A are kept).")
    _check_without_fill(mic0, _check_mic0_factor, "mic0", "MIC(0)", m)
    zero = _raises_value_error(mic0, sp.csr_array(MIC_ZERO_PIVOT), name="mic0",
                               what="MIC(0) of an SPD matrix with a zero pivot")
    negative = _raises_value_error(mic0, sp.csr_array(MIC_NEGATIVE_PIVOT), name="mic0",
                                   what="MIC(0) of an SPD matrix with a negative pivot")
    expect(zero or negative,
           "on two SPD M-matrices where MIC(0) breaks down (one with a zero pivot, one with a "
           "negative one) mic0 returned a factor: raise ValueError when a pivot is not "
           "positive, instead of taking its square root.",
           code="05.mic0.no_breakdown_check")
    expect(zero,
           f"for the SPD matrix A = {MIC_ZERO_PIVOT.astype(int).tolist()} MIC(0)'s last pivot "
           "is 9 - 2^2 - 1^2 - 4 = 0 (the 4 is the compensated fill): mic0 should raise "
           "ValueError for a pivot that is not positive (zero included), not return L_jj = 0.",
           code="05.mic0.zero_pivot_allowed")
    expect(negative,
           f"for the SPD matrix A = {MIC_NEGATIVE_PIVOT.astype(int).tolist()} MIC(0)'s last "
           "pivot is 15 - 3^2 - 1^2 - 6 = -1: mic0 should raise ValueError, not return NaN "
           "(sqrt of a negative number).",
           code="05.mic0.negative_pivot_allowed")
    passed(f"mic0: L equals MIC(0) entry by entry on poisson2d({m}), a random sparse pattern "
           "and a jump-coefficient matrix, with no fill-in and L L^T e = A e; exact on a "
           "tridiagonal and a 1 x 1 matrix; a zero and a negative pivot raise ValueError.")
