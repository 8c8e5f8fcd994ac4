"""Clients talk to the cloud in-process, without sockets: a ``requests`` adapter that calls
a WSGI app directly.  openstacksdk (through keystoneauth's requests session) uses it for
the embedded cloud; everything above the transport is the same as over the network.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

__all__ = ["WSGIAdapter", "mount_wsgi"]

WSGIApp = Callable[[dict[str, Any], Any], Iterable[bytes]]


class WSGIAdapter(BaseAdapter):
    """Send ``requests`` requests straight into a WSGI application."""

    def __init__(self, app: WSGIApp) -> None:
        super().__init__()
        self._app = app

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **_kwargs: Any
    ) -> requests.Response:
        url = urlsplit(request.url or "")
        raw = request.body or b""
        body = raw.encode() if isinstance(raw, str) else raw if isinstance(raw, bytes) else b""
        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method or "GET",
            "SCRIPT_NAME": "",
            "PATH_INFO": url.path or "/",
            "QUERY_STRING": url.query,
            "SERVER_NAME": url.hostname or "localhost",
            "SERVER_PORT": str(url.port or (443 if url.scheme == "https" else 80)),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": url.scheme or "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "CONTENT_LENGTH": str(len(body)),
        }
        for key, value in request.headers.items():
            name = key.upper().replace("-", "_")
            if name == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = value
            elif name != "CONTENT_LENGTH":
                environ[f"HTTP_{name}"] = value
        status_line = ""
        headers: list[tuple[str, str]] = []

        def start_response(
            status: str, response_headers: list[tuple[str, str]], _exc: Any = None
        ) -> None:
            nonlocal status_line, headers
            status_line, headers = status, response_headers

        chunks = self._app(environ, start_response)
        try:
            data = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        response = requests.Response()
        response.status_code = int(status_line.split(" ", 1)[0])
        response.reason = status_line.split(" ", 1)[1] if " " in status_line else ""
        response.headers = CaseInsensitiveDict(dict(headers))
        response.raw = io.BytesIO(data)
        response._content = data
        response.url = request.url or ""
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        """Nothing to release."""


def mount_wsgi(session: requests.Session, prefix: str, app: WSGIApp) -> None:
    """Route every request under ``prefix`` (e.g. ``http://testbed.local``) to ``app``."""
    session.mount(prefix, WSGIAdapter(app))


def _headers(environ: Mapping[str, Any]) -> dict[str, str]:  # pragma: no cover - debug aid
    return {k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")}
