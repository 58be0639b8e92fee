"""Hardening of jacobi_svd, jacobi_eigh and mgs_qr (issue 12): rank deficiency, scale, bad input.

References are LAPACK through NumPy (``numpy.linalg.svd``/``eigvalsh``/``qr``) on the same
matrices in double precision; tolerances are ``eps`` of the dtype times a modest factor times n.
"""

import warnings

import numpy as np
import pytest

from orthla._backend import is_numpy, numba_available
from orthla._testing import to_host
from orthla.pivoting import jacobi_eigh, jacobi_svd, mgs_qr

DTYPES = (np.float32, np.complex64, np.float64, np.complex128)


def _engines(xp):
    """Both engines on NumPy (the Numba one only where numba is installed), else the xp one."""
    return ("numba", "xp") if is_numpy(xp) and numba_available() else ("xp",)


def rank_deficient(rng, dtype):
    """A small random matrix of rank below min(m, n): repeated, zero or low-rank columns."""
    m, n = rng.integers(2, 8, size=2)
    cplx = np.issubdtype(dtype, np.complexfloating)

    def draw(*shape):
        g = rng.standard_normal(shape)
        return g + 1j * rng.standard_normal(shape) if cplx else g

    kind = rng.integers(3)
    if kind == 0:  # a column repeated (the issue's reproducer: a[:, 3] = a[:, 0])
        a = draw(m, n)
        i, j = rng.choice(n, 2, replace=False) if n > 1 else (0, 0)
        a[:, j] = a[:, i]
        if n == 1 or m < n:
            a[rng.integers(m)] = 0  # and a zero row, so that wide inputs are deficient too
    elif kind == 1:  # a product through a narrower inner dimension
        r = rng.integers(0, min(m, n))
        a = draw(m, r) @ draw(r, n)
    else:  # a zero column beside a repeated row
        a = draw(m, n)
        a[:, rng.integers(n)] = 0
        if m < n:
            a[rng.integers(m)] = 0
    return a.astype(dtype)


def check_against_lapack(a_np, res, factor=30):
    """Singular values within factor * n * eps * ||a||_2 of LAPACK's; U, V orthonormal."""
    u, s, vh, info = res
    m, n = a_np.shape
    eps = np.finfo(a_np.dtype).eps
    ref = np.linalg.svd(a_np.astype(np.complex128), compute_uv=False)
    sh = to_host(s)
    assert np.all(np.isfinite(sh)), (sh, info)
    bound = factor * max(m, n) * eps * max(ref[0], np.finfo(float).tiny)
    np.testing.assert_allclose(sh, ref, rtol=0, atol=bound)
    assert info.converged and info.converged == (info.off_norm <= info.tol), info
    uh, vhh = to_host(u), to_host(vh)
    k = min(m, n)
    assert np.linalg.norm(uh.conj().T @ uh - np.eye(k)) <= factor * max(m, n) * eps
    assert np.linalg.norm(vhh @ vhh.conj().T - np.eye(k)) <= factor * max(m, n) * eps
    norm = max(np.linalg.norm(a_np.astype(np.complex128)), np.finfo(float).tiny)
    assert np.linalg.norm((uh * sh) @ vhh - a_np) <= factor * max(m, n) * eps * norm


@pytest.mark.parametrize("precondition", ["qrcp", None])
@pytest.mark.parametrize("dtype", DTYPES)
def test_rank_deficient_agrees_with_lapack(xp, dtype, precondition):
    # issue 12, item 4: on the array-API path complex64 rank-deficient input gave all-NaN S with
    # converged=True (28 of 40 cases); the Numba kernel divided by zero without preconditioning
    rng = np.random.default_rng(1200 + DTYPES.index(dtype))
    cases = [rank_deficient(rng, dtype) for _ in range(16)]
    g = np.random.default_rng(0).standard_normal
    issue = g((4, 4)) + 1j * g((4, 4)) if np.issubdtype(dtype, np.complexfloating) else g((4, 4))
    issue[:, 3] = issue[:, 0]
    cases.append(issue.astype(dtype))
    for engine in _engines(xp):
        for a_np in cases:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # no JacobiConvergenceWarning, no RuntimeWarning
                res = jacobi_svd(xp.asarray(a_np), precondition=precondition, engine=engine)
            check_against_lapack(a_np, res)


