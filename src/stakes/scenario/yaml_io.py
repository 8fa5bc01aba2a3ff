"""Read and write scenario files (YAML 1.2, ruamel.yaml).

YAML 1.2 keeps ``NO``, ``off`` and ``y`` as strings (YAML 1.1 loaders turn
them into booleans, which would corrupt country codes such as Norway's).
Every problem is reported with the file, line, column and field it concerns.
"""

from __future__ import annotations

import io
import os
import re
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.constructor import ConstructorError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from ..errors import InputError, Diagnostic
from ..fileio import ENV_VARS, check_items, limits, read_text, write_output
from .check import check
from .schema import Origin, Scenario

# Aliases let a small file expand into a huge document ("billion laughs");
# sharing a basis or two by alias stays far below this.
MAX_ALIAS_COPIES = 100_000

Loc = tuple[int, int]  # 0-based line, column
_UNION_TAGS = {"evidence", "judgment", "data"}
_FIELD = re.compile(r"^[a-z_]+$")


_CORE = "tag:yaml.org,2002:"
_NODE_TAGS = {MappingNode: _CORE + "map", SequenceNode: _CORE + "seq"}
_NULLS = {"", "~", "null", "Null", "NULL"}
_INFS = {".inf", ".Inf", ".INF"}
_NANS = {".nan", ".NaN", ".NAN"}


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_CORE):] if tag.startswith(_CORE) else tag


def _int(text: str) -> int:
    t = text.replace("_", "")
    sign, body = (-1, t[1:]) if t[:1] == "-" else (1, t[1:] if t[:1] == "+" else t)
    if body[:2] in ("0o", "0x"):
        return sign * int(body[2:], 8 if body[1] == "o" else 16)
    if not body.isdigit() or not body.isascii():
        raise ValueError(text)
    return sign * int(body)


def _float(text: str) -> float:
    t = text.replace("_", "")
    sign, body = (-1.0, t[1:]) if t[:1] == "-" else (1.0, t[1:] if t[:1] == "+" else t)
    if body in _INFS:
        return sign * float("inf")
    if body in _NANS:
        return float("nan")
    if not body.isascii() or not re.fullmatch(r"(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", body):
        raise ValueError(text)
    return sign * float(body)


def _bool(text: str) -> bool:
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    raise ValueError(text)


def _null(text: str) -> None:
    if text not in _NULLS:
        raise ValueError(text)
    return None


# The YAML 1.2 core schema's scalars, the only ones a scenario holds.  Timestamps stay
# text: the schema validates dates and reports the field and line (and a name such as
# ``2020-01-01`` stays the name it was meant to be).  A value written with an explicit
# tag must be what the tag says (``!!bool 0.8`` is not a boolean).
_SCALARS = {_CORE + "str": str, _CORE + "timestamp": str, _CORE + "merge": str,
            _CORE + "int": _int, _CORE + "float": _float, _CORE + "bool": _bool,
            _CORE + "null": _null}


def _check_tag(node: Any) -> None:
    """Refuse every tag a scenario does not use, at its position."""
    tag = str(getattr(node, "tag", "") or "")
    if isinstance(node, ScalarNode):
        if tag in _SCALARS:
            return
    elif type(node) in _NODE_TAGS and tag == _NODE_TAGS[type(node)]:
        return
    kind = ("a mapping" if isinstance(node, MappingNode) else "a list"
            if isinstance(node, SequenceNode) else "a value")
    raise ConstructorError(
        None, None, f"tag {_short_tag(tag)[:80]} on {kind} is not allowed; a scenario holds "
        "only text, numbers, booleans, null, lists and mappings", node.start_mark)


def _yaml() -> YAML:
    """The writer of scenario files (YAML 1.2)."""
    y = YAML(typ="rt")
    y.version = (1, 2)
    return y


class _Budget:
    """Guards the expansion of aliases: cycles, and copies that blow up."""

    def __init__(self, file: str):
        self.file = file
        self.copied = 0  # values reached a second time, through an alias
        self.seen: set[int] = set()
        self.active: set[int] = set()
        self.in_alias = 0

    def enter(self, node: Any, path: tuple, where: dict[tuple, Loc]) -> bool:
        """Start expanding a container; True when it is reached through an alias."""
        if id(node) in self.active:
            raise InputError(_problem(self.file, "an alias refers to a node that contains it",
                                      path, _nearest(path, where)))
        self.active.add(id(node))
        again = id(node) in self.seen
        self.seen.add(id(node))
        if again:
            self.in_alias += 1
        return again

    def leave(self, node: Any, again: bool) -> None:
        self.active.discard(id(node))
        if again:
            self.in_alias -= 1

    def count(self) -> None:
        if self.in_alias:
            self.copied += 1
            if self.copied > MAX_ALIAS_COPIES:
                raise InputError(Diagnostic(
                    f"aliases expand to more than {MAX_ALIAS_COPIES} values", file=self.file))


