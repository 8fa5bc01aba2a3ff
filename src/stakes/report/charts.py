"""The report's charts as plotly figures, built from plain arrays and DataFrames.

Every chart has a title, axis titles with units and a legend whose entries
say what each mark is.  Colours are set explicitly on every trace (no
template colour cycle) so that the static export (:mod:`stakes.report.png`)
draws the same picture.  Only a small set of plotly features is used:
``Scatter`` (lines, markers, text, ``fill="tonexty"`` / ``"toself"``),
``Bar`` (with ``base`` and error bars) and ``Table``, plus axis titles,
ranges and annotations.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import plotly.graph_objects as go

    from ..scenario.schema import Issue

# Tableau 10, then its lighter companions: distinct and readable on white.
PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac", "#1f77b4", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5",
    "#c49c94", "#f7b6d2", "#dbdb8d", "#9edae5",
)
MODEL_COLORS = {
    "eum": "#d62728", "compromise": "#1f77b4", "median": "#2ca02c", "status-quo": "#7f7f7f",
    "nbs": "#9467bd", "nbs-joint": "#8c564b", "smp": "#e377c2", "exchange": "#17becf",
}
INK = "#222222"
GREY = "#8c8c8c"
WIDTH, HEIGHT = 900, 520


def color(k: int) -> str:
    """The k-th actor's colour: the palette, then hues spaced by the golden angle at two
    lightnesses, so that no two of a scenario's actors share a colour."""
    if k < len(PALETTE):
        return PALETTE[k]
    import colorsys

    j = k - len(PALETTE)
    hue = (j * 0.618033988749895) % 1.0
    light = 0.42 if j % 2 == 0 else 0.6
    r, g, b = colorsys.hls_to_rgb(hue, light, 0.65)
    return f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"


def model_color(name: str, k: int = 0) -> str:
    return MODEL_COLORS.get(name, color(k))


def rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _go():
    import plotly.graph_objects as go

    return go


def _fmt(v: float) -> str:
    return f"{v:g}"


AXIS_TITLE_MAX = 90  # longer scale descriptions go to the subtitle


def _ends(issue: "Issue") -> str:
    sc = issue.scale
    if not (sc.min_label or sc.max_label):
        return ""
    return (f"{_fmt(sc.min)} = {sc.min_label or 'scale minimum'}, "
            f"{_fmt(sc.max)} = {sc.max_label or 'scale maximum'}")


def _full_title(issue: "Issue") -> str:
    parts = [p for p in (issue.scale.unit or "", _ends(issue)) if p]
    return f"Position on {issue.name}" + (f" ({'; '.join(parts)})" if parts else "")


def position_title(issue: "Issue") -> str:
    """Axis title of an issue's scale, with its unit and what its ends mean when they fit."""
    full = _full_title(issue)
    if len(full) <= AXIS_TITLE_MAX:
        return full
    sc = issue.scale
    unit = f", {sc.unit}" if sc.unit and len(sc.unit) <= 30 else ""
    return f"Position on {issue.name} ({_fmt(sc.min)} to {_fmt(sc.max)}{unit})"


def scale_note(issue: "Issue") -> str | None:
    """What the scale means, for the subtitle, when the axis title has no room for it."""
    if len(_full_title(issue)) <= AXIS_TITLE_MAX:
        return None
    unit = issue.scale.unit
    parts = [p for p in ((unit if unit and len(unit) > 30 else ""), _ends(issue)) if p]
    return "Scale: " + "; ".join(parts) if parts else None


def shift_title(issue: "Issue") -> str:
    unit = issue.scale.unit if issue.scale.unit and len(issue.scale.unit) <= 30 else None
    return f"Shift of the forecast from the baseline ({unit or 'points of the issue scale'})"


def short_label(actor_id: str, name: str | None, limit: int = 18) -> str:
    """An actor's name where it is short, else its id (the full name shows on hover)."""
    return name if name and len(name) <= limit else actor_id


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _subtitle(*parts: str | None, width: int = 110) -> str:
    """Subtitle text, wrapped with <br> so that it fits the figure's width."""
    import textwrap

    text = "; ".join(p for p in parts if p)
    return "<br>".join(textwrap.wrap(text, width))


