"""Input hardening of TruncatedSVD (issue 12): options, constructor, lists, hostile arrays,
indices, and failures that leave no trace."""

import math

import numpy as np
import pytest
import scipy.sparse as sp

import orthla.svdupdate._truncated as mod
from orthla._testing import to_host
from orthla.svdupdate import TruncatedSVD

RNG = np.random.default_rng(1212)
A = RNG.standard_normal((12, 8))
U0, S0, VT0 = np.linalg.svd(A, full_matrices=False)


def _state(**kw):
    return TruncatedSVD.fit(A, 3, rng=0, **kw)


# ---------------------------------------------------------------- float options

BAD_REALS = [
    (float("nan"), ValueError), (-1e-3, ValueError), (True, TypeError), ("1e-8", TypeError),
    (1j, TypeError), ([1e-8], TypeError),
]


@pytest.mark.parametrize("name", ["rtol", "ortho_tol", "decay"])
@pytest.mark.parametrize(("value", "exc"), BAD_REALS)
def test_float_options_are_checked_in_fit_and_constructor(name, value, exc):
    with pytest.raises(exc, match=f"`{name}`"):
        TruncatedSVD.fit(A, 3, **{name: value})
    with pytest.raises(exc, match=f"`{name}`"):
        TruncatedSVD(U0, S0, VT0.T, 3, **{name: value})


@pytest.mark.parametrize(("name", "value"), [
    ("rtol", math.inf), ("rtol", 1.0), ("decay", 0.0), ("decay", math.inf), ("decay", 1.5),
    ("max_cond_k", math.inf), ("max_cond_k", math.nan), ("max_cond_k", -1.0),
    ("ortho_tol", -math.inf),
])
def test_float_options_out_of_range(name, value):
    st = _state()
    with pytest.raises(ValueError, match=f"`{name}` must be"):
        setattr(st, name, value)


@pytest.mark.parametrize("name", ["rtol", "ortho_tol", "decay", "max_cond_k"])
def test_options_set_later_are_checked_too(name):
    st = _state()
    before = getattr(st, name)
    with pytest.raises(ValueError, match=f"`{name}`.*got nan"):
        setattr(st, name, float("nan"))
    with pytest.raises(TypeError, match=f"`{name}`"):
        setattr(st, name, False)
    assert getattr(st, name) == before


def test_meaningful_limits_are_accepted():
    st = TruncatedSVD.fit(A, 3, ortho_tol=np.inf, rtol=0.0, decay=np.float32(0.5))
    st.max_cond_k = 0  # always fold
    assert st.ortho_tol == math.inf and st.rtol == 0.0 and st.decay == 0.5 and st.max_cond_k == 0.0
    st.add_rows(A[:2])
    assert not st.history[-1].reorthogonalized


def test_nan_rtol_no_longer_drops_every_direction():
    # The issue: rtol=nan made every comparison false and later updates dropped every new
    # direction silently; now refused, and the default keeps the new direction.
    with pytest.raises(ValueError, match="`rtol`"):
        TruncatedSVD.fit(A, 3, rtol=float("nan"))
    st = TruncatedSVD.fit(A[:, :4] @ np.eye(4, 8), 3, oversample=1)  # row space: 4 columns
    st.add_rows(np.eye(1, 8, 7))  # a new direction
    assert st.history[-1].residual_rank == 1


@pytest.mark.parametrize(("kw", "exc", "match"), [
    ({"oversample": True}, TypeError, "`oversample`"),
    ({"oversample": -1}, ValueError, "`oversample`"),
    ({"t": 1.5}, TypeError, "`t`"),
    ({"keep_matrix": 1}, TypeError, "`keep_matrix`"),
    ({"method": "svds"}, ValueError, "`method`"),
    ({"rng": "seed"}, TypeError, "`rng`"),
])
def test_fit_options(kw, exc, match):
    with pytest.raises(exc, match=match):
        TruncatedSVD.fit(A, 3, **kw)


@pytest.mark.parametrize("k", [True, np.bool_(False), 2.0, "3"])
def test_k_must_be_an_integer(k):
    with pytest.raises(TypeError, match="`k`"):
        TruncatedSVD.fit(A, k)
    with pytest.raises(TypeError, match="`k`"):
        TruncatedSVD(U0, S0, VT0.T, k)


@pytest.mark.parametrize(("kw", "exc", "match"), [
    ({"l": True, "method": "gkl"}, TypeError, "`l`"),
    ({"t": True, "method": "rpi"}, TypeError, "`t`"),
    ({"l": 0, "method": "gkl"}, ValueError, "`l`"),
    ({"strategy": "fast"}, ValueError, "`strategy`"),
])
def test_update_options(kw, exc, match):
    st = _state()
    with pytest.raises(exc, match=match):
        st.add_rows(A[:2], **kw)
    assert st.n_updates == 0


