"""orthla.ortho.Householder against what users do instead, torch on CPU, one thread, float32.

* ``build+apply d=4096 r=64 k=2048``: ``Householder(V).apply(X)`` (compact WY, two tall GEMMs)
  against forming the dense ``Q`` and multiplying: ``torch.linalg.householder_product`` (LAPACK
  orgqr) + ``Q @ X``, and the hand-written loop of rank-one reflector updates
  ``Q <- Q - (2 / v^T v) (Q v) v^T`` + ``Q @ X``.  Error: max |Q X - ref| / max |X| against the
  float64 compact-WY result (the two anchors agree with it to float32 rounding).
* ``build d=4096 r=64``: ``Householder(V).matrix()`` is not what one would time; the build alone
  is ``Householder(V)`` (T and U), against the two dense builds above (no product with X).
* ``backward d=1024 r=64 k=1024``: gradient of ``sum(W * (Q X))`` with respect to the reflector
  entries, through ``Householder(V).apply(X)`` (plain torch autograd of the array-API code) against
  ``torch.linalg.householder_product`` + matmul.  Both sides use LAPACK's form (unit ``v_j[j]``,
  zeros above, free entries below), so the operator and the gradient are the same function of the
  parameters.  Error: relative difference of the gradient to a float64 householder_product one.

* ``... (explicit reflectors)``, slow (marked ``slow``; ``--slow`` on the command line): the literal
  recipe, the dense product of explicit ``d x d`` reflectors ``prod_j (I - 2 v_j v_j^T / v_j^T v_j)``
  (``r`` dense GEMMs of order 4096, ~9 TFLOP, minutes on one core) and then ``Q @ X``.

Run ``python benchmarks/bench_ortho_householder.py`` for the interleaved table (each side
alternating within rounds), or ``pytest benchmarks/bench_ortho_householder.py`` for
pytest-benchmark.
"""

import importlib.util

import numpy as np
import pytest

from conftest import parametrize_cases
from orthla._bench import BenchCase

HAVE_TORCH = importlib.util.find_spec("torch") is not None
pytestmark = pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")


def _lapack_form(p):
    """V with unit diagonal and zeros above it (LAPACK's geqrf form), from free entries ``p``."""
    import torch

    d, r = p.shape
    return torch.tril(p, -1) + torch.eye(d, r, dtype=p.dtype)


def _tau(v):
    return 2.0 / (v * v).sum(0)


def _pad(v):
    import torch

    d, r = v.shape
    return torch.cat([v, torch.zeros(d, d - r, dtype=v.dtype)], dim=1)


def _dense_rank1(v):
    """The hand-written build: Q = H_1 ... H_r by rank-one updates (Q <- Q H_j), O(d^2) each."""
    import torch

    d, r = v.shape
    q = torch.eye(d, dtype=v.dtype)
    for j in range(r):
        w = v[:, j]
        q = torch.addr(q, q @ w, w, alpha=-2.0 / float(w @ w))
    return q


def _dense_explicit(v):
    """The literal recipe: the product of the explicit d x d reflector matrices (r dense GEMMs)."""
    import torch

    d, r = v.shape
    eye = torch.eye(d, dtype=v.dtype)
    q = eye
    for j in range(r):
        w = v[:, j]
        q = q @ (eye - torch.outer(w, w) * (2.0 / (w @ w)))
    return q


def _apply_setup(d, r, k):
    def setup(xp, rng):
        import torch

        p = torch.as_tensor(rng.standard_normal((d, r)) / np.sqrt(d), dtype=torch.float32)
        v = _lapack_form(p)
        x = torch.as_tensor(rng.standard_normal((d, k)), dtype=torch.float32)
        from orthla.ortho import Householder

        ref = Householder(v.double()).apply(x.double())
        return {"v": v, "x": x, "ref": ref}

    return setup


def _apply_error(inputs, out):
    if out is None:
        return float("nan")
    return float((out.double() - inputs["ref"]).abs().max() / inputs["x"].abs().max())


def _build_error(inputs, out):
    """Error of the built operator, probed on 8 vectors against the float64 compact-WY result."""

    probe = inputs["x"][:, :8]
    y = out.apply(probe) if hasattr(out, "apply") else out @ probe
    return float((y.double() - inputs["ref"][:, :8]).abs().max() / probe.abs().max())


