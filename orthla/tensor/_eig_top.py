"""Leading eigenpairs (by magnitude) of a large symmetric matrix through LAPACK's tridiagonal form.

SPM needs every eigenvalue of its flattening (the rank choice reads the spectrum) but only the
R eigenvectors of largest |eigenvalue|.  ``numpy.linalg.eigh`` computes all N eigenvectors
(``dsyevd``: reduction to tridiagonal form, divide and conquer, back-transformation of N
vectors).  Here: ``dsytrd`` once, every eigenvalue from ``dstemr`` without vectors, then the
vectors of the two index ranges that hold the R largest magnitudes (``dstemr``, MRRR) and the
back-transformation of only those (``dormqr`` on the reflectors).  MRRR vectors are orthogonal
to about ``N eps`` only, so a Rayleigh-Ritz step on their span (QR, ``Q^T M Q``, its ``eigh``)
returns an orthonormal basis and Ritz values; ``V^T M V`` is then diagonal to rounding, as
from ``eigh``.  Measured at N = 1830, R = 400 (order 4, d = 60; one BLAS thread): 0.6 s instead
of 0.9 s; at R / N above about 0.2 (0.3 from N = 1500) ``eigh`` is as fast or faster, and is
used.  NumPy float64 only; the caller falls back to ``eigh`` when ``None`` is returned.
"""

from __future__ import annotations

import numpy as np

#: Smallest size worth the tridiagonal route (below it ``eigh`` is cheap enough).
MIN_SIZE = 500
#: Largest fraction R / N of wanted vectors, below and from ``LARGE`` (measured crossovers
#: with one BLAS thread: about 0.2 at N = 528-1275, about 0.33 at N = 1830, where ``eigh``'s
#: divide and conquer of all N vectors costs relatively more).
MAX_FRACTION, MAX_FRACTION_LARGE, LARGE = 0.2, 0.3, 1500


def max_vectors(N: int) -> int:
    """Most leading eigenvectors for which the tridiagonal route beats ``eigh`` at size N."""
    return int((MAX_FRACTION_LARGE if N >= LARGE else MAX_FRACTION) * N)


class Tridiagonal:
    """The tridiagonal form of a symmetric matrix and all its eigenvalues (ascending)."""

    def __init__(self, M: np.ndarray):
        from scipy.linalg import lapack

        self.lapack = lapack
        self.M = M
        N = M.shape[0]
        lwork = int(lapack.dsytrd_lwork(N, lower=1)[0])
        self.c, self.d, e, self.tau, info = lapack.dsytrd(M, lower=1, lwork=lwork)
        self.e = np.append(e, 0.0)  # dstemr wants length N
        if info != 0:
            raise np.linalg.LinAlgError(f"dsytrd info={info}")
        m, w, _, info = lapack.dstemr(self.d, self.e.copy(), 0, 0.0, 0.0, 1, N, compute_v=0)
        if info != 0 or m != N:
            raise np.linalg.LinAlgError(f"dstemr info={info}")
        self.values = np.sort(w[:N])

    def _vectors(self, lo: int, hi: int) -> np.ndarray:
        """Eigenvectors of the tridiagonal matrix for ascending indices lo..hi (1-based)."""
        m, _, z, info = self.lapack.dstemr(self.d, self.e.copy(), 2, 0.0, 0.0, lo, hi)
        if info != 0 or m != hi - lo + 1:
            raise np.linalg.LinAlgError(f"dstemr info={info}")
        return z[:, :m]

    def top(self, R: int) -> tuple[np.ndarray, np.ndarray] | None:
        """``(values, vectors)`` of the R largest |eigenvalues|, by decreasing magnitude;
        None when R exceeds ``max_vectors(N)`` or LAPACK fails (use ``eigh`` then)."""
        N = self.values.size
        if R > max_vectors(N):
            return None
        try:
            return self._top(R)
        except np.linalg.LinAlgError:
            return None

    def _top(self, R: int) -> tuple[np.ndarray, np.ndarray]:
        N = self.values.size
        order = np.argsort(-np.abs(self.values), kind="stable")[:R]
        neg = int(np.sum(self.values[order] < 0))
        parts = []
        if neg:
            parts.append(self._vectors(1, neg))
        if R - neg:
            parts.append(self._vectors(N - (R - neg) + 1, N))
        Z = np.concatenate(parts, axis=1)
        lapack = self.lapack
        lwork = int(lapack.dormqr("L", "N", self.c[1:, :-1], self.tau, Z[1:], -1)[1][0])
        QZ, _, info = lapack.dormqr("L", "N", self.c[1:, :-1], self.tau, Z[1:], max(lwork, 1))
        if info != 0:
            raise np.linalg.LinAlgError(f"dormqr info={info}")
        Z = np.vstack([Z[:1], QZ])
        # Rayleigh-Ritz on span(Z): orthonormal to rounding, V^T M V diagonal.
        Q, _ = np.linalg.qr(Z)
        K = Q.T @ (self.M @ Q)
        theta, Y = np.linalg.eigh((K + K.T) / 2)
        keep = np.argsort(-np.abs(theta), kind="stable")
        return theta[keep], Q @ Y[:, keep]


def tridiagonal_or_none(M: np.ndarray, rank: int | None = None) -> Tridiagonal | None:
    """The tridiagonal route for ``M`` when it applies (NumPy float64, N >= MIN_SIZE, a known
    ``rank`` at most ``max_vectors(N)``, SciPy importable and LAPACK succeeding), else None."""
    if not (isinstance(M, np.ndarray) and M.dtype == np.float64 and M.shape[0] >= MIN_SIZE):
        return None
    if rank is not None and rank > max_vectors(M.shape[0]):
        return None
    try:
        return Tridiagonal(np.ascontiguousarray(M))
    except (ImportError, np.linalg.LinAlgError):
        return None
