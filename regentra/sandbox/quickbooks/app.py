"""The QuickBooks sandbox's ASGI app: Intuit OAuth 2, the v3 accounting API, control."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.routing import Route

from regentra.sandbox.quickbooks import control, oauth, pages
from regentra.sandbox.quickbooks.api import Api
from regentra.sandbox.quickbooks.state import Sandbox


def create_app(sandbox: Sandbox | None = None) -> Starlette:
    sandbox = sandbox or Sandbox()
    api = Api(sandbox)
    routes: list[Any] = [*oauth.routes(sandbox), *control.routes(sandbox), *pages.routes(sandbox)]
    routes.append(Route("/v3/company/{realm}/{rest:path}", api.handle, methods=["GET", "POST"]))
    app = Starlette(routes=routes)
    app.state.sandbox = sandbox
    return app
