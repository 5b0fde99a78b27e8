"""The town app's Web Push channel and the residents' PWA subscriptions (docs/push.md)."""

from adapters.outbound.app_push.adapter import WebPushAdapter, WebPushSettings
from adapters.outbound.app_push.subscription import (
    HostPolicy,
    InvalidSubscription,
    Subscription,
    parse_subscription,
)

__all__ = [
    "HostPolicy",
    "InvalidSubscription",
    "Subscription",
    "WebPushAdapter",
    "WebPushSettings",
    "parse_subscription",
]
