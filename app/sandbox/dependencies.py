"""The per-app sandbox state as a FastAPI dependency, and running a call so that it outlives its caller."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.responses import Response

from app.sandbox.state import Sandbox


def get_sandbox(request: Request) -> Sandbox:
    """The state of the sandbox app serving this request."""
    sandbox = request.app.state.sandbox
    if not isinstance(sandbox, Sandbox):  # pragma: no cover - wiring error
        raise RuntimeError("the sandbox app was built without its state")
    return sandbox


SandboxDep = Annotated[Sandbox, Depends(get_sandbox)]


async def run_detached(sandbox: Sandbox, processing: Coroutine[Any, Any, Response]) -> Response:
    """Process the call in its own task: a caller that disconnects or is cancelled doesn't stop it.

    Instagram's servers finish a `media_publish` whether or not the client is still there; so does the
    sandbox (in-process callers run the app inside their own task, which a timeout may cancel).
    """
    return await asyncio.shield(sandbox.spawn(processing))
