"""Helpers for orthla's tests and benchmarks (explicit host copies are allowed here)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._backend import array_namespace, device, is_cupy, is_torch

__all__ = ["assert_close", "to_host"]


def to_host(x: Any) -> np.ndarray:
    """Copy an array of any supported library to a NumPy array (tests only)."""
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, np.generic | float | int | complex):
        return np.asarray(x)
    xp = array_namespace(x)
    if is_cupy(xp):
        return x.get()
    if is_torch(xp):
        return x.detach().cpu().numpy()
    return np.asarray(np.from_dlpack(x))


def assert_close(actual: Any, desired: Any, *, xp: Any, rtol: float | None = None,
                 atol: float = 0.0, like: Any = None, err_msg: str = "") -> None:
    """Assert ``actual`` is close to ``desired`` and lives in ``xp`` on the right device.

    ``desired`` may be a NumPy reference; it is moved to ``xp`` (on the device of
    ``like`` when given) before comparing, so namespace, dtype, shape and device
    of ``actual`` are all checked.
    """
    assert array_namespace(actual) is xp, (
        f"result namespace {array_namespace(actual).__name__} != input namespace {xp.__name__}"
    )
    dev = device(like) if like is not None else device(actual)
    if isinstance(desired, np.ndarray) or np.isscalar(desired):
        # A fresh contiguous copy: torch cannot wrap reversed or read-only NumPy views.
        desired = xp.asarray(np.array(desired, copy=True, order="C"), device=dev)
    if like is not None:
        assert device(actual) == dev, f"result on {device(actual)}, input on {dev}"
    import array_api_extra as xpx  # a test dependency (orthla[test]), not a runtime one

    xpx.testing.assert_close(actual, desired, rtol=rtol, atol=atol, err_msg=err_msg, xp=xp)
