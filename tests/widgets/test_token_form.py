"""The token form, driven as a user would: type into ``.value``, press ``.click()``.

Every test runs against a real sandbox over HTTP on 127.0.0.1 (its tokens, scopes and
rotation), in its own temporary directory with no ``HUBSPOT_*`` variables (the autouse
fixture in ``tests/conftest.py``). After every check, the token must not be visible in any
widget's value, in a repr, or in the model's result.
"""

from __future__ import annotations

import doctest
import importlib
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dotenv import dotenv_values

from hsframe.client import READ_SCOPE, WRITE_SCOPE, default_client
from hsframe.config import Settings, save_token
from hsframe.errors import ConfigurationError, mask
from hsframe.sandbox import Sandbox
from hsframe.widgets import TokenCheck, token_form
from hsframe.widgets.token_form import TokenForm


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(contacts=5) as sandbox:
        yield sandbox


def _shown(widget: Any) -> list[str]:
    """Everything a widget tree shows or keeps as text: values, descriptions, reprs."""
    texts = [repr(widget)]
    for name in ("value", "description", "placeholder", "tooltip"):
        value = getattr(widget, name, None)
        if isinstance(value, str):
            texts.append(value)
    for child in getattr(widget, "children", ()):
        texts.extend(_shown(child))
    return texts


def _assert_hidden(form: TokenForm, *tokens: str) -> None:
    assert form.token.value == ""
    seen = "\n".join([*_shown(form), repr(form.result), repr(form.model)])
    for token in tokens:
        assert token not in seen
        assert token[8:] not in seen  # not even without its pat-na1- prefix


def _check(form: TokenForm, token: str = "") -> None:
    form.token.value = token
    form.check_button.click()


def _marks(form: TokenForm) -> dict[str, str]:
    assert form.result is not None
    return {row.scope: row.mark for row in form.result.scopes}


def test_valid_token_connects_and_shows_portal_and_scopes(sb: Sandbox) -> None:
    form = token_form(base_url=sb.url)
    connected: list[Any] = []
    form.on_connected(connected.append)

    _check(form, sb.token)

    assert form.result is not None and form.result.status == "connected"
    assert _marks(form) == {READ_SCOPE: "✓", WRITE_SCOPE: "✓"}
    assert form.scope_table.value.count("✓") == 2 and "✗" not in form.scope_table.value
    assert "loading contacts" in form.scope_table.value
    assert "pushing edits" in form.scope_table.value
    assert str(sb.portal_id) in form.account.value
    assert "App id" in form.account.value and "User id" in form.account.value
    assert default_client() is form.result.client
    assert connected == [form.result]
    assert mask(sb.token) in form.message.value
    _assert_hidden(form, sb.token)
    form.result.client.close()


def test_read_only_token_gets_a_cross_for_write_and_where_to_add_it(sb: Sandbox) -> None:
    token = sb.issue_token([READ_SCOPE])
    form = token_form(base_url=sb.url)
    connected: list[Any] = []
    form.on_connected(connected.append)

    _check(form, token)

    assert form.result is not None and form.result.status == "missing_scopes"
    assert _marks(form) == {READ_SCOPE: "✓", WRITE_SCOPE: "✗"}
    assert form.result.missing == (WRITE_SCOPE,)
    assert WRITE_SCOPE in form.message.value
    assert "Private Apps › (your app) › Scopes" in form.message.value
    assert "Auth tab" in form.message.value
    assert str(sb.portal_id) in form.account.value  # the token works, it only lacks a scope
    assert connected == []
    with pytest.raises(ConfigurationError):
        default_client()
    _assert_hidden(form, token)


def test_read_only_token_connects_when_only_read_is_required(sb: Sandbox) -> None:
    token = sb.issue_token([READ_SCOPE])
    form = token_form(required=["read"], base_url=sb.url)

    _check(form, token)

    assert form.result is not None and form.result.status == "connected"
    assert _marks(form) == {READ_SCOPE: "✓", WRITE_SCOPE: "✗"}
    assert "lacks crm.objects.contacts.write, needed for pushing edits" in form.result.message
    assert default_client() is form.result.client
    form.result.client.close()


def test_extra_scopes_asked_for_are_listed(sb: Sandbox) -> None:
    form = token_form(("read", "write", "crm.schemas.contacts.write"), base_url=sb.url)

    _check(form, sb.token)

    assert form.result is not None and form.result.status == "missing_scopes"
    assert list(_marks(form).values()) == ["✓", "✓", "✗"]
    assert "crm.schemas.contacts.write" in form.scope_table.value
    assert "creating contact properties" in form.scope_table.value


def test_rotated_token_says_how_to_get_the_current_one(sb: Sandbox) -> None:
    old = sb.token
    sb.rotate_token()
    form = token_form(base_url=sb.url)

    _check(form, old)

    assert form.result is not None and form.result.status == "invalid_token"
    text = form.message.value
    assert "rotated" in text
    assert "Private Apps › (your app) › Auth" in text and "Rotate" in text
    assert form.account.value == ""
    assert set(_marks(form).values()) == {"?"}
    with pytest.raises(ConfigurationError):
        default_client()
    _assert_hidden(form, old, sb.token)


