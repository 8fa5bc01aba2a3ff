"""Gather a run's charts and tables: what the HTML page and the PNG export show.

A report is built from what the store keeps: the scenario, the results
document (the JSON contract of :mod:`stakes.results`), the run's settings
and, for sweeps, the per-member forecasts (``members``) and Sobol indices
(``sobol``).  Charts that need data the run lacks are left out with a note
saying why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from . import charts

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import plotly.graph_objects as go

    from ..scenario.schema import Scenario

EVIDENCE_PAGE = 30  # rows per static image of the evidence table

SECTIONS = {
    "positions": ("Positions by round",
                  "Each actor's position after each round of bargaining, and the model's "
                  "forecast (dashed black line)."),
    "actors": ("Actor maps",
               "Where each actor stands on the issue, and how much weight it brings "
               "(capability × salience)."),
    "quadrant": ("Perceptual quadrant maps",
                 "Bueno de Mesquita's view of the bargaining from one actor's seat: what it "
                 "expects from challenging each other actor, and what it expects each of them "
                 "to expect from challenging it."),
    "levers": ("Levers and plans", "How far each lever and plan moves each model's forecast "
                                   "away from the baseline."),
    "fan": ("Sweep", "The spread of the forecast over the members of a sweep."),
    "sobol": ("Sensitivity", "Which inputs the forecast depends on most (Sobol indices)."),
    "evidence": ("Evidence", "Every input of the scenario with its basis."),
}


@dataclass
class Chart:
    key: str  # file name stem of the static image
    section: str
    figure: "go.Figure"
    caption: str = ""


@dataclass
class Report:
    title: str
    subtitle: str
    header: dict[str, Any]
    forecasts: "pd.DataFrame"
    evidence: "pd.DataFrame"
    charts: list[Chart] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # the same headlines, intervals, verdicts and flags as `stakes run` (forecast.view)
    trust: dict[str, Any] | None = None
    # per issue, the headline model's explanation (forecast.explain.why)
    why: list[dict[str, Any]] = field(default_factory=list)

    def section(self, name: str) -> list[Chart]:
        return [c for c in self.charts if c.section == name]


def _slug(*parts: Any) -> str:
    text = "-".join(str(p) for p in parts if p not in (None, ""))
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-").lower() or "chart"


def _model_title(name: str) -> str:
    try:
        from ..models import get_model

        return f"{get_model(name).title} ({name})"
    except Exception:  # a model that cannot be imported still gets its name
        return name


def _issues_of(res: Mapping[str, Any]) -> list[str]:
    iss = res["issue"]
    return list(iss) if isinstance(iss, list) else [iss]


def _at(v: Any, d: int) -> float | None:
    if isinstance(v, list):
        v = v[d] if d < len(v) else None
    return None if v is None else float(v)


def _iv_label(res: Mapping[str, Any]) -> str:
    if res.get("lever"):
        return f"lever:{res['lever']}"
    if res.get("plan"):
        return f"plan:{res['plan']}"
    return "baseline"


def _iv_name(scn: "Scenario", label: str) -> str:
    kind, _, ident = label.partition(":")
    try:
        if kind == "lever":
            return f"Lever: {scn.lever(ident).name}"
        if kind == "plan":
            return f"Plan: {scn.plan(ident).name}"
    except KeyError:
        pass
    return label


def forecast_table(scn: "Scenario", document: Mapping[str, Any]) -> "pd.DataFrame":
    """One row per issue x model x intervention: forecast, shift from the baseline, stop.

    ``cycle``: the range of the forecast over the rounds of the cycle the run ends in,
    where they disagree; ``shift_range``: the shift's range when the run or its baseline
    so cycles (the forecast and shift are then what the model reports for a cycle).
    """
    import pandas as pd

    from ..forecast.headline import Headline, cycle_span, shift_range

    def head(res, d: int) -> Headline:
        rng = cycle_span(res.get("stop"), (res.get("info") or {}).get("cycle_length"),
                         res.get("rounds", []), lambda rec: _at(rec["forecast"], d))
        return Headline(res["model"], "", "", False, _at(res["forecast"], d), rng)

    rows = []
    base: dict[tuple[str, str], Headline] = {}
    for res in document.get("results", []):
        for d, iss in enumerate(_issues_of(res)):
            if _iv_label(res) == "baseline":
                base[(res["model"], iss)] = head(res, d)
    for res in document.get("results", []):
        for d, iss in enumerate(_issues_of(res)):
            h = head(res, d)
            f = h.value
            b = base.get((res["model"], iss))
            label = _iv_label(res)
            moved = label != "baseline" and f is not None and b is not None \
                and b.value is not None
            rows.append({
                "issue": iss, "model": res["model"], "intervention": _iv_name(scn, label),
                "forecast": f, "cycle": h.cycle,
                "shift": f - b.value if moved else None,
                "shift_range": shift_range(h, b) if moved else None,
                "rounds": len(res.get("rounds", [])) - 1, "stop": res.get("stop"),
            })
    return pd.DataFrame(rows, columns=["issue", "model", "intervention", "forecast", "cycle",
                                       "shift", "shift_range", "rounds", "stop"])


# --------------------------------------------------------------------------
# evidence


def _source_label(scn: "Scenario", sid: str) -> str:
    for s in scn.metadata.sources:
        if s.id == sid:
            bits = [s.title]
            if s.author:
                bits.append(s.author)
            if s.date:
                bits.append(str(s.date))
            return f"{sid}: " + ", ".join(bits)
    return sid


def _basis_cells(scn: "Scenario", basis: Any) -> tuple[str, str, str]:
    if basis is None:
        return "none given", "", ""
    kind = basis.kind
    if kind == "evidence":
        text = f"“{basis.quote}”" + (f" ({basis.note})" if basis.note else "")
        return kind, _source_label(scn, basis.source), text
    if kind == "judgment":
        return kind, "", basis.rationale
    return kind, _source_label(scn, basis.source), basis.note or ""


def evidence_table(scn: "Scenario") -> "pd.DataFrame":
    """Every input value of the scenario with its basis, source and quote or rationale."""
    import pandas as pd

    rows: list[dict[str, Any]] = []
    names = {a.id: a.name for a in scn.actors}
    issues = {i.id: i.name for i in scn.issues}

    def add(what: str, value: Any, basis: Any) -> None:
        kind, source, text = _basis_cells(scn, basis)
        rows.append({"input": what, "value": value, "basis": kind, "source": source,
                     "quote or rationale": text})

    for a in scn.actors:
        if a.capability is not None:
            add(f"{a.name}: capability", f"{a.capability.value:g}", a.capability.basis)
    for i in scn.issues:
        if i.status_quo is not None:
            add(f"{i.name}: status quo", f"{i.status_quo.value:g}", i.status_quo.basis)
    for e in scn.entries:
        who = f"{names.get(e.actor, e.actor)} on {issues.get(e.issue, e.issue)}"
        add(f"{who}: position", f"{e.position.value:g}", e.position.basis)
        add(f"{who}: salience", f"{e.salience.value:g}", e.salience.basis)
        if e.capability is not None:
            add(f"{who}: capability", f"{e.capability.value:g}", e.capability.basis)
    for lv in scn.levers:
        add(f"Lever {lv.name}", f"round {lv.round}", lv.basis)
        for eff in lv.effects:
            if eff.basis is None:
                continue
            if eff.add_actor or eff.remove_actor:
                what = f"adds {eff.add_actor}" if eff.add_actor else f"removes {eff.remove_actor}"
                add(f"Lever {lv.name}: {what}", "", eff.basis)
            else:
                for fld in ("position", "salience", "capability"):
                    ch = getattr(eff, fld)
                    if ch is not None:
                        op = ("set" if ch.set is not None else "add" if ch.add is not None
                              else "scale")
                        add(f"Lever {lv.name}: {names.get(eff.actor, eff.actor)} {fld}",
                            f"{op} {getattr(ch, op):g}", eff.basis)
    for p in scn.plans:
        add(f"Plan {p.name}", f"{len(p.steps)} steps", p.basis)
    return pd.DataFrame(rows, columns=charts.EVIDENCE_COLUMNS)


# --------------------------------------------------------------------------
# EUM perceptual map data


def quadrant_points(scn: "Scenario", issue_id: str, viewer: str,
                    eum_options: Mapping[str, Any] | None = None, round_: int = 1
                    ) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The EUM's perceptual quadrant of ``viewer`` on one issue, in round ``round_``.

    Returns the other actors and, for each, x = E^i(U_ij) and y = E^i(U_ji)
    with i the viewer: what the EUM recorded for that round (its
    :class:`~stakes.models.eum.EUMRecord`) in a baseline run of the engine
    with these options, stopped at that round (Bueno de Mesquita 1994;
    Scholz et al. 2011).  ValueError when the run stops before it.
    """
    from ..engine import run_scenario

    opts = {**dict(eum_options or {}), "max_rounds": round_}
    run = run_scenario(scn, ["eum"], options={"eum": opts}, issues=[issue_id])[0].run
    if len(run.rounds) <= round_:
        raise ValueError(f"the expected utility model stops at round {len(run.rounds) - 1} "
                         f"({run.info.get('stop_detail', run.stop)}), before round {round_}")
    rec = run.rounds[round_]
    ids = list(rec.actor_ids)
    if viewer not in ids:
        raise KeyError(viewer)
    i = ids.index(viewer)
    others = [k for k in range(len(ids)) if k != i]
    return ([ids[k] for k in others], np.asarray(rec.eu_challenge)[i, others],
            np.asarray(rec.eu_challenged)[i, others])


