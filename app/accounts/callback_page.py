"""The end of the OAuth flow in a browser: a small page instead of raw JSON.

Used only when the browser asks for HTML and no OAUTH_SUCCESS_REDIRECT is set; API clients (which send
`Accept: application/json` or `*/*`) keep the JSON answer. The status code is the same either way.
"""

from __future__ import annotations

from html import escape

from fastapi import Request
from fastapi.responses import HTMLResponse

from app.accounts.schemas import AccountOut
from app.errors import AppError

# Swagger UI deep links (tag sections) where the next step is.
DOCS_OAUTH = "/docs#/oauth"
DOCS_PUBLISHING = "/docs#/publishing"

_STYLE = """
body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;background:#fafafa;margin:0;color:#262626}
main{max-width:480px;margin:48px auto;background:#fff;border:1px solid #dbdbdb;border-radius:8px;padding:32px}
h1{font-size:22px;margin:0 0 12px}h1.ok{color:#1a7f37}h1.failed{color:#c62828}
p,li{line-height:1.5}code{background:#f3f3f3;padding:1px 4px;border-radius:4px}
a.button{display:inline-block;margin-top:12px;padding:10px 16px;border-radius:8px;background:#0095f6;color:#fff;
text-decoration:none;font-weight:600}
"""


def wants_html(request: Request) -> bool:
    """A browser navigating here (Accept names text/html and not JSON); API clients get JSON."""
    accept = request.headers.get("accept", "").lower()
    return "text/html" in accept and "application/json" not in accept


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<link rel="icon" href="/favicon.ico"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><main>{body}</main></body></html>"
    )


def connected_page(account: AccountOut) -> HTMLResponse:
    """ "Connected @username", the account id, and what to do next."""
    name = escape(account.account_name)
    body = (
        f'<h1 class="ok" id="result">Connected @{name}</h1>'
        f"<p>The Instagram account <strong>@{name}</strong> is connected as "
        f'<code id="account-id">account_id {account.id}</code>.</p>'
        "<p>Next:</p><ul>"
        "<li>publish a post with <code>POST /api/sns/instagram/posts</code> and "
        f'<code>"account_id": {account.id}</code>'
        f' (<a href="{DOCS_PUBLISHING}">in Swagger UI</a>);</li>'
        "<li>see it with <code>GET /api/sns/instagram/media?account_id="
        f"{account.id}</code>.</li></ul>"
        "<p>You can close this window.</p>"
    )
    return HTMLResponse(_page(f"Connected @{account.account_name}", body))


def error_page(exc: AppError) -> HTMLResponse:
    """The error in words, with a link to start the connection again; same status as the JSON answer."""
    body = (
        '<h1 class="failed" id="result">The Instagram account was not connected</h1>'
        f'<p id="error">{escape(exc.message)}</p>'
        "<p>Nothing was stored. Start again: ask for a new authorization URL "
        "(<code>GET /api/sns/instagram/oauth/authorize</code>) and open it.</p>"
        f'<a class="button" id="start-again" href="{DOCS_OAUTH}">Start again</a>'
    )
    return HTMLResponse(
        _page("Instagram account not connected", body), status_code=exc.status_code, headers=exc.headers
    )
