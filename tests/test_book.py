"""The web book (`make book`, scripts/book.py), built and read in a browser.

To stay cheap, the book is built once, in a temporary folder, executing only
lessons 01 and 03 (the other lesson pages are built from their unexecuted
notebooks: every page and link still exists). Then, without a browser:

* no line of a solution notebook that the student version does not have
  (solution code, hidden tests) and no line of the graders
  (``krylov_ref/checks``) is anywhere in the site; the detector is also shown
  to catch a line planted in a page;
* every link between pages resolves, anchors included; the lesson map links
  every lesson; mentions of other lessons became links;
* nothing is loaded from another host (scripts, styles, fonts, images);
* test cells are shown, not run, each group with its note; no error output.

And in headless Chromium (Debian's, as tests/test_browser.py drives it), with
every request to a host other than the local server aborted: the formulas are
rendered by MathJax (no raw ``$`` or ``\\(`` left), every image loads and has
alternative text, no console error and no failed request, previous/next links
on lesson pages, the search page finds "Lanczos", and lesson 03's to_jshtml
animation (once the lesson has one) shows its first frame and steps.

``KRYLOV_BOOK_DIR=build/book`` checks a build made by ``make book`` instead
(every lesson executed) and builds nothing.
"""

from __future__ import annotations

import functools
import html
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

import pytest

from course import ROOT, read

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium: run `apt-get install -y chromium` (as root) to enable the book's "
           "browser test")
# Flags for a sandboxed, offline machine (as in tests/test_browser.py).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

EXECUTED = ["01_quadratics", "03_cg_from_lanczos"]
L01, L02, L03 = "01_quadratics", "02_krylov_lanczos", "03_cg_from_lanczos"
MIN_LINE = 20          # shorter lines ("return x", "import numpy as np") prove nothing
TEST_NOTE = "Run this in JupyterLab to check your answer"


def lesson_names():
    return sorted(d.name for d in (ROOT / "lessons").iterdir()
                  if (d / f"{d.name}.ipynb").is_file())


def lesson_page(name):
    return f"lessons/{name}/{name}.html"


# ---- the build ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def book(tmp_path_factory):
    """The book: built here (lessons 01 and 03 executed), or, when KRYLOV_BOOK_DIR
    names a build (e.g. build/book after `make book`), that one, checked as it is."""
    given = os.environ.get("KRYLOV_BOOK_DIR")
    if given:
        out = Path(given).resolve()
        src = out.with_name(out.name + "-src")
        assert (out / "index.html").is_file() and src.is_dir(), \
            f"KRYLOV_BOOK_DIR={given}: no book there, or no source tree beside it ({src})"
        return {"out": out, "src": src, "log": None, "executed": executed_lessons(src)}
    tmp = tmp_path_factory.mktemp("book")
    out, src = tmp / "book", tmp / "book-src"
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "book.py"), "--lessons", ",".join(EXECUTED),
         "--out", str(out), "--src", str(src)],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-5000:]
    assert executed_lessons(src) == EXECUTED
    return {"out": out, "src": src, "log": log, "executed": EXECUTED}


def executed_lessons(src):
    """The lessons whose notebook in the book's source tree has outputs."""
    return [name for name in lesson_names()
            if any(c.get("outputs") for c in read(src / "lessons" / name / f"{name}.ipynb").cells
                   if c.cell_type == "code")]


def html_pages(out):
    """Every HTML page of the site (the theme's and MathJax's files aside)."""
    return sorted(p for p in out.rglob("*.html") if "_static" not in p.relative_to(out).parts)


def site_files(out):
    """Every text file of the site a reader can open, outside _static."""
    return sorted(p for p in out.rglob("*")
                  if p.is_file() and "_static" not in p.relative_to(out).parts
                  and p.suffix in {".html", ".js", ".txt", ".json", ".ipynb", ".md"})


def page_text(raw):
    """The text of an HTML page as a reader sees it: inline data (images, animation
    frames) dropped, tags removed, entities decoded."""
    raw = re.sub(r"data:[^\"')\s]+", "", raw)
    return html.unescape(re.sub(r"<[^>]+>", "", raw))


