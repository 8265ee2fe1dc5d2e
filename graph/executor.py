"""The execution context: graphql-core's, with a short path for plain leaf fields.

graphql-core resolves every field alike: it builds a ``GraphQLResolveInfo``
(sixteen values), calls the resolver, then walks ``complete_value``'s type
dispatch. For a scalar read straight off an attribute, that machinery is most
of the field's cost, and a 100-object page has a thousand such fields (bench
workload W5). :func:`graph.fast_paths.streamline` marks those fields; this
context answers them directly and gives every other field, and every case the
short path does not cover (a null in a non-null field, a value the scalar
refuses, an error, a resolver middleware), to graphql-core unchanged, so
results and errors are exactly graphql-core's.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from graphql import GraphQLObjectType, Undefined
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from graph.fast_paths import LeafPlan

#: Values a scalar's ``coerce_output_value`` takes as they are (never awaitable).
_PLAIN = frozenset({str, int, float, bool})


class LeanExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context with plain leaves answered without a resolve info."""

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        node = field_details_list[0].node
        manager = self.middleware_manager
        # Strawberry always passes a manager; only one holding middleware wraps resolvers.
        if not node.arguments and (manager is None or not manager.middlewares):
            field_def = parent_type.fields.get(node.name.value)
            plan: LeafPlan | None = getattr(field_def and field_def.resolve, "leaf", None)
            if plan is not None:
                value = _leaf(plan, source)
                if value is not Undefined:
                    return value
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )


def _leaf(plan: LeafPlan, source: Any) -> Any:
    """The completed value, or ``Undefined`` to let graphql-core do it (and any error)."""
    try:
        value = plan.get(source)
        if value is None:
            return None if plan.nullable else Undefined
        if type(value) not in _PLAIN and not isinstance(value, Enum):
            return Undefined
        coerced = plan.output_type.coerce_output_value(value)
    except Exception:  # graphql-core runs the field again and reports it properly
        return Undefined
    return Undefined if coerced is None else coerced
