"""The install: pyproject.toml's extras, environment.yml, and the Makefile's stamps.

* pyproject.toml splits the optional dependencies by who needs them: `lab` (a
  student's `make lab`), `test`, `instructor`, and `dev`, all of them.
* environment.yml (conda/Binder) lists the same packages, with the same bounds.
  conda cannot be reached from the CI machines, so this comparison is the
  check that the Binder environment has not drifted from the pip one.
* `make lab` installs the package with `lab` only, `make test` with `dev`; each
  install is recorded by its own stamp, so neither reinstalls what the other
  already installed. Checked with a stand-in venv whose python only logs.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib

import pytest

from course import ROOT
from workspace import INSTRUCTOR_PLUGINS, write_jupyter_config  # scripts/, on the path by course

PROJECT = "krylov-ref"
# A student's install must stay light: none of these in the `lab` extra.
NOT_FOR_STUDENTS = {"pytest", "pytest-xdist", "hypothesis", "nbval", "playwright",
                    "pgserver", "psycopg", "psutil"}


def _name(spec):
    return re.split(r"[<>=!~ \[;]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _conda_spec(spec):
    # conda packages have no extras: psycopg[binary] is conda-forge's psycopg.
    return re.sub(r"\[.*?\]", "", spec.replace(" ", ""))


def extras(text):
    """{extra: {name: spec}} from pyproject.toml; "" holds the base dependencies.

    An entry naming the project itself (``krylov-ref[lab,test]``) stands for
    those extras' packages; an extra that does not exist is an error."""
    project = tomllib.loads(text)["project"]
    raw = {"": project["dependencies"], **project.get("optional-dependencies", {})}

    def resolve(extra, seen):
        if extra not in raw:
            raise ValueError(f"pyproject.toml has no extra {extra!r} (named in {seen[-1]!r})")
        if extra in seen:
            raise ValueError(f"extras name each other in a circle: {seen + (extra,)}")
        packages = {}
        for spec in raw[extra]:
            if _name(spec) == PROJECT:
                named = re.search(r"\[(.*?)\]", spec)
                for sub in (named.group(1).split(",") if named else []):
                    packages.update(resolve(sub.strip(), seen + (extra,)))
            else:
                packages[_name(spec)] = _conda_spec(spec)
        return packages

    return {extra: resolve(extra, ()) for extra in raw}


def pyproject_packages(text):
    """(every package of pyproject.toml with its bound, disagreements between extras)."""
    specs = {}  # name -> {spec: [where]}, from the entries as written
    project = tomllib.loads(text)["project"]
    for extra, entries in {"base": project["dependencies"],
                           **project.get("optional-dependencies", {})}.items():
        for entry in entries:
            if _name(entry) != PROJECT:
                specs.setdefault(_name(entry), {}).setdefault(_conda_spec(entry), []).append(extra)
    conflicts = [f"{name}: " + " but ".join(f"{spec} in {', '.join(where)}"
                                           for spec, where in found.items())
                 for name, found in sorted(specs.items()) if len(found) > 1]
    merged = {}
    for packages in extras(text).values():
        merged.update(packages)
    return merged, conflicts


def environment_packages(text):
    """(conda packages, pip lines) from environment.yml, without python and pip."""
    conda, pip, in_deps = {}, [], False
    for line in text.splitlines():
        if line.startswith("dependencies:"):
            in_deps = True
        elif in_deps and re.match(r"^\s+- ", line):
            item = line.strip()[2:].strip()
            if line.startswith("      - "):
                pip.append(item)
            elif item not in ("pip", "pip:") and _name(item) != "python":
                conda[_name(item)] = item.replace(" ", "")
    return conda, pip


def drift(env, pyproject):
    """Human-readable differences between the two package lists."""
    problems = []
    if set(env) - set(pyproject):
        problems.append(f"only in environment.yml: {sorted(set(env) - set(pyproject))}")
    if set(pyproject) - set(env):
        problems.append(f"only in pyproject.toml: {sorted(set(pyproject) - set(env))}")
    problems += [f"{k}: {env[k]} in environment.yml but {pyproject[k]} in pyproject.toml"
                 for k in sorted(set(env) & set(pyproject)) if env[k] != pyproject[k]]
    return problems


