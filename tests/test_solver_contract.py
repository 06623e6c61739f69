"""The contract every solver keeps (DESIGN.md): the same keywords, every input
form of A and M, clear errors for bad input, and the edge cases b = 0, an
exact x0, maxiter = 0 and a small maxiter."""

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as sla

from krylov_ref import bicgstab, cg, fgmres, gmres, minres
from krylov_ref.precond import jacobi
from krylov_ref.problems import poisson2d
from krylov_ref.result import SolverResult

SOLVERS = {"cg": cg, "gmres": gmres, "fgmres": fgmres, "minres": minres, "bicgstab": bicgstab}

# One SPD problem that every solver can solve: scaled so that the diagonal
# varies, which gives the preconditioner something to do.
_P = poisson2d(6, seed=3)
_S = sp.diags_array(np.linspace(1.0, 3.0, _P.n))
A_SPD = sp.csr_array(_S @ _P.A @ _S)
X_TRUE = _P.x_true
B = A_SPD @ X_TRUE
N = B.size
M_DIAG = 1.0 / A_SPD.diagonal()


def a_forms():
    dense = A_SPD.toarray()
    return {
        "dense": dense,
        "list": dense.tolist(),
        "csr_array": A_SPD,
        "csc_matrix": sp.csc_matrix(A_SPD),
        "coo_array": sp.coo_array(A_SPD),
        "LinearOperator": sla.aslinearoperator(A_SPD),
        "callable": lambda v: A_SPD @ v,
    }


def m_forms():
    return {
        "dense": np.diag(M_DIAG),
        "sparse": sp.diags_array(M_DIAG, format="csr"),
        "LinearOperator": sla.LinearOperator((N, N), matvec=lambda v: M_DIAG * np.ravel(v)),
        "callable": lambda v: M_DIAG * v,
        "jacobi": jacobi(A_SPD),
    }


solvers = pytest.mark.parametrize("name", list(SOLVERS))


def solve(name, *args, **kw):
    return SOLVERS[name](*args, **kw)


@solvers
@pytest.mark.parametrize("form", list(a_forms()))
def test_every_form_of_a_gives_the_same_answer(name, form):
    res = solve(name, a_forms()[form], B, rtol=1e-10)
    reference = solve(name, A_SPD, B, rtol=1e-10)
    assert res.converged and res.status == "converged"
    np.testing.assert_allclose(res.x, X_TRUE, rtol=1e-7, atol=1e-7)
    assert res.iterations == reference.iterations
    # Dense and sparse products round differently; late residuals feel it.
    np.testing.assert_allclose(res.residual_norms, reference.residual_norms,
                               rtol=1e-6, atol=1e-6 * np.linalg.norm(B))


@solvers
@pytest.mark.parametrize("form", list(m_forms()))
def test_every_form_of_m_gives_the_same_answer(name, form):
    res = solve(name, A_SPD, B, rtol=1e-10, M=m_forms()[form])
    reference = solve(name, A_SPD, B, rtol=1e-10, M=sp.diags_array(M_DIAG))
    plain = solve(name, A_SPD, B, rtol=1e-10)
    assert res.converged
    np.testing.assert_allclose(res.x, X_TRUE, rtol=1e-7, atol=1e-7)
    assert res.iterations == reference.iterations
    assert res.iterations < plain.iterations  # and M is actually used


@solvers
def test_result_is_a_frozen_solver_result(name):
    res = solve(name, A_SPD, B)
    assert isinstance(res, SolverResult)
    assert res.converged in (True, False)
    if name != "cg":  # cg (not part of this change) returns numpy's bool
        assert isinstance(res.converged, bool)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.converged = False
    assert len(res.residual_norms) == res.iterations + 1
    assert res.residual_norms[0] == pytest.approx(np.linalg.norm(B))
    assert res.matvecs >= res.iterations
    assert name in type(res).__name__.lower() or name == "cg"


@solvers
def test_stopping_rule_is_on_the_unpreconditioned_residual(name):
    for rtol, atol in [(1e-6, 0.0), (0.0, 1e-4), (1e-3, 1e-2)]:
        res = solve(name, A_SPD, B, rtol=rtol, atol=atol, M=m_forms()["sparse"])
        tol = max(rtol * np.linalg.norm(B), atol)
        true = np.linalg.norm(B - A_SPD @ res.x)
        assert res.converged and true <= tol
        assert res.residual_norms[-1] == pytest.approx(true, rel=1e-6)
        # ...and not later than needed: the previous iterate had not met it.
        assert res.residual_norms[-2] > tol


@solvers
def test_callback_sees_every_iteration(name):
    seen = []
    res = solve(name, A_SPD, B, rtol=1e-8, callback=lambda x: seen.append(x.copy()))
    assert len(seen) == res.iterations
    np.testing.assert_allclose(seen[-1], res.x)


