import mpmath
import numpy as np
import pytest
from _qmc_helpers import check_fastgram_against_dense

from orthla._testing import assert_close, to_host
from orthla.qmc import (
    FastGram,
    Halton,
    Lattice,
    ShiftInvariantKernel,
    Sobol,
    cbc_lattice,
    fftbr,
    fwht,
    ifftbr,
)
from orthla.qmc._bernoulli import bernoulli_coefficients, korobov_omega


@pytest.mark.parametrize("n", [2, 4, 6, 8, 10])
def test_bernoulli_polynomials_match_mpmath(n):
    for x in (0.0, 0.1, 0.37, 0.5, 0.99):
        ref = float(mpmath.bernpoly(n, x))
        val = np.polyval(bernoulli_coefficients(n), x)
        assert abs(val - ref) <= 1e-14 * max(1.0, abs(ref))


def _dense_kernel(x, z, alpha, gamma, scale):
    t = (x[:, None, :] - z[None, :, :]) % 1.0
    return scale * np.prod(1 + gamma * np.stack([korobov_omega(t[..., j], int(alpha[j])) for j in range(x.shape[1])], -1), -1)


def test_kernel_pairwise_and_broadcast(xp):
    rng = np.random.default_rng(0)
    x, z = rng.random((7, 3)), rng.random((5, 3))
    k = ShiftInvariantKernel(3, alpha=[1, 2, 5], weights=[1.0, 0.3, 2.0], scale=1.5)
    ref = _dense_kernel(x, z, [1, 2, 5], np.array([1.0, 0.3, 2.0]), 1.5)
    assert_close(k(xp.asarray(x), xp.asarray(z)), ref, xp=xp, rtol=1e-13)
    assert_close(k(xp.asarray(x[:5]), xp.asarray(z), pairwise=False), np.diag(ref[:5]).copy(), xp=xp, rtol=1e-13)
    kxx = to_host(k(xp.asarray(x)))
    np.testing.assert_allclose(kxx, kxx.T, rtol=0, atol=8 * np.finfo(float).eps * np.abs(kxx).max())
    assert np.all(np.linalg.eigvalsh(kxx) > 0)


def test_kernel_mean_is_scale_and_fourier_series():
    # Kt_a has zero mean, so int K(x, z) dz = scale; and Kt_1(t) = sum_{h!=0} e^{2 pi i h t}/h^2.
    t = (np.arange(4096) + 0.5) / 4096
    k = ShiftInvariantKernel(1, alpha=2, weights=0.7, scale=2.0)
    assert abs(np.mean(k(t[:, None], np.zeros((1, 1)))) - 2.0) < 1e-12
    h = np.arange(1, 5000)
    series = 2 * np.sum(np.cos(2 * np.pi * h * 0.3) / h**2.0)
    assert abs(korobov_omega(0.3, 1) - series) < 1e-3 / 5000 * 10


def test_kernel_errors(xp):
    k = ShiftInvariantKernel(2)
    with pytest.raises(ValueError, match=r"`x` must hold finite points in \[0, 1\); found 1 entries outside"):
        k(xp.asarray([[0.5, 1.0]]))
    with pytest.raises(ValueError, match=r"`x` must hold finite points in \[0, 1\)"):
        k(xp.asarray([[0.5, float("nan")]]))
    with pytest.raises(ValueError, match="`x` must have last dimension d = 2; got shape"):
        k(xp.asarray([[0.5, 0.1, 0.2]]))
    with pytest.raises(ValueError, match=r"`alpha` must hold integers in 1..5; got \[6, 6\]"):
        ShiftInvariantKernel(2, alpha=6)
    with pytest.raises(ValueError, match="`weights` must be positive"):
        ShiftInvariantKernel(2, weights=[1.0, 0.0])
    with pytest.raises(ValueError, match="`weights` must be a scalar or have length d = 2"):
        ShiftInvariantKernel(2, weights=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"`scale` must be a finite real number > 0; got -1.0"):
        ShiftInvariantKernel(2, scale=-1)


def test_fftbr_is_orthonormal_fft_of_bit_reversed_data(xp):
    rng = np.random.default_rng(1)
    y = rng.standard_normal((3, 16))
    idx = [int(format(i, "04b")[::-1], 2) for i in range(16)]
    ref = np.fft.fft(y[:, idx], norm="ortho")
    assert_close(fftbr(xp.asarray(y)), ref, xp=xp, rtol=1e-13, atol=1e-14)
    assert_close(ifftbr(fftbr(xp.asarray(y))), y.astype(complex), xp=xp, rtol=0, atol=1e-14)
    assert_close(fftbr(xp.asarray(y.T), axis=0), ref.T, xp=xp, rtol=1e-13, atol=1e-14)
    with pytest.raises(ValueError, match="must have a power-of-two length along axis 1; got 12"):
        fftbr(xp.asarray(np.ones((2, 12))))


