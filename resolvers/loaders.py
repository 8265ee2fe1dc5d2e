"""Per-request loaders: batch, deduplicate and prime every upstream read.

Built inside the running event loop by the app's ``get_context`` (aiodataloader
binds the loop at construction). Every object a page or an embedding brings
in primes the matching loader, so one request never fetches an object twice.

Nothing here is per resource: :class:`Loaders` builds one
:class:`ResourceLoader` per declaration in ``resolvers/resources.py``, of the
class its :class:`~resolvers.resources.Lookup` names, and wires its priming
from the declaration's ``embeds``. Declarations are read at construction,
never per object. Whether ``?ids=`` batching works is the process's
:class:`~resolvers.capabilities.BatchCapability`, reached through the session's
client; a request only reports evidence to it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from resolvers import records as r
from resolvers.client import UpstreamSession
from resolvers.errors import NotFound
from resolvers.lookups import (
    BATCH_MAX,
    LOADER_CLASSES,
    ByIdLoader,
    FewLoader,
    InParentLoader,
    ListedByIdLoader,
    ResourceLoader,
)
from resolvers.resilience import current_scope
from resolvers.resources import (
    BY_KIND,
    RESOURCES,
    SPACE,
    Resource,
)

K = TypeVar("K")
R = TypeVar("R")

__all__ = [
    "BATCH_MAX",
    "LOADER_CLASSES",
    "ByIdLoader",
    "FewLoader",
    "InParentLoader",
    "ListedByIdLoader",
    "Loaders",
    "PageByQueryLoader",
    "PageQuery",
    "ResourceLoader",
]


@dataclass(frozen=True, slots=True)
class PageQuery:
    """One upstream list request: what to parse it as, the path, the parameters.

    ``kind`` is a declared resource's ``kind`` (``resolvers/resources.py``).
    """

    kind: str
    path: str
    params: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, kind: str, path: str, params: dict[str, str | int]) -> PageQuery:
        return cls(kind, path, tuple(sorted((k, str(v)) for k, v in params.items())))


_PLAN = tuple((res, LOADER_CLASSES[res.lookup]) for res in RESOURCES)


def space_name(url: str | None) -> str | None:
    """A Space's name: the last path segment of its public ``url`` (None without one)."""
    if not url:
        return None
    name = urlsplit(url).path.rstrip("/").rpartition("/")[2]
    return name or None


class PageByQueryLoader:
    """List pages, deduplicated within the operation; each is ready when its request is.

    Not a batching loader: a page is one upstream request whatever else the same tick
    asks for (lists do not batch), and a batch function waits for all its keys, so
    every parent's children would wait for the slowest page of the wave before the
    next wave could start. Here each page's awaiters resume as soon as it arrives,
    and the next wave's requests go out while the rest of this one is in flight.
    Like a loader, a page that failed stays failed for the rest of the operation.
    """

    def __init__(self, owner: Loaders) -> None:
        self.owner = owner
        self._pages: dict[PageQuery, asyncio.Future[r.Page[Any]]] = {}

    async def fetch(self, query: PageQuery) -> r.Page[Any]:
        """The page for ``query`` (a missing list raises ``NotFound``, never ``None``)."""
        page = self._pages.get(query)
        if page is None:
            page = self._pages[query] = asyncio.ensure_future(self._read(query))
            page.add_done_callback(_retrieved)
            # Known to the operation: when it ends the read is cancelled (so the
            # session runs the request in this task, ``tracked``).
            scope = current_scope()
            if scope is not None:
                scope.track(page)
        # Shielded: one awaiter cancelled (its branch abandoned) leaves the page to others;
        # the operation's scope still cancels the read when the operation ends.
        return await asyncio.shield(page)

    async def _read(self, q: PageQuery) -> r.Page[Any]:
        loader = self.owner.of_kind(q.kind)
        try:
            page: r.Page[Any] = await self.owner.upstream.get_page(
                q.path, dict(q.params), loader.resource.parse, tracked=True
            )
        except NotFound:
            raise NotFound("no such list") from None
        loader.prime_many(page.items)
        return page

    def clear_all(self) -> PageByQueryLoader:
        """Forget every page (after a write, and when the operation ends)."""
        self._pages.clear()
        return self


def _retrieved(page: asyncio.Future[Any]) -> None:
    # A page whose awaiters all went away must not log "exception was never retrieved".
    if not page.cancelled():
        page.exception()


