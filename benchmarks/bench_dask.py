"""Dask paths (issue #16): QMC integration on a LocalCluster, throughput vs workers, memory per worker.

Cases (pytest-benchmark; BLAS pinned to one thread by conftest):

* ``test_qmc_integrate_throughput[in-memory|workers=1|workers=2]``: the mean of a product
  integrand over ``2^22`` randomized Sobol' points in ``d = 4`` -- in memory (``engine.random``,
  the anchor a user has today) and as ``qmc.to_dask`` chunks of ``2^18`` on a
  ``LocalCluster`` of 1 or 2 single-threaded worker processes.  Points per second and the
  integration error go into ``extra_info``.
* ``test_qmc_memory_per_worker_flat``: the same integration at ``n = 2^20`` and ``2^24`` (16x)
  in chunks of ``2^16``, with ``tracemalloc`` running in each worker process; the peak traced memory per worker over
  the whole computation (points, integrand values, Dask's own buffers) must stay within 2x.
* ``test_kron_solve_batch_throughput[workers=1|workers=2]``: ``KronEigh.solve`` on ``512``
  right-hand sides of length ``32^3`` chunked by ``64`` along the batch axis.

Run: ``python -m pytest benchmarks/bench_dask.py`` (about a minute on the shared 2-core VM), or
``python benchmarks/bench_dask.py`` for the table quoted in docs/backends.md.
"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from orthla.kron import KronEigh  # noqa: E402
from orthla.qmc import Sobol, to_dask  # noqa: E402

# distributed's teardown leaves sockets to the garbage collector, and a second LocalCluster
# beside the module's notes the dashboard port: neither is a result of the benchmark
pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning",
                                        "ignore::pytest.PytestUnraisableExceptionWarning",
                                        "ignore:Port .* is already in use:UserWarning")

D = 4
CHUNK = 2**18


A = np.arange(1.0, D + 1.0)  # Genz oscillatory: cos(2 pi u + a . x), u = 0.3
EXACT = float(np.real(np.exp(2j * np.pi * 0.3) * np.prod((np.exp(1j * A) - 1) / (1j * A))))


def integrand(x):
    """Genz's oscillatory integrand ``cos(2 pi u + a . x)``; its integral ``EXACT`` is known."""
    return np.cos(2 * np.pi * 0.3 + x @ A)


def lazy_mean(n, chunk=CHUNK, seed=7):
    pts = to_dask(Sobol(D, rng=seed), n, chunks=chunk)
    return pts.map_blocks(integrand, drop_axis=1, dtype=np.float64).mean()


def cluster(workers):
    return distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                    dashboard_address=None, silence_logs=40)


@pytest.fixture(scope="module", params=[1, 2], ids=lambda w: f"workers={w}")
def client(request):
    with cluster(request.param) as c, distributed.Client(c) as cl:
        cl.run(_one_blas_thread)  # as the in-memory anchor (conftest pins this process)
        lazy_mean(2**18).compute()  # warm-up: Numba compiled in every worker
        yield cl


N_THROUGHPUT = 2**22


def test_qmc_integrate_throughput_in_memory(benchmark):
    def run():
        return float(integrand(Sobol(D, rng=7).random(N_THROUGHPUT)).mean())

    integrand(Sobol(D, rng=7).random(2**10))  # warm-up (Numba)
    est = benchmark(run)
    benchmark.extra_info.update(points_per_s=N_THROUGHPUT / benchmark.stats["median"], error=abs(est - EXACT))


def test_qmc_integrate_throughput(benchmark, client):
    est = benchmark(lambda: float(lazy_mean(N_THROUGHPUT).compute()))
    benchmark.extra_info.update(workers=len(client.scheduler_info()["workers"]),
                                points_per_s=N_THROUGHPUT / benchmark.stats["median"], error=abs(est - EXACT))


def _start_trace():
    tracemalloc.start()
    tracemalloc.reset_peak()


