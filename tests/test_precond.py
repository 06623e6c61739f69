"""Preconditioners: what they compute, what they refuse, and that they help."""

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as sla
from hypothesis import given, settings
from hypothesis import strategies as st

from krylov_ref import cg, gmres
from krylov_ref.precond import Preconditioner, amg, ichol0, jacobi, mic0, ssor
from krylov_ref.problems import (
    convection_diffusion2d, jump_diffusion2d, poisson1d, poisson2d, random_spd,
    variable_diffusion2d,
)


def dense_ic0(A):
    """IC(0) by the textbook right-looking triple loop, for comparison."""
    A = np.array(A, dtype=float)
    n = A.shape[0]
    pattern = A != 0
    L = np.tril(A)
    for k in range(n):
        L[k, k] = np.sqrt(L[k, k])
        for i in range(k + 1, n):
            if pattern[i, k]:
                L[i, k] /= L[k, k]
        for j in range(k + 1, n):
            for i in range(j, n):
                if pattern[i, j]:
                    L[i, j] -= L[i, k] * L[j, k]
    return np.tril(L)


def random_sparse_spd(n, density, seed):
    B = sp.random_array((n, n), density=density, rng=seed).toarray()
    B = B + B.T
    return B + np.diag(2 * np.abs(B).sum(axis=1) + 1.0)  # diagonally dominant


def as_dense(M, n):
    return np.column_stack([M @ e for e in np.eye(n)])


def plain_and_preconditioned(problem, M, solver=cg, **kw):
    plain = solver(problem.A, problem.b, rtol=1e-8, **kw)
    pre = solver(problem.A, problem.b, rtol=1e-8, M=M, **kw)
    assert plain.converged and pre.converged, (plain.status, pre.status)
    np.testing.assert_allclose(pre.x, problem.x_true, rtol=1e-5, atol=1e-5)
    return plain.iterations, pre.iterations


# --- Jacobi -----------------------------------------------------------------

@pytest.mark.parametrize("form", [np.asarray, sp.csr_array, sp.csc_matrix])
def test_jacobi_divides_by_the_diagonal(form):
    A = form(np.array([[2.0, 1.0], [3.0, 5.0]]))
    M = jacobi(A)
    np.testing.assert_allclose(M @ np.array([1.0, 1.0]), [0.5, 0.2])
    assert isinstance(M, sla.LinearOperator) and M.shape == (2, 2)


def test_jacobi_rejects_a_zero_diagonal():
    with pytest.raises(ValueError, match=r"A\[1, 1\] = 0"):
        jacobi(np.array([[1.0, 2.0], [2.0, 0.0]]))


@pytest.mark.parametrize("build", [jacobi, ssor, ichol0])
def test_preconditioners_need_entries_not_operators(build):
    A = poisson1d(5).A
    with pytest.raises(ValueError, match="needs the entries of A"):
        build(sla.aslinearoperator(A))
    with pytest.raises(ValueError, match="needs the entries of A"):
        build(lambda v: A @ v)


@pytest.mark.parametrize("build", [jacobi, ssor, ichol0])
def test_preconditioners_reject_bad_matrices(build):
    with pytest.raises(ValueError, match="square"):
        build(np.ones((2, 3)))
    with pytest.raises(ValueError, match="NaN or inf"):
        build(np.array([[1.0, np.nan], [np.nan, 1.0]]))


# --- SSOR -------------------------------------------------------------------

@pytest.mark.parametrize("omega", [0.5, 1.0, 1.6])
def test_ssor_applies_the_inverse_of_the_ssor_splitting(omega):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((6, 6)) + 6 * np.eye(6)  # non-symmetric is allowed
    D, L, U = np.diag(np.diag(A)), np.tril(A, -1), np.triu(A, 1)
    M_ssor = (D + omega * L) @ np.linalg.solve(D, D + omega * U) / (omega * (2 - omega))
    v = rng.standard_normal(6)
    np.testing.assert_allclose(ssor(A, omega) @ v, np.linalg.solve(M_ssor, v), rtol=1e-12)


def test_ssor_is_symmetric_positive_definite_for_spd_a():
    A = random_spd(8, 50.0, seed=3).A
    M = as_dense(ssor(A, omega=1.3), 8)
    np.testing.assert_allclose(M, M.T, atol=1e-12)
    assert np.linalg.eigvalsh((M + M.T) / 2).min() > 0


