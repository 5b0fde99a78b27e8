"""One settings object, built once at start-up and passed down in slices.

Sources, strongest first: keyword arguments (the CLI), ``BROADCASTER_*`` environment variables
(nested with ``__``: ``BROADCASTER_TENANTS__ANAMIZU__CHANNELS__LINE__CREDENTIALS__TOKEN``), then a
TOML file (``--config`` or ``BROADCASTER_CONFIG``), then ``*.toml`` files in ``tenants_dir`` (one per
town, so that an operator adds a town by adding a file), then the defaults below. Secrets are
SecretStr: they print as ``**********`` and never reach a log.
"""

from __future__ import annotations

import os
import tomllib
import weakref
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from broadcaster.circulars.config import CircularSettings
from broadcaster.coverage.config import CoverageSettings
from broadcaster.errors import ConfigError
from broadcaster.privacy import PrivacySettings

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# The channels every tenant has unless it says otherwise (docs/architecture.md, *Stages*). Each runs in
# outbox mode until it has credentials and a live adapter.
DEFAULT_CHANNELS = (
    "website",
    "app_push",
    "fcm",
    "line",
    "x",
    "mastodon",
    "bluesky",
    "email",
    "circular",
    "webhook",
    "lalert_out",
    "area_mail_docomo",
    "area_mail_kddi",
    "area_mail_softbank",
    "area_mail_rakuten",
)
# Standard channels that stay off until a deployment says `enabled = true`: 緊急速報メール needs a
# town's agreement with each carrier (docs/channels.md, *Area mail*). Rules may name them anyway;
# routing leaves out a channel that is off.
OFF_BY_DEFAULT = frozenset({"area_mail_docomo", "area_mail_kddi", "area_mail_softbank", "area_mail_rakuten"})


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ChannelSettings(_Section):
    enabled: bool = True
    # Entry-point name of the adapter (group broadcaster.channels); defaults to the channel name.
    adapter: str | None = None
    # auto: live when the adapter is installed and credentials are set, outbox otherwise.
    mode: Literal["auto", "live", "outbox"] = "auto"
    credentials: dict[str, SecretStr] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)
    # A send that takes longer is abandoned and retried, so a hung provider cannot stall the
    # partition it sits on for longer than this.
    timeout_s: float = Field(default=15.0, gt=0)
    max_attempts: int = Field(default=8, ge=1)


class District(_Section):
    id: str = Field(pattern=r"^[a-z0-9_-]+$")
    name: str
    name_en: str | None = None
    households: int | None = Field(default=None, ge=0)


class TenantSettings(_Section):
    id: str = Field(pattern=r"^[a-z0-9_-]+$")
    name: str
    name_en: str | None = None
    # Codes that define the tenant's territory, by table: {"jma": ["1746100"]} is expanded at
    # start-up by the area expander registered as "jma" into every JMA code that covers the town.
    areas: dict[str, list[str]] = Field(default_factory=dict)
    # Extra geocodes given literally: [{value_name = "...", value = "..."}].
    geocodes: list[dict[str, str]] = Field(default_factory=list)
    # The 津波予報区 (JMA codes, e.g. ["360"]) of the town's own coast. When given, they replace
    # those derived from its municipality code; [] says the town has no coast
    # (docs/tsunami-coasts.md).
    tsunami_regions: list[str] | None = None
    districts: list[District] = Field(default_factory=list)
    # Per-tenant channel settings override the deployment's.
    channels: dict[str, ChannelSettings] = Field(default_factory=dict)
    # Tenants whose officers may send on this tenant's behalf (a neighbour covering a stricken
    # town hall); every such send is audited.
    delegates: list[str] = Field(default_factory=list)
    # The zone every time shown to a person is given in, with its label (console, audit, circulars,
    # the town's pages): an IANA name. A town in Japan keeps the default (JST).
    time_zone: str = "Asia/Tokyo"

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(value)
        except (ValueError, KeyError, OSError) as e:  # ZoneInfoNotFoundError is a KeyError
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Asia/Tokyo)") from e
        return value


