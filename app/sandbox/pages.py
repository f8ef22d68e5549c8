"""The HTML of the authorization window: the consent page and its error page."""

from __future__ import annotations

from html import escape

SCOPE_DESCRIPTIONS = {
    "instagram_business_basic": "Access your profile and media",
    "instagram_business_content_publish": "Publish posts, stories and reels on your behalf",
    "instagram_business_manage_insights": "Read insights about your account and media",
    "instagram_business_manage_comments": "Read and manage comments on your media",
    "instagram_business_manage_messages": "Read and send direct messages",
}

# Instagram's own rule; the browser shows it beside "Please match the requested format".
USERNAME_RULE = "Up to 30 letters, digits, periods (.) and underscores (_); no hyphens or spaces."

_STYLE = """
body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;background:#fafafa;margin:0}
main{max-width:420px;margin:48px auto;background:#fff;border:1px solid #dbdbdb;border-radius:8px;padding:32px}
h1{font-size:20px;margin:0 0 8px}p.note{color:#737373;font-size:13px}ul{padding-left:20px}
label{display:block;margin:16px 0 4px;font-weight:600}
input[type=text]{width:100%;padding:8px;box-sizing:border-box}
.buttons{display:flex;gap:8px;margin-top:20px}button{flex:1;padding:10px;border-radius:8px;border:0;font-weight:600}
button[value=allow]{background:#0095f6;color:#fff}button[value=cancel]{background:#efefef}
.error{color:#ed4956}
"""


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><main>{body}</main></body></html>"
    )


def consent_page(
    *, app_name: str, scopes: tuple[str, ...], query: str, error: str | None = None, username: str = ""
) -> str:
    """Instagram's consent step: who is asking, for what, as whom; Allow or Cancel."""
    items = "".join(
        f"<li><strong>{escape(scope)}</strong> — {escape(SCOPE_DESCRIPTIONS.get(scope, scope))}</li>"
        for scope in scopes
    )
    error_html = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    body = (
        f"<h1>{escape(app_name)} would like to access your Instagram account</h1>"
        '<p class="note">Instagram Platform sandbox: no password needed. Any username works; a new one '
        "creates a business account.</p>"
        f'<p>Requested permissions:</p><ul id="scopes">{items}</ul>{error_html}'
        f'<form method="post" action="?{escape(query)}">'
        '<label for="username">Username</label>'
        f'<input type="text" id="username" name="username" value="{escape(username)}" required '
        f'pattern="@?[A-Za-z0-9._]{{1,30}}" title="{USERNAME_RULE}" aria-describedby="username-hint" '
        'autocomplete="username" autofocus>'
        f'<p class="note" id="username-hint">{USERNAME_RULE}</p>'
        '<div class="buttons">'
        '<button type="submit" name="action" value="cancel" formnovalidate>Cancel</button>'
        '<button type="submit" name="action" value="allow">Allow</button>'
        "</div></form>"
    )
    return _page("Log in with Instagram", body)


def error_page(message: str) -> str:
    """What Instagram shows when the authorize request itself is wrong."""
    return _page(
        "Error",
        f'<h1>Sorry, this page isn\'t available.</h1><p class="error" id="error">{escape(message)}</p>',
    )
