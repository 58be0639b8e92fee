"""Student-t spectral mixtures: Matérn-times-cosine kernels and their closed-form derivatives."""

import mpmath as mp
import numpy as np
import pytest
import scipy.integrate
from _kron_helpers import one_blas_thread  # noqa: F401  (autouse fixture)
from scipy.special import gammaln

from orthla._testing import to_host
from orthla.kron import GridPDESolver, SpectralMixture

MU, SC, LW = [1.3, 0.0], [0.7, 0.4], [0.0, -0.5]
POLY = {3: lambda y: 1 + y, 5: lambda y: 1 + y + y**2 / 3, 7: lambda y: 1 + y + 2 * y**2 / 5 + y**3 / 15}


def _t_density(xi, scale, dof):
    c = np.exp(gammaln((dof + 1) / 2) - gammaln(dof / 2)) / np.sqrt(dof * np.pi) / scale
    return c * (1 + (xi / scale) ** 2 / dof) ** (-(dof + 1) / 2)


@pytest.mark.parametrize("dof", [3, 5, 7])
def test_kernel_is_the_fourier_transform_of_the_t_spectrum(xp, dof):
    # k(t) = sum_q w_q E[cos(2 pi xi t)], xi ~ Student-t(mu_q, s_q, dof) (symmetrized): quadrature
    k = SpectralMixture(MU, SC, log_weights=LW, spectrum="student_t", dof=dof)
    ts = np.array([0.0, 0.05, 0.3, -0.8, 1.7])
    got = to_host(k(xp.asarray(ts), xp.asarray(np.zeros(1))))[:, 0]
    ref = []
    for t in ts:
        v = 0.0
        for m, s, lw in zip(MU, SC, LW, strict=True):
            if t == 0:
                part = 1.0
            else:  # QAWF (Fourier integral on [0, inf)) of the even density
                part = 2 * scipy.integrate.quad(_t_density, 0, np.inf, args=(s, dof), weight="cos",
                                                wvar=2 * np.pi * abs(t))[0]
            v += np.exp(lw) * np.cos(2 * np.pi * m * t) * part
        ref.append(v)
    assert np.max(np.abs(got - np.array(ref))) <= 1e-9  # measured 2e-11 .. 1.5e-10 (quadrature)


@pytest.mark.parametrize("dof", [3, 5, 7])
def test_derivatives_against_mpmath(xp, dof):
    mp.mp.dps = 30

    def kf(t):
        r, tot = abs(t), mp.mpf(0)
        for m, s, lw in zip(MU, SC, LW, strict=True):
            y = 2 * mp.pi * mp.sqrt(dof) * s * r
            tot += mp.e**lw * POLY[dof](y) * mp.e ** (-y) * mp.cos(2 * mp.pi * m * t)
        return tot

    k = SpectralMixture(xp.asarray(MU), xp.asarray(SC), log_weights=xp.asarray(LW), spectrum="student_t", dof=dof)
    x = np.array([0.05, 0.3, -0.8, 1.1])
    z = np.array([0.0, 0.2])
    for order in range(min(4, dof - 1) + 1):
        for dx in range(order + 1):
            dz = order - dx
            got = to_host(k(xp.asarray(x), xp.asarray(z), dx=dx, dz=dz))
            ref = np.array([[float(mp.diff(kf, mp.mpf(a) - mp.mpf(b), order)) * (-1) ** dz for b in z] for a in x])
            assert np.max(np.abs(got - ref)) <= 1e-12 * max(1.0, np.max(np.abs(ref))), (dof, dx, dz)


def test_derivative_at_zero_lag_is_continuous():
    # odd derivatives vanish at t = 0 and the even ones match the limit from t > 0
    k = SpectralMixture([1.0], [0.5], spectrum="student_t", dof=5)
    for order in range(5):
        at0 = float(to_host(k(np.zeros(1), np.zeros(1), dx=order))[0, 0])
        near = float(to_host(k(np.array([1e-10]), np.zeros(1), dx=order))[0, 0])
        assert abs(at0 - near) <= 1e-4 * max(1.0, abs(near)), order


def test_solver_with_student_t_kernel():
    # Poisson -u'' = f, u = sin(20 x) + x^2: a Student-t mixture near the true frequency
    x = np.linspace(0, 1, 60)
    u = np.sin(20 * x) + x**2
    f = 400 * np.sin(20 * x) - 2
    k = SpectralMixture([0.0, 20 / (2 * np.pi)], [0.5, 0.5], spectrum="student_t", dof=7)
    res = GridPDESolver([x], k).solve(f, u)
    err = np.linalg.norm(res.u - u) / np.linalg.norm(u)
    assert err <= 1e-3, err


def test_bad_input():
    with pytest.raises(ValueError, match="`spectrum` must be 'gaussian' or 'student_t'"):
        SpectralMixture([1.0], [1.0], spectrum="cauchy")
    with pytest.raises(ValueError, match="`dof` is only for spectrum='student_t'"):
        SpectralMixture([1.0], [1.0], dof=5)
    with pytest.raises(ValueError, match="`dof` must be one of \\[3, 5, 7\\]"):
        SpectralMixture([1.0], [1.0], spectrum="student_t", dof=4)
    with pytest.raises(TypeError, match="`dof`"):
        SpectralMixture([1.0], [1.0], spectrum="student_t", dof=5.5)
    k3 = SpectralMixture([1.0], [1.0], spectrum="student_t", dof=3)
    with pytest.raises(ValueError, match="at most 2 .*dof=3"):
        k3(np.zeros(3), dx=2, dz=1)
    assert "student_t" in repr(k3)
