"""Grading throughput per lesson: nbgrader's serial ``nbgrader autograde``
against the course's parallel ``make autograde``, on the same submissions in
the same run (``make bench-grading``).

Usage: ``python benchmarks/grading.py [--students N] [--lesson NN_name ...]
[--workers W]``

For each lesson, a temporary copy of the course gets N honest submissions
(the solutions, which execute every cell: the most expensive case). The
first nbgrader command on a fresh clone brings the gradebook up to date with
``solutions/`` (every lesson, once per course); that is timed on its own
(``sync``). Then both graders grade all the submissions, and the script
prints submissions per minute, the ratio, and the time one execution of the
lesson takes (most of a submission's grading cost).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from coursekit import copy_course, make_submission  # noqa: E402
from release import lesson_names  # noqa: E402


def course_with(lesson, students, where):
    root = copy_course(Path(where))
    nb = make_submission(lesson, root=root)
    for i in range(students):
        path = root / "submitted" / f"student{i:03d}" / lesson / f"{lesson}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, str(path))
    return root


def timed(command, cwd):
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode:
        raise RuntimeError(f"{command} failed:\n{proc.stderr[-3000:]}")
    return seconds


def execution_time(lesson):
    """Seconds for one execution of the solution notebook (best of two)."""
    best = float("inf")
    for _ in range(2):
        with tempfile.TemporaryDirectory() as tmp:
            best = min(best, timed([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook",
                                    "--execute", str(ROOT / "solutions" / lesson / f"{lesson}.ipynb"),
                                    "--output-dir", tmp], ROOT))
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=12)
    parser.add_argument("--lesson", action="append")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    lessons = args.lesson or lesson_names()
    print(f"{args.students} honest submissions per lesson, {args.workers} workers, "
          f"{os.cpu_count()} cores")
    print(f"{'lesson':24s} {'execute':>8s} {'serial':>10s} {'parallel':>10s} {'speed-up':>9s} "
          f"{'sync':>8s}")
    print(f"{'':24s} {'(s)':>8s} {'(/min)':>10s} {'(/min)':>10s} {'':>9s} {'(s)':>8s}")
    for lesson in lessons:
        with tempfile.TemporaryDirectory(prefix="krylov-bench-grading-") as tmp:
            serial_root = course_with(lesson, args.students, Path(tmp) / "serial")
            parallel_root = course_with(lesson, args.students, Path(tmp) / "parallel")
            # The gradebook sync a fresh clone needs (once per course, and again
            # only for a lesson whose source changed) is timed on its own.
            sync = timed([sys.executable, "-m", "nbgrader", "db", "assignment", "list"], serial_root)
            timed([sys.executable, "-m", "nbgrader", "db", "assignment", "list"], parallel_root)
            serial = timed([sys.executable, "-m", "nbgrader", "autograde", lesson], serial_root)
            parallel = timed([sys.executable, str(ROOT / "scripts" / "autograde.py"), lesson,
                              "--root", str(parallel_root), "--workers", str(args.workers),
                              "--export", ""], parallel_root)
        execute = execution_time(lesson)
        per_min_serial = 60 * args.students / serial
        per_min_parallel = 60 * args.students / parallel
        print(f"{lesson:24s} {execute:8.1f} {per_min_serial:10.1f} {per_min_parallel:10.1f} "
              f"{per_min_parallel / per_min_serial:8.2f}x {sync:8.1f}", flush=True)


if __name__ == "__main__":
    main()
