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
