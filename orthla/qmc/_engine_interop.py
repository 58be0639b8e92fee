"""What SciPy's consumers of engines need beyond the QMCEngine interface (a mixin of
``PointEngine``): ``scipy.integrate.qmc_quad`` remakes an engine of the same kind per estimate as
``type(engine)(seed=..., **engine._init_quad)``, SciPy's ``QMCEngine.reset`` restarts from
``rng_seed``, and engines pickle and deep-copy although they hold their array namespace (a
module)."""

from __future__ import annotations

import functools
import importlib
import inspect
from types import ModuleType
from typing import Any

import numpy as np

__all__ = ["SciPyEngineInterop"]


class SciPyEngineInterop:
    """``seed=`` and ``_init_quad`` for ``qmc_quad``, ``rng_seed``, pickling.  The engine sets
    ``_rng_snapshot = (type of the bit generator, its state)`` before drawing its randomization."""

    replications: int | None
    xp: ModuleType
    _rng_snapshot: tuple[Any, dict]
    _init_args: tuple[tuple, dict[str, Any]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # SciPy's consumers that make fresh engines of the same kind (``qmc_quad``: one per
        # estimate) call ``type(engine)(seed=..., **engine._init_quad)``: ``seed`` is SciPy's
        # former name of ``rng``, and ``_init_quad`` the other constructor arguments.  Each
        # engine's ``__init__`` is wrapped to record its arguments and, unless it has a ``seed``
        # parameter of its own (a user's subclass), to take ``seed`` for ``rng``.
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None:
            return
        own_seed = "seed" in inspect.signature(init).parameters

        @functools.wraps(init)
        def __init__(self: Any, *args: Any, **kw: Any) -> None:
            if not own_seed and "seed" in kw:
                if "rng" in kw:
                    raise TypeError("Pass `rng` (or SciPy's former name `seed`), not both.")
                kw["rng"] = kw.pop("seed")
            init(self, *args, **kw)
            # The outermost call returns last: its arguments are the ones kept.  Arrays are
            # copied: the engines remade from them must not see later changes by the caller.
            self._init_args = (tuple(_frozen(a) for a in args),
                               {k: _frozen(v) for k, v in kw.items() if k not in ("rng", "seed")})

        cls.__init__ = __init__  # type: ignore[method-assign]

    @property
    def _init_quad(self) -> dict[str, Any]:
        """The constructor's arguments but the generator (``d`` by name), for SciPy's
        ``qmc_quad``, which makes one engine of the same kind per estimate.  Engines whose
        points are not one ``(n, d)`` set in ``[0, 1)`` (``replications``, ``return_binary``)
        raise ``ValueError``: ``qmc_quad`` would sum over all of them."""
        if self.replications is not None or getattr(self, "return_binary", False):
            raise ValueError("scipy.integrate.qmc_quad needs an engine that draws one (n, d) set of points in "
                             "[0, 1): build it without `replications` (qmc_quad makes its own "
                             "randomizations) and with return_binary=False.")
        args, kw = self._init_args
        bound = inspect.signature(type(self).__init__).bind(self, *args, **kw)
        out: dict[str, Any] = {}
        for name, value in bound.arguments.items():
            kind = bound.signature.parameters[name].kind
            if kind is inspect.Parameter.VAR_KEYWORD:
                out.update(value)
            elif kind is inspect.Parameter.VAR_POSITIONAL:
                if value:
                    raise TypeError(f"{type(self).__name__} takes positional arguments as *args; SciPy's "
                                    "qmc_quad remakes engines from keyword arguments only.")
            elif name != "self":
                out[name] = value
        return out

    @property
    def rng_seed(self) -> np.random.Generator:
        """The generator as it was before the engine drew its randomization (what SciPy's
        ``QMCEngine.reset`` restarts ``rng`` from); a new one at each access."""
        bit_generator, state = self._rng_snapshot
        restored = bit_generator()
        restored.state = state
        return np.random.Generator(restored)

    @rng_seed.setter
    def rng_seed(self, value: Any) -> None:
        # SciPy's QMCEngine.__init__ (engines with an optimizer) stores its optimizer's
        # generator here; the property keeps answering with the engine's own
        pass

    def __getstate__(self) -> dict[str, Any]:
        # array namespaces are modules (the engine's, and `xp=` among the recorded arguments):
        # pickled, and deep-copied, by name
        state = self.__dict__.copy()
        state["xp"] = _ModuleName(self.xp.__name__)
        if "_init_args" in state:
            args, kw = state["_init_args"]
            state["_init_args"] = (tuple(_by_name(a) for a in args), {k: _by_name(v) for k, v in kw.items()})
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        state["xp"] = state["xp"].load()
        if "_init_args" in state:
            args, kw = state["_init_args"]
            state["_init_args"] = (tuple(_loaded(a) for a in args), {k: _loaded(v) for k, v in kw.items()})
        self.__dict__.update(state)


class _ModuleName(str):
    """A module in a pickled engine, by name."""

    def load(self) -> ModuleType:
        return importlib.import_module(self)


def _frozen(value: Any) -> Any:
    return value.copy() if isinstance(value, np.ndarray) else value


def _by_name(value: Any) -> Any:
    return _ModuleName(value.__name__) if isinstance(value, ModuleType) else value


def _loaded(value: Any) -> Any:
    return value.load() if isinstance(value, _ModuleName) else value
