"""launch27: the Launch27 API 2.0 conventions, docs/dialects.md § launch27.

``X-API-Key`` on every request, ``POST /login`` for a ``single_access_token`` sent as
``X-Authentication: email:token``, v1 unless ``Accept: application/launch27.v2``,
zone-less local date-times in the account's time zone, ``{"code", "message"}``
errors with 406 for a missing key and for validation errors.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response

from sandbox.config import SandboxConfig
from sandbox.dialects.base import Dialect, RouteSpec, is_list
from sandbox.errors import ApiError
from sandbox.model import Json
from sandbox.seed import PLANS, time_zone_of
from sandbox.store import Store, Window, dumps

if TYPE_CHECKING:
    from sandbox.api import Call

V2 = "application/launch27.v2"
#: The timestamp fields (integer Unix seconds in spaces), at any depth.
TIME_KEYS = frozenset({"created", "date_range_start", "date_range_end"})


def local_time(timestamp: int, zone: ZoneInfo) -> str:
    """``timestamp`` as ISO 8601 without zone, seconds included, on ``zone``'s clock.

    An instant in the repeated hour's second pass reads like the first pass's
    (the encoding has no offset): docs/dialects.md § Local date-times.
    """
    return datetime.fromtimestamp(timestamp, zone).replace(tzinfo=None).isoformat("T", "seconds")


def encode_times(value: Any, zone: ZoneInfo, *, v1: bool) -> Any:
    """A copy of ``value`` with every timestamp field local (and ``created`` named
    ``created_at`` in v1), at every depth: embedded objects, items, event snapshots."""
    if isinstance(value, dict):
        out: Json = {}
        for key, item in value.items():
            if key in TIME_KEYS and isinstance(item, int) and not isinstance(item, bool):
                item = local_time(item, zone)
            else:
                item = encode_times(item, zone, v1=v1)
            out["created_at" if v1 and key == "created" else key] = item
        return out
    if isinstance(value, list):
        return [encode_times(item, zone, v1=v1) for item in value]
    return value


def wants_v2(request: Request) -> bool:
    """Whether ``Accept`` names ``application/launch27.v2`` (otherwise: v1)."""
    accept = request.headers.get("accept", "")
    return any(part.split(";")[0].strip().lower() == V2 for part in accept.split(","))


class Launch27(Dialect):
    """The launch27 dialect."""

    name = "launch27"

    def __init__(self, config: SandboxConfig) -> None:
        super().__init__(config)
        # Stateless sessions: every sandbox process with the same key issues and accepts
        # the same tokens (no session table to share between workers).
        self._secret = hashlib.sha256(
            b"spaces-sandbox launch27\0" + config.api_key.encode()
        ).digest()

    def session_token(self, account_token: str, email: str) -> str:
        """The ``single_access_token`` of an account (an HMAC of its token and e-mail)."""
        mac = hmac.new(self._secret, f"{account_token}\0{email.lower()}".encode(), "sha256")
        return base64.urlsafe_b64encode(mac.digest()[:20]).decode().rstrip("=")

    # -- routing -------------------------------------------------------------------------

    def extra_routes(self) -> list[RouteSpec]:
        return [("POST", "/login", self.login, True)]

    async def login(self, call: Call) -> Json:
        """``POST /login`` ``{"email", "password"}``: the password is the Spaces token."""
        from sandbox.api import read_body

        body = await read_body(call.request)
        fields: dict[str, list[str]] = {}
        for name in ("email", "password"):
            value = body.get(name)
            if value is None or value == "":
                fields[name] = ["can't be blank"]
            elif not isinstance(value, str):
                fields[name] = ["must be a string"]
        if fields:
            raise ApiError(406, "email and password are required", fields=fields)
        email, password = str(body["email"]), str(body["password"])
        account = call.state.store.account(password)
        if account is None or str(account.get("email", "")).lower() != email.lower():
            raise ApiError(401, "invalid email or password")
        own = str(account["email"])
        return {"single_access_token": self.session_token(password, own), "email": own}

    # -- admission -----------------------------------------------------------------------

    def admit(self, request: Request) -> None:
        key = request.headers.get("x-api-key", "")
        if not key:
            raise ApiError(406, "Missing API key")
        if not hmac.compare_digest(key.encode(), self.config.api_key.encode()):
            raise ApiError(406, "Invalid API key")

    def token_of(self, request: Request, store: Store) -> str | None:
        email, colon, token = request.headers.get("x-authentication", "").strip().rpartition(":")
        if not colon or not email or not token:
            return None
        found = store.account_by_email(email)
        if found is None:
            return None
        account_token, account = found
        expected = self.session_token(account_token, str(account["email"]))
        return account_token if hmac.compare_digest(expected.encode(), token.encode()) else None

    def authenticate(self, request: Request, store: Store) -> str:
        account = self.token_of(request, store)
        if account is None:
            raise ApiError(401, "unauthorized")
        return account

    # -- answers -------------------------------------------------------------------------

    def answer(
        self,
        request: Request,
        account: str,
        payload: Json,
        *,
        window: Window | None,
        created: bool,
    ) -> Response:
        zone = ZoneInfo(time_zone_of(account))
        if payload.get("object") == "account":
            payload = {**payload, "time_zone": zone.key}
        v1 = not wants_v2(request)
        out = encode_times(payload, zone, v1=v1)
        if v1 and is_list(payload):
            out = out["data"]  # v1: a bare array, nothing says whether more remain
        return self.respond(request, dumps(out).encode())

    def error_body(self, exc: ApiError) -> tuple[int, Any]:
        if exc.invalid or exc.status == 406:
            errors: Any = exc.fields if exc.fields is not None else [exc.message]
            return 406, {"code": 406, "message": "not acceptable", "errors": errors}
        if exc.status == 404:
            return 404, {"code": 404, "message": "resource not found"}
        if exc.status == 500:
            return 500, {"code": 500, "message": "internal server error"}
        return exc.status, {"code": exc.status, "message": exc.message}

    def hook_body(self, account: str, event: Json) -> bytes:
        # Deliveries carry no Accept: they are written in v2 (``created``), local times.
        return dumps(encode_times(event, ZoneInfo(time_zone_of(account)), v1=False)).encode()

    def describe(self, document: Json) -> Json:
        credentials = {"type": "object", "required": ["email", "password"],
                       "properties": {"email": {"type": "string"},
                                      "password": {"type": "string"}}}  # fmt: skip
        login = {
            "post": {
                "summary": "Log in: the password is the account's Spaces access token",
                "security": [{"apiKey": []}],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": credentials}},
                },
                "responses": {
                    "200": {"description": "{single_access_token, email}"},
                    "401": {"description": "invalid email or password"},
                    "406": {"description": "missing or invalid API key; blank fields"},
                },
            }
        }
        info = {
            **document["info"],
            "title": "Spaces REST API (sandbox, launch27 dialect)",
            "description": (
                "The launch27 dialect (docs/dialects.md): every request sends `X-API-Key` "
                "(406 when missing or wrong); `POST /login` answers a single_access_token "
                "that other requests send as `X-Authentication: email:token`. "
                f"`Accept: {V2}` selects v2 (the list envelope below); otherwise v1: bare "
                "arrays and `created_at` for `created`. Every timestamp is an ISO 8601 "
                "local date-time without zone, in the account's `time_zone` (on /account), "
                "not the Unix seconds the component schemas show. Errors are "
                "`{code, message}`; validation errors 406 with `errors` (a field map or "
                "a list)."
            ),
        }
        schemes = {
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            "session": {"type": "apiKey", "in": "header", "name": "X-Authentication"},
        }
        return {
            **document,
            "info": info,
            "security": [{"apiKey": [], "session": []}],
            "components": {**document["components"], "securitySchemes": schemes},
            "paths": {**document["paths"], "/login": login},
        }

    def banner(self) -> str:
        accounts = ", ".join(f"{p.email} / {p.token}" for p in PLANS)
        return (
            f"API key (X-API-Key): {self.config.api_key}; POST /api/v1/login "
            f'{{"email", "password"}} with {accounts} (e-mail / password), then '
            "X-Authentication: <email>:<single_access_token>; "
            f"Accept: {V2} for v2 (v1 otherwise)"
        )


DIALECT = Launch27