@pytest.mark.parametrize(("pivoting", "precondition"), [("cyclic", "qrcp"), ("random-sweep", None)])
def test_single_precision_low_rank_graded(xp, pivoting, precondition):
    # low rank with graded columns: on the xp path |tau| passed 2e19 and the unused branch of
    # rotation_xp's where() squared it (float32 overflow warning, draw 8: 19 x 10, rank 2);
    # results must match LAPACK
    rng = np.random.default_rng(5)
    for trial in range(10):
        m, n = rng.integers(2, 25, size=2)
        r = rng.integers(0, min(m, n))
        dtype = (np.float32, np.complex64)[trial % 2]
        b = rng.standard_normal((m, r)) + (1j * rng.standard_normal((m, r)) if trial % 2 else 0)
        c = rng.standard_normal((r, n)) * np.logspace(0, -int(rng.integers(0, 8)), n)
        a_np = (b @ c).astype(dtype)
        res = jacobi_svd(xp.asarray(a_np), pivoting=pivoting, precondition=precondition, rng=0,
                         engine="xp")
        check_against_lapack(a_np, res)


@pytest.mark.parametrize("precondition", ["qrcp", None])
def test_exactly_singular_input(xp, precondition):
    # issue 12: ZeroDivisionError in the Numba kernel (ones((3, 3))); 50 sweeps,
    # converged=False, off_norm=0 and overflow warnings on the xp path (ones((6, 6)) on
    # array_api_strict)
    for engine in _engines(xp):
        for a_np in (np.ones((3, 3)), np.ones((6, 6)), np.ones((4, 2)), np.zeros((3, 3)), np.ones((2, 5))):
            res = jacobi_svd(xp.asarray(a_np), precondition=precondition, engine=engine)
            check_against_lapack(a_np, res, factor=4)
            assert res.info.sweeps <= 20


@pytest.mark.parametrize("pivoting", ["random", "random-sweep"])
def test_rank_deficient_random_pivotings(xp, pivoting):
    rng = np.random.default_rng(7)
    for dtype in (np.float32, np.complex128):
        for _ in range(6):
            a_np = rank_deficient(rng, dtype)
            for engine in _engines(xp):
                res = jacobi_svd(xp.asarray(a_np), pivoting=pivoting, rng=1, engine=engine)
                check_against_lapack(a_np, res)


def test_guard_keeps_graded_relative_accuracy(xp):
    # the negligible-column guard acts only below smallest_normal / eps: a row and column
    # graded by 1e-80 still gives its eigenvalue (about 1e-160) to full relative accuracy, on
    # both routes (the one-sided route shares the guard with jacobi_svd)
    h = np.array([[2.0, 1.0, 0.5], [1.0, 2.0, 1.0], [0.5, 1.0, 2.0]])
    d = np.array([1.0, 1e-80, 1.0])
    a_np = d[:, None] * h * d
    # smallest eigenvalue to first order: 1e-160 times the Schur complement of h[1, 1]
    keep = [0, 2]
    schur = h[1, 1] - h[1, keep] @ np.linalg.solve(h[np.ix_(keep, keep)], h[keep, 1])
    for method in ("two-sided", "cholesky-one-sided"):
        w, _, info = jacobi_eigh(xp.asarray(a_np), method=method)
        assert info.converged
        small = to_host(w)[0]
        assert small == pytest.approx(1e-160 * schur, rel=1e-14)


# ---------------------------------------------------------------- scale

SCALES = (1e150, 1e-150, 1e200, 1e-200, 1e300, 1e-300)


def graded(seed, m, n, cplx=False):
    g = np.random.default_rng(seed).standard_normal
    a = g((m, n)) + (1j * g((m, n)) if cplx else 0)
    return a


