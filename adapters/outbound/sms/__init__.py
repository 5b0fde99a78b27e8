"""SMS through an HTTP SMS gateway (docs/channels.md, *SMS*); Twilio's Messages API first."""

from adapters.outbound.sms.adapter import SmsAdapter

__all__ = ["SmsAdapter"]
