"""Routes of Meta's callbacks: deauthorize, data deletion, and the deletion's public status page.

No Bearer token on these: Meta signs the two callbacks with the app secret (`signed_request`, verified before
anything is read or changed), and the status page is keyed by an unguessable confirmation code.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path

from app.dependencies import ContextDep, PublicLinksDep, SessionDep
from app.errors import NotFound, error_responses
from app.inbound import deletion
from app.inbound.callback_schemas import (
    EXAMPLE_CODE,
    DataDeletionOut,
    DataDeletionStatusOut,
    DeauthorizeOut,
    MetaSignedRequest,
)
from app.inbound.callbacks import parse_signed_request
from app.inbound.models import DataDeletionStatus
from app.openapi import API_PREFIX

logger = logging.getLogger(__name__)

router = APIRouter(prefix=API_PREFIX, tags=["meta-callbacks"])

DATA_DELETION_PATH = "/data-deletion"
# The job that removes uploads due for removal (rows, then files); woken after a deletion so files go at once.
EXPIRE_UPLOADS_JOB = "expire_uploads"

_SIGNED_REQUEST_ERRORS = error_responses(
    400,
    examples={
        400: {
            "error": "signed_request: the signature does not match (signed with another app secret?)",
            "code": "invalid_signed_request",
        }
    },
)

SignedRequestForm = Annotated[MetaSignedRequest, Form()]

ConfirmationCode = Annotated[
    str,
    Path(
        description="The confirmation code the data-deletion callback answered.",
        examples=[EXAMPLE_CODE],
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
    ),
]


@router.post(
    "/deauthorize",
    summary="Meta's deauthorize callback (the user removed the app)",
    response_model=DeauthorizeOut,
    responses=_SIGNED_REQUEST_ERRORS,
)
async def deauthorize(form: SignedRequestForm, session: SessionDep, ctx: ContextDep) -> DeauthorizeOut:
    """Meta POSTs here (the App Dashboard's *Deauthorize callback URL*) when a user removes the app in Instagram.
    Every account connected with that Instagram user id, whichever web-app user connected it, is disconnected:
    token destroyed, unpublished posts cancelled, `account.disconnected` emitted with `cause: "app_removed"`;
    post history kept. No call to Instagram is made (the authorization is already gone). An account connected
    again after Meta issued the request is left connected. Idempotent: a repeated call changes nothing and answers
    200. A missing, forged or malformed `signed_request` answers 400 and changes nothing."""
    signed = parse_signed_request(form.signed_request, ctx.settings.app_secret)
    accounts = await deletion.deauthorize(session, signed.user_id, signed.issued_at)
    logger.info("instagram app removed by the user", extra={"account_ids": [a.id for a in accounts]})
    return DeauthorizeOut(message="Deauthorization recorded", accounts_disconnected=len(accounts))


@router.post(
    DATA_DELETION_PATH,
    summary="Meta's data-deletion callback (the user asked for their data to be deleted)",
    response_model=DataDeletionOut,
    responses=_SIGNED_REQUEST_ERRORS,
)
async def data_deletion(
    form: SignedRequestForm, session: SessionDep, ctx: ContextDep, links: PublicLinksDep
) -> DataDeletionOut:
    """Meta POSTs here (the App Dashboard's *Data deletion request URL*) when a user asks for their data to be
    deleted, and shows them the answer: the `url` of a status page and a `confirmation_code`. The deletion is done
    before answering, for every account with that Instagram user id: token destroyed and account disconnected
    (`account.disconnected` with `cause: "data_deletion"`), profile erased (username becomes `deleted`), comments,
    mentions, insights and their history deleted, prepared media and uploads of the account's posts deleted;
    posts keep only their ids, kind, state and timestamps. A user with nothing connected still gets a code (a
    completed request). The same request sent again answers the same code and erases nothing more. A missing,
    forged or malformed `signed_request` answers 400 and changes nothing."""
    signed = parse_signed_request(form.signed_request, ctx.settings.app_secret)
    outcome = await deletion.request_deletion(session, signed.user_id, signed.issued_at)
    request = outcome.request
    # Committed before answering (and before the uploads job is woken): the code Meta shows must exist.
    await session.commit()
    if outcome.erasure is not None:
        counts: dict[str, Any] = {
            name: value for name, value in vars(outcome.erasure).items() if isinstance(value, int)
        }
        logger.info("data deletion completed", extra={"confirmation_code": request.code, **counts})
        if outcome.erasure.upload_ids:
            try:
                await ctx.jobs.enqueue(EXPIRE_UPLOADS_JOB)
            except Exception as exc:  # the uploads job runs every 10 minutes anyway
                logger.warning("uploads job not enqueued", extra={"error": str(exc)})
    url = f"{links.base_url}{API_PREFIX}{DATA_DELETION_PATH}/{request.code}"
    return DataDeletionOut(url=url, confirmation_code=request.code)


@router.get(
    DATA_DELETION_PATH + "/{code}",
    summary="Status of a data-deletion request (no authentication)",
    response_model=DataDeletionStatusOut,
    responses=error_responses(
        404, examples={404: {"error": "No data-deletion request has this confirmation code", "code": "not_found"}}
    ),
)
async def data_deletion_status(code: ConfirmationCode, session: SessionDep) -> DataDeletionStatusOut:
    """The page Meta links the user to: the request's status and times, and nothing about whose data it was.
    No Bearer token: the unguessable code is the key. An unknown code answers 404."""
    request = await deletion.get_request(session, code)
    if request is None:
        raise NotFound("No data-deletion request has this confirmation code")
    return DataDeletionStatusOut(
        confirmation_code=request.code,
        status=DataDeletionStatus(request.status),
        requested_at=request.requested_at,
        completed_at=request.completed_at,
    )
