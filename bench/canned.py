"""A canned HTTP/1.1 upstream for engine measurements: ``python -m bench.canned PORT DELAY_MS``.

Every request gets the same ~2 KiB JSON answer (with an ``ETag``) after ``DELAY_MS``, on a
keep-alive connection; it parses only the request head (and skips a ``Content-Length``
body). Run as its own process so that its CPU is never counted as the client's.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import orjson

BODY = orjson.dumps({"data": [{"id": f"cus_{i:04d}", "name": "Ada Lovelace", "email":
                               "ada@example.com", "created": 1700000000 + i} for i in range(24)],
                     "has_more": False})  # fmt: skip
HEAD = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\netag: \"canned\"\r\n"
        b"content-length: %d\r\n\r\n" % len(BODY))  # fmt: skip
RESPONSE = HEAD + BODY


class Canned(asyncio.Protocol):
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.buf = b""
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # uvloop's is no asyncio.Transport subclass

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while (end := self.buf.find(b"\r\n\r\n")) >= 0:
            head = self.buf[:end].lower()
            length = 0
            at = head.find(b"content-length:")
            if at >= 0:
                length = int(head[at + 15 :].split(b"\r\n", 1)[0])
            if len(self.buf) < end + 4 + length:
                return
            self.buf = self.buf[end + 4 + length :]
            loop = asyncio.get_running_loop()
            if self.delay:
                loop.call_later(self.delay, self._answer)
            else:
                self._answer()

    def _answer(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(RESPONSE)


async def serve(port: int, delay: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Canned(delay), "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    port, delay_ms = int(sys.argv[1]), float(sys.argv[2])
    try:
        import uvloop

        uvloop.run(serve(port, delay_ms / 1000))
    except ImportError:  # pragma: no cover
        asyncio.run(serve(port, delay_ms / 1000))


if __name__ == "__main__":
    main()
