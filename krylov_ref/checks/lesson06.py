"""Checks for lesson 06 (GMRES: Arnoldi, Givens rotations, restarts).

Each ``check_*`` runs a student's function on problems with known answers,
raises :class:`~krylov_ref.checks.WrongAnswer` naming the likely mistake, and
prints one line when all is well. Visible tests call them with their
defaults; hidden tests call them with other sizes and seeds.

Conventions of the lesson (those of :mod:`krylov_ref.givens` and
:func:`krylov_ref.gmres`): ``[[c, s], [-s, c]] @ [a, b] = [r, 0]`` with
``r = hypot(a, b) >= 0``; with that sign fixed a rotation is unique, so
rotations, the triangular factor and the rotated right-hand side are compared
entry by entry. GMRES histories are compared step by step with
:func:`krylov_ref.gmres`: one entry per inner iteration (the Givens estimate
``|g_k|``), except that the last entry of every cycle is the true residual
``||b - A x||`` computed at the restart. Every correct variant (modified or
classical Gram-Schmidt, rotations stored as lists or arrays) agrees with it
to about 1e-9 relative on these problems.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from scipy.linalg import solve_triangular

from .. import gmres as reference_gmres
from ..givens import givens_rotation as reference_givens_rotation
from ..givens import givens_update as reference_givens_update
from ..krylov import arnoldi as reference_arnoldi
from ..problems import convection_diffusion2d
from . import (
    DIRECT, SOLVERS, CountingOperator, NotAllowedError, StudentCodeError, WrongAnswer,
    call_student, codes_of, exercise, expect, expect_close, mistake, passed,
)
from . import expect_tuple as _unpack

__all__ = ["check_givens_rotation", "check_givens_update", "check_gmres"]

#: What would compute a rotation or the whole QR factorisation for the student.
GIVENS = ("krylov_ref.givens.givens_rotation", "krylov_ref.givens.givens_update",
          "krylov_ref.givens.apply_rotations", "scipy.linalg.lapack.dlartg",
          "scipy.linalg.blas.drotg", "numpy.linalg.qr", "scipy.linalg.qr",
          "scipy.linalg.qr_insert", "scipy.linalg.qr_update", "scipy.linalg.qr_multiply")
#: The reference Arnoldi, and least-squares solvers the exercise replaces.
GMRES_EXTRA = ("krylov_ref.arnoldi", "krylov_ref.krylov.arnoldi", "scipy.optimize.lsq_linear",
               "scipy.optimize.nnls", "scipy.linalg.lu_factor", "scipy.linalg.lu",
               "scipy.linalg.solve_banded", "scipy.linalg.svd", "numpy.linalg.svd")
FORBID_GIVENS = SOLVERS + DIRECT + GIVENS
FORBID_GMRES = FORBID_GIVENS + GMRES_EXTRA

#: What each exercise is made of: the advice of its refusal when the student
#: calls a function the exercise does not allow. It replaces the generic advice
#: of :func:`~krylov_ref.checks.forbidden`, which speaks of products A @ v (of
#: no use for a rotation) and would seem to forbid GMRES's back substitution.
ADVICE = {
    "givens_rotation": "compute c and s yourself, from a, b and np.hypot.",
    "givens_update": "apply the rotations yourself (your givens_rotation and vector "
                     "operations).",
    "gmres": "write GMRES yourself, from products A @ v, your Givens rotations, vector "
             "operations and a back substitution (scipy.linalg.solve_triangular is allowed).",
}
_GENERIC_ADVICE = "write the method yourself, using only products A @ v and vector operations."


def _call(func, *args, name, forbid, **kwargs):
    """:func:`~krylov_ref.checks.call_student` for exercise ``name``: a refusal
    gives that exercise's advice."""
    try:
        return call_student(func, *args, forbid=forbid, **kwargs)
    except NotAllowedError as exc:
        if _GENERIC_ADVICE not in str(exc):
            raise
        report = NotAllowedError(str(exc).replace(_GENERIC_ADVICE, ADVICE[name]))
        report.detail_lines = getattr(exc, "detail_lines", ())
        raise report from exc


# Histories: every correct variant agrees with the reference to ~1e-9 relative
# (1e-7 where the residual is near rounding); a wrong one is off by O(1e-2).
HISTORY_RTOL = 1e-5
HISTORY_FLOOR = 1e-9    # times ||r_0||: below this the entries are rounding


