"""Reading the caller's Spaces access token from a request's headers.

Every operation needs a token except one made only of ``login`` (which is how a
launch27 caller gets one): a request without an ``Authorization`` header is an
*anonymous* caller (:func:`anonymous_caller`), and the pipeline refuses it with
401 unless its operation is login-only (``spaces_graphql/pipeline.py``). An
anonymous caller is keyed by its client address, so its rate limit is that
address's; it has no token, and nothing it runs may reach the upstream with one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping

from graph.context import Caller
from resolvers.errors import Unauthenticated

MAX_TOKEN_LENGTH = 512
# Printable ASCII without spaces: nothing that could split or smuggle a header.
_TOKEN = re.compile(r"^[\x21-\x7e]+$")
MISSING_TOKEN = "send your Spaces access token: `Authorization: Bearer <token>`"
#: Keys of anonymous callers: never a token's key (those are hex digests).
ANONYMOUS_PREFIX = "anon:"


def optional_token(headers: Mapping[str, str]) -> str | None:
    """The token as :func:`token_from_headers` reads it; None when no header is sent.

    A header that is sent but malformed still raises :class:`Unauthenticated`.
    """
    if not headers.get("authorization"):
        return None
    return token_from_headers(headers)


def anonymous_caller(client: str) -> Caller:
    """The caller of a request without a token, keyed by its client address."""
    digest = hashlib.sha256(client.encode()).hexdigest()[:32]
    return Caller(token="", key=ANONYMOUS_PREFIX + digest)


def is_anonymous(caller: Caller) -> bool:
    """Whether ``caller`` sent no token (:func:`anonymous_caller`)."""
    return caller.key.startswith(ANONYMOUS_PREFIX)


def token_from_headers(headers: Mapping[str, str]) -> str:
    """The token from ``Authorization: Bearer T`` or Spaces' ``Basic base64(T:)``.

    Raises :class:`Unauthenticated` when it is missing or malformed, before
    anything is sent upstream.
    """
    header = headers.get("authorization")
    if not header:
        raise Unauthenticated(MISSING_TOKEN)
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
