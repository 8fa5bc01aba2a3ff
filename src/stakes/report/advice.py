"""The report of a plan search (``stakes advise``): an offline HTML page.

It shows, from the recorded document (:meth:`stakes.analysis.advise.Advice.json`):
the plans found as a table; the cost front (share of members meeting the goals
against cost, with the 80% intervals); for each plan whose order was scored, the
share under every ordering (the plan as written marked); and who to work on.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .charts import color
from .html import _e, chart_html, page_html, record_table, write_page


def _go():
    import plotly.graph_objects as go

    return go


def front_chart(doc: dict[str, Any]) -> Any:
    """Goal met (share of members, 80% interval) against cost; the cost front joined."""
    go = _go()
    front = set(doc["pareto_front"])
    fig = go.Figure()
    for on in (False, True):
        rows = [r for r in doc["ranked"] if (r["label"] in front) == on]
        if not rows:
            continue
        fig.add_trace(go.Scatter(
            x=[r["cost"] for r in rows], y=[100 * r["p_goals"] for r in rows],
            mode="markers", name="on the cost front" if on else "other plans",
            marker={"size": 11 if on else 8, "color": color(0 if on else 7)},
            error_y={"type": "data", "symmetric": False,
                     "array": [100 * (r["p_interval"][1] - r["p_goals"]) for r in rows],
                     "arrayminus": [100 * (r["p_goals"] - r["p_interval"][0]) for r in rows]},
            text=[r["label"] for r in rows], hovertemplate="%{text}<br>cost %{x}<br>"
            "goal met %{y:.0f}%<extra></extra>"))
    line = sorted((r for r in doc["ranked"] if r["label"] in front), key=lambda r: r["cost"])
    if len(line) > 1:
        fig.add_trace(go.Scatter(x=[r["cost"] for r in line],
                                 y=[100 * r["p_goals"] for r in line], mode="lines",
                                 line={"color": color(0), "dash": "dot"}, showlegend=False,
                                 hoverinfo="skip"))
    base = 100 * doc["baseline"]["p_goals"]
    fig.add_hline(y=base, line={"color": "#888", "dash": "dash"},
                  annotation_text=f"baseline {base:.0f}%")
    fig.update_layout(title="Cost front: share of members meeting the goals, against cost",
                      xaxis_title="cost (plan size when levers state no cost)",
                      yaxis_title="goal met (% of members)", yaxis_range=[0, 100],
                      template="plotly_white", height=420)
    return fig


def order_chart(label: str, spread: dict[str, Any]) -> Any:
    """Share meeting the goals under each ordering, sorted; the plan as written marked."""
    go = _go()
    rows = sorted(spread["scores"], key=lambda s: s["p_goals"])
    written = (spread.get("as_written") or {}).get("label")
    fig = go.Figure(go.Scatter(
        x=list(range(1, len(rows) + 1)), y=[100 * s["p_goals"] for s in rows], mode="markers",
        marker={"color": [color(3) if s["label"] == written else color(0) for s in rows],
                "size": [12 if s["label"] == written else 7 for s in rows]},
        text=[s["label"] for s in rows], hovertemplate="%{text}<br>goal met %{y:.0f}%"
        "<extra></extra>", name="orderings"))
    verdict = "order matters" if spread["order_matters"] else "order does not matter"
    fig.update_layout(title=f"{label}: {spread['orderings']} orderings ({verdict})",
                      xaxis_title="orderings, sorted by share", yaxis_range=[0, 100],
                      yaxis_title="goal met (% of members)", template="plotly_white",
                      height=340)
    return fig


def lever_chart(doc: dict[str, Any]) -> Any:
    """Each searched lever's contribution to the share meeting the goals."""
    go = _go()
    rows = list(doc["lever_values"].items())[::-1]
    how = "Shapley value" if doc["lever_values_method"] == "shapley" else "mean marginal gain"
    fig = go.Figure(go.Bar(x=[100 * v for _, v in rows], y=[lv for lv, _ in rows],
                           orientation="h", marker={"color": color(1)},
                           hovertemplate="%{y}: %{x:+.1f} points<extra></extra>"))
    fig.update_layout(title=f"Levers that matter: {how} of the share meeting the goals",
                      xaxis_title="percentage points", template="plotly_white",
                      height=120 + 26 * len(rows))
    return fig


