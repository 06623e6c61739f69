"""The course folder as nbgrader sees it: lessons, gradebook, exchange.

Two promises to instructors live here:

* every nbgrader command works on a fresh clone: :func:`ensure_course`,
  called from ``nbgrader_config.py``, creates the exchange folder and makes
  sure the gradebook knows every lesson in ``solutions/`` (and is up to date
  with it), by running ``generate_assignment`` into a temporary folder, so
  that ``lessons/`` is never touched;
* ``make release`` (:func:`release`) regenerates ``lessons/`` but refuses to
  overwrite a notebook someone has worked in: one that differs from what the
  last release wrote, as recorded in ``lessons/.release-manifest.json``.
"""

from __future__ import annotations

import contextlib
import copy
import filecmp
import fcntl
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

__all__ = ["lesson_names", "ensure_course", "release", "ReleaseRefused", "MANIFEST",
           "SYNC_STAMP", "sha256"]

MANIFEST = ".release-manifest.json"
SYNC_STAMP = ".gradebook-sources.json"
_BUSY = "KRYLOV_COURSE_SYNCING"  # set while we run nbgrader ourselves: no recursion


class ReleaseRefused(RuntimeError):
    """``lessons/`` holds work that a release would overwrite."""


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def lesson_names(root):
    """The lessons: folders of ``solutions/`` holding a notebook of the same name."""
    src = Path(root) / "solutions"
    if not src.is_dir():
        return []
    return sorted(d.name for d in src.iterdir()
                  if d.is_dir() and (d / f"{d.name}.ipynb").is_file())


@contextlib.contextmanager
def _locked(root):
    # Parallel graders load the configuration at the same time: one syncs.
    with open(Path(root) / ".course.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _api(config, release_directory):
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    config = copy.deepcopy(config)
    config.CourseDirectory.release_directory = str(release_directory)
    coursedir = CourseDirectory(config=config)
    return NbGraderAPI(coursedir=coursedir, config=config)


def _generate(config, names, release_directory):
    """Run generate_assignment for ``names``; it also updates the gradebook."""
    _alembic_on_path()
    previous = os.environ.get(_BUSY)
    os.environ[_BUSY] = "1"
    try:
        api = _api(config, release_directory)
        for name in names:
            result = api.generate_assignment(name, force=True)
            if not result["success"]:
                raise RuntimeError(f"nbgrader generate_assignment {name} failed:\n"
                                   f"{result.get('log', '')}\n{result.get('error', '')}")
    finally:
        if previous is None:
            os.environ.pop(_BUSY, None)
        else:
            os.environ[_BUSY] = previous


def _sources(root):
    return {name: sha256(Path(root) / "solutions" / name / f"{name}.ipynb")
            for name in lesson_names(root)}


def _read_json(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}


def _write_json(path, data):
    tmp = Path(str(path) + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def _record_sync(root, names, db_url):
    stamp = _read_json(Path(root) / SYNC_STAMP)
    if stamp.get("db_url") != db_url:
        stamp = {"db_url": db_url, "lessons": {}}
    sources = _sources(root)
    stamp.setdefault("lessons", {}).update({n: sources[n] for n in names})
    _write_json(Path(root) / SYNC_STAMP, stamp)


def _sqlite_file(db_url):
    return db_url[len("sqlite:///"):] if db_url.startswith("sqlite:///") else None


def _alembic_on_path():
    # nbgrader runs the `alembic` executable of its own environment; when
    # nbgrader is started as .venv/bin/nbgrader without activating the venv,
    # that folder is not on PATH.
    bindir = os.path.dirname(sys.executable)
    if shutil.which("alembic") is None and os.path.exists(os.path.join(bindir, "alembic")):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


def ensure_course(root, config, db_url, exchange_root):
    """Create the exchange and bring the gradebook up to date with ``solutions/``.

    Cheap when nothing changed (a hash of each lesson's source, recorded per
    gradebook URL); otherwise runs nbgrader's ``generate_assignment`` for the
    changed lessons into a temporary folder. ``lessons/`` is never written.
    Works for a sqlite file and for a database server alike.
    """
    _alembic_on_path()
    os.makedirs(exchange_root, exist_ok=True)
    # nbgrader's exchange expects a folder everyone may write (it is shared
    # by the students of a JupyterHub). Only its owner can make it so.
    if os.stat(exchange_root).st_uid == os.getuid():
        os.chmod(exchange_root, 0o777)
    if os.environ.get(_BUSY):
        return []
    root = Path(root)
    if not (root / "solutions").is_dir():
        return []
    with _locked(root):
        stamp = _read_json(root / SYNC_STAMP)
        sqlite = _sqlite_file(db_url)
        known = stamp.get("lessons", {}) if stamp.get("db_url") == db_url else {}
        if sqlite is not None and not os.path.exists(sqlite):
            known = {}
        stale = [n for n, h in _sources(root).items() if known.get(n) != h]
        if stale:
            with tempfile.TemporaryDirectory(prefix="krylov-gradebook-") as tmp:
                _generate(config, stale, tmp)
            _record_sync(root, stale, db_url)
    return stale


def release(root, config, force=False, names=None, log=print):
    """Regenerate ``lessons/`` from ``solutions/``, never losing someone's work.

    A lesson notebook is overwritten only if it is exactly what the previous
    release wrote (its hash is in the manifest) or ``force`` is given.

    Raises
    ------
    ReleaseRefused
        If a lesson notebook was changed since it was released, naming it.
    """
    root = Path(root)
    names = names or lesson_names(root)
    manifest_path = root / "lessons" / MANIFEST
    with _locked(root), tempfile.TemporaryDirectory(prefix="krylov-release-") as tmp:
        manifest = _read_json(manifest_path)
        _generate(config, names, tmp)
        _record_sync(root, names, config.CourseDirectory.db_url)
        refused, written = [], []
        for name in names:
            fresh = Path(tmp) / name / f"{name}.ipynb"
            target = root / "lessons" / name / f"{name}.ipynb"
            if target.exists() and filecmp.cmp(fresh, target, shallow=False):
                continue
            if target.exists() and not force and manifest.get(name) != sha256(target):
                refused.append(name)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(fresh, target)
            written.append(name)
        for name in names:
            target = root / "lessons" / name / f"{name}.ipynb"
            if target.exists() and name not in refused:
                manifest[name] = sha256(target)
        _write_json(manifest_path, dict(sorted(manifest.items())))
    for name in written:
        log(f"released {name} -> lessons/{name}/{name}.ipynb")
    if not written and not refused:
        log("lessons/ is up to date")
    if refused:
        raise ReleaseRefused(
            "not overwriting " + ", ".join(f"lessons/{n}/{n}.ipynb" for n in refused)
            + ": changed since it was released (someone worked in it?). Students work in their "
            "own copy (make lab); move the file away, or run `make release FORCE=1` to overwrite it.")
    return written
