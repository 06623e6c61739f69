"""Restarted GMRES (lesson 06): Arnoldi plus a small least-squares problem,
kept triangular by Givens rotations.

Symbols as in the lesson: ``V`` the Arnoldi basis (one vector per row),
``H`` the Hessenberg matrix, ``R`` its triangular form after the rotations
``cs, sn``, ``g`` the rotated right-hand side ``beta e_1``, whose last entry
is the residual norm.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import solve_triangular

from ._operators import prepare_system
from .cg import _stopping_tolerance
from .krylov import BREAKDOWN_TOL
from .result import SolverResult

__all__ = ["gmres", "fgmres", "GMRESResult", "FGMRESResult"]


@dataclass(frozen=True, repr=False)
class GMRESResult(SolverResult):
    """:class:`SolverResult` with the Arnoldi data of GMRES.

    ``iterations`` counts inner (Arnoldi) steps, one product with A each;
    ``residual_norms`` has one entry per inner step, from the rotated
    least-squares problem, except that the last entry of every cycle is the
    true residual ``||b - A x||`` computed at the restart.

    Attributes
    ----------
    H : ndarray, shape (k + 1, k)
        Hessenberg matrix of the last cycle of ``k`` steps, before the
        rotations: ``A M V_k = V_{k+1} H`` (``M`` the identity without a
        preconditioner); for :func:`fgmres`, ``A Z_k = V_{k+1} H``. Its
        square part's eigenvalues are Ritz values.
    cycles : int
        Number of restart cycles started.
    """

    H: np.ndarray = field(default_factory=lambda: np.empty((1, 0)))
    cycles: int = 0


@dataclass(frozen=True, repr=False)
class FGMRESResult(GMRESResult):
    """:class:`GMRESResult` of :func:`fgmres`: the same attributes, with
    ``A Z_k = V_{k+1} H`` for ``H`` (``Z_k`` the preconditioned vectors)."""


def _givens(a, b):
    # The rotation [cs sn; -sn cs] that maps (a, b) to (rho, 0).
    rho = np.hypot(a, b)
    if rho == 0.0:
        return 1.0, 0.0, 0.0
    return a / rho, b / rho, rho


def _orthogonalize(V, w, work):
    """Project ``w`` off the rows of ``V``; return the coefficients ``h``.

    Classical Gram-Schmidt, done twice (CGS2). One pass is numerically
    unreliable, but a second pass makes it as orthogonal as modified
    Gram-Schmidt ("twice is enough": Giraud, Langou, Rozloznik 2005), and each
    pass is two products with the whole block ``V`` instead of ``j``
    separate dot products and vector updates: fewer trips through memory and
    far fewer Python-level operations.
    """
    h = V @ w                               # h_i = v_i^T w
    w -= np.matmul(h, V, out=work)          # w <- w - sum_i h_i v_i
    correction = V @ w                      # second pass: what rounding left behind
    w -= np.matmul(correction, V, out=work)
    return h + correction


def gmres(A, b, x0=None, *, rtol=1e-5, atol=0.0, restart=20, maxiter=None, M=None,
          callback=None):
    """Restarted GMRES(m) with right preconditioning.

    The algorithm box of lesson 06, one cycle (``x = x0 + M V y``)::

        r = b - A x;  beta = ||r||;  v_1 = r / beta;  g = beta e_1
        for j = 1..m:
            w = A M v_j
            h_ij = v_i^T w,  w -= sum_i h_ij v_i      (i <= j, twice)
            h_{j+1,j} = ||w||;  v_{j+1} = w / h_{j+1,j}
            apply the rotations 1..j-1 to column j of H
            rotation j zeroes h_{j+1,j}:  g_{j+1} = -sn_j g_j,  g_j = cs_j g_j
            ||b - A x_j|| = |g_{j+1}|:  stop if small
        x += M V y  with  R y = g[:j]

    Parameters
    ----------
    A : ndarray, sparse matrix, LinearOperator or callable
        Square (possibly non-symmetric) matrix, or ``v -> A v``.
    b : ndarray, shape (n,)
        Right-hand side.
    x0 : ndarray, optional
        Starting guess (zeros by default).
    rtol, atol : float
        Stop when ``||b - A x||_2 <= max(rtol ||b||_2, atol)``. The
        rotated least-squares problem gives this residual norm at every step
        without forming ``x`` (right preconditioning leaves the residual
        unpreconditioned); it is confirmed with the true residual at the end
        of the cycle. Either may be ``inf``: then ``x0`` is returned at once,
        converged.
    restart : int
        Steps per cycle ``m``; the basis ``V`` holds ``m + 1`` vectors.
    maxiter : int, optional
        Maximum number of inner steps (products with A, not cycles);
        ``10 n`` by default.
    M : ndarray, sparse matrix, LinearOperator or callable, optional
        The operator ``v -> M^{-1} v`` of a preconditioner ``M`` that
        approximates ``A``, applied on the right: GMRES runs on ``A M^{-1}``
        and returns ``x = x0 + M^{-1} y``.
    callback : callable, optional
        Called as ``callback(x)`` after every inner step. ``x`` is formed
        for it (a small triangular solve and a product with ``M``), which
        GMRES otherwise does only once per cycle.

    Returns
    -------
    GMRESResult
        ``status`` is ``"converged"``, ``"maxiter reached"`` or
        ``"breakdown ..."`` when the least-squares matrix ``R`` became
        singular to working precision (``A M`` singular on the Krylov
        subspace, e.g. ``b`` not in the range of a singular ``A``, or a
        singular ``M``). Then ``x`` is the least-squares iterate of the step
        before, the best one reached, and the last entry of
        ``residual_norms`` is its true residual.

    Raises
    ------
    ValueError
        For bad input (shapes, NaN or inf, ``restart`` not a positive integer).

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref import gmres
    >>> A = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 4.0]])
    >>> res = gmres(A, np.ones(3), rtol=1e-12)
    >>> res.converged, res.iterations, np.allclose(A @ res.x, 1.0)
    (True, 3, True)
    >>> res.H.shape
    (4, 3)
    """
    return _gmres(A, b, x0, rtol, atol, restart, maxiter, M, callback, flexible=False)


def fgmres(A, b, x0=None, *, rtol=1e-5, atol=0.0, restart=20, maxiter=None, M=None,
           callback=None):
    """Restarted flexible GMRES (FGMRES(m)): a right preconditioner that may
    change at every step.

    Saad, *A flexible inner-outer preconditioned GMRES algorithm*, SIAM J.
    Sci. Comput. 14(2), 1993. Right-preconditioned GMRES forms ``x = x0 + M
    V y`` at the end of a cycle, which is the minimiser only if the same
    linear ``M`` was applied at every step. FGMRES keeps the preconditioned
    vectors ``z_j = M(v_j)`` instead and forms ``x = x0 + Z y``: the relation
    ``A Z_k = V_{k+1} H`` holds whatever ``M`` did at each step, so the Givens
    estimate is the true residual norm of ``x`` (in exact arithmetic), and
    ``x`` minimises ``||b - A x||`` over ``x0 + span(Z_k)``. The price: ``m``
    more stored vectors. One cycle::

        r = b - A x;  beta = ||r||;  v_1 = r / beta;  g = beta e_1
        for j = 1..m:
            z_j = M(v_j)                         (may differ from step to step)
            w = A z_j
            h_ij = v_i^T w,  w -= sum_i h_ij v_i      (i <= j, twice)
            h_{j+1,j} = ||w||;  v_{j+1} = w / h_{j+1,j}
            rotations as in gmres;  ||b - A x_j|| = |g_{j+1}|:  stop if small
        x += Z y  with  R y = g[:j]

    With ``M=None`` it computes the iterates of :func:`gmres`; with a fixed
    linear ``M``, those of right-preconditioned :func:`gmres`.

    Parameters
    ----------
    A : ndarray, sparse matrix, LinearOperator or callable
        Square (possibly non-symmetric) matrix, or ``v -> A v``.
    b : ndarray, shape (n,)
        Right-hand side.
    x0 : ndarray, optional
        Starting guess (zeros by default).
    rtol, atol : float
        Stop when ``||b - A x||_2 <= max(rtol ||b||_2, atol)``, tested on the
        Givens estimate inside a cycle and on the true residual after it.
    restart : int
        Steps per cycle ``m``; ``V`` holds ``m + 1`` vectors and ``Z`` ``m``.
    maxiter : int, optional
        Maximum number of inner steps (products with A, not cycles);
        ``10 n`` by default.
    M : ndarray, sparse matrix, LinearOperator or callable, optional
        Applies an approximation of ``A^{-1}``: ``v -> M(v)``. A callable may
        return a different approximation at every call, and need not be
        linear (an inner iterative solve with a few steps, a multigrid cycle
        with a varying number of sweeps). It is called once per inner step.
    callback : callable, optional
        Called as ``callback(x)`` after every inner step.

    Returns
    -------
    FGMRESResult
        As for :func:`gmres`; ``H`` satisfies ``A Z_k = V_{k+1} H``.

    Raises
    ------
    ValueError
        For bad input (shapes, NaN or inf, ``restart`` not a positive integer).

    See Also
    --------
    gmres : the same with a fixed preconditioner, storing no ``Z``.

    Examples
    --------
    A preconditioner that is an inner GMRES of three steps, which is not a
    linear map of ``v``:

    >>> import numpy as np
    >>> from krylov_ref.gmres import fgmres, gmres
    >>> rng = np.random.default_rng(0)
    >>> A = np.eye(50) + 0.5 * rng.standard_normal((50, 50)) / np.sqrt(50)
    >>> b = np.ones(50)
    >>> inner = lambda v: gmres(A, v, rtol=0.0, restart=3, maxiter=3).x
    >>> res = fgmres(A, b, rtol=1e-10, M=inner)
    >>> res.converged, bool(np.linalg.norm(b - A @ res.x) <= 1e-10 * np.linalg.norm(b))
    (True, True)
    """
    return _gmres(A, b, x0, rtol, atol, restart, maxiter, M, callback, flexible=True)


def _gmres(A, b, x0, rtol, atol, restart, maxiter, M, callback, flexible):
    # The loop of gmres; flexible=True stores Z (z_j = M(v_j)) and forms x = x0 + Z y.
    if not isinstance(restart, numbers.Integral) or isinstance(restart, bool) or restart < 1:
        raise ValueError(f"restart must be a positive integer, got {restart!r}")
    A, b, x, M, maxiter = prepare_system(A, b, x0, M, rtol, atol, maxiter)
    tol = _stopping_tolerance(b, rtol, atol)
    precondition = M if M is not None else (lambda v: v)
    result_type = FGMRESResult if flexible else GMRESResult
    if not np.any(b):
        # b = 0 has the exact solution x = 0, whatever x0 was.
        return result_type(x=np.zeros_like(b), converged=True, status="converged",
                           iterations=0, residual_norms=np.zeros(1), matvecs=0)
    m = min(restart, A.n)
    V = np.empty((m + 1, A.n))
    Z = np.empty((m, A.n)) if flexible else None
    H = np.zeros((m + 1, m))
    work = np.empty(A.n)
    r = b - A(x) if x0 is not None else b.copy()
    beta = np.linalg.norm(r)
    norms = [beta]
    status, converged = "maxiter reached", bool(beta <= tol)
    iterations = cycles = 0
    steps = 0
    scale = 0.0
    while not converged and iterations < maxiter:
        cycles += 1
        V[0] = r / beta                                 # v_1 = r / beta
        g = np.zeros(m + 1)
        g[0] = beta                                     # g = beta e_1
        R = np.zeros((m + 1, m))
        cs, sn = np.zeros(m), np.zeros(m)
        singular = False
        inverse_norm = 0.0                              # bounds ||R^{-1}||_2, see below
        for j in range(min(m, maxiter - iterations)):
            z = precondition(V[j])
            if flexible:
                Z[j] = z                                # z_j = M(v_j), kept
            w = A(z)                                    # w = A M v_j
            H[: j + 1, j] = _orthogonalize(V[: j + 1], w, work)
            H[j + 1, j] = np.linalg.norm(w)             # h_{j+1,j} = ||w||
            # ||A M v_j|| is the norm of column j of H, V being orthonormal;
            # the largest seen so far is a lower bound on ||A M||.
            column_norm = np.linalg.norm(H[: j + 2, j])
            scale = max(scale, column_norm)
            # w vanished: A M v_j lies in span(V), the Krylov space is
            # invariant and holds the solution (a "happy breakdown"), unless
            # A M is singular on it (checked below). Measured against ||A M||,
            # not ||A M v_j||: when v_j is a null vector of A M, w is all
            # rounding noise, small only in absolute terms.
            happy = H[j + 1, j] <= BREAKDOWN_TOL * scale
            if not happy:
                np.divide(w, H[j + 1, j], out=V[j + 1])  # v_{j+1} = w / h_{j+1,j}
            R[: j + 2, j] = H[: j + 2, j]
            for i in range(j):                          # rotations 1..j-1
                R[i, j], R[i + 1, j] = (cs[i] * R[i, j] + sn[i] * R[i + 1, j],
                                        -sn[i] * R[i, j] + cs[i] * R[i + 1, j])
            cs[j], sn[j], R[j, j] = _givens(R[j, j], 0.0 if happy else R[j + 1, j])
            R[j + 1, j] = 0.0
            g[j + 1] = -sn[j] * g[j]                    # g_{j+1} = -sn_j g_j
            g[j] = cs[j] * g[j]                         # g_j = cs_j g_j
            iterations += 1
            steps = j + 1
            # R singular (to working precision): A M V_j has a null vector in
            # the Krylov space, step j cannot lower the residual, and R y = g
            # has no solution, or a huge meaningless one. The least-squares
            # minimum is still that of step j - 1, whose R passed this test:
            # keep that iterate and its residual. The exact test is an SVD;
            # a free upper bound on ||R^{-1}|| usually makes it unnecessary.
            # With c = R[:j, j] (||c|| <= ||A M v_j||) and rho = R[j, j],
            # R_{j+1}^{-1} = [R_j^{-1}, -R_j^{-1} c / rho; 0, 1 / rho], so
            # ||R_{j+1}^{-1}|| <= ||R_j^{-1}|| + (||R_j^{-1}|| ||c|| + 1) / |rho|;
            # and ||R|| <= ||R||_F <= sqrt(steps) scale.
            rho = abs(R[j, j])
            sound = rho > 0
            if sound:
                inverse_norm += (inverse_norm * column_norm + 1.0) / rho
                sound = inverse_norm * BREAKDOWN_TOL * math.sqrt(steps) * scale < 1.0
            if not sound:
                sigma = np.linalg.svd(R[:steps, :steps], compute_uv=False)
                singular = not sigma[-1] > BREAKDOWN_TOL * max(sigma[0], scale)
                if singular:
                    norms.append(norms[-1])
                    if callback is not None:
                        callback(_updated(x, V, R, g, steps - 1, precondition, Z))
                    break
                inverse_norm = 1.0 / sigma[-1]
            norms.append(abs(g[j + 1]))                 # ||r_j|| = |g_{j+1}|
            if callback is not None:
                callback(_updated(x, V, R, g, steps, precondition, Z))
            if norms[-1] <= tol or happy:
                break
        # x += M V y with R y = g, over the columns before a singular step.
        x = _updated(x, V, R, g, steps - 1 if singular else steps, precondition, Z)
        r = b - A(x)                                    # restart from the true residual
        beta = np.linalg.norm(r)
        norms[-1] = beta
        converged = bool(beta <= tol)
        if singular and not converged:
            # Whatever the restart, the same null vector would stop it again.
            status = (f"breakdown: A M is singular on the Krylov subspace (the least-squares "
                      f"matrix R is singular at step {iterations}); x is the least-squares "
                      f"iterate of step {iterations - 1}, the best reached")
            break
    if converged:
        status = "converged"
    return result_type(
        x=x, converged=converged, status=status, iterations=iterations,
        residual_norms=np.array(norms), matvecs=A.count,
        H=H[: steps + 1, :steps].copy(), cycles=cycles,
    )


def _updated(x, V, R, g, k, precondition, Z=None):
    # x + M V_k y (x + Z_k y if flexible) with R_k y = g_k: the minimiser over
    # the current cycle.
    if k == 0:
        return x.copy()
    y = solve_triangular(R[:k, :k], g[:k])
    if Z is not None:
        return x + y @ Z[:k]
    return x + precondition(y @ V[:k])
