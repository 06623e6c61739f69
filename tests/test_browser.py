"""The course in a real browser, driven in headless Chromium through Playwright.

The student's JupyterLab is started by `make lab` itself, on a fresh copy of
the course (the installed venv is reused: the test never installs):
it serves my-work/ (the file browser shows the lessons and nothing of the
course's machinery), starts without the instructor's work (no gradebook sync,
no solution converted), and shows nbgrader's student tools only: the Validate
button, which works there, and an empty Assignment List; no Formgrader,
Create Assignment or Course List. Lesson 01 there: the LaTeX renders (MathJax
ran, no raw $...$ left); Run All reaches the last cell, every figure is an
image and each visible test shows its one-line "not answered yet"; a wrong
answer typed into exercise 1 gets its diagnosis, in the notebook and from
the Validate button.

The instructor's JupyterLab is a separate server started in the course
folder (docs/instructor.md): Formgrader lists every lesson with no exchange
warning. Any error in either browser console fails the test.

Needs Debian's Chromium (`apt-get install chromium`, as root; `.ci/run` does
it), `make`, and the `playwright` package (the test extra). Without Chromium
the test is skipped with a line saying so.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from course import ROOT, copy_course, lesson_names, read, solution_path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium: run `apt-get install -y chromium` (as root) to enable the browser test")

L01 = "01_quadratics"
BIN = os.path.dirname(sys.executable)
VENV = sys.prefix
# Flags for a sandboxed, offline machine: no background requests to Google's servers.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WRONG_ANSWER = ("def quadratic(A, b, x):\n"
                "    return 0.5 * x @ A @ x - b @ x, b - A @ x")
# JupyterLab settings for the test: every cell in the page (no windowing), no news popup.
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false"},
}
# What the instructor's server logs when it loads the course's nbgrader_config.py.
INSTRUCTOR_LOG = ("Loading the formgrader", "Updating/creating assignment", "Converting notebook")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def all_lessons():
    return sorted(d.name for d in (ROOT / "lessons").iterdir()
                  if (d / f"{d.name}.ipynb").is_file())


def lab_stamp():
    """The stamp of `make lab`'s install, in this venv (the Makefile's LAB_STAMP)."""
    found = re.search(r"^LAB_STAMP\s*:=\s*\$\(VENV\)/(\S+)\s*$",
                      (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert found, "the Makefile should define LAB_STAMP := $(VENV)/..."
    return os.path.join(VENV, found.group(1))


def jupyter_env(state):
    """The environment of a test server: fresh JupyterLab settings and workspaces."""
    settings = state / "lab-settings"
    for name, values in SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(settings),
               JUPYTERLAB_WORKSPACES_DIR=str(state / "workspaces"))
    env.pop("MPLBACKEND", None)  # the tests draw with Agg; a student's kernel draws inline
    for var in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):  # when run by `make test`
        env.pop(var, None)
    return env


class Server:
    """A command that serves JupyterLab on ``port``, in its own process group."""

    def __init__(self, command, cwd, env, port, token, log_path):
        self.base, self.token, self.log_path = f"http://127.0.0.1:{port}", token, log_path
        self._log = open(log_path, "w")
        self.proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(self.url("/lab"), timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    pytest.fail(f"JupyterLab did not start ({' '.join(command)}):\n"
                                + self.log()[-3000:])
                time.sleep(0.2)

    def url(self, path):
        return f"{self.base}{path}{'&' if '?' in path else '?'}token={self.token}"

    def log(self):
        return open(self.log_path).read()

    def stop(self):
        """Terminate the whole process group (make, its shell, JupyterLab, kernels)."""
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                self.proc.poll()
                os.killpg(self.proc.pid, 0)  # ProcessLookupError once all are gone
                time.sleep(0.2)
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)
        self._log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def new_page(browser):
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    problems = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    return page, problems


@pytest.fixture(scope="module")
def lab(tmp_path_factory, browser):
    """The student's JupyterLab, started by `make lab` in a fresh copy of the course."""
    root = copy_course(tmp_path_factory.mktemp("course"))
    for name in ("Makefile", "pyproject.toml", "scripts/workspace.py"):
        (root / name).parent.mkdir(exist_ok=True)
        shutil.copy(ROOT / name, root / name)
    state = tmp_path_factory.mktemp("jupyter-state")
    env = jupyter_env(state)
    port, token = free_port(), secrets.token_hex(16)
    make = ["make", "-o", lab_stamp(), "lab", f"VENV={VENV}",
            f"LAB_FLAGS=--port={port} --IdentityProvider.token={token}"]
    dry_run = subprocess.run([*make, "-n"], cwd=root, env=env, capture_output=True, text=True)
    assert dry_run.returncode == 0 and "pip" not in dry_run.stdout, dry_run.stdout + dry_run.stderr
    server = Server(make, root, env, port, token, state / "lab.log")
    page, problems = new_page(browser)
    yield {"page": page, "server": server, "root": root, "problems": problems}
    server.stop()


@pytest.fixture(scope="module")
def instructor(tmp_path_factory, browser):
    """The instructor's JupyterLab, in the course folder (docs/instructor.md)."""
    root = copy_course(tmp_path_factory.mktemp("instructor-course"))
    state = tmp_path_factory.mktemp("instructor-state")
    env = jupyter_env(state)
    env["PATH"] = BIN + os.pathsep + env["PATH"]
    port, token = free_port(), secrets.token_hex(16)
    server = Server([os.path.join(BIN, "jupyter"), "lab", "--allow-root", "--no-browser",
                     "--ip=127.0.0.1", f"--port={port}", f"--IdentityProvider.token={token}"],
                    root, env, port, token, state / "lab.log")
    page, problems = new_page(browser)
    yield {"page": page, "server": server, "problems": problems}
    server.stop()


def nbgrader_menu(page):
    """The visible items of JupyterLab's Nbgrader menu (none if there is no such menu)."""
    page.wait_for_selector(".lm-MenuBar-item", timeout=60_000)
    if not page.locator(".lm-MenuBar-item:has-text('Nbgrader')").count():
        return []
    page.click(".lm-MenuBar-item:has-text('Nbgrader')")
    page.wait_for_selector(".lm-Menu", timeout=10_000)
    labels = page.evaluate("""() => [...document.querySelectorAll(
                                '.lm-Menu .lm-Menu-item:not(.lm-mod-hidden) .lm-Menu-itemLabel')]
                                .map(e => e.innerText.trim())""")
    page.keyboard.press("Escape")
    return labels


def open_lab_home(page, server):
    page.goto(server.url("/lab"))
    page.wait_for_selector(".jp-DirListing-item", timeout=90_000)
    time.sleep(1)  # plugins that add sidebars and menus have activated


def side_panels(page):
    """The titles of the side bars' tabs, left and right."""
    return page.evaluate("""() => [...document.querySelectorAll('.jp-SideBar .lm-TabBar-tab')]
                             .map(t => t.title || t.innerText || t.dataset.id)""")


@pytest.fixture(scope="module")
def student_home(lab):
    page = lab["page"]
    open_lab_home(page, lab["server"])
    files = page.evaluate("""() => [...document.querySelectorAll('.jp-DirListing-itemName')]
                                   .map(e => e.innerText.trim())""")
    return {"files": files,
            "menu": nbgrader_menu(page), "panels": side_panels(page),
            "text": page.inner_text("body")}


def test_student_lab_serves_my_work(lab, student_home):
    server = lab["server"]
    assert f"Serving notebooks from local directory: {lab['root'] / 'my-work'}" in server.log()
    assert student_home["files"] == all_lessons(), student_home["files"]
    listing = json.load(urllib.request.urlopen(server.url("/api/contents")))
    assert sorted(item["name"] for item in listing["content"]) == all_lessons()


def test_student_lab_starts_without_the_instructors_work(lab, student_home):
    log = lab["server"].log()
    seen = [line for line in log.splitlines() if any(s in line for s in INSTRUCTOR_LOG)]
    assert not seen, seen[:5]
    assert not (lab["root"] / "gradebook.db").exists()


def test_student_lab_shows_the_students_tools_only(lab, student_home):
    assert student_home["menu"] == ["Assignment List"], student_home["menu"]
    for name in ("Create Assignment", "Formgrader", "Course List"):
        assert name not in student_home["text"], name
        assert not [p for p in student_home["panels"] if name.lower() in p.lower()], \
            student_home["panels"]
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(lab["server"].url("/formgrader"))
    assert answer.value.code == 404


def test_assignment_list_is_empty_without_an_error(lab, student_home):
    page = lab["page"]
    page.click(".lm-MenuBar-item:has-text('Nbgrader')")
    page.click("li.lm-Menu-item:has-text('Assignment List')")
    page.wait_for_selector("#nbgrader-assignment-list", timeout=30_000)
    page.wait_for_function("""() => document.querySelector('#nbgrader-assignment-list')
                                    .innerText.includes('There are no assignments to fetch')""",
                           timeout=30_000)
    text = page.inner_text("#nbgrader-assignment-list")
    assert "No courses found" in text, text
    assert "error" not in text.lower() and "exchange directory" not in text, text
    page.click("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabCloseIcon")


def wait_idle(page, timeout=180):
    """Until the kernel is idle and no cell is queued or running."""
    page.wait_for_function(
        """() => {
            const k = document.querySelector('.jp-Notebook-ExecutionIndicator');
            const busy = [...document.querySelectorAll('.jp-InputPrompt')]
                .some(p => p.textContent.includes('*'));
            return k && k.dataset.status === 'idle' && !busy;
        }""", timeout=timeout * 1000)


def run_menu(page, label):
    """Click Run > ``label`` in JupyterLab's menu bar, as a student does."""
    page.click(".lm-MenuBar-item:has-text('Run')")
    page.click(f"li.lm-Menu-item:has(.lm-Menu-itemLabel:text-is('{label}'))")


STARTED = """() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
                  .some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))"""


def run_all(page):
    """Run > Run All Cells, once the notebook has the focus and the kernel is ready.

    Right after a notebook opens, the command can be ignored while the kernel
    session is still connecting: then it is clicked again.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(3):
        page.click(".jp-Notebook .jp-Cell >> nth=0")
        run_menu(page, "Run All Cells")
        try:
            page.wait_for_function(STARTED, timeout=20_000)
            return
        except PlaywrightTimeout:
            continue
    pytest.fail("Run All Cells did not start the notebook")


@pytest.fixture(scope="module")
def lesson01(lab, student_home):
    page = lab["page"]
    page.goto(lab["server"].url(f"/lab/tree/{L01}/{L01}.ipynb"))
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000)
    page.wait_for_function("() => document.querySelectorAll('mjx-container').length > 0",
                           timeout=60_000)
    rendered = page.evaluate("""() => [...document.querySelectorAll('.jp-RenderedMarkdown')]
                                        .map(e => e.innerText)""")
    run_all(page)
    time.sleep(1)
    wait_idle(page)
    return {"page": page, "rendered_markdown": rendered}


def test_latex_renders(lesson01):
    page = lesson01["page"]
    assert page.evaluate("() => document.querySelectorAll('mjx-container').length") > 20
    raw = [t for t in lesson01["rendered_markdown"] if re.search(r"\$[^$\n]+\$", t)]
    assert not raw, f"unrendered LaTeX: {raw[0][:200]}"


def test_run_all_reaches_the_last_cell(lesson01):
    page = lesson01["page"]
    prompts = page.evaluate("""() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
                                      .map(p => p.textContent.trim())""")
    code_cells = [c for c in read(solution_path(L01)).cells if c.cell_type == "code"]
    # every code cell of the student version ran, the last one included
    assert len(prompts) >= len(code_cells) - 4  # hidden-test cells are not in the release
    assert all(re.fullmatch(r"\[\d+\]:", p) for p in prompts), prompts
    assert prompts[-1] != "[ ]:"


def test_every_figure_is_an_image(lesson01):
    page = lesson01["page"]
    images = page.evaluate("() => document.querySelectorAll('.jp-OutputArea-output img').length")
    shows = sum(c.source.count("plt.show()") for c in read(solution_path(L01)).cells)
    assert images >= shows > 0
    texts = page.evaluate("""() => [...document.querySelectorAll('.jp-OutputArea-output')]
                                    .map(o => o.innerText)""")
    assert not [t for t in texts if "<Figure size" in t]


def test_visible_tests_say_not_answered_yet(lesson01):
    page = lesson01["page"]
    errors = page.evaluate("""() => [...document.querySelectorAll(
                              '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
                              .map(o => o.innerText)""")
    messages = [e for e in errors if "is not answered yet" in e]
    exercises = sum(1 for c in read(solution_path(L01)).cells
                    if c.metadata.get("nbgrader", {}).get("solution"))
    assert len(messages) == exercises, errors
    assert all(m.count("\n") < 4 for m in messages), messages


def type_wrong_answer(page):
    """Type WRONG_ANSWER into exercise 1's cell (in place of what is there);
    return the cell's index, the cursor still in it."""
    cells = page.locator(".jp-CodeCell")
    index = next(i for i in range(cells.count())
                 if "def quadratic(" in cells.nth(i).locator(".cm-content").inner_text())
    cells.nth(index).locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(WRONG_ANSWER)
    return index


def test_a_wrong_answer_gets_its_diagnosis(lesson01):
    page = lesson01["page"]
    cells = page.locator(".jp-CodeCell")
    index = type_wrong_answer(page)
    page.keyboard.press("Shift+Enter")  # run the answer, move to its test
    page.keyboard.press("Shift+Enter")  # run the test
    time.sleep(1)
    wait_idle(page)
    out = cells.nth(index + 1).locator(".jp-OutputArea").inner_text()
    assert "Exercise 1" in out and "wrong sign" in out, out
    assert "krylov_ref" not in out and out.count("\n") < 6, out


def test_validate_button(lab, lesson01):
    """Validate (nbgrader's validator, from the notebook's toolbar) on lesson 01
    with exercise 1 wrong and the others unanswered."""
    page = lab["page"]
    type_wrong_answer(page)
    page.keyboard.press("Escape")  # command mode; Validate saves the notebook first
    page.click("jp-button.validate-button")
    page.wait_for_selector(".jp-Dialog:has-text('Validation Results')", timeout=180_000)
    text = page.inner_text(".jp-Dialog")
    assert "Exercise 1" in text and "wrong sign" in text, text
    assert "NotAnswered: Exercise 2" in text, text
    assert "Traceback" not in text and "krylov_ref" not in text, text
    page.click(".jp-Dialog button:has-text('Ok')")
    log = lab["server"].log()
    assert f"Validating '{lab['root'] / 'my-work' / L01 / L01}.ipynb'" in log
    # the validator did not load the course's nbgrader_config.py (which syncs the gradebook)
    assert not [s for s in INSTRUCTOR_LOG if s in log]
    assert not (lab["root"] / "gradebook.db").exists()


def test_instructor_lab_has_the_instructor_tools(instructor):
    page = instructor["page"]
    open_lab_home(page, instructor["server"])
    menu = nbgrader_menu(page)
    assert {"Assignment List", "Course List", "Formgrader", "Create assignment"} <= set(menu), menu
    assert [p for p in side_panels(page) if "create assignment" in p.lower()], side_panels(page)


def test_formgrader_lists_every_lesson_without_an_exchange_warning(instructor):
    page = instructor["page"]
    page.goto(instructor["server"].url("/formgrader"))
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_selector("text=01_quadratics", timeout=120_000)
    except PlaywrightTimeout:
        pytest.fail(f"Formgrader ({page.url}) did not list 01_quadratics within 120 s; it shows:\n"
                    + page.inner_text("body")[:2000] + "\nserver log:\n"
                    + instructor["server"].log()[-3000:])
    text = page.inner_text("body")
    for name in lesson_names():
        assert name in text, f"Formgrader does not list {name}"
    assert "exchange directory" not in text.lower(), text[:2000]


def test_no_console_errors(lab, lesson01, instructor):
    assert not lab["problems"], lab["problems"][:10]
    assert not instructor["problems"], instructor["problems"][:10]
