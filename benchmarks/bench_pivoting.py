"""orthla.pivoting against LAPACK (numpy/scipy) on the same inputs."""

from conftest import parametrize_family


@parametrize_family("pivoting")
def test_pivoting(compare, case, backend, tool):
    compare(case, backend, tool)
