"""The sandbox of graded code: hostile submissions, graded among honest ones,
lose nothing for anyone else.

Each attacker hands in lesson 01 with its first answer cell replaced by an
attack that runs while it is graded: overwrite classmates' notebooks, write
into the gradebook (sqlite and PostgreSQL), read solutions/ and run it, read a
classmate's submission, connect to a listener on the grading machine,
fork-bomb, allocate far more memory than the limit, write a huge file, leave a
detached process behind, and signal the grading process. The class is graded
twice, as an instructor would: ``nbgrader autograde`` on the sqlite gradebook,
and ``make autograde``'s parallel grader on a PostgreSQL one. Each time:

* every other submission is byte-identical afterwards, and the gradebook is
  intact;
* the honest classmates get exactly the scores they get without the attackers;
* no attacker earns anything (each is blank but for the attack);
* the run finishes;
* the instructor sees, in the summary or log and in grades_integrity.csv, a
  line saying what was blocked.

Further down: the sandbox's pieces one by one (files, network, environment,
limits, refusal when it cannot start, the opt-out)."""

from __future__ import annotations

import csv
import hashlib
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

from course import ROOT, copy_course, lesson_names, make_submission

L01 = "01_quadratics"
BIN = os.path.dirname(sys.executable)
MARKER = "krylov-hostile-marker"
pytestmark = pytest.mark.skipif(L01 not in lesson_names(), reason="needs lesson 01")

STUB = "def quadratic(A, b, x):\n    raise NotImplementedError()\n"