class _Walker:
    """Plain Python data from composed YAML nodes, with the position of every field.

    The nodes come from libyaml (C), which composes about ten times faster than
    ruamel's round-trip loader, with ruamel's YAML 1.2 resolver; scalars are built
    here from their tag (:data:`_SCALARS`) once :func:`_check_tag` has let it through.
    """

    def __init__(self, file: str):
        self.file = file
        self.where: dict[tuple, Loc] = {(): (0, 0)}
        self.budget = _Budget(file)

    def value(self, node: Any, path: tuple) -> Any:
        _check_tag(node)
        budget = self.budget
        if isinstance(node, ScalarNode):
            budget.count()
            tag = str(node.tag)
            try:
                return _SCALARS[tag](node.value)
            except (ValueError, OverflowError):
                raise _located(self.file, f"{str(node.value)[:80]!r} is not a valid "
                                          f"{_short_tag(tag)} value", node) from None
        again = budget.enter(node, path, self.where)
        budget.count()
        if isinstance(node, SequenceNode):
            out_l = []
            for i, item in enumerate(node.value):
                self.where.setdefault((*path, i), _mark(item))
                out_l.append(self.value(item, (*path, i)))
            budget.leave(node, again)
            return out_l
        out: dict[Any, Any] = {}
        first: dict[Any, tuple[Any, Any]] = {}
        merged: list[Any] = []
        for key_node, value_node in node.value:
            if str(key_node.tag) == _CORE + "merge":
                merged.append(value_node)
                continue
            if not isinstance(key_node, ScalarNode):
                raise _located(self.file, "a mapping key must be a plain value, not a "
                                          "collection", key_node)
            key = self.value(key_node, path)
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                key = str(key_node.value)
            if key in first:
                raise _located(self.file, f'duplicate key "{key}" with value '
                               f'"{_scalar_text(value_node)}" (original value: '
                               f'"{_scalar_text(first[key][1])}")', key_node)
            first[key] = (key_node, value_node)
            self.where[(*path, key)] = _mark(key_node)
            out[key] = self.value(value_node, (*path, key))
        for m in merged:  # "<<" keys: the mapping's own keys win
            sources = m.value if isinstance(m, SequenceNode) else [m]
            for src in sources:
                data = self.value(src, path)
                if not isinstance(data, dict):
                    raise _located(self.file, "a merge key (<<) takes a mapping or a list of "
                                              "mappings", src)
                for k, v in data.items():
                    out.setdefault(k, v)
        budget.leave(node, again)
        return out


def _mark(node: Any) -> Loc:
    return (node.start_mark.line, node.start_mark.column)


def _scalar_text(node: Any) -> str:
    return str(node.value)[:80] if isinstance(node, ScalarNode) else "..."


def _located(file: str, message: str, node: Any) -> InputError:
    line, col = _mark(node)
    return InputError(Diagnostic(f"invalid YAML: {_one_line(message)}", file=file,
                              line=line + 1, column=col + 1))


def _field_name(path: tuple) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _locate(loc: tuple, raw: Any, where: dict[tuple, Loc]) -> tuple[tuple, Loc | None]:
    """Map a pydantic error location onto the raw document.

    Pydantic inserts union tags and validator names into ``loc``; segments that
    do not exist in the document are skipped.
    """
    node, path = raw, ()
    for seg in loc:
        if isinstance(node, dict) and seg in node:
            node, path = node[seg], (*path, seg)
        elif isinstance(node, list) and isinstance(seg, int) and 0 <= seg < len(node):
            node, path = node[seg], (*path, seg)
        elif isinstance(seg, str) and seg not in _UNION_TAGS and _FIELD.match(seg):
            # a field the document lacks: name it, point at the mapping that lacks it
            return (*path, seg), _nearest(path, where)
    return path, _nearest(path, where)


def _nearest(path: tuple, where: dict[tuple, Loc]) -> Loc | None:
    while True:
        if path in where:
            return where[path]
        if not path:
            return (0, 0)
        path = path[:-1]


def _problem(file: str, message: str, path: tuple, loc: Loc | None) -> Diagnostic:
    return Diagnostic(
        message=message,
        file=file,
        line=None if loc is None else loc[0] + 1,
        column=None if loc is None else loc[1] + 1,
        field=_one_line(_field_name(path)) or None,
    )


def _one_line(msg: str) -> str:
    # a problem is reported on one line; values quoted in messages may hold breaks
    return msg.replace("\r", "\\r").replace("\n", "\\n")


