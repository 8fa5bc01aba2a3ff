"""The fixed fuzz sample (stakes.fuzz): 2,000 generated files in-process, a few dozen through
real ``stakes run`` and ``stakes convert`` processes (docs/limits.md)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from stakes.fuzz import DEFECTS, SEEDS, generate

ROOT = Path(__file__).resolve().parents[2]
SEED = 0
SAMPLE = 2000
TIME_LIMIT = 30.0  # seconds per file: a hang guard (the slowest file takes a few seconds)
MEMORY_MIB = 2048  # address space a worker may add while checking files
CLI_SAMPLE = range(7, SAMPLE, 50)  # 40 files through real processes
CLI_MAX_RSS_MIB = 2048

ENV = dict(os.environ, PYTHONPATH=str(ROOT / "src"), STAKES_STORE="")


def test_generator_is_deterministic_and_covers_every_format():
    assert generate(SEED, 123) == generate(SEED, 123)
    assert generate(SEED, 123) != generate(SEED + 1, 123)
    names = [generate(SEED, i)[0] for i in range(400)]
    for fmt in SEEDS:
        assert any(f"-{fmt}-" in n for n in names), fmt


@pytest.mark.slow
def test_fuzz_sample_in_process():
    r = subprocess.run(
        [sys.executable, "-m", "stakes.fuzz", "--seed", str(SEED), "--count", str(SAMPLE),
         "--workers", "2", "--time-limit", str(TIME_LIMIT), "--memory-mib", str(MEMORY_MIB)],
        env=ENV, capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stderr[-2000:]
    doc = json.loads(r.stdout)
    counts = doc["counts"]
    assert sum(counts.values()) == SAMPLE
    assert doc["defects"] == []
    assert all(counts.get(k, 0) == 0 for k in DEFECTS)
    # the sample exercises both outcomes, in every format
    assert counts["refused"] > 0 and counts["accepted"] > 0
    for fmt in SEEDS:
        assert doc["by_format"].get(f"{fmt}:refused", 0) > 0, fmt


def _run(args: list[str], cwd: Path) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of one CLI process."""
    try:
        r = subprocess.run([sys.executable, "-m", "stakes.cli.main", *args], cwd=cwd, env=ENV,
                           capture_output=True, text=True, stdin=subprocess.DEVNULL,
                           timeout=120)  # a hang guard for a whole process
    except subprocess.TimeoutExpired:
        pytest.fail(f"stakes {' '.join(args)} did not finish in 120 s")
    return r.returncode, r.stdout, r.stderr


def _peak_child_rss_mib() -> float:
    """The largest resident memory any finished child process of this one reached."""
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


_LOCATED = re.compile(r"^error: (?P<file>[^:]+)(:\d+(:\d+)?)?: \S")
# a model's refusal of an accepted file: "MODEL: under ..., ..." (stakes.engine)
_MODEL = re.compile(r"^error: [\w-]+: \S")


def _check_refusal(path: Path, err: str) -> None:
    lines = err.splitlines()
    assert lines and "Traceback" not in err, err[-2000:]
    for ln in lines:
        m = _LOCATED.match(ln)
        assert (m is not None and m.group("file") == str(path)) or _MODEL.match(ln), ln


@pytest.mark.slow
@pytest.mark.parametrize("index", CLI_SAMPLE)
def test_fuzz_sample_through_the_cli(tmp_path, index):
    name, data = generate(SEED, index)
    path = tmp_path / name
    path.write_bytes(data)
    if index % 2:
        code, out, err = _run(["run", str(path), "--no-save", "-f", "json", "--rounds", "20"],
                              tmp_path)
        assert code in (0, 2), err[-2000:]
        if code == 2:
            _check_refusal(path, err)
        else:
            doc = json.loads(out)
            forecasts = [r["forecast"] for r in doc["results"]]
            assert all(isinstance(f, (int, float)) for f in forecasts), forecasts
    else:
        target = tmp_path / "out.yaml"
        code, out, err = _run(["convert", str(path), str(target)], tmp_path)
        assert code in (0, 2), err[-2000:]
        if code == 2:
            _check_refusal(path, err)
            assert not target.exists()  # nothing half-written
        else:
            assert target.read_text(encoding="utf-8").startswith("# stakes scenario")
    assert _peak_child_rss_mib() < CLI_MAX_RSS_MIB
