"""The town's native app through Firebase Cloud Messaging HTTP v1 (docs/push.md)."""

from adapters.outbound.fcm.adapter import FcmAdapter, FcmSettings, FcmTopicAdapter
from adapters.outbound.fcm.oauth import ServiceAccount, TokenSource

__all__ = ["FcmAdapter", "FcmSettings", "FcmTopicAdapter", "ServiceAccount", "TokenSource"]