def _scalar(value, what):
    if value is None:
        raise WrongAnswer(f"{what} is None: does the function end with a `return` of its result?")
    if np.ndim(value) != 0:
        raise WrongAnswer(f"{what} should be a single number, got an array of shape "
                          f"{np.shape(value)}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise WrongAnswer(f"{what} should be a number, got {type(value).__name__}") from None


def _vector(value, what):
    if value is None:
        raise WrongAnswer(f"{what} is None: does the function end with a `return` of its result?")
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise WrongAnswer(f"{what} should be an array of numbers, got {type(value).__name__}") from None
    if arr.ndim != 1:
        raise WrongAnswer(f"{what} should be a 1-D array, got shape {arr.shape}")
    return arr


def _expect_unchanged(passed_in, kept, name, code=None):
    same = (np.array_equal(np.asarray(passed_in, dtype=float), np.asarray(kept, dtype=float))
            and len(passed_in) == len(kept))
    expect(same, f"your function changed the caller's `{name}` in place. Inputs must be left "
           f"unchanged: work on a copy of `{name}` (an in-place update such as `+=`, an "
           "assignment to an entry or `.append` modifies the caller's object).", code=code)


def _raised(exc, kind):
    """The exception of type ``kind`` that the student's code raised, behind the report
    ``exc`` (a :class:`StudentCodeError`), or None."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, kind):
            return exc
        exc = exc.__cause__
    return None


def _in_case(case, call):
    """Run ``call()``; a crash in the student's code is reported with the case."""
    try:
        return call()
    except StudentCodeError as exc:
        report = StudentCodeError(f"{case}: {exc}")
        report.detail_lines = exc.detail_lines
        raise report from exc


# --------------------------------------------------------------------------
# Exercise 1: a Givens rotation


def _rotation_cases(seed, trials):
    rng = np.random.default_rng(seed)
    signs = rng.choice([-1.0, 1.0], size=(trials, 2))
    scales = 10.0 ** rng.uniform(-3, 3, size=(trials, 2))
    general = [(float(a), float(b)) for a, b in signs * scales * rng.uniform(0.5, 1.0, (trials, 2))]
    general.insert(0, (3.0, 4.0))
    return general


def _diagnose_rotation(a, b, c, s):
    r = float(np.hypot(a, b))
    want_c, want_s = a / r, b / r
    where = f"for (a, b) = ({a:.6g}, {b:.6g})"
    near = lambda u, v: abs(u - v) <= 1e-13       # c and s lie in [-1, 1]
    if near(c, want_c) and near(s, want_s):
        return
    if not (np.isfinite(c) and np.isfinite(s)):
        raise WrongAnswer(f"{where} the rotation has NaN or inf: (c, s) = ({c}, {s}).")
    if near(c, want_s) and near(s, want_c):
        raise mistake("06.givens_rotation.swapped",
                      f"{where} c and s are swapped: c multiplies a, the entry that is "
                      "kept, and s multiplies b, the entry to be zeroed.")
    if near(c, want_c) and near(s, -want_s):
        raise mistake("06.givens_rotation.s_sign",
                      f"{where} the second entry of [[c, s], [-s, c]] @ [a, b] is "
                      f"-s a + c b = {-s * a + c * b:.3g}, not 0: s has the wrong sign "
                      "for the convention of the exercise.")
    if near(c, -want_c) and near(s, -want_s):
        raise mistake("06.givens_rotation.negative_r",
                      f"{where} [[c, s], [-s, c]] @ [a, b] = [{c * a + s * b:.6g}, 0]: "
                      "the convention asks for r = hypot(a, b) >= 0, so c = a / r and "
                      "s = b / r keep the signs of a and b.")
    norm = np.hypot(c, s)
    if abs(norm - 1.0) > 1e-12:
        if np.isclose(c / norm, want_c, rtol=1e-10) and np.isclose(s / norm, want_s, rtol=1e-10):
            raise mistake("06.givens_rotation.not_normalised",
                          f"{where} c**2 + s**2 = {norm**2:.6g}, not 1: divide a and b "
                          "by r = hypot(a, b).")
        raise WrongAnswer(f"{where} c**2 + s**2 = {norm**2:.6g}, not 1: a rotation has "
                          "c = cos(theta) and s = sin(theta).")
    raise WrongAnswer(f"{where} (c, s) = ({c:.6g}, {s:.6g}): [[c, s], [-s, c]] @ [a, b] = "
                      f"[{c * a + s * b:.6g}, {-s * a + c * b:.6g}], expected [{r:.6g}, 0].")


def _student_rotation(givens_rotation, a, b, case):
    try:
        out = _in_case(case, lambda: _call(givens_rotation, a, b, name="givens_rotation",
                                           forbid=FORBID_GIVENS))
    except StudentCodeError as exc:
        if _raised(exc, OverflowError) is not None:
            named = mistake("06.givens_rotation.overflow",
                            f"{case} squaring a or b overflows ({_raised(exc, OverflowError)}). "
                            "Compute r with np.hypot(a, b), which never squares them.")
        elif a == 0.0 and b == 0.0 and _raised(exc, ZeroDivisionError) is not None:
            named = mistake("06.givens_rotation.zero_pair",
                            f"{case} your function divides by r = 0. For a = b = 0 return the "
                            "identity (1.0, 0.0).")
        else:
            raise
        named.detail_lines = exc.detail_lines
        raise named from exc
    if isinstance(out, (tuple, list)) and len(out) == 3:
        raise mistake("06.givens_rotation.returns_r",
                      f"{case} givens_rotation returned 3 values: it should return the pair "
                      "(c, s) only (LAPACK's dlartg also returns r; this contract does not).")
    c, s = _unpack(out, "givens_rotation", ("c", "s"))
    return _scalar(c, f"c {case}"), _scalar(s, f"s {case}")


@exercise(1, "givens_rotation", reference=reference_givens_rotation)
def check_givens_rotation(givens_rotation, seed=0, trials=12):
    """Check ``givens_rotation(a, b) -> (c, s)`` with ``[[c, s], [-s, c]] @ [a, b]
    = [hypot(a, b), 0]``, on random pairs and on the special cases of the contract."""
    for a, b in _rotation_cases(seed, trials):
        c, s = _student_rotation(givens_rotation, a, b, f"with (a, b) = ({a:.6g}, {b:.6g})")
        _diagnose_rotation(a, b, c, s)
    # Special cases, in the order the contract lists them, with the wrong answer
    # that names a mistake: the identity for b = 0 whatever the sign of a, (0, 1)
    # for a = 0 whatever the sign of b, NaN from 0 / 0.
    special = [
        (2.5, 0.0, (1.0, 0.0), "b = 0 and a > 0: nothing to rotate, the identity", None),
        (-2.5, 0.0, (-1.0, 0.0), "b = 0 and a < 0: r = |a| >= 0 needs c = -1",
         ((1.0, 0.0), "06.givens_rotation.b_zero_identity")),
        (0.0, 1.5, (0.0, 1.0), "a = 0: the rotation swaps the entries, c = 0, s = sign(b)", None),
        (0.0, -1.5, (0.0, -1.0), "a = 0: the rotation swaps the entries, c = 0, s = sign(b)",
         ((0.0, 1.0), "06.givens_rotation.a_zero_unsigned")),
        (0.0, 0.0, (1.0, 0.0), "a = b = 0: return the identity (1.0, 0.0)",
         ((np.nan, np.nan), "06.givens_rotation.zero_pair")),
    ]
    for a, b, (want_c, want_s), rule, named in special:
        case = f"with (a, b) = ({a:g}, {b:g})"
        c, s = _student_rotation(givens_rotation, a, b, case)
        code = None
        if named is not None:
            (bad_c, bad_s), candidate = named
            if ((np.isnan(bad_c) and not (np.isfinite(c) and np.isfinite(s)))
                    or (c, s) == (bad_c, bad_s)):
                code = candidate
        expect(abs(c - want_c) <= 1e-14 and abs(s - want_s) <= 1e-14,
               f"{case} (c, s) should be ({want_c:g}, {want_s:g}) ({rule}); got ({c:.6g}, {s:.6g}).",
               code=code)
    for a, b, what in ((3e200, 4e200, "overflow"), (3e-200, -4e-200, "underflow")):
        case = f"with (a, b) = ({a:g}, {b:g})"
        c, s = _student_rotation(givens_rotation, a, b, case)
        expect(np.isclose(c, 0.6, rtol=1e-12) and np.isclose(s, np.sign(b) * 0.8, rtol=1e-12),
               f"{case} (c, s) should be (0.6, {np.sign(b) * 0.8:g}); got ({c:.6g}, {s:.6g}). "
               f"Squaring entries this {'large' if what == 'overflow' else 'small'} "
               f"{'overflows to inf' if what == 'overflow' else 'underflows to 0'}: compute r with "
               "np.hypot(a, b), which avoids it.", code="06.givens_rotation.overflow")
    passed(f"givens_rotation: [[c, s], [-s, c]] @ [a, b] = [hypot(a, b), 0] on {trials + 1} "
           "pairs; b = 0, a = 0, a = b = 0, huge and tiny entries handled.")


# --------------------------------------------------------------------------
# Exercise 2: the least-squares update


def _rotate(h, cs, sn, order=None, transpose=False, overwrite=False):
    """The rotations (cs, sn) applied to h in ``order`` (default: 0, 1, ...); with
    ``transpose``, each with -s; with ``overwrite``, entry i + 1 computed from the
    new entry i (two assignments where one tuple assignment is needed)."""
    h = np.array(h, dtype=float)
    for i in (range(len(cs)) if order is None else order):
        c, s = cs[i], (-sn[i] if transpose else sn[i])
        if overwrite:
            h[i] = c * h[i] + s * h[i + 1]
            h[i + 1] = -s * h[i] + c * h[i + 1]
        else:
            h[i], h[i + 1] = c * h[i] + s * h[i + 1], -s * h[i] + c * h[i + 1]
    return h


#: How the earlier rotations are wrongly applied to the new column: code, what the
#: column becomes, the message. "last_old_rotation_missing" looks like
#: "no_old_rotations" at j = 1 (no rotation either way); the check looks at step 2.
def _old_rotation_mistakes(h, cs, sn):
    j = len(cs)
    return [
        ("06.givens_update.no_old_rotations", np.array(h, dtype=float),
         "r[:j] is the new column h[:j] itself: apply the earlier rotations G_0, ..., "
         "G_{j-1} to the new column first (each column of R has been rotated by all of them)."),
        ("06.givens_update.reverse_order", _rotate(h, cs, sn, order=range(j - 1, -1, -1)),
         "the earlier rotations are applied in reverse order: apply G_0 first, then G_1, ..., "
         "G_{j-1}, the order in which they were made."),
        ("06.givens_update.old_rotations_transposed", _rotate(h, cs, sn, transpose=True),
         "the earlier rotations are applied with the wrong sign of s: G_i maps (h_i, h_{i+1}) "
         "to (c h_i + s h_{i+1}, -s h_i + c h_{i+1})."),
        ("06.givens_update.old_rotations_overwrite", _rotate(h, cs, sn, overwrite=True),
         "applying an earlier rotation, the new h_{i+1} is computed from the new h_i: both "
         "entries must come from the old pair (h_i, h_{i+1}) (one tuple assignment, or a "
         "temporary)."),
        ("06.givens_update.last_old_rotation_missing", _rotate(h, cs[:-1], sn[:-1]),
         "the last earlier rotation, G_{j-1}, is not applied: apply every one of the j "
         "earlier rotations, G_0 to G_{j-1} (is the loop one short?)."),
    ]


def _hessenberg(n, k, seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, n)) / np.sqrt(n) + 0.5 * np.eye(n)
    v0 = rng.standard_normal(n)
    Q, H = reference_arnoldi(A, v0, k)
    if H.shape != (k + 1, k):
        raise ValueError("choose another seed: Arnoldi broke down")
    return H, float(np.linalg.norm(v0))


def _least_squares_residual(H, beta):
    rhs = np.zeros(H.shape[0])
    rhs[0] = beta
    y = np.linalg.lstsq(H, rhs, rcond=None)[0]
    return float(np.linalg.norm(rhs - H @ y))


