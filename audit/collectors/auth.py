"""Credentials for Microsoft Graph: azure-identity, one function, every supported sign-in mode.

The caller owns the returned credential and closes it (``await credential.close()`` for the async
ones). Secrets are passed straight to azure-identity and never logged, formatted into messages or
kept on our objects; a missing setting is reported by the name of its environment variable only.

azure-identity's own errors quote what the token endpoint answered, and an endpoint may echo the
request it got: a managed-identity endpoint put ``X-IDENTITY-HEADER: <secret>`` into its error
text. So every credential is wrapped: a failure to get a token is raised again with its message
scrubbed (:func:`audit.errors.scrub`) and without the original exception (whose response still
holds the raw text) chained to it, before anything can log, print or store it.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from azure.core.credentials import AccessToken, TokenCredential
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import AzureError, ClientAuthenticationError

from audit.errors import ConfigError, scrub

__all__ = ["CLOUDS", "MODES", "CloudEndpoints", "Credential", "is_loopback", "make_credential"]

Credential = AsyncTokenCredential | TokenCredential


@dataclass(frozen=True)
class CloudEndpoints:
    """Where a Microsoft cloud serves Graph and issues tokens (Graph docs: "deployments")."""

    name: str
    graph_url: str
    authority_host: str

    @property
    def graph_host(self) -> str:
        """The Graph host name, the only host that ever receives our token."""
        return str(urlsplit(self.graph_url).hostname)

    @property
    def graph_base_url(self) -> str:
        """The v1.0 service root."""
        return f"{self.graph_url}/v1.0"

    @property
    def graph_scope(self) -> str:
        """The app-only ``.default`` scope; national clouds need their own Graph host here."""
        return f"{self.graph_url}/.default"


CLOUDS: dict[str, CloudEndpoints] = {
    "global": CloudEndpoints("global", "https://graph.microsoft.com", "login.microsoftonline.com"),
    "usgov": CloudEndpoints("usgov", "https://graph.microsoft.us", "login.microsoftonline.us"),
    "usgov-dod": CloudEndpoints(
        "usgov-dod", "https://dod-graph.microsoft.us", "login.microsoftonline.us"
    ),
    "china": CloudEndpoints(
        "china", "https://microsoftgraph.chinacloudapi.cn", "login.chinacloudapi.cn"
    ),
}
MODES = (
    "none",
    "secret",
    "certificate",
    "managed-identity",
    "azure-cli",
    "device-code",
    "workload-identity",
    "default",
)


def cloud_endpoints(cloud: str) -> CloudEndpoints:
    """The endpoints of a cloud by name, or a :class:`ConfigError` listing the valid names."""
    try:
        return CLOUDS[cloud]
    except KeyError:
        raise ConfigError(f"unknown cloud {cloud!r}; choose one of {', '.join(CLOUDS)}") from None


def is_loopback(url: str) -> bool:
    """True when ``url`` points at this machine (the emulator), where no token is needed."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def make_credential(
    mode: str,
    *,
    tenant_id: str | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
    certificate_path: str | None = None,
    certificate_password: str | None = None,
    cloud: str = "global",
    base_url: str | None = None,
) -> Credential | None:
    """An azure-identity credential for ``mode`` (see :data:`MODES`); None for ``"none"``.

    Arguments left as None fall back to the standard variables (``AZURE_TENANT_ID``,
    ``AZURE_CLIENT_ID``, ``AZURE_CLIENT_SECRET``, ``AZURE_CLIENT_CERTIFICATE_PATH``,
    ``AZURE_CLIENT_CERTIFICATE_PASSWORD``, ``AZURE_FEDERATED_TOKEN_FILE``). ``"none"`` sends no
    token and is only allowed when ``base_url`` is a loopback URL (the emulator).
    """
    endpoints = cloud_endpoints(cloud)
    if mode == "none":
        if base_url is None or not is_loopback(base_url):
            raise ConfigError(
                "auth mode 'none' is only allowed for a loopback Graph URL (the demo)"
            )
        return None
    settings = _Settings(
        tenant_id, client_id, client_secret, certificate_path, certificate_password
    )
    builder = _BUILDERS.get(mode)
    if builder is None:
        raise ConfigError(f"unknown auth mode {mode!r}; choose one of {', '.join(MODES)}")
    credential = builder(settings, endpoints.authority_host)
    if isinstance(credential, AsyncTokenCredential):
        return _ScrubbedAsync(credential)
    return _ScrubbedSync(credential)


def _scrubbed(exc: Exception) -> Exception:
    """``exc`` made again with its message scrubbed: the same Azure error class where it can be,
    else a :class:`ClientAuthenticationError` naming the original class."""
    said = getattr(exc, "message", None) or str(exc)
    message = scrub(str(said))
    if isinstance(exc, AzureError):
        try:
            return type(exc)(message)
        except Exception:  # an Azure error class with a constructor of its own
            return ClientAuthenticationError(message=f"{type(exc).__name__}: {message}")
    return ClientAuthenticationError(message=f"{type(exc).__name__}: {message}")


