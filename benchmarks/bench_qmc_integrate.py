"""orthla.qmc.integrate against QMCPy's CubQMCLatticeG / CubQMCNetG and scipy.integrate.qmc_quad.

Problems (issue #18): Keister d=5 to abs_tol=1e-4 and QMCPy's arithmetic Asian call (d=32 dates,
trapezoidal mean, S0=30, K=35, sigma=0.5, r=0, T=1, PCA construction) to abs_tol=1e-3.  Both sides
integrate the same function under the same measure with the same stopping rule; the points used
and the error reached go into ``extra_info``.  The Asian call is run two ways on orthla's side:
``asian-d32`` integrates a user function of the Brownian path (the exp of the asset prices in
the user's NumPy code), ``asian-d32-gbm`` the payoff alone under orthla's
``GeometricBrownianMotion`` measure, as QMCPy's ``FinancialOption`` does under its own
``GeometricBrownianMotion`` (its measure computes the prices, its integrand the payoff).  QMCPy
runs its ``FinancialOption`` in both rows.  ``qmc_quad`` has no stopping rule: it is run as a
user would, doubling ``n_points`` (8 randomizations) until 2.58 standard errors (99%) are below
the tolerance, and its total points are reported.

Run ``python benchmarks/bench_qmc_integrate.py [seeds [first_seed [problem:method ...]]]`` for a
table (1 BLAS thread, CPU time of this process, orthla and QMCPy interleaved seed by seed so that
load from other jobs hits both alike), or ``pytest benchmarks/bench_qmc_integrate.py`` for pytest-benchmark timings.  The
table gives two ratios per method: of the median times over all seeds, and of the median times
at the ``n`` both sides reached most often (different randomizations stop one doubling apart
now and then, which moves a median over few seeds by up to 2x).

``python benchmarks/bench_qmc_integrate.py points [seeds]`` compares the points orthla and
``qmc_quad`` need for the same achieved error (root-mean-square over the seeds, at fixed ``n``:
no stopping rule involved), see :func:`points_at_equal_error`.
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import pytest

S0, STRIKE, SIGMA, RATE, T_FINAL = 30.0, 35.0, 0.5, 0.0, 1.0


def keister_f(x):
    d = x.shape[1]
    return math.pi ** (d / 2) * np.cos(np.sqrt(np.sum(x * x, axis=1)))


def keister_exact(d):
    import scipy.integrate

    radial = scipy.integrate.quad(lambda r: math.cos(r) * math.exp(-r * r) * r ** (d - 1), 0, 12.0,
                                  epsabs=1e-15, epsrel=1e-13, limit=200)[0]
    return 2 * math.pi ** (d / 2) / math.gamma(d / 2) * radial


def asian_payoff(d):
    """QMCPy's arithmetic Asian call, trapezoidal mean, as a function of the prices."""

    def f(s):  # s: the asset prices at t, (n, d)
        mean = (S0 / 2 + s[:, :-1].sum(axis=1) + s[:, -1] / 2) / d
        return math.exp(-RATE * T_FINAL) * np.maximum(mean - STRIKE, 0.0)

    return f


def asian_f(d):
    """The user's function of the Brownian path: the prices (NumPy's exp), then the payoff."""
    t = np.arange(1, d + 1) * T_FINAL / d
    drift = (RATE - SIGMA**2 / 2) * t
    payoff = asian_payoff(d)

    def f(w):  # w: standard Brownian motion at t, (n, d)
        return payoff(S0 * np.exp(drift + SIGMA * w))

    return f, t


PROBLEMS = {"keister-d5": (5, 1e-4), "asian-d32": (32, 1e-3), "asian-d32-gbm": (32, 1e-3)}
_REFERENCE: dict[str, float] = {}


def reference(problem):
    """Exact Keister value; the Asian call from orthla net-walsh at abs_tol 2e-5 (cached)."""
    problem = "asian-d32" if problem.startswith("asian") else problem  # one integral, two ways
    if problem not in _REFERENCE:
        if problem.startswith("keister"):
            _REFERENCE[problem] = keister_exact(5)
        else:
            from orthla.qmc import BrownianMotion, integrate

            f, t = asian_f(32)
            _REFERENCE[problem] = integrate(f, BrownianMotion(t), abs_tol=2e-5, method="net-walsh",
                                            rng=12345).estimate
    return _REFERENCE[problem]