@pytest.mark.parametrize(("shift", "n"), [(True, 1024), (False, 256)])
def test_fastgram_matches_dense(xp, shift, n):
    d = 3
    k = ShiftInvariantKernel(d, alpha=[1, 2, 2], weights=[1.0, 0.5, 0.25], scale=1.3)
    x = Lattice(d, rng=5, randomize="shift" if shift else False, xp=xp).random(n)
    noise = 1e-6
    g = FastGram(x, k, noise=noise)
    y, sol = check_fastgram_against_dense(g, to_host(k(x)), noise, xp)
    np.testing.assert_allclose(to_host(g.solve(xp.asarray(y[:, 0]))), sol[:, 0], rtol=1e-12, atol=1e-12 * np.abs(sol).max())


def test_worst_case_error_property_agrees_with_cbc():
    # mean of the first Gram column minus scale = squared worst-case error of the rule.
    n, d = 512, 4
    gamma = 1.0 / np.arange(1, d + 1) ** 2
    res = cbc_lattice(n, d, weights=gamma)
    x = Lattice(d, generating_vector=res.generating_vector, m_max=9, rng=3).random(n)
    k = ShiftInvariantKernel(d, alpha=1, weights=gamma, scale=1.0)
    g = FastGram(x, k)
    wce2 = float(g.eigenvalues[0]) / n - 1.0  # lambda_0 = sum of the first column
    np.testing.assert_allclose(wce2, res.worst_case_error[-1] ** 2, rtol=1e-9)


def test_fastgram_from_engine_and_refusals():
    k = ShiftInvariantKernel(2)
    eng = Lattice(2, rng=1)
    g = FastGram(eng, k, n=64)
    np.testing.assert_allclose(to_host(g.eigenvalues), to_host(FastGram(eng.random(64), k).eigenvalues), rtol=1e-14)
    with pytest.raises(ValueError, match="natural or linear order .* uses order='gray'"):
        FastGram(Lattice(2, order="gray"), k, n=64)
    with pytest.raises(ValueError, match="not a lattice in natural"):
        FastGram(Lattice(2, order="gray", rng=1).random(64), k)
    with pytest.raises(ValueError, match="a ShiftInvariantKernel needs Lattice points; got a Sobol engine"):
        FastGram(Sobol(2), k, n=64)
    with pytest.raises(ValueError, match="is not a lattice with n = 64 points"):
        FastGram(Halton(2, rng=0).random(64), k)
    with pytest.raises(ValueError, match=r"`x` must hold n = 2\^m points \(a whole lattice or net\); got n = 48"):
        FastGram(Lattice(2).random(48), k)
    with pytest.raises(ValueError, match="`n` is required"):
        FastGram(eng, k)
    with pytest.raises(ValueError, match="kernel has d = 2"):
        FastGram(Lattice(3).random(8), k)
    with pytest.raises(ValueError, match=r"`noise` must be a finite real number >= 0"):
        FastGram(eng, k, n=8, noise=-1.0)
    with pytest.raises(TypeError, match="`kernel` must be a ShiftInvariantKernel or a DigitalShiftInvariantKernel"):
        FastGram(eng, lambda x: x, n=8)
    with pytest.raises(ValueError, match=r"`y` must have shape \(n,\) or \(n, k\) with n = 64"):
        g.solve(np.ones(32))
    # exact eigenvalues are positive; a rounding-level zero must be reported, not divided by
    g.eigenvalues = g.eigenvalues * 0.0
    with pytest.raises(ValueError, match="not positive definite to working precision"):
        g.solve(np.ones(64))
    with pytest.raises(ValueError, match="increase `noise`"):
        g.logdet()


