"""orthla.kron against pykronecker, SciPy and dense NumPy on the same inputs."""

from conftest import parametrize_family


@parametrize_family("kron")
def test_kron(compare, case, backend, tool):
    compare(case, backend, tool)
