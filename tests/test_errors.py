"""The exception tree: status → class, HubSpot's body forms, hints, and no token anywhere."""

from __future__ import annotations

import json
import pickle

import pytest

from hsframe.errors import (
    ERROR_CLASSES,
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    HubSpotError,
    MissingScopesError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
    ValidationError,
    error_from_response,
    mask,
    parse_retry_after,
)

TOKEN = "pat-na1-0f8c3d6e-1111-2222-3333-4444deadbeef"

CORRELATION = "019dd40e-2e37-796d-b3b3-43083befad77"


def _body(**fields: object) -> bytes:
    return json.dumps({"status": "error", "correlationId": CORRELATION, **fields}).encode()


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, ValidationError),
        (401, AuthenticationError),
        (403, MissingScopesError),
        (404, NotFoundError),
        (409, ConflictError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (504, ServerError),
        (521, ServerError),
        (418, HubSpotError),
        (414, HubSpotError),
    ],
)
def test_status_picks_the_class(status: int, cls: type[HubSpotError]) -> None:
    error = error_from_response(status, {}, _body(message="m", category="X"))
    assert type(error) is cls
    assert (error.status, error.category, error.correlation_id) == (status, "X", CORRELATION)


def test_the_table_is_a_table_of_subclasses() -> None:
    assert all(issubclass(cls, HubSpotError) for cls in ERROR_CLASSES.values())
    for cls in (TransportError, ConfigurationError):
        assert issubclass(cls, HubSpotError)


def test_every_class_says_what_to_do_next() -> None:
    classes = {*ERROR_CLASSES.values(), HubSpotError, TransportError, ConfigurationError}
    for cls in classes:
        error = cls("m")
        assert error.hint, cls
        assert str(error).startswith("m\n")
        assert error.hint in str(error)


def test_authentication_hint_points_at_the_private_app_auth_tab() -> None:
    body = _body(
        message="The access token is invalid or has been rotated",
        category="INVALID_AUTHENTICATION",
    )
    error = error_from_response(401, {}, body)
    text = str(error)
    assert "rotated" in text
    assert "Private Apps" in text and "Auth" in text
    assert "HUBSPOT_ACCESS_TOKEN" in text


def test_property_errors_come_from_the_embedded_array_and_errors_list_once() -> None:
    # Captured v3 response (hubspot-api.md §3.3), with a second property added.
    embedded = [
        {
            "isValid": False,
            "message": 'Property "charlotte_drive" does not exist',
            "error": "PROPERTY_DOESNT_EXIST",
            "name": "charlotte_drive",
        },
        {
            "isValid": False,
            "message": "Email address x@y is invalid",
            "error": "INVALID_EMAIL",
            "name": "email",
        },
    ]
    body = _body(
        message=f"Property values were not valid: {json.dumps(embedded)}",
        category="VALIDATION_ERROR",
        errors=[
            {
                "message": 'Property "charlotte_drive" does not exist',
                "code": "PROPERTY_DOESNT_EXIST",
                "context": {"propertyName": ["charlotte_drive"]},
            },
            {
                "message": "Email address x@y is invalid",
                "code": "INVALID_EMAIL",
                "context": {"propertyName": ["email"]},
            },
        ],
    )
    error = error_from_response(400, {}, body)
    assert isinstance(error, ValidationError)
    assert [(e["name"], e["code"]) for e in error.errors] == [
        ("charlotte_drive", "PROPERTY_DOESNT_EXIST"),
        ("email", "INVALID_EMAIL"),
    ]
    assert "email: INVALID_EMAIL: Email address x@y is invalid" in str(error)


def test_property_errors_from_the_errors_list_alone() -> None:
    body = _body(
        message="Validation failed",
        category="VALIDATION_ERROR",
        errors=[
            {"message": "bad", "code": "INVALID_OPTION", "context": {"propertyName": ["a"]}},
            {"message": "This is a message", "in": "name"},
        ],
    )
    error = error_from_response(400, {}, body)
    assert isinstance(error, ValidationError)
    assert [(e["name"], e["code"]) for e in error.errors] == [
        ("a", "INVALID_OPTION"),
        ("name", None),
    ]


def test_validation_without_properties_keeps_the_message() -> None:
    body = _body(
        message="Duplicate IDs found in batch input: [12877907025]. IDs must be unique",
        category="VALIDATION_ERROR",
    )
    error = error_from_response(400, {}, body)
    assert isinstance(error, ValidationError)
    assert error.errors == []
    assert "Duplicate IDs" in str(error)


@pytest.mark.parametrize(
    "body",
    [
        # Older form (hubspot-api.md §3.3; the sandbox's).
        _body(message="Contact already exists. Existing ID: 37765128953", category="CONFLICT"),
        # Newer form: the id also in errors[].
        _body(
            message="Contact already exists. Existing ID: 37765128953",
            category="OBJECT_ALREADY_EXISTS",
            error="CONTACT_EXISTS",
            errors=[
                {
                    "message": "A contact with email a@b.co already exists. "
                    "Existing ID: 37765128953",
                    "in": "email",
                }
            ],
        ),
        # Only errors[] names it.
        _body(
            message="Conflict",
            category="CONFLICT",
            errors=[{"message": "Existing ID: 37765128953"}],
        ),
    ],
)
def test_conflict_finds_the_existing_id(body: bytes) -> None:
    error = error_from_response(409, {}, body)
    assert isinstance(error, ConflictError)
    assert error.existing_id == "37765128953"


