"""Newton-CG: krylov_ref.newton_cg against SciPy's Newton-CG and L-BFGS-B,
on the same problems, to the same gradient norm: a synthetic logistic
regression, scikit-learn's breast-cancer data (standardised, an intercept
column, lam = 1/m; lesson 07's race) and lesson 07's two-layer network.

Every method stops when ``||grad f(x)||_2 <= 1e-6``: ours by its ``gtol``,
SciPy's methods by a callback that raises ``StopIteration`` (their own
tests measure other things: Newton-CG the step length, L-BFGS-B the largest
gradient entry). The callback reads the gradient the method itself last
evaluated when that was at the new iterate, and otherwise evaluates it
uncounted, so the counts are the methods' own work.

    python benchmarks/bench_newton.py           # full size, prints a table
    python benchmarks/bench_newton.py --quick   # a tiny problem
"""

from __future__ import annotations

import sys
import time

import numpy as np
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from krylov_ref.models import LogisticRegression, TwoLayerMLP, logistic_data
from krylov_ref.newton import newton_cg

GTOL = 1e-6
FULL = dict(m=10_000, n=500, lam=1e-4, cond=10.0)
QUICK = dict(m=500, n=20, lam=1e-3, cond=10.0)


class _Counted:
    """Counts calls; remembers the last point and value, for the stop test."""

    def __init__(self, func):
        self.func, self.count = func, 0
        self.last_x, self.last_value = None, None

    def __call__(self, x, *args):
        self.count += 1
        value = self.func(x, *args)
        self.last_x, self.last_value = np.array(x, copy=True), value
        return value


def breast_cancer():
    """Lesson 07's race: standardised features and a column of ones, lam = 1/m."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    X = np.column_stack([StandardScaler().fit_transform(X), np.ones(len(y))])
    return LogisticRegression(X, y.astype(float), lam=1.0 / len(y))


def network(hidden=10):
    """Lesson 07's network: 200 points in [-2, 2]^2, targets sin(x1) cos(x2)."""
    X = np.random.default_rng(0).uniform(-2, 2, (200, 2))
    return TwoLayerMLP(X, np.sin(X[:, 0]) * np.cos(X[:, 1]), hidden=hidden, lam=1e-4)


class _NetworkModel:
    """A TwoLayerMLP seen as a model with ``loss``, ``gradient``, ``hessp``."""

    def __init__(self, net):
        self.net = net
        self.loss, self.gradient, self.hessp = net.loss, net.gradient, net.hessp

    def start(self):
        return self.net.init_params(seed=0)


def _stop_at_gtol(model, grad):
    def callback(intermediate_result):
        x = intermediate_result.x
        if grad.last_x is not None and np.array_equal(x, grad.last_x):
            g = grad.last_value
        else:
            g = model.gradient(x)  # uncounted: only the benchmark's stop test needs it
        if np.linalg.norm(g) <= GTOL:
            raise StopIteration
    return callback


def _ours(model, x0):
    res = newton_cg(model.loss, model.gradient, x0, hessp=model.hessp, gtol=GTOL, maxiter=1000)
    return res.x, res.nfev, res.ngev, res.nhev


def _scipy(method):
    def solve(model, x0):
        fun, grad = _Counted(model.loss), _Counted(model.gradient)
        hessp = _Counted(model.hessp)
        extra = {}
        if method == "Newton-CG":
            extra["hessp"] = hessp
            # its own test is on the step length; the callback decides instead
            options = {"xtol": 1e-30, "maxiter": 1000}
        else:
            options = {"gtol": 0.0, "ftol": 0.0, "maxiter": 10_000, "maxfun": 100_000}
        res = minimize(fun, x0, jac=grad, method=method, callback=_stop_at_gtol(model, grad),
                       options=options, **extra)
        return res.x, fun.count, grad.count, hessp.count
    return solve


METHODS = {
    "krylov_ref newton_cg": _ours,
    "scipy Newton-CG": _scipy("Newton-CG"),
    "scipy L-BFGS-B": _scipy("L-BFGS-B"),
}


def _cases(quick):
    size = QUICK if quick else FULL
    X, y, _ = logistic_data(size["m"], size["n"], seed=0, cond=size["cond"])
    synthetic = (f"logistic regression m={size['m']} n={size['n']} "
                 f"lam={size['lam']:g} cond={size['cond']:g}")
    # fresh models for every run: no cached curvature
    yield synthetic, lambda: LogisticRegression(X, y, lam=size["lam"]), lambda m: np.zeros(size["n"])
    yield ("breast cancer (lesson 07) m=569 n=31 lam=1/m", breast_cancer,
           lambda m: np.zeros(31))
    if not quick:
        yield ("two-layer network (lesson 07) 41 parameters", lambda: _NetworkModel(network()),
               lambda m: m.start())


def run(quick: bool) -> list[dict]:
    """Run every method on every case.

    Returns one dict per case and method with keys ``case``, ``method``,
    ``nfev``, ``ngev``, ``nhev``, ``seconds`` (median over repeats) and
    ``grad_norm`` (``||grad f||_2`` at the returned point).
    """
    repeats = 3
    rows = []
    with threadpool_limits(1):
        # one BLAS thread: SciPy's L-BFGS-B makes many tiny BLAS calls, whose thread
        # hand-offs cost far more than they save on a busy 2-core machine
        _run_cases(quick, repeats, rows)
    return rows


def _run_cases(quick, repeats, rows):
    for case, make, start_of in _cases(quick):
        for name, solve in METHODS.items():
            times = []
            for _ in range(repeats):
                model = make()
                x0 = start_of(model)
                start = time.perf_counter()
                x, nfev, ngev, nhev = solve(model, x0)
                times.append(time.perf_counter() - start)
            rows.append({
                "case": case, "method": name, "nfev": nfev, "ngev": ngev, "nhev": nhev,
                "seconds": float(np.median(times)),
                "grad_norm": float(np.linalg.norm(model.gradient(x))),
            })


def format_table(rows):
    header = (f"{'method':<22} {'nfev':>6} {'ngev':>6} {'nhev':>6} {'ngev+nhev':>10} "
              f"{'seconds':>8} {'||g||':>9}")
    lines = []
    for r in rows:
        if not lines or r["case"] != case:
            case = r["case"]
            lines += ([""] if lines else []) + [case, header, "-" * len(header)]
        lines.append(
            f"{r['method']:<22} {r['nfev']:>6} {r['ngev']:>6} {r['nhev']:>6} "
            f"{r['ngev'] + r['nhev']:>10} {r['seconds']:>8.3f} {r['grad_norm']:>9.2e}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv[1:])))
