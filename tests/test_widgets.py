"""The lessons' sliders and their static fallbacks (lessons 03, 04 and 06),
and the plumbing in krylov_ref.widgets.

The drawing functions live in the solution notebooks: these tests execute
the cells that define them (and the few earlier cells they need) and check
what is drawn, against formulas written out here:

* lesson 03: the partner v starts at the tip of u, is A-orthogonal to u and
  tangent to the drawn contour of x^T A x through u; A = I gives the
  Euclidean perpendicular;
* lesson 04: the dashed curve is 2((sqrt(kappa) - 1)/(sqrt(kappa) + 1))^k, the
  solid one CG's A-norm error, and the two marked counts are CG's and the
  bound's for the tolerance;
* lesson 06: the curves are GMRES(m)'s and full GMRES's, and the products
  with A are counted right.

Each live widget has the sliders its text names, with the documented ranges
(lesson 03: A = I in the middle), and moving a slider redraws; each fallback
animation has one frame per position of its sweep, as many as its
alternative text says, all inside the sliders' ranges.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import sys

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import krylov_ref  # noqa: E402
import krylov_ref.convergence as conv  # noqa: E402
from krylov_ref import widgets  # noqa: E402

from course import ROOT, nbgrader_meta, read, solution_path  # noqa: E402

ipywidgets = pytest.importorskip("ipywidgets")

L03, L04, L06 = "03_cg_from_lanczos", "04_cg_convergence", "06_gmres"
# lesson -> notebook to read (the solution by default; a test of these tests may point elsewhere)
NOTEBOOKS: dict = {}

# The sliders each lesson's text documents: description -> (min, max, start value).
DOCUMENTED = {
    L03: {"log10(λ1/λ2)": (-1.0, 1.0, 0.0), "eigenvector angle θ (°)": (0, 90, 0)},
    L04: {"log10(κ)": (1.0, 3.5, 3.0), "outliers m": (0, 5, 0), "cluster top c": (1.5, 10.0, 2.0)},
    L06: {"restart m": (1, 40, 20)},
}


# ----------------------------------------------------------------- reading the notebooks

def notebook(name):
    return read(NOTEBOOKS.get(name, solution_path(name)))


def widget_block(name):
    """The lesson's slider: (intro markdown, drawing cell, live cell, animation cell)."""
    cells = notebook(name).cells
    live = [i for i, c in enumerate(cells)
            if c.cell_type == "code" and re.search(r"=\s*interactive_figure\(", c.source)]
    assert len(live) == 1, f"{name}: expected one live-widget cell, found {len(live)}"
    i = live[0]
    intro, draw, live_cell, animation = cells[i - 2], cells[i - 1], cells[i], cells[i + 1]
    assert intro.cell_type == "markdown", f"{name}: the drawing cell should follow the text"
    assert re.search(r"^def draw_\w+\(fig", draw.source, re.M), \
        f"{name}: the cell before the live widget should define the drawing function"
    assert "sweep_animation(" in animation.source, \
        f"{name}: the cell after the live widget should hold the animation"
    return intro, draw, live_cell, animation


def cell_with(name, text):
    found = [c for c in notebook(name).cells if c.cell_type == "code" and text in c.source]
    assert found, f"{name}: no code cell contains {text!r}"
    return found[0]


def setup_cell(name):
    return next(c for c in notebook(name).cells if nbgrader_meta(c).get("grade_id") == "setup")


def execute(sources, namespace):
    """Run cell sources in ``namespace`` as the kernel would, quietly."""
    from threadpoolctl import threadpool_limits

    # A set-up cell may limit BLAS threads for the kernel: not for this process.
    with threadpool_limits(limits=None), contextlib.redirect_stdout(io.StringIO()):
        for source in sources:
            exec(compile(source, "<lesson cell>", "exec"), namespace)
    return namespace


def lesson_namespace(name):
    """The names the lesson's drawing function needs, then the function itself."""
    ns = {"__name__": f"lesson_{name}"}
    sources = [setup_cell(name).source]
    if name == L04:
        sources.append(cell_with(name, "def cg_iterates(").source)
        # In the lesson these are the student's functions through use_own (or the reference).
        ns.update(needed=conv.iterations_needed, bound_fn=conv.chebyshev_bound)
    if name == L06:
        sources.append(cell_with(name, "cd = convection_diffusion2d(30").source)
    sources.append(widget_block(name)[1].source)
    return execute(sources, ns)


