"""What the demo says about the website and the residents' app it publishes and serves."""

from __future__ import annotations

import json
from collections.abc import Callable

from broadcaster.settings import Settings
from broadcaster.site_layout import CURRENT, site_dir


def print_site(settings: Settings, echo: Callable[[str], object], web_url: str | None) -> None:
    """Where each town's site is on disk, what it shows, and (when serving) where to open it."""
    echo("\nWebsite (published live, atomically: each publish is a new release, `current` points at it):")
    for tenant in settings.tenants.values():
        root = site_dir(settings.channel(tenant.id, "website").options, settings.var_dir, tenant.id)
        listed = root / CURRENT / "api" / "alerts.json"
        if not listed.exists():
            continue
        alerts = json.loads(listed.read_text(encoding="utf-8"))["alerts"]
        echo(
            f"  {tenant.name}: {root / CURRENT / 'index.html'}  ({len(alerts)} current, banner: banner.html)"
        )
    if web_url is None:
        echo("  Open the index.html files in a browser, or run `broadcaster demo --serve` to serve them.")
        return
    first = next(iter(settings.tenants.values()), None)
    if first is not None:
        echo(
            f"\nIn a browser (the web server runs until Ctrl-C):\n"
            f"  {web_url}/site/{first.id}/          the town's emergency pages (work without JavaScript)\n"
            f"  {web_url}/site/{first.id}/banner.html   the banner the town's CMS embeds\n"
            f"  {web_url}/app/{first.id}/           the residents' app (PWA; push needs VAPID keys, docs/push.md)"
        )
