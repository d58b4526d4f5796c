"""Settings: resolution order, safe base URLs, a token that never shows, a private .env."""

from __future__ import annotations

import dataclasses
import os
import stat
import warnings
from pathlib import Path

import pytest

from hsframe.config import (
    DEFAULT_BASE_URL,
    TIERS,
    InsecureFileWarning,
    Secret,
    Settings,
    is_loopback,
    save_token,
)
from hsframe.errors import ConfigurationError


def _dotenv(text: str, mode: int = 0o600) -> Path:
    path = Path(".env")
    path.write_text(text)
    path.chmod(mode)
    return path


def test_the_argument_wins(token: str) -> None:
    _dotenv("HUBSPOT_ACCESS_TOKEN=pat-na1-from-dotenv\n")
    settings = Settings.resolve(token, environ={"HUBSPOT_ACCESS_TOKEN": "pat-na1-from-env"})
    assert settings.token.reveal() == token
    assert settings.token_source == "argument"


def test_the_environment_comes_before_dotenv() -> None:
    _dotenv("HUBSPOT_ACCESS_TOKEN=pat-na1-from-dotenv\n")
    settings = Settings.resolve(environ={"HUBSPOT_ACCESS_TOKEN": "pat-na1-from-env"})
    assert settings.token.reveal() == "pat-na1-from-env"
    assert settings.token_source == "environment"


def test_the_real_environment_is_read_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "pat-na1-real-env")
    assert Settings.resolve().token.reveal() == "pat-na1-real-env"


def test_dotenv_is_read_but_never_changes_the_environment() -> None:
    _dotenv("HUBSPOT_ACCESS_TOKEN=pat-na1-from-dotenv\nHUBSPOT_BASE_URL=http://127.0.0.1:9\n")
    settings = Settings.resolve()
    assert settings.token.reveal() == "pat-na1-from-dotenv"
    assert settings.base_url == "http://127.0.0.1:9"
    assert settings.token_source == ".env"
    assert "HUBSPOT_ACCESS_TOKEN" not in os.environ
    assert "HUBSPOT_BASE_URL" not in os.environ


def test_another_dotenv_path(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "hubspot.env"
    path.parent.mkdir()
    path.write_text("HUBSPOT_ACCESS_TOKEN=pat-na1-elsewhere\n")
    path.chmod(0o600)
    assert Settings.resolve(dotenv_path=path).token.reveal() == "pat-na1-elsewhere"


def test_no_token_says_where_to_get_one_and_where_to_put_it() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings.resolve()
    text = str(caught.value)
    assert "Private Apps" in text
    assert "crm.objects.contacts.read" in text
    assert "HUBSPOT_ACCESS_TOKEN" in text and ".env" in text


@pytest.mark.parametrize("blank", ["", "   ", "''"])
def test_blank_tokens_are_no_tokens(blank: str) -> None:
    with pytest.raises(ConfigurationError):
        Settings.resolve(environ={"HUBSPOT_ACCESS_TOKEN": blank})


@pytest.mark.parametrize(
    "pasted",
    [
        "pat-na1-abc",
        "  pat-na1-abc\n",
        "Bearer pat-na1-abc",
        "bearer  pat-na1-abc",
        '"pat-na1-abc"',
    ],
)
def test_pasted_tokens_are_cleaned(pasted: str) -> None:
    assert Settings(token=Secret(pasted)).token.reveal() == "pat-na1-abc"


def test_the_base_url_defaults_to_hubspot(token: str) -> None:
    assert Settings.resolve(token).base_url == DEFAULT_BASE_URL == "https://api.hubapi.com"


def test_the_base_url_comes_from_the_environment(token: str) -> None:
    settings = Settings.resolve(token, environ={"HUBSPOT_BASE_URL": "https://proxy.example/"})
    assert settings.base_url == "https://proxy.example"


@pytest.mark.parametrize(
    "url",
    [
        "https://api.hubapi.com",
        "https://eu.example.org:8443/hubspot",
        "http://127.0.0.1:8080",
        "http://127.9.9.9",
        "http://localhost:5000/",
        "http://[::1]:5000",
        "HTTP://LOCALHOST",
    ],
)
def test_safe_base_urls(url: str, token: str) -> None:
    assert Settings(token=Secret(token), base_url=url).base_url == url.rstrip("/")


@pytest.mark.parametrize(
    "url",
    [
        "http://api.hubapi.com",
        "http://10.0.0.5",
        "http://localhost.example.com",
        "http://128.0.0.1",
        "ftp://127.0.0.1",
        "api.hubapi.com",
        "https://user:pass@api.hubapi.com",
        "https://api.hubapi.com/?x=1",
    ],
)
def test_unsafe_base_urls_are_refused(url: str, token: str) -> None:
    with pytest.raises(ConfigurationError):
        Settings(token=Secret(token), base_url=url)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.255.0.1", True), ("::1", True), ("[::1]", True),
     ("localhost", True), ("LocalHost", True), ("0.0.0.0", False), ("::", False),
     ("example.com", False), ("192.168.1.2", False)],
)  # fmt: skip
def test_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_the_token_never_shows(token: str) -> None:
    settings = Settings.resolve(token)
    for text in (repr(settings), str(settings), f"{settings.token}", repr(settings.token)):
        assert token not in text
    assert "pat-na1-…beef" in repr(settings)
    assert token not in repr(dataclasses.asdict(settings))


def test_secrets_compare_by_value() -> None:
    assert Secret("a") == Secret("a") != Secret("b")
    assert hash(Secret("a")) == hash(Secret("a"))
    assert Secret("a") != "a"


def test_settings_are_frozen(token: str) -> None:
    settings = Settings.resolve(token)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.base_url = "https://elsewhere"  # type: ignore[misc]


@pytest.mark.parametrize(
    "options",
    [
        {"connect_timeout": 0},
        {"read_timeout": -1},
        {"max_retry_time": 0},
        {"max_retries": -1},
        {"max_concurrency": 0},
        {"tier": "platinum"},
    ],
)
def test_bad_options_are_refused(options: dict[str, object], token: str) -> None:
    with pytest.raises(ValueError):
        Settings.resolve(token, **options)


@pytest.mark.parametrize("tier", TIERS)
def test_every_tier_is_accepted(tier: str, token: str) -> None:
    assert Settings.resolve(token, tier=tier).tier == tier


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_a_dotenv_that_others_can_read_gives_a_warning() -> None:
    _dotenv("HUBSPOT_ACCESS_TOKEN=pat-na1-x\n", mode=0o644)
    with pytest.warns(InsecureFileWarning, match="chmod 600"):
        Settings.resolve()


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_a_private_dotenv_gives_no_warning() -> None:
    _dotenv("HUBSPOT_ACCESS_TOKEN=pat-na1-x\n", mode=0o600)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Settings.resolve()


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_save_token_writes_a_private_file(token: str) -> None:
    path = save_token(f"Bearer {token}")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Settings.resolve().token.reveal() == token
    assert [p.name for p in Path().iterdir()] == [".env"]  # no temporary files left


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_save_token_narrows_an_open_file_and_keeps_other_keys(token: str) -> None:
    _dotenv("OTHER=1\nHUBSPOT_ACCESS_TOKEN=pat-na1-old\n", mode=0o644)
    save_token(Secret(token))
    assert stat.S_IMODE(Path(".env").stat().st_mode) == 0o600
    text = Path(".env").read_text()
    assert "OTHER=1" in text and token in text and "pat-na1-old" not in text


def test_save_token_refuses_an_empty_token() -> None:
    with pytest.raises(ConfigurationError):
        save_token("  ")
    assert not Path(".env").exists()
