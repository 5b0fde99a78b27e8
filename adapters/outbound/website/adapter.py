"""The town website channel: every message becomes static pages, feeds and JSON, published atomically.

Each send merges the message into the site state kept in the current release, re-derives what is
current (an Update replaces its event's message, a Cancel takes the event off every list, an
expired or lifted message leaves the banner), draws the files that changed and publishes a new
release (see publish.py). Publishing the same dispatch again leaves the site as it is: the state
already holds the message, nothing changes, and no release is made (docs/decisions.md, decision 2: our
own pages honour the key).

It never touches the bus or the database. It needs no credentials, but it writes to disk, so it
runs live only where the settings say so: ``[channels.website] mode = "live"`` (docs/website.md).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.outbound.website.publish import SitePublisher
from adapters.outbound.website.readback import read_back
from adapters.outbound.website.render import DESIGN, Site, build, signature, warm_templates
from adapters.outbound.website.state import SiteState, merge, newest_by_event, next_expiry, prune, views
from broadcaster.channels import AdapterEnv, Addressing, Carried, Delivery, RenderedText, SendResult
from broadcaster.errors import ConfigError, TransientError
from broadcaster.logging import get_logger
from broadcaster.model import Alert, now
from broadcaster.settings import ChannelSettings
from broadcaster.site_layout import site_dir, site_url, slug

log = get_logger(__name__)


class WebsiteSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    site_dir: Path
    site_url: str = Field(pattern=r"^https?://")
    # Messages kept in the state (and so with pages); older ones leave the site, except those of
    # events still current.
    max_messages: int = Field(default=500, ge=10, le=100_000)
    keep_releases: int = Field(default=3, ge=1, le=100)
    release_grace_s: float = Field(default=60.0, ge=0)


@dataclass(frozen=True)
class Published:
    release: int
    changed: bool
    next_expiry: datetime | None


class WebsiteAdapter:
    name: ClassVar[str] = "website"
    addressing: ClassVar[Addressing] = "broadcast"
    max_text_length: ClassVar[int | None] = None
    max_recipients_per_request: ClassVar[int | None] = None
    required_credentials: ClassVar[tuple[str, ...]] = ()
    # Writing into a folder a web server serves is a deployment decision, not a default: without
    # mode = "live" the channel stays in outbox mode like one without credentials.
    live_in_auto: ClassVar[bool] = False

    def __init__(self, settings: WebsiteSettings, site: Site, *, clock: Callable[[], datetime] = now) -> None:
        self.settings = settings
        self.site = site
        self.clock = clock
        self.publisher = SitePublisher(
            settings.site_dir, keep_releases=settings.keep_releases, grace_s=settings.release_grace_s
        )
        self._lock = asyncio.Lock()
        self._timer: asyncio.TimerHandle | None = None
        self._refreshing: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(cls, channel: str, settings: ChannelSettings, env: AdapterEnv) -> Self:
        """options: site_dir (default <var_dir>/site/<tenant>; ``{tenant}`` is replaced), site_url
        (default <public_url>/site/<tenant>/), max_messages, keep_releases, release_grace_s."""
        opts: dict[str, Any] = dict(settings.options)
        fields: dict[str, Any] = {
            "site_dir": site_dir(opts, env.var_dir, env.tenant),
            "site_url": site_url(opts, env.public_url, env.tenant),
        }
        opts.pop("site_dir", None)
        opts.pop("site_url", None)
        for key in ("max_messages", "keep_releases", "release_grace_s"):
            if key in opts:
                fields[key] = opts.pop(key)
        if opts:
            raise ConfigError(f"channel {channel}: unknown options {', '.join(sorted(opts))}")
        try:
            website = WebsiteSettings(**fields)
        except ValidationError as e:
            raise ConfigError(f"channel {channel} (tenant {env.tenant}): {e}") from e
        site = Site(
            tenant=env.tenant,
            name=env.tenant_name,
            url=website.site_url,
            districts=env.districts,
            codes=env.municipality_codes,
            name_en=env.tenant_name_en,
            districts_en=env.districts_en,
            time_zone=env.time_zone,
        )
        return cls(website, site)

    async def send(self, delivery: Delivery) -> SendResult:
        alert = delivery.alert
        async with self._lock:
            done = await self._run(alert, delivery.texts, delivery.dispatch.audience)
        return SendResult(
            provider_ref=f"r{done.release}:{slug(alert.identifier)}",
            mode="live",
            accepted=1,
            detail=f"release {done.release}" + ("" if done.changed else " (unchanged: already published)"),
        )

    async def warm(self) -> None:
        """Compile the page templates and read the site's state before the first publish
        (broadcaster.channels.Warming); nothing is written. Under the publishing lock: a send
        waits for it rather than doing the same work beside it."""
        async with self._lock:
            await asyncio.to_thread(self._warm)

    def _warm(self) -> None:
        warm_templates()
        self.publisher.read_state()

    async def carried(self, event_ids: Sequence[str]) -> list[Carried]:
        """What the current release shows of an event: its page, the app's list, the banner, the
        CAP feed (readback.py; docs/consistency.md)."""
        return await asyncio.to_thread(read_back, self.publisher.current(), tuple(event_ids))

    async def refresh(self) -> Published:
        """Publish again without a new message: what has expired since leaves the lists."""
        async with self._lock:
            return await self._run(None, (), "public")

    async def _run(self, alert: Alert | None, texts: Iterable[RenderedText], audience: str) -> Published:
        try:
            done = await asyncio.to_thread(self._publish, alert, tuple(texts), audience)
        except OSError as e:
            raise TransientError(f"website {self.settings.site_dir}: {e}") from e
        self._schedule(done.next_expiry)
        log.info("site_published", tenant=self.site.tenant, release=done.release, changed=done.changed)
        return done

    def _publish(self, alert: Alert | None, texts: tuple[RenderedText, ...], audience: str) -> Published:
        with self.publisher.locked():
            previous = self.publisher.read_state()
            state = previous or SiteState()
            if alert is not None:
                state = merge(state, alert, texts, audience)
            at = self.clock()
            view = views(state.entries, at)
            state = prune(state, self.settings.max_messages, view)
            view = {i: view[i] for i in state.entries}
            newest = newest_by_event(state.entries)
            signatures = {i: signature(view[i], newest[e.alert.event_key]) for i, e in state.entries.items()}
            upcoming = next_expiry(state.entries, view)
            if (
                previous is not None
                and previous.entries == state.entries
                and previous.views == signatures
                and previous.design == DESIGN
            ):
                return Published(previous.release, False, upcoming)
            state = state.model_copy(
                update={"release": (previous.release if previous else 0) + 1, "updated": at}
            )
            self.publisher.publish(build(state, self.site, view, previous), state.release)
            return Published(state.release, True, upcoming)

    def _schedule(self, when: datetime | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if when is None:
            return
        # A second late, so that the expiry has certainly passed when the refresh looks.
        delay = max(0.0, (when - self.clock()).total_seconds()) + 1.0
        self._timer = asyncio.get_running_loop().call_later(delay, self._start_refresh)

    def _start_refresh(self) -> None:
        self._timer = None
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.get_running_loop().create_task(self._refresh_logged())

    async def _refresh_logged(self) -> None:
        try:
            await self.refresh()
        except Exception as e:  # a timer has no caller to raise to; the next send retries anyway
            log.error("site_refresh_failed", tenant=self.site.tenant, error=str(e)[:300])

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._refreshing is not None:
            self._refreshing.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._refreshing
            self._refreshing = None