def _diagnose_update(j, h, cs, sn, g, out, want, H=None, beta=None):
    """Name the mistake in one call ``givens_update(h, cs, sn, g)``."""
    where = f"at step j = {j}"
    r, c, s, g_new = _unpack(out, "givens_update", ("r", "c", "s", "g"))
    r = _vector(r, f"r {where}")
    c = _scalar(c, f"c {where}")
    s = _scalar(s, f"s {where}")
    g_new = _vector(g_new, f"g {where}")
    want_r, want_c, want_s, want_g = want
    scale = max(np.abs(h).max(), 1e-300)
    if r.size == j + 2:
        raise mistake("06.givens_update.r_too_long",
                      f"{where} r has {j + 2} entries: return column j of R, its first "
                      f"j + 1 = {j + 1} entries (the last entry of the rotated column is "
                      "now zero and is not part of R).")
    expect(r.size == j + 1, f"{where} r should have j + 1 = {j + 1} entries, got {r.size}")
    expect(np.all(np.isfinite(r)) and np.isfinite(c) and np.isfinite(s)
           and np.all(np.isfinite(g_new)), f"{where} the outputs contain NaN or inf.")
    close = lambda u, v: np.allclose(u, v, rtol=1e-10, atol=1e-12 * scale)
    wrong_columns = _old_rotation_mistakes(h, cs, sn) if j > 0 else []
    if j > 0 and not close(r[:j], want_r[:j]):
        for code, column, message in wrong_columns:
            if close(r[:j], column[:j]):
                raise mistake(code, f"{where} {message}")
        expect_close(r[:j], want_r[:j], f"r[:j] {where}", rtol=1e-10, atol=1e-12 * scale,
                     hint="apply the earlier rotations G_0, ..., G_{j-1} in turn, G_i to "
                          "entries i and i + 1.")
    rotated = _rotate(h, cs, sn)
    same = lambda u, v: np.isclose(u, v, rtol=1e-10, atol=1e-12)
    if not (same(c, want_c) and same(s, want_s)):
        # r[:j] is right: the new rotation was computed from a wrongly rotated pair.
        for code, column, message in wrong_columns:
            cu, su = reference_givens_rotation(column[j], column[j + 1])
            if same(c, cu) and same(s, su):
                if code == "06.givens_update.no_old_rotations":
                    code, message = ("06.givens_update.rotation_from_unrotated",
                                     "the new rotation is computed from h[j] before the "
                                     "earlier rotations were applied to it: compute it from "
                                     "the *rotated* entry j and h[j + 1].")
                raise mistake(code, f"{where} {message}")
        raise WrongAnswer(f"{where} the new rotation (c, s) = ({c:.6g}, {s:.6g}), expected "
                          f"({want_c:.6g}, {want_s:.6g}): it zeroes entry j + 1 of the rotated "
                          f"column against entry j (here ({rotated[j]:.6g}, {rotated[j + 1]:.6g})), "
                          "with the convention of Exercise 1.")
    if not close(r[j], want_r[j]) and close(r[j], rotated[j]):
        raise mistake("06.givens_update.diagonal_not_rotated",
                      f"{where} r[j] = {r[j]:.6g} is entry j of the column before the new "
                      "rotation: apply the new rotation to entries j and j + 1 too; r[j] "
                      "becomes c h_j + s h_{j+1} = hypot of the two, >= 0.")
    expect_close(r[j], want_r[j], f"r[j] {where} (the new diagonal entry of R)", rtol=1e-10,
                 atol=1e-12 * scale,
                 hint="it is the first entry of [[c, s], [-s, c]] @ [rotated h_j, h_{j+1}], "
                      "that is hypot of the two, >= 0.")
    if g_new.size == j + 1:
        raise mistake("06.givens_update.g_not_extended",
                      f"{where} g has {j + 1} entries: the update appends one, "
                      f"g[j + 1] = -s g[j], so it should have {j + 2}.")
    expect(g_new.size == j + 2, f"{where} g should have j + 2 = {j + 2} entries, got {g_new.size}")
    gscale = max(np.abs(g).max(), 1e-300)
    gclose = lambda u, v: np.allclose(u, v, rtol=1e-10, atol=1e-12 * gscale)
    expect(gclose(g_new[:j], g[:j]),
           f"{where} g[:j] changed: the earlier entries of g are final (the new rotation acts "
           "on entries j and j + 1 only).")
    if not gclose(g_new[j + 1], want_g[j + 1]):
        if gclose(g_new[j + 1], -want_g[j + 1]):
            raise mistake("06.givens_update.g_next_sign",
                          f"{where} g[j + 1] has the wrong sign: the second row of the "
                          "rotation gives g[j + 1] = -s g[j] (g[j + 1] is zero before it).")
        if gclose(g_new[j + 1], c * want_g[j + 1]) and not gclose(c, 1.0):
            raise mistake("06.givens_update.g_overwrite",
                          f"{where} g[j + 1] is computed from the new g[j] = c g[j]: both new "
                          "entries come from the old g[j], g[j + 1] = -s g[j] (compute both "
                          "before assigning).")
        if H is not None:
            best = _least_squares_residual(H[: j + 2, : j + 1], beta)
            raise WrongAnswer(f"{where} |g[j + 1]| = {abs(g_new[j + 1]):.6g}, but the residual "
                              f"min_y ||beta e_0 - H y|| after this step is {best:.6g}: "
                              "g[j + 1] = -s g[j], with the old g[j].")
        expect_close(g_new[j + 1], want_g[j + 1], f"g[j + 1] {where}", rtol=1e-10,
                     atol=1e-12 * gscale, hint="g[j + 1] = -s g[j], with the old g[j].")
    if not gclose(g_new[j], want_g[j]):
        if gclose(g_new[j], g[j]):
            raise mistake("06.givens_update.g_j_not_rotated",
                          f"{where} g[j] was not updated: the rotation also acts on g, "
                          "g[j] = c g[j] (using the old g[j], before it is overwritten).")
        raise WrongAnswer(f"{where} g[j] = {g_new[j]:.6g}, expected {want_g[j]:.6g}: g[j] = "
                          "c g[j]; compute g[j + 1] = -s g[j] from the old value too.")
    return r, c, s, g_new


def _student_update(givens_update, h, cs, sn, g, case, as_lists=False):
    h_in = np.array(h, dtype=float)
    g_in = np.array(g, dtype=float)
    cs_in = list(map(float, cs)) if as_lists else np.array(cs, dtype=float)
    sn_in = list(map(float, sn)) if as_lists else np.array(sn, dtype=float)
    kept = (h_in.copy(), list(cs_in), list(sn_in), g_in.copy())
    try:
        out = _in_case(case, lambda: _call(givens_update, h_in, cs_in, sn_in, g_in,
                                           name="givens_update", forbid=FORBID_GIVENS))
    except StudentCodeError as exc:
        error = _raised(exc, AttributeError)
        if error is None or "append" not in str(error):
            raise
        named = mistake("06.givens_update.cs_appended",
                        f"{case}: your givens_update appends to cs or sn ({error}): the "
                        "caller appends c and s; leave cs and sn as they are (they may be "
                        "arrays).")
        named.detail_lines = exc.detail_lines
        raise named from exc
    codes = {"h": "06.givens_update.h_modified", "cs": "06.givens_update.cs_appended",
             "sn": "06.givens_update.cs_appended"}
    for given, original, name in zip((h_in, cs_in, sn_in, g_in), kept, ("h", "cs", "sn", "g")):
        _expect_unchanged(given, original, name, code=codes.get(name))
    return out


def _later_old_rotation_mistake(givens_update, H, cs, sn, g):
    """The report of step 2 if it names the missing last rotation, else None."""
    h = H[:4, 2].copy()
    out = _student_update(givens_update, h, cs, sn, g, "at step j = 2")
    try:
        _diagnose_update(2, h, cs, sn, g, out, reference_givens_update(h, cs, sn, g))
    except WrongAnswer as exc:
        if codes_of(exc) == ("06.givens_update.last_old_rotation_missing",):
            return exc
    return None


