"""Settings checked against the rule catalogue, the target and the snapshot.

These are the first-hour mistakes that would otherwise give a complete-looking, wrong report:
no verified domain for a target that verifies domains (every guest "unmanaged"), an exception for
a rule id that does not exist (it mutes nothing), a verification token of another vendor. They
are :class:`~audit.errors.ConfigError` (exit 2) with one line saying what to type instead.
Softer doubts (no verification token, an exception that matches nothing) become warnings shown
in the terminal and in the report's header (:func:`setting_warnings`).

Verified domains can also come from the target itself: a snapshot whose source of the target's
domains (``Target.evidence.domains``) was collected knows the organization's verified domains, so
the flag is not needed then.
"""

from __future__ import annotations

import difflib
from datetime import date

import pandas as pd

from audit.analysis.target_choice import target_for
from audit.analysis.waivers import Waiver, unused_waivers
from audit.config import AuditConfig
from audit.errors import ConfigError
from audit.rules import all_rules
from audit.snapshot import Snapshot
from audit.targets import Target, choose_target

__all__ = [
    "check_settings",
    "check_snapshot_settings",
    "domains_source",
    "require_verified_domains",
    "setting_warnings",
    "settings_view",
]


def domains_source(target: Target) -> str:
    """The snapshot source holding the domains the target's organization has verified: the
    profile's ``evidence.domains`` (else ``<target name>_domains``)."""
    return target.evidence.domains or f"{target.name}_domains"


def check_settings(config: AuditConfig, app: str | None = None) -> Target:
    """The target, once the settings that are wrong whatever the tenant are ruled out.

    For ``auto`` it is the profile whose gallery app ``app`` names (the one the run will read):
    a guess before collecting, confirmed from the collected app by
    :func:`check_snapshot_settings`.
    """
    _check_waiver_rules(config.exceptions)
    given = {"displayName": app} if app else None
    target = choose_target(config.target, given).target
    _check_token_vendor(config.verification_tokens, target)
    return target


def check_snapshot_settings(config: AuditConfig, snapshot: Snapshot) -> Target:
    """The target a snapshot is analysed for, once the settings are known to fit it: the checks
    of :func:`check_settings` and :func:`require_verified_domains` for that profile."""
    check_settings(config)
    target = target_for(snapshot, config).target
    _check_token_vendor(config.verification_tokens, target)
    require_verified_domains(config, target, snapshot)
    return target


def _check_waiver_rules(waivers: tuple[Waiver, ...]) -> None:
    """Every exception names a rule of the catalogue (or ``*``): a typo would mute nothing."""
    known = [rule.id for rule in all_rules()]
    for waiver in waivers:
        if waiver.rule == "*" or waiver.rule in known:
            continue
        close = difflib.get_close_matches(waiver.rule, known, n=1, cutoff=0.6)
        hint = f'rule = "{close[0]}"' if close else 'a rule id from "b2b-preflight rules" or "*"'
        raise ConfigError(
            f"exception for {waiver.match!r}: unknown rule id {waiver.rule!r}; write {hint}"
        )


def _check_token_vendor(tokens: tuple[str, ...], target: Target) -> None:
    """A token given with another vendor's record name (``google-site-verification=``) is the
    wrong token: it would mark every domain with our real token as claimed elsewhere."""
    prefix = target.vendor_txt_prefix
    if not prefix:
        return
    for token in tokens:
        name, sep, _ = token.partition("=")
        if sep and "verification" in name.lower() and name.lower() + "=" != prefix.lower():
            raise ConfigError(
                f"--verification-token {token!r} is a {name} record, not {target.title}'s; "
                f"type --verification-token {prefix}<your token>"
            )


def require_verified_domains(
    config: AuditConfig,
    target: Target,
    snapshot: Snapshot | None = None,
    *,
    evidence_requested: bool = False,
) -> None:
    """Refuse to analyse without any verified domain for a target that verifies domains.

    Satisfied by ``verified_domains``, by ``no_verified_domains`` (said on purpose), by the
    target's own list in the snapshot, or, before collecting, by a collection that will read
    that list (``evidence_requested``).
    """
    if not target.verifies_domains or config.verified_domains or config.no_verified_domains:
        return
    source = domains_source(target)
    if snapshot is None and evidence_requested:
        return
    status = snapshot.sources.get(source) if snapshot is not None else None
    if status is not None and status.usable:
        return
    why = ""
    if status is not None and status.state.value == "failed":
        why = f" ({source} could not be read: {status.error or 'failed'})"
    raise ConfigError(
        f"no domain verified in {target.title} is known{why}: give --verified-domain "
        f"DOMAIN[,DOMAIN...] (the domains verified in {target.console}), or "
        f"--no-verified-domains if it has none yet"
    )


def settings_view(config: AuditConfig, target: Target, snapshot: Snapshot) -> dict[str, object]:
    """What the report's header says about the settings: where verified domains come from."""
    source = snapshot.sources.get(domains_source(target))
    from_target = source is not None and source.usable
    if config.verified_domains:
        domains = ", ".join(config.verified_domains)
    elif config.no_verified_domains:
        domains = f"none (--no-verified-domains: {target.title} has no verified domain yet)"
    elif from_target:
        domains = f"read from {target.title}"
    elif target.verifies_domains:
        domains = "none given"
    else:
        domains = f"not needed ({target.title} does not verify domains)"
    return {
        "verified_domains": domains,
        "no_verified_domains": config.no_verified_domains,
        "verification_tokens": len(config.verification_tokens),
        "exceptions": len(config.exceptions),
    }


def setting_warnings(
    config: AuditConfig,
    target: Target,
    findings: pd.DataFrame,
    frame: pd.DataFrame,
    today: date,
) -> list[str]:
    """Doubts about the settings, for the terminal and the report's header."""
    warnings = []
    if target.vendor_txt_prefix and not config.verification_tokens:
        warnings.append(
            f"no --verification-token given: domain-claimed-elsewhere cannot tell your own "
            f"{target.title} verification record ({target.vendor_txt_prefix}...) from another "
            f"organisation's, so its findings are less certain; add --verification-token "
            f"{target.vendor_txt_prefix}<your token>"
        )
    for waiver in unused_waivers(findings, frame, config.exceptions, today):
        warnings.append(
            f"exception {waiver.match!r} (rule {waiver.rule}) matches no finding: a typo in "
            f"its match, or the problem is gone; correct or remove it"
        )
    return warnings
