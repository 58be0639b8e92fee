"""Comparison cases for ``python -m orthla bench kron`` and ``benchmarks/bench_kron.py``.

Anchors: pykronecker (when installed) for Kronecker matvecs and the hand-built
eigenbasis solve a pykronecker user writes; GPyTorch's ``linear_operator`` (when it and
torch are installed; float64 CPU tensors, one torch thread) for the same matvecs and the
shifted solve + logdet through ``KroneckerProductLinearOperator.add_diagonal``; SciPy for
Sylvester/Lyapunov, sparse Poisson and dense solves; a single GEMM with the same flop
count as the Kronecker matvec, ``2 N sum n_k``, is listed as "GEMM floor" (the time BLAS
needs for those flops).
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings

import numpy as np

from .._bench import BenchCase, has_tool, namespace_for
from ._eigh import KronEigh
from ._nearest import nearest_kron
from ._operator import KronOperator
from ._poisson import poisson_solve
from ._sums import kron_sum_solve, solve_sylvester

_NAN = float("nan")


def _pykronecker():
    if not has_tool("pykronecker", "kron anchor pykronecker"):
        return None
    with contextlib.redirect_stdout(io.StringIO()):  # it prints its backend on import
        import pykronecker
    return pykronecker


def _has_linear_operator():
    return (has_tool("torch", "kron anchor linear_operator (GPyTorch)")
            and has_tool("linear_operator", "kron anchor linear_operator (GPyTorch)"))


def _lo_operators():
    """``linear_operator.operators``, imported without its torch.jit.script deprecation warning."""
    with warnings.catch_warnings():
        # linear_operator 0.6 decorates CG helpers with torch.jit.script, deprecated in torch 2.13;
        # pytest's filterwarnings = error would turn that import-time notice into a failure.
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*is deprecated", category=DeprecationWarning)
        from linear_operator import operators
    return operators


def _to_torch(a):
    import torch

    torch.set_num_threads(1)  # one thread on both sides, like the pinned BLAS
    return torch.from_numpy(np.ascontiguousarray(a)).clone()


def _as_numpy(out):
    """NumPy view of an output (torch CPU tensors from the linear_operator anchors)."""
    return out.numpy() if hasattr(out, "numpy") else np.asarray(out)


def _spd(rng, n, cond=100.0):
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    a = (q * np.logspace(0, -math.log10(cond), n)) @ q.T
    return (a + a.T) / 2


# -- Kronecker matvec ----------------------------------------------------------------------
def _matvec_setup(d, n, k):
    def setup(xp, rng):
        mats = [rng.standard_normal((n, n)) for _ in range(d)]
        shape = (n**d,) if k == 1 else (n**d, k)
        x = rng.standard_normal(shape)
        # Reference by tensordot in the mode order 2, 1, 3, ..., d: neither the forward nor the
        # reverse order of orthla's two contraction plans, so its rounding is independent.
        ref = x.reshape(*(n,) * d, -1)
        for ax in (1, 0, *range(2, d)):
            ref = np.moveaxis(np.tensordot(mats[ax], ref, axes=([1], [ax])), 0, ax)
        ref = ref.reshape(shape)
        # Same flop count as the Kronecker matvec: (N k / n) x n times n x (d n).
        ga = rng.standard_normal((n**d * k // n, n))
        gb = rng.standard_normal((n, d * n))
        return {"op": KronOperator(mats), "mats": mats, "x": x, "ref": ref, "gemm": (ga, gb)}

    return setup


def _matvec_error(inputs, out):
    if out is None:
        return _NAN
    return float(np.linalg.norm(_as_numpy(out) - inputs["ref"]) / np.linalg.norm(inputs["ref"]))


def _pyk_matvec(inputs):
    pyk = _pykronecker()
    op = inputs.setdefault("pyk", pyk.KroneckerProduct(inputs["mats"]))
    return op @ inputs["x"]


def _lo_matvec_setup(d, n, k):
    base = _matvec_setup(d, n, k)

    def setup(xp, rng):
        inputs = base(xp, rng)
        ops = _lo_operators()
        # Same row-major convention as numpy.kron(A_1, ..., A_d): factors in the same order.
        inputs["lo_op"] = ops.KroneckerProductLinearOperator(
            *[ops.DenseLinearOperator(_to_torch(a)) for a in inputs["mats"]])
        inputs["lo_x"] = _to_torch(inputs["x"])
        return inputs

    return setup


def _lo_matvec(inputs):
    return inputs["lo_op"] @ inputs["lo_x"]


def _gemm_floor(inputs):
    ga, gb = inputs["gemm"]
    ga @ gb
    return None


def _matvec_cases():
    out = []
    for d, n, k, quick in ((3, 64, 1, True), (5, 16, 1, True), (3, 64, 8, False), (5, 16, 8, False)):
        anchors = {"GEMM floor (2N sum n_k flops)": _gemm_floor}
        if _pykronecker() is not None:
            anchors["pykronecker.KroneckerProduct"] = _pyk_matvec
        setup = _matvec_setup(d, n, k)
        if _has_linear_operator():
            anchors["linear_operator (GPyTorch)"] = _lo_matvec
            setup = _lo_matvec_setup(d, n, k)
        out.append(BenchCase(
            name=f"KronOperator @ x, {d} x {n}x{n}, N={n**d}, {k} rhs", setup=setup,
            run_orthla=lambda i: i["op"] @ i["x"], anchors=anchors, error=_matvec_error,
            error_name="matvec: rel. error vs tensordot in mode order 2,1,3,...", quick=quick))
    return out


# -- shifted solve + logdet ----------------------------------------------------------------
def _shifted_setup(d, n, k, s2=1e-3):
    def setup(xp, rng):
        x = np.linspace(0, 1, n)
        mats = [np.exp(-np.abs(x[:, None] - x[None, :]) / (0.2 + 0.1 * j)) for j in range(d)]
        y = rng.standard_normal((n**d,) if k == 1 else (n**d, k))
        return {"mats": mats, "y": y, "s2": s2, "op": KronOperator(mats)}

    return setup


def _orthla_shifted(inputs):
    ke = KronEigh(inputs["mats"])
    return ke.solve(inputs["y"], shift=inputs["s2"]), float(ke.logdet(shift=inputs["s2"]))


def _pyk_shifted(inputs):
    pyk = _pykronecker()
    vals, vecs = zip(*(np.linalg.eigh(a) for a in inputs["mats"]), strict=True)
    q = pyk.KroneckerProduct(list(vecs))
    lam = vals[0]
    for v in vals[1:]:
        lam = np.multiply.outer(lam, v).reshape(-1)
    lam = lam + inputs["s2"]
    y = inputs["y"]
    z = (q.T @ y) / (lam if y.ndim == 1 else lam[:, None])
    return q @ z, float(np.sum(np.log(lam)))


def _lo_shifted_setup(d, n, k):
    base = _shifted_setup(d, n, k)

    def setup(xp, rng):
        inputs = base(xp, rng)
        inputs["lo_mats"] = [_to_torch(a) for a in inputs["mats"]]
        inputs["lo_y"] = _to_torch(inputs["y"])
        return inputs

    return setup


def _lo_shifted(inputs):
    """What a linear_operator user writes: Kronecker operator + s2 I, then solve and logdet.

    ``add_diagonal`` with a scalar gives a ``KroneckerProductAddedDiagLinearOperator`` with a
    constant diagonal; for N above ``settings.max_cholesky_size`` (800) its ``solve`` and
    ``logdet`` use the per-factor eigendecompositions (no CG, no Lanczos).  Built inside the
    timed call, as orthla builds its ``KronEigh``, so no cached eigendecomposition carries over.
    """
    import torch

    ops = _lo_operators()
    k = ops.KroneckerProductLinearOperator(*[ops.DenseLinearOperator(a) for a in inputs["lo_mats"]])
    a = k.add_diagonal(torch.tensor(inputs["s2"], dtype=torch.float64))
    return a.solve(inputs["lo_y"]), float(a.logdet())


def _shifted_error(inputs, out):
    x = _as_numpy(out[0])
    y = inputs["y"]
    r = inputs["op"] @ x + inputs["s2"] * x - y
    return float(np.linalg.norm(r) / np.linalg.norm(y))


def _shifted_cases():
    out = []
    for d, n, k, quick in ((3, 64, 1, True), (5, 16, 1, False), (3, 64, 8, False), (5, 16, 8, False)):
        anchors = {} if _pykronecker() is None else {"pykronecker (hand-built eigenbasis)": _pyk_shifted}
        setup = _shifted_setup(d, n, k)
        if _has_linear_operator():
            anchors["linear_operator (GPyTorch)"] = _lo_shifted
            setup = _lo_shifted_setup(d, n, k)
        out.append(BenchCase(
            name=f"KronEigh solve+logdet, {d} x {n}, N={n**d}, {k} rhs", setup=setup,
            run_orthla=_orthla_shifted, anchors=anchors, error=_shifted_error,
            error_name="shifted solve: rel. residual", quick=quick))
    return out


# -- Sylvester -----------------------------------------------------------------------------
def _sylvester_setup(n, symmetric):
    def setup(xp, rng):
        if symmetric:
            a, b = _spd(rng, n), _spd(rng, n)
        else:
            a = rng.standard_normal((n, n)) / math.sqrt(n) + 2 * np.eye(n)
            b = rng.standard_normal((n, n)) / math.sqrt(n) + 2 * np.eye(n)
        return {"a": a, "b": b, "c": rng.standard_normal((n, n))}

    return setup


def _sylvester_error(inputs, x):
    a, b, c = inputs["a"], inputs["b"], inputs["c"]
    r = a @ x + x @ b - c
    return float(np.linalg.norm(r) / ((np.linalg.norm(a) + np.linalg.norm(b)) * np.linalg.norm(x)))


def _scipy_sylvester(inputs):
    import scipy.linalg

    return scipy.linalg.solve_sylvester(inputs["a"], inputs["b"], inputs["c"])


def _sylvester_cases():
    out = []
    for n, sym, quick in ((200, True, True), (500, True, False), (1000, True, False),
                          (200, False, True), (500, False, False)):
        out.append(BenchCase(
            name=f"solve_sylvester n={n} {'symmetric' if sym else 'general'}",
            setup=_sylvester_setup(n, sym),
            run_orthla=lambda i: solve_sylvester(i["a"], i["b"], i["c"]),
            anchors={"scipy.linalg.solve_sylvester": _scipy_sylvester}, error=_sylvester_error,
            error_name="Sylvester: ||AX+XB-C|| / ((||A||+||B||) ||X||)", quick=quick))
    return out


# -- Poisson -------------------------------------------------------------------------------
def _poisson_setup(n):
    def setup(xp, rng):
        import scipy.sparse

        h = 1.0 / (n + 1)
        t = scipy.sparse.diags([-np.ones(n - 1), 2 * np.ones(n), -np.ones(n - 1)], [-1, 0, 1]) / h**2
        eye = scipy.sparse.identity(n)
        lap = scipy.sparse.csc_matrix(scipy.sparse.kron(t, eye) + scipy.sparse.kron(eye, t))
        return {"f": rng.standard_normal((n, n)), "h": h, "lap": lap}

    return setup


def _poisson_error(inputs, u):
    f = inputs["f"].reshape(-1)
    return float(np.linalg.norm(inputs["lap"] @ u.reshape(-1) - f) / np.linalg.norm(f))


def _spsolve(inputs):
    from scipy.sparse.linalg import spsolve

    return spsolve(inputs["lap"], inputs["f"].reshape(-1)).reshape(inputs["f"].shape)


def _poisson_cases():
    return [BenchCase(name=f"poisson_solve 2-D n={n} (N={n * n})", setup=_poisson_setup(n),
                      run_orthla=lambda i: poisson_solve(i["f"], i["h"]),
                      anchors={"scipy.sparse.linalg.spsolve": _spsolve}, error=_poisson_error,
                      error_name="Poisson: rel. residual", quick=quick)
            for n, quick in ((255, True), (1023, False))]


# -- Kronecker sum, nearest Kronecker product ----------------------------------------------
def _kron_sum_setup(n):
    def setup(xp, rng):
        mats = [_spd(rng, n), _spd(rng, n)]
        dense = np.kron(mats[0], np.eye(n)) + np.kron(np.eye(n), mats[1]) + 0.1 * np.eye(n * n)
        return {"mats": mats, "dense": dense, "b": rng.standard_normal(n * n)}

    return setup


def _kron_sum_error(inputs, x):
    return float(np.linalg.norm(inputs["dense"] @ x - inputs["b"]) / np.linalg.norm(inputs["b"]))


def _dense_solve(inputs):
    import scipy.linalg

    return scipy.linalg.solve(inputs["dense"], inputs["b"], assume_a="pos", check_finite=False)


def _nearest_setup(nb, nc):
    def setup(xp, rng):
        terms = [(rng.standard_normal((nb, nb)), rng.standard_normal((nc, nc))) for _ in range(3)]
        a = sum(np.kron(b, c) * 2.0**-j for j, (b, c) in enumerate(terms))
        a = a + 1e-3 * rng.standard_normal(a.shape)
        return {"a": a, "nb": nb, "nc": nc}

    return setup


def _nearest_error(inputs, res):
    b, c = res[0], res[1]
    approx = sum(np.kron(b[i], c[i]) for i in range(b.shape[0]))
    return float(np.linalg.norm(inputs["a"] - approx) / np.linalg.norm(inputs["a"]))


def _hand_vlp(inputs):
    """What a user writes from the Van Loan-Pitsianis paper: rearrange, dense SVD, truncate."""
    a, nb, nc = inputs["a"], inputs["nb"], inputs["nc"]
    r = a.reshape(nb, nc, nb, nc).transpose(0, 2, 1, 3).reshape(nb * nb, nc * nc)
    u, s, vh = np.linalg.svd(r, full_matrices=False)
    root = np.sqrt(s[:3])
    return (u[:, :3] * root).T.reshape(3, nb, nb), (vh[:3] * root[:, None]).reshape(3, nc, nc)


def _hand_vlp_svds(inputs):
    """The same by hand with scipy.sparse.linalg.svds (the route for large matrices)."""
    from scipy.sparse.linalg import svds

    a, nb, nc = inputs["a"], inputs["nb"], inputs["nc"]
    r = a.reshape(nb, nc, nb, nc).transpose(0, 2, 1, 3).reshape(nb * nb, nc * nc)
    u, s, vh = svds(r, k=3, v0=np.ones(min(r.shape)))
    root = np.sqrt(s)
    return (u * root).T.reshape(3, nb, nb), (vh * root[:, None]).reshape(3, nc, nc)


def _other_cases():
    return [
        BenchCase(name="kron_sum_solve 2 x 50 (N=2500) vs dense", setup=_kron_sum_setup(50),
                  run_orthla=lambda i: kron_sum_solve(i["mats"], i["b"], shift=0.1),
                  anchors={"scipy.linalg.solve (dense)": _dense_solve}, error=_kron_sum_error,
                  error_name="Kronecker sum: rel. residual", quick=True),
        BenchCase(name="nearest_kron 1024x1024 rank 3", setup=_nearest_setup(32, 32),
                  run_orthla=lambda i: nearest_kron(i["a"], (32, 32), (32, 32), rank=3, rng=0),
                  anchors={"numpy.linalg.svd of R(A) (hand-written)": _hand_vlp}, error=_nearest_error,
                  error_name="nearest_kron: rel. Frobenius error", quick=True),
        BenchCase(name="nearest_kron 4096x4096 rank 3 (svds)", setup=_nearest_setup(64, 64),
                  run_orthla=lambda i: nearest_kron(i["a"], (64, 64), (64, 64), rank=3, rng=0),
                  anchors={"scipy svds of R(A) (hand-written)": _hand_vlp_svds}, error=_nearest_error,
                  error_name="nearest_kron: rel. Frobenius error", quick=False),
    ]


def cases() -> list[BenchCase]:
    return [*_matvec_cases(), *_shifted_cases(), *_sylvester_cases(), *_poisson_cases(), *_other_cases()]


# -- interleaved timing for a busy machine --------------------------------------------------
def interleaved(pattern: str = "", *, rounds: int = 7, seed: int = 0) -> list[dict]:
    """Time the cases whose name contains ``pattern`` with orthla and the anchors alternating.

    ``python -m orthla bench`` times orthla's repeats first and each anchor's after; when
    other jobs share the machine, the load can change between the two blocks.  Here every
    round calls orthla once and then each anchor once, on the same inputs, and each side
    keeps its best wall-clock time and its best CPU time (``time.process_time``, which a
    competing job inflates much less).  Run it with BLAS pinned to one thread, e.g.
    ``python -m orthla.kron._bench_cases "rhs" --rounds 7``.
    """
    import time

    def clock(fn, inputs):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn(inputs)
        return time.perf_counter() - t0, time.process_time() - c0, out

    rows = []
    for case in cases():
        if pattern not in case.name:
            continue
        inputs = case.setup(namespace_for("numpy"), np.random.default_rng(seed))
        sides = {"orthla": case.run_orthla, **case.anchors}
        best = {name: [math.inf, math.inf, None] for name in sides}
        for fn in sides.values():
            fn(inputs)  # warm-up
        for _ in range(rounds):
            for name, fn in sides.items():
                wall, cpu, out = clock(fn, inputs)
                b = best[name]
                b[0], b[1], b[2] = min(b[0], wall), min(b[1], cpu), out
        o = best["orthla"]
        for name in case.anchors:
            a = best[name]
            rows.append({"case": case.name, "anchor": name, "orthla_wall": o[0], "orthla_cpu": o[1],
                         "anchor_wall": a[0], "anchor_cpu": a[1],
                         "orthla_err": float(case.error(inputs, o[2])),
                         "anchor_err": float(case.error(inputs, a[2]))})
    return rows


def _main(argv=None):
    import argparse

    from threadpoolctl import threadpool_limits

    parser = argparse.ArgumentParser(description=interleaved.__doc__.splitlines()[0])
    parser.add_argument("pattern", nargs="?", default="", help="substring of the case names")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    import scipy.linalg  # noqa: F401  (load SciPy's OpenBLAS so the limit pins it too)

    with threadpool_limits(limits=1):
        rows = interleaved(args.pattern, rounds=args.rounds)
    head = f"{'case':<48} {'anchor':<36} {'orthla wall/cpu':>17} {'anchor wall/cpu':>17} {'x wall':>7} {'x cpu':>6}"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['case']:<48} {r['anchor']:<36} "
              f"{r['orthla_wall'] * 1e3:7.2f}/{r['orthla_cpu'] * 1e3:7.2f} ms "
              f"{r['anchor_wall'] * 1e3:7.2f}/{r['anchor_cpu'] * 1e3:7.2f} ms "
              f"{r['anchor_wall'] / r['orthla_wall']:6.2f}x {r['anchor_cpu'] / r['orthla_cpu']:5.2f}x")


if __name__ == "__main__":
    _main()
