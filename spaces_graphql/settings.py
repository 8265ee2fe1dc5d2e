"""Settings: one immutable object, built once at start-up and passed down.

Precedence: command-line flags, then ``SPACES_GRAPHQL_*`` environment
variables, then the defaults below. Nothing else in the project reads the
environment.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from graph.config import GraphConfig
from resolvers.config import UpstreamConfig, UpstreamDialect

Profile = Literal["development", "production"]
BatchIds = Literal["auto", "on", "off"]
UpstreamEngineName = Literal["httpcore", "aiohttp", "httptools"]
LogFormat = Literal["json", "text"]
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
UPSTREAM_DIALECTS = ("spaces", "spotcap", "launch27")

ENV_PREFIX = "SPACES_GRAPHQL_"
#: ``federation_version``'s default (``graph.federation.DEFAULT_VERSION``, checked by test):
#: Hive Gateway's bundled composition knows federation v2.0 to v2.9.
DEFAULT_FEDERATION_VERSION = "2.9"


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
    #: Upper bound on concurrent upstream requests made for one GraphQL operation. 100 is
    #: the upstream's page size: one page of parents fans out into at most 100 child
    #: requests, which then go in one wave (design principle 3) instead of four.
    max_concurrency: int = 100
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    #: Seconds a call may wait for an upstream connection (the facade's admission queue,
    #: in front of httpx's pool); past it only that call fails, with UPSTREAM_TIMEOUT.
    pool_timeout: float = 5.0
    #: Upstream connections per process. Three times one token's share: a token whose
    #: requests hang holds at most a third, and everyone else finds free connections.
    max_connections: int = 300
    #: One token's share of the pool (its calls beyond it queue, fairly among tokens).
    #: 100 = ``max_concurrency``: one page of parents' children still goes in one wave.
    max_connections_per_token: int = 100
    #: A whole wave (``max_concurrency``): a 100-wide wave reuses its connections next time.
    max_keepalive_connections: int = 100
    #: Idle seconds before a pooled connection is dropped rather than reused. Below the
    #: common 5 s server keep-alive (uvicorn's, the sandbox's): reusing a connection the
    #: server is closing at that moment fails the request, and writes are never retried.
    keepalive_expiry: float = 4.0
    #: The HTTP engine under the upstream ``httpx.AsyncClient`` (``resolvers/engine.py``):
    #: httptools (``resolvers/wire.py``) costs the least per request, and the same however
    #: many are pooled or in flight (``python -m bench engine``).
    upstream_engine: UpstreamEngineName = "httptools"
    #: The collector's first threshold in a serving process (``spaces_graphql/gc_tuning.py``):
    #: an operation allocates tens of thousands of short-lived objects, and Python's 700
    #: made collection ~10 % of W3's CPU. 0 leaves the interpreter's defaults.
    gc_threshold: int = 20_000
    #: The execution short paths (graph/fast_paths.py, graph/executor.py): direct resolvers
    #: and lean leaf completion. Off: Strawberry's and graphql-core's own chain only.
    short_paths: bool = True
    #: Plain-HTTP upstreams are refused unless they are loopback (the sandbox).
    allow_insecure_upstream: bool = False
    #: Development only: REST Hook targets may be loopback (http or https) for local receivers.
    allow_loopback_targets: bool = False
    log_level: str = "info"
    #: ``json``: one JSON object per line on stderr (access log included); ``text``: for humans.
    log_format: LogFormat = "json"
    #: Production: ``/metrics`` answers only ``Authorization: Bearer <this>``; empty: 404.
    metrics_token: str = field(default="", repr=False)
    #: Where the upstream reaches this facade (REST Hook targets); default: the listen address.
    public_url: str = ""
    #: Redis for cross-process event fan-out (also read from ``REDIS_URL``); empty: in-process.
    redis_url: str = ""
    #: Without Redis: file recording this process's REST Hooks (tokens sealed), so a
    #: restart removes what a crash left. With Redis, Redis holds the records.
    hook_state_path: str = ""
    #: Key sealing the tokens kept to delete orphan REST Hooks (16+ characters); empty:
    #: one is generated per deployment (in Redis, or beside the state file).
    hook_state_key: str = field(default="", repr=False)
    #: Seconds a process's claim on its REST Hooks (and their secrets) outlives its last
    #: heartbeat (every third of it): how long a crashed process's hooks can linger.
    live_lease_seconds: float = 10.0
    #: Development only: a JSON object of headers prefilled in GraphiQL (``demo`` sets its token).
    ide_default_headers: str = ""
    # --- limits (every rejection costs zero upstream requests) ---
    max_depth: int = 10
    max_aliases: int = 15
    max_tokens: int = 2000
    max_directives: int = 50
    #: Worst-case upstream requests one operation may cause (GitHub-style cost).
    max_cost: int = 250
    #: Query text above this many bytes is parsed and validated but never cached.
    document_cache_entry_bytes: int = 4096
    #: The parse/validation cache's budget in estimated bytes of parsed documents (LRU; 0: off).
    document_cache_bytes: int = 8 * 1024 * 1024
    #: Cost points per token per ``rate_limit_period`` seconds; 0 disables (development's default).
    rate_limit_points: int = 5000
    rate_limit_period: float = 3600.0
    max_body_bytes: int = 1_000_000
    max_header_bytes: int = 16_384
    #: Open WebSocket connections one token may hold (per process); more are closed with 4429.
    max_ws_connections_per_token: int = 16
    # --- persisted queries ---
    #: Automatic persisted queries (Apollo's protocol).
    persisted_queries: bool = True
    #: A manifest file: when set, only its operations run (allowlist mode).
    persisted_query_manifest: str = ""
    #: Comma-separated origins allowed for CORS and WebSockets; empty: none (production).
    #: Development also allows ``http://localhost:*``, ``http://127.0.0.1:*``, ``http://[::1]:*``.
    allowed_origins: str = ""
    # --- compressed answers (spaces_graphql/compression.py) ---
    #: ``/graphql`` JSON answers of at least this many bytes are compressed per
    #: ``Accept-Encoding`` (zstd, br, gzip); 0 (or ``off``): never.
    compression_min_bytes: int = 1024
    #: 1 (fastest) to 9 (smallest): gzip's level; brotli quality and zstd level follow
    #: (see compression.py); 0 (or ``off``): never compress.
    compression_level: int = 6
    #: OpenTelemetry spans (needs the ``otel`` extra; exporters via ``OTEL_*`` variables).
    otel: bool = False
    # --- upstream resilience (resolvers/client.py applies them) ---
    #: Wall-clock budget of one GraphQL operation's upstream calls; later calls fail fast.
    operation_deadline_seconds: float = 30.0
    #: Retries of an idempotent GET after a connection error or 502/503/504 (never writes).
    upstream_retries: int = 2
    upstream_retry_base_seconds: float = 0.025
    upstream_retry_cap_seconds: float = 0.25
    #: Retries may add at most this fraction of the requests of the last 10 s.
    upstream_retry_budget: float = 0.2
    #: Consecutive failures (connection errors, timeouts, 5xx) that open the circuit.
    breaker_failure_threshold: int = 5
    #: How long an open circuit fails fast before one probe is let through.
    breaker_open_seconds: float = 30.0
    #: 5xx, resets and timeouts open the shared circuit only when this many tokens failed
    #: within ``breaker_window_seconds``; one token's failures open that token's own.
    breaker_distinct_callers: int = 3
    breaker_window_seconds: float = 10.0
    #: Per-token breakers kept (least recently used dropped first); only failing tokens count.
    breaker_max_tokens: int = 10_000
    #: Upstream bodies larger than this are refused (UPSTREAM_ERROR), read no further.
    max_upstream_body_bytes: int = 10 * 1024 * 1024
    #: ETag cache: entries (0 turns the cache off), total and per-entry body bytes, lifetime.
    upstream_cache_entries: int = 10_000
    upstream_cache_bytes: int = 64 * 1024 * 1024
    upstream_cache_entry_bytes: int = 1024 * 1024
    upstream_cache_ttl_seconds: float = 600.0
    #: Seconds a cached body is used without revalidation; 0 always revalidates.
    upstream_cache_fresh_seconds: float = 0.0
    # --- the upstream's dialect (resolvers/dialects/, docs/dialects.md) ---
    #: How the upstream speaks: ``spaces`` (the Spaces API itself), ``spotcap`` or ``launch27``.
    #: The GraphQL schema and answers are the same whichever it is.
    upstream_dialect: UpstreamDialect = "spaces"
    #: The integration credential the facade holds for the upstream (launch27's ``X-API-Key``);
    #: never logged or printed.
    upstream_api_key: str = field(default="", repr=False)
    #: Seconds a credential's upstream time zone is remembered (launch27's local date-times).
    upstream_zone_ttl_seconds: float = 300.0
    # --- Apollo Federation (graph/federation.py, docs/federation.md) ---
    #: Serve the schema as an Apollo Federation v2 subgraph at the same ``/graphql``.
    federation: bool = False
    #: The federation spec version the subgraph declares in ``@link`` (Hive Gateway's
    #: composition knows 2.0 to 2.9).
    federation_version: str = DEFAULT_FEDERATION_VERSION
    #: When set, ``_service`` (the subgraph's SDL) answers only requests whose
    #: ``X-Federation-Secret`` header is this (16+ characters); unset, only in development.
    federation_secret: str = field(default="", repr=False)
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def hooks_public_url(self) -> str:
        """The base URL the upstream uses to reach this facade."""
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def origins(self) -> tuple[str, ...]:
        """The allowed origins, parsed."""
        return tuple(o.strip() for o in self.allowed_origins.split(",") if o.strip())

    @property
    def rate_limited(self) -> bool:
        """Rate limiting applies in production (development has none) when configured."""
        return not self.development and self.rate_limit_points > 0

    @property
    def development(self) -> bool:
        """True in the development profile (GraphiQL, introspection, suggestions)."""
        return self.profile == "development"

    def upstream_config(self) -> UpstreamConfig:
        """What ``resolvers/`` reads (client, engine, cache), built once at start-up.

        Its fields have these settings' names, so adding one there is the whole change.
        """
        return UpstreamConfig(**_same_named(self, UpstreamConfig))

    def graph_config(self) -> GraphConfig:
        """What ``graph/`` reads, carried by each operation's context."""
        return GraphConfig(**_same_named(self, GraphConfig))

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


