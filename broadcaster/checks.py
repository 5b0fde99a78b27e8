"""`broadcaster check`: find at the desk what would otherwise fail at 3 a.m."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jinja2

from broadcaster import registry
from broadcaster.errors import ConfigError
from broadcaster.model import Kind
from broadcaster.pipeline.adapters import adapter_env, resolve
from broadcaster.pipeline.tenancy import TenantDirectory
from broadcaster.render.renderer import Renderer
from broadcaster.rules.engine import load_tenant_rules
from broadcaster.settings import Settings

Check = tuple[bool, str, str]


def run_checks(settings: Settings) -> list[Check]:
    return list(_checks(settings))


def _checks(settings: Settings) -> Iterator[Check]:
    yield (bool(settings.tenants), "tenants", ", ".join(settings.tenants) or "no tenant configured")
    try:
        directory = TenantDirectory.from_settings(settings)
        for tenant in settings.tenants:
            n = len(directory.geocodes.get(tenant, ()))
            yield (n > 0, f"tenant {tenant} territory", f"{n} area codes" if n else "no area codes: no source alert can reach it")
    except ConfigError as e:
        yield (False, "tenant areas", str(e))
    for tenant in settings.tenants:
        try:
            districts = [d.id for d in settings.tenants[tenant].districts]
            rules = load_tenant_rules(settings.rules_dir, tenant, list(settings.channels), districts)
            yield (bool(rules.rules), f"rules for {tenant}", f"{len(rules.rules)} rules")
        except ConfigError as e:
            yield (False, f"rules for {tenant}", str(e))
    yield from _template_checks(settings)
    yield _privacy_check(settings)
    for channel in settings.enabled_channels():
        for tenant in settings.tenants:
            if channel == "circular":
                # Our own board, not an installed adapter (docs/circulars.md): live with a link key.
                from broadcaster.circulars.board import describe_mode

                yield (True, f"channel {channel} for {tenant}", describe_mode(settings, tenant))
                continue
            try:
                r = resolve(settings, tenant, channel)
                detail = f"outbox ({r.reason})"
                if r.live:
                    # Build it: a wrong option should show here, not at the first warning.
                    adapter = _build(settings, tenant, channel, r.adapter_cls)
                    # An adapter may say how it is live (緊急速報メール: hand-off or a link).
                    detail = str(getattr(adapter, "check_detail", None) or "live")
                yield (True, f"channel {channel} for {tenant}", detail)
            except Exception as e:
                yield (False, f"channel {channel} for {tenant}", f"{type(e).__name__}: {e}")
    for name in registry.names(registry.PARSERS):
        ok = registry.try_load(registry.PARSERS, name) is not None
        yield (ok, f"parser {name}", "" if ok else "cannot be imported")


def _privacy_check(settings: Settings) -> Check:
    # Personal data at rest (docs/privacy.md): a deployment without a data key refuses to start.
    try:
        cipher = settings.privacy.cipher()
    except ConfigError as e:
        return (False, "data key", str(e))
    if cipher is not None:
        old = len(cipher.key_ids) - 1
        return (True, "data key", f"key {cipher.key_id}" + (f", {old} previous kept for rekey" if old else ""))
    if settings.privacy.require_key:
        return (False, "data key", "none: `broadcaster run` refuses to start (set privacy.key or key_file)")
    return (True, "data key", "none: personal data stored in clear (privacy.require_key = false, demo only)")


def _build(settings: Settings, tenant: str, channel: str, cls: Any) -> Any:
    return cls.from_settings(channel, settings.channel(tenant, channel), adapter_env(settings, tenant))


def _template_checks(settings: Settings) -> Iterator[Check]:
    root = settings.templates_dir
    if not root.is_dir():
        yield (False, "templates", f"{root} is not a folder")
        return
    renderer = Renderer(root)
    broken = 0
    files = sorted(root.rglob("*.j2"))
    for path in files:
        rel = path.relative_to(root).as_posix()
        try:
            renderer.env.parse(path.read_text(encoding="utf-8"), name=rel, filename=str(path))
        except jinja2.TemplateSyntaxError as e:
            broken += 1
            yield (False, f"template {rel}", f"line {e.lineno}: {e.message}")
    yield (broken == 0, "templates", f"{len(files)} files compile" if not broken else f"{broken} broken")
    missing = [
        f"{channel}/{kind.value}"
        for channel in settings.enabled_channels()
        for kind in Kind
        if renderer.find("-", channel, kind.value, "ja") is None
    ]
    yield (not missing, "templates cover every channel and kind in ja", ", ".join(missing[:10]))
