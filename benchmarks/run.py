"""krylov_ref against SciPy: the same problems, in the same run, as ratios.

    python benchmarks/run.py           # full sizes, a few minutes (make bench)
    python benchmarks/run.py --quick   # tiny sizes, a few seconds (the smoke test)

For each solver it prints one row of a table:

* iterations to ``rtol`` for ours and SciPy's, each by its own stopping rule
  (for MINRES, whose SciPy stopping rule differs, SciPy's count is the first
  iterate whose true residual meets our rule);
* milliseconds per iteration, the median of several timed runs of a fixed
  number of iterations (``rtol = atol = 0``), ours and SciPy's interleaved so
  that both see the same machine load;
* the ratio ours / SciPy and the target.

An iteration is one product with A for every solver: an inner step for GMRES,
a half-step for BiCGSTAB (SciPy's whole BiCGSTAB step counts as two).

Below the table: the effective memory bandwidth of one CG iteration against a
stream triad measured in the same run, and the IC(0) factorisation time. A
second section prints the Newton-CG rows of ``benchmarks/bench_newton.py``
when that file exists.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy
import scipy.sparse.linalg as sla

from krylov_ref import bicgstab, cg, gmres, minres
from krylov_ref.precond import ichol0
from krylov_ref.problems import convection_diffusion2d, poisson2d, symmetric_indefinite

HERE = Path(__file__).resolve().parent
RTOL = 1e-6
RESTART = 30


@dataclass
class Size:
    cg_m: int
    gmres_m: int
    minres_n: int
    bicgstab_m: int
    ichol_m: int
    triad_n: int
    timed_iterations: int
    repeats: int


FULL = Size(cg_m=1000, gmres_m=316, minres_n=500_000, bicgstab_m=500, ichol_m=500,
            triad_n=20_000_000, timed_iterations=120, repeats=11)
QUICK = Size(cg_m=60, gmres_m=40, minres_n=5_000, bicgstab_m=40, ichol_m=60,
             triad_n=1_000_000, timed_iterations=30, repeats=3)


class Counter:
    """A callback that counts its calls: how SciPy's iterations are counted.

    Ours report ``iterations`` in their result and run without a callback
    (our GMRES forms x for a callback at every inner step, which SciPy's
    ``pr_norm`` callback does not; a no-op increment costs SciPy nothing)."""

    def __init__(self):
        self.calls = 0

    def __call__(self, *args):
        self.calls += 1


# --- the solvers, ours and SciPy's, as "run k iterations, return how many" ----

def ours(solver, **options):
    def run(A, b, rtol, maxiter):
        return solver(A, b, rtol=rtol, atol=0.0, maxiter=maxiter, **options).iterations
    return run


def scipy_cg(A, b, rtol, maxiter):
    count = Counter()
    sla.cg(A, b, rtol=rtol, atol=0.0, maxiter=maxiter, callback=count)
    return count.calls


def scipy_gmres(A, b, rtol, maxiter):
    # SciPy's maxiter counts restart cycles; pr_norm calls come per inner step.
    count = Counter()
    sla.gmres(A, b, rtol=rtol, atol=0.0, restart=RESTART,
              maxiter=max(1, math.ceil(maxiter / RESTART)),
              callback=count, callback_type="pr_norm")
    return count.calls


def scipy_bicgstab(A, b, rtol, maxiter):
    # One SciPy step is two products with A, two of our iterations.
    count = Counter()
    sla.bicgstab(A, b, rtol=rtol, atol=0.0, maxiter=max(1, maxiter // 2), callback=count)
    return 2 * count.calls


def scipy_minres(A, b, rtol, maxiter):
    count = Counter()
    sla.minres(A, b, rtol=rtol, maxiter=maxiter, callback=count)
    return count.calls


def scipy_minres_iterations_to(A, b, rtol, maxiter):
    """SciPy's MINRES stops on ||r|| <= rtol ||A|| ||x|| (||A|| estimated
    from T), not on ours: count its iterations until ||b - A x_k|| <= rtol ||b||."""
    tol = rtol * np.linalg.norm(b)
    residuals = []
    sla.minres(A, b, rtol=rtol * 1e-3, maxiter=maxiter,
               callback=lambda xk: residuals.append(np.linalg.norm(b - A @ xk)))
    met = np.flatnonzero(np.array(residuals) <= tol)
    return int(met[0]) + 1 if met.size else len(residuals)


@dataclass
class Case:
    solver: str
    problem: object
    ours: object
    scipy: object
    target: float
    scipy_iterations_to_rtol: object = None


def cases(size):
    yield Case("cg", poisson2d(size.cg_m), ours(cg), scipy_cg, 0.85)
    yield Case(f"gmres({RESTART})", convection_diffusion2d(size.gmres_m, peclet=100.0),
               ours(gmres, restart=RESTART), scipy_gmres, 0.7)
    yield Case("minres", symmetric_indefinite(size.minres_n, cond=20.0, negative=0.5),
               ours(minres), scipy_minres, 1.0, scipy_minres_iterations_to)
    yield Case("bicgstab", convection_diffusion2d(size.bicgstab_m, peclet=100.0),
               ours(bicgstab), scipy_bicgstab, 1.0)


def seconds_per_iteration(run, A, b, iterations, samples):
    start = time.perf_counter()
    done = run(A, b, 0.0, iterations)
    samples.append((time.perf_counter() - start) / done)


def measure(case, size):
    A, b = case.problem.A, case.problem.b
    maxiter = 20 * b.size
    ours_iterations = case.ours(A, b, RTOL, maxiter)
    count_scipy = case.scipy_iterations_to_rtol or case.scipy
    scipy_iterations = count_scipy(A, b, RTOL, maxiter)
    ours_s, scipy_s = [], []
    for _ in range(size.repeats):  # interleaved: both see the same load
        seconds_per_iteration(case.ours, A, b, size.timed_iterations, ours_s)
        seconds_per_iteration(case.scipy, A, b, size.timed_iterations, scipy_s)
    ours_ms, scipy_ms = 1e3 * np.median(ours_s), 1e3 * np.median(scipy_s)
    return dict(solver=case.solver, problem=case.problem.name, n=b.size,
                ours_iterations=ours_iterations, scipy_iterations=scipy_iterations,
                ours_ms=ours_ms, scipy_ms=scipy_ms, ratio=ours_ms / scipy_ms,
                target=case.target)


def triad_bandwidth(n, repeats):
    """Stream triad a = b + s c in place, in GB/s, counting 24 bytes per
    element as STREAM does (numpy's two passes move more)."""
    rng = np.random.default_rng(0)
    a, b, c = np.empty(n), rng.standard_normal(n), rng.standard_normal(n)
    s = 3.0
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        np.multiply(c, s, out=a)
        np.add(a, b, out=a)
        samples.append(time.perf_counter() - start)
    return 24 * n / np.median(samples) / 1e9


def cg_bytes_per_iteration(A):
    """Bytes one unpreconditioned CG iteration must move: the CSR product
    (values, column indices, row pointers, read p, write q) and the vector
    work: p^T q (2 vectors), x += alpha p and r -= alpha q (3 each),
    r^T r (1), p = r + beta p (3)."""
    n = A.shape[0]
    csr = A.data.nbytes + A.indices.nbytes + A.indptr.nbytes + 2 * 8 * n
    vectors = (2 + 3 + 3 + 1 + 3) * 8 * n
    return csr + vectors


def ichol0_seconds(m, repeats):
    A = poisson2d(m).A
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        ichol0(A)
        samples.append(time.perf_counter() - start)
    return float(np.median(samples))


def format_table(rows):
    header = (f"{'solver':<10} {'problem':<50} {'n':>9} {'iters':>7} {'scipy':>7} "
              f"{'ms/it':>8} {'scipy':>8} {'ratio':>6} {'target':>7} {'met':>4}")
    lines = [header, "-" * len(header)]
    for r in rows:
        met = "yes" if r["ratio"] <= r["target"] else "NO"
        lines.append(
            f"{r['solver']:<10} {r['problem']:<50} {r['n']:>9} {r['ours_iterations']:>7} "
            f"{r['scipy_iterations']:>7} {r['ours_ms']:>8.3f} {r['scipy_ms']:>8.3f} "
            f"{r['ratio']:>6.2f} {'<= ' + format(r['target'], '.2f'):>7} {met:>4}")
    return "\n".join(lines)


def format_rows(rows):
    """Any list of dicts as a plain table, columns in order of appearance."""
    if not rows:
        return "(no rows)"
    keys = list(dict.fromkeys(k for row in rows for k in row))

    def cell(value):
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value)

    cells = [[cell(row.get(k, "")) for k in keys] for row in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    lines = ["  ".join(k.ljust(w) for k, w in zip(keys, widths))]
    lines.append("-" * len(lines[0]))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def newton_rows(quick):
    """Rows from benchmarks/bench_newton.py's run(quick), or None if absent."""
    path = HERE / "bench_newton.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location("bench_newton", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.run(quick)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a few seconds")
    args = parser.parse_args(argv)
    size = QUICK if args.quick else FULL
    print(f"krylov_ref against SciPy {scipy.__version__} (numpy {np.__version__}, "
          f"Python {platform.python_version()}), rtol = {RTOL:g}, "
          f"{'quick' if args.quick else 'full'} sizes; ms per iteration is the median of "
          f"{size.repeats} runs of {size.timed_iterations} iterations")
    print()
    rows = []
    for case in cases(size):
        rows.append(measure(case, size))
        if case.solver == "cg":
            cg_row, cg_matrix = rows[-1], case.problem.A
    print(format_table(rows))
    print()
    triad = triad_bandwidth(size.triad_n, max(5, size.repeats))
    effective = cg_bytes_per_iteration(cg_matrix) / (cg_row["ours_ms"] / 1e3) / 1e9
    print(f"cg memory bandwidth: {effective:.1f} GB/s effective "
          f"({cg_bytes_per_iteration(cg_matrix) / 1e6:.0f} MB per iteration), "
          f"stream triad {triad:.1f} GB/s in place: {100 * effective / triad:.0f}% "
          f"(target >= 60%)")
    ichol_m = size.ichol_m
    print(f"ichol0 factorisation of poisson2d(m={ichol_m}), n = {ichol_m**2}: "
          f"{ichol0_seconds(ichol_m, 1 if not args.quick else 3):.2f} s")
    print()
    print("Newton-CG (benchmarks/bench_newton.py)")
    extra = newton_rows(args.quick)
    print("(bench_newton.py not present)" if extra is None else format_rows(extra))
    return 0


if __name__ == "__main__":
    sys.exit(main())
