"""What the providers' quotas leave, per town and channel, for `broadcaster status`, the console
and the preview: LINE's monthly messages (its quota endpoints), X's credits (what the last post
found) and Bluesky's write budget (its ratelimit headers).

Channels are reached only through their adapters (docs/decisions.md, decision 14): an adapter
that reports a quota offers `quota_state` and `quota_needed` (broadcaster.channels.QuotaReporting).
A provider that cannot be asked just now shows as unknown with the reason; the status never fails
for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from broadcaster.channels import QuotaReporting, QuotaState
from broadcaster.logging import get_logger
from broadcaster.pipeline.adapters import AdapterPool, resolve
from broadcaster.settings import Settings

log = get_logger(__name__)
# A provider asked for its quota gets this long before it is shown as unknown.
ASK_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class ChannelQuota:
    tenant: str
    channel: str
    state: QuotaState | None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "channel": self.channel,
            "error": self.error,
            **(asdict(self.state) if self.state is not None else {}),
        }


def _channels(settings: Settings, tenant: str) -> list[str]:
    return sorted(set(settings.channels) | set(settings.tenants[tenant].channels))


async def collect(settings: Settings, *, tenant: str | None = None, pool: AdapterPool | None = None) -> list[ChannelQuota]:
    """Every live channel's quotas, per town."""
    own = pool is None
    adapters = pool or AdapterPool(settings)
    out: list[ChannelQuota] = []
    try:
        for t in sorted(settings.tenants):
            if tenant is not None and t != tenant:
                continue
            for channel in _channels(settings, t):
                try:
                    if not resolve(settings, t, channel).live:
                        continue
                    adapter = adapters.get(t, channel)
                except Exception as e:  # a channel that cannot start is shown, not fatal here
                    out.append(ChannelQuota(t, channel, None, f"{type(e).__name__}: {e}"))
                    continue
                if not isinstance(adapter, QuotaReporting):
                    continue
                try:
                    states = await asyncio.wait_for(adapter.quota_state(), ASK_TIMEOUT_S)
                except Exception as e:  # unknown now; the status still shows everything else
                    log.warning("quota_unknown", tenant=t, channel=channel, error=str(e))
                    out.append(ChannelQuota(t, channel, None, f"{type(e).__name__}: {e}"))
                    continue
                out.extend(ChannelQuota(t, channel, s) for s in states)
    finally:
        if own:
            await adapters.close()
    return out


def warnings(
    quotas: Sequence[ChannelQuota], needs: Mapping[tuple[str, str], Mapping[str, float]]
) -> dict[tuple[str, str], list[str]]:
    """For each (tenant, channel) send that a quota would refuse, why, naming the quota."""
    out: dict[tuple[str, str], list[str]] = {}
    for q in quotas:
        if q.state is None:
            continue
        needed = (needs.get((q.tenant, q.channel)) or {}).get(q.state.name)
        if needed is None or not q.state.refuses(needed):
            continue
        if q.state.spent:
            why = f"{q.state.name} spent ({q.state.detail or 'refused'})"
        else:
            why = f"{q.state.name}: {_n(needed)} {q.state.unit} needed, {_n(q.state.remaining)} left"
        out.setdefault((q.tenant, q.channel), []).append(why)
    return out


def _n(v: float | None) -> str:
    if v is None:
        return "?"
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.3f}"


def render(quotas: Sequence[ChannelQuota]) -> list[str]:
    """The status's lines: one per quota."""
    lines = []
    for q in quotas:
        head = f"  {q.tenant:<10} {q.channel:<9}"
        if q.state is None:
            lines.append(f"{head} unknown: {q.error}")
            continue
        s = q.state
        amount = (
            f"{_n(s.remaining)} of {_n(s.limit)} {s.unit} left"
            if s.remaining is not None
            else ("no limit" if s.limit is None and s.unit == "messages" else "balance not reported")
        )
        mark = "SPENT" if s.spent else "ok"
        resets = f", resets {s.resets}" if s.resets else ""
        detail = f" ({s.detail})" if s.detail else ""
        lines.append(f"{head} {s.name}: {mark}, {amount}{resets}{detail}")
    return lines
