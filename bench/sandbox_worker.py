"""One of several sandbox processes sharing a port: ``python -m bench.sandbox_worker``.

``SO_REUSEPORT`` lets the kernel spread connections over every process bound to the
port, so a group of these serves as one sandbox with more capacity (all of them over
the same ``--db`` SQLite file, hence the same data). Used by ``bench/concurrency.py``
so that the facade, not the sandbox, is what saturates.
"""

from __future__ import annotations

import argparse
import socket

import uvicorn

from sandbox.app import create_app
from sandbox.config import SandboxConfig


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sandbox_worker")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--no-batch-ids", dest="batch_ids", action="store_false")
    ns = parser.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", ns.port))
    config = SandboxConfig(latency_ms=ns.latency_ms, batch_ids=ns.batch_ids, db_path=ns.db)
    server = uvicorn.Server(uvicorn.Config(create_app(config), log_level="warning", backlog=2048))
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
