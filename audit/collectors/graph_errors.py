"""Graph failures as clean, token-free messages: what a failed source's status says.

:class:`Problem` is a source-level failure with an HTTP status; :func:`describe` turns whatever the
SDK, httpx or azure-identity raised into one (``EXPECTED`` lists what a source may fail with), with
anything shaped like a token masked (:func:`clip`). Split from :mod:`audit.collectors.graph_io`.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from azure.core.exceptions import AzureError, ClientAuthenticationError
from kiota_abstractions.api_error import APIError
from msgraph.generated.models.o_data_errors.o_data_error import ODataError

__all__ = ["EXPECTED", "Problem", "clip", "describe", "first_leaf"]


class Problem(Exception):
    """A source-level failure with a clean message (no token, no traceback) and HTTP status;
    ``detail`` goes into the source's status (e.g. the closest names of an app not found)."""

    def __init__(
        self, message: str, status: int | None = None, detail: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail or {}


EXPECTED = (APIError, httpx.HTTPError, AzureError, Problem)  # AzureError: getting a token


def first_leaf(group: BaseExceptionGroup[Any]) -> BaseException:
    first = group.exceptions[0]
    return first_leaf(first) if isinstance(first, BaseExceptionGroup) else first


def describe(exc: BaseException) -> Problem:
    """A short, token-free description of what went wrong, with the HTTP status if any."""
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, ODataError) and exc.error is not None:
        status = exc.response_status_code
        return Problem(clip(f"HTTP {status} {exc.error.code}: {exc.error.message}"), status)
    if isinstance(exc, APIError):
        return Problem(f"HTTP {exc.response_status_code}", exc.response_status_code)
    if isinstance(exc, ClientAuthenticationError):
        first_line = str(exc.message or exc).strip().splitlines()[0] if str(exc).strip() else ""
        return Problem(clip(f"authentication failed: {first_line}"))
    if isinstance(exc, AzureError):
        first_line = str(exc.message or exc).strip().splitlines()[0] if str(exc).strip() else ""
        return Problem(clip(f"cannot get an access token: {type(exc).__name__}: {first_line}"))
    if isinstance(exc, httpx.TimeoutException):
        return Problem(f"Graph did not answer in time ({type(exc).__name__})")
    if isinstance(exc, httpx.TransportError) and not isinstance(exc, httpx.ConnectError):
        said = f": {exc}" if str(exc) else ""
        return Problem(clip(f"the connection to Graph broke ({type(exc).__name__}{said})"))
    return Problem(clip(f"cannot reach Graph: {type(exc).__name__}: {exc}"))


def clip(text: str, limit: int = 400) -> str:
    """``text`` cut to ``limit`` characters, with anything shaped like a token masked: a server
    (or a proxy) echoing the request's Authorization header must not put it in our messages."""
    text = TOKEN_LIKE.sub("[token]", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


TOKEN_LIKE = re.compile(r"(?i)(?<=bearer )\S+|eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*")
