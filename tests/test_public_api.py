"""The public surface is small and deliberate: a test pins it (STYLE.md habit 10)."""

from __future__ import annotations

import pandas as pd

import hsframe

PUBLIC = {
    "AuthenticationError",
    "Client",
    "ConfigurationError",
    "ConflictError",
    "FrameError",
    "HubSpotError",
    "MissingScopesError",
    "NotFoundError",
    "PushResult",
    "RateLimitError",
    "ServerError",
    "TransportError",
    "ValidationError",
    "__version__",
    "apply_corrections",
    "archive",
    "connect",
    "default_client",
    "expectations",
    "read_contacts",
    "resume",
    "sandbox",
    "save_token",
    "undo",
    "widgets",
}


def test_all_is_pinned() -> None:
    assert set(hsframe.__all__) == PUBLIC


def test_every_public_name_resolves() -> None:
    for name in hsframe.__all__:
        assert getattr(hsframe, name) is not None, name


def test_errors_share_one_root() -> None:
    errors = [getattr(hsframe, n) for n in hsframe.__all__ if n.endswith("Error")]
    assert all(issubclass(e, hsframe.HubSpotError) for e in errors)


def test_unknown_attributes_raise() -> None:
    try:
        hsframe.nothing_here  # noqa: B018
    except AttributeError as exc:
        assert "nothing_here" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_the_accessor_is_registered_on_import() -> None:
    assert hasattr(pd.DataFrame(), "hs")
