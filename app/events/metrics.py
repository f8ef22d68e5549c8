"""Prometheus metrics of the outbox and the webhook deliveries (served at /metrics with the rest)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

EVENTS_RECORDED = Counter("events_recorded_total", "Events written to the outbox, by type.", ["type"])
WEBHOOK_DELIVERIES = Counter(
    "webhook_deliveries_total",
    "Webhook delivery attempts, by event type and outcome (success, http_error, timeout, network_error).",
    ["event_type", "outcome"],
)
WEBHOOK_DELIVERY_SECONDS = Histogram(
    "webhook_delivery_duration_seconds",
    "Duration of webhook delivery attempts, by outcome.",
    ["outcome"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
WEBHOOK_ENDPOINTS_DISABLED = Counter(
    "webhook_endpoints_disabled_total", "Endpoints disabled after failing for WEBHOOK_DISABLE_AFTER_SECONDS."
)
