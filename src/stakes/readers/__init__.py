"""Input readers: our scenario YAML and the peers' formats, detected by content.

``load_any(path)`` reads any supported file into a
:class:`~stakes.scenario.schema.Scenario`; ``detect_format(path)`` names its
format; :data:`FORMATS` lists the formats.  Every problem with an input is
raised as :class:`stakes.errors.InputError` (one ``file:line:column: field:
message`` line per problem); an invalid option as
:class:`stakes.errors.OptionError`.  docs/formats.md describes each format
and how it maps onto the scenario.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import InputError, OptionError, Diagnostic
from ..scenario.schema import Scenario
from .bdm import SALIENCE_SCALES, SalienceScale, check_salience_scale
from .detect import FORMATS, decide_to_scenario, detect_format, ktab_to_scenario

__all__ = ["FORMATS", "detect_format", "load_any", "decide_to_scenario", "ktab_to_scenario",
           "SALIENCE_SCALES"]

# The salience scale each fixed-scale format is on; "auto" always fits.
_FIXED_SCALE = {"stakes-yaml": "unit", "ktab-csv": "percent", "ktab-xml": "percent",
                "decide-tsv": "unit"}


def load_any(path: str | os.PathLike, *, salience_scale: SalienceScale = "auto",
             fmt: str | None = None, scale: tuple[float, float] | None = None,
             **options: Any) -> Scenario:
    """Read the file at ``path`` in any supported format.

    ``fmt`` names the format (a key of :data:`FORMATS`) instead of detecting
    it.  ``salience_scale`` ("auto", "unit" for 0-1, "percent" for 0-100) and
    ``scale`` (the issue's (min, max); default the range of the positions)
    apply to the one-issue tables (bdm-csv, dm-tsv); the other formats have a
    fixed salience scale, and naming a different one is an OptionError.
    """
    if options:
        raise OptionError(f"unknown reader option{'s' if len(options) > 1 else ''}: "
                          f"{', '.join(sorted(options))}")
    check_salience_scale(salience_scale)
    p = Path(path)
    if not p.exists():
        raise InputError(Diagnostic("no such file", file=str(path)))
    if p.is_dir():
        raise InputError(Diagnostic("is a directory, not a file", file=str(path)))
    if fmt is not None and fmt not in FORMATS:
        raise OptionError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    fmt = fmt or detect_format(path)
    if fmt in _FIXED_SCALE:
        own = _FIXED_SCALE[fmt]
        if salience_scale not in ("auto", own):
            raise OptionError(f"salience_scale={salience_scale!r} does not apply to {fmt}: its "
                              f"saliences are always on {'0-100' if own == 'percent' else '0-1'}")
        if scale is not None:
            raise OptionError(f"scale applies to bdm-csv and dm-tsv only, not to {fmt}")
    if fmt in ("bdm-csv", "dm-tsv"):
        from .bdm import read_table

        return read_table(path, fmt=fmt, salience_scale=salience_scale, scale=scale)
    if fmt == "stakes-yaml":
        from ..scenario.yaml_io import load_yaml_scenario

        return load_yaml_scenario(path)
    if fmt == "ktab-csv":
        from .ktab import read_ktab_csv

        return ktab_to_scenario(read_ktab_csv(path))
    if fmt == "ktab-xml":
        from .ktab import read_ktab_xml

        return ktab_to_scenario(read_ktab_xml(path))
    from .decide import read_decide

    return decide_to_scenario(read_decide(path))
