"""The typed per-request context every resolver receives."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import Any

import strawberry
from graphql import DocumentNode
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from graph.config import GraphConfig
from resolvers.client import UpstreamSession
from resolvers.live.service import LiveEvents
from resolvers.loaders import Loaders
from resolvers.targets import HostResolver, system_resolver


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
    """Built once per GraphQL operation (``Runtime.context``), never shared between two.

    An HTTP request, each operation on a WebSocket connection and each event of a
    subscription get their own: loaders cache what one operation read, so a read
    after a write sees the write and nothing accumulates over a long connection.
    """

    request: Request | WebSocket
    response: Response | WebSocket | None
    #: What graph/ reads of the settings (built once by the app).
    config: GraphConfig
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
    #: The document pre-flight parsed and validated (``spaces_graphql/pipeline.py``): the
    #: schema's ``PreparedDocument`` extension executes it instead of parsing again.
    document: DocumentNode | None = None

    def for_event(self) -> Context:
        """A fresh context for one subscription event: same caller, new session and loaders.

        Each event is resolved as a new query would be: it sees current data, and
        what it loaded is freed with it (see ``graph/subscription_root.py``).
        """
        upstream = self.upstream.client.session(self.caller.token)
        return dataclasses.replace(
            self, upstream=upstream, loaders=Loaders(upstream), memo={}, document=None
        )


Info = strawberry.Info[Context, None]
