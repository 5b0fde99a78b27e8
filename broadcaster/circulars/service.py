"""What the circulars' parts share: settings, ledger, bus, the channel adapters, the scheduler, a clock.

Built once per process by the composition root (broadcaster/app.py) into its Runtime, so the
channel worker, the scheduler's jobs and the web pages all use the same adapters and the same
scheduler client. The clock is a parameter so that tests move time instead of waiting for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from broadcaster.bus import Bus
from broadcaster.channels import Adapters
from broadcaster.circulars.links import LinkSigner, link_url
from broadcaster.circulars.steps import next_due
from broadcaster.logging import get_logger
from broadcaster.model import now
from broadcaster.scheduler import SchedulerService
from broadcaster.settings import Settings
from broadcaster.store.audiences import Audiences
from broadcaster.store.db import Database
from broadcaster.store.ledger import Ledger

log = get_logger(__name__)

TICK = "circular.tick"


def job_id(circular_id: str) -> str:
    return f"circular:{circular_id}"


@dataclass
class Circulars:
    settings: Settings
    ledger: Ledger
    bus: Bus
    adapters: Adapters
    scheduler: SchedulerService
    clock: Callable[[], datetime] = now
    _signer: LinkSigner | None = field(default=None, init=False, repr=False)

    @property
    def db(self) -> Database:
        return self.ledger.db

    @property
    def audiences(self) -> Audiences:
        return Audiences(self.ledger.db)

    @property
    def signer(self) -> LinkSigner | None:
        """None while no link key is set: no link can be given, the channel runs in outbox mode."""
        cfg = self.settings.circulars
        if self._signer is None and cfg.link_key is not None:
            self._signer = LinkSigner(cfg.link_key, tuple(cfg.old_link_keys), timedelta(days=cfg.link_days))
        return self._signer

    def link(self, delivery_id: str, version: int) -> str:
        signer = self.signer
        if signer is None:
            raise RuntimeError("circulars.link_key is not set: no personal link can be made")
        return link_url(self.settings.web.public_url, signer.token(delivery_id, version, self.clock()))

    def tenant_name(self, tenant: str) -> str:
        cfg = self.settings.tenants.get(tenant)
        return cfg.name if cfg is not None else tenant

    def district_name(self, tenant: str, district: str | None) -> str | None:
        cfg = self.settings.tenants.get(tenant)
        if cfg is None or district is None:
            return district
        return next((d.name for d in cfg.districts if d.id == district), district)

    async def schedule_tick(self, tenant: str, circular_id: str) -> datetime | None:
        """Put the circular's one job at its next due time (or remove it: nothing left to do)."""
        when = await next_due(self.db, circular_id)
        if when is None:
            await self.scheduler.remove(job_id(circular_id))
            return None
        await self.scheduler.add_at(job_id(circular_id), when, TICK, {"tenant": tenant, "circular": circular_id})
        return when


def payload_of(payload: dict[str, Any]) -> tuple[str, str]:
    return str(payload["tenant"]), str(payload["circular"])
