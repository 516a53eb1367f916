"""Target profiles: each documented constraint gives the documented finding, case by case.

Every case is written by hand from the page cited next to it (the profile module cites the same
pages); facts a vendor does not document give "not evaluated", never a guess. The rules run through
the engine on frames whose stored-key column comes from the profile's own normalisation
(``frame_target.normalised_key``), as in a real analysis.
"""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from audit.analysis.analyzer import analyze
from audit.analysis.columns import conform
from audit.analysis.engine import Context, evaluate
from audit.analysis.frame_join import domain_facts
from audit.analysis.frame_target import normalised_key
from audit.collectors.pipeline import CollectOptions, collect_sync
from audit.config import AuditConfig
from audit.rules import all_rules, get_rule
from audit.targets import all_targets, choose_target, get_target
from audit.tokens import txt_prefix

NOW = datetime(2026, 11, 26, tzinfo=UTC)
HANDMADE = Path(__file__).parent / "data" / "handmade"

# Pages cited by the cases below (and by the profiles).
SLACK_SCIM = "https://docs.slack.dev/reference/scim-api"
SLACK_TUTORIAL = "https://learn.microsoft.com/entra/identity/saas-apps/slack-provisioning-tutorial"
GITHUB_USERNAMES = (
    "https://docs.github.com/en/enterprise-cloud@latest/admin/managing-iam/"
    "iam-configuration-reference/username-considerations-for-external-authentication"
)
GITHUB_TUTORIAL = (
    "https://learn.microsoft.com/entra/identity/saas-apps/"
    "github-enterprise-managed-user-provisioning-tutorial"
)
SALESFORCE_USER = (
    "https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/"
    "sforce_api_objects_user.htm"
)
G_SUITE_TUTORIAL = (
    "https://learn.microsoft.com/entra/identity/saas-apps/g-suite-provisioning-tutorial"
)
GOOGLE_B2B = "https://cloud.google.com/architecture/identity/azure-ad-b2b-user-provisioning-and-sso"
ZOOM_TUTORIAL = "https://learn.microsoft.com/entra/identity/saas-apps/zoom-provisioning-tutorial"
NOTION_SCIM = "https://www.notion.com/help/provision-users-and-groups-with-scim"
MIRO_DOMAINS = "https://help.miro.com/hc/en-us/articles/360034831793"


def judge(rule_id: str, target: str, rows: list[dict[str, Any]], **ctx: Any) -> list[bool | None]:
    """Run one rule for one target over hand-written rows (the stored key from the profile)."""
    rule, profile = get_rule(rule_id), get_target(target)
    assert rule.applies_to(profile), rule.why_not(profile)
    frame = pd.DataFrame([{c: row.get(c) for c in rule.columns} for row in rows], dtype=object)
    frame = conform(frame)
    if "target_key_normalised" in rule.columns:
        frame["target_key_normalised"] = normalised_key(frame["target_key"], profile)
    context = Context(now=NOW, initial_domain="contoso.onmicrosoft.com", target=profile, **ctx)
    return [None if pd.isna(v) else bool(v) for v in evaluate(rule, frame, context)]


def keys(*values: str | None, scope: str = "group") -> list[dict[str, Any]]:
    in_scope = scope in ("direct", "group")  # what the engine makes of the assignment
    return [
        {"target_key": v, "target_email": None, "scope": scope, "in_scope": in_scope}
        for v in values
    ]


def stored(target: str, *values: str) -> list[str | None]:
    got = normalised_key(pd.Series(list(values), dtype="str"), get_target(target))
    return [None if pd.isna(v) else str(v) for v in got]


# ---- the profiles themselves -------------------------------------------------------------------


def test_every_issue_target_has_a_profile_with_sources() -> None:
    ids = {"atlassian", "generic-scim", "slack", "github-emu", "zoom", "salesforce"}
    ids |= {"google-workspace", "servicenow", "dropbox", "miro", "notion"}
    assert ids <= set(all_targets())
    for target in all_targets().values():
        assert target.sources, target.name
        assert all(s.startswith("https://") for s in target.sources), target.name
        assert target.app_display_names, target.name


@pytest.mark.parametrize("name", sorted(all_targets()))
def test_the_profile_module_cites_its_pages(name: str) -> None:
    """Every source of a profile is named in its module docstring, next to what it says."""
    module = importlib.import_module("audit.targets." + name.replace("-", "_"))
    doc = module.__doc__ or ""
    for source in get_target(name).sources:
        assert source in doc, (name, source)


