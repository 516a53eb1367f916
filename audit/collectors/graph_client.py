"""The Graph client: msgraph-sdk's request adapter and default middleware, plus our own counter.

:func:`make_graph_client` builds a ``GraphServiceClient`` whose httpx client runs the SDK's whole
middleware chain (auth, retry with ``Retry-After``, redirects, telemetry) with one more handler
innermost: :class:`~audit.collectors.graph_throttle._CountingHandler` counts every attempt, keeps
one throttling pause per Graph budget shared by the requests of a collection, paces the reports
service and caps a ``Retry-After`` that would stall the run. The httpx client
and its connection pool are ours (built from the SDK's public parts, kept by the adapter), so
:func:`close_graph_client` closes them without reaching into the SDK.
"""

from __future__ import annotations

import functools
import importlib
import urllib.request
import warnings
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
from kiota_abstractions.authentication import AnonymousAuthenticationProvider
from kiota_http import kiota_client_factory
from kiota_http.kiota_client_factory import KiotaClientFactory
from kiota_http.middleware.options import RetryHandlerOption, UrlReplaceHandlerOption
from msgraph._version import VERSION as SDK_VERSION
from msgraph.graph_request_adapter import GraphRequestAdapter
from msgraph.graph_service_client import GraphServiceClient
from msgraph_core import APIVersion
from msgraph_core.authentication import AzureIdentityAuthenticationProvider
from msgraph_core.middleware import AsyncGraphTransport, GraphTelemetryHandler
from msgraph_core.middleware.options import GraphTelemetryHandlerOption

from audit.collectors.auth import Credential, cloud_endpoints, is_loopback
from audit.collectors.graph_throttle import MAX_PAUSE as _MAX_PAUSE
from audit.collectors.graph_throttle import _CountingHandler
from audit.errors import ConfigError

__all__ = ["MAX_RETRY_WAIT", "close_graph_client", "make_graph_client", "release_on_close"]

MAX_RETRY_WAIT = 120.0
"""Default cap (seconds) on a ``Retry-After`` wait: a longer one is shortened to this and counted."""


# SDK quirk: every generated request builder (and one kiota module) emits a DeprecationWarning while
# its module body runs, i.e. on first import, and the SDK imports builders lazily on attribute
# access. _quiet_sdk_imports() imports the ones we use once, with that warning silenced.
_SDK_MODULES = (
    "kiota_abstractions.default_query_parameters",
    *(
        f"msgraph.generated.{path}"
        for path in (
            "organization.organization_request_builder",
            "domains.domains_request_builder",
            "users.users_request_builder",
            "users.item.user_item_request_builder",
            "service_principals.service_principals_request_builder",
            "service_principals.item.service_principal_item_request_builder",
            "service_principals.item.app_role_assigned_to.app_role_assigned_to_request_builder",
            "service_principals.item.synchronization.synchronization_request_builder",
            "service_principals.item.synchronization.jobs.jobs_request_builder",
            "service_principals.item.synchronization.jobs.item."
            "synchronization_job_item_request_builder",
            "service_principals.item.synchronization.jobs.item.schema.schema_request_builder",
            "groups.groups_request_builder",
            "groups.item.group_item_request_builder",
            "groups.item.members.members_request_builder",
            "audit_logs.audit_logs_request_builder",
            "audit_logs.provisioning.provisioning_request_builder",
        )
    ),
)


@functools.cache
def _quiet_sdk_imports() -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(msgraph|kiota)")
        for module in _SDK_MODULES:
            importlib.import_module(module)


def make_graph_client(
    *,
    base_url: str,
    credential: Credential | None,
    cloud: str = "global",
    max_retries: int = 5,
    retry_delay: float = 1.0,
    max_wait: float = MAX_RETRY_WAIT,
) -> GraphServiceClient:
    """A GraphServiceClient on ``base_url``: the SDK's default middleware plus a request counter.

    The token goes only to the cloud's Graph host and the ``base_url`` host (explicit
    ``allowed_hosts``). Without a credential, no Authorization header is sent, which is allowed for
    a loopback URL only. ``retry_delay`` is the SDK's base delay added to its exponential backoff
    when a 503/504 carries no ``Retry-After``. A ``Retry-After`` above ``max_wait`` seconds is
    shortened to ``max_wait`` (at least 1 s) and counted (``GraphData.capped_waits``), so a server
    asking for an hour neither stalls the run nor, beyond the SDK's 180 s limit, fails it at once.
    """
    _quiet_sdk_imports()
    endpoints = cloud_endpoints(cloud)
    url = base_url.rstrip("/")
    loopback = is_loopback(url)
    if urlsplit(url).scheme != "https" and not loopback:
        raise ConfigError(f"Graph URL must use https: {url}")
    if credential is None:
        if not loopback:
            raise ConfigError("a credential is required for a Graph URL that is not loopback")
        provider: Any = AnonymousAuthenticationProvider()
    else:
        hosts = sorted({endpoints.graph_host, str(urlsplit(url).hostname)})
        provider = AzureIdentityAuthenticationProvider(
            credential, scopes=[endpoints.graph_scope], allowed_hosts=hosts
        )
    http = _HttpClient(url, max_retries, retry_delay, max(1.0, min(max_wait, _MAX_PAUSE - 1)))
    adapter = _Adapter(provider, http)
    adapter.base_url = url
    return GraphServiceClient(request_adapter=adapter)


