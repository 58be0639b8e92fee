"""orthla.ortho.Butterfly and BlockDiagonal against the dense constructions a user has today.

* ``Butterfly`` (BOFT) applied to a batch of activations ``x @ Q`` against BOFT's reference way:
  every permutation and block-diagonal factor materialized as a ``d x d`` matrix,
  ``Q = prod_i P_i D_i P_i^T`` multiplied out densely, then ``x @ Q``; and against the cheaper
  dense route that applies the ``m`` dense factors ``P_i D_i P_i^T`` to ``x`` in turn.  Error:
  ``max |y - y_ref| / max |y_ref|`` on the first 8 rows, the reference computed factor by factor
  with permutations built by explicit loops (independent of both sides).
* ``BlockDiagonal`` (OFT) input side, ``x @ Q`` for activations ``x`` of shape (2048, 4096),
  against a plain dense ``x @ W`` of the same shape (the target: at most 1.3x of it) and against
  one GEMM with the same flop count, ``x.reshape(-1, b) @ W_b`` (the roofline of the block
  product: its ratio is orthla's overhead).

Run ``python benchmarks/bench_ortho_butterfly.py`` for the interleaved table (``--slow`` adds the
d = 4096 butterfly, whose BOFT-style anchor alone takes minutes at one thread), or
``pytest benchmarks/bench_ortho_butterfly.py`` for pytest-benchmark.
"""

import importlib.util
import time

import numpy as np
import scipy.linalg

from conftest import parametrize_cases
from orthla._bench import BenchCase, namespace_for, synchronize
from orthla.ortho import BlockDiagonal, Butterfly


