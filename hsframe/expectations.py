"""The public face of hsframe's validation: the schema suite, the report, the wire formats.

Notebook users reach for ``hsframe.expectations`` when they want to see or extend the rules
their edits are judged by (``df.hs.validate()`` runs them for them). Everything here lives in
:mod:`hsframe.rules` (the rules) and :mod:`hsframe.validate` (the suite, the report); this
module only names the few things a user types, so that the validation machinery can change
without moving them.

Importing it is cheap: Great Expectations is imported the first time a suite is built or a
frame validated, never at import time.

Example:
    >>> from hsframe.expectations import WIRE_PATTERNS
    >>> import re
    >>> bool(re.match(WIRE_PATTERNS["number"], "5,333,222"))
    False
"""

from __future__ import annotations

from hsframe.rules import WIRE_PATTERNS
from hsframe.validate import FAILURE_COLUMNS, ValidationReport, suite_from_schema, validate

__all__ = ["FAILURE_COLUMNS", "WIRE_PATTERNS", "ValidationReport", "suite_from_schema", "validate"]
