"""Small lookups over JMA XML trees.

JMA switches the default namespace per section (Report/Control, Head, Body, jmx_eb elements), so
lookups match local names under any namespace; the namespace itself is checked once, at the root
and at the body, where it decides what the telegram is.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

from lxml import etree

Element = etree._Element

NS_REPORT = "http://xml.kishou.go.jp/jmaxml1/"
NS_HEAD = "http://xml.kishou.go.jp/jmaxml1/informationBasis1/"
NS_METEOROLOGY = "http://xml.kishou.go.jp/jmaxml1/body/meteorology1/"
NS_SEISMOLOGY = "http://xml.kishou.go.jp/jmaxml1/body/seismology1/"
NS_VOLCANOLOGY = "http://xml.kishou.go.jp/jmaxml1/body/volcanology1/"


@cache
def _tag(name: str) -> str:
    return "{*}" + name


def first(el: Element | None, *names: str) -> Element | None:
    # iterchildren matches tags in C; find() would run lxml's Python ElementPath for every call,
    # which was most of the parse time on the large 震源・震度 telegrams.
    for name in names:
        if el is None:
            return None
        el = next(el.iterchildren(_tag(name)), None)
    return el


def every(el: Element | None, *names: str) -> list[Element]:
    if el is None:
        return []
    level = [el]
    for name in names:
        tag = _tag(name)
        level = [child for parent in level for child in parent.iterchildren(tag)]
    return level


def text(el: Element | None, *names: str) -> str:
    """Stripped text of the first match, "" when absent or empty."""
    found = first(el, *names) if names else el
    if found is None or found.text is None:
        return ""
    return found.text.strip()


def attr(el: Element | None, name: str) -> str:
    if el is None:
        return ""
    return (el.get(name) or "").strip()


def local(el: Element) -> str:
    return etree.QName(el).localname


def namespace(el: Element) -> str:
    return etree.QName(el).namespace or ""


def all_text(el: Element | None) -> str:
    """Text of an element and its descendants (for free-text bodies), stripped."""
    if el is None:
        return ""
    return "".join(t for t in el.itertext()).strip()


def iter_local(el: Element | None, name: str) -> Iterator[Element]:
    if el is None:
        return iter(())
    return el.iter("{*}" + name)
