"""Side-by-side comparison cases: orthla against the tool a user would pick instead.

Each family lists its cases in ``orthla/<family>/_bench_cases.py`` as a function
``cases() -> list[BenchCase]``.  The same cases drive ``python -m orthla bench``
and the pytest-benchmark files in ``benchmarks/``.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

FAMILIES = ("pivoting", "svdupdate", "tensor", "qmc", "kron", "ortho")
BACKENDS = ("numpy", "cupy", "torch")

__all__ = ["BACKENDS", "FAMILIES", "BenchCase", "family_cases", "has_tool", "namespace_for", "note_skipped", "run_case",
           "skipped_last", "synchronize"]

#: Anchors and cases left out while the last ``family_cases`` call built its list: (what, why).
_SKIPPED: list[tuple[str, str]] = []

#: How to install each optional anchor tool (``pip install "orthla[anchors]"`` installs them all).
INSTALL = {
    "mpmath": "pip install mpmath", "sklearn": "pip install scikit-learn",
    "tensorly": "pip install tensorly", "pykronecker": "pip install pykronecker",
    "qmcpy": "pip install qmcpy", "IncSVD": "pip install IncSVD", "networkx": "pip install networkx",
    "linear_operator": "pip install linear_operator", "torch": "pip install torch",
}


#: Installed by ``pip install "orthla[anchors]"`` (keep in step with pyproject.toml).
IN_ANCHORS_EXTRA = {"mpmath", "sklearn", "tensorly", "pykronecker", "qmcpy", "IncSVD", "networkx"}


def has_tool(module: str, what: str) -> bool:
    """True if ``module`` can be imported; otherwise note ``what`` as skipped, with the install hint.

    Family case lists call this for every optional anchor or reference, so ``python -m orthla
    bench`` can say which rows are missing and why instead of dropping them silently.
    """
    if importlib.util.find_spec(module) is not None:
        return True
    hint = INSTALL.get(module, f"pip install {module}")
    if module in IN_ANCHORS_EXTRA:
        hint += ', or pip install "orthla[anchors]" for all anchors'
    _SKIPPED.append((what, f"`{module}` is not installed ({hint})"))
    return False


def note_skipped(what: str, why: str) -> None:
    """Record a case or anchor a family leaves out on purpose (e.g. an anchor that needs minutes)."""
    _SKIPPED.append((what, why))


def skipped_last() -> list[tuple[str, str]]:
    """What the last :func:`family_cases` call left out, as ``(what, why)`` pairs (deduplicated)."""
    return list(dict.fromkeys(_SKIPPED))


@dataclass(frozen=True)
class BenchCase:
    """One comparison: the same inputs timed through orthla and through an anchor tool.

    Attributes
    ----------
    name : str
        Short label, e.g. ``"mgs_qr 2000x200"``.
    setup : callable ``(xp, rng) -> inputs``
        Builds the inputs in namespace ``xp`` (``rng`` is a NumPy Generator).
    run_orthla : callable ``(inputs) -> output``
        The orthla side.
    anchors : dict of str to callable ``(inputs) -> output``
        The tools a user would pick instead, by name (``"scipy.linalg.qr"``);
        empty where no tool exists.
    error : callable ``(inputs, output) -> float``
        Accuracy reached by an output (relative error, orthogonality loss, ...).
    error_name : str
        What ``error`` measures, shown next to the numbers.
    quick : bool
        Part of ``--quick`` runs (small sizes, a few seconds in all).
    backends : tuple of str
        Backends the case runs on.
    engine : str
        The ``engine=`` the orthla side passes (``"auto"`` unless the case pins one); the
        command line reports the engine it resolves to.
    """

    name: str
    setup: Callable[[Any, np.random.Generator], Any]
    run_orthla: Callable[[Any], Any]
    anchors: dict[str, Callable[[Any], Any]]
    error: Callable[[Any, Any], float]
    error_name: str = "rel. error"
    quick: bool = True
    backends: tuple[str, ...] = ("numpy",)
    engine: str = "auto"


def family_cases(family: str) -> list[BenchCase] | None:
    """The cases of ``family``, or ``None`` while the family has none yet."""
    if family not in FAMILIES:
        raise ValueError(f"`family` must be one of {FAMILIES}; got {family!r}.")
    _SKIPPED.clear()
    try:
        mod = importlib.import_module(f"orthla.{family}._bench_cases")
    except ModuleNotFoundError as exc:
        if exc.name in (f"orthla.{family}", f"orthla.{family}._bench_cases"):
            return None
        raise
    return list(mod.cases())


def namespace_for(backend: str):
    """Array namespace for a backend name, or raise ``ImportError``/``RuntimeError``."""
    if backend == "numpy":
        import array_api_compat.numpy as xp

        return xp
    if backend == "torch":
        import array_api_compat.torch as xp

        return xp
    if backend == "cupy":
        import cupy

        if not cupy.cuda.is_available():
            raise RuntimeError("cupy is installed but no CUDA device is usable")
        import array_api_compat.cupy as xp

        return xp
    raise ValueError(f"`backend` must be one of {BACKENDS}; got {backend!r}.")


def synchronize(xp) -> None:
    """Wait for queued GPU work so that a clock reading means something."""
    name = getattr(xp, "__name__", "")
    if "cupy" in name:
        import cupy

        cupy.cuda.get_current_stream().synchronize()
    elif "torch" in name:
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()


def _timed_call(fn: Callable[[], Any], xp) -> tuple[float, float, Any]:
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    synchronize(xp)
    return time.perf_counter() - t0, time.process_time() - c0, out


def _time_interleaved(fns: list[Callable[[], Any]], xp, score: Callable[[Any], float], *,
                      min_time: float, max_reps: int, rounds: int = 5) -> list[tuple[list, list, float]]:
    """Wall and CPU times of each of ``fns`` (every repeat), timed in alternating rounds, and its score.

    On a shared machine the load changes within seconds; timing all of one side's repeats
    and then all of the other's lets a load spike land on one side only.  Here every round
    runs each function for its share of ``min_time`` (at least once, up to ``max_reps`` in
    all), so both sides see the same load, and the best time over all rounds is kept.
    Rounds stop early (after two) when one round already took longer than ``min_time``:
    slow cases are timed three times in all, warm-up included.  Each output is scored right
    after its warm-up call, before any other side runs.  Returns ``(walls, cpus, score)`` per
    function.
    """
    scores = []
    for fn in fns:  # warm-up: Numba compilation, CuPy kernel cache, BLAS pools
        out = fn()
        synchronize(xp)
        scores.append(float(score(out)))
    walls: list[list[float]] = [[] for _ in fns]
    cpus: list[list[float]] = [[] for _ in fns]
    reps = [0] * len(fns)
    per_round_cap = max(1, -(-max_reps // rounds))
    for r in range(rounds):
        round_t0 = time.perf_counter()
        for i, fn in enumerate(fns):
            spent, done = 0.0, 0
            while reps[i] < max_reps and (done == 0 or (spent < min_time / rounds and done < per_round_cap)):
                wall, cpu, _ = _timed_call(fn, xp)
                walls[i].append(wall)
                cpus[i].append(cpu)
                spent, done, reps[i] = spent + wall, done + 1, reps[i] + 1
        if r >= 1 and (time.perf_counter() - round_t0 > min_time or min(reps) >= max_reps):
            break
    return list(zip(walls, cpus, scores, strict=True))


def _stats(prefix: str, walls: list[float], cpus: list[float]) -> dict:
    if not walls:
        return {f"{prefix}_s": math.nan, f"{prefix}_median_s": math.nan, f"{prefix}_iqr_s": math.nan,
                f"{prefix}_cpu_s": math.nan, f"{prefix}_repeats": 0}
    q = statistics.quantiles(walls, n=4) if len(walls) > 1 else [walls[0]] * 3
    return {f"{prefix}_s": min(walls), f"{prefix}_median_s": statistics.median(walls),
            f"{prefix}_iqr_s": q[2] - q[0], f"{prefix}_cpu_s": min(cpus), f"{prefix}_repeats": len(walls)}


def resolved_engine(case: BenchCase, backend: str) -> str:
    """The engine the orthla side of ``case`` runs with on ``backend``."""
    if case.engine != "auto":
        return case.engine
    return "numba" if backend == "numpy" and importlib.util.find_spec("numba") else "xp"


def run_case(case: BenchCase, backend: str = "numpy", *, seed: int = 0,
             min_time: float = 0.3, max_reps: int = 20) -> list[dict]:
    """Time orthla and every anchor of ``case`` on the same inputs.

    Returns one row per anchor (one row with no anchor if there is none): best-of-repeats
    wall times in seconds (``orthla_s``, ``anchor_s``), their medians and interquartile ranges
    (``*_median_s``, ``*_iqr_s``), repeat counts (``*_repeats``), best CPU times
    (``orthla_cpu_s``, ``anchor_cpu_s``; less sensitive to other jobs on the machine), the
    error each side reached, and the engine the orthla side ran with.  orthla and the anchors are timed in alternating rounds (see
    ``_time_interleaved``).
    """
    xp = namespace_for(backend)
    inputs = case.setup(xp, np.random.default_rng(seed))
    names = list(case.anchors)
    fns = [lambda: case.run_orthla(inputs)] + [lambda fn=case.anchors[n]: fn(inputs) for n in names]
    timed = _time_interleaved(fns, xp, lambda out: case.error(inputs, out),
                              min_time=min_time, max_reps=max_reps)
    w_o, c_o, err_o = timed[0]
    base = {"case": case.name, "backend": backend, "engine": resolved_engine(case, backend),
            **_stats("orthla", w_o, c_o), "orthla_err": err_o, "error_name": case.error_name}
    rows = [{**base, "anchor": n, **_stats("anchor", w_a, c_a), "anchor_err": err_a}
            for n, (w_a, c_a, err_a) in zip(names, timed[1:], strict=True)]
    return rows or [{**base, "anchor": "-", **_stats("anchor", [], []), "anchor_err": math.nan}]
