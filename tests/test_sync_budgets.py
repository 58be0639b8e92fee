"""Host round trips of the array-API (GPU) paths, counted on array_api_strict (issue #16).

Each algorithm has a *sync budget* stated in terms of its work: a fixed number per round,
per sweep or per convergence check, never one per element, candidate or pair.  The counts come
from :mod:`_sync_counting` (``float``/``int``/``bool``/``index``/DLPack/iteration of an array, and
``asarray`` of host data), on inputs placed on ``array_api_strict.Device("device1")`` where NumPy
cannot see them.  A change that adds a host conversion to a hot loop fails here, on any machine.
The measured counts are listed in ``docs/backends.md`` ("Scale").
"""

import itertools
import math
import warnings

import numpy as np
import pytest

xps = pytest.importorskip("array_api_strict")

from _sync_counting import count_syncs, on_device  # noqa: E402

from orthla.kron import KronConvergenceWarning, KronOperator, poisson_solve  # noqa: E402
from orthla.ortho import msign, polar  # noqa: E402
from orthla.pivoting import KernelMatrix, jacobi_eigh, jacobi_svd, rp_cholesky  # noqa: E402
from orthla.pivoting import _rp_cholesky as rpc  # noqa: E402
from orthla.qmc import Halton, Lattice, Sobol  # noqa: E402


def test_counter_counts_each_kind():
    x = on_device(np.arange(4.0))
    with count_syncs() as c:
        float(xps.sum(x))
        bool(xps.all(x >= 0))
        int(xps.argmax(x))
        xps.asarray(np.ones(2), device=x.device)
        xps.asarray(x)  # already an array: no transfer
        _ = x[x > 1]
        list(x)
    assert (c.d2h, c.h2d, c.shape) == (4, 1, 1)
    assert any("test_sync_budgets.py" in k for k in c.where)
    with pytest.raises(RuntimeError, match="device1"):
        np.asarray(x)  # nothing on the device is readable by NumPy: hidden host moves fail


def _gauss(n, seed=0):
    x = np.random.default_rng(seed).standard_normal((n, 3))
    return x, np.exp(-((x[:, None] - x[None]) ** 2).sum(-1) / 2)


@pytest.fixture
def rounds(monkeypatch):
    """Count rp_cholesky's rounds (calls of its candidate sampler)."""
    count = {"n": 0}
    orig = rpc._candidates

    def counting(*args, **kwargs):
        count["n"] += 1
        return orig(*args, **kwargs)

    monkeypatch.setattr(rpc, "_candidates", counting)
    return count


@pytest.mark.parametrize("method", ["accelerated", "block"])
@pytest.mark.parametrize("block_size", [10, 20])
def test_rp_cholesky_syncs_per_round_not_per_candidate(method, block_size, rounds):
    _, k = _gauss(400)
    a = on_device(k)
    with count_syncs() as c:
        res = rp_cholesky(a, 80, method=method, block_size=block_size, rng=1)
    assert res.F.shape == (400, 80)
    # measured: 6 per round (3 copies each way; one more in a round that meets candidates at
    # rounding level, and for "block" one more when it drops repeated candidates) + 8
    # (validation of a, the first trace, the results)
    assert c.total <= (7 if method == "accelerated" else 8) * rounds["n"] + 8, c.report()
    # rounds: rank / block_size, plus rejections (accelerated) and a short last round
    assert rounds["n"] <= 2 * math.ceil(80 / block_size) + 2
    assert c.shape == 0


def test_rp_cholesky_kernel_matrix_budget(rounds):
    x, _ = _gauss(400)
    km = KernelMatrix(on_device(x), bandwidth=1.0)
    with count_syncs() as c:
        rp_cholesky(km, 80, block_size=10, rng=1)
    # the kernel's own per-call index checks are skipped for indices drawn by rp_cholesky
    assert c.total <= 7 * rounds["n"] + 10, c.report()


def test_rp_cholesky_fewer_syncs_with_larger_blocks():
    _, k = _gauss(400)
    a = on_device(k)
    totals = []
    for bs in (5, 10, 20, 40):
        with count_syncs() as c:
            rp_cholesky(a, 80, block_size=bs, rng=3)
        totals.append(c.total)
    # O(rank / block_size) + a constant: 8 times the block, under 0.4 times the round trips
    # (measured 120, 69, 46, 35; one conversion per candidate adds rank = 80 to each and fails)
    assert all(b < a for a, b in itertools.pairwise(totals)) and totals[-1] < 0.4 * totals[0], totals


@pytest.mark.parametrize("pivoting", ["cyclic", "random"])
def test_jacobi_eigh_syncs_per_sweep(pivoting):
    n = 24 if pivoting == "cyclic" else 12  # random sweeps have many small rounds: slow on strict
    s = np.random.default_rng(1).standard_normal((n, n))
    a = on_device(s + s.T)
    with count_syncs() as c:
        _, _, info = jacobi_eigh(a, engine="xp", pivoting=pivoting, rng=0)
    assert info.converged
    # per sweep: the rotation count and the off-diagonal norm (2 reads) and, when the schedule
    # changes (random pivoting), one copy of the sweep's index arrays; a per-round conversion
    # would add at least n - 1 a sweep
    per_sweep = 3 if pivoting == "random" else 2
    assert c.total <= per_sweep * info.sweeps + 9, c.report()
    assert c.h2d <= (info.sweeps + 2 if pivoting == "random" else 3), c.report()


