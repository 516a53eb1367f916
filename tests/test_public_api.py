"""The public API: an exact ``__all__``, every name resolving lazily, and a light ``import audit``."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

import audit

EXPECTED = [
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
# Imported by the CLI, collectors or analysis: none of them may load with ``import audit``.
HEAVY = (
    "pandas",
    "numpy",
    "pyarrow",
    "msgraph",
    "kiota_abstractions",
    "azure",
    "dns",
    "matplotlib",
)
SUBMODULES = (
    "audit.analysis.analyzer",
    "audit.collectors",
    "audit.collectors.pipeline",
    "audit.render",
    "audit.analysis.diff",
)


def _run(code: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=cwd
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_all_is_exactly_the_public_api() -> None:
    assert audit.__all__ == EXPECTED
    assert sorted(audit.__all__) == audit.__all__


def test_dir_lists_the_public_api() -> None:
    assert dir(audit) == EXPECTED


@pytest.mark.parametrize("name", [n for n in EXPECTED if n != "__version__"])
def test_every_name_resolves_to_its_definition(name: str) -> None:
    value = getattr(audit, name)
    assert not isinstance(value, types.ModuleType), f"audit.{name} is a module"
    assert value.__name__ == ALIASES.get(name, name)
    assert value is getattr(importlib.import_module(value.__module__), value.__name__)


ALIASES = {"AuditException": "Waiver"}
"""Former names kept in the API for existing scripts."""


def test_former_names_are_the_same_objects() -> None:
    assert audit.AuditException is audit.Waiver


def test_version_is_a_string() -> None:
    assert isinstance(audit.__version__, str)
    assert audit.__version__[0].isdigit()


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = audit.nope  # type: ignore[attr-defined]


def test_names_survive_importing_submodules_of_the_same_name(tmp_path: Path) -> None:
    """``audit.analysis.analyzer`` and ``audit.collectors`` are also submodules; importing those (as the CLI and
    the pipeline do) must not replace the public functions, before or after their first use."""
    code = f"""
import importlib, json, types, audit
first = {{n: type(getattr(audit, n)).__name__ for n in audit.__all__}}
for module in {list(SUBMODULES)!r}:
    importlib.import_module(module)
after = {{n: type(getattr(audit, n)).__name__ for n in audit.__all__}}
print(json.dumps([first, after]))
"""
    first, after = json.loads(_run(code, tmp_path))
    assert first == after
    assert after["analyze"] == "function"
    assert after["collect"] == "function"
    assert "module" not in after.values()


def test_import_audit_is_light(tmp_path: Path) -> None:
    code = f"""
import json, sys, audit
print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}} & set({list(HEAVY)!r}))))
"""
    assert json.loads(_run(code, tmp_path)) == []


def test_cli_help_runs_without_loading_the_pipeline(tmp_path: Path) -> None:
    code = f"""
import json, sys
sys.argv = ["b2b-preflight", "--help"]
from audit.cli import main
try:
    main()
except SystemExit as exit:
    assert exit.code in (0, None), exit.code
print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}} & set({list(HEAVY)!r}))))
"""
    lines = _run(code, tmp_path).strip().splitlines()
    assert any(line.startswith("Usage:") for line in lines)
    assert json.loads(lines[-1]) == []


def test_console_script_help(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("b2b-preflight")
    assert script.is_file(), "install the package (pip install -e '.[dev]') to get the command"
    done = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "Usage: b2b-preflight" in done.stdout
    assert "run" in done.stdout
