"""Sphinx configuration for orthla."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

import orthla

project = "orthla"
author = "The orthla developers"
copyright = "2026, The orthla developers"
version = release = orthla.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "bench_*.md", "dev/bench_*.md", "generated/capabilities.md"]
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3
autosummary_generate = True
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks = set()
html_theme = "pydata_sphinx_theme"
html_static_path = ["_static"]
html_theme_options = {"navigation_with_keys": False}
html_title = f"orthla {release}"


def _write_capability_table(app):
    """docs/generated/capabilities.md: which function runs on which backend, from the code."""
    from orthla._backend import capability_table

    out = os.path.join(app.srcdir, "generated")
    os.makedirs(out, exist_ok=True)
    rows = ["| family | function | NumPy | Numba engine | CuPy | torch | array_api_strict | notes |",
            "|---|---|---|---|---|---|---|---|"]
    for c in capability_table():
        has = lambda b, c=c: "yes" if b in c.backends else "-"  # noqa: E731
        rows.append(f"| {c.family} | `{c.name}` | {has('numpy')} | {'yes' if c.numba else '-'} | "
                    f"{has('cupy')} | {has('torch')} | {has('array_api_strict')} | {c.notes} |")
    path = os.path.join(out, "capabilities.md")
    text = "\n".join(rows) + "\n"
    if not os.path.exists(path) or open(path).read() != text:
        with open(path, "w") as f:
            f.write(text)


def setup(app):
    app.connect("builder-inited", _write_capability_table)