def _integrand(problem):
    """``(f, measure, d, tol)`` of a problem, as orthla (and qmc_quad through its map) see it."""
    from orthla.qmc import BrownianMotion, Gaussian, GeometricBrownianMotion

    d, tol = PROBLEMS[problem]
    if problem.startswith("keister"):
        return keister_f, Gaussian(0.0, 0.5, d=d), d, tol
    f, t = asian_f(d)
    if problem.endswith("gbm"):
        return asian_payoff(d), GeometricBrownianMotion(t, S0, RATE, SIGMA), d, tol
    return f, BrownianMotion(t), d, tol


def run_orthla(problem, method, seed):
    from orthla.qmc import integrate

    f, measure, _, tol = _integrand(problem)
    res = integrate(f, measure, abs_tol=tol, method=method, rng=seed)
    return res.estimate, res.error_bound, res.n


def run_qmcpy(problem, method, seed):
    import qmcpy as qp

    d, tol = PROBLEMS[problem]
    lattice = method == "lattice-fourier"
    sampler = qp.Lattice(d, seed=seed) if lattice else qp.DigitalNetB2(d, seed=seed)
    if problem.startswith("keister"):
        integrand = qp.Keister(sampler)
    else:
        integrand = qp.FinancialOption(sampler, option="ASIAN", volatility=SIGMA, start_price=S0,
                                       strike_price=STRIKE, interest_rate=RATE, t_final=T_FINAL)
    sc = qp.CubQMCLatticeG(integrand, abs_tol=tol) if lattice else qp.CubQMCNetG(integrand, abs_tol=tol)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sol, data = sc.integrate()
    return float(sol), float(data.comb_bound_diff) / 2, int(data.n_total)


def _on_cube(f, measure, d):
    """``f`` under ``measure`` as qmc_quad's integrand on the cube: points (d, n), or (d,) for its
    centroid check; clipped to the open cube as orthla's maps do."""

    def func(u):
        x = np.clip(np.asarray(u, dtype=float).reshape(d, -1).T, 1e-300, 1 - 2**-53)
        y = f(measure.transform(x))
        return y if np.ndim(u) == 2 else y[0]

    return func


def run_scipy(problem, method, seed):
    """scipy.integrate.qmc_quad doubled until 2.58 standard errors <= tol (99%, 8 randomizations)."""
    from scipy.integrate import qmc_quad
    from scipy.stats import qmc

    f, measure, d, tol = _integrand(problem)
    func = _on_cube(f, measure, d)

    n_points, total = 2**10, 0  # Sobol' with 64 bits: see points_at_equal_error
    while True:
        rng = np.random.default_rng(seed)
        res = qmc_quad(func, np.zeros(d), np.ones(d), n_estimates=8, n_points=n_points,
                       qrng=qmc.Sobol(d, bits=64, rng=rng))
        total += 8 * n_points
        if 2.58 * res.standard_error <= tol or n_points >= 2**22:
            return float(res.integral), 2.58 * float(res.standard_error), 8 * n_points
        n_points *= 2


RUNNERS = {
    ("orthla", "lattice-fourier"): run_orthla,
    ("orthla", "net-walsh"): run_orthla,
    ("qmcpy", "lattice-fourier"): run_qmcpy,
    ("qmcpy", "net-walsh"): run_qmcpy,
    ("scipy.qmc_quad", "replications"): run_scipy,
}


def _available(tool):
    if tool == "qmcpy":
        try:
            import qmcpy  # noqa: F401
        except ImportError:
            return False
    return True


@pytest.mark.parametrize("problem", list(PROBLEMS))
@pytest.mark.parametrize(("tool", "method"), list(RUNNERS))
def test_integrate(benchmark, problem, tool, method):
    if not _available(tool):
        pytest.skip("qmcpy is not installed")
    run = RUNNERS[tool, method]
    run(problem, method, 1)  # warm-up: Numba JIT, QMCPy's compiled kernels
    benchmark.group = f"integrate {problem} tol={PROBLEMS[problem][1]}"
    est, bound, n = benchmark.pedantic(lambda: run(problem, method, 7), rounds=3, warmup_rounds=0)
    err = abs(est - reference(problem))
    benchmark.extra_info.update(n=n, error_bound=bound, error=err)
    assert n > 0 and math.isfinite(est)


