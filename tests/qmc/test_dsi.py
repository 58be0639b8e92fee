import itertools

import numpy as np
import pytest
from _qmc_helpers import check_fastgram_against_dense

from orthla._testing import assert_close, to_host
from orthla.qmc import DigitalNet, DigitalShiftInvariantKernel, FastGram, Halton, Lattice, Sobol
from orthla.qmc._bits import bits_dtype
from orthla.qmc._dsi import _bit_length, walsh_kernel_1d

T = 10
VALUES = (0, 1, 5, 300, 512, 777, 1023)


def walsh_series(v, T, alpha, P=36):
    """sum_{k>=1} r(k) wal_k(x), x = v 2^-T, by the top set positions of k (positions <= P)."""
    digits = [(v >> (T - 1 - a)) & 1 for a in range(T)] + [0] * (P - T)
    sig = np.array([1.0] + [(-1.0) ** dg for dg in digits])  # sig[p], p = 1..P
    lead0 = np.array([1.0] + [float(all(dg == 0 for dg in digits[: p - 1])) for p in range(1, P + 1)])
    total = 0.0
    for s in range(1, alpha + 1):
        comb = np.array(list(itertools.combinations(range(1, P + 1), s)))
        term = 2.0 ** -comb.sum(1) * np.prod(sig[comb], axis=1)
        if s == alpha:  # free lower bits of k sum to 2^(p_min - 1) if x_1..x_(p_min - 1) are 0, else to 0
            pmin = comb.min(1)
            term = term * 2.0 ** (pmin - 1) * lead0[pmin]
        total += term.sum()
    return total


def _walsh_direct_alpha1(v, T):
    """sum_{k < 2^T} 2^(1 - 2 mu_1(k)) wal_k(x): exact for x = v 2^-T != 0 (later groups cancel)."""
    total = 0.0
    for k in range(1, 2**T):
        mu1 = k.bit_length()
        # wal_k(x) = (-1)^(sum_b k_b x_{b+1}), digit x_{b+1} is bit T-1-b of v
        sign = (-1) ** sum(((k >> b) & 1) * ((v >> (T - 1 - b)) & 1) for b in range(T))
        total += 2.0 ** (1 - 2 * mu1) * sign
    return total


def test_order_1_closed_form_is_its_walsh_series():
    import array_api_compat.numpy as xp

    for v in VALUES[1:]:
        got = float(walsh_kernel_1d(np.array([v], dtype=np.uint64), T, 1, xp)[0])
        assert abs(got - _walsh_direct_alpha1(v, T)) < 1e-14
    assert float(walsh_kernel_1d(np.array([0], dtype=np.uint64), T, 1, xp)[0]) == 1.0


@pytest.mark.parametrize("alpha", [2, 3, 4])
def test_higher_order_closed_forms_are_their_walsh_series(alpha):
    import array_api_compat.numpy as xp

    got = walsh_kernel_1d(np.array(VALUES, dtype=np.uint64), T, alpha, xp)
    ref = np.array([walsh_series(v, T, alpha, P=40) for v in VALUES])
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-9)  # series truncated at 2^-40


def test_kernel_is_digital_shift_invariant_and_positive_definite(xp):
    k = DigitalShiftInvariantKernel(3, alpha=[1, 2, 4], weights=[1.0, 0.5, 0.8], scale=2.0)
    rng = np.random.default_rng(0)
    xb = rng.integers(0, 2**40, size=(20, 3), dtype=np.uint64)
    s = rng.integers(0, 2**40, size=(1, 3), dtype=np.uint64)
    kb = DigitalShiftInvariantKernel(3, alpha=[1, 2, 4], weights=[1.0, 0.5, 0.8], scale=2.0, t=40)
    K1 = to_host(kb(xp.asarray(xb)))
    K2 = to_host(kb(xp.asarray(xb ^ s)))
    np.testing.assert_allclose(K1, K2, rtol=1e-14)
    assert np.all(np.linalg.eigvalsh(K1) > 0)
    # floats are read with 53 digits: same values as the integers shifted to 53 bits
    xf = (xb.astype(np.float64) * 2.0**-40)
    assert_close(k(xp.asarray(xf)), K1, xp=xp, rtol=1e-13)
    assert_close(k(xp.asarray(xf[:5]), xp.asarray(xf[5:10]), pairwise=False), np.diag(K1[:5, 5:10]).copy(), xp=xp, rtol=1e-13)


