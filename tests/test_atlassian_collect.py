"""The Atlassian collector against the loopback emulator: paging, throttling, refusals, read-only.

Every request goes over real HTTP through httpx; the emulator answers with Atlassian's documented
shapes (``data``/``links`` pages, SCIM ListResponses, 429 with ``Retry-After`` or an ISO 8601
``X-RateLimit-Reset``, 403/401 error bodies).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import orjson
import pytest

from audit.collectors.atlassian import (
    AtlassianClient,
    AtlassianOptions,
    collect_atlassian,
    probe_atlassian,
)
from audit.collectors.atlassian_export import read_atlassian_export, write_atlassian_export
from audit.collectors.atlassian_tables import atlassian_tables
from audit.demo.atlassian_emulator import AtlassianEmulator, AtlassianFaults
from audit.errors import ConfigError, InputError
from tests._atlassian import (
    API_KEY,
    SCIM_KEY,
    STATUSES,
    directory_user,
    domain,
    managed,
    options,
    org,
    scim_user,
)


def _org() -> object:
    return org(
        domains=[domain(f"d{i}-{s}.example", s) for i, s in enumerate(STATUSES)],
        managed=[managed(f"m{i}", f"user{i}@d0-verified.example") for i in range(7)],
        directory_users=[directory_user(f"u{i}", f"ext{i}@other.example") for i in range(5)]
        + [directory_user("m0", "user0@d0-verified.example", "managed")],
        scim_users=[
            scim_user(f"s{i}", f"p{i}@x.example", f"p{i}@x.example", account=f"a{i}")
            for i in range(230)
        ],
    )


def _collect(emulator: AtlassianEmulator, **changes: object):  # type: ignore[no-untyped-def]
    return asyncio.run(collect_atlassian(options(emulator, **changes)))


def test_every_source_is_read_across_pages() -> None:
    with AtlassianEmulator(_org(), page_size=2) as emulator:  # type: ignore[arg-type]
        data = _collect(emulator)
        served = emulator.requests
    rows = {name: status.rows for name, status in data.statuses.items()}
    assert rows == {"atlassian_domains": 5, "atlassian_users": 7,
                    "atlassian_directory_users": 5, "atlassian_scim_users": 230}  # fmt: skip
    assert {s.state.value for s in data.statuses.values()} == {"ok"}
    pages = {name: len(p) for name, p in data.pages.items()}
    assert pages == {"atlassian_domains": 3, "atlassian_users": 4,
                     "atlassian_directory_users": 3, "atlassian_scim_users": 3}  # fmt: skip
    scim = [r.query for r in served if r.source == "atlassian_scim_users"]
    assert scim == [f"startIndex={s}&count=100" for s in (1, 101, 201)]
    v2 = [r.query for r in served if r.source == "atlassian_directory_users"]
    assert v2[0] == "claimStatus=unmanaged"
    assert all(q.startswith("cursor=") for q in v2[1:])
    assert data.statuses["atlassian_users"].detail["accounts"] == "managed"
    assert data.statuses["atlassian_directory_users"].detail["accounts"] == "unmanaged"


def test_each_domain_claim_status_is_kept_and_only_verified_counts() -> None:
    with AtlassianEmulator(_org()) as emulator:  # type: ignore[arg-type]
        data = _collect(emulator, directory=None)
    table = atlassian_tables(data.pages)["atlassian_domains"]
    assert dict(zip(table["status"], table["verified"], strict=True)) == {
        "verified": True, "unverified": False, "superseded": False, "missing_token": False,
        "deleted": False,
    }  # fmt: skip
    assert data.statuses["atlassian_scim_users"].state.value == "not_requested"
    assert "--atlassian-directory" in str(data.statuses["atlassian_scim_users"].error)


def test_next_links_as_url_path_or_cursor() -> None:
    client = AtlassianClient("https://api.atlassian.com")
    first = "https://api.atlassian.com/admin/v1/orgs/o/users"
    assert client.follow(f"{first}?cursor=abc", first) == (f"{first}?cursor=abc", None)
    assert client.follow("/admin/v1/orgs/o/users?cursor=x", first) == (f"{first}?cursor=x", None)
    assert client.follow("kloHX1ZQVasDAkx_P48NYQ", first) == (first, {"cursor": "kloHX1ZQVasDAkx_P48NYQ"})  # fmt: skip


def test_the_key_never_goes_to_another_origin() -> None:
    async def attempt() -> str:
        async with AtlassianClient("https://api.atlassian.com") as client:
            try:
                await client.get("https://evil.example/admin/v1/orgs/o/users", None, API_KEY)
            except Exception as exc:
                return str(exc)
            return ""

    said = asyncio.run(attempt())
    assert "another origin" in said
    assert API_KEY not in said


@pytest.mark.parametrize("header", ["retry-after", "reset", "none"])
def test_throttling_is_waited_out_and_counted(header: str) -> None:
    faults = AtlassianFaults(throttle={"atlassian_users": 2, "atlassian_scim_users": 1},
                             header=header, retry_after=0.6)  # fmt: skip
    with AtlassianEmulator(_org(), faults=faults) as emulator:  # type: ignore[arg-type]
        started = time.monotonic()
        data = _collect(emulator, retry_delay=0.3)
        took = time.monotonic() - started
    assert {s.state.value for s in data.statuses.values()} == {"ok"}
    assert data.throttled == 3
    assert took >= 0.5  # the waits were honoured (shared by every request of the collection)


def test_a_long_retry_after_is_capped_and_reported() -> None:
    faults = AtlassianFaults(throttle={"atlassian_domains": 1}, retry_after=3600)
    with AtlassianEmulator(_org(), faults=faults) as emulator:  # type: ignore[arg-type]
        data = _collect(emulator, max_wait=0.2)
    assert data.statuses["atlassian_domains"].state.value == "ok"
    assert (data.capped_waits, data.longest_wait) == (1, 3600.0)


def test_endless_throttling_fails_the_source_not_the_run() -> None:
    faults = AtlassianFaults(throttle={"atlassian_domains": 99}, retry_after=0.01)
    with AtlassianEmulator(_org(), faults=faults) as emulator:  # type: ignore[arg-type]
        data = _collect(emulator, max_retries=3)
    status = data.statuses["atlassian_domains"]
    assert status.state.value == "failed"
    assert status.detail["status"] == 429
    assert "atlassian_domains" not in data.pages
    assert data.statuses["atlassian_users"].state.value == "ok"


def test_a_missing_scope_names_it() -> None:
    faults = AtlassianFaults(forbidden={"atlassian_domains", "atlassian_directory_users"})
    with AtlassianEmulator(_org(), faults=faults) as emulator:  # type: ignore[arg-type]
        data = _collect(emulator)
    domains = data.statuses["atlassian_domains"]
    assert domains.state.value == "failed"
    assert domains.rows == 0
    assert domains.missing_permission == "org API key scope read:domains:admin"
    assert "User has no permission" in str(domains.error)
    v2 = data.statuses["atlassian_directory_users"]
    assert v2.missing_permission == "org API key scope read:directories:admin"
    assert set(data.pages) == {"atlassian_users", "atlassian_scim_users"}


def test_a_wrong_key_fails_with_401_and_no_key_in_any_message() -> None:
    with AtlassianEmulator(_org(), faults=AtlassianFaults(echo=True)) as emulator:  # type: ignore[arg-type]
        data = _collect(emulator, api_key="wrong-" + API_KEY, scim_key="wrong-" + SCIM_KEY)
    for status in data.statuses.values():
        assert status.state.value == "failed"
        assert status.detail["status"] == 401
        assert "got Bearer [key]" in str(status.error)  # the emulator echoed the header
        assert API_KEY not in str(status)
        assert SCIM_KEY not in str(status)
    assert "ATLASSIAN_API_KEY" in str(data.statuses["atlassian_users"].missing_permission)
    assert "ATLASSIAN_SCIM_KEY" in str(data.statuses["atlassian_scim_users"].missing_permission)


def test_an_unknown_organization_is_a_failed_source() -> None:
    with AtlassianEmulator(_org()) as emulator:  # type: ignore[arg-type]
        data = _collect(emulator, org="no-such-org", directory=None)
    status = data.statuses["atlassian_domains"]
    assert status.state.value == "failed"
    assert "Organization not found" in str(status.error)
    assert status.missing_permission is None


def test_an_unreachable_atlassian_is_a_failed_source() -> None:
    data = asyncio.run(collect_atlassian(AtlassianOptions(
        org="o", url="http://127.0.0.1:9", api_key=API_KEY, max_retries=0)))  # fmt: skip
    assert {s.state.value for n, s in data.statuses.items() if n != "atlassian_scim_users"} == {"failed"}  # fmt: skip
    assert "cannot reach Atlassian" in str(data.statuses["atlassian_domains"].error)


def test_only_get_requests_leave_and_others_are_refused() -> None:
    with AtlassianEmulator(_org(), page_size=3) as emulator:  # type: ignore[arg-type]
        _collect(emulator)
        asyncio.run(probe_atlassian(options(emulator)))
        assert {r.method for r in emulator.requests} == {"GET"}
        posted = httpx.post(f"{emulator.base_url}/scim/directory/x/Users", json={},
                            headers={"Authorization": f"Bearer {SCIM_KEY}"})  # fmt: skip
    assert posted.status_code == 405


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"api_key": None}, "ATLASSIAN_API_KEY"),
        ({"scim_key": None}, "ATLASSIAN_SCIM_KEY"),
        ({"url": "http://api.example.com"}, "https"),
        ({"org": "o/../x"}, "not an id"),
    ],
)
def test_misconfiguration_is_a_config_error(changes: dict[str, object], message: str) -> None:
    values: dict[str, object] = dict(org="o", directory="d", api_key="k", scim_key="s")
    with pytest.raises(ConfigError, match=message):
        AtlassianOptions(**(values | changes)).check()  # type: ignore[arg-type]


def test_export_pages_round_trip_as_numbered_files(tmp_path: Path) -> None:
    with AtlassianEmulator(_org(), page_size=2) as emulator:  # type: ignore[arg-type]
        data = _collect(emulator)
    write_atlassian_export(data.pages, tmp_path)
    names = sorted(p.name for p in (tmp_path / "atlassian").iterdir())
    assert "domains.0001.json" in names
    assert "domains.0003.json" in names
    assert "scimUsers.0003.json" in names
    assert "domains.json" not in names
    pages, statuses = read_atlassian_export(tmp_path)
    assert pages == data.pages
    assert {n: s.rows for n, s in statuses.items()} == {n: s.rows for n, s in data.statuses.items()}
    first = orjson.loads((tmp_path / "atlassian" / "users.0001.json").read_bytes())
    assert first == data.pages["atlassian_users"][0]  # the API's own response body


@pytest.mark.parametrize(
    ("name", "body"),
    [("domains.json", b'{"value": []}'), ("scimUsers.json", b'{"Resources": [1]}'),
     ("users.json", b"[]"), ("directoryUsers.json", b"{broken")],
)  # fmt: skip
def test_a_malformed_export_file_names_itself(tmp_path: Path, name: str, body: bytes) -> None:
    (tmp_path / "atlassian").mkdir()
    (tmp_path / "atlassian" / name).write_bytes(body)
    with pytest.raises(InputError, match=name):
        read_atlassian_export(tmp_path)


def test_odd_values_from_the_target_are_dropped_not_trusted() -> None:
    odd = org(
        domains=[{"attributes": {"name": 7, "claim": "verified"}}, "x",
                 domain("B\u00fccher.EXAMPLE.", "verified")],
        managed=[{"account_id": ["a"], "email": {"x": 1}, "account_status": None}],
        scim_users=[{"id": "s1", "userName": "u", "emails": "x", "active": "False"},
                    {"id": "s2", "emails": [{"value": "a@b"}, {"value": "c@d", "primary": True}]}],
    )  # fmt: skip
    with AtlassianEmulator(odd) as emulator:
        tables = atlassian_tables(_collect(emulator).pages)
    domains = tables["atlassian_domains"]
    assert domains["domain"].tolist()[1] == "xn--bcher-kva.example"  # the item "x" is dropped
    assert domains["verified"].tolist() == [False, True]
    assert tables["atlassian_users"]["account_id"].isna().all()
    scim = tables["atlassian_scim_users"]
    assert scim["active"].tolist() == [False, True]  # "default to true if not provided"
    assert scim["email"].tolist()[1] == "c@d"
    assert scim["emails"].tolist()[0] == []


def test_an_export_target_holding_other_files_in_atlassian_is_refused(tmp_path: Path) -> None:
    from audit.collectors.export import check_export_target

    (tmp_path / "atlassian").mkdir()
    (tmp_path / "atlassian" / "domains.json").write_bytes(b'{"data": []}')
    assert check_export_target(tmp_path) == tmp_path  # an earlier export: replaceable
    (tmp_path / "atlassian" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match=r"atlassian/notes\.txt"):
        check_export_target(tmp_path)
