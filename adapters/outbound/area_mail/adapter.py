"""緊急速報メール (area mail) for one carrier: sent through its live link, or handed to an officer.

One channel per carrier (`area_mail_docomo`, `area_mail_kddi`, `area_mail_softbank`,
`area_mail_rakuten`), so that each carrier gets one request of its own, with its own retries and
its own record, and a slow carrier delays only itself.

What this channel refuses, whatever a rule says:
* kinds a town may not send by area mail: only evacuation information, shelters and damage
  (the carriers' 災害・避難情報). EEW, tsunami warnings and civil-protection messages reach
  phones from JMA and FDMA directly; a copy from the town would ring every phone twice;
* a drill or test on the live system: Exercise and Test go to the link's verification
  environment when it has one, otherwise to the outbox; never to residents' phones
  (docs/decisions.md, decision 12).

**Hand-off mode** (the default, and the mode until a town has a link): the carrier's exact title
and text, fitted to its limits, are handed to the officers (the console's 緊急速報メール page) to
paste into the carrier's console; the officer then confirms that it was sent, and the ledger
records who confirmed it and when. The dispatch is done when handed off: what is left is the
officer's, and the console shows it until confirmed.

**Link mode** (`options.link = "<name>"`): a link from the entry-point group
`broadcaster.area_mail_links` sends it (links.py).
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

from adapters.outbound.area_mail.carriers import BODY_MAX, TITLE_MAX, Carrier, carrier_of
from adapters.outbound.area_mail.links import LINKS_GROUP, AreaMailLink, AreaMailRequest, Municipality
from adapters.outbound.area_mail.text import fit
from adapters.outbound.outbox import OutboxAdapter
from broadcaster import registry
from broadcaster.channels import AdapterEnv, Addressing, Delivery, HandOff, SendResult
from broadcaster.errors import ConfigError, PermanentError
from broadcaster.model import KIND, MsgType, Status
from broadcaster.settings import ChannelSettings

# The kinds a town may send by area mail (the carriers' 災害・避難情報).
PERMITTED_KINDS = frozenset({"evacuation", "shelter", "damage"})
HANDOFF = "handoff"
_LABELS = {Status.EXERCISE: "【訓練】", Status.TEST: "【テスト】"}


class AreaMailAdapter:
    name: ClassVar[str] = "area_mail"
    # The carrier reaches everyone in the municipality at once; we hold no addresses.
    addressing: ClassVar[Addressing] = "broadcast"
    max_text_length: ClassVar[int | None] = BODY_MAX
    max_recipients_per_request: ClassVar[int | None] = None
    # Hand-off needs nothing; a link asks for its own credentials when it is built.
    required_credentials: ClassVar[tuple[str, ...]] = ()
    kinds: ClassVar[frozenset[str] | None] = PERMITTED_KINDS

    def __init__(
        self,
        channel: str,
        carrier: Carrier,
        municipality: Municipality,
        *,
        link: AreaMailLink | None,
        outbox: OutboxAdapter,
        title_max: int = TITLE_MAX,
        body_max: int = BODY_MAX,
    ) -> None:
        self.channel = channel
        self.carrier = carrier
        self.municipality = municipality
        self.link = link
        self.outbox = outbox
        self.title_max = title_max
        self.body_max = body_max

    @classmethod
    def from_settings(cls, channel: str, settings: ChannelSettings, env: AdapterEnv) -> Self:
        """options: carrier (default: from the channel's name), link ("handoff" or an entry point),
        municipality_code (default: the tenant's), title_max, body_max, and the link's own options."""
        opts: dict[str, Any] = dict(settings.options)
        carrier = carrier_of(channel, opts.get("carrier"))
        code = str(opts.get("municipality_code") or (env.municipality_codes[0] if env.municipality_codes else ""))
        if not (code.isdigit() and len(code) == 6):
            raise ConfigError(
                f"channel {channel}: the area is the municipality; give options.municipality_code "
                "(JIS X 0402, six digits) or the tenant's JMA city code"
            )
        link: AreaMailLink | None = None
        name = str(opts.get("link", HANDOFF))
        if name != HANDOFF:
            link_cls = registry.load(LINKS_GROUP, name)
            link = link_cls.from_options(carrier, opts, settings.credentials)
        limits = {k: int(opts[k]) for k in ("title_max", "body_max") if k in opts}
        if any(v < 1 or v > BODY_MAX * 10 for v in limits.values()):
            raise ConfigError(f"channel {channel}: title_max and body_max must be positive")
        return cls(
            channel,
            carrier,
            Municipality(code=code, name=env.tenant_name),
            link=link,
            outbox=OutboxAdapter.from_settings(channel, settings, env),
            **limits,
        )

    @property
    def mode(self) -> str:
        return "live" if self.link is not None else HANDOFF

    @property
    def check_detail(self) -> str:
        """What `broadcaster check` says of this channel."""
        if self.link is None:
            return f"live, hand-off: the officers paste it into {self.carrier.console} ({self.municipality.code})"
        return f"live, link {self.link.name} ({self.municipality.code})"

    async def send(self, delivery: Delivery) -> SendResult:
        alert = delivery.alert
        kinds = alert.primary.event_codes(KIND) if alert.info else ()
        kind = kinds[0] if kinds else "other"
        if kind not in PERMITTED_KINDS:
            raise PermanentError(
                f"area mail carries only evacuation, shelter and damage information; not {kind} "
                "(JMA and FDMA send their own to every phone)"
            )
        text = delivery.text("ja")
        fitted = fit(
            text.title or text.body.split("\n", 1)[0],
            text.body,
            title_max=self.title_max,
            body_max=self.body_max,
            label=_LABELS.get(alert.status, ""),
        )
        if alert.status is not Status.ACTUAL:
            if self.link is not None and self.link.takes_drills and alert.status in _LABELS:
                ref = await self.link.send(self._request(delivery, fitted.title, fitted.body))
                return SendResult(provider_ref=ref, mode="live", accepted=1, detail="verification environment")
            # Never to residents' phones: kept in the outbox, where the drill's text can be read.
            result = await self.outbox.send(delivery)
            return result.model_copy(update={"detail": "drill or test: not sent to the carrier"})
        if self.link is not None:
            ref = await self.link.send(self._request(delivery, fitted.title, fitted.body))
            return SendResult(provider_ref=ref, mode="live", accepted=1)
        return SendResult(
            provider_ref=f"{HANDOFF}:{self.carrier.key}",
            mode=HANDOFF,
            accepted=0,
            detail=f"handed to the officers: paste into {self.carrier.console}",
            handoff=HandOff(
                target=f"{self.carrier.company} {self.carrier.service}",
                where=self.carrier.console,
                area=f"{self.municipality.name}（{self.municipality.code}）",
                title=fitted.title,
                body=fitted.body,
                notes=fitted.notes,
            ),
        )

    def _request(self, delivery: Delivery, title: str, body: str) -> AreaMailRequest:
        alert = delivery.alert
        mode = {Status.EXERCISE: "exercise", Status.TEST: "test"}.get(alert.status, "actual")
        return AreaMailRequest(
            carrier=self.carrier.key,
            mode=mode,
            municipality=self.municipality,
            title=title,
            body=body,
            msg_type={MsgType.ALERT: "alert", MsgType.UPDATE: "update", MsgType.CANCEL: "cancel"}[alert.msg_type],
            alert=alert.identifier,
            key=delivery.idempotency_key,
        )

    async def close(self) -> None:
        if self.link is not None:
            await self.link.close()
