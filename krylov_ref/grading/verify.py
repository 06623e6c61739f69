"""Check a notebook's seals after it ran, outside the kernel.

The kernel side is :mod:`krylov_ref.checks._seal`. Here, with the key that
only the grading process knows, every graded test cell is held to its own
source: each ``check_*(...)`` call in it must have left exactly one valid
seal, for that check with those arguments, in notebook order. A test cell
that did not fail and yet lacks its seals did not run the course's checks
(a rebound name, a patched module, a swallowed exception, ...): it is given
an error output, so nbgrader scores it 0, and the reason is reported.
"""

from __future__ import annotations

import ast
import hashlib
import hmac
import importlib
import inspect
import json
from dataclasses import dataclass, field

from nbformat.notebooknode import NotebookNode

from ..checks._seal import MIME_DIAGNOSIS, MIME_SEAL, MIME_TAMPER, canonical_args

__all__ = ["Flag", "expected_calls", "verify_notebook", "INTEGRITY_ERROR"]

INTEGRITY_ERROR = "IntegrityError"
_CHECKS_PACKAGE = "krylov_ref.checks."
_STUDENT = object()  # stands for a name (the student's function) in a parsed call


@dataclass
class Flag:
    """Something the instructor should see about one cell of one submission."""

    kind: str          # "tampered", "unsealed", "forged", "edited test", "deleted test", "screen"
    cell: int          # 1-based position of the cell in the notebook
    grade_id: str      # the nbgrader id of the cell, or ""
    detail: str
    zeroed: bool = False  # True when the cell's points were taken away

    def as_dict(self):
        return dict(kind=self.kind, cell=self.cell, grade_id=self.grade_id, detail=self.detail,
                    zeroed=self.zeroed)


@dataclass
class Call:
    name: str
    literal_args: tuple = ()
    literal_kwargs: dict = field(default_factory=dict)
    positional: tuple = ()  # for each positional argument: True if it is a literal


def expected_calls(source):
    """The ``check_*(...)`` calls of a test cell, or None if it holds anything else.

    Only top-level calls of a name starting with ``check_`` whose arguments
    are the student's function names and literal values count.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    calls = []
    for node in tree.body:
        if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Name)
                and node.value.func.id.startswith("check_")):
            return None
        call = node.value
        args, positional = [], []
        for arg in call.args:
            if isinstance(arg, ast.Name):
                args.append(_STUDENT)
                positional.append(False)
            else:
                try:
                    args.append(ast.literal_eval(arg))
                except ValueError:
                    return None
                positional.append(True)
        kwargs = {}
        for kw in call.keywords:
            if kw.arg is None:
                return None
            if isinstance(kw.value, ast.Name):
                kwargs[kw.arg] = _STUDENT  # a function of the student's
                continue
            try:
                kwargs[kw.arg] = ast.literal_eval(kw.value)
            except ValueError:
                return None
        calls.append(Call(call.func.id, tuple(args), kwargs, tuple(positional)))
    return calls


def _expected_args(check_path, call):
    """The canonical arguments the real check would seal for ``call``."""
    module_name, _, name = check_path.rpartition(".")
    if not module_name.startswith(_CHECKS_PACKAGE) or name != call.name:
        return None
    try:
        check = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError):
        return None
    try:
        bound = inspect.signature(check).bind(*call.literal_args, **call.literal_kwargs)
    except TypeError:
        return None
    bound.apply_defaults()
    params = {k: v for k, v in bound.arguments.items() if v is not _STUDENT and not callable(v)}
    return canonical_args(params)


def _valid_mac(key, payload):
    try:
        message, mac = payload["message"], payload["mac"]
    except (KeyError, TypeError):
        return None
    if not isinstance(message, str) or not isinstance(mac, str):
        return None
    want = hmac.new(key, message.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, mac):
        return None
    return json.loads(message)


def _take_our_outputs(cell):
    """Remove and return (seals, tamper reports, diagnoses) from a code cell's outputs."""
    seals, tampers, diagnoses, kept = [], [], [], []
    for output in cell.get("outputs", []):
        data = output.get("data", {}) if output.get("output_type") in ("display_data",
                                                                      "execute_result") else {}
        if MIME_SEAL in data:
            seals.append(data[MIME_SEAL])
        elif MIME_TAMPER in data:
            tampers.append(data[MIME_TAMPER])
        elif MIME_DIAGNOSIS in data:
            diagnoses.append(data[MIME_DIAGNOSIS])
        else:
            kept.append(output)
    cell["outputs"] = kept
    return seals, tampers, diagnoses


# What a failed test cell is recorded under when no check diagnosed it.
_UNDIAGNOSED = {"CellTimeoutError": "cell_timeout", "KernelDied": "kernel_stopped",
                INTEGRITY_ERROR: "integrity"}