def default_viewer(scn: "Scenario", issue_id: str) -> str | None:
    """The actor with the most weight (capability x salience) on the issue."""
    from ..scenario.arrays import to_problem

    pb = to_problem(scn, (issue_id,))
    if pb.n == 0:
        return None
    w = (pb.capability * pb.salience)[:, 0]
    return pb.actor_ids[int(np.argmax(w))]


# --------------------------------------------------------------------------
# lever effects


def lever_effects(scn: "Scenario", document: Mapping[str, Any], issue_id: str,
                  members: "pd.DataFrame | None" = None) -> "pd.DataFrame":
    """Rows (intervention, model, effect[, lo, hi]) for one issue.

    With sweep ``members``, ``lo``/``hi`` are the 5th and 95th percentiles of
    the members' shifts (each member's lever forecast minus its own baseline).
    """
    import pandas as pd

    base: dict[str, float] = {}
    rows = []
    for res in document.get("results", []):
        if issue_id in _issues_of(res) and _iv_label(res) == "baseline":
            f = _at(res["forecast"], _issues_of(res).index(issue_id))
            if f is not None:
                base[res["model"]] = f
    for res in document.get("results", []):
        label = _iv_label(res)
        if label == "baseline" or issue_id not in _issues_of(res) or res["model"] not in base:
            continue
        f = _at(res["forecast"], _issues_of(res).index(issue_id))
        if f is None:
            continue
        rows.append({"label": label, "intervention": _iv_name(scn, label),
                     "model": res["model"], "effect": f - base[res["model"]]})
    out = pd.DataFrame(rows, columns=["label", "intervention", "model", "effect"])
    if members is not None and len(members) and len(out):
        m = members[members["issue"] == issue_id]
        finals = m.groupby(["member", "model", "intervention"])["final"].last().unstack(
            "intervention")
        lo, hi = [], []
        for _, r in out.iterrows():
            try:
                d = (finals[r["label"]] - finals["baseline"]).xs(r["model"], level="model")
                d = d.dropna()
            except KeyError:
                d = pd.Series(dtype=float)
            lo.append(float(d.quantile(0.05)) if len(d) else np.nan)
            hi.append(float(d.quantile(0.95)) if len(d) else np.nan)
        out["lo"], out["hi"] = lo, hi
    return out


