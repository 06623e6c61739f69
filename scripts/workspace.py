"""The student's working copy: ``my-work/``, filled from ``lessons/``.

Usage: ``python scripts/workspace.py [COURSE_ROOT]`` (run by ``make lab``).

* A lesson that is not in ``my-work/`` yet is copied there.
* A lesson already there is never touched: it is the student's work.
* If the course's version of a lesson changed since it was copied (after a
  ``git pull``), the new version is put beside the student's as
  ``NN_name (updated YYYY-MM-DD).ipynb`` and a line says so.

``my-work/`` is git-ignored, so ``git pull`` never conflicts with it, and
``make release`` never writes it.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = "my-work"
RECORD = ".copied-from.json"  # lesson -> hash of the lessons/ version that was copied


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


if __name__ == "__main__":
    update_workspace(sys.argv[1] if len(sys.argv) > 1 else ROOT)
