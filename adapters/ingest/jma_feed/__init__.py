"""JMA's Atom feeds (防災情報XML, PULL型): poll, fetch each new telegram once, hand it on.

The poller knows JMA and nothing of the pipeline: it takes a sink for raw events and a state
store (protocols.py). See docs/jma.md, *Feed poller*.
"""

from adapters.ingest.jma_feed.poller import JmaFeedPoller
from adapters.ingest.jma_feed.protocols import FeedStateStore, RawSink

__all__ = ["FeedStateStore", "JmaFeedPoller", "RawSink"]