# --------------------------------------------------------------------------
# the report


def expectation_notes(scn: "Scenario", document: Mapping[str, Any]) -> list[str]:
    """One line per expectation the run can judge: which models meet it and which fail."""
    from ..scenario.review import evaluate_forecasts

    from ..forecast.headline import cycle_span

    fc: dict[tuple[str, str, str], float] = {}
    cycles: dict[tuple[str, str, str], tuple[float, float]] = {}
    for res in document.get("results", []):
        for d, iss in enumerate(_issues_of(res)):
            f = _at(res["forecast"], d)
            if f is not None:
                fc[(res["model"], _iv_label(res), iss)] = f
            rng = cycle_span(res.get("stop"), (res.get("info") or {}).get("cycle_length"),
                             res.get("rounds", []), lambda rec: _at(rec["forecast"], d))
            if rng is not None:
                cycles[(res["model"], _iv_label(res), iss)] = rng
    models = list(dict.fromkeys(res["model"] for res in document.get("results", [])))
    out = []
    for ex in scn.expectations:
        vs = [v for v in evaluate_forecasts(scn.model_copy(update={"expectations": [ex]}), fc,
                                            models, cycles) if v.status != "not run"]
        if not vs:
            continue
        met = [f"{v.model} ({v.detail})" for v in vs if v.status == "met"]
        bad = [f"{v.model} ({v.detail})" for v in vs if v.status == "failed"]
        cyc = [f"{v.model} ({v.detail})" for v in vs if v.status == "cycling"]
        out.append(f"Expectation {ex.id} ({ex.describe()}): "
                   + (f"FAILED by {', '.join(bad)}" if bad else
                      "met by every model run" if not cyc else "not failed")
                   + (f"; met by {', '.join(met)}" if (bad or cyc) and met else "")
                   + (f"; cycling (met in some rounds of a cycle) for {', '.join(cyc)}"
                      if cyc else "") + ".")
    return out


