"""The README's tour must keep running as the API evolves."""

import re
from pathlib import Path


def test_readme_tour_runs():
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert scope["res"].rank == 5
    assert scope["x"].shape == (1024, 5) and scope["y"].shape == (512,)
