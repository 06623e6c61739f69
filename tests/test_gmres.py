"""GMRES against SciPy and against what the algorithm promises."""

import numpy as np
import pytest
import scipy.sparse.linalg as sla
from hypothesis import given, settings
from hypothesis import strategies as st

from krylov_ref import gmres
from krylov_ref.gmres import GMRESResult
from krylov_ref.precond import jacobi, ssor
from krylov_ref.problems import convection_diffusion2d, poisson2d


def scipy_inner_iterations(A, b, **kw):
    count = []
    x, info = sla.gmres(A, b, callback=lambda pr_norm: count.append(pr_norm),
                        callback_type="pr_norm", **kw)
    return x, info, len(count)


def relative_residual(A, b, x):
    return np.linalg.norm(b - A @ x) / np.linalg.norm(b)


@pytest.mark.parametrize("m, peclet, scheme, restart", [
    (20, 10.0, "upwind", 20),
    (30, 100.0, "upwind", 10),
    (30, 40.0, "central", 30),
    (25, 0.0, "upwind", 15),
])
def test_gmres_matches_scipy(m, peclet, scheme, restart):
    p = convection_diffusion2d(m, peclet=peclet, scheme=scheme, seed=m)
    res = gmres(p.A, p.b, rtol=1e-8, restart=restart)
    _, info, scipy_iterations = scipy_inner_iterations(p.A, p.b, rtol=1e-8, restart=restart)
    assert res.converged and info == 0
    assert res.status == "converged"
    assert relative_residual(p.A, p.b, res.x) <= 1e-8
    np.testing.assert_allclose(res.x, p.x_true, rtol=1e-4, atol=1e-4)
    assert abs(res.iterations - scipy_iterations) <= 2, (res.iterations, scipy_iterations)
    assert res.cycles == -(-res.iterations // restart)


def test_residual_norms_do_not_increase_and_end_with_the_true_residual():
    p = convection_diffusion2d(30, peclet=60.0)
    res = gmres(p.A, p.b, rtol=1e-9, restart=10)
    norms = res.residual_norms
    assert len(norms) == res.iterations + 1
    assert norms[0] == pytest.approx(np.linalg.norm(p.b))
    # Within a cycle |g_{j+1}| = |sn_j| |g_j|; at restarts the true residual
    # replaces the estimate, which may differ by rounding only.
    assert np.all(np.diff(norms) <= 1e-12 * norms[0])
    assert norms[-1] == pytest.approx(np.linalg.norm(p.b - p.A @ res.x), rel=1e-12)


def test_residual_estimates_are_true_residuals():
    # The rotated least-squares problem gives ||b - A x_j|| without x_j.
    p = convection_diffusion2d(15, peclet=20.0)
    true = []
    res = gmres(p.A, p.b, rtol=1e-10, restart=12,
                callback=lambda x: true.append(np.linalg.norm(p.b - p.A @ x)))
    assert len(true) == res.iterations
    np.testing.assert_allclose(res.residual_norms[1:], true, rtol=1e-6, atol=1e-12 * np.linalg.norm(p.b))


def test_hessenberg_of_a_full_cycle_has_the_eigenvalues_of_a():
    rng = np.random.default_rng(4)
    A = rng.standard_normal((7, 7)) + 4 * np.eye(7)
    res = gmres(A, rng.standard_normal(7), rtol=1e-14, restart=7)
    assert isinstance(res, GMRESResult)
    assert res.H.shape == (8, 7)
    assert np.allclose(np.tril(res.H, -2), 0)  # upper Hessenberg
    ritz = np.sort_complex(np.linalg.eigvals(res.H[:7, :7]))
    np.testing.assert_allclose(ritz, np.sort_complex(np.linalg.eigvals(A)), atol=1e-8)


def test_happy_breakdown_with_three_distinct_eigenvalues():
    A = np.diag([1.0] * 5 + [2.0] * 5 + [5.0] * 5)
    res = gmres(A, np.ones(15), rtol=1e-14, restart=20)
    assert res.converged and res.iterations == 3
    assert res.H.shape == (4, 3) and abs(res.H[3, 2]) < 1e-10
    np.testing.assert_allclose(A @ res.x, np.ones(15))


def test_singular_least_squares_problem_is_a_reported_breakdown():
    # b has a component outside the range of A: the Krylov space becomes
    # invariant while R turns singular.
    res = gmres(np.diag([1.0, 0.0]), np.array([1.0, 1.0]))
    assert not res.converged
    assert res.status.startswith("breakdown")
    assert np.all(np.isfinite(res.x))
    assert res.residual_norms[-1] == pytest.approx(np.linalg.norm([1.0, 1.0] - np.diag([1.0, 0.0]) @ res.x))


def test_maxiter_counts_inner_steps_not_cycles():
    p = convection_diffusion2d(20, peclet=50.0)
    res = gmres(p.A, p.b, rtol=1e-12, restart=10, maxiter=25)
    assert not res.converged and res.status == "maxiter reached"
    assert res.iterations == 25 and len(res.residual_norms) == 26
    assert res.cycles == 3
    assert res.matvecs == 25 + res.cycles  # plus one true residual per cycle
    assert res.H.shape == (6, 5)  # the last cycle was cut to 5 steps


@pytest.mark.parametrize("make_M", [jacobi, ssor])
def test_right_preconditioning_keeps_the_true_residual(make_M):
    p = convection_diffusion2d(25, peclet=80.0)
    plain = gmres(p.A, p.b, rtol=1e-8, restart=20)
    pre = gmres(p.A, p.b, rtol=1e-8, restart=20, M=make_M(p.A))
    assert pre.converged
    # Right preconditioning: the recorded norms are of b - A x itself.
    assert pre.residual_norms[-1] == pytest.approx(np.linalg.norm(p.b - p.A @ pre.x), rel=1e-10)
    assert pre.residual_norms[-1] <= 1e-8 * np.linalg.norm(p.b)
    assert pre.iterations <= plain.iterations


def test_ssor_beats_plain_gmres_clearly():
    p = convection_diffusion2d(40, peclet=20.0)
    plain = gmres(p.A, p.b, rtol=1e-8, restart=30)
    pre = gmres(p.A, p.b, rtol=1e-8, restart=30, M=ssor(p.A))
    assert pre.iterations < 0.6 * plain.iterations


def test_gmres_on_spd_matches_scipy_with_small_restart():
    p = poisson2d(15)
    res = gmres(p.A, p.b, rtol=1e-6, restart=5)
    _, info, scipy_iterations = scipy_inner_iterations(p.A, p.b, rtol=1e-6, restart=5)
    assert res.converged and info == 0
    assert abs(res.iterations - scipy_iterations) <= 2


@pytest.mark.parametrize("restart", [0, -3, 2.5, True, "20"])
def test_bad_restart_is_rejected(restart):
    with pytest.raises(ValueError, match="restart must be a positive integer"):
        gmres(np.eye(3), np.ones(3), restart=restart)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(2, 30), restart=st.integers(1, 40), seed=st.integers(0, 10**6))
