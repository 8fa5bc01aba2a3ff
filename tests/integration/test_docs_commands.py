"""Command output quoted in the docs is what the command prints today.

A page quotes a command's output under a marker naming the command:

    <!-- output of: stakes advise --goal 'settlements>=75' --plan allison_sequence -->
    ```text
    ...
    ```

This test runs each marked command (in-process, 100 columns wide) and compares.
To refresh a page after a change that moves its figures:

    python tests/integration/test_docs_commands.py docs/howto/plan-search.md
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = ["howto/plan-search.md"]
MARKED = re.compile(r"<!-- output of: (stakes [^\n]*?) -->\n```text\n(.*?)```", re.S)


def render(command: str) -> str:
    from typer.testing import CliRunner

    from stakes.cli.main import app

    args = shlex.split(command)[1:]
    res = CliRunner().invoke(app, args, env={**os.environ, "COLUMNS": "100"})
    assert res.exit_code == 0, f"{command}: exit {res.exit_code}\n{res.output}"
    return "\n".join(line.rstrip() for line in res.output.rstrip("\n").splitlines()) + "\n"


def marked(page: Path) -> list[tuple[str, str]]:
    return MARKED.findall(page.read_text(encoding="utf-8"))


@pytest.mark.parametrize("page", PAGES)
def test_quoted_output_is_current(page):
    found = marked(DOCS / page)
    assert found, f"no quoted command output in {page}"
    for command, quoted in found:
        assert render(command) == quoted, f"{page}: the output of `{command}` changed; " \
            f"refresh it with: python {Path(__file__).relative_to(DOCS.parent)} docs/{page}"


def refresh(page: Path) -> None:
    text = page.read_text(encoding="utf-8")

    def sub(m: re.Match) -> str:
        return f"<!-- output of: {m.group(1)} -->\n```text\n{render(m.group(1))}```"

    page.write_text(MARKED.sub(sub, text), encoding="utf-8")


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        refresh(Path(arg))
