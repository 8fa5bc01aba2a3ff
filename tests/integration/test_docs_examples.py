"""The docs' examples: every ```python block of the tutorial runs, in order, in one
namespace; every figure of a page's ```console blocks is what the command prints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


@pytest.mark.parametrize("page", ["tutorial.md", "reading-a-forecast.md"])
def test_python_blocks_run(page, capsys):
    text = (DOCS / page).read_text(encoding="utf-8")
    blocks = BLOCK.findall(text)
    assert blocks, f"no python blocks in {page}"
    namespace: dict = {}
    for k, code in enumerate(blocks):
        exec(compile(code, f"{page}[block {k}]", "exec"), namespace)


CONSOLE = re.compile(r"^```console\n\$ stakes (.*?)\n(.*?)^```", re.S | re.M)


@pytest.mark.parametrize("page", ["reading-a-forecast.md"])
def test_console_figures_are_the_commands_output(page):
    """Every shown output line of a ``$ stakes ...`` block is a line the command prints
    (``...`` stands for lines left out)."""
    import shlex

    from typer.testing import CliRunner

    from stakes.cli.main import app

    text = (DOCS / page).read_text(encoding="utf-8")
    blocks = CONSOLE.findall(text)
    assert blocks, f"no console blocks in {page}"
    for command, shown in blocks:
        res = CliRunner().invoke(app, shlex.split(command), catch_exceptions=False)
        assert res.exit_code == 0, res.output
        printed = [line.rstrip() for line in res.output.splitlines()]
        lines = [line.rstrip() for line in shown.splitlines() if line.strip() != "..."]
        assert lines, command
        # in order, each where the command printed it
        at = 0
        for line in lines:
            assert line in printed[at:], f"{page}: `stakes {command}` does not print {line!r}"
            at = printed.index(line, at) + 1
