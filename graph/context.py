"""The typed per-request context every resolver receives."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import strawberry
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from resolvers.client import UpstreamSession
from resolvers.live.service import LiveEvents
from resolvers.loaders import Loaders
from resolvers.targets import HostResolver, system_resolver
from spaces_graphql.settings import Settings


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking: their Spaces access token and a hash of it for keys and logs."""

    token: str
    key: str

    @classmethod
    def from_token(cls, token: str) -> Caller:
        digest = hashlib.sha256(token.encode()).hexdigest()[:32]
        return cls(token=token, key=digest)

    def __repr__(self) -> str:  # never print the token itself
        return f"Caller(key={self.key!r})"


@dataclass(slots=True)
class Context:
    """Built once per GraphQL operation by the app's ``get_context``."""

    request: Request | WebSocket
    response: Response | WebSocket | None
    settings: Settings
    caller: Caller
    upstream: UpstreamSession
    loaders: Loaders
    #: Values memoised for this operation only (e.g. the account).
    memo: dict[str, Any]
    #: The process's live-events service (subscriptions); None where not running.
    live: LiveEvents | None = None
    #: The ``connection_init`` payload of a WebSocket connection.
    connection_params: dict[str, Any] | None = None
    #: How REST Hook targets are resolved for the SSRF check (tests map names without DNS).
    resolve_host: HostResolver = system_resolver

    def rebind(self, caller: Caller, upstream: UpstreamSession) -> None:
        """Switch to another caller (a WebSocket authenticated by ``connection_init``)."""
        self.caller = caller
        self.upstream = upstream
        self.loaders.release()
        self.loaders = Loaders(upstream)

    def fresh_loaders(self) -> None:
        """New loaders: a subscription resolves each event as a new query would."""
        self.loaders.release()
        self.loaders = Loaders(self.upstream)


Info = strawberry.Info[Context, None]
