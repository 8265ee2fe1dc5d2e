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
from resolvers.loaders import Loaders
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


Info = strawberry.Info[Context, None]
