"""orthla.qmc generators against scipy.stats.qmc and QMCPy on the same sizes."""

from conftest import parametrize_family, run_benchmark


@parametrize_family("qmc")
def test_qmc(benchmark, case, backend, tool):
    run_benchmark(benchmark, case, backend, tool)
