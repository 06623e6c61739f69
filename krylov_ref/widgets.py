"""Sliders with a static fallback, for the lessons' interactive figures.

A lesson that wants a slider writes one drawing function,
``draw(fig, **values)``, which draws into an empty matplotlib figure for one
setting of the parameters and may return a one-line caption (a ``str``) with
the numbers the picture is about. This module holds the plumbing around it:

* :func:`interactive_figure` -- the live control: ``ipywidgets`` sliders
  that redraw the figure (JupyterLab, a running kernel);
* :func:`sweep_animation` -- the static fallback: the same drawing function
  over a list of settings, as a matplotlib ``FuncAnimation`` rendered with
  ``to_jshtml()``, which plays without a kernel (nbval, nbgrader's feedback,
  the web book);
* :class:`Slider` -- one slider's range, step, start value and label, written
  without importing ``ipywidgets``;
* :func:`frame_count` -- how many frames an animation's HTML holds.

``ipywidgets`` is imported only inside what builds widgets
(:func:`interactive_figure`, :meth:`Slider.widget`), so that ``krylov_ref``
imports without it.
"""

from __future__ import annotations

import html as _html
import numbers
import re
from dataclasses import dataclass
from decimal import Decimal

__all__ = ["Slider", "interactive_figure", "sweep_animation", "frame_count"]


@dataclass(frozen=True)
class Slider:
    """One slider of a live figure.

    Parameters
    ----------
    min, max : int or float
        The range. Integers for all of ``min``, ``max``, ``step`` and
        ``value`` give an integer slider, anything else a float slider.
    step : int or float
        The increment.
    value : int or float
        The starting position, inside the range.
    description : str
        The label shown beside the slider (the keyword name when empty).
    """

    min: float
    max: float
    step: float
    value: float
    description: str = ""

    def __post_init__(self):
        if not self.min < self.max:
            raise ValueError(f"Slider: min ({self.min}) must be below max ({self.max})")
        if not self.step > 0:
            raise ValueError(f"Slider: step must be positive, got {self.step}")
        if not self.min <= self.value <= self.max:
            raise ValueError(f"Slider: value {self.value} is outside [{self.min}, {self.max}]")

    @property
    def integer(self):
        """True when the slider takes integer values."""
        return all(isinstance(x, numbers.Integral) and not isinstance(x, bool)
                   for x in (self.min, self.max, self.step, self.value))

    def widget(self, name):
        """The ``ipywidgets`` slider for keyword ``name``.

        It redraws when the handle is released (``continuous_update=False``):
        a redraw may run a solver.
        """
        import ipywidgets

        common = dict(min=self.min, max=self.max, step=self.step, value=self.value,
                      description=self.description or name, continuous_update=False,
                      style={"description_width": "initial"},
                      layout=ipywidgets.Layout(width="420px"))
        if self.integer:
            return ipywidgets.IntSlider(**common)
        decimals = max(0, -Decimal(str(self.step)).normalize().as_tuple().exponent)
        return ipywidgets.FloatSlider(readout_format=f".{decimals}f", **common)


