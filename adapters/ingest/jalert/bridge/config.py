"""Settings of `broadcaster jalert-bridge`, the program on the J-Alert receiver's (LGWAN) side.

The bridge needs none of the broadcaster's own settings (no database, no bus): a TOML file given
with `--settings` (or BROADCASTER_JALERT_BRIDGE_CONFIG), and BROADCASTER_JALERT_BRIDGE_* variables,
which win. The secret comes from the environment or a file readable only by the bridge's user,
never from the TOML file that is copied around.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from adapters.ingest.jalert.bridge.contacts import ContactSettings
from adapters.ingest.jalert.bridge.receivers import DEFAULT_EXPECT_WITHIN_H, ReceiverSettings
from broadcaster.errors import ConfigError
from broadcaster.signing import KEY_ID, MIN_SECRET_BYTES

# The receiver a bridge without [[receivers]] counts its contacts and files for.
IMPLIED_RECEIVER = "receiver"


class BridgeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BROADCASTER_JALERT_BRIDGE_", extra="forbid", frozen=True)

    # The broadcaster's hook, e.g. https://bousai.example.lg.jp/ingest/jalert
    endpoint: str
    key_id: str
    secret: SecretStr | None = None
    secret_file: Path | None = None
    # Messages wait here until the broadcaster acknowledged them (2xx); keep it on local disk.
    spool_dir: Path = Path("var/jalert-spool")
    # The receiver's output folder; each complete file there is one message.
    watch_dir: Path | None = None
    # What happens to a file once it is safely in the spool: deleted, or moved to .forwarded/.
    after_spool: Literal["delete", "move"] = "delete"
    # A file is taken once it has not changed for this long (the receiver finished writing it).
    settle_s: float = Field(default=1.0, ge=0)
    scan_interval_s: float = Field(default=0.5, gt=0)
    # A local HTTP hook for the receiver's contact output or a script: host:port, loopback by default.
    listen: str | None = None
    # Required from callers of the local hook when set (needed when it listens beyond loopback).
    listen_token: SecretStr | None = None
    # Contact outputs (接点) by name: POST /contact/<name> spools the contact type's approved message
    # (contacts.py); a plain string is a whole jalert/1 message to spool as it is.
    contacts: dict[str, ContactSettings | str] = Field(default_factory=dict)
    # The J-Alert receivers this bridge serves: who may mail the intake, the rules for their mails,
    # and whose health each way in counts for (docs/jalert.md, *The mail intake*).
    receivers: list[ReceiverSettings] = Field(default_factory=list)
    # The mail intake's SMTP listener, host:port on the LGWAN segment (receivers send here).
    mail_listen: str | None = None
    mail_max_bytes: int = Field(default=1024 * 1024, ge=4096)
    mail_hostname: str = "jalert-bridge"
    # Files in watch_dir are messages of this receiver (for its health); the only one by default.
    watch_receiver: str | None = None
    # How often the bridge reports receiver health to the broadcaster (POST <endpoint>/health).
    health_interval_s: float = Field(default=60.0, gt=0)
    timeout_s: float = Field(default=10.0, gt=0)
    # Waits between tries of the same message; the last one repeats until it goes through.
    backoff_s: list[float] = Field(default_factory=lambda: [1.0, 2.0, 5.0, 10.0, 30.0, 60.0], min_length=1)
    max_message_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Trust anchors for the endpoint's certificate (a private CA); the system's by default.
    ca_file: Path | None = None
    # The LGWAN segment usually reaches the internet only through a proxy.
    proxy: str | None = None

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("endpoint must be an http(s) URL of the broadcaster's /ingest/jalert hook")
        return v

    @field_validator("key_id")
    @classmethod
    def _key_id(cls, v: str) -> str:
        if not KEY_ID.match(v):
            raise ValueError(f"key_id must match {KEY_ID.pattern}")
        return v

    @field_validator("backoff_s")
    @classmethod
    def _positive(cls, v: list[float]) -> list[float]:
        if any(x <= 0 for x in v):
            raise ValueError("every backoff must be positive")
        return v

    @model_validator(mode="after")
    def _inputs(self) -> BridgeSettings:
        if self.watch_dir is None and self.listen is None and self.mail_listen is None:
            raise ValueError("nothing to forward: set watch_dir, listen, mail_listen, or several")
        names = [r.name for r in self.receivers]
        if len(set(names)) != len(names):
            raise ValueError(f"receiver names must be unique: {names}")
        if self.mail_listen is not None:
            _host_port(self.mail_listen, "mail_listen")
            if not self.receivers:
                raise ValueError("mail_listen needs [[receivers]]: only configured receivers may send mail")
            for r in self.receivers:
                if not r.addresses or not r.networks:
                    raise ValueError(f"receiver {r.name}: give addresses and networks, both are checked")
        for name, contact in self.contacts.items():
            if isinstance(contact, ContactSettings) and contact.receiver is not None and contact.receiver not in names:
                raise ValueError(f"contacts.{name}: no receiver named {contact.receiver!r}")
        if self.watch_receiver is not None and self.watch_receiver not in names:
            raise ValueError(f"watch_receiver: no receiver named {self.watch_receiver!r}")
        if self.secret is None and self.secret_file is None:
            raise ValueError("set secret_file (or BROADCASTER_JALERT_BRIDGE_SECRET)")
        if self.listen is not None:
            _host_port(self.listen, "listen")
        return self

    @property
    def listen_address(self) -> tuple[str, int] | None:
        return _host_port(self.listen, "listen") if self.listen is not None else None

    @property
    def mail_address(self) -> tuple[str, int] | None:
        return _host_port(self.mail_listen, "mail_listen") if self.mail_listen is not None else None

    def health_receivers(self) -> dict[str, float]:
        """Each receiver and the hours within which it should be heard; one implied receiver
        ("receiver") when none is configured but contacts or a folder are."""
        if self.receivers:
            return {r.name: r.expect_within_h for r in self.receivers}
        return {IMPLIED_RECEIVER: DEFAULT_EXPECT_WITHIN_H}

    def receiver_of_contact(self, contact: ContactSettings) -> str:
        return contact.receiver or (self.receivers[0].name if len(self.receivers) == 1 else IMPLIED_RECEIVER)

    @property
    def file_receiver(self) -> str | None:
        if self.watch_receiver is not None:
            return self.watch_receiver
        if len(self.receivers) == 1:
            return self.receivers[0].name
        return IMPLIED_RECEIVER if not self.receivers else None

    def secret_bytes(self) -> bytes:
        if self.secret is not None:
            value = self.secret.get_secret_value().encode("utf-8")
        else:
            assert self.secret_file is not None
            try:
                value = self.secret_file.read_bytes().strip()
            except OSError as e:
                raise ConfigError(f"secret_file {self.secret_file}: {e}") from e
        if len(value) < MIN_SECRET_BYTES:
            raise ConfigError(f"the bridge secret needs at least {MIN_SECRET_BYTES} bytes")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


def _host_port(value: str, what: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"{what} must be host:port, e.g. 127.0.0.1:8790")
    return host.strip("[]"), int(port)


def load_bridge_settings(path: Path | None = None, **overrides: Any) -> BridgeSettings:
    from pydantic import ValidationError

    if path is not None and not path.is_file():
        raise ConfigError(f"bridge settings not found: {path}")
    cls: type[BridgeSettings] = BridgeSettings
    if path is not None:
        cls = type("BridgeSettings", (BridgeSettings,), {"model_config": {**BridgeSettings.model_config, "toml_file": path}})
    try:
        settings = cls(**overrides)
    except ValidationError as e:
        raise ConfigError(f"invalid bridge settings{' in ' + str(path) if path else ''}:\n{e}") from e
    base = path.resolve().parent if path is not None else Path.cwd()
    resolve = {
        name: base / value
        for name in ("spool_dir", "watch_dir", "secret_file", "ca_file")
        if isinstance(value := getattr(settings, name), Path) and not value.is_absolute()
    }
    return settings.model_copy(update=resolve) if resolve else settings
