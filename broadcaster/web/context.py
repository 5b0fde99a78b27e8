"""What request handlers share: the settings, the ledger, the bus and the services over them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from broadcaster.bus import Bus
from broadcaster.settings import Settings
from broadcaster.store.ledger import Ledger
from broadcaster.store.users import Users
from broadcaster.web.auth import Authenticator

if TYPE_CHECKING:
    from broadcaster.circulars.service import Circulars
    from broadcaster.pipeline.runtime import Runtime


@dataclass
class WebContext:
    settings: Settings
    ledger: Ledger
    bus: Bus
    users: Users
    authenticator: Authenticator
    # Services other parts add (the renderer for previews, the rules for counts...).
    extras: dict[str, Any] = field(default_factory=dict)
    # The pipeline's shared parts when the web runs inside `broadcaster run` (the same rules,
    # renderer and scheduler client as the stages); else the console builds its own once.
    runtime: Runtime | None = None
    # The e-circulars' service: the running pipeline's, else one the web builds on first use.
    circulars: Circulars | None = None
    # Closed when the app stops, last first: what the web opened itself (a Runtime of its own).
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    @classmethod
    def build(cls, settings: Settings, ledger: Ledger, bus: Bus) -> WebContext:
        users = Users(ledger.db)
        return cls(settings=settings, ledger=ledger, bus=bus, users=users, authenticator=Authenticator(users))
