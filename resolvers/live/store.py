"""Who holds which upstream REST Hook: records, holders and leases.

One upstream hook serves an (account, event type) for the whole deployment.
Its :class:`HookRecord` is written *before* the hook is created upstream (so a
hook can never exist without a claim on it), and names the hook's target URL,
its secret's hash and the account's token, sealed. The processes that have
subscribers for it are its *holders*; each process keeps a *lease* alive by
heartbeat. A record none of whose holders has a live lease is an orphan: any
process may delete its hook upstream and drop the record.

:class:`RedisStore` shares all of this between processes and hosts;
:class:`MemoryStore` is one process's, persisted to a state file (mode 0600,
tokens sealed) so that the next life of the process removes what a crash left.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Protocol

from resolvers.live.sealing import new_key

log = logging.getLogger("spaces_graphql.live")

#: A Redis lock outlives the slowest POST it guards (the read timeout is 15 s).
LOCK_SECONDS = 60.0
Key = tuple[str, str]  # (account, event type)
#: A generated sealing key outlives the deployment's last heartbeat by this long.
SEALKEY_SECONDS = 30 * 24 * 3600


def _machine_scope() -> str:
    """This boot of this machine and this pid namespace ("" where unknown: not Linux)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        pid_ns = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return ""
    return hashlib.sha256(f"{boot}:{pid_ns}".encode()).hexdigest()[:8]


SCOPE = _machine_scope()


def instance_id() -> str:
    """This process's name among the deployment's: host, scope, pid and a random part."""
    return f"{socket.gethostname()}:{SCOPE or '-'}:{os.getpid()}:{secrets.token_hex(4)}"


def gone_here(instance: str) -> bool:
    """Whether ``instance`` ran where its pid means the same process, and has exited.

    A restarted facade need not wait for the leases of the processes it replaces
    (``kill -9``) to lapse. Any doubt (another host or pid namespace, a pid in use,
    perhaps reused) answers False: the lease decides then.
    """
    parts = instance.split(":")
    if not SCOPE or len(parts) != 4 or parts[1] != SCOPE or parts[0] != socket.gethostname():
        return False
    try:
        pid = int(parts[2])
        if pid <= 0:  # 0 and negatives address process groups
            return False
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (ValueError, OSError):
        return False
    return False


@dataclass(slots=True)
class HookRecord:
    """The deployment's claim on one upstream hook."""

    account: str
    event_type: str
    target_url: str
    secret_hash: str
    #: The account's access token, sealed (:class:`Sealer`); never the token itself.
    token: str
    #: Empty while the upstream has not answered the POST yet (or a crash cut it short).
    hook_id: str = ""
    created: float = 0.0

    @property
    def key(self) -> Key:
        return (self.account, self.event_type)

    @classmethod
    def from_json(cls, raw: Any) -> HookRecord | None:
        """The record stored as ``raw``, or None if it is not one."""
        if not isinstance(raw, dict):
            return None
        try:
            return cls(**{f.name: raw[f.name] for f in fields(cls) if f.name in raw})
        except TypeError:
            return None


def _field(key: Key) -> str:
    return f"{key[0]}|{key[1]}"


class Store(Protocol):
    instance: str

    async def start(self) -> None: ...
    async def renew(self) -> bool: ...
    async def close(self) -> None: ...
    def lock(self, key: Key, wait: bool = True) -> contextlib.AbstractAsyncContextManager[bool]: ...
    async def get(self, key: Key) -> HookRecord | None: ...
    async def put(self, record: HookRecord) -> None: ...
    async def delete(self, key: Key) -> None: ...
    async def records(self) -> list[HookRecord]: ...
    async def add_holder(self, key: Key) -> None: ...
    async def remove_holder(self, key: Key) -> None: ...
    async def live_holders(self, key: Key) -> set[str]: ...
    async def sealing_key(self) -> str: ...


class MemoryStore:
    """A single process's records; the state file carries them over a crash."""

    def __init__(self, state_path: Path | None) -> None:
        self.instance = instance_id()
        self.state_path = state_path
        self._records: dict[Key, HookRecord] = {}
        self._holders: dict[Key, set[str]] = {}
        self._locks: dict[Key, asyncio.Lock] = {}
        self._legacy: list[dict[str, Any]] = []

    async def start(self) -> None:
        """Load what an earlier life left: every record in it is an orphan (no holders)."""
        if self.state_path is None or not self.state_path.exists():
            return
        try:
            data = json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            log.warning("ignoring unreadable hook state %s", self.state_path)
            return
        entries = data.get("records", []) if isinstance(data, dict) else data
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict):
                continue
            record = HookRecord.from_json(entry)
            if record is not None:
                self._records[record.key] = record
            elif "token" in entry and "hook_id" in entry:
                # A state file from before tokens were sealed: sealed on load, rewritten.
                self._legacy.append(entry)

    def take_legacy(self) -> list[dict[str, Any]]:
        """Entries of an old-format state file (raw tokens), handed over once."""
        legacy, self._legacy = self._legacy, []
        return legacy

    async def renew(self) -> bool:
        return True

    async def close(self) -> None:
        self._save()

    @contextlib.asynccontextmanager
    async def lock(self, key: Key, wait: bool = True) -> AsyncIterator[bool]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        if not wait and lock.locked():
            yield False
            return
        async with lock:
            yield True

    async def get(self, key: Key) -> HookRecord | None:
        return self._records.get(key)

    async def put(self, record: HookRecord) -> None:
        self._records[record.key] = record
        self._save()

    async def delete(self, key: Key) -> None:
        self._records.pop(key, None)
        self._holders.pop(key, None)
        self._save()

    async def records(self) -> list[HookRecord]:
        return list(self._records.values())

    async def add_holder(self, key: Key) -> None:
        self._holders.setdefault(key, set()).add(self.instance)

    async def remove_holder(self, key: Key) -> None:
        self._holders.get(key, set()).discard(self.instance)

    async def live_holders(self, key: Key) -> set[str]:
        return set(self._holders.get(key, ()))

    async def sealing_key(self) -> str:
        """A key kept beside the state file (0600), made on first use."""
        if self.state_path is None:
            return new_key()  # nothing outlives the process: any key will do
        path = self.state_path.with_name(self.state_path.name + ".key")
        with contextlib.suppress(FileNotFoundError):
            return path.read_text().strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        key = new_key()
        with contextlib.suppress(FileExistsError):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(key)
        return path.read_text().strip()

    def _save(self) -> None:
        if self.state_path is None:
            return
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"version": 2, "records": [asdict(r) for r in self._records.values()]}, fh)
        tmp.replace(self.state_path)


