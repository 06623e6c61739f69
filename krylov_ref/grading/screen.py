"""A static screen of the cells a student wrote, for the instructor's review.

The seals (:mod:`krylov_ref.checks._seal`) decide points; this screen only
*flags*. It reads each cell the student wrote or changed, after IPython's
own transformations (so ``%magic`` and ``!shell`` lines are seen as the
``get_ipython()`` calls they become), and reports the constructs that an
exercise never needs and that rewiring the grader does: introspection of
functions, frames and the garbage collector, the interpreter's hooks,
dynamic code, writing files or starting processes, and any mention of the
grader itself. A flag is a reason to look, not a verdict.
"""

from __future__ import annotations

import ast

__all__ = ["screen_source", "screen_notebook"]

# Modules an exercise never imports and a tampering cell does.
SUSPECT_MODULES = {
    "sys": "the interpreter's state", "builtins": "Python's built-in functions",
    "gc": "the garbage collector (finds any object)", "inspect": "introspection",
    "ctypes": "raw memory access", "importlib": "re-importing modules",
    "IPython": "IPython's hooks", "ipykernel": "the kernel", "traitlets": "IPython's configuration",
    "signal": "the time limit's alarm", "os": "the operating system", "subprocess": "processes",
    "shutil": "file operations", "pathlib": "file operations", "io": "redirected output",
    "types": "building functions and modules", "threading": "background threads",
    "multiprocessing": "processes", "weakref": "finalizers", "atexit": "exit hooks",
    "hmac": "signatures", "hashlib": "signatures", "pickle": "serialised code",
    "marshal": "serialised code", "dis": "bytecode", "code": "an interpreter",
    "codeop": "compiling code", "linecache": "source caches", "traceback": "tracebacks",
    "contextvars": "context state", "socket": "the network", "unittest": "mocking",
    "krylov_ref.checks": "the grader", "nbgrader": "the grading tool",
}
# Names that reach into namespaces or run code built at run time.
SUSPECT_CALLS = {
    "globals": "the notebook's namespace", "locals": "a namespace", "vars": "a namespace",
    "setattr": "setting attributes by name", "delattr": "deleting attributes by name",
    "exec": "running code built at run time", "eval": "running code built at run time",
    "compile": "compiling code", "__import__": "importing by name",
    "get_ipython": "IPython's hooks and magics", "breakpoint": "the debugger",
    "open": "reading or writing files", "getattr": "attributes by computed name",
}
# Attributes of functions, frames, classes and modules that lead to the grader's internals.
SUSPECT_ATTRIBUTES = {
    "__globals__", "__closure__", "__code__", "__dict__", "__builtins__", "__subclasses__",
    "__class__", "__bases__", "__mro__", "__self__", "__func__", "__wrapped__", "__defaults__",
    "__kwdefaults__", "__getattribute__", "__setattr__", "__delattr__", "__import__",
    "__loader__", "__spec__", "cell_contents", "f_globals", "f_locals", "f_back", "f_builtins",
    "tb_frame", "tb_next", "gi_frame", "cr_frame", "_getframe", "modules", "meta_path",
    "excepthook", "displayhook", "settrace", "setprofile", "checks", "_seal", "_RUNNER",
    "_AFTER_CALL", "_REGISTRY", "_PASSED", "set_custom_exc", "events", "display_pub",
    "input_transformers_cleanup", "input_transformers_post", "ast_transformers",
}


def _transformed(source):
    """The Python that IPython would run for this cell's text."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # pragma: no cover - IPython is always there with nbgrader
        return source
    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # a cell IPython itself cannot transform: screen it as it is
        return source


def screen_source(source):
    """Reasons to look at one cell's code: a list of short strings."""
    code = _transformed(source)
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []  # it cannot run, so it cannot tamper
    found = []

    def note(node, text):
        line = getattr(node, "lineno", None)
        found.append(f"line {line}: {text}" if line else text)

    module_aliases = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                module_aliases.add((alias.asname or alias.name).split(".")[0])
                _note_module(note, node, alias.name)
        elif isinstance(node, ast.ImportFrom):
            _note_module(note, node, node.module or "")
            for alias in node.names:
                if alias.name.startswith("check_") or alias.name in ("WrongAnswer", "exercise"):
                    note(node, f"imports {alias.name} (the grader)")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            name = node.func.id
            if name in SUSPECT_CALLS:
                if name == "getattr" and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) \
                        and isinstance(node.args[1].value, str) and not node.args[1].value.startswith("_"):
                    continue  # getattr(obj, "plain_name") is harmless
                note(node, f"calls {name}() ({SUSPECT_CALLS[name]})")
        elif isinstance(node, ast.Attribute) and node.attr in SUSPECT_ATTRIBUTES:
            note(node, f"uses the attribute .{node.attr}")
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            for name in node.names:
                if name.startswith("check_"):
                    note(node, f"declares the grader's name {name} global")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node.name.startswith("check_"):
                note(node, f"defines {node.name}, a name of the grader")
            if node.name == "__del__":
                note(node, "defines __del__ (code that runs at an unpredictable time)")
        elif isinstance(node, ast.Name) and node.id.startswith("check_") and \
                isinstance(node.ctx, (ast.Store, ast.Del)):
            note(node, f"assigns to {node.id}, a name of the grader")
    for node in ast.walk(tree):
        # np.allclose = ..., krylov_ref.x = ...: patching a module.
        targets = []
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
        for target in targets:
            root = target
            while isinstance(root, (ast.Attribute, ast.Subscript)):
                root = root.value
            if isinstance(target, ast.Attribute) and isinstance(root, ast.Name) and (
                    root.id in module_aliases or root.id in ("np", "numpy", "scipy", "sp", "spla",
                                                             "plt", "krylov_ref", "math")):
                note(node, f"changes an attribute of the module {root.id}")
    return sorted(set(found), key=lambda s: (len(s.split(":")[0]), s))


def _note_module(note, node, name):
    for module, why in SUSPECT_MODULES.items():
        if name == module or name.startswith(module + "."):
            note(node, f"imports {name} ({why})")
            return


def screen_notebook(nb, release_sources=()):
    """Screen every code cell the student wrote or changed.

    Parameters
    ----------
    nb : NotebookNode
        The submitted notebook (before execution).
    release_sources : collection of str
        The sources of the released notebook's cells: a cell found there
        unchanged is the course's own and is not screened, unless it is an
        answer cell.

    Returns
    -------
    list of (cell number, grade_id, reasons)
    """
    released = set(release_sources)
    results = []
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("locked") and not meta.get("solution"):
            continue  # restored from the gradebook before it runs
        if cell.get("source", "") in released and not meta.get("solution"):
            continue
        reasons = screen_source(cell.get("source", ""))
        if reasons:
            results.append((index + 1, meta.get("grade_id", ""), reasons))
    return results