def _layout(fig: "go.Figure", title: str, subtitle: str | None, x: str, y: str,
            legend: str | None = None, height: int = HEIGHT) -> "go.Figure":
    """Titles, axes and size of a chart.

    The title and its subtitle sit in the top margin, which is made as tall as
    their lines need (the figure grows by as much), so that no title or scale
    text runs into the plot however long the issue's scale description is.
    """
    import textwrap

    lines = subtitle.count("<br>") + 1 if subtitle else 0
    top = TITLE_PX + SUBTITLE_LINE_PX * lines + GAP_PX
    total = height + max(0, top - 90)
    # Long axis titles are wrapped: a rotated y title longer than the plot runs off it.
    y_chars = max(30, int(height / 9))
    fig.update_layout(
        title={"text": f"<b>{title}</b>", "x": 0.01, "xanchor": "left",
               "yref": "container", "y": 1 - 8 / total, "yanchor": "top",
               "font": {"size": 16},
               "subtitle": {"text": subtitle or "", "font": {"size": 12, "color": "#555555"}}},
        xaxis_title="<br>".join(textwrap.wrap(x, 110)),
        yaxis_title="<br>".join(textwrap.wrap(y, y_chars)),
        template=_TEMPLATE,
        width=WIDTH,
        height=total,
        legend={"title": {"text": legend or ""}, "x": 1.02, "xanchor": "left", "y": 1.0,
                "yanchor": "top"},
        margin={"l": 80, "r": 20, "t": top, "b": 70},
        font={"family": "Arial, Helvetica, sans-serif", "size": 13},
    )
    return fig


TITLE_PX = 34  # the bold title line and the space above it
SUBTITLE_LINE_PX = 16  # one line of 12 px subtitle text
GAP_PX = 18  # between the last subtitle line and the plot


# A small white template: plotly's own ones are deep-copied into every figure,
# which costs more than drawing the chart.
_AXIS = {"gridcolor": "#e6e6e6", "linecolor": "#444444", "showline": True, "ticks": "outside",
         "zerolinecolor": "#cccccc", "automargin": True}
_TEMPLATE = {"layout": {"paper_bgcolor": "white", "plot_bgcolor": "white",
                        "xaxis": _AXIS, "yaxis": _AXIS, "hoverlabel": {"align": "left"}}}
DASHES = ("dash", "dot", "dashdot", "longdash", "solid")


def _pad(lo: float, hi: float, frac: float = 0.04) -> list[float]:
    span = hi - lo if hi > lo else 1.0
    return [lo - frac * span, hi + frac * span]


# --------------------------------------------------------------------------
# positions by round


