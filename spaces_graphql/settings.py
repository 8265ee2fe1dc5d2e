"""Settings: one immutable object, built once at start-up and passed down.

Precedence: command-line flags, then ``SPACES_GRAPHQL_*`` environment
variables, then the defaults below. Nothing else in the project reads the
environment.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

Profile = Literal["development", "production"]
BatchIds = Literal["auto", "on", "off"]

ENV_PREFIX = "SPACES_GRAPHQL_"


class SettingsError(ValueError):
    """A setting has a value the facade cannot run with."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable about the facade (see the README's table)."""

    upstream_url: str = "http://127.0.0.1:8081/api/v1"
    host: str = "127.0.0.1"
    port: int = 8080
    profile: Profile = "production"
    workers: int = 1
    #: Whether the upstream answers ``GET /customers?ids=a,b``; ``auto`` probes it once.
    batch_ids: BatchIds = "auto"
    #: Upper bound on concurrent upstream requests made for one GraphQL operation.
    max_concurrency: int = 32
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    pool_timeout: float = 5.0
    max_connections: int = 100
    max_keepalive_connections: int = 50
    #: Plain-HTTP upstreams are refused unless they are loopback (the sandbox).
    allow_insecure_upstream: bool = False
    #: Development only: REST Hook targets may be loopback (http or https) for local receivers.
    allow_loopback_targets: bool = False
    log_level: str = "info"
    #: Where the upstream reaches this facade (REST Hook targets); default: the listen address.
    public_url: str = ""
    #: Redis for cross-process event fan-out (also read from ``REDIS_URL``); empty: in-process.
    redis_url: str = ""
    #: File recording this process's REST Hooks, so a restart can remove stale ones.
    hook_state_path: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def hooks_public_url(self) -> str:
        """The base URL the upstream uses to reach this facade."""
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def development(self) -> bool:
        """True in the development profile (GraphiQL, introspection, suggestions)."""
        return self.profile == "development"

    def __post_init__(self) -> None:
        validate(self)

    @classmethod
    def load(
        cls, overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Build settings from flags (``overrides``, ``None`` values ignored), then the env."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name == "extra":
                continue
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None:
                values[f.name] = _coerce(f.name, raw, f.type)
        if "redis_url" not in values and env.get("REDIS_URL"):
            values["redis_url"] = env["REDIS_URL"]
        for key, value in (overrides or {}).items():
            if value is not None:
                values[key] = value
        return cls(**values)


def _coerce(name: str, raw: str, type_: Any) -> Any:
    text = str(type_)
    try:
        if text == "int":
            return int(raw)
        if text == "float":
            return float(raw)
        if text == "bool":
            lowered = raw.strip().lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off"}:
                return False
            raise ValueError(raw)
    except ValueError as exc:
        raise SettingsError(f"{ENV_PREFIX}{name.upper()}: cannot read {raw!r} as {text}") from exc
    return raw


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals (v4 or v6)."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate(s: Settings) -> None:
    """Refuse settings that cannot work, with a message that names the setting."""
    parts = urlsplit(s.upstream_url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise SettingsError(f"upstream_url must be an absolute http(s) URL, not {s.upstream_url!r}")
    if (
        parts.scheme == "http"
        and not is_loopback_host(parts.hostname)
        and not s.allow_insecure_upstream
    ):
        raise SettingsError(
            "upstream_url uses plain HTTP to a non-loopback host; Spaces requires HTTPS "
            "(set allow_insecure_upstream only for a trusted private network)"
        )
    if s.profile not in ("development", "production"):
        raise SettingsError(f"profile must be development or production, not {s.profile!r}")
    if s.batch_ids not in ("auto", "on", "off"):
        raise SettingsError(f"batch_ids must be auto, on or off, not {s.batch_ids!r}")
    if not 1 <= s.max_concurrency <= 256:
        raise SettingsError("max_concurrency must be within 1..256")
    if s.public_url:
        pub = urlsplit(s.public_url)
        if pub.scheme not in {"http", "https"} or not pub.hostname:
            raise SettingsError(f"public_url must be an absolute http(s) URL, not {s.public_url!r}")
    if s.workers < 1:
        raise SettingsError("workers must be at least 1")
