"""Which adapter serves a tenant's channel: the live one, or the outbox when it cannot be live."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from broadcaster import areacodes, registry, unsubscribe
from broadcaster.channels import (
    DEFAULT_PROFILE,
    STANDARD_PROFILES,
    AdapterEnv,
    ChannelAdapter,
    ChannelProfile,
)
from broadcaster.errors import ConfigError
from broadcaster.logging import get_logger
from broadcaster.model import JIS_X0402
from broadcaster.settings import Settings, TenantSettings

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Resolved:
    adapter_cls: Any  # type[ChannelAdapter]
    live: bool
    reason: str


def profile_of(settings: Settings, channel: str) -> ChannelProfile:
    """The channel's addressing and limits: the live adapter's, else the standard table's."""
    cls = registry.try_load(registry.CHANNELS, settings.channels[channel].adapter or channel)
    if cls is not None and cls.name != "outbox":
        return ChannelProfile(
            cls.addressing, cls.max_text_length, cls.max_recipients_per_request, getattr(cls, "kinds", None)
        )
    return STANDARD_PROFILES.get(channel, DEFAULT_PROFILE)


def resolve(settings: Settings, tenant: str | None, channel: str) -> Resolved:
    cfg = settings.channel(tenant, channel)
    name = cfg.adapter or channel
    outbox = registry.load(registry.CHANNELS, "outbox")
    if cfg.mode == "outbox":
        return Resolved(outbox, False, "outbox mode set in settings")
    cls = registry.try_load(registry.CHANNELS, name)
    if cls is None:
        if cfg.mode == "live":
            raise ConfigError(f"channel {channel}: mode live, but no adapter {name!r} is installed")
        return Resolved(outbox, False, f"no live adapter {name!r} installed")
    missing = [c for c in cls.required_credentials if not cfg.credentials.get(c)]
    if missing:
        if cfg.mode == "live":
            raise ConfigError(f"channel {channel}: mode live, but credentials missing: {', '.join(missing)}")
        return Resolved(outbox, False, f"no credentials ({', '.join(missing)})")
    if cfg.mode == "auto" and not getattr(cls, "live_in_auto", True):
        # An adapter that needs no credentials but writes somewhere public (the website's
        # folder) goes live only when the settings say mode = "live".
        return Resolved(outbox, False, f"{name} runs live only with mode = \"live\"")
    return Resolved(cls, True, "live")


def adapter_env(settings: Settings, tenant: str) -> AdapterEnv:
    tenant_cfg = settings.tenants.get(tenant)
    return AdapterEnv(
        tenant=tenant,
        tenant_name=tenant_cfg.name if tenant_cfg else tenant,
        outbox_dir=settings.outbox_dir,
        var_dir=settings.var_dir,
        public_url=settings.web.public_url,
        districts=tuple((d.id, d.name) for d in tenant_cfg.districts) if tenant_cfg else (),
        tenant_name_en=(tenant_cfg.name_en or "") if tenant_cfg else "",
        districts_en=tuple((d.id, d.name_en) for d in tenant_cfg.districts if d.name_en) if tenant_cfg else (),
        municipality_codes=municipality_codes(tenant_cfg) if tenant_cfg else (),
        time_zone=tenant_cfg.time_zone if tenant_cfg else "Asia/Tokyo",
        unsubscribe_key=unsubscribe.key_of(settings),
    )


def municipality_codes(tenant: TenantSettings) -> tuple[str, ...]:
    """The tenant's JIS X 0402 codes: its own geocodes, else those its JMA city codes carry
    (the first five digits of JMA's 市町村等 code are the municipality's)."""
    out: list[str] = [
        g["value"] for g in tenant.geocodes if g.get("value_name") == JIS_X0402 and areacodes.is_valid(g.get("value", ""))
    ]
    for code in tenant.areas.get("jma", []):
        if len(code) >= 5 and code[:5].isdigit():
            out.append(areacodes.with_check_digit(code[:5]))
    return tuple(dict.fromkeys(c for c in out if not areacodes.is_prefecture(c)))


class AdapterPool:
    """One adapter per (tenant, channel), made on first use: each town has its own accounts."""

    def __init__(self, settings: Settings, overrides: dict[str, Any] | None = None) -> None:
        self.settings = settings
        # channel → adapter class, taking precedence over entry points (embedding, tests)
        self.overrides = dict(overrides or {})
        self._adapters: dict[tuple[str, str], ChannelAdapter] = {}
        self._modes: dict[tuple[str, str], Resolved] = {}

    def get(self, tenant: str, channel: str) -> ChannelAdapter:
        key = (tenant, channel)
        adapter = self._adapters.get(key)
        if adapter is None:
            resolved = (
                Resolved(self.overrides[channel], True, "override")
                if channel in self.overrides
                else resolve(self.settings, tenant, channel)
            )
            env = adapter_env(self.settings, tenant)
            adapter = resolved.adapter_cls.from_settings(channel, self.settings.channel(tenant, channel), env)
            self._adapters[key] = adapter
            self._modes[key] = resolved
            log.info(
                "channel_adapter_ready",
                tenant=tenant,
                channel=channel,
                live=resolved.live,
                why=resolved.reason,
            )
        return adapter

    def mode(self, tenant: str, channel: str) -> Resolved:
        self.get(tenant, channel)
        return self._modes[(tenant, channel)]

    async def close(self) -> None:
        for adapter in self._adapters.values():
            try:
                await adapter.close()
            except Exception as e:  # closing must not hide the real shutdown reason
                log.warning("adapter_close_failed", error=str(e))
        self._adapters.clear()
