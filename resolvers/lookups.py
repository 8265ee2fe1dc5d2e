"""Looking objects up by key: one loader class per :class:`~resolvers.resources.Lookup`.

The loaders of one operation are built by :class:`resolvers.loaders.Loaders`,
one per declared resource, of the class :data:`LOADER_CLASSES` names for its
declaration's ``lookup``. Priming (every object a page or an embedding brings
primes its loader) is the same for all of them and specialised once per
loader to its declaration's shape (:func:`_primer`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from aiodataloader import DataLoader

from resolvers import records as r
from resolvers.capabilities import BatchCapability
from resolvers.errors import NotFound, SpacesGraphQLError, UpstreamRejected
from resolvers.resources import Lookup, Resource
from resolvers.upstream import segment

if TYPE_CHECKING:
    from resolvers.loaders import Loaders

K = TypeVar("K")
V = TypeVar("V")
R = TypeVar("R")
BATCH_MAX = 100

Outcome = Any  # a value, ``None`` for "not found", or an exception for that key


async def fetch_each(keys: Sequence[K], fetch: Callable[[K], Any]) -> list[Outcome]:
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


class BaseLoader(DataLoader[K, V | None]):
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

    def prime(self, key: K, value: Any) -> BaseLoader[K, V]:
        if key not in self._known and self.get_cache_key(key) not in self._cache:
            self._known[key] = value
        return self

    def load(self, key: K) -> Any:
        if self._known:
            value = self._known.pop(key, _MISSING)
            if value is not _MISSING:
                super().prime(key, value)
        return super().load(key)

    def clear(self, key: K) -> BaseLoader[K, V]:
        self._known.pop(key, None)
        super().clear(key)
        return self

    def clear_all(self) -> BaseLoader[K, V]:
        self._known.clear()
        super().clear_all()
        return self

    async def get(self, key: K) -> V | None:
        value: V | None = await self.load(key)
        return value


#: A wired embedding: how to get the embedded record, and the priming function it feeds.
_Wire = tuple[Callable[[Any], Any], Callable[[Any], None]]


def _primer(
    key: Callable[[Any], Any],
    partial: Callable[[Any], bool] | None,
    embeds: tuple[_Wire, ...],
    known: dict[Any, Any],
    cache: Mapping[Any, Any],
) -> Callable[[Any], None]:
    """One loader's priming function, specialised once to its declaration's shape.

    Priming runs for every object of every page (and what each embeds), so the
    declaration is resolved here, once per loader (on its first prime in the
    operation): the function closes over the key, the sibling primers and the
    loader's two dicts, with no attribute or method lookups per object. The cache key is the key itself (no loader sets
    ``get_cache_key``). First prime wins; a partial record primes nothing.
    """
    if partial is None and not embeds:

        def leaf(record: Any) -> None:
            k = key(record)
            if k not in known and k not in cache:
                known[k] = record

        return leaf
    if len(embeds) == 1:
        ((get, inner_prime),) = embeds

        def one(record: Any) -> None:
            if partial is not None and partial(record):
                return
            k = key(record)
            if k not in known and k not in cache:
                known[k] = record
            inner = get(record)
            if inner is not None:
                inner_prime(inner)

        return one

    def many(record: Any) -> None:
        if partial is not None and partial(record):
            return
        k = key(record)
        if k not in known and k not in cache:
            known[k] = record
        for get, inner_prime in embeds:
            inner = get(record)
            if inner is not None:
                inner_prime(inner)

    return many


class ResourceLoader(BaseLoader[K, R], Generic[R, K]):
    """The loader of one declared resource, keyed as its declaration's ``key``.

    Subclasses fetch by the declaration's :class:`~resolvers.resources.Lookup`;
    priming is the same for all (:func:`_primer`): a record primes its own key,
    unless partial, and every object it embeds primes that resource's loader.
    The priming function is built on this loader's first prime in the
    operation (most operations prime two or three kinds of the eight), pointed
    at the sibling loaders' own.
    """

    # Class-level defaults, replaced on the instance by :meth:`primer`: a loader is built
    # per operation, and most are never primed.
    _prime: Callable[[R], None] | None = None
    _wires: tuple[_Wire, ...] = ()

    def __init__(self, owner: Loaders, resource: Resource[R, K]) -> None:
        super().__init__(owner)
        self.resource = resource

    def primer(self) -> Callable[[R], None]:
        """This operation's priming function for records of this resource."""
        prime = self._prime
        if prime is None:
            res = self.resource
            owner = self.owner
            self._wires = tuple([(e.get, owner.of(e.resource).primer()) for e in res.embeds])
            prime = _primer(res.key, res.partial, self._wires, self._known, self._cache)
            self._prime = prime
        return prime

    def prime_record(self, record: R) -> None:
        """Prime ``record`` (unless it is partial) and every object it embeds."""
        (self._prime or self.primer())(record)

    def prime_embedded(self, record: R) -> None:
        """Prime only what ``record`` embeds (the record itself is being loaded)."""
        if self._prime is None:
            self.primer()
        for get, inner_prime in self._wires:
            inner = get(record)
            if inner is not None:
                inner_prime(inner)

    def prime_many(self, records: list[R]) -> None:
        """Prime from every record of a page: the priming function, inlined into one loop."""
        if self._prime is None:
            self.primer()
        res = self.resource
        key, partial, known, cache, wires = (
            res.key,
            res.partial,
            self._known,
            self._cache,
            self._wires,
        )
        for record in records:
            if partial is not None and partial(record):
                continue
            k = key(record)
            if k not in known and k not in cache:
                known[k] = record
            for get, inner_prime in wires:
                inner = get(record)
                if inner is not None:
                    inner_prime(inner)


