"""The ``hsframe`` command: the notebook workflow for terminals, scripts and ``make demo``.

Not every correction happens in a notebook: an operations person gets a CSV of fixes by
email, a scheduled job exports the portal to Parquet, a push dies and must be finished from
a shell. The command gives those jobs the same safety as the notebook (preview, validation,
a journal, undo) with no Python to write::

    hsframe demo                                   the whole story on a local sandbox
    hsframe sandbox serve                          a local HubSpot emulator over HTTP
    hsframe token check                            portal and scopes of the configured token
    hsframe pull --out contacts.parquet            contacts to Parquet or CSV
    hsframe apply fixes.csv --key email            corrections: diff, validate, ask, write
    hsframe undo JOURNAL                           take a push or an apply back
    hsframe resume JOURNAL                         finish a push or an apply that stopped

**The token is never a command-line value** (it would land in shell history and in the
process list). It comes from ``HUBSPOT_ACCESS_TOKEN``, else ``./.env``; ``--token-env NAME``
reads another variable, ``--token-stdin`` the first line of standard input (for a password
manager's command line). ``--base-url`` or ``HUBSPOT_BASE_URL`` points at another API, such
as a sandbox served by ``hsframe sandbox serve``. No output shows the token, only its mask
(``pat-na1-…a1b2``); ``sandbox serve`` alone prints its sandbox's token, since that is
what it is for.

**Writing asks first.** ``apply`` and ``undo`` always compute a dry run, show it, and ask
before writing; ``--yes`` skips the question. When standard input is not a terminal (a
script, a pipe, ``--token-stdin``) there is nobody to ask, so without ``--yes`` they refuse
to write and say so. ``resume`` finishes a run that was already approved and does not ask.

**CSV files** (:mod:`hsframe.csvfiles`). ``apply`` reads what a spreadsheet saved: UTF-8
or, with a warning, Windows-1252; commas, semicolons or tabs. An empty cell is not a
correction (the property is left alone). Errors and tables name a row by its line in the
file (the header is line 1), not by its position in a frame. Cells starting with ``=``,
``+``, ``-`` or ``@`` are data (``+44 20 7946 0958`` is a phone number), except that a
leading ``'`` before one of those characters is removed: that is the guard ``pull`` adds.
``pull`` writes HubSpot's wire strings (the samples' format, so a pulled file can be applied
back), guards text cells a spreadsheet would run as formulas (``--raw-csv`` does not, for
programs), and creates its files readable by their owner only (mode 0600).

**Exit status** (also in ``hsframe --help``):

====  ===========================================================================
0     success
1     a check failed: invalid corrections (without ``--on-invalid skip``), cells HubSpot
      did not apply, conflicts, an unfinished run, a demo verification
2     usage: bad arguments, an unreadable file or journal, a write that needs ``--yes``
3     authentication: no token, an invalid or rotated token, a missing scope, an unsafe
      base URL
4     HubSpot or the network failed (after hsframe's retries)
130   interrupted (Ctrl+C)
====  ===========================================================================

Errors are one line on standard error (what went wrong and what to do), never a traceback.
``main`` takes ``argv`` and returns the exit status, so tests call it in-process.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import pandas as pd

from hsframe import terminal
from hsframe.client import READ_SCOPE, WRITE_SCOPE, Client
from hsframe.config import BASE_URL_ENV, TOKEN_ENV, Secret, Settings, check_base_url
from hsframe.corrections import CorrectionKeyError, apply_corrections
from hsframe.csvfiles import read_corrections, write_csv, write_private
from hsframe.demo import run_demo
from hsframe.errors import (
    AuthenticationError,
    ConfigurationError,
    HubSpotError,
    MissingScopesError,
)
from hsframe.journal import JournalError, default_directory
from hsframe.load import read_contacts
from hsframe.recovery import resume, undo
from hsframe.result import PushInterruptedError, PushResult
from hsframe.sandbox import TIERS, Sandbox, seed
from hsframe.sandbox.facade import ContactsSource
from hsframe.send import ARCHIVE
from hsframe.widgets.token_model import (
    PRIVATE_APP_AUTH,
    PRIVATE_APP_SCOPES,
    TokenCheck,
    TokenResult,
)
from hsframe.write import InvalidEditsError

__all__ = [
    "EXIT_AUTH",
    "EXIT_FAILED",
    "EXIT_HUBSPOT",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "main",
]

EXIT_OK = 0
"""Success."""
EXIT_FAILED = 1
"""A check failed: invalid corrections, cells not applied, conflicts, a verification."""
EXIT_USAGE = 2
"""Bad arguments, an unreadable file or journal, a write that needs ``--yes``."""
EXIT_AUTH = 3
"""No token, an invalid or rotated token, a missing scope, an unsafe base URL."""
EXIT_HUBSPOT = 4
"""HubSpot or the network failed after hsframe's retries."""
EXIT_INTERRUPTED = 130
"""Interrupted (Ctrl+C), as shells report SIGINT."""

