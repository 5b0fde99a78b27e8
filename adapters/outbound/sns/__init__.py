"""Social networks, each a channel of its own: X, Mastodon and Bluesky (docs/channels.md)."""

from adapters.outbound.sns.bluesky import BlueskyAdapter, BlueskySettings
from adapters.outbound.sns.fediverse import MastodonAdapter, MastodonSettings
from adapters.outbound.sns.posted import Post, PostLog
from adapters.outbound.sns.x import XAdapter, XSettings

__all__ = [
    "BlueskyAdapter",
    "BlueskySettings",
    "MastodonAdapter",
    "MastodonSettings",
    "Post",
    "PostLog",
    "XAdapter",
    "XSettings",
]
