"""Seals: evidence, checkable outside the kernel, that a test cell's checks
ran unmodified and passed.

At autograde time the instructor's tools (:mod:`krylov_ref.grading`) insert
a first cell that calls :func:`arm` with a fresh key, before any of the
student's code has run. From then on every check that passes publishes a
*seal*: an HMAC of the check's name, its arguments and a sequence number,
as a display output of a MIME type that notebooks and feedback pages do not
show. Outside the kernel the grader recomputes each HMAC; a test cell that
ran without the seals its source calls for earns no points and is flagged.

Arming also takes a snapshot of the grader's world (the ``krylov_ref``
modules, NumPy and SciPy functions the checks rely on, ``sys.modules``,
IPython's hooks). Before and after each check the snapshot is compared with
the present; a difference means an answer cell rewired the grader: no seal
is issued, and a *tamper report* names what changed and the cell after
which it was first seen.

What this cannot stop (see the instructor guide): code in the same
interpreter can, with introspection (``gc``, frame and closure attributes,
``ctypes``), reach the signing object; the static screen in
:mod:`krylov_ref.grading.screen` flags such code for the instructor.

Nothing here does anything until :func:`arm` is called: in a student's
JupyterLab the checks run exactly as without it.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import json
import os
import sys

__all__ = ["MIME_SEAL", "MIME_TAMPER", "MIME_DIAGNOSIS", "arm", "canonical_args", "seal_message"]

MIME_SEAL = "application/vnd.krylov-ref.seal+json"
MIME_TAMPER = "application/vnd.krylov-ref.tamper+json"
# A failing check's diagnosis: the misconception codes its message names.
MIME_DIAGNOSIS = "application/vnd.krylov-ref.diagnosis+json"

# Modules whose functions the checks call. Replacing one of their callables
# (np.allclose, krylov_ref.checks.expect_close, ...) changes a verdict.
WATCHED_PREFIXES = ("krylov_ref",)
WATCHED_MODULES = (
    "builtins", "math", "json", "hmac", "hashlib", "signal", "functools", "inspect",
    "contextlib", "threading", "traceback", "linecache", "textwrap", "importlib",
    "numpy", "numpy.linalg", "numpy.linalg._linalg", "numpy.random", "numpy._core.numeric",
    "numpy._core.fromnumeric", "numpy._core.multiarray", "numpy._core._methods",
    "numpy._core.umath",
    "scipy", "scipy.linalg", "scipy.sparse", "scipy.sparse.linalg",
    "IPython", "IPython.display", "IPython.core.display_functions",
)
# Attributes that change on their own: ipykernel installs a new input() for
# every request it executes.
VOLATILE = {("builtins", "input"), ("builtins", "raw_input"), ("builtins", "getpass")}
# Attributes of sys and of IPython's shell that decide what a cell's output is.
SYS_HOOKS = ("displayhook", "excepthook", "stdout", "stderr", "modules", "meta_path")
SHELL_HOOKS = ("custom_exceptions", "CustomTB", "displayhook", "display_pub",
               "display_formatter", "input_transformer_manager", "ast_transformers",
               "InteractiveTB", "SyntaxTB", "showtraceback", "showsyntaxerror",
               "run_cell", "run_cell_async", "run_ast_nodes", "run_code", "transform_cell",
               "_showtraceback", "set_custom_exc", "should_run_async")


def canonical_args(params):
    """JSON text of a check's non-function arguments, as both sides write it."""
    def plain(value):
        if hasattr(value, "item") and callable(value.item):  # NumPy scalars
            return value.item()
        return value
    return json.dumps({k: plain(v) for k, v in sorted(params.items())}, sort_keys=True)


def seal_message(check, args_json, seq):
    """The text a seal signs: which check, with which arguments, in which order."""
    return json.dumps({"check": check, "args": json.loads(args_json), "seq": seq},
                      sort_keys=True)