def _dated(scn: Scenario, created_at: str | None) -> str:
    """The scenario's age notice, judged at the run's date (today when unknown)."""
    import datetime as dt

    from ..scenario.review import as_of_notice

    day = None
    if created_at:
        try:
            day = dt.date.fromisoformat(created_at[:10])
        except ValueError:
            day = None
    notice = as_of_notice(scn, day)
    return f". {notice[0].upper()}{notice[1:]}" if notice else ""


def build_report(
    scn: "Scenario",
    document: Mapping[str, Any],
    *,
    header: Mapping[str, Any] | None = None,
    members: "pd.DataFrame | None" = None,
    sobol: "pd.DataFrame | None" = None,
    viewers: Sequence[str] | None = None,
    quadrant_round: int = 1,
) -> Report:
    """Every chart the run's data allows, with notes on those left out."""
    header = dict(header or {})
    names = {a.id: a.name for a in scn.actors}
    results = list(document.get("results", []))
    rep = Report(
        title=scn.metadata.name,
        subtitle=(f"Run {header['id']}" if header.get("id") else "Run")
        + (f", {header['created_at'][:19].replace('T', ' ')} UTC" if header.get("created_at")
           else "")
        + (f"; scenario as of {scn.metadata.as_of}" if scn.metadata.as_of else "")
        + _dated(scn, header.get("created_at")),
        header=header,
        forecasts=forecast_table(scn, document),
        evidence=evidence_table(scn),
    )
    issues = {i.id: i for i in scn.issues}
    rep.notes += expectation_notes(scn, document)

    # positions by round: the baseline of every model, per issue
    no_rounds = []
    for res in results:
        if _iv_label(res) != "baseline":
            continue
        if len(res.get("rounds", [])) < 2:
            no_rounds.append(res["model"])
            continue
        for d, iss in enumerate(_issues_of(res)):
            if iss not in issues:
                continue
            rounds = [r["round"] for r in res["rounds"]]
            actors: dict[str, list[float | None]] = {}
            for t, r in enumerate(res["rounds"]):
                for a, v in r["positions"].items():
                    actors.setdefault(a, [None] * len(rounds))[t] = _at(v, d)
            fig = charts.positions_chart(
                issues[iss], rounds, actors, [_at(r["forecast"], d) for r in res["rounds"]],
                names=names, mean=[_at(r["mean"], d) for r in res["rounds"]],
                model=res["model"], model_title=_model_title(res["model"]))
            rep.charts.append(Chart(_slug("positions", iss, res["model"]), "positions", fig))

    if no_rounds:
        rep.notes.append(f"No positions-by-round chart for {', '.join(dict.fromkeys(no_rounds))}:"
                         " the model gives its forecast without rounds (the actor maps show "
                         "it).")

    # actor maps
    from ..scenario.arrays import to_problem

    base_fc: dict[str, dict[str, float]] = {}
    for res in results:
        if _iv_label(res) == "baseline":
            for d, iss in enumerate(_issues_of(res)):
                f = _at(res["forecast"], d)
                if f is not None:
                    base_fc.setdefault(iss, {})[res["model"]] = f
    for iss, issue in issues.items():
        pb = to_problem(scn, (iss,))
        if pb.n == 0:
            continue
        sq = issue.status_quo.value if issue.status_quo is not None else None
        fig = charts.actor_map_chart(issue, pb.actor_ids, pb.position[:, 0], pb.capability[:, 0],
                                     pb.salience[:, 0], names=names,
                                     forecasts=base_fc.get(iss, {}), status_quo=sq)
        rep.charts.append(Chart(_slug("actors", iss), "actors", fig))

    # perceptual quadrants (EUM)
    eum = [r for r in results if r["model"] == "eum" and _iv_label(r) == "baseline"]
    if not eum:
        rep.notes.append("No perceptual quadrant map: the expected utility model (eum) was not "
                         "part of this run.")
    for res in eum:
        iss = _issues_of(res)[0]
        if iss not in issues:
            continue
        chosen = list(viewers) if viewers else [default_viewer(scn, iss)]
        for viewer in chosen:
            if viewer is None:
                continue
            try:
                others, x, y = quadrant_points(scn, iss, viewer, res.get("options"),
                                               quadrant_round)
            except KeyError:
                rep.notes.append(f"No perceptual quadrant map for {viewer} on {iss}: it takes "
                                 "no position on that issue.")
                continue
            except Exception as exc:  # the EUM's options or kernel refused the input
                rep.notes.append(f"No perceptual quadrant map on {iss}: {exc}")
                continue
            fig = charts.quadrant_chart(names.get(viewer, viewer), issues[iss].name,
                                        [charts.short_label(o, names.get(o)) for o in others],
                                        x, y, round_=quadrant_round,
                                        viewer_label=charts.short_label(viewer,
                                                                        names.get(viewer)))
            rep.charts.append(Chart(_slug("quadrant", iss, viewer), "quadrant", fig))

    # lever and plan effects
    if any(_iv_label(r) != "baseline" for r in results):
        for iss, issue in issues.items():
            eff = lever_effects(scn, document, iss, members)
            if len(eff):
                fig = charts.lever_effects_chart(
                    issue, eff, interval="5th–95th percentile of the sweep members' shifts")
                rep.charts.append(Chart(_slug("levers", iss), "levers", fig))
    else:
        rep.notes.append("No lever chart: this run tested no levers or plans.")

    # fan charts (sweeps)
    if members is not None and len(members):
        n = int(members["member"].nunique())
        for (model, iss), sub in members[members["intervention"] == "baseline"].groupby(
                ["model", "issue"], sort=False):
            if iss not in issues:
                continue
            if sub["round"].max() < 1:
                rep.notes.append(f"No fan chart for {model} on {iss}: the model gives its "
                                 "forecast without rounds.")
                continue
            q = charts.fan_quantiles(sub)
            nominal = None
            for res in results:
                if (res["model"] == model and _iv_label(res) == "baseline"
                        and iss in _issues_of(res)):
                    d = _issues_of(res).index(iss)
                    nominal = [_at(r["forecast"], d) for r in res["rounds"]]
                    # extend a nominal run that stopped early, as the members' are
                    last = nominal[-1] if nominal else None
                    nominal = nominal + [last] * max(0, len(q) - len(nominal))
            fig = charts.fan_chart(issues[iss], q, model=str(model), n_members=n,
                                   nominal=nominal)
            rep.charts.append(Chart(_slug("fan", iss, model), "fan", fig))

    # Sobol tornado
    if sobol is not None and len(sobol):
        keys = [k for k in ("issue", "model") if k in sobol.columns]
        groups = sobol.groupby(keys, sort=False) if keys else [((), sobol)]
        for key, sub in groups:
            key = key if isinstance(key, tuple) else (key,)
            what = dict(zip(keys, key))
            iname = issues[what["issue"]].name if what.get("issue") in issues else what.get(
                "issue", "")
            title = f"{iname}: which inputs drive the forecast" if iname else None
            sub_t = f"Model: {what['model']}; " if "model" in what else ""
            fig = charts.tornado_chart(sub, title=title or "Which inputs drive the forecast",
                                       subtitle=sub_t + "Sobol indices; longer bar = more of "
                                       "the forecast's variance comes from that input")
            rep.charts.append(Chart(_slug("sobol", *key), "sobol", fig))

    pages = max(1, -(-len(rep.evidence) // EVIDENCE_PAGE))
    for k in range(pages):
        part = rep.evidence.iloc[k * EVIDENCE_PAGE:(k + 1) * EVIDENCE_PAGE]
        title = "Evidence for every input" + (f" ({k + 1} of {pages})" if pages > 1 else "")
        rep.charts.append(Chart("evidence" if pages == 1 else f"evidence-{k + 1}", "evidence",
                                charts.evidence_figure(part, title=title)))
    return rep