class BusSettings(_Section):
    # embedded:PATH (SQLite log on this machine) or kafka://host:port[,host:port]
    url: str = "embedded:var/bus.sqlite3"
    partitions: int = Field(default=8, ge=1, le=256)
    # How often an embedded consumer looks for messages written by another process; messages
    # published in-process wake consumers at once.
    poll_interval_s: float = Field(default=0.2, gt=0)
    # NORMAL survives a kill -9 of the process (WAL); FULL also survives power loss, slower.
    sqlite_synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    retention_hours: float = Field(default=72.0, gt=0)
    kafka_idempotent_producer: bool = False
    kafka_client_id: str = "broadcaster"
    kafka_replication: int = Field(default=1, ge=1)
    kafka_session_timeout_ms: int = Field(default=10_000, ge=1000)
    kafka_fetch_max_wait_ms: int = Field(default=50, ge=1, le=5000)
    # Prefix of every topic and group name on the cluster (deployments sharing a cluster).
    prefix: str = Field(default="", pattern=r"^[A-Za-z0-9._-]*$")


class WebSettings(_Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    public_url: str = "http://127.0.0.1:8080"
    session_hours: float = Field(default=12.0, gt=0)
    idle_minutes: float = Field(default=60.0, gt=0)
    # None: Secure cookies whenever public_url is https (a plain-http local demo still works).
    cookie_secure: bool | None = None
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    # When set, /metrics answers only to "Authorization: Bearer <token>". Without it, /metrics
    # answers only to this machine (docs/security.md, */metrics*), unless metrics_public is set.
    metrics_token: SecretStr | None = None
    metrics_public: bool = False
    # Reverse proxies (addresses or networks) whose X-Forwarded-For names the client: login
    # limits count per client address, and behind a proxy every request comes from the proxy.
    trusted_proxies: list[str] = Field(default_factory=list)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for n in value:
            try:
                ipaddress.ip_network(n, strict=False)
            except ValueError as e:
                raise ValueError(f"web.trusted_proxies: {n!r} is not an address or network") from e
        return value


class PipelineSettings(_Section):
    # A dispatch not final after this long is re-published from the ledger (docs/decisions.md,
    # decision 5): long enough not to race a retry in flight, short enough to matter.
    redrive_after_s: float = Field(default=900.0, gt=0)
    redrive_interval_s: float = Field(default=30.0, gt=0)
    # Deadline for a dispatch to be sent, by priority; past it a dispatch counts as late.
    deadline_s: dict[str, float] = Field(
        default_factory=lambda: {"flash": 60.0, "high": 300.0, "normal": 900.0, "low": 3600.0}
    )
    retry_tiers_s: list[float] = Field(default_factory=lambda: [1.0, 5.0, 30.0, 120.0, 600.0])
    # Channel workers open their providers' connections at start and again after this long
    # without a send (broadcaster.channels.Warming): under aiohttp's 15 s client keep-alive and
    # most providers' own, so the first alert after a quiet week finds them open. 0: at start only.
    warm_interval_s: float = Field(default=10.0, ge=0)
    # How long one adapter's warm-up may take; it never holds a send or the start-up.
    warm_timeout_s: float = Field(default=10.0, gt=0)


class GuardSettings(_Section):
    """The consistency guard (docs/consistency.md): how often it reads every medium back, and how
    long a medium may still show an older state than the ledger's before that is an alarm."""

    enabled: bool = True
    lag_s: float = Field(default=60.0, ge=0)
    interval_s: float = Field(default=10.0, gt=0)
    # Events with a message received within this window are checked.
    lookback_h: float = Field(default=48.0, gt=0)


class FeedSourceSettings(_Section):
    """A source the broadcaster polls (JMA's Atom feeds); stage ``ingest:<name>`` when enabled.

    Off by default: polling reaches the internet, and the demo must stay offline.
    """

    enabled: bool = False
    # Entry-point name of the poller (group broadcaster.feeds); defaults to the section's name.
    adapter: str | None = None
    # None: the poller's own (JMA: its public feed URL and the four high-frequency feeds).
    base_url: str | None = Field(default=None, pattern=r"^https?://")
    feeds: list[str] | None = None
    # Read the long feeds at start-up and after a failed poll, to catch up after a gap.
    catch_up: bool = True
    # Older entries are never fetched: a first start must not replay days of old warnings.
    max_entry_age_h: float = Field(default=12.0, gt=0)
    # JMA asks for one poll a minute, from second 20 of the minute.
    poll_interval_s: float = Field(default=60.0, gt=0)
    poll_offset_s: float = Field(default=20.0, ge=0, lt=60)
    timeout_s: float = Field(default=20.0, gt=0)
    # JMA telegrams are well under 1 MB; a long feed holds days of entries.
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    max_feed_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    # No successful poll for this long raises a System alert to every tenant's officers.
    stale_after_minutes: float = Field(default=10.0, gt=0)
    # The tenant whose source this is (a town's L-Alert feed: its documents are the town's, and
    # only its officers hear of the feed going stale); None: a shared source matched by area.
    tenant: str | None = None
    # For pollers whose source wants one (an L-Alert relay: `token` is sent as a bearer token).
    credentials: dict[str, SecretStr] = Field(default_factory=dict)
    # For sources read from a device rather than polled (a QZSS receiver, docs/qzss.md):
    # serial:/dev/ttyACM0?baud=9600, tcp://host:port, or file:/path/to/recorded.log.
    device: str | None = None


class HookKey(_Section):
    """One sender's key for a signed ingest hook (broadcaster/signing.py)."""

    secret: SecretStr
    # The tenant whose source this is (its L-Alert relay, its own J-Alert receiver); None for a
    # shared J-Alert receiver, whose messages reach tenants by their areas.
    tenant: str | None = None

    @field_validator("secret")
    @classmethod
    def _long_enough(cls, v: SecretStr) -> SecretStr:
        if len(v.get_secret_value().encode("utf-8")) < 32:
            raise ValueError("a hook secret needs at least 32 bytes (e.g. `openssl rand -hex 32`)")
        return v


class HookSettings(_Section):
    """A signed ingest hook ([hooks.jalert], [hooks.lalert]); without keys it refuses everything."""

    # Key id → key; several keys let a sender's secret be rotated without a gap.
    keys: dict[str, HookKey] = Field(default_factory=dict)
    # How far a request's timestamp may be from our clock; nonces are remembered twice as long.
    max_skew_s: float = Field(default=300.0, gt=0, le=3600)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # J-Alert: a bridge whose health report (every minute) has not come for this long is shown
    # silent in status, metrics and the console (docs/jalert.md, *Receiver health*).
    bridge_silent_after_s: float = Field(default=300.0, gt=0)


def _resolve(base: Path, p: Path) -> Path:
    return p if p.is_absolute() else (base / p)


def _resolve_sqlite_url(base: Path, url: str) -> str:
    for prefix in ("sqlite+aiosqlite:///", "sqlite:///"):
        if url.startswith(prefix):
            rest = url[len(prefix) :]
            if rest and not rest.startswith("/") and not rest.startswith(":memory:"):
                return prefix + str(base / rest)
    return url


def _resolve_bus_url(base: Path, url: str) -> str:
    if url.startswith("embedded:"):
        rest = url[len("embedded:") :]
        if not rest.startswith("/"):
            return "embedded:" + str(base / rest)
    return url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="BROADCASTER_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    var_dir: Path = Path("var")
    db_url: str = "sqlite+aiosqlite:///var/ledger.sqlite3"
    templates_dir: Path = PROJECT_ROOT / "templates"
    rules_dir: Path = PROJECT_ROOT / "rules"
    tenants_dir: Path | None = None
    outbox_dir: Path = Path("var/outbox")
    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"
    bus: BusSettings = BusSettings()
    web: WebSettings = WebSettings()
    pipeline: PipelineSettings = PipelineSettings()
    guard: GuardSettings = GuardSettings()
    # Deployment-wide channel settings; a tenant's own section overrides them.
    channels: dict[str, ChannelSettings] = Field(
        default_factory=lambda: {name: ChannelSettings(enabled=name not in OFF_BY_DEFAULT) for name in DEFAULT_CHANNELS}
    )
    tenants: dict[str, TenantSettings] = Field(default_factory=dict)
    # Polled sources by name ([ingest.jma]); each runs as stage ingest:<name> when enabled.
    ingest: dict[str, FeedSourceSettings] = Field(default_factory=lambda: {"jma": FeedSourceSettings()})
    # Signed push endpoints by name ([hooks.jalert], [hooks.lalert]); see broadcaster/web/hooks.py.
    hooks: dict[str, HookSettings] = Field(default_factory=dict)
    # E-circulars to district leaders: link key, reminder and escalation timings (docs/circulars.md).
    circulars: CircularSettings = CircularSettings()
    # Coverage per district: when a district is flagged as under-reached (docs/coverage.md).
    coverage: CoverageSettings = CoverageSettings()
    # Personal data at rest: the data key, and how long dispatches keep their recipients
    # (broadcaster/privacy.py, docs/privacy.md).
    privacy: PrivacySettings = PrivacySettings()

    @field_validator("channels", mode="before")
    @classmethod
    def _standard_channels(cls, v: Any) -> Any:
        # The standard channels always exist (rules may name them); a deployment disables one
        # with enabled = false rather than by leaving it out.
        if isinstance(v, dict):
            out: dict[str, Any] = {name: {"enabled": False} if name in OFF_BY_DEFAULT else {} for name in DEFAULT_CHANNELS}
            for name, given in v.items():
                # An off-by-default channel is turned on by saying so, not by merely having a section.
                out[name] = {**out[name], **given} if name in OFF_BY_DEFAULT and isinstance(given, dict) else given
            return out
        return v

    @field_validator("tenants", mode="before")
    @classmethod
    def _tenant_ids(cls, v: Any) -> Any:
        # In TOML the table name is the id; repeating it inside the table is optional.
        if isinstance(v, dict):
            return {k: ({"id": k, **t} if isinstance(t, dict) and "id" not in t else t) for k, t in v.items()}
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        for key, tenant in self.tenants.items():
            if key != tenant.id:
                raise ValueError(f"tenant table [{key}] has id {tenant.id!r}")
            for d in tenant.delegates:
                if d not in self.tenants:
                    raise ValueError(f"tenant {key}: delegate {d!r} is not a tenant of this deployment")
            for ch in tenant.channels:
                if ch not in self.channels:
                    raise ValueError(f"tenant {key}: channel {ch!r} is not configured for the deployment")
        for name, feed in self.ingest.items():
            if feed.tenant is not None and feed.tenant not in self.tenants:
                raise ValueError(f"ingest {name}: tenant {feed.tenant!r} is not a tenant of this deployment")
        for name, hook in self.hooks.items():
            for key_id, hook_key in hook.keys.items():
                if hook_key.tenant is not None and hook_key.tenant not in self.tenants:
                    raise ValueError(f"hooks.{name}.keys.{key_id}: tenant {hook_key.tenant!r} is not a tenant")
                if name == "lalert" and hook_key.tenant is None:
                    raise ValueError(f"hooks.lalert.keys.{key_id}: an L-Alert key belongs to one tenant")
        return self

    def channel(self, tenant: str | None, name: str) -> ChannelSettings:
        """The deployment's channel settings with what the tenant's own section says on top.

        Only what the town sets itself counts (its credentials, say): the deployment's options
        stay unless the town names them too.
        """
        base = self.channels[name]
        if tenant is None or tenant not in self.tenants or name not in self.tenants[tenant].channels:
            return base
        own = self.tenants[tenant].channels[name]
        update: dict[str, Any] = {}
        for field in own.model_fields_set:
            value = getattr(own, field)
            if field in ("credentials", "options"):
                value = {**getattr(base, field), **value}
            update[field] = value
        return base.model_copy(update=update)

    def resolve_paths(self, base: Path) -> Settings:
        """Relative paths in a config file are relative to that file (or the working directory)."""
        return self.model_copy(
            update={
                "var_dir": _resolve(base, self.var_dir),
                "templates_dir": _resolve(base, self.templates_dir),
                "rules_dir": _resolve(base, self.rules_dir),
                "outbox_dir": _resolve(base, self.outbox_dir),
                "db_url": _resolve_sqlite_url(base, self.db_url),
                "bus": self.bus.model_copy(update={"url": _resolve_bus_url(base, self.bus.url)}),
            }
        )

    def enabled_channels(self) -> list[str]:
        return [name for name, ch in self.channels.items() if ch.enabled]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, TomlConfigSettingsSource(settings_cls)]
        files = _FILE_TENANTS.get(settings_cls, {})
        if files:
            # Weakest of all, and merged key by key with the others: a town's file gives its
            # name and areas, the environment may still add its secrets.
            sources.append(_Given(settings_cls, {"tenants": files}))
        return tuple(sources)


