"""The LINE webhook's memory on both databases: events once, sweeping, codes, limits, people."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from broadcaster.store import audiences as aud
from broadcaster.store import tables as t
from broadcaster.store.audiences import Audiences, Person
from broadcaster.store.ledger import Ledger
from broadcaster.store.line_webhook import LinkCodes, SeenEvents, code_hash

AT = datetime(2025, 7, 10, 7, 0, tzinfo=UTC)
KEY = b"0123456789abcdef0123456789abcdef"
LINE_ID = "U" + "ab" * 16


async def test_an_event_is_claimed_once_per_town_and_forgotten_after_the_retention(ledger: Ledger) -> None:
    seen = SeenEvents(ledger.db, retention=timedelta(days=7))
    first = [("01JA", "follow", '{"x": 1}'), ("01JB", "message", '{"x": 2}')]
    assert await seen.claim("anamizu", first, AT) == {"01JA", "01JB"}
    assert await seen.claim("anamizu", [("01JA", "follow", "{}"), ("01JC", "postback", "{}")], AT) == {"01JC"}
    assert await seen.claim("wajima", [("01JA", "follow", "{}")], AT) == {"01JA"}, "another town's channel"
    await seen.finish("anamizu", "01JA", "registered")
    assert await seen.state("anamizu", "01JA") == ("done", "registered", False), "the body goes once processed"
    assert await seen.state("anamizu", "01JB") == ("received", None, True)
    later = AT + timedelta(days=8)
    assert await seen.claim("anamizu", [("01JD", "follow", "{}")], later) == {"01JD"}
    assert await seen.state("anamizu", "01JA") is None, "old ids are purged as new ones come"


async def test_the_sweeper_takes_up_what_a_dead_process_left_and_gives_up_after_three_tries(ledger: Ledger) -> None:
    seen = SeenEvents(ledger.db, lease=timedelta(seconds=60), max_attempts=3)
    await seen.claim("anamizu", [("01JA", "follow", '{"a": 1}')], AT)
    assert await seen.take_stale(AT + timedelta(seconds=30)) == [], "still within its lease"
    (taken,) = await seen.take_stale(AT + timedelta(seconds=61))
    assert (taken.tenant, taken.event_id, taken.payload) == ("anamizu", "01JA", '{"a": 1}')
    assert await seen.take_stale(AT + timedelta(seconds=62)) == [], "claimed again by the sweeper"
    assert len(await seen.take_stale(AT + timedelta(seconds=130))) == 1
    assert await seen.take_stale(AT + timedelta(seconds=200)) == []
    assert await seen.state("anamizu", "01JA") == ("failed", "gave_up", False)


async def _leader(ledger: Ledger, external_id: str = "L-1", kind: str = "leader") -> None:
    await Audiences(ledger.db).import_people(
        "anamizu", [Person(external_id=external_id, kind=kind, name="山田", districts=("kawashima",))]
    )


async def test_a_code_works_once_for_a_leader_and_only_its_hash_is_kept(ledger: Ledger) -> None:
    await _leader(ledger)
    await Audiences(ledger.db).add("anamizu", external_ref="R-1")
    codes = LinkCodes(ledger.db)
    assert await codes.issue("anamizu", "R-1", key=KEY, by="t", ttl=timedelta(hours=1), at=AT) is None, "not a leader"
    assert await codes.issue("wajima", "L-1", key=KEY, by="t", ttl=timedelta(hours=1), at=AT) is None, "another town's"
    issued = await codes.issue("anamizu", "L-1", key=KEY, by="officer:tanaka", ttl=timedelta(hours=1), at=AT)
    assert issued is not None and len(issued.code) == 8 and issued.kind == "leader"
    stored = await ledger.db.read(lambda c: c.execute(sa.select(t.line_link_codes)).all())
    assert [r.code_hash for r in stored] == [code_hash(KEY, "anamizu", issued.code)]
    assert issued.code not in str(stored)

    assert (await codes.redeem("wajima", issued.code, key=KEY, who="h:1", at=AT)).outcome == "unknown"
    assert (await codes.redeem("anamizu", issued.code, key=b"x" * 32, who="h:1", at=AT)).outcome == "unknown"
    ok = await codes.redeem("anamizu", issued.code, key=KEY, who="h:1", at=AT + timedelta(minutes=5))
    assert (ok.outcome, ok.external_id, ok.kind, ok.again) == ("ok", "L-1", "leader", False)
    again = await codes.redeem("anamizu", issued.code, key=KEY, who="h:1", at=AT + timedelta(minutes=6))
    assert (again.outcome, again.again) == ("ok", True), "the same event processed again"
    assert (await codes.redeem("anamizu", issued.code, key=KEY, who="h:2", at=AT)).outcome == "used"


async def test_a_code_expires_and_a_new_one_replaces_it(ledger: Ledger) -> None:
    await _leader(ledger, "D-1", "deputy")
    codes = LinkCodes(ledger.db)
    old = await codes.issue("anamizu", "D-1", key=KEY, by="t", ttl=timedelta(minutes=30), at=AT)
    new = await codes.issue("anamizu", "D-1", key=KEY, by="t", ttl=timedelta(minutes=30), at=AT)
    assert old is not None and new is not None
    if old.code != new.code:  # (once in a hundred million draws they are the same)
        assert (await codes.redeem("anamizu", old.code, key=KEY, who="h:1", at=AT)).outcome == "unknown"
    late = await codes.redeem("anamizu", new.code, key=KEY, who="h:3", at=AT + timedelta(minutes=31))
    assert late.outcome == "expired"


async def test_guesses_are_limited_per_user_and_per_town(ledger: Ledger) -> None:
    await _leader(ledger)
    codes = LinkCodes(ledger.db, window=timedelta(minutes=15), per_user=3, per_tenant=5)
    issued = await codes.issue("anamizu", "L-1", key=KEY, by="t", ttl=timedelta(hours=1), at=AT)
    assert issued is not None
    wrong = f"{(int(issued.code) + 1) % 10**8:08d}"
    for _ in range(3):
        assert (await codes.redeem("anamizu", wrong, key=KEY, who="h:a", at=AT)).outcome == "unknown"
    assert (await codes.redeem("anamizu", issued.code, key=KEY, who="h:a", at=AT)).outcome == "limited"
    for _ in range(2):
        assert (await codes.redeem("anamizu", wrong, key=KEY, who="h:b", at=AT)).outcome == "unknown"
    assert (await codes.redeem("anamizu", issued.code, key=KEY, who="h:c", at=AT)).outcome == "limited", "the town's budget"
    assert (await codes.redeem("wajima", wrong, key=KEY, who="h:c", at=AT)).outcome == "unknown", "another town's own"
    later = AT + timedelta(minutes=16)
    assert (await codes.redeem("anamizu", issued.code, key=KEY, who="h:a", at=later)).outcome == "ok", "the window passes"


async def test_update_person_and_by_endpoint_keep_the_counts_true(ledger: Ledger) -> None:
    people = Audiences(ledger.db)
    sid = await people.add("anamizu", language="ja", endpoints={"line": LINE_ID})
    ext = f"auto-{sid}"
    assert [p.external_id for p in await people.by_endpoint("anamizu", "line", LINE_ID)] == [ext]
    assert await people.by_endpoint("wajima", "line", LINE_ID) == []
    after = await people.update_person("anamizu", ext, districts=["omachi", "kawashima"], language="vi", topics=["避難"])
    assert after is not None and (after.districts, after.language, after.topics) == (("kawashima", "omachi"), "vi", ("避難",))
    await _leader(ledger)
    leader = await people.update_person("anamizu", "L-1", add_endpoint=("line", LINE_ID))
    assert leader is not None and ("line", LINE_ID) in leader.endpoints
    assert {p.external_id for p in await people.by_endpoint("anamizu", "line", LINE_ID)} == {ext, "L-1"}
    assert await people.update_person("anamizu", "nobody", language="en") is None
    await people.leave("anamizu", ext)
    assert await people.update_person("anamizu", ext, language="en") is None, "someone who left stays gone"
    assert [p.external_id for p in await people.by_endpoint("anamizu", "line", LINE_ID)] == ["L-1"]

    running = (await people.counts("anamizu")).n
    await ledger.db.write(lambda c: aud.recount(c, "anamizu"))
    assert (await people.counts("anamizu")).n == running, "the running counts equal a recount"
    assert await people.count("anamizu", "district:omachi", "line") == 0
    assert await people.count("anamizu", "leaders:kawashima", "line") == 1
