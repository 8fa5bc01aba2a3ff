"""Every ```python block of the tutorial runs, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


@pytest.mark.parametrize("page", ["tutorial.md"])
def test_python_blocks_run(page, capsys):
    text = (DOCS / page).read_text(encoding="utf-8")
    blocks = BLOCK.findall(text)
    assert blocks, f"no python blocks in {page}"
    namespace: dict = {}
    for k, code in enumerate(blocks):
        exec(compile(code, f"{page}[block {k}]", "exec"), namespace)
