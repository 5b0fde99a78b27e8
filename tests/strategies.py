"""Hypothesis strategies for the model: random but valid Alerts, Japanese text included."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

from hypothesis import strategies as st
from pydantic import BaseModel

from broadcaster.model import (
    DISTRICT_CODE,
    JIS_X0402,
    JST,
    KIND,
    LEVEL,
    Alert,
    Area,
    Category,
    Certainty,
    Info,
    Kind,
    MsgType,
    NamedValue,
    Resource,
    ResponseType,
    Scope,
    Severity,
    Status,
    Urgency,
    cap_datetime,
)

M = TypeVar("M", bound=BaseModel)


def _xml_char(c: str) -> bool:
    cp = ord(c)
    return c in "\t\n\r" or 0x20 <= cp <= 0xD7FF or 0xE000 <= cp <= 0xFFFD or cp >= 0x10000


# Any character XML 1.0 can carry, with Japanese, CR/LF and markup characters made common.
_chars = st.one_of(
    st.characters(codec="utf-8").filter(_xml_char),
    st.characters(min_codepoint=0x3040, max_codepoint=0x30FF),  # kana
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),  # kanji
    st.sampled_from(list("\r\n\t <>&\"']]>")),
)
texts = st.text(_chars, max_size=40)
words = st.text(_chars, min_size=1, max_size=20)
phrases = st.sampled_from(["避難指示", "津波警報", "石川県能登", "穴水町", "大雨特別警報", "Evacuate now"])
prose = st.one_of(texts, phrases, st.lists(phrases, max_size=4).map("\n".join))
tokens = st.text(
    st.sampled_from(list("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789-_.:@/穴水町")), min_size=1, max_size=24
)
offsets = st.one_of(
    st.just(UTC),
    st.just(JST),
    st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m))),
)
# CAP carries whole seconds: the Alert's CAP datetimes are generated that way (docs/cap.md).
cap_times = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=offsets
).map(lambda d: d.replace(microsecond=0))
# `received` travels in our extension at full precision, with any offset Python allows.
any_offsets = st.timedeltas(
    min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59)
)
precise_times = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=any_offsets.map(timezone)
)
languages = st.lists(
    st.sampled_from(["ja-JP", "en-US", "zh-CN", "zh-TW", "ko-KR", "pt-BR", "vi-VN", "es", "tl", "ne-NP"]),
    min_size=0,
    max_size=4,
    unique=True,
)


M = TypeVar("M", bound=BaseModel)


def models(cls: type[M], **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[M]:
    # Not st.builds: it would also fill the pydantic aliases (areaDesc) beside the field names.
    return st.fixed_dictionaries(fields).map(lambda kw: cls(**kw))


@st.composite
def named_values(draw: st.DrawFn, names: st.SearchStrategy[str] = words) -> NamedValue:
    return NamedValue(value_name=draw(names), value=draw(texts))


geocodes = st.one_of(
    models(NamedValue, value_name=st.just(JIS_X0402), value=st.sampled_from(["172049", "172022", "173461"])),
    models(
        NamedValue, value_name=st.just("気象・地震・火山情報／市町村等"), value=st.sampled_from(["1746100"])
    ),
    models(NamedValue, value_name=st.just(DISTRICT_CODE), value=tokens),
    named_values(),
)
points = st.tuples(st.floats(-90, 90), st.floats(-180, 180)).map(lambda p: f"{p[0]:.4f},{p[1]:.4f}")
polygons = st.one_of(st.lists(points, min_size=3, max_size=6).map(lambda ps: " ".join([*ps, ps[0]])), texts)
circles = st.one_of(st.tuples(points, st.floats(0, 500)).map(lambda c: f"{c[0]} {c[1]:.1f}"), texts)
heights = st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False))

areas = models(
    Area,
    area_desc=prose,
    polygon=st.lists(polygons, max_size=2).map(tuple),
    circle=st.lists(circles, max_size=2).map(tuple),
    geocode=st.lists(geocodes, max_size=4).map(tuple),
    altitude=heights,
    ceiling=heights,
)
resources = models(
    Resource,
    resource_desc=prose,
    mime_type=st.sampled_from(["audio/mpeg", "image/png", "application/pdf", ""]),
    size=st.one_of(st.none(), st.integers(-(2**70), 2**70)),
    uri=st.one_of(st.none(), st.just("https://www.town.anamizu.lg.jp/bousai/1.mp3"), texts),
    deref_uri=st.one_of(st.none(), st.binary(max_size=60).map(lambda b: base64.b64encode(b).decode())),
    digest=st.one_of(st.none(), tokens),
)
event_codes = st.one_of(
    models(NamedValue, value_name=st.just(KIND), value=st.sampled_from([k.value for k in Kind])),
    models(NamedValue, value_name=st.just(LEVEL), value=st.sampled_from("12345")),
    named_values(),
)


def _optional(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str | None]:
    return st.one_of(st.none(), strategy)


@st.composite
def infos(draw: st.DrawFn, language: str) -> Info:
    return Info(
        language=language,
        category=tuple(draw(st.lists(st.sampled_from(Category), min_size=1, max_size=3))),
        event=draw(st.one_of(words, phrases)),
        response_type=tuple(draw(st.lists(st.sampled_from(ResponseType), max_size=2))),
        urgency=draw(st.sampled_from(Urgency)),
        severity=draw(st.sampled_from(Severity)),
        certainty=draw(st.sampled_from(Certainty)),
        audience=draw(_optional(texts)),
        event_code=tuple(draw(st.lists(event_codes, max_size=3))),
        effective=draw(st.one_of(st.none(), cap_times)),
        onset=draw(st.one_of(st.none(), cap_times)),
        expires=draw(st.one_of(st.none(), cap_times)),
        sender_name=draw(_optional(prose)),
        headline=draw(_optional(prose)),
        description=draw(_optional(prose)),
        instruction=draw(_optional(prose)),
        web=draw(_optional(st.one_of(st.just("https://www.town.anamizu.lg.jp/"), texts))),
        contact=draw(_optional(texts)),
        parameter=tuple(draw(st.lists(named_values(), max_size=3))),
        resource=tuple(draw(st.lists(resources, max_size=2))),
        area=tuple(draw(st.lists(areas, max_size=3))),
    )


# Codes that look like our extension must still come back as the alert's own codes.
codes = st.one_of(
    texts,
    st.sampled_from(
        ["IPAWSv1.0", "broadcaster:origin=evil", "broadcaster:code=x", "broadcaster:", "broadcaster:kind"]
    ),
)


def _reference(sender: str, identifier: str, sent: datetime) -> str:
    return f"{sender},{identifier},{cap_datetime(sent)}"


@st.composite
def alerts(draw: st.DrawFn) -> Alert:
    msg_type = draw(st.sampled_from(MsgType))
    scope = draw(st.sampled_from(Scope))
    needs_refs = msg_type in (MsgType.UPDATE, MsgType.CANCEL)
    references = draw(
        st.lists(
            st.builds(_reference, tokens, tokens, cap_times), min_size=1 if needs_refs else 0, max_size=3
        )
    )
    return Alert(
        identifier=draw(tokens),
        sender=draw(tokens),
        sent=draw(cap_times),
        status=draw(st.sampled_from(Status)),
        msg_type=msg_type,
        source=draw(_optional(texts)),
        scope=scope,
        restriction=draw(words if scope is Scope.RESTRICTED else _optional(texts)),
        addresses=draw(
            words if scope is Scope.PRIVATE else _optional(st.sampled_from(['"Town Hall" 0123', "a b"]))
        ),
        code=tuple(draw(st.lists(codes, max_size=4))),
        note=draw(_optional(prose)),
        references=tuple(references),
        incidents=draw(_optional(st.one_of(tokens, st.just('"Noto 2024" quake-1')))),
        info=tuple(draw(infos(lang)) for lang in draw(languages)),
        tenant=draw(_optional(st.sampled_from(["anamizu", "wajima", "noto"]))),
        event_key=draw(words),
        origin=draw(st.one_of(st.sampled_from(["jma", "lalert", "jalert", "cap", "manual"]), words)),
        received=draw(st.one_of(st.none(), precise_times)),
    )
