"""The student's working copy: ``my-work/``, filled from ``lessons/``.

Usage: ``python scripts/workspace.py [COURSE_ROOT] [--jupyter-config DIR]``
(run by ``make lab``).

* A lesson that is not in ``my-work/`` yet is copied there.
* A lesson already there is never touched: it is the student's work.
* If the course's version of a lesson changed since it was copied (after a
  ``git pull``), the new version is put beside the student's as
  ``NN_name (updated YYYY-MM-DD).ipynb`` and a line says so.

``my-work/`` is git-ignored, so ``git pull`` never conflicts with it, and
``make release`` never writes it.

``--jupyter-config DIR`` also writes the Jupyter configuration folder of the
student's JupyterLab (``make lab`` passes it in JUPYTER_CONFIG_PATH to that
server only): nbgrader's instructor tools are off there, its student tools
(Validate, Assignment List) stay. Nothing global changes: a JupyterLab
started otherwise (the instructor's, from the course root) has them all.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = "my-work"
RECORD = ".copied-from.json"  # lesson -> hash of the lessons/ version that was copied
# The JupyterLab plugins of nbgrader (@jupyter/nbgrader) that are the
# instructor's; @jupyter/nbgrader:validate-assignment, :assignment-list and
# :menu stay. (`make lab` turns off the matching server extensions,
# nbgrader.server_extensions.formgrader and .course_list, by its flags.)
INSTRUCTOR_PLUGINS = (
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:course-list",
)


def _sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def update_workspace(root=ROOT, today=None, log=print):
    """Copy new lessons into my-work/, never overwriting; return what was done."""
    root = Path(root)
    work = root / WORK
    work.mkdir(exist_ok=True)
    record_path = work / RECORD
    record = json.loads(record_path.read_text()) if record_path.exists() else {}
    today = today or datetime.date.today().isoformat()
    done = {"copied": [], "updated": [], "kept": []}
    lessons = sorted(d for d in (root / "lessons").iterdir()
                     if d.is_dir() and (d / f"{d.name}.ipynb").is_file())
    for lesson in lessons:
        name = lesson.name
        source = lesson / f"{name}.ipynb"
        mine = work / name / f"{name}.ipynb"
        if not mine.exists():
            (work / name).mkdir(exist_ok=True)
            # Anything else the lesson ships (data files) comes along, if missing.
            for item in lesson.iterdir():
                target = work / name / item.name
                if not target.exists():
                    (shutil.copytree if item.is_dir() else shutil.copyfile)(item, target)
            record[name] = _sha(source)
            done["copied"].append(name)
            log(f"new lesson: {WORK}/{name}/{name}.ipynb")
            continue
        if record.get(name) not in (None, _sha(source)):
            fresh = work / name / f"{name} (updated {today}).ipynb"
            if not fresh.exists():
                shutil.copyfile(source, fresh)
            record[name] = _sha(source)
            done["updated"].append(name)
            log(f"lesson {name} was updated: your work in {WORK}/{name}/{name}.ipynb is kept; "
                f"the new version is beside it, '{fresh.name}'")
        else:
            record.setdefault(name, _sha(source))
            done["kept"].append(name)
    record_path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return done


def write_jupyter_config(directory):
    """Write the Jupyter configuration folder of the student's JupyterLab
    (``make lab`` puts it first on JUPYTER_CONFIG_PATH for that server only):

    * ``labconfig/page_config.json`` disables the instructor's JupyterLab
      plugins of nbgrader (INSTRUCTOR_PLUGINS);
    * ``nbgrader_config.py`` gives nbgrader an empty exchange of its own, so
      that the Assignment List, working alone, says there is nothing to fetch
      instead of failing on a missing exchange.

    Rewritten whole each time, atomically (a server may be reading it).
    Returns the folder."""
    directory = Path(directory).resolve()
    exchange = directory / "empty-exchange"
    exchange.mkdir(parents=True, exist_ok=True)
    page_config = {"disabledExtensions": {p: True for p in INSTRUCTOR_PLUGINS}}
    _write(directory / "labconfig" / "page_config.json", json.dumps(page_config, indent=1) + "\n")
    _write(directory / "nbgrader_config.py",
           "# The student's JupyterLab (make lab), written by scripts/workspace.py.\n"
           "# No class exchange here: the Assignment List has nothing to fetch.\n"
           "c = get_config()  # noqa: F821\n"
           f"c.Exchange.root = {str(exchange)!r}\n")
    return directory


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(text)
    os.replace(partial, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("root", nargs="?", default=ROOT, help="the course folder")
    parser.add_argument("--jupyter-config", metavar="DIR",
                        help="also write the student's Jupyter configuration folder there")
    args = parser.parse_args(argv)
    update_workspace(args.root)
    if args.jupyter_config:
        write_jupyter_config(args.jupyter_config)


if __name__ == "__main__":
    main()
