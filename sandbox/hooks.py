"""REST Hooks delivery: every event is POSTed to the account's matching subscriptions.

Deliveries run as background asyncio tasks started from the request that caused the
event (no lifespan needed, so the app also works through ``httpx.ASGITransport``).
A failed attempt is retried after ``hook_retry_seconds`` via ``loop.call_later``, up to
``hook_max_attempts``; then the webhook stays pending, as the real service does.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import httpx

from sandbox.config import SandboxConfig
from sandbox.model import Json, new_id
from sandbox.store import Store, dumps, row

log = logging.getLogger("sandbox.hooks")

Outcome = Literal["delivered", "gone", "failed"]


@dataclass
class Delivery:
    account: str
    subscription_id: str
    webhook_id: str
    url: str
    event_type: str
    body: bytes
    attempt: int = 1


def is_loopback(url: str) -> bool:
    """Whether ``url`` points at this machine (127.0.0.0/8, ::1 or localhost)."""
    try:
        host = httpx.URL(url).host
    except httpx.InvalidURL:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HookDispatcher:
    """Creates webhook objects for events and delivers them in the background."""

    def __init__(
        self,
        store: Store,
        config: SandboxConfig,
        transport: httpx.AsyncBaseTransport | None = None,
        encode: Callable[[str, Json], bytes] | None = None,
    ) -> None:
        self._store = store
        self._config = config
        self._transport = transport
        # How a delivery's body is written (account, event): the dialect's encoding.
        self._encode: Callable[[str, Json], bytes] = encode or (lambda _, e: dumps(e).encode())
        self._rng = random.SystemRandom()
        self._tasks: set[asyncio.Task[None]] = set()
        self._timers: set[asyncio.TimerHandle] = set()
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self.attempts = 0  # every attempt, including refused non-loopback ones

    def dispatch(self, account: str, event: Json) -> list[str]:
        """Create a pending webhook per matching subscription and start delivering.

        Must be called from a coroutine (it schedules tasks on the running loop).
        Returns the new webhook ids.
        """
        body = self._encode(account, event)
        created = int(time.time())
        deliveries: list[Delivery] = []
        with self._store.lock:
            for sub_id in self._store.ids(
                account, "resource_subscription", "type=?", [event["type"]]
            ):
                sub = self._store.raw(account, "resource_subscription", sub_id)
                if sub is None:
                    continue
                hook = {
                    "object": "webhook",
                    "id": new_id(self._rng, "webhook"),
                    "created": created,
                    "url": sub["target_url"],
                    "event": None,
                    "pending": True,
                }
                self._store.insert(
                    [
                        row(
                            account,
                            "webhook",
                            hook["id"],
                            created,
                            hook,
                            ref=event["id"],
                            type=event["type"],
                        )
                    ]
                )
                deliveries.append(
                    Delivery(account, sub_id, hook["id"], sub["target_url"], event["type"], body)
                )
        for delivery in deliveries:
            self._start(delivery)
        return [d.webhook_id for d in deliveries]

    async def drain(self) -> None:
        """Wait until no delivery attempt is running (scheduled retries are not waited for)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        """Cancel scheduled retries and running attempts; close our own HTTP client."""
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self._client is not None and self._client_loop is asyncio.get_running_loop():
            await self._client.aclose()
        self._client = None

    def _start(self, delivery: Delivery) -> None:
        task = asyncio.get_running_loop().create_task(self._attempt(delivery))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _schedule_retry(self, delivery: Delivery) -> None:
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._timers.discard(timer)
            self._start(delivery)

        timer = loop.call_later(self._config.hook_retry_seconds, fire)
        self._timers.add(timer)

    async def _attempt(self, delivery: Delivery) -> None:
        # A subscription removed meanwhile (DELETE or an earlier 410) gets no more attempts.
        if (
            self._store.raw(delivery.account, "resource_subscription", delivery.subscription_id)
            is None
        ):
            return
        self.attempts += 1
        outcome = await self._send(delivery)
        if outcome == "delivered":
            hook = self._store.raw(delivery.account, "webhook", delivery.webhook_id)
            if hook is not None:
                hook["pending"] = False
                self._store.update_body(delivery.account, "webhook", delivery.webhook_id, hook)
        elif outcome == "gone":
            # REST Hooks convention: 410 Gone means "unsubscribe me".
            self._store.delete(delivery.account, "resource_subscription", delivery.subscription_id)
        elif delivery.attempt < self._config.hook_max_attempts:
            delivery.attempt += 1
            self._schedule_retry(delivery)

    async def _send(self, delivery: Delivery) -> Outcome:
        if not (self._config.hook_allow_any_host or is_loopback(delivery.url)):
            log.info(
                "not delivering to non-loopback %s (attempt %d)", delivery.url, delivery.attempt
            )
            return "failed"
        try:
            response = await self._http().post(
                delivery.url,
                content=delivery.body,
                headers={"Content-Type": "application/json", "X-Spaces-Event": delivery.event_type},
                timeout=self._config.hook_timeout_seconds,
            )
        except (httpx.HTTPError, OSError) as exc:
            log.info("delivery to %s failed: %r", delivery.url, exc)
            return "failed"
        if response.status_code == 410:
            return "gone"
        return "delivered" if 200 <= response.status_code < 300 else "failed"

    def _http(self) -> httpx.AsyncClient:
        # One client per event loop: a client's pool is bound to the loop that used it.
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            self._client = httpx.AsyncClient(transport=self._transport, follow_redirects=False)
            self._client_loop = loop
        return self._client
