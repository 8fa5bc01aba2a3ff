"""The pre-registered held-out set: read it, score on it once per model version, append.

The set is fixed by a committed file (``preregistered/deu3-holdout.json``) made
before any new model was fitted.  ``stakes backtest holdout`` fits the combinations
and the error models on the other issues, scores every forecast on the held-out
issues, and appends one line per forecast to a results file; a forecast already
scored under the same model version is refused, and nothing is ever rewritten.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputError, Diagnostic


def read_holdout(path: str | Path) -> frozenset[str]:
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(Diagnostic("no such file", file=str(p))) from None
    except ValueError as exc:
        raise InputError(Diagnostic(f"not JSON: {exc}", file=str(p))) from None
    ids = doc.get("issues") if isinstance(doc, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise InputError(Diagnostic("expected an object with an 'issues' list of issue ids",
                                 file=str(p), field="issues"))
    return frozenset(ids)


def model_version() -> str:
    """Hash of the code behind a held-out score: the models' code (the cache's
    fingerprint) and the code that combines, calibrates and scores their forecasts."""
    import hashlib

    from .cache import code_fingerprint

    here = Path(__file__).resolve().parent
    h = hashlib.sha256(code_fingerprint().encode())
    for name in ("stacking.py", "distribution.py", "calibration.py", "report.py", "holdout.py"):
        h.update((here / name).read_bytes())
    return h.hexdigest()[:16]


def score_holdout(run, held: frozenset[str], settings) -> list[dict]:
    """Fit everything on the development issues, score once on the held-out issues.

    Models' forecasts need no fitting; the combinations' weights are fitted on all
    development issues; every error model is fitted on development issues only, a
    combination's on its out-of-fold development forecasts.
    """
    import numpy as np

    from . import distribution as D
    from .calibration import issue_inputs, primary_capability, restrict
    from .compare import clustered_difference
    from .report import stack_all
    from .stacking import _Stacker

    test = np.array([i.issue_id in held for i in run.issues])
    if not test.any():
        raise InputError(Diagnostic("none of the held-out issues is among the scored issues"))
    dev = restrict(run, ~test)
    y = run.outcome
    cap = primary_capability(run)
    pos, sal, w = issue_inputs(run, cap)
    share = D.position_support(pos, w)
    cv, _ = stack_all(dev, settings)  # out-of-fold development forecasts of each stack
    forecasts: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for fc, c in run.columns():
        if c in ("-", cap):
            f = run.forecasts[(fc.label, c)]
            forecasts[f"{fc.label}|{c}"] = (f, f[~test])
    for s_cv in cv:
        # Weights fitted on every development issue, applied to the held-out ones.
        st = _Stacker(_inputs_matrix(run, list(s_cv.inputs)), y, settings.loss, 20)
        pred = st.predict(~test, test)
        dev_oof = np.full(len(y), np.nan)
        dev_oof[~test] = s_cv.forecast
        forecasts[s_cv.name] = (pred, dev_oof[~test])
    ref = run.forecasts[("compromise", cap)]
    ref_name = f"compromise|{cap}"
    ref_em = D.fit(ref[~test], share[~test], D.spread(ref[~test], pos[~test], sal[~test]),
                   y[~test])
    ref_crps = D.crps(D.predictive(ref_em, ref[test], share[test],
                                   D.spread(ref[test], pos[test], sal[test])), y[test])
    clusters = np.array([i.proposal for i in run.issues])[test]
    out = []
    m_comp = 2 * (len(forecasts) - 1)
    for name, (f, f_dev) in forecasts.items():
        em = D.fit(f_dev, share[~test], D.spread(f_dev, pos[~test], sal[~test]), y[~test])
        ok = test & ~np.isnan(f)
        p = D.predictive(em, f[ok], share[ok], D.spread(f[ok], pos[ok], sal[ok]))
        lo, hi = D.interval(p, em.level_for(0.8))
        yt = y[ok]
        crps = np.full(int(test.sum()), np.nan)
        crps[ok[test]] = D.crps(p, yt)
        row = {"model": name, "n": int(ok.sum()), "mae": float(np.abs(f[ok] - yt).mean()),
               "crps": float(np.nanmean(crps)),
               "cover80": float(np.mean((yt >= lo) & (yt <= hi))),
               "width80": float(np.mean(hi - lo))}
        if name != ref_name:
            for meas, a, b in (("mae", np.abs(f[test] - y[test]), np.abs(ref[test] - y[test])),
                               ("crps", crps, ref_crps)):
                d = clustered_difference(a, b, clusters, label=f"holdout|{name}|{meas}",
                                         m=m_comp, seed=settings.seed)
                row[f"{meas}_vs_{ref_name}"] = [d.mean, d.lo, d.hi]
        out.append(row)
    return out


def _inputs_matrix(run, names: list[str]):
    import numpy as np

    from .report import influence_inputs

    comp = [n for n in names if n.startswith("compromise|")]
    anchor_name = comp[0] if comp else None
    cols = {f"{fc.label}|{c}": run.forecasts[(fc.label, c)] for fc, c in run.columns()}
    if anchor_name is not None:
        G, gnames = influence_inputs(run, cols[anchor_name])
        for g, n in zip(G.T[1:], gnames[1:]):
            cols[n] = g
    return np.column_stack([cols[n] for n in names])


def append_results(path: str | Path, rows: list[dict], settings: dict) -> tuple[list, list]:
    """Append one line per forecast not yet scored under this version; never rewrite."""
    import datetime as dt

    from .. import __version__
    from ..scenario.yaml_io import write_atomic

    p = Path(path)
    old_text = p.read_text(encoding="utf-8") if p.exists() else ""
    seen = set()
    for k, line in enumerate(old_text.splitlines(), start=1):
        if line.strip():
            try:
                d = json.loads(line)
                seen.add((d["model"], d["version"], json.dumps(d["settings"], sort_keys=True)))
            except (ValueError, KeyError, TypeError):
                raise InputError(Diagnostic("not a held-out result line", file=str(p),
                                         line=k)) from None
    version = model_version()
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    new, skipped = [], []
    for r in rows:
        key = (r["model"], version, json.dumps(settings, sort_keys=True))
        if key in seen:
            skipped.append(r["model"])
            continue
        new.append({"scored_at": now, "version": version, "stakes_version": __version__,
                    "settings": settings, **r})
    if new:
        if old_text and not old_text.endswith("\n"):
            old_text += "\n"
        write_atomic(p, old_text + "".join(json.dumps(x, sort_keys=True) + "\n" for x in new))
    return new, skipped
