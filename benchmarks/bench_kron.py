"""orthla.kron against pykronecker, SciPy and dense NumPy on the same inputs."""

from conftest import parametrize_family, run_benchmark


@parametrize_family("kron")
def test_kron(benchmark, case, backend, tool):
    run_benchmark(benchmark, case, backend, tool)
