"""The report as an HTML page that works offline.

Each chart's figure is a JSON data block (``<script type="application/json">``,
never executed) and one small script draws them one after another, so the
page shows at once and fills in its charts while it is read, instead of
freezing until every chart is drawn.  plotly.js is either inlined once
(``self_contained``: one file, about 5 MB, most of it the library) or, by
default, one shared copy of the library is written beside the report
(``plotly-VERSION.min.js``, reused by every report in that folder), which keeps
the page itself small (about 1 MB for the default scenario with every lever).
Tables (forecasts, evidence, the run record) are plain HTML so that they can
be read, searched and copied.

The web app serves the same page with its scripts and styles as files
(``asset_base``), so that its Content-Security-Policy needs no inline code.
"""

from __future__ import annotations

import html
import json
import math
import os
from pathlib import Path
from typing import Any, Callable

from .build import SECTIONS, Report

CSS = """
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
.chart{min-height:200px}
"""

# Draws every [data-figure] chart from its JSON block, one per tick, so that the page
# is usable while the rest are drawn.
DRAW_JS = """(function () {
  function drawAll() {
    var nodes = Array.prototype.slice.call(document.querySelectorAll("[data-figure]"));
    function next() {
      var el = nodes.shift();
      if (!el) return;
      var data = document.getElementById(el.getAttribute("data-figure"));
      var fig = JSON.parse(data.textContent);
      Plotly.newPlot(el, fig.data || [], fig.layout || {}, {displaylogo: false,
        responsive: true, toImageButtonOptions: {format: "png", scale: 2}});
      setTimeout(next, 0);
    }
    next();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else { drawAll(); }
})();
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
    from ..forecast.headline import range_text

    for r in df.itertuples(index=False):
        value = range_text(r.cycle, 3) if r.cycle else _num(r.forecast)
        shift = (range_text(r.shift_range, 3, signed=True) if r.shift_range else
                 _num(r.shift, signed=True) if r.shift is not None else "")
        out.append(f"<tr><td>{_e(r.issue)}</td><td>{_e(r.model)}</td><td>{_e(r.intervention)}"
                   f"</td><td class='num'>{_e(value)}</td><td class='num'>{_e(shift)}</td>"
                   f"<td class='num'>{_e(r.rounds)}</td><td>{_e(r.stop)}</td></tr>")
    out.append("</tbody></table>")
    if df["cycle"].notna().any() or df["shift_range"].notna().any():
        out.append("<p class='muted'>↻: the run (or its baseline) ends in a cycle whose rounds "
                   "disagree; the range over the cycle's rounds is shown, not a forecast.</p>")
    return "".join(out)


def _why_html(why: list[dict[str, Any]]) -> str:
    """Per issue, the headline model's explanation (pivot, balance, contributions, moves)."""
    if not why:
        return ""
    out = ["<h3>Why</h3><p class='lead'>For each issue, the headline model's explanation: "
           "who is pivotal, the weight for and against change, who contributes most, and "
           "what happened round by round (<code>stakes explain ISSUE</code> gives all of "
           "it).</p>"]
    for w in why:
        out.append(f"<details class='why' data-issue='{_e(w['issue'])}'><summary>"
                   f"{_e(w['issue'])} ({_e(w['model'])})</summary>"
                   + "".join(f"<p>{_e(line)}</p>" for line in w["lines"])
                   + (f"<p class='muted'>{w['more']} more lines</p>" if w["more"] else "")
                   + "</details>")
    return "".join(out)


def _trust_html(trust: dict[str, Any] | None) -> str:
    """Headline forecasts with interval, verdict and pivot; lever effects with flags."""
    if not trust:
        return ""
    th = trust.get("thresholds") or {}
    members = ", ".join(f"{n} members ({m})" for m, n in trust["members"].items()) or \
        "no ensemble"
    out = ["<h3>Headline forecasts and how far to trust them</h3><p class='lead'>Each "
           "model's declared statistic, strategic models first. Median and "
           f"{_e(round(100 * th.get('level', 0.8)))}% interval over {_e(members)} drawn from "
           "the scenario's uncertainty; <i>fragile</i>: interval wider than "
           f"{_e(round(100 * th.get('fragile_width', 0.25)))}% of the scale or not holding "
           "the forecast; ↻: a cycle's "
           "range, not a forecast.</p>",
           "<table id='trust-table'><thead><tr><th>issue</th><th>model</th><th>forecast</th>"
           "<th>median</th><th>interval</th><th>verdict</th><th>pivot</th></tr></thead><tbody>"]
    for h in trust["headlines"]:
        model = _e(h["model"]) + (" (baseline)" if h["baseline_model"] else "")
        out.append(f"<tr data-verdict='{_e(h['verdict'])}'><td>{_e(h['issue_name'])}</td>"
                   f"<td title='{_e(h['statistic'])}'>{model}</td><td class='num'>"
                   f"{_e(h['forecast'])}</td><td class='num'>{_e(h['median'])}</td>"
                   f"<td class='num'>{_e(h['interval'])}</td><td>{_e(h['verdict'])}</td>"
                   f"<td>{_e(h['pivot'])}</td></tr>")
    out.append("</tbody></table>")
    if trust["effects"]:
        out.append("<table id='effects-table'><thead><tr><th>lever / plan</th><th>issue</th>"
                   "<th>model</th><th>effect</th><th>median</th><th>interval</th>"
                   "<th>verdict</th><th>flags</th></tr></thead><tbody>")
        for e in trust["effects"]:
            out.append(f"<tr><td>{_e(e['intervention'])} ({_e(e['kind'])})</td>"
                       f"<td>{_e(e['issue_name'])}</td><td>{_e(e['model'])}</td>"
                       f"<td class='num'>{_e(e['shift'])}</td><td class='num'>"
                       f"{_e(e['median'])}</td><td class='num'>{_e(e['interval'])}</td>"
                       f"<td>{_e(e['verdict'])}</td><td>{_e(e['flags'])}</td></tr>")
        out.append("</tbody></table><p class='lead'>Effects are paired (the same members with "
                   "and without the lever). <i>mechanical</i>: bargaining adds nothing to what "
                   "the lever imposes; <i>overshoot</i>: the forecast moves further than the "
                   "lever moved any actor; <i>spillover</i>: a joint model moves an issue the "
                   "lever does not touch.</p>")
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
    return record_table(rep.header)


