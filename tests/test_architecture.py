"""The package's shape: imports flow one way, and the sandbox stands apart from the client.

DESIGN.md orders the modules along the data flow; each may import only modules before it.
The sandbox must import nothing from the client side, so that a codec bug cannot hide by
being mirrored in the emulator. These checks read the source (ast), so they run in
milliseconds and name the offending import.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "hsframe"

# Data-flow order (DESIGN.md's table, with three swaps the code needs: ratelimit before
# transport, which spends the budget; baseline before load, which registers it; widgets
# before accessor, whose df.hs.review() opens the review widget). Modules split out of the
# table's larger ones sit next to them: rules before validate (which rules apply, without
# Great Expectations), plan/send/result around write, corrections after it, recovery after
# journal, csvfiles before cli; cleanup, expectations, terminal and demo are additions.
ORDER = [
    "errors",
    "config",
    "ratelimit",
    "transport",
    "client",
    "schema",
    "baseline",
    "load",
    "diff",
    "cleanup",
    "rules",
    "validate",
    "expectations",
    "plan",
    "send",
    "result",
    "write",
    "corrections",
    "journal",
    "recovery",
    "widgets",
    "accessor",
    "sandbox",
    "terminal",
    "demo",
    "csvfiles",
    "cli",
]


def _module_key(path: Path) -> str:
    """The top-level concept a file belongs to (``hsframe/sandbox/store.py`` → sandbox)."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def _hsframe_imports(path: Path) -> set[str]:
    """The hsframe concepts a file imports, absolute or relative."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    depth = len(path.relative_to(PACKAGE).parts) - 1
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "hsframe" and len(parts) > 1:
                    found.add(parts[1])
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if node.level > depth + 1:
                    continue
                base = list(path.relative_to(PACKAGE).parts[: depth + 1 - node.level])
                target = base + (node.module.split(".") if node.module else [])
                if target:
                    found.add(target[0])
                else:
                    found.update(alias.name for alias in node.names)
            elif node.module and node.module.split(".")[0] == "hsframe":
                parts = node.module.split(".")
                if len(parts) > 1:
                    found.add(parts[1])
                else:
                    found.update(alias.name for alias in node.names)
    return found


def _sources() -> list[Path]:
    """Every module but the package's own ``__init__`` (the public facade imports all)."""
    top = PACKAGE / "__init__.py"
    return sorted(p for p in PACKAGE.rglob("*.py") if p != top)


def test_every_module_has_a_place_in_the_order() -> None:
    unknown = {_module_key(p) for p in _sources()} - set(ORDER)
    assert not unknown, f"add these modules to DESIGN.md's order and to ORDER: {sorted(unknown)}"


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_upstream(path: Path) -> None:
    me = _module_key(path)
    rank = ORDER.index(me)
    imported = _hsframe_imports(path) - {me}
    downstream = sorted(m for m in imported if m in ORDER and ORDER.index(m) > rank)
    assert not downstream, f"{path.name} ({me}) imports downstream modules {downstream}"


@pytest.mark.parametrize(
    "path",
    sorted((PACKAGE / "sandbox").rglob("*.py")),
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_sandbox_imports_nothing_from_the_client_side(path: Path) -> None:
    imported = _hsframe_imports(path) - {"sandbox"}
    assert not imported, f"the sandbox must stay independent; {path.name} imports {imported}"


def test_import_is_light() -> None:
    """`import hsframe` must not pull in Great Expectations or ipywidgets (lazy by design)."""
    code = (
        "import sys, hsframe\n"
        "heavy = [m for m in ('great_expectations', 'ipywidgets') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
