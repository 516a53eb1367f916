"""A Microsoft Graph v1.0 emulator on loopback, serving a :class:`DemoTenant` over real HTTP.

The real collector (msgraph-sdk, its middleware, retries) runs against it unchanged, so the demo
and the tests exercise the same code as a production run. Requests are served concurrently (one
thread per connection), ``latency`` is slept per request in the handler thread, and
:class:`Faults` injects 429s with ``Retry-After``, 5xx errors and 403s per source, reproducibly
(seeded). Usage::

    with GraphEmulator(tenant, faults=Faults(throttle_rate=0.1)) as emulator:
        client = make_graph_client(base_url=emulator.base_url, credential=None)

Only GET (and ``POST /$batch`` of GETs) is served: anything else is refused, so a test can prove
that the audit is read-only by reading :attr:`GraphEmulator.requests`.
"""

from __future__ import annotations

import contextlib
import math
import random
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qsl, unquote, urlsplit

import orjson

from audit.demo.emulator_odata import (
    JSON,
    ODataFault,
    Reply,
    error_reply,
    expired_token,
    json_reply,
)
from audit.demo.emulator_pacing import Pacing
from audit.demo.emulator_routes import Request, Router, unknown_segment
from audit.demo.emulator_store import SIGN_IN, UserStore
from audit.demo.model import DemoTenant

__all__ = ["Faults", "GraphEmulator", "RecordedRequest"]

_PREFIX = "/v1.0"
_MAX_BATCH = 20
_ERROR_CODES = {500: "generalException", 503: "serviceNotAvailable"}


