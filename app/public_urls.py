"""Where browsers reach this service, and how URLs pointing at it are stored and answered.

PUBLIC_BASE_URL fixes the address (production requires it). Unset, in development, it follows the
server: `http://HOST:PORT` for work done outside a request (jobs, the CLI, the in-process sandbox's links),
and the address each request came to for what is answered to it. So `PORT=8765 make run`, a container's
mapped port or a browser on another machine all get links and an OAuth redirect that work.

A URL on this service itself (the sandbox's profile pictures) is stored as a path (`/sandbox/cdn/…`),
never with a host and port that may change, and made absolute again when it is answered. A request's links
(`PublicLinksDep`) come from app/dependencies.py: this module is the worker's too, which imports no FastAPI.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import ip_address
from urllib.parse import urlsplit

from app.config import Settings


@dataclass(frozen=True, slots=True)
class PublicLinks:
    """The links of one answer: this request's public base URL, and URLs on this service made absolute."""

    settings: Settings
    base_url: str

    def absolute(self, url: str | None) -> str | None:
        return for_answer(url, self.settings, self.base_url)


def stored_form(url: str | None, settings: Settings) -> str | None:
    """What to store for `url`: a path when it points at this service, else the URL itself."""
    if url and url.startswith(settings.public_base_url + "/"):
        return url[len(settings.public_base_url) :]
    return url


def for_answer(url: str | None, settings: Settings, base_url: str) -> str | None:
    """`url` (stored, or just received from the in-process sandbox) as the caller of `base_url` reaches it."""
    if not url:
        return url
    if url.startswith("/"):
        return base_url + url
    if url.startswith(settings.public_base_url + "/"):
        return base_url + url[len(settings.public_base_url) :]
    if settings.public_base_url_follows_request and _is_development_link(url):
        # Stored before links were kept as paths, with the port of a run long gone.
        parts = urlsplit(url)
        return base_url + parts.path + (f"?{parts.query}" if parts.query else "")
    return url


def _is_development_link(url: str) -> bool:
    parts = urlsplit(url)
    if not parts.path.startswith("/sandbox/"):
        return False
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False
