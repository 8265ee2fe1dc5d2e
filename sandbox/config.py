"""The sandbox's settings (re-exported by ``sandbox.app``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SandboxConfig:
    """What the sandbox serves and which optional upstream capabilities it offers."""

    seed: int = 42
    latency_ms: float = 0
    batch_ids: bool = True  # GET /customers?ids=a,b,c and /invoices?ids=...
    etag: bool = True  # ETag + If-None-Match -> 304
    multi_filters: bool = True  # ?customer=a,b,c on /subscriptions and /invoices
    db_path: str | None = None  # None: a private copy of the cached seeded template
    hook_retry_seconds: float = 3600.0  # delay between delivery retries (real: hourly)
    hook_max_attempts: int = 24
    hook_timeout_seconds: float = 5.0
    # False: deliver only to loopback hosts; any other target counts as a failed attempt
    # and is never contacted (the sandbox must not send traffic off the machine).
    hook_allow_any_host: bool = False
    # The upstream dialect served (docs/dialects.md): spaces, spotcap or launch27.
    dialect: str = "spaces"
    # launch27's integration key (X-API-Key); also keys its stateless login tokens.
    api_key: str = "l27-sandbox-key"