def _record_diagnoses(cell, key, diagnoses, zeroed):
    """Store in the cell's metadata what its failing checks diagnosed.

    ``cell.metadata["krylov_ref"]["diagnoses"]``: one entry per failing check,
    ``{"check": ..., "codes": [...]}``, from the sealed diagnoses only (a
    forged one is ignored); a failed cell without one gets the reason it
    failed otherwise ("cell_timeout", "kernel_stopped", "integrity") or
    "unrecognised". A passing cell records nothing. The student never sees
    this: notebooks and feedback pages do not show cell metadata.
    """
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    # What the student read: the cell's error message, for the report's examples.
    said = next((str(o.get("evalue", "")) for o in errors), "")[:400]
    found = []
    for payload in diagnoses:
        message = _valid_mac(key, payload)
        if message is not None and "codes" in message and "args" not in message:
            found.append({"check": str(message.get("check", "")).rpartition(".")[2],
                          "codes": [str(c) for c in message.get("codes", [])], "message": said})
    if zeroed:
        found = [{"check": "", "codes": ["integrity"], "message": said}]
    elif errors and not found:
        found = [{"check": "", "codes": [_UNDIAGNOSED.get(errors[-1].get("ename"), "unrecognised")],
                  "message": said}]
    elif not errors:
        found = []
    if found:
        cell.setdefault("metadata", {}).setdefault("krylov_ref", {})["diagnoses"] = found
    else:
        cell.get("metadata", {}).get("krylov_ref", {}).pop("diagnoses", None)
    forged = sum(_valid_mac(key, payload) is None for payload in diagnoses)
    return forged


def _is_test_cell(cell):
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and meta.get("grade") and not meta.get("solution")


def _grade_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")


def _cell_of_count(nb, count):
    for i, cell in enumerate(nb.cells):
        if cell.get("cell_type") == "code" and cell.get("execution_count") == count:
            return i + 1
    return None


def _zero(cell, reason):
    cell["outputs"].insert(0, NotebookNode(
        output_type="error", ename=INTEGRITY_ERROR,
        evalue=f"this test did not run the course's checks unmodified, so it earns no "
               f"points ({reason}). If you did not change the grader, ask your instructor.",
        traceback=[f"\x1b[0;31m{INTEGRITY_ERROR}\x1b[0m: this test did not run the course's "
                   "checks unmodified, so it earns no points.", f"  {reason}",
                   "  If you did not change the grader, ask your instructor."]))


def verify_notebook(nb, key):
    """Verify and strip the seals of an executed notebook, in place.

    Returns
    -------
    list of Flag
        One per test cell whose points were taken away, and one per tamper
        report elsewhere.
    """
    flags = []
    last_seq = 0
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        seals, tampers, diagnoses = _take_our_outputs(cell)
        number, gid = index + 1, _grade_id(cell)
        if not _is_test_cell(cell):
            for report in tampers:
                flags.append(Flag("tampered", number, gid, _tamper_text(nb, report)))
            continue
        problems = list(dict.fromkeys(_tamper_text(nb, report) for report in tampers))
        failed = any(o.get("output_type") == "error" for o in cell["outputs"])
        if any(o.get("output_type") == "execute_result" for o in cell["outputs"]):
            problems.append("the test cell produced a value, which the course's checks never do")
        calls = expected_calls(cell.get("source", ""))
        if calls is None:
            problems.append("the test cell holds code other than calls of the course's checks")
            calls = []
        if not failed and not problems:
            problems.extend(_check_seals(key, calls, seals, last_seq))
        valid = [m for m in (_valid_mac(key, s) for s in seals) if m]
        if valid:
            last_seq = max(last_seq, max(m["seq"] for m in valid))
        if problems:
            kind = ("tampered" if tampers else
                    "forged" if any(_valid_mac(key, s) is None for s in seals) else "unsealed")
            if not failed:
                _zero(cell, problems[0])
            flags.append(Flag(kind, number, gid, "; ".join(problems), zeroed=not failed))
        forged = _record_diagnoses(cell, key, diagnoses, zeroed=bool(problems) and not failed)
        if forged:
            flags.append(Flag("forged", number, gid, f"{forged} diagnosis record(s) not genuine "
                              "(forged output): ignored"))
    return flags


def _check_seals(key, calls, seals, last_seq):
    problems = []
    if len(seals) != len(calls):
        problems.append(f"{len(calls)} check(s) should have run here and been sealed, "
                        f"{len(seals)} seal(s) found: the checks were bypassed or replaced")
        return problems
    seq = last_seq
    for call, payload in zip(calls, seals):
        message = _valid_mac(key, payload)
        if message is None or "args" not in message or "codes" in message:
            problems.append(f"the seal for {call.name} is not genuine (forged output)")
            continue
        want = _expected_args(message["check"], call)
        got = json.dumps(message["args"], sort_keys=True)
        if want is None or json.loads(want) != json.loads(got):
            problems.append(f"{call.name} ran as {message['check']}({got}), not as this cell "
                            "calls it")
        if message["seq"] <= seq:
            problems.append(f"the seal for {call.name} was replayed from an earlier cell")
        seq = message["seq"]
    return problems


def _tamper_text(nb, report):
    changes = report.get("changes", []) if isinstance(report, dict) else []
    since = report.get("first_seen_after_cell") if isinstance(report, dict) else None
    cell = _cell_of_count(nb, since) if since is not None else None
    where = f" (first seen after cell {cell})" if cell else ""
    shown = ", ".join(str(c) for c in changes[:4]) + (" ..." if len(changes) > 4 else "")
    return f"the grader was changed{where}: {shown}"