# ---- the leak detector ----------------------------------------------------------------

def notebook_lines(path):
    return [line.strip() for cell in read(path).cells for line in cell.source.splitlines()]


@functools.lru_cache(maxsize=1)
def secret_lines(root=ROOT):
    """{line: where it comes from} for the lines the book must never show.

    The lines of the solution notebooks that the student versions do not have
    (solution code, hidden tests) and the lines of the graders
    (krylov_ref/checks/*.py); a line that appears anywhere in a student version
    (in a hint, say) is public, and lines shorter than MIN_LINE are ignored.
    """
    public = "\n".join(cell.source for path in sorted(root.glob("lessons/*/*.ipynb"))
                       for cell in read(path).cells)
    secrets = {}
    candidates = [(line, path) for path in sorted(root.glob("solutions/*/*.ipynb"))
                  for line in notebook_lines(path)]
    candidates += [(line.strip(), path) for path in sorted(root.glob("krylov_ref/checks/*.py"))
                   for line in path.read_text().splitlines()]
    for line, path in candidates:
        if len(line) >= MIN_LINE and line not in secrets and line not in public:
            secrets[line] = str(path.relative_to(root))
    return secrets


def leaks(texts, secrets):
    """[(page, line, source)] for every secret line found in a page's text."""
    everything = "\0".join(texts.values())      # one search per line, then the pages
    found = [line for line in secrets if line in everything]
    return [(page, line, secrets[line]) for line in found
            for page, text in texts.items() if line in text]


def site_texts(out):
    return {str(p.relative_to(out)): page_text(p.read_text(errors="replace"))
            for p in site_files(out)}


def test_the_build_reports_its_pages_and_time(book):
    if book["log"] is None:
        pytest.skip("KRYLOV_BOOK_DIR: a build made elsewhere")
    assert re.search(r"built .*index\.html: \d+ pages \(9 lessons, 2 executed\) in \d+ s",
                     book["log"]), book["log"][-2000:]
    for name in EXECUTED:
        assert f"executed {name} in" in book["log"]


def test_no_solution_or_grader_line_in_the_book(book):
    secrets = secret_lines()
    # the detector has something to find: solutions and graders
    assert sum(s.startswith("solutions/") for s in secrets.values()) > 100
    assert sum(s.startswith("krylov_ref/checks/") for s in secrets.values()) > 100
    found = leaks(site_texts(book["out"]), secrets)
    assert not found, "\n".join(f"{page}: {line!r} (from {src})" for page, line, src in found[:10])


def test_the_detector_finds_a_planted_solution_line(book, tmp_path):
    """A tampered page: a solution line and a grader line planted in lesson 01's
    page (as Pygments would mark them up) must both be reported."""
    secrets = secret_lines()
    solution = next(line for line, src in secrets.items()
                    if src.startswith(f"solutions/{L01}") and "=" in line)
    grader = next(line for line, src in secrets.items()
                  if src.startswith("krylov_ref/checks/lesson01") and "(" in line)
    raw = (book["out"] / lesson_page(L01)).read_text()

    def marked_up(line):   # token by token in spans, HTML-escaped, as highlighted code is
        return "".join(f'<span class="n">{html.escape(token)}</span>'
                       for token in re.split(r"(\W)", line) if token)

    tampered = raw.replace("</article>", f"<pre>{marked_up(solution)}\n"
                                         f"{marked_up(grader)}</pre></article>", 1)
    assert tampered != raw
    page = tmp_path / "tampered.html"
    page.write_text(tampered)
    found = {line for _, line, _ in leaks({"tampered.html": page_text(page.read_text())}, secrets)}
    assert solution in found and grader in found, (solution, grader, found)
    assert not leaks({"clean.html": page_text(raw)}, secrets)


# ---- pages, links and resources -------------------------------------------------------

HREF = re.compile(r"""\b(href|src)\s*=\s*["']([^"']*)["']""")


@functools.lru_cache(maxsize=None)
def ids_of(path):
    """The anchors of an HTML page."""
    return set(re.findall(r"""\b(?:id|name)\s*=\s*["']([^"']+)["']""", path.read_text()))


