"""CAP that other systems accept: every document a town's feed publishes has <expires>, a
<description>, an <area> with a geocode and references to documents the feed published, and is
valid against the OASIS CAP 1.2 schema (docs/cap.md, *Publishing*)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from pathlib import Path

from adapters.ingest.jma import parse_bytes
from broadcaster.cap import from_cap, to_cap, validate_cap
from broadcaster.cap.publish import DEFAULT_VALIDITY, for_publication, publication_issues
from broadcaster.model import Alert, MsgType

TOWN, CODES = "穴水町", ("174611",)


def official(corpus: Path, name: str) -> Alert:
    return parse_bytes((corpus / "jma" / "official_samples" / name).read_bytes())[0].for_tenant("anamizu")


def publish(sequence: list[Alert]) -> list[Alert]:
    """The documents a feed publishes for a sequence, as an aggregator reads them back."""
    shown: dict[str, list[Alert]] = defaultdict(list)
    out = []
    for alert in sequence:
        doc = to_cap(for_publication(alert, earlier=shown[alert.event_key], town=TOWN, codes=CODES))
        out.append(from_cap(doc))
        shown[alert.event_key].append(alert)
    return out


def test_every_corpus_telegram_publishes_as_cap_aggregators_accept(corpus: Path) -> None:
    xsd = corpus / "cap" / "schema" / "CAP-v1.2.xsd"
    sequence = [official(corpus, p.name) for p in sorted((corpus / "jma" / "official_samples").glob("*.xml"))]
    shown: dict[str, list[Alert]] = defaultdict(list)
    published: set[str] = set()
    bad: list[str] = []
    for alert in sequence:
        doc = to_cap(for_publication(alert, earlier=shown[alert.event_key], town=TOWN, codes=CODES))
        problems = validate_cap(doc, xsd) + publication_issues(from_cap(doc), published)
        bad += [f"{alert.primary.event}: {p}" for p in problems]
        shown[alert.event_key].append(alert)
        published.add(alert.identifier)
    assert not bad, "\n".join(bad[:20])


def test_the_telegrams_own_validity_is_the_expiry(corpus: Path) -> None:
    # 竜巻注意情報 holds for about an hour: JMA writes until when in Head/ValidDateTime.
    alert = official(corpus, "19_01_01_091210_VPHW50.xml")
    assert alert.primary.expires is not None
    assert alert.primary.expires - alert.sent == timedelta(hours=1, minutes=2)
    (doc,) = publish([alert])
    assert doc.primary.expires == alert.primary.expires


def test_without_a_validity_the_kinds_default_applies(corpus: Path) -> None:
    alert = official(corpus, "32-35_07_06_240613_VXSE53.xml")
    assert alert.primary.expires is None
    (doc,) = publish([alert])
    assert doc.primary.expires == alert.sent + DEFAULT_VALIDITY["earthquake"]


def test_a_cancel_names_the_document_it_cancels_and_its_areas(corpus: Path) -> None:
    # 噴火速報 (御嶽山, 2014-09-27), its 訂正 and its 取消: a correction or cancel of this type means
    # "the latest of this event", named by an anchor no document carries; the cancel has no body,
    # so no area.
    first, second, update, cancel = (official(corpus, f"67_01_0{n}_140927_VFVO56.xml") for n in (1, 2, 3, 4))
    assert cancel.msg_type is MsgType.CANCEL and cancel.primary.param("referenceScope") == "latestOfEvent"
    assert not cancel.primary.area
    published = {first.identifier, second.identifier, update.identifier}
    assert not published & set(cancel.referenced_identifiers())
    *_, got_update, got_cancel = publish([first, second, update, cancel])
    assert got_update.referenced_identifiers() == (second.identifier,)
    assert got_cancel.msg_type is MsgType.CANCEL
    assert got_cancel.referenced_identifiers() == (update.identifier,)
    assert {a.area_desc for a in got_cancel.primary.area} == {a.area_desc for a in update.primary.area}


def test_a_cancel_of_nothing_this_feed_published_is_a_message_of_its_own(corpus: Path) -> None:
    (doc,) = publish([official(corpus, "67_01_04_140927_VFVO56.xml")])
    assert doc.msg_type is MsgType.ALERT
    assert doc.references == ()
    assert [a.area_desc for a in doc.primary.area] == [TOWN]
    assert publication_issues(doc, set()) == []


def test_an_alert_without_description_says_its_headline(corpus: Path) -> None:
    alert = official(corpus, "32-35_07_06_240613_VXSE53.xml")
    bare = alert.model_copy(update={"info": (alert.primary.model_copy(update={"description": None}),)})
    (doc,) = publish([bare])
    assert doc.primary.description == alert.primary.headline


def test_the_guard_holds_the_feed_to_the_message_as_published(corpus: Path) -> None:
    from broadcaster.channels import Carried
    from broadcaster.consistency.facts import facts_of
    from broadcaster.consistency.judge import judge

    first, second, update, cancel = (official(corpus, f"67_01_0{n}_140927_VFVO56.xml") for n in (1, 2, 3, 4))
    doc = publish([first, second, update, cancel])[-1]
    carried = Carried(
        surface="cap_feed", alert_id=cancel.identifier, listed=True, facts=facts_of(doc), where="cap.atom"
    )
    (state,) = judge("website", "medium", cancel, [carried], None, cancel.sent, 60, [first, second, update])
    assert state.problem is None, state.facts
    # A feed that shows the cancel with references to a document it never published differs.
    wrong = Carried(
        surface="cap_feed", alert_id=cancel.identifier, listed=True, facts=facts_of(cancel), where="cap.atom"
    )
    (state,) = judge("website", "medium", cancel, [wrong], None, cancel.sent, 60, [first, second, update])
    assert state.problem == "differs"
