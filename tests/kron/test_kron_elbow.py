"""nearest_kron(rank="elbow"): spectra with a known elbow, the documented criterion, the new result
fields and their backward compatibility, bad input."""

import math

import numpy as np
import pytest
from _kron_helpers import one_blas_thread  # noqa: F401  (autouse fixture)

from orthla._testing import to_host
from orthla.kron import nearest_kron


def _with_spectrum(s, shape_b, shape_c, seed=0):
    """``A = sum_i s_i kron(B_i, C_i)`` with Frobenius-orthonormal ``B_i`` and ``C_i``: its
    Kronecker singular values are exactly ``s``."""
    rng = np.random.default_rng(seed)
    qb, _ = np.linalg.qr(rng.standard_normal((math.prod(shape_b), len(s))))
    qc, _ = np.linalg.qr(rng.standard_normal((math.prod(shape_c), len(s))))
    return sum(si * np.kron(qb[:, i].reshape(shape_b), qc[:, i].reshape(shape_c)) for i, si in enumerate(s))


def _criterion(s, scale):
    """The documented score, written out independently."""
    p = len(s)
    v = s / s[0]
    if scale == "log":
        v = np.log10(np.maximum(v, np.finfo(float).eps))
    pts = np.stack([np.arange(p) / (p - 1), (v - v[-1]) / (v[0] - v[-1])], axis=1)
    # signed distance to the chord through (0, 1) and (1, 0), positive below it
    d = np.array([(1 - x - y) / np.sqrt(2) for x, y in pts])
    return np.append(d[1:], 0.0)


@pytest.mark.parametrize("scale", ["log", "linear"])
@pytest.mark.parametrize("r", [1, 3, 6])
def test_step_spectrum_gives_its_rank(xp, scale, r):
    s = np.concatenate([np.linspace(10, 7, r), np.geomspace(1e-3, 5e-4, 12 - r)])
    a = _with_spectrum(s, (3, 4), (4, 3))
    res = nearest_kron(xp.asarray(a), (3, 4), (4, 3), rank="elbow", elbow_scale=scale)
    assert res.rank == r and res.B.shape == (r, 3, 4) and res.C.shape == (r, 4, 3)
    np.testing.assert_allclose(to_host(res.criterion), _criterion(s, scale), atol=1e-10)
    np.testing.assert_allclose(res.error, np.linalg.norm(s[r:]) / np.linalg.norm(s), rtol=1e-8)


def test_smooth_decay_with_a_noise_floor():
    # geometric decay over 5 terms, then a flat floor 1e-8 below: the log elbow is at 5
    s = np.concatenate([np.geomspace(1.0, 1e-2, 5), np.full(11, 1e-10) * np.linspace(1.0, 0.9, 11)])
    a = _with_spectrum(s, (4, 4), (4, 4), seed=1)
    res = nearest_kron(a, (4, 4), (4, 4), rank="elbow")
    assert res.rank == 5
    assert np.argmax(res.criterion) == 4 and res.criterion[-1] == 0
    # the linear spectrum sees only the first drop
    lin = nearest_kron(a, (4, 4), (4, 4), rank="elbow", elbow_scale="linear")
    np.testing.assert_allclose(lin.criterion, _criterion(np.sort(np.linalg.svd(
        a.reshape(4, 4, 4, 4).transpose(0, 2, 1, 3).reshape(16, 16), compute_uv=False))[::-1], "linear"),
        atol=1e-10)
    assert 1 <= lin.rank < res.rank


def test_no_elbow_keeps_every_term():
    flat = _with_spectrum(np.ones(4), (2, 2), (2, 2), seed=2)
    res = nearest_kron(flat, (2, 2), (2, 2), rank="elbow")
    assert res.rank == 4 and not np.any(res.criterion)
    concave = _with_spectrum(np.array([1.0, 0.99, 0.9, 0.5]), (2, 2), (2, 2), seed=3)
    res = nearest_kron(concave, (2, 2), (2, 2), rank="elbow")
    assert res.rank == 4 and np.all(res.criterion <= 0)  # drops accelerate: no elbow
    zero = nearest_kron(np.zeros((4, 4)), (2, 2), (2, 2), rank="elbow")
    assert zero.rank == 4 and zero.error == 0.0
    tiny = nearest_kron(np.kron(np.ones((1, 2)), np.ones((2, 1))), (1, 2), (2, 1), rank="elbow")
    assert tiny.rank == 2  # p = 2: no interior point


def test_result_fields_backward_compatible(xp):
    a = _with_spectrum(np.array([3.0, 2.0, 1.0, 0.5]), (2, 2), (2, 2))
    res = nearest_kron(xp.asarray(a), (2, 2), (2, 2), rank=2)
    assert res.rank == 2 and res.criterion is None
    assert res[0] is res.B and res[1] is res.C and res[2] is res.s and res[3] == res.error
    en = nearest_kron(xp.asarray(a), (2, 2), (2, 2), energy=0.9)
    assert en.rank == en.B.shape[0] == 2 and en.criterion is None


def test_elbow_bad_input():
    a = np.eye(4)
    with pytest.raises(ValueError, match="`rank` must be a positive integer or 'elbow'; got 'knee'"):
        nearest_kron(a, (2, 2), (2, 2), rank="knee")
    with pytest.raises(ValueError, match="needs all Kronecker singular values"):
        nearest_kron(a, (2, 2), (2, 2), rank="elbow", method="svds")
    with pytest.raises(ValueError, match="`elbow_scale` must be one of"):
        nearest_kron(a, (2, 2), (2, 2), rank="elbow", elbow_scale="ln")
    with pytest.raises(ValueError, match="either `rank` or `energy`"):
        nearest_kron(a, (2, 2), (2, 2), rank="elbow", energy=0.9)
    with pytest.raises(TypeError, match="`rank`"):
        nearest_kron(a, (2, 2), (2, 2), rank=True)
