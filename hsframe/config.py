"""Settings, resolved once: where the token comes from, where requests go, how long to wait.

A notebook session should not re-read the environment on every call, and should never be
able to show its token by accident. :meth:`Settings.resolve` looks everything up once, in a
documented order, and returns a frozen :class:`Settings`; the token inside is a
:class:`Secret`, whose ``repr`` and ``str`` show only a mask (``pat-na1-…a1b2``) and whose
value is read only through :meth:`Secret.reveal` (which only the transport calls).

Resolution order:

* token: the ``token`` argument, else ``HUBSPOT_ACCESS_TOKEN`` in the environment, else the
  same key in a ``.env`` file (read with python-dotenv's ``dotenv_values``, so the file never
  overrides or changes the environment). A ``.env`` holding a token that group or others
  can read gives an :class:`InsecureFileWarning`; :func:`save_token` writes it with mode 0600.
* base URL: the ``base_url`` argument, else ``HUBSPOT_BASE_URL`` (environment, then
  ``.env``), else ``https://api.hubapi.com``. Plain ``http`` is refused unless the host is
  loopback (127.0.0.0/8, ``::1``, ``localhost``), where the sandbox runs, so the token never
  crosses a network in clear text.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import stat
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from dotenv import dotenv_values, set_key

from hsframe.errors import TOKEN_ENV, ConfigurationError, mask

__all__ = [
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "TIERS",
    "TOKEN_ENV",
    "InsecureFileWarning",
    "Secret",
    "Settings",
    "Tier",
    "check_base_url",
    "is_loopback",
    "save_token",
]

BASE_URL_ENV = "HUBSPOT_BASE_URL"
"""The environment variable (or ``.env`` key) that overrides the API's base URL."""

DEFAULT_BASE_URL = "https://api.hubapi.com"
"""HubSpot's API (hubspot-api.md §1.1)."""

Tier = Literal["free", "starter", "professional", "enterprise"]
"""HubSpot subscription tiers; each has its own rate limits (hubspot-api.md §4.1)."""

TIERS: tuple[str, ...] = get_args(Tier)
"""The tier names :class:`Settings` accepts."""


class InsecureFileWarning(UserWarning):
    """A file holding a secret can be read by other users of this machine."""


