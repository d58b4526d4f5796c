"""Every docstring example in the package runs as written.

Examples are documentation first: a reader copies them. Each module's examples run here,
found by walking the package, so a new module is covered without anyone listing it. They
run in an empty working directory, since some write journals or ``.env`` files to ``.``.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import hsframe

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(hsframe.__path__, prefix="hsframe.")
    if not info.name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_the_docstring_examples_run(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HSFRAME_JOURNAL_DIR", str(tmp_path / "journal"))
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
