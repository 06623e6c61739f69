"""Build the course as a static web book: ``make book`` (build/book/index.html).

Usage: ``python scripts/book.py [--lessons 01_quadratics,03_cg_from_lanczos]
[--out DIR] [--src DIR] [--timeout SECONDS] [--workers N] [--jobs N]``

1. A source tree is prepared under ``build/book-src/`` (``--src``): the
   landing page and Sphinx configuration of ``book/``, the student and
   instructor guides of ``docs/`` and the **student** version of every lesson
   (``lessons/NN_name/NN_name.ipynb``, never ``solutions/``), transformed:

   * mentions of other lessons and sections in markdown ("lesson 02",
     "section 2 of lesson 01", "lessons 03–05", "§8.2") become links, outside
     math, code, links and headings; every numbered section gets a label;
   * the test cells (nbgrader ``grade: true``: the visible test and the
     hidden-test placeholder) are tagged ``skip-execution`` and followed by a
     note to run them in JupyterLab;
   * a figure cell's ``alt`` text becomes its image's alternative text.

2. The lessons are executed with nbclient (two at a time, a time limit per
   cell, in their folder, with the inline matplotlib backend and a fresh
   MPLCONFIGDIR). Unanswered exercises are fine: the demonstrations fall back
   on ``krylov_ref`` through ``use_own``. A demonstration that raises, or
   writes to stderr, fails the build with a message naming the lesson and the
   cell. Widget views and the outputs of cells tagged ``remove-output`` are
   dropped; a ``to_jshtml`` animation (HTML and JavaScript) is kept.
   ``--lessons`` executes only the lessons named: the others are built from
   the unexecuted notebook, so that every page and link exists.

3. Sphinx (myst-nb, sphinx-book-theme, ``nb_execution_mode = "off"``) writes
   the site into ``build/book/`` (``--out``). MathJax 2.7 comes from the
   ``jupyter_server_mathjax`` package, copied into ``_static``: nothing is
   fetched from the network, at build time or when reading. Any Sphinx
   warning (an unresolved cross-reference, say) fails the build.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from release import lesson_names  # the course's lessons, in order (scripts/ is on the path)

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
# The guides that become pages. docs/authoring.md stays out: its examples quote
# lines of the graders (krylov_ref/checks) and the hidden-test markers.
GUIDES = ("student", "instructor")
# The matplotlib backend of a notebook in JupyterLab: figures become image outputs.
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
SKIP_TAG = "skip-execution"   # nbclient's default skip_cells_with_tag
TEST_NOTE = (
    "```{admonition} Run this in JupyterLab to check your answer\n"
    ":class: tip\n"
    "{what} not run in this book. In JupyterLab (`make lab`) run your answer, then "
    "{pronoun}: a failing test says in a few lines what is wrong. The hidden tests "
    "are added when your notebook is graded.\n"
    "```"
)
NOT_EXECUTED_NOTE = (
    "```{admonition} Built without running the notebook\n"
    ":class: warning\n"
    "This page comes from a partial build of the book (`scripts/book.py --lessons ...`): "
    "its code cells were not run, so no output or figure is shown. `make book` runs "
    "every lesson.\n"
    "```"
)


class BookError(RuntimeError):
    """The book cannot be built; the message says why."""


# ---- the lessons and their sections -------------------------------------------------

def lesson_label(number):
    return f"lesson-{number}"


def section_label(number, section):
    return f"lesson-{number}-section-{section.replace('.', '-')}"


HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t]*$", re.MULTILINE)
SECTION_HEADING = re.compile(r"^(\d+(?:\.\d+)*)\.?\s")


def lesson_number(name):
    return name[:2]


def sections_of(nb):
    """The numbers of the lesson's numbered sections ("2", "2.1"), from its headings."""
    found = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        prose = FENCED.sub("", cell.source)
        for match in HEADING.finditer(prose):
            number = SECTION_HEADING.match(match.group(2))
            if len(match.group(1)) >= 2 and number:
                found.append(number.group(1))
    return found


