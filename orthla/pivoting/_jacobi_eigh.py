"""Jacobi eigenvalue algorithm (two-sided, and one-sided on the Cholesky factor)."""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import numpy as np

from .._backend import (
    array_namespace,
    capability,
    from_numpy,
    is_numpy,
    no_grad,
    select_engine,
    to_numpy,
)
from .._validate import (
    as_floating,
    check_choice,
    check_finite,
    check_int,
    check_square,
    check_symmetric,
    is_complex,
)
from ._jacobi_common import (
    PIVOTINGS,
    JacobiConvergenceWarning,
    JacobiInfo,
    checked_rng,
    default_tolerance,
    pow2_exponent,
    row_cyclic_rounds,
    row_cyclic_tasks,
    scale_pow2,
    sweep_rounds,
    underflow_floor,
    unscale,
)
from ._jacobi_onesided import cholesky_factor, one_sided_jacobi

__all__ = ["EighResult", "jacobi_eigh"]

METHODS = ("two-sided", "cholesky-one-sided")
PRECONDITIONERS = ("auto", "eigh", None)

# precondition="auto" starts from LAPACK's eigenvectors from this size on (below it the plain
# sweeps cost little; the small-matrix tests keep exercising them) ...
AUTO_MIN_N = 64
# ... and only on a matrix that is not graded: the spread of the diagonal (positive diagonal)
# or of the row norms (otherwise) at most this.  See `_is_graded`.
GRADED_SPREAD = 10.0


class EighResult(NamedTuple):
    """Result of :func:`jacobi_eigh`: ``a @ eigenvectors = eigenvectors * eigenvalues``.

    Attributes
    ----------
    eigenvalues : array, shape (n,)
        Real eigenvalues in ascending order.
    eigenvectors : array, shape (n, n), or None
        Orthonormal eigenvectors as columns (``None`` when ``eigvals_only=True``).
    info : JacobiInfo
        Sweeps, rotations, final relative off-diagonal measure, convergence flag.
    """

    eigenvalues: Any
    eigenvectors: Any
    info: JacobiInfo


def relative_offdiag(a: Any, xp: Any, floor: float = 0.0) -> float:
    """``max_{i != j} |a_ij| / sqrt(max(|a_ii|, floor) max(|a_jj|, floor))``.

    Inf when a nonzero a_ij meets a zero denominator (possible only with ``floor = 0``);
    :func:`jacobi_eigh` passes :func:`~._jacobi_common.underflow_floor`.
    """
    n = a.shape[0]
    if n < 2:
        return 0.0
    absa = xp.abs(a)
    d = xp.sqrt(xp.clip(xp.abs(xp.real(xp.linalg.diagonal(a))), min=floor))
    den = d[:, None] * d[None, :]
    offmask = ~xp.eye(n, dtype=xp.bool, device=a.device)
    zero = xp.zeros_like(absa)
    hit = offmask & (absa > 0)
    if floor == 0 and bool(xp.any(hit & (den == 0))):
        return float("inf")
    ratio = xp.where(hit, absa / xp.where(den > 0, den, xp.ones_like(den)), zero)
    return float(xp.max(ratio))


def _is_graded(a: np.ndarray) -> bool:
    """Whether ``a`` (NumPy, Hermitian) may hold eigenvalues that only Jacobi gets to relative accuracy.

    With a positive diagonal the measure is ``max a_ii / min a_ii``: for positive definite
    ``a = D H D`` (``D^2 = diag(a)``) Jacobi's relative error is ``O(n eps kappa(H))`` and
    LAPACK's ``O(n eps kappa(a))``, and ``kappa(a) <= kappa(H) max a_ii / min a_ii``, so below
    ``GRADED_SPREAD`` a LAPACK start loses at most that factor of the bound.  Otherwise
    (indefinite, for which Jacobi's bound is ``O(eps ||a||)`` like LAPACK's) the spread of the
    row norms, so that graded indefinite matrices also keep the plain sweeps.
    """
    d = np.real(np.diagonal(a))
    if np.all(d > 0):
        return not d.max() <= GRADED_SPREAD * d.min()
    r = np.linalg.norm(a, axis=0)
    return not r.max() <= GRADED_SPREAD * r.min()


