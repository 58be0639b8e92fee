"""orthla.ortho.qr: thin QR by Cholesky-QR2, shifted Cholesky-QR3, randomized Cholesky-QR and
Householder, checked against LAPACK (numpy.linalg.qr) over condition numbers 1 ... 1e16."""

import numpy as np
import pytest

from orthla._testing import to_host
from orthla.ortho import QRResult, qr

EPS = np.finfo(np.float64).eps
METHODS = ("auto", "householder", "cholqr2", "shifted-cholqr3", "rand-cholqr")


@pytest.fixture(autouse=True)
def _auto_takes_the_cholesky_route(monkeypatch):
    """The test matrices are small; auto on NumPy would hand them to LAPACK (see
    test_auto_small_problems_go_to_lapack), so the threshold is lowered to test the passes."""
    from orthla.ortho import _qr

    monkeypatch.setattr(_qr, "_SMALL_FLOPS", 0)


def conditioned(m, n, kappa, seed, dtype=np.float64):
    """Random m x n matrix with singular values logspaced from 1 to 1/kappa."""
    rng = np.random.default_rng(seed)
    u, _ = np.linalg.qr(rng.standard_normal((m, n)))
    v, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return ((u * np.logspace(0, -np.log10(kappa), n)) @ v.T).astype(dtype)


def orth_err(q):
    q = to_host(q)
    return np.linalg.norm(q.conj().T @ q - np.eye(q.shape[-1]))


def back_err(q, r, a):
    q, r = to_host(q), to_host(r)
    return np.linalg.norm(q @ r - a) / np.linalg.norm(a)


def assert_qr(res, a, *, c=10.0, eps=EPS):
    """||Q^H Q - I||_F <= c n eps, ||A - QR||_F / ||A||_F <= c n eps, R upper, diag(R) >= 0."""
    q, r = to_host(res.Q), to_host(res.R)
    n = a.shape[-1]
    assert q.shape == a.shape and r.shape == (*a.shape[:-2], n, n)
    for idx in np.ndindex(*a.shape[:-2]):
        assert orth_err(q[idx]) <= c * n * eps, orth_err(q[idx])
        assert back_err(q[idx], r[idx], a[idx]) <= c * n * eps, back_err(q[idx], r[idx], a[idx])
        assert np.all(np.tril(r[idx], -1) == 0)
        d = np.diagonal(r[idx])
        assert np.all(np.real(d) >= 0) and np.all(np.imag(d) == 0)


#: Documented ranges (float64): each method must succeed for every kappa up to its bound, for
#: these 300 x 20 inputs (shifted-cholqr3's bound depends on m n; see the docstring).
RANGE = {"cholqr2": 1e7, "shifted-cholqr3": 1e10, "rand-cholqr": 1e15, "auto": np.inf,
         "householder": np.inf}
KAPPAS = (1.0, 1e4, 1e7, 1e10, 1e12, 1e15, 1e16)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("kappa", KAPPAS)
def test_condition_grid(method, kappa):
    a = conditioned(300, 20, kappa, seed=int(np.log10(kappa)) + 100)
    if kappa <= RANGE[method]:
        assert_qr(qr(a, method=method, rng=1), a)
        return
    # Outside the documented range: a named error, or (when the certificate still holds) a
    # correct result -- never a Q that is not orthonormal.
    try:
        res = qr(a, method=method, rng=1)
    except ValueError as exc:
        assert "outside the range" in str(exc) and f"method={method!r}" in str(exc)
        return
    assert_qr(res, a)


def test_cholqr2_outside_its_range_raises():
    """The issue's reproducer: explicit cholqr2 at cond 1e12 raises; auto is still orthonormal."""
    a = conditioned(500, 30, 1e12, seed=7)
    with pytest.raises(ValueError, match=r"`a` is outside the range of method='cholqr2'"):
        qr(a, method="cholqr2")
    assert_qr(qr(a), a)


def test_shifted_cholqr3_far_outside_raises():
    a = conditioned(2000, 50, 1e16, seed=8)
    with pytest.raises(ValueError, match="shifted-cholqr3"):
        qr(a, method="shifted-cholqr3")


@pytest.mark.parametrize("method", METHODS)
def test_r_matches_lapack_up_to_signs(method):
    kappa = 1e4
    a = conditioned(400, 25, kappa, seed=3)
    q_ref, r_ref = np.linalg.qr(a)
    s = np.sign(np.diagonal(r_ref))
    q_ref, r_ref = q_ref * s, r_ref * s[:, None]
    q, r = qr(a, method=method, rng=2)
    # Forward error of R and Q: O(kappa * n * eps) (perturbation theory of the QR factors).
    assert np.linalg.norm(r - r_ref) <= 10 * 25 * EPS * kappa * np.linalg.norm(r_ref)
    assert np.linalg.norm(q - q_ref) <= 10 * 25 * EPS * kappa * np.sqrt(25)