def add_targets(source, number):
    """Put a MyST target before the lesson's title and before each numbered section."""
    def target(match):
        level, title = len(match.group(1)), match.group(2)
        if level == 1 and re.match(r"Lesson\s+\d\d\b", title):
            return f"({lesson_label(number)})=\n{match.group(0)}"
        section = SECTION_HEADING.match(title)
        if level >= 2 and section:
            return f"({section_label(number, section.group(1))})=\n{match.group(0)}"
        return match.group(0)

    return outside_fences(source, lambda text: HEADING.sub(target, text))


FENCED = re.compile(r"^[ \t]*(?P<f>`{3,}|~{3,})[^\n]*\n.*?^[ \t]*(?P=f)[ \t]*$",
                    re.MULTILINE | re.DOTALL)


def outside_fences(source, change):
    """``source`` with ``change`` applied to its text outside fenced code blocks
    (a "# comment" in a code block is not a heading)."""
    out, last = [], 0
    for fence in FENCED.finditer(source):
        out += [change(source[last:fence.start()]), fence.group(0)]
        last = fence.end()
    return "".join(out + [change(source[last:])])


# ---- cross-references in markdown ---------------------------------------------------

# What is not prose: fenced code, math, inline code, links and images, HTML tags,
# MyST targets and headings (a link inside a heading would make the whole title a link).
PROTECTED = re.compile(
    r"""
      ^[ \t]*(?P<fence>`{3,}|~{3,}).*?^[ \t]*(?P=fence)[ \t]*$   # fenced code
    | \$\$.*?\$\$                                                # display math
    | \\\$                                                       # an escaped dollar
    | \$(?:\\.|[^$\\])+?\$                                       # inline math
    | \\\(.*?\\\) | \\\[.*?\\\]                                  # \( \) and \[ \]
    | \\begin\{(?P<env>[a-zA-Z*]+)\}.*?\\end\{(?P=env)\}         # a LaTeX environment
    | (?P<ticks>`+).+?(?P=ticks)                                 # inline code, roles
    | !?\[[^\]]*\]\([^)]*\)                                      # links and images
    | <[^>\n]+>                                                  # HTML tags
    | ^\([^)\n]+\)=[ \t]*$                                       # MyST targets
    | ^[#]{1,6}[ \t][^\n]*$                                      # headings
    """,
    re.VERBOSE | re.MULTILINE | re.DOTALL)

NUM = r"\d+(?:\.\d+)*"
MENTION = re.compile(
    rf"""
      (?P<sec_of>(?P<so_head>(?:\b[Ss]ection|§)\s*(?P<so_num>{NUM})\s+of\s+)
                 (?P<so_lw>[Ll]esson\s+(?P<so_lesson>\d\d)))
    | (?P<lessons>\b[Ll]essons?)\s+(?P<lnums>\d\d(?:\s*(?:–|-|,|and|&)\s*\d\d)*)
      (?P<tail>(?P<tail_sep>\s*\(\s*|,\s*)(?P<tail_word>[Ss]ection\s+|§\s*)(?P<tail_num>{NUM}))?
    | (?P<sections>\b[Ss]ections?|§)\s*(?P<snums>{NUM}(?:\s*(?:–|-|and)\s*{NUM})*)
    """,
    re.VERBOSE)
SEPARATED = re.compile(rf"{NUM}|[^\d]+")
CITATION_BEFORE = re.compile(r"\d{4}\)?,\s*$")   # "SIAM 1997, section 3.1": another book's


def role(text, label):
    return f"{{ref}}`{text} <{label}>`"


