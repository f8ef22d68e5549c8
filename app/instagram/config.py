"""Settings for one Instagram app: credentials, endpoints, timeouts and the retry budget."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class InstagramConfig:
    """Where the Instagram Platform API lives and how patiently we talk to it.

    Base URLs may carry a path prefix (the sandbox serves everything under e.g.
    `http://localhost:8000/sandbox`), so paths are appended to them as strings, never resolved as
    relative URLs, which would drop the prefix.
    """

    app_id: str
    # repr=False: the config ends up in debug output and tracebacks; the secret must not.
    app_secret: str = field(repr=False)
    graph_version: str = "v25.0"
    authorize_base_url: str = "https://www.instagram.com"
    token_base_url: str = "https://api.instagram.com"  # noqa: S105 - a URL, not a secret
    graph_base_url: str = "https://graph.instagram.com"
    timeout_seconds: float = 30.0
    max_attempts: int = 4
    retry_budget_seconds: float = 20.0
    # One pool for every call of the process: at 0.5 s an answer, 200 callers at once need 200 connections.
    max_connections: int = 500
    # An idle connection is kept this long. Under the 5 s of common servers (uvicorn's default), so the client
    # never reuses a connection the server is closing at that very moment.
    keepalive_seconds: float = 4.0

    def __post_init__(self) -> None:
        # Fail when the client is built, not on the first call in the middle of a request.
        if not self.app_id or not self.app_secret:
            raise ValueError("app_id and app_secret are required")
        for name in ("authorize_base_url", "token_base_url", "graph_base_url"):
            url: str = getattr(self, name)
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{name} must start with http:// or https://")
        if not self.graph_version.startswith("v"):
            raise ValueError("graph_version looks like 'v25.0'")
        if self.timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.retry_budget_seconds < 0:
            raise ValueError("retry_budget_seconds must not be negative")
        if self.max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        if self.keepalive_seconds <= 0:
            raise ValueError("keepalive_seconds must be positive")

    @property
    def connect_timeout_seconds(self) -> float:
        """Connecting is quick or hopeless; cap it so a dead host fails fast even with a long read timeout."""
        return min(5.0, self.timeout_seconds)


def join_url(base: str, path: str) -> str:
    """Append `path` to `base` keeping any prefix `base` carries (`.../sandbox` + `oauth/x`)."""
    return f"{base.rstrip('/')}/{path.lstrip('/')}"
