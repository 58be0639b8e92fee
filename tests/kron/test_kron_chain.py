"""The NumPy fast path (``orthla.kron._chain``) against dense Kronecker products and the xp path."""

import threading

import numpy as np
import pytest
from _kron_helpers import exp_kernel, kron_all, one_blas_thread, spd  # noqa: F401  (autouse fixture)

from orthla._testing import assert_close, to_host
from orthla.kron import KronEigh, KronOperator, _chain, multi_mode_product
from orthla.kron._common import cycle_modes, rmatmul_t

EPS = np.finfo(float).eps

SHAPES = [
    [(4, 4), (3, 3), (5, 5)],          # square
    [(3, 4), 2, (5, 3)],               # non-square with an identity in the middle
    [(2, 2), (3, 3), (2, 2), (3, 3)],  # four factors
    [(40, 40), (33, 33)],              # large enough for the right-rotation plan
    [3, (4, 5), (2, 2)],               # identity first (the slab plan then slices x itself)
]


def _mats(rng, shapes):
    return [s if isinstance(s, int) else rng.standard_normal(s) for s in shapes]


def _dims(shapes):
    return [s if isinstance(s, int) else s[1] for s in shapes]


def _matvec_tol(dense, b):
    return 20 * EPS * np.abs(dense).max() * np.abs(b).max() * dense.shape[1]


@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("k", [1, 3])
def test_chain_left_and_right_against_dense(shapes, k):
    rng = np.random.default_rng(70)
    mats, dims = _mats(rng, shapes), _dims(shapes)
    dense = kron_all(mats)
    x = rng.standard_normal((dense.shape[1], k))
    ref = dense @ x
    tol = _matvec_tol(dense, x)
    y, slot = _chain.chain_left(x, mats, dims, 0)  # (K, M): the right-hand sides in front
    assert y.shape == (k, dense.shape[0]) and slot in (0, 1)
    np.testing.assert_allclose(y.T, ref, rtol=0, atol=tol)
    y, _ = _chain.chain_right(np.ascontiguousarray(x.T), mats, dims, 0)  # (K, N) -> (M, K)
    assert y.shape == (dense.shape[0], k)
    np.testing.assert_allclose(y, ref, rtol=0, atol=tol)


@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("right", [False, True])
@pytest.mark.parametrize(("k", "slabs"), [(1, False), (8, False), (8, True)])
def test_kron_apply_matches_xp_engine(monkeypatch, shapes, right, k, slabs):
    """Every plan of the NumPy path agrees with the array-API path (``cycle_modes``) and numpy.kron."""
    monkeypatch.setattr(_chain, "prefer_right", lambda mats, dims: right)
    monkeypatch.setattr(_chain, "SLAB_MIN", 1 if slabs else 1 << 62)
    rng = np.random.default_rng(71)
    mats, dims = _mats(rng, shapes), _dims(shapes)
    dense = kron_all(mats)
    x = rng.standard_normal((dense.shape[1], k))
    fast = _chain.kron_apply(x, mats, dims)
    import array_api_compat.numpy as xpn

    funcs = [None if isinstance(a, int) else (lambda y, a=a: rmatmul_t(y, a, xpn)) for a in mats]
    slow = cycle_modes(x.reshape(*dims, k), dims, funcs, xpn).reshape(-1, k)
    tol = _matvec_tol(dense, x)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=tol)
    np.testing.assert_allclose(fast, dense @ x, rtol=0, atol=tol)


def test_prefer_right_threshold():
    assert _chain.prefer_right([np.eye(64)] * 3, [64] * 3)
    assert not _chain.prefer_right([np.eye(16)] * 5, [16] * 5)
    assert not _chain.prefer_right([64, 64], [64, 64])  # identities only: nothing to multiply


