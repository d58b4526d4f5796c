"""The token form: paste a private-app token, press Check, see the portal and the scopes.

A thin view over :class:`~hsframe.widgets.token_model.TokenCheck`: stock ipywidgets
composed in a ``VBox`` (a password field, a Check button, a "save to .env" checkbox, and HTML
panes for the stored token, the account, the scope table and the message). The model decides
everything; this module turns its :class:`~hsframe.widgets.token_model.TokenResult` into
escaped HTML and wires the button.

The token is in the password field only until Check is pressed: the field is cleared before
the check starts, whatever its outcome, and from then on only the token's mask is shown.
Nothing here logs, prints or keeps the token.

Imported on first use by :func:`hsframe.widgets.token_form`, so that ``import hsframe`` does
not import ipywidgets.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from hsframe.client import TokenInfo
from hsframe.config import TOKEN_ENV
from hsframe.errors import mask
from hsframe.widgets.token_model import (
    ScopeRow,
    Status,
    StoredToken,
    TokenCheck,
    TokenResult,
)

__all__ = ["TokenForm"]

_COLOURS: dict[Status, str] = {
    "connected": "#1a7f37",
    "missing_scopes": "#9a6700",
    "invalid_token": "#cf222e",
    "no_token": "#57606a",
    "error": "#cf222e",
}


class TokenForm(widgets.VBox):
    """The token form widget; build it with :func:`hsframe.widgets.token_form`.

    Args:
        model: The :class:`~hsframe.widgets.token_model.TokenCheck` that does the work.
        **kwargs: Passed to ``ipywidgets.VBox`` (``layout``...).

    Attributes:
        token: The password field (empty after every check).
        check_button: Checks the typed token, or the stored one when the field is empty.
        save: When ticked, a connected token is saved to ``.env`` (mode 0600).
        stored: The stored token's mask and where it was found.
        account: Portal (hub) id, app id and user id, after a check.
        scope_table: ✓/✗ per scope, with what each one is needed for.
        message: What happened and what to do next.
        result: The last :class:`~hsframe.widgets.token_model.TokenResult`, or None.
    """

    def __init__(self, model: TokenCheck, **kwargs: Any) -> None:
        self.model = model
        self.result: TokenResult | None = None
        self._connected = widgets.CallbackDispatcher()
        self.token = widgets.Password(
            placeholder="pat-na1-…",
            description="Token",
            layout=widgets.Layout(width="28em"),
        )
        self.check_button = widgets.Button(
            description="Check", button_style="primary", tooltip="Ask HubSpot about this token"
        )
        self.save = widgets.Checkbox(
            value=False,
            description=f"Save to {model.env_file} (readable only by you)",
            indent=False,
        )
        self.stored = widgets.HTML()
        self.account = widgets.HTML()
        self.scope_table = widgets.HTML()
        self.message = widgets.HTML()
        self.check_button.on_click(self._on_check)
        self.save.observe(self._on_save, names="value")
        super().__init__(
            [
                widgets.HTML("<b>HubSpot private app token</b>"),
                self.stored,
                widgets.HBox([self.token, self.check_button]),
                self.save,
                self.account,
                self.scope_table,
                self.message,
            ],
            **kwargs,
        )
        self.add_class("hsframe-token-form")
        self._render(None)

    def __repr__(self) -> str:
        status = self.result.status if self.result else "unchecked"
        masked = self.result.masked if self.result else ""
        return f"TokenForm(status={status!r}, token={masked!r})"

    def on_connected(self, callback: Callable[[TokenResult], Any], remove: bool = False) -> None:
        """Call ``callback(result)`` each time a check connects.

        Args:
            callback: Receives the :class:`~hsframe.widgets.token_model.TokenResult`;
                ``result.client`` is the new default client.
            remove: Unregister ``callback`` instead.
        """
        self._connected.register_callback(callback, remove=remove)

    # --- events --------------------------------------------------------------------------

    def _on_check(self, _button: Any = None) -> None:
        typed = self.token.value
        self.token.value = ""  # the token leaves the widget before anything else happens
        self.check_button.disabled = True
        self.message.value = _message_html("no_token", "Checking…")
        try:
            result = self.model.check(typed)
            result = self.model.adopt(result, save=self.save.value)
        except Exception as error:  # shown, never raised into the notebook as a traceback
            text = _scrub(f"The check failed unexpectedly: {type(error).__name__}: {error}", typed)
            result = TokenResult("error", text, scopes=self.model.scope_rows())
        finally:
            self.check_button.disabled = False
        self._render(result)
        if result.ok:
            self._connected(result)

    def _on_save(self, change: dict[str, Any]) -> None:
        if change["new"] and self.result is not None and self.result.ok:
            try:
                self._render(self.model.save(self.result))
            except OSError as error:
                self.message.value = _message_html("error", f"Could not save: {error}")

    # --- rendering -----------------------------------------------------------------------

    def _render(self, result: TokenResult | None) -> None:
        self.result = result
        self.stored.value = _stored_html(self.model.stored(), self.model.env_file)
        self.account.value = _account_html(result.info if result else None)
        self.scope_table.value = _scope_table_html(
            result.scopes if result else self.model.scope_rows()
        )
        self.message.value = _message_html(result.status, result.message) if result else ""


_TOKEN_LIKE = re.compile(r"pat-[a-z]{2,4}\d*-[0-9A-Za-z-]+")


def _scrub(text: str, typed: str) -> str:
    """An unexpected error's text without the typed token, nor anything shaped like one."""
    if typed.strip():
        text = text.replace(typed.strip(), "…")
    return _TOKEN_LIKE.sub(lambda found: mask(found.group()), text)


