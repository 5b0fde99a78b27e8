"""What a body reader learns from one document body, before it becomes an Info block."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from lxml import etree

from adapters.ingest.lalert.namespaces import child, child_text
from broadcaster.model import Area, Category, Certainty, NamedValue, ResponseType, Severity, Urgency


@dataclass(frozen=True)
class Context:
    """Document-level facts a body reader needs."""

    # The municipality's JIS X 0402 code, for areas inside it that do not repeat it.
    municipality: str | None


@dataclass
class BodyFacts:
    event: str
    urgency: Urgency = Urgency.UNKNOWN
    severity: Severity = Severity.UNKNOWN
    certainty: Certainty = Certainty.UNKNOWN
    category: tuple[Category, ...] = (Category.SAFETY,)
    response: tuple[ResponseType, ...] = ()
    # None: the body names no places of its own; the document's headline/target areas apply.
    areas: tuple[Area, ...] | None = None
    parameters: list[NamedValue] = field(default_factory=list)
    # Human-readable lines for the description, one per order, shelter or damage figure.
    summary: list[str] = field(default_factory=list)
    # A headline or description the body itself carries (urgent mail has its own title and text).
    headline: str | None = None
    description: str | None = None

    def grade(self, urgency: Urgency, severity: Severity, certainty: Certainty) -> None:
        self.urgency, self.severity, self.certainty = urgency, severity, certainty

    def param(self, name: str, value: str | int | None) -> None:
        if value is not None and str(value) != "":
            self.parameters.append(NamedValue(value_name=name, value=str(value)))


def count(value: str | None) -> int | None:
    """Households and head counts: digits only (full-width allowed); anything else is no count."""
    if value is None:
        return None
    digits = unicodedata.normalize("NFKC", value).strip().replace(",", "")
    return int(digits) if digits.isdigit() else None


def disaster_name(body: etree._Element) -> str | None:
    return child_text(child(body, "Disaster"), "DisasterName")