@dataclass
class Faults:
    """Failures the emulator injects; ``seed`` makes a fault run reproducible.

    ``forbidden`` names sources answered 403 (organization, domains, users, service_principal,
    app_role_assignments, group_members, sync_jobs, sync_schema, provisioning_logs, and
    sign_in_activity: a users request selecting ``signInActivity``). ``throttle_budget`` is a
    request rate per second above which requests get 429. Faults never consume a page: the
    retry gets it. ``expired_tokens`` names sources whose follow-up pages (``$skiptoken``) fail
    with 400 ``Directory_ExpiredPageToken``, a failure in the middle of a collection.
    ``outage_after`` cuts the service off after that many answered requests: every later request
    gets 500 (not retried by the SDK), as a lost network would fail a collection at page k; set it
    back to None to end the outage.
    """

    throttle_rate: float = 0.0
    retry_after: float = 1.0
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 502, 503, 504)
    forbidden: set[str] = field(default_factory=set)
    throttle_budget: float | None = None
    seed: int = 0
    expired_tokens: set[str] = field(default_factory=set)
    outage_after: int | None = None


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the emulator saw it (``in_batch`` for the parts of a ``$batch``)."""

    method: str
    path: str
    query: str
    status: int
    authorized: bool = False
    in_batch: bool = False


class GraphEmulator:
    """Serves ``tenant`` as Graph v1.0 on ``http://host:port/v1.0`` from a background thread."""

    def __init__(
        self,
        tenant: DemoTenant,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        faults: Faults | None = None,
        require_auth: bool = False,
        pacing: Pacing | None = None,
    ) -> None:
        self.tenant = tenant
        self.host, self.port = host, port
        self.latency = latency
        self.pacing = pacing
        """Graph-like latency and throttling (:mod:`audit.demo.emulator_pacing`), or None."""
        self.faults = faults or Faults()
        self.require_auth = require_auth
        self._store = UserStore(tenant.users)
        self._router = Router(tenant, self._store)
        self._rng = random.Random(self.faults.seed)
        self._bucket = _Bucket(self.faults.throttle_budget)
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._in_flight = 0
        self.max_in_flight = 0
        """The most requests this emulator was answering at the same time."""
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._base_url: str | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1.0`` once started."""
        if self._base_url is None:
            raise RuntimeError("the Graph emulator is not running; call start() first")
        return self._base_url

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of every request served so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    def start(self) -> str:
        """Bind, serve in a daemon thread and return the base URL."""
        if self._server is None:
            self._server = _Server((self.host, self.port), _Handler, self)
            port = self._server.server_address[1]
            self._base_url = f"http://{self.host}:{port}{_PREFIX}"
            self._thread = threading.Thread(
                target=self._server.serve_forever, args=(0.05,), name="graph-emulator", daemon=True
            )
            self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop serving and close every open connection; safe to call twice."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._base_url = None

    def __enter__(self) -> GraphEmulator:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def add_user(self, user: JSON) -> None:
        """Add (or replace) a user; the next delta round reports it."""
        self._store.put(user)

    def update_user(self, user_id: str, changes: JSON) -> None:
        """Change properties of a user; the next delta round reports it."""
        self._store.update(user_id, changes)

    def delete_user(self, user_id: str) -> None:
        """Delete a user; the next delta round reports ``@removed``."""
        self._store.delete(user_id)

    def serve(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        """Answer one HTTP request (``target`` is the raw path and query); used by the handler."""
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            if self.latency > 0:
                time.sleep(self.latency)
            pacing, waited = self.pacing, 0.0
            if pacing is not None:
                time.sleep(waited := pacing.latency())
            parts = urlsplit(target)
            authorized, denial = self._check_auth(headers)
            reply = denial or self._dispatch(method, parts.path, parts.query, headers, body)
            if pacing is not None:
                pacing.record(target, waited, reply.status)
            self._record(RecordedRequest(method, parts.path, parts.query, reply.status, authorized))
            return reply
        finally:
            with self._lock:
                self._in_flight -= 1

    def _dispatch(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> Reply:
        if unquote(path).rstrip("/").lower() == f"{_PREFIX}/$batch".lower():
            return self._batch(method, headers, body)
        return self._answer(method, path, query, headers, body, in_batch=False)

    def _answer(
        self,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
        *,
        in_batch: bool,
    ) -> Reply:
        try:
            if not path.lower().startswith(_PREFIX.lower() + "/"):
                raise unknown_segment(path)
            sub = unquote(path[len(_PREFIX) :])
            found = self._router.resolve(sub)
            if found is None:
                raise unknown_segment(sub)
            if method != "GET":
                return error_reply(
                    405, "Request_BadRequest", f"The HTTP method '{method}' is not allowed."
                )
            source, handler, match = found
            params = dict(parse_qsl(query, keep_blank_values=True))
            request = Request(method, sub, params, headers, body, self.base_url)
            fault = self._fault(source, request, in_batch=in_batch)
            return fault or handler(request, match)
        except ODataFault as fault:
            return fault.reply()

    def _check_auth(self, headers: dict[str, str]) -> tuple[bool, Reply | None]:
        value = headers.get("authorization")
        if value is None:
            if self.require_auth:
                return False, error_reply(
                    401, "InvalidAuthenticationToken", "Access token is empty."
                )
            return False, None
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return False, error_reply(
                401, "InvalidAuthenticationToken", "Access token validation failure."
            )
        return True, None

    def _fault(self, source: str, req: Request, *, in_batch: bool) -> Reply | None:
        faults = self.faults
        sign_in = source == "users" and SIGN_IN in req.query.get("$select", "")
        if source in faults.forbidden or (sign_in and "sign_in_activity" in faults.forbidden):
            message = "Insufficient privileges to complete the operation."
            return error_reply(403, "Authorization_RequestDenied", message)
        if source in faults.expired_tokens and "$skiptoken" in req.query:
            return expired_token().reply()
        if in_batch:
            return None
        pacing = self.pacing
        throttled = pacing.admit(req.path, req.query) if pacing is not None else None
        if throttled is not None:
            message = "Please retry again later."  # Graph's sample 429 (learn.microsoft.com/graph/throttling)
            return error_reply(429, "TooManyRequests", message, Retry_After=str(throttled))
        with self._lock:
            cut = faults.outage_after is not None and len(self._requests) >= faults.outage_after
            wait = None if cut else self._bucket.take()
            if wait is None and faults.throttle_rate and self._rng.random() < faults.throttle_rate:
                wait = faults.retry_after
            status = 0
            if wait is None and faults.error_rate and self._rng.random() < faults.error_rate:
                status = self._rng.choice(faults.error_statuses)
        if cut:
            return error_reply(500, "generalException", "The service is unreachable (outage).")
        if wait is not None:
            seconds = str(max(0, math.ceil(wait)))
            return error_reply(429, "TooManyRequests", "Too many requests.", Retry_After=seconds)
        if status:
            code = _ERROR_CODES.get(status, "UnknownError")
            return error_reply(status, code, f"The service returned {status} (injected fault).")
        return None

    def _batch(self, method: str, headers: dict[str, str], body: bytes) -> Reply:
        if method != "POST":
            return error_reply(
                405, "Request_BadRequest", f"The HTTP method '{method}' is not allowed."
            )
        try:
            parts = _batch_parts(body)
        except ODataFault as fault:
            return fault.reply()
        return json_reply({"responses": [self._batch_part(part, headers) for part in parts]})

    def _batch_part(self, part: JSON, outer: dict[str, str]) -> JSON:
        target = str(part["url"])
        target = target if target.startswith("/") else "/" + target
        parts = urlsplit(_PREFIX + target)
        inner = {str(k).lower(): str(v) for k, v in (part.get("headers") or {}).items()}
        headers = {**{k: v for k, v in outer.items() if k == "authorization"}, **inner}
        reply = self._answer("GET", parts.path, parts.query, headers, b"", in_batch=True)
        authorized = "authorization" in headers
        self._record(
            RecordedRequest("GET", parts.path, parts.query, reply.status, authorized, True)
        )
        out_headers = {
            k: v for k, v in reply.headers.items() if k in ("Content-Type", "Retry-After")
        }
        return {
            "id": part["id"],
            "status": reply.status,
            "headers": out_headers,
            "body": orjson.Fragment(reply.body),
        }

    def _record(self, entry: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(entry)


def _batch_parts(body: bytes) -> list[JSON]:
    """The inner requests of a JSON batch, refused unless every one of them is a GET."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        payload = None
    parts = payload.get("requests") if isinstance(payload, dict) else None
    valid = isinstance(parts, list) and all(
        isinstance(p, dict) and "id" in p and "method" in p and "url" in p for p in parts
    )
    if not valid or not parts:
        raise ODataFault(400, "BadRequest", "Invalid batch payload format.")
    if len(parts) > _MAX_BATCH:
        message = f"Number of batch request steps exceeds the maximum of {_MAX_BATCH}."
        raise ODataFault(400, "BadRequest", message)
    if any(str(p["method"]).upper() != "GET" for p in parts):
        message = "Only GET requests are accepted inside $batch by this read-only emulator."
        raise ODataFault(400, "BadRequest", message)
    return cast(list[JSON], parts)


class _Bucket:
    """A token bucket of ``rate`` requests per second (burst: one second's worth)."""

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self.tokens = rate or 0.0
        self.stamp = time.monotonic()

    def take(self) -> float | None:
        """None when the request may pass, else the seconds until it would."""
        if not self.rate:
            return None
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        return max(1.0, (1 - self.tokens) / self.rate)


class _Server(ThreadingHTTPServer):
    """One thread per connection; remembers them so :meth:`close_connections` can end them."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], handler: type[_Handler], emulator: GraphEmulator):
        super().__init__(address, handler)
        self.emulator = emulator
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (a cancelled partition, a test's fault) is not a server error;
        anything else is printed as usual."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    """Reads the request, asks the emulator, writes the reply (HTTP/1.1 keep-alive)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else each keep-alive response waits ~40 ms for a delayed ACK

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        emulator = cast(_Server, self.server).emulator
        reply = emulator.serve(self.command, self.path, headers, body)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr log."""
