"""Every public name of every family has an API entry in the docs (autosummary or autodoc)."""

import importlib
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
FAMILIES = ("kron", "ortho", "pivoting", "qmc", "svdupdate", "tensor")


def _documented() -> set[str]:
    names = set()
    for page in DOCS.glob("*.md"):
        text = page.read_text()
        for block in re.findall(r"```\{eval-rst\}(.*?)```", text, re.S):
            names.update(re.findall(r"^\s{3}(\w+)\s*$", block, re.M))  # autosummary entries
            names.update(re.findall(r"auto(?:class|function|exception|data)::\s*(\w+)", block))
    return names


@pytest.mark.parametrize("family", FAMILIES)
def test_every_public_name_has_an_api_entry(family):
    module = importlib.import_module(f"orthla.{family}")
    missing = sorted(set(module.__all__) - _documented())
    assert not missing, f"orthla.{family}: no API entry in docs/*.md for {missing}"
