"""自動音声電話: alerts read aloud over the telephone (docs/channels.md, *Voice*)."""

from adapters.outbound.voice.adapter import VoiceAdapter

__all__ = ["VoiceAdapter"]
