"""orthla.tensor (spm) against tensorly (parafac, symmetric power iteration) on the same inputs."""

from conftest import parametrize_family


@parametrize_family("tensor")
def test_tensor(compare, case, backend, tool):
    compare(case, backend, tool)
