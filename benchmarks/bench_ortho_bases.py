"""orthla.ortho (qr, procrustes) against the tools a user would pick instead, same inputs, same run.

BLAS is pinned to one thread by ``conftest.py``.  Each test times one tool on one case (warm-up
call first, then ``benchmark.pedantic``) and records the accuracy it reached in ``extra_info``
(``orthogonality = ||Q^T Q - I||_F``, ``backward = ||A - QR||_F / ||A||_F``, Procrustes
``residual`` or the deviation from the reference rotation), plus the CPU time of one more call
(``cpu_s``), which moves less than wall time on a shared machine.  Run::

    pytest benchmarks/bench_ortho_bases.py                 # quick cases
    pytest benchmarks/bench_ortho_bases.py -m "slow or not slow"   # with 1e6 x 50 and n = 2048

The loop over ``scipy.spatial.transform.Rotation.align_vectors`` is timed on the first
``ALIGN_SUBSET`` problems and scaled linearly to the whole batch (``extra_info["scaled_s"]``):
one call per problem, so its time is linear in the number of problems.
"""

import time

import numpy as np
import pytest
import scipy.linalg

from orthla.ortho import procrustes, qr

ALIGN_SUBSET = 2_000
BATCH = 100_000

_CACHE: dict = {}


def _tall(m, n):
    key = ("tall", m, n)
    if key not in _CACHE:
        _CACHE.clear()  # one large input alive at a time
        _CACHE[key] = np.random.default_rng(0).standard_normal((m, n))
    return _CACHE[key]


def _cpu(fn):
    c0 = time.process_time()
    fn()
    return time.process_time() - c0


QR_TOOLS = {
    "numpy.linalg.qr": lambda a: np.linalg.qr(a),
    "scipy.linalg.qr": lambda a: scipy.linalg.qr(a, mode="economic", check_finite=False),
    "orthla cholqr2": lambda a: qr(a, method="cholqr2"),
    "orthla auto": lambda a: qr(a),
    "orthla shifted-cholqr3": lambda a: qr(a, method="shifted-cholqr3"),
    "orthla rand-cholqr": lambda a: qr(a, method="rand-cholqr", rng=0),
    "orthla householder": lambda a: qr(a, method="householder"),
}
QR_SIZES = [pytest.param((100_000, 100), id="100000x100"),
            pytest.param((1_000_000, 50), id="1000000x50", marks=pytest.mark.slow)]


@pytest.mark.parametrize("tool", list(QR_TOOLS))
@pytest.mark.parametrize("size", QR_SIZES)
def test_qr(benchmark, size, tool):
    m, n = size
    a = _tall(m, n)
    fn = QR_TOOLS[tool]
    fn(a)  # warm-up
    benchmark.group = f"qr {m}x{n}"
    q, r = benchmark.pedantic(lambda: fn(a), rounds=3 if m <= 100_000 else 2, warmup_rounds=0)
    benchmark.extra_info.update(
        tool=tool,
        orthogonality=float(np.linalg.norm(q.T @ q - np.eye(n))),
        backward=float(np.linalg.norm(q @ r - a) / np.linalg.norm(a)),
        cpu_s=_cpu(lambda: fn(a)),
    )


# ---------------------------------------------------------------- procrustes

def _stack():
    key = ("stack",)
    if key not in _CACHE:
        _CACHE.clear()
        rng = np.random.default_rng(1)
        a = rng.standard_normal((BATCH, 3, 3))
        b = rng.standard_normal((BATCH, 3, 3))
        _CACHE[key] = (a, b)
    return _CACHE[key]


def _align_loop(a, b):
    from scipy.spatial.transform import Rotation

    # align_vectors(b_i, a_i) finds C with b_i ≈ C a_i (rows as vectors), i.e. b = a C^T.
    return np.stack([Rotation.align_vectors(b[k], a[k])[0].as_matrix().T for k in range(len(a))])


def _kabsch_reference(a, b):
    u, _, vt = np.linalg.svd(np.swapaxes(a, -1, -2) @ b)
    d = np.sign(np.linalg.det(u @ vt))
    u = u.copy()
    u[..., -1] *= d[:, None]
    return u @ vt


@pytest.mark.parametrize("tool", ["orthla procrustes(rotation=True)",
                                  "loop of Rotation.align_vectors",
                                  "numpy batched SVD (Kabsch)"])
def test_procrustes_stack_3x3(benchmark, tool):
    a, b = _stack()
    benchmark.group = f"procrustes {BATCH} x (3x3), rotation=True"
    if tool.startswith("orthla"):
        def fn():
            return procrustes(a, b, rotation=True).R
        count = BATCH
    elif tool.startswith("loop"):
        a, b = a[:ALIGN_SUBSET], b[:ALIGN_SUBSET]

        def fn():
            return _align_loop(a, b)
        count = ALIGN_SUBSET
    else:
        def fn():
            return _kabsch_reference(a, b)
        count = BATCH
    fn()
    r = benchmark.pedantic(fn, rounds=3, warmup_rounds=0)
    ref = _kabsch_reference(a[:ALIGN_SUBSET], b[:ALIGN_SUBSET])
    benchmark.extra_info.update(
        tool=tool, problems_timed=count,
        scaled_s=float(benchmark.stats.stats.min) * BATCH / count,
        max_dev_from_kabsch=float(np.abs(r[:ALIGN_SUBSET] - ref).max()),
        min_det=float(np.linalg.det(r).min()),
        cpu_s_scaled=_cpu(fn) * BATCH / count,
    )


@pytest.mark.slow
@pytest.mark.parametrize("tool", ["orthla procrustes", "scipy.linalg.orthogonal_procrustes"])
def test_procrustes_square_2048(benchmark, tool):
    key = ("square",)
    if key not in _CACHE:
        _CACHE.clear()
        rng = np.random.default_rng(2)
        _CACHE[key] = (rng.standard_normal((2048, 2048)), rng.standard_normal((2048, 2048)))
    a, b = _CACHE[key]
    if tool.startswith("orthla"):
        def fn():
            return procrustes(a, b).R
    else:
        def fn():
            return scipy.linalg.orthogonal_procrustes(a, b, check_finite=False)[0]
    benchmark.group = "procrustes 2048x2048"
    r = benchmark.pedantic(fn, rounds=2, warmup_rounds=0)
    benchmark.extra_info.update(
        tool=tool,
        orthogonality=float(np.linalg.norm(r.T @ r - np.eye(2048))),
        residual=float(np.linalg.norm(a @ r - b)),
        cpu_s=_cpu(fn),
    )