def test_missing_scopes_are_named() -> None:
    body = _body(
        message="This app hasn't been granted all required scopes to make this call.",
        category="MISSING_SCOPES",
        errors=[
            {
                "message": "One or more of the following scopes are required.",
                "context": {"requiredGranularScopes": ["crm.objects.contacts.write"]},
            }
        ],
    )
    error = error_from_response(403, {}, body)
    assert isinstance(error, MissingScopesError)
    assert error.missing == ("crm.objects.contacts.write",)
    assert "crm.objects.contacts.write" in str(error)
    assert "Scopes" in error.hint


def test_rate_limit_carries_policy_and_retry_after() -> None:
    body = _body(
        message="You have reached your ten_secondly_rolling limit.",
        errorType="RATE_LIMIT",
        policyName="TEN_SECONDLY_ROLLING",
        category="RATE_LIMITS",
    )
    error = error_from_response(429, {"Retry-After": "2"}, body)
    assert isinstance(error, RateLimitError)
    assert (error.policy, error.retry_after) == ("TEN_SECONDLY_ROLLING", 2.0)


def test_daily_rate_limit_says_when_it_resets() -> None:
    body = _body(message="You have reached your daily limit.", policyName="DAILY")
    error = error_from_response(429, {"retry-after": "5400"}, body)
    assert isinstance(error, RateLimitError)
    assert "midnight" in error.hint and "1 h 30 min" in error.hint


@pytest.mark.parametrize(
    ("status", "cls"), [(404, NotFoundError), (502, ServerError), (429, RateLimitError)]
)
def test_html_bodies_still_give_the_right_error(status: int, cls: type[HubSpotError]) -> None:
    page = (
        b"<!DOCTYPE html><html><head><title>Oops</title><style>h1{color:red}</style></head>"
        b"<body><h1>502 Bad&nbsp;Gateway</h1><p>Reference: abc</p></body></html>"
    )
    error = error_from_response(
        status, {"Content-Type": "text/html", "X-HubSpot-Correlation-Id": "c-9"}, page
    )
    assert type(error) is cls
    assert "502 Bad Gateway Reference: abc" in error.message
    assert "<" not in error.message and "color" not in error.message
    assert error.correlation_id == "c-9"
    assert error.body is None


@pytest.mark.parametrize("body", [b"", b"not json", b"[1, 2]", b"\xff\xfe garbage"])
def test_odd_bodies_are_tolerated(body: bytes) -> None:
    error = error_from_response(500, {}, body)
    assert isinstance(error, ServerError)
    assert "HTTP 500" in error.message


def test_json_without_any_fields_is_tolerated() -> None:
    error = error_from_response(400, {}, b"{}")
    assert isinstance(error, ValidationError)
    assert error.message == "HubSpot answered HTTP 400."


def test_the_token_is_scrubbed_from_bodies() -> None:
    body = _body(message=f"Token {TOKEN} is not valid", category="INVALID_AUTHENTICATION")
    error = error_from_response(401, {}, body, redact=[TOKEN])
    for text in (str(error), repr(error), json.dumps(error.body), error.message):
        assert TOKEN not in text
    assert mask(TOKEN) in error.message


def test_errors_survive_pickling() -> None:
    error = error_from_response(
        409, {}, _body(message="Contact already exists. Existing ID: 7", category="CONFLICT")
    )
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is ConflictError
    assert (copy.existing_id, copy.status, str(copy)) == ("7", 409, str(error))


def test_str_shows_status_category_and_correlation() -> None:
    error = error_from_response(
        404, {}, _body(message="Object not found.", category="OBJECT_NOT_FOUND")
    )
    assert str(error).splitlines()[0] == "Object not found."
    assert f"(HTTP 404, OBJECT_NOT_FOUND, correlation id {CORRELATION})" in str(error)
    assert repr(error).startswith("NotFoundError(status=404")


def test_configuration_error_says_where_to_get_a_token() -> None:
    text = str(ConfigurationError("No token."))
    assert "Private Apps" in text
    assert "crm.objects.contacts.read" in text and "crm.objects.contacts.write" in text
    assert "HUBSPOT_ACCESS_TOKEN" in text and ".env" in text


@pytest.mark.parametrize(
    ("secret", "shown"),
    [
        ("pat-na1-0f8c3d6e-1111-2222-3333-4444a1b2", "pat-na1-…a1b2"),
        ("pat-eu1-0f8c3d6e-1111-2222-3333-4444a1b2", "pat-eu1-…a1b2"),
        ("CJSP5qf1KhICAQEYs-gDIIGOBii1hQIyGQAf3xBKmlwHjX7OIpuIFEavB2-qYAGQsF4", "…QsF4"),
        ("pat-na1-short", "pat-na1-…"),
        ("", "…"),
    ],
)
def test_mask_shows_at_most_four_characters(secret: str, shown: str) -> None:
    assert mask(secret) == shown


@pytest.mark.parametrize(
    ("value", "seconds"), [("1", 1.0), ("0.5", 0.5), (" 3 ", 3.0), ("-1", None), ("x", None)]
)
def test_retry_after_parsing(value: str, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds
