"""Render time per message: every sample alert, every channel, several languages, one core.

    python bench/bench_render.py            # several rounds
    python bench/bench_render.py --quick    # one round, for a smoke run

Prints the median and 95th percentile per channel (the X channel pays for twitter-text's exact
count), and how long a template reload takes (what staff editing a template cost the workers).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from broadcaster.channels import STANDARD_PROFILES  # noqa: E402
from broadcaster.logging import configure  # noqa: E402
from broadcaster.render.limits import x_weighted  # noqa: E402
from broadcaster.render.preview import PREVIEW_CHANNELS  # noqa: E402
from broadcaster.render.renderer import Renderer  # noqa: E402
from tests.render_support import PUBLIC_URL, dispatch, sample  # noqa: E402

SAMPLES = [
    "jma/02_vtse41_otsunami_keiho.xml",
    "jma/03_vxse53_shingen_shindo.xml",
    "jma/07_vpww55_ooame_r06.xml",
    "jma/12_vxse43_eew_keiho.xml",
    "jma/13_vtse41_kunren.xml",
    "lalert/anamizu_evacuation_order.xml",
    "lalert/anamizu_shelter_open.xml",
    "manual/evacuation_order.json",
]
LANGUAGES = (("ja",), ("vi", "ja"), ("en", "ja"), ("ja-x-easy", "ja"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    configure("ERROR")
    rounds = 1 if args.quick else 5
    t0 = time.perf_counter()
    renderer = Renderer(ROOT / "templates", check_interval_s=0)
    startup = time.perf_counter() - t0
    alerts = [sample(s) for s in SAMPLES]
    per_channel: dict[str, list[float]] = {c: [] for c in PREVIEW_CHANNELS}
    texts = 0
    for round_ in range(rounds + 1):  # the first round compiles the templates and is not counted
        for alert in alerts:
            for channel in PREVIEW_CHANNELS:
                for langs in LANGUAGES:
                    # A real alert is new text: measure X's count without the cache's help.
                    x_weighted.cache_clear()
                    start = time.perf_counter()
                    out = renderer.render(
                        alert,
                        dispatch(alert, channel, langs),
                        STANDARD_PROFILES.get(channel),
                        tenant_name="穴水町",
                        public_url=PUBLIC_URL,
                    )
                    took = (time.perf_counter() - start) / len(out)
                    if round_:
                        per_channel[channel].append(took)
                        texts += len(out)
    t0 = time.perf_counter()
    renderer.reload()
    reload_s = time.perf_counter() - t0
    print(f"renderer start-up (listing + 16 phrase tables): {startup * 1000:.0f} ms; reload: {reload_s * 1000:.0f} ms")
    print(f"{texts} texts rendered; per text (ms):")
    print(f"{'channel':<12}{'median':>8}{'p95':>8}")
    everything: list[float] = []
    for channel, times in per_channel.items():
        everything += times
        times.sort()
        print(f"{channel:<12}{statistics.median(times) * 1000:>8.2f}{times[int(len(times) * 0.95)] * 1000:>8.2f}")
    everything.sort()
    print(f"{'all':<12}{statistics.median(everything) * 1000:>8.2f}{everything[int(len(everything) * 0.95)] * 1000:>8.2f}")


if __name__ == "__main__":
    main()
