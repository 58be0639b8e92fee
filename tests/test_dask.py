"""The Dask paths (issue #16 item 4), on a local distributed cluster of 2 in-process workers.

QMC points from ``qmc.to_dask``, ``KronOperator @ X``/``solve`` and ``KronEigh.solve`` on Dask
right-hand sides, ``KernelMatrix``/``rp_cholesky`` on Dask points: each compared with the
in-memory run (bit for bit where the arithmetic is the same); everything else refuses Dask
arrays with a ``TypeError`` naming Dask (``tests/test_unsupported_libraries.py``).
"""

import warnings

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from orthla.qmc import DigitalNet, Halton, Lattice, Sobol, to_dask  # noqa: E402


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as c:
        yield c


# ---------------------------------------------------------------- QMC
ENGINES = {
    "sobol": lambda: Sobol(3, rng=1),
    "sobol-gray-f32": lambda: Sobol(3, rng=1, order="gray", dtype=np.float32),
    "sobol-nus": lambda: Sobol(2, rng=1, randomize="nus"),
    "sobol-xp": lambda: Sobol(3, rng=1, engine="xp"),
    "sobol-binary": lambda: Sobol(2, rng=1, return_binary=True),
    "net-replications": lambda: DigitalNet(2, rng=1, replications=3),
    "halton": lambda: Halton(4, rng=2),
    "halton-xp": lambda: Halton(3, rng=2, engine="xp"),
    "halton-nus": lambda: Halton(3, rng=2, randomize="nus"),
    "lattice": lambda: Lattice(5, rng=3),
    "lattice-gray": lambda: Lattice(5, rng=3, order="gray"),
}


@pytest.mark.parametrize("name", sorted(ENGINES))
def test_to_dask_equals_random_bit_for_bit(client, name):
    make = ENGINES[name]
    eng, ref = make(), make()
    eng.random(5), ref.random(5)  # from the middle of the sequence, as random() continues
    lazy = to_dask(eng, 1000, chunks=300)
    assert eng.num_generated == 1005  # advanced like random(1000)
    assert lazy.chunks[-2] == (300, 300, 300, 100)
    want = ref.random(1000)
    got = lazy.compute()
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    # and the engine continues where random() would
    np.testing.assert_array_equal(eng.random(7), ref.random(7))


def test_to_dask_chunks_are_independent_and_snapshotted(client):
    eng = Sobol(2, rng=4)
    lazy = to_dask(eng, 2**12, chunks=(1000, 0, 3000, 96))
    eng.reset()  # the graph holds its own copy
    want = Sobol(2, rng=4).random(2**12)
    np.testing.assert_array_equal(lazy[3500:3700].compute(), want[3500:3700])  # one chunk only
    np.testing.assert_array_equal(lazy.compute(), want)


def test_to_dask_edge_sizes(client):
    assert to_dask(Sobol(0, rng=1), 8, chunks=3).compute().shape == (8, 0)  # d = 0, as random()
    assert to_dask(Sobol(2, rng=1), 0, chunks=3).compute().shape == (0, 2)
    whole = to_dask(Lattice(3, order="linear", rng=1), 16, chunks=16)  # one chunk: allowed
    np.testing.assert_array_equal(whole.compute(), Lattice(3, order="linear", rng=1).random(16))


def test_to_dask_integrates_in_chunks(client):
    # mean of prod(x) over [0, 1)^3 is 1/8; the reduction never holds all points at once
    lazy = to_dask(Sobol(3, rng=9), 2**16, chunks=2**12)
    est = float(da.prod(lazy, axis=1).mean().compute())
    assert abs(est - 0.125) < 1e-5


def test_to_dask_balance_warning_once_for_the_whole_draw(client):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        to_dask(Sobol(2, rng=0), 2**10, chunks=300).compute()  # n a power of two: no warning
    with pytest.warns(UserWarning, match="power of 2"):
        to_dask(Sobol(2, rng=0), 1000, chunks=256)