def _same_named(s: Settings, config: type[Any]) -> dict[str, Any]:
    """The values of ``s`` for the fields of the dataclass ``config``."""
    return {f.name: getattr(s, f.name) for f in dataclasses.fields(config)}


def _coerce(name: str, raw: str, type_: Any) -> Any:
    text = str(type_)
    if name.startswith("compression_") and raw.strip().lower() == "off":
        return 0
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
    _validate_logs_and_metrics(s)
    if s.workers < 1:
        raise SettingsError("workers must be at least 1")
    if not 1 <= s.live_lease_seconds <= 300:
        raise SettingsError("live_lease_seconds must be within 1..300")
    if s.hook_state_key and len(s.hook_state_key) < 16:
        raise SettingsError("hook_state_key must be at least 16 characters")
    if s.keepalive_expiry < 0:
        raise SettingsError("keepalive_expiry must not be negative")
    if s.gc_threshold < 0:
        raise SettingsError("gc_threshold must not be negative (0: the interpreter's default)")
    if s.upstream_engine not in ("httpcore", "aiohttp", "httptools"):
        raise SettingsError(
            f"upstream_engine must be httpcore, aiohttp or httptools, not {s.upstream_engine!r}"
        )
    _validate_resilience(s)
    _validate_dialect(s)
    _validate_federation(s)
    if not 0 <= s.compression_level <= 9:
        raise SettingsError("compression_level must be within 0..9 (0 or off: no compression)")
    if not 0 <= s.compression_min_bytes <= 100_000_000:
        raise SettingsError("compression_min_bytes must be within 0..100000000 (0 or off: none)")
    if not 1 <= s.max_ws_connections_per_token <= 10_000:
        raise SettingsError("max_ws_connections_per_token must be within 1..10000")
    for name in ("max_depth", "max_aliases", "max_tokens", "max_directives", "max_cost"):
        if getattr(s, name) < 1:
            raise SettingsError(f"{name} must be at least 1")
    if s.rate_limit_points < 0 or s.rate_limit_period <= 0:
        raise SettingsError("rate_limit_points must be >= 0 and rate_limit_period > 0")
    if s.persisted_query_manifest and not os.path.isfile(s.persisted_query_manifest):
        raise SettingsError(
            f"persisted_query_manifest: no such file {s.persisted_query_manifest!r}"
        )
    if s.ide_default_headers:
        _validate_ide_headers(s)


