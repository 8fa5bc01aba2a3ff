"""Faults: ``stakes sweep --save`` and ``stakes run`` killed with SIGKILL at seeded points
(real processes), a store read and written while a sweep writes, a second writer.

After every kill the store opens, ``runs list`` shows the interrupted sweep as resumable,
``stakes sweep --resume`` finishes it with results identical to an uninterrupted sweep with
the same seed, and no member or run is lost or counted twice.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from stakes.store import Store, StoreError
from stakes.store.shards import read_shards

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses SIGKILL")

CLI = [sys.executable, "-c", "from stakes.cli.main import app; app()"]
RUNS, CHUNK, SEED = 240, 6, 7
N_CHUNKS = RUNS // CHUNK
SWEEP = ["sweep", "ec-emissions", "--runs", str(RUNS), "--chunk-size", str(CHUNK), "--seed",
         str(SEED), "-m", "eum", "-m", "compromise", "-m", "median", "--backend", "numpy",
         "--no-progress", "--format", "json"]
KEY = ["member", "model", "intervention", "issue"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("STAKES_STORE", None)
    env["COLUMNS"] = "250"  # the runs table in full
    return env


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], env=_env(), capture_output=True, text=True,
                          timeout=timeout)


def _shards(folder: Path) -> list[Path]:
    return list(folder.glob("*/forecasts-*.parquet")) if folder.exists() else []


def _kill_after(proc: subprocess.Popen, folder: Path, n_files: int, limit_s: float = 120) -> None:
    """SIGKILL ``proc`` once ``n_files`` shards are on disk."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and proc.poll() is None:
        if len(_shards(folder)) >= n_files:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            return
        time.sleep(0.002)
    out = proc.communicate(timeout=10)[1] if proc.poll() is not None else ""
    proc.kill()
    pytest.fail(f"the sweep ended (rc {proc.returncode}) before {n_files} shards: {out[-2000:]}")


def _comparable(doc: dict) -> dict:
    """The sweep's numbers, without what differs between two processes (times, memory, id)."""
    return {k: v for k, v in doc.items() if k not in ("seconds", "peak_rss_mib", "run_id")}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    store = tmp_path_factory.mktemp("ref") / "runs.duckdb"
    r = _cli(*SWEEP, "--store", str(store))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    with Store(store, read_only=True) as st:
        members = read_shards(st, doc["run_id"], "forecasts", verify=True)
    return doc, members.sort_values(KEY, kind="stable").reset_index(drop=True)


