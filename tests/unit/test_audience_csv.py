"""The audience CSV: documented columns, every problem with its line, Excel's encodings."""

from __future__ import annotations

import pytest

from broadcaster.store.audience_csv import COLUMNS, decode, district_lookup, read_people, write_people
from broadcaster.store.audiences import Person

DISTRICTS = district_lookup([("kawashima", "川島"), ("omachi", "大町")])
LINE_ID = "U" + "0123456789abcdef" * 2
HEADER = ",".join(COLUMNS)


def _csv(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def test_a_roster_reads_with_names_aliases_and_defaults() -> None:
    people, problems = read_people(
        _csv(
            f"R-1,resident,,,川島|omachi,,vi,気象|evacuation,{LINE_ID},,a@example.jp,,,",
            "L-1,区長,山田太郎,,川島地区,,,,,,,0768-52-0001,,active",
            "O-1,officer,田中,防災係,,duty|approvers,,,,,tanaka@town.example.jp,090-1234-5678,,",
            "R-2,,,,,,,,,,,,,left",
        ),
        DISTRICTS,
    )
    assert problems == []
    r, leader, officer, gone = people
    assert r == Person(
        external_id="R-1", districts=("kawashima", "omachi"), language="vi", topics=("気象", "避難"),
        endpoints=(("email", "a@example.jp"), ("line", LINE_ID)),
    )
    assert (leader.kind, leader.title, leader.districts) == ("leader", "区長", ("kawashima",))
    assert ("circular", "L-1") in leader.endpoints, "a leader's e-circular is addressed by their id"
    assert ("phone", "0768-52-0001") in leader.endpoints
    assert (officer.kind, officer.groups, officer.title) == ("officer", ("approvers", "duty"), "防災係")
    assert gone == Person(external_id="R-2", active=False)


def test_every_problem_is_reported_with_its_line() -> None:
    text = _csv(
        "R-1,resident,,,atlantis,,ja,,,,,,,",
        "R-2,mayor,,,,,,,,,,,,",
        f"R-3,,,,,,ja,sports,{LINE_ID[:-1]},,not-an-address,123,,",
        "R-1,,,,,,,,,,,,,",
        "R 4,,,,,,xx_YY,,,,,,,",
        "R-5,resident,,,,duty,,,,http://push.example,,,,maybe",
    )
    people, problems = read_people(text, DISTRICTS)
    found = sorted((p.line, p.message.split(":")[0]) for p in problems)
    assert found == [
        (2, "districts"), (3, "kind"), (4, "email"), (4, "line"), (4, "phone"), (4, "topics"),
        (5, "external_id 'R-1' again (first on line 2)"), (6, "external_id"), (6, "language"),
        (7, "app_push"), (7, "groups"), (7, "status"),
    ], problems
    assert people == [], "no row with a problem is kept"


def test_the_header_is_checked_first() -> None:
    _, problems = read_people("name,e-mail\nx,y\n", DISTRICTS)
    assert [p.line for p in problems] == [1, 1]
    assert "unknown column(s) e-mail" in problems[0].message
    assert "external_id is required" in problems[1].message
    assert read_people("", DISTRICTS)[1][0].message.startswith("empty file")


def test_a_row_with_too_many_cells_is_refused() -> None:
    _, problems = read_people("external_id,name\nR-1,a,b\n", DISTRICTS)
    assert problems[0].line == 2 and "more cells" in problems[0].message


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
def test_excel_encodings(encoding: str) -> None:
    text = _csv("R-1,区長,山田,,川島,,,,,,,,,")
    people, problems = read_people(decode(text.encode(encoding)), DISTRICTS)
    assert not problems and people[0].name == "山田"


def test_web_push_subscriptions_and_device_tokens() -> None:
    sub = '"{""endpoint"": ""https://push.example/abc"", ""keys"": {""auth"": ""x""}}"'
    ok, problems = read_people(_csv(f"R-1,,,,,,,,,{sub},,,,", f"R-2,,,,,,,,,{'a' * 40},,,,"), DISTRICTS)
    assert not problems and ok[0].endpoints[0][1].startswith("{")
    _, bad = read_people(_csv('R-1,,,,,,,,,"{""endpoint"": ""http://x""}",,,,'), DISTRICTS)
    assert "https URL" in bad[0].message


def test_export_reads_back_as_the_same_people() -> None:
    people, _ = read_people(
        _csv(
            f"R-1,resident,花子,,川島,,vi,お知らせ,{LINE_ID},,a@example.jp,,,",
            "L-1,leader,山田,区長,omachi,,,,,,,0768520001,,",
            "R-2,,,,,,,,,,,,,left",
        ),
        DISTRICTS,
    )
    text = write_people(people)
    assert text.startswith("\ufeff" + HEADER)
    again, problems = read_people(decode(text.encode("utf-8")), DISTRICTS)
    assert problems == [] and again == people


def test_households_and_addresses_read_and_write_back() -> None:
    people, problems = read_people(
        _csv(
            "R-1,,川島 一郎,,川島,,,,,,,0768520001,,,,,k-001,川島1-1",
            "R-2,,川島 花子,,川島,,,,,,,0768520002,,,,,k-001,",
            "R-3,,岩田,,川島,,,,,,,0768520003,,,,,,",
        ),
        DISTRICTS,
    )
    assert problems == []
    assert [(p.household, p.address, p.household_key) for p in people] == [
        ("k-001", "川島1-1", "k-001"), ("k-001", None, "k-001"), (None, None, "~R-3"),
    ]  # fmt: skip
    again, problems = read_people(decode(write_people(people).encode("utf-8")), DISTRICTS)
    assert problems == [] and again == people


def test_a_bad_household_is_reported_with_its_line() -> None:
    _, problems = read_people(
        _csv("R-1,,,,川島,,,,,,,0768520001,,,,,k 001,", "O-1,officer,,,,duty,,,,,,0768520002,,,,,k-002,"),
        DISTRICTS,
    )
    assert [p.where("r.csv") for p in problems] == [
        "r.csv:2: household: 'k 001' is not an id (letters, digits and ._:@/-, at most 200)",
        "r.csv:3: household: officers are not counted in households (leave it empty)",
    ]
