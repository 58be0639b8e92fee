"""orthla.ortho.cayley, exact and Neumann, against what OFT users write instead; torch CPU, one thread.

The OFT setting: a ``d = 4096`` layer split into ``4096 / b`` diagonal blocks of order
``b = 32, 64, 128, 256``, one skew generator per block (float32, each block scaled to
``||S||_2 = 0.2``), all blocks in one batched call.

* ``cayley exact b=..``: ``cayley(S)`` (batched LU solve, with the skew check and the bounds)
  against the two hand-written forms: ``torch.linalg.solve(I + S, I - S)`` and
  ``(I - S) @ torch.linalg.inv(I + S)`` (the inverse is what peft's OFT writes).
* ``cayley neumann K=.. b=..``: ``cayley(S, method="neumann", terms=K)`` against the hand-written
  peft/OFTv2 loop ``I + 2 sum_{1<=k<K} (-S)^k`` (no check, no bound) with the same ``K`` -- it
  takes ``K - 2`` batched products where orthla's ``(I - S) sum_{k<K} (-S)^k`` takes ``K - 1`` --
  and with ``K + 1``, the same number of products.

Error column: ``max_blocks ||Q^T Q - I||_2`` (float64), the orthogonality each side delivers; the
orthla Neumann row also carries its a-priori bound (printed by ``main``).

Run ``python benchmarks/bench_ortho_cayley.py`` for the interleaved table, or
``pytest benchmarks/bench_ortho_cayley.py`` for pytest-benchmark.
"""

import importlib.util

import numpy as np
import pytest

from conftest import parametrize_cases
from orthla._bench import BenchCase

HAVE_TORCH = importlib.util.find_spec("torch") is not None
pytestmark = pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")

D = 4096
BLOCKS = (32, 64, 128, 256)
TERMS = (2, 3, 4, 5, 6)
NORM = 0.2


def _setup(b):
    def setup(xp, rng):
        import torch

        g = rng.standard_normal((D // b, b, b))
        s = g - np.swapaxes(g, -1, -2)
        s *= (NORM / np.linalg.norm(s, 2, axis=(-2, -1)))[:, None, None]
        return {"S": torch.as_tensor(s, dtype=torch.float32), "eye": torch.eye(b, dtype=torch.float32)}

    return setup


def _orth_error(inputs, out):
    q = getattr(out, "Q", out).double()
    eye = torch_eye_like(q)
    return float(np_max_2norm(q.mT @ q - eye))


def torch_eye_like(q):
    import torch

    return torch.eye(q.shape[-1], dtype=q.dtype)


def np_max_2norm(a):
    import torch

    return torch.linalg.matrix_norm(a, ord=2).max()


def _peft_neumann(S, eye, terms):
    """The hand-written series of OFTv2/peft: I + 2 sum_{1<=k<K} (-S)^k (no check, no bound)."""
    import torch

    A = -S
    R = eye.expand_as(A).clone()
    if terms > 1:
        R = R + 2.0 * A
        P = A
        for _ in range(2, terms):
            P = torch.bmm(P, A)
            R = R + 2.0 * P
    return R


def cases():
    import torch

    from orthla.ortho import cayley

    out = []
    for b in BLOCKS:
        quick = b in (32, 64)
        out.append(BenchCase(
            f"cayley exact b={b}", _setup(b), lambda i: cayley(i["S"]),
            {"torch.linalg.solve(I+S, I-S)": lambda i: torch.linalg.solve(i["eye"] + i["S"], i["eye"] - i["S"]),
             "(I-S) @ torch.linalg.inv(I+S)": lambda i: (i["eye"] - i["S"]) @ torch.linalg.inv(i["eye"] + i["S"])},
            _orth_error, error_name="max ||Q^T Q - I||_2", quick=quick, backends=("torch",)))
        for k in TERMS:
            out.append(BenchCase(
                f"cayley neumann K={k} b={b}", _setup(b),
                lambda i, k=k: cayley(i["S"], method="neumann", terms=k),
                {f"hand-written series K={k}": lambda i, k=k: _peft_neumann(i["S"], i["eye"], k),
                 f"hand-written series K={k + 1} (same {k - 1} products)":
                     lambda i, k=k: _peft_neumann(i["S"], i["eye"], k + 1)},
                _orth_error, error_name="max ||Q^T Q - I||_2", quick=quick, backends=("torch",)))
    return out


@parametrize_cases(cases() if HAVE_TORCH else [])
def test_cayley(compare, case, backend, tool):
    import torch

    torch.set_num_threads(1)  # like the pinned BLAS thread of the NumPy side
    compare(case, backend, tool)


def main():
    """Interleaved timing (``orthla._bench.run_case``) printed as a Markdown table."""
    import scipy.linalg  # noqa: F401  (SciPy's OpenBLAS loaded before the thread limit)
    import torch
    from threadpoolctl import threadpool_limits

    from orthla._bench import namespace_for, run_case

    torch.set_num_threads(1)
    print("| case | orthla ms (CPU ms) | orthla orth. error | bound | anchor | anchor ms (CPU ms) | "
          "anchor/orthla (CPU) | anchor orth. error |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    with threadpool_limits(limits=1):
        for case in cases():
            inputs = case.setup(namespace_for("torch"), np.random.default_rng(0))
            res = case.run_orthla(inputs)
            bound = f"{res.orth_bound:.1e}" + ("" if res.method == case.name.split()[1] else f" ({res.method})")
            for row in run_case(case, "torch", min_time=1.0, max_reps=10):
                print(f"| {row['case']} | {1e3 * row['orthla_s']:.2f} ({1e3 * row['orthla_cpu_s']:.2f}) | "
                      f"{row['orthla_err']:.1e} | {bound} | {row['anchor']} | "
                      f"{1e3 * row['anchor_s']:.2f} ({1e3 * row['anchor_cpu_s']:.2f}) | "
                      f"{row['anchor_cpu_s'] / row['orthla_cpu_s']:.2f} | {row['anchor_err']:.1e} |", flush=True)


if __name__ == "__main__":
    main()
