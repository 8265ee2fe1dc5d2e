"""A schema extension that gives every executed operation its upstream scope.

The scope (``resolvers/resilience.py``) carries the operation's deadline
(``GraphConfig.operation_deadline_seconds``) and cancels the operation's upstream
reads when execution ends, cancellation included: the HTTP layer cancels
execution when the client disconnects, the WebSocket server when the client
sends ``complete`` or goes away, and loader batch tasks would otherwise keep
their upstream requests running for no one. Every query and mutation gets it,
over either transport: both execute through ``schema.execute``.
"""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from resolvers.resilience import current_scope, operation_scope


class UpstreamScope(SchemaExtension):
    """Runs execution (not parsing or validation) inside an operation scope."""

    def on_execute(self) -> Iterator[None]:
        if current_scope() is not None:
            # Incremental delivery opened the operation's scope around the whole answer:
            # Strawberry's execute hook ends with the first payload, and work started
            # early for later ones must outlive it.
            yield
            return
        # Schemas executed without the app's context (tests) get no deadline.
        config = getattr(self.execution_context.context, "config", None)
        seconds = getattr(config, "operation_deadline_seconds", None)
        with operation_scope(seconds):
            yield
