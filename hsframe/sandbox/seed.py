"""Contacts for the sandbox to hold: the committed samples, and a generator for any size.

Everything that runs on the sandbox (tests, demos, notebooks, benchmarks) needs contacts that
look like a real portal's, mess included: a cleanup tool tested on clean data proves
nothing. This module is the one source of that data. ``data/samples/properties.json`` is a
portal's property definitions, in the shape of ``GET /crm/v3/properties/contacts``;
``data/samples/contacts.csv`` holds :data:`SAMPLE_SIZE` contacts written by
:func:`generate_contacts` itself (``hsframe sandbox samples --write``), and a test
checks that the file and the generator still agree. The generator is deterministic (same
``n``, ``seed``, ``start_id`` and ``now``, same frame) and vectorised with numpy, so a
million contacts take seconds.

The frame contract (what the sandbox's store ingests):
    One row per contact, a plain ``RangeIndex``, one column per property (names from
    :data:`COLUMNS`), ``object`` dtype throughout. Every value is either ``None`` (unset:
    HubSpot answers ``null``, never ``""``) or a **wire string**, exactly what HubSpot
    returns: numbers as ``"17"`` / ``"1250000.5"`` (no commas, no exponent), booleans as
    ``"true"`` / ``"false"``, dates as ``YYYY-MM-DD``, datetimes as ISO 8601 UTC with
    milliseconds and ``Z``, enumerations by internal value, multi-selects as
    ``;``-joined internal values. ``hs_object_id`` is the contact id (unique, increasing
    from ``start_id``); ``createdate <= lastmodifieddate <= now``, and ``createdate``
    increases with the id (ids are handed out at creation). Only writable properties
    appear, plus the read-only ``hs_object_id``, ``createdate``, ``lastmodifieddate``,
    ``hubspotscore`` and ``num_associated_deals``.

The mess (rates are approximate shares of all rows; :data:`MESS_RATES` holds them, and
the tests check a 20,000-row frame against them):

    ============================  =======  ==============================================
    mess                          rate     looks like
    ============================  =======  ==============================================
    email unset                   0.05
    email mixed case              0.06     ``Ann.Lee@Contoso.Example``, ``ANN.LEE@...``
    email padded                  0.02     ``" ann.lee@example.com "``, trailing NBSP, tab
    email invalid                 0.025    ``ann.lee@``, ``ann lee@example.com``,
                                           ``ann@contoso``, ``@@``, ``" at "``, a comma,
                                           ``mailto:``, two addresses in one field
    duplicate person              0.02     a later record of an earlier person: the
                                           email in other case (45 %), a second email
                                           (40 %) or none (15 %); first name spelled
                                           differently half the time (José/Jose,
                                           Katherine/Catherine, Bob/Robert), last name a
                                           quarter (O'Brien/O’Brien, Müller/Mueller)
    firstname unset               0.04
    lastname unset                0.06
    name ALL CAPS                 0.02     both names
    name all lower case           0.02     both names
    name stray whitespace         0.03     ``" Ann"``, ``"Lee "``, ``"  Ann  "``
    full name in firstname        0.01     ``firstname="Ann Lee"``, lastname unset
    phone unset                   0.32     formats: ``+1 (415) 555-0123``,
                                           ``415.555.0123``, ``(415)5550123 ext 12``,
                                           ``0044 20 7946 0958``, ``+33 1 99 00 12 34``...
    country spelled another way   0.06     ``USA``, ``U.S.``, ``UK``, ``Deutschland``...
    stale enumeration value       see :data:`STALE_RATES` (share of rows with a value)
    ============================  =======  ==============================================

Names come from many cultures (about 28 % of contacts have a non-ASCII or apostrophe name:
José, Zoë, Łukasz, 王芳, Nguyễn, O'Brien, Müller-Lüdenscheidt, Дмитрий). Stale
enumeration values (:data:`STALE_VALUES`) are values a portal once accepted and still
returns on read, although a write of them would now be refused (``INVALID_OPTION``):
``lifecyclestage`` ``Lead``/``Customer``/``prospect``, ``hs_lead_status``
``Prospect``/``Nurturing``/``DEAD``, ``industry`` ``TECHNOLOGY``/``Retail``/``Healthcare``,
``numemployees`` ``1-10``/``10000+``, ``customer_tier`` ``Gold``/``enterprise``, and
``website_builder`` as one item of ``product_interest``.

Uniqueness: ``email`` values are unique as stored, and unique case-insensitively except for
the duplicate people whose second record differs only in case (about 0.9 % of rows), as
old imports left them in real portals. ``customer_code`` (a unique-value property) is
unique.

Nothing here is anyone's real data: every email domain is a reserved example domain
(``example.com``/``.org``/``.net`` or ``*.example``), every phone number lies in a range
reserved for fiction (NANP 555-01XX, Ofcom's drama numbers, ARCEP's and ACMA's fiction
ranges), and the companies are invented.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import reduce
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = [
    "COLUMNS",
    "DEFAULT_NOW",
    "MESS_RATES",
    "SAMPLE_SEED",
    "SAMPLE_SIZE",
    "STALE_RATES",
    "STALE_VALUES",
    "generate_contacts",
    "load_properties",
    "sample_contacts",
    "samples_dir",
    "write_samples",
]

SAMPLE_SIZE: Final = 1200
"""How many contacts ``data/samples/contacts.csv`` holds."""

SAMPLE_SEED: Final = 20240416
"""The seed ``data/samples/contacts.csv`` was generated with."""

DEFAULT_NOW: Final = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
"""The instant generated data is "as of" unless told otherwise.

Fixed rather than the clock, so that the same seed gives the same frame on any day.
"""

PORTAL_AGE_DAYS: Final = 8 * 365
"""How far back before ``now`` the oldest contact can have been created."""

MESS_RATES: Final[Mapping[str, float]] = MappingProxyType(
    {
        "email_missing": 0.05,
        "email_mixed_case": 0.06,
        "email_padded": 0.02,
        "email_invalid": 0.025,
        "duplicate_person": 0.02,
        "firstname_missing": 0.04,
        "lastname_missing": 0.06,
        "name_upper": 0.02,
        "name_lower": 0.02,
        "name_padded": 0.03,
        "name_full_in_first": 0.01,
        "phone_missing": 0.32,
        "country_variant": 0.06,
    }
)
"""Share of all rows that carry each kind of mess (the module docstring describes each)."""

STALE_VALUES: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "lifecyclestage": ("Lead", "Customer", "prospect"),
        "hs_lead_status": ("Prospect", "Nurturing", "DEAD"),
        "industry": ("TECHNOLOGY", "Retail", "Healthcare"),
        "numemployees": ("1-10", "10000+"),
        "customer_tier": ("Gold", "enterprise"),
        "product_interest": ("website_builder",),
    }
)
"""Values that are no longer options but still sit in old records, by property.

