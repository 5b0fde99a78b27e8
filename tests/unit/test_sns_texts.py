"""Fitting texts to what each network counts, and the adapters' post log."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.outbound.sns.posted import Post, PostLog
from adapters.outbound.sns.texts import X_MAX_WEIGHT, split_to_fit, thread_of, x_weight
from tests.fakes.deliveries import delivery, text


def test_x_weighs_cjk_double_and_urls_as_23() -> None:
    assert x_weight("abc") == 3
    assert x_weight("避難") == 4
    assert x_weight("「」、。") == 8
    assert x_weight("見て https://bousai.town.anamizu.example/alerts/anamizu/very/long/path") == 4 + 1 + 23
    assert x_weight("—") == 1  # general punctuation weighs one


def test_split_prefers_sentence_ends() -> None:
    chunks = split_to_fit("一文目です。二文目です。三文目です。", lambda t: len(t) <= 12)
    assert chunks == ["一文目です。二文目です。", "三文目です。"]


def test_split_never_cuts_a_url() -> None:
    url = "https://bousai.example/alerts/anamizu/a1"
    chunks = split_to_fit(f"詳しくは {url} をご覧ください。", lambda t: x_weight(t) <= 30)
    assert any(url in c for c in chunks)


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=2000).filter(lambda s: s.strip() != ""))
def test_every_chunk_fits_x_and_nothing_but_edge_space_is_lost(body: str) -> None:
    chunks = split_to_fit(body, lambda t: x_weight(t) <= X_MAX_WEIGHT)
    assert all(x_weight(c) <= X_MAX_WEIGHT for c in chunks)
    assert "".join("".join(c.split()) for c in chunks) == "".join(body.split())


def test_thread_of_takes_every_part_of_every_language_in_order() -> None:
    d = delivery("x", text("v", language="vi", parts=["v1", "v2"]), text("j", parts=["j1"]))
    assert [(p.language, p.text) for p in thread_of(d)] == [("vi", "v1"), ("vi", "v2"), ("ja", "j1")]


async def test_post_log_survives_a_restart_and_a_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "sns" / "x" / "anamizu.jsonl"
    log = PostLog(path)
    await log.record(Post("k1", "alert-1", 0, "101"))
    await log.record(Post("k1", "alert-1", 1, "102"))
    await log.record(Post("k2", "alert-2", 0, "201", cid="bafy"))
    await log.deleted("102")
    with path.open("a", encoding="utf-8") as f:
        f.write('{"key": "k3", "alert"')  # a crash mid-write

    again = PostLog(path)
    assert [p.ref for p in await again.of_key("k1")] == ["101", "102"]
    assert [p.ref for p in await again.of_alert("alert-1")] == ["101"], "deleted posts are not cancel targets"
    assert (await again.of_alert("alert-2"))[0].cid == "bafy"
    assert await again.of_key("k3") == []


def test_post_log_lives_under_the_var_dir(tmp_path: Path) -> None:
    assert PostLog.under(tmp_path, "x", "anamizu").path == tmp_path / "sns" / "x" / "anamizu.jsonl"