# Each attack is an answer cell; {root}, {port}, {unix}, {late}, {pg} are filled in.
ATTACKS = {
    "overwrite": r'''
import os
hits = []
roots = [{root!r}]
d = os.getcwd()
while d != os.path.dirname(d):
    roots.append(d)
    d = os.path.dirname(d)
for top in roots:
    for dirpath, _, files in os.walk(top):
        for name in files:
            if name.endswith(".ipynb"):
                path = os.path.join(dirpath, name)
                try:
                    with open(path, "w") as f:
                        f.write("{{}}")
                    hits.append(path)
                except OSError as e:
                    print("blocked:", type(e).__name__)
for victim in ("alice", "bob"):
    path = os.path.join({root!r}, "submitted", victim, "01_quadratics", "01_quadratics.ipynb")
    for attempt in (lambda: open(path, "w").write("{{}}"), lambda: os.remove(path)):
        try:
            attempt()
            hits.append(path)
        except OSError as e:
            print("blocked:", type(e).__name__)
print("overwrote", len(hits))
''',
    "gradebook": r'''
import sqlite3
try:
    db = sqlite3.connect(__import__("os").path.join({root!r}, "gradebook.db"))
    db.execute("UPDATE grade SET manual_score = 1000")
    db.execute("DELETE FROM submitted_notebook")
    db.commit()
except Exception as e:
    print("sqlite blocked:", type(e).__name__)
try:
    import psycopg
    with psycopg.connect({pg!r}.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=3) as c:
        c.execute("DELETE FROM grade")
except Exception as e:
    print("postgres blocked:", type(e).__name__)
import socket
for port in (5432, 5433):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2)
    except OSError as e:
        print("tcp blocked:", type(e).__name__)
''',
    "solutions": r'''
import json, os
found = None
for dirpath, _, files in os.walk({root!r}):
    if "01_quadratics.ipynb" in files and os.path.basename(dirpath) == "01_quadratics" \
            and "solutions" in dirpath:
        found = os.path.join(dirpath, "01_quadratics.ipynb")
try:
    cells = json.load(open(found or os.path.join({root!r}, "solutions", "01_quadratics",
                                                  "01_quadratics.ipynb")))["cells"]
    for c in cells:
        src = "".join(c["source"])
        if "BEGIN SOLUTION" in src:
            exec(src, globals())
    print("ran the solutions")
except Exception as e:
    print("blocked:", type(e).__name__)
''',
    "classmate": r'''
import json, os
try:
    nb = json.load(open(os.path.join({root!r}, "submitted", "alice", "01_quadratics",
                                     "01_quadratics.ipynb")))
    for c in nb["cells"]:
        if c.get("metadata", {{}}).get("nbgrader", {{}}).get("solution"):
            exec("".join(c["source"]), globals())
    print("copied alice")
except Exception as e:
    print("blocked:", type(e).__name__)
''',
    "listener": r'''
import socket
for target in (("127.0.0.1", {port}), ("localhost", {port})):
    try:
        s = socket.create_connection(target, timeout=2)
        s.sendall(b"PWNED")
    except OSError as e:
        print("tcp blocked:", type(e).__name__)
try:
    u = socket.socket(socket.AF_UNIX)
    u.connect({unix!r})
    u.sendall(b"PWNED")
except OSError as e:
    print("unix blocked:", type(e).__name__)
''',
    "forkbomb": r'''
import os
for _ in range(100000):
    try:
        os.fork()
    except OSError:
        pass
''',
    "memory": r'''
hog = []
for _ in range(64):
    hog.append(bytearray(512 * 2**20))   # 32 GiB in all, against a limit of 4
''',
    "hugefile": r'''
import os
chunk = b"\0" * 2**24
for path in ("/tmp/huge", "huge", os.path.join({root!r}, "huge")):
    try:
        with open(path, "wb") as f:
            for _ in range(4096):   # 64 GiB
                f.write(chunk)
    except OSError as e:
        print("blocked:", type(e).__name__)
''',
    "detached": r'''
import subprocess, sys
late = {late!r}
code = ("import time, os; time.sleep(4); "
        f"open({{late!r}}, 'w').write('acted after the kernel'); time.sleep(600)")
subprocess.Popen([sys.executable, "-c", code, "{marker}"], start_new_session=True,
                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print("left a process behind")
''',
    "killer": r'''
import os, signal
for target in (os.getppid(), 1):
    try:
        os.kill(target, signal.SIGKILL)
    except OSError as e:
        print("blocked:", type(e).__name__)
for pid in os.listdir("/proc"):
    if pid.isdigit() and int(pid) != os.getpid():
        try:
            cmd = open(f"/proc/{{pid}}/cmdline", "rb").read()
            if b"nbgrader" in cmd or b"autograde" in cmd or b"pytest" in cmd:
                os.kill(int(pid), signal.SIGKILL)
        except OSError as e:
            print("blocked:", type(e).__name__)
''',
}
# What the instructor must be told about each attack (a fragment of the flag).
BLOCKED = {
    "overwrite": "tried to write",
    "gradebook": "tried to open the database",
    "solutions": "solutions",
    "classmate": "submitted/alice",
    "listener": "tried to use the network",
    "forkbomb": "processes",
    "memory": "memory",
    "hugefile": "file_size_mb",
    "detached": "still running at the end",
    "killer": "tried to signal",
}
HONEST = {"alice": {}, "bob": dict(answered=False)}
CELL_TIMEOUT = 20


def env(**extra):
    return dict(os.environ, PATH=BIN + os.pathsep + os.environ["PATH"], KRYLOV_REF_TIME_LIMIT="10",
                **extra)


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def snapshot(root, who):
    return {str(p.relative_to(root)): digest(p) for p in sorted((root / "submitted").rglob("*"))
            if p.is_file() and p.relative_to(root / "submitted").parts[0] in who}


class Listener:
    """A TCP and a Unix-socket listener on the grading machine: anything that
    reaches them is recorded."""

    def __init__(self, folder):
        self.hits = []
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.port = self.tcp.getsockname()[1]
        self.path = str(folder / "listen.sock")
        self.unix = socket.socket(socket.AF_UNIX)
        self.unix.bind(self.path)
        self.unix.listen()
        for server in (self.tcp, self.unix):
            server.settimeout(0.5)
            threading.Thread(target=self._accept, args=(server,), daemon=True).start()
        self.stopped = False

    def _accept(self, server):
        while not getattr(self, "stopped", False):
            try:
                conn, _ = server.accept()
            except (socket.timeout, OSError):
                continue
            self.hits.append(conn.recv(64))
            conn.close()

    def close(self):
        self.stopped = True
        self.tcp.close()
        self.unix.close()


