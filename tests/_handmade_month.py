"""The hand-made Fabrikam export and the same tenant a month later, as saved snapshots.

A month later Heidi has left, a guest with a hostile display name has joined, Carol's ``mail``
is set (``mail-missing`` and ``primary-smtp-mismatch`` fixed, ``domain-unverified`` new: litware.com
is not verified) and John is disabled (``account-disabled`` new). :data:`CONFIG` mutes Dave's
``external-member`` until 2026-12-01, which falls between the two collections.
"""

from __future__ import annotations

import copy
import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from audit import snapshot as snap
from audit.collectors.pipeline import CollectOptions, collect_sync

HANDMADE = Path(__file__).parent / "data" / "handmade"
OLD_AT = datetime(2026, 11, 20, 6, tzinfo=UTC)
NEW_AT = datetime(2026, 12, 20, 6, tzinfo=UTC)
TENANT_ID = "84841066-274d-4ec0-a5c1-276be684bdd3"
EVIL = "=cmd|' /C calc'!A0 <script>alert(9)</script>"

JOHN = "1b5d2a4e-0001-4c3a-9f00-000000000001"
CAROL = "1b5d2a4e-0004-4c3a-9f00-000000000004"
DAVE = "1b5d2a4e-0005-4c3a-9f00-000000000005"
HEIDI = "1b5d2a4e-0010-4c3a-9f00-000000000010"
IVAN = "1b5d2a4e-0011-4c3a-9f00-000000000011"

FLAGS = ["--verified-domain", "fabrikam.onmicrosoft.com", "--verified-domain", "contoso.com"]
FLAGS += ["--verification-token", "atlassian-domain-verification=OUR-TOKEN-123"]
CONFIG_TOML = (
    f'[[exceptions]]\nmatch = "{DAVE}"\nrule = "external-member"\n'
    'reason = "flip <b>scheduled</b>"\nowner = "it@fabrikam.com"\nexpires = 2026-12-01\n'
)
EXCEPTION_EXPIRES = date(2026, 12, 1)


def later_export(folder: Path) -> Path:
    """A copy of the hand-made export, a month later (see the module docstring)."""
    shutil.copytree(HANDMADE, folder)
    users = json.loads((HANDMADE / "users.json").read_text(encoding="utf-8"))["value"]
    kept: list[dict[str, Any]] = []
    for user in users:
        if user["id"] == HEIDI:
            continue
        user = copy.deepcopy(user)
        if user["id"] == CAROL:
            user["mail"] = "carol@litware.com"
            user["proxyAddresses"] = ["SMTP:carol@litware.com"]
        if user["id"] == JOHN:
            user["accountEnabled"] = False
        kept.append(user)
    ivan = copy.deepcopy(next(u for u in users if u["mail"] == "ann.smith@gmail.com"))
    ivan.update(
        id=IVAN,
        displayName=EVIL,
        mail="ivan@gmail.com",
        userPrincipalName="ivan_gmail.com#EXT#@fabrikam.onmicrosoft.com",
        otherMails=["ivan@gmail.com"],
        proxyAddresses=["SMTP:ivan@gmail.com"],
        mailNickname="ivan_gmail.com#EXT#",
    )
    kept.append(ivan)
    (folder / "users.json").write_text(json.dumps({"value": kept}), encoding="utf-8")
    return folder


def save_snapshot(export: Path, at: datetime, folder: Path) -> Path:
    """Collect ``export`` as of ``at`` (recorded DNS, no network) and save it to ``folder``."""
    snapshot = collect_sync(CollectOptions(from_export=str(export)), now=at)
    return snap.save(snapshot, folder)


def month_snapshots(tmp: Path) -> tuple[Path, Path]:
    """(October-ish, a month later) snapshot folders under ``tmp``."""
    old = save_snapshot(HANDMADE, OLD_AT, tmp / "old")
    new = save_snapshot(later_export(tmp / "export-later"), NEW_AT, tmp / "new")
    return old, new


def write_config(tmp: Path) -> Path:
    """The TOML config with Dave's exception."""
    path = tmp / "audit.toml"
    path.write_text(CONFIG_TOML, encoding="utf-8")
    return path
