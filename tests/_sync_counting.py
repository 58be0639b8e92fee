"""A sync-counting test backend: ``array_api_strict`` whose arrays count host round trips.

On a GPU every implicit device-to-host conversion (``float(x)``, ``int(x)``, ``bool(x)``,
``operator.index(x)``, ``np.asarray(x)``, DLPack export, iteration) waits for the device to
finish all queued work and copies the value back; every ``asarray`` of a Python or NumPy
object is a host-to-device copy; every operation whose output *shape* depends on the data
(``nonzero``, ``unique_*``, boolean-mask indexing) also synchronises on CuPy.  None of this is
visible on NumPy.  :func:`count_syncs` makes it visible on any machine: inside the ``with``
block the methods of ``array_api_strict.Array`` and the namespace's creation functions are
wrapped so that each such event adds one to a counter.  orthla sees the unmodified
``array_api_strict`` namespace (``array_api_compat.array_namespace`` returns it as usual), so
no library code changes are needed to be measured.

>>> import numpy as np
>>> import array_api_strict as xps
>>> with count_syncs() as c:
...     x = xps.asarray(np.ones(3))        # host -> device: 1
...     s = float(xps.sum(x))              # device -> host: 1
>>> (c.d2h, c.h2d, c.total)
(1, 1, 2)

Arrays created with :func:`on_device` live on ``array_api_strict.Device("device1")``, where
``np.asarray`` raises (as it does for a CuPy array): a test on such inputs also proves that no
data is moved to NumPy silently.

Counting rules (one per event):

* ``d2h``: ``__bool__``, ``__int__``, ``__float__``, ``__complex__``, ``__index__``,
  ``__array__``, ``__dlpack__`` (export to another library), ``__iter__`` (starting an
  iteration; the elements' own conversions count separately);
* ``h2d``: ``asarray``/``from_dlpack`` of anything that is not already an ``array_api_strict``
  array (Python scalars, lists, NumPy arrays);
* ``shape``: ``nonzero``, ``unique_all/counts/inverse/values``, ``x[mask]`` with a boolean
  array key (outputs whose size is only known after a sync on CuPy).

Calls made by array_api_strict itself are not counted; only calls from outside the package are.
``where`` maps ``"file:line"`` of the first non-library frame to its count, which is what to
read when a budget fails.
"""

from __future__ import annotations

import collections
import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

import array_api_strict
import numpy as np
from array_api_strict._array_object import Array

__all__ = ["SyncCounts", "count_syncs", "on_device"]

_D2H = ("__bool__", "__int__", "__float__", "__complex__", "__index__", "__array__", "__dlpack__",
        "__iter__")
_SHAPE_FUNCS = ("nonzero", "unique_all", "unique_counts", "unique_inverse", "unique_values")
_H2D_FUNCS = ("asarray", "from_dlpack")
_STRICT_DIR = os.path.dirname(array_api_strict.__file__)
_HERE = os.path.abspath(__file__)

DEVICE = array_api_strict.Device("device1")


@dataclass
class SyncCounts:
    """Counts of host round trips inside a :func:`count_syncs` block."""

    d2h: int = 0
    h2d: int = 0
    shape: int = 0
    where: collections.Counter = field(default_factory=collections.Counter)

    @property
    def total(self) -> int:
        """All events: ``d2h + h2d + shape``."""
        return self.d2h + self.h2d + self.shape

    def reset(self) -> None:
        self.d2h = self.h2d = self.shape = 0
        self.where.clear()

    def report(self, top: int = 12) -> str:
        lines = [f"d2h={self.d2h} h2d={self.h2d} shape={self.shape} total={self.total}"]
        lines += [f"  {n:5d}  {loc}" for loc, n in self.where.most_common(top)]
        return "\n".join(lines)


def _caller() -> str | None:
    """``file:line`` of the first frame outside array_api_strict and this module; None if the
    call comes from array_api_strict itself (internal conversions are not the caller's syncs)."""
    f = sys._getframe(2)
    if f.f_code.co_filename.startswith(_STRICT_DIR):
        return None
    while f is not None and (f.f_code.co_filename == _HERE
                             or f.f_code.co_filename.startswith(_STRICT_DIR)):
        f = f.f_back
    if f is None:
        return "?"
    return f"{os.path.relpath(f.f_code.co_filename)}:{f.f_lineno}"


_active: list[SyncCounts] = []


def _hit(kind: str, tag: str) -> None:
    loc = _caller()
    if loc is None:
        return
    for c in _active:
        setattr(c, kind, getattr(c, kind) + 1)
        c.where[f"{kind}:{tag} {loc}"] += 1


def _wrap_method(name: str, orig):
    def counting(self, *args, **kwargs):
        _hit("d2h", name)
        return orig(self, *args, **kwargs)

    counting.__name__ = name
    return counting


def _wrap_h2d(name: str, orig):
    def counting(obj, *args, **kwargs):
        if not isinstance(obj, Array):
            _hit("h2d", name)
        return orig(obj, *args, **kwargs)

    counting.__name__ = name
    return counting


def _wrap_shape(name: str, orig):
    def counting(*args, **kwargs):
        _hit("shape", name)
        return orig(*args, **kwargs)

    counting.__name__ = name
    return counting


def _wrap_getitem(orig):
    def counting(self, key):
        keys = key if isinstance(key, tuple) else (key,)
        if any(isinstance(k, Array) and k.dtype == array_api_strict.bool for k in keys):
            _hit("shape", "mask-index")
        return orig(self, key)

    return counting


@contextlib.contextmanager
def count_syncs() -> Iterator[SyncCounts]:
    """Count host round trips of ``array_api_strict`` arrays inside the block (see module doc).

    Nested blocks each see every event.  The patches are removed on exit, also after an error.
    """
    counts = SyncCounts()
    outermost = not _active
    saved: list[tuple[object, str, object]] = []
    if outermost:
        for name in _D2H:
            orig = Array.__dict__[name]
            saved.append((Array, name, orig))
            setattr(Array, name, _wrap_method(name, orig))
        orig = Array.__dict__["__getitem__"]
        saved.append((Array, "__getitem__", orig))
        Array.__getitem__ = _wrap_getitem(orig)
        for name in _H2D_FUNCS:
            orig = getattr(array_api_strict, name)
            saved.append((array_api_strict, name, orig))
            setattr(array_api_strict, name, _wrap_h2d(name, orig))
        for name in _SHAPE_FUNCS:
            orig = getattr(array_api_strict, name)
            saved.append((array_api_strict, name, orig))
            setattr(array_api_strict, name, _wrap_shape(name, orig))
    _active.append(counts)
    try:
        yield counts
    finally:
        _active.remove(counts)
        for obj, name, orig in reversed(saved):
            setattr(obj, name, orig)


def on_device(x: np.ndarray | float, dtype=None) -> Array:
    """``x`` as an ``array_api_strict`` array on ``Device("device1")`` (no NumPy view of it)."""
    return array_api_strict.asarray(np.asarray(x), dtype=dtype, device=DEVICE)
