"""CPU per website publish: 100 alerts, each rendered in the seven page languages, sent one after
another to the website adapter (every page in every language, docs/website.md *Languages*).

    python bench/bench_site_languages.py
"""

import asyncio
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from broadcaster.channels import Delivery
from tests.fakes.site import SiteFixture
from tests.render_support import PUBLIC_URL, dispatch, renderer, sample

LANGS = ("ja", "ja-x-easy", "en", "vi", "zh-Hans", "ko", "pt")


async def main() -> None:
    base = sample("manual/evacuation_order.json")
    site = SiteFixture(Path(tempfile.mkdtemp()) / "s")
    ad = site.adapter()
    cpu = []
    for i in range(100):
        a = base.model_copy(
            update={"identifier": f"a-{i}", "event_key": f"e-{i}", "sent": base.sent + timedelta(minutes=i)}
        )
        d = dispatch(a, "website", LANGS)
        texts = renderer().render(a, d, None, tenant_name="穴水町", public_url=PUBLIC_URL, languages=LANGS)
        t = time.process_time()
        await ad.send(Delivery(dispatch=d, alert=a, texts=texts))
        cpu.append((time.process_time() - t) * 1000)
    await site.close()
    cpu.sort()
    print(
        f"CPU per publish p50 {statistics.median(cpu):.1f} ms, p99 {cpu[98]:.1f} ms, files {sum(1 for _ in site.current.rglob('*.html'))} html"
    )


if __name__ == "__main__":
    asyncio.run(main())