# ---------------------------------------------------------------- kernels behind the GBM Asian call
# The prices of 2^12 paths on 32 dates from the same points: orthla's GeometricBrownianMotion
# (normal map, PCA product, its exp kernel) against what a user writes without it, orthla's
# BrownianMotion map and NumPy's exp.  And the FWHT of one doubling: orthla's kernel against QMCPy's.

@pytest.mark.parametrize("tool", ["orthla GeometricBrownianMotion", "BrownianMotion + numpy.exp"])
def test_gbm_prices(benchmark, tool):
    from orthla.qmc import BrownianMotion, GeometricBrownianMotion, Sobol

    t = np.arange(1, 33) / 32
    u = Sobol(32, rng=5).random(2**12)
    if tool.startswith("orthla"):
        gbm = GeometricBrownianMotion(t, S0, RATE, SIGMA)

        def prices():
            return gbm.transform(u)
    else:
        bm, drift = BrownianMotion(t), (RATE - SIGMA**2 / 2) * t

        def prices():
            return S0 * np.exp(drift + SIGMA * bm.transform(u))
    prices()  # warm-up (Numba JIT)
    benchmark.group = "prices of 2^12 GBM paths, d=32 (normal map + PCA product + exp)"
    out = benchmark.pedantic(prices, rounds=20, warmup_rounds=2)
    assert out.shape == (2**12, 32) and np.all(out > 0)


@pytest.mark.parametrize("m", [14, 16])
@pytest.mark.parametrize("tool", ["orthla", "qmcpy"])
def test_fwht(benchmark, tool, m):
    if not _available(tool):
        pytest.skip("qmcpy is not installed")
    y = np.random.default_rng(m).standard_normal(2**m)
    if tool == "orthla":
        from orthla.qmc import fwht
    else:
        from qmcpy import fwht
    fwht(y)  # warm-up
    benchmark.group = f"orthonormal FWHT of 2^{m} values"
    out = benchmark.pedantic(lambda: fwht(y), rounds=30, warmup_rounds=3)
    assert out.shape == y.shape


# ---------------------------------------------------------------- Bayesian cubature likelihood at n = 2^16
# One evaluation of the profiled marginal likelihood (kernel eigenvalues for a shape parameter and the
# loss) on n = 2^16 lattice points in d = 5, for orthla (FastGram) and QMCPy's CubBayesLatticeG
# (its objective_function, the call its fminbnd search repeats).

N_BAYES, D_BAYES = 2**16, 5


def bayes_setup(tool, net=False):
    if tool == "orthla":
        import array_api_compat.numpy as npx

        from orthla.qmc import Lattice, Sobol, fftbr, fwht
        from orthla.qmc._cub_bayes import _ShapeFamily, bayes_loss_and_halfwidth

        u = (Sobol if net else Lattice)(D_BAYES, rng=3).random(N_BAYES)
        y = np.cos(u.sum(axis=1))
        power = np.abs(fwht(y) if net else fftbr(y)) ** 2
        family = _ShapeFamily(u, net, 2, npx)  # once per n: 1-D kernel values, FastGram check

        def evaluate(log_gamma=-1.0):
            return bayes_loss_and_halfwidth(power, family.eigenvalues(math.exp(log_gamma)), N_BAYES)[0]

        return evaluate
    import qmcpy as qp

    sampler = (qp.DigitalNetB2 if net else qp.Lattice)(D_BAYES, seed=3)
    sc = (qp.CubBayesNetG if net else qp.CubBayesLatticeG)(qp.Keister(sampler), abs_tol=1e-3)
    x = sampler(N_BAYES)
    y = np.cos(x.sum(axis=1))
    ftilde = sc.ft(y)  # QMCPy scales it; the cost is what is timed

    def evaluate(log_gamma=-1.0):
        return sc.objective_function(np.exp(log_gamma), x, ftilde)[0]

    return evaluate


@pytest.mark.parametrize("net", [False, True], ids=["lattice", "net"])
@pytest.mark.parametrize("tool", ["orthla", "qmcpy"])
def test_bayes_likelihood_2e16(benchmark, tool, net):
    if not _available(tool):
        pytest.skip("qmcpy is not installed")
    evaluate = bayes_setup(tool, net)
    evaluate()  # warm-up
    benchmark.group = f"Bayesian cubature: one likelihood evaluation, n=2^16, d=5 ({'net' if net else 'lattice'})"
    loss = benchmark.pedantic(evaluate, rounds=5, warmup_rounds=1)
    assert math.isfinite(loss)