def broken_links(out):
    """[(page, link, why)] for every local link or resource that does not resolve."""
    broken = []
    for page in html_pages(out):
        for attr, link in HREF.findall(page.read_text()):
            link = html.unescape(link)
            parts = urlsplit(link)
            if parts.scheme or link.startswith("//"):
                continue            # external: checked by test_nothing_is_loaded_from_elsewhere
            path, fragment = urldefrag(link)
            target = page if not path else (page.parent / unquote(path.split("?")[0])).resolve()
            if not target.exists():
                broken.append((str(page.relative_to(out)), link, "no such file"))
            elif target.is_dir():
                broken.append((str(page.relative_to(out)), link, "a folder"))
            elif fragment and target.suffix == ".html" and unquote(fragment) not in ids_of(target):
                broken.append((str(page.relative_to(out)), link, "no such anchor"))
    return broken


def test_every_page_exists_and_the_lesson_map_links_each_lesson(book):
    out = book["out"]
    for page in ["index.html", "search.html", "guides/student.html", "guides/instructor.html"]:
        assert (out / page).is_file(), page
    index = (out / "index.html").read_text()
    main = index[index.index("<article"):]
    for name in lesson_names():
        assert (out / lesson_page(name)).is_file(), name
        assert f'href="{lesson_page(name)}"' in main, f"the lesson map does not link {name}"


def test_every_internal_link_resolves(book):
    broken = broken_links(book["out"])
    assert not broken, "\n".join(f"{p}: {link} ({why})" for p, link, why in broken[:20])


def test_the_link_checker_sees_a_broken_link(book, tmp_path):
    site = tmp_path / "site"
    (site / "lessons" / L01).mkdir(parents=True)
    shutil.copy(book["out"] / "index.html", site / "index.html")
    shutil.copy(book["out"] / lesson_page(L01), site / lesson_page(L01))
    (site / "index.html").write_text(
        (site / "index.html").read_text()
        + f'<a href="{lesson_page(L01)}#no-such-section">x</a>'
        + '<a href="lessons/99_nothing/99_nothing.html">y</a>')
    whys = {(link, why) for page, link, why in broken_links(site) if page == "index.html"}
    assert (f"{lesson_page(L01)}#no-such-section", "no such anchor") in whys
    assert ("lessons/99_nothing/99_nothing.html", "no such file") in whys


def test_lessons_link_to_each_other_outside_math_and_code(book):
    out = book["out"]
    raw = (out / lesson_page(L03)).read_text()
    # lesson 03 cites lesson 02 (Lanczos) and lesson 01 (the quadratic) in its text
    for other in (L01, L02):
        assert f'href="../{other}/{other}.html#lesson-{other[:2]}"' in raw, other
    # and its own sections ("section 4 below")
    assert re.search(r'href="#lesson-03-section-\d"', raw)
    # a section of another lesson ("lesson 05 (section 2.1)" in lesson 06)
    assert 'href="../05_preconditioning/05_preconditioning.html#lesson-05-section-2-1"' in \
        (out / lesson_page("06_gmres")).read_text()
    for page in html_pages(out):
        text = page_text(page.read_text())
        assert "{ref}" not in text, f"{page}: a reference left as text"
        # no link was put into a formula: MathJax would show the markup
        for formula in re.findall(r"\\\((.*?)\\\)", text):
            assert "lesson-" not in formula, (page, formula)


