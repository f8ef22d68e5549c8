"""The house's boundaries, read from the source: who may import whom, and how long a module may grow."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "app"
MAX_MODULE_LINES = 400


def _modules(package: str = "") -> list[Path]:
    return sorted((APP / package).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, wherever in the file (lazy imports too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _name(path: Path) -> str:
    return "app." + ".".join(path.relative_to(APP).with_suffix("").parts)


def _offending(package: str, forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    offending: dict[str, list[str]] = {}
    for path in _modules(package):
        bad = sorted(m for m in _imports(path) if m.startswith(forbidden))
        if bad:
            offending[_name(path)] = bad
    return offending


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        # Other domains depend on accounts, never the reverse (publishing hooks into disconnecting instead).
        ("accounts", ("app.publishing", "app.insights")),
        # Neutral ground: publishing and the sandbox both use it.
        ("media", ("app.publishing", "app.sandbox", "app.accounts", "app.insights")),
        # A standalone library.
        ("instagram", ("app.accounts", "app.publishing", "app.insights", "app.sandbox", "app.failures", "app.jobs")),
    ],
)
def test_a_package_imports_only_what_it_may(package: str, forbidden: tuple[str, ...]) -> None:
    assert _offending(package, forbidden) == {}


def test_the_product_imports_the_sandbox_only_to_mount_it() -> None:
    importers = {
        _name(path)
        for path in _modules()
        if not path.is_relative_to(APP / "sandbox") and any(m.startswith("app.sandbox") for m in _imports(path))
    }
    assert importers == {"app.main"}


def test_no_module_outside_the_sandbox_is_over_400_lines() -> None:
    long = {
        _name(path): lines
        for path in _modules()
        if not path.is_relative_to(APP / "sandbox") and (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}
