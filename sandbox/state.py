"""Per-app state: the store, counters, hook dispatcher, and the writes that emit events."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import httpx

from sandbox.config import SandboxConfig
from sandbox.db import open_store
from sandbox.errors import ApiError
from sandbox.faults import FaultTable
from sandbox.hooks import HookDispatcher
from sandbox.model import Json, new_id, quirky_event, rename_customer_id
from sandbox.stats import Stats
from sandbox.store import Store, row


class SandboxState:
    """Everything one sandbox app owns; reachable as ``app.state.sandbox``."""

    def __init__(
        self,
        config: SandboxConfig,
        hook_transport: httpx.AsyncBaseTransport | None,
        hook_body: Callable[[str, Json], bytes] | None = None,
    ) -> None:
        self.config = config
        self.store: Store = open_store(config.seed, config.db_path)
        self.stats = Stats()
        self.faults = FaultTable()
        # hook_body: how the dialect writes a delivery of an event (account, event).
        self.hooks = HookDispatcher(self.store, config, hook_transport, hook_body)
        # Run-time objects need unpredictable ids: a reused --db file must never see a
        # second run generate the ids of the first.
        self.rng: random.Random = random.SystemRandom()

    async def drain(self) -> None:
        """Await all running hook deliveries (for tests)."""
        await self.hooks.drain()

    async def aclose(self) -> None:
        await self.hooks.aclose()

    # -- events --------------------------------------------------------------------------

    def emit(self, account: str, type_: str, snapshot: Json) -> Json:
        """Record an event about ``snapshot`` and start delivering it to REST Hooks."""
        with self.store.lock:
            ordinal = self.store.count(account, "event") + 1
            if quirky_event(ordinal):
                snapshot = rename_customer_id(snapshot)
            created = int(time.time())
            event: Json = {
                "object": "event",
                "id": new_id(self.rng, "event"),
                "created": created,
                "type": type_,
                "data": {"object": snapshot},
            }
            self.store.insert([row(account, "event", event["id"], created, event, type=type_)])
        self.hooks.dispatch(account, event)
        return event

    # -- writes that the API exposes -----------------------------------------------------

    def pay_invoice(self, account: str, invoice_id: str) -> tuple[Json, Json]:
        """Mark an unpaid invoice paid; returns the invoice and its ``invoice.paid`` event."""
        with self.store.lock:
            body = self.store.raw(account, "invoice", invoice_id)
            if body is None:
                raise ApiError(404, f"No such invoice: {invoice_id}")
            if body["paid"]:
                raise ApiError(400, f"Invoice {invoice_id} is already paid", invalid=True)
            body["paid"] = True
            self.store.update_body(account, "invoice", invoice_id, body)
            invoice = self.store.get(account, "invoice", invoice_id)
            assert invoice is not None
            event = self.emit(account, "invoice.paid", invoice)
        return invoice, event

    def cancel_subscription(self, account: str, customer_id: str, token: str) -> tuple[Json, Json]:
        """Cancel an active subscription; returns it and its ``subscription.cancelled`` event."""
        with self.store.lock:
            if self.store.raw(account, "customer", customer_id) is None:
                raise ApiError(404, f"No such customer: {customer_id}")
            body = self.store.raw(account, "subscription", token, customer=customer_id)
            if body is None:
                raise ApiError(404, f"No such subscription: {token}")
            if body["status"] == "cancelled":
                raise ApiError(400, f"Subscription {token} is already cancelled", invalid=True)
            body["status"] = "cancelled"
            self.store.update_body(account, "subscription", token, body, customer=customer_id)
            sub = self.store.get(account, "subscription", token, customer=customer_id)
            assert sub is not None
            event = self.emit(account, "subscription.cancelled", sub)
        return sub, event

    def create_resource_subscription(
        self, account: str, event: str, target_url: str, api_version: str | None
    ) -> Json:
        created = int(time.time())
        obj: Json = {
            "object": "resource_subscription",
            "id": new_id(self.rng, "resource_subscription"),
            "event": event,
            "target_url": target_url,
            "api_version": api_version,
            "created": created,
        }
        self.store.insert(
            [row(account, "resource_subscription", obj["id"], created, obj, type=event)]
        )
        return obj

    def delete_resource_subscription(self, account: str, id: str) -> Json:
        with self.store.lock:
            obj = self.store.raw(account, "resource_subscription", id)
            if obj is None or not self.store.delete(account, "resource_subscription", id):
                raise ApiError(404, f"No such resource subscription: {id}")
        return {**obj, "deleted": True}
