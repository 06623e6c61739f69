"""Sphinx configuration of the course's web book (``make book``; scripts/book.py).

scripts/book.py copies this folder into build/book-src/ beside the student
lessons (already executed, and transformed) and the guides, then runs
sphinx-build: nothing is executed here, and nothing is fetched from the network.
"""

from pathlib import Path

project = "Krylov methods, from Lanczos to Newton-CG"
author = "the course's authors"
copyright = "the course's authors, MIT licence"
html_title = "Krylov methods, from Lanczos to Newton-CG"

extensions = ["myst_nb"]
exclude_patterns = ["_build", ".doctrees", "_nb_outputs", "**.ipynb_checkpoints",
                    "_sphinx-warnings.txt"]

# The notebooks were executed by scripts/book.py (student version, reference
# package standing in for unanswered exercises); myst-nb only renders them.
nb_execution_mode = "off"
# No ipywidgets JavaScript from a CDN: live widgets are JupyterLab's business;
# the book shows their static fallbacks (and their outputs are dropped).
nb_ipywidgets_js = {}
# Every stderr output fails the build in scripts/book.py; none may reach a page.
nb_output_stderr = "error"

myst_enable_extensions = ["dollarmath"]
# $$ ... $$ on a line of its own inside a paragraph or a list item is display
# math in JupyterLab; without this, myst pairs its dollars wrongly there
myst_dmath_double_inline = True
myst_heading_anchors = 3
# myst-parser would write a MathJax 3/4 configuration; ours is MathJax 2's, below.
myst_update_mathjax = False

# MathJax 2.7 from the jupyter_server_mathjax package, copied into
# _static/mathjax by scripts/book.py: no CDN. Its only full configuration is
# TeX-AMS-MML_HTMLorMML-full, and its only web font STIX-Web.
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
mathjax2_config = {
    # myst's dollarmath writes \( \) and \[ \]; a stray $ in the text stays a dollar
    "tex2jax": {
        "inlineMath": [["\\(", "\\)"]],
        "displayMath": [["\\[", "\\]"]],
        "processEscapes": False,
        "processEnvironments": False,
        "processRefs": False,
    },
    "HTML-CSS": {
        "availableFonts": [], "preferredFont": None, "webFont": "STIX-Web", "imageFont": None,
        # MathJax measures web fonts against a font at url('about:blank'), which
        # Chromium refuses with a console error; a local() name that does not
        # exist falls back the same way, silently.
        "styles": {"@font-face": {"font-family": "MathJax_Blank",
                                  "src": "local('MathJax_Blank')"}},
    },
    # the hidden MathML copy for screen readers would ask for fonts this copy
    # of MathJax does not ship (404s); the MathJax menu can switch it on
    "menuSettings": {"assistiveMML": False},
    "showMathMenu": True,
    "messageStyle": "none",
}

html_theme = "sphinx_book_theme"
html_theme_options = {
    "use_download_button": False,   # the student works from `make lab`, not from a download
    "use_fullscreen_button": True,
    "use_repository_button": False,
    "launch_buttons": {},
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "navigation_with_keys": True,
}
html_static_path = ["_static"]
# the theme's light/dark switch starts from this (without it: a console error)
html_context = {"default_mode": "light"}
html_css_files = ["book.css"]
html_favicon = "_static/favicon.svg"   # else browsers ask for /favicon.ico, and get a 404
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None

suppress_warnings = [
    "myst.header",   # the guides start sub-sections at level 3 in places
    # a shell block with a placeholder such as <the course's repository>
    "misc.highlighting_failure",
]


def _outputs_beside_the_doctrees(app):
    """myst-nb writes notebook images into OUTDIR/../jupyter_execute; keep them in
    the source tree instead, so that `--out DIR` writes nothing beside DIR."""
    config = app.env.mystnb_config
    folder = Path(app.doctreedir).parent / "_nb_outputs"
    app.env.mystnb_config = config.copy(output_folder=str(folder))


def setup(app):
    # after myst-nb's own builder-inited handler (priority 500)
    app.connect("builder-inited", _outputs_beside_the_doctrees, priority=900)
