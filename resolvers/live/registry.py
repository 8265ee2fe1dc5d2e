"""Upstream REST Hooks: one per (account, event type) for the whole deployment.

A process counts its own subscribers per (account, type) and converges on
what they need: the first makes it a *holder* of the deployment's hook (the
process creates the hook upstream if no live one exists), the last makes it
let go (the last holder of the deployment deletes the hook). Converging runs
in a task of its own, shielded from the subscriber's cancellation and outside
its operation's scope, so a subscriber that leaves during the upstream POST
still gets the hook recorded and then deleted.

Every process renews its lease, the TTLs of its hooks' secrets and looks for
orphans (records none of whose holders is alive: a crashed process's) on a
heartbeat; orphans are deleted upstream with the record's sealed token.
Hooks aimed at this facade that no record claims are swept once they are
older than a grace period (they predate the records, or Redis was flushed).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import secrets
import time
from dataclasses import dataclass, field

from resolvers.client import SpacesClient, segment
from resolvers.errors import (
    NotFound,
    RateLimited,
    SpacesGraphQLError,
    Unauthenticated,
    UpstreamRejected,
)
from resolvers.live.bus import Bus, HookTarget, secret_key
from resolvers.live.sealing import Sealer
from resolvers.live.store import HookRecord, Key, Store
from resolvers.records import ResourceSubscriptionRecord, parse_page, parse_resource_subscription

log = logging.getLogger("spaces_graphql.live")

#: Upstream answers that prove a POST created nothing (no need to look for the hook).
NOT_CREATED = (Unauthenticated, UpstreamRejected, RateLimited, NotFound)


@dataclass(slots=True)
class _Local:
    """This process's view of one (account, type): its subscribers and whether it holds."""

    token: str
    refs: int = 0
    joined: bool = False
    secret_hash: str = ""
    pending: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class HookRegistry:
    """Reference-counted upstream REST Hooks, shared by the deployment's processes."""

    def __init__(
        self,
        client: SpacesClient,
        bus: Bus,
        store: Store,
        hooks_base_url: str,
        *,
        state_key: str | None = None,
        lease_seconds: float = 10.0,
        sweep_grace_seconds: float = 60.0,
    ) -> None:
        self.client = client
        self.bus = bus
        self.store = store
        self.hooks_base_url = hooks_base_url.rstrip("/") + "/"
        self.lease_seconds = lease_seconds
        self.sweep_grace_seconds = sweep_grace_seconds
        self._state_key = state_key
        self._sealer: Sealer | None = None
        self._local: dict[Key, _Local] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._swept: set[str] = set()
        self._beat: asyncio.Task[None] | None = None

    @property
    def instance(self) -> str:
        """This process's holder id (host:pid:random)."""
        return self.store.instance

    def target_url(self, secret: str) -> str:
        return f"{self.hooks_base_url}{secret}"

    @property
    def sealer(self) -> Sealer:
        if self._sealer is None:
            raise RuntimeError("the hook registry is started by LiveEvents.start()")
        return self._sealer

    def holding(self) -> list[Key]:
        """The (account, type) pairs this process currently holds a hook for."""
        return [k for k, v in self._local.items() if v.joined]

    # --- life cycle -------------------------------------------------------------------

    async def start(self) -> int:
        """Take a lease, remove the orphans found now, and keep beating; orphans removed."""
        await self.store.start()
        self._sealer = Sealer(self._state_key or await self.store.sealing_key())
        removed = await self._legacy_cleanup()
        removed += await self.reap()
        self._beat = asyncio.get_running_loop().create_task(
            self._heartbeat(), context=contextvars.Context()
        )
        return removed

    async def close(self) -> None:
        """Let go of every hook (the last holder deletes it upstream), then of the lease."""
        if self._beat is not None:
            self._beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beat
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=self.lease_seconds)
        for key, local in list(self._local.items()):
            local.refs = 0
            if local.joined:
                with contextlib.suppress(Exception):
                    await self._spawn(key)
        await self.store.close()

    # --- subscribers ------------------------------------------------------------------

    async def acquire(self, account: str, token: str, event_type: str) -> None:
        """Count one more subscriber; hold (or create) the upstream hook if it is the first."""
        key = (account, event_type)
        local = self._local.get(key)
        if local is None:
            local = self._local[key] = _Local(token)
        local.refs += 1  # before any await: a cancellation below still sees this count
        if local.joined and not local.lock.locked():
            return
        try:
            await asyncio.shield(self._spawn(key, local))
        except BaseException:
            local.refs -= 1
            self._spawn(key, local)  # in the background: let go if it joined meanwhile
            raise

    async def release(self, account: str, event_type: str) -> None:
        """Count one subscriber less; let go of the hook when none is left here."""
        task = self.let_go(account, event_type)
        if task is not None:
            await asyncio.shield(task)

    def let_go(self, account: str, event_type: str) -> asyncio.Task[None] | None:
        """:meth:`release` without waiting: counts now, the task lets go of the hook."""
        key = (account, event_type)
        local = self._local.get(key)
        if local is None or local.refs <= 0:
            return None
        local.refs -= 1
        return self._spawn(key) if local.refs == 0 else None

    def _spawn(self, key: Key, local: _Local | None = None) -> asyncio.Task[None]:
        local = local or self._local[key]
        local.pending += 1
        # A fresh context: the subscriber's operation scope (which cancels its reads
        # when it ends, and has a deadline) must not reach the bookkeeping.
        task = asyncio.get_running_loop().create_task(
            self._reconcile(key, local), context=contextvars.Context()
        )
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.info("hook bookkeeping failed: %r", exc)

    async def _reconcile(self, key: Key, local: _Local) -> None:
        try:
            async with local.lock:
                if local.refs > 0 and not local.joined:
                    await self._join(key, local)
                elif local.refs == 0 and local.joined:
                    await self._leave(key, local)
        finally:
            local.pending -= 1
            idle = local.pending == 0 and local.refs == 0 and not local.joined
            if idle and self._local.get(key) is local:
                del self._local[key]

    async def _join(self, key: Key, local: _Local) -> None:
        account = key[0]
        async with self.store.lock(key):
            await self.store.add_holder(key)  # first: from now on no one reaps it
            record = await self.store.get(key)
            if (
                record is not None
                and record.hook_id
                and await self.bus.touch_secret(record.secret_hash, self.lease_seconds)
            ):
                local.secret_hash, local.joined = record.secret_hash, True
                return
            if record is not None:
                # A claim without a usable hook: its creator died during the POST, or
                # every holder died and the secret lapsed. Replace it.
                await self._retire(record, local.token)
                await self.store.add_holder(key)  # dropping the record forgot its holders
            try:
                await self._sweep(account, local.token)
                await self._create(key, local)
            except BaseException:
                await self.store.remove_holder(key)
                raise

    async def _create(self, key: Key, local: _Local) -> None:
        account, event_type = key
        secret = secrets.token_urlsafe(32)
        record = HookRecord(
            account=account,
            event_type=event_type,
            target_url=self.target_url(secret),
            secret_hash=secret_key(secret),
            token=self.sealer.seal(local.token),
            created=time.time(),
        )
        # The claim and the secret exist before the hook: a crash during the POST
        # leaves a record to reap, and a delivery may beat the POST's answer.
        await self.store.put(record)
        await self.bus.put_secret(secret, HookTarget(account, event_type), self.lease_seconds)
        try:
            created = await self.client.session(local.token).request(
                "POST",
                "resource_subscriptions",
                json_body={"event": event_type, "target_url": record.target_url},
            )
            record.hook_id = parse_resource_subscription(created).id
        except BaseException as exc:
            if isinstance(exc, NOT_CREATED):
                await self.bus.drop_secret_hash(record.secret_hash)
                await self.store.delete(key)
            else:
                # The upstream may have created it before the answer was lost.
                await self._retire(record, local.token)
            raise
        await self.store.put(record)
        local.secret_hash, local.joined = record.secret_hash, True

    async def _leave(self, key: Key, local: _Local) -> None:
        async with self.store.lock(key):
            await self.store.remove_holder(key)
            local.joined = False
            if await self.store.live_holders(key):
                return  # another process still has subscribers: the hook stays
            record = await self.store.get(key)
            if record is not None:
                await self._retire(record, local.token)

    # --- removing hooks ---------------------------------------------------------------

    async def _retire(self, record: HookRecord, token: str | None) -> bool:
        """Delete a record's hook upstream, then the record; False if it must be retried."""
        await self.bus.drop_secret_hash(record.secret_hash)  # deliveries now get 410
        token = token or self.sealer.open(record.token)
        if token is None:
            log.warning(
                "cannot open the token of a REST Hook record (another state key?); its "
                "deliveries get 410, so the upstream drops it"
            )
            await self.store.delete(record.key)
            return False
        try:
            if record.hook_id:
                await self._delete(token, record.hook_id)
            else:
                for hook in await self._hooks_of(token):
                    if hook.target_url == record.target_url:
                        await self._delete(token, hook.id)
        except Unauthenticated:
            log.warning("a REST Hook's token is no longer valid; its deliveries get 410")
        except SpacesGraphQLError as exc:
            log.warning("could not delete an upstream hook (retried): %s", exc.message)
            return False
        await self.store.delete(record.key)
        return True

    async def _delete(self, token: str, hook_id: str) -> None:
        with contextlib.suppress(NotFound):
            await self.client.session(token).request(
                "DELETE", f"resource_subscriptions/{segment(hook_id)}"
            )

    async def _hooks_of(self, token: str) -> list[ResourceSubscriptionRecord]:
        """The account's hooks aimed at this facade."""
        session = self.client.session(token)
        params: dict[str, str | int] = {"limit": 100}
        found: list[ResourceSubscriptionRecord] = []
        while True:
            page = parse_page(
                await session.get("resource_subscriptions", params), parse_resource_subscription
            )
            found += [h for h in page.items if h.target_url.startswith(self.hooks_base_url)]
            if not page.has_more or not page.items:
                return found
            params["starting_after"] = page.items[-1].id

    async def _sweep(self, account: str, token: str) -> None:
        """Once per account and process: delete old hooks aimed at us that no record claims."""
        if account in self._swept:
            return
        self._swept.add(account)
        records = await self.store.records()
        claimed = {r.hook_id for r in records} | {r.target_url for r in records}
        cutoff = time.time() - self.sweep_grace_seconds
        for hook in await self._hooks_of(token):
            if hook.id not in claimed and hook.target_url not in claimed and hook.created < cutoff:
                await self._delete(token, hook.id)

    async def reap(self) -> int:
        """Delete the hooks of records none of whose holders is alive; how many."""
        removed = 0
        for record in await self.store.records():
            local = self._local.get(record.key)
            if local is not None and (local.joined or local.lock.locked()):
                continue
            if await self.store.live_holders(record.key):
                continue
            async with self.store.lock(record.key, wait=False) as locked:
                if not locked:
                    continue  # someone is joining or leaving it right now
                current = await self.store.get(record.key)
                if current is None or await self.store.live_holders(record.key):
                    continue
                removed += await self._retire(current, None)
        if removed:
            log.info("removed %d orphan REST Hooks", removed)
        return removed

    async def _heartbeat(self) -> None:
        interval = self.lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            try:
                await self._beat_once()
            except Exception as exc:  # Redis or the upstream down: try again next beat
                log.warning("live-events heartbeat failed: %r", exc)

    async def _beat_once(self) -> None:
        lapsed = not await self.store.renew()
        if lapsed:
            log.warning("this process's hook lease had lapsed; re-registering its hooks")
        for key, local in list(self._local.items()):
            if not local.joined or local.lock.locked():
                continue
            if lapsed or not await self.bus.touch_secret(local.secret_hash, self.lease_seconds):
                # Reaped while we stalled: hold (or recreate) the hook again.
                local.joined = False
                self._spawn(key)
        await self.reap()

    async def _legacy_cleanup(self) -> int:
        """A state file of the old format (raw tokens): delete its hooks once."""
        take = getattr(self.store, "take_legacy", None)
        removed = 0
        for entry in take() if take is not None else []:
            with contextlib.suppress(SpacesGraphQLError, KeyError, TypeError):
                await self._delete(str(entry["token"]), str(entry["hook_id"]))
                await self.bus.drop_secret(str(entry.get("secret", "")))
                removed += 1
        if take is not None:
            await self.store.close()  # rewrites the file without them
        return removed
