"""The shape of a target profile, and how rule texts take a target's words."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields

import pandas as pd

__all__ = ["KeyRules", "Target", "words"]


@dataclass(frozen=True)
class KeyRules:
    """The documented constraints of the target's key attribute (None: not documented, unknown).

    ``pattern`` is a regular expression the whole key must match; ``normalise`` turns keys into
    the form the target stores (so keys that collide after it are duplicates); ``scope`` says
    where the key must be unique (``"organization"``, ``"enterprise"``, ``"cloud"``...).
    """

    max_length: int | None = None
    pattern: str | None = None
    case_insensitive: bool | None = True
    scope: str | None = None
    normalise: Callable[[pd.Series], pd.Series] | None = None
    source: str = ""


@dataclass(frozen=True)
class Target:
    """One SaaS target profile; every fact carries the page it comes from in ``sources``.

    ``verifies_domains`` is None when the vendor documents nothing about verifying e-mail
    domains (rules that need it are then not evaluated for this target).
    """

    name: str
    title: str
    app_display_names: tuple[str, ...]
    key_attribute: str
    email_attribute: str
    default_mapping: dict[str, str]
    recommended_mapping: dict[str, str]
    recommended_precondition: str
    vendor_txt_prefix: str | None
    verifies_domains: bool | None
    unverified_meaning: str
    verify_hint: str
    console: str
    sources: tuple[str, ...] = ()
    application_template_ids: tuple[str, ...] = ()
    key_rules: KeyRules = field(default_factory=KeyRules)

    @property
    def app_display_name(self) -> str:
        """The gallery app's usual display name (the first of ``app_display_names``)."""
        return self.app_display_names[0]

    @property
    def recommended_email(self) -> str:
        """The recommended guest mapping's expression for the e-mail attribute."""
        return self.recommended_mapping.get(self.email_attribute, "")


_FIELD = re.compile(r"\{target\.([a-z_]+)\}")
_TEXT_FIELDS = frozenset(f.name for f in fields(Target)) | {"app_display_name", "recommended_email"}


def words(text: str, target: Target) -> str:
    """``text`` with each ``{target.<field>}`` replaced by the target's value (other braces kept).

    Rule titles, rationales and remediations are written once for every target; this is how they
    name the target's product, console and verification steps.
    """

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in _TEXT_FIELDS:
            raise ValueError(f"unknown target field {{target.{name}}} in a rule text")
        return str(getattr(target, name))

    return _FIELD.sub(value, text)