def test_undocumented_facts_are_none_not_guessed() -> None:
    """OSINT-only facts (TXT prefixes seen in DNS dumps) are not in the profiles."""
    for name in ("atlassian", "slack", "zoom", "dropbox", "notion"):
        assert get_target(name).vendor_txt_prefix is None, name
    assert get_target("miro").vendor_txt_prefix == "miro-verification="  # MIRO_DOMAINS
    assert get_target("google-workspace").vendor_txt_prefix == "google-site-verification="
    servicenow = get_target("servicenow")
    assert servicenow.key_attribute == servicenow.email_attribute == ""
    assert servicenow.verifies_domains is None


# ---- Slack -------------------------------------------------------------------------------------


def test_slack_username_over_21_characters_is_invalid() -> None:
    # SLACK_SCIM: "Max of 21 characters"; username_too_long. SLACK_TUTORIAL: "under 21 characters".
    got = judge("target-key-invalid", "slack", keys("a" * 22, "a" * 21, "a" * 20))
    assert got == [True, None, False]  # 21: Microsoft says under 21, Slack says at most 21


def test_slack_converts_special_characters_so_usernames_collide() -> None:
    # SLACK_SCIM: "All other special characters are converted to underscores"; username_taken.
    assert stored("slack", "jo+x", "jo&x", "jo.x-y_z") == ["jo_x", "jo_x", "jo.x-y_z"]
    got = judge("duplicate-target-key", "slack", keys("jo+x", "jo&x", "jo.x"))
    assert got == [True, True, False]


def test_slack_username_from_an_email_address_is_not_evaluated() -> None:
    # SLACK_SCIM: an email address in userName "will be automatically converted" (how: undocumented).
    assert stored("slack", "jo@partner.com") == [None]
    assert judge("target-key-invalid", "slack", keys("averyveryverylongname@partner.com")) == [None]
    got = judge("duplicate-target-key", "slack", keys("jo@a.com", "jo@a.com", "ann@b.com"))
    assert got == [True, True, None]  # identical values collide whatever the conversion


def test_slack_matches_only_on_username_and_email() -> None:
    # SLACK_TUTORIAL: "Slack only allows matching with the attributes userName and email."
    rows = [{"target_key": "x"}]
    assert judge("matching-attribute-unsupported", "slack", rows, matching_attributes=("externalId",)) == [True]  # fmt: skip
    assert judge("matching-attribute-unsupported", "slack", rows, matching_attributes=("userName",)) == [False]  # fmt: skip


def test_slack_unclaimed_domain_effect_is_not_evaluated() -> None:
    # SLACK_SCIM / claim-domains page: no documented effect of an unclaimed domain on SCIM.
    rows = [
        {"target_email": "a@p.com", "target_email_domain": "p.com", "target_domain_verified": None}
    ]
    assert judge("domain-unverified", "slack", rows) == [None]
    assert get_rule("mapping-sends-external-address").why_not(get_target("slack"))


# ---- GitHub Enterprise Managed Users -----------------------------------------------------------


def test_github_normalises_usernames_as_documented() -> None:
    # GITHUB_USERNAMES, "Examples of username normalization" and the Entra ID table.
    assert stored("github-emu", "The.Octocat", "!The.Octocat", "The!!Octocat") == [
        "The-Octocat",
        "-The-Octocat",
        "The--Octocat",
    ]
    entra = [
        "bob@contoso.com",
        "bob@fabrikam.com",
        "bob#EXT#fabrikamcom@contoso.com",
        "bob_example#EXT#fabrikamcom@contoso.com",
        "bob_example.com#EXT#fabrikamcom@contoso.com",
    ]
    assert stored("github-emu", *entra) == ["bob"] * 5
    assert stored("github-emu", "internal\\The.Octocat") == ["The-Octocat"]


def test_github_identifiers_normalised_to_one_username_collide() -> None:
    # GITHUB_USERNAMES: "If multiple accounts are normalized into the same username, only the first
    # user account is created"; The!Octocat, The.Octocat@example.com, internal\The.Octocat.
    values = ("The.Octocat", "The!Octocat", "The.Octocat@example.com", "internal\\The.Octocat")
    assert judge("duplicate-target-key", "github-emu", keys(*values)) == [True] * 4
    entra = ("bob@contoso.com", "bob_example.com#EXT#fabrikamcom@contoso.com", "ann@contoso.com")
    assert judge("duplicate-target-key", "github-emu", keys(*entra)) == [True, True, False]


