"""What a messaging channel's conversation with its followers may do with the town's records.

The LINE conversation (adapters/outbound/line/conversation.py) registers followers, keeps their
choices, links a leader's account with a one-time code and takes safety answers; it does all of
that through `FollowerDesk`, so that the adapter knows LINE and nothing of the store. `StoreDesk`
is the desk over the ledger's database; the web's LINE webhook (broadcaster/web/line_hook.py)
hands it to the conversation. docs/channels.md ("LINE webhook") says what the events do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa

from broadcaster import safety_links
from broadcaster.coverage import safety as coverage_safety
from broadcaster.line_links import channel_secret
from broadcaster.model import Alert
from broadcaster.settings import Settings
from broadcaster.store import tables as t
from broadcaster.store.audiences import Audiences, Person
from broadcaster.store.ledger import Ledger
from broadcaster.store.line_webhook import LinkCodes, Redeemed, normalize_code

__all__ = ["Conversation", "FollowerDesk", "HookBody", "HookEvent", "Person", "Redeemed", "StoreDesk"]


class FollowerDesk(Protocol):
    async def people(self, tenant: str, channel: str, address: str) -> list[Person]:
        """The town's registered people with this address (normally one)."""
        ...

    async def register(self, tenant: str, channel: str, address: str, language: str) -> Person:
        """A new resident reached at this address, every district and topic."""
        ...

    async def update(
        self,
        tenant: str,
        external_id: str,
        *,
        districts: Sequence[str] | None = None,
        language: str | None = None,
        topics: Sequence[str] | None = None,
        add_endpoint: tuple[str, str] | None = None,
    ) -> Person | None:
        """Change some of one person's choices (None: unchanged); None when they are gone."""
        ...

    async def leave(self, tenant: str, external_id: str) -> None:
        """The person leaves: their personal data is deleted (個人情報保護法)."""
        ...

    async def remove_address(self, tenant: str, channel: str, address: str) -> None:
        """This address stops; the people who had it stay registered."""
        ...

    async def audit(
        self, *, actor: str, action: str, tenant: str, target: str | None = None, detail: Mapping[str, Any]
    ) -> None: ...

    def code_in(self, text: str) -> str | None:
        """The one-time link code a typed text is (its digits, normalised), or None."""
        ...

    async def redeem_code(self, tenant: str, code: str, *, who: str) -> Redeemed:
        """Use a leader's one-time link code (broadcaster/line_links.py) for the user `who`."""
        ...

    async def safety_check(self, tenant: str, ref: str) -> Alert | None:
        """The town's recent alert that `ref` (safety_links.alert_ref) names, if it asks for a
        safety answer."""
        ...

    async def latest_check(self, tenant: str) -> Alert | None:
        """The town's newest recent alert that asks for a safety answer."""
        ...

    async def answer(
        self, tenant: str, alert_id: str, person: Person, answer: str, note: str | None, *, via: str
    ) -> str:
        """Record the person's safety answer for their household; what happened (its outcome)."""
        ...


class HookEvent(Protocol):
    """One event of a webhook request, as the web's door needs it: to claim it once, judge its age
    and keep it until it is processed."""

    @property
    def id(self) -> str: ...
    @property
    def raw_type(self) -> str: ...
    @property
    def timestamp_ms(self) -> int: ...
    @property
    def redelivery(self) -> bool: ...
    @property
    def user_id(self) -> str | None: ...
    def to_json(self) -> str: ...


class HookBody(Protocol):
    @property
    def events(self) -> Sequence[HookEvent]: ...
    @property
    def skipped(self) -> int:
        """Events that could not be read."""
        ...


