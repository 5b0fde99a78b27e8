"""The drill's sandbox: its own ledger, bus and outbox, where nothing can reach a person.

Drills never leak (docs/decisions.md, decision 12). The guarantees do not depend on the rules or
on the channel settings, which a town may get wrong:

* every alert the sandbox's parsers return is made Exercise, whatever the input said;
* every channel's adapter is the outbox, whatever the settings say (`SandboxPool`), so no
  provider is ever called;
* channels whose mere outbox record could be mistaken for the real thing, or that reach people
  through our own systems, are not run at all: L-Alert, the carriers' area mail, e-circulars;
* the sandbox has its own ledger, without the town's residents, leaders or officers;
* no feed poller, scheduler, web server or re-driver runs in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from broadcaster import registry
from broadcaster.channels import ChannelAdapter
from broadcaster.model import Alert, NamedValue, RawEvent, Status
from broadcaster.parsing import SourceParser
from broadcaster.pipeline.adapters import AdapterPool, Resolved, adapter_env
from broadcaster.pipeline.two_person import DRILL_ROOM
from broadcaster.settings import Settings

# Never run in a drill, not even into the outbox.
NEVER = ("lalert_out", "circular")


def never(channel: str) -> bool:
    return channel in NEVER or channel.startswith("area_mail")


def sandbox_settings(settings: Settings, root: Path) -> Settings:
    """The deployment's settings turned into a sandbox's under `root`."""
    channels = {
        name: ch.model_copy(
            update={"enabled": ch.enabled and not never(name), "mode": "outbox", "credentials": {}}
        )
        for name, ch in settings.channels.items()
    }
    tenants = {tid: t.model_copy(update={"channels": {}}) for tid, t in settings.tenants.items()}
    return settings.model_copy(
        update={
            "var_dir": root,
            "db_url": f"sqlite+aiosqlite:///{root / 'ledger.sqlite3'}",
            "outbox_dir": root / "outbox",
            "bus": settings.bus.model_copy(update={"url": f"embedded:{root / 'bus.sqlite3'}", "prefix": ""}),
            "channels": channels,
            "tenants": tenants,
            "ingest": {},
            "hooks": {},
            "guard": settings.guard.model_copy(update={"enabled": False}),
            "web": settings.web.model_copy(update={"enabled": False}),
        }
    )


def stages(settings: Settings) -> list[str]:
    return ["normalize", "route", *(f"channel:{c}" for c in settings.enabled_channels()), "ledger"]


class SandboxPool(AdapterPool):
    """Every channel of every town writes to the sandbox's outbox, whatever the settings say."""

    def get(self, tenant: str, channel: str) -> ChannelAdapter:
        key = (tenant, channel)
        adapter = self._adapters.get(key)
        if adapter is None:
            outbox: Any = registry.load(registry.CHANNELS, "outbox")
            adapter = outbox.from_settings(
                channel, self.settings.channel(tenant, channel), adapter_env(self.settings, tenant)
            )
            self._adapters[key] = adapter
            self._modes[key] = Resolved(outbox, False, "drill sandbox")
        return adapter


def _exercise(alert: Alert) -> Alert:
    mark = NamedValue(value_name=DRILL_ROOM, value="1")
    info = tuple(i.model_copy(update={"parameter": (*i.parameter, mark)}) for i in alert.info)
    return alert.model_copy(update={"status": Status.EXERCISE, "info": info})


def exercise(inner: SourceParser) -> SourceParser:
    """`inner`, but every alert it returns is Exercise: a drill's input is never the real thing."""

    class Exercise:
        name: ClassVar[str] = inner.name

        def accepts(self, raw: RawEvent) -> bool:
            return inner.accepts(raw)

        def parse(self, raw: RawEvent) -> Sequence[Alert]:
            return [_exercise(a) for a in inner.parse(raw)]

    return Exercise()