@pytest.fixture(scope="module")
def ns03():
    return lesson_namespace(L03)


@pytest.fixture(scope="module")
def ns04():
    return lesson_namespace(L04)


@pytest.fixture(scope="module")
def ns06():
    return lesson_namespace(L06)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# ----------------------------------------------------------------- helpers on figures

def by_gid(fig, gid):
    found = fig.findobj(lambda artist: artist.get_gid() == gid)
    assert len(found) == 1, f"expected one artist {gid!r} in the figure, found {len(found)}"
    return found[0]


def pixels(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)          # a closed figure keeps no canvas of its own
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()


def contour_points(fig, gid):
    """The vertices of a drawn contour (without the close-polygon markers)."""
    from matplotlib.path import Path

    points = []
    for path in by_gid(fig, gid).get_paths():
        keep = np.ones(len(path.vertices), bool) if path.codes is None else path.codes != Path.CLOSEPOLY
        points.append(path.vertices[keep])
    return np.concatenate(points)


def draw(function, **values):
    fig = plt.figure(figsize=(6, 5), dpi=50)
    caption = function(fig, **values)
    return fig, caption


def live_widget(name, namespace):
    """Run the lesson's live-widget cell; return the widget it shows."""
    ns = dict(namespace)
    execute([widget_block(name)[2].source], ns)
    found = [v for v in ns.values() if isinstance(v, ipywidgets.VBox) and hasattr(v, "kwargs_widgets")]
    assert len(found) == 1, f"{name}: the live cell should make one live figure"
    return found[0]


def check_sliders(name, live):
    """The sliders: as documented, each named in the text above the drawing cell."""
    intro = widget_block(name)[0].source
    sliders = {w.description: w for w in live.kwargs_widgets}
    assert list(sliders) == list(DOCUMENTED[name]), \
        f"{name}: sliders {list(sliders)}, documented {list(DOCUMENTED[name])}"
    for description, (lo, hi, start) in DOCUMENTED[name].items():
        w = sliders[description]
        assert (w.min, w.max, w.value) == (lo, hi, start), \
            f"{name}: slider {description!r} is ({w.min}, {w.max}, start {w.value})"
        assert f"`{description}`" in intro, f"{name}: the text does not name the slider `{description}`"
        assert w.continuous_update is False
    return sliders


def animation_frames(name, namespace):
    """Run the animation cell with a cheap stand-in for the drawing function:
    the positions it sweeps and the HTML it makes."""
    swept, made = [], []

    def recording_sweep(function, frames, **options):
        frames = [dict(f) for f in frames]
        swept.extend(frames)
        html = widgets.sweep_animation(lambda fig, **values: None, frames, **options)
        made.append(html)
        return html

    ns = dict(namespace, sweep_animation=recording_sweep)
    execute([widget_block(name)[3].source], ns)
    assert len(made) == 1, f"{name}: the animation cell should make one animation"
    return swept, made[0]


def check_animation(name, namespace):
    cell = widget_block(name)[3]
    swept, html = animation_frames(name, namespace)
    stated = re.search(r"Animation of (\d+) frames", cell.metadata.get("alt", ""))
    assert stated, f"{name}: the animation cell's alt text should say how many frames it has"
    assert widgets.frame_count(html) == len(swept) == int(stated.group(1)), \
        (f"{name}: {widgets.frame_count(html)} frames in the HTML, {len(swept)} positions swept, "
         f"{stated.group(1)} in the alt text")
    assert '<img alt="' in html, f"{name}: the animation's image has no alternative text"
    ranges = {}
    for w in live_widget(name, namespace).kwargs_widgets:
        ranges[w._kwarg] = (w.min, w.max)
    for frame in swept:
        assert set(frame) <= set(ranges), f"{name}: frame {frame} sets an unknown parameter"
        for key, value in frame.items():
            lo, hi = ranges[key]
            assert lo <= value <= hi, f"{name}: frame {frame} is outside the slider's range"
    return swept


