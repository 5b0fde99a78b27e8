"""Alerts, dispatches and a renderer for the rendering tests (samples from samples/)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from broadcaster.model import (
    KIND,
    LEVEL,
    Alert,
    Area,
    Category,
    Certainty,
    Dispatch,
    Explanation,
    Info,
    Kind,
    MsgType,
    NamedValue,
    Severity,
    Status,
    Urgency,
)
from broadcaster.parsing import SourceParser
from broadcaster.pipeline.normalize import Refused, parse
from broadcaster.pipeline.runtime import load_parsers
from broadcaster.render.renderer import Renderer
from broadcaster.sources import raw_from_file

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
PUBLIC_URL = "https://bousai.anamizu.example"
FIXED = datetime(2024, 1, 1, 7, 10, tzinfo=UTC)


@cache
def renderer() -> Renderer:
    # No automatic reloading in tests: a test that edits templates uses its own renderer.
    return Renderer(ROOT / "templates", check_interval_s=0)


def sample(name: str, index: int = 0) -> Alert:
    """The alert a sample file parses to, with a fixed identifier for a manual alert."""
    path = SAMPLES / name
    raw = raw_from_file(path, officer="officer:anamizu/test", tenant="anamizu", source=None, known_tenants=None)
    result = parse(raw, _parsers())
    assert not isinstance(result, Refused), result
    alert = result[index].for_tenant("anamizu")
    if alert.origin == "manual":
        # A manual alert's identifier comes from the raw event's random id; goldens need one.
        alert = alert.model_copy(update={"identifier": f"m-anamizu-{path.stem}", "sent": FIXED})
    return alert


@cache
def _parsers() -> list[SourceParser]:
    return list(load_parsers())


def dispatch(alert: Alert, channel: str, languages: tuple[str, ...] = ("ja",), template: str = "auto") -> Dispatch:
    return Dispatch(
        tenant="anamizu",
        alert_id=alert.identifier,
        event_key=alert.event_key,
        channel=channel,
        audience="public",
        batch=0,
        batch_count=1,
        template=template,
        languages=languages,
        explanation=Explanation(rule="test"),
        created=FIXED,
        deadline=FIXED + timedelta(minutes=5),
    )


def made(
    kind: Kind | str,
    *,
    status: Status = Status.ACTUAL,
    msg_type: MsgType = MsgType.ALERT,
    event: str = "避難指示",
    headline: str | None = "川島地区に避難指示",
    description: str | None = "大雨のため避難指示を発令しました。",
    instruction: str | None = "危険な場所から全員避難してください。",
    level: int | None = None,
    areas: tuple[str, ...] = ("川島地区",),
    params: tuple[tuple[str, str], ...] = (),
    translations: dict[str, dict[str, str]] | None = None,
) -> Alert:
    """A hand-made alert of any kind, for tests that go over every family."""
    parameter = [NamedValue(value_name=n, value=v) for n, v in params]
    if level is not None:
        parameter.insert(0, NamedValue(value_name=LEVEL, value=str(level)))

    def info(language: str, over: dict[str, str]) -> Info:
        return Info(
            language=language,
            category=(Category.SAFETY,),
            event=over.get("event", event),
            urgency=Urgency.IMMEDIATE,
            severity=Severity.SEVERE,
            certainty=Certainty.LIKELY,
            event_code=(NamedValue(value_name=KIND, value=str(kind)),),
            headline=over.get("headline", headline),
            description=over.get("description", description),
            instruction=over.get("instruction", instruction),
            parameter=tuple(parameter),
            area=tuple(Area(area_desc=a) for a in areas),
        )

    infos = [info("ja-JP", {})] + [info(lang, t) for lang, t in (translations or {}).items()]
    return Alert(
        identifier=f"test-{kind}-{status.value}-{msg_type.value}".lower(),
        sender="test@anamizu",
        sent=FIXED,
        status=status,
        msg_type=msg_type,
        references=("test@anamizu,orig,2024-01-01T16:00:00+09:00",) if msg_type is not MsgType.ALERT else (),
        info=tuple(infos),
        tenant="anamizu",
        event_key=f"test|{kind}",
        origin="manual",
    )