def test_double_reuses_the_first_half(xp):
    k = ShiftInvariantKernel(3, alpha=[1, 2, 3], weights=[1.0, 0.5, 0.2])
    eng = Lattice(3, rng=8, xp=xp)
    x = eng.random(256)
    g = FastGram(x[:128, :], k, noise=1e-5)
    g2 = g.double(x[128:, :])
    ref = FastGram(x, k, noise=1e-5)
    assert g2.n == 256
    assert_close(g2.eigenvalues, to_host(ref.eigenvalues), xp=xp, rtol=1e-12,
                 atol=1e-12 * float(np.max(to_host(ref.eigenvalues))))
    y = xp.asarray(np.random.default_rng(0).standard_normal(256))
    assert_close(g2.solve(y), to_host(ref.solve(y)), xp=xp, rtol=1e-10, atol=1e-10)
    # from an engine: no points to pass; repeated doubling
    ge = FastGram(Lattice(3, rng=8, xp=xp), k, n=64, noise=1e-5).double().double()
    assert_close(ge.eigenvalues, to_host(ref.eigenvalues), xp=xp, rtol=1e-12,
                 atol=1e-12 * float(np.max(to_host(ref.eigenvalues))))
    with pytest.raises(ValueError, match="`x_next` .* is required"):
        g.double()
    with pytest.raises(ValueError, match=r"`x_next` must have shape \(n, d\) = \(128, 3\)"):
        g.double(x[128:200, :])
    with pytest.raises(ValueError, match="not a lattice"):
        g.double(xp.asarray(np.random.default_rng(1).random((128, 3))))
    with pytest.raises(ValueError, match=r"cannot double to 32 points: the engine holds 16"):
        FastGram(Lattice(3, m_max=4), k, n=16).double()


@pytest.mark.parametrize("shape_axis", [((16,), -1), ((3, 8), 1), ((32, 2), 0)])
def test_fwht_is_the_orthonormal_hadamard_transform(xp, shape_axis):
    import scipy.linalg

    shape, axis = shape_axis
    y = np.random.default_rng(4).standard_normal(shape)
    n = shape[axis]
    H = scipy.linalg.hadamard(n) / np.sqrt(n)
    ref = np.moveaxis(np.moveaxis(y, axis, -1) @ H.T, -1, axis)
    out = fwht(xp.asarray(y), axis=axis, engine="xp")
    assert_close(out, ref, xp=xp, rtol=0, atol=4 * np.log2(n) * np.finfo(float).eps * np.abs(y).max() * np.sqrt(n))
    assert_close(fwht(out, axis=axis, engine="xp"), y, xp=xp, rtol=0, atol=1e-14)


def test_fwht_numba_matches_xp(needs_numba):
    y = np.random.default_rng(5).standard_normal((5, 64))
    y.setflags(write=False)
    np.testing.assert_allclose(fwht(y, engine="numba"), fwht(y, engine="xp"), rtol=0, atol=1e-14)
    np.testing.assert_allclose(fwht(y.T, axis=0, engine="numba"), fwht(y, engine="xp").T, rtol=0, atol=1e-14)
    np.testing.assert_array_equal(fwht(np.array([3, 1]), engine="numba"), np.array([4, 2]) / np.sqrt(2))


@pytest.mark.parametrize("m", range(14))
def test_fwht_numba_radix4_is_the_radix2_transform_bit_for_bit(needs_numba, m):
    # the kernel takes two stages at a time (and one alone for odd m): the same sums in the
    # same order as the xp path's radix-2 stages, so the same bits
    y = np.random.default_rng(m).standard_normal((3, 2**m))
    np.testing.assert_array_equal(fwht(y, engine="numba"), fwht(y, engine="xp"))


def test_fwht_errors(xp):
    with pytest.raises(ValueError, match="must have a power-of-two length along axis 0; got 6"):
        fwht(xp.ones(6))
    with pytest.raises(TypeError, match="`y` must be real"):
        fwht(xp.asarray(np.ones(4, dtype=complex)))
    with pytest.raises(ValueError, match="`axis` must be an integer at least -1 and at most 0; got 1"):
        fwht(xp.ones(4), axis=1)


def test_fastgram_linear_order_is_a_plain_circulant(xp):
    n = 256
    k = ShiftInvariantKernel(2, alpha=[1, 3], weights=[1.0, 0.4])
    x = Lattice(2, order="linear", rng=6, xp=xp).random(n)
    g = FastGram(x, k, noise=1e-6)
    K = to_host(k(x)) + 1e-6 * np.eye(n)
    np.testing.assert_allclose(np.sort(to_host(g.eigenvalues)) + 1e-6, np.linalg.eigvalsh(K), rtol=1e-9,
                               atol=1e-9 * np.abs(K).max() * n)
    y = np.random.default_rng(3).standard_normal(n)
    assert_close(g.solve(xp.asarray(y)), np.linalg.solve(K, y), xp=xp, rtol=1e-8, atol=1e-8 * np.abs(np.linalg.solve(K, y)).max())
    # the natural-order FastGram of the same lattice has the same spectrum
    xn = Lattice(2, rng=6, xp=xp).random(n)
    np.testing.assert_allclose(np.sort(to_host(FastGram(xn, k).eigenvalues)), np.sort(to_host(g.eigenvalues)),
                               rtol=1e-10, atol=1e-10 * float(np.max(to_host(g.eigenvalues))))
    gl = FastGram(Lattice(2, order="linear", rng=6), k, n=64)
    with pytest.raises(ValueError, match="double\\(\\) needs natural order"):
        gl.double()


