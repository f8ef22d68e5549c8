"""Text from clients that the database can store: PostgreSQL's `text` cannot hold the NUL character.

A JSON string may carry `\\u0000`; stored as-is it makes asyncpg fail (a 500). It is refused as bad input
instead, naming the field, before anything is created.
"""

from __future__ import annotations

from typing import Any


def _find_nul(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _find_nul(item, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _find_nul(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def refuse_nul_characters(data: Any) -> Any:
    """A `model_validator(mode="before")`: ValueError naming the first field whose text holds a NUL."""
    field = _find_nul(data, "")
    if field is not None:
        raise ValueError(f"{field or 'request body'} must not contain the NUL character (\\u0000)")
    return data