class Loaders:
    """The per-request set of loaders (one per declared resource), plus priming.

    Each resource's loader is the attribute named by its ``kind``. ``of(RESOURCE)``
    is typed by the declaration's generics; the attributes below are typed
    shorthands for the graph's relations (``loaders.customer.get(id)``), and a new
    resource needs none.
    """

    space: ResourceLoader[r.SpaceRecord, int]
    customer: ResourceLoader[r.CustomerRecord, str]
    subscription: ResourceLoader[r.SubscriptionRecord, tuple[str, str]]
    invoice: ResourceLoader[r.InvoiceRecord, str]
    captured_email: ResourceLoader[r.CapturedEmailRecord, str]
    event: ResourceLoader[r.EventRecord, str]
    webhook: ResourceLoader[r.WebhookRecord, str]
    resource_subscription: ResourceLoader[r.ResourceSubscriptionRecord, str]

    def __init__(self, upstream: UpstreamSession) -> None:
        self.upstream = upstream
        # Built per operation, so kept lean: the plan was resolved at import, each loader
        # is stored straight under its kind, and its priming is wired on first use.
        attributes = self.__dict__
        for res, cls in _PLAN:
            attributes[res.kind] = cls(self, res)
        self.page = PageByQueryLoader(self)

    def of(self, resource: Resource[R, K]) -> ResourceLoader[R, K]:
        """This operation's loader of ``resource``."""
        loader: ResourceLoader[R, K] = self.__dict__[resource.kind]
        return loader

    def of_kind(self, kind: str) -> ResourceLoader[Any, Any]:
        """This operation's loader of the resource declared under ``kind`` (``KeyError`` if none)."""
        loader: ResourceLoader[Any, Any] = self.__dict__[BY_KIND[kind].kind]
        return loader

    def release(self) -> None:
        """Drop every cached and primed object: the operation is over.

        Each loader points back at this set (to prime its siblings), so the set
        is a reference cycle that only the cyclic collector frees, and with it
        every record the request read. Emptying the caches lets reference
        counting free the records at once; the small cycle left is cheap to
        collect. A batch still running after this completes normally.
        """
        attributes = self.__dict__
        for kind in BY_KIND:
            attributes[kind].clear_all()
        self.page.clear_all()

    async def space_named(self, name: str) -> r.SpaceRecord | None:
        """The Space called ``name`` (:func:`space_name`), or None.

        Read from the Spaces listing, as in every dialect: one request for an account
        of up to 100 Spaces (the page the ``spaces`` connection shares, and it primes
        every Space it brings), at most ``SPACE.lookup_price`` pages (the price).
        """
        params: dict[str, str | int] = {"limit": BATCH_MAX}
        for _ in range(SPACE.lookup_price):
            page = await self.page.fetch(PageQuery.of(SPACE.kind, SPACE.path, params))
            for space in page.items:
                if space_name(space.url) == name:
                    found: r.SpaceRecord = space
                    return found
            if not page.has_more or not page.items:
                break
            params = {"limit": BATCH_MAX, "starting_after": SPACE.cursor(page.items[-1])}
        return None

    # --- priming (writes and embedded objects) ---------------------------------------

    def prime_space(self, space: r.SpaceRecord | None) -> None:
        if space is not None:
            self.space.prime_record(space)

    def prime_customer(self, customer: r.CustomerRecord | None) -> None:
        if customer is not None:
            self.customer.prime_record(customer)

    def prime_subscription(self, sub: r.SubscriptionRecord, prime_self: bool = True) -> None:
        if prime_self:
            self.subscription.prime_record(sub)
        else:
            self.subscription.prime_embedded(sub)

    def prime_invoice(self, invoice: r.InvoiceRecord) -> None:
        self.invoice.prime_record(invoice)

    def prime_all(self, kind: str, items: list[Any]) -> None:
        """Prime from every object of a fetched page of ``kind`` (and what each embeds)."""
        self.of_kind(kind).prime_many(items)


# A kind is an attribute name here: it must not shadow the set's own.
if _clash := set(BY_KIND) & set(dir(Loaders)) | set(BY_KIND) & {"upstream", "page"}:
    raise TypeError(f"resolvers/loaders.py: resource kinds {_clash} clash with Loaders' names")