class Secret:
    """A string that does not show itself: ``repr``/``str``/``format`` give a mask.

    Args:
        value: The secret.

    Example:
        >>> token = Secret("pat-na1-0f8c3d6e-1111-2222-3333-4444a1b2")
        >>> token
        Secret('pat-na1-…a1b2')
        >>> f"{token}"
        'pat-na1-…a1b2'
        >>> token.reveal()[:8]
        'pat-na1-'
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    @classmethod
    def wrap(cls, value: str | Secret | None) -> Secret | None:
        """``value`` as a Secret; None for None or a blank string (meaning "look it up").

        Entry points call this first, so that a plain copy of the token never sits in a
        frame that can raise (tracebacks can show local variables).

        Example:
            >>> Secret.wrap("  "), Secret.wrap(None), Secret.wrap("pat-na1-x")
            (None, None, Secret('pat-na1-…'))
        """
        if value is None or isinstance(value, Secret):
            return value
        return cls(value) if value.strip() else None

    def reveal(self) -> str:
        """The secret itself. Call it only where the value is sent, never to display it."""
        return self._value

    @property
    def masked(self) -> str:
        """The display form: ``pat-<region>-`` and at most the last four characters."""
        return mask(self._value)

    def __repr__(self) -> str:
        return f"Secret({self.masked!r})"

    def __str__(self) -> str:
        return self.masked

    def __format__(self, spec: str) -> str:
        return format(self.masked, spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True)
class Settings:
    """Everything the client needs, resolved once. Build it with :meth:`resolve`.

    Attributes:
        token: The private-app access token (a :class:`Secret`).
        base_url: Where requests go, without a trailing slash.
        connect_timeout: Seconds to wait for a connection.
        read_timeout: Seconds to wait for an answer once connected.
        max_retries: Retries after the first attempt (429, 5xx, dropped connections).
        max_retry_time: Seconds a request may spend retrying in total, waits included.
        tier: The portal's HubSpot tier; sets the rate budget until HubSpot's own
            rate-limit headers arrive.
        max_concurrency: Requests in flight at once (sizes the connection pool).
        token_source: Where the token came from (``argument``, ``environment`` or the
            ``.env`` path), for error messages.

    Raises:
        ConfigurationError: For an unsafe base URL (plain http to a non-loopback host).
        ValueError: For a non-positive timeout or concurrency, negative retries, or an
            unknown tier.

    Example:
        >>> s = Settings(token=Secret("pat-na1-0f8c3d6e-1111-2222-3333-4444a1b2"))
        >>> s.base_url, s.tier
        ('https://api.hubapi.com', 'professional')
        >>> "0f8c3d6e" in repr(s)
        False
    """

    token: Secret
    base_url: str = DEFAULT_BASE_URL
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    max_retries: int = 5
    max_retry_time: float = 120.0
    tier: Tier = "professional"
    max_concurrency: int = 8
    token_source: str = field(default="argument", compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.token, Secret):
            # Accept a plain string, but never keep one: wrap it before anything can show it.
            object.__setattr__(self, "token", Secret(str(self.token)))
        object.__setattr__(self, "token", Secret(_clean_token(self.token.reveal())))
        if not self.token:
            raise ConfigurationError("The HubSpot access token is empty.")
        object.__setattr__(self, "base_url", check_base_url(self.base_url))
        for name in ("connect_timeout", "read_timeout", "max_retry_time"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be a positive number of seconds")
        if self.max_retries < 0:
            raise ValueError("max_retries cannot be negative")
        if self.max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        if self.tier not in TIERS:
            raise ValueError(f"unknown tier {self.tier!r}; choose one of: {', '.join(TIERS)}")

    @classmethod
    def resolve(
        cls,
        token: str | Secret | None = None,
        base_url: str | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        dotenv_path: str | os.PathLike[str] = ".env",
        **options: Any,
    ) -> Settings:
        """Look up the token and base URL (argument → environment → ``.env``).

        Args:
            token: The access token; None to look it up.
            base_url: The API's base URL; None to look it up (default HubSpot's).
            environ: The environment to read (default ``os.environ``); tests pass a dict.
            dotenv_path: The ``.env`` file to read when the environment has no token.
            **options: Any other :class:`Settings` field (``read_timeout``, ``tier``...).

        Returns:
            The frozen settings.

        Raises:
            ConfigurationError: No token anywhere (the message says where to get one and
                where to put it), or an unsafe base URL.

        Example:
            >>> s = Settings.resolve(environ={"HUBSPOT_ACCESS_TOKEN": "pat-na1-abc"},
            ...                      dotenv_path="no-such.env")
            >>> s.token_source, s.token
            ('environment', Secret('pat-na1-…'))
        """
        # Wrap the token before anything can raise, and keep no reference to the environment
        # (which holds it): a traceback that shows local variables (IPython's verbose mode,
        # rich, error trackers) must find no plain copy in this frame.
        token = Secret.wrap(token)
        sources = _Sources(environ, Path(dotenv_path))
        del environ
        source = "argument"
        if token is None:
            token, source = sources.token()
        if token is None:
            raise ConfigurationError(
                f"No HubSpot access token: none was passed, {TOKEN_ENV} is not set, and "
                f"{dotenv_path} has none."
            )
        if base_url is None:
            base_url = sources.get(BASE_URL_ENV) or DEFAULT_BASE_URL
        return cls(token=token, base_url=base_url, token_source=source, **options)


def check_base_url(url: str) -> str:
    """The base URL, checked and without a trailing slash.

    Args:
        url: ``https://...`` anywhere, or ``http://...`` to a loopback host.

    Returns:
        The URL without a trailing slash.

    Raises:
        ConfigurationError: For plain http to a non-loopback host, another scheme, a URL
            without a host, or one with credentials, a query or a fragment.

    Example:
        >>> check_base_url("http://127.0.0.1:8080/")
        'http://127.0.0.1:8080'
        >>> try:
        ...     check_base_url("http://api.example.com")
        ... except ConfigurationError as err:
        ...     print(err.message)
        Refusing plain http to api.example.com: the token would travel unencrypted.
    """
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host:
        raise ConfigurationError(
            f"The base URL {url!r} is not an http(s) URL.",
            hint=f"Use {DEFAULT_BASE_URL} (the default) or the sandbox's URL.",
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigurationError(
            "The base URL must not carry credentials, a query or a fragment.",
            hint="Pass the token separately; give the base URL as scheme://host[:port][/path].",
        )
    if parts.scheme == "http" and not is_loopback(host):
        raise ConfigurationError(
            f"Refusing plain http to {host}: the token would travel unencrypted.",
            hint="Use https, or http only to this machine (127.0.0.1, ::1, localhost).",
        )
    return url.strip().rstrip("/")


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine: ``localhost``, 127.0.0.0/8 or ``::1``.

    Example:
        >>> is_loopback("127.0.0.2"), is_loopback("localhost"), is_loopback("10.0.0.1")
        (True, True, False)
    """
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def save_token(token: str | Secret, path: str | os.PathLike[str] = ".env") -> Path:
    """Save the token in a ``.env`` file that only you can read (mode 0600).

    The file is created with mode 0600 before anything is written to it (an existing file is
    narrowed to 0600 first); other keys in it are kept. The key is ``HUBSPOT_ACCESS_TOKEN``,
    so a later :func:`hsframe.connect` (in this directory) finds it. Keep ``.env`` out of
    version control.

    Args:
        token: The private-app access token.
        path: The file to write.

    Returns:
        The file's path.

    Example:
        >>> import os, tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = save_token("pat-na1-abc", os.path.join(folder, ".env"))
        ...     oct(path.stat().st_mode & 0o777)
        '0o600'
    """
    value = _clean_token(token.reveal() if isinstance(token, Secret) else token)
    if not value:
        raise ConfigurationError("Refusing to save an empty token.")
    target = Path(path)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT, 0o600)
    os.close(fd)
    os.chmod(target, 0o600)
    set_key(target, TOKEN_ENV, value, quote_mode="never")
    os.chmod(target, 0o600)
    return target


