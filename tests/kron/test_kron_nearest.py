import numpy as np
import pytest
from _kron_helpers import one_blas_thread  # noqa: F401  (autouse fixture)

from orthla._testing import assert_close, to_host
from orthla.kron import nearest_kron


def _sum_of_kron(rng, r, sb, sc):
    bs = [rng.standard_normal(sb) for _ in range(r)]
    cs = [rng.standard_normal(sc) for _ in range(r)]
    return sum(np.kron(b, c) for b, c in zip(bs, cs, strict=True)), bs, cs


def _span_distance(basis, vectors):
    """Largest distance of unit ``vectors`` from the span of ``basis`` (columns)."""
    q, _ = np.linalg.qr(basis)
    v = vectors / np.linalg.norm(vectors, axis=0)
    return np.abs(v - q @ (q.T @ v)).max()


def test_recovers_sum_of_three_kronecker_products(xp):
    _check_recovery(xp, "svd")


def test_recovers_sum_of_three_kronecker_products_svds():
    import array_api_compat.numpy as xnp

    _check_recovery(xnp, "svds")


def _check_recovery(xp, method):
    rng = np.random.default_rng(50)
    a, bs, cs = _sum_of_kron(rng, 3, (4, 3), (5, 6))
    res = nearest_kron(xp.asarray(a), (4, 3), (5, 6), rank=3, method=method, rng=0)
    b, c = to_host(res.B), to_host(res.C)
    assert b.shape == (3, 4, 3) and c.shape == (3, 5, 6)
    rec = sum(np.kron(b[i], c[i]) for i in range(3))
    np.testing.assert_allclose(rec, a, rtol=0, atol=1e-12 * np.abs(a).max())
    assert res.error < (1e-7 if method == "svds" else 1e-13)
    # a 0-d array of the input's namespace and real dtype, like the other result arrays
    assert_close(res.error, np.asarray(0.0), xp=xp, atol=1e-7 if method == "svds" else 1e-13)
    # Same Kronecker factor spaces: the recovered B_i span the true B_i (and likewise C).
    true_b = np.stack([x.reshape(-1) for x in bs], axis=1)
    true_c = np.stack([x.reshape(-1) for x in cs], axis=1)
    assert _span_distance(b.reshape(3, -1).T, true_b) < 1e-12
    assert _span_distance(c.reshape(3, -1).T, true_c) < 1e-12


def test_rank_one_error_and_optimality(xp):
    rng = np.random.default_rng(51)
    a, _, _ = _sum_of_kron(rng, 3, (3, 3), (4, 2))
    full = nearest_kron(xp.asarray(a), (3, 3), (4, 2), rank=3)
    s = to_host(full.s)
    assert np.all(np.diff(s) <= 0)
    one = nearest_kron(xp.asarray(a), (3, 3), (4, 2), rank=1)
    approx = np.kron(to_host(one.B)[0], to_host(one.C)[0])
    err = np.linalg.norm(a - approx)
    np.testing.assert_allclose(err, np.sqrt(s[1] ** 2 + s[2] ** 2), rtol=1e-12)
    assert_close(one.error, np.asarray(err / np.linalg.norm(a)), xp=xp, rtol=1e-12)  # 0-d, on the device
    # No other Kronecker product does better: perturbing the optimum increases the error.
    for _ in range(5):
        b = to_host(one.B)[0] + 1e-3 * rng.standard_normal((3, 3))
        assert np.linalg.norm(a - np.kron(b, to_host(one.C)[0])) > err


def test_energy_threshold(xp):
    rng = np.random.default_rng(52)
    a, _, _ = _sum_of_kron(rng, 2, (3, 2), (2, 3))
    a = a + 1e-6 * rng.standard_normal(a.shape)
    res = nearest_kron(xp.asarray(a), (3, 2), (2, 3), energy=0.999999)
    assert res.B.shape[0] == 2 and res.error < 1e-5
    res = nearest_kron(xp.asarray(a), (3, 2), (2, 3), energy=1.0)
    assert res.B.shape[0] == 6 and res.error < 1e-14


def test_svds_matches_svd_on_larger_matrix():
    rng = np.random.default_rng(53)
    a, _, _ = _sum_of_kron(rng, 4, (20, 16), (16, 20))
    a = a + 1e-3 * rng.standard_normal(a.shape)
    r1 = nearest_kron(a, (20, 16), (16, 20), rank=2, method="svd")
    r2 = nearest_kron(a, (20, 16), (16, 20), rank=2)  # auto picks svds for a 320 x 320 rearrangement
    np.testing.assert_allclose(r2.s, r1.s, rtol=1e-10)
    np.testing.assert_allclose(r2.B, r1.B, rtol=0, atol=1e-8 * np.abs(r1.B).max())
    np.testing.assert_allclose(r2.error, r1.error, rtol=1e-8)


def test_complex_input(xp):
    rng = np.random.default_rng(54)
    b = rng.standard_normal((2, 3)) + 1j * rng.standard_normal((2, 3))
    c = rng.standard_normal((3, 2)) + 1j * rng.standard_normal((3, 2))
    res = nearest_kron(xp.asarray(np.kron(b, c)), (2, 3), (3, 2))
    rec = np.kron(to_host(res.B)[0], to_host(res.C)[0])
    np.testing.assert_allclose(rec, np.kron(b, c), rtol=0, atol=1e-13 * np.abs(np.kron(b, c)).max())


def test_errors(xp):
    a = xp.ones((6, 6))
    with pytest.raises(ValueError, match=r"`a` must have shape \(mb\*mc, nb\*nc\) = \(6, 4\)"):
        nearest_kron(a, (2, 2), (3, 2))
    with pytest.raises(ValueError, match="give either `rank` or `energy`, not both"):
        nearest_kron(a, (2, 2), (3, 3), rank=1, energy=0.5)
    with pytest.raises(ValueError, match=r"`rank` must be an integer at least 1 and at most min\(mb\*nb, mc\*nc\) = 4; got 5"):
        nearest_kron(a, (2, 2), (3, 3), rank=5)
    with pytest.raises(ValueError, match=r"`energy` must be in \(0, 1\]; got 1.5"):
        nearest_kron(a, (2, 2), (3, 3), energy=1.5)
    with pytest.raises(ValueError, match="`shape_b` must be a pair"):
        nearest_kron(a, 4, (3, 3))


def test_svds_errors():
    strict = pytest.importorskip("array_api_strict")
    with pytest.raises(TypeError, match="method='svds' needs NumPy input"):
        nearest_kron(strict.ones((4, 4)), (2, 2), (2, 2), method="svds")
    with pytest.raises(ValueError, match=r"method='svds' needs rank < min\(mb\*nb, mc\*nc\) = 4; got 4"):
        nearest_kron(np.ones((4, 4)), (2, 2), (2, 2), rank=4, method="svds")
