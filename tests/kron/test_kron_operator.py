import numpy as np
import pytest
import scipy.linalg
from _kron_helpers import kron_all, one_blas_thread, spd  # noqa: F401  (autouse fixture)

from orthla._testing import assert_close, to_host
from orthla.kron import KronEigh, KronOperator

EPS = np.finfo(float).eps


def _factors(rng, shapes):
    return [s if isinstance(s, int) else rng.standard_normal(s) for s in shapes]


def _to(xp, mats):
    return [m if m is None or isinstance(m, int) else xp.asarray(m) for m in mats]


@pytest.mark.parametrize("shapes", [[(3, 4), (5, 2), (2, 2)], [(2, 3), 3, (4, 1)], [(6, 6)],
                                    [(2, 2), (3, 3), (2, 2), (3, 3)]])
@pytest.mark.parametrize("nrhs", [None, 1, 4])
def test_matvec_against_numpy_kron(xp, shapes, nrhs):
    rng = np.random.default_rng(10)
    mats = _factors(rng, shapes)
    dense = kron_all(mats)
    op = KronOperator(_to(xp, mats))
    assert op.shape == dense.shape
    b = rng.standard_normal((dense.shape[1],) if nrhs is None else (dense.shape[1], nrhs))
    y = op @ xp.asarray(b)
    tol = 20 * len(mats) * EPS * np.abs(dense).max() * np.abs(b).max() * dense.shape[1]
    assert_close(y, dense @ b, xp=xp, rtol=0, atol=tol)
    assert_close(op.T @ xp.asarray(dense @ b), dense.T @ (dense @ b), xp=xp, rtol=1e-12)
    assert_close(op.to_dense(), dense, xp=xp, rtol=0, atol=0)


def test_complex_and_float32(xp):
    rng = np.random.default_rng(11)
    a = (rng.standard_normal((3, 2)) + 1j * rng.standard_normal((3, 2))).astype(np.complex128)
    b = rng.standard_normal((2, 4))
    dense = np.kron(a, b)
    x = rng.standard_normal(8)
    op = KronOperator([xp.asarray(a), xp.asarray(b)])
    assert_close(op @ xp.asarray(x), dense @ x, xp=xp, rtol=1e-13)
    assert_close(op.H @ xp.asarray(dense @ x), dense.conj().T @ (dense @ x), xp=xp, rtol=1e-13)
    a32, b32 = rng.standard_normal((4, 4)).astype(np.float32), rng.standard_normal((3, 3)).astype(np.float32)
    y = KronOperator([xp.asarray(a32), xp.asarray(b32)]) @ xp.asarray(np.ones(12, np.float32))
    assert y.dtype == xp.float32
    ref = np.kron(a32.astype(float), b32.astype(float)) @ np.ones(12)
    np.testing.assert_allclose(to_host(y), ref, rtol=0, atol=50 * np.finfo(np.float32).eps * np.abs(ref).max())


def test_real_factors_complex_and_float32_operands(xp):
    # Mixed real/complex and mixed precision operands are promoted like NumPy does
    # (torch's matmul and solve refuse mixed dtypes; regression for the torch backend).
    from orthla.kron import kron_sum_solve, multi_mode_product, solve_sylvester

    rng = np.random.default_rng(13)
    a, b = spd(rng, 3), spd(rng, 2)
    dense = np.kron(a, b)
    yc = rng.standard_normal(6) + 1j * rng.standard_normal(6)
    op = KronOperator([xp.asarray(a), xp.asarray(b)])
    ref = np.linalg.solve(dense, yc)
    tol = 100 * np.linalg.cond(dense) * EPS * np.abs(ref).max()
    assert_close(op @ xp.asarray(yc), dense @ yc, xp=xp, rtol=1e-13)
    assert_close(op.solve(xp.asarray(yc)), ref, xp=xp, rtol=0, atol=tol)
    assert_close(op.lstsq(xp.asarray(yc)), ref, xp=xp, rtol=0, atol=tol)
    assert_close(KronEigh([xp.asarray(a), xp.asarray(b)]).solve(xp.asarray(yc)), ref, xp=xp, rtol=0, atol=tol)
    x = yc.reshape(3, 2)
    assert_close(multi_mode_product(xp.asarray(x), [xp.asarray(a), xp.asarray(b)]),
                 (dense @ yc).reshape(3, 2), xp=xp, rtol=1e-13)
    xs = solve_sylvester(xp.asarray(a), xp.asarray(b), xp.asarray(x))
    assert_close(xs, scipy.linalg.solve_sylvester(a, b, x), xp=xp, rtol=0, atol=tol)
    lap = np.kron(a, np.eye(2)) + np.kron(np.eye(3), b)
    assert_close(kron_sum_solve([xp.asarray(a), xp.asarray(b)], xp.asarray(yc)), np.linalg.solve(lap, yc),
                 xp=xp, rtol=0, atol=tol)
    y = KronOperator([xp.asarray(a.astype(np.float32)), xp.asarray(b)]) @ xp.asarray(np.ones(6, np.float32))
    assert y.dtype == xp.float64