def test_rank_deficient_auto_falls_back_to_householder():
    a = conditioned(200, 10, 10.0, seed=4)
    a[:, 3] = 0.0
    a[:, 7] = a[:, 1]
    res = qr(a)
    assert_qr(res, a)
    for method in ("cholqr2", "shifted-cholqr3", "rand-cholqr"):
        with pytest.raises(ValueError, match="outside the range"):
            qr(a, method=method, rng=0)


def test_zero_matrix():
    a = np.zeros((20, 4))
    q, r = qr(a)
    assert orth_err(q) <= 10 * 4 * EPS and np.all(r == 0)


@pytest.mark.parametrize("method", METHODS)
def test_backends_batched(xp, method):
    a = np.stack([conditioned(120, 8, k, seed=s) for s, k in enumerate((1.0, 1e3, 1e6))])
    res = qr(xp.asarray(a), method=method, rng=5)
    assert isinstance(res, QRResult)
    for x in res:
        assert type(x) is type(xp.asarray(a)) and x.dtype == xp.float64
    assert_qr(res, a)


def test_batched_with_one_ill_conditioned_member():
    a = np.stack([conditioned(150, 10, 1.0, seed=1), conditioned(150, 10, 1e14, seed=2)])
    assert_qr(qr(a), a)
    with pytest.raises(ValueError, match="cholqr2"):
        qr(a, method="cholqr2")


@pytest.mark.parametrize("method", METHODS)
def test_float32(xp, method):
    a = conditioned(300, 12, 10.0, seed=6, dtype=np.float32)
    res = qr(xp.asarray(a), method=method, rng=3)
    assert res.Q.dtype == xp.float32 and res.R.dtype == xp.float32
    assert_qr(res, a.astype(np.float64), eps=float(np.finfo(np.float32).eps))


@pytest.mark.parametrize("method", METHODS)
def test_complex(method):
    rng = np.random.default_rng(9)
    a = rng.standard_normal((200, 9)) + 1j * rng.standard_normal((200, 9))
    res = qr(a, method=method, rng=4)
    assert res.Q.dtype == np.complex128
    assert_qr(res, a)
    _q_ref, r_ref = np.linalg.qr(a)
    ph = np.diagonal(r_ref) / np.abs(np.diagonal(r_ref))
    np.testing.assert_allclose(res.R, r_ref * ph.conj()[:, None], rtol=0, atol=1e3 * EPS * np.abs(r_ref).max())


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("scale", [2.0**500, 2.0**-500, 2.0**-1000])
def test_power_of_two_scaling_is_exact(method, scale):
    a = conditioned(100, 6, 1e3, seed=11)
    q, r = qr(a, method=method, rng=7)
    qs, rs = qr(a * scale, method=method, rng=7)
    np.testing.assert_array_equal(qs, q)
    np.testing.assert_array_equal(rs, r * scale)


def test_rand_cholqr_seed_handling():
    a = conditioned(400, 15, 1e10, seed=12)
    q1, r1 = qr(a, method="rand-cholqr", rng=3)
    q2, r2 = qr(a, method="rand-cholqr", rng=np.random.default_rng(3))
    np.testing.assert_array_equal(q1, q2)
    np.testing.assert_array_equal(r1, r2)
    # The thin QR with a positive diagonal is unique: another sketch gives the same factors.
    _q3, r3 = qr(a, method="rand-cholqr", rng=4)
    assert np.linalg.norm(r3 - r1) <= 100 * 15 * EPS * 1e10 * np.linalg.norm(r1)


def test_integer_input_promoted():
    a = np.arange(1, 31, dtype=np.int64).reshape(10, 3) ** 2 % 7 + np.eye(10, 3, dtype=np.int64)
    q, r = qr(a)
    assert q.dtype == np.float64
    assert_qr(QRResult(q, r), a.astype(np.float64))


@pytest.mark.parametrize(("shape", "qshape", "rshape"), [
    ((5, 0), (5, 0), (0, 0)), ((0, 0), (0, 0), (0, 0)), ((0, 7, 3), (0, 7, 3), (0, 3, 3)),
])
def test_empty(shape, qshape, rshape):
    q, r = qr(np.zeros(shape))
    assert q.shape == qshape and r.shape == rshape


def test_input_not_modified():
    a = conditioned(100, 6, 1e5, seed=13)
    before = a.copy()
    for method in METHODS:
        qr(a, method=method, rng=0)
    np.testing.assert_array_equal(a, before)