def _stop_trace():
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def peak_per_worker(cl, n, chunk=CHUNK):
    """Peak traced bytes per worker process while integrating over ``n`` points.

    A warm-up run with the same chunk size first: the first run of a size allocates caches
    (Numba dispatch, Dask's buffers) that later runs reuse and would be counted otherwise.
    """
    lazy_mean(min(n, 16 * chunk), chunk).compute()
    cl.run(_start_trace)
    est = float(lazy_mean(n, chunk).compute())
    peaks = cl.run(_stop_trace)
    return max(peaks.values()), est


def test_qmc_memory_per_worker_flat(benchmark):
    with cluster(2) as c, distributed.Client(c) as cl:
        lazy_mean(2**18).compute()
        small, _ = peak_per_worker(cl, 2**20, 2**16)
        big, est = peak_per_worker(cl, 2**24, 2**16)
        benchmark.extra_info.update(peak_mib_n_2_20=small / 2**20, peak_mib_n_2_24=big / 2**20,
                                    ratio=big / small, error=abs(est - EXACT))
        assert big <= 2 * small, (small, big)
        benchmark.pedantic(lambda: None, rounds=1)


def _kron_problem():
    t = np.linspace(0, 1, 32)
    k = np.exp(-((t[:, None] - t[None, :]) ** 2) / 0.1)
    y = np.random.default_rng(0).standard_normal((32**3, 512))
    return KronEigh([k, k, k]), y


def test_kron_solve_batch_throughput_in_memory(benchmark):
    ke, y = _kron_problem()
    benchmark(lambda: ke.solve(y, 0.1))


def test_kron_solve_batch_throughput(benchmark, client):
    ke, y = _kron_problem()
    yd = client.scatter(y)  # the right-hand sides live on the workers, as in a real run
    lazy = da.from_delayed(yd, shape=y.shape, dtype=y.dtype).rechunk((32**3, 64)).persist()
    distributed.wait(lazy)

    def run():
        return ke.solve(lazy, 0.1).sum(axis=0).compute()

    run()
    benchmark(run)
    benchmark.extra_info.update(workers=len(client.scheduler_info()["workers"]))


def _one_blas_thread() -> None:
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # kept for the worker's life (not restored)


def _table() -> None:  # pragma: no cover - `python benchmarks/bench_dask.py`
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        rows = []
        integrand(Sobol(D, rng=7).random(2**10))  # warm-up (Numba)
        best = np.inf
        for _ in range(3):
            t0 = time.perf_counter()
            est = float(integrand(Sobol(D, rng=7).random(N_THROUGHPUT)).mean())
            best = min(best, time.perf_counter() - t0)
        rows.append(("in memory", N_THROUGHPUT / best, abs(est - EXACT)))
        for w in (1, 2):
            with cluster(w) as c, distributed.Client(c) as cl:
                cl.run(_one_blas_thread)
                lazy_mean(2**18).compute()
                best = np.inf
                for _ in range(3):
                    t0 = time.perf_counter()
                    est = float(lazy_mean(N_THROUGHPUT).compute())
                    best = min(best, time.perf_counter() - t0)
                rows.append((f"dask, {w} worker(s)", N_THROUGHPUT / best, abs(est - EXACT)))
                if w == 2:
                    mem = [(n, c, *peak_per_worker(cl, n, c)) for c in (2**16, 2**18) for n in (2**20, 2**24)]
        print("QMC integration, d = 4, n = 2^22, chunks of 2^18:")
        for name, rate, err in rows:
            print(f"  {name:22s} {rate / 1e6:7.1f} M points/s   error {err:.1e}")
        print("Peak traced memory per worker (2 workers):")
        for n, c, peak, err in mem:
            print(f"  n = 2^{n.bit_length() - 1}, chunks of 2^{c.bit_length() - 1}: {peak / 2**20:6.1f} MiB   "
                  f"error {abs(err - EXACT):.1e}")


if __name__ == "__main__":  # pragma: no cover
    _table()
