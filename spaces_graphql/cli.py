"""The ``spaces-graphql`` command: ``sandbox``, ``serve``, ``demo`` and ``schema``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Literal

import httpx

from spaces_graphql.example import EXAMPLE_QUERY
from spaces_graphql.settings import (
    DEFAULT_FEDERATION_VERSION,
    ENV_PREFIX,
    UPSTREAM_DIALECTS,
    Settings,
    SettingsError,
)

DEMO_TOKEN = "demo-alice"
#: The demo account's login in the launch27 dialect (docs/dialects.md: its own email,
#: its Spaces token as the password).
DEMO_LOGIN = ("alice@example.com", DEMO_TOKEN)


def _serve_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=None, help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port to listen on (8080)")
    parser.add_argument("--upstream", dest="upstream_url", default=None, help="Spaces API base URL")
    parser.add_argument("--profile", choices=["development", "production"], default=None)
    parser.add_argument("--workers", type=int, default=None, help="worker processes (1)")
    parser.add_argument("--batch-ids", choices=["auto", "on", "off"], default=None)
    parser.add_argument(
        "--upstream-dialect",
        choices=UPSTREAM_DIALECTS,
        default=None,
        help="how the upstream speaks (spaces; docs/dialects.md); launch27 also needs "
        f"{ENV_PREFIX}UPSTREAM_API_KEY",
    )
    parser.add_argument(
        "--log-format", choices=["json", "text"], default=None, help="stderr log lines (json)"
    )
    _federation_args(parser, "serve the schema as an Apollo Federation v2 subgraph")


def _federation_args(parser: argparse.ArgumentParser, what: str) -> None:
    # None, not False, when absent: the environment (SPACES_GRAPHQL_FEDERATION) decides then.
    parser.add_argument(
        "--federation", action="store_const", const=True, default=None,
        help=f"{what} ({ENV_PREFIX}FEDERATION; docs/federation.md)",
    )  # fmt: skip
    parser.add_argument(
        "--federation-version", default=None,
        help=f"the federation version declared in @link ({DEFAULT_FEDERATION_VERSION}; "
        f"{ENV_PREFIX}FEDERATION_VERSION)",
    )  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """The command line of design.md."""
    from sandbox.server import add_arguments as sandbox_arguments

    parser = argparse.ArgumentParser(prog="spaces-graphql", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    # The sandbox's own options, --dialect and --api-key included (sandbox/server.py).
    sandbox_arguments(commands.add_parser("sandbox", help="serve the stand-in Spaces API"))
    _serve_args(commands.add_parser("serve", help="serve the GraphQL facade"))
    _federation_args(
        commands.add_parser("schema", help="print the schema (SDL), or the subgraph's"),
        "print the Apollo Federation subgraph's SDL (what `_service { sdl }` answers)",
    )
    demo = commands.add_parser("demo", help="a sandbox and the facade together, with GraphiQL")
    demo.add_argument("--port", type=int, default=8080, help="the facade's port (8080)")
    demo.add_argument("--sandbox-port", type=int, default=8081, help="the sandbox's port (8081)")
    demo.add_argument("--latency-ms", type=float, default=0, help="sandbox latency per request")
    demo.add_argument(
        "--dialect",
        choices=UPSTREAM_DIALECTS,
        default="spaces",
        help="the dialect the sandbox speaks and the facade fronts (spaces)",
    )
    return parser


def settings_from_args(ns: argparse.Namespace, **fixed: object) -> Settings:
    """Flags override the environment; the environment overrides defaults."""
    names = {f.name for f in dataclasses.fields(Settings)}
    overrides = {k: v for k, v in vars(ns).items() if k in names}
    overrides.update(fixed)
    return Settings.load(overrides)


def _fast_server() -> tuple[Literal["uvloop", "asyncio"], Literal["httptools", "h11"]]:
    """uvloop and httptools (``uvicorn[standard]``); uvicorn's pure-Python defaults only where
    they cannot be installed (uvloop has no Windows build)."""
    import importlib.util

    loop: Literal["uvloop", "asyncio"] = (
        "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    )
    http: Literal["httptools", "h11"] = (
        "httptools" if importlib.util.find_spec("httptools") else "h11"
    )
    return loop, http


def serve(settings: Settings) -> None:
    """Run the facade under uvicorn with uvloop and httptools.

    Logging goes to stderr in ``settings.log_format`` (JSON by default): uvicorn applies
    the ``log_config`` dict in this process and in each ``--workers`` process it spawns.
    """
    import logging.config

    import uvicorn

    from spaces_graphql.logs import log_config

    # Here too, before the app is built: whatever is logged while it starts is formatted.
    logging.config.dictConfig(log_config(settings.log_level, settings.log_format))
    loop, http = _fast_server()
    if settings.workers > 1:
        # Worker processes rebuild the same settings from the environment.
        for f in dataclasses.fields(Settings):
            if f.name != "extra":
                os.environ[ENV_PREFIX + f.name.upper()] = str(getattr(settings, f.name))
        uvicorn.run(
            "spaces_graphql.app:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            loop=loop,
            http=http,
            server_header=False,
            log_config=log_config(settings.log_level, settings.log_format),
            log_level=settings.log_level.lower(),
            access_log=False,
        )
        return
    from spaces_graphql.app import create_app

    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop=loop,
        http=http,
        # Say nothing about the server software (security scanners flag it).
        server_header=False,
        log_config=log_config(settings.log_level, settings.log_format),
        log_level=settings.log_level.lower(),
        # Our access log (one line per operation, both transports) replaces uvicorn's.
        access_log=False,
    )


def print_schema_sdl(settings: Settings) -> None:
    """``spaces-graphql schema``: the schema ``serve`` would serve with these settings, in SDL
    (``schema.graphql``; with ``federation``, the subgraph's, for offline composition)."""
    from spaces_graphql.printschema import printed

    sys.stdout.write(printed(settings.federation_version if settings.federation else None))


def _wait_ready(url: str, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1.0)
            return True
        except httpx.HTTPError:
            time.sleep(0.1)
    return False


def demo(ns: argparse.Namespace) -> int:
    """Start a sandbox subprocess and the facade in one dialect; print where to go and what
    to paste."""
    from sandbox.config import SandboxConfig

    # A namespace built by hand (tests) may lack the flag: the default dialect.
    dialect: str = getattr(ns, "dialect", "spaces")
    # The facade holds the sandbox's integration key (launch27; the other dialects have none).
    api_key = SandboxConfig().api_key if dialect == "launch27" else ""
    sandbox_cmd = [
        sys.executable, "-m", "sandbox", "--port", str(ns.sandbox_port),
        "--latency-ms", str(ns.latency_ms), "--dialect", dialect,
    ]  # fmt: skip
    if api_key:
        # Passed, not assumed: the facade and the sandbox hold the same key.
        sandbox_cmd += ["--api-key", api_key]
    child = subprocess.Popen(sandbox_cmd)
    try:
        base = f"http://127.0.0.1:{ns.sandbox_port}"
        if not _wait_ready(base + "/_sandbox/stats"):
            print("the sandbox did not start", file=sys.stderr)
            return 1
        settings = Settings.load(
            {
                "port": ns.port,
                "upstream_url": base + "/api/v1",
                "upstream_dialect": dialect,
                "upstream_api_key": api_key or None,
                "profile": "development",
                "host": "127.0.0.1",
                # The demo is watched by a person in a terminal.
                "log_format": "text",
                # Only the demo prefills GraphiQL's headers editor with a token (launch27's
                # comes from the login mutation).
                "ide_default_headers": ""
                if dialect == "launch27"
                else json.dumps({"Authorization": f"Bearer {DEMO_TOKEN}"}),
            }
        )
        print(_demo_banner(ns.port, base, dialect) + f"  Try:\n{EXAMPLE_QUERY}\n", flush=True)
        serve(settings)
        return 0
    finally:
        child.send_signal(signal.SIGINT)
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()


def _demo_banner(port: int, base: str, dialect: str) -> str:
    lines = [
        "",
        f"  spaces-graphql demo (upstream dialect: {dialect})",
        f"  GraphiQL:   http://127.0.0.1:{port}/graphql",
    ]
    if dialect == "launch27":
        email, password = DEMO_LOGIN
        lines += [
            f'  Log in:     mutation {{ login(input: {{email: "{email}", password: "{password}"}})'
            " { token userErrors { code message } } }",
            "  Header:     Authorization: Bearer <the token>",
            f"  Sandbox:    {base}/api/v1  (its start-up line names its X-API-Key)",
        ]
    else:
        lines.append(f"  Header:     Authorization: Bearer {DEMO_TOKEN}   (or demo-bob)")
        curl = f"curl -u {DEMO_TOKEN}: {base}/api/v1/customers"
        if dialect == "spotcap":
            curl = (
                f"curl -H 'Authorization: {DEMO_TOKEN}' "
                f"-H 'Accept: application/vnd.spaces+json; version=1' {base}/api/v1/customers"
            )
        lines.append(f"  Sandbox:    {base}/api/v1  ({curl})")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``spaces-graphql`` console script."""
    parser = build_parser()
    ns = parser.parse_args(argv)
    try:
        if ns.command == "sandbox":
            from sandbox.server import config_from_args, run

            run(config_from_args(ns), host=ns.host, port=ns.port)
            return 0
        if ns.command == "serve":
            serve(settings_from_args(ns))
            return 0
        if ns.command == "schema":
            print_schema_sdl(settings_from_args(ns))
            return 0
        return demo(ns)
    except SettingsError as exc:
        parser.error(str(exc))
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
