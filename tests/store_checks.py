"""What tests read back from the sandbox after a write: the CRM requests it answered, and
the cells that changed. Shared by the push and corrections tests, which judge a run by the
store it leaves, not by what the client says it did."""

from __future__ import annotations

from typing import Any

import pandas as pd

from hsframe.sandbox import Sandbox


def crm_requests(sb: Sandbox) -> list[Any]:
    """The CRM requests in the sandbox's log (contacts endpoints only)."""
    return [r for r in sb.requests if r.path.startswith("/crm/v3/objects")]


def changed_cells(before: pd.DataFrame, after: pd.DataFrame) -> set[tuple[int, str]]:
    """Cells whose wire value differs (lastmodifieddate, which every write moves, aside)."""
    common = before.columns.intersection(after.columns).drop("lastmodifieddate")
    old = before.loc[before.index.intersection(after.index), common].astype(object)
    new = after.loc[old.index, common].astype(object)
    differ = ~((old == new) | (old.isna() & new.isna()))
    stacked = differ.stack()
    return {(int(i), str(p)) for (i, p), v in stacked.items() if v}