@exercise(2, "givens_update", reference=reference_givens_update)
def check_givens_update(givens_update, n=20, k=8, seed=0):
    """Check ``givens_update(h, cs, sn, g) -> (r, c, s, g)`` step by step on the
    Hessenberg matrix of Arnoldi on a random non-symmetric matrix, against
    :func:`krylov_ref.givens.givens_update` and the least-squares residual."""
    H, beta = _hessenberg(n, k, seed)
    cs, sn, g = [], [], np.array([beta])
    for j in range(k):
        h = H[: j + 2, j].copy()
        before = (cs, sn, g)
        want = reference_givens_update(h, cs, sn, g)
        out = _student_update(givens_update, h, cs, sn, g, f"at step j = {j}",
                              as_lists=(j % 2 == 1))
        try:
            _diagnose_update(j, h, cs, sn, g, out, want, H, beta)
            failure = None
        except WrongAnswer as exc:
            failure = exc
        if failure is not None:
            # At j = 1, no earlier rotation applied is also all but the last one
            # applied: step 2 tells the two apart.
            if j == 1 and k > 2 and codes_of(failure) == ("06.givens_update.no_old_rotations",):
                later = _later_old_rotation_mistake(givens_update, H, cs + [want[1]],
                                                    sn + [want[2]], want[3])
                if later is not None:
                    raise later
            raise failure
        # Go on from the right state, so that one mistake is reported once.
        cs, sn, g = cs + [want[1]], sn + [want[2]], want[3]
    residual = _least_squares_residual(H, beta)
    expect_close(abs(g[-1]), residual, "|g[k]|", rtol=1e-8)
    # A happy breakdown at the last step: h_{j+1,j} = 0, so s = 0 and the
    # residual g[j + 1] is exactly 0.
    j = k - 1
    h0 = H[: j + 2, j].copy()
    h0[-1] = 0.0
    cs_j, sn_j, g_j = before
    want = reference_givens_update(h0, cs_j, sn_j, g_j)
    case = "with h[j + 1] = 0 (a happy breakdown)"
    out = _student_update(givens_update, h0, cs_j, sn_j, g_j, case)
    r, c, s, g_new = _diagnose_update(j, h0, cs_j, sn_j, g_j, out, want)
    expect(abs(s) <= 1e-14 and abs(g_new[-1]) <= 1e-14 * abs(g_j[-1]),
           f"{case} the new rotation should have s = 0 and the residual g[j + 1] should be "
           f"0; got s = {s:.3g}, g[j + 1] = {g_new[-1]:.3g}.")
    # Stagnation: the rotated entry j is 0, so the rotation swaps (c = 0) and
    # |g| does not decrease. And a negative rotated entry (c < 0, r >= 0).
    for hj, label in ((0.0, "with h[j] = 0 (the rotation swaps, c = 0)"),
                      (-2.0, "with a negative h[j] (then c < 0, so that r >= 0)")):
        h1 = np.array([hj, 1.5])
        want = reference_givens_update(h1, [], [], np.array([beta]))
        out = _student_update(givens_update, h1, [], [], np.array([beta]), label, as_lists=True)
        _diagnose_update(0, h1, [], [], np.array([beta]), out, want)
    passed(f"givens_update: R, the rotations and g match over k = {k} steps, |g_k| = "
           f"{abs(g[-1]):.4g} is the least-squares residual; h[j+1] = 0, h[j] = 0 and "
           "h[j] < 0 handled; inputs left unchanged.")


# --------------------------------------------------------------------------
# Exercise 3: restarted GMRES


def _reference_gmres(A, b, x0=None, *, rtol=1e-5, atol=0.0, restart=20, maxiter=None):
    res = reference_gmres(A, b, x0, rtol=rtol, atol=atol, restart=restart, maxiter=maxiter)
    return res.x, list(res.residual_norms)


def _run_gmres(gmres, A, b, x0=None, case="", catch_division=False, zero_start=False,
               **kwargs):
    """The student's (x, residual_norms, products). ``catch_division``: a division
    by zero is the mistake (an exact breakdown); ``zero_start``: r_0 = 0, and a
    crash after a division by zero is dividing by ||r_0||."""
    op = CountingOperator(A)
    b_in = b.copy()
    x0_in = None if x0 is None else x0.copy()
    args = (op, b_in) if x0 is None else (op, b_in, x0_in)
    failure = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = _in_case(case, lambda: _call(gmres, *args, name="gmres", forbid=FORBID_GMRES,
                                               **kwargs))
        except StudentCodeError as exc:
            failure = exc
    divisions = [w for w in caught if issubclass(w.category, RuntimeWarning)
                 and ("divide" in str(w.message) or "invalid value" in str(w.message))]
    for w in caught:
        if w not in divisions:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if failure is not None:
        if zero_start and divisions:
            named = mistake("06.gmres.no_initial_test",
                            f"{failure}. Here r_0 = b - A x0 = 0 and your gmres divided by "
                            "||r_0|| = 0: test the stopping criterion before the first cycle, "
                            "with equality, ||r|| <= max(rtol ||b||, atol).")
            named.detail_lines = failure.detail_lines
            raise named from failure
        raise failure
    _expect_unchanged(b_in, b, "b")
    if x0 is not None:
        _expect_unchanged(x0_in, x0, "x0", code="06.gmres.x0_modified")
    x, norms = _unpack(out, "gmres", ("x", "residual_norms"))
    n = b.shape[0]
    x = _vector(x, f"x {case}")
    expect(x.shape == (n,), f"{case}: x should have shape ({n},), got {x.shape}")
    norms = _vector(norms, f"residual_norms {case}")
    expect(norms.size >= 1, f"{case}: residual_norms should start with ||r_0|| = ||b - A x0||")
    if divisions and catch_division:
        raise mistake("06.gmres.divides_at_breakdown",
                      f"{case}: your gmres divided by zero ({divisions[0].message}). Here "
                      "h_{j+1,j} = 0 exactly, a happy breakdown: the Krylov subspace is "
                      "invariant and x_j is exact. Do not normalise w then; end the cycle.")
    for w in divisions:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return x, norms, op.count


def _first_mismatch(norms, ref_norms):
    floor = HISTORY_FLOOR * ref_norms[0]
    for k in range(min(norms.size, ref_norms.size)):
        if not abs(norms[k] - ref_norms[k]) <= HISTORY_RTOL * ref_norms[k] + floor:
            return k
    return None if norms.size == ref_norms.size else min(norms.size, ref_norms.size)


def _cycle_ends(restart, iterations):
    # Full cycles except possibly the last (true of every problem used here).
    return [k for k in range(restart, iterations + 1, restart)] + [iterations]


# --------------------------------------------------------------------------
# The mistakes a residual history shows: GMRES as the lesson's box with one
# departure each. A history that differs from the reference's is compared with
# these, and the one it matches is named.

