"""The accuracy table, the combined forecasts, and their text/JSON forms."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .deu3 import ACTOR_IDS
from .metrics import score
from .runner import BacktestRun
from .stacking import Loss, StackResult, cross_validated_stack, grouped_folds

IntervalScale = Literal["spread", "constant"]
SPREAD_FLOOR = 10.0  # points added to the spread so agreed issues still get an interval


@dataclass(frozen=True)
class StackSettings:
    folds: int = 10
    seed: int = 0
    loss: Loss = "lad"
    level: float = 0.8
    interval: IntervalScale = "spread"


@dataclass
class BacktestReport:
    run: BacktestRun
    rows: list[dict[str, Any]]
    stacks: list[StackResult] = field(default_factory=list)
    settings: StackSettings | None = None
    anchor: str | None = None
    calibration: list[dict[str, Any]] = field(default_factory=list)
    calibrated: list[Any] = field(default_factory=list)  # calibration.Calibrated
    reference: str | None = None
    comparisons: list[Any] = field(default_factory=list)  # calibration.Comparison
    development: BacktestRun | None = None  # the issues the combinations are fitted on
    held_out: int = 0  # pre-registered held-out issues left out of every fit


def procedure_groups(run: BacktestRun) -> list[tuple[str, np.ndarray]]:
    procs = Counter(i.procedure for i in run.issues)
    out = [("all", np.ones(len(run.issues), dtype=bool))]
    for p, _ in procs.most_common():
        out.append((p, np.array([i.procedure == p for i in run.issues])))
    return out


def accuracy_rows(run: BacktestRun) -> list[dict[str, Any]]:
    """One row per forecaster × capability × procedure (long form)."""
    y = run.outcome
    rows = []
    for fc, cap in run.columns():
        for proc, mask in procedure_groups(run):
            s = score(run.forecasts[(fc.label, cap)], y, mask)
            rows.append({"model": fc.label, "capability": cap, "procedure": proc,
                         **s.as_dict()})
    return rows


def _spread(run: BacktestRun, anchor: np.ndarray) -> np.ndarray:
    """Salience-weighted mean distance of the positions from the anchor forecast."""
    pos = np.array([i.position for i in run.issues])
    sal = np.array([np.nan_to_num(i.salience, nan=0.0) for i in run.issues])
    w = np.where(np.isnan(pos), 0.0, sal)
    dev = np.abs(np.nan_to_num(pos) - anchor[:, None])
    tot = w.sum(axis=1)
    plain = np.nanmean(np.abs(pos - anchor[:, None]), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tot > 0, (w * dev).sum(axis=1) / np.where(tot > 0, tot, 1.0), plain)


def influence_inputs(run: BacktestRun, anchor: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """The anchor and, per actor, the anchor pulled towards the actor by its salience.

    A convex combination of these is ``anchor + Σ_a w_a s_a (x_a − anchor)``: a
    compromise whose actor weights are learned from outcomes instead of
    assumed.  An actor without a position on an issue contributes no pull.
    """
    pos = np.array([i.position for i in run.issues])
    sal = np.array([np.nan_to_num(i.salience, nan=0.0) / 100.0 for i in run.issues])
    a = anchor[:, None]
    pull = np.where(np.isnan(pos), a, a + sal * (pos - a))
    return np.column_stack([anchor, pull]), ["anchor"] + [f"pull:{x}" for x in ACTOR_IDS]


def stack_all(run: BacktestRun, settings: StackSettings) -> tuple[list[StackResult], str]:
    """Three combinations, each scored out of fold with the same proposal-grouped folds."""
    y = run.outcome
    folds = grouped_folds([i.proposal for i in run.issues], settings.folds, settings.seed)
    cols = run.columns()
    names = [f"{fc.label}|{cap}" for fc, cap in cols]
    F = np.column_stack([run.forecasts[(fc.label, cap)] for fc, cap in cols])
    comp_caps = [cap for fc, cap in cols if fc.label == "compromise"]
    anchor_name = f"compromise|{comp_caps[0]}"
    anchor = run.forecasts[("compromise", comp_caps[0])]
    G, gnames = influence_inputs(run, anchor)
    gnames[0] = anchor_name
    scale = SPREAD_FLOOR + _spread(run, anchor) if settings.interval == "spread" else None
    alpha = 1.0 - settings.level
    kw = dict(loss=settings.loss, alpha=alpha, scale=scale)
    out = [
        cross_validated_stack("models", F, names, y, folds, **kw),
        cross_validated_stack("influence", G, gnames, y, folds, **kw),
        cross_validated_stack("models+influence", np.column_stack([F, G[:, 1:]]),
                              names + gnames[1:], y, folds, **kw),
    ]
    return out, anchor_name


def build_report(run: BacktestRun, settings: StackSettings | None, *,
                 held_out: frozenset[str] = frozenset(), distributions: bool = True,
                 ) -> BacktestReport:
    """Accuracy on every scored issue; combinations, distributions and comparisons on
    the issues outside ``held_out`` (the pre-registered held-out set)."""
    from .calibration import calibrate_all, calibration_rows, comparisons, restrict

    rep = BacktestReport(run, accuracy_rows(run), settings=settings)
    if settings is None:
        return rep
    keep = np.array([i.issue_id not in held_out for i in run.issues])
    dev = run if keep.all() else restrict(run, keep)
    rep.development, rep.held_out = dev, int((~keep).sum())
    rep.stacks, rep.anchor = stack_all(dev, settings)
    if distributions:
        rep.calibrated = calibrate_all(dev, rep.stacks)
        rep.calibration = calibration_rows(rep.calibrated, dev)
        rep.reference, rep.comparisons = comparisons(dev, rep.stacks, rep.calibrated,
                                                     settings.seed)
    return rep


# --- text forms --------------------------------------------------------------------------

def _f(v: float, digits: int = 2) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def _pct(v: float, digits: int = 0) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    return f"{100 * v:.{digits}f}%"


def wide_rows(rep: BacktestReport) -> tuple[list[str], list[list[str]]]:
    """Header and rows: one row per forecaster × capability, procedures side by side."""
    procs = [p for p, _ in procedure_groups(rep.run)]
    header = ["model", "capability"]
    for p in procs:
        tag = "" if p == "all" else f" {p}"
        header += [f"n{tag}", f"MAE{tag}", f"MedAE{tag}", f"≤10{tag}"]
    index = {(r["model"], r["capability"], r["procedure"]): r for r in rep.rows}
    body = []
    for fc, cap in rep.run.columns():
        line = [fc.label, cap]
        for p in procs:
            r = index[(fc.label, cap, p)]
            line += [str(r["n"]), _f(r["mae"]), _f(r["median_ae"]), _pct(r["within10"])]
        body.append(line)
    return header, body


def procedure_table(rep: BacktestReport, procedure: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows for one procedure group: one row per forecaster × capability."""
    index = {(r["model"], r["capability"], r["procedure"]): r for r in rep.rows}
    body = []
    for fc, cap in rep.run.columns():
        r = index[(fc.label, cap, procedure)]
        body.append([fc.label, cap, str(r["n"]), _f(r["mae"]), _f(r["median_ae"]),
                     _pct(r["within10"])])
    return ["model", "capability", "n", "MAE", "MedAE", "≤10"], body


