"""Contract cases for the randomized-pivoting part of orthla.pivoting (see ``_case.Case``):
rp_cholesky, rp_qr, random_pivot_factorize, pivot_potential, KernelMatrix, NystromApproximation.
Each check compares with an independent dense NumPy formula."""

import numpy as np

import orthla.pivoting as piv

from ._case import Case, host

_rng = np.random.default_rng(20261208)
_G = _rng.standard_normal((8, 5))
PSD = _G @ _G.T + 0.5 * np.eye(8)  # well above 0.5 on the diagonal: rounding keeps it PSD
_GC = _G + 1j * _rng.standard_normal((8, 5))
HERM = _GC @ _GC.conj().T  # complex Hermitian PSD of rank 5
POINTS = _rng.standard_normal((9, 2))
FACTOR = _rng.standard_normal((9, 3))
VEC = _rng.standard_normal(9)
RHS = _rng.standard_normal((9, 2))
TALL = _rng.standard_normal((9, 6))
SPD = _G[:5] @ _G[:5].T + 5 * np.eye(5)
IDX = np.array([0, 3, 7, 3])
ROWS = np.array([1, 8])


def _wide(a):
    return np.asarray(a, dtype=np.result_type(a.dtype, np.float64))


def _scale(a):
    return max(float(np.max(np.abs(a))) if a.size else 0.0, np.finfo(float).tiny)


def _kernel_dense(p, kernel="gaussian", bandwidth=1.5, nu=1.5):
    """The kernel matrix from the textbook formula, on host, from differences."""
    p = _wide(p)
    r = np.sqrt(np.sum((p[:, None, :] - p[None, :, :]) ** 2, axis=-1)) / bandwidth
    if kernel == "gaussian":
        return np.exp(-(r**2) / 2)
    if kernel == "laplace" or nu == 0.5:
        return np.exp(-r)
    s = np.sqrt(3) * r if nu == 1.5 else np.sqrt(5) * r
    return (1 + s) * np.exp(-s) if nu == 1.5 else (1 + s + s * s / 3) * np.exp(-s)


def _check_nystrom_factor(f, pivots, a, rtol=1e-10):
    """F F^H is the Nystrom approximation on the pivots and stays below A on the diagonal."""
    a = _wide(a)
    f, s = host(f), host(pivots)
    scale = _scale(a)
    assert len(set(s.tolist())) == len(s) == f.shape[1]
    if len(s):
        ny = a[:, s] @ np.linalg.solve(a[np.ix_(s, s)], a[s, :])
        assert np.linalg.norm(f @ f.conj().T - ny) <= rtol * scale * a.shape[0]
        assert np.abs(np.triu(f[s], 1)).max(initial=0) <= rtol * np.sqrt(scale)
    resid = np.real(np.diag(a)) - np.sum(np.abs(f) ** 2, axis=1)
    assert resid.min(initial=0) >= -1e-12 * scale


def _check_rpchol(res, arrs):
    _check_nystrom_factor(res.F, res.pivots, arrs["a"])
    tr = host(res.trace)
    assert abs(tr[0] - np.real(np.trace(_wide(arrs["a"])))) <= 1e-12 * _scale(arrs["a"]) * len(tr)


def _check_rpchol_kernel(res, arrs):
    _check_nystrom_factor(res.F, res.pivots, _kernel_dense(arrs["points"]), rtol=1e-9)


def _check_kernel_columns(out, arrs, idx_key="idx", rows=False):
    k = _kernel_dense(arrs["points"])
    idx = np.asarray(arrs[idx_key])
    want = k[idx, :] if rows else k[:, idx]
    np.testing.assert_allclose(host(out), want, rtol=0, atol=1e-14)


def _check_block(out, arrs):
    k = _kernel_dense(arrs["points"])
    np.testing.assert_allclose(host(out), k[np.ix_(np.asarray(arrs["rows"]), np.asarray(arrs["cols"]))],
                               rtol=0, atol=1e-14)