@pytest.mark.parametrize("scale", SCALES)
def test_svd_at_extreme_scales(xp, scale):
    # issue 12, item 7: jacobi_svd at 1e155 gave inf silently (squares overflow)
    for cplx in (False, True):
        a_np = graded(0, 5, 3, cplx)
        for engine in _engines(xp):
            for precondition in ("qrcp", None):
                base = jacobi_svd(xp.asarray(a_np), precondition=precondition, engine=engine)
                res = jacobi_svd(xp.asarray(a_np * scale), precondition=precondition, engine=engine)
                s = to_host(res.S)
                assert np.all(np.isfinite(s)) and res.info.converged
                # a * scale is a rounded once: equal to rounding (power-of-two scaling is exact)
                np.testing.assert_allclose(s / scale, to_host(base.S), rtol=1e-14)
                np.testing.assert_allclose(to_host(res.U), to_host(base.U), rtol=0, atol=1e-13)
                np.testing.assert_allclose(to_host(res.Vh), to_host(base.Vh), rtol=0, atol=1e-13)


@pytest.mark.parametrize("scale", SCALES)
def test_eigh_at_extreme_scales(xp, scale):
    g = np.random.default_rng(4).standard_normal((5, 5))
    indefinite = g + g.T
    spd = g @ g.T + np.eye(5)
    for a_np, method in ((indefinite, "two-sided"), (spd, "cholesky-one-sided")):
        for engine in _engines(xp):
            base = jacobi_eigh(xp.asarray(a_np), method=method, engine=engine)
            res = jacobi_eigh(xp.asarray(a_np * scale), method=method, engine=engine)
            w = to_host(res.eigenvalues)
            assert np.all(np.isfinite(w)) and res.info.converged
            np.testing.assert_allclose(w / scale, to_host(base.eigenvalues), rtol=1e-13)
            np.testing.assert_allclose(np.abs(to_host(res.eigenvectors)),
                                       np.abs(to_host(base.eigenvectors)), rtol=0, atol=1e-12)


@pytest.mark.parametrize("scale", SCALES)
def test_mgs_at_extreme_scales(xp, scale):
    # issue 12, item 7: mgs_qr(G(5,3) * 1e-200) returned Q = A, R = 0 (squares underflow)
    for cplx in (False, True):
        a_np = graded(0, 5, 3, cplx)
        for wide in (False, True):
            a_in = a_np.T.copy() if wide else a_np
            for engine in _engines(xp):
                base = mgs_qr(xp.asarray(a_in), engine=engine)
                q, r = mgs_qr(xp.asarray(a_in * scale), engine=engine)
                qh, rh = to_host(q), to_host(r)
                assert np.all(np.isfinite(qh)) and np.all(np.isfinite(rh))
                np.testing.assert_allclose(qh, to_host(base.Q), rtol=0, atol=1e-14)
                np.testing.assert_allclose(rh / scale, to_host(base.R), rtol=0, atol=1e-14 * 4)


def test_power_of_two_scaling_is_exact(xp):
    # scaling by 2**k commutes with the algorithms bit for bit (the input is normalized by a
    # power of two on entry): the strongest form of "1e150 behaves like 1"
    a_np = graded(3, 6, 4, cplx=True)
    sym = a_np.conj().T @ a_np
    for k in (600, -600):
        f = 2.0**k
        for engine in _engines(xp):
            u, s, vh, _ = jacobi_svd(xp.asarray(a_np), engine=engine)
            u2, s2, vh2, _ = jacobi_svd(xp.asarray(a_np * f), engine=engine)
            np.testing.assert_array_equal(to_host(s2), to_host(s) * f)
            np.testing.assert_array_equal(to_host(u2), to_host(u))
            np.testing.assert_array_equal(to_host(vh2), to_host(vh))
            w, v, _ = jacobi_eigh(xp.asarray(sym), engine=engine)
            w2, v2, _ = jacobi_eigh(xp.asarray(sym * f), engine=engine)
            np.testing.assert_array_equal(to_host(w2), to_host(w) * f)
            np.testing.assert_array_equal(to_host(v2), to_host(v))
            q, r = mgs_qr(xp.asarray(a_np), engine=engine)
            q2, r2 = mgs_qr(xp.asarray(a_np * f), engine=engine)
            np.testing.assert_array_equal(to_host(q2), to_host(q))
            np.testing.assert_array_equal(to_host(r2), to_host(r) * f)