def _validate_logs_and_metrics(s: Settings) -> None:
    if s.log_level.lower() not in LOG_LEVELS:
        raise SettingsError(
            f"log_level must be one of {', '.join(LOG_LEVELS)}, not {s.log_level!r}"
        )
    if s.log_format not in ("json", "text"):
        raise SettingsError(f"log_format must be json or text, not {s.log_format!r}")
    # A short secret on a public listener can be guessed; whitespace would never match.
    token = s.metrics_token
    if token and (len(token) < 16 or token != token.strip()):
        raise SettingsError("metrics_token must be at least 16 characters, without spaces around")


def _validate_ide_headers(s: Settings) -> None:
    if not s.development:
        raise SettingsError(
            "ide_default_headers is for the development profile only (it prefills GraphiQL)"
        )
    try:
        headers = json.loads(s.ide_default_headers)
    except ValueError:
        headers = None
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise SettingsError('ide_default_headers must be a JSON object of strings, e.g. {"A": "b"}')


def _validate_federation(s: Settings) -> None:
    # Strawberry's own list (what ``@link`` can declare); imported here, not at start-up.
    from strawberry.federation.versions import FEDERATION_VERSIONS

    if s.federation_version not in FEDERATION_VERSIONS:
        raise SettingsError(
            f"federation_version must be one of {', '.join(FEDERATION_VERSIONS)} "
            f"(Apollo Federation v2; Hive Gateway composes up to 2.9), "
            f"not {s.federation_version!r}"
        )
    secret = s.federation_secret
    # Compared with what a gateway sends in a header: a short one can be guessed.
    if secret and (len(secret) < 16 or not secret.isascii() or not secret.isprintable()
                   or secret != secret.strip()):  # fmt: skip
        raise SettingsError(
            "federation_secret must be at least 16 printable ASCII characters, without "
            "spaces around (value not shown)"
        )


