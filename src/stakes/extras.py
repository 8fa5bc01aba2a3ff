"""Optional parts of stakes and the extras that install them.

The core (``pip install stakes``) reads scenarios and runs every model; the run store,
reports, the web app, ensembles on JAX, sensitivity indices and Dask clusters each come
with an extra.  A command that needs a missing one says which, in one line.
"""

from __future__ import annotations

from .errors import StakesError

# Top-level module -> the extra that installs it (pyproject.toml, [project.optional-dependencies]).
EXTRA_OF_MODULE: dict[str, str] = {
    "duckdb": "store",
    "pyarrow": "store",
    "pandas": "store",
    "platformdirs": "store",
    "plotly": "report",
    "matplotlib": "report",
    "kaleido": "report",
    "fastapi": "web",
    "starlette": "web",
    "uvicorn": "web",
    "jinja2": "web",
    "multipart": "web",
    "python_multipart": "web",
    "psutil": "web",
    "SALib": "ensembles",
    "jax": "jax",
    "jaxlib": "jax",
    "dask": "dask",
    "distributed": "dask",
}


class MissingExtra(StakesError):
    """A command needs an optional dependency that is not installed."""

    def __init__(self, module: str, extra: str):
        self.module, self.extra = module, extra
        super().__init__(f"this needs the optional dependency {module!r}: "
                         f"pip install 'stakes[{extra}]' (or 'stakes[all]')")


def missing_extra(exc: BaseException) -> MissingExtra | None:
    """The MissingExtra behind an ImportError of an optional module, else None."""
    if not isinstance(exc, ImportError):
        return None
    name = (getattr(exc, "name", None) or "").split(".")[0]
    extra = EXTRA_OF_MODULE.get(name)
    return MissingExtra(name, extra) if extra else None
