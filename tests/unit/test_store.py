"""The run store: what a run records, atomic writes, shards and resumable jobs."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from stakes.api import scenario_path
from stakes.engine import interventions_for, run_scenario
from stakes.results import to_document
from stakes.scenario.yaml_io import load_yaml_scenario
from stakes.store import Store, StoreError, record_run, resolve_store_path, scenario_hash
from stakes.store.compare import compare_runs, scenario_diff
from stakes.store.shards import clean_unregistered, read_shards, write_shard

TEMPLATE = Path(__file__).resolve().parents[2] / "src" / "stakes" / "data" / "template.yaml"
MODELS = ["compromise", "median"]


@pytest.fixture(scope="module")
def ec():
    return load_yaml_scenario(scenario_path("ec-emissions"))


@pytest.fixture(scope="module")
def template():
    return load_yaml_scenario(TEMPLATE)


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "runs.duckdb") as s:
        yield s


def with_salience(scn, actor, value):
    entries = [e.model_copy(update={"salience": e.salience.model_copy(update={"value": value})})
               if e.actor == actor else e for e in scn.entries]
    return scn.model_copy(update={"entries": entries})


# -- locating the store --------------------------------------------------------


def test_store_path_explicit_env_and_default(tmp_path, monkeypatch):
    monkeypatch.delenv("STAKES_STORE", raising=False)
    monkeypatch.setattr("stakes.store.catalog.default_store_path",
                        lambda: tmp_path / "data" / "runs.duckdb")
    assert resolve_store_path(None) == tmp_path / "data" / "runs.duckdb"
    monkeypatch.setenv("STAKES_STORE", str(tmp_path / "env.duckdb"))
    assert resolve_store_path(None) == tmp_path / "env.duckdb"
    assert resolve_store_path(tmp_path / "x.duckdb") == tmp_path / "x.duckdb"
    assert resolve_store_path(tmp_path) == tmp_path / "runs.duckdb"  # a folder


def test_default_store_is_in_the_user_data_dir(monkeypatch):
    from platformdirs import user_data_dir

    monkeypatch.delenv("STAKES_STORE", raising=False)
    expected = Path(user_data_dir("stakes", appauthor=False)) / "runs.duckdb"
    assert resolve_store_path(None) == expected


def test_read_only_store_that_does_not_exist(tmp_path):
    with pytest.raises(StoreError, match="no run store"):
        Store(tmp_path / "none.duckdb", read_only=True)


def test_not_a_store(tmp_path):
    import duckdb

    p = tmp_path / "other.duckdb"
    duckdb.connect(str(p)).close()
    with pytest.raises(StoreError, match="not a stakes run store"):
        Store(p, read_only=True)


# -- recording a run -----------------------------------------------------------


def test_record_run_keeps_everything(store, template):
    ivs = interventions_for(template, "all", "all")
    results = run_scenario(template, MODELS, interventions=ivs, seed=5)
    rid = store.record_run(template, results, models=MODELS, options={"compromise": {}},
                           seed=5, source="template.yaml", label="first", command="stakes run")
    rec = store.get(rid, document=True)
    assert rec.status == "complete" and rec.kind == "run"
    assert rec.seed == 5 and rec.models == MODELS and rec.label == "first"
    assert rec.interventions == ["baseline", "lever:pressure", "plan:campaign"]
    assert rec.scenario_hash == scenario_hash(template)
    assert rec.stakes_version and rec.python_version and rec.platform
    assert rec.seconds is not None and rec.seconds >= 0
    assert rec.document == json.loads(json.dumps(to_document(template, results)))
    # the per-round history: one row per result x round x actor x issue
    hist = store.history(rid)
    expected = sum(len(rr.actor_ids) * len(r.run.issue_ids) for r in results
                   for rr in r.run.rounds)
    assert len(hist) == expected
    fc = store.forecasts(rid)
    assert len(fc) == len(results)
    for r, row in zip(results, fc.itertuples(index=False)):
        assert row.model == r.run.model and row.intervention == r.intervention.label
        assert row.forecast == pytest.approx(float(r.run.forecast[0]))


def test_stored_scenario_reproduces_the_run(store, ec):
    results = run_scenario(ec, MODELS, seed=3)
    rid = store.record_run(ec, results, models=MODELS, seed=3)
    again = store.scenario(rid)
    assert scenario_hash(again) == scenario_hash(ec)
    rerun = run_scenario(again, store.get(rid).models, seed=store.get(rid).seed)
    assert [float(r.run.forecast[0]) for r in rerun] == [float(r.run.forecast[0])
                                                        for r in results]


def test_record_is_atomic(store, ec, monkeypatch):
    results = run_scenario(ec, MODELS)
    store.record_run(ec, results)

    def boom(self, rid, res):
        self.con.execute("INSERT INTO results VALUES (?, 0, 'x', '[]', 'baseline', 'converged',"
                         " 0, '{}')", [rid])
        raise RuntimeError("disk full")

    monkeypatch.setattr(Store, "_insert_results", boom)
    changed = with_salience(ec, "DK", 0.2)
    with pytest.raises(RuntimeError, match="disk full"):
        store.record_run(changed, results)
    assert store.count() == 1
    for table in ("results", "forecasts", "history"):
        n = store.con.execute(f"SELECT count(DISTINCT run_id) FROM {table}").fetchone()[0]
        assert n == 1, table
    assert store.con.execute("SELECT count(*) FROM scenarios").fetchone()[0] == 1


def test_record_run_opens_the_store_by_path(tmp_path, ec, monkeypatch):
    monkeypatch.setenv("STAKES_STORE", str(tmp_path / "env.duckdb"))
    rid = record_run(None, ec, run_scenario(ec, MODELS))
    with Store(read_only=True) as s:
        assert s.resolve(rid) == rid


def test_resolve_ids(store, ec):
    a = store.record_run(ec, run_scenario(ec, MODELS))
    b = store.record_run(with_salience(ec, "DK", 0.5), run_scenario(ec, MODELS))
    assert store.resolve("latest") == b
    assert store.resolve(None) == b
    assert store.resolve("latest~1") == a
    assert store.resolve(a[:5]) == a
    with pytest.raises(StoreError, match="holds 2 run"):
        store.resolve("latest~2")
    with pytest.raises(StoreError, match="no run 'zzzz'"):
        store.resolve("zzzz")
    with pytest.raises(StoreError, match="latest~N"):
        store.resolve("latest~x")
    assert [r.id for r in store.runs()] == [b, a]
    assert [r.id for r in store.runs(limit=1)] == [b]


def test_delete(store, ec):
    a = store.record_run(ec, run_scenario(ec, MODELS))
    b = store.record_run(with_salience(ec, "DK", 0.5), run_scenario(ec, MODELS))
    assert store.delete([a]) == [a]
    assert [r.id for r in store.runs()] == [b]
    for table in ("results", "forecasts", "history"):
        assert store.con.execute(f"SELECT count(*) FROM {table} WHERE run_id = ?",
                                 [a]).fetchone()[0] == 0
    # the first scenario is no longer referenced and goes too
    assert store.con.execute("SELECT count(*) FROM scenarios").fetchone()[0] == 1


# -- comparing ----------------------------------------------------------------


def test_scenario_diff_matches_items_by_id(ec):
    assert scenario_diff(ec, ec) == []
    shuffled = ec.model_copy(update={"entries": list(reversed(ec.entries)),
                                     "actors": list(reversed(ec.actors))})
    assert scenario_diff(ec, shuffled) == []
    changed = with_salience(ec, "DK", 0.5)
    assert scenario_diff(ec, changed) == [("entries[DK/emissions].salience.value", 1.0, 0.5)]
    fewer = ec.model_copy(update={"entries": [e for e in ec.entries if e.actor != "GR"]})
    assert scenario_diff(ec, fewer) == [("entries[GR/emissions]", "present", "(absent)")]


def test_compare_runs(store, ec):
    a = store.record_run(ec, run_scenario(ec, MODELS), models=MODELS, seed=0)
    changed = with_salience(ec, "DK", 0.3)
    b = store.record_run(changed, run_scenario(changed, ["compromise", "eum"]),
                         models=["compromise", "eum"], seed=1)
    doc = compare_runs(store, a, b)
    fields = {r["field"]: (r["a"], r["b"]) for r in doc["inputs"]}
    assert fields["scenario: entries[DK/emissions].salience.value"] == (1.0, 0.3)
    assert fields["seed"] == (0, 1)
    assert fields["models"] == (MODELS, ["compromise", "eum"])
    rows = {(r["model"], r["intervention"]): r for r in doc["forecasts"]}
    comp = rows[("compromise", "baseline")]
    assert comp["change"] == pytest.approx(comp["b"] - comp["a"]) and comp["change"] > 0.1
    assert rows[("median", "baseline")]["b"] is None  # only in A
    assert rows[("eum", "baseline")]["a"] is None  # only in B
    json.dumps(doc)  # JSON-safe


# -- shards and jobs ----------------------------------------------------------


def _frame(k: int) -> pd.DataFrame:
    return pd.DataFrame({"member": [2 * k, 2 * k + 1], "value": [float(k), k + 0.5]})


def _job(store, ec, n_chunks=4):
    return store.begin_job(ec, kind="sweep", spec={"shard_kind": "members"}, n_chunks=n_chunks,
                           models=MODELS)


def test_shards_written_registered_and_read(store, ec):
    rid = _job(store, ec)
    assert store.get(rid).status == "incomplete"
    path = write_shard(store, rid, "members", 2, _frame(2))
    assert path.exists() and path.parent == store.shard_root / rid
    assert store.registered_chunks(rid, "members") == {2}
    with pytest.raises(StoreError, match="already recorded"):
        write_shard(store, rid, "members", 2, _frame(2))
    with pytest.raises(StoreError, match="3 of 4 chunks are not recorded"):
        store.finish_job(rid)
    # files that are not registered are invisible and cleaned away
    (store.shard_root / rid / "members-000003.parquet").write_bytes(b"partial")
    (store.shard_root / rid / ".members-000001.parquet.abc.tmp").write_bytes(b"partial")
    assert read_shards(store, rid, "members")["member"].tolist() == [4, 5]
    removed = clean_unregistered(store, rid, "members")
    assert sorted(p.name for p in removed) == [".members-000001.parquet.abc.tmp",
                                               "members-000003.parquet"]
    assert (store.shard_root / rid / "members-000002.parquet").exists()


def test_checksum_and_missing_shards(store, ec):
    rid = _job(store, ec, n_chunks=1)
    path = write_shard(store, rid, "members", 0, _frame(0))
    data = path.read_bytes()
    path.write_bytes(data[:-8] + b"XXXXXXXX")
    with pytest.raises(StoreError, match="checksum"):
        read_shards(store, rid, "members", verify=True)
    path.unlink()
    with pytest.raises(StoreError, match="registered but missing"):
        read_shards(store, rid, "members")


def test_delete_removes_shards(store, ec):
    rid = _job(store, ec, n_chunks=1)
    write_shard(store, rid, "members", 0, _frame(0))
    store.delete([rid])
    assert not (store.shard_root / rid).exists()
    assert store.con.execute("SELECT count(*) FROM shards").fetchone()[0] == 0
