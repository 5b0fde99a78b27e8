"""The demo's telephone: an exchange simulator on loopback (adapters/outbound/voice/exchange.py)
that the voice channel calls through Asterisk's ARI, and two residents without smartphones.

Nothing leaves the machine: the simulator answers for each number as scripted (one resident
presses 0, "heard"; the other 1, "I need help") and measures the audio it is played. The calls
and keys the ledger recorded are printed at the end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from broadcaster.settings import Settings, load_settings

# Invented numbers of the demo's residents without a smartphone (穴水町, 川島 and 大町).
PHONE_PEOPLE = (("kawashima", "0768-52-0101", "0"), ("omachi", "0768-52-0102", "1"))
ARI_USER, ARI_PASSWORD = "demo", "demo-only-ari-password"


def available() -> str | None:
    """None when the demo can speak; else why not (the voice extra or the dictionary missing)."""
    import importlib.util

    # Not imported here: pyopenjtalk must first see the dictionary the voice channel gives it.
    if importlib.util.find_spec("pyopenjtalk") is None:
        return "pyopenjtalk is not installed (the `voice` extra)"
    try:
        from adapters.outbound.voice.synth import dictionary_dir

        dictionary_dir()
    except Exception as e:
        return str(e)
    return None


async def start(settings: Settings, config: Path) -> tuple[Any, Settings]:
    """Start the simulator; the demo's settings with the voice channel live against it."""
    from adapters.outbound.voice.exchange import Callee, ExchangeSimulator

    media = settings.var_dir / "voice"
    media.mkdir(parents=True, exist_ok=True)
    sim = ExchangeSimulator(media, user=ARI_USER, password=ARI_PASSWORD, speed=0.01)
    sim.callees = {number.replace("-", ""): Callee(digit=key) for _, number, key in PHONE_PEOPLE}
    await sim.start()
    channels: dict[str, Any] = {name: ch.model_dump() for name, ch in settings.channels.items()}
    channels["voice"] = {
        "mode": "live",
        "credentials": {"ari_user": ARI_USER, "ari_password": ARI_PASSWORD},
        "options": {
            "ari_url": sim.url,
            "media_dir": str(media),
            "endpoint": "PJSIP/{number}@demo-trunk",
            "retry_after_s": 1,
            "dtmf_timeout_s": 1,
        },
        "timeout_s": 120,
    }
    updated = load_settings(
        config,
        var_dir=settings.var_dir,
        db_url=settings.db_url,
        outbox_dir=settings.outbox_dir,
        bus=settings.bus.model_dump(),
        channels=channels,
    )
    return sim, updated


async def seed(audiences: Any) -> None:
    for district, number, _ in PHONE_PEOPLE:
        await audiences.add(
            "anamizu", districts=[district], endpoints={"phone": number.replace("-", "")}, no_smartphone=True
        )


async def report(ledger: Any, sim: Any, echo: Any) -> None:
    from broadcaster.store import tables as t

    r = t.recipient_outcomes

    def work(c: sa.Connection) -> list[Any]:
        return list(
            c.execute(
                sa.select(r.c.alert_id, r.c.outcome, r.c.detail, r.c.attempts)
                .where(r.c.channel == "voice")
                .order_by(r.c.id)
            )
        )

    rows = await ledger.db.read(work)
    echo("\nVoice calls to residents without a smartphone (through the demo's exchange, ARI):")
    for call in sim.calls:
        heard = ", ".join(f"{check.duration_s:.1f} s" for _, check in call.played)
        echo(f"  {call.endpoint:<28} answered: {call.state != 'Down' or bool(call.played)}  played: {heard}  key: {''.join(call.digits) or '-'}")
    outcomes: dict[str, int] = {}
    for row in rows:
        outcomes[row.outcome] = outcomes.get(row.outcome, 0) + 1
    echo("  recorded in the ledger (recipient_outcomes): " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    helps = [row for row in rows if row.outcome == "help"]
    if helps:
        echo(f"  {len(helps)} answer(s) '1 = I need help': the duty officer sees them in `broadcaster status`.")
