"""GraphiQL for the development profile, from assets the package ships (no CDN).

The page is ``templates/graphiql.html``; its scripts and styles are served from
``static/graphiql/`` at :data:`ASSETS_PATH` (the vendored bundles are listed, with
their versions and how to rebuild them, in ``web/README.md``).
"""

from __future__ import annotations

import json
from pathlib import Path
from string import Template

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

ASSETS_PATH = "/graphiql-assets"
PACKAGE_DIR = Path(__file__).resolve().parent
STATIC_DIR = PACKAGE_DIR / "static" / "graphiql"
TEMPLATE_PATH = PACKAGE_DIR / "templates" / "graphiql.html"

#: Everything the page loads is its own origin's; fonts and icons are inline data.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"
)


def _script_json(value: object) -> str:
    """JSON that cannot end the ``<script>`` element it is embedded in."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_page(request: Request, *, query: str, headers: str = "") -> HTMLResponse:
    """The GraphiQL page for ``request`` (served at the GraphQL endpoint itself).

    ``headers`` prefills the headers editor (the demo's token); empty leaves it empty.
    """
    root = request.scope.get("root_path", "")
    config = {"endpoint": root + request.url.path, "query": query, "headers": headers}
    page = Template(TEMPLATE_PATH.read_text(encoding="utf-8")).substitute(
        assets=root + ASSETS_PATH, config=_script_json(config)
    )
    return HTMLResponse(
        page,
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
    )


def assets() -> StaticFiles:
    """The ASGI app serving GraphiQL's scripts and styles (mounted at :data:`ASSETS_PATH`)."""
    return StaticFiles(directory=STATIC_DIR)