class _ScrubbedAsync:
    """An async credential whose failures carry no secret (see the module docstring)."""

    def __init__(self, credential: AsyncTokenCredential) -> None:
        self._credential = credential

    def __repr__(self) -> str:
        return f"<{type(self._credential).__name__}, errors scrubbed>"

    @property
    def wrapped(self) -> AsyncTokenCredential:
        """The azure-identity credential inside."""
        return self._credential

    async def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        """The wrapped credential's token; its failure raised again, scrubbed."""
        try:
            return await self._credential.get_token(
                *scopes, claims=claims, tenant_id=tenant_id, enable_cae=enable_cae, **kwargs
            )
        except Exception as exc:
            raise _scrubbed(exc) from None

    async def close(self) -> None:
        """Close the wrapped credential."""
        await self._credential.close()

    async def __aenter__(self) -> _ScrubbedAsync:
        await self._credential.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self._credential.__aexit__(exc_type, exc_value, traceback)


class _ScrubbedSync:
    """A synchronous credential (device code) whose failures carry no secret."""

    def __init__(self, credential: TokenCredential) -> None:
        self._credential = credential

    def __repr__(self) -> str:
        return f"<{type(self._credential).__name__}, errors scrubbed>"

    @property
    def wrapped(self) -> TokenCredential:
        """The azure-identity credential inside."""
        return self._credential

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        """The wrapped credential's token; its failure raised again, scrubbed."""
        try:
            return self._credential.get_token(
                *scopes, claims=claims, tenant_id=tenant_id, enable_cae=enable_cae, **kwargs
            )
        except Exception as exc:
            raise _scrubbed(exc) from None

    def close(self) -> None:
        """Close the wrapped credential."""
        close = getattr(self._credential, "close", None)
        if close is not None:
            close()


@dataclass(frozen=True, repr=False)
class _Settings:
    """Sign-in settings after the environment fallback; no ``repr``, so secrets never print."""

    tenant_id: str | None
    client_id: str | None
    client_secret: str | None
    certificate_path: str | None
    certificate_password: str | None

    def value(self, name: str, env: str) -> str | None:
        explicit = getattr(self, name)
        return str(explicit) if explicit else os.environ.get(env) or None

    def require(self, mode: str, *pairs: tuple[str, str]) -> list[str]:
        """The values of ``(attribute, env var)`` pairs, or one error naming every missing one."""
        values = [self.value(name, env) for name, env in pairs]
        missing = [env for (_, env), v in zip(pairs, values, strict=True) if not v]
        if missing:
            raise ConfigError(
                f"auth mode {mode!r} needs {', '.join(missing)} (or the matching option)"
            )
        return [str(v) for v in values]


_TENANT = ("tenant_id", "AZURE_TENANT_ID")
_CLIENT = ("client_id", "AZURE_CLIENT_ID")


def _secret(s: _Settings, authority: str) -> Credential:
    from azure.identity.aio import ClientSecretCredential

    tenant, client, secret = s.require(
        "secret", _TENANT, _CLIENT, ("client_secret", "AZURE_CLIENT_SECRET")
    )
    return ClientSecretCredential(tenant, client, secret, authority=authority)


def _certificate(s: _Settings, authority: str) -> Credential:
    from azure.identity.aio import CertificateCredential

    path_pair = ("certificate_path", "AZURE_CLIENT_CERTIFICATE_PATH")
    tenant, client, path = s.require("certificate", _TENANT, _CLIENT, path_pair)
    if not Path(path).is_file():
        raise ConfigError(f"certificate file not found: {path}")
    password = s.value("certificate_password", "AZURE_CLIENT_CERTIFICATE_PASSWORD")
    extra: dict[str, Any] = {"password": password} if password else {}
    return CertificateCredential(tenant, client, path, authority=authority, **extra)


def _managed_identity(s: _Settings, authority: str) -> Credential:
    from azure.identity.aio import ManagedIdentityCredential

    return ManagedIdentityCredential(client_id=s.value(*_CLIENT))


def _azure_cli(s: _Settings, authority: str) -> Credential:
    from azure.identity.aio import AzureCliCredential

    tenant = s.value(*_TENANT)
    return AzureCliCredential(tenant_id=tenant) if tenant else AzureCliCredential()


def _device_code(s: _Settings, authority: str) -> Credential:
    # azure.identity.aio has no device-code credential; the SDK accepts the synchronous one.
    from azure.identity import DeviceCodeCredential

    extra: dict[str, Any] = {"authority": authority}
    tenant = s.value(*_TENANT)
    if tenant:
        extra["tenant_id"] = tenant
    client = s.value(*_CLIENT)
    return DeviceCodeCredential(client, **extra) if client else DeviceCodeCredential(**extra)


def _workload_identity(s: _Settings, authority: str) -> Credential:
    from azure.identity.aio import WorkloadIdentityCredential

    tenant, client = s.require("workload-identity", _TENANT, _CLIENT)
    if not os.environ.get("AZURE_FEDERATED_TOKEN_FILE"):
        raise ConfigError("auth mode 'workload-identity' needs AZURE_FEDERATED_TOKEN_FILE")
    return WorkloadIdentityCredential(tenant_id=tenant, client_id=client, authority=authority)


def _default(s: _Settings, authority: str) -> Credential:
    from azure.identity.aio import DefaultAzureCredential

    return DefaultAzureCredential(authority=authority)


_BUILDERS = {
    "secret": _secret,
    "certificate": _certificate,
    "managed-identity": _managed_identity,
    "azure-cli": _azure_cli,
    "device-code": _device_code,
    "workload-identity": _workload_identity,
    "default": _default,
}
