"""``random_orthogonal``: Haar-distributed orthogonal matrices (QR of a Gaussian, sign-corrected)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from .._backend import capability
from .._validate import as_rng, check_int, check_namespace

__all__ = ["random_orthogonal"]


def resolve_dtype(dtype: Any, xp: ModuleType, name: str = "dtype") -> Any:
    """A real floating dtype of ``xp`` (float32 or float64) from ``None``, a name or a dtype object.

    ``None`` means float64; ``"float32"``, ``numpy.float32`` and ``xp.float32`` all mean float32.
    """
    if dtype is None:
        return xp.float64
    if isinstance(dtype, str):
        if dtype in ("float32", "float64"):
            return getattr(xp, dtype)
    else:
        for cand in (xp.float32, xp.float64):
            try:
                if dtype == cand:
                    return cand
            except TypeError:
                pass
        try:
            npname = np.dtype(dtype).name
        except TypeError:
            npname = ""
        if npname in ("float32", "float64"):
            return getattr(xp, npname)
    raise TypeError(f"`{name}` must be float32 or float64 (a dtype of {xp.__name__} or its name); "
                    f"got {dtype!r}.")


def check_batch_shape(batch_shape: Any, name: str = "batch_shape") -> tuple[int, ...]:
    """``batch_shape`` as a tuple of non-negative ints (an int means a 1-tuple)."""
    if isinstance(batch_shape, int | np.integer) and not isinstance(batch_shape, bool | np.bool_):
        batch_shape = (batch_shape,)
    if not isinstance(batch_shape, tuple | list):
        raise TypeError(f"`{name}` must be a tuple of non-negative integers; got {batch_shape!r}.")
    return tuple(check_int(b, name, low=0) for b in batch_shape)


def resolve_xp(xp: Any) -> ModuleType:
    """The namespace to create in: NumPy (array-api-compat's) when ``xp`` is None."""
    if xp is None:
        import array_api_compat.numpy as xnp

        return xnp
    check_namespace(xp)
    return xp


def host_to_xp(a: np.ndarray, xp: ModuleType, dtype: Any, device: Any) -> Any:
    """Move a freshly generated NumPy sample to ``xp`` (a creation, so the copy is explicit)."""
    a = np.ascontiguousarray(a)
    if device is None:
        out = xp.asarray(a)
    else:
        out = xp.asarray(a, device=device)
    return xp.astype(out, dtype) if out.dtype != dtype else out


@capability("ortho", numba=False, notes="sampled with NumPy's Generator, then moved to xp")
def random_orthogonal(n: int, *, batch_shape: Any = (), rng: Any = None, dtype: Any = None,
                      xp: ModuleType | None = None, device: Any = None) -> Any:
    r"""Haar-distributed (uniform) random orthogonal matrices.

    Parameters
    ----------
    n : int
        Order of the matrices, ``n >= 1``.
    batch_shape : tuple of int, optional
        Leading dimensions: the result has shape ``batch_shape + (n, n)``, independent samples.
    rng : numpy.random.Generator, int or None, optional
        Source of randomness (SPEC 7).  The same seed gives the same matrices on every backend.
    dtype : dtype or str, optional
        ``float64`` (default) or ``float32``, as a dtype of ``xp``, a NumPy dtype or its name.
    xp : array namespace, optional
        Library of the result (NumPy when omitted).
    device : optional
        Device of the result, for libraries that have devices.

    Returns
    -------
    array, shape ``batch_shape + (n, n)``
        Orthogonal matrices ``Q`` (``Q^T Q = I`` to a few ulps of float64, then rounded to ``dtype``),
        distributed according to the Haar measure on the orthogonal group O(n) (both determinant
        signs, each with probability 1/2).

    Raises
    ------
    ValueError
        If ``n < 1`` or an entry of ``batch_shape`` is negative.
    TypeError
        If ``dtype`` is not float32/float64, ``xp`` is not an array namespace or ``rng`` is not a
        generator or seed.

    Notes
    -----
    A Gaussian matrix ``Z`` (i.i.d. standard normal entries) is factored ``Z = Q R`` by LAPACK in
    float64 and the columns of ``Q`` are multiplied by ``sign(R_ii)``, which makes the factorization
    unique (``R_ii > 0``) and the distribution of ``Q`` exactly Haar [1]_ [2]_ (without the sign
    correction ``Q`` is *not* uniform).  Cost ``(4/3) n^3`` flops per matrix.

    The sample is drawn with NumPy's ``Generator`` on the host and then copied once to ``xp``
    (``device``): the result is created here, no user data is moved, and the stream of numbers
    does not depend on the backend.

    References
    ----------
    .. [1] G. W. Stewart, "The efficient generation of random orthogonal matrices with an
       application to condition estimators", SIAM J. Numer. Anal. 17(3), 1980.
    .. [2] F. Mezzadri, "How to generate random matrices from the classical compact groups",
       Notices of the AMS 54(5), 2007.

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.ortho import random_orthogonal
    >>> q = random_orthogonal(4, rng=0)
    >>> bool(np.allclose(q.T @ q, np.eye(4)))
    True
    >>> random_orthogonal(3, batch_shape=(5,), rng=1, dtype="float32").shape
    (5, 3, 3)
    """
    n = check_int(n, "n", low=1)
    batch_shape = check_batch_shape(batch_shape)
    xp = resolve_xp(xp)
    dt = resolve_dtype(dtype, xp)
    gen = as_rng(rng)
    z = gen.standard_normal((*batch_shape, n, n))
    if z.size == 0:
        return host_to_xp(z, xp, dt, device)
    q, r = np.linalg.qr(z)
    d = np.diagonal(r, axis1=-2, axis2=-1)
    q = q * np.where(d < 0, -1.0, 1.0)[..., None, :]
    return host_to_xp(q, xp, dt, device)
