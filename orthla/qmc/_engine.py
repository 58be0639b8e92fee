"""Shared machinery of the point generators: the scipy.stats.qmc.QMCEngine interface."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import array_api_compat
import numpy as np

from .._validate import as_rng, check_choice, check_int
from ._checks import check_namespace

__all__ = ["PointEngine", "resolve_namespace"]


def resolve_namespace(xp: Any, device: Any, dtype: Any) -> tuple[ModuleType, Any, Any]:
    """(namespace, device, dtype) for generated points; default NumPy, float64."""
    if xp is None:
        import array_api_compat.numpy as xp_np

        xp = xp_np
    else:
        check_namespace(xp, "xp")
        try:
            probe = xp.asarray(0)
        except Exception as exc:  # a module with an unrelated `asarray`
            raise TypeError(f"`xp` must be an array-API namespace; got {xp!r} ({exc}).") from None
        if not array_api_compat.is_array_api_obj(probe):
            raise TypeError(f"`xp` must be an array-API namespace; got {xp!r}.")
    # Wrap plain numpy/cupy/torch modules in their array-api-compat namespaces.
    xp = array_api_compat.array_namespace(xp.asarray(0, device=device) if device is not None
                                          else xp.asarray(0))
    if dtype is None:
        dtype = xp.float64
    if dtype not in (xp.float64, xp.float32):
        raise TypeError(f"`dtype` must be float64 or float32 of {xp.__name__}; got {dtype!r}.")
    return xp, device, dtype


class PointEngine:
    """Base class: sequence state, ``random``/``random_base2``/``reset``/``fast_forward``.

    Subclasses implement ``_generate(start, n)`` returning an array of shape
    ``(R, n, d)`` (R = number of replications) in ``self.xp`` on ``self.device``,
    and set ``self._max_points``.
    """

    _orders: tuple = ("natural",)

    def __init__(self, d: int, *, order: str, replications: int | None, rng: Any,
                 xp: Any, device: Any, dtype: Any, d_max: int | None = None,
                 d_max_hint: str = "") -> None:
        self.d = check_int(d, "d", low=1)
        if d_max is not None and self.d > d_max:
            raise ValueError(f"`d` = {self.d} exceeds the {d_max} dimensions available{d_max_hint}.")
        self.order = check_choice(order, "order", self._orders)
        self.replications = None if replications is None else check_int(replications, "replications", low=1)
        self.xp, self.device, self.dtype = resolve_namespace(xp, device, dtype)
        self.rng = as_rng(rng)
        self.num_generated = 0
        self._max_points = 2**63

    @property
    def _R(self) -> int:
        return 1 if self.replications is None else self.replications

    def random(self, n: int = 1) -> Any:
        """Draw the next ``n`` points.

        Returns an array of shape ``(n, d)``, or ``(replications, n, d)`` when
        the engine was built with ``replications``, in the engine's namespace,
        device and dtype.  Raises ``ValueError`` past the engine's capacity.
        """
        n = check_int(n, "n", low=0)
        start = self.num_generated
        if start + n > self._max_points:
            cap = self._max_points
            pow2 = f"2^{cap.bit_length() - 1} = " if cap & (cap - 1) == 0 else ""
            raise ValueError(
                f"cannot draw {n} points after {start}: this engine holds at most "
                f"{pow2}{cap} points ({self._capacity_hint})."
            )
        pts = self._generate(start, n)
        self.num_generated = start + n
        return pts if self.replications is not None else pts[0, ...]

    def random_base2(self, m: int) -> Any:
        """Draw the next ``2^m`` points; the total drawn must stay a power of two."""
        m = check_int(m, "m", low=0)
        if m >= self._max_points.bit_length():  # before forming 2^m, which may be astronomically large
            raise ValueError(f"cannot draw 2^{m} points: this engine holds at most {self._max_points} "
                             f"points ({self._capacity_hint}).")
        n = 2**m
        total = self.num_generated + n
        if total & (total - 1):
            raise ValueError(
                f"random_base2 keeps the balance of the point set only when the total number of "
                f"points is a power of two; {self.num_generated} points were drawn before, so "
                f"{self.num_generated} + 2^{m} = {total} is not. Use random(n) to draw them anyway."
            )
        return self.random(n)

    def reset(self) -> PointEngine:
        """Return to the first point (the randomization is kept, as in SciPy)."""
        self.num_generated = 0
        return self

    def fast_forward(self, n: int) -> PointEngine:
        """Skip the next ``n`` points."""
        n = check_int(n, "n", low=0)
        self.num_generated += n
        return self

    _capacity_hint = ""

    # helpers for subclasses -------------------------------------------------
    def _indices(self, start: int, n: int) -> Any:
        return self.xp.arange(start, start + n, dtype=self.xp.int64, device=self.device)

    def _to_device(self, a: np.ndarray) -> Any:
        return self.xp.asarray(a, device=self.device)

    def _finish(self, x: Any) -> Any:
        """Cast float64 points in [0, 1) to the engine dtype, keeping them below 1."""
        xp = self.xp
        if self.dtype == xp.float64:
            return x
        y = xp.astype(x, self.dtype)
        # Rounding may reach 1.0; keep the half-open unit cube with the largest float below 1.
        below_one = xp.asarray(1.0 - xp.finfo(self.dtype).eps / 2, dtype=self.dtype, device=self.device)
        return xp.where(y >= 1, below_one, y)
