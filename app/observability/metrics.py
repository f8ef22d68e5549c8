"""Prometheus metrics: HTTP traffic by route template, and what the service does with Instagram."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

HTTP_REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
INSTAGRAM_CALLS = Counter(
    "instagram_api_calls_total",
    "Calls made to the Instagram API, by operation and outcome.",
    ["operation", "outcome"],
)
INSTAGRAM_LATENCY = Histogram(
    "instagram_api_call_duration_seconds",
    "Duration of calls to the Instagram API, by operation.",
    ["operation"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32),
)
POSTS_FINISHED = Counter(
    "posts_finished_total",
    "Posts that reached a final state, by kind and state.",
    ["kind", "status"],
)
PUBLISH_SECONDS = Histogram(
    "post_publish_duration_seconds",
    "From a post being due to it being published, by kind.",
    ["kind"],
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 1800),
)
JOBS = Counter("jobs_total", "Background jobs run, by function and outcome.", ["function", "outcome"])
REFRESH_FAILURES = Counter(
    "background_refresh_failures_total",
    "Insights or token refreshes that failed, by task.",
    ["task"],
)
WORKER_HEARTBEAT = Gauge(
    "worker_last_heartbeat_timestamp_seconds",
    "Unix time of the last worker heartbeat seen by this process.",
)


def render_metrics() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST
