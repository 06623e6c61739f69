"""The course in a real browser: JupyterLab, as `make lab` starts it, on a
fresh student working copy, driven in headless Chromium through Playwright.

Lesson 01: the LaTeX renders (MathJax ran, no raw $...$ left); Run All
reaches the last cell, every figure is an image and each visible test shows
its one-line "not answered yet"; a wrong answer typed into exercise 1 gets
its diagnosis. Formgrader lists every lesson with no exchange warning. Any
error in the browser's console fails the test.

Needs Debian's Chromium (`apt-get install chromium`, as root; `.ci/run` does
it) and the `playwright` package (the dev extra). Without Chromium the test
is skipped with a line saying so.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from course import ROOT, copy_course, lesson_names, read, solution_path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium: run `apt-get install -y chromium` (as root) to enable the browser test")

sys.path.insert(0, str(ROOT / "scripts"))
from workspace import update_workspace  # noqa: E402

L01 = "01_quadratics"
BIN = os.path.dirname(sys.executable)
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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def makefile_lab_arguments():
    """The JupyterLab flags of `make lab`, read from the Makefile itself."""
    text = (ROOT / "Makefile").read_text()
    recipe = text.split("\nlab:", 1)[1].split("\n\n", 1)[0]
    command = " ".join(line.strip().rstrip("\\") for line in recipe.splitlines()
                       if "jupyter" in line or line.strip().startswith("--"))
    return [a for a in command.split() if a.startswith("--")]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = copy_course(tmp_path_factory.mktemp("course"))
    update_workspace(root, log=lambda *_: None)  # what `make lab` does first
    state = tmp_path_factory.mktemp("jupyter-state")
    settings = state / "lab-settings"
    for name, values in SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ["PATH"],
               JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(state / "ws"))
    env.pop("MPLBACKEND", None)  # the tests draw with Agg; a student's kernel draws inline
    port, token = free_port(), secrets.token_hex(16)
    args = [a for a in makefile_lab_arguments() if not a.startswith("--ServerApp.root_dir")]
    assert "--ip=127.0.0.1" in args, args
    log = open(state / "lab.log", "w")
    proc = subprocess.Popen([os.path.join(BIN, "jupyter"), "lab", *args, f"--port={port}",
                             f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}"],
                            cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("JupyterLab did not start:\n" + (state / "lab.log").read_text()[-3000:])
            time.sleep(0.5)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        problems = []
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        yield {"page": page, "base": base, "token": token, "root": root, "problems": problems}
        browser.close()
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


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
def lesson01(lab):
    page = lab["page"]
    page.goto(f"{lab['base']}/lab/tree/my-work/{L01}/{L01}.ipynb?token={lab['token']}")
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


def test_a_wrong_answer_gets_its_diagnosis(lesson01):
    page = lesson01["page"]
    cells = page.locator(".jp-CodeCell")
    index = next(i for i in range(cells.count())
                 if "def quadratic(" in cells.nth(i).locator(".cm-content").inner_text())
    editor = cells.nth(index).locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(WRONG_ANSWER)
    page.keyboard.press("Shift+Enter")  # run the answer, move to its test
    page.keyboard.press("Shift+Enter")  # run the test
    time.sleep(1)
    wait_idle(page)
    out = cells.nth(index + 1).locator(".jp-OutputArea").inner_text()
    assert "Exercise 1" in out and "wrong sign" in out, out
    assert "krylov_ref" not in out and out.count("\n") < 6, out


def test_formgrader_lists_every_lesson_without_an_exchange_warning(lab):
    page = lab["page"]
    page.goto(f"{lab['base']}/formgrader?token={lab['token']}")
    page.wait_for_selector("text=01_quadratics", timeout=60_000)
    text = page.inner_text("body")
    for name in lesson_names():
        assert name in text, f"Formgrader does not list {name}"
    assert "exchange directory" not in text.lower(), text[:2000]


def test_no_console_errors(lab, lesson01):
    assert not lab["problems"], lab["problems"][:10]
