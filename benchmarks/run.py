"""krylov_ref against SciPy: the same problems, in the same run, as ratios.

    python benchmarks/run.py           # full sizes, a few minutes (make bench)
    python benchmarks/run.py --quick   # small sizes, a few seconds (the smoke test)

For each solver it prints one row of a table:

* iterations to ``rtol`` for ours and SciPy's, each by its own stopping rule
  (for MINRES, whose SciPy stopping rule differs, SciPy's count is the first
  iterate whose true residual meets our rule);
* milliseconds per iteration, the median of several timed runs of a fixed
  number of iterations (``rtol = atol = 0``), ours and SciPy's interleaved so
  that both see the same machine load;
* the ratio ours / SciPy (the median over the interleaved pairs of runs),
  its spread (the interquartile range of the pairs' ratios), and the
  verdict against parity: "faster" when even the upper
  quartile is below 1, "SLOWER" when even the lower quartile is above 1,
  "parity" otherwise.

An iteration is one product with A for every solver: an inner step for GMRES,
a half-step for BiCGSTAB (SciPy's whole BiCGSTAB step counts as two).

Below the table: CG's bytes-per-iteration lower bound on the 2-D Poisson
matrix, and how close ours, SciPy's and the CSR product alone come to it,
against a streaming reference timed between the CG runs with one-pass
operations credited with the bytes they name (``np.add(b, c, out=a)`` and
``np.add(a, b, out=a)``: 24 bytes per element; ``np.copyto(a, b)``: 16). A fraction
above 100% of the reference is physically impossible: the script prints it
as a MEASUREMENT ERROR and exits with status 1. Then the IC(0) factorisation
time, and the Newton-CG rows of ``benchmarks/bench_newton.py`` when that file
exists.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
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
    stream_n: int
    timed_iterations: int
    repeats: int


# The CG problem doubles as the bandwidth case, so even the quick one must not
# fit in the caches (32 MiB of L3 here): poisson2d(700) moves 86 MB per
# iteration, and the streaming reference works on 3 x 32 MB.
FULL = Size(cg_m=1000, gmres_m=316, minres_n=500_000, bicgstab_m=500, ichol_m=500,
            stream_n=20_000_000, timed_iterations=120, repeats=11)
QUICK = Size(cg_m=700, gmres_m=40, minres_n=5_000, bicgstab_m=40, ichol_m=60,
             stream_n=4_000_000, timed_iterations=20, repeats=3)


class MeasurementError(RuntimeError):
    """A measured figure that cannot be physically true."""


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
    scipy_iterations_to_rtol: object = None


def cases(size):
    yield Case("cg", poisson2d(size.cg_m), ours(cg), scipy_cg)
    yield Case(f"gmres({RESTART})", convection_diffusion2d(size.gmres_m, peclet=100.0),
               ours(gmres, restart=RESTART), scipy_gmres)
    yield Case("minres", symmetric_indefinite(size.minres_n, cond=20.0, negative=0.5),
               ours(minres), scipy_minres, scipy_minres_iterations_to)
    yield Case("bicgstab", convection_diffusion2d(size.bicgstab_m, peclet=100.0),
               ours(bicgstab), scipy_bicgstab)


def seconds_per_iteration(run, A, b, iterations, samples):
    start = time.perf_counter()
    done = run(A, b, 0.0, iterations)
    samples.append((time.perf_counter() - start) / done)


def seconds(operation):
    start = time.perf_counter()
    operation()
    return time.perf_counter() - start


def measure(case, size, companions=None):
    """One row of the table. ``companions`` (name -> operation) are timed
    once per repeat between the solver runs, so that they see the same
    machine load; their median seconds come back under "companions"."""
    A, b = case.problem.A, case.problem.b
    maxiter = 20 * b.size
    ours_iterations = case.ours(A, b, RTOL, maxiter)
    count_scipy = case.scipy_iterations_to_rtol or case.scipy
    scipy_iterations = count_scipy(A, b, RTOL, maxiter)
    companions = companions or {}
    for operation in companions.values():
        operation()  # first touch: page faults are not what we measure
    ours_s, scipy_s = [], []
    companion_s = {name: [] for name in companions}
    for _ in range(size.repeats):  # interleaved: all see the same load
        seconds_per_iteration(case.ours, A, b, size.timed_iterations, ours_s)
        seconds_per_iteration(case.scipy, A, b, size.timed_iterations, scipy_s)
        for name, operation in companions.items():
            companion_s[name].append(seconds(operation))
    # Each pair of runs saw the same load: the ratio is the median of the
    # pairs' ratios, and their quartiles show its noise.
    low, ratio, high = np.percentile(np.array(ours_s) / np.array(scipy_s), [25, 50, 75])
    return dict(solver=case.solver, problem=case.problem.name, n=b.size,
                ours_iterations=ours_iterations, scipy_iterations=scipy_iterations,
                ours_ms=1e3 * np.median(ours_s), scipy_ms=1e3 * np.median(scipy_s),
                ratio=float(ratio), ratio_low=float(low), ratio_high=float(high),
                companions={name: float(np.median(t)) for name, t in companion_s.items()})


def verdict(row):
    """Against parity, allowing for the run-to-run noise of the ratio.

    Judged on the quartiles as the table prints them (two decimals), so a
    reader can check every verdict against its own row.
    """
    if round(row["ratio_high"], 2) < 1.0:
        return "faster"
    if round(row["ratio_low"], 2) > 1.0:
        return "SLOWER"
    return "parity"


def stream_operations(n):
    """One-pass numpy operations and the bytes each is credited with:
    ``np.add(b, c, out=a)`` reads b and c and writes a (24 B per element),
    ``np.add(a, b, out=a)`` reads a and b and writes a (24 B), and
    ``np.copyto(a, b)`` reads b and writes a (16 B). Writing an array that
    is not in the cache first reads it (write-allocate): the first and the
    last really move 32 and 24 B, the in-place addition exactly its 24. The
    fastest is the reference, the nearest to what the memory delivers."""
    rng = np.random.default_rng(0)
    a, b, c = np.empty(n), rng.standard_normal(n), rng.standard_normal(n)
    return {
        "np.add(b, c, out=a)": (lambda: np.add(b, c, out=a), 24 * n),
        "np.add(a, b, out=a)": (lambda: np.add(a, b, out=a), 24 * n),
        "np.copyto(a, b)": (lambda: np.copyto(a, b), 16 * n),
    }


def cg_bytes_per_iteration(A):
    """The bytes one unpreconditioned CG iteration must move at least, by part.

    Each operation is done once and touches each of its operands once:

    * the CSR product q = A p: values (8 B per nonzero), column indices (4 B
      per nonzero for int32), row pointers (4 B per row + 4), p read (8 B per
      row, once, however often the rows gather it), q written (8 B per row);
    * the vector updates x += alpha p, r -= alpha q, p = r + beta p: two
      reads and a write each, 24 B per row;
    * the dot products p^T q (16 B per row) and r^T r (8 B per row).
    """
    n = A.shape[0]
    return {
        "values": A.data.nbytes,
        "column indices": A.indices.nbytes,
        "row pointers": A.indptr.nbytes,
        "p read": 8 * n,
        "q write": 8 * n,
        "vector updates": 3 * 24 * n,
        "dot products": (16 + 8) * n,
    }


def percent_of(achieved, reference, what):
    """``achieved / reference`` as a percentage, refusing what cannot be."""
    fraction = achieved / reference
    if not 0.0 < fraction <= 1.0:
        raise MeasurementError(
            f"{what}: {100 * fraction:.0f}% of the streaming reference is physically "
            "impossible; the reference was measured under load, or the data were cached")
    return f"{100 * fraction:.0f}%"


def bandwidth_report(A, ours_ms, scipy_ms, spmv_ms, stream):
    """Lines comparing CG with its bytes-per-iteration bound; a line whose
    fraction is impossible reads MEASUREMENT ERROR. Returns (lines, ok).

    ``stream`` maps the streaming operations to their GB/s, ``spmv_ms`` is
    the time of the CSR product ``A @ p`` alone; all are timed between the
    runs of the two CGs, so that they see the same machine load.
    """
    parts = cg_bytes_per_iteration(A)
    csr = sum(parts[k] for k in ("values", "column indices", "row pointers", "p read", "q write"))
    total = sum(parts.values())
    reference = max(stream.values())
    bound_ms = 1e3 * total / (reference * 1e9)
    mb = lambda nbytes: f"{nbytes / 1e6:.1f} MB"
    lines = [
        "streaming reference, timed between the CG runs: " + ", ".join(
            f"{name} {gbs:.1f} GB/s" for name, gbs in stream.items())
        + f"; the fastest, {reference:.1f} GB/s, is the reference",
        f"CG bytes per iteration, lower bound, n = {A.shape[0]}: {mb(total)} = "
        f"CSR product {mb(csr)} (values {mb(parts['values'])}, column indices "
        f"{mb(parts['column indices'])}, row pointers {mb(parts['row pointers'])}, "
        f"p read {mb(parts['p read'])}, q write {mb(parts['q write'])}) "
        f"+ vector updates {mb(parts['vector updates'])} + dot products {mb(parts['dot products'])}",
        f"  at the reference bandwidth: {bound_ms:.2f} ms per iteration",
    ]
    ok = True
    for who, ms, nbytes in [("krylov_ref cg", ours_ms, total), ("scipy cg", scipy_ms, total),
                            ("CSR product A @ p alone", spmv_ms, csr)]:
        effective = nbytes / (ms / 1e3) / 1e9
        try:
            share = percent_of(effective, reference, who)
        except MeasurementError as error:
            lines.append(f"  MEASUREMENT ERROR: {error}")
            ok = False
            continue
        lines.append(f"  {who + ':':<25} {ms:7.2f} ms for {mb(nbytes)}, {effective:5.1f} GB/s "
                     f"effective = {share} of the reference "
                     f"({ms / (1e3 * nbytes / (reference * 1e9)):.2f} x its time bound)")
    return lines, ok


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
              f"{'ms/it':>8} {'scipy':>8} {'ratio':>6} {'IQR':>11} {'vs scipy':>8}")
    lines = [header, "-" * len(header)]
    for r in rows:
        spread = f"{r['ratio_low']:.2f}-{r['ratio_high']:.2f}"
        lines.append(
            f"{r['solver']:<10} {r['problem']:<50} {r['n']:>9} {r['ours_iterations']:>7} "
            f"{r['scipy_iterations']:>7} {r['ours_ms']:>8.3f} {r['scipy_ms']:>8.3f} "
            f"{r['ratio']:>6.2f} {spread:>11} {verdict(r):>8}")
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
    load_at_start = os.getloadavg()[0]
    print(f"krylov_ref against SciPy {scipy.__version__} (numpy {np.__version__}, "
          f"Python {platform.python_version()}), rtol = {RTOL:g}, "
          f"{'quick' if args.quick else 'full'} sizes; ms per iteration is the median of "
          f"{size.repeats} runs of {size.timed_iterations} iterations")
    print()
    rows = []
    for case in cases(size):
        companions = None
        if case.solver == "cg":
            # The bandwidth figures below: the streaming reference and the
            # CSR product alone, timed between the CG runs.
            cg_matrix = case.problem.A
            p = np.random.default_rng(1).standard_normal(cg_matrix.shape[0])
            stream = stream_operations(size.stream_n)
            companions = {name: operation for name, (operation, _) in stream.items()}
            companions["A @ p"] = lambda: cg_matrix @ p
        rows.append(measure(case, size, companions))
        if case.solver == "cg":
            cg_row = rows[-1]
            seconds_of = cg_row.pop("companions")
        else:
            rows[-1].pop("companions")
    print(format_table(rows))
    print()
    bandwidths = {name: nbytes / seconds_of[name] / 1e9 for name, (_, nbytes) in stream.items()}
    lines, bandwidth_ok = bandwidth_report(cg_matrix, cg_row["ours_ms"], cg_row["scipy_ms"],
                                           1e3 * seconds_of["A @ p"], bandwidths)
    print("\n".join(lines))
    ichol_m = size.ichol_m
    print(f"ichol0 factorisation of poisson2d(m={ichol_m}), n = {ichol_m**2}: "
          f"{ichol0_seconds(ichol_m, 1 if not args.quick else 3):.2f} s")
    print()
    print("Newton-CG (benchmarks/bench_newton.py)")
    extra = newton_rows(args.quick)
    print("(bench_newton.py not present)" if extra is None else format_rows(extra))
    print()
    # Other jobs on the machine move every figure above; say how busy it was.
    print(f"load average (1 min): {load_at_start:.2f} at the start, "
          f"{os.getloadavg()[0]:.2f} at the end, on {os.cpu_count()} cores")
    return 0 if bandwidth_ok else 1


if __name__ == "__main__":
    sys.exit(main())