#: code -> message (formatted with case, restart, maxiter, n, norm_b).
HISTORY_MISTAKES = {
    "06.gmres.x0_ignored":
        "{case}: your gmres starts from x = 0, not from x0: start from x0 (a copy), so that "
        "residual_norms[0] = ||b - A x0||.",
    "06.gmres.tol_from_r0":
        "{case}: your gmres stops when ||r|| <= rtol ||r_0||: the test is relative to ||b||, "
        "||r|| <= max(rtol ||b||, atol), not to the initial residual ||b - A x0||.",
    "06.gmres.tol_absolute":
        "{case}: your gmres stops when ||r|| <= max(rtol, atol), an absolute test: rtol is "
        "relative to ||b|| (here {norm_b:.4g}), the test is ||r|| <= max(rtol ||b||, atol).",
    "06.gmres.tol_sum":
        "{case}: your gmres stops when ||r|| <= rtol ||b|| + atol: the test is ||r|| <= "
        "max(rtol ||b||, atol), the larger of the two, not their sum.",
    "06.gmres.strict_stop_test":
        "{case}: your gmres goes on when ||r|| equals the tolerance: the test is ||r|| <= "
        "max(rtol ||b||, atol), with equality (inside a cycle and between cycles).",
    "06.gmres.maxiter_cycles":
        "{case}: your gmres counts maxiter = {maxiter} in cycles: maxiter counts inner "
        "iterations, the products with A that build the basis, over all cycles.",
    "06.gmres.maxiter_between_cycles":
        "{case}: your gmres tests maxiter only between cycles, so its last cycle runs to its "
        "end: a cycle also ends when maxiter = {maxiter} inner iterations have been taken "
        "(count them over all cycles, and test the count before each product with A).",
    "06.gmres.maxiter_off_by_one":
        "{case}: your gmres takes maxiter + 1 inner iterations: test the count before each new "
        "product with A, so that at most maxiter = {maxiter} are taken (off by one).",
    "06.gmres.default_maxiter":
        "{case}: with maxiter = None your gmres stops after n = {n} inner iterations: the "
        "default is 10 n.",
    "06.gmres.no_restart":
        "{case}: your gmres does not restart: its first cycle goes past restart = {restart} "
        "inner iterations. A cycle has at most m = min(restart, n) inner iterations; then x is "
        "formed and a new cycle starts from its true residual.",
    "06.gmres.breakdown_test_absolute":
        "{case}: your gmres ends its cycles at the wrong steps: its happy-breakdown test "
        "compares h_{{k+1,k}} with an absolute 1e-12 (which every step passes when the entries "
        "of A are tiny). The test is relative to the column: h_{{k+1,k}} <= 1e-12 ||h||.",
    "06.gmres.x_not_accumulated":
        "{case}: a cycle's correction Q_k y is added to x0, not to the current x: x must keep "
        "the corrections of the earlier cycles, x <- x + Q_k y.",
    "06.gmres.restart_from_r0":
        "{case}: a new cycle starts from the old residual r_0: at the end of each cycle "
        "compute r = b - A x for the new x and start the new basis from q_0 = r / ||r||.",
    "06.gmres.estimate_signed":
        "{case}: residual_norms holds g_{{k+1}} with its sign: the residual estimate is "
        "|g_{{k+1}}| (g_{{k+1}} = -s_k g_k can be negative, and a negative estimate passes "
        "any tolerance test).",
    "06.gmres.true_residual_appended":
        "{case}: residual_norms has an extra entry per cycle: at a restart the true residual "
        "||b - A x|| *replaces* the last Givens estimate of the cycle; it is not appended "
        "(one entry per inner iteration).",
}


def _gmres_variant(A, b, x0=None, *, rtol=1e-5, atol=0.0, restart=20, maxiter=None,
                   mistake=None):
    """The residual history of the lesson's GMRES(m) box with the named mistake
    (a key of :data:`HISTORY_MISTAKES`, without the lesson and exercise)."""
    n = b.shape[0]
    ignored = x0 is None or mistake == "x0_ignored"
    x = np.zeros(n) if ignored else np.array(x0, dtype=float)
    x_start = x.copy()
    if maxiter is None:
        maxiter = n if mistake == "default_maxiter" else 10 * n
    limit = maxiter + 1 if mistake == "maxiter_off_by_one" else maxiter
    inner_unlimited = mistake in ("maxiter_cycles", "maxiter_between_cycles")
    r = b - A @ x
    beta = np.linalg.norm(r)
    norm_b = np.linalg.norm(b)
    tol = {"tol_sum": rtol * norm_b + atol, "tol_from_r0": max(rtol * beta, atol),
           "tol_absolute": max(rtol, atol)}.get(mistake, max(rtol * norm_b, atol))
    passes = (lambda v: v < tol) if mistake == "strict_stop_test" else (lambda v: v <= tol)
    m = n if mistake == "no_restart" else min(restart, n)
    history = [beta]
    iterations = cycles = 0
    while not passes(beta) and (cycles < maxiter if mistake == "maxiter_cycles"
                                else iterations < limit):
        cycles += 1
        Q, R, cs, sn, g = [r / beta], np.zeros((m, m)), [], [], np.array([beta])
        k = 0
        while k < m and (inner_unlimited or iterations < limit):
            w = A @ Q[k]
            h = np.zeros(k + 2)
            for i in range(k + 1):
                h[i] = Q[i] @ w
                w = w - h[i] * Q[i]
            h[k + 1] = np.linalg.norm(w)
            R[: k + 1, k], c, s, g = reference_givens_update(h, cs, sn, g)
            cs.append(c)
            sn.append(s)
            k += 1
            iterations += 1
            history.append(g[k] if mistake == "estimate_signed" else abs(g[k]))
            bound = 1e-12 if mistake == "breakdown_test_absolute" else 1e-12 * np.linalg.norm(h)
            if passes(history[-1]) or h[k] <= bound:
                break
            Q.append(w / h[k])
        y = solve_triangular(R[:k, :k], g[:k])
        x = (x_start if mistake == "x_not_accumulated" else x) + y @ np.array(Q[:k])
        if mistake == "restart_from_r0":
            beta = np.linalg.norm(b - A @ x)
        else:
            r = b - A @ x
            beta = np.linalg.norm(r)
        if mistake == "true_residual_appended":
            history.append(beta)
        else:
            history[-1] = beta
    return np.array(history)


def _same_history(norms, history):
    """True if ``norms`` is ``history`` to the tolerance of the comparisons."""
    if norms.size != history.size:
        return False
    floor = HISTORY_FLOOR * abs(history[0])
    return bool(np.all(np.abs(norms - history) <= HISTORY_RTOL * np.abs(history) + floor))


def _history_mistake(case, norms, A, b, x0, kwargs):
    """The named mistake whose history ``norms`` is, or None."""
    n = b.shape[0]
    rtol, atol = kwargs.get("rtol", 1e-5), kwargs.get("atol", 0.0)
    restart, maxiter = kwargs.get("restart", 20), kwargs.get("maxiter")
    relevant = {
        "x0_ignored": x0 is not None, "tol_from_r0": x0 is not None, "tol_absolute": rtol > 0,
        "tol_sum": rtol > 0 and atol > 0, "strict_stop_test": True,
        "maxiter_cycles": maxiter is not None, "maxiter_between_cycles": maxiter is not None,
        "maxiter_off_by_one": True,
        "default_maxiter": maxiter is None, "no_restart": restart < n,
        "breakdown_test_absolute": True, "x_not_accumulated": True, "restart_from_r0": True,
        "estimate_signed": True, "true_residual_appended": True,
    }
    for name, wanted in relevant.items():
        if not wanted:
            continue
        with np.errstate(all="ignore"):
            history = _gmres_variant(A, b, x0, rtol=rtol, atol=atol, restart=restart,
                                     maxiter=maxiter, mistake=name)
        if _same_history(norms, history):
            code = f"06.gmres.{name}"
            return mistake(code, HISTORY_MISTAKES[code].format(
                case=case, restart=restart, maxiter=maxiter, n=n, norm_b=np.linalg.norm(b)))
    return None


def _diagnose_history(case, norms, ref, restart, tol, named=None):
    ref_norms = np.asarray(ref.residual_norms)
    expect(np.all(np.isfinite(norms)), f"{case}: residual_norms contains NaN or inf.")
    k = _first_mismatch(norms, ref_norms)
    mismatch = k is not None or not np.isclose(norms[0], ref_norms[0], rtol=1e-10, atol=0)
    if mismatch and named is not None:
        found = named()
        if found is not None:
            raise found
    if not np.isclose(norms[0], ref_norms[0], rtol=1e-10, atol=0):
        raise WrongAnswer(f"{case}: residual_norms[0] = {norms[0]:.6g}, expected ||b - A x0|| = "
                          f"{ref_norms[0]:.6g}.")
    if k is None:
        return
    its = ref.iterations
    # The true residual appended at each restart instead of replacing the estimate.
    ends = set(_cycle_ends(restart, its))
    if norms.size == ref_norms.size + len(ends) or norms.size == ref_norms.size + len(ends) - 1:
        raise WrongAnswer(f"{case}: residual_norms has {norms.size} entries for {its} inner "
                          f"iterations (expected {its + 1}): one entry per inner iteration. At "
                          "a restart the true residual ||b - A x|| *replaces* the last Givens "
                          "estimate of the cycle; it is not appended.")
    if k < ref_norms.size and k < norms.size:
        got, want = norms[k], ref_norms[k]
        if k < min(restart, its) and k not in ends:
            raise WrongAnswer(
                f"{case}: residual_norms[{k}] = {got:.6g}, expected {want:.6g}, within the "
                f"first cycle (of restart = {restart} steps: is that the restart you used?). "
                "These entries are the Givens estimates |g_k|: check the "
                "Arnoldi step (orthogonalise A q_k against every earlier q_i), the update of "
                "the least-squares problem (Exercise 2), and that one entry is appended per "
                "inner iteration.")
        if k == min(restart, its) or (k in ends and k <= restart):
            raise WrongAnswer(
                f"{case}: residual_norms[{k}] = {got:.6g}, expected {want:.6g}: the first "
                f"{k} entries are right. At the end of a cycle x becomes x + Q_k y with "
                "R_k y = g[:k] (back substitution), and the last entry is the true residual "
                "||b - A x|| of that x.")
        raise WrongAnswer(
            f"{case}: residual_norms[{k}] = {got:.6g}, expected {want:.6g}: the first cycle "
            f"of restart = {restart} steps is right, a later one is not. A new cycle starts "
            "from the current x: r = b - A x, q_0 = r / ||r||, a fresh basis, fresh rotations "
            "and g = ||r|| e_0. (x must keep the corrections of the earlier cycles.)")
    if norms.size < ref_norms.size:
        raise WrongAnswer(
            f"{case}: your gmres stopped after {norms.size - 1} inner iterations with "
            f"||r|| = {norms[-1]:.3g}; expected {its} iterations (tol = max(rtol ||b||, "
            f"atol) = {tol:.3g}). Stop only when the true residual at the end of a cycle "
            "passes the test, or after maxiter inner iterations.")
    raise WrongAnswer(
        f"{case}: your gmres took {norms.size - 1} inner iterations; expected {its}, "
        f"stopping as soon as ||r_k|| <= max(rtol ||b||, atol) = {tol:.3g} (the Givens "
        "estimate inside a cycle, confirmed by the true residual at its end), or after "
        "maxiter inner iterations (products with A, not cycles).")