def environment_drift(environment_yml, pyproject_toml):
    env, pip = environment_packages(environment_yml)
    # Packages conda-forge does not carry are pip lines of environment.yml.
    env.update({_name(p): p.replace(" ", "") for p in pip if p != "-e ."})
    pyproject, conflicts = pyproject_packages(pyproject_toml)
    return drift(env, pyproject) + conflicts


PYPROJECT = (ROOT / "pyproject.toml").read_text()
ENVIRONMENT = (ROOT / "environment.yml").read_text()


def test_same_packages_and_bounds():
    assert {"numpy", "scipy", "nbgrader", "pytest"} <= set(environment_packages(ENVIRONMENT)[0])
    assert environment_drift(ENVIRONMENT, PYPROJECT) == []


def test_environment_installs_the_package():
    _, pip = environment_packages(ENVIRONMENT)
    assert pip[-1:] == ["-e ."], f"environment.yml should pip-install the course package, got {pip}"


def test_each_extra_has_what_its_users_need():
    by_extra = extras(PYPROJECT)
    assert {"lab", "test", "instructor", "book", "dev"} <= set(by_extra)
    lab, test, instructor = by_extra["lab"], by_extra["test"], by_extra["instructor"]
    book = by_extra["book"]
    assert {"jupyterlab", "ipykernel", "nbgrader"} <= set(lab)  # nbgrader: the Validate button
    extra = NOT_FOR_STUDENTS & set(lab)
    assert not extra, f"not needed by a student: {sorted(extra)}"
    assert {"pytest", "pytest-xdist", "hypothesis", "nbval", "playwright"} <= set(test)
    assert {"nbgrader", "psutil", "pgserver", "psycopg"} <= set(instructor)
    # the book builds offline: MathJax comes from a package
    assert {"sphinx", "myst-nb", "sphinx-book-theme", "jupyter-server-mathjax"} <= set(book)
    assert not NOT_FOR_STUDENTS & set(book)
    # `make setup`, `make test` and the instructor's commands install dev: all of it
    assert by_extra["dev"] == {**lab, **test, **instructor, **book}


def test_disagreements_are_reported():
    env = {"numpy": "numpy>=2.0", "scipy": "scipy>=1.12"}
    pyproject = {"numpy": "numpy>=1.26", "nbval": "nbval>=0.11"}
    assert drift(env, pyproject) == [
        "only in environment.yml: ['scipy']",
        "only in pyproject.toml: ['nbval']",
        "numpy: numpy>=2.0 in environment.yml but numpy>=1.26 in pyproject.toml",
    ]
    # a package of one extra missing from environment.yml
    assert environment_drift(ENVIRONMENT.replace("  - hypothesis>=6.100\n", ""), PYPROJECT) == [
        "only in pyproject.toml: ['hypothesis']"]
    # two extras that disagree on a bound
    bumped = PYPROJECT.replace('instructor = [\n    "nbgrader>=0.9.5"',
                               'instructor = [\n    "nbgrader>=0.9.6"')
    assert bumped != PYPROJECT
    assert ("nbgrader: nbgrader>=0.9.5 in lab but nbgrader>=0.9.6 in instructor"
            in environment_drift(ENVIRONMENT, bumped))
    # dev naming an extra that does not exist
    with pytest.raises(ValueError, match="no extra 'tset'"):
        extras(PYPROJECT.replace("krylov-ref[lab,test,instructor,book]",
                                 "krylov-ref[lab,tset,instructor,book]"))


# ---- the Makefile's install plumbing, with a stand-in venv ---------------------------

FAKE_TOOL = """#!/bin/sh
echo "$(basename "$0") $*" >> "{log}"
"""


