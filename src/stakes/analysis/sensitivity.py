"""Variance-based sensitivity: which inputs drive each forecast (Sobol indices).

For each forecast (model × issue, under the baseline or one lever or plan)
the first-order index S1 of a group of inputs is the share of the forecast's
variance that the group explains alone, and the total index ST the share it
explains with all its interactions (Sobol 2001; Saltelli et al. 2010).
Inputs are grouped by actor (all of an actor's positions, saliences and
capabilities) and by kind (all positions, all saliences, ...), using SALib's
grouped Saltelli design: ``N × (G + 2)`` model runs for ``G`` groups, drawn
as SALib's scrambled Sobol points on the unit cube and mapped to input values
through each input's distribution (:meth:`.uncertainty.InputSpace.transform`).
Confidence intervals are SALib's bootstrap intervals (95 % by default).
"""

from __future__ import annotations

from typing import Any, Callable, Literal, Sequence

import numpy as np

from .. import __version__
from ..engine import DEFAULT_MODELS
from ..errors import OptionError
from ..levers import Intervention, baseline
from ..scenario.schema import Scenario, Uncertainty
from .ensemble import Ensemble, progress_ticker
from .sweep import backend_for, eum_runs
from .uncertainty import input_space

Grouping = Literal["actor", "kind"]


def sobol_indices(groups: Sequence[str], uniforms_to_output: Callable[[np.ndarray], np.ndarray],
                  samples: int, seed: int = 0, conf_level: float = 0.95,
                  resamples: int = 100) -> list[dict[str, Any]]:
    """Grouped Sobol indices of a function of uniform variates (one column per input).

    ``uniforms_to_output(U)`` maps the design (rows, inputs) to outputs
    (rows,) or (rows, k) for k outputs; returns, for each output, one record
    per group with S1, S1_conf, ST, ST_conf.
    """
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    if samples < 2 or samples & (samples - 1):
        raise OptionError(f"--samples {samples}: expected a power of two (Sobol sequence)")
    names = list(dict.fromkeys(groups))
    problem = {"num_vars": len(groups), "names": [f"x{k}" for k in range(len(groups))],
               "bounds": [[0.0, 1.0]] * len(groups), "groups": list(groups)}
    if len(names) < 2:
        raise OptionError("Sobol indices need at least two groups of uncertain inputs")
    design = sobol_sample.sample(problem, samples, calc_second_order=False, seed=seed)
    out = np.asarray(uniforms_to_output(design), dtype=float)
    if out.ndim == 1:
        out = out[:, None]
    results = []
    for col in range(out.shape[1]):
        y = out[:, col]
        if not np.all(np.isfinite(y)) or np.ptp(y) == 0:
            varies = bool(np.all(np.isfinite(y)))
            results.append([{"group": g, "S1": 0.0 if varies else None, "S1_conf": 0.0,
                             "ST": 0.0 if varies else None, "ST_conf": 0.0,
                             "note": "the forecast does not vary" if varies else
                             "the forecast is not finite on some samples"} for g in names])
            continue
        si = sobol_analyze.analyze(problem, y, calc_second_order=False, conf_level=conf_level,
                                   num_resamples=resamples, seed=seed)
        results.append([{"group": g, "S1": float(si["S1"][k]), "S1_conf": float(si["S1_conf"][k]),
                         "ST": float(si["ST"][k]), "ST_conf": float(si["ST_conf"][k])}
                        for k, g in enumerate(names)])
    return results


#: An index further than this outside [0, 1] is flagged (closer is rounding: a total index
#: of 1.01 for the only input that matters).
RANGE_SLACK = 0.05


def _next_pow2(x: float) -> int:
    return 1 << max(1, int(np.ceil(np.log2(max(x, 2.0)))))


#: A suggested sample size above this many times the current one is not given: the top two
#: groups are tied within their intervals, and more samples are unlikely to separate them.
MAX_FACTOR = 64


