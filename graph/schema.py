"""The schema: ``Query``, ``Mutation`` and ``SubscriptionRoot``.

Parsing and validation are the operation pipeline's (``spaces_graphql/pipeline.py``,
whose pre-flight caches them): when the context carries the pre-flight's
document, :class:`PreparedDocument` hands it to Strawberry, which then neither
parses nor validates it again. Without one (``schema.execute(text)`` in tests),
Strawberry parses and validates as usual.

The schema is built by :func:`build_schema` (cached per variant by
:func:`schema_for`); ``spaces_graphql.app.create_app`` takes it as an argument.
``federation="2.9"`` builds it as an Apollo Federation subgraph instead
(:class:`FederationSchema`, ``graph/federation.py``); the plain schema is the same
whether or not a subgraph was built in the process.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import strawberry
from graphql import GraphQLError, experimental_execute_incrementally
from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import ExecutionContext

from graph.captured_email import CapturedEmail
from graph.customer import Customer
from graph.event import Event
from graph.executor import LeanExecutionContext
from graph.fast_paths import streamline
from graph.federation import Subgraph
from graph.invoice import Invoice
from graph.mutation import Mutation
from graph.operation_scope import UpstreamScope
from graph.query import Query
from graph.resource_subscription import ResourceSubscription
from graph.scalars import SCALAR_MAP
from graph.space import Space
from graph.subscription import Subscription
from graph.subscription_root import PerEvent, SubscriptionRoot
from graph.webhook import Webhook
from resolvers.errors import SpacesGraphQLError


def _unexpected(error: GraphQLError) -> bool:
    """Mask only bugs: our own errors and validation messages stay readable."""
    original = error.original_error
    return original is not None and not isinstance(original, SpacesGraphQLError)


class PreparedDocument(SchemaExtension):
    """Execute the document the pipeline parsed and validated (carried on the Context)."""

    def on_parse(self) -> Iterator[None]:
        document = getattr(self.execution_context.context, "document", None)
        if document is not None:
            # Strawberry's own parse step skips a document that is already there.
            self.execution_context.graphql_document = document
        yield

    def on_validate(self) -> Iterator[None]:
        if getattr(self.execution_context.context, "document", None) is not None:
            # Not None: Strawberry's ``_run_validation`` sees validation as done.
            self.execution_context.pre_execution_errors = []
        yield


class _PerEventContext(StrawberryGraphQLCoreExecutionContext):
    """Resolves each subscription event with the fresh context it came with."""

    def build_per_event_executor(self, payload: Any) -> Any:
        executor = super().build_per_event_executor(payload)
        if isinstance(payload, PerEvent):
            executor.root_value = payload.value
            executor.context_value = payload.context
        return executor


class EventExecution(_PerEventContext, LeanExecutionContext):
    """The facade's execution context: fresh context per event, short path for plain leaves."""


class PlainEventExecution(_PerEventContext):
    """The same without the short path: graphql-core's and Strawberry's own chain only."""


class Schema(strawberry.Schema):
    """Logs only what is a bug: expected errors are the client's answer, not noise.

    Incremental delivery starts deferred and streamed work early (graphql-core's
    ``enable_early_execution``): the items of a ``@stream`` list then load together,
    so their nested lists cost one batched wave, not one wave per item.
    """

    def _get_execute_function(self) -> Callable[..., Any]:
        execute = super()._get_execute_function()
        if execute is experimental_execute_incrementally:
            return functools.partial(execute, enable_early_execution=True)
        return execute

    async def _execute_operation(self, execution_context: ExecutionContext, *args: Any) -> Any:
        result = await super()._execute_operation(execution_context, *args)
        initial = getattr(result, "initial_result", None)
        if initial is not None and initial.errors:
            # Strawberry reports a whole result's errors only; an incremental answer's first
            # payload is reported here, before MaskErrors replaces what is a bug. (Later
            # payloads: spaces_graphql/incremental.py.)
            self._process_errors(initial.errors, execution_context)
        return result

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        unexpected = [e for e in errors if _unexpected(e)]
        if unexpected:
            super().process_errors(unexpected, execution_context)


class FederationSchema(Schema, Subgraph):
    """The facade's schema as an Apollo Federation v2 subgraph (``graph/federation.py``)."""


#: The types every schema has beyond those its roots reach; in a subgraph, its entities.
NODE_CLASSES = (Space, Customer, Subscription, Invoice, CapturedEmail, Event, Webhook,
                ResourceSubscription)  # fmt: skip


def build_schema(*, short_paths: bool = True, federation: str | None = None) -> Schema:
    """Build the facade's schema (the same for every profile).

    ``short_paths`` installs the direct resolvers (``graph/fast_paths.py``) and the
    lean execution context (``graph/executor.py``). They lean on Strawberry's and
    graphql-core's internals (pinned to the tested minor versions in pyproject.toml);
    ``SPACES_GRAPHQL_SHORT_PATHS=false`` runs without them, answers unchanged.
    ``federation`` (a version such as ``"2.9"``) builds the Apollo Federation subgraph
    of the same roots, config and extensions instead (``docs/federation.md``).
    """
    subgraph: dict[str, Any] = (
        {} if federation is None else {"federation_version": federation, "entities": NODE_CLASSES}
    )
    kind = Schema if federation is None else FederationSchema
    built = kind(
        **subgraph,
        query=Query,
        mutation=Mutation,
        subscription=SubscriptionRoot,
        types=NODE_CLASSES,
        config=StrawberryConfig(scalar_map=SCALAR_MAP,
                                enable_experimental_incremental_execution=True),  # @defer, @stream
        execution_context_class=EventExecution if short_paths else PlainEventExecution,
        extensions=[
            PreparedDocument,  # the pipeline's document: parsed and validated once, there
            UpstreamScope,  # the operation's upstream deadline; its reads end with it
            lambda: MaskErrors(
                should_mask_error=_unexpected,
                error_message="Internal server error.",
            )
        ],
    )  # fmt: skip
    if short_paths:
        streamline(built)
    return built


def schema_for(short_paths: bool = True, federation: str | None = None) -> Schema:
    """The schema with or without the short paths, built once per process for each.

    What ``create_app`` serves unless it is given a schema (``Settings.short_paths``;
    ``federation``: the subgraph of that federation version, ``Settings.federation``).
    """
    # One cache key per variant, however the arguments were spelled.
    return _built(bool(short_paths), federation)


@functools.cache
def _built(short_paths: bool, federation: str | None) -> Schema:
    return build_schema(short_paths=short_paths, federation=federation)


#: How many variants are built (``functools.cache``'s statistics, as before the wrapper).
schema_for.cache_info = _built.cache_info  # type: ignore[attr-defined]


def __getattr__(name: str) -> Schema:
    """``graph.schema.schema``: the default schema, for tests and ``make schema``.

    Built on first use (``schema_for()``), not at import: the app takes its schema
    from ``create_app``, and importing this module builds nothing.
    """
    if name == "schema":
        return schema_for()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