def positions_chart(
    issue: "Issue",
    rounds: Sequence[int],
    positions: Mapping[str, Sequence[float | None]],
    forecast: Sequence[float | None],
    *,
    names: Mapping[str, str] | None = None,
    mean: Sequence[float | None] | None = None,
    model: str = "",
    model_title: str | None = None,
    intervention: str = "baseline",
) -> "go.Figure":
    """Each actor's position after each round, with the model's forecast line.

    ``positions`` maps actor id to one value per round (None where the actor
    was not in the game).  ``mean`` (the capability x salience weighted mean)
    is drawn too when it differs from the forecast.
    """
    go = _go()
    names = names or {}
    fig = go.Figure()
    xs = list(rounds)
    for k, (aid, ys) in enumerate(positions.items()):
        label = f"{names.get(aid, aid)} ({aid})" if names.get(aid, aid) != aid else aid
        fig.add_trace(go.Scatter(
            x=xs, y=[None if v is None or _nan(v) else v for v in ys], mode="lines+markers",
            name=label, line={"color": color(k), "width": 1.6},
            marker={"size": 5, "color": color(k)},
            hovertemplate=f"{label}<br>round %{{x}}: %{{y:.3f}}<extra></extra>",
        ))
    fc = [None if v is None or _nan(v) else v for v in forecast]
    fig.add_trace(go.Scatter(
        x=xs, y=fc, mode="lines", name=f"Forecast ({model or 'model'})",
        line={"color": INK, "width": 3.5, "dash": "dash"},
        hovertemplate="forecast<br>round %{x}: %{y:.3f}<extra></extra>",
    ))
    if mean is not None:
        mv = [None if v is None or _nan(v) else v for v in mean]
        if any(a is not None and b is not None and abs(a - b) > 1e-9 for a, b in zip(mv, fc)):
            fig.add_trace(go.Scatter(
                x=xs, y=mv, mode="lines", name="Weighted mean (capability × salience)",
                line={"color": GREY, "width": 2.0, "dash": "dot"},
            ))
    what = model_title or model
    sub = _subtitle(f"Model: {what}" + ("" if intervention == "baseline"
                                        else f", with {intervention}"), scale_note(issue))
    fig.update_yaxes(range=_pad(issue.scale.min, issue.scale.max))
    fig.update_xaxes(dtick=max(1, math.ceil(len(xs) / 12)) if xs else 1)
    return _layout(fig, f"{issue.name}: positions by round", sub,
                   "Round (0 = the positions stated in the scenario)", position_title(issue),
                   legend="Actor")


def _label_positions(x: Sequence[float], y: Sequence[float]) -> list[str]:
    """Above or below each point, alternating among points close to each other,
    so that neighbouring labels do not print over one another."""
    xs, ys = np.asarray(x, float), np.asarray(y, float)
    if len(xs) == 0:
        return []
    sx = (np.nanmax(xs) - np.nanmin(xs)) or 1.0
    sy = (np.nanmax(ys) - np.nanmin(ys)) or 1.0
    out = ["top center"] * len(xs)
    # From the highest point down: a point close below a labelled one takes its label
    # underneath, away from the one above.
    order = np.lexsort((xs, -ys))
    placed: list[int] = []
    for i in order:
        near = [j for j in placed
                if abs(xs[i] - xs[j]) < 0.25 * sx and abs(ys[i] - ys[j]) < 0.08 * sy]
        if near and all(out[j] == "top center" for j in near):
            out[i] = "bottom center"
        placed.append(int(i))
    return out


def _nan(v: Any) -> bool:
    try:
        return math.isnan(float(v))
    except (TypeError, ValueError):
        return True


# --------------------------------------------------------------------------
# actor map