async def close_graph_client(client: GraphServiceClient) -> None:
    """Close the connection pool of a client made by :func:`make_graph_client` (a no-op for
    any other client)."""
    adapter = client.request_adapter
    if isinstance(adapter, _Adapter):
        await adapter.http.close()


class _Adapter(GraphRequestAdapter):
    """The SDK's request adapter on our HTTP client, which it keeps (to close it)."""

    def __init__(self, provider: Any, http: _HttpClient) -> None:
        super().__init__(provider, client=http.client)
        self.http = http


class _HttpClient:
    """httpx with the SDK's default middleware (as GraphRequestAdapter builds it) + our counter,
    on a connection pool we create and close ourselves.

    Built from public parts: the pipeline of
    ``KiotaClientFactory.create_middleware_pipeline`` in msgraph-core's ``AsyncGraphTransport``
    (which adds the SDK's request context), over an ``httpx.AsyncHTTPTransport`` that uses the
    environment's proxy for the Graph host (``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``, as
    :func:`urllib.request.getproxies` reads them; never for a loopback URL). SDK quirk:
    ``AsyncGraphTransport`` has no ``aclose()``, so closing the ``httpx.AsyncClient`` would leave
    the pooled connections open; :meth:`close` closes the pool too.
    """

    def __init__(self, url: str, max_retries: int, retry_delay: float, max_wait: float) -> None:
        options: dict[str, Any] = {
            RetryHandlerOption.get_key(): RetryHandlerOption(retry_delay, max_retries),
            UrlReplaceHandlerOption.get_key(): UrlReplaceHandlerOption(
                enabled=True, replacement_pairs={"/users/me-token-to-replace": "/me"}
            ),
        }
        telemetry = GraphTelemetryHandlerOption(api_version=APIVersion.v1, sdk_version=SDK_VERSION)
        middleware = KiotaClientFactory.get_default_middleware(options)
        middleware += [GraphTelemetryHandler(options=telemetry), _CountingHandler(max_wait)]
        self.pool = httpx.AsyncHTTPTransport(http2=True, proxy=_proxy_for(url))
        pipeline = KiotaClientFactory.create_middleware_pipeline(middleware, self.pool)
        timeout = httpx.Timeout(  # the SDK's defaults (100 s, 30 s to connect)
            kiota_client_factory.DEFAULT_REQUEST_TIMEOUT,
            connect=kiota_client_factory.DEFAULT_CONNECTION_TIMEOUT,
        )
        self.client = httpx.AsyncClient(
            transport=AsyncGraphTransport(transport=self.pool, pipeline=pipeline),
            timeout=timeout,
            event_hooks={"response": [release_on_close]},
        )

    async def close(self) -> None:
        """Close the client and its connection pool."""
        await self.client.aclose()
        await self.pool.aclose()


def _proxy_for(url: str) -> str | None:
    """The environment's proxy for requests to ``url`` (None: connect directly)."""
    if is_loopback(url):
        return None
    parts = urlsplit(url)
    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(parts.scheme) or proxies.get("all")


async def release_on_close(response: httpx.Response) -> None:
    """httpx response hook: once the body is read and the stream closed, the response no longer
    refers to its stream, so it is not part of a reference cycle.

    httpx makes every response such a cycle (the response holds its stream, the stream the
    response): freed only by the cyclic garbage collector, which a collection that allocates
    little (pages become columns and are dropped) runs rarely, with each page's body inside.
    """
    response.stream = _Releasing(response)


class _Releasing(httpx.AsyncByteStream):
    """Wraps a response's stream; on close, detaches itself from the response."""

    def __init__(self, response: httpx.Response) -> None:
        stream = response.stream
        if not isinstance(stream, httpx.AsyncByteStream):
            raise TypeError("release_on_close needs an async client")
        self._stream: httpx.AsyncByteStream = stream
        self._response: httpx.Response | None = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()  # httpx's own stream: sets response.elapsed
        finally:
            response, self._response = self._response, None
            if response is not None:
                response.stream = _CLOSED


class _Closed(httpx.AsyncByteStream):
    """The stream a read and closed response keeps: empty."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        return
        yield  # pragma: no cover


_CLOSED = _Closed()
