"""orthla.ortho msign/polar against the tools a user would pick instead, on the same inputs.

* ``msign`` against the hand-written reference Muon loop (Jordan et al.: Frobenius normalization,
  5 steps of the fixed quintic), in NumPy and in torch on CPU: the Muon schedule at equal steps
  (same GEMMs: the time ratio is orthla's overhead) and the Polar Express schedule at the same
  GEMM count (the accuracy gain); the distance to the exact polar factor is recorded.
* ``polar`` (QDWH and auto) against ``scipy.linalg.polar``.

The msign cases are not yet in ``orthla._bench.FAMILIES`` (``python -m orthla bench``); they
are listed here with the same ``BenchCase`` record and timed by the shared ``compare`` fixture.
"""

import importlib.util

import numpy as np
import pytest

from orthla._backend import is_torch
from orthla._bench import BenchCase
from orthla._testing import to_host
from orthla.ortho import msign, polar

MUON = (3.4445, -4.7750, 2.0315)
_POLAR_CACHE: dict = {}


def reference_muon_numpy(g, steps=5):
    """The published Muon recipe, in NumPy (float32 in, float32 out)."""
    a, b, c = MUON
    x = g / (np.linalg.norm(g, axis=(-2, -1), keepdims=True) + 1e-7)
    tall = g.shape[-2] > g.shape[-1]
    if tall:
        x = np.swapaxes(x, -1, -2)
    for _ in range(steps):
        A = x @ np.swapaxes(x, -1, -2)
        B = b * A + c * A @ A
        x = a * x + B @ x
    return np.swapaxes(x, -1, -2) if tall else x


def reference_muon_torch(g, steps=5):
    """The published Muon recipe in torch (as in the Muon repository, without bfloat16)."""
    a, b, c = MUON
    x = g / (g.norm(dim=(-2, -1), keepdim=True) + 1e-7)
    tall = g.size(-2) > g.size(-1)
    if tall:
        x = x.mT
    for _ in range(steps):
        A = x @ x.mT
        B = b * A + c * A @ A
        x = a * x + B @ x
    return x.mT if tall else x


def _setup(shape, seed=0):
    def setup(xp, rng):
        a = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
        return {"xp": xp, "a": xp.asarray(a), "shape": shape, "a_host": a}

    return setup


def _exact_polar(inputs):
    key = inputs["shape"]
    if key not in _POLAR_CACHE:
        w, _, vh = np.linalg.svd(inputs["a_host"].astype(np.float64), full_matrices=False)
        _POLAR_CACHE[key] = w @ vh
    return _POLAR_CACHE[key]


def _distance(inputs, out):
    p = _exact_polar(inputs)
    return np.linalg.norm(to_host(out).astype(np.float64) - p) / np.linalg.norm(p)


def _reference(inputs):
    fn = reference_muon_torch if is_torch(inputs["xp"]) else reference_muon_numpy
    return fn(inputs["a"])


def _msign_cases():
    out = []
    for shape, quick in (((1024, 4096), True), ((4096, 1024), True), ((12, 768, 3072), False)):
        label = "x".join(map(str, shape))
        for sched in ("muon", "polar-express"):
            out.append(BenchCase(
                name=f"msign {sched} 5 steps {label} fp32",
                setup=_setup(shape),
                run_orthla=lambda i, s=sched: msign(i["a"], schedule=s, steps=5),
                anchors={"reference Muon loop (5 steps)": _reference},
                error=_distance, error_name="||U - polar(a)||_F / ||polar(a)||_F",
                quick=quick, backends=("numpy", "torch"),
            ))
    out.append(BenchCase(
        name="msign polar-express 5 steps 512x4096 fp32, gram=True vs plain",
        setup=_setup((512, 4096)),
        run_orthla=lambda i: msign(i["a"], steps=5, gram=True),
        anchors={"msign plain (gram=False)": lambda i: msign(i["a"], steps=5)},
        error=_distance, error_name="||U - polar(a)||_F / ||polar(a)||_F",
        quick=True, backends=("numpy", "torch"),
    ))
    return out


def _polar_setup(n):
    def setup(xp, rng):
        a = np.random.default_rng(1).standard_normal((n, n))
        return {"xp": xp, "a": a}

    return setup


def _polar_error(inputs, out):
    u, h = out
    a = inputs["a"]
    n = a.shape[1]
    return max(np.linalg.norm(u.T @ u - np.eye(n)), np.linalg.norm(u @ h - a) / np.linalg.norm(a))


def _scipy_polar(inputs):
    import scipy.linalg

    return scipy.linalg.polar(inputs["a"])


def _polar_cases():
    return [
        BenchCase(name=f"polar {method} 1024x1024 fp64", setup=_polar_setup(1024),
                  run_orthla=lambda i, m=method: polar(i["a"], method=m),
                  anchors={"scipy.linalg.polar": _scipy_polar}, error=_polar_error,
                  error_name="max(||U^T U - I||_F, ||UH - A||_F / ||A||_F)", quick=True, backends=("numpy",))
        for method in ("auto", "qdwh")
    ]


def _params():
    params = []
    for case in _msign_cases() + _polar_cases():
        for backend in case.backends:
            if importlib.util.find_spec(backend) is None:
                continue
            for tool in ("orthla", *case.anchors):
                marks = () if case.quick else (pytest.mark.slow,)
                params.append(pytest.param(case, backend, tool, id=f"{case.name}|{backend}|{tool}".replace(" ", "_"),
                                           marks=marks))
    return params


@pytest.mark.parametrize(("case", "backend", "tool"), _params())
def test_ortho(compare, case, backend, tool):
    if backend == "torch":
        import torch

        torch.set_num_threads(1)  # like the pinned BLAS thread of the NumPy side
    compare(case, backend, tool)


def main(argv=None):
    """Interleaved timing (``orthla._bench.run_case``: both sides alternate within each round, so
    a load spike on a shared machine hits both) printed as the table in docs/ortho.md."""
    import argparse

    import scipy.linalg  # noqa: F401  (SciPy's OpenBLAS loaded before the thread limit)
    from threadpoolctl import threadpool_limits

    from orthla._bench import run_case

    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("--slow", action="store_true", help="also the stacked 12x768x3072 cases")
    p.add_argument("--backends", default="numpy,torch")
    args = p.parse_args(argv)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    print("| case | backend | orthla s (CPU s) | anchor | anchor s (CPU s) | CPU ratio | orthla distance/error | anchor |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    with threadpool_limits(limits=1):
        for case in _msign_cases() + _polar_cases():
            if not case.quick and not args.slow:
                continue
            for backend in args.backends.split(","):
                if backend not in case.backends or importlib.util.find_spec(backend) is None:
                    continue
                for r in run_case(case, backend, min_time=2.0, max_reps=5):
                    print(f"| {r['case']} | {backend} | {r['orthla_s']:.3f} ({r['orthla_cpu_s']:.3f}) | {r['anchor']} | "
                          f"{r['anchor_s']:.3f} ({r['anchor_cpu_s']:.3f}) | {r['orthla_cpu_s'] / r['anchor_cpu_s']:.2f} | "
                          f"{r['orthla_err']:.2e} | {r['anchor_err']:.2e} |", flush=True)


if __name__ == "__main__":
    main()