def test_to_dask_errors():
    with pytest.raises(TypeError, match="`engine`"):
        to_dask(np.zeros(3), 4, chunks=2)
    with pytest.raises(ValueError, match="`chunks`"):
        to_dask(Sobol(2), 8, chunks=0)
    with pytest.raises(ValueError, match="`chunks`"):
        to_dask(Sobol(2), 8, chunks=(4, 3))
    with pytest.raises(TypeError, match="`chunks`"):
        to_dask(Sobol(2), 8, chunks=2.5)
    with pytest.raises(ValueError, match="`n`"):
        to_dask(Sobol(2), -1, chunks=2)
    with pytest.raises(ValueError, match="optimization"):
        to_dask(Halton(2, optimization="random-cd", rng=0), 8, chunks=4)
    with pytest.raises(ValueError, match="linear"):
        to_dask(Lattice(2, order="linear"), 8, chunks=4)
    with pytest.raises(ValueError, match="at most"):
        to_dask(Lattice(2, m_max=3), 16, chunks=4)
    array_api_strict = pytest.importorskip("array_api_strict")
    with pytest.raises(TypeError, match="NumPy"):
        to_dask(Sobol(2, xp=array_api_strict), 8, chunks=4)


# ---------------------------------------------------------------- Kronecker
from orthla.kron import KronEigh, KronOperator  # noqa: E402


def _kron_ops():
    rng = np.random.default_rng(0)
    a, b, c = rng.standard_normal((4, 4)), rng.standard_normal((3, 5)), rng.standard_normal((6, 6))
    general = KronOperator([a, b, c])  # N = 120 -> M = 72
    square = KronOperator([a + 4 * np.eye(4), c + 6 * np.eye(6), 3])  # N = 72
    return rng, general, square


def test_kron_matmul_and_solve_batch_axis_bit_for_bit(client):
    rng, general, square = _kron_ops()
    x = rng.standard_normal((120, 10))
    lazy = general @ da.from_array(x, chunks=(120, 3))
    assert lazy.chunks == ((72,), (3, 3, 3, 1))
    np.testing.assert_array_equal(lazy.compute(), general @ x)
    np.testing.assert_array_equal(general.matvec(da.from_array(x, chunks=(120, 4))).compute(), general @ x)
    y = rng.standard_normal((72, 40))
    np.testing.assert_array_equal(square.solve(da.from_array(y, chunks=(72, 5))).compute(), square.solve(y))
    # (N, *batch) right-hand sides and a None factor (identity inferred from N)
    z = rng.standard_normal((4 * 2 * 6, 3, 4))
    free = KronOperator([square.factors[0], None, square.factors[1]])
    np.testing.assert_array_equal((free @ da.from_array(z, chunks=(48, 1, 2))).compute(), free @ z)
    # integer right-hand sides are promoted as in memory
    zi = rng.integers(-5, 5, size=(120, 2))
    got = (general @ da.from_array(zi, chunks=(120, 1))).compute()
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, general @ zi)


def test_kron_solve_concurrent_blocks_threaded_scheduler():
    # many blocks solved at once by threads sharing one operator and its cached LU factors:
    # SciPy 1.17's lu_solve corrupted the heap when the threads shared one pivot array
    rng, _, square = _kron_ops()
    y = rng.standard_normal((72, 256))
    got = square.solve(da.from_array(y, chunks=(72, 2))).compute(scheduler="threads", num_workers=4)
    np.testing.assert_array_equal(got, square.solve(y))


