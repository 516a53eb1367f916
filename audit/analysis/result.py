"""``AuditResult``: everything an analysis produced, the one input of every renderer.

Renderers only format what is here; they compute nothing. Column contracts:

``guests``    the guests frame (see ``audit/COLUMNS.md``), one row per guest, index 0..n-1.
``findings``  one row per (flagged or muted rule, object): ``rule_id``, ``severity``, ``status``
              (``flagged``/``muted``), ``object_id``, ``user_principal_name``, ``display_name``, ``mail``,
              ``domain``, ``detail``, ``level`` (``guest``/``app``), ``muted_by`` (exception reason or "").
``rules``     one row per rule: ``rule_id``, ``title``, ``severity``, ``level``, ``state``
              (``ran``/``skipped``), ``reason`` (why skipped, "" otherwise), ``flagged``, ``passed``,
              ``not_evaluated``, ``muted`` (counts), ``rationale``, ``remediation``.
``outcomes``  one row per guest: ``object_id``, ``outcome``, ``reasons`` (list of rule ids),
              ``whatif_outcome``, ``whatif_reasons``.
``statuses``  one row per guest: ``object_id`` and one column per rule id holding ``flagged``, ``passed``,
              ``not_evaluated`` or ``skipped`` (the per-(rule, guest) status).
``target_selection``  how the target profile was chosen: ``target``, ``mode`` (``given`` or
              ``auto``), ``matched_on``, ``app``, ``warning`` (a default was used), ``note``.
``settings``  what the report's header says about the analysis settings (verified domains...).
``warnings``  doubts about the settings (no verification token, an exception matching nothing).
``provisioning_scope`` the job scope the prediction assumed (``assigned`` or ``all``; Graph does not
              return it); ``quarantine_forecast`` whether a first full cycle would cross the documented
              escrow thresholds; ``engine_notes`` caveats of the simulation (what it could not see).
``domains``   one row per guest mail domain: ``domain``, ``guests``, ``affected`` (guests with a finding),
              ``verified_in_target`` (bool/NA), ``claimed_elsewhere`` (bool/NA), ``public_provider``,
              ``mail_state`` (``deliverable``/``null_mx``/``nxdomain``/``no_mail_host``/``unknown``),
              ``mx`` (str), ``txt_state``.

With target-side evidence (None without):

``target_users``    the target users frame: one row per user of the target's provisioning
                    directory (``TARGET_USER_COLUMNS`` in ``audit/COLUMNS.md``); findings of
                    ``target``-level rules name these users (``object_id`` = ``tu_id``).
``reconciliation``  one row per guest the directory holds: ``object_id``,
                    ``user_principal_name``, ``display_name``, ``target_user_id``, ``predicted``
                    (outcome), ``actual_account`` (``managed``/``unmanaged``/``unlinked``/``unknown``),
                    ``actual_active``, ``target_email`` (sent), ``actual_email`` (held), ``agrees``
                    (NA: not compared), ``mismatch`` (what differs); see
                    :mod:`audit.analysis.reconcile`.
``target_domains``  the organization's domains against the configured ones
                    (:func:`audit.analysis.reconcile.domain_comparison`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from audit.analysis.quarantine import QuarantineForecast
from audit.analysis.reconcile import reconciliation_summary
from audit.analysis.result_view import result_html
from audit.analysis.summary import WhatIf
from audit.models import Outcome, SourceStatus


@dataclass
class AuditResult:
    """All results of one analysis; see the module docstring for column contracts."""

    tool_version: str
    tenant: dict[str, Any]
    target: str
    app: dict[str, Any]
    generated_at: datetime
    collected_at: datetime | None
    sources: list[SourceStatus]
    guests: pd.DataFrame
    findings: pd.DataFrame
    rules: pd.DataFrame
    outcomes: pd.DataFrame
    domains: pd.DataFrame
    whatif: WhatIf | None = None
    mapping: dict[str, Any] = field(default_factory=dict)
    statuses: pd.DataFrame | None = None
    diff: Any = None
    target_selection: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    target_users: pd.DataFrame | None = None
    reconciliation: pd.DataFrame | None = None
    target_domains: dict[str, Any] | None = None
    provisioning_scope: str = "assigned"
    quarantine_forecast: QuarantineForecast | None = None
    engine_notes: list[str] = field(default_factory=list)

    def outcome_counts(self) -> dict[str, int]:
        """Guests per predicted outcome, every outcome present (zero when none)."""
        counts = self.outcomes["outcome"].value_counts() if len(self.outcomes) else pd.Series()
        return {o.value: int(counts.get(o.value, 0)) for o in Outcome}

    def reconciliation_counts(self) -> dict[str, Any] | None:
        """Guests the target's directory holds, compared / agreeing / disagreeing, in all and per
        predicted outcome (None when the directory was not read)."""
        return reconciliation_summary(self.reconciliation)

    def open_findings(self) -> pd.DataFrame:
        """Findings that are not muted by an exception."""
        return self.findings[self.findings["status"] == "flagged"]

    def _repr_html_(self) -> str:
        """Jupyter's view: tenant, outcomes, what-if, failed sources, top rules; all escaped."""
        return result_html(self)
