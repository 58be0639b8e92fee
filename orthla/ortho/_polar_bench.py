"""Comparison cases of msign and polar for ``benchmarks/bench_ortho.py`` (and ``python -m orthla
bench`` once ``ortho`` is wired into ``orthla._bench.FAMILIES``): the reference Muon loop in NumPy
and torch, the plain against the Gram-side iteration, ``scipy.linalg.polar``.
"""

import numpy as np

from .._backend import is_torch
from .._bench import BenchCase
from .._testing import to_host
from ._msign import msign
from ._polar import polar

__all__ = ["cases", "reference_muon_numpy", "reference_muon_torch"]

MUON = (3.4445, -4.7750, 2.0315)
_POLAR_CACHE: dict = {}


def reference_muon_numpy(g, steps=5, eps=1e-7):
    """The published Muon recipe, in NumPy (float32 in, float32 out); ``eps`` guards the norm."""
    a, b, c = MUON
    x = g / (np.linalg.norm(g, axis=(-2, -1), keepdims=True) + eps)
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


def cases() -> list[BenchCase]:
    """Every msign/polar comparison (the stacked 12x768x3072 ones are not ``quick``)."""
    return _msign_cases() + _polar_cases()
