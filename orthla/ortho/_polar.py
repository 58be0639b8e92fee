"""``polar``: the polar decomposition ``a = U H`` to working precision (QDWH, Newton-Schulz, SVD)."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from .._backend import array_namespace, as_array, capability, device, is_numpy
from .._validate import as_floating, check_bool, check_choice
from .._validate import check_finite as refuse_nonfinite  # the keyword `check_finite` shadows it
from .._validate import eps as machine_eps
from ._polar_common import check_matrix, herm, pow2_scale, real_dtype
from ._schedules import band as _band
from ._schedules import polar_express_coefficients

__all__ = ["PolarResult", "polar"]

METHODS = ("auto", "qdwh", "newton-schulz", "svd")
SIDES = ("right", "left")
#: QDWH switches from QR-based to Cholesky-based steps once the weight c_k is at most this.
QR_SWITCH = 100.0
#: Cap on QDWH iterations (6 suffice for l0 >= 1e-16; the cap only matters for bad estimates).
QDWH_MAXIT = 10
#: Cap on extra Newton-Schulz steps past the designed schedule.
NS_EXTRA = 12


class PolarResult(NamedTuple):
    """Polar decomposition ``a = U H`` (``side="right"``) or ``a = H U`` (``side="left"``).

    Unpacks like ``scipy.linalg.polar``: ``U, H = polar(a)``.

    Attributes
    ----------
    U : array, shape (..., m, n)
        Orthonormal columns (``m >= n``) or rows (``m < n``): ``U^H U = I`` or ``U U^H = I``.
    H : array, shape (..., n, n) for ``side="right"``, (..., m, m) for ``side="left"``
        Hermitian positive semidefinite, ``(a^H a)^{1/2}`` or ``(a a^H)^{1/2}``.
    """

    U: Any
    H: Any


def _eye_like(x, k, xp):
    return xp.eye(k, dtype=x.dtype, device=device(x))


def _sym(h, xp):
    return (h + herm(h, xp)) / 2


def _fro(x, xp):
    ab = xp.abs(x)
    return xp.sqrt(xp.sum(ab * ab, axis=(-2, -1)))


def _reference_embedding(t, xp):
    """``I_{p x q}``: the polar factor returned for a zero matrix."""
    p, q = t.shape[-2], t.shape[-1]
    e = xp.eye(p, q, dtype=t.dtype, device=device(t))
    return xp.broadcast_to(e, t.shape) * xp.ones_like(t)


def _svd(t, xp):
    if is_numpy(xp):
        try:
            import scipy.linalg as sla
        except ImportError:  # pragma: no cover
            sla = None
        if sla is not None and t.ndim == 2:
            return sla.svd(t, full_matrices=False, check_finite=False, lapack_driver="gesdd")
    return xp.linalg.svd(t, full_matrices=False)


def _polar_svd(t, xp):
    """Polar factor of a tall ``t`` (p >= q) by the SVD, with the deterministic completion.

    Returns ``(U, (W, S, Vh))``.  Singular values ``S <= q * eps * S_max`` count as zero.
    Full rank: ``U = W Vh``.  Rank ``r < q``: ``U = W_r Vh_r + U_c`` where ``U_c`` is the polar
    factor (top ``q - r`` singular triplets) of ``M = (I - W_r W_r^H) I_{p x q} (I - V_r V_r^H)``:
    it maps the null space of ``t`` onto the orthogonal complement of its range, and depends only
    on these subspaces, not on the bases LAPACK happened to return.  A zero matrix gives
    ``I_{p x q}``.
    """
    w, s, vh = _svd(t, xp)
    q = t.shape[-1]
    eps = machine_eps(real_dtype(t.dtype, xp), xp)
    smax = s[..., :1]
    keep = s > (q * eps) * smax  # (..., q)
    full = bool(xp.all(keep))  # one host sync
    if full:
        return w @ vh, (w, s, vh)
    kf = xp.astype(keep, t.dtype)
    wr = w * kf[..., None, :]
    vr = herm(vh, xp) * kf[..., None, :]  # q x q, columns V_r
    u_r = wr @ herm(vr, xp)
    e = _reference_embedding(t, xp)
    m = e - wr @ (herm(wr, xp) @ e)
    m = m - (m @ vr) @ herm(vr, xp)
    w2, _, vh2 = xp.linalg.svd(m, full_matrices=False)
    # Rounding in M tilts its singular vectors out of the complements by about eps / sigma(M);
    # projecting them back leaves an orthogonality error of only (eps / sigma(M))^2.
    w2 = w2 - wr @ (herm(wr, xp) @ w2)
    vh2 = vh2 - (vh2 @ vr) @ herm(vr, xp)
    need = q - xp.sum(xp.astype(keep, xp.int64), axis=-1)  # (...,)
    idx = xp.arange(q, device=device(t))
    take = xp.astype(idx < need[..., None], t.dtype)  # first q - r triplets
    u = u_r + (w2 * take[..., None, :]) @ vh2
    # Degenerate case: M has rank below q - r (the nilpotent [[0, 1], [0, 0]] gives M = 0), so
    # its "singular vectors" are arbitrary.  Where the completion is not orthonormal to working
    # precision, use the SVD's own singular vectors, U = W Vh, per matrix (no host sync).
    err = _fro(herm(u, xp) @ u - _eye_like(u, q, xp), xp)
    ok = (err <= (10 * q) * eps)[..., None, None]
    u = xp.where(ok, u, w @ vh)
    s = s * kf
    return u, (w, s, vh)


def _norm_bound(x, xp):
    """Upper bound of ||x||_2 per matrix: min(||x||_F, sqrt(||x||_1 ||x||_inf)), shape (..., 1, 1)."""
    ab = xp.abs(x)
    n1 = xp.max(xp.sum(ab, axis=-2), axis=-1)
    ninf = xp.max(xp.sum(ab, axis=-1), axis=-1)
    f = xp.sqrt(xp.sum(ab * ab, axis=(-2, -1)))
    return xp.minimum(f, xp.sqrt(n1 * ninf))[..., None, None]


def qdwh_weights(l: float) -> tuple[float, float, float]:
    """Dynamically weighted Halley parameters ``(a, b, c)`` for the lower bound ``l`` (NBG 2010, (3.14))."""
    l2 = l * l
    gamma = (4.0 * (1.0 - l2) / (l2 * l2)) ** (1.0 / 3.0)
    sg = math.sqrt(1.0 + gamma)
    a = sg + 0.5 * math.sqrt(max(8.0 - 4.0 * gamma + 8.0 * (2.0 - l2) / (l2 * sg), 0.0))
    b = (a - 1.0) ** 2 / 4.0
    c = a + b - 1.0
    return a, b, c


def qdwh_schedule(l0: float, eps: float) -> list[tuple[float, float, float]]:
    """The weights of every QDWH step, fixed in advance from the lower bound ``l0``.

    ``l_{k+1} = l_k (a_k + b_k l_k^2) / (1 + c_k l_k^2)`` bounds the smallest singular value of
    ``X_{k+1}`` from below (the largest stays at most 1), so the iteration stops when
    ``1 - l_k <= eps``.
    """
    out = []
    l = min(max(l0, 1e-300 ** 0.25), 1.0)
    while 1.0 - l > eps and len(out) < QDWH_MAXIT:
        a, b, c = qdwh_weights(l)
        out.append((a, b, c))
        l = min(l * (a + b * l * l) / (1.0 + c * l * l), 1.0)
    return out


def _spd_solve(z, rhs, xp):
    """``z^{-1} rhs`` for Hermitian positive definite ``z``: Cholesky through SciPy on NumPy
    matrices, the backend's general solve otherwise (the array API has no triangular solve)."""
    if is_numpy(xp) and z.ndim == 2:
        try:
            import scipy.linalg as sla
        except ImportError:  # pragma: no cover
            return xp.linalg.solve(z, rhs)
        return sla.cho_solve(sla.cho_factor(z, check_finite=False), rhs, check_finite=False)
    return xp.linalg.solve(z, rhs)


