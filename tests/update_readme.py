"""Regenerate the README's rule table and API reference, and the column table of audit/COLUMNS.md:
``.venv/bin/python -m tests.update_readme``."""

from __future__ import annotations

import re
from pathlib import Path

from audit.analysis.columns import TARGET_USER_COLUMNS, columns_markdown
from audit.cli_output import rules_markdown
from audit.cli_targets import targets_markdown
from tests.api_reference import API_BLOCK, api_markdown
from tests.test_docs import BLOCK, README, TARGETS_BLOCK

COLUMNS_MD = Path(__file__).parents[1] / "audit" / "COLUMNS.md"
COLUMNS_BLOCK = re.compile(r"<!-- columns:start -->\n(.*?)<!-- columns:end -->", re.S)
TARGET_BLOCK = re.compile(r"<!-- target-columns:start -->\n(.*?)<!-- target-columns:end -->", re.S)


def main() -> None:
    """Rewrite the blocks between the rules and api markers."""
    text = README.read_text(encoding="utf-8")
    table = rules_markdown().strip()
    new = BLOCK.sub(lambda _: f"<!-- rules:start -->\n{table}\n<!-- rules:end -->", text)
    targets = targets_markdown().strip()
    block = f"<!-- targets:start -->\n{targets}\n<!-- targets:end -->"
    new = TARGETS_BLOCK.sub(lambda _: block, new)
    api = api_markdown().strip()
    new = API_BLOCK.sub(lambda _: f"<!-- api:start -->\n{api}\n<!-- api:end -->", new)
    Path(README).write_text(new, encoding="utf-8")
    columns = COLUMNS_MD.read_text(encoding="utf-8")
    table = columns_markdown().strip()
    block = f"<!-- columns:start -->\n{table}\n<!-- columns:end -->"
    columns = COLUMNS_BLOCK.sub(lambda _: block, columns)
    table = columns_markdown(TARGET_USER_COLUMNS).strip()
    block = f"<!-- target-columns:start -->\n{table}\n<!-- target-columns:end -->"
    COLUMNS_MD.write_text(TARGET_BLOCK.sub(lambda _: block, columns), encoding="utf-8")


if __name__ == "__main__":
    main()
