"""Sobol' direction numbers shipped as package data, and no private SciPy import in orthla."""

import hashlib
import os
import re
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import scipy
import scipy.stats.qmc as sqmc

import orthla
from orthla.qmc import Sobol
from orthla.qmc._digital import JOE_KUO_FILE, JOE_KUO_MAXDIM, _joe_kuo, _joe_kuo_table

# SHA-256 of _joe_kuo(21201, 63) (little-endian uint64, C order) as built by SciPy's private
# scipy.stats._sobol._initialize_v before orthla shipped its own copy of the numbers.
_SCIPY_BUILT_SHA256 = "a7f92a6412c4c2d84a38ffbdce70757ec5dcfaf12976fbfe3ea7681b5bd047dc"


def test_matrices_bit_identical_to_the_former_scipy_built_ones():
    v = _joe_kuo(JOE_KUO_MAXDIM, 63)
    assert v.shape == (21201, 63) and v.dtype == np.uint64
    assert hashlib.sha256(np.ascontiguousarray(v, dtype="<u8").tobytes()).hexdigest() == _SCIPY_BUILT_SHA256


def test_direction_numbers_file_is_package_data_with_provenance():
    data = resources.files("orthla.qmc").joinpath("data", JOE_KUO_FILE)
    assert data.is_file()
    import gzip

    head = gzip.decompress(data.read_bytes())[:1000].decode("ascii")
    for needle in ("new-joe-kuo-6.21201", "https://web.maths.unsw.edu.au/~fkuo/sobol/",
                   "SIAM J. Sci. Comput. 30", "licence"):
        assert needle in head
    s, a, m = _joe_kuo_table()
    assert s.shape == a.shape == (JOE_KUO_MAXDIM - 1,) and s.min() == 1 and s.max() == 18
    # initial direction integers are odd and below 2^k; a has s - 1 bits
    k = np.arange(m.shape[1])
    init = k[None, :] < s[:, None]
    assert np.all(m[init] % 2 == 1) and np.all(m < (np.uint64(2) << k.astype(np.uint64)))
    assert np.all(m[~init] == 0) and np.all(a < 2 ** (s - 1))


def test_direction_numbers_agree_with_scipys_data_file():
    # SciPy's data file (not a module), when this SciPy still ships it: poly = 2^s + 2a + 1.
    src = os.path.join(os.path.dirname(scipy.__file__), "stats", "_sobol_direction_numbers.npz")
    if not os.path.exists(src):
        pytest.skip("this SciPy does not ship _sobol_direction_numbers.npz")
    s, a, m = _joe_kuo_table()
    with np.load(src) as z:
        poly, vinit = z["poly"][1:], z["vinit"][1:]
    np.testing.assert_array_equal(poly, 2**s + 2 * a + 1)
    np.testing.assert_array_equal(vinit[:, : m.shape[1]], m.astype(np.int64))


@pytest.mark.parametrize("d", [1, 2, 7, 1111, 21201])
def test_unrandomized_gray_points_equal_scipy_sobol(d):
    ours = Sobol(d, randomize=False, order="gray").random(64)
    ref = sqmc.Sobol(d, scramble=False).random(64)
    np.testing.assert_array_equal(ours, ref)


def test_natural_order_is_scipys_sequence_reordered():
    # Natural and Gray order give the same set of points after every power of two.
    d = 300
    ours = Sobol(d, randomize=False).random(256)
    ref = sqmc.Sobol(d, scramble=False).random(256)
    assert not np.array_equal(ours, ref)
    np.testing.assert_array_equal(np.unique(ours, axis=0), np.unique(ref, axis=0))


def test_short_matrices_truncate_the_direction_numbers():
    # t below a polynomial degree keeps the leading t columns (the initial m_k, truncated)
    full = _joe_kuo(30, 63)
    for t in (1, 3, 17):
        short = _joe_kuo(30, t)
        np.testing.assert_array_equal(short, full[:, :t] >> np.uint64(63 - t))


_PRIVATE = (re.compile(r"scipy\.[a-z_.]*\._"), re.compile(r"from scipy[.a-z_]* import _"))


def test_no_private_scipy_imports_in_orthla():
    root = Path(orthla.__file__).parent
    offenders = []
    for path in sorted(root.rglob("*.py")):
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if any(p.search(line) for p in _PRIVATE):
                offenders.append(f"{path.relative_to(root.parent)}:{no}: {line.strip()}")
    assert not offenders, "private SciPy names used in orthla:\n" + "\n".join(offenders)
