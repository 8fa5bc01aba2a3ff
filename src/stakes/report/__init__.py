"""Reports of recorded runs: a self-contained offline HTML page and static PNG images.

>>> from stakes.store import Store                         # doctest: +SKIP
>>> from stakes.report import report_for_run, write_html   # doctest: +SKIP
>>> with Store() as st:                                    # doctest: +SKIP
...     write_html(report_for_run(st, "latest"), "report.html")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from .build import Chart, Report, build_report, evidence_table, quadrant_points
from .html import render_html, write_html
from .png import save_png, write_pngs

if TYPE_CHECKING:  # pragma: no cover
    from ..store.catalog import Store


def report_for_run(store: "Store", ref: str, *, viewers: Sequence[str] | None = None,
                   quadrant_round: int = 1) -> Report:
    """The report of a recorded run, with its sweep data when it has some.

    A sweep's per-member forecasts are its ``members`` shards (per round) or
    ``forecasts`` shards (final forecasts, from ``stakes sweep --save``); Sobol indices,
    where a run has them, are its ``sobol`` shards (columns ``issue``,
    ``model``, ``input``, ``S1``, ``S1_conf``, ``ST``, ``ST_conf``).
    """
    from ..store.shards import read_shards

    rec = store.get(ref, document=True)
    scn = store.scenario(rec.id)
    kinds = {row["kind"] for row in store.shard_rows(rec.id)}
    members = read_shards(store, rec.id, "members") if "members" in kinds else None
    if members is None and "forecasts" in kinds:
        # a `stakes sweep --save`: one final forecast per member, model, lever and issue
        members = read_shards(store, rec.id, "forecasts").assign(round=0)
        members["final"] = members["forecast"]
    sobol = read_shards(store, rec.id, "sobol") if "sobol" in kinds else None
    rep = build_report(scn, rec.document or {"results": []}, header=rec.header(),
                       members=members, sobol=sobol, viewers=viewers,
                       quadrant_round=quadrant_round)
    from ..forecast.explain import why
    from ..forecast.view import trust_view

    # The same headlines, intervals and verdicts as `stakes run`, and why (render_html
    # shows them).
    rep.trust = trust_view(scn, rec.document or {})
    if rec.kind == "run":
        rep.why = [w for w in (why(scn, i.id, rec.models, options=rec.options,
                                   rounds=rec.rounds, seed=rec.seed) for i in scn.issues) if w]
    if rec.status != "complete":
        rep.notes.insert(0, f"This {rec.kind} is incomplete: {rec.chunks_done} of "
                            f"{rec.n_chunks} chunks are recorded (resume it to finish).")
    return rep


__all__ = [
    "Chart", "Report", "build_report", "evidence_table", "quadrant_points", "render_html",
    "report_for_run", "save_png", "write_html", "write_pngs",
]
