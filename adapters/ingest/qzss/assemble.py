"""One decoded 災危通報 report (the `azarashi` package's report object) as one Alert.

DCR (message type 43) relays JMA's information; DCX (type 44) carries J-Alert and L-Alert in the
Common Alerting Message Format. Neither carries JMA's or L-Alert's identifiers, so the alert is
marked as a relay (`broadcaster:relay`) and the pipeline merges it with the same real change from
an identified source, whichever came first (docs/architecture.md, *One alert per real change*;
docs/decisions.md, decision 10).

Identity: the report's bits without preamble, satellite and CRC, so that the same message from
every satellite, repeated for as long as it is broadcast, is one alert. A DCR report carries its
report time; a DCX message does not, so its identity also takes the time the receiver first heard
it (the reader hands that on as the raw event's `source_ref`).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from adapters.ingest.qzss import vocabulary as v
from broadcaster import areacodes
from broadcaster.errors import ParseError
from broadcaster.model import (
    JIS_X0402,
    JST,
    KIND,
    Alert,
    Area,
    Category,
    Certainty,
    Info,
    Kind,
    MsgType,
    NamedValue,
    ResponseType,
    Severity,
    Status,
    Urgency,
    cap_datetime,
)

# JMA's code tables, as the JMA adapter and the tenants' area expansion name them.
CITY = "気象・地震・火山情報／市町村等"
FORECAST_AREA = "気象情報／府県予報区・細分区域等"
SEISMIC_PREF = "地震情報／都道府県等"
TSUNAMI_AREA = "津波予報区"
EPICENTER = "震央地名"

_CATEGORIES = {
    Kind.EEW: Category.GEO,
    Kind.EARTHQUAKE: Category.GEO,
    Kind.TSUNAMI: Category.GEO,
    Kind.VOLCANO: Category.GEO,
    Kind.MISSILE: Category.SECURITY,
    Kind.EVACUATION: Category.SAFETY,
}


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:24]


def _attr(report: Any, name: str, default: Any = None) -> Any:
    return getattr(report, name, default)


def _join(*fields: object) -> str:
    return "|".join("" if f is None else str(f) for f in fields)


def _jst(at: datetime | None) -> str:
    return "" if at is None else f"{at.astimezone(JST):%d日%H時%M分}"


class _Draft:
    """What the per-category readers fill in; `alert()` turns it into the Alert."""

    def __init__(self, kind: Kind, event: str) -> None:
        self.kind = kind
        self.event = event
        self.headline = event
        self.lines: list[str] = []
        self.severity = Severity.SEVERE
        self.urgency = Urgency.IMMEDIATE
        self.certainty = Certainty.LIKELY
        self.response: tuple[ResponseType, ...] = ()
        self.areas: list[Area] = []
        self.params: list[NamedValue] = []
        self.codes: list[NamedValue] = []
        self.anchor = ""
        self.lifted = False

    def area(self, name: str, value_name: str, code: str) -> None:
        self.areas.append(Area(area_desc=name, geocode=(NamedValue(value_name=value_name, value=code),)))

    def param(self, name: str, value: str) -> None:
        self.params.append(NamedValue(value_name=name, value=value))


# -- DCR ------------------------------------------------------------------------------------------


def _eew(r: Any, d: _Draft) -> None:
    d.headline = "緊急地震速報（警報） 強い揺れに警戒"
    lower, upper = _attr(r, "seismic_intensity_lower_limit", ""), _attr(r, "seismic_intensity_upper_limit", "")
    d.lines.append(f"震央地名: {_attr(r, 'seismic_epicenter', '')}  マグニチュード: {_attr(r, 'magnitude', '')}")
    d.lines.append(f"予想震度: {lower}{'〜' + upper if upper and upper != lower else ''}")
    d.response = (ResponseType.SHELTER,)
    for name in _attr(r, "eew_forecast_regions", []):
        code = areacodes.prefecture_by_name(_region_prefecture(name))
        if code is not None:
            d.area(name, JIS_X0402, code)
    d.param("epicenter", str(_attr(r, "seismic_epicenter", "")))
    d.anchor = _join(_attr(r, "occurrence_time_of_earthquake"), _attr(r, "seismic_epicenter_raw"))


def _region_prefecture(name: str) -> str:
    # The EEW regions are prefectures, 北海道 in four and 東京 with its islands.
    if name.startswith("北海道"):
        return "北海道"
    return {"伊豆諸島": "東京", "小笠原": "東京"}.get(name, name)


def _hypocenter(r: Any, d: _Draft) -> None:
    epicenter = _attr(r, "seismic_epicenter", "")
    d.headline = f"震源に関する情報 {epicenter}"
    d.lines.append(
        f"{_jst(_attr(r, 'occurrence_time_of_earthquake'))}ごろ、{epicenter}を震源とする地震がありました。"
        f"震源の深さは{_attr(r, 'depth_of_hypocenter', '')}、マグニチュードは{_attr(r, 'magnitude', '')}です。"
    )
    d.severity, d.urgency, d.certainty = Severity.MINOR, Urgency.PAST, Certainty.OBSERVED
    d.area(str(epicenter), EPICENTER, str(_attr(r, "seismic_epicenter_raw", "")))
    d.anchor = _join(_attr(r, "occurrence_time_of_earthquake"))


def _intensity(r: Any, d: _Draft) -> None:
    d.headline = "震度速報"
    d.severity, d.urgency, d.certainty = Severity.MODERATE, Urgency.PAST, Certainty.OBSERVED
    d.lines.append(f"{_jst(_attr(r, 'occurrence_time_of_earthquake'))}ごろ、地震による強い揺れを感じました。")
    ranks = ["4未満", "4", "5弱", "5強", "6弱", "6強", "7"]
    worst = ""
    for intensity, pref, code in zip(
        _attr(r, "seismic_intensities", []), _attr(r, "prefectures", []), _attr(r, "prefectures_raw", []), strict=False
    ):
        d.lines.append(f"震度{intensity}: {pref}")
        d.area(pref, SEISMIC_PREF, f"{int(code):02d}")
        # Per prefecture, so that a town hears its own prefecture's figure (docs/decisions.md, decision 9).
        d.param("prefIntensity", _join(f"{int(code):02d}", pref, intensity))
        if intensity in ranks and (not worst or ranks.index(intensity) > ranks.index(worst)):
            worst = intensity
    if worst:
        d.param("maxIntensity", worst)
        d.headline = f"震度速報 最大震度{worst}"
        if ranks.index(worst) >= ranks.index("6弱"):
            d.severity = Severity.SEVERE
    d.anchor = _join(_attr(r, "occurrence_time_of_earthquake"))


def _tsunami(r: Any, d: _Draft) -> None:
    code = int(_attr(r, "tsunami_warning_code_raw", 0))
    grade = v.TSUNAMI_GRADES.get(code)
    if grade is not None:
        name, d.severity = grade
        d.event = d.headline = name
        d.response = (ResponseType.EVACUATE,)
        d.lines.append(f"{name}を発表しました。海岸や川沿いから離れ、高い所へ避難してください。")
    else:
        name = str(_attr(r, "tsunami_warning_code", ""))
        d.headline = f"津波 {name}"
        d.severity, d.certainty = Severity.MINOR, Certainty.OBSERVED
        d.lifted = code == v.TSUNAMI_LIFTED
    for region, region_code, height, arrival, kind in zip(
        _attr(r, "tsunami_forecast_regions", []),
        _attr(r, "tsunami_forecast_regions_raw", []),
        _attr(r, "tsunami_heights", []),
        _attr(r, "expected_tsunami_arrival_times", []),
        _attr(r, "expected_tsunami_arrival_time_types", []),
        strict=False,
    ):
        d.area(region, TSUNAMI_AREA, str(region_code))
        when = _jst(arrival) if arrival is not None else str(kind)
        d.lines.append(f"{region}: 予想される高さ {height}、第1波 {when}")
        # The JMA adapter's per-area form (code|name|kind code|kind name|last kind|first wave|height),
        # so that the rules read a town's own grade whichever source it came from.
        d.param("tsunamiArea", _join(region_code, region, code, name, "", when, height))


def _weather(r: Any, d: _Draft) -> None:
    state = int(_attr(r, "weather_warning_state_raw", 1))
    subs = list(_attr(r, "weather_related_disaster_sub_categories", []))
    raws = list(_attr(r, "weather_related_disaster_sub_categories_raw", []))
    kind = next((v.WEATHER_SUB_KINDS[x] for x in raws if x in v.WEATHER_SUB_KINDS), Kind.SPECIAL_WARNING)
    d.kind = kind
    d.event = subs[0] if subs else d.event
    verb = "解除" if state == 2 else "発表"
    d.headline = f"{'・'.join(dict.fromkeys(subs))} {verb}"
    if state == 2:
        d.lifted = True
        d.severity, d.certainty = Severity.MINOR, Certainty.OBSERVED
    else:
        d.severity = Severity.EXTREME if kind is Kind.SPECIAL_WARNING else Severity.SEVERE
        d.response = (ResponseType.PREPARE,)
    for sub, region, region_code in zip(
        subs, _attr(r, "weather_forecast_regions", []), _attr(r, "weather_forecast_regions_raw", []), strict=False
    ):
        d.area(region, FORECAST_AREA, f"{int(region_code):06d}")
        d.lines.append(f"{region}: {sub}（{verb}）")
    d.anchor = _join(*sorted(raws))


def _local_governments(r: Any, d: _Draft) -> None:
    for name, code in zip(_attr(r, "local_governments", []), _attr(r, "local_governments_raw", []), strict=False):
        d.area(name, CITY, f"{int(code):07d}")


def _volcano(r: Any, d: _Draft) -> None:
    name = _attr(r, "volcano_name", "")
    warning = _attr(r, "volcanic_warning_code", "") or _attr(r, "ash_fall_warning_type", "")
    d.headline = f"{name} {warning}".strip()
    d.lines.append(d.headline)
    _local_governments(r, d)
    d.anchor = _join(_attr(r, "volcano_name_raw"))


def _generic(r: Any, d: _Draft) -> None:
    # Categories whose areas are not the towns' (the seas, rivers, a typhoon's track): the text
    # is kept for the record; the alert reaches a tenant only through an area it names.
    d.severity, d.certainty = Severity.UNKNOWN, Certainty.UNKNOWN
    d.lines.append(str(r.get_text("ja") or "").strip()[:2000])
    _local_governments(r, d)


_DCR_READERS = {1: _eew, 2: _hypocenter, 3: _intensity, 5: _tsunami, 8: _volcano, 9: _volcano, 10: _weather}


def _dcr(report: Any, ref: str, received: datetime | None) -> Alert:
    category = int(report.disaster_category_no)
    kind = v.DCR_KINDS.get(category)
    if kind is None:
        raise ParseError("qzss_unknown_category", f"DCR disaster category {category}")
    d = _Draft(kind, v.DCR_TITLES[category])
    _DCR_READERS.get(category, _generic)(report, d)
    status = Status.EXERCISE if int(report.report_classification_no) == 7 else Status.ACTUAL
    msg_type = {0: MsgType.ALERT, 1: MsgType.UPDATE, 2: MsgType.CANCEL}.get(int(report.information_type_no))
    if msg_type is None:
        raise ParseError("qzss_bad_information_type", f"DCR information type {report.information_type_no}")
    if d.lifted and msg_type is MsgType.ALERT:
        msg_type = MsgType.UPDATE  # a lift is an Update that clears (docs/decisions.md, decision 10)
    # The title of the JMA telegram the report relays, as the JMA adapter names it (an event code):
    # what tells a 震度速報 from a 震源に関する情報 of the same earthquake.
    d.codes.append(NamedValue(value_name="jma:title", value=v.DCR_TITLES[category]))
    d.param("qzss:reportClassification", str(report.report_classification))
    sent: datetime = report.report_time
    tag = "" if status is Status.ACTUAL else status.value
    event_key = f"{v.ORIGIN}|{tag}|dcr{category}|{d.anchor}" if tag else f"{v.ORIGIN}|dcr{category}|{d.anchor}"
    return _alert(d, report, ref, sent, status, msg_type, event_key, v.RELAY_DCR, received)


# -- DCX ------------------------------------------------------------------------------------------


def _prefecture_bits(report: Any) -> list[tuple[str, str]]:
    out = []
    for name in _attr(report, "ex9_target_area_list_ja", []) or []:
        code = areacodes.prefecture_by_name(name)
        if code is not None:
            out.append((name, code))
        elif (pref := areacodes.prefecture_by_name(name[:3])) is not None or (
            pref := areacodes.prefecture_by_name(name[:4])
        ) is not None:
            out.append((name, pref))
    return out


def _municipalities(report: Any, camf: Any) -> list[tuple[str, str]]:
    if int(camf.ex8) == 1 and _attr(report, "ex9_target_area_list_ja"):
        codes = [(camf.ex9 >> (48 - 16 * i)) & 0xFFFF for i in range(4)]
        names = list(report.ex9_target_area_list_ja)
        return [(n, _jis(c)) for n, c in zip(names, [c for c in codes if c], strict=False)]
    return []


def _jis(five: int) -> str:
    text = f"{five:05d}"
    return areacodes.prefecture_code(text[:2]) if text[2:] == "000" else areacodes.with_check_digit(text)


def _dcx(report: Any, ref: str, received: datetime | None) -> Alert:
    camf = report.camf
    text = str(_attr(report, "a11_japanese_library_ja", "") or "")
    instruction = int(camf.a11)
    provider = int(camf.a3)
    if provider in (2, 3):
        kind = v.DCX_JALERT_KINDS.get(int(camf.a4), Kind.OTHER)
        d = _Draft(kind, "国民保護情報" if kind is Kind.MISSILE else str(_attr(report, "a4_hazard_type", "")))
        relay_name = "Jアラート"
        stage = v.MISSILE_STAGES.get(instruction)
        if stage is not None:
            d.kind, d.event = Kind.MISSILE, "弾道ミサイル情報"
            d.headline = v.MISSILE_HEADLINES[stage]
            d.param("missileStage", stage)
            d.response = (ResponseType.ALL_CLEAR,) if instruction in v.MISSILE_LIFTS else (ResponseType.SHELTER,)
        places = _municipalities(report, camf) if int(camf.ex8) == 1 else _prefecture_bits(report)
    else:
        d = _Draft(Kind.EVACUATION, "避難情報")
        relay_name = "Lアラート" if provider == 1 else "自治体"
        name = str(_attr(report, "ex1_target_area_ja", "") or "")
        ex1 = int(camf.ex1)
        places = [(name, _jis(ex1))] if ex1 else []
        d.headline = f"避難情報 {name}".strip()
        d.response = (v.RESPONSES.get(instruction >> 8, ResponseType.EVACUATE),)
    d.severity = v.SEVERITIES.get(int(camf.a5), Severity.UNKNOWN)
    if d.kind is Kind.MISSILE:
        d.severity = Severity.EXTREME
    for name, code in places:
        d.area(name, JIS_X0402, code)
    d.lines.append(text)
    d.param("qzss:hazard", str(_attr(report, "a4_hazard_type", "")))
    d.param("qzss:relayOf", relay_name)
    status = Status.ACTUAL
    if int(camf.a1) == 0 or instruction in v.TEST_INSTRUCTIONS:
        status = Status.TEST
    msg_type = MsgType.ALERT
    if int(camf.a1) in (2, 3) or instruction in v.MISSILE_LIFTS:
        msg_type = MsgType.UPDATE
        d.lifted = int(camf.a1) == 3 or instruction in v.MISSILE_LIFTS
    if d.lifted:
        d.response = (ResponseType.ALL_CLEAR,)
    sent = received if received is not None else report.timestamp
    tag = "" if status is Status.ACTUAL else status.value
    area_key = ",".join(sorted(code for _, code in places))
    d.anchor = _join(provider, int(camf.a4), area_key)
    event_key = f"{v.ORIGIN}|{tag}|dcx|{d.anchor}" if tag else f"{v.ORIGIN}|dcx|{d.anchor}"
    return _alert(d, report, ref, sent, status, msg_type, event_key, v.RELAY_DCX, received)


# -- both -----------------------------------------------------------------------------------------


def _alert(
    d: _Draft,
    report: Any,
    ref: str,
    sent: datetime,
    status: Status,
    msg_type: MsgType,
    event_key: str,
    relay: str,
    received: datetime | None,
) -> Alert:
    identifier = f"{v.ORIGIN}-{_digest(ref)}"
    references: tuple[str, ...] = ()
    if msg_type is not MsgType.ALERT:
        # No field names the message this one follows; the event's anchor stands in, as for JMA's
        # 取消 of a telegram without a Serial (adapters/ingest/jma/identity.py).
        references = (f"{v.SENDER},{v.ORIGIN}-{_digest('event', event_key)},{cap_datetime(sent)}",)
        d.param("referenceScope", "latestOfEvent")
    if d.lifted:
        d.response = (ResponseType.ALL_CLEAR,)
        d.severity, d.urgency, d.certainty = Severity.MINOR, Urgency.PAST, Certainty.OBSERVED
    if msg_type is MsgType.CANCEL:
        d.headline = f"{d.headline}（取消）"
        d.lines.insert(0, "先ほどの情報を取り消します。")
        d.severity, d.urgency, d.certainty = Severity.MINOR, Urgency.PAST, Certainty.OBSERVED
        d.response = (ResponseType.ALL_CLEAR,)
    d.param(v.RELAY_PARAM, relay)
    d.param("qzss:satellite", str(_attr(report, "satellite_prn", "") or ""))
    info = Info(
        language="ja-JP",
        category=(_CATEGORIES.get(d.kind, Category.MET),),
        event=d.event,
        response_type=d.response,
        urgency=d.urgency,
        severity=d.severity,
        certainty=d.certainty,
        event_code=(NamedValue(value_name=KIND, value=d.kind.value), *d.codes),
        sender_name=v.SENDER_NAME,
        headline=d.headline,
        description="\n".join(line for line in d.lines if line) or None,
        parameter=tuple(d.params),
        area=tuple(d.areas),
    )
    return Alert(
        identifier=identifier,
        sender=v.SENDER,
        sent=sent,
        status=status,
        msg_type=msg_type,
        references=references,
        source=v.SOURCE_NAME,
        info=(info,),
        event_key=event_key,
        origin=v.ORIGIN,
        received=received,
    )


def build_alert(report: Any, ref: str, received: datetime | None) -> Alert | None:
    """The alert of a DCR report or a Japanese DCX message; None for a DCX null message or one
    for outside Japan (which carry no alert for a town)."""
    kind = str(report.message_type)
    if kind == "DCR":
        return _dcr(report, ref, received)
    if kind == "DCX":
        name = type(report).__name__
        if name in ("JAlert", "LAlert", "MTInfo"):
            return _dcx(report, ref, received)
        return None
    raise ParseError("qzss_unknown_message", f"message type {kind}")
