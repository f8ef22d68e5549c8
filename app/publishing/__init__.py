"""Publishing: posts, stories, reels, carousels and batches, published exactly once (docs/architecture.md)."""

from app.accounts import disconnect
from app.publishing import repository

# Accounts never import publishing: disconnecting an account cancels its unpublished posts through this hook,
# in the same transaction. Registered wherever publishing is loaded, which is wherever posts can exist.
disconnect.on_disconnect(repository.cancel_posts_of_account)
