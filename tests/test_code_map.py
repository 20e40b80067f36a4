"""The README's code map names every module of the tree: a module added or renamed without
its line in the map fails here."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PORTAL = ROOT / "portal"


def _code_map() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Plan du code")
    end = readme.find("\n## ", start + 1)
    return readme[start : end if end != -1 else None]


def _named(text: str) -> set[str]:
    return set(re.findall(r"`([^`]+)`", text))


def test_every_top_level_module_and_package_is_in_the_code_map() -> None:
    named = _named(_code_map())
    missing = [
        f"portal/{path.name}"
        for path in sorted(PORTAL.iterdir())
        if (path.suffix == ".py" or (path.is_dir() and (path / "__init__.py").exists()))
        and path.name != "blueprints"
        and f"portal/{path.name}" not in named
        and f"portal/{path.name}/" not in named
    ]
    assert missing == []


def test_every_module_of_a_domain_package_is_in_its_line() -> None:
    code_map = _code_map()
    missing = []
    for package in sorted(PORTAL.iterdir()):
        if not (package / "__init__.py").exists() or package.name in {"blueprints", "models"}:
            continue
        line = next(
            (item for item in code_map.split("\n- ") if f"`portal/{package.name}/`" in item), ""
        )
        named = _named(line)
        missing += [
            f"{package.name}/{module.name}"
            for module in sorted(package.glob("*.py"))
            if module.name != "__init__.py" and module.name not in named
        ]
    assert missing == []


def test_every_blueprint_is_in_the_code_map() -> None:
    named = _named(_code_map())
    blueprints = [p.name for p in (PORTAL / "blueprints").iterdir() if (p / "__init__.py").exists()]
    assert [name for name in sorted(blueprints) if name not in named] == []