def test_kron_leading_mode_single_vector(client):
    rng, general, square = _kron_ops()
    x = rng.standard_normal(120)
    lazy = general @ da.from_array(x, chunks=30)  # 30 = N / n_1: one slice of mode 1 per chunk
    want = general @ x
    np.testing.assert_allclose(lazy.compute(), want, rtol=0, atol=1e-13 * np.abs(want).max())
    y = rng.standard_normal(72)
    want = square.solve(y)
    got = square.solve(da.from_array(y, chunks=36)).compute()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-13 * np.abs(want).max())
    ident = KronOperator([3, square.factors[1]])  # identity first factor: no mixing at all
    v = rng.standard_normal(18)
    np.testing.assert_allclose((ident @ da.from_array(v, chunks=6)).compute(), ident @ v, rtol=1e-14)
    with pytest.raises(ValueError, match="multiples of N / n_1 = 30"):
        general @ da.from_array(x, chunks=25)


def test_kron_eigh_solve_batch_axis_bit_for_bit(client):
    t = np.linspace(0, 1, 5)
    k1 = np.exp(-(t[:, None] - t[None, :]) ** 2)
    ke = KronEigh([k1, 2 * k1], noise=[np.full(5, 2.0), np.arange(1, 6.0)])
    y = np.random.default_rng(1).standard_normal((25, 9))
    lazy = ke.solve(da.from_array(y, chunks=(25, 4)), shift=0.3)
    np.testing.assert_array_equal(lazy.compute(), ke.solve(y, shift=0.3))


