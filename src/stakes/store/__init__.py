"""The run store: every run recorded so that it can be found, compared, reproduced and shown.

>>> from stakes.store import Store, record_run          # doctest: +SKIP
>>> with Store("runs.duckdb") as st:                    # doctest: +SKIP
...     rid = st.record_run(scn, results, seed=0)
...     st.forecasts(rid)

See :mod:`stakes.store.catalog` for what a run records and
:mod:`stakes.store.shards` for chunked jobs and crash safety.
"""

from .catalog import (
    ENV_VAR,
    RunRecord,
    Store,
    StoreError,
    default_store_path,
    open_store,
    record_run,
    resolve_store_path,
    scenario_hash,
)
from .shards import read_shards, write_shard

__all__ = [
    "ENV_VAR", "RunRecord", "Store", "StoreError", "default_store_path", "open_store",
    "record_run", "resolve_store_path", "scenario_hash", "read_shards", "write_shard",
]