EXIT_STATUS_HELP = """\
exit status:
  0    success
  1    a check failed: invalid corrections (without --on-invalid skip), cells HubSpot
       did not apply, conflicts, an unfinished run, a demo verification
  2    usage: bad arguments, an unreadable file or journal, a write that needs --yes
  3    authentication: no token, an invalid or rotated token, a missing scope, an
       unsafe base URL
  4    HubSpot or the network failed (after hsframe's retries)
  130  interrupted (Ctrl+C)"""

TOKEN_HELP = f"""\
the token:
  never given on the command line (shell history, process list). Read from
  {TOKEN_ENV}, else from ./.env; --token-env NAME reads another variable,
  --token-stdin the first line of standard input. {BASE_URL_ENV} or --base-url
  points at another API (e.g. `hsframe sandbox serve`). Outputs show the token's
  mask only (pat-na1-…a1b2)."""


_SHOW_ROWS = 30


class UsageError(Exception):
    """A problem with the command line or an input file: exit status 2."""


# --- entry point ----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``hsframe`` command.

    Args:
        argv: The arguments after the program name; ``sys.argv[1:]`` when None.

    Returns:
        The exit status (module docstring). Bad arguments exit through ``SystemExit(2)``
        raised by argparse, as ``--help`` does with 0.

    Example:
        >>> main(["sandbox"])  # doctest: +ELLIPSIS
        usage: hsframe sandbox ...
        2
    """
    parser = _parser()
    args = parser.parse_args(argv)
    command: Callable[[argparse.Namespace], int] | None = getattr(args, "run", None)
    if command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        with _warnings_as_lines():
            return command(args)
    except KeyboardInterrupt:
        text = "interrupted."
        if getattr(args, "writes", False):
            text += (
                f" If a write had started, its journal is in {_journal_dir(args)}; finish it "
                "with `hsframe resume JOURNAL`."
            )
        _error(text)
        return EXIT_INTERRUPTED
    except PushInterruptedError as error:
        where = f"`hsframe resume {error.result.journal}`" if error.result.journal else "a new run"
        _error(f"{error.message} {error.cause.hint} Then finish the run with {where}.")
        return _status_of(error.cause)
    except InvalidEditsError as error:  # its message counts frame rows; a file has lines
        cells = len(error.report.failures)
        _error(
            f"{cells:,} invalid cell{'s' * (cells != 1)}, so nothing was written. Fix them, or "
            "pass --on-invalid skip to write the rest."
        )
        return EXIT_FAILED
    except HubSpotError as error:
        _error(_flat(str(error)))
        return _status_of(error)
    except (UsageError, ValueError, OSError) as error:
        _error(_flat(str(error)))
        return EXIT_USAGE


def _status_of(error: HubSpotError) -> int:
    if isinstance(error, AuthenticationError | MissingScopesError | ConfigurationError):
        return EXIT_AUTH
    if isinstance(error, JournalError | ValueError):
        return EXIT_USAGE  # a damaged journal, a frame or value hsframe cannot use
    return EXIT_HUBSPOT


@contextlib.contextmanager
def _warnings_as_lines() -> Iterator[None]:
    """Show hsframe's user warnings (a property name it does not know, a ``.env`` others
    can read, a value it could not decode) as one ``hsframe: warning:`` line each, not as
    Python's two-line warning with a source path."""

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        _warn(_flat(str(message)))

    with warnings.catch_warnings():
        warnings.simplefilter("default", UserWarning)
        warnings.showwarning = show
        yield


def _error(text: str) -> None:
    print(f"hsframe: error: {text}", file=sys.stderr, flush=True)


def _warn(text: str) -> None:
    print(f"hsframe: warning: {text}", file=sys.stderr, flush=True)


def _flat(text: str) -> str:
    return " ".join(text.split())


# --- the parser -----------------------------------------------------------------------------------


