"""kron_sbl against plain SBL on the full dictionary (``sbl(y, kron(A_1, A_2))``), same data.

Problems: two real Gaussian factors ``A_k`` of ``m x n`` (columns of unit expected norm), a
Kronecker support of ``k x k`` entries with ``|x_i| >= 1``, SNR 20 dB; ``N = n^2`` unknowns,
``M = m^2`` measurements.  Both sides get the true noise variance and ``tol = 1e-3`` (equal
footing), and each records its NMSE ``||x_hat - x||^2 / ||x||^2``, the least-squares oracle's
NMSE on the true support, the iterations and whether the support was found exactly.

Tools: ``kron_sbl`` with the AM M-step (over-relaxed, the default), AM with plain EM steps
(``overrelax=False``), the SVD M-step, and ``sbl`` on ``kron(A_1, A_2)``.

* ``solve``: to convergence, the end-to-end time (the dense side at ``N = 64*64`` takes
  minutes per round, so that case is marked slow and runs one round).
* ``iteration``: three EM iterations (``tol`` tiny, the non-convergence warning silenced), the
  per-iteration cost: ``O(sum M_k^3 + N sum M_k)`` against ``O(M^2 N + M^3)``.

BLAS is pinned to one thread by ``conftest.py``.  Run with
``/work/venv/bin/python -m pytest benchmarks/bench_kron_sbl.py -m "slow or not slow"``.
"""

import warnings

import numpy as np
import pytest

from orthla.kron import KronConvergenceWarning, kron_sbl, sbl

SIZES = {"N=32x32": ((16, 16), (32, 32), (4, 4)), "N=64x64": ((32, 32), (64, 64), (8, 8))}
TOOLS = ("kron_sbl[am]", "kron_sbl[am-plain]", "kron_sbl[svd]", "sbl[dense]")


def _problem(m, n, k, seed=0, snr_db=20.0):
    rng = np.random.default_rng(seed)
    a = [rng.standard_normal((mk, nk)) / np.sqrt(mk) for mk, nk in zip(m, n, strict=True)]
    x = np.zeros(n)
    sup = [np.sort(rng.choice(nk, kk, replace=False)) for nk, kk in zip(n, k, strict=True)]
    x[np.ix_(*sup)] = np.sign(rng.standard_normal(k)) * (1 + np.abs(rng.standard_normal(k)))
    y0 = a[0] @ x @ a[1].T
    s2 = (np.linalg.norm(y0) / np.sqrt(y0.size) * 10 ** (-snr_db / 20)) ** 2
    y = y0 + np.sqrt(s2) * rng.standard_normal(y0.shape)
    big = np.kron(a[0], a[1])
    s = np.flatnonzero(x.reshape(-1))
    coef = np.linalg.lstsq(big[:, s], y.reshape(-1), rcond=None)[0]
    oracle = np.sum((coef - x.reshape(-1)[s]) ** 2) / np.sum(x**2)
    return a, big, x, y, s2, oracle


def _run(tool, a, big, y, s2, **kw):
    if tool == "sbl[dense]":
        return sbl(y.reshape(-1), big, noise=s2, **kw)
    if tool == "kron_sbl[am-plain]":  # the textbook GEM steps, without over-relaxation
        return kron_sbl(y, a, method="am", overrelax=False, noise=s2, **kw)
    return kron_sbl(y, a, method=tool[9:-1], noise=s2, **kw)


def _params(kind):
    out = []
    for size in SIZES:
        for tool in TOOLS:
            slow = kind == "solve" and size == "N=64x64" and tool == "sbl[dense]"
            out.append(pytest.param(size, tool, id=f"{size}|{tool}", marks=(pytest.mark.slow,) if slow else ()))
    return out


@pytest.mark.parametrize(("size", "tool"), _params("solve"))
def test_kron_sbl_solve(benchmark, size, tool):
    a, big, x, y, s2, oracle = _problem(*SIZES[size])
    slow = size == "N=64x64" and tool == "sbl[dense]"
    if not slow:
        _run(tool, a, big, y, s2, max_iter=2, tol=1.0)  # warm-up
    benchmark.group = f"kron_sbl solve {size}"
    res = benchmark.pedantic(lambda: _run(tool, a, big, y, s2, max_iter=1000, tol=1e-3),
                             rounds=1 if slow else 3, warmup_rounds=0)
    nmse = float(np.sum((np.asarray(res.x).reshape(x.shape) - x) ** 2) / np.sum(x**2))
    benchmark.extra_info.update(tool=tool, nmse=nmse, oracle_nmse=float(oracle), n_iter=res.n_iter,
                                converged=res.converged,
                                support_exact=bool(np.array_equal(np.asarray(res.support).reshape(x.shape), x != 0)))
    assert res.converged and nmse <= 10 * oracle


@pytest.mark.parametrize(("size", "tool"), _params("iteration"))
def test_kron_sbl_iteration(benchmark, size, tool):
    a, big, _x, y, s2, _ = _problem(*SIZES[size])

    def three():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", KronConvergenceWarning)
            return _run(tool, a, big, y, s2, max_iter=3, tol=1e-300)

    three()
    benchmark.group = f"kron_sbl 3 EM iterations {size}"
    res = benchmark.pedantic(three, rounds=3, warmup_rounds=0)
    benchmark.extra_info.update(tool=tool, n_iter=res.n_iter)
