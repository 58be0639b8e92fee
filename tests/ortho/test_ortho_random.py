"""orthla.ortho.random_orthogonal: orthogonality on every backend and the Haar distribution
(Diaconis-Shahshahani trace moments, the law of one entry, scipy.stats.ortho_group)."""

import numpy as np
import pytest
import scipy.stats

from orthla._testing import to_host
from orthla.ortho import random_orthogonal

N = 4000  # samples for the moment tests; tolerances are 5 standard errors


def traces(q):
    return np.trace(q, axis1=-2, axis2=-1), np.trace(q @ q, axis1=-2, axis2=-1)


def assert_mean(sample, want, what):
    se = np.std(sample) / np.sqrt(sample.size)
    assert abs(np.mean(sample) - want) <= 5 * se, f"{what}: mean {np.mean(sample):.4f}, want {want} +- {5 * se:.4f}"


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_orthogonal_shape_dtype_on_every_backend(xp, dtype):
    q = random_orthogonal(6, batch_shape=(3, 2), rng=0, dtype=dtype, xp=xp)
    assert q.dtype == getattr(xp, dtype) and tuple(q.shape) == (3, 2, 6, 6)
    qh = to_host(q).astype(np.float64)
    err = np.max(np.abs(np.swapaxes(qh, -1, -2) @ qh - np.eye(6)))
    assert err <= 10 * 6 * np.finfo(dtype).eps
    # the same numbers on every backend
    np.testing.assert_array_equal(qh, random_orthogonal(6, batch_shape=(3, 2), rng=0).astype(dtype))


def test_seeding_and_arguments():
    a = random_orthogonal(4, rng=1)
    np.testing.assert_array_equal(a, random_orthogonal(4, rng=np.random.default_rng(1)))
    assert not np.array_equal(a, random_orthogonal(4, rng=2))
    assert random_orthogonal(1, rng=0).shape == (1, 1)
    assert abs(random_orthogonal(1, rng=0)[0, 0]) == 1.0
    assert random_orthogonal(3, batch_shape=4, rng=0).shape == (4, 3, 3)
    assert random_orthogonal(3, batch_shape=(0,), rng=0).shape == (0, 3, 3)
    assert random_orthogonal(3, dtype=np.float32).dtype == np.float32


def test_bad_arguments_name_them():
    with pytest.raises(ValueError, match="`n` must be an integer at least 1"):
        random_orthogonal(0)
    with pytest.raises(TypeError, match="`n` must be an integer"):
        random_orthogonal(True)
    with pytest.raises(ValueError, match="`batch_shape`"):
        random_orthogonal(3, batch_shape=(-1,))
    with pytest.raises(TypeError, match="`batch_shape`"):
        random_orthogonal(3, batch_shape="2")
    for dt in ("float16", np.complex128, "int64"):
        with pytest.raises(TypeError, match="`dtype` must be float32 or float64"):
            random_orthogonal(3, dtype=dt)
    with pytest.raises(TypeError, match="`xp`"):
        random_orthogonal(3, xp="numpy")
    with pytest.raises(TypeError, match="`rng`"):
        random_orthogonal(3, rng="seed")


@pytest.mark.parametrize("n", [2, 4, 5])
def test_trace_moments_are_haar(n):
    """Diaconis-Shahshahani: for Haar O(n), E tr Q = 0 and E (tr Q)^2 = E tr(Q^2) = 1 (n >= 2)."""
    q = random_orthogonal(n, batch_shape=(N,), rng=100 + n)
    t1, t2 = traces(q)
    assert_mean(t1, 0.0, "tr Q")
    assert_mean(t1**2, 1.0, "(tr Q)^2")
    assert_mean(t2, 1.0, "tr(Q^2)")
    # each determinant sign with probability 1/2
    pos = np.mean(np.linalg.det(q) > 0)
    assert abs(pos - 0.5) <= 5 * 0.5 / np.sqrt(N)


def test_moment_test_detects_the_missing_sign_correction():
    """The plain Gaussian QR (no sign fix) is not Haar, and the trace test above would see it."""
    z = np.random.default_rng(7).standard_normal((N, 4, 4))
    t1, _ = traces(np.linalg.qr(z)[0])
    se = np.std(t1) / np.sqrt(N)
    assert abs(np.mean(t1)) > 5 * se


@pytest.mark.parametrize("n", [3, 6])
def test_one_entry_has_the_haar_law(n):
    """A column of a Haar matrix is uniform on the sphere: Q_00^2 ~ Beta(1/2, (n-1)/2)."""
    q = random_orthogonal(n, batch_shape=(N,), rng=200 + n)
    for a in (q[:, 0, 0], q[:, -1, 1]):
        assert scipy.stats.kstest(a**2, scipy.stats.beta(0.5, (n - 1) / 2).cdf).pvalue > 1e-4
    # symmetric about zero
    assert abs(np.mean(q[:, 0, 0] > 0) - 0.5) <= 5 * 0.5 / np.sqrt(N)


def test_moments_agree_with_scipy_ortho_group():
    n = 4
    ours = random_orthogonal(n, batch_shape=(N,), rng=300)
    theirs = scipy.stats.ortho_group.rvs(n, size=N, random_state=np.random.default_rng(301))
    for f, what in ((lambda q: traces(q)[0], "tr Q"), (lambda q: traces(q)[0] ** 2, "(tr Q)^2"),
                    (lambda q: traces(q)[1], "tr(Q^2)"), (lambda q: q[:, 1, 2] ** 2, "Q_12^2")):
        a, b = f(ours), f(theirs)
        se = np.sqrt(np.var(a) / N + np.var(b) / N)
        assert abs(np.mean(a) - np.mean(b)) <= 5 * se, what
    assert scipy.stats.ks_2samp(traces(ours)[0], traces(theirs)[0]).pvalue > 1e-4