def test_github_case_rule_is_not_documented() -> None:
    # GITHUB_USERNAMES: "The letter casing ... is preserved"; whether case-only differences collide
    # is not documented.
    got = judge("duplicate-target-key", "github-emu", keys("Bob@a.com", "bob@b.com", "ann@c.com"))
    assert got == [None, None, False]


def test_github_username_length_and_dashes() -> None:
    # GITHUB_USERNAMES: 39 characters including "_" and a 3-8 character shortcode (30 with data
    # residency); mona.lisa.the.octocat.from.github.united.states exceeds it; "-The-Octocat" and
    # "The--Octocat" are not created.
    got = judge(
        "target-key-invalid",
        "github-emu",
        keys(
            "mona.lisa.the.octocat.from.github.united.states@example.com",
            "!The.Octocat",
            "The!!Octocat",
            "The.Octocat",
            "abcdefghij.klmnopqrstuvw@example.com",  # 24: fits 39 with a short shortcode only
        ),
    )
    assert got == [True, True, True, False, None]


def test_github_matches_on_external_id_only() -> None:
    # GITHUB_TUTORIAL: externalId is the only attribute "Supported For Filtering".
    rows = [{"target_key": "x"}]
    got = judge("matching-attribute-unsupported", "github-emu", rows, matching_attributes=("userName",))  # fmt: skip
    assert got == [True]


def test_github_has_no_unmanaged_accounts() -> None:
    # GitHub "About Enterprise Managed Users": the IdP provisions every account; verified domains
    # only restrict notifications.
    target = get_target("github-emu")
    assert (
        get_rule("domain-unverified").why_not(target)
        == "does not apply to GitHub Enterprise Managed Users"
    )


# ---- Salesforce --------------------------------------------------------------------------------


def test_salesforce_username_is_a_lower_case_address_of_at_most_80() -> None:
    # SALESFORCE_USER: "in the form of an email address, using all lowercase characters"; length 80.
    long = "a" * 70 + "@partner.com"
    got = judge(
        "target-key-invalid",
        "salesforce",
        keys("jo@partner.com", "Jo@partner.com", "jo", long, None),
    )
    assert got == [False, True, True, True, None]


def test_salesforce_usernames_are_unique() -> None:
    # SALESFORCE_USER: "It must also be unique across all organizations" (the tool sees its tenant).
    got = judge("duplicate-target-key", "salesforce", keys("jo@p.com", "jo@p.com", "ann@p.com"))
    assert got == [True, True, False]
    assert "every Salesforce organization" in get_target("salesforce").key_scope


def test_salesforce_has_no_verified_domains() -> None:
    target = get_target("salesforce")
    assert not get_rule("domain-unverified").applies_to(target)
    assert not get_rule("public-mail-domain").applies_to(target)


# ---- Google Workspace --------------------------------------------------------------------------


def test_google_primary_email_must_be_on_a_verified_custom_domain() -> None:
    # G_SUITE_TUTORIAL: user names "must be tied to a custom domain" verified with G Suite;
    # bob@contoso.onmicrosoft.com is not accepted. GOOGLE_B2B: onmicrosoft.com cannot be added.
    rows = [
        {"target_key": "a@partner.com", "target_domain_verified": False},
        {"target_key": "b@contoso.com", "target_domain_verified": True},
        {"target_key": "bob@contoso.onmicrosoft.com", "target_domain_verified": True},
        {"target_key": "c@slow.com", "target_domain_verified": None},
    ]
    assert judge("target-key-invalid", "google-workspace", rows) == [True, False, True, None]
    target = get_target("google-workspace")
    assert "target-key-invalid" in (get_rule("domain-unverified").why_not(target) or "")


def test_google_matches_only_on_primary_email() -> None:
    # G_SUITE_TUTORIAL: "only supports the use of primaryEmail as the matching attribute".
    rows = [{"target_key": "x"}]
    got = judge("matching-attribute-unsupported", "google-workspace", rows, matching_attributes=("externalIds.[type eq \"custom\"].value",))  # fmt: skip
    assert got == [True]


# ---- Zoom, Notion, ServiceNow, Dropbox, Miro, Atlassian, generic SCIM ----------------------------


