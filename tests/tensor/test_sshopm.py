import itertools

import numpy as np
import pytest
import scipy.linalg
import scipy.optimize

from orthla._testing import to_host
from orthla.tensor import SSHOPMResult, TensorWarning, cp_to_tensor, sshopm

# Kofidis & Regalia (2002), Example 1: order 4, d = 3 (the test case of Kolda & Mayo 2011).
_KR_ENTRIES = {
    (0, 0, 0, 0): 0.2883, (0, 0, 0, 1): -0.0031, (0, 0, 0, 2): 0.1973, (0, 0, 1, 1): -0.2485,
    (0, 0, 1, 2): -0.2939, (0, 0, 2, 2): 0.3847, (0, 1, 1, 1): 0.2972, (0, 1, 1, 2): 0.1862,
    (0, 1, 2, 2): 0.0919, (0, 2, 2, 2): -0.3619, (1, 1, 1, 1): 0.1241, (1, 1, 1, 2): -0.3420,
    (1, 1, 2, 2): 0.2127, (1, 2, 2, 2): 0.2727, (2, 2, 2, 2): -0.3054,
}


def _kofidis_regalia():
    T = np.zeros((3,) * 4)
    for idx, v in _KR_ENTRIES.items():
        for p in set(itertools.permutations(idx)):
            T[p] = v
    return T


def _f(T, x):
    for _ in range(T.ndim):
        T = T @ x
    return T


def _extreme_on_sphere(T, sign):
    """Independent reference: multistart BFGS on sign * f(x / ||x||)."""
    best = None
    for x0 in np.random.default_rng(0).standard_normal((40, T.shape[0])):
        r = scipy.optimize.minimize(lambda x: -sign * _f(T, x / np.linalg.norm(x)), x0,
                                    method="BFGS", options={"gtol": 1e-12})
        if best is None or r.fun < best.fun:
            best = r
    return -sign * best.fun, best.x / np.linalg.norm(best.x)


def test_kofidis_regalia_global_maximum(xp):
    T = _kofidis_regalia()
    lam_ref, x_ref = _extreme_on_sphere(T, +1)
    starts = np.random.default_rng(1).standard_normal((15, 3))
    results = [sshopm(xp.asarray(T), xp.asarray(x0)) for x0 in starts]
    assert all(isinstance(r, SSHOPMResult) and r.converged for r in results)
    best = max(results, key=lambda r: r.eigenvalue)
    assert abs(best.eigenvalue - lam_ref) < 1e-10
    assert round(best.eigenvalue, 4) == 0.8893  # value reported by Kolda & Mayo (2011)
    x = to_host(best.eigenvector)
    assert abs(abs(x @ x_ref) - 1) < 1e-8
    for r in results:  # every result is an eigenpair: T x^3 = lambda x
        x = to_host(r.eigenvector)
        g = np.einsum("ijkl,j,k,l->i", T, x, x, x)
        assert np.linalg.norm(g - r.eigenvalue * x) < 1e-11
        assert r.residual <= 1e-12


def test_negative_fixed_shift_finds_minimum():
    T = _kofidis_regalia()
    lam_ref, _ = _extreme_on_sphere(T, -1)
    starts = np.random.default_rng(2).standard_normal((15, 3))
    vals = [sshopm(T, x0, shift=-2.0).eigenvalue for x0 in starts]
    assert abs(min(vals) - lam_ref) < 1e-10 and lam_ref < 0


def test_fixed_and_adaptive_shift_agree_on_odeco_tensor():
    Q = np.linalg.qr(np.random.default_rng(3).standard_normal((5, 5)))[0]
    lam = np.array([4.0, 3.0, 2.0, 1.5, 1.0])
    T = cp_to_tensor(lam, Q, order=4)
    x0 = Q[:, 2] + 0.2 * Q[:, 4]
    fixed = sshopm(T, x0, shift=3.0 * np.abs(lam).max())
    adaptive = sshopm(T, x0)
    for r in (fixed, adaptive):
        assert r.converged and abs(r.eigenvalue - 2.0) < 1e-12
        assert abs(abs(r.eigenvector @ Q[:, 2]) - 1) < 1e-12
    assert adaptive.iterations < fixed.iterations


def test_order_two_is_the_shifted_matrix_power_method():
    a = np.random.default_rng(4).standard_normal((6, 6))
    a = a + a.T
    w, v = scipy.linalg.eigh(a)
    r = sshopm(a, np.ones(6), max_iter=5000, tol=1e-13)
    assert r.converged and abs(r.eigenvalue - w[-1]) < 1e-11
    assert abs(abs(r.eigenvector @ v[:, -1]) - 1) < 1e-10


def test_nonconvergence_warns():
    T = _kofidis_regalia()
    with pytest.warns(TensorWarning, match="no convergence within max_iter=2"):
        r = sshopm(T, np.ones(3), max_iter=2)
    assert not r.converged and r.iterations == 2


def test_errors(xp):
    T = xp.asarray(_kofidis_regalia())
    with pytest.raises(ValueError, match=r"`x0` must have length d = 3; got shape \(2,\)"):
        sshopm(T, xp.ones(2))
    with pytest.raises(ValueError, match="`x0` must be a nonzero vector"):
        sshopm(T, xp.zeros(3))
    with pytest.raises(ValueError, match="`shift` must be 'adaptive' or a float"):
        sshopm(T, xp.ones(3), shift="big")
    asym = np.random.default_rng(0).standard_normal((3, 3, 3))
    with pytest.raises(ValueError, match="measured asymmetry"):
        sshopm(xp.asarray(asym), xp.ones(3))
    with pytest.raises(ValueError, match="`T` must be a tensor of order at least 2"):
        sshopm(xp.ones(3), xp.ones(3))