def index_warnings(records: Sequence[dict[str, Any]], samples: int) -> list[dict[str, Any]]:
    """Where the indices cannot be read: too wide to rank the inputs, or outside [0, 1].

    Per forecast and grouping: the top two groups by ST are *not ranked* when
    their confidence intervals overlap; an index is *outside* when S1 or ST
    leaves [0, 1] by more than :data:`RANGE_SLACK` (estimation noise: the true
    indices lie in [0, 1]).  Each warning suggests a sample size
    (``suggest_samples``, a power of two): intervals shrink as 1/√N, so
    separating the top two needs N·((c1 + c2)/(ST1 − ST2))², and an index
    outside [0, 1] with half-width c needs N·(c/RANGE_SLACK)² to be read to
    within RANGE_SLACK.  None where that is over :data:`MAX_FACTOR` times N
    (a tie).
    """
    by_output: dict[tuple, list[dict[str, Any]]] = {}
    for r in records:
        if r.get("ST") is None or r.get("note"):
            continue
        by_output.setdefault((r["model"], r["intervention"], r["issue"], r["by"]), []).append(r)
    out = []
    for (model, label, iss, by), recs in by_output.items():
        recs = sorted(recs, key=lambda r: -r["ST"])
        problems, needs = [], []
        if len(recs) >= 2:
            a, b = recs[0], recs[1]
            gap = a["ST"] - b["ST"]
            width = a["ST_conf"] + b["ST_conf"]
            if width >= gap:
                problems.append(f"{a['group']} {a['ST']:.2f}±{a['ST_conf']:.2f} and "
                                f"{b['group']} {b['ST']:.2f}±{b['ST_conf']:.2f} (ST) overlap: "
                                "not ranked")
                needs.append(samples * (width / gap) ** 2 * 1.1 if gap > 0 else float("inf"))
        bad = [(r, k, r[f"{k}_conf"]) for r in recs for k in ("S1", "ST")
               if r[k] < -RANGE_SLACK or r[k] > 1 + RANGE_SLACK]
        if bad:
            names = ", ".join(f"{r['group']} {k} {r[k]:.2f}" for r, k, _ in bad[:3])
            problems.append(f"outside [0, 1]: {names}")
            needs += [samples * (c / RANGE_SLACK) ** 2 * 1.1 for _r, _k, c in bad]
        if problems:
            need = max(needs)
            suggest = (_next_pow2(need) if need <= MAX_FACTOR * samples else None)
            out.append({"model": model, "intervention": label, "issue": iss, "by": by,
                        "problems": problems,
                        "suggest_samples": max(suggest, 2 * samples) if suggest else None})
    return out


def run_sensitivity(
    scn: Scenario,
    *,
    samples: int = 64,
    by: Sequence[Grouping] = ("actor", "kind"),
    models: Sequence[str] = DEFAULT_MODELS,
    intervention: Intervention | None = None,
    options: dict[str, dict[str, Any]] | None = None,
    rounds: int | None = None,
    backend: str = "auto",
    settings: Uncertainty | None = None,
    seed: int = 0,
    chunk: int = 4096,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Sobol indices of every forecast, grouped by actor and/or by kind of input."""
    backend_for(backend)
    space = input_space(scn, settings)
    ridx = space.random_index
    if len(ridx) == 0:
        raise OptionError("no input of the scenario is uncertain: give values an sd or range, "
                          "or raise the scenario-wide noise (uncertainty: or --position-sd ...)")
    for g in by:
        if g not in ("actor", "kind"):
            raise OptionError(f"--by {g}: expected actor or kind")
    iv = intervention or baseline()
    ens = Ensemble(space, models, [iv], options=options, rounds=rounds, backend=None,
                   skip_inapplicable=True, engine_seed=seed)
    keys = list(ens.plan)
    n_groups = {g: len(set(space.groups(g))) for g in by}
    be = ens.backend = backend_for(backend, eum_runs(ens, sum(
        samples * (k + 2) for k in n_groups.values() if k > 1)))
    if not keys:
        raise OptionError("nothing to run: " + ("; ".join(ens.skipped) or "no model applies"))
    sizes = {g: samples * (len(set(space.groups(g))) + 2) if len(set(space.groups(g))) > 1
             else 0 for g in by}
    total = sum(sizes.values()) * ens.units_per_member
    tick = progress_ticker(total, progress)

    records = []
    for g in by:
        labels = space.groups(g)
        if len(set(labels)) < 2:
            # One group holds every uncertain input: it explains all the variance.
            for model, label, iss, _wo in keys:
                records.append({"model": model, "intervention": label, "issue": iss, "by": g,
                                "group": labels[0], "S1": 1.0, "S1_conf": 0.0, "ST": 1.0,
                                "ST_conf": 0.0, "note": "the only uncertain group"})
            continue

        def evaluate(u: np.ndarray) -> np.ndarray:
            out = np.full((len(u), len(keys)), np.nan)
            for a in range(0, len(u), chunk):
                ev = ens.evaluate(space.transform(u[a:a + chunk]), tick,
                                  members=range(a, min(len(u), a + chunk)))
                for j, k in enumerate(keys):
                    if k in ev.forecasts:
                        out[a:a + chunk, j] = ev.forecasts[k]
            return out

        per_output = sobol_indices(labels, evaluate, samples, seed=seed)
        for (model, label, iss, _wo), recs in zip(keys, per_output):
            for r in sorted(recs, key=lambda r: -(r["ST"] if r["ST"] is not None else -1)):
                records.append({"model": model, "intervention": label, "issue": iss, "by": g,
                                **r})
    return {
        "stakes_version": __version__,
        "scenario": {"name": scn.metadata.name},
        "settings": {"samples": samples, "by": list(by), "models": [s.name for s in ens.specs],
                     "intervention": iv.label, "seed": seed, "backend": be.name,
                     "uncertainty": space.settings.model_dump(),
                     "random_inputs": int(len(ridx)),
                     "runs": {g: sizes[g] for g in by},
                     "method": "Saltelli/Sobol (SALib), first-order and total indices, "
                               "95% bootstrap confidence intervals"},
        "skipped": ens.skipped,
        "indices": records,
        "warnings": index_warnings(records, samples),
    }