def build_class(root, tmp, listener, pg_url):
    # A shorter cell timeout than the course's 60 s: the memory hog's kernel
    # crawls until it is stopped at the first cell that outlives it.
    with open(root / "nbgrader_config.py", "a") as f:
        f.write(f"\nc.SealedExecute.timeout = {CELL_TIMEOUT}\n")
    late = {}
    place = {}
    for student, recipe in HONEST.items():
        place[student] = make_submission(L01, root=root, **recipe)
    for attack, template in ATTACKS.items():
        late[attack] = str(tmp / f"late-{attack}")
        code = template.format(root=str(root), port=listener.port, unix=listener.path,
                               late=late[attack], pg=pg_url or "postgresql://nobody@/none",
                               marker=MARKER)
        place[f"attack_{attack}"] = make_submission(
            L01, root=root, answered=False, replace={"quadratic_answer": STUB + code})
    for student, nb in place.items():
        path = root / "submitted" / student / L01 / f"{L01}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(path))
    return late


def cell_scores(db_url, students):
    from nbgrader.api import Gradebook

    with Gradebook(db_url, "krylov") as gb:
        return {s: sorted((g.name, g.score) for g in gb.find_submission_notebook(L01, L01, s).grades)
                for s in students}


def marked_processes():
    import psutil

    found = []
    for process in psutil.process_iter(["cmdline"]):
        if any(MARKER in part for part in (process.info["cmdline"] or [])):
            found.append(process)
    return found


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """The honest students graded alone."""
    root = copy_course(tmp_path_factory.mktemp("baseline"))
    for student, recipe in HONEST.items():
        path = root / "submitted" / student / L01 / f"{L01}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(make_submission(L01, root=root, **recipe), str(path))
    proc = subprocess.run(["nbgrader", "autograde", L01], cwd=root, env=env(), capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return cell_scores(f"sqlite:///{root / 'gradebook.db'}", HONEST)


def _grade(tmp_path_factory, how, postgres_url=None):
    tmp = tmp_path_factory.mktemp(f"battery-{how}")
    root = copy_course(tmp / "course")
    listener = Listener(tmp)
    late = build_class(root, tmp, listener, postgres_url)
    who = set(HONEST) | {f"attack_{a}" for a in ATTACKS}
    before = snapshot(root, who)
    extra = {"KRYLOV_GRADEBOOK_URL": postgres_url} if postgres_url else {}
    start = time.perf_counter()
    if how == "nbgrader":
        proc = subprocess.run(["nbgrader", "autograde", L01], cwd=root, env=env(**extra),
                              capture_output=True, text=True, timeout=1200)
    else:
        proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "autograde.py"), L01,
                               "--root", str(root), "--workers", "2"], cwd=root, env=env(**extra),
                              capture_output=True, text=True, timeout=1200)
    seconds = time.perf_counter() - start
    export = subprocess.run(["nbgrader", "export", "--to", "grades.csv"], cwd=root,
                            env=env(**extra), capture_output=True, text=True, timeout=300)
    assert export.returncode == 0, export.stderr[-3000:]
    time.sleep(5)  # the detached process would have acted by now
    survivors = marked_processes()
    for process in survivors:
        process.kill()
    listener.close()
    with open(root / "grades_integrity.csv") as f:
        flags = [row for row in csv.DictReader(f) if row["assignment"] == L01]
    with open(root / "grades.csv") as f:
        grades = {row["student_id"]: row for row in csv.DictReader(f) if row["assignment"] == L01}
    db_url = postgres_url or f"sqlite:///{root / 'gradebook.db'}"
    return dict(root=root, proc=proc, seconds=seconds, before=before, after=snapshot(root, who),
                flags=flags, grades=grades, late=late, listener=listener, survivors=survivors,
                scores=cell_scores(db_url, HONEST), db_url=db_url)


