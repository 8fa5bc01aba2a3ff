"""A chunked salience sweep: many runs of a scenario with perturbed saliences.

Member ``m`` redraws every entry's salience from a generator seeded with
``(seed, m)``, so a member's draw depends on nothing but the seed and its
index; the sweep is cut into chunks of members, each recorded as a Parquet
shard (:mod:`stakes.store.shards`), and a killed sweep resumes where it
stopped.

The draw for each salience: from its ``sd`` (normal) or ``range`` (uniform)
when the scenario gives one (the scenario format's own uncertainty), and
otherwise the stated value times a log-normal factor ``exp(noise · z)``;
the result is clipped to [0, 1].
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from ..scenario.schema import Scenario
from .catalog import Store, StoreError
from .shards import JobProgress, run_job

JOB = "salience-noise"
SHARD_KIND = "members"
MEMBER_COLUMNS = ["member", "model", "intervention", "issue", "round", "forecast", "mean", "final"]


def perturb_saliences(scn: Scenario, rng: np.random.Generator, noise: float) -> Scenario:
    """A copy of ``scn`` with every entry's salience redrawn (see the module docstring)."""
    k = len(scn.entries)
    # Draw the same amount of randomness for every entry whatever its kind of
    # uncertainty, so that editing one entry does not shift every other draw.
    z = rng.standard_normal(k)
    u = rng.random(k)
    entries = []
    for i, e in enumerate(scn.entries):
        s = e.salience
        if s.sd is not None:
            v = s.value + s.sd * z[i]
        elif s.range is not None:
            v = s.range[0] + (s.range[1] - s.range[0]) * u[i]
        else:
            v = s.value * math.exp(noise * z[i])
        v = float(min(1.0, max(0.0, v)))
        entries.append(e.model_copy(update={"salience": s.model_copy(update={"value": v})}))
    return scn.model_copy(update={"entries": entries})


def member_rng(seed: int, member: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(member)])


def _interventions(scn: Scenario, labels: Sequence[str]):
    from ..levers import baseline, intervention_for_lever, intervention_for_plan

    out = []
    for lab in labels:
        if lab == "baseline":
            out.append(baseline())
        else:
            kind, _, ident = lab.partition(":")
            out.append(intervention_for_lever(scn, ident) if kind == "lever"
                       else intervention_for_plan(scn, ident))
    return out


def member_rows(scn: Scenario, member: int, spec: dict[str, Any]) -> list[tuple]:
    """Per-round forecasts of one member: (member, model, intervention, issue, round,
    forecast, mean, final)."""
    from ..engine import run_scenario

    mscn = perturb_saliences(scn, member_rng(spec["seed"], member), spec["noise"])
    ivs = _interventions(mscn, spec["interventions"])
    results = run_scenario(mscn, spec["models"], options=spec.get("options") or {},
                           interventions=ivs, rounds=spec.get("rounds"), seed=spec["seed"],
                           skip_inapplicable=True)
    rows = []
    for res in results:
        run = res.run
        for d, iss in enumerate(run.issue_ids):
            final = float(run.forecast[d])
            for rec in run.rounds:
                rows.append((member, run.model, res.intervention.label, iss, rec.round,
                             float(rec.forecast[d]), float(rec.mean[d]), final))
    return rows


def chunk_frame(scn: Scenario, spec: dict[str, Any], chunk: int):
    import pandas as pd

    size, members = int(spec["chunk_size"]), int(spec["members"])
    rows: list[tuple] = []
    for m in range(chunk * size, min(members, (chunk + 1) * size)):
        rows.extend(member_rows(scn, m, spec))
    frame = pd.DataFrame(rows, columns=MEMBER_COLUMNS)
    return frame.astype({"member": "int64", "round": "int64", "model": object,
                         "intervention": object, "issue": object})


def start_sweep(
    store: Store,
    scn: Scenario,
    *,
    members: int,
    chunk_size: int,
    noise: float,
    models: Sequence[str],
    interventions: Sequence[str] = ("baseline",),
    options: dict[str, dict[str, Any]] | None = None,
    seed: int = 0,
    rounds: int | None = None,
    source: str | None = None,
    label: str | None = None,
    command: str | None = None,
) -> str:
    """Record a new sweep (incomplete, with its nominal run) and return its id."""
    from ..engine import run_scenario

    if members < 1:
        raise StoreError(f"a sweep needs at least one member (got {members})")
    if chunk_size < 1:
        raise StoreError(f"chunk size must be at least 1 (got {chunk_size})")
    if not (noise >= 0 and math.isfinite(noise)):
        raise StoreError(f"noise must be a finite number >= 0 (got {noise})")
    spec = {
        "job": JOB, "shard_kind": SHARD_KIND, "members": int(members),
        "chunk_size": int(chunk_size), "noise": float(noise), "models": list(models),
        "interventions": list(interventions), "options": options or {}, "seed": int(seed),
        "rounds": rounds,
    }
    nominal = run_scenario(scn, models, options=options or {},
                           interventions=_interventions(scn, interventions), rounds=rounds,
                           seed=seed, skip_inapplicable=True)
    n_chunks = -(-members // chunk_size)
    return store.begin_job(scn, kind="sweep", spec=spec, n_chunks=n_chunks, models=models,
                           interventions=interventions, options=options, seed=seed,
                           rounds=rounds, source=source, label=label, command=command,
                           results=nominal)


def continue_sweep(store: Store, run_id: str,
                   on_chunk: Callable[[int, int, int], None] | None = None) -> JobProgress:
    """Compute the sweep's missing chunks and mark it complete."""
    rec = store.get(run_id)
    spec = rec.spec or {}
    if rec.kind != "sweep" or spec.get("job") != JOB:
        raise StoreError(f"run {rec.id} is not a salience sweep; nothing to resume")
    scn = store.scenario(rec.id)
    progress = run_job(store, rec.id, lambda k: chunk_frame(scn, spec, k),
                       n_chunks=int(rec.n_chunks or 0), kind=SHARD_KIND, on_chunk=on_chunk)
    if rec.status != "complete":
        store.finish_job(rec.id)
    return progress
