"""The voice channel: synthesis time per message, and calls per minute through the exchange.

    python bench/bench_voice.py --json out.json                 # 8 sample alerts x 3, 200 calls
    python bench/bench_voice.py --rounds 1 --calls 20 --json x  # what the smoke run does

Synthesis: each sample alert rendered for the voice channel (templates/voice), made speakable and
synthesized offline (Open JTalk, Debian's dictionary), one message after another on one core;
wall and CPU time per message, and the audio's length (seconds of speech per second of work).
Each message is synthesized anew (the adapter's cache is bypassed), as a new alert would be.

Calls: one dispatch of N numbers through the voice adapter against the exchange simulator
(adapters/outbound/voice/exchange.py) on loopback, every callee answering at once and pressing a
key while the question plays, the audio "played" at 1/500 of its length. What it measures is the
broadcaster's own cost per call (ARI requests, the event WebSocket, the bookkeeping) and how many
calls an hour it can drive at the given concurrency; a real trunk's lines and the message's length
(about 30-60 s a call) bound a real town's rate far below it (docs/channels.md, *Voice*).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapters.outbound.voice import VoiceAdapter  # noqa: E402
from adapters.outbound.voice.exchange import Callee, ExchangeSimulator  # noqa: E402
from adapters.outbound.voice.speech import speakable  # noqa: E402
from adapters.outbound.voice.synth import synthesize  # noqa: E402
from broadcaster.channels import STANDARD_PROFILES, AdapterEnv  # noqa: E402
from broadcaster.logging import configure  # noqa: E402
from broadcaster.render.renderer import Renderer  # noqa: E402
from broadcaster.settings import ChannelSettings  # noqa: E402
from tests.fakes.deliveries import delivery, text  # noqa: E402
from tests.render_support import PUBLIC_URL, dispatch, sample  # noqa: E402

SAMPLES = [
    "jma/01_vxse51_shindo_sokuho.xml",
    "jma/02_vtse41_otsunami_keiho.xml",
    "jma/03_vxse53_shingen_shindo.xml",
    "jma/07_vpww55_ooame_r06.xml",
    "jma/12_vxse43_eew_keiho.xml",
    "lalert/anamizu_evacuation_order.xml",
    "lalert/anamizu_shelter_open.xml",
    "manual/evacuation_order.json",
]


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def synthesis(rounds: int, samples: int) -> dict[str, Any]:
    renderer = Renderer(ROOT / "templates", check_interval_s=0)
    texts = []
    for name in SAMPLES[:samples]:
        alert = sample(name)
        (rendered,) = renderer.render(
            alert, dispatch(alert, "voice"), STANDARD_PROFILES["voice"], tenant_name="穴水町", public_url=PUBLIC_URL
        )
        texts.append(speakable(rendered.body))
    synthesize("準備です。")  # loads the dictionary and the voice: not counted
    walls, cpus, audio, chars = [], [], [], []
    for _ in range(rounds):
        for spoken in texts:
            w, c = time.perf_counter(), _cpu()
            speech = synthesize(spoken)
            walls.append((time.perf_counter() - w) * 1000)
            cpus.append((_cpu() - c) * 1000)
            audio.append(speech.check.duration_s)
            chars.append(len(spoken))
    ordered = sorted(walls)
    return {
        "messages": len(walls),
        "wall_ms": {
            "p50": round(statistics.median(walls), 1),
            "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 1),
            "max": round(ordered[-1], 1),
        },
        "cpu_ms_p50": round(statistics.median(cpus), 1),
        "audio_s": {"p50": round(statistics.median(audio), 1), "max": round(max(audio), 1)},
        "characters_p50": int(statistics.median(chars)),
        "speech_s_per_cpu_s": round(sum(audio) / (sum(cpus) / 1000), 1),
    }


async def calls(n: int, concurrency: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        media = Path(tmp) / "voice"
        async with ExchangeSimulator(media, speed=0.002) as sim:
            numbers = [f"0768{i:06d}" for i in range(n)]
            sim.callees = {num: Callee(digit="1" if i % 10 == 0 else "0") for i, num in enumerate(numbers)}
            settings = ChannelSettings(
                credentials={"ari_user": sim.user, "ari_password": sim.password},
                options={"ari_url": sim.url, "media_dir": str(media), "max_calls": concurrency, "dtmf_timeout_s": 2},
            )
            adapter = VoiceAdapter.from_settings("voice", settings, AdapterEnv("anamizu", "穴水町", media, media, PUBLIC_URL))
            message = "こちらは、穴水町です。川島地区に、避難指示を発令しました。危険な場所から、全員避難してください。"
            try:
                await adapter.send(delivery("voice", text(message), recipients=numbers[:1]))  # synthesis and the socket: not counted
                w, c = time.perf_counter(), _cpu()
                result = await adapter.send(delivery("voice", text(message), recipients=numbers[1:]))
                wall, cpu = time.perf_counter() - w, _cpu() - c
            finally:
                await adapter.close()
    placed = len(result.outcomes)
    return {
        "calls": placed,
        "concurrency": concurrency,
        "wall_s": round(wall, 2),
        "calls_per_minute": round(placed / wall * 60, 1),
        "cpu_ms_per_call": round(cpu * 1000 / max(1, placed), 2),
        "outcomes": {o: sum(1 for x in result.outcomes if x.outcome == o) for o in sorted({x.outcome for x in result.outcomes})},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=len(SAMPLES))
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=30)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    configure("ERROR")
    out = {"synthesis": synthesis(args.rounds, args.samples), "calls": asyncio.run(calls(args.calls + 1, args.concurrency))}
    text_out = json.dumps(out, ensure_ascii=False, indent=2)
    if args.json:
        args.json.write_text(text_out, encoding="utf-8")
    print(text_out)


if __name__ == "__main__":
    main()
