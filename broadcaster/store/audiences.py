"""Audiences: who, one by one, a tenant reaches on a channel.

An audience is named by a string the rules use: ``public`` (every active subscriber), ``district:<id>``,
``leaders`` or ``leaders:<district>`` (leaders and their deputies), ``officers``. Counting and
expanding are queries over indexed tables, so routing never loads people it does not need.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from broadcaster.model import now
from broadcaster.store import tables as t
from broadcaster.store.db import Database

_ADDRESS_KEY = b"broadcaster-address-hash"


def address_hash(channel: str, address: str) -> str:
    return hashlib.blake2b(f"{channel}\x1f{address}".encode(), key=_ADDRESS_KEY, digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class Recipient:
    subscriber_id: int
    address: str
    language: str


def _audience_filter(tenant: str, audience: str) -> sa.ColumnElement[bool]:
    s = t.subscribers
    base = sa.and_(s.c.tenant == tenant, s.c.active.is_(True))
    kind, _, arg = audience.partition(":")
    in_district = (
        s.c.id.in_(
            sa.select(t.subscriber_districts.c.subscriber_id).where(t.subscriber_districts.c.district == arg)
        )
        if arg
        else sa.true()
    )
    if kind == "public":
        return base
    if kind == "district":
        return sa.and_(base, in_district)
    if kind == "leaders":
        return sa.and_(base, s.c.kind.in_(["leader", "deputy"]), in_district)
    if kind == "officers":
        return sa.and_(base, s.c.kind == "officer")
    raise ValueError(f"unknown audience {audience!r}")


class Audiences:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def recipients(self, tenant: str, audience: str, channel: str) -> list[Recipient]:
        """Addresses on `channel`, in subscriber order so that batches come out the same."""
        s, e = t.subscribers, t.subscriber_endpoints
        query = (
            sa.select(s.c.id, e.c.address, s.c.language)
            .select_from(s.join(e, e.c.subscriber_id == s.c.id))
            .where(_audience_filter(tenant, audience), e.c.channel == channel)
            .order_by(s.c.id, e.c.address_hash)
        )
        return await self.db.read(
            lambda c: [Recipient(r.id, r.address, r.language) for r in c.execute(query)]
        )

    async def count(self, tenant: str, audience: str, channel: str) -> int:
        s, e = t.subscribers, t.subscriber_endpoints
        query = (
            sa.select(sa.func.count(sa.distinct(e.c.address_hash)))
            .select_from(s.join(e, e.c.subscriber_id == s.c.id))
            .where(_audience_filter(tenant, audience), e.c.channel == channel)
        )
        return await self.db.read(lambda c: int(c.execute(query).scalar() or 0))

    async def add(
        self,
        tenant: str,
        *,
        kind: str = "resident",
        name: str | None = None,
        language: str = "ja",
        districts: Sequence[str] = (),
        topics: Sequence[str] = (),
        endpoints: dict[str, str] | None = None,
        external_ref: str | None = None,
    ) -> int:
        at = now()

        def work(c: sa.Connection) -> int:
            result = c.execute(
                t.subscribers.insert().values(
                    tenant=tenant,
                    kind=kind,
                    name=name,
                    language=language,
                    topics=list(topics),
                    active=True,
                    external_ref=external_ref,
                    created=at,
                    updated=at,
                )
            )
            sid = int(result.inserted_primary_key[0])  # type: ignore[index]
            if districts:
                c.execute(
                    t.subscriber_districts.insert(),
                    [{"subscriber_id": sid, "district": d} for d in districts],
                )
            if endpoints:
                c.execute(
                    t.subscriber_endpoints.insert(),
                    [
                        {
                            "subscriber_id": sid,
                            "channel": ch,
                            "address": addr,
                            "address_hash": address_hash(ch, addr),
                        }
                        for ch, addr in endpoints.items()
                    ],
                )
            return sid

        return await self.db.write(work)
