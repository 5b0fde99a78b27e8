"""Namespaces of L-Alert (公共情報コモンズ) documents and lookups that tolerate their versions.

The commons XML ("pcxml1") exists in several schema generations whose namespaces differ only by a
version suffix (``.../pcxml1/3``, ``.../pcxml1/4``, ``informationBasis3/`` vs ``informationBasis4/``),
and real senders bind odd prefixes to them (the SOAP sample uses ``pcx_cns_i8`` for evacuation4, a
corpus sample binds ``pcx_sh`` to evacuation3). Lookups therefore go by local name and by namespace
*family*, never by prefix and never by one exact version.
"""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

EDXL_DE = "urn:oasis:names:tc:emergency:EDXL:DE:1.0"
COMMONS = "http://xml.publiccommons.ne.jp/xml/edxl/"
# Everything the commons defines lives under this host: the Report, Head, element basis and bodies.
PUBLICCOMMONS = "http://xml.publiccommons.ne.jp/"
SOAP_NAMESPACES = frozenset(
    {"http://schemas.xmlsoap.org/soap/envelope/", "http://www.w3.org/2003/05/soap-envelope"}
)

# What the outbound builder writes: the generation of the one real transmission in the corpus.
PCXML = "http://xml.publiccommons.ne.jp/pcxml1/4"
PCX_IB = "http://xml.publiccommons.ne.jp/pcxml1/informationBasis4/"
PCX_EB = "http://xml.publiccommons.ne.jp/pcxml1/elementBasis4/"
PCX_EV = "http://xml.publiccommons.ne.jp/pcxml1/body/evacuation4"
PCX_SH = "http://xml.publiccommons.ne.jp/pcxml1/body/shelter4"
PCX_GI = "http://xml.publiccommons.ne.jp/pcxml1/body/GeneralInformation4"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
PCSOAP = "http://soap.publiccommons.ne.jp/"


def local(el: etree._Element) -> str:
    return etree.QName(el).localname


def namespace(el: etree._Element) -> str:
    return etree.QName(el).namespace or ""


def in_commons_family(el: etree._Element) -> bool:
    # A Report without any namespace occurs in hand-made templates; it is still the commons shape.
    ns = namespace(el)
    return ns == "" or ns.startswith(PUBLICCOMMONS)


def _matches(el: etree._Element, name: str, ns: str | None) -> bool:
    if not isinstance(el.tag, str) or local(el) != name:
        return False
    if ns is None:
        return in_commons_family(el)
    return namespace(el) == ns


def children(el: etree._Element, name: str, ns: str | None = None) -> Iterator[etree._Element]:
    """Direct children called `name`: in namespace `ns`, or (None) in the commons family."""
    for c in el.iterchildren():
        if _matches(c, name, ns):
            yield c


def child(el: etree._Element | None, name: str, ns: str | None = None) -> etree._Element | None:
    if el is None:
        return None
    return next(children(el, name, ns), None)


def descendants(el: etree._Element, name: str, ns: str | None = None) -> Iterator[etree._Element]:
    for c in el.iterdescendants():
        if _matches(c, name, ns):
            yield c


def text(el: etree._Element | None) -> str | None:
    """The element's own text, stripped; None when absent or blank (templates leave fields empty)."""
    if el is None or el.text is None:
        return None
    value = el.text.strip()
    return value or None


def child_text(el: etree._Element | None, name: str, ns: str | None = None) -> str | None:
    return text(child(el, name, ns))


def attr(el: etree._Element, name: str) -> str | None:
    """An attribute by local name, whatever namespace its prefix was bound to."""
    for key, value in el.attrib.items():
        if etree.QName(key).localname == name:
            return str(value).strip() or None
    return None
