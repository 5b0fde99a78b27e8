"""What request handlers share: the process's Runtime, and the settings, ledger, bus and users."""

from __future__ import annotations

from dataclasses import dataclass

from broadcaster.bus import Bus
from broadcaster.pipeline.runtime import Runtime
from broadcaster.settings import Settings
from broadcaster.store.ledger import Ledger
from broadcaster.store.users import Users
from broadcaster.web.auth import Authenticator


@dataclass(frozen=True)
class WebContext:
    # The process's services, made and closed by the composition root (broadcaster/app.py): the
    # same rules, renderer, scheduler client, circulars and LINE conversation as its stages, and
    # the only ones (the web never builds services of its own).
    runtime: Runtime
    users: Users
    authenticator: Authenticator

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def ledger(self) -> Ledger:
        return self.runtime.ledger

    @property
    def bus(self) -> Bus:
        return self.runtime.bus

    @classmethod
    def build(cls, runtime: Runtime) -> WebContext:
        users = Users(runtime.ledger.db)
        return cls(runtime=runtime, users=users, authenticator=Authenticator(users))