def _validate_dialect(s: Settings) -> None:
    if s.upstream_dialect not in UPSTREAM_DIALECTS:
        raise SettingsError(
            f"upstream_dialect must be one of {', '.join(UPSTREAM_DIALECTS)}, "
            f"not {s.upstream_dialect!r}"
        )
    key = s.upstream_api_key
    # The key goes into a header as it is; the message never repeats it.
    if key and (not key.isascii() or not key.isprintable() or key != key.strip()):
        raise SettingsError(
            "upstream_api_key must be printable ASCII, without spaces around (value not shown)"
        )
    if s.upstream_dialect == "launch27" and not key:
        raise SettingsError(
            "upstream_dialect launch27 needs upstream_api_key (SPACES_GRAPHQL_UPSTREAM_API_KEY): "
            "the integration's X-API-Key"
        )
    if not 0 < s.upstream_zone_ttl_seconds <= 86_400:
        raise SettingsError("upstream_zone_ttl_seconds must be within 0..86400 (exclusive of 0)")


def _validate_resilience(s: Settings) -> None:
    positive = (
        "operation_deadline_seconds",
        "breaker_failure_threshold",
        "breaker_open_seconds",
        "max_upstream_body_bytes",
        "upstream_cache_ttl_seconds",
    )
    for name in positive:
        if getattr(s, name) <= 0:
            raise SettingsError(f"{name} must be greater than 0")
    for name in ("breaker_window_seconds", "pool_timeout"):
        if getattr(s, name) <= 0:
            raise SettingsError(f"{name} must be greater than 0")
    if s.breaker_distinct_callers < 1 or s.breaker_max_tokens < 1:
        raise SettingsError("breaker_distinct_callers and breaker_max_tokens must be at least 1")
    if s.max_connections < 1 or s.max_connections_per_token < 1:
        # A share above the pool is the pool: lowering only max_connections stays valid.
        raise SettingsError("max_connections and max_connections_per_token must be at least 1")
    at_least_zero = (
        "upstream_retries",
        "upstream_retry_base_seconds",
        "upstream_retry_cap_seconds",
        "upstream_retry_budget",
        "upstream_cache_entries",
        "upstream_cache_bytes",
        "upstream_cache_entry_bytes",
        "upstream_cache_fresh_seconds",
    )
    for name in at_least_zero:
        if getattr(s, name) < 0:
            raise SettingsError(f"{name} must not be negative")
    if s.upstream_retries > 5:
        raise SettingsError("upstream_retries must be within 0..5")
