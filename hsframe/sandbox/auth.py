"""Who may call the sandbox: private-app tokens, their scopes, rotation and introspection.

A HubSpot account (portal) holds private apps; each app has one access token and a set of
scopes (hubspot-api.md §6). The sandbox models exactly that: one account, a default app
whose token :attr:`Auth.token` is handed to users, and further apps from
:meth:`Auth.issue_token`. Rotation replaces the default app's token and the old one is
refused at once (the "Rotate and expire this token now" choice; Decisions table).

The answers follow hubspot-api.md §3.3 and the Decisions table: a 401 for a missing or
unknown token (with ``X-HubSpot-Auth-Failure``), a 403 ``MISSING_SCOPES`` naming the scopes
an endpoint needs, and the two introspection endpoints of §6.2 (token info, which needs no
scope and no Authorization header, and account details, which needs a token but no scope).

Tokens are secrets even here: they never appear in a repr, an error message or a log line.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from hsframe.sandbox.wire import ApiError, Request, Response

DEFAULT_PORTAL_ID = 12345678
"""The sandbox account's id (``portalId`` / ``hubId``), unless another is chosen."""

DEFAULT_SCOPES = ("crm.objects.contacts.read", "crm.objects.contacts.write")
"""The scopes of the default private app: read and write contacts."""

DEFAULT_USER_ID = 1
"""The user who created the sandbox's private apps (``userId`` in token info)."""

TOKEN_INFO_PATH = "/oauth/v2/private-apps/get/access-token-info"
ACCOUNT_DETAILS_PATH = "/account-info/v3/details"

