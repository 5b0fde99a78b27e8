"""L-Alert (災害情報共有システム, formerly 公共情報コモンズ) documents in EDXL-DE, optionally in SOAP.

See docs/lalert.md for the format, the mapping onto the Alert model and the revision scheme.
"""

from adapters.ingest.lalert.parser import LAlertParser, parse_bytes

__all__ = ["LAlertParser", "parse_bytes"]
