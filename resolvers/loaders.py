"""Per-request loaders: batch, deduplicate and prime every upstream read.

Built inside the running event loop by the app's ``get_context`` (aiodataloader
binds the loop at construction). Every object a page or an embedding brings
in primes the matching loader, so one request never fetches an object twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from aiodataloader import DataLoader

from resolvers import records as r
from resolvers.client import UpstreamSession, segment
from resolvers.errors import NotFound, SpacesGraphQLError, UpstreamRejected

K = TypeVar("K")
V = TypeVar("V")
BATCH_MAX = 100


@dataclass(frozen=True, slots=True)
class PageQuery:
    """One upstream list request: what to parse it as, the path, the parameters."""

    kind: str
    path: str
    params: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, kind: str, path: str, params: dict[str, str | int]) -> PageQuery:
        return cls(kind, path, tuple(sorted((k, str(v)) for k, v in params.items())))


_PAGE_PARSERS: dict[str, Callable[[Any], Any]] = {
    "space": r.parse_space,
    "customer": r.parse_customer,
    "subscription": r.parse_subscription,
    "invoice": r.parse_invoice,
    "captured_email": r.parse_captured_email,
    "event": r.parse_event,
    "webhook": r.parse_webhook,
    "resource_subscription": r.parse_resource_subscription,
}

Outcome = Any  # a value, ``None`` for "not found", or an exception for that key


async def _each(keys: Sequence[K], fetch: Callable[[K], Any]) -> list[Outcome]:
    """Fetch every key concurrently; per-key failures stay per key."""

    async def one(key: K) -> Outcome:
        try:
            return await fetch(key)
        except NotFound:
            return None
        except SpacesGraphQLError as exc:
            return exc

    return list(await asyncio.gather(*(one(k) for k in keys)))


_MISSING: Any = object()


class _Loader(DataLoader[K, V | None]):
    """Typed base: aiodataloader itself is untyped.

    Priming is lazy: a page primes every object it brings (and what each
    embeds), but most are never asked for again in the request, so a primed
    value waits in a dict and becomes aiodataloader's settled future only when
    loaded. First prime wins, as in aiodataloader.
    """

    def __init__(self, owner: Loaders) -> None:
        super().__init__(max_batch_size=BATCH_MAX)
        self.owner = owner
        self._known: dict[Any, Any] = {}

    def prime(self, key: K, value: Any) -> _Loader[K, V]:
        if key not in self._known and self.get_cache_key(key) not in self._cache:
            self._known[key] = value
        return self

    def load(self, key: K) -> Any:
        if self._known:
            value = self._known.pop(key, _MISSING)
            if value is not _MISSING:
                super().prime(key, value)
        return super().load(key)

    def clear(self, key: K) -> _Loader[K, V]:
        self._known.pop(key, None)
        super().clear(key)
        return self

    def clear_all(self) -> _Loader[K, V]:
        self._known.clear()
        super().clear_all()
        return self

    async def get(self, key: K) -> V | None:
        value: V | None = await self.load(key)
        return value


class CustomerByIdLoader(_Loader[str, r.CustomerRecord]):
    """Customers by upstream ID; one ``?ids=`` request per 100 where the upstream can."""

    async def batch_load_fn(self, keys: list[str]) -> list[Outcome]:
        return await self.owner.by_ids(
            "customers", keys, r.parse_customer, self.owner.prime_customer
        )


class InvoiceByIdLoader(_Loader[str, r.InvoiceRecord]):
    """Invoices by upstream ID; one ``?ids=`` request per 100 where the upstream can."""

    async def batch_load_fn(self, keys: list[str]) -> list[Outcome]:
        return await self.owner.by_ids("invoices", keys, r.parse_invoice, self.owner.prime_invoice)


class SpaceByIdLoader(_Loader[int, r.SpaceRecord]):
    """Spaces by integer ID. Accounts have few Spaces: two or more lookups read the list once."""

    async def batch_load_fn(self, keys: list[int]) -> list[Outcome]:
        up = self.owner.upstream
        found: dict[int, r.SpaceRecord] = {}
        complete = False
        if len(keys) > 1:
            page = r.parse_page(await up.get("spaces", {"limit": BATCH_MAX}), r.parse_space)
            found = {s.id: s for s in page.items}
            complete = not page.has_more
        missing = [k for k in keys if k not in found and not complete]

        async def one(key: int) -> r.SpaceRecord:
            return r.parse_space(await up.get(f"spaces/{segment(key)}"))

        fetched = dict(zip(missing, await _each(missing, one), strict=True))
        return [found.get(k, fetched.get(k)) for k in keys]


class SubscriptionByKeyLoader(_Loader[tuple[str, str], r.SubscriptionRecord]):
    """Subscriptions by (customer ID, token): the token is unique only within its customer."""

    async def batch_load_fn(self, keys: list[tuple[str, str]]) -> list[Outcome]:
        up = self.owner.upstream

        async def one(key: tuple[str, str]) -> r.SubscriptionRecord:
            cid, token = key
            payload = await up.get(f"customers/{segment(cid)}/subscriptions/{segment(token)}")
            record = r.parse_subscription(payload, customer_id=cid)
            self.owner.prime_subscription(record, prime_self=False)
            return record

        return await _each(keys, one)


class ListedByIdLoader(_Loader[str, V]):
    """Objects the upstream only lists (events, webhooks, captured emails, REST Hooks).

    The contract has no lookup by ID for these, so one is made from the
    cursors: the object just newer than X is ``starting_before=X&limit=1``,
    and X is the one right after that (two requests; one more page read when
    X is the newest). An ID the list does not know is refused with 400: null.
    """

    def __init__(self, owner: Loaders, path: str, parse: Callable[[Any], V]) -> None:
        super().__init__(owner)
        self.path = path
        self.parse = parse

    async def batch_load_fn(self, keys: list[str]) -> list[Outcome]:
        up = self.owner.upstream

        async def one(key: str) -> V | None:
            try:
                newer = await up.get(self.path, {"limit": 1, "starting_before": key})
            except UpstreamRejected:
                return None
            newer_page = r.parse_page(newer, lambda o: o)
            params: dict[str, str | int] = {"limit": 1}
            if newer_page.items:
                params["starting_after"] = str(newer_page.items[0]["id"])
            page = r.parse_page(await up.get(self.path, params), lambda o: o)
            for item in page.items:
                if str(item.get("id")) == key:
                    return self.parse(item)
            return None

        return await _each(keys, one)


class PageByQueryLoader(_Loader[PageQuery, r.Page[Any]]):
    """List pages, deduplicated; many parents' children load concurrently in one wave."""

    async def fetch(self, query: PageQuery) -> r.Page[Any]:
        """The page for ``query`` (a missing list raises ``NotFound``, never ``None``)."""
        page: r.Page[Any] | None = await self.load(query)
        if page is None:
            raise NotFound("no such list")
        return page

    async def batch_load_fn(self, keys: list[PageQuery]) -> list[Outcome]:
        up = self.owner.upstream

        async def one(q: PageQuery) -> r.Page[Any]:
            payload = await up.get(q.path, dict(q.params))
            page: r.Page[Any] = r.parse_page(payload, _PAGE_PARSERS[q.kind])
            self.owner.prime_all(q.kind, page.items)
            return page

        results = await _each(keys, one)
        return [NotFound("no such list") if res is None else res for res in results]


