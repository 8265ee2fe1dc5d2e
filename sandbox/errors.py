"""The one exception type that becomes an error answer (shaped by the sandbox's dialect)."""

from __future__ import annotations

from collections.abc import Mapping


class ApiError(Exception):
    """An error answered with ``status``: ``{"message": ...}`` in the spaces dialect.

    What the error *is* stays dialect-free; each dialect (``sandbox.dialects``) turns it
    into its own envelope and, for ``invalid`` ones, its own status:

    * ``invalid``: a create/update refused for its content (a field, or the resource's
      state: "already paid"). spaces answers ``status`` (400), spotcap 422
      ``invalid_params``, launch27 406 with ``errors``.
    * ``fields``: field name -> messages, for an ``invalid`` error about fields.
    * ``code``: a machine-readable reason (``unknown_cursor``, ``invalid_range``, ...)
      that a dialect with error ids may use.
    * ``headers``: extra answer headers (``Allow`` on a 405).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        invalid: bool = False,
        fields: Mapping[str, list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.invalid = invalid or fields is not None
        self.fields = dict(fields) if fields is not None else None
        self.headers = dict(headers) if headers is not None else {}
