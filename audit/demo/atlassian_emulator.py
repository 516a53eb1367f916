"""An Atlassian Cloud admin and SCIM API emulator on loopback, serving an :class:`AtlassianOrg`.

The real collector (:mod:`audit.collectors.atlassian`, httpx) runs against it unchanged. It answers
``GET /admin/v1/orgs/{orgId}/domains`` and ``/users`` (``links.next`` a full URL),
``GET /admin/v2/orgs/{orgId}/directories/{directoryId}/users`` (``claimStatus`` filter, ``links.next``
a bare cursor) with the organization key, and ``GET /scim/directory/{directoryId}/Users``
(``startIndex``/``count``) with the directory key; anything but GET gets 405, so a test can prove
the audit read-only from :attr:`AtlassianEmulator.requests`. :class:`AtlassianFaults` injects
403s per source and 429s (with ``Retry-After`` or ``X-RateLimit-Reset``).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qsl, unquote, urlsplit

import orjson

from audit.demo.atlassian_org import AtlassianOrg, decode_cursor, org_page, scim_page

__all__ = ["AtlassianEmulator", "AtlassianFaults", "Served"]

JSON = dict[str, Any]
_ROUTES = (
    (re.compile(r"/admin/v1/orgs/([^/]+)/domains"), "atlassian_domains"),
    (re.compile(r"/admin/v1/orgs/([^/]+)/users"), "atlassian_users"),
    (re.compile(r"/admin/v2/orgs/([^/]+)/directories/([^/]+)/users"), "atlassian_directory_users"),
    (re.compile(r"/scim/directory/([^/]+)/Users"), "atlassian_scim_users"),
)


@dataclass
class AtlassianFaults:
    """Failures to inject: 403 for ``forbidden`` sources; the first ``throttle[source]`` requests
    of a source answered 429 with ``Retry-After: retry_after`` (``header="retry-after"``), an
    ``X-RateLimit-Reset`` that far ahead (``"reset"``), or neither (``"none"``); with ``echo``,
    error answers quote the request's ``Authorization`` header, as a careless gateway might."""

    forbidden: set[str] = field(default_factory=set)
    throttle: dict[str, int] = field(default_factory=dict)
    header: str = "retry-after"
    retry_after: float = 1.0
    echo: bool = (
        False  # error bodies repeat the request's Authorization header (a careless gateway)
    )


@dataclass(frozen=True)
class Served:
    """One request as the emulator saw it."""

    method: str
    path: str
    query: str
    status: int
    source: str | None
    authorized: bool


@dataclass(frozen=True)
class _Reply:
    status: int
    body: JSON
    headers: dict[str, str] = field(default_factory=dict)


