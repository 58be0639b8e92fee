"""Side-by-side comparison cases: orthla against the tool a user would pick instead.

Each family lists its cases in ``orthla/<family>/_bench_cases.py`` as a function
``cases() -> list[BenchCase]``.  The same cases drive ``python -m orthla bench``
and the pytest-benchmark files in ``benchmarks/``.
"""

from __future__ import annotations

import importlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

FAMILIES = ("pivoting", "svdupdate", "tensor", "qmc", "kron", "ortho")
BACKENDS = ("numpy", "cupy", "torch")

__all__ = ["BACKENDS", "FAMILIES", "BenchCase", "family_cases", "namespace_for", "run_case", "synchronize"]


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
    """

    name: str
    setup: Callable[[Any, np.random.Generator], Any]
    run_orthla: Callable[[Any], Any]
    anchors: dict[str, Callable[[Any], Any]]
    error: Callable[[Any, Any], float]
    error_name: str = "rel. error"
    quick: bool = True
    backends: tuple[str, ...] = ("numpy",)


def family_cases(family: str) -> list[BenchCase] | None:
    """The cases of ``family``, or ``None`` while the family has none yet."""
    if family not in FAMILIES:
        raise ValueError(f"`family` must be one of {FAMILIES}; got {family!r}.")
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
                      min_time: float, max_reps: int, rounds: int = 5) -> list[tuple[float, float, float]]:
    """Best wall and CPU time of each of ``fns``, timed in alternating rounds, and its score.

    On a shared machine the load changes within seconds; timing all of one side's repeats
    and then all of the other's lets a load spike land on one side only.  Here every round
    runs each function for its share of ``min_time`` (at least once, up to ``max_reps`` in
    all), so both sides see the same load, and the best time over all rounds is kept.
    Rounds stop early (after two) when one round already took longer than ``min_time``:
    slow cases are timed three times in all, warm-up included.  Each output is scored right
    after its warm-up call, before any other side runs.
    """
    scores = []
    for fn in fns:  # warm-up: Numba compilation, CuPy kernel cache, BLAS pools
        out = fn()
        synchronize(xp)
        scores.append(float(score(out)))
    best_wall = [math.inf] * len(fns)
    best_cpu = [math.inf] * len(fns)
    reps = [0] * len(fns)
    per_round_cap = max(1, -(-max_reps // rounds))
    for r in range(rounds):
        round_t0 = time.perf_counter()
        for i, fn in enumerate(fns):
            spent, done = 0.0, 0
            while reps[i] < max_reps and (done == 0 or (spent < min_time / rounds and done < per_round_cap)):
                wall, cpu, _ = _timed_call(fn, xp)
                best_wall[i], best_cpu[i] = min(best_wall[i], wall), min(best_cpu[i], cpu)
                spent, done, reps[i] = spent + wall, done + 1, reps[i] + 1
        if r >= 1 and (time.perf_counter() - round_t0 > min_time or min(reps) >= max_reps):
            break
    return list(zip(best_wall, best_cpu, scores, strict=True))


def run_case(case: BenchCase, backend: str = "numpy", *, seed: int = 0,
             min_time: float = 0.3, max_reps: int = 20) -> list[dict]:
    """Time orthla and every anchor of ``case`` on the same inputs.

    Returns one row per anchor (one row with no anchor if there is none): best-of-repeats
    wall times in seconds (``orthla_s``, ``anchor_s``), best CPU times (``orthla_cpu_s``,
    ``anchor_cpu_s``; less sensitive to other jobs on the machine), and the error each side
    reached.  orthla and the anchors are timed in alternating rounds (see
    ``_time_interleaved``).
    """
    xp = namespace_for(backend)
    inputs = case.setup(xp, np.random.default_rng(seed))
    names = list(case.anchors)
    fns = [lambda: case.run_orthla(inputs)] + [lambda fn=case.anchors[n]: fn(inputs) for n in names]
    timed = _time_interleaved(fns, xp, lambda out: case.error(inputs, out),
                              min_time=min_time, max_reps=max_reps)
    t_o, c_o, err_o = timed[0]
    base = {"case": case.name, "backend": backend, "orthla_s": t_o, "orthla_cpu_s": c_o,
            "orthla_err": err_o, "error_name": case.error_name}
    rows = [{**base, "anchor": n, "anchor_s": t_a, "anchor_cpu_s": c_a, "anchor_err": err_a}
            for n, (t_a, c_a, err_a) in zip(names, timed[1:], strict=True)]
    return rows or [{**base, "anchor": "-", "anchor_s": math.nan, "anchor_cpu_s": math.nan,
                     "anchor_err": math.nan}]
