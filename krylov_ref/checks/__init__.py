"""Grading oracles for the course's exercises.

The tools every lesson uses:

* :class:`WrongAnswer` -- the failure raised by every check, with a message
  that says what is wrong and the likely mistake;
* :class:`CountingOperator` -- hands a matrix to a student's function as an
  operator that supports only ``A @ v`` and counts the products;
* :func:`forbidden` -- while a student's function runs, the library solvers
  that would make the exercise trivial raise :class:`NotAllowedError`;
* :func:`time_limit` -- a student's infinite loop fails one check instead of
  hanging the notebook;
* :func:`call_student` -- all three together;
* :func:`expect_close` and friends -- comparisons with explanations.

Lesson-specific checks live in ``krylov_ref.checks.lessonNN``.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import threading

import numpy as np
import scipy.sparse as sp

__all__ = [
    "WrongAnswer", "NotAllowedError", "TimeLimitExceeded", "CountingOperator",
    "forbidden", "time_limit", "call_student", "expect", "expect_close",
    "expect_shape", "passed", "DEFAULT_TIME_LIMIT", "SOLVERS", "DIRECT",
]


class WrongAnswer(AssertionError):
    """A check found a mistake; the message says which and how to look for it."""


class NotAllowedError(WrongAnswer):
    """The exercise called a library function that does the work for it."""


class TimeLimitExceeded(WrongAnswer):
    """The student's function did not return in time."""


def _default_time_limit():
    # Graders may lower it (tests do) or raise it for slow machines.
    return float(os.environ.get("KRYLOV_REF_TIME_LIMIT", "30"))


DEFAULT_TIME_LIMIT = _default_time_limit()


# --------------------------------------------------------------------------
# Operators that count


class CountingOperator:
    """A matrix as an operator: ``A @ v`` works and is counted; nothing else does.

    Parameters
    ----------
    A : ndarray or scipy.sparse matrix
        The matrix to wrap.

    Attributes
    ----------
    count : int
        Number of matrix-vector products so far (a product with an
        ``(n, k)`` block counts ``k``).

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref.checks import CountingOperator
    >>> A = CountingOperator(np.eye(3))
    >>> A @ np.ones(3)
    array([1., 1., 1.])
    >>> A.count, A.shape
    (1, (3, 3))
    """

    __array_ufunc__ = None  # keep NumPy from turning A into an array behind our back

    def __init__(self, A):
        self._A = A if sp.issparse(A) else np.asarray(A, dtype=float)
        self.shape = self._A.shape
        self.dtype = np.dtype(float)
        self.ndim = 2
        self.count = 0

    def _product(self, v):
        v = np.asarray(v, dtype=float)
        if v.ndim == 0 or v.shape[0] != self.shape[1]:
            raise ValueError(
                f"A @ v needs v of length {self.shape[1]}, got shape {v.shape}"
            )
        self.count += 1 if v.ndim == 1 else v.shape[1]
        return self._A @ v

    def __matmul__(self, v):
        return self._product(v)

    def __rmatmul__(self, v):
        # v @ A = (A^T v)^T; the course's matrices here are symmetric.
        v = np.asarray(v, dtype=float)
        self.count += 1 if v.ndim == 1 else v.shape[0]
        return v @ self._A

    def dot(self, v):
        return self._product(v)

    matvec = dot

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "In this exercise A is an operator: use A @ v. Turning it into an "
            "array (np.asarray, np.dot(A, v), A.toarray()) is not allowed."
        )

    def __repr__(self):
        return f"CountingOperator(shape={self.shape}, count={self.count})"


# --------------------------------------------------------------------------
# Forbidden library functions

#: Library solvers that would make an iterative-solver exercise trivial.
SOLVERS = (
    "krylov_ref.cg", "krylov_ref.steepest_descent",
    "krylov_ref.cg.cg", "krylov_ref.cg.steepest_descent",
    "krylov_ref.gmres", "krylov_ref.gmres.gmres", "krylov_ref.minres", "krylov_ref.minres.minres",
    "krylov_ref.bicgstab", "krylov_ref.bicgstab.bicgstab",
    "krylov_ref.ridge_cg", "krylov_ref.cgls", "krylov_ref.ridge.ridge_cg", "krylov_ref.ridge.cgls",
    "krylov_ref.newton_cg", "krylov_ref.newton.newton_cg",
    "scipy.sparse.linalg.cg", "scipy.sparse.linalg.cgs",
    "scipy.sparse.linalg.gmres", "scipy.sparse.linalg.lgmres",
    "scipy.sparse.linalg.minres", "scipy.sparse.linalg.bicg",
    "scipy.sparse.linalg.bicgstab", "scipy.sparse.linalg.qmr",
    "scipy.sparse.linalg.gcrotmk", "scipy.sparse.linalg.tfqmr",
    "scipy.sparse.linalg.lsqr", "scipy.sparse.linalg.lsmr",
    "scipy.sparse.linalg.spsolve", "scipy.sparse.linalg.splu",
    "scipy.sparse.linalg.factorized",
    "scipy.optimize.minimize",
)

#: Dense direct solvers.
DIRECT = (
    "numpy.linalg.solve", "numpy.linalg.inv", "numpy.linalg.lstsq",
    "numpy.linalg.pinv", "scipy.linalg.solve", "scipy.linalg.inv",
    "scipy.linalg.lstsq", "scipy.linalg.cho_solve", "scipy.linalg.lu_solve",
    "scipy.linalg.pinv",
)


