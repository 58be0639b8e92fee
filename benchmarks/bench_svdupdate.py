"""orthla.svdupdate against recomputing (svds, numpy.linalg.svd, sklearn randomized_svd),
naive Zha-Simon and IncSVD on the same streams (synthetic rows, a Barabasi-Albert graph
grown node by node, a docstring LSI stream)."""

from conftest import parametrize_family


@parametrize_family("svdupdate")
def test_svdupdate(compare, case, backend, tool):
    compare(case, backend, tool)
