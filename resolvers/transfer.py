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
    async with (
        asyncio.timeout(within),
        http.stream(
            method,
            # Absolute, query included: httpx parses it once instead of three times.
            url,
            json=json_body,
            headers=dict(headers),
        ) as response,
    ):
        declared = response.headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            raise BodyTooLarge(f"the Spaces API answered with {declared} bytes (limit {limit})")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                # Leaving the block closes the stream: the rest is never read.
                raise BodyTooLarge(f"the Spaces API answered with more than {limit} bytes")
            chunks.append(chunk)
        # What ``Response.aread()`` does, bounded: ``content`` is then readable once the
        # stream is closed, without copying the response (and its headers) into a new one.
        response._content = b"".join(chunks)
    return response
