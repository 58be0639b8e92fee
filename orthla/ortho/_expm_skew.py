"""The exponential parametrization ``Q = exp(S)`` of SO(d) by skew ``S``, and its principal logarithm."""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

from .._backend import device
from .._validate import eps
from ._param_base import OrthogonalParametrization
from ._qr_common import host_float
from ._skew import (
    SkewGenerated,
    check_orthogonal,
    check_skew,
    params_to_skew,
    random_params,
)

__all__ = ["ExpSkew", "expm_skew"]

# Higham (2005): diagonal Pade degree and the largest ||A||_1 for which it meets the unit roundoff.
PADE13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0,
          129060195264000.0, 10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0,
          40840800.0, 960960.0, 16380.0, 182.0, 1.0)
THETA13 = 5.371920351148152
PADE7 = (17297280.0, 8648640.0, 1995840.0, 277200.0, 25200.0, 1512.0, 56.0, 1.0)
THETA7_SINGLE = 3.925724783138660


def _pade(A: Any, xp: ModuleType, single: bool) -> Any:
    """Diagonal Pade approximant ``r_m(A) = (V - U)^{-1} (V + U)``; orthogonal for skew ``A``
    in exact arithmetic (``V - U = (V + U)^T``)."""
    eye = xp.eye(A.shape[-1], dtype=A.dtype, device=device(A))
    A2 = A @ A
    A4 = A2 @ A2
    A6 = A4 @ A2
    if single:
        b = PADE7
        U = A @ (b[7] * A6 + b[5] * A4 + b[3] * A2 + b[1] * eye)
        V = b[6] * A6 + b[4] * A4 + b[2] * A2 + b[0] * eye
    else:
        b = PADE13
        U = A @ (A6 @ (b[13] * A6 + b[11] * A4 + b[9] * A2) + b[7] * A6 + b[5] * A4 + b[3] * A2 + b[1] * eye)
        V = A6 @ (b[12] * A6 + b[10] * A4 + b[8] * A2) + b[6] * A6 + b[4] * A4 + b[2] * A2 + b[0] * eye
    return xp.linalg.solve(V - U, V + U)


def _expm(S: Any, xp: ModuleType, name: str = "S") -> Any:
    unit = eps(S.dtype, xp)
    single = unit > 1e-10
    theta = THETA7_SINGLE if single else THETA13
    n1 = host_float(xp.max(xp.max(xp.sum(xp.abs(S), axis=-2), axis=-1)))
    if not n1 < 1.0 / unit:
        raise ValueError(f"`{name}` is too large for its exponential to mean anything: ||S||_1 = {n1:.3g} >= "
                         f"1/eps = {1 / unit:.3g} (rotation angles beyond 1/eps radians are lost to rounding).")
    s = max(0, math.ceil(math.log2(n1 / theta))) if n1 > 0 else 0
    Q = _pade(S * (2.0**-s), xp, single)
    for _ in range(s):
        Q = Q @ Q
    # One Newton-Schulz polar step, Q (3I - Q^T Q) / 2: maps ||Q^T Q - I|| = delta to about
    # 3/4 delta^2, undoing the error the squarings doubled s times.
    return Q + 0.5 * (Q - Q @ (xp.matrix_transpose(Q) @ Q))


