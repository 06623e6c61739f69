"""Grading oracles for the course's exercises.

The tools every lesson uses:

* :func:`exercise` -- marks a ``check_*`` function as the grader of one
  exercise: its failures then read "Exercise 2, `exact_step`: ..." in a few
  lines, never showing the grader's code, and when a notebook is autograded
  it runs sealed (see :mod:`krylov_ref.checks._seal`);
* :class:`WrongAnswer` -- the failure raised by every check, with a message
  that says what is wrong and the likely mistake;
* :class:`CountingOperator` -- hands a matrix to a student's function as an
  operator that supports only ``A @ v`` and counts the products;
* :func:`forbidden` -- while a student's function runs, the library solvers
  that would make the exercise trivial raise :class:`NotAllowedError`;
* :func:`time_limit` -- a student's infinite loop fails one check instead of
  hanging the notebook;
* :func:`call_student` -- all three together, and the translation of any
  exception in the student's code into a short report of *their* frames;
* :func:`use_own` -- later demonstrations run the student's function when it
  passed its check, and the reference otherwise, and say which;
* :func:`expect_close` and friends -- comparisons with explanations.

Lesson-specific checks live in ``krylov_ref.checks.lessonNN``.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.abc
import os
import signal
import sys
import threading
import warnings

import numpy as np
import scipy.sparse as sp

from ._report import (GENERIC_CODES, CheckCrashed, NotAllowedError, NotAnswered, StudentCodeError,
                      TimeLimitExceeded, WrongAnswer, _debugging, _is_library_file, codes_of,
                      format_frames, student_frames, where)

__all__ = [
    "WrongAnswer", "NotAllowedError", "TimeLimitExceeded", "NotAnswered", "StudentCodeError",
    "CheckCrashed", "CountingOperator", "forbidden", "replaced", "time_limit", "call_student",
    "exercise",
    "use_own", "expect", "expect_tuple", "expect_close", "expect_shape", "passed", "DEFAULT_TIME_LIMIT",
    "SOLVERS", "DIRECT", "mistake", "codes_of", "GENERIC_CODES",
]


def _default_time_limit():
    # Graders may lower it (tests do) or raise it for slow machines.
    return float(os.environ.get("KRYLOV_REF_TIME_LIMIT", "30"))


DEFAULT_TIME_LIMIT = _default_time_limit()


# --------------------------------------------------------------------------
# Exercises: numbered checks with short reports, sealed when autograded

# id(wrapper) -> (wrapper, check, check.__code__), filled as the lesson
# modules are imported; _seal.arm() takes a frozen copy.
_REGISTRY = {}
# name -> (number, reference or None) for every exercise of every lesson
_EXERCISES = {}
# name -> the student's function that last passed its check
_PASSED = {}
# Set by _seal.arm() when a notebook is being autograded: the runner that
# runs a check and seals its verdict, and the hook run after a student's call.
_RUNNER = [None]
_AFTER_CALL = [None]
# True while use_own() runs a check only to learn whether the function passes.
_QUIET = [False]


def _freeze_registry():
    return dict(_REGISTRY)


def exercise(number, name, reference=None):
    """Mark ``check_<name>`` as the check of Exercise ``number``.

    Parameters
    ----------
    number : int
        The exercise's number in its lesson, as the lesson's text gives it.
    name : str
        The function the student writes.
    reference : callable, optional
        The same contract implemented with ``krylov_ref``: what
        :func:`use_own` runs in demonstrations while the student's function
        has not passed.

    The decorated check reports every failure as a :class:`WrongAnswer`
    that starts "Exercise N, `name`: ..."; anything else that goes wrong
    inside the check (typically because the student's function returned
    something unexpected) becomes a :class:`CheckCrashed` saying so.
    """
    prefix = f"Exercise {number}, `{name}`"

    def decorate(check):
        @functools.wraps(check)
        def run(*args, **kwargs):
            func = args[0] if args else None
            try:
                with _warnings_in_brief():
                    runner = _RUNNER[0]
                    if runner is None:
                        check(*args, **kwargs)
                    else:
                        runner(run, args, kwargs)
            except WrongAnswer as exc:
                _PASSED.pop(name, None)
                message = str(exc)
                text = message if message.startswith("Exercise ") else f"{prefix}: {message}"
                report = type(exc)(text)
                report.detail_lines = exc.detail_lines
                report.codes = codes_of(exc)
                raise report from exc
            except Exception as exc:
                _PASSED.pop(name, None)
                raise CheckCrashed(
                    f"{prefix}: the check could not use what your function returned "
                    f"({type(exc).__name__}: {exc}). Compare what it returns with the "
                    "contract in the exercise text (types, shapes, order of the outputs)."
                ) from exc
            if func is not None:
                _PASSED[name] = func

        _REGISTRY[id(run)] = (run, check, check.__code__)
        lesson = check.__module__.rpartition(".")[2].removeprefix("lesson")
        _EXERCISES[name] = (number, lesson if lesson.isdigit() else None, reference)
        run.exercise = (number, name)
        return run

    return decorate


@contextlib.contextmanager
def _warnings_in_brief():
    """Show warnings raised during a check as one line each, on stdout.

    Python prints a warning with the line of code that raised it, often a
    line of the grader; and nbgrader scores any output on stderr as a
    failure, which a harmless warning should not be.
    """
    if _debugging():
        yield
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            seen = set()
            for w in caught:
                frames = [(w.filename, w.lineno, "")] if not _is_library_file(w.filename) else []
                text = f"{w.category.__name__}: {w.message}" + (f" ({where(frames)})" if frames else "")
                if text not in seen:
                    seen.add(text)
                    if not _QUIET[0]:
                        print(f"(warning during the test: {text})")


def use_own(func, *, name=None, check=None, quiet=False):
    """The student's ``func`` if it passed its check, else the reference.

    Later demonstrations call this so that they show the student's own code
    at work when it is right, and still run (with ``krylov_ref``'s version)
    when it is not written yet. Prints one line saying which one runs.

    Parameters
    ----------
    func : callable or None
        The student's function (the name defined by the answer cell).
    name : str, optional
        The exercise's function name, if ``func`` is named differently.
    check : callable, optional
        The exercise's check, run now (its output hidden) if ``func`` has
        not passed it in this kernel yet: for a function brought from an
        earlier lesson.
    quiet : bool
        Do not print which version runs.
    """
    name = name or getattr(func, "__name__", None)
    if name not in _EXERCISES:
        raise ValueError(f"{name!r} is not the function of any exercise")
    number, lesson, reference = _EXERCISES[name]
    place = f"Exercise {number}" + (f" of lesson {lesson}" if lesson else "")
    if reference is None:
        raise ValueError(f"exercise {name!r} has no reference implementation to fall back on")
    failure = None
    if check is not None and func is not None and _PASSED.get(name) is not func:
        # The check's own "passed" line is not wanted here. It is silenced
        # with a flag, not by swapping sys.stdout: while the grader is armed,
        # a changed sys.stdout is what a tampering submission looks like.
        _QUIET[0] = True
        try:
            check(func)
        except WrongAnswer as exc:
            failure = str(exc).split("\n")[0]
        finally:
            _QUIET[0] = False
    mine = func is not None and _PASSED.get(name) is func
    if not quiet:
        if mine:
            print(f"(using your `{name}` from {place}: it passed its test)")
        elif failure:
            print(f"(using krylov_ref's `{name}`: yours did not pass its test: {failure})")
        elif func is None:
            print(f"(using krylov_ref's `{name}`: you have not given yours; "
                  f"to use your own, define `{name}` from {place} above)")
        else:
            print(f"(using krylov_ref's `{name}`: yours from {place} has not "
                  "passed its test yet)")
    if not mine:
        return reference

    @functools.wraps(func)
    def guarded(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except Exception as exc:  # keep the demonstration going, and say why
            print(f"(your `{name}` raised {type(exc).__name__} here: {exc}; "
                  "using krylov_ref's instead)")
            return reference(*args, **kwargs)

    return guarded


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
        self.__count = 0

    @property
    def count(self):
        # Read-only: the count is the grader's, not the function's, to change.
        return self.__count

    def _add(self, k):
        self.__count += k

    def _product(self, v):
        v = np.asarray(v, dtype=float)
        if v.ndim == 0 or v.shape[0] != self.shape[1]:
            raise ValueError(
                f"A @ v needs v of length {self.shape[1]}, got shape {v.shape}"
            )
        self._add(1 if v.ndim == 1 else v.shape[1])
        return self._A @ v

    def __matmul__(self, v):
        return self._product(v)

    def __rmatmul__(self, v):
        # v @ A = (A^T v)^T; the course's matrices here are symmetric.
        v = np.asarray(v, dtype=float)
        self._add(1 if v.ndim == 1 else v.shape[0])
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
    "krylov_ref.gmres", "krylov_ref.gmres.gmres", "krylov_ref.fgmres", "krylov_ref.gmres.fgmres",
    "krylov_ref.minres", "krylov_ref.minres.minres",
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


def forbidden(names=SOLVERS + DIRECT, namespaces=(), functions=()):
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
    functions : iterable of function
        Functions (the student's) whose closure cells and default arguments
        are searched the same way: ``def f(A, b, solve=np.linalg.solve)``
        does not escape.

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
    return replaced(names, lambda original, dotted: _stub(dotted), namespaces, functions)


@contextlib.contextmanager
def replaced(names, replacement, namespaces=(), functions=()):
    """Replace library functions, wherever a student's code can reach them,
    by ``replacement(original, dotted_name)`` for a while.

    The mechanism of :func:`forbidden` (which replaces them by stubs that
    raise), also used to count calls. ``names``, ``namespaces`` and
    ``functions`` are as for :func:`forbidden`; a function reached under two
    names gets one replacement.
    """
    saved = []  # (container, key, original, kind) in patch order
    new = {}    # id(original) -> (original, its replacement)
    originals = {}  # id(replacement) -> original
    # A package nobody has imported yet is not imported here (scikit-learn
    # takes most of a second): its names are replaced as its modules load,
    # if the student's code imports them while this lasts.
    names = list(names)
    later = [d for d in names if d.split(".")[0] not in sys.modules]
    # Import and resolve the rest before patching anything: a module
    # imported while earlier names are replaced would keep the replacements.
    resolved = [(dotted, found) for dotted in names if dotted not in later
                and (found := _resolve(dotted)) is not None]
    modules_before = set(sys.modules)

    def swap(value):
        entry = new.get(id(value))
        return entry[1] if entry is not None and entry[0] is value else value

    def patch(module, attr, dotted):
        if not hasattr(module, attr):
            return
        original = getattr(module, attr)
        original = originals.get(id(original), original)  # re-exported, already replaced
        if id(original) not in new:
            new[id(original)] = (original, replacement(original, dotted))
            originals[id(new[id(original)][1])] = original
        saved.append((module, attr, original, "attr"))
        setattr(module, attr, new[id(original)][1])

    guard = None
    if later:
        pending = {}
        for dotted in later:
            module_name, _, attr = dotted.rpartition(".")
            pending.setdefault(module_name, []).append((attr, dotted))
        guard = _PatchOnImport(pending, patch)
        sys.meta_path.insert(0, guard)
    try:
        for dotted, (module, attr) in resolved:
            patch(module, attr, dotted)
        for ns in namespaces:
            for key, value in list(ns.items()):
                if swap(value) is not value:
                    saved.append((ns, key, value, "item"))
                    ns[key] = swap(value)
        for func in functions:
            for cell in getattr(func, "__closure__", None) or ():
                try:
                    value = cell.cell_contents
                except ValueError:  # an empty cell
                    continue
                if swap(value) is not value:
                    saved.append((cell, "cell_contents", value, "attr"))
                    cell.cell_contents = swap(value)
            defaults = getattr(func, "__defaults__", None)
            if defaults and any(swap(v) is not v for v in defaults):
                saved.append((func, "__defaults__", defaults, "attr"))
                func.__defaults__ = tuple(swap(v) for v in defaults)
            kwdefaults = getattr(func, "__kwdefaults__", None)
            if kwdefaults and any(swap(v) is not v for v in kwdefaults.values()):
                saved.append((func, "__kwdefaults__", kwdefaults, "attr"))
                func.__kwdefaults__ = {k: swap(v) for k, v in kwdefaults.items()}
        yield
    finally:
        if guard is not None:
            sys.meta_path.remove(guard)
            # A module imported meanwhile may have taken a replacement by
            # name (``from ._ridge import ridge_regression``): give it back
            # the original.
            for name in set(sys.modules) - modules_before:
                module = sys.modules.get(name)
                for key, value in list(vars(module).items()) if module is not None else ():
                    if id(value) in originals and value is not originals[id(value)]:
                        saved.append((module, key, originals[id(value)], "attr"))
        for container, key, original, kind in reversed(saved):
            if kind == "attr":
                setattr(container, key, original)
            else:
                container[key] = original


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """While on ``sys.meta_path``: a module of ``pending`` that gets imported
    has its listed names replaced (``patch``) as soon as it has run."""

    def __init__(self, pending, patch):
        self.pending, self.patch = pending, patch

    def find_spec(self, fullname, path, target=None):
        if fullname not in self.pending:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None:
            spec.loader = _PatchingLoader(spec.loader, lambda module: [
                self.patch(module, attr, dotted) for attr, dotted in self.pending[fullname]])
        return spec


class _PatchingLoader(importlib.abc.Loader):
    """A module's own loader, and a call once the module has run."""

    def __init__(self, loader, after):
        self._loader, self._after = loader, after

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        self._after(module)

    def __getattr__(self, name):  # resources, source, ...: the real loader's
        return getattr(self._loader, name)


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

    Whatever goes wrong comes back as a :class:`WrongAnswer` that shows the
    student's own frames and none of the grader's: an unanswered exercise
    (``NotImplementedError``) as :class:`NotAnswered`, an exception in their
    code as :class:`StudentCodeError`, a call that does not match the
    contract (a missing keyword, say) as a plain :class:`WrongAnswer`.
    """
    name = getattr(func, "__name__", "your function")
    if not callable(func):
        raise WrongAnswer(f"`{name}` should be a function, got {type(func).__name__}")
    namespaces = [func.__globals__] if hasattr(func, "__globals__") else []
    try:
        with time_limit(seconds, what=f"{name}()"), forbidden(forbid, namespaces, [func]):
            result = func(*args, **kwargs)
    except NotImplementedError as exc:
        raise _not_answered(name, exc) from exc
    except WrongAnswer as exc:  # not allowed, or out of time: say where it happened
        frames = student_frames(exc.__traceback__)
        report = type(exc)(f"{exc} (in {where(frames)})" if frames else str(exc))
        report.detail_lines = tuple(format_frames(frames, limit=1))
        raise report from exc
    except KeyboardInterrupt as exc:
        frames = student_frames(exc.__traceback__)
        report = TimeLimitExceeded(
            f"`{name}` was interrupted" + (f" in {where(frames)}" if frames else "")
            + " (the cell ran out of time, or it was stopped). Is there a loop that never ends?")
        report.detail_lines = tuple(format_frames(frames, limit=1))
        raise report from exc
    except Exception as exc:
        frames = student_frames(exc.__traceback__)
        if not frames:
            # Raised at the call itself: the signature does not match the contract.
            raise WrongAnswer(f"calling `{name}` failed: {type(exc).__name__}: {exc}. Check its "
                              "parameters against the exercise text (names, order, keywords).") from exc
        report = StudentCodeError(f"your `{name}` raised {type(exc).__name__} in {where(frames)}: {exc}")
        report.detail_lines = ("Your code, innermost call last:", *format_frames(frames))
        raise report from exc
    if _AFTER_CALL[0] is not None:
        _AFTER_CALL[0]()
    return result


def _not_answered(name, exc):
    frames = student_frames(exc.__traceback__)
    stub = frames[-1][2] if frames else name
    if stub in _EXERCISES and stub != name:
        number, lesson, _ = _EXERCISES[stub]
        place = f"Exercise {number}" + (f" of lesson {lesson}" if lesson else "")
        return NotAnswered(f"your `{name}` calls `{stub}`, which is not answered yet: "
                           f"answer {place} first (or do without it).")
    number = _EXERCISES.get(name, (None,))[0]
    label = f"Exercise {number}, `{name}`," if number is not None else f"`{name}`"
    return NotAnswered(f"{label} is not answered yet: replace `raise NotImplementedError()` "
                       "in the cell above with your code.")


# --------------------------------------------------------------------------
# Comparisons that explain themselves


def mistake(code, message, *also):
    """A :class:`WrongAnswer` for the misconception ``code``, named in its message.

    ``code`` (such as ``"05.pcg.beta_from_r"``) is one of the lesson module's
    ``MISCONCEPTIONS``; ``also`` are the codes of mistakes this one cannot be
    told apart from, named with it. The message ends with the codes in
    brackets, which the student reads and the class report counts.
    """
    codes = (code, *also)
    exc = WrongAnswer(f"{message} [{' or '.join(codes)}]")
    exc.codes = codes
    return exc


def expect(condition, message, code=None, also=()):
    """Raise :class:`WrongAnswer` with ``message`` unless ``condition``; with
    ``code``, the message names that misconception (:func:`mistake`)."""
    if not condition:
        raise mistake(code, message, *also) if code else WrongAnswer(message)


def integer_spd_problem(n, seed):
    """(A, b, x): an SPD matrix and a solution with small integer entries.

    b = A x is exact, so b - A x is exactly zero however the products are
    summed: a solver started at x0 = x must see a zero residual."""
    rng = np.random.default_rng(seed)
    S = rng.integers(-3, 4, size=(n, n)).astype(float)
    A = S + S.T + 8.0 * n * np.eye(n)            # symmetric, diagonally dominant
    x = rng.integers(-5, 6, size=n).astype(float)
    return A, A @ x, x


def expect_tuple(value, what, names):
    """``value`` if it is a tuple (or list) of ``len(names)`` items, else
    :class:`WrongAnswer` saying what the function should return."""
    if not isinstance(value, (tuple, list)) or len(value) != len(names):
        got = type(value).__name__
        if hasattr(value, "__len__") and not isinstance(value, np.ndarray):
            got += f" of length {len(value)}"
        raise WrongAnswer(f"{what} should return a tuple ({', '.join(names)}), got {got}")
    return value


def _as_float_array(value, what):
    if value is None:
        raise WrongAnswer(f"{what} is None: does the function end with a `return` of its result?")
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


def expect_close(value, expected, what, rtol=1e-8, atol=1e-12, hint="", code=None):
    """Check ``value`` against ``expected`` and explain a mismatch.

    The message gives the largest error, relative to the size of the
    expected value, and the tolerance, then the hint; with ``code``, it names
    that misconception (:func:`mistake`).
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
    text = f"{detail}. {hint}".strip()
    raise mistake(code, text) if code else WrongAnswer(text)


def passed(message):
    """Print the line a student sees when a check passes (not while :func:`use_own` checks)."""
    if not _QUIET[0]:
        print(f"\u2713 {message}")
