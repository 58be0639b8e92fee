"""Orthogonal Procrustes (rotation, similarity transform), batched, and its generalized form."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._backend import array_namespace, capability, device, is_numpy, numba_available
from .._validate import check_bool, check_finite, check_int, check_real, eps
from ._procrustes_small import MAX_N, signed_svd_small
from ._qr_common import (
    as_matrix_stack,
    herm,
    host_float,
    max_abs,
    pow2,
    pow2_exponent,
    real_dtype,
    safe_exponent,
)

__all__ = ["GeneralizedProcrustesResult", "ProcrustesResult", "generalized_procrustes", "procrustes"]

#: Stacks of at least this many problems of order 2..4 take the vectorized Jacobi SVD of
#: ``_procrustes_small`` (Numba on NumPy) instead of the backend's batched LAPACK SVD, whose
#: per-matrix overhead dominates at that size.
SMALL_BATCH = 32

#: The residual comes from ``||a||^2 - 2 tr + ||b||^2`` unless that is below this fraction of
#: ``||a||^2 + ||b||^2`` (then cancellation would cost more than 4 digits: computed directly).
_CANCEL = 1e-4


@dataclass(frozen=True)
class ProcrustesResult:
    """Result of :func:`procrustes`: ``b ≈ scale * a @ R + translation``.

    Attributes
    ----------
    R : array, shape (..., n, n)
        Orthogonal (unitary for complex input); ``det R = +1`` with ``rotation=True``.
    scale : array, shape (...)
        Similarity scale factor (ones unless ``scale=True``).  Not SciPy's ``scale``,
        which is the sum of singular values of ``a^H b``.
    translation : array, shape (..., n)
        Row vector added to every row of ``scale * a @ R`` (zeros unless ``center=True``).
    residual : array, shape (...)
        ``||scale * a @ R + translation - b||_F``, real.
    """

    R: Any
    scale: Any
    translation: Any
    residual: Any


@dataclass(frozen=True)
class GeneralizedProcrustesResult:
    """Result of :func:`generalized_procrustes`.

    Attributes
    ----------
    aligned : array, shape (k, m, d)
        ``scale[i] * shapes[i] @ R[i] + translation[i]``, the configurations in the frame of
        the mean.
    mean : array, shape (m, d)
        Mean of ``aligned`` (the consensus configuration).
    R : array, shape (k, d, d)
        Orthogonal (``det +1`` with ``rotation=True``) matrices.
    scale : array, shape (k,)
        Scale factors (ones unless ``scale=True``).
    translation : array, shape (k, d)
        Translations (zeros unless ``center=True``).
    residual : float
        ``sqrt(sum_i ||aligned[i] - mean||_F^2)`` at the returned point (the square root of
        the objective, so that it scales like the input).
    iterations : int
        Alignment rounds run.
    converged : bool
        Whether the relative change of the mean fell below ``tol`` within ``max_iter``
        rounds.  ``False`` is a report, not an error: the fields hold the last round.
    """

    aligned: Any
    mean: Any
    R: Any
    scale: Any
    translation: Any
    residual: float
    iterations: int
    converged: bool


# ---------------------------------------------------------------- procrustes

@capability("ortho", numba=False)
def procrustes(a: Any, b: Any, *, rotation: bool = False, scale: bool = False,
               center: bool = False) -> ProcrustesResult:
    """Orthogonal Procrustes: the orthogonal ``R`` minimizing ``||a R - b||_F``, batched.

    Parameters
    ----------
    a, b : array_like, shape (..., m, n)
        Point sets as rows (``m`` points in ``n`` dimensions), or stacks of them: leading
        axes are a batch and broadcast against each other.  Arrays of one array-API
        library (NumPy, CuPy, torch, array_api_strict); integers are promoted to float64;
        complex input gives a unitary ``R``.  They are never modified.
    rotation : bool, default False
        Restrict ``R`` to rotations (``det R = +1``, real input only): when the
        orthogonal optimum is a reflection, the singular vector pair of the smallest
        singular value of ``a^H b`` changes sign (Kabsch, Umeyama), which is optimal
        among rotations in any dimension.
    scale : bool, default False
        Also fit a scale factor ``s >= 0`` (``b ≈ s a R``), Umeyama's least squares
        similarity transform.
    center : bool, default False
        Also fit a translation (``b ≈ s a R + t``): both point sets are centered first.

    Returns
    -------
    ProcrustesResult
        ``R`` (..., n, n), ``scale`` (...), ``translation`` (..., n), ``residual`` (...),
        arrays of the input's library on its device.

    Raises
    ------
    TypeError
        Boolean, object or float16 dtypes; ``a`` and ``b`` from different libraries;
        complex input with ``rotation=True``; ``rotation``, ``scale`` or ``center`` not
        ``True``/``False``.
    ValueError
        Fewer than two axes, different point-set shapes ``(m, n)``, batch shapes that do
        not broadcast, NaN/inf entries, or no points (``m = 0`` with ``n > 0``).

    Notes
    -----
    With ``M = a_c^H b_c = U S V^H`` (``a_c``, ``b_c`` centered when ``center=True``),
    ``R = U D V^H`` with ``D = I``, or ``D = diag(1, ..., 1, det(U V^H))`` when
    ``rotation=True``; ``s = tr(S D) / ||a_c||_F^2`` (0 when ``a_c = 0``) and
    ``t = mean(b) - s mean(a) R`` [1]_, [2]_, [3]_.  This is
    :func:`scipy.linalg.orthogonal_procrustes`'s ``R``.  The SVD is the backend's batched
    one (LAPACK gesdd, through SciPy for a single NumPy problem; cuSOLVER on CuPy/torch-CUDA), so
    100 000 problems of 3 x 3 are one call (stacks of at least 32 problems of order 2 to 4 use a
    one-sided Jacobi SVD instead: a Numba kernel on NumPy, vectorized array operations
    elsewhere, see ``_procrustes_small``); autograd flows through it on torch where the singular values
    of ``M`` are distinct.  ``R`` is unique when the singular values of ``M`` are
    positive (with ``rotation=True``: when the smallest one is simple).  ``a`` and ``b``
    are each scaled by a power of two on entry (exact), so ``2**±500``-scaled input
    behaves like unscaled.  The residual is ``sqrt(s^2 ||a_c||^2 - 2 s tr(S D) +
    ||b_c||^2)`` (no extra product) unless that cancels by more than four digits, in
    which case it is computed directly.  Cost: ``2 m n^2`` for ``M`` plus the SVD
    (``~20 n^3``).

    References
    ----------
    .. [1] P. H. Schönemann, "A generalized solution of the orthogonal Procrustes problem",
       Psychometrika 31 (1966), 1-10.
    .. [2] W. Kabsch, "A solution for the best rotation to relate two sets of vectors",
       Acta Cryst. A32 (1976), 922-923.
    .. [3] S. Umeyama, "Least-squares estimation of transformation parameters between two
       point patterns", IEEE Trans. PAMI 13 (1991), 376-380.

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.ortho import procrustes
    >>> a = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    >>> r90 = np.array([[0.0, 1.0], [-1.0, 0.0]])
    >>> res = procrustes(a, 2.0 * a @ r90 + [3.0, 4.0], scale=True, center=True)
    >>> np.round(res.R, 12) + 0.0, np.round(res.scale, 12), np.round(res.translation, 12)
    (array([[ 0.,  1.],
           [-1.,  0.]]), np.float64(2.0), array([3., 4.]))
    """
    xp = array_namespace(a, b)
    a = as_matrix_stack(a, "a", xp, finite=False)
    b = as_matrix_stack(b, "b", xp, finite=False)
    if a.shape[-2:] != b.shape[-2:]:
        raise ValueError(
            f"`b` must have the point-set shape (m, n) of `a`; got `a` of shape {tuple(a.shape)} "
            f"and `b` of shape {tuple(b.shape)}."
        )
    try:
        batch = np.broadcast_shapes(tuple(a.shape[:-2]), tuple(b.shape[:-2]))
    except ValueError:
        raise ValueError(
            f"the batch shapes of `a` {tuple(a.shape[:-2])} and `b` {tuple(b.shape[:-2])} "
            "do not broadcast."
        ) from None
    rotation, scale, center = (check_bool(x, k) for x, k in ((rotation, "rotation"), (scale, "scale"),
                                                       (center, "center")))
    cplx = xp.isdtype(a.dtype, "complex floating") or xp.isdtype(b.dtype, "complex floating")
    if rotation and cplx:
        raise TypeError("`a` and `b` must be real with rotation=True (det R = +1 is a real notion); "
                        f"got dtypes {a.dtype} and {b.dtype}.")
    dt = xp.result_type(a, b)
    a, b = xp.astype(a, dt, copy=False), xp.astype(b, dt, copy=False)
    m, n = a.shape[-2], a.shape[-1]
    dev = device(a)
    rdt = real_dtype(dt, xp)
    if m == 0 and n > 0:
        raise ValueError(f"`a` and `b` must hold at least one point (row); got shape {tuple(a.shape)}.")
    if n == 0 or math.prod(batch) == 0:
        return ProcrustesResult(xp.zeros((*batch, n, n), dtype=dt, device=dev),
                                xp.ones(batch, dtype=rdt, device=dev),
                                xp.zeros((*batch, n), dtype=dt, device=dev),
                                xp.zeros(batch, dtype=rdt, device=dev))

    if (not cplx and 2 <= n <= MAX_N and math.prod(batch) >= SMALL_BATCH and is_numpy(xp)
            and numba_available()):
        out = _numba_batch(a, b, batch, rotation, scale, center, xp)
        if out is not None:
            return out

    ea = pow2_exponent(max_abs(a, xp, "a"), xp)
    eb = pow2_exponent(max_abs(b, xp, "b"), xp)
    scaled = max(host_float(xp.max(xp.abs(ea))), host_float(xp.max(xp.abs(eb)))) > safe_exponent(dt, xp)
    if scaled:
        a = a * xp.astype(pow2(-ea, xp, a), dt)
        b = b * xp.astype(pow2(-eb, xp, b), dt)
    else:
        ea, eb = xp.zeros_like(ea), xp.zeros_like(eb)
    ea, eb = ea[..., 0, 0], eb[..., 0, 0]           # shape (...) of each input's batch

    if center:
        mu_a = xp.mean(a, axis=-2, keepdims=True)
        mu_b = xp.mean(b, axis=-2, keepdims=True)
        a, b = a - mu_a, b - mu_b
    mt = herm(a, xp) @ b
    small = None
    if not cplx and 2 <= n <= MAX_N and math.prod(batch) >= SMALL_BATCH:
        small = signed_svd_small(mt, xp)
    if small is not None:
        # M = U diag(s) V^T with U, V rotations and only s[-1] possibly negative (Kabsch form).
        u, s, v = small
        if rotation:
            r = u @ xp.matrix_transpose(v)
            tr = xp.sum(s, axis=-1)
        else:
            last = xp.where(s[..., -1] < 0, -xp.ones_like(s[..., -1]), xp.ones_like(s[..., -1]))
            ones = xp.ones((*last.shape, n - 1), dtype=rdt, device=dev)
            dvec = xp.concat([ones, last[..., None]], axis=-1)
            r = (u * dvec[..., None, :]) @ xp.matrix_transpose(v)
            tr = xp.sum(s * dvec, axis=-1)
    elif rotation:
        u, s, vh = _svd(mt, xp)
        d_last = xp.sign(xp.linalg.det(u) * xp.linalg.det(vh))
        d_last = xp.where(d_last == 0, xp.ones_like(d_last), d_last)
        ones = xp.ones((*d_last.shape, n - 1), dtype=rdt, device=dev)
        dvec = xp.concat([ones, d_last[..., None]], axis=-1)
        r = (u * xp.astype(dvec, dt)[..., None, :]) @ vh
        tr = xp.sum(s * dvec, axis=-1)
    else:
        u, s, vh = _svd(mt, xp)
        r = u @ vh
        tr = xp.sum(s, axis=-1)

    na2 = _sq_norm(a, xp)
    nb2 = _sq_norm(b, xp)
    one = xp.ones_like(tr)
    if scale:
        c_s = xp.where(na2 > 0, tr / xp.where(na2 > 0, na2, one), xp.zeros_like(tr))
        c_s = xp.maximum(c_s, xp.zeros_like(c_s))
        c = _unscale(c_s, eb - ea, xp, scaled, "scale")  # the scale in the units of the input
        alpha, beta, e_res = c_s, one, eb          # residual = 2**eb ||c_s a R - b||
    else:
        c = one
        e_res = xp.maximum(ea, eb)
        alpha, beta = pow2(ea - e_res, xp, a), pow2(eb - e_res, xp, a)
    alpha = alpha * xp.ones(batch, dtype=rdt, device=dev)
    beta = beta * xp.ones(batch, dtype=rdt, device=dev)
    res2 = alpha * alpha * na2 - 2.0 * alpha * beta * tr + beta * beta * nb2
    size2 = alpha * alpha * na2 + beta * beta * nb2
    if not bool(xp.all(res2 >= _CANCEL * size2)):
        diff = xp.astype(alpha, dt)[..., None, None] * (a @ r) - xp.astype(beta, dt)[..., None, None] * b
        res2 = _sq_norm(diff, xp)
    residual = _unscale(xp.sqrt(xp.maximum(res2, xp.zeros_like(res2))), e_res, xp, scaled,
                        "residual")

    if center:
        # t = mean(b) - c mean(a) R = 2**e_t (2**(eb - e_t) mu_b' - c' mu_a' R) with
        # (c', e_t) = (c_s, eb) when fitting the scale, else (2**(ea - e_t), max(ea, eb)): no
        # factor 2**(ea - eb), which overflows for a finite translation when |a| >> |b|.
        if scale:
            e_t, fb, ca = eb, one, c_s
        else:
            e_t = xp.maximum(ea, eb)
            fb, ca = pow2(eb - e_t, xp, a), pow2(ea - e_t, xp, a)
        fb = fb * xp.ones(batch, dtype=rdt, device=dev)
        ca = ca * xp.ones(batch, dtype=rdt, device=dev)
        t_s = xp.astype(fb, dt)[..., None, None] * mu_b - xp.astype(ca, dt)[..., None, None] * (mu_a @ r)
        translation = _unscale(t_s[..., 0, :], e_t[..., None] * xp.ones((*batch, 1), dtype=rdt, device=dev),
                               xp, scaled, "translation")
    else:
        translation = xp.zeros((*batch, n), dtype=dt, device=dev)
    c = c * xp.ones(batch, dtype=rdt, device=dev)
    r = r * xp.ones((*batch, 1, 1), dtype=dt, device=dev) if tuple(r.shape[:-2]) != batch else r
    return ProcrustesResult(r, c, translation, residual)


def _unscale(x: Any, e: Any, xp: Any, scaled: bool, what: str) -> Any:
    """``x * 2**e`` for moderate ``x`` (real or complex) and integer-valued real ``e`` (same batch
    shape); ``ValueError`` when the result overflows the dtype (then the true result is not
    representable either).  Without input scaling (``e = 0``) this is ``x`` itself."""
    if not scaled:
        return x
    fi = xp.finfo(real_dtype(x.dtype, xp))
    top = math.frexp(float(fi.max))[1]                      # 1024 in float64, 128 in float32
    ax = xp.abs(x)
    if ax.ndim > e.ndim:
        ax = xp.max(ax, axis=-1)
    ex = pow2_exponent(ax, xp)
    hi = xp.where(ax > 0, ex + e, xp.full_like(e, -math.inf))
    if host_float(xp.max(hi)) >= top:
        raise ValueError(
            f"the {what} of the fit overflows {x.dtype} (`a` and `b` differ in scale by about "
            f"2**{host_float(xp.max(e)):.0f}); rescale `a` or `b`."
        )
    # Three factors of at most 2**700 each: no intermediate overflow (the result is finite, and
    # the partial products move monotonically towards it).
    e1 = xp.trunc(e / 3.0)
    e2 = xp.trunc((e - e1) / 2.0)
    e3 = e - e1 - e2
    out = x
    for ek in (e1, e2, e3):
        f = pow2(ek, xp, x)
        out = out * (xp.astype(f, x.dtype) if xp.isdtype(x.dtype, "complex floating") else f)
    return out


def _svd(mt: Any, xp: Any) -> tuple[Any, Any, Any]:
    """Thin SVD of the (stack of) cross-covariance matrices; ``mt`` is a temporary."""
    if is_numpy(xp) and mt.ndim == 2:
        import scipy.linalg

        # SciPy's gesdd call is the one orthogonal_procrustes makes (8% less CPU than
        # numpy.linalg.svd at n = 2048, measured), and `mt` may be overwritten.
        return scipy.linalg.svd(mt, full_matrices=False, overwrite_a=True, check_finite=False)
    return xp.linalg.svd(mt, full_matrices=False)


def _numba_batch(a: Any, b: Any, batch: tuple, rotation: bool, scale: bool, center: bool,
                 xp: Any) -> ProcrustesResult | None:
    """Stacks of tiny problems on NumPy: one compiled pass per problem (no per-matrix LAPACK
    call, no batch-wide temporaries); None if Jacobi did not converge (the caller falls back)."""
    from ._procrustes_small import MAX_SWEEPS
    from ._procrustes_small_numba import procrustes_batch

    m, n = a.shape[-2], a.shape[-1]
    dt = a.dtype
    a64 = np.ascontiguousarray(np.broadcast_to(a, (*batch, m, n)).reshape(-1, m, n), dtype=np.float64)
    b64 = np.ascontiguousarray(np.broadcast_to(b, (*batch, m, n)).reshape(-1, m, n), dtype=np.float64)
    r, c, t, res, status = procrustes_batch(a64, b64, rotation, scale, center,
                                            n * float(np.finfo(np.float64).eps), MAX_SWEEPS)
    if status == 1:
        check_finite(a, "a", xp)
        check_finite(b, "b", xp)
    if status == 3:
        raise ValueError("the scale, translation or residual of the fit overflows float64 (`a` "
                         "and `b` differ too much in scale); rescale `a` or `b`.")
    if status != 0:
        return None
    rdt = real_dtype(dt, xp)
    if dt != np.float64 and (scale or center) and max(
            float(np.max(np.abs(c))), float(np.max(np.abs(t)))) > float(np.finfo(dt).max):
        raise ValueError(f"the scale or translation of the fit overflows {dt} (`a` and `b` differ "
                         "too much in scale); rescale `a` or `b`.")
    return ProcrustesResult(r.reshape((*batch, n, n)).astype(dt, copy=False),
                            c.reshape(batch).astype(rdt, copy=False),
                            t.reshape((*batch, n)).astype(dt, copy=False),
                            res.reshape(batch).astype(rdt, copy=False))


def _sq_norm(x: Any, xp: Any) -> Any:
    """``||x||_F^2`` per matrix (real)."""
    ax = xp.abs(x) if xp.isdtype(x.dtype, "complex floating") else x
    return xp.sum(ax * ax, axis=(-2, -1))


# ---------------------------------------------------------------- generalized procrustes

@capability("ortho", numba=False)
def generalized_procrustes(shapes: Any, *, rotation: bool = False, scale: bool = False,
                           center: bool = True, max_iter: int = 100,
                           tol: float | None = None) -> GeneralizedProcrustesResult:
    """Generalized Procrustes analysis: align ``k`` configurations to their common mean.

    Parameters
    ----------
    shapes : array_like, shape (k, m, d)
        ``k >= 2`` configurations of ``m`` points in ``d`` dimensions (rows are points,
        in corresponding order).  Real; integers are promoted to float64.  Never modified.
    rotation : bool, default False
        Rotations only (``det R = +1``); otherwise reflections are allowed.
    scale : bool, default False
        Fit a scale factor per configuration.  The mean is then kept at the root mean
        square size of the centered inputs (otherwise every configuration could shrink
        towards zero).
    center : bool, default True
        Fit a translation per configuration (configurations are centered first).
    max_iter : int, default 100
        Most alignment rounds.
    tol : float, optional
        Stop when ``||mean_new - mean_old||_F <= tol ||mean_new||_F``.  Default:
        ``0.01 sqrt(eps)`` of the dtype (``1.5e-10`` in float64).

    Returns
    -------
    GeneralizedProcrustesResult
        Aligned configurations, their mean, per-configuration ``R``, ``scale``,
        ``translation``, the residual, the rounds run and a ``converged`` flag.
        Non-convergence within ``max_iter`` is reported by ``converged=False``.

    Raises
    ------
    TypeError
        Boolean, object, float16 or complex dtypes; non-integer ``max_iter``;
        ``rotation``, ``scale`` or ``center`` not ``True``/``False``.
    ValueError
        ``shapes`` not 3-D, fewer than two configurations, no points, NaN/inf entries;
        ``max_iter < 1``; ``tol`` not a finite number > 0.

    Notes
    -----
    Gower's iteration [1]_: start from the first (centered) configuration as the mean;
    each round aligns all ``k`` configurations to the current mean with one batched
    :func:`procrustes` call and replaces the mean by the average of the aligned
    configurations.  Each round lowers ``sum_i ||aligned_i - mean||^2``; the result is a
    stationary point (each ``R[i]`` solves the Procrustes problem onto ``mean``, and
    ``mean`` is the average), unique up to one orthogonal transformation of the whole
    (the frame of ``shapes[0]`` is kept).  One host synchronisation per round.  The input
    is scaled by one power of two on entry (exact).

    References
    ----------
    .. [1] J. C. Gower, "Generalized Procrustes analysis", Psychometrika 40 (1975), 33-51.

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.ortho import generalized_procrustes
    >>> base = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    >>> c, s = np.cos(0.3), np.sin(0.3)
    >>> turned = base @ np.array([[c, s], [-s, c]]) + 5.0
    >>> res = generalized_procrustes(np.stack([base, turned]), rotation=True)
    >>> res.converged, bool(np.allclose(res.aligned[0], res.aligned[1]))
    (True, True)
    """
    xp = array_namespace(shapes)
    x = as_matrix_stack(shapes, "shapes", xp, allow_complex=False, finite=False)
    if x.ndim != 3:
        raise ValueError(f"`shapes` must be a 3-D array (k, m, d) of k configurations; "
                         f"got ndim={x.ndim} (shape {tuple(x.shape)}).")
    k, m, d = x.shape
    if k < 2:
        raise ValueError(f"`shapes` must hold at least 2 configurations; got k={k} (shape {tuple(x.shape)}).")
    if m == 0 or d == 0:
        raise ValueError(f"`shapes` must hold at least one point in at least one dimension; "
                         f"got shape {tuple(x.shape)}.")
    max_iter = check_int(max_iter, "max_iter", low=1)
    if tol is None:
        tol = 0.01 * math.sqrt(eps(x.dtype, xp))
    tol = check_real(tol, "tol", low=0.0, low_open=True)
    rotation, scale, center = (check_bool(v, k) for v, k in ((rotation, "rotation"), (scale, "scale"),
                                                       (center, "center")))
    dt = x.dtype
    dev = device(x)

    amax = xp.max(max_abs(x, xp, "shapes"))
    e = pow2_exponent(amax, xp)
    big = host_float(xp.abs(e)) > safe_exponent(dt, xp)
    if big:
        x = x * pow2(-e, xp, x)
    mu = xp.mean(x, axis=-2, keepdims=True) if center else xp.zeros((k, 1, d), dtype=dt, device=dev)
    xc = x - mu
    if scale:
        rms = xp.sqrt(xp.mean(_sq_norm(xc, xp)))
    mean = xc[0, ...]
    converged = False
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007  (it is reported)
        res = procrustes(xc, mean, rotation=rotation, scale=scale)
        aligned = res.scale[:, None, None] * (xc @ res.R)
        new = xp.mean(aligned, axis=0)
        if scale:
            nn = xp.sqrt(_sq_norm(new, xp))
            new = new * (rms / xp.where(nn > 0, nn, xp.ones_like(nn)))
        change = host_float(xp.sqrt(_sq_norm(new - mean, xp)) / xp.maximum(xp.sqrt(_sq_norm(new, xp)),
                                                                        xp.asarray(1e-300, dtype=dt, device=dev)))
        mean = new
        if change <= tol:
            converged = True
            break
    res = procrustes(xc, mean, rotation=rotation, scale=scale)
    aligned = res.scale[:, None, None] * (xc @ res.R)
    resid = host_float(xp.sqrt(xp.sum(_sq_norm(aligned - mean[None, ...], xp))))
    # aligned_i = s_i (x_i - mu_i) R_i = s_i x_i R_i + t_i with t_i = -s_i mu_i R_i.
    trans = -(res.scale[:, None] * (mu @ res.R)[:, 0, :])
    if big:
        f = pow2(e, xp, x)
        aligned, mean, trans = aligned * f, mean * f, trans * f
        resid *= host_float(f)
    return GeneralizedProcrustesResult(aligned, mean, res.R, res.scale, trans, resid, it, converged)