@pytest.fixture(scope="module")
def by_nbgrader(tmp_path_factory):
    return _grade(tmp_path_factory, "nbgrader")


@pytest.fixture(scope="module")
def by_make_autograde(tmp_path_factory, postgres):
    return _grade(tmp_path_factory, "parallel", postgres)


@pytest.fixture(params=["nbgrader", "make autograde"])
def battery(request):
    return request.getfixturevalue("by_nbgrader" if request.param == "nbgrader" else "by_make_autograde")


def test_the_run_finishes_and_grades_everyone(battery):
    proc = battery["proc"]
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert set(battery["grades"]) == set(HONEST) | {f"attack_{a}" for a in ATTACKS}
    print(f"battery graded in {battery['seconds']:.1f} s")


def test_no_submission_was_changed(battery):
    changed = {k for k in battery["before"] if battery["before"][k] != battery["after"].get(k)}
    assert not changed, sorted(changed)


def test_the_honest_classmates_score_as_without_the_attackers(battery, baseline):
    assert battery["scores"] == baseline
    assert float(battery["grades"]["alice"]["raw_score"]) == 10.0
    assert float(battery["grades"]["bob"]["raw_score"]) == 0.0
    for student in HONEST:
        assert battery["grades"][student]["integrity_flags"] == "0"
        assert battery["grades"][student]["sandbox_flags"] == "0"


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_the_attacker_earns_nothing_and_the_instructor_is_told(battery, attack):
    student = f"attack_{attack}"
    assert float(battery["grades"][student]["raw_score"]) == 0.0
    lines = [f["detail"] for f in battery["flags"] if f["student_id"] == student and f["kind"] == "sandbox"]
    assert any(BLOCKED[attack] in line for line in lines), (attack, lines)
    shown = battery["proc"].stdout + battery["proc"].stderr
    assert any(BLOCKED[attack] in line and student in line for line in shown.splitlines()), \
        shown[-4000:]


def test_the_gradebook_is_intact(battery):
    from nbgrader.api import Gradebook

    with Gradebook(battery["db_url"], "krylov") as gb:
        for student in battery["grades"]:
            submission = gb.find_submission(L01, student)
            assert 0 <= submission.score <= submission.max_score == 10.0
    if battery["db_url"].startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(battery["root"] / "gradebook.db") as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_nothing_reached_the_listeners_and_no_process_outlived_its_kernel(battery):
    assert battery["listener"].hits == []
    assert not battery["survivors"], [p.pid for p in battery["survivors"]]
    assert not Path(battery["late"]["detached"]).exists()
    assert not (battery["root"] / "huge").exists()


# ---------------------------------------------------------------- the pieces


def run_in_sandbox(code, tmp_path, sandbox=None, **env_vars):
    """Run ``code`` with the venv's Python in the sandbox; (returncode, stdout, stderr)."""
    from krylov_ref.grading.sandbox import Sandbox

    sandbox = sandbox or Sandbox()
    kernel_dir = tmp_path / "kernel"
    kernel_dir.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        os.chown(kernel_dir, sandbox.uid(), sandbox.uid())
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    cmd = sandbox.command([sys.executable, "-c", code], cwd=str(work), kernel_dir=str(kernel_dir),
                          env=dict(os.environ, **env_vars))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


