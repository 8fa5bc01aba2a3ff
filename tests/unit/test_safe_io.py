"""The safe loading layer and the safe output writer (stakes.fileio), through every reader."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from stakes.errors import InputError, OptionError
from stakes.fileio import Limits, limits, set_limits, write_output
from stakes.readers import load_any

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "src" / "stakes" / "data" / "scenarios" / "ec-emissions.yaml"


def one_line(exc: InputError) -> str:
    lines = exc.lines()
    assert len(lines) >= 1 and all("\n" not in ln for ln in lines)
    return lines[0]


@pytest.fixture
def small_limits():
    set_limits(Limits(max_bytes=4096, max_depth=10, max_items=200))
    yield limits()
    set_limits(None)


# --------------------------------------------------------------------------
# input


def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "in.yaml"
    os.mkfifo(fifo)
    with pytest.raises(InputError) as e:
        load_any(fifo)  # would block forever if the reader waited for a writer
    assert one_line(e.value) == f"{fifo}: is a FIFO (named pipe), not a regular file; give a file"


def test_character_device_is_refused():
    with pytest.raises(InputError) as e:
        load_any("/dev/zero")
    assert one_line(e.value) == ("/dev/zero: is a character device, not a regular file; "
                                 "give a file")


def test_directory_and_missing_file(tmp_path):
    with pytest.raises(InputError, match="is a directory, not a file"):
        load_any(tmp_path)
    with pytest.raises(InputError, match="no such file"):
        load_any(tmp_path / "none.csv")


@pytest.mark.parametrize("name", ["s.yaml", "s.csv", "s.xml", "s.txt"])
def test_size_limit_before_parsing(tmp_path, small_limits, name):
    p = tmp_path / name
    p.write_text("x" * 5000)
    with pytest.raises(InputError) as e:
        load_any(p)
    assert "file is too large (5000 bytes; limit 4096" in one_line(e.value)


def test_limits_from_the_environment(monkeypatch):
    monkeypatch.setenv("STAKES_MAX_INPUT_ITEMS", "12")
    assert limits().max_items == 12
    monkeypatch.setenv("STAKES_MAX_INPUT_ITEMS", "-3")
    with pytest.raises(OptionError, match="STAKES_MAX_INPUT_ITEMS"):
        limits()


def test_item_limit_counts_before_parsing(tmp_path, small_limits):
    p = tmp_path / "s.yaml"
    p.write_text("stakes: 1\nactors: [" + ",".join(["1"] * 500) + "]\n")
    with pytest.raises(InputError) as e:
        load_any(p)
    assert "too many values (more than 200" in one_line(e.value)


@pytest.mark.parametrize("text,message", [
    ("stakes: 1\nx: !!bool 0.8\n", "2:4: invalid YAML: '0.8' is not a valid !!bool value"),
    ("stakes: !!float\n", "1:9: invalid YAML: '' is not a valid !!float value"),
    ("stakes: !!int x\n", "1:9: invalid YAML: 'x' is not a valid !!int value"),
    ("stakes: !!set 1\n", "1:9: invalid YAML: tag !!set on a value is not allowed"),
    ("stakes: !!omap 1\n", "1:9: invalid YAML: tag !!omap on a value is not allowed"),
    ("x: !!binary aGVsbG8=\n", "1:4: invalid YAML: tag !!binary on a value is not allowed"),
    ("x: !!python/object:os.system {}\n", "1:4: invalid YAML: tag !!python/object:os.system"),
    ("x: !custom [1]\n", "1:4: invalid YAML: tag !custom on a list is not allowed"),
    ("x: !!seq {a: 1}\n", "1:4: invalid YAML: tag !!seq on a mapping is not allowed"),
])
def test_yaml_tags_outside_the_schema_are_refused_with_a_position(tmp_path, text, message):
    p = tmp_path / "s.yaml"
    p.write_text(text)
    with pytest.raises(InputError) as e:
        load_any(p)
    assert one_line(e.value).startswith(f"{p}:{message}")


def test_yaml_core_tags_that_match_their_value_are_kept():
    from stakes.scenario.yaml_io import parse_text

    data, _ = parse_text("a: !!str 5\nb: !!int 7\nc: !!float 1\nd: !!null\ne: !!bool true\n")
    assert data == {"a": "5", "b": 7, "c": 1.0, "d": None, "e": True}


def test_yaml_deep_block_nesting_is_refused(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("stakes: 1\na:\n" + "".join(" " * (2 * k) + "- \n" for k in range(300)))
    with pytest.raises(InputError) as e:
        load_any(p)
    assert "nesting limit 100" in one_line(e.value)


KTAB_XML = """<?xml version="1.0" encoding="{enc}"?>
{doctype}<Scenario><name>{name}</name></Scenario>
"""


@pytest.mark.parametrize("enc", ["foo-bar", "cp500", "utf-7"])
def test_xml_unknown_or_unsupported_encoding(tmp_path, enc):
    p = tmp_path / "k.xml"
    p.write_text(KTAB_XML.format(enc=enc, doctype="", name="x"))
    with pytest.raises(InputError) as e:
        load_any(p)
    assert one_line(e.value) == f"{p}:1: unsupported XML encoding {enc!r}; save the file as UTF-8"


def test_xml_entity_expansion_is_refused(tmp_path):
    bomb = ('<!DOCTYPE Scenario [<!ENTITY a "' + "x" * 1000 + '">'
            '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>\n')
    p = tmp_path / "k.xml"
    p.write_text(KTAB_XML.format(enc="UTF-8", doctype=bomb, name="&b;"))
    with pytest.raises(InputError) as e:
        load_any(p)
    assert "document type declaration (DTD) is not accepted" in one_line(e.value)
    assert one_line(e.value).startswith(f"{p}:2:")


def test_xml_external_entity_is_refused(tmp_path):
    doctype = '<!DOCTYPE Scenario [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n'
    p = tmp_path / "k.xml"
    p.write_text(KTAB_XML.format(enc="UTF-8", doctype=doctype, name="&e;"))
    with pytest.raises(InputError, match="not accepted"):
        load_any(p)


def test_xml_depth_limit(tmp_path):
    depth = 30_000
    p = tmp_path / "k.xml"
    p.write_text("<Scenario>" + "<a>" * depth + "</a>" * depth + "</Scenario>")
    with pytest.raises(InputError) as e:
        load_any(p)
    assert "XML too large: elements nested more than 100 levels deep" in one_line(e.value)


def test_xml_text_is_joined_once():
    # 200,000 character references arrive as 200,000 pieces of text; joined once, in order.
    from stakes.errors import DiagnosticList
    from stakes.readers.ktab import _parse_xml_tree

    data = KTAB_XML.format(enc="UTF-8", doctype="", name="&#65;&#66;" * 100_000).encode()
    root = _parse_xml_tree(data, DiagnosticList("k.xml"))
    assert root.all("name")[0].text == "AB" * 100_000


def test_ktab_csv_with_many_trailing_commas(tmp_path):
    p = tmp_path / "k.csv"
    p.write_text("s, d, 3, 1\nA, D, C, x Position, x Salience" + "," * 90_000 + "\n")
    with pytest.raises(InputError) as e:
        load_any(p)
    assert len(e.value.lines()) >= 1


# --------------------------------------------------------------------------
# output


def test_write_to_a_fifo_writes_in_place(tmp_path):
    fifo = tmp_path / "out.json"
    os.mkfifo(fifo)
    got: list[bytes] = []

    def reader() -> None:
        with open(fifo, "rb") as fh:
            got.append(fh.read())

    t = threading.Thread(target=reader)
    t.start()
    # the reader opens the FIFO within moments; wait for it rather than race it
    for _ in range(200):
        try:
            write_output(fifo, "hello\n")
            break
        except OptionError:
            threading.Event().wait(0.01)
    t.join(timeout=10)
    assert got == [b"hello\n"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temporary file left


def test_fifo_without_reader_is_a_clean_error(tmp_path):
    fifo = tmp_path / "out.json"
    os.mkfifo(fifo)
    with pytest.raises(OptionError, match=f"{fifo}: cannot write"):
        write_output(fifo, "x")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_symlink_stays_a_symlink(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old\n")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    write_output(link, "new\n")
    assert link.is_symlink() and real.read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.txt", "real.txt"]


def test_symlink_to_a_fifo_is_written_in_place(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "out"
    link.symlink_to(fifo)
    with pytest.raises(OptionError):  # no reader: refused, and nothing replaced
        write_output(link, "x")
    assert link.is_symlink() and stat.S_ISFIFO(os.stat(link).st_mode)


def test_regular_file_is_replaced_atomically_keeping_its_mode(tmp_path):
    p = tmp_path / "out.txt"
    p.write_text("old")
    p.chmod(0o640)
    write_output(p, "new")
    assert p.read_text() == "new" and stat.S_IMODE(p.stat().st_mode) == 0o640


def test_directory_and_impossible_targets_are_clean_errors(tmp_path):
    with pytest.raises(OptionError, match="is a directory"):
        write_output(tmp_path, "x")
    f = tmp_path / "file"
    f.write_text("keep")
    with pytest.raises(OptionError, match="cannot"):
        write_output(f / "below.txt", "x")  # a file where a folder should be
    assert f.read_text() == "keep"


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.run([sys.executable, "-m", "stakes.cli.main", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def null_device(folder: Path) -> Path:
    """A character device like /dev/null inside ``folder`` (mknod needs root); else a
    symlink to /dev/null, which the writer must follow and leave as it is."""
    dev = folder / "null"
    try:
        os.mknod(dev, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except (PermissionError, AttributeError):
        dev.symlink_to("/dev/null")
    return dev


def test_cli_output_to_devices_fifo_symlink_and_directory(tmp_path):
    """``-o`` naming a character device leaves it a device (a private copy of /dev/null
    made with mknod, or a symlink to /dev/null without root); a symlink to it stays a
    symlink; a FIFO without a reader is not replaced; a directory is a one-line error."""
    dev = null_device(tmp_path)
    base = ["run", str(EXAMPLE), "--no-save", "--no-levers", "-f", "json"]
    r = cli(*base, "-o", str(dev), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert stat.S_ISCHR(os.stat(dev).st_mode)
    link = tmp_path / "link"
    link.symlink_to(dev)
    r = cli(*base, "-o", str(link), cwd=tmp_path)
    assert r.returncode == 0 and link.is_symlink() and stat.S_ISCHR(os.stat(link).st_mode)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    r = cli(*base, "-o", str(fifo), cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    r = cli(*base, "-o", str(tmp_path), cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr == f"error: {tmp_path}: is a directory; give the output file's name\n"
    r = cli("convert", str(EXAMPLE), str(dev), cwd=tmp_path)
    assert r.returncode == 0 and stat.S_ISCHR(os.stat(dev).st_mode)
    if os.path.exists("/dev/full"):
        r = cli("convert", str(EXAMPLE), "/dev/full", cwd=tmp_path)
        assert r.returncode == 2 and "No space left on device" in r.stderr
        assert stat.S_ISCHR(os.lstat("/dev/full").st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo", "link", "null"]


def test_yaml_error_position_with_carriage_return_line_breaks(tmp_path):
    # found by the fuzz suite (seed 1, file 501): libyaml counts a lone CR as a line break
    p = tmp_path / "s.yaml"
    p.write_bytes(b"# c\rstakes: 1\rmetadata:\r\tname: x\r")
    with pytest.raises(InputError) as e:
        load_any(p)
    assert one_line(e.value) == (f"{p}:4:1: invalid YAML: found character '\\t' that cannot "
                                 "start any token")


def test_ktab_xml_actor_without_position_and_salience(tmp_path):
    # found by the fuzz suite (seed 3, files 28,479 and 40,580): a one-dimension scenario
    # whose actor lacks <Salience> raised IndexError
    from stakes.fuzz import SEEDS

    text = SEEDS["ktab-xml"][1]().decode()
    start = text.index("<Position>", text.index("<name>C</name>"))
    end = text.index("</Salience>", start) + len("</Salience>")
    p = tmp_path / "k.xml"
    p.write_text(text[:start] + text[end:])
    with pytest.raises(InputError) as e:
        load_any(p)
    assert [ln.split(": ", 2)[1:] for ln in e.value.lines()] == [
        ["Scenario/Actors/Actor[3]/Position", "missing required element <Position>"],
        ["Scenario/Actors/Actor[3]/Salience", "missing required element <Salience>"]]