@pytest.mark.parametrize("omega", [0.0, 2.0, -1.0, "1"])
def test_ssor_rejects_omega_outside_0_2(omega):
    with pytest.raises(ValueError, match="omega must be a number in"):
        ssor(poisson1d(4).A, omega=omega)


def test_ssor_rejects_a_zero_diagonal():
    with pytest.raises(ValueError, match="zero diagonal"):
        ssor(np.array([[0.0, 1.0], [1.0, 2.0]]))


# --- IC(0) ------------------------------------------------------------------

@settings(max_examples=15, deadline=None)
@given(n=st.integers(2, 25), density=st.floats(0.05, 0.5), seed=st.integers(0, 10**6))
def test_ichol0_matches_the_textbook_algorithm(n, density, seed):
    A = random_sparse_spd(n, density, seed)
    L = ichol0(sp.csr_array(A)).L.toarray()
    np.testing.assert_allclose(L, dense_ic0(A), rtol=1e-12, atol=1e-12)


def test_ichol0_reproduces_a_on_its_pattern_and_adds_no_fill():
    A = poisson2d(12).A
    L = ichol0(A).L
    lower = sp.tril(A).toarray() != 0
    assert np.array_equal(L.toarray() != 0, lower)
    LLt = (L @ L.T).toarray()
    np.testing.assert_allclose(LLt[A.toarray() != 0], A.toarray()[A.toarray() != 0], atol=1e-12)


def test_ichol0_pattern_ignores_explicitly_stored_zeros():
    # Sparse matrices can store zeros (Kronecker products through a block
    # format used to): here one explicit zero in every row of the lower part.
    B = sp.csr_array(poisson2d(3).A)
    coo = B.tocoo()
    rows = np.concatenate([coo.row, np.arange(2, 9), np.arange(0, 7)])
    cols = np.concatenate([coo.col, np.arange(0, 7), np.arange(2, 9)])
    vals = np.concatenate([coo.data, np.zeros(14)])  # positions (i, i-2), (i-2, i): not in B
    A = sp.csr_array((vals, (rows, cols)), shape=B.shape)
    stored, nonzero = A.nnz, np.count_nonzero(A.toarray())
    assert stored > nonzero == B.nnz
    L = ichol0(A).L
    assert np.array_equal(L.toarray() != 0, sp.tril(B).toarray() != 0)
    np.testing.assert_allclose(L.toarray(), ichol0(B).L.toarray(), rtol=1e-14)
    np.testing.assert_allclose(L.toarray(), dense_ic0(B.toarray()), rtol=1e-12, atol=1e-14)


def test_ichol0_is_exact_cholesky_without_dropped_fill():
    # Tridiagonal and dense matrices have no fill to drop: IC(0) is Cholesky.
    for A in (poisson1d(30).A.toarray(), random_spd(12, 30.0, seed=2).A):
        np.testing.assert_allclose(ichol0(A).L.toarray(), np.linalg.cholesky(A), atol=1e-12)
        v = np.arange(A.shape[0], dtype=float)
        np.testing.assert_allclose(ichol0(A) @ v, np.linalg.solve(A, v), rtol=1e-9)


KERSHAW = np.array([[3.0, -2.0, 0.0, 2.0], [-2.0, 3.0, -2.0, 0.0],
                    [0.0, -2.0, 3.0, -2.0], [2.0, 0.0, -2.0, 3.0]])


def test_ichol0_reports_a_negative_pivot_and_suggests_shift():
    # Kershaw's matrix is SPD, yet IC(0) meets a negative pivot.
    assert np.linalg.eigvalsh(KERSHAW).min() > 0
    with pytest.raises(ValueError, match=r"pivot .* at column 3 .*shift="):
        ichol0(KERSHAW)
    M = ichol0(KERSHAW, shift=0.5)
    # The shift factors A + 0.5 diag(A): the diagonal of L L^T is 1.5 diag(A).
    np.testing.assert_allclose(np.diag((M.L @ M.L.T).toarray()), 1.5 * np.diag(KERSHAW))
    res = cg(KERSHAW, np.ones(4), rtol=1e-10, M=M)
    assert res.converged


@pytest.mark.parametrize("A, message", [
    (np.array([[1.0, 2.0], [0.0, 1.0]]), "symmetric"),
    (np.array([[1.0, 0.0], [0.0, -1.0]]), r"A\[1, 1\] = -1"),
    (np.array([[0.0, 1.0], [1.0, 1.0]]), r"A\[0, 0\] = 0"),
])
def test_ichol0_rejects_matrices_it_cannot_factor(A, message):
    with pytest.raises(ValueError, match=message):
        ichol0(A)


