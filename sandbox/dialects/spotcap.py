"""spotcap: the Partners API conventions (Heroku-style), docs/dialects.md § spotcap.

Raw-token ``Authorization``, a required ``Accept`` version, ETags on every 2xx,
lists as JSON arrays divided with ``Range`` headers, 201 on create, dash-separated
paths, a Space by id or name, ``{"id", "message"}`` errors.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sandbox.dialects.base import Dialect, is_list
from sandbox.errors import ApiError
from sandbox.model import Json
from sandbox.paging import DEFAULT_LIMIT, MAX_LIMIT
from sandbox.store import Store, Window, dumps

MEDIA_TYPE = "application/vnd.spaces+json"
VERSION = "1"
ACCEPT = f"{MEDIA_TYPE}; version={VERSION}"

# Error ids by status; an ApiError's own code wins where it names one of these.
_IDS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    422: "invalid_params",
    429: "rate_limited",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}
_CODES = {"invalid_range", "missing_version", "unknown_version"}
# In spotcap a cursor can only come from a Range, so an unknown one is a Range error.
_RENAMED = {"unknown_cursor": "invalid_range"}

_RANGE = re.compile(r"\s*(?P<field>\S+)\s+(?P<spec>[^;]*?)\s*(?:;(?P<params>.*))?")
_QUERY_PAGING = ("limit", "starting_after", "starting_before")
RANGE_SYNTAX = "id [START]..[; max=N][, order=desc|asc]"


def _invalid_range(message: str) -> ApiError:
    return ApiError(400, f"{message}; a Range looks like {RANGE_SYNTAX!r}", code="invalid_range")


def parse_range(header: str) -> tuple[Window, str]:
    """The stretch a ``Range`` header asks for, and its order (``desc`` or ``asc``)."""
    found = _RANGE.fullmatch(header)
    if found is None:
        raise _invalid_range(f"malformed Range {header!r}")
    if found["field"] != "id":
        raise _invalid_range(f"{found['field']!r} is not a range field (only id is)")
    start, dots, end = found["spec"].partition("..")
    if not dots or ".." in end:
        raise _invalid_range(f"malformed range {found['spec']!r}")
    if end.strip():
        raise _invalid_range("an end bound is not supported")
    start = start.strip()
    inclusive = not start.startswith("]")
    start = start.removeprefix("]").strip()
    if not start and not inclusive:
        raise _invalid_range("an exclusive start needs an id")
    limit, order = DEFAULT_LIMIT, "desc"
    seen: set[str] = set()
    if found["params"] is not None:
        for part in found["params"].split(","):
            name, eq, value = (p.strip() for p in part.partition("="))
            if not eq or name in seen or name not in ("max", "order"):
                raise _invalid_range(f"unknown or repeated range parameter {part.strip()!r}")
            seen.add(name)
            if name == "max":
                if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_LIMIT:
                    raise _invalid_range(f"max must be an integer between 1 and {MAX_LIMIT}")
                limit = int(value)
            elif value.lower() in ("desc", "asc"):
                order = value.lower()
            else:
                raise _invalid_range("order must be desc or asc")
    window = Window(
        limit, start or None, ascending=order == "asc", inclusive=inclusive and bool(start)
    )
    return window, order


def range_window(request: Request) -> Window:
    """spotcap's paging: the ``Range`` header (the spaces query arguments are refused)."""
    used = [name for name in _QUERY_PAGING if name in request.query_params]
    if used:
        raise ApiError(
            400,
            f"{used[0]} is not a spotcap parameter: page with the Range header ({RANGE_SYNTAX})",
        )
    header = request.headers.get("range")
    return Window() if header is None else parse_range(header)[0]


def _identity(obj: Json) -> str:
    return str(obj["id"] if "id" in obj else obj["token"])


def space_name(space: Json) -> str | None:
    """A Space's name: the last path segment of its public URL (none when private)."""
    url = space.get("url")
    if not isinstance(url, str):
        return None
    return url.rstrip("/").rsplit("/", 1)[-1] or None


