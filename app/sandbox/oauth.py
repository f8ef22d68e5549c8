"""`www.instagram.com/oauth/authorize` and `api.instagram.com/oauth/access_token`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.responses import Response

from app.sandbox import auth
from app.sandbox.dependencies import SandboxDep, run_detached
from app.sandbox.errors import AuthorizeError, GraphError, OAuthCodeError
from app.sandbox.pages import USERNAME_RULE, consent_page, error_page
from app.sandbox.params import read_params
from app.sandbox.pipeline import SandboxResetError, after_processing, before_processing
from app.sandbox.state import Sandbox

router = APIRouter(tags=["oauth"])


@router.get("/oauth/authorize", response_class=HTMLResponse)
async def authorize_window(request: Request, sandbox: SandboxDep) -> Response:
    """The authorization window: a consent page with a username field, Allow and Cancel."""
    params = dict(request.query_params)
    return await run_detached(
        sandbox, _authorize(sandbox, params, request.url.query, form=None, origin=_origin(request))
    )


@router.post("/oauth/authorize", response_class=HTMLResponse)
async def authorize_decision(request: Request, sandbox: SandboxDep) -> Response:
    """The consent form: `username` and `action` (allow, the default, or cancel) → 302 to the redirect URI."""
    form = await request.form()
    fields = {key: value for key, value in form.multi_items() if isinstance(value, str)}
    params = dict(request.query_params)
    return await run_detached(
        sandbox, _authorize(sandbox, params, request.url.query, form=fields, origin=_origin(request))
    )


def _origin(request: Request) -> str:
    """Where the browser opened this page (scheme, host and port), for the redirect URI check."""
    return f"{request.url.scheme}://{request.url.netloc}"


async def _authorize(
    sandbox: Sandbox, params: dict[str, str], query: str, form: dict[str, str] | None, origin: str
) -> Response:
    try:
        fault = await before_processing(
            sandbox, "authorize", method="GET" if form is None else "POST", path="/oauth/authorize"
        )
        if fault is not None and fault.kind != "response_lost":
            error = fault.as_error()
            return HTMLResponse(error_page(error.message), status_code=error.http_status)
        request = auth.validate_authorize(sandbox, params, origin)
    except AuthorizeError as exc:
        return HTMLResponse(error_page(exc.message), status_code=exc.http_status)
    except SandboxResetError:
        return HTMLResponse(error_page("The sandbox was reset."), status_code=500)
    app_name = f"Sandbox app {sandbox.settings.app_id}"
    if form is None:
        return HTMLResponse(consent_page(app_name=app_name, scopes=request.scopes, query=query))
    if form.get("action", "allow").lower() == "cancel":
        return RedirectResponse(auth.deny(request), status_code=302)
    username = auth.normalise_username(form.get("username", ""))
    if username is None:
        page = consent_page(
            app_name=app_name,
            scopes=request.scopes,
            query=query,
            error=f"Enter a valid username. {USERNAME_RULE}",
            username=form.get("username", ""),
        )
        return HTMLResponse(page, status_code=400)
    return RedirectResponse(auth.approve(sandbox, request, username), status_code=302)


@router.post("/oauth/access_token")
async def access_token(request: Request, sandbox: SandboxDep) -> Response:
    """Exchange an authorization code for a short-lived token (form fields, as Instagram takes them)."""
    try:
        params = await read_params(request)
    except GraphError:  # a malformed JSON body: answered as missing fields
        params = {}
    return await run_detached(sandbox, _access_token(sandbox, params))


async def _access_token(sandbox: Sandbox, params: dict[str, str]) -> Response:
    try:
        fault = await before_processing(sandbox, "access_token", method="POST", path="/oauth/access_token")
        if fault is not None and fault.kind != "response_lost":
            error = fault.as_error()
            raise OAuthCodeError(error.message, http_status=error.http_status)
        body = auth.exchange_code(sandbox, params)
        lost = await after_processing(fault)
        if lost is not None:
            raise OAuthCodeError(lost.message, http_status=lost.http_status)
        return JSONResponse(body)
    except OAuthCodeError as exc:
        return JSONResponse(exc.body(), status_code=exc.http_status)
    except SandboxResetError:
        return JSONResponse(OAuthCodeError("The sandbox was reset.", http_status=500).body(), status_code=500)
