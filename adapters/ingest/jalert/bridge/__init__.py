"""The J-Alert bridge: receiver side (LGWAN) → spool on disk → signed POST to the broadcaster.

See docs/jalert.md, *The bridge*.
"""

from adapters.ingest.jalert.bridge.config import BridgeSettings, load_bridge_settings
from adapters.ingest.jalert.bridge.run import Bridge

__all__ = ["Bridge", "BridgeSettings", "load_bridge_settings"]
