"""Polling an L-Alert feed (a generic HTTP source per tenant); see docs/lalert.md, *The poller*."""

from adapters.ingest.lalert_feed.poller import LAlertFeedPoller

__all__ = ["LAlertFeedPoller"]
