"""JMA 防災情報XML: telegrams in, Alerts out (pure: bytes → Alerts, no I/O but the area table).

See docs/jma.md for what is read per telegram type, the rating table and the identifier scheme.
"""

from adapters.ingest.jma.parser import JmaParser, parse_bytes

__all__ = ["JmaParser", "parse_bytes"]