@pytest.mark.parametrize("shift", [-0.1, np.inf, "0"])
def test_ichol0_rejects_a_bad_shift(shift):
    with pytest.raises(ValueError, match="shift must be"):
        ichol0(poisson1d(3).A, shift=shift)


def test_ichol0_does_not_modify_its_input():
    A = poisson2d(5).A
    before = A.copy()
    ichol0(A, shift=0.1)
    assert (A != before).nnz == 0


# --- MIC(0) -----------------------------------------------------------------

def dense_mic0(A):
    """MIC(0) by the textbook right-looking triple loop: IC(0), except that an
    update L_ik L_jk for (i, j) outside the pattern is subtracted from the
    pivots of rows i and j (Gustafsson 1978)."""
    A = np.array(A, dtype=float)
    n = A.shape[0]
    pattern = A != 0
    L = np.tril(A)
    for k in range(n):
        if L[k, k] <= 0:
            raise ValueError(f"pivot {L[k, k]} at column {k}")
        L[k, k] = np.sqrt(L[k, k])
        for i in range(k + 1, n):
            if pattern[i, k]:
                L[i, k] /= L[k, k]
        for j in range(k + 1, n):
            for i in range(j, n):
                update = L[i, k] * L[j, k]
                if pattern[i, j]:
                    L[i, j] -= update
                else:
                    L[i, i] -= update
                    L[j, j] -= update
    return np.tril(L)


#: SPD M-matrices on which MIC(0) meets a zero and a negative last pivot (and
#: IC(0) does not): copies of the grader's, tested here independently.
MIC_ZERO = np.array([[16.0, -8.0, 0.0, -8.0], [-8.0, 24.0, -4.0, 0.0],
                     [0.0, -4.0, 17.0, -4.0], [-8.0, 0.0, -4.0, 9.0]])
MIC_NEGATIVE = np.array([[16.0, -8.0, 0.0, -12.0], [-8.0, 26.0, -4.0, 0.0],
                         [0.0, -4.0, 17.0, -4.0], [-12.0, 0.0, -4.0, 15.0]])


