"""``make wheel-check``: the built wheel works on its own, outside the checkout.

Builds the sdist and, from it, the wheel (``uv build``, from a pristine copy of the
tree); checks that both carry every file of
the runtime packages (so a new subpackage, template or static file cannot be left out);
installs the wheel with the locked runtime set (``requirements.lock``, hashes required) into a
fresh venv in a temp dir; runs ``spaces-graphql demo`` (the sandbox and the facade, two
processes) from that temp dir and asks it for the GraphiQL page, every GraphiQL asset the page
loads and one nested query answered with the sandbox's data. Loopback only; about 20-40 s.

Standard library only: it runs under the machine's ``python3``. ``UV`` names the uv binary.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parent.parent
#: The import packages the wheel ships (pyproject's packages.find include patterns).
PACKAGES = ("graph", "resolvers", "sandbox", "spaces_graphql")
TOKEN = "demo-alice"
QUERY = "{ customers(first: 3) { nodes { name subscriptions(first: 2) { nodes { status } } } } }"
#: Generous: CI shares two cores with other work.
READY_SECONDS = 60.0
#: Left out of the pristine copy the archives are built from: a stale ``*.egg-info`` in the
#: checkout (the editable install's) would add files that pyproject.toml no longer names.
NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".tools",
    "node_modules",
    "*.egg-info",
    "build",
    "dist",
    "__pycache__",
    ".*_cache",
    "artifacts",
)


def fail(message: str) -> NoReturn:
    """Stop the check with a message (exit status 1)."""
    print(f"wheel-check: FAILED: {message}", file=sys.stderr)
    raise SystemExit(1)


def run(*args: str | Path, cwd: Path = ROOT) -> None:
    """Run a command, failing the check when it fails."""
    print("wheel-check: $", " ".join(str(a) for a in args), flush=True)
    if subprocess.run([str(a) for a in args], cwd=cwd).returncode != 0:
        fail(f"{args[0]} {args[1]} exited non-zero")


def runtime_files() -> set[str]:
    """Every file of the runtime packages in the checkout (paths relative to the root)."""
    found: set[str] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*"):
            rel = path.relative_to(ROOT)
            skip = any(p == "__pycache__" or p.startswith(".") for p in rel.parts)
            if path.is_file() and not skip and path.suffix not in {".pyc", ".pyo"}:
                found.add(rel.as_posix())
    return found


def check_contents(wheel: Path, sdist: Path) -> None:
    """Both archives carry every runtime file; the wheel carries nothing else but metadata."""
    expected = runtime_files()
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = set(archive.namelist())
    missing = sorted(expected - in_wheel)
    if missing:
        fail(f"{wheel.name} lacks {len(missing)} runtime file(s): {missing[:10]}")
    tops = {name.split("/", 1)[0] for name in in_wheel}
    extra = sorted(t for t in tops if t not in PACKAGES and not t.endswith(".dist-info"))
    if extra:
        fail(f"{wheel.name} ships more than the runtime packages: {extra}")
    with tarfile.open(sdist) as archive:
        in_sdist = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    missing = sorted(expected - in_sdist)
    if missing:
        fail(f"{sdist.name} lacks {len(missing)} runtime file(s): {missing[:10]}")
    print(f"wheel-check: {wheel.name} and {sdist.name} carry all {len(expected)} runtime files")


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def get(url: str, headers: dict[str, str] | None = None, body: bytes | None = None) -> bytes:
    """One HTTP request; the body of a 200 answer, or the check fails."""
    request = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            if response.status != 200:
                fail(f"{url}: HTTP {response.status}")
            data: bytes = response.read()
            return data
    except urllib.error.HTTPError as exc:
        fail(f"{url}: HTTP {exc.code}: {exc.read()[:300]!r}")


def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    """Poll ``url`` until it answers; fail when the demo exits or takes too long."""
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            fail(f"spaces-graphql demo exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    fail(f"{url} did not answer within {READY_SECONDS:.0f} s")


def exercise(port: int) -> None:
    """The GraphiQL page, its assets and one nested query answered with sandbox data."""
    base = f"http://127.0.0.1:{port}"
    page = get(base + "/graphql", {"Accept": "text/html"}).decode()
    assets = re.findall(r'(?:src|href)="(/graphiql-assets/[^"]+)"', page)
    if "graphiql" not in page.lower() or len(assets) < 2:
        fail(f"GET /graphql (text/html) is not the GraphiQL page: {page[:200]!r}")
    for asset in assets:
        if not get(base + asset):
            fail(f"{asset} is empty")
    body = json.dumps({"query": QUERY}).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    answer = json.loads(get(base + "/graphql", headers, body))
    nodes = (answer.get("data") or {}).get("customers", {}).get("nodes") or []
    if answer.get("errors") or not nodes or not all(n.get("name") for n in nodes):
        fail(f"the query did not answer sandbox data: {json.dumps(answer)[:300]}")
    print(f"wheel-check: GraphiQL page + {len(assets)} assets served; the query answered "
          f"{len(nodes)} customers, e.g. {nodes[0]['name']!r}")  # fmt: skip


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the demo's process group (the facade and its sandbox child)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def main() -> int:
    """Build, inspect, install outside the checkout, run the demo, query it."""
    started = time.monotonic()
    uv = os.environ.get("UV") or shutil.which("uv") or fail("set UV to the uv binary")
    work = Path(tempfile.mkdtemp(prefix="spaces-graphql-wheel-"))
    try:
        source, dist = work / "source", work / "dist"
        shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
        run(uv, "build", "--quiet", "--out-dir", dist, source, cwd=work)
        wheels, sdists = sorted(dist.glob("*.whl")), sorted(dist.glob("*.tar.gz"))
        if len(wheels) != 1 or len(sdists) != 1:
            fail(f"expected one wheel and one sdist in {dist}, found {wheels + sdists}")
        check_contents(wheels[0], sdists[0])

        venv = work / "venv"
        python = venv / "bin" / "python"
        run(uv, "venv", "--quiet", "--python", sys.executable, venv)
        run(uv, "pip", "install", "--quiet", "--python", python, "--require-hashes",
            "-r", ROOT / "requirements.lock")  # fmt: skip
        run(uv, "pip", "install", "--quiet", "--python", python, "--no-deps", wheels[0])
        run(uv, "pip", "check", "--python", python)
        where = subprocess.run(
            [python, "-c", "import sandbox, spaces_graphql; print(spaces_graphql.__file__)"],
            cwd=work, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        if not Path(where).is_relative_to(venv):
            fail(f"spaces_graphql imports from {where}, not from the clean venv")

        port, sandbox_port = free_port(), free_port()
        log = (work / "demo.log").open("wb")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SPACES_GRAPHQL_")}
        env.pop("PYTHONPATH", None)
        demo = subprocess.Popen(
            [venv / "bin" / "spaces-graphql", "demo",
             "--port", str(port), "--sandbox-port", str(sandbox_port)],
            cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            wait_ready(f"http://127.0.0.1:{port}/healthz", demo)
            exercise(port)
        except SystemExit:
            log.flush()
            print((work / "demo.log").read_text(errors="replace")[-3000:], file=sys.stderr)
            raise
        finally:
            stop(demo)
            log.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"wheel-check: ok in {time.monotonic() - started:.1f} s (outside the checkout)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