def actor_map_chart(
    issue: "Issue",
    actor_ids: Sequence[str],
    position: Sequence[float],
    capability: Sequence[float],
    salience: Sequence[float],
    *,
    names: Mapping[str, str] | None = None,
    forecasts: Mapping[str, float] | None = None,
    status_quo: float | None = None,
) -> "go.Figure":
    """Actors placed by position (x) and by the weight they bring, capability x salience (y).

    ``forecasts`` maps a model name to its baseline forecast, each drawn as a
    vertical line.
    """
    go = _go()
    names = names or {}
    pos = np.asarray(position, dtype=float)
    w = np.asarray(capability, dtype=float) * np.asarray(salience, dtype=float)
    top = float(np.nanmax(w)) if len(w) and np.isfinite(w).any() else 1.0
    top = top if top > 0 else 1.0
    fig = go.Figure()
    # Actors at the same point share one marker and one label.
    groups: dict[tuple[float, float], list[str]] = {}
    for a, x_, w_ in zip(actor_ids, pos, w):
        if np.isfinite(x_) and np.isfinite(w_):
            groups.setdefault((round(float(x_), 9), round(float(w_), 12)), []).append(
                short_label(a, names.get(a)))
    gx = [k[0] for k in groups]
    gy = [k[1] for k in groups]
    fig.add_trace(go.Scatter(
        x=gx, y=gy, mode="markers+text", name="Actor (label: name)",
        text=[", ".join(v) for v in groups.values()], textposition=_label_positions(gx, gy),
        cliponaxis=False,
        marker={"size": 11, "color": "#4e79a7", "line": {"color": INK, "width": 1}},
        hovertemplate="%{text}<br>position %{x:.3f}<br>capability × salience %{y:.3g}"
                      "<extra></extra>",
    ))
    ymax = top * 1.2
    for k, (model, value) in enumerate((forecasts or {}).items()):
        if value is None or _nan(value):
            continue
        # Distinct dashes keep coinciding forecasts visible.
        fig.add_trace(go.Scatter(
            x=[value, value], y=[-0.07 * ymax, ymax], mode="lines",
            name=f"Forecast: {model} ({value:.2f})",
            line={"color": model_color(model, k), "width": max(1.5, 4.0 - k),
                  "dash": DASHES[k % 4]},
        ))
    if status_quo is not None and not _nan(status_quo):
        fig.add_trace(go.Scatter(
            x=[status_quo, status_quo], y=[-0.07 * ymax, ymax], mode="lines",
            name=f"Status quo ({status_quo:.2f})", line={"color": GREY, "width": 2, "dash": "dot"},
        ))
    fig.update_xaxes(range=_pad(issue.scale.min, issue.scale.max, 0.06))
    # a little room below zero for the labels of actors that bring almost no weight
    fig.update_yaxes(range=[-0.07 * ymax, ymax])
    return _layout(fig, f"{issue.name}: who wants what, and how hard they push",
                   _subtitle("Higher = more weight in the bargaining; dashed lines: each "
                             "model's forecast", scale_note(issue)),
                   position_title(issue), "Capability × salience (relative weight, no unit)",
                   legend="Marks")


# --------------------------------------------------------------------------
# BDM perceptual quadrant map


QUADRANTS = (
    # name, polygon as a function of the half-width L, fill colour
    ("Conflict: both expect to gain from a challenge", lambda L: ([0, L, L, 0], [0, 0, L, L]),
     "#e15759"),
    ("Compromise: the viewer concedes part of the way",
     lambda L: ([0, 0, -L], [0, L, L]), "#f28e2b"),
    ("Capitulation: the viewer gives in to the other",
     lambda L: ([0, -L, -L], [0, L, 0]), "#edc948"),
    ("Status quo: neither expects to gain", lambda L: ([0, -L, -L, 0], [0, 0, -L, -L]),
     "#bab0ac"),
    ("Viewer's advantage: the other should give way",
     lambda L: ([0, L, L, 0], [0, 0, -L, -L]), "#59a14f"),
)


