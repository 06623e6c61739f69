"""The catalogue of misconceptions, tested: every named student mistake must
lose points, and its message must name it (``make misconceptions``).

Usage: ``python scripts/misconceptions.py [--lesson NN_name ...] [--workers N]
[--list]``. Without ``--lesson``, the lessons of ``KRYLOV_TEST_LESSONS`` if it
is set, else all.

Each lesson's checks module declares its misconceptions
(``krylov_ref.checks.lessonNN.MISCONCEPTIONS``: a stable code such as
``05.pcg.beta_from_r``, a one-line description and the lesson section that
explains it). ``tests/misconceptions/lessonNN.py`` holds, for each code, a
concrete wrong variant of the solution (a patch of the answer cell, or a
whole answer), and which test it must fail: the visible test where the
exercise's contract lets the visible test see the mistake, else the hidden
test, with the reason.

For each variant the exercise's tests run as in the notebook (the set-up
cell, the earlier answers, the variant, then the visible and the hidden test,
in a fresh namespace), and the first failure is read:

* it must happen, in the test the catalogue says (``losing points``);
* its message must carry the variant's code (``named exactly``), or, where
  two mistakes cannot be told apart, the codes of both (the entry lists the
  other in ``also``); a failure that names no code, or another one, is
  ``named generically``, which the entry must explain (``generic=...``).

The table per lesson is exercise, catalogued, losing points, named exactly,
named generically; the run exits 1 when a variant passes, a message is not
what the catalogue says, a declared code has no variant, or an exercise has
fewer than six entries.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CATALOGUES = ROOT / "tests" / "misconceptions"
TIME_LIMIT = 20  # seconds per variant (the check's own limit is set below it)
MINIMUM = 6      # entries per exercise

sys.path.insert(0, str(ROOT / "scripts"))

from krylov_ref.grading.misconceptions import Variant  # noqa: E402,F401 (the catalogues' type)


@dataclass
class Outcome:
    code: str
    lesson: str
    exercise: str
    failed_in: str = ""          # "visible", "hidden" or "" (passed)
    kind: str = ""               # the exception's class
    codes: tuple = ()            # the codes its message carries
    message: str = ""
    problems: list = field(default_factory=list)

    @property
    def named(self):
        return "exactly" if self.code in self.codes else "generically"


def lessons_with_catalogue():
    return sorted(p.stem for p in CATALOGUES.glob("lesson*.py"))


def load_catalogue(lesson_number):
    """The ``VARIANTS`` of tests/misconceptions/lessonNN.py."""
    path = CATALOGUES / f"lesson{lesson_number}.py"
    spec = importlib.util.spec_from_file_location(f"catalogue_lesson{lesson_number}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.VARIANTS)


def declared(lesson_number):
    """code -> (description, section) declared by the lesson's checks."""
    from krylov_ref.grading.misconceptions import catalogue

    return catalogue(lesson_number)


def headings(name):
    """The headings of lesson ``name`` (markdown lines starting with #), without the #s."""
    from coursekit import read, solution_path

    found = set()
    for cell in read(solution_path(name)).cells:
        if cell.cell_type == "markdown":
            found |= {line.lstrip("#").strip() for line in cell.source.split("\n")
                      if line.startswith("#")}
    return found


def _number(name):
    return name.split("_", 1)[0]


def _run(task):
    """Run one variant's tests in this worker: for each test, None if it
    passed, else (kind, codes, message) of its failure."""
    from krylov_ref.checks import GENERIC_CODES, WrongAnswer, codes_of

    prepare, answer, tests = task

    def out_of_time(signum, frame):
        raise TimeoutError("the variant ran out of time")

    namespace = {"__name__": "__variant__"}
    previous = signal.signal(signal.SIGALRM, out_of_time)
    verdicts = []
    try:
        with open(os.devnull, "w") as devnull:
            stdout, sys.stdout = sys.stdout, devnull
            try:
                for source in prepare:
                    exec(compile(source, "<prepare>", "exec"), namespace)
                signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT)
                exec(compile(answer, "<variant>", "exec"), namespace)
                for which, source in tests:
                    try:
                        exec(compile(source, f"<{which} test>", "exec"), namespace)
                        verdicts.append((which, None))
                    except BaseException as exc:  # the verdict, whatever it is
                        # The codes the grader would record: the message's,
                        # else the generic one of the failure's kind.
                        codes = codes_of(exc) or (GENERIC_CODES.get(
                            type(exc).__name__ if isinstance(exc, WrongAnswer) else "CheckCrashed",
                            "unrecognised"),)
                        verdicts.append((which, (type(exc).__name__, tuple(codes_of(exc)),
                                                 tuple(codes), str(exc))))
            finally:
                sys.stdout = stdout
        return verdicts
    except BaseException as exc:  # the answer cell itself failed: every test fails with it
        return [(which, (type(exc).__name__, (), ("unrecognised",), str(exc))) for which, _ in tests]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def first_failure(verdicts):
    """(failed_in, kind, codes named by the message, message) of the first failing test."""
    for which, verdict in verdicts:
        if verdict is not None:
            kind, named, _, message = verdict
            return which, kind, named, message
    return "", "", (), ""


def _init_worker():
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ["KRYLOV_REF_TIME_LIMIT"] = str(TIME_LIMIT - 2)
    import warnings

    warnings.simplefilter("ignore")
    import krylov_ref.checks  # noqa: F401 (once per worker)


