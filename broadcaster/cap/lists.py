"""CAP's space-delimited lists (addresses, incidents, references).

CAP 1.2 separates list items by white space and encloses an item that itself contains white space
in double quotes (`"Town Hall" 0123`). There is no escape for a quote inside a quoted item.
"""

from __future__ import annotations

from collections.abc import Iterable

from broadcaster.cap.names import XML_SPACE


def split_list(text: str) -> list[str]:
    """Items of a CAP list. An unterminated quote runs to the end (lenient with foreign input)."""
    items: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] in XML_SPACE:
            i += 1
            continue
        if text[i] == '"':
            end = text.find('"', i + 1)
            end = n if end < 0 else end
            items.append(text[i + 1 : end])
            i = end + 1
            continue
        start = i
        while i < n and text[i] not in XML_SPACE:
            i += 1
        items.append(text[start:i])
    return items


def join_list(items: Iterable[str]) -> str:
    """The CAP list text for `items`; raises ValueError for an item CAP cannot express."""
    out = []
    for item in items:
        if '"' in item:
            raise ValueError(f"a CAP list item cannot contain a double quote: {item!r}")
        needs_quotes = not item or any(c in XML_SPACE for c in item)
        out.append(f'"{item}"' if needs_quotes else item)
    return " ".join(out)