@pytest.mark.parametrize("name", [L03, L04, L06])
def test_widget_cells_are_demonstrations(name):
    """Draw, live and animation cells: demonstrations the grader may skip,
    the live cell's output dropped by the book, figures described."""
    _, draw_cell, live, animation = widget_block(name)
    for cell in (draw_cell, live, animation):
        assert not nbgrader_meta(cell), f"{name}: a widget cell is an nbgrader cell"
        assert cell.metadata.get("krylov_ref", {}).get("grading") == "skip", cell.id
    assert "remove-output" in live.metadata.get("tags", []), \
        f"{name}: live cell not tagged remove-output"
    assert "remove-output" not in animation.metadata.get("tags", [])
    assert live.metadata.get("alt") and animation.metadata.get("alt")
    assert "HTML(" in animation.source


# ----------------------------------------------------------------- lesson 03

def matrix_03(log_ratio, angle):
    """The documented A: eigenvalues 10^(+-s/2), the first eigenvector at `angle` degrees."""
    t = np.radians(angle)
    E = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    return E @ np.diag([10 ** (log_ratio / 2), 10 ** (-log_ratio / 2)]) @ E.T


def drawn_03(fig):
    u_arrow, v_arrow = by_gid(fig, "u"), by_gid(fig, "v")
    assert np.allclose(u_arrow.xyann, 0.0), "u should start at the origin"
    u = np.subtract(u_arrow.xy, u_arrow.xyann)
    assert np.allclose(v_arrow.xyann, u_arrow.xy), "v should start at the tip of u"
    v = np.subtract(v_arrow.xy, v_arrow.xyann)
    return u, v


@pytest.mark.parametrize("log_ratio, angle", [(-1.0, 0), (-0.4, 35), (0.3, 60), (0.8, 80),
                                              (1.0, 24.23), (1.0, 90)])
def test_03_partner_is_conjugate_and_tangent_to_the_contour(ns03, log_ratio, angle):
    fig, caption = draw(ns03["draw_conjugacy"], log_ratio=log_ratio, angle=angle)
    A = matrix_03(log_ratio, angle)
    u, v = drawn_03(fig)
    assert np.linalg.norm(v) > 0.1
    assert abs(u @ A @ v) <= 1e-12 * np.linalg.norm(A @ u) * np.linalg.norm(v), \
        f"u^T A v = {u @ A @ v:.3g}: the drawn v is not A-orthogonal to u"
    # The grey contour is {x : x^T A x = u^T A u}, the level set through u (v is its tangent at u).
    points = contour_points(fig, "level set")
    values = np.einsum("ij,jk,ik->i", points, A, points)
    assert points.shape[0] > 50
    assert np.allclose(values, u @ A @ u, rtol=5e-3), \
        f"the grey contour is not the level set through u: x^T A x in [{values.min()}, {values.max()}]"
    # The dashed segment: the Euclidean perpendicular at the tip of u.
    x, y = by_gid(fig, "perpendicular").get_data()
    assert np.allclose([x[0], y[0]], u)
    assert abs(np.array([x[1] - x[0], y[1] - y[0]]) @ u) <= 1e-12
    shown = float(re.search(r"u\^T A v = ([-+0-9.e]+)", caption).group(1))
    assert abs(shown) <= 1e-14, caption


@pytest.mark.parametrize("angle", [0, 45, 90])
def test_03_identity_gives_the_euclidean_perpendicular(ns03, angle):
    fig, caption = draw(ns03["draw_conjugacy"], log_ratio=0.0, angle=angle)
    u, v = drawn_03(fig)
    Ju = np.array([-u[1], u[0]])
    assert abs(v[0] * Ju[1] - v[1] * Ju[0]) <= 1e-12 and v @ Ju > 0, "for A = I, v should be J u"
    points = contour_points(fig, "level set")
    radii = np.linalg.norm(points, axis=1)
    assert np.allclose(radii, np.linalg.norm(u), rtol=5e-3), "for A = I the contour is a circle"
    assert "angle(u, v) =  90.0" in caption, caption


def test_03_live_widget(ns03):
    live = live_widget(L03, ns03)
    sliders = check_sliders(L03, live)
    ratio = sliders["log10(λ1/λ2)"]
    assert (ratio.min + ratio.max) / 2 == 0.0, "A = I (s = 0) should be the middle of the range"
    fig, caption = live.result
    u, v = drawn_03(fig)
    assert abs(v @ u) <= 1e-12, "the live figure should start at A = I"
    before = pixels(fig)
    ratio.value = 0.8                       # what dragging the slider does
    moved, _ = live.result
    assert moved is not fig, "moving the slider did not redraw"
    u2, v2 = drawn_03(moved)
    A = matrix_03(0.8, sliders["eigenvector angle θ (°)"].value)
    assert abs(u2 @ A @ v2) <= 1e-12 and abs(v2 @ u2) > 0.1
    assert not np.array_equal(pixels(moved), before)
    sliders["eigenvector angle θ (°)"].value = 45
    _, v3 = drawn_03(live.result[0])
    assert not np.allclose(v3, v2), "moving the angle slider did not change v"


