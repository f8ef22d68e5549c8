"""The package stays a standalone library with a stable public surface."""

from __future__ import annotations

import ast
from pathlib import Path

import app.instagram as package

PACKAGE_DIR = Path(package.__file__).parent


def test_imports_nothing_from_the_rest_of_app() -> None:
    for source in PACKAGE_DIR.glob("*.py"):
        tree = ast.parse(source.read_text(), filename=str(source))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                assert (
                    name == "app.instagram"
                    or name.startswith("app.instagram.")
                    or not (name == "app" or name.startswith("app."))
                ), f"{source.name} imports {name}"


def test_public_names_resolve() -> None:
    for name in package.__all__:
        assert getattr(package, name) is not None


def test_client_operations_exist() -> None:
    operations = {
        "authorize_url",
        "exchange_code",
        "exchange_long_lived",
        "refresh_token",
        "get_me",
        "get_user",
        "list_media",
        "list_stories",
        "get_media",
        "create_image_container",
        "create_story_container",
        "create_reel_container",
        "create_carousel_item_container",
        "create_carousel_container",
        "get_container_status",
        "publish_container",
        "get_publishing_limit",
        "get_media_insights",
        "get_account_insights",
        "aclose",
    }
    assert operations <= set(dir(package.InstagramClient))