def _backward_setup(d, r, k):
    def setup(xp, rng):
        import torch

        p = torch.as_tensor(rng.standard_normal((d, r)) / np.sqrt(d), dtype=torch.float32)
        x = torch.as_tensor(rng.standard_normal((d, k)), dtype=torch.float32)
        w = torch.as_tensor(rng.standard_normal((d, k)), dtype=torch.float32)
        p64 = p.double().requires_grad_()
        v64 = _lapack_form(p64)
        q64 = torch.linalg.householder_product(_pad(v64), _tau(v64))
        ((q64 @ x.double()) * w.double()).sum().backward()
        return {"p": p, "x": x, "w": w, "gref": p64.grad}

    return setup


def _grad_ours(inputs):
    from orthla.ortho import Householder

    p = inputs["p"].detach().requires_grad_()
    y = Householder(_lapack_form(p)).apply(inputs["x"])
    (y * inputs["w"]).sum().backward()
    return p.grad


def _grad_torch(inputs):
    import torch

    p = inputs["p"].detach().requires_grad_()
    v = _lapack_form(p)
    q = torch.linalg.householder_product(_pad(v), _tau(v))
    ((q @ inputs["x"]) * inputs["w"]).sum().backward()
    return p.grad


def _grad_error(inputs, g):
    ref = inputs["gref"]
    return float((g.double() - ref).norm() / ref.norm())


def cases():
    import torch

    from orthla.ortho import Householder

    d, r, k = 4096, 64, 2048
    apply_anchors = {
        "householder_product+matmul": lambda i: torch.linalg.householder_product(_pad(i["v"]), _tau(i["v"])) @ i["x"],
        "rank-1 reflector loop+matmul": lambda i: _dense_rank1(i["v"]) @ i["x"],
    }
    build_anchors = {
        "householder_product": lambda i: torch.linalg.householder_product(_pad(i["v"]), _tau(i["v"])),
        "rank-1 reflector loop": lambda i: _dense_rank1(i["v"]),
    }
    return [
        BenchCase(f"Householder build+apply d={d} r={r} k={k}", _apply_setup(d, r, k),
                  lambda i: Householder(i["v"]).apply(i["x"]), apply_anchors, _apply_error,
                  error_name="max|QX - ref|/max|X|", backends=("torch",)),
        BenchCase(f"Householder build+apply d={d} r={r} k={k} (explicit reflectors)", _apply_setup(d, r, k),
                  lambda i: Householder(i["v"]).apply(i["x"]),
                  {"explicit reflector products+matmul": lambda i: _dense_explicit(i["v"]) @ i["x"]},
                  _apply_error, error_name="max|QX - ref|/max|X|", quick=False, backends=("torch",)),
        BenchCase(f"Householder build d={d} r={r}", _apply_setup(d, r, 8),
                  lambda i: Householder(i["v"]), build_anchors, _build_error,
                  error_name="max|QX - ref|/max|X| (8 probes)", backends=("torch",)),
        BenchCase("Householder backward d=1024 r=64 k=1024", _backward_setup(1024, 64, 1024),
                  _grad_ours, {"householder_product backward": _grad_torch}, _grad_error,
                  error_name="grad rel. error", backends=("torch",)),
    ]


@parametrize_cases(cases() if HAVE_TORCH else [])
def test_householder(compare, case, backend, tool):
    import torch

    torch.set_num_threads(1)  # like the pinned BLAS thread of the NumPy side
    compare(case, backend, tool)


def main(argv=None):
    """Interleaved timing (``orthla._bench.run_case``) printed as a Markdown table."""
    import argparse

    import scipy.linalg  # noqa: F401  (SciPy's OpenBLAS loaded before the thread limit)
    import torch
    from threadpoolctl import threadpool_limits

    from orthla._bench import run_case

    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("--slow", action="store_true", help="also the explicit-reflector anchor (minutes)")
    p.add_argument("--only-slow", action="store_true", help="only the explicit-reflector anchor")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    print("| case | orthla s (CPU s) | anchor | anchor s (CPU s) | speed-up (CPU) | orthla error | anchor error |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    with threadpool_limits(limits=1):
        for case in cases():
            if (not case.quick and not (args.slow or args.only_slow)) or (case.quick and args.only_slow):
                continue
            reps = 5 if case.quick else 1
            for row in run_case(case, "torch", min_time=2.0, max_reps=reps):
                print(f"| {row['case']} | {row['orthla_s']:.4f} ({row['orthla_cpu_s']:.4f}) | {row['anchor']} | "
                      f"{row['anchor_s']:.3f} ({row['anchor_cpu_s']:.3f}) | "
                      f"{row['anchor_cpu_s'] / row['orthla_cpu_s']:.0f}x | {row['orthla_err']:.1e} | "
                      f"{row['anchor_err']:.1e} |", flush=True)


if __name__ == "__main__":
    main()