def stack_rows(rep: BacktestReport) -> tuple[list[str], list[list[str]]]:
    header = ["combination", "k", "n", "MAE", "MedAE", "≤10",
              f"{100 * (1 - rep.stacks[0].alpha):.0f}% cover", "width"]
    body = [[s.name, str(len(s.inputs)), str(s.score.n), _f(s.score.mae),
             _f(s.score.median_ae), _pct(s.score.within10), _pct(s.interval.coverage, 1),
             _f(s.interval.mean_width, 1)] for s in rep.stacks]
    return header, body


def top_weights(s: StackResult, k: int = 8) -> str:
    items = sorted(s.weights.items(), key=lambda kv: -kv[1])
    shown = ", ".join(f"{n} {w:.2f}" for n, w in items[:k])
    return shown + (f", +{len(items) - k} more" if len(items) > k else "")


def skipped_lines(run: BacktestRun) -> list[str]:
    """Issues a model could not forecast, with the reason (capabilities sharing one line)."""
    grouped: dict[tuple[str, str, int], list[str]] = {}
    for fc, cap in run.columns():
        for reason, n in run.reasons[(fc.label, cap)].items():
            if n:
                grouped.setdefault((fc.label, reason, n), []).append(cap)
    lines = []
    for (label, reason, n), caps in grouped.items():
        where = "" if caps == ["-"] else f" ({', '.join(caps)})"
        lines.append(f"{label}{where}: {n} issues without a forecast: {reason}")
    return lines


