"""What the review widget decides, without a single widget: check, push, undo, and why not.

Before an edited frame goes to a production CRM, the user needs one place that says what
would change, what is wrong with it, what someone else changed meanwhile, whether this token
may write at all, and that offers Push and then Undo. :class:`ReviewModel` holds that as a
small state machine, and the review widget (:mod:`hsframe.widgets.review`) only renders it::

    idle ──check()──▶ checked ──push()──▶ pushing ──▶ pushed ──undo()──▶ undoing ──▶ undone
                        ▲                    │                             │
                        └──── error ─────────┘               pushed ◀── error

**Checking** computes the change set (:func:`hsframe.diff.changes`) and then runs the push's
own dry run (:func:`hsframe.write.push` with ``dry_run=True, on_invalid="skip"``): the same
validation the real push will apply, and the conflict check (cells changed in HubSpot since
the load). Without a connection, only the local part runs (change set and validation). The
token's scopes are read once, so a read-only token is named before anyone presses Push.

**Push is allowed** only in ``checked``, with something to send, a connection whose token
has the write scope, and no invalid rows unless "skip invalid rows" is on (failures that
belong to no row block even then). :attr:`ReviewModel.blocked` says which of these stops it,
in words, for the widget to show next to the disabled button.

**Progress** comes from the push's per-batch events (:data:`hsframe.send.Event`), which
this model listens to: :attr:`ReviewModel.progress` is ``(done, total)`` contacts.

Errors never escape as tracebacks: every transition catches them and turns them into
:attr:`ReviewModel.message` (hsframe's errors already say what to do next, and never hold
the token). Observers registered with :meth:`ReviewModel.on_change` are told after every
change of state, on the calling thread.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Literal

import pandas as pd

from hsframe import diff, recovery, send, write
from hsframe.client import WRITE_SCOPE, Client, TokenInfo, default_client
from hsframe.errors import HubSpotError
from hsframe.result import PushInterruptedError, PushResult
from hsframe.validate import ValidationReport, validate_frame

__all__ = ["Level", "Phase", "ReviewModel"]

Phase = Literal["idle", "checked", "pushing", "pushed", "undoing", "undone"]
"""Where a review is; see the module docstring for the transitions."""

Level = Literal["info", "ok", "warning", "error"]
"""How the current message should look."""

Pusher = Callable[..., PushResult]
"""Something called like :func:`hsframe.write.push`."""

Undoer = Callable[..., PushResult]
"""Something called like :func:`hsframe.recovery.undo`."""


class ReviewModel:
    """The state of one review: change set, validation, conflicts, push and undo.

    Args:
        frame: The edited frame (from :func:`hsframe.read_contacts`).
        client: The connection; None uses the session's default when one is needed.
        base: The original to compare against (default: the registered baseline).
        skip_invalid: Push the valid rows and leave rows with invalid cells out.
        on_conflict: ``"skip"`` (default) or ``"overwrite"`` cells changed in HubSpot since
            the load.
        journal_dir: Where the journals of the dry run, the push and the undo go (default:
            as for :func:`hsframe.write.push`).
        pusher: Called like :func:`hsframe.write.push` (tests pass a stand-in).
        undoer: Called like :func:`hsframe.recovery.undo`.

    Attributes:
        phase: See :data:`Phase`.
        changes: The change set (:data:`hsframe.diff.CHANGE_COLUMNS`).
        summary: Its counts, or None before a check.
        report: The validation report, or None when there was nothing to validate.
        conflicts: Cells changed in HubSpot since the load (``remote`` holds its value).
        preview: The dry run's result, when it ran.
        token: The token's information, when a connection answered.
        result: The push's result, once pushed.
        undo_result: The undo's result, once undone.
        message: What happened last, in words.
        level: How :attr:`message` should look.
        progress: ``(done, total)`` contacts of the running push or undo.
        checks: How many checks ran (views redraw their tables when it changes).

    Example:
        >>> import hsframe as hs
        >>> with hs.sandbox.Sandbox(contacts=10) as sb:
        ...     client = hs.connect(token=sb.token, base_url=sb.url)
        ...     df = hs.read_contacts(client, properties=["jobtitle"], progress=False)
        ...     df.loc[df.index[:2], "jobtitle"] = "Data steward"
        ...     model = ReviewModel(df, client, journal_dir=".")
        ...     model.check()
        ...     before = model.blocked
        ...     model.push()
        ...     client.close()
        >>> before, model.phase, len(model.result.applied)
        (None, 'pushed', 2)
    """

    def __init__(
        self,
        frame: pd.DataFrame,
        client: Client | None = None,
        *,
        base: pd.DataFrame | None = None,
        skip_invalid: bool = False,
        on_conflict: Literal["skip", "overwrite"] = "skip",
        journal_dir: str | os.PathLike[str] | None = None,
        pusher: Pusher = write.push,
        undoer: Undoer = recovery.undo,
    ) -> None:
        self.frame = frame
        self.base = base
        self.on_conflict: Literal["skip", "overwrite"] = on_conflict
        self.journal_dir = journal_dir
        self._client = client
        self._pusher = pusher
        self._undoer = undoer
        self._skip_invalid = skip_invalid
        self._observers: list[Callable[[ReviewModel], Any]] = []
        self.phase: Phase = "idle"
        self.changes: pd.DataFrame = pd.DataFrame(columns=list(diff.CHANGE_COLUMNS))
        self.summary: diff.ChangeSummary | None = None
        self.report: ValidationReport | None = None
        self.conflicts: pd.DataFrame = pd.DataFrame()
        self.preview: PushResult | None = None
        self.token: TokenInfo | None = None
        self.result: PushResult | None = None
        self.undo_result: PushResult | None = None
        self.message = ""
        self.level: Level = "info"
        self.progress: tuple[int, int] = (0, 0)
        self.checks = 0
        self._connected = False

    def __repr__(self) -> str:
        cells = len(self.changes)
        return f"ReviewModel(phase={self.phase!r}, changed_cells={cells}, blocked={self.blocked!r})"

    # --- observers -----------------------------------------------------------------------

    def on_change(self, callback: Callable[[ReviewModel], Any], remove: bool = False) -> None:
        """Call ``callback(model)`` after every change of state.

        Args:
            callback: The observer.
            remove: Unregister it instead.
        """
        if remove:
            self._observers.remove(callback)
        else:
            self._observers.append(callback)

    def _changed(self) -> None:
        for callback in list(self._observers):
            callback(self)

    def _say(self, message: str, level: Level) -> None:
        self.message, self.level = message, level

    # --- what may happen -----------------------------------------------------------------

    @property
    def skip_invalid(self) -> bool:
        """Whether Push leaves rows with invalid cells out (and so is not blocked by them)."""
        return self._skip_invalid

    @skip_invalid.setter
    def skip_invalid(self, value: bool) -> None:
        self._skip_invalid = bool(value)
        self._changed()

    @property
    def invalid_rows(self) -> frozenset[int]:
        """Positions of the rows with a failing cell."""
        return self.report.invalid_rows if self.report is not None else frozenset()

    @property
    def frame_level_failures(self) -> int:
        """Failures that belong to no row (skipping rows cannot get past them)."""
        if self.report is None:
            return 0
        return int(self.report.failures["row"].isna().sum())

    @property
    def can_write(self) -> bool | None:
        """Whether the token has the write scope; None when no connection answered."""
        return None if self.token is None else self.token.has("write")

    @property
    def blocked(self) -> str | None:
        """Why Push cannot be pressed now, in words; None when it can."""
        if self.phase != "checked":
            return {
                "idle": "Not checked yet.",
                "pushing": "Pushing…",
                "pushed": "Pushed. Review the frame again to push further edits.",
                "undoing": "Undoing…",
                "undone": "Undone. Review the frame again to push further edits.",
            }.get(self.phase, "")
        if self.changes.empty:
            return "Nothing to push: the frame holds no edits."
        if self.token is None and not self._connected:
            return (
                "No connection to HubSpot: check a token with hs.widgets.token_form() "
                "(or hs.connect()), then review again."
            )
        if self.token is None:
            return (
                "HubSpot did not confirm this token's scopes (see the message below): check "
                "the token with hs.widgets.token_form(), then review again."
            )
        if not self.token.has("write"):
            return (
                f"This token cannot write: it lacks {WRITE_SCOPE}. Add it in HubSpot › "
                "Settings › Integrations › Private Apps › (your app) › Scopes, then check "
                "the app's current token with hs.widgets.token_form() and review again."
            )
        if self.frame_level_failures:
            return (
                "Some failures belong to no row (see the failures), so skipping rows cannot "
                "get past them: fix them and review again."
            )
        if self.invalid_rows and not self.skip_invalid:
            n = len(self.invalid_rows)
            return (
                f"{n:,} row{'s' * (n != 1)} with invalid cells: fix them and review again, or "
                "tick 'Skip invalid rows' to push the rest."
            )
        return None

    @property
    def can_push(self) -> bool:
        """Whether Push may be pressed now."""
        return self.blocked is None

    @property
    def can_undo(self) -> bool:
        """Whether Undo may be pressed now: after a push that finished and wrote something.

        A push that stopped half way cannot be undone until it is finished
        (:func:`hsframe.recovery.resume`): some of its writes may have landed unrecorded.
        """
        return (
            self.phase == "pushed"
            and self.result is not None
            and self.result.complete
            and self.result.journal is not None
            and (len(self.result.applied) > 0 or bool(self.result.created))
        )

    # --- transitions ---------------------------------------------------------------------

    def check(self) -> None:
        """Compute the change set, validate it, read the token's scopes and check conflicts.

        Allowed in any phase but ``pushing`` and ``undoing``; it starts the review over.
        """
        if self.phase in ("pushing", "undoing"):
            return
        self._reset()
        self.checks += 1
        try:
            self.changes = diff.changes(self.frame, self.base)
            self.summary = diff.summary(self.changes)
        except HubSpotError as error:  # FrameError, CodecError: the frame itself is the problem
            self._say(str(error), "error")
            self._changed()
            return
        except Exception as error:
            self._say(_unexpected("Computing the changes", error), "error")
            self._changed()
            return
        self.phase = "checked"
        if self.changes.empty:
            self._say("No edits: nothing to push.", "info")
            self._changed()
            return
        client = self._connection()
        self._connected = client is not None
        notes: list[str] = []
        if client is not None:
            notes = self._remote_check(client)
        if self.report is None:
            notes.extend(self._validate_locally())
        self._say(" ".join(notes), "warning")
        self._changed()

    def push(self) -> None:
        """Push the edits (valid rows only with :attr:`skip_invalid`), with progress.

        Does nothing while :attr:`blocked` gives a reason.
        """
        if not self.can_push:
            return
        client = self._connection()
        if client is None:  # the default client went away since the check
            self._changed()
            return
        self.phase = "pushing"
        self.progress = (0, 0)
        self._say("Pushing…", "info")
        self._changed()
        try:
            result = self._pusher(
                self.frame,
                client,
                base=self.base,
                on_invalid="skip" if self.skip_invalid else "raise",
                on_conflict=self.on_conflict,
                progress=False,
                journal_dir=self.journal_dir,
                listeners=[self._on_event],
            )
        except PushInterruptedError as error:  # part was written: resume, then undo
            self.result = error.result
            self.phase = "pushed"
            self._say(str(error), "error")
        except HubSpotError as error:
            self.phase = "checked"
            self._say(str(error), "error")
        except Exception as error:
            self.phase = "checked"
            self._say(_unexpected("The push", error), "error")
        else:
            self.result = result
            self.phase = "pushed"
            self._say(_after(result, "Pushed", "Undo takes it back."), _level(result))
        self._changed()

    def undo(self) -> None:
        """Take the push back (:func:`hsframe.recovery.undo`): old values are written where
        HubSpot still holds what the push wrote."""
        if not self.can_undo:
            return
        assert self.result is not None
        client = self._connection()
        if client is None:
            self._changed()
            return
        self.phase = "undoing"
        self.progress = (0, 0)
        self._say("Undoing…", "info")
        self._changed()
        try:
            undone = self._undoer(
                self.result,
                client,
                progress=False,
                journal_dir=self.journal_dir,
                listeners=[self._on_event],
            )
        except HubSpotError as error:
            self.phase = "pushed"
            self._say(str(error), "error")
        except Exception as error:
            self.phase = "pushed"
            self._say(_unexpected("The undo", error), "error")
        else:
            self.undo_result = undone
            self.phase = "undone"
            self._say(_after(undone, "Undone", ""), _level(undone))
        self._changed()

    # --- steps ---------------------------------------------------------------------------

    def _reset(self) -> None:
        self.phase = "idle"
        self.changes = pd.DataFrame(columns=list(diff.CHANGE_COLUMNS))
        self.summary = None
        self.report = None
        self.conflicts = pd.DataFrame()
        self.preview = None
        self.token = None
        self.result = None
        self.undo_result = None
        self.progress = (0, 0)
        self._connected = False
        self._say("", "info")

    def _connection(self) -> Client | None:
        if self._client is not None:
            return self._client
        try:
            return default_client()
        except HubSpotError:
            return None

    def _remote_check(self, client: Client) -> list[str]:
        """Scopes, then the push's dry run (validation and conflicts); notes for the user."""
        try:
            self.token = client.token_info()
        except HubSpotError as error:
            return [f"Could not read the token's scopes: {error}"]
        try:
            preview = self._pusher(
                self.frame,
                client,
                base=self.base,
                dry_run=True,
                on_invalid="skip",
                on_conflict=self.on_conflict,
                progress=False,
                journal_dir=self.journal_dir,
            )
        except write.InvalidEditsError as error:  # failures no row can be skipped past
            self.report = error.report
            return []
        except HubSpotError as error:
            return [f"The conflict check could not run: {error}"]
        except Exception as error:
            return [_unexpected("The conflict check", error)]
        self.preview = preview
        self.report = preview.report
        self.conflicts = preview.conflicts
        return []

    def _validate_locally(self) -> list[str]:
        """Validation without HubSpot (no connection, or the dry run failed); notes."""
        try:
            self.report = validate_frame(self.frame, base=self.base)
        except HubSpotError as error:
            return [f"Validation could not run: {error}"]
        except Exception as error:
            return [_unexpected("Validation", error)]
        return []

    def _on_event(self, event: send.Event) -> None:
        done, total = self.progress
        if isinstance(event, send.Started):
            total = sum(len(b.inputs) for b in event.plan.batches if b.phase == 1)
            self.progress = (0, total)
        elif isinstance(event, send.Sent):
            outcome = event.outcome
            if outcome.attempt == 1 and not outcome.settled:
                self.progress = (min(total, done + len(outcome.inputs)), total)
        elif isinstance(event, send.Finished):
            self.progress = (total, total)
        else:
            return
        self._changed()


def _after(result: PushResult, done: str, next_step: str) -> str:
    """The message after a push or an undo: the result itself is shown in full beside it."""
    if result.ok:
        return f"{done}. {next_step}".strip()
    problems = []
    if len(result.failed):
        problems.append(f"{len(result.failed):,} failed")
    if n := len(result.conflicts):
        problems.append(f"{n:,} conflict{'s' * (n != 1)} left alone")
    return f"{done}, with {' and '.join(problems)}: see below. {next_step}".strip()


def _level(result: PushResult) -> Level:
    return "ok" if result.ok else "warning"


def _unexpected(what: str, error: Exception) -> str:
    return f"{what} failed unexpectedly: {type(error).__name__}: {error}"