class Linker:
    """Turns mentions of lessons and sections in markdown into MyST references.

    ``sections`` maps a lesson's number ("01") to its section numbers; a
    mention of a section that does not exist stays text.
    """

    def __init__(self, sections):
        self.sections = sections

    def lesson(self, text, number, current):
        if number == current or number not in self.sections:
            return text
        return role(text, lesson_label(number))

    def section(self, text, lesson, section):
        if lesson is None or section not in self.sections.get(lesson, ()):
            return text
        return role(text, section_label(lesson, section))

    def numbers(self, text, link):
        """Link each number in "03–05" or "3 and 4" with ``link(text, number)``."""
        return "".join(link(part, part) if part[0].isdigit() else part
                       for part in SEPARATED.findall(text))

    def _mention(self, match, current, prose):
        if match.group("sec_of"):
            lesson, section = match.group("so_lesson"), match.group("so_num")
            if section in self.sections.get(lesson, ()):
                return self.section(match.group(0), lesson, section)
            # no such section: link the lesson alone
            return match.group("so_head") + self.lesson(match.group("so_lw"), lesson, current)
        if match.group("lessons"):
            word, nums = match.group("lessons"), match.group("lnums")
            if re.fullmatch(r"\d\d", nums):
                out = self.lesson(f"{word} {nums}", nums, current)
                target = nums
            else:
                out = f"{word} " + self.numbers(nums, lambda t, n: self.lesson(t, n, current))
                target = None
            if match.group("tail"):
                sec_text = match.group("tail_word") + match.group("tail_num")
                out += match.group("tail_sep") + self.section(
                    sec_text, target, match.group("tail_num"))
            return out
        # a section of the current lesson, unless it cites another book
        if CITATION_BEFORE.search(prose[:match.start()]):
            return match.group(0)
        word, nums = match.group("sections"), match.group("snums")
        space = match.group(0)[len(word):len(match.group(0)) - len(nums)]
        if re.fullmatch(NUM, nums):
            return self.section(match.group(0), current, nums)
        return word + space + self.numbers(nums, lambda t, n: self.section(t, current, n))

    def link(self, source, current=None):
        """``source`` with its mentions linked; ``current`` is the page's lesson number."""
        out, last = [], 0
        for protected in PROTECTED.finditer(source):
            out.append(self._link_prose(source[last:protected.start()], current))
            out.append(protected.group(0))
            last = protected.end()
        out.append(self._link_prose(source[last:], current))
        return "".join(out)

    def _link_prose(self, prose, current):
        return MENTION.sub(lambda m: self._mention(m, current, prose), prose)


# ---- preparing one lesson -----------------------------------------------------------

def is_test_cell(cell):
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and meta.get("grade") and not meta.get("solution")


def new_id(nb, stem):
    taken = {c.get("id") for c in nb.cells}
    k = 0
    while f"{stem}-{k}" in taken:
        k += 1
    return f"{stem}-{k}"


def prepare_lesson(nb, name, linker, executed):
    """The book's version of a student notebook (a new notebook; ``nb`` is unchanged)."""
    import copy

    import nbformat

    nb = copy.deepcopy(nb)
    number = lesson_number(name)
    cells = []
    group = []   # consecutive test cells

    def close_group():
        if not group:
            return
        what = "The test cell above is" if len(group) == 1 else "The test cells above are"
        pronoun = "this cell" if len(group) == 1 else "these cells"
        note = nbformat.v4.new_markdown_cell(
            TEST_NOTE.replace("{what}", what).replace("{pronoun}", pronoun))
        note.id = new_id(nb, f"book-note-{group[-1].get('id', 'test')}")
        cells.append(note)
        group.clear()

    for cell in nb.cells:
        if is_test_cell(cell):
            tags = cell.metadata.setdefault("tags", [])
            # shown, not run: a test needs the student's answer (nbclient skips the tag)
            if SKIP_TAG not in tags:
                tags.append(SKIP_TAG)
            cells.append(cell)
            group.append(cell)
            continue
        close_group()
        if cell.cell_type == "markdown":
            cell.source = linker.link(add_targets(cell.source, number), number)
        elif cell.cell_type == "code" and cell.metadata.get("alt"):
            cell.metadata.setdefault("mystnb", {}).setdefault("image", {})["alt"] = \
                cell.metadata["alt"]
        cells.append(cell)
    close_group()
    if not executed:
        note = nbformat.v4.new_markdown_cell(NOT_EXECUTED_NOTE)
        note.id = new_id(nb, "book-not-executed")
        title = next((i for i, c in enumerate(cells) if c.cell_type == "markdown"), -1)
        cells.insert(title + 1, note)
    nb.cells = cells
    nb.metadata.pop("widgets", None)
    return nb


