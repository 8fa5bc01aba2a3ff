"""Parquet shards of large runs, and chunked jobs that can be resumed.

A job is a run whose output is split into ``n_chunks`` chunks.  Each chunk
is computed, written as one Parquet file under ``STORE.shards/RUN_ID/`` and
then registered in the catalog:

1. the file is written under a temporary name in the same folder, flushed
   to disk and renamed into place (a rename within a folder is atomic);
2. the catalog row is inserted in its own transaction.

A chunk counts only once its row is committed.  A process killed between
the two steps leaves an unregistered file, which :func:`clean_unregistered`
removes before a resumed job writes it again; a process killed during step 1
leaves a temporary file, which is removed too.  Readers only ever read
registered files, so a killed job leaves a consistent store, and resuming it
(``stakes sweep --resume``) computes exactly the missing chunks: no chunk is
lost and none is counted twice.  Chunks must therefore
be deterministic functions of their index (seed each one from the job's seed
and the chunk's members, never from a shared running generator).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from .catalog import Store, StoreError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

SUFFIX = ".parquet"


def shard_name(kind: str, chunk: int) -> str:
    return f"{kind}-{chunk:06d}{SUFFIX}"


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; not possible on every platform.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_shard_file(folder: Path, kind: str, chunk: int, frame: "pd.DataFrame") -> dict:
    """Write ``frame`` as chunk ``chunk`` into ``folder`` atomically; return what registers it.

    Writing the same chunk again replaces the file.  Only the file is
    written: registering it in the catalog is the caller's step (on a
    cluster, workers write files and the driver registers them).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    name = shard_name(kind, chunk)
    final = folder / name
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(folder)
    return {"name": name, "rows": len(frame), "bytes": final.stat().st_size,
            "sha256": _sha256(final)}


def register_shard_file(store: Store, run_id: str, kind: str, chunk: int, meta: dict,
                        seconds: float | None = None) -> Path:
    """Register a file written by :func:`write_shard_file` in ``run_id``'s folder."""
    if chunk in store.registered_chunks(run_id, kind):
        raise StoreError(f"run {run_id}: chunk {chunk} of {kind!r} is already recorded")
    path = store.shard_root / run_id / meta["name"]
    if not path.exists():
        raise StoreError(f"run {run_id}: shard {path} was not written")
    store.register_shard(run_id, kind, chunk, f"{run_id}/{meta['name']}", meta["rows"],
                         meta["bytes"], meta["sha256"], seconds)
    return path


def write_shard(store: Store, run_id: str, kind: str, chunk: int, frame: "pd.DataFrame",
                seconds: float | None = None) -> Path:
    """Write ``frame`` as chunk ``chunk`` of ``run_id`` and register it; return its path."""
    if chunk in store.registered_chunks(run_id, kind):
        raise StoreError(f"run {run_id}: chunk {chunk} of {kind!r} is already recorded")
    meta = write_shard_file(store.shard_root / run_id, kind, chunk, frame)
    return register_shard_file(store, run_id, kind, chunk, meta, seconds)


def clean_unregistered(store: Store, run_id: str, kind: str) -> list[Path]:
    """Remove temporary and unregistered shard files a killed writer left; return them."""
    folder = store.shard_root / run_id
    if not folder.is_dir():
        return []
    registered = {shard_name(kind, c) for c in store.registered_chunks(run_id, kind)}
    removed = []
    for p in folder.iterdir():
        leftover_tmp = p.name.startswith(f".{kind}-") and p.name.endswith(".tmp")
        unregistered = (p.name.startswith(f"{kind}-") and p.name.endswith(SUFFIX)
                        and p.name not in registered)
        if leftover_tmp or unregistered:
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def read_shards(store: Store, run_id: str, kind: str, *, verify: bool = False) -> "pd.DataFrame":
    """Every registered shard of ``kind`` of a run, concatenated in chunk order.

    Files that are present but not registered are ignored.  ``verify`` checks
    each file's sha256 against the catalog.
    """
    import pandas as pd
    import pyarrow.parquet as pq

    rid = store.resolve(run_id)
    frames = []
    for row in store.shard_rows(rid, kind):
        path = store.shard_root / row["path"]
        if not path.exists():
            raise StoreError(f"run {rid}: shard {row['path']} is registered but missing from "
                             f"{store.shard_root}")
        if verify and _sha256(path) != row["sha256"]:
            raise StoreError(f"run {rid}: shard {row['path']} does not match its checksum")
        frames.append(pq.read_table(path).to_pandas())
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)
