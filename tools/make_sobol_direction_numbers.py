"""One-time script: write ``orthla/qmc/data/new-joe-kuo-6.21201.gz`` (Sobol' direction numbers).

Provenance
----------
The numbers are S. Joe and F. Y. Kuo's ``new-joe-kuo-6.21201`` direction numbers (21201
dimensions, search criterion D(6)), published at https://web.maths.unsw.edu.au/~fkuo/sobol/
(file ``new-joe-kuo-6.21201``) with

    S. Joe and F. Y. Kuo, "Constructing Sobol sequences with better two-dimensional
    projections", SIAM J. Sci. Comput. 30, 2635-2654 (2008).

Copyright (c) 2008, Frances Y. Kuo and Stephen Joe; the authors distribute them under a
BSD-style licence (full terms on the page above).  SciPy ships the same numbers, re-encoded,
in ``scipy/stats/_sobol_direction_numbers.npz`` (BSD-3-Clause).  This script reads that file
from an installed SciPy once (a data file, not a SciPy module: orthla never imports SciPy's
private modules at run time) and writes them back in Joe and Kuo's own text layout, one line
per dimension 2..21201::

    d  s  a  m_1 ... m_s

``s`` is the degree of the primitive polynomial ``x^s + a_1 x^(s-1) + ... + a_(s-1) x + 1``,
``a`` the integer with binary digits ``a_1 ... a_(s-1)`` and ``m_k`` the initial direction
integers (odd, ``m_k < 2^k``).  SciPy stores ``poly = 2^s + 2 a + 1`` and ``vinit[d, :s] = m``.

Run from the repository root: ``python tools/make_sobol_direction_numbers.py``.  The output
is deterministic (gzip mtime 0); its SHA-256 is printed and recorded in
``orthla/qmc/_digital.py`` (``_JOE_KUO_SHA256``).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
from pathlib import Path

import numpy as np
import scipy

OUT = Path(__file__).resolve().parents[1] / "orthla" / "qmc" / "data" / "new-joe-kuo-6.21201.gz"

HEADER = """\
# Sobol' direction numbers new-joe-kuo-6.21201 (S. Joe and F. Y. Kuo), dimensions 2..21201.
# Source: https://web.maths.unsw.edu.au/~fkuo/sobol/  (file new-joe-kuo-6.21201)
# Reference: S. Joe and F. Y. Kuo, Constructing Sobol sequences with better two-dimensional
#   projections, SIAM J. Sci. Comput. 30, 2635-2654 (2008).
# Copyright (c) 2008, Frances Y. Kuo and Stephen Joe; BSD-style licence (terms on the page above).
# Re-encoded from SciPy's scipy/stats/_sobol_direction_numbers.npz by
# tools/make_sobol_direction_numbers.py.  Columns: d s a m_1 ... m_s
d s a m_i
"""


def main() -> None:
    src = os.path.join(os.path.dirname(scipy.__file__), "stats", "_sobol_direction_numbers.npz")
    with np.load(src) as z:
        poly, vinit = z["poly"], z["vinit"]
    lines = [HEADER]
    for j in range(1, poly.shape[0]):
        p = int(poly[j])
        s = p.bit_length() - 1
        a = (p >> 1) & ((1 << (s - 1)) - 1)
        m = [int(v) for v in vinit[j, :s]]
        assert p & 1 and all(v & 1 and v < 2 ** (k + 1) for k, v in enumerate(m)), j
        assert not np.any(vinit[j, s:]), j
        lines.append(" ".join(map(str, (j + 1, s, a, *m))) + "\n")
    text = "".join(lines).encode("ascii")
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as f:
        f.write(text)
    OUT.write_bytes(buf.getvalue())
    print(f"{OUT}: {len(text)} bytes of text, {OUT.stat().st_size} compressed, "
          f"sha256 of the text {hashlib.sha256(text).hexdigest()}")


if __name__ == "__main__":
    main()