def _qdwh_square(r, xp):
    """QDWH on square (..., q, q) ``r``; returns the polar factor (not yet verified)."""
    q = r.shape[-1]
    eps = machine_eps(real_dtype(r.dtype, xp), xp)
    alpha = _norm_bound(r, xp)
    alpha = xp.where(alpha > 0, alpha, xp.ones_like(alpha))
    x = r / alpha
    # Lower bound of sigma_min(x): 1 / ||x^{-1}||_F <= sigma_min(x).
    try:
        inv = xp.linalg.inv(x)
        l0 = float(xp.min(1.0 / _fro(inv, xp)))  # one host sync
    except Exception:  # singular to working precision (LinAlgError, torch's RuntimeError)
        return None
    if not (l0 > 0 and math.isfinite(l0)):
        return None
    eye = _eye_like(x, q, xp)
    for a, b, c in qdwh_schedule(l0, eps):
        if c > QR_SWITCH:
            # [sqrt(c) X; I] = [Q1; Q2] R  ->  X = b/c X + (a - b/c)/sqrt(c) Q1 Q2^H
            stacked = xp.concat([math.sqrt(c) * x, xp.broadcast_to(eye, x.shape) * xp.ones_like(x)], axis=-2)
            qq, _ = xp.linalg.qr(stacked)
            q1, q2 = qq[..., :q, :], qq[..., q:, :]
            x = (b / c) * x + ((a - b / c) / math.sqrt(c)) * (q1 @ herm(q2, xp))
        else:
            # Z = I + c X^H X (Hermitian positive definite, cond <= 1 + c): X = b/c X + (a - b/c) X Z^{-1}
            z = eye + c * (herm(x, xp) @ x)
            x = (b / c) * x + (a - b / c) * herm(_spd_solve(z, herm(x, xp), xp), xp)
    return x


