"""Signed webhooks to the town's own systems and partners (docs/webhook.md)."""

from adapters.outbound.webhook.adapter import WebhookAdapter, WebhookSettings, body_of
from adapters.outbound.webhook.signing import InvalidSignature, verify

__all__ = ["InvalidSignature", "WebhookAdapter", "WebhookSettings", "body_of", "verify"]
