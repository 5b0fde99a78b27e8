"""Who the town is in the commons: the office that decides and sends its documents."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PublisherInfo(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # JIS X 0402 with check digit (穴水町: 174611); also the commons organization code.
    organization_code: str = Field(pattern=r"^\d{6}$")
    organization_name: str = Field(min_length=1)  # 穴水町
    office_name: str = Field(min_length=1)  # the deciding office, e.g. 総務課
    # The municipality's domain (town.anamizu.lg.jp); the sender id and document ids derive from it.
    domain: str = Field(pattern=r"^[A-Za-z0-9.-]+$")
    # The target-area name, with the prefecture as the commons writes it (石川県穴水町).
    area_name: str | None = None
    phone: str | None = None
    # The editor system's id at the commons; defaults to "editor.<domain>".
    sender_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._:-]+$")

    @property
    def sender(self) -> str:
        return self.sender_id or f"editor.{self.domain}"

    @property
    def target_name(self) -> str:
        return self.area_name or self.organization_name
