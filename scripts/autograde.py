"""Grade a whole class in parallel: ``make autograde LESSON=NN_name [WORKERS=n]``.

Usage: ``python scripts/autograde.py LESSON [--workers N] [--timeout S] [--force]
[--export grades.csv] [--root COURSE]``

Grades every submission in ``submitted/*/LESSON/`` with nbgrader's own
autograder (the same configuration, preprocessors and gradebook as
``nbgrader autograde LESSON``, so the scores are the same), several students
at a time:

* ``--workers`` long-lived worker processes (default: the number of cores),
  each loading nbgrader once and grading one student after another;
* a worker that crashes, or a student whose grading runs past ``--timeout``
  seconds, costs that student's grade only: the worker (and its kernel) is
  killed, the student reported, and a fresh worker takes the next student;
* a re-run grades only what changed: a submission whose notebook, lesson
  source and grading configuration are those of its last successful
  grading is skipped (``--force`` grades everything again);
* a progress bar shows the student count and an ETA; the end prints a table
  (score, grading errors, integrity flags, timeouts per student), runs
  ``nbgrader export`` (``--export``, default ``grades.csv``) and writes the
  class report (``reports/LESSON.html`` and its CSV files; ``--no-report``).

The gradebook may be sqlite (one course folder) or PostgreSQL (``db_url`` in
``nbgrader_config.py``); either takes concurrent writers.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import re
import subprocess
import sys
import time
from multiprocessing.connection import wait
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAMP = ".krylov-graded.json"


# --------------------------------------------------------------------------
# What needs grading


def _sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def grading_inputs(root, lesson):
    """What a grade depends on besides the submission: the lesson, the course's
    configuration, and the grader (krylov_ref, but for other lessons' checks)."""
    source = root / "solutions" / lesson / f"{lesson}.ipynb"
    mine = set(re.findall(r"krylov_ref\.checks\.(lesson\d+)", source.read_text()))
    parts = [source, root / "nbgrader_config.py"]
    for path in sorted((ROOT / "krylov_ref").rglob("*.py")):
        if path.parent.name == "checks" and path.stem.startswith("lesson") and path.stem not in mine:
            continue
        parts.append(path)
    digest = hashlib.sha256()
    for part in parts:
        digest.update(str(part.relative_to(part.parents[1])).encode())
        digest.update(part.read_bytes())
    return digest.hexdigest()


def submissions(root, lesson):
    """Student ids with a submitted folder for ``lesson``, sorted."""
    base = root / "submitted"
    if not base.is_dir():
        return []
    return sorted(d.name for d in base.iterdir() if (d / lesson).is_dir())


def submission_digest(root, lesson, student):
    digest = hashlib.sha256()
    for path in sorted((root / "submitted" / student / lesson).rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def stamp_path(root, lesson, student):
    return root / "autograded" / student / lesson / STAMP


def up_to_date(root, lesson, student, inputs):
    try:
        stamp = json.loads(stamp_path(root, lesson, student).read_text())
    except (OSError, ValueError):
        return False
    return stamp == {"submission": submission_digest(root, lesson, student), "inputs": inputs}


# --------------------------------------------------------------------------
# Workers


def _worker(root, lesson, conn, threads):
    """Grade students sent over ``conn`` until told to stop."""
    # Each worker's kernels share the machine with the other workers' kernels:
    # BLAS threads beyond a core each would only fight over the cores.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.chdir(root)
    # The kernels' own start-up chatter (ipykernel's "running over TCP"
    # warning) goes to a log file instead of over the progress bar.
    log_dir = Path(root) / "autograded"
    log_dir.mkdir(exist_ok=True)
    log = os.open(log_dir / f".autograde-{lesson}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 2)
    sys.path.insert(0, str(ROOT / "scripts"))
    from release import nbgrader_api

    api = nbgrader_api(root)
    while True:
        student = conn.recv()
        if student is None:
            return
        start = time.perf_counter()
        result = api.autograde(lesson, student, force=True, create=True)
        conn.send((student, bool(result.get("success")), time.perf_counter() - start,
                   (result.get("error") or "")[-2000:]))


def kill_tree(pid):
    """Kill a worker and everything it started (its kernel runs in a session of its own)."""
    import psutil

    try:
        parent = psutil.Process(pid)
        family = parent.children(recursive=True) + [parent]
    except psutil.NoSuchProcess:
        return  # gone already: the kernel went with it, or was never started
    for process in family:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            continue  # it ended between listing and killing
    psutil.wait_procs(family, timeout=10)


class Pool:
    """Worker processes that can be replaced one by one."""

    def __init__(self, root, lesson, size):
        self.root, self.lesson = root, lesson
        self.threads = max(1, (os.cpu_count() or 1) // size)
        self.context = multiprocessing.get_context("spawn")
        self.workers = [self._start() for _ in range(size)]

    def _start(self):
        parent, child = self.context.Pipe()
        process = self.context.Process(target=_worker, args=(str(self.root), self.lesson, child, self.threads),
                                       daemon=True)
        process.start()
        child.close()
        return {"process": process, "conn": parent, "student": None, "since": None}

    def replace(self, worker):
        kill_tree(worker["process"].pid)
        worker["process"].join(5)
        self.workers[self.workers.index(worker)] = self._start()

    def close(self):
        for worker in self.workers:
            try:
                worker["conn"].send(None)
            except (BrokenPipeError, OSError):
                continue  # a dead worker needs no goodbye
        for worker in self.workers:
            worker["process"].join(10)
            if worker["process"].is_alive():
                self.replace(worker)


def grade(root, lesson, students, workers, timeout, progress, on_assign=None):
    """Grade ``students``; returns {student: (status, seconds, detail)}.

    ``on_assign(student, pid)`` is called as each student is handed to a
    worker (the tests use it to kill a worker on purpose).
    """
    results, queue = {}, list(students)
    pool = Pool(root, lesson, min(workers, max(1, len(queue))))
    start = time.perf_counter()
    try:
        while queue or any(w["student"] for w in pool.workers):
            for worker in pool.workers:
                if worker["student"] is None and queue:
                    worker["student"], worker["since"] = queue.pop(0), time.perf_counter()
                    worker["conn"].send(worker["student"])
                    if on_assign is not None:
                        on_assign(worker["student"], worker["process"].pid)
            busy = [w for w in pool.workers if w["student"]]
            ready = wait([w["conn"] for w in busy] + [w["process"].sentinel for w in busy], 1.0)
            now = time.perf_counter()
            for worker in list(busy):
                student = worker["student"]
                if worker["conn"] in ready:
                    try:
                        got, ok, seconds, error = worker["conn"].recv()
                    except EOFError:
                        got = None
                    if got == student:
                        results[student] = ("graded" if ok else "error", seconds, error)
                        worker["student"] = None
                        continue
                if worker["process"].sentinel in ready or not worker["process"].is_alive():
                    results[student] = ("crashed", now - worker["since"],
                                        f"the worker died (exit code {worker['process'].exitcode})")
                    worker["student"] = None
                    pool.replace(worker)
                elif now - worker["since"] > timeout:
                    results[student] = ("timeout", now - worker["since"],
                                        f"grading took longer than {timeout:g} s")
                    worker["student"] = None
                    pool.replace(worker)
            progress(len(results), len(students), time.perf_counter() - start)
    finally:
        pool.close()
    return results


# --------------------------------------------------------------------------
# Reporting


def progress_bar(stream=sys.stderr):
    last = [None]

    def show(done, total, elapsed):
        if total == 0 or last[0] == done:
            return
        last[0] = done
        eta = elapsed / done * (total - done) if done else float("nan")
        width = 30
        filled = int(width * done / total)
        text = (f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} students, "
                f"{elapsed:5.0f} s" + (f", ETA {eta:4.0f} s" if done else ""))
        if stream.isatty():
            stream.write("\r" + text + ("\n" if done == total else ""))
        else:
            stream.write(text + "\n")
        stream.flush()

    return show


def summary_rows(root, lesson, students, results):
    """One row per student: score, grading status, integrity flags, timeouts."""
    from nbgrader.api import Gradebook, MissingEntry

    from krylov_ref.grading.export import is_serious

    sys.path.insert(0, str(ROOT / "scripts"))
    from release import course_config

    config = course_config(root)
    rows = []
    with Gradebook(config.CourseDirectory.db_url, config.CourseDirectory.course_id) as gb:
        for student in students:
            status, seconds, detail = results.get(student, ("skipped", 0.0, "up to date"))
            try:
                sub = gb.find_submission(lesson, student)
                score, max_score = sub.score, sub.max_score
            except MissingEntry:
                score, max_score = None, None
            report = root / "integrity" / lesson / f"{student}.json"
            flags = json.loads(report.read_text())["flags"] if report.exists() else []
            serious = sum(is_serious(f) for f in flags)
            review = sum(f["kind"] == "screen" for f in flags)
            blocked = [f for f in flags if f["kind"] == "sandbox"]
            rows.append(dict(student=student, status=status, seconds=seconds, score=score,
                             max_score=max_score, integrity=serious, review=review,
                             sandbox=len(blocked), blocked=blocked,
                             timeouts=_timeouts(root, lesson, student), detail=detail))
    return rows


def _timeouts(root, lesson, student):
    """Test cells stopped by the cell timeout or a check's time limit."""
    path = root / "autograded" / student / lesson / f"{lesson}.ipynb"
    if not path.exists():
        return 0
    nb = json.loads(path.read_text())
    count = 0
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error" and output.get("ename") in (
                    "CellTimeoutError", "TimeLimitExceeded"):
                count += 1
    return count


def print_table(rows, stream=sys.stdout):
    print(f"\n{'student':20s} {'score':>13s} {'status':>8s} {'seconds':>8s} {'integrity':>9s} "
          f"{'review':>6s} {'sandbox':>7s} {'timeouts':>8s}", file=stream)
    for r in rows:
        score = "-" if r["score"] is None else f"{r['score']:g} / {r['max_score']:g}"
        print(f"{r['student']:20s} {score:>13s} {r['status']:>8s} {r['seconds']:8.1f} "
              f"{r['integrity']:9d} {r['review']:6d} {r.get('sandbox', 0):7d} "
              f"{r['timeouts']:8d}", file=stream)
    for r in rows:
        if r["status"] in ("error", "crashed", "timeout"):
            first = (r["detail"].strip().splitlines() or [""])[-1]
            print(f"  {r['student']}: {r['status']}: {first}", file=stream)
    for r in rows:
        for flag in r.get("blocked", []):
            where = f"cell {flag['cell']}" + (f" ({flag['grade_id']})" if flag["grade_id"] else "")
            print(f"  {r['student']}: blocked by the sandbox"
                  + (f" in {where}" if flag["cell"] else "") + f": {flag['detail']}", file=stream)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("lesson")
    parser.add_argument("--root", default=str(ROOT))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds for one student's grading before it is stopped")
    parser.add_argument("--force", action="store_true", help="grade even what is up to date")
    parser.add_argument("--export", default="grades.csv",
                        help="file for `nbgrader export` ('' to skip)")
    parser.add_argument("--no-report", dest="report", action="store_false",
                        help="do not write the class report (reports/LESSON.html)")
    args = parser.parse_args(argv)
    root = Path(args.root).resolve()
    sys.path.insert(0, str(ROOT / "scripts"))
    from release import course_config

    config = course_config(root)  # prepares the course folder (gradebook, exchange) once, here
    from krylov_ref.grading.sandbox import Sandbox, SandboxUnavailable

    sandbox = Sandbox(config=config)
    if sandbox.enabled:
        try:
            sandbox.ensure_available()
        except SandboxUnavailable as exc:
            print(str(exc), file=sys.stderr)
            return 2
    else:
        print("WARNING: grading without the sandbox (c.Sandbox.enabled = False): a submission's "
              "code runs with every right of the grading user.", file=sys.stderr)
    students = submissions(root, args.lesson)
    if not students:
        print(f"no submissions for {args.lesson} in {root / 'submitted'}", file=sys.stderr)
        return 1
    inputs = grading_inputs(root, args.lesson)
    todo = [s for s in students if args.force or not up_to_date(root, args.lesson, s, inputs)]
    print(f"{args.lesson}: {len(students)} submissions, {len(todo)} to grade, "
          f"{min(args.workers, max(1, len(todo)))} workers", file=sys.stderr)
    start = time.perf_counter()
    results = grade(root, args.lesson, todo, args.workers, args.timeout, progress_bar())
    elapsed = time.perf_counter() - start
    for student, (status, _, _) in results.items():
        path = stamp_path(root, args.lesson, student)
        if status == "graded" and path.parent.is_dir():
            path.write_text(json.dumps({"submission": submission_digest(root, args.lesson, student),
                                        "inputs": inputs}))
    rows = summary_rows(root, args.lesson, students, results)
    print_table(rows)
    if todo:
        print(f"\ngraded {len(todo)} submissions in {elapsed:.1f} s: "
              f"{60 * len(todo) / elapsed:.1f} per minute", file=sys.stderr)
    if args.export:
        proc = subprocess.run([sys.executable, "-m", "nbgrader", "export", "--to", args.export],
                              cwd=root, capture_output=True, text=True)
        if proc.returncode:
            print(proc.stderr[-2000:], file=sys.stderr)
            return 1
        print(f"grades written to {args.export} (integrity flags in "
              f"{Path(args.export).stem}_integrity.csv)", file=sys.stderr)
    if args.report:
        from krylov_ref.grading.report import write_report

        path = write_report(root, args.lesson, config.CourseDirectory.db_url)
        print(f"class report: {path}", file=sys.stderr)
    failed = [r for r in rows if r["status"] in ("error", "crashed", "timeout")]
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