class ByIdLoader(ResourceLoader[R, str]):
    """``Lookup.BY_ID``: one ``?ids=`` request per 100 where the upstream can, else one each."""

    async def batch_load_fn(self, keys: list[str]) -> list[Outcome]:
        capability = self.owner.upstream.client.batch_capability
        if self.resource.batch_ids and capability.worth_trying:
            found = await self._batch(keys, capability)
            if found is not None:
                for record in found.values():
                    self.prime_record(record)
                return [found.get(k) for k in keys]
        up, path, parse = self.owner.upstream, self.resource.path, self.resource.parse

        async def one(key: str) -> R:
            record = parse(await up.get(f"{path}/{segment(key)}"))
            self.prime_record(record)
            return record

        return await fetch_each(keys, one)

    async def _batch(self, keys: list[str], capability: BatchCapability) -> dict[str, R] | None:
        """One ``?ids=`` request; ``None`` when the upstream proves not to support it.

        An upstream without the capability ignores ``ids`` and answers the
        newest ``limit`` objects. Asking for ``limit=len(keys)``, any object
        outside the requested set proves that; if none is outside, the answer
        is exactly the requested set either way, so it is correct to use.
        """
        wanted = set(keys)
        params: dict[str, str | int] = {"ids": ",".join(keys), "limit": len(keys)}
        try:
            page = await self.owner.upstream.get_page(
                self.resource.path, params, self.resource.parse
            )
        except UpstreamRejected:
            if capability.refused():
                return None
            raise
        key_of = self.resource.key
        found = {key_of(rec): rec for rec in page.items}
        if not set(found) <= wanted:
            capability.ignored()
            return None
        capability.answered()
        return found


class FewLoader(ResourceLoader[R, int]):
    """``Lookup.FEW`` (Spaces): accounts have few, so two or more lookups read the list once."""

    async def batch_load_fn(self, keys: list[int]) -> list[Outcome]:
        up, path, parse, key_of = (
            self.owner.upstream,
            self.resource.path,
            self.resource.parse,
            self.resource.key,
        )
        found: dict[int, R] = {}
        complete = False
        if len(keys) > 1:
            page = await up.get_page(path, {"limit": BATCH_MAX}, parse)
            found = {key_of(item): item for item in page.items}
            complete = not page.has_more
        missing = [k for k in keys if k not in found and not complete]

        async def one(key: int) -> R:
            record = parse(await up.get(f"{path}/{segment(key)}"))
            self.prime_embedded(record)
            return record

        fetched = dict(zip(missing, await fetch_each(missing, one), strict=True))
        return [found.get(k, fetched.get(k)) for k in keys]


class InParentLoader(ResourceLoader[R, tuple[str, str]]):
    """``Lookup.IN_PARENT`` (subscriptions): by (parent key, token), one request each."""

    async def batch_load_fn(self, keys: list[tuple[str, str]]) -> list[Outcome]:
        up, path = self.owner.upstream, self.resource.path
        parent = self.resource.parent
        parse = self.resource.parse_in_parent
        assert parent is not None and parse is not None  # Resource.__post_init__ checks
        under = parent.path

        async def one(key: tuple[str, str]) -> R:
            parent_key, token = key
            payload = await up.get(f"{under}/{segment(parent_key)}/{path}/{segment(token)}")
            record = parse(payload, parent_key)
            self.prime_embedded(record)
            return record

        return await fetch_each(keys, one)


class ListedByIdLoader(ResourceLoader[R, str]):
    """``Lookup.CURSORS``: objects the upstream only lists (events, webhooks, captured emails,
    REST Hooks).

    The contract has no lookup by ID for these, so one is made from the
    cursors: the object just newer than X is ``starting_before=X&limit=1``,
    and X is the one right after that (two requests; one more page read when
    X is the newest). An ID the list does not know is refused with 400: null.
    """

    async def batch_load_fn(self, keys: list[str]) -> list[Outcome]:
        up, path, parse = self.owner.upstream, self.resource.path, self.resource.parse

        async def one(key: str) -> R | None:
            try:
                newer = await up.get(path, {"limit": 1, "starting_before": key})
            except UpstreamRejected:
                return None
            newer_page = r.parse_page(newer, lambda o: o)
            params: dict[str, str | int] = {"limit": 1}
            if newer_page.items:
                params["starting_after"] = str(newer_page.items[0]["id"])
            page = r.parse_page(await up.get(path, params), lambda o: o)
            for item in page.items:
                if str(item.get("id")) == key:
                    return parse(item)
            return None

        return await fetch_each(keys, one)


#: The loader class of each way of looking an object up.
LOADER_CLASSES: dict[Lookup, type[ResourceLoader[Any, Any]]] = {
    Lookup.BY_ID: ByIdLoader,
    Lookup.FEW: FewLoader,
    Lookup.IN_PARENT: InParentLoader,
    Lookup.CURSORS: ListedByIdLoader,
}