def _polar_qdwh(t, xp):
    """QDWH on a tall ``t``: one Householder QR ``t = Q R``, QDWH on the square ``R``, ``U = Q U_R``.

    A square ``t`` is iterated on directly (the QR would cost more than it saves).
    """
    if t.shape[-2] == t.shape[-1]:
        return _qdwh_square(t, xp)
    qf, r = xp.linalg.qr(t)
    ur = _qdwh_square(r, xp)
    return None if ur is None else qf @ ur


def newton_schulz_schedule(eps: float):
    """Polar Express quintics for ``[eps^(2/3), 1]``, as many as it takes for a band within ``eps`` of 1."""
    lower = eps ** (2.0 / 3.0)
    steps = 1
    while steps < 60:
        coefs = polar_express_coefficients(steps, lower=lower)
        lo, hi = _band(coefs, lower, 1.0, 1.01)
        if 1 - lo <= eps and hi - 1 <= eps:
            break
        steps += 1
    return coefs


def _polar_newton_schulz(t, xp):
    """Polar Express quintics designed for singular values in [eps^(2/3), 1], then limiting steps."""
    eps = machine_eps(real_dtype(t.dtype, xp), xp)
    coefs = newton_schulz_schedule(eps)
    f = _fro(t, xp)[..., None, None]
    x = t / (xp.where(f > 0, f, xp.ones_like(f)) * 1.01)
    q = t.shape[-1]
    eye = _eye_like(t, q, xp)

    def step(x, a, b, c):
        g = herm(x, xp) @ x  # q x q: the small side of a tall matrix
        return a * x + x @ (b * g + c * (g @ g))

    for a, b, c in coefs:
        x = step(x, a, b, c)
    tol = 10 * q * eps
    for _ in range(NS_EXTRA // 2):
        if float(xp.max(_fro(herm(x, xp) @ x - eye, xp))) <= tol:  # one sync per two steps
            return x
        for _ in range(2):
            x = step(x, 1.875, -1.25, 0.375)
    return x


@capability("ortho", numba=False, notes="svd on CPU backends, QDWH on GPUs for method='auto'")
def polar(a: Any, *, method: str = "auto", side: str = "right", check_finite: bool = True,
          xp: Any = None) -> PolarResult:
    r"""Polar decomposition ``a = U H`` with ``U`` orthonormal and ``H`` Hermitian PSD.

    Same convention and return as ``scipy.linalg.polar``, batched over leading axes.

    Parameters
    ----------
    a : array, shape (..., m, n)
        Real or complex matrix or stack of matrices.  Integer input is promoted to float64 (as
        in ``numpy.linalg``); float16 and boolean input are refused.
    method : {"auto", "qdwh", "newton-schulz", "svd"}
        ``"svd"``: ``U = W V^H``, ``H = V S V^H`` from the thin SVD ``a = W S V^H`` (the
        reference; LAPACK ``gesdd`` through SciPy on NumPy).  ``"qdwh"``: the QR-based
        dynamically weighted Halley iteration (Nakatsukasa, Bai, Gygi 2010), built from QR,
        linear solves and products only.  ``"newton-schulz"``: GEMM-only Polar Express quintics
        (see :func:`msign`) run to working precision.  ``"auto"``: ``"svd"`` on CPU arrays
        (NumPy, array_api_strict, torch on CPU: LAPACK is fastest there), ``"qdwh"`` on GPUs.
    side : {"right", "left"}
        ``"right"``: ``a = U H`` with ``H = (a^H a)^{1/2}`` (n x n).  ``"left"``: ``a = H U`` with
        ``H = (a a^H)^{1/2}`` (m x m).
    check_finite : bool
        Refuse NaN/inf input with a ``ValueError`` (one host synchronisation).
    xp : namespace, optional
        Array namespace of ``a`` (inferred by default).

    Returns
    -------
    PolarResult
        Named tuple ``(U, H)``; ``U`` has the shape of ``a``.

    Raises
    ------
    ValueError
        ``a`` has fewer than two axes or contains NaN/inf; unknown ``method`` or ``side``.
    TypeError
        ``a`` has a boolean, float16, object or other non-numeric dtype.

    Notes
    -----
    **Uniqueness.**  ``H`` is always unique; ``U`` is unique when ``a`` has full rank
    ``min(m, n)``.  For rank-deficient input (singular values at most
    ``min(m, n) * eps * sigma_max`` count as zero) this function returns a documented,
    basis-independent ``U``: on the range of ``a`` it is the partial isometry
    ``U_r V_r^H``, and it maps the null space onto the complement of the range by the polar
    factor of ``P_L I_{m x n} P_R`` (``P_L``, ``P_R`` the orthogonal projectors onto these
    complements, ``I_{m x n}`` the identity-like matrix).  In particular a **zero matrix gives
    ``U = I_{m x n}``** and ``H = 0`` (``scipy.linalg.polar`` returns whatever its SVD
    returned).  The completion is checked (``||U^H U - I||_F <= 10 min(m, n) eps``); in the
    degenerate case where ``P_L I P_R`` is itself rank-deficient on the complements (the
    nilpotent ``[[0, 1], [0, 0]]``: ``P_L I P_R = 0``) it fails, and that matrix gets
    ``U = W V^H`` from the SVD's own singular vectors.  This completion
    is what ``method="svd"`` (and ``"auto"`` on CPUs) returns.  The iterative methods are
    backward stable: on a numerically rank-deficient input they return a valid polar factor of a
    matrix within rounding of ``a`` (``U`` orthonormal, ``U H = a`` to working precision, the
    same ``U`` on the range of ``a``), but the part of ``U`` on the numerical null space is then
    set by rounding errors; an exactly singular ``R`` (or square ``a``), e.g. a zero input, sends them to
    the SVD route.

    **QDWH.**  For ``m > n`` (otherwise on ``a^H``): a Householder QR ``a = Q R`` first, then the
    iteration on the square ``R``, ``U = Q U_R``; square input is iterated on directly.  The estimates are
    ``alpha = min(||R||_F, (||R||_1 ||R||_inf)^{1/2}) >= ||R||_2`` (both are upper bounds, so
    ``X_0 = R / alpha`` has ``||X_0||_2 <= 1``) and ``l_0 = 1 / ||X_0^{-1}||_F <= sigma_min(X_0)``
    (an explicit inverse; it underestimates by at most ``sqrt(n)``, which
    costs at most part of one iteration).  The weights ``(a_k, b_k, c_k)`` and the bounds ``l_k``
    are computed on the host from ``l_0`` alone, so the loop has no synchronisation; steps with
    ``c_k > 100`` use the QR of ``[sqrt(c_k) X; I]``, later ones a solve with
    ``I + c_k X^H X`` (condition at most 101; Cholesky through SciPy on NumPy matrices, the
    backend's solve otherwise).  At most 6 iterations for ``l_0 >= 1e-16``
    (``kappa <= 1e16``).  The result is checked (``||U^H U - I||_F <= 10 n eps``); a failure
    (numerically rank-deficient input) falls back on the SVD route, so a non-orthonormal ``U``
    is never returned.

    **Newton-Schulz.**  Polar Express quintics designed for normalized singular values in
    ``[eps^{2/3}, 1]`` (21 steps in float64, 11 in float32), then limiting quintic steps checked
    every two steps (up to 12); it falls back on the SVD like QDWH.  GEMM-only but slow for
    ill-conditioned input: use it for ``kappa_F = ||a||_F / sigma_min`` up to about ``eps^{-2/3}``.

    Every matrix is scaled by a power of two near its largest entry on entry and ``H`` is scaled
    back, so results do not over- or underflow for entries between ``1e-300`` and ``1e300``.
    ``H`` is symmetrized, ``(H + H^H) / 2``.  Autograd (torch) works through ``method="svd"`` for
    inputs with distinct nonzero singular values.

    Accuracy (float64): ``||U - U_svd||_F <= 1e-13 kappa`` and ``||U^H U - I||_F <= 1e-14 n``
    for QDWH up to ``kappa = 1e16`` (tests).

    References
    ----------
    .. [1] Y. Nakatsukasa, Z. Bai, F. Gygi, "Optimizing Halley's iteration for computing the
       matrix polar decomposition", SIAM J. Matrix Anal. Appl. 31(5), 2010.
    .. [2] Y. Nakatsukasa, N. J. Higham, "Backward stability of iterations for computing the polar
       decomposition", SIAM J. Matrix Anal. Appl. 33(2), 2012.
    .. [3] N. J. Higham, *Functions of Matrices*, SIAM, 2008, ch. 8.

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.ortho import polar
    >>> u, h = polar(np.array([[1.0, -1.0], [2.0, 4.0]]), method="qdwh")
    >>> np.round(u @ h, 12)
    array([[ 1., -1.],
           [ 2.,  4.]])
    >>> polar(np.zeros((2, 3))).U
    array([[1., 0., 0.],
           [0., 1., 0.]])
    """
    a = as_array(a)  # lists to NumPy; masked arrays and np.matrix refused
    xp = array_namespace(a) if xp is None else xp
    check_choice(method, "method", METHODS)
    check_choice(side, "side", SIDES)
    check_finite = check_bool(check_finite, "check_finite")
    check_matrix(a, "a")
    try:
        is_numeric = xp.isdtype(a.dtype, "numeric")
    except Exception:
        is_numeric = False
    if not is_numeric:
        raise TypeError(f"`a` must have a real or complex floating (or integer) dtype; got {a.dtype}.")
    a = as_floating(a, "a", xp)
    m, n = a.shape[-2], a.shape[-1]
    dev = device(a)
    k = n if side == "right" else m
    batch = tuple(a.shape[:-2])
    if m == 0 or n == 0 or any(s == 0 for s in batch):
        return PolarResult(xp.zeros(a.shape, dtype=a.dtype, device=dev),
                           xp.zeros((*batch, k, k), dtype=a.dtype, device=dev))
    if check_finite:
        refuse_nonfinite(a, "a", xp)
    if method == "auto":
        method = "svd" if str(dev) == "cpu" or "cpu" in str(dev).lower() else "qdwh"

    x, s = pow2_scale(a, xp)
    if x.dtype != s.dtype:
        s = xp.astype(s, x.dtype)
    tall = m >= n
    t = x if tall else herm(x, xp)
    u = svd_parts = None
    if method == "qdwh":
        u = _polar_qdwh(t, xp)
    elif method == "newton-schulz":
        u = _polar_newton_schulz(t, xp)
    if u is not None:
        q = t.shape[-1]
        err = float(xp.max(_fro(herm(u, xp) @ u - _eye_like(u, q, xp), xp)))  # one host sync
        if not err <= 10 * q * machine_eps(real_dtype(t.dtype, xp), xp):
            u = None  # rank-deficient to working precision (or a bad estimate): use the SVD
    if u is None:
        u, svd_parts = _polar_svd(t, xp)
    uf = u if tall else herm(u, xp)
    if svd_parts is not None:
        w, sv, vh = svd_parts
        # t = W S Vh; t = x (tall) or x^H (wide).  H_right = (x^H x)^{1/2}, H_left = (x x^H)^{1/2}.
        right_from_v = tall == (side == "right")
        if right_from_v:
            h = (herm(vh, xp) * sv[..., None, :]) @ vh
        else:
            h = (w * sv[..., None, :]) @ herm(w, xp)
    elif side == "right":
        h = herm(uf, xp) @ x
    else:
        h = x @ herm(uf, xp)
    h = _sym(h, xp) * s
    return PolarResult(uf, h)
