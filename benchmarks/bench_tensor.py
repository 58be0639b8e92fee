"""orthla.tensor (spm) against tensorly (parafac, symmetric power iteration) on the same inputs."""

from conftest import parametrize_family, run_benchmark


@parametrize_family("tensor")
def test_tensor(benchmark, case, backend, tool):
    run_benchmark(benchmark, case, backend, tool)
