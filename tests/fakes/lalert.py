"""A fake L-Alert publish endpoint on loopback, for the lalert_out adapter's tests.

It behaves like a careful receiver: it checks credentials, parses every document with the
project's own L-Alert parser (so what the adapter sends must be a valid commons document), refuses
a revision that does not advance its document, and answers a repeated Idempotency-Key with the
first answer instead of publishing twice. Tests script failures (a status with Retry-After, a hang)
for the next requests and inspect every request it saw, headers included.
"""

from __future__ import annotations

import asyncio
import base64
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import Self

from aiohttp import web

from adapters.ingest.lalert import parse_bytes
from adapters.ingest.lalert import vocabulary as v
from adapters.outbound.lalert_out import PublisherInfo
from broadcaster.channels import Delivery, RenderedText
from broadcaster.errors import ParseError
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
    Dispatch,
    Explanation,
    Info,
    Kind,
    MsgType,
    NamedValue,
    ResponseType,
    Severity,
    Status,
    Urgency,
)

_ACK = """<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
<soap:Body><pcsoap:publishResponse xmlns:pcsoap="http://soap.publiccommons.ne.jp/"
 xmlns:commons="http://xml.publiccommons.ne.jp/xml/edxl/">
<commons:documentID>{doc}</commons:documentID><commons:documentRevision>{rev}</commons:documentRevision>
</pcsoap:publishResponse></soap:Body></soap:Envelope>"""


@dataclass(frozen=True)
class Received:
    """One request as the fake saw it, whatever it answered."""

    headers: dict[str, str]
    body: bytes
    status: int
    alerts: tuple[Alert, ...] = ()
    reason: str | None = None

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("Idempotency-Key")


@dataclass(frozen=True)
class _Failure:
    status: int
    retry_after: str | None = None
    hang: bool = False


