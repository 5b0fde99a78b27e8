"""A receiver's byte stream cut into what it carries: NMEA sentences and UBX frames.

Receivers mix both on one port (a u-blox prints NMEA and UBX side by side), and a serial line
or a socket hands over bytes in arbitrary pieces, so the splitter is incremental: `feed` takes
whatever arrived and returns the frames completed by it, keeping the rest for the next call.
Garbage between frames (line noise, a half frame at start-up) is skipped, never an error.
"""

from __future__ import annotations

from dataclasses import dataclass

UBX_SYNC = b"\xb5\x62"
_MAX_LINE = 256  # NMEA sentences are at most 82 characters; $QZQSM is 76
_MAX_UBX = 8 + 4 * 255 + 8


@dataclass(frozen=True, slots=True)
class Frame:
    kind: str  # "nmea" or "ubx"
    data: bytes

    @property
    def nmea_type(self) -> str:
        """"QZQSM", "GPGSV" ... for a sentence; "" for UBX."""
        if self.kind != "nmea":
            return ""
        return self.data[1:].split(b",", 1)[0].decode("ascii", "replace")

    @property
    def ubx_id(self) -> tuple[int, int] | None:
        return (self.data[2], self.data[3]) if self.kind == "ubx" and len(self.data) >= 4 else None


def ubx_checksum_ok(frame: bytes) -> bool:
    a = b = 0
    for byte in frame[2:-2]:
        a = (a + byte) & 0xFF
        b = (b + a) & 0xFF
    return frame[-2] == a and frame[-1] == b


class FrameSplitter:
    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, chunk: bytes) -> list[Frame]:
        self._buf += chunk
        out: list[Frame] = []
        buf = self._buf
        while buf:
            dollar = buf.find(b"$")
            sync = buf.find(UBX_SYNC)
            starts = [i for i in (dollar, sync) if i >= 0]
            if not starts:
                # Keep a trailing 0xB5: it may be half of the next sync.
                del buf[: len(buf) - 1 if buf.endswith(b"\xb5") else len(buf)]
                break
            start = min(starts)
            del buf[:start]
            if buf[:1] == b"$":
                end = buf.find(b"\n")
                if end < 0:
                    if len(buf) > _MAX_LINE:
                        del buf[:1]  # not a sentence after all; look further
                        continue
                    break
                line = bytes(buf[:end]).rstrip(b"\r")
                del buf[: end + 1]
                if len(line) <= _MAX_LINE and b"*" in line:
                    out.append(Frame("nmea", line))
                continue
            if len(buf) < 6:
                break
            length = int.from_bytes(buf[4:6], "little")
            total = 6 + length + 2
            if total > _MAX_UBX:
                del buf[:2]  # an impossible length: a false sync
                continue
            if len(buf) < total:
                break
            frame = bytes(buf[:total])
            if ubx_checksum_ok(frame):
                del buf[:total]
                out.append(Frame("ubx", frame))
            else:
                del buf[:2]  # a false sync, or a damaged frame: resynchronise after it
        return out