def test_gmres_solves_diagonally_dominant_systems(n, restart, seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, n))
    A += np.diag(np.abs(A).sum(axis=1) + 1.0)
    b = rng.standard_normal(n)
    res = gmres(A, b, rtol=1e-10, restart=restart, maxiter=50 * n)
    assert res.converged, res.status
    assert relative_residual(A, b, res.x) <= 1e-10
    assert np.all(np.diff(res.residual_norms) <= 1e-12 * res.residual_norms[0])


def test_convection_diffusion_problem_states_what_it_is():
    still = convection_diffusion2d(6, peclet=0.0)
    assert abs(still.A - poisson2d(6).A).max() == 0 and still.spd
    for scheme in ("upwind", "central"):
        p = convection_diffusion2d(8, peclet=40.0, scheme=scheme)
        assert not p.symmetric and abs(p.A - p.A.T).max() > 0
        np.testing.assert_allclose(p.A @ p.x_true, p.b)
    # Upwinding keeps an M-matrix: positive diagonal, non-positive off-diagonals.
    A = convection_diffusion2d(8, peclet=500.0).A
    off = A - np.diag(A.diagonal())
    assert A.diagonal().min() > 0 and off.max() <= 0
    with pytest.raises(ValueError, match="scheme must be"):
        convection_diffusion2d(4, scheme="downwind")
    with pytest.raises(ValueError, match="peclet must be a finite number >= 0"):
        convection_diffusion2d(4, peclet=-1.0)


# --------------------------------------------------------------------------
# Flexible GMRES (Saad 1993)

from krylov_ref.gmres import fgmres  # noqa: E402


def _inner_gmres(A, steps):
    # A preconditioner that changes at every call and is not linear in v:
    # GMRES with steps[call % len(steps)] iterations on A z = v.
    calls = []

    def apply(v):
        k = steps[len(calls) % len(steps)]
        calls.append(k)
        return gmres(A, v, rtol=0.0, restart=k, maxiter=k).x
    return apply, calls


