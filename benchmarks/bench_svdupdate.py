"""orthla.svdupdate against recomputing (svds, numpy.linalg.svd) and naive Zha-Simon on the same stream."""

from conftest import parametrize_family


@parametrize_family("svdupdate")
def test_svdupdate(compare, case, backend, tool):
    compare(case, backend, tool)