def test_03_animation(ns03):
    swept = check_animation(L03, ns03)
    ratios = [f["log_ratio"] for f in swept]
    assert min(ratios) == -1.0 and max(ratios) == 1.0 and 0.0 in ratios


def test_03_check_cell_matches_the_geometry(ns03):
    """The lesson's own check uses conjugate_partner: the same A and v as drawn."""
    for s, theta in [(-0.7, 10), (0.0, 30), (1.0, 70)]:
        A, u, v = ns03["conjugate_partner"](s, theta)
        assert np.allclose(A, matrix_03(s, theta))
        fig, _ = draw(ns03["draw_conjugacy"], log_ratio=s, angle=theta)
        assert np.allclose(drawn_03(fig)[1], v)


# ----------------------------------------------------------------- lesson 04

def spectrum_04(log10_kappa, outliers, cluster, n=1000):
    kappa = 10.0**log10_kappa
    if outliers == 0:
        return conv.chebyshev_spectrum(n, 1.0, kappa)
    mu = cluster * (kappa / cluster) ** (np.arange(1, outliers + 1) / outliers)
    return np.concatenate([conv.chebyshev_spectrum(n - outliers, 1.0, cluster), mu])


@pytest.mark.parametrize("position", [(1.0, 0, 2.0), (3.0, 0, 2.0), (3.0, 1, 2.0), (2.5, 3, 5.0),
                                      (3.5, 5, 10.0)])
def test_04_spectrum(ns04, position):
    log10_kappa, m, c = position
    lam = ns04["widget_spectrum"](*position)
    assert lam.size == 1000 and np.isclose(lam.min(), 1.0) and np.isclose(lam.max(), 10**log10_kappa)
    if m:
        assert np.sum(lam > c * (1 + 1e-12)) == m, "m eigenvalues should lie above the cluster"
        assert np.isclose(np.sort(lam)[-m - 1], c)
    assert np.allclose(np.sort(lam), np.sort(spectrum_04(*position)))


@pytest.mark.parametrize("position", [(1.0, 0, 2.0), (3.0, 0, 2.0), (3.0, 3, 2.0), (2.0, 5, 10.0)])
def test_04_figure_shows_cg_the_bound_and_both_counts(ns04, position):
    log10_kappa, m, c = position
    fig, caption = draw(ns04["draw_spectrum_effect"], log10_kappa=log10_kappa, outliers=m, cluster=c)
    lam = spectrum_04(*position)
    kappa = lam.max() / lam.min()
    rho = (np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)
    k, bound = by_gid(fig, "bound").get_data()
    assert np.allclose(bound, 2 * rho ** np.asarray(k), rtol=1e-12), "the dashed curve is not the bound"
    tol = ns04["tol_w"]
    promised = next(j for j in range(100_000) if 2 * rho**j <= tol)
    assert by_gid(fig, "promised").get_xdata()[0] == promised
    # CG's relative A-norm error, computed here from CG's iterates on diag(lam)
    b = ns04["b_w"]
    x_star = b / lam
    X = [np.zeros_like(b)]
    krylov_ref.cg(lambda v: lam * v, b, rtol=0.0, maxiter=promised + 5,
                  callback=lambda x: X.append(x.copy()))
    E = np.array(X) - x_star
    err = np.sqrt(np.einsum("ij,j,ij->i", E, lam, E)) / np.sqrt(x_star @ (lam * x_star))
    kk, drawn = by_gid(fig, "cg").get_data()
    assert np.allclose(drawn, err[: len(drawn)], rtol=1e-6, atol=1e-14), \
        "the solid curve is not CG's error"
    took = int(np.argmax(err <= tol))
    assert err[took] <= tol and by_gid(fig, "took").get_xdata()[0] == took
    assert f"CG {took} iterations" in caption and f"promises {promised:3d}" in caption, caption
    assert "holds at every step: True" in caption
    if m:
        assert f"m + iterations_needed(c) = {m + conv.iterations_needed(c, tol)}" in caption
    spectrum = by_gid(fig, "spectrum").get_xdata()
    assert np.allclose(np.sort(spectrum), np.sort(lam))