def _eigh_start(a, xp):
    """LAPACK's eigenvectors ``V0`` of ``a`` and ``B = V0^H a V0`` (Hermitian, nearly diagonal)."""
    cplx = is_complex(a, xp)
    _, v0 = xp.linalg.eigh(a)
    b = (xp.conj(v0.mT) if cplx else v0.mT) @ (a @ v0)
    b = (b + (xp.conj(b.mT) if cplx else b.mT)) / 2
    return b, v0


def _two_sided(a, tol, max_sweeps, pivoting, rng, want_v, use, xp, start=None):
    """Two-sided Jacobi on ``a``, or with ``start = (B, V0)`` on ``B = V0^H a V0`` with ``V = V0 J``."""
    n = a.shape[0]
    cplx = is_complex(a, xp)
    if start is not None:
        a = start[0]
    floor = underflow_floor(a.dtype, xp)
    rotations, sweeps = 0, 0
    # cyclic on NumPy is the row-cyclic order (8% fewer rotations than the tiled round-robin
    # at n = 500): the Numba engine takes it in column blocks, the xp engine by anti-diagonals,
    # the same rotations.  Other libraries (GPUs) keep the round-robin's n/2-pair batches.
    if use == "numba":
        from ._jacobi_numba import relative_offdiag as offdiag
        from ._jacobi_numba import two_sided_pairs, two_sided_tasks

        w = np.array(to_numpy(a, name="a"), order="F", copy=True)
        if not want_v:
            v = np.zeros((0, 0), dtype=w.dtype)
        elif start is not None:
            v = np.array(to_numpy(start[1], name="a"), order="F", copy=True)
        else:
            v = np.eye(n, dtype=w.dtype, order="F")
        tasks = row_cyclic_tasks(n)[1:] if pivoting == "cyclic" else None
        off = float(offdiag(w, floor))
        while off > tol and sweeps < max_sweeps:
            if tasks is not None:
                rotations += int(two_sided_tasks(w, v, *tasks, tol, floor, want_v))
            else:
                rounds = sweep_rounds(n, pivoting, rng)
                ps = np.concatenate([r[0] for r in rounds]).astype(np.int64)
                qs = np.concatenate([r[1] for r in rounds]).astype(np.int64)
                rotations += int(two_sided_pairs(w, v, ps, qs, tol, floor, want_v))
            sweeps += 1
            off = float(offdiag(w, floor))
        lam = from_numpy(np.ascontiguousarray(np.real(np.diag(w))), xp, like=a)
        vec = from_numpy(np.ascontiguousarray(v), xp, like=a) if want_v else None
    else:
        from ._jacobi_xp import Layout, two_sided_round

        w = xp.asarray(a, copy=True)
        if not want_v:
            v = None
        elif start is not None:
            v = xp.asarray(start[1], copy=True)
        else:
            v = xp.eye(n, dtype=a.dtype, device=a.device)
        layout = Layout(n, xp, a.device)
        row_cyclic = pivoting == "cyclic" and is_numpy(xp)
        off = relative_offdiag(a, xp, floor)
        while off > tol and sweeps < max_sweeps:
            count = xp.zeros((), dtype=xp.int64, device=a.device)
            # the sweep's index arrays reach the device in one copy (Layout.sweep)
            for k, rel in layout.sweep(row_cyclic_rounds(n) if row_cyclic else sweep_rounds(n, pivoting, rng)):
                w = xp.take(xp.take(w, rel, axis=0), rel, axis=1)
                if v is not None:
                    v = xp.take(v, rel, axis=1)
                count = count + two_sided_round(w, v, k, tol, floor, cplx, xp)
            rotations += int(count)
            sweeps += 1
            off = relative_offdiag(w, xp, floor)
        back = layout.restore()
        lam = xp.take(xp.real(xp.linalg.diagonal(w)), back)
        vec = xp.take(v, back, axis=1) if want_v else None
    return lam, vec, JacobiInfo(off <= tol, sweeps, rotations, off, tol)


