"""Sweeps on a Dask cluster (2 local worker processes on loopback): same numbers, worker loss.

Each test is bounded: a few dozen members of a small scenario, chunks of a
few members, and pytest's own run time is the bound (no sleeps to wait out).
"""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest
from typer.testing import CliRunner

distributed = pytest.importorskip("distributed", reason="Dask distributed is not installed")

from stakes.analysis.cluster import ClusterSpec  # noqa: E402
from stakes.analysis.sweep import run_sweep  # noqa: E402
from stakes.api import load  # noqa: E402
from stakes.cli.main import app  # noqa: E402
from stakes.engine import interventions_for  # noqa: E402
from stakes.errors import OptionError  # noqa: E402
from stakes.store import Store, read_shards  # noqa: E402

pytestmark = pytest.mark.slow

MODELS = ["eum", "compromise", "median"]


@pytest.fixture(scope="module")
def scenario():
    return load("ec-emissions")


@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded worker processes with nannies (a killed worker is restarted)."""
    lc = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address="127.0.0.1:0", silence_logs=50)
    yield lc
    lc.close()


@pytest.fixture(scope="module")
def flagship():
    return load("us-israel-palestine-2023")


def _sweep(scn, **kw):
    ivs = interventions_for(scn, "all", "all")[:3]  # the baseline and two levers
    return run_sweep(scn, runs=kw.pop("runs", 48), seed=11, models=MODELS, interventions=ivs,
                     backend="numpy", chunk_size=kw.pop("chunk_size", 6), **kw)


def _assert_same(a, b):
    assert a.forecasts.keys() == b.forecasts.keys()
    for k in a.forecasts:
        np.testing.assert_array_equal(a.forecasts[k], b.forecasts[k], err_msg=str(k))
    assert a.stops == b.stops


def test_cluster_sweep_equals_local_sweep(scenario, cluster):
    local = _sweep(scenario)
    remote = _sweep(scenario, cluster=ClusterSpec(scheduler=cluster.scheduler_address))
    _assert_same(local, remote)
    assert remote.cluster == cluster.scheduler_address
    # Chunking never changes a member's draws: other chunk sizes, same numbers.
    _assert_same(local, _sweep(scenario, chunk_size=17,
                               cluster=ClusterSpec(scheduler=cluster.scheduler_address)))


class _Sink:
    """The driver's side of a recorded cluster sweep, on a real run store."""

    def __init__(self, store: Store, scn):
        self.store, self.scn = store, scn
        self.rid = None
        self.registered: list[int] = []

    def begin(self, n_chunks: int, chunk_size: int) -> str:
        self.rid = self.store.begin_job(self.scn, kind="ensemble", spec={"job": "test"},
                                        n_chunks=n_chunks, models=MODELS, seed=11)
        return str(self.store.shard_root / self.rid)

    def register(self, chunk: int, meta: dict) -> None:
        from stakes.store.shards import register_shard_file

        register_shard_file(self.store, self.rid, "forecasts", chunk, meta)
        self.registered.append(chunk)


def test_worker_loss_recomputes_lost_chunks_and_counts_nothing_twice(flagship, cluster,
                                                                      tmp_path):
    scenario = flagship  # 11 issues: a chunk takes long enough to be caught in flight
    client = distributed.Client(cluster, set_as_default=False)
    pids = client.run(os.getpid)
    killed: list[int] = []

    def kill_one_worker(done: int, total: int) -> None:
        # After the first chunk is in, both workers hold work: kill one outright.
        if not killed and 0 < done < total:
            victim = sorted(pids.values())[0]
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    store = Store(tmp_path / "runs.duckdb")
    sink = _Sink(store, scenario)
    try:
        remote = _sweep(scenario, runs=48, chunk_size=4, progress=kill_one_worker,
                        cluster=ClusterSpec(scheduler=cluster.scheduler_address), shards=sink)
        assert killed, "no worker was killed: the sweep finished before its first chunk"
        with pytest.raises(ProcessLookupError):
            os.kill(killed[0], 0)  # the victim is gone
        local = _sweep(scenario, runs=48, chunk_size=4)
        _assert_same(local, remote)
        # One registered shard per chunk, each member exactly once.
        assert sorted(sink.registered) == list(range(12))
        frame = read_shards(store, sink.rid, "forecasts", verify=True)
        counts = frame.groupby(["member", "model", "intervention", "issue"]).size()
        assert counts.max() == 1 and frame["member"].nunique() == 48
        assert len(frame) == 48 * len(local.forecasts)
        # The nanny brings a worker back; the cluster is whole again for other tests.
        deadline = time.monotonic() + 60
        while len(client.scheduler_info()["workers"]) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        store.close()
        client.close()


def test_cli_sweep_on_local_cluster_is_recorded(tmp_path):
    store = tmp_path / "runs.duckdb"
    args = ["sweep", "ec-emissions", "--runs", "24", "--model", "compromise", "--model",
            "median", "--backend", "numpy", "--chunk-size", "8", "--seed", "5",
            "--format", "json", "--no-progress"]
    res = CliRunner().invoke(app, args + ["--workers", "2", "--store", str(store)])
    assert res.exit_code == 0, res.output
    import json

    doc = json.loads(res.stdout)
    assert doc["settings"]["cluster"] == "local cluster, 2 workers"
    plain = json.loads(CliRunner().invoke(app, args).stdout)
    assert doc["forecasts"] == plain["forecasts"] and doc["effects"] == plain["effects"]
    with Store(store, read_only=True) as st:
        rows = st.shard_rows(doc["run_id"], "forecasts")
        assert [r["chunk"] for r in rows] == [0, 1, 2]
        assert st.get(doc["run_id"]).status == "complete"


def test_cluster_options_are_checked():
    with pytest.raises(OptionError, match="not both"):
        ClusterSpec(scheduler="tcp://127.0.0.1:1", workers=2)
    with pytest.raises(OptionError, match="at least 1"):
        ClusterSpec(workers=0)


def test_unreachable_scheduler_is_a_clear_error(monkeypatch):
    import stakes.analysis.cluster as cl

    monkeypatch.setattr(cl, "CONNECT_TIMEOUT_S", 2)
    res = CliRunner().invoke(app, ["sweep", "ec-emissions", "--runs", "4", "--model",
                                   "compromise", "--scheduler", "tcp://127.0.0.1:9",
                                   "--no-progress"])
    assert res.exit_code == 2
    assert "--scheduler tcp://127.0.0.1:9: cannot connect" in res.output
    assert "Traceback" not in res.output
