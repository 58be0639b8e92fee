"""Contract cases for orthla.qmc (see ``_case.Case``).

References are independent of the code under test: dense Gram matrices from the closed forms
of the kernels (Bernoulli polynomial B_2, Walsh kernel ``1 - 3 2^floor(log2 x)``), SciPy's FFT
and Hadamard matrix, ``scipy.stats.qmc`` for Sobol' and Halton, and direct radical-inverse or
GF(2) formulas for lattices and digital nets with user-given generators.
"""

import math
import warnings

import numpy as np
import scipy.fft
import scipy.linalg
import scipy.stats.qmc as sqmc

from orthla.qmc import (
    DigitalNet,
    DigitalShiftInvariantKernel,
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

from ._case import Case, host

_rng = np.random.default_rng(20261207)
N = 8
NOISE = 1e-3
X_LAT = Lattice(2, rng=1).random(2 * N)  # a shifted lattice in natural order: 8 points, then 8 more
X_NET = Sobol(2, rng=1).random(2 * N)  # LMS + digital shift
Y = _rng.standard_normal((N, 2))
Y_T = _rng.standard_normal((3, N))  # transforms along the last axis
W_LAT = np.array([1.0, 0.5])
T_DIFF = _rng.random((5, 2))
V_XOR = _rng.integers(0, 2**53, size=(3, 3, 2))
G_VEC = np.array([1, 3, 5])
G_MAT = np.array([[8, 4, 2, 1], [8, 12, 10, 15]])  # t = 4 bits: the identity and Sobol's 2nd matrix
EPS = np.finfo(float).eps


# ---------------------------------------------------------------- independent references

def _korobov1(t):
    """1-D Korobov kernel of smoothness 1 without its constant: 2 pi^2 B_2(t)."""
    return 2 * math.pi**2 * (t * t - t + 1 / 6)


def _si_dense(x, z, w, scale=1.0):
    t = (x[:, None, :] - z[None, :, :]) % 1.0
    return scale * np.prod(1 + w * _korobov1(t), axis=-1)


def _walsh1(v, t):
    """1-D Walsh kernel of smoothness 1 at x = v 2^-t: 1 - 3 2^floor(log2 x), and 1 at x = 0."""
    x = v.astype(float) * 2.0**-t
    with np.errstate(divide="ignore"):
        return np.where(x == 0, 1.0, 1 - 3 * 2.0 ** np.floor(np.log2(np.where(x == 0, 1, x))))


def _to_bits(x, t_int=63):
    """Points as (integers, t): floats are read with 53 digits, integers as they are."""
    if np.issubdtype(x.dtype, np.integer):
        return x.astype(np.uint64), t_int
    return np.floor(x.astype(np.float64) * 2.0**53).astype(np.uint64), 53


def _dsi_dense(x, z, w, t_int=63):
    xi, t = _to_bits(x, t_int)
    zi, _ = _to_bits(z, t_int)
    v = xi[:, None, :] ^ zi[None, :, :]
    return np.prod(1 + w * _walsh1(v, t), axis=-1)


def _dense(kind, x):
    return _si_dense(x, x, W_LAT) if kind == "lattice" else _dsi_dense(x, x, W_LAT)


def _kernel(kind):
    if kind == "lattice":
        return ShiftInvariantKernel(2, alpha=1, weights=W_LAT)
    return DigitalShiftInvariantKernel(2, alpha=1, weights=W_LAT)


def _close(got, want, rtol, what=""):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    scale = max(float(np.max(np.abs(want))) if want.size else 0.0, np.finfo(float).tiny)
    err = float(np.max(np.abs(got - want))) if want.size else 0.0
    assert err <= rtol * scale, f"{what}: max error {err:.3g} > {rtol:.1g} * {scale:.3g}"


def _bitrev(n):
    m = n.bit_length() - 1
    return np.array([int(format(i, f"0{m}b")[::-1], 2) if m else 0 for i in range(n)])


def _radical_inverse(i):
    out, w = 0.0, 0.5
    while i:
        out += (i & 1) * w
        i >>= 1
        w /= 2
    return out


def _lattice_points(g, start, n, m_max):
    g = np.asarray(g) % 2**m_max
    return np.array([[(_radical_inverse(i) * gj) % 1.0 for gj in g] for i in range(start, start + n)])


def _net_points(mats, t, start, n):
    out = np.zeros((n, mats.shape[0]))
    for r, i in enumerate(range(start, start + n)):
        for j in range(mats.shape[0]):
            acc, b, k = 0, 0, i
            while k:
                if k & 1:
                    acc ^= int(mats[j, b])
                k >>= 1
                b += 1
            out[r, j] = acc / 2**t
    return out


# ---------------------------------------------------------------- checks

def _check_cbc(res, a):
    n, d = 64, 3
    w = np.asarray(a["weights"], dtype=float)
    gamma = np.full(d, float(w)) if w.ndim == 0 else w[:d]
    z = host(res.generating_vector)
    k = np.arange(n)
    p = np.ones(n)
    for j in range(d):
        def err(c, j=j, p=p):
            return np.mean(p * (1 + gamma[j] * _korobov1((k * c % n) / n))) - 1

        if j > 0:
            best = min(err(c) for c in range(1, n, 2))
            assert err(z[j]) <= best + 1e-12 * abs(best)
        e2 = err(z[j])
        assert abs(host(res.worst_case_error)[j] ** 2 - e2) <= 1e-11 * max(abs(e2), 1.0)
        p = p * (1 + gamma[j] * _korobov1((k * z[j] % n) / n))


def _check_fftbr(res, a):
    y = a["y"].astype(complex)
    _close(host(res), scipy.fft.fft(y[..., _bitrev(y.shape[-1])], axis=-1, norm="ortho"), 1e-13)


def _check_ifftbr(res, a):
    y = a["y"].astype(complex)
    _close(host(res), scipy.fft.ifft(y, axis=-1, norm="ortho")[..., _bitrev(y.shape[-1])], 1e-13)


def _check_fwht(res, a):
    y = a["y"].astype(float)
    n = y.shape[-1]
    _close(host(res), y @ scipy.linalg.hadamard(n).T / math.sqrt(n), 1e-13)


def _check_si_call(res, a):
    _close(host(res), _si_dense(a["x"].astype(float), a["z"].astype(float), W_LAT), 1e-12)


def _check_si_weights(res, a):
    w = np.broadcast_to(np.asarray(a["weights"], dtype=float), (2,))
    _close(host(res), _si_dense(X_LAT[:N], X_LAT[:N], w), 1e-12)


def _check_shift_function(res, a):
    t = a["t"].astype(float)
    _close(host(res), np.prod(1 + W_LAT * _korobov1(t), axis=-1), 1e-12)


def _check_dsi_call(res, a):
    _close(host(res), _dsi_dense(a["x"], a["z"], W_LAT), 1e-12)


def _check_dsi_weights(res, a):
    w = np.broadcast_to(np.asarray(a["weights"], dtype=float), (2,))
    _close(host(res), _dsi_dense(X_NET[:N], X_NET[:N], w), 1e-12)


def _check_to_integers(res, a):
    ints, t = res
    want, t_want = _to_bits(a["x"])
    assert t == t_want
    np.testing.assert_array_equal(host(ints).astype(np.uint64), want)


def _check_xor(res, a):
    _close(host(res), np.prod(1 + W_LAT * _walsh1(a["v"].astype(np.uint64), 53), axis=-1), 1e-13)


def _eig_check(kind):
    def check(res, a):
        lam = np.sort(host(res))
        ref = np.linalg.eigvalsh(_dense(kind, a["x"]))
        _close(lam, ref, 1e-10)
    return check


def _double_check(kind):
    def check(res, a):
        x2 = np.concatenate([a["x"], a["x_next"]]).astype(a["x"].dtype)
        _close(np.sort(host(res)), np.linalg.eigvalsh(_dense(kind, x2)), 1e-10)
    return check


def _matvec_check(kind, x_fixed=None):
    def check(res, a):
        x = a["x"] if x_fixed is None else x_fixed
        A = _dense(kind, x) + NOISE * np.eye(N)
        _close(host(res), A @ a["y"].astype(float), 1e-10)
    return check


def _solve_check(kind, x_fixed=None):
    def check(res, a):
        x = a["x"] if x_fixed is None else x_fixed
        A = _dense(kind, x) + NOISE * np.eye(N)
        want = np.linalg.solve(A, a["y"].astype(float))
        _close(host(res), want, 1e3 * np.linalg.cond(A) * EPS)
    return check


def _logdet_check(kind):
    def check(res, a):
        sign, ref = np.linalg.slogdet(_dense(kind, a["x"]) + NOISE * np.eye(N))
        assert res.shape == (), f"logdet must be a 0-d array; got {type(res).__name__}"
        res = float(host(res))
        assert sign > 0 and abs(res - ref) <= 1e-10 * max(1.0, abs(ref))
    return check


def _points_check(ref):
    def check(res, a):
        _close(host(res), ref(a), 0.0 if not a else 4 * EPS)
    return check


def _lattice_ref(start, n):
    return lambda a: _lattice_points(a.get("generating_vector", G_VEC), start, n, 4)


def _net_ref(start, n):
    return lambda a: _net_points(np.asarray(a.get("generating_matrices", G_MAT)), 4, start, n)


def _sobol_ref(start, n):
    def ref(a):
        s = sqmc.Sobol(3, scramble=False)
        if start:  # SciPy's Sobol' refuses fast_forward(0)
            s.fast_forward(start)
        with warnings.catch_warnings():  # "balance properties ... power of 2"
            warnings.simplefilter("ignore", UserWarning)
            return s.random(n)
    return ref


def _halton_ref(start, n):
    def ref(a):
        h = sqmc.Halton(3, scramble=False)
        if start:
            h.fast_forward(start)
        return h.random(n)
    return ref


# ---------------------------------------------------------------- engines

def _lattice(xp, **kw):
    return Lattice(3, generating_vector=kw.get("generating_vector", G_VEC), randomize=False, m_max=4, xp=xp)


def _net(xp, **kw):
    return DigitalNet(2, generating_matrices=kw.get("generating_matrices", G_MAT), t=4, randomize=False, xp=xp)


def _sobol(xp, **kw):
    return Sobol(3, randomize=False, order="gray", xp=xp)


def _halton(xp, **kw):
    return Halton(3, randomize=False, xp=xp)


_ENGINES = {"Lattice": (_lattice, _lattice_ref), "DigitalNet": (_net, _net_ref),
            "Sobol": (_sobol, _sobol_ref), "Halton": (_halton, _halton_ref)}


def _engine_cases():
    cases = []
    for name, (make, ref) in _ENGINES.items():
        arrays = {"Lattice": {"generating_vector": G_VEC},
                  "DigitalNet": {"generating_matrices": G_MAT}}.get(name, {})
        cases += [
            Case(name, lambda xp, make=make, **a: make(xp, **a).random(8), arrays,
                 check=_points_check(ref(0, 8))),
            Case(f"{name}.random", lambda xp, make=make, **a: make(xp, **a).random(5)[2:, ...], {},
                 check=_points_check(ref(2, 3))),
            Case(f"{name}.random_base2", lambda xp, make=make, **a: make(xp, **a).random_base2(3), {},
                 check=_points_check(ref(0, 8))),
            Case(f"{name}.reset", lambda xp, make=make, **a: _after_reset(make(xp, **a)), {},
                 check=_points_check(ref(0, 6))),
            Case(f"{name}.fast_forward", lambda xp, make=make, **a: make(xp, **a).fast_forward(3).random(5), {},
                 check=_points_check(ref(3, 5))),
        ]
    return cases


def _after_reset(eng):
    first = host(eng.random(3))
    again = eng.reset().random(6)
    np.testing.assert_array_equal(host(again)[:3], first)
    return again


def _randomized_in_unit_cube(res, a):
    x = host(res)
    assert x.shape == (2, 16, 3) and np.all((x >= 0) & (x < 1))


# ---------------------------------------------------------------- FastGram

def _fastgram(kind, xp, x):
    return FastGram(x, _kernel(kind), noise=NOISE)


def _points(kind):
    return X_LAT[:N] if kind == "lattice" else X_NET[:N]


def _fastgram_cases():
    cases = []
    for kind in ("lattice", "net"):
        x0, x1 = _points(kind), (X_LAT if kind == "lattice" else X_NET)[N:]
        cases += [
            Case("FastGram", lambda xp, x, kind=kind: _fastgram(kind, xp, x).eigenvalues, {"x": x0},
                 id=kind, check=_eig_check(kind)),
            Case("FastGram.matvec", lambda xp, y, kind=kind: _fastgram(kind, xp, xp.asarray(_points(kind))).matvec(y),
                 {"y": Y}, id=f"{kind}-y", homogeneous=True, check=_matvec_check(kind, x0)),
            Case("FastGram.matvec", lambda xp, x, y, kind=kind: _fastgram(kind, xp, x).matvec(y),
                 {"x": x0, "y": Y}, id=f"{kind}-xy", check=_matvec_check(kind)),
            Case("FastGram.solve", lambda xp, y, kind=kind: _fastgram(kind, xp, xp.asarray(_points(kind))).solve(y),
                 {"y": Y}, id=f"{kind}-y", homogeneous=True, check=_solve_check(kind, x0)),
            Case("FastGram.solve", lambda xp, x, y, kind=kind: _fastgram(kind, xp, x).solve(y),
                 {"x": x0, "y": Y}, id=f"{kind}-xy", check=_solve_check(kind)),
            Case("FastGram.logdet", lambda xp, x, kind=kind: _fastgram(kind, xp, x).logdet(), {"x": x0},
                 id=kind, check=_logdet_check(kind)),
            Case("FastGram.double",
                 lambda xp, x, x_next, kind=kind: _fastgram(kind, xp, x).double(x_next).eigenvalues,
                 {"x": x0, "x_next": x1}, id=kind, check=_double_check(kind)),
        ]
    return cases


# ---------------------------------------------------------------- the registry

_SI = ShiftInvariantKernel(2, alpha=1, weights=W_LAT)
_DSI = DigitalShiftInvariantKernel(2, alpha=1, weights=W_LAT)

CASES = [
    Case("cbc_lattice", lambda xp, weights: cbc_lattice(64, 3, weights=weights),
         {"weights": np.array([1.0, 0.5, 0.25])}, check=_check_cbc),
    Case("fftbr", lambda xp, y: fftbr(y), {"y": Y_T}, homogeneous=True, check=_check_fftbr),
    Case("ifftbr", lambda xp, y: ifftbr(y), {"y": Y_T}, homogeneous=True, check=_check_ifftbr),
    Case("fwht", lambda xp, y: fwht(y), {"y": Y_T}, homogeneous=True, check=_check_fwht),
    Case("ShiftInvariantKernel",
         lambda xp, weights: ShiftInvariantKernel(2, alpha=1, weights=weights)(xp.asarray(X_LAT[:N])),
         {"weights": W_LAT}, id="weights", check=_check_si_weights),
    Case("ShiftInvariantKernel", lambda xp, x, z: _SI(x, z), {"x": X_LAT[:5], "z": X_LAT[3:N]},
         id="call", check=_check_si_call),
    Case("ShiftInvariantKernel.shift_function", lambda xp, t: _SI.shift_function(t, xp), {"t": T_DIFF},
         check=_check_shift_function),
    Case("DigitalShiftInvariantKernel",
         lambda xp, weights: DigitalShiftInvariantKernel(2, alpha=1, weights=weights)(xp.asarray(X_NET[:N])),
         {"weights": W_LAT}, id="weights", check=_check_dsi_weights),
    Case("DigitalShiftInvariantKernel", lambda xp, x, z: _DSI(x, z), {"x": X_NET[:5], "z": X_NET[3:N]},
         id="call", check=_check_dsi_call),
    Case("DigitalShiftInvariantKernel.to_integers", lambda xp, x: _DSI.to_integers(x, "x", xp),
         {"x": X_NET[:N]}, check=_check_to_integers),
    Case("DigitalShiftInvariantKernel.xor_function", lambda xp, v: _DSI.xor_function(v, 53, xp),
         {"v": V_XOR}, check=_check_xor),
    Case("Halton", lambda xp: Halton(3, randomize="nus", rng=2, replications=2, xp=xp, engine="xp").random(16),
         {}, id="nus-xp", check=_randomized_in_unit_cube),
    *_engine_cases(),
    *_fastgram_cases(),
]
