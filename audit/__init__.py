"""b2b-preflight: pre-flight audit of Entra ID B2B guests before SCIM provisioning.

The public API (names load lazily, so ``b2b-preflight --help`` stays fast)::

    import audit
    snap = audit.load("reports/demo/<stamp>/snapshot")
    result = audit.analyze(snap, audit.AuditConfig(verified_domains=("contoso.com",)))
    result.findings.head()
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from audit._version import __version__

if TYPE_CHECKING:
    from audit.analysis.analyzer import analyze
    from audit.analysis.diff import Diff, diff_results
    from audit.analysis.frame import guests_frame
    from audit.analysis.outcomes import predict_outcomes
    from audit.analysis.result import AuditResult
    from audit.analysis.summary import WhatIf, whatif_summary
    from audit.collectors.pipeline import CollectOptions, collect, collect_sync
    from audit.config import AuditConfig, AuditException, load_config
    from audit.job import Run, RunOptions, run
    from audit.mapping import evaluate
    from audit.render import render_all
    from audit.rules import all_rules, get_rule
    from audit.snapshot import Snapshot, load, save

__all__ = [
    "AuditConfig",
    "AuditException",
    "AuditResult",
    "CollectOptions",
    "Diff",
    "Run",
    "RunOptions",
    "Snapshot",
    "Waiver",
    "WhatIf",
    "__version__",
    "all_rules",
    "analyze",
    "collect",
    "collect_sync",
    "diff_results",
    "evaluate",
    "get_rule",
    "guests_frame",
    "load",
    "load_config",
    "predict_outcomes",
    "render_all",
    "run",
    "save",
    "whatif_summary",
]

_WHERE = {
    "analyze": "audit.analysis.analyzer",
    "AuditConfig": "audit.config",
    "AuditException": "audit.config",
    "load_config": "audit.config",
    "Diff": "audit.analysis.diff",
    "diff_results": "audit.analysis.diff",
    "guests_frame": "audit.analysis.frame",
    "evaluate": "audit.mapping",
    "predict_outcomes": "audit.analysis.outcomes",
    "whatif_summary": "audit.analysis.summary",
    "CollectOptions": "audit.collectors.pipeline",
    "collect": "audit.collectors.pipeline",
    "collect_sync": "audit.collectors.pipeline",
    "render_all": "audit.render",
    "AuditResult": "audit.analysis.result",
    "WhatIf": "audit.analysis.result",
    "all_rules": "audit.rules",
    "get_rule": "audit.rules",
    "Snapshot": "audit.snapshot",
    "Waiver": "audit.analysis.waivers",
    "Run": "audit.job",
    "RunOptions": "audit.job",
    "run": "audit.job",
    "load": "audit.snapshot",
    "save": "audit.snapshot",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'audit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
