"""Figures in the docs come from a command: replace a marked block of a Markdown page."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError, Diagnostic

BEGIN = "<!-- BEGIN TABLE -->"
END = "<!-- END TABLE -->"


def replace_block(page: str | Path, text: str) -> None:
    """Write ``text`` between the page's BEGIN/END TABLE markers (the rest untouched)."""
    from ..scenario.yaml_io import write_atomic

    p = Path(page)
    try:
        old = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(Diagnostic("no such file", file=str(p))) from None
    a, b = old.find(BEGIN), old.find(END)
    if a < 0 or b < a:
        raise InputError(Diagnostic(f"no {BEGIN} … {END} block to replace", file=str(p)))
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


def holdout_markdown(results: str | Path) -> str:
    """The latest model version's held-out scores, as a Markdown table."""
    import json

    rows = [json.loads(x) for x in Path(results).read_text(encoding="utf-8").splitlines()
            if x.strip()]
    if not rows:
        raise InputError(Diagnostic("no results yet", file=str(results)))
    version = rows[-1]["version"]
    mine = [r for r in rows if r["version"] == version]
    ref = next((k for k in mine[-1] if k.startswith("mae_vs_")), "mae_vs_?")[len("mae_vs_"):]
    esc = ref.replace("|", "\\|")

    def diff(v: list[float] | None) -> str:
        return "—" if v is None else f"{v[0]:+.2f} [{v[1]:+.2f}, {v[2]:+.2f}]"

    out = [f"Model version {version}, scored {mine[-1]['scored_at']} (stakes "
           f"{mine[-1]['stakes_version']}); differences against {ref} with 95% intervals "
           "from a bootstrap of the held-out proposals:", "",
           f"| forecast | n | MAE | CRPS | 80% cover | 80% width | MAE − {esc} | CRPS − {esc} |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in mine:
        out.append(f"| {r['model'].replace('|', chr(92) + '|')} | {r['n']} | {r['mae']:.2f} | "
                   f"{r['crps']:.2f} | {100 * r['cover80']:.1f}% | {r['width80']:.1f} | "
                   f"{diff(r.get('mae_vs_' + ref))} | {diff(r.get('crps_vs_' + ref))} |")
    return "\n".join(out) + "\n"
