"""The schema: ``Query`` (and, as they land, ``Mutation`` and ``SubscriptionRoot``)."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from graph.captured_email import CapturedEmail
from graph.customer import Customer
from graph.event import Event
from graph.executor import LeanExecutionContext
from graph.fast_paths import streamline
from graph.invoice import Invoice
from graph.mutation import Mutation
from graph.operation_scope import UpstreamScope
from graph.query import Query
from graph.resource_subscription import ResourceSubscription
from graph.scalars import SCALAR_MAP
from graph.space import Space
from graph.subscription import Subscription
from graph.subscription_root import SubscriptionRoot
from graph.webhook import Webhook
from resolvers.errors import SpacesGraphQLError


def _unexpected(error: GraphQLError) -> bool:
    """Mask only bugs: our own errors and validation messages stay readable."""
    original = error.original_error
    return original is not None and not isinstance(original, SpacesGraphQLError)


class Schema(strawberry.Schema):
    """Logs only what is a bug: expected errors are the client's answer, not noise."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        unexpected = [e for e in errors if _unexpected(e)]
        if unexpected:
            super().process_errors(unexpected, execution_context)


def build_schema() -> Schema:
    """Build the facade's schema (the same for every profile)."""
    built = Schema(
        query=Query,
        mutation=Mutation,
        subscription=SubscriptionRoot,
        types=[Space, Customer, Subscription, Invoice, CapturedEmail, Event, Webhook,
               ResourceSubscription],
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
        execution_context_class=LeanExecutionContext,
        extensions=[
            # Documents repeat (clients send the same few operations): parse and validate once.
            lambda: ParserCache(maxsize=1024),
            lambda: ValidationCache(maxsize=1024),
            UpstreamScope,  # the operation's upstream deadline; its reads end with it
            lambda: MaskErrors(
                should_mask_error=_unexpected,
                error_message="Internal server error.",
            )
        ],
    )  # fmt: skip
    streamline(built)
    return built


schema = build_schema()
