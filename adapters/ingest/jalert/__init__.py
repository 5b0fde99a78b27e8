"""J-Alert (全国瞬時警報システム): the project's message format in, Alerts out; and the bridge.

See docs/jalert.md: the input format, the bridge on the LGWAN side, signing and the spool.
"""

from adapters.ingest.jalert.parser import JAlertParser

__all__ = ["JAlertParser"]