class _Formatter(argparse.HelpFormatter):
    """Wraps descriptions as usual, but keeps text laid out in indented lines (the
    epilogs: token rules, exit status) as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n  " in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hsframe",
        description="HubSpot CRM contacts in pandas, written back safely.",
        epilog=f"{TOKEN_HELP}\n\n{EXIT_STATUS_HELP}",
        formatter_class=_Formatter,
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    def command(
        name: str,
        help_text: str,
        description: str,
        *options: Callable[[argparse.ArgumentParser], None],
    ) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = commands.add_parser(
            name,
            help=help_text,
            description=description,
            epilog=EXIT_STATUS_HELP,
            formatter_class=_Formatter,
        )
        for add in options:
            add(sub)
        return sub

    demo = command(
        "demo",
        "the whole story on a local sandbox: load, clean up, validate, push, verify, undo",
        "Start a local HubSpot sandbox with the sample contacts (real HTTP on 127.0.0.1), load "
        "them with every property, clean them up (emails, names, stale options), validate, "
        "push, read back to verify, undo, and verify again. Ends with a table of the steps. "
        "Nothing leaves this machine; journals go to a temporary directory.",
        _progress_options,
    )
    demo.add_argument(
        "--contacts",
        metavar="N|CSV",
        help="generate N contacts, or load a CSV in the samples' format (default: the 1,200 "
        "sample contacts)",
    )
    demo.add_argument(
        "--latency", type=float, default=0.0, metavar="S", help="seconds per request (0)"
    )
    demo.set_defaults(run=_demo)

    _sandbox_parser(commands)

    token = commands.add_parser(
        "token",
        help="the access token: check its portal and scopes",
        description="Commands about the private-app access token.",
    )
    token_commands = token.add_subparsers(title="token commands", metavar="COMMAND")
    token.set_defaults(run=lambda _args: _help(token))
    check = token_commands.add_parser(
        "check",
        help="show the token's portal, app and scopes; fail if one is missing",
        description="Ask HubSpot about the configured token: its portal, app and user, and a "
        "table of the scopes hsframe needs (✓/✗) with what each is for. Exits 3 when the "
        "token is missing, invalid or rotated, or lacks a required scope.",
        epilog=f"{TOKEN_HELP}\n\n{EXIT_STATUS_HELP}",
        formatter_class=_Formatter,
    )
    _connection_options(check)
    check.add_argument(
        "--require",
        action="append",
        metavar="SCOPE",
        help="a scope the token must have: read, write or a full scope name; repeatable "
        "(default: read and write)",
    )
    check.set_defaults(run=_token_check)

    pull = command(
        "pull",
        "load contacts and save them as Parquet or CSV",
        "Load contacts (concurrently, within HubSpot's rate limits) and save them. Parquet "
        "keeps the typed columns (index: the contact id); CSV holds HubSpot's wire strings "
        "with an id column, text cells that a spreadsheet would run as formulas prefixed "
        "with ' (see --raw-csv). The file is written whole or not at all, readable by you "
        "only (it holds personal data).",
        _connection_options,
        _progress_options,
    )
    pull.add_argument(
        "--out",
        required=True,
        metavar="PATH",
        help="where to write: .parquet, .csv or .csv.gz (replaced if it exists)",
    )
    pull.add_argument(
        "--properties",
        default="all",
        metavar="all|default|a,b,...",
        help="which properties: all (default), default (the six HubSpot returns by default), "
        "or a comma-separated list",
    )
    pull.add_argument(
        "--where",
        action="append",
        metavar="FILTER",
        help="only contacts matching NAME=VALUE (also !=, <, <=, >, >=); NAME=A|B for one of "
        "several values; NAME= for unset, NAME!= for set; repeatable (ANDed), one per property",
    )
    pull.add_argument(
        "--archived", action="store_true", help="archived contacts instead of live ones"
    )
    pull.add_argument(
        "--limit", type=_positive_int, metavar="N", help="at most N contacts (the lowest ids)"
    )
    pull.add_argument(
        "--raw-csv",
        action="store_true",
        help="write CSV cells exactly, without the formula guard (for programs, not spreadsheets)",
    )
    pull.set_defaults(run=_pull)

    apply = command(
        "apply",
        "apply a corrections CSV: show the diff and validation, ask, write, journal",
        "Apply corrections from a CSV: one row per contact, a key column (email or id) and "
        "one column per property to set. Empty cells are left alone; columns that are not "
        "contact properties (notes) are never sent. Emails are matched stripped and in any "
        "case; unknown emails become new contacts (upserted by email). The diff and the "
        "validation are shown first; only differing cells are written, journaled, and "
        "verified.",
        _connection_options,
        _progress_options,
        _write_options,
    )
    apply.add_argument("csv", metavar="CSV", help="the corrections file")
    apply.add_argument(
        "--key", choices=("email", "id"), default="email", help="how rows name contacts (email)"
    )
    apply.add_argument(
        "--on-invalid",
        choices=("raise", "skip"),
        default="raise",
        help="raise (default): write nothing if any correction is invalid; skip: leave the "
        "invalid rows out and write the rest",
    )
    apply.add_argument(
        "--on-conflict",
        choices=("skip", "overwrite"),
        default="skip",
        help="cells changed in HubSpot since they were read: skip (default) or overwrite",
    )
    apply.set_defaults(run=_apply, writes=True)

    undo_cmd = command(
        "undo",
        "take a push or an apply back, from its journal",
        "Write the old values back where HubSpot still holds what the run wrote (cells "
        "changed since are reported, not touched); contacts the run created are archived. "
        "Shows what it would do and asks first. The undo is journaled too, and can be undone.",
        _connection_options,
        _progress_options,
        _write_options,
    )
    undo_cmd.add_argument("journal", metavar="JOURNAL", help="the run's journal file")
    undo_cmd.set_defaults(run=_undo, writes=True)

    resume_cmd = command(
        "resume",
        "finish a push or an apply that stopped half way, from its journal",
        "Finish a run from its journal: batches that were answered are not sent again, "
        "batches whose answer was lost are settled by reading back, the rest is checked "
        "for conflicts and sent. Does not ask: the run was approved when it started.",
        _connection_options,
        _progress_options,
    )
    resume_cmd.add_argument("journal", metavar="JOURNAL", help="the run's journal file")
    resume_cmd.set_defaults(run=_resume, writes=True)
    return parser


def _sandbox_parser(commands: Any) -> None:
    sandbox = commands.add_parser("sandbox", help="the local HubSpot emulator")
    sandbox_commands = sandbox.add_subparsers(title="sandbox commands", metavar="COMMAND")
    sandbox.set_defaults(run=lambda _args: _help(sandbox))
    serve = sandbox_commands.add_parser(
        "serve",
        help="serve the sandbox over HTTP on 127.0.0.1 until interrupted",
        description=(
            "Serve a local emulator of HubSpot's CRM contacts API on 127.0.0.1 and print "
            "its URL and token (the one command that prints a token: the sandbox's, so "
            "that clients can use it). Stop it with Ctrl+C."
        ),
        epilog=EXIT_STATUS_HELP,
        formatter_class=_Formatter,
    )
    serve.add_argument("--port", type=int, default=0, help="port to bind (0: a free one)")
    source = serve.add_mutually_exclusive_group()
    source.add_argument(
        "--contacts",
        metavar="N|CSV",
        help="generate N contacts, or load them from a CSV in the samples' format",
    )
    source.add_argument(
        "--sample", action="store_true", help="the 1,200 sample contacts (the default)"
    )
    serve.add_argument(
        "--latency", type=float, default=0.0, metavar="S", help="seconds per request (0)"
    )
    serve.add_argument(
        "--tier",
        choices=sorted(TIERS),
        default="professional",
        help="rate-limit preset (professional)",
    )
    serve.add_argument(
        "--window",
        type=float,
        default=10.0,
        metavar="S",
        help="length of the burst rate-limit window in seconds (10)",
    )
    serve.add_argument("--token", help="use this token for the default app (default: a new one)")
    serve.add_argument(
        "--scopes",
        default=f"{READ_SCOPE},{WRITE_SCOPE}",
        help="comma-separated scopes of the default app",
    )
    serve.add_argument("--seed", type=int, default=0, help="seed for generated contacts (0)")
    serve.set_defaults(run=_serve)
    samples = sandbox_commands.add_parser(
        "samples",
        help="regenerate or check the sample contacts (data/samples/contacts.csv)",
        description=(
            "The sample contacts are written by the sandbox's generator: --write rewrites "
            "contacts.csv from it (after a change to the generator), --check exits 1 if "
            "the file and the generator disagree. For a source checkout."
        ),
        epilog=EXIT_STATUS_HELP,
        formatter_class=_Formatter,
    )
    action = samples.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help="rewrite contacts.csv")
    action.add_argument("--check", action="store_true", help="exit 1 if contacts.csv is stale")
    samples.set_defaults(run=_samples)


def _connection_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection (the token is never an argument)")
    group.add_argument(
        "--base-url",
        metavar="URL",
        help=f"the API to talk to (default: {BASE_URL_ENV}, else https://api.hubapi.com)",
    )
    source = group.add_mutually_exclusive_group()
    source.add_argument(
        "--token-env",
        metavar="NAME",
        help=f"read the token from this environment variable instead of {TOKEN_ENV}",
    )
    source.add_argument(
        "--token-stdin",
        action="store_true",
        help="read the token from the first line of standard input",
    )


def _progress_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bars on standard error (default: when it is a terminal)",
    )


def _write_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("writing")
    group.add_argument(
        "--dry-run", action="store_true", help="show what would be written; write nothing"
    )
    group.add_argument("--yes", "-y", action="store_true", help="write without asking")
    group.add_argument(
        "--journal-dir",
        metavar="DIR",
        help="where journals go (default: HSFRAME_JOURNAL_DIR, else ~/.hsframe/journal)",
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return EXIT_USAGE


def _progress(args: argparse.Namespace) -> bool:
    chosen: bool | None = getattr(args, "progress", None)
    return sys.stderr.isatty() if chosen is None else chosen


def _journal_dir(args: argparse.Namespace) -> Path:
    chosen = getattr(args, "journal_dir", None)
    return Path(chosen) if chosen else default_directory()


# --- connecting -----------------------------------------------------------------------------------


def _token_value(args: argparse.Namespace) -> tuple[Secret | None, str | None]:
    """The token from ``--token-stdin`` or ``--token-env``, and where it came from; (None,
    None) to let the settings find it (``HUBSPOT_ACCESS_TOKEN``, then ``./.env``). Read
    straight into a :class:`Secret`: no frame here holds it plain (tracebacks can show
    local variables)."""
    if args.token_stdin:
        token = Secret.wrap(sys.stdin.readline())
        if token is None:
            raise ConfigurationError(
                "--token-stdin: standard input held no token.",
                hint="Pipe the token in on the first line of standard input.",
            )
        return token, "from standard input"
    if args.token_env:
        token = Secret.wrap(os.environ.get(args.token_env))
        if token is None:
            raise ConfigurationError(
                f"--token-env: {args.token_env} is not set.",
                hint=f"Set {args.token_env}, or leave --token-env out to use {TOKEN_ENV} "
                "or ./.env.",
            )
        return token, f"from {args.token_env}"
    return None, None


def _connect(args: argparse.Namespace) -> tuple[Client, str]:
    """A client from the token's configured source; and that source, in words."""
    token, source = _token_value(args)
    try:
        settings = Settings.resolve(token, args.base_url)
    except ConfigurationError as error:
        if "No HubSpot access token" not in error.message:
            raise
        raise ConfigurationError(
            f"No HubSpot access token: {TOKEN_ENV} is not set and ./.env has none.",
            hint=f"Copy your private app's token from {PRIVATE_APP_AUTH}, then set "
            f"{TOKEN_ENV} or put {TOKEN_ENV}=... in ./.env (chmod 600), or use --token-env "
            "NAME or --token-stdin.",
        ) from None
    return Client(settings), source or _source_words(settings.token_source)