@pytest.mark.parametrize("layout", ["strided", "fortran", "transposed"])
def test_matvec_non_contiguous_operand(xp, layout):
    rng = np.random.default_rng(72)
    mats = [rng.standard_normal((3, 4)), rng.standard_normal((5, 5)), rng.standard_normal((2, 3))]
    dense = kron_all(mats)
    n = dense.shape[1]
    if layout == "strided":
        b = rng.standard_normal((2 * n, 3))[::2]
    elif layout == "fortran":
        b = np.asfortranarray(rng.standard_normal((n, 3)))
    else:
        b = rng.standard_normal((3, n)).T
    keep = np.array(b, copy=True)
    bx = xp.asarray(b)
    y = KronOperator([xp.asarray(m) for m in mats]) @ bx
    assert_close(y, dense @ keep, xp=xp, rtol=0, atol=_matvec_tol(dense, keep))
    np.testing.assert_array_equal(to_host(bx), keep)


def test_results_do_not_share_work_arrays():
    """Each result is a new array: a later call must not overwrite an earlier result."""
    rng = np.random.default_rng(73)
    mats = [rng.standard_normal((40, 40)) for _ in range(2)]
    op = KronOperator(mats)
    x1, x2 = rng.standard_normal((1600, 2)), rng.standard_normal((1600, 2))
    y1 = op @ x1
    keep = y1.copy()
    y2 = op @ x2
    np.testing.assert_array_equal(y1, keep)
    assert not np.shares_memory(y1, y2)
    ke = KronEigh([spd(rng, 8), spd(rng, 9)])
    z1 = ke.solve(x1[:72], shift=0.1)
    keep = z1.copy()
    ke.solve(x2[:72], shift=0.1)
    np.testing.assert_array_equal(z1, keep)


