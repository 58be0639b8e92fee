"""Shared pieces of the svdupdate tests."""

import numpy as np

import orthla.svdupdate._truncated as mod


def fail_after_staging(monkeypatch, st):
    """Make the next extended sparse append of ``st`` fail after it staged its row delta.

    Returns a list that records, per extended append, whether a delta was staged when the
    extended step returned; ``_extend_rows`` (which runs after staging) raises RuntimeError.
    Call ``monkeypatch.undo()`` after the failing update.
    """
    extended = mod._append_sparse_rows_extended
    staged = []

    def spy(state, E):
        out = extended(state, E)
        staged.append(state._pending_v is not None)
        return out

    def boom(F):
        raise RuntimeError("injected failure after the row update was staged")

    monkeypatch.setattr(mod, "_append_sparse_rows_extended", spy)
    monkeypatch.setattr(st, "_extend_rows", boom)
    return staged


def assert_same_factors(a, b, s_atol, product_atol):
    """``a`` and ``b`` track the same truncated SVD to rounding: singular values within
    ``s_atol`` eps s_1 and ``U diag(s) V^T`` within ``product_atol`` eps s_1 (float64)."""
    scale = np.finfo(np.float64).eps * float(b.s[0])
    np.testing.assert_allclose(a.s, b.s, rtol=0, atol=s_atol * scale)
    np.testing.assert_allclose((a.U * a.s) @ a.Vt, (b.U * b.s) @ b.Vt, rtol=0, atol=product_atol * scale)


def assert_same_records(a, b):
    """The two states' histories name the same kinds, methods, shapes, ranks and paths."""
    for x, y in zip(a.history, b.history, strict=True):
        assert (x.kind, x.method, x.shape, x.residual_rank, x.path) == \
               (y.kind, y.method, y.shape, y.residual_rank, y.path)
