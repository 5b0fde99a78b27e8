"""The LINE Flex bubble: the warning's title on its level's colour, the text, a button to the page.

`RenderedText.extra["flex"]` holds the Flex *container* (``{"type": "bubble", ...}``), the
``contents`` of a Flex message; `RenderedText.extra["flex_alt_text"]` a short ``altText`` for it
(what notifications and old clients show: at most 400 characters, starting with the drill label
like every other text). The adapter wraps them as ``{"type": "flex", "altText": ..., "contents":
...}``. A LINE text has at most four parts, so bubble and text fit LINE's five messages per
request.

Colours follow the 警戒レベル colours JMA and the Cabinet Office use (5 black, 4 purple,
3 red, 2 yellow); alerts without a level take the colour of their severity.
"""

from __future__ import annotations

import json
from typing import Any

from broadcaster.model import Alert, MsgType, Severity
from broadcaster.render.fit import ELLIPSIS
from broadcaster.render.limits import LINE_ALT_TEXT_MAX

LEVEL_COLOURS = {5: "#0C000C", 4: "#AA00AA", 3: "#FF2800", 2: "#F2E700", 1: "#FFFFFF"}
SEVERITY_COLOURS = {
    Severity.EXTREME: "#AA00AA",
    Severity.SEVERE: "#FF2800",
    Severity.MODERATE: "#F2E700",
    Severity.MINOR: "#2E6DB4",
    Severity.UNKNOWN: "#2E6DB4",
}
CANCEL_COLOUR = "#666666"
_DARK_TEXT_ON = {"#F2E700", "#FFFFFF"}
# LINE refuses a bubble over 30 KB of JSON; a warning never needs a third of that.
MAX_BUBBLE_BYTES = 10_000
MAX_BODY_CHARS = 1_000
MAX_URI = 1_000


def header_colour(alert: Alert, level: int | None) -> str:
    if alert.msg_type is MsgType.CANCEL:
        return CANCEL_COLOUR
    if level in LEVEL_COLOURS:
        return LEVEL_COLOURS[level]
    severity = alert.primary.severity if alert.info else Severity.UNKNOWN
    return SEVERITY_COLOURS[severity]


def _short(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    for sep in ("\n", "。", ". ", "、", " "):
        at = head.rfind(sep)
        if at > limit // 2:
            head = head[: at + len(sep)]
            break
    return head.rstrip() + ELLIPSIS


def bubble(
    alert: Alert, *, title: str, body: str, url: str, button: str, level: int | None, label: str
) -> tuple[dict[str, Any], str]:
    """The bubble and its alt text."""
    colour = header_colour(alert, level)
    ink = "#111111" if colour in _DARK_TEXT_ON else "#FFFFFF"
    lines = [line for line in body.splitlines() if line.strip()]
    # The header shows the title; the body repeats nothing of it.
    if lines and lines[0].strip() == title.strip():
        lines = lines[1:]
    text = _short("\n".join(lines), MAX_BODY_CHARS) or title
    alt = _short(title + ("\n" + lines[0] if lines else ""), LINE_ALT_TEXT_MAX)
    if label and not alt.startswith(label.strip()):
        alt = _short(label + alt, LINE_ALT_TEXT_MAX)
    contents: dict[str, Any] = {
        "type": "bubble",
        "size": "mega",
        "header": {
            "type": "box",
            "layout": "vertical",
            "backgroundColor": colour,
            "paddingAll": "12px",
            "contents": [
                {"type": "text", "text": title or "-", "color": ink, "weight": "bold", "size": "lg", "wrap": True}
            ],
        },
        "body": {
            "type": "box",
            "layout": "vertical",
            "contents": [{"type": "text", "text": text, "wrap": True, "size": "md", "color": "#111111"}],
        },
    }
    if url.startswith(("https://", "http://")) and len(url) <= MAX_URI:
        contents["footer"] = {
            "type": "box",
            "layout": "vertical",
            "contents": [
                {
                    "type": "button",
                    "style": "primary",
                    "color": "#1A5FB4",
                    "action": {"type": "uri", "label": _short(button, 20), "uri": url},
                }
            ],
        }
    if len(json.dumps(contents, ensure_ascii=False).encode("utf-8")) > MAX_BUBBLE_BYTES:
        contents["body"]["contents"][0]["text"] = _short(text, 300)
    return contents, alt
