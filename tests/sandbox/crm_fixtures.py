"""Small, hand-made CRM data and a request driver for the store, rules, search and CRM tests.

The property list covers one definition of each kind the rules distinguish (email,
single and multi-select enumerations, number, date, datetime, bool, phone, read-only,
calculated, unique custom, external options), so tests read as HubSpot's rules and do not
depend on the sample data. :class:`Api` drives :class:`~hsframe.sandbox.crm.Crm` with
:class:`~hsframe.sandbox.wire.Request` objects, without HTTP.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from hsframe.sandbox.crm import Crm, CrmSettings
from hsframe.sandbox.store import Store
from hsframe.sandbox.wire import Request

CONTACTS = "/crm/v3/objects/contacts"
START = 1_735_689_600.0  # 2025-01-01T00:00:00Z, after every seeded timestamp
LIFECYCLE = [
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
]


def _prop(name: str, type_: str, field_type: str, **extra: Any) -> dict[str, Any]:
    options = extra.pop("options", [])
    read_only = extra.pop("read_only", False)
    return {
        "name": name,
        "label": name.replace("_", " ").title(),
        "type": type_,
        "fieldType": field_type,
        "groupName": "contactinformation",
        "description": "",
        "options": [
            {"label": str(v).title(), "value": v, "hidden": False, "displayOrder": i}
            for i, v in enumerate(options)
        ],
        "hasUniqueValue": extra.pop("unique", False),
        "modificationMetadata": {
            "archivable": True,
            "readOnlyDefinition": False,
            "readOnlyValue": read_only,
        },
        **extra,
    }


PROPERTIES: list[dict[str, Any]] = [
    _prop("hs_object_id", "number", "number", read_only=True),
    _prop("createdate", "datetime", "date", read_only=True),
    _prop("lastmodifieddate", "datetime", "date", read_only=True),
    _prop("email", "string", "text", unique=True),
    _prop("firstname", "string", "text"),
    _prop("lastname", "string", "text"),
    _prop("company", "string", "text"),
    _prop("phone", "string", "phonenumber"),
    _prop("mobilephone", "phone_number", "phonenumber"),
    _prop("lifecyclestage", "enumeration", "radio", options=LIFECYCLE),
    _prop("industry", "enumeration", "select", options=["RETAIL", "BANKING", "MEDIA"]),
    _prop("interests", "enumeration", "checkbox", options=["golf", "chess", "tennis"]),
    _prop("owner", "enumeration", "select", externalOptions=True),
    _prop("score", "number", "number"),
    _prop("birthday", "date", "date"),
    _prop("last_seen", "datetime", "date"),
    _prop("vip", "bool", "booleancheckbox", options=["true", "false"]),
    _prop("customer_code", "string", "text", unique=True),
    _prop("hubspotscore", "number", "number", read_only=True),
    _prop("full_name", "string", "calculation_equation", calculated=True, read_only=True),
    _prop("hs_additional_emails", "string", "textarea"),
    _prop("hs_merged_object_ids", "enumeration", "checkbox", read_only=True),
]


def contact(object_id: int, **values: str | None) -> dict[str, str | None]:
    """One frame row with system values filled in (created in 2023, modified 2024)."""
    return {
        "hs_object_id": str(object_id),
        "createdate": "2023-01-01T00:00:00.000Z",
        "lastmodifieddate": "2024-01-01T00:00:00.000Z",
        **values,
    }


def frame(rows: Sequence[Mapping[str, str | None]]) -> pd.DataFrame:
    """A seed frame in the contract's shape (object columns, None for unset)."""
    names = list(dict.fromkeys(name for row in rows for name in row))
    return pd.DataFrame([dict(row) for row in rows], columns=names, dtype=object)


SAMPLE_ROWS: list[dict[str, str | None]] = [
    contact(
        101,
        email="ann.lee@example.com",
        firstname="Ann",
        lastname="Lee",
        company="Acme Corp",
        lifecyclestage="lead",
        industry="RETAIL",
        interests="golf;chess",
        score="10",
        birthday="1990-05-01",
        last_seen="2024-03-01T10:00:00.000Z",
        vip="true",
        phone="+1 (555) 010-1000",
    ),
    contact(
        102,
        email="bob@example.org",
        firstname="Bob",
        lastname="Stone",
        company="Globex",
        lifecyclestage="customer",
        industry="BANKING",
        interests="tennis",
        score="25.5",
        birthday="1985-12-24",
        last_seen="2024-03-02T10:00:00.000Z",
        vip="false",
    ),
    contact(
        103,
        email="cara@example.com",
        firstname="Cara",
        lastname="Diaz",
        company="Acme Labs",
        lifecyclestage="subscriber",
        score="-3",
        customer_code="C-1",
    ),
    contact(104, firstname="Dan", lastname="lee", company=None, industry="MEDIA"),
    contact(
        105,
        email="eve@example.net",
        firstname="Eve",
        lifecyclestage="other",
        interests="chess",
        score="7",
    ),
]


class ManualClock:
    """A clock tests move by hand (seconds since the epoch)."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Answer:
    """A decoded response."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class Api:
    """Calls a :class:`Crm` the way the core does: route, then handler."""

    def __init__(self, crm: Crm) -> None:
        self.crm = crm

    def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: Mapping[str, str | Sequence[str]] | None = None,
        *,
        raw: bytes | None = None,
    ) -> Answer:
        route = self.crm.route(method, path)
        assert route is not None, f"no route for {method} {path}"
        params = {
            name: [value] if isinstance(value, str) else list(value)
            for name, value in (query or {}).items()
        }
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        response = route.handler(Request(method, path, params, {}, data))
        return Answer(response.status, response.payload(), response.headers)

    def get(self, path: str = "", **query: str | Sequence[str]) -> Answer:
        return self("GET", CONTACTS + path, query=query)

    def post(self, path: str, body: Any, **query: str | Sequence[str]) -> Answer:
        return self("POST", CONTACTS + path, body, query=query)

    def patch(self, path: str, body: Any, **query: str | Sequence[str]) -> Answer:
        return self("PATCH", CONTACTS + path, body, query=query)

    def delete(self, path: str) -> Answer:
        return self("DELETE", CONTACTS + path)


def make_store(
    rows: Sequence[Mapping[str, str | None]] = SAMPLE_ROWS,
    *,
    clock: ManualClock | None = None,
    properties: list[dict[str, Any]] | None = None,
) -> Store:
    """A store seeded with ``rows`` (the five sample contacts by default)."""
    return Store.from_frame(
        properties if properties is not None else PROPERTIES,
        frame(rows),
        clock=clock or ManualClock(),
    )


def make_api(
    rows: Sequence[Mapping[str, str | None]] = SAMPLE_ROWS,
    *,
    clock: ManualClock | None = None,
    seed: int = 0,
    **settings: Any,
) -> Api:
    """A CRM over a seeded store, results not shuffled unless asked."""
    ticking = clock or ManualClock()
    settings.setdefault("shuffle_results", False)
    crm = Crm(
        make_store(rows, clock=ticking),
        settings=CrmSettings(**settings),
        clock=ticking,
        rng=random.Random(seed),
    )
    return Api(crm)


def embedded(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The JSON array a validation error embeds in its message."""
    prefix = "Property values were not valid: "
    message = str(body["message"])
    assert message.startswith(prefix), message
    items: list[dict[str, Any]] = json.loads(message[len(prefix) :])
    return items
