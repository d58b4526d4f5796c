"""What the token form decides, without a single widget: check a token, explain the answer.

The token form (:mod:`hsframe.widgets.token_form`) is a view; everything it shows comes from
here, so it can be tested in plain pytest and reused by other front ends (the command line's
``hsframe token check`` says the same things). :class:`TokenCheck` takes a token (or finds the
stored one: ``HUBSPOT_ACCESS_TOKEN``, then ``.env``), asks HubSpot who it belongs to and what
it may do (:meth:`hsframe.client.Client.token_info`), and returns a :class:`TokenResult`: a
status, the portal, app and user, one :class:`ScopeRow` per scope (granted or not, and what it
is needed for) and a message that says what to do next.

Side effects are kept apart and last: :meth:`TokenCheck.check` only asks HubSpot;
:meth:`TokenCheck.adopt` makes the checked client the session's default and, when asked,
saves the token to ``.env`` (mode 0600, :func:`hsframe.config.save_token`).

The token itself never lands in a result: results carry its mask (``pat-na1-…1a2b``) and the
client, whose settings hold it as a :class:`~hsframe.config.Secret`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from hsframe.client import READ_SCOPE, SCOPE_SHORTHANDS, WRITE_SCOPE, Client, TokenInfo
from hsframe.client import set_default_client as _set_default_client
from hsframe.config import DEFAULT_BASE_URL, TOKEN_ENV, Secret, Settings, save_token
from hsframe.errors import AuthenticationError, ConfigurationError, HubSpotError

__all__ = [
    "PRIVATE_APP_AUTH",
    "PRIVATE_APP_SCOPES",
    "SCOPE_PURPOSES",
    "ScopeRow",
    "Status",
    "StoredToken",
    "TokenCheck",
    "TokenResult",
]

PRIVATE_APP_AUTH = "HubSpot › Settings › Integrations › Private Apps › (your app) › Auth"
"""Where a private app's token is shown, copied and rotated."""

PRIVATE_APP_SCOPES = "HubSpot › Settings › Integrations › Private Apps › (your app) › Scopes"
"""Where a private app's scopes are added."""

SCOPE_PURPOSES: Mapping[str, str] = {
    READ_SCOPE: "loading contacts, and the conflict check before a push",
    WRITE_SCOPE: "pushing edits and undoing pushes",
    "crm.schemas.contacts.read": "reading contact property definitions",
    "crm.schemas.contacts.write": "creating contact properties",
    "crm.objects.companies.read": "reading companies",
    "crm.objects.companies.write": "writing companies",
    "crm.objects.contacts.sensitive.read.v2": "reading sensitive contact properties",
    "crm.objects.contacts.sensitive.write.v2": "writing sensitive contact properties",
}
"""What each scope is needed for, as the scope table says it."""

Status = Literal["connected", "missing_scopes", "invalid_token", "no_token", "error"]
"""How a check ended: ``connected`` is the only one that gives a usable client."""

ClientFactory = Callable[[Settings], Client]
"""Builds the client for a token's settings (default :class:`~hsframe.client.Client`)."""


@dataclass(frozen=True)
class ScopeRow:
    """One line of the scope table.

    Attributes:
        scope: The full scope name, e.g. ``crm.objects.contacts.write``.
        purpose: What hsframe needs it for.
        granted: Whether the token has it; None before a token was checked.
        required: Whether the form was asked to insist on it.
    """

    scope: str
    purpose: str
    granted: bool | None
    required: bool

    @property
    def mark(self) -> str:
        """``✓``, ``✗``, or ``?`` when not checked yet."""
        return "?" if self.granted is None else ("✓" if self.granted else "✗")


@dataclass(frozen=True)
class StoredToken:
    """A token found without being typed: in the environment or in ``.env``.

    Attributes:
        masked: Its display form (``pat-na1-…1a2b``).
        source: ``"environment"`` or the ``.env`` file's path.
    """

    masked: str
    source: str

    @property
    def where(self) -> str:
        """Where it was found, in words."""
        return f"from {TOKEN_ENV}" if self.source == "environment" else f"from {self.source}"


@dataclass(frozen=True)
class TokenResult:
    """The outcome of one check: what the form shows.

    Attributes:
        status: See :data:`Status`.
        message: What happened and what to do next, in words (never the token).
        masked: The checked token's mask, or ``""`` when there was none.
        source: Where the token came from: ``"field"``, ``"environment"`` or a ``.env`` path.
        info: HubSpot's token information (portal, app, user, scopes), when it answered.
        scopes: The scope table.
        client: The connected client (status ``connected`` only); it holds the token.
        saved_to: The file the token was saved to, if it was.
    """

    status: Status
    message: str
    masked: str = ""
    source: str = ""
    info: TokenInfo | None = None
    scopes: tuple[ScopeRow, ...] = ()
    client: Client | None = field(default=None, repr=False, compare=False)
    saved_to: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the token works and has every required scope."""
        return self.status == "connected"

    @property
    def missing(self) -> tuple[str, ...]:
        """The required scopes the token lacks."""
        return tuple(row.scope for row in self.scopes if row.required and row.granted is False)


class TokenCheck:
    """Checks private-app tokens for the scopes a notebook needs.

    Args:
        required: Scopes the token must have: ``"read"``, ``"write"`` (the contacts scopes)
            or full names. The table always lists the read and write scopes; other scopes
            named here are added to it.
        base_url: Where to send the check (the sandbox's URL, say); None: ``HUBSPOT_BASE_URL``
            or HubSpot's API.
        env_file: The ``.env`` file to read a stored token from and to save one to.
        environ: The environment to read (default ``os.environ``); tests pass a dict.
        client_factory: Builds a :class:`~hsframe.client.Client` from settings; pass one
            to send through an in-process session.

    Example:
        >>> from hsframe.sandbox import Sandbox
        >>> with Sandbox(contacts=1, scopes=["crm.objects.contacts.read"]) as sb:
        ...     result = TokenCheck(base_url=sb.url).check(sb.token)
        >>> result.status, [row.mark for row in result.scopes], result.missing
        ('missing_scopes', ['✓', '✗'], ('crm.objects.contacts.write',))
    """

    def __init__(
        self,
        required: Iterable[str] = ("read", "write"),
        *,
        base_url: str | None = None,
        env_file: str | os.PathLike[str] = ".env",
        environ: Mapping[str, str] | None = None,
        client_factory: ClientFactory = Client,
    ) -> None:
        if isinstance(required, str):
            required = (required,)
        self.required: tuple[str, ...] = tuple(
            dict.fromkeys(SCOPE_SHORTHANDS.get(name, name) for name in required)
        )
        self.base_url = base_url
        self.env_file = Path(env_file)
        self._environ = environ
        self._client_factory = client_factory

    def __repr__(self) -> str:
        return (
            f"TokenCheck(required={self.required!r}, base_url={self.base_url!r}, "
            f"env_file={str(self.env_file)!r})"
        )

    # --- values --------------------------------------------------------------------------

    def scope_rows(self, info: TokenInfo | None = None) -> tuple[ScopeRow, ...]:
        """The scope table for a token's information (all ``?`` without one).

        Example:
            >>> [(r.scope, r.mark) for r in TokenCheck(["read"]).scope_rows()]
            [('crm.objects.contacts.read', '?'), ('crm.objects.contacts.write', '?')]
        """
        names = dict.fromkeys((READ_SCOPE, WRITE_SCOPE, *self.required))
        return tuple(
            ScopeRow(
                scope=name,
                purpose=SCOPE_PURPOSES.get(name, "asked for by this notebook"),
                granted=None if info is None else name in info.scopes,
                required=name in self.required,
            )
            for name in names
        )

    def stored(self) -> StoredToken | None:
        """The token in ``HUBSPOT_ACCESS_TOKEN`` or the ``.env`` file, masked; None if none.

        Example:
            >>> TokenCheck(environ={"HUBSPOT_ACCESS_TOKEN": "pat-na1-0f8c3d6e-1111-2222-3333"},
            ...            env_file="no-such.env").stored()
            StoredToken(masked='pat-na1-…3333', source='environment')
        """
        try:
            # The base URL does not matter here; a fixed one keeps a bad HUBSPOT_BASE_URL
            # from hiding the token.
            settings = self._settings(None, DEFAULT_BASE_URL)
        except ConfigurationError:
            return None
        return StoredToken(masked=settings.token.masked, source=settings.token_source)

    def check(self, token: str | Secret | None = None) -> TokenResult:
        """Ask HubSpot about a token; an empty one means the stored token.

        Sends one request (token information). A client that did not connect is closed.

        Args:
            token: The pasted (or piped) token; None or blank checks the stored one.

        Returns:
            The :class:`TokenResult`; errors are statuses with messages, not exceptions.

        Example:
            >>> from hsframe.sandbox import Sandbox
            >>> with Sandbox(contacts=1) as sb:
            ...     result = TokenCheck(base_url=sb.url).check(sb.token)
            ...     result.client.close()
            >>> result.status, result.info.portal_id
            ('connected', 12345678)
        """
        secret = Secret.wrap(token)
        del token  # no plain copy in a frame that can raise (tracebacks can show locals)
        typed = secret is not None
        try:
            settings = self._settings(secret, self.base_url)
        except ConfigurationError as error:
            if typed or self.stored() is not None:  # a token, but something else is wrong
                return TokenResult("error", str(error), scopes=self.scope_rows())
            return TokenResult("no_token", self._no_token_message(), scopes=self.scope_rows())
        masked = settings.token.masked
        source = "field" if typed else settings.token_source
        client = self._client_factory(settings)
        try:
            info = client.token_info()
        except AuthenticationError:
            client.close()
            return TokenResult(
                "invalid_token",
                self._invalid_message(masked, source),
                masked=masked,
                source=source,
                scopes=self.scope_rows(),
            )
        except HubSpotError as error:
            client.close()
            return TokenResult(
                "error", str(error), masked=masked, source=source, scopes=self.scope_rows()
            )
        rows = self.scope_rows(info)
        result = TokenResult("connected", "", masked=masked, source=source, info=info, scopes=rows)
        if result.missing:
            client.close()
            return replace(result, status="missing_scopes", message=self._missing_message(result))
        return replace(result, client=client, message=self._connected_message(result))

    # --- side effects --------------------------------------------------------------------

    def adopt(
        self,
        result: TokenResult,
        *,
        save: bool = False,
        set_default: Callable[[Client | None], None] = _set_default_client,
    ) -> TokenResult:
        """Make a connected result's client the session's default, and save it if asked.

        Args:
            result: A result with status ``connected`` (others are returned unchanged).
            save: Also write the token to the ``.env`` file (mode 0600).
            set_default: Where the client goes (default
                :func:`hsframe.client.set_default_client`).

        Returns:
            The result, with ``saved_to`` set if the token was saved.
        """
        if not result.ok or result.client is None:
            return result
        set_default(result.client)
        return self.save(result) if save else result

    def save(self, result: TokenResult) -> TokenResult:
        """Write a connected result's token to the ``.env`` file (mode 0600).

        Args:
            result: A result with status ``connected`` (others are returned unchanged).

        Returns:
            The result with ``saved_to`` and a message saying where it went.
        """
        if not result.ok or result.client is None or result.saved_to is not None:
            return result
        path = save_token(result.client.settings.token, self.env_file)
        return replace(
            result,
            saved_to=str(path),
            message=f"{result.message} Saved to {path} (readable only by you); keep that "
            "file out of version control.",
        )

    # --- words ---------------------------------------------------------------------------

    def _settings(self, token: Secret | None, base_url: str | None) -> Settings:
        return Settings.resolve(token, base_url, environ=self._environ, dotenv_path=self.env_file)

    def _no_token_message(self) -> str:
        return (
            f"Paste your private app's access token above, then press Check (none is set in "
            f"{TOKEN_ENV} or {self.env_file}). It is in {PRIVATE_APP_AUTH}; no private app "
            "yet? Create one under HubSpot › Settings › Integrations › Private Apps with the "
            f"scopes {READ_SCOPE} and {WRITE_SCOPE}."
        )

    @staticmethod
    def _invalid_message(masked: str, source: str) -> str:
        where = "" if source == "field" else f" (the stored one, {_source_words(source)})"
        return (
            f"HubSpot refused the token {masked}{where}: it is mistyped, or it was rotated. "
            f"Copy the current token from {PRIVATE_APP_AUTH} (Rotate there issues a new one "
            "and expires the old), paste it above and press Check."
        )

    @staticmethod
    def _missing_message(result: TokenResult) -> str:
        assert result.info is not None
        lacks = "; ".join(
            f"{row.scope} (for {row.purpose})"
            for row in result.scopes
            if row.required and not row.granted
        )
        return (
            f"The token for portal {result.info.portal_id} lacks {lacks}. Add "
            f"{'it' if len(result.missing) == 1 else 'them'} in {PRIVATE_APP_SCOPES} and "
            "commit the change; then copy the app's current token from its Auth tab again "
            "(it may have changed), paste it above and press Check."
        )

    @staticmethod
    def _connected_message(result: TokenResult) -> str:
        assert result.info is not None
        text = (
            f"Connected to portal {result.info.portal_id} with {result.masked} "
            f"({_source_words(result.source)}); it is now the session's default client."
        )
        for row in result.scopes:
            if not row.required and row.granted is False:
                text += f" It lacks {row.scope}, needed for {row.purpose}."
        return text


def _source_words(source: str) -> str:
    if source == "field":
        return "pasted"
    if source == "environment":
        return f"from {TOKEN_ENV}"
    return f"from {source}"
