"""Dense NumPy columns take the lean path in the transposed view, as rows do (issue 17):
the same factors as the general path, the record in the state's own orientation, and the
inputs untouched."""

import numpy as np
import pytest
from _svd_helpers import assert_same_factors, assert_same_records

import orthla.svdupdate._truncated as mod
from orthla.svdupdate import TruncatedSVD

EPS = np.finfo(np.float64).eps


def _stream(lean, monkeypatch, p):
    rng = np.random.default_rng(p)
    grade = np.logspace(0, -3, 90)
    st = TruncatedSVD.fit((rng.standard_normal((60, 90)) * grade).T, 8, rng=0)  # 90 x 60
    calls = []
    inner = mod._append_lean

    def spy(self, E, strategy, **kw):
        done = inner(self, E, strategy, **kw) if lean else None
        calls.append(done is not None)
        return done

    monkeypatch.setattr(mod, "_append_lean", spy)
    batches = [(rng.standard_normal((p, 90)) * grade).T for _ in range(12)]  # 90 x p columns
    copies = [b.copy() for b in batches]
    for b in batches:
        st.add_columns(b)
    monkeypatch.undo()
    for b, c in zip(batches, copies, strict=True):
        np.testing.assert_array_equal(b, c)
    return st, calls


@pytest.mark.parametrize("p", [1, 3, 20])
def test_dense_columns_lean_equals_general_path(monkeypatch, p):
    lean, used = _stream(True, monkeypatch, p)
    general, unused = _stream(False, monkeypatch, p)
    assert len(used) == 12 and all(used) and not any(unused)
    assert lean.shape == general.shape == (90, 60 + 12 * p)
    assert_same_factors(lean, general, 100, 200)
    assert_same_records(lean, general)
    last = lean.history[-1]
    assert last.kind == "add_columns" and last.shape == lean.shape and last.path == "dense"
    r = lean.n_tracked
    for X in (lean._U, lean._V):
        assert np.linalg.norm(X.T @ X - np.eye(r), 2) < 1e-13


def test_column_records_and_probe_in_the_states_orientation():
    """After dense columns (lean path, exchanged view) the records name U's loss ``ortho_u``,
    also on the next row appends that skip the probe and report its last measurement."""
    rng = np.random.default_rng(12)
    st = TruncatedSVD.fit(rng.standard_normal((80, 50)), 6, rng=0)
    Ub = st._Ub.copy()
    Ub[:, 0] *= 1.0 + 2e-9  # U off orthonormal by about 4e-9, V exact
    st._U = Ub
    st.ortho_tol = 1.0  # the monitor reports, never re-orthonormalizes
    st._probe_due = 0
    st.add_columns(rng.standard_normal((80, 1)))
    st.add_rows(rng.standard_normal((1, 51)))
    st.add_rows(rng.standard_normal((1, 51)))
    for rec in st.history[-3:]:
        assert rec.ortho_u > 1e-10 > 1e-12 > rec.ortho_v, rec  # (a probe: within a small factor)