def test_nonfinite_and_wrongly_typed_inputs_are_refused(xp):
    # issue 12: NaN/inf in vectors, strings for shift_function and booleans as integers were accepted
    from orthla.qmc import fftbr, fwht, ifftbr

    x = Lattice(2, rng=1, xp=xp).random(8)
    k = ShiftInvariantKernel(2, alpha=1)
    g = FastGram(x, k, noise=1e-3)
    for bad in (np.nan, np.inf):
        y = np.arange(8.0)
        y[3] = bad
        for f in (g.matvec, g.solve, fwht, fftbr, ifftbr):
            with pytest.raises(ValueError, match="`y` must contain only finite values; found 1"):
                f(xp.asarray(y))
        t = np.full((3, 2), 0.25)
        t[1, 1] = bad
        with pytest.raises(ValueError, match="`t` must contain only finite values"):
            k.shift_function(xp.asarray(t), xp)
    with pytest.raises(ValueError, match=r"`t` must hold differences \(x - z\) mod 1 in \[0, 1\]"):
        k.shift_function(xp.asarray(np.full((3, 2), 1.5)), xp)
    with pytest.raises(TypeError, match="`t` must be an array; got the string"):
        k.shift_function("abc", xp)
    with pytest.raises(TypeError, match="`xp` must be an array-API namespace"):
        k.shift_function(xp.asarray(np.zeros((1, 2))), "numpy")
    with pytest.raises(TypeError, match="`t` has dtype float16"):
        k.shift_function(np.zeros((1, 2), dtype=np.float16), None)
    with pytest.raises(TypeError, match="`y` has dtype float16"):
        fwht(np.zeros(4, dtype=np.float16))
    with pytest.raises(TypeError, match="`y` must have a real or complex floating .*got bool"):
        fftbr(np.ones(4, dtype=bool))
    with pytest.raises(TypeError, match="`axis` must be an integer; got the boolean True"):
        fwht(xp.asarray(np.ones(4)), axis=True)
    for noise in ("0.1", True, np.nan):
        with pytest.raises((TypeError, ValueError), match="`noise` must be a"):
            FastGram(x, k, noise=noise)
    with pytest.raises(TypeError, match="`n` must be an integer; got the boolean True"):
        FastGram(Lattice(2, rng=1), k, n=True)
    xn = np.array(to_host(x), copy=True)
    xn[2, 0] = np.nan
    with pytest.raises(ValueError, match=r"`x` must hold finite points in \[0, 1\)"):
        FastGram(xp.asarray(xn), k)
    for bad, exc in (("2", TypeError), (True, TypeError), (np.inf, ValueError)):
        with pytest.raises(exc, match="`scale` must be a"):
            ShiftInvariantKernel(2, scale=bad)
    with pytest.raises(TypeError, match="`weights` must be numeric; got the string '1'"):
        ShiftInvariantKernel(2, weights="1")
    with pytest.raises(TypeError, match="`alpha` must hold integers; got dtype bool"):
        ShiftInvariantKernel(2, alpha=True)
    with pytest.raises(TypeError, match="`d` must be an integer; got the boolean True"):
        ShiftInvariantKernel(True)



def test_empty_batches_transform_to_empty(xp):
    # torch's FFT raised a raw RuntimeError (MKL DFTI) on an empty batch
    from orthla.qmc import fftbr, fwht, ifftbr

    empty = xp.zeros((0, 8), dtype=xp.float64)
    for f in (fftbr, ifftbr, fwht):
        assert tuple(f(empty).shape) == (0, 8)
    for order in ("natural", "linear"):
        g = FastGram(Lattice(2, rng=1, order=order, xp=xp).random(8), ShiftInvariantKernel(2), noise=1e-3)
        for f in (g.matvec, g.solve):
            assert tuple(f(xp.zeros((8, 0), dtype=xp.float64)).shape) == (8, 0)