def test_mentions_become_links_outside_math_code_links_and_headings():
    """scripts/book.py's linker on made-up markdown (the lessons have few of the
    hard cases, so the page checks above could not see them go wrong)."""
    import importlib

    linker = importlib.import_module("book").Linker({"01": ["1", "2"], "02": ["1", "2.1"],
                                                      "03": ["1", "4"]})
    prose = ("As lesson 01 showed, and lessons 01–02 and section 2 of lesson 01 and "
             "lesson 02 (section 2.1) and lesson 02, §2.1; section 4 below.")
    linked = linker.link(prose, "03")
    assert linked == (
        "As {ref}`lesson 01 <lesson-01>` showed, and lessons {ref}`01 <lesson-01>`–"
        "{ref}`02 <lesson-02>` and {ref}`section 2 of lesson 01 <lesson-01-section-2>` and "
        "{ref}`lesson 02 <lesson-02>` ({ref}`section 2.1 <lesson-02-section-2-1>`) and "
        "{ref}`lesson 02 <lesson-02>`, {ref}`§2.1 <lesson-02-section-2-1>`; "
        "{ref}`section 4 <lesson-03-section-4>` below."), linked
    untouched = [
        r"$x_{lesson 01}$ and $$\text{lesson 02}$$ and \(\text{lesson 01}\)",
        "`lesson 01` and ``section 4``",
        "```python\n# see lesson 02\n```",
        "[lesson 01](https://example.org) and <a title='lesson 02'>x</a>",
        "## 4. Back to lesson 01",
        "this lesson 03 and section 9 (no such section); SIAM 1997, section 4",
    ]
    for text in untouched:
        assert linker.link(text, "03") == text, text


def test_sections_get_labels_and_code_does_not():
    import importlib

    import nbformat

    bookpy = importlib.import_module("book")
    source = ("# Lesson 04 — a title\n## 2. Two\n```python\n## 3. a comment, not a heading\n```\n"
              "### 2.1 Sub\n### Exercise 1 — no number")
    assert bookpy.add_targets(source, "04") == (
        "(lesson-04)=\n# Lesson 04 — a title\n(lesson-04-section-2)=\n## 2. Two\n"
        "```python\n## 3. a comment, not a heading\n```\n"
        "(lesson-04-section-2-1)=\n### 2.1 Sub\n### Exercise 1 — no number")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(source)])
    assert bookpy.sections_of(nb) == ["2", "2.1"]