def test_bit_length_is_exact_up_to_63_bits(xp):
    # float64 log2 rounds near powers of two; the shift corrections must not overflow int64 (torch)
    vals = [1, 2, 3, 2**52 - 1, 2**53 + 1, 2**62 - 1, 2**62, 2**62 + 1, 2**63 - 2**10, 2**63 - 1]
    v = xp.asarray(np.array(vals, dtype=np.uint64).astype(np.int64), dtype=bits_dtype(xp))
    assert to_host(_bit_length(v, xp)).tolist() == [u.bit_length() for u in vals]


def test_integer_points_are_checked_on_every_backend(xp):
    k63 = DigitalShiftInvariantKernel(1, t=63)
    for bad in (np.array([[2**63 + 1]], dtype=np.uint64), np.array([[17]], dtype=np.uint64)):
        with pytest.raises(ValueError, match="holds integers of more than t = 4 bits"):
            DigitalShiftInvariantKernel(1, t=4)(xp.asarray(bad))
    with pytest.raises(ValueError, match="holds integers of more than t = 63 bits"):
        k63(xp.asarray(np.array([[2**63 + 1]], dtype=np.uint64)))
    with pytest.raises(ValueError, match="must be non-negative t-bit values"):
        k63(xp.asarray(np.array([[-1]], dtype=np.int64)))
    # unsigned and signed integers of the same values give the same kernel matrix
    x = np.array([[0], [5], [2**63 - 1]], dtype=np.uint64)
    K = k63(xp.asarray(x))
    assert_close(k63(xp.asarray(x.astype(np.int64))), to_host(K), xp=xp, rtol=0, atol=0)


def test_kernel_mean_is_scale():
    # Walsh functions k >= 1 integrate to zero: the mean over a full 2^m grid of v is exactly the k = 0 term.
    import array_api_compat.numpy as xp

    v = np.arange(2**12, dtype=np.uint64)
    for alpha in (1, 2, 3, 4):
        # on the 2^12 grid only the Walsh terms with 2^12 | k survive: O(2^-12)
        assert abs(float(np.mean(walsh_kernel_1d(v, 12, alpha, xp)))) < 2.0**-10


@pytest.mark.parametrize(("order", "randomize", "n"), [("natural", "lms-ds", 1024), ("gray", "lms-ds", 256),
                                                     ("natural", False, 256), ("gray", "ds", 256)])
def test_fastgram_dsi_matches_dense(xp, order, randomize, n):
    d = 3
    k = DigitalShiftInvariantKernel(d, alpha=[1, 2, 3], weights=[1.0, 0.5, 0.25], scale=1.1)
    x = DigitalNet(d, order=order, randomize=randomize, rng=4, xp=xp).random(n)
    noise = 1e-6
    g = FastGram(x, k, noise=noise)
    check_fastgram_against_dense(g, to_host(k(x)), noise, xp)


def test_fastgram_dsi_binary_points_and_double(xp):
    k = DigitalShiftInvariantKernel(2, alpha=[2, 4], weights=[0.7, 0.3])
    eng = Sobol(2, rng=1, return_binary=True, xp=xp)
    xb = eng.random(256)
    g = FastGram(xb[:128, :], k, noise=1e-7).double(xb[128:, :])
    ref = FastGram(xb, k, noise=1e-7)
    assert_close(g.eigenvalues, to_host(ref.eigenvalues), xp=xp, rtol=1e-12, atol=1e-12 * float(np.max(to_host(ref.eigenvalues))))
    ge = FastGram(Sobol(2, rng=1, return_binary=True, xp=xp), k, n=64, noise=1e-7).double().double()
    assert_close(ge.eigenvalues, to_host(ref.eigenvalues), xp=xp, rtol=1e-12, atol=1e-12 * float(np.max(to_host(ref.eigenvalues))))
    # float points of the same net give the same matrix up to the 53-digit truncation
    xf = Sobol(2, rng=1, xp=xp).random(256)
    np.testing.assert_allclose(to_host(FastGram(xf, k).eigenvalues), to_host(FastGram(xb, k).eigenvalues),
                               rtol=1e-12, atol=1e-12 * float(np.max(to_host(ref.eigenvalues))))


def test_worst_case_error_property_for_nets():
    # Mean of the first Gram column minus scale = squared worst-case error; nonnegative, and
    # smaller for a better net (Sobol' vs a poor net whose columns repeat).
    k = DigitalShiftInvariantKernel(2, alpha=2, weights=1.0, scale=1.0)
    x = Sobol(2, randomize=False).random(1024)
    g = FastGram(x, k)
    e2 = float(g.eigenvalues[0]) / 1024 - 1.0
    np.testing.assert_allclose(e2, np.mean(to_host(k(x[:1], x))) - 1.0, rtol=1e-12)
    eye = (np.uint64(1) << np.arange(62, 62 - 10, -1, dtype=np.uint64))
    poor = DigitalNet(2, generating_matrices=np.stack([eye, eye]), randomize=False).random(1024)  # x_1 = x_2
    e2_poor = float(FastGram(poor, k).eigenvalues[0]) / 1024 - 1.0
    assert 0 < e2 < e2_poor / 10


