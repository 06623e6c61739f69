"""The class report of a lesson: ``make report LESSON=NN_name``.

Usage: ``python scripts/report.py LESSON [--root COURSE] [--out DIR]
[--lesson-url TEMPLATE]``

Writes ``reports/LESSON.html`` (self-contained: figures embedded, nothing
fetched from elsewhere) and the same tables as ``reports/LESSON_*.csv``,
from the course's gradebook (sqlite, or PostgreSQL through
``KRYLOV_GRADEBOOK_URL``) and the integrity reports of the autograder. See
:mod:`krylov_ref.grading.report`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))


def main(argv=None):
    from krylov_ref.grading.report import LESSON_URL, write_report
    from release import course_config

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("lesson")
    parser.add_argument("--root", default=str(ROOT))
    parser.add_argument("--out", help="folder of the report (default: reports/ in the course)")
    parser.add_argument("--lesson-url", default=LESSON_URL,
                        help="link to a lesson section; {lesson} and {anchor} are filled in")
    args = parser.parse_args(argv)
    root = Path(args.root).resolve()
    config = course_config(root)
    start = time.perf_counter()
    path = write_report(root, args.lesson, config.CourseDirectory.db_url, args.out, args.lesson_url)
    print(f"class report: {path} ({time.perf_counter() - start:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