class AtlassianEmulator:
    """Serves ``org`` on ``http://host:port`` (the ``--atlassian-url``) from a background thread."""

    def __init__(
        self,
        org: AtlassianOrg,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        page_size: int = 50,
        faults: AtlassianFaults | None = None,
    ) -> None:
        self.org = org
        self.host, self.port, self.page_size = host, port, page_size
        self.faults = faults or AtlassianFaults()
        self._lock = threading.Lock()
        self._requests: list[Served] = []
        self._throttled: dict[str, int] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` once started."""
        if self._server is None:
            raise RuntimeError("the Atlassian emulator is not running")
        return f"http://{self.host}:{self._server.server_address[1]}"

    @property
    def requests(self) -> list[Served]:
        """A copy of every request served so far."""
        with self._lock:
            return list(self._requests)

    def start(self) -> str:
        """Bind, serve in a daemon thread and return the base URL."""
        if self._server is None:
            server = ThreadingHTTPServer((self.host, self.port), _Handler)
            server.daemon_threads = True
            cast(Any, server).emulator = self
            self._server = server
            self._thread = threading.Thread(
                target=server.serve_forever, args=(0.05,), name="atlassian-emulator", daemon=True
            )
            self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop serving; safe to call twice."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> AtlassianEmulator:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def serve(self, method: str, target: str, headers: dict[str, str]) -> _Reply:
        """Answer one request (``target``: the raw path and query)."""
        parts = urlsplit(target)
        path, params = unquote(parts.path), dict(parse_qsl(parts.query, keep_blank_values=True))
        source, match = _route(path)
        authorized = self._authorized(source, headers)
        reply = self._answer(method, source, match, params, authorized)
        if self.faults.echo and reply.status >= 400:
            said = f"{reply.body['errors'][0]['title']} (got {headers.get('authorization')})"
            reply.body["errors"][0]["title"] = said
        with self._lock:
            self._requests.append(Served(method, path, parts.query, reply.status, source, authorized))  # fmt: skip
        return reply

    def _authorized(self, source: str | None, headers: dict[str, str]) -> bool:
        key = self.org.scim_key if source == "atlassian_scim_users" else self.org.api_key
        return headers.get("authorization") == f"Bearer {key}"

    def _answer(
        self, method: str, source: str | None, match: tuple[str, ...], params: dict[str, str], authorized: bool
    ) -> _Reply:  # fmt: skip
        if source is None:
            return _error(404, "NOT_FOUND", "No such resource")
        if method != "GET":
            return _error(
                405, "METHOD_NOT_ALLOWED", f"{method} is not allowed (read-only emulator)"
            )
        if not authorized:
            return _error(401, "UNAUTHENTICATED", "Unauthenticated")
        if source in self.faults.forbidden:
            return _error(403, "FORBIDDEN", "User has no permission to access resource.")
        throttled = self._throttle(source)
        if throttled is not None:
            return throttled
        if source == "atlassian_scim_users":
            if match[0] != self.org.directory_id:
                return _error(404, "NOT_FOUND", "Directory not found")
            start, count = _int(params.get("startIndex"), 1), _int(params.get("count"), 100)
            return _Reply(200, scim_page(self.org.scim_users, start, count))
        if match[0] != self.org.org_id:
            return _error(404, "ORG_NOT_FOUND", "Organization not found")
        return self._org_listing(source, params)

    def _org_listing(self, source: str, params: dict[str, str]) -> _Reply:
        cursor = decode_cursor(params.get("cursor"))
        if cursor is None:
            return _error(400, "INVALID_PAGE_CURSOR", "Invalid page cursor")
        offset, tag = cursor
        base = f"{self.base_url}/admin/v1/orgs/{self.org.org_id}"
        if source == "atlassian_domains":
            page = org_page(self.org.domains, offset, self.page_size,
                            link=lambda c: f"{base}/domains?cursor={c}")  # fmt: skip
        elif source == "atlassian_users":
            page = org_page(self.org.managed, offset, self.page_size,
                            link=lambda c: f"{base}/users?cursor={c}", total=True)  # fmt: skip
        else:  # a cursor carries the filter: "If present, all other parameters are discarded"
            claim = tag if params.get("cursor") else params.get("claimStatus", "")
            items = [u for u in self.org.directory_users if claim in ("", u.get("claimStatus"))]
            page = org_page(items, offset, self.page_size, link=lambda c: c, tag=claim)
        return _Reply(200, page)

    def _throttle(self, source: str) -> _Reply | None:
        with self._lock:
            left = self.faults.throttle.get(source, 0) - self._throttled.get(source, 0)
            if left <= 0:
                return None
            self._throttled[source] = self._throttled.get(source, 0) + 1
        headers: dict[str, str] = {}
        wait = self.faults.retry_after
        if self.faults.header == "retry-after":
            headers["Retry-After"] = f"{wait:g}"
        elif self.faults.header == "reset":
            reset = datetime.now(UTC) + timedelta(seconds=wait)
            headers["X-RateLimit-Reset"] = reset.isoformat(timespec="milliseconds").replace("+00:00", "Z")  # fmt: skip
        headers |= {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0"}
        return _error(429, "RATE_LIMITED", "Too many requests", headers)


def _route(path: str) -> tuple[str | None, tuple[str, ...]]:
    for pattern, source in _ROUTES:
        found = pattern.fullmatch(path.rstrip("/"))
        if found:
            return source, found.groups()
    return None, ()


def _int(value: str | None, default: int) -> int:
    return int(value) if value is not None and value.isdigit() else default


def _error(status: int, code: str, title: str, headers: dict[str, str] | None = None) -> _Reply:
    body = {"errors": [{"status": str(status), "code": code, "title": title}]}
    return _Reply(status, body, headers or {})


class _Handler(BaseHTTPRequestHandler):
    """Reads the request, asks the emulator, writes the JSON reply (HTTP/1.1 keep-alive)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > 0:
            self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = cast(Any, self.server).emulator.serve(self.command, self.path, headers)
        body = orjson.dumps(reply.body)
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr log."""
