"""Contract cases for orthla.tensor (see ``_case.Case``).

Every check compares against an independent reference computed here on the host with dense
``einsum`` formulas or brute force (never with orthla), on the arrays actually passed; inputs
at 2**+-500 are brought to unit size by a power of two first (exact), as the library does.
Results with timing or rounding-level fields are reduced to their values (weights, factors,
eigenpair) so that the sweep's "same result" comparison is about the numbers that matter.
"""

import itertools

import numpy as np

from orthla import tensor

from ._case import Case, host

_rng = np.random.default_rng(20261212)


def _unit_cols(a):
    return a / np.linalg.norm(a, axis=0)


def _unit(a):
    """``a`` scaled by a power of two to max|a| in [0.5, 1) (exact), and the exponent."""
    a = np.asarray(a, dtype=np.float64)
    top = float(np.max(np.abs(a))) if a.size else 0.0
    e = int(np.frexp(top)[1]) if top > 0 else 0
    return np.ldexp(a, -e), e


class _Aside:
    """The full result, carried to the check but not compared by the sweep (it holds timings)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


def _sym_cp(w, A, m):
    letters = "ijklmn"[:m]
    return np.einsum(",".join(["r"] + [c + "r" for c in letters]) + "->" + letters, w, *([A] * m))


# ---------------------------------------------------------------- spm

A4 = _unit_cols(_rng.standard_normal((4, 3)))
W4 = np.array([1.5, -0.8, 0.6])
T4 = _sym_cp(W4, A4, 4)  # order 4, d = 4, rank 3 (identifiable up to 6)
A3 = _unit_cols(_rng.standard_normal((5, 3)))
T3 = _sym_cp(np.array([1.2, 0.9, 0.5]), A3, 3)  # order 3, d = 5, rank 3


def _spm(xp, T):
    res = tensor.spm(T, rng=0)
    return res.weights, res.factors, _Aside(res)


def _check_spm(out, a):
    """Residual reported = dense reconstruction error; an exact input is recovered exactly."""
    w, F, res = out[0], out[1], out[2].value
    T, e = _unit(a["T"])
    m = T.ndim
    rec = _sym_cp(np.ldexp(host(w).astype(np.float64), -e), host(F).astype(np.float64), m)
    err = np.linalg.norm(rec - T) / np.linalg.norm(T)
    tol = 1e-4 if host(F).dtype == np.float32 else 1e-10
    assert abs(err - res.residual) <= tol + 1e-6 * err, (err, res.residual)
    if res.success:
        assert err <= max(3 * res.residual, tol)
    np.testing.assert_allclose(np.linalg.norm(host(F), axis=0), 1.0, rtol=1e-5)


# ---------------------------------------------------------------- mspm

# Orthonormal factors: the block power iteration then converges in a few sweeps, which keeps
# the sweep fast on the array-API engine (general factors take ~150 sweeps).
B3 = np.linalg.qr(_rng.standard_normal((3, 3)))[0]
A21 = np.linalg.qr(_rng.standard_normal((4, 3)))[0]
T21 = np.einsum("r,ir,jr,kr->ijk", np.array([1.0, -0.7, 0.4]), A21, A21, B3)
G = [np.linalg.qr(_rng.standard_normal((d, 2)))[0] for d in (3, 4, 3)]
T111 = np.einsum("r,ir,jr,kr->ijk", np.array([1.0, 0.6]), *G)


def _mspm(symmetry):
    def call(xp, T):
        res = tensor.mspm(T, symmetry=symmetry, rng=0)
        return res.weights, list(res.factors), _Aside(res)
    return call


def _check_mspm(symmetry):
    def check(out, a):
        w, factors, res = out[0], out[1], out[2].value
        T, e = _unit(a["T"])
        mats = [host(f).astype(np.float64) for f, k in zip(factors, symmetry, strict=True)
                for _ in range(k)]
        letters = "ijklmn"[:T.ndim]
        rec = np.einsum(",".join(["r"] + [c + "r" for c in letters]) + "->" + letters,
                        np.ldexp(host(w).astype(np.float64), -e), *mats)
        err = np.linalg.norm(rec - T) / np.linalg.norm(T)
        tol = 1e-4 if host(w).dtype == np.float32 else 1e-10
        if res.success:
            assert err <= max(3 * res.residual, tol), (err, res.residual)
    return check


# ---------------------------------------------------------------- sshopm

Q = np.linalg.qr(_rng.standard_normal((4, 4)))[0]
TS = _sym_cp(np.array([3.0, 2.0, 1.0, 0.5]), Q, 3)
X0 = Q[:, 1] + 0.1 * Q[:, 0]


def _sshopm(xp, T, x0):
    res = tensor.sshopm(T, x0)
    return res.eigenvalue, res.eigenvector


def _check_sshopm(out, a):
    """An eigenpair of the passed T: ||T x^(m-1) - lambda x|| small, ||x|| = 1."""
    lam, x = out
    T, e = _unit(a["T"])
    x = host(x).astype(np.float64)
    g = T
    for _ in range(T.ndim - 1):
        g = g @ x
    scale = max(np.linalg.norm(T), 1e-300)
    tol = 1e-4 if host(out[1]).dtype == np.float32 else 1e-10
    assert abs(np.linalg.norm(x) - 1) <= tol
    assert np.linalg.norm(g - np.ldexp(lam, -e) * x) <= tol * scale


# ---------------------------------------------------------------- helpers

TN = _rng.standard_normal((3, 3, 3))
TP = _rng.standard_normal((3, 3, 2))


def _perm_average(T, symmetry):
    offsets = np.cumsum((0, *symmetry))
    groups = [itertools.permutations(range(offsets[j], offsets[j + 1])) for j in range(len(symmetry))]
    perms = [sum(p, ()) for p in itertools.product(*groups)]
    return sum(np.transpose(T, p) for p in perms) / len(perms)


def _check_symmetrize(symmetry):
    def check(S, a):
        T, e = _unit(a["T"])
        ref = _perm_average(T, symmetry or (T.ndim,))
        S = np.ldexp(host(S).astype(np.float64), -e)
        tol = 1e-6 if host(a["T"]).dtype == np.float32 else 1e-14
        np.testing.assert_allclose(S, ref, rtol=0, atol=tol)
    return check


WC = _rng.standard_normal(3)
AC = _rng.standard_normal((4, 3))
BC = _rng.standard_normal((2, 3))


def _check_cp(spec):
    def check(T, a):
        w, e = _unit(a.get("weights", WC))
        mats = [np.asarray(a.get(k, default), dtype=np.float64) for k, default in spec]
        ref = np.einsum("r," + ",".join(f"{c}r" for c in "ijk"[:len(mats)]) + "->" + "ijk"[:len(mats)],
                        w, *mats)
        got = np.ldexp(host(T).astype(np.float64), -e)
        tol = 1e-5 if host(T).dtype == np.float32 else 1e-13
        np.testing.assert_allclose(got, ref, rtol=tol, atol=tol * max(np.abs(ref).max(), 1e-300))
    return check


MA = _rng.standard_normal((4, 3))
MB = MA[:, [2, 0, 1]] * np.array([1.0, -2.0, 0.5]) + 0.05 * _rng.standard_normal((4, 3))


def _check_match(m, a):
    """Brute force over every assignment of the columns, then arccos angles."""
    A = np.asarray(a["A"], dtype=np.float64)
    B = np.asarray(a["B"], dtype=np.float64)
    A = A / np.max(np.abs(A), axis=0)
    B = B / np.max(np.abs(B), axis=0)
    cos = (A / np.linalg.norm(A, axis=0)).T @ (B / np.linalg.norm(B, axis=0))
    best = max(itertools.permutations(range(B.shape[1]), A.shape[1]),
               key=lambda p: sum(abs(cos[i, j]) for i, j in enumerate(p)))
    np.testing.assert_array_equal(host(m.index), best)
    c = np.array([cos[i, j] for i, j in enumerate(best)])
    tol = 1e-5 if host(m.abs_cos).dtype == np.float32 else 1e-12
    np.testing.assert_allclose(host(m.abs_cos), np.abs(c), rtol=tol)
    np.testing.assert_array_equal(host(m.sign), np.where(c < 0, -1.0, 1.0))
    np.testing.assert_allclose(host(m.angle_deg), np.degrees(np.arccos(np.minimum(np.abs(c), 1))),
                               rtol=1e-4, atol=1e-5)


def _check_random(out, a):
    T, w, A = (host(x) for x in out)
    np.testing.assert_allclose(np.linalg.norm(A, axis=0), 1.0, rtol=1e-14)
    np.testing.assert_allclose(T, _sym_cp(w, A, 3), rtol=1e-13, atol=1e-15)


CASES = [
    Case("spm", _spm, {"T": T4}, id="order4", homogeneous=True, check=_check_spm),
    Case("spm", _spm, {"T": T3}, id="order3", homogeneous=True, check=_check_spm),
    Case("mspm", _mspm((2, 1)), {"T": T21}, id="sym21", homogeneous=True,
         check=_check_mspm((2, 1))),
    Case("mspm", _mspm((1, 1, 1)), {"T": T111}, id="general3", homogeneous=True,
         check=_check_mspm((1, 1, 1))),
    Case("sshopm", _sshopm, {"T": TS, "x0": X0}, homogeneous=True, check=_check_sshopm),
    Case("symmetrize", lambda xp, T: tensor.symmetrize(T), {"T": TN}, id="full",
         homogeneous=True, check=_check_symmetrize(None)),
    Case("symmetrize", lambda xp, T: tensor.symmetrize(T, symmetry=(2, 1)), {"T": TP},
         id="partial", homogeneous=True, check=_check_symmetrize((2, 1))),
    # Homogeneous in the weights (the factors are fixed) ...
    Case("cp_to_tensor", lambda xp, weights: tensor.cp_to_tensor(weights, xp.asarray(AC), order=3),
         {"weights": WC}, id="weights", homogeneous=True,
         check=_check_cp([("A", AC), ("A", AC), ("A", AC)])),
    # ... not in a factor of a product of three: 2**1500 overflows, and must be refused by name.
    Case("cp_to_tensor", lambda xp, weights, factors: tensor.cp_to_tensor(weights, factors, order=3),
         {"weights": WC, "factors": AC}, id="symmetric",
         check=_check_cp([("factors", AC)] * 3)),
    Case("cp_to_tensor", lambda xp, weights, A, B: tensor.cp_to_tensor(weights, [A, A, B]),
         {"weights": WC, "A": AC, "B": BC}, id="partial", names={"A": "factors[0]", "B": "factors[2]"},
         check=_check_cp([("A", AC), ("A", AC), ("B", BC)])),
    Case("match_components", lambda xp, A, B: tensor.match_components(A, B), {"A": MA, "B": MB},
         homogeneous=True, check=_check_match),
    Case("random_low_rank", lambda xp: tensor.random_low_rank(4, 3, order=3, rng=0, xp=xp), {},
         check=_check_random),
]
