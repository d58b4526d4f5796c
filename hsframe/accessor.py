"""``df.hs``: the notebook's way into hsframe, a thin facade over plain functions.

Analysts live in pandas, so the edit-review-push loop hangs off the frame they are
editing: ``df.hs.changes()``, ``df.hs.validate()``, ``df.hs.push()``, ``df.hs.add(rows)``.
Each method is one line that calls a plain function (in :mod:`hsframe.diff`,
:mod:`hsframe.write`, :func:`hsframe.validate.validate_frame`, the widgets), which
scripts and tests can call directly; nothing is decided here.

**Stateless.** pandas 3 builds a new accessor object on every ``df.hs`` access, so the
accessor keeps nothing but the frame it was handed. What a frame needs is found from the
frame itself: its ``attrs["hsframe"]`` (a small plain dict holding the load id) leads to the
baseline and the schema (:func:`hsframe.diff.origin`), or an explicit ``base=`` overrides
them.

**Frames that did not come from hsframe.** The pandas convention (geopandas does it) is to
check the frame in ``__init__`` and raise ``AttributeError``. That would hide ``df.hs``
from exactly the frames that need it most: one that lost its ``attrs`` in a ``pd.concat``
can still be compared with ``df.hs.changes(base=original)``. So ``df.hs`` exists on every
DataFrame, and each method raises :class:`hsframe.diff.FrameError` (a ``ValueError``) that
says what is wrong and what to do: load with ``read_contacts``, append with
``df.hs.add``, pass ``base=``, or ``df.set_index("id")``.

"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from os import PathLike
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from hsframe import diff
from hsframe.result import PushResult
from hsframe.schema import Schema
from hsframe.validate import ValidationReport, validate_frame
from hsframe.write import push

if TYPE_CHECKING:
    from great_expectations import ExpectationSuite
    from great_expectations.expectations.expectation import Expectation

    from hsframe.client import Client
    from hsframe.widgets import Review

__all__ = ["HubSpotAccessor"]


@pd.api.extensions.register_dataframe_accessor("hs")
class HubSpotAccessor:
    """``df.hs``: see what an edited frame would change in HubSpot, check it, push it.

    Registered on ``import hsframe``. Available on every DataFrame; its methods work on
    frames from :func:`hsframe.load.read_contacts` and on what pandas makes of them
    (``.loc`` edits, boolean subsets, ``.copy()``, new columns, rows appended with
    :meth:`add`), and raise :class:`hsframe.diff.FrameError` on others, saying why (see
    the module docstring).

    Example:
        >>> import hsframe as hs
        >>> with hs.sandbox.Sandbox(contacts=10) as sb:
        ...     client = hs.connect(token=sb.token, base_url=sb.url)
        ...     df = hs.read_contacts(client, properties=["email", "firstname"],
        ...                           progress=False)
        ...     client.close()
        >>> df.loc[df.index[0], "firstname"] = "Ann"
        >>> df.hs.changes()[["property", "new", "kind"]].values.tolist()
        [['firstname', 'Ann', 'update']]
        >>> pd.DataFrame({"x": [1]}).hs.changes()
        Traceback (most recent call last):
        ...
        hsframe.diff.FrameError: This frame carries no hsframe metadata ...
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame

    def changes(self, base: pd.DataFrame | None = None) -> pd.DataFrame:
        """The change set: one row per changed cell (``id, row, property, old, new,
        kind``), in wire form. See :func:`hsframe.diff.changes`.

        Args:
            base: The original to compare against (default: the registered baseline).

        Example:
            >>> import hsframe as hs
            >>> with hs.sandbox.Sandbox(contacts=10) as sb:
            ...     client = hs.connect(token=sb.token, base_url=sb.url)
            ...     df = hs.read_contacts(client, properties=["email"], progress=False)
            ...     client.close()
            >>> df.hs.changes().empty
            True
        """
        return diff.changes(self._frame, base)

    def validate(
        self,
        suite: ExpectationSuite | None = None,
        *,
        expectations: Iterable[Expectation] | None = None,
        rows: Literal["changed", "all"] = "changed",
        base: pd.DataFrame | None = None,
    ) -> ValidationReport:
        """Validate the edits against the portal's schema and your expectations. See
        :func:`validate_frame`.

        Args:
            suite: Your own Great Expectations suite, added to the schema suite.
            expectations: More GE expectations to add.
            rows: ``"changed"`` (the push gate) or ``"all"`` (every cell).
            base: The original to compare against (default: the registered baseline).

        Example:
            >>> import hsframe as hs
            >>> with hs.sandbox.Sandbox(contacts=10) as sb:
            ...     client = hs.connect(token=sb.token, base_url=sb.url)
            ...     df = hs.read_contacts(client, properties=["email"], progress=False)
            ...     client.close()
            >>> df.hs.validate().ok
            True
        """
        return validate_frame(self._frame, suite, expectations=expectations, rows=rows, base=base)

    def push(
        self,
        client: Client | None = None,
        *,
        base: pd.DataFrame | None = None,
        dry_run: bool = False,
        on_invalid: Literal["raise", "skip"] = "raise",
        on_conflict: Literal["skip", "overwrite"] = "skip",
        progress: bool = True,
        journal_dir: str | PathLike[str] | None = None,
    ) -> PushResult:
        """Write the changed cells (and new contacts) to HubSpot: validated, checked for
        conflicts, batched and journaled. See :func:`hsframe.write.push`.

        Args:
            client: The connection; None uses the session's default.
            base: The original to compare against (default: the registered baseline).
            dry_run: Plan and validate, send nothing.
            on_invalid: ``"raise"`` (list the invalid cells, send nothing) or ``"skip"``
                (send the valid rows only).
            on_conflict: ``"skip"`` cells changed in HubSpot since the load, or
                ``"overwrite"`` them.
            progress: Show a progress bar.
            journal_dir: Where the push's journal goes (default: ``HSFRAME_JOURNAL_DIR``,
                else ``~/.hsframe/journal``).

        Example:
            >>> import hsframe as hs
            >>> with hs.sandbox.Sandbox(contacts=10) as sb:
            ...     client = hs.connect(token=sb.token, base_url=sb.url)
            ...     df = hs.read_contacts(client, properties=["firstname"], progress=False)
            ...     df.loc[df.index[0], "firstname"] = "Ann"
            ...     result = df.hs.push(client, progress=False, journal_dir=".")
            ...     again = df.hs.push(client, progress=False, journal_dir=".")
            ...     client.close()
            >>> len(result.applied), again.requests
            (1, 0)
        """
        return push(
            self._frame,
            client,
            base=base,
            dry_run=dry_run,
            on_invalid=on_invalid,
            on_conflict=on_conflict,
            progress=progress,
            journal_dir=journal_dir,
        )

    def review(self, client: Client | None = None, **options: Any) -> Review:
        """A widget to review the edits and push them: the diff, the validation failures,
        the conflicts, a Push button, a progress bar and an Undo button. See
        :func:`hsframe.widgets.review` for the options.

        Args:
            client: The connection; None uses the session's default.
            **options: ``base``, ``on_conflict``, ``journal_dir``, ``max_rows``.
        """
        from hsframe.widgets import review  # ipywidgets only when a widget is asked for

        return review(self._frame, client, **options)

    def add(
        self, rows: Mapping[str, Any] | Iterable[Mapping[str, Any]] | pd.DataFrame
    ) -> pd.DataFrame:
        """A new frame with new contacts appended (``NA`` ids, same dtypes, metadata kept).
        See :func:`hsframe.diff.add`.

        Args:
            rows: One contact as a dict, several as dicts, or a DataFrame.

        Example:
            >>> import hsframe as hs
            >>> with hs.sandbox.Sandbox(contacts=10) as sb:
            ...     client = hs.connect(token=sb.token, base_url=sb.url)
            ...     df = hs.read_contacts(client, properties=["email"], progress=False)
            ...     client.close()
            >>> df = df.hs.add({"email": "new@example.com"})
            >>> df.hs.changes()[["id", "new", "kind"]].values.tolist()
            [[<NA>, 'new@example.com', 'create']]
        """
        return diff.add(self._frame, rows)

    @property
    def schema(self) -> Schema:
        """The codec of the frame's load (dtypes, options, read-only flags).

        Example:
            >>> import hsframe as hs
            >>> with hs.sandbox.Sandbox(contacts=10) as sb:
            ...     client = hs.connect(token=sb.token, base_url=sb.url)
            ...     df = hs.read_contacts(client, properties=["email"], progress=False)
            ...     client.close()
            >>> df.hs.schema.is_read_only("createdate")
            True
        """
        return diff.origin(self._frame).schema

    @property
    def meta(self) -> dict[str, Any]:
        """A copy of the frame's hsframe metadata (``df.attrs["hsframe"]``).

        Example:
            >>> import hsframe as hs
            >>> with hs.sandbox.Sandbox(contacts=10) as sb:
            ...     client = hs.connect(token=sb.token, base_url=sb.url)
            ...     df = hs.read_contacts(client, properties=["email"], progress=False)
            ...     client.close()
            >>> df.hs.meta["object_type"]
            'contacts'
        """
        return diff.metadata(self._frame)
