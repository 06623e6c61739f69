"""Grading throughput per lesson, as an instructor grades a class
(``make bench-grading``): the course's parallel grader (``make autograde``)
with the sandbox, and the same without it, on the same submissions in the
same run; optionally nbgrader's serial ``nbgrader autograde`` too.

Usage: ``python benchmarks/grading.py [--students N] [--lesson NN_name ...]
[--workers W] [--serial] [--target 30]``

For each lesson, temporary copies of the course get N honest submissions
(the solutions: every test runs and passes; demonstrations the lesson marks
as skippable are skipped, as when grading for real). The first nbgrader
command on a fresh clone brings the gradebook up to date with
``solutions/`` (every lesson, once per course): that is timed on its own
(``sync``) and left out. The table gives submissions per minute with the
sandbox, without it, the sandbox's cost, and whether the lesson meets the
target (``--target``, submissions per minute with the sandbox). The exit
status is 1 when a lesson misses it.
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


def course_with(lesson, students, where, sandbox=True):
    root = copy_course(Path(where))
    if not sandbox:
        with open(root / "nbgrader_config.py", "a") as f:
            f.write("\nc.Sandbox.enabled = False\n")
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


def parallel(lesson, root, workers):
    return timed([sys.executable, str(ROOT / "scripts" / "autograde.py"), lesson, "--root",
                  str(root), "--workers", str(workers), "--export", ""], root)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=12)
    parser.add_argument("--lesson", action="append")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--serial", action="store_true", help="also time nbgrader autograde")
    parser.add_argument("--target", type=float, default=30.0,
                        help="submissions per minute each lesson must reach with the sandbox")
    args = parser.parse_args(argv)
    lessons = args.lesson or lesson_names()
    print(f"{args.students} honest submissions per lesson, {args.workers} workers, "
          f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}")
    head = f"{'lesson':24s} {'sandbox':>9s} {'none':>9s} {'cost':>7s}"
    unit = f"{'':24s} {'(/min)':>9s} {'(/min)':>9s} {'':>7s}"
    if args.serial:
        head += f" {'serial':>9s}"
        unit += f" {'(/min)':>9s}"
    print(head + f" {'sync':>6s}  target")
    print(unit + f" {'(s)':>6s}")
    missed = []
    for lesson in lessons:
        with tempfile.TemporaryDirectory(prefix="krylov-bench-grading-") as tmp:
            roots = {kind: course_with(lesson, args.students, Path(tmp) / kind, sandbox=kind != "none")
                     for kind in (["sandbox", "none"] + (["serial"] if args.serial else []))}
            # The gradebook sync a fresh clone needs (once per course, and again
            # only for a lesson whose source changed) is timed on its own.
            sync = [timed([sys.executable, "-m", "nbgrader", "db", "assignment", "list"], root)
                    for root in roots.values()][0]
            # Alternate the two, so that a change in the machine's load
            # touches both alike; keep the better of two rounds of each.
            seconds = {"sandbox": [], "none": []}
            for _ in range(2):
                for kind in ("sandbox", "none"):
                    seconds[kind].append(parallel(lesson, roots[kind], args.workers))
                    for stamp in (roots[kind] / "autograded").glob(f"*/{lesson}/.krylov-graded.json"):
                        stamp.unlink()
            rate = {kind: 60 * args.students / min(s) for kind, s in seconds.items()}
            line = (f"{lesson:24s} {rate['sandbox']:9.1f} {rate['none']:9.1f} "
                    f"{100 * (rate['none'] / rate['sandbox'] - 1):6.1f}%")
            if args.serial:
                serial = timed([sys.executable, "-m", "nbgrader", "autograde", lesson], roots["serial"])
                line += f" {60 * args.students / serial:9.1f}"
            ok = rate["sandbox"] >= args.target
            if not ok:
                missed.append(lesson)
            print(line + f" {sync:6.1f}  {'ok' if ok else 'MISSED'}", flush=True)
    print(f"load average {os.getloadavg()[0]:.2f}")
    if missed:
        print(f"below {args.target:g} per minute with the sandbox: {', '.join(missed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
