"""The fake Asterisk ARI the tests use is the project's exchange simulator (the demo's too)."""

from adapters.outbound.voice.exchange import Call, Callee
from adapters.outbound.voice.exchange import ExchangeSimulator as FakeAri

__all__ = ["Call", "Callee", "FakeAri"]
