"""A rule and a target are one file each: a throwaway one, in a package of its own, runs end to end.

The package is a plugin registered the standard way (an entry point in a ``.dist-info`` folder on
``sys.path``, https://packaging.python.org/en/latest/specifications/entry-points/), so no file of
b2b-preflight is touched: the catalogue lists the rule, the demo tenant builds the guest the rule
declares, the analysis flags it with the outcome it declares, and the reports and remediation script
carry it; the target is listed, analysed with and speaks its own words.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HANDMADE = ROOT / "tests" / "data" / "handmade"

RULE_FILE = '''
"""throwaway-marker: a guest whose display name says "Throwaway" (a test plugin rule)."""

from __future__ import annotations

import pandas as pd

from audit.analysis.engine import Context, DemoCase, Example, Rule
from audit.models import Outcome, Severity
from audit.plans import suggest


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    return frame["display_name"].str.contains("Throwaway", regex=False).astype("boolean")


RULE = Rule(
    id="throwaway-marker",
    title="Display name says Throwaway in {target.title}",
    severity=Severity.HIGH,
    columns=("display_name",),
    rationale="A test rule shipped in a plugin package; {target.title} is named in its words.",
    remediation="Rename the guest.",
    check=_check,
    outcome=Outcome.BLOCKED,
    plan=suggest("Update-MgUser -UserId {id} -DisplayName '<a real name>'"),
    demo=(
        DemoCase("throwaway-guest", changes={"display": "Throwaway Guest"}),
        DemoCase(
            "throwaway-twin",
            changes={"display": "Thrown Away"},
            twin_of=frozenset({"throwaway-marker"}),
        ),
    ),
    examples=(
        Example(rows=[{"display_name": "Throwaway X"}, {"display_name": "Ann"}], expect=[True, False]),
    ),
)
'''

TARGET_FILE = '''
"""A throwaway target profile shipped in a plugin package (a test)."""

from audit.targets import Target

TARGET = Target(
    name="zz-example",
    title="ZZ Example Cloud",
    app_display_names=("ZZ Example",),
    key_attribute="userName",
    email_attribute='emails[type eq "work"].value',
    default_mapping={"userName": "[userPrincipalName]", 'emails[type eq "work"].value': "[mail]"},
    recommended_mapping={
        "userName": "[userPrincipalName]",
        'emails[type eq "work"].value': "[originalUserPrincipalName]",
    },
    recommended_precondition="{initial_domain} is verified in ZZ Example",
    vendor_txt_prefix="zz-verification=",
    verifies_domains=True,
    unverified_meaning="ZZ Example leaves such accounts unmanaged",
    verify_hint="ZZ Console → Domains",
    console="ZZ Console",
)
'''


def _plugin(root: Path, group: str, package: str, files: dict[str, str]) -> dict[str, str]:
    """A package plus a dist-info naming it under ``group``; the environment to find both."""
    (root / package).mkdir(parents=True)
    (root / package / "__init__.py").write_text("")
    for name, text in files.items():
        (root / package / name).write_text(textwrap.dedent(text))
    info = root / f"{package}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{group}]\n{package} = {package}\n")
    paths = [str(root), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def _cli(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "audit", *args]
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def rule_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("plugin")
    return _plugin(root, "b2b_preflight.rules", "zz_rules", {"throwaway_marker.py": RULE_FILE})


def test_a_plugin_rule_is_in_the_catalogue(rule_env: dict[str, str], tmp_path: Path) -> None:
    done = _cli(rule_env, "rules", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "throwaway-marker" in done.stdout


def test_a_plugin_rule_runs_end_to_end_in_the_demo(
    rule_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "demo"
    done = _cli(rule_env, "demo", "--guests", "300", "--out", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    flagged = {f["object_id"] for f in doc["findings"] if f["rule_id"] == "throwaway-marker"}
    marked = {f["object_id"] for f in doc["findings"] if "Throwaway" in (f["display_name"] or "")}
    assert flagged
    assert flagged == marked
    outcomes = {o["object_id"]: o for o in doc["outcomes"]}
    assert all(
        outcomes[i]["outcome"] in ("blocked", "out_of_scope")
        and "throwaway-marker" in outcomes[i]["reasons"]
        for i in flagged
        if outcomes[i]["outcome"] == "blocked"
    )
    assert any(outcomes[i]["outcome"] == "blocked" for i in flagged)
    rule = next(r for r in doc["rules"] if r["rule_id"] == "throwaway-marker")
    assert rule["title"] == "Display name says Throwaway in Atlassian Cloud"
    script = (out / "remediation.ps1").read_text(encoding="utf-8-sig")
    assert "# throwaway-marker (high)" in script
    assert "-DisplayName '<a real name>'" in script


def test_the_demo_oracle_covers_a_plugin_rule(rule_env: dict[str, str], tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        from audit.demo.tenant import GUEST_RULE_IDS, generate_labelled
        tenant, labels = generate_labelled(300, 40, seed=5)
        assert "throwaway-marker" in GUEST_RULE_IDS
        ids = {i for i, case in labels.items() if case == "throwaway-guest"}
        twins = {i for i, case in labels.items() if case == "throwaway-twin"}
        assert ids and twins
        assert all("throwaway-marker" in tenant.expected[i] for i in ids)
        assert not any("throwaway-marker" in tenant.expected[i] for i in twins)
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=rule_env, cwd=tmp_path, capture_output=True, text=True
    )
    assert done.stdout.strip() == "ok", done.stderr


def test_a_plugin_target_is_analysed_in_its_words(tmp_path: Path) -> None:
    env = _plugin(
        tmp_path / "p", "b2b_preflight.targets", "zz_targets", {"zz_example.py": TARGET_FILE}
    )
    out = tmp_path / "out"
    args = ("run", "--from-export", str(HANDMADE), "--target", "ZZ-Example", "--no-dns")
    done = _cli(env, *args, "--verified-domain", "contoso.com", "--out", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    assert doc["target"] == "zz-example"
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "ZZ Console → Domains" in page
    assert "zz-verification=" in page
    assert "ZZ Example Cloud" in page
    script = (out / "remediation.ps1").read_text(encoding="utf-8-sig")
    assert "atlassian-domain-verification" not in script + page
    assert "Atlassian Administration" not in script + page
