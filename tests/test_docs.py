"""The README's rule table is generated from the rule metadata and must be current."""

from __future__ import annotations

import re
from pathlib import Path

from audit.cli_output import rules_markdown
from audit.cli_targets import targets_markdown

README = Path(__file__).parents[1] / "README.md"
BLOCK = re.compile(r"<!-- rules:start -->\n(.*?)<!-- rules:end -->", re.S)
TARGETS_BLOCK = re.compile(r"<!-- targets:start -->\n(.*?)<!-- targets:end -->", re.S)


def test_readme_rule_table_is_generated_from_the_rules():
    found = BLOCK.search(README.read_text(encoding="utf-8"))
    assert found, "README lacks the rules:start/rules:end block"
    assert found.group(1).strip() == rules_markdown().strip(), (
        "README rule table is stale: run `python -m tests.update_readme`"
    )


def test_readme_targets_table_is_generated_from_the_profiles():
    found = TARGETS_BLOCK.search(README.read_text(encoding="utf-8"))
    assert found, "README lacks the targets:start/targets:end block"
    assert found.group(1).strip() == targets_markdown().strip(), (
        "README targets table is stale: run `python -m tests.update_readme`"
    )