def _check_rpqr(res, arrs):
    a = _wide(arrs["a"])
    q, r, p = host(res.Q), host(res.R), host(res.pivots)
    scale = max(np.linalg.norm(a), np.finfo(float).tiny)
    assert np.linalg.norm(q.conj().T @ q - np.eye(q.shape[1])) <= 1e-13
    assert np.linalg.norm(r - q.conj().T @ a) <= 1e-13 * scale
    rp = r[:, p]
    assert np.abs(np.tril(rp, -1)).max(initial=0) <= 1e-13 * scale
    resid = np.linalg.norm(a - q @ (q.conj().T @ a)) ** 2
    assert abs(host(res.residual)[-1] - resid) <= 1e-12 * scale**2


def _check_factorize(kind):
    def check(res, arrs):
        a = _wide(arrs["a"])
        scale = _scale(a)
        f = [host(x) for x in res.factors]
        if kind == "eigh":
            np.testing.assert_allclose(f[0], np.linalg.eigvalsh(a), rtol=0, atol=1e-12 * scale)
            assert np.linalg.norm((f[1] * f[0]) @ f[1].conj().T - a) <= 1e-12 * scale * a.shape[0]
        elif kind == "svd":
            np.testing.assert_allclose(f[1], np.linalg.svd(a, compute_uv=False), rtol=0, atol=1e-12 * scale)
            assert np.linalg.norm((f[0] * f[1]) @ f[2] - a) <= 1e-12 * scale * a.shape[0]
        elif kind == "cholesky":
            np.testing.assert_allclose(f[0], np.linalg.cholesky(a), rtol=0, atol=1e-12 * np.sqrt(scale))
        else:
            q, r = f
            assert np.linalg.norm(q.conj().T @ q - np.eye(q.shape[1])) <= 1e-12
            assert np.linalg.norm(q @ r - a) <= 1e-12 * scale * a.shape[0]
            assert np.abs(np.tril(r, -1)).max(initial=0) <= 1e-12 * scale
    return check


def _check_potential(out, arrs):
    b = _wide(arrs["b"])
    want = float(np.real(np.sum(np.diag(b) * np.diag(np.linalg.inv(b))))) - b.shape[0]
    assert abs(float(host(out)) - want) <= 1e-12 * max(1.0, abs(want))


def _check_matvec(out, arrs):
    f, x = _wide(arrs["factor"]), _wide(arrs["x"])
    want = f @ (f.conj().T @ x)
    np.testing.assert_allclose(host(out), want, rtol=0, atol=1e-13 * max(np.abs(want).max(initial=0), 1e-300))


def _check_solve(out, arrs):
    f, y = _wide(arrs["factor"]), _wide(arrs["y"])
    want = np.linalg.solve(f @ f.conj().T + 0.5 * np.eye(f.shape[0]), y)
    np.testing.assert_allclose(host(out), want, rtol=0, atol=1e-12 * max(np.abs(want).max(initial=0), 1e-300))


def _check_eigh(out, arrs):
    f = _wide(arrs["factor"])
    c = _scale(f)  # compare at unit scale: F F^T of 2**500 F would overflow in the norms
    w, v = host(out[0]) / c / c, host(out[1])
    ref = np.linalg.svd(f / c, compute_uv=False) ** 2
    np.testing.assert_allclose(w, ref, rtol=1e-12, atol=0)
    a = (f / c) @ (f / c).conj().T
    assert np.linalg.norm(a @ v - v * w) <= 1e-12 * np.linalg.norm(a)


def _check_nystrom(out, arrs):
    np.testing.assert_array_equal(host(out.F), _wide(arrs["factor"]))


def _check_diag(out, arrs):
    np.testing.assert_array_equal(host(out), np.ones(len(arrs["points"])))


