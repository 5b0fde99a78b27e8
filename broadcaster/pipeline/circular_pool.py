"""The circular channel's worker's adapters: the board (broadcaster/circulars/board.py) in the
place of the ``circular`` adapter, the process's pool for the rest. Made by the composition root
(broadcaster/app.py); the circulars themselves import nothing of the pipeline."""

from __future__ import annotations

from broadcaster.channels import ChannelAdapter
from broadcaster.circulars.board import CHANNEL, CircularBoard
from broadcaster.circulars.service import Circulars
from broadcaster.pipeline.adapters import AdapterPool, Resolved


class BoardPool(AdapterPool):
    """The channel worker's adapters, with the board standing in for the circular channel's.

    Everything else (and the notifier's LINE, e-mail and push) comes from the runtime's own pool,
    so that one process keeps one adapter per (tenant, channel).
    """

    def __init__(self, pool: AdapterPool, board: CircularBoard) -> None:
        super().__init__(pool.settings, pool.overrides)
        self.pool = pool
        self.board = board

    def _live(self, tenant: str) -> bool:
        cfg = self.settings.channel(tenant, CHANNEL)
        return cfg.mode != "outbox" and self.settings.circulars.link_key is not None

    def get(self, tenant: str, channel: str) -> ChannelAdapter:
        if channel == CHANNEL and CHANNEL not in self.overrides and self._live(tenant):
            return self.board
        return self.pool.get(tenant, channel)

    def mode(self, tenant: str, channel: str) -> Resolved:
        if channel == CHANNEL and CHANNEL not in self.overrides and self._live(tenant):
            return Resolved(CircularBoard, True, "live: the e-circular board")
        return self.pool.mode(tenant, channel)

    async def close(self) -> None:
        return None  # the runtime's pool closes the adapters


def circular_pool(adapters: AdapterPool, circulars: Circulars) -> AdapterPool:
    """The adapters of the circular channel's worker: the board, and the process's pool for the
    rest (the notifier's LINE, e-mail and push)."""
    return BoardPool(adapters, CircularBoard(circulars))