def _requests(client: Client) -> int:
    return client.transport.stats.requests


# --- token check ----------------------------------------------------------------------------------


def _token_check(args: argparse.Namespace) -> int:
    base_url = args.base_url or os.environ.get(BASE_URL_ENV)
    if base_url:
        check_base_url(base_url)  # an unsafe URL is a configuration error (exit 3)
    token, source = _token_value(args)
    checker = TokenCheck(args.require or ["read", "write"], base_url=args.base_url)
    result = checker.check(token)
    words = source or _source_words(result.source)
    out = sys.stdout
    if result.masked:
        print(f"Token   {result.masked} ({words})", file=out)
    if result.client is not None:
        print(f"API     {result.client.settings.base_url}", file=out)
        result.client.close()
    if result.info is not None:
        info = result.info
        print(
            f"Portal  {info.portal_id}    app {info.app_id or '-'}    user {info.user_id or '-'}",
            file=out,
        )
    if result.status not in ("no_token", "error"):
        print(file=out)
        rows = [
            (row.scope, row.mark, "yes" if row.required else "no", row.purpose)
            for row in result.scopes
        ]
        for line in terminal.table(("scope", "granted", "required", "needed for"), rows):
            print(line, file=out)
        print(file=out, flush=True)
    return _token_verdict(result, words)


