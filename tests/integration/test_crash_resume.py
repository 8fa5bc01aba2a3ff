"""Crash safety: a sweep killed mid-way (SIGKILL, a real process) leaves a consistent
store, and ``--resume`` completes it with no member lost or duplicated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from stakes.store import Store, StoreError
from stakes.store.shards import read_shards
from stakes.store.sweep import chunk_frame

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses SIGKILL")

CLI = [sys.executable, "-c", "from stakes.cli.main import app; app()"]
MEMBERS, CHUNK, SEED = 160, 2, 7
N_CHUNKS = MEMBERS // CHUNK
KEY = ["member", "model", "intervention", "issue", "round"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _sweep(store: Path, *extra: str) -> list[str]:
    return [*CLI, "runs", "sweep", *extra, "--store", str(store), "--quiet"]


def _kill_after(proc: subprocess.Popen, folder: Path, n_files: int, limit_s: float) -> int:
    """SIGKILL ``proc`` once ``n_files`` shards are on disk; return how many there were."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        files = list(folder.glob("*/members-*.parquet")) if folder.exists() else []
        if len(files) >= n_files:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            return len(files)
        time.sleep(0.005)
    proc.kill()
    proc.wait(timeout=10)
    out = proc.stdout.read() if proc.stdout else ""
    pytest.fail(f"the sweep ended (rc {proc.returncode}) before it could be killed mid-way: "
                f"{out[-2000:]}")


def test_killed_sweep_resumes_without_loss_or_duplicates(tmp_path):
    store = tmp_path / "runs.duckdb"
    shards = tmp_path / "runs.shards"
    t0 = time.monotonic()
    proc = subprocess.Popen(
        _sweep(store, "ec-emissions", "--members", str(MEMBERS), "--chunk-size", str(CHUNK),
               "-m", "compromise", "-m", "median", "--seed", str(SEED), "--noise", "0.3"),
        env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _kill_after(proc, shards, n_files=5, limit_s=20)
    assert proc.returncode == -signal.SIGKILL

    # The store opens (no stale lock), the sweep is recorded as incomplete, and
    # what it reports is exactly what is registered.
    with Store(store) as st:
        [rec] = st.runs()
        assert rec.kind == "sweep" and rec.status == "incomplete"
        assert rec.n_chunks == N_CHUNKS
        done = st.registered_chunks(rec.id, "members")
        # the kill may land between a shard's rename and its registration
        assert 4 <= len(done) < N_CHUNKS
        assert done == set(range(len(done)))  # chunks are written in order
        partial = read_shards(st, rec.id, "members")
        assert sorted(partial["member"].unique()) == list(range(CHUNK * len(done)))
        assert not partial.duplicated(KEY).any()
        rid = rec.id

    # Resume, and kill the resuming process too.
    proc = subprocess.Popen(_sweep(store, "--resume", rid), env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    _kill_after(proc, shards, n_files=len(done) + 10, limit_s=20)
    with Store(store, read_only=True) as st:
        again = st.registered_chunks(rid, "members")
        assert done < again and len(again) < N_CHUNKS
        assert st.get(rid).status == "incomplete"

    # Resume in a new process, to the end.
    res = subprocess.run(_sweep(store, "--resume", rid[:6]), env=_env(), capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == rid

    with Store(store, read_only=True) as st:
        rec = st.get(rid)
        assert rec.status == "complete" and rec.chunks_done == N_CHUNKS
        assert st.count() == 1
        members = read_shards(st, rid, "members", verify=True)
        leftovers = sorted(p.name for p in (st.shard_root / rid).iterdir()
                           if not p.name.endswith(".parquet") or p.name.startswith("."))
        scn = st.scenario(rid)
        spec = rec.spec
    assert leftovers == []
    assert not members.duplicated(KEY).any()
    assert sorted(members["member"].unique()) == list(range(MEMBERS))
    # Identical to the same sweep computed without interruption.
    expected = pd.concat([chunk_frame(scn, spec, k) for k in range(N_CHUNKS)],
                         ignore_index=True)
    got = members.sort_values(KEY, kind="stable").reset_index(drop=True)
    want = expected.sort_values(KEY, kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(got[want.columns], want, check_dtype=False)
    assert time.monotonic() - t0 < 60


def test_a_second_writer_is_refused_while_the_first_holds_the_store(tmp_path):
    store = tmp_path / "runs.duckdb"
    Store(store).close()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time, duckdb; c = duckdb.connect(sys.argv[1]); print('ready', flush=True);"
         " time.sleep(30)", str(store)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreError, match="in use by another process"):
            Store(store)
    finally:
        holder.kill()
        holder.wait(timeout=10)
    Store(store).close()  # free again once the holder is gone
