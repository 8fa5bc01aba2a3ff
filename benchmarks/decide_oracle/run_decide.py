"""Run decide-exchange-model (the reference implementation) and print its rounds as JSON.

Run with the interpreter of the separate decide environment, not with the stakes one::

    .decide-venv/bin/python benchmarks/decide_oracle/run_decide.py INPUT [--rounds 10]

decide is driven through its Python API (its command-line entry point fails on an
uninitialised database proxy), with ``EqualGainModel.ALLOW_RANDOM = False`` so that ties
are broken in list order.  Everything is on decide's internal 0-100 scale.

Output (one JSON object): ``input``, ``rounds`` (number of rounds), ``p``, ``issues``
(``#P`` order), ``actors`` (``#A`` order) and ``history``: one entry per round, round 0 being
the input positions, each with ``outcome`` (issue -> reported outcome), ``positions``
(issue -> actor -> position) and, for rounds >= 1, ``exchanges`` (count of realised
exchanges) and, where requested, ``realised`` (the realised exchanges in order).
Numbers are rounded to ``--digits`` significant digits (default 12).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from decimal import Decimal


def _num(value, digits: int):
    # digits <= 0: the exact decimal text (a JSON string), for bit-level comparisons
    if digits <= 0:
        return str(Decimal(value))
    return float(format(Decimal(value), f".{digits}g"))


class _Recorder:
    """Minimal observer: decide calls these hooks once per round / realised exchange."""

    def __init__(self) -> None:
        self.realised: list = []
        self.end_state = None
        self.model = None

    def before_loop(self, iteration, repetition=None):
        self.realised = []

    def removed_exchanges(self, exchanges):
        pass

    def execute_exchange(self, exchange):
        self.realised.append(exchange)

    def after_loop(self, realized, iteration, repetition):
        pass

    def end_loop(self, iteration, repetition):
        self.end_state = _snapshot(self.model)


def _snapshot(model):
    outcome = {issue.name: model.nbs[issue] for issue in model.issues if issue in model.nbs}
    positions = {
        issue.name: {actor.actor_id: ai.position for actor, ai in model.actor_issues[issue].items()}
        for issue in model.issues
    }
    return outcome, positions


def _exchange_record(ex, digits):
    def side(s):
        return {
            "actor": s.actor.actor_id,
            "supply": s.supply.issue.name,
            "start": _num(s.start_position, digits),
            "y": _num(s.y, digits),
            "eu": _num(s.eu, digits),
        }

    return {"x": side(ex.i), "y": side(ex.j), "gain": _num(ex.gain, digits)}


def run(path: str, rounds: int, p: str | None, seed: int | None, digits: int, realised_rounds):
    from decide.data.modelfactory import ModelFactory
    from decide.data.reader import InputDataFile
    from decide.model.equalgain import EqualGainModel
    from decide.model.utils import ModelLoop

    EqualGainModel.ALLOW_RANDOM = False
    if seed is not None:
        random.seed(seed)
    data = InputDataFile.open(path)
    if not data.is_valid:
        raise SystemExit(f"decide rejects {path}: {data.errors}")
    model = ModelFactory(data)(model_klass=EqualGainModel, randomized_value=p)
    recorder = _Recorder()
    recorder.model = model
    loop = ModelLoop(model, recorder, 0)

    issues = [issue.name for issue in model.issues]
    actors = [actor.actor_id for actor in model.actors]

    def pack(outcome, positions):
        return {
            "outcome": {k: _num(v, digits) for k, v in outcome.items()},
            "positions": {
                k: {a: _num(x, digits) for a, x in v.items()} for k, v in positions.items()
            },
        }

    model.calc_nbs()
    history = [dict(round=0, **pack(*_snapshot(model)))]
    t0 = time.perf_counter()
    c0 = time.process_time()
    for r in range(1, rounds + 1):
        loop.loop()
        entry = dict(round=r, **pack(*recorder.end_state))
        entry["exchanges"] = len(recorder.realised)
        if realised_rounds is None or r in realised_rounds:
            entry["realised"] = [_exchange_record(ex, digits) for ex in recorder.realised]
        history.append(entry)
    seconds = time.perf_counter() - t0
    cpu_seconds = time.process_time() - c0
    out = {
        "source": "decide-exchange-model 2022.1.28, EqualGainModel, ALLOW_RANDOM=False",
        "input": path.rsplit("/", 1)[-1],
        "rounds": rounds,
        "p": p,
        "issues": issues,
        "actors": actors,
        "history": history,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
    }
    if seed is not None:
        out["seed"] = seed
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("input")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--p", default=None, help="random-rate parameter as decimal text")
    ap.add_argument("--seed", type=int, default=None, help="seed of Python's random (p > 0)")
    ap.add_argument(
        "--digits", type=int, default=12,
        help="significant digits of the numbers; 0 writes exact decimal text (strings)",
    )
    ap.add_argument(
        "--realised-rounds",
        default="all",
        help="rounds whose realised exchanges are listed: 'all', 'none' or e.g. '1,2'",
    )
    ap.add_argument(
        "--no-timing",
        action="store_true",
        help="leave out the timing fields (seconds, cpu_seconds)",
    )
    ap.add_argument("--compact", action="store_true", help="one line of JSON, no indentation")
    args = ap.parse_args(argv)
    if args.realised_rounds == "all":
        realised_rounds = None
    elif args.realised_rounds == "none":
        realised_rounds = set()
    else:
        realised_rounds = {int(x) for x in args.realised_rounds.split(",")}
    result = run(args.input, args.rounds, args.p, args.seed, args.digits, realised_rounds)
    if args.no_timing:
        result.pop("seconds")
        result.pop("cpu_seconds")
    if args.compact:
        json.dump(result, sys.stdout, separators=(",", ":"))
    else:
        json.dump(result, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
