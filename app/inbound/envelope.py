"""Reading a delivery's body: the changes it carries, whatever envelope Instagram wrapped them in.

`{"object": "instagram", "entry": [...]}` where an entry is `{"id": <ig user id>, "time", ...}` with either
`changes: [{field, value}]` (Facebook Login, and Instagram Login in practice) or a flat `field` + `value`
(Instagram Login's documentation), or `messaging: [...]` (direct messages, which this service does not handle:
they stay in the stored body).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class Change:
    """One `{field, value}` for one Instagram account."""

    ig_user_id: str
    field: str
    value: dict[str, Any]
    time: datetime | None


@dataclass
class Parsed:
    changes: list[Change] = field(default_factory=list)
    messaging: int = 0  # messaging[] items seen (kept in the body, not processed)
    problems: list[str] = field(default_factory=list)  # what could not be read, for the log


class NotAnEnvelope(ValueError):
    """The body is not a JSON object with an `entry` list."""


def entry_time(raw: object) -> datetime | None:
    """Unix seconds (milliseconds in the messaging envelope) as an aware UTC datetime."""
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw <= 0:
        return None
    seconds = raw / 1000 if raw > 10**11 else raw
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def decode(body: bytes) -> dict[str, Any]:
    """The body as a JSON object (NotAnEnvelope otherwise)."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise NotAnEnvelope("the body is not JSON") from exc
    if not isinstance(payload, dict):
        raise NotAnEnvelope("the body is not a JSON object")
    return payload


def parse(payload: dict[str, Any]) -> Parsed:
    """Every change of every entry, in order; anything malformed is noted, never raised."""
    parsed = Parsed()
    entries = payload.get("entry")
    if not isinstance(entries, list):
        parsed.problems.append("no entry list")
        return parsed
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str | int) or isinstance(entry["id"], bool):
            parsed.problems.append(f"entry[{index}] has no id")
            continue
        ig_user_id = str(entry["id"])
        time = entry_time(entry.get("time"))
        items: list[object] = []
        if isinstance(entry.get("changes"), list):
            items.extend(entry["changes"])
        if "field" in entry:
            items.append({"field": entry.get("field"), "value": entry.get("value")})
        if isinstance(entry.get("messaging"), list):
            parsed.messaging += len(entry["messaging"])
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("field"), str):
                parsed.problems.append(f"entry[{index}] has a change without a field")
                continue
            value = item.get("value")
            if not isinstance(value, dict):
                parsed.problems.append(f"entry[{index}] {item['field']}: value is not an object")
                continue
            parsed.changes.append(Change(ig_user_id, item["field"], value, time))
    return parsed