def test_zoom_filters_on_username_only_and_documents_no_key_limits() -> None:
    # ZOOM_TUTORIAL: userName is the only attribute "Supported for filtering".
    rows = [{"target_key": "x"}]
    assert judge("matching-attribute-unsupported", "zoom", rows, matching_attributes=("emails[type eq \"work\"]",)) == [True]  # fmt: skip
    reason = get_rule("target-key-invalid").why_not(get_target("zoom")) or ""
    assert reason.startswith("not evaluated: Zoom documents no")


def test_notion_needs_a_verified_domain_but_sends_no_email_attribute() -> None:
    # NOTION_SCIM: a verified domain is needed to modify a user's name or e-mail; the gallery
    # mapping sends no e-mail attribute, so the domain is unknown here.
    notion = get_target("notion")
    assert notion.verifies_domains is True
    assert notion.email_attribute == ""
    assert notion.guest_role is False  # "you can't manage workspace guests using Notion's SCIM API"
    rows = [{"target_email": None, "target_email_domain": None, "target_domain_verified": None}]
    assert judge("domain-unverified", "notion", rows) == [None]


def test_servicenow_documents_no_key_so_key_rules_are_not_evaluated() -> None:
    target = get_target("servicenow")
    for rule_id in ("target-key-invalid", "duplicate-target-key", "matching-attribute-unsupported"):
        assert (get_rule(rule_id).why_not(target) or "").startswith("not evaluated"), rule_id


def test_dropbox_and_miro_document_no_key_rules() -> None:
    for name in ("dropbox", "miro"):
        reason = get_rule("target-key-invalid").why_not(get_target(name)) or ""
        assert reason.startswith("not evaluated"), name


def test_the_txt_prefix_comes_from_the_docs_or_from_your_own_record() -> None:
    # MIRO_DOMAINS documents "miro-verification="; Atlassian documents the DNS TXT method but not
    # the value, which the user copies whole from the console.
    assert txt_prefix("miro-verification=", ["abc"]) == "miro-verification="
    assert txt_prefix(None, ["atlassian-domain-verification=abc"]) == (
        "atlassian-domain-verification="
    )
    assert txt_prefix(None, ["abc"]) is None
    assert txt_prefix(None, ["a=1", "b=2"]) is None


def _dns(domain: str, *txt: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "domain": [domain],
            "mail_state": ["deliverable"],
            "txt_state": ["found"],
            "txt": [list(txt)],
        }
    )


@pytest.mark.parametrize(
    ("name", "record"),
    [
        ("miro", "miro-verification=THEIRS"),  # MIRO_DOMAINS: "miro-verification=[INSERT CODE]"
        ("google-workspace", "google-site-verification=THEIRS"),  # Google: verify-domain page
    ],
)
def test_a_domain_publishing_another_orgs_documented_record_is_claimed(
    name: str, record: str
) -> None:
    target = get_target(name)
    config = AuditConfig(verification_tokens=("OURS",))
    facts = domain_facts(_dns("partner.com", record, "v=spf1 -all"), config, target)
    assert facts["claimed_elsewhere"].tolist() == [True]
    ours = domain_facts(_dns("partner.com", f"{target.vendor_txt_prefix}OURS"), config, target)
    assert ours[["claimed_elsewhere", "verified_by_txt"]].values.tolist() == [[False, True]]


def test_without_a_known_prefix_a_claim_is_unknown() -> None:
    # Atlassian documents the DNS TXT method but not the record's form: a bare token shows none.
    atlassian = get_target("atlassian")
    record = "atlassian-domain-verification=THEIRS"
    bare = domain_facts(
        _dns("p.com", record), AuditConfig(verification_tokens=("OURS",)), atlassian
    )
    assert bare["claimed_elsewhere"].isna().all()
    whole = AuditConfig(verification_tokens=("atlassian-domain-verification=OURS",))
    assert domain_facts(_dns("p.com", record), whole, atlassian)["claimed_elsewhere"].tolist() == [
        True
    ]


def test_generic_scim_verifies_no_domains() -> None:
    target = get_target("generic-scim")
    for rule_id in ("domain-unverified", "public-mail-domain", "domain-claimed-elsewhere"):
        assert not get_rule(rule_id).applies_to(target), rule_id


@pytest.mark.parametrize("name", sorted(all_targets()))
def test_every_rule_runs_or_says_why_not(name: str) -> None:
    target = get_target(name)
    for rule in all_rules():
        why = rule.why_not(target)
        assert why is None or why, (name, rule.id)


