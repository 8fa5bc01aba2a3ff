"""Reader of decide's tab-separated input (spec §7): bad inputs, reference files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stakes.errors import InputError
from stakes.readers.decide import decide_to_problem, read_decide

REFERENCE = (Path(__file__).parents[2] / ".." / "shared" / "reference").resolve()
DECIDE = REFERENCE / "decide-exchange-model"

HEADER = (
    "'#A'\t'a1'\t'Actor one'\t''\n"
    "'#A'\t'a2'\t'Actor two'\t''\n"
    "'#P'\t'i1'\t'Issue one'\t'first'\n"
    "'#M'\t'i1'\t0\n"
    "'#M'\t'i1'\t100\n"
    "'#P'\t'i2'\t'Issue two'\t'second'\n"
    "'#M'\t'i2'\t0.5\t'low'\n"
    "'#M'\t'i2'\t7\t'high'\n"
)
GOOD_ROWS = (
    "'#D'\t'a1'\t'i1'\t100.0\t0.95\t1.0\n"
    "'#D'\t'a1'\t'i2'\t3.0\t0.7\t1.0\n"
    "'#D'\t'a2'\t'i1'\t25.0\t0.8\t0.5\n"
)
FIRST_D = HEADER.count("\n") + 1  # line number of the first #D row


def _write(tmp_path: Path, text: str | bytes, name: str = "in.txt") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _errors(path: Path, **kw) -> list[str]:
    with pytest.raises(InputError) as exc:
        read_decide(path, **kw)
    return exc.value.lines()


def _one_error(path: Path, **kw) -> str:
    lines = _errors(path, **kw)
    assert len(lines) == 1, lines
    return lines[0]


# --------------------------------------------------------------------- good input


def test_small_file_reads_and_keeps_decimal_text(tmp_path):
    ds = read_decide(_write(tmp_path, HEADER + GOOD_ROWS))
    assert [a.id for a in ds.actors] == ["a1", "a2"]
    assert [a.name for a in ds.actors] == ["Actor one", "Actor two"]
    assert [i.id for i in ds.issues] == ["i1", "i2"]
    i2 = ds.issues[1]
    assert (i2.name, i2.description, i2.lo, i2.hi) == ("Issue two", "second", "0.5", "7")
    assert i2.points == [("0.5", "low"), ("7", "high")]
    assert ds.entries[1] == ("a1", "i2", "3.0", "0.7", "1.0", FIRST_D + 1)
    pb = decide_to_problem(ds)
    assert pb.actor_ids == ("a1", "a2") and pb.issue_ids == ("i1", "i2")
    assert np.isnan(pb.position[1, 1]) and np.isnan(pb.salience[1, 1])
    np.testing.assert_array_equal(pb.lo, [0, 0.5])
    np.testing.assert_array_equal(pb.hi, [100, 7])


def test_comments_double_quotes_bom_crlf_and_defaults(tmp_path):
    text = (
        "\ufeff#/\tcomment row\r\n"
        "#O\tcolumn\ttitles\r\n"
        '"#A"\t"x"\t""\r\n'
        "#A\ty\tY\r\n"
        "#P\tp\r\n"
        "#P\tq\tQ\tsome\tlong description\r\n"
        "\r\n"
        "#D\tx\tp\t10\t0.5\t1\r\n"
        "#D\ty\tq\t20\t0.5\t1\t\r\n"
    )
    ds = read_decide(_write(tmp_path, text))
    assert [(a.id, a.name) for a in ds.actors] == [("x", "x"), ("y", "Y")]
    p, q = ds.issues
    assert (p.name, p.lo, p.hi, p.points) == ("p", "0", "100", [])
    assert q.description == "some long description"
    assert [e.line for e in ds.entries] == [8, 9]


def test_duplicate_rows_last_follows_decide(tmp_path):
    text = HEADER + GOOD_ROWS + "'#D'\t'a1'\t'i1'\t50\t0.5\t1\n"
    ds = read_decide(_write(tmp_path, text), duplicates="last")
    assert len(ds.entries) == 3
    assert ds.entries[0] == ("a1", "i1", "50", "0.5", "1", FIRST_D + 3)  # in the first row's place


# --------------------------------------------------------------------- bad input


def test_missing_file(tmp_path):
    line = _one_error(tmp_path / "nope.txt")
    assert line.startswith(str(tmp_path / "nope.txt")) and "no such file" in line


@pytest.mark.parametrize("text", ["", "   \n\n\t\n"])
def test_empty_file(tmp_path, text):
    path = _write(tmp_path, text)
    assert _one_error(path) == f"{path}: file is empty"


def test_truncated_row(tmp_path):
    path = _write(tmp_path, HEADER + "'#D'\t'a1'\t'i1'\t100.0\n")
    line = _one_error(path)
    assert line.startswith(f"{path}:{FIRST_D}:")
    assert "#D.salience:" in line
    assert "truncated row: #D needs 5 fields" in line and "missing salience, power" in line


def test_truncated_actor_row(tmp_path):
    path = _write(tmp_path, "#A\n" + HEADER + GOOD_ROWS)
    line = _one_error(path)
    assert line.startswith(f"{path}:1:") and "#A.id:" in line and "truncated row" in line


@pytest.mark.parametrize(
    "position, message",
    [
        ("abc", "not a number: 'abc'"),
        ("12,5", "use '.' as the decimal separator"),
        ("nan", "not a finite number: 'nan'"),
        ("-inf", "not a finite number: '-inf'"),
        ("", "missing number"),
        ("1e20", "too large"),
    ],
)
def test_bad_position_numbers(tmp_path, position, message):
    path = _write(tmp_path, HEADER + f"'#D'\t'a1'\t'i1'\t{position}\t0.5\t1.0\n")
    line = _one_error(path)
    col = len("'#D'\t'a1'\t'i1'\t") + 1
    assert line.startswith(f"{path}:{FIRST_D}:{col}: #D.position:"), line
    assert message in line


def test_salience_outside_unit_interval(tmp_path):
    path = _write(tmp_path, HEADER + "'#D'\t'a1'\t'i1'\t50\t1.5\t1.0\n")
    line = _one_error(path)
    col = len("'#D'\t'a1'\t'i1'\t50\t") + 1
    assert line == f"{path}:{FIRST_D}:{col}: #D.salience: salience 1.5 outside [0, 1]"


def test_negative_power(tmp_path):
    path = _write(tmp_path, HEADER + "'#D'\t'a1'\t'i1'\t50\t0.5\t-0.2\n")
    line = _one_error(path)
    assert line.endswith("#D.power: power -0.2 is negative")
    assert line.startswith(f"{path}:{FIRST_D}:")


def test_nan_salience_and_inf_power(tmp_path):
    path = _write(tmp_path, HEADER + "'#D'\t'a1'\t'i1'\t50\tNaN\tinf\n")
    lines = _errors(path)
    assert any("#D.salience: not a finite number: 'NaN'" in x for x in lines)
    assert any("#D.power: not a finite number: 'inf'" in x for x in lines)


def test_position_outside_scale(tmp_path):
    path = _write(tmp_path, HEADER + "'#D'\t'a1'\t'i2'\t8\t0.5\t1\n")
    line = _one_error(path)
    assert "#D.position: position 8 outside the scale [0.5, 7] of issue 'i2'" in line


def test_unknown_actor_and_issue(tmp_path):
    path = _write(
        tmp_path,
        HEADER + "'#D'\t'zz'\t'i1'\t50\t0.5\t1\n'#D'\t'a1'\t'nope'\t50\t0.5\t1\n"
        "'#M'\t'ghost'\t5\n",
    )
    lines = _errors(path)
    assert len(lines) == 3
    assert f"{path}:{FIRST_D}:6: #D.actor: unknown actor 'zz' (no #A row defines it)" in lines
    assert any(
        x.startswith(f"{path}:{FIRST_D + 1}:") and "#D.issue: unknown issue 'nope'" in x
        for x in lines
    )
    assert any(x.startswith(f"{path}:{FIRST_D + 2}:") and "#M.issue" in x for x in lines)


def test_duplicate_ids(tmp_path):
    path = _write(tmp_path, HEADER + "'#A'\t'a1'\t'again'\n'#P'\t'i2'\t'again'\n" + GOOD_ROWS)
    lines = _errors(path)
    assert any(
        x.startswith(f"{path}:{FIRST_D}:") and "#A.id: duplicate actor id 'a1' (first defined "
        "on line 1)" in x for x in lines
    )
    assert any("#P.id: duplicate issue id 'i2' (first defined on line 6)" in x for x in lines)


def test_duplicate_actor_issue_row(tmp_path):
    path = _write(tmp_path, HEADER + GOOD_ROWS + "'#D'\t'a1'\t'i1'\t50\t0.5\t1\n")
    line = _one_error(path)
    assert line.startswith(f"{path}:{FIRST_D + 3}:")
    assert "second #D row for actor 'a1' on issue 'i1' (first on line" in line


def test_scale_without_range(tmp_path):
    text = "#A\ta\tA\n#P\tp\n#M\tp\t5\n#M\tp\t5\n#D\ta\tp\t5\t0.5\t1\n"
    line = _one_error(_write(tmp_path, text))
    assert ":2: #M.point: issue 'p': the #M points span no range" in line


def test_unknown_code_and_semicolons(tmp_path):
    path = _write(tmp_path, "#X\tfoo\n'#A';'a';'b'\n" + HEADER + GOOD_ROWS)
    lines = _errors(path)
    assert lines[0].startswith(f"{path}:1:1: code: unknown row code '#X'")
    assert lines[1] == f"{path}:2:1: code: fields must be separated by tabs, not ';'"


def test_unterminated_quote(tmp_path):
    path = _write(tmp_path, HEADER + "'#D'\t'a1\t'i1'\t50\t0.5\t1\n")
    line = _one_error(path)
    assert line == f"{path}:{FIRST_D}:6: unterminated ' quote"


def test_binary_junk(tmp_path):
    path = _write(tmp_path, b"#A\ta\tA\n\x00\x01\x02garbage\xff\n")
    assert _one_error(path) == f"{path}:2:1: binary data (NUL byte); not a decide text file"
    path = _write(tmp_path, b"#A\ta\tA\n#P\tp\xff\xfe\n", name="latin.txt")
    assert _one_error(path) == f"{path}:2:5: not UTF-8 text (byte 0xff); save the file as UTF-8"
    path = _write(tmp_path, "#A\ta\tA\n#P\tp\x07\n", name="ctrl.txt")
    assert "2:5: binary or control character '\\x07'" in _one_error(path)


def test_no_entries(tmp_path):
    line = _one_error(_write(tmp_path, HEADER))
    assert "#D: no actor-issue rows (#D rows)" in line


def test_all_problems_reported_at_once(tmp_path):
    path = _write(
        tmp_path,
        HEADER
        + "'#D'\t'a1'\t'i1'\tx\t0.5\t1\n"
        + "'#D'\t'a2'\t'i1'\t50\t2\t1\n"
        + "'#D'\t'a2'\t'i2'\t5\t0.5\t-1\n",
    )
    lines = _errors(path)
    assert len(lines) == 3
    assert [int(x.split(":")[1]) for x in lines] == [FIRST_D, FIRST_D + 1, FIRST_D + 2]


def test_text_argument(tmp_path):
    ds = read_decide("memory.txt", text=HEADER + GOOD_ROWS)
    assert ds.source == "memory.txt" and len(ds.entries) == 3
    with pytest.raises(InputError, match=r"^memory\.txt:\d+:\d+: #D\.salience:"):
        read_decide("memory.txt", text=HEADER + "'#D'\t'a1'\t'i1'\t50\t7\t1\n")


# --------------------------------------------------------------------- reference files

COUNTS = {  # actors, issues, #D rows (spec §7)
    "sample_data.txt": (10, 6, 60),
    "copenhagen.csv": (11, 7, 75),
    "cop21.csv": (15, 13, 181),
}


@pytest.mark.parametrize("name", list(COUNTS))
def test_reference_files(name):
    path = DECIDE / name
    if not path.exists():
        pytest.skip(f"reference input not available: {path} (needs ../shared/reference)")
    ds = read_decide(path)
    n, d, rows = COUNTS[name]
    assert (len(ds.actors), len(ds.issues), len(ds.entries)) == (n, d, rows)
    pb = decide_to_problem(ds)
    assert pb.position.shape == (n, d)
    assert int(np.isnan(pb.position).sum()) == n * d - rows
    for e in ds.entries:  # the float's shortest repr gives back the file's decimal text
        assert repr(float(e.position)) == e.position
        assert repr(float(e.salience)) == e.salience
        assert repr(float(e.power)) == e.power


def test_sample_data_scale():
    path = DECIDE / "sample_data.txt"
    if not path.exists():
        pytest.skip(f"reference input not available: {path} (needs ../shared/reference)")
    ds = read_decide(path)
    toll = {i.id: i for i in ds.issues}["tol-hoogte"]
    assert (toll.lo, toll.hi) == ("0.5", "7")
    assert ds.entries[1] == ("Willems", "tol-hoogte", "3.0", "0.7", "1.0", 30)
