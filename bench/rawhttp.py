"""A minimal keep-alive HTTP/1.1 client for load generation.

A load generator must cost less than what it measures: this one sends a
prepared request and reads one ``Content-Length`` response, nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib


class RawClient:
    """One keep-alive connection that POSTs JSON bodies to one path."""

    def __init__(self, host: str, port: int, path: str, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        head = f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        head += "Content-Type: application/json\r\nConnection: keep-alive\r\n"
        self._head = head.encode("latin-1")
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self._reader, self._writer

    async def post(self, body: bytes) -> tuple[int, bytes]:
        """Send one request; the status code and the response body."""
        try:
            return await self._post(body)
        except (ConnectionError, asyncio.IncompleteReadError):
            await self.close()
            return await self._post(body)  # the server closed an idle connection: once more

    async def _post(self, body: bytes) -> tuple[int, bytes]:
        reader, writer = await self._connect()
        writer.write(self._head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length, close = None, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
            elif name == b"transfer-encoding":
                raise RuntimeError("chunked responses are not expected from /graphql")
        if length is None:
            raise RuntimeError("no Content-Length in the response")
        data = await reader.readexactly(length)
        if close:
            await self.close()
        return status, data

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None