@pytest.mark.parametrize(("a", "exc", "match"), [
    (np.ones(5), ValueError, r"`a` must be a matrix"),
    (np.ones((3, 5)), ValueError, r"`a` must be tall \(m >= n\).*m=3 < n=5"),
    (np.array([[1.0, np.nan], [0.0, 1.0], [1.0, 1.0]]), ValueError, r"`a` must contain only finite"),
    (np.array([[1.0, np.inf], [0.0, 1.0], [1.0, 1.0]]), ValueError, r"`a` must contain only finite"),
    (np.ones((4, 2), bool), TypeError, r"`a`"),
    (np.ones((4, 2), object), TypeError, r"`a`"),
    (np.ones((4, 2), np.float16), TypeError, r"`a`"),
    (np.ma.masked_array(np.ones((4, 2))), TypeError, "MaskedArray"),
])
def test_bad_input(a, exc, match):
    with pytest.raises(exc, match=match):
        qr(a)


def test_bad_options():
    a = np.ones((4, 2))
    with pytest.raises(ValueError, match=r"`method` must be one of"):
        qr(a, method="gram-schmidt")
    with pytest.raises(TypeError, match=r"`rng`"):
        qr(a, method="rand-cholqr", rng="seed")


def test_host_syncs_do_not_grow_with_size(torch_host_syncs):
    """A fixed number of host synchronisations per call (bool/float/int/item on tensors counted),
    whatever the size of the matrix or of the batch: no sync per column or per batch member."""
    torch = pytest.importorskip("torch")
    counts = torch_host_syncs
    budget = {"cholqr2": 5, "shifted-cholqr3": 6, "rand-cholqr": 6, "householder": 2, "auto": 6}
    for method, most in budget.items():
        seen = set()
        for shape in ((40, 5), (400, 30), (3, 200, 12)):
            counts["n"] = 0
            qr(torch.tensor(conditioned(*shape[-2:], 10.0, seed=1)).expand(*shape).contiguous(),
               method=method, rng=0)
            seen.add(counts["n"])
        assert len(seen) == 1 and seen.pop() <= most, (method, seen)


def test_auto_small_problems_go_to_lapack(monkeypatch):
    from orthla.ortho import _qr

    monkeypatch.setattr(_qr, "_SMALL_FLOPS", 1 << 20)
    a = conditioned(1000, 20, 1e3, seed=30)   # m n^2 = 4e5: Householder, the same as method="householder"
    q, r = qr(a)
    qh, rh = qr(a, method="householder")
    np.testing.assert_array_equal(q, qh)
    np.testing.assert_array_equal(r, rh)
    b = conditioned(3000, 20, 1e3, seed=31)   # 1.2e6: the certified Cholesky passes
    q, r = qr(b)
    qc, _ = qr(b, method="cholqr2")
    np.testing.assert_array_equal(q, qc)
    assert_qr(QRResult(q, r), b)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_r_overflow_is_refused_not_inf(method, dtype, recwarn):
    # Review: entries below the dtype's maximum whose column norms (the diagonal of R) are not:
    # R came back with inf entries and a NumPy overflow RuntimeWarning.  Now refused by name;
    # slightly smaller input still factors exactly (power-of-two scaling undone).
    a = conditioned(3000, 8, 10.0, seed=21)
    a = a / np.abs(a).max()                  # column norms 5 to 16
    big = float(np.finfo(dtype).max) / 2
    with pytest.raises(ValueError, match=r"`a` is too large.*overflow"):
        qr((a * big).astype(dtype), method=method, rng=0)
    q, r = qr((a * (big / 64)).astype(dtype), method=method, rng=0)
    assert np.all(np.isfinite(r))
    u = np.finfo(dtype).eps
    assert np.linalg.norm(q.T.astype(np.float64) @ q - np.eye(8)) <= 10 * 8 * u
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


@pytest.mark.parametrize("method", ["cholqr2", "auto"])
@pytest.mark.parametrize("s", [2.0**60, 2.0**-60])
def test_float32_scaling_threshold(xp, method, s):
    # Review: inputs were rescaled only beyond 2**+-64, far beyond float32's safe range: the Gram
    # matrix of a well-conditioned float32 matrix with entries ~1e18 overflowed (NumPy: a
    # RuntimeWarning; elsewhere a false "outside the range of cholqr2").  The float32 threshold is
    # now 2**+-16; the result is the unscaled one times s, bit for bit (power-of-two scaling).
    a = np.random.default_rng(22).standard_normal((3000, 20)).astype(np.float32)  # norms ~55
    q1, r1 = qr(xp.asarray(a), method=method)
    q, r = qr(xp.asarray(a * np.float32(s)), method=method)
    np.testing.assert_array_equal(to_host(q), to_host(q1))
    np.testing.assert_array_equal(to_host(r), to_host(r1) * np.float32(s))
    assert orth_err(q) <= 10 * 20 * np.finfo(np.float32).eps
