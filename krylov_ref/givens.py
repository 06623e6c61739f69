"""Givens rotations and the small least-squares problem of GMRES (lesson 06).

GMRES minimises ``||beta e_0 - H_k y||`` with ``H_k`` the ``(k + 1) x k``
Hessenberg matrix of Arnoldi. One Givens rotation per step keeps its QR
factorisation up to date: the rotations of the earlier steps are applied to
the new column, and a new rotation zeroes its subdiagonal entry. The rotated
right-hand side ``g`` then gives the residual norm for free: it is
``|g_k|``, its last entry.

Conventions of the lesson (and of :func:`krylov_ref.gmres`): the rotation
``G = [[c, s], [-s, c]]`` maps ``(a, b)`` to ``(r, 0)`` with
``r = hypot(a, b) >= 0``; rotation ``i`` acts on entries ``i`` and ``i + 1``.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["givens_rotation", "apply_rotations", "givens_update"]


def _finite_real(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise ValueError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def _finite_vector(value, name):
    arr = np.asarray(value)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{name} must be real, got dtype {arr.dtype}")
    arr = arr.astype(float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def givens_rotation(a, b):
    """The rotation that zeroes ``b`` against ``a``.

    Parameters
    ----------
    a, b : float
        The two entries; finite real numbers.

    Returns
    -------
    c, s : float
        With ``r = hypot(a, b)``: ``c = a / r``, ``s = b / r``, so that
        ``[[c, s], [-s, c]] @ [a, b] = [r, 0]`` with ``r >= 0`` and
        ``c**2 + s**2 = 1``. For ``a = b = 0`` the identity, ``(1.0, 0.0)``.
        Computed without overflow or underflow where ``sqrt(a**2 + b**2)``
        would fail (entries near 1e200 or 1e-200, or subnormal).

    Raises
    ------
    ValueError
        If ``a`` or ``b`` is not a finite real number.

    Examples
    --------
    >>> from krylov_ref.givens import givens_rotation
    >>> givens_rotation(3.0, 4.0)
    (0.6, 0.8)
    >>> givens_rotation(-2.0, 0.0), givens_rotation(0.0, -5.0), givens_rotation(0.0, 0.0)
    ((-1.0, 0.0), (0.0, -1.0), (1.0, 0.0))
    """
    a = _finite_real(a, "a")
    b = _finite_real(b, "b")
    scale = max(abs(a), abs(b))
    if scale == 0.0:
        return 1.0, 0.0
    # hypot alone avoids overflow and underflow of the squares, but with
    # subnormal entries r itself is rounded to few digits: divide by the
    # larger entry first, which is exact in binary for powers of two and
    # keeps full precision otherwise.
    a, b = a / scale, b / scale
    r = float(np.hypot(a, b))
    return a / r, b / r


def apply_rotations(h, cs, sn):
    """Apply the rotations ``0, 1, ..., len(cs) - 1`` in turn to a copy of ``h``.

    Rotation ``i`` replaces ``(h_i, h_{i+1})`` by
    ``(cs[i] h_i + sn[i] h_{i+1}, -sn[i] h_i + cs[i] h_{i+1})``.

    Parameters
    ----------
    h : array_like, shape (m,)
        At least ``len(cs) + 1`` entries.
    cs, sn : array_like, shape (j,)
        Cosines and sines of the rotations.

    Returns
    -------
    ndarray, shape (m,)

    Examples
    --------
    >>> from krylov_ref.givens import apply_rotations
    >>> apply_rotations([1.0, 0.0, 2.0], [0.0], [1.0]).tolist()
    [0.0, -1.0, 2.0]
    """
    h = _finite_vector(h, "h")
    cs = _finite_vector(cs, "cs") if len(cs) else np.zeros(0)
    sn = _finite_vector(sn, "sn") if len(sn) else np.zeros(0)
    if cs.shape != sn.shape:
        raise ValueError(f"cs and sn must have the same length, got {cs.size} and {sn.size}")
    if h.size < cs.size + 1:
        raise ValueError(f"{cs.size} rotations need at least {cs.size + 1} entries, h has {h.size}")
    for i in range(cs.size):
        h[i], h[i + 1] = cs[i] * h[i] + sn[i] * h[i + 1], -sn[i] * h[i] + cs[i] * h[i + 1]
    return h


def givens_update(h, cs, sn, g):
    """One step of the QR update of GMRES's least-squares problem.

    At step ``j`` (``j = 0, 1, ...``) Arnoldi adds column ``j`` of the
    Hessenberg matrix, ``h = H[:j + 2, j]``. The rotations of the earlier
    steps are applied to it, then a new rotation ``(c, s)`` zeroes its last
    entry; the same rotation acts on the rotated right-hand side ``g``.

    Parameters
    ----------
    h : array_like, shape (j + 2,)
        The new column of ``H``: ``h_{0j}, ..., h_{j+1,j}``.
    cs, sn : array_like, shape (j,)
        The rotations of steps ``0 .. j - 1``.
    g : array_like, shape (j + 1,)
        The rotated right-hand side after ``j`` steps: ``beta e_0`` rotated
        by the ``j`` earlier rotations; ``|g[j]|`` is the current residual.

    Returns
    -------
    r : ndarray, shape (j + 1,)
        Column ``j`` of the triangular factor ``R`` (the rotated ``h``
        without its last entry, which is now zero); ``r[j] >= 0``.
    c, s : float
        The new rotation, from :func:`givens_rotation`.
    g : ndarray, shape (j + 2,)
        The updated right-hand side: ``g[j] = c g_old[j]``,
        ``g[j + 1] = -s g_old[j]``; ``|g[j + 1]|`` is the residual norm
        ``min_y ||beta e_0 - H_{j+1} y||`` after step ``j``.

    None of the inputs is modified.

    Raises
    ------
    ValueError
        If the lengths do not fit together, or an entry is not finite.

    Examples
    --------
    >>> from krylov_ref.givens import givens_update
    >>> r, c, s, g = givens_update([3.0, 4.0], [], [], [10.0])
    >>> r.tolist(), (c, s), g.tolist()
    ([5.0], (0.6, 0.8), [6.0, -8.0])
    """
    h = _finite_vector(h, "h")
    g = _finite_vector(g, "g")
    j = h.size - 2
    if j < 0:
        raise ValueError(f"h must have at least 2 entries, got {h.size}")
    if len(cs) != j or len(sn) != j:
        raise ValueError(f"h has {h.size} entries, so {j} earlier rotations are expected; "
                         f"got {len(cs)} cosines and {len(sn)} sines")
    if g.size != j + 1:
        raise ValueError(f"h has {h.size} entries, so g must have {j + 1}; got {g.size}")
    r = apply_rotations(h, cs, sn)
    c, s = givens_rotation(r[j], r[j + 1])
    r[j] = np.hypot(r[j], r[j + 1])                 # = c r_j + s r_{j+1}, without rounding
    g_new = np.append(g, -s * g[j])                 # g_{j+1} = -s g_j
    g_new[j] = c * g[j]                             # g_j = c g_j
    return r[: j + 1], c, s, g_new