class Conversation(Protocol):
    """A channel's conversation with its followers, one event at a time (the web hands them in).

    The channel also reads its own webhook requests: the web checks the signature and the body
    with it before it claims and hands in the events."""

    def verify(self, secret: str, body: bytes, signature: str | None) -> str | None:
        """None when `signature` signs `body` under `secret`; else why not (a short reason)."""
        ...

    def read(self, body: bytes) -> HookBody:
        """The events of a signed body; ValueError when it is not a webhook request."""
        ...

    def event_of(self, kept: str) -> HookEvent:
        """An event back from what its `to_json` kept; ValueError, KeyError or TypeError when
        it cannot be read."""
        ...

    async def handle(self, tenant: str, event: Any, *, reply: bool) -> str:
        """Act on one event; what happened, recorded with the event id (no personal data)."""
        ...

    async def close(self) -> None: ...


class StoreDesk:
    """The desk over the ledger's database."""

    def __init__(self, settings: Settings, ledger: Ledger) -> None:
        self.settings = settings
        self.ledger = ledger
        self.audiences = Audiences(ledger.db)
        self.codes = LinkCodes(ledger.db)

    async def people(self, tenant: str, channel: str, address: str) -> list[Person]:
        return await self.audiences.by_endpoint(tenant, channel, address)

    async def register(self, tenant: str, channel: str, address: str, language: str) -> Person:
        sid = await self.audiences.add(
            tenant, kind="resident", language=language, endpoints={channel: address}
        )
        return Person(external_id=f"auto-{sid}", language=language, endpoints=((channel, address),))

    async def update(
        self,
        tenant: str,
        external_id: str,
        *,
        districts: Sequence[str] | None = None,
        language: str | None = None,
        topics: Sequence[str] | None = None,
        add_endpoint: tuple[str, str] | None = None,
    ) -> Person | None:
        return await self.audiences.update_person(
            tenant,
            external_id,
            districts=districts,
            language=language,
            topics=topics,
            add_endpoint=add_endpoint,
        )

    async def leave(self, tenant: str, external_id: str) -> None:
        await self.audiences.leave(tenant, external_id)

    async def remove_address(self, tenant: str, channel: str, address: str) -> None:
        await self.audiences.remove_endpoint(tenant, channel, address)

    async def audit(
        self, *, actor: str, action: str, tenant: str, target: str | None = None, detail: Mapping[str, Any]
    ) -> None:
        await self.ledger.audit(actor=actor, action=action, tenant=tenant, target=target, detail=dict(detail))

    def code_in(self, text: str) -> str | None:
        return normalize_code(text)

    async def redeem_code(self, tenant: str, code: str, *, who: str) -> Redeemed:
        secret = channel_secret(self.settings, tenant)
        assert secret is not None  # the request was verified with it
        return await self.codes.redeem(tenant, code, key=secret.encode(), who=who, at=datetime.now(UTC))

    async def _recent(self, tenant: str) -> list[str]:
        """The town's alerts sent within `coverage.safety_days`, newest first."""
        a = t.alerts
        since = datetime.now(UTC) - timedelta(days=self.settings.coverage.safety_days)
        query = (
            sa.select(a.c.identifier).where(a.c.tenant == tenant, a.c.sent >= since).order_by(a.c.sent.desc())
        )
        return await self.ledger.db.read(lambda c: list(c.execute(query).scalars()))

    async def safety_check(self, tenant: str, ref: str) -> Alert | None:
        alert_id = next((i for i in await self._recent(tenant) if safety_links.alert_ref(i) == ref), None)
        alert = await self.ledger.alert(tenant, alert_id) if alert_id is not None else None
        return alert if alert is not None and safety_links.asks(alert) else None

    async def latest_check(self, tenant: str) -> Alert | None:
        for alert_id in await self._recent(tenant):
            alert = await self.ledger.alert(tenant, alert_id)
            if alert is not None and safety_links.asks(alert):
                return alert
        return None

    async def answer(
        self, tenant: str, alert_id: str, person: Person, answer: str, note: str | None, *, via: str
    ) -> str:
        got = await coverage_safety.record(
            self.ledger.db, tenant, alert_id, person.external_id, person.household, answer, note, via=via
        )
        return got.outcome