@pytest.mark.parametrize("restart", [7, 40])
def test_fgmres_without_preconditioner_is_gmres(restart):
    p = convection_diffusion2d(15, peclet=50.0)
    x0 = np.random.default_rng(1).standard_normal(p.n)
    plain = gmres(p.A, p.b, x0, rtol=1e-9, restart=restart)
    flexible = fgmres(p.A, p.b, x0, rtol=1e-9, restart=restart)
    assert flexible.converged and flexible.iterations == plain.iterations
    assert flexible.cycles == plain.cycles
    np.testing.assert_allclose(flexible.residual_norms, plain.residual_norms, rtol=1e-7,
                               atol=1e-13 * np.linalg.norm(p.b))
    np.testing.assert_allclose(flexible.x, plain.x, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("make_M", [jacobi, ssor])
def test_fgmres_with_a_fixed_preconditioner_is_right_preconditioned_gmres(make_M):
    p = convection_diffusion2d(20, peclet=80.0)
    M = make_M(p.A)
    for restart in (15, 200):
        right = gmres(p.A, p.b, rtol=1e-9, restart=restart, M=M)
        flexible = fgmres(p.A, p.b, rtol=1e-9, restart=restart, M=M)
        assert flexible.converged and flexible.iterations == right.iterations
        np.testing.assert_allclose(flexible.residual_norms, right.residual_norms, rtol=1e-7,
                                   atol=1e-13 * np.linalg.norm(p.b))
        np.testing.assert_allclose(flexible.x, right.x, rtol=1e-7, atol=1e-9)
    # One cycle: the same Arnoldi process, A M V_k = V_{k+1} H = A Z_k.
    assert flexible.cycles == 1
    np.testing.assert_allclose(flexible.H, right.H, rtol=1e-8, atol=1e-10)


def test_fgmres_minimises_over_the_preconditioned_vectors():
    # One cycle of k steps with a varying preconditioner: x_k minimises
    # ||b - A x|| over x0 + span(z_1..z_k), the vectors M returned (a dense
    # least-squares solve), and the Givens estimates are true residuals.
    rng = np.random.default_rng(5)
    n, k = 60, 12
    A = np.eye(n) + 0.8 * rng.standard_normal((n, n)) / np.sqrt(n)
    b, x0 = rng.standard_normal(n), rng.standard_normal(n)
    inner, _ = _inner_gmres(A, [1, 3, 2, 4])
    Z, iterates = [], []

    def M(v):
        z = inner(v)
        Z.append(z)
        return z

    res = fgmres(A, b, x0, rtol=0.0, restart=k, maxiter=k, M=M, callback=iterates.append)
    assert res.iterations == k and len(Z) == k
    Z = np.array(Z).T
    y = np.linalg.lstsq(A @ Z, b - A @ x0, rcond=None)[0]
    best = np.linalg.norm(b - A @ (x0 + Z @ y))
    np.testing.assert_allclose(res.x, x0 + Z @ y, rtol=1e-8, atol=1e-10)
    assert res.residual_norms[-1] == pytest.approx(best, rel=1e-8)
    true = [np.linalg.norm(b - A @ x) for x in iterates]
    np.testing.assert_allclose(res.residual_norms[1:], true, rtol=1e-8)
    # The Arnoldi relation of the flexible method: A Z_k = V_{k+1} H with V
    # orthonormal, so A Z_k and H have the same Gram matrix.
    np.testing.assert_allclose((A @ Z).T @ (A @ Z), res.H.T @ res.H, rtol=1e-8, atol=1e-10)


def test_fgmres_converges_where_gmres_with_a_varying_preconditioner_goes_wrong():
    p = convection_diffusion2d(20, peclet=100.0)
    norm_b = np.linalg.norm(p.b)
    inner, calls = _inner_gmres(p.A, [2, 8, 3, 6])
    flexible = fgmres(p.A, p.b, rtol=1e-10, restart=40, maxiter=40, M=inner)
    assert flexible.converged, flexible.status
    assert np.linalg.norm(p.b - p.A @ flexible.x) <= 1e-10 * norm_b
    assert len(calls) >= flexible.iterations
    # Standard GMRES, one cycle, with the same preconditioner: its Givens
    # estimate falls as far, but the x it forms, x0 + M(V y), is not the
    # minimiser, and its true residual is orders of magnitude larger.
    inner, _ = _inner_gmres(p.A, [2, 8, 3, 6])
    wrong = gmres(p.A, p.b, rtol=0.0, restart=40, maxiter=flexible.iterations, M=inner)
    true = np.linalg.norm(p.b - p.A @ wrong.x)
    assert wrong.residual_norms[-1] == pytest.approx(true)      # replaced at the restart
    assert wrong.residual_norms[-2] <= 1e-8 * norm_b             # what it believed a step earlier
    assert true >= 1e3 * flexible.residual_norms[-1]


@pytest.mark.parametrize("restart", [0, 1.5])
def test_fgmres_rejects_a_bad_restart(restart):
    with pytest.raises(ValueError, match="restart must be a positive integer"):
        fgmres(np.eye(3), np.ones(3), restart=restart)


def test_fgmres_keeps_the_solver_contract():
    A = np.array([[4.0, 1.0], [0.0, 3.0]])
    zero = fgmres(A, np.zeros(2), x0=np.ones(2))
    assert zero.converged and not zero.x.any() and zero.iterations == 0
    x0 = np.array([1.0, 2.0])
    res = fgmres(A, A @ x0, x0=x0.copy(), rtol=1e-12)
    assert res.converged and res.iterations == 0 and np.array_equal(res.x, x0)
    with pytest.raises(ValueError):
        fgmres(A, np.array([1.0, np.nan]))


def test_fgmres_returns_its_own_result_type():
    from krylov_ref.gmres import FGMRESResult
    for b in (np.ones(3), np.zeros(3)):
        res = fgmres(np.diag([1.0, 2.0, 3.0]), b)
        assert type(res) is FGMRESResult and isinstance(res, GMRESResult)
    assert type(gmres(np.eye(2), np.ones(2))) is GMRESResult
