"""One Graph call as the handlers see it: its parameters, its token's user, the node in its path."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from app.sandbox.models import User
from app.sandbox.state import Sandbox
from app.sandbox.switches import Fault
from app.sandbox.tokens import TokenClaims


@dataclass(frozen=True, slots=True)
class GraphCall:
    """What the sandbox kept of the HTTP request (the processing may outlive the request)."""

    method: str
    url: str
    path: str
    params: dict[str, str]
    token: str | None


@dataclass(slots=True)
class GraphContext:
    """A call being processed: set up by the pipeline, read by the handlers."""

    sandbox: Sandbox
    call: GraphCall
    node_id: str | None = None
    claims: TokenClaims | None = None
    token_user: User | None = None
    fault: Fault | None = None

    @property
    def user(self) -> User:
        """The token's user (handlers of authenticated routes only)."""
        if self.token_user is None:  # pragma: no cover - wiring error
            raise RuntimeError("this route was declared without authentication")
        return self.token_user

    @property
    def params(self) -> dict[str, str]:
        return self.call.params


Handler = Callable[[GraphContext], Awaitable[dict[str, Any]]]
