"""Routes: connect an account (OAuth), list and disconnect accounts, read an account's profile and media."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from app.accounts import callback_page, disconnect, flows, service, subscriptions
from app.accounts.dependencies import DetachedAccountQuery, OwnedAccount
from app.accounts.oauth_state import InvalidState
from app.accounts.schemas import (
    AccountInfo,
    AccountOut,
    AuthorizeUrl,
    ConnectedAccount,
    MediaItem,
    MediaPage,
    MessageOut,
)
from app.auth.dependencies import CurrentUser
from app.config import OAUTH_CALLBACK_PATH
from app.db import utcnow
from app.dependencies import ContextDep, PublicLinksDep, SessionDep, public_links_of, read_bind
from app.errors import AppError, BadRequest, error_responses
from app.openapi import API_PREFIX

router = APIRouter(prefix=API_PREFIX)

_AUTH_ERRORS = error_responses(401)


@router.get(
    "/oauth/authorize",
    tags=["oauth"],
    summary="Get the Instagram authorization URL",
    response_model=AuthorizeUrl,
    responses=_AUTH_ERRORS,
)
async def get_authorize_url(user: CurrentUser, ctx: ContextDep, links: PublicLinksDep) -> AuthorizeUrl:
    """The URL to open in the user's browser. Its `state` is signed, names the user, expires in 10 minutes
    and works once. Scopes are today's `instagram_business_*` ones (INSTAGRAM_SCOPES). Without
    PUBLIC_BASE_URL (development), its redirect URI is on the address this request came to."""
    url, ttl = flows.authorize_url(ctx, user.id, links)
    return AuthorizeUrl(auth_url=url, expires_at=utcnow() + ttl)


@router.get(
    "/callback",
    tags=["oauth"],
    summary="OAuth callback (Instagram redirects the browser here)",
    response_model=ConnectedAccount,
    responses={
        200: {
            "description": "Connected. A browser (`Accept: text/html`) gets a small page saying so instead.",
            "content": {"text/html": {"example": "<h1>Connected @john_doe</h1>"}},
        },
        302: {"description": "Redirect to OAUTH_SUCCESS_REDIRECT with `status`, `account_id` or `error`"},
        **error_responses(
            400,
            502,
            examples={
                400: {
                    "error": "OAuth state was already used: start the connection again",
                    "code": "invalid_state",
                }
            },
        ),
    },
)
async def oauth_callback(
    request: Request,
    session: SessionDep,
    ctx: ContextDep,
    links: PublicLinksDep,
    state: Annotated[str | None, Query(description="The state from the authorize URL")] = None,
    code: Annotated[str | None, Query(description="The authorization code")] = None,
    error: Annotated[str | None, Query(description="Set by Instagram when the user cancelled")] = None,
    error_reason: str | None = None,
    error_description: str | None = None,
) -> Response:
    """No Bearer token here: the signed `state` names the user. Exchanges the code for a long-lived token,
    reads the profile and connects the account (reconnecting reactivates it). Forged, expired or replayed
    states, and cancelled consents, answer 400 and store nothing. Without OAUTH_SUCCESS_REDIRECT, a browser
    gets a small HTML page (connected, or the error in words) and API clients the JSON."""
    redirect = ctx.settings.oauth_success_redirect
    html = not redirect and callback_page.wants_html(request)
    try:
        if not state:
            raise BadRequest("state is required", code="invalid_state")
        if error:
            # Check the state even here, so a forged cancel is told apart from a real one.
            flows.read_state_or_raise(ctx, state)
            reason = error_description or error_reason or error
            raise BadRequest(f"Instagram authorization was not granted ({reason})", code="access_denied")
        account = await flows.connect_account(
            session,
            ctx,
            state=state,
            code=flows.require_code(code),
            # The browser arrived at the redirect URI the authorize request named: this very address.
            redirect_uri=links.base_url + OAUTH_CALLBACK_PATH,
        )
    except InvalidState as exc:
        # Answered, not raised (it may be a redirect): undo this request's writes here.
        await session.rollback()
        return _callback_error(BadRequest(str(exc), code="invalid_state"), redirect, html=html)
    except AppError as exc:
        await session.rollback()
        return _callback_error(exc, redirect, html=html)
    if redirect:
        return RedirectResponse(_with_query(redirect, status="success", account_id=str(account.id)), status_code=302)
    connected = service.to_account_out(account, links)
    if html:
        return callback_page.connected_page(connected)
    return JSONResponse(ConnectedAccount(account=connected).model_dump(mode="json"))


def _with_query(url: str, **params: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


def _callback_error(exc: AppError, redirect: str | None, *, html: bool) -> Response:
    if redirect:
        return RedirectResponse(
            _with_query(redirect, status="error", error=exc.code, message=exc.message), status_code=302
        )
    if html:
        return callback_page.error_page(exc)
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)


@router.get(
    "/accounts",
    tags=["accounts"],
    summary="List connected accounts",
    response_model=list[AccountOut],
    responses=_AUTH_ERRORS,
)
async def list_accounts(request: Request, user: CurrentUser) -> list[AccountOut]:
    """Every account the caller connected, disconnected ones included (`is_active: false`). Never a token."""
    # The database and the links without dependencies of their own: on the busiest read, FastAPI's solving of a
    # dependency costs more than the work. (The query runs after authentication: no token, no database.)
    return await service.list_owned_answers(read_bind(request), user.id, public_links_of(request))


@router.get(
    "/accounts/{account_id}",
    tags=["accounts"],
    summary="Get one connected account",
    response_model=AccountOut,
    responses=error_responses(401, 404),
)
async def get_account(account: OwnedAccount, links: PublicLinksDep) -> AccountOut:
    """One of the caller's accounts; another user's id answers 404."""
    return service.to_account_out(account, links)


@router.delete(
    "/accounts/{account_id}",
    tags=["accounts"],
    summary="Disconnect an account",
    response_model=MessageOut,
    responses=error_responses(401, 404),
)
async def disconnect_account(session: SessionDep, ctx: ContextDep, account: OwnedAccount) -> MessageOut:
    """Destroys the stored token, marks the account inactive and cancels its scheduled posts.
    Its published posts and their analytics are kept. Before the token goes, the account's Instagram webhooks
    are turned off (best effort; not when another user still has the same Instagram account connected)."""
    await subscriptions.unsubscribe_before_disconnect(session, ctx, account)
    await disconnect.disconnect_account(session, account)
    return MessageOut(message="Account disconnected successfully")


@router.get(
    "/account/info",
    tags=["accounts"],
    summary="Get an account's live profile",
    response_model=AccountInfo,
    responses=error_responses(400, 401, 404, 409, 429, 502),
)
async def account_info(request: Request, ctx: ContextDep, account: DetachedAccountQuery) -> AccountInfo:
    """Read from Instagram now (and cached on the account): `bio` is Instagram's `biography`,
    `following_count` its `follows_count`."""
    profile = await flows.read_profile(ctx, account)
    links = public_links_of(request)
    return AccountInfo(
        id=profile.user_id,
        username=profile.username,
        name=profile.name,
        bio=profile.biography,
        followers_count=profile.followers_count,
        following_count=profile.follows_count,
        profile_picture_url=links.absolute(profile.profile_picture_url),
        website=profile.website,
        account_type=service.account_type_label(profile.account_type),
        media_count=profile.media_count,
    )


@router.get(
    "/media",
    tags=["accounts"],
    summary="List an account's recent media",
    response_model=MediaPage,
    responses=error_responses(400, 401, 404, 409, 429, 502),
)
async def recent_media(
    request: Request,
    ctx: ContextDep,
    account: DetachedAccountQuery,
    limit: Annotated[int, Query(ge=1, le=100, description="Items per page (1–100)")] = 25,
    after: Annotated[str | None, Query(max_length=512, description="`next_cursor` of the previous page")] = None,
) -> MediaPage:
    """Newest first, read live from Instagram. `likes` is `like_count`, `comments` is `comments_count`,
    reels are reported as `REELS`; `next_cursor` is null on the last page."""
    page = await flows.recent_media(ctx, account, limit=limit, after=after)
    links = public_links_of(request)
    return MediaPage(
        posts=[
            MediaItem(
                id=m.id,
                caption=m.caption,
                media_type=flows.media_type_label(m),
                media_url=links.absolute(m.media_url),
                timestamp=m.timestamp,
                likes=m.like_count,
                comments=m.comments_count,
                permalink=m.permalink,
                thumbnail_url=links.absolute(m.thumbnail_url),
            )
            for m in page.items
        ],
        next_cursor=page.after,
    )