def _module_snapshot():
    names = [n for n in list(sys.modules)
             if n in WATCHED_MODULES or any(n == p or n.startswith(p + ".") for p in WATCHED_PREFIXES)]
    snap = {}
    for name in names:
        module = sys.modules.get(name)
        if module is None:
            continue
        own = name.startswith(WATCHED_PREFIXES)
        # Our own modules: every attribute. Others: their callables, classes
        # and submodules (their plain values, such as caches, may change).
        attrs = {k: v for k, v in vars(module).items()
                 if own or callable(v) or isinstance(v, type(sys))}
        snap[name] = (module, attrs)
    return snap


def _shell_state(shell):
    state = {}
    for name in SYS_HOOKS:
        state[f"sys.{name}"] = getattr(sys, name, None)
    state["sys.gettrace()"] = sys.gettrace()
    state["sys.getprofile()"] = sys.getprofile()
    if shell is None:
        return state
    for name in SHELL_HOOKS:
        # A method replaced on the instance shows up in its __dict__.
        state[f"shell.{name}"] = vars(shell).get(name, getattr(type(shell), name, None))
    for name in ("input_transformers_cleanup", "input_transformers_post", "ast_transformers"):
        state[f"shell.{name}[]"] = tuple(getattr(shell, name, ()) or ())
    for event, callbacks in shell.events.callbacks.items():
        state[f"shell.events[{event}]"] = tuple(callbacks)
    return state


def _same(a, b):
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(x is y or x == y for x, y in zip(a, b))
    return a is b or (callable(a) and a == b)  # bound methods compare by ==


def _from_library(callback):
    code = getattr(getattr(callback, "__func__", callback), "__code__", None)
    if code is None:
        return False
    from ._report import _is_library_file

    return _is_library_file(code.co_filename)


def _callbacks_changed(before, after):
    """True if an event's callbacks lost one, or gained one that is not a library's.

    matplotlib's inline backend registers its own callback when the first
    figure is drawn; a callback defined in a notebook cell is the student's.
    """
    removed = [cb for cb in before if not any(cb == x for x in after)]
    added = [cb for cb in after if not any(cb == x for x in before)]
    return bool(removed) or any(not _from_library(cb) for cb in added)


def _differences(modules, shell_state, shell):
    changes = []
    for name, (module, attrs) in modules.items():
        if sys.modules.get(name) is not module:
            changes.append(f"sys.modules[{name!r}] was replaced")
            continue
        now = vars(module)
        for key, value in attrs.items():
            if (name, key) in VOLATILE:
                continue
            if key not in now:
                changes.append(f"{name}.{key} was deleted")
            elif now[key] is not value:
                changes.append(f"{name}.{key} was replaced")
    now_state = _shell_state(shell)
    for key, value in shell_state.items():
        if key.startswith("shell.events[") and isinstance(value, tuple):
            if _callbacks_changed(value, now_state.get(key, ())):
                changes.append(f"{key} was changed")
        elif not _same(value, now_state.get(key)):
            changes.append(f"{key} was changed")
    for key in set(now_state) - set(shell_state):
        if now_state[key]:
            changes.append(f"{key} was added")
    return changes


def _import_checks():
    """Every krylov_ref.checks module, so that the snapshot covers them all."""
    import krylov_ref.checks as checks

    folder = os.path.dirname(checks.__file__)
    for filename in sorted(os.listdir(folder)):
        if filename.startswith("lesson") and filename.endswith(".py"):
            importlib.import_module(f"krylov_ref.checks.{filename[:-3]}")
    return checks


