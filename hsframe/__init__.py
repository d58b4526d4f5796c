"""hsframe: HubSpot CRM contacts in pandas DataFrames, written back safely.

What a notebook user types::

    import hsframe as hs

    hs.widgets.token_form()                      # or a token in HUBSPOT_ACCESS_TOKEN / .env
    client = hs.connect()
    df = hs.read_contacts(client)                # typed, indexed by contact id
    df.loc[df.email.notna(), "email"] = df.email.str.strip().str.lower()
    df.hs.changes()                              # the diff, cell by cell
    df.hs.validate()                             # Great Expectations, from the portal's schema
    result = df.hs.push()                        # batch writes, journaled
    hs.undo(result)                              # put the old values back

Offline, the same code runs against the sandbox (``hs.sandbox.Sandbox``).

``hsframe.sandbox``, ``hsframe.widgets`` and ``hsframe.expectations`` are public
subpackages, imported on first use so that ``import hsframe`` stays light (no Great
Expectations, no ipywidgets).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hsframe import accessor as _accessor  # registers the df.hs accessor
from hsframe.client import Client, connect, default_client
from hsframe.config import save_token
from hsframe.corrections import apply_corrections
from hsframe.diff import FrameError
from hsframe.errors import (
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
)
from hsframe.load import read_contacts
from hsframe.recovery import resume, undo
from hsframe.result import PushResult
from hsframe.write import archive

if TYPE_CHECKING:
    from hsframe import expectations, sandbox, widgets

del _accessor

__version__ = "0.1.0"

__all__ = [
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
]

_SUBPACKAGES = ("expectations", "sandbox", "widgets")


def __getattr__(name: str) -> Any:
    """Import the public subpackages on first use (PEP 562)."""
    if name in _SUBPACKAGES:
        return importlib.import_module(f"hsframe.{name}")
    raise AttributeError(f"module 'hsframe' has no attribute {name!r}")
