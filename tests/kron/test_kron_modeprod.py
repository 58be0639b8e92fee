import numpy as np
import pytest
from _kron_helpers import kron_all, one_blas_thread  # noqa: F401  (autouse fixture)

from orthla._testing import assert_close
from orthla.kron import mode_product, multi_mode_product


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_mode_product_matches_einsum(xp, axis):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 5))
    n = x.shape[axis]
    a = rng.standard_normal((6, n))
    ref = np.moveaxis(np.tensordot(a, x, axes=([1], [axis])), 0, axis)
    y = mode_product(xp.asarray(x), xp.asarray(a), axis)
    assert y.shape == ref.shape
    assert_close(y, ref, xp=xp, rtol=0, atol=50 * np.finfo(float).eps * np.abs(ref).max())


@pytest.mark.parametrize("shapes", [[(3, 4), (5, 2), (2, 2)], [(2, 5), (7, 3)], [(4, 4), (4, 4), (4, 4)],
                                    [(1, 3), (6, 1)]])
def test_multi_mode_product_is_kron_matvec(xp, shapes):
    rng = np.random.default_rng(1)
    mats = [rng.standard_normal(s) for s in shapes]
    x = rng.standard_normal(tuple(s[1] for s in shapes))
    ref = kron_all(mats) @ x.reshape(-1)
    y = multi_mode_product(xp.asarray(x), [xp.asarray(m) for m in mats])
    assert tuple(y.shape) == tuple(s[0] for s in shapes)
    assert_close(xp.reshape(y, (-1,)), ref, xp=xp, rtol=0, atol=1e-13 * np.abs(ref).max())


def test_multi_mode_product_batch_axes_none_and_custom_axes(xp):
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((2, 5))
    x = rng.standard_normal((4, 5, 6))  # trailing batch of 6
    y = multi_mode_product(xp.asarray(x), [xp.asarray(a), xp.asarray(b)])
    # Normwise tolerance as in the other tests here: an entry that nearly cancels has no
    # small relative error under any summation order (torch's GEMM sums in another order).
    ref = np.einsum("ai,bj,ijk->abk", a, b, x)
    assert_close(y, ref, xp=xp, rtol=0, atol=1e-13 * np.abs(ref).max())
    y = multi_mode_product(xp.asarray(x), [xp.asarray(a), None])
    ref = np.einsum("ai,ijk->ajk", a, x)
    assert_close(y, ref, xp=xp, rtol=0, atol=1e-13 * np.abs(ref).max())
    c = rng.standard_normal((2, 6))
    y = multi_mode_product(xp.asarray(x), [xp.asarray(c), xp.asarray(a)], axes=[2, 0])
    ref = np.einsum("ck,ai,ijk->ajc", c, a, x)
    assert_close(y, ref, xp=xp, rtol=0, atol=1e-13 * np.abs(ref).max())


def test_shrinking_order_is_used(monkeypatch):
    # A compressing factor on the last axis must be contracted first.
    import orthla.kron._modeprod as mod

    calls = []
    orig = mod._mode_apply
    monkeypatch.setattr(mod, "_mode_apply", lambda x, a, ax, xp: calls.append((ax, x.shape)) or orig(x, a, ax, xp))
    rng = np.random.default_rng(3)
    x = rng.standard_normal((10, 10, 10))
    mats = [rng.standard_normal((10, 10)), rng.standard_normal((10, 10)), rng.standard_normal((1, 10))]
    y = multi_mode_product(x, mats)
    assert calls[0] == (2, (10, 10, 10)) and calls[1][1] == (10, 10, 1)
    np.testing.assert_allclose(y.reshape(-1), kron_all(mats) @ x.reshape(-1), rtol=1e-12)


def test_input_not_modified(xp):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 4))
    a = rng.standard_normal((4, 4))
    b = rng.standard_normal((3, 3))
    x0, a0 = x.copy(), a.copy()
    multi_mode_product(xp.asarray(x), [xp.asarray(b), xp.asarray(a)])
    mode_product(xp.asarray(x), xp.asarray(a), 1)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(a, a0)


def test_errors(xp):
    x = xp.ones((3, 4))
    with pytest.raises(ValueError, match=r"`a` has 5 columns but `x` has size 4 along axis 1"):
        mode_product(x, xp.ones((2, 5)), 1)
    with pytest.raises(ValueError, match="`axis` must be an integer at least -2 and at most 1; got 2"):
        mode_product(x, xp.ones((2, 4)), 2)
    with pytest.raises(ValueError, match="`a` must be a 2-D array"):
        mode_product(x, xp.ones((4,)), 1)
    with pytest.raises(ValueError, match=r"`factors\[1\]` has shape \(2, 5\) but `x` has size 4 along axis 1"):
        multi_mode_product(x, [xp.ones((3, 3)), xp.ones((2, 5))])
    with pytest.raises(ValueError, match="got 3 factors for `x` with only 2 axes"):
        multi_mode_product(x, [None, None, None])
    with pytest.raises(ValueError, match="`axes` must be distinct"):
        multi_mode_product(x, [xp.ones((3, 3)), xp.ones((3, 3))], axes=[0, 0])