def summary_lines(rep: BacktestReport) -> list[str]:
    run = rep.run
    procs = Counter(i.procedure for i in run.issues)
    props = len({i.proposal for i in run.issues})
    by_proc = ", ".join(f"{p} {n}" for p, n in procs.most_common())
    lines = [
        f"DEU III backtest: {run.data.path}",
        f"{len(run.issues)} issues with an outcome ({by_proc}) in {props} proposals; "
        f"{sum(i.has_reference for i in run.issues)} with a reference point",
        f"Commission and Parliament capability: {run.institutions}",
    ]
    lines += list(run.data.notes)
    return lines


def to_markdown(rep: BacktestReport) -> str:
    def table(header: list[str], body: list[list[str]]) -> list[str]:
        align = ["---" if k < 2 else "---:" for k in range(len(header))]
        # Labels such as "eum|qmv" hold the cell separator; Markdown wants it escaped.
        esc = lambda cells: [c.replace("|", "\\|") for c in cells]  # noqa: E731
        return ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"] + \
            ["| " + " | ".join(esc(r)) + " |" for r in body]

    out = [f"{ln}  " for ln in summary_lines(rep)] + [""]
    out += table(*wide_rows(rep))
    skipped = skipped_lines(rep.run)
    if skipped:
        out += [""] + [f"- {s}" for s in skipped]
    if rep.stacks:
        st = rep.settings
        dev = rep.development
        if rep.held_out:
            out += ["", f"Everything below is fitted and scored on the {len(dev.issues)} "
                    f"development issues: the {rep.held_out} pre-registered held-out issues "
                    "are left out."]
        out += ["", f"Combined forecasts, out of fold ({st.folds} folds grouped by proposal, "
                f"seed {st.seed}, {st.loss} fit, {st.interval} conformal intervals):", ""]
        out += table(*stack_rows(rep))
        out += [""] + [f"- {s.name} (weights on all {s.weights_n} issues): {top_weights(s)}"
                       for s in rep.stacks]
    if rep.calibration:
        from .calibration import primary_capability

        out += ["", "Predictive distributions, out of fold (error model fitted on the training "
                f"folds; positions weighted by salience × {primary_capability(rep.development)} "
                "capability):", ""]
        out += table(*calibration_table(rep))
        out += ["", "PIT histograms (10 bins of width 0.1, issue counts; flat = calibrated):",
                ""]
        out += table(["forecast", "PIT counts"],
                     [[r["name"], " ".join(str(c) for c in r["pit"])]
                      for r in rep.calibration])
        out += ["", *comparison_caption(rep), ""]
        out += table(*comparison_table(rep))
    return "\n".join(out) + "\n"


def calibration_table(rep: BacktestReport) -> tuple[list[str], list[list[str]]]:
    header = ["forecast", "n", "MAE", "CRPS", "50% cover", "80% cover", "90% cover",
              "80% at ends", "80% by fold", "80% width", "p(outcome)", "modal hit"]
    body = []
    for r in rep.calibration:
        fcov = [v for v in r["cover80_folds"] if not math.isnan(v)]
        body.append([r["name"], str(r["n"]), _f(r["mae"]), _f(r["crps"]), _pct(r["cover50"], 1),
                     _pct(r["cover80"], 1), _pct(r["cover90"], 1),
                     f"{_pct(r['cover80_ends'], 1)} of {r['n_ends']}",
                     f"{_pct(min(fcov))}–{_pct(max(fcov))}" if fcov else "—",
                     _f(r["width80"], 1), _pct(r["p_outcome"]), _pct(r["modal_hit"])])
    return header, body


def comparison_caption(rep: BacktestReport) -> list[str]:
    from .compare import B

    m = len(rep.comparisons)
    return [f"Against the vote-weighted compromise ({rep.reference}): mean paired difference "
            "(negative: better than the reference) on the issues both forecast, with 95% "
            f"intervals from {B} bootstrap resamples of whole proposals. {m} comparisons are "
            f"made; the last column is the interval at level 1 − 0.05/{m} (Bonferroni)."]