@capability("pivoting", numba=True)
def jacobi_eigh(a: Any, *, pivoting: str = "cyclic", method: str = "two-sided",
                precondition: str | None = "auto", tol: float | None = None, max_sweeps: int | None = None,
                eigvals_only: bool = False, rng: Any = None, engine: str = "auto") -> EighResult:
    """Eigenvalues and eigenvectors of a Hermitian matrix by the Jacobi method.

    Parameters
    ----------
    a : array_like, shape (n, n)
        Real symmetric or complex Hermitian matrix (indefinite allowed) of any
        array-API library; integer input is promoted to float64.  Never modified.
    pivoting : {"cyclic", "random", "random-sweep"}, default "cyclic"
        Order of the pivot pairs.  ``"cyclic"`` visits every pair once per sweep row
        by row (on NumPy, taken in blocks of 16 columns so that the columns being
        rotated stay in cache; other libraries use a round-robin order whose rounds of
        n/2 disjoint pairs run as batches); ``"random-sweep"`` visits every pair once
        per sweep in a random order; ``"random"`` draws each pair uniformly at random.
    method : {"two-sided", "cholesky-one-sided"}, default "two-sided"
        ``"two-sided"`` rotates rows and columns of ``a``.  ``"cholesky-one-sided"``
        (positive definite input only) factors ``a = L L^H`` and orthogonalizes the
        columns of ``L`` by one-sided Jacobi (Veselic-Hari); eigenvalues are the
        squared column norms.  On NumPy the sweeps run as in :func:`jacobi_svd` on
        ``L^H`` (QR with column pivoting, a second QR, Jacobi without accumulated
        rotations, eigenvectors by a triangular solve; 5-7x faster on graded input).
    precondition : {"auto", "eigh", None}, default "auto"
        Starting basis of two-sided Jacobi.  ``"eigh"``: LAPACK's eigenvectors ``V0``
        (``xp.linalg.eigh``), then Jacobi sweeps on ``V0^H a V0`` with the rotations
        accumulated into ``V0``; the matrix is nearly diagonal, so one or two sweeps (few
        rotations) meet the same relative stopping rule.  Accuracy is then LAPACK's,
        ``O(n eps ||a||)`` in every eigenvalue, not the relative accuracy of the plain sweeps
        on graded matrices.  ``None``: plain sweeps on ``a``.  ``"auto"``: ``"eigh"`` for
        NumPy input with ``n >= 64`` that is not graded (see Notes), otherwise ``None``.
        Applies to ``method="two-sided"`` only.
    tol : float, optional
        Relative stopping rule: two-sided Jacobi stops when
        ``max |a_ij| / sqrt(|a_ii a_jj|) <= tol``, one-sided when the cosine of every
        pair of columns is at most ``tol``.  Default ``sqrt(n) * eps`` of the dtype.
        Being relative, it does not depend on the scale of ``a``.
    max_sweeps : int, optional
        Sweeps (n(n-1)/2 pivot steps each) before giving up; default 50.
    eigvals_only : bool, default False
        Skip the eigenvectors (faster); ``eigenvectors`` is then ``None``.
    rng : numpy.random.Generator, int or None
        Randomness for the random pivotings (SPEC 7).
    engine : {"auto", "numba", "xp"}, default "auto"
        Numba kernel (NumPy input) or the batched array-API path (any backend).

    Returns
    -------
    EighResult
        ``(eigenvalues, eigenvectors, info)``; eigenvalues ascending and real,
        in the namespace and on the device of ``a``.

    Raises
    ------
    ValueError
        If ``a`` is not square, not Hermitian (the message gives the measured
        asymmetry), has NaN/Inf, or an option is invalid; also if an eigenvalue
        exceeds the largest float of the dtype (possible only for entries within a
        factor n of it).
    numpy.linalg.LinAlgError
        If ``method="cholesky-one-sided"`` and ``a`` is not positive definite
        (the message names the failing pivot).
    TypeError
        For a non-numeric dtype (float16 included), mixed array libraries, or a
        boolean ``max_sweeps``/``rng``.

    Warns
    -----
    JacobiConvergenceWarning
        If the tolerance is not met within ``max_sweeps`` (``info.converged`` is False).

    Notes
    -----
    Not differentiable: on torch the input is detached (the rotations are applied in place), so
    the outputs have ``requires_grad=False``; for gradients use ``torch.linalg.eigh``.

    Two-sided Jacobi applies plane rotations ``a <- J^H a J`` chosen to zero
    ``a_pq``; a rotation is skipped when ``|a_pq| <= tol sqrt(|a_pp a_qq|)``.  Each
    sweep costs about ``3 n^3`` flops (``6 n^3`` with eigenvectors); cyclic
    orderings converge quadratically, typically in 6-10 sweeps.  Random-pair
    pivoting needs about twice the rotations of cyclic pivoting.

    With the relative stopping rule, eigenvalues of a positive definite
    ``a = D H D`` (``D`` diagonal) are computed with relative error of order
    ``n eps kappa(H)``, independent of the grading ``D`` [1]_, whereas
    tridiagonalization-based solvers (LAPACK ``*syevd``) only guarantee an error
    ``eps ||a||``, which can destroy every small eigenvalue.  For indefinite input
    the absolute bound ``O(eps ||a||)`` holds.  The one-sided route on the Cholesky
    factor has the same relative accuracy for positive definite input [2]_.

    The LAPACK start (``precondition="eigh"``) costs one ``eigh``, two matrix products and
    one sweep that rotates few pairs (about 1.6-1.8x ``numpy.linalg.eigh`` at n = 500-1000
    with eigenvectors, against 15-18x for the plain sweeps), with LAPACK's absolute
    accuracy.  ``"auto"`` takes it only where that loses nothing the sweeps promise: the
    matrix counts as graded, and gets the plain sweeps, when its diagonal is positive and
    ``max a_ii / min a_ii > 10``, or otherwise when its row norms spread by more than 10.
    For positive definite ``a`` with ``D^2 = diag(a)`` and ``H = D^-1 a D^-1``,
    ``kappa(a) <= kappa(H) max a_ii / min a_ii``, so LAPACK's relative error
    ``O(n eps kappa(a))`` is then within a factor 10 of the Jacobi bound
    ``O(n eps kappa(H))``; for indefinite input both bounds are absolute.

    The method is homogeneous: ``a`` is scaled by a power of two (exactly) so that its
    largest entry lies in [0.5, 1), and the eigenvalues are scaled back, so any finite
    input works (``jacobi_eigh(a * 2**k)`` gives the eigenvalues of ``a`` times ``2**k``,
    bit for bit while ``a * 2**k`` stays in the normal range).  On the scaled matrix, a diagonal entry counts as at least
    ``floor = smallest_normal / eps`` (1e-292 in float64, 1e-31 in float32) in the
    rotation test and the stopping rule, so that an entry next to a zero diagonal gets a
    finite angle; entries below ``tol * floor`` times the largest one may be left.

    References
    ----------
    .. [1] J. Demmel, K. Veselic, "Jacobi's method is more accurate than QR",
       SIAM J. Matrix Anal. Appl. 13 (1992).
    .. [2] K. Veselic, V. Hari, "A note on a one-sided Jacobi algorithm",
       Numer. Math. 56 (1989).

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.pivoting import jacobi_eigh
    >>> a = np.array([[2.0, 1.0, 0.0], [1.0, 2.0, 1.0], [0.0, 1.0, 2.0]])
    >>> w, v, info = jacobi_eigh(a)
    >>> np.round(w, 6)
    array([0.585786, 2.      , 3.414214])
    >>> bool(np.allclose(a @ v, v * w)), info.converged
    (True, True)

    A graded positive definite matrix: the small eigenvalue keeps its digits.

    >>> d = np.array([1.0, 1e-10, 1e-20])
    >>> h = d[:, None] * np.array([[2.0, 1.0, 0.5], [1.0, 2.0, 1.0], [0.5, 1.0, 2.0]]) * d
    >>> w = jacobi_eigh(h, eigvals_only=True).eigenvalues
    >>> [f"{x:.6e}" for x in w]
    ['1.500000e-40', '1.500000e-20', '2.000000e+00']
    """
    xp = array_namespace(a)
    a = xp.asarray(a) if not hasattr(a, "shape") else a
    a = no_grad(a)  # rotations applied in place: not differentiable (see Notes)
    check_square(a, "a")
    a = as_floating(a, "a", xp)
    check_finite(a, "a", xp)
    check_choice(pivoting, "pivoting", PIVOTINGS)
    check_choice(method, "method", METHODS)
    check_choice(precondition, "precondition", PRECONDITIONERS)
    if precondition == "eigh" and method != "two-sided":
        raise ValueError(f"`precondition` 'eigh' applies to method='two-sided' only; got method={method!r}.")
    use = select_engine(engine, xp)
    n = a.shape[0]
    tol = default_tolerance(tol, n, a.dtype, xp)
    max_sweeps = 50 if max_sweeps is None else check_int(max_sweeps, "max_sweeps", low=1)
    rng = checked_rng(rng)
    # homogeneous: work on a * 2^-e (exact), largest entry in [0.5, 1); eigenvalues scale back
    exponent = pow2_exponent(a, xp)
    a = scale_pow2(a, -exponent, xp)
    check_symmetric(a, "a", xp)
    if method == "two-sided":
        if precondition == "auto":
            precondition = ("eigh" if is_numpy(xp) and n >= AUTO_MIN_N and not _is_graded(np.asarray(a))
                            else None)
        start = _eigh_start(a, xp) if precondition == "eigh" and n > 1 else None
        lam, vec, info = _two_sided(a, tol, max_sweeps, pivoting, rng, not eigvals_only, use, xp, start)
    else:
        lam, vec, info = _cholesky_one_sided(a, tol, max_sweeps, pivoting, rng, not eigvals_only, use, xp)
    if not info.converged:
        warnings.warn(
            f"jacobi_eigh did not converge in max_sweeps={max_sweeps} sweeps: relative "
            f"off-diagonal measure {info.off_norm:.3g} > tol={tol:.3g}.",
            JacobiConvergenceWarning, stacklevel=2)
    order = xp.argsort(lam)
    lam = unscale(xp.take(lam, order), exponent, xp, "eigenvalues")
    if vec is not None:
        vec = xp.take(vec, order, axis=1)
    return EighResult(lam, vec, info)


