"""The ``hsframe`` command: run the sandbox, and show hsframe at work.

Two commands for now:

* ``hsframe sandbox serve`` runs the local HubSpot emulator over HTTP until interrupted,
  printing its URL and token, so that notebooks, scripts, the official SDK or ``curl`` can
  use it as they would use ``https://api.hubapi.com``;
* ``hsframe demo`` starts a sandbox with the sample contacts and walks through a real HTTP
  round trip with plain ``requests`` (token info, a list page, a search, a write and its
  read-back), printing what each step sent and got.

``main`` takes ``argv`` and returns the exit status, so tests can call it in-process.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import TextIO

import requests

from hsframe.sandbox import TIERS, Sandbox
from hsframe.sandbox.facade import ContactsSource

DEMO_PROPERTIES = ("email", "firstname", "lastname", "lifecyclestage", "jobtitle")
DEMO_TITLE = "Head of Data Quality"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``hsframe`` command.

    Args:
        argv: The arguments after the program name; ``sys.argv[1:]`` when None.

    Returns:
        The exit status: 0 on success.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    command: Callable[[argparse.Namespace], int] | None = getattr(args, "run", None)
    if command is None:
        parser.print_help()
        return 2
    return command(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hsframe",
        description="HubSpot CRM contacts in pandas, written back safely.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    sandbox = commands.add_parser("sandbox", help="the local HubSpot emulator")
    sandbox_commands = sandbox.add_subparsers(title="sandbox commands", metavar="COMMAND")
    sandbox.set_defaults(run=lambda _args: _help(sandbox))

    serve = sandbox_commands.add_parser(
        "serve",
        help="serve the sandbox over HTTP on 127.0.0.1 until interrupted",
        description=(
            "Serve a local emulator of HubSpot's CRM contacts API on 127.0.0.1 and print "
            "its URL and token. Stop it with Ctrl+C."
        ),
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
        default="crm.objects.contacts.read,crm.objects.contacts.write",
        help="comma-separated scopes of the default app",
    )
    serve.add_argument("--seed", type=int, default=0, help="seed for generated contacts (0)")
    serve.set_defaults(run=_serve)

    demo = commands.add_parser(
        "demo", help="a round trip with the sandbox over real HTTP, explained"
    )
    demo.set_defaults(run=lambda _args: run_demo(sys.stdout))
    return parser


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _contacts(value: str | None) -> ContactsSource:
    if value is None:
        return None
    if value.isdigit():
        return int(value)
    path = Path(value)
    if not path.is_file():
        raise SystemExit(f"hsframe: --contacts wants a number or a CSV file; {value!r} is neither")
    return path


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
        raise SystemExit(f"hsframe: cannot start the sandbox: {exc}") from None
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
        print(
            '  Try:    curl -H "Authorization: Bearer <token>" '
            f'"{sandbox.url}/crm/v3/objects/contacts?limit=3"'
        )
        print("Press Ctrl+C to stop.", flush=True)
        while not stop.wait(0.2):
            pass
    print(f"hsframe sandbox stopped ({len(sandbox.requests):,} requests served).", flush=True)
    return 0


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


def run_demo(out: TextIO) -> int:
    """Start a sandbox with the sample contacts and show one round trip over real HTTP.

    Args:
        out: Where to write the report.

    Returns:
        0 when every step answered as expected and the write read back, 1 otherwise.
    """

    def say(text: str = "") -> None:
        print(text, file=out, flush=True)

    with Sandbox() as sb, requests.Session() as http:
        headers = {"Authorization": f"Bearer {sb.token}"}
        say("hsframe demo: a round trip with the local HubSpot sandbox, over real HTTP")
        say(f"  sandbox {sb.url} with {len(sb.contacts()):,} sample contacts")
        say(f"  token   {_masked(sb.token)} (a private-app token, shown masked)")
        say()

        say("1. Who am I?  POST /oauth/v2/private-apps/get/access-token-info")
        info = http.post(
            f"{sb.url}/oauth/v2/private-apps/get/access-token-info",
            json={"tokenKey": sb.token},
        )
        _expect(info, 200)
        token_info = info.json()
        say(f"   -> {info.status_code}: portal {token_info['hubId']}, app {token_info['appId']}")
        say(f"      scopes: {', '.join(token_info['scopes'])}")
        say()

        say("2. A list page.  GET /crm/v3/objects/contacts?limit=5&properties=...")
        page = http.get(
            f"{sb.url}/crm/v3/objects/contacts",
            params={"limit": "5", "properties": ",".join(DEMO_PROPERTIES)},
            headers=headers,
        )
        _expect(page, 200)
        listed = page.json()
        say(f"   -> {page.status_code}: {len(listed['results'])} contacts")
        for contact in listed["results"]:
            values = contact["properties"]
            name = f"{values.get('firstname') or ''} {values.get('lastname') or ''}".strip()
            stage = values.get("lifecyclestage") or "-"
            say(f"      {contact['id']:>6}  {name:<26} {values.get('email') or '-':<42} {stage}")
        more = "yes" if "paging" in listed else "no"
        say(f"      more pages: {more} (the cursor in paging.next.after is opaque)")
        say(
            "      rate limit: "
            f"{page.headers['X-HubSpot-RateLimit-Remaining']} of "
            f"{page.headers['X-HubSpot-RateLimit-Max']} left in the "
            f"{int(page.headers['X-HubSpot-RateLimit-Interval-Milliseconds']) // 1000} s window, "
            f"{int(page.headers['X-HubSpot-RateLimit-Daily-Remaining']):,} left today"
        )
        say()

        say("3. A search.  POST /crm/v3/objects/contacts/search  (lifecyclestage = customer)")
        search = http.post(
            f"{sb.url}/crm/v3/objects/contacts/search",
            json={
                "filterGroups": [
                    {
                        "filters": [
                            {
                                "propertyName": "lifecyclestage",
                                "operator": "EQ",
                                "value": "customer",
                            }
                        ]
                    }
                ],
                "properties": list(DEMO_PROPERTIES),
                "limit": 3,
            },
            headers=headers,
        )
        _expect(search, 200)
        found = search.json()
        shown = len(found["results"])
        say(f"   -> {search.status_code}: {found['total']:,} customers; the first {shown}:")
        for contact in found["results"]:
            say(f"      {contact['id']:>6}  {contact['properties'].get('email') or '-'}")
        has_headers = any(h.lower().startswith("x-hubspot-ratelimit") for h in search.headers)
        say(
            f"      rate-limit headers on search: {'yes' if has_headers else 'none, as on HubSpot'}"
        )
        say()

        target = listed["results"][0]["id"]
        before = listed["results"][0]["properties"].get("jobtitle")
        say(f"4. A write.  PATCH /crm/v3/objects/contacts/{target}  jobtitle -> {DEMO_TITLE!r}")
        patch = http.patch(
            f"{sb.url}/crm/v3/objects/contacts/{target}",
            json={"properties": {"jobtitle": DEMO_TITLE}},
            headers=headers,
        )
        _expect(patch, 200)
        say(f"   -> {patch.status_code}: jobtitle was {before!r}")
        say()

        say(f"5. Read it back.  GET /crm/v3/objects/contacts/{target}?properties=jobtitle")
        back = http.get(
            f"{sb.url}/crm/v3/objects/contacts/{target}",
            params={"properties": "jobtitle"},
            headers=headers,
        )
        _expect(back, 200)
        now = back.json()["properties"].get("jobtitle")
        matches = now == DEMO_TITLE
        verdict = "matches" if matches else "MISMATCH"
        say(f"   -> {back.status_code}: jobtitle is {now!r} ({verdict})")
        say()

        log = sb.requests
        statuses = ", ".join(str(record.status) for record in log)
        say(f"Round trip complete: {len(log)} requests over HTTP, statuses {statuses}.")
    return 0 if matches else 1


def _expect(response: requests.Response, status: int) -> None:
    if response.status_code != status:
        raise SystemExit(
            f"hsframe demo: {response.request.method} {response.url} answered "
            f"{response.status_code}, expected {status}: {response.text[:300]}"
        )


def _masked(token: str) -> str:
    return f"{token[:8]}...{token[-4:]}"


if __name__ == "__main__":
    sys.exit(main())
