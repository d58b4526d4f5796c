"""A local emulator of HubSpot's CRM contacts API (the sandbox).

Users rehearse a bulk correction on a copy before touching production, demos and notebooks
run offline on it, and every test of hsframe talks to it. ``Sandbox`` is the one object
most code needs::

    from hsframe.sandbox import Sandbox

    with Sandbox(contacts=5_000, latency=0.05) as sb:   # real HTTP on 127.0.0.1
        client = hs.connect(token=sb.token, base_url=sb.url)

The parts are public too, for tests that assemble their own: the pure core
(``SandboxCore``), its two front doors (``SandboxServer`` and ``SandboxAdapter``), the CRM
knobs (``CrmSettings``), rate-limit tiers and the seed data.

It imports nothing from the client side of hsframe, so a bug in the client's codec
cannot hide itself by being mirrored here.
"""

from hsframe.sandbox.adapter import BASE_URL, SandboxAdapter
from hsframe.sandbox.core import RequestRecord, SandboxCore
from hsframe.sandbox.crm import CrmSettings
from hsframe.sandbox.facade import Sandbox
from hsframe.sandbox.faults import Fault
from hsframe.sandbox.limits import TIERS, Tier
from hsframe.sandbox.seed import generate_contacts, load_properties, sample_contacts
from hsframe.sandbox.server import SandboxServer

__all__ = [
    "BASE_URL",
    "TIERS",
    "CrmSettings",
    "Fault",
    "RequestRecord",
    "Sandbox",
    "SandboxAdapter",
    "SandboxCore",
    "SandboxServer",
    "Tier",
    "generate_contacts",
    "load_properties",
    "sample_contacts",
]
