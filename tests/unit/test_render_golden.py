"""Golden files: what each sample alert becomes on every channel, in five languages.

A change to a template, a phrase or the renderer shows up here as a diff a reviewer can read.
To accept the new output after checking it:

    BROADCASTER_UPDATE_GOLDEN=1 pytest tests/unit/test_render_golden.py

The files are tests/golden/<case>.txt, one block per channel and language.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from broadcaster.channels import STANDARD_PROFILES
from broadcaster.model import Alert, Kind, Status
from broadcaster.render.preview import PREVIEW_CHANNELS
from tests.render_support import PUBLIC_URL, dispatch, made, renderer, sample

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
UPDATE = os.environ.get("BROADCASTER_UPDATE_GOLDEN") == "1"
LANGUAGES = ("ja", "ja-x-easy", "en", "vi", "zh-Hans")

CASES: dict[str, Callable[[], Alert]] = {
    "tsunami_major_warning": lambda: sample("jma/02_vtse41_otsunami_keiho.xml"),
    "earthquake_intensities": lambda: sample("jma/03_vxse53_shingen_shindo.xml"),
    "tsunami_cancel": lambda: sample("jma/05_vtse41_torikeshi.xml"),
    "tsunami_correction": lambda: sample("jma/06_vtse41_teisei.xml"),
    "heavy_rain_level_warning": lambda: sample("jma/07_vpww55_ooame_r06.xml"),
    "warnings_all_lifted": lambda: sample("jma/09_vpww54_all_lifted.xml"),
    "landslide_alert": lambda: sample("jma/11_vxww50_dosha.xml"),
    "eew_warning": lambda: sample("jma/12_vxse43_eew_keiho.xml"),
    "tsunami_drill": lambda: sample("jma/13_vtse41_kunren.xml"),
    "evacuation_order_lalert": lambda: sample("lalert/anamizu_evacuation_order.xml"),
    "evacuation_lift_lalert": lambda: sample("lalert/anamizu_evacuation_lift.xml"),
    "shelter_open_lalert": lambda: sample("lalert/anamizu_shelter_open.xml"),
    "evacuation_order_manual_translated": lambda: sample("manual/evacuation_order.json"),
    "missile_launch": lambda: made(
        Kind.MISSILE,
        event="ミサイル発射",
        headline="ミサイル発射。ミサイル発射。",
        description="北朝鮮からミサイルが発射されたものとみられます。",
        instruction="建物の中、又は地下に避難してください。",
        areas=("石川県",),
    ),
    "shelter_notice_exercise": lambda: made(
        Kind.SHELTER, status=Status.EXERCISE, event="避難所開設", headline="川島公民館を開設しました"
    ),
}


def render_all(alert: Alert) -> str:
    r = renderer()
    blocks = []
    for channel in PREVIEW_CHANNELS:
        for lang in LANGUAGES:
            wanted = (lang,) if lang == "ja" else (lang, "ja")
            row = r.render_detailed(
                alert,
                dispatch(alert, channel, wanted),
                STANDARD_PROFILES.get(channel),
                tenant_name="穴水町",
                public_url=PUBLIC_URL,
            )[0]
            t = row.text
            head = f"=== {channel} / {lang} · kind {t.kind} · {row.template} · served {row.served}"
            lines = [head, f"TITLE: {t.title}"]
            for i, part in enumerate(t.parts, start=1):
                limit = f"/{row.limits.max_length}" if row.limits.max_length else ""
                lines.append(f"--- part {i}/{len(t.parts)} ({row.limits.measure(part)}{limit} {row.limits.unit}) ---")
                lines.append(part)
            for key in ("cut", "fallback"):
                if key in t.extra:
                    lines.append(f"{key.upper()}: {t.extra[key]}")
            if t.html is not None:
                lines += ["--- html ---", t.html]
            if "flex" in t.extra:
                lines += ["--- flex ---", json.dumps(t.extra["flex"], ensure_ascii=False, sort_keys=True)]
            blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case: str) -> None:
    got = render_all(CASES[case]())
    path = GOLDEN / f"{case}.txt"
    if UPDATE:
        path.write_text(got, encoding="utf-8")
        return
    assert path.exists(), f"{path} is missing: run with BROADCASTER_UPDATE_GOLDEN=1 and review it"
    want = path.read_text(encoding="utf-8")
    if got != want:
        diff = "\n".join(
            difflib.unified_diff(want.splitlines(), got.splitlines(), "golden", "now", lineterm="", n=2)
        )
        pytest.fail(f"{case} changed (BROADCASTER_UPDATE_GOLDEN=1 accepts it):\n{diff[:6000]}")
    assert "FALLBACK" not in got, "no golden case may need the plain-text fallback"