def comparison_table(rep: BacktestReport) -> tuple[list[str], list[list[str]]]:
    header = ["forecast", "measure", "reference", "n", "difference", "95% CI",
              "Bonferroni CI"]
    body = [[c.candidate, c.measure, c.reference, str(c.diff.n), _signed(c.diff.mean),
             f"[{_signed(c.diff.lo)}, {_signed(c.diff.hi)}]",
             f"[{_signed(c.diff.lo_adj)}, {_signed(c.diff.hi_adj)}]"]
            for c in rep.comparisons]
    return header, body


def _signed(v: float) -> str:
    return "—" if math.isnan(v) else f"{v:+.2f}"


def to_json(rep: BacktestReport) -> dict[str, Any]:
    from .. import __version__

    run = rep.run

    def clean(v: Any) -> Any:
        if isinstance(v, float) and math.isnan(v):
            return None
        return v

    doc: dict[str, Any] = {
        "stakes_version": __version__,
        "data": {"path": run.data.path, "issues": len(run.data.issues),
                 "scored": len(run.issues),
                 "proposals": len({i.proposal for i in run.issues}),
                 "notes": list(run.data.notes)},
        "capabilities": list(run.capabilities),
        "institutions": run.institutions,
        "models": [{"label": f.label, "model": f.model, "options": f.option_dict}
                   for f in run.forecasters],
        "rows": [{k: clean(v) for k, v in r.items()} for r in rep.rows],
        "skipped": [{"model": fc.label, "capability": cap, "reason": reason, "issues": n}
                    for fc, cap in run.columns()
                    for reason, n in run.reasons[(fc.label, cap)].items()],
        "seconds": {"wall": run.wall_seconds,
                    "cpu": {f"{k[0]}|{k[1]}": v for k, v in run.seconds.items()}},
    }
    if rep.stacks:
        st = rep.settings
        doc["stacking"] = {
            "folds": st.folds, "seed": st.seed, "loss": st.loss, "level": st.level,
            "interval": st.interval, "anchor": rep.anchor,
            "results": [{
                "name": s.name, "inputs": list(s.inputs),
                **{k: clean(v) for k, v in s.score.as_dict().items()},
                "coverage": clean(s.interval.coverage), "mean_width": clean(s.interval.mean_width),
                "weights": s.weights, "weights_fitted_on": s.weights_n,
            } for s in rep.stacks],
        }
        doc["stacking"]["development_issues"] = len(rep.development.issues)
        doc["stacking"]["held_out_issues"] = rep.held_out
    if rep.calibration:
        doc["distributions"] = [{k: (clean(v) if not isinstance(v, list) else
                                     [clean(x) for x in v]) for k, v in r.items()}
                                for r in rep.calibration]
        doc["comparisons"] = {
            "reference": rep.reference, "count": len(rep.comparisons),
            "results": [{"candidate": c.candidate, "reference": c.reference,
                         "measure": c.measure,
                         **{k: clean(v) for k, v in c.diff.__dict__.items()}}
                        for c in rep.comparisons]}
    return doc


def forecasts_table(rep: BacktestReport) -> list[dict[str, Any]]:
    """Per issue: outcome, every forecast, each combination's forecast and conformal
    interval, and each distribution's 80% interval (empty on held-out issues)."""
    run = rep.run
    dev = rep.development or run
    at = {i.issue_id: k for k, i in enumerate(dev.issues)}
    nan = float("nan")
    out = []
    for k, iss in enumerate(run.issues):
        row: dict[str, Any] = {"issue": iss.issue_id, "proposal": iss.proposal,
                               "procedure": iss.procedure, "rule": iss.rule,
                               "reference": iss.reference, "outcome": iss.outcome}
        for fc, cap in run.columns():
            row[f"{fc.label}|{cap}"] = run.forecasts[(fc.label, cap)][k]
        j = at.get(iss.issue_id)
        for s in rep.stacks:
            row[s.name] = nan if j is None else s.forecast[j]
            row[f"{s.name} lo"] = nan if j is None else s.lo[j]
            row[f"{s.name} hi"] = nan if j is None else s.hi[j]
            row[f"{s.name} fold"] = "" if j is None else int(s.folds[j])
        for c in rep.calibrated:
            row[f"{c.name} dist80 lo"] = nan if j is None else c.lo[0.8][j]
            row[f"{c.name} dist80 hi"] = nan if j is None else c.hi[0.8][j]
        out.append(row)
    return out