def test_empty_field_checks_the_token_in_the_environment(
    sb: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", sb.token)
    form = token_form(base_url=sb.url)
    assert mask(sb.token) in form.stored.value
    assert "HUBSPOT_ACCESS_TOKEN" in form.stored.value

    _check(form, "")

    assert form.result is not None and form.result.status == "connected"
    assert form.result.source == "environment"
    assert default_client() is form.result.client
    _assert_hidden(form, sb.token)
    form.result.client.close()


def test_empty_field_checks_the_token_in_dotenv(sb: Sandbox) -> None:
    save_token(sb.token, ".env")
    form = token_form(base_url=sb.url)
    assert mask(sb.token) in form.stored.value and ".env" in form.stored.value

    _check(form, "   ")

    assert form.result is not None and form.result.status == "connected"
    assert form.result.source == ".env"
    _assert_hidden(form, sb.token)
    form.result.client.close()


def test_empty_field_without_a_stored_token_says_where_to_get_one(sb: Sandbox) -> None:
    form = token_form(base_url=sb.url)
    assert "No stored token" in form.stored.value

    _check(form, "")

    assert form.result is not None and form.result.status == "no_token"
    assert "Private Apps › (your app) › Auth" in form.message.value
    assert sb.requests == []  # nothing was sent


def test_a_stored_token_that_was_rotated_is_named_as_the_stored_one(
    sb: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", sb.token)
    sb.rotate_token()
    form = token_form(base_url=sb.url)

    _check(form, "")

    assert form.result is not None and form.result.status == "invalid_token"
    assert "the stored one, from HUBSPOT_ACCESS_TOKEN" in form.message.value


def test_save_to_dotenv_writes_mode_0600_and_never_shows_the_token_again(sb: Sandbox) -> None:
    form = token_form(base_url=sb.url, env_file="project.env")
    form.save.value = True

    _check(form, sb.token)

    assert form.result is not None and form.result.status == "connected"
    path = Path("project.env")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert dotenv_values(path)["HUBSPOT_ACCESS_TOKEN"] == sb.token
    assert form.result.saved_to == str(path)
    assert "project.env" in form.message.value and "readable only by you" in form.message.value
    assert mask(sb.token) in form.stored.value  # the stored token is now this one, masked
    _assert_hidden(form, sb.token)
    # A new form in the same directory finds it, and shows only the mask.
    again = token_form(base_url=sb.url, env_file="project.env")
    assert mask(sb.token) in again.stored.value
    _assert_hidden(again, sb.token)
    form.result.client.close()


def test_ticking_save_after_a_check_saves_the_checked_token(sb: Sandbox) -> None:
    form = token_form(base_url=sb.url)
    _check(form, sb.token)
    assert not Path(".env").exists()

    form.save.value = True

    assert stat.S_IMODE(Path(".env").stat().st_mode) == 0o600
    assert dotenv_values(".env")["HUBSPOT_ACCESS_TOKEN"] == sb.token
    _assert_hidden(form, sb.token)
    assert form.result is not None
    form.result.client.close()


def test_failed_check_saves_nothing(sb: Sandbox) -> None:
    token = sb.issue_token([READ_SCOPE])
    form = token_form(base_url=sb.url)
    form.save.value = True

    _check(form, token)

    assert not Path(".env").exists()


def test_on_connected_can_be_removed(sb: Sandbox) -> None:
    form = token_form(base_url=sb.url)
    calls: list[Any] = []
    form.on_connected(calls.append)
    form.on_connected(calls.append, remove=True)

    _check(form, sb.token)

    assert calls == []
    assert form.result is not None
    form.result.client.close()


def test_an_unsafe_base_url_is_a_message(sb: Sandbox) -> None:
    form = token_form(base_url="http://api.example.com")

    _check(form, sb.token)

    assert form.result is not None and form.result.status == "error"
    assert "unencrypted" in form.message.value
    _assert_hidden(form, sb.token)


def test_an_unexpected_failure_is_a_message_without_the_token() -> None:
    token = "pat-na1-0f8c3d6e-1111-2222-3333-4444deadbeef"

    def broken(settings: Settings) -> Any:
        raise RuntimeError(f"boom with {settings.token.reveal()}")

    form = TokenForm(TokenCheck(client_factory=broken))
    _check(form, f"  Bearer {token} ")

    assert form.result is not None and form.result.status == "error"
    assert "RuntimeError" in form.message.value
    assert not form.check_button.disabled
    _assert_hidden(form, token)


def test_the_model_alone_reports_without_widgets(sb: Sandbox) -> None:
    check = TokenCheck(["read"], base_url=sb.url, environ={}, env_file="none.env")
    assert check.stored() is None
    result = check.check(sb.token)
    assert result.ok and result.info is not None and result.info.portal_id == sb.portal_id
    assert sb.token not in repr(result) and sb.token not in repr(check)
    assert result.client is not None
    result.client.close()


def test_the_public_functions_survive_their_views_being_imported() -> None:
    """``hsframe.widgets.token_form``/``review`` are functions, even after the modules of
    the same names were imported (see the package docstring)."""
    import hsframe.widgets.review
    import hsframe.widgets.token_form

    assert callable(hsframe.widgets.token_form) and callable(hsframe.widgets.review)
    assert hsframe.widgets.token_form.__module__ == "hsframe.widgets"
    assert hsframe.widgets.TokenForm is TokenForm
    assert sorted(hsframe.widgets.__all__) == [
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


def test_importing_the_package_does_not_import_ipywidgets() -> None:
    code = (
        "import sys, hsframe.widgets\n"
        "assert 'ipywidgets' not in sys.modules\n"
        "hsframe.widgets.TokenForm\n"
        "assert 'ipywidgets' in sys.modules\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUBSPOT_")}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


@pytest.mark.parametrize("module", ["hsframe.widgets.token_model"])
def test_docstring_examples_run(module: str) -> None:
    """The examples in the token model's docstrings run (against the sandbox) as written."""
    result = doctest.testmod(
        importlib.import_module(module), optionflags=doctest.ELLIPSIS, verbose=False
    )
    assert result.attempted > 0
    assert result.failed == 0