def quadrant_chart(
    viewer: str,
    issue_name: str,
    others: Sequence[str],
    x: Sequence[float],
    y: Sequence[float],
    *,
    round_: int = 1,
    viewer_label: str | None = None,
) -> "go.Figure":
    """BDM's perceptual quadrant map from ``viewer``'s point of view (Bueno de Mesquita 1994).

    For each other actor j: x = E^i(U_ij), the viewer's expected utility of
    challenging j; y = E^i(U_ji), the viewer's estimate of j's expected
    utility of challenging the viewer.  The line y = -x separates compromise
    from capitulation (Scholz et al. 2011; spec §2.8).  Actors at the
    same point share one label.
    """
    go = _go()
    who = viewer_label or viewer
    xs, ys = np.asarray(x, float), np.asarray(y, float)
    finite = np.isfinite(xs) & np.isfinite(ys)
    L = float(np.max(np.abs(np.r_[xs[finite], ys[finite]]))) if finite.any() else 1.0
    L = max(L, 1e-3) * 1.25
    fig = go.Figure()
    for name, poly, fill in QUADRANTS:
        px, py = poly(L)
        fig.add_trace(go.Scatter(
            x=px + [px[0]], y=py + [py[0]], mode="lines", fill="toself",
            fillcolor=rgba(fill, 0.18), line={"color": rgba(fill, 0.5), "width": 0.5},
            name=name, hoverinfo="skip",
        ))
    groups: dict[tuple[float, float], list[str]] = {}
    for o, a, b in zip(others, xs, ys):
        if np.isfinite(a) and np.isfinite(b):
            groups.setdefault((round(float(a), 6), round(float(b), 6)), []).append(o)
    gx = [k[0] for k in groups]
    gy = [k[1] for k in groups]
    fig.add_trace(go.Scatter(
        x=gx, y=gy, mode="markers+text", text=[", ".join(v) for v in groups.values()],
        textposition=_label_positions(gx, gy), name=f"Other actors, as {who} sees them",
        cliponaxis=False,
        marker={"size": 10, "color": INK, "symbol": "circle"},
        hovertemplate="%{text}<br>x %{x:.3f}, y %{y:.3f}<extra></extra>",
    ))
    fig.update_xaxes(range=[-L, L], zeroline=True, zerolinecolor=GREY)
    fig.update_yaxes(range=[-L, L], zeroline=True, zerolinecolor=GREY)
    return _layout(
        fig, f"How {viewer} sees the others on {issue_name}",
        _subtitle(f"Expected utility model, start of round {round_}; the line y = −x splits "
                  "compromise from capitulation"),
        f"{who}'s expected utility of challenging the actor, E(U_ij) (utility, no unit)",
        f"Actor's expected utility of challenging {who}, as {who} estimates it",
        legend="Regions", height=600)


# --------------------------------------------------------------------------
# lever and plan effects


def lever_effects_chart(issue: "Issue", effects: "pd.DataFrame", *,
                        interval: str | None = None) -> "go.Figure":
    """Shift of each model's forecast under each lever and plan, against the baseline.

    ``effects`` has columns ``intervention`` (row label), ``model``,
    ``effect`` and optionally ``lo`` and ``hi`` (an interval around the
    effect, e.g. the 5th and 95th percentile over sweep members; ``interval``
    says what it is, for the legend).  Without ``lo``/``hi`` the spread
    across models is drawn as a grey bar.
    """
    go = _go()
    fig = go.Figure()
    effects = effects.copy()
    # Long lever names are shortened on the axis (in full on hover), keeping them distinct.
    full = list(dict.fromkeys(effects["intervention"]))
    short: dict[str, str] = {}
    for k, name in enumerate(full):
        label = _clip(str(name), 48)
        short[name] = label if label not in short.values() else f"{label} ({k + 1})"
    effects["full"] = effects["intervention"]
    effects["intervention"] = effects["intervention"].map(short)
    rows = list(dict.fromkeys(effects["intervention"]))
    has_ci = {"lo", "hi"} <= set(effects.columns) and effects[["lo", "hi"]].notna().any().any()
    if not has_ci and effects["model"].nunique() > 1:
        span = effects.groupby("intervention", sort=False)["effect"].agg(["min", "max"])
        span = span.reindex(rows)
        fig.add_trace(go.Bar(
            y=rows, x=(span["max"] - span["min"]).to_numpy(), base=span["min"].to_numpy(),
            orientation="h", name="Range across models", marker={"color": rgba(GREY, 0.35)},
            width=0.5, hoverinfo="skip",
        ))
    for k, (model, sub) in enumerate(effects.groupby("model", sort=False)):
        c = model_color(str(model), k)
        kw: dict[str, Any] = {}
        if has_ci:
            lo = (sub["effect"] - sub["lo"]).clip(lower=0).to_numpy()
            hi = (sub["hi"] - sub["effect"]).clip(lower=0).to_numpy()
            kw["error_x"] = {"type": "data", "array": hi, "arrayminus": lo, "color": c,
                             "thickness": 1.5, "width": 6}
        fig.add_trace(go.Scatter(
            y=sub["intervention"], x=sub["effect"], mode="markers", name=f"Model: {model}",
            marker={"size": 11, "color": c, "symbol": "diamond",
                    "line": {"color": INK, "width": 1}},
            customdata=sub["full"],
            hovertemplate="%{customdata}<br>shift %{x:+.3f}<extra>" + str(model) + "</extra>",
            **kw,
        ))
    if has_ci:
        fig.add_trace(go.Scatter(
            x=[None], y=[None], mode="lines", name=f"Whiskers: {interval or 'interval'}",
            line={"color": INK, "width": 1.5},
        ))
    fig.add_trace(go.Scatter(
        x=[0, 0], y=[rows[0], rows[-1]] if rows else [0, 1], mode="lines",
        name="No shift (baseline)", line={"color": INK, "width": 1, "dash": "dot"},
    ))
    fig.update_yaxes(categoryorder="array", categoryarray=rows[::-1], type="category")
    span_all = effects["effect"].abs().max() if len(effects) else 0
    if has_ci:
        span_all = max(span_all, effects[["lo", "hi"]].abs().max().max())
    span_all = float(span_all) if span_all and np.isfinite(span_all) and span_all > 0 else 1.0
    fig.update_xaxes(range=[-1.15 * span_all, 1.15 * span_all])
    h = max(320, 160 + 40 * len(rows))
    sub = _subtitle("Each point: one model's forecast under the lever minus its baseline "
                    "forecast" + (f"; whiskers: {interval}" if has_ci else ""), scale_note(issue))
    return _layout(fig, f"{issue.name}: how each lever and plan moves the forecast", sub,
                   shift_title(issue), "Lever or plan", legend="Marks", height=h)