def _cholesky_one_sided(a, tol, max_sweeps, pivoting, rng, want_v, use, xp):
    low = cholesky_factor(a, xp, use)
    if is_numpy(xp) and a.shape[0] > 0:
        # a = L L^H = V S^2 V^H with L^H = U S V^H: jacobi_svd's dgejsv route on L^H (QRCP,
        # second QR, Jacobi without accumulated rotations, V by a triangular solve).  L^H = B D
        # with D the grading of a = D H D: QRCP is columnwise backward stable and one-sided
        # Jacobi on B D is accurate to O(n eps kappa(B)) [Drmac-Veselic], kappa(B)^2 = kappa(H)
        from ._jacobi_svd import _two_qr_svd

        lh = np.asarray(low).conj().T if is_complex(a, xp) else np.asarray(low).T
        out = _two_qr_svd(lh, pivoting, False, want_v, tol, max_sweeps, rng, use, xp)
        if not isinstance(out, JacobiInfo):
            _, s, vh, info = out
            vec = None if vh is None else np.ascontiguousarray(vh.conj().T if is_complex(a, xp) else vh.T)
            return xp.asarray(s * s), vec, info
        spent = out  # R1 too ill-conditioned for the solve: the unpreconditioned sweeps on L
        g, _, info = one_sided_jacobi(low, tol, max_sweeps, pivoting, rng, False, use, xp)
        info = info._replace(sweeps=spent.sweeps + info.sweeps, rotations=spent.rotations + info.rotations)
    else:
        g, _, info = one_sided_jacobi(low, tol, max_sweeps, pivoting, rng, False, use, xp)
    norms = xp.linalg.vector_norm(g, axis=0)
    lam = norms * norms
    vec = None
    if want_v:
        safe = xp.where(norms > 0, norms, xp.ones_like(norms))
        vec = g / xp.astype(safe, g.dtype)[None, :]
    return lam, vec, info
