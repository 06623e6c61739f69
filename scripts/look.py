"""Look at lessons as a student sees them: JupyterLab in headless Chromium,
Run All, then screenshots of the whole notebook, page by page.

Usage: ``python scripts/look.py [--solutions] OUTDIR LESSON [LESSON ...]``

Writes ``OUTDIR/<lesson>-NN.png`` (one per screen, top to bottom) and prints
the error outputs it saw. ``--solutions`` opens the solution notebooks (the
exercises answered) instead of the student versions. Needs Debian's Chromium
(``apt-get install chromium``) and Playwright (the dev extra). For authors;
the browser test (tests/test_browser.py) is what ``make test`` runs.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir")
    parser.add_argument("lessons", nargs="+")
    parser.add_argument("--solutions", action="store_true")
    args = parser.parse_args(argv)
    out = Path(args.outdir)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="krylov-look-"))
    folder = "solutions" if args.solutions else "lessons"
    for name in args.lessons:
        (tmp / name).mkdir()
        shutil.copyfile(ROOT / folder / name / f"{name}.ipynb", tmp / name / f"{name}.ipynb")
    settings = tmp / ".settings"
    for file, values in {
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false"},
    }.items():
        (settings / file).parent.mkdir(parents=True, exist_ok=True)
        (settings / file).write_text(json.dumps(values))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = secrets.token_hex(16)
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(settings),
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    env.pop("MPLBACKEND", None)
    lab = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "jupyter"), "lab",
                            "--allow-root", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
                            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp}"],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1300, "height": 1000})
            console = []
            page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
            for name in args.lessons:
                page.goto(f"{base}/lab/tree/{name}/{name}.ipynb?token={token}")
                page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']",
                                       timeout=90_000)
                started = """() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
                                 .some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))"""
                for _ in range(3):  # the command can be ignored while the kernel connects
                    page.click(".jp-Notebook .jp-Cell >> nth=0")
                    page.click(".lm-MenuBar-item:has-text('Run')")
                    page.click("li.lm-Menu-item:has(.lm-Menu-itemLabel:text-is('Run All Cells'))")
                    try:
                        page.wait_for_function(started, timeout=20_000)
                        break
                    except Exception as exc:  # Playwright's timeout: click again
                        print(f"{name}: Run All did not start ({type(exc).__name__}), retrying")
                time.sleep(2)
                page.wait_for_function(
                    """() => { const k = document.querySelector('.jp-Notebook-ExecutionIndicator');
                               return k && k.dataset.status === 'idle' && ![...document
                               .querySelectorAll('.jp-InputPrompt')].some(p => p.textContent.includes('*')); }""",
                    timeout=300_000)
                page.keyboard.press("Control+Home")
                scroller = ".jp-WindowedPanel-outer"
                height = page.evaluate(f"() => document.querySelector('{scroller}').scrollHeight")
                view = page.evaluate(f"() => document.querySelector('{scroller}').clientHeight")
                for k, top in enumerate(range(0, height, max(view - 60, 200))):
                    page.evaluate(f"() => document.querySelector('{scroller}').scrollTop = {top}")
                    time.sleep(0.3)
                    page.screenshot(path=str(out / f"{name}-{k:02d}.png"))
                errors = page.evaluate("""() => [...document.querySelectorAll(
                    '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
                    .map(o => o.innerText.slice(0, 300))""")
                print(f"{name}: {k + 1} screens, {len(errors)} stderr/error outputs")
                for e in errors:
                    print("   ", e.replace("\n", " | "))
            print("console errors:", console[:10])
            browser.close()
    finally:
        lab.terminate()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
