"""The J-Alert receivers a bridge serves, as its settings describe them (`[[receivers]]`)."""

from __future__ import annotations

import ipaddress
import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

from adapters.ingest.jalert.bridge.mailrules import DEFAULT_RULES, MailRule

# A national test comes every three months or so; a receiver unheard for longer is suspect.
DEFAULT_EXPECT_WITHIN_H = 2400.0


class ReceiverSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Short and stable: it is part of every message id the receiver's mails and contacts make.
    name: str = Field(pattern=r"^[a-z0-9_-]{1,32}$")
    # The envelope senders (MAIL FROM) the receiver's mail settings use, and the networks it sends
    # from: a mail is accepted only when both match.
    addresses: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()
    # The town's own rules, tried before the shipped ones (mailrules.DEFAULT_RULES), which
    # `default_rules = false` leaves out.
    rules: tuple[MailRule, ...] = ()
    default_rules: bool = True
    # A regular expression whose first group is the message text within the body (a receiver that
    # wraps the text in headers of its own); the whole body when absent or when it does not match.
    text_from: str | None = None
    # Areas written into its messages. A town's own bridge key names the town and needs none; a
    # bridge shared by a prefecture's towns names them (docs/jalert.md, Areas).
    areas: tuple[str, ...] = ()
    # Hours after which a receiver not heard from is reported silent.
    expect_within_h: float = Field(default=DEFAULT_EXPECT_WITHIN_H, gt=0)

    @field_validator("addresses")
    @classmethod
    def _addresses(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for a in v:
            if "@" not in a or any(c.isspace() for c in a):
                raise ValueError(f"not a mail address: {a!r}")
        return tuple(a.strip().lower() for a in v)

    @field_validator("networks")
    @classmethod
    def _networks(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for n in v:
            try:
                ipaddress.ip_network(n, strict=False)
            except ValueError as e:
                raise ValueError(f"not a network (CIDR): {n!r}") from e
        return v

    @field_validator("text_from")
    @classmethod
    def _text_from(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                pattern = re.compile(v)
            except re.error as e:
                raise ValueError(f"text_from is not a regular expression: {e}") from e
            if pattern.groups < 1:
                raise ValueError("text_from needs a group: the text is its first group")
        return v

    @property
    def all_rules(self) -> tuple[MailRule, ...]:
        return (*self.rules, *(DEFAULT_RULES if self.default_rules else ()))

    def sends_from(self, ip: str, address: str) -> bool:
        return self.in_network(ip) and address.strip().lower() in self.addresses

    def in_network(self, ip: str) -> bool:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        return any(addr in ipaddress.ip_network(n, strict=False) for n in self.networks)

    def message_text(self, body: str) -> str:
        if self.text_from:
            found = re.search(self.text_from, body, re.DOTALL)
            if found and found.group(1) and found.group(1).strip():
                return found.group(1).strip()
        return body
