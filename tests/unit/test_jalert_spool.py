"""The bridge's spool: durable, in order, across restarts; unreadable files set aside."""

from __future__ import annotations

from pathlib import Path

from adapters.ingest.jalert.bridge.spool import Spool


def test_messages_come_out_in_the_order_they_went_in_across_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    first = spool.put(b"one", content_type="text/plain", origin="hook")
    spool.put(b"two", content_type="text/plain", origin="watch:a.txt")
    # A new process over the same folder (the bridge restarted): nothing lost, order kept.
    again = Spool(tmp_path)
    head = again.head()
    assert head is not None and (head.body, head.id, head.seq) == (b"one", first.id, first.seq)
    again.remove(head)
    third = again.put(b"three", content_type="text/plain", origin="hook")
    assert third.seq > first.seq + 1, "numbers keep growing after a restart"
    bodies = []
    while (item := again.head()) is not None:
        bodies.append(item.body)
        again.remove(item)
    assert bodies == [b"two", b"three"]
    assert again.depth() == 0 and again.oldest() is None


def test_a_partial_write_of_a_crash_is_never_a_message(tmp_path: Path) -> None:
    Spool(tmp_path)
    (tmp_path / "tmp" / ("00000000000000000001-" + "0" * 32 + ".msg")).write_bytes(b'{"v": 1, "bo')
    spool = Spool(tmp_path)
    assert spool.head() is None
    assert list((tmp_path / "tmp").iterdir()) == []


def test_rejected_and_unreadable_messages_are_set_aside_with_a_reason(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    item = spool.put(b"bad", content_type="text/plain", origin="hook")
    spool.reject(item, "HTTP 400")
    assert (tmp_path / "rejected" / item.path.name).read_bytes()
    assert (tmp_path / "rejected" / (item.path.name + ".reason")).read_text() == "HTTP 400\n"
    broken = tmp_path / "queue" / ("00000000000000000000-" + "a" * 32 + ".msg")
    broken.write_bytes(b"not json")
    good = spool.put(b"good", content_type="text/plain", origin="hook")
    head = spool.head()
    assert head is not None and head.id == good.id, "an unreadable file does not block the queue"
    assert "unreadable" in (tmp_path / "rejected" / (broken.name + ".reason")).read_text()


def test_the_body_survives_byte_for_byte(tmp_path: Path) -> None:
    body = "緊急地震速報".encode("cp932") + bytes(range(256))
    Spool(tmp_path).put(body, content_type="text/plain", origin="hook")
    head = Spool(tmp_path).head()
    assert head is not None and head.body == body
