"""The town's rich menu: the bar under the LINE chat with the resident's settings always at hand.

Four areas side by side (LINE's compact size, 2500 × 843): 地区 (districts), 言語 (language),
受け取る情報 (topics) and the town's emergency site. The first three send the same postbacks as
the quick replies (adapters/outbound/line/dialog.py), so the webhook answers them alike, in the
resident's own language. A rich menu is one picture for every follower: its words cannot follow
each reader's language, so the generated picture carries pictograms only (a house, a globe, a
bell, a page); a town that wants words on it designs its own picture of the same size and layout
and passes it with ``--image``.

`install` creates the menu, uploads the picture, makes it the default for every follower and then
deletes the menu it replaced, if that one was ours (named ``broadcaster:…``), never one a person
made. A failed upload deletes the half-made menu again.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from adapters.outbound.line.api import LineClient
from adapters.outbound.line.dialog import encode

WIDTH, HEIGHT = 2500, 843
NAME_PREFIX = "broadcaster:"
MAX_IMAGE_BYTES = 1024 * 1024  # LINE's limit for a rich menu picture

_COLUMNS = 4
_TILE = WIDTH // _COLUMNS
# Tile colours dark enough for white pictograms (contrast well above 4.5:1).
_COLOURS = [(0x1F, 0x4E, 0x8C), (0x1B, 0x6E, 0x4F), (0x8A, 0x4B, 0x08), (0x5B, 0x3A, 0x8C)]
_WHITE = (0xFF, 0xFF, 0xFF)


def definition(tenant: str, *, site_url: str | None) -> dict[str, Any]:
    """The rich menu object (LINE's RichMenuRequest)."""

    def area(column: int, action: dict[str, Any]) -> dict[str, Any]:
        return {"bounds": {"x": column * _TILE, "y": 0, "width": _TILE, "height": HEIGHT}, "action": action}

    last: dict[str, Any] = (
        {"type": "uri", "label": "最新の情報", "uri": site_url}
        if site_url
        else {"type": "postback", "label": "設定", "data": encode("menu")}
    )
    return {
        "size": {"width": WIDTH, "height": HEIGHT},
        "selected": True,
        "name": f"{NAME_PREFIX}{tenant}"[:300],
        # At most 14 characters; shown on the bar that opens and closes the menu.
        "chatBarText": "メニュー / Menu",
        "areas": [
            area(0, {"type": "postback", "label": "地区", "data": encode("districts", "0")}),
            area(1, {"type": "postback", "label": "言語 Language", "data": encode("languages", "0")}),
            area(2, {"type": "postback", "label": "受け取る情報", "data": encode("topics")}),
            area(3, last),
        ],
    }


# -- the picture: flat tiles with white pictograms, drawn as horizontal spans -------------------
Span = Callable[[int], list[tuple[float, float]]]


def _disc(cx: float, cy: float, r: float) -> Span:
    def spans(y: int) -> list[tuple[float, float]]:
        dy = y - cy
        if abs(dy) > r:
            return []
        w = math.sqrt(r * r - dy * dy)
        return [(cx - w, cx + w)]

    return spans


def _ellipse(cx: float, cy: float, rx: float, ry: float) -> Span:
    def spans(y: int) -> list[tuple[float, float]]:
        dy = (y - cy) / ry
        if abs(dy) > 1:
            return []
        w = rx * math.sqrt(1 - dy * dy)
        return [(cx - w, cx + w)]

    return spans


def _rect(x0: float, y0: float, x1: float, y1: float) -> Span:
    return lambda y: [(x0, x1)] if y0 <= y < y1 else []


def _triangle(cx: float, top: float, base_y: float, half: float) -> Span:
    def spans(y: int) -> list[tuple[float, float]]:
        if not top <= y < base_y:
            return []
        w = half * (y - top) / (base_y - top)
        return [(cx - w, cx + w)]

    return spans


@dataclass(frozen=True)
class _Paint:
    colour: tuple[int, int, int] | None  # None: the tile's own colour (cut-outs)
    shape: Span


def _pictograms(cx: float, cy: float) -> list[list[_Paint]]:
    w, t = _WHITE, None
    house = [
        _Paint(w, _triangle(cx, cy - 230, cy - 40, 230)),
        _Paint(w, _rect(cx - 160, cy - 40, cx + 160, cy + 200)),
        _Paint(t, _rect(cx - 45, cy + 70, cx + 45, cy + 200)),
    ]
    globe = [
        _Paint(w, _disc(cx, cy, 220)),
        _Paint(t, _disc(cx, cy, 190)),
        _Paint(w, _ellipse(cx, cy, 100, 220)),
        _Paint(t, _ellipse(cx, cy, 72, 192)),
        _Paint(w, _rect(cx - 14, cy - 205, cx + 14, cy + 205)),
        _Paint(w, _rect(cx - 205, cy - 14, cx + 205, cy + 14)),
    ]
    bell = [
        _Paint(w, _disc(cx, cy - 60, 150)),
        _Paint(w, _rect(cx - 150, cy - 60, cx + 150, cy + 120)),
        _Paint(w, _rect(cx - 200, cy + 120, cx + 200, cy + 160)),
        _Paint(w, _disc(cx, cy + 195, 45)),
        _Paint(w, _disc(cx, cy - 215, 28)),
    ]
    page = [
        _Paint(w, _rect(cx - 160, cy - 220, cx + 160, cy + 220)),
        *[_Paint(t, _rect(cx - 110, cy - 150 + i * 80, cx + 110, cy - 120 + i * 80)) for i in range(5)],
    ]
    return [house, globe, bell, page]


def _png(width: int, height: int, rows: list[bytes]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 on every row
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def picture() -> bytes:
    """The default picture: 2500 × 843 PNG, four tiles with pictograms, well under LINE's 1 MB."""
    cy = HEIGHT / 2
    tiles = [(_COLOURS[i], _pictograms(_TILE * i + _TILE / 2, cy)[i]) for i in range(_COLUMNS)]
    rows = []
    for y in range(HEIGHT):
        row = bytearray()
        for i, (colour, paints) in enumerate(tiles):
            x0 = _TILE * i
            tile = bytearray(bytes(colour) * _TILE)
            for paint in paints:
                fill = bytes(paint.colour or colour)
                for a, b in paint.shape(y):
                    lo, hi = max(0, round(a) - x0), min(_TILE, round(b) - x0)
                    if hi > lo:
                        tile[lo * 3 : hi * 3] = fill * (hi - lo)
            # a white seam between tiles, so the areas read as four buttons
            if i:
                tile[0:18] = bytes(_WHITE) * 6
            row += tile
        rows.append(bytes(row))
    return _png(WIDTH, HEIGHT, rows)


def image_type(image: bytes) -> str:
    """image/png or image/jpeg, the two types LINE takes; ValueError for anything else."""
    if image.startswith(b"\x89PNG\r\n\x1a\n"):
        if len(image) >= 24 and struct.unpack(">II", image[16:24]) != (WIDTH, HEIGHT):
            w, h = struct.unpack(">II", image[16:24])
            raise ValueError(f"the picture is {w} × {h}; the menu is {WIDTH} × {HEIGHT}")
        return "image/png"
    if image.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    raise ValueError("the picture must be a PNG or a JPEG")


@dataclass(frozen=True)
class Installed:
    rich_menu_id: str
    replaced: str | None  # the earlier default, deleted when it was ours
    kept: str | None  # the earlier default, left alone because a person made it


async def install(client: LineClient, tenant: str, *, site_url: str | None, image: bytes | None = None) -> Installed:
    menu = definition(tenant, site_url=site_url)
    picture_bytes = image if image is not None else picture()
    if len(picture_bytes) > MAX_IMAGE_BYTES:
        raise ValueError(f"the picture has {len(picture_bytes):,} bytes; LINE takes at most {MAX_IMAGE_BYTES:,}")
    content_type = image_type(picture_bytes)
    await client.validate_rich_menu(menu)
    before = await client.default_rich_menu()
    made = await client.create_rich_menu(menu)
    try:
        await client.upload_rich_menu_image(made, picture_bytes, content_type)
        await client.set_default_rich_menu(made)
    except Exception:
        # A menu without a picture cannot be shown; do not leave it behind.
        await client.delete_rich_menu(made)
        raise
    replaced = kept = None
    if before and before != made:
        name = await client.rich_menu_name(before)
        if name is not None and name.startswith(NAME_PREFIX):
            await client.delete_rich_menu(before)
            replaced = before
        else:
            kept = before
    return Installed(made, replaced, kept)