CASES = [
    Case("rp_cholesky", lambda xp, a: piv.rp_cholesky(a, 3, rng=0), {"a": PSD}, id="dense",
         homogeneous=True, check=_check_rpchol),
    Case("rp_cholesky", lambda xp, a: piv.rp_cholesky(a, 8, method="block", block_size=4, rng=1),
         {"a": HERM}, id="complex-block", homogeneous=True, check=_check_rpchol),
    Case("rp_cholesky", lambda xp, a: piv.rp_cholesky(a, 4, method="greedy"), {"a": PSD}, id="greedy",
         homogeneous=True, check=_check_rpchol),
    Case("rp_cholesky", lambda xp, points: piv.rp_cholesky(piv.KernelMatrix(points, bandwidth=1.5), 4, rng=0),
         {"points": POINTS}, id="kernel", check=_check_rpchol_kernel),
    Case("rp_qr", lambda xp, a: piv.rp_qr(a, 4, rng=0), {"a": TALL}, homogeneous=True, check=_check_rpqr),
    Case("random_pivot_factorize", lambda xp, a: piv.random_pivot_factorize(a, "eigh", rng=0), {"a": SPD},
         id="eigh", homogeneous=True, check=_check_factorize("eigh")),
    Case("random_pivot_factorize", lambda xp, a: piv.random_pivot_factorize(a, "svd", block=3, rng=0),
         {"a": TALL}, id="svd", homogeneous=True, check=_check_factorize("svd")),
    Case("random_pivot_factorize", lambda xp, a: piv.random_pivot_factorize(a, "cholesky", rng=0), {"a": SPD},
         id="cholesky", homogeneous=True, check=_check_factorize("cholesky")),
    Case("random_pivot_factorize", lambda xp, a: piv.random_pivot_factorize(a, "qr", rng=0), {"a": TALL},
         id="qr", homogeneous=True, check=_check_factorize("qr")),
    Case("pivot_potential", lambda xp, b: piv.pivot_potential(b), {"b": SPD}, homogeneous=True,
         check=_check_potential),
    Case("KernelMatrix", lambda xp, points: piv.KernelMatrix(points, bandwidth=1.5).columns(
        xp.arange(points.shape[0]) if hasattr(points, "shape") else np.arange(len(points))),
        {"points": POINTS}, check=lambda out, a: _check_kernel_columns(out, {**a, "idx": np.arange(len(a["points"]))})),
    Case("KernelMatrix.diag", lambda xp, points: piv.KernelMatrix(points, bandwidth=1.5).diag(),
         {"points": POINTS}, check=_check_diag),
    Case("KernelMatrix.columns", lambda xp, points, idx: piv.KernelMatrix(points, bandwidth=1.5).columns(idx),
         {"points": POINTS, "idx": IDX}, check=_check_kernel_columns),
    Case("KernelMatrix.rows", lambda xp, points, idx: piv.KernelMatrix(points, bandwidth=1.5).rows(idx),
         {"points": POINTS, "idx": IDX}, check=lambda out, a: _check_kernel_columns(out, a, rows=True)),
    Case("KernelMatrix.block",
         lambda xp, points, rows, cols: piv.KernelMatrix(points, bandwidth=1.5).block(rows, cols),
         {"points": POINTS, "rows": ROWS, "cols": IDX}, check=_check_block),
    Case("NystromApproximation", lambda xp, factor: piv.NystromApproximation(factor), {"factor": FACTOR},
         homogeneous=True, check=_check_nystrom),
    Case("NystromApproximation.matvec", lambda xp, factor, x: piv.NystromApproximation(factor).matvec(x),
         {"factor": FACTOR, "x": VEC}, homogeneous=True, check=_check_matvec),
    Case("NystromApproximation.solve", lambda xp, factor, y: piv.NystromApproximation(factor).solve(y, 0.5),
         {"factor": FACTOR, "y": RHS}, check=_check_solve),
    Case("NystromApproximation.eigh", lambda xp, factor: piv.NystromApproximation(factor).eigh(),
         {"factor": FACTOR}, homogeneous=True, check=_check_eigh),
]