@pytest.mark.parametrize("dtype", [np.float32, np.complex64])
def test_single_precision_at_its_extreme_scales(xp, dtype):
    # float32 squares overflow above 1e19 and underflow below 1e-19
    a_np = graded(5, 6, 4, cplx=dtype == np.complex64)
    for scale in (1e30, 1e-30):
        b = (a_np * scale).astype(dtype)
        for engine in _engines(xp):
            s = to_host(jacobi_svd(xp.asarray(b), engine=engine).S)
            ref = np.linalg.svd(b.astype(np.complex128), compute_uv=False)
            np.testing.assert_allclose(s, ref, rtol=0, atol=30 * 6 * np.finfo(dtype).eps * ref[0])
            q, r = mgs_qr(xp.asarray(b), engine=engine)
            qh = to_host(q).astype(np.complex128)
            assert np.linalg.norm(qh.conj().T @ qh - np.eye(4)) <= 30 * 6 * np.finfo(dtype).eps
            rel = np.linalg.norm(qh @ to_host(r) - b) / np.linalg.norm(b.astype(np.complex128))
            assert rel <= 30 * 6 * np.finfo(dtype).eps
            hs = ((a_np.conj().T @ a_np) * scale).astype(dtype)
            w = to_host(jacobi_eigh(xp.asarray(hs), engine=engine).eigenvalues)
            ref_w = np.linalg.eigvalsh(hs.astype(np.complex128))
            np.testing.assert_allclose(w, ref_w, rtol=0, atol=30 * 4 * np.finfo(dtype).eps * ref_w[-1])


def test_mgs_column_far_smaller_than_the_others(xp):
    # a column 1e-170 times the others: its squared norm underflows unless computed scaled
    a_np = graded(1, 6, 3)
    a_np[:, 1] *= 1e-170
    for engine in _engines(xp):
        q, r = mgs_qr(xp.asarray(a_np), engine=engine)
        qh, rh = to_host(q), to_host(r)
        assert np.linalg.norm(qh.T @ qh - np.eye(3)) <= 1e-14
        ref = np.abs(np.diag(np.linalg.qr(a_np)[1]))
        np.testing.assert_allclose(np.diag(rh), ref, rtol=1e-13)


def test_results_beyond_the_float_range_are_refused(xp):
    # entries fit, results do not: a named ValueError, not inf
    with pytest.raises(ValueError, match=r"`a` is too large: its singular values reach about 4e\+308"):
        jacobi_svd(xp.asarray(np.full((4, 4), 1e308)))
    with pytest.raises(ValueError, match=r"`a` is too large: its eigenvalues reach about 3e\+308"):
        jacobi_eigh(xp.asarray(np.full((3, 3), 1e308)))
    with pytest.raises(ValueError, match=r"`a` is too large: its entries of R reach about 3e\+308"):
        mgs_qr(xp.asarray(np.full((4, 2), 1.5e308)))
    with pytest.raises(ValueError, match=r"`a` is too large: .* beyond the largest .*float32"):
        jacobi_svd(xp.asarray(np.full((4, 4), 3e38, dtype=np.float32)))
    # just inside the range: finite and right
    s = to_host(jacobi_svd(xp.asarray(np.full((4, 4), 4e307))).S)
    np.testing.assert_allclose(s, [1.6e308, 0, 0, 0], rtol=1e-14, atol=1e293)


def _extreme_inputs(dtype):
    fi = np.finfo(dtype)
    g = np.random.default_rng(8).standard_normal((4, 4)) / 4
    if np.issubdtype(dtype, np.complexfloating):
        g = g + 1j * g[::-1]
    mixed = g.copy()
    mixed[0, 0] = float(fi.max) / 4  # the others fall to subnormals once scaled to 1
    sub = np.zeros((4, 4), dtype)
    sub[3, 2] = fi.smallest_subnormal
    with np.errstate(over="ignore"):
        return [(g / 2 * float(fi.max)).astype(dtype), (g * float(fi.smallest_normal)).astype(dtype),
                mixed.astype(dtype), sub, (np.sign(g.real) * fi.smallest_subnormal).astype(dtype)]


