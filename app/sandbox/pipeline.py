"""What happens to every call between its receipt and its processing: hold, latency, fault."""

from __future__ import annotations

import asyncio

from app.sandbox.errors import GraphError
from app.sandbox.state import Sandbox
from app.sandbox.switches import Fault


class SandboxResetError(Exception):
    """The sandbox was reset while the call was held."""


async def before_processing(
    sandbox: Sandbox, endpoint: str, *, method: str, path: str, variant: str | None = None
) -> Fault | None:
    """Wait if a hold is armed, sleep the configured latency, then draw a fault (None if none is armed).

    A `timeout` fault is served here (a long sleep, then normal processing); the other kinds are returned to
    the caller, which answers them before (error, throttle, server_error) or after (response_lost) processing.
    """
    switches = sandbox.switches
    held = switches.holds.claim(endpoint, method, path, sandbox.now().isoformat())
    if held is not None and not await switches.holds.wait(held):
        raise SandboxResetError
    delay = switches.latency.seconds_for(endpoint, variant)
    if delay > 0:
        await asyncio.sleep(delay)
    fault = sandbox.switches.faults.take(endpoint)
    if fault is not None and fault.kind == "timeout":
        await asyncio.sleep(fault.seconds)
        return None
    return fault


async def after_processing(fault: Fault | None) -> GraphError | None:
    """For a `response_lost` fault: the error to answer instead of the result (or a long sleep, then None)."""
    if fault is None or fault.kind != "response_lost":
        return None
    if fault.mode == "timeout":
        await asyncio.sleep(fault.seconds)
        return None
    return fault.as_error()
