"""QZSS 災危通報 messages built bit by bit, for tests, the demo and the benchmarks.

No receiver is at hand where the project is developed or tested, and the decoder package has no
encoder, so the project writes its own messages from the documented layouts: the L1S frame and
its CRC-24Q (IS-QZSS-L1S), the JMA-DC Report of message type 43 (IS-QZSS-DCR) and the extended
message of type 44 in the Common Alerting Message Format (IS-QZSS-DCX). A message built here is
decoded by the same package the parser uses, so a mistake in either shows up as a failed test.

Bit positions below are the specifications' own (bit 0 is the preamble's first bit).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

MESSAGE_BITS = 250
CRC_START = 226
PREAMBLES = (0x53, 0x9A, 0xC6)  # A, B, C: successive subframes cycle through them
MT_DCR = 43
MT_DCX = 44
DCR_VERSION = 1
# The satellite ids NMEA's $QZQSM carries (PRN - 128): 55 is PRN183 (QZS-1R).
SATELLITE_PRN183 = 55


class Bits:
    """A 250-bit message under construction; unset bits are 0 (the specifications' spare)."""

    def __init__(self) -> None:
        self.value = 0

    def put(self, start: int, width: int, value: int) -> None:
        if value < 0 or value >= 1 << width:
            raise ValueError(f"{value} does not fit {width} bits at {start}")
        if start + width > MESSAGE_BITS:
            raise ValueError(f"bits {start}..{start + width} run past the message")
        shift = MESSAGE_BITS - start - width
        self.value = (self.value & ~(((1 << width) - 1) << shift)) | (value << shift)

    def finish(self) -> bytes:
        """The 250 bits with their CRC, left-aligned in 32 bytes (the last 6 bits zero)."""
        body = self.value >> (MESSAGE_BITS - CRC_START)
        self.put(CRC_START, 24, crc24q(body, CRC_START))
        return (self.value << 6).to_bytes(32, "big")


def crc24q(value: int, nbits: int) -> int:
    """CRC-24Q (polynomial 0x1864CFB, initial 0) over the first `nbits` bits of `value`."""
    crc = 0
    for i in range(nbits - 1, -1, -1):
        crc ^= ((value >> i) & 1) << 23
        crc = ((crc << 1) ^ 0x1864CFB) if crc & 0x800000 else crc << 1
        crc &= 0xFFFFFF
    return crc


def _header(bits: Bits, mt: int, preamble: int) -> None:
    bits.put(0, 8, preamble)
    bits.put(8, 6, mt)


# -- DCR (message type 43): JMA-DC Report ----------------------------------------------------------

REPORT_MAXIMUM, REPORT_PRIORITY, REPORT_REGULAR, REPORT_TRAINING = 1, 2, 3, 7
ISSUE, CORRECTION, CANCELLATION = 0, 1, 2


@dataclass(frozen=True)
class Dcr:
    """The common part of a JMA-DC Report; `fields` are (start bit, width, value) of its body."""

    category: int  # Dc: 1 EEW, 2 hypocenter, 3 intensity, 5 tsunami, 8 volcano, 10 weather ...
    report_time: datetime  # At, in UTC to the minute
    classification: int = REPORT_PRIORITY
    info_type: int = ISSUE
    fields: tuple[tuple[int, int, int], ...] = ()
    preamble: int = PREAMBLES[0]

    def message(self) -> bytes:
        bits = Bits()
        _header(bits, MT_DCR, self.preamble)
        at = self.report_time.astimezone(UTC)
        bits.put(14, 3, self.classification)
        bits.put(17, 4, self.category)
        bits.put(21, 4, at.month)
        bits.put(25, 5, at.day)
        bits.put(30, 5, at.hour)
        bits.put(35, 6, at.minute)
        bits.put(41, 2, self.info_type)
        for start, width, value in self.fields:
            bits.put(start, width, value)
        bits.put(214, 6, DCR_VERSION)
        return bits.finish()


def _day_hour_minute(start: int, at: datetime) -> list[tuple[int, int, int]]:
    at = at.astimezone(UTC)
    return [(start, 5, at.day), (start + 5, 5, at.hour), (start + 10, 6, at.minute)]


def seismic_intensity(
    report_time: datetime, occurred: datetime, by_prefecture: Sequence[tuple[int, int]], **kw: int
) -> Dcr:
    """震度速報: (intensity code, prefecture code) pairs; intensity 1 <4, 2 4, 3 5-, 4 5+, 5 6-, 6 6+, 7 7."""
    fields = _day_hour_minute(53, occurred)
    for i, (intensity, prefecture) in enumerate(by_prefecture[:16]):
        fields += [(69 + i * 9, 3, intensity), (72 + i * 9, 6, prefecture)]
    return Dcr(3, report_time, fields=tuple(fields), **kw)


def hypocenter(
    report_time: datetime, occurred: datetime, *, epicenter: int, depth_km: int, magnitude_tenths: int, **kw: int
) -> Dcr:
    """震源に関する情報: epicenter code, depth in km (0-500), magnitude in tenths (e.g. 76)."""
    fields = [*_day_hour_minute(80, occurred), (96, 9, depth_km), (105, 7, magnitude_tenths), (112, 10, epicenter)]
    return Dcr(2, report_time, fields=tuple(fields), **kw)


def eew(
    report_time: datetime,
    occurred: datetime,
    *,
    epicenter: int,
    depth_km: int,
    magnitude_tenths: int,
    lower: int,
    upper: int,
    regions: Iterable[int],
    **kw: int,
) -> Dcr:
    """緊急地震速報（警報）: intensity limits as codes (lower 1-9, upper 1-11), regions 1-80."""
    fields = [
        *_day_hour_minute(80, occurred),
        (96, 9, depth_km),
        (105, 7, magnitude_tenths),
        (112, 10, epicenter),
        (122, 4, lower),
        (126, 4, upper),
    ]
    fields += [(130 + region - 1, 1, 1) for region in regions]
    return Dcr(1, report_time, fields=tuple(fields), **kw)


@dataclass(frozen=True)
class TsunamiRegion:
    region: int  # 津波予報区 code (JMA's AreaTsunami)
    height: int = 14  # code: 1 <0.2 m, 2 1 m, 3 3 m, 4 5 m, 5 10 m, 6 >10 m, 14 不明
    arrival: datetime | None = None  # None: 第1波の到達を確認 / 到達中と推測 (code 31/63 ...)


def tsunami(report_time: datetime, warning: int, regions: Sequence[TsunamiRegion], **kw: int) -> Dcr:
    """津波警報: warning code (3 津波警報, 4 大津波警報, 2 解除 ...) and up to 5 regions."""
    fields: list[tuple[int, int, int]] = [(80, 4, warning)]
    for i, r in enumerate(regions[:5]):
        offset = 84 + i * 26
        if r.arrival is not None:
            day = (r.arrival.astimezone(UTC).date() - report_time.astimezone(UTC).date()).days
            fields += [(offset, 1, day), (offset + 1, 5, r.arrival.astimezone(UTC).hour)]
            fields += [(offset + 6, 6, r.arrival.astimezone(UTC).minute)]
        else:
            fields += [(offset + 1, 5, 31), (offset + 6, 6, 63)]  # arrived or arriving
        fields += [(offset + 12, 4, r.height), (offset + 16, 10, r.region)]
    return Dcr(5, report_time, fields=tuple(fields), **kw)


def weather(report_time: datetime, state: int, items: Sequence[tuple[int, int]], **kw: int) -> Dcr:
    """気象特別警報 etc.: state 1 発表 / 2 解除; (sub-category, forecast region) pairs, up to 6."""
    fields: list[tuple[int, int, int]] = [(53, 3, state)]
    for i, (sub, region) in enumerate(items[:6]):
        fields += [(56 + i * 24, 5, sub), (61 + i * 24, 19, region)]
    return Dcr(10, report_time, fields=tuple(fields), **kw)


# -- DCX (message type 44): the Common Alerting Message Format ------------------------------------

A2_JAPAN = 111
A3_LALERT, A3_FDMA, A3_MINISTRIES, A3_LOCAL_GOV = 1, 2, 3, 4
A1_TEST, A1_ALERT, A1_UPDATE, A1_ALL_CLEAR = 0, 1, 2, 3


@dataclass(frozen=True)
class Dcx:
    """A CAMF message for Japan. J-Alert names prefectures (EX9 bits) or up to four municipalities;
    L-Alert one municipality (EX1, the JIS X 0402 code without its check digit)."""

    provider: int  # A3
    hazard: int  # A4: 8 missile, 36 earthquake, 44 tsunami, 68 flood, 39 landslide ...
    instruction: int  # A11, the Japanese library: 128-136 missile texts, 1/255 命を守る行動 ...
    message_type: int = A1_ALERT  # A1
    severity: int = 3  # A5: 1 moderate, 2 severe, 3 extreme
    prefectures: tuple[int, ...] = ()  # EX9 bits, 0 = 北海道 ... 16 = 石川県
    municipalities: tuple[int, ...] = ()  # up to 4 five-digit codes (EX8 = 1)
    area: int = 0  # EX1 (L-Alert, local government)
    preamble: int = PREAMBLES[1]
    extra: tuple[tuple[int, int, int], ...] = field(default=())

    def message(self) -> bytes:
        bits = Bits()
        _header(bits, MT_DCX, self.preamble)
        bits.put(14, 1, 0)  # SDMT: the mask says "for Japan"
        bits.put(15, 9, 0)
        bits.put(24, 2, self.message_type)
        bits.put(26, 9, A2_JAPAN)
        bits.put(35, 5, self.provider)
        bits.put(40, 7, self.hazard)
        bits.put(47, 2, self.severity)
        bits.put(66, 1, 1)  # A9: the Japanese library
        bits.put(67, 3, 0)  # A10: version #1 (coded 0)
        bits.put(70, 10, self.instruction)
        if self.provider in (A3_FDMA, A3_MINISTRIES):
            if self.municipalities:
                bits.put(146, 1, 1)
                for i, code in enumerate(self.municipalities[:4]):
                    bits.put(147 + i * 16, 16, code)
            else:
                mask = 0
                for bit in self.prefectures:
                    mask |= 1 << bit
                bits.put(147, 47, mask)
        else:
            bits.put(146, 16, self.area)
        for start, width, value in self.extra:
            bits.put(start, width, value)
        bits.put(214, 6, 1)  # VN
        return bits.finish()


# -- what a receiver prints ------------------------------------------------------------------------


def nmea(message: bytes, satellite_id: int = SATELLITE_PRN183) -> str:
    """The $QZQSM sentence a receiver prints for one message (63 hex digits: 250 bits and 2 zero)."""
    payload = f"QZQSM,{satellite_id:02d},{message.hex().upper()[:63]}"
    checksum = 0
    for ch in payload:
        checksum ^= ord(ch)
    return f"${payload}*{checksum:02X}"


def ubx_sfrbx(message: bytes, sv_id: int = 1, channel: int = 0) -> bytes:
    """u-blox UBX-RXM-SFRBX for one L1S message: QZSS (gnssId 5), signal L1S (sigId 1), 8 words,
    each word's bytes little-endian as the receiver writes them."""
    words = b"".join(message[i : i + 4][::-1] for i in range(0, 32, 4))
    payload = bytes((5, sv_id, 1, 0, 8, channel, 2, 0)) + words
    return ubx_frame(0x02, 0x13, payload)


def ubx_frame(cls: int, msg_id: int, payload: bytes) -> bytes:
    body = bytes((cls, msg_id)) + len(payload).to_bytes(2, "little") + payload
    a = b = 0
    for byte in body:
        a = (a + byte) & 0xFF
        b = (b + a) & 0xFF
    return b"\xb5\x62" + body + bytes((a, b))


# -- a receiver's recorded output ------------------------------------------------------------------


def _sentence(body: str) -> str:
    checksum = 0
    for ch in body:
        checksum ^= ord(ch)
    return f"${body}*{checksum:02X}"


def gsv(cn0: int = 42) -> str:
    """QZSS satellites 193 and 194 in a $GPGSV sentence, as receivers before NMEA 4.10 print them."""
    return _sentence(f"GPGSV,1,1,02,193,70,180,{cn0},194,45,120,{cn0 - 3}")


GGA = _sentence("GPGGA,071300.00,3714.0000,N,13654.0000,E,1,08,1.0,10.0,M,30.0,M,,")


def rmc(at: datetime) -> str:
    """$GPRMC with the receiver's own date and time (UTC), as every GNSS receiver prints it."""
    at = at.astimezone(UTC)
    return _sentence(
        f"GPRMC,{at:%H%M%S}.00,A,3714.0000,N,13654.0000,E,0.0,0.0,{at:%d%m%y},,,A"
    )


def receiver_log(
    messages: Sequence[bytes],
    *,
    repeats: int = 3,
    ubx: bool = False,
    noise: bool = True,
    start: datetime | None = None,
) -> bytes:
    """What a receiver prints: each message `repeats` times from two satellites, between position
    fixes and satellite views, with line noise (as a recording of its port would hold); with
    `start`, the receiver's clock in $GPRMC sentences, four seconds a block."""
    out = bytearray(b"\x00\xff garbage before the first sentence\r\n" if noise else b"")
    block = 0
    for _ in range(repeats):
        for message in messages:
            if start is not None:
                out += (rmc(start + timedelta(seconds=4 * block)) + "\r\n").encode()
                block += 1
            out += (GGA + "\r\n" + gsv() + "\r\n").encode()
            if ubx:
                out += ubx_sfrbx(message, sv_id=1) + ubx_sfrbx(message, sv_id=2)
            else:
                out += (nmea(message, 55) + "\r\n" + nmea(message, 56) + "\r\n").encode()
            if noise:
                out += b"\xb5\x62\x02"  # a sync that leads nowhere
    return bytes(out)

