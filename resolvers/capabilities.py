"""What the upstream can do, learned once per process: today, batching lookups by ``?ids=``.

The Spaces contract lets ``GET /customers?ids=a,b,c`` (and ``/invoices``)
answer many lookups in one request, but not every upstream implements it: one
that does not ignores ``ids`` and answers its newest objects. Whether this
upstream does is a fact about the upstream, not about a request, so it lives
in one :class:`BatchCapability` per process.

Lifecycle:

* **Created** by :class:`~resolvers.client.SpacesClient` at construction (one
  client, one pool, one upstream per process), from ``UpstreamConfig.batch_ids``:
  ``on`` and ``off`` start known, ``auto`` starts :attr:`BatchState.UNKNOWN`.
* **Consulted** by the per-operation loaders (``resolvers/loaders.py``), which
  reach it through their session's client and never hold state of their own.
* **Settled** by evidence, at most twice, in one direction only: the first
  batched lookup whose answer fits the requested set makes it ``ON``; a batched
  lookup refused (400) while still unknown, or an answer with an object outside
  the requested set (the upstream ignored ``ids``), makes it ``OFF``. ``OFF`` is
  final: batching is never tried again, so nothing could prove it back. ``ON``
  falls to ``OFF`` on contrary evidence (a configured ``on`` included: an
  upstream that ignores ``ids`` would otherwise answer wrong objects).
* **Ends** with the client (the process); a restart learns again. The
  one-time probe's extra request is outside the cost bound
  (``spaces_graphql/cost.py``'s docstring).

Every transition is a synchronous attribute write on the event loop (no await
in between), so concurrent operations see one consistent state.
"""

from __future__ import annotations

import enum

from resolvers.config import BatchIds


class BatchState(enum.Enum):
    """Whether lookups may be batched by ``?ids=`` on this upstream."""

    UNKNOWN = "unknown"
    ON = "on"
    OFF = "off"


_START = {"auto": BatchState.UNKNOWN, "on": BatchState.ON, "off": BatchState.OFF}


class BatchCapability:
    """The process's knowledge of the upstream's ``?ids=`` batching (see the module docstring)."""

    __slots__ = ("_state",)

    def __init__(self, mode: BatchIds = "auto") -> None:
        self._state = _START[mode]

    def __repr__(self) -> str:
        return f"BatchCapability({self._state.value})"

    @property
    def state(self) -> BatchState:
        """What is known so far."""
        return self._state

    @property
    def worth_trying(self) -> bool:
        """Whether a lookup should try one ``?ids=`` request (unknown or on)."""
        return self._state is not BatchState.OFF

    def answered(self) -> None:
        """A batched lookup's answer fitted the requested set: batching works (if unknown)."""
        if self._state is BatchState.UNKNOWN:
            self._state = BatchState.ON

    def ignored(self) -> None:
        """A batched lookup's answer held an object not asked for: the upstream ignores ``ids``."""
        self._state = BatchState.OFF

    def refused(self) -> bool:
        """The upstream refused a batched lookup (400). Whether that means "unsupported".

        While unknown it does: the state becomes ``OFF`` and the lookup falls back to
        one request per ID (``True``). Once batching is known to work, a refusal is
        about the IDs asked for and stays the caller's error (``False``).
        """
        if self._state is BatchState.UNKNOWN:
            self._state = BatchState.OFF
            return True
        return False
