"""Command line and uvicorn runner (``python -m sandbox`` and ``spaces-graphql sandbox``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import uvicorn

from sandbox.app import create_app
from sandbox.config import SandboxConfig
from sandbox.dialects import DIALECTS, dialect_for


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the sandbox's options (including --host and --port) to ``parser``."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8081, help="port to bind (default 8081)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the generated data")
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="delay every /api/v1 answer by this many milliseconds",
    )
    parser.add_argument(
        "--no-batch-ids",
        dest="batch_ids",
        action="store_false",
        help="turn off ?ids=a,b,c on /customers and /invoices",
    )
    parser.add_argument(
        "--no-etag", dest="etag", action="store_false", help="turn off ETag and If-None-Match"
    )
    parser.add_argument(
        "--no-multi-filters",
        dest="multi_filters",
        action="store_false",
        help="turn off ?customer=a,b,c on /subscriptions and /invoices",
    )
    parser.add_argument(
        "--db",
        dest="db_path",
        default=None,
        metavar="PATH",
        help="SQLite file to use: seeded when empty, reused otherwise "
        "(default: a private in-memory copy)",
    )
    parser.add_argument(
        "--hook-retry-seconds",
        type=float,
        default=3600.0,
        help="delay between REST Hooks delivery attempts (default 3600)",
    )
    parser.add_argument(
        "--hook-allow-any-host",
        action="store_true",
        help="deliver REST Hooks to non-loopback hosts too",
    )
    parser.add_argument(
        "--dialect",
        choices=DIALECTS,
        default="spaces",
        help="the upstream dialect served (docs/dialects.md; default spaces)",
    )
    parser.add_argument(
        "--api-key",
        default="l27-sandbox-key",
        metavar="KEY",
        help="launch27's integration key, X-API-Key (default l27-sandbox-key)",
    )


def config_from_args(ns: argparse.Namespace) -> SandboxConfig:
    """The :class:`SandboxConfig` described by parsed ``add_arguments`` options."""
    return SandboxConfig(
        seed=ns.seed,
        latency_ms=ns.latency_ms,
        batch_ids=ns.batch_ids,
        etag=ns.etag,
        multi_filters=ns.multi_filters,
        db_path=ns.db_path,
        hook_retry_seconds=getattr(ns, "hook_retry_seconds", 3600.0),
        hook_allow_any_host=getattr(ns, "hook_allow_any_host", False),
        dialect=getattr(ns, "dialect", None) or SandboxConfig.dialect,
        api_key=getattr(ns, "api_key", None) or SandboxConfig.api_key,
    )


def banner(config: SandboxConfig, host: str = "127.0.0.1", port: int = 8081) -> str:
    """The start-up line: where, which dialect, and how to authenticate in it."""
    return (
        f"Spaces sandbox on http://{host}:{port}/api/v1 (seed {config.seed}, "
        f"dialect {config.dialect}); {dialect_for(config).banner()}"
    )


def run(config: SandboxConfig, host: str = "127.0.0.1", port: int = 8081) -> None:
    """Serve the sandbox with uvicorn until interrupted (blocking)."""
    app = create_app(config)
    print(banner(config, host, port), file=sys.stderr, flush=True)
    uvicorn.run(app, host=host, port=port, log_level="info")


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m sandbox [options]``."""
    parser = argparse.ArgumentParser(
        prog="python -m sandbox", description="Serve the Spaces-compatible sandbox REST API."
    )
    add_arguments(parser)
    ns = parser.parse_args(argv)
    run(config_from_args(ns), host=ns.host, port=ns.port)
