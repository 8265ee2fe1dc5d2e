"""Access tokens at rest: sealed with a key only the facade holds.

Deleting an orphan REST Hook after a crash needs its account's token, so a
hook's record keeps it, but never in the clear: it is encrypted and
authenticated (Fernet: AES-128-CBC + HMAC-SHA256) with a key derived from
``SPACES_GRAPHQL_HOOK_STATE_KEY``. Without that setting, the key is generated
once per deployment and kept where the records are not (see service.py).
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from cryptography.fernet import Fernet, InvalidToken

_CONTEXT = b"spaces-graphql hook state v1\x00"


def new_key() -> str:
    """A fresh random key, in the form the setting takes."""
    return secrets.token_urlsafe(32)


class Sealer:
    """Seals and opens tokens with one key (any string of enough entropy)."""

    def __init__(self, key: str) -> None:
        # Any passphrase works: SHA-256 spreads it into Fernet's 32-byte key.
        digest = hashlib.sha256(_CONTEXT + key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def seal(self, token: str) -> str:
        """The token, encrypted and authenticated."""
        return self._fernet.encrypt(token.encode()).decode()

    def open(self, sealed: str) -> str | None:
        """The token, or None when it was sealed with another key or tampered with."""
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except (InvalidToken, ValueError):
            return None
