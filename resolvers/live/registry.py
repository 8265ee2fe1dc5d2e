"""Upstream REST Hook registrations, shared by all subscribers of an account.

The first subscriber of an account that wants an event type makes the facade
register a REST Hook upstream whose ``target_url`` is the facade's own
``/hooks/<secret>``; later subscribers share it; when the last one leaves,
the hook is deleted upstream. Registrations are written to a state file
(mode 0600: it holds the tokens needed to delete them) so that a restarted
process removes the hooks its previous life left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from resolvers.client import SpacesClient, segment
from resolvers.errors import NotFound, SpacesGraphQLError
from resolvers.live.bus import Bus, HookTarget
from resolvers.records import parse_page, parse_resource_subscription

log = logging.getLogger("spaces_graphql.live")


@dataclass(slots=True)
class Registration:
    """One upstream REST Hook this process owns."""

    account: str
    event_type: str
    secret: str
    token: str
    hook_id: str = ""
    refs: int = 0


class HookRegistry:
    """Reference-counted upstream REST Hooks, one per (account, event type)."""

    def __init__(
        self, client: SpacesClient, bus: Bus, hooks_base_url: str, state_path: Path | None
    ) -> None:
        self.client = client
        self.bus = bus
        self.hooks_base_url = hooks_base_url.rstrip("/") + "/"
        self.state_path = state_path
        self._regs: dict[tuple[str, str], Registration] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._swept: set[str] = set()

    def target_url(self, secret: str) -> str:
        return f"{self.hooks_base_url}{secret}"

    def live(self) -> list[Registration]:
        return [r for r in self._regs.values() if r.hook_id]

    async def acquire(self, account: str, token: str, event_type: str) -> None:
        """Count one more subscriber; register the upstream hook if it is the first."""
        key = (account, event_type)
        async with self._locks.setdefault(key, asyncio.Lock()):
            reg = self._regs.get(key)
            if reg is not None:
                reg.refs += 1
                return
            await self._sweep(account, token)
            reg = Registration(account, event_type, secrets.token_urlsafe(32), token, refs=1)
            # The secret is live before the hook exists: a delivery may beat the answer.
            await self.bus.put_secret(reg.secret, HookTarget(account, event_type))
            session = self.client.session(token)
            try:
                created = await session.request(
                    "POST",
                    "resource_subscriptions",
                    json_body={"event": event_type, "target_url": self.target_url(reg.secret)},
                )
                reg.hook_id = parse_resource_subscription(created).id
            except BaseException:
                await self.bus.drop_secret(reg.secret)
                raise
            self._regs[key] = reg
            self._save()

    async def release(self, account: str, event_type: str) -> None:
        """Count one subscriber less; delete the upstream hook when none is left."""
        key = (account, event_type)
        async with self._locks.setdefault(key, asyncio.Lock()):
            reg = self._regs.get(key)
            if reg is None:
                return
            reg.refs -= 1
            if reg.refs > 0:
                return
            del self._regs[key]
            self._save()
            await self.bus.drop_secret(reg.secret)
            await self._delete(reg.token, reg.hook_id)

    async def _delete(self, token: str, hook_id: str) -> None:
        try:
            await self.client.session(token).request(
                "DELETE", f"resource_subscriptions/{segment(hook_id)}"
            )
        except NotFound:
            pass
        except SpacesGraphQLError as exc:
            log.warning("could not delete upstream hook %s: %s", hook_id, exc.message)

    async def _sweep(self, account: str, token: str) -> None:
        """Once per account: delete hooks aimed at this facade that no one owns."""
        if account in self._swept:
            return
        self._swept.add(account)
        session = self.client.session(token)
        owned = {r.hook_id for r in self._regs.values()}
        params: dict[str, str | int] = {"limit": 100}
        stale: list[str] = []
        while True:
            page = parse_page(
                await session.get("resource_subscriptions", params), parse_resource_subscription
            )
            stale += [
                h.id
                for h in page.items
                if h.target_url.startswith(self.hooks_base_url) and h.id not in owned
            ]
            if not page.has_more or not page.items:
                break
            params["starting_after"] = page.items[-1].id
        for hook_id in stale:
            await self._delete(token, hook_id)

    async def cleanup_on_start(self) -> int:
        """Delete the hooks a previous life of this process registered and left behind."""
        if self.state_path is None or not self.state_path.exists():
            return 0
        try:
            entries = json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            log.warning("ignoring unreadable hook state %s", self.state_path)
            return 0
        removed = 0
        for entry in entries if isinstance(entries, list) else []:
            with contextlib.suppress(KeyError, TypeError):
                await self._delete(str(entry["token"]), str(entry["hook_id"]))
                await self.bus.drop_secret(str(entry["secret"]))
                removed += 1
        self._save()
        return removed

    async def close(self) -> None:
        """On shutdown, remove every hook this process still holds."""
        for reg in list(self._regs.values()):
            await self.bus.drop_secret(reg.secret)
            await self._delete(reg.token, reg.hook_id)
        self._regs.clear()
        self._save()

    def _save(self) -> None:
        if self.state_path is None:
            return
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump([asdict(r) for r in self.live()], fh)
        tmp.replace(self.state_path)
