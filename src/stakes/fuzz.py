"""A seeded generator of malformed input files for every format, and the checks they must pass.

``generate(seed, index)`` returns one file (a name and its bytes) that depends on nothing
but ``(seed, index)``: a valid example of one of the six formats put through one to four
mutations (bytes flipped, lines repeated or cut, numbers replaced by ``nan``, ``1e400``,
denormals and text, separators piled up, YAML tags and alias bombs, XML DTDs, entities,
deep nesting and odd encodings...), or, for one file in eight, a targeted file built to
hit a limit (huge lists and strings, deep nesting, entity expansion).

``check_file(path)`` loads a file the way ``stakes run`` does and then, when it is
accepted, runs the default models under every lever; the outcome is one of

* ``accepted``: every forecast is a finite number;
* ``refused``: a :class:`~stakes.errors.StakesError` whose every line is one
  ``file[:line[:column]]: [field:] message`` line naming the file;
* ``traceback``: any other exception (a defect);
* ``bad-refusal``: a refusal whose lines do not have that form (a defect);
* ``nan``: an accepted file whose results hold NaN, null or inf (a defect);
* ``hang``: the file took longer than the time limit (a defect);
* ``memory``: the file needed more than the memory cap (a defect).

``python -m stakes.fuzz --count N`` runs the check over ``N`` generated files in worker
processes, each with its address space capped, and prints the counts (docs/limits.md).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Callable

DEFECTS = ("traceback", "bad-refusal", "nan", "hang", "memory")

# --------------------------------------------------------------------------
# valid examples, one per format


def _yaml_seed() -> bytes:
    text = (resources.files("stakes.data.scenarios") / "ec-emissions.yaml").read_text("utf-8")
    return (text + "levers:\n- id: uk_moves\n  name: UK moves\n  round: 1\n  effects:\n"
            "  - actor: UK\n    position: {set: 6}\n  - {remove_actor: GR}\n"
            "plans:\n- id: p\n  name: P\n  steps:\n  - {lever: uk_moves}\n"
            "options:\n  eum:\n    Q: 0.5\n").encode()


SEEDS: dict[str, tuple[str, Callable[[], bytes]]] = {
    "stakes-yaml": (".yaml", _yaml_seed),
    "bdm-csv": (".csv", lambda: (
        "Actor,Capability,Position,Salience\nNL,0.08,4,0.8\nBE,0.08,7,0.4\nLU,0.03,4,0.2\n"
        "DE,0.16,4,0.8\nFR,0.16,10,0.6\nIT,0.16,10,0.6\nUK,0.16,10,0.9\n").encode()),
    "dm-tsv": (".tsv", lambda: (
        "Name\tx\tc\ts\nNL\t4\t8\t80\nBE\t7\t8\t40\nLU\t4\t3\t20\nDE\t4\t16\t80\n"
        "FR\t10\t16\t60\n").encode()),
    "ktab-csv": (".csv", lambda: (
        "Test,Three actors,4,2,\nActor,Description,Power,Tax Position,Tax Salience,"
        "Aid Position,Aid Salience,\nA,first,10,20,50,30,20,\nB,second,20,40,60,10,30,\n"
        "C,third,30,80,30,70,30,\nD,fourth,15,55,40,45,40,\n").encode()),
    "ktab-xml": (".xml", lambda: (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Scenario>\n  <name>T</name>\n'
        "  <desc>d</desc>\n  <prngSeed>42</prngSeed>\n  <ModelParameters>\n"
        "    <VictoryProbModel>Linear</VictoryProbModel>\n"
        "    <PCEModel>Conditional</PCEModel>\n"
        "    <StateTransitions>Deterministic</StateTransitions>\n"
        "    <VotingRule>Proportional</VotingRule>\n"
        "    <BigRAdjust>OneThird</BigRAdjust>\n    <BigRRange>Min</BigRRange>\n"
        "    <ThirdPartyCommit>SemiCommit</ThirdPartyCommit>\n"
        "    <InterVecBrgn>S2P2</InterVecBrgn>\n    <BargnModel>InitOnlyInterp</BargnModel>\n"
        "  </ModelParameters>\n  <Dimensions>\n    <dName>Dim</dName>\n  </Dimensions>\n"
        "  <Actors>\n" + "".join(
            f"    <Actor>\n      <name>{n}</name>\n      <description>{n}</description>\n"
            f"      <capability>{c}</capability>\n      <Position>\n        <dCoord>{p}"
            f"</dCoord>\n      </Position>\n      <Salience>\n        <dSal>{s}</dSal>\n"
            "      </Salience>\n    </Actor>\n"
            for n, c, p, s in (("A", 10, 20, 50), ("B", 20, 40, 60), ("C", 30, 80, 70)))
        + "  </Actors>\n  <IdealAdjustment>\n    <iaPair>\n      <adjustingIdeal>A"
        "</adjustingIdeal>\n      <referencePos>A</referencePos>\n      <adjust>0.9</adjust>\n"
        "    </iaPair>\n    <iaPair>\n      <adjustingIdeal>A"
        "</adjustingIdeal>\n      <referencePos>B</referencePos>\n      <adjust>0.1</adjust>\n"
        "    </iaPair>\n  </IdealAdjustment>\n</Scenario>\n").encode()),
    "decide-tsv": (".txt", lambda: (
        "'#A'\t'a'\t'A'\n'#A'\t'b'\t'B'\n'#A'\t'c'\t'C'\n'#P'\t'i'\t'I'\t''\n"
        "'#P'\t'j'\t'J'\t''\n'#M'\t'i'\t0\t'low'\n'#M'\t'i'\t100\t'high'\n'#M'\t'j'\t0\n"
        "'#M'\t'j'\t100\n'#D'\t'a'\t'i'\t10\t0.5\t1\n'#D'\t'b'\t'i'\t90\t0.5\t1\n"
        "'#D'\t'c'\t'i'\t40\t0.7\t2\n'#D'\t'a'\t'j'\t60\t0.5\t1\n'#D'\t'b'\t'j'\t20\t0.4\t1\n"
        "'#D'\t'c'\t'j'\t80\t0.3\t2\n").encode()),
}

# --------------------------------------------------------------------------
# mutations

NUMBERS = ["nan", "NaN", "inf", "-inf", "Infinity", "1e308", "1e400", "-1e400", "-1", "0",
           "-0", "1e-320", "5e-324", "2.2250738585072014e-308", "99999999999999999999999",
           "0x10", "1_000", "", " ", ".", "1e", "+.e1", "١٢", "½", "1,5", "1.8", "101",
           "-0.0000001", "3.4.5", "1e-9", "0.999999999999999999", "18446744073709551616"]
TEXT = ["", " ", "\t", '"', "'", "\"\"", "''", "\\", "#", "&", "*", "!", "%", "@", "`", "|",
        ">", "<", "{", "}", "[", "]", ":", "- ", ",", ";", "\x0b", "\x0c", "\r", "\x85",
        "\u2028", "\ufeff", "\u202e", "é", "日本", "😀", "\udcff", "null", "~", "true", "NO",
        "yes", "2020-02-30", "<!--", "]]>", "&amp;", "&#0;", "&#x110000;", "&lt;"]
YAML_TAGS = ["!!bool", "!!int", "!!float", "!!null", "!!str", "!!set", "!!omap", "!!pairs",
             "!!binary", "!!timestamp", "!!map", "!!seq", "!!merge", "!foo", "!",
             "!!python/object:os.system", "!!python/name:os.system", "!<tag:x.org,1:y>"]


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def _pick_line(rng: random.Random, data: bytes) -> tuple[list[bytes], int]:
    lines = _lines(data)
    return lines, rng.randrange(len(lines))


def m_flip(rng, data, fmt):
    if not data:
        return bytes([rng.randrange(256)])
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        b[rng.randrange(len(b))] = rng.randrange(256)
    return bytes(b)


def m_insert_bytes(rng, data, fmt):
    at = rng.randint(0, len(data))
    junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    return data[:at] + junk + data[at:]


def m_delete_span(rng, data, fmt):
    if len(data) < 2:
        return b""
    a = rng.randrange(len(data))
    return data[:a] + data[a + rng.randint(1, min(400, len(data) - a)):]


def m_duplicate_span(rng, data, fmt):
    if not data:
        return data
    a = rng.randrange(len(data))
    span = data[a:a + rng.randint(1, 200)]
    return data[:a] + span * rng.choice([2, 3, 10, 100, 1000]) + data[a:]


def m_truncate(rng, data, fmt):
    return data[:rng.randint(0, len(data))]


def m_nul(rng, data, fmt):
    at = rng.randint(0, len(data))
    return data[:at] + b"\x00" + data[at:]


def m_encoding(rng, data, fmt):
    text = data.decode("utf-8", "replace")
    how = rng.choice(["utf-16", "utf-16-le", "utf-32", "latin-1-e", "bom", "bom-twice",
                      "crlf", "cr", "surrogate"])
    if how == "latin-1-e":
        return data.replace(b"e", b"\xe9", rng.randint(1, 5))
    if how == "bom":
        return b"\xef\xbb\xbf" + data
    if how == "bom-twice":
        return b"\xef\xbb\xbf\xef\xbb\xbf" + data
    if how == "crlf":
        return data.replace(b"\n", b"\r\n")
    if how == "cr":
        return data.replace(b"\n", b"\r")
    if how == "surrogate":
        return data + b"\xed\xa0\x80"
    return text.encode(how)


def m_number(rng, data, fmt):
    matches = list(re.finditer(rb"(?<![\w.])[+-]?\d+(\.\d+)?([eE][+-]?\d+)?(?![\w.])", data))
    if not matches:
        return m_flip(rng, data, fmt)
    m = rng.choice(matches)
    return data[:m.start()] + rng.choice(NUMBERS).encode() + data[m.end():]


def m_token(rng, data, fmt):
    matches = list(re.finditer(rb"[A-Za-z_]+", data))
    if not matches:
        return m_flip(rng, data, fmt)
    m = rng.choice(matches)
    repl = rng.choice(TEXT + ["A" * rng.choice([26, 201, 5000, 100_000])])
    return data[:m.start()] + repl.encode("utf-8", "surrogatepass") + data[m.end():]


def m_lines(rng, data, fmt):
    lines, k = _pick_line(rng, data)
    how = rng.choice(["delete", "duplicate", "swap", "shuffle", "repeat", "blank", "reverse"])
    if how == "delete":
        del lines[k]
    elif how == "duplicate":
        lines.insert(k, lines[k])
    elif how == "swap":
        j = rng.randrange(len(lines))
        lines[k], lines[j] = lines[j], lines[k]
    elif how == "shuffle":
        rng.shuffle(lines)
    elif how == "repeat":
        lines[k:k + 1] = [lines[k]] * rng.choice([5, 50, 300, 3000])
    elif how == "blank":
        lines.insert(k, rng.choice([b"", b" ", b"\t", b"#", b",,,,"]))
    else:
        lines.reverse()
    return b"\n".join(lines)


def m_separators(rng, data, fmt):
    lines, k = _pick_line(rng, data)
    sep = rng.choice([b",", b"\t", b";", b"|", b" ", b"\"", b"'", b":"])
    n = rng.choice([1, 2, 10, 1000, 20_000])
    where = rng.choice(["end", "start", "middle"])
    if where == "end":
        lines[k] = lines[k] + sep * n
    elif where == "start":
        lines[k] = sep * n + lines[k]
    else:
        mid = len(lines[k]) // 2
        lines[k] = lines[k][:mid] + sep * n + lines[k][mid:]
    return b"\n".join(lines)


def m_swap_separator(rng, data, fmt):
    a, b = rng.sample([b",", b"\t", b";", b" ", b"\n"], 2)
    return data.replace(a, b)


def m_yaml(rng, data, fmt):
    how = rng.choice(["tag", "tag", "tag", "anchor", "bomb", "flow", "indent", "merge",
                      "dupkey", "doc", "directive", "long"])
    spots = [m.end() for m in re.finditer(rb": |- ", data)]
    at = rng.choice(spots) if spots else 0
    if how == "tag":
        return data[:at] + rng.choice(YAML_TAGS).encode() + b" " + data[at:]
    if how == "anchor":
        return data[:at] + b"&a " + data[at:] + b"\nx: *a\ny: *nope\n"
    if how == "bomb":
        k = rng.randint(5, 30)
        bomb = "a0: &a0 [x, x]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]\n"
                                            for i in range(1, k))
        return bomb.encode() + data
    if how == "flow":
        k = rng.choice([5, 50, 150, 5000])
        return data[:at] + b"[" * k + b"1" + b"]" * rng.choice([k, 0, k // 2]) + data[at:]
    if how == "indent":
        lines, i = _pick_line(rng, data)
        lines[i] = b" " * rng.choice([1, 3, 50, 500]) + lines[i]
        return b"\n".join(lines)
    if how == "merge":
        return data[:at] + b"{<<: [1, 2]}" + data[at:]
    if how == "dupkey":
        return data + b"\nstakes: 1\n"
    if how == "doc":
        return data + b"\n---\n" + data
    if how == "directive":
        return rng.choice([b"%YAML 1.1\n---\n", b"%TAG ! tag:x.org,1:\n---\n", b"%YAML 9\n"]) \
            + data
    return data[:at] + b"'" + b"x" * rng.choice([300, 100_000]) + b"'" + data[at:]


def m_xml(rng, data, fmt):
    how = rng.choice(["doctype", "entity", "external", "deep", "encoding", "encoding",
                      "charref", "cdata", "pi", "attr", "unclosed", "rename", "comment"])
    body = data.split(b"\n", 1)[-1] if data.startswith(b"<?xml") else data
    if how == "doctype":
        return b"<!DOCTYPE Scenario>\n" + body
    if how == "entity":
        k = rng.randint(2, 8)
        ents = '<!ENTITY e0 "' + "x" * 100 + '">' + "".join(
            f'<!ENTITY e{i} "' + f"&e{i - 1};" * 10 + '">' for i in range(1, k))
        return (f"<!DOCTYPE Scenario [{ents}]>\n".encode()
                + body.replace(b"<name>T</name>", f"<name>&e{k - 1};</name>".encode()))
    if how == "external":
        return (b'<!DOCTYPE Scenario [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
                + body.replace(b"<desc>d</desc>", b"<desc>&x;</desc>"))
    if how == "deep":
        k = rng.choice([50, 150, 5000, 30_000])
        return body.replace(b"<desc>d</desc>", b"<desc>" + b"<a>" * k + b"</a>" * k
                            + b"</desc>")
    if how == "encoding":
        enc = rng.choice(["foo-bar", "UTF-16", "ISO-8859-1", "cp500", "utf-7", "EBCDIC",
                          "ascii", "", "UTF-8\x00", "x" * 300])
        return f'<?xml version="1.0" encoding="{enc}"?>\n'.encode("utf-8", "replace") + body
    if how == "charref":
        ref = rng.choice([b"&#0;", b"&#x110000;", b"&#65;" * 1000, b"&#xD800;", b"&bogus;"])
        return data.replace(b"<name>T</name>", b"<name>" + ref + b"</name>")
    if how == "cdata":
        return data.replace(b"<dCoord>20</dCoord>", b"<dCoord><![CDATA[20]]></dCoord>")
    if how == "pi":
        return data.replace(b"<Actors>", b"<?php echo 1; ?><Actors>")
    if how == "attr":
        return data.replace(b"<Actor>", b'<Actor id="1" id2="' + b"x" * 1000 + b'">', 1)
    if how == "unclosed":
        return data.replace(b"</Actors>", b"", 1)
    if how == "rename":
        return data.replace(b"dSal", b"dsal", 1)
    return data.replace(b"<Actors>", b"<!-- " + b"-" * 10 + b" --><Actors>")


TEXT_MUTATORS = [m_number, m_number, m_number, m_token, m_lines, m_lines, m_separators,
                 m_swap_separator]
BYTE_MUTATORS = [m_flip, m_insert_bytes, m_delete_span, m_duplicate_span, m_truncate, m_nul,
                 m_encoding]

# --------------------------------------------------------------------------
# targeted files: each built to reach one limit


def t_yaml_long_list(rng):
    n = rng.choice([10_000, 60_000, 150_000])
    return ".yaml", b"stakes: 1\nactors: [" + b",".join([b"1"] * n) + b"]\n"


def t_yaml_block_list(rng):
    n = rng.choice([10_000, 60_000, 150_000])
    return ".yaml", b"stakes: 1\nactors:\n" + b"- 1\n" * n


def t_yaml_long_string(rng):
    n = rng.choice([10**5, 10**6, 10**7])
    return ".yaml", _yaml_seed().replace(b"name: EC car", b"name: " + b"x" * n, 1)


def t_yaml_deep(rng):
    k = rng.choice([200, 2000, 20_000])
    return ".yaml", b"stakes: 1\na:\n" + b"".join(b" " * (2 * i) + b"- \n" for i in range(k))


def entity_xml(levels: int = 6, fan: int = 10) -> bytes:
    """A KTAB XML scenario of ~450 bytes whose nested entities expand to
    ``10 * fan**levels`` characters: the upload that must not stall a server."""
    ents = ['<!ENTITY e0 "xxxxxxxxxx">']
    ents += [f'<!ENTITY e{k} "' + f"&e{k - 1};" * fan + '">' for k in range(1, levels + 1)]
    return ('<?xml version="1.0"?>\n<!DOCTYPE Scenario [\n' + "\n".join(ents) + "\n]>\n"
            f"<Scenario><name>&e{levels};</name><desc>d</desc></Scenario>\n").encode()


def large_ktab_csv(n: int, m: int, seed: int = 0, name: str = "long") -> bytes:
    """A valid KTAB CSV scenario of ``n`` actors on ``m`` issues with random values: work
    that is legitimate but long (an EUM run on 250 x 20 takes about a minute)."""
    rng = random.Random(seed)
    lines = [f"{name},generated,{n},{m}",
             "Actor,Description,Power," + ",".join(f"D{j} Position,D{j} Salience"
                                                   for j in range(m))]
    for i in range(n):
        sal = [rng.random() for _ in range(m)]
        total = sum(sal)
        lines.append(f"A{i},actor {i},{rng.randint(1, 99)}," + ",".join(
            f"{rng.randint(0, 99)},{90 * v / total:.2f}" for v in sal))
    return ("\n".join(lines) + "\n").encode()


def t_xml_deep(rng):
    k = rng.choice([20_000, 40_000])
    return ".xml", b"<Scenario>" + b"<a>" * k + b"</a>" * k + b"</Scenario>"


def t_xml_bomb(rng):
    ents = '<!ENTITY a "' + "x" * 1000 + '">' + "".join(
        f'<!ENTITY {c} "' + f"&{p};" * 10 + '">' for p, c in zip("abcd", "bcde"))
    return ".xml", (f'<?xml version="1.0"?><!DOCTYPE Scenario [{ents}]>'
                    "<Scenario><name>&e;</name></Scenario>").encode()


def t_ktab_commas(rng):
    n = rng.choice([10_000, 100_000])
    return ".csv", SEEDS["ktab-csv"][1]().replace(b"Aid Salience,", b"Aid Salience," * 1 +
                                                  b"," * n, 1)


def t_csv_many_rows(rng):
    n = rng.choice([400, 600, 40_000, 120_000])
    rows = b"".join(b"A%d,1,%d,0.5\n" % (i, i % 100) for i in range(n))
    return ".csv", b"Actor,Capability,Position,Salience\n" + rows


def t_decide_many(rng):
    n = rng.choice([300, 5000])  # 5000: over the actor limit
    head = b"".join(b"'#A'\t'a%d'\t'A'\n" % i for i in range(n))
    rows = b"".join(b"'#D'\t'a%d'\t'i'\t%d\t0.5\t1\n" % (i, i % 100) for i in range(n))
    return ".txt", head + b"'#P'\t'i'\t'I'\t''\n'#M'\t'i'\t0\n'#M'\t'i'\t100\n" + rows


def t_nonfinite_scenario(rng):
    # a valid file whose numbers push the models to their edges
    text = SEEDS["bdm-csv"][1]()
    value = rng.choice([b"1e-320", b"5e-324", b"0", b"1e-300", b"0.0000001"])
    return ".csv", re.sub(rb",0\.\d\n", b"," + value + b"\n", text)


def t_remove_everyone(rng):
    text = _yaml_seed().decode()
    ids = re.findall(r"\{id: (\w+),", text)
    gone = ids[:rng.randint(len(ids) - 2, len(ids))]
    effects = "".join(f"  - {{remove_actor: {a}}}\n" for a in gone)
    lever = f"- id: gone\n  name: Gone\n  round: {rng.randint(0, 3)}\n  effects:\n{effects}"
    return ".yaml", text.replace("plans:", lever + "plans:", 1).encode()


TARGETED = [t_yaml_long_list, t_yaml_block_list, t_yaml_long_string, t_yaml_deep, t_xml_deep,
            t_xml_bomb, t_ktab_commas, t_csv_many_rows, t_decide_many, t_nonfinite_scenario,
            t_remove_everyone]


def generate(seed: int, index: int) -> tuple[str, bytes]:
    """File ``index`` of the set ``seed``: (name, content)."""
    rng = random.Random(f"stakes-fuzz/{seed}/{index}")
    if rng.random() < 1 / 8:
        maker = rng.choice(TARGETED)
        suffix, data = maker(rng)
        return f"f{index:06d}-{maker.__name__[2:]}{suffix}", data
    fmt = rng.choice(sorted(SEEDS))
    suffix, make = SEEDS[fmt]
    data = make()
    names = []
    for _ in range(rng.choice([1, 1, 2, 2, 3, 4])):
        r = rng.random()
        if r < 0.25 and fmt == "stakes-yaml":
            mut = m_yaml
        elif r < 0.25 and fmt == "ktab-xml":
            mut = m_xml
        elif r < 0.75:
            mut = rng.choice(TEXT_MUTATORS)
        else:
            mut = rng.choice(BYTE_MUTATORS)
        data = mut(rng, data, fmt)
        names.append(mut.__name__[2:])
    if rng.random() < 0.1:
        suffix = rng.choice(["", ".txt", ".dat", ".yml", ".csv", ".xml", ".tsv"])
    return f"f{index:06d}-{fmt}-{'-'.join(names)}{suffix}", data


# --------------------------------------------------------------------------
# checking


class _Timeout(BaseException):
    """Raised by the alarm; a BaseException so that no ``except Exception`` swallows it."""


def _alarm(signum, frame):  # pragma: no cover - timing dependent
    raise _Timeout()


_LINE = re.compile(r"^(?P<file>.+?)(:\d+(:\d+)?)?: \S")
RUN_MODELS = ("eum", "compromise", "median")
RUN_ROUNDS = 20


def check_file(path: str | os.PathLike, time_limit: float = 10.0,
               run_models: bool = True) -> tuple[str, str]:
    """(outcome, detail) of loading ``path`` and, if accepted, running the default models."""
    import numpy as np

    from .engine import interventions_for, run_scenario
    from .errors import StakesError
    from .readers import load_any

    name = str(path)
    use_alarm = hasattr(signal, "SIGALRM") and time_limit > 0
    if use_alarm:
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, time_limit)
    try:
        try:
            scn = load_any(path)
        except StakesError as exc:
            lines = exc.lines()
            bad = [ln for ln in lines if "\n" in ln or not ln.startswith(name)
                   or not _LINE.match(ln)]
            if not lines or bad:
                return "bad-refusal", (bad or ["<no lines>"])[0][:300]
            return "refused", lines[0][:300]
        if not run_models:
            return "accepted", ""
        try:
            results = run_scenario(scn, RUN_MODELS, interventions=interventions_for(
                scn, "all", "all"), rounds=RUN_ROUNDS, skip_inapplicable=True)
        except StakesError as exc:
            # a model's refusal of an accepted file (e.g. a lever that removes every actor)
            lines = exc.lines()
            if not lines or any("\n" in ln or not ln.strip() for ln in lines):
                return "bad-refusal", (lines or ["<no lines>"])[0][:300]
            return "refused", lines[0][:300]
        for r in results:
            f = np.asarray(r.run.forecast, dtype=float)
            if not np.all(np.isfinite(f)):
                return "nan", f"{r.run.model} {r.intervention.label}: {f.tolist()}"
        return "accepted", ""
    except _Timeout:
        return "hang", f"over {time_limit:g} s"
    except MemoryError:
        return "memory", "MemoryError"
    except RecursionError:
        return "traceback", "RecursionError"
    except Exception as exc:  # noqa: BLE001 - any other exception is what is counted
        tb = traceback.extract_tb(exc.__traceback__)
        where = f"{Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else "?"
        return "traceback", f"{type(exc).__name__} at {where}: {str(exc)[:200]}"
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)


def cap_memory(extra_mib: int) -> None:
    """Cap this process's address space at its current size plus ``extra_mib``."""
    import resource

    try:
        with open("/proc/self/status") as fh:
            vm = next(int(ln.split()[1]) * 1024 for ln in fh if ln.startswith("VmSize:"))
    except (OSError, StopIteration):  # pragma: no cover - not Linux
        return
    limit = vm + extra_mib * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _label(name: str) -> str:
    rest = name.split("-", 1)[1]
    fmt = next((f for f in SEEDS if rest.startswith(f)), None)
    return fmt or "targeted/" + rest.split(".")[0]


