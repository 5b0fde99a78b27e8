"""Namespaces and qualified names of the CAP documents we read and write."""

from __future__ import annotations

import re

CAP12 = "urn:oasis:names:tc:emergency:cap:1.2"
CAP11 = "urn:oasis:names:tc:emergency:cap:1.1"
CAP10 = "http://www.incident.com/cap/1.0"
# CAP 1.2 lets an alert end with XML signatures (and nothing else from outside its namespace).
DSIG = "http://www.w3.org/2000/09/xmldsig#"
XSI = "http://www.w3.org/2001/XMLSchema-instance"

# What from_cap reads: 1.1 uses the same element names, 1.2 only added values and tightened types.
READABLE = frozenset({CAP12, CAP11})

# xs:language (RFC 3066), the form of every info block's <language>.
LANGUAGE_TAG = re.compile(r"[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*")

# XML white space (not Python's wider str.isspace): what CAP lists are separated by.
XML_SPACE = " \t\n\r"


def q(local: str, ns: str = CAP12) -> str:
    """Clark notation, as lxml spells qualified names."""
    return f"{{{ns}}}{local}"
