"""orthla.svdupdate against recomputing (svds, numpy.linalg.svd) and naive Zha-Simon on the same stream."""

from conftest import parametrize_family, run_benchmark


@parametrize_family("svdupdate")
def test_svdupdate(benchmark, case, backend, tool):
    run_benchmark(benchmark, case, backend, tool)
