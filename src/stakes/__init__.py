"""stakes: forecast multi-actor political bargaining and test the levers that move it."""

__version__ = "0.1.0"

from .api import advise, load, run, runs_frame  # noqa: E402

__all__ = ["__version__", "advise", "load", "run", "runs_frame"]
