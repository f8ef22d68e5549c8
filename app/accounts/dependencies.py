"""Validators that chain: an account id becomes the caller's own account, or a 404."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request

from app.accounts import service
from app.accounts.models import Account
from app.auth.dependencies import CurrentUser
from app.dependencies import SessionDep, read_bind
from app.errors import NotFound
from app.ids import DbId


async def _owned(session: SessionDep, user: CurrentUser, account_id: int) -> Account:
    account = await service.get_owned(session, user.id, account_id)
    if account is None:
        # Another user's account is indistinguishable from a missing one.
        raise NotFound("Account not found", code="account_not_found")
    return account


async def owned_account_from_path(
    session: SessionDep,
    user: CurrentUser,
    account_id: Annotated[DbId, Path(description="The account's id")],
) -> Account:
    return await _owned(session, user, account_id)


async def owned_account_from_query(
    session: SessionDep,
    user: CurrentUser,
    account_id: Annotated[DbId, Query(description="Id of one of your connected accounts")],
) -> Account:
    return await _owned(session, user, account_id)


async def detached_account_from_query(
    request: Request,
    user: CurrentUser,
    account_id: Annotated[DbId, Query(description="Id of one of your connected accounts")],
) -> Account:
    """The caller's account for a route that only calls Instagram with it: read in one SELECT outside any
    transaction (after authentication), in no session. Its changes are saved explicitly, never flushed."""
    account = await service.get_owned_detached(read_bind(request), user.id, account_id)
    if account is None:
        raise NotFound("Account not found", code="account_not_found")
    return account


OwnedAccount = Annotated[Account, Depends(owned_account_from_path)]
OwnedAccountQuery = Annotated[Account, Depends(owned_account_from_query)]
# For the proxied reads (GET /account/info, GET /media): no session, no transaction.
DetachedAccountQuery = Annotated[Account, Depends(detached_account_from_query)]
