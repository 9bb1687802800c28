"""The orders a list of posts offers (a campaign's posts, a location's)."""

from __future__ import annotations

from shared.pagination import Sorting
from shared.posts.models import Post

POST_SORTING = Sorting(
    default="created_at",
    fields={
        "created_at": Post.created_at,
        "updated_at": Post.updated_at,
        "status": Post.status,
        "platform": Post.platform,
    },
    tiebreak=Post.id,
)