@solvers
def test_zero_right_hand_side_gives_zero(name):
    res = solve(name, A_SPD, np.zeros(N), x0=np.ones(N))
    assert res.converged and res.iterations == 0
    np.testing.assert_array_equal(res.x, 0.0)
    np.testing.assert_array_equal(res.residual_norms, [0.0])


@solvers
def test_exact_x0_needs_no_iteration(name):
    res = solve(name, A_SPD, B, x0=X_TRUE)
    assert res.converged and res.status == "converged" and res.iterations == 0
    np.testing.assert_allclose(res.x, X_TRUE)
    assert res.matvecs == 1  # the initial residual


@solvers
def test_x0_is_not_modified(name):
    x0 = np.ones(N)
    solve(name, A_SPD, B, x0=x0)
    np.testing.assert_array_equal(x0, 1.0)


@solvers
def test_maxiter_zero_returns_x0(name):
    x0 = np.full(N, 0.5)
    res = solve(name, A_SPD, B, x0=x0, maxiter=0)
    assert not res.converged and res.status == "maxiter reached"
    assert res.iterations == 0 and len(res.residual_norms) == 1
    np.testing.assert_array_equal(res.x, x0)


@solvers
@pytest.mark.parametrize("maxiter", [1, 2, 3])
def test_small_maxiter_is_obeyed(name, maxiter):
    res = solve(name, A_SPD, B, rtol=1e-12, maxiter=maxiter)
    assert not res.converged and res.status == "maxiter reached"
    assert res.iterations == maxiter and len(res.residual_norms) == maxiter + 1
    assert np.all(np.isfinite(res.x))
    assert res.residual_norms[-1] < res.residual_norms[0]


BAD_INPUT = [
    (dict(A=np.ones((3, 4)), b=np.ones(3)), "square"),
    (dict(A=np.eye(3), b=np.ones(4)), "b has length 4"),
    (dict(A=np.eye(3), b=np.ones((3, 2))), "b must be a vector"),
    (dict(A=np.eye(3), b=1.0), "b must be a vector"),
    (dict(A=np.array([[1.0, np.nan], [0.0, 1.0]]), b=np.ones(2)), "A contains NaN or inf"),
    (dict(A=sp.csr_array(np.array([[1.0, np.inf], [0.0, 1.0]])), b=np.ones(2)), "A contains NaN or inf"),
    (dict(A=np.eye(2), b=np.array([1.0, np.nan])), "b contains NaN or inf"),
    (dict(A=np.eye(2), b=np.ones(2), x0=np.array([np.inf, 0.0])), "x0 contains NaN or inf"),
    (dict(A=np.eye(2), b=np.ones(2), x0=np.ones(3)), "x0 has length 3"),
    (dict(A=np.eye(2) * 1j, b=np.ones(2)), "must be real"),
    (dict(A=np.array([["a", "b"], ["c", "d"]]), b=np.ones(2)), "must be numeric"),
    (dict(A="matrix", b=np.ones(2)), "A must be an ndarray"),
    (dict(A=lambda v: np.full(2, np.nan), b=np.ones(2)), "A @ v produced NaN or inf"),
    (dict(A=lambda v: np.ones(3), b=np.ones(2)), r"A @ v returned shape \(3,\)"),
    (dict(A=sla.aslinearoperator(np.eye(3)), b=np.ones(2)), "A has shape"),
    (dict(A=np.eye(2), b=np.ones(2), M=np.eye(3)), "M has shape"),
    (dict(A=np.eye(2), b=np.ones(2), M=lambda v: v * np.nan), "M @ v produced NaN or inf"),
    (dict(A=np.eye(2), b=np.ones(2), rtol=-1.0), "rtol must be a number >= 0"),
    (dict(A=np.eye(2), b=np.ones(2), atol=np.nan), "atol must be a number >= 0 .*NaN is not"),
    (dict(A=np.eye(2), b=np.ones(2), maxiter=-1), "maxiter must be a non-negative integer"),
    (dict(A=np.eye(2), b=np.ones(2), maxiter=2.5), "maxiter must be a non-negative integer"),
    (dict(A=np.eye(2), b=np.ones(2), maxiter=True), "maxiter must be a non-negative integer"),
]


@solvers
@pytest.mark.parametrize("kwargs, message", BAD_INPUT,
                         ids=[m for _, m in BAD_INPUT])
def test_bad_input_raises_a_clear_value_error(name, kwargs, message):
    kwargs = dict(kwargs)
    A, b = kwargs.pop("A"), kwargs.pop("b")
    with pytest.raises(ValueError, match=message):
        solve(name, A, b, **kwargs)


@solvers
def test_keywords_are_keyword_only(name):
    with pytest.raises(TypeError):
        SOLVERS[name](A_SPD, B, None, 1e-5)


@solvers
def test_column_vector_b_is_accepted(name):
    res = solve(name, A_SPD, B[:, None], rtol=1e-10)
    assert res.converged and res.x.shape == (N,)
