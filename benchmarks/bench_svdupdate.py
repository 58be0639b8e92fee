"""orthla.svdupdate against recomputing (svds, numpy.linalg.svd, sklearn randomized_svd),
naive Zha-Simon and IncSVD on the same streams (synthetic rows, a Barabasi-Albert graph
grown node by node, a docstring LSI stream), and the speed-round cases: IncSVD's sparse
Zha-Simon, GKL and RPI on its own kind of streams (100 batches, k = 64) and small dense
problems against naive Zha-Simon."""

import os

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from conftest import parametrize_family
from orthla.svdupdate._bench_cases import speed_cases, stream_quality


@parametrize_family("svdupdate")
def test_svdupdate(compare, case, backend, tool):
    compare(case, backend, tool)


_STREAMS = [c for c in speed_cases() if "small dense" not in c.name]


@pytest.mark.slow
@pytest.mark.parametrize("case", _STREAMS, ids=[c.name.replace(" ", "_") for c in _STREAMS])
def test_speed_stream_quality(case, capsys):
    """Not timed: the four quality measures of every tool's final factors on a stream
    (singular values vs svds, reconstruction over optimal, orthogonality of U and V)."""
    inputs = case.setup(None, np.random.default_rng(0))
    lines = []
    with threadpool_limits(int(os.environ.get("ORTHLA_BENCH_THREADS", "1"))):
        for tool, fn in {"orthla": case.run_orthla, **case.anchors}.items():
            q = stream_quality(inputs, fn(inputs))
            q["recon_ratio-1"] = q.pop("recon_ratio") - 1.0
            lines.append(f"{case.name} | {tool} | " + " ".join(f"{k}={v:.3e}" for k, v in q.items()))
    with capsys.disabled():
        print("\n" + "\n".join(lines))