def _compare(gmres, A, b, x0=None, case="", catch_division=False, **kwargs):
    """Run the student's gmres and the reference with the same arguments; compare."""
    ref = reference_gmres(A, b, x0, **kwargs)
    x, norms, products = _run_gmres(gmres, A, b, x0, case=case, catch_division=catch_division,
                                    **kwargs)
    restart = kwargs.get("restart", 20)
    norm_b = np.linalg.norm(b)
    tol = max(kwargs.get("rtol", 1e-5) * norm_b, kwargs.get("atol", 0.0))
    _diagnose_history(case, norms, ref, restart, tol,
                      named=lambda: _history_mistake(case, norms, A, b, x0, kwargs))
    true = np.linalg.norm(b - A @ x)
    scale = np.linalg.norm(ref.x) + 1e-10 * np.linalg.norm(b)
    x_right = np.linalg.norm(x - ref.x) <= 1e-6 * scale
    # With x right, a last entry that is not ||b - A x|| is the cycle's estimate.
    expect(np.isclose(norms[-1], true, rtol=1e-6, atol=0) or true == norms[-1],
           f"{case}: the last entry of residual_norms is {norms[-1]:.6g}, but the x returned "
           f"has ||b - A x|| = {true:.6g}. At the end of each cycle compute the true residual "
           "of the new x and let it replace the cycle's last estimate.",
           code="06.gmres.true_residual_not_recorded" if x_right else None)
    expect(x_right,
           f"{case}: the residual history is right but x is not (||x - x_expected|| = "
           f"{np.linalg.norm(x - ref.x):.3g}). Return the last iterate x0 + (sum of the "
           "cycles' corrections Q_k y).")
    limit = ref.iterations + ref.cycles + 1
    expect(products <= limit,
           f"{case}: your gmres used {products} products with A for {ref.iterations} inner "
           f"iterations in {ref.cycles} cycle(s); {limit} are enough: one per inner iteration, "
           "one per restart for the true residual, one for r_0. Do you form b - A x more than "
           "once per cycle, or x at every step?", code="06.gmres.extra_products")
    return x, norms, ref


def _shift(n):
    """The cyclic shift S e_i = e_{i+1 mod n}, b = e_0, solution e_{n-1}."""
    S = sp.csr_array((np.ones(n), (np.roll(np.arange(n), -1), np.arange(n))), shape=(n, n))
    b = np.zeros(n)
    b[0] = 1.0
    return S, b


def _few_eigenvalues(n, values, seed):
    """A non-symmetric diagonalisable matrix with the given distinct eigenvalues."""
    rng = np.random.default_rng(seed)
    d = np.resize(np.asarray(values, dtype=float), n)
    X = np.eye(n) + 0.3 * rng.standard_normal((n, n)) / np.sqrt(n)
    A = X @ np.diag(d) @ np.linalg.inv(X)
    return A, rng.standard_normal(n)


def _tie(n, seed):
    """A e_0 = (3, 4, 0, ...): with b = e_0 the first Givens estimate is exactly 0.8
    (s = 4/5), and so is the true residual of x_1 = 0.12 e_0, in floating point."""
    rng = np.random.default_rng(seed)
    A = np.triu(rng.integers(-3, 4, size=(n, n)).astype(float), 1) + 5.0 * np.eye(n)
    A[0, 0], A[1, 0] = 3.0, 4.0
    b = np.zeros(n)
    b[0] = 1.0
    return A, b


def _integer_system(n, seed):
    """Non-symmetric integer matrix and solution: b = A x exactly."""
    rng = np.random.default_rng(seed)
    A = rng.integers(-3, 4, size=(n, n)).astype(float) + 4.0 * n * np.eye(n)
    x = rng.integers(-5, 6, size=n).astype(float)
    return A, A @ x, x


def _exact_breakdown(n, seed, pivot=49.0):
    """Upper triangular, A e_0 = pivot e_0: with b = e_0, h_10 = 0 exactly, and
    x = b / pivot has a residual of one rounding error (49 * (1/49) != 1)."""
    rng = np.random.default_rng(seed)
    A = np.triu(rng.integers(-3, 4, size=(n, n)).astype(float), 1) + pivot * np.eye(n)
    b = np.zeros(n)
    b[0] = 1.0
    return A, b


#: The leak of :func:`_near_invariant`: 2^-40 = 9.1e-13, below the contract's
#: breakdown threshold 1e-12 ||h|| (||h|| = 1 here) and far above rounding.
LEAK = 2.0 ** -40


def _near_invariant(d, leak=LEAK):
    """b = e_0 lies within ``leak`` of an invariant subspace of dimension d.

    n = d + 1; A e_i = e_{i+1} for i < d - 1 (a cyclic shift on the first d
    coordinates), A e_{d-1} = e_0 + leak e_d, A e_d = e_0 + 2 e_d; cond(A) is
    about 2.6. Every entry is 0, 1, 2 or a power of 2, so Arnoldi is exact.
    GMRES stagnates at ||r|| = 1 for d - 1 steps; step d - 1 (from 0) has
    h_{d,d-1} = leak <= 1e-12 ||h||, a happy breakdown by the contract's test,
    while the residual ``leak`` is above rtol = 1e-14. Ending the cycle there
    and restarting from r = -leak e_d (as the contract says) takes d + 1 more
    steps, 2 d + 1 in all; going on past the breakdown ends at step d + 1.
    """
    n = d + 1
    A = np.zeros((n, n))
    A[np.arange(1, d), np.arange(d - 1)] = 1.0
    A[0, d - 1], A[d, d - 1] = 1.0, leak
    A[0, d], A[d, d] = 1.0, 2.0
    b = np.zeros(n)
    b[0] = 1.0
    return A, b


