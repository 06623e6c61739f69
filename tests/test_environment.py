"""environment.yml (conda/Binder) and pyproject.toml list the same packages.

conda cannot be reached from the CI machines, so this comparison is the check
that the Binder environment has not drifted from the pip one."""

import re
import tomllib

from course import ROOT


def _name(spec):
    return re.split(r"[<>=!~ \[]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")


def pyproject_packages(text):
    project = tomllib.loads(text)["project"]
    specs = project["dependencies"] + [s for extra in project["optional-dependencies"].values()
                                       for s in extra]
    # conda packages have no extras: psycopg[binary] is conda-forge's psycopg.
    return {_name(s): re.sub(r"\[.*?\]", "", s.replace(" ", "")) for s in specs}


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


def test_same_packages_and_bounds():
    env, pip = environment_packages((ROOT / "environment.yml").read_text())
    # Packages conda-forge does not carry are pip lines of environment.yml.
    env.update({_name(p): p.replace(" ", "") for p in pip if p != "-e ."})
    pyproject = pyproject_packages((ROOT / "pyproject.toml").read_text())
    assert {"numpy", "scipy", "nbgrader", "pytest"} <= set(env)
    assert drift(env, pyproject) == []


def test_environment_installs_the_package():
    _, pip = environment_packages((ROOT / "environment.yml").read_text())
    assert pip[-1:] == ["-e ."], f"environment.yml should pip-install the course package, got {pip}"


def test_drift_is_reported():
    env = {"numpy": "numpy>=2.0", "scipy": "scipy>=1.12"}
    pyproject = {"numpy": "numpy>=1.26", "nbval": "nbval>=0.11"}
    assert drift(env, pyproject) == [
        "only in environment.yml: ['scipy']",
        "only in pyproject.toml: ['nbval']",
        "numpy: numpy>=2.0 in environment.yml but numpy>=1.26 in pyproject.toml",
    ]
