"""The core install: what a plain run imports, and what a missing extra says.

Each check runs in a fresh interpreter.  The "core only" checks hide the optional
modules behind an import hook, as if only ``pip install stakes`` had run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# Modules that belong to extras (stakes.extras) and must not load for a plain run.
HEAVY = ["pandas", "duckdb", "pyarrow", "jax", "dask", "distributed", "fastapi", "uvicorn",
         "plotly", "matplotlib", "SALib", "platformdirs"]

_PRELUDE = textwrap.dedent('''
    import importlib.abc, json, sys
    HIDDEN = set(json.loads(sys.argv[1]))

    class Hide(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in HIDDEN:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Hide())
    sys.argv = ["stakes"] + sys.argv[2:]
    from stakes.cli.main import app
    code = 0
    try:
        app()
    except SystemExit as exc:
        code = exc.code or 0
    loaded = sorted({m.split(".")[0] for m in sys.modules})
    print("\\nLOADED " + json.dumps(loaded), file=sys.stderr)
    print("\\nMODULES " + json.dumps(sorted(sys.modules)), file=sys.stderr)
    sys.exit(code)
''')


def _stakes(*args: str, hidden: list[str] = (), env: dict | None = None
            ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _PRELUDE, json.dumps(list(hidden)), *args],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def _modules(proc: subprocess.CompletedProcess) -> set[str]:
    line = [x for x in proc.stderr.splitlines() if x.startswith("MODULES ")][-1]
    return set(json.loads(line[len("MODULES "):]))


def _loaded(proc: subprocess.CompletedProcess) -> set[str]:
    line = [x for x in proc.stderr.splitlines() if x.startswith("LOADED ")][-1]
    return set(json.loads(line[len("LOADED "):]))


SMALL = str(Path(__file__).resolve().parents[2] / "src" / "stakes" / "data" / "scenarios"
            / "ec-emissions.yaml")


# (the default run's imports do not depend on its ensemble's size; the full default run
# is test_default_run_works_with_the_core_alone's)
@pytest.mark.parametrize("args", [["--help"], ["run", "--no-save", "--members", "20"], ["models"],
                                  ["run", SMALL, "--no-save"],
                                  ["run", SMALL, "--no-save", "--model", "eum", "--rounds", "10"]])
def test_plain_commands_import_no_extra(args):
    proc = _stakes(*args)
    assert proc.returncode == 0, proc.stderr
    assert not _loaded(proc) & set(HEAVY)


def test_help_loads_no_model_code():
    # The help screen needs typer and rich only: not the engine, numpy or pydantic.
    proc = _stakes("--help")
    assert proc.returncode == 0, proc.stderr
    loaded = _loaded(proc)
    assert not loaded & {"numpy", "pydantic", "ruamel", "scipy"}
    assert "stakes.engine" not in _modules(proc)


def test_a_run_without_an_ensemble_loads_no_scipy():
    # SciPy (about 140 ms with the NumPy parts it pulls in) serves the ensembles' draws
    proc = _stakes("run", SMALL, "--no-save", "--model", "eum", "--members", "0")
    assert proc.returncode == 0, proc.stderr
    assert "scipy" not in _loaded(proc)
    proc = _stakes("run", SMALL, "--no-save", "--model", "smp")  # no batched kernel
    assert proc.returncode == 0, proc.stderr
    assert "scipy" not in _loaded(proc)


def test_a_csv_run_loads_no_xml_or_network_code():
    # defusedxml's SAX reader drags in urllib.request, http.client and ssl; only XML input needs it.
    proc = _stakes("run", SMALL, "--no-save", "--model", "median")
    assert proc.returncode == 0, proc.stderr
    assert not _loaded(proc) & {"defusedxml", "ssl", "http"}


def test_default_run_works_with_the_core_alone():
    proc = _stakes("run", "--no-save", "--format", "json", hidden=HEAVY)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["results"] and all(r["forecast"] is not None for r in doc["results"])


@pytest.mark.parametrize("args, extra", [
    (["runs", "list"], "store"),
    (["sensitivity", "ec-emissions", "--samples", "8"], "ensembles"),
])
def test_a_missing_extra_is_one_line_and_exit_2(args, extra, tmp_path):
    proc = _stakes(*args, hidden=HEAVY, env={"STAKES_STORE": str(tmp_path / "store")})
    assert proc.returncode == 2, proc.stderr
    errors = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    assert len(errors) == 1 and f"stakes[{extra}]" in errors[0]
    assert "Traceback" not in proc.stderr


def test_a_recorded_run_without_the_store_prints_and_notes(tmp_path):
    proc = _stakes("run", "ec-emissions", "--no-levers", hidden=HEAVY,
                   env={"STAKES_STORE": str(tmp_path / "store")})
    assert proc.returncode == 0, proc.stderr
    assert "emissions" in proc.stdout
    assert "note: the run was not recorded" in proc.stderr and "stakes[store]" in proc.stderr
    assert not (tmp_path / "store").exists()