def _timed(run, problem, method, seed):
    """``(cpu_s, wall_s, estimate, bound, n)`` of one run (CPU time of this process)."""
    c0, w0 = time.process_time(), time.perf_counter()
    est, bound, n = run(problem, method, seed)
    return time.process_time() - c0, time.perf_counter() - w0, est, bound, n


def main(repeats=7, only=None, first_seed=100):
    """Table rows for every problem and tool (or the ``"problem:method"`` pairs in ``only``);
    orthla/QMCPy CPU-time ratios per method, seeds ``first_seed, first_seed + 1, ...``."""
    import os

    from threadpoolctl import threadpool_limits

    rows, ratios = [], []
    print(f"load average before: {os.getloadavg()[0]:.1f}", flush=True)
    with threadpool_limits(1):
        for problem in PROBLEMS:
            ref = reference(problem)
            by_method: dict[str, list] = {}
            for tool, method in RUNNERS:
                if _available(tool) and (only is None or f"{problem}:{method}" in only):
                    by_method.setdefault(method, []).append(tool)
            for method, tools in by_method.items():
                for tool in tools:
                    RUNNERS[tool, method](problem, method, 1)  # warm-up
                runs: dict[str, list] = {tool: [] for tool in tools}
                for s in range(repeats):  # interleaved, seed by seed
                    for tool in tools:
                        runs[tool].append(_timed(RUNNERS[tool, method], problem, method, first_seed + s))
                for tool in tools:
                    cpu, wall, est, bound, n = (np.array(c) for c in zip(*runs[tool], strict=True))
                    err = np.abs(est - ref)
                    rows.append((problem, tool, method, float(np.median(cpu)), float(np.median(wall)),
                                 int(np.median(n)), float(err.max()), float(np.median(bound))))
                    print(f"| {problem} | {tool} | {method} | {np.median(cpu):.3f} | {np.median(wall):.3f} "
                          f"| 2^{math.log2(np.median(n)):.1f} | {err.max():.2e} | {np.median(bound):.2e} |",
                          flush=True)
                if "orthla" in runs and "qmcpy" in runs:
                    ratios.append((problem, method, *_ratios(runs["orthla"], runs["qmcpy"])))
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    print()
    print("| problem | method | QMCPy / orthla CPU time (medians, all seeds) | at the same n (n, seeds) |")
    print("|---|---|---|---|")
    for problem, method, all_seeds, same_n, n, counts in ratios:
        same = f"{same_n:.1f}x (2^{int(math.log2(n))}, {counts[0]} + {counts[1]})" if n else "-"
        print(f"| {problem} | {method} | {all_seeds:.1f}x | {same} |")
    return rows, ratios


def _ratios(ours, theirs):
    """QMCPy/orthla ratio of the median CPU times over all seeds, and at the n reached most often
    by both (with the seed counts behind each side's median)."""
    t_o = np.array([r[0] for r in ours])
    t_q = np.array([r[0] for r in theirs])
    n_o = np.array([r[4] for r in ours])
    n_q = np.array([r[4] for r in theirs])
    common = [(min((n_o == n).sum(), (n_q == n).sum()), n) for n in set(n_o.tolist()) & set(n_q.tolist())]
    if not common:
        return float(np.median(t_q) / np.median(t_o)), math.nan, 0, (0, 0)
    _, n = max(common)
    same = float(np.median(t_q[n_q == n]) / np.median(t_o[n_o == n]))
    return float(np.median(t_q) / np.median(t_o)), same, n, (int((n_o == n).sum()), int((n_q == n).sum()))