def record_table(header: dict[str, Any]) -> str:
    """A run's record (settings, versions, command) as a table."""
    if not header:
        return ""
    rows = []
    for k, v in header.items():
        if isinstance(v, (dict, list)):
            v = json.dumps(v, ensure_ascii=False)
        rows.append(f"<tr><th>{_e(k)}</th><td><code>{_e(v)}</code></td></tr>")
    return "<table><tbody>" + "".join(rows) + "</tbody></table>"


def plotly_file_name() -> str:
    """The shared copy's file name: one per plotly version, so reports never mix them."""
    import plotly

    return f"plotly-{plotly.__version__}.min.js"


def _json_block(fig: Any) -> str:
    # '<' escaped: the block cannot end early or open a tag, whatever its strings hold
    return fig.to_json().replace("<", "\\u003c")


def render_html(rep: Report, *, plotly_src: str | None = None,
                asset_base: str | None = None) -> str:
    """The whole page as a string.

    ``plotly_src``: where the page loads plotly.js from (a path or URL); None inlines
    the library (a self-contained file).  ``asset_base``: a URL prefix from which the
    page loads ``report.css`` and ``report.js`` (:data:`CSS`, :data:`DRAW_JS`) instead
    of inlining them.
    """
    toc = ["<a href='#forecasts'>Forecasts</a>"]
    body = ["<section id='forecasts'><h2>Forecasts</h2>",
            _trust_html(rep.trust), _why_html(rep.why), _forecast_html(rep)]
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
            body.append(chart_html(c.key, n, c.figure, c.caption))
        body.append("</section>")
    toc.append("<a href='#record'>Run record</a>")
    body.append("<section id='record'><h2>Run record</h2><p class='lead'>Everything needed to "
                "reproduce this run.</p>" + _record_html(rep) + "</section>")
    return page_html(rep.title, rep.subtitle, toc, body, plotly_src=plotly_src,
                     asset_base=asset_base)


def chart_html(key: str, n: int, figure: Any, caption: str = "") -> str:
    """One chart: its figure as a JSON block, drawn by :data:`DRAW_JS`."""
    cid = f"chart-{n}-{key}"
    cap = f"<figcaption>{_e(caption)}</figcaption>" if caption else ""
    return (f"<figure data-chart='{_e(key)}'><div class='chart' id='{_e(cid)}' "
            f"data-figure='{_e(cid)}-data'></div>"
            f"<script type='application/json' id='{_e(cid)}-data'>"
            f"{_json_block(figure)}</script>{cap}</figure>")


def page_html(title: str, subtitle: str, toc: list[str], body: list[str], *,
              plotly_src: str | None = None, asset_base: str | None = None) -> str:
    """A report page: head (styles, plotly.js), header, navigation, body, chart drawing."""
    parts: list[str] = []
    style = (f"<link rel='stylesheet' href='{_e(asset_base)}/report.css'>" if asset_base
             else f"<style>{CSS}</style>")
    parts.append("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
                 "<meta name='viewport' content='width=device-width, initial-scale=1'>"
                 f"<title>{_e(title)} — stakes report</title>{style}")
    if plotly_src is not None:
        parts.append(f"<script src='{_e(plotly_src)}'></script>")
    else:
        from plotly.offline import get_plotlyjs

        # '</script' inside the library would end the element early.
        parts.append("<script>" + get_plotlyjs().replace("</script", "<\\/script")
                     + "</script>")
    parts.append("</head><body>")
    parts.append(f"<header><h1>{_e(title)}</h1><p>{_e(subtitle)}</p></header>")
    parts.append("<nav>" + "".join(toc) + "</nav><main>")
    parts.extend(body)
    parts.append("</main>")
    parts.append(f"<script src='{_e(asset_base)}/report.js'></script>" if asset_base
                 else f"<script>{DRAW_JS}</script>")
    parts.append("</body></html>")
    return "".join(parts)


def write_html(rep: Report, path: str | os.PathLike, *, self_contained: bool = False) -> Path:
    """Write the page atomically; return its path.

    By default one shared copy of plotly.js is written beside it (once per folder and
    plotly version); ``self_contained`` inlines the library instead (one larger file).
    """
    return write_page(lambda src: render_html(rep, plotly_src=src), path,
                      self_contained=self_contained)


def write_page(render: Callable[[str | None], str], path: str | os.PathLike, *,
               self_contained: bool = False) -> Path:
    """Write ``render(plotly_src)`` atomically, with plotly.js beside it or inlined."""
    from ..scenario.yaml_io import write_atomic

    p = Path(path)
    src = None
    if not self_contained:
        from plotly.offline import get_plotlyjs

        src = plotly_file_name()
        lib = p.parent / src
        if not lib.exists():
            write_atomic(lib, get_plotlyjs())
            _shareable(lib)
    write_atomic(p, render(src))
    _shareable(p)
    return p


def _shareable(p: Path) -> None:
    # A report is meant to be shared: the usual permissions, not a temp file's 0600.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(p, 0o666 & ~umask)
