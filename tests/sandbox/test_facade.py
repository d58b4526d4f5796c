"""``Sandbox``, the one object tests and notebooks use, and the package's public surface."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests

import hsframe.sandbox
from hsframe.sandbox import CrmSettings, Sandbox, generate_contacts

CONTACTS = "/crm/v3/objects/contacts"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Clock:
    def __init__(self, now: float = 1_772_452_800.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_public_surface_is_pinned() -> None:
    assert sorted(hsframe.sandbox.__all__) == sorted(
        [
            "BASE_URL",
            "TIERS",
            "CrmSettings",
            "Fault",
            "RequestRecord",
            "Sandbox",
            "SandboxAdapter",
            "SandboxCore",
            "SandboxServer",
            "Tier",
            "generate_contacts",
            "load_properties",
            "sample_contacts",
        ]
    )
    assert all(hasattr(hsframe.sandbox, name) for name in hsframe.sandbox.__all__)


def test_default_contacts_are_the_samples() -> None:
    frame = Sandbox().contacts()
    assert len(frame) == 1200
    assert frame.index.name == "id"


def test_a_number_generates_that_many_contacts_deterministically() -> None:
    first = Sandbox(contacts=25, seed=4).contacts()
    assert len(first) == 25
    pd.testing.assert_frame_equal(first, Sandbox(contacts=25, seed=4).contacts())
    assert not first.equals(Sandbox(contacts=25, seed=5).contacts())


def test_a_frame_or_a_csv_is_used_as_given(tmp_path: Path) -> None:
    frame = generate_contacts(6, seed=2)
    assert len(Sandbox(frame).contacts()) == 6
    path = tmp_path / "contacts.csv"
    frame.to_csv(path, index=False)
    from_path = Sandbox(path).contacts()
    from_text = Sandbox(str(path)).contacts()
    assert len(from_path) == len(from_text) == 6
    pd.testing.assert_frame_equal(from_path, Sandbox(frame).contacts())


@pytest.mark.parametrize(
    ("contacts", "error"), [(True, TypeError), (1.5, TypeError), (-1, ValueError)]
)
def test_bad_contacts_are_refused(contacts: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        Sandbox(contacts)


def test_the_server_runs_inside_the_with_block_only() -> None:
    sb = Sandbox(contacts=3)
    with pytest.raises(RuntimeError, match="not running"):
        _ = sb.url
    with sb:
        assert sb.url.startswith("http://127.0.0.1:")
        assert sb.url in repr(sb)
        with requests.Session() as session:
            answer = session.get(f"{sb.url}{CONTACTS}", headers=auth(sb.token))
        assert answer.status_code == 200
        assert len(answer.json()["results"]) == 3
    with pytest.raises(RuntimeError):
        _ = sb.url
    sb.stop()  # idempotent


def test_the_session_answers_in_process_at_the_adapter_url() -> None:
    sb = Sandbox(contacts=3)
    with sb.session() as session:
        answer = session.get(f"{sb.adapter_url}{CONTACTS}", headers=auth(sb.token))
        unauthorized = session.get(f"{sb.adapter_url}{CONTACTS}")
    assert answer.status_code == 200
    assert unauthorized.status_code == 401
    assert [record.status for record in sb.requests] == [200, 401]


def test_writes_show_in_the_contacts_frame() -> None:
    sb = Sandbox(contacts=3)
    contact_id = int(sb.contacts().index[0])
    with sb.session() as session:
        answer = session.patch(
            f"{sb.adapter_url}{CONTACTS}/{contact_id}",
            headers=auth(sb.token),
            json={"properties": {"jobtitle": "Head of Data"}},
        )
    assert answer.status_code == 200
    assert sb.contacts().loc[contact_id, "jobtitle"] == "Head of Data"


def test_tokens_issue_and_rotate_over_http() -> None:
    with Sandbox(contacts=2) as sb, requests.Session() as session:
        old = sb.token
        reader = sb.issue_token(["crm.objects.contacts.read"])
        assert session.get(f"{sb.url}{CONTACTS}", headers=auth(reader)).status_code == 200
        patched = session.patch(
            f"{sb.url}{CONTACTS}/1", headers=auth(reader), json={"properties": {}}
        )
        assert patched.status_code == 403
        new = sb.rotate_token()
        assert new == sb.token != old
        assert session.get(f"{sb.url}{CONTACTS}", headers=auth(old)).status_code == 401
        assert session.get(f"{sb.url}{CONTACTS}", headers=auth(new)).status_code == 200


def test_a_chosen_token_and_scopes() -> None:
    sb = Sandbox(
        contacts=1, token="pat-na1-chosen-token-1234", scopes=["crm.schemas.contacts.read"]
    )
    assert sb.token == "pat-na1-chosen-token-1234"
    with sb.session() as session:
        answer = session.get(f"{sb.adapter_url}{CONTACTS}", headers=auth(sb.token))
    assert answer.status_code == 403


def test_repr_masks_the_token() -> None:
    sb = Sandbox(contacts=1)
    assert sb.token not in repr(sb)
    assert sb.token[-4:] in repr(sb)
    assert "not serving" in repr(sb)


def test_faults_through_the_facade() -> None:
    with Sandbox(contacts=2) as sb, requests.Session() as session:
        sb.inject(503, path=CONTACTS, count=2)
        sb.inject(drop=True)
        assert len(sb.pending_faults) == 3
        statuses = [
            session.get(f"{sb.url}{CONTACTS}", headers=auth(sb.token)).status_code for _ in range(2)
        ]
        assert statuses == [503, 503]
        with pytest.raises(requests.ConnectionError):
            session.get(f"{sb.url}{CONTACTS}", headers=auth(sb.token))
        assert session.get(f"{sb.url}{CONTACTS}", headers=auth(sb.token)).status_code == 200
    log = sb.requests
    assert [(r.method, r.path, r.status, r.dropped) for r in log] == [
        ("GET", CONTACTS, 503, False),
        ("GET", CONTACTS, 503, False),
        ("GET", CONTACTS, None, True),
        ("GET", CONTACTS, 200, False),
    ]
    assert all(r.seconds >= 0 for r in log)
    sb.clear_requests()
    assert sb.requests == []


def test_knobs_reach_the_parts() -> None:
    settings = CrmSettings(shuffle_results=False)
    sb = Sandbox(contacts=1, tier="free", window=2.0, latency=0.0, settings=settings)
    assert sb.settings is settings
    assert sb.crm.settings is settings  # live: changing a field changes the sandbox
    assert sb.portal_id == 12345678
    sb.latency = 0.01
    assert sb.latency == 0.01
    with pytest.raises(ValueError):
        sb.latency = -1
    with sb.session() as session:
        answer = session.get(f"{sb.adapter_url}{CONTACTS}", headers=auth(sb.token))
    assert answer.headers["X-HubSpot-RateLimit-Max"] == "100"
    assert answer.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "2000"
    with pytest.raises(ValueError, match="unknown tier"):
        Sandbox(contacts=1, tier="gold")


def test_a_chosen_portal_id_is_the_accounts_everywhere() -> None:
    sb = Sandbox(contacts=1, portal_id=777)
    assert sb.portal_id == 777 and "portal_id=777" in repr(sb)
    with sb.session() as session:
        info = session.post(
            f"{sb.adapter_url}/oauth/v2/private-apps/get/access-token-info",
            json={"tokenKey": sb.token},
        ).json()
    assert info["hubId"] == 777
    assert sb.limiter.portal_id == 777  # the groupName of its 429 bodies


def test_an_injected_clock_slides_the_windows() -> None:
    clock = Clock()
    sb = Sandbox(contacts=1, tier="free", window=10.0, clock=clock)
    with sb.session() as session:
        url, headers = f"{sb.adapter_url}{CONTACTS}", auth(sb.token)
        for _ in range(100):
            assert session.get(url, headers=headers).status_code == 200
        refused = session.get(url, headers=headers)
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "10"
        clock.now += 10
        assert session.get(url, headers=headers).status_code == 200