def _source_words(source: str) -> str:
    if source == "environment":
        return f"from {TOKEN_ENV}"
    return f"from {source}" if source else "none"


def _token_verdict(result: TokenResult, words: str) -> int:
    if result.ok:
        assert result.info is not None
        print(f"OK: the token can use portal {result.info.portal_id} with every required scope.")
        return EXIT_OK
    if result.status == "no_token":
        _error(
            f"No HubSpot access token: {TOKEN_ENV} is not set and ./.env has none. Copy your "
            f"private app's token from {PRIVATE_APP_AUTH} and set {TOKEN_ENV} (or put it in "
            "./.env, chmod 600)."
        )
        return EXIT_AUTH
    if result.status == "invalid_token":
        _error(
            f"HubSpot refused the token {result.masked} ({words}): it is mistyped, or it was "
            f"rotated. Copy the current token from {PRIVATE_APP_AUTH} (Rotate there issues a "
            "new one and expires the old)."
        )
        return EXIT_AUTH
    if result.status == "missing_scopes":
        lacking = ", ".join(result.missing)
        _error(
            f"The token lacks {lacking}. Add the scope(s) in {PRIVATE_APP_SCOPES}, commit the "
            "change, then copy the app's current token from its Auth tab again."
        )
        return EXIT_AUTH
    _error(_flat(result.message))
    return EXIT_HUBSPOT


# --- pull -----------------------------------------------------------------------------------------

_WHERE = re.compile(r"^\s*([A-Za-z0-9_]+)\s*(!=|>=|<=|=|>|<)(.*)\Z", re.S)


def _where(items: Sequence[str]) -> dict[str, Any]:
    """``--where`` filters → :func:`hsframe.read_contacts`' ``where`` dict."""
    where: dict[str, Any] = {}
    for item in items:
        found = _WHERE.match(item)
        if found is None:
            raise UsageError(
                f"--where {item!r}: write NAME=VALUE (or NAME!=VALUE, <, <=, >, >=; NAME=A|B for "
                "one of several values; NAME= for unset)"
            )
        name, operator, raw = found.group(1), found.group(2), found.group(3).strip()
        if name in where:
            raise UsageError(f"--where names {name} twice; give each property once")
        alternatives = [v.strip() for v in raw.split("|")]
        if not raw:
            if operator not in ("=", "!="):
                raise UsageError(f"--where {item!r}: {operator} needs a value")
            where[name] = None if operator == "=" else ("has",)
        elif len(alternatives) > 1 and operator in ("=", "!="):
            where[name] = alternatives if operator == "=" else ("not in", alternatives)
        else:
            where[name] = raw if operator == "=" else (operator, raw)
    return where


