"""The SMS channel: each number of the batch gets the rendered parts (70 UCS-2 characters each,
numbered, at most three: broadcaster/render/limits.py), and the delivery receipts are read back
before the send ends, so that each resident's outcome is in the ledger (delivered, undelivered:
a landline, a phone switched off) and fallback can take the next channel (docs/channels.md, *SMS*).

The gateway is chosen by `options.provider`; Twilio is the first (twilio.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.outbound.fanout import Answer, Memory, Outcome, fan_out
from adapters.outbound.sms.twilio import FINAL, NOT_A_MOBILE, Twilio, TwilioError, e164
from broadcaster.channels import AdapterEnv, Addressing, Delivery, RecipientOutcome, SendResult
from broadcaster.errors import ConfigError, PermanentError, TransientError
from broadcaster.logging import get_logger, hash_id
from broadcaster.settings import ChannelSettings

log = get_logger(__name__)

# Twilio's refusals that concern one number only: the others are still sent to.
_NUMBER_REFUSED = frozenset({21211, 21214, 21408, 21610, 21612, 21614})


class SmsSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: str = "twilio"
    base_url: str = Field(default="https://api.twilio.com", pattern=r"^https?://")
    sender: str = ""  # a number in E.164 or an alphanumeric sender id
    messaging_service_sid: str | None = None
    country: str = Field(default="81", pattern=r"^\d{1,3}$")
    concurrency: int = Field(default=10, ge=1, le=100)
    # How long the send waits for delivery receipts; what is not final by then is recorded as sent.
    receipt_wait_s: float = Field(default=30.0, ge=0)
    receipt_every_s: float = Field(default=3.0, gt=0)


@dataclass
class _Sent:
    sids: dict[str, list[str]] = field(default_factory=dict)  # number -> message sids (one per part)


class SmsAdapter:
    name: ClassVar[str] = "sms"
    addressing: ClassVar[Addressing] = "recipients"
    max_text_length: ClassVar[int | None] = None
    max_recipients_per_request: ClassVar[int | None] = 100
    required_credentials: ClassVar[tuple[str, ...]] = ("account_sid", "auth_token")

    def __init__(self, settings: SmsSettings, account_sid: str, auth_token: str) -> None:
        if settings.provider != "twilio":
            raise ConfigError(f"sms provider {settings.provider!r}: this adapter speaks twilio")
        if not settings.sender and not settings.messaging_service_sid:
            raise ConfigError("sms needs options.sender (a number or sender id) or options.messaging_service_sid")
        self.settings = settings
        self.api = Twilio(settings.base_url, account_sid, auth_token)
        self.memory = Memory()
        self._sent: dict[str, _Sent] = {}

    @classmethod
    def from_settings(cls, channel: str, settings: ChannelSettings, env: AdapterEnv) -> Self:
        try:
            parsed = SmsSettings(**dict(settings.options))
        except ValidationError as e:
            raise ConfigError(f"channel {channel} (tenant {env.tenant}): {e}") from e
        creds = {k: v.get_secret_value() for k, v in settings.credentials.items()}
        return cls(parsed, creds.get("account_sid", ""), creds.get("auth_token", ""))

    async def send(self, delivery: Delivery) -> SendResult:
        if not delivery.recipients:
            return SendResult(mode="live", accepted=0, detail="no numbers")
        rendered = delivery.text("ja")
        parts = rendered.parts or (rendered.body,)
        s = self.settings
        sent = self._sent.setdefault(delivery.idempotency_key, _Sent())
        refused: dict[str, RecipientOutcome] = {}

        async def one(number: str) -> Answer:
            done = sent.sids.setdefault(number, [])
            try:
                # Parts already accepted in an earlier attempt are not sent again.
                for part in parts[len(done) :]:
                    message = await self.api.send(
                        to=e164(number, s.country), body=part, sender=s.sender, service_sid=s.messaging_service_sid
                    )
                    done.append(message.sid)
            except TwilioError as e:
                if e.code in _NUMBER_REFUSED:
                    refused[number] = RecipientOutcome(recipient=number, outcome="invalid", reached=False, detail=str(e)[:200])
                    return Answer(Outcome.REFUSED, f"code {e.code}")
                raise
            except TransientError as e:
                return Answer(Outcome.RETRY, str(e)[:200], retry_after=getattr(e, "retry_after", None))
            return Answer(Outcome.DELIVERED, "accepted")

        rnd = await fan_out(
            delivery.idempotency_key, delivery.recipients, one, memory=self.memory, concurrency=s.concurrency, label=hash_id
        )
        outcomes = await self._receipts(delivery.recipients, sent, refused)
        try:
            result = rnd.result(noun="numbers", partial_ok=True, ref=delivery.idempotency_key)
        except (TransientError, PermanentError) as e:
            setattr(e, "outcomes", outcomes)  # noqa: B010
            raise
        delivered = sum(1 for o in outcomes if o.outcome == "delivered")
        failed = sum(1 for o in outcomes if not o.reached)
        return result.model_copy(
            update={"outcomes": outcomes, "detail": f"{result.detail}; receipts: {delivered} delivered, {failed} not reached"}
        )

    async def _receipts(
        self, numbers: tuple[str, ...], sent: _Sent, refused: dict[str, RecipientOutcome]
    ) -> tuple[RecipientOutcome, ...]:
        sids = [sid for n in numbers for sid in sent.sids.get(n, [])]
        receipts = await self.api.receipts(sids, wait_s=self.settings.receipt_wait_s, every_s=self.settings.receipt_every_s)
        out: list[RecipientOutcome] = []
        for number in dict.fromkeys(numbers):
            if number in refused:
                out.append(refused[number])
                continue
            mine = [receipts.get(sid) for sid in sent.sids.get(number, [])]
            if not mine:
                continue
            statuses = [r.status if r is not None else "sent" for r in mine]
            codes = [r.error_code for r in mine if r is not None and r.error_code is not None]
            if any(st in ("undelivered", "failed") for st in statuses):
                outcome = "not_mobile" if set(codes) & NOT_A_MOBILE else "undelivered"
                out.append(RecipientOutcome(recipient=number, outcome=outcome, reached=False, detail=f"error {codes[0] if codes else '-'}"))
            elif all(st in FINAL for st in statuses):
                out.append(RecipientOutcome(recipient=number, outcome="delivered", reached=True))
            else:
                out.append(RecipientOutcome(recipient=number, outcome="sent", reached=True, detail="no final receipt yet"))
        return tuple(out)

    async def close(self) -> None:
        await self.api.close()
