"""The bus: protocol, the embedded SQLite log, and Kafka."""

from __future__ import annotations

from pathlib import Path

from broadcaster.bus.protocol import (
    Ack,
    Bus,
    Consumer,
    DeadLetter,
    Handler,
    Outcome,
    Outgoing,
    Record,
    Retry,
    TopicSpec,
)
from broadcaster.errors import ConfigError
from broadcaster.settings import BusSettings

__all__ = [
    "Ack",
    "Bus",
    "Consumer",
    "DeadLetter",
    "Handler",
    "Outcome",
    "Outgoing",
    "Record",
    "Retry",
    "TopicSpec",
    "open_bus",
]


def open_bus(settings: BusSettings) -> Bus:
    """The bus named by settings.url; not started yet."""
    url = settings.url
    if url.startswith("embedded:"):
        from broadcaster.bus.embedded import EmbeddedBus

        return EmbeddedBus(
            Path(url[len("embedded:") :]),
            partitions=settings.partitions,
            poll_interval=settings.poll_interval_s,
            synchronous=settings.sqlite_synchronous,
            retention_hours=settings.retention_hours,
        )
    if url.startswith("kafka://"):
        from broadcaster.bus.kafka import KafkaBus

        return KafkaBus(
            url[len("kafka://") :],
            partitions=settings.partitions,
            replication=settings.kafka_replication,
            client_id=settings.kafka_client_id,
            idempotent=settings.kafka_idempotent_producer,
            session_timeout_ms=settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=max(settings.kafka_session_timeout_ms // 10, 300),
            prefix=settings.prefix,
            fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
        )
    raise ConfigError(f"bus url must start with embedded: or kafka://, got {url!r}")