def test_dsi_refusals_and_errors():
    k = DigitalShiftInvariantKernel(2)
    with pytest.raises(ValueError, match="a DigitalShiftInvariantKernel needs DigitalNet points; got a Lattice engine"):
        FastGram(Lattice(2), k, n=64)
    with pytest.raises(ValueError, match="is not a base-2 digital net with n = 64 points"):
        FastGram(Lattice(2, rng=0).random(64), k)
    with pytest.raises(ValueError, match="is not a base-2 digital net"):
        FastGram(Halton(2, rng=0).random(64), k)
    with pytest.raises(ValueError, match="NUS \\(Owen\\) scrambling destroys it"):
        FastGram(Sobol(2, randomize="nus"), k, n=64)
    with pytest.raises(ValueError, match="is not a base-2 digital net"):
        FastGram(Sobol(2, randomize="nus", rng=1).random(64), k)
    with pytest.raises(ValueError, match=r"`alpha` must hold integers in 1..4"):
        DigitalShiftInvariantKernel(2, alpha=5)
    with pytest.raises(ValueError, match="`t` must be an integer at least 1 and at most 63; got 64"):
        DigitalShiftInvariantKernel(2, t=64)
    with pytest.raises(ValueError, match=r"`x` must hold finite points in \[0, 1\)"):
        k(np.array([[0.5, 1.5]]))
    with pytest.raises(ValueError, match="holds integers of more than t = 4 bits"):
        DigitalShiftInvariantKernel(1, t=4)(np.array([[17]], dtype=np.uint64))
    with pytest.raises(TypeError, match=r"must hold real floats \(float32 or float64\) in"):
        k(np.array([[0.5, 0.2]], dtype=complex))
    with pytest.raises(ValueError, match="`x_next` .* is required"):
        FastGram(Sobol(2).random(8), k).double()


def test_dsi_methods_refuse_nonfinite_and_wrong_types(xp):
    # issue 12: to_integers/xor_function took NaN, strings and floats with raw numpy errors
    k = DigitalShiftInvariantKernel(2, alpha=2)
    x = np.array([[0.25, 0.5], [np.nan, 0.1]])
    with pytest.raises(ValueError, match=r"`x` must hold finite points in \[0, 1\)"):
        k.to_integers(xp.asarray(x), "x", xp)
    with pytest.raises(TypeError, match=r"`pts` must hold real floats \(float32 or float64\)"):
        k.to_integers(np.zeros((2, 2), dtype=np.float16), "pts")
    with pytest.raises(TypeError, match="`x` must be an array of points; got the string"):
        k.to_integers("abc")
    with pytest.raises(TypeError, match="`xp` must be an array-API namespace"):
        k.to_integers(np.zeros((1, 2)), "x", "numpy")
    with pytest.raises(TypeError, match="`v` must hold t-bit integers .*got dtype .*float64"):
        k.xor_function(xp.asarray(x), 53, xp)
    with pytest.raises(TypeError, match="`v` must be an integer array; got the string"):
        k.xor_function("abc", 53, xp)
    with pytest.raises(TypeError, match="`t` must be an integer; got the boolean True"):
        k.xor_function(xp.asarray(np.zeros((1, 2), dtype=np.int64)), True, xp)
    with pytest.raises(ValueError, match="`v` holds integers of more than t = 4 bits"):
        k.xor_function(xp.asarray(np.array([[16, 0]])), 4, xp)
    with pytest.raises(ValueError, match="`v` must have last dimension d = 2"):
        k.xor_function(xp.asarray(np.array([[1, 0, 2]])), 4, xp)
    with pytest.raises(TypeError, match="`alpha` must hold integers; got dtype bool"):
        DigitalShiftInvariantKernel(2, alpha=True)
    # valid calls agree with the pairwise kernel
    xi = np.array([[3, 5], [6, 1]], dtype=np.int64)
    v = xi[:, None, :] ^ xi[None, :, :]
    k4 = DigitalShiftInvariantKernel(2, alpha=2, t=4)
    assert_close(k4.xor_function(xp.asarray(v), 4), to_host(k4(xp.asarray(xi))), xp=xp, rtol=1e-15)
