"""Answers of the inbound webhook endpoint."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DeliveryReceived(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"received": True, "duplicate": False}]})

    received: bool = Field(default=True, description="The delivery is stored; it is processed in the background.")
    duplicate: bool = Field(description="The same body was received before: nothing new was stored.")
