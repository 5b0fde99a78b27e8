"""Japanese speech synthesized offline (Open JTalk through pyopenjtalk), and the checks that the
audio is a message someone can hear.

pyopenjtalk ships its voice; its dictionary comes from the operating system's package
(Debian's open-jtalk-mecab-naist-jdic) through OPEN_JTALK_DICT_DIR, so nothing is downloaded when a
message is spoken (pyopenjtalk would otherwise fetch a dictionary on first use; `check_offline`
refuses to start without one). Synthesis takes a few hundred milliseconds of CPU per message
(bench/, docs/benchmarks.md) and runs off the event loop.

A telephone line carries 8 kHz; the audio is written as 16-bit mono WAV at 8 kHz, the form Asterisk
plays without converting it.
"""

from __future__ import annotations

import io
import os
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from broadcaster.errors import ConfigError

TELEPHONE_RATE = 8000
DEBIAN_DICT_DIR = "/var/lib/mecab/dic/open-jtalk/naist-jdic"
# The files a MeCab dictionary directory needs; without them pyopenjtalk would try to download.
_DICT_FILES = ("sys.dic", "unk.dic", "matrix.bin", "char.bin")


class SynthesisError(RuntimeError):
    """The text could not be made into audio someone can hear (empty, silent, cut short)."""


def dictionary_dir() -> Path:
    """The Open JTalk dictionary: OPEN_JTALK_DICT_DIR, else Debian's package's directory."""
    configured = os.environ.get("OPEN_JTALK_DICT_DIR") or DEBIAN_DICT_DIR
    path = Path(configured)
    missing = [f for f in _DICT_FILES if not (path / f).is_file()]
    if missing:
        raise ConfigError(
            f"no Open JTalk dictionary at {path} (missing {', '.join(missing)}): install Debian's "
            "open-jtalk-mecab-naist-jdic or set OPEN_JTALK_DICT_DIR; the voice channel never downloads one"
        )
    return path


def check_offline() -> Path:
    """Point pyopenjtalk at the local dictionary before it is imported; return the directory."""
    path = dictionary_dir()
    os.environ["OPEN_JTALK_DICT_DIR"] = str(path)
    return path


@dataclass(frozen=True, slots=True)
class AudioCheck:
    duration_s: float
    rms: float  # of the whole signal, in 16-bit units
    voiced_fraction: float  # share of 20 ms frames above the silence threshold
    longest_silence_s: float


# A 20 ms frame quieter than this (RMS, 16-bit) is silence: well under speech, above dither.
SILENCE_RMS = 200.0


def measure(samples: NDArray[np.int16], rate: int) -> AudioCheck:
    frame = max(1, rate // 50)
    usable = len(samples) - len(samples) % frame
    frames = samples[:usable].astype(np.float64).reshape(-1, frame) if usable else np.zeros((1, frame))
    frame_rms = np.sqrt((frames**2).mean(axis=1))
    quiet = frame_rms < SILENCE_RMS
    longest = run = 0
    for q in quiet:
        run = run + 1 if q else 0
        longest = max(longest, run)
    whole = samples.astype(np.float64)
    return AudioCheck(
        duration_s=len(samples) / rate,
        rms=float(np.sqrt((whole**2).mean())) if len(whole) else 0.0,
        voiced_fraction=float((~quiet).mean()),
        longest_silence_s=longest * frame / rate,
    )


def check_speech(check: AudioCheck, text: str) -> None:
    """Refuse audio that cannot be the text spoken: too short for it, silent, or mostly silence.

    Japanese is spoken at roughly 7-9 morae a second; a character is about one mora, so a message
    shorter than a tenth of a second per five characters has lost words.
    """
    spoken = len(text.replace("、", "").replace("。", ""))
    if check.duration_s < max(0.5, spoken / 50):
        raise SynthesisError(f"audio of {check.duration_s:.1f} s is too short for {spoken} characters")
    if check.rms < SILENCE_RMS / 2 or check.voiced_fraction < 0.4:
        raise SynthesisError(f"audio is mostly silence ({check.voiced_fraction:.0%} voiced)")
    if check.longest_silence_s > 3.0:
        raise SynthesisError(f"audio has a silence of {check.longest_silence_s:.1f} s")


def _resample(samples: NDArray[np.float64], src: int, dst: int) -> NDArray[np.float64]:
    if src == dst:
        return samples
    if src % dst == 0:
        # Average each group (a box filter) so that the cut to 8 kHz does not alias much.
        step = src // dst
        usable = len(samples) - len(samples) % step
        return np.asarray(samples[:usable].reshape(-1, step).mean(axis=1), dtype=np.float64)
    positions = np.arange(0, len(samples) - 1, src / dst)
    return np.asarray(np.interp(positions, np.arange(len(samples)), samples), dtype=np.float64)


def wav_bytes(samples: NDArray[np.int16], rate: int) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())
    return buf.getvalue()


def read_wav(data: bytes) -> tuple[NDArray[np.int16], int]:
    with wave.open(io.BytesIO(data), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise SynthesisError("expected 16-bit mono audio")
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16), w.getframerate()


@dataclass(frozen=True, slots=True)
class Speech:
    wav: bytes
    check: AudioCheck
    text: str


def synthesize(text: str, rate: int = TELEPHONE_RATE) -> Speech:
    """Speak `text` (already made speakable) as WAV at `rate`; blocking: run it in a thread."""
    if not text.strip():
        raise SynthesisError("nothing to say")
    path = check_offline()
    import pyopenjtalk  # imported late: it reads OPEN_JTALK_DICT_DIR on import

    # Whoever imported it first, it must use this dictionary: pyopenjtalk reads its module global
    # when it first speaks, and would download one into its own folder if that were missing (a
    # demo run found it doing so when another module had imported it before the variable was set).
    if str(path).encode("utf-8") != pyopenjtalk.OPEN_JTALK_DICT_DIR:
        pyopenjtalk.OPEN_JTALK_DICT_DIR = str(path).encode("utf-8")
    audio, native = pyopenjtalk.tts(text)
    resampled = _resample(np.asarray(audio, dtype=np.float64), int(native), rate)
    samples = np.clip(resampled, -32768, 32767).astype(np.int16)
    check = measure(samples, rate)
    check_speech(check, text)
    return Speech(wav_bytes(samples, rate), check, text)
