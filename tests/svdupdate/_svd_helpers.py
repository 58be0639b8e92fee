"""Shared pieces of the svdupdate tests."""

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
