"""Root conftest: keep Numba kernel modules out of doctest collection without numba."""

import importlib.util

collect_ignore_glob = ["benchmarks/*", "docs/*", "noxfile.py"]
if importlib.util.find_spec("numba") is None:
    collect_ignore_glob.append("orthla/*/_*_numba.py")