def anim_alt(cell):
    return cell.metadata.get("alt") or "An animation: use the buttons below it to play it."


EXTERNAL_STYLESHEET = re.compile(
    r"""<link\b[^>]*\bhref\s*=\s*["']?(?:https?:)?//[^>]*>\s*""", re.IGNORECASE)
EXTERNAL_RESOURCE = re.compile(
    r"""\b(?:src\s*=\s*["']?|url\(\s*["']?)(?:https?:)?//""", re.IGNORECASE)


def offline_html(html, cell):
    """An HTML output that loads nothing from the network.

    matplotlib's ``to_jshtml`` links Font Awesome's stylesheet from a CDN: the
    link is dropped (the theme's own Font Awesome draws the buttons). Any other
    remote script, image or font fails the build.
    """
    html = EXTERNAL_STYLESHEET.sub("", html)
    remote = EXTERNAL_RESOURCE.search(html)
    if remote:
        context = html[max(0, remote.start() - 60):remote.end() + 60]
        raise BookError(f"cell {cell.get('id')}: an HTML output loads a remote resource "
                        f"(the book must work offline): ...{context}...")
    return html


def clean_outputs(nb):
    """After execution: drop widget views and hidden outputs; label animations."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if "remove-output" in cell.metadata.get("tags", []):
            cell.outputs = []
        kept = []
        for out in cell.outputs:
            data = out.get("data")
            if data is not None:
                if WIDGET_VIEW in data:
                    # a live widget: JupyterLab's business; its text/plain is a bare repr
                    continue
                html = data.get("text/html")
                if isinstance(html, list):
                    html = "".join(html)
                if html:
                    html = offline_html(html, cell)
                    data["text/html"] = html
                if html and "_anim_img" in html:
                    # a to_jshtml animation: its frame is an <img> without alt text
                    alt = anim_alt(cell).replace("&", "&amp;").replace('"', "&quot;")
                    data["text/html"] = re.sub(r'<img id="(_anim_img[0-9a-f]+)"',
                                               lambda m: f'<img id="{m.group(1)}" alt="{alt}"',
                                               html)
            kept.append(out)
        cell.outputs = kept
    nb.metadata.pop("widgets", None)
    return nb


def stderr_outputs(nb):
    """(index, cell id, text) of every stderr stream in the notebook."""
    return [(i, cell.get("id"), out.get("text", ""))
            for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
            for out in cell.get("outputs", [])
            if out.get("output_type") == "stream" and out.get("name") == "stderr"]


ANSI = re.compile(r"\x1b\[[0-9;]*m")   # the colours of IPython's tracebacks


def first_line(source):
    return next((line for line in source.splitlines() if line.strip()), "")[:100]


def execute_lesson(path, timeout):
    """Execute the prepared notebook at ``path`` in its folder; write it back.

    Returns (name, seconds). Raises BookError naming the cell that failed.
    Runs in a worker process: the kernel is the ``python3`` of this Python.
    """
    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    path = Path(path)
    name = path.stem
    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="krylov-book-") as state:
        os.environ["MPLBACKEND"] = INLINE_BACKEND
        os.environ["MPLCONFIGDIR"] = os.path.join(state, "matplotlib")
        os.environ["IPYTHONDIR"] = os.path.join(state, "ipython")
        # Unix sockets, not TCP: no port taken, and no warning about unencrypted TCP
        km = KernelManager(kernel_name="python3", transport="ipc",
                           ip=os.path.join(state, "kernel"))
        client = NotebookClient(nb, km=km, kernel_name="python3", timeout=timeout,
                                resources={"metadata": {"path": str(path.parent)}},
                                force_raise_errors=True, record_timing=False)
        # (nbclient keeps the widgets' state, store_widget_state: with it off, an
        # ipywidgets Output widget crashes it; clean_outputs drops the state)
        start = time.perf_counter()
        try:
            client.execute()
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as err:
            index, cell = next(((i, c) for i, c in enumerate(nb.cells)
                                if c.cell_type == "code" and any(
                                    o.get("output_type") == "error" for o in c.get("outputs", []))),
                               (None, None))
            where = (f"cell {index} (id {cell.get('id')}): {first_line(cell.source)}"
                     if cell is not None else "a cell")
            summary = ANSI.sub("", str(err)).strip().splitlines()
            raise BookError(f"{name}: {where} raised (every cell but the tests must run)\n"
                            + "\n".join(summary[-15:])) from None
        finally:
            if km.has_kernel:   # a kernel manager passed in is ours to stop
                km.shutdown_kernel()
        seconds = time.perf_counter() - start
    noise = stderr_outputs(nb)
    if noise:
        index, cell_id, text = noise[0]
        raise BookError(f"{name}: cell {index} (id {cell_id}) wrote to stderr, which the "
                        f"book would show as an error:\n{text.strip()[:800]}")
    nbformat.write(clean_outputs(nb), path)
    return name, seconds


# ---- the source tree -----------------------------------------------------------------

def mathjax_source():
    import jupyter_server_mathjax

    static = Path(jupyter_server_mathjax.__file__).parent / "static"
    if not (static / "MathJax.js").is_file():
        raise BookError(f"no MathJax.js in {static}: reinstall jupyter_server_mathjax")
    return static


def lesson_map(root, src):
    """README.md's lesson table, each lesson linked to its page by its title."""
    import nbformat

    text = (root / "README.md").read_text()
    section = re.search(r"^## Lessons\n(.*?)(?=^## )", text, re.MULTILINE | re.DOTALL)
    if not section:
        raise BookError("README.md has no '## Lessons' section with the lesson table")
    rows = []
    for line in section.group(1).splitlines():
        row = re.match(r"\|\s*(\d\d)\s*\|\s*`(\w+)`\s*\|(.*)\|\s*$", line)
        if not row:
            if line.startswith("|"):
                rows.append(line)
            continue
        number, name, what = row.groups()
        nb = nbformat.read(src / "lessons" / name / f"{name}.ipynb", as_version=4)
        title = next(m.group(2) for c in nb.cells if c.cell_type == "markdown"
                     for m in HEADING.finditer(c.source) if len(m.group(1)) == 1)
        title = re.sub(r"^Lesson\s+\d\d\s*[—–-]\s*", "", title)
        rows.append(f"| {number} | [{title}](lessons/{name}/{name}.ipynb) |{what}|")
    return "\n".join(rows)


