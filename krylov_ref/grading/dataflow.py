"""Which names a notebook cell binds and reads at the notebook's top level.

Two uses:

* a lesson must never rebind, in a demonstration, a name that an exercise
  defines or that a test cell uses (``tests/test_notebooks.py``);
* when grading, a demonstration cell is skipped only if no cell that still
  runs reads a name it binds (:func:`demonstrations_to_skip`).

The analysis is static and deliberately conservative: a cell whose names
cannot be known statically (``globals()``, ``exec``, ``get_ipython()``, a
syntax error, ...) is *dynamic*, and a dynamic cell that runs keeps every
earlier demonstration running.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass, field

__all__ = ["CellNames", "cell_names", "demonstrations_to_skip"]

# Calls that reach the notebook's namespace, or run code, by name at run time.
DYNAMIC_CALLS = {"globals", "locals", "vars", "eval", "exec", "compile", "__import__",
                 "get_ipython", "getattr", "setattr", "delattr", "breakpoint"}
DYNAMIC_NAMES = {"__builtins__", "__main__", "_ih", "_oh", "In", "Out", "__dict__"}
DYNAMIC_ATTRIBUTES = {"modules", "f_globals", "f_locals", "__globals__", "user_ns",
                      "__dict__", "_getframe", "f_back"}


@dataclass
class CellNames:
    """What a cell does with top-level names."""

    bound: set = field(default_factory=set)
    read: set = field(default_factory=set)       # at run time of the cell, or later by its functions
    deferred: set = field(default_factory=set)   # read inside function, lambda and class bodies
    code: set = field(default_factory=set)       # bound to functions, classes and modules only
    constants: set = field(default_factory=set)  # bound to literal constants only
    dynamic: list = field(default_factory=list)  # why the names cannot be known


class _Visitor(ast.NodeVisitor):
    def __init__(self, names):
        self.n = names

    def _reads_within(self, node):
        # A function's body runs later, when called: every global name it
        # mentions may be read from the notebook's namespace then. Its own
        # parameters and assignments are local (approximately: any name
        # assigned or taken as a parameter anywhere inside is local).
        local = set()
        for sub in ast.walk(node):
            if isinstance(sub, ast.arg):
                local.add(sub.arg)
            elif isinstance(sub, ast.Name) and not isinstance(sub.ctx, ast.Load):
                local.add(sub.id)
            elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and sub is not node:
                local.add(sub.name)
            elif isinstance(sub, (ast.Import, ast.ImportFrom)):
                local.update((a.asname or a.name).split(".")[0] for a in sub.names)
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and sub.id not in local:
                self.n.read.add(sub.id)
                self.n.deferred.add(sub.id)
            self._dynamic(sub)

    def visit_Assign(self, node):
        if _is_constant(node.value):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self.n.constants.add(target.id)
        self.generic_visit(node)

    def _dynamic(self, node):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in DYNAMIC_CALLS:
            self.n.dynamic.append(f"calls {node.func.id}()")
        elif isinstance(node, ast.Name) and node.id in DYNAMIC_NAMES:
            self.n.dynamic.append(f"uses {node.id}")
        elif isinstance(node, ast.Attribute) and node.attr in DYNAMIC_ATTRIBUTES:
            self.n.dynamic.append(f"uses .{node.attr}")
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            self.n.dynamic.append("declares global names in a function")

    def generic_visit(self, node):
        self._dynamic(node)
        super().generic_visit(node)

    def visit_FunctionDef(self, node):
        self.n.bound.add(node.name)
        self.n.code.add(node.name)
        self._reads_within(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        self.n.bound.add(node.name)
        self.n.code.add(node.name)
        self._reads_within(node)

    def visit_Lambda(self, node):
        self._reads_within(node)

    def _comprehension(self, node):
        self._reads_within(node)
        for sub in ast.walk(node):
            if isinstance(sub, ast.NamedExpr):   # := in a comprehension binds outside it
                self.n.bound.add(sub.target.id)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension

    def visit_Import(self, node):
        for alias in node.names:
            self.n.bound.add(alias.asname or alias.name.split(".")[0])
            self.n.code.add(alias.asname or alias.name.split(".")[0])

    def visit_ImportFrom(self, node):
        for alias in node.names:
            if alias.name == "*":
                self.n.dynamic.append("imports *")
            self.n.bound.add(alias.asname or alias.name)
            self.n.code.add(alias.asname or alias.name)

    def visit_Name(self, node):
        self._dynamic(node)
        (self.n.read if isinstance(node.ctx, ast.Load) else self.n.bound).add(node.id)

    def visit_AugAssign(self, node):
        if isinstance(node.target, ast.Name):
            self.n.read.add(node.target.id)
        self.generic_visit(node)

    def visit_ExceptHandler(self, node):
        if node.name:
            self.n.bound.add(node.name)
        self.generic_visit(node)

    def visit_MatchAs(self, node):
        if node.name:
            self.n.bound.add(node.name)
        self.generic_visit(node)

    def visit_MatchStar(self, node):
        if node.name:
            self.n.bound.add(node.name)

    def visit_MatchMapping(self, node):
        if node.rest:
            self.n.bound.add(node.rest)
        self.generic_visit(node)


def _is_constant(node):
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp):
        return _is_constant(node.operand)
    if isinstance(node, ast.BinOp):
        return _is_constant(node.left) and _is_constant(node.right)
    if isinstance(node, ast.Tuple):
        return all(_is_constant(e) for e in node.elts)
    return False


def cell_names(source):
    r"""The top-level names ``source`` binds and reads, and whether it is dynamic.

    IPython syntax (magics, ``!`` commands) is translated first; what it
    turns into calls ``get_ipython()``, so such a cell is dynamic.

    >>> names = cell_names("x = f(y)\ndef g(z):\n    return w + z")
    >>> sorted(names.bound), sorted(names.read), names.dynamic
    (['g', 'x'], ['f', 'w', 'y'], [])
    >>> cell_names("globals()['A'] = 1").dynamic
    ['calls globals()']
    """
    names = _cell_names(source)
    # A copy: callers may change theirs; the analysis is cached per source
    # (a class's submissions share most of their cells).
    return CellNames(set(names.bound), set(names.read), set(names.deferred), set(names.code),
                     set(names.constants), list(names.dynamic))


@functools.lru_cache(maxsize=None)
def _transform():
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell


@functools.lru_cache(maxsize=4096)
def _cell_names(source):
    names = CellNames()
    try:
        python = _transform()(source)
    except Exception as exc:  # not even IPython can read it
        names.dynamic.append(f"cannot be read ({type(exc).__name__})")
        return names
    try:
        tree = ast.parse(python)
    except SyntaxError:
        names.dynamic.append("has a syntax error")
        return names
    _Visitor(names).visit(tree)
    return names


def demonstrations_to_skip(cells, candidates, student=()):
    r"""The candidate cells that may be skipped, and why none are if so.

    Parameters
    ----------
    cells : list of str
        The sources of a notebook's code cells, in order.
    candidates : set of int
        Indices of the cells the instructor marked as demonstrations that
        need not run when grading (and that the submission left as released).
    student : set of int
        Indices of the cells holding the student's code (answers, and any
        cell that is not as released).

    Returns
    -------
    skip : set of int
        The candidates that no running cell depends on. A candidate runs
        after all if a later cell that runs reads a name it binds (directly,
        or through another candidate that must run).
    reason : str
        Why nothing is skipped when the student's code makes skipping
        unsafe, else "". Nothing is skipped when a student's cell reaches the
        namespace dynamically (``globals()``, ``exec``, ...), or when a
        function of the student's reads a global that holds data (its result
        could then depend on what a demonstration did to that data, or on
        how many times a demonstration called it).

    >>> sorted(demonstrations_to_skip(["A = 1", "B = 2", "print(A)"], {0, 1})[0])
    [1]
    >>> demonstrations_to_skip(["A = np.eye(2)", "def f(x):\n    return A @ x"], {0}, {1})
    (set(), "a function of the student's reads the global `A`, which holds data")
    """
    info = [cell_names(source) for source in cells]
    code, constants, data = set(), set(), set()
    for names in info:
        data |= names.bound - names.code - names.constants
        code |= names.code
        constants |= names.constants
    for index in sorted(student):
        names = info[index]
        if names.dynamic:
            return set(), f"the student's code {names.dynamic[0]}"
        for name in sorted(names.deferred & data):
            return set(), f"a function of the student's reads the global `{name}`, which holds data"
    skip = set(candidates)
    needed = set()
    # Walk backwards: a cell that runs needs what it reads from cells above it.
    for index in range(len(cells) - 1, -1, -1):
        names = info[index]
        if index in skip:
            if names.bound & needed:
                skip.discard(index)
            else:
                continue
        needed |= names.read
    return skip, ""
