"""The tracked matrix itself, kept (on request) so that an update can be a recompute.

Held lazily as ``scale * (base, then appended row and column blocks in order)``:
appending rows or columns stores a copy of the batch (``O(nnz(E))``) and a forgetting
factor only changes ``scale``, so keeping the matrix adds nothing of order ``nnz(A)``
to an append.  The blocks are stacked only when the matrix is needed (a recompute, a
low-rank term, a removal: ``O(nnz(A))``, the order of what those cost anyway).  Every
operation returns a new object sharing unchanged blocks, so an update that fails
leaves the state's matrix as it was.  A matrix kept sparse (SciPy, NumPy state) stays
sparse unless ``update`` adds a dense low-rank term.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, NamedTuple

from ._operand import is_sparse

#: Fold ``scale`` into the blocks before it underflows (long streams with decay < 1).
MIN_SCALE = 1e-150


class _SparseBlock(NamedTuple):
    """A private copy of an appended CSR/CSC batch as its raw arrays.

    Built into a SciPy matrix only when the blocks are stacked: SciPy's constructor and
    ``copy()`` check the index arrays, which for a single appended row cost several
    times the update itself (a graph grown node by node), while the stacking that needs
    the matrix is ``O(nnz(A))`` anyway.
    """

    format: str
    data: Any
    indices: Any
    indptr: Any
    shape: tuple[int, int]

    @classmethod
    def of(cls, X: Any, factor: float) -> _SparseBlock:
        nnz = int(X.indptr[-1])
        data = X.data[:nnz] * factor if factor != 1.0 else X.data[:nnz].copy()
        return cls(X.format, data, X.indices[:nnz].copy(), X.indptr.copy(), tuple(X.shape))

    @property
    def nnz(self) -> int:
        return int(self.data.shape[0])

    def matrix(self) -> Any:
        import scipy.sparse as sp

        make = sp.csc_array if self.format == "csc" else sp.csr_array
        return make((self.data, self.indices, self.indptr), shape=self.shape)


class KeptMatrix:
    """``scale * M`` with ``M`` = ``base`` grown by ``appends`` (``(axis, block)`` pairs)."""

    def __init__(self, base: Any, appends: tuple, scale: float, xp: ModuleType, sparse: bool,
                 shape: tuple[int, int], nnz: int | None):
        self.base, self.appends, self.scale, self.xp, self.sparse = base, appends, scale, xp, sparse
        self.shape, self.nnz = shape, nnz

    @classmethod
    def of(cls, A: Any, xp: ModuleType) -> KeptMatrix:
        """Keep a private copy of ``A`` (the caller may change theirs later)."""
        sparse = is_sparse(A)
        A = cls._own(A, xp, sparse)
        return cls(A, (), 1.0, xp, sparse, tuple(A.shape), int(A.nnz) if sparse else None)

    @staticmethod
    def _own(X: Any, xp: ModuleType, sparse: bool, factor: float = 1.0) -> Any:
        if sparse:
            import scipy.sparse as sp

            if is_sparse(X):
                # CSR/CSC as given (a CSC column has a 2-entry index pointer, not m + 1)
                X = sp.csc_array(X, copy=True) if X.format == "csc" else sp.csr_array(X, copy=True)
            else:
                X = sp.csr_array(X)
        else:
            X = xp.asarray(X.toarray()) if is_sparse(X) else xp.asarray(X, copy=True)
        return X * factor if factor != 1.0 else X

    def _with(self, axis: int, E: Any, decay: float) -> KeptMatrix:
        scale = self.scale * decay
        if self.sparse and is_sparse(E) and E.format in ("csr", "csc"):
            block = _SparseBlock.of(E, 1.0 / scale)
        else:
            block = self._own(E, self.xp, self.sparse, 1.0 / scale)
        m, n = self.shape
        shape = (m + E.shape[0], n) if axis == 0 else (m, n + E.shape[1])
        nnz = None if self.nnz is None else self.nnz + int(block.nnz)
        new = KeptMatrix(self.base, (*self.appends, (axis, block)), scale, self.xp, self.sparse,
                         shape, nnz)
        return new if scale >= MIN_SCALE else new._folded()

    def with_rows(self, E: Any, decay: float) -> KeptMatrix:
        return self._with(0, E, decay)

    def with_columns(self, E: Any, decay: float) -> KeptMatrix:
        return self._with(1, E, decay)

    def stacked(self) -> Any:
        """``M`` (without ``scale``) as one matrix; cached by collapsing the appends."""
        if self.appends:
            M = self.base
            i = 0
            while i < len(self.appends):
                # one stacking call per run of appends along the same axis
                axis = self.appends[i][0]
                j = i
                while j < len(self.appends) and self.appends[j][0] == axis:
                    j += 1
                M = self._stack([M] + [b for _, b in self.appends[i:j]], axis)
                i = j
            self.base, self.appends = M, ()
        return self.base

    def _stack(self, blocks: list, axis: int) -> Any:
        if self.sparse:
            import scipy.sparse as sp

            blocks = [b.matrix() if isinstance(b, _SparseBlock) else b for b in blocks]
            return (sp.vstack if axis == 0 else sp.hstack)(blocks, format="csr")
        return self.xp.concat(blocks, axis=axis)

    def matrix(self) -> Any:
        """The tracked matrix."""
        A = self.stacked()
        return A * self.scale if self.scale != 1.0 else A

    def _replaced(self, A: Any, scale: float) -> KeptMatrix:
        sparse = is_sparse(A)
        return KeptMatrix(A, (), scale, self.xp, sparse, tuple(A.shape),
                          int(A.nnz) if sparse else None)

    def _folded(self) -> KeptMatrix:
        return self._replaced(self.matrix(), 1.0)

    def plus_outer(self, D: Any, E: Any, decay: float) -> KeptMatrix:
        """``decay * A + D E^T``: stays sparse only when both factors are sparse."""
        scale = self.scale * decay
        f = 1.0 / scale
        if self.sparse and is_sparse(D) and is_sparse(E):
            new = self._replaced((self.stacked() + (D @ E.T) * f).tocsr(), scale)
        else:
            xp = self.xp
            A = self.stacked()
            A = xp.asarray(A.toarray()) if self.sparse else A
            Dd = xp.asarray(D.toarray()) if is_sparse(D) else D
            Ed = xp.asarray(E.toarray()) if is_sparse(E) else E
            new = self._replaced(A + (Dd @ Ed.mT) * f, scale)
        return new if scale >= MIN_SCALE else new._folded()

    def without(self, keep: Any, axis: int) -> KeptMatrix:
        """Rows (``axis=0``) or columns (``axis=1``) ``keep`` only."""
        A = self.stacked()
        if self.sparse:
            import numpy as np

            idx = np.asarray(keep)
            A = A[idx, :] if axis == 0 else A[:, idx]
            return self._replaced(A.tocsr(), self.scale)
        return self._replaced(self.xp.take(A, keep, axis=axis), self.scale)

    def copy(self) -> KeptMatrix:
        # Blocks are never written in place (every operation builds new ones): share them.
        return KeptMatrix(self.base, self.appends, self.scale, self.xp, self.sparse, self.shape,
                          self.nnz)
