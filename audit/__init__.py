"""b2b-preflight: pre-flight audit of Entra ID B2B guests before SCIM provisioning.

The public API (names load lazily, so ``b2b-preflight --help`` stays fast)::

    import audit
    snap = audit.load("reports/demo/<stamp>/snapshot")
    result = audit.analyze(snap, audit.AuditConfig(verified_domains=("contoso.com",)))
    result.findings.head()
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from audit._version import __version__

if TYPE_CHECKING:
    from audit.analyze import analyze
    from audit.config import AuditConfig, AuditException, load_config
    from audit.diff import Diff, diff_results
    from audit.frame import guests_frame
    from audit.mapping import evaluate
    from audit.outcomes import predict_outcomes
    from audit.pipeline import CollectOptions, collect, collect_sync
    from audit.render import render_all
    from audit.result import AuditResult, WhatIf
    from audit.rules import all_rules, get_rule
    from audit.snapshot import Snapshot, load, save
    from audit.summary import whatif_summary

__all__ = [
    "AuditConfig",
    "AuditException",
    "AuditResult",
    "CollectOptions",
    "Diff",
    "Snapshot",
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
    "save",
    "whatif_summary",
]

_WHERE = {
    "analyze": "audit.analyze",
    "AuditConfig": "audit.config",
    "AuditException": "audit.config",
    "load_config": "audit.config",
    "Diff": "audit.diff",
    "diff_results": "audit.diff",
    "guests_frame": "audit.frame",
    "evaluate": "audit.mapping",
    "predict_outcomes": "audit.outcomes",
    "whatif_summary": "audit.summary",
    "CollectOptions": "audit.pipeline",
    "collect": "audit.pipeline",
    "collect_sync": "audit.pipeline",
    "render_all": "audit.render",
    "AuditResult": "audit.result",
    "WhatIf": "audit.result",
    "all_rules": "audit.rules",
    "get_rule": "audit.rules",
    "Snapshot": "audit.snapshot",
    "load": "audit.snapshot",
    "save": "audit.snapshot",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'audit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


class _Package(types.ModuleType):
    """``audit`` itself: a submodule never hides the public function of the same name.

    Importing a submodule makes Python set it as an attribute of its package, so once anything has
    imported ``audit.analyze`` (the module) or ``audit.collect`` (the collectors' package), the
    names ``audit.analyze`` and ``audit.collect`` would be those modules instead of the functions.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _WHERE and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