def expm_skew(S: Any) -> Any:
    """Matrix exponential of skew-symmetric ``S``: orthogonal to working precision, batched.

    Parameters
    ----------
    S : array, shape (..., d, d)
        Skew-symmetric matrices (``S^T = -S`` to ``100 d eps`` relative; the exact skew part is
        used).  Leading dimensions are a batch.

    Returns
    -------
    array, shape (..., d, d)
        ``exp(S)``, in ``SO(d)``.

    Raises
    ------
    ValueError
        If ``S`` is not skew-symmetric (the message gives ``max|S + S^T| / max|S|``), not square,
        empty, not finite, or so large (``||S||_1 >= 1/eps``) that the angles of the rotation are
        lost to rounding.
    TypeError
        If ``S`` is not a real floating (or integer) array.

    Notes
    -----
    Scaling and squaring [1]_ with the diagonal Pade approximant of degree 13 (float64) or 7
    (float32), ``S / 2^s`` with ``||S / 2^s||_1 <= theta_m``, followed by ``s`` squarings and one
    Newton-Schulz polar step ``Q (3I - Q^T Q)/2``.  For skew ``A`` the diagonal Pade approximant is
    ``(V + U)^T (V + U)^{-1}``-like: orthogonal in exact arithmetic; the squarings double the
    rounding in ``Q^T Q - I`` each time and the polar step removes it, so ``||Q^T Q - I||`` stays at
    a few ``d eps``.  The same ``s`` serves the whole batch (one host sync).  Cost: about
    ``(6 + s + 2) d^3``-flop matrix products and one LU solve per matrix.  Pure array-API code:
    differentiable on torch, no complex arithmetic, no eigen-decomposition (whose gradient is
    unstable at the repeated eigenvalue pairs ``+- i theta`` that skew matrices have).

    References
    ----------
    .. [1] N. J. Higham, "The scaling and squaring method for the matrix exponential revisited",
       SIAM J. Matrix Anal. Appl. 26(4), 2005.

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.ortho import expm_skew
    >>> Q = expm_skew(np.array([[0.0, -np.pi / 2], [np.pi / 2, 0.0]]))
    >>> np.round(Q, 12) + 0.0
    array([[ 0., -1.],
           [ 1.,  0.]])
    """
    S, xp = check_skew(S, "S")
    return _expm(S, xp)


def logm_orthogonal(Q: Any, name: str = "Q") -> tuple[Any, ModuleType]:
    """Principal logarithm of ``Q`` in SO(d) without eigenvalue ``-1``, by a real symmetric eigh.

    With ``C = (Q + Q^T)/2`` (eigenvalues ``cos phi``) and ``K = (Q - Q^T)/2`` (``+- i sin phi``),
    which commute, ``log Q = h(C) K`` for ``h(c) = arccos(c) / sqrt(1 - c^2) = phi / sin phi``.
    """
    Q, xp = check_orthogonal(Q, name)
    unit = eps(Q.dtype, xp)
    C = (Q + xp.matrix_transpose(Q)) * 0.5
    K = (Q - xp.matrix_transpose(Q)) * 0.5
    w, V = xp.linalg.eigh(C)
    w = xp.clip(w, -1.0, 1.0)
    gap = host_float(xp.min(1.0 + w))
    if gap <= math.sqrt(unit):
        raise ValueError(f"`{name}` has the eigenvalue -1 to working precision (min(1 + cos phi) = {gap:.3g} "
                         f"<= sqrt(eps)); its principal logarithm is not defined (always so when det = -1).")
    r = xp.sqrt(xp.clip((1.0 - w) * (1.0 + w), 0.0, None))
    pos = r > 0
    h = xp.where(pos, xp.atan2(r, w) / xp.where(pos, r, xp.ones_like(r)), xp.ones_like(r))
    H = (V * h[..., None, :]) @ xp.matrix_transpose(V)
    L = H @ K
    return (L - xp.matrix_transpose(L)) * 0.5, xp


