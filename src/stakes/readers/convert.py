"""Convert any supported input file into a stakes scenario YAML file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import InputError, OptionError, Diagnostic
from ..scenario.schema import Scenario
from ..scenario.yaml_io import dumps_scenario, loads_scenario, write_atomic
from . import FORMATS, detect_format, load_any


def convert(in_path: str | os.PathLike, out_path: str | os.PathLike,
            **reader_opts: Any) -> Scenario:
    """Read ``in_path`` (any format of :data:`~stakes.readers.FORMATS`; ``fmt=``
    to name it) and write it to ``out_path`` as scenario YAML.

    The output starts with a comment naming the source file and its format.
    It is written atomically and only once the whole input has been read and
    the YAML text has been read back to the same scenario: on any error
    nothing is written (an existing ``out_path`` is left as it was).
    ``reader_opts`` go to :func:`~stakes.readers.load_any`.  Returns the
    scenario.
    """
    src, dst = Path(in_path), Path(out_path)
    if dst.exists() and src.exists() and dst.resolve() == src.resolve():
        raise OptionError(f"{dst}: the output would overwrite the input file")
    if dst.is_dir():
        raise OptionError(f"{dst}: is a directory; give the output file's name")
    fmt = reader_opts.pop("fmt", None) or detect_format(src)
    scn = load_any(src, fmt=fmt, **reader_opts)
    header = (f"stakes scenario converted from {src.name}\n"
              f"source format: {fmt} ({FORMATS[fmt]})")
    text = dumps_scenario(scn, header=header)
    if loads_scenario(text, str(dst)) != scn:  # pragma: no cover - a writer defect
        raise InputError(Diagnostic("the converted scenario does not read back identically; "
                                 "nothing written", file=str(src)))
    try:
        write_atomic(dst, text)
    except OSError as exc:
        raise OptionError(f"{dst}: cannot write the scenario: {exc.strerror or exc}") from None
    return scn
