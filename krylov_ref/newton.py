"""Hessian-free Newton: Hessian-vector products and truncated Newton-CG
(lesson 07).

Newton's step solves ``H(x) d = -g(x)``. Newton-CG never forms ``H``: the
inner CG needs only products ``H v``, which come from finite differences of
the gradient (:func:`hvp_fd`), from an analytic formula, or from
Pearlmutter's R-operator (see :mod:`krylov_ref.models`). The inner solve is
*truncated*: it stops as soon as its residual is a fraction ``eta_k`` of
``||g_k||`` (an inexact Newton step), or when it meets negative curvature.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator

from ._operators import as_operator, as_vector, check_tolerances

__all__ = ["hvp_fd", "truncated_cg", "InnerCG", "newton_cg", "NewtonResult",
           "forcing_term", "steihaug_cg", "SteihaugStep", "boundary_tau",
           "trust_region_newton_cg", "TrustRegionResult"]

# A line search that has halved the step this often has step ~1e-18 ||d||:
# no further progress is possible in double precision.
MAX_BACKTRACKS = 60

# The forcing term: Eisenstat & Walker's choice 2 with their gamma = 0.9 and
# alpha = 2, started and capped at 0.9 (a loose first solve: far from the
# minimiser the quadratic model is poor, and exact Newton steps are wasted).
ETA_0 = 0.9
ETA_MAX = 0.9
EW_GAMMA = 0.9
EW_ALPHA = 2.0


def hvp_fd(grad, x, v, eps=None):
    """Hessian-vector product by central differences of the gradient.

    ``H(x) v ~ (grad(x + eps v) - grad(x - eps v)) / (2 eps)``, two gradient
    evaluations.

    Parameters
    ----------
    grad : callable
        ``x -> grad f(x)``.
    x, v : ndarray, shape (n,)
        Point and direction.
    eps : float, optional
        Step. By default ``eps = eps_mach^(1/3) (1 + ||x||) / ||v||`` with
        ``eps_mach = np.finfo(float).eps = 2^-52`` the machine epsilon (twice
        the unit roundoff ``u = 2^-53``), so that the perturbation ``eps v``
        has length ``eps_mach^(1/3) (1 + ||x||)``, relative to the size of
        ``x`` (absolute near ``x = 0``). Why the cube root: central
        differences have truncation error ``O(h^2)`` and rounding error
        ``O(u / h)`` for a perturbation of length ``h``; the two balance at
        ``h ~ u^(1/3)`` (about 5e-6), giving about ``u^(2/3)``, 2e-11,
        relative accuracy when the constants are of order one (lesson 07
        measures them). (``sqrt(u)`` is the right step for *one-sided*
        differences, whose truncation error is ``O(h)``.)

    Returns
    -------
    ndarray, shape (n,)
        Approximately ``H(x) v``; exactly zero when ``v = 0``.

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref.newton import hvp_fd
    >>> A = np.array([[2.0, 1.0], [1.0, 3.0]])
    >>> grad = lambda x: A @ x + np.sin(x)      # so H(x) = A + diag(cos x)
    >>> np.round(hvp_fd(grad, np.zeros(2), np.array([1.0, -1.0])), 6)
    array([ 2., -3.])
    """
    x = as_vector(x, None, "x")
    v = as_vector(v, x.shape[0], "v")
    v_norm = np.linalg.norm(v)
    if v_norm == 0:
        return np.zeros_like(x)
    if eps is None:
        eps = np.finfo(float).eps ** (1 / 3) * (1.0 + np.linalg.norm(x)) / v_norm
    elif not isinstance(eps, numbers.Real) or not np.isfinite(eps) or eps <= 0:
        raise ValueError(f"eps must be a finite number > 0, got {eps!r}")
    return (np.asarray(grad(x + eps * v)) - np.asarray(grad(x - eps * v))) / (2 * eps)


@dataclass(frozen=True)
class NewtonResult:
    """Outcome of :func:`newton_cg`.

    Attributes
    ----------
    x : ndarray
        The last iterate.
    converged : bool
        True when ``||grad f(x)||_2 <= gtol``.
    status : str
        ``"converged"``, ``"maxiter reached"`` or ``"line search failed ..."``.
    iterations : int
        Newton (outer) iterations.
    inner_iterations : int
        CG (inner) iterations over all Newton steps, one product ``H v`` each.
    negative_curvature : int
        Newton steps whose inner CG met ``p^T H p <= 0``.
    grad_norms : ndarray
        ``||grad f(x_k)||_2`` for k = 0..iterations.
    fun : float
        ``f(x)`` at the last iterate.
    nfev, ngev, nhev : int
        Evaluations of ``f``, of ``grad f``, and Hessian-vector products.
    forcing_terms : ndarray
        The forcing term ``eta_k`` of every Newton step.
    inner_per_step : ndarray of int
        Products ``H v`` of every Newton step's inner CG.
    steps : ndarray
        The step length ``t_k`` the line search accepted at every Newton step.
    """

    x: np.ndarray
    converged: bool
    status: str
    iterations: int
    inner_iterations: int
    negative_curvature: int
    grad_norms: np.ndarray
    fun: float
    nfev: int
    ngev: int
    nhev: int
    forcing_terms: np.ndarray
    inner_per_step: np.ndarray
    steps: np.ndarray

    def __repr__(self):
        return (
            f"NewtonResult(status={self.status!r}, iterations={self.iterations}, "
            f"||g||={self.grad_norms[-1]:.3e}, nfev={self.nfev}, ngev={self.ngev}, "
            f"nhev={self.nhev})"
        )


class _Counted:
    """A user function whose calls are counted and whose output is checked."""

    def __init__(self, func, name, n=None):
        self.func, self.name, self.n, self.count = func, name, n, 0

    def __call__(self, *args):
        self.count += 1
        out = self.func(*args)
        if self.n is None:
            out = np.asarray(out, dtype=float)
            if out.ndim != 0 and out.shape != (1,):
                raise ValueError(f"{self.name} must return a scalar, got shape {out.shape}")
            return float(out.reshape(()))
        out = np.asarray(out, dtype=float).reshape(-1)
        if out.shape != (self.n,):
            raise ValueError(f"{self.name} returned shape {out.shape}, expected ({self.n},)")
        if not np.all(np.isfinite(out)):
            raise ValueError(f"{self.name} returned NaN or inf")
        return out


def _check_integer(value, name, minimum):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


class InnerCG(NamedTuple):
    """Outcome of :func:`truncated_cg`: the step ``d``, the residual norms
    ``||H d_j + g||`` (``||g||`` first, one per completed CG step) and whether
    the solve stopped on ``p^T H p <= 0``."""

    d: np.ndarray
    residual_norms: list
    negative_curvature: bool

    @property
    def products(self):
        """Products ``H p`` used: one per completed step, plus the one that
        revealed negative curvature."""
        return len(self.residual_norms) - 1 + int(self.negative_curvature)


def _as_matvec(H, n):
    """``v -> H v`` for a matrix, a LinearOperator, a callable or anything
    that supports ``H @ v``."""
    if isinstance(H, (np.ndarray, LinearOperator)) or sp.issparse(H) or callable(H):
        return as_operator(H, n, "H")
    if hasattr(H, "__matmul__") and getattr(H, "shape", (n, n)) == (n, n):
        return as_operator(lambda v: H @ v, n, "H")
    raise ValueError(f"H must be a matrix, an operator supporting H @ v, or a callable "
                     f"v -> H v of order {n}; got {type(H).__name__}")


def truncated_cg(H, g, *, rtol=0.5, atol=0.0, maxiter=None):
    """The inner solve of Newton-CG: CG on ``H d = -g`` from ``d = 0``,
    truncated (Nocedal & Wright, Algorithm 7.1).

    The algorithm box of lesson 07::

        d = 0,  r = g,  p = -r                     # r = H d + g
        until ||r|| <= max(rtol ||g||, atol):
            q = H p
            if p^T q <= 0:  return d  (or -g if this is the first step)
            alpha = r^T r / p^T q
            d = d + alpha p;   r = r + alpha q
            beta = r_new^T r_new / r^T r;   p = -r + beta p

    Parameters
    ----------
    H : ndarray, sparse matrix, LinearOperator, callable or operator
        The Hessian (or any symmetric matrix), used only through ``H @ v``.
    g : ndarray, shape (n,)
        The gradient: the right-hand side is ``-g``.
    rtol, atol : float
        Stop when ``||H d + g|| <= max(rtol ||g||, atol)``; ``rtol`` is the
        forcing term ``eta`` of inexact Newton.
    maxiter : int, optional
        Maximum number of products ``H p``; ``n`` by default (where CG
        finishes in exact arithmetic).

    Returns
    -------
    InnerCG
        ``(d, residual_norms, negative_curvature)``. On negative curvature
        ``p^T H p <= 0`` the last iterate ``d`` is returned, which still
        decreases the quadratic model; at the first step there is none and
        ``d = -g``, the steepest-descent direction. ``d = 0`` (no product)
        when ``||g|| <= atol``, in particular when ``g = 0``.

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref.newton import truncated_cg
    >>> H = np.diag([1.0, 2.0, 4.0])
    >>> d, norms, negative = truncated_cg(H, np.ones(3), rtol=1e-10)
    >>> np.round(d, 12).tolist(), len(norms) - 1, negative
    ([-1.0, -0.5, -0.25], 3, False)
    >>> truncated_cg(np.diag([-1.0, 2.0]), np.array([1.0, 0.0])).d.tolist()
    [-1.0, -0.0]
    """
    g = as_vector(g, None, "g")
    n = g.shape[0]
    check_tolerances(rtol, atol, maxiter)
    maxiter = n if maxiter is None else int(maxiter)
    Hv = _as_matvec(H, n)
    d = np.zeros(n)
    r = g.copy()                             # r = H d + g, the residual (d = 0)
    rr = r @ r
    norms = [np.sqrt(rr)]
    tol = max(rtol * norms[0], atol)
    p = -r
    for j in range(maxiter):
        if norms[-1] <= tol:                 # the forcing test ||r|| <= eta ||g||
            break
        q = Hv(p)
        curvature = p @ q
        if curvature <= 0:
            # H is not positive definite along p: the quadratic model has no
            # minimiser. Stop with the last d, which still decreases the model;
            # at the first step there is none, and -g is a descent direction.
            return InnerCG(-g if j == 0 else d, norms, True)
        alpha = rr / curvature               # alpha = r^T r / p^T H p
        d = d + alpha * p
        r = r + alpha * q                    # keeps r = H d + g
        rr_new = r @ r
        norms.append(np.sqrt(rr_new))
        beta = rr_new / rr                   # beta = r_new^T r_new / r^T r
        p = -r + beta * p
        rr = rr_new
    return InnerCG(d, norms, False)


def _armijo(fun, x, f, d, slope, c1):
    """Backtracking: the first ``t = 1, 1/2, 1/4, ...`` with
    ``f(x + t d) <= f(x) + c1 t g^T d``. Starting at ``t = 1`` keeps the full
    Newton step whenever it is acceptable, and so the fast local rate."""
    # Rounding in f: values within a few ulps of f cannot be told apart.
    noise = 4 * np.finfo(float).eps * abs(f)
    t = 1.0
    for _ in range(MAX_BACKTRACKS):
        x_t = x + t * d
        f_t = fun(x_t)
        # f_t < f as well: once c1 t g^T d is below the rounding of f, the Armijo
        # test alone would accept a step that changes nothing. (Both are False
        # for NaN, so a step into NaN backtracks too.)
        if f_t < f and f_t <= f + c1 * t * slope:
            return t, x_t, f_t
        if t == 1.0 and -slope <= noise and f_t <= f + noise:
            # The model predicts a decrease below the rounding of f: f cannot
            # judge the step. Near a minimiser that is the full Newton step,
            # so take it and let the gradient test decide.
            return t, x_t, f_t
        t *= 0.5
    return None, x, f


def forcing_term(grad_norms, eta_prev):
    """Eisenstat & Walker's forcing term, their choice 2, for Newton step k.

    ``eta_0 = 0.9``; then ``eta_k = 0.9 (||g_k|| / ||g_{k-1}||)^2``, raised to
    ``0.9 eta_{k-1}^2`` when that safeguard exceeds 0.1 (so that ``eta`` does
    not fall abruptly after one lucky step), and capped at 0.9. The gradient
    enters only as a ratio: rescaling ``f`` does not change the steps. Fast
    gradient decrease means the quadratic model is good, and the next solve
    is worth doing accurately; near the solution ``eta_k -> 0`` like
    ``||g_k||^2 / ||g_{k-1}||^2``, which keeps Newton's fast local rate.

    (S. C. Eisenstat and H. F. Walker, "Choosing the forcing terms in an
    inexact Newton method", SIAM J. Sci. Comput. 17(1), 16-32, 1996.)

    Parameters
    ----------
    grad_norms : sequence of float
        ``||g_0||, ..., ||g_k||``.
    eta_prev : float or None
        ``eta_{k-1}`` (ignored when k = 0).

    Examples
    --------
    >>> from krylov_ref.newton import forcing_term
    >>> forcing_term([2.0], None)
    0.9
    >>> round(forcing_term([2.0, 1.0, 0.01], 0.1), 6)     # 0.9 * (0.01)^2
    9e-05
    >>> round(forcing_term([2.0, 1.0], 0.9), 4)           # the safeguard 0.9 * 0.9^2
    0.729
    """
    if len(grad_norms) < 2:
        return ETA_0
    eta = EW_GAMMA * (grad_norms[-1] / grad_norms[-2]) ** EW_ALPHA
    safeguard = EW_GAMMA * eta_prev ** EW_ALPHA
    if safeguard > 0.1:
        eta = max(eta, safeguard)
    return min(eta, ETA_MAX)


class _Hessian:
    """``H(x)`` at the current point as an operator: ``H @ v = hessp(x, v)``."""

    def __init__(self, hessp, x):
        self.hessp, self.x, self.shape = hessp, x, (x.shape[0], x.shape[0])

    def __matmul__(self, v):
        return self.hessp(self.x, v)


def newton_cg(fun, grad, x0, *, hessp, gtol=1e-6, maxiter=100, inner_maxiter=None,
              c1=1e-4, callback=None):
    """Truncated Newton with inner CG, negative-curvature detection and an
    Armijo backtracking line search.

    The algorithm box of lesson 07 (Nocedal & Wright, Algorithm 7.1, with
    Eisenstat & Walker's forcing term)::

        for k = 0, 1, 2, ...
            g = grad f(x);  stop if ||g|| <= gtol
            eta = forcing_term(||g_0||..||g_k||, eta_{k-1})
            d = truncated_cg(H(x), g, rtol=eta, atol=gtol / 2)
            if g^T d >= 0:  d = -g                      # rounding only
            t = 1, 1/2, 1/4, ... until f(x + t d) <= f(x) + c1 t g^T d
            x = x + t d

    The floor ``gtol / 2`` on the inner tolerance stops CG from solving the
    last Newton system more accurately than the outer test needs: the
    quadratic model predicts ``grad f(x + d) ~ g + H d``, the CG residual, so
    a residual below ``gtol / 2`` leaves half of ``gtol`` for the model's
    error.

    Parameters
    ----------
    fun : callable
        ``x -> f(x)``, a scalar.
    grad : callable
        ``x -> grad f(x)``, shape (n,).
    x0 : ndarray, shape (n,)
        Starting point.
    hessp : callable
        ``(x, v) -> H(x) v`` (SciPy's signature). For Hessian-free Newton
        without second derivatives pass
        ``hessp=lambda x, v: hvp_fd(grad, x, v)``; its two gradients per
        product are then counted in ``nhev``, not ``ngev``. Any symmetric
        curvature product will do: ``H + lam I`` (damping), or the
        Gauss-Newton product of :class:`~krylov_ref.models.TwoLayerMLP`.
    gtol : float
        Stop when ``||grad f(x)||_2 <= gtol`` (absolute).
    maxiter : int
        Maximum number of Newton iterations.
    inner_maxiter : int, optional
        Maximum CG iterations per Newton step; ``n`` by default (where CG
        would finish in exact arithmetic).
    c1 : float
        Sufficient-decrease constant of the Armijo test, ``0 < c1 < 1``.
    callback : callable, optional
        Called as ``callback(x)`` after every Newton iteration.

    Returns
    -------
    NewtonResult
        ``x``, ``converged``, ``status``, ``iterations``, ``grad_norms``
        (initial first), the counts ``nfev``, ``ngev``, ``nhev``, and per
        Newton step the forcing terms, inner products and step lengths.

    Raises
    ------
    ValueError
        If ``x0`` is not a finite vector, a parameter is out of range, or
        ``fun``/``grad``/``hessp`` return the wrong shape, or ``f(x0)`` is
        not finite.

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref.newton import newton_cg
    >>> from scipy.optimize import rosen, rosen_der, rosen_hess_prod
    >>> res = newton_cg(rosen, rosen_der, np.array([-1.2, 1.0]), hessp=rosen_hess_prod)
    >>> res.converged, np.allclose(res.x, [1.0, 1.0]), res.negative_curvature > 0
    (True, True, True)
    """
    x = as_vector(x0, None, "x0")
    n = x.shape[0]
    if not isinstance(gtol, numbers.Real) or not np.isfinite(gtol) or gtol < 0:
        raise ValueError(f"gtol must be a finite number >= 0, got {gtol!r}")
    _check_integer(maxiter, "maxiter", 0)
    if inner_maxiter is None:
        inner_maxiter = n
    _check_integer(inner_maxiter, "inner_maxiter", 1)
    if not isinstance(c1, numbers.Real) or not 0 < c1 < 1:
        raise ValueError(f"c1 must lie in (0, 1), got {c1!r}")
    fun = _Counted(fun, "fun")
    grad = _Counted(grad, "grad", n)
    hessp = _Counted(hessp, "hessp", n)

    f = fun(x)
    if not np.isfinite(f):
        raise ValueError(f"fun(x0) = {f}: the starting point must have a finite value")
    g = grad(x)
    norms = [np.linalg.norm(g)]
    status, converged = "maxiter reached", False
    negative = 0
    etas, inner, steps = [], [], []
    eta = None
    for k in range(maxiter + 1):
        if norms[-1] <= gtol:
            status, converged = "converged", True
            break
        if k == maxiter:
            break
        eta = forcing_term(norms, eta)
        solve = truncated_cg(_Hessian(hessp, x), g, rtol=eta, atol=0.5 * gtol,
                             maxiter=inner_maxiter)
        d = solve.d
        etas.append(eta)
        inner.append(solve.products)
        negative += solve.negative_curvature
        slope = g @ d
        if not slope < 0:
            # Rounding can spoil CG's guarantee g^T d < 0; fall back to -g.
            d, slope = -g, -(g @ g)
        t, x, f = _armijo(fun, x, f, d, slope, c1)
        if t is None:
            status = (f"line search failed: no decrease along d after {MAX_BACKTRACKS} "
                      f"halvings at ||g|| = {norms[-1]:.3g}; either gtol is below what "
                      "rounding in f allows, or grad is not the gradient of fun")
            break
        steps.append(t)
        g = grad(x)
        norms.append(np.linalg.norm(g))
        if callback is not None:
            callback(x)
    return NewtonResult(
        x=x, converged=converged, status=status, iterations=len(norms) - 1,
        inner_iterations=int(sum(inner)), negative_curvature=negative,
        grad_norms=np.array(norms), fun=f,
        nfev=fun.count, ngev=grad.count, nhev=hessp.count,
        forcing_terms=np.array(etas), inner_per_step=np.array(inner, dtype=int),
        steps=np.array(steps),
    )


# --------------------------------------------------------------------------
# Trust regions: Steihaug-Toint CG and trust-region Newton-CG


class SteihaugStep(tuple):
    """Outcome of :func:`steihaug_cg`: unpacks as ``d, info``.

    Attributes
    ----------
    d : ndarray
        The step.
    info : str
        Why the solve stopped: ``"converged"``, ``"boundary"``,
        ``"negative curvature"`` or ``"maxiter"``.
    residual_norms : list of float
        ``||H d_j + g||`` of the interior iterates ``d_0 = 0, d_1, ...``
        (``||g||`` first); a boundary exit adds no entry.
    products : int
        Products ``H p`` used.
    Hd : ndarray
        ``H d``, from the recurrences (``r - g``, plus ``tau H p`` on an exit
        at the boundary): the model value ``m(d) = g^T d + d^T H d / 2``
        without a further product.
    """

    def __new__(cls, d, info, residual_norms, products, Hd):
        self = super().__new__(cls, (d, info))
        self.residual_norms, self.products, self.Hd = residual_norms, products, Hd
        return self

    @property
    def d(self):
        return self[0]

    @property
    def info(self):
        return self[1]


def boundary_tau(d, p, delta):
    """The root ``tau >= 0`` of ``||d + tau p|| = delta``, for ``||d|| <= delta``.

    ``(p.p) tau^2 + 2 (d.p) tau + (d.d - delta^2) = 0``; the product of the
    roots is ``(d.d - delta^2) / p.p <= 0``, so exactly one is ``>= 0``. It is
    computed without cancellation: ``(delta^2 - d.d) / (d.p + s)`` when
    ``d.p > 0``, ``(s - d.p) / p.p`` otherwise, ``s = sqrt((d.p)^2 + p.p (delta^2 - d.d))``.

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref.newton import boundary_tau
    >>> boundary_tau(np.zeros(2), np.array([3.0, 4.0]), 10.0)
    2.0
    >>> round(boundary_tau(np.array([0.6, 0.0]), np.array([0.0, 1.0]), 1.0), 12)
    0.8
    """
    pp, dp = p @ p, d @ p
    gap = max(delta**2 - d @ d, 0.0)
    s = np.sqrt(dp**2 + pp * gap)
    return float(gap / (dp + s) if dp > 0 else (s - dp) / pp)


def _check_delta(delta):
    if (not isinstance(delta, numbers.Real) or isinstance(delta, bool)
            or not np.isfinite(delta) or delta <= 0):
        raise ValueError(f"delta (the trust-region radius) must be a finite number > 0, "
                         f"got {delta!r}")
    return float(delta)


def steihaug_cg(H, g, delta, *, rtol=0.5, atol=0.0, maxiter=None):
    """Steihaug-Toint CG: the trust-region subproblem
    ``min m(d) = g^T d + d^T H d / 2`` subject to ``||d|| <= delta``, solved
    approximately by CG from ``d = 0`` (Nocedal & Wright, *Numerical
    Optimization*, 2nd ed. 2006, Algorithm 7.2; Steihaug 1983; Toint 1981).

    The algorithm box of lesson 07::

        d = 0,  r = g,  p = -r                     # r = H d + g
        if ||r|| <= tol: return d, "converged"     # tol = max(rtol ||g||, atol)
        at most maxiter times:
            q = H p
            if p^T q <= 0:   return d + tau p, "negative curvature"
            alpha = r^T r / p^T q
            if ||d + alpha p|| >= delta:  return d + tau p, "boundary"
            d = d + alpha p;   r = r + alpha q
            if ||r|| <= tol: return d, "converged"
            beta = r_new^T r_new / r^T r;   p = -r + beta p
        return d, "maxiter"

    where ``tau >= 0`` solves ``||d + tau p|| = delta`` (:func:`boundary_tau`):
    on negative curvature the model decreases without bound along ``p``, so
    the step follows ``p`` to the boundary; when the next iterate would leave
    the region, the step stops where the segment from ``d`` to it crosses
    the boundary. (Nocedal & Wright allow, at negative curvature, the root
    of either sign that gives the lower model value; Steihaug takes
    ``tau >= 0``, as here.)

    Every iterate has a larger norm than the one before and a lower model
    value, so the boundary point is the best point on the CG path inside
    the region, and ``m(d)`` is at most the Cauchy decrease ``m(d_C)`` (the
    first step along ``-g``, cut at the boundary).

    Parameters
    ----------
    H : ndarray, sparse matrix, LinearOperator, callable or operator
        A symmetric matrix (the Hessian), used only through ``H @ v``.
    g : ndarray, shape (n,)
        The gradient.
    delta : float
        The trust-region radius, ``> 0``.
    rtol, atol : float
        Interior convergence when ``||H d + g|| <= max(rtol ||g||, atol)``.
    maxiter : int, optional
        Maximum number of products ``H p``; ``n`` by default.

    Returns
    -------
    SteihaugStep
        ``(d, info)``, with ``info`` one of ``"converged"``, ``"boundary"``,
        ``"negative curvature"``, ``"maxiter"``; also ``.residual_norms``
        and ``.products``. ``d = 0`` and ``"converged"`` without a product
        when ``||g|| <= atol`` (``g = 0`` in particular).

    Raises
    ------
    ValueError
        If ``g`` is not a finite vector, ``delta`` is not a finite number
        ``> 0``, or the tolerances or ``maxiter`` are out of range.

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref.newton import steihaug_cg
    >>> H = np.diag([1.0, 2.0, 4.0])
    >>> d, info = steihaug_cg(H, np.ones(3), 10.0, rtol=1e-10)     # the Newton step fits
    >>> np.round(d, 12).tolist(), info
    ([-1.0, -0.5, -0.25], 'converged')
    >>> d, info = steihaug_cg(H, np.ones(3), 0.5)
    >>> round(float(np.linalg.norm(d)), 12), info
    (0.5, 'boundary')
    >>> d, info = steihaug_cg(np.diag([-1.0, 2.0]), np.array([1.0, 0.0]), 3.0)
    >>> d.tolist(), info
    ([-3.0, 0.0], 'negative curvature')
    """
    g = as_vector(g, None, "g")
    n = g.shape[0]
    delta = _check_delta(delta)
    check_tolerances(rtol, atol, maxiter)
    maxiter = n if maxiter is None else int(maxiter)
    Hv = _as_matvec(H, n)
    d = np.zeros(n)
    r = g.copy()                             # r = H d + g
    rr = r @ r
    norms = [np.sqrt(rr)]
    tol = max(rtol * norms[0], atol)
    if norms[0] <= tol:
        return SteihaugStep(d, "converged", norms, 0, np.zeros(n))
    p = -r
    for j in range(maxiter):
        q = Hv(p)
        curvature = p @ q
        if curvature <= 0:
            # m decreases without bound along p (m(d + tau p) - m(d) = tau r^T p
            # + tau^2 p^T H p / 2 with r^T p = -r^T r < 0): follow p to the boundary.
            tau = boundary_tau(d, p, delta)
            return SteihaugStep(d + tau * p, "negative curvature", norms, j + 1,
                                r - g + tau * q)
        alpha = rr / curvature
        d_next = d + alpha * p
        if np.linalg.norm(d_next) >= delta:
            tau = boundary_tau(d, p, delta)
            return SteihaugStep(d + tau * p, "boundary", norms, j + 1, r - g + tau * q)
        d = d_next
        r = r + alpha * q
        rr_new = r @ r
        norms.append(np.sqrt(rr_new))
        if norms[-1] <= tol:
            return SteihaugStep(d, "converged", norms, j + 1, r - g)
        p = -r + (rr_new / rr) * p
        rr = rr_new
    return SteihaugStep(d, "maxiter", norms, maxiter, r - g)


@dataclass(frozen=True)
class TrustRegionResult:
    """Outcome of :func:`trust_region_newton_cg`.

    Attributes
    ----------
    x, converged, status, fun, nfev, ngev, nhev
        As in :class:`NewtonResult`.
    iterations : int
        Trust-region steps tried, accepted or not.
    grad_norms : ndarray
        ``||grad f(x)||`` at the start and after every step tried (the same
        value again after a refused step).
    radii : ndarray
        The radius ``delta_k`` of every step.
    ratios : ndarray
        ``rho_k = (f(x_k) - f(x_k + d_k)) / (m(0) - m(d_k))`` of every step.
    accepted : ndarray of bool
        Whether step k was taken (``rho_k > eta``).
    exits : list of str
        The ``info`` of every step's Steihaug solve.
    predicted : ndarray
        The model decrease ``m(0) - m(d_k)`` of every step.
    step_norms : ndarray
        ``||d_k||`` of every step.
    """

    x: np.ndarray
    converged: bool
    status: str
    iterations: int
    grad_norms: np.ndarray
    fun: float
    nfev: int
    ngev: int
    nhev: int
    radii: np.ndarray
    ratios: np.ndarray
    accepted: np.ndarray
    exits: list
    predicted: np.ndarray
    step_norms: np.ndarray

    def __repr__(self):
        return (
            f"TrustRegionResult(status={self.status!r}, iterations={self.iterations}, "
            f"||g||={self.grad_norms[-1]:.3e}, nfev={self.nfev}, ngev={self.ngev}, "
            f"nhev={self.nhev})"
        )


def trust_region_newton_cg(fun, grad, x0, *, hessp, gtol=1e-6, maxiter=200, delta0=1.0,
                           max_delta=1e3, eta=0.15, forcing=None, callback=None):
    """Trust-region Newton-CG: Steihaug-Toint steps inside a radius adjusted
    by the ratio of actual to predicted decrease (Nocedal & Wright,
    Algorithms 4.1 and 7.2).

    The algorithm box of lesson 07::

        for k = 0, 1, 2, ...
            stop if ||g_k|| <= gtol
            d = steihaug_cg(H_k, g_k, delta, rtol=eta_k, atol=gtol / 2)
            rho = (f(x) - f(x + d)) / (m(0) - m(d)),  m(0) - m(d) = -(g^T d + d^T H d / 2)
            if rho < 1/4:                        delta = ||d|| / 4
            elif rho > 3/4 and ||d|| = delta:    delta = min(2 delta, max_delta)
            if rho > eta:  x = x + d  (and a new gradient)

    The model decrease needs ``H d``, which the Steihaug recurrences carry
    (``r = H d + g``, plus ``tau H p`` on a boundary exit), so it costs no
    product: ``nhev`` counts the inner CG's products only. Shrinking to
    ``||d|| / 4`` rather than Nocedal & Wright's ``delta / 4`` is the same on
    the boundary, and shrinks further after a failed interior step.

    Parameters
    ----------
    fun, grad, x0, hessp, gtol, maxiter, callback
        As in :func:`newton_cg`.
    delta0 : float
        Initial radius.
    max_delta : float
        Largest radius.
    eta : float
        Acceptance threshold, ``0 <= eta < 1/4``.
    forcing : callable, optional
        ``forcing(grad_norms, eta_prev) -> eta_k``, the inner ``rtol``;
        :func:`forcing_term` (Eisenstat & Walker) by default.

    Returns
    -------
    TrustRegionResult

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.optimize import rosen, rosen_der, rosen_hess_prod
    >>> from krylov_ref.newton import trust_region_newton_cg
    >>> res = trust_region_newton_cg(rosen, rosen_der, np.array([-1.2, 1.0]), hessp=rosen_hess_prod)
    >>> res.converged, np.allclose(res.x, [1.0, 1.0])
    (True, True)
    """
    x = as_vector(x0, None, "x0")
    n = x.shape[0]
    if not isinstance(gtol, numbers.Real) or not np.isfinite(gtol) or gtol < 0:
        raise ValueError(f"gtol must be a finite number >= 0, got {gtol!r}")
    _check_integer(maxiter, "maxiter", 0)
    delta = _check_delta(delta0)
    max_delta = _check_delta(max_delta)
    if delta > max_delta:
        raise ValueError(f"delta0 = {delta} exceeds max_delta = {max_delta}")
    if not isinstance(eta, numbers.Real) or not 0 <= eta < 0.25:
        raise ValueError(f"eta must lie in [0, 1/4), got {eta!r}")
    forcing = forcing_term if forcing is None else forcing
    fun = _Counted(fun, "fun")
    grad = _Counted(grad, "grad", n)
    hessp = _Counted(hessp, "hessp", n)
    f = fun(x)
    if not np.isfinite(f):
        raise ValueError(f"fun(x0) = {f}: the starting point must have a finite value")
    g = grad(x)
    norms = [np.linalg.norm(g)]
    radii, ratios, accepted, exits, predicted, step_norms = [], [], [], [], [], []
    status, converged = "maxiter reached", False
    eta_k = None
    for k in range(maxiter + 1):
        if norms[-1] <= gtol:
            status, converged = "converged", True
            break
        if k == maxiter:
            break
        eta_k = forcing(norms, eta_k)
        step = steihaug_cg(_Hessian(hessp, x), g, delta, rtol=eta_k, atol=0.5 * gtol,
                           maxiter=n)
        d = step.d
        pred = -(g @ d + 0.5 * d @ step.Hd)
        x_new = x + d
        f_new = fun(x_new)
        if not pred > 0:
            # rounding: the model cannot see a decrease; the step is judged by f alone
            rho = 1.0 if f_new < f else -1.0
        else:
            rho = (f - f_new) / pred if np.isfinite(f_new) else -np.inf
        d_norm = np.linalg.norm(d)
        radii.append(delta)
        ratios.append(rho)
        exits.append(step.info)
        predicted.append(pred)
        step_norms.append(d_norm)
        if rho < 0.25:
            delta = 0.25 * d_norm
        elif rho > 0.75 and d_norm >= (1 - 1e-8) * delta:
            delta = min(2 * delta, max_delta)
        take = rho > eta
        accepted.append(take)
        if take:
            x, f = x_new, f_new
            g = grad(x)
        norms.append(np.linalg.norm(g))
        if callback is not None:
            callback(x)
        if delta < 1e-300:
            status = f"trust region collapsed at ||g|| = {norms[-1]:.3g}"
            break
    return TrustRegionResult(
        x=x, converged=converged, status=status, iterations=len(radii),
        grad_norms=np.array(norms), fun=f, nfev=fun.count, ngev=grad.count, nhev=hessp.count,
        radii=np.array(radii), ratios=np.array(ratios), accepted=np.array(accepted, dtype=bool),
        exits=exits, predicted=np.array(predicted), step_norms=np.array(step_norms),
    )
