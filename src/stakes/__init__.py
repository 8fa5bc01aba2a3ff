"""stakes: forecast multi-actor political bargaining and test the levers that move it."""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

__all__ = ["__version__", "advise", "load", "run", "runs_frame"]

if TYPE_CHECKING:  # pragma: no cover
    from .api import advise, load, run, runs_frame


def __getattr__(name: str):
    # The Python API loads the engine on first use, so that ``stakes --help`` and the
    # commands that need no model start without it (PEP 562).
    if name in ("advise", "load", "run", "runs_frame"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'stakes' has no attribute {name!r}")