def run_range(seed: int, start: int, stop: int, time_limit: float, memory_mib: int,
              run_models: bool = True) -> dict:
    """Generate and check files ``start..stop-1``; counts, defects and timings."""
    import gc

    from .engine import run_scenario  # noqa: F401 - imported before the cap, like the readers
    from .readers import load_any  # noqa: F401

    if memory_mib > 0:
        cap_memory(memory_mib)
    counts: Counter = Counter()
    by_format: Counter = Counter()
    defects: list[dict] = []
    slowest = (0.0, "")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="stakes-fuzz-") as tmp:
        for i in range(start, stop):
            name, data = generate(seed, i)
            path = Path(tmp) / name
            path.write_bytes(data)
            t = time.perf_counter()
            outcome, detail = check_file(path, time_limit, run_models)
            dt = time.perf_counter() - t
            path.unlink()
            if dt > slowest[0]:
                slowest = (dt, name)
            counts[outcome] += 1
            by_format[f"{_label(name)}:{outcome}"] += 1
            if outcome in DEFECTS:
                defects.append({"index": i, "file": name, "outcome": outcome, "detail": detail})
            gc.collect(0)
    return {"seed": seed, "start": start, "stop": stop, "counts": dict(counts),
            "by_format": dict(by_format), "defects": defects, "seconds":
            time.perf_counter() - t0, "slowest": {"seconds": slowest[0], "file": slowest[1]}}