@settings(max_examples=15, deadline=None)
@given(n=st.integers(2, 25), density=st.floats(0.05, 0.5), seed=st.integers(0, 10**6))
def test_mic0_matches_the_textbook_algorithm(n, density, seed):
    A = random_sparse_spd(n, density, seed)
    try:
        want = dense_mic0(A)
    except ValueError:
        with pytest.raises(ValueError, match="MIC\\(0\\) breaks down"):
            mic0(sp.csr_array(A))
        return
    np.testing.assert_allclose(mic0(sp.csr_array(A)).L.toarray(), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("A", [poisson2d(12).A, jump_diffusion2d(10, 1e3, 2, seed=1).A,
                               variable_diffusion2d(9).A,
                               sp.csr_array(random_sparse_spd(40, 0.15, 3))],
                         ids=["poisson", "jumps", "variable", "random"])
def test_mic0_keeps_the_pattern_the_off_diagonal_entries_and_the_row_sums(A):
    # Three properties that determine MIC(0)'s factor: the pattern of tril(A),
    # (L L^T)_ij = a_ij off the diagonal on the pattern, and L L^T e = A e.
    A = sp.csr_array(A)
    A.eliminate_zeros()
    dense = A.toarray()
    L = mic0(A).L
    assert np.array_equal(L.toarray() != 0, np.tril(dense) != 0)
    LLt = (L @ L.T).toarray()
    off = (dense != 0) & ~np.eye(A.shape[0], dtype=bool)
    np.testing.assert_allclose(LLt[off], dense[off], rtol=1e-12, atol=1e-12 * np.abs(dense).max())
    e = np.ones(A.shape[0])
    np.testing.assert_allclose(LLt @ e, dense @ e, atol=1e-11 * np.abs(dense).max())
    # ... which IC(0)'s factor does not have (it drops the fill).
    L_ic = ichol0(A).L
    assert np.abs(L_ic @ (L_ic.T @ e) - dense @ e).max() > 1e-3 * np.abs(dense).max()


def test_mic0_of_an_m_matrix_is_below_a_and_exact_on_constants():
    A = poisson2d(8).A.toarray()
    L = mic0(A).L.toarray()
    R = L @ L.T - A
    assert np.linalg.eigvalsh(R).max() < 1e-12       # M = L L^T <= A
    lam = np.linalg.eigvals(np.linalg.solve(L @ L.T, A)).real
    assert lam.min() > 1 - 1e-10                      # so eigenvalues of M^-1 A >= 1
    np.testing.assert_allclose(lam.min(), 1.0, atol=1e-10)   # the constant vector's


def test_mic0_is_ic0_and_cholesky_without_fill():
    # Tridiagonal and dense matrices have no fill to drop or to compensate.
    for A in (poisson1d(30).A.toarray(), random_spd(12, 30.0, seed=2).A):
        np.testing.assert_allclose(mic0(A).L.toarray(), ichol0(A).L.toarray(), atol=1e-13)
        np.testing.assert_allclose(mic0(A).L.toarray(), np.linalg.cholesky(A), atol=1e-12)
    # With fill, it differs from IC(0) where fill is compensated: on the pivots.
    A = poisson2d(6).A
    diff = (mic0(A).L - ichol0(A).L).toarray()
    assert np.abs(diff).max() > 0.1


@pytest.mark.parametrize("A, pivot", [(MIC_ZERO, "0"), (MIC_NEGATIVE, "-1")])
def test_mic0_breaks_down_where_ic0_does_not_and_a_shift_repairs_it(A, pivot):
    np.testing.assert_array_equal(A, A.T)
    assert np.linalg.eigvalsh(A).min() > 1.0                  # SPD
    assert np.all(A - np.diag(np.diag(A)) <= 0)               # an M-matrix
    assert np.all(ichol0(A).L.diagonal() > 1.0)               # IC(0) is fine
    with pytest.raises(ValueError, match=f"mic0: pivot {pivot} at column 3 .*MIC\\(0\\) breaks down"):
        mic0(A)
    with pytest.raises(ValueError):
        dense_mic0(A)
    M = mic0(A, shift=0.1)
    L = M.L.toarray()
    shifted = A + 0.1 * np.diag(np.diag(A))
    np.testing.assert_allclose(L @ L.T @ np.ones(4), shifted @ np.ones(4), atol=1e-12)
    assert cg(A, np.ones(4), rtol=1e-10, M=M).converged
    assert repr(M) == "<mic0(shift=0.1) preconditioner of order 4>"


def test_mic0_meets_a_zero_pivot_on_a_singular_neumann_laplacian():
    # A e = 0, so L L^T e = 0: L is singular, a pivot must vanish.
    m = 6
    T = sp.diags_array([-np.ones(m - 1), np.r_[1.0, 2 * np.ones(m - 2), 1.0], -np.ones(m - 1)],
                       offsets=[-1, 0, 1])
    A = sp.csr_array(sp.kron(T, sp.identity(m)) + sp.kron(sp.identity(m), T))
    np.testing.assert_allclose(A @ np.ones(m * m), 0.0, atol=1e-14)
    with pytest.raises(ValueError, match="MIC\\(0\\) breaks down"):
        mic0(A)
    assert np.all(mic0(A, shift=0.01).L.diagonal() > 0)


@pytest.mark.parametrize("A, message", [
    (np.array([[1.0, 2.0], [0.0, 1.0]]), "mic0 needs a symmetric"),
    (np.array([[1.0, 0.0], [0.0, -1.0]]), r"mic0: A\[1, 1\] = -1"),
    (sla.aslinearoperator(np.eye(2)), "mic0 needs the entries of A"),
])
def test_mic0_rejects_matrices_it_cannot_factor(A, message):
    with pytest.raises(ValueError, match=message):
        mic0(A)


@pytest.mark.parametrize("shift", [-0.1, np.inf, "0"])
def test_mic0_rejects_a_bad_shift(shift):
    with pytest.raises(ValueError, match="mic0: shift must be"):
        mic0(poisson1d(3).A, shift=shift)


def test_mic0_does_not_modify_its_input():
    A = poisson2d(5).A
    before = A.copy()
    mic0(A, shift=0.1)
    assert (A != before).nnz == 0


def test_mic0_iterations_grow_like_h_to_the_minus_half_on_poisson():
    # kappa(M^-1 A) = O(h^-1) for MIC(0), O(h^-2) for IC(0): from m = 16 to 64
    # (h / 4) the iterations should grow by about 2 and about 4 (3 measured).
    its = {}
    for build in (ichol0, mic0):
        counts = []
        for m in (16, 64):
            p = poisson2d(m)
            counts.append(cg(p.A, p.b, rtol=1e-8, M=build(p.A)).iterations)
        its[build.__name__] = counts[1] / counts[0]
    assert its["mic0"] < 2.3 < 2.6 < its["ichol0"]


# --- they help ----------------------------------------------------------------

def test_preconditioned_cg_takes_fewer_iterations_on_poisson():
    p = poisson2d(30)
    plain, pre_jacobi = plain_and_preconditioned(p, jacobi(p.A))
    # The Poisson diagonal is constant: Jacobi only rescales, CG is unchanged.
    assert abs(pre_jacobi - plain) <= 1
    for M in (ssor(p.A), ssor(p.A, omega=1.5), ichol0(p.A)):
        plain, pre = plain_and_preconditioned(p, M)
        assert pre < 0.7 * plain, (M, plain, pre)


def test_preconditioned_cg_takes_fewer_iterations_on_variable_diffusion():
    p = variable_diffusion2d(30, contrast=1e4, seed=1)
    iterations = {}
    for name, M in [("jacobi", jacobi(p.A)), ("ssor", ssor(p.A)), ("ichol0", ichol0(p.A))]:
        plain, iterations[name] = plain_and_preconditioned(p, M)
        assert iterations[name] < 0.7 * plain, (name, plain, iterations[name])
    assert iterations["ichol0"] < iterations["jacobi"]


def test_preconditioners_work_in_gmres_and_in_scipy():
    p = convection_diffusion2d(20, peclet=30.0)
    plain, pre = plain_and_preconditioned(p, ssor(p.A), solver=gmres, restart=30)
    assert pre < plain
    q = poisson2d(20)
    x, info = sla.cg(q.A, q.b, rtol=1e-10, M=ichol0(q.A))
    assert info == 0
    np.testing.assert_allclose(x, q.x_true, rtol=1e-6, atol=1e-6)


def test_preconditioner_accepts_column_vectors_and_has_a_readable_repr():
    M = jacobi(np.diag([2.0, 4.0]))
    assert isinstance(M, Preconditioner)
    np.testing.assert_allclose(M.matvec(np.ones((2, 1))), [[0.5], [0.25]])
    assert repr(M) == "<jacobi preconditioner of order 2>"


def test_variable_diffusion_problem_is_spd_with_a_wide_diagonal():
    p = variable_diffusion2d(12, contrast=1e3, seed=2)
    A = p.A.toarray()
    np.testing.assert_array_equal(A, A.T)
    assert np.linalg.eigvalsh(A).min() > 0
    d = np.diag(A)
    assert 100 < d.max() / d.min() <= 4 * 1e3
    np.testing.assert_allclose(p.A @ p.x_true, p.b)
    flat = variable_diffusion2d(5, contrast=1.0)
    assert abs(flat.A - poisson2d(5).A).max() < 1e-12
    with pytest.raises(ValueError, match="contrast must be a finite number >= 1"):
        variable_diffusion2d(5, contrast=0.1)


def test_ichol0_refuses_a_pattern_too_full_for_it():
    A = random_spd(400, 10.0, seed=0).A  # dense: 400^3 / 6 candidate updates
    with pytest.raises(ValueError, match="meant for sparse matrices.*cho_factor"):
        ichol0(A)


# --- algebraic multigrid ----------------------------------------------------------

def test_amg_iterations_hardly_grow_with_the_grid():
    counts = []
    for m in (16, 32, 64):
        p = poisson2d(m)
        M = amg(p.A)
        assert isinstance(M, Preconditioner) and M.ml.levels[0].A.shape == (m * m, m * m)
        plain, pre = plain_and_preconditioned(p, M)
        counts.append(pre)
        assert pre < plain / 3, (m, plain, pre)
    assert max(counts) - min(counts) <= 3, counts


def test_amg_is_symmetric_positive_definite_for_cg():
    p = variable_diffusion2d(20, contrast=1e3, seed=4)
    M = as_dense(amg(p.A), p.n)
    np.testing.assert_allclose(M, M.T, atol=1e-10 * np.abs(M).max())
    assert np.linalg.eigvalsh((M + M.T) / 2).min() > 0


def test_amg_passes_options_to_pyamg_and_refuses_operators():
    p = poisson2d(12)
    M = amg(p.A, max_coarse=4, max_levels=2)
    assert len(M.ml.levels) == 2
    with pytest.raises(ValueError, match="needs the entries of A"):
        amg(sla.aslinearoperator(p.A))
    with pytest.raises(ValueError, match="square"):
        amg(np.ones((2, 3)))
