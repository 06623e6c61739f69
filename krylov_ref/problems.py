"""Test problems that state their properties.

Every generator returns a :class:`Problem` with the matrix, a right-hand side
built from a known solution, and what is true of the matrix (symmetric, SPD,
condition number), so that tests and lessons use the same cases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = [
    "Problem", "poisson1d", "poisson2d", "spd_with_spectrum", "random_spd",
    "quadratic2d", "convection_diffusion2d", "variable_diffusion2d",
    "symmetric_indefinite",
]


@dataclass(frozen=True)
class Problem:
    """A linear system ``A x = b`` with known solution and properties.

    Attributes
    ----------
    name : str
    A : ndarray or scipy.sparse.csr_array
    b : ndarray
    x_true : ndarray
        ``A @ x_true == b`` up to rounding.
    symmetric, spd : bool
    cond : float or None
        2-norm condition number, when known.
    eigenvalues : ndarray or None
        The spectrum, when known in closed form or by construction.
    """

    name: str
    A: object
    b: np.ndarray
    x_true: np.ndarray
    symmetric: bool
    spd: bool
    cond: float | None = None
    eigenvalues: np.ndarray | None = None

    @property
    def n(self):
        return self.b.shape[0]


def _positive_int(value, name, minimum=1):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _rhs(A, seed):
    x_true = np.random.default_rng(seed).standard_normal(A.shape[0])
    return A @ x_true, x_true


def poisson1d(n, seed=0):
    """The 1-D Laplacian ``tridiag(-1, 2, -1)`` of order ``n`` (sparse CSR).

    Its eigenvalues are ``2 - 2 cos(j pi / (n + 1))``, j = 1..n, so
    ``cond`` grows like ``(2 (n + 1) / pi)^2``.

    Examples
    --------
    >>> from krylov_ref.problems import poisson1d
    >>> p = poisson1d(5)
    >>> p.A.toarray()[0], round(p.cond, 3)
    (array([ 2., -1.,  0.,  0.,  0.]), 13.928)
    """
    n = _positive_int(n, "n")
    A = sp.diags_array([-np.ones(n - 1), 2 * np.ones(n), -np.ones(n - 1)],
                       offsets=[-1, 0, 1], format="csr")
    lam = 2 - 2 * np.cos(np.arange(1, n + 1) * np.pi / (n + 1))
    b, x_true = _rhs(A, seed)
    return Problem(f"poisson1d(n={n})", A, b, x_true, True, True,
                   float(lam[-1] / lam[0]), lam)


def poisson2d(m, seed=0):
    """The 5-point 2-D Laplacian on an ``m x m`` interior grid (n = m^2).

    Examples
    --------
    >>> from krylov_ref.problems import poisson2d
    >>> p = poisson2d(3)
    >>> p.A.shape, p.A.diagonal()[0], p.A.nnz
    ((9, 9), np.float64(4.0), 33)
    """
    m = _positive_int(m, "m")
    T = poisson1d(m).A
    I = sp.identity(m, format="csr")
    A = sp.csr_array(sp.kron(I, T) + sp.kron(T, I))
    # For small m, kron goes through a block format that stores explicit zeros.
    A.eliminate_zeros()
    lam1 = 2 - 2 * np.cos(np.arange(1, m + 1) * np.pi / (m + 1))
    lam = np.sort(np.add.outer(lam1, lam1).ravel())
    b, x_true = _rhs(A, seed)
    return Problem(f"poisson2d(m={m})", A, b, x_true, True, True,
                   float(lam[-1] / lam[0]), lam)


def spd_with_spectrum(eigenvalues, seed=0):
    """Dense SPD ``A = V diag(eigenvalues) V^T`` with a random orthogonal ``V``.

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref.problems import spd_with_spectrum
    >>> p = spd_with_spectrum([1.0, 1.0, 5.0])
    >>> np.allclose(np.linalg.eigvalsh(p.A), [1, 1, 5]), p.cond
    (True, 5.0)
    """
    lam = np.asarray(eigenvalues, dtype=float)
    if lam.ndim != 1 or lam.size == 0:
        raise ValueError("eigenvalues must be a non-empty 1-D array")
    if not np.all(np.isfinite(lam)) or np.any(lam <= 0):
        raise ValueError("eigenvalues must be finite and positive for an SPD matrix")
    rng = np.random.default_rng(seed)
    V, _ = np.linalg.qr(rng.standard_normal((lam.size, lam.size)))
    A = (V * lam) @ V.T
    A = (A + A.T) / 2  # exact symmetry, which rounding in the product loses
    b, x_true = _rhs(A, seed + 1)
    return Problem(f"spd_with_spectrum(n={lam.size})", A, b, x_true, True, True,
                   float(lam.max() / lam.min()), np.sort(lam))


def random_spd(n, cond, seed=0, spacing="geometric"):
    """Dense random SPD matrix of order ``n`` with condition number ``cond``.

    Parameters
    ----------
    n : int
    cond : float
        ``>= 1``; eigenvalues run from 1 to ``cond``.
    seed : int
    spacing : {"geometric", "linear"}
        How the eigenvalues fill ``[1, cond]``.

    Examples
    --------
    >>> from krylov_ref.problems import random_spd
    >>> p = random_spd(20, 100.0, seed=1)
    >>> round(float(np.linalg.cond(p.A)), 6)
    100.0
    """
    n = _positive_int(n, "n")
    if not np.isfinite(cond) or cond < 1:
        raise ValueError(f"cond must be a finite number >= 1, got {cond!r}")
    if spacing == "geometric":
        lam = np.geomspace(1.0, cond, n)
    elif spacing == "linear":
        lam = np.linspace(1.0, cond, n)
    else:
        raise ValueError(f"spacing must be 'geometric' or 'linear', got {spacing!r}")
    p = spd_with_spectrum(lam, seed)
    return Problem(f"random_spd(n={n}, cond={cond:g})", p.A, p.b, p.x_true,
                   True, True, float(cond), lam)


def quadratic2d(kappa=10.0, angle=np.pi / 6, b=(1.0, 1.0)):
    """A 2-by-2 SPD matrix with eigenvalues 1 and ``kappa`` whose axes are
    rotated by ``angle``: small enough to draw contours and iterate paths.

    Examples
    --------
    >>> from krylov_ref.problems import quadratic2d
    >>> p = quadratic2d(kappa=4.0)
    >>> np.allclose(np.linalg.eigvalsh(p.A), [1, 4])
    True
    """
    if not np.isfinite(kappa) or kappa < 1:
        raise ValueError(f"kappa must be a finite number >= 1, got {kappa!r}")
    c, s = np.cos(angle), np.sin(angle)
    V = np.array([[c, -s], [s, c]])
    A = (V * np.array([1.0, kappa])) @ V.T
    A = (A + A.T) / 2
    b = np.asarray(b, dtype=float)
    if b.shape != (2,):
        raise ValueError(f"b must have length 2, got shape {b.shape}")
    x_true = np.linalg.solve(A, b)
    return Problem(f"quadratic2d(kappa={kappa:g})", A, b, x_true, True, True,
                   float(kappa), np.array([1.0, kappa]))


def _check_real(value, name, minimum=None):
    if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value, bool):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    if not np.isfinite(value) or (minimum is not None and value < minimum):
        bound = "" if minimum is None else f" >= {minimum:g}"
        raise ValueError(f"{name} must be a finite number{bound}, got {value!r}")
    return float(value)


def convection_diffusion2d(m, peclet=10.0, seed=0, scheme="upwind"):
    """Convection-diffusion ``-Laplace(u) + w . grad(u)`` on the unit square
    (sparse CSR, non-symmetric), the standard test problem for GMRES and
    BiCGSTAB (lesson 06).

    The wind is ``w = peclet (1, 1) / sqrt(2)``, so ``peclet`` is the global
    Peclet number ``|w| L / nu`` with ``L = nu = 1``. The grid is ``m x m``
    interior points (``n = m^2``) with zero Dirichlet boundary values and
    spacing ``h = 1 / (m + 1)``; the matrix is scaled by ``h^2`` like
    :func:`poisson2d`, whose matrix it is at ``peclet = 0``.

    Parameters
    ----------
    m : int
        Grid points per direction.
    peclet : float
        ``>= 0``. Larger means further from symmetric.
    seed : int
        Seed of the known solution ``x_true``.
    scheme : {"upwind", "central"}
        Differences for ``w . grad(u)``. Upwind gives an M-matrix at every
        Peclet number; central differences are second-order accurate but
        lose diagonal dominance once the mesh Peclet number
        ``peclet h / (2 sqrt(2))`` exceeds 1.

    Examples
    --------
    >>> from krylov_ref.problems import convection_diffusion2d
    >>> p = convection_diffusion2d(10, peclet=50.0)
    >>> p.n, p.symmetric, bool(abs(p.A - p.A.T).max() > 0)
    (100, False, True)
    """
    m = _positive_int(m, "m")
    peclet = _check_real(peclet, "peclet", minimum=0.0)
    h = 1.0 / (m + 1)
    wind = peclet / np.sqrt(2.0)  # each component of w
    ones = np.ones(m)
    if scheme == "upwind":
        # w > 0: backward difference (u_i - u_{i-1}) / h, times h^2.
        D = sp.diags_array([-ones[:-1], ones], offsets=[-1, 0])
    elif scheme == "central":
        # (u_{i+1} - u_{i-1}) / (2 h), times h^2.
        D = sp.diags_array([-ones[:-1] / 2, ones[:-1] / 2], offsets=[-1, 1])
    else:
        raise ValueError(f"scheme must be 'upwind' or 'central', got {scheme!r}")
    # One direction at a time: diffusion plus convection along x (the fast
    # index) and along y; A = I (x) T + T (x) I as for poisson2d.
    T = poisson1d(m).A + h * wind * D
    I = sp.identity(m, format="csr")
    A = sp.csr_array(sp.kron(I, T) + sp.kron(T, I))
    b, x_true = _rhs(A, seed)
    return Problem(f"convection_diffusion2d(m={m}, peclet={peclet:g}, {scheme})",
                   A, b, x_true, peclet == 0, peclet == 0)


def _smooth_field(m, seed, modes=6):
    # A smooth random function on the m x m grid, scaled to [0, 1]: a sum of
    # a few low-frequency cosines with random amplitudes and phases.
    rng = np.random.default_rng(seed)
    t = (np.arange(1, m + 1)) / (m + 1)
    X, Y = np.meshgrid(t, t)  # Y varies along rows: index iy * m + ix
    field = np.zeros((m, m))
    for _ in range(modes):
        kx, ky = rng.integers(1, 5, size=2)
        phase_x, phase_y = rng.uniform(0, 2 * np.pi, size=2)
        field += rng.standard_normal() * np.cos(np.pi * kx * X + phase_x) * np.cos(
            np.pi * ky * Y + phase_y)
    spread = field.max() - field.min()
    return (field - field.min()) / spread if spread > 0 else np.zeros((m, m))


def variable_diffusion2d(m, contrast=1e4, seed=0):
    """Diffusion ``-div(kappa grad u)`` with a coefficient ``kappa`` that
    varies smoothly by a factor ``contrast`` over the square (sparse CSR, SPD).

    ``kappa = contrast ** phi`` where ``phi`` is a smooth random field on the
    grid with values from 0 to 1, so ``kappa`` runs from 1 to ``contrast``.
    Five-point finite volumes on an ``m x m`` interior grid (``n = m^2``),
    zero Dirichlet boundary values, scaled by ``h^2``: the coefficient
    between two neighbours is the harmonic mean of their ``kappa`` (a
    boundary face uses the point's own ``kappa``). At ``contrast = 1`` it is
    :func:`poisson2d`. The diagonal varies as much as ``kappa`` does, which
    is what Jacobi preconditioning repairs and plain CG suffers from
    (lesson 05).

    Parameters
    ----------
    m : int
        Grid points per direction.
    contrast : float
        ``max kappa / min kappa``, ``>= 1``.
    seed : int
        Seed of the field ``kappa`` and of the known solution.

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref.problems import variable_diffusion2d
    >>> p = variable_diffusion2d(20, contrast=1e3)
    >>> p.spd, bool(abs(p.A - p.A.T).max() == 0), bool(np.linalg.eigvalsh(p.A.toarray()).min() > 0)
    (True, True, True)
    >>> d = p.A.diagonal()
    >>> bool(d.max() / d.min() > 100)
    True
    """
    m = _positive_int(m, "m")
    contrast = _check_real(contrast, "contrast", minimum=1.0)
    kappa = contrast ** _smooth_field(m, seed)  # kappa[iy, ix]
    A = _diffusion_matrix(kappa)
    b, x_true = _rhs(A, seed)
    return Problem(f"variable_diffusion2d(m={m}, contrast={contrast:g})",
                   A, b, x_true, True, True)


def symmetric_indefinite(n, cond=100.0, negative=0.5, seed=0, block=8):
    """Sparse symmetric indefinite matrix with a known spectrum, for MINRES
    (lesson 06).

    ``A = P Q diag(lambda) Q^T P^T`` where ``Q`` is block diagonal with random
    orthogonal ``block x block`` blocks and ``P`` interleaves the blocks
    (block ``k`` couples the coordinates ``k, k + N, k + 2N, ...`` with ``N``
    the number of blocks). ``A`` is exactly similar to ``diag(lambda)`` (the
    spectrum is known), has ``block`` nonzeros per row on ``2 block - 1``
    diagonals, which keeps products with it cache-friendly at any size, and a
    Krylov method sees only the spectrum and the components of ``b`` along
    the eigenvectors. The eigenvalues are
    ``-geomspace(1, cond)`` for a fraction ``negative`` of them and
    ``geomspace(1, cond)`` for the rest, so ``cond = max |lambda| / min |lambda|``.
    CG is not meant for it (``p^T A p`` can be negative); MINRES is.

    Parameters
    ----------
    n : int
        Order, ``>= 2``.
    cond : float
        ``>= 1``.
    negative : float
        Fraction of negative eigenvalues; after rounding to a count there
        must be at least one of each sign.
    seed : int
        Seed of the eigenvectors and of the known solution.
    block : int
        Size of the orthogonal blocks, ``>= 1``; the last block is smaller
        when ``block`` does not divide ``n``.

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref.problems import symmetric_indefinite
    >>> p = symmetric_indefinite(50, cond=10.0, negative=0.2)
    >>> lam = np.linalg.eigvalsh(p.A.toarray())
    >>> int((lam < 0).sum()), np.allclose(lam, p.eigenvalues), p.cond
    (10, True, 10.0)
    """
    n = _positive_int(n, "n", minimum=2)
    cond = _check_real(cond, "cond", minimum=1.0)
    negative = _check_real(negative, "negative")
    block = _positive_int(block, "block")
    n_neg = int(round(negative * n))
    if not 0 < n_neg < n:
        raise ValueError(
            f"negative = {negative:g} gives {n_neg} negative eigenvalues out of {n}: "
            "an indefinite matrix needs at least one of each sign")
    rng = np.random.default_rng(seed)
    lam = np.concatenate([-np.geomspace(1.0, cond, n_neg), np.geomspace(1.0, cond, n - n_neg)])
    lam_shuffled = rng.permutation(lam)
    rows, cols, vals = [], [], []
    for first, size, count in _block_runs(n, block):
        # count blocks of the same size: Q_i from the QR of Gaussian matrices.
        Q, _ = np.linalg.qr(rng.standard_normal((count, size, size)))
        d = lam_shuffled[first:first + count * size].reshape(count, size)
        B = np.einsum("kij,kj,klj->kil", Q, d, Q)
        B = (B + B.transpose(0, 2, 1)) / 2  # exact symmetry, which rounding loses
        # Entry (i, j) of block k lands at (first + k + i count, first + k + j count).
        k = first + np.arange(count)[:, None, None]
        local_r, local_c = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
        rows.append((k + local_r * count).ravel())
        cols.append((k + local_c * count).ravel())
        vals.append(B.ravel())
    A = sp.csr_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                     shape=(n, n))
    b, x_true = _rhs(A, seed + 1)
    return Problem(f"symmetric_indefinite(n={n}, cond={cond:g})", A, b, x_true,
                   True, False, cond, np.sort(lam))


def _block_runs(n, block):
    # (first index, block size, number of blocks): the full blocks, then the rest.
    full = n // block
    runs = [(0, block, full)] if full else []
    if n % block:
        runs.append((full * block, n % block, 1))
    return runs


# --------------------------------------------------------------------------
# Lesson 05: coefficient jumps, and finite-element matrices shipped with pyamg

__all__ += ["jump_diffusion2d", "pyamg_example"]


def _diffusion_matrix(kappa):
    """Five-point finite volumes for ``-div(kappa grad u)`` on the grid of
    ``kappa`` (``m x m``, index ``iy * m + ix``), zero Dirichlet boundary
    values, scaled by ``h^2``; the coefficient between two neighbours is the
    harmonic mean of their ``kappa``, a boundary face uses the point's own."""
    m = kappa.shape[0]
    # Face coefficients: harmonic means between neighbours (the flux through
    # a face between two materials is limited by the less conductive one).
    east = np.empty((m, m))
    east[:, :-1] = 2 * kappa[:, :-1] * kappa[:, 1:] / (kappa[:, :-1] + kappa[:, 1:])
    east[:, -1] = kappa[:, -1]
    west = np.empty((m, m))
    west[:, 1:] = east[:, :-1]
    west[:, 0] = kappa[:, 0]
    north = np.empty((m, m))
    north[:-1, :] = 2 * kappa[:-1, :] * kappa[1:, :] / (kappa[:-1, :] + kappa[1:, :])
    north[-1, :] = kappa[-1, :]
    south = np.empty((m, m))
    south[1:, :] = north[:-1, :]
    south[0, :] = kappa[0, :]
    diagonal = (east + west + north + south).ravel()
    # Coupling of point k to k + 1 (none across the end of a grid row) and to k + m.
    to_east = east.copy()
    to_east[:, -1] = 0.0
    to_east = to_east.ravel()[:-1]
    to_north = north[:-1, :].ravel()
    A = sp.diags_array([-to_north, -to_east, diagonal, -to_east, -to_north],
                       offsets=[-m, -1, 0, 1, m], format="csr")
    A.eliminate_zeros()
    return A


def jump_diffusion2d(m, contrast=1e4, blocks=4, seed=0):
    """Diffusion ``-div(kappa grad u)`` with a piecewise-constant coefficient
    that jumps by a factor ``contrast`` (sparse CSR, SPD).

    The unit square is cut into ``blocks x blocks`` equal squares; each
    holds ``kappa = 1`` or ``kappa = contrast``, chosen at random (seeded),
    with both values present. Discretised like :func:`variable_diffusion2d`
    (five-point finite volumes on an ``m x m`` interior grid, harmonic means
    across faces, scaled by ``h^2``), so at ``contrast = 1`` it is
    :func:`poisson2d`. The diagonal jumps with ``kappa``: a model of a
    composite material, where Jacobi's rescaling removes most of the
    ill-conditioning that the jumps add (lesson 05).

    Parameters
    ----------
    m : int
        Grid points per direction, ``>= blocks``.
    contrast : float
        ``max kappa / min kappa``, ``>= 1``.
    blocks : int
        Squares per direction, ``>= 2``.
    seed : int
        Seed of the layout of the squares and of the known solution.

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref.problems import jump_diffusion2d
    >>> p = jump_diffusion2d(16, contrast=1e4, blocks=4)
    >>> p.n, p.spd, bool(abs(p.A - p.A.T).max() == 0)
    (256, True, True)
    >>> d = p.A.diagonal()
    >>> bool(d.max() / d.min() > 1e3)
    True
    """
    blocks = _positive_int(blocks, "blocks", minimum=2)
    m = _positive_int(m, "m", minimum=blocks)
    contrast = _check_real(contrast, "contrast", minimum=1.0)
    rng = np.random.default_rng(seed)
    # A layout with both materials: blocks^2 >= 4 squares, redrawn until mixed
    # (a uniform layout has probability 2^(1 - blocks^2) <= 1/8 per draw).
    while True:
        layout = rng.integers(0, 2, size=(blocks, blocks))
        if 0 < layout.sum() < layout.size:
            break
    square = (np.arange(m) * blocks) // m            # which square each grid line is in
    kappa = np.where(layout[np.ix_(square, square)] == 1, contrast, 1.0)
    A = _diffusion_matrix(kappa)
    b, x_true = _rhs(A, seed)
    return Problem(f"jump_diffusion2d(m={m}, contrast={contrast:g}, blocks={blocks})",
                   A, b, x_true, True, True)


#: The examples of ``pyamg.gallery.load_example`` that hold a real SPD matrix
#: (checked by tests/test_problems_lesson05.py): finite elements for the
#: Poisson equation on an airfoil mesh and on a knot, linear elasticity of a
#: bar (3 unknowns per node), a discontinuous Galerkin diffusion operator and
#: a 3-D problem on a unit cube. (Not "unit_square": a Neumann Laplacian,
#: singular; nor "recirc_flow", non-symmetric, or "helmholtz_2D", complex.)
PYAMG_SPD_EXAMPLES = ("airfoil", "bar", "knot", "local_disc_galerkin_diffusion", "unit_cube")


def pyamg_example(name, seed=0):
    """A finite-element matrix that ships with pyamg, as a :class:`Problem`.

    Loads ``pyamg.gallery.load_example(name)`` (data files inside the pyamg
    package: nothing is downloaded), returns its matrix as a CSR array with
    a right-hand side built from a seeded random solution, and states
    whether the matrix is symmetric and positive definite -- decided here,
    not assumed: symmetric to rounding (then symmetrised exactly, so that
    IC(0) and CG see an exactly symmetric matrix) and with a smallest
    eigenvalue above rounding level (``n eps max |lambda|``).

    Parameters
    ----------
    name : str
        One of pyamg's examples, e.g. ``"airfoil"``, ``"bar"``, ``"knot"``
        (:data:`PYAMG_SPD_EXAMPLES` lists the SPD ones).
    seed : int
        Seed of the known solution.

    Returns
    -------
    Problem
        ``symmetric`` and ``spd`` as found. Complex examples are refused.

    Raises
    ------
    ValueError
        If pyamg has no example ``name``, or its matrix is complex.

    Examples
    --------
    >>> from krylov_ref.problems import pyamg_example
    >>> p = pyamg_example("airfoil")
    >>> p.n, p.symmetric, p.spd
    (260, True, True)
    """
    from pyamg.gallery import load_example  # pyamg is a dependency; imported when used

    try:
        data = load_example(name)
    except (ValueError, KeyError, FileNotFoundError, OSError) as exc:
        raise ValueError(f"pyamg has no example {name!r} ({exc})") from None
    A = sp.csr_array(data["A"])
    if np.iscomplexobj(A.data):
        raise ValueError(f"pyamg's example {name!r} is complex; the course's problems are real")
    A = sp.csr_array(A, dtype=float)
    A.sum_duplicates()
    scale = abs(A).max() if A.nnz else 1.0
    symmetric = bool(A.nnz == 0 or abs(A - A.T).max() <= 1e-10 * scale)
    if symmetric:
        A = sp.csr_array((A + A.T) / 2)
    spd = symmetric and _positive_definite(A)
    b, x_true = _rhs(A, seed)
    return Problem(f"pyamg_example({name!r})", A, b, x_true, symmetric, spd)


def _positive_definite(A):
    # The examples are small (at most a few thousand unknowns): the dense
    # spectrum is the plainest test. A Cholesky factorisation is not enough:
    # it succeeds, by rounding, on singular matrices such as a Neumann
    # Laplacian ("unit_square"), whose smallest eigenvalue is zero.
    lam = np.linalg.eigvalsh(A.toarray())
    return bool(lam[0] > A.shape[0] * np.finfo(float).eps * abs(lam).max())
