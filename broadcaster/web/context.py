"""What request handlers share: the settings, the ledger, the bus and the services over them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from broadcaster.bus import Bus
from broadcaster.settings import Settings
from broadcaster.store.ledger import Ledger
from broadcaster.store.users import Users
from broadcaster.web.auth import Authenticator


@dataclass
class WebContext:
    settings: Settings
    ledger: Ledger
    bus: Bus
    users: Users
    authenticator: Authenticator
    # Services other parts add (the renderer for previews, the rules for counts...).
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings, ledger: Ledger, bus: Bus) -> WebContext:
        users = Users(ledger.db)
        return cls(settings=settings, ledger=ledger, bus=bus, users=users, authenticator=Authenticator(users))
