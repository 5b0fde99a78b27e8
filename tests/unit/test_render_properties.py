"""Properties of every rendering, for any alert: limits hold, drills are labelled, cuts are marked."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broadcaster.channels import STANDARD_PROFILES
from broadcaster.model import Alert, Info, Status
from broadcaster.render.limits import CHANNEL_LIMITS, limits_for
from broadcaster.render.renderer import STATUS_LABELS_JA
from tests.render_support import PUBLIC_URL, dispatch, renderer
from tests.strategies import alerts

# Long text of every kind a telegram or an officer can produce: kanji, kana, Latin, Thai with its
# combining marks, emoji with joiners, characters outside the BMP, URLs and breaks of all sorts.
_pieces = st.one_of(
    st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=1, max_size=60),
    st.text(st.characters(min_codepoint=0x3040, max_codepoint=0x30FF), min_size=1, max_size=60),
    st.text(st.sampled_from(list("abcdefghij XYZ0123456789")), min_size=1, max_size=60),
    st.sampled_from(list("。、．，！？!?.,\n  「」（）")),
    st.sampled_from(["น้ำ", "ท่วม", "👨\u200d👩\u200d👧", "🇯🇵", "𠮷", "é", "e\u0301", "\u200d", "\ufe0f"]),
    st.sampled_from([" https://bousai.town.anamizu.lg.jp/a/1 ", " http://x.jp ", " www.example.com "]),
)
long_texts = st.lists(_pieces, max_size=120).map("".join)
LANGUAGES = ("ja", "vi", "en", "th", "ja-x-easy")


@st.composite
def long_alerts(draw: st.DrawFn) -> Alert:
    alert = draw(alerts())
    if not alert.info:
        return alert
    first: Info = alert.info[0]
    longer = first.model_copy(
        update={
            "headline": draw(long_texts),
            "description": draw(long_texts),
            "instruction": draw(st.one_of(st.none(), long_texts)),
            "event": draw(st.one_of(st.just(first.event), long_texts.filter(bool))),
        }
    )
    return alert.model_copy(update={"info": (longer, *alert.info[1:])})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(alert=long_alerts(), lang=st.sampled_from(LANGUAGES))
def test_no_part_ever_exceeds_its_channel_and_drills_are_always_labelled(alert: Alert, lang: str) -> None:
    r = renderer()
    label = STATUS_LABELS_JA.get(alert.status, "")
    for channel in CHANNEL_LIMITS:
        profile = STANDARD_PROFILES.get(channel)
        limits = limits_for(channel, profile)
        wanted = (lang,) if lang == "ja" else (lang, "ja")
        for text in r.render(alert, dispatch(alert, channel, wanted), profile, tenant_name="穴水町", public_url=PUBLIC_URL):
            assert text.parts, channel
            assert len(text.parts) <= limits.max_parts, (channel, len(text.parts))
            for part in text.parts:
                assert limits.fits(part), (channel, limits.measure(part), limits.max_length, part[:80])
            if limits.title_max is not None:
                assert len(text.title) <= limits.title_max
            if text.extra.get("cut"):
                assert any(m in text.parts[-1] for m in ("…", "...")), "a cut is always marked"
            if alert.status is not Status.ACTUAL:
                outputs = [text.title, text.body, *text.parts]
                if "flex_alt_text" in text.extra:
                    outputs.append(text.extra["flex_alt_text"])
                for out in outputs:
                    assert out.startswith(label), (channel, text.language, out[:40])
                if text.html is not None:
                    assert label in text.html


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(alert=alerts())
def test_any_alert_renders_for_every_channel_without_raising(alert: Alert) -> None:
    r = renderer()
    for channel in (*CHANNEL_LIMITS, "some_new_channel"):
        texts = r.render(alert, dispatch(alert, channel, ("vi", "ja")), None, tenant_name="穴水町", public_url=PUBLIC_URL)
        assert [t.language for t in texts] == ["vi", "ja"]
        assert all(t.body.strip() for t in texts)
