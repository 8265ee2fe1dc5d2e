"""Reading the caller's Spaces access token from a request's headers."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping

from resolvers.errors import Unauthenticated

MAX_TOKEN_LENGTH = 512
# Printable ASCII without spaces: nothing that could split or smuggle a header.
_TOKEN = re.compile(r"^[\x21-\x7e]+$")


def token_from_headers(headers: Mapping[str, str]) -> str:
    """The token from ``Authorization: Bearer T`` or Spaces' ``Basic base64(T:)``.

    Raises :class:`Unauthenticated` when it is missing or malformed, before
    anything is sent upstream.
    """
    header = headers.get("authorization")
    if not header:
        raise Unauthenticated("send your Spaces access token: `Authorization: Bearer <token>`")
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        token = value
    elif scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.encode("ascii"), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeError, ValueError):
            raise Unauthenticated("the Basic credentials are not valid base64") from None
        token = decoded.partition(":")[0]
    else:
        raise Unauthenticated("use the Bearer or Basic authorization scheme")
    if not token or len(token) > MAX_TOKEN_LENGTH or not _TOKEN.match(token):
        raise Unauthenticated("the access token is malformed")
    return token
