"""Static images of the report's charts.

Two engines draw the same plotly figures:

- ``matplotlib`` (default): redraws each figure with matplotlib, reading
  the traces and layout :mod:`stakes.report.charts` uses (Scatter with
  lines, markers, text and fills; Bar with base and error bars; Table; axis
  titles and ranges).  Needs nothing but a pip install and gives the same
  pixels on every machine.
- ``kaleido``: plotly's own renderer, which needs the ``kaleido`` package and
  a Chromium browser (Debian: ``apt-get install chromium``).
"""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from ..errors import OptionError

if TYPE_CHECKING:  # pragma: no cover
    import plotly.graph_objects as go

    from .build import Report

ENGINES = ("matplotlib", "kaleido")
DPI = 100

_DASH = {"dash": "--", "dot": ":", "dashdot": "-.", "longdash": "--", "solid": "-", None: "-"}
_SYMBOL = {"circle": "o", "diamond": "D", "square": "s", "x": "x", "cross": "P",
           "triangle-up": "^", "triangle-down": "v", None: "o"}
_TAG = re.compile(r"<[^>]+>")


def _text(s: Any) -> str:
    """Plotly's small HTML subset as plain text (line breaks kept)."""
    if s is None:
        return ""
    s = re.sub(r"<br\s*/?>", "\n", str(s))
    return _TAG.sub("", s)


def _color(c: Any, default: str = "#222222") -> Any:
    """Plotly colour strings (#hex, rgb(), rgba()) as matplotlib colours."""
    if c is None:
        return default
    s = str(c).strip()
    m = re.fullmatch(r"rgba?\(([^)]*)\)", s)
    if m:
        parts = [float(p) for p in m.group(1).split(",")]
        r, g, b = (v / 255 for v in parts[:3])
        a = parts[3] if len(parts) > 3 else 1.0
        return (r, g, b, a)
    return s


def _list(v: Any) -> list:
    if v is None:
        return []
    try:
        return list(v)
    except TypeError:
        return [v]


