"""One GraphQL operation's view of the upstream client, bound to the caller's token."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from resolvers.cache import token_hash
from resolvers.records import Page, parse_page
from resolvers.resilience import current_scope
from resolvers.transfer import Params, decode_json
from resolvers.upstream import basic_auth, error_for_status

if TYPE_CHECKING:
    from resolvers.client import SpacesClient

T = TypeVar("T")


class UpstreamSession:
    """The caller's token plus this operation's concurrency bound and request count."""

    def __init__(self, client: SpacesClient, token: str, traceparent: str | None = None) -> None:
        self.client = client
        self._auth = basic_auth(token)
        self._token_digest = token_hash(token)
        self._slots = asyncio.Semaphore(client.config.max_concurrency)
        # The only header besides auth that goes upstream: W3C trace context.
        self._trace = {"traceparent": traceparent} if traceparent else {}
        self.requests = 0
        self.cache_hits = 0

    async def request(
        self,
        method: str,
        path: str,
        params: Params | None = None,
        json_body: Any = None,
        parse: Callable[[Any], Any] | None = None,
        tracked: bool = False,
    ) -> Any:
        """Send one upstream request and return its decoded JSON body.

        Raises a :class:`SpacesGraphQLError` subclass for every failure, so a
        failure surfaces on the field that needed it. GETs go through the ETag
        cache and single flight and may be retried; writes are sent once.
        ``tracked``: the caller runs in a task the operation's scope cancels when
        the operation ends (a page's read), so a GET needs no task of its own.
        """
        async with self._slots:
            self.requests += 1
            if method != "GET":
                response = await self.client._send(
                    method,
                    path,
                    self.client.url(path, params),
                    {**self._trace, "Authorization": self._auth},
                    json_body,
                    self._token_digest,
                )
                if response.status_code >= 400:
                    raise error_for_status(response)
                return decode_json(response.content)
            read = self.client.get_body(self._token_digest, self._auth, path, params, self._trace)
            scope = current_scope()
            if scope is None or tracked:
                body, cached = await read
            else:
                # A task of its own, known to the operation: when the operation ends
                # (the client went away) the read is cancelled even if the one
                # awaiting it is a loader's batch task that nothing else cancels.
                task = asyncio.ensure_future(read)
                scope.track(task)
                body, cached = await task
            self.cache_hits += cached
            if parse is None:
                return decode_json(body)
            parsed = self.client.parsed
            page = parsed.get(body, parse)
            if page is None:
                page = parse_page(decode_json(body), parse)
                parsed.put(body, parse, page)
            return page

    async def get(self, path: str, params: Params | None = None) -> Any:
        """``GET`` a path under the API base and return the JSON body."""
        return await self.request("GET", path, params)

    async def get_page(
        self, path: str, params: Params | None, parse: Callable[[Any], T], tracked: bool = False
    ) -> Page[T]:
        """``GET`` a list page, its items parsed by ``parse`` (which must be a function
        that lives as long as the process: it keys the reuse of pages parsed from a
        body the ETag cache still holds, :class:`resolvers.cache.ParsedBodies`).
        ``tracked`` as for :meth:`request`."""
        page: Page[T] = await self.request("GET", path, params, parse=parse, tracked=tracked)
        return page