def persuasion_chart(doc: dict[str, Any]) -> Any:
    go = _go()
    rows = doc["who_to_work_on"][:12][::-1]
    fig = go.Figure(go.Bar(
        x=[100 * r["gain"] for r in rows], orientation="h",
        y=[f"{r['actor']} ({r['what']} {r['shift']:+g})" for r in rows],
        marker={"color": [color(2) if r["significant"] else "#bbb" for r in rows]},
        hovertemplate="%{y}: %{x:+.1f} points<extra></extra>"))
    fig.update_layout(title="Who to work on: gain in goal met when one actor moves a little "
                      "(grey: not told from noise)", xaxis_title="percentage points",
                      template="plotly_white", height=120 + 26 * len(rows))
    return fig


def _plans_table(doc: dict[str, Any]) -> str:
    issue = next(iter(doc["baseline"]["forecast"]))
    head = ("<table><thead><tr><th>#</th><th>plan</th><th>cost</th><th>goal met</th>"
            f"<th>80% interval</th><th>effect on {_e(issue)} (median, 80%)</th>"
            "<th>bargained share</th><th>flag</th></tr></thead><tbody>")
    rows = []
    front = set(doc["pareto_front"])
    for k, r in enumerate(doc["ranked"], 1):
        e = r["effect"][issue]
        share = r["bargained_share"].get(issue)
        rows.append(
            f"<tr><td>{k}{'*' if r['label'] in front else ''}</td><td>{_e(r['label'])}</td>"
            f"<td class='num'>{r['cost']:g}</td><td class='num'>{100 * r['p_goals']:.0f}%</td>"
            f"<td class='num'>{100 * r['p_interval'][0]:.0f}–{100 * r['p_interval'][1]:.0f}%"
            f"</td><td class='num'>{e['median']:+.1f} ({e['lo']:+.1f} to {e['hi']:+.1f})</td>"
            f"<td class='num'>{'—' if share is None else f'{100 * share:.0f}%'}</td>"
            f"<td>{_e(', '.join(r.get('flags', ['mechanical'] if r['mechanical'] else [])))}"
            "</td></tr>")
    return head + "".join(rows) + "</tbody></table>"


def render_advice_html(scn_name: str, doc: dict[str, Any], header: dict[str, Any], *,
                       plotly_src: str | None = None, asset_base: str | None = None) -> str:
    goals = " and ".join(doc["goals"])
    b = doc["baseline"]
    lead = (f"Goal {goals}, model {doc['model']}, {doc['members']} members (seed "
            f"{doc['seed']}). {doc['plans_evaluated']} plans searched ({doc['method']}) from "
            f"{len(doc['levers_searched'])} levers that reach the goal. Baseline: goal met in "
            f"{100 * b['p_goals']:.0f}% of members. Plans marked * are on the cost front; "
            "'bargained share' is the part of the effect that bargaining adds to what the "
            "levers impose; 'mechanical' plans reach the goal because a lever moves the pivot; "
            "'cycles N%': members whose run ends in a cycle that meets the goal in some rounds "
            "and misses it in others.")
    toc = ["<a href='#plans'>Plans</a>"]
    body = [f"<section id='plans'><h2>Plans</h2><p class='lead'>{_e(lead)}</p>",
            _plans_table(doc), chart_html("cost-front", 1, front_chart(doc))]
    n = 1
    if doc.get("lever_values"):
        n += 1
        body.append(chart_html("lever-values", n, lever_chart(doc)))
    body.append("</section>")
    if doc["orders"]:
        toc.append("<a href='#orders'>Order</a>")
        body.append("<section id='orders'><h2>Does order matter?</h2><p class='lead'>Each "
                    "plan's levers in every ordering at successive rounds, all at once, and "
                    "as written (large marker).</p>")
        for label, spread in doc["orders"].items():
            n += 1
            body.append(chart_html(f"order-{n}", n, order_chart(label, spread)))
        body.append("</section>")
    if doc["who_to_work_on"]:
        n += 1
        toc.append("<a href='#persuasion'>Who to work on</a>")
        body.append("<section id='persuasion'><h2>Who to work on</h2><p class='lead'>The "
                    "gain in the share meeting the goal when one actor's position moves 10% "
                    "of the scale toward it, or its salience rises by 0.1.</p>"
                    + chart_html("persuasion", n, persuasion_chart(doc)) + "</section>")
    toc.append("<a href='#record'>Run record</a>")
    body.append("<section id='record'><h2>Run record</h2>"
                + record_table(header) + "</section>")
    return page_html(f"{scn_name}: plan search", f"goal {goals}", toc, body,
                     plotly_src=plotly_src, asset_base=asset_base)


def write_advice_html(scn_name: str, doc: dict[str, Any], header: dict[str, Any],
                      path: str | os.PathLike, *, self_contained: bool = False) -> Path:
    return write_page(lambda src: render_advice_html(scn_name, doc, header, plotly_src=src),
                      path, self_contained=self_contained)