class RedisStore:
    """Records, holders and leases shared by every process of the deployment."""

    def __init__(self, redis: Any, namespace: str, lease_seconds: float) -> None:
        self.instance = instance_id()
        self._redis = redis
        self._ns = namespace
        self._lease_ms = max(1, int(lease_seconds * 1000))
        self._sealkey = ""

    def _lease(self, instance: str) -> str:
        return f"{self._ns}:lease:{instance}"

    def _holders(self, key: Key) -> str:
        return f"{self._ns}:holders:{_field(key)}"

    @property
    def _hooks(self) -> str:
        return f"{self._ns}:hooks"

    async def start(self) -> None:
        await self._redis.set(self._lease(self.instance), "1", px=self._lease_ms)

    async def renew(self) -> bool:
        """Extend the lease; False when it had lapsed (others may have reaped our hooks)."""
        old = await self._redis.set(self._lease(self.instance), "1", px=self._lease_ms, get=True)
        if self._sealkey:
            await self._redis.expire(self._sealkey, SEALKEY_SECONDS)
        return old is not None

    async def close(self) -> None:
        await self._redis.delete(self._lease(self.instance))

    @contextlib.asynccontextmanager
    async def lock(self, key: Key, wait: bool = True) -> AsyncIterator[bool]:
        lock = self._redis.lock(
            f"{self._ns}:lock:{_field(key)}",
            timeout=LOCK_SECONDS,
            sleep=0.02,
            blocking=wait,
            blocking_timeout=LOCK_SECONDS if wait else None,
        )
        if not await lock.acquire():
            if wait:
                raise TimeoutError(f"hook lock {_field(key)} not acquired")
            yield False
            return
        try:
            yield True
        finally:
            with contextlib.suppress(Exception):  # expired meanwhile: nothing to release
                await lock.release()

    async def get(self, key: Key) -> HookRecord | None:
        raw = await self._redis.hget(self._hooks, _field(key))
        return None if raw is None else HookRecord.from_json(json.loads(raw))

    async def put(self, record: HookRecord) -> None:
        await self._redis.hset(self._hooks, _field(record.key), json.dumps(asdict(record)))

    async def delete(self, key: Key) -> None:
        await self._redis.hdel(self._hooks, _field(key))
        await self._redis.delete(self._holders(key))

    async def records(self) -> list[HookRecord]:
        raw = await self._redis.hgetall(self._hooks)
        found = [HookRecord.from_json(json.loads(v)) for v in raw.values()]
        return [r for r in found if r is not None]

    async def add_holder(self, key: Key) -> None:
        await self._redis.sadd(self._holders(key), self.instance)

    async def remove_holder(self, key: Key) -> None:
        await self._redis.srem(self._holders(key), self.instance)

    async def live_holders(self, key: Key) -> set[str]:
        """Holders whose lease is alive; the others are forgotten on the way."""
        members = sorted(await self._redis.smembers(self._holders(key)))
        if not members:
            return set()
        leases = await self._redis.mget([self._lease(m) for m in members])
        exited = [m for m, a in zip(members, leases, strict=True) if a and gone_here(m)]
        if exited:  # its lease has not lapsed yet, but its process is gone: end it now
            await self._redis.delete(*[self._lease(m) for m in exited])
        dead = [m for m, a in zip(members, leases, strict=True) if a is None] + exited
        if dead:
            await self._redis.srem(self._holders(key), *dead)
        return set(members) - set(dead)

    async def sealing_key(self) -> str:
        """The deployment's generated key (used only when no key is configured)."""
        # It expires only once no process of the deployment has renewed it for a while.
        self._sealkey = f"{self._ns}:sealkey"
        await self._redis.set(self._sealkey, new_key(), nx=True, ex=SEALKEY_SECONDS)
        key: str = await self._redis.get(self._sealkey)
        return key


__all__ = ["HookRecord", "MemoryStore", "RedisStore", "Store", "instance_id"]
