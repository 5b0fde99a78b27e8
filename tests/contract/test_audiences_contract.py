"""Audiences on SQLite and PostgreSQL: import/export, leaving, topics, counts, tenant isolation."""

from __future__ import annotations

import asyncio
import random
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broadcaster.audience import AudienceName
from broadcaster.store import migrate
from broadcaster.store import tables as t
from broadcaster.store.audiences import Audiences, Person, recount
from broadcaster.store.ledger import Ledger

LINE = "U" + "0" * 31


def _line(n: int) -> str:
    return f"U{n:032x}"


def _people() -> list[Person]:
    return [
        Person("R-1", districts=("kawashima",), topics=("気象", "避難"), language="vi",
               endpoints=(("line", _line(1)), ("email", "r1@example.jp"))),
        Person("R-2", districts=("kawashima",), endpoints=(("line", _line(2)), ("app_push", "https://push.example/2"))),
        Person("R-3", districts=("omachi",), topics=("お知らせ",), endpoints=(("line", _line(3)),)),
        Person("L-1", kind="leader", name="山田", title="区長", districts=("kawashima",),
               endpoints=(("circular", "L-1"), ("line", _line(11)), ("phone", "0768520001"))),
        Person("D-1", kind="deputy", name="佐藤", districts=("kawashima",), endpoints=(("circular", "D-1"),)),
        Person("O-1", kind="officer", name="田中", groups=("duty",), endpoints=(("email", "tanaka@town.example.jp"),)),
        Person("O-2", kind="officer", name="鈴木", endpoints=(("email", "suzuki@town.example.jp"),)),
    ]


async def _addresses(aud: Audiences, tenant: str, audience: str, channel: str) -> list[str]:
    return [r.address for r in await aud.recipients(tenant, audience, channel)]


async def _counts_match_recount(ledger: Ledger, tenant: str) -> None:
    before = (await Audiences(ledger.db).counts(tenant)).n
    await ledger.db.write(lambda c: recount(c, tenant))
    after = (await Audiences(ledger.db).counts(tenant)).n
    assert dict(before) == dict(after)


async def test_import_is_idempotent_and_export_reads_back(ledger: Ledger) -> None:
    aud = Audiences(ledger.db)
    first = await aud.import_people("anamizu", _people())
    assert (first.created, first.updated, first.unchanged) == (7, 0, 0)
    again = await aud.import_people("anamizu", _people())
    assert (again.created, again.updated, again.unchanged) == (0, 0, 7), "a second import changes nothing"
    exported = await aud.people("anamizu")
    assert [p.external_id for p in exported] == [p.external_id for p in _people()]
    assert exported == [p.normalized() for p in _people()]
    await _counts_match_recount(ledger, "anamizu")


async def test_a_changed_row_updates_the_person_and_the_counts(ledger: Ledger) -> None:
    aud = Audiences(ledger.db)
    await aud.import_people("anamizu", _people())
    assert await aud.count("anamizu", "district:kawashima", "line") == 3
    moved = Person("R-2", districts=("omachi",), topics=("お知らせ",), endpoints=(("line", _line(22)),))
    report = await aud.import_people("anamizu", [moved])
    assert (report.updated, report.unchanged) == (1, 0)
    assert await _addresses(aud, "anamizu", "district:omachi", "line") == [_line(22), _line(3)], "in subscriber order"
    assert await aud.count("anamizu", "district:kawashima", "line") == 2
    assert await aud.count("anamizu", "district:omachi/お知らせ", "line") == 2
    assert await aud.count("anamizu", "public", "app_push") == 0
    await _counts_match_recount(ledger, "anamizu")


async def test_topics_filter_residents_not_leaders(ledger: Ledger) -> None:
    aud = Audiences(ledger.db)
    await aud.import_people("anamizu", _people())
    # R-1 chose 気象 and 避難 only: no お知らせ for them. R-2 chose nothing: everything.
    assert await _addresses(aud, "anamizu", "public/お知らせ", "line") == [_line(2), _line(3), _line(11)]
    assert await _addresses(aud, "anamizu", "district:kawashima/避難", "line") == [_line(1), _line(2), _line(11)]
    assert await _addresses(aud, "anamizu", "leaders:kawashima", "circular") == ["L-1"]
    assert await _addresses(aud, "anamizu", "deputies:kawashima", "circular") == ["D-1"]
    assert await _addresses(aud, "anamizu", "officers", "email") == ["tanaka@town.example.jp", "suzuki@town.example.jp"]
    assert await _addresses(aud, "anamizu", "officers:duty", "email") == ["tanaka@town.example.jp"]
    assert await _addresses(aud, "anamizu", "public", "email") == ["r1@example.jp"], "officers are not the public"
    for audience, channel in [("public/お知らせ", "line"), ("district:kawashima/避難", "line"), ("officers:duty", "email")]:
        n = len(await _addresses(aud, "anamizu", audience, channel))
        assert await aud.count("anamizu", audience, channel) == n
        assert (await aud.counts("anamizu")).count(audience, channel) == n