def _stored_html(stored: StoredToken | None, env_file: Path) -> str:
    if stored is None:
        where = html.escape(f"{TOKEN_ENV} or {env_file}")
        return f"<span>No stored token ({where}): paste one below.</span>"
    return (
        f"<span>Stored token: <code>{html.escape(stored.masked)}</code> "
        f"({html.escape(stored.where)}). Leave the field empty and press Check to use it.</span>"
    )


def _account_html(info: TokenInfo | None) -> str:
    if info is None:
        return ""
    cells = (
        ("Portal (hub) id", info.portal_id),
        ("App id", info.app_id),
        ("User id", info.user_id),
    )
    body = "".join(
        f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(label)}</th>"
        f"<td class='hsframe-{html.escape(label.split()[0].lower())}'>"
        f"{html.escape('—' if value is None else str(value))}</td></tr>"
        for label, value in cells
    )
    return f"<table class='hsframe-account'>{body}</table>"


def _scope_table_html(rows: Iterable[ScopeRow]) -> str:
    colours = {"✓": "#1a7f37", "✗": "#cf222e", "?": "#57606a"}
    lines = [
        "<tr><th></th><th style='text-align:left'>Scope</th>"
        "<th style='text-align:left'>Needed for</th><th>Required</th></tr>"
    ]
    for row in rows:
        lines.append(
            f"<tr class='hsframe-scope' data-scope='{html.escape(row.scope)}'>"
            f"<td class='hsframe-mark' style='color:{colours[row.mark]};font-weight:bold'>"
            f"{row.mark}</td>"
            f"<td><code>{html.escape(row.scope)}</code></td>"
            f"<td>{html.escape(row.purpose)}</td>"
            f"<td style='text-align:center'>{'yes' if row.required else 'no'}</td></tr>"
        )
    return f"<table class='hsframe-scopes'>{''.join(lines)}</table>"


def _message_html(status: Status, text: str) -> str:
    if not text:
        return ""
    return (
        f"<div class='hsframe-message hsframe-{status}' style='color:{_COLOURS[status]}'>"
        f"{html.escape(text)}</div>"
    )