def _boft_perm(d, b, i):
    """BOFT's index map p_i, (P_i x)[j] = x[p_i[j]], by explicit loops (chunks of b 2^i,
    half-blocks of b/2 reordered evens then odds; P_0 = I)."""
    if i == 0:
        return np.arange(d)
    r, size = b // 2, b << i
    seq = [*range(0, size // r, 2), *range(1, size // r, 2)]
    return np.array([s + t * r + o for s in range(0, d, size) for t in seq for o in range(r)])


def _to_numpy(a):
    return a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)


# ------------------------------------------------------------------ butterfly

def _butterfly_setup(d, b, m, n):
    def setup(xp, rng):
        Q = Butterfly.random(d, block_size=b, n_factors=m, rng=rng, xp=xp)
        x = xp.asarray(rng.standard_normal((n, d)))
        blocks = np.stack([_to_numpy(f.blocks) for f in Q.factors])
        perms = [_boft_perm(d, b, i) for i in range(m)]
        # x @ Q = (Q^T x^T)^T, Q^T = F_0^T ... F_{m-1}^T, F_i^T = P_i D_i^T P_i^T, with
        # P v = v[p] and P^T v = v[argsort(p)]; one factor at a time on 8 rows.
        yt = _to_numpy(x)[:8].T
        for i in reversed(range(m)):
            yt = yt[perms[i].argsort()]
            yt = (np.swapaxes(blocks[i], -1, -2) @ yt.reshape(d // b, b, -1)).reshape(d, -1)
            yt = yt[perms[i]]
        ref = yt.T
        return {"Q": Q, "x": x, "blocks": blocks, "perms": perms, "ref": ref}
    return setup


def _boft_dense(inputs):
    """BOFT's reference code path: dense permutation matrices, block_diag, bmm, chain, apply."""
    blocks, perms, x = inputs["blocks"], inputs["perms"], _to_numpy(inputs["x"])
    d = x.shape[-1]
    q = None
    for i, p in enumerate(perms):
        pm = np.zeros((d, d))
        pm[np.arange(d), p] = 1.0
        f = pm @ scipy.linalg.block_diag(*blocks[i]) @ pm.T
        q = f if q is None else f @ q
    return x @ q


def _dense_factors(inputs):
    """The dense factors F_i = P_i D_i P_i^T formed by indexing (no permutation products), applied
    to the activations in turn: 2 d^2 flops per vector and factor."""
    blocks, perms, x = inputs["blocks"], inputs["perms"], _to_numpy(inputs["x"])
    y = x
    for i in reversed(range(len(perms))):       # x @ Q = x @ F_{m-1} @ ... @ F_0
        p = perms[i]
        y = y @ scipy.linalg.block_diag(*blocks[i])[np.ix_(p, p)]   # F_i = P_i D_i P_i^T = D_i[p, p]
    return y


def _butterfly_error(inputs, out):
    ref = inputs["ref"]
    return float(np.max(np.abs(_to_numpy(out)[:8] - ref)) / np.max(np.abs(ref)))


def butterfly_cases():
    out = []
    for d, b, m, quick in ((1024, 8, 8, True), (4096, 8, 10, False)):
        out.append(BenchCase(
            name=f"Butterfly d={d} b={b} m={m} (all factors): x @ Q, x 2048x{d} fp64",
            setup=_butterfly_setup(d, b, m, 2048),
            run_orthla=lambda i: i["Q"].apply(i["x"], side="right"),
            anchors={"BOFT dense construction": _boft_dense, "dense factors in turn": _dense_factors},
            error=_butterfly_error, error_name="max|y - y_ref| / max|y_ref| (8 rows)",
            quick=quick, backends=("numpy",)))
    return out


# ------------------------------------------------------------------ block diagonal, input side

def _blockdiag_setup(d, b, n):
    def setup(xp, rng):
        Q = BlockDiagonal.random(d, block_size=b, rng=rng, xp=xp)
        x = xp.asarray(rng.standard_normal((n, d)))
        W = xp.asarray(rng.standard_normal((d, d)) / np.sqrt(d))
        Wb = xp.asarray(rng.standard_normal((b, b)) / np.sqrt(b))
        xh, bh = _to_numpy(x), _to_numpy(Q.blocks)
        ref = np.einsum("nkb,kbc->nkc", xh[:8].reshape(8, d // b, b), bh).reshape(8, d)
        return {"Q": Q, "x": x, "W": W, "Wb": Wb, "ref": ref, "xp": xp, "b": b}
    return setup


def _blockdiag_error(inputs, out):
    """orthla's error against the reference rows; NaN for the anchors (another product, timed only)."""
    out, ref = _to_numpy(out), inputs["ref"]
    if out.shape != (inputs["x"].shape[0], ref.shape[-1]):
        return float("nan")
    err = float(np.max(np.abs(out[:8] - ref)) / np.max(np.abs(ref)))
    return err if err < 1e-3 else float("nan")


def blockdiag_cases():
    out = []
    for b in (32, 64, 256):
        out.append(BenchCase(
            name=f"BlockDiagonal d=4096 b={b}: x @ Q, x 2048x4096 fp64",
            setup=_blockdiag_setup(4096, b, 2048),
            run_orthla=lambda i: i["Q"].apply(i["x"], side="right"),
            anchors={"dense x @ W (4096x4096)": lambda i: i["x"] @ i["W"],
                     "equal-flop GEMM x.reshape(-1, b) @ W_b":
                         lambda i: i["xp"].reshape(i["x"], (-1, i["b"])) @ i["Wb"]},
            error=_blockdiag_error,
            error_name="max|y - y_ref| / max|y_ref| (8 rows)",
            quick=True, backends=("numpy", "torch")))
    return out


def cases():
    return butterfly_cases() + blockdiag_cases()


@parametrize_cases(cases())
def test_ortho_butterfly(compare, case, backend, tool):
    if backend == "torch":
        import torch

        torch.set_num_threads(1)  # like the pinned BLAS thread of the NumPy side
    compare(case, backend, tool)


# ------------------------------------------------------------------ command line

def _time_once(fn, xp):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    synchronize(xp)
    return time.perf_counter() - t0, time.process_time() - c0, out


def main(argv=None):
    """Interleaved timing (orthla._bench.run_case) printed as a markdown table; with --slow the
    d = 4096 butterfly too, its anchors timed once each (one BOFT-style build is ~30 GEMMs of
    4096^3) and orthla best of 3."""
    import argparse

    from threadpoolctl import threadpool_limits

    from orthla._bench import run_case

    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("--slow", action="store_true")
    p.add_argument("--backends", default="numpy,torch")
    p.add_argument("--only", default="", help="substring of the case names to run")
    args = p.parse_args(argv)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    print("| case | backend | orthla s (CPU s) | anchor | anchor s (CPU s) | CPU ratio anchor/orthla | orthla error | anchor error |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    with threadpool_limits(limits=1):
        for case in cases():
            if args.only not in case.name:
                continue
            for backend in args.backends.split(","):
                if backend not in case.backends or importlib.util.find_spec(backend) is None:
                    continue
                if case.quick:
                    rows = run_case(case, backend, min_time=3.0, max_reps=10)
                elif args.slow:
                    xp = namespace_for(backend)
                    inputs = case.setup(xp, np.random.default_rng(0))
                    o = [_time_once(lambda c=case, i=inputs: c.run_orthla(i), xp) for _ in range(4)][1:]
                    ow, oc = min(t[0] for t in o), min(t[1] for t in o)
                    oerr = case.error(inputs, o[-1][2])
                    rows = []
                    for name, fn in case.anchors.items():
                        w, c, out = _time_once(lambda fn=fn, i=inputs: fn(i), xp)
                        rows.append({"case": case.name, "orthla_s": ow, "orthla_cpu_s": oc, "anchor": name,
                                     "anchor_s": w, "anchor_cpu_s": c, "orthla_err": oerr,
                                     "anchor_err": case.error(inputs, out)})
                else:
                    continue
                for r in rows:
                    print(f"| {r['case']} | {backend} | {r['orthla_s']:.4f} ({r['orthla_cpu_s']:.4f}) | {r['anchor']} | "
                          f"{r['anchor_s']:.4f} ({r['anchor_cpu_s']:.4f}) | {r['anchor_cpu_s'] / r['orthla_cpu_s']:.2f} | "
                          f"{r['orthla_err']:.2e} | {r['anchor_err']:.2e} |", flush=True)


if __name__ == "__main__":
    main()