def test_jacobi_svd_syncs_per_sweep():
    a = on_device(np.random.default_rng(2).standard_normal((30, 20)))
    with count_syncs() as c:
        *_, info = jacobi_svd(a, engine="xp")
    assert info.converged
    assert c.total <= 2 * info.sweeps + 9, c.report()
    assert c.h2d <= 3, c.report()


@pytest.mark.parametrize("steps", [4, 16])
def test_msign_syncs_independent_of_steps(steps):
    a = on_device(np.random.default_rng(3).standard_normal((30, 20)))
    with count_syncs() as c:
        msign(a, steps=steps)
    assert c.d2h <= 1 and c.total <= 2, c.report()  # the NaN/Inf check; the coefficients


@pytest.mark.parametrize("method", ["qdwh", "newton-schulz"])
def test_polar_iterations_sync_free(method):
    g = np.random.default_rng(4).standard_normal((30, 20))
    g[:, 0] *= 1e-6  # ill-conditioned: more iterations, the same round trips
    with count_syncs() as c:
        polar(on_device(g), method=method)
    assert c.total <= 5, c.report()


@pytest.mark.parametrize("engine", [Lattice, Sobol, Halton])
def test_qmc_generation_is_constant_in_n(engine):
    eng = engine(6, rng=7, xp=xps, device=xps.Device("device1"))
    eng.random(8)  # per-engine tables reach the device once
    counts = []
    for n in (256, 8192):
        with count_syncs() as c:
            eng.random(n)
        counts.append((c.d2h, c.h2d, c.shape))
    assert counts[0] == counts[1], counts
    assert counts[0][0] == 0 and counts[0][2] == 0 and counts[0][1] <= 2, counts


def _factor(n, seed):
    return np.random.default_rng(seed).standard_normal((n, n)) + n * np.eye(n)


@pytest.mark.parametrize("d", [2, 4])
def test_kron_matvec_and_solve_one_check_per_call(d):
    dims = [5, 6, 4, 3][:d]
    op = KronOperator([on_device(_factor(n, k)) for k, n in enumerate(dims)])
    n = math.prod(dims)
    b = on_device(np.random.default_rng(5).standard_normal((n, 3)))
    op.solve(b)  # factorization (cached) on first use
    for call in (lambda: op @ b, lambda: op.solve(b), lambda: op.solve(b[:, 0])):
        with count_syncs() as c:
            call()
        # only the NaN/Inf check of the operand (or of the solution): none per factor
        assert (c.d2h, c.h2d, c.shape) == (1, 0, 0), c.report()


def test_kron_eigh_solve_one_check():
    s = [np.random.default_rng(k).standard_normal((m, m)) for k, m in enumerate((7, 9))]
    ke = KronOperator([on_device(x @ x.T + np.eye(len(x))) for x in s]).eigh()
    y = on_device(np.random.default_rng(6).standard_normal(63))
    ke.solve(y, 0.5)
    with count_syncs() as c:
        ke.solve(y, 0.5)
    assert c.total == 1, c.report()


@pytest.mark.parametrize("check_every", [1, 8])
def test_pcg_reads_residual_every_check_every(check_every):
    x = np.linspace(0, 1, 10)
    k = np.exp(-((x[:, None] - x[None]) ** 2) / (2 * 0.2**2))
    ke = KronOperator([on_device(k), on_device(k)]).eigh()
    v = np.exp(np.random.default_rng(25).uniform(np.log(1e-6), 0.0, 100))  # slow to converge
    y, dg = on_device(np.random.default_rng(26).standard_normal(100)), on_device(v)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KronConvergenceWarning)
        with count_syncs() as c:
            res = ke.solve_diag(y, dg, tol=1e-14, maxiter=40, check_every=check_every)
    assert res.iterations == 40
    # measured: 10 outside the loop (checks of y and diag, min(diag), max|y|, mean(diag), the
    # smallest shifted eigenvalue, the first and the true final residual)
    assert c.total <= math.ceil(40 / check_every) + 10, c.report()


def test_poisson_off_numpy_is_one_fft_pass():
    f = on_device(np.random.default_rng(7).standard_normal((12, 10, 8)))
    with count_syncs() as c:
        poisson_solve(f, h=0.1)
    assert c.total == 1, c.report()  # the NaN/Inf check of f


@pytest.mark.parametrize(("bad", "exc"), [(0, ValueError), (1.5, TypeError), (True, TypeError)])
def test_pcg_check_every_is_validated(bad, exc):
    k = np.eye(4) * 2.0
    ke = KronOperator([k, k]).eigh()
    with pytest.raises(exc, match="check_every"):
        ke.solve_diag(np.ones(16), np.ones(16), check_every=bad)


def test_rp_qr_syncs_per_round(monkeypatch):
    from orthla.pivoting import _rp_qr, rp_qr

    calls = {"n": 0}
    orig = _rp_qr._sample

    def counting(*args, **kwargs):
        calls["n"] += 1
        return orig(*args, **kwargs)

    monkeypatch.setattr(_rp_qr, "_sample", counting)
    a = on_device(np.random.default_rng(0).standard_normal((300, 200)))
    with count_syncs() as c:
        rp_qr(a, 60, block_size=12, rng=1)
    # measured 62 in 6 rounds (5 copies to the host and 3-5 to the device a round); one
    # conversion per candidate (the loop before this budget) adds 12 a round
    assert c.total <= 10 * calls["n"] + 8, c.report()