def test_solve_logdet_inv_against_dense(xp):
    rng = np.random.default_rng(12)
    mats = [rng.standard_normal((3, 3)) + 3 * np.eye(3), 2, rng.standard_normal((4, 4)) + 4 * np.eye(4)]
    dense = kron_all(mats)
    op = KronOperator(_to(xp, mats))
    b = rng.standard_normal((24, 3))
    cond = np.linalg.cond(dense)
    ref = scipy.linalg.solve(dense, b)
    assert_close(op.solve(xp.asarray(b)), ref, xp=xp, rtol=0, atol=50 * cond * EPS * np.abs(ref).max())
    assert_close(op.solve(xp.asarray(b[:, 0])), ref[:, 0], xp=xp, rtol=0, atol=50 * cond * EPS * np.abs(ref).max())
    assert_close(op.inv().to_dense(), np.linalg.inv(dense), xp=xp, rtol=0, atol=50 * cond * EPS * np.abs(np.linalg.inv(dense)).max())
    sign, ref_ld = np.linalg.slogdet(dense)
    if sign > 0:
        assert_close(op.logdet(), np.asarray(ref_ld), xp=xp, rtol=1e-12)
    spd_mats = [spd(rng, 3), spd(rng, 4)]
    ld = KronOperator(_to(xp, spd_mats)).logdet()
    assert_close(ld, np.asarray(np.linalg.slogdet(kron_all(spd_mats))[1]), xp=xp, rtol=1e-12)


def test_negative_determinant_refused(xp):
    a = np.diag([-1.0, 2.0, 3.0])  # det < 0, odd power in kron(a, I_3)
    with pytest.raises(ValueError, match="det A must be positive for logdet; its sign is -1"):
        KronOperator([xp.asarray(a), 3]).logdet()
    # even power: det(kron(a, I_2)) = det(a)^2 > 0
    ld = KronOperator([xp.asarray(a), 2]).logdet()
    assert_close(ld, np.asarray(2 * np.log(6.0)), xp=xp, rtol=1e-14)


@pytest.mark.parametrize("shapes", [[(6, 3), (5, 2)], [(2, 4), (7, 3)], [(5, 5), 2, (4, 2)]])
def test_lstsq_against_dense_lstsq(xp, shapes):
    rng = np.random.default_rng(13)
    mats = _factors(rng, shapes)
    dense = kron_all(mats)
    b = rng.standard_normal((dense.shape[0], 2))
    ref = np.linalg.lstsq(dense, b, rcond=None)[0]
    x = KronOperator(_to(xp, mats)).lstsq(xp.asarray(b))
    cond = np.linalg.cond(dense)
    assert_close(x, ref, xp=xp, rtol=0, atol=100 * cond * EPS * np.abs(ref).max())


def test_svd_reconstructs(xp):
    rng = np.random.default_rng(14)
    mats = [rng.standard_normal((4, 3)), 2, rng.standard_normal((2, 5))]
    u, s, vh = KronOperator(_to(xp, mats)).svd()
    dense = kron_all(mats)
    rec = to_host(u.to_dense()) * to_host(s)[None, :] @ to_host(vh.to_dense())
    np.testing.assert_allclose(rec, dense, rtol=0, atol=1e-13 * np.abs(dense).max())
    np.testing.assert_allclose(np.sort(to_host(s))[::-1][: min(dense.shape)],
                               np.linalg.svd(dense, compute_uv=False)[:12], rtol=1e-12)


def test_eigh_returns_kroneigh(xp):
    rng = np.random.default_rng(15)
    mats = [spd(rng, 3), spd(rng, 2)]
    ke = KronOperator(_to(xp, mats)).eigh()
    assert isinstance(ke, KronEigh)
    np.testing.assert_allclose(np.sort(to_host(ke.eigenvalues)), np.linalg.eigvalsh(kron_all(mats)), rtol=1e-12)


def test_as_linear_operator():
    from scipy.sparse.linalg import LinearOperator, gmres

    rng = np.random.default_rng(16)
    mats = [rng.standard_normal((3, 4)), rng.standard_normal((2, 2))]
    dense = kron_all(mats)
    lo = KronOperator(mats).as_linear_operator()
    assert isinstance(lo, LinearOperator) and lo.shape == (6, 8)
    x = rng.standard_normal((8, 3))
    np.testing.assert_allclose(lo @ x, dense @ x, rtol=1e-13)
    np.testing.assert_allclose(lo.rmatvec(x[:6, 0]), dense.T @ x[:6, 0], rtol=1e-13)
    sq = KronOperator([spd(rng, 4), spd(rng, 3)]).as_linear_operator()
    b = np.ones(12)
    sol, info = gmres(sq, b, rtol=1e-12, atol=0)
    assert info == 0 and np.linalg.norm(sq @ sol - b) < 1e-10