# Tenant files read for a Settings class made by load_settings (pydantic keeps class attributes
# with leading underscores for itself, so they live here).
_FILE_TENANTS: weakref.WeakKeyDictionary[type, dict[str, Any]] = weakref.WeakKeyDictionary()


class _Given(PydanticBaseSettingsSource):
    """Settings values given as a dict (the tenant files)."""

    def __init__(self, settings_cls: type[BaseSettings], values: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self.values = values

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self.values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.values)


def _tenant_files(directory: Path) -> dict[str, Any]:
    tenants: dict[str, Any] = {}
    for path in sorted(directory.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"{path}: {e}") from e
        tenant_id = data.get("id", path.stem)
        tenants[tenant_id] = {"id": tenant_id, **data}
    return tenants


def _tenants_dir(path: Path | None, overrides: dict[str, Any]) -> Path | None:
    """Where the tenant files are, read before the settings are built (they feed them)."""
    if overrides.get("tenants_dir") is not None:
        return Path(overrides["tenants_dir"])
    if os.environ.get("BROADCASTER_TENANTS_DIR"):
        return Path(os.environ["BROADCASTER_TENANTS_DIR"])
    if path is not None:
        try:
            value = tomllib.loads(path.read_text(encoding="utf-8")).get("tenants_dir")
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"{path}: {e}") from e
        return Path(value) if value else None
    return None