def _clean_msg(msg: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    return _one_line(msg)


def _check_flow_depth(text: str, file: str) -> None:
    # ruamel composes collections recursively and slows down sharply with depth; scenarios
    # nest a few levels, so deeper input is refused before parsing.  Brackets inside quoted
    # text count too: an overestimate, harmless at this limit.
    limit = limits().max_depth
    depth = 0
    for m in re.finditer(r"[\[\]{}]", text):
        if m.group() in "[{":
            depth += 1
            if depth > limit:
                pos = m.start()
                line = text.count("\n", 0, pos)
                col = pos - (text.rfind("\n", 0, pos) + 1)
                raise InputError(Diagnostic(
                    f"invalid YAML: brackets nested more than {limit} levels deep",
                    file=file, line=line + 1, column=col + 1))
        elif depth:
            depth -= 1


def _check_block_depth(text: str, file: str) -> None:
    # Block collections nest by indentation (or by "- - -" on one line), at least one
    # column a level; two columns a level is the usual style.
    limit = limits().max_depth
    for m in re.finditer(r"^((?:[ ]|-[ ])*)\S", text, re.MULTILINE):
        if len(m.group(1)) > 2 * limit:
            line = text.count("\n", 0, m.start()) + 1
            raise InputError(Diagnostic(
                f"invalid YAML: indented more than {2 * limit} columns (nesting limit "
                f"{limit})", file=file, line=line, column=1))


def _precheck(text: str, file: str) -> None:
    """The limits checked on the text before any parser runs (docs/limits.md)."""
    check_items(text, file)
    _check_flow_depth(text, file)
    _check_block_depth(text, file)


def parse_text(text: str, file: str = "<input>") -> tuple[Any, dict[tuple, Loc]]:
    """Parse YAML text into plain Python data and a map of field positions."""
    if not text.strip():
        raise InputError(Diagnostic("file is empty", file=file))
    if "\x00" in text:
        raise InputError(Diagnostic("not a text file (contains NUL bytes)", file=file))
    _precheck(text, file)
    y = YAML(typ="safe", pure=False)
    y.version = (1, 2)
    try:
        doc = y.compose(text)
        walker = _Walker(file)
        data = walker.value(doc, ()) if doc is not None else None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        msg = (exc.problem or exc.context or "invalid YAML").strip()
        if mark is not None and msg == "found character that cannot start any token":
            # libyaml leaves the character out of its message
            lines = re.split("\r\n|[\r\n\x85\u2028\u2029]", text)  # YAML's line breaks
            line = lines[mark.line] if mark.line < len(lines) else ""
            if mark.column < len(line):
                msg = f"found character {line[mark.column]!r} that cannot start any token"
        raise InputError(Diagnostic(
            f"invalid YAML: {_one_line(msg)}", file=file,
            line=None if mark is None else mark.line + 1,
            column=None if mark is None else mark.column + 1,
        )) from None
    except YAMLError as exc:
        raise InputError(Diagnostic(f"invalid YAML: {exc}".splitlines()[0], file=file)) from None
    except RecursionError:
        raise InputError(Diagnostic("invalid YAML: nesting is too deep", file=file)) from None
    except (ValueError, TypeError, OverflowError, KeyError, IndexError,
            AttributeError) as exc:
        # a scalar the constructor cannot build; it gives no position
        raise InputError(Diagnostic(f"invalid YAML: {_one_line(str(exc))[:300]}",
                                 file=file)) from None
    if doc is None:
        raise InputError(Diagnostic("file is empty", file=file))
    return data, walker.where


def scenario_from_data(data: Any, where: dict[tuple, Loc] | None = None,
                       file: str = "<input>") -> Scenario:
    """Validate plain data as a scenario; raise InputError listing every problem."""
    where = where or {(): (0, 0)}
    if not isinstance(data, dict):
        raise InputError(Diagnostic("a scenario file must be a mapping with metadata, actors, "
                                 "issues and entries", file=file, line=1, column=1))
    lim = limits()
    actors = data.get("actors")
    if isinstance(actors, list) and len(actors) > lim.max_actors:
        path = ("actors", lim.max_actors)
        raise InputError(_problem(file, f"{len(actors)} actors; at most {lim.max_actors} are "
                                        f"accepted (set ${ENV_VARS['max_actors']} to change "
                                        "the limit)", path, _nearest(path, where)))
    try:
        scn = Scenario.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            path, loc = _locate(tuple(err["loc"]), data, where)
            problems.append(_problem(file, _clean_msg(err["msg"]), path, loc))
        raise InputError(_dedupe(problems)) from None
    findings = check(scn) + option_findings(scn)
    if findings:
        raise InputError([
            _problem(file, msg, path, _nearest(path, where)) for path, msg in findings
        ])
    if len(where) > 1:
        attach_origins(scn, where, file)
    return scn


def attach_origins(scn: Scenario, where: dict[tuple, Loc], file: str) -> None:
    """Keep beside each number the model input is built from where it was read, so that
    :class:`~stakes.models.base.Problem` can point at the file and line of a value that
    is refused later (e.g. after the scenario was changed in Python)."""

    def at(path: tuple, value: Any) -> tuple[int, int, Any] | None:
        while path and path not in where:
            path = path[:-1]
        if not path:
            return None  # only the document itself: no better than no location
        line, col = where[path]
        return line + 1, col + 1, value

    def keep(obj: Any, path: tuple, fields: tuple[str, ...]) -> None:
        if obj is None:
            return
        found = {f: loc for f in fields
                 if (loc := at((*path, f), getattr(obj, f))) is not None}
        if found:
            obj._origin = Origin(file, found)

    for k, a in enumerate(scn.actors):
        keep(a.capability, ("actors", k, "capability"), ("value",))
    for d, iss in enumerate(scn.issues):
        keep(iss.status_quo, ("issues", d, "status_quo"), ("value",))
        keep(iss.scale, ("issues", d, "scale"), ("min", "max"))
    for k, e in enumerate(scn.entries):
        for name in ("position", "salience", "capability"):
            keep(getattr(e, name), ("entries", k, name), ("value",))
    for k, af in enumerate(scn.affinity or ()):
        keep(af, ("affinity", k), ("weight",))


def option_findings(scn: Scenario) -> list[tuple[tuple, str]]:
    """The scenario's ``options`` checked against each model's options, as (path, message),
    so that a bad value is reported at its line when the file is read, not at run time."""
    from ..errors import OptionError
    from ..models import get_model, model_names

    out: list[tuple[tuple, str]] = []
    for name, values in (scn.options or {}).items():
        try:
            model = get_model(name)
        except OptionError:
            out.append((("options", name), f"unknown model {name!r} (models: "
                                           f"{', '.join(model_names())})"))
            continue
        try:
            model.Options(**(values or {}))
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                loc = tuple(err["loc"])
                msg = _clean_msg(err["msg"])
                if err["type"] == "extra_forbidden":
                    msg = f"unknown option (known: {', '.join(model.Options.model_fields)})"
                out.append((("options", name, *loc[:1]), msg))
        except (TypeError, ValueError) as exc:
            out.append((("options", name), _one_line(str(exc))))
    return out


def _dedupe(problems: list[Diagnostic]) -> list[Diagnostic]:
    seen, out = set(), []
    for p in problems:
        key = (p.line, p.column, p.field, p.message)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def read_text_file(path: str | os.PathLike) -> str:
    """The text of a regular UTF-8 file within the input limits (:mod:`stakes.fileio`)."""
    return read_text(path)


def load_yaml_scenario(path: str | os.PathLike) -> Scenario:
    text = read_text_file(path)
    return loads_scenario(text, str(path))


def loads_scenario(text: str, file: str = "<input>") -> Scenario:
    data, where = parse_text(text, file)
    return scenario_from_data(data, where, file)


def scenario_to_data(scn: Scenario) -> dict[str, Any]:
    """Plain data for writing, without unset optional fields; bare numbers where
    a value has no basis or uncertainty."""
    data = scn.model_dump(mode="json", exclude_none=True, exclude_defaults=False)

    def simplify(node: Any) -> Any:
        if isinstance(node, dict):
            node = {k: simplify(v) for k, v in node.items()}
            if set(node) == {"value"}:
                return node["value"]
            return node
        if isinstance(node, list):
            return [simplify(v) for v in node]
        return node

    data = simplify(data)
    for key in ("levers", "plans", "options"):
        if not data.get(key):
            data.pop(key, None)
    for a in data.get("actors", []):
        if a.get("present") is True:
            a.pop("present")
    return data


_ODD_BREAKS = ("\x85", "\u2028", "\u2029")


def _quote_odd_breaks(node: Any) -> Any:
    # ruamel writes NEL (U+0085) raw inside single quotes and reads it back
    # as a space; double quotes escape it (\N, \L, \P) and keep the text.
    if isinstance(node, dict):
        return {_quote_odd_breaks(k): _quote_odd_breaks(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_quote_odd_breaks(v) for v in node]
    if isinstance(node, str) and any(c in node for c in _ODD_BREAKS):
        return DoubleQuotedScalarString(node)
    return node


def dumps_scenario(scn: Scenario, header: str | None = None) -> str:
    y = _yaml()
    y.default_flow_style = False
    y.width = 100
    buf = io.StringIO()
    if header:
        buf.write("".join(f"# {line}\n" if line else "#\n" for line in header.splitlines()))
    y.dump(_quote_odd_breaks(scenario_to_data(scn)), buf)
    return buf.getvalue()


def write_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path``: a regular file atomically, a device or FIFO in place
    (:func:`stakes.fileio.write_output`)."""
    write_output(path, text)


def save_scenario(scn: Scenario, path: str | os.PathLike, header: str | None = None) -> None:
    write_atomic(path, dumps_scenario(scn, header))
