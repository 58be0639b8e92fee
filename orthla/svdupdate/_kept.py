"""The tracked matrix itself, kept (on request) so that an update can be a recompute.

Held as ``scale * [block_1; block_2; ...]``: appending rows stores a copy of the
batch (``O(nnz)``) and a forgetting factor only changes ``scale``, so keeping the
matrix adds nothing of order ``nnz(A)`` to a row update.  Columns, low-rank terms and
removals stack the blocks first (``O(nnz(A))``, the order of what those updates cost
anyway).  Every operation returns a new object sharing unchanged blocks, so an update
that fails leaves the state's matrix as it was.  A matrix kept sparse (SciPy, NumPy
state) stays sparse unless ``update`` adds a dense low-rank term.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from ._operand import is_sparse

#: Fold ``scale`` into the blocks before it underflows (long streams with decay < 1).
MIN_SCALE = 1e-150


class KeptMatrix:
    """``scale * vstack(blocks)``; sparse (CSR) or dense in the state's namespace."""

    def __init__(self, blocks: list, scale: float, xp: ModuleType, sparse: bool):
        self.blocks, self.scale, self.xp, self.sparse = blocks, scale, xp, sparse

    @classmethod
    def of(cls, A: Any, xp: ModuleType) -> KeptMatrix:
        """Keep a private copy of ``A`` (the caller may change theirs later)."""
        sparse = is_sparse(A)
        return cls([cls._own(A, xp, sparse)], 1.0, xp, sparse)

    @staticmethod
    def _own(X: Any, xp: ModuleType, sparse: bool, factor: float = 1.0) -> Any:
        if sparse:
            import scipy.sparse as sp

            X = sp.csr_array(X, copy=True) if is_sparse(X) else sp.csr_array(X)
            return X * factor if factor != 1.0 else X
        X = xp.asarray(X.toarray()) if is_sparse(X) else xp.asarray(X, copy=True)
        return X * factor if factor != 1.0 else X

    @property
    def shape(self) -> tuple[int, int]:
        return (sum(b.shape[0] for b in self.blocks), self.blocks[0].shape[1])

    @property
    def nnz(self) -> int | None:
        """Stored entries of a sparse matrix (``None`` for a dense one)."""
        return sum(int(b.nnz) for b in self.blocks) if self.sparse else None

    def stacked(self) -> Any:
        """``vstack(blocks)`` (without ``scale``), cached by collapsing to one block."""
        if len(self.blocks) > 1:
            if self.sparse:
                import scipy.sparse as sp

                self.blocks = [sp.vstack(self.blocks, format="csr")]
            else:
                self.blocks = [self.xp.concat(self.blocks, axis=0)]
        return self.blocks[0]

    def matrix(self) -> Any:
        """The tracked matrix."""
        A = self.stacked()
        return A * self.scale if self.scale != 1.0 else A

    def _next_scale(self, decay: float) -> tuple[float, float]:
        """``(scale, factor)`` after a decay: new blocks are stored times ``factor``."""
        scale = self.scale * decay
        return scale, 1.0 / scale

    def _renormalized(self) -> KeptMatrix:
        if self.scale >= MIN_SCALE:
            return self
        return KeptMatrix([self.matrix()], 1.0, self.xp, self.sparse)

    def with_rows(self, E: Any, decay: float) -> KeptMatrix:
        scale, f = self._next_scale(decay)
        new = KeptMatrix([*self.blocks, self._own(E, self.xp, self.sparse, f)], scale, self.xp,
                         self.sparse)
        return new._renormalized()

    def with_columns(self, E: Any, decay: float) -> KeptMatrix:
        scale, f = self._next_scale(decay)
        Enew = self._own(E, self.xp, self.sparse, f)
        if self.sparse:
            import scipy.sparse as sp

            A = sp.hstack([self.stacked(), Enew], format="csr")
        else:
            A = self.xp.concat([self.stacked(), Enew], axis=1)
        return KeptMatrix([A], scale, self.xp, self.sparse)._renormalized()

    def plus_outer(self, D: Any, E: Any, decay: float) -> KeptMatrix:
        """``decay * A + D E^T``: stays sparse only when both factors are sparse."""
        scale, f = self._next_scale(decay)
        if self.sparse and is_sparse(D) and is_sparse(E):
            A = (self.stacked() + (D @ E.T) * f).tocsr()
            return KeptMatrix([A], scale, self.xp, True)._renormalized()
        xp = self.xp
        A = self.stacked()
        A = xp.asarray(A.toarray()) if self.sparse else A
        Dd = xp.asarray(D.toarray()) if is_sparse(D) else D
        Ed = xp.asarray(E.toarray()) if is_sparse(E) else E
        return KeptMatrix([A + (Dd @ Ed.mT) * f], scale, xp, False)._renormalized()

    def without(self, keep: Any, axis: int) -> KeptMatrix:
        """Rows (``axis=0``) or columns (``axis=1``) ``keep`` only."""
        A = self.stacked()
        if self.sparse:
            import numpy as np

            idx = np.asarray(keep)
            A = A[idx, :] if axis == 0 else A[:, idx]
            return KeptMatrix([A.tocsr()], self.scale, self.xp, True)
        return KeptMatrix([self.xp.take(A, keep, axis=axis)], self.scale, self.xp, False)

    def copy(self) -> KeptMatrix:
        # Blocks are never written in place (every operation builds new ones): share them.
        return KeptMatrix(list(self.blocks), self.scale, self.xp, self.sparse)
