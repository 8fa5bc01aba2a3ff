"""From a scenario to the arrays the models compute on."""

from __future__ import annotations

from typing import Iterable, Literal

import numpy as np

from ..models.base import ChannelMask, Located, Problem, ProblemSource
from .schema import Origin, Scenario

Missing = Literal["drop", "nan"]


def capability_of(scn: Scenario, actor_id: str, issue_id: str) -> float:
    """The capability the models use: the entry's or the actor's, times the actor's
    weight in the issue's decision arena (1 when the issue states none)."""
    return base_capability(scn, actor_id, issue_id) * arena_weight(scn, actor_id, issue_id)


def base_capability(scn: Scenario, actor_id: str, issue_id: str) -> float:
    """The capability the scenario gives (the entry's override, else the actor's)."""
    entry = scn.entry(actor_id, issue_id)
    if entry is not None and entry.capability is not None:
        return entry.capability.value
    cap = scn.actor(actor_id).capability
    if cap is None:  # the scenario checks rule this out for actors with entries
        raise KeyError(f"actor {actor_id!r} has no capability on {issue_id!r}")
    return cap.value


def arena_weight(scn: Scenario, actor_id: str, issue_id: str) -> float:
    arena = scn.issue(issue_id).arena
    return 1.0 if arena is None else arena.weight_of(actor_id)


def channels_of(scn: Scenario) -> ChannelMask | None:
    """The scenario's bargaining channels over all its actors, or None when it states none."""
    if scn.channels is None:
        return None
    return ChannelMask(scn.channels.closed_pairs(a.id for a in scn.actors))


def actor_row(scn: Scenario, actor_id: str, issue_ids: Iterable[str]) -> tuple[list, list, list]:
    """Position, salience and capability of one actor on ``issue_ids`` (NaN where absent)."""
    pos, sal, cap = [], [], []
    for iss in issue_ids:
        e = scn.entry(actor_id, iss)
        if e is None:
            pos.append(np.nan)
            sal.append(np.nan)
            cap.append(np.nan)
        else:
            pos.append(e.position.value)
            sal.append(e.salience.value)
            cap.append(capability_of(scn, actor_id, iss))
    return pos, sal, cap


def to_problem(
    scn: Scenario,
    issue_ids: Iterable[str] | None = None,
    *,
    missing: Missing = "drop",
    actors: Iterable[str] | None = None,
) -> Problem:
    """Array view of ``scn`` on ``issue_ids`` (all issues by default).

    ``missing="drop"`` keeps only actors with an entry on every issue;
    ``"nan"`` keeps actors with an entry on at least one issue and marks the
    gaps with NaN (joint models decide what an absent actor means).
    ``actors`` restricts and orders the actors; by default the present ones.
    """
    issue_ids = tuple(issue_ids) if issue_ids is not None else tuple(i.id for i in scn.issues)
    chosen = list(actors) if actors is not None else [a.id for a in scn.actors if a.present]
    rows, ids = [], []
    for a in chosen:
        pos, sal, cap = actor_row(scn, a, issue_ids)
        have = ~np.isnan(pos)
        if (missing == "drop" and have.all()) or (missing == "nan" and have.any()):
            rows.append((pos, sal, cap))
            ids.append(a)
    d = len(issue_ids)
    arr = np.array(rows, dtype=float).reshape(len(rows), 3, d) if rows else np.zeros((0, 3, d))
    issues = [scn.issue(i) for i in issue_ids]
    sq = [np.nan if i.status_quo is None else i.status_quo.value for i in issues]
    return Problem(
        source=ScenarioSource(scn),
        issue_ids=issue_ids,
        actor_ids=tuple(ids),
        position=arr[:, 0, :].copy(),
        salience=arr[:, 1, :].copy(),
        capability=arr[:, 2, :].copy(),
        lo=np.array([i.scale.min for i in issues], dtype=float),
        hi=np.array([i.scale.max for i in issues], dtype=float),
        status_quo=np.array(sq, dtype=float),
        affinity=affinity_matrix(scn, ids),
        channels=channels_of(scn),
    )


def affinity_matrix(scn: Scenario, actor_ids: list[str]) -> np.ndarray | None:
    """KTAB's accommodation matrix: the identity, with the listed entries set."""
    if scn.affinity is None:
        return None
    index = {a: k for k, a in enumerate(actor_ids)}
    A = np.eye(len(actor_ids))
    for af in scn.affinity:
        if af.actor in index and af.toward in index:
            A[index[af.actor], index[af.toward]] = af.weight
    return A


def _located(obj, attr: str, name: str, path: str) -> Located:
    """Where ``obj.attr`` was read (when it was), noting a value changed since."""
    origin: Origin | None = getattr(obj, "_origin", None) if obj is not None else None
    if origin is None or attr not in origin.at:
        return Located(path=path, note=" (set in Python: no file to point at)"
                       if getattr(obj, "_origin", None) is None else "")
    line, col, read = origin.at[attr]
    now = getattr(obj, attr)
    note = "" if now == read else (
        f" (changed after the file was read; it gives {read:g})")
    return Located(origin.file, line, col, path, note)


class ScenarioSource(ProblemSource):
    """Locates a problem's values in the scenario it was built from (:func:`to_problem`).

    A value read from a file is located at its file, line and column; a value set
    in Python at its place in the scenario (``entries[3].salience``).
    """

    def __init__(self, scn: Scenario):
        self.scn = scn

    def locate(self, field: str, actor: str | None = None, issue: str | None = None,
               toward: str | None = None) -> Located:
        scn = self.scn
        if field in ("position", "salience", "capability") and actor and issue:
            for k, e in enumerate(scn.entries):
                if e.actor == actor and e.issue == issue:
                    value = getattr(e, field)
                    if value is not None:
                        return _located(value, "value", field, f"entries[{k}].{field}")
                    break
            for k, a in enumerate(scn.actors):
                if a.id == actor and field == "capability" and a.capability is not None:
                    return _located(a.capability, "value", field, f"actors[{k}].capability")
        if field in ("scale", "status_quo") and issue:
            for d, iss in enumerate(scn.issues):
                if iss.id != issue:
                    continue
                if field == "status_quo" and iss.status_quo is not None:
                    return _located(iss.status_quo, "value", field, f"issues[{d}].status_quo")
                if field == "scale":
                    lo = _located(iss.scale, "min", field, f"issues[{d}].scale")
                    return lo
        if field == "affinity" and actor and toward:
            for k, af in enumerate(scn.affinity or ()):
                if af.actor == actor and af.toward == toward:
                    return _located(af, "weight", field, f"affinity[{k}].weight")
        return Located()