def test_as_linear_operator_refuses_other_namespaces():
    strict = pytest.importorskip("array_api_strict")
    with pytest.raises(TypeError, match="as_linear_operator needs NumPy factors"):
        KronOperator([strict.ones((2, 2))]).as_linear_operator()


def test_large_grid_residual_via_matvec():
    # 64^3 = 262144 unknowns: no dense reference, check the residual through the operator.
    rng = np.random.default_rng(17)
    mats = [spd(rng, 64, cond=20) for _ in range(3)]
    op = KronOperator(mats)
    b = rng.standard_normal(64**3)
    x = op.solve(b)
    assert np.linalg.norm(op @ x - b) <= 1e-12 * np.linalg.norm(b)
    ke = KronEigh(mats)
    x = ke.solve(b, shift=1e-3)
    r = op @ x + 1e-3 * x - b
    assert np.linalg.norm(r) <= 1e-12 * np.linalg.norm(b)


def test_inputs_not_modified(xp):
    rng = np.random.default_rng(18)
    mats = [spd(rng, 3), rng.standard_normal((2, 2)) + 2 * np.eye(2)]
    copies = [m.copy() for m in mats]
    b = rng.standard_normal(6)
    b0 = b.copy()
    op = KronOperator(_to(xp, mats))
    op @ xp.asarray(b), op.solve(xp.asarray(b)), op.lstsq(xp.asarray(b)), op.logdet(), op.svd()
    for m, c in zip(mats, copies, strict=True):
        np.testing.assert_array_equal(m, c)
    np.testing.assert_array_equal(b, b0)


def test_errors(xp):
    op = KronOperator([xp.ones((2, 3)), xp.ones((4, 5))])
    with pytest.raises(ValueError, match=r"`b` must have shape \(15,\) or \(15, k\) to match the factor sizes 3 x 5 = 15 \(of factors\[0\], factors\[1\]\); got shape \(14,\)"):
        op @ xp.ones((14,))
    with pytest.raises(ValueError, match=r"solve needs square factors; factor 0 has shape \(2, 3\)"):
        op.solve(xp.ones((15,)))
    sing = np.array([[1.0, 2.0], [2.0, 4.0]])
    with pytest.raises(np.linalg.LinAlgError, match=r"factor 1 \(`factors\[1\]`\) is singular to working precision"):
        KronOperator([xp.asarray(np.eye(2)), xp.asarray(sing)]).solve(xp.ones((4,)))
    with pytest.raises(np.linalg.LinAlgError, match=r"factor 1 \(`factors\[1\]`\) is singular"):
        KronOperator([xp.asarray(np.eye(2)), xp.asarray(sing)]).inv()
    with pytest.raises(np.linalg.LinAlgError, match=r"factor 0 \(`factors\[0\]`\) is rank deficient"):
        KronOperator([xp.asarray(np.ones((3, 2)))]).lstsq(xp.ones((3,)))
    with pytest.raises(TypeError, match=r"`factors\[1\]` is None; give the identity of order n as the integer n"):
        KronEigh([xp.ones((2, 2)), None])  # KronEigh needs every size up front
    with pytest.raises(ValueError, match=r"`factors\[0\]` must be a 2-D array"):
        KronOperator([xp.ones((2,))])
    with pytest.raises(TypeError, match="`factors` must be a non-empty list"):
        KronOperator([])
    bad = np.eye(2)
    bad[0, 1] = np.inf
    with pytest.raises(ValueError, match=r"`factors\[0\]` must contain only finite values"):
        KronOperator([xp.asarray(bad)])


