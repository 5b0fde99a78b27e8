"""A receiver's output as it would be recorded from its port: NMEA position and satellite
sentences, the 災危通報 messages repeated every few seconds from two satellites, UBX frames
and line noise, for the reader's tests, the demo and the benchmarks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from adapters.ingest.qzss import encode as e

QUAKE = datetime(2024, 1, 1, 7, 10, tzinfo=UTC)  # 2024-01-01 16:10 JST


def _nmea(body: str) -> str:
    checksum = 0
    for ch in body:
        checksum ^= ord(ch)
    return f"${body}*{checksum:02X}"


def gsv(cn0: int = 42) -> str:
    # QZSS satellites 193 and 194 (QZS1, QZS2) in a $GPGSV sentence, as receivers before NMEA 4.10 print them.
    return _nmea(f"GPGSV,1,1,02,193,70,180,{cn0},194,45,120,{cn0 - 3}")


GGA = _nmea("GPGGA,071300.00,3714.0000,N,13654.0000,E,1,08,1.0,10.0,M,30.0,M,,")


def receiver_log(messages: Sequence[bytes], *, repeats: int = 3, ubx: bool = False, noise: bool = True) -> bytes:
    """Each message `repeats` times from two satellites, between position fixes and satellite views."""
    out = bytearray(b"\x00\xff garbage before the first sentence\r\n" if noise else b"")
    for _ in range(repeats):
        for message in messages:
            out += (GGA + "\r\n" + gsv() + "\r\n").encode()
            if ubx:
                out += e.ubx_sfrbx(message, sv_id=1) + e.ubx_sfrbx(message, sv_id=2)
            else:
                out += (e.nmea(message, 55) + "\r\n" + e.nmea(message, 56) + "\r\n").encode()
            if noise:
                out += b"\xb5\x62\x02"  # a sync that leads nowhere
    return bytes(out)


def noto_messages() -> list[bytes]:
    """震度速報 then 大津波警報 for the evening of 2024-01-01 (the project's own messages)."""
    return [
        e.seismic_intensity(QUAKE + timedelta(minutes=2), QUAKE, [(7, 17), (5, 16), (5, 15)]).message(),
        e.tsunami(
            QUAKE + timedelta(minutes=12),
            4,
            [e.TsunamiRegion(360, 4, None), e.TsunamiRegion(484, 3), e.TsunamiRegion(340, 3)],
        ).message(),
    ]
