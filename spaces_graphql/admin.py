"""Operator endpoints that must not be public: ``/metrics``.

In production the facade's one listener faces the internet, and the metrics name routes,
rates and error counts an attacker would like to read. So ``/metrics`` answers only a
scraper that presents ``Authorization: Bearer <metrics_token>`` (401 otherwise), and
with no ``metrics_token`` configured it does not exist (404, as for any unknown path).
The development profile keeps it open for local use.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from spaces_graphql.runtime import Runtime

PROMETHEUS_TEXT = "text/plain; version=0.0.4"
Handler = Callable[[Request], Awaitable[Response]]


def bearer_matches(authorization: str, secret: str) -> bool:
    """True when the header is ``Bearer <secret>``; compared in constant time."""
    scheme, _, presented = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    # Bytes: compare_digest refuses non-ASCII str, and a header may carry any latin-1.
    return hmac.compare_digest(presented.strip().encode(), secret.encode())


def metrics_endpoint(runtime: Runtime) -> Handler:
    """The ``/metrics`` route handler for this runtime's profile and ``metrics_token``."""
    settings = runtime.settings
    secret = settings.metrics_token

    async def metrics(request: Request) -> Response:
        """Prometheus text, to whoever may read it (see the module's docstring)."""
        if not settings.development:
            if not secret:
                # Same answer as an unknown path: nothing says the endpoint exists.
                return PlainTextResponse("Not Found", 404)
            if not bearer_matches(request.headers.get("authorization", ""), secret):
                return PlainTextResponse(
                    "Unauthorized",
                    401,
                    headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
                )
        return Response(runtime.metrics.render(), media_type=PROMETHEUS_TEXT)

    return metrics
