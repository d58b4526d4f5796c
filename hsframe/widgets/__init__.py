"""Notebook widgets: the token form and the review-and-push widget.

Each widget is a thin view (stock ipywidgets composed in a ``VBox``) over a pure model that
plain pytest drives without a browser:

============================  ===============================  ==============================
function                      view                             model
============================  ===============================  ==============================
:func:`token_form`            :class:`.token_form.TokenForm`   :class:`.token_model.TokenCheck`
:func:`review`                :class:`.review.Review`          :class:`.review_model.ReviewModel`
============================  ===============================  ==============================

**ipywidgets is imported here only, and late.** ``import hsframe`` (which imports this
package) must stay fast and must work where ipywidgets is broken or absent, so the views,
the only modules that import ipywidgets, are imported when :func:`token_form` or
:func:`review` is first called (or when ``TokenForm`` / ``Review`` is first looked up). The
models import no widget code at all.

**Why this package guards two of its attributes.** The views live in modules named like the
functions that build them (``token_form``, ``review``). Importing a submodule makes Python
bind it as an attribute of its package, which would replace the function
``hsframe.widgets.review`` by the module ``hsframe.widgets.review`` the first time the view
is imported, and ``df.hs.review()`` would then call a module. The package's module class
(:class:`_Package`) keeps those two names bound to the functions; the modules stay reachable
in ``sys.modules`` and through ``from hsframe.widgets.review import Review``.
"""

from __future__ import annotations

import importlib
import os
import sys
import types
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from hsframe.widgets.review_model import ReviewModel
from hsframe.widgets.token_model import ScopeRow, StoredToken, TokenCheck, TokenResult

if TYPE_CHECKING:
    from hsframe.client import Client
    from hsframe.widgets.review import Review
    from hsframe.widgets.token_form import TokenForm

__all__ = [
    "Review",
    "ReviewModel",
    "ScopeRow",
    "StoredToken",
    "TokenCheck",
    "TokenForm",
    "TokenResult",
    "review",
    "token_form",
]

_VIEWS = {"TokenForm": "token_form", "Review": "review"}


def token_form(
    required: Iterable[str] = ("read", "write"),
    *,
    base_url: str | None = None,
    env_file: str | os.PathLike[str] = ".env",
) -> TokenForm:
    """A form to paste a private-app token, check it, and connect the session with it.

    Shows a password field and a Check button; after a check: the portal (hub) id, app id
    and user id, and a ✓/✗ table of the scopes with what each one is needed for. An invalid
    or rotated token, or a missing scope, gets a message saying where in HubSpot to fix it.
    A token that checks out becomes the session's default client (so ``hs.read_contacts()``
    needs no client); with "save to .env" ticked it is also written there, mode 0600. The
    field is cleared by every check, and only the token's mask is shown afterwards. A token
    already in ``HUBSPOT_ACCESS_TOKEN`` or ``.env`` is shown masked, and Check on an empty
    field checks it.

    Args:
        required: Scopes the token must have: ``"read"``, ``"write"`` or full scope names;
            others are added to the table.
        base_url: The API to check against (the sandbox's ``sb.url``, say); None:
            ``HUBSPOT_BASE_URL``, else HubSpot.
        env_file: The ``.env`` file to read a stored token from and to save one to.

    Returns:
        The :class:`~hsframe.widgets.token_form.TokenForm` widget; register
        ``form.on_connected(callback)`` to be told of each connection.

    Example:
        >>> from hsframe.sandbox import Sandbox
        >>> with Sandbox(contacts=1) as sb:
        ...     form = token_form(base_url=sb.url)
        ...     form.token.value = sb.token
        ...     form.check_button.click()
        >>> form.result.status, form.token.value, [row.mark for row in form.result.scopes]
        ('connected', '', ['✓', '✓'])
        >>> form.result.client.close()
    """
    from hsframe.widgets.token_form import TokenForm

    return TokenForm(TokenCheck(required, base_url=base_url, env_file=env_file))


def review(
    frame: pd.DataFrame,
    client: Client | None = None,
    *,
    base: pd.DataFrame | None = None,
    on_conflict: Literal["skip", "overwrite"] = "skip",
    journal_dir: str | os.PathLike[str] | None = None,
    max_rows: int = 50,
) -> Review:
    """Review an edited frame before pushing it: diff, failures, conflicts, Push, Undo.

    Checks at once: the change set (counts, and a table old → new), the validation the push
    will apply, the token's write scope, and (through the push's dry run) the cells someone
    changed in HubSpot since the load. Push is disabled while rows are invalid (unless
    "skip invalid rows" is ticked) or the token cannot write, and says why. Pushing shows a
    progress bar and then the result; Undo takes the push back (:func:`hsframe.undo`).

    Args:
        frame: A frame from :func:`hsframe.read_contacts`, edited.
        client: The connection; None uses the session's default.
        base: The original to compare against (default: the registered baseline).
        on_conflict: ``"skip"`` (default) or ``"overwrite"`` cells changed in HubSpot since
            the load.
        journal_dir: Where the journals go (default: as for :func:`hsframe.write.push`).
        max_rows: Most rows shown per table; the rest are counted.

    Returns:
        The :class:`~hsframe.widgets.review.Review` widget (its model is ``.model``).

    Example:
        >>> import hsframe as hs
        >>> with hs.sandbox.Sandbox(contacts=10) as sb:
        ...     client = hs.connect(token=sb.token, base_url=sb.url)
        ...     df = hs.read_contacts(client, properties=["jobtitle"], progress=False)
        ...     df.loc[df.index[:2], "jobtitle"] = "Data steward"
        ...     widget = review(df, client, journal_dir=".")
        ...     widget.push_button.click()
        ...     client.close()
        >>> widget.model.phase, widget.undo_button.disabled
        ('pushed', False)
    """
    from hsframe.widgets.review import Review

    model = ReviewModel(frame, client, base=base, on_conflict=on_conflict, journal_dir=journal_dir)
    model.check()
    return Review(model, max_rows=max_rows)


def __getattr__(name: str) -> Any:
    """The view classes, imported (with ipywidgets) on first use."""
    if name in _VIEWS:
        module = importlib.import_module(f"{__name__}.{_VIEWS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _Package(types.ModuleType):
    """This package's module type: keeps ``token_form`` and ``review`` the functions (see
    the module docstring)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _VIEWS.values() and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