class ExpSkew(SkewGenerated, OrthogonalParametrization):
    """Orthogonal ``Q = exp(S)`` from skew ``S`` (batched): the exponential map onto SO(d).

    Parameters
    ----------
    S : array, shape (..., d, d)
        Skew-symmetric generators (the skew part ``(S - S^T)/2`` is kept, a copy).

    Notes
    -----
    ``Q`` is formed once by :func:`expm_skew` (``O(d^3)``), cached, and applied by one GEMM
    (``2 d^2 k`` flops for ``k`` vectors); exactly orthogonal to working precision.  Every ``Q`` in
    SO(d) is reached; :meth:`from_matrix` returns the principal logarithm (eigenvalue angles in
    ``(-pi, pi)``).  On torch, build a new ``ExpSkew`` per forward pass: the cached ``Q`` belongs to
    one autograd graph.  Do not modify :meth:`matrix`'s result in place (it is the cache).

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.ortho import ExpSkew
    >>> E = ExpSkew.random(4, rng=0, scale=0.5)
    >>> x = np.ones((4, 3))
    >>> bool(np.allclose(E.apply(x), E.matrix() @ x))
    True
    >>> bool(np.allclose(ExpSkew.from_matrix(E.matrix()).skew, E.skew))
    True
    """

    def __init__(self, S: Any) -> None:
        S, xp = check_skew(S, "S")
        self._init(S, xp)

    def _init(self, S: Any, xp: ModuleType, name: str = "S") -> None:
        self._set_generator(S, xp, name)
        self._Q: Any = None

    @classmethod
    def from_params(cls, p: Any, d: int) -> ExpSkew:
        """From the ``d(d-1)/2`` strictly-lower-triangular entries ``p`` of ``S`` (shape ``(..., n)``).

        The order is ``numpy.tril_indices(d, -1)``'s, as in :meth:`Cayley.from_params`.

        Examples
        --------
        >>> import numpy as np
        >>> from orthla.ortho import ExpSkew
        >>> Q = ExpSkew.from_params(np.array([np.pi / 2]), 2).matrix()
        >>> np.round(Q, 12) + 0.0
        array([[ 0., -1.],
               [ 1.,  0.]])
        """
        S, xp = params_to_skew(p, d, "p")
        out = cls.__new__(cls)
        out._init(S, xp, "p")
        return out

    @classmethod
    def from_matrix(cls, Q: Any) -> ExpSkew:
        """The principal logarithm of ``Q`` in SO(d) without eigenvalue ``-1``.

        Computed by one real symmetric eigen-decomposition (``log Q = h(C) K``, see Notes of the
        module function ``logm_orthogonal``), on every backend.

        Raises
        ------
        ValueError
            If ``Q`` is not orthogonal (``max|Q^T Q - I| > sqrt(eps)``) or has the eigenvalue ``-1``
            to working precision (``1 + cos phi <= sqrt(eps)``; always when ``det Q = -1``).

        Examples
        --------
        >>> import numpy as np
        >>> from orthla.ortho import ExpSkew
        >>> c, s = np.cos(0.4), np.sin(0.4)
        >>> round(float(ExpSkew.from_matrix(np.array([[c, -s], [s, c]])).skew[1, 0]), 12)
        0.4
        """
        S, xp = logm_orthogonal(Q, "Q")
        out = cls.__new__(cls)
        out._init(S, xp)
        return out

    @classmethod
    def random(cls, d: int, *, batch_shape: tuple[int, ...] = (), scale: float = 1.0, rng: Any = None,
               dtype: Any = None, xp: Any = None) -> ExpSkew:
        """Seeded random generator: the ``d(d-1)/2`` parameters i.i.d. ``N(0, scale^2)``.

        Examples
        --------
        >>> from orthla.ortho import ExpSkew
        >>> ExpSkew.random(3, batch_shape=(2,), rng=1).shape
        (2, 3, 3)
        """
        d, p, xp = random_params(d, batch_shape, scale, rng, dtype, xp)
        return cls.from_params(p, d)

    def matrix(self) -> Any:
        """The dense ``Q = exp(S)``, shape ``batch_shape + (d, d)`` (formed once and cached)."""
        if self._Q is None:
            self._Q = _expm(self._S, self._xp, self._name)
        return self._Q

    def _apply(self, x: Any, transpose: bool) -> Any:
        xp = self._xp
        Q = self.matrix()
        Q = Q if Q.dtype == x.dtype else xp.astype(Q, x.dtype)  # x may be promoted past the dtype
        return (xp.matrix_transpose(Q) if transpose else Q) @ x