# --------------------------------------------------------------------------
# fan chart (sweeps)


def fan_chart(issue: "Issue", quantiles: "pd.DataFrame", *, model: str = "",
              n_members: int | None = None, nominal: Sequence[float] | None = None,
              intervention: str = "baseline") -> "go.Figure":
    """Forecast by round across the members of a sweep: median and 50% / 90% bands.

    ``quantiles`` has a ``round`` column and the columns ``q05``, ``q25``,
    ``q50``, ``q75``, ``q95``.  ``nominal`` is the forecast by round of the
    scenario as written (same rounds), drawn as a dashed line.
    """
    go = _go()
    q = quantiles.sort_values("round")
    r = q["round"].to_list()
    base = "#4e79a7"
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=r, y=q["q05"], mode="lines", line={"width": 0, "color": base},
                             showlegend=False, hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=r, y=q["q95"], mode="lines", line={"width": 0, "color": base},
                             fill="tonexty", fillcolor=rgba(base, 0.18),
                             name="Middle 90% of members (5th–95th percentile)"))
    fig.add_trace(go.Scatter(x=r, y=q["q25"], mode="lines", line={"width": 0, "color": base},
                             showlegend=False, hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=r, y=q["q75"], mode="lines", line={"width": 0, "color": base},
                             fill="tonexty", fillcolor=rgba(base, 0.40),
                             name="Middle 50% of members (25th–75th percentile)"))
    fig.add_trace(go.Scatter(x=r, y=q["q50"], mode="lines", line={"width": 3, "color": base},
                             name="Median of the members"))
    if nominal is not None:
        fig.add_trace(go.Scatter(x=r[: len(nominal)], y=list(nominal), mode="lines",
                                 line={"width": 2.5, "color": INK, "dash": "dash"},
                                 name="Scenario as written"))
    n = f"{n_members} members; " if n_members else ""
    what = _subtitle(f"Model: {model}; {n}" + ("baseline" if intervention == "baseline"
                                               else intervention), scale_note(issue))
    fig.update_yaxes(range=_pad(issue.scale.min, issue.scale.max))
    return _layout(fig, f"{issue.name}: forecast across the sweep", what,
                   "Round (0 = the positions stated in the scenario)",
                   f"Forecast — {position_title(issue)}",
                   legend="Bands")


