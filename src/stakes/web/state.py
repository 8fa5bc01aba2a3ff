"""The web app's state: working copies, the user's scenarios, the run store and its cache.

Read pages never wait on a writer: recorded runs do not change, so a run's
record, scenario and document, and the charts built from them, are kept in
a small cache the first time they are read; the run listing is cached under
the store file's size and time and, while a writer holds the store, the last
listing is shown rather than waiting for it.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from fastapi import HTTPException

from .jobs import JobPool, Limits
from .security import DEFAULT_HOSTS

MAX_UPLOAD = 2 * 1024 * 1024
MAX_WORKSPACES = 256
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$")
RUN_RE = re.compile(r"^[A-Za-z0-9]{1,32}$")
WID_RE = re.compile(r"^[a-f0-9]{32}$")
SCENARIOS_ENV = "STAKES_SCENARIOS"
CACHE_RUNS = 64
CACHE_VIEWS = 256


@dataclass
class Workspace:
    """A working copy of a scenario, edited in the browser."""

    id: str
    scenario: Any  # stakes.scenario.schema.Scenario
    source: str
    dirty: bool = False
    last_run: str | None = None
    created: float = field(default_factory=time.time)


@dataclass
class Settings:
    store: Path | None = None  # None: $STAKES_STORE or the user data directory
    scenario_dir: Path | None = None
    max_upload: int = MAX_UPLOAD
    hosts: tuple[str, ...] = DEFAULT_HOSTS
    limits: Limits = field(default_factory=Limits)


class _LRU:
    def __init__(self, size: int):
        self.size = size
        self.items: OrderedDict[Any, Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self.lock:
            v = self.items.get(key)
            if v is not None:
                self.items.move_to_end(key)
            return v

    def put(self, key: Any, value: Any) -> Any:
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return value


class State:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.limits = settings.limits
        self.pool = JobPool(settings.limits)
        self.workspaces: OrderedDict[str, Workspace] = OrderedDict()
        self.lock = threading.Lock()
        self.store_lock = threading.Lock()
        self.save_lock = threading.Lock()
        self.runs_cache = _LRU(CACHE_RUNS)
        self.views_cache = _LRU(CACHE_VIEWS)
        self.files_cache = _LRU(32)
        self._listing: tuple[Any, list[Any]] | None = None
        self._plotly_js: bytes | None = None
        self._plotly_css: bytes | None = None

    # working copies ------------------------------------------------------
    def new_workspace(self, scn: Any, source: str) -> Workspace:
        ws = Workspace(secrets.token_hex(16), scn, source)
        with self.lock:
            self.workspaces[ws.id] = ws
            while len(self.workspaces) > MAX_WORKSPACES:
                self.workspaces.popitem(last=False)
        return ws

    def workspace(self, wid: str) -> Workspace:
        if not WID_RE.match(wid or ""):
            raise HTTPException(404, "no such working copy")
        with self.lock:
            ws = self.workspaces.get(wid)
            if ws is not None:
                self.workspaces.move_to_end(wid)
        if ws is None:
            raise HTTPException(404, "this working copy has expired; open the scenario again")
        return ws

    # the run store -------------------------------------------------------
    def store_path(self) -> Path:
        from ..store.catalog import resolve_store_path

        return resolve_store_path(self.settings.store)

    @contextmanager
    def store(self, read_only: bool = False) -> Iterator[Any]:
        """The run store, opened for one operation (so that the CLI can use it in between).

        With ``read_only`` and no store file yet, yields None instead of creating one.
        """
        from ..store import Store

        with self.store_lock:
            if read_only and not self.store_path().exists():
                yield None
                return
            # One process may hold one kind of connection to a DuckDB file at a time, and
            # runs are recorded by this process, so reads use the same (writable) kind.
            st = Store(self.settings.store, read_only=False)
            try:
                yield st
            finally:
                st.close()

    def _store_key(self) -> Any:
        p = self.store_path()
        out = []
        for f in (p, p.with_name(p.name + ".wal")):
            try:
                s = f.stat()
                out.append((s.st_size, s.st_mtime_ns))
            except OSError:
                out.append(None)
        return tuple(out)

    def run_listing(self, limit: int = 200) -> list[Any]:
        """Recorded runs, newest first; the cached listing while a writer holds the store."""
        key = (self._store_key(), limit)
        cached = self._listing
        if cached is not None and cached[0] == key:
            return cached[1]
        if cached is not None and cached[0][1] == limit and self.store_lock.locked():
            return cached[1]
        with self.store(read_only=True) as st:
            recs = st.runs(limit=limit) if st is not None else []
        self._listing = (key, recs)
        return recs

    def forget_listing(self) -> None:
        self._listing = None

    def run(self, rid: str) -> tuple[Any, Any, dict[str, Any]]:
        """A recorded run's record, scenario and document (cached once complete)."""
        hit = self.runs_cache.get(rid)
        if hit is not None:
            return hit
        with self.store() as st:
            rec = st.get(rid, document=True)
            scn = st.scenario(rec.id)
        out = (rec, scn, rec.document or {"results": []})
        if rec.status == "complete":
            self.runs_cache.put(rid, out)
            if rec.id != rid:
                self.runs_cache.put(rec.id, out)
        return out

    def scenario_file(self, path: Path) -> Any:
        """A library scenario, read once per version of its file (scenarios are not mutated:
        edits make a new one)."""
        from ..readers import load_any

        st = path.stat()
        key = (str(path), st.st_mtime_ns, st.st_size)
        hit = self.files_cache.get(key)
        return hit if hit is not None else self.files_cache.put(key, load_any(path))

    def view(self, key: Any, build: Callable[[], Any]) -> Any:
        hit = self.views_cache.get(key)
        return hit if hit is not None else self.views_cache.put(key, build())

    # the user's scenarios ------------------------------------------------
    def scenario_dir(self) -> Path:
        if self.settings.scenario_dir is not None:
            return Path(self.settings.scenario_dir)
        env = os.environ.get(SCENARIOS_ENV, "").strip()
        if env:
            return Path(env).expanduser()
        from platformdirs import user_data_dir

        return Path(user_data_dir("stakes", appauthor=False)) / "scenarios"

    def user_scenarios(self) -> dict[str, Path]:
        folder = self.scenario_dir()
        if not folder.is_dir():
            return {}
        return {p.stem: p for p in sorted(folder.glob("*.yaml"))
                if p.is_file() and NAME_RE.match(p.stem)}

    def write_scenario(self, name: str, text: str, overwrite: bool) -> bool:
        """Write ``name``.yaml atomically; without ``overwrite``, only if it does not exist.

        Returns False (writing nothing) when the name is taken and ``overwrite`` is
        false.  The file appears whole or not at all: it is written beside its target,
        then linked (which fails if the name exists) or renamed into place.
        """
        folder = self.scenario_dir()
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{name}.yaml"
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)
            with self.save_lock:
                if overwrite:
                    os.replace(tmp, target)
                    return True
                try:
                    os.link(tmp, target)
                except FileExistsError:
                    return False
                return True
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def plotly_css(self) -> bytes:
        """plotly.js's own style rules as a stylesheet.

        plotly.js adds them with inline ``<style>`` elements, which the app's
        Content-Security-Policy refuses; given a stylesheet element with the id it
        looks for and the class ``no-inline-styles``, it leaves them to that sheet.
        The rules are read from the installed bundle, so they match its version.
        """
        if self._plotly_css is None:
            text = self.plotly_js().decode("utf-8")
            start = text.find('{"X,X div":')
            end = text.find("};for(", start)
            rules = []
            if start >= 0 and end > start:
                pair = re.compile(r'"([^"]+)":(?:\'([^\']*)\'|"([^"]*)")')
                for m in pair.finditer(text, start, end + 1):
                    sel = (m.group(1).replace("X", ".js-plotly-plot .plotly")
                           .replace("Y", ".plotly-notifier"))
                    rules.append(f"{sel}{{{m.group(2) if m.group(2) is not None else m.group(3)}}}")
            self._plotly_css = "\n".join(rules).encode("utf-8")
        return self._plotly_css

    def plotly_js(self) -> bytes:
        if self._plotly_js is None:
            from plotly.offline import get_plotlyjs

            self._plotly_js = get_plotlyjs().encode("utf-8")
        return self._plotly_js
