"""The report as one self-contained HTML file that works offline.

plotly.js is inlined once in the page (no network access, no CDN); each
chart is a ``div`` drawn by it.  Tables (forecasts, evidence, the run
record) are plain HTML so that they can be read, searched and copied.
"""

from __future__ import annotations

import html
import json
import math
import os
from pathlib import Path
from typing import Any

from .build import SECTIONS, Report

_CSS = """
body{font-family:Arial,Helvetica,sans-serif;margin:0;color:#222;background:#fff}
header{padding:1.2em 2em;background:#f3f5f9;border-bottom:1px solid #d8dde6}
header h1{margin:0 0 .2em 0;font-size:1.6em} header p{margin:0;color:#555}
nav{padding:.6em 2em;border-bottom:1px solid #e4e7ee;font-size:.95em}
nav a{margin-right:1.2em;color:#2b5a9b;text-decoration:none}
main{padding:0 2em 3em 2em;max-width:1200px}
h2{margin-top:1.6em;border-bottom:1px solid #e4e7ee;padding-bottom:.2em}
p.lead{color:#444;max-width:60em}
figure{margin:1.2em 0 2em 0} figcaption{color:#555;font-size:.9em}
table{border-collapse:collapse;font-size:.9em;margin:.6em 0}
th,td{border:1px solid #d8dde6;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#e8eef6} td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.nobasis td{background:#fdecea}
.note{background:#fff8e1;border-left:4px solid #f2c94c;padding:.4em .8em;margin:.4em 0}
code{background:#f3f5f9;padding:0 .2em}
"""


def _e(v: Any) -> str:
    return html.escape("" if v is None else str(v))


def _num(v: Any, digits: int = 3, signed: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return _e(v)
    return f"{f:+.{digits}f}" if signed else f"{f:.{digits}f}"


def _forecast_html(rep: Report) -> str:
    df = rep.forecasts
    if not len(df):
        return "<p>No results.</p>"
    out = ["<table><thead><tr><th>issue</th><th>model</th><th>lever / plan</th>"
           "<th>forecast</th><th>shift from baseline</th><th>rounds</th><th>stop</th>"
           "</tr></thead><tbody>"]
    for r in df.itertuples(index=False):
        out.append(f"<tr><td>{_e(r.issue)}</td><td>{_e(r.model)}</td><td>{_e(r.intervention)}"
                   f"</td><td class='num'>{_num(r.forecast)}</td><td class='num'>"
                   f"{_num(r.shift, signed=True) if r.shift is not None else ''}</td>"
                   f"<td class='num'>{_e(r.rounds)}</td><td>{_e(r.stop)}</td></tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _evidence_html(rep: Report) -> str:
    df = rep.evidence
    if not len(df):
        return "<p>The scenario has no inputs with values.</p>"
    missing = int((df["basis"] == "none given").sum())
    out = [f"<p>{len(df)} inputs; {missing} without a basis (highlighted).</p>",
           "<table><thead><tr>" + "".join(f"<th>{_e(c)}</th>" for c in df.columns)
           + "</tr></thead><tbody>"]
    for r in df.itertuples(index=False):
        cls = " class='nobasis'" if r.basis == "none given" else ""
        out.append(f"<tr{cls}>" + "".join(f"<td>{_e(v)}</td>" for v in r) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _record_html(rep: Report) -> str:
    if not rep.header:
        return ""
    rows = []
    for k, v in rep.header.items():
        if isinstance(v, (dict, list)):
            v = json.dumps(v, ensure_ascii=False)
        rows.append(f"<tr><th>{_e(k)}</th><td><code>{_e(v)}</code></td></tr>")
    return "<table><tbody>" + "".join(rows) + "</tbody></table>"


def render_html(rep: Report) -> str:
    """The whole page as a string."""
    from plotly.offline import get_plotlyjs

    config = {"displaylogo": False, "responsive": True,
              "toImageButtonOptions": {"format": "png", "scale": 2}}
    parts: list[str] = []
    toc = ["<a href='#forecasts'>Forecasts</a>"]
    body = ["<section id='forecasts'><h2>Forecasts</h2>", _forecast_html(rep)]
    for note in rep.notes:
        body.append(f"<div class='note'>{_e(note)}</div>")
    body.append("</section>")
    n = 0
    for key, (title, lead) in SECTIONS.items():
        charts = [c for c in rep.section(key) if key != "evidence"]
        if key == "evidence":
            toc.append("<a href='#evidence'>Evidence</a>")
            body.append(f"<section id='evidence'><h2>{_e(title)}</h2><p class='lead'>"
                        f"{_e(lead)} <i>evidence</i>: a verbatim quote from a cited source; "
                        "<i>judgment</i>: the analyst's estimate and its reason; <i>data</i>: "
                        "a figure from a named source.</p>" + _evidence_html(rep) + "</section>")
            continue
        if not charts:
            continue
        toc.append(f"<a href='#{key}'>{_e(title)}</a>")
        body.append(f"<section id='{key}'><h2>{_e(title)}</h2><p class='lead'>{_e(lead)}</p>")
        for c in charts:
            n += 1
            div = c.figure.to_html(full_html=False, include_plotlyjs=False,
                                   include_mathjax=False, div_id=f"chart-{n}-{c.key}",
                                   config=config)
            cap = f"<figcaption>{_e(c.caption)}</figcaption>" if c.caption else ""
            body.append(f"<figure data-chart='{_e(c.key)}'>{div}{cap}</figure>")
        body.append("</section>")
    toc.append("<a href='#record'>Run record</a>")
    body.append("<section id='record'><h2>Run record</h2><p class='lead'>Everything needed to "
                "reproduce this run.</p>" + _record_html(rep) + "</section>")
    parts.append("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
                 "<meta name='viewport' content='width=device-width, initial-scale=1'>"
                 f"<title>{_e(rep.title)} — stakes report</title><style>{_CSS}</style>"
                 "<script type='text/javascript'>")
    # '</script' inside the library would end the element early.
    parts.append(get_plotlyjs().replace("</script", "<\\/script"))
    parts.append("</script></head><body>")
    parts.append(f"<header><h1>{_e(rep.title)}</h1><p>{_e(rep.subtitle)}</p></header>")
    parts.append("<nav>" + "".join(toc) + "</nav><main>")
    parts.extend(body)
    parts.append("</main></body></html>")
    return "".join(parts)


def write_html(rep: Report, path: str | os.PathLike) -> Path:
    """Write the page atomically; return its path."""
    from ..scenario.yaml_io import write_atomic

    p = Path(path)
    write_atomic(p, render_html(rep))
    # A report is meant to be shared: the usual permissions, not a temp file's 0600.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(p, 0o666 & ~umask)
    return p
