"""Stability of forecasts: salience shocks and dropping actors (Bueno de Mesquita's practice).

Bueno de Mesquita (2002, 2009) checks a forecast by shocking the saliences
and by taking actors out one at a time: a forecast that survives both is
stable; an actor whose absence moves it is pivotal.  Here every member of a
salience-shock ensemble (saliences drawn from their uncertainty, positions
and capabilities as stated) is run with all actors and once without each
actor (the actor left out of the scenario from the start), so each actor's
effect is a paired difference, member by member.  An actor is *pivotal* on
an issue when the median shift its absence causes exceeds the threshold
(a share of the issue's scale width).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from .. import __version__
from ..engine import DEFAULT_MODELS
from ..errors import OptionError
from ..forecast.headline import disagreeing
from ..levers import baseline
from ..scenario.schema import Scenario, Uncertainty
from .ensemble import Ensemble, progress_ticker
from .sweep import backend_for, eum_runs
from .uncertainty import input_space


def run_stability(
    scn: Scenario,
    *,
    runs: int = 100,
    threshold: float = 5.0,
    models: Sequence[str] = DEFAULT_MODELS,
    options: dict[str, dict[str, Any]] | None = None,
    rounds: int | None = None,
    backend: str = "auto",
    settings: Uncertainty | None = None,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Salience shocks and drop-one-actor runs; ``threshold`` in percent of the scale width."""
    if runs < 1:
        raise OptionError(f"--runs {runs}: expected at least 1")
    if not 0 <= threshold <= 100:
        raise OptionError(f"--threshold {threshold}: expected a percentage of the scale width")
    backend_for(backend)
    space = input_space(scn, settings).restricted({"salience"})
    actors = [a.id for a in scn.actors if a.present
              and any(e.actor == a.id for e in scn.entries)]
    ens = Ensemble(space, models, [baseline()], options=options, rounds=rounds, backend=None,
                   skip_inapplicable=True, without=[None, *actors], engine_seed=seed)
    be = ens.backend = backend_for(backend, eum_runs(ens, runs + 1))
    if not ens.plan:
        raise OptionError("nothing to run: " + ("; ".join(ens.skipped) or "no model applies"))
    total = (runs + 1) * ens.units_per_member
    tick = progress_ticker(total, progress)

    nominal_eval = ens.evaluate(space.nominal[None, :], tick, members=[-1])
    nominal = nominal_eval.forecasts
    shocked = ens.evaluate(space.draw(seed, 0, runs), tick, members=range(runs)).forecasts
    issues = {i.id: i for i in scn.issues}
    out = []
    for (model, label, iss, wo), base in shocked.items():
        if wo is not None:
            continue
        width = issues[iss].scale.max - issues[iss].scale.min
        thr = threshold / 100.0 * width
        q05, q50, q95 = np.quantile(base, [0.05, 0.5, 0.95])
        rows = []
        for a in actors:
            if scn.entry(a, iss) is None or (model, label, iss, a) not in shocked:
                continue
            shift = shocked[(model, label, iss, a)] - base
            nom = float(nominal[(model, label, iss, a)][0] - nominal[(model, label, iss, None)][0])
            med = float(np.median(shift))
            rows.append({
                "actor": a, "nominal_shift": nom, "median_shift": med,
                "interval": [float(v) for v in np.quantile(shift, [0.05, 0.95])],
                "p_moved": float(np.mean(np.abs(shift) > thr)),
                "pivotal": bool(abs(med) > thr),
            })
        rows.sort(key=lambda r: -abs(r["median_shift"]))
        out.append({
            "model": model, "issue": iss, "threshold": thr,
            "nominal": float(nominal[(model, label, iss, None)][0]),
            "nominal_cycle": _cycle(nominal_eval.cycles.get((model, label, iss, None))),
            "shock_median": float(q50), "shock_interval": [float(q05), float(q95)],
            "stable_under_shocks": bool(q95 - q05 <= 2 * thr),
            "pivotal": [r["actor"] for r in rows if r["pivotal"]],
            "actors": rows,
        })
    return {
        "stakes_version": __version__,
        "scenario": {"name": scn.metadata.name},
        "settings": {"runs": runs, "threshold_percent": threshold, "seed": seed,
                     "backend": be.name, "models": [s.name for s in ens.specs],
                     "salience_sd": space.settings.salience_sd,
                     "method": "saliences shocked, positions and capabilities as stated; each "
                               "actor left out in turn on the same shocks (paired shifts); "
                               "pivotal: |median shift| > threshold"},
        "skipped": ens.skipped,
        "issues": out,
    }


def _cycle(lohi) -> list[float] | None:
    """The nominal run's cycle range, where it ends in a cycle whose rounds disagree."""
    rng = None if lohi is None else disagreeing(lohi[0][0], lohi[1][0])
    return None if rng is None else list(rng)
