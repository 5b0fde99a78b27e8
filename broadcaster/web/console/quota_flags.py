"""The preview's quota flags: a send that LINE's monthly messages, X's credits or Bluesky's write
budget would refuse is named before the officer presses send (broadcaster/quota.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from broadcaster import quota
from broadcaster.channels import QuotaReporting
from broadcaster.logging import get_logger
from broadcaster.pipeline.adapters import AdapterPool, resolve
from broadcaster.render.preview import PreviewRow
from broadcaster.rules.simulate import Table
from broadcaster.settings import Settings

log = get_logger(__name__)


async def flags(
    settings: Settings, pool: AdapterPool, tenant: str, table: Table, rows: Sequence[PreviewRow]
) -> dict[str, list[str]]:
    """channel → why a quota would refuse this send (empty when none would).

    `pool` is the process's (broadcaster/app.py), which closes it: the same clients as the
    channel workers, not a pool made for each preview."""
    people: dict[str, int] = {}
    for r in table.rows:
        people[r.channel] = people.get(r.channel, 0) + (r.people or 0)
    # The Japanese parts are what every thread posts at least.
    posts: dict[str, list[str]] = {}
    for p in rows:
        if p.language == "ja":
            posts.setdefault(p.channel, []).extend(p.parts)
    needs: dict[tuple[str, str], dict[str, float]] = {}
    try:
        for channel in people:
            try:
                if not resolve(settings, tenant, channel).live:
                    continue
                adapter: Any = pool.get(tenant, channel)
            except Exception as e:  # a channel that cannot start shows in the status, not here
                log.info("quota_flag_skipped", tenant=tenant, channel=channel, error=str(e))
                continue
            if isinstance(adapter, QuotaReporting):
                needs[(tenant, channel)] = adapter.quota_needed(people[channel], posts.get(channel, []))
        if not needs:
            return {}
        found = await quota.collect(settings, tenant=tenant, pool=pool)
    except Exception as e:  # the flags are a help; the preview shows without them
        log.warning("quota_flags_unavailable", tenant=tenant, error=str(e))
        return {}
    return {channel: why for (_, channel), why in quota.warnings(found, needs).items()}
