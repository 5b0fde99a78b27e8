"""Coverage per district on SQLite and PostgreSQL: households, not people; reached on any medium;
districts flagged under the share after the time; another tenant's people never counted."""

from __future__ import annotations

from datetime import timedelta

from broadcaster.channels import RecipientOutcome
from broadcaster.coverage import marks
from broadcaster.coverage.config import CoverageSettings
from broadcaster.coverage.counts import compute
from broadcaster.coverage.report import render, to_csv
from broadcaster.model import Dispatch, Explanation
from broadcaster.store import reach
from broadcaster.store.audiences import Audiences, Person
from broadcaster.store.ledger import Ledger
from tests.rules_helpers import manual

DISTRICTS = {"kawashima": "川島", "omachi": "大町"}
LINE_A = "U" + "a" * 32


def _people() -> list[Person]:
    return [
        # 川島: household k1 of two (one on LINE, one by phone), k2 (e-mail), and a household of one.
        Person("R-1", name="川島 一郎", districts=("kawashima",), household="k1", address="川島1-1",
               endpoints=(("phone", "0768520001"),)),
        Person("R-2", name="川島 花子", districts=("kawashima",), household="k1", endpoints=(("line", LINE_A),)),
        Person("R-3", name="岩田 三郎", districts=("kawashima",), household="k2", address="川島2-5",
               endpoints=(("email", "iwata@example.jp"),)),
        Person("R-4", name="中谷 トメ", districts=("kawashima",), address="川島3-2", endpoints=(("phone", "0768520004"),)),
        # 大町: two households.
        Person("R-5", name="大町 五郎", districts=("omachi",), household="o1", endpoints=(("phone", "0768520005"),)),
        Person("R-6", name="大町 六子", districts=("omachi",), household="o2", endpoints=(("phone", "0768520006"),)),
        # Officers are not households.
        Person("O-1", kind="officer", name="防災 係", groups=("duty",), endpoints=(("email", "duty@example.jp"),)),
    ]  # fmt: skip


def _dispatch(alert_id: str, event_key: str, channel: str, key: str, tenant: str = "anamizu") -> Dispatch:
    at = manual().received
    return Dispatch(
        tenant=tenant, alert_id=alert_id, event_key=event_key, channel=channel, audience="public", batch=0,
        batch_count=1, template="auto", languages=("ja",), explanation=Explanation(rule="test"), created=at,
        deadline=at + timedelta(minutes=5),
    )  # fmt: skip


async def _alert(ledger: Ledger, tenant: str = "anamizu", status: str = "Actual") -> tuple[str, str, object]:
    alert = manual(tenant, status=status, kind="evacuation", event="避難指示", headline="避難指示")
    await ledger.record_alert(alert)
    return alert.identifier, alert.event_key, alert.received


async def test_households_reached_on_any_medium(ledger: Ledger) -> None:
    aud = Audiences(ledger.db)
    await aud.import_people("anamizu", _people())
    alert_id, event_key, received = await _alert(ledger)
    d_voice = _dispatch(alert_id, event_key, "voice", "k-voice")
    d_mail = _dispatch(alert_id, event_key, "email", "k-mail")
    await reach.record(ledger.db, d_voice, [
        RecipientOutcome(recipient="0768520001", outcome="heard", reached=True),
        RecipientOutcome(recipient="0768520004", outcome="unanswered", reached=False),
        RecipientOutcome(recipient="0768520005", outcome="heard", reached=True),
    ], {}, received)  # fmt: skip
    await reach.record(
        ledger.db,
        d_mail,
        [RecipientOutcome(recipient="iwata@example.jp", outcome="accepted", reached=True)],
        {},
        received,
    )
    settings = CoverageSettings(flag_share=0.8, flag_after_min=30)

    cov = await compute(
        ledger.db, "anamizu", alert_id, DISTRICTS, settings, at=received + timedelta(minutes=10)
    )
    assert cov is not None
    rows = {r.district: r for r in cov.districts}
    # k1 counts once although two of its members are registered; R-4 is a household of one.
    assert (rows["kawashima"].households, rows["kawashima"].reached) == (3, 2)
    assert dict(rows["kawashima"].by_medium) == {"voice": 1, "email": 1}
    assert [h.key for h in rows["kawashima"].unreached] == ["~R-4"]
    assert (rows["omachi"].households, rows["omachi"].reached) == (2, 1)
    assert (cov.households, cov.reached) == (5, 3)
    # Ten minutes in, nothing is flagged yet; forty minutes in, both districts under 80 % are.
    assert cov.flagged == []
    late = await compute(
        ledger.db, "anamizu", alert_id, DISTRICTS, settings, at=received + timedelta(minutes=40)
    )
    assert late is not None and [r.district for r in late.flagged] == ["kawashima", "omachi"]

    # A leader marks R-4's household; a LINE reply from R-6: both districts complete.
    assert await marks.mark(ledger.db, "anamizu", alert_id, "~R-4", "leader", actor="leader:R-9")
    assert not await marks.mark(ledger.db, "anamizu", alert_id, "~R-4", "leader", actor="leader:R-9")
    key = await marks.household_of(ledger.db, "anamizu", "R-6")
    assert key == "o2"
    await marks.mark(ledger.db, "anamizu", alert_id, key, "line_reply", actor="line")
    done = await compute(
        ledger.db, "anamizu", alert_id, DISTRICTS, settings, at=received + timedelta(minutes=40)
    )
    assert done is not None and done.flagged == [] and (done.households, done.reached) == (5, 5)
    text = "\n".join(render(done))
    assert "川島" in text and "total" in text and "100%" in text
    csv_text = to_csv(done)
    assert csv_text.startswith("\ufeffalert_id,at,district_id,district,households,reached,share")
    assert "kawashima,川島,3,3,1.000" in csv_text


