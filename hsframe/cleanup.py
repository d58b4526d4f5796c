"""Cleanup recipes: the fixes almost every contact portal needs, as plain functions on a frame.

A cleanup session (notebook 02, ``hsframe demo``) starts with the same chores every time:
emails with stray spaces and capitals, names typed in ALL CAPS, phone numbers in a dozen
formats, enumeration values that are no longer options. Each is a few lines of pandas, but
lines that are easy to get subtly wrong (``str.title()`` turns ``O'BRIEN`` into
``O'Brien`` but ``DE LA CRUZ`` into ``De La Cruz``; a phone number without a country cannot
be made international). So they live here once, tested, and the demo and the notebooks use
the same code.

Every function takes a frame from :func:`hsframe.read_contacts` (or what pandas made of
one) and returns a **new** frame with the fixes applied; the input is not touched, and the
result keeps the frame's hsframe metadata, so ``df.hs.changes()`` shows exactly what the
recipe did and ``df.hs.push()`` writes it. Cells that need no fix are left as they are, so
they never show up in the change set. Nothing here guesses where a person is needed: an
email that is still invalid after trimming, a phone number whose country cannot be told,
a stale value with no obvious option are left for validation to flag or for you to decide.

==========================  ===============================================================
recipe                      what it does
==========================  ===============================================================
:func:`normalise_emails`    strip whitespace (also non-breaking spaces and tabs), lower-case
:func:`tidy_names`          collapse whitespace; title-case names typed ALL CAPS or all
                            lower case (``O'Brien``, ``McCarthy``, ``de la Cruz``)
:func:`format_phones`       E.164 (``+14155550123``, `` ext. 12`` kept) where the country is
                            known: from ``+``/``00``, or from the contact's ``country``
:func:`stale_values`        the enumeration values that are no longer options, with counts
                            and the option each one obviously means, if any
:func:`map_stale_options`   replace stale values: your mapping first, then the obvious
                            matches (``Lead`` → ``lead``, ``Retail`` → ``RETAIL``)
==========================  ===============================================================

It sits after :mod:`hsframe.diff` in the data flow: it reads the frame's schema through
:func:`hsframe.diff.origin` (option values and labels, which properties are phone numbers)
and imports nothing downstream.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from hsframe import diff
from hsframe.schema import Schema

__all__ = [
    "format_phones",
    "map_stale_options",
    "normalise_emails",
    "stale_values",
    "tidy_names",
]

StaleMapping = Mapping[str, Mapping[str, str | None]]
"""``{property: {stale value: option value, or None to clear it}}``."""


# --- shared -------------------------------------------------------------------------------------


def _schema(frame: pd.DataFrame) -> Schema:
    return diff.origin(frame).schema


def _columns(
    frame: pd.DataFrame, columns: str | Sequence[str] | None, default: Sequence[str]
) -> list[str]:
    """The columns to work on: the ones named (each must exist), else the defaults present."""
    if columns is None:
        return [c for c in default if c in frame.columns]
    names = [columns] if isinstance(columns, str) else list(columns)
    missing = [c for c in names if c not in frame.columns]
    if missing:
        raise KeyError(f"the frame has no column(s) {missing}; it has {list(frame.columns)[:20]}")
    return names


def _map_text(
    frame: pd.DataFrame, columns: Iterable[str], fix: Callable[[str], str | None]
) -> pd.DataFrame:
    """A copy of ``frame`` with ``fix`` applied to each distinct text value of ``columns``;
    only cells whose value changes are assigned, so untouched cells stay out of the diff."""
    out = frame.copy(deep=False)
    for name in columns:
        column = frame[name]
        present = column.notna().to_numpy(dtype=bool)
        if not present.any():
            continue
        values = column[present].astype(object)
        fixed = {value: fix(value) for value in pd.unique(values) if isinstance(value, str)}
        changed = {value: new for value, new in fixed.items() if new != value}
        if not changed:
            continue
        hit = values.isin(list(changed)).to_numpy(dtype=bool)
        rows = column.index[present][hit]
        new_values = values[hit].map(changed)
        updated = column.copy()
        if isinstance(updated.dtype, pd.CategoricalDtype):
            extra = [v for v in pd.unique(new_values.dropna()) if v not in updated.cat.categories]
            if extra:
                updated = updated.cat.add_categories(extra)
        updated.loc[rows] = new_values.to_numpy(dtype=object)
        out[name] = updated
    return out


# --- emails -------------------------------------------------------------------------------------


def normalise_emails(
    frame: pd.DataFrame, columns: str | Sequence[str] | None = None
) -> pd.DataFrame:
    """Strip surrounding whitespace (spaces, non-breaking spaces, tabs) and lower-case emails.

    HubSpot matches emails case-insensitively, so ``Ann.Lee@Contoso.Example`` and
    ``ann.lee@contoso.example`` are the same contact; the lower-case form is the tidy one.
    An email that is malformed inside (``ann lee@example.com``, ``ann@contoso``) stays
    malformed: validation flags it and a person fixes it.

    Args:
        frame: A frame from :func:`hsframe.read_contacts`.
        columns: The email columns (default: ``email``, if loaded).

    Returns:
        A new frame; the input is not changed.

    Example:
        >>> import hsframe as hs
        >>> from hsframe.cleanup import normalise_emails
        >>> with hs.sandbox.Sandbox(contacts=30) as sb:
        ...     client = hs.connect(token=sb.token, base_url=sb.url)
        ...     df = hs.read_contacts(client, properties=["email"], progress=False)
        ...     client.close()
        >>> df.loc[df.index[0], "email"] = "  Ann.Lee@Contoso.Example\\u00a0"
        >>> normalise_emails(df).loc[df.index[0], "email"]
        'ann.lee@contoso.example'
    """

    def fix(value: str) -> str | None:
        return value.strip().lower() or None

    return _map_text(frame, _columns(frame, columns, ("email",)), fix)


# --- names --------------------------------------------------------------------------------------

# Lower-case surname particles, left lower-case before the last word (``de la Cruz``,
# ``van der Berg``); a name that is only a particle (the first name ``Van``) is capitalised.
_PARTICLES = frozenset(
    {"da", "das", "de", "del", "della", "der", "des", "di", "do", "dos", "du", "la", "le"}
    | {"lo", "ten", "ter", "van", "von", "vom", "zu", "y"}
)
_WORD_BREAKS = re.compile(r"([\s\-'’.]+)")


def _capitalise(word: str) -> str:
    lower = word.lower()
    if len(lower) > 2 and lower.startswith("mc"):
        return "Mc" + lower[2].upper() + lower[3:]
    return lower[:1].upper() + lower[1:]


def _tidy_name(value: str) -> str | None:
    text = " ".join(value.split())
    if not text:
        return None
    cased = text.upper() != text.lower()
    if not cased or (text != text.upper() and text != text.lower()):
        return text  # no letters with case (王芳), or already mixed case: as typed
    parts = _WORD_BREAKS.split(text)
    words = [i for i in range(0, len(parts), 2) if parts[i]]
    last = words[-1] if words else -1
    for i in words:
        lower = parts[i].lower()
        follows_space = i == 0 or parts[i - 1].isspace()
        if lower in _PARTICLES and i != last and follows_space and len(words) > 1:
            parts[i] = lower
        else:
            parts[i] = _capitalise(parts[i])
    return "".join(parts)


def tidy_names(frame: pd.DataFrame, columns: str | Sequence[str] | None = None) -> pd.DataFrame:
    """Collapse stray whitespace in names, and title-case names typed ALL CAPS or all lower.

    Names already in mixed case are left as typed (``McDonald``, ``van Dijk``, ``DeShawn``
    are someone's choice). Title-casing knows apostrophes and hyphens (``O'Brien``,
    ``Müller-Lüdenscheidt``), ``Mc`` (``McCarthy``) and lower-case particles before the last
    word (``de la Cruz``, ``van der Berg``). Scripts without case (王芳) are left alone.

    Args:
        frame: A frame from :func:`hsframe.read_contacts`.
        columns: The name columns (default: ``firstname`` and ``lastname``, if loaded).

    Returns:
        A new frame; the input is not changed.

    Example:
        >>> import hsframe as hs
        >>> from hsframe.cleanup import tidy_names
        >>> with hs.sandbox.Sandbox(contacts=30) as sb:
        ...     client = hs.connect(token=sb.token, base_url=sb.url)
        ...     df = hs.read_contacts(client, properties=["lastname"], progress=False)
        ...     client.close()
        >>> df.loc[df.index[:4], "lastname"] = ["O'BRIEN", "de la cruz", " mccarthy ", "van Dijk"]
        >>> tidy_names(df)["lastname"].head(4).tolist()
        ["O'Brien", 'de la Cruz', 'McCarthy', 'van Dijk']
    """
    return _map_text(frame, _columns(frame, columns, ("firstname", "lastname")), _tidy_name)


# --- phone numbers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """A country's numbering plan, as much as reformatting needs.

    Attributes:
        code: The country calling code.
        trunk: The national prefix dropped after the code (``0`` in most of Europe).
        lengths: Digits a national significant number can have (after the trunk prefix).
        first: Digits such a number can start with.
    """

    code: str
    trunk: str
    lengths: frozenset[int]
    first: str = "123456789"


def _plan(code: str, trunk: str, lengths: Iterable[int], first: str = "123456789") -> _Plan:
    return _Plan(code, trunk, frozenset(lengths), first)


# Country names as people type them → the plan. Keys are compared case-folded, without
# dots and with single spaces ("U.S." → "us").
_NANP = _plan("1", "1", (10,), "23456789")
_PLANS: Mapping[str, _Plan] = {
    **dict.fromkeys(("united states", "united states of america", "usa", "us", "america"), _NANP),
    **dict.fromkeys(("canada", "ca"), _NANP),
    **dict.fromkeys(
        ("united kingdom", "uk", "gb", "great britain", "britain", "england", "scotland", "wales"),
        _plan("44", "0", (9, 10)),
    ),
    **dict.fromkeys(("germany", "deutschland", "de"), _plan("49", "0", range(6, 12))),
    **dict.fromkeys(("france", "fr", "république française"), _plan("33", "0", (9,))),
    **dict.fromkeys(("australia", "au", "aus"), _plan("61", "0", (9,))),
    **dict.fromkeys(("spain", "españa", "espana", "es"), _plan("34", "", (9,), "6789")),
    **dict.fromkeys(
        ("ireland", "republic of ireland", "éire", "eire", "ie"), _plan("353", "0", (7, 8, 9))
    ),
    **dict.fromkeys(("netherlands", "the netherlands", "holland", "nl"), _plan("31", "0", (9,))),
    **dict.fromkeys(("poland", "polska", "pl"), _plan("48", "", (9,))),
    **dict.fromkeys(("sweden", "sverige", "se"), _plan("46", "0", (7, 8, 9))),
    **dict.fromkeys(("italy", "italia", "it"), _plan("39", "", range(6, 12), "0123")),
    **dict.fromkeys(("india", "bharat", "in"), _plan("91", "0", (10,))),
    **dict.fromkeys(("china", "prc", "中国", "cn"), _plan("86", "0", (10, 11))),
    **dict.fromkeys(("vietnam", "viet nam", "vn"), _plan("84", "0", (9, 10))),
    **dict.fromkeys(("japan", "日本", "jp"), _plan("81", "0", (9, 10))),
    **dict.fromkeys(("south korea", "korea", "kr"), _plan("82", "0", (8, 9, 10))),
    **dict.fromkeys(("united arab emirates", "uae", "ae"), _plan("971", "0", (8, 9))),
    **dict.fromkeys(("brazil", "brasil", "br"), _plan("55", "0", (10, 11))),
    **dict.fromkeys(("mexico", "méxico", "mx"), _plan("52", "", (10,))),
    **dict.fromkeys(("greece", "hellas", "gr"), _plan("30", "", (10,))),
}
# Calling codes (longest first) for numbers that carry their own (+44..., 0044...).
_CODES = sorted({p.code for p in _PLANS.values()}, key=len, reverse=True)
_BY_CODE = {p.code: p for p in _PLANS.values()}
_EXTENSION = re.compile(r"\s*(?:ext\.?|extension|x|#)\s*(\d{1,6})\s*\Z", re.I)
_PUNCTUATION = re.compile(r"[\s().\-/\u00a0]+")
_MAX_E164 = 15


def _country_key(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return " ".join(value.replace(".", "").casefold().split()) or None


def _fits(plan: _Plan, national: str) -> bool:
    return len(national) in plan.lengths and national[:1] in plan.first


def _e164(value: str, plan: _Plan | None) -> str | None:
    """The number in E.164 (and its extension), or None when it cannot be told for sure."""
    text = value.strip()
    extension = ""
    found = _EXTENSION.search(text)
    if found:
        extension = f" ext. {found.group(1)}"
        text = text[: found.start()]
    text = text.replace("(0)", "")  # "+44 (0)20 ...": the trunk prefix shown in brackets
    compact = _PUNCTUATION.sub("", text)
    if compact.startswith("+"):
        international = compact[1:]
    elif compact.startswith("00"):
        international = compact[2:]
    else:
        international = None
    if international is not None:
        if not international.isdigit():
            return None
        code = next((c for c in _CODES if international.startswith(c)), None)
        if code is None:
            # A calling code this module has no plan for: keep it, if it can be E.164.
            ok = 8 <= len(international) <= _MAX_E164
            return f"+{international}{extension}" if ok else None
        national = international[len(code) :]
        known = _BY_CODE[code]
        if known.trunk and not _fits(known, national) and national.startswith(known.trunk):
            national = national[len(known.trunk) :]
        return f"+{code}{national}{extension}" if _fits(known, national) else None
    if plan is None or not compact.isdigit():
        return None
    national = compact
    if plan.trunk and national.startswith(plan.trunk) and not _fits(plan, national):
        national = national[len(plan.trunk) :]
    return f"+{plan.code}{national}{extension}" if _fits(plan, national) else None


def format_phones(
    frame: pd.DataFrame,
    columns: str | Sequence[str] | None = None,
    *,
    country: str | None = "country",
) -> pd.DataFrame:
    """Rewrite phone numbers in E.164 (``+14155550123``) where the country is known.

    The country comes from the number itself (``+44 20 7946 0958``, ``0044 20 ...``) or,
    for a number written the national way (``(415) 555-0123``, ``020 7946 0958``), from
    the contact's ``country`` (spelled any of the usual ways: ``USA``, ``U.K.``,
    ``Deutschland``). The digits must fit the country's numbering plan. Anything else is
    left exactly as it is: a national number without a country, a country this module does
    not know, letters, too few digits. An extension is kept as `` ext. 12``.

    Args:
        frame: A frame from :func:`hsframe.read_contacts`.
        columns: The phone columns (default: every loaded property whose field type is
            ``phonenumber``: ``phone``, ``mobilephone``, ``fax``...).
        country: The column holding the contact's country, or None to use only the
            numbers' own international prefixes.

    Returns:
        A new frame; the input is not changed.

    Example:
        >>> import hsframe as hs
        >>> from hsframe.cleanup import format_phones
        >>> with hs.sandbox.Sandbox(contacts=30) as sb:
        ...     client = hs.connect(token=sb.token, base_url=sb.url)
        ...     df = hs.read_contacts(client, properties=["phone", "country"], progress=False)
        ...     client.close()
        >>> df.loc[df.index[:3], "phone"] = ["(415) 555-0123 ext 12", "020 7946 0958", "555-0123"]
        >>> df.loc[df.index[:3], "country"] = ["USA", "U.K.", None]
        >>> format_phones(df)["phone"].head(3).tolist()
        ['+14155550123 ext. 12', '+442079460958', '555-0123']
    """
    schema = _schema(frame)
    phones = [
        str(c)
        for c in frame.columns
        if c in schema and schema.definition(str(c)).get("fieldType") == "phonenumber"
    ]
    names = _columns(frame, columns, phones)
    if country is not None and country in frame.columns:
        plans = frame[country].astype(object).map(lambda v: _PLANS.get(_country_key(v) or ""))
    else:
        plans = pd.Series(None, index=frame.index, dtype=object)
    out = frame.copy(deep=False)
    for name in names:
        column = frame[name]
        present = column.notna().to_numpy(dtype=bool)
        if not present.any():
            continue
        values = column[present].astype(object)
        new = [
            _e164(v, p) if isinstance(v, str) else None
            for v, p in zip(values, plans[present], strict=True)
        ]
        fixed = pd.Series(new, index=values.index, dtype=object)
        hit = (fixed.notna() & (fixed != values)).to_numpy(dtype=bool)
        if not hit.any():
            continue
        updated = column.copy()
        updated.loc[values.index[hit]] = fixed[hit].to_numpy(dtype=object)
        out[name] = updated
    return out


# --- stale enumeration values -------------------------------------------------------------------


def _enumerations(frame: pd.DataFrame, schema: Schema) -> list[str]:
    return [
        str(c)
        for c in frame.columns
        if c in schema
        and schema.kind(str(c)) in ("enumeration", "multiselect")
        and schema.options(str(c))
    ]


def _match_key(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


def _obvious(schema: Schema, name: str) -> dict[str, str]:
    """Match keys → option value: each option's value and label, case and punctuation
    ignored (``Lead``, ``LEAD``, ``lead`` → ``lead``; ``Retail`` → ``RETAIL``)."""
    keys: dict[str, str] = {}
    for option in schema.definition(name).get("options") or ():
        value = str(option.get("value", ""))
        for text in (value, str(option.get("label") or "")):
            if text:
                keys.setdefault(_match_key(text), value)
    return keys


def _items(schema: Schema, name: str, value: str) -> list[str]:
    return [v for v in value.split(";") if v] if schema.kind(name) == "multiselect" else [value]


def stale_values(frame: pd.DataFrame) -> pd.DataFrame:
    """The enumeration values in the frame that are no longer options of their property.

    HubSpot still returns such values (an option was renamed or removed after contacts got
    it) but refuses to write them, so a row holding one cannot be pushed with that cell
    changed. For a multi-select, each stale item of the ``;`` list counts.

    Args:
        frame: A frame from :func:`hsframe.read_contacts`.

    Returns:
        One row per stale value: ``property``, ``value``, ``contacts`` (how many hold it)
        and ``obvious`` (the option it matches by value or label, case and punctuation
        ignored, or None), most frequent first.

    Example:
        >>> import hsframe as hs
        >>> from hsframe.cleanup import stale_values
        >>> with hs.sandbox.Sandbox() as sb:
        ...     client = hs.connect(token=sb.token, base_url=sb.url)
        ...     df = hs.read_contacts(client, properties=["lifecyclestage"], progress=False)
        ...     client.close()
        >>> stale_values(df)[["value", "obvious"]].values.tolist()
        [['Lead', 'lead'], ['Customer', 'customer'], ['prospect', None]]
    """
    schema = _schema(frame)
    rows: list[dict[str, Any]] = []
    for name in _enumerations(frame, schema):
        options = set(schema.options(name))
        obvious = _obvious(schema, name)
        counts: dict[str, int] = {}
        for value, n in frame[name].dropna().astype(object).value_counts(sort=False).items():
            for item in dict.fromkeys(_items(schema, name, str(value))):
                if item not in options:
                    counts[item] = counts.get(item, 0) + int(n)
        for item, n in counts.items():
            rows.append(
                {
                    "property": name,
                    "value": item,
                    "contacts": n,
                    "obvious": obvious.get(_match_key(item)),
                }
            )
    rows.sort(key=lambda r: (-r["contacts"], r["property"], r["value"]))
    return pd.DataFrame(
        {
            "property": pd.Series([r["property"] for r in rows], dtype=object),
            "value": pd.Series([r["value"] for r in rows], dtype=object),
            "contacts": pd.Series([r["contacts"] for r in rows], dtype="int64"),
            "obvious": pd.Series([r["obvious"] for r in rows], dtype=object),
        }
    )


def map_stale_options(
    frame: pd.DataFrame,
    mapping: StaleMapping | None = None,
    *,
    obvious: bool = True,
) -> pd.DataFrame:
    """Replace enumeration values that are no longer options.

    Each stale value (see :func:`stale_values`) is looked up in ``mapping`` first, then,
    with ``obvious=True``, matched to an option by value or label with case and
    punctuation ignored (``Lead`` → ``lead``, ``Retail`` → ``RETAIL``). A value with
    neither stays as it is: it does not block pushing other changes to the row, but the
    cell cannot be rewritten until someone decides. In a multi-select each item is mapped,
    and an item mapped to None is dropped from the list.

    Args:
        frame: A frame from :func:`hsframe.read_contacts`.
        mapping: ``{property: {stale value: option value, or None to clear it}}``; your
            decisions for values that match no option (``"TECHNOLOGY"`` →
            ``"INFORMATION_TECHNOLOGY_AND_SERVICES"``). It applies to the values it names
            even if they are still options.
        obvious: Also map values that obviously mean an option.

    Returns:
        A new frame; the input is not changed.

    Raises:
        KeyError: ``mapping`` names a property that is not an enumeration in the frame.
        ValueError: ``mapping`` maps to a value that is not an option of the property.

    Example:
        >>> import hsframe as hs
        >>> from hsframe.cleanup import map_stale_options
        >>> with hs.sandbox.Sandbox() as sb:
        ...     client = hs.connect(token=sb.token, base_url=sb.url)
        ...     df = hs.read_contacts(client, properties=["lifecyclestage"], progress=False)
        ...     client.close()
        >>> fixed = map_stale_options(df, {"lifecyclestage": {"prospect": "lead"}})
        >>> sorted(fixed.hs.changes()["new"].unique())
        ['customer', 'lead']
    """
    schema = _schema(frame)
    names = _enumerations(frame, schema)
    mapping = mapping or {}
    for name, pairs in mapping.items():
        if name not in names:
            raise KeyError(f"{name!r} is not an enumeration property with options in the frame")
        options = set(schema.options(name))
        bad = {old: new for old, new in pairs.items() if new is not None and new not in options}
        if bad:
            raise ValueError(
                f"{name}: {bad} maps to values that are not options; the options are "
                f"{', '.join(schema.options(name))}"
            )
    out = frame
    for name in names:
        fix = _stale_fixer(
            set(schema.options(name)),
            dict(mapping.get(name, {})),
            _obvious(schema, name) if obvious else {},
            multi=schema.kind(name) == "multiselect",
        )
        out = _map_text(out, [name], fix)
    return out if out is not frame else frame.copy(deep=False)


def _stale_fixer(
    options: set[str], chosen: Mapping[str, str | None], matches: Mapping[str, str], *, multi: bool
) -> Callable[[str], str | None]:
    """The fix for one property's values: the user's choice, else the value if it is an
    option, else its obvious match, else the value unchanged."""

    def one(item: str) -> str | None:
        if item in chosen:
            return chosen[item]
        if item in options:
            return item
        return matches.get(_match_key(item), item)

    def fix(value: str) -> str | None:
        if not multi:
            return one(value)
        items = [m for m in (one(i) for i in value.split(";") if i) if m]
        return ";".join(dict.fromkeys(items)) or None

    return fix
