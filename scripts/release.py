"""Regenerate the student versions: lessons/ from solutions/ via nbgrader.

Usage: ``python scripts/release.py [--force] [COURSE_ROOT]`` (``make release``,
``make release FORCE=1``).

Every lesson ``solutions/NN_name/NN_name.ipynb`` is an nbgrader assignment;
``nbgrader generate_assignment`` strips the solutions and hidden tests and
writes ``lessons/NN_name/NN_name.ipynb``. The output is deterministic (the
same input gives the same bytes), which the sync test relies on. A lesson
notebook that changed since the last release (someone worked in it) is not
overwritten unless ``--force`` is given; see krylov_ref/grading/course.py.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def lesson_names(root=ROOT):
    """Names of the lessons: the folders of solutions/ holding a notebook of the same name."""
    from krylov_ref.grading.course import lesson_names as names

    return names(root)


def chosen_lessons(named=None, root=ROOT):
    """The lessons a command works on, in course order: those ``named``
    (``--lesson``), else those of KRYLOV_TEST_LESSONS (comma-separated; it
    lets an author test one lesson quickly), else all. An unknown name is a
    ValueError."""
    names = lesson_names(root)
    if not named:
        named = [n.strip() for n in os.environ.get("KRYLOV_TEST_LESSONS", "").split(",") if n.strip()]
    if not named:
        return names
    unknown = set(named) - set(names)
    if unknown:
        raise ValueError(f"unknown lessons: {sorted(unknown)}")
    return [n for n in names if n in set(named)]


def lesson_command(description, what, argv=None):
    """Parse the options of a command that works lesson by lesson (make
    mutants, make misconceptions): ``--lesson`` (repeatable), ``--workers``
    and ``--list`` (print ``what`` and stop). ``args.lessons`` holds the
    lessons, as :func:`chosen_lessons` picks them."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--lesson", action="append", help="only these lessons")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--list", action="store_true", help=f"print {what} and stop")
    args = parser.parse_args(argv)
    try:
        args.lessons = chosen_lessons(args.lesson)
    except ValueError as exc:
        parser.error(str(exc))
    return args


def course_config(root=ROOT):
    """The course's nbgrader configuration (loading it prepares the course folder)."""
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()


def nbgrader_api(root=ROOT):
    """An NbGraderAPI configured by the course's nbgrader_config.py under ``root``."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    config = course_config(root)
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


def release(root=ROOT, names=None, force=False):
    """Regenerate lessons/ under ``root`` (see krylov_ref.grading.course.release)."""
    from krylov_ref.grading.course import _BUSY, release as course_release

    root = Path(root).resolve()
    # The release updates the gradebook itself: no need for the config's sync.
    os.environ[_BUSY] = "1"
    try:
        config = course_config(root)
    finally:
        os.environ.pop(_BUSY, None)
    return course_release(root, config, force=force, names=names)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", nargs="?", default=str(ROOT))
    parser.add_argument("--force", action="store_true",
                        help="overwrite lesson notebooks even if someone changed them")
    parser.add_argument("--lesson", action="append",
                        help="release only this lesson (repeatable); all of them by default")
    args = parser.parse_args(argv)
    from krylov_ref.grading.course import ReleaseRefused

    try:
        release(args.root, names=args.lesson, force=args.force)
    except ReleaseRefused as exc:
        print(f"make release: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