# ---- --target auto -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("app", "expected", "matched_on"),
    [
        ({"displayName": "Slack"}, "slack", "displayName"),
        ({"displayName": "Slack (prod)", "appDisplayName": "Slack"}, "slack", "appDisplayName"),
        ({"displayName": "  g suite "}, "google-workspace", "displayName"),
        ({"displayName": "GitHub Enterprise Managed User"}, "github-emu", "displayName"),
        (
            {
                "displayName": "Slack",
                "applicationTemplateId": "8adf8e6e-67b2-4cf2-a259-e3dc5476c621",
            },
            "generic-scim",
            "applicationTemplateId",
        ),
    ],
)
def test_auto_picks_the_profile_from_the_service_principal(
    app: dict[str, str], expected: str, matched_on: str
) -> None:
    choice = choose_target("auto", app)
    assert (choice.target.name, choice.matched_on, choice.warning) == (expected, matched_on, None)


def test_auto_runs_an_unknown_app_as_generic_scim_with_a_warning_naming_it() -> None:
    choice = choose_target("auto", {"displayName": "Contoso HR <Portal>"})
    assert choice.target.name == "generic-scim"
    assert "'Contoso HR <Portal>'" in (choice.warning or "")


def test_auto_without_an_app_uses_the_default_and_says_so() -> None:
    choice = choose_target("auto", None)
    assert choice.target.name == "atlassian"
    assert "no app was collected" in (choice.warning or "")


def _export(tmp_path: Path, display_name: str) -> Path:
    folder = tmp_path / "export"
    shutil.copytree(HANDMADE, folder)
    doc = json.loads((folder / "servicePrincipal.json").read_text(encoding="utf-8"))
    doc["value"][0]["displayName"] = display_name
    (folder / "servicePrincipal.json").write_text(json.dumps(doc), encoding="utf-8")
    return folder


def test_auto_analyses_a_github_app_as_github_emu(tmp_path: Path) -> None:
    """The handmade tenant's app renamed to GitHub's gallery name: its schema matches on userName,
    which GitHub cannot filter on (GITHUB_TUTORIAL), and GitHub's username rules apply."""
    folder = _export(tmp_path, "GitHub Enterprise Managed User")
    snapshot = collect_sync(CollectOptions(from_export=str(folder), dns=False), now=NOW)
    result = analyze(snapshot, AuditConfig(verified_domains=("contoso.com",)), now=NOW)
    assert result.target == "github-emu"
    assert result.target_selection["matched_on"] == "displayName"
    app = result.findings[result.findings["level"] == "app"]
    assert "matching-attribute-unsupported" in set(app["rule_id"])
    rules = result.rules.set_index("rule_id")
    assert rules.loc["target-key-invalid", "state"] == "ran"
    assert rules.loc["domain-unverified", "state"] == "skipped"


def test_run_names_the_chosen_target_in_the_report_and_findings(tmp_path: Path) -> None:
    folder = _export(tmp_path, "Contoso HR Portal")
    out = tmp_path / "out"
    args = ["run", "--from-export", str(folder), "--no-dns", "--out", str(out)]
    done = subprocess.run(
        [sys.executable, "-m", "audit", *args], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    assert doc["target"] == "generic-scim"
    selection = doc["target_selection"]
    assert selection["mode"] == "auto"
    assert "'Contoso HR Portal'" in selection["warning"]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert (
        "generic-scim (auto: the app &#39;Contoso HR Portal&#39; matches no target profile" in page
    )
    assert "target: generic-scim (auto:" in done.stdout


# ---- CLI ---------------------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "audit", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_targets_lists_every_profile_with_facts_and_sources() -> None:
    done = _cli("targets")
    assert done.returncode == 0, done.stderr
    for name, target in all_targets().items():
        assert f"\n{name}  {target.title}" in done.stdout
        for source in target.sources:
            assert source in done.stdout
    assert "not documented" in done.stdout
    one = _cli("targets", "--json", "slack")
    (doc,) = json.loads(one.stdout)
    assert doc["key_attribute"] == "userName"
    assert doc["vendor_txt_prefix"] is None
    assert _cli("targets", "nope").returncode == 2


def test_rules_for_a_target_says_which_run() -> None:
    done = _cli("rules", "--target", "github-emu")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("target-key-invalid") and " runs " in line for line in lines)
    assert any(line.startswith("domain-unverified") and " skipped " in line for line in lines)
    assert _cli("rules", "--target", "auto").returncode == 2