def test_04_live_widget(ns04):
    live = live_widget(L04, ns04)
    sliders = check_sliders(L04, live)
    assert isinstance(sliders["outliers m"], ipywidgets.IntSlider)
    fig, caption = live.result
    before_curve = by_gid(fig, "cg").get_ydata()
    before = pixels(fig)
    sliders["outliers m"].value = 3
    moved, moved_caption = live.result
    assert moved is not fig and moved_caption != caption
    assert len(by_gid(moved, "cg").get_ydata()) != len(before_curve) or \
        not np.allclose(by_gid(moved, "cg").get_ydata(), before_curve)
    assert not np.array_equal(pixels(moved), before)


def test_04_animation(ns04):
    swept = check_animation(L04, ns04)
    assert {f["outliers"] for f in swept} >= {0, 5}


# ----------------------------------------------------------------- lesson 06

@pytest.mark.parametrize("m", [1, 5, 40])
def test_06_curves_and_counts(ns06, m):
    import scipy.sparse.linalg as sla

    A, b = ns06["A_cd"], ns06["b_cd"]
    fig, caption = draw(ns06["draw_restart"], restart=m)
    ref = krylov_ref.gmres(A, b, rtol=1e-8, restart=m, maxiter=2000)
    full = krylov_ref.gmres(A, b, rtol=1e-8, restart=A.shape[0])
    _, y = by_gid(fig, "restarted").get_data()
    assert np.allclose(y, ref.residual_norms / ref.residual_norms[0], rtol=1e-10)
    _, y = by_gid(fig, "full").get_data()
    assert np.allclose(y, full.residual_norms / full.residual_norms[0], rtol=1e-10)
    x, y = by_gid(fig, "current").get_data()
    assert (x[0], y[0]) == (m, ref.iterations)
    products = [0]

    def matvec(v):
        products[0] += 1
        return A @ v

    krylov_ref.gmres(sla.LinearOperator(A.shape, matvec=matvec, dtype=float), b, rtol=1e-8,
                     restart=m, maxiter=2000)
    assert f"{ref.iterations:3d} inner iterations, {products[0]:3d} products with A" in caption, caption
    assert f"full GMRES: {full.iterations} iterations" in caption
    x, y = by_gid(fig, "sweep").get_data()
    assert list(x) == ns06["restart_sweep"] and np.all(np.asarray(y) >= full.iterations)


def test_06_live_widget(ns06):
    live = live_widget(L06, ns06)
    sliders = check_sliders(L06, live)
    assert isinstance(sliders["restart m"], ipywidgets.IntSlider)
    fig, caption = live.result
    before = pixels(fig)
    sliders["restart m"].value = 3
    moved, moved_caption = live.result
    assert by_gid(moved, "current").get_xdata()[0] == 3 and moved_caption.startswith("GMRES( 3)")
    assert not np.array_equal(pixels(moved), before)


def test_06_animation(ns06):
    swept = check_animation(L06, ns06)
    assert [f["restart"] for f in swept] == ns06["restart_sweep"]
    assert swept[0]["restart"] == 1 and swept[-1]["restart"] == 40


# ----------------------------------------------------------------- krylov_ref.widgets