@pytest.mark.parametrize("pos", [0, 1, 2])
def test_none_identity_size_inferred(xp, pos):
    rng = np.random.default_rng(20)
    mats = [rng.standard_normal((3, 2)), rng.standard_normal((2, 4))]
    mats.insert(pos, None)
    op = KronOperator(_to(xp, mats))
    for s, nrhs in ((3, None), (5, 2), (1, None)):
        dense = kron_all([s if m is None else m for m in mats])
        assert dense.shape[1] == 8 * s
        b = rng.standard_normal((8 * s,) if nrhs is None else (8 * s, nrhs))
        assert_close(op @ xp.asarray(b), dense @ b, xp=xp, rtol=0, atol=1e-13 * np.abs(dense @ b).max())
        c = rng.standard_normal(6 * s)
        assert_close(op.T @ xp.asarray(c), dense.T @ c, xp=xp, rtol=0, atol=1e-13 * np.abs(dense.T @ c).max())
        # lstsq infers the identity's order from the row count: 6 s rows.
        ref = np.linalg.lstsq(dense, c, rcond=None)[0]
        assert_close(op.lstsq(xp.asarray(c)), ref, xp=xp, rtol=0, atol=1e-12 * np.abs(ref).max())
    sq = [spd(rng, 3), None, spd(rng, 2)]
    sop = KronOperator(_to(xp, sq))
    dense = kron_all([sq[0], 4, sq[2]])
    b = rng.standard_normal(24)
    ref = np.linalg.solve(dense, b)
    tol = 20 * np.linalg.cond(dense) * EPS * np.abs(ref).max()
    assert_close(sop.solve(xp.asarray(b)), ref, xp=xp, rtol=0, atol=tol)
    assert_close(sop.inv() @ xp.asarray(b), ref, xp=xp, rtol=0, atol=tol)
    assert_close((sop @ sop) @ xp.asarray(b), dense @ (dense @ b), xp=xp, rtol=1e-12)


def test_none_identity_errors(xp):
    rng = np.random.default_rng(21)
    op = KronOperator([xp.asarray(rng.standard_normal((3, 2))), None, xp.asarray(rng.standard_normal((2, 4)))])
    assert "I_?" in repr(op)
    with pytest.raises(ValueError, match=r"`b` has length 17, which is not a positive multiple of the product "
                                         r"of the other factors' column sizes 2 x 4 = 8"):
        op @ xp.ones((17,))
    with pytest.raises(ValueError, match=r"row sizes 3 x 2 = 6, so the size of the identity factor 1"):
        op.lstsq(xp.ones((7,)))
    for what, call in (("shape", lambda: op.shape), ("to_dense", op.to_dense), ("logdet", op.logdet),
                       ("svd", op.svd), ("eigh", op.eigh)):
        with pytest.raises(ValueError, match=rf"{what} needs every factor's size, but factor 1 is None: the "
                                             r"identity's size is unknown until the operator is applied"):
            call()
    with pytest.raises(ValueError, match=r"at most one factor may be None.*factors \[0, 2\] are None"):
        KronOperator([None, xp.ones((2, 2)), None])


def test_mixed_libraries_refused():
    strict = pytest.importorskip("array_api_strict")
    with pytest.raises(TypeError, match="one array library"):
        KronOperator([np.eye(2), strict.eye(2)])
    with pytest.raises(TypeError, match="one array library"):
        KronOperator([np.eye(2)]) @ strict.ones((2,))


def test_batch_of_several_axes(xp):
    rng = np.random.default_rng(19)
    mats = [spd(rng, 3), rng.standard_normal((2, 4))]
    dense = kron_all(mats)
    b = rng.standard_normal((12, 2, 3))
    y = KronOperator(_to(xp, mats)) @ xp.asarray(b)
    assert y.shape == (6, 2, 3)
    assert_close(y, np.einsum("ij,jkl->ikl", dense, b), xp=xp, rtol=1e-13)
    sq = [spd(rng, 3), spd(rng, 2)]
    c = rng.standard_normal((6, 2, 2))
    x = KronOperator(_to(xp, sq)).solve(xp.asarray(c))
    ref = np.linalg.solve(kron_all(sq), c.reshape(6, -1)).reshape(c.shape)
    assert_close(x, ref, xp=xp, rtol=1e-11)
    x = KronEigh(_to(xp, sq)).solve(xp.asarray(c), shift=0.5)
    ref = np.linalg.solve(kron_all(sq) + 0.5 * np.eye(6), c.reshape(6, -1)).reshape(c.shape)
    assert_close(x, ref, xp=xp, rtol=1e-11)


def test_composition_is_factorwise(xp):
    rng = np.random.default_rng(29)
    a = [rng.standard_normal((3, 4)), 2, rng.standard_normal((2, 2))]
    b = [rng.standard_normal((4, 5)), rng.standard_normal((2, 3)), 2]
    ab = KronOperator(_to(xp, a)) @ KronOperator(_to(xp, b))
    assert isinstance(ab, KronOperator) and ab.shape == (12, 30)
    assert_close(ab.to_dense(), kron_all(a) @ kron_all(b), xp=xp, rtol=1e-12)
    with pytest.raises(ValueError, match="the column sizes 4 x 2 x 2 of the left operand must equal the row sizes 4 x 3 x 2"):
        KronOperator(_to(xp, a)) @ KronOperator(_to(xp, [b[0], rng.standard_normal((3, 3)), 2]))
