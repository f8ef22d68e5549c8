"""The queries of prepared media assets: stored with the posts that need them, read by the /media route that
Instagram fetches them from, deleted once no unfinished post needs them.

(Beside repository.py, which holds the other publishing queries, for its size.) Functions take the caller's
session and only flush.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import CursorResult, Table, bindparam, delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.publishing.models import MediaAsset, PostAsset


def add_assets(session: AsyncSession, assets: Sequence[MediaAsset]) -> None:
    session.add_all(assets)


def link_assets(session: AsyncSession, post_id: int, asset_ids: Sequence[str]) -> None:
    for asset_id in dict.fromkeys(asset_ids):
        session.add(PostAsset(post_id=post_id, asset_id=asset_id))


# Built once (building a statement costs more CPU than sending it): Instagram fetches every post's image, and
# every publication releases them.
_GET_ASSET = select(MediaAsset).where(MediaAsset.id == bindparam("asset_id"))
_ASSETS = MediaAsset.__table__
_POST_ASSETS = PostAsset.__table__
assert isinstance(_ASSETS, Table) and isinstance(_POST_ASSETS, Table)
_FORGET_POST_ASSETS = (
    delete(_POST_ASSETS).where(_POST_ASSETS.c.post_id == bindparam("post_id")).returning(_POST_ASSETS.c.asset_id)
)
_DELETE_UNUSED_ASSETS = delete(_ASSETS).where(
    _ASSETS.c.id.in_(bindparam("asset_ids", expanding=True)),
    ~exists(select(_POST_ASSETS.c.asset_id).where(_POST_ASSETS.c.asset_id == _ASSETS.c.id)),
)


async def get_asset(session: AsyncSession, asset_id: str) -> MediaAsset | None:
    return await session.scalar(_GET_ASSET, {"asset_id": asset_id})


async def assets_present(session: AsyncSession, asset_ids: Sequence[str]) -> bool:
    if not asset_ids:
        return True
    found = await session.scalars(select(MediaAsset.id).where(MediaAsset.id.in_(asset_ids)))
    return len(set(found.all())) == len(set(asset_ids))


async def release_assets_of(session: AsyncSession, post_id: int) -> None:
    """Forget which assets the post used, and delete those no other unfinished post needs."""
    asset_ids = list((await session.scalars(_FORGET_POST_ASSETS, {"post_id": post_id})).all())
    if not asset_ids:
        return
    await session.execute(_DELETE_UNUSED_ASSETS, {"asset_ids": asset_ids})


async def delete_expired_assets(session: AsyncSession) -> int:
    """Assets past their expiry, whoever used them (a failed post re-prepares its media on retry)."""
    result = await session.execute(
        delete(MediaAsset).where(MediaAsset.expires_at < utcnow()).execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)  # session.execute is typed as returning a plain Result
    return int(result.rowcount or 0)