def test_krylov_ref_imports_without_ipywidgets(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)        # import ipywidgets -> ImportError
    spec = importlib.util.spec_from_file_location("_widgets_copy", ROOT / "krylov_ref" / "widgets.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "_widgets_copy", module)
    spec.loader.exec_module(module)
    html = module.sweep_animation(lambda fig, x: None, [{"x": 1}], figsize=(1, 1), dpi=20)
    assert module.frame_count(html) == 1
    with pytest.raises(ImportError):
        module.interactive_figure(lambda fig, x: None, {"x": module.Slider(0, 1, 1, 0)})
    with pytest.raises(ImportError):
        module.Slider(0, 1, 1, 0).widget("x")


def test_slider():
    assert widgets.Slider(0, 5, 1, 0).integer and not widgets.Slider(0, 5, 0.5, 1).integer
    assert isinstance(widgets.Slider(0, 5, 1, 2).widget("m"), ipywidgets.IntSlider)
    w = widgets.Slider(-1.0, 1.0, 0.05, 0.0, "label").widget("s")
    assert isinstance(w, ipywidgets.FloatSlider)
    assert (w.min, w.max, w.step, w.value, w.description) == (-1.0, 1.0, 0.05, 0.0, "label")
    assert w.readout_format == ".2f" and w.continuous_update is False
    assert [widgets.Slider(0.0, 4.0, step, 1.0).widget("x").readout_format
            for step in (0.25, 0.1, 0.5, 2.0)] == [".2f", ".1f", ".1f", ".0f"]
    assert widgets.Slider(0, 5, 1, 2).widget("m").description == "m"
    for bad in [(1, 0, 1, 0), (0, 1, 0, 0), (0, 1, 1, 2)]:
        with pytest.raises(ValueError):
            widgets.Slider(*bad)


def test_sweep_animation(capsys):
    seen = []

    def sketch(fig, x, y=0):
        seen.append((x, y))
        fig.add_subplot().plot([0, 1], [y, x])
        return f"x = {x}, y = {y}"

    html = widgets.sweep_animation(sketch, [{"x": 1}, {"x": 2, "y": 1}, {"x": 3}], figsize=(2, 2),
                                   dpi=30, alt='a "line" <tilting>', mode="reflect")
    assert seen == [(1, 0), (2, 1), (3, 0)], "each frame drawn once, in order"
    assert widgets.frame_count(html) == 3
    assert '<img alt="a &quot;line&quot; &lt;tilting&gt;" id="_anim_img' in html
    assert capsys.readouterr().out.splitlines() == ["x = 1, y = 0", "x = 2, y = 1", "x = 3, y = 0"]
    assert not plt.get_fignums(), "the animation's figure should be closed"
    widgets.sweep_animation(sketch, [{"x": 1}], figsize=(2, 2), dpi=30, captions=False)
    assert capsys.readouterr().out == ""
    for bad in [dict(frames=[]), dict(frames=[{"x": 1}], mode="bounce")]:
        with pytest.raises(ValueError):
            widgets.sweep_animation(sketch, **bad)
    assert widgets.frame_count(html.replace("frames[2] =", "nothing =")) == 2


def test_interactive_figure():
    calls = []

    def sketch(fig, a=1.0, n=2):
        calls.append((a, n))
        if a < 0:
            raise ValueError("negative slope")
        fig.add_subplot().plot(np.arange(n), a * np.arange(n))
        return f"a = {a}, n < {n}"

    live = widgets.interactive_figure(sketch, {"a": widgets.Slider(-2.0, 2.0, 0.5, 1.0, "slope"),
                                               "n": widgets.Slider(2, 10, 1, 2)}, figsize=(2, 2), dpi=30)
    assert calls == [(1.0, 2)], "the live figure draws once at the start values"
    assert [w.description for w in live.kwargs_widgets] == ["slope", "n"]
    assert [w._kwarg for w in live.kwargs_widgets] == ["a", "n"]
    # No Output widget: headless runs (nbclient) can stall on outputs routed into one.
    assert not [c for c in live.children if isinstance(c, ipywidgets.Output)]
    assert live.children[-2] is live.image and live.children[-1] is live.caption
    fig, caption = live.result
    first = bytes(live.image.value)
    assert caption == "a = 1.0, n < 2" and first.startswith(b"\x89PNG")
    assert live.caption.value == "<pre>a = 1.0, n &lt; 2</pre>"
    live.kwargs_widgets[1].value = 5
    assert calls[-1] == (1.0, 5) and live.result[1] == "a = 1.0, n < 5"
    assert live.result[0] is not fig and bytes(live.image.value) != first
    assert not plt.get_fignums(), "the live figure should leave no pyplot figure open"
    shown = bytes(live.image.value)
    live.kwargs_widgets[0].value = -1.0          # draw fails: the error is shown, the figure kept
    assert "could not draw: ValueError: negative slope" in live.caption.value
    assert bytes(live.image.value) == shown

    def broken(fig, a=1.0):
        raise RuntimeError("cannot draw")

    with pytest.raises(RuntimeError, match="cannot draw"):
        widgets.interactive_figure(broken, {"a": widgets.Slider(0.0, 1.0, 0.5, 0.0)})
    with pytest.raises(TypeError):
        widgets.interactive_figure(sketch, {"a": (0, 1)})
