"""orthla.qmc generators against scipy.stats.qmc and QMCPy on the same sizes."""

from conftest import parametrize_family


@parametrize_family("qmc")
def test_qmc(compare, case, backend, tool):
    compare(case, backend, tool)
