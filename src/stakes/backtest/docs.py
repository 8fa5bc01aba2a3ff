"""Figures in the docs come from a command: replace a marked block of a Markdown page."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError, Problem

BEGIN = "<!-- BEGIN TABLE -->"
END = "<!-- END TABLE -->"


def replace_block(page: str | Path, text: str) -> None:
    """Write ``text`` between the page's BEGIN/END TABLE markers (the rest untouched)."""
    from ..scenario.yaml_io import write_atomic

    p = Path(page)
    try:
        old = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(Problem("no such file", file=str(p))) from None
    a, b = old.find(BEGIN), old.find(END)
    if a < 0 or b < a:
        raise InputError(Problem(f"no {BEGIN} … {END} block to replace", file=str(p)))
    write_atomic(p, old[: a + len(BEGIN)] + "\n" + text.rstrip("\n") + "\n" + old[b:])


def read_block(page: str | Path) -> str:
    old = Path(page).read_text(encoding="utf-8")
    return old[old.index(BEGIN) + len(BEGIN): old.index(END)].strip("\n")


def markdown_tables(text: str) -> dict[str, list[list[str]]]:
    """Every table of a Markdown text, keyed by its header line; rows as cells."""
    out: dict[str, list[list[str]]] = {}
    lines = text.splitlines()
    k = 0
    while k < len(lines):
        if lines[k].startswith("| ") and k + 1 < len(lines) and lines[k + 1].startswith("|--"):
            head = lines[k]
            rows = []
            k += 2
            while k < len(lines) and lines[k].startswith("| "):
                rows.append([c.strip() for c in lines[k].strip().strip("|").split(" | ")])
                k += 1
            out[head] = rows
        else:
            k += 1
    return out