def arm(key_file, _state=[]):  # noqa: B006 (the list is the once-only guard)
    """Start sealing: read the key from ``key_file`` and delete the file.

    Called once, by the first cell of a notebook being autograded. Imports
    every module the checks use before taking the snapshot, so that later
    imports do not look like changes. Installs, in ``krylov_ref.checks``, the
    runner through which every check then runs; the key and the signing
    object stay in this function's closures.
    """
    if _state:
        raise RuntimeError("the grader is already armed in this kernel")
    _state.append(True)
    with open(key_file, "rb") as f:
        key = f.read()
    try:
        os.unlink(key_file)
    except OSError:
        # Read-only in the sandbox: the grader deletes it once this cell has run.
        if not os.path.exists(key_file):
            raise
    if len(key) < 32:
        raise RuntimeError("the grading key is too short")

    import inspect

    import matplotlib.pyplot  # noqa: F401 (its inline backend registers hooks on import)
    import numpy  # noqa: F401
    import scipy.linalg  # noqa: F401
    import scipy.sparse.linalg  # noqa: F401
    from IPython import get_ipython
    from IPython.display import display  # noqa: F401

    checks = _import_checks()
    shell = get_ipython()
    publish = shell.display_pub.publish if shell is not None else None
    signer = hmac.new(key, digestmod=hashlib.sha256)
    del key
    registry = checks._freeze_registry()
    first_seen = []    # (execution count, changes): when a difference first appeared
    violations = []    # differences seen right after a student's call returned
    counter = [0]

    def emit(mime, payload):
        if publish is not None:
            publish(data={mime: payload}, metadata={})

    def world_changes():
        changes = _differences(modules, shell_state, shell)
        if checks._RUNNER[0] is not run_sealed:
            changes.append("krylov_ref.checks._RUNNER was changed")
        if checks._AFTER_CALL[0] is not after_student_call:
            changes.append("krylov_ref.checks._AFTER_CALL was changed")
        return changes

    def track(result):
        if not first_seen:
            changes = world_changes()
            if changes:
                first_seen.append((getattr(result, "execution_count", None), changes))

    def after_student_call():
        # A student's function that patches the grader while it runs, and
        # puts things back later, is caught here, between its calls.
        if not violations:
            violations.extend(world_changes())

    def diagnose(name, exc):
        from ._report import GENERIC_CODES, WrongAnswer, codes_of

        codes = list(codes_of(exc))
        if not codes:
            kind = type(exc).__name__ if isinstance(exc, WrongAnswer) else "CheckCrashed"
            codes = [GENERIC_CODES.get(kind, "unrecognised")]
        counter[0] += 1
        message = json.dumps({"check": name, "codes": codes, "seq": counter[0]}, sort_keys=True)
        mac = signer.copy()
        mac.update(message.encode())
        emit(MIME_DIAGNOSIS, {"message": message, "mac": mac.hexdigest()})

    def run_sealed(wrapper, args, kwargs):
        entry = registry.get(id(wrapper))
        if entry is None or entry[0] is not wrapper:
            emit(MIME_TAMPER, {"check": getattr(wrapper, "__qualname__", repr(wrapper)),
                               "changes": ["this check is not one of the course's checks"],
                               "first_seen_after_cell": None})
            return
        _, inner, code = entry
        changes = world_changes()
        if inner.__code__ is not code:
            changes.append(f"the code of {inner.__qualname__} was replaced")
        del violations[:]
        name = f"{inner.__module__}.{inner.__qualname__}"
        try:
            inner(*args, **kwargs)
        except BaseException as exc:
            # A failing check: no seal, the error is the verdict. Its
            # diagnosis (the misconceptions it names) is sealed for the
            # class report, so that it cannot be forged or changed.
            diagnose(name, exc)
            raise
        changes += violations + world_changes()
        if changes:
            since = first_seen[0][0] if first_seen else None
            emit(MIME_TAMPER, {"check": name, "changes": sorted(set(changes))[:12],
                               "first_seen_after_cell": since})
            return
        bound = inspect.signature(inner).bind(*args, **kwargs)
        bound.apply_defaults()
        params = {k: v for k, v in bound.arguments.items() if not callable(v)}
        counter[0] += 1
        message = seal_message(name, canonical_args(params), counter[0])
        mac = signer.copy()
        mac.update(message.encode())
        emit(MIME_SEAL, {"message": message, "mac": mac.hexdigest()})

    checks._RUNNER[0] = run_sealed
    checks._AFTER_CALL[0] = after_student_call
    if shell is not None:
        shell.events.register("post_run_cell", track)
    # What the submission tries outside its notebook, reported cell by cell.
    from ._audit import install as install_audit

    install_audit(emit, shell)
    # The snapshot is taken last, so that it includes the runner and the hook.
    modules = _module_snapshot()
    shell_state = _shell_state(shell)
    return None
