"""登録制メール: e-mail to registered residents and officers over SMTP (docs/channels.md)."""

from adapters.outbound.email.adapter import EmailAdapter, EmailSettings
from adapters.outbound.email.compose import Envelope, compose, message_id

__all__ = ["EmailAdapter", "EmailSettings", "Envelope", "compose", "message_id"]
