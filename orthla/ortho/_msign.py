"""``msign``: the approximate polar factor by odd-polynomial Newton-Schulz iterations (GEMMs only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._backend import array_namespace, as_array, capability, device
from .._validate import check_bool, check_choice
from .._validate import check_finite as refuse_nonfinite  # the keyword `check_finite` shadows it
from ._polar_common import check_matrix, herm, pow2_scale, real_dtype
from ._schedules import PE_LOWER, resolve_schedule

__all__ = ["MsignInfo", "msign"]

NORMS = ("fro", "schatten4")
#: Gram-side iteration: restart period (steps) and the aspect ratio from which "auto" uses it.
GRAM_RESTART = 2
GRAM_AUTO_RATIO = 4


@dataclass(frozen=True)
class MsignInfo:
    """Diagnostics of one :func:`msign` call.

    Attributes
    ----------
    schedule : str
        ``"muon"``, ``"polar-express"``, ``"cubic"`` or ``"custom"``.
    steps : int
        Polynomial steps taken.
    gemms : int
        Matrix products per matrix of the iteration (3 per quintic step, 2 per cubic step),
        not counting the diagnostics.
    band : tuple of float
        Guaranteed interval of the output singular values (exact arithmetic) for inputs whose
        normalized singular values ``sigma_i / ||a||_F`` lie in ``[1e-3, 1]``; computed by pushing
        the interval through every polynomial of the schedule.
    orthogonality : array
        ``||U U^H - I||_F`` on the smaller side, per matrix (shape ``a.shape[:-2]``), in the
        working precision.  Measures how far the *output* is from having all singular values 1.
    distance : array or None
        ``||U - polar(a)||_F / ||polar(a)||_F`` per matrix against the exact polar factor from an
        SVD in float64 (only with ``exact_distance=True``).  It also counts singular *vectors*:
        rounding in the iteration can rotate them, and singular values of ``a`` below the
        schedule's lower end are not yet mapped to 1, which ``orthogonality`` reports as well
        but ``distance`` weighs against the true factor.
    """

    schedule: str
    steps: int
    gemms: int
    band: tuple[float, float]
    orthogonality: Any
    distance: Any = None


def _floating_kind(a, xp):
    dt = a.dtype
    try:
        if xp.isdtype(dt, "real floating"):
            return "real"
        if xp.isdtype(dt, "complex floating"):
            return "complex"
        if xp.isdtype(dt, "bool"):
            return "bool"
        if xp.isdtype(dt, "integral"):
            return "int"
    except Exception:  # e.g. NumPy object or string dtypes
        pass
    return "other"


def _working_dtype(a, dtype, xp, kind):
    """(working dtype, output dtype, dtype used for norms)."""
    if kind == "int":
        out = xp.float64
    else:
        out = a.dtype
    low = kind in ("real", "complex") and xp.finfo(a.dtype).bits < 32
    if dtype is None:
        work = (xp.complex64 if kind == "complex" else xp.float32) if low else out
    else:
        try:
            ok = xp.isdtype(dtype, "real floating") or xp.isdtype(dtype, "complex floating")
        except Exception:
            ok = False
        if not ok:
            raise TypeError(f"`dtype` must be a floating dtype of the input's array library; got {dtype!r}.")
        if xp.isdtype(dtype, "complex floating") != (kind == "complex"):
            raise TypeError(
                f"`dtype` must be {'complex' if kind == 'complex' else 'real'} like `a` "
                f"(dtype {a.dtype}); got {dtype!r}."
            )
        work = dtype
    norm_dt = work if xp.finfo(work).bits >= 32 else (xp.complex64 if kind == "complex" else xp.float32)
    return work, out, norm_dt


def _fro(x, xp, norm_dt):
    """Frobenius norm per matrix, shape (..., 1, 1), accumulated in at least float32."""
    y = xp.astype(x, norm_dt) if x.dtype != norm_dt else x
    ab = xp.abs(y)
    return xp.sqrt(xp.sum(ab * ab, axis=(-2, -1), keepdims=True))


@capability("ortho", numba=False, notes="GEMM-only; bf16/fp16 input computed in float32 by default")
def msign(a: Any, *, steps: int | None = None, schedule: Any = "polar-express", dtype: Any = None,
          norm: str = "fro", gram: bool | str = False, check_finite: bool = True,
          return_info: bool = False, exact_distance: bool = False, xp: Any = None):
    r"""Approximate polar factor ``U V^H`` of ``a = U S V^H`` by odd-polynomial iterations.

    After normalizing ``X_0 = a / ||a||_F`` each step applies an odd polynomial to every
    singular value with matrix products only,
    ``X <- a_k X + (b_k G + c_k G^2) X`` with ``G = X X^H`` (the smaller Gram matrix), which
    drives the singular values towards 1 while keeping the singular vectors.  This is the
    orthogonalization inside Muon-type optimizers; for the exact polar decomposition to working
    precision use :func:`polar`.

    Parameters
    ----------
    a : array, shape (..., m, n)
        Matrix or stack of matrices (real or complex; on torch also bfloat16/float16).
        Integer input is promoted to float64, as in ``numpy.linalg``.
    steps : int, optional
        Number of polynomial steps (0 to 100).  Default: 8 for ``"polar-express"``, 5 for
        ``"muon"``, 24 for ``"cubic"``; for a user sequence, its length (a longer ``steps``
        repeats the last triple, a shorter one truncates).
    schedule : {"polar-express", "muon", "cubic"} or sequence of (a, b, c)
        ``"polar-express"``: the per-step minimax-optimal quintics of Amsel et al. (2025) for
        singular values in ``[1e-3, 1]``, with the paper's cushion and safety factor (the input is
        divided by ``1.01 ||a||_F``).  ``"muon"``: the fixed quintic ``(3.4445, -4.7750, 2.0315)``
        of the Muon reference.  ``"cubic"``: classical Newton-Schulz ``(1.5, -0.5)``.
        A sequence of triples ``(a, b, c)`` (or pairs ``(a, b)`` for cubic steps) is used as
        given, one per step.
    dtype : dtype, optional
        Working precision of the products.  Default: the input's dtype, float32 for
        bfloat16/float16 input (complex64 for low-precision complex).  Norms are always
        accumulated in at least float32.  The result has the input's dtype.
    norm : {"fro", "schatten4"}
        Normalization of the input.  ``"fro"`` divides by the Frobenius norm (an upper bound of
        the largest singular value).  ``"schatten4"`` then rescales by the tighter bound
        ``||a||_{S4} = ||a^H a||_F^{1/2}`` read off the first Gram matrix at no extra product;
        it lifts the smallest singular values by up to ``n^{1/4}``.
    gram : bool or "auto"
        Iterate on the small side only (Gram Newton-Schulz): with ``G = X_0 X_0^H`` and
        ``P_k = a_k I + b_k G_k + c_k G_k^2``, keep ``Q_{k+1} = P_k Q_k`` and
        ``G_{k+1} = P_k G_k P_k`` (all ``min(m, n)``-square) and form ``U = Q X_0`` at the end.
        Every second step restarts from ``X = Q X_0``, ``G = X X^H``, which keeps the small
        singular values as accurate as the plain iteration (squaring them in ``G`` would lose them
        otherwise).  Fewer flops for ``max(m, n) / min(m, n) >= 2``; ``"auto"`` uses it from a
        ratio of 4.  Default False: the plain iteration, product for product the published
        recipes.
    check_finite : bool
        Refuse NaN/inf input with a ``ValueError`` (one host synchronisation).  With ``False``
        the check is skipped and non-finite input gives non-finite output.
    return_info : bool
        Also return an :class:`MsignInfo` with the orthogonality of the result.
    exact_distance : bool
        With ``return_info``, also compute the distance to the exact polar factor (one SVD per
        matrix in float64; for diagnostics, not for training loops).
    xp : namespace, optional
        Array namespace of ``a`` (inferred by default).

    Returns
    -------
    U : array, shape (..., m, n)
        The approximate polar factor, same namespace, device and dtype as ``a`` (float64 for
        integer input).  Zero matrices give zero matrices; empty input gives an empty result.
    info : MsignInfo
        Only with ``return_info=True``.

    Raises
    ------
    ValueError
        ``a`` has fewer than two axes or contains NaN/inf; unknown ``schedule`` or ``norm``;
        ``steps`` out of range.
    TypeError
        ``a`` is boolean, object or another non-numeric dtype; ``dtype`` is not a floating dtype
        of the matching kind.

    Notes
    -----
    The input is transposed when ``m > n`` so that the Gram matrix is the smaller
    ``min(m, n)``-square side; a quintic step costs three products (``G = X X^H``, ``G @ G`` and
    ``B @ X``: ``2 m^2 n + m^3`` multiply-adds for ``m <= n``), a cubic step two.  The loop has
    no host synchronisation (no ``float()``, ``int()`` or ``bool()`` on arrays); the NaN/inf
    check is one, before the loop.  Each matrix is first divided by a power of two near its
    largest entry (in the input's precision, before any cast to a lower ``dtype``), so inputs
    of size ``1e-300`` or ``1e300`` behave like ``1``.

    Singular values ``sigma`` of the normalized input map to ``p_T(...p_1(sigma / d))`` with
    ``d`` the schedule's input divisor.  For normalized singular values in ``[1e-3, 1]`` the
    outputs are guaranteed (exact arithmetic) to lie in

    ======================  ======  ==============================
    schedule                steps   band
    ======================  ======  ==============================
    ``"polar-express"``     5       [0.8401, 1.1236]
    ``"polar-express"``     8       [1 - 3.1e-15, 1]
    ``"muon"``              5       [0.4705, 1.2024]
    ``"cubic"``             24      [1 - 1e-16, 1]
    ======================  ======  ==============================

    (``MsignInfo.band`` reports it for the schedule used).  The Muon quintic never converges:
    its band stays [0.6818, 1.1344] from 8 steps on, however many steps.
    Singular values below ``1e-3 ||a||_F`` are amplified but not guaranteed to reach the band.
    Rounding adds about ``steps * eps * sqrt(min(m, n))`` of the working precision.

    Autograd (torch) flows through every operation.

    References
    ----------
    .. [1] N. Amsel, D. Persson, C. Musco, R. M. Gower, "The Polar Express: Optimal matrix sign
       methods and their application to the Muon algorithm", arXiv:2505.16932, 2025.
    .. [2] K. Jordan et al., "Muon: An optimizer for hidden layers in neural networks", 2024.
    .. [3] N. J. Higham, *Functions of Matrices*, SIAM, 2008, ch. 8 (Newton-Schulz).

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.ortho import msign
    >>> a = np.array([[3.0, 0.0], [0.0, 0.5]])
    >>> np.round(msign(a), 6)
    array([[1., 0.],
           [0., 1.]])
    >>> u, info = msign(np.arange(6.0).reshape(2, 3), return_info=True)
    >>> info.steps, info.gemms, bool(info.orthogonality < 1e-12)
    (8, 24, True)
    """
    a = as_array(a)  # lists to NumPy; masked arrays and np.matrix refused
    xp = array_namespace(a) if xp is None else xp
    sched = resolve_schedule(schedule, steps)
    check_choice(norm, "norm", NORMS)
    if not (isinstance(gram, bool) or gram == "auto"):
        raise ValueError(f"`gram` must be True, False or 'auto'; got {gram!r}.")
    check_finite = check_bool(check_finite, "check_finite")
    check_matrix(a, "a")
    kind = _floating_kind(a, xp)
    if kind not in ("real", "complex", "int"):
        raise TypeError(f"`a` must have a real or complex floating (or integer) dtype; got {a.dtype}.")
    work, out_dt, norm_dt = _working_dtype(a, dtype, xp, kind)
    band = sched.band(PE_LOWER)
    m, n = a.shape[-2], a.shape[-1]
    dev = device(a)

    if m == 0 or n == 0 or any(s == 0 for s in a.shape[:-2]):
        u = xp.zeros(a.shape, dtype=out_dt, device=dev)
        if not return_info:
            return u
        z = xp.zeros(a.shape[:-2], dtype=real_dtype(norm_dt, xp), device=dev)
        return u, MsignInfo(sched.name, sched.steps, sched.gemms(), band, z, z if exact_distance else None)

    if check_finite and kind != "int":
        refuse_nonfinite(a, "a", xp)

    use_gram = gram is True or (gram == "auto" and max(m, n) >= GRAM_AUTO_RATIO * min(m, n))
    x = herm(a, xp) if m > n else a
    if kind == "int":
        x = xp.astype(x, xp.float64)
    if xp.finfo(x.dtype).bits > xp.finfo(norm_dt).bits:
        # Scale before rounding down (float64 input, dtype=float32/bf16): 1e300 would become inf
        # and 1e-50 zero in float32 (a silent all-zero result).
        x, _ = pow2_scale(x, xp)
        x = xp.astype(x, norm_dt)
    else:
        x = xp.astype(x, norm_dt)  # a copy: the input is never modified
        x, _ = pow2_scale(x, xp)
    f = _fro(x, xp, norm_dt)
    f = xp.where(f > 0, f * sched.divisor, xp.ones_like(f))
    x = x / (xp.astype(f, x.dtype) if x.dtype != f.dtype else f)
    if x.dtype != work:
        x = xp.astype(x, work)

    if use_gram:
        x, gemms = _gram_side(x, sched, norm, xp, work, norm_dt)
    else:
        gemms = sched.gemms()
        for k, (ca, cb, cc) in enumerate(sched.coefficients):
            g = x @ herm(x, xp)
            if k == 0 and norm == "schatten4":
                x, g = _schatten4(x, g, sched, xp, work, norm_dt)
            if cc != 0.0:
                b = cb * g + cc * (g @ g)
                x = ca * x + b @ x
            else:
                x = ca * x + cb * (g @ x)

    u = herm(x, xp) if m > n else x
    if u.dtype != out_dt:
        u = xp.astype(u, out_dt)
    if not return_info:
        return u
    k_small = min(m, n)
    xs = xp.astype(x, norm_dt) if x.dtype != norm_dt else x
    eye = xp.eye(k_small, dtype=norm_dt, device=dev)
    ortho = _fro(xs @ herm(xs, xp) - eye, xp, norm_dt)[..., 0, 0]
    dist = None
    if exact_distance:
        dist = _distance_to_polar(a, u, xp, kind)
    return u, MsignInfo(sched.name, sched.steps, gemms, band, ortho, dist)


def _schatten4(x, g, sched, xp, work, norm_dt):
    """Rescale ``X`` by ``1 / (||X||_S4 d)`` with ``||X||_S4 = ||G||_F^(1/2)`` (no extra product)."""
    t = xp.sqrt(_fro(g, xp, norm_dt)) * sched.divisor
    r = xp.where(t > 0, 1.0 / xp.where(t > 0, t, xp.ones_like(t)), xp.ones_like(t))
    r = xp.astype(r, work) if r.dtype != work else r
    return x * r, g * (r * r)


def _gram_side(x, sched, norm, xp, work, norm_dt):
    """Gram Newton-Schulz on the small side with a restart every ``GRAM_RESTART`` steps.

    Returns ``(X_T, products)``.  ``X_k = Q X_0`` is never formed between restarts: the step
    polynomial ``P = a I + b G + c G^2`` commutes with ``G``, so ``G <- P G P`` and ``Q <- P Q``.
    """
    k_small = x.shape[-2]
    eye = xp.eye(k_small, dtype=work, device=device(x))
    steps = sched.steps
    g = x @ herm(x, xp)
    count = 1
    if norm == "schatten4" and steps:
        x, g = _schatten4(x, g, sched, xp, work, norm_dt)
    q = None
    for k, (ca, cb, cc) in enumerate(sched.coefficients):
        if k > 0 and k % GRAM_RESTART == 0:
            x = q @ x
            g = x @ herm(x, xp)
            q = None
            count += 2
        if cc != 0.0:
            z = cb * g + cc * (g @ g)
            count += 1
        else:
            z = cb * g
        p = ca * eye + z
        if q is None:
            q = p
        else:
            q = ca * q + z @ q
            count += 1
        if k + 1 < steps and (k + 1) % GRAM_RESTART != 0:
            g = p @ g @ p
            count += 2
    if q is not None:
        x = q @ x
        count += 1
    return x, count


def _distance_to_polar(a, u, xp, kind):
    """||U - polar(a)||_F / ||polar(a)||_F per matrix, by an SVD in float64 (complex128)."""
    hi = xp.complex128 if kind == "complex" else xp.float64
    a64 = xp.astype(a, hi)
    w, _, vh = xp.linalg.svd(a64, full_matrices=False)
    p = w @ vh
    d = _fro(xp.astype(u, hi) - p, xp, hi)
    return (d / _fro(p, xp, hi))[..., 0, 0]
