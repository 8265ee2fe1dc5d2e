"""Sandbox and facade processes on loopback ports, and what /proc says about them."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

LOOPBACK = "127.0.0.1"
_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Proc:
    """A child process (its own process group) serving HTTP on ``port``."""

    popen: subprocess.Popen[bytes]
    port: int
    #: Processes serving the same port (a sandbox group), stopped with this one.
    extra: list[Proc] = field(default_factory=list)

    @property
    def pids(self) -> list[int]:
        return [self.pid, *(p.pid for p in self.extra)]

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self) -> None:
        for other in self.extra:
            other.stop()
        if self.popen.poll() is not None:
            return
        os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=5)


def _spawn(
    args: list[str], env: dict[str, str] | None = None, module: str = "spaces_graphql.cli"
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )


def _wait(url: str, proc: subprocess.Popen[bytes], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up in {seconds} s")


def start_sandbox(*, batch_ids: bool, latency_ms: float) -> Proc:
    """``spaces-graphql sandbox`` with the given latency and batch-by-ids capability."""
    port = free_port()
    args = ["sandbox", "--host", LOOPBACK, "--port", str(port), "--latency-ms", str(latency_ms)]
    if not batch_ids:
        args.append("--no-batch-ids")
    proc = Proc(_spawn(args), port)
    _wait(proc.url + "/_sandbox/stats", proc.popen)
    return proc


def start_sandbox_group(*, batch_ids: bool, latency_ms: float, processes: int, db: Path) -> Proc:
    """``processes`` sandboxes on one port (``SO_REUSEPORT``) over one SQLite file; the
    returned :class:`Proc` is the first, ``extra`` holds the others (stop them too)."""
    port = free_port()
    args = ["--port", str(port), "--db", str(db), "--latency-ms", str(latency_ms)]
    if not batch_ids:
        args.append("--no-batch-ids")
    procs = []
    for _ in range(processes):  # one at a time: the first seeds the file
        proc = Proc(_spawn(args, module="bench.sandbox_worker"), port)
        _wait(proc.url + "/_sandbox/stats", proc.popen)
        procs.append(proc)
    first = procs[0]
    first.extra = procs[1:]
    return first


def start_facade(upstream: str, *, workers: int = 1, env: dict[str, str] | None = None) -> Proc:
    """``spaces-graphql serve`` (production profile, default settings) over ``upstream``."""
    port = free_port()
    args = ["serve", "--host", LOOPBACK, "--port", str(port), "--upstream", upstream + "/api/v1",
            "--workers", str(workers)]  # fmt: skip
    # One token stands for every simulated client: the per-token rate limit (a policy,
    # not a cost) would refuse most of the load, so it is off; everything else is default.
    env = {"SPACES_GRAPHQL_LOG_LEVEL": "warning", "SPACES_GRAPHQL_RATE_LIMIT_POINTS": "0",
           **(env or {})}  # fmt: skip
    proc = Proc(_spawn(args, env), port)
    _wait(proc.url + "/healthz", proc.popen)
    if workers > 1:
        time.sleep(1.0)  # let every worker finish importing before it is measured
    return proc


@contextlib.contextmanager
def running(proc: Proc) -> Iterator[Proc]:
    """Stop ``proc`` on the way out, whatever happens."""
    try:
        yield proc
    finally:
        proc.stop()


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants (uvicorn's worker processes)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo += [int(c) for c in task.read_text().split()]
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its live descendants."""
    total = 0.0
    for p in tree(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / _TICKS
    return total


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of ``pid`` and its descendants, summed, in MiB."""
    kb = 0
    for p in tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    kb += int(line.split()[1])
    return kb / 1024


def reset_peak_rss(pid: int) -> bool:
    """Reset VmHWM to the current RSS (``clear_refs`` 5); False where not permitted."""
    ok = True
    for p in tree(pid):
        try:
            Path(f"/proc/{p}/clear_refs").write_text("5")
        except OSError:
            ok = False
    return ok