async def test_leaving_deletes_addresses_and_personal_data_and_stays_left(ledger: Ledger) -> None:
    aud = Audiences(ledger.db)
    await aud.import_people("anamizu", _people())
    assert await aud.leave("anamizu", "L-1")
    assert not await aud.leave("anamizu", "L-1"), "leaving twice finds no one"
    assert await aud.person("anamizu", "L-1") == Person("L-1", kind="leader", active=False)
    leftovers = await ledger.db.read(
        lambda c: c.execute(
            sa.select(sa.func.count()).select_from(t.subscriber_endpoints.join(t.subscribers))
            .where(t.subscribers.c.external_ref == "L-1")
        ).scalar()
    )
    assert leftovers == 0
    assert await _addresses(aud, "anamizu", "leaders", "circular") == []
    assert await aud.count("anamizu", "leaders", "circular") == 0
    report = await aud.import_people("anamizu", _people())
    assert report.skipped_left == ["L-1"], "an old roster does not sign them up again"
    assert await aud.count("anamizu", "leaders", "circular") == 0
    await _counts_match_recount(ledger, "anamizu")


async def test_an_unfollow_removes_one_address(ledger: Ledger) -> None:
    aud = Audiences(ledger.db)
    await aud.import_people("anamizu", _people())
    assert await aud.remove_endpoint("anamizu", "line", _line(1)) == 1
    assert await aud.remove_endpoint("wajima", "line", _line(2)) == 0, "another tenant's address is not touched"
    assert _line(1) not in await _addresses(aud, "anamizu", "public", "line")
    assert await _addresses(aud, "anamizu", "public", "email") == ["r1@example.jp"]
    await _counts_match_recount(ledger, "anamizu")


async def test_counts_follow_every_change(ledger: Ledger) -> None:
    rng = random.Random(7)
    aud = Audiences(ledger.db)
    districts = ["kawashima", "omachi", "hiyomi"]
    for step in range(40):
        action = rng.choice(["add", "import", "leave", "unfollow"])
        if action == "add":
            await aud.add(
                "anamizu",
                kind=rng.choice(["resident", "resident", "leader", "deputy", "officer"]),
                districts=rng.sample(districts, rng.randint(0, 2)),
                topics=rng.sample(["気象", "避難", "お知らせ"], rng.randint(0, 2)),
                endpoints={"line": _line(rng.randint(1, 30)), "email": f"p{rng.randint(1, 30)}@example.jp"},
            )
        elif action == "import":
            batch = [
                Person(f"X-{rng.randint(1, 15)}", districts=(rng.choice(districts),),
                       topics=tuple(rng.sample(["気象", "お知らせ"], rng.randint(0, 1))),
                       endpoints=(("line", _line(rng.randint(1, 30))),))
                for _ in range(5)
            ]
            await aud.import_people("anamizu", list({p.external_id: p for p in batch}.values()))
        elif action == "leave":
            await aud.leave("anamizu", f"X-{rng.randint(1, 15)}")
        else:
            await aud.remove_endpoint("anamizu", "line", _line(rng.randint(1, 30)))
        if step % 10 == 9:
            await _counts_match_recount(ledger, "anamizu")
    snapshot = await aud.counts("anamizu")
    for audience in ["public", "public/お知らせ", "district:omachi", "district:hiyomi/気象", "leaders", "officers"]:
        for channel in ["line", "email"]:
            assert snapshot.count(audience, channel) == len(await _addresses(aud, "anamizu", audience, channel))


async def test_no_person_of_one_tenant_is_reachable_from_another(ledger: Ledger) -> None:
    await ledger.ensure_tenants([("noto", "能登町")])
    aud = Audiences(ledger.db)
    rng = random.Random(3)
    owners: dict[str, str] = {}
    for tenant in ("anamizu", "wajima", "noto"):
        people = []
        for n in range(12):
            address = f"{tenant}-{n}@example.jp"
            owners[address] = tenant
            # The same external ids in every tenant: they are different people.
            people.append(Person(f"P-{n}", kind=rng.choice(["resident", "leader", "deputy", "officer"]),
                                 districts=("kawashima",), groups=(), endpoints=(("email", address),)))
        await aud.import_people(tenant, people)
    audiences = ["public", "district:kawashima", "district:kawashima/お知らせ", "leaders", "leaders:kawashima",
                 "deputies", "officers"]
    for tenant in ("anamizu", "wajima", "noto"):
        for audience in audiences:
            got = await _addresses(aud, tenant, audience, "email")
            assert all(owners[a] == tenant for a in got), (tenant, audience, got)
            assert await aud.count(tenant, audience, "email") == len(got)
        exported = await aud.people(tenant)
        assert {a for p in exported for _, a in p.endpoints} == {a for a, o in owners.items() if o == tenant}
    assert await aud.leave("wajima", "P-1")
    assert await aud.person("anamizu", "P-1") is not None and (await aud.person("anamizu", "P-1")).active  # type: ignore[union-attr]