def test_nothing_is_loaded_from_elsewhere(book):
    out = book["out"]
    remote = re.compile(r"""<(?:script|img|link|iframe|source|video|audio)\b[^>]*\b(?:src|href)"""
                        r"""\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)
    for page in html_pages(out):
        found = remote.findall(page.read_text())
        assert not found, f"{page.relative_to(out)}: {found[:3]}"
    for css in (out / "_static").rglob("*.css"):
        assert not re.search(r"(?:url\(|@import)\s*[\"']?(?:https?:)?//", css.read_text()), css
    # MathJax is served from the book itself
    assert (out / "_static" / "mathjax" / "MathJax.js").is_file()
    assert 'src="../../_static/mathjax/MathJax.js?config=' in (out / lesson_page(L01)).read_text()


def exercises(name):
    """The number of answer cells of a lesson's student version."""
    return sum(1 for c in read(ROOT / "lessons" / name / f"{name}.ipynb").cells
               if c.metadata.get("nbgrader", {}).get("solution"))


def test_test_cells_are_shown_not_run(book):
    out = book["out"]
    for name in lesson_names():
        raw = (out / lesson_page(name)).read_text()
        text = page_text(raw)
        n = exercises(name)
        assert n >= 3
        # the student's starting point, each test cell with its note
        assert text.count("raise NotImplementedError()") >= n, name
        assert text.count(TEST_NOTE) == n, name
        assert text.count("# Hidden tests (") == n, name
        # nothing was run: no "not answered yet", no traceback, no error output
        assert "is not answered yet" not in text, name
        assert "Traceback" not in text and "NotImplementedError:" not in text, name
        assert not re.search(r'class="[^"]*\b(stderr|traceback)\b', raw), name


def test_executed_and_unexecuted_pages(book):
    out = book["out"]
    for name in lesson_names():
        raw = (out / lesson_page(name)).read_text()
        if name in book["executed"]:
            figures = sum(c.source.count("plt.show()")
                          for c in read(ROOT / "lessons" / name / f"{name}.ipynb").cells)
            assert figures >= 1 and raw.count("<img ") >= figures, name
            assert "using krylov_ref" in page_text(raw), name   # use_own said which code ran
            assert "Built without running the notebook" not in raw, name
        else:
            assert "Built without running the notebook" in raw and "<img " not in raw, name


# ---- in a browser ---------------------------------------------------------------------

class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(book):
    handler = functools.partial(QuietHandler, directory=str(book["out"]))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


TEXT_OUTSIDE_CODE = """() => {
    const article = document.querySelector('article.bd-article') || document.body;
    const copy = article.cloneNode(true);
    copy.querySelectorAll('pre, code, script, style, .MathJax, .MathJax_Display, '
                          + '.MathJax_Preview, .MJX_Assistive_MathML').forEach(e => e.remove());
    return copy.textContent;
}"""
IMAGES = """() => [...document.images].map(i => ({
    src: i.currentSrc.slice(0, 80), alt: i.getAttribute('alt'),
    width: i.naturalWidth, complete: i.complete}))"""
# MathJax 2 has typeset the page: its start-up is over and its queue is empty
# (on a page without math, Sphinx loads no MathJax)
MATHJAX_DONE = """() => !window.MathJax || (MathJax.isReady === true
    && MathJax.Hub.Startup.signal.posted.map(String).includes('End')
    && MathJax.Hub.queue.pending === 0 && !MathJax.Hub.queue.running)"""


@pytest.fixture(scope="module")
def site(server, book):
    """Pages read in Chromium: what each shows, and every problem on the way."""
    from playwright.sync_api import sync_playwright

    problems, outside = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1300, "height": 900})

        def local_only(route):
            url = route.request.url
            if url.startswith(server + "/") or url.startswith("data:") or url == server:
                route.continue_()
            else:
                outside.append(url)
                route.abort()

        context.route("**/*", local_only)
        page = context.new_page()
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: problems.append(
            f"failed request: {r.url} ({r.failure})"))
        page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}")
                if r.status >= 400 else None)

        seen = {}
        for path in ["index.html", *map(lesson_page, visited_lessons(book)),
                     "guides/student.html", "guides/instructor.html"]:
            page.goto(f"{server}/{path}", wait_until="load")
            page.wait_for_function(MATHJAX_DONE, timeout=60_000)
            typeset = page.evaluate("() => !!window.MathJax")
            page.wait_for_function("() => [...document.images].every(i => i.complete)",
                                   timeout=30_000)
            seen[path] = {
                "typeset": typeset,
                # Sphinx's math elements (MathJax's own output has .math spans too)
                "math": page.evaluate("() => document.querySelectorAll("
                                      "'.math.notranslate').length"),
                "jax": page.evaluate("() => window.MathJax && MathJax.Hub ? "
                                     "MathJax.Hub.getAllJax().length : 0"),
                "rendered": page.evaluate("() => document.querySelectorAll("
                                          "'.MathJax, .MathJax_Display').length"),
                "tex_errors": page.evaluate("() => document.querySelectorAll("
                                            "'.noError, .MathJax_Error, merror').length"),
                "text": page.evaluate(TEXT_OUTSIDE_CODE),
                "images": page.evaluate(IMAGES),
                "prev": page.evaluate("() => document.querySelector('a.left-prev')?."
                                      "getAttribute('href')"),
                "next": page.evaluate("() => document.querySelector('a.right-next')?."
                                      "getAttribute('href')"),
            }
            if path == lesson_page(L03):
                seen["animation"] = animation(page)

        page.goto(f"{server}/search.html?q=Lanczos", wait_until="load")
        try:
            page.wait_for_function("() => document.querySelectorAll('#search-results li')"
                                   ".length > 0", timeout=30_000)
        except Exception:   # the test says what was found
            pass
        seen["search"] = page.evaluate("""() => [...document.querySelectorAll(
                                              '#search-results li a')].map(a => a.href)""")
        browser.close()
    return {"pages": seen, "problems": problems, "outside": outside}


def visited_lessons(book):
    """The lesson pages read in the browser: every one of a full build, else the
    executed ones (MathJax takes seconds a page; the unexecuted pages have the
    same markdown, and their links and text are checked without a browser)."""
    if book["log"] is None:
        return lesson_names()
    return book["executed"]


