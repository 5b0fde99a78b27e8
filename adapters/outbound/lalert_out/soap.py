"""The SOAP 1.1 `publish` envelope in which the commons receives documents (as in the corpus)."""

from __future__ import annotations

from lxml import etree

from adapters.ingest.lalert.namespaces import PCSOAP, SOAP11

# The commons' SOAP interface names its one operation "publish"; SOAP 1.1 wants it quoted.
SOAP_ACTION = '"publish"'


def envelope(distribution: etree._Element) -> bytes:
    env = etree.Element(f"{{{SOAP11}}}Envelope", nsmap={"soap": SOAP11})
    body = etree.SubElement(env, f"{{{SOAP11}}}Body")
    publish = etree.SubElement(body, f"{{{PCSOAP}}}publish", nsmap={"pcsoap": PCSOAP})
    message = etree.SubElement(publish, f"{{{PCSOAP}}}message")
    message.append(distribution)
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")