def test_kernels_whose_values_overflow_are_refused():
    # weights=1e308 gave inf kernel values (and inf Gram eigenvalues) from finite input
    from orthla.qmc import DigitalShiftInvariantKernel

    x = Lattice(2, rng=1).random(8)
    for cls in (ShiftInvariantKernel, DigitalShiftInvariantKernel):
        for kw in (dict(weights=1e308), dict(scale=1e300), dict(weights=[1e200, 1e200])):
            with pytest.raises(ValueError, match=r"`weights` and `scale` give a kernel maximum K\(x, x\) = 2\^"):
                cls(2, **kw)
        k = cls(2, weights=1e140, scale=1.0)  # maximum about 2^932: within range
        assert np.all(np.isfinite(k(x)))


def test_subnormal_eigenvalues_count_as_singular():
    # lambda = 1e-310 > 0 passed the positivity test and solve returned inf from finite input
    x = Lattice(1, rng=1).random(4)
    g = FastGram(x, ShiftInvariantKernel(1, alpha=1), noise=0.0)
    g.eigenvalues = np.array([1.0, 1e-310, 1.0, 1.0])  # as a nearly singular kernel would give
    with pytest.raises(ValueError, match="not positive definite to working precision"):
        g.solve(np.ones(4))
    with pytest.raises(ValueError, match="not positive definite to working precision"):
        g.logdet()


def test_numpy_scalars_are_accepted_as_parameters():
    # np.float64(2.0) as weights raised AttributeError ('__dlpack__')
    k = ShiftInvariantKernel(2, alpha=np.int64(1), weights=np.float64(0.5), scale=np.float32(2.0))
    assert k.alpha.tolist() == [1, 1] and k.weights.tolist() == [0.5, 0.5] and k.scale == 2.0
    with pytest.raises(ValueError, match="1-D integer array; got shape"):  # a vector must be 1-D
        Lattice(1, generating_vector=np.int64(3))


def test_flags_must_be_booleans():
    from orthla.qmc import DigitalShiftInvariantKernel, Sobol, cbc_lattice

    x = np.array([[0.1, 0.2]])
    for k in (ShiftInvariantKernel(2), DigitalShiftInvariantKernel(2)):
        with pytest.raises(TypeError, match="`pairwise` must be True or False; got 'no'"):
            k(x, pairwise="no")
        assert k(x, pairwise=np.bool_(False)).shape == (1,)
    with pytest.raises(TypeError, match="`return_binary` must be True or False; got 'no'"):
        Sobol(2, return_binary="no")
    with pytest.raises(TypeError, match="`extensible` must be True or False; got 1"):
        cbc_lattice(64, 2, extensible=1)


@pytest.mark.parametrize("kind", ["lattice", "net"])
def test_fastgram_results_near_overflow_are_exact_or_refused(kind):
    # matvec(1e308 * ones) and solve(1e10 * ones) with eigenvalues ~1e-300 returned inf with a
    # RuntimeWarning (finite input); y and the eigenvalues are now scaled by powers of two.
    from orthla.qmc import DigitalShiftInvariantKernel, Sobol

    if kind == "lattice":
        x, kern = Lattice(2, rng=1).random(16), ShiftInvariantKernel
    else:
        x, kern = Sobol(2, rng=1).random(16), DigitalShiftInvariantKernel
    y = np.random.default_rng(0).standard_normal((16, 2))
    g = FastGram(x, kern(2), noise=0.0)
    dense = to_host(kern(2)(x))
    big = g.matvec(y * 2.0**1015)  # about 2^1017: representable, exact up to the power of two
    np.testing.assert_array_equal(big, g.matvec(y) * 2.0**1015)
    np.testing.assert_allclose(big / 2.0**1015, dense @ y, rtol=1e-12, atol=1e-12 * np.abs(dense).sum())
    np.testing.assert_array_equal(g.solve(y * 2.0**1000), g.solve(y) * 2.0**1000)
    with pytest.raises(ValueError, match="`y` is too large: its results"):
        g.matvec(np.full(16, 1e308))  # row sums of K about 16: 1.6e309
    tiny = FastGram(x, kern(2, scale=1e-300), noise=0.0)
    z = tiny.solve(np.full(16, 1e-10))  # about 1e289: fine
    np.testing.assert_allclose(1e-300 * dense @ z, np.full(16, 1e-10), rtol=1e-8)
    with pytest.raises(ValueError, match="`y` is too large: its results"):
        tiny.solve(np.full(16, 1e10))
