"""The benchmark runs: `benchmarks/run.py --quick` prints its table with
finite ratios and a verdict against parity, and every bandwidth figure it
prints is physically possible (at most 100% of the streaming reference)."""

import importlib.util
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from krylov_ref.problems import poisson2d

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "benchmarks" / "run.py"
SOLVERS = ["cg", "gmres(30)", "minres", "bicgstab"]


@pytest.fixture(scope="module")
def run_module():
    spec = importlib.util.spec_from_file_location("bench_run", RUN)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_run"] = module  # dataclasses look it up
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules["bench_run"]


def test_quick_benchmark_prints_a_table_of_finite_ratios_and_possible_bandwidths():
    done = subprocess.run([sys.executable, str(RUN), "--quick"], capture_output=True,
                          text=True, timeout=300, cwd=ROOT)
    # Exit status 1 is the script refusing an impossible figure, and says so.
    assert done.returncode == 0 or (done.returncode == 1 and "MEASUREMENT ERROR" in done.stdout), \
        done.stdout + done.stderr
    lines = done.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("solver"))
    assert lines[header].split()[-3:] == ["IQR", "vs", "scipy"]
    rows = {line.split()[0]: line.split() for line in lines[header + 2: header + 2 + len(SOLVERS)]}
    assert sorted(rows) == sorted(SOLVERS), done.stdout
    for fields in rows.values():
        # ... ours_ms scipy_ms ratio low-high verdict
        ours_ms, scipy_ms, ratio = (float(f) for f in fields[-5:-2])
        assert all(math.isfinite(v) and v > 0 for v in (ours_ms, scipy_ms, ratio)), fields
        # The ratio is the median of the pairs' ratios, inside their quartiles.
        low, high = (float(v) for v in fields[-2].split("-"))
        assert 0 < low <= ratio <= high, fields
        verdict = "faster" if high < 1 else "SLOWER" if low > 1 else "parity"
        assert fields[-1] == verdict, fields
    assert not any("target" in line for line in lines)  # the CG target is retired
    assert any(line.startswith("streaming reference") and "np.add(b, c, out=a)" in line
               and "np.add(a, b, out=a)" in line and "np.copyto(a, b)" in line for line in lines)
    assert any(line.startswith("CG bytes per iteration, lower bound") for line in lines)
    shares = [float(m) for m in re.findall(r"= (\d+)% of the reference", done.stdout)]
    assert len(shares) + done.stdout.count("MEASUREMENT ERROR") == 3, done.stdout
    assert all(0 < s <= 100 for s in shares), shares
    assert any(line.startswith("ichol0 factorisation") for line in lines)
    assert any(line.startswith("Newton-CG") for line in lines)
    assert lines[-1].startswith("load average (1 min):")  # how busy the machine was


def test_an_impossible_fraction_is_refused(run_module):
    assert run_module.percent_of(0.5, 1.0, "x") == "50%"
    assert run_module.percent_of(1.0, 1.0, "x") == "100%"
    for impossible in (1.04, 1.35, 0.0, float("nan")):
        with pytest.raises(run_module.MeasurementError, match="physically impossible"):
            run_module.percent_of(impossible, 1.0, "cg")


def test_bandwidth_report_marks_an_impossible_figure(run_module):
    A = poisson2d(30).A
    stream = {"np.add(b, c, out=a)": 20.0, "np.copyto(a, b)": 18.0}  # GB/s
    parts = run_module.cg_bytes_per_iteration(A)
    total = sum(parts.values())
    csr = total - parts["vector updates"] - parts["dot products"]
    # A CG iteration "taking" half the time the reference needs for its bytes.
    fast_ms = 0.5 * 1e3 * total / 20e9
    csr_ms = 1e3 * csr / (0.45 * 20e9)  # the product alone at 45% of the reference
    lines, ok = run_module.bandwidth_report(A, fast_ms, 10 * fast_ms, csr_ms, stream)
    assert not ok
    assert any(line.strip().startswith("MEASUREMENT ERROR: krylov_ref cg: 200%") for line in lines)
    assert any(line.strip().startswith("scipy cg:") and "= 20% of the reference" in line
               for line in lines)
    assert any(line.strip().startswith("CSR product A @ p alone:") and "= 45% of the reference" in line
               for line in lines)


def test_cg_bytes_per_iteration_counts_csr_vector_and_dot_traffic(run_module):
    m = 10
    A = poisson2d(m).A
    n, nnz = m * m, 5 * m * m - 4 * m
    parts = run_module.cg_bytes_per_iteration(A)
    assert parts["values"] == 8 * nnz and parts["column indices"] == 4 * nnz
    assert parts["row pointers"] == 4 * (n + 1)
    assert parts["p read"] == parts["q write"] == 8 * n
    assert parts["vector updates"] == 3 * 24 * n   # x, r, p: read two, write one
    assert parts["dot products"] == (16 + 8) * n   # p^T q and r^T r
    assert sum(parts.values()) == 12 * nnz + 4 * (n + 1) + 112 * n


def test_stream_operations_do_one_pass_and_are_credited_with_its_bytes(run_module):
    n = 1000
    operations = run_module.stream_operations(n)
    assert {name: nbytes for name, (_, nbytes) in operations.items()} == {
        "np.add(b, c, out=a)": 24 * n, "np.add(a, b, out=a)": 24 * n, "np.copyto(a, b)": 16 * n}
    for operation, _ in operations.values():
        operation()


def test_missing_newton_benchmark_is_reported_not_fatal(run_module, tmp_path, monkeypatch):
    monkeypatch.setattr(run_module, "HERE", tmp_path)
    assert run_module.newton_rows(quick=True) is None
    (tmp_path / "bench_newton.py").write_text(
        "def run(quick):\n    return [{'case': 'x', 'ours_s': 1.5, 'scipy_s': 3.0}]\n")
    rows = run_module.newton_rows(quick=True)
    assert rows == [{"case": "x", "ours_s": 1.5, "scipy_s": 3.0}]
    table = run_module.format_rows(rows)
    assert "ours_s" in table and "1.5" in table
