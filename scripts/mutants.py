"""Mutation testing of the graders: wrong variants of every solution must fail
its exercise's tests.

Usage: ``python scripts/mutants.py [--lesson NN_name ...] [--workers N] [--list]``
(``make mutants``; ``make test`` runs it after pytest). Without ``--lesson``,
the lessons are those of ``KRYLOV_TEST_LESSONS`` if it is set, else all.

For every exercise of every lesson in ``solutions/``, the solution code (the
answer cell, solution block included) is parsed and mutated one change at a
time: arithmetic and comparison operators swapped, integer constants +1 and
-1, off-by-one ``range`` bounds and slice bounds, statements deleted, terms
dropped from sums and differences, ``and``/``or`` and unary minus flipped.
Some operators have the shape of mistakes students were seen to make, which
the generic ones cannot produce: a clause dropped from an ``and``/``or`` (a
missing happy-breakdown test), ``max(a, b)`` written ``a + b`` (rtol * ||b||
+ atol instead of the larger of the two), a returned variable replaced by
another of the function's variables (p returned instead of d), and a
stopping tolerance relative to the initial residual ||b - A x0|| instead of
||b||.
Each variant (a *mutant*) replaces the answer and the exercise's visible and
hidden tests run on it, in a fresh namespace prepared as the notebook's
set-up cell and the earlier answer cells prepare it. A mutant is *killed* when
a test fails (any exception, or running out of time); a mutant that *survives*
is a wrong answer the graded tests would accept.

A surviving mutant fails the run unless it is listed, with a one-line
reason, in ``tests/mutants_equivalent.json`` (variants reviewed as
equivalent to the solution: the same results on every input the contract
allows). The kill rate per lesson is printed.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENT = ROOT / "tests" / "mutants_equivalent.json"
TIME_LIMIT = 5  # seconds per mutant (the check's own limit is set below it)

sys.path.insert(0, str(ROOT / "scripts"))


# --------------------------------------------------------------------------
# Generating mutants

SWAP_BINOP = {ast.Add: [ast.Sub], ast.Sub: [ast.Add], ast.Mult: [ast.Div], ast.Div: [ast.Mult],
              ast.Pow: [ast.Mult], ast.FloorDiv: [ast.Div], ast.MatMult: [ast.Mult],
              ast.Mod: [ast.FloorDiv]}
SWAP_COMPARE = {ast.Lt: [ast.LtE, ast.Gt], ast.LtE: [ast.Lt, ast.GtE], ast.Gt: [ast.GtE, ast.Lt],
                ast.GtE: [ast.Gt, ast.LtE], ast.Eq: [ast.NotEq], ast.NotEq: [ast.Eq],
                ast.Is: [ast.IsNot], ast.IsNot: [ast.Is]}
SWAP_BOOL = {ast.And: ast.Or, ast.Or: ast.And}


def _segment(source, node):
    return (ast.get_source_segment(source, node) or ast.unparse(node)).strip()


class _Sites(ast.NodeVisitor):
    """Every place in a function body where one mutation can be made."""

    def __init__(self):
        self.sites = []  # (node, kind, payload)
        self._in_body = 0

    def visit_FunctionDef(self, node):
        # Mutate the body, not the signature's defaults (the contract).
        self._in_body += 1
        self._locals = sorted({n.id for n in ast.walk(node)
                               if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)})
        params = {a.arg for a in node.args.args + node.args.kwonlyargs}
        self._has_system = {"A", "x0"} <= params
        for stmt in node.body:
            self.visit(stmt)
        self._in_body -= 1

    def visit_Return(self, node):
        # A returned variable replaced by another variable of the function.
        if self._in_body and node.value is not None:
            for name in _returned_names(node.value):
                if name.id in self._locals:
                    for other in self._locals:
                        if other != name.id:
                            self.sites.append((name, "return_name", other))
        self.generic_visit(node)

    _mentions_rtol = False
    _has_system = False
    _locals = ()

    def generic_visit(self, node):
        if self._in_body:
            outer = self._mentions_rtol
            if isinstance(node, ast.stmt) and not isinstance(node, ast.FunctionDef):
                self._mentions_rtol = any(isinstance(n, ast.Name) and n.id == "rtol"
                                          for n in ast.walk(node))
            self._collect(node)
            super().generic_visit(node)
            self._mentions_rtol = outer
            return
        super().generic_visit(node)

    def _collect(self, node):
        if isinstance(node, ast.BinOp):
            for new in SWAP_BINOP.get(type(node.op), []):
                self.sites.append((node, "binop", new))
            if isinstance(node.op, (ast.Add, ast.Sub)):
                self.sites.append((node, "drop", "right"))
                if isinstance(node.op, ast.Add):
                    self.sites.append((node, "drop", "left"))
        elif isinstance(node, ast.AugAssign):
            for new in SWAP_BINOP.get(type(node.op), []):
                self.sites.append((node, "augop", new))
        elif isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                for new in SWAP_COMPARE.get(type(op), []):
                    self.sites.append((node, "compare", (i, new)))
        elif isinstance(node, ast.BoolOp):
            self.sites.append((node, "boolop", SWAP_BOOL[type(node.op)]))
            for i in range(len(node.values)):
                self.sites.append((node, "boolop_drop", i))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id == "max" and len(node.args) == 2 and not node.keywords):
            self.sites.append((node, "max_to_sum", None))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not)):
            self.sites.append((node, "unary", None))
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            for delta in (1, -1):
                self.sites.append((node, "const", delta))
        elif (isinstance(node, ast.Call) and self._has_system and _is_norm_of(node, "b")
              and self._mentions_rtol):
            self.sites.append((node, "norm_r0", None))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range":
            for i in range(len(node.args[:2])):
                for delta in (1, -1):
                    self.sites.append((node, "range", (i, delta)))
        elif isinstance(node, ast.Slice):
            for part in ("lower", "upper"):
                if getattr(node, part) is not None:
                    for delta in (1, -1):
                        self.sites.append((node, "slice", (part, delta)))
        docstring = (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
                     and isinstance(node.value.value, str))
        if isinstance(node, ast.stmt) and not isinstance(node, (ast.FunctionDef, ast.Return)) \
                and not docstring:
            self.sites.append((node, "delete", None))


def _returned_names(value):
    """The variables a return statement returns: the value, the items of a
    returned tuple, and the branches of a conditional expression among them."""
    items = value.elts if isinstance(value, ast.Tuple) else [value]
    names = []
    for item in items:
        branches = [item.body, item.orelse] if isinstance(item, ast.IfExp) else [item]
        names += [b for b in branches if isinstance(b, ast.Name)]
    return names


def _is_norm_of(node, name):
    """``<...>.norm(name)``: a norm of the right-hand side."""
    return (isinstance(node.func, ast.Attribute) and node.func.attr == "norm"
            and len(node.args) == 1 and isinstance(node.args[0], ast.Name)
            and node.args[0].id == name)


def _shift(expr, delta):
    return ast.BinOp(left=expr, op=ast.Add() if delta > 0 else ast.Sub(), right=ast.Constant(abs(delta)))


def _apply(tree, target, kind, payload):
    """A copy of ``tree`` with one mutation applied at ``target`` (by position)."""
    tree = copy.deepcopy(tree)
    for node in ast.walk(tree):
        if (getattr(node, "lineno", None), getattr(node, "col_offset", None),
                getattr(node, "end_col_offset", None), type(node)) == target:
            break
    else:
        raise LookupError("mutation site not found")
    if kind == "binop":
        node.op = payload()
    elif kind == "augop":
        node.op = payload()
    elif kind == "compare":
        i, new = payload
        node.ops[i] = new()
    elif kind == "boolop":
        node.op = payload()
    elif kind == "unary":
        _replace(tree, node, node.operand)
    elif kind == "const":
        node.value += payload
    elif kind == "range":
        i, delta = payload
        node.args[i] = _shift(node.args[i], delta)
    elif kind == "slice":
        part, delta = payload
        setattr(node, part, _shift(getattr(node, part), delta))
    elif kind == "drop":
        _replace(tree, node, node.left if payload == "right" else node.right)
    elif kind == "delete":
        _replace(tree, node, ast.Pass())
    elif kind == "boolop_drop":
        rest = [v for i, v in enumerate(node.values) if i != payload]
        _replace(tree, node, rest[0] if len(rest) == 1 else ast.BoolOp(op=node.op, values=rest))
    elif kind == "max_to_sum":
        _replace(tree, node, ast.BinOp(left=node.args[0], op=ast.Add(), right=node.args[1]))
    elif kind == "return_name":
        node.id = payload
    elif kind == "norm_r0":
        # ||b|| -> ||b - A @ x||: the tolerance relative to the initial residual.
        node.args[0] = ast.BinOp(left=ast.Name("b", ast.Load()), op=ast.Sub(),
                                 right=ast.BinOp(left=ast.Name("A", ast.Load()), op=ast.MatMult(),
                                                 right=ast.Name("x", ast.Load())))
    return ast.fix_missing_locations(tree)


def _replace(tree, old, new):
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, field, new)
                return
            if isinstance(value, list) and any(v is old for v in value):
                setattr(parent, field, [new if v is old else v for v in value])
                return
    raise LookupError("parent not found")


def mutants_of(source):
    """(mutant id, description, mutated source) for every single mutation."""
    tree = ast.parse(source)
    finder = _Sites()
    finder.visit(tree)
    original = ast.unparse(tree)
    seen = set()
    for node, kind, payload in finder.sites:
        target = (node.lineno, node.col_offset, node.end_col_offset, type(node))
        mutated = _apply(tree, target, kind, payload)
        text = ast.unparse(mutated)
        if text == original or text in seen:
            continue
        seen.add(text)
        line = source.splitlines()[node.lineno - 1].strip()
        new_segment = _changed_line(original, text)
        description = f"{kind}: `{line}` -> `{new_segment}`"
        mutant_id = hashlib.sha1(f"{line}|{kind}|{new_segment}".encode()).hexdigest()[:10]
        yield mutant_id, description, text


def _changed_line(before, after):
    a, b = before.splitlines(), after.splitlines()
    for x, y in zip(a, b):
        if x != y:
            return y.strip()
    return (b[len(a)] if len(b) > len(a) else "(line deleted)").strip()


# --------------------------------------------------------------------------
# The lessons' exercises


def exercises(name):
    """For each exercise: (base name, its answer source, sources of the cells
    that prepare it, its test sources)."""
    from coursekit import nbgrader_meta, read, solution_path

    cells = read(solution_path(name)).cells
    setup = [c.source for c in cells if c.cell_type == "code"][:1]
    strip = lambda src: "\n".join(l for l in src.split("\n")
                                  if "### BEGIN" not in l and "### END" not in l)
    found, answers = [], []
    for i, cell in enumerate(cells):
        meta = nbgrader_meta(cell)
        if not meta.get("solution"):
            continue
        base = meta["grade_id"].removesuffix("_answer")
        tests = [strip(c.source) for c in cells[i + 1:i + 3]
                 if nbgrader_meta(c).get("grade") and not nbgrader_meta(c).get("solution")]
        found.append((base, strip(cell.source), setup + list(answers), tests))
        answers.append(strip(cell.source))
    return found


# --------------------------------------------------------------------------
# Running one mutant


def _run(task):
    """Execute one mutant's tests in this worker; True if it was killed."""
    prepare, answer, tests = task
    import signal

    def out_of_time(signum, frame):
        raise TimeoutError("mutant ran out of time")

    namespace = {"__name__": "__mutant__"}
    previous = signal.signal(signal.SIGALRM, out_of_time)
    try:
        with open(os.devnull, "w") as devnull:
            stdout, sys.stdout = sys.stdout, devnull
            try:
                # The set-up cell and the earlier (unmutated) answers run
                # before the clock starts: a worker's first job imports the
                # lesson's libraries, which on a busy machine can take
                # seconds that say nothing about the mutant.
                for source in prepare:
                    exec(compile(source, "<prepare>", "exec"), namespace)
                signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT)
                exec(compile(answer, "<mutant>", "exec"), namespace)
                for source in tests:
                    exec(compile(source, "<test>", "exec"), namespace)
            finally:
                sys.stdout = stdout
        return False
    except BaseException:  # any failure of the tests kills the mutant
        return True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _init_worker():
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ["KRYLOV_REF_TIME_LIMIT"] = str(TIME_LIMIT - 1)
    import warnings

    warnings.simplefilter("ignore")
    import krylov_ref.checks  # noqa: F401 (import once per worker)


