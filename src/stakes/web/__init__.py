"""The browser app (``stakes serve``): scenario library, editor, runs, comparisons and reports.

Needs the ``web`` extra (fastapi, uvicorn, jinja2, python-multipart).
"""

from __future__ import annotations


def create_app(*args, **kwargs):
    """The FastAPI app; see :func:`stakes.web.app.create_app`."""
    from .app import create_app as _create

    return _create(*args, **kwargs)


__all__ = ["create_app"]
