"""``--target auto``: pick the profile from the collected service principal.

The service principal of a gallery app records the gallery template it was created from
(``applicationTemplateId``: "Unique identifier of the applicationTemplate ... null if the service
principal wasn't created from an application template", Microsoft Graph servicePrincipal resource,
https://learn.microsoft.com/graph/api/resources/serviceprincipal). Microsoft documents the template
id of the non-gallery "Custom" application only (``8adf8e6e-67b2-4cf2-a259-e3dc5476c621``, Graph
applicationTemplate resource); gallery apps are recognised by their gallery display name, as the
provisioning tutorials name them (the service principal's ``displayName``, or its application's
``appDisplayName`` when the enterprise app was renamed). Nothing is guessed from partial names: an app
that matches no profile runs as ``generic-scim`` with a warning naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from audit.targets._profile import Target

__all__ = ["AUTO", "DEFAULT_TARGET", "FALLBACK_TARGET", "TargetChoice", "choose"]

AUTO = "auto"
DEFAULT_TARGET = "atlassian"
"""The profile used when no app was collected (and whose app ``collect`` reads by default)."""
FALLBACK_TARGET = "generic-scim"
"""The profile an app that matches no profile runs as."""


@dataclass(frozen=True)
class TargetChoice:
    """The profile an analysis uses, how it was chosen, and a warning when the choice is a default.

    ``mode`` is ``given`` (named with ``--target``) or ``auto``; ``matched_on`` names the service
    principal property that matched (``applicationTemplateId``, ``displayName``,
    ``appDisplayName``) or is None.
    """

    target: Target
    mode: str
    matched_on: str | None = None
    app: str | None = None
    warning: str | None = None

    @property
    def note(self) -> str:
        """One line for report headers: which profile and why."""
        if self.mode != AUTO:
            return f"{self.target.name} (given with --target)"
        if self.matched_on is None:
            return f"{self.target.name} (auto: {self.warning})"
        return f"{self.target.name} (auto: the app's {self.matched_on} is {self.app!r})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``findings.json`` ``target_selection``)."""
        return {
            "target": self.target.name,
            "mode": self.mode,
            "matched_on": self.matched_on,
            "app": self.app,
            "warning": self.warning,
        }


def _same(a: object, b: str) -> bool:
    return isinstance(a, str) and " ".join(a.casefold().split()) == " ".join(b.casefold().split())


def choose(
    name: str, app: Mapping[str, Any] | None, targets: Mapping[str, Target], get: Any
) -> TargetChoice:
    """The profile for ``name`` (a profile name, or ``auto``) and the collected service principal
    ``app`` (its ``displayName``, ``appDisplayName``, ``applicationTemplateId``; None when none
    was collected). ``get`` resolves a profile name (raising for an unknown one)."""
    if name.strip().lower() != AUTO:
        return TargetChoice(get(name), "given")
    if not app:
        warning = f"no app was collected, so the default profile {DEFAULT_TARGET} is used"
        return TargetChoice(get(DEFAULT_TARGET), AUTO, warning=warning)
    template = str(app.get("applicationTemplateId") or "").lower()
    for target in targets.values():
        if template and template in (t.lower() for t in target.application_template_ids):
            return TargetChoice(target, AUTO, "applicationTemplateId", template)
    for field in ("displayName", "appDisplayName"):
        value = app.get(field)
        for target in targets.values():
            if any(_same(value, n) for n in target.app_display_names):
                return TargetChoice(target, AUTO, field, str(value))
    shown = app.get("displayName") or app.get("appDisplayName") or app.get("id") or "?"
    warning = (
        f"the app {str(shown)!r} matches no target profile, so it is analysed as "
        f"{FALLBACK_TARGET}; give --target to choose a profile"
    )
    return TargetChoice(get(FALLBACK_TARGET), AUTO, app=str(shown), warning=warning)