@exercise(3, "gmres", reference=_reference_gmres)
def check_gmres(gmres, m=8, peclet=50.0, restart=10, seed=0):
    """Check ``gmres(A, b, x0=None, *, rtol, atol, restart, maxiter) -> (x,
    residual_norms)`` step by step against :func:`krylov_ref.gmres` on
    ``convection_diffusion2d(m, peclet)``, and on the edge cases of the contract."""
    prob = convection_diffusion2d(m, peclet=peclet, seed=seed)
    A, b = prob.A, prob.b
    n = prob.n
    rng = np.random.default_rng(seed + 100)
    case = f"on convection-diffusion (n = {n}, restart = {restart}, rtol = 1e-8)"
    _, _, ref = _compare(gmres, A, b, case=case, rtol=1e-8, restart=restart)
    if ref.cycles < 2:  # the comparison must cross a restart
        raise ValueError("choose a smaller restart: the problem converges in one cycle")

    # maxiter counts inner iterations, not cycles: 2.5 cycles here.
    budget = (5 * restart) // 2
    _compare(gmres, A, b, case=f"with maxiter = {budget} and restart = {restart}", rtol=1e-14,
             restart=restart, maxiter=budget)
    # x0 is used and left unchanged (_run_gmres checks the latter).
    x0 = rng.standard_normal(n)
    _compare(gmres, A, b, x0, case="with x0 given", rtol=1e-8, restart=restart)
    # From an x0 near the solution, ||r_0|| << ||b||: a test relative to ||r_0|| goes on.
    x_near = reference_gmres(A, b, rtol=1e-3, restart=restart).x
    _compare(gmres, A, b, x_near, case="with x0 near the solution (||b - A x0|| <= 1e-3 ||b||)",
             rtol=1e-6, restart=restart)
    # The defaults: rtol = 1e-5, atol = 0, restart = 20, maxiter = None.
    _compare(gmres, A, b, case="with the default rtol, atol, restart and maxiter")
    # restart = 1: every step is a cycle of its own (GMRES(1) converges here).
    _compare(gmres, A, b, case="with restart = 1", rtol=1e-6, restart=1)
    # atol: a loose absolute tolerance stops early.
    _compare(gmres, A, b, case="with rtol = 0 and atol = 0.01 ||b||", rtol=0.0,
             atol=0.01 * np.linalg.norm(b), restart=restart)

    # rtol and atol both given: the test is ||r|| <= max(rtol ||b||, atol), the
    # larger of the two (here equal), not their sum. T is taken just below an
    # entry of the history, where the two tests stop at different steps.
    norm_b = np.linalg.norm(b)
    history = reference_gmres(A, b, rtol=1e-10, restart=restart).residual_norms
    start = int(np.argmax(history <= 1e-3 * history[0])) or 1   # a usual tolerance first
    for j in [*range(start, history.size), *range(1, start)]:
        T = 0.9 * history[j]
        near = (np.abs(history / T - 1) < 0.03) | (np.abs(history / (2 * T) - 1) < 0.03)
        at_max = reference_gmres(A, b, rtol=T / norm_b, atol=T, restart=restart)
        at_sum = reference_gmres(A, b, rtol=0.0, atol=2 * T, restart=restart)
        if at_max.iterations != at_sum.iterations and not near[:at_max.iterations + 1].any():
            break
    else:
        raise ValueError("no tolerance separates max(rtol ||b||, atol) from the sum here")
    case = f"with rtol = {T / norm_b:.3g} and atol = {T:.3g} both given (rtol ||b|| = atol)"
    _, norms_b, _ = _run_gmres(gmres, A, b, case=case, rtol=T / norm_b, atol=T, restart=restart)
    expect(norms_b.size - 1 != at_sum.iterations,
           f"{case}: your gmres stopped after {norms_b.size - 1} inner iterations, GMRES "
           f"takes {at_max.iterations}. The test is ||r|| <= max(rtol * ||b||, atol), the "
           "larger of the two, not their sum.", code="06.gmres.tol_sum")
    _compare(gmres, A, b, case=case, rtol=T / norm_b, atol=T, restart=restart)

    # Scale: GMRES on (c A) x = b has the same residuals; the breakdown test is
    # relative to ||A q_k||, not absolute.
    _compare(gmres, 1e-14 * A, b, case="on 1e-14 A (the residuals do not depend on the scale "
             "of A; is the happy-breakdown test relative, h_{k+1,k} <= 1e-12 ||h||?)",
             rtol=1e-8, restart=restart)
    # Equality in the stopping test: here ||r_1|| = atol = 0.8 exactly.
    At, bt = _tie(6 + seed % 3, seed)
    _compare(gmres, At, bt, case="with ||r_1|| = atol exactly (the test is ||r|| <= tol, "
             "with equality)", rtol=0.0, atol=0.8, restart=5)
    # The default maxiter = 10 n, on the cyclic shift where GMRES(m < n) stagnates.
    ns = 24 + seed % 7
    S, e0 = _shift(ns)
    _, norms, _ = _compare(gmres, S, e0, case=f"on the cyclic shift of order {ns} with the "
                           "default restart = 20 and maxiter = None (complete stagnation)")
    expect(norms.size == 10 * ns + 1,
           f"on the cyclic shift (n = {ns}) with maxiter = None, 10 n = {10 * ns} inner "
           f"iterations should be taken; yours took {norms.size - 1}.")
    # Full GMRES on it: h_{n, n-1} = 0 exactly at step n, and x = e_{n-1}.
    x, norms, _ = _compare(gmres, S, e0, case=f"on the cyclic shift with restart = n = {ns}",
                           catch_division=True, rtol=1e-10, restart=ns)
    # Few distinct eigenvalues: GMRES ends before the restart.
    Af, bf = _few_eigenvalues(20 + seed % 5, (1.0, 2.0, 5.0), seed)
    _, norms, _ = _compare(gmres, Af, bf, case="on a matrix with 3 distinct eigenvalues",
                           rtol=1e-10, restart=20)
    expect(norms.size == 4, "on a matrix with 3 distinct eigenvalues GMRES must finish in 3 "
           f"inner iterations; yours took {norms.size - 1}.")
    # An exact happy breakdown at step 0; the true residual (one rounding error)
    # replaces the estimate (exactly 0).
    Ae, be = _exact_breakdown(6 + seed % 3, seed)
    x, norms, _ = _compare(gmres, Ae, be, catch_division=True, rtol=1e-8,
                           case="on A with A b = 49 b (h_10 = 0: a happy breakdown at step 0)")
    # A happy breakdown that the tolerance test does not catch: h_{d,d-1} = 2^-40
    # <= 1e-12 ||h||, while the estimate 2^-40 ||b|| is above rtol ||b||. (An exact
    # breakdown, h = 0, gives s = 0 and the estimate 0, which passes any tolerance:
    # only a test of h itself ends the cycle here.)
    d = 4 + seed % 3
    An, bn = _near_invariant(d)
    case = (f"on A with b within 2^-40 of an invariant subspace of dimension {d} "
            f"(rtol = 1e-14)")
    ref_n = reference_gmres(An, bn, rtol=1e-14, restart=20)
    _, norms, _ = _run_gmres(gmres, An, bn, case=case, rtol=1e-14, restart=20)
    if norms.size < ref_n.residual_norms.size:
        raise mistake(
            "06.gmres.no_breakdown_test",
            f"{case}: at step {d - 1} (counted from 0) h_{{{d},{d - 1}}} = {LEAK:.2g} <= "
            "1e-12 ||h||, a happy breakdown, but your gmres went on in the same cycle "
            f"({norms.size - 1} inner iterations; ending the cycle there and restarting "
            f"takes {ref_n.iterations}). Test h_{{k+1,k}} <= 1e-12 ||h|| after each Arnoldi "
            "step, as well as the residual: on a breakdown leave the cycle without "
            "dividing by h_{k+1,k}, form x, and restart from its true residual.")
    _compare(gmres, An, bn, case=case, rtol=1e-14, restart=20)
    # r_0 = 0 exactly: x0 the solution (rtol = atol = 0, so the test is ||r|| <= 0).
    Ai, bi, xi = _integer_system(7, seed)
    for b_case, x0_case, label in ((bi, xi, "x0 equal to the solution (and rtol = atol = 0)"),
                                   (np.zeros(7), None, "b = 0 and x0 = None"),
                                   (np.zeros(7), xi, "b = 0 and x0 given")):
        case = f"with {label}"
        exact_x0 = b_case is bi
        xz, norms_z, products = _run_gmres(gmres, Ai, b_case, x0_case, case=case, rtol=0.0,
                                           atol=0.0, restart=5, zero_start=exact_x0)
        want = xi if exact_x0 else np.zeros(7)
        code = "06.gmres.no_initial_test" if exact_x0 else "06.gmres.b_zero"
        expect(norms_z.size == 1 and norms_z[0] == 0.0,
               f"{case}, the exact solution is known at once ("
               + ("r_0 = b - A x0 = 0" if b_case is bi else "x = 0, whatever x0")
               + "): return it with residual_norms = [0.0]; yours has "
               f"{norms_z.size} entries, starting with {norms_z[0]:.3g}. "
               + ("Test the stopping criterion before the first cycle, with equality: "
                  "||r|| <= max(rtol ||b||, atol)." if b_case is bi else
                  "With b = 0, return x = 0 and [0.0] before anything else (SciPy does "
                  "the same)."), code=code)
        expect(np.array_equal(xz, want), f"{case}, x should be "
               + ("x0 itself." if b_case is bi else "the zero vector."), code=code)
        expect(products <= 1, f"{case}, no inner iteration is needed; yours used {products} "
               "products with A.", code=code)
    passed(f"gmres: residual histories match step by step on {prob.name} (restart = {restart}, "
           f"{ref.iterations} inner iterations in {ref.cycles} cycles); maxiter, x0, atol, the "
           "defaults, restart = 1, stagnation, happy breakdowns, b = 0 and an exact x0 right.")


