"""Figures the lessons share: convergence histories and 2-D contour plots."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_convergence", "plot_contours", "set_log_ticks"]


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4))
    return ax


def plot_convergence(histories, ax=None, *, title="Convergence",
                     ylabel=r"$\|b - A x_k\|_2 / \|b\|_2$", normalize=True,
                     bounds=None):
    """Residual norms against iteration on a log scale.

    Parameters
    ----------
    histories : dict of str to array_like
        Label to residual norms (initial first), e.g. ``{"CG": res.residual_norms}``.
    ax : matplotlib Axes, optional
    title, ylabel : str
    normalize : bool
        Divide each history by its first entry.
    bounds : dict of str to array_like, optional
        Predicted curves drawn dashed beside the measured ones (in the same
        colours, in order, when there is one bound per history).

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from krylov_ref.plotting import plot_convergence
    >>> ax = plot_convergence({"demo": [1.0, 0.1, 0.01]})
    >>> ax.get_yscale(), ax.get_title()
    ('log', 'Convergence')
    """
    ax = _axes(ax)
    colors = []
    for label, values in histories.items():
        values = np.asarray(values, dtype=float)
        if normalize and values.size and values[0] > 0:
            values = values / values[0]
        (line,) = ax.semilogy(np.arange(values.size), values, label=label)
        colors.append(line.get_color())
    bounds = bounds or {}
    # A bound drawn beside each history shares its colour, so pairs read at a glance.
    paired = len(bounds) == len(colors)
    for i, (label, values) in enumerate(bounds.items()):
        values = np.asarray(values, dtype=float)
        ax.semilogy(np.arange(values.size), values, "--", label=label,
                    color=colors[i] if paired else None)
    ax.set_xlabel("iteration $k$")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend()
    return ax


def plot_contours(A, b, paths=None, ax=None, *, title="Contours of $f(x)$",
                  levels=15, margin=0.5, center=None):
    """Contours of ``f(x) = 1/2 x^T A x - b^T x`` for a 2-by-2 ``A`` with
    iterate paths drawn over them.

    Parameters
    ----------
    A : ndarray, shape (2, 2)
    b : ndarray, shape (2,)
    paths : dict of str to array_like of shape (k, 2), optional
        Label to the sequence of iterates.
    ax : matplotlib Axes, optional
    title : str
    levels : int
    margin : float
        Extra room around the paths, as a fraction of their extent.
    center : array_like, optional
        Where to centre the picture (the minimiser by default).

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from krylov_ref.plotting import plot_contours
    >>> ax = plot_contours(np.eye(2), np.ones(2), {"path": [[0, 0], [1, 1]]})
    >>> ax.get_xlabel()
    '$x_1$'
    """
    A = np.asarray(A, dtype=float)
    b = np.asarray(b, dtype=float)
    if A.shape != (2, 2) or b.shape != (2,):
        raise ValueError(f"plot_contours needs a 2x2 A and a length-2 b, got {A.shape} and {b.shape}")
    ax = _axes(ax)
    x_star = np.linalg.solve(A, b) if center is None else np.asarray(center, dtype=float)
    points = [x_star[None, :]] + [np.asarray(p, dtype=float).reshape(-1, 2)
                                  for p in (paths or {}).values()]
    pts = np.vstack(points)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    half = max((hi - lo).max() / 2 * (1 + margin), 1e-3)
    mid = (lo + hi) / 2
    g1 = np.linspace(mid[0] - half, mid[0] + half, 200)
    g2 = np.linspace(mid[1] - half, mid[1] + half, 200)
    X1, X2 = np.meshgrid(g1, g2)
    XY = np.stack([X1.ravel(), X2.ravel()])
    F = (0.5 * np.einsum("ik,ij,jk->k", XY, A, XY) - b @ XY).reshape(X1.shape)
    ax.contour(X1, X2, F, levels=levels, cmap="viridis", linewidths=0.8)
    for label, path in (paths or {}).items():
        path = np.asarray(path, dtype=float).reshape(-1, 2)
        ax.plot(path[:, 0], path[:, 1], "o-", ms=3, label=label)
    ax.plot(*x_star, "k*", ms=10, label="$x_*$")
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(title)
    ax.legend()
    return ax


def set_log_ticks(ax, ticks, axis="x"):
    """Label a logarithmic axis at ``ticks`` only, in plain numbers.

    Matplotlib labels the minor ticks of a log axis that spans less than a
    decade ("3x10^2", "4x10^2", ...), and the labels collide; this puts one
    plain label at each given value and none elsewhere.

    Parameters
    ----------
    ax : matplotlib Axes
    ticks : array_like of positive numbers
        Where the labels go, e.g. the measured sizes.
    axis : {"x", "y"}

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from krylov_ref.plotting import set_log_ticks
    >>> _, ax = plt.subplots()
    >>> _ = ax.loglog([200, 400, 800], [1, 8, 64])
    >>> _ = set_log_ticks(ax, [200, 400, 800])
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['200', '400', '800']
    >>> plt.close("all")
    """
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    if axis not in ("x", "y"):
        raise ValueError(f"axis must be 'x' or 'y', got {axis!r}")
    ticks = np.asarray(ticks, dtype=float).ravel()
    if ticks.size == 0 or not np.all(np.isfinite(ticks)) or np.any(ticks <= 0):
        raise ValueError("ticks must be finite positive numbers on a log axis")
    which = ax.xaxis if axis == "x" else ax.yaxis
    which.set_major_locator(FixedLocator(ticks))
    which.set_minor_locator(NullLocator())
    which.set_minor_formatter(NullFormatter())
    labels = [f"{t:g}" for t in ticks]
    (ax.set_xticklabels if axis == "x" else ax.set_yticklabels)(labels)
    return ax
