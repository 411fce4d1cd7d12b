"""pyproject.toml lists every package of the checkout (setuptools' `find` cannot map api/ to
calipso_api), so an installed Calipso is never missing one."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_directory_is_listed_in_pyproject() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    found = {".".join(("calipso_api", *init.parent.relative_to(ROOT / "api").parts))
             for init in (ROOT / "api").rglob("__init__.py")}
    found |= {".".join(init.parent.relative_to(ROOT).parts)
              for init in (ROOT / "calipso_core").rglob("__init__.py")}
    assert listed == found