def fan_quantiles(members: "pd.DataFrame", *, value: str = "forecast") -> "pd.DataFrame":
    """Quantiles by round over members.  A member that stopped early keeps its
    last value in later rounds (its forecast no longer changes)."""
    import pandas as pd

    wide = members.pivot_table(index="member", columns="round", values=value, aggfunc="last")
    wide = wide.sort_index(axis=1).ffill(axis=1)
    qs = wide.quantile([0.05, 0.25, 0.5, 0.75, 0.95], axis=0).T
    qs.columns = ["q05", "q25", "q50", "q75", "q95"]
    qs.index.name = "round"
    out = qs.reset_index()
    out["round"] = out["round"].astype(int)
    return pd.DataFrame(out)


# --------------------------------------------------------------------------
# Sobol tornado


def tornado_chart(indices: "pd.DataFrame", *, title: str = "Which inputs drive the forecast",
                  subtitle: str | None = None, top: int = 15) -> "go.Figure":
    """Sobol indices as a tornado: inputs sorted by total effect, largest on top.

    ``indices`` has columns ``input``, ``ST``, ``S1`` and optionally
    ``ST_conf``, ``S1_conf`` (half-widths of the confidence intervals).
    """
    go = _go()
    d = indices.copy()
    d = d.sort_values("ST", ascending=False).head(top).iloc[::-1]
    fig = go.Figure()
    for col, name, c in (("ST", "Total effect S_T (alone and in interactions)", "#f28e2b"),
                         ("S1", "First-order effect S_1 (alone)", "#4e79a7")):
        kw: dict[str, Any] = {}
        conf = f"{col}_conf"
        if conf in d.columns and d[conf].notna().any():
            kw["error_x"] = {"type": "data", "array": d[conf].fillna(0).to_numpy(),
                             "color": INK, "thickness": 1.2, "width": 4}
        fig.add_trace(go.Bar(y=d["input"], x=d[col], orientation="h", name=name,
                             marker={"color": c}, **kw))
    has_conf = any(f"{c}_conf" in d.columns for c in ("ST", "S1"))
    if has_conf:
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines",
                                 name="Whiskers: 95% confidence interval",
                                 line={"color": INK, "width": 1.2}))
    fig.update_layout(barmode="group", bargap=0.25)
    hi = float(np.nanmax(np.r_[d["ST"].to_numpy(float), d["S1"].to_numpy(float), 0.0]))
    fig.update_xaxes(range=[min(0.0, float(np.nanmin(d["S1"]))) - 0.02, max(1.0, hi) * 1.05])
    h = max(340, 160 + 48 * len(d))
    return _layout(fig, title, subtitle or "Sobol indices; longer bar = more of the forecast's "
                   "variance comes from that input",
                   "Sobol index (share of the forecast's variance, 0 to 1)", "Input",
                   legend="Bars", height=h)


# --------------------------------------------------------------------------
# evidence table


EVIDENCE_COLUMNS = ["input", "value", "basis", "source", "quote or rationale"]


def evidence_figure(table: "pd.DataFrame", *,
                    title: str = "Evidence for every input") -> "go.Figure":
    """The evidence table as a figure (for the static export)."""
    go = _go()
    cols = [c for c in EVIDENCE_COLUMNS if c in table.columns]
    fill = [["#fdecea" if b == "none given" else "white" for b in table.get("basis", [])]]
    fig = go.Figure(go.Table(
        columnwidth=[150, 50, 60, 130, 330][: len(cols)],
        header={"values": [f"<b>{c}</b>" for c in cols], "fill_color": "#e8eef6",
                "align": "left"},
        cells={"values": [table[c].astype(str).to_list() for c in cols], "align": "left",
               "fill_color": fill * len(cols) if fill[0] else "white"},
    ))
    h = min(2400, 140 + 32 * len(table))
    fig.update_layout(title={"text": f"<b>{title}</b><br><sup>Basis: evidence = a quote from a "
                                     "cited source; judgment = the analyst's reasoned estimate; "
                                     "data = a figure from a source; red rows have none</sup>",
                             "x": 0.01},
                      width=WIDTH + 200, height=h, margin={"l": 20, "r": 20, "t": 80, "b": 20})
    return fig
