"""orthla.pivoting against LAPACK (numpy/scipy) on the same inputs."""

from conftest import parametrize_family, run_benchmark


@parametrize_family("pivoting")
def test_pivoting(benchmark, case, backend, tool):
    run_benchmark(benchmark, case, backend, tool)
