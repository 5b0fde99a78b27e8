"""Write the project's QZSS sample recording (samples/qzss/) from its own encoder.

    python scripts/gen_qzss_samples.py

The messages are the project's own, made from the documented bit layouts
(adapters/ingest/qzss/encode.py) to match the demo's JMA sample telegrams of 2024-01-01: the
震度速報 of 16:11 and the 大津波警報 of 16:22 (JST), as the satellite would relay them.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapters.ingest.qzss import encode as e  # noqa: E402

QUAKE = datetime(2024, 1, 1, 7, 10, tzinfo=UTC)


def messages() -> list[bytes]:
    return [
        # 16:11 震度速報: 石川県 7, 新潟県・富山県・福井県 5強 (the sample telegram's figures).
        e.seismic_intensity(datetime(2024, 1, 1, 7, 11, tzinfo=UTC), QUAKE, [(7, 17), (4, 15), (4, 16), (4, 18)]).message(),
        # 16:22 大津波警報 for 石川県能登; 津波警報 for the neighbouring coasts.
        e.tsunami(
            datetime(2024, 1, 1, 7, 22, tzinfo=UTC),
            4,
            [e.TsunamiRegion(360, 4), e.TsunamiRegion(340, 3), e.TsunamiRegion(341, 3)],
        ).message(),
    ]


def main() -> None:
    out = ROOT / "samples" / "qzss" / "noto_2024_receiver.log"
    out.parent.mkdir(parents=True, exist_ok=True)
    # The receiver's clock (its RMC sentences) says when it heard them: a minute after the warning.
    out.write_bytes(e.receiver_log(messages(), repeats=3, noise=True, start=datetime(2024, 1, 1, 7, 23, tzinfo=UTC)))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
