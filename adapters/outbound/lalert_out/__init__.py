"""Publishing a town's own evacuation orders and shelter openings to L-Alert (docs/lalert.md)."""

from adapters.outbound.lalert_out.adapter import LAlertOutAdapter, LAlertOutSettings, revision_for
from adapters.outbound.lalert_out.document import build_document
from adapters.outbound.lalert_out.publisher import PublisherInfo

__all__ = ["LAlertOutAdapter", "LAlertOutSettings", "PublisherInfo", "build_document", "revision_for"]
