"""Moving bytes to and from the upstream: bounded body reads and JSON decoding.

Helpers of ``resolvers/client.py``, which decides when they are used and with
which limits; nothing here chooses a policy.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import orjson

from resolvers.errors import MalformedPayload, UpstreamError
from resolvers.wire import WireBody

Params = Mapping[str, str | int]


class BodyTooLarge(UpstreamError):
    """The upstream body exceeded ``max_upstream_body_bytes``; it was not read further."""


def decode_json(body: bytes) -> Any:
    """An upstream body as JSON; :class:`MalformedPayload` when it is not JSON."""
    if not body:
        # A DELETE may answer 204 with no body; parsers refuse ``None`` where a body is due.
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedPayload("the Spaces API answered with malformed JSON") from exc


async def exchange(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    json_body: Any,
    limit: int,
    within: float | None,
) -> httpx.Response:
    """One HTTP exchange within ``within`` seconds, its body streamed and cut off past ``limit``.

    Streaming is what makes the limit real: a body is refused by its declared
    length when it has one, and otherwise after ``limit`` bytes, never read
    whole. The answer comes back as a complete, closed ``httpx.Response`` (its body read).
    """
    async with asyncio.timeout(within):
        # ``build_request`` + ``send(stream=True)``: what ``http.stream()`` does, without
        # its context-manager generator.
        request = http.build_request(method, url, json=json_body, headers=headers)
        response = await http.send(request, stream=True)
        # What ``Response.aread()`` does, bounded: ``content`` is then readable once the
        # stream is closed, without copying the response into a new one.
        response._content = await read_body(response, limit)
    return response


async def read_body(
    response: httpx.Response,
    limit: int,
    *,
    decoded: bool = True,
    upstream: str = "the Spaces API",
) -> bytes:
    """The whole body of a streamed ``response``, refused past ``limit`` bytes (by its
    declared length, else as soon as it passes), never read whole; then closed (closing
    before the end drops the connection). ``decoded``: with ``Content-Encoding`` undone,
    ``limit`` bounding the decoded size; otherwise the bytes as sent. ``upstream`` names
    the other side in the refusal."""
    try:
        declared = response.headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            raise BodyTooLarge(f"{upstream} answered with {declared} bytes (limit {limit})")
        stream = response.stream
        if isinstance(stream, WireBody) and not (
            decoded and "content-encoding" in response.headers
        ):
            # The httptools engine's own bounded read, without a generator per body.
            body = await stream.read_bounded(limit)
        else:
            body = await _bounded(
                response.aiter_bytes() if decoded else response.aiter_raw(), limit
            )
        if body is None:
            raise BodyTooLarge(f"{upstream} answered with more than {limit} bytes")
        return body
    finally:
        await response.aclose()


async def _bounded(chunks: AsyncIterator[bytes], limit: int) -> bytes | None:
    """The chunks joined, or ``None`` once they pass ``limit`` bytes (read no further)."""
    kept: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            return None
        kept.append(chunk)
    return b"".join(kept)