@pytest.mark.slow
@pytest.mark.parametrize("kill_seed", [1, 2, 3])
def test_killed_sweep_resumes_to_the_uninterrupted_result(tmp_path, uninterrupted, kill_seed):
    rng = random.Random(kill_seed)
    store, shards = tmp_path / "runs.duckdb", tmp_path / "runs.shards"
    first = rng.randint(1, N_CHUNKS // 3)
    second = first + rng.randint(1, N_CHUNKS // 3)
    proc = subprocess.Popen([*CLI, *SWEEP, "--store", str(store)], env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _kill_after(proc, shards, first)

    # The store opens (no stale lock); the sweep is listed as interrupted and resumable;
    # what it holds is exactly what is registered, every member once.
    listed = _cli("runs", "list", "--store", str(store), "--format", "json")
    assert listed.returncode == 0, listed.stderr
    [rec] = json.loads(listed.stdout)
    assert rec["kind"] == "ensemble" and rec["status"] == "incomplete" and rec["resumable"]
    rid = rec["id"]
    table = _cli("runs", "list", "--store", str(store))
    assert "interrupted, resumable" in table.stdout and "stakes sweep --resume ID" in table.stdout
    with Store(store, read_only=True) as st:
        done = st.registered_chunks(rid, "forecasts")
        assert first - 1 <= len(done) < N_CHUNKS  # the kill may fall before a registration
        partial = read_shards(st, rid, "forecasts", verify=True)
    members_done = sorted(m for k in done for m in range(k * CHUNK, (k + 1) * CHUNK))
    if members_done:
        assert not partial.duplicated(KEY).any()
        assert sorted(partial["member"].unique()) == members_done
    else:  # killed between the first shard's rename and its registration
        assert partial.empty

    # Resume, and kill the resuming process too.
    proc = subprocess.Popen([*CLI, "sweep", "--resume", rid, "--store", str(store),
                             "--no-progress", "--format", "json"], env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _kill_after(proc, shards, second)
    with Store(store, read_only=True) as st:
        again = st.registered_chunks(rid, "forecasts")
        assert done <= again and len(again) < N_CHUNKS
        assert st.get(rid).status == "incomplete"

    # Resume to the end, by a prefix of the id.
    r = _cli("sweep", "--resume", rid[:6], "--store", str(store), "--no-progress",
             "--format", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["run_id"] == rid
    ref_doc, ref_members = uninterrupted
    assert _comparable(doc) == _comparable(ref_doc)  # bit for bit: the JSON numbers are equal

    with Store(store, read_only=True) as st:
        rec = st.get(rid)
        assert rec.status == "complete" and rec.chunks_done == N_CHUNKS and st.count() == 1
        members = read_shards(st, rid, "forecasts", verify=True)
        leftovers = [p.name for p in (st.shard_root / rid).iterdir()
                     if not p.name.endswith(".parquet") or p.name.startswith(".")]
    assert leftovers == []
    assert not members.duplicated(KEY).any()
    got = members.sort_values(KEY, kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, ref_members)
    # nothing left to resume
    r = _cli("sweep", "--resume", rid, "--store", str(store))
    assert r.returncode == 2 and "is complete; nothing to resume" in r.stderr


@pytest.mark.slow
def test_abandoned_sweep_is_removed_by_runs_delete(tmp_path):
    store, shards = tmp_path / "runs.duckdb", tmp_path / "runs.shards"
    proc = subprocess.Popen([*CLI, *SWEEP, "--store", str(store)], env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _kill_after(proc, shards, 3)
    with Store(store, read_only=True) as st:
        [rec] = st.runs()
    r = _cli("runs", "delete", rec.id, "--yes", "--store", str(store))
    assert r.returncode == 0, r.stderr
    assert not (shards / rec.id).exists()
    with Store(store, read_only=True) as st:
        assert st.count() == 0
        assert st.con.execute("SELECT count(*) FROM shards").fetchone()[0] == 0


@pytest.mark.slow
@pytest.mark.parametrize("kill_seed", [11, 12, 13, 14])
def test_killed_run_leaves_a_readable_store_without_partial_runs(tmp_path, kill_seed):
    """``stakes run`` killed at a seeded moment: before, during or after its record."""
    rng = random.Random(kill_seed)
    store = tmp_path / "runs.duckdb"
    assert _cli("run", "ec-emissions", "--store", str(store), "-f", "json").returncode == 0
    proc = subprocess.Popen([*CLI, "run", "ec-emissions", "--store", str(store), "-f", "json",
                             "-m", "all"], env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(rng.uniform(0.5, 6.0))
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    listed = _cli("runs", "list", "--store", str(store), "--format", "json")
    assert listed.returncode == 0, listed.stderr
    recs = json.loads(listed.stdout)
    assert 1 <= len(recs) <= 2
    with Store(store, read_only=True) as st:
        for rec in recs:
            full = st.get(rec["id"], document=True)
            assert full.status == "complete" and full.document["results"]
            assert len(st.forecasts(rec["id"])) > 0


@pytest.mark.slow
def test_store_is_read_and_written_while_a_sweep_writes(tmp_path):
    store, shards = tmp_path / "runs.duckdb", tmp_path / "runs.shards"
    sweep = subprocess.Popen([*CLI, *SWEEP, "--store", str(store)], env=_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not _shards(shards) and time.monotonic() < deadline and sweep.poll() is None:
            time.sleep(0.01)
        assert sweep.poll() is None, "the sweep ended before it could be read mid-way"
        listed = _cli("runs", "list", "--store", str(store), "--format", "json")
        assert listed.returncode == 0, listed.stderr
        [rec] = json.loads(listed.stdout)
        assert rec["status"] == "incomplete" and not rec["resumable"]  # it is running
        run = _cli("run", "ec-emissions", "--store", str(store), "-f", "json", "--no-levers")
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout)["results"]  # the forecast is printed either way
        assert "recorded run" in run.stderr or "warning: the run was not recorded" in run.stderr
        out, err = sweep.communicate(timeout=300)
    finally:
        if sweep.poll() is None:
            sweep.kill()
    assert sweep.returncode == 0, err
    with Store(store, read_only=True) as st:
        kinds = sorted(r.kind for r in st.runs())
        assert all(r.status == "complete" for r in st.runs())
    assert kinds in (["ensemble", "run"], ["ensemble"])


def test_a_second_writer_gets_store_busy_and_run_still_prints(tmp_path):
    store = tmp_path / "runs.duckdb"
    Store(store).close()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time, duckdb; c = duckdb.connect(sys.argv[1]); print('ready', flush=True);"
         " time.sleep(60)", str(store)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreError, match="is busy: another process is writing it"):
            Store(store, wait=0.5)
        r = _cli("run", "ec-emissions", "--store", str(store), "-f", "json", "--no-levers")
        assert r.returncode == 0
        assert json.loads(r.stdout)["results"]
        assert r.stderr.startswith("warning: the run was not recorded: the run store")
        assert "is busy" in r.stderr and r.stderr.count("\n") == 1
    finally:
        holder.kill()
        holder.wait(timeout=10)
    with Store(store) as st:  # free again once the holder is gone, and undamaged
        assert st.count() == 0