def prepare_source(src, lessons, executed, root=ROOT):
    """Write the book's source tree into ``src`` (emptied first)."""
    import nbformat

    if src.exists():
        shutil.rmtree(src)
    shutil.copytree(BOOK, src, ignore=shutil.ignore_patterns("__pycache__", "_build"))
    shutil.copytree(mathjax_source(), src / "_static" / "mathjax")

    notebooks = {name: nbformat.read(root / "lessons" / name / f"{name}.ipynb", as_version=4)
                 for name in lessons}
    linker = Linker({lesson_number(n): sections_of(nb) for n, nb in notebooks.items()})
    for name, nb in notebooks.items():
        folder = src / "lessons" / name
        shutil.copytree(root / "lessons" / name, folder,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        nbformat.write(prepare_lesson(nb, name, linker, name in executed),
                       folder / f"{name}.ipynb")

    guides = src / "guides"
    guides.mkdir()
    for guide in GUIDES:
        text = (root / "docs" / f"{guide}.md").read_text()
        (guides / f"{guide}.md").write_text(linker.link(text))
    for picture in (root / "docs").glob("*.png"):
        if picture.name != "book-lesson.png":
            shutil.copy(picture, guides / picture.name)

    index = src / "index.md"
    text = index.read_text()
    if "{{ lesson_map }}" not in text:
        raise BookError("book/index.md should hold the placeholder {{ lesson_map }}")
    index.write_text(text.replace("{{ lesson_map }}", lesson_map(root, src)))
    return [src / "lessons" / name / f"{name}.ipynb" for name in executed]


def execute_all(paths, timeout, workers):
    """Execute the notebooks ``paths``, ``workers`` at a time; print each one's time."""
    if not paths:
        return
    failures = []
    with concurrent.futures.ProcessPoolExecutor(max_workers=min(workers, len(paths))) as pool:
        futures = {pool.submit(execute_lesson, str(p), timeout): p for p in paths}
        for future in concurrent.futures.as_completed(futures):
            try:
                name, seconds = future.result()
                print(f"  executed {name} in {seconds:.1f} s", flush=True)
            except BookError as err:
                failures.append(str(err))
            except Exception as err:   # nbclient or the kernel, not a lesson's cell
                failures.append(f"{futures[future].stem}: executing the notebook failed: "
                                f"{type(err).__name__}: {err}")
    if failures:
        raise BookError("\n\n".join(failures))


def run_sphinx(src, out, jobs):
    if out.exists():
        shutil.rmtree(out)
    warnings = src / "_sphinx-warnings.txt"
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-W", "--keep-going",
               "-j", str(jobs), "-d", str(src / ".doctrees"), "-w", str(warnings),
               str(src), str(out)]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    result = subprocess.run(command, env=env)
    if result.returncode:
        text = warnings.read_text() if warnings.exists() else ""
        raise BookError(f"sphinx-build failed ({result.returncode}):\n{text[-4000:]}")
    sources = out / "_sources"   # left empty: the pages' sources are not published
    if sources.is_dir() and not any(sources.iterdir()):
        sources.rmdir()


