"""A lift is the all-clear of what was sent (docs/decisions.md, decisions 3 and 10): an Update
with responseType AllClear on every medium and audience that carried the warning, never a fresh
alert; a partial lift tells each town its own state. Run through `broadcaster replay`."""

from __future__ import annotations

from pathlib import Path

from broadcaster.replay import Carried, Step, replay
from broadcaster.settings import PROJECT_ROOT, load_settings

TENANTS = PROJECT_ROOT / "tests" / "golden" / "replay" / "tenants"
NOTO = PROJECT_ROOT / "samples" / "jma" / "02_vtse41_otsunami_keiho.xml"


def _of(step: Step, tenant: str) -> list[Carried]:
    return [c for c in step.carried if c.tenant == tenant]


def _slots(carried: list[Carried]) -> set[tuple[str, str]]:
    return {(c.channel, c.audience) for c in carried}


async def test_every_warning_lifted_is_an_update_to_where_the_warning_went(corpus: Path) -> None:
    samples = corpus / "jma" / "official_samples"
    # 2011-03-11: 津波警報 for 伊豆諸島 (八丈町), 津波注意報 for 高知県, 静岡県 and, later,
    # 宮古島・八重山; two days on every coast is down to 若干の海面変動.
    files = [
        samples / f
        for f in (
            "32-39_11_02_250206_VTSE41.xml",
            "32-39_11_11_250206_VTSE41.xml",
            "32-39_11_13_250206_VTSE41.xml",
        )
    ]
    first, middle, lift = await replay(load_settings(None, tenants_dir=TENANTS), files)
    for town in ("hachijo-machi", "kochi-shi", "fuji-shi", "ishigaki-shi"):
        told = _of(first, town) or _of(middle, town)
        cleared = _of(lift, town)
        assert told and all(c.state == "Alert" for c in told), town
        assert cleared and {c.state for c in cleared} == {"Update/AllClear"}, (town, cleared)
        assert _slots(told) <= _slots(cleared), town  # every medium and audience that carried it
        assert all("解除" in c.line for c in cleared), cleared
    assert len(_slots(_of(lift, "hachijo-machi"))) >= 8  # 津波警報 went to every medium
    # Coasts that only ever had 若干の海面変動 get no all-clear of a warning they never had.
    assert {c.state for c in _of(lift, "anamizu-machi")} == {"Alert"}


async def test_a_drill_lift_clears_the_drill_for_the_officers(corpus: Path) -> None:
    samples = corpus / "jma" / "official_samples"
    files = [samples / "32-39_13_02_250206_VTSE41.xml", samples / "32-39_13_07_250206_VTSE41.xml"]
    _, lifted = await replay(load_settings(None, tenants_dir=TENANTS), files)
    for town in ("hachijo-machi", "fuji-shi"):
        assert {(c.channel, c.audience, c.state) for c in _of(lifted, town)} == {
            ("email", "officers", "Update/AllClear")
        }


def _partial_lift(tmp_path: Path) -> Path:
    """The Noto warning half an hour later: 石川県能登 lifted (警報解除), 石川県加賀 still 津波警報."""
    xml = NOTO.read_text(encoding="utf-8")
    xml = xml.replace("2024-01-01T07:22:10Z", "2024-01-01T07:52:10Z").replace(
        "T16:22:00+09:00", "T16:52:00+09:00"
    )
    head, body = xml.split("<Body", 1)
    head = head.replace(
        "<Kind><Name>大津波警報</Name><Code>52</Code></Kind>",
        "<Kind><Name>警報解除</Name><Code>50</Code></Kind>",
    )
    body = body.replace(
        "<Kind><Name>大津波警報：発表</Name><Code>53</Code></Kind>\n            <LastKind><Name>津波警報</Name><Code>51</Code></LastKind>",
        "<Kind><Name>警報解除</Name><Code>50</Code></Kind>\n            <LastKind><Name>大津波警報</Name><Code>52</Code></LastKind>",
    )
    assert "<Code>50</Code>" in body
    path = tmp_path / "noto_lifted.xml"
    path.write_text(head + "<Body" + body, encoding="utf-8")
    return path


async def test_a_partial_lift_tells_each_town_its_own_state(tmp_path: Path) -> None:
    warned, partial = await replay(load_settings(None, tenants_dir=TENANTS), [NOTO, _partial_lift(tmp_path)])
    noto, kaga = _of(partial, "anamizu-machi"), _of(partial, "kaga-shi")
    assert {c.state for c in noto} == {"Update/AllClear"}
    assert _slots(_of(warned, "anamizu-machi")) <= _slots(noto)
    assert all(c.severity == "Minor" and "解除" in c.line for c in noto)
    # 加賀 still has its 津波警報: it hears that, as before, not a lift.
    assert {(c.state, c.severity) for c in kaga} == {("Alert", "Severe")}
    assert all("石川県加賀：津波警報" in c.line for c in kaga)


def _lowered(tmp_path: Path) -> Path:
    """The Noto warning half an hour later, 石川県能登 lowered from 大津波警報 to 津波注意報."""
    xml = NOTO.read_text(encoding="utf-8")
    xml = xml.replace("2024-01-01T07:22:10Z", "2024-01-01T07:52:10Z").replace(
        "T16:22:00+09:00", "T16:52:00+09:00"
    )
    xml = xml.replace(
        "<Kind><Name>大津波警報</Name><Code>52</Code></Kind>",
        "<Kind><Name>津波注意報</Name><Code>62</Code></Kind>",
    )
    xml = xml.replace(
        "<Kind><Name>大津波警報：発表</Name><Code>53</Code></Kind>\n            <LastKind><Name>津波警報</Name><Code>51</Code></LastKind>",
        "<Kind><Name>津波注意報</Name><Code>62</Code></Kind>\n            <LastKind><Name>大津波警報</Name><Code>52</Code></LastKind>",
    )
    path = tmp_path / "noto_lowered.xml"
    path.write_text(xml, encoding="utf-8")
    return path


async def test_a_warning_lowered_on_a_coast_reaches_everyone_who_heard_the_warning(tmp_path: Path) -> None:
    warned, lowered = await replay(load_settings(None, tenants_dir=TENANTS), [NOTO, _lowered(tmp_path)])
    noto = _of(lowered, "anamizu-machi")
    # A Moderate alert alone would go to the website only; the residents told of the 大津波警報
    # on LINE, the app and every other medium hear on each that it was lowered.
    assert {(c.state, c.severity) for c in noto} == {("Update", "Moderate")}
    assert _slots(_of(warned, "anamizu-machi")) <= _slots(noto)
    assert all("石川県能登：津波注意報" in c.line for c in noto)
    # 加賀 keeps its 津波警報: news as before, sent by its rules.
    assert {(c.state, c.severity) for c in _of(lowered, "kaga-shi")} == {("Alert", "Severe")}