def animation(page):
    """Lesson 03's to_jshtml animation: its first frame, and a step to the next."""
    frame = page.locator("img[id^='_anim_img']")
    if not frame.count():
        return None
    frame.first.scroll_into_view_if_needed()
    first = frame.first.evaluate("i => ({width: i.naturalWidth, src: i.src.slice(-200)})")
    page.locator("div.animation button[title='Next frame']").first.click()
    page.wait_for_timeout(300)
    second = frame.first.evaluate("i => ({width: i.naturalWidth, src: i.src.slice(-200)})")
    return {"first": first, "second": second, "count": frame.count()}


@needs_chromium
def test_formulas_are_rendered(site):
    for path, seen in site["pages"].items():
        if path in ("search", "animation"):
            continue
        if path.startswith("lessons/"):
            assert seen["typeset"], f"{path}: MathJax did not run"
            assert seen["math"] > 50 and seen["jax"] >= seen["math"], (path, seen["math"],
                                                                        seen["jax"])
            assert seen["rendered"] >= seen["math"], (path, seen["rendered"], seen["math"])
        assert seen["tex_errors"] == 0, f"{path}: {seen['tex_errors']} formulas MathJax rejected"
        text = seen["text"]
        for raw in ("$", "\\(", "\\["):
            at = text.find(raw)
            assert at < 0, f"{path}: unrendered math: ...{text[max(0, at - 80):at + 80]}..."


@needs_chromium
def test_every_figure_loads_and_has_alt_text(book, site):
    for path, seen in site["pages"].items():
        if path in ("search", "animation"):
            continue
        for image in seen["images"]:
            assert image["complete"] and image["width"] > 0, f"{path}: {image} did not load"
            alt = (image["alt"] or "").strip()
            assert len(alt.split()) >= 3 and not re.search(r"\.(png|jpe?g|svg)$|^data:", alt), \
                f"{path}: an image without alternative text: {image}"
    for name in book["executed"]:
        figures = sum(c.source.count("plt.show()")
                      for c in read(ROOT / "lessons" / name / f"{name}.ipynb").cells)
        assert len(site["pages"][lesson_page(name)]["images"]) >= figures, name


@needs_chromium
def test_no_console_error_and_nothing_from_another_host(site):
    assert not site["outside"], f"requests to other hosts: {site['outside'][:5]}"
    assert not site["problems"], "\n".join(site["problems"][:10])


@needs_chromium
def test_lesson_pages_have_previous_and_next(site):
    names = lesson_names()
    for path, seen in site["pages"].items():
        if not path.startswith("lessons/"):
            continue
        name = Path(path).stem
        k = names.index(name)
        previous = "../../index.html" if k == 0 else f"../{names[k - 1]}/{names[k - 1]}.html"
        assert seen["prev"] == previous, (path, seen["prev"])
        if k + 1 < len(names):
            assert seen["next"] == f"../{names[k + 1]}/{names[k + 1]}.html", (path, seen["next"])
        else:
            assert seen["next"], path


@needs_chromium
def test_search_finds_lanczos(site):
    hits = site["pages"]["search"]
    assert any(lesson_page(L02) in h for h in hits), hits[:10]


def lesson03_has_animation(book):
    executed = book["src"] / "lessons" / L03 / f"{L03}.ipynb"
    return any("_anim_img" in str(out.get("data", {}).get("text/html", ""))
               for c in read(executed).cells if c.cell_type == "code"
               for out in c.get("outputs", []))


@needs_chromium
def test_lesson03_animation_plays(book, site):
    if L03 not in book["executed"]:
        pytest.skip("lesson 03 was not executed in this build")
    source = (ROOT / "lessons" / L03 / f"{L03}.ipynb").read_text()
    if not lesson03_has_animation(book):
        assert "to_jshtml" not in source, "lesson 03 calls to_jshtml but shows no animation"
        pytest.skip("lesson 03 has no to_jshtml animation yet")
    seen = site["pages"]["animation"]
    assert seen, "lesson 03's animation is not on its page"
    assert seen["first"]["width"] > 0, "the animation's first frame did not load"
    assert seen["second"]["width"] > 0 and seen["second"]["src"] != seen["first"]["src"], \
        "the animation did not step to its next frame"
