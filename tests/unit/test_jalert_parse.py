"""The J-Alert parser over the project's samples, the government texts, and JMA XML passed through."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.ingest.jalert import JAlertParser
from adapters.ingest.jalert.assemble import clock_text, government_text
from adapters.ingest.jma import JmaParser
from broadcaster.model import KIND, Alert, MsgType, RawEvent, ResponseType, Severity, Status, Urgency
from broadcaster.sources import raw_from_file, sniff_source

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples" / "jalert"
PARSER = JAlertParser()


def parse(body: bytes, tenant: str | None = None) -> Alert:
    alerts = PARSER.parse(RawEvent(source="jalert", body=body, tenant=tenant, submitted_by="test"))
    assert len(alerts) == 1
    return alerts[0]


def sample(name: str) -> Alert:
    return parse((SAMPLES / name).read_bytes())


def message(**fields: str) -> bytes:
    base = {
        "format": "jalert/1",
        "id": "m-1",
        "sent": "2025-07-10T07:00:00+09:00",
        "status": "actual",
        "category": "missile",
        "stage": "launch",
        "areas": "石川県",
    }
    base.update(fields)
    return "\n".join(f"{k} = {v}" for k, v in base.items() if v).encode()


# (file, identifier, msgType, event key, stage, codes of the areas)
TABLE = [
    ("01_missile_launch.txt", "jalert-20250710-0700-missile-01", MsgType.ALERT, "jalert|20250710-0700-missile-01", "launch", ["170003", "160008", "150002"]),
    ("02_missile_take_cover.txt", "jalert-20250710-0700-missile-02", MsgType.UPDATE, "jalert|20250710-0700-missile-01", "take_cover", ["170003"]),
    ("03_missile_passed.txt", "jalert-20250710-0700-missile-03", MsgType.UPDATE, "jalert|20250710-0700-missile-01", "passed", ["170003"]),
    ("04_missile_cancel.txt", "jalert-20250710-0700-missile-04", MsgType.CANCEL, "jalert|20250710-0700-missile-01", None, ["170003"]),
    ("05_missile_fell_at_sea.json", "jalert-20250711-1130-missile-02", MsgType.UPDATE, "jalert|20250711-1130-missile-01", "fell_at_sea", ["170003", "180009"]),
    ("06_terror_anamizu.txt", "jalert-20250712-2210-terror-01", MsgType.ALERT, "jalert|20250712-2210-terror-01", None, ["174611"]),
    ("07_eew_text_sjis.txt", "jalert-20250713-0315-eew-01", MsgType.ALERT, "jalert|20250713-0315-eew-01", None, ["174611", "172049"]),
]  # fmt: skip


@pytest.mark.parametrize(("name", "identifier", "msg_type", "event_key", "stage", "codes"), TABLE)
def test_samples(name: str, identifier: str, msg_type: MsgType, event_key: str, stage: str | None, codes: list[str]) -> None:
    alert = sample(name)
    info = alert.primary
    assert (alert.identifier, alert.msg_type, alert.event_key) == (identifier, msg_type, event_key)
    assert alert.origin == "jalert"
    assert alert.status is Status.EXERCISE, "every sample is a drill"
    assert info.param("missileStage") == stage
    assert [c for a in info.area for c in a.codes("JIS X 0402")] == codes
    assert info.description
    if msg_type is not MsgType.ALERT:
        assert alert.references and all(r.startswith("jalert,jalert-") for r in alert.references)


def test_civil_protection_is_a_missile_kind_immediate_and_extreme() -> None:
    for name in ("01_missile_launch.txt", "02_missile_take_cover.txt", "06_terror_anamizu.txt"):
        info = sample(name).primary
        assert info.event_codes(KIND) == ("missile",)
        assert (info.urgency, info.severity) == (Urgency.IMMEDIATE, Severity.EXTREME)
        assert info.sender_name == "内閣官房（Jアラート）"


def test_the_government_text_of_each_stage() -> None:
    assert sample("01_missile_launch.txt").primary.description == (
        "ミサイル発射。ミサイル発射。北朝鮮からミサイルが発射されたものとみられます。建物の中、または地下に避難して下さい。"
    )
    assert sample("02_missile_take_cover.txt").primary.description == (
        "直ちに避難。直ちに避難。直ちに建物の中、又は地下に避難して下さい。"
        "ミサイルが、7時4分頃、石川県周辺に落下するものとみられます。直ちに避難して下さい。"
    )
    landed, complete = government_text("landed", time="7時6分", place="石川県輪島市", launcher=None)
    assert complete and landed == (
        "ミサイル落下。ミサイル落下。ミサイルが、7時6分頃、石川県輪島市周辺に落下したものとみられます。"
        "続報を伝達しますので、引き続き屋内に避難して下さい。"
    )
    assert sample("05_missile_fell_at_sea.json").primary.description == (
        "先程のミサイルは、11時38分頃、日本海に落下したものとみられます。"
        "不審な物を発見した場合には、決して近寄らず、直ちに警察や消防などに連絡して下さい。"
    )


def test_the_receivers_own_text_wins_and_folded_lines_continue_it() -> None:
    info = sample("03_missile_passed.txt").primary
    assert info.description == (
        "ミサイル通過。ミサイル通過。先程のミサイルは、7時5分頃、太平洋へ通過したものとみられます。\n"
        "不審な物を発見した場合には、決して近寄らず、直ちに警察や消防などに連絡して下さい。"
    )
    assert info.response_type == (ResponseType.AVOID,)


def test_without_time_or_place_the_blank_sentence_is_left_out_never_guessed() -> None:
    alert = parse(message(stage="直ちに避難", areas=""), tenant="anamizu")
    assert alert.primary.description == "直ちに避難。直ちに避難。直ちに建物の中、又は地下に避難して下さい。直ちに避難して下さい。"
    assert "省略" in (alert.note or "")
    assert "●" not in (alert.primary.description or "")


@pytest.mark.parametrize(("text", "clock"), [("7:04", "7時4分"), ("07時04分", "7時4分"), ("2025-07-10T22:01:00+09:00", "22時1分"), ("2025-07-10T13:01:00+00:00", "22時1分"), ("25:00", None), ("soon", None)])
def test_clock_text(text: str, clock: str | None) -> None:
    assert clock_text(text) == clock


def test_the_stage_is_read_from_the_title_when_not_given() -> None:
    alert = parse(message(stage="", title="ミサイル通過", text="ミサイル通過。"))
    assert alert.primary.param("missileStage") == "passed"


def test_references_with_times_and_the_event_default() -> None:
    alert = sample("03_missile_passed.txt")
    assert alert.references == (
        "jalert,jalert-20250710-0700-missile-01,2025-07-10T07:00:12+09:00",
        "jalert,jalert-20250710-0700-missile-02,2025-07-10T07:02:40+09:00",
    )
    assert alert.referenced_identifiers() == ("jalert-20250710-0700-missile-01", "jalert-20250710-0700-missile-02")


def test_a_cancel_is_past_and_all_clear() -> None:
    alert = sample("04_missile_cancel.txt")
    info = alert.primary
    assert (info.urgency, info.response_type) == (Urgency.PAST, (ResponseType.ALL_CLEAR,))
    assert info.headline == "弾道ミサイル情報（取消）"
    assert alert.note == "誤って送信したため取り消します"


def test_tsunami_severity_comes_from_its_title() -> None:
    big = parse(message(category="津波警報", stage="", title="大津波警報", text="大津波警報が発表されました。"))
    small = parse(message(category="tsunami", stage="", title="津波注意報", text="津波注意報が発表されました。"))
    assert big.primary.severity is Severity.EXTREME and big.primary.event == "大津波警報"
    assert small.primary.severity is Severity.MODERATE
    assert big.primary.event_codes(KIND) == ("tsunami",)


def test_json_and_text_forms_say_the_same() -> None:
    text = parse(message())
    as_json = parse(json.dumps({"format": "jalert/1", "id": "m-1", "sent": "2025-07-10T07:00:00+09:00", "status": "actual",
                                "category": "missile", "stage": "launch", "areas": ["石川県"]}).encode())  # fmt: skip
    assert text.model_dump(exclude={"received"}) == as_json.model_dump(exclude={"received"})


@pytest.mark.parametrize(
    ("area", "codes"),
    [
        ("石川県", ["170003"]),
        ("石川", ["170003"]),
        ("石川県輪島市", ["172049"]),
        ("輪島市", ["172049"]),
        ("輪島市周辺", ["172049"]),
        ("17", ["170003"]),
        ("17204", ["172049"]),
        ("172049", ["172049"]),
        ("1746100", ["174611"]),
        ("北海道札幌市", ["011002"]),
    ],
)
def test_area_names_and_codes(area: str, codes: list[str]) -> None:
    info = parse(message(areas=area)).primary
    assert [c for a in info.area for c in a.codes()] == codes


def test_nationwide_names_every_prefecture() -> None:
    assert len(parse(message(areas="全国")).primary.area) == 47


def test_an_ambiguous_or_unknown_name_is_kept_as_a_name_and_noted() -> None:
    alert = parse(message(areas="府中市, どこか村, 石川県"))
    assert [(a.area_desc, a.codes()) for a in alert.primary.area] == [("府中市", ()), ("どこか村", ()), ("石川県", ("170003",))]
    assert "府中市" in (alert.note or "")


def test_a_tenants_own_receiver_may_name_no_area() -> None:
    alert = parse(message(areas=""), tenant="anamizu")
    assert alert.tenant == "anamizu" and alert.primary.area == ()


def test_unknown_fields_are_ignored_and_noted() -> None:
    alert = parse(message() + b"\nx-vendor = 123\n")
    assert "x_vendor" in (alert.note or "")


def test_jma_xml_through_j_alert_keeps_jmas_identity_and_says_jalert() -> None:
    body = (ROOT / "samples" / "jma" / "12_vxse43_eew_keiho.xml").read_bytes()
    via_jalert = PARSER.parse(RawEvent(source="jalert", body=body, submitted_by="test"))
    via_jma = JmaParser().parse(RawEvent(source="jma", body=body, submitted_by="test"))
    assert [a.identifier for a in via_jalert] == [a.identifier for a in via_jma]
    assert {a.origin for a in via_jalert} == {"jalert"}
    assert via_jalert[0].primary.event_codes(KIND) == ("eew",)


def test_sniffing_and_broadcaster_parse_find_the_format(tmp_path: Path) -> None:
    # The jalert/1 samples (the receiver mails in mail/ go to the bridge's mail intake instead).
    for path in sorted(p for p in SAMPLES.iterdir() if p.is_file() and p.name != "README.md"):
        assert sniff_source(path.read_bytes()) == "jalert", path.name
        raw = raw_from_file(path, officer="officer:cli/parse", tenant="-", source=None, known_tenants=None)
        assert raw.source == "jalert", "JSON J-Alert messages are not mistaken for officers' alerts"
    assert sniff_source((ROOT / "samples" / "jma" / "12_vxse43_eew_keiho.xml").read_bytes()) == "jma"
    assert sniff_source(b'{"kind": "notice", "headline": "format = jalert/1"}') == "file"
    assert PARSER.accepts(RawEvent(source="file", body=(SAMPLES / "01_missile_launch.txt").read_bytes(), submitted_by="t"))
    assert not PARSER.accepts(RawEvent(source="file", body=b"<alert/>", submitted_by="t"))
