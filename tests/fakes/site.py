"""Alerts and a website adapter for the website channel's tests (unit, web and browser)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from adapters.outbound.website import WebsiteAdapter, WebsiteSettings
from adapters.outbound.website.render import Site
from broadcaster.channels import Delivery
from broadcaster.model import (
    DISTRICT_CODE,
    JST,
    KIND,
    Alert,
    Area,
    Category,
    Certainty,
    Info,
    MsgType,
    NamedValue,
    ResponseType,
    Severity,
    Status,
    Urgency,
)
from tests.fakes.deliveries import delivery, text

T0 = datetime(2025, 7, 10, 2, 40, tzinfo=JST)
DISTRICTS = (("kawashima", "川島"), ("omachi", "大町"))
# The English names the town's settings give (config/tenants/anamizu.toml name_en).
DISTRICTS_EN = (("kawashima", "Kawashima"), ("omachi", "Omachi"))


def alert(
    ident: str,
    *,
    event: str = "避難指示",
    headline: str | None = None,
    description: str = "川島地区に避難指示を発令しました。",
    event_key: str | None = None,
    msg_type: MsgType = MsgType.ALERT,
    references: tuple[str, ...] = (),
    status: Status = Status.ACTUAL,
    sent: datetime = T0,
    expires: datetime | None = None,
    districts: tuple[str, ...] = (),
    severity: Severity = Severity.SEVERE,
    urgency: Urgency = Urgency.IMMEDIATE,
    kind: str = "evacuation",
    web: str | None = None,
    area_desc: str = "川島地区",
    response: tuple[ResponseType, ...] = (ResponseType.EVACUATE,),
    instruction: str | None = "直ちに避難してください。",
) -> Alert:
    areas = (
        Area(
            area_desc=area_desc,
            geocode=tuple(NamedValue(value_name=DISTRICT_CODE, value=d) for d in districts),
        ),
    )
    info = Info(
        category=(Category.SAFETY,),
        event=event,
        response_type=response,
        urgency=urgency,
        severity=severity,
        certainty=Certainty.LIKELY,
        event_code=(NamedValue(value_name=KIND, value=kind),),
        headline=headline if headline is not None else f"穴水町: {event}",
        description=description,
        instruction=instruction,
        expires=expires,
        web=web,
        area=areas,
    )
    return Alert(
        identifier=ident,
        sender="officer:anamizu/tanaka",
        sent=sent,
        status=status,
        msg_type=msg_type,
        references=references,
        info=(info,),
        tenant="anamizu",
        event_key=event_key or f"manual|{ident}",
        origin="manual",
    )


def follow_up(original: Alert, ident: str, msg_type: MsgType, *, minutes: int = 30, **kw: Any) -> Alert:
    return alert(
        ident,
        event_key=original.event_key,
        msg_type=msg_type,
        references=(original.reference_key,),
        sent=original.sent + timedelta(minutes=minutes),
        status=original.status,
        **kw,
    )


def site_delivery(
    a: Alert, body: str | None = None, *, audience: str = "public", title: str = ""
) -> Delivery:
    label = {Status.EXERCISE: "【訓練】", Status.TEST: "【試験】"}.get(a.status, "")
    info = a.primary
    first = title or f"{label}【穴水町】{info.event}"
    return delivery(
        "website",
        text(
            body if body is not None else f"{first}\n{info.headline}\n{info.description}",
            title=first,
            kind="evacuation",
        ),
        alert=a,
        audience=audience,
    )


def multilingual_delivery(
    a: Alert, texts: dict[str, tuple[str, str]], *, audience: str = "public"
) -> Delivery:
    """The website's dispatch of `a` in several languages: {language: (title, body)}."""
    return delivery(
        "website",
        *(text(body, title=title, language=lang, kind="evacuation") for lang, (title, body) in texts.items()),
        alert=a,
        audience=audience,
    )


@dataclass
class Clock:
    at: datetime = T0 + timedelta(minutes=5)

    def __call__(self) -> datetime:
        return self.at


@dataclass
class SiteFixture:
    root: Path
    url: str = "http://127.0.0.1:8080/site/anamizu/"
    clock: Clock = field(default_factory=Clock)
    made: list[WebsiteAdapter] = field(default_factory=list)

    def adapter(self, *, clock: Callable[[], datetime] | None = None, **settings: Any) -> WebsiteAdapter:
        site = Site(
            tenant="anamizu",
            name="穴水町",
            url=self.url,
            districts=DISTRICTS,
            codes=("174611",),
            name_en="Anamizu Town",
            districts_en=DISTRICTS_EN,
        )
        adapter = WebsiteAdapter(
            WebsiteSettings(site_dir=self.root, site_url=self.url, **settings),
            site,
            clock=clock or self.clock,
        )
        self.made.append(adapter)
        return adapter

    @property
    def current(self) -> Path:
        return (self.root / "current").resolve()

    def read(self, rel: str) -> str:
        return (self.current / rel).read_text(encoding="utf-8")

    def json(self, rel: str) -> Any:
        return json.loads(self.read(rel))

    def current_ids(self) -> list[str]:
        return [a["id"] for a in self.json("api/alerts.json")["alerts"]]

    async def close(self) -> None:
        for a in self.made:
            await a.close()
