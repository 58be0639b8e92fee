"""The face every orthogonal parametrization shares: apply without forming, matrix, transpose.

A parametrization is a real orthogonal ``d x d`` operator ``Q`` (or a batch of them, over
``batch_shape``) defined by a few parameters.  Subclasses implement one method,
``_apply(x, transpose)``, that returns ``Q @ x`` (``Q.T @ x`` when ``transpose``) for ``x`` of shape
``(..., d, k)`` broadcasting against ``batch_shape``; everything else (sides, vectors, the cheap
transpose/inverse, the dense matrix, input checks) is written here once.

Autograd: subclasses compute with the namespace's own operations and never write in place into an
array that may require grad, so on torch the result differentiates with respect to the parameters.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import ModuleType
from typing import Any

import numpy as np

from .._backend import array_namespace, as_array, device, no_grad
from .._validate import as_floating, check_choice, check_finite

__all__ = ["OrthogonalParametrization", "as_params"]

SIDES = ("left", "right")


def as_params(p: Any, name: str, xp: ModuleType | None = None, *, min_ndim: int = 1) -> tuple[Any, ModuleType]:
    """Validate a parameter array: one array library, real floating (ints promoted), finite.

    Returns ``(array, xp)``.  float16, complex, bool, NaN/inf and too few dimensions raise errors
    naming ``name``.
    """
    if xp is None:
        xp = array_namespace(p)
    p = as_array(p, xp)
    p = as_floating(p, name, xp, allow_complex=False)
    if p.ndim < min_ndim:
        raise ValueError(f"`{name}` must have at least {min_ndim} dimension(s); got shape {tuple(p.shape)}.")
    check_finite(p, name, xp)
    return p, xp


class OrthogonalParametrization(ABC):
    """Base class: a batch of real orthogonal ``d x d`` operators applied without forming them.

    Subclasses set ``self._xp``, ``self._d``, ``self._batch_shape``, ``self._dtype`` and
    ``self._device`` in their constructor and implement :meth:`_apply` and :attr:`n_params`.
    """

    _xp: ModuleType
    _d: int
    _batch_shape: tuple[int, ...]
    _dtype: Any
    _device: Any

    # ------------------------------------------------------------------ what subclasses provide

    @abstractmethod
    def _apply(self, x: Any, transpose: bool) -> Any:
        """``Q @ x`` (``Q.T @ x`` if ``transpose``) for ``x`` of shape ``(..., d, k)``, validated."""

    @property
    @abstractmethod
    def n_params(self) -> int:
        """Number of real parameters of one operator of the batch."""

    # ------------------------------------------------------------------ shared face

    @property
    def d(self) -> int:
        """Order of the (square) operator."""
        return self._d

    @property
    def shape(self) -> tuple[int, ...]:
        """``batch_shape + (d, d)``, the shape of :meth:`matrix`."""
        return (*self._batch_shape, self._d, self._d)

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """Leading (batch) dimensions of the parameters."""
        return self._batch_shape

    @property
    def dtype(self) -> Any:
        """Floating dtype of the parameters and of the results."""
        return self._dtype

    @property
    def T(self) -> OrthogonalParametrization:
        """The transpose, which is the inverse; no computation, it shares the parameters."""
        return _Transposed(self)

    def inverse(self) -> OrthogonalParametrization:
        """The inverse operator ``Q^{-1} = Q^T`` (same as :attr:`T`)."""
        return self.T

    def apply(self, x: Any, *, side: str = "left", transpose: bool = False) -> Any:
        """Apply the operator to ``x`` without forming its matrix.

        Parameters
        ----------
        x : array
            ``side="left"``: ``Q @ x`` with ``x`` of shape ``(..., d, k)`` or ``(d,)``.
            ``side="right"``: ``x @ Q`` with ``x`` of shape ``(..., n, d)`` or ``(d,)`` (rows of
            activations, as in a linear layer).  Leading dimensions broadcast against
            :attr:`batch_shape`.
        side : {"left", "right"}
            Which side of ``x`` the operator multiplies.
        transpose : bool
            Use ``Q.T`` (the inverse) instead of ``Q``.

        Returns
        -------
        array
            Same library and device as the parameters, the dtype promoted from both.

        Raises
        ------
        ValueError
            If the dimension acted on is not ``d``, or ``x`` has NaN/inf entries.
        TypeError
            If ``x`` comes from another array library or is not real floating (or integer).
        """
        side = check_choice(side, "side", SIDES)
        if not isinstance(transpose, bool):
            raise TypeError(f"`transpose` must be a bool; got {type(transpose).__name__}.")
        xp = self._xp
        x = self._check_x(x, side)
        vector = x.ndim == 1
        # NaN/inf in x are refused below from the result; NumPy must not warn meanwhile.
        with np.errstate(invalid="ignore", over="ignore"):
            if side == "left":
                xx = x[:, None] if vector else x
                out = self._apply(xx, transpose)
                out = out[..., 0] if vector else out
            else:
                xx = x[:, None] if vector else xp.matrix_transpose(x)  # x Q = (Q^T x^T)^T
                out = self._apply(xx, not transpose)
                out = out[..., 0] if vector else xp.matrix_transpose(out)
            self._refuse_nonfinite(out, x)
        return out

    def matrix(self) -> Any:
        """The dense operator(s), shape ``batch_shape + (d, d)`` (for checks and small ``d``)."""
        xp = self._xp
        eye = xp.eye(self._d, dtype=self._dtype, device=self._device)
        return self._apply(xp.broadcast_to(eye, self.shape), False)

    def __matmul__(self, x: Any) -> Any:
        return self.apply(x)

    def __repr__(self) -> str:
        batch = f", batch_shape={self._batch_shape}" if self._batch_shape else ""
        return f"{type(self).__name__}(d={self._d}{batch}, n_params={self.n_params}, dtype={self._dtype})"

    # ------------------------------------------------------------------ helpers for subclasses

    def _check_x(self, x: Any, side: str = "left", name: str = "x") -> Any:
        xp = self._xp
        x = as_array(x, xp)  # arrays of another library raise TypeError here
        x = as_floating(x, name, xp, allow_complex=False)
        if x.ndim == 0:
            raise ValueError(f"`{name}` must have at least 1 dimension; got a 0-d array.")
        axis = 0 if x.ndim == 1 else (-2 if side == "left" else -1)
        if x.shape[axis] != self._d:
            where = "its length" if x.ndim == 1 else ("axis -2 (side='left': Q @ x)" if side == "left"
                                                      else "axis -1 (side='right': x @ Q)")
            raise ValueError(f"`{name}` must have d = {self._d} entries along {where}; "
                             f"got shape {tuple(x.shape)}.")
        lead = tuple(x.shape[:-2]) if x.ndim > 1 else ()
        n = max(len(lead), len(self._batch_shape))
        for a, b in zip((1,) * (n - len(lead)) + lead,
                        (1,) * (n - len(self._batch_shape)) + tuple(self._batch_shape), strict=True):
            if a != b and a != 1 and b != 1:
                raise ValueError(f"`{name}` has leading (batch) dimensions {lead}, which do not broadcast "
                                 f"against the operator's batch_shape {self._batch_shape}.")
        # Finiteness is checked on the result (see _refuse_nonfinite): one reduction instead of
        # an elementwise test and a reduction of x before every product.
        if x.dtype != self._dtype:
            dt = xp.result_type(x.dtype, self._dtype)
            x = xp.astype(x, dt)
        return x


    def _refuse_nonfinite(self, out: Any, x: Any, name: str = "x") -> None:
        """Raise ``ValueError`` naming ``x`` unless ``out = Q x`` is finite.

        An orthogonal map keeps norms, so ``Q x`` is finite exactly when ``x`` is (short of
        overflow at the top of the range): a finite sum of ``out`` proves both, and only when it
        is not finite are the entries looked at, to say which.
        """
        xp = self._xp
        o = no_grad(out)
        if bool(xp.isfinite(xp.sum(o))) or bool(xp.all(xp.isfinite(o))):
            return
        check_finite(no_grad(x), name, xp)
        raise ValueError(f"`{name}` is too large: the product with the orthogonal operator "
                         f"overflows {o.dtype} (max|x| near the largest float).")


class _Transposed(OrthogonalParametrization):
    """``Q.T`` of a parametrization: shares its parameters, swaps the transpose flag."""

    def __init__(self, inner: OrthogonalParametrization) -> None:
        self._inner = inner
        self._xp = inner._xp
        self._d = inner._d
        self._batch_shape = inner._batch_shape
        self._dtype = inner._dtype
        self._device = inner._device

    def _apply(self, x: Any, transpose: bool) -> Any:
        return self._inner._apply(x, not transpose)

    @property
    def n_params(self) -> int:
        return self._inner.n_params

    @property
    def T(self) -> OrthogonalParametrization:
        return self._inner

    def __repr__(self) -> str:
        return f"{self._inner!r}.T"


def param_device(p: Any) -> Any:
    """Device of a parameter array (for subclasses' constructors)."""
    return device(p)
