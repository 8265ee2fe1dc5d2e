"""Circuit breakers: tell an upstream that is down from one token's requests that fail.

* :class:`CircuitBreaker`: stop calling an upstream that keeps failing.
* :class:`ScopedBreakers`: one shared breaker for the upstream plus a breaker per
  token (bounded LRU), so that one account's failures stay that account's.

Mechanisms only: the numbers come from the client's configuration, and when to
consult them is decided in ``resolvers/client.py``.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

#: Seconds since an arbitrary point (``time.monotonic``; tests pass a fake).
Clock = Callable[[], float]


class BreakerScope(StrEnum):
    """Whose calls an open breaker refuses."""

    SHARED = "shared"  # everyone's: the upstream itself is failing
    TOKEN = "token"  # one access token's: only its requests fail


class CircuitOpen(Exception):
    """The breaker refuses calls for ``retry_after`` more seconds."""

    def __init__(self, retry_after: float, scope: BreakerScope = BreakerScope.SHARED) -> None:
        super().__init__(f"{scope} circuit open for {retry_after:.1f} s")
        self.retry_after = retry_after
        self.scope = scope


class CircuitBreaker:
    """Closed, open after ``threshold`` consecutive failures, half-open after ``open_seconds``.

    Half-open lets exactly one probe through; its success closes the circuit,
    its failure opens it again for another ``open_seconds``.
    """

    def __init__(self, threshold: int, open_seconds: float, clock: Clock = time.monotonic) -> None:
        self.threshold = threshold
        self.open_seconds = open_seconds
        self._clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self._probing = False
        self.opened_total = 0

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        if self._probing or self._clock() - self.opened_at >= self.open_seconds:
            return "half-open"
        return "open"

    def acquire(self) -> bool:
        """Admit a call or raise :class:`CircuitOpen`; True when the call is the probe."""
        if self.opened_at is None:
            return False
        waited = self._clock() - self.opened_at
        if waited < self.open_seconds:
            raise CircuitOpen(self.open_seconds - waited)
        if self._probing:
            # One probe at a time; the others wait as if the circuit were still open.
            raise CircuitOpen(max(1.0, self.open_seconds / 10))
        self._probing = True
        return True

    def release(self, probe: bool) -> None:
        """The call ended without an outcome (cancelled): let another probe try."""
        if probe:
            self._probing = False

    def success(self, probe: bool) -> None:
        self.failures = 0
        if probe or self.opened_at is not None:
            self.opened_at = None
            self._probing = False

    def failure(self, probe: bool) -> None:
        self.failures += 1
        if probe or (self.opened_at is None and self.failures >= self.threshold):
            self.trip()

    def trip(self) -> None:
        """Open now (or again), whatever the count: the caller decided."""
        self.opened_at = self._clock()
        self._probing = False
        self.opened_total += 1


class FailureKind(StrEnum):
    """What a failed call says about whom."""

    #: Connecting failed (refused, unreachable, connect timeout): no request was even
    #: sent, so it says nothing about the caller and everything about the upstream.
    HOST = "host"
    #: A 5xx, a reset or a timeout of a sent request: one account's requests can cause
    #: these on their own (a huge account, a poisoned record, deliberately slow queries).
    REQUEST = "request"


@dataclass(slots=True)
class Admission:
    """One call let through :class:`ScopedBreakers`: which breakers it probes."""

    token: str
    shared_probe: bool
    token_probe: bool


class ScopedBreakers:
    """A shared breaker for the upstream plus one breaker per token (bounded LRU).

    The rule (Envoy's outlier detection and the bulkhead pattern, applied to callers):

    * a call is refused while its token's breaker or the shared one is open;
    * :attr:`FailureKind.REQUEST` failures count against the caller's token breaker,
      which opens after ``threshold`` consecutive ones, and towards the shared run;
    * the shared breaker opens only when the run of consecutive failures (any token's
      success ends it) reaches ``threshold`` *and* either ``distinct_callers`` tokens
      failed in it within ``window`` seconds, or ``threshold`` of its failures were
      :attr:`FailureKind.HOST` (the upstream is unreachable for everyone);
    * a failing probe re-opens what it probed: a token's probe its token's breaker,
      the shared probe the shared one; a success closes what it probed.

    So one token whose requests answer 5xx (or hang) stops only itself. Keys are token
    hashes, never tokens; only tokens that failed have an entry.
    """

    def __init__(
        self,
        threshold: int,
        open_seconds: float,
        *,
        distinct_callers: int,
        window: float,
        max_tokens: int,
        clock: Clock = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.open_seconds = open_seconds
        self.distinct_callers = distinct_callers
        self.window = window
        self.max_tokens = max_tokens
        self._clock = clock
        self.shared = CircuitBreaker(threshold, open_seconds, clock)
        self._tokens: OrderedDict[str, CircuitBreaker] = OrderedDict()
        # The current run of consecutive failures: its length, its host-level
        # failures, and the tokens that failed in it (token hash -> last failure).
        self._run = 0
        self._run_host = 0
        self._run_callers: dict[str, float] = {}
        self.tokens_opened_total = 0

    def acquire(self, token: str) -> Admission:
        """Admit a call of ``token`` or raise :class:`CircuitOpen` (with its scope)."""
        breaker = self._tokens.get(token)
        token_probe = False
        if breaker is not None:
            self._tokens.move_to_end(token)
            try:
                token_probe = breaker.acquire()
            except CircuitOpen as exc:
                raise CircuitOpen(exc.retry_after, BreakerScope.TOKEN) from None
        try:
            shared_probe = self.shared.acquire()
        except CircuitOpen:
            if breaker is not None:
                breaker.release(token_probe)
            raise
        return Admission(token, shared_probe, token_probe)

    def release(self, call: Admission) -> None:
        """The call ended without a verdict on anyone's health (cancelled, refused locally)."""
        self.shared.release(call.shared_probe)
        breaker = self._tokens.get(call.token)
        if breaker is not None:
            breaker.release(call.token_probe)

    def success(self, call: Admission) -> None:
        """The upstream answered (below 500): it is up, and so is this token's traffic."""
        self.shared.success(call.shared_probe)
        self._run = self._run_host = 0
        self._run_callers.clear()
        breaker = self._tokens.get(call.token)
        if breaker is not None:
            breaker.success(call.token_probe)
            if breaker.state == "closed":
                # Healthy tokens hold no entry: the map stays a list of suspects.
                del self._tokens[call.token]

    def failure(self, call: Admission, kind: FailureKind) -> None:
        """Count a failed call against the scopes its kind implicates."""
        if kind is FailureKind.REQUEST:
            self._token_failure(call)
        else:
            breaker = self._tokens.get(call.token)
            if breaker is not None:
                breaker.release(call.token_probe)  # no verdict on the token
        if call.shared_probe:
            self.shared.failure(True)
            return
        if self.shared.opened_at is not None:
            return  # already open: a late answer of a call admitted before it opened
        now = self._clock()
        self._run += 1
        if kind is FailureKind.HOST:
            self._run_host += 1
        else:
            self._run_callers[call.token] = now
        oldest = now - self.window
        self._run_callers = {t: at for t, at in self._run_callers.items() if at >= oldest}
        spread = len(self._run_callers) >= self.distinct_callers
        if self._run >= self.threshold and (spread or self._run_host >= self.threshold):
            self.shared.trip()
            # The tokens in the run were victims of the outage, not its cause: once
            # the shared probe succeeds they must not wait for probes of their own.
            for token in self._run_callers:
                self._tokens.pop(token, None)
            self._run = self._run_host = 0
            self._run_callers.clear()

    def _token_failure(self, call: Admission) -> None:
        breaker = self._tokens.get(call.token)
        if breaker is None:
            breaker = CircuitBreaker(self.threshold, self.open_seconds, self._clock)
            self._tokens[call.token] = breaker
            if len(self._tokens) > self.max_tokens:
                self._tokens.popitem(last=False)  # the least recently used suspect
        else:
            self._tokens.move_to_end(call.token)
        opened = breaker.opened_total
        breaker.failure(call.token_probe)
        self.tokens_opened_total += breaker.opened_total - opened

    def token_state(self, token: str) -> str:
        """``closed``, ``open`` or ``half-open`` for one token hash."""
        breaker = self._tokens.get(token)
        return "closed" if breaker is None else breaker.state

    def gauges(self) -> dict[str, float]:
        """Breaker state per scope, for ``/metrics`` (no token appears in a name)."""
        states = [b.state for b in self._tokens.values()]
        return {
            "breaker_shared_open": float(self.shared.state == "open"),
            "breaker_shared_half_open": float(self.shared.state == "half-open"),
            "breaker_shared_opened_total": float(self.shared.opened_total),
            "breaker_tokens_open": float(states.count("open")),
            "breaker_tokens_half_open": float(states.count("half-open")),
            "breaker_tokens_tracked": float(len(states)),
            "breaker_tokens_opened_total": float(self.tokens_opened_total),
        }
