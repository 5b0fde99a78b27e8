"""The read-aloud templates: one per kind, the action said twice, no links, speakable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.outbound.voice.speech import speakable
from broadcaster.channels import STANDARD_PROFILES
from broadcaster.model import Dispatch, Explanation
from broadcaster.pipeline.normalize import parse
from broadcaster.pipeline.runtime import load_parsers
from broadcaster.render.renderer import Renderer
from broadcaster.sources import raw_from_file

ROOT = Path(__file__).resolve().parents[2]


def _voice_text(sample: str, officer: str | None = None) -> str:
    raw = raw_from_file(
        ROOT / "samples" / sample, officer=officer, tenant="anamizu" if officer else None, source=None, known_tenants=None
    )
    alerts = parse(raw, load_parsers())
    assert isinstance(alerts, list)
    alert = alerts[0].for_tenant("anamizu")
    at = datetime.now(UTC)
    dispatch = Dispatch(
        tenant="anamizu", alert_id=alert.identifier, event_key=alert.event_key, channel="voice",
        audience="district:kawashima", batch=0, batch_count=1, recipients=("0768520101",), template="auto",
        languages=("ja",), explanation=Explanation(rule="test"), created=at, deadline=at + timedelta(minutes=5),
    )
    (text,) = Renderer(ROOT / "templates").render(
        alert, dispatch, STANDARD_PROFILES["voice"], tenant_name="穴水町", public_url="http://127.0.0.1:8080"
    )
    return speakable(text.body)


@pytest.mark.parametrize(
    ("sample", "officer", "said_twice"),
    [
        ("jma/02_vtse41_otsunami_keiho.xml", None, "大津波警報"),
        ("jma/01_vxse51_shindo_sokuho.xml", None, "震度7"),
        ("manual/evacuation_order.json", "tanaka", "避難指示"),
    ],
)
def test_read_aloud_text_names_the_town_says_it_twice_and_has_no_link(sample: str, officer: str | None, said_twice: str) -> None:
    spoken = _voice_text(sample, officer)
    assert spoken.startswith("こちらは、穴水町です。")
    assert spoken.count(said_twice) >= 2 and "繰り返します" in spoken
    assert "http" not in spoken and "【" not in spoken and "：" not in spoken


def test_every_life_safety_kind_has_its_own_read_aloud_template() -> None:
    names = {p.stem.split(".")[0] for p in (ROOT / "templates" / "voice").glob("*.ja.j2")}
    assert {"default", "tsunami", "earthquake", "eew", "evacuation", "shelter", "missile", "special_warning"} <= names