def merge(parts: list[dict]) -> dict:
    counts: Counter = Counter()
    by_format: Counter = Counter()
    defects: list[dict] = []
    for p in parts:
        counts.update(p["counts"])
        by_format.update(p["by_format"])
        defects.extend(p["defects"])
    slowest = max((p["slowest"] for p in parts), key=lambda s: s["seconds"])
    return {"files": sum(counts.values()), "counts": dict(counts),
            "by_format": dict(sorted(by_format.items())),
            "defects": sorted(defects, key=lambda d: d["index"]), "slowest": slowest}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m stakes.fuzz", description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--time-limit", type=float, default=10.0, help="seconds per file")
    ap.add_argument("--memory-mib", type=int, default=2048,
                    help="address space a worker may add to its size at start (MiB)")
    ap.add_argument("--no-models", action="store_true", help="load only; run no model")
    ap.add_argument("--write", metavar="DIR", help="only write the files into DIR")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    stop = args.start + args.count
    if args.write:
        out = Path(args.write)
        out.mkdir(parents=True, exist_ok=True)
        for i in range(args.start, stop):
            name, data = generate(args.seed, i)
            (out / name).write_bytes(data)
        return 0
    if args.worker or args.workers <= 1:
        res = run_range(args.seed, args.start, stop, args.time_limit, args.memory_mib,
                        not args.no_models)
        print(json.dumps(res if args.worker else merge([res]), indent=None if args.worker
                         else 2))
        return 0
    import subprocess

    t0 = time.perf_counter()
    step = -(-args.count // args.workers)
    procs = []
    for a in range(args.start, stop, step):
        cmd = [sys.executable, "-m", "stakes.fuzz", "--worker", "--seed", str(args.seed),
               "--start", str(a), "--count", str(min(step, stop - a)),
               "--time-limit", str(args.time_limit), "--memory-mib", str(args.memory_mib)]
        if args.no_models:
            cmd.append("--no-models")
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True))
    parts = []
    for p in procs:
        out, _ = p.communicate()
        if p.returncode != 0:
            print(f"a worker failed with exit code {p.returncode}", file=sys.stderr)
            return 1
        parts.append(json.loads(out))
    doc = merge(parts)
    doc["seconds"] = time.perf_counter() - t0
    doc["workers"] = args.workers
    print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