def test_threads_use_their_own_work_arrays():
    rng = np.random.default_rng(74)
    mats = [rng.standard_normal((36, 36)) for _ in range(2)]
    op = KronOperator(mats)
    xs = [rng.standard_normal((1296, 4)) for _ in range(4)]
    refs = [kron_all(mats) @ x for x in xs]
    errors = []

    def work(i):
        for _ in range(20):
            if not np.allclose(op @ xs[i], refs[i], rtol=1e-12, atol=1e-12):
                errors.append(i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_large_work_arrays_are_not_retained(monkeypatch):
    monkeypatch.setattr(_chain, "RETAIN_BYTES", 64)
    monkeypatch.setattr(_chain, "_local", threading.local())
    rng = np.random.default_rng(75)
    mats = [rng.standard_normal((5, 5)), rng.standard_normal((6, 6))]
    x = rng.standard_normal((30, 2))
    np.testing.assert_allclose(KronOperator(mats) @ x, kron_all(mats) @ x, rtol=1e-13, atol=1e-13)
    assert _chain._local.bufs == [None] * _chain.N_SLOTS


def test_empty_batch():
    rng = np.random.default_rng(76)
    mats = [rng.standard_normal((3, 4)), rng.standard_normal((2, 5))]
    y = KronOperator(mats) @ np.zeros((20, 0))
    assert y.shape == (6, 0)
    assert multi_mode_product(np.zeros((4, 5, 0)), mats).shape == (3, 2, 0)
    ke = KronEigh([spd(rng, 3), spd(rng, 2)])
    assert ke.solve(np.zeros((6, 0)), shift=0.1).shape == (6, 0)
    # A factor without columns: the product is an empty sum, zeros of the row size.
    for shape in ((0,), (0, 3)):
        y = KronOperator([np.zeros((2, 0)), np.eye(2)]) @ np.zeros(shape)
        np.testing.assert_array_equal(y, np.zeros((4, *shape[1:])))


@pytest.mark.parametrize(("k", "slabs"), [(1, False), (8, False), (8, True)])
@pytest.mark.parametrize("n", [3, 33])
def test_shifted_solve_many_rhs_against_dense(xp, monkeypatch, k, slabs, n):
    """8 right-hand sides in one pass, through the whole-operand and the slab plans."""
    monkeypatch.setattr(_chain, "SLAB_MIN", 1 if slabs else 1 << 62)
    rng = np.random.default_rng(77)
    t = np.linspace(0, 1, n)
    mats = [exp_kernel(t, 0.3), exp_kernel(t[:4] if n > 4 else t, 0.5), spd(rng, 5)]
    dense = kron_all(mats)
    nn = dense.shape[0]
    y = rng.standard_normal((nn, k))
    ke = KronEigh([xp.asarray(m) for m in mats])
    for s2 in (1e-2, 1e-4, 1e-2):  # the shifted eigenvalues are cached: switching back must not go stale
        shifted = dense + s2 * np.eye(nn)
        x = ke.solve(xp.asarray(y), shift=s2)
        ref = np.linalg.solve(shifted, y)
        cond = np.linalg.cond(shifted)
        assert_close(x, ref, xp=xp, rtol=0, atol=50 * cond * EPS * np.abs(ref).max())
        assert_close(ke.logdet(shift=s2), np.linalg.slogdet(shifted)[1], xp=xp, rtol=1e-12)


def test_multi_mode_product_numpy_path_matches_dense():
    rng = np.random.default_rng(78)
    mats = [rng.standard_normal((4, 3)), None, rng.standard_normal((2, 5))]
    x = rng.standard_normal((3, 6, 5, 2))
    y = multi_mode_product(x, mats)
    ref = np.einsum("ai,ijkb,ck->ajcb", mats[0], x, mats[2])
    np.testing.assert_allclose(y, ref, rtol=1e-13, atol=1e-13)
    xc = x + 1j * rng.standard_normal(x.shape)  # complex operand, real factors: promoted once
    yc = multi_mode_product(xc, mats)
    assert yc.dtype == np.complex128
    np.testing.assert_allclose(yc, np.einsum("ai,ijkb,ck->ajcb", mats[0], xc, mats[2]), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("slabs", [False, True])
def test_slab_plan_dtypes_and_noise(monkeypatch, slabs):
    """Complex and float32 operands, complex Hermitian factors and Kronecker noise, many rhs."""
    monkeypatch.setattr(_chain, "SLAB_MIN", 1 if slabs else 1 << 62)
    rng = np.random.default_rng(79)
    mats = [rng.standard_normal((4, 3)), rng.standard_normal((3, 5))]
    dense = kron_all(mats)
    xc = rng.standard_normal((15, 6)) + 1j * rng.standard_normal((15, 6))
    yc = KronOperator(mats) @ xc
    assert yc.dtype == np.complex128
    np.testing.assert_allclose(yc, dense @ xc, rtol=0, atol=_matvec_tol(dense, np.abs(xc)))
    m32 = [m.astype(np.float32) for m in mats]
    x32 = xc.real.astype(np.float32)
    y32 = KronOperator(m32) @ x32
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, dense @ x32.astype(float), rtol=0,
                               atol=50 * np.finfo(np.float32).eps * np.abs(dense).max() * np.abs(x32).max() * 15)
    g = rng.standard_normal((3, 3)) + 1j * rng.standard_normal((3, 3))
    herm = [g @ g.conj().T + np.eye(3), spd(rng, 4)]
    noise = [rng.uniform(0.5, 2.0, 3), rng.uniform(0.5, 2.0, 4)]
    dvec = np.kron(noise[0], noise[1])
    shifted = kron_all(herm) + 0.3 * np.diag(dvec)
    y = rng.standard_normal((12, 5)) + 1j * rng.standard_normal((12, 5))
    ref = np.linalg.solve(shifted, y)
    x = KronEigh(herm, noise=noise).solve(y, shift=0.3)
    np.testing.assert_allclose(x, ref, rtol=0, atol=50 * np.linalg.cond(shifted) * EPS * np.abs(ref).max())


def test_kron_apply_refuses_an_out_it_cannot_write_through():
    rng = np.random.default_rng(3)
    mats = [rng.standard_normal((40, 40)), rng.standard_normal((40, 40))]
    x = rng.standard_normal((1600, 2))
    with pytest.raises(ValueError, match="`out` must be a C-contiguous"):
        _chain.kron_apply(x, mats, [40, 40], out=np.zeros((2, 1600)).T)
    out = np.zeros((1600, 2))
    _chain.kron_apply(x, mats, [40, 40], out=out)
    np.testing.assert_allclose(out, np.kron(mats[0], mats[1]) @ x, rtol=1e-12, atol=1e-12)