def pages(out):
    return sorted(p for p in out.rglob("*.html") if "_static" not in p.parts)


def build(out, src, lessons_to_run=None, timeout=300, workers=2, jobs=2, root=ROOT):
    """Build the book; return the list of its HTML pages."""
    start = time.perf_counter()
    lessons = lesson_names(root)
    run = lessons if lessons_to_run is None else lessons_to_run
    unknown = sorted(set(run) - set(lessons))
    if unknown:
        raise BookError(f"--lessons names unknown lessons: {unknown} (known: {lessons})")
    paths = prepare_source(src, lessons, set(run), root)
    print(f"executing {len(paths)} of {len(lessons)} lessons, {workers} at a time", flush=True)
    execute_all(paths, timeout, workers)
    t_exec = time.perf_counter() - start
    print("sphinx-build", flush=True)
    run_sphinx(src, out, jobs)
    found = pages(out)
    total = time.perf_counter() - start
    print(f"built {out}/index.html: {len(found)} pages ({len(lessons)} lessons, "
          f"{len(paths)} executed) in {total:.0f} s (execution {t_exec:.0f} s, "
          f"Sphinx {total - t_exec:.0f} s)")
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lessons", help="execute only these lessons (comma-separated); "
                        "the others are built unexecuted")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "book",
                        help="where the site goes (default build/book)")
    parser.add_argument("--src", type=Path, default=None,
                        help="where the source tree goes (default build/book-src, or "
                        "OUT-src beside --out)")
    parser.add_argument("--timeout", type=int, default=300, help="seconds per cell")
    parser.add_argument("--workers", type=int, default=2, help="notebooks executed at a time")
    parser.add_argument("--jobs", type=int, default=2, help="Sphinx's parallel jobs")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    src = args.src.resolve() if args.src else (
        ROOT / "build" / "book-src" if out == (ROOT / "build" / "book").resolve()
        else out.with_name(out.name + "-src"))
    chosen = None
    if args.lessons is not None:
        chosen = [n.strip() for n in args.lessons.split(",") if n.strip()]
    try:
        build(out, src, chosen, args.timeout, args.workers, args.jobs)
    except BookError as err:
        print(f"make book: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