async def test_unreached_list_opens_addresses_only_when_asked(ledger: Ledger) -> None:
    await Audiences(ledger.db).import_people("anamizu", _people())
    alert_id, _, received = await _alert(ledger)
    settings = CoverageSettings()
    quiet = await compute(ledger.db, "anamizu", alert_id, DISTRICTS, settings, at=received)
    assert quiet is not None
    assert all(h.address is None for r in quiet.districts for h in r.unreached)
    full = await compute(ledger.db, "anamizu", alert_id, DISTRICTS, settings, at=received, addresses=True)
    assert full is not None
    by_key = {h.key: h for r in full.districts for h in r.unreached}
    assert by_key["k1"].address == "川島1-1" and by_key["k1"].label == "川島 一郎、川島 花子"
    listing = to_csv(full, unreached=True)
    assert "kawashima,川島,~R-4,中谷 トメ,川島3-2" in listing


async def test_another_tenant_is_never_counted(ledger: Ledger) -> None:
    await Audiences(ledger.db).import_people("anamizu", _people())
    await Audiences(ledger.db).import_people(
        "wajima", [Person("W-1", districts=("kawai",), endpoints=(("phone", "0768520001"),))]
    )
    alert_id, event_key, received = await _alert(ledger, "wajima")
    # Wajima's alert reached the number anamizu's R-1 also has: only Wajima's household counts.
    await reach.record(ledger.db, _dispatch(alert_id, event_key, "voice", "w-voice", "wajima"),
                       [RecipientOutcome(recipient="0768520001", outcome="heard", reached=True)], {}, received)  # fmt: skip
    cov = await compute(ledger.db, "wajima", alert_id, {"kawai": "河井"}, CoverageSettings(), at=received)
    assert cov is not None and (cov.households, cov.reached) == (1, 1)
    assert await compute(ledger.db, "anamizu", alert_id, DISTRICTS, CoverageSettings(), at=received) is None


async def test_retention_purges_marks_answers_and_flags_of_old_alerts(ledger: Ledger) -> None:
    import sqlalchemy as sa

    from broadcaster.coverage import safety
    from broadcaster.coverage.retention import purge_coverage
    from broadcaster.model import now
    from broadcaster.store import tables as t

    await Audiences(ledger.db).import_people("anamizu", _people())
    old = manual(
        "anamizu",
        status="Actual",
        kind="evacuation",
        event="避難指示",
        headline="old",
        at=now() - timedelta(days=40),
    )
    young = manual(
        "anamizu", status="Actual", kind="evacuation", event="避難指示", headline="young", at=now()
    )
    for a in (old, young):
        await ledger.record_alert(a)
        await marks.mark(
            ledger.db, "anamizu", a.identifier, "k1", "leader", actor="leader:L-1", at=a.received
        )
        await safety.record(
            ledger.db,
            "anamizu",
            a.identifier,
            "R-3",
            "k2",
            "need_help",
            "足が悪い",
            via="email",
            at=a.received,
        )

    async def left() -> dict[str, set[str]]:
        def work(c: sa.Connection) -> dict[str, set[str]]:
            return {
                tb.name: set(c.execute(sa.select(tb.c.alert_id)).scalars())
                for tb in (t.reach_marks, t.safety_answers)
            }

        return await ledger.db.read(work)

    dry = await purge_coverage(ledger, older_than=timedelta(days=30), dry_run=True)
    assert (dry.marks, dry.answers) == (2, 1), "the old alert's two marks (leader, safety) and its answer"
    assert (await left())["safety_answers"] == {old.identifier, young.identifier}
    done = await purge_coverage(ledger, older_than=timedelta(days=30))
    assert (done.marks, done.answers) == (2, 1)
    assert await left() == {"reach_marks": {young.identifier}, "safety_answers": {young.identifier}}
    assert (await purge_coverage(ledger, older_than=timedelta(days=30))).marks == 0