def load_equivalent():
    if not EQUIVALENT.exists():
        return {}
    return {(e["lesson"], e["exercise"], e["id"]): e for e in json.loads(EQUIVALENT.read_text())}


def run(lessons, workers, log=print):
    """Run every mutant of ``lessons``; return (per-lesson stats, unexplained survivors)."""
    equivalent = load_equivalent()
    jobs, meta = [], []
    for name in lessons:
        for base, answer, prepare, tests in exercises(name):
            # The solution itself must pass, or every mutant would look killed.
            jobs.append((prepare, answer, tests))
            meta.append((name, base, "solution", "the solution itself", answer))
            for mutant_id, description, source in mutants_of(answer):
                jobs.append((prepare, source, tests))
                meta.append((name, base, mutant_id, description, source))
    start = time.perf_counter()
    context = multiprocessing.get_context("fork")
    with context.Pool(workers, initializer=_init_worker, maxtasksperchild=50) as pool:
        killed = pool.map(_run, jobs, chunksize=1)
    stats, survivors, broken = {}, [], []
    for (name, base, mutant_id, description, source), dead in zip(meta, killed):
        if mutant_id == "solution":
            if dead:
                broken.append((name, base))
            continue
        s = stats.setdefault(name, {"mutants": 0, "killed": 0, "equivalent": 0})
        s["mutants"] += 1
        if dead:
            s["killed"] += 1
        elif (name, base, mutant_id) in equivalent:
            s["equivalent"] += 1
        else:
            survivors.append(dict(lesson=name, exercise=base, id=mutant_id,
                                  description=description))
    log(f"{len(jobs)} runs in {time.perf_counter() - start:.0f} s with {workers} workers")
    log(f"{'lesson':24s} {'mutants':>8s} {'killed':>8s} {'equivalent':>11s} {'kill rate':>10s}")
    for name, s in stats.items():
        rate = s["killed"] / max(1, s["mutants"] - s["equivalent"])
        log(f"{name:24s} {s['mutants']:8d} {s['killed']:8d} {s['equivalent']:11d} {rate:10.1%}")
    stale = [key for key in equivalent if key[0] in lessons
             and key not in {(n, b, i) for n, b, i, _, _ in meta}]
    return stats, survivors, broken, stale


def main(argv=None):
    from coursekit import lesson_path  # noqa: F401  (scripts/ on the path)
    from release import lesson_command

    args = lesson_command(__doc__.split("\n\n")[0], "the mutants", argv)
    lessons = args.lessons
    if args.list:
        for name in lessons:
            for base, answer, _, _ in exercises(name):
                for mutant_id, description, _ in mutants_of(answer):
                    print(f"{name} {base} {mutant_id} {description}")
        return 0
    stats, survivors, broken, stale = run(lessons, args.workers)
    for name, base in broken:
        print(f"BROKEN: the solution of {name}/{base} fails its own tests")
    for s in survivors:
        print(f"SURVIVED: {s['lesson']} {s['exercise']} {s['id']} {s['description']}")
    for key in stale:
        print(f"note: {EQUIVALENT.name} lists {key}, which is no longer generated")
    if survivors:
        print(f"{len(survivors)} mutant(s) survived: strengthen the tests, or add each to "
              f"{os.path.relpath(EQUIVALENT, ROOT)} with a one-line reason if it is equivalent")
    return 1 if survivors or broken else 0


if __name__ == "__main__":
    sys.exit(main())
