"""Messages of the 2024 Noto evening for the QZSS tests (the project's own, built by its encoder)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from adapters.ingest.qzss import encode as e
from adapters.ingest.qzss.encode import gsv, receiver_log

QUAKE = datetime(2024, 1, 1, 7, 10, tzinfo=UTC)  # 2024-01-01 16:10 JST

__all__ = ["QUAKE", "gsv", "noto_messages", "receiver_log"]


def noto_messages() -> list[bytes]:
    """震度速報 then 大津波警報 for the evening of 2024-01-01."""
    return [
        e.seismic_intensity(QUAKE + timedelta(minutes=2), QUAKE, [(7, 17), (5, 16), (5, 15)]).message(),
        e.tsunami(
            QUAKE + timedelta(minutes=12),
            4,
            [e.TsunamiRegion(360, 4, None), e.TsunamiRegion(484, 3), e.TsunamiRegion(340, 3)],
        ).message(),
    ]
