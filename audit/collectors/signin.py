"""Signing in, told apart from reading: which credential is wrong, and how to fix it.

``doctor`` gets a token first, so a wrong tenant, client id, secret or certificate, or no route to
the sign-in service, is one line naming the credential and the fix, instead of every source
"failing" with a permission hint that does not apply. Entra's error codes are documented at
https://learn.microsoft.com/entra/identity-platform/reference-error-codes (the ``AADSTS`` codes
below); the messages never carry a secret (azure-identity's own do not, and only the first line
of them is kept).
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass

from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError

from audit.collectors.auth import cloud_endpoints
from audit.collectors.pipeline import CollectOptions, options_credential
from audit.errors import ConfigError

__all__ = ["SignInProblem", "sign_in", "sign_in_problem"]

_REGISTRATION = "Entra admin center > App registrations > your app"


@dataclass(frozen=True)
class SignInProblem:
    """What is wrong with signing in: one line, and the exit code (2: a setting, 3: the service)."""

    message: str
    exit_code: int = 2


# AADSTS code -> (what is wrong, the fix); reference-error-codes (see the module docstring).
_CODES: dict[str, tuple[str, str]] = {
    "90002": (
        "the tenant was not found in this cloud",
        "check --tenant-id / AZURE_TENANT_ID (Entra admin center > Overview > Tenant ID) and --cloud",
    ),
    "900023": (
        "the tenant id is neither a tenant GUID nor one of its domains",
        "check --tenant-id / AZURE_TENANT_ID (Entra admin center > Overview > Tenant ID)",
    ),
    "700016": (
        "no application with this client id in the tenant",
        f"check --client-id / AZURE_CLIENT_ID ({_REGISTRATION} > Application (client) ID) and "
        "that the app is registered in this tenant",
    ),
    "7000215": (
        "the client secret is wrong",
        f"set AZURE_CLIENT_SECRET to the secret's Value, not its Secret ID ({_REGISTRATION} > "
        "Certificates & secrets)",
    ),
    "7000222": (
        "the client secret has expired",
        f"create a new client secret ({_REGISTRATION} > Certificates & secrets) and set "
        "AZURE_CLIENT_SECRET",
    ),
    "700027": (
        "the certificate is not registered for this app",
        f"upload its public key ({_REGISTRATION} > Certificates & secrets > Certificates), or "
        "point --certificate at the private key of the uploaded one",
    ),
    "7000112": (
        "the application is disabled",
        "enable its enterprise application (Enterprise applications > your app > Properties)",
    ),
    "53003": (
        "a Conditional Access policy blocked the sign-in",
        "exclude the app's service principal from the policy or run from an allowed location",
    ),
}
_CODE = re.compile(r"AADSTS(\d+)")


async def sign_in(options: CollectOptions) -> SignInProblem | None:
    """Get a Graph token as ``options`` say; None when that works or when no
    token is needed (``--auth none`` against the loopback emulator)."""
    endpoints = cloud_endpoints(options.cloud)
    try:
        credential = options_credential(options)
    except ConfigError:
        raise
    except ValueError as exc:  # azure-identity checks the tenant id and the certificate file
        return sign_in_problem(exc, options)
    if credential is None:
        return None
    try:
        token = credential.get_token(endpoints.graph_scope)
        if inspect.isawaitable(token):
            await token
    except Exception as exc:  # classified below; anything unforeseen keeps its first line
        return sign_in_problem(exc, options)
    finally:
        close = getattr(credential, "close", None)
        closed = close() if close is not None else None
        if inspect.isawaitable(closed):
            await closed
    return None


def sign_in_problem(exc: BaseException, options: CollectOptions) -> SignInProblem:
    """One line for a failed sign-in: the credential at fault and the fix."""
    text = _first_line(exc)
    mode = f"--auth {options.auth}"
    if isinstance(exc, ValueError):
        if "tenant" in text.lower():
            return SignInProblem(
                f"sign-in: --tenant-id / AZURE_TENANT_ID {options.tenant_id!r} is not a tenant "
                "id; give the Directory (tenant) ID GUID or a verified domain (Entra admin "
                "center > Overview)"
            )
        return SignInProblem(
            f"sign-in: the certificate {options.certificate_path!r} cannot be read ({text}); "
            "give a PEM or PFX file with the private key (AZURE_CLIENT_CERTIFICATE_PASSWORD if "
            "it has one)"
        )
    if isinstance(exc, ServiceRequestError):
        host = cloud_endpoints(options.cloud).authority_host
        return SignInProblem(
            f"sign-in: cannot reach {host} ({text}); check the network, the proxy "
            "(HTTPS_PROXY) and --cloud",
            exit_code=3,
        )
    code = _CODE.search(str(exc))
    if code and code.group(1) in _CODES:
        what, fix = _CODES[code.group(1)]
        return SignInProblem(f"sign-in ({mode}): {what} (AADSTS{code.group(1)}); {fix}")
    if isinstance(exc, ClientAuthenticationError):
        return SignInProblem(
            f"sign-in ({mode}) failed: {text}; check --tenant-id, --client-id and the secret "
            "or certificate"
        )
    return SignInProblem(f"sign-in ({mode}) failed: {type(exc).__name__}: {text}", exit_code=3)


def _first_line(exc: BaseException) -> str:
    """The first line of an exception's message, cut to 200 characters."""
    message = getattr(exc, "message", None) or str(exc)
    lines = str(message).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__