class Loaders:
    """The per-request set of loaders, plus priming from embedded objects."""

    def __init__(self, upstream: UpstreamSession) -> None:
        self.upstream = upstream
        self.customer = CustomerByIdLoader(self)
        self.invoice = InvoiceByIdLoader(self)
        self.space = SpaceByIdLoader(self)
        self.subscription = SubscriptionByKeyLoader(self)
        self.event: ListedByIdLoader[r.EventRecord] = ListedByIdLoader(
            self, "events", r.parse_event
        )
        self.webhook: ListedByIdLoader[r.WebhookRecord] = ListedByIdLoader(
            self, "webhooks", r.parse_webhook
        )
        self.captured_email: ListedByIdLoader[r.CapturedEmailRecord] = ListedByIdLoader(
            self, "captured_emails", r.parse_captured_email
        )
        self.resource_subscription: ListedByIdLoader[r.ResourceSubscriptionRecord] = (
            ListedByIdLoader(self, "resource_subscriptions", r.parse_resource_subscription)
        )
        self.page = PageByQueryLoader(self)

    def release(self) -> None:
        """Drop every cached and primed object: the operation is over.

        Each loader points back at this set (to prime its siblings), so the set
        is a reference cycle that only the cyclic collector frees, and with it
        every record the request read. Emptying the caches lets reference
        counting free the records at once; the small cycle left is cheap to
        collect. A batch still running after this completes normally.
        """
        for loader in vars(self).values():
            if isinstance(loader, _Loader):
                loader.clear_all()

    # --- batch by IDs ---------------------------------------------------------------

    async def by_ids(
        self,
        path: str,
        keys: list[str],
        parse: Callable[[Any], Any],
        prime: Callable[[Any], None],
    ) -> list[Outcome]:
        """Look up objects by ID: ``?ids=`` batches where supported, else one by one."""
        client = self.upstream.client
        if client.batch_ids is not False:
            found = await self._batch(path, keys, parse)
            if found is not None:
                for record in found.values():
                    prime(record)
                return [found.get(k) for k in keys]

        async def one(key: str) -> Any:
            record = parse(await self.upstream.get(f"{path}/{segment(key)}"))
            prime(record)
            return record

        return await _each(keys, one)

    async def _batch(
        self, path: str, keys: list[str], parse: Callable[[Any], Any]
    ) -> dict[str, Any] | None:
        """One ``?ids=`` request; ``None`` when the upstream proves not to support it.

        An upstream without the capability ignores ``ids`` and answers the
        newest ``limit`` objects. Asking for ``limit=len(keys)``, any object
        outside the requested set proves that; if none is outside, the answer
        is exactly the requested set either way, so it is correct to use.
        """
        client = self.upstream.client
        wanted = set(keys)
        params: dict[str, str | int] = {"ids": ",".join(keys), "limit": len(keys)}
        try:
            payload = await self.upstream.get(path, params)
            page = r.parse_page(payload, parse)
        except UpstreamRejected:
            if client.batch_ids is None:
                client.batch_ids = False
                return None
            raise
        found = {rec.id: rec for rec in page.items}
        if not set(found) <= wanted:
            client.batch_ids = False
            return None
        client.batch_ids = True
        return found

    # --- priming --------------------------------------------------------------------

    def prime_space(self, space: r.SpaceRecord | None) -> None:
        if space is not None:
            self.space.prime(space.id, space)

    def prime_customer(self, customer: r.CustomerRecord | None) -> None:
        if customer is None or customer.partial:
            return
        self.customer.prime(customer.id, customer)
        self.prime_space(customer.space)

    def prime_subscription(self, sub: r.SubscriptionRecord, prime_self: bool = True) -> None:
        if prime_self:
            self.subscription.prime((sub.customer_id, sub.token), sub)
        self.prime_customer(sub.customer)

    def prime_invoice(self, invoice: r.InvoiceRecord) -> None:
        self.invoice.prime(invoice.id, invoice)
        self.prime_customer(invoice.customer)

    def prime_all(self, kind: str, items: list[Any]) -> None:
        """Prime from every object of a fetched page (and what each embeds)."""
        if kind == "customer":
            for c in items:
                self.prime_customer(c)
        elif kind == "invoice":
            for i in items:
                self.prime_invoice(i)
        elif kind == "subscription":
            for s in items:
                self.prime_subscription(s)
        elif kind == "space":
            for sp in items:
                self.prime_space(sp)
        elif kind == "captured_email":
            for ce in items:
                self.prime_space(ce.space)
                self.captured_email.prime(ce.id, ce)
        elif kind == "webhook":
            for w in items:
                self.webhook.prime(w.id, w)
                self.event.prime(w.event.id, w.event)
        elif kind == "event":
            # Snapshots are the past: they must not stand in for current objects.
            for e in items:
                self.event.prime(e.id, e)
        elif kind == "resource_subscription":
            for rs in items:
                self.resource_subscription.prime(rs.id, rs)