# --------------------------------------------------------------------------
# The misconceptions these checks name: code -> (description, the heading of
# the section that explains it).

SECTION_GIVENS = "3. Givens rotations, and the least-squares problem updated one column at a time"
SECTION_EXERCISE_1 = "Exercise 1 — a Givens rotation (2 points)"
SECTION_QR_UPDATE = "The QR factorisation of $H_k$, one column per step"
SECTION_EXERCISE_2 = "Exercise 2 — the least-squares update (4 points)"
SECTION_BREAKDOWN = "4. The happy breakdown"
SECTION_RESTARTED = "5. Restarted GMRES"
SECTION_EXERCISE_3 = "Exercise 3 — restarted GMRES (6 points)"

MISCONCEPTIONS = {
    # Exercise 1: givens_rotation
    "06.givens_rotation.swapped": ("c and s swapped: (b / r, a / r)", SECTION_GIVENS),
    "06.givens_rotation.s_sign": ("s = -b / r: the rotation [[c, -s], [s, c]] of the other "
                                  "convention", SECTION_GIVENS),
    "06.givens_rotation.negative_r": ("r given the sign of a (LAPACK's choice), so c >= 0: "
                                      "not the lesson's r = hypot(a, b) >= 0", SECTION_GIVENS),
    "06.givens_rotation.not_normalised": ("a and b not divided by r: c^2 + s^2 != 1",
                                          SECTION_GIVENS),
    "06.givens_rotation.overflow": ("r computed as sqrt(a^2 + b^2), which overflows (or "
                                    "underflows) where hypot does not", SECTION_GIVENS),
    "06.givens_rotation.zero_pair": ("no special case for a = b = 0: 0 / 0 gives NaN or "
                                     "ZeroDivisionError", SECTION_EXERCISE_1),
    "06.givens_rotation.b_zero_identity": ("the identity returned whenever b = 0, also for "
                                           "a < 0 (then r = a < 0)", SECTION_EXERCISE_1),
    "06.givens_rotation.a_zero_unsigned": ("(0, 1) returned whenever a = 0, also for b < 0",
                                           SECTION_EXERCISE_1),
    "06.givens_rotation.returns_r": ("returns (c, s, r), like LAPACK's dlartg, instead of "
                                     "(c, s)", SECTION_EXERCISE_1),
    # Exercise 2: givens_update
    "06.givens_update.no_old_rotations": ("the earlier rotations not applied to the new column",
                                          SECTION_QR_UPDATE),
    "06.givens_update.reverse_order": ("the earlier rotations applied in reverse order, "
                                       "G_{j-1} first", SECTION_QR_UPDATE),
    "06.givens_update.old_rotations_transposed": ("the earlier rotations applied transposed "
                                                  "(with -s)", SECTION_QR_UPDATE),
    "06.givens_update.old_rotations_overwrite": ("applying a rotation, h_{i+1} computed from the "
                                                 "already updated h_i (no tuple assignment)",
                                                 SECTION_QR_UPDATE),
    "06.givens_update.last_old_rotation_missing": ("the loop over earlier rotations one short: "
                                                   "G_{j-1} not applied", SECTION_QR_UPDATE),
    "06.givens_update.rotation_from_unrotated": ("the new rotation computed from the unrotated "
                                                 "h_j", SECTION_QR_UPDATE),
    "06.givens_update.diagonal_not_rotated": ("the new rotation not applied to the column: r_jj "
                                              "left as the rotated h_j", SECTION_QR_UPDATE),
    "06.givens_update.r_too_long": ("r returned with j + 2 entries, the zeroed one included",
                                    SECTION_EXERCISE_2),
    "06.givens_update.g_next_sign": ("g_{j+1} = +s g_j instead of -s g_j", SECTION_QR_UPDATE),
    "06.givens_update.g_j_not_rotated": ("g_j not multiplied by c", SECTION_QR_UPDATE),
    "06.givens_update.g_overwrite": ("g_{j+1} computed from the new g_j = c g_j instead of the "
                                     "old one", SECTION_QR_UPDATE),
    "06.givens_update.g_not_extended": ("g returned without its new entry g_{j+1}",
                                        SECTION_EXERCISE_2),
    "06.givens_update.h_modified": ("the caller's column h rotated in place", SECTION_EXERCISE_2),
    "06.givens_update.cs_appended": ("c and s appended to the caller's cs, sn (the caller "
                                     "does that; they may be arrays)", SECTION_EXERCISE_2),
    # Exercise 3: gmres
    "06.gmres.no_breakdown_test": ("no happy-breakdown test h_{k+1,k} <= 1e-12 ||h||: the cycle "
                                   "goes on past a (near) invariant subspace", SECTION_BREAKDOWN),
    "06.gmres.divides_at_breakdown": ("w / h_{k+1,k} formed before the breakdown test: a "
                                      "division by zero at an exact breakdown", SECTION_BREAKDOWN),
    "06.gmres.breakdown_test_absolute": ("the breakdown test absolute, h_{k+1,k} <= 1e-12, not "
                                         "relative to ||h||", SECTION_BREAKDOWN),
    "06.gmres.tol_sum": ("the tolerance rtol ||b|| + atol instead of max(rtol ||b||, atol)",
                         SECTION_EXERCISE_3),
    "06.gmres.tol_from_r0": ("the tolerance relative to ||r_0|| instead of ||b||",
                             SECTION_EXERCISE_3),
    "06.gmres.tol_absolute": ("the tolerance max(rtol, atol): rtol not multiplied by ||b||",
                              SECTION_EXERCISE_3),
    "06.gmres.strict_stop_test": ("the stopping test strict, ||r|| < tol, so equality goes on",
                                  SECTION_EXERCISE_3),
    "06.gmres.no_initial_test": ("no stopping test before the first cycle: r_0 = 0 divides by "
                                 "zero", SECTION_RESTARTED),
    "06.gmres.maxiter_cycles": ("maxiter counted in restart cycles instead of inner iterations",
                                SECTION_EXERCISE_3),
    "06.gmres.maxiter_between_cycles": ("maxiter tested only between cycles: the last cycle "
                                        "runs to its end", SECTION_EXERCISE_3),
    "06.gmres.maxiter_off_by_one": ("maxiter + 1 inner iterations taken (<= instead of <)",
                                    SECTION_EXERCISE_3),
    "06.gmres.default_maxiter": ("maxiter = None taken as n instead of 10 n", SECTION_EXERCISE_3),
    "06.gmres.no_restart": ("restart ignored: one cycle of up to n steps", SECTION_RESTARTED),
    "06.gmres.x_not_accumulated": ("each cycle's correction added to x0, not to the current x",
                                   SECTION_RESTARTED),
    "06.gmres.restart_from_r0": ("the residual not recomputed at a restart: every cycle starts "
                                 "from r_0's direction", SECTION_RESTARTED),
    "06.gmres.estimate_signed": ("the history holds g_{k+1} instead of |g_{k+1}|",
                                 SECTION_QR_UPDATE),
    "06.gmres.true_residual_appended": ("the true residual appended at a restart instead of "
                                        "replacing the cycle's last estimate", SECTION_RESTARTED),
    "06.gmres.true_residual_not_recorded": ("the last entry of a cycle left as the Givens "
                                            "estimate, not the true residual", SECTION_RESTARTED),
    "06.gmres.extra_products": ("b - A x formed more often than once per cycle (extra products "
                                "with A)", SECTION_EXERCISE_3),
    "06.gmres.x0_ignored": ("x0 ignored: every run starts from x = 0", SECTION_EXERCISE_3),
    "06.gmres.x0_modified": ("the caller's x0 updated in place", SECTION_EXERCISE_3),
    "06.gmres.b_zero": ("b = 0 not returned at once as x = 0, [0.0]", SECTION_EXERCISE_3),
}
