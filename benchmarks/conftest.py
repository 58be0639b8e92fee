"""pytest-benchmark glue: every family's cases from ``orthla.<family>._bench_cases``.

Each case is timed twice in the same run, orthla and the anchor tool, on the same
inputs, after a warm-up call (Numba JIT, CuPy kernel cache) and with GPU
synchronisation; the accuracy reached goes into ``extra_info``.  BLAS is pinned
to one thread (override with ORTHLA_BENCH_THREADS).  Backends: ORTHLA_BENCH_BACKENDS
(comma list, default every usable one of numpy, cupy, torch).
"""

import importlib.util
import os

import numpy as np
import pytest
import scipy.linalg  # noqa: F401  (load SciPy's own OpenBLAS before threadpool_limits pins BLAS)
from threadpoolctl import threadpool_limits

from orthla._bench import BACKENDS, family_cases, namespace_for, synchronize


def usable_backends():
    env = os.environ.get("ORTHLA_BENCH_BACKENDS")
    names = env.split(",") if env else BACKENDS
    out = []
    for name in names:
        if importlib.util.find_spec(name) is None:
            continue
        try:
            namespace_for(name)
        except RuntimeError:
            continue
        out.append(name)
    return out


def parametrize_family(family):
    """``pytest.mark.parametrize`` over (case, backend, tool) for one family."""
    return parametrize_cases(family_cases(family) or [])


def parametrize_cases(cases):
    """``pytest.mark.parametrize`` over (case, backend, tool) for a list of ``BenchCase``."""
    params = []
    backends = usable_backends()
    for case in cases:
        for backend in backends:
            if backend not in case.backends:
                continue
            for tool in ("orthla", *case.anchors):
                cid = f"{case.name}|{backend}|{tool}".replace(" ", "_")
                marks = () if case.quick else (pytest.mark.slow,)
                params.append(pytest.param(case, backend, tool, id=cid, marks=marks))
    return pytest.mark.parametrize(("case", "backend", "tool"), params)


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with threadpool_limits(limits=int(os.environ.get("ORTHLA_BENCH_THREADS", "1"))):
        yield


@pytest.fixture
def compare(benchmark):
    """Runner timing one side of a case: warm-up first, GPU synchronised inside the timed call.

    Usage in a family file: ``compare(case, backend, tool)``; results are grouped per case so
    orthla and its anchors print side by side, and the error reached goes into ``extra_info``.
    """

    def run(case, backend, tool):
        xp = namespace_for(backend)
        inputs = case.setup(xp, np.random.default_rng(0))
        fn = case.run_orthla if tool == "orthla" else case.anchors[tool]

        def call():
            out = fn(inputs)
            synchronize(xp)
            return out

        call()  # warm-up: Numba JIT, CuPy kernel cache
        benchmark.group = f"{case.name} [{backend}]"
        out = benchmark.pedantic(call, rounds=5 if case.quick else 3, warmup_rounds=1)
        benchmark.extra_info.update(tool=tool, error=float(case.error(inputs, out)),
                                    error_name=case.error_name)

    return run