For ``product_interest`` (a multi-select) the stale value is one item of the ``;`` list.
"""

STALE_RATES: Final[Mapping[str, float]] = MappingProxyType(
    {
        "lifecyclestage": 0.015,
        "hs_lead_status": 0.02,
        "industry": 0.03,
        "numemployees": 0.01,
        "customer_tier": 0.02,
        "product_interest": 0.015,
    }
)
"""Share of the rows *with a value* whose value is stale (roughly: see each column)."""

COLUMNS: Final[tuple[str, ...]] = (
    "hs_object_id",
    "createdate",
    "lastmodifieddate",
    "email",
    "firstname",
    "lastname",
    "salutation",
    "jobtitle",
    "company",
    "website",
    "phone",
    "mobilephone",
    "fax",
    "address",
    "city",
    "state",
    "zip",
    "country",
    "region",
    "hs_timezone",
    "hs_language",
    "lifecyclestage",
    "hs_lead_status",
    "hubspot_owner_id",
    "hs_persona",
    "industry",
    "numemployees",
    "annualrevenue",
    "hs_email_optout",
    "newsletter_opt_in",
    "hs_legal_basis",
    "preferred_contact_method",
    "preferred_channels",
    "product_interest",
    "hs_buying_role",
    "date_of_birth",
    "twitterhandle",
    "message",
    "referral_source",
    "last_demo_at",
    "customer_code",
    "customer_tier",
    "seats",
    "contract_value",
    "discount_rate",
    "renewal_date",
    "nps_score",
    "is_beta_tester",
    "onboarding_notes",
    "assistant_phone",
    "whatsapp_number",
    "hubspotscore",
    "num_associated_deals",
)
"""The columns :func:`generate_contacts` produces, in order."""

_ALWAYS: Final = ("hs_object_id", "createdate", "lastmodifieddate")

Obj = npt.NDArray[np.object_]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Strs = npt.NDArray[Any]  # numpy StringDType arrays (no precise static type yet)

_STR: Final = np.dtypes.StringDType()
_DAY_MS: Final = 86_400_000


# ---------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------


def samples_dir() -> Path:
    """The folder that holds the sample files (``data/samples/`` at the repository's top).

    Returns:
        The folder's path.

    Raises:
        FileNotFoundError: The folder is not there, as in an installed wheel, which ships
            the package but not the repository's ``data/``.
    """
    folder = Path(__file__).resolve().parents[2] / "data" / "samples"
    if not (folder / "properties.json").is_file():
        raise FileNotFoundError(
            f"hsframe's sample data is missing: expected {folder / 'properties.json'}. "
            "The samples live in the repository's data/samples/ folder, which an installed "
            "package does not include; run from a checkout, or pass an explicit path."
        )
    return folder


def load_properties(path: str | Path | None = None) -> list[dict[str, Any]]:
    """The contact property definitions, as ``GET /crm/v3/properties/contacts`` lists them.

    Args:
        path: A JSON file shaped ``{"results": [Property, ...]}``; defaults to
            ``properties.json`` in :func:`samples_dir`.

    Returns:
        The ``results`` list: one dict per property (``name``, ``type``, ``fieldType``,
        ``options``, ``modificationMetadata``...).

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: The file is not shaped like a properties response.

    Example:
        >>> props = load_properties()
        >>> next(p for p in props if p["name"] == "email")["hasUniqueValue"]
        True
    """
    source = Path(path) if path is not None else samples_dir() / "properties.json"
    payload = json.loads(source.read_text(encoding="utf-8"))
    results = payload.get("results") if isinstance(payload, dict) else None
    if not isinstance(results, list) or not all(
        isinstance(item, dict) and "name" in item for item in results
    ):
        raise ValueError(f"{source} is not a properties response: expected {{'results': [...]}}")
    return results


def sample_contacts(path: str | Path | None = None) -> pd.DataFrame:
    """The committed sample contacts, read back into the frame contract.

    An empty CSV cell is an unset property (``None``): HubSpot never returns ``""``. No
    other text is treated as missing, so a value such as ``"NA"`` stays a string.

    Args:
        path: A CSV file written by :func:`write_samples`; defaults to ``contacts.csv`` in
            :func:`samples_dir`.

    Returns:
        Exactly the frame ``generate_contacts(SAMPLE_SIZE, seed=SAMPLE_SEED)`` returns.

    Example:
        >>> frame = sample_contacts()
        >>> len(frame), frame["hs_object_id"].iloc[0]
        (1200, '1001')
    """
    source = Path(path) if path is not None else samples_dir() / "contacts.csv"
    raw = pd.read_csv(source, dtype=object, keep_default_na=False, na_values=[""], encoding="utf-8")
    columns = {}
    for name in raw.columns:
        values = raw[name].to_numpy(dtype=object, copy=True)
        values[pd.isna(values)] = None
        columns[str(name)] = values
    return pd.DataFrame(columns, dtype=object, copy=False)


def write_samples(directory: str | Path | None = None) -> Path:
    """Regenerate ``contacts.csv`` from the generator (the one source of truth).

    Args:
        directory: Where to write; defaults to :func:`samples_dir`. Property definitions
            are read from ``properties.json`` there when it exists.

    Returns:
        The path of the written file.
    """
    folder = Path(directory) if directory is not None else samples_dir()
    definitions = folder / "properties.json"
    properties = load_properties(definitions if definitions.is_file() else None)
    frame = generate_contacts(SAMPLE_SIZE, seed=SAMPLE_SEED, properties=properties)
    target = folder / "contacts.csv"
    frame.to_csv(target, index=False, lineterminator="\n", encoding="utf-8")
    return target


# ---------------------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------------------

_SLUG_FOLD = str.maketrans(
    {"ł": "l", "Ł": "l", "ø": "o", "Ø": "o", "đ": "d", "Đ": "d", "ð": "d", "Ð": "d", "ß": "ss"}
)


def _slug(text: str) -> str:
    """An ASCII email-ready form of a Latin-script name (``Łukasz`` → ``lukasz``)."""
    folded = unicodedata.normalize("NFKD", text.translate(_SLUG_FOLD))
    return "".join(ch for ch in folded.lower() if ch.isascii() and ch.isalnum())


@dataclass(frozen=True)
class _Names:
    """One pool of names: what is shown, its email slug, and a near-miss spelling."""

    shown: tuple[str, ...]
    slugs: tuple[str, ...]
    variants: tuple[str, ...]


def _names(*entries: str | tuple[str, ...]) -> _Names:
    """Build a pool from ``"Name"``, ``("Name", "variant")`` or ``("Name", "variant", "slug")``."""
    shown, slugs, variants = [], [], []
    for entry in entries:
        parts = (entry,) if isinstance(entry, str) else entry
        shown.append(parts[0])
        variants.append(parts[1] if len(parts) > 1 else parts[0])
        slugs.append(parts[2] if len(parts) > 2 else _slug(parts[0]))
    return _Names(tuple(shown), tuple(slugs), tuple(variants))


@dataclass(frozen=True)
class _Culture:
    """Names that go together, how common they are, and where such people mostly live."""

    weight: float
    first: _Names
    last: _Names
    home: str | None


# fmt: off
_CULTURES: Final = (
    _Culture(
        0.50,
        _names(
            "James", "Mary", ("John", "Jon"), ("Patricia", "Patty"), ("Robert", "Bob"),
            ("Jennifer", "Jen"), ("Michael", "Micheal"), "Linda", ("William", "Bill"),
            ("Elizabeth", "Liz"), ("David", "Dave"), "Barbara", ("Richard", "Rick"),
            ("Susan", "Sue"), ("Joseph", "Joe"), ("Jessica", "Jess"), ("Thomas", "Tom"),
            ("Sarah", "Sara"), ("Christopher", "Chris"), "Karen", ("Daniel", "Dan"),
            ("Emily", "Emilie"), ("Matthew", "Matt"), "Ashley", ("Anthony", "Tony"),
            "Amanda", ("Mark", "Marc"), "Stephanie", ("Steven", "Stephen"),
            ("Rebecca", "Becky"), ("Andrew", "Andy"), "Laura", "Kevin", "Rachel",
            ("Brian", "Bryan"), ("Megan", "Meghan"), ("Ann", "Anne"),
            ("Katherine", "Catherine"), "Olivia", "Emma", "Noah", "Liam", "Ava", "Ethan",
            "Grace", "Jacob", ("Hannah", "Hanna"), "Tyler", ("Lauren", "Loren"), "Zoe",
        ),
        _names(
            ("Smith", "Smyth"), ("Johnson", "Johnston"), "Williams", ("Brown", "Browne"),
            "Jones", "Miller", "Davis", "Wilson", ("Anderson", "Andersen"), "Taylor",
            "Thomas", ("Moore", "More"), "Jackson", "White", "Harris", "Martin",
            ("Thompson", "Thomson"), ("Clark", "Clarke"), "Lewis", "Lee", "Walker", "Hall",
            ("Allen", "Allan"), "Young", "King", "Wright", "Scott", ("Green", "Greene"),
            "Baker", "Adams", "Nelson", "Hill", "Campbell", "Mitchell", "Roberts", "Carter",
            "Phillips", "Evans", "Turner", "Parker", "Collins", "Edwards",
            ("Stewart", "Stuart"), "Morris", "Murphy", "Cook", "Rogers", ("Reed", "Reid"),
            ("Bennett", "Bennet"), ("Gray", "Grey"), "Hughes", "Price", "Ward", "Cooper",
        ),
        None,
    ),
    _Culture(
        0.07,
        _names(
            ("José", "Jose"), ("María", "Maria"), ("Lucía", "Lucia"), ("Javier", "Xavier"),
            "Carmen", "Alejandro", ("Sofía", "Sofia"), "Diego", "Valentina",
            ("Andrés", "Andres"),
        ),
        _names(
            ("García", "Garcia"), ("Martínez", "Martinez"), ("López", "Lopez"),
            ("Hernández", "Hernandez"), ("González", "Gonzales"), ("Rodríguez", "Rodriguez"),
            ("Pérez", "Perez"), ("Núñez", "Nunez"), ("de la Cruz", "De La Cruz"),
            ("García-Márquez", "Garcia Marquez"), ("Ibáñez", "Ibanez"),
        ),
        "Spain",
    ),
    _Culture(
        0.05,
        _names(
            ("Jürgen", "Juergen", "juergen"), ("Lukas", "Lucas"), "Anna",
            ("Sophie", "Sofie"), ("Maximilian", "Max"), "Felix", "Lena",
            ("Jörg", "Joerg", "joerg"), "Uwe", "Heike",
        ),
        _names(
            ("Müller", "Mueller", "mueller"), ("Schmidt", "Schmitt"), "Schneider", "Fischer",
            "Weber", ("Meyer", "Meier"), "Wagner", "Becker", ("Schäfer", "Schaefer", "schaefer"),
            ("Weiß", "Weiss", "weiss"),
            ("Müller-Lüdenscheidt", "Mueller-Luedenscheidt", "mueller-luedenscheidt"),
            ("Köhler", "Koehler", "koehler"),
        ),
        "Germany",
    ),
    _Culture(
        0.04,
        _names(
            ("François", "Francois"), ("Chloé", "Chloe"), ("Renée", "Renee"), ("Zoë", "Zoe"),
            "Camille", ("Jérôme", "Jerome"), ("Hélène", "Helene"), ("Amélie", "Amelie"),
            ("Théo", "Theo"), ("Inès", "Ines"),
        ),
        _names(
            ("Dubois", "Du Bois"), "Moreau", ("Lefèvre", "Lefevre"), "Girard", "Bernard",
            "Fontaine", "Rousseau", ("Lemaître", "Lemaitre"), ("de Villiers", "De Villiers"),
            ("Ménard", "Menard"),
        ),
        "France",
    ),
    _Culture(
        0.03,
        _names(
            ("Łukasz", "Lukasz"), ("Małgorzata", "Malgorzata"), ("Katarzyna", "Kasia"),
            "Piotr", "Agnieszka", "Wojciech", ("Michał", "Michal"), ("Jiří", "Jiri"),
            ("Tomáš", "Tomas"),
        ),
        _names(
            ("Kowalski", "Kowalsky"), ("Nowak", "Novak"), ("Wiśniewski", "Wisniewski"),
            ("Zieliński", "Zielinski"), ("Dvořák", "Dvorak"), ("Wójcik", "Wojcik"),
            ("Szymańska", "Szymanska"), ("Novotná", "Novotna"),
        ),
        "Poland",
    ),
    _Culture(
        0.02,
        _names(
            ("Søren", "Soren"), ("Björn", "Bjorn"), ("Åsa", "Asa"), ("Ólafur", "Olafur"),
            "Ingrid", "Lars", ("Freja", "Freya"), ("Sigríður", "Sigridur"),
        ),
        _names(
            ("Andersson", "Anderson"), ("Johansson", "Johanson"), ("Sørensen", "Sorensen"),
            ("Ólafsson", "Olafsson"), ("Nyström", "Nystrom"), ("Lindqvist", "Lindquist"),
            ("Hämäläinen", "Hamalainen"), "Jensen",
        ),
        "Sweden",
    ),
    _Culture(
        0.03,
        _names(
            ("Siobhán", "Siobhan"), ("Seán", "Sean"), ("Niamh", "Neve"), "Aoife",
            ("Ciarán", "Ciaran"), "Saoirse", ("Pádraig", "Padraig"), ("Róisín", "Roisin"),
        ),
        _names(
            ("O'Brien", "O’Brien"), ("O'Connor", "OConnor"), ("McCarthy", "Mccarthy"),
            ("O'Sullivan", "O Sullivan"), ("Ní Bhriain", "Ni Bhriain"), ("Walsh", "Welsh"),
            "Byrne", ("Ó Súilleabháin", "O Suilleabhain"),
        ),
        "Ireland",
    ),
    _Culture(
        0.06,
        _names(
            ("Priya", "Pria"), "Rahul", "Ananya", "Arjun", "Aditi", "Vikram",
            ("Lakshmi", "Laxmi"), "Sanjay", "Divya", "Rohan",
        ),
        _names(
            "Patel", "Kumar", "Singh", "Sharma", ("Iyer", "Iyyer"), "Reddy", "Nair", "Gupta",
            ("Venkataraman", "Venkatraman"), "Chatterjee",
        ),
        "India",
    ),
    _Culture(
        0.025,
        _names(
            ("芳", "Fang", "fang"), ("伟", "Wei", "wei"), ("娜", "Na", "na"),
            ("敏", "Min", "min"), ("静", "Jing", "jing"), ("磊", "Lei", "lei"),
            ("洋", "Yang", "yang"), ("婷", "Ting", "ting"),
        ),
        _names(
            ("王", "Wang", "wang"), ("李", "Li", "li"), ("张", "Zhang", "zhang"),
            ("刘", "Liu", "liu"), ("陈", "Chen", "chen"), ("杨", "Yang", "yang"),
            ("黄", "Huang", "huang"), ("赵", "Zhao", "zhao"),
        ),
        "China",
    ),
    _Culture(
        0.025,
        _names("Wei", "Xiaoming", "Mei", "Jun", "Lihua", "Jian", "Ying"),
        _names("Chen", "Wang", "Zhang", "Liu", ("Huang", "Hwang"), "Zhou", "Wu"),
        None,
    ),
    _Culture(
        0.02,
        _names(
            "Minh", ("Thảo", "Thao"), "Huy", "Lan", ("Phương", "Phuong"), ("Đức", "Duc"),
            "Anh", ("Hùng", "Hung"),
        ),
        _names(
            ("Nguyễn", "Nguyen"), ("Trần", "Tran"), ("Lê", "Le"), ("Phạm", "Pham"),
            ("Hoàng", "Hoang"), ("Võ", "Vo"), ("Đặng", "Dang"),
        ),
        "Vietnam",
    ),
    _Culture(
        0.02,
        _names(("Yūki", "Yuki"), "Haruto", "Aiko", "Kenji", "Sakura", ("Kōji", "Koji")),
        _names("Tanaka", "Suzuki", "Takahashi", "Watanabe", ("Itō", "Ito"), ("Saitō", "Saito")),
        "Japan",
    ),
    _Culture(
        0.01,
        _names(
            ("민준", "Minjun", "minjun"), ("서연", "Seoyeon", "seoyeon"),
            ("지훈", "Jihoon", "jihun"),
        ),
        _names(("김", "Kim", "kim"), ("이", "Lee", "lee"), ("박", "Park", "park")),
        "South Korea",
    ),
    _Culture(
        0.03,
        _names(
            ("Mohammed", "Muhammad"), ("Fatima", "Fatimah"), ("Aisha", "Aysha"),
            ("Omar", "Umar"), ("Layla", "Leila"), ("Youssef", "Yusuf"), ("Nour", "Noor"),
        ),
        _names(
            ("Al-Farsi", "Alfarsi"), "Haddad", ("Khoury", "Khouri"), ("El-Amin", "El Amin"),
            ("Mansour", "Mansur"), ("Abdullah", "Abdallah"),
        ),
        "United Arab Emirates",
    ),
    _Culture(
        0.01,
        _names(
            ("Дмитрий", "Dmitry", "dmitry"), ("Анна", "Anna", "anna"),
            ("Ольга", "Olga", "olga"), ("Сергей", "Sergei", "sergey"),
        ),
        _names(
            ("Иванов", "Ivanov", "ivanov"), ("Смирнова", "Smirnova", "smirnova"),
            ("Кузнецов", "Kuznetsov", "kuznetsov"), ("Попова", "Popova", "popova"),
        ),
        None,
    ),
    _Culture(
        0.02,
        _names("Giulia", "Marco", "Francesca", "Luca", "Chiara", "Matteo"),
        _names(
            "Rossi", "Bianchi", ("D'Angelo", "DAngelo"), "Esposito", "Romano",
            ("De Luca", "Deluca"), "Ricci",
        ),
        "Italy",
    ),
    _Culture(
        0.02,
        _names("Sanne", "Daan", "Femke", "Bram", "Jeroen", "Eline"),
        _names(
            ("van der Berg", "Van der Berg"), ("de Vries", "De Vries"), ("Jansen", "Janssen"),
            ("van Dijk", "Van Dyk"), ("Bakker", "Baker"), "Visser",
        ),
        "Netherlands",
    ),
    _Culture(
        0.005,
        _names(("Γιώργος", "Giorgos", "giorgos"), ("Ελένη", "Eleni", "eleni")),
        _names(
            ("Παπαδόπουλος", "Papadopoulos", "papadopoulos"),
            ("Οικονόμου", "Oikonomou", "oikonomou"),
        ),
        "Greece",
    ),
)


@dataclass(frozen=True)
class _City:
    """A city, its state or region, a postal-code template and its time-zone option.

    In the template ``#`` is a random digit and ``@`` a random capital letter.
    """

    name: str
    state: str
    zip: str
    tz: str


@dataclass(frozen=True)
class _Country:
    """A country as contacts type it, and what goes with it."""

    name: str
    weight: float
    region: str
    phone: str  # a key of _PHONE_FORMATS
    language: str  # an hs_language option
    streets: str  # a key of _STREETS
    variants: tuple[str, ...]
    cities: tuple[_City, ...]


_COUNTRIES: Final = (
    _Country(
        "United States", 0.42, "AMER", "us", "en-us", "us",
        ("USA", "US", "U.S.", "united states", "United States of America"),
        (
            _City("New York", "NY", "100##", "america_slash_new_york"),
            _City("Brooklyn", "NY", "112##", "america_slash_new_york"),
            _City("Boston", "MA", "021##", "america_slash_new_york"),
            _City("Chicago", "IL", "606##", "america_slash_chicago"),
            _City("Austin", "TX", "787##", "america_slash_chicago"),
            _City("Seattle", "WA", "981##", "america_slash_los_angeles"),
            _City("San Francisco", "CA", "941##", "america_slash_los_angeles"),
            _City("Denver", "CO", "802##", "america_slash_denver"),
            _City("Atlanta", "GA", "303##", "america_slash_new_york"),
            _City("Springfield", "IL", "627##", "america_slash_chicago"),
        ),
    ),
    _Country(
        "United Kingdom", 0.12, "EMEA", "uk", "en-gb", "uk",
        ("UK", "U.K.", "Great Britain", "England", "united kingdom"),
        (
            _City("London", "England", "EC1A #@@", "europe_slash_london"),
            _City("London", "England", "SW1A #@@", "europe_slash_london"),
            _City("Manchester", "England", "M# #@@", "europe_slash_london"),
            _City("Leeds", "England", "LS# #@@", "europe_slash_london"),
            _City("Edinburgh", "Scotland", "EH# #@@", "europe_slash_london"),
        ),
    ),
    _Country(
        "Germany", 0.06, "EMEA", "intl", "de", "de", ("Deutschland", "DE", "germany"),
        (
            _City("Berlin", "Berlin", "10###", "europe_slash_berlin"),
            _City("München", "Bayern", "80###", "europe_slash_berlin"),
            _City("Hamburg", "Hamburg", "20###", "europe_slash_berlin"),
            _City("Köln", "Nordrhein-Westfalen", "50###", "europe_slash_berlin"),
        ),
    ),
    _Country(
        "France", 0.05, "EMEA", "fr", "fr", "fr", ("FR", "france", "République française"),
        (
            _City("Paris", "Île-de-France", "750##", "europe_slash_paris"),
            _City("Lyon", "Auvergne-Rhône-Alpes", "6900#", "europe_slash_paris"),
            _City("Toulouse", "Occitanie", "310##", "europe_slash_paris"),
        ),
    ),
    _Country(
        "Canada", 0.05, "AMER", "us", "en", "us", ("CA", "canada"),
        (
            _City("Toronto", "ON", "M5V #@#", "america_slash_new_york"),
            _City("Vancouver", "BC", "V6B #@#", "america_slash_los_angeles"),
            _City("Montréal", "QC", "H2X #@#", "america_slash_new_york"),
        ),
    ),
    _Country(
        "Australia", 0.04, "APAC", "au", "en", "uk", ("AU", "australia", "Aus"),
        (
            _City("Sydney", "NSW", "20##", "australia_slash_sydney"),
            _City("Melbourne", "VIC", "30##", "australia_slash_sydney"),
        ),
    ),
    _Country(
        "Spain", 0.03, "EMEA", "intl", "es", "es", ("España", "ES"),
        (
            _City("Madrid", "Madrid", "280##", "europe_slash_madrid"),
            _City("Barcelona", "Cataluña", "080##", "europe_slash_madrid"),
        ),
    ),
    _Country(
        "Ireland", 0.02, "EMEA", "intl", "en", "uk", ("IE", "Éire", "Republic of Ireland"),
        (
            _City("Dublin", "Dublin", "D0# @###", "europe_slash_dublin"),
            _City("Cork", "Cork", "T12 @###", "europe_slash_dublin"),
        ),
    ),
    _Country(
        "Netherlands", 0.02, "EMEA", "intl", "nl", "de", ("NL", "Holland", "The Netherlands"),
        (_City("Amsterdam", "Noord-Holland", "10## @@", "europe_slash_berlin"),),
    ),
    _Country(
        "Poland", 0.02, "EMEA", "intl", "pl", "other", ("Polska", "PL"),
        (_City("Warszawa", "Mazowieckie", "0#-###", "europe_slash_warsaw"),),
    ),
    _Country(
        "Sweden", 0.01, "EMEA", "intl", "sv", "other", ("Sverige", "SE"),
        (_City("Stockholm", "Stockholm", "11# ##", "europe_slash_berlin"),),
    ),
    _Country(
        "Italy", 0.02, "EMEA", "intl", "it", "other", ("Italia", "IT"),
        (_City("Milano", "Lombardia", "201##", "europe_slash_berlin"),),
    ),
    _Country(
        "India", 0.05, "APAC", "intl", "en", "other", ("IN", "Bharat"),
        (
            _City("Bengaluru", "Karnataka", "560###", "asia_slash_kolkata"),
            _City("Mumbai", "Maharashtra", "400###", "asia_slash_kolkata"),
        ),
    ),
    _Country(
        "China", 0.02, "APAC", "intl", "zh-cn", "other", ("PRC", "中国"),
        (_City("Shanghai", "Shanghai", "200###", "asia_slash_shanghai"),),
    ),
    _Country(
        "Vietnam", 0.01, "APAC", "intl", "vi", "other", ("Viet Nam", "VN"),
        (_City("Hồ Chí Minh", "Hồ Chí Minh", "700###", "asia_slash_ho_chi_minh"),),
    ),
    _Country(
        "Japan", 0.02, "APAC", "intl", "ja", "other", ("JP", "日本"),
        (_City("Tokyo", "Tokyo", "1##-####", "asia_slash_tokyo"),),
    ),
    _Country(
        "South Korea", 0.005, "APAC", "intl", "ko", "other", ("Korea", "KR"),
        (_City("Seoul", "Seoul", "0####", "asia_slash_tokyo"),),
    ),
    _Country(
        "United Arab Emirates", 0.01, "EMEA", "intl", "ar", "other", ("UAE", "U.A.E."),
        (_City("Dubai", "Dubai", "", "asia_slash_kolkata"),),
    ),
    _Country(
        "Brazil", 0.02, "LATAM", "intl", "pt-br", "other", ("Brasil", "BR"),
        (_City("São Paulo", "SP", "01###-###", "america_slash_sao_paulo"),),
    ),
    _Country(
        "Mexico", 0.015, "LATAM", "intl", "es", "es", ("México", "MX"),
        (_City("Ciudad de México", "CDMX", "06###", "america_slash_chicago"),),
    ),
    _Country(
        "Greece", 0.005, "EMEA", "intl", "en", "other", ("Hellas", "GR"),
        (_City("Athens", "Attica", "10# ##", "europe_slash_berlin"),),
    ),
)

_STREETS: Final[Mapping[str, tuple[bool, tuple[str, ...]]]] = {
    # style → (number after the street name?, streets)
    "us": (False, ("Main St", "Oak Street", "Maple Ave", "Elm Street", "Cedar Lane",
                   "Pine Road", "Washington Blvd", "Park Avenue", "2nd Street",
                   "Lakeview Drive", "Sunset Blvd", "Highland Ave")),
    "uk": (False, ("High Street", "Station Road", "Church Lane", "Victoria Road",
                   "Mill Lane", "Park Road", "The Green", "Queen's Road")),
    "de": (True, ("Hauptstraße", "Bahnhofstraße", "Gartenweg", "Schillerstraße",
                  "Goethestraße", "Lindenallee", "Keizersgracht")),
    "fr": (False, ("rue de la Paix", "avenue des Champs-Élysées", "boulevard Saint-Michel",
                   "rue Victor Hugo", "place de la République")),
    "es": (True, ("Calle Mayor", "Avenida de la Constitución", "Calle de Alcalá",
                  "Paseo de la Reforma")),
    "other": (False, ("Market Street", "Harbour Road", "Riverside Drive", "Avenida Paulista",
                      "Via Roma", "MG Road", "Nanjing Road", "Đường Nguyễn Huệ")),
}

_COMPANY_NAMES: Final = (
    "Contoso", "Fabrikam", "Northwind Traders", "Tailspin Toys", "Wingtip Toys",
    "Adventure Works", "Litware", "Proseware", "Lucerne Publishing", "Alpine Ski House",
    "Blue Yonder Airlines", "Coho Winery", "Woodgrove Bank", "Humongous Insurance",
    "Margie's Travel", "Fourth Coffee", "Trey Research", "Wide World Importers", "Relecloud",
    "Consolidated Messenger", "Southridge Video", "VanArsdel", "Tailwind Traders",
    "Best For You Organics", "A. Datum", "Acme", "Globex", "Initech", "Vandelay Industries",
    "Dunder Mifflin", "Soylent", "Hooli", "Pied Piper", "Cyberdyne Systems", "Wonka Industries",
    "Gringotts", "Stark & Wayne", "Bluth Company", "Prestige Worldwide", "Sterling Cooper",
    "Los Pollos Hermanos", "Müller & Söhne", "Société Générale des Vélos", "Kōgyō Dynamics",
    "Nakatomi Trading", "Oceanic Logistics", "Paper Street Soap", "Duff Brewing",
)
_COMPANY_WORDS: Final = (
    ("Blue", "Bright", "North", "Silver", "Red", "Green", "Swift", "Iron", "Clear", "Bold",
     "Quiet", "Golden", "Urban", "Prime", "True", "Open", "Lunar", "Polar", "Summit", "Cobalt"),
    ("Harbor", "Peak", "River", "Pine", "Stone", "Field", "Bridge", "Lake", "Ridge", "Cloud",
     "Wave", "Leaf", "Forge", "Arrow", "Beacon", "Crest", "Grove", "Mesa", "Orbit", "Spark"),
    ("Analytics", "Logistics", "Labs", "Health", "Partners", "Systems", "Foods", "Studio",
     "Capital", "Robotics", "Software", "Consulting", "Media", "Energy", "Dental"),
)
_COMPANY_SUFFIXES: Final = ("", " Inc.", " LLC", " Ltd", " GmbH", " S.A.", " Pty Ltd", " Corp.")


def _company_pool() -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Invented companies: (name with legal suffix, bare name, domain slug)."""
    named = [(name, _slug(name)) for name in _COMPANY_NAMES]
    adjectives, nouns, kinds = _COMPANY_WORDS
    made = [
        (f"{adj} {noun} {kind}", f"{adj}{noun}-{kind}".lower())
        for adj in adjectives
        for noun in nouns
        for kind in kinds
    ]
    # A fixed shuffle, so that the big accounts are not all "Blue ..." (sizes go by rank).
    order = np.random.default_rng(2016).permutation(len(made)).tolist()
    everything = named + [made[k] for k in order]
    full = tuple(
        name + _COMPANY_SUFFIXES[(k * 5) % len(_COMPANY_SUFFIXES)]
        for k, (name, _) in enumerate(everything)
    )
    return full, tuple(n for n, _ in everything), tuple(s for _, s in everything)


_COMPANIES, _COMPANIES_BARE, _COMPANY_SLUGS = _company_pool()

_JOB_TITLES: Final = (
    "CEO", "Chief Executive Officer", "Founder & CEO", "CTO", "CFO", "VP of Sales", "VP Sales",
    "Vice President, Sales", "Head of Marketing", "Marketing Manager", "Sr. Marketing Manager",
    "Senior Software Engineer", "Software Engineer", "Data Analyst", "Operations Manager",
    "Office Manager", "Account Executive", "Sales Development Rep", "SDR",
    "Customer Success Manager", "Director of Operations", "IT Manager", "Product Manager",
    "Procurement Lead", "Finance Director", "HR Business Partner", "Consultant", "Owner",
    "Student", "Engineering Manager", "Director, Revenue Operations", "RevOps Analyst",
    "Geschäftsführer", "Directeur commercial", "Jefe de ventas", "marketing", "n/a", "-",
)
_SALUTATIONS: Final = (
    "Mr.", "Ms.", "Mrs.", "Dr.", "Mx.", "Prof.", "Mr", "MS", "Dr", "Herr", "Frau", "M.", "Mme",
    "Sr.", "Sra.",
)
_MESSAGES: Final = (
    "Interested in a demo for our team of 25.",
    "Hi,\nCould someone call me back about pricing?\nThanks!",
    "Please remove me from your list",
    "We're evaluating you vs. another vendor - need SSO & SCIM.",
    "Looking for a quote: 50 seats, annual billing",
    "Necesitamos una demo en español, por favor.",
    "Bitte um Rückruf.",
    'Can you send the "Enterprise" brochure?',
    "🙂 just browsing",
    "Demo request\n\nTeam size: 10-20\nTimeline: Q3",
    "call me",
)
_ONBOARDING_NOTES: Final = (
    "Kick-off done. Admin: see contact owner.\nSSO pending.",
    "Migrated from spreadsheet; 3 duplicate lists cleaned.",
    "Needs training on reports — follow up in 2 weeks.",
    "Champion left the company; new contact TBD.",
    "Renewal risk: budget freeze until Q2.",
    "Imported 12,400 records, 3% bounced",
)
_REFERRALS: Final = (
    "Partner: Contoso", "Webinar", "webinar", "Trade show 2023", "G2", "Capterra",
    "Word of mouth", "word-of-mouth", "Existing customer", "LinkedIn ad",
)
_PERSONAL_DOMAINS: Final = ("example.com", "example.net", "example.org")
_PERSONAL_WEIGHTS: Final = (0.5, 0.3, 0.2)

_LIFECYCLE: Final = (
    "subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity",
    "customer", "evangelist", "other",
)
_LIFECYCLE_WEIGHTS: Final = (0.18, 0.34, 0.12, 0.08, 0.06, 0.13, 0.01, 0.03)
_LEAD_STATUS: Final = (
    "NEW", "OPEN", "IN_PROGRESS", "OPEN_DEAL", "UNQUALIFIED", "ATTEMPTED_TO_CONTACT",
    "CONNECTED", "BAD_TIMING",
)
_LEAD_STATUS_WEIGHTS: Final = (0.25, 0.15, 0.15, 0.05, 0.1, 0.15, 0.1, 0.05)
_INDUSTRIES: Final = (
    "ACCOUNTING", "AIRLINES_AVIATION", "APPAREL_FASHION", "ARCHITECTURE_PLANNING", "AUTOMOTIVE",
    "BANKING", "BIOTECHNOLOGY", "COMPUTER_SOFTWARE", "CONSTRUCTION", "CONSUMER_GOODS",
    "EDUCATION_MANAGEMENT", "FINANCIAL_SERVICES", "FOOD_BEVERAGES", "GOVERNMENT_ADMINISTRATION",
    "HOSPITAL_HEALTH_CARE", "HOSPITALITY", "INFORMATION_TECHNOLOGY_AND_SERVICES", "INSURANCE",
    "INTERNET", "LEGAL_SERVICES", "LOGISTICS_AND_SUPPLY_CHAIN", "MANAGEMENT_CONSULTING",
    "MARKETING_AND_ADVERTISING", "NON_PROFIT_ORGANIZATION_MANAGEMENT", "PHARMACEUTICALS",
    "REAL_ESTATE", "RETAIL", "TELECOMMUNICATIONS", "WIRELESS",
)
_INDUSTRY_WEIGHTS: Final = (
    2, 1, 1, 1, 2, 3, 2, 12, 2, 3, 3, 5, 2, 1, 4, 2, 10, 3, 6, 2, 2, 4, 5, 2, 2, 3, 3, 3, 0.3,
)
_EMPLOYEES: Final = ("1-5", "5-25", "25-50", "50-100", "100-500", "500-1000", "1000+")
_EMPLOYEE_WEIGHTS: Final = (0.12, 0.22, 0.15, 0.14, 0.2, 0.07, 0.1)
_OWNERS: Final = ("52114587", "52114590", "60873215", "60873344", "71250089", "71250102")
_OWNER_WEIGHTS: Final = (0.25, 0.2, 0.2, 0.15, 0.12, 0.08)
_PERSONAS: Final = ("persona_1", "persona_2", "persona_3", "persona_4")
_LANGUAGES: Final = (
    "en", "en-us", "en-gb", "fr", "de", "es", "pt-br", "it", "nl", "pl", "sv", "da", "ja", "ko",
    "zh-cn", "zh-tw", "vi", "ar", "ru", "hi",
)
_TIERS: Final = ("bronze", "silver", "gold", "platinum")
_TIER_WEIGHTS: Final = (0.4, 0.35, 0.18, 0.07)
_CONTACT_METHODS: Final = ("email", "phone", "sms", "none")
_CHANNELS: Final = ("email", "phone", "sms", "linkedin", "whatsapp", "in_person")
_CHANNEL_ODDS: Final = (0.8, 0.35, 0.15, 0.25, 0.1, 0.05)
_PRODUCTS: Final = (
    "analytics", "crm", "marketing_automation", "sales_hub", "service_hub", "cms",
    "operations_hub", "commerce",
)
_PRODUCT_ODDS: Final = (0.3, 0.5, 0.35, 0.25, 0.15, 0.1, 0.05, 0.05)
_BUYING_ROLES: Final = (
    "BLOCKER", "BUDGET_HOLDER", "CHAMPION", "DECISION_MAKER", "END_USER", "EXECUTIVE_SPONSOR",
    "INFLUENCER", "LEGAL_AND_COMPLIANCE", "OTHER",
)
_BUYING_ROLE_ODDS: Final = (0.03, 0.15, 0.2, 0.3, 0.35, 0.08, 0.15, 0.03, 0.05)
_LEGAL_BASES: Final = (
    "Legitimate interest – prospect/lead", "Legitimate interest – existing customer",
    "Legitimate interest - other", "Performance of a contract",
    "Freely given consent from contact", "Not applicable",
)
_LEGAL_BASIS_ODDS: Final = (0.45, 0.2, 0.05, 0.15, 0.35, 0.05)
_DISCOUNTS: Final = ("0.05", "0.1", "0.125", "0.15", "0.2", "0.25", "0.3", "0.333")
_SEAT_PRICES_CENTS: Final = (2500, 4500, 7950, 9900, 12000, 14950)
_BOOLS: Final = ("true", "false")
# fmt: on

# Every enumeration value the generator draws (stale ones aside), by property: checked
# against the property definitions so that properties.json and this module cannot drift.
_DRAWN_OPTIONS: Final[Mapping[str, tuple[str, ...]]] = {
    "lifecyclestage": _LIFECYCLE,
    "hs_lead_status": _LEAD_STATUS,
    "industry": _INDUSTRIES,
    "numemployees": _EMPLOYEES,
    "hubspot_owner_id": _OWNERS,
    "hs_persona": _PERSONAS,
    "hs_language": _LANGUAGES,
    "hs_timezone": tuple(sorted({c.tz for k in _COUNTRIES for c in k.cities})),
    "region": ("AMER", "EMEA", "APAC", "LATAM"),
    "customer_tier": _TIERS,
    "preferred_contact_method": _CONTACT_METHODS,
    "preferred_channels": _CHANNELS,
    "product_interest": _PRODUCTS,
    "hs_buying_role": _BUYING_ROLES,
    "hs_legal_basis": _LEGAL_BASES,
    "hs_email_optout": _BOOLS,
    "newsletter_opt_in": _BOOLS,
    "is_beta_tester": _BOOLS,
}


# ---------------------------------------------------------------------------------------
# Vectorised helpers
# ---------------------------------------------------------------------------------------


def _pick(rng: np.random.Generator, n: int, weights: Sequence[float]) -> Ints:
    """``n`` indices into ``weights``, each drawn with probability proportional to it."""
    cumulative = np.cumsum(np.asarray(weights, dtype=np.float64))
    found = np.searchsorted(cumulative / cumulative[-1], rng.random(n), side="right")
    return np.minimum(found, len(weights) - 1).astype(np.int64)


def _chance(rng: np.random.Generator, n: int, p: float) -> Bools:
    """``n`` coin flips that come up True with probability ``p``."""
    return rng.random(n) < p


def _objects(values: Sequence[str | None]) -> Obj:
    """A 1-d object array holding exactly these Python objects (shared, not copied)."""
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def _from_pool(pool: Sequence[str], index: Ints, present: Bools | None = None) -> Obj:
    """Pool values by index, as an object array; rows not ``present`` are ``None``.

    The values are shared objects, so a million rows of a few distinct values cost only
    their pointers.
    """
    out = _objects(pool)[index]
    if present is not None:
        out[~present] = None
    return out


def _scatter(n: int, rows: Ints, values: npt.NDArray[Any]) -> Obj:
    """An object column of ``n`` rows: ``values`` (as ``str``) at ``rows``, else ``None``.

    Strings are built only for the rows that hold a value: most columns are sparse.
    """
    out = np.full(n, None, dtype=object)
    out[rows] = values
    return out


def _as_str(values: Obj) -> Strs:
    """An object array of ``str`` as a numpy string array, for vectorised string ops."""
    return values.astype(_STR)


def _cat(*parts: npt.NDArray[Any] | str) -> Strs:
    """Element-wise concatenation of string arrays and scalars."""
    arrays = [p if isinstance(p, np.ndarray) else np.asarray(p, dtype=_STR) for p in parts]
    return reduce(np.strings.add, arrays)


def _text(values: npt.NDArray[np.integer[Any]]) -> Strs:
    """Integers as decimal strings."""
    return values.astype(_STR)


def _digits(rng: np.random.Generator, n: int, width: int) -> Strs:
    """``n`` random zero-padded decimal strings of ``width`` digits."""
    return np.strings.zfill(_text(rng.integers(0, 10**width, n)), width)


def _chars(codes: npt.NDArray[np.uint32]) -> npt.NDArray[np.str_]:
    """A matrix of code points, one row per string, as fixed-width strings."""
    rows, width = codes.shape
    return np.ascontiguousarray(codes).view(f"<U{width}").reshape(rows)


def _template(rng: np.random.Generator, n: int, template: str) -> npt.NDArray[np.str_]:
    """``n`` strings from a template: ``#`` is a random digit, ``@`` a random capital."""
    letters = np.array([ord(c) for c in "ABDEFGHJLNPQRSTUWXYZ"], dtype=np.uint32)
    codes = np.empty((n, len(template)), dtype=np.uint32)
    for position, char in enumerate(template):
        if char == "#":
            codes[:, position] = 48 + rng.integers(0, 10, n)
        elif char == "@":
            codes[:, position] = letters[rng.integers(0, len(letters), n)]
        else:
            codes[:, position] = ord(char)
    return _chars(codes)


def _number_text(cents: Ints) -> Strs:
    """Amounts in cents as HubSpot number strings: ``"1250000"``, ``"1250000.5"``."""
    whole = _text(cents // 100)
    fraction = np.strings.rstrip(np.strings.zfill(_text(cents % 100), 2), "0")
    return np.where(fraction == "", whole, _cat(whole, ".", fraction))


def _iso_ms(epoch_ms: Ints) -> npt.NDArray[np.str_]:
    """Epoch milliseconds as HubSpot datetimes: ``2024-04-16T09:50:16.034Z``.

    Built from code points (a calendar of the days in range, then the clock digits),
    which is many times faster than formatting each timestamp.
    """
    n = len(epoch_ms)
    if not n:
        return np.empty(0, dtype="<U24")
    days = epoch_ms // _DAY_MS
    first = int(days.min())
    span = np.arange(first, int(days.max()) + 1, dtype=np.int64).astype("datetime64[D]")
    calendar = np.datetime_as_string(span, unit="D").astype("<U10")
    codes = np.empty((n, 24), dtype=np.uint32)
    codes[:, :10] = calendar.view(np.uint32).reshape(-1, 10)[days - first]
    clock = epoch_ms - days * _DAY_MS
    fields = (
        (11, clock // 3_600_000, 2),
        (14, clock // 60_000 % 60, 2),
        (17, clock // 1000 % 60, 2),
        (20, clock % 1000, 3),
    )
    for start, value, width in fields:
        for k in range(width):
            codes[:, start + k] = 48 + value // 10 ** (width - 1 - k) % 10
    for position, char in ((10, "T"), (13, ":"), (16, ":"), (19, "."), (23, "Z")):
        codes[:, position] = ord(char)
    return _chars(codes)


def _date_pool(first_day: int, days: int) -> tuple[str, ...]:
    """``YYYY-MM-DD`` for each of ``days`` days from epoch day ``first_day``."""
    span = np.arange(first_day, first_day + days, dtype=np.int64).astype("datetime64[D]")
    return tuple(np.datetime_as_string(span, unit="D").tolist())


def _multi_select(
    rng: np.random.Generator,
    present: Bools,
    options: Sequence[str],
    odds: Sequence[float],
    stale: Sequence[str] = (),
    stale_rate: float = 0.0,
) -> Obj:
    """A multi-select column: ``;``-joined options, each chosen with its own odds.

    Each row gets at least one option; ``stale_rate`` of them also get one stale value.
    Combinations are encoded as bit masks and each distinct mask is joined once.
    """
    n = len(present)
    labels = list(options) + list(stale)
    masks = np.zeros(n, dtype=np.int64)
    for bit, p in enumerate(odds):
        masks |= _chance(rng, n, p).astype(np.int64) << bit
    empty = masks == 0
    masks[empty] = np.int64(1) << _pick(rng, int(empty.sum()), odds)
    if stale:
        aged = _chance(rng, n, stale_rate)
        masks[aged] |= np.int64(1) << (len(options) + rng.integers(0, len(stale), int(aged.sum())))
    pool = np.empty(1 << len(labels), dtype=object)
    for mask in np.unique(masks[present]).tolist():
        pool[mask] = ";".join(label for bit, label in enumerate(labels) if mask >> bit & 1)
    out = pool[masks]
    out[~present] = None
    return out


def _by_format(
    rng: np.random.Generator,
    n: int,
    formats: Sequence[Callable[[Bools], Strs]],
    weights: Sequence[float],
) -> Strs:
    """Give each row one of ``formats`` (by weight) and build it."""
    which = _pick(rng, n, weights)
    out = np.full(n, "", dtype=_STR)
    for k, build in enumerate(formats):
        rows = which == k
        if rows.any():
            out[rows] = build(rows)
    return out


# ---------------------------------------------------------------------------------------
# Phone numbers (ranges reserved for fiction only)
# ---------------------------------------------------------------------------------------

_US_AREAS: Final = ("212", "312", "415", "617", "512", "206", "303", "404", "646", "718", "416")
_PLANS: Final = ("us", "uk", "fr", "au", "intl")


def _us_phone(rng: np.random.Generator, n: int) -> Strs:
    """NANP numbers in 555-0100..0199, in the formats people type them."""
    area = np.array(_US_AREAS, dtype=_STR)[rng.integers(0, len(_US_AREAS), n)]
    line = _cat("01", _digits(rng, n, 2))
    ext = _text(rng.integers(1, 400, n))
    formats: tuple[Callable[[Bools], Strs], ...] = (
        lambda m: _cat("+1 (", area[m], ") 555-", line[m]),
        lambda m: _cat(area[m], ".555.", line[m]),
        lambda m: _cat("(", area[m], ")555", line[m], " ext ", ext[m]),
        lambda m: _cat(area[m], "-555-", line[m]),
        lambda m: _cat("+1", area[m], "555", line[m]),
        lambda m: _cat(area[m], "555", line[m]),
        lambda m: _cat("1-", area[m], "-555-", line[m]),
        lambda m: _cat("(", area[m], ") 555-", line[m]),
        lambda m: _cat("001 ", area[m], " 555 ", line[m]),
    )
    return _by_format(rng, n, formats, (0.2, 0.12, 0.04, 0.2, 0.1, 0.1, 0.06, 0.15, 0.03))


def _uk_phone(rng: np.random.Generator, n: int, mobile: bool) -> Strs:
    """Ofcom drama numbers (020 7946 0xxx, 07700 900xxx), in several formats."""
    tail = _cat("900", _digits(rng, n, 3)) if mobile else _cat("0", _digits(rng, n, 3))
    head, local = ("7700", "07700") if mobile else ("20 7946", "020 7946")
    formats: tuple[Callable[[Bools], Strs], ...] = (
        lambda m: _cat(f"+44 {head} ", tail[m]),
        lambda m: _cat(f"0044 {head} ", tail[m]),
        lambda m: _cat(f"{local} ", tail[m]),
        lambda m: _cat(f"+44 (0){head} ", tail[m]),
        lambda m: _cat(local.replace(" ", ""), tail[m]),
    )
    return _by_format(rng, n, formats, (0.35, 0.15, 0.3, 0.1, 0.1))


def _fr_phone(rng: np.random.Generator, n: int, mobile: bool) -> Strs:
    """ARCEP fiction numbers (01 99 00 xx xx, 06 39 98 xx xx)."""
    pair1, pair2 = _digits(rng, n, 2), _digits(rng, n, 2)
    lead, block = ("6", "39 98") if mobile else ("1", "99 00")
    dotted = block.replace(" ", ".")
    formats: tuple[Callable[[Bools], Strs], ...] = (
        lambda m: _cat(f"+33 {lead} {block} ", pair1[m], " ", pair2[m]),
        lambda m: _cat(f"0{lead} {block} ", pair1[m], " ", pair2[m]),
        lambda m: _cat(f"0033 {lead} {block} ", pair1[m], " ", pair2[m]),
        lambda m: _cat(f"0{lead}.{dotted}.", pair1[m], ".", pair2[m]),
    )
    return _by_format(rng, n, formats, (0.4, 0.35, 0.1, 0.15))


def _au_phone(rng: np.random.Generator, n: int) -> Strs:
    """ACMA fiction numbers (02 5550 xxxx)."""
    tail = _digits(rng, n, 4)
    formats: tuple[Callable[[Bools], Strs], ...] = (
        lambda m: _cat("+61 2 5550 ", tail[m]),
        lambda m: _cat("(02) 5550 ", tail[m]),
        lambda m: _cat("02 5550 ", tail[m]),
    )
    return _by_format(rng, n, formats, (0.4, 0.3, 0.3))


def _phones(rng: np.random.Generator, plan: Ints, mobile: bool) -> Strs:
    """One phone number per entry of ``plan``, which indexes :data:`_PLANS`."""
    out = np.full(len(plan), "", dtype=_STR)
    builders: tuple[Callable[[int], Strs], ...] = (
        lambda k: _us_phone(rng, k),
        lambda k: _uk_phone(rng, k, mobile),
        lambda k: _fr_phone(rng, k, mobile),
        lambda k: _au_phone(rng, k),
        # Elsewhere, a fictional UK or US number dialled from abroad.
        lambda k: np.where(_chance(rng, k, 0.6), _uk_phone(rng, k, mobile), _us_phone(rng, k)),
    )
    for k, build in enumerate(builders):
        rows = plan == k
        count = int(rows.sum())
        if count:
            out[rows] = build(count)
    return out


# ---------------------------------------------------------------------------------------
# The generator
# ---------------------------------------------------------------------------------------


class _Generator:
    """Draws one frame's columns; each method fills a group of related columns.

    Attributes set along the way (``stage``, ``country``...) are the hidden facts that
    keep the columns consistent with each other (a customer has a customer code, a
    Londoner a London postcode). The methods run in a fixed order, which fixes the
    random stream: reordering them changes every frame (and ``contacts.csv``).
    """

    def __init__(self, n: int, seed: int, start_id: int, now_ms: int) -> None:
        self.n = n
        self.rng = np.random.default_rng(seed)
        self.start_id = start_id
        self.now_ms = now_ms
        self.cols: dict[str, Obj] = {}

    def run(self) -> dict[str, Obj]:
        """Draw every column."""
        self._timeline()
        self._people()
        self._duplicates()
        self._names()
        self._place()
        self._company()
        self._emails()
        self._phones()
        self._funnel()
        self._customer()
        self._preferences()
        self._free_text()
        return self.cols

    def _some(self, p: float) -> Ints:
        """The rows (positions) that come up True with probability ``p``."""
        return np.flatnonzero(_chance(self.rng, self.n, p))

    # -- ids and time ------------------------------------------------------------------

    def _timeline(self) -> None:
        n, rng = self.n, self.rng
        ids = np.arange(self.start_id, self.start_id + n, dtype=np.int64)
        self.cols["hs_object_id"] = ids.astype(np.str_).astype(object)
        span = PORTAL_AGE_DAYS * _DAY_MS
        # More contacts arrive as the portal grows; ids follow creation order.
        age = (span * rng.random(n) ** 0.7).astype(np.int64)
        created = np.sort(self.now_ms - span + age)
        stretch = rng.random(n) ** 0.25
        modified = created + ((self.now_ms - created) * stretch).astype(np.int64)
        quiet = _chance(rng, n, 0.04)  # never touched since creation
        modified[quiet] = created[quiet]
        self.created = created
        self.modified = np.minimum(modified, self.now_ms)
        self.cols["createdate"] = _iso_ms(created).astype(object)
        self.cols["lastmodifieddate"] = _iso_ms(self.modified).astype(object)

    # -- who they are ------------------------------------------------------------------

    def _people(self) -> None:
        n, rng = self.n, self.rng
        culture = _pick(rng, n, [c.weight for c in _CULTURES])
        first_sizes = np.array([len(c.first.shown) for c in _CULTURES])
        last_sizes = np.array([len(c.last.shown) for c in _CULTURES])
        first_offset = np.concatenate([[0], np.cumsum(first_sizes)[:-1]])
        last_offset = np.concatenate([[0], np.cumsum(last_sizes)[:-1]])
        self.first = first_offset[culture] + (rng.random(n) * first_sizes[culture]).astype(np.int64)
        self.last = last_offset[culture] + (rng.random(n) * last_sizes[culture]).astype(np.int64)
        self.culture = culture
        self.has_company = _chance(rng, n, 0.78)
        # A few big accounts hold many contacts (Zipf-like), most hold a handful.
        ranks = np.arange(1, len(_COMPANIES) + 1, dtype=np.float64)
        self.company = _pick(rng, n, list(1.0 / ranks**0.7))
        country_names = [k.name for k in _COUNTRIES]
        home = np.array([-1 if c.home is None else country_names.index(c.home) for c in _CULTURES])
        anywhere = _pick(rng, n, [c.weight for c in _COUNTRIES])
        at_home = (home[culture] >= 0) & _chance(rng, n, 0.6)
        self.country = np.where(at_home, home[culture], anywhere)
        city_sizes = np.array([len(c.cities) for c in _COUNTRIES])
        self.city = (rng.random(n) * city_sizes[self.country]).astype(np.int64)

    def _duplicates(self) -> None:
        """Pick the later records of earlier people and copy who they are."""
        n, rng = self.n, self.rng
        dup = _chance(rng, n, MESS_RATES["duplicate_person"])
        originals = np.flatnonzero(~dup)
        # How many originals precede each row; a duplicate copies one of the recent ones.
        before = np.searchsorted(originals, np.arange(n))
        dup &= before > 0
        rows = np.flatnonzero(dup)
        back = np.minimum(rng.geometric(0.002, len(rows)), before[rows])
        source = originals[before[rows] - back]
        for attribute in ("first", "last", "culture", "has_company", "company", "country", "city"):
            values = getattr(self, attribute)
            values[rows] = values[source]
        self.dup_rows, self.dup_source = rows, source
        # How the duplicate's email relates to the original's: case (0), second (1), none (2).
        self.dup_email = _pick(rng, len(rows), (0.45, 0.40, 0.15))

    def _names(self) -> None:
        n, rng = self.n, self.rng
        cultures = _CULTURES
        self.first_slug = np.array([s for c in cultures for s in c.first.slugs], dtype=_STR)[
            self.first
        ]
        self.last_slug = np.array([s for c in cultures for s in c.last.slugs], dtype=_STR)[
            self.last
        ]
        first = _from_pool([s for c in cultures for s in c.first.shown], self.first)
        last = _from_pool([s for c in cultures for s in c.last.shown], self.last)
        rows = self.dup_rows
        respell_first = rows[_chance(rng, len(rows), 0.5)]
        respell_last = rows[_chance(rng, len(rows), 0.25)]
        first_variants = [s for c in cultures for s in c.first.variants]
        last_variants = [s for c in cultures for s in c.last.variants]
        first[respell_first] = _from_pool(first_variants, self.first[respell_first])
        last[respell_last] = _from_pool(last_variants, self.last[respell_last])

        kind = _pick(rng, n, (0.02, 0.02, 0.03, 0.01, 0.92))  # upper, lower, padded, full, clean
        for code, change in ((0, np.strings.upper), (1, np.strings.lower)):
            chosen = kind == code
            first[chosen] = change(_as_str(first[chosen]))
            last[chosen] = change(_as_str(last[chosen]))
        padded = np.flatnonzero(kind == 2)
        pads = (lambda s: _cat(" ", s), lambda s: _cat(s, " "), lambda s: _cat("  ", s, "  "))
        style = rng.integers(0, len(pads), len(padded))
        on_first = _chance(rng, len(padded), 0.5)
        for k, pad in enumerate(pads):
            chosen_first = padded[(style == k) & on_first]
            chosen_last = padded[(style == k) & ~on_first]
            first[chosen_first] = pad(_as_str(first[chosen_first]))
            last[chosen_last] = pad(_as_str(last[chosen_last]))
        full = kind == 3
        first[full] = _cat(_as_str(first[full]), " ", _as_str(last[full]))
        last[full] = None
        first[_chance(rng, n, MESS_RATES["firstname_missing"])] = None
        # Together with the full names above, lastname_missing of the rows lack one.
        last[_chance(rng, n, MESS_RATES["lastname_missing"] - MESS_RATES["name_full_in_first"])] = (
            None
        )
        self.cols["firstname"] = first
        self.cols["lastname"] = last
        self.cols["salutation"] = _from_pool(
            _SALUTATIONS, rng.integers(0, len(_SALUTATIONS), n), _chance(rng, n, 0.12)
        )
        days = 54 * 365
        born = _date_pool(-20 * 365 - 5, days)  # 1950-01-01 to 2003
        self.cols["date_of_birth"] = _from_pool(
            born, rng.integers(0, days, n), _chance(rng, n, 0.12)
        )

    def _place(self) -> None:
        n, rng = self.n, self.rng
        has_country = _chance(rng, n, 0.62)
        country = _from_pool([c.name for c in _COUNTRIES], self.country, has_country)
        variant = has_country & _chance(rng, n, MESS_RATES["country_variant"] / 0.62)
        for k, spec in enumerate(_COUNTRIES):
            rows = np.flatnonzero(variant & (self.country == k))
            choice = rng.integers(0, len(spec.variants), len(rows))
            country[rows] = _from_pool(spec.variants, choice)
        self.cols["country"] = country

        cities = [city for spec in _COUNTRIES for city in spec.cities]
        offsets = np.concatenate([[0], np.cumsum([len(c.cities) for c in _COUNTRIES])[:-1]])
        where = offsets[self.country] + self.city
        has_city = _chance(rng, n, 0.55)
        city = _from_pool([c.name for c in cities], where, has_city)
        lower = np.flatnonzero(has_city & _chance(rng, n, 0.02))
        city[lower] = np.strings.lower(_as_str(city[lower]))
        self.cols["city"] = city
        self.cols["state"] = _from_pool(
            [c.state for c in cities], where, has_city & _chance(rng, n, 0.8)
        )
        postal = np.array([bool(c.zip) for c in cities])[where]
        rows = np.flatnonzero(has_city & postal & _chance(rng, n, 0.75))
        zips = np.full(len(rows), "", dtype=_STR)
        for k, place in enumerate(cities):
            chosen = where[rows] == k
            if place.zip and chosen.any():
                zips[chosen] = _template(rng, int(chosen.sum()), place.zip)
        self.cols["zip"] = _scatter(n, rows, zips)
        self.cols["region"] = _from_pool(
            [c.region for c in _COUNTRIES], self.country, _chance(rng, n, 0.5)
        )
        self.cols["hs_timezone"] = _from_pool([c.tz for c in cities], where, _chance(rng, n, 0.3))
        language = np.array([_LANGUAGES.index(c.language) for c in _COUNTRIES])[self.country]
        other = _chance(rng, n, 0.15)
        language[other] = rng.integers(0, len(_LANGUAGES), int(other.sum()))
        self.cols["hs_language"] = _from_pool(_LANGUAGES, language, _chance(rng, n, 0.35))

        rows = self._some(0.35)
        number = rng.integers(1, 2400, len(rows))
        address = np.full(len(rows), "", dtype=_STR)
        style_of = np.array([list(_STREETS).index(c.streets) for c in _COUNTRIES])
        style = style_of[self.country[rows]]
        for k, (number_last, streets) in enumerate(_STREETS.values()):
            chosen = style == k
            count = int(chosen.sum())
            if not count:
                continue
            street = np.array(streets, dtype=_STR)[rng.integers(0, len(streets), count)]
            if number_last:  # Hauptstraße 12: short streets, small numbers
                address[chosen] = _cat(street, " ", _text(number[chosen] % 180 + 1))
            else:
                address[chosen] = _cat(_text(number[chosen]), " ", street)
        suite = _chance(rng, len(rows), 0.1)
        address[suite] = _cat(
            address[suite], ", Suite ", _text(rng.integers(100, 900, int(suite.sum())))
        )
        self.cols["address"] = _scatter(n, rows, address)

    def _company(self) -> None:
        n, rng = self.n, self.rng
        has = self.has_company
        company = _from_pool(_COMPANIES, self.company, has)
        bare = np.flatnonzero(has & _chance(rng, n, 0.05))
        company[bare] = _from_pool(_COMPANIES_BARE, self.company[bare])
        shouting = np.flatnonzero(has & _chance(rng, n, 0.03))
        company[shouting] = np.strings.upper(_as_str(company[shouting]))
        self.cols["company"] = company
        self.company_slug = np.array(_COMPANY_SLUGS, dtype=_STR)[self.company]
        rows = np.flatnonzero(has & _chance(rng, n, 0.5))
        domain = np.strings.add(self.company_slug[rows], ".example")
        forms = (
            ("https://www.", ""),
            ("http://", "/"),
            ("www.", ""),
            ("", ""),
            ("https://", "/contact"),
        )
        which = _pick(rng, len(rows), (0.4, 0.1, 0.25, 0.15, 0.1))
        website = np.full(len(rows), "", dtype=_STR)
        for k, (head, tail) in enumerate(forms):
            chosen = which == k
            website[chosen] = _cat(head, domain[chosen], tail)
        self.cols["website"] = _scatter(n, rows, website)
        self.cols["jobtitle"] = _from_pool(
            _JOB_TITLES, rng.integers(0, len(_JOB_TITLES), n), _chance(rng, n, 0.62)
        )

    # -- emails ------------------------------------------------------------------------

    def _emails(self) -> None:
        """Emails: clean, then invalid, unique, then case and padding, then duplicates."""
        n, rng = self.n, self.rng
        dups = self.dup_rows
        missing = _chance(rng, n, MESS_RATES["email_missing"])
        missing[dups] = self.dup_email == 2
        copied = np.zeros(n, dtype=bool)
        copied[dups[self.dup_email == 0]] = True
        second = np.zeros(n, dtype=bool)
        second[dups[self.dup_email == 1]] = True
        rows = np.flatnonzero(~missing & ~copied)  # rows with an address of their own
        m = len(rows)

        f, last = self.first_slug[rows], self.last_slug[rows]
        initial = np.strings.slice(f, 0, 1)
        year = _text(rng.integers(1960, 2006, m))
        number = _text(rng.integers(10, 100, m))
        patterns: tuple[Callable[[Bools], Strs], ...] = (
            lambda k: _cat(f[k], ".", last[k]),
            lambda k: _cat(f[k], last[k]),
            lambda k: _cat(initial[k], ".", last[k]),
            lambda k: _cat(initial[k], last[k]),
            lambda k: f[k],
            lambda k: _cat(f[k], "_", last[k]),
            lambda k: _cat(f[k], ".", last[k], number[k]),
            lambda k: _cat(last[k], ".", f[k]),
            lambda k: _cat(f[k], year[k]),
        )
        local = _by_format(rng, m, patterns, (0.4, 0.1, 0.08, 0.08, 0.06, 0.06, 0.1, 0.06, 0.06))
        personal = np.array(_PERSONAL_DOMAINS, dtype=_STR)[_pick(rng, m, _PERSONAL_WEIGHTS)]
        at_work = self.has_company[rows] & _chance(rng, m, 0.75)
        # A second address for a known person is of the other kind (work ↔ personal).
        at_work = np.where(second[rows], ~at_work, at_work)
        slug = self.company_slug[rows]
        domain = np.where(at_work, np.strings.add(slug, ".example"), personal)
        root = np.where(at_work, slug, "example")
        separator = np.full(m, "@", dtype=_STR)

        invalid = np.flatnonzero(_chance(rng, m, MESS_RATES["email_invalid"]))
        kind = _pick(rng, len(invalid), (2, 2, 2, 1, 1, 1, 1, 1))
        for code in range(8):
            k = invalid[kind == code]
            match code:
                case 0:
                    domain[k] = ""  # ann.lee@
                case 1:
                    local[k] = _cat(f[k], " ", last[k])  # ann lee@example.com
                case 2:
                    domain[k] = root[k]  # ann@example
                case 3:
                    separator[k] = "@@"  # ann@@example.com
                case 4:
                    separator[k] = " at "  # ann at example.com
                case 5:
                    domain[k] = np.strings.replace(domain[k], ".", ",")  # ann@example,com
                case 6:
                    local[k] = _cat("mailto:", local[k])
                case _:
                    domain[k] = _cat(domain[k], "; info@", domain[k])  # two in one field

        # Distinct people never share an address: number the later ones, as mail hosts
        # do. Everything is lower case here, so exact uniqueness is case-insensitive too.
        email = _cat(local, separator, domain).astype(object)
        for _ in range(12):
            clash = np.flatnonzero(pd.Series(email, dtype=object).duplicated().to_numpy())
            if not len(clash):
                break
            local[clash] = _cat(local[clash], _text(rng.integers(1, 1000, len(clash))))
            email[clash] = _cat(local[clash], separator[clash], domain[clash])
        else:  # pragma: no cover - twelve rounds always suffice
            raise RuntimeError("could not make generated emails unique")

        casing = np.flatnonzero(_chance(rng, m, MESS_RATES["email_mixed_case"]))
        style = rng.integers(0, 3, len(casing))
        chosen = casing[style == 0]
        email[chosen] = np.strings.title(_as_str(email[chosen]))  # Ann.Lee@Contoso.Example
        chosen = casing[style == 1]
        email[chosen] = np.strings.upper(_as_str(email[chosen]))  # ANN.LEE@CONTOSO.EXAMPLE
        chosen = casing[style == 2]
        email[chosen] = _cat(np.strings.title(local[chosen]), separator[chosen], domain[chosen])
        padded = np.flatnonzero(_chance(rng, m, MESS_RATES["email_padded"]))
        pads = (("", " "), (" ", ""), (" ", " "), ("", "\u00a0"), ("", "\t"))
        style = _pick(rng, len(padded), (0.35, 0.25, 0.2, 0.1, 0.1))
        for k, (before, after) in enumerate(pads):
            chosen = padded[style == k]
            email[chosen] = _cat(before, _as_str(email[chosen]), after)

        out = _scatter(n, rows, email)
        # The same person again, the address in another case: HubSpot saw a new contact.
        targets = dups[self.dup_email == 0]
        original = out[self.dup_source[self.dup_email == 0]]
        has = pd.notna(original)
        text = _as_str(original[has])
        lowered = np.strings.lower(text)
        out[targets[has]] = np.where(lowered == text, np.strings.title(text), lowered)
        # Two copies of one original in the same case would be one address twice.
        exact = pd.Series(out, dtype=object)
        out[exact.notna().to_numpy() & exact.duplicated().to_numpy()] = None
        self.cols["email"] = out

        rows = self._some(0.07)
        handle = np.strings.slice(
            _cat(
                self.first_slug[rows],
                np.where(_chance(rng, len(rows), 0.3), "_", ""),
                self.last_slug[rows],
            ),
            0,
            15,
        )
        style = _pick(rng, len(rows), (0.75, 0.2, 0.05))
        twitter = np.where(
            style == 0,
            _cat("@", handle),
            np.where(style == 1, handle, _cat("https://twitter.com/", handle)),
        )
        self.cols["twitterhandle"] = _scatter(n, rows, twitter)

    # -- phones ------------------------------------------------------------------------

    def _phones(self) -> None:
        n, rng = self.n, self.rng
        plan = np.array([_PLANS.index(c.phone) for c in _COUNTRIES])[self.country]
        shares = (
            ("phone", 1 - MESS_RATES["phone_missing"], False),
            ("mobilephone", 0.3, True),
            ("fax", 0.04, False),
            ("assistant_phone", 0.03, False),
        )
        for name, share, mobile in shares:
            rows = self._some(share)
            self.cols[name] = _scatter(n, rows, _phones(rng, plan[rows], mobile))
        rows = self._some(0.06)
        # WhatsApp numbers are copied from the app: no spaces, and 00 written as +.
        whatsapp = np.strings.replace(_phones(rng, plan[rows], mobile=True), " ", "")
        abroad = np.strings.startswith(whatsapp, "00")
        whatsapp[abroad] = _cat("+", np.strings.slice(whatsapp[abroad], 2, None))
        self.cols["whatsapp_number"] = _scatter(n, rows, whatsapp)

    # -- sales funnel ------------------------------------------------------------------

    def _funnel(self) -> None:
        n, rng = self.n, self.rng
        stage = _pick(rng, n, _LIFECYCLE_WEIGHTS)
        has_stage = ~_chance(rng, n, 0.05)
        self.stage = np.where(has_stage, stage, -1)
        self.customer = (self.stage == 5) | (self.stage == 6)
        lifecycle = _from_pool(_LIFECYCLE, stage, has_stage)
        # An old import wrote labels, or a stage the portal no longer has; only these
        # three stages have an old form, so their share is scaled up to the overall rate.
        old = ((0, "prospect"), (1, "Lead"), (5, "Customer"))
        share = sum(_LIFECYCLE_WEIGHTS[code] for code, _ in old) / sum(_LIFECYCLE_WEIGHTS)
        aged = has_stage & _chance(rng, n, STALE_RATES["lifecyclestage"] / share)
        for code, value in old:
            lifecycle[aged & (stage == code)] = value
        self.cols["lifecyclestage"] = lifecycle

        working = (self.stage >= 1) & (self.stage <= 4)
        status = _pick(rng, n, _LEAD_STATUS_WEIGHTS)
        status[(self.stage == 4) & _chance(rng, n, 0.6)] = _LEAD_STATUS.index("OPEN_DEAL")
        has_status = np.where(working, _chance(rng, n, 0.7), _chance(rng, n, 0.15))
        self.cols["hs_lead_status"] = self._with_stale(
            "hs_lead_status", _from_pool(_LEAD_STATUS, status, has_status), has_status
        )
        owned = np.where(self.customer | working, _chance(rng, n, 0.95), _chance(rng, n, 0.45))
        self.cols["hubspot_owner_id"] = _from_pool(_OWNERS, _pick(rng, n, _OWNER_WEIGHTS), owned)
        self.cols["hs_persona"] = _from_pool(
            _PERSONAS, _pick(rng, n, (0.4, 0.3, 0.2, 0.1)), _chance(rng, n, 0.25)
        )
        # Industry, size and revenue belong to the company, so its contacts agree.
        companies = len(_COMPANIES)
        has_industry = self.has_company & _chance(rng, n, 0.55)
        industry = _pick(rng, companies, _INDUSTRY_WEIGHTS)[self.company]
        self.cols["industry"] = self._with_stale(
            "industry", _from_pool(_INDUSTRIES, industry, has_industry), has_industry
        )
        has_size = self.has_company & _chance(rng, n, 0.45)
        size = _pick(rng, companies, _EMPLOYEE_WEIGHTS)[self.company]
        self.cols["numemployees"] = self._with_stale(
            "numemployees", _from_pool(_EMPLOYEES, size, has_size), has_size
        )
        revenue = rng.integers(10, 100, companies) * 10 ** rng.integers(4, 9, companies) * 100
        rows = np.flatnonzero(self.has_company & _chance(rng, n, 0.3))
        cents = revenue[self.company[rows]]
        cents[_chance(rng, len(rows), 0.05)] += 50  # "1250000.5": typed by hand
        self.cols["annualrevenue"] = _scatter(n, rows, _number_text(cents))

        drawn = np.clip(rng.normal(25 + 10 * np.maximum(self.stage, 0), 20), 1, 100)
        score = np.where(_chance(rng, n, 0.35), 0, drawn).astype(np.int64)
        self.cols["hubspotscore"] = _from_pool(
            [str(k) for k in range(101)], score, _chance(rng, n, 0.85)
        )
        deals = np.where(
            self.customer,
            rng.integers(1, 6, n),
            np.where(self.stage == 4, rng.integers(1, 3, n), 0),
        )
        self.cols["num_associated_deals"] = _from_pool(
            [str(k) for k in range(6)], deals, _chance(rng, n, 0.9)
        )
        # Demos are booked on the quarter hour, between creation and the last change.
        rows = np.flatnonzero(((self.stage >= 2) & _chance(rng, n, 0.3)) | _chance(rng, n, 0.03))
        quarter = 15 * 60 * 1000
        first_slot = -(-self.created[rows] // quarter) * quarter
        slots = (self.modified[rows] - first_slot) // quarter
        rows, first_slot, slots = rows[slots >= 0], first_slot[slots >= 0], slots[slots >= 0]
        when = first_slot + (slots * rng.random(len(rows))).astype(np.int64) * quarter
        self.cols["last_demo_at"] = _scatter(n, rows, _iso_ms(when))
        self.cols["product_interest"] = _multi_select(
            rng,
            (self.stage >= 1) & _chance(rng, n, 0.35),
            _PRODUCTS,
            _PRODUCT_ODDS,
            STALE_VALUES["product_interest"],
            STALE_RATES["product_interest"],
        )
        self.cols["hs_buying_role"] = _multi_select(
            rng, (self.stage >= 3) & _chance(rng, n, 0.4), _BUYING_ROLES, _BUYING_ROLE_ODDS
        )

    def _with_stale(self, name: str, column: Obj, present: Bools) -> Obj:
        """Replace a share of the set values with values the portal no longer offers."""
        stale = STALE_VALUES[name]
        rows = np.flatnonzero(present & _chance(self.rng, self.n, STALE_RATES[name]))
        column[rows] = _from_pool(stale, self.rng.integers(0, len(stale), len(rows)))
        return column

    def _customer(self) -> None:
        n, rng = self.n, self.rng
        customer = self.customer
        churned = (self.stage == 7) & _chance(rng, n, 0.3)
        rows = np.flatnonzero((customer & _chance(rng, n, 0.95)) | churned)
        # Unique codes: distinct numbers drawn without replacement.
        code = 100000 + rng.choice(max(n, 900000), len(rows), replace=False)
        self.cols["customer_code"] = _scatter(n, rows, _cat("CU-", _text(code)))
        has_tier = customer & _chance(rng, n, 0.85)
        tier = _from_pool(_TIERS, _pick(rng, n, _TIER_WEIGHTS), has_tier)
        self.cols["customer_tier"] = self._with_stale("customer_tier", tier, has_tier)
        seats = np.clip(np.exp(rng.normal(2.5, 1.2, n)), 1, 2000).astype(np.int64)
        self.cols["seats"] = _from_pool(
            [str(k) for k in range(2001)], seats, customer & _chance(rng, n, 0.9)
        )
        rows = np.flatnonzero(customer & _chance(rng, n, 0.8))
        price = np.array(_SEAT_PRICES_CENTS)[rng.integers(0, len(_SEAT_PRICES_CENTS), len(rows))]
        self.cols["contract_value"] = _scatter(n, rows, _number_text(seats[rows] * price * 12))
        discounted = (customer & _chance(rng, n, 0.4)) | ((self.stage == 4) & _chance(rng, n, 0.2))
        self.cols["discount_rate"] = _from_pool(
            _DISCOUNTS, _pick(rng, n, (3, 4, 1, 3, 3, 2, 1, 0.5)), discounted
        )
        renewals = _date_pool(int(self.now_ms // _DAY_MS) - 60, 460)
        self.cols["renewal_date"] = _from_pool(
            renewals, rng.integers(0, len(renewals), n), customer & _chance(rng, n, 0.85)
        )
        nps = np.clip(np.round(rng.normal(8, 2.2, n)), 0, 10).astype(np.int64)
        answered = np.where(customer, _chance(rng, n, 0.4), _chance(rng, n, 0.03))
        self.cols["nps_score"] = _from_pool([str(k) for k in range(11)], nps, answered)
        self.cols["is_beta_tester"] = _from_pool(
            _BOOLS, np.where(customer & _chance(rng, n, 0.4), 0, 1), _chance(rng, n, 0.1)
        )

    def _preferences(self) -> None:
        n, rng = self.n, self.rng
        self.cols["hs_email_optout"] = _from_pool(
            _BOOLS, np.where(_chance(rng, n, 0.12), 0, 1), _chance(rng, n, 0.6)
        )
        self.cols["newsletter_opt_in"] = _from_pool(
            _BOOLS, np.where(_chance(rng, n, 0.6), 0, 1), _chance(rng, n, 0.45)
        )
        self.cols["hs_legal_basis"] = _multi_select(
            rng, _chance(rng, n, 0.35), _LEGAL_BASES, _LEGAL_BASIS_ODDS
        )
        self.cols["preferred_contact_method"] = _from_pool(
            _CONTACT_METHODS, _pick(rng, n, (0.6, 0.25, 0.1, 0.05)), _chance(rng, n, 0.2)
        )
        self.cols["preferred_channels"] = _multi_select(
            rng, _chance(rng, n, 0.18), _CHANNELS, _CHANNEL_ODDS
        )

    def _free_text(self) -> None:
        n, rng = self.n, self.rng
        self.cols["message"] = _from_pool(
            _MESSAGES, rng.integers(0, len(_MESSAGES), n), _chance(rng, n, 0.06)
        )
        self.cols["onboarding_notes"] = _from_pool(
            _ONBOARDING_NOTES,
            rng.integers(0, len(_ONBOARDING_NOTES), n),
            self.customer & _chance(rng, n, 0.25),
        )
        self.cols["referral_source"] = _from_pool(
            _REFERRALS, rng.integers(0, len(_REFERRALS), n), _chance(rng, n, 0.05)
        )


def _check_definitions(by_name: Mapping[str, Mapping[str, Any]]) -> None:
    """Refuse definitions that lack an option the generator draws (they would drift)."""
    for name, drawn in _DRAWN_OPTIONS.items():
        definition = by_name.get(name)
        if definition is None:
            continue
        options = {option.get("value") for option in definition.get("options") or ()}
        missing = sorted(set(drawn) - options)
        if missing:
            raise ValueError(
                f"property {name!r} has no option(s) {missing}, which the generator draws; "
                "update properties.json or the generator's vocabulary in seed.py"
            )


def generate_contacts(
    n: int,
    *,
    seed: int = 0,
    properties: list[dict[str, Any]] | None = None,
    start_id: int = 1001,
    now: datetime | None = None,
) -> pd.DataFrame:
    """Generate ``n`` realistic, messy contacts as wire strings (the frame contract).

    The same arguments always give the same frame, on any day: ``now`` defaults to the
    fixed :data:`DEFAULT_NOW`, not the clock. Distributions, mess and stale values are
    those the module docstring lists; ``data/samples/contacts.csv`` is this function's
    output for ``(SAMPLE_SIZE, seed=SAMPLE_SEED)``.

    Args:
        n: How many contacts (rows).
        seed: Seed for :func:`numpy.random.default_rng`.
        properties: Property definitions to generate against (defaults to
            :func:`load_properties`). Only properties defined there become columns
            (``hs_object_id``, ``createdate`` and ``lastmodifieddate`` always do), and
            every enumeration option the generator draws must be defined.
        start_id: The first contact id; ids are ``start_id, start_id + 1, ...``.
        now: The instant the data is "as of": no timestamp is later. A naive datetime
            is taken as UTC.

    Returns:
        A frame with a ``RangeIndex`` and ``object`` columns (:data:`COLUMNS`, in that
        order, restricted to defined properties) holding ``str`` or ``None``.

    Raises:
        ValueError: ``n`` is negative, ``start_id`` is below 1, or ``properties`` lacks
            an option the generator draws.

    Example:
        >>> frame = generate_contacts(3, seed=7)
        >>> frame["hs_object_id"].tolist()
        ['1001', '1002', '1003']
        >>> frame.equals(generate_contacts(3, seed=7))
        True
    """
    if n < 0:
        raise ValueError(f"n must be zero or more, not {n}")
    if start_id < 1:
        raise ValueError(f"start_id must be a positive contact id, not {start_id}")
    definitions = load_properties() if properties is None else properties
    by_name = {str(d["name"]): d for d in definitions}
    _check_definitions(by_name)
    instant = now or DEFAULT_NOW
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    now_ms = int(instant.timestamp() * 1000)
    names = [c for c in COLUMNS if c in by_name or c in _ALWAYS]
    if n == 0:
        return pd.DataFrame({c: np.empty(0, dtype=object) for c in names}, dtype=object)
    columns = _Generator(n, seed, start_id, now_ms).run()
    return pd.DataFrame({c: columns[c] for c in names}, dtype=object, copy=False)
