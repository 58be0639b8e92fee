"""The lean dense path keeps the residual's orthonormal basis ``Q = Y T^-1`` implicit when
``T`` is well conditioned (issue 17): same factors as with Householder's explicit ``Q``,
orthogonality within rounding, and ``orgqr`` back whenever ``cond(T)`` could be large.  Both
engines of the batch branch: the Numba kernel (one call) and NumPy/LAPACK called from Python
(without Numba, and for float32)."""

import math

import numpy as np
import pytest
from _svd_helpers import assert_same_factors, assert_same_records

import orthla.svdupdate._truncated as mod
from orthla.svdupdate import TruncatedSVD

EPS = np.finfo(np.float64).eps


@pytest.fixture(params=["numba", "python"])
def engine(request, monkeypatch):
    """The batch branch's engine: the Numba kernel, or the Python calls (kernel refused)."""
    if request.param == "python":
        monkeypatch.setattr(mod, "_lean_kernel", lambda: None)
    else:
        pytest.importorskip("numba")
    return request.param


def _count_orgqr(monkeypatch):
    """Calls of the Python path's ``orgqr`` (the kernel calls LAPACK's own: not counted)."""
    calls = []
    lap = mod._LAPACK["d"]

    def orgqr(*args, **kwargs):
        calls.append(1)
        return lap.orgqr(*args, **kwargs)

    monkeypatch.setitem(mod._LAPACK, "d", lap._replace(orgqr=orgqr))
    return calls


def _stream(batches, k=8, seed=0):
    rng = np.random.default_rng(seed)
    grade = np.logspace(0, -3, 60)
    st = TruncatedSVD.fit(rng.standard_normal((80, 60)) * grade, k, rng=0)
    rows = [rng.standard_normal((12, 60)) * grade for _ in range(batches)]
    return st, rows


def _ortho_v(st):
    V = st._V
    return np.linalg.norm(V.T @ V - np.eye(V.shape[1]), 2)


def _run(monkeypatch, cond):
    with monkeypatch.context() as mp:
        mp.setattr(mod, "_IMPLICIT_Q_COND", cond)
        calls = _count_orgqr(mp)
        st, rows = _stream(20)
        for E in rows:
            st.add_rows(E)
    assert all(h.path == "dense" for h in st.history[1:])
    return st, len(calls)


def test_implicit_q_gives_householders_factors(monkeypatch, engine):
    implicit, n_implicit = _run(monkeypatch, math.inf)
    explicit, n_explicit = _run(monkeypatch, 0.0)
    default, n_default = _run(monkeypatch, mod._IMPLICIT_Q_COND)
    if engine == "python":
        assert (n_implicit, n_explicit, n_default) == (0, 20, 0)  # this stream: cond(T) < 4 p
    assert_same_factors(implicit, explicit, 50, 100)
    np.testing.assert_array_equal(default.s, implicit.s)
    # twenty updates of 12 rows: rounding only, as with Householder's Q (45-65 eps on 4 seeds each)
    assert _ortho_v(implicit) < 150 * EPS
    assert _ortho_v(implicit) < 2 * _ortho_v(explicit) + 20 * EPS


def test_ill_conditioned_residual_forms_q(monkeypatch, engine):
    st, rows = _stream(1, seed=1)
    E = rows[0].copy()
    E[6:] *= 1e-6  # residual rows six orders apart: cond(T) ~ 1e6 > 4 p
    calls = _count_orgqr(monkeypatch)
    lean = st.copy().add_rows(E)
    assert len(calls) == (1 if engine == "python" else 0) and lean.history[-1].path == "dense"
    monkeypatch.setattr(mod, "_append_lean", lambda *a, **k: None)  # the general path
    general = st.copy().add_rows(E)
    s1 = float(general.s[0])
    np.testing.assert_allclose(lean.s, general.s, rtol=0, atol=50 * EPS * s1)
    assert _ortho_v(lean) < 20 * EPS


@pytest.mark.parametrize("p", [2, 40])
def test_implicit_q_on_exact_rank(monkeypatch, engine, p):
    """``p`` rows appended to a rank-8 matrix tracked at rank 8: Zha-Simon is exact there, so
    the tracked singular values are LAPACK's top 8 of the whole matrix."""
    rng = np.random.default_rng(p)
    A0 = rng.standard_normal((30, 8)) @ rng.standard_normal((8, 90))
    E = rng.standard_normal((p, 90))
    calls = _count_orgqr(monkeypatch)
    st = TruncatedSVD.fit(A0, 8, rng=0, oversample=0)
    st.add_rows(E)
    assert calls == [] and st.history[-1].path == "dense"
    ref = np.linalg.svd(np.vstack([A0, E]), compute_uv=False)[:8]
    np.testing.assert_allclose(st.s, ref, rtol=0, atol=100 * EPS * ref[0])


@pytest.mark.parametrize("p", [2, 5, 40])
def test_kernel_equals_python_engine(monkeypatch, p):
    """The Numba kernel and the Python calls: the same factors and records to rounding over a
    stream of graded batches (and the same declines: an in-span batch takes the general path)."""
    pytest.importorskip("numba")

    def stream(python):
        with monkeypatch.context() as mp:
            if python:
                mp.setattr(mod, "_lean_kernel", lambda: None)
            rng = np.random.default_rng(p)
            grade = np.logspace(0, -3, 60)
            st = TruncatedSVD.fit(rng.standard_normal((80, 60)) * grade, 8, rng=0)
            for _ in range(6):
                st.add_rows(rng.standard_normal((p, 60)) * grade)
            st.add_rows(st.Vt[:2] * 3.0)  # in the row space: no residual, general path
        return st

    fast, slow = stream(False), stream(True)
    assert_same_factors(fast, slow, 50, 100)
    assert_same_records(fast, slow)
    for a, b in zip(fast.history, slow.history, strict=True):
        if a.residual_sigma_min == a.residual_sigma_min:  # (nan for the fit)
            np.testing.assert_allclose(a.residual_sigma_min, b.residual_sigma_min, rtol=1e-12)
    for st in (fast, slow):
        r = st.n_tracked
        assert np.linalg.norm(st._V.T @ st._V - np.eye(r), 2) < 1e-13