def _properties(text: str) -> str | list[str]:
    if text in ("all", "default"):
        return text
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UsageError("--properties: give all, default, or a comma-separated list of names")
    return names


def _format_of(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    raise UsageError(f"--out {path}: the name must end in .parquet, .csv or .csv.gz")


def _pull(args: argparse.Namespace) -> int:
    out = Path(args.out)
    kind = _format_of(out)
    guarded = 0
    properties = _properties(args.properties)
    where = _where(args.where) if args.where else None
    if not out.parent.is_dir():
        raise UsageError(f"--out {out}: the folder {out.parent} does not exist")
    client, source = _connect(args)
    with client:
        started = time.monotonic()
        frame = read_contacts(
            client,
            properties=properties,
            where=where,
            archived=args.archived,
            limit=args.limit,
            progress=_progress(args),
        )
        seconds = time.monotonic() - started
        requests = _requests(client)
    if kind == "parquet":
        write_private(out, lambda handle: frame.to_parquet(handle))
    else:
        guarded = write_csv(out, frame, guard=not args.raw_csv)
    portal = (frame.attrs.get("hsframe") or {}).get("portal_id")
    print(
        f"Loaded {len(frame):,} contacts x {frame.shape[1]:,} properties from portal {portal} "
        f"({client.settings.token.masked}, {source}) in {seconds:.1f} s, {requests:,} requests."
    )
    detail = ""
    if kind == "csv":
        detail = (
            " (wire strings; formula guard off)"
            if args.raw_csv
            else f" (wire strings; {guarded:,} cells guarded with a leading ')"
        )
    print(f"Wrote {out}{detail}, readable by you only.")
    return EXIT_OK


# --- showing results ------------------------------------------------------------------------------


def _cells_table(
    cells: pd.DataFrame,
    lines: Sequence[int] | None,
    limit: int,
    extra: str | None = None,
    *,
    no_id: str = "-",
) -> list[str]:
    """Cells (``id, row, property, old, new`` and maybe ``extra``) as text lines; ``no_id``
    stands for a missing contact id (``new`` where a missing id means a new contact)."""
    rows = []
    for record in cells.head(limit).itertuples(index=False):
        contact = no_id if pd.isna(record.id) else str(int(record.id))
        where = [str(lines[int(record.row)]) if lines is not None else str(int(record.row))]
        if record.property == ARCHIVE:
            change = ["", "(archive the contact)"]
        else:
            change = [terminal.cell(record.old), terminal.cell(record.new)]
        row = [*where, contact, str(record.property), *change]
        if extra is not None:
            row.append(terminal.cell(getattr(record, extra), 70))
        rows.append(row)
    headers = ["line" if lines is not None else "row", "contact", "property", "old", "new"]
    if extra is not None:
        headers.append(extra)
    text = terminal.table(headers, rows)
    if len(cells) > limit:
        text.append(f"  … and {len(cells) - limit:,} more")
    return text


def _new_contacts(result: PushResult) -> int:
    planned = result.planned
    return int(planned.loc[planned["id"].isna(), "row"].nunique())


def _report_run(result: PushResult, lines: Sequence[int] | None, *, verb: str) -> int:
    """Print what a run did; the exit status it deserves."""
    out = sys.stdout
    applied = len(result.applied)
    contacts = result.applied["id"].nunique()
    text = f"{verb}: {applied:,} cell{'s' * (applied != 1)} applied in {contacts:,} contacts"
    if result.created:
        text += f" ({len(result.created):,} created)"
    if result.archived:
        text += f", {len(result.archived):,} contacts archived"
    print(f"{text}; {result.requests:,} requests.", file=out)
    if len(result.failed):
        print(f"Failed: {len(result.failed):,} cells (HubSpot did not apply them):", file=out)
        for line in _cells_table(result.failed, lines, _SHOW_ROWS, extra="reason"):
            print(line, file=out)
    if len(result.conflicts):
        print(
            f"Conflicts: {len(result.conflicts):,} cells changed in HubSpot since they were "
            "read, left as they are:",
            file=out,
        )
        for line in _cells_table(result.conflicts, lines, _SHOW_ROWS, extra="remote"):
            print(line, file=out)
    for message in result.messages:
        print(message, file=out)
    if result.journal is not None:
        print(f"Journal: {result.journal}", file=out)
        if not result.complete:
            print(f"Unfinished: finish it with `hsframe resume {result.journal}`.", file=out)
        elif applied or result.created or result.archived:
            print(f"Take it back with `hsframe undo {result.journal}`.", file=out)
    out.flush()
    return EXIT_OK if result.ok and result.complete else EXIT_FAILED


def _confirm(args: argparse.Namespace, question: str) -> bool | None:
    """True to write; False when the user said no; None when nobody can be asked."""
    if args.yes:
        return True
    if args.token_stdin or not sys.stdin.isatty():
        return None
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")


def _refuse_without_tty() -> int:
    _error(
        "not writing: standard input is not a terminal, so there is nobody to ask. Run again "
        "with --yes to write, or with --dry-run to only look."
    )
    return EXIT_USAGE


# --- apply ----------------------------------------------------------------------------------------


def _apply(args: argparse.Namespace) -> int:
    corrections = read_corrections(Path(args.csv))
    frame = corrections.frame
    if args.key not in frame.columns:
        raise UsageError(
            f"{args.csv} has no {args.key!r} column (--key {args.key}); its columns are "
            f"{', '.join(map(str, frame.columns))}"
        )
    client, source = _connect(args)
    out = sys.stdout
    with client:
        info = client.require_scopes(*(["read"] if args.dry_run else ["read", "write"]))
        print(
            f"Corrections: {args.csv} ({len(frame):,} rows, {corrections.encoding}, key "
            f"{args.key})\nPortal: {info.portal_id} ({client.settings.token.masked}, {source})",
            file=out,
        )
        try:
            preview = apply_corrections(
                frame,
                key=args.key,
                client=client,
                dry_run=True,
                on_invalid="skip",
                on_conflict=args.on_conflict,
                progress=False,
                journal_dir=args.journal_dir,
            )
        except CorrectionKeyError as error:  # it names positions; a file has lines
            message = error.describe(corrections.lines, args.csv)
            raise UsageError(f"{message} {error.hint}") from None
        invalid = _show_preview(preview, corrections.lines)
        if invalid and args.on_invalid == "raise":
            _error(
                f"{invalid:,} row(s) hold invalid corrections, so nothing was written. Fix them "
                "in the file, or pass --on-invalid skip to write the other rows."
            )
            return EXIT_FAILED
        if not len(preview.planned):
            print("Nothing to write: HubSpot already holds these values.", file=out)
            return EXIT_OK
        if args.dry_run:
            print("Dry run: nothing written.", file=out)
            return EXIT_OK
        cells, new = len(preview.planned), _new_contacts(preview)
        question = f"Write {cells:,} cells ({new:,} new contacts) to portal {info.portal_id}?"
        answer = _confirm(args, question)
        if answer is None:
            return _refuse_without_tty()
        if not answer:
            print("Nothing written.", file=out)
            return EXIT_OK
        result = apply_corrections(
            frame,
            key=args.key,
            client=client,
            on_invalid=args.on_invalid,
            on_conflict=args.on_conflict,
            progress=_progress(args),
            journal_dir=args.journal_dir,
        )
    return _report_run(result, corrections.lines, verb="Corrections")


def _show_preview(preview: PushResult, lines: Sequence[int]) -> int:
    """Print a correction's dry run: the diff, the invalid rows, the rest; returns how many
    rows hold invalid values."""
    out = sys.stdout
    planned = preview.planned
    changing = planned["id"].dropna().nunique()
    print(
        f"Would write {len(planned):,} cells: {changing:,} existing contacts, "
        f"{_new_contacts(preview):,} new ones (created by email).",
        file=out,
    )
    if preview.ignored:
        print(f"Not contact properties, never sent: {', '.join(preview.ignored)}.", file=out)
    if len(planned):
        print(file=out)
        for line in _cells_table(planned, lines, _SHOW_ROWS, no_id="new"):
            print(line, file=out)
    skipped = preview.skipped
    invalid = skipped[skipped["reason"].astype(str).str.startswith("invalid")]
    if len(invalid):
        rows = invalid["row"].nunique()
        print(f"\nInvalid: {rows:,} row(s) cannot be written as they are:", file=out)
        for line in _cells_table(invalid, lines, _SHOW_ROWS, extra="reason"):
            print(line, file=out)
        collateral = skipped[skipped["reason"].astype(str).str.startswith("its row")]
        if len(collateral):
            print(f"  (and {len(collateral):,} valid cells of those rows)", file=out)
    others = skipped[~skipped.index.isin(invalid.index)]
    others = others[~others["reason"].astype(str).str.startswith("its row")]
    if len(others):
        print(f"\nNot written ({len(others):,} cells):", file=out)
        for line in _cells_table(others, lines, _SHOW_ROWS, extra="reason"):
            print(line, file=out)
    if len(preview.conflicts):
        print(
            f"\nConflicts: {len(preview.conflicts):,} cells changed in HubSpot meanwhile.",
            file=out,
        )
    print(file=out, flush=True)
    return int(invalid["row"].nunique())


# --- undo and resume ------------------------------------------------------------------------------


def _journal(args: argparse.Namespace) -> Path:
    path = Path(args.journal)
    if not path.is_file():
        raise UsageError(f"{path}: no such journal")
    return path


def _undo(args: argparse.Namespace) -> int:
    journal = _journal(args)
    client, source = _connect(args)
    out = sys.stdout
    with client:
        info = client.require_scopes("read", "write")
        print(
            f"Undo: {journal}\nPortal: {info.portal_id} ({client.settings.token.masked}, {source})",
            file=out,
        )
        preview = undo(journal, client, dry_run=True, progress=False, journal_dir=args.journal_dir)
        planned = preview.planned
        print(f"Would put back {len(planned):,} cells.", file=out)
        for line in _cells_table(planned, None, _SHOW_ROWS, no_id="new"):
            print(line, file=out)
        if len(preview.skipped):
            print(f"Cannot put back {len(preview.skipped):,} cells:", file=out)
            for line in _cells_table(preview.skipped, None, _SHOW_ROWS, extra="reason"):
                print(line, file=out)
        if len(preview.conflicts):
            print(
                f"Left alone: {len(preview.conflicts):,} cells changed in HubSpot since the run.",
                file=out,
            )
        for message in preview.messages:
            print(message, file=out)
        if not len(planned):
            print("Nothing to undo.", file=out)
            return EXIT_OK
        if args.dry_run:
            print("Dry run: nothing written.", file=out)
            return EXIT_OK
        answer = _confirm(args, f"Put back {len(planned):,} cells in portal {info.portal_id}?")
        if answer is None:
            return _refuse_without_tty()
        if not answer:
            print("Nothing written.", file=out)
            return EXIT_OK
        result = undo(journal, client, progress=_progress(args), journal_dir=args.journal_dir)
    return _report_run(result, None, verb="Undo")


def _resume(args: argparse.Namespace) -> int:
    journal = _journal(args)
    client, source = _connect(args)
    with client:
        print(f"Resume: {journal} ({client.settings.token.masked}, {source})")
        result = resume(journal, client, progress=_progress(args))
    return _report_run(result, None, verb="Resume")


# --- sandbox serve --------------------------------------------------------------------------------


def _contacts(value: str | None) -> ContactsSource:
    if value is None:
        return None
    if value.isdigit():
        return int(value)
    path = Path(value)
    if not path.is_file():
        raise UsageError(f"--contacts wants a number or a CSV file; {value!r} is neither")
    return path


def _samples(args: argparse.Namespace) -> int:
    if args.write:
        path = seed.write_samples()
        print(f"Wrote {seed.SAMPLE_SIZE:,} contacts to {path}.")
        return EXIT_OK
    if seed.sample_contacts().equals(
        seed.generate_contacts(seed.SAMPLE_SIZE, seed=seed.SAMPLE_SEED)
    ):
        print("contacts.csv matches the generator.")
        return EXIT_OK
    print("contacts.csv is out of date: run `hsframe sandbox samples --write`.")
    return EXIT_FAILED


def _serve(args: argparse.Namespace) -> int:
    scopes = [scope.strip() for scope in args.scopes.split(",") if scope.strip()]
    try:
        sandbox = Sandbox(
            _contacts(args.contacts),
            tier=args.tier,
            latency=args.latency,
            window=args.window,
            scopes=scopes,
            token=args.token,
            seed=args.seed,
            port=args.port,
        )
        sandbox.start()  # binding may fail (port in use): report it, not a traceback
    except (ValueError, OSError) as exc:
        raise UsageError(f"cannot start the sandbox: {exc}") from None
    count = len(sandbox.contacts())
    stop = threading.Event()
    with _stop_on_signals(stop), sandbox:
        limits = sandbox.limiter
        print(
            f"hsframe sandbox: {count:,} contacts, {limits.tier.name} tier "
            f"({limits.tier.burst} requests per {limits.window:g} s), "
            f"latency {sandbox.latency:g} s"
        )
        print(f"  URL:    {sandbox.url}")
        print(f"  Token:  {sandbox.token}")
        print(f"  Portal: {sandbox.portal_id}")
        print(f"  Try:    {BASE_URL_ENV}={sandbox.url} {TOKEN_ENV}=<token> hsframe token check")
        print(
            '          curl -H "Authorization: Bearer <token>" '
            f'"{sandbox.url}/crm/v3/objects/contacts?limit=3"'
        )
        print("Press Ctrl+C to stop.", flush=True)
        while not stop.wait(0.2):
            pass
    print(f"hsframe sandbox stopped ({len(sandbox.requests):,} requests served).", flush=True)
    return EXIT_OK


@contextlib.contextmanager
def _stop_on_signals(event: threading.Event) -> Iterator[None]:
    """Set ``event`` on SIGINT or SIGTERM while active, then restore the old handlers."""

    def handle(signum: int, frame: FrameType | None) -> None:
        event.set()

    previous = {signum: signal.signal(signum, handle) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


# --- the demo ------------------------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    return run_demo(
        sys.stdout,
        contacts=_contacts(args.contacts),
        latency=args.latency,
        progress=_progress(args),
    )


if __name__ == "__main__":
    sys.exit(main())