@pytest.fixture
def fake_course(tmp_path):
    """A course folder with the real Makefile and a .venv whose python and
    jupyter only write their arguments to a log."""
    if shutil.which("make") is None:
        pytest.fail("`make` is needed: the course's commands are make targets")
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "my-work").mkdir()
    log = tmp_path / "calls.log"
    for tool in ("python", "jupyter"):
        path = tmp_path / ".venv" / "bin" / tool
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(FAKE_TOOL.format(log=log))
        path.chmod(0o755)

    def make(target, **environ):
        """Run `make target` (with these environment variables; None removes
        one); return the installs it ran ('lab', 'dev')."""
        log.write_text("")
        env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
        env.update({k: v for k, v in environ.items() if v is not None})
        for k in [k for k, v in environ.items() if v is None]:
            env.pop(k, None)
        done = subprocess.run(["make", "--no-print-directory", target], cwd=tmp_path, env=env,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        calls = log.read_text().splitlines()
        return [re.search(r"-e \.\[(\w+)\]", c).group(1) for c in calls if "pip install" in c]

    make.calls = lambda: log.read_text().splitlines()
    make.root = tmp_path
    return make


def test_make_lab_installs_the_lab_extra_only(fake_course):
    assert fake_course("lab") == ["lab"]
    assert fake_course("lab") == []  # installed: not again
    # and then starts JupyterLab
    assert [c for c in fake_course.calls() if c.startswith("jupyter lab")]


def test_make_test_after_make_lab_installs_the_rest(fake_course):
    assert fake_course("lab") == ["lab"]
    assert fake_course("test") == ["dev"]
    assert fake_course("test") == []
    assert fake_course("lab") == []


def test_make_lab_after_make_test_installs_nothing(fake_course):
    assert fake_course("test") == ["dev"]
    assert fake_course("lab") == []
    for target in ("setup", "release", "mutants", "autograde-demo", "bench-grading"):
        assert fake_course(target) == [], target


def _touch_pyproject(fake_course):
    stamps = list((fake_course.root / ".venv").glob(".installed-*"))
    later = max(p.stat().st_mtime for p in stamps) + 10
    os.utime(fake_course.root / "pyproject.toml", (later, later))


def test_a_changed_pyproject_is_installed_again(fake_course):
    assert fake_course("test") == ["dev"]
    _touch_pyproject(fake_course)
    assert fake_course("lab") == ["lab"]
    assert fake_course("test") == ["dev"]


def test_the_students_install_leaves_byte_compilation_to_python(fake_course):
    """pip's compiling of every module is half of a student's install: skipped,
    unless Python may not write bytecode (then every start would pay for it)."""
    def pip_line():
        return next(c for c in fake_course.calls() if "pip install" in c)

    assert fake_course("lab", PYTHONDONTWRITEBYTECODE=None) == ["lab"]
    assert "--no-compile" in pip_line().split()
    _touch_pyproject(fake_course)
    assert fake_course("lab", PYTHONDONTWRITEBYTECODE="1") == ["lab"]
    assert "--no-compile" not in pip_line().split()
    assert fake_course("test", PYTHONDONTWRITEBYTECODE=None) == ["dev"]
    assert "--no-compile" not in pip_line().split()


# ---- the student's JupyterLab: nbgrader's instructor tools switched off -------------

def test_the_plugins_make_lab_disables_exist():
    """The plugin ids scripts/workspace.py disables are those of the installed
    @jupyter/nbgrader (a renamed plugin would silently come back)."""
    labext = os.path.join(sys.prefix, "share", "jupyter", "labextensions", "@jupyter", "nbgrader")
    assert os.path.isdir(labext), f"nbgrader's JupyterLab extension is not installed in {labext}"
    static = os.path.join(labext, "static")
    code = "".join(open(os.path.join(static, f)).read()
                   for f in os.listdir(static) if f.endswith(".js"))
    plugins = set(re.findall(r'"(@jupyter/nbgrader:[\w-]+)"', code))
    assert "@jupyter/nbgrader:validate-assignment" in plugins, sorted(plugins)
    assert set(INSTRUCTOR_PLUGINS) <= plugins, sorted(plugins)
    assert not {"@jupyter/nbgrader:validate-assignment",
                "@jupyter/nbgrader:assignment-list"} & set(INSTRUCTOR_PLUGINS)


def test_student_jupyter_config(tmp_path):
    from traitlets.config.loader import PyFileConfigLoader

    folder = write_jupyter_config(tmp_path / "student")
    page = json.loads((folder / "labconfig" / "page_config.json").read_text())
    assert sorted(p for p, off in page["disabledExtensions"].items() if off) == \
        sorted(INSTRUCTOR_PLUGINS)
    nbgrader = PyFileConfigLoader("nbgrader_config.py", path=str(folder)).load_config()
    exchange = nbgrader.Exchange.root
    assert os.path.isdir(exchange) and not os.listdir(exchange), exchange
    assert write_jupyter_config(tmp_path / "student") == folder  # again: same folder, no error
