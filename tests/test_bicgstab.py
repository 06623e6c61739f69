"""BiCGSTAB against SciPy; half-steps as iterations; breakdowns."""

import numpy as np
import pytest
import scipy.sparse.linalg as sla
from hypothesis import given, settings
from hypothesis import strategies as st

from krylov_ref import bicgstab
from krylov_ref.bicgstab import BiCGSTABResult
from krylov_ref.precond import jacobi, ssor
from krylov_ref.problems import convection_diffusion2d, poisson2d, variable_diffusion2d


def scipy_products(A, b, **kw):
    """Products with A done by SciPy's bicgstab: two per whole step, plus
    one for a final half-step (its callback sees whole steps only)."""
    steps = []
    x, info = sla.bicgstab(A, b, callback=lambda xk: steps.append(xk.copy()), **kw)
    return x, info, 2 * len(steps)


@pytest.mark.parametrize("problem, make_M", [
    (convection_diffusion2d(30, peclet=40.0, seed=1), None),
    (convection_diffusion2d(30, peclet=200.0, scheme="central", seed=2), None),
    (convection_diffusion2d(30, peclet=40.0, seed=3), ssor),
    (variable_diffusion2d(20, contrast=100.0), jacobi),
])
def test_bicgstab_matches_scipy(problem, make_M):
    p = problem
    M = make_M(p.A) if make_M else None
    res = bicgstab(p.A, p.b, rtol=1e-8, M=M)
    _, info, products = scipy_products(p.A, p.b, rtol=1e-8, M=M)
    assert res.converged and info == 0 and res.status == "converged"
    assert np.linalg.norm(p.b - p.A @ res.x) <= 1e-8 * np.linalg.norm(p.b)
    np.testing.assert_allclose(res.x, p.x_true, rtol=1e-4, atol=1e-4)
    # SciPy's products are 2 per callback, and one more on a half-step exit.
    assert products - 2 <= res.iterations <= products + 3, (res.iterations, products)


def test_iterations_are_half_steps_with_one_product_each():
    p = convection_diffusion2d(20, peclet=30.0)
    res = bicgstab(p.A, p.b, rtol=1e-12, maxiter=7)
    assert isinstance(res, BiCGSTABResult)
    assert res.iterations == 7 and len(res.residual_norms) == 8
    assert res.status == "maxiter reached" and not res.converged
    assert res.matvecs == 7  # no x0: the initial residual is b, free
    assert len(res.alphas) == 4 and len(res.omegas) == 3


def test_every_recorded_norm_is_the_residual_of_an_iterate():
    p = convection_diffusion2d(20, peclet=50.0)
    true = []
    res = bicgstab(p.A, p.b, rtol=1e-10,
                   callback=lambda x: true.append(np.linalg.norm(p.b - p.A @ x)))
    assert res.converged
    assert len(true) == res.iterations
    np.testing.assert_allclose(res.residual_norms[1:], true, rtol=1e-5,
                               atol=1e-12 * np.linalg.norm(p.b))


def test_preconditioning_reduces_products():
    p = convection_diffusion2d(40, peclet=30.0)
    plain = bicgstab(p.A, p.b, rtol=1e-8)
    pre = bicgstab(p.A, p.b, rtol=1e-8, M=ssor(p.A))
    assert plain.converged and pre.converged
    assert pre.iterations < 0.6 * plain.iterations


def test_vanishing_shadow_product_restarts_instead_of_failing():
    # Here r_hat^T r is zero in exact arithmetic at the second whole step.
    A = np.array([[4.0, 1.0, 0.0], [-1.0, 3.0, 1.0], [0.0, -1.0, 2.0]])
    res = bicgstab(A, np.ones(3), rtol=1e-10)
    assert res.restarts == 1
    assert res.converged
    np.testing.assert_allclose(A @ res.x, np.ones(3), atol=1e-9)


def test_breakdown_of_alpha_is_reported():
    # Skew-symmetric A: r_hat^T A r = 0 at once.
    A = np.array([[0.0, 1.0], [-1.0, 0.0]])
    res = bicgstab(A, np.array([1.0, 0.0]))
    assert not res.converged
    assert res.status.startswith("breakdown: r_hat^T A M p")
    assert np.all(np.isfinite(res.x))


def test_spd_problem_converges():
    p = poisson2d(20)
    res = bicgstab(p.A, p.b, rtol=1e-8)
    assert res.converged
    np.testing.assert_allclose(res.x, p.x_true, rtol=1e-5, atol=1e-5)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(2, 30), seed=st.integers(0, 10**6))
def test_bicgstab_solves_diagonally_dominant_systems(n, seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, n))
    A += np.diag(np.abs(A).sum(axis=1) + 1.0)
    b = rng.standard_normal(n)
    res = bicgstab(A, b, rtol=1e-10, maxiter=40 * n)
    assert res.converged, res.status
    assert np.linalg.norm(b - A @ res.x) <= 1e-10 * np.linalg.norm(b)