def _num(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


LINE_IN = 0.16  # height of one table text line, inches


def _table_figure(tr: Any, head: str, sub: str, width_in: float) -> Any:
    """A Table trace as a figure whose height fits its wrapped rows."""
    from matplotlib.figure import Figure

    header = [_text(h) for h in _list(tr.header.values)]
    cols = [_list(c) for c in _list(tr.cells.values)]
    widths = [float(w) for w in (_list(tr.columnwidth) or [1] * len(header))]
    total = sum(widths)
    chars = [max(6, int(150 * w / total)) for w in widths]
    rows = list(zip(*cols)) if cols else []
    fills = _list(tr.cells.fill.color) if tr.cells.fill is not None else []
    row_fill = _list(fills[0]) if fills and isinstance(fills[0], (list, tuple)) else []
    wrapped = [["\n".join(textwrap.wrap(_text(v), width=chars[k]) or [""])
                for k, v in enumerate(r)] for r in rows]
    lines = [max(1, max((c.count("\n") + 1 for c in r), default=1)) for r in wrapped]
    body_in = LINE_IN * (sum(lines) + 0.6 * len(lines) + 1.6)
    top_in = 0.75
    mfig = Figure(figsize=(width_in, body_in + top_in), dpi=DPI)
    mfig.text(0.01, 1 - 0.3 / (body_in + top_in), head, fontsize=13, fontweight="bold",
              va="center")
    if sub:
        mfig.text(0.01, 1 - 0.58 / (body_in + top_in), sub, fontsize=8.5, color="#555555",
                  va="center")
    ax = mfig.add_axes([0.01, 0.0, 0.98, body_in / (body_in + top_in)])
    ax.axis("off")
    unit = 1.0 / (sum(lines) + 0.6 * len(lines) + 1.6)
    table = ax.table(cellText=wrapped or None, colLabels=header,
                     colWidths=[w / total for w in widths], loc="upper left", cellLoc="left")
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    for (r, c), cell in table.get_celld().items():
        cell.set_edgecolor("#d8dde6")
        cell.PAD = 0.02
        if r == 0:
            cell.set_facecolor("#e8eef6")
            cell.set_text_props(weight="bold")
            cell.set_height(1.6 * unit)
        else:
            cell.set_height((lines[r - 1] + 0.6) * unit)
            if row_fill and r - 1 < len(row_fill):
                cell.set_facecolor(_color(row_fill[r - 1], "white"))
    return mfig


def _axis_title(ax: Any, lay: Any) -> None:
    xt = lay.xaxis.title.text if lay.xaxis and lay.xaxis.title else None
    yt = lay.yaxis.title.text if lay.yaxis and lay.yaxis.title else None
    if xt:
        ax.set_xlabel("\n".join(textwrap.wrap(_text(xt), 110)))
    if yt:
        ax.set_ylabel("\n".join(textwrap.wrap(_text(yt), 60)))


def _to_matplotlib(fig: "go.Figure") -> Any:
    """Draw a plotly figure (the subset charts.py uses) with matplotlib."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    lay = fig.layout
    width = (lay.width or 900) / DPI
    height = (lay.height or 520) / DPI
    title = _text(lay.title.text if lay.title else "")
    head, _, sub = title.partition("\n")
    if lay.title and lay.title.subtitle and lay.title.subtitle.text:
        sub = _text(lay.title.subtitle.text)
    tables = [t for t in fig.data if t.type == "table"]
    if tables:
        return _table_figure(tables[0], head, sub, width)

    # The plot area keeps plotly's proportions; the legend sits to its right and
    # savefig's tight bounding box makes room for it and for long tick labels.
    mfig = Figure(figsize=(width * 0.72, height), dpi=DPI)
    ax = mfig.add_axes([0.12, 0.12, 0.86, 0.72])
    sub_lines = textwrap.wrap(sub, 95) if sub else []
    if sub_lines:
        ax.annotate("\n".join(sub_lines), xy=(0, 1), xycoords="axes fraction",
                    xytext=(0, 8), textcoords="offset points", fontsize=8.5, color="#555555",
                    va="bottom", ha="left", annotation_clip=False)
    ax.annotate(head, xy=(0, 1), xycoords="axes fraction",
                xytext=(0, 14 + 11 * len(sub_lines)), textcoords="offset points", fontsize=12,
                fontweight="bold", va="bottom", ha="left", annotation_clip=False)
    categorical_y = bool(lay.yaxis and lay.yaxis.type == "category")
    cats: list[str] = []
    if categorical_y:
        cats = [str(c) for c in _list(lay.yaxis.categoryarray)]

    def ypos(values: Sequence[Any]) -> list[float]:
        if not categorical_y:
            return [_num(v) for v in values]
        out = []
        for v in values:
            if v is None:
                out.append(float("nan"))
                continue
            if str(v) not in cats:
                cats.append(str(v))
            out.append(float(cats.index(str(v))))
        return out

    prev_y: list[float] | None = None
    handles = []
    bars = [t for t in fig.data if t.type == "bar"]
    nbar = len(bars)
    bar_k = 0
    for tr in fig.data:
        name = _text(tr.name) if tr.name else None
        show = tr.showlegend is not False and bool(name)
        label = name if show else "_nolegend_"
        if tr.type == "scatter":
            xs = [_num(v) for v in _list(tr.x)]
            ys = ypos(_list(tr.y))
            mode = tr.mode or "lines+markers"
            line = tr.line
            lc = _color(line.color if line else None)
            lw = line.width if line and line.width is not None else 2
            ls = _DASH.get(line.dash if line else None, "-")
            fill = tr.fill
            if fill == "toself":
                ax.fill(xs, ys, color=_color(tr.fillcolor, "#cccccc"), label=label,
                        linewidth=0)
            elif fill == "tonexty" and prev_y is not None and len(prev_y) == len(ys):
                ax.fill_between(xs, prev_y, ys, color=_color(tr.fillcolor, "#cccccc"),
                                label=label, linewidth=0)
            drew = False
            if "lines" in mode and lw > 0 and fill != "toself":
                ax.plot(xs, ys, color=lc, linewidth=lw, linestyle=ls,
                        label=label if fill != "tonexty" else "_nolegend_")
                drew = True
            if "markers" in mode:
                mk = tr.marker
                mc = _color(mk.color if mk else None)
                ms = (mk.size if mk and mk.size else 6) * 0.9
                edge = _color(mk.line.color) if mk and mk.line and mk.line.color else mc
                ax.plot(xs, ys, linestyle="none", marker=_SYMBOL.get(mk.symbol if mk else None,
                                                                     "o"),
                        markersize=ms, color=mc, markeredgecolor=edge,
                        label=label if not drew else "_nolegend_")
            ex = tr.error_x
            if ex is not None and ex.array is not None:
                plus = [_num(v) for v in _list(ex.array)]
                minus = [_num(v) for v in _list(ex.arrayminus)] if ex.arrayminus is not None \
                    else plus
                ax.errorbar(xs, ys, xerr=[minus, plus], fmt="none",
                            ecolor=_color(ex.color), elinewidth=ex.thickness or 1.2, capsize=4)
            if "text" in mode and tr.text is not None:
                where = tr.textposition
                where = _list(where) if isinstance(where, (list, tuple)) else [where] * len(xs)
                for x, y, t, w in zip(xs, ys, _list(tr.text), where):
                    below = str(w).startswith("bottom")
                    ax.annotate(_text(t), (x, y), textcoords="offset points",
                                xytext=(0, -9 if below else 7), ha="center",
                                va="top" if below else "bottom", fontsize=8)
            prev_y = ys
        elif tr.type == "bar":
            horizontal = tr.orientation == "h"
            mk = tr.marker
            c = _color(mk.color if mk else None, "#4e79a7")
            if horizontal:
                ys = ypos(_list(tr.y))
                ws = [_num(v) for v in _list(tr.x)]
                base = [_num(v) for v in _list(tr.base)] if tr.base is not None else 0
                thick = 0.8 / max(1, nbar) if lay.barmode == "group" else (tr.width or 0.6)
                shift = (bar_k - (nbar - 1) / 2) * thick if lay.barmode == "group" else 0
                yy = [y + shift for y in ys]
                ax.barh(yy, ws, left=base, height=thick, color=c, label=label)
                ex = tr.error_x
                if ex is not None and ex.array is not None:
                    err = [_num(v) for v in _list(ex.array)]
                    left = base if isinstance(base, list) else [0] * len(ws)
                    ax.errorbar([lft + w for lft, w in zip(left, ws)], yy, xerr=err, fmt="none",
                                ecolor=_color(ex.color), elinewidth=1.2, capsize=3)
            else:
                xs = [_num(v) for v in _list(tr.x)]
                ax.bar(xs, [_num(v) for v in _list(tr.y)], color=c, label=label)
            bar_k += 1
    if categorical_y:
        ax.set_yticks(range(len(cats)))
        ax.set_yticklabels(["\n".join(textwrap.wrap(c, 28)) for c in cats], fontsize=8.5)
        ax.set_ylim(-0.6, len(cats) - 0.4)
    else:
        yr = _list(lay.yaxis.range) if lay.yaxis else []
        if len(yr) == 2:
            ax.set_ylim(_num(yr[0]), _num(yr[1]))
    xr = _list(lay.xaxis.range) if lay.xaxis else []
    if len(xr) == 2:
        ax.set_xlim(_num(xr[0]), _num(xr[1]))
    if lay.xaxis and lay.xaxis.zeroline:
        ax.axvline(0, color="#8c8c8c", linewidth=0.8)
    if lay.yaxis and lay.yaxis.zeroline:
        ax.axhline(0, color="#8c8c8c", linewidth=0.8)
    _axis_title(ax, lay)
    ax.grid(True, color="#e6e6e6", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        legend_title = _text(lay.legend.title.text) if lay.legend and lay.legend.title else None
        wrapped = ["\n".join(textwrap.wrap(lb, 34)) for lb in labels]
        ax.legend(handles, wrapped, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                  fontsize=8, title=legend_title or None, title_fontsize=9, frameon=False)
    return mfig


def save_png(fig: "go.Figure", path: str | os.PathLike, engine: str = "matplotlib") -> Path:
    """Write one figure as a PNG file."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if engine == "kaleido":
        import importlib.util

        if importlib.util.find_spec("kaleido") is None:
            raise OptionError("--png-engine kaleido needs the kaleido package "
                              "(pip install kaleido) and a Chromium browser")
        try:
            fig.write_image(str(p), format="png", width=fig.layout.width,
                            height=fig.layout.height)
        except Exception as exc:
            raise OptionError(f"kaleido could not draw {p.name}: {exc}") from None
        return p
    if engine != "matplotlib":
        raise OptionError(f"--png-engine {engine!r}: expected one of {', '.join(ENGINES)}")
    mfig = _to_matplotlib(fig)
    tmp = p.with_name(f".{p.name}.tmp")
    try:
        mfig.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight", pad_inches=0.15,
                     facecolor="white")
        os.replace(tmp, p)
    finally:
        tmp.unlink(missing_ok=True)
    return p


def write_pngs(rep: "Report", folder: str | os.PathLike, engine: str = "matplotlib") -> list[Path]:
    """Every chart of the report as ``FOLDER/KEY.png``; return the files written."""
    d = Path(folder)
    if d.exists() and not d.is_dir():
        raise OptionError(f"--png {d}: exists and is not a folder")
    d.mkdir(parents=True, exist_ok=True)
    return [save_png(c.figure, d / f"{c.key}.png", engine) for c in rep.charts]
