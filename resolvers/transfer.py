"""Moving bytes to and from the upstream: bounded body reads and JSON decoding.

Helpers of ``resolvers/client.py``, which decides when they are used and with
which limits; nothing here chooses a policy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import httpx
import orjson

from resolvers.errors import MalformedPayload, UpstreamError

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
        try:
            declared = response.headers.get("content-length", "")
            if declared.isascii() and declared.isdigit() and int(declared) > limit:
                raise BodyTooLarge(f"the Spaces API answered with {declared} bytes (limit {limit})")
            stream = response.stream
            bounded = getattr(stream, "read_bounded", None)
            if bounded is not None and "content-encoding" not in response.headers:
                # The engine's own bounded read (resolvers/wire.py): no decoder to apply.
                body = await bounded(limit)
                if body is None:
                    raise BodyTooLarge(f"the Spaces API answered with more than {limit} bytes")
            else:
                body = await _read_decoded(response, limit)
            # What ``Response.aread()`` does, bounded: ``content`` is then readable once
            # the stream is closed, without copying the response into a new one.
            response._content = body
        finally:
            # Closing before the end drops the connection: the rest is never read.
            await response.aclose()
    return response


async def _read_decoded(response: httpx.Response, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"the Spaces API answered with more than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
