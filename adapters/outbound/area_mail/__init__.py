"""緊急速報メール (area mail): one channel per carrier, hand-off or a live link (adapter.py)."""

from adapters.outbound.area_mail.adapter import PERMITTED_KINDS, AreaMailAdapter
from adapters.outbound.area_mail.carriers import CARRIERS, CHANNELS
from adapters.outbound.area_mail.links import AreaMailLink, AreaMailRequest, JsonLink

__all__ = ["CARRIERS", "CHANNELS", "PERMITTED_KINDS", "AreaMailAdapter", "AreaMailLink", "AreaMailRequest", "JsonLink"]