def _clean_token(value: str) -> str:
    """The token without surrounding space, quotes or a pasted ``Bearer`` prefix (HubSpot
    answers 401 to ``Bearer Bearer pat-...``; hubspot-api.md §6.1)."""
    value = value.strip().strip("'\"").strip()
    if value.lower().startswith("bearer "):
        value = value[7:].strip()
    return value


class _Sources:
    """Where settings are looked up: the environment, then a ``.env`` file (read once, when
    first needed).

    Resolution holds this instead of the environment itself, whose ``repr`` shows every
    variable, the token among them: its own ``repr`` names the places, never a value, and the
    token leaves it only as a :class:`Secret`.
    """

    __slots__ = ("_dotenv", "_environ", "_path")

    def __init__(self, environ: Mapping[str, str] | None, path: Path) -> None:
        self._environ = environ
        self._path = path
        self._dotenv: dict[str, str | Secret | None] | None = None

    def __repr__(self) -> str:
        return f"_Sources(environment, {str(self._path)!r})"

    def token(self) -> tuple[Secret | None, str]:
        """The token and where it came from (``environment`` or the ``.env`` path)."""
        found = Secret.wrap((os.environ if self._environ is None else self._environ).get(TOKEN_ENV))
        if found is not None:
            return found, "environment"
        stored = self._file().get(TOKEN_ENV)
        return (stored if isinstance(stored, Secret) else None), str(self._path)

    def get(self, key: str) -> str | None:
        """A setting that is not secret: the environment's value, else the file's."""
        value = (os.environ if self._environ is None else self._environ).get(key)
        stored = value or self._file().get(key)
        return stored if isinstance(stored, str) and stored else None

    def _file(self) -> dict[str, str | Secret | None]:
        if self._dotenv is None:
            self._dotenv = _read_dotenv(self._path)
        return self._dotenv


def _read_dotenv(path: Path) -> dict[str, str | Secret | None]:
    """The file's keys and values, the token already wrapped (the warning below may be an
    error under ``-W error``, and then this frame is in the traceback)."""
    if not path.is_file():
        return {}
    values: dict[str, str | Secret | None] = {
        key: Secret.wrap(value) if key == TOKEN_ENV else value
        for key, value in dotenv_values(path).items()
    }
    if values.get(TOKEN_ENV) and os.name == "posix":
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            warnings.warn(
                f"{path} holds a HubSpot token and can be read by other users "
                f"(mode {mode:o}); run `chmod 600 {path}`.",
                InsecureFileWarning,
                stacklevel=5,
            )
    return values