def load_settings(config: Path | str | None = None, **overrides: Any) -> Settings:
    """Build the settings; a wrong file or value is a ConfigError naming what is wrong."""
    from pydantic import ValidationError

    path = Path(config) if config else None
    if path is None and os.environ.get("BROADCASTER_CONFIG"):
        path = Path(os.environ["BROADCASTER_CONFIG"])
    if path is not None and not path.is_file():
        raise ConfigError(f"config file not found: {path}")

    base_dir = path.resolve().parent if path is not None else Path.cwd()
    attrs: dict[str, Any] = {"model_config": {**Settings.model_config, "toml_file": path}}
    cls: type[Settings] = type("Settings", (Settings,), attrs)
    tenants_dir = _tenants_dir(path, overrides)
    if tenants_dir is not None:
        _FILE_TENANTS[cls] = _tenant_files(tenants_dir if tenants_dir.is_absolute() else base_dir / tenants_dir)
    try:
        settings = cls(**overrides)
    except ValidationError as e:
        where = f" in {path}" if path else ""
        # Never the input values: a refused value may be a secret (a key one byte too short).
        problems = "\n".join(
            f"  {'.'.join(str(x) for x in err['loc']) or '(settings)'}: {err['msg']}"
            for err in e.errors(include_input=False, include_url=False)
        )
        raise ConfigError(f"invalid settings{where}:\n{problems}") from None
    return settings.resolve_paths(base_dir)
