"""Regenerate the student versions: lessons/ from solutions/ via nbgrader.

Usage: ``python scripts/release.py [COURSE_ROOT]`` (``make release``).

Every lesson ``solutions/NN_name/NN_name.ipynb`` is an nbgrader assignment;
``nbgrader generate_assignment`` strips the solutions and hidden tests and
writes ``lessons/NN_name/NN_name.ipynb``. The output is deterministic (the
same input gives the same bytes), which the sync test relies on.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def lesson_names(root=ROOT):
    """Names of the lessons: the folders of solutions/ holding a notebook of the same name."""
    src = Path(root) / "solutions"
    return sorted(d.name for d in src.iterdir()
                  if d.is_dir() and (d / f"{d.name}.ipynb").is_file())


def nbgrader_api(root=ROOT):
    """An NbGraderAPI configured by the course's nbgrader_config.py under ``root``."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    coursedir = CourseDirectory(config=config)
    return NbGraderAPI(coursedir=coursedir, config=config)


def release(root=ROOT, names=None):
    """Run ``generate_assignment`` for every lesson under ``root``.

    Raises
    ------
    RuntimeError
        If nbgrader reports a failure, with its log.
    """
    root = Path(root).resolve()
    api = nbgrader_api(root)
    for name in names or lesson_names(root):
        result = api.generate_assignment(name, force=True)
        if not result["success"]:
            raise RuntimeError(f"nbgrader generate_assignment {name} failed:\n"
                               f"{result.get('log', '')}\n{result.get('error', '')}")
        print(f"released {name} -> lessons/{name}/{name}.ipynb")


if __name__ == "__main__":
    release(sys.argv[1] if len(sys.argv) > 1 else ROOT)