def jobs_of(name):
    """(variant, task) for every catalogue entry of lesson ``name``."""
    from mutants import exercises

    number = _number(name)
    by_exercise = {base: (answer, prepare, tests) for base, answer, prepare, tests in exercises(name)}
    out = []
    for variant in load_catalogue(number):
        answer, prepare, tests = by_exercise[variant.exercise]
        labelled = list(zip(("visible", "hidden"), tests))
        out.append((variant, (prepare, variant.answer(answer), labelled)))
    return out


def judge(name, variant, verdict, codes_declared):
    failed_in, kind, codes, message = verdict
    outcome = Outcome(variant.code, name, variant.exercise, failed_in, kind, codes, message)
    if not variant.code.startswith(f"{_number(name)}.{variant.exercise}."):
        outcome.problems.append("the code does not start with the lesson's number and the exercise")
    if variant.code not in codes_declared:
        outcome.problems.append("the code is not declared in the lesson's MISCONCEPTIONS")
    if not failed_in:
        outcome.problems.append("the variant passes every test: it loses no points")
        return outcome
    if variant.test == "hidden" and not variant.why_hidden:
        outcome.problems.append("test='hidden' needs why_hidden (why the visible test cannot see it)")
    if failed_in != variant.test:
        outcome.problems.append(f"it failed the {failed_in} test; the catalogue says {variant.test}")
    if outcome.named == "exactly":
        others = set(codes) - {variant.code} - set(variant.also)
        if others:
            outcome.problems.append(f"the message also names {sorted(others)}, which the entry "
                                    "does not list as indistinguishable (also=...)")
    elif not variant.generic:
        named = f"names {list(codes)}" if codes else "names no misconception"
        outcome.problems.append(f"the message {named}: {message[:160]!r}")
    return outcome


def run(lessons, workers, log=print):
    tasks, meta = [], []
    problems = []
    for name in lessons:
        number = _number(name)
        codes_declared = declared(number)
        try:
            entries = jobs_of(name)
        except (ValueError, KeyError) as exc:
            problems.append(f"{name}: the catalogue cannot be built: {exc}")
            continue
        for variant, task in entries:
            tasks.append(task)
            meta.append((name, variant, codes_declared))
        covered = {variant.code for variant, _ in entries}
        for code in sorted(set(codes_declared) - covered):
            problems.append(f"{name}: {code} is declared but has no variant in the catalogue")
        found = headings(name)
        for code, (description, section) in sorted(codes_declared.items()):
            if section not in found:
                problems.append(f"{name}: {code}'s section {section!r} is not a heading of the lesson")
            if not description or "\n" in description:
                problems.append(f"{name}: {code} needs a one-line description")
    start = time.perf_counter()
    context = multiprocessing.get_context("fork")
    with context.Pool(workers, initializer=_init_worker, maxtasksperchild=40) as pool:
        verdicts = pool.map(_run, tasks, chunksize=1)
    outcomes = [judge(name, variant, first_failure(verdict), codes)
                for (name, variant, codes), verdict in zip(meta, verdicts)]
    log(f"{len(tasks)} variants in {time.perf_counter() - start:.0f} s with {workers} workers")
    table = {}
    for outcome in outcomes:
        row = table.setdefault((outcome.lesson, outcome.exercise),
                               {"catalogued": 0, "losing": 0, "exactly": 0, "generically": 0})
        row["catalogued"] += 1
        if outcome.failed_in:
            row["losing"] += 1
            row[outcome.named] += 1
        problems.extend(f"{outcome.lesson} {outcome.code}: {p}" for p in outcome.problems)
    for name in lessons:
        from mutants import exercises

        for base, _, _, _ in exercises(name):
            table.setdefault((name, base), {"catalogued": 0, "losing": 0, "exactly": 0,
                                            "generically": 0})
    for (lesson, exercise), row in table.items():
        if row["catalogued"] < MINIMUM:
            problems.append(f"{lesson} {exercise}: {row['catalogued']} entries, at least {MINIMUM} wanted")
    current = None
    for (lesson, exercise), row in sorted(table.items()):
        if lesson != current:
            current = lesson
            log(f"\n{lesson}")
            log(f"  {'exercise':28s} {'catalogued':>10s} {'losing points':>14s} "
                f"{'named exactly':>14s} {'named generically':>18s}")
        log(f"  {exercise:28s} {row['catalogued']:10d} {row['losing']:14d} {row['exactly']:14d} "
            f"{row['generically']:18d}")
    return outcomes, problems


def main(argv=None):
    from release import lesson_command

    args = lesson_command(__doc__.split("\n\n")[0], "the catalogue", argv)
    lessons = args.lessons
    with_catalogue = {f"lesson{_number(n)}" for n in lessons} & set(lessons_with_catalogue())
    lessons = [n for n in lessons if f"lesson{_number(n)}" in with_catalogue]
    if args.list:
        for name in lessons:
            codes = declared(_number(name))
            for variant in load_catalogue(_number(name)):
                description, section = codes.get(variant.code, ("(not declared)", ""))
                print(f"{variant.code:40s} {variant.test:8s} {description} ({section})")
        return 0
    _, problems = run(lessons, args.workers)
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
