"""What ``b2b-preflight targets`` and ``rules --target`` print: the target profiles with their
documented facts and sources, the README's table of targets, and which rules run for a target."""

from __future__ import annotations

from typing import Any

from audit.analysis.engine import worded
from audit.rules import all_rules
from audit.targets import AUTO, DEFAULT_TARGET, FALLBACK_TARGET, Target

__all__ = ["rules_for_target_lines", "target_dict", "target_lines", "targets_markdown"]

UNKNOWN = "not documented"


def _known(value: object) -> str:
    if value is None or value == "" or value == ():
        return UNKNOWN
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _tri(value: bool | None, yes: str, no: str, unknown: str = UNKNOWN) -> str:
    return unknown if value is None else yes if value else no


def _domains(target: Target) -> str:
    head = _tri(target.verifies_domains, "verified domains matter", "no verified domains")
    return f"{head}: {target.unverified_meaning}"


def _guests(target: Target) -> str:
    head = _tri(
        target.guest_role,
        "own guest role provisionable",
        "own guests not provisionable",
        "own guest role " + UNKNOWN,
    )
    return f"{head}; {target.guests_note}"


def target_dict(target: Target) -> dict[str, Any]:
    """A profile's facts as JSON-ready data (None where not documented)."""
    rules = target.key_rules
    return {
        "name": target.name,
        "title": target.title,
        "gallery_app": list(target.app_display_names),
        "application_template_ids": list(target.application_template_ids),
        "key_attribute": target.key_attribute or None,
        "key_constraints": target.key_constraints,
        "key_case_insensitive": rules.case_insensitive,
        "key_unique_in": rules.scope,
        "key_source": rules.source or None,
        "email_attribute": target.email_attribute or None,
        "default_mapping": target.default_mapping,
        "recommended_mapping": target.recommended_mapping,
        "matching_attributes": _list(target.matching_attributes),
        "filterable_attributes": _list(target.filterable_attributes),
        "verifies_domains": target.verifies_domains,
        "unverified_meaning": target.unverified_meaning,
        "verify_hint": target.verify_hint,
        "vendor_txt_prefix": target.vendor_txt_prefix,
        "guest_role": target.guest_role,
        "guests": target.guests_note,
        "console": target.console,
        "rate_limit": target.rate_limit,
        "limitations": list(target.limitations),
        "not_documented": list(target.not_documented),
        "sources": list(target.sources),
    }


def _list(values: tuple[str, ...] | None) -> list[str] | None:
    return None if values is None else list(values)


def target_lines(targets: list[Target]) -> list[str]:
    """Each profile's facts, then its sources; "not documented" where the vendor says nothing."""
    lines = [
        f"--target auto (the default) picks the profile from the collected app; an app that matches "
        f"none runs as {FALLBACK_TARGET}, and without an app the default is {DEFAULT_TARGET}.",
        "",
    ]
    for t in targets:
        mapping = ", ".join(f"{k} <- {v}" for k, v in t.default_mapping.items())
        facts = [
            ("gallery app", " | ".join(t.app_display_names)),
            ("key", f"{_known(t.key_attribute)}: {t.key_constraints}"),
            ("key unique in", _known(t.key_rules.scope)),
            ("e-mail", _known(t.email_attribute)),
            ("default mapping", mapping or UNKNOWN),
            ("matching", _known(t.matching_attributes)),
            ("filterable", _known(t.filterable_attributes)),
            ("domains", _domains(t)),
            ("verify", t.verify_hint),
            ("TXT prefix", _known(t.vendor_txt_prefix)),
            ("guests", _guests(t)),
            ("console", t.console),
            ("rate limit", _known(t.rate_limit)),
            ("not documented", _known(t.not_documented)),
        ]
        lines.append(f"{t.name}  {t.title}")
        lines += [f"  {label:16} {value}" for label, value in facts]
        lines += [f"  limitation       {item}" for item in t.limitations]
        lines += [f"  source           {url}" for url in t.sources]
        lines.append("")
    return lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def targets_markdown() -> str:
    """The README's table of targets, generated from the profiles."""
    from audit.targets import all_targets

    head = "| id | gallery app | key | max length | stored form | e-mail | matching (filterable) |"
    head += " unverified domain | TXT prefix |"
    lines = [head, "|---|---|---|---|---|---|---|---|---|"]
    for t in all_targets().values():
        matching = f"{_known(t.matching_attributes)} ({_known(t.filterable_attributes)})"
        verifies = _tri(t.verifies_domains, "matters", "does not apply")
        key = f"`{t.key_attribute}`" if t.key_attribute else UNKNOWN
        email = f"`{t.email_attribute}`" if t.email_attribute else UNKNOWN
        txt = f"`{t.vendor_txt_prefix}`" if t.vendor_txt_prefix else UNKNOWN
        rules = t.key_rules
        stored = "normalised" if rules.normalise else "as sent"
        extra = [rules.pattern_text] if rules.pattern_text else []
        extra += [f"never on {d}" for d in rules.rejected_domains]
        extra += ["on a domain verified there"] if rules.on_verified_domain else []
        stored = "; ".join([stored, *extra])
        cells = [f"`{t.name}`", " / ".join(t.app_display_names), key, _length(t), stored, email]
        cells += [matching, verifies, txt]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def _length(target: Target) -> str:
    rules = target.key_rules
    if rules.max_length is None:
        return UNKNOWN
    text = str(rules.max_length)
    if rules.suffix_length != (0, 0):
        text += f" incl. a {rules.suffix_length[0]}-{rules.suffix_length[1]} character suffix"
    if rules.strict_max_length is not None and rules.strict_max_length != rules.max_length:
        text += f" ({rules.strict_max_length} in another documented case)"
    return text


def rules_for_target_lines(target: Target) -> list[str]:
    """Every rule with whether it runs for ``target`` (in its words) or why not."""
    lines = [f"rules for {target.name} ({target.title}); `{AUTO}` picks a profile from the app"]
    for rule in all_rules():
        why = rule.why_not(target)
        state = "runs" if why is None else "skipped"
        shown = worded(rule, target)
        lines.append(f"{rule.id:32} {rule.severity.value:7} {state:8} {shown.title}")
        if why is not None:
            lines.append(f"{'':32} {'':7} {'':8} ({why})")
    return lines