@pytest.mark.parametrize("dtype", DTYPES)
def test_extreme_entries_warn_nothing_and_stay_finite(xp, dtype):
    # entries at the ends of the float range: no RuntimeWarning (pytest turns them into errors),
    # finite results, factorizations that reconstruct the input (mgs_qr's complex division by a
    # subnormal column maximum overflowed on the array-API path)
    for a_np in _extreme_inputs(dtype):
        a_np = a_np.copy()
        herm = np.triu(a_np) + np.triu(a_np, 1).conj().T
        herm[np.diag_indices(4)] = herm.diagonal().real
        amax = float(np.max(np.abs(a_np.astype(np.complex128))))
        e = int(np.frexp(amax)[1])

        def down(x, e=e):  # x / 2^e in complex128, in two exact steps (2^1073 is not a float)
            x = x.astype(np.complex128)
            return x * np.ldexp(1.0, -(e // 2)) * np.ldexp(1.0, e // 2 - e)

        for engine in _engines(xp):
            q, r = mgs_qr(xp.asarray(a_np), engine=engine)
            qh, rh = to_host(q), to_host(r)
            assert np.all(np.isfinite(qh)) and np.all(np.isfinite(rh))
            err = np.linalg.norm(qh.astype(np.complex128) @ down(rh) - down(a_np))
            # R below the normal range carries an absolute error of its subnormal spacing
            spacing = float(np.abs(down(np.array(np.finfo(dtype).smallest_subnormal))))
            assert err <= 100 * np.finfo(dtype).eps + 16 * spacing
            norms = np.linalg.norm(qh.astype(np.complex128), axis=0)
            assert np.all((np.abs(norms - 1) <= 100 * np.finfo(dtype).eps) | (norms == 0))
            for res in (jacobi_svd(xp.asarray(a_np), engine=engine),
                        jacobi_svd(xp.asarray(a_np), precondition=None, engine=engine),
                        jacobi_eigh(xp.asarray(herm), engine=engine)):
                assert res.info.converged
                for part in res[:-1]:
                    assert np.all(np.isfinite(to_host(part)))


# ---------------------------------------------------------------- bad input


def test_float16_refused_by_name():
    for f in (jacobi_svd, jacobi_eigh, mgs_qr):
        with pytest.raises(TypeError, match="`a` has dtype float16"):
            f(np.eye(3, dtype=np.float16))


def test_booleans_are_not_integers(xp):
    a = xp.asarray(np.eye(3))
    with pytest.raises(TypeError, match="`max_sweeps` must be an integer; got the boolean True"):
        jacobi_svd(a, max_sweeps=True)
    with pytest.raises(TypeError, match="`max_sweeps` must be an integer; got the boolean True"):
        jacobi_eigh(a, max_sweeps=True)
    with pytest.raises(TypeError, match="`rng` must be an integer; got the boolean True"):
        jacobi_svd(a, pivoting="random", rng=True)
    with pytest.raises(TypeError, match="`rng` must be an integer; got the boolean False"):
        jacobi_eigh(a, pivoting="random", rng=False)
    with pytest.raises(TypeError, match="`tol` must be a real number; got True"):
        jacobi_svd(a, tol=True)
    with pytest.raises(TypeError, match="`tol` must be a real number; got 'small'"):
        jacobi_eigh(a, tol="small")


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_input_and_tolerance_named(xp, value):
    bad = np.eye(3)
    bad[1, 2] = bad[2, 1] = value
    for f in (jacobi_svd, jacobi_eigh, mgs_qr):
        with pytest.raises(ValueError, match="`a` must contain only finite values"):
            f(xp.asarray(bad))
    for f in (jacobi_svd, jacobi_eigh):
        with pytest.raises(ValueError, match="`tol` must be a finite real number > 0"):
            f(xp.asarray(np.eye(3)), tol=value)


def test_empty_inputs(xp):
    for shape in ((0, 0), (0, 3), (3, 0)):
        u, s, vh, info = jacobi_svd(xp.asarray(np.zeros(shape)))
        k = min(shape)
        assert u.shape == (shape[0], k) and s.shape == (k,) and vh.shape == (k, shape[1])
        assert info.converged
        q, r = mgs_qr(xp.asarray(np.zeros(shape)))
        assert q.shape == (shape[0], k) and r.shape == (k, shape[1])
    w, v, info = jacobi_eigh(xp.asarray(np.zeros((0, 0))))
    assert w.shape == (0,) and v.shape == (0, 0) and info.converged
    with pytest.raises(ValueError, match="`a` must be a square matrix; got shape"):
        jacobi_eigh(xp.asarray(np.zeros((0, 3))))
