"""A process that serves only the web (`broadcaster worker web`) previews with the current rules."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from broadcaster.app import open_runtime, serving
from broadcaster.bus.embedded import EmbeddedBus
from broadcaster.settings import PROJECT_ROOT
from broadcaster.store import migrate
from broadcaster.store.ledger import Ledger
from tests.helpers import eventually, make_settings
from tests.web_helpers import free_port


async def test_a_web_only_process_reloads_edited_rules(tmp_path: Path) -> None:
    rules_dir = tmp_path / "rules"
    shutil.copytree(PROJECT_ROOT / "rules", rules_dir)
    port = free_port()
    settings = make_settings(
        tmp_path, rules_dir=rules_dir, web={"port": port, "public_url": f"http://127.0.0.1:{port}"}
    )
    ledger = Ledger.connect(settings.db_url)
    await migrate.upgrade(ledger.db)
    bus = EmbeddedBus(tmp_path / "bus.sqlite3", partitions=2, poll_interval=0.05)
    await bus.start()
    try:
        async with open_runtime(settings, bus, ledger) as runtime, serving(runtime, ["web"]):
            before = runtime.rules.get("anamizu").digest
            path = rules_dir / "anamizu" / "50-notices.yaml"
            path.write_text(path.read_text(encoding="utf-8") + "\n# 編集: 文言の見直し\n", encoding="utf-8")
            st = path.stat()
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
            await eventually(lambda: runtime.rules.get("anamizu").digest != before, timeout=15)
    finally:
        await bus.close()
        await ledger.close()