class Spotcap(Dialect):
    """The spotcap dialect."""

    name = "spotcap"
    paging = staticmethod(range_window)

    def spell(self, template: str) -> str:
        # Static segments are dash-separated; parameters ({id}) are left alone.
        return "/".join(
            p if p.startswith("{") else p.replace("_", "-") for p in template.split("/")
        )

    def resolve(self, store: Store, account: str, template: str, params: dict[str, str]) -> None:
        if template != "/spaces/{id}":
            return
        key = params["id"]
        if key.isascii() and key.isdigit():
            return
        for space_id in store.ids(account, "space"):
            space = store.get(account, "space", space_id)
            if space is not None and space_name(space) == key:
                params["id"] = space_id
                return

    def admit(self, request: Request) -> None:
        accept = request.headers.get("accept")
        versions = []
        for media_range in (accept or "").split(","):
            media, *parameters = (p.strip() for p in media_range.split(";"))
            if media.lower() != MEDIA_TYPE:
                continue
            for parameter in parameters:
                name, _, value = parameter.partition("=")
                if name.strip().lower() == "version":
                    versions.append(value.strip().strip('"'))
        if not versions:
            raise ApiError(
                400,
                f"a version is required: send the header Accept: {ACCEPT}",
                code="missing_version",
            )
        if VERSION not in versions:
            raise ApiError(
                400,
                f"version {versions[0]} is unknown; the only version is {VERSION} "
                f"(Accept: {ACCEPT})",
                code="unknown_version",
            )

    def token_of(self, request: Request, store: Store) -> str | None:
        return request.headers.get("authorization", "").strip() or None

    def authenticate(self, request: Request, store: Store) -> str:
        token = request.headers.get("authorization", "").strip()
        if not token:
            raise ApiError(401, "Authentication required: send Authorization: <access token>")
        if not store.is_account(token):
            raise ApiError(401, "Invalid credentials: Authorization is the raw access token")
        return token

    def answer(
        self,
        request: Request,
        account: str,
        payload: Json,
        *,
        window: Window | None,
        created: bool,
    ) -> Response:
        status = 201 if created else 200
        if not is_list(payload):
            return self.respond(request, dumps(payload).encode(), status, etag_writes=True)
        data: list[Json] = payload["data"]
        headers = {"Accept-Ranges": "id"}
        if window is not None:  # a stretch of the list (not an ?ids= batch)
            if data:
                headers["Content-Range"] = f"id {_identity(data[0])}..{_identity(data[-1])}"
            if payload["has_more"]:
                order = "asc" if window.ascending else "desc"
                headers["Next-Range"] = (
                    f"id ]{_identity(data[-1])}..; max={window.limit}, order={order}"
                )
                status = 206
        return self.respond(
            request,
            dumps(data).encode(),
            status,
            headers,
            etag_writes=True,
            etag_extra=headers.get("Next-Range", ""),
        )

    def error_body(self, exc: ApiError) -> tuple[int, Any]:
        status = 422 if exc.invalid else exc.status
        code = _RENAMED.get(exc.code or "", exc.code)
        body: Json = {
            "id": code if code in _CODES else _IDS.get(status, "error"),
            "message": exc.message,
        }
        if exc.fields is not None:
            body["fields"] = exc.fields
        return status, body

    def describe(self, document: Json) -> Json:
        paths = {
            self.spell(path).replace("/spaces/{id}", "/spaces/{id_or_name}"): spec
            for path, spec in document["paths"].items()
        }
        info = {
            **document["info"],
            "title": "Spaces REST API (sandbox, spotcap dialect)",
            "description": (
                "The spotcap dialect (docs/dialects.md): every request sends "
                f"`Accept: {ACCEPT}` and `Authorization: <access token>` (no scheme). "
                "Lists are JSON arrays divided with `Range: id ]ID..; max=N, order=desc|asc` "
                "(answers `Accept-Ranges`, `Content-Range`, `Next-Range`; 206 while more "
                "remain) instead of the envelope and cursor arguments below; every 2xx "
                "carries an ETag; a create answers 201; errors are `{id, message}` "
                "(422 `invalid_params` with `fields`). `/spaces/{id_or_name}` takes the "
                "Space's name (the last path segment of its url). The component schemas "
                "show the objects themselves."
            ),
        }
        schemes = {"rawToken": {"type": "apiKey", "in": "header", "name": "Authorization"}}
        components = {**document["components"], "securitySchemes": schemes}
        return {
            **document,
            "info": info,
            "security": [{"rawToken": []}],
            "components": components,
            "paths": paths,
        }

    def banner(self) -> str:
        return (
            "access tokens: demo-alice, demo-bob (Authorization: <token>, no scheme); "
            f"every request sends Accept: {ACCEPT}"
        )


DIALECT = Spotcap
