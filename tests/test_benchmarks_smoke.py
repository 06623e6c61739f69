"""The benchmark runs: `benchmarks/run.py --quick` prints its table with
finite ratios (whether targets are met is for the full run to say)."""

import importlib.util
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "benchmarks" / "run.py"
SOLVERS = ["cg", "gmres(30)", "minres", "bicgstab"]


def test_quick_benchmark_prints_a_table_of_finite_ratios():
    done = subprocess.run([sys.executable, str(RUN), "--quick"], capture_output=True,
                          text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("solver"))
    rows = {line.split()[0]: line.split() for line in lines[header + 2: header + 2 + len(SOLVERS)]}
    assert sorted(rows) == sorted(SOLVERS), done.stdout
    for fields in rows.values():
        # ... ours_ms scipy_ms ratio "<=" target met
        ours_ms, scipy_ms, ratio = (float(f) for f in fields[-6:-3])
        assert all(math.isfinite(v) and v > 0 for v in (ours_ms, scipy_ms, ratio)), fields
        # The printed times are rounded to microseconds; the ratio is not.
        assert abs(ratio - ours_ms / scipy_ms) <= 0.05 * ratio + 0.01, fields
        assert fields[-1] in ("yes", "NO")
    assert any("stream triad" in line and "GB/s" in line for line in lines)
    assert any(line.startswith("ichol0 factorisation") for line in lines)
    assert any(line.startswith("Newton-CG") for line in lines)


def test_missing_newton_benchmark_is_reported_not_fatal(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_run", RUN)
    run = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_run", run)  # dataclasses look it up
    spec.loader.exec_module(run)
    monkeypatch.setattr(run, "HERE", tmp_path)
    assert run.newton_rows(quick=True) is None
    (tmp_path / "bench_newton.py").write_text(
        "def run(quick):\n    return [{'case': 'x', 'ours_s': 1.5, 'scipy_s': 3.0}]\n")
    rows = run.newton_rows(quick=True)
    assert rows == [{"case": "x", "ours_s": 1.5, "scipy_s": 3.0}]
    table = run.format_rows(rows)
    assert "ours_s" in table and "1.5" in table
