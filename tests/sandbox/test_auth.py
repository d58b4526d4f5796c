"""Tokens, scopes, rotation and the introspection endpoints (hubspot-api.md §3.3, §6)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
import requests

from hsframe.sandbox.adapter import BASE_URL
from hsframe.sandbox.auth import (
    ACCOUNT_DETAILS_PATH,
    CREDENTIALS_NOT_FOUND,
    TOKEN_INFO_PATH,
    TOKEN_INVALID,
    Auth,
    mask,
)
from hsframe.sandbox.core import SandboxCore
from hsframe.sandbox.server import SandboxServer

READ = "crm.objects.contacts.read"
WRITE = "crm.objects.contacts.write"
CONTACTS = "/crm/v3/objects/contacts"
TOKEN = re.compile(r"^pat-na1-([0-9a-f-]{36})$")


def test_tokens_are_private_app_tokens_each_with_its_own_app() -> None:
    auth = Auth()
    first = TOKEN.match(auth.token)
    assert first is not None and uuid.UUID(first.group(1)).version == 4
    other = auth.issue_token([READ])
    assert TOKEN.match(other) and other != auth.token
    default_app, other_app = auth.app_for(auth.token), auth.app_for(other)
    assert default_app is not None and other_app is not None
    assert default_app.app_id != other_app.app_id
    assert other_app.scopes == (READ,)
    assert default_app.scopes == (READ, WRITE)


def test_a_single_scope_string_is_one_scope() -> None:
    auth = Auth(scopes=READ)
    assert auth.default_app.scopes == (READ,)
    app = auth.app_for(auth.issue_token(WRITE))
    assert app is not None and app.scopes == (WRITE,)


def test_a_chosen_token_is_used_as_is() -> None:
    assert Auth(token="pat-eu1-fixed").token == "pat-eu1-fixed"


def test_rotation_keeps_the_app_and_refuses_the_old_token_at_once() -> None:
    auth = Auth()
    old = auth.token
    app = auth.default_app
    new = auth.rotate_token()
    assert new == auth.token != old
    assert auth.app_for(old) is None
    assert auth.app_for(new) is app


def test_issued_tokens_survive_rotation_of_the_default_app() -> None:
    auth = Auth()
    other = auth.issue_token([READ])
    auth.rotate_token()
    assert auth.app_for(other) is not None


def test_reprs_never_show_the_token() -> None:
    auth = Auth()
    assert auth.token not in repr(auth)
    assert mask(auth.token).startswith("pat-na1-...")
    assert mask(auth.token).endswith(auth.token[-4:])
    assert mask(None) == "<none>"


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, CREDENTIALS_NOT_FOUND),
        ({"Authorization": "Bearer "}, CREDENTIALS_NOT_FOUND),
        ({"Authorization": "Basic abc"}, CREDENTIALS_NOT_FOUND),
        ({"Authorization": "Bearer pat-na1-00000000-0000-4000-8000-000000000000"}, TOKEN_INVALID),
    ],
)
def test_401_bodies(
    adapter_session: requests.Session, headers: dict[str, str], message: str
) -> None:
    answer = adapter_session.get(f"{BASE_URL}{CONTACTS}", headers=headers)
    assert answer.status_code == 401
    payload = answer.json()
    assert set(payload) == {"status", "message", "correlationId", "category"}
    assert payload["status"] == "error"
    assert payload["message"] == message
    assert payload["category"] == "INVALID_AUTHENTICATION"
    uuid.UUID(payload["correlationId"])
    assert answer.headers["X-HubSpot-Auth-Failure"] == "401 Unauthorized"
    assert answer.headers["X-HubSpot-Correlation-Id"] == payload["correlationId"]
    assert "X-HubSpot-RateLimit-Remaining" not in answer.headers


def test_the_invalid_token_body_is_exactly_the_decided_one(
    adapter_session: requests.Session, bearer: Any
) -> None:
    answer = adapter_session.get(f"{BASE_URL}{CONTACTS}", headers=bearer("pat-na1-nope"))
    payload = answer.json()
    assert payload == {
        "status": "error",
        "message": "The access token is invalid or has been rotated",
        "correlationId": payload["correlationId"],
        "category": "INVALID_AUTHENTICATION",
    }


def test_rotation_invalidates_the_old_token_at_once_through_the_adapter(
    sandbox_core: SandboxCore, adapter_session: requests.Session, bearer: Any
) -> None:
    old = sandbox_core.auth.token
    assert adapter_session.get(f"{BASE_URL}{CONTACTS}", headers=bearer(old)).status_code == 200
    new = sandbox_core.auth.rotate_token()
    refused = adapter_session.get(f"{BASE_URL}{CONTACTS}", headers=bearer(old))
    assert refused.status_code == 401
    assert refused.json()["message"] == TOKEN_INVALID
    assert adapter_session.get(f"{BASE_URL}{CONTACTS}", headers=bearer(new)).status_code == 200


def test_rotation_over_http_on_a_kept_alive_connection(
    http_server: SandboxServer, http_session: requests.Session, live_core: SandboxCore, bearer: Any
) -> None:
    old = live_core.auth.token
    assert http_session.get(f"{http_server.url}{CONTACTS}", headers=bearer(old)).ok
    new = live_core.auth.rotate_token()
    refused = http_session.get(f"{http_server.url}{CONTACTS}", headers=bearer(old))
    assert refused.status_code == 401
    assert refused.json()["category"] == "INVALID_AUTHENTICATION"
    assert refused.headers["X-HubSpot-Auth-Failure"] == "401 Unauthorized"
    assert http_session.get(f"{http_server.url}{CONTACTS}", headers=bearer(new)).ok


@pytest.mark.parametrize(
    ("method", "path", "scopes", "required"),
    [
        ("GET", CONTACTS, [WRITE], [READ]),
        ("POST", f"{CONTACTS}/batch/update", [READ], [WRITE]),
        ("PATCH", f"{CONTACTS}/1", [READ], [WRITE]),
        ("GET", f"{CONTACTS}/1", [], [READ, WRITE]),
    ],
)
def test_missing_scopes_answer_403_naming_them(
    sandbox_core: SandboxCore,
    adapter_session: requests.Session,
    bearer: Any,
    method: str,
    path: str,
    scopes: list[str],
    required: list[str],
) -> None:
    token = sandbox_core.auth.issue_token(scopes)
    answer = adapter_session.request(
        method, f"{BASE_URL}{path}", headers=bearer(token), json={"inputs": [], "properties": {}}
    )
    assert answer.status_code == 403
    payload = answer.json()
    assert payload["status"] == "error"
    assert payload["category"] == "MISSING_SCOPES"
    assert payload["message"].startswith("This app hasn't been granted all required scopes")
    assert payload["errors"] == [
        {
            "message": "One or more of the following scopes are required.",
            "context": {"requiredGranularScopes": required},
        }
    ]
    assert payload["links"] == {"scopes": "https://developers.hubspot.com/scopes"}
    # An authenticated answer: rate headers present, but a 403 is not charged.
    assert answer.headers["X-HubSpot-RateLimit-Remaining"] == "190"


def test_missing_scopes_over_http(
    http_server: SandboxServer, http_session: requests.Session, live_core: SandboxCore, bearer: Any
) -> None:
    token = live_core.auth.issue_token(["crm.schemas.contacts.read"])
    answer = http_session.get(f"{http_server.url}{CONTACTS}", headers=bearer(token))
    assert answer.status_code == 403
    assert answer.json()["errors"][0]["context"]["requiredGranularScopes"] == [READ]


def test_token_info_needs_no_scope_and_no_authorization_header(
    sandbox_core: SandboxCore, adapter_session: requests.Session
) -> None:
    token = sandbox_core.auth.issue_token([])
    answer = adapter_session.post(f"{BASE_URL}{TOKEN_INFO_PATH}", json={"tokenKey": token})
    assert answer.status_code == 200
    info = answer.json()
    app = sandbox_core.auth.app_for(token)
    assert app is not None
    assert info == {"userId": 1, "hubId": 12345678, "appId": app.app_id, "scopes": []}
    # token info is not charged and carries no rate headers
    assert "X-HubSpot-RateLimit-Remaining" not in answer.headers
    assert sandbox_core.limiter.daily_used() == 0


def test_token_info_for_the_default_token_lists_its_scopes(
    sandbox_core: SandboxCore, adapter_session: requests.Session, bearer: Any
) -> None:
    token = sandbox_core.auth.token
    answer = adapter_session.post(
        f"{BASE_URL}{TOKEN_INFO_PATH}", json={"tokenKey": token}, headers=bearer(token)
    )
    assert answer.json()["scopes"] == [READ, WRITE]
    assert answer.json()["appId"] == sandbox_core.auth.default_app.app_id


@pytest.mark.parametrize(
    ("payload", "status"),
    [({"tokenKey": "pat-na1-unknown"}, 401), ({}, 400), ({"tokenKey": ""}, 400), ([], 400)],
)
def test_token_info_refusals(adapter_session: requests.Session, payload: Any, status: int) -> None:
    answer = adapter_session.post(f"{BASE_URL}{TOKEN_INFO_PATH}", json=payload)
    assert answer.status_code == status
    assert answer.json()["status"] == "error"


def test_token_info_of_a_rotated_token_is_refused(
    sandbox_core: SandboxCore, adapter_session: requests.Session
) -> None:
    old = sandbox_core.auth.token
    sandbox_core.auth.rotate_token()
    answer = adapter_session.post(f"{BASE_URL}{TOKEN_INFO_PATH}", json={"tokenKey": old})
    assert answer.status_code == 401
    assert old not in answer.text


def test_account_details_need_a_token_but_no_scope(
    sandbox_core: SandboxCore, adapter_session: requests.Session, bearer: Any
) -> None:
    assert adapter_session.get(f"{BASE_URL}{ACCOUNT_DETAILS_PATH}").status_code == 401
    token = sandbox_core.auth.issue_token([])
    answer = adapter_session.get(f"{BASE_URL}{ACCOUNT_DETAILS_PATH}", headers=bearer(token))
    assert answer.status_code == 200
    details = answer.json()
    assert details["portalId"] == 12345678
    assert details["accountType"] == "STANDARD"
    assert details["timeZone"] == "UTC"
    assert isinstance(details["createdAt"], int)
    assert answer.headers["X-HubSpot-RateLimit-Max"] == "190"


def test_token_info_over_http(
    http_server: SandboxServer, http_session: requests.Session, live_core: SandboxCore
) -> None:
    answer = http_session.post(
        f"{http_server.url}{TOKEN_INFO_PATH}", json={"tokenKey": live_core.auth.token}
    )
    assert answer.status_code == 200
    assert answer.json()["hubId"] == 12345678


def test_no_answer_or_log_record_carries_a_token(
    sandbox_core: SandboxCore, adapter_session: requests.Session, bearer: Any
) -> None:
    token = sandbox_core.auth.token
    answers = [
        adapter_session.get(f"{BASE_URL}{CONTACTS}", headers=bearer(token)),
        adapter_session.get(f"{BASE_URL}{CONTACTS}", headers=bearer(token + "x")),
        adapter_session.get(f"{BASE_URL}/boom", headers=bearer(token)),
        adapter_session.get(f"{BASE_URL}/nowhere", headers=bearer(token)),
    ]
    for answer in answers:
        assert token not in answer.text
        assert all(token not in value for value in answer.headers.values())
    assert all(token not in repr(record) for record in sandbox_core.requests)
    assert token not in repr(sandbox_core)


def test_endpoints_never_see_the_authorization_header(
    sandbox_core: SandboxCore, adapter_session: requests.Session, bearer: Any, fake_crm: Any
) -> None:
    answer = adapter_session.get(f"{BASE_URL}/echo", headers=bearer(sandbox_core.auth.token))
    assert answer.status_code == 200
    assert "authorization" not in answer.json()["headers"]
    assert "authorization" not in fake_crm.seen[-1].headers
