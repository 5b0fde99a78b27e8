"""The voice channel: read-aloud wording, offline synthesis checked for length and silence, and
calls through a fake Asterisk ARI (originate, play, the key pressed, retries of unanswered calls)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from pydantic import SecretStr

from adapters.outbound.voice import VoiceAdapter
from adapters.outbound.voice.speech import speakable
from adapters.outbound.voice.synth import SynthesisError, check_speech, dictionary_dir, measure, synthesize
from broadcaster.channels import AdapterEnv
from broadcaster.errors import ConfigError, PermanentError, TransientError
from broadcaster.settings import ChannelSettings
from tests.fakes.ari import Callee, FakeAri
from tests.fakes.deliveries import delivery, text

MESSAGE = "【穴水町】避難指示\n川島地区に避難指示（警戒レベル4）を発令しました。\n直ちに避難してください。https://example.jp/a"


@pytest.mark.parametrize(
    ("written", "spoken"),
    [
        ("高さ10m超", "高さ10メートルを超える。"),
        ("予想される高さ 3m", "予想される高さ 3メートル。"),
        ("07時04分ごろ", "7時4分ごろ。"),
        ("震源 石川県能登地方 M7.6", "震源 石川県能登地方 マグニチュード7.6。"),
        ("詳しくは https://example.jp/alerts/1 へ", "詳しくは へ。"),
        ("【穴水町】避難指示", "穴水町、避難指示。"),
        ("震度5弱〜6強", "震度5弱から6強。"),
        ("石川県能登：大津波警報（到達中）", "石川県能登、大津波警報、到達中。"),
    ],
)
def test_written_text_is_made_speakable(written: str, spoken: str) -> None:
    assert speakable(written) == spoken


def test_synthesis_is_offline_telephone_audio_of_the_right_length() -> None:
    dictionary_dir()  # Debian's dictionary (or OPEN_JTALK_DICT_DIR): never a download
    speech = synthesize(speakable(MESSAGE))
    assert speech.wav[:4] == b"RIFF" and speech.wav[8:12] == b"WAVE"
    # 8 kHz, 16-bit mono: what a telephone trunk carries.
    assert int.from_bytes(speech.wav[24:28], "little") == 8000
    # About 7-9 morae a second: a 40-character message takes several seconds, not a blip.
    assert 4.0 < speech.check.duration_s < 20.0
    assert speech.check.voiced_fraction > 0.5 and speech.check.longest_silence_s < 1.5


def test_silent_or_truncated_audio_is_refused() -> None:
    silent = measure(np.zeros(8000 * 5, dtype=np.int16), 8000)
    with pytest.raises(SynthesisError, match="silence"):
        check_speech(silent, "川島地区に避難指示を発令しました")
    tone = (np.sin(np.arange(8000) / 5) * 8000).astype(np.int16)
    with pytest.raises(SynthesisError, match="too short"):
        check_speech(measure(tone, 8000), "川島地区に避難指示を発令しました。直ちに避難してください。" * 3)
    with pytest.raises(SynthesisError):
        synthesize("   ")


def test_missing_dictionary_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OPEN_JTALK_DICT_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match="open-jtalk-mecab-naist-jdic"):
        dictionary_dir()


@pytest.fixture
async def ari(tmp_path: Path) -> AsyncIterator[FakeAri]:
    async with FakeAri(tmp_path / "media") as fake:
        yield fake


def _adapter(ari: FakeAri, **options: object) -> VoiceAdapter:
    settings = ChannelSettings(
        credentials={"ari_user": SecretStr("broadcaster"), "ari_password": SecretStr("s3cret")},
        options={"ari_url": ari.url, "media_dir": str(ari.media_dir), "retry_after_s": 0, "dtmf_timeout_s": 0.2, **options},
    )
    env = AdapterEnv("anamizu", "穴水町", ari.media_dir, ari.media_dir, "http://127.0.0.1")
    return VoiceAdapter.from_settings("voice", settings, env)


async def test_call_plays_the_message_and_records_the_key(ari: FakeAri) -> None:
    ari.callees = {"0768520001": Callee(digit="0"), "0768520002": Callee(digit="1")}
    adapter = _adapter(ari)
    try:
        result = await adapter.send(delivery("voice", text(MESSAGE), recipients=["0768520001", "0768520002"]))
    finally:
        await adapter.close()
    outcomes = {o.recipient: o for o in result.outcomes}
    assert outcomes["0768520001"].outcome == "heard" and outcomes["0768520001"].reached
    assert outcomes["0768520002"].outcome == "help"
    assert result.accepted == 2 and "1 need help" in (result.detail or "")
    call = ari.calls_to("0768520001")[0]
    assert call.endpoint == "PJSIP/0768520001@trunk" and call.app == "broadcaster" and call.ended
    # What the callee heard: the message (checked for length and silence), the question, the thanks.
    message, check = call.played[0]
    assert message.startswith("sound:broadcaster/bc-")
    assert check.duration_s > 4.0 and check.voiced_fraction > 0.5
    assert len(call.played) == 3


async def test_no_key_hears_the_message_twice(ari: FakeAri) -> None:
    ari.callees = {"0768520003": Callee(digit=None)}
    adapter = _adapter(ari)
    try:
        result = await adapter.send(delivery("voice", text(MESSAGE), recipients=["0768520003"]))
    finally:
        await adapter.close()
    assert result.outcomes[0].outcome == "no_key" and result.outcomes[0].reached
    assert len(ari.calls_to("0768520003")[0].played) == 4


async def test_unanswered_calls_are_retried_then_given_up(ari: FakeAri) -> None:
    ari.callees = {
        "0768520004": Callee("no_answer"),
        "0768520005": Callee("answer", digit="0", answers=2),  # picks up on the second call
        "0768520006": Callee("answer", digit="0"),
    }
    adapter = _adapter(ari, attempts=3)
    numbers = ["0768520004", "0768520005", "0768520006"]
    d = delivery("voice", text(MESSAGE), recipients=numbers)
    try:
        with pytest.raises(TransientError) as first:
            await adapter.send(d)
        assert first.value.retry_after == 0
        assert {o.recipient: o.outcome for o in first.value.outcomes}["0768520006"] == "heard"  # type: ignore[attr-defined]
        with pytest.raises(TransientError):
            await adapter.send(d.model_copy(update={"attempt": 2}))
        result = await adapter.send(d.model_copy(update={"attempt": 3}))
    finally:
        await adapter.close()
    # The one who answered at once was called once; the late answerer twice; the silent one three times.
    assert [len(ari.calls_to(n)) for n in numbers] == [3, 2, 1]
    by = {o.recipient: o for o in result.outcomes}
    assert by["0768520004"].outcome == "unanswered" and by["0768520004"].attempts == 3 and not by["0768520004"].reached
    assert by["0768520005"].outcome == "heard" and by["0768520005"].attempts == 2
    assert result.accepted == 2


async def test_invalid_number_is_not_called_again_and_nobody_reached_is_permanent(ari: FakeAri) -> None:
    ari.callees = {"0000000000": Callee("invalid")}
    adapter = _adapter(ari)
    try:
        with pytest.raises(PermanentError) as err:
            await adapter.send(delivery("voice", text(MESSAGE), recipients=["0000000000"]))
    finally:
        await adapter.close()
    assert err.value.outcomes[0].outcome == "invalid"  # type: ignore[attr-defined]
    assert len(ari.calls_to("0000000000")) == 1


async def test_callee_who_hangs_up_during_the_message(ari: FakeAri) -> None:
    ari.callees = {"0768520007": Callee("hang_up")}
    adapter = _adapter(ari)
    try:
        result = await adapter.send(delivery("voice", text(MESSAGE), recipients=["0768520007"]))
    finally:
        await adapter.close()
    assert result.outcomes[0].outcome == "hung_up"


async def test_exchange_errors_are_classified(ari: FakeAri) -> None:
    ari.callees = {"0768520008": Callee(digit="0")}
    ari.fail_originate = [503]
    adapter = _adapter(ari, attempts=2)
    d = delivery("voice", text(MESSAGE), recipients=["0768520008"])
    try:
        with pytest.raises(TransientError, match="503"):
            await adapter.send(d)
        result = await adapter.send(d.model_copy(update={"attempt": 2}))
    finally:
        await adapter.close()
    assert result.outcomes[0].outcome == "heard"


async def test_wrong_credentials_are_permanent(ari: FakeAri) -> None:
    ari.password = "other"
    adapter = _adapter(ari)
    try:
        with pytest.raises(PermanentError, match="401"):
            await adapter.send(delivery("voice", text(MESSAGE), recipients=["0768520001"]))
    finally:
        await adapter.close()


def test_synthesis_never_downloads_even_when_pyopenjtalk_was_imported_first(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    # A fresh interpreter: pyopenjtalk imported before the dictionary is named, and every way it
    # could download made to fail loudly.
    script = (
        "import urllib.request, pyopenjtalk\n"
        "def refuse(*a, **k): raise SystemExit('tried to download ' + str(a[:1]))\n"
        "urllib.request.urlretrieve = refuse\n"
        "urllib.request.urlopen = refuse\n"
        "from adapters.outbound.voice.synth import synthesize\n"
        "print(round(synthesize('こちらは穴水町です。避難してください。').check.duration_s, 1))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPEN_JTALK_DICT_DIR"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert float(out.stdout.strip()) > 1.0
