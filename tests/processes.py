"""Spawning the CLI's sandbox and facade as real processes on loopback ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def spawn(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """``spaces-graphql ARGS`` as a child process (its own process group)."""
    return subprocess.Popen(
        [sys.executable, "-m", "spaces_graphql.cli", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )


def wait_for(url: str, proc: subprocess.Popen[bytes], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


def stop(proc: subprocess.Popen[bytes], hard: bool = False) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGKILL if hard else signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def start_sandbox() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = spawn("sandbox", "--port", str(port))
    wait_for(f"http://127.0.0.1:{port}/_sandbox/stats", proc)
    return proc, f"http://127.0.0.1:{port}"


def start_facade(
    sandbox: str, *extra: str, env: dict[str, str] | None = None, port: int | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    port = port or free_port()
    proc = spawn("serve", "--port", str(port), "--upstream", f"{sandbox}/api/v1", *extra, env=env)
    wait_for(f"http://127.0.0.1:{port}/healthz", proc)
    return proc, f"http://127.0.0.1:{port}"


def need_redis() -> None:
    """Skip the calling test without a Redis on 127.0.0.1:6379; under ``CI=true``, fail it."""
    try:
        out = subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "ping"], capture_output=True, timeout=3, check=False
        )
        ok = out.stdout.strip() == b"PONG"
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    if not ok:
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs Redis on 127.0.0.1:6379")
        pytest.skip("no Redis on 127.0.0.1:6379")
