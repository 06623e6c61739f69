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

import numpy as np

from ._operators import as_vector

__all__ = ["hvp_fd", "newton_cg", "NewtonResult"]

# A line search that has halved the step this often has step ~1e-18 ||d||:
# no further progress is possible in double precision.
MAX_BACKTRACKS = 60


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
        Step. By default ``eps = u^(1/3) (1 + ||x||) / ||v||`` with ``u`` the
        machine epsilon, so that the perturbation ``eps v`` has length
        ``u^(1/3) (1 + ||x||)``, relative to the size of ``x`` (absolute
        near ``x = 0``). Why the cube root: central differences have
        truncation error ``O(h^2)`` and rounding error ``O(u / h)`` for a
        perturbation of length ``h``; the two balance at ``h ~ u^(1/3)``
        (about 6e-6), giving about ``u^(2/3)``, 1e-11, relative accuracy.
        (``sqrt(u)`` is the right step for *one-sided* differences, whose
        truncation error is ``O(h)``.)

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


def _truncated_cg(Hv, g, tol, maxiter):
    """The inner CG of Newton-CG: solve ``H d = -g`` from ``d = 0`` until
    ``||H d + g|| <= tol`` (Nocedal & Wright, Algorithm 7.1).

    Returns ``(d, products, met_negative_curvature)``.
    """
    d = np.zeros_like(g)
    r = g.copy()                             # r = H d + g, the residual (d = 0)
    p = -r
    rr = r @ r
    for j in range(maxiter):
        Hp = Hv(p)
        curvature = p @ Hp
        if curvature <= 0:
            # H is not positive definite along p: the quadratic model has no
            # minimiser. Stop with the last d, which still decreases the model;
            # at the first step there is none, and -g is a descent direction.
            return (-g if j == 0 else d), j + 1, True
        alpha = rr / curvature               # alpha = r^T r / p^T H p
        d += alpha * p
        r += alpha * Hp                      # keeps r = H d + g
        rr_new = r @ r
        if np.sqrt(rr_new) <= tol:           # the forcing test ||r|| <= eta ||g||
            return d, j + 1, False
        beta = rr_new / rr                   # beta = r_new^T r_new / r^T r
        p = -r + beta * p
        rr = rr_new
    return d, maxiter, False


def _armijo(fun, x, f, d, slope, c1):
    """Backtracking: the first ``t = 1, 1/2, 1/4, ...`` with
    ``f(x + t d) <= f(x) + c1 t g^T d``. Starting at ``t = 1`` keeps the full
    Newton step whenever it is acceptable, and so the fast local rate."""
    t = 1.0
    for _ in range(MAX_BACKTRACKS):
        x_t = x + t * d
        f_t = fun(x_t)
        # f_t < f as well: once c1 t g^T d is below the rounding of f, the Armijo
        # test alone would accept a step that changes nothing. (Both are False
        # for NaN, so a step into NaN backtracks too.)
        if f_t < f and f_t <= f + c1 * t * slope:
            return t, x_t, f_t
        t *= 0.5
    return None, x, f


def newton_cg(fun, grad, x0, *, hessp, gtol=1e-6, maxiter=100, inner_maxiter=None,
              c1=1e-4, callback=None):
    """Truncated Newton with inner CG, negative-curvature detection and an
    Armijo backtracking line search.

    The algorithm box of lesson 07 (Nocedal & Wright, Algorithm 7.1)::

        for k = 0, 1, 2, ...
            g = grad f(x);  stop if ||g|| <= gtol
            eta = min(0.5, sqrt(||g|| / ||g_0||))       # forcing term
            d = CG on H(x) d = -g from d = 0,
                until ||H d + g|| <= max(eta ||g||, gtol / 2),
                or p^T H p <= 0: then d = last CG iterate (-g at the first step)
            t = 1, 1/2, 1/4, ... until f(x + t d) <= f(x) + c1 t g^T d
            x = x + t d

    The forcing term is Nocedal & Wright's ``eta_k = min(0.5, sqrt(||g_k||))``
    (their (7.3); not Eisenstat-Walker's choice 2) with the gradient measured
    relative to the start, ``||g_k|| / ||g_0||``, so that rescaling ``f`` by a
    constant does not change the Newton steps (the absolute form depends on the
    units of ``f``). Loose solves far from the solution, where the quadratic
    model is poor anyway; ``eta_k -> 0`` like ``sqrt(||g_k||)`` near it,
    which keeps Newton's superlinear rate.

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
        product are then counted in ``nhev``, not ``ngev``.
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
        (initial first) and the counts ``nfev``, ``ngev``, ``nhev``.

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
    inner, negative = 0, 0
    for k in range(maxiter + 1):
        if norms[-1] <= gtol:
            status, converged = "converged", True
            break
        if k == maxiter:
            break
        eta = min(0.5, np.sqrt(norms[-1] / norms[0]))
        inner_tol = max(eta * norms[-1], 0.5 * gtol)
        d, products, met_negative = _truncated_cg(lambda v: hessp(x, v), g, inner_tol,
                                                  inner_maxiter)
        inner += products
        negative += met_negative
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
        g = grad(x)
        norms.append(np.linalg.norm(g))
        if callback is not None:
            callback(x)
    return NewtonResult(
        x=x, converged=converged, status=status, iterations=len(norms) - 1,
        inner_iterations=inner, negative_curvature=negative,
        grad_norms=np.array(norms), fun=f,
        nfev=fun.count, ngev=grad.count, nhev=hessp.count,
    )
