"""Nearest Kronecker product (Van Loan-Pitsianis rearrangement and KPSVD)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from .._backend import array_namespace, capability, is_numpy
from .._validate import (
    as_floating,
    as_rng,
    check_choice,
    check_finite,
    check_int,
    check_ndim,
    check_rank,
    check_real,
)
from ._common import scalar

__all__ = ["NearestKron", "nearest_kron"]

METHODS = ("auto", "svd", "svds")


class NearestKron(NamedTuple):
    """Result of :func:`nearest_kron`: ``A ≈ sum_i kron(B[i], C[i])``.

    Attributes
    ----------
    B : array, shape (r, mb, nb)
    C : array, shape (r, mc, nc)
        Factors scaled so that ``||B[i]||_F = ||C[i]||_F = sqrt(s[i])``; the
        ``B[i]`` (and the ``C[i]``) are orthogonal in the Frobenius inner product.
    s : array, shape (r,)
        Kronecker singular values, descending.
    error : array, 0-d
        Relative Frobenius error ``||A - sum_i kron(B[i], C[i])||_F / ||A||_F``; real, in
        the namespace and on the device of ``A``.
    rank : int
        The number of terms kept, ``r`` (chosen by ``energy`` or ``rank="elbow"``, or given).
    criterion : array or None
        With ``rank="elbow"``: the elbow score of each candidate rank, shape
        ``(min(mb nb, mc nc),)``; ``criterion[r - 1]`` is the distance of the first discarded
        value ``s_{r+1}`` below the chord of the normalized spectrum (0 for the full rank),
        and ``rank`` is its first maximizer.  ``None`` otherwise.

    Notes
    -----
    ``rank`` and ``criterion`` were added after the first four fields and have defaults, so
    attribute access and indexing ``res[0]`` to ``res[3]`` are unchanged (unpacking into four
    names is not).
    """

    B: Any
    C: Any
    s: Any
    error: Any
    rank: int = 0
    criterion: Any = None


def _shape2(v, name):
    if not isinstance(v, Sequence) or isinstance(v, str) or len(v) != 2:
        raise ValueError(f"`{name}` must be a pair (rows, cols); got {v!r}.")
    try:
        return tuple(check_int(x, f"{name}[{i}]", low=1) for i, x in enumerate(v))
    except ValueError:
        raise ValueError(f"`{name}` must hold positive sizes; got {v!r}.") from None


def _fro_norm(a: np.ndarray) -> float:
    """``||a||_F`` in one pass over ``a`` (no copy) unless its squares may over- or underflow.

    The plain norm sums squares; when it comes out infinite, or so small that entries
    below ``sqrt(tiny)`` (whose squares underflow) could matter at ``eps`` relative
    accuracy, it is recomputed for ``a / max|a|`` (two more passes and a copy).  Single
    precision is summed in double (no over- or underflow there; a float32 sum of ``N``
    squares loses about ``sqrt(N) eps``, more than the svds error estimate can afford).
    """
    if a.dtype in (np.float32, np.complex64):
        return float(np.linalg.norm(a.astype(np.complex128 if a.dtype == np.complex64 else np.float64)))
    fi = np.finfo(a.dtype)
    with np.errstate(over="ignore", under="ignore"):  # detected below
        anorm = float(np.linalg.norm(a))
    if math.isfinite(anorm) and anorm >= 16 * math.sqrt(a.size * float(fi.tiny) / float(fi.eps)):
        return anorm
    amax = float(np.max(np.abs(a)))
    return amax * float(np.linalg.norm(a / amax)) if amax > 0 else 0.0


@capability("kron", numba=False, notes="svds path: NumPy only")
def nearest_kron(a: Any, shape_b: Sequence[int], shape_c: Sequence[int], *, rank: int | str | None = None,
                 energy: float | None = None, method: str = "auto", rng: Any = None,
                 elbow_scale: str = "log") -> NearestKron:
    """Best Kronecker-rank-``r`` approximation ``A ≈ sum_i kron(B_i, C_i)`` (KPSVD).

    Parameters
    ----------
    a : array, shape (mb * mc, nb * nc)
        Matrix to approximate, any array-API library; not modified.
    shape_b, shape_c : pair of int
        ``(mb, nb)`` and ``(mc, nc)``.
    rank : int or "elbow", optional
        Number of Kronecker terms, ``1 <= rank <= min(mb nb, mc nc)``, or ``"elbow"``: the
        rank at the elbow of the Kronecker singular-value curve (full SVD; see Notes and
        ``elbow_scale``).
    energy : float, optional
        Instead of ``rank``: the smallest ``r`` with ``sum_{i<r} s_i^2 >= energy ||A||_F^2``,
        ``0 < energy <= 1`` (full SVD).  Default when neither is given: ``rank=1``.
    method : {"auto", "svd", "svds"}, default "auto"
        ``"svd"``: full SVD of the rearranged matrix (any backend).
        ``"svds"``: ``scipy.sparse.linalg.svds`` for the leading ``rank`` triplets (NumPy
        only, ``rank < min`` of the rearranged shape).  ``"auto"``: ``"svds"`` on NumPy
        when ``rank`` is given, the rearranged matrix has both sides above 256 and
        ``3 rank`` below its smaller side; else ``"svd"``.
    rng : numpy.random.Generator or int, optional
        Seeds the ``svds`` starting vector (deterministic for a fixed seed).
    elbow_scale : {"log", "linear"}, default "log"
        Spectrum the elbow is found on (``rank="elbow"`` only): ``log10(s_i / s_1)`` (values
        below ``eps`` relative floored at ``eps``) or ``s_i / s_1``.

    Returns
    -------
    NearestKron
        ``B``, ``C``, ``s``, the relative ``error``, the ``rank`` kept and, for
        ``rank="elbow"``, the ``criterion`` values.

    Raises
    ------
    ValueError
        Shapes that do not multiply to ``a.shape``, both ``rank`` and ``energy``, an
        out-of-range ``rank``/``energy`` (NaN included), a string ``rank`` other than
        ``"elbow"``, ``rank="elbow"`` with ``method="svds"``, unknown ``method`` or
        ``elbow_scale``, NaN/Inf.
    TypeError
        ``method="svds"`` on non-NumPy input; a boolean, float16 or non-numeric ``a``;
        a size, ``rank`` or ``energy`` that is not a number (``True`` included).

    Notes
    -----
    Van Loan and Pitsianis [1]_: the rearrangement ``R(A)`` whose row ``(i, j)`` is the
    block ``A[i mc:(i+1) mc, j nc:(j+1) nc]`` flattened maps ``kron(B, C)`` to the rank-one
    ``vec(B) vec(C)^T``, so ``||A - sum kron(B_i, C_i)||_F = ||R(A) - sum vec(B_i) vec(C_i)^T||_F``
    and the truncated SVD of ``R(A)`` is optimal (Eckart-Young).  Error of rank ``r``:
    ``sqrt(sum_{i>r} s_i^2)``.  Cost: one copy of ``A`` plus a dense SVD
    ``O(mb nb (mc nc)^2)`` or ``svds`` (a few ``O(mn r)`` Lanczos sweeps).  With
    ``svds`` the error is ``sqrt(||A||^2 - sum s_i^2)``, accurate to about
    ``sqrt(eps) ||A||_F`` for tiny errors.  Norms and energies are computed relative to
    the largest singular value (or ``max|A|``), so entries near the overflow or underflow
    threshold (``2**+-500``) give the same relative error and rank; ``svds``, which works on
    ``R^H R``, gets ``R`` scaled by a power of two when ``||A||^2`` would over- or underflow,
    and its error estimate is summed in double precision (float32 input included).

    Elbow (``rank="elbow"``, as in SoKA [2]_): with ``p = min(mb nb, mc nc)`` values ``v_i``
    (``log10(s_i / s_1)`` or ``s_i / s_1``), the points ``P_i = ((i - 1) / (p - 1),
    (v_i - v_p) / (v_1 - v_p))`` lie in the unit square and the chord from ``P_1 = (0, 1)``
    to ``P_p = (1, 0)`` is ``x + y = 1``.  The score of rank ``r`` is the distance of the
    first discarded point below the chord, ``(1 - x_{r+1} - y_{r+1}) / sqrt(2)``, and the rank
    is the first maximizer: for a spectrum of ``r`` large values and a flat tail the first
    tail point sits deepest below the chord and ``r`` is chosen.  When no point is below the
    chord (``p <= 2``, a concave spectrum, a flat one -- ``s_p >= (1 - 100 p eps) s_1`` --
    or a zero matrix) every term is kept.

    References
    ----------
    .. [1] C. F. Van Loan, N. Pitsianis, "Approximation with Kronecker products",
       in Linear Algebra for Large Scale and Real-Time Applications (1993), 293-314.
    .. [2] SoKA, "SVD on Kronecker adaptation": KPSVD rank selection at the elbow of the
       Kronecker singular values, factors used to initialize Kronecker adapters.

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.kron import nearest_kron
    >>> b, c = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[0.0, 1.0, 1.0]])
    >>> res = nearest_kron(np.kron(b, c), (2, 2), (1, 3))
    >>> bool(np.allclose(np.kron(res.B[0], res.C[0]), np.kron(b, c))), bool(res.error < 1e-14)
    (True, True)

    The elbow of a spectrum with three strong terms and a noise floor:

    >>> rng = np.random.default_rng(0)
    >>> a = sum(np.kron(rng.standard_normal((4, 4)), rng.standard_normal((3, 3))) for _ in range(3))
    >>> res = nearest_kron(a + 1e-6 * rng.standard_normal((12, 12)), (4, 4), (3, 3), rank="elbow")
    >>> res.rank, res.B.shape, res.criterion.shape
    (3, (3, 4, 4), (9,))
    """
    xp = array_namespace(a)
    a = xp.asarray(a) if not hasattr(a, "shape") else a
    check_ndim(a, "a", 2)
    a = as_floating(a, "a", xp)
    check_finite(a, "a", xp)
    mb, nb = _shape2(shape_b, "shape_b")
    mc, nc = _shape2(shape_c, "shape_c")
    if tuple(a.shape) != (mb * mc, nb * nc):
        raise ValueError(f"`a` must have shape (mb*mc, nb*nc) = ({mb * mc}, {nb * nc}) for shape_b = "
                         f"{(mb, nb)} and shape_c = {(mc, nc)}; got {tuple(a.shape)}.")
    check_choice(method, "method", METHODS)
    check_choice(elbow_scale, "elbow_scale", ("log", "linear"))
    if rank is not None and energy is not None:
        raise ValueError("give either `rank` or `energy`, not both.")
    elbow = isinstance(rank, str)
    if elbow:
        if rank != "elbow":
            raise ValueError(f"`rank` must be a positive integer or 'elbow'; got {rank!r}.")
        if method == "svds":
            raise ValueError("`rank='elbow'` needs all Kronecker singular values; use method='svd' or 'auto'.")
        rank = None
    p, q = mb * nb, mc * nc
    kmax = min(p, q)
    if energy is not None:
        energy = check_real(energy, "energy")
        if not 0 < energy <= 1:
            raise ValueError(f"`energy` must be in (0, 1]; got {energy}.")
        if method == "svds":
            raise ValueError("`energy` needs all Kronecker singular values; use method='svd' or 'auto'.")
    elif rank is None and not elbow:
        rank = 1
    if rank is not None:
        rank = check_rank(rank, "rank", kmax, "min(mb*nb, mc*nc)")
    # R(A)[(i, j), (k, l)] = A[i mc + k, j nc + l]
    r = xp.reshape(xp.permute_dims(xp.reshape(a, (mb, mc, nb, nc)), (0, 2, 1, 3)), (p, q))
    criterion = None
    use_svds = method == "svds" or (method == "auto" and rank is not None and is_numpy(xp)
                                    and min(p, q) > 256 and 3 * rank < kmax)
    cplx = xp.isdtype(a.dtype, "complex floating")
    if use_svds:
        if not is_numpy(xp):
            raise TypeError(f"method='svds' needs NumPy input (scipy.sparse.linalg); got {xp.__name__}.")
        if rank >= kmax:
            raise ValueError(f"method='svds' needs rank < min(mb*nb, mc*nc) = {kmax}; got {rank}.")
        from scipy.sparse.linalg import svds

        gen = as_rng(rng)
        v0 = gen.standard_normal(kmax)
        anorm = _fro_norm(a)
        if anorm == 0:  # svds cannot start on the zero matrix; its best approximation is 0
            u, s, vh = np.zeros((p, rank), r.dtype), np.zeros(rank, r.real.dtype), np.zeros((rank, q), r.dtype)
        else:
            # svds works on R^H R, whose entries are ~ ||A||^2: scale R by a power of two
            # (exact) where that would over- or underflow, and scale s back.
            fi = np.finfo(r.dtype)
            e = 0 if float(fi.tiny) ** 0.25 <= anorm <= float(fi.max) ** 0.25 else math.frexp(anorm)[1]
            u, s, vh = svds(r if e == 0 else r * 2.0**-e, k=rank, v0=v0.astype(r.dtype))
            order = np.argsort(s)[::-1]
            u, s, vh = u[:, order], s[order], vh[order, :]
            # relative to ||A|| and in double precision: ||A||^2 itself may overflow, and the
            # error is the difference of two numbers near 1.
            rel2 = max(1.0 - float(np.sum((s.astype(np.float64) / math.ldexp(anorm, -e)) ** 2)), 0.0)
            if e:
                s = s * 2.0**e
        if anorm == 0:
            rel2 = 0.0
    else:
        u, s_all, vh = xp.linalg.svd(r, full_matrices=False)
        smax = scalar(s_all[0]) if kmax else 0.0
        # squares of s / s_max: the energies without over- or underflow
        s2 = (s_all / smax) ** 2 if smax > 0 else xp.zeros_like(s_all)
        if energy is not None:
            cum = np.cumsum(np.asarray([float(v) for v in s2]))
            # energy = 1 keeps every term (the cumulative sum can reach its total early by rounding).
            rank = kmax if energy >= 1 or cum[-1] == 0 else min(
                int(np.searchsorted(cum, energy * cum[-1])) + 1, kmax)
        elif elbow:
            rank, criterion = _elbow(s_all, smax, elbow_scale, xp)
        total = xp.sum(s2)  # on the device: the error needs no host read
        error = xp.sqrt(xp.sum(s2[rank:]) / xp.where(total > 0, total, xp.ones_like(total)))
        u, s, vh = u[:, :rank], s_all[:rank], vh[:rank, :]
    # Deterministic signs: the largest-magnitude entry of each vec(B_i) is real positive.
    idx = xp.argmax(xp.abs(u), axis=0)
    piv = xp.take_along_axis(u, xp.reshape(idx, (1, -1)), axis=0)[0, :]
    apiv = xp.abs(piv)
    phase = piv / xp.where(apiv > 0, apiv, xp.ones_like(apiv))  # a zero A has a zero u column
    root = xp.sqrt(s)
    if cplx:
        ub = u * (xp.conj(phase) * root)[None, :]
        vc = vh * (phase * root)[:, None]
    else:
        ub = u * (phase * root)[None, :]
        vc = vh * (phase * root)[:, None]
    bfac = xp.reshape(ub.mT, (rank, mb, nb))
    cfac = xp.reshape(vc, (rank, mc, nc))
    if use_svds:
        error = xp.asarray(math.sqrt(rel2), dtype=s.dtype)
    return NearestKron(bfac, cfac, s, error, int(rank), criterion)


def _elbow(s: Any, smax: float, scale: str, xp: Any) -> tuple[int, Any]:
    """Rank at the elbow of the descending values ``s`` and the score of every rank (see Notes)."""
    p = int(s.shape[0])
    zeros = xp.zeros((p,), dtype=s.dtype, device=s.device)
    if p <= 2 or smax <= 0:
        return p, zeros
    v = s / smax
    tiny = float(np.finfo(np.float32 if s.dtype == xp.float32 else np.float64).eps)
    if scalar(v[p - 1]) >= 1 - 100 * p * tiny:  # flat within rounding: no elbow
        return p, zeros
    if scale == "log":
        v = xp.log10(xp.where(v > tiny, v, xp.full_like(v, tiny)))
    span = v[0] - v[p - 1]
    y = (v - v[p - 1]) / span
    x = xp.arange(p, dtype=s.dtype, device=s.device) / (p - 1)
    below = (1 - x - y) / math.sqrt(2)  # distance below the chord x + y = 1
    crit = xp.concat([below[1:], zeros[:1]])  # rank r scores its first discarded point, r + 1
    best = int(xp.argmax(crit))
    if scalar(crit[best]) <= 0:  # nothing below the chord
        return p, crit
    return best + 1, crit