def _resolve(dotted):
    module_name, _, attr = dotted.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    if not hasattr(module, attr):
        return None
    return module, attr


def _stub(dotted):
    def not_allowed(*args, **kwargs):
        raise NotAllowedError(
            f"{dotted}() is not allowed in this exercise: write the method "
            "yourself, using only products A @ v and vector operations."
        )

    not_allowed.__name__ = dotted.rpartition(".")[2]
    return not_allowed


@contextlib.contextmanager
def forbidden(names=SOLVERS + DIRECT, namespaces=()):
    """Make library functions raise :class:`NotAllowedError` for a while.

    Parameters
    ----------
    names : iterable of str
        Dotted names such as ``"numpy.linalg.solve"``. Names that do not
        exist in the installed versions are skipped.
    namespaces : iterable of dict
        Extra namespaces (a student's ``func.__globals__``) in which any name
        bound to one of these functions -- ``from numpy.linalg import solve``
        -- is replaced too.

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref.checks import forbidden, NotAllowedError
    >>> with forbidden(["numpy.linalg.solve"]):
    ...     try:
    ...         np.linalg.solve(np.eye(2), np.ones(2))
    ...     except NotAllowedError as e:
    ...         print("blocked")
    blocked
    >>> np.linalg.solve(np.eye(2), np.ones(2))
    array([1., 1.])
    """
    saved = []  # (container, key, original) in patch order
    stubs = {}
    try:
        for dotted in names:
            found = _resolve(dotted)
            if found is None:
                continue
            module, attr = found
            original = getattr(module, attr)
            stub = stubs.setdefault(id(original), _stub(dotted))
            saved.append((module, attr, original, "attr"))
            setattr(module, attr, stub)
        originals = {id(orig): orig for _, _, orig, _ in saved}
        for ns in namespaces:
            for key, value in list(ns.items()):
                if id(value) in originals and value is originals[id(value)]:
                    saved.append((ns, key, value, "item"))
                    ns[key] = stubs[id(value)]
        yield
    finally:
        for container, key, original, kind in reversed(saved):
            if kind == "attr":
                setattr(container, key, original)
            else:
                container[key] = original


# --------------------------------------------------------------------------
# Time limits


@contextlib.contextmanager
def time_limit(seconds=None, what="your function"):
    """Raise :class:`TimeLimitExceeded` if the block runs longer than ``seconds``.

    Uses ``SIGALRM``, so it works in the main thread of a Unix process (a
    Jupyter kernel); elsewhere the notebook's cell timeout is the backstop.
    """
    seconds = _default_time_limit() if seconds is None else seconds
    usable = (
        seconds > 0
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def on_alarm(signum, frame):
        raise TimeLimitExceeded(
            f"{what} did not return within {seconds:g} s. Is there a loop that "
            "never ends (a stopping test that can never be true, or a missing "
            "maxiter)?"
        )

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def call_student(func, *args, forbid=SOLVERS + DIRECT, seconds=None, **kwargs):
    """Call a student's function under a time limit with solvers forbidden.

    ``NotImplementedError`` (an exercise not yet answered) passes through
    unchanged, so an unanswered exercise reads as such.
    """
    name = getattr(func, "__name__", "your function")
    namespaces = [func.__globals__] if hasattr(func, "__globals__") else []
    with time_limit(seconds, what=f"{name}()"), forbidden(forbid, namespaces):
        return func(*args, **kwargs)


# --------------------------------------------------------------------------
# Comparisons that explain themselves


def expect(condition, message):
    """Raise :class:`WrongAnswer` with ``message`` unless ``condition``."""
    if not condition:
        raise WrongAnswer(message)


def _as_float_array(value, what):
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise WrongAnswer(f"{what} should be a number or an array of numbers, "
                          f"got {type(value).__name__}") from None
    return arr


def expect_shape(value, shape, what):
    """Check that ``value`` is an array of the given shape."""
    arr = _as_float_array(value, what)
    expect(arr.shape == tuple(shape),
           f"{what} should have shape {tuple(shape)}, got {arr.shape}")
    return arr


def expect_close(value, expected, what, rtol=1e-8, atol=1e-12, hint=""):
    """Check ``value`` against ``expected`` and explain a mismatch.

    The message gives the largest error, relative to the size of the
    expected value, and the tolerance, then the hint.
    """
    got = _as_float_array(value, what)
    want = np.asarray(expected, dtype=float)
    if got.shape != want.shape:
        raise WrongAnswer(f"{what} should have shape {want.shape}, got {got.shape}")
    if not np.all(np.isfinite(got)):
        raise WrongAnswer(f"{what} contains NaN or inf. {hint}".strip())
    if np.allclose(got, want, rtol=rtol, atol=atol):
        return got
    err = np.max(np.abs(got - want))
    scale = max(np.max(np.abs(want)), atol)
    detail = (f"{what} is off by {err:.3g} (relative {err / scale:.2g}; "
              f"tolerance rtol={rtol:g})")
    if want.size <= 4:
        detail += f": expected {np.round(want, 6).tolist()}, got {np.round(got, 6).tolist()}"
    raise WrongAnswer(f"{detail}. {hint}".strip())


def passed(message):
    """Print the line a student sees when a check passes."""
    print(f"\u2713 {message}")