# ---------------------------------------------------------------- the constructor

def test_constructor_accepts_an_svd_and_owns_copies(xp):
    U, s, V = (xp.asarray(x) for x in (U0, S0, VT0.T.copy()))
    st = TruncatedSVD(U, s, V, 5)
    np.testing.assert_allclose(to_host(st.s), S0[:5], rtol=1e-15)
    st.add_rows(xp.asarray(A[:3]))
    np.testing.assert_array_equal(to_host(U), U0)  # the caller's arrays are never written


def test_constructor_promotes_mixed_precision_and_integers():
    st = TruncatedSVD(U0.astype(np.float32), S0, VT0.T, 3)  # float32 rounding: accepted
    assert st.s.dtype == np.float64
    st = TruncatedSVD(np.eye(5, 2, dtype=np.int64), np.array([2, 1]), np.eye(4, 2), 2)
    assert st.s.dtype == np.float64 and st.shape == (5, 4)


@pytest.mark.parametrize("where", ["U", "s", "V"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_constructor_refuses_non_finite(where, value):
    args = {"U": U0.copy(), "s": S0.copy(), "V": VT0.T.copy()}
    args[where].flat[3] = value
    with pytest.raises(ValueError, match=f"`{where}` must contain only finite values"):
        TruncatedSVD(args["U"], args["s"], args["V"], 3)


@pytest.mark.parametrize("where", ["U", "V"])
def test_constructor_refuses_non_orthonormal_factors(where):
    args = {"U": U0.copy(), "s": S0.copy(), "V": VT0.T.copy()}
    args[where][:, 1] += 1e-6 * args[where][:, 0]
    with pytest.raises(ValueError, match=rf"`{where}` must have orthonormal columns; "
                                         rf"\|\|{where}\^T {where} - I\|\|_2 = 1e-06 exceeds"):
        TruncatedSVD(args["U"], args["s"], args["V"], 3)
    args[where] = args[where] * 2.0**600  # no overflow warning on the way
    with pytest.raises(ValueError, match=f"`{where}` must have orthonormal columns"):
        TruncatedSVD(args["U"], args["s"], args["V"], 3)
    with pytest.raises(ValueError, match=f"`{where}` has 3 rows, fewer than its 8 columns"):
        args = {"U": U0, "s": S0, "V": VT0.T}
        args[where] = args[where][:3]
        TruncatedSVD(args["U"], args["s"], args["V"], 3)


def test_constructor_refuses_bad_singular_values():
    with pytest.raises(ValueError, match=r"`s` must be non-increasing.*s\[1\]"):
        TruncatedSVD(U0, S0[::-1].copy(), VT0.T, 3)
    s = S0.copy()
    s[-1] = -1e-3
    with pytest.raises(ValueError, match=r"`s` must be non-negative.*-0.001"):
        TruncatedSVD(U0, s, VT0.T, 3)
    with pytest.raises(ValueError, match="`s` must hold at least one"):
        TruncatedSVD(U0[:, :0], S0[:0], VT0.T[:, :0], 1)
    with pytest.raises(ValueError, match="`k` must be an integer at least 1 and at most"):
        TruncatedSVD(U0, S0, VT0.T, 9)
    TruncatedSVD(U0, np.r_[S0[:4], S0[3], 0.0, 0.0, 0.0], VT0.T, 3)  # ties and zeros are fine


@pytest.mark.parametrize(("make", "match"), [
    (lambda x: x + 0j, "must be real; got complex"),
    (lambda x: x > 0, "dtype; got bool"),
    (lambda x: x.astype(str), "dtype; got <U"),
    (lambda x: x.astype(object), "dtype; got object"),
    (lambda x: x.astype(np.float16), "float16"),
])
@pytest.mark.parametrize("where", ["U", "s", "V"])
def test_constructor_refuses_dtypes(make, match, where):
    args = {"U": U0, "s": S0, "V": VT0.T}
    args[where] = make(args[where])
    with pytest.raises(TypeError, match=f"`{where}`.*{match}"):
        TruncatedSVD(args["U"], args["s"], args["V"], 3)


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
def test_constructor_refuses_masked_matrix_and_mixed_libraries():
    with pytest.raises(TypeError, match="MaskedArray"):
        TruncatedSVD(np.ma.masked_array(U0), S0, VT0.T, 3)
    with pytest.raises(TypeError, match="numpy.matrix"):
        TruncatedSVD(U0, S0, np.asmatrix(VT0.T), 3)
    strict = pytest.importorskip("array_api_strict")
    with pytest.raises(TypeError, match="one array library"):
        TruncatedSVD(U0, strict.asarray(S0), VT0.T, 3)


# ---------------------------------------------------------------- lists

def _same(a, b):
    for x, y in zip((a.U, a.s, a.Vt), (b.U, b.s, b.Vt), strict=True):
        np.testing.assert_allclose(to_host(x), to_host(y), rtol=1e-14, atol=1e-14)


def test_lists_are_converted_like_numpy():
    ref = TruncatedSVD(U0, S0, VT0.T, 3, rng=0)
    st = TruncatedSVD(U0.tolist(), S0.tolist(), VT0.T.tolist(), 3, rng=0)
    _same(st, ref)
    _same(TruncatedSVD.fit(A.tolist(), 3, rng=0), TruncatedSVD.fit(A, 3, rng=0))
    E, C = RNG.standard_normal((2, 8)), RNG.standard_normal((14, 1))
    D, F = RNG.standard_normal((14, 2)), RNG.standard_normal((9, 2))
    for X, Y in ((st, E.tolist()), (ref, E)):
        X.add_rows(Y)
    for X, Y in ((st, C.tolist()), (ref, C)):
        X.add_columns(Y)
    for X, (Y, Z) in ((st, (D.tolist(), tuple(map(tuple, F)))), (ref, (D, F))):
        X.update(Y, Z)
    for X, Y in ((st, [0, 3]), (ref, np.array([0, 3]))):
        X.remove_rows(Y)
    for X, Y in ((st, (1,)), (ref, np.int64(1))):
        X.remove_columns(Y)
    _same(st, ref)
    x = RNG.standard_normal((2, 8))
    # (lists take the general path, NumPy arrays the lean one: equal to rounding)
    np.testing.assert_allclose(st.transform(x.tolist()), ref.transform(x), rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(st.project(x.tolist()), ref.project(x), rtol=1e-14, atol=1e-14)
    with pytest.raises(TypeError, match="`E` could not be converted"):
        st.add_rows([[1.0, 2.0], [3.0]])


def test_lists_on_another_library_land_on_the_state_device(xp):
    st = TruncatedSVD.fit(xp.asarray(A), 3, rng=0)
    st.add_rows(A[:2].tolist())
    st.remove_rows([0])
    out = st.transform(A[:1].tolist())
    assert type(out) is type(st.s)


# ---------------------------------------------------------------- hostile arrays

def _calls(st, bad):
    """Each array argument of each method, with ``bad`` (a function of a good array)."""
    m, n = st.shape
    E, C, D, F, X = (RNG.standard_normal(sh) for sh in ((2, n), (m, 2), (m, 2), (n, 2), (3, n)))
    return [
        ("E", lambda: st.add_rows(bad(E))),
        ("E", lambda: st.add_columns(bad(C))),
        ("D", lambda: st.update(bad(D), F)),
        ("E", lambda: st.update(D, bad(F))),
        ("X", lambda: st.transform(bad(X))),
        ("X", lambda: st.project(bad(X))),
    ]


def _nan(x):
    x = x.copy()
    x.flat[x.size // 2] = np.nan
    return x


def _inf(x):
    x = x.copy()
    x.flat[0] = -np.inf
    return x


@pytest.mark.parametrize(("bad", "exc", "match"), [
    (_nan, ValueError, "must contain only finite values"),
    (_inf, ValueError, "must contain only finite values"),
    (lambda x: sp.csr_array(_nan(x)), ValueError, "must contain only finite values"),
    (lambda x: sp.coo_array(_inf(x)), ValueError, "must contain only finite values"),
    (lambda x: x.astype(np.float16), TypeError, "float16"),
    (lambda x: x > 0, TypeError, "bool"),
    (lambda x: sp.csr_array(x > 0), TypeError, "bool"),
    (lambda x: x.astype(object), TypeError, "object"),
    (lambda x: x + 1j, TypeError, "complex"),
    (lambda x: x[None], ValueError, "2-D"),
    (lambda x: np.ma.masked_array(x), TypeError, "MaskedArray"),
])
def test_every_array_argument_is_validated(bad, exc, match):
    st = _state()
    U, s, Vt = st.U, st.s, st.Vt
    for name, call in _calls(st, bad):
        with pytest.raises(exc, match=match) as info:
            call()
        if exc is ValueError or match != "MaskedArray":
            assert f"`{name}`" in str(info.value), (name, info.value)
    assert st.n_updates == 0
    np.testing.assert_array_equal(st.U, U)
    np.testing.assert_array_equal(st.s, s)
    np.testing.assert_array_equal(st.Vt, Vt)


@pytest.mark.skipif(np.dtype(np.longdouble) == np.float64, reason="long double is float64 here")
def test_long_double_is_refused_by_name():
    with pytest.raises(TypeError, match="`A` has dtype float128|`A` has dtype longdouble"):
        TruncatedSVD.fit(A.astype(np.longdouble), 3)
    with pytest.raises(TypeError, match="`E` has dtype"):
        _state().add_rows(A[:2].astype(np.longdouble))


def test_fit_refuses_empty_and_non_finite_sparse():
    with pytest.raises(ValueError, match=r"`A` is empty \(shape \(0, 8\)\)"):
        TruncatedSVD.fit(A[:0], 3)
    with pytest.raises(ValueError, match="`A` must contain only finite values; found 1"):
        TruncatedSVD.fit(sp.csr_array(_nan(A)), 3)


def test_sparse_finiteness_check_exact_at_the_edge_of_range():
    # check_sparse counts finite entries (no sum: one that overflows on finite entries
    # would warn, an error under filterwarnings); huge finite entries are accepted
    # silently, a NaN or Inf among them is found.
    from orthla.svdupdate._operand import check_sparse

    big = sp.csr_array(np.array([[1e308, 1e308, 0.0, -1e308, 1e308]]))
    assert check_sparse(big, "E") is big
    bad = sp.csr_array(np.array([[1e308, 1e308, np.nan, 1.0]]))
    with pytest.raises(ValueError, match="`E` must contain only finite values; found 1"):
        check_sparse(bad, "E")
    inf = sp.csr_array(np.array([[1.0, -np.inf, 2.0]]))
    with pytest.raises(ValueError, match="`E` must contain only finite values; found 1"):
        _state().add_rows(sp.csr_array(np.hstack([inf.toarray(), np.zeros((1, 5))])))


# ---------------------------------------------------------------- indices

@pytest.mark.parametrize(("idx", "exc", "match"), [
    (True, TypeError, "the boolean True"),
    (np.bool_(True), TypeError, "boolean"),
    ([True, False], TypeError, "not booleans"),
    ([1, True], TypeError, "not booleans"),
    (np.arange(12) < 2, TypeError, "not booleans"),
    (np.array([1.0, 2.0]), TypeError, "integer dtype; got float64"),
    ([1.0, 2.0], TypeError, "integer dtype; got float64"),
    (np.array([1], dtype=object), TypeError, "integer dtype; got object"),
    ("1", TypeError, "`idx`"),
    (1.0, TypeError, "`idx`"),
    ([12], ValueError, r"in \[0, 12\); got values in \[12, 12\]"),
    ([-1], ValueError, r"in \[0, 12\); got values in \[-1, -1\]"),
    ([], ValueError, "at least one"),
    (np.array([[1, 2]]), ValueError, "1-D"),
    ([2, 2], ValueError, "must not repeat"),
    (list(range(12)), ValueError, "would remove all 12"),
    (np.ma.masked_array([1, 2]), TypeError, "MaskedArray"),
])
def test_indices_are_validated(idx, exc, match):
    st = _state()
    with pytest.raises(exc, match=match) as info:
        st.remove_rows(idx)
    assert "`idx`" in str(info.value)
    assert st.n_updates == 0 and st.shape == (12, 8)


def test_indices_as_arrays_of_the_state_library(xp):
    st = TruncatedSVD.fit(xp.asarray(A), 3, rng=0)
    ref = TruncatedSVD.fit(A, 3, rng=0)
    st.remove_rows(xp.asarray(np.array([7, 2, 11])))
    ref.remove_rows([2, 7, 11])
    st.remove_columns(xp.asarray(np.array([0], dtype=np.int32)))
    ref.remove_columns(0)
    np.testing.assert_allclose(to_host(st.s), ref.s, rtol=1e-13)
    assert st.shape == (9, 7)
    if "numpy" not in xp.__name__:
        # Arrays of another library are refused, as everywhere in orthla (the contract's
        # "mixed" mutation); a list of the same indices is the portable spelling.
        with pytest.raises(TypeError, match="`idx` is a numpy.ndarray but the SVD state lives in"):
            st.remove_rows(np.flatnonzero(np.arange(9) % 4 == 1))
        st.remove_rows(np.flatnonzero(np.arange(9) % 4 == 1).tolist())
        assert st.shape == (7, 7)


# ---------------------------------------------------------------- side-effect-free failures

def _extended_state(monkeypatch):
    """A graph grown node by node (a sparse row, then a sparse column): both factors held in
    extended form, U = U' K_u and V = V' K_v."""
    monkeypatch.setattr(mod, "V_EXTENDED_MIN_WORK", 0)  # small n: the extended forms apply
    rng = np.random.default_rng(7)
    n = 160
    S = sp.random(n, n, density=0.05, random_state=rng, format="csr")
    w = sp.diags(1.0 / np.arange(1, n + 1) ** 0.5)
    M = (w @ (S + S.T) @ w).tocsr()
    st = TruncatedSVD.fit(M[:100, :100], 6, rng=0)
    for j in range(100, 110):
        st.add_rows(M[j:j + 1, :j])
        st.add_columns(M[:j + 1, j:j + 1].tocsc())
    assert st._Ku is not None and st._Kv is not None
    return st, M


def _boom(*args, **kwargs):
    raise RuntimeError("injected failure")


def _assert_identical(a, b):
    for x, y in zip((a.U, a.s, a.Vt, a._Ub, a._Vb), (b.U, b.s, b.Vt, b._Ub, b._Vb), strict=True):
        np.testing.assert_array_equal(x, y)
    for x, y in ((a._Ku, b._Ku), (a._Kv, b._Kv)):
        assert (x is None) == (y is None)
        if x is not None:
            np.testing.assert_array_equal(x, y)
    assert repr(a.history) == repr(b.history)  # repr round-trips floats (and shows nan)


FAILURES = [
    # (what fails, the update that fails) -- each after the state was read or folded
    ("_rotate", lambda st, M: st.update(np.ones((110, 1)), np.ones((110, 1)))),
    # (a small sparse batch on the dense path is densified for the lean path; rpi with
    # l < p keeps the general one)
    ("_append", lambda st, M: st.add_rows(M[110:112, :110], method="rpi", l=1,
                                          strategy="dense")),
    ("_append_lean", lambda st, M: st.add_rows(M[110:112, :110].toarray(), strategy="dense")),
    ("_append_lean", lambda st, M: st.add_rows(M[110:112, :110], strategy="dense")),
    # dense columns: the lean path in the exchanged view (the factors must be swapped back)
    ("_append_lean", lambda st, M: st.add_columns(M[:110, 110:112].toarray(), strategy="dense")),
    ("_arrow_core", lambda st, M: st.add_rows(M[110:111, :110].toarray())),
    ("_lean_kernel", lambda st, M: st.add_rows(M[110:113, :110].toarray(), strategy="dense")),
    # in-span dense rows/columns: the lean path declines (no residual) after forming the
    # extended factor; the general path must still start from, and restore, the state as it was
    ("_append", lambda st, M: st.add_rows(st.Vt[:1] * 2.0, strategy="dense")),
    ("_append", lambda st, M: st.add_columns(st.U[:, :1] * 2.0, strategy="dense")),
    ("_downdate", lambda st, M: st.remove_rows([3])),
    ("_reorthonormalize", lambda st, M: st.add_columns(M[:110, 110:111].toarray())),
    ("_factor_loss", lambda st, M: st.add_rows(M[110:111, :110].toarray())),
]


@pytest.mark.parametrize(("target", "failing"), FAILURES, ids=[f"{f[0]}-{i}" for i, f in enumerate(FAILURES)])
def test_failed_update_on_extended_state_leaves_no_trace(target, failing, monkeypatch):
    st, M = _extended_state(monkeypatch)
    if target == "_reorthonormalize":
        st.ortho_tol = 0.0  # every update re-orthonormalizes: the commit reaches it
    if target == "_factor_loss":
        st._probe_due = 0  # the probe runs on this update (it may skip some, see _monitor)
    ref = st.copy()
    calls = []

    def fail(*args, **kwargs):
        calls.append(1)
        _boom()

    monkeypatch.setattr(mod, target, fail)
    with pytest.raises(RuntimeError, match="injected"):
        failing(st, M)
    monkeypatch.undo()
    monkeypatch.setattr(mod, "V_EXTENDED_MIN_WORK", 0)
    assert calls, "the failure was not reached"
    _assert_identical(st, ref)
    # The same next updates on the failed state and on the untouched copy: bit-identical.
    for X in (st, ref):
        X.add_rows(M[110:111, :110])
        X.add_columns(M[:111, 110:111].tocsc())
        X.add_rows(M[111:113, :111].toarray(), method="rpi", l=1)
    assert ref.history[-3].method == "exact-extended"
    _assert_identical(st, ref)


def test_failed_update_restores_the_random_streams(monkeypatch):
    st = _state()
    ref = st.copy()
    monkeypatch.setattr(mod, "_reorthonormalize", _boom)
    st.ortho_tol = 0.0
    with pytest.raises(RuntimeError, match="injected"):
        st.add_rows(RNG.standard_normal((3, 8)), method="rpi", l=1)  # draws from both streams
    monkeypatch.undo()
    st.ortho_tol = None
    E = RNG.standard_normal((3, 8))
    st.add_rows(E, method="rpi", l=1)
    ref.add_rows(E, method="rpi", l=1)
    _assert_identical(st, ref)
    assert st.history[-1].ortho_u == ref.history[-1].ortho_u


@pytest.mark.parametrize("p", [1, 3])
def test_failed_lean_update_after_the_probe_drew_restores_its_stream(p, monkeypatch):
    # Dense rows take the lean path, whose guard does not save the probe stream on entry:
    # the probe saves it before drawing.  Fail after the draw (the re-orthonormalization
    # that ortho_tol=0 forces), then check the next updates are bit-identical to a copy's.
    st = _state()
    ref = st.copy()
    monkeypatch.setattr(mod, "_reorthonormalize", _boom)
    st.ortho_tol = 0.0
    st._probe_due = 0  # the probe runs on this update
    before = st._probe_rng.bit_generator.state
    with pytest.raises(RuntimeError, match="injected"):
        st.add_rows(RNG.standard_normal((p, 8)))
    monkeypatch.undo()
    assert st._probe_rng.bit_generator.state == before
    st.ortho_tol = None
    for _ in range(3):
        E = RNG.standard_normal((p, 8))
        st.add_rows(E)
        ref.add_rows(E)
        st._probe_due = ref._probe_due = 0  # every update probes: the streams are compared
    _assert_identical(st, ref)
    assert st.history[-1].method == "exact" and st.history[-1].path == "dense"
    # A failure inside the probe, after its draw, puts the stream back as well.
    st._probe_due = 0
    state = st._probe_rng.bit_generator.state
    monkeypatch.setattr(mod, "_factor_loss", _boom)
    with pytest.raises(RuntimeError, match="injected"):
        st.add_rows(RNG.standard_normal((p, 8)))
    assert st._probe_rng.bit_generator.state == state


@pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit])
def test_interrupted_commit_puts_back_the_rows_written_in_place(exc, monkeypatch):
    # The extended right basis changes the touched rows of V' in place at the commit; an
    # interrupt (not an Exception) while the commit measures orthogonality used to leave
    # them changed: V' off by 4.5e-4 here, every later update silently wrong.
    st, M = _extended_state(monkeypatch)
    st._probe_due = 0  # the probe runs on this update (it may skip some, see _monitor)
    ref = st.copy()

    def interrupt(*args, **kwargs):
        raise exc()

    monkeypatch.setattr(mod, "_factor_loss", interrupt)
    with pytest.raises(exc):
        st.add_rows(M[110:111, :110])
    monkeypatch.undo()
    monkeypatch.setattr(mod, "V_EXTENDED_MIN_WORK", 0)
    _assert_identical(st, ref)
    for X in (st, ref):
        X.add_rows(M[110:111, :110])
    assert ref.history[-1].method == "exact-extended"
    _assert_identical(st, ref)


def test_blocks_beyond_the_range_of_a_float32_state_are_refused():
    # A float64 block is cast to the state's float32: entries above 3.4e38 became Inf, and
    # add_rows raised LinAlgError ("SVD did not converge"), transform returned NaN.
    st = TruncatedSVD.fit(A.astype(np.float32), 3, rng=0)
    U, s, Vt = st.U, st.s, st.Vt
    big = np.full((1, 8), 1e300)
    for name, call in (("E", lambda: st.add_rows(big)),
                       ("E", lambda: st.add_rows(sp.csr_array(big))),
                       ("E", lambda: st.add_columns(np.full((12, 1), -1e39))),
                       ("D", lambda: st.update(np.full((12, 1), 1e39), np.ones((8, 1)))),
                       ("X", lambda: st.transform(big)),
                       ("X", lambda: st.project(big))):
        with pytest.raises(ValueError, match=rf"`{name}` has entries of magnitude up to 1e\+(300|39), "
                                             "beyond the range of the state's dtype float32"):
            call()
    assert st.n_updates == 0
    np.testing.assert_array_equal(st.U, U)
    np.testing.assert_array_equal(st.s, s)
    np.testing.assert_array_equal(st.Vt, Vt)
    # Within the range: accepted, and the same as the block given in float32.
    row = np.full((1, 8), 1e30)
    ref = st.copy().add_rows(row.astype(np.float32))
    st.add_rows(row)
    assert st.s.dtype == np.float32
    np.testing.assert_array_equal(st.s, ref.s)
    np.testing.assert_allclose(st.s[0], np.sqrt(8.0) * 1e30, rtol=1e-6)


# ---------------------------------------------------------------- single vectors at extreme scales

SCALES = [(np.float64, 1e-200), (np.float64, 1e-170), (np.float64, 1e170), (np.float64, 1e200),
          (np.float32, 1e-25), (np.float32, 1e25), (np.float32, 1e30)]


@pytest.mark.parametrize(("dtype", "c"), SCALES, ids=[f"{d.__name__}-{c:g}" for d, c in SCALES])
@pytest.mark.parametrize("kind", ["add_rows", "add_columns", "update", "gkl"])
def test_single_vector_updates_at_extreme_scales(xp, kind, dtype, c):
    # One new row/column took a shortcut norm that squares the entries: below ~1e-154
    # (float32: ~1e-19) the new direction read as zero and was dropped silently (singular
    # values off by 4% at 1e-170), above ~1e154 (float32: ~1e19) the update overflowed
    # and was refused.  GKL's recurrence norms had the same fault (off by 10% at 1e-200).
    # The update is homogeneous: at scale c it must give c times the unscaled answer.
    rng = np.random.default_rng(5)
    A0 = rng.standard_normal((30, 3)) @ rng.standard_normal((3, 10))
    st = TruncatedSVD.fit(xp.asarray((A0 * c).astype(dtype)), 3, oversample=2, rng=0)
    if kind == "add_rows":
        E = rng.standard_normal((1, 10))
        st.add_rows(xp.asarray((E * c).astype(dtype)))
        M = np.vstack([A0, E])
    elif kind == "add_columns":
        E = rng.standard_normal((30, 1))
        st.add_columns(xp.asarray((E * c).astype(dtype)))
        M = np.hstack([A0, E])
    elif kind == "update":
        D, F = rng.standard_normal((30, 1)), rng.standard_normal((10, 1))
        st.update(xp.asarray((D * c).astype(dtype)), xp.asarray(F.astype(dtype)))
        M = A0 + D @ F.T
    else:  # a rank-one batch of three rows: l = 1 GKL step captures it
        E = rng.standard_normal((3, 1)) @ rng.standard_normal((1, 10))
        st.add_rows(xp.asarray((E * c).astype(dtype)), method="gkl", l=1)
        M = np.vstack([A0, E])
    # one new direction (update: one on each side)
    assert st.history[-1].residual_rank == (2 if kind == "update" else 1)
    ref = np.linalg.svd(M, compute_uv=False)[:3]
    got = np.asarray(to_host(st.s), dtype=np.float64) / c
    tol = 100 * np.finfo(dtype).eps * ref[0]
    np.testing.assert_allclose(got, ref, rtol=0, atol=tol)


def test_indices_as_a_range_and_huge_python_integers():
    # A range is a sequence of integers (accepted before the hardening, then refused with
    # TypeError); a Python integer beyond int64 is out of range (ValueError), not a dtype.
    st, ref = _state(), _state()
    st.remove_rows(range(2, 5))
    ref.remove_rows([2, 3, 4])
    np.testing.assert_array_equal(st.s, ref.s)
    np.testing.assert_array_equal(st.U, ref.U)
    assert st.shape == (9, 8)
    st.remove_columns(range(7, 8))
    assert st.shape == (9, 7)
    with pytest.raises(ValueError, match=r"`idx` must name at least one"):
        st.remove_rows(range(0))
    with pytest.raises(ValueError, match=r"`idx` must hold rows in \[0, 9\); got values in \[1, 2\*\*70\]"
                       .replace("2\\*\\*70", str(2**70))):
        st.remove_rows([1, 2**70])
    with pytest.raises(ValueError, match=r"got values in \[-1, 0\]"):
        st.remove_columns((0, -1))
    assert st.shape == (9, 7) and st.n_updates == 2


@pytest.mark.parametrize("bad", [None, "abc", b"ab", {"a": 1}, object()],
                         ids=["None", "str", "bytes", "dict", "object"])
def test_non_arrays_are_refused_by_name(bad):
    # None/str/dict were read as 0-d object arrays ("`E` must be a 2-D array", a
    # ValueError) or met the namespace check ("all array arguments must come from one
    # array library", naming no argument).
    st = _state()
    calls = [
        ("U", lambda: TruncatedSVD(bad, S0, VT0.T, 3)),
        ("s", lambda: TruncatedSVD(U0, bad, VT0.T, 3)),
        ("V", lambda: TruncatedSVD(U0, S0, bad, 3)),
        ("A", lambda: TruncatedSVD.fit(bad, 3)),
        ("E", lambda: st.add_rows(bad)),
        ("E", lambda: st.add_columns(bad)),
        ("D", lambda: st.update(bad, np.ones((8, 1)))),
        ("E", lambda: st.update(np.ones((12, 1)), bad)),
        ("X", lambda: st.transform(bad)),
        ("X", lambda: st.project(bad)),
    ]
    for name, call in calls:
        with pytest.raises(TypeError, match=rf"`{name}` must be an array \(or a list of numbers\); got"):
            call()
    assert st.n_updates == 0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_semi_orthogonal_factors_are_reorthonormalized(xp, dtype):
    # Lanczos factors with partial reorthogonalization (scipy's svds(solver="propack"):
    # loss ~1e-10 in float64) were refused: the bound was ten times the default ortho_tol.
    # Up to sqrt(eps) they are accepted and re-orthonormalized on entry, which keeps the
    # matrix U diag(s) V^T they describe to O(loss).
    rng = np.random.default_rng(11)
    e = np.finfo(dtype).eps
    loss = 30 * e if dtype == np.float32 else 1e-10   # float32: sqrt(eps) = 3.5e-4
    loss = max(loss, 0.5 * np.sqrt(e))
    U, V = U0.copy(), VT0.T.copy()
    for X in (U, V):
        B = rng.standard_normal((8, 8))
        X += X @ (B + B.T) * (loss / np.linalg.norm(B + B.T, 2) / 2)  # ||X^T X - I|| ~ loss
    M = (U * S0) @ V.T
    for X in (U, V):
        assert np.sqrt(e) > np.linalg.norm(X.T @ X - np.eye(8), 2) > 0.3 * loss
    st = TruncatedSVD(*(xp.asarray(x.astype(dtype)) for x in (U, S0, V)), 8, rng=0)
    Uh, sh, Vth = (np.asarray(to_host(x), dtype=np.float64) for x in (st.U, st.s, st.Vt))
    tol = 50 * e
    assert np.linalg.norm(Uh.T @ Uh - np.eye(8), 2) <= tol
    assert np.linalg.norm(Vth @ Vth.T - np.eye(8), 2) <= tol
    np.testing.assert_allclose(sh, np.linalg.svd(M, compute_uv=False), rtol=0, atol=tol * S0[0])
    np.testing.assert_allclose((Uh * sh) @ Vth, M, rtol=0, atol=tol * S0[0])
    # An update from there is the SVD of the updated matrix.
    E = rng.standard_normal((2, 8))
    st.add_rows(xp.asarray(E.astype(dtype)))
    ref = np.linalg.svd(np.vstack([M, E]), compute_uv=False)
    np.testing.assert_allclose(np.asarray(to_host(st.s), dtype=np.float64), ref, rtol=0,
                               atol=tol * ref[0])
    # Beyond sqrt(eps) the factors are refused, as before.
    with pytest.raises(ValueError, match="`U` must have orthonormal columns"):
        TruncatedSVD(xp.asarray((U * (1 + 4 * np.sqrt(e))).astype(dtype)),
                     xp.asarray(S0.astype(dtype)), xp.asarray(V.astype(dtype)), 3)


@pytest.mark.parametrize(("m", "r"), [(300, 10), (2000, 20)])
def test_probe_of_an_explicit_factor_matches_the_dense_formula(m, r):
    # Tall explicit factors take one pair of GEMVs per probe column instead of one GEMM
    # (_PROBE_GEMV_MIN); both must give ||(X^T X - I) w|| as formed densely.
    rng = np.random.default_rng(7)
    X = np.linalg.qr(rng.standard_normal((m, r)))[0]
    X[:, 0] *= 1.0 + 1e-9  # a known loss of orthogonality (2e-9 in X^T X)
    w = rng.standard_normal((r, 2))
    w /= np.linalg.norm(w, axis=0)
    ref = float(np.linalg.norm((X.T @ X - np.eye(r)) @ w, axis=0).max())
    assert (m * r >= mod._PROBE_GEMV_MIN) == (m == 2000)
    est = mod._factor_loss_np(X, None, None, w, False)
    assert est == pytest.approx(ref, rel=1e-6)
    assert ref > 1e-10