def interactive_figure(draw, sliders, *, figsize=(6.0, 4.0), dpi=100):
    """A live figure: sliders that redraw ``draw(fig, **values)``.

    The figure is drawn off screen and shown as a PNG in an
    ``ipywidgets.Image``, with the caption in an ``ipywidgets.HTML`` below
    it. There is deliberately no ``ipywidgets.Output`` (which
    ``ipywidgets.interactive`` uses): when a notebook runs headless (nbval,
    nbconvert, nbgrader), nbclient answers every output routed into an Output
    widget with a message on the shell channel, sent while it waits on that
    channel for the cell's reply, and that reply is then sometimes seen only
    when the cell's timeout expires, or never (nbclient issue 312, nbconvert
    issues 1921 and 2003).

    Parameters
    ----------
    draw : callable
        ``draw(fig, **values)`` draws into the empty figure ``fig`` (a
        ``matplotlib.figure.Figure``, outside pyplot) for one setting of the
        parameters. If it returns a ``str``, that caption is shown below the
        figure.
    sliders : dict of str to Slider
        Keyword name of ``draw`` to its slider, in display order.
    figsize : (float, float)
        Size of the figure, in inches.
    dpi : float
        Resolution of the PNG.

    Returns
    -------
    ipywidgets.VBox
        The sliders, the figure and its caption; display it (the last
        expression of a cell). It has drawn once, at the sliders' start
        values; releasing a slider redraws. Extra attributes:
        ``kwargs_widgets``, the sliders in the order of ``sliders`` (each
        with its keyword name in ``_kwarg``); ``image`` and ``caption``, the
        widgets showing the figure and the caption; ``result``,
        ``(figure, caption)`` of the last drawing; ``redraw()``, which draws
        at the sliders' current values.

    Raises
    ------
    Exception
        Whatever ``draw`` raises on the first drawing. A later drawing that
        fails leaves the figure as it was and shows the error as the caption.

    Examples
    --------
    >>> def draw(fig, slope=1.0):
    ...     ax = fig.add_subplot()
    ...     ax.plot([0, 1], [0, slope])
    ...     return f"slope {slope}"
    >>> live = interactive_figure(draw, {"slope": Slider(-2.0, 2.0, 0.5, 1.0)})  # doctest: +SKIP
    >>> live  # doctest: +SKIP
    """
    import io

    import ipywidgets
    from matplotlib.figure import Figure

    if not sliders:
        raise ValueError("interactive_figure needs at least one slider")
    for name, spec in sliders.items():
        if not isinstance(spec, Slider):
            raise TypeError(f"slider {name!r} must be a krylov_ref.widgets.Slider, got {spec!r}")
    controls = []
    for name, spec in sliders.items():
        control = spec.widget(name)
        control._kwarg = name
        controls.append(control)
    # at its own size: a flex box would stretch it to the cell's width, blurred
    image = ipywidgets.Image(format="png", layout=ipywidgets.Layout(
        width=f"{round(figsize[0] * dpi)}px", height=f"{round(figsize[1] * dpi)}px"))
    caption = ipywidgets.HTML()
    live = ipywidgets.VBox(controls + [image, caption])

    def redraw():
        values = {control._kwarg: control.value for control in controls}
        fig = Figure(figsize=figsize, dpi=dpi)          # off screen: nothing shown, nothing left open
        text = draw(fig, **values)
        png = io.BytesIO()
        fig.savefig(png, format="png")
        image.value = png.getvalue()
        caption.value = f"<pre>{_html.escape(text)}</pre>" if isinstance(text, str) else ""
        live.result = (fig, text)

    def on_change(_change):
        try:
            redraw()
        except Exception as exc:         # shown where the student looks, not in the kernel's log
            caption.value = (f"<pre style='color: #b00'>could not draw: {type(exc).__name__}: "
                             f"{_html.escape(str(exc))}</pre>")

    redraw()
    for control in controls:
        control.observe(on_change, names="value")
    live.kwargs_widgets, live.image, live.caption, live.redraw = controls, image, caption, redraw
    return live


def sweep_animation(draw, frames, *, figsize=(6.0, 4.0), dpi=72, interval=800, mode="loop",
                    alt="", captions=True):
    """The static fallback of a live figure: ``draw`` over a sweep, as HTML.

    Parameters
    ----------
    draw : callable
        The drawing function of :func:`interactive_figure`.
    frames : sequence of dict
        One dict of keyword values per frame, e.g.
        ``[{"log_ratio": s, "angle": 30} for s in np.linspace(-1, 1, 9)]``.
        About 10 to 16 frames keep the HTML small (each frame is a PNG).
    figsize : (float, float)
        Size of the figure, in inches.
    dpi : float
        Resolution of the frames.
    interval : float
        Milliseconds per frame when playing.
    mode : {"loop", "once", "reflect"}
        What the player does at the last frame.
    alt : str
        Alternative text for the animation's image (screen readers, the web
        book's checks).
    captions : bool
        Print the caption ``draw`` returns for each frame, one line each: a
        table of the numbers the animation shows.

    Returns
    -------
    str
        HTML with the frames embedded and a JavaScript player (matplotlib's
        ``FuncAnimation.to_jshtml``); show it with ``IPython.display.HTML``.
        It plays without a kernel.
    """
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation

    frames = [dict(f) for f in frames]
    if not frames:
        raise ValueError("sweep_animation needs at least one frame")
    if mode not in ("loop", "once", "reflect"):
        raise ValueError(f"mode must be 'loop', 'once' or 'reflect', not {mode!r}")
    fig = plt.figure(figsize=figsize, dpi=dpi)
    lines = []

    def update(i):
        fig.clear()
        caption = draw(fig, **frames[i])
        if isinstance(caption, str):
            lines.append(caption)
        return []

    try:
        animation = FuncAnimation(fig, update, frames=len(frames), init_func=lambda: [],
                                  interval=interval, repeat=mode != "once",
                                  cache_frame_data=False)
        html = animation.to_jshtml(default_mode=mode)
    finally:
        plt.close(fig)
    if captions:
        for line in lines:
            print(line)
    if alt:
        html = html.replace('<img id="_anim_img', f'<img alt="{_html.escape(alt)}" id="_anim_img', 1)
    return html


_FRAME = re.compile(r'^\s*frames\[(\d+)\] = "data:image/', re.MULTILINE)


def frame_count(html):
    """The number of frames embedded in an HTML animation of :func:`sweep_animation`.

    Parameters
    ----------
    html : str

    Returns
    -------
    int
    """
    return len(set(_FRAME.findall(html)))
