"""QZSS (みちびき) 災危通報: a receiver's output in, Alerts out (docs/qzss.md).

The parser (entry point ``qzss`` of ``broadcaster.parsers``) decodes one message; the reader
(entry point ``qzss`` of ``broadcaster.feeds``) takes a receiver's output from a serial device, a
TCP socket or a file and hands each new message on.
"""

from adapters.ingest.qzss.parser import QzssParser

__all__ = ["QzssParser"]
