"""The web app's guard: host allow-list, same-origin writes, form tokens, body limit, headers.

One ASGI middleware in front of everything, because each rule must hold on
every route, including ones added later:

- **Host allow-list** (DNS rebinding): a request whose ``Host`` is not one
  of the allowed names (127.0.0.1, localhost and ::1 by default; ``stakes
  serve --allow-host``) is refused with 400.
- **Same-origin writes**: a state-changing request (anything but GET, HEAD,
  OPTIONS) whose ``Origin`` is ``null`` or another origin is refused with
  403; without ``Origin``, ``Sec-Fetch-Site`` must be same-origin or none and
  a ``Referer`` must be ours.  Clients that are not browsers (curl, scripts)
  send none of these and pass: they are not what cross-site forgery abuses.
- **Form tokens**: every browser gets a random token in a ``SameSite=Strict``
  cookie; forms carry it in a hidden ``csrf_token`` field and the routes that
  read a form compare the two (:func:`check_form_token`).  Form posts
  without a matching token are refused with 403.
- **Body limit**: a declared ``Content-Length`` over the limit is refused
  before reading, and a body streamed without one is counted as it arrives
  and refused (413) as soon as it passes the limit.
- **Headers**: a Content-Security-Policy without ``unsafe-inline`` (scripts
  and styles come from the app's own files only), ``nosniff``,
  ``frame-ancestors 'none'`` (and ``X-Frame-Options: DENY``) and
  ``Referrer-Policy: same-origin`` (not ``no-referrer``: under that policy
  browsers send ``Origin: null`` even on the app's own form posts).
"""

from __future__ import annotations

import hmac
import json
import secrets
from http.cookies import SimpleCookie
from typing import Any, Awaitable, Callable, Iterable
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_HOSTS = ("127.0.0.1", "localhost", "::1")
COOKIE = "stakes_csrf"
FIELD = "csrf_token"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "font-src 'self' data:; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; "
       "base-uri 'none'; form-action 'self'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int):
        super().__init__(413, f"the request is too large (limit {limit // 1024} KiB)")


def split_host(value: str) -> str:
    """The host name of a ``Host`` header or URL authority, without port or brackets."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else ""
    if value.count(":") > 1:  # a bare IPv6 address
        return value
    return value.rsplit(":", 1)[0] if ":" in value else value


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for k, v in scope.get("headers", ()):
        if k == name:
            return v.decode("latin-1")
    return None


def form_token(scope_or_request: Any) -> str:
    """The form token of this browser (set by the middleware)."""
    state = scope_or_request.scope["state"] if hasattr(scope_or_request, "scope") \
        else scope_or_request["state"]
    return state.get("csrf", "") if isinstance(state, dict) else getattr(state, "csrf", "")


def check_form_token(request: Any, form: Any) -> None:
    """Refuse a form whose token is missing or not this browser's (403)."""
    sent = str(form.get(FIELD, "") or "")
    cookie = request.cookies.get(COOKIE, "")
    if not (sent and cookie and hmac.compare_digest(sent, cookie)):
        raise HTTPException(403, "the form has expired or did not come from this app; "
                                 "reload the page and try again")


class Guard:
    """The ASGI middleware described in the module docstring."""

    def __init__(self, app: Callable[..., Awaitable[None]], *, hosts: Iterable[str],
                 max_body: int):
        self.app = app
        self.hosts = {split_host(h) for h in hosts if h}
        self.max_body = max_body

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = split_host(_header(scope, b"host") or "")
        if host not in self.hosts:
            await self._refuse(scope, send, 400, "this server does not answer to that host name")
            return
        method = scope["method"]
        if method not in SAFE_METHODS:
            why = self._cross_site(scope)
            if why:
                await self._refuse(scope, send, 403, why)
                return
            length = _header(scope, b"content-length")
            if length is not None and (not length.isdigit() or int(length) > self.max_body):
                await self._refuse(scope, send, 413, f"the request is too large (limit "
                                   f"{self.max_body // 1024} KiB)")
                return

        cookie = SimpleCookie()
        try:
            cookie.load(_header(scope, b"cookie") or "")
        except Exception:  # noqa: BLE001 - a malformed cookie header is treated as none
            cookie = SimpleCookie()
        token = cookie[COOKIE].value if COOKIE in cookie else ""
        fresh = not (len(token) == 32 and all(c in "0123456789abcdef" for c in token))
        if fresh:
            token = secrets.token_hex(16)
        scope.setdefault("state", {})["csrf"] = token

        seen = 0
        limit = self.max_body

        async def counted_receive() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        started = False

        async def send_with_headers(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() not in {h for h, _ in HEADERS}]
                headers.extend(HEADERS)
                if fresh:
                    headers.append((b"set-cookie", f"{COOKIE}={token}; Path=/; HttpOnly; "
                                    "SameSite=Strict".encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, counted_receive, send_with_headers)
        except BodyTooLarge as exc:
            if not started:
                await self._refuse(scope, send, 413, str(exc.detail))

    async def _refuse(self, scope: dict[str, Any], send: Any, status: int, message: str) -> None:
        if scope["path"].startswith("/api/"):
            body = json.dumps({"error": message, "problems": []}).encode()
            ctype = b"application/json"
        else:
            from html import escape

            body = (f"<!DOCTYPE html><html lang='en'><title>Refused</title><h1>Refused</h1>"
                    f"<p class='problems' role='alert'>{escape(message)}</p>"
                    "<p><a href='/'>Back to the scenario library</a></p></html>").encode()
            ctype = b"text/html; charset=utf-8"
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", ctype),
                                (b"content-length", str(len(body)).encode()), *HEADERS]})
        await send({"type": "http.response.body", "body": body})

    def _cross_site(self, scope: dict[str, Any]) -> str | None:
        """Why this state-changing request looks cross-site, or None."""
        host = (_header(scope, b"host") or "").strip().lower()
        origin = _header(scope, b"origin")
        if origin is not None:
            if origin.strip().lower() == "null":
                return "cross-site request refused (Origin: null)"
            parts = urlsplit(origin.strip().lower())
            if parts.scheme not in ("http", "https") or parts.netloc != host:
                return "cross-site request refused (the request came from another site)"
            return None
        site = _header(scope, b"sec-fetch-site")
        if site is not None and site.lower() not in ("same-origin", "none"):
            return "cross-site request refused (the request came from another site)"
        referer = _header(scope, b"referer")
        if referer is not None and urlsplit(referer.strip().lower()).netloc != host:
            return "cross-site request refused (the request came from another site)"
        return None