def test_the_sandbox_sees_only_what_it_may(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("the instructor's")
    code = f"""
import os, socket
print("course:", os.path.exists({str(ROOT / 'solutions')!r}))
print("secret:", os.path.exists({str(secret)!r}))
print("home:", os.listdir(os.path.expanduser("~")) if os.path.isdir(os.path.expanduser("~")) else None)
import krylov_ref, numpy, scipy, matplotlib
print("package:", krylov_ref.__file__)
for path in ("/tmp/ok", "here", "/ok", "/dev/shm/ok", {str(ROOT / 'x')!r}):
    try:
        open(path, "w").write("x")
        print("wrote", path)
    except OSError as e:
        print("refused", path, type(e).__name__)
try:
    socket.create_connection(("127.0.0.1", 22), timeout=2)
    print("network: yes")
except OSError:
    print("network: no")
print("env:", sorted(os.environ))
"""
    code_, out, err = run_in_sandbox(code, tmp_path, KRYLOV_GRADEBOOK_URL="postgresql://secret",
                                     KRYLOV_REF_TIME_LIMIT="7")
    assert code_ == 0, err
    assert "course: False" in out and "secret: False" in out
    assert "package: " + str(ROOT / "krylov_ref" / "__init__.py") in out
    assert "wrote /tmp/ok" in out
    for refused in ("here", "/ok", "/dev/shm/ok", str(ROOT / "x")):
        assert f"refused {refused}" in out, out
    assert "network: no" in out
    assert "KRYLOV_GRADEBOOK_URL" not in out and "KRYLOV_REF_TIME_LIMIT" in out
    assert not (ROOT / "x").exists()


def test_the_limits_hold(tmp_path):
    from krylov_ref.grading.sandbox import Sandbox

    sandbox = Sandbox(memory_mb=512, file_size_mb=1, open_files=64, processes=64)
    code = """
import os
try:
    x = bytearray(1024 * 2**20)
    print("memory: allocated")
except MemoryError:
    print("memory: refused")
try:
    open("/tmp/f", "wb").write(b"0" * 2 * 2**20)
    print("file: written")
except OSError as e:
    print("file:", e.strerror)
files = []
try:
    for _ in range(200):
        files.append(open("/dev/null"))
    print("files: all")
except OSError as e:
    print("files:", len(files) < 64, e.strerror)
pids = []
try:
    for _ in range(200):
        pid = os.fork()
        if pid == 0:
            import time; time.sleep(2); os._exit(0)
        pids.append(pid)
    print("processes: all")
except OSError as e:
    print("processes:", len(pids) < 64, e.strerror)
"""
    code_, out, err = run_in_sandbox(code, tmp_path, sandbox)
    assert "memory: refused" in out, (out, err)
    assert "file: File too large" in out, out
    assert "files: True Too many open files" in out, out
    assert "processes: True Resource temporarily unavailable" in out, out


def test_grading_refuses_when_the_sandbox_cannot_start_and_says_how_to_opt_out(tmp_path):
    root = copy_course(tmp_path / "course")
    path = root / "submitted" / "alice" / L01 / f"{L01}.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(make_submission(L01, root=root), str(path))
    with open(root / "nbgrader_config.py", "a") as f:
        f.write("\nc.Sandbox.bwrap = 'bwrap-is-not-installed'\n")
    for command in (["nbgrader", "autograde", L01],
                    [sys.executable, str(ROOT / "scripts" / "autograde.py"), L01, "--root", str(root)]):
        proc = subprocess.run(command, cwd=root, env=env(), capture_output=True, text=True,
                              timeout=600)
        text = proc.stdout + proc.stderr
        assert proc.returncode != 0
        assert "Refusing to grade" in text and "bubblewrap" in text and \
            "c.Sandbox.enabled = False" in text, text[-3000:]
    assert not (root / "autograded" / "alice" / L01 / f"{L01}.ipynb").exists()
    # Opting out explicitly grades, and says so.
    with open(root / "nbgrader_config.py", "a") as f:
        f.write("\nc.Sandbox.enabled = False\n")
    proc = subprocess.run(["nbgrader", "autograde", L01], cwd=root, env=env(), capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "WITHOUT the sandbox" in proc.stderr
    assert (root / "autograded" / "alice" / L01 / f"{L01}.ipynb").exists()