CREDENTIALS_NOT_FOUND = (
    "Authentication credentials not found. This API supports both API Key and OAuth 2.0 "
    "authentication and you can find more details at "
    "https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
TOKEN_INVALID = "The access token is invalid or has been rotated"
MISSING_SCOPES = (
    "This app hasn't been granted all required scopes to make this call. "
    "Read more about required scopes here: https://developers.hubspot.com/scopes."
)
SCOPES_LINK = "https://developers.hubspot.com/scopes"

_FIRST_APP_ID = 2_000_001


@dataclass(frozen=True)
class App:
    """One private app of the sandbox account.

    Attributes:
        app_id: The app's id (``appId`` in token info); also the key of its burst window.
        scopes: The scopes granted to the app, in the order they were given.
        user_id: The user who created the app.
    """

    app_id: int
    scopes: tuple[str, ...]
    user_id: int = DEFAULT_USER_ID

    def allows(self, required: Iterable[str]) -> bool:
        """Whether the app holds at least one of ``required`` (none required → True)."""
        needed = tuple(required)
        return not needed or any(scope in self.scopes for scope in needed)


def new_token(region: str = "na1") -> str:
    """A fresh private-app token in HubSpot's form, ``pat-<region>-<uuid4>``."""
    return f"pat-{region}-{uuid.uuid4()}"


def mask(token: str | None) -> str:
    """A token shortened for display: its prefix and last four characters, never the rest."""
    if not token:
        return "<none>"
    prefix = token[:8] if token.startswith("pat-") else ""
    return f"{prefix}...{token[-4:]}" if len(token) > 12 else "..."


class Auth:
    """The sandbox account and its private apps, with their tokens. Thread safe.

    Args:
        portal_id: The account id (``portalId`` in account details, ``hubId`` in token info).
        scopes: Scopes of the default app.
        token: The default app's token; a fresh ``pat-<region>-<uuid4>`` when None.
        region: The region in generated tokens (``na1``, ``eu1``).
        clock: Seconds since the epoch; gives the account its creation time.

    Example:
        >>> auth = Auth(scopes=("crm.objects.contacts.read",))
        >>> auth.token.startswith("pat-na1-")
        True
        >>> old = auth.token
        >>> new = auth.rotate_token()
        >>> auth.app_for(old) is None, auth.app_for(new) is auth.default_app
        (True, True)
    """

    def __init__(
        self,
        *,
        portal_id: int = DEFAULT_PORTAL_ID,
        scopes: Iterable[str] = DEFAULT_SCOPES,
        token: str | None = None,
        region: str = "na1",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.portal_id = portal_id
        self.region = region
        self._lock = threading.Lock()
        self._apps: dict[str, App] = {}
        self._next_id = _FIRST_APP_ID
        self._created_ms = int(clock() * 1000)
        self._token = token or new_token(region)
        self._default = self._register(self._token, scopes)

    def __repr__(self) -> str:
        return (
            f"Auth(portal_id={self.portal_id}, apps={len(self._apps)}, token={mask(self._token)})"
        )

    @property
    def token(self) -> str:
        """The default app's current token."""
        return self._token

    def _register(self, token: str, scopes: Iterable[str]) -> App:
        granted = (scopes,) if isinstance(scopes, str) else tuple(scopes)  # one scope alone
        with self._lock:
            app = App(self._next_id, granted)
            self._next_id += 1
            self._apps[token] = app
            return app

    @property
    def default_app(self) -> App:
        """The app whose token :attr:`token` is."""
        return self._default

    def issue_token(self, scopes: Iterable[str]) -> str:
        """Create a new private app with ``scopes`` and return its token.

        Each new app has its own burst window; all share the account's daily budget.
        """
        token = new_token(self.region)
        self._register(token, scopes)
        return token

    def rotate_token(self) -> str:
        """Give the default app a new token; the old one is refused from now on."""
        fresh = new_token(self.region)
        with self._lock:
            self._apps.pop(self._token, None)
            self._apps[fresh] = self._default
            self._token = fresh
        return fresh

    def app_for(self, token: str | None) -> App | None:
        """The app a token belongs to, or None for a missing, unknown or rotated token."""
        if not token:
            return None
        with self._lock:
            return self._apps.get(token)

    def authenticate(self, request: Request) -> App:
        """The app behind a request's bearer token.

        Raises:
            ApiError: 401 ``INVALID_AUTHENTICATION``: "Authentication credentials not
                found..." without a bearer token, "The access token is invalid or has
                been rotated" for an unknown one.
        """
        token = request.bearer()
        if token is None:
            raise _unauthorized(CREDENTIALS_NOT_FOUND)
        app = self.app_for(token)
        if app is None:
            raise _unauthorized(TOKEN_INVALID)
        return app

    def check_scopes(self, app: App, required: Iterable[str]) -> None:
        """Refuse a call for which the app holds none of the ``required`` scopes.

        Raises:
            ApiError: 403 ``MISSING_SCOPES`` with ``errors[0].context.requiredGranularScopes``
                listing ``required`` (any one of them would do, hence the message).
        """
        needed = list(required)
        if app.allows(needed):
            return
        raise ApiError(
            403,
            "MISSING_SCOPES",
            MISSING_SCOPES,
            errors=[
                {
                    "message": "One or more of the following scopes are required.",
                    "context": {"requiredGranularScopes": needed},
                }
            ],
            extra={"links": {"scopes": SCOPES_LINK}},
        )

    def token_info(self, request: Request) -> Response:
        """``POST /oauth/v2/private-apps/get/access-token-info``: who a token belongs to.

        The body is ``{"tokenKey": "pat-..."}``; no scope and no Authorization header are
        needed. The answer is ``{userId, hubId, appId, scopes}``.

        Raises:
            ApiError: 400 without a ``tokenKey``; 401 for an unknown or rotated token.
        """
        payload = request.json()
        token = payload.get("tokenKey") if isinstance(payload, dict) else None
        if not isinstance(token, str) or not token:
            raise ApiError(
                400,
                "VALIDATION_ERROR",
                "Invalid input: tokenKey is required",
                errors=[{"message": "tokenKey is required", "in": "tokenKey"}],
            )
        app = self.app_for(token)
        if app is None:
            raise _unauthorized(TOKEN_INVALID)
        return Response.of_json(
            200,
            {
                "userId": app.user_id,
                "hubId": self.portal_id,
                "appId": app.app_id,
                "scopes": list(app.scopes),
            },
        )

    def account_details(self) -> Response:
        """``GET /account-info/v3/details``: the account's id, time zone and currency.

        The account's time zone is UTC, so its daily rate limit resets at UTC midnight.
        """
        return Response.of_json(
            200,
            {
                "portalId": self.portal_id,
                "accountType": "STANDARD",
                "portalName": "hsframe sandbox",
                "timeZone": "UTC",
                "utcOffset": "+00:00",
                "utcOffsetMilliseconds": 0,
                "companyCurrency": "USD",
                "additionalCurrencies": [],
                "dataHostingLocation": self.region,
                "uiDomain": "app.hubspot.com",
                "createdAt": self._created_ms,
            },
        )


def _unauthorized(message: str) -> ApiError:
    return ApiError(
        401,
        "INVALID_AUTHENTICATION",
        message,
        headers={"X-HubSpot-Auth-Failure": "401 Unauthorized"},
    )