def points_at_equal_error(problem, seeds=30, first_seed=500, m_range=(10, 18)):
    """Points that orthla's net-walsh estimate and ``qmc_quad`` need for the same achieved error.

    The root-mean-square error over ``seeds`` randomizations, against the reference, of
    orthla's estimate from ``n`` points (one LMS + digitally shifted Sobol' sequence: ``integrate``
    with ``n_init = n_max = n``, whose estimate is the mean of the ``n`` values) and of
    ``qmc_quad``'s from ``n`` points in all (8 independent scrambled Sobol' sets of ``n / 8``, its
    way of getting a standard error).  SciPy's Sobol' engine runs with ``bits=64``: with its
    default 30 bits a scrambled coordinate is exactly 0 now and then (about once in 2^30 / n
    points per coordinate), and the clip maps it to a far tail, a rare large error that is an
    artifact of the engine, not of ``qmc_quad``.  Returns rows
    ``(n, rmse_orthla, rmse_qmc_quad, ratio)`` and the fitted rate, where ``ratio`` is the
    number of points ``qmc_quad`` needs for orthla's error at ``n`` (from a least-squares fit
    of ``log rmse = a + b log n`` to ``qmc_quad``'s errors) over ``n``.
    """
    from scipy.integrate import qmc_quad
    from scipy.stats import qmc

    from orthla.qmc import IntegrationWarning, integrate

    f, measure, d, _ = _integrand(problem)
    ref = reference(problem)
    func = _on_cube(f, measure, d)

    sizes = [2**m for m in range(m_range[0], m_range[1] + 1)]
    rmse_o, rmse_q = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IntegrationWarning)
        for n in sizes:
            eo = [integrate(f, measure, abs_tol=1e-300, method="net-walsh", n_init=n, n_max=n, rng=s).estimate - ref
                  for s in range(first_seed, first_seed + seeds)]
            eq = [qmc_quad(func, np.zeros(d), np.ones(d), n_estimates=8, n_points=n // 8,
                           qrng=qmc.Sobol(d, bits=64, rng=np.random.default_rng(s))).integral - ref
                  for s in range(first_seed, first_seed + seeds)]
            rmse_o.append(math.sqrt(np.mean(np.square(eo))))
            rmse_q.append(math.sqrt(np.mean(np.square(eq))))
    b, a = np.polyfit(np.log(sizes), np.log(rmse_q), 1)
    rows = [(n, eo_n, eq_n, math.exp((math.log(eo_n) - a) / b) / n)
            for n, eo_n, eq_n in zip(sizes, rmse_o, rmse_q, strict=True)]
    return rows, b


def main_points(seeds=30):
    for problem, m_range in (("keister-d5", (10, 20)), ("asian-d32-gbm", (10, 18))):
        print(f"\n{problem}: RMSE over {seeds} randomizations; qmc_quad's points for orthla's error / orthla's points")
        print("| n | orthla net-walsh RMSE | qmc_quad (8 x n/8) RMSE | qmc_quad points / orthla points at orthla's error |")
        print("|---|---|---|---|")
        rows, rate = points_at_equal_error(problem, seeds, m_range=m_range)
        for n, eo, eq, ratio in rows:
            print(f"| 2^{int(math.log2(n))} | {eo:.2e} | {eq:.2e} | {ratio:.1f} |", flush=True)
        print(f"qmc_quad's fitted rate: RMSE ~ n^{rate:.2f}")


def main_bayes(repeats=5):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        for net in (False, True):
            for tool in ("orthla", "qmcpy"):
                if not _available(tool):
                    continue
                try:
                    evaluate = bayes_setup(tool, net)
                except Exception as exc:  # QMCPy versions differ in their private APIs
                    print(f"| {'net' if net else 'lattice'} | {tool} | failed: {exc!r} |")
                    continue
                evaluate()
                times = []
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    evaluate()
                    times.append(time.perf_counter() - t0)
                print(f"| {'net' if net else 'lattice'} | {tool} | {1e3 * np.median(times):.1f} ms |", flush=True)


if __name__ == "__main__":
    import sys

    # python bench_qmc_integrate.py [seeds [first_seed [problem:method ...]]]
    # python bench_qmc_integrate.py points [seeds]: points against qmc_quad at equal error
    if len(sys.argv) > 1 and sys.argv[1] == "points":
        main_points(int(sys.argv[2]) if len(sys.argv) > 2 else 30)
        sys.exit(0)
    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    first = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    only = sys.argv[3:] or None
    print(f"| problem | tool | method | CPU time (s, median of {seeds}) | wall time (s) | n (median) "
          "| max true error | bound/half-width |")
    print("|---|---|---|---|---|---|---|---|")
    main(seeds, only, first)
    if only is not None:
        sys.exit(0)
    print()
    print("| points | tool | one likelihood evaluation at n = 2^16, d = 5 (median of 5) |")
    print("|---|---|---|")
    main_bayes()