def test_kron_eigh_solve_leading_mode_single_vector(client):
    t = np.linspace(0, 1, 5)
    k1 = np.exp(-(t[:, None] - t[None, :]) ** 2)
    k2 = np.exp(-np.abs(np.subtract.outer(np.arange(4.0), np.arange(4.0))))
    rng = np.random.default_rng(3)
    for ke in (KronEigh([k1, k2, 3]), KronEigh([k1, 2 * k2], noise=[np.full(5, 2.0), np.arange(1, 5.0)]),
               KronEigh([2, k1])):
        n, n1 = ke.shape[0], ke._dims[0]
        y = rng.standard_normal(n)
        want = ke.solve(y, 0.3)
        got = ke.solve(da.from_array(y, chunks=2 * (n // n1)), 0.3).compute()
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-14 * np.abs(want).max())
    indefinite = KronEigh([k1 - 2 * np.eye(5), k2])
    with pytest.raises(ValueError, match="positive definite") as mem:
        indefinite.solve(np.ones(20), 0.1)
    with pytest.raises(ValueError, match="positive definite") as lazy:  # without forming the N eigenvalues
        indefinite.solve(da.from_array(np.ones(20), chunks=4), 0.1)
    assert str(lazy.value) == str(mem.value)


def test_kron_dask_errors(client):
    rng, general, square = _kron_ops()
    with pytest.raises(TypeError, match="Dask.*chunked along axis 0"):
        general @ da.from_array(rng.standard_normal((120, 4)), chunks=(60, 4))
    t = np.linspace(0, 1, 4)
    ke = KronEigh([np.exp(-(t[:, None] - t[None, :]) ** 2)] * 2)
    with pytest.raises(TypeError, match="Dask.*chunked along axis 0"):
        ke.solve(da.from_array(np.ones((16, 2)), chunks=(4, 2)), 0.1)
    with pytest.raises(ValueError, match="`b` must have shape"):
        general @ da.from_array(np.ones((7, 2)), chunks=(7, 1))
    with pytest.raises(TypeError, match="`b` must have a"):
        general @ da.from_array(np.ones((120, 2), dtype=bool), chunks=(120, 1))
    with pytest.raises(ValueError, match="positive definite"):  # reported before computing
        ke.solve(da.from_array(np.ones((16, 2)), chunks=(16, 1)), -5.0)
    bad = da.from_array(np.full((72, 2), np.nan), chunks=(72, 1))
    lazy = square.solve(bad)  # values are read when computed
    with pytest.raises(ValueError, match="`b`"):
        lazy.compute()
    with pytest.raises(TypeError, match="dask"):  # everything else refuses Dask up front
        square.lstsq(da.from_array(np.ones(72), chunks=72))


# ---------------------------------------------------------------- RPCholesky / KernelMatrix
from orthla.pivoting import KernelMatrix, rp_cholesky  # noqa: E402

KERNELS = [("gaussian", 1.0, 0.0), ("gaussian", 0.05, 0.0), ("laplace", 1.0, 0.0), ("matern", 0.7, 1e6)]


@pytest.mark.parametrize(("kernel", "bandwidth", "offset"), KERNELS)
def test_kernel_matrix_on_dask_points_bit_for_bit(client, kernel, bandwidth, offset):
    x = np.random.default_rng(0).standard_normal((1500, 3)) + offset
    mem = KernelMatrix(x, kernel, bandwidth=bandwidth)
    lazy = KernelMatrix(da.from_array(x, chunks=(400, 2)), kernel, bandwidth=bandwidth)
    assert (lazy._gram, lazy._cdist) == (mem._gram, mem._cdist)  # the same formula chosen
    idx = np.array([5, 17, 3, 1499, 5])
    for method in ("columns", "rows"):
        got = getattr(lazy, method)(idx)
        assert isinstance(got, np.ndarray)
        np.testing.assert_array_equal(got, getattr(mem, method)(idx))
    np.testing.assert_array_equal(lazy.block(idx, idx[:2]), mem.block(idx, idx[:2]))
    np.testing.assert_array_equal(lazy.diag(), mem.diag())
    assert lazy.shape == mem.shape and lazy.dtype == mem.dtype


@pytest.mark.parametrize("method", ["accelerated", "simple", "block", "greedy"])
def test_rp_cholesky_on_dask_points_equals_in_memory(client, method):
    x = np.random.default_rng(1).standard_normal((3000, 2))
    rank = 30 if method in ("accelerated", "block") else 10  # one pivot (two Dask calls) a round
    want = rp_cholesky(KernelMatrix(x, bandwidth=0.5), rank, method=method, rng=7)
    got = rp_cholesky(KernelMatrix(da.from_array(x, chunks=(700, 2)), bandwidth=0.5), rank, method=method,
                      rng=7)
    np.testing.assert_array_equal(got.pivots, want.pivots)
    np.testing.assert_array_equal(got.F, want.F)
    np.testing.assert_array_equal(got.trace, want.trace)


def test_kernel_matrix_dask_float32_and_integer_points(client):
    rng = np.random.default_rng(2)
    x32 = rng.standard_normal((400, 2)).astype(np.float32)
    want = rp_cholesky(KernelMatrix(x32), 12, block_size=6, rng=1).F
    got = rp_cholesky(KernelMatrix(da.from_array(x32, chunks=(128, 1))), 12, block_size=6, rng=1).F
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)
    xi = rng.integers(0, 5, size=(60, 2))
    np.testing.assert_array_equal(KernelMatrix(da.from_array(xi, chunks=(16, 2))).columns(np.arange(3)),
                                  KernelMatrix(xi).columns(np.arange(3)))


def test_kernel_matrix_dask_errors(client):
    with pytest.raises(ValueError, match="`points` must be finite"):
        KernelMatrix(da.from_array(np.array([[0.0, 1.0], [np.nan, 2.0]]), chunks=(1, 2)))
    with pytest.raises(ValueError, match="`points` must be a 2-D"):
        KernelMatrix(da.ones(5, chunks=2))
    with pytest.raises(TypeError, match="`points`"):
        KernelMatrix(da.ones((5, 2), dtype=bool, chunks=2))
    with pytest.raises(ValueError, match="`bandwidth`"):
        KernelMatrix(da.ones((5, 2), chunks=2), bandwidth=-1.0)
    km = KernelMatrix(da.ones((5, 2), chunks=2))
    with pytest.raises(ValueError, match="`idx`"):
        km.columns(np.array([7]))
    # a dense Dask matrix is not a kernel operator: refused up front, naming Dask
    with pytest.raises(TypeError, match="dask"):
        rp_cholesky(da.eye(5, chunks=2), 2, rng=0)
