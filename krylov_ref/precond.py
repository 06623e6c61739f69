"""Preconditioners (lesson 05): Jacobi, SSOR, incomplete Cholesky IC(0), its
modified form MIC(0), and algebraic multigrid (pyamg's smoothed aggregation)
to compare them with.

Each function takes the matrix ``A`` (dense or scipy.sparse; its entries are
needed, so not an operator) and returns a :class:`Preconditioner`, a
``scipy.sparse.linalg.LinearOperator`` that applies ``M^{-1}``, where the
preconditioner ``M`` approximates ``A`` (the convention of lesson 05). Pass it
as ``M=`` to :func:`krylov_ref.cg`, :func:`krylov_ref.gmres` and the other
solvers, or to SciPy's: their ``M=`` takes the operator ``v -> M^{-1} v``.

Applying ``M^{-1}`` means two sparse triangular solves for SSOR, IC(0) and MIC(0). They are
done by SuperLU: the triangular factor is handed to ``splu`` once, in its
natural order and without pivoting, which keeps it triangular and creates no
fill; each application is then two solves in compiled code.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, splu

from ._operators import as_operator

__all__ = ["Preconditioner", "jacobi", "ssor", "ichol0", "mic0", "amg"]

# ichol0 (and mic0) list every candidate update L_ik L_jk at once (a few arrays of this
# length): a bound that keeps its memory near a gigabyte. A dense pattern of
# order 390 reaches it; sparse stencils are far below (3 per row in 2-D).
MAX_PAIRS = 10**7


#: How the messages name each factorisation.
_NAMES = {"ichol0": "IC(0)", "mic0": "MIC(0)"}


class Preconditioner(LinearOperator):
    """A linear operator ``v -> M^{-1} v``, the preconditioner ``M`` approximating ``A``.

    Parameters
    ----------
    name : str
        What it is, e.g. ``"jacobi"``; shown by ``repr``.
    apply : callable
        ``v -> M v`` for a 1-D array ``v``.
    n : int
        Order.
    L : scipy.sparse.csr_array, optional
        The lower-triangular factor, for :func:`ichol0` and :func:`mic0`
        (``M = L L^T``; the operator applies its inverse).
    """

    def __init__(self, name, apply, n, L=None):
        super().__init__(dtype=np.float64, shape=(n, n))
        self.name = name
        self._apply = apply
        self.L = L

    def _matvec(self, v):
        return self._apply(np.ravel(v))

    def __repr__(self):
        return f"<{self.name} preconditioner of order {self.shape[0]}>"


def _as_matrix(A, who):
    # A preconditioner is built from the entries of A, which an operator hides.
    if isinstance(A, LinearOperator) or (
        callable(A) and not isinstance(A, np.ndarray) and not sp.issparse(A)
    ):
        raise ValueError(
            f"{who} needs the entries of A: pass a dense array or a scipy.sparse "
            f"matrix, not a {type(A).__name__}"
        )
    as_operator(A, None, "A")  # square, real, finite: the solvers' own checks
    A = sp.csr_array(A, dtype=float, copy=True)
    A.sum_duplicates()
    return A


def _nonzero_diagonal(A, who):
    d = A.diagonal()
    zero = np.flatnonzero(d == 0)
    if zero.size:
        raise ValueError(
            f"{who}: A[{zero[0]}, {zero[0]}] = 0 ({zero.size} zero diagonal entries); "
            f"{who} divides by the diagonal of A"
        )
    return d


def _triangular_solver(T):
    # splu of a triangular matrix in its natural order, with the diagonal
    # always accepted as pivot, is that matrix again: no fill, no permutation.
    # It turns every later solve into one call to compiled code.
    return splu(sp.csc_array(T), permc_spec="NATURAL", diag_pivot_thresh=0.0,
                options={"SymmetricMode": True})


def jacobi(A):
    """Jacobi (diagonal) preconditioner ``M = D^{-1}``, ``D = diag(A)``.

    Parameters
    ----------
    A : ndarray or scipy.sparse matrix
        Square matrix with a nonzero diagonal.

    Returns
    -------
    Preconditioner

    Raises
    ------
    ValueError
        If ``A`` is an operator, is not square, holds NaN or inf, or has a
        zero on its diagonal.

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref.precond import jacobi
    >>> M = jacobi(np.diag([2.0, 4.0]))
    >>> M @ np.ones(2)
    array([0.5 , 0.25])
    """
    A = _as_matrix(A, "jacobi")
    inverse_diagonal = 1.0 / _nonzero_diagonal(A, "jacobi")
    return Preconditioner("jacobi", lambda v: inverse_diagonal * v, A.shape[0])


def ssor(A, omega=1.0):
    """Symmetric successive over-relaxation (SSOR) preconditioner.

    With ``A = L + D + U`` (strictly lower, diagonal, strictly upper)::

        M = (D + omega L) D^{-1} (D + omega U) / (omega (2 - omega))

    applied as ``M^{-1} v``: a forward sweep, a diagonal scaling and a
    backward sweep. At
    ``omega = 1`` it is symmetric Gauss-Seidel. For symmetric ``A`` with a
    positive diagonal, ``M`` is symmetric positive definite, as CG needs.

    Parameters
    ----------
    A : ndarray or scipy.sparse matrix
        Square matrix with a nonzero diagonal.
    omega : float
        Relaxation parameter, ``0 < omega < 2``.

    Returns
    -------
    Preconditioner

    Raises
    ------
    ValueError
        If ``A`` is an operator, is not square, holds NaN or inf, has a zero
        on its diagonal, or ``omega`` is outside ``(0, 2)``.

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref.precond import ssor
    >>> A = np.array([[4.0, 1.0], [1.0, 3.0]])
    >>> M = ssor(A)
    >>> L, D, U = np.tril(A, -1), np.diag(np.diag(A)), np.triu(A, 1)
    >>> np.allclose(M @ np.ones(2), np.linalg.solve((D + L) @ np.linalg.solve(D, D + U), np.ones(2)))
    True
    """
    if not isinstance(omega, numbers.Real) or not 0 < omega < 2:
        raise ValueError(f"ssor: omega must be a number in (0, 2), got {omega!r}")
    A = _as_matrix(A, "ssor")
    d = _nonzero_diagonal(A, "ssor")
    D = sp.diags_array(d)
    forward = _triangular_solver(D + omega * sp.tril(A, k=-1))
    backward = _triangular_solver(D + omega * sp.triu(A, k=1))
    scale = omega * (2.0 - omega)

    def apply(v):
        y = forward.solve(v)          # (D + omega L) y = v
        y *= d                        # y <- D y
        y = backward.solve(y)         # (D + omega U) y <- y
        y *= scale
        return y

    return Preconditioner(f"ssor(omega={omega:g})", apply, A.shape[0])


def ichol0(A, shift=0.0):
    """Incomplete Cholesky factorisation with zero fill, IC(0).

    Computes a lower-triangular ``L`` with the sparsity pattern of the lower
    triangle of ``A`` (the entries with ``A_ij != 0``; explicitly stored zeros
    are not part of it) such that ``L L^T`` agrees with ``A`` on that pattern,
    and returns ``M = (L L^T)^{-1}``, applied by two triangular solves. With
    ``shift > 0`` it factors ``A + shift diag(A)`` instead (diagonal
    compensation, as MATLAB's ``ichol`` option ``diagcomp``; the diagonal is
    scaled by ``1 + shift``, which is invariant under scaling of A), the
    usual remedy when IC(0) meets a non-positive pivot.

    Parameters
    ----------
    A : ndarray or scipy.sparse matrix
        Symmetric matrix with a positive diagonal (only the lower triangle is
        read). Meant for sparse matrices: the work grows with the sum over
        columns of the squared number of entries below the diagonal.
    shift : float
        ``>= 0``.

    Returns
    -------
    Preconditioner
        Its attribute ``L`` holds the factor (a CSR array).

    Raises
    ------
    ValueError
        If ``A`` is an operator, not square, not symmetric, holds NaN or inf,
        is too full for this sparse algorithm (``MAX_PAIRS``), or a pivot is
        zero or negative (the message suggests ``shift``).

    Notes
    -----
    The factor is computed column by column, left-looking::

        L_jj = sqrt(a_jj - sum_k L_jk^2)
        L_ij = (a_ij - sum_k L_ik L_jk) / L_jj      (i > j, (i, j) in the pattern)

    with the sums over ``k < j`` where both entries lie in the pattern. The
    index triples ``((i, j), (i, k), (j, k))`` are found once, vectorised.
    Column ``j`` is ready when every column ``k`` with ``L_jk != 0`` is done,
    so columns are processed in waves of mutually independent columns (level
    scheduling): for the 2-D Laplacian in natural order a wave is an
    anti-diagonal of the grid, about ``2 m`` waves for ``n = m^2``.

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref.problems import poisson2d
    >>> from krylov_ref.precond import ichol0
    >>> A = poisson2d(10).A
    >>> M = ichol0(A)
    >>> LLt = (M.L @ M.L.T).toarray()
    >>> mask = A.toarray() != 0
    >>> bool(np.allclose(LLt[mask], A.toarray()[mask]))
    True
    """
    return _incomplete_cholesky(A, shift, "ichol0", modified=False)


def mic0(A, shift=0.0):
    """Modified incomplete Cholesky factorisation with zero fill, MIC(0).

    Like :func:`ichol0`, a lower-triangular ``L`` on the pattern of the lower
    triangle of ``A``, but every update ``L_ik L_jk`` that IC(0) drops because
    ``(i, j)`` lies outside the pattern is subtracted from the pivots of
    *both* rows it touches, ``i`` and ``j`` (the dropped entry and its mirror
    image ``(j, i)``), instead of being thrown away (Gustafsson, *A class of
    first order factorization methods*, BIT 18, 1978). Then ``L L^T = A + R``
    where ``R`` is zero on the off-diagonal pattern of ``A`` and has zero row
    sums, so the row sums are preserved::

        L L^T e = A e,   e = (1, ..., 1)

    (``(A + shift diag(A)) e`` with a shift). For the 2-D Poisson matrix this
    lowers ``kappa(M^{-1} A)`` from IC(0)'s ``O(h^-2)`` to ``O(h^-1)``.

    Parameters
    ----------
    A : ndarray or scipy.sparse matrix
        Symmetric matrix with a positive diagonal (only the lower triangle is
        read), typically an M-matrix with ``A e >= 0``, such as a
        discretised diffusion operator with Dirichlet boundaries. Meant for
        sparse matrices, as :func:`ichol0`.
    shift : float
        ``>= 0``: factor ``A + shift diag(A)``. A shift of order ``h^2`` is
        Gustafsson's perturbation, under which he proved the ``O(h^-1)``
        bound; it also moves pivots away from zero when the compensation
        makes one vanish or turn negative. MIC(0) needs it more often than
        IC(0): it can break down on an M-matrix whose row sums ``A e`` are
        not all ``>= 0``, and for a singular ``A`` with ``A e = 0`` (a pure
        Neumann problem) ``L L^T e = 0`` forces a zero pivot (up to rounding).

    Returns
    -------
    Preconditioner
        Applies ``M^{-1} = (L L^T)^{-1}`` by two triangular solves; its
        attribute ``L`` holds the factor (a CSR array).

    Raises
    ------
    ValueError
        As :func:`ichol0`: if ``A`` is an operator, not square, not symmetric,
        holds NaN or inf, is too full (``MAX_PAIRS``), or a pivot is zero or
        negative (the message suggests ``shift``).

    See Also
    --------
    ichol0 : the same factorisation with the dropped fill thrown away.

    Notes
    -----
    Left-looking, as :func:`ichol0`, with one more sum in the pivot::

        L_jj = sqrt(a_jj - sum_k L_jk^2 - sum_k sum_{i in D(j, k)} L_ik L_jk)
        L_ij = (a_ij - sum_k L_ik L_jk) / L_jj      (i > j, (i, j) in the pattern)

    the sums over ``k < j``, with ``D(j, k)`` the rows ``i != j`` (above or
    below ``j``) where ``L_ik != 0`` but ``a_ij = 0``: the fill that column
    ``k`` would put in row ``j``. The implementation is :func:`ichol0`'s, the
    dropped products routed to the two pivots. Where no fill arises
    (a tridiagonal ``A``), MIC(0), IC(0) and the Cholesky factor coincide.
    For an M-matrix every dropped product is positive, so ``R`` is negative
    semidefinite: ``M <= A``, and ``M`` is exact on the constant vector.

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref.problems import poisson2d
    >>> from krylov_ref.precond import mic0
    >>> A = poisson2d(10).A
    >>> L = mic0(A).L
    >>> e = np.ones(A.shape[0])
    >>> bool(np.allclose(L @ (L.T @ e), A @ e))
    True
    """
    return _incomplete_cholesky(A, shift, "mic0", modified=True)


def _incomplete_cholesky(A, shift, who, modified):
    """IC(0) (``modified=False``) or MIC(0) of ``A + shift diag(A)``, as a
    :class:`Preconditioner` named ``who``."""
    if not isinstance(shift, numbers.Real) or not np.isfinite(shift) or shift < 0:
        raise ValueError(f"{who}: shift must be a finite number >= 0, got {shift!r}")
    A = _as_matrix(A, who)
    # The pattern is where A_ij != 0: entries stored as explicit zeros (which
    # sparse sums and Kronecker products can leave behind) must not become fill.
    A.eliminate_zeros()
    _check_symmetric(A, who)
    lower = sp.csc_array(sp.tril(A))
    lower.sum_duplicates()  # also sorts the rows within each column
    diagonal = A.diagonal()
    bad = np.flatnonzero(diagonal <= 0)
    if bad.size:
        j = bad[0]
        raise ValueError(
            f"{who}: A[{j}, {j}] = {diagonal[j]:.3g}; a symmetric positive definite "
            "matrix has a positive diagonal"
        )
    n = A.shape[0]
    indptr, rows = lower.indptr.astype(np.intp), lower.indices.astype(np.intp)
    values = lower.data.copy()
    # Sorted rows and a positive diagonal: each column starts with its diagonal.
    diag_pos = indptr[:-1]
    values[diag_pos] *= 1.0 + shift
    target, left, right = _update_triples(indptr, rows, n, who, modified)
    _factor_by_waves(indptr, rows, values, diag_pos, target, left, right, shift, who)
    L = sp.csc_array((values, rows, indptr), shape=(n, n)).tocsr()
    solve_L = _triangular_solver(L)

    def apply(v):
        y = solve_L.solve(v)                 # L y = v
        return solve_L.solve(y, trans="T")   # L^T z = y

    return Preconditioner(f"{who}(shift={shift:g})", apply, n, L=L)


def _check_symmetric(A, who="ichol0"):
    asym = abs(A - A.T).max() if A.nnz else 0.0
    scale = abs(A).max() if A.nnz else 0.0
    if asym > 1e-12 * scale:
        raise ValueError(
            f"{who} needs a symmetric matrix: max |A - A^T| = {asym:.3g} "
            f"(max |A| = {scale:.3g}); for a non-symmetric A use gmres or bicgstab "
            "with jacobi or ssor"
        )


def _ranges(starts, stops):
    # Concatenation of arange(starts[i], stops[i]) over i, without a loop.
    lengths = stops - starts
    shift = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    return shift + np.arange(lengths.sum())


def _update_triples(indptr, rows, n, who="ichol0", modified=False):
    """All updates ``L[target] -= L[left] * L[right]`` of IC(0), as positions
    in the CSC arrays, grouped by the column of ``target``.

    For every column ``k`` and every pair of its entries below the diagonal,
    rows ``j <= i``, the product ``L_ik L_jk`` updates entry ``(i, j)`` if the
    pattern holds it (``i = j``: the diagonal, always held). With
    ``modified`` (MIC(0)), a product whose ``(i, j)`` the pattern does not
    hold updates the diagonal entries ``(i, i)`` and ``(j, j)`` instead: two
    updates, one for the dropped entry and one for its mirror image.
    """
    counts = np.diff(indptr) - 1                     # entries below the diagonal
    pairs = int((counts * (counts + 1) // 2).sum())
    if pairs > MAX_PAIRS:
        raise ValueError(
            f"{who} is meant for sparse matrices: this pattern has {pairs:.3g} "
            f"candidate updates (limit {MAX_PAIRS:.0e}); for a matrix this full use a "
            "complete Cholesky factorisation (scipy.linalg.cho_factor) instead"
        )
    below = _ranges(indptr[:-1] + 1, indptr[1:])     # their positions
    local = below - np.repeat(indptr[:-1] + 1, counts)
    # Entry number q of a column pairs with entries 0..q of the same column.
    left = np.repeat(below, local + 1)
    right = _ranges(np.repeat(indptr[:-1] + 1, counts), below + 1)
    i, j = rows[left], rows[right]
    # Position of (i, j) in CSC order, where keys col * n + row are sorted.
    columns = np.repeat(np.arange(n, dtype=np.intp), np.diff(indptr))
    keys = columns * n + rows
    wanted = j * n + i
    pos = np.minimum(np.searchsorted(keys, wanted), keys.size - 1)
    held = keys[pos] == wanted
    if modified:
        # Columns start with their diagonal: (i, i) sits at indptr[i].
        dropped = ~held
        target = np.concatenate([pos[held], indptr[i[dropped]], indptr[j[dropped]]])
        left = np.concatenate([left[held], left[dropped], left[dropped]])
        right = np.concatenate([right[held], right[dropped], right[dropped]])
    else:
        target, left, right = pos[held], left[held], right[held]
    order = np.argsort(target, kind="stable")
    return target[order], left[order], right[order]


def _factor_by_waves(indptr, rows, values, diag_pos, target, left, right, shift,
                     who="ichol0"):
    """Overwrite ``values`` (the lower triangle, CSC) with the IC(0) factor
    (or MIC(0)'s, given its updates), one wave of independent columns at a time.

    An update of column ``j`` (its diagonal included) reads entries of
    columns ``k`` with ``L_jk != 0`` only (MIC(0)'s updates of the pivot of
    ``i`` too: they come from columns ``k`` with ``L_ik != 0``), which are
    finished before column ``j`` joins a wave."""
    n = indptr.size - 1
    # Updates for column j are target-sorted: triple_ptr[j]:triple_ptr[j + 1].
    triple_ptr = np.searchsorted(target, indptr)
    # Column j waits for every column k < j with L_jk != 0: one per entry of row j.
    below = _ranges(indptr[:-1] + 1, indptr[1:])
    waiting = np.bincount(rows[below], minlength=n)
    wave = np.flatnonzero(waiting == 0)
    while wave.size:
        updates = _ranges(triple_ptr[wave], triple_ptr[wave + 1])
        # a_ij - sum_k L_ik L_jk, for the diagonal and below it.
        np.subtract.at(values, target[updates], values[left[updates]] * values[right[updates]])
        pivots = values[diag_pos[wave]]
        bad = np.flatnonzero(~(pivots > 0))
        if bad.size:
            j = wave[bad[0]]
            raise ValueError(
                f"{who}: pivot {pivots[bad[0]]:.3g} at column {j} is not positive, so "
                f"{_NAMES[who]} breaks down (A may not be positive definite; "
                f"shift={shift:g}). Try a diagonal shift, e.g. {who}(A, shift=0.01), "
                "which factors A + shift * diag(A)"
            )
        values[diag_pos[wave]] = np.sqrt(pivots)                       # L_jj
        entries = _ranges(indptr[wave] + 1, indptr[wave + 1])
        owner = np.repeat(diag_pos[wave], indptr[wave + 1] - indptr[wave] - 1)
        values[entries] /= values[owner]                               # L_ij
        # Each finished entry L_ij releases column i from one wait.
        released = rows[entries]
        np.subtract.at(waiting, released, 1)
        wave = np.unique(released[waiting[released] == 0])


def amg(A, **options):
    """Algebraic multigrid as a preconditioner: one V-cycle of pyamg's
    smoothed aggregation per application.

    ``pyamg.smoothed_aggregation_solver(A, **options).aspreconditioner()``,
    wrapped as a :class:`Preconditioner` like the others. The set-up builds a
    hierarchy of coarser matrices from the entries of ``A`` alone (no grid is
    needed); with pyamg's default smoothers (symmetric Gauss-Seidel before
    and after the coarse-grid correction) the V-cycle is a symmetric
    positive definite operator for SPD ``A``, as CG needs. Its point: the
    number of PCG iterations hardly grows as the grid is refined (lesson 05).

    Parameters
    ----------
    A : ndarray or scipy.sparse matrix
        Symmetric positive definite (pyamg does not check).
    **options
        Passed to ``pyamg.smoothed_aggregation_solver``, e.g. ``B=`` the
        near-nullspace modes (rigid-body modes for elasticity).

    Returns
    -------
    Preconditioner
        Its attribute ``ml`` holds pyamg's multilevel solver (``ml.levels``,
        ``print(ml)`` for the hierarchy).

    Raises
    ------
    ValueError
        If ``A`` is an operator, not square, or holds NaN or inf.

    Examples
    --------
    >>> from krylov_ref import cg
    >>> from krylov_ref.problems import poisson2d
    >>> from krylov_ref.precond import amg
    >>> p = poisson2d(32)
    >>> M = amg(p.A)
    >>> cg(p.A, p.b, rtol=1e-8, M=M).iterations < 12
    True
    """
    from pyamg import smoothed_aggregation_solver  # a dependency, imported when used

    A = _as_matrix(A, "amg")
    ml = smoothed_aggregation_solver(A, **options)
    cycle = ml.aspreconditioner(cycle="V")
    M = Preconditioner("amg", cycle.matvec, A.shape[0])
    M.ml = ml
    return M