@dataclass
class FakeLAlert:
    token: str | None = None
    basic: tuple[str, str] | None = None
    requests: list[Received] = field(default_factory=list)
    # Documents published, in order (a replayed key publishes nothing).
    published: list[Alert] = field(default_factory=list)
    _script: deque[_Failure] = field(default_factory=deque)
    _answers: dict[str, bytes] = field(default_factory=dict)
    _revisions: dict[str, int] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    _release: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""

    # --- scripting -------------------------------------------------------------------------
    def fail_next(self, status: int, *, retry_after: str | None = None, times: int = 1) -> None:
        for _ in range(times):
            self._script.append(_Failure(status=status, retry_after=retry_after))

    def hang_next(self) -> None:
        """The next request gets no answer until the fake closes (the client must time out)."""
        self._script.append(_Failure(status=0, hang=True))

    # --- lifecycle -------------------------------------------------------------------------
    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/publish", self._publish)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}/publish"
        return self.url

    async def close(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # --- the endpoint ----------------------------------------------------------------------
    def _authorized(self, request: web.Request) -> bool:
        given = request.headers.get("Authorization", "")
        if self.token is not None:
            return given == f"Bearer {self.token}"
        if self.basic is not None:
            expected = base64.b64encode(f"{self.basic[0]}:{self.basic[1]}".encode()).decode()
            return given == f"Basic {expected}"
        return True

    def _record(
        self,
        request: web.Request,
        body: bytes,
        status: int,
        *,
        alerts: Sequence[Alert] = (),
        reason: str | None = None,
    ) -> None:
        self.requests.append(
            Received(
                headers=dict(request.headers), body=body, status=status, alerts=tuple(alerts), reason=reason
            )
        )

    async def _publish(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if self._script:
            failure = self._script.popleft()
            if failure.hang:
                self._record(request, body, 0, reason="hung")
                await self._release.wait()
                return web.Response(status=503)
            self._record(request, body, failure.status, reason="scripted")
            headers = {"Retry-After": failure.retry_after} if failure.retry_after else {}
            return web.Response(status=failure.status, text="scripted failure", headers=headers)
        if not self._authorized(request):
            self._record(request, body, 401, reason="unauthorized")
            return web.Response(status=401, text="unauthorized")
        key = request.headers.get("Idempotency-Key")
        if not key:
            self._record(request, body, 400, reason="no_idempotency_key")
            return web.Response(status=400, text="Idempotency-Key required")
        if key in self._answers:
            self._record(request, body, 200, reason="replayed")
            return web.Response(
                body=self._answers[key], content_type="text/xml", headers={"Idempotent-Replayed": "true"}
            )
        try:
            alerts = parse_bytes(body)
        except ParseError as e:
            self._record(request, body, 400, reason=e.reason)
            return web.Response(status=400, text=f"rejected: {e.reason}")
        for alert in alerts:
            doc, rev = alert.primary.param(v.P_DOCUMENT_ID), alert.primary.param(v.P_REVISION)
            if doc is None or rev is None or int(rev) <= self._revisions.get(doc, 0):
                self._record(request, body, 409, alerts=alerts, reason="revision_not_advancing")
                return web.Response(status=409, text=f"revision {rev} of {doc} does not advance")
        for alert in alerts:
            self._revisions[str(alert.primary.param(v.P_DOCUMENT_ID))] = int(
                str(alert.primary.param(v.P_REVISION))
            )
        self.published.extend(alerts)
        last = alerts[-1].primary
        answer = _ACK.format(doc=last.param(v.P_DOCUMENT_ID), rev=last.param(v.P_REVISION)).encode()
        self._answers[key] = answer
        self._record(request, body, 200, alerts=alerts)
        return web.Response(body=answer, content_type="text/xml")


# --- what the town would hand to the adapter ------------------------------------------------------
# Factories for the tests of the builder and the adapter: an officer's own alert as the console
# makes it, and a Delivery as the channel worker passes it.


def anamizu_publisher() -> PublisherInfo:
    return PublisherInfo(
        organization_code="174611",
        organization_name="穴水町",
        office_name="総務課",
        domain="town.anamizu.lg.jp",
        area_name="石川県穴水町",
        phone="0768-00-0000",
    )


def district(name: str, *, code: str | None = None, circle: str | None = None) -> Area:
    geocode = [NamedValue(value_name=JIS_X0402, value="174611")]
    if code is not None:
        geocode.append(NamedValue(value_name=DISTRICT_CODE, value=code))
    return Area(area_desc=name, geocode=tuple(geocode), circle=(circle,) if circle else ())


TOWN_SENT = datetime(2025, 7, 10, 2, 40, tzinfo=JST)


def town_alert(
    kind: Kind = Kind.EVACUATION,
    *,
    level: int | None = 4,
    identifier: str = "anamizu-0001",
    msg_type: MsgType = MsgType.ALERT,
    references: tuple[str, ...] = (),
    status: Status = Status.ACTUAL,
    sent: datetime = TOWN_SENT,
    areas: tuple[Area, ...] | None = None,
    parameters: tuple[NamedValue, ...] = (),
    response: tuple[ResponseType, ...] = (ResponseType.EVACUATE,),
    event: str = "避難指示",
    note: str | None = None,
    origin: str = "manual",
) -> Alert:
    params = [NamedValue(value_name=LEVEL, value=str(level))] if level is not None else []
    info = Info(
        category=(Category.SAFETY,),
        event=event,
        response_type=response,
        urgency=Urgency.IMMEDIATE,
        severity=Severity.SEVERE,
        certainty=Certainty.LIKELY,
        event_code=(NamedValue(value_name=KIND, value=kind.value),),
        headline=f"穴水町: {event}",
        description=f"川島地区、大町地区に{event}を発令しました。",
        parameter=(*params, *parameters),
        area=areas if areas is not None else (district("川島地区"), district("大町地区")),
    )
    return Alert(
        identifier=identifier,
        sender="officer:anamizu/tanaka",
        sent=sent,
        status=status,
        msg_type=msg_type,
        references=references,
        note=note,
        info=(info,),
        tenant="anamizu",
        event_key="manual|anamizu-0001",
        origin=origin,
    )


def delivery_for(
    alert: Alert, *, text: str = "【警戒レベル4】避難指示を発令しました。", audience: str = "lalert"
) -> Delivery:
    created = datetime(2025, 7, 10, 2, 41, tzinfo=JST)
    dispatch = Dispatch(
        tenant=alert.tenant or "anamizu",
        alert_id=alert.identifier,
        event_key=alert.event_key,
        channel="lalert_out",
        audience=audience,
        batch=0,
        batch_count=1,
        template="lalert_out/evacuation",
        explanation=Explanation(rule="test"),
        created=created,
        deadline=created + timedelta(minutes=5),
    )
    return Delivery(
        dispatch=dispatch, alert=alert, texts=(RenderedText(language="ja", kind="evacuation", body=text),)
    )


# --- hand-made commons documents ------------------------------------------------------------------

EVACUATION_NS = "http://xml.publiccommons.ne.jp/pcxml1/body/evacuation3"


def commons_doc(
    body: str = "",
    *,
    category: str = "EvacuationOrder",
    status: str | None = "Actual",
    control_status: str | None = None,
    dist_type: str | None = "Report",
    revision: str | None = "1",
    previous: str | None = None,
    doc_id: str | None = "doc-0001",
    head_doc_id: str | None = None,
    head_revision: str | None = None,
    sent: str | None = "2025-07-10T02:40:00+09:00",
    first_created: str | None = None,
    errata: str | None = None,
    report_ns: str = "http://xml.publiccommons.ne.jp/pcxml1/3",
    root_ns: str = "urn:oasis:names:tc:emergency:EDXL:DE:1.0",
) -> bytes:
    """A minimal commons document (version-3 namespaces, as the LGDIS templates) around `body`."""

    def el(name: str, value: str | None) -> str:
        return f"<{name}>{value}</{name}>" if value is not None else ""

    control = el("edxlde:distributionStatus", control_status)
    if errata is not None:
        control += f"<Errata><pcx_eb:Description>{errata}</pcx_eb:Description></Errata>"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<edxlde:EDXLDistribution xmlns:edxlde="{root_ns}"
  xmlns:commons="http://xml.publiccommons.ne.jp/xml/edxl/"
  xmlns:pcx_eb="http://xml.publiccommons.ne.jp/pcxml1/elementBasis3/"
  xmlns:pcx_ib="http://xml.publiccommons.ne.jp/pcxml1/informationBasis3/"
  xmlns:pcx_ev="{EVACUATION_NS}"
  xmlns:pcx_sh="http://xml.publiccommons.ne.jp/pcxml1/body/shelter3"
  xmlns:pcx_di="http://xml.publiccommons.ne.jp/pcxml1/body/DamageInformation3"
  xmlns:pcx_ah="http://xml.publiccommons.ne.jp/pcxml1/body/AntidisasterHeadquarter3"
  xmlns:pcx_um="http://xml.publiccommons.ne.jp/pcxml1/body/UrgentMail3"
  xmlns:pcx_gi="http://xml.publiccommons.ne.jp/pcxml1/body/GeneralInformation3">
  {el("edxlde:distributionID", "dist-" + (doc_id or "x"))}
  {el("edxlde:senderID", "editor.town.anamizu.lg.jp")}
  {el("edxlde:dateTimeSent", sent)}
  {el("edxlde:distributionStatus", status)}
  {el("edxlde:distributionType", dist_type)}
  <commons:targetArea><commons:areaName>石川県穴水町</commons:areaName><commons:jisX0402>174611</commons:jisX0402></commons:targetArea>
  <commons:contentObject>
    <edxlde:xmlContent><edxlde:embeddedXMLContent>
      <Report xmlns="{report_ns}">
        <Control><Title>{category}</Title>{control}</Control>
        <pcx_ib:Head>
          <pcx_ib:Title>穴水町: テスト</pcx_ib:Title>
          {el("pcx_ib:FirstCreateDateTime", first_created)}
          {el("commons:documentRevision", head_revision)}
          {el("commons:documentID", head_doc_id)}
          <pcx_ib:Headline><pcx_ib:Text>見出し本文</pcx_ib:Text></pcx_ib:Headline>
        </pcx_ib:Head>
        {body}
      </Report>
    </edxlde:embeddedXMLContent></edxlde:xmlContent>
    {el("commons:previousDocumentRevision", previous)}
    {el("commons:documentRevision", revision)}
    {el("commons:documentID", doc_id)}
    <commons:category>{category}</commons:category>
  </commons:contentObject>
</edxlde:EDXLDistribution>""".encode()


def evacuation_body(*details: tuple[str, str, tuple[str, ...]]) -> str:
    """An EvacuationOrder body from (Sort, IssueOrLift, district names) triples."""
    out = []
    for sort, issue, names in details:
        areas = "".join(
            f"<pcx_ev:Area><pcx_eb:Location><commons:areaName>{n}</commons:areaName></pcx_eb:Location></pcx_ev:Area>"
            for n in names
        )
        out.append(
            f"<pcx_ev:Detail><pcx_ev:Sort>{sort}</pcx_ev:Sort><pcx_ev:IssueOrLift>{issue}</pcx_ev:IssueOrLift>"
            f"<pcx_ev:Areas>{areas}</pcx_ev:Areas></pcx_ev:Detail>"
        )
    return f"<pcx_ev:EvacuationOrder>{''.join(out)}</pcx_ev:EvacuationOrder>"
