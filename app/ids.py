"""Record ids from clients, range-checked before they reach the database.

Our primary keys are 64-bit (`BigIntPK`: PostgreSQL `bigint`, SQLite `INTEGER`). A larger number is a
well-formed id that no record can have, so it answers 404 like any unknown id, instead of reaching
asyncpg and failing with an overflow (a 500). Ids below 1 stay 400: the contract says ids start at 1.

Use `DbId` wherever a route, a query parameter or a body field takes a record id: routes change only by
swapping `int` for it (`db_id: Annotated[DbId, Path()]`). `validation_is_unknown_id` lets the error
handler turn such a failure into the 404 of the resource the field names.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

# The largest value of a signed 64-bit integer: PostgreSQL's bigint and SQLite's INTEGER.
DB_ID_MAX = 2**63 - 1
# Any other client integer that is stored or compared in SQL (cursors, counts) stays within this too.
INT64_MAX = DB_ID_MAX

UNKNOWN_ID = "unknown_id"

# Which resource a field's id names, for the 404 it answers: (message, code).
_RESOURCES: dict[str, tuple[str, str]] = {
    "account_id": ("Account not found", "account_not_found"),
    "account_ids": ("Account not found", "account_not_found"),
    "db_id": ("Post not found", "post_not_found"),
    "webhook_id": ("Webhook endpoint not found", "webhook_not_found"),
    "delivery_id": ("Delivery not found", "delivery_not_found"),
}


def _storable(value: int) -> int:
    if value > DB_ID_MAX:
        raise PydanticCustomError(UNKNOWN_ID, "no record has this id (ids are at most 2^63-1)")
    return value


# `maximum` is documented so that clients (and fuzzers) know the range; it is enforced by _storable,
# which answers 404 rather than pydantic's 400 for a number above it.
DbId = Annotated[int, Field(ge=1, json_schema_extra={"maximum": DB_ID_MAX}), AfterValidator(_storable)]


def validation_is_unknown_id(errors: Iterable[dict[str, Any]]) -> tuple[str, str] | None:
    """(message, code) of the 404 to answer when every validation error is an id no record can have."""
    errors = list(errors)
    if not errors or any(error.get("type") != UNKNOWN_ID for error in errors):
        return None
    names = [str(part) for part in errors[0].get("loc", ()) if isinstance(part, str)]
    for name in reversed(names):
        if name in _RESOURCES:
            return _RESOURCES[name]
    return ("Not found", "not_found")