people_strategy = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]),
        st.sampled_from(["resident", "leader", "deputy", "officer"]),
        st.lists(st.sampled_from(["d1", "d2"]), max_size=2, unique=True),
        st.lists(st.sampled_from(["気象", "お知らせ"]), max_size=2, unique=True),
        st.integers(0, 20),
    ),
    max_size=25,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(people_strategy, st.sampled_from(["public", "public/お知らせ", "district:d1", "district:d2/気象",
                                          "leaders", "leaders:d1", "deputies:d2", "officers"]))
def test_isolation_and_counts_hold_for_any_people(people: list[tuple[str, str, list[str], list[str], int]], audience: str) -> None:
    """Hypothesis: any people in three tenants; an audience of one never names another's address,
    and its count is the number of addresses it expands to."""

    async def run(db_path: Path) -> None:
        ledger = Ledger.connect(f"sqlite:///{db_path}")
        try:
            await migrate.upgrade(ledger.db)
            await ledger.ensure_tenants([("a", "A"), ("b", "B"), ("c", "C")])
            aud = Audiences(ledger.db)
            owner: dict[str, str] = {}
            per_tenant: dict[str, list[Person]] = {}
            for n, (tenant, kind, districts, topics, k) in enumerate(people):
                address = f"{tenant}{n}-{k}@example.jp"
                owner[address] = tenant
                per_tenant.setdefault(tenant, []).append(
                    Person(f"P{n}", kind=kind, districts=tuple(districts), topics=tuple(topics),
                           endpoints=(("email", address),))
                )
            for tenant, ps in per_tenant.items():
                await aud.import_people(tenant, ps)
            name = AudienceName.parse(audience)
            for tenant in ("a", "b", "c"):
                got = await _addresses(aud, tenant, audience, "email")
                expected = {
                    a
                    for p in per_tenant.get(tenant, [])
                    for _, a in p.endpoints
                    if p.kind in name.roles
                    and (name.scope is None or name.scope in p.districts)
                    and (name.topic is None or not p.topics or name.topic in p.topics)
                }
                assert set(got) == expected
                assert all(owner[a] == tenant for a in got)
                assert await aud.count(tenant, audience, "email") == len(got)
        finally:
            await ledger.close()

    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(Path(tmp) / "ledger.sqlite3"))


async def _migrated_with_people(url: str) -> dict[str, object]:
    """A ledger at 0001 with people in it, upgraded to every head: nothing lost, all counted."""
    ledger = Ledger.connect(url)
    try:
        await migrate.upgrade(ledger.db, "0001")

        def seed(c: sa.Connection) -> None:
            c.execute(sa.insert(t.tenants).values(id="anamizu", name="穴水町", created=sa.text("CURRENT_TIMESTAMP")))
            for n, topics in enumerate([[], ["気象", "weather"], ["お知らせ", "no-longer-offered"]], start=1):
                c.execute(
                    sa.text(
                        "insert into subscribers (id, tenant, kind, language, topics, active, created, updated) "
                        "values (:i, 'anamizu', 'resident', 'ja', :tp, :yes, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    ).bindparams(sa.bindparam("tp", type_=sa.JSON())),
                    {"i": n, "tp": topics, "yes": True},
                )
                c.execute(sa.insert(t.subscriber_endpoints).values(subscriber_id=n, channel="line", address_hash=f"h{n}", address=_line(n)))
                c.execute(sa.insert(t.subscriber_districts).values(subscriber_id=n, district="kawashima"))

        await ledger.db.write(seed)
        await migrate.upgrade(ledger.db)
        aud = Audiences(ledger.db)
        return {
            "line": await _addresses(aud, "anamizu", "district:kawashima", "line"),
            "notices": await _addresses(aud, "anamizu", "public/お知らせ", "line"),
            "weather": await aud.count("anamizu", "public/気象", "line"),
            "people": [p.topics for p in await aud.people("anamizu")],
        }
    finally:
        await ledger.close()


def _check_upgrade(result: dict[str, object]) -> None:
    assert result["line"] == [_line(1), _line(2), _line(3)], "no endpoint lost in the upgrade"
    assert result["notices"] == [_line(1), _line(3)], "chosen topics carried over"
    assert result["weather"] == 2, "counts computed"
    assert result["people"] == [(), ("気象",), ("お知らせ",)]


async def test_the_migration_keeps_everyone_and_counts_them_on_sqlite(tmp_path: Path) -> None:
    _check_upgrade(await _migrated_with_people(f"sqlite:///{tmp_path / 'old.sqlite3'}"))


@pytest.mark.postgres
async def test_the_migration_keeps_everyone_and_counts_them_on_postgres(fresh_postgres: str) -> None:
    _check_upgrade(await _migrated_with_people(fresh_postgres))
